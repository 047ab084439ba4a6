"""On a free-threaded interpreter: importing zarrsync (every module), its dependencies and the
extras and test tools that support 3.13t must leave the GIL disabled.

CPython re-enables the GIL when it imports an extension module that does not declare
free-threading support; it says so only in a RuntimeWarning. This imports each module in turn
and names the first one that turns the GIL on.
"""

import importlib
import importlib.machinery
import importlib.util
import os
import pkgutil
import sys
import sysconfig

if not sysconfig.get_config_var("Py_GIL_DISABLED"):
    sys.exit("not a free-threaded interpreter")
if "PYTHON_GIL" in os.environ:
    sys.exit("PYTHON_GIL is set: it would hide a module that turns the GIL on")

import zarrsync  # noqa: E402

def extensions(package: str) -> list[str]:
    """The compiled modules of an installed package (each one a chance to turn the GIL on)."""
    pkg = importlib.import_module(package)
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__, package + ".")
                  if importlib.util.find_spec(m.name).origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)))


modules = ["numpy", "zstandard", "lz4.frame", "lz4.block", "crc32c",  # the core dependencies
           "msgpack", "fsspec", *extensions("numcodecs"), "pandas", "xarray",  # the extras and oracles that support 3.13t
           "pytest", "hypothesis", "pytest_run_parallel"]  # the test tools
modules += sorted(m.name for m in pkgutil.walk_packages(zarrsync.__path__, "zarrsync.")
                  if not m.name.endswith("__main__"))
for name in ["zarrsync", *modules]:
    importlib.import_module(name)
    if sys._is_gil_enabled():
        sys.exit(f"importing {name} enabled the GIL")
print(f"GIL still disabled after importing {len(modules) + 1} modules")
