"""Writers in several processes write parts of the same chunks of one array on S3 (moto's server
on loopback) at the same time, and no update is lost: each read-modify-write of a chunk is a
conditional put (If-Match on the ETag it read, create-if-absent for a new chunk) that is redone
when another process got there first."""

from __future__ import annotations

import numpy as np
import pytest

from oracles import require

require("obstore")

from process_writers import SHAPE, write_from_processes  # noqa: E402
from s3server import moto  # noqa: E402,F401 - the fixture

import zarrsync  # noqa: E402


@pytest.mark.parametrize("layout", [{"chunks": (4, 8)}, {"chunks": (2, 4), "shards": (4, 8)}],
                         ids=["chunks", "shards"])
def test_partial_writes_from_several_processes_lose_nothing(moto, layout):
    url = f"s3://{moto.new_bucket()}/x.zarr"
    options = moto.obstore_options
    zarrsync.create_array(url, shape=SHAPE, dtype="i4", fill_value=-1, storage_options=options, **layout)
    expected = write_from_processes("a = zarrsync.open_array(args[0], mode='r+', storage_options=args[1])",
                                    url, options)
    got = zarrsync.open_array(url, mode="r", storage_options=options)[...]
    np.testing.assert_array_equal(got, expected)
