"""Writers in several processes write parts of the same chunks of one array on S3 (moto's server
on loopback) at the same time, and no update is lost: each read-modify-write of a chunk is a
conditional put (If-Match on the ETag it read, create-if-absent for a new chunk) that is redone
when another process got there first."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from oracles import require

require("obstore")

from s3server import moto  # noqa: E402,F401 - the fixture

import zarrsync  # noqa: E402

PROCESSES = 4
WRITES = 24  # per process, one element each

# one writer: sets its own elements, one partial write each, all in the array's few chunks
_WRITER = textwrap.dedent("""
    import json, sys
    import zarrsync
    url, options, me, processes, writes = json.loads(sys.argv[1])
    a = zarrsync.open_array(url, mode="r+", storage_options=options)
    for i in range(writes):
        flat = i * processes + me
        a[flat // a.shape[1], flat % a.shape[1]] = 1000 * (me + 1) + i
""")


@pytest.mark.parametrize("layout", [{"chunks": (4, 8)}, {"chunks": (2, 4), "shards": (4, 8)}],
                         ids=["chunks", "shards"])
def test_partial_writes_from_several_processes_lose_nothing(moto, layout):
    url = f"s3://{moto.new_bucket()}/x.zarr"
    options = moto.obstore_options
    # 8 x 12 elements in 6 chunks (or shards): each process writes into every one of them
    zarrsync.create_array(url, shape=(8, 12), dtype="i4", fill_value=-1, storage_options=options, **layout)
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, json.dumps([url, options, me, PROCESSES, WRITES])],
                                stderr=subprocess.PIPE, text=True)
               for me in range(PROCESSES)]
    for w in writers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    expected = np.full(8 * 12, -1, dtype="i4")
    for me in range(PROCESSES):
        for i in range(WRITES):
            expected[i * PROCESSES + me] = 1000 * (me + 1) + i
    got = zarrsync.open_array(url, mode="r", storage_options=options)[...]
    np.testing.assert_array_equal(got, expected.reshape(8, 12))
