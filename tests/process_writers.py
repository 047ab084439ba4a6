"""Writers in several processes that write parts of the same chunks of one array at once, and the
values they leave (tests/test_s3_processes.py on S3, tests/test_interprocess_writes.py in a
local directory)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

PROCESSES = 4
WRITES = 24  # per process, one element each
SHAPE = (8, 12)  # in 6 chunks or shards of the layouts the tests use: every process writes into each

# one writer: ``opening`` binds ``a`` (from ``args``); then it sets its own elements, one partial
# write each
_WRITER = """
import json, sys
import zarrsync
from zarrsync.storage import LocalStore
args, me, processes, writes = json.loads(sys.argv[1])
{opening}
for i in range(writes):
    flat = i * processes + me
    a[flat // a.shape[1], flat % a.shape[1]] = 1000 * (me + 1) + i
"""


def write_from_processes(opening: str, *args) -> np.ndarray:
    """Run the writers at once, each opening the array with the Python line ``opening`` (``args``
    is a JSON list there), wait for them, and return what the array must hold afterwards (-1
    where no writer wrote, the array's fill value)."""
    script = _WRITER.format(opening=opening)
    writers = [subprocess.Popen([sys.executable, "-c", script, json.dumps([list(args), me, PROCESSES, WRITES])],
                                stderr=subprocess.PIPE, text=True)
               for me in range(PROCESSES)]
    for w in writers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    expected = np.full(SHAPE[0] * SHAPE[1], -1, dtype="i4")
    for me in range(PROCESSES):
        for i in range(WRITES):
            expected[i * PROCESSES + me] = 1000 * (me + 1) + i
    return expected.reshape(SHAPE)
