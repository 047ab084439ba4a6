"""The shared :class:`StoreTests` suite: the whole :class:`~zarrsync.storage.Store` contract."""

from __future__ import annotations

import array
import pickle
import sys

import pytest

from ..errors import InvalidKeyError, ReadOnlyError, StoreError, VersionChangedError
from ..storage.base import OffsetRequest, RangeRequest, Store, SuffixRequest
from ..storage.faulty import FaultyStore
from .helpers import (_VALUE, BYTE_REQUESTS, HUGE_REQUESTS, INVALID_KEYS, INVALID_PREFIXES, TREE, expected_slice,
                      run_threads)

__all__ = ["StoreTests", "FaultyStore"]


class StoreTests:
    """The contract of :class:`~zarrsync.storage.Store`, as a pytest base class.

    Subclasses set ``store_cls`` and implement :meth:`make_store`. Class attributes adapt the
    suite to documented differences between stores:

    ``pickle_keeps_identity``
        True if an unpickled store is equal to the original (it reaches the same data, like a
        directory); False if pickling copies the data (``MemoryStore``).
    ``delete_error``
        The exception a store with ``supports_deletes = False`` raises when asked to delete an
        existing key.
    ``threads``
        How many threads the concurrency tests start.
    ``snapshot_keeps_old_version``
        True if a snapshot goes on reading the version it was taken of after the value is
        replaced or deleted (an open file, an immutable object); False if its next read raises
        :class:`~zarrsync.errors.VersionChangedError` instead (object stores that check an
        ETag), so the reader starts over. Either way it never returns bytes of another version.
    """

    store_cls: type[Store]
    pickle_keeps_identity: bool = True
    delete_error: type[BaseException] = StoreError
    threads: int = 16
    snapshot_keeps_old_version: bool = True

    def make_store(self, tmp_path) -> Store:
        """Return a fresh, empty, writable store (``tmp_path`` is pytest's per-test directory)."""
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path):
        """A fresh store, closed after the test."""
        s = self.make_store(tmp_path)
        yield s
        s.close()

    @staticmethod
    def fill(store: Store, items: dict[str, bytes] = TREE) -> dict[str, bytes]:
        """Write ``items`` into ``store``; return them."""
        for key, value in items.items():
            store.set(key, value)
        return dict(items)

    @staticmethod
    def contents(store: Store) -> dict[str, bytes | None]:
        """Every key and value in the store (None for a key deleted while listing)."""
        return {key: store.get(key) for key in store.list()}

    # --- the class itself -----------------------------------------------------------------------
    def test_fresh_store(self, store):
        assert isinstance(store, self.store_cls)
        assert isinstance(store, Store)
        assert store.read_only is False
        assert store.is_empty()
        assert list(store.list()) == []
        for flag in ("supports_byte_ranges", "supports_deletes", "supports_listing"):
            assert isinstance(getattr(self.store_cls, flag), bool), flag

    def test_repr(self, store):
        assert type(store).__name__ in repr(store)

    # --- get / set ------------------------------------------------------------------------------
    def test_get_missing(self, store):
        assert store.get("missing") is None
        assert store.get("a/b/missing") is None
        assert store.get("missing", RangeRequest(0, 5)) is None
        assert store.get("missing", OffsetRequest(1)) is None
        assert store.get("missing", SuffixRequest(3)) is None
        assert store.get_ranges("missing", [RangeRequest(0, 1)]) is None
        assert store.exists("missing") is False
        assert store.getsize("missing") is None

    @pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "memoryview-slice",
                                      "memoryview-strided", "memoryview-int32", "empty", "large"])
    def test_set_get_roundtrip(self, store, kind):
        data = bytes(range(256)) * 3
        value, expected = {
            "bytes": (data, data),
            "bytearray": (bytearray(data), data),
            "memoryview": (memoryview(data), data),
            "memoryview-slice": (memoryview(data)[7:99], data[7:99]),
            "memoryview-strided": (memoryview(data)[::3], data[::3]),
            "memoryview-int32": (memoryview(array.array("i", [1, -2, 3])), array.array("i", [1, -2, 3]).tobytes()),
            "empty": (b"", b""),
            "large": (data * 2000, data * 2000),
        }[kind]
        store.set("group/array/c/0/0", value)
        got = store.get("group/array/c/0/0")
        assert type(got) is bytes
        assert got == expected
        assert store.exists("group/array/c/0/0")
        assert store.getsize("group/array/c/0/0") == len(expected)

    def test_set_copies_the_value(self, store):
        buf = bytearray(b"before")
        store.set("k", buf)
        buf[:] = b"AFTER!"
        assert store.get("k") == b"before"

    def test_overwrite(self, store):
        store.set("k", b"first value")
        store.set("k", b"2nd")
        assert store.get("k") == b"2nd"
        assert store.getsize("k") == 3
        assert list(store.list()) == ["k"]

    def test_set_many(self, store):
        store.set_many(TREE.items())
        assert self.contents(store) == TREE

    @pytest.mark.parametrize("value", ["text", 3, None, [1, 2], 1.5, object()], ids=repr)
    def test_set_rejects_non_bytes(self, store, value):
        with pytest.raises(StoreError):
            store.set("k", value)
        with pytest.raises(StoreError):
            store.set_if_not_exists("k", value)
        assert store.get("k") is None
        assert store.is_empty()

    # --- byte requests --------------------------------------------------------------------------
    @pytest.mark.parametrize("request_", BYTE_REQUESTS, ids=repr)
    def test_byte_request(self, store, request_):
        store.set("x/y", _VALUE)
        got = store.get("x/y", request_)
        assert type(got) is bytes
        assert got == expected_slice(_VALUE, request_)

    @pytest.mark.parametrize("request_", [RangeRequest(0, 0), RangeRequest(0, 5), RangeRequest(3, 9),
                                          OffsetRequest(0), OffsetRequest(2), SuffixRequest(0),
                                          SuffixRequest(4)], ids=repr)
    def test_byte_request_on_empty_value(self, store, request_):
        store.set("empty", b"")
        assert store.get("empty", request_) == b""

    def test_byte_request_expected_values(self, store):
        # spelled out once, so the oracle above cannot hide a shared mistake
        store.set("k", b"0123456789")
        assert store.get("k", RangeRequest(2, 5)) == b"234"
        assert store.get("k", RangeRequest(8, 100)) == b"89"
        assert store.get("k", RangeRequest(50, 100)) == b""
        assert store.get("k", OffsetRequest(7)) == b"789"
        assert store.get("k", OffsetRequest(10)) == b""
        assert store.get("k", SuffixRequest(3)) == b"789"
        assert store.get("k", SuffixRequest(99)) == b"0123456789"
        assert store.get("k", SuffixRequest(0)) == b""

    @pytest.mark.parametrize("make", [lambda: RangeRequest(5, 2), lambda: RangeRequest(-1, 3),
                                      lambda: OffsetRequest(-1), lambda: SuffixRequest(-2)])
    def test_invalid_byte_request(self, make):
        with pytest.raises(StoreError):
            make()

    def test_unknown_byte_request_type(self, store):
        store.set("k", b"abc")
        with pytest.raises(StoreError):
            store.get("k", (0, 2))

    def test_get_ranges(self, store):
        store.set("k", _VALUE)
        got = store.get_ranges("k", BYTE_REQUESTS)
        assert got == [expected_slice(_VALUE, r) for r in BYTE_REQUESTS]
        assert all(type(part) is bytes for part in got)
        assert store.get_ranges("k", []) == []
        assert store.get_ranges("k", [RangeRequest(0, 4), RangeRequest(0, 4)]) == [_VALUE[:4]] * 2

    # --- snapshots ------------------------------------------------------------------------------
    def test_snapshot_missing(self, store):
        assert store.snapshot("missing") is None
        assert store.snapshot("a/b/missing") is None
        with pytest.raises(InvalidKeyError):
            store.snapshot("a/../b")

    def test_snapshot_reads_one_version(self, store):
        old, new = _VALUE, b"new, shorter value"
        store.set("s/k", old)
        with store.snapshot("s/k") as snap:
            assert snap.size == len(old)
            first = [RangeRequest(0, 4), SuffixRequest(3), OffsetRequest(1000), RangeRequest(500, 510),
                     RangeRequest(0, 1024)]
            if self.snapshot_keeps_old_version:
                store.set("s/k", new)  # the snapshot keeps reading the version it was taken of
            parts = snap.read(first)
            assert [bytes(p) for p in parts] == [old[:4], old[-3:], old[1000:], old[500:510], old]
            if not self.snapshot_keeps_old_version:
                store.set("s/k", new)  # the next read must not mix in the new version
                with pytest.raises(VersionChangedError, match="s/k"):
                    snap.read([RangeRequest(0, 4)])
            elif self.store_cls.supports_deletes:
                store.delete("s/k")
                assert store.get("s/k") is None
                assert bytes(snap.read([RangeRequest(20, 30)])[0]) == old[20:30]
            assert snap.read([]) == []
        if not self.snapshot_keeps_old_version and self.store_cls.supports_deletes:
            with store.snapshot("s/k") as snap:
                store.delete("s/k")
                with pytest.raises(VersionChangedError):
                    snap.read([RangeRequest(0, 1)])
        assert store.snapshot("s/k") is None or store.get("s/k") == new

    def test_snapshot_of_empty_value(self, store):
        store.set("e", b"")
        snap = store.snapshot("e")
        assert snap is not None and snap.size == 0
        assert [bytes(p) for p in snap.read([RangeRequest(0, 5), SuffixRequest(2), OffsetRequest(0)])] == [b""] * 3
        snap.close()
        snap.close()  # closing twice is fine

    def test_snapshot_ranges_are_clipped(self, store):
        store.set("k", _VALUE)
        with store.snapshot("k") as snap:
            got = snap.read(HUGE_REQUESTS)
        assert [bytes(p) for p in got] == [expected_slice(_VALUE, r) for r in HUGE_REQUESTS]
        with store.snapshot("k") as snap:
            assert [bytes(p) for p in snap.read(BYTE_REQUESTS)] == [expected_slice(_VALUE, r) for r in BYTE_REQUESTS]

    @pytest.mark.parametrize("request_", [SuffixRequest(16), RangeRequest(0, 16), RangeRequest(1000, 5000),
                                          SuffixRequest(5000), OffsetRequest(2000), RangeRequest(3, 3)], ids=repr)
    def test_snapshot_read_opens_with_a_range(self, store, request_):
        store.set("s/k", _VALUE)
        snap, (first,) = store.snapshot_read("s/k", [request_])
        with snap:
            assert snap.size == len(_VALUE) and bytes(first) == expected_slice(_VALUE, request_)
            assert bytes(snap.read([RangeRequest(10, 20)])[0]) == _VALUE[10:20]
            if not self.snapshot_keeps_old_version:
                store.set("s/k", b"another version")  # reads after the first must not mix it in
                with pytest.raises(VersionChangedError):
                    snap.read([RangeRequest(0, 4)])
        opened = store.snapshot_read("s/k", [RangeRequest(0, 4), SuffixRequest(2)])
        with opened[0]:
            assert [bytes(p) for p in opened[1]] == [store.get("s/k")[:4], store.get("s/k")[-2:]]
        assert store.snapshot_read("missing", [SuffixRequest(16)]) is None
        with pytest.raises(InvalidKeyError):
            store.snapshot_read("a/../b", [SuffixRequest(16)])

    def test_get_buffer(self, store):
        store.set("b/k", _VALUE)
        assert bytes(store.get_buffer("b/k")) == _VALUE
        store.set("b/e", b"")
        assert bytes(store.get_buffer("b/e")) == b""
        assert store.get_buffer("b/missing") is None
        with pytest.raises(InvalidKeyError):
            store.get_buffer("b/../k")

    def test_get_transient(self, store):
        store.set("b/k", _VALUE)
        store.set("b/e", b"")
        first = bytes(store.get_transient("b/k"))  # copied out before the next transient read
        assert first == _VALUE
        assert bytes(store.get_transient("b/e")) == b""
        assert bytes(store.get_transient("b/k")) == _VALUE
        assert store.get_transient("b/missing") is None
        with pytest.raises(InvalidKeyError):
            store.get_transient("b/../k")

    # --- conditional writes ---------------------------------------------------------------------
    def test_set_if_version(self, store):
        value, version = store.get_versioned("c/k")
        assert value is None
        assert store.set_if_version("c/k", b"one", version)  # absent: created
        assert not store.set_if_version("c/k", b"two", version)  # no longer absent
        value, version = store.get_versioned("c/k")
        assert bytes(value) == b"one"
        store.set("c/k", b"changed by another writer")
        assert not store.set_if_version("c/k", b"three", version)  # the version read is gone
        assert store.get("c/k") == b"changed by another writer"
        value, version = store.get_versioned("c/k")
        assert store.set_if_version("c/k", b"four", version)
        assert store.get("c/k") == b"four"
        with pytest.raises(ReadOnlyError):
            store.with_read_only().set_if_version("c/k", b"five", store.get_versioned("c/k")[1])
        with pytest.raises(StoreError):
            store.set_if_version("c/k", 5, None)  # not bytes
        with pytest.raises(InvalidKeyError):
            store.get_versioned("c/../k")
        with pytest.raises(InvalidKeyError):
            store.set_if_version("c/../k", b"six", None)
        assert store.get("c/k") == b"four"

    def test_set_if_version_from_many_threads_loses_no_update(self, store):
        # each thread appends its byte by read-modify-write, retrying when the version moved
        def append(i):
            while True:
                value, version = store.get_versioned("c/n")
                if store.set_if_version("c/n", (value or b"") + bytes([i]), version):
                    return
        run_threads(self.threads, append)
        assert sorted(store.get("c/n")) == list(range(self.threads))

    # --- hostile byte requests ------------------------------------------------------------------
    @pytest.mark.parametrize("request_", HUGE_REQUESTS, ids=repr)
    def test_huge_byte_request(self, store, request_):
        # clipped to the value: never an OverflowError/MemoryError, never a seek past the end
        store.set("k", _VALUE)
        assert store.get("k", request_) == expected_slice(_VALUE, request_)
        assert store.get("missing", request_) is None

    def test_huge_byte_requests_in_get_ranges(self, store):
        store.set("k", _VALUE)
        assert store.get_ranges("k", HUGE_REQUESTS) == [expected_slice(_VALUE, r) for r in HUGE_REQUESTS]
        store.set("empty", b"")
        assert store.get_ranges("empty", HUGE_REQUESTS) == [b""] * len(HUGE_REQUESTS)

    # --- exists / getsize -----------------------------------------------------------------------
    def test_exists_and_getsize(self, store):
        self.fill(store)
        for key, value in TREE.items():
            assert store.exists(key), key
            assert store.getsize(key) == len(value), key
        # a prefix of keys is not a key
        for prefix in ("a", "a/b", "b/c", "b/c/d"):
            assert store.exists(prefix) is False, prefix
            assert store.getsize(prefix) is None, prefix
            assert store.get(prefix) is None, prefix
        assert store.exists("a/b/c/d") is False

    # --- set_if_not_exists ----------------------------------------------------------------------
    def test_set_if_not_exists(self, store):
        assert store.set_if_not_exists("a/k", b"one") is True
        assert store.get("a/k") == b"one"
        assert store.set_if_not_exists("a/k", b"two") is False
        assert store.get("a/k") == b"one"
        assert store.set_if_not_exists("b", bytearray(b"ba")) is True
        assert store.set_if_not_exists("c", memoryview(b"mv")) is True
        assert store.get("b") == b"ba" and store.get("c") == b"mv"
        assert sorted(store.list()) == ["a/k", "b", "c"]

    def test_set_if_not_exists_empty_value(self, store):
        assert store.set_if_not_exists("k", b"") is True
        assert store.set_if_not_exists("k", b"x") is False
        assert store.get("k") == b""

    # --- delete ---------------------------------------------------------------------------------
    def test_delete(self, store):
        self.fill(store)
        if self.store_cls.supports_deletes:
            store.delete("a/e")
            assert store.get("a/e") is None
            assert store.exists("a/e") is False
            assert store.getsize("a/e") is None
            assert "a/e" not in list(store.list())
            assert self.contents(store) == {k: v for k, v in TREE.items() if k != "a/e"}
        else:
            with pytest.raises(self.delete_error):
                store.delete("a/e")
            assert self.contents(store) == TREE

    def test_delete_missing_is_fine(self, store):
        self.fill(store)
        store.delete("missing")
        store.delete("a/missing")
        store.delete("abc/x")  # below a key
        store.delete("a")  # a prefix of keys, not a key
        store.delete("a/b")
        assert self.contents(store) == TREE

    def test_set_after_delete(self, store):
        store.set("k", b"1")
        if self.store_cls.supports_deletes:
            store.delete("k")
            assert store.set_if_not_exists("k", b"2") is True
            assert store.get("k") == b"2"
        else:
            with pytest.raises(self.delete_error):
                store.delete("k")
            assert store.get("k") == b"1"

    @pytest.mark.parametrize("prefix, removed", [
        ("a/b/", {"a/b/c", "a/b/d"}),
        ("a/b", {"a/b/c", "a/b/d"}),
        ("a/", {"a/b/c", "a/b/d", "a/e"}),
        ("a", {"a/b/c", "a/b/d", "a/e", "ab/x", "abc"}),
        ("b/c/d/", {"b/c/d/e"}),
        ("b/", {"b/c/d/e"}),
        ("", set(TREE)),
        ("zzz/", set()),
        ("a/b/c/", set()),  # below a key
    ])
    def test_delete_prefix(self, store, prefix, removed):
        self.fill(store)
        if self.store_cls.supports_deletes or not removed:
            store.delete_prefix(prefix)
            assert self.contents(store) == {k: v for k, v in TREE.items() if k not in removed}
        else:
            with pytest.raises(self.delete_error):
                store.delete_prefix(prefix)
            assert self.contents(store) == TREE

    def test_delete_prefix_slash_is_a_boundary(self, store):
        store.set("a/x", b"1")
        store.set("ab/x", b"2")
        store.set("a.b", b"3")
        if self.store_cls.supports_deletes:
            store.delete_prefix("a/")
            assert self.contents(store) == {"ab/x": b"2", "a.b": b"3"}
        else:
            with pytest.raises(self.delete_error):
                store.delete_prefix("a/")
            assert store.get("ab/x") == b"2"

    def test_delete_prefix_empty_store(self, store):
        store.delete_prefix("")
        store.delete_prefix("a/")
        assert store.is_empty()

    def test_listing_after_delete(self, store):
        # a removed key leaves no trace in listings (no empty "directories")
        self.fill(store)
        if not self.store_cls.supports_deletes:
            with pytest.raises(self.delete_error):
                store.delete("b/c/d/e")
            assert "b" in set(store.list_dir(""))
            return
        store.delete("b/c/d/e")
        store.delete_prefix("a/b/")
        store.delete("a/e")
        assert sorted(store.list_dir("")) == ["ab", "abc", "zarr.json"]
        assert list(store.list_dir("a")) == []
        assert list(store.list_dir("b/c")) == []
        assert store.is_empty("a/") and store.is_empty("b/")
        store.set("b/new", b"n")
        assert sorted(store.list_dir("")) == ["ab", "abc", "b", "zarr.json"]
        assert list(store.list_dir("b")) == ["new"]

    # --- listing --------------------------------------------------------------------------------
    def test_list(self, store):
        self.fill(store)
        store.set("a/e", b"again")  # an overwrite is still one key
        keys = list(store.list())
        assert len(keys) == len(set(keys))
        assert set(keys) == set(TREE)

    @pytest.mark.parametrize("prefix, expected", [
        ("", set(TREE)),
        ("a/", {"a/b/c", "a/b/d", "a/e"}),
        ("a/b/", {"a/b/c", "a/b/d"}),
        ("a/b", {"a/b/c", "a/b/d"}),
        ("a", {"a/b/c", "a/b/d", "a/e", "ab/x", "abc"}),
        ("ab", {"ab/x", "abc"}),
        ("abc", {"abc"}),
        ("b/c/d/", {"b/c/d/e"}),
        ("zarr", {"zarr.json"}),
        ("zzz", set()),
        ("a/b/c/", set()),
    ])
    def test_list_prefix(self, store, prefix, expected):
        self.fill(store)
        keys = list(store.list_prefix(prefix))
        assert len(keys) == len(set(keys))
        assert set(keys) == expected

    @pytest.mark.parametrize("prefix, expected", [
        ("", ["a", "ab", "abc", "b", "zarr.json"]),
        ("a", ["b", "e"]),
        ("a/", ["b", "e"]),
        ("a/b", ["c", "d"]),
        ("b", ["c"]),
        ("b/c/", ["d"]),
        ("b/c/d", ["e"]),
        ("ab", ["x"]),
        ("abc", []),  # a key, not a directory
        ("missing", []),
        ("a/b/c", []),
    ])
    def test_list_dir(self, store, prefix, expected):
        self.fill(store)
        names = list(store.list_dir(prefix))
        assert len(names) == len(set(names)), names
        assert sorted(names) == expected

    def test_list_dir_empty_store(self, store):
        assert list(store.list_dir("")) == []
        assert list(store.list_dir("a")) == []

    def test_is_empty(self, store):
        assert store.is_empty()
        assert store.is_empty("a/")
        store.set("a/b", b"x")
        assert not store.is_empty()
        assert not store.is_empty("a/")
        assert not store.is_empty("a")
        assert store.is_empty("b/")
        assert store.is_empty("a/b/")

    # --- read-only ------------------------------------------------------------------------------
    def test_read_only_view(self, store):
        self.fill(store)
        view = store.with_read_only()
        assert view.read_only is True
        assert store.read_only is False
        assert isinstance(view, self.store_cls)
        assert self.contents(view) == TREE
        for write in (lambda: view.set("new", b"x"), lambda: view.set("a/e", b"x"),
                      lambda: view.set_if_not_exists("new", b"x"), lambda: view.delete("a/e"),
                      lambda: view.delete("missing"), lambda: view.delete_prefix("a/"),
                      lambda: view.delete_prefix(""), lambda: view.set_many([("new", b"x")])):
            with pytest.raises(ReadOnlyError):
                write()
        assert self.contents(store) == TREE
        # the view shares the data: later writes through the store are visible in it
        store.set("later", b"L")
        assert view.get("later") == b"L"
        assert view.get("later", SuffixRequest(1)) == b"L"
        assert "later" in set(view.list())

    def test_read_only_error_is_permission_error(self, store):
        with pytest.raises(PermissionError):
            store.with_read_only().set("k", b"v")

    def test_writable_view_of_read_only_view(self, store):
        view = store.with_read_only().with_read_only(False)
        assert view.read_only is False
        assert view == store
        view.set("k", b"v")
        assert store.get("k") == b"v"

    def test_views_close_independently_of_data(self, store):
        store.set("k", b"v")
        view = store.with_read_only()
        assert view.get("k") == b"v"
        view.close()
        store.set("k2", b"w")  # closing a view must not break the store it came from
        assert store.get("k") == b"v" and store.get("k2") == b"w"

    # --- keys -----------------------------------------------------------------------------------
    @pytest.mark.parametrize("key", INVALID_KEYS, ids=repr)
    def test_invalid_key(self, store, key):
        calls = {
            "get": lambda: store.get(key),
            "get-range": lambda: store.get(key, RangeRequest(0, 1)),
            "get_ranges": lambda: store.get_ranges(key, [RangeRequest(0, 1)]),
            "set": lambda: store.set(key, b"x"),
            "set_if_not_exists": lambda: store.set_if_not_exists(key, b"x"),
            "exists": lambda: store.exists(key),
            "getsize": lambda: store.getsize(key),
            "delete": lambda: store.delete(key),
        }
        for name, call in calls.items():
            with pytest.raises(InvalidKeyError):
                call()
                pytest.fail(f"{name}({key!r}) did not raise")
        assert store.is_empty()

    @pytest.mark.parametrize("key", [1, None, b"a", ("a",)], ids=repr)
    def test_non_str_key(self, store, key):
        with pytest.raises(InvalidKeyError):
            store.get(key)
        with pytest.raises(InvalidKeyError):
            store.set(key, b"x")

    @pytest.mark.parametrize("prefix", INVALID_PREFIXES, ids=repr)
    def test_invalid_prefix(self, store, prefix):
        self.fill(store)
        with pytest.raises(InvalidKeyError):
            list(store.list_prefix(prefix))
        with pytest.raises(InvalidKeyError):
            list(store.list_dir(prefix))
        with pytest.raises(InvalidKeyError):
            store.is_empty(prefix)
        with pytest.raises(InvalidKeyError):
            store.delete_prefix(prefix)
        assert self.contents(store) == TREE

    def test_invalid_key_error_is_value_error(self, store):
        with pytest.raises(ValueError):
            store.get("a/../b")

    def test_unusual_but_valid_keys(self, store):
        keys = ["...", "a/...b", ".zattrs", "a/.zarray", "c/0.0.0", "sp ace/x", "ünï/cödé", "k~", "a-b_c=d"]
        for key in keys:
            store.set(key, key.encode())
        for key in keys:
            assert store.get(key) == key.encode(), key
        assert set(store.list()) == set(keys)

    # --- identity, pickling, context manager ----------------------------------------------------
    def test_equality_and_hash(self, store):
        assert store == store
        view = store.with_read_only()
        assert view != store  # different read_only flag
        assert view == store.with_read_only()
        assert hash(view) == hash(store.with_read_only())
        assert store.lock_id() == view.lock_id()  # same underlying data
        hash(store.lock_id())
        assert store != object()

    @pytest.mark.parametrize("read_only", [False, True])
    def test_pickle(self, store, read_only):
        self.fill(store)
        src = store.with_read_only(read_only)
        copy = pickle.loads(pickle.dumps(src))
        assert type(copy) is type(src)
        assert copy.read_only is read_only
        assert self.contents(copy) == TREE
        assert copy.get("a/b/c", RangeRequest(1, 2)) == b"b"
        if self.pickle_keeps_identity:
            assert copy == src
            assert hash(copy) == hash(src)
            assert copy.lock_id() == src.lock_id()
        else:
            assert copy != src
            assert copy.lock_id() != src.lock_id()
            if not read_only:  # the copy owns its data
                copy.set("only-in-copy", b"c")
                assert store.get("only-in-copy") is None
        copy.close()
        assert self.contents(store) == TREE  # the original is still usable

    def test_context_manager(self, store):
        with store as entered:
            assert entered is store
            store.set("k", b"v")
            assert store.get("k") == b"v"
        store.close()  # closing twice is fine

    # --- threads --------------------------------------------------------------------------------
    def test_concurrent_own_keys(self, store):
        per_thread = 40

        def value(t: int, i: int) -> bytes:
            return f"{t}:{i}:".encode() * (i % 7) + bytes([t, i])

        def work(t: int) -> None:
            for i in range(per_thread):
                key = f"t{t}/c/{i}"
                v = value(t, i)
                store.set(key, v)
                assert store.get(key) == v
                assert store.get(key, SuffixRequest(2)) == bytes([t, i])
                assert store.get_ranges(key, [RangeRequest(0, 3), OffsetRequest(len(v) - 1)]) == [v[:3], v[-1:]]
                assert store.exists(key)
                assert store.getsize(key) == len(v)
                assert store.set_if_not_exists(key, b"other") is False
                assert store.set_if_not_exists(f"t{t}/once/{i}", v) is True
                assert not store.is_empty(f"t{t}/")
                list(store.list_dir(""))  # listing while others write must not fail

        interval = sys.getswitchinterval()
        run_threads(self.threads, work)
        assert sys.getswitchinterval() == interval
        expected = {}
        for t in range(self.threads):
            for i in range(per_thread):
                expected[f"t{t}/c/{i}"] = expected[f"t{t}/once/{i}"] = value(t, i)
        assert self.contents(store) == expected
        assert sorted(store.list_dir("")) == sorted(f"t{t}" for t in range(self.threads))

    def test_concurrent_overwrites_are_never_torn(self, store):
        size = 4096
        store.set("shared", bytes([255]) * size)

        def work(t: int) -> None:
            if t % 2:  # writers
                for i in range(25):
                    store.set("shared", bytes([t]) * size)
            else:  # readers
                for _ in range(50):
                    v = store.get("shared")
                    assert v is not None and len(v) == size
                    assert v.count(v[:1]) == size, "torn read"

        run_threads(self.threads, work)
        final = store.get("shared")
        assert final in {bytes([t]) * size for t in range(1, self.threads, 2)}

    def test_concurrent_set_if_not_exists_has_one_winner(self, store):
        wins = []

        def work(t: int) -> None:
            for i in range(10):
                if store.set_if_not_exists(f"race/{i}", b"winner %d" % t):
                    wins.append((i, t))

        run_threads(self.threads, work)
        assert sorted(i for i, _ in wins) == list(range(10))
        for i, t in wins:
            assert store.get(f"race/{i}") == b"winner %d" % t


# ==================================================================================================
# Codec checks
#
# Every codec test uses the same three helpers (STYLE.md rule 11):
#
# - :func:`check_round_trip`: encode then decode one chunk through a bound
#   :class:`~zarrsync.pipeline.CodecPipeline`, over a dtype x shape x order matrix;
# - :func:`check_config_round_trip`: JSON -> registry -> equal -> repr;
# - :func:`check_golden`: decode bytes produced by an independent reference implementation.
# ==================================================================================================
