"""The awaitable twins: every public blocking call has one with the same signature; twins give
the sync results; a twin never blocks the event loop; config overrides made around an await
apply to that call only."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time

import numpy as np
import pytest

import zarrsync
import zarrsync.api
from zarrsync import config
from zarrsync.array import BlockIndex, OrthogonalIndex, VectorizedIndex
from zarrsync.codecs import GzipCodec
from zarrsync.errors import BoundsCheckError, ContainsArrayError, NodeNotFoundError, ReadOnlyError
from zarrsync.storage import MemoryStore

DUNDER_TWINS = {
    "__getitem__": "getitem_async", "__setitem__": "setitem_async",
    "__contains__": "contains_async", "__delitem__": "delitem_async",
}


# --- parity of names and signatures ---------------------------------------------------------------
def public_sync_methods(cls) -> dict[str, object]:
    """name -> function for every public blocking method of ``cls`` (properties and ``create``
    classmethods excluded), plus the mapped dunders it defines."""
    out = {}
    for name in dir(cls):
        static = inspect.getattr_static(cls, name)
        if name in DUNDER_TWINS:
            if name in vars(cls) or any(name in vars(base) for base in cls.__mro__[1:-1]):
                out[name] = static
            continue
        if name.startswith("_") or name.endswith("_async"):
            continue
        if isinstance(static, (property, classmethod, staticmethod)):
            continue
        if callable(static):
            out[name] = static
    return out


def twin_name(name: str) -> str:
    return DUNDER_TWINS.get(name, f"{name}_async")


def check_twin(sync, twin, where: str) -> None:
    assert twin is not None, f"{where}: no twin"
    assert inspect.iscoroutinefunction(twin), f"{where}: the twin is not a coroutine function"
    assert not inspect.iscoroutinefunction(sync), f"{where}: the sync function is a coroutine function"
    assert inspect.signature(twin) == inspect.signature(sync), (
        f"{where}: {inspect.signature(twin)} != {inspect.signature(sync)}")
    assert twin is not sync


@pytest.mark.parametrize("cls", [zarrsync.Array, zarrsync.Group])
def test_every_method_has_an_async_twin(cls):
    methods = public_sync_methods(cls)
    # the list must not be trivially empty: the classes' main entry points are in it
    expected_core = {"Array": {"get_basic_selection", "set_basic_selection", "resize", "append",
                               "update_attributes", "__getitem__", "__setitem__",
                               "get_orthogonal_selection", "set_orthogonal_selection",
                               "get_coordinate_selection", "set_coordinate_selection",
                               "get_mask_selection", "set_mask_selection",
                               "get_block_selection", "set_block_selection"},
                     "Group": {"members", "tree", "create_array", "create_group", "__getitem__",
                               "__contains__", "__delitem__"}}[cls.__name__]
    assert expected_core <= set(methods)
    for name, sync in methods.items():
        check_twin(sync, getattr(cls, twin_name(name), None), f"{cls.__name__}.{name}")
    # and no twin lacks a sync original
    sync_names = {twin_name(n) for n in methods}
    for name in dir(cls):
        if name.endswith("_async") and not name.startswith("_"):
            assert name in sync_names, f"{cls.__name__}.{name} has no sync original"


@pytest.mark.parametrize("cls", [OrthogonalIndex, VectorizedIndex, BlockIndex])
def test_every_selection_helper_method_has_an_async_twin(cls):
    """``a.oindex``, ``a.vindex`` and ``a.blocks``: get, set, [] and []= each have a twin."""
    methods = public_sync_methods(cls)
    assert set(methods) == {"get", "set", "__getitem__", "__setitem__"}
    for name, sync in methods.items():
        check_twin(sync, getattr(cls, twin_name(name), None), f"{cls.__name__}.{name}")
    twins = {n for n in dir(cls) if n.endswith("_async") and not n.startswith("_")}
    assert twins == {twin_name(n) for n in methods}
    a = zarrsync.create_array(None, shape=(2,), dtype="i1")
    helper = {OrthogonalIndex: a.oindex, VectorizedIndex: a.vindex, BlockIndex: a.blocks}[cls]
    assert type(helper) is cls


def test_every_api_function_has_an_async_twin():
    api = zarrsync.api
    sync_names = [n for n in api.__all__ if not n.endswith("_async")]
    assert {"create_array", "open_array", "open", "open_group", "create_group", "array", "zeros",
            "full_like"} <= set(sync_names)
    # every public function defined in the module is listed
    defined = {n for n, f in vars(api).items() if inspect.isfunction(f) and f.__module__ == api.__name__
               and not n.startswith("_") and not n.endswith("_async")}
    assert defined <= set(sync_names), defined - set(sync_names)
    for name in sync_names:
        sync = getattr(api, name)
        assert callable(sync)
        twin = getattr(api, f"{name}_async", None)
        check_twin(sync, twin, f"api.{name}")
        assert f"{name}_async" in api.__all__
        assert getattr(zarrsync, f"{name}_async") is twin  # exported at the top level too


# --- results -----------------------------------------------------------------------------------
class ThreadRecordingStore(MemoryStore):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.threads = set()

    def get(self, key, byte_range=None):
        self.threads.add(threading.get_ident())
        return super().get(key, byte_range)


def test_array_twins_match_sync():
    x = np.arange(120, dtype="i4").reshape(10, 12)

    async def main():
        loop_thread = threading.get_ident()
        store = ThreadRecordingStore()
        a = await zarrsync.create_array_async(store, name="a", shape=x.shape, dtype="i4", chunks=(4, 5), fill_value=-1)
        await a.setitem_async((slice(None), slice(None)), x)
        await a.set_basic_selection_async((slice(1, 9, 3), slice(None, None, -2)), 0)
        want = x.copy()
        want[1:9:3, ::-2] = 0
        assert store.threads and loop_thread not in store.threads  # the work ran off the loop
        sync = zarrsync.open_array(store, path="a")
        for sel in [Ellipsis, (3, slice(None)), (slice(-1, None, -3), None, 2), (7, -1)]:
            got = await a.getitem_async(sel)
            same = sync[sel]
            np.testing.assert_array_equal(got, same)
            np.testing.assert_array_equal(got, want[sel])
            got2 = await a.get_basic_selection_async(sel)
            np.testing.assert_array_equal(got2, want[sel])
        out = np.empty((2, 12), dtype="i4")
        assert await a.get_basic_selection_async(slice(0, 2), out=out) is out
        np.testing.assert_array_equal(out, want[:2])
        assert await a.nchunks_initialized_async() == sync.nchunks_initialized()
        assert await a.nbytes_stored_async() == sync.nbytes_stored()
        assert await a.info_complete_async() == sync.info_complete()
        assert await a.update_attributes_async({"k": [1]}) is a
        assert dict(zarrsync.open_array(store, path="a").attrs) == {"k": [1]}
        assert await a.append_async(np.ones((2, 12), dtype="i4")) == (12, 12)
        await a.resize_async((5, 5))
        assert zarrsync.open_array(store, path="a").shape == (5, 5)
        np.testing.assert_array_equal(await a.getitem_async(Ellipsis), want[:5, :5])
        with pytest.raises(BoundsCheckError):
            await a.getitem_async((5, 0))
        r = await zarrsync.open_array_async(store, path="a", mode="r")
        with pytest.raises(ReadOnlyError):
            await r.setitem_async(0, 1)

    asyncio.run(main())


def test_api_twins_match_sync():
    async def main():
        store = MemoryStore()
        data = np.linspace(0, 1, 24).reshape(4, 6)
        a = await zarrsync.array_async(data, store=store, name="d", chunks=(3, 3))
        np.testing.assert_array_equal(zarrsync.open_array(store, path="d")[...], data)
        assert isinstance(await zarrsync.open_async(store, path="d", mode="r"), zarrsync.Array)
        g = await zarrsync.create_group_async(store, path="g", attributes={"x": 1})
        assert isinstance(g, zarrsync.Group) and dict(g.attrs) == {"x": 1}
        assert dict((await zarrsync.open_group_async(store, path="g", mode="r")).attrs) == {"x": 1}
        assert (await zarrsync.group_async(store, path="g")).path == "g"
        for name, args, want in [
            ("zeros", ((3,),), np.zeros(3)), ("ones", ((3,),), np.ones(3)),
            ("full", ((3,), 4.5), np.full(3, 4.5)), ("empty", ((3,),), np.zeros(3)),
            ("zeros_like", (a,), np.zeros((4, 6))), ("ones_like", (a,), np.ones((4, 6))),
            ("full_like", (a, 2.0), np.full((4, 6), 2.0)), ("empty_like", (a,), np.zeros((4, 6))),
        ]:
            made = await getattr(zarrsync, f"{name}_async")(*args)
            ref = getattr(zarrsync, name)(*args)
            assert (made.shape, made.dtype, made.chunks) == (ref.shape, ref.dtype, ref.chunks)
            np.testing.assert_array_equal(made[...], want)
            np.testing.assert_array_equal(ref[...], want)
        with pytest.raises(ContainsArrayError):
            await zarrsync.create_array_async(store, name="d", shape=(1,), dtype="i1")
        with pytest.raises(NodeNotFoundError):
            await zarrsync.open_array_async(store, path="missing")

    asyncio.run(main())


def test_group_twins_match_sync():
    async def main():
        g = zarrsync.create_group(None)
        await g.create_group_async("a/b", attributes={"q": 1})
        arr = await g.create_array_async("a/x", shape=(3,), dtype="u1")
        await arr.setitem_async(slice(None), 7)
        await g.require_group_async("c")
        await g.require_array_async("z", shape=(2,), dtype="f4")
        assert await g.contains_async("a/b") and not await g.contains_async("nope")
        assert (await g.getitem_async("a/x")).path == "a/x"
        np.testing.assert_array_equal((await g.getitem_async("a/x"))[...], [7, 7, 7])
        for name in ["keys", "array_keys", "group_keys", "tree"]:
            assert await getattr(g, f"{name}_async")() == getattr(g, name)()
        for name in ["members", "arrays", "groups"]:
            got = await getattr(g, f"{name}_async")()
            assert [(n, m.path) for n, m in got] == [(n, m.path) for n, m in getattr(g, name)()]
        deep = await g.members_async(max_depth=None)
        assert [n for n, _ in deep] == [n for n, _ in g.members(max_depth=None)]
        assert await g.tree_async(max_depth=0) == g.tree(max_depth=0)
        assert await g.update_attributes_async({"r": 2}) is g
        assert dict(g.attrs) == {"r": 2}
        await g.delitem_async("a/b")
        assert "a/b" not in g
        with pytest.raises(NodeNotFoundError):
            await g.getitem_async("a/b")

    asyncio.run(main())


# --- the loop is never blocked ----------------------------------------------------------------------
def slow_array():
    """An array whose whole read takes more than 0.2 s synchronously (gzip-compressed random
    floats decode slowly). Every chunk holds the same block: one chunk is compressed, and its
    bytes are copied to every key, so building the array is quick."""
    block = np.random.default_rng(1).standard_normal((256, 256))
    rows = 2048
    while True:
        x = np.tile(block, (rows // 256, 8))
        a = zarrsync.create_array(None, shape=x.shape, dtype="f8", chunks=(256, 256), compressors=[GzipCodec(level=1)])
        a[:256, :256] = block
        encoded = a.store.get("c/0/0")
        for i in range(rows // 256):
            for j in range(8):
                a.store.set(f"c/{i}/{j}", encoded)
        t0 = time.perf_counter()
        got = a[...]
        took = time.perf_counter() - t0
        np.testing.assert_array_equal(got, x)
        if took > 0.25 or rows >= 16384:
            assert took > 0.2, took
            return a, x, took
        rows *= 2


async def heartbeat_during(coro, interval=0.002):
    """Run ``coro`` while a task ticks every ``interval`` s; return (result, max gap, ticks)."""
    stamps = []
    stop = asyncio.Event()

    async def beat():
        while not stop.is_set():
            stamps.append(time.perf_counter())
            await asyncio.sleep(interval)

    task = asyncio.create_task(beat())
    await asyncio.sleep(0)  # let the heartbeat start
    start = time.perf_counter()
    try:
        result = await coro
    finally:
        end = time.perf_counter()
        stop.set()
        await task
    inside = [s for s in stamps if start <= s <= end]
    points = [start, *inside, end]
    gaps = [b - a for a, b in zip(points, points[1:])]
    return result, max(gaps), len(inside), end - start


async def assert_loop_ticks(make, what: str, min_ticks: int = 5, min_took: float = 0.0):
    """Await ``make()`` (a fresh coroutine each try) while the loop ticks; pass when the longest
    gap between ticks is under 0.1 s and half the call, with ``min_ticks`` ticks. A
    blocked loop shows one gap as long as the whole call; a busy machine (other processes on
    few cores) can delay a tick now and then, so the best of three tries counts (repeat only
    idempotent calls). Returns the first try's result."""
    gaps, first = [], None
    for attempt in range(3):
        result, gap, ticks, took = await heartbeat_during(make())
        if attempt == 0:
            first = result
        assert took > min_took, f"{what}: took {took * 1000:.0f} ms, too quick to tell"
        gaps.append(gap)
        if gap < min(0.1, took / 2) and ticks >= min_ticks:
            return first
    pytest.fail(f"{what}: the loop was blocked for {min(gaps) * 1000:.0f} ms at best")


def test_twins_do_not_block_the_loop():
    a, x, sync_took = slow_array()

    async def main():
        got = await assert_loop_ticks(lambda: a.getitem_async(Ellipsis), "read", min_ticks=10, min_took=0.1)
        np.testing.assert_array_equal(got, x)
        # a big write through its twin does not block either
        part = x[:512][::-1]
        await assert_loop_ticks(lambda: a.setitem_async(slice(0, 512), part), "write", min_ticks=3)
        want = x.copy()
        want[:512] = part
        np.testing.assert_array_equal(await a.get_basic_selection_async(Ellipsis), want)

    asyncio.run(main())


def selection_calls(x: np.ndarray):
    """(name, twin call, sync call) for every selection getter and setter and their helpers, on
    arrays shaped like ``x`` (2-d); the setters return None."""
    rows, cols = [x.shape[0] - 1, 0, 3, 3], slice(None, None, -2)
    pts = (np.array([[0, 5], [5, 0]]), np.array([[1, 2], [x.shape[1] - 1, 1]]))
    mask = (np.arange(x.size).reshape(x.shape) % 7) == 2
    blocks = (slice(1, None), -1)
    v_orth = np.arange(4 * len(range(x.shape[1])[cols]), dtype=x.dtype).reshape(4, -1)
    return [
        ("get_orthogonal_selection", lambda a: a.get_orthogonal_selection_async((rows, cols)),
         lambda a: a.get_orthogonal_selection((rows, cols))),
        ("oindex.get", lambda a: a.oindex.get_async((rows, cols)), lambda a: a.oindex.get((rows, cols))),
        ("oindex[]", lambda a: a.oindex.getitem_async((rows, cols)), lambda a: a.oindex[rows, cols]),
        ("getitem orthogonal", lambda a: a.getitem_async((rows, 2)), lambda a: a[rows, 2]),
        ("get_coordinate_selection", lambda a: a.get_coordinate_selection_async(pts),
         lambda a: a.get_coordinate_selection(pts)),
        ("vindex.get", lambda a: a.vindex.get_async(pts), lambda a: a.vindex.get(pts)),
        ("vindex[]", lambda a: a.vindex.getitem_async(pts), lambda a: a.vindex[pts]),
        ("getitem coordinate", lambda a: a.getitem_async(pts), lambda a: a[pts]),
        ("get_mask_selection", lambda a: a.get_mask_selection_async(mask), lambda a: a.get_mask_selection(mask)),
        ("vindex[mask]", lambda a: a.vindex.getitem_async(mask), lambda a: a.vindex[mask]),
        ("getitem mask", lambda a: a.getitem_async(mask), lambda a: a[mask]),
        ("get_block_selection", lambda a: a.get_block_selection_async(blocks), lambda a: a.get_block_selection(blocks)),
        ("blocks.get", lambda a: a.blocks.get_async(blocks), lambda a: a.blocks.get(blocks)),
        ("blocks[]", lambda a: a.blocks.getitem_async(blocks), lambda a: a.blocks[blocks]),
        ("set_orthogonal_selection", lambda a: a.set_orthogonal_selection_async((rows, cols), v_orth),
         lambda a: a.set_orthogonal_selection((rows, cols), v_orth)),
        ("oindex.set", lambda a: a.oindex.set_async((rows, cols), -v_orth),
         lambda a: a.oindex.set((rows, cols), -v_orth)),
        ("oindex[]=", lambda a: a.oindex.setitem_async((rows, cols), 3),
         lambda a: a.oindex.__setitem__((rows, cols), 3)),
        ("setitem orthogonal", lambda a: a.setitem_async((rows, 2), 8), lambda a: a.__setitem__((rows, 2), 8)),
        ("set_coordinate_selection", lambda a: a.set_coordinate_selection_async(pts, 11),
         lambda a: a.set_coordinate_selection(pts, 11)),
        ("vindex.set", lambda a: a.vindex.set_async(pts, np.arange(4).reshape(2, 2)),
         lambda a: a.vindex.set(pts, np.arange(4).reshape(2, 2))),
        ("vindex[]=", lambda a: a.vindex.setitem_async(pts, 12), lambda a: a.vindex.__setitem__(pts, 12)),
        ("set_mask_selection", lambda a: a.set_mask_selection_async(mask, 13),
         lambda a: a.set_mask_selection(mask, 13)),
        ("vindex[mask]=", lambda a: a.vindex.setitem_async(mask, 14), lambda a: a.vindex.__setitem__(mask, 14)),
        ("setitem mask", lambda a: a.setitem_async(mask, 15), lambda a: a.__setitem__(mask, 15)),
        ("set_block_selection", lambda a: a.set_block_selection_async(blocks, 16),
         lambda a: a.set_block_selection(blocks, 16)),
        ("blocks.set", lambda a: a.blocks.set_async((0, 0), 17), lambda a: a.blocks.set((0, 0), 17)),
        ("blocks[]=", lambda a: a.blocks.setitem_async((-1, 1), 18), lambda a: a.blocks.__setitem__((-1, 1), 18)),
    ]


@pytest.mark.parametrize("shards", [None, (4, 6)])
def test_selection_twins_match_sync_with_a_ticking_loop(shards):
    """Each selection twin, awaited while another task ticks on the loop, gives what the sync call
    gives on an equal array; the setters leave both arrays equal."""
    x = np.arange(10 * 12, dtype="i4").reshape(10, 12)
    make = lambda: zarrsync.create_array(None, shape=x.shape, dtype="i4", chunks=(2, 3), shards=shards)  # noqa: E731
    twin_array, sync_array = make(), make()
    twin_array[...] = x
    sync_array[...] = x
    calls = selection_calls(x)
    assert {name for name, _, _ in calls} >= {"oindex.get", "vindex.get", "blocks.get", "get_mask_selection",
                                             "oindex.set", "vindex.set", "blocks.set", "set_mask_selection"}

    async def main():
        for name, twin, sync in calls:
            coro = twin(twin_array)
            assert inspect.iscoroutine(coro), name
            got, gap, _, _ = await heartbeat_during(coro)
            want = sync(sync_array)
            if want is None:
                assert got is None, name
            else:
                assert isinstance(got, np.ndarray) and got.dtype == want.dtype, name
                np.testing.assert_array_equal(got, want, err_msg=name)
            np.testing.assert_array_equal(twin_array[...], sync_array[...], err_msg=name)
            assert gap < 0.5, (name, gap)
        assert not (twin_array[...] == x).all()  # the setters did write

    asyncio.run(main())


def test_selection_twins_do_not_block_the_loop():
    """Big orthogonal, coordinate, mask and block reads and writes through their twins: the loop
    keeps ticking (the control is test_sync_call_on_the_loop_does_block)."""
    a, x, _ = slow_array()
    rng = np.random.default_rng(3)
    n, m = x.shape
    rows = rng.permutation(np.repeat(np.arange(n), 2))[: n]  # unsorted, repeated: every row of chunks
    pts = (rng.integers(0, n, size=200_000), rng.integers(0, m, size=200_000))
    mask = rng.random(x.shape) < 0.05
    # writes touch 2 x 3 chunks each (rows 0-511, cols 0-767): gzip encoding is slow
    few, cols = [5, 400, 3, 300, 5], rng.permutation(768)

    async def main():
        reads = [
            ("oindex", lambda: a.oindex.get_async((rows, slice(None, None, -1))), x[rows, ::-1]),
            ("vindex", lambda: a.vindex.getitem_async(pts), x[pts]),
            ("mask", lambda: a.get_mask_selection_async(mask), x[mask]),
            ("blocks", lambda: a.blocks.getitem_async((slice(None), slice(1, None))), x[:, 256:]),
        ]
        for name, make, want in reads:
            got = await assert_loop_ticks(make, f"{name} read", min_took=0.05)
            np.testing.assert_array_equal(got, want, err_msg=name)
        want = x.copy()
        value = -np.arange(len(few) * 768, dtype="f8").reshape(len(few), 768)
        want[np.ix_(few, cols)] = value
        wpts = (rng.integers(0, 512, size=50_000), rng.integers(0, 768, size=50_000))
        want[wpts] = 0.5
        wmask = np.zeros(x.shape, dtype=bool)
        wmask[:512:3, :768:5] = True
        want[wmask] = 1.5
        want[:512, :768] = want[:512, :768][::-1]
        writes = [
            ("oindex", lambda: a.oindex.setitem_async((few, cols), value)),
            ("vindex", lambda: a.vindex.set_async(wpts, 0.5)),
            ("mask", lambda: a.set_mask_selection_async(wmask, 1.5)),
            ("blocks", lambda: a.blocks.setitem_async((slice(0, 2), slice(0, 3)), want[:512, :768])),
        ]
        for name, make in writes:  # each is idempotent: a repeated try changes nothing
            await assert_loop_ticks(make, f"{name} write", min_ticks=3)
        np.testing.assert_array_equal(await a.getitem_async(Ellipsis), want)

    asyncio.run(main())


@pytest.mark.thread_unsafe(reason="measures how long one blocking read stalls the loop: other threads' reads "
                                   "on the same cores shorten or stretch it")
def test_sync_call_on_the_loop_does_block():
    """The control: the same read made synchronously inside a coroutine stalls the heartbeat,
    so the measurement above can tell blocked from not blocked."""
    a, x, _ = slow_array()

    async def sync_read():
        return a[...]

    async def main():
        got, gap, _, _ = await heartbeat_during(sync_read())
        np.testing.assert_array_equal(got, x)
        assert gap > 0.15

    asyncio.run(main())


# --- config overrides around an await ---------------------------------------------------------------
def chunk_keys(store) -> set:
    return {k for k in store.list() if not k.endswith("zarr.json")}


def test_config_context_applies_to_the_awaited_call():
    async def main():
        a = zarrsync.create_array(None, shape=(8,), dtype="i4", chunks=(4,))
        with config.context(write_empty_chunks=True):
            await a.setitem_async(slice(None), 0)
        assert chunk_keys(a.store) == {"c/0", "c/1"}
        await a.setitem_async(slice(None), 0)  # outside the block: the default again
        assert chunk_keys(a.store) == set()
        with config.context(order="F"):
            f = await a.getitem_async(Ellipsis)
            z = await zarrsync.zeros_async((4, 3))
            fz = await z.getitem_async(Ellipsis)
        assert fz.flags.f_contiguous and not fz.flags.c_contiguous
        assert (await z.getitem_async(Ellipsis)).flags.c_contiguous
        np.testing.assert_array_equal(f, np.zeros(8, dtype="i4"))

    asyncio.run(main())


def test_config_context_does_not_leak_between_tasks():
    async def writer(array, empty: bool, started: asyncio.Event, other: asyncio.Event):
        with config.context(write_empty_chunks=empty):
            started.set()
            await other.wait()  # both tasks are inside their blocks at once
            for _ in range(5):
                await array.setitem_async(slice(None), 0)
                await asyncio.sleep(0)
            return config.get().write_empty_chunks

    async def main():
        keep = zarrsync.create_array(None, shape=(8,), dtype="i4", chunks=(4,))
        drop = zarrsync.create_array(None, shape=(8,), dtype="i4", chunks=(4,))
        e1, e2 = asyncio.Event(), asyncio.Event()
        r1, r2 = await asyncio.gather(writer(keep, True, e1, e2), writer(drop, False, e2, e1))
        assert (r1, r2) == (True, False)
        assert chunk_keys(keep.store) == {"c/0", "c/1"}
        assert chunk_keys(drop.store) == set()
        assert config.get().write_empty_chunks is False

    asyncio.run(main())
