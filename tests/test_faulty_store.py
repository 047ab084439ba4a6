"""zarrsync.testing.FaultyStore: with no fault configured it is a faithful store (the shared
suite); each fault does what its docstring promises."""

from __future__ import annotations

import errno
import pickle

import pytest

from zarrsync.errors import ReadOnlyError, StoreError
from zarrsync.storage import LocalStore, MemoryStore, RangeRequest
from zarrsync.testing import FaultyStore, StoreTests, run_threads


class TestFaultyMemoryStore(StoreTests):
    store_cls = FaultyStore
    pickle_keeps_identity = False  # the inner MemoryStore's pickle copies its dict

    def make_store(self, tmp_path):
        return FaultyStore(MemoryStore())


class TestFaultyLocalStore(StoreTests):
    store_cls = FaultyStore

    def make_store(self, tmp_path):
        return FaultyStore(LocalStore(tmp_path / "store"))


def test_fail_nth_operation_per_kind():
    inner = MemoryStore()
    store = FaultyStore(inner, fail_get_at=2, fail_set_at={2, 3}, fail_delete_at=1)
    store.set("a", b"1")
    for _ in range(2):
        with pytest.raises(OSError) as info:
            store.set("b", b"2")
        assert info.value.errno == errno.EIO and "set b" in str(info.value)
    store.set("c", b"3")  # the 4th set succeeds
    assert store.get("a") == b"1"
    with pytest.raises(OSError):
        store.get("a")  # the 2nd read
    assert store.get("c") == b"3"
    with pytest.raises(OSError):
        store.delete("a")
    store.delete("c")
    assert (store.gets, store.sets, store.deletes) == (3, 4, 2)
    assert inner.get("a") == b"1" and inner.get("b") is None and inner.get("c") is None
    store.reset()
    assert (store.gets, store.sets, store.deletes) == (0, 0, 0)
    assert store.get("a") == b"1"
    with pytest.raises(OSError):
        store.get("a")  # counting starts over


def test_fail_keys_and_custom_error():
    store = FaultyStore(MemoryStore(), fail_keys={"bad"}, error=OSError(errno.ENOSPC, "full"))
    store.set("good", b"1")
    for call in (lambda: store.set("bad", b"x"), lambda: store.get("bad"),
                 lambda: store.get_ranges("bad", [RangeRequest(0, 1)]), lambda: store.snapshot("bad"),
                 lambda: store.exists("bad"), lambda: store.getsize("bad"), lambda: store.delete("bad"),
                 lambda: store.set_if_not_exists("bad", b"x"), lambda: store.get_into("bad", memoryview(bytearray(1)))):
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.ENOSPC
    store.fail_keys = lambda key: key.startswith("c/")
    store.error = lambda op, key: StoreError(f"{op} of {key} refused")
    with pytest.raises(StoreError, match="set of c/0 refused"):
        store.set("c/0", b"x")
    assert store.get("good") == b"1"
    assert sorted(store.list()) == ["good"]


def test_truncate_and_delay():
    inner = MemoryStore()
    store = FaultyStore(inner, truncate_to=3, delay=0.001)
    store.set("k", b"0123456789")
    assert store.set_if_not_exists("j", memoryview(b"abcdef")[::2]) is True
    assert inner.get("k") == b"012" and inner.get("j") == b"ace"


def test_forwards_identity_and_read_only():
    inner = LocalStore("/tmp/zarrsync-faulty-identity", read_only=True)
    store = FaultyStore(inner)
    assert store.lock_id() == inner.lock_id()
    assert store.location("a/b") == inner.location("a/b")
    assert store.read_only
    with pytest.raises(ReadOnlyError):
        store.set("k", b"v")
    copy = pickle.loads(pickle.dumps(store))
    assert copy.inner == inner and copy.gets == 0


def test_counters_are_thread_safe():
    store = FaultyStore(MemoryStore())
    run_threads(8, lambda t: [store.set(f"t{t}/{i}", b"x") or store.get(f"t{t}/{i}") for i in range(200)])
    assert (store.gets, store.sets) == (1600, 1600)
