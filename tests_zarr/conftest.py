"""Lets the zarr-python interop suite import the helpers it shares with the tensorstore suite
(``tests/interop_common.py``): puts the ``tests`` directory first on ``sys.path``."""

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS_DIR))
