"""The ``zarrsync`` command's entry point (``zarrsync = "zarrsync.cli:main"``).

The commands themselves (``demo``, ``info``, ``tree``, ``ls``, ``copy``) live in
:mod:`zarrsync.cli_commands` and need click and tqdm, which are not core dependencies: they come
with the ``cli`` extra. Without them this module still imports and ``main`` says what to install.
"""

from __future__ import annotations

import sys

MISSING_CLI = 'zarrsync: the command line needs click and tqdm: pip install "zarrsync[cli]"'


def main(argv: list[str] | None = None) -> int:
    """Run the ``zarrsync`` command with ``argv`` (default ``sys.argv[1:]``); return its exit code.

    1 for a failure (``zarrsync: error: ...`` on stderr), 2 for a usage error.
    """
    try:
        import click
        import tqdm  # noqa: F401 - the progress bars of cli_commands
    except ImportError:
        print(MISSING_CLI, file=sys.stderr)
        return 1
    from .cli_commands import cli

    try:
        code = cli.main(args=argv, prog_name="zarrsync", standalone_mode=False)
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.Abort:
        print("zarrsync: aborted", file=sys.stderr)
        return 1
    return code if isinstance(code, int) else 0  # an int is the code of ctx.exit() (--help: 0)


if __name__ == "__main__":
    sys.exit(main())
