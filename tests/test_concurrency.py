"""Many threads at once: disjoint writers that share chunks lose no update (one Array object, or
one Array object per thread over the same directory), and readers never see a torn chunk while
whole chunks are being overwritten. ``sys.setswitchinterval`` is lowered to force interleavings.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import zarrsync
from zarrsync import config
from zarrsync.storage import LocalStore, MemoryStore
from zarrsync.testing import fast_switching

N_THREADS = 16


def run_threads(target, n: int, timeout: float = 60.0) -> None:
    """Start ``target(i, barrier)`` on ``n`` threads, join them, re-raise the first error."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def wrap(i):
        try:
            target(i, barrier)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=wrap, args=(i,), name=f"writer-{i}") for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "threads did not finish (deadlock?)"
    if errors:
        raise errors[0]


def stripe_value(rnd: int, i: int, shape: tuple) -> np.ndarray:
    """What thread ``i`` writes in round ``rnd``: distinct per round, thread and element."""
    rows, cols = shape
    return (rnd * 1_000_000 + i * 10_000 + np.arange(rows * cols).reshape(rows, cols)).astype("i8")


def stripe_writer(arrays, width: int, shape: tuple, rounds: int, pieces: int):
    """Thread ``i`` owns columns ``[i*width, (i+1)*width)``; each round it writes its stripe in
    ``pieces`` row blocks (each block a partial write of the chunks it touches)."""
    rows = shape[0]

    def target(i, barrier):
        a = arrays[i] if isinstance(arrays, list) else arrays
        cols = slice(i * width, (i + 1) * width)
        # threads ask for different pool sizes, so the shared pool grows while others use it
        with config.context(max_workers=1 + i % 6):
            for rnd in range(rounds):
                barrier.wait()
                value = stripe_value(rnd, i, (rows, width))
                bounds = np.linspace(0, rows, pieces + 1).astype(int)
                for lo, hi in zip(bounds, bounds[1:]):
                    a[lo:hi, cols] = value[lo:hi]

    return target


def expected_after(rnd: int, n: int, width: int, rows: int) -> np.ndarray:
    return np.concatenate([stripe_value(rnd, i, (rows, width)) for i in range(n)], axis=1)


@pytest.mark.parametrize("width, chunks", [(1, (8, 8)), (3, (16, 10)), (2, (5, 7))])
def test_disjoint_stripes_sharing_chunks_one_array(width, chunks):
    rows, n, rounds = 40, N_THREADS + 4, 30
    shape = (rows, n * width)
    assert chunks[1] > width  # every chunk is shared by several writers
    a = zarrsync.create_array(MemoryStore(), shape=shape, dtype="i8", chunks=chunks, fill_value=-1)
    checks = []

    def target(i, barrier):
        cols = slice(i * width, (i + 1) * width)
        with config.context(max_workers=1 + i % 6):
            for rnd in range(rounds):
                value = stripe_value(rnd, i, (rows, width))
                bounds = np.linspace(0, rows, 4).astype(int)
                barrier.wait()
                for lo, hi in zip(bounds, bounds[1:]):
                    a[lo:hi, cols] = value[lo:hi]
                if barrier.wait() == 0:  # one thread checks while the others wait
                    got = a[...]
                    want = expected_after(rnd, n, width, rows)
                    checks.append(int((got != want).sum()))
                barrier.wait()

    with fast_switching():
        run_threads(target, n)
    assert checks == [0] * rounds, f"lost updates per round: {checks}"
    np.testing.assert_array_equal(a[...], expected_after(rounds - 1, n, width, rows))


def test_disjoint_stripes_with_strided_selections():
    """Thread i owns every n-th column starting at i (negative steps too): interleaved stripes
    that hit the same chunks as every other thread's."""
    n, rows, rounds = N_THREADS, 24, 25
    shape = (rows, n * 3)
    a = zarrsync.create_array(MemoryStore(), shape=shape, dtype="i4", chunks=(6, 9), fill_value=0)
    want = np.zeros(shape, dtype="i4")

    def cols_of(i):
        return slice(i, None, n) if i % 2 == 0 else slice(shape[1] - n + i, None, -n)

    def target(i, barrier):
        for rnd in range(rounds):
            barrier.wait()
            for r in range(0, rows, 5):
                a[r:r + 5, cols_of(i)] = rnd * 1000 + i * 10 + r // 5

    with fast_switching():
        run_threads(target, n)
    for i in range(n):
        for r in range(0, rows, 5):
            want[r:r + 5, cols_of(i)] = (rounds - 1) * 1000 + i * 10 + r // 5
    np.testing.assert_array_equal(a[...], want)


def test_disjoint_stripes_separate_arrays_over_one_directory(tmp_path):
    path = tmp_path / "shared.zarr"
    rows, n, width, rounds = 24, N_THREADS, 1, 20
    shape = (rows, n * width)
    zarrsync.create_array(str(path), shape=shape, dtype="i8", chunks=(8, 8), fill_value=-1, compressors=None)
    # one Array object (and one LocalStore object) per thread
    arrays = [zarrsync.open_array(LocalStore(path), mode="r+") for _ in range(n)]
    assert len({id(x.store) for x in arrays}) == n

    with fast_switching():
        run_threads(stripe_writer(arrays, width, shape, rounds, pieces=3), n)
    got = zarrsync.open_array(str(path), mode="r")[...]
    np.testing.assert_array_equal(got, expected_after(rounds - 1, n, width, rows))
    assert not [p for p in path.rglob("*") if ".__zarrsync_tmp__" in p.name]


def test_disjoint_single_elements_many_threads():
    """32 threads each set single elements (one-chunk partial writes, inline) of shared chunks."""
    n = 32
    a = zarrsync.create_array(MemoryStore(), shape=(16, n), dtype="u2", chunks=(4, 8))
    with fast_switching():
        def target(i, barrier):
            barrier.wait()
            for r in range(16):
                a[r, i] = r * 100 + i + 1
        run_threads(target, n)
    want = np.arange(16)[:, None] * 100 + np.arange(n)[None, :] + 1
    np.testing.assert_array_equal(a[...], want.astype("u2"))


@pytest.mark.parametrize("shards", [None, (8, 16)], ids=["chunks", "shards"])
def test_disjoint_fancy_writes_many_threads(shards):
    """16 threads write interleaved point sets (vindex), row lists (oindex) and masks into the
    same chunks (and shards): every element written exactly once, so a lost update stays lost."""
    n = N_THREADS
    shape = (16, 64)
    a = zarrsync.create_array(MemoryStore(), shape=shape, dtype="i4", chunks=(4, 8), shards=shards, fill_value=-1)
    rows, cols = np.indices(shape)
    owner = (rows * 7 + cols) % n  # each thread owns elements spread over every chunk
    want = (rows * 1000 + cols).astype("i4")
    with fast_switching():
        def target(i, barrier):
            mine = owner == i
            r, c = np.nonzero(mine)
            third = len(r) // 3
            barrier.wait()
            with config.context(max_workers=1 + i % 4):
                a.vindex[r[:third], c[:third]] = want[r[:third], c[:third]]  # points, grouped by chunk
                for k in range(third, 2 * third):  # one-element orthogonal writes
                    a.oindex[[r[k]], [c[k]]] = want[r[k], c[k]]
                rest = np.zeros(shape, dtype=bool)
                rest[r[2 * third:], c[2 * third:]] = True
                a.set_mask_selection(rest, want[rest])
        run_threads(target, n)
    np.testing.assert_array_equal(a[...], want)


# --- readers never see a torn chunk ---------------------------------------------------------------
@pytest.mark.parametrize("store_kind", ["memory", "local"])
def test_readers_never_see_torn_chunks(store_kind, tmp_path):
    chunks = (16, 16)
    shape = (64, 64)
    store = MemoryStore() if store_kind == "memory" else LocalStore(tmp_path / "torn.zarr")
    compressors = "auto" if store_kind == "memory" else None
    a = zarrsync.create_array(store, shape=shape, dtype="i8", chunks=chunks, fill_value=0, compressors=compressors)
    grid = (shape[0] // chunks[0], shape[1] // chunks[1])
    n_writers, n_readers, writes_each = 4, 12, 40
    stop = threading.Event()
    seen = []
    torn = []

    def chunk_view(arr, i, j):
        return arr[i * chunks[0]:(i + 1) * chunks[0], j * chunks[1]:(j + 1) * chunks[1]]

    def target(k, barrier):
        if k < n_writers:  # writers: whole chunks, one value per chunk per write
            barrier.wait()
            for w in range(writes_each):
                v = 1 + k * 1000 + w
                if w % 2:
                    a[...] = v  # every chunk whole
                else:
                    i, j = w % grid[0], (w // 2 + k) % grid[1]
                    a[i * chunks[0]:(i + 1) * chunks[0], j * chunks[1]:(j + 1) * chunks[1]] = v
            return
        # readers: whole array or single chunks, until the writers are done
        view = (zarrsync.open_array(LocalStore(tmp_path / "torn.zarr"), mode="r")
                if store_kind == "local" and k % 2 else a)
        barrier.wait()
        while not stop.is_set():
            got = view[...]
            for i in range(grid[0]):
                for j in range(grid[1]):
                    c = chunk_view(got, i, j)
                    if not (c == c.flat[0]).all():
                        torn.append((i, j, np.unique(c)))
                    seen.append(int(c.flat[0]))
            i, j = k % grid[0], (k // 2) % grid[1]
            one = view[i * chunks[0]:(i + 1) * chunks[0], j * chunks[1]:(j + 1) * chunks[1]]
            if not (one == one.flat[0]).all():
                torn.append((i, j, np.unique(one)))

    def run(k, barrier):
        try:
            target(k, barrier)
        finally:
            if k < n_writers:
                done.wait_and_maybe_stop()

    class Done:
        def __init__(self):
            self.count = 0
            self.lock = threading.Lock()

        def wait_and_maybe_stop(self):
            with self.lock:
                self.count += 1
                if self.count == n_writers:
                    stop.set()

    done = Done()
    with fast_switching():
        run_threads(run, n_writers + n_readers)
    assert not torn, torn[:5]
    valid = {0} | {1 + k * 1000 + w for k in range(n_writers) for w in range(writes_each)}
    assert set(seen) <= valid
    assert len(set(seen)) > 2  # readers did overlap with the writes


@pytest.mark.thread_unsafe(reason="asserts on the process-wide switch interval")
def test_fast_switching_blocks_overlapping_in_two_threads_restore_the_interval():
    """Test bodies run from several threads at once (pytest-run-parallel) overlap their blocks
    and leave them out of order: the interval stays lowered until the last one leaves, then
    comes back as it was."""
    import sys

    before = sys.getswitchinterval()
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def a():
        with fast_switching(1e-5):
            a_inside.set()
            b_inside.wait(10)
        a_left.set()

    def b():
        a_inside.wait(10)
        with fast_switching(1e-6):
            b_inside.set()
            a_left.wait(10)  # a leaves first
            seen.append(sys.getswitchinterval())

    threads = [threading.Thread(target=f) for f in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen == [pytest.approx(1e-6)]
    assert sys.getswitchinterval() == pytest.approx(before)
