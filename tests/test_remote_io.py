"""How zarrsync drives stores whose calls wait on a network (``latency_bound``): many requests in
flight (``io_concurrency``) within a byte budget (``io_bytes_in_flight``), decoding held to
``max_workers`` threads, the same for the ``*_async`` twins; and read-modify-writes that keep
other processes' updates (conditional writes) or warn where a store cannot make them."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings

import numpy as np
import pytest

import zarrsync
from zarrsync.errors import StoreError, UnguardedWriteWarning
from zarrsync.storage import MemoryStore, WrapperStore
from zarrsync.storage.base import Snapshot, Store

DELAY = 0.02  # seconds a get waits, as a round trip would


class _Gauge:
    """The most calls in flight at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.most = 0

    def __enter__(self):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc):
        with self.lock:
            self.now -= 1


class SlowStore(WrapperStore):
    """A latency-bound store: every get waits ``DELAY`` seconds; the gauge counts gets in flight."""

    get_buffer = Store.get_buffer  # the default, through get: every whole read waits too

    def __init__(self, inner, gauge=None):
        super().__init__(inner)
        self.latency_bound = True
        self.gauge = _Gauge() if gauge is None else gauge

    def _get(self, key, byte_range):
        with self.gauge:
            time.sleep(DELAY)
            return super()._get(key, byte_range)


def _array(store, **kw):
    kw = {"shape": (64, 64), "chunks": (8, 8), "dtype": "i4", "fill_value": 0} | kw
    a = zarrsync.create_array(store, **kw)
    data = np.arange(a.size, dtype=a.dtype).reshape(a.shape)
    a[...] = data
    return data


@pytest.mark.parametrize("io_concurrency", [16, 64])
def test_reads_keep_io_concurrency_requests_in_flight(io_concurrency):
    inner = MemoryStore()
    data = _array(inner)  # 64 chunks
    slow = SlowStore(inner)
    with zarrsync.config.context(max_workers=2, io_concurrency=io_concurrency):
        a = zarrsync.open_array(slow, mode="r")
        np.testing.assert_array_equal(a[...], data)
    # the threads wait together: far more than max_workers requests at once, never more than asked
    assert io_concurrency // 2 <= slow.gauge.most <= io_concurrency


def test_the_byte_budget_caps_requests_in_flight():
    inner = MemoryStore()
    data = _array(inner, shape=(256, 64), chunks=(32, 64))  # 8 KiB chunks
    slow = SlowStore(inner)
    with zarrsync.config.context(max_workers=2, io_concurrency=64, io_bytes_in_flight=5 * 8192):
        np.testing.assert_array_equal(zarrsync.open_array(slow, mode="r")[...], data)
    assert slow.gauge.most == 5  # the budget holds 5 chunks of 8 KiB


def test_async_twins_get_the_same_concurrency():
    inner = MemoryStore()
    data = _array(inner)
    slow = SlowStore(inner)

    async def main():
        a = zarrsync.open_array(slow, mode="r")
        return await a.get_basic_selection_async(...)

    with zarrsync.config.context(max_workers=2, io_concurrency=32):
        got = asyncio.run(main())
    np.testing.assert_array_equal(got, data)
    assert slow.gauge.most >= 16


def test_decoding_is_held_to_max_workers_threads(monkeypatch):
    inner = MemoryStore()
    data = _array(inner, compressors="auto")
    slow = SlowStore(inner)
    a = zarrsync.open_array(slow, mode="r")
    decoding = _Gauge()
    pipeline = a._target.pipeline
    real = type(pipeline).decode

    def slow_decode(self, data, key=None):
        with decoding:
            time.sleep(0.002)
            return real(self, data, key)

    monkeypatch.setattr(type(pipeline), "decode", slow_decode)
    with zarrsync.config.context(max_workers=3, io_concurrency=32):
        np.testing.assert_array_equal(zarrsync.open_array(slow, mode="r")[...], data)
    assert slow.gauge.most > 3 and 1 <= decoding.most <= 3


@pytest.mark.thread_unsafe  # patches numpy.empty
def test_large_chunks_decode_into_buffers_lent_by_the_gate(monkeypatch):
    """Chunks from 256 KiB whose place in the output is not contiguous decode into a buffer the
    call's gate lends, copied out under the same permit: at most ``max_workers`` buffers for the
    whole call, however many requests wait, and every value lands where it belongs."""
    import zarrsync.pipeline as pipeline_module
    inner = MemoryStore()
    data = _array(inner, shape=(1024, 1024), chunks=(256, 256), dtype="f8", compressors="auto")
    slow = SlowStore(inner)
    made, real_empty = [], np.empty

    def counting_empty(shape, dtype=float, *args, **kw):
        if shape == 256 * 256 * 8 and np.dtype(dtype) == np.uint8:
            made.append(shape)
        return real_empty(shape, dtype, *args, **kw)

    monkeypatch.setattr(pipeline_module.np, "empty", counting_empty)
    with zarrsync.config.context(max_workers=2, io_concurrency=16):
        a = zarrsync.open_array(slow, mode="r")
        np.testing.assert_array_equal(a[...], data)  # 16 chunks of 512 KiB, each a strided place
        np.testing.assert_array_equal(a[100:900, 3:1000], data[100:900, 3:1000])
    assert slow.gauge.most > 2
    assert 1 <= len(made) <= 4  # two calls, each lending at most max_workers buffers


def test_one_shard_is_read_with_its_ranges_in_flight_together():
    inner = MemoryStore()
    # one shard of 8 x 8 inner chunks of 32 KiB; a row touches 8 of them, apart in the shard's
    # Morton order: 8 ranges
    data = _array(inner, shape=(512, 1024), chunks=(64, 128), shards=(512, 1024))
    gauge = _Gauge()

    class SlowSnapshot(Snapshot):
        def __init__(self, inner):
            self.inner, self.size = inner, inner.size

        def read(self, ranges):
            with gauge:
                time.sleep(DELAY)
                return self.inner.read(ranges)

    class SlowSnapshots(SlowStore):
        snapshot_read = Store.snapshot_read  # the default: snapshot(), then read()

        def snapshot(self, key):
            return SlowSnapshot(super().snapshot(key))

    slow = SlowSnapshots(inner)
    with zarrsync.config.context(max_workers=1, io_concurrency=64):
        np.testing.assert_array_equal(zarrsync.open_array(slow, mode="r")[3, :], data[3, :])
    assert gauge.most == 8


# --- read-modify-write ----------------------------------------------------------------------------

class ConditionalStore(WrapperStore):
    """A store that declares conditional writes (its set_if_version is the default, atomic within
    this process, which is all one process can race), and lets a test act once before the first
    conditional write, as another process would."""

    def __init__(self, inner, meddle=None):
        super().__init__(inner)
        self.supports_conditional_writes = True
        self.meddle = meddle
        self.attempts = 0

    def set_if_version(self, key, value, version):
        self.attempts += 1
        if self.meddle is not None:
            meddle, self.meddle = self.meddle, None
            meddle()
        return super().set_if_version(key, value, version)


@pytest.mark.parametrize("shards", [None, (16, 16)])
def test_a_partial_write_redoes_itself_when_another_writer_changed_the_chunk(shards):
    def ones(store):
        a = zarrsync.create_array(store, shape=(16, 16), chunks=(8, 8), shards=shards, dtype="i4", fill_value=0)
        a[...] = 1
        return a

    inner, elsewhere = MemoryStore(), MemoryStore()
    a = ones(inner)
    ones(elsewhere)[0, 1] = 7  # what another process's write of the same chunk leaves there

    def another_write():  # lands between this writer's read and its write back
        inner.set("c/0/0", elsewhere.get("c/0/0"))

    store = ConditionalStore(inner, another_write)
    mine = zarrsync.open_array(store, mode="r+")
    mine[0, 0] = 5  # a partial write: its first conditional write finds the chunk changed
    expected = np.ones((16, 16), "i4")
    expected[0, 0], expected[0, 1] = 5, 7
    np.testing.assert_array_equal(a[...], expected)  # both updates kept
    assert store.attempts == 2


def test_an_all_fill_partial_write_on_a_conditional_store_keeps_the_chunk_as_fill():
    inner = MemoryStore()
    a = zarrsync.create_array(inner, shape=(4,), chunks=(4,), dtype="i4", fill_value=0)
    a[1] = 3
    store = ConditionalStore(inner)
    zarrsync.open_array(store, mode="r+")[1] = 0  # the chunk becomes all fill
    np.testing.assert_array_equal(a[...], [0, 0, 0, 0])
    assert inner.get("c/0") is not None  # stored as fill, since a delete cannot be conditional
    zarrsync.open_array(store, mode="r+")[2:3] = 0  # absent stays absent when it would be all fill
    inner.delete("c/0")
    zarrsync.open_array(store, mode="r+")[2] = 0
    assert inner.get("c/0") is None


def test_a_conditional_write_gives_up_when_the_chunk_never_settles(monkeypatch):
    monkeypatch.setattr(zarrsync.pipeline, "_BACKOFF_FIRST", 0.0)
    inner = MemoryStore()
    zarrsync.create_array(inner, shape=(4,), chunks=(4,), dtype="i4", fill_value=0)[...] = 1

    class Busy(ConditionalStore):
        def set_if_version(self, key, value, version):
            self.attempts += 1
            return False  # someone else always got there first

    store = Busy(inner)
    with pytest.raises(StoreError, match="changed under 64 conditional writes"):
        zarrsync.open_array(store, mode="r+")[0] = 2
    assert store.attempts == 64
    np.testing.assert_array_equal(zarrsync.open_array(inner, mode="r")[...], [1, 1, 1, 1])


def test_partial_writes_to_a_shared_store_without_conditional_writes_warn():
    inner = MemoryStore()
    zarrsync.create_array(inner, shape=(8,), chunks=(4,), dtype="i4", fill_value=0)
    remote = SlowStore(inner)
    a = zarrsync.open_array(remote, mode="r+")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a[0:4] = 1  # whole chunks: nothing to lose
        assert not caught
        a[5] = 2
    assert [w.category for w in caught] == [UnguardedWriteWarning]
    assert "no conditional writes" in str(caught[0].message)
    np.testing.assert_array_equal(a[...], [1, 1, 1, 1, 0, 2, 0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zarrsync.open_array(inner, mode="r+")[6] = 3  # a local store: no warning
