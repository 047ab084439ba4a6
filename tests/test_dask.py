"""Dask over zarrsync: ``to_dask`` reads, ``write_dask``/``from_dask`` write, on dask's threaded
and process schedulers and on a two-process ``distributed`` cluster over loopback.

The claim that makes lock-free parallel writes safe is checked directly: every write that
``write_dask`` makes is recorded, and the stored objects each one touches (found with zarrsync's
own chunk grid arithmetic, :class:`zarrsync.indexing.BasicIndexer`) are disjoint between writes;
an object is written in part only where it straddles the region's edge.
"""

from __future__ import annotations

import math
import pickle
import random
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
from oracles import require

require("dask")
require("distributed")

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import distributed  # noqa: E402

import zarrsync  # noqa: E402
from zarrsync.errors import IndexingError, MissingDependencyError, ValueShapeError  # noqa: E402
from zarrsync.indexing import BasicIndexer  # noqa: E402

SHAPE = (13, 23)
LAYOUTS = {
    "v3": ({"chunks": (4, 5)}, (4, 5)),
    "v3-sharded": ({"chunks": (2, 5), "shards": (4, 10)}, (4, 10)),
    "v2": ({"chunks": (4, 5), "zarr_format": 2}, (4, 5)),
}


def _data(shape=SHAPE, dtype="f4"):
    return np.arange(math.prod(shape), dtype=dtype).reshape(shape)


def _array(store, layout, shape=SHAPE, fill_value=-1):
    kwargs, _ = LAYOUTS[layout]
    return zarrsync.create_array(store, shape=shape, dtype="f4", fill_value=fill_value, **kwargs)


# --- to_dask --------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_to_dask_blocks_are_the_stored_objects_and_read_the_values(layout):
    a = _array(None, layout)
    a[...] = _data()
    x = zarrsync.to_dask(a)
    assert x.chunksize == LAYOUTS[layout][1] == (a.shards or a.chunks)
    assert x.dtype == a.dtype and x.shape == a.shape
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(x.compute(), _data())
        np.testing.assert_array_equal(x[3:9, 4:17].compute(), _data()[3:9, 4:17])


def test_to_dask_takes_other_chunks():
    a = _array(None, "v3")
    a[...] = _data()
    x = zarrsync.to_dask(a, chunks=(5, 7))
    assert x.chunks == ((5, 5, 3), (7, 7, 7, 2))
    np.testing.assert_array_equal(x.compute(scheduler="threads"), _data())


def test_to_dask_names_are_stable_per_stored_array(tmp_path):
    a = _array(str(tmp_path / "a.zarr"), "v3")
    again = zarrsync.open_array(str(tmp_path / "a.zarr"))
    assert zarrsync.to_dask(a).name == zarrsync.to_dask(a).name == zarrsync.to_dask(again).name
    assert zarrsync.to_dask(pickle.loads(pickle.dumps(a))).name == zarrsync.to_dask(a).name
    other = _array(str(tmp_path / "b.zarr"), "v3")
    assert zarrsync.to_dask(other).name != zarrsync.to_dask(a).name
    assert zarrsync.to_dask(a, chunks=(2, 2)).name != zarrsync.to_dask(a).name
    before = zarrsync.to_dask(a).name
    a.resize((20, 23))  # another shape: another graph
    assert zarrsync.to_dask(a).name != before


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_a_reduction_runs_on_threads_and_processes(tmp_path, scheduler):
    a = _array(str(tmp_path / "a.zarr"), "v3-sharded")
    a[...] = _data()
    with dask.config.set(scheduler=scheduler, num_workers=2):
        total = zarrsync.to_dask(a).sum(dtype="f8").compute()
        col_max = zarrsync.to_dask(a).max(axis=0).compute()
    assert total == _data().sum(dtype="f8")
    np.testing.assert_array_equal(col_max, _data().max(axis=0))


# --- write_dask / from_dask -----------------------------------------------------------------------

@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("x_chunks", [(4, 5), (3, 7), (13, 23), (1, 2)])
def test_write_dask_round_trips(layout, x_chunks):
    a = _array(None, layout)
    with dask.config.set(scheduler="threads"):
        assert zarrsync.write_dask(da.from_array(_data(), chunks=x_chunks), a) is None
    np.testing.assert_array_equal(a[...], _data())


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("region", [(slice(4, 12), slice(5, 20)), (slice(3, 10), slice(2, 23)),
                                    (slice(1, 2), slice(None)), (slice(-5, None), slice(7, -1))])
def test_write_dask_fills_a_region_only(layout, region):
    a = _array(None, layout)
    expected = np.full(SHAPE, -1, dtype="f4")
    value = -_data(expected[region].shape) - 2
    expected[region] = value
    with dask.config.set(scheduler="threads"):
        zarrsync.write_dask(da.from_array(value, chunks=3), a, region=region)
    np.testing.assert_array_equal(a[...], expected)


def test_write_dask_keeps_what_is_around_a_region():
    a = _array(None, "v3-sharded")
    a[...] = _data()
    expected = _data()
    expected[5:11, 3:17] = 0.5
    with dask.config.set(scheduler="threads"):
        zarrsync.write_dask(da.full((6, 14), 0.5, dtype="f4", chunks=(4, 4)), a, region=(slice(5, 11), slice(3, 17)))
    np.testing.assert_array_equal(a[...], expected)


def test_write_dask_refuses_a_mismatched_region():
    a = _array(None, "v3")
    x = da.zeros((4, 4), dtype="f4", chunks=2)
    with pytest.raises(ValueShapeError, match=r"\(4, 4\)"):
        zarrsync.write_dask(x, a, region=(slice(0, 4), slice(0, 5)))
    with pytest.raises(ValueShapeError):
        zarrsync.write_dask(x, a)  # the whole array is 13 x 23
    with pytest.raises(ValueShapeError):
        zarrsync.write_dask(x, a, region=(slice(10, 14), slice(0, 4)))  # clipped to 3 rows, as numpy clips
    with pytest.raises(IndexingError, match="step"):
        zarrsync.write_dask(x, a, region=(slice(0, 8, 2), slice(0, 4)))
    with pytest.raises(IndexingError):
        zarrsync.write_dask(x, a, region=(slice(0, 4),))
    assert a.nchunks_initialized() == 0


def test_write_dask_of_an_empty_region_writes_nothing():
    a = _array(None, "v3")
    with dask.config.set(scheduler="threads"):
        zarrsync.write_dask(da.zeros((0, 5), dtype="f4"), a, region=(slice(3, 3), slice(0, 5)))
    assert a.nchunks_initialized() == 0


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_from_dask_creates_and_writes(tmp_path, layout):
    kwargs, stored = LAYOUTS[layout]
    x = da.from_array(_data(), chunks=(3, 7))
    with dask.config.set(scheduler="threads"):
        a = zarrsync.from_dask(x, str(tmp_path / "a.zarr"), path="g/x", fill_value=-1, **kwargs)
    assert a.path == "g/x" and a.shape == SHAPE and a.dtype == np.dtype("f4")
    assert (a.shards or a.chunks) == stored and a.zarr_format == kwargs.get("zarr_format", 3)
    np.testing.assert_array_equal(zarrsync.open_array(str(tmp_path / "a.zarr"), path="g/x")[...], _data())


def test_from_dask_takes_the_block_shape_by_default():
    with dask.config.set(scheduler="threads"):
        regular = zarrsync.from_dask(da.from_array(_data(), chunks=(3, 7)), None)
        irregular = zarrsync.from_dask(da.from_array(_data(), chunks=((5, 3, 5), (7, 16))), None)
    assert regular.chunks == (3, 7)
    assert irregular.chunks == (5, 16)  # the largest block
    np.testing.assert_array_equal(irregular[...], _data())


def test_da_store_into_an_array_with_aligned_chunks():
    a = _array(None, "v3")
    x = da.from_array(_data(), chunks=a.chunks)
    with dask.config.set(scheduler="threads"):
        da.store(x, a, lock=False)
    np.testing.assert_array_equal(a[...], _data())


def test_import_zarrsync_does_not_import_dask():
    code = "import sys, zarrsync; assert zarrsync.to_dask; print(sorted(m for m in sys.modules if m.startswith('dask')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_missing_dask_names_the_extra(monkeypatch):
    a = _array(None, "v3")
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    for call in (lambda: zarrsync.to_dask(a), lambda: zarrsync.write_dask(None, a),
                 lambda: zarrsync.from_dask(None, None)):
        with pytest.raises(MissingDependencyError, match=r'pip install "zarrsync\[dask\]"'):
            call()


# --- the alignment claim: no two blocks touch one stored object ------------------------------------

def _record_writes(monkeypatch) -> list:
    """Record the selection of every ``Array.__setitem__`` call (what ``da.store`` makes per block)."""
    writes, lock = [], threading.Lock()
    original = zarrsync.Array.__setitem__

    def recording(self, selection, value):
        with lock:
            writes.append(selection)
        original(self, selection, value)

    monkeypatch.setattr(zarrsync.Array, "__setitem__", recording)
    return writes


def _touched(a, selection) -> dict:
    """``{stored object key: written whole}`` for one write, by zarrsync's chunk grid arithmetic
    over the stored objects (shards of a sharded array)."""
    ix = BasicIndexer(selection, a.shape, a.metadata.chunk_shape)
    return {a.metadata.chunk_key(coords): complete for coords, _, _, complete in ix.chunks()}


def _straddles_edge(a, key_coords, region) -> bool:
    """True when the stored object at ``key_coords`` lies partly outside ``region``."""
    for k, c, n, s in zip(key_coords, a.metadata.chunk_shape, a.shape, region):
        lo, hi = k * c, min((k + 1) * c, n)
        if lo < s.start or hi > s.stop:
            return True
    return False


def _check_disjoint_and_whole(a, writes, region) -> None:
    seen: dict[str, int] = {}
    for i, selection in enumerate(writes):
        for key, complete in _touched(a, selection).items():
            assert key not in seen, f"object {key} written by block {seen[key]} and block {i}"
            seen[key] = i
    region_ix = BasicIndexer(region, a.shape, a.metadata.chunk_shape)
    for coords, _, _, _ in region_ix.chunks():
        key = a.metadata.chunk_key(coords)
        whole = _touched(a, writes[seen[key]])[key]
        assert whole != _straddles_edge(a, coords, region), (key, whole)
    assert set(seen) == {a.metadata.chunk_key(c) for c, _, _, _ in region_ix.chunks()}


def _combo(seed: int):
    """A random array layout, region and input block shape."""
    rng = random.Random(seed)
    ndim = rng.randint(1, 3)
    shape = tuple(rng.randint(5, 60) for _ in range(ndim))
    chunks = tuple(rng.randint(1, 9) for _ in range(ndim))
    kwargs = {"chunks": chunks}
    if rng.random() < 0.4:
        kwargs["shards"] = tuple(c * rng.randint(1, 3) for c in chunks)
    region = []
    for n in shape:
        start = rng.randint(0, n // 2)
        region.append(slice(start, rng.randint(start + 1, n)))
    x_chunks = tuple(rng.randint(1, 15) for _ in range(ndim))
    return shape, kwargs, tuple(region), x_chunks


@pytest.mark.parametrize("seed", range(12))
def test_write_dask_blocks_never_share_a_stored_object(monkeypatch, seed):
    shape, kwargs, region, x_chunks = _combo(seed)
    a = zarrsync.create_array(None, shape=shape, dtype="i4", fill_value=-1, **kwargs)
    value = np.arange(math.prod(s.stop - s.start for s in region), dtype="i4").reshape(
        [s.stop - s.start for s in region])
    writes = _record_writes(monkeypatch)
    with dask.config.set(scheduler="threads"):
        zarrsync.write_dask(da.from_array(value, chunks=x_chunks), a, region=region)
    monkeypatch.undo()
    _check_disjoint_and_whole(a, writes, region)
    expected = np.full(shape, -1, dtype="i4")
    expected[region] = value
    np.testing.assert_array_equal(a[...], expected)


def test_the_disjointness_check_catches_shared_objects(monkeypatch):
    """The check above can fail: plain ``da.store`` of unaligned blocks shares objects."""
    a = zarrsync.create_array(None, shape=(12, 12), dtype="i4", chunks=(4, 4))
    writes = _record_writes(monkeypatch)
    with dask.config.set(scheduler="threads"):
        da.store(da.zeros((12, 12), dtype="i4", chunks=3), a, lock=False)
    monkeypatch.undo()
    with pytest.raises(AssertionError, match="written by block"):
        _check_disjoint_and_whole(a, writes, (slice(0, 12), slice(0, 12)))


# --- a two-process distributed cluster over loopback ----------------------------------------------

@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        # the scheduler's HTTP server (health routes; no dashboard) moves off a port another
        # process holds and warns about it
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=None)
    with cluster, distributed.Client(cluster, set_as_default=False) as c:
        c.wait_for_workers(2)
        yield c


@pytest.fixture
def on_cluster(client):
    """Every dask compute in the test runs on the cluster (write_dask computes inside)."""
    with dask.config.set(scheduler=client):
        yield client


CLUSTER_LAYOUTS = {
    "v3": {"chunks": (16, 16)},
    "v3-sharded": {"chunks": (8, 16), "shards": (32, 32)},
    "v2": {"chunks": (16, 16), "zarr_format": 2},
}


def _cluster_array(where, layout, shape):
    return zarrsync.create_array(where, shape=shape, dtype="f4", fill_value=-1, **CLUSTER_LAYOUTS[layout])


def _workers_used(stream) -> set:
    return {task["worker"] for task in stream.data}


def test_cluster_reduction(tmp_path, on_cluster):
    a = zarrsync.create_array(str(tmp_path / "a.zarr"), shape=(400, 300), dtype="f4", chunks=(50, 50),
                              shards=(100, 150))
    a[...] = _data((400, 300))
    x = zarrsync.to_dask(a)
    assert x.sum(dtype="f8").compute() == _data((400, 300)).sum(dtype="f8")
    np.testing.assert_array_equal(x.max(axis=1).compute(), _data((400, 300)).max(axis=1))


def test_cluster_writes_a_gib_from_both_workers(tmp_path, on_cluster):
    rows, cols = 1 << 18, 1 << 12  # 1 GiB of uint8 in 32 MiB chunks
    a = zarrsync.create_array(str(tmp_path / "big.zarr"), shape=(rows, cols), dtype="u1", chunks=(8192, cols))
    x = (da.arange(rows * cols, dtype="u4", chunks=32 << 20).reshape(rows, cols) % 251).astype("u1")
    start = time.perf_counter()
    with distributed.get_task_stream(on_cluster) as stream:
        zarrsync.write_dask(x, a)
    took = time.perf_counter() - start
    assert len(_workers_used(stream)) == 2
    assert a.nchunks_initialized() == 32
    assert bool((zarrsync.to_dask(a) == x).all().compute())
    np.testing.assert_array_equal(a[-3:, :10], (np.arange((rows - 3) * cols, rows * cols, dtype="u8")
                                                 .reshape(3, cols)[:, :10] % 251).astype("u1"))
    print(f"1 GiB written by 2 worker processes in {took:.1f} s")


@pytest.mark.parametrize("layout", ["v3", "v3-sharded"])
def test_cluster_region_write(tmp_path, on_cluster, layout):
    shape, region = (300, 200), (slice(37, 251), slice(13, 190))
    a = _cluster_array(str(tmp_path / "a.zarr"), layout, shape)
    a[...] = _data(shape)
    value = -_data((214, 177))
    zarrsync.write_dask(da.from_array(value, chunks=(50, 60)), a, region=region)
    expected = _data(shape)
    expected[region] = value
    np.testing.assert_array_equal(a[...], expected)


@pytest.mark.parametrize("layout", ["v3", "v3-sharded", "v2"])
def test_cluster_unaligned_write_loses_nothing(tmp_path, on_cluster, layout):
    """Input blocks of 23 x 37 over 16 x 16 chunks (32 x 32 shards): as they come, most blocks
    would share objects; rechunked, the two worker processes write them all, no update lost."""
    shape = (203, 157)
    a = _cluster_array(str(tmp_path / "a.zarr"), layout, shape)
    x = da.from_array(_data(shape), chunks=(23, 37))
    with distributed.get_task_stream(on_cluster) as stream:
        zarrsync.write_dask(x, a)
    assert len(_workers_used(stream)) == 2
    np.testing.assert_array_equal(zarrsync.open_array(str(tmp_path / "a.zarr"))[...], _data(shape))


@pytest.mark.parametrize("layout", ["v3", "v3-sharded", "v2"])
def test_cluster_da_store_of_unaligned_blocks_with_interprocess_locks(tmp_path, on_cluster, layout):
    """Plain ``da.store`` (no rechunking) of blocks that share chunks, from two worker
    processes: a LocalStore with interprocess_locks makes each partial chunk write conditional,
    so no block's update is lost."""
    from zarrsync.storage import LocalStore

    shape = (203, 157)
    a = _cluster_array(LocalStore(str(tmp_path / "a.zarr"), interprocess_locks=True), layout, shape)
    x = da.from_array(_data(shape), chunks=(23, 37))
    with distributed.get_task_stream(on_cluster) as stream:
        da.store(x, a, lock=False)
    assert len(_workers_used(stream)) == 2
    np.testing.assert_array_equal(zarrsync.open_array(str(tmp_path / "a.zarr"))[...], _data(shape))
