"""Run the examples of the documentation pages as tests (``python3 -m pytest docs``).

Sybil collects every ``*.md`` page below ``docs/``:

- a ```` ```pycon ```` (or ```` ```python ```` that starts with ``>>>``) block is a doctest;
- a ```` ```console ```` block is a shell session: each ``$ command`` runs and must print the
  lines below it (``...`` matches anything, as in a doctest).

The examples of one page share a namespace and run, in order, in a fresh temporary directory
(the working directory while they run), so they may write ``data/example.zarr`` and leave nothing
behind. Other fences (``bash`` for install commands) are shown, not run.
"""

from __future__ import annotations

import doctest
import os
import shutil
import subprocess
import tempfile

from sybil import Example, Sybil
from sybil.parsers.abstract.codeblock import PythonDocTestOrCodeBlockParser
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


class PyconBlockParser(PythonDocTestOrCodeBlockParser):
    """```` ```pycon ```` blocks as doctests (sybil's own parser takes only ```` ```python ````)."""

    def codeblock_parser_class(self, language: str, evaluator):
        return CodeBlockParser("pycon", evaluator)


def run_console(example: Example) -> str | None:
    """Run each ``$ command`` of a console block in the page's directory; compare its output."""
    checker = doctest.OutputChecker()
    commands: list[tuple[str, list[str]]] = []
    for line in example.parsed.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif commands:
            commands[-1][1].append(line)
    for command, expected_lines in commands:
        done = subprocess.run(command, shell=True, capture_output=True, text=True,
                              cwd=example.namespace["workdir"], timeout=120)
        got = done.stdout + done.stderr
        expected = "\n".join(expected_lines).strip() + "\n"
        if done.returncode != 0 or not checker.check_output(expected, got.strip() + "\n", FLAGS):
            return f"$ {command}\n(exit status {done.returncode})\nexpected:\n{expected}got:\n{got}"
    return None


def setup(namespace: dict) -> None:
    namespace["workdir"] = tempfile.mkdtemp(prefix="zarrsync-docs-")
    namespace["previous_cwd"] = os.getcwd()
    os.chdir(namespace["workdir"])


def teardown(namespace: dict) -> None:
    os.chdir(namespace["previous_cwd"])
    shutil.rmtree(namespace["workdir"], ignore_errors=True)


pytest_collect_file = Sybil(
    parsers=[
        PyconBlockParser(doctest_optionflags=FLAGS),
        PythonCodeBlockParser(doctest_optionflags=FLAGS),
        CodeBlockParser("console", run_console),
    ],
    patterns=["*.md"],
    setup=setup,
    teardown=teardown,
).pytest()
