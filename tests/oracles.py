"""The interop oracles (tensorstore, zarr-python) and optional backends (obstore), and the one
rule for when a test may go without.

An oracle is a test dependency: where it is missing, the import fails and the suite errors. A CI
leg on an interpreter the oracle publishes no build for (free-threaded 3.13t has no tensorstore
wheel, obstore has only abi3 wheels that 3.13t cannot load, and zarr-python 3.4's msgspec does not
build there) names it in ``ZARRSYNC_ABSENT_ORACLES``
(space- or comma-separated); there, and only there, the tests that need it skip through
``pytest.importorskip``. Every other leg still runs them.

A file whose tests all need the oracle imports it at the top with ``require``. A file where only
some do calls ``tensorstore()`` inside those tests (usually as ``ts()``), so the others run on
every leg.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

ABSENT = frozenset(os.environ.get("ZARRSYNC_ABSENT_ORACLES", "").replace(",", " ").split())


def require(name: str) -> ModuleType:
    """Import the oracle ``name``; skip the calling test (or module) only on a leg that declares it absent."""
    if name in ABSENT:
        return pytest.importorskip(name)
    return importlib.import_module(name)


def tensorstore() -> ModuleType:
    return require("tensorstore")
