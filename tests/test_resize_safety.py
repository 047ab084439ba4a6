"""Issue 10 point 3: data cut off by a shrink never comes back.

- every crash point of a shrink (a store that stops working at its Nth change) leaves metadata
  that parses, says the old or the new shape, and nothing beyond the shape in force that a later
  grow could show (plain v3, 2-d, sharded v3, v2);
- writes through any number of ``Array`` objects racing a resize loop never bring cut-off
  elements back;
- every object over one node sees a resize and an attribute update at once.
"""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import zarrsync
from zarrsync.errors import ValueShapeError
from zarrsync.storage.base import Store
from zarrsync.storage.memory import MemoryStore
from zarrsync.testing import run_threads


class _Crash(BaseException):
    """The simulated death of the writer (not an Exception: nothing may swallow it)."""


class _DiesAt(Store):
    """Passes every call to ``inner``; from its ``at``-th change (set or delete, counted from 0)
    on, every change raises :class:`_Crash` before touching ``inner``, as if the writer died."""

    def __init__(self, inner: Store, at: int):
        super().__init__()
        self.inner, self.at, self.changes = inner, at, 0
        self._lock = threading.Lock()

    def _change(self) -> None:
        with self._lock:
            n, self.changes = self.changes, self.changes + 1
        if n >= self.at:
            raise _Crash(n)

    def _get(self, key, byte_range):
        return self.inner.get(key, byte_range)

    def _set(self, key, value):
        self._change()
        self.inner.set(key, value)

    def _delete(self, key):
        self._change()
        self.inner.delete(key)

    def _list_prefix(self, prefix):
        return self.inner.list_prefix(prefix)


LAYOUTS = {
    "v3": dict(shape=(100,), chunks=(8,)),
    "v3-2d": dict(shape=(20, 21), chunks=(8, 5)),
    "sharded": dict(shape=(64,), chunks=(4,), shards=(16,)),
    "v2": dict(shape=(100,), chunks=(8,), zarr_format=2),
    "v2-2d-slash": dict(shape=(20, 21), chunks=(8, 5), zarr_format=2, dimension_separator="/"),
}
SHRINKS = {"v3": [(13,), (0,), (16,)], "v3-2d": [(5, 13), (5, 30), (20, 3)], "sharded": [(21,), (33,)],
           "v2": [(13,), (16,)], "v2-2d-slash": [(5, 13), (9, 30)]}
CASES = [(layout, new) for layout, shapes in SHRINKS.items() for new in shapes]


def _make(data: dict, layout: str, fill=-1):
    a = zarrsync.create_array(MemoryStore(data), path="arr", dtype="i4", fill_value=fill, **LAYOUTS[layout])
    values = np.arange(1, a.size + 1, dtype="i4").reshape(a.shape)
    a[...] = values
    return values


def _grown(shape, new):
    return tuple(max(s, n) + 7 for s, n in zip(shape, new))


def _box(shape) -> tuple:
    return tuple(slice(0, n) for n in shape)


def _check_after_crash(data: dict, old: tuple, new: tuple, values: np.ndarray) -> str:
    """The invariant of point 3 on what a crash left; returns which shape was in force."""
    b = zarrsync.open_array(MemoryStore(data), path="arr")  # the metadata parses
    shape = b.shape
    assert shape in (old, new)
    big = _grown(old, new)
    before = np.full(big, -1, dtype="i4")  # the data before the shrink, fill beyond the old shape
    before[_box(old)] = values
    kept = np.zeros(big, bool)
    kept[_box(np.minimum(old, new))] = True
    b.resize(big)  # a grow: beyond the shape in force, only fill may show
    got = b[...]
    np.testing.assert_array_equal(got[kept], before[kept])  # what both shapes keep is untouched
    in_force = np.zeros(big, bool)
    in_force[_box(shape)] = True
    cut = in_force & ~kept  # being cut off: old data or fill (the shrink had partly run)
    assert np.all((got[cut] == before[cut]) | (got[cut] == -1))
    assert np.all(got[~in_force] == -1), "a grow after the crash shows cut-off data"
    state = "new" if shape == new else "old"
    b.resize(new)  # running the shrink again finishes it
    b.resize(big)
    final = b[...]
    np.testing.assert_array_equal(final[kept], before[kept])
    assert np.all(final[~kept] == -1)
    return state


@pytest.mark.parametrize("layout,new", CASES, ids=[f"{c[0]}-{'x'.join(map(str, c[1]))}" for c in CASES])
def test_every_crash_point_of_a_shrink_is_harmless(layout, new):
    points = 0
    seen = set()
    for at in range(10_000):
        data: dict = {}
        values = _make(data, layout)
        old = values.shape
        a = zarrsync.open_array(_DiesAt(MemoryStore(data), at), path="arr")
        try:
            a.resize(new)
            finished = True
        except _Crash:
            finished = False
        del a
        gc.collect()  # the dead writer's objects go with it
        seen.add(_check_after_crash(data, old, new, values))
        points += 1
        if finished:
            break
    assert points > 1
    assert seen == {"old", "new"}  # both sides of the metadata write were reached


def test_crash_points_count():
    """How many crash points the exhaustive test walks (for the report): one per store change."""
    total = 0
    for layout, new in CASES:
        data: dict = {}
        _make(data, layout)
        store = _DiesAt(MemoryStore(data), 10**9)
        zarrsync.open_array(store, path="arr").resize(new)
        total += store.changes + 1
    assert total > 100


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_keep_outside_chunks_shows_them_again(zarr_format):
    """``delete_outside_chunks=False`` keeps the chunks: growing back shows them (zarr-python's meaning)."""
    a = zarrsync.create_array(None, shape=(20,), chunks=(4,), dtype="i2", fill_value=0, zarr_format=zarr_format)
    a[...] = np.arange(1, 21)
    a.resize((6,), delete_outside_chunks=False)
    assert a.nchunks_initialized() == 2
    a.resize((20,))
    np.testing.assert_array_equal(a[...], np.arange(1, 21))
    a.resize((6,))  # the default clears
    a.resize((20,))
    np.testing.assert_array_equal(a[...], np.r_[np.arange(1, 7), np.zeros(14)])


def test_shrink_clears_strays_beyond_the_old_grid():
    """Chunks left beyond the shape by an earlier ``delete_outside_chunks=False`` go at the next shrink."""
    a = zarrsync.create_array(None, shape=(20,), chunks=(4,), dtype="i2", fill_value=0)
    a[...] = 7
    a.resize((3,), delete_outside_chunks=False)
    a.resize((2,))
    a.resize((20,))
    np.testing.assert_array_equal(a[...], np.r_[7, 7, np.zeros(18)])


def test_sharded_shrink_resets_inner_chunks_of_the_edge_shard():
    a = zarrsync.create_array(None, shape=(64,), chunks=(4,), shards=(16,), dtype="u1", fill_value=0)
    a[...] = 9
    a.resize((21,))
    assert sorted(a.store.list_prefix("c/")) == ["c/0", "c/1"]
    a.resize((64,))
    np.testing.assert_array_equal(a[...], np.r_[np.full(21, 9), np.zeros(43)])


# --- one node, several objects ----------------------------------------------------------------------

def _two_objects(tmp_path, **kw):
    root = str(tmp_path / "root")
    g = zarrsync.create_group(root)
    a = g.create_array("arr", shape=(100,), chunks=(8,), dtype="i4", fill_value=-1, **kw)
    b = zarrsync.open_array(root + "/arr")  # another store object, another root: the same node
    return a, b


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_objects_over_one_node_see_a_resize(tmp_path, zarr_format):
    a, b = _two_objects(tmp_path, zarr_format=zarr_format)
    a[...] = 5
    a.resize((10,))
    assert b.shape == (10,)
    b[...] = 6  # the write sees the new shape: ten elements, nothing beyond
    a.resize((100,))
    np.testing.assert_array_equal(b[...], np.r_[np.full(10, 6), np.full(90, -1)])
    b.attrs["x"] = 1
    assert a.attrs.asdict() == {"x": 1}
    c = zarrsync.open_group(str(tmp_path / "root"))["arr"]
    assert c.shape == (100,) and c.attrs["x"] == 1


def test_write_with_a_pre_shrink_selection_follows_the_new_shape(tmp_path):
    """A write resolved after the shrink: ``b[...] = full-size array`` no longer fits, and fails."""
    a, b = _two_objects(tmp_path)
    a.resize((10,))
    with pytest.raises(ValueShapeError):
        b[...] = np.zeros(100, dtype="i4")
    assert a.nchunks_initialized() == 0


def test_attribute_updates_through_several_objects_are_not_lost(tmp_path):
    a, b = _two_objects(tmp_path)
    objs = [a, b]

    def work(i):
        for j in range(20):
            objs[i % 2].update_attributes({f"t{i}-{j}": j})

    run_threads(4, work)
    fresh = zarrsync.open_array(str(tmp_path / "root"), path="arr")
    assert len(fresh.attrs) == 80


def test_recreated_node_rebinds_old_objects():
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(4,), chunks=(2,), dtype="i4")
    b = zarrsync.create_array(store, shape=(6,), chunks=(3,), dtype="f8", fill_value=0.5, overwrite=True)
    b[:2] = 2.5
    assert a.dtype == np.float64 and a.chunks == (3,)
    np.testing.assert_array_equal(a[...], [2.5, 2.5, 0.5, 0.5, 0.5, 0.5])


def test_append_from_threads_through_several_objects(tmp_path):
    a, b = _two_objects(tmp_path)
    a.resize((0,))
    objs = [a, b]

    def work(i):
        for j in range(10):
            objs[i % 2].append(np.full(3, i * 100 + j, dtype="i4"))

    run_threads(4, work)
    got = a[...]
    assert got.shape == (120,)
    runs = got.reshape(40, 3)
    assert np.all(runs == runs[:, :1])  # each append landed whole, none over another
    assert sorted(runs[:, 0]) == sorted(i * 100 + j for i in range(4) for j in range(10))


# --- the race ----------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["v3", "sharded", "v2"])
def test_writes_racing_shrinks_never_bring_data_back(tmp_path, layout):
    """Writers ``x[...] = k`` through their own objects (opened through the array's directory and
    through its group) while another object shrinks and grows back in a loop. While the shrunk
    shape is in force, nothing beyond it is stored; after each grow, elements beyond the shrink
    are fill or values written after the grow."""
    kw = {"v3": dict(chunks=(8,)), "sharded": dict(chunks=(4,), shards=(16,)),
          "v2": dict(chunks=(8,), zarr_format=2)}[layout]
    root = str(tmp_path / "root")
    g = zarrsync.create_group(root, zarr_format=kw.get("zarr_format", 3))
    r = g.create_array("arr", shape=(64,), dtype="i4", fill_value=-1, **kw)
    writers = [zarrsync.open_array(root + "/arr"), zarrsync.open_group(root)["arr"], r]
    stop = threading.Event()
    cycles = 150
    rng = np.random.default_rng(3)
    problems: list[str] = []
    writes = [0, 0, 0]
    counter = iter(range(1, 10**9))
    counter_lock = threading.Lock()

    def write(i):
        while not stop.is_set():
            with counter_lock:
                k = next(counter)
            writers[i][...] = k
            writes[i] += 1

    csize = r.shards[0] if r.shards else r.chunks[0]

    def stored_beyond(s: int) -> list[str]:
        """Chunks (shards) stored wholly beyond ``s``, and the straddling one if it holds data beyond."""
        bad = []
        for key in r.store.list_prefix("arr/"):
            name = key[len("arr/"):].removeprefix("c/")
            if not name.isdigit():
                continue
            c = int(name)
            if c * csize >= s:
                bad.append(key)
            elif (c + 1) * csize > s:
                data = r.store.get(key)
                if data is not None and np.any(r._pipeline.decode(data, key)[s - c * csize:] != -1):
                    bad.append(key + " (beyond the edge)")
        return bad

    def resize(_):
        try:
            for _ in range(cycles):
                s = int(rng.integers(0, 64))
                r.resize((s,))
                bad = stored_beyond(s)
                if bad:
                    problems.append(f"shape {s}: stored beyond it: {bad}")
                r.resize((64,))
        finally:
            stop.set()

    def body(i):
        if i == 3:
            resize(i)
        else:
            write(i)

    run_threads(4, body, switch_interval=1e-5)
    assert not problems, problems[:5]
    assert min(writes) > 0


def test_fork_while_a_resize_and_an_attribute_update_hold_the_node(tmp_path):
    """A child forked while other threads hold the node's locks gets fresh ones: it can write,
    resize and update attributes (the holders do not exist in it)."""
    import os
    import signal
    import time

    a = zarrsync.create_array(str(tmp_path / "r"), shape=(16,), chunks=(4,), dtype="i4", fill_value=0)
    state = a._state
    held, release = threading.Event(), threading.Event()

    def hold():
        with state.edit_lock, state.exclusive():
            held.set()
            release.wait()

    t = threading.Thread(target=hold)
    t.start()
    held.wait()
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                a[...] = 3
                a.attrs["x"] = 1
                a.resize((8,))
                code = 0 if (a[...] == 3).all() and a.shape == (8,) else 2
            finally:
                os._exit(code)
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError("the forked child deadlocked on the node's locks")
            time.sleep(0.01)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        release.set()
        t.join()
