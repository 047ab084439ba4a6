"""Tests of zarrsync.storage.object_store.ObjectStore over obstore's own MemoryStore and LocalStore:
the shared StoreTests suite, then what is particular to obstore (version-checked snapshots,
create-if-absent, calls made, identity, URLs, arrays)."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from oracles import require

obstore = require("obstore")

from obstore.store import LocalStore as ObLocalStore  # noqa: E402
from obstore.store import MemoryStore as ObMemoryStore  # noqa: E402
from obstore.store import S3Store  # noqa: E402

import zarrsync  # noqa: E402
from zarrsync.errors import (  # noqa: E402
    InvalidKeyError, MissingDependencyError, ReadOnlyError, StoreError, VersionChangedError,
)
from zarrsync.storage import LocalStore  # noqa: E402
from zarrsync.storage.base import OffsetRequest, RangeRequest, SuffixRequest  # noqa: E402
from zarrsync.storage.object_store import ObjectStore, _obstore  # noqa: E402
from zarrsync.testing import StoreTests, run_threads  # noqa: E402

VALUE = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable


class _ObjectStoreContract(StoreTests):
    store_cls = ObjectStore

    snapshot_keeps_old_version = False  # an ETag-checked read raises VersionChangedError instead


class TestObjectStoreOverMemory(_ObjectStoreContract):
    pickle_keeps_identity = False  # obstore's MemoryStore does not pickle: the copy holds the data

    def make_store(self, tmp_path):
        return ObjectStore(ObMemoryStore())


class TestObjectStoreOverMemoryWithPrefix(_ObjectStoreContract):
    pickle_keeps_identity = False

    def make_store(self, tmp_path):
        return ObjectStore(ObMemoryStore(), prefix="root/dir")


class TestObjectStoreOverLocal(_ObjectStoreContract):
    def make_store(self, tmp_path):
        return ObjectStore(ObLocalStore(prefix=str(tmp_path)))


@pytest.fixture(params=["memory", "local"])
def store(request, tmp_path):
    if request.param == "memory":
        return ObjectStore(ObMemoryStore())
    return ObjectStore(ObLocalStore(prefix=str(tmp_path)))


@pytest.fixture
def calls(monkeypatch):
    """Count obstore's ``get``, ``get_ranges`` and ``head`` calls (the real ones run)."""
    counts = {"get": [], "get_ranges": [], "head": []}
    for name in counts:
        real = getattr(obstore, name)

        def counting(store, path, *args, _real=real, _name=name, **kwargs):
            counts[_name].append((path, kwargs.get("options")))
            return _real(store, path, *args, **kwargs)

        monkeypatch.setattr(obstore, name, counting)
    return counts


# --- reads ----------------------------------------------------------------------------------------

def test_ranges_read_the_written_bytes(store):
    store.set("a/k", VALUE)
    assert store.get("a/k", RangeRequest(100, 110)) == VALUE[100:110]
    assert store.get("a/k", RangeRequest(1020, 5000)) == VALUE[1020:]
    assert store.get("a/k", RangeRequest(1024, 5000)) == b""
    assert store.get("a/k", OffsetRequest(1023)) == VALUE[1023:]
    assert store.get("a/k", SuffixRequest(5)) == VALUE[-5:]
    requests = [RangeRequest(0, 3), RangeRequest(512, 600), OffsetRequest(1000), SuffixRequest(2),
                RangeRequest(2000, 2001), RangeRequest(7, 7), RangeRequest(0, 3)]
    assert store.get_ranges("a/k", requests) == [VALUE[0:3], VALUE[512:600], VALUE[1000:], VALUE[-2:], b"", b"",
                                                 VALUE[0:3]]


def test_get_ranges_is_one_head_and_one_call(store, calls):
    store.set("k", VALUE)
    got = store.get_ranges("k", [RangeRequest(0, 10), RangeRequest(500, 520), SuffixRequest(4)])
    assert got == [VALUE[:10], VALUE[500:520], VALUE[-4:]]
    assert len(calls["head"]) == 1 and len(calls["get_ranges"]) == 1 and calls["get"] == []


def test_one_range_is_one_get(store, calls):
    store.set("k", VALUE)
    assert store.get_ranges("k", [RangeRequest(3, 9)]) == [VALUE[3:9]]
    assert store.get("k", RangeRequest(3, 9)) == VALUE[3:9]
    assert calls["head"] == [] and calls["get_ranges"] == []
    assert [options for _, options in calls["get"]] == [{"range": (3, 9)}] * 2


def test_exists_and_getsize_do_not_download(store, calls):
    store.set("big", VALUE * 64)
    assert store.exists("big") is True
    assert store.getsize("big") == len(VALUE) * 64
    assert store.exists("nope") is False
    assert store.getsize("nope") is None
    assert calls["get"] == [] and calls["get_ranges"] == []
    assert len(calls["head"]) == 4


def test_failures_name_the_key_and_store(tmp_path):
    # obstore's LocalStore keeps names ending in "#<digits>" for its temporary files
    store = ObjectStore(ObLocalStore(prefix=str(tmp_path)))
    with pytest.raises(StoreError, match=r"'c/0#1'.*ObjectStore\(LocalStore"):
        store.set("c/0#1", b"x")
    with pytest.raises(StoreError, match="c/0#1"):
        store.get("c/0#1")


# --- snapshots ------------------------------------------------------------------------------------

def test_snapshot_reads_check_the_e_tag(store, calls):
    store.set("shard", VALUE)
    with store.snapshot("shard") as snap:
        e_tag = obstore.head(store.store, store.prefix + "shard")["e_tag"]
        assert snap.read([RangeRequest(10, 20), SuffixRequest(16)]) == [VALUE[10:20], VALUE[-16:]]
        assert [options for _, options in calls["get"]] == [
            {"range": (10, 20), "if_match": e_tag}, {"range": (1008, 1024), "if_match": e_tag}]
        store.set("shard", VALUE[::-1])  # same size, other bytes: only the version check can tell
        with pytest.raises(VersionChangedError):
            snap.read([RangeRequest(10, 20)])
    with store.snapshot("shard") as snap:
        assert snap.read([RangeRequest(10, 20)]) == [VALUE[::-1][10:20]]


# --- writes ---------------------------------------------------------------------------------------

def test_set_if_not_exists_has_one_winner_among_8_threads(store):
    winners = []

    def race(t: int) -> None:
        if store.set_if_not_exists("zarr.json", b"thread %d" % t):
            winners.append(t)

    run_threads(8, race)
    assert len(winners) == 1
    assert store.get("zarr.json") == b"thread %d" % winners[0]


def test_read_only_refuses_writes(tmp_path):
    for store in (ObjectStore(ObMemoryStore(), read_only=True),
                  ObjectStore.from_url(f"file://{tmp_path}", read_only=True)):
        for write in (lambda: store.set("k", b"v"), lambda: store.set_if_not_exists("k", b"v"),
                      lambda: store.delete("k"), lambda: store.delete_prefix("")):
            with pytest.raises(ReadOnlyError):
                write()
        assert store.is_empty()
        with pytest.raises(ReadOnlyError):
            zarrsync.create_array(store, shape=(4,), chunks=(2,), dtype="i4")


def test_prefix_places_keys_below_it():
    inner = ObMemoryStore()
    obstore.put(inner, "outside", b"o")
    store = ObjectStore(inner, prefix="data/root/")
    assert store == ObjectStore(inner, prefix="data/root")
    store.set("a/b", b"x")
    assert bytes(obstore.get(inner, "data/root/a/b").bytes()) == b"x"
    assert list(store.list()) == ["a/b"]
    assert list(store.list_dir("")) == ["a"]
    store.delete_prefix("")
    assert [m["path"] for m in obstore.list(inner).collect()] == ["outside"]


@pytest.mark.parametrize("prefix", ["/a", "a/../b", "a//b"])
def test_invalid_prefix_is_refused(prefix):
    with pytest.raises(InvalidKeyError):
        ObjectStore(ObMemoryStore(), prefix=prefix)


def test_only_obstore_stores_are_wrapped(tmp_path):
    with pytest.raises(StoreError, match="obstore"):
        ObjectStore(LocalStore(tmp_path))


# --- identity, pickling, capabilities -------------------------------------------------------------

def test_identity(tmp_path):
    inner = ObMemoryStore()
    assert ObjectStore(inner) == ObjectStore(inner)
    assert hash(ObjectStore(inner)) == hash(ObjectStore(inner))
    assert ObjectStore(inner) != ObjectStore(ObMemoryStore())
    assert ObjectStore(inner, prefix="a").location("b") == ObjectStore(inner).location("a/b")
    # over one directory, obstore's LocalStore and zarrsync's share per-chunk locks
    ob = ObjectStore(ObLocalStore(prefix=str(tmp_path)))
    assert ob.location("c/0") == LocalStore(tmp_path).location("c/0")
    assert ob.lock_id() == LocalStore(tmp_path).lock_id()
    assert ObjectStore(ObLocalStore(prefix=str(tmp_path)), prefix="g").location("c/0") == ob.location("g/c/0")


def test_remote_identity_and_pickling_need_no_network():
    def s3(bucket, secret="SK"):
        return ObjectStore(S3Store(bucket, prefix="p", region="us-east-1", access_key_id="AK",
                                   secret_access_key=secret))

    assert s3("b1") == s3("b1", secret="other")
    assert s3("b1") != s3("b2")
    assert "SK" not in repr(s3("b1")) and "SK" not in repr(s3("b1").lock_id())
    copy = pickle.loads(pickle.dumps(s3("b1").with_read_only()))
    assert copy == s3("b1").with_read_only() and copy.read_only
    assert s3("b1").latency_bound is True


def test_local_and_memory_are_not_latency_bound(tmp_path):
    assert ObjectStore(ObMemoryStore()).latency_bound is False
    assert ObjectStore(ObLocalStore(prefix=str(tmp_path))).latency_bound is False
    assert ObjectStore.supports_byte_ranges is True


def test_pickled_memory_store_is_a_copy():
    store = ObjectStore(ObMemoryStore(), prefix="p")
    store.set("k", b"v")
    copy = pickle.loads(pickle.dumps(store))
    assert copy.get("k") == b"v" and copy.prefix == "p/"
    copy.set("k", b"changed")
    assert store.get("k") == b"v"


# --- URLs and the optional import -----------------------------------------------------------------

def test_from_url_memory_and_file(tmp_path):
    mem = ObjectStore.from_url("memory:///")
    mem.set("k", b"v")
    assert mem.get("k") == b"v" and mem.latency_bound is False
    local = ObjectStore.from_url(f"file://{tmp_path}")
    local.set("a/k", b"w")
    assert (tmp_path / "a" / "k").read_bytes() == b"w"
    assert local == ObjectStore(ObLocalStore(prefix=str(tmp_path)))
    made = ObjectStore.from_url(f"file://{tmp_path}/new", storage_options={"mkdir": True})
    made.set("k", b"x")
    assert (tmp_path / "new" / "k").read_bytes() == b"x"


def test_from_url_failures_are_store_errors(tmp_path):
    with pytest.raises(StoreError, match="missing"):
        ObjectStore.from_url(f"file://{tmp_path}/missing")  # obstore's LocalStore needs its root
    with pytest.raises(StoreError, match="nosuch"):
        ObjectStore.from_url("nosuch://x/y")
    with pytest.raises(StoreError):
        ObjectStore.from_url("s3://bucket/p", storage_options={"not_an_option": 1})


def test_importing_zarrsync_does_not_import_obstore():
    code = ("import sys, zarrsync, zarrsync.storage.object_store; "
            "assert 'obstore' not in sys.modules, 'obstore imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_obstore_is_a_store_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "obstore", None)  # what an uninstalled package looks like to import
    _obstore.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match=r'pip install "zarrsync\[remote\]"'):
            ObjectStore.from_url("memory:///")
    finally:
        _obstore.cache_clear()


# --- arrays ---------------------------------------------------------------------------------------

def test_array_round_trip(store):
    data = np.arange(120, dtype="i4").reshape(10, 12)
    a = zarrsync.create_array(store, shape=(10, 12), chunks=(4, 5), dtype="i4", fill_value=0)
    a[...] = data
    b = zarrsync.open_array(store, mode="r")
    np.testing.assert_array_equal(b[...], data)
    np.testing.assert_array_equal(b[3:7, 4:11], data[3:7, 4:11])
    assert sorted(store.list_dir("c")) == ["0", "1", "2"]


def test_sharded_array_partial_read_uses_snapshots(store, calls):
    data = np.arange(120, dtype="i4").reshape(10, 12)
    a = zarrsync.create_array(store, shape=(10, 12), chunks=(4, 5), shards=(8, 10), dtype="i4", fill_value=0)
    a[...] = data
    np.testing.assert_array_equal(a[...], data)
    for name in calls:
        calls[name].clear()
    np.testing.assert_array_equal(a[1:3, 2:4], data[1:3, 2:4])
    first, *then = [options for path, options in calls["get"] if path.endswith("c/0/0")]
    # the index (the last bytes), whose answer names the version, then ranges of that version
    assert first == {"range": {"suffix": 16 * 4 + 4}} and not calls["head"]
    assert then and all(options.get("if_match") for options in then)
    assert all(options["range"][1] - options["range"][0] < store.getsize("c/0/0") for options in then)


def test_sharded_read_starts_over_when_the_shard_changes(store, monkeypatch):
    a = zarrsync.create_array(store, shape=(10, 12), chunks=(4, 5), shards=(8, 10), dtype="i4", fill_value=0)
    old, new = np.zeros((10, 12), "i4") + 1, np.arange(120, dtype="i4").reshape(10, 12)
    a[...] = new
    new_shard = store.get("c/0/0")
    a[...] = old
    real_get, opened = obstore.get, []

    def get_then_rewrite(ob, path, options=None):
        result = real_get(ob, path, options=options)
        if path.endswith("c/0/0") and not (options or {}).get("if_match"):
            opened.append(path)
            if len(opened) == 1:  # a writer replaces the shard right after the reader read its index
                store.set("c/0/0", new_shard)
        return result

    monkeypatch.setattr(obstore, "get", get_then_rewrite)
    np.testing.assert_array_equal(a[1:6, 2:9], new[1:6, 2:9])  # never a mix of the two versions
    assert len(opened) == 2
