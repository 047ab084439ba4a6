"""Tests of zarrsync.storage: the shared StoreTests suite per store, then store-specific checks."""

from __future__ import annotations

import os
import pickle
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from zarrsync.errors import InvalidKeyError, ReadOnlyError, StoreError
from zarrsync.storage import (
    LocalStore, MemoryStore, OffsetRequest, RangeRequest, Store, SuffixRequest, ZipStore, store_from,
)
from zarrsync.testing import StoreTests, run_threads
from oracles import require

TMP_MARK = ".__zarrsync_tmp__"


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (relative path -> content)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def temp_files(root: Path) -> list[str]:
    """Leftover temporary files below ``root``."""
    return [p.as_posix() for p in root.rglob("*") if TMP_MARK in p.name]


# --- the shared suite ---------------------------------------------------------------------------
class TestMemoryStore(StoreTests):
    store_cls = MemoryStore
    pickle_keeps_identity = False  # pickling copies the dict

    def make_store(self, tmp_path):
        return MemoryStore()


class TestLocalStore(StoreTests):
    store_cls = LocalStore

    def make_store(self, tmp_path):
        return LocalStore(tmp_path / "store")  # the root does not exist yet

    def test_no_temp_files_after_suite_operations(self, store, tmp_path):
        self.fill(store)
        store.set("a/e", b"overwritten")
        store.set_if_not_exists("a/e", b"refused")
        store.set_if_not_exists("new/key", b"accepted")
        lock_file = (tmp_path / "store" / (TMP_MARK + "lock")).as_posix()
        assert [p for p in temp_files(tmp_path) if p != lock_file] == []


class TestLocalStoreFsync(TestLocalStore):
    def make_store(self, tmp_path):
        return LocalStore(tmp_path / "store", fsync=True)


class TestLocalStoreInterprocessLocks(TestLocalStore):
    """The same contract with conditional writes under the root's lock file."""

    def make_store(self, tmp_path):
        return LocalStore(tmp_path / "store", interprocess_locks=True)

    def test_writes_wait_for_the_lock_file(self, store, tmp_path):
        import fcntl

        assert store.supports_conditional_writes
        store.set("k", b"old")
        done = threading.Event()
        fd = os.open(tmp_path / "store" / (TMP_MARK + "lock"), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # as another process's writer would
            writer = threading.Thread(target=lambda: (store.set("k", b"new"), done.set()))
            writer.start()
            assert not done.wait(0.3)  # held off by the lock
            assert store.get("k") == b"old"
        finally:
            os.close(fd)
        writer.join(10)
        assert done.is_set() and store.get("k") == b"new"
        assert "lock" not in "".join(store.list())  # never listed


class TestZipStore(StoreTests):
    store_cls = ZipStore
    delete_error = StoreError  # append-only archives refuse deletes of existing keys

    def make_store(self, tmp_path):
        return ZipStore(tmp_path / "store.zip", mode="w")


# --- MemoryStore --------------------------------------------------------------------------------
class TestMemoryStoreSpecific:
    def test_uses_the_callers_dict(self):
        data = {"a": b"1"}
        store = MemoryStore(data)
        store.set("b", b"2")
        assert data == {"a": b"1", "b": b"2"}
        assert store.get("a") == b"1"

    def test_equal_when_sharing_one_dict(self):
        data = {}
        assert MemoryStore(data) == MemoryStore(data)
        assert MemoryStore(data).lock_id() == MemoryStore(data).lock_id()
        assert MemoryStore() != MemoryStore()

    def test_read_only_constructor(self):
        store = MemoryStore({"k": b"v"}, read_only=True)
        for write in (lambda: store.set("x", b"1"), lambda: store.delete("k"), store.clear,
                      lambda: store.delete_prefix(""), lambda: store.set_if_not_exists("x", b"1")):
            with pytest.raises(ReadOnlyError):
                write()
        assert store.get("k") == b"v"

    def test_clear(self):
        store = MemoryStore({"a/b": b"1", "c": b"2"})
        store.clear()
        assert store.is_empty()

    def test_repr_counts_keys(self):
        assert repr(MemoryStore({"a": b"", "b": b""})) == "MemoryStore(<2 keys>)"
        assert "read_only" in repr(MemoryStore(read_only=True))


# --- LocalStore ---------------------------------------------------------------------------------
class _FailingWrite:
    """Replaces ``os.write``: writes a few bytes of the first call, then raises."""

    def __init__(self, real, exc: BaseException):
        self.real, self.exc, self.calls = real, exc, 0

    def __call__(self, fd, data):
        self.calls += 1
        if self.calls == 1:
            return self.real(fd, bytes(data[:3]))  # a partial write, as on a full disk
        raise self.exc


class TestLocalStoreAtomicWrites:
    def test_no_temp_files_left(self, tmp_path):
        store = LocalStore(tmp_path)
        for i in range(20):
            store.set(f"a/b/{i % 3}", b"x" * i)
        assert store.set_if_not_exists("a/b/0", b"no") is False
        assert store.set_if_not_exists("a/new", b"yes") is True
        assert temp_files(tmp_path) == []
        assert tree(tmp_path) == {"a/b/0": b"x" * 18, "a/b/1": b"x" * 19, "a/b/2": b"x" * 17, "a/new": b"yes"}

    @pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()], ids=repr)
    def test_failing_write_keeps_old_value(self, tmp_path, monkeypatch, exc):
        store = LocalStore(tmp_path)
        store.set("a/k", b"old value")
        failing = _FailingWrite(os.write, exc)
        monkeypatch.setattr(os, "write", failing)
        with pytest.raises(type(exc)):
            store.set("a/k", b"a much longer new value that needs several writes")
        with pytest.raises(type(exc)):
            store.set("a/fresh", b"never stored")
        monkeypatch.undo()
        assert failing.calls >= 2
        assert store.get("a/k") == b"old value"
        assert store.get("a/fresh") is None
        assert temp_files(tmp_path) == []
        assert sorted(store.list()) == ["a/k"]

    def test_failing_set_if_not_exists_stores_nothing(self, tmp_path, monkeypatch):
        store = LocalStore(tmp_path)
        monkeypatch.setattr(os, "write", _FailingWrite(os.write, OSError(5, "I/O error")))
        with pytest.raises(OSError):
            store.set_if_not_exists("k", b"0123456789")
        monkeypatch.undo()
        assert store.get("k") is None
        assert temp_files(tmp_path) == []
        assert store.set_if_not_exists("k", b"ok") is True

    def test_failing_replace_keeps_old_value(self, tmp_path, monkeypatch):
        store = LocalStore(tmp_path)
        store.set("k", b"old")

        def broken_replace(src, dst):
            raise OSError(13, "Permission denied")

        monkeypatch.setattr(os, "replace", broken_replace)
        with pytest.raises(OSError):
            store.set("k", b"new")
        monkeypatch.undo()
        assert store.get("k") == b"old"
        assert temp_files(tmp_path) == []

    def test_temp_files_are_not_listed(self, tmp_path):
        store = LocalStore(tmp_path)
        store.set("a/k", b"v")
        (tmp_path / f"a/k{TMP_MARK}0123").write_bytes(b"partial")  # e.g. left by a killed process
        (tmp_path / f"top{TMP_MARK}0123").write_bytes(b"partial")
        (tmp_path / f"a/{TMP_MARK}99.abcdef.0").write_bytes(b"partial")  # today's short form
        assert list(store.list()) == ["a/k"]
        assert list(store.list_dir("")) == ["a"]
        assert list(store.list_dir("a")) == ["k"]

    def test_keys_with_the_temp_marker_are_rejected(self, tmp_path):
        # such a key could be written but never listed, and could collide with a temp file
        store = LocalStore(tmp_path)
        for key in (f"k{TMP_MARK}0123456789abcdef", f"a{TMP_MARK}/b"):
            with pytest.raises(InvalidKeyError):
                store.set(key, b"v")
            with pytest.raises(InvalidKeyError):
                store.get(key)
        assert tree(tmp_path) == {}


HOSTILE_KEYS = [
    "..", "../x", "../../x", "a/../../x", "a/b/../../../x", "/x", "//x", "/etc/passwd", "./x", "x/.",
    "a/./../x", "..\\x", "a\\..\\..\\x", "\\x", "C:\\x", "a/\x00/b", "x\x00", "a//../x", "../", ".../../x",
]
"""Keys that would reach outside a store's root if they were joined naively."""

HARMLESS_KEYS = ["...", "~/x", "%2e%2e/x", "..x", "x..", "a/..b/c", ".x", "C:x", "$HOME", "a b/..c"]
"""Strange keys that are valid and must stay inside the root."""


class TestLocalStoreKeysStayInside:
    @pytest.fixture
    def layout(self, tmp_path):
        outside = tmp_path / "outer"
        root = outside / "inner" / "root"
        root.mkdir(parents=True)
        (outside / "x").write_bytes(b"outside file")
        (outside / "inner" / "x").write_bytes(b"sibling file")
        (tmp_path / "x").write_bytes(b"far outside")
        return tmp_path, root

    def _outside(self, tmp_path: Path, root: Path) -> dict[str, bytes]:
        return {k: v for k, v in tree(tmp_path).items() if not (tmp_path / k).is_relative_to(root)}

    def test_hostile_keys(self, layout):
        tmp_path, root = layout
        before = self._outside(tmp_path, root)
        store = LocalStore(root)
        for key in HOSTILE_KEYS:
            attempts = [
                lambda: store.set(key, b"pwned"), lambda: store.set_if_not_exists(key, b"pwned"),
                lambda: store.get(key), lambda: store.get_ranges(key, [RangeRequest(0, 1)]),
                lambda: store.exists(key), lambda: store.getsize(key), lambda: store.delete(key),
                lambda: store.delete_prefix(key.rstrip("/") + "/"), lambda: list(store.list_dir(key)),
                lambda: list(store.list_prefix(key + "/")),
            ]
            for attempt in attempts:
                with pytest.raises(InvalidKeyError):
                    attempt()
        assert self._outside(tmp_path, root) == before
        assert tree(root) == {}

    def test_harmless_strange_keys_stay_inside(self, layout):
        tmp_path, root = layout
        before = self._outside(tmp_path, root)
        store = LocalStore(root)
        for key in HARMLESS_KEYS:
            store.set(key, key.encode())
            assert store.set_if_not_exists(key, b"again") is False
        assert tree(root) == {key: key.encode() for key in HARMLESS_KEYS}
        for key in HARMLESS_KEYS:
            assert store.get(key) == key.encode()
            store.delete(key)
        store.delete_prefix("")
        assert self._outside(tmp_path, root) == before
        assert root.is_dir() and tree(root) == {}

    def test_delete_prefix_root_keeps_root_and_outside(self, layout):
        tmp_path, root = layout
        before = self._outside(tmp_path, root)
        store = LocalStore(root)
        store.set("a/b", b"1")
        store.set("c", b"2")
        store.delete_prefix("")
        assert root.is_dir() and list(root.iterdir()) == []
        assert self._outside(tmp_path, root) == before


class TestLocalStoreSpecific:
    def test_data_persists_across_instances(self, tmp_path):
        LocalStore(tmp_path / "d").set("a/b", b"v")
        assert (tmp_path / "d" / "a" / "b").read_bytes() == b"v"
        assert LocalStore(tmp_path / "d").get("a/b") == b"v"
        assert LocalStore(str(tmp_path / "d"), read_only=True).get("a/b", OffsetRequest(0)) == b"v"

    def test_reads_from_missing_root(self, tmp_path):
        store = LocalStore(tmp_path / "nothing")
        assert store.get("k") is None
        assert list(store.list()) == [] and list(store.list_dir("")) == []
        store.delete("k")
        store.delete_prefix("")
        store.delete_prefix("a/")
        assert not (tmp_path / "nothing").exists()

    def test_read_only_creates_nothing(self, tmp_path):
        store = LocalStore(tmp_path / "ro", read_only=True)
        with pytest.raises(ReadOnlyError):
            store.set("k", b"v")
        with pytest.raises(ReadOnlyError):
            store.set_if_not_exists("k", b"v")
        assert not (tmp_path / "ro").exists()

    def test_root_that_is_a_file(self, tmp_path):
        (tmp_path / "f").write_bytes(b"")
        with pytest.raises(StoreError):
            LocalStore(tmp_path / "f")

    def test_lock_id_same_directory(self, tmp_path, monkeypatch):
        real = tmp_path / "data"
        real.mkdir()
        link = tmp_path / "link"
        link.symlink_to(real, target_is_directory=True)
        monkeypatch.chdir(tmp_path)
        stores = [LocalStore(real), LocalStore(str(real)), LocalStore(str(real) + "/"), LocalStore("data"),
                  LocalStore(tmp_path / "x" / ".." / "data"), LocalStore(link), LocalStore("link")]
        assert len({s.lock_id() for s in stores}) == 1
        assert all(s == stores[0] for s in stores)
        assert len({hash(s) for s in stores}) == 1
        assert LocalStore(tmp_path / "other").lock_id() != stores[0].lock_id()
        stores[-1].set("k", b"through the link")
        assert stores[0].get("k") == b"through the link"

    def test_pickle_keeps_root_and_flags(self, tmp_path):
        store = LocalStore(tmp_path, read_only=True, fsync=True)
        copy = pickle.loads(pickle.dumps(store))
        assert (copy.root, copy.read_only, copy.fsync) == (store.root, True, True)

    def test_get_transient_sizes_around_the_buffer(self, tmp_path):
        # a file that fills the thread's read buffer exactly, one byte past it, far past it, then
        # smaller ones again (the grown buffer is reused: only the file's bytes are returned)
        store = LocalStore(tmp_path)
        rng = np.random.default_rng(0)
        for size in (0, 1, 65535, 65536, 65537, 3 << 20, 131072, 262144, 100, 0, 5 << 20):
            value = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
            store.set("c/0", value)
            got = store.get_transient("c/0")
            assert got.readonly and bytes(got) == value
        (tmp_path / "dir").mkdir()
        assert store.get_transient("dir") is None

    def test_get_transient_reads_on_after_short_reads(self, tmp_path, monkeypatch):
        # a file system may return fewer bytes than asked before the end of a file: the whole
        # file still comes back (each read capped at 50,000 bytes, below and above the buffer)
        import zarrsync.storage.local as local
        real = local._read_into

        def capped(fd, view):
            return real(fd, view[:50_000])

        monkeypatch.setattr(local, "_HAVE_READV", False)
        monkeypatch.setattr(local, "_read_into", capped)
        store = LocalStore(tmp_path)
        for size in (10, 50_000, 60_000, 300_000, 1 << 20):
            value = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
            store.set("c/0", value)
            assert bytes(store.get_transient("c/0")) == value

    def test_get_transient_buffers_are_per_thread(self, tmp_path):
        # each thread's view stays intact while the other thread reads other files
        store = LocalStore(tmp_path)
        values = {t: bytes([t]) * (70_000 + t) for t in range(4)}
        for t, v in values.items():
            store.set(f"k{t}", v)

        def work(t):
            for _ in range(200):
                got = store.get_transient(f"k{t}")
                assert bytes(got) == values[t]

        run_threads(4, work)

    def test_list_dir_ignores_directories_without_keys(self, tmp_path):
        (tmp_path / "empty" / "deeper").mkdir(parents=True)
        store = LocalStore(tmp_path)
        store.set("full/k", b"v")
        assert list(store.list_dir("")) == ["full"]


# --- ZipStore -----------------------------------------------------------------------------------
class TestZipStoreSpecific:
    def test_append_newest_wins(self, tmp_path):
        path = tmp_path / "a.zip"
        with ZipStore(path, mode="w") as store:
            store.set("k", b"first")
            store.set("other", b"o")
            store.set("k", b"second, longer")
            assert store.get("k") == b"second, longer"
            assert store.getsize("k") == len(b"second, longer")
            assert sorted(store.list()) == ["k", "other"]
        with zipfile.ZipFile(path) as zf:  # both entries are in the archive
            assert [i.filename for i in zf.infolist()] == ["k", "other", "k"]
        reopened = ZipStore(path, mode="r")
        assert reopened.read_only
        assert reopened.get("k") == b"second, longer"
        assert reopened.get("k", SuffixRequest(6)) == b"longer"
        assert reopened.getsize("k") == len(b"second, longer")
        assert sorted(reopened.list()) == ["k", "other"]
        reopened.close()

    def test_append_mode_adds_to_an_existing_archive(self, tmp_path):
        path = tmp_path / "a.zip"
        with ZipStore(path, mode="w") as store:
            store.set("k", b"1")
        with ZipStore(path, mode="a") as store:
            assert store.get("k") == b"1"
            store.set("k", b"2")
            store.set("j", b"3")
        with ZipStore(path) as store:  # mode "r" is the default
            assert {k: store.get(k) for k in store.list()} == {"k": b"2", "j": b"3"}

    def test_write_mode_truncates(self, tmp_path):
        path = tmp_path / "a.zip"
        with ZipStore(path, mode="w") as store:
            store.set("old", b"1")
        with ZipStore(path, mode="w") as store:
            store.set("new", b"2")
        with ZipStore(path) as store:
            assert list(store.list()) == ["new"]

    def test_store_reopens_after_close_without_truncating(self, tmp_path):
        store = ZipStore(tmp_path / "a.zip", mode="w")
        store.set("k", b"1")
        store.close()
        store.set("j", b"2")
        assert store.get("k") == b"1" and store.get("j") == b"2"
        store.close()

    def test_mode_r_is_read_only(self, tmp_path):
        path = tmp_path / "a.zip"
        with ZipStore(path, mode="w") as store:
            store.set("k", b"v")
        store = ZipStore(path, mode="r")
        for write in (lambda: store.set("k", b"x"), lambda: store.set("n", b"x"), lambda: store.delete("k"),
                      lambda: store.delete_prefix(""), lambda: store.set_if_not_exists("n", b"x")):
            with pytest.raises(ReadOnlyError):
                write()
        # not even a writable view can write to an archive opened for reading
        with pytest.raises(ReadOnlyError):
            store.with_read_only(False).set("n", b"x")
        store.close()
        with zipfile.ZipFile(path) as zf:
            assert zf.namelist() == ["k"]

    def test_reads_foreign_archives(self, tmp_path):
        path = tmp_path / "foreign.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("dir/", b"")  # directory entries are not keys
            zf.writestr("dir/zarr.json", b'{"zarr_format": 3}')
            zf.writestr("dir/c/0", bytes(range(100)) * 10)
        with ZipStore(path) as store:
            assert sorted(store.list()) == ["dir/c/0", "dir/zarr.json"]
            assert list(store.list_dir("")) == ["dir"]
            assert store.get("dir/c/0", RangeRequest(998, 1002)) == bytes([98, 99])
            assert store.getsize("dir/c/0") == 1000
            with pytest.raises(InvalidKeyError):  # a directory entry's name is not a key
                store.get("dir/")

    def test_deflated_round_trip(self, tmp_path):
        path = tmp_path / "d.zip"
        with ZipStore(path, mode="w", compression=zipfile.ZIP_DEFLATED) as store:
            store.set("k", b"z" * 10000)
        with zipfile.ZipFile(path) as zf:
            assert zf.getinfo("k").compress_size < 1000
        with ZipStore(path) as store:
            assert store.get("k") == b"z" * 10000

    def test_delete_is_documented_error(self, tmp_path):
        with ZipStore(tmp_path / "a.zip", mode="w") as store:
            store.set("k", b"v")
            with pytest.raises(StoreError, match="append-only"):
                store.delete("k")
            store.delete("missing")
            assert store.get("k") == b"v"

    @pytest.mark.parametrize("mode", ["rw", "r+", "", "W"])
    def test_bad_mode(self, tmp_path, mode):
        with pytest.raises(StoreError):
            ZipStore(tmp_path / "a.zip", mode=mode)

    def test_missing_or_bad_archive(self, tmp_path):
        with pytest.raises(StoreError):
            ZipStore(tmp_path / "missing.zip", mode="r").get("k")
        (tmp_path / "bad.zip").write_bytes(b"this is not a zip archive")
        with pytest.raises(StoreError):
            ZipStore(tmp_path / "bad.zip", mode="r").list_dir("").__next__()

    def test_exclusive_mode_refuses_existing_archive(self, tmp_path):
        path = tmp_path / "a.zip"
        with ZipStore(path, mode="x") as store:
            store.set("k", b"v")
        with pytest.raises(StoreError):
            ZipStore(path, mode="x").set("k", b"again")
        with ZipStore(path) as store:
            assert store.get("k") == b"v"

    def test_pickle_of_unopened_write_store_never_truncates_later(self, tmp_path):
        path = tmp_path / "a.zip"
        with ZipStore(path, mode="w") as store:
            store.set("stale", b"from an earlier run")
        store = ZipStore(path, mode="w")  # will truncate: but only once
        copy = pickle.loads(pickle.dumps(store))
        copy.set("k", b"written by the copy")
        copy.close()
        assert store.get("k") == b"written by the copy"
        assert store.get("stale") is None
        store.close()

    def test_lock_id(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        assert ZipStore("a.zip", mode="w").lock_id() == ZipStore(tmp_path / "a.zip", mode="r").lock_id()
        assert ZipStore("a.zip", mode="w") == ZipStore(tmp_path / "a.zip", mode="a")


# --- store_from ---------------------------------------------------------------------------------
class TestStoreFrom:
    def test_str_and_path(self, tmp_path):
        for arg in (str(tmp_path / "d"), tmp_path / "d", f"file://{tmp_path / 'd'}"):
            store = store_from(arg)
            assert type(store) is LocalStore
            assert store.root == str(tmp_path / "d")
            assert not store.read_only
        store_from(tmp_path / "d").set("k", b"v")
        assert store_from(f"file://{tmp_path}/d", mode="r").get("k") == b"v"

    def test_zip(self, tmp_path):
        for arg in (str(tmp_path / "x.zip"), tmp_path / "x.zip", f"file://{tmp_path}/x.zip"):
            store = store_from(arg)
            assert type(store) is ZipStore
            assert store.path == str(tmp_path / "x.zip")
            assert not store.read_only
        with store_from(tmp_path / "x.zip", mode="w") as store:
            store.set("k", b"v")
        with store_from(tmp_path / "x.zip", mode="r") as store:
            assert store.read_only and store.mode == "r"
            assert store.get("k") == b"v"
            with pytest.raises(ReadOnlyError):
                store.set("k", b"w")

    def test_dict_and_none(self):
        data = {"k": b"v"}
        store = store_from(data)
        assert type(store) is MemoryStore and not store.read_only
        store.set("j", b"w")
        assert data == {"k": b"v", "j": b"w"}
        empty = store_from(None)
        assert type(empty) is MemoryStore and empty.is_empty()
        assert store_from(None) != empty  # each None is a new store

    @pytest.mark.parametrize("make", [MemoryStore, lambda: LocalStore("/nonexistent/dir")], ids=["memory", "local"])
    def test_store_instance(self, make):
        store = make()
        assert store_from(store) is store
        view = store_from(store, mode="r")
        assert view.read_only and not store.read_only
        assert view.lock_id() == store.lock_id()
        assert store_from(view, mode="r") is view
        assert store_from(view) is view  # a read-only store stays read-only

    def test_mode_r_is_read_only(self, tmp_path):
        data = {"k": b"v"}
        for arg in (tmp_path / "d", str(tmp_path / "d"), data, None, MemoryStore(data)):
            store = store_from(arg, mode="r")
            assert isinstance(store, Store) and store.read_only
            with pytest.raises(ReadOnlyError):
                store.set("k", b"x")
        assert data == {"k": b"v"}
        assert not (tmp_path / "d").exists()

    @pytest.mark.parametrize("arg", ["s3://bucket/data.zarr", "gs://b/x", "https://example.org/x.zarr",
                                     "memory://x", "s3://bucket/data.zip"])
    def test_urls_go_to_a_remote_store_never_a_local_one(self, arg):
        if not arg.startswith("memory://"):
            require("obstore")  # without it these go to fsspec, whose s3fs/gcsfs/aiohttp are not installed
        store = store_from(arg, mode="r")  # read-only: nothing is created or contacted
        assert type(store).__name__ in ("ObjectStore", "FsspecStore") and store.read_only

    @pytest.mark.parametrize("arg", [3, 1.5, b"/tmp/x", ["a"], object()], ids=repr)
    def test_unsupported_type(self, arg):
        with pytest.raises(StoreError, match="store"):
            store_from(arg)
