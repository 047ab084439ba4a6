"""Tests of zarrsync.storage.wrapper: WrapperStore, LoggingStore and CacheStore over real stores
(MemoryStore, LocalStore): the shared StoreTests suite for each, then what each wrapper adds."""

from __future__ import annotations

import logging
import pickle
import threading
import time

import numpy as np
import pytest

import zarrsync
from zarrsync.errors import InvalidKeyError, StoreError
from zarrsync.storage import LocalStore, MemoryStore, OffsetRequest, RangeRequest, SuffixRequest
from zarrsync.storage.wrapper import CacheStore, LoggingStore, WrapperStore
from zarrsync.testing import StoreTests, run_threads

MIB = 1 << 20


# --- the shared suite over each wrapper and two inner stores ------------------------------------
class TestWrapperOverMemory(StoreTests):
    store_cls = WrapperStore
    pickle_keeps_identity = False  # the inner MemoryStore copies its data

    def make_store(self, tmp_path):
        return WrapperStore(MemoryStore())


class TestWrapperOverLocal(StoreTests):
    store_cls = WrapperStore

    def make_store(self, tmp_path):
        return WrapperStore(LocalStore(tmp_path / "store"))


class TestLoggingOverMemory(StoreTests):
    store_cls = LoggingStore
    pickle_keeps_identity = False

    def make_store(self, tmp_path):
        return LoggingStore(MemoryStore())


class TestLoggingOverLocal(StoreTests):
    store_cls = LoggingStore

    def make_store(self, tmp_path):
        return LoggingStore(LocalStore(tmp_path / "store"))


class TestCacheOverMemory(StoreTests):
    store_cls = CacheStore
    pickle_keeps_identity = False

    def make_store(self, tmp_path):
        return CacheStore(MemoryStore(), max_bytes=4096)  # the suite's large value is never cached


class TestCacheOverLocal(StoreTests):
    store_cls = CacheStore

    def make_store(self, tmp_path):
        return CacheStore(LocalStore(tmp_path / "store"), max_bytes=4096)


# --- helpers ------------------------------------------------------------------------------------
class HeldStore(MemoryStore):
    """A MemoryStore that counts reads and can hold the next read of one key: it reads the value,
    sets ``entered`` and waits for ``release`` before returning it (or raising ``error``)."""

    def __init__(self):
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._held: dict[str, BaseException | None] = {}
        self.gets = 0

    def hold(self, key: str, error: BaseException | None = None) -> None:
        self.entered.clear()
        self.release.clear()
        with self._lock:
            self._held[key] = error

    def _get(self, key, byte_range):
        value = super()._get(key, byte_range)
        with self._lock:
            self.gets += 1
            held = key in self._held
            error = self._held.pop(key, None)
        if held:
            self.entered.set()
            assert self.release.wait(10), "never released"
            if error is not None:
                raise error
        return value


def wait_until(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def in_thread(target) -> tuple[threading.Thread, list]:
    """Start ``target()`` in a thread; its result (or exception) lands in the returned list."""
    out: list = []

    def body():
        try:
            out.append(target())
        except BaseException as e:
            out.append(e)

    t = threading.Thread(target=body)
    t.start()
    return t, out


# --- WrapperStore -------------------------------------------------------------------------------
def test_wrapper_forwards_identity_and_flags(tmp_path):
    inner = LocalStore(tmp_path / "s")
    s = WrapperStore(inner)
    assert s.location("a/b") == inner.location("a/b")
    assert s.lock_id() == inner.lock_id()
    assert s.supports_byte_ranges and s.supports_get_into and not s.latency_bound
    s.set("k", b"0123456789")
    with s.snapshot("k") as snap:  # the inner store's own snapshot (an open file)
        assert type(snap) is type(inner.snapshot("k"))
        s.set("k", b"new")
        assert snap.read([RangeRequest(2, 4)]) == [b"23"]
    out = bytearray(3)
    assert s.get_into("k", memoryview(out)) == 3 and out == b"new"
    view = s.with_read_only()
    assert view.inner.read_only and not s.inner.read_only


def test_wrapper_rejects_a_non_store():
    with pytest.raises(StoreError, match="wraps a Store"):
        WrapperStore({})


def test_wrapped_array_shares_node_state_with_inner(tmp_path):
    inner = LocalStore(tmp_path / "s")
    a = zarrsync.create_array(WrapperStore(inner), shape=(4,), dtype="i4", chunks=(2,))
    b = zarrsync.open_array(inner)
    a[0] = 1
    assert b[0] == 1  # one node state (keyed on the location): b sees a's metadata and data


# --- LoggingStore -------------------------------------------------------------------------------
def run_known_sequence(s: LoggingStore) -> None:
    s.set("a", b"12345")
    assert s.get("a") == b"12345"
    assert s.get("a", RangeRequest(1, 3)) == b"23"
    assert s.get("missing") is None
    assert s.get_ranges("a", [RangeRequest(0, 1), SuffixRequest(2)]) == [b"1", b"45"]
    assert s.set_if_not_exists("a", b"zz") is False
    assert s.set_if_not_exists("b", b"zz") is True
    assert s.exists("a") and s.getsize("a") == 5
    with s.snapshot("a") as snap:
        assert [bytes(p) for p in snap.read([RangeRequest(0, 2), OffsetRequest(4)])] == [b"12", b"5"]
    s.delete("b")
    assert sorted(s.list()) == ["a"]
    assert list(s.list_dir("")) == ["a"]
    s.delete_prefix("a")
    assert s.is_empty()


KNOWN_COUNTS = {"set": 1, "get": 3, "get_ranges": 1, "set_if_not_exists": 2, "exists": 1, "getsize": 1,
                "snapshot": 1, "snapshot.read": 1, "delete": 1, "list_prefix": 1, "list_dir": 1,
                "delete_prefix": 1, "is_empty": 1}


def test_logging_counts_and_bytes():
    s = LoggingStore(MemoryStore())
    run_known_sequence(s)
    assert s.counts == KNOWN_COUNTS
    assert s.bytes_read == 5 + 2 + 0 + 3 + 3
    assert s.bytes_written == 5 + 2
    s.counts["get"] = 99  # a copy
    assert s.counts["get"] == 3
    s.reset()
    assert (s.counts, s.bytes_read, s.bytes_written) == ({}, 0, 0)


@pytest.mark.thread_unsafe(reason="caplog collects the records of every thread")
def test_logging_lines(caplog):
    caplog.set_level(logging.DEBUG, logger="zarrsync.storage")
    s = LoggingStore(MemoryStore())
    run_known_sequence(s)
    records = [r for r in caplog.records if r.name == "zarrsync.storage"]
    assert len(records) == sum(KNOWN_COUNTS.values())  # one line per call
    assert all(r.levelno == logging.DEBUG for r in records)
    lines = [r.getMessage() for r in records]
    assert lines[:4] == ["set 'a': 5 bytes", "get 'a': 5 bytes",
                         "get 'a' RangeRequest(start=1, end=3): 2 bytes", "get 'missing': 0 bytes"]
    assert "get_ranges 'a' 2 ranges: 3 bytes" in lines
    assert "set_if_not_exists 'b' stored: 2 bytes" in lines
    assert "snapshot.read 'a' 2 ranges: 3 bytes" in lines


@pytest.mark.thread_unsafe(reason="caplog collects the records of every thread")
def test_logging_level(caplog):
    caplog.set_level(logging.INFO, logger="zarrsync.storage")
    LoggingStore(MemoryStore()).set("k", b"v")  # DEBUG: below the threshold
    quiet = LoggingStore(MemoryStore(), level=logging.INFO)
    quiet.set("k", b"vv")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.INFO, "set 'k': 2 bytes")]
    with pytest.raises(StoreError, match="level"):
        LoggingStore(MemoryStore(), level="DEBUG")


def test_logging_counts_under_threads():
    s = LoggingStore(MemoryStore())
    s.set("k", b"abcd")
    view = s.with_read_only()  # shares the counters

    def work(i: int) -> None:
        for _ in range(50):
            assert (s if i % 2 else view).get("k") == b"abcd"

    run_threads(16, work)
    assert s.counts == {"set": 1, "get": 800}
    assert view.bytes_read == 3200


def test_logging_pickle_starts_from_zero():
    s = LoggingStore(MemoryStore(), level=logging.INFO)
    s.set("k", b"v")
    copy = pickle.loads(pickle.dumps(s))
    assert copy.level == logging.INFO and copy.counts == {} and copy.get("k") == b"v"


# --- CacheStore ---------------------------------------------------------------------------------
def test_cache_hits_and_misses():
    inner = LoggingStore(MemoryStore())
    s = CacheStore(inner, max_bytes=MIB)
    s.set("k", b"0123456789")
    assert s.get("k", RangeRequest(0, 2)) == b"01"  # a range before the whole value: cached as a part
    assert s.cached_bytes == 2
    assert s.get("k") == b"0123456789"
    assert s.get("k") == b"0123456789"
    assert s.get("k", SuffixRequest(3)) == b"789"
    assert s.get_ranges("k", [RangeRequest(1, 2), OffsetRequest(9)]) == [b"1", b"9"]
    assert s.exists("k") and s.getsize("k") == 10
    out = bytearray(10)
    assert s.get_into("k", memoryview(out)) == 10 and out == b"0123456789"
    assert (s.hits, s.misses) == (6, 2)
    assert inner.counts["get"] == 2  # the range, then one whole value
    assert s.get("missing") is None and s.get("missing") is None  # absence is not cached
    assert inner.counts["get"] == 4 and s.misses == 4
    assert s.cached_bytes == 10  # the whole value replaced the part it answers


def test_cache_lru_order_and_bound():
    inner = LoggingStore(MemoryStore())
    s = CacheStore(inner, max_bytes=10)
    for key in "abc":
        s.set(key, key.encode() * 4)
    s.set("big", b"x" * 11)
    s.get("a"), s.get("b")
    assert s.cached_bytes == 8
    s.get("a")  # a is now the most recently used: b goes first
    s.get("c")
    assert s.cached_bytes == 8
    inner.reset()
    assert s.get("a") == b"aaaa" and s.get("c") == b"cccc"
    assert inner.counts == {}  # both still cached
    assert s.get("b") == b"bbbb"  # evicted: read again, evicting a (least recently used)
    assert inner.counts == {"get": 1}
    s.get("c")
    s.get("a")
    assert inner.counts == {"get": 2}
    assert s.get("big") == b"x" * 11 and s.get("big") == b"x" * 11  # larger than max_bytes: never cached
    assert inner.counts == {"get": 4}
    assert s.cached_bytes <= 10
    none = CacheStore(inner, max_bytes=0)
    none.get("a"), none.get("a")
    assert none.cached_bytes == 0 and none.hits == 0


def test_cache_bound_under_threads():
    s = CacheStore(MemoryStore(), max_bytes=1000)
    for i in range(40):
        s.set(f"k{i}", bytes([i]) * (50 + i))

    def work(t: int) -> None:
        for n in range(200):
            i = (t * 7 + n) % 40
            assert s.get(f"k{i}") == bytes([i]) * (50 + i)
            assert s.cached_bytes <= 1000

    run_threads(8, work)
    assert 0 < s.cached_bytes <= 1000


@pytest.mark.parametrize("max_bytes", [-1, 1.5, "10", None])
def test_cache_rejects_bad_max_bytes(max_bytes):
    with pytest.raises(StoreError, match="max_bytes"):
        CacheStore(MemoryStore(), max_bytes=max_bytes)


def test_concurrent_misses_make_one_inner_get():
    inner = HeldStore()
    inner.set("k", b"value" * 100)
    s = CacheStore(inner, max_bytes=MIB)
    inner.hold("k")
    results = []
    threads = [in_thread(lambda: s.get("k")) for _ in range(16)]
    assert inner.entered.wait(10)
    wait_until(lambda: s.misses == 16)  # every reader has joined the one read in flight
    inner.release.set()
    for t, out in threads:
        t.join()
        results += out
    assert results == [b"value" * 100] * 16
    assert inner.gets == 1
    assert s.get("k") == b"value" * 100 and inner.gets == 1 and s.hits == 1


def test_invalid_keys_through_cache():
    s = CacheStore(MemoryStore(), max_bytes=MIB)
    with pytest.raises(InvalidKeyError):
        s.set_if_not_exists(3, b"x")
    s.set("k", b"v")
    s.get("k")
    with pytest.raises(InvalidKeyError):
        s.delete_prefix("../")
    assert s.get("k") == b"v" and s.hits == 1


def test_read_after_write_through_cache():
    s = CacheStore(MemoryStore(), max_bytes=MIB)
    s.set("a/k", b"old")
    assert s.get("a/k") == b"old"
    s.set("a/k", b"new")
    assert s.get("a/k") == b"new" and s.get("a/k", RangeRequest(0, 1)) == b"n"
    s.delete("a/k")
    assert s.get("a/k") is None and not s.exists("a/k")
    assert s.set_if_not_exists("a/k", b"again") is True
    assert s.get("a/k") == b"again"
    s.set_many([("a/j", b"j")])
    assert s.get("a/j") == b"j"
    s.delete_prefix("a/")
    assert s.get("a/k") is None and s.get("a/j") is None and s.cached_bytes == 0
    s.set("b", b"B")
    view = s.with_read_only()  # shares the cache: writes through s reach its reads
    assert view.get("b") == b"B"
    s.set("b", b"B2")
    assert view.get("b") == b"B2"


@pytest.mark.parametrize("write, expected", [
    (lambda s: s.set("k", b"new"), b"new"),
    (lambda s: s.delete("k"), None),
    (lambda s: s.delete_prefix(""), None),
    (lambda s: (s.delete("k"), s.set_if_not_exists("k", b"fresh")), b"fresh"),
])
def test_write_racing_a_miss_is_never_cached_stale(write, expected):
    inner = HeldStore()
    inner.set("k", b"old")
    s = CacheStore(inner, max_bytes=MIB)
    inner.hold("k")
    slow, out = in_thread(lambda: s.get("k"))
    assert inner.entered.wait(10)  # the slow read has the old value in hand
    write(s)
    assert s.get("k") == expected  # a read after the write does not join the stale read
    inner.release.set()
    slow.join()
    assert out == [b"old"]  # began before the write: may return the old value ...
    assert s.get("k") == expected  # ... but never caches it
    assert s.get("k") == expected


def test_cache_pickles_without_its_contents(tmp_path):
    s = CacheStore(LocalStore(tmp_path / "s"), max_bytes=123)
    s.set("k", b"v")
    s.get("k")
    copy = pickle.loads(pickle.dumps(s))
    assert copy == s and copy.max_bytes == 123 and copy.cached_bytes == 0 and copy.get("k") == b"v"
    assert "max_bytes=123" in repr(copy)


def test_array_round_trip_through_cache(tmp_path):
    inner = LoggingStore(LocalStore(tmp_path / "data"))
    store = CacheStore(inner, max_bytes=MIB)
    x = np.arange(24 * 30, dtype="int32").reshape(24, 30)
    a = zarrsync.create_array(store, shape=x.shape, dtype="int32", chunks=(4, 5), shards=(8, 10), fill_value=-1)
    a[...] = x
    np.testing.assert_array_equal(a[...], x)
    inner.reset()
    np.testing.assert_array_equal(a[3:11, 7:13], x[3:11, 7:13])  # a sharded partial read
    snapshots = inner.counts.get("snapshot", 0) + inner.counts.get("snapshot_read", 0)
    assert snapshots > 0  # shards are read through snapshots, not the cache
    a[1, 2] = 1000  # a partial write into a shard that the reads above went through
    x[1, 2] = 1000
    np.testing.assert_array_equal(a[0:4, 0:5], x[0:4, 0:5])
    a.resize((10, 12))
    assert a.shape == (10, 12)
    assert store.get("zarr.json") == inner.get("zarr.json")
    b = zarrsync.open_array(CacheStore(LocalStore(tmp_path / "data"), max_bytes=MIB))
    assert b.shape == (10, 12)
    np.testing.assert_array_equal(b[...], x[:10, :12])
    a.resize((24, 30))  # growing back shows fill, never the data cut off
    grown = np.full((24, 30), -1, dtype="int32")
    grown[:10, :12] = x[:10, :12]
    np.testing.assert_array_equal(a[...], grown)
    np.testing.assert_array_equal(zarrsync.open_array(LocalStore(tmp_path / "data"))[...], grown)


def test_array_of_whole_chunks_through_cache():
    inner = LoggingStore(MemoryStore())
    store = CacheStore(inner, max_bytes=MIB)
    a = zarrsync.create_array(store, shape=(20,), dtype="float64", chunks=(5,), compressors=None)
    a[...] = np.arange(20.0)
    inner.reset()
    np.testing.assert_array_equal(a[...], np.arange(20.0))
    np.testing.assert_array_equal(a[...], np.arange(20.0))
    assert inner.counts.get("get", 0) + inner.counts.get("get_into", 0) == 4  # each chunk read once
    a[0:5] = 7.0
    np.testing.assert_array_equal(a[0:5], np.full(5, 7.0))


# --- CacheStore: byte ranges --------------------------------------------------------------------
DIGITS = b"0123456789"
LETTERS = b"ABCDEFGHIJ"


def test_repeated_range_read_makes_one_inner_read():
    inner = LoggingStore(MemoryStore())
    s = CacheStore(inner, max_bytes=MIB)
    s.set("k", DIGITS)
    inner.reset()
    assert s.get("k", RangeRequest(2, 5)) == b"234"
    assert s.get("k", RangeRequest(2, 5)) == b"234"
    assert inner.counts == {"get": 1} and (s.hits, s.misses) == (1, 1) and s.cached_bytes == 3
    # each request is its own entry, even where two select the same bytes
    assert s.get("k", RangeRequest(3, 6)) == b"345"
    assert s.get("k", OffsetRequest(7)) == b"789"
    assert s.get("k", RangeRequest(7, 10)) == b"789"
    assert s.get("k", SuffixRequest(3)) == b"789"
    assert inner.counts == {"get": 5} and s.cached_bytes == 3 * 5
    for request, expected in [(RangeRequest(3, 6), b"345"), (OffsetRequest(7), b"789"),
                              (RangeRequest(7, 10), b"789"), (SuffixRequest(3), b"789")]:
        assert s.get("k", request) == expected
    assert inner.counts == {"get": 5} and (s.hits, s.misses) == (5, 5)


def test_concurrent_range_misses_make_one_inner_read():
    inner = HeldStore()
    value = bytes(range(256)) * 4
    inner.set("k", value)
    s = CacheStore(inner, max_bytes=MIB)
    inner.hold("k")

    def release() -> None:
        assert inner.entered.wait(10)
        wait_until(lambda: s.misses == 16)  # every reader has joined the one read in flight
        inner.release.set()

    releaser, released = in_thread(release)
    results: list = [None] * 16

    def work(i: int) -> None:
        results[i] = s.get("k", RangeRequest(100, 300))

    run_threads(16, work)
    releaser.join()
    assert released == [None]
    assert results == [value[100:300]] * 16
    assert inner.gets == 1
    assert s.get("k", RangeRequest(100, 300)) == value[100:300] and inner.gets == 1 and s.hits == 1
    assert s.get("k", RangeRequest(100, 301)) == value[100:301] and inner.gets == 2  # another entry


@pytest.mark.parametrize("request_", [None, RangeRequest(1, 4)], ids=["whole", "range"])
def test_failed_read_reaches_every_waiter_and_caches_nothing(request_):
    inner = HeldStore()
    inner.set("k", DIGITS)
    s = CacheStore(inner, max_bytes=MIB)
    inner.hold("k", error=StoreError("injected failure of k"))
    threads = [in_thread(lambda: s.get("k", request_)) for _ in range(16)]
    assert inner.entered.wait(10)
    wait_until(lambda: s.misses == 16)
    inner.release.set()
    results = []
    for t, out in threads:
        t.join()
        results += out
    assert len(results) == 16
    assert all(r is results[0] for r in results)  # the one exception object
    assert isinstance(results[0], StoreError) and "injected failure of k" in str(results[0])
    assert inner.gets == 1 and s.cached_bytes == 0
    expected = DIGITS if request_ is None else DIGITS[1:4]
    assert s.get("k", request_) == expected and inner.gets == 2  # nothing was cached: read again


def test_get_ranges_caches_its_parts():
    inner = LoggingStore(MemoryStore())
    s = CacheStore(inner, max_bytes=MIB)
    s.set("k", DIGITS)
    inner.reset()
    ranges = [RangeRequest(0, 2), SuffixRequest(3), RangeRequest(0, 2)]
    assert s.get_ranges("k", ranges) == [b"01", b"789", b"01"]
    assert inner.counts == {"get_ranges": 1} and s.cached_bytes == 5  # a repeated range: one entry
    assert s.get_ranges("k", ranges) == [b"01", b"789", b"01"]
    assert s.get_ranges("k", [SuffixRequest(3)]) == [b"789"]
    assert s.get("k", RangeRequest(0, 2)) == b"01"  # a part cached by get_ranges answers get
    assert inner.counts == {"get_ranges": 1} and (s.hits, s.misses) == (3, 1)
    # one range not cached: one inner call for all of them, the inner store's batching kept
    assert s.get_ranges("k", [RangeRequest(0, 2), RangeRequest(4, 6)]) == [b"01", b"45"]
    assert inner.counts == {"get_ranges": 2} and s.cached_bytes == 7
    assert s.get_ranges("k", []) == [] and inner.counts == {"get_ranges": 3}  # no range: asks the inner store
    assert s.get("k") == DIGITS and s.cached_bytes == 10  # the whole value replaces its parts
    inner.reset()
    assert s.get_ranges("k", [RangeRequest(8, 20), OffsetRequest(5)]) == [b"89", b"56789"]
    assert inner.counts == {}


def test_missing_key_and_empty_parts_are_not_cached():
    inner = LoggingStore(MemoryStore())
    s = CacheStore(inner, max_bytes=MIB)
    s.set("k", DIGITS)
    inner.reset()
    for _ in range(2):
        assert s.get("missing", RangeRequest(0, 2)) is None
        assert s.get_ranges("missing", [RangeRequest(0, 2)]) is None
        assert s.get("k", RangeRequest(50, 60)) == b""  # past the end: costs no bytes
        assert s.get_ranges("k", [SuffixRequest(0)]) == [b""]
    assert inner.counts == {"get": 4, "get_ranges": 4}
    assert s.cached_bytes == 0 and s.hits == 0


@pytest.mark.parametrize("request_", [(0, 2), [0, 2], slice(0, 2), "0-2"], ids=repr)
def test_unknown_byte_request_through_cache(request_):
    s = CacheStore(MemoryStore(), max_bytes=MIB)
    s.set("k", DIGITS)
    with pytest.raises(StoreError, match="unknown byte request"):
        s.get("k", request_)
    with pytest.raises(StoreError, match="unknown byte request"):
        s.get_ranges("k", [RangeRequest(0, 1), request_])
    assert s.cached_bytes == 0


def _delete_behind_the_cache_then_create(s):
    s.inner.delete("a/k")  # the cached parts of a/k stay until set_if_not_exists drops them
    assert s.set_if_not_exists("a/k", LETTERS) is True


def _set_if_version(s):
    assert s.set_if_version("a/k", LETTERS, s.get_versioned("a/k")[1]) is True


@pytest.mark.parametrize("write, new", [
    (lambda s: s.set("a/k", LETTERS), LETTERS),
    (lambda s: s.delete("a/k"), None),
    (lambda s: s.delete_prefix("a/"), None),
    (_set_if_version, LETTERS),
    (_delete_behind_the_cache_then_create, LETTERS),
], ids=["set", "delete", "delete_prefix", "set_if_version", "set_if_not_exists"])
def test_write_drops_the_ranges_of_its_key_only(write, new):
    inner = LoggingStore(MemoryStore())
    s = CacheStore(inner, max_bytes=MIB)
    s.set("a/k", DIGITS)
    s.set("b/k", DIGITS)
    ranges = [RangeRequest(0, 1), SuffixRequest(2)]
    for key in ("a/k", "b/k"):
        assert s.get(key, RangeRequest(2, 5)) == b"234"
        assert s.get_ranges(key, ranges) == [b"0", b"89"]
    assert s.cached_bytes == 2 * 6
    write(s)
    assert s.cached_bytes == 6  # b/k's parts
    inner.reset()
    assert s.get("a/k", RangeRequest(2, 5)) == (None if new is None else new[2:5])
    assert s.get_ranges("a/k", ranges) == (None if new is None else [new[:1], new[-2:]])
    assert inner.counts == {"get": 1, "get_ranges": 1}  # read again: the old parts were dropped
    assert s.get("b/k", RangeRequest(2, 5)) == b"234"
    assert s.get_ranges("b/k", ranges) == [b"0", b"89"]
    assert inner.counts == {"get": 1, "get_ranges": 1}  # still cached: other keys keep their parts


RANGED_READS = {
    "get": (lambda s: s.get("k", RangeRequest(0, 3)), lambda v: None if v is None else v[:3]),
    "get_ranges": (lambda s: s.get_ranges("k", [RangeRequest(0, 3), SuffixRequest(2)]),
                   lambda v: None if v is None else [v[:3], v[-2:]]),
}


@pytest.mark.parametrize("read", sorted(RANGED_READS))
@pytest.mark.parametrize("write, expected", [
    (lambda s: s.set("k", LETTERS), LETTERS),
    (lambda s: s.delete("k"), None),
    (lambda s: s.delete_prefix(""), None),
    (lambda s: s.set_if_version("k", LETTERS, DIGITS), LETTERS),  # the default version: the bytes
    (lambda s: (s.delete("k"), s.set_if_not_exists("k", LETTERS)), LETTERS),
], ids=["set", "delete", "delete_prefix", "set_if_version", "set_if_not_exists"])
def test_write_racing_a_range_read_is_never_cached_stale(read, write, expected):
    call, answer = RANGED_READS[read]
    inner = HeldStore()
    inner.set("k", DIGITS)
    s = CacheStore(inner, max_bytes=MIB)
    inner.hold("k")
    slow, out = in_thread(lambda: call(s))
    assert inner.entered.wait(10)  # the slow read has old bytes in hand
    write(s)
    assert call(s) == answer(expected)  # a read after the write does not join the stale read
    inner.release.set()
    slow.join()
    assert len(out) == 1 and not isinstance(out[0], BaseException)
    if read == "get":
        assert out == [b"012"]  # began before the write: may return the old bytes ...
    assert call(s) == answer(expected)  # ... but never caches them
    assert call(s) == answer(expected)
    assert s.get("k") == expected


def test_lru_counts_range_bytes():
    inner = LoggingStore(MemoryStore())
    s = CacheStore(inner, max_bytes=10)
    s.set("k", bytes(range(100)))  # larger than max_bytes: only parts of it can be cached
    s.get("k", RangeRequest(0, 4))
    s.get("k", RangeRequest(4, 8))
    assert s.cached_bytes == 8
    s.get("k", RangeRequest(0, 4))  # now the most recently used: 4..8 goes first
    s.get_ranges("k", [RangeRequest(8, 12)])
    assert s.cached_bytes == 8
    inner.reset()
    assert s.get("k", RangeRequest(0, 4)) == bytes(range(4))
    assert s.get_ranges("k", [RangeRequest(8, 12)]) == [bytes(range(8, 12))]
    assert inner.counts == {}
    assert s.get("k", RangeRequest(4, 8)) == bytes(range(4, 8))  # evicted: read again
    assert inner.counts == {"get": 1}
    assert s.get("k", RangeRequest(0, 11)) == bytes(range(11))  # larger than max_bytes: never cached
    assert s.get("k", RangeRequest(0, 11)) == bytes(range(11))
    assert inner.counts == {"get": 3} and s.cached_bytes <= 10
    s.set("w", b"wwwwww")
    s.get("w")  # a whole value evicts parts of other keys as any entry does
    assert s.cached_bytes <= 10 and s.get("w") == b"wwwwww" and inner.counts["get"] == 4


def test_range_bound_and_bookkeeping_under_threads():
    s = CacheStore(MemoryStore(), max_bytes=64)
    values = {f"k{i}": bytes([i]) * 40 for i in range(6)}
    for key, value in values.items():
        s.set(key, value)

    def work(t: int) -> None:
        for n in range(300):
            key = f"k{(t + n) % 6}"
            start = (t * 3 + n) % 30
            request = RangeRequest(start, start + 1 + n % 9)
            if n % 5 == 0:
                got = s.get_ranges(key, [request, SuffixRequest(3)])
                assert got == [values[key][start:request.end], values[key][-3:]]
            else:
                assert s.get(key, request) == values[key][start:request.end]
            if n % 37 == 0:
                assert s.get(key) == values[key]  # a whole value: drops the key's parts
            assert s.cached_bytes <= 64

    run_threads(8, work)
    assert 0 < s.cached_bytes <= 64
    s.delete_prefix("")  # drops every entry left, parts and values: the byte count agrees
    assert s.cached_bytes == 0
