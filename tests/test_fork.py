"""Fork while other threads write (issue 10, point 11).

A child forked while other threads held locks inherits those locks held, by threads that do not
exist in the child. zarrsync re-creates its locks, pool and per-thread caches in the child, so a
child can go on reading and writing the same array. Here writer threads do partial writes in a
loop (so chunk lock stripes are often held at the moment of the fork) while the main thread forks
again and again; each child does a partial write and a read of the same chunks and exits. The
parent kills a child that hangs and fails.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import warnings

import numpy as np
import pytest

import zarrsync
from zarrsync.storage import LocalStore, MemoryStore

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")  # Windows has no fork

FORKS = 30
CHILD_TIMEOUT = 10.0  # seconds; a healthy child takes milliseconds


def wait_child(pid: int) -> int:
    """The child's exit code; kill it and fail if it does not finish in time (a deadlock)."""
    deadline = time.monotonic() + CHILD_TIMEOUT
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.002)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"forked child {pid} hung (a lock inherited held?)")


def child_body(a, n: int, shared_is_private: bool) -> int:
    """In the child: partial writes into a chunk (or shard) the parent's writers are rewriting
    (its lock stripe is likely held at the fork), and into one they never touch; reads back."""
    try:
        a[3, 0:2] = n  # row 3 of chunk (0, 0): the writers rewrite rows 0-2 of it
        shared = a[3, 0:2]
        a[1, 9:11] = n  # chunk (0, 2): no writer touches it
        ok = (a[1, 9:11] == n).all()
        # a LocalStore's files are the parent's too: a writer there may rewrite chunk (0, 0) from
        # its older copy (processes must not share chunks), so only a private copy is checked
        if shared_is_private:
            ok = ok and (shared == n).all()
        return 0 if ok else 1
    except BaseException:  # noqa: BLE001 - the exit code reports it
        return 2


@pytest.mark.parametrize("layout", ["plain", "sharded"])
@pytest.mark.parametrize("backend", ["local", "memory"])
def test_fork_while_threads_write(tmp_path, layout, backend):
    store = LocalStore(tmp_path / "a") if backend == "local" else MemoryStore()
    kw = dict(chunks=(4, 4)) if layout == "plain" else dict(chunks=(2, 2), shards=(4, 4))
    a = zarrsync.create_array(store, shape=(8, 12), dtype="i4", fill_value=0, **kw)
    stop = threading.Event()
    writes = [0] * 3
    errors: list[BaseException] = []

    def writer(i):
        try:
            k = 0
            while not stop.is_set():  # partial writes: each holds a chunk's lock stripe
                a[i, (k % 4):(k % 4) + 2] = k
                a[4 + i, 4 + k % 3] = k
                k += 1
                writes[i] = k
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    codes = []
    try:
        for t in threads:
            t.start()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork of a threaded process
            for n in range(1, FORKS + 1):
                while sum(writes) < 20 * n and not errors:  # the writers are busy between forks
                    time.sleep(0.0005)
                pid = os.fork()
                if pid == 0:  # the child: never return into pytest
                    code = 3
                    try:
                        code = child_body(a, n, shared_is_private=backend == "memory")
                    finally:
                        os._exit(code)
                codes.append(wait_child(pid))
    finally:
        stop.set()
        sys.setswitchinterval(old)
        for t in threads:
            t.join(30)
    if errors:
        raise errors[0]
    assert codes == [0] * FORKS, codes
    # the parent's array is still consistent and writable
    a[...] = np.arange(96).reshape(8, 12)
    np.testing.assert_array_equal(a[...], np.arange(96).reshape(8, 12))
