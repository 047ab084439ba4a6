"""FsspecStore over fsspec's own memory and local filesystems: the shared store contract, plus
what is particular to it (how byte requests map onto ``cat_file``/``cat_ranges``, the URL and
mapper constructors, metadata-only ``exists``/``getsize``, arrays through it)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import uuid

import fsspec
import numpy as np
import pytest
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.memory import MemoryFileSystem

import zarrsync
from zarrsync.errors import InvalidKeyError, MissingDependencyError, ReadOnlyError, StoreError
from zarrsync.storage import LocalStore
from zarrsync.storage.base import OffsetRequest, RangeRequest, SuffixRequest
from zarrsync.storage.fsspec_store import FsspecStore
from zarrsync.testing import StoreTests, run_threads

VALUE = bytes(range(256)) * 5 + b"tail"  # 1284 bytes, every offset distinguishable


def memory_root() -> str:
    """A fresh directory of fsspec's process-wide memory filesystem."""
    return f"/zs-test-{uuid.uuid4().hex}"


def remove_memory_tree(root: str) -> None:
    fs = fsspec.filesystem("memory")
    for name in fs.find(root):
        fs.rm_file(name)
    assert fs.find(root) == []


@pytest.fixture
def mem_root():
    root = memory_root()
    yield root
    remove_memory_tree(root)


class TestFsspecMemory(StoreTests):
    store_cls = FsspecStore
    pickle_keeps_identity = True  # the memory filesystem is one namespace per process

    def make_store(self, tmp_path):
        return FsspecStore(fsspec.filesystem("memory"), memory_root())

    @pytest.fixture
    def store(self, tmp_path):
        s = self.make_store(tmp_path)
        yield s
        s.close()
        remove_memory_tree(s.root)


class TestFsspecLocal(StoreTests):
    store_cls = FsspecStore
    pickle_keeps_identity = True

    def make_store(self, tmp_path):
        return FsspecStore(fsspec.filesystem("file"), str(tmp_path / "data"))


@pytest.fixture(params=["memory", "file"])
def any_store(request, tmp_path, mem_root):
    if request.param == "memory":
        return FsspecStore(fsspec.filesystem("memory"), mem_root)
    return FsspecStore(fsspec.filesystem("file"), str(tmp_path / "d"))


# --- byte requests ---------------------------------------------------------------------------------

def test_ranged_reads_return_the_bytes_written(any_store):
    any_store.set("a/k", VALUE)
    cases = {
        RangeRequest(0, 7): VALUE[:7], RangeRequest(300, 812): VALUE[300:812],
        RangeRequest(1280, 5000): b"tail", RangeRequest(1284, 1290): b"", RangeRequest(9000, 9001): b"",
        OffsetRequest(1000): VALUE[1000:], OffsetRequest(0): VALUE, OffsetRequest(1284): b"",
        SuffixRequest(4): b"tail", SuffixRequest(600): VALUE[-600:], SuffixRequest(10**6): VALUE,
        SuffixRequest(0): b"", RangeRequest(17, 17): b"",
    }
    for request, expected in cases.items():
        assert any_store.get("a/k", request) == expected, request


def test_get_ranges_reads_several_ranges_of_the_bytes_written(any_store):
    any_store.set("k", VALUE)
    ranges = [RangeRequest(5, 9), SuffixRequest(4), OffsetRequest(1282), RangeRequest(2000, 3000),
              RangeRequest(0, 1284), SuffixRequest(0), RangeRequest(256, 512)]
    assert any_store.get_ranges("k", ranges) == [VALUE[5:9], b"tail", b"il", b"", VALUE, b"", VALUE[256:512]]
    assert any_store.get_ranges("k", []) == []
    assert any_store.get_ranges("missing", []) is None


class CountingMemoryFS(MemoryFileSystem):
    """fsspec's memory filesystem (the same process-wide files), counting the calls that read
    a value's bytes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reads = {"cat_file": 0, "cat_ranges": 0, "_open": 0}

    def cat_file(self, path, start=None, end=None, **kwargs):
        self.reads["cat_file"] += 1
        return super().cat_file(path, start=start, end=end, **kwargs)

    def cat_ranges(self, paths, starts, ends, **kwargs):
        self.reads["cat_ranges"] += 1
        return super().cat_ranges(paths, starts, ends, **kwargs)

    def _open(self, path, mode="rb", **kwargs):
        if "r" in mode:
            self.reads["_open"] += 1
        return super()._open(path, mode=mode, **kwargs)


@pytest.fixture
def counting(mem_root):
    fs = CountingMemoryFS(skip_instance_cache=True)
    return fs, FsspecStore(fs, mem_root)


def test_exists_and_getsize_read_metadata_only(counting):
    fs, store = counting
    store.set("k", VALUE)
    store.set("a/b", b"xy")
    assert store.exists("k") and store.getsize("k") == len(VALUE)
    assert store.getsize("a/b") == 2
    assert not store.exists("missing") and store.getsize("missing") is None
    assert not store.exists("a") and store.getsize("a") is None  # a directory is not a value
    assert store.set_if_not_exists("k", b"other") is False
    assert fs.reads == {"cat_file": 0, "cat_ranges": 0, "_open": 0}
    assert store.get("k") == VALUE  # the counters see real reads
    assert fs.reads["cat_file"] == 1


def test_reads_take_one_or_two_calls(counting):
    fs, store = counting
    store.set("k", VALUE)
    store.get("k", SuffixRequest(8))  # no size needed
    assert fs.reads["cat_file"] == 1
    store.get_ranges("k", [RangeRequest(0, 4), SuffixRequest(4), RangeRequest(10, 20)])
    assert fs.reads["cat_ranges"] == 1  # every range of one key in one call
    store.get_ranges("k", [RangeRequest(5000, 6000), SuffixRequest(0)])
    assert fs.reads["cat_ranges"] == 1  # nothing to fetch: no call


# --- constructors, identity, pickling --------------------------------------------------------------

def test_from_url_and_from_mapper_reach_the_same_data(mem_root):
    direct = FsspecStore(fsspec.filesystem("memory"), mem_root)
    direct.set("g/zarr.json", b"{}")
    by_url = FsspecStore.from_url(f"memory://{mem_root}")
    by_mapper = FsspecStore.from_mapper(fsspec.get_mapper(f"memory://{mem_root}"))
    for other in (by_url, by_mapper):
        assert other.get("g/zarr.json") == b"{}"
        assert other == direct and hash(other) == hash(direct)
        assert other.location("g/zarr.json") == direct.location("g/zarr.json")
    by_url.set("from-url", b"u")
    assert by_mapper.get("from-url") == b"u"
    assert fsspec.get_mapper(f"memory://{mem_root}")["from-url"] == b"u"  # written in place
    assert repr(by_url) == f"FsspecStore('memory', {mem_root!r})"


def test_from_url_passes_storage_options_and_read_only(tmp_path):
    st = FsspecStore.from_url(f"file://{tmp_path}/x", storage_options={"auto_mkdir": True}, read_only=True)
    assert st.fs.auto_mkdir is True and st.read_only
    assert st.root == f"{tmp_path}/x"
    with pytest.raises(StoreError, match="nope"):
        FsspecStore.from_url("nope://x")


def test_constructor_refuses_what_is_not_a_filesystem(mem_root):
    with pytest.raises(StoreError, match="fsspec filesystem"):
        FsspecStore({}, mem_root)
    with pytest.raises(StoreError, match="FSMap"):
        FsspecStore.from_mapper({})


def test_local_store_and_fsspec_store_share_locations(tmp_path):
    st = FsspecStore(fsspec.filesystem("file"), str(tmp_path))
    local = LocalStore(tmp_path)
    assert st.lock_id() == local.lock_id()
    assert st.location("a/c/0") == local.location("a/c/0")
    assert st != local  # different store classes are never equal


def test_location_does_not_depend_on_the_root(mem_root):
    fs = fsspec.filesystem("memory")
    outer, inner = FsspecStore(fs, mem_root), FsspecStore(fs, mem_root + "/grp")
    assert outer.location("grp/arr/c/0") == inner.location("arr/c/0")
    assert outer.lock_id() != inner.lock_id()


def test_pickled_store_reaches_the_same_data_in_a_new_process(tmp_path):
    st = FsspecStore(fsspec.filesystem("file"), str(tmp_path))
    st.set("k", b"pickled")
    code = "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read()).get('k').decode())"
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(st), capture_output=True, check=True)
    assert out.stdout.strip() == b"pickled"


def test_latency_bound_is_cleared_only_for_local_and_memory(tmp_path, mem_root):
    assert FsspecStore(fsspec.filesystem("memory"), mem_root).latency_bound is False
    assert FsspecStore(fsspec.filesystem("file"), str(tmp_path)).latency_bound is False
    wrapped = DirFileSystem(path=mem_root, fs=fsspec.filesystem("memory"))
    assert FsspecStore(wrapped, "sub").latency_bound is True
    assert FsspecStore.latency_bound is True and FsspecStore.supports_byte_ranges is True


# --- writes, errors, read-only ---------------------------------------------------------------------

def test_read_only_store_refuses_writes(any_store):
    any_store.set("k", b"v")
    ro = FsspecStore(any_store.fs, any_store.root, read_only=True)
    for write in (lambda: ro.set("k", b"x"), lambda: ro.set("new", b"x"), lambda: ro.delete("k"),
                  lambda: ro.set_if_not_exists("new", b"x"), lambda: ro.delete_prefix("")):
        with pytest.raises(ReadOnlyError):
            write()
    assert ro.get("k") == b"v" and list(ro.list()) == ["k"]
    assert "read_only=True" in repr(ro)


def test_io_errors_become_store_errors_naming_key_and_store(any_store):
    any_store.set("abc", b"a file")
    with pytest.raises(StoreError) as info:
        any_store.set("abc/x", b"below a file")  # a file is in the way of a directory
    assert "'abc/x'" in str(info.value) and repr(any_store) in str(info.value)
    assert isinstance(info.value.__cause__, OSError)
    assert any_store.get("abc") == b"a file"
    assert any_store.get("abc/x") is None and not any_store.exists("abc/x")
    with pytest.raises(StoreError):
        any_store.set_if_not_exists("abc/x", b"below a file")


def test_local_writes_leave_no_temporary_files(tmp_path):
    st = FsspecStore(fsspec.filesystem("file"), str(tmp_path / "d"))
    for i in range(5):
        st.set("a/b/k", b"%d" % i)
    assert st.set_if_not_exists("a/n", b"n") is True
    assert sorted(os.listdir(tmp_path / "d" / "a")) == ["b", "n"]
    assert os.listdir(tmp_path / "d" / "a" / "b") == ["k"]
    with pytest.raises(InvalidKeyError, match="reserved"):
        st.set("a/.__zarrsync_tmp__1.x", b"x")


def test_set_if_not_exists_has_one_winner_across_store_objects(mem_root):
    # two store objects over one root (an array's and its group's): the lock is process-wide
    fs = fsspec.filesystem("memory")
    stores = [FsspecStore(fs, mem_root), FsspecStore.from_url(f"memory://{mem_root}")]
    wins, lock = [], threading.Lock()

    def work(t: int) -> None:
        for i in range(8):
            if stores[t % 2].set_if_not_exists(f"race/{i}", b"%d" % t):
                with lock:
                    wins.append((i, t))

    run_threads(8, work)
    assert sorted(i for i, _ in wins) == list(range(8))
    for i, t in wins:
        assert stores[0].get(f"race/{i}") == b"%d" % t


def test_importing_zarrsync_does_not_import_fsspec():
    code = ("import sys, zarrsync, zarrsync.storage.fsspec_store; "
            "assert 'fsspec' not in sys.modules, 'fsspec imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_fsspec_names_the_extra(monkeypatch, mem_root):
    monkeypatch.setitem(sys.modules, "fsspec", None)  # import fsspec now raises ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "zarrsync\[remote\]"'):
        FsspecStore.from_url(f"memory://{mem_root}")


# --- arrays through the store ----------------------------------------------------------------------

def test_array_round_trip(any_store):
    a = zarrsync.create_array(any_store, shape=(10, 12), chunks=(4, 5), dtype="i4", fill_value=0)
    data = np.arange(120, dtype="i4").reshape(10, 12)
    a[:] = data
    np.testing.assert_array_equal(a[:], data)
    b = zarrsync.open_array(FsspecStore(any_store.fs, any_store.root, read_only=True))
    np.testing.assert_array_equal(b[:], data)
    np.testing.assert_array_equal(b[3:9, 2:11], data[3:9, 2:11])
    assert sorted(k for k in any_store.list() if k.startswith("c/")) == sorted(
        f"c/{i}/{j}" for i in range(3) for j in range(3))


def test_sharded_array_round_trip_and_partial_read(any_store):
    a = zarrsync.create_array(any_store, shape=(10, 12), chunks=(4, 5), shards=(8, 10), dtype="i4",
                              fill_value=0)
    data = (np.arange(120, dtype="i4") * 7).reshape(10, 12)
    a[:] = data
    b = zarrsync.open_array(FsspecStore.from_url(f"{any_store.protocol}://{any_store.root}"), mode="r")
    np.testing.assert_array_equal(b[:], data)
    np.testing.assert_array_equal(b[1:6, 3:8], data[1:6, 3:8])  # inner chunks of one shard
    np.testing.assert_array_equal(b[9, :], data[9, :])  # the edge shards
    a[2:4, 0:3] = -1  # a partial write into a shard
    data[2:4, 0:3] = -1
    np.testing.assert_array_equal(b[:], data)
    assert sorted(k for k in any_store.list() if k.startswith("c/")) == ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]
