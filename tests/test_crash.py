"""Crash tests (issue 10): a writer process killed with SIGKILL at random moments.

A zygote process imports zarrsync once and forks one writer per kill (a fork costs milliseconds,
a fresh interpreter a quarter of a second), so each case affords tens of kills. The writer runs a
deterministic list of operations (seeded by case and run) on an array in a ``LocalStore`` and
logs ``B<i>`` before and ``E<i>`` after operation ``i``. The test waits until the writer has
begun, sleeps a random (seeded) delay, kills it, and replays the log: the operations before the
last begun one are done, that one may be half done. Then:

- the metadata parses, and says the shape before or after the operation in flight;
- every stored chunk (shard) decodes and equals its value before or after that operation (each
  value is an iteration tag: no mix of two iterations, nothing torn);
- attributes are one complete version;
- ``store.list()`` shows only metadata and chunk keys (no temporary file);
- after a killed resize, a grow shows fill beyond the shape in force (issue 10 point 3), and
  when the metadata says the new (smaller) shape, the cut-off data is all gone.

The next run starts from the state the kill left. ``KILLS`` kills per case.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import zarrsync
from zarrsync.storage.local import LocalStore

KILLS = 50
MAX_DELAY = 0.02  # seconds after the writer began
L = 48  # array length
FILL = 0

LAYOUTS = {
    "v3": dict(chunks=(8,)),
    "sharded": dict(chunks=(4,), shards=(16,)),
    "v2": dict(chunks=(8,), zarr_format=2),
}


# --- the operations, run by the writer and replayed by the test ---------------------------------------

def _ops(case: str, run: int, n: int = 4000):
    """Operation ``i`` of run ``run``: every value written is a tag unique to (run, i)."""
    rng = random.Random(f"{case}-{run}")
    for i in range(n):
        tag = run * 10_000 + i + 1
        if case == "data":
            kind = rng.choice(["all", "part", "part", "chunk"])
            if kind == "all":
                yield ("write", 0, L, tag)
            elif kind == "chunk":
                c = rng.randrange(L // 8)
                yield ("write", c * 8, c * 8 + 8, tag)
            else:
                lo = rng.randrange(L - 1)
                yield ("write", lo, rng.randrange(lo + 1, min(L, lo + 20) + 1), tag)
        elif case == "resize":
            yield [("write", 0, L, tag), ("resize", rng.randrange(L)), ("resize", L)][i % 3]
        else:  # attributes: replace all, or merge one
            if i % 2:
                yield ("attrs_update", tag)
            else:
                yield ("attrs_put", tag)


def _attrs_for(tag: int) -> dict:
    return {"tag": tag, "pad": "x" * (tag % 97), "nums": list(range(tag % 13))}


def _apply(a, op) -> None:
    if op[0] == "write":
        a[op[1]:op[2]] = op[3]
    elif op[0] == "resize":
        a.resize((op[1],))
    elif op[0] == "attrs_put":
        a.attrs.put(_attrs_for(op[1]))
    else:
        a.update_attributes({"merged": op[1]})


class _State:
    """What the array should hold: shape, data over ``L`` elements (fill beyond the shape), attributes."""

    def __init__(self, shape: int, data: np.ndarray, attrs: dict):
        self.shape, self.data, self.attrs = shape, data, attrs

    def after(self, op) -> "_State":
        data, shape, attrs = self.data.copy(), self.shape, dict(self.attrs)
        if op[0] == "write":
            data[op[1]:min(op[2], shape)] = op[3]
        elif op[0] == "resize":
            if op[1] < shape:
                data[op[1]:] = FILL
            shape = op[1]
        elif op[0] == "attrs_put":
            attrs = _attrs_for(op[1])
        else:
            attrs["merged"] = op[1]
        return _State(shape, data, attrs)


def writer(case: str, root: str, run: int, log: str) -> None:
    """The process that gets killed (runs in a child of the zygote)."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    a = zarrsync.open_array(root, path="arr")
    for i, op in enumerate(_ops(case, run)):
        os.write(fd, b"B%d\n" % i)
        _apply(a, op)
        os.write(fd, b"E%d\n" % i)


# --- the zygote ------------------------------------------------------------------------------------

_ZYGOTE = r"""
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("crash_writers", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
print("ready", flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            mod.writer(**cmd)
        except BaseException:
            code = 1
        os._exit(code)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(status, flush=True)
"""


class _Zygote:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", _ZYGOTE, __file__], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def start(self, **cmd) -> int:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def reap(self) -> int:
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def zygote():
    z = _Zygote()
    yield z
    z.close()


# --- the checks ------------------------------------------------------------------------------------

def _last_begun(log: str) -> tuple[int, bool]:
    """(index of the last operation begun, whether it ended); (-1, True) if none began."""
    with open(log) as f:
        lines = f.read().split("\n")
    lines = [x for x in lines if x]
    if not lines:
        return -1, True
    last = lines[-1]
    if last[0] == "B":
        return int(last[1:]), False
    if len(last) > 1 and last[1:].isdigit():
        return int(last[1:]), True
    return int(lines[-2][1:]), False  # a line cut in half: impossible for one small write, kept safe


def _wait_begun(log: str, pid: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if os.path.getsize(log) > 0:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.0005)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("the writer never began")


def _check_keys(store: LocalStore, zarr_format: int, size: int) -> None:
    meta = {"zarr.json", "arr/zarr.json"} if zarr_format == 3 else {".zgroup", "arr/.zarray", "arr/.zattrs"}
    prefix = "arr/c/" if zarr_format == 3 else "arr/"
    for key in store.list():
        if key in meta:
            continue
        assert key.startswith(prefix) and key[len(prefix):].isdigit(), f"stray key {key!r} listed"
        assert int(key[len(prefix):]) * size < L, f"chunk key {key!r} beyond the largest shape"


def _check(root: str, layout: str, before: _State, after: _State) -> _State:
    """Check what a kill left against the states before and after the operation in flight; return it."""
    store = LocalStore(root)
    zarr_format = LAYOUTS[layout].get("zarr_format", 3)
    doc = "arr/zarr.json" if zarr_format == 3 else "arr/.zarray"
    json.loads(store.get(doc))
    a = zarrsync.open_array(store, path="arr")
    shape = a.shape[0]
    assert shape in (before.shape, after.shape), (shape, before.shape, after.shape)
    attrs = a.attrs.asdict()
    assert attrs in (before.attrs, after.attrs), attrs
    size = a.shards[0] if a.shards else a.chunks[0]
    _check_keys(store, zarr_format, size)
    if shape != L:
        a.resize((L,))  # a grow: beyond the shape in force only fill may show
    got = a[...]  # every chunk decodes
    if shape == after.shape != before.shape:
        # the new metadata is written last: everything before it is done
        np.testing.assert_array_equal(got, after.data)
    else:
        for lo in range(0, L, size):
            part = got[lo:lo + size]
            old, new = before.data[lo:lo + size], after.data[lo:lo + size]
            assert np.array_equal(part, old) or np.array_equal(part, new), (lo, part, old, new)
    assert np.all(got[shape:] == FILL), "a grow after the kill shows cut-off data"
    return _State(L, got, attrs)


def _run_case(zygote, tmp_path, case: str, layout: str) -> dict:
    root = str(tmp_path / "root")
    a = zarrsync.create_array(root, path="arr", shape=(L,), dtype="i4", fill_value=FILL, **LAYOUTS[layout])
    a.attrs.put(_attrs_for(0))
    state = _State(L, np.full(L, FILL, dtype="i4"), _attrs_for(0))
    del a
    rng = random.Random(f"kills-{case}-{layout}")
    stats = {"kills": 0, "in_flight": 0}
    for run in range(KILLS):
        log = str(tmp_path / f"log{run}")
        pid = zygote.start(case=case, root=root, run=run, log=log)
        _wait_begun(log, pid)
        time.sleep(rng.uniform(0, MAX_DELAY))
        os.kill(pid, signal.SIGKILL)
        status = zygote.reap()
        assert os.WIFSIGNALED(status), "the writer ended before it was killed"
        k, ended = _last_begun(log)
        ops = _ops(case, run)
        for i in range(k + (1 if ended else 0)):
            state = state.after(next(ops))
        after = state if ended else state.after(next(ops))
        state = _check(root, layout, state, after)
        stats["kills"] += 1
        stats["in_flight"] += not ended
    on_disk = {os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
               for d, _, files in os.walk(root) for f in files}
    stats["unlisted_files_on_disk"] = len(on_disk - set(LocalStore(root).list()))  # temp files of killed writes
    return stats


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_killed_chunk_writer(zygote, tmp_path, layout):
    stats = _run_case(zygote, tmp_path, "data", layout)
    assert stats["kills"] == KILLS and stats["in_flight"] > 0


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_killed_resizer(zygote, tmp_path, layout):
    stats = _run_case(zygote, tmp_path, "resize", layout)
    assert stats["kills"] == KILLS and stats["in_flight"] > 0


@pytest.mark.parametrize("layout", ["v3", "v2"])
def test_killed_attribute_writer(zygote, tmp_path, layout):
    stats = _run_case(zygote, tmp_path, "attrs", layout)
    assert stats["kills"] == KILLS and stats["in_flight"] > 0
