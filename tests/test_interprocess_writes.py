"""Writers in several processes write parts of the same chunks of one array in a local directory
at the same time. With ``LocalStore(..., interprocess_locks=True)`` no update is lost: each
read-modify-write of a chunk is conditional on the bytes it read (compared and replaced under
the root's lock file) and is redone when another process got there first."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import zarrsync
from process_writers import SHAPE, write_from_processes
from zarrsync.storage import LocalStore

LAYOUTS = {"chunks": {"chunks": (4, 8)}, "shards": {"chunks": (2, 4), "shards": (4, 8)},
           "v2": {"chunks": (4, 8), "zarr_format": 2}}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_partial_writes_from_several_processes_lose_nothing(tmp_path, layout):
    root = str(tmp_path / "x.zarr")
    zarrsync.create_array(LocalStore(root), shape=SHAPE, dtype="i4", fill_value=-1, **LAYOUTS[layout])
    expected = write_from_processes("a = zarrsync.open_array(LocalStore(args[0], interprocess_locks=True), mode='r+')",
                                    root)
    np.testing.assert_array_equal(zarrsync.open_array(root, mode="r")[...], expected)


def test_the_option_survives_pickling(tmp_path):
    a = zarrsync.create_array(LocalStore(str(tmp_path / "x.zarr"), interprocess_locks=True), shape=(4,), dtype="i1")
    assert pickle.loads(pickle.dumps(a)).store.supports_conditional_writes
    assert not pickle.loads(pickle.dumps(LocalStore(str(tmp_path)))).supports_conditional_writes
