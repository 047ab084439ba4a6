"""copy_store, copy, copy_all, from_array, save/load, create, open_like, create_hierarchy, and the
Group members added for zarr-python 3 parity (move, nmembers, info, get_*, *_like ...).
numpy and the stored bytes themselves are the oracles."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import zarrsync
from zarrsync import config
from zarrsync.codecs import GzipCodec
from zarrsync.errors import (ArrayNotFoundError, ConfigError, ContainsArrayError, ContainsGroupError,
                             GroupNotFoundError, InvalidKeyError, NodeNotFoundError, StoreError)
from zarrsync.metadata import GroupMetadata
from zarrsync.storage import LocalStore, MemoryStore, ZipStore


def data(shape=(10, 7), dtype="i4"):
    return (np.arange(np.prod(shape), dtype=dtype).reshape(shape) + 1)


def hierarchy(store, zarr_format=3):
    """A group with attributes, a nested array, a sharded/v2 array and a subgroup."""
    g = zarrsync.create_group(store, attributes={"title": "t"}, zarr_format=zarr_format)
    a = g.create_array("sub/a", shape=(10, 7), dtype="i4", chunks=(3, 3), fill_value=-1,
                       attributes={"units": "K"})
    a[...] = data()
    b = g.create_array("b", shape=(6,), dtype="f8", chunks=(2,))
    b[...] = np.linspace(0, 1, 6)
    return g


def all_items(store, prefix=""):
    return {k: bytes(store.get(k)) for k in store.list_prefix(prefix)}


def make_store(kind, tmp_path, name):
    if kind == "memory":
        return MemoryStore()
    if kind == "local":
        return LocalStore(str(tmp_path / f"{name}.zarr"))
    return ZipStore(str(tmp_path / f"{name}.zip"), mode="w")


KINDS = ["memory", "local", "zip"]


# --- copy_store ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("src_kind", KINDS)
@pytest.mark.parametrize("dst_kind", KINDS)
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_copy_store_round_trip_is_byte_exact(tmp_path, src_kind, dst_kind, zarr_format):
    src = make_store(src_kind, tmp_path, "src")
    hierarchy(src, zarr_format)
    dst = make_store(dst_kind, tmp_path, "dst")
    expected = all_items(src)
    n_copied, n_skipped, n_bytes = zarrsync.copy_store(src, dst)
    assert (n_copied, n_skipped, n_bytes) == (len(expected), 0, sum(map(len, expected.values())))
    assert all_items(dst) == expected
    g = zarrsync.open_group(dst, mode="r")
    np.testing.assert_array_equal(g["sub/a"][...], data())
    assert g.attrs["title"] == "t" and g["sub/a"].attrs["units"] == "K"


def test_copy_store_to_zip_path_is_written_out(tmp_path):
    src = MemoryStore()
    hierarchy(src)
    path = str(tmp_path / "out.zip")
    zarrsync.copy_store(src, path)  # a store made here from a path is closed: the archive exists
    with ZipStore(path, mode="r") as z:
        assert all_items(z) == all_items(src)


def test_copy_store_paths_and_filters():
    src = MemoryStore()
    hierarchy(src)
    dst = MemoryStore()
    n, _, _ = zarrsync.copy_store(src, dst, source_path="sub", dest_path="x/y", excludes=[r"/c/"],
                                  includes=[r"c/0/0$"])
    keys = set(dst.list())
    assert keys == {"x/y/zarr.json", "x/y/a/zarr.json", "x/y/a/c/0/0"}
    assert n == 3
    assert dst.get("x/y/a/c/0/0") == src.get("sub/a/c/0/0")
    # a single pattern string works too
    dst2 = MemoryStore()
    zarrsync.copy_store(src, dst2, excludes="zarr.json")
    assert not any(k.endswith("zarr.json") for k in dst2.list()) and not dst2.is_empty()


def test_copy_store_if_exists():
    src = MemoryStore()
    hierarchy(src)
    dst = MemoryStore()
    dst.set("b/c/0", b"old")
    before = all_items(dst)
    with pytest.raises(StoreError, match="b/c/0"):
        zarrsync.copy_store(src, dst)
    assert all_items(dst) == before  # checked before anything is written
    n_copied, n_skipped, _ = zarrsync.copy_store(src, dst, if_exists="skip")
    assert dst.get("b/c/0") == b"old" and n_skipped == 1 and n_copied == len(all_items(src)) - 1
    zarrsync.copy_store(src, dst, if_exists="replace")
    assert all_items(dst) == all_items(src)
    with pytest.raises(ConfigError, match="if_exists"):
        zarrsync.copy_store(src, dst, if_exists="overwrite")
    with pytest.raises(ConfigError, match="regular expression"):
        zarrsync.copy_store(src, dst, excludes=["("])


def test_copy_store_progress_callable_and_true():
    src = MemoryStore()
    hierarchy(src)
    calls = []
    zarrsync.copy_store(src, MemoryStore(), progress=lambda done, total: calls.append((done, total)))
    total = len(all_items(src))
    assert calls == [(i, total) for i in range(1, total + 1)]
    assert zarrsync.copy_store(src, MemoryStore(), progress=True)[0] == total  # tqdm or silence
    with pytest.raises(ConfigError, match="progress"):
        zarrsync.copy_store(src, MemoryStore(), progress="yes")


def test_copy_store_refuses_read_only_destination():
    src = MemoryStore()
    hierarchy(src)
    with pytest.raises(zarrsync.errors.ReadOnlyError):
        zarrsync.copy_store(src, MemoryStore().with_read_only(True))


# --- copy / copy_all ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dst_kind", KINDS)
def test_copy_group_recursive(tmp_path, dst_kind):
    src = hierarchy(MemoryStore())
    dest = zarrsync.create_group(make_store(dst_kind, tmp_path, "dst"))
    n_copied, n_skipped, n_bytes = zarrsync.copy(src["sub"], dest)
    assert (n_copied, n_skipped, n_bytes) == (2, 0, 10 * 7 * 4)
    a = dest["sub/a"]
    np.testing.assert_array_equal(a[...], data())
    assert a.chunks == (3, 3) and a.fill_value == -1 and dict(a.attrs) == {"units": "K"}


def test_copy_options():
    src = hierarchy(MemoryStore())
    dest = zarrsync.create_group(None)
    zarrsync.copy(src["sub/a"], dest, name="renamed", without_attrs=True, compressors=[GzipCodec(level=1)])
    assert dict(dest["renamed"].attrs) == {} and dest["renamed"].compressors == (GzipCodec(level=1),)
    with pytest.raises(ContainsArrayError):
        zarrsync.copy(src["sub/a"], dest, name="renamed")
    assert zarrsync.copy(src["sub/a"], dest, name="renamed", if_exists="skip") == (0, 1, 0)
    assert zarrsync.copy(src["sub/a"], dest, name="renamed", if_exists="replace")[0] == 1
    assert dict(dest["renamed"].attrs) == {"units": "K"}
    # all chunks stored: skip_initialized skips; a partly written one is replaced
    assert zarrsync.copy(src["sub/a"], dest, name="renamed", if_exists="skip_initialized") == (0, 1, 0)
    dest.create_array("partial", shape=(10, 7), dtype="i4", chunks=(3, 3))
    assert zarrsync.copy(src["sub/a"], dest, name="partial", if_exists="skip_initialized")[0] == 1
    with pytest.raises(InvalidKeyError):
        zarrsync.copy(src, dest)  # a root group needs a name
    # shallow: the root's arrays, not its subgroups
    shallow = zarrsync.create_group(None)
    zarrsync.copy(src, shallow, name="s", shallow=True)
    assert sorted(n for n, _ in shallow.members(max_depth=None)) == ["s", "s/b"]


def test_copy_into_v2_group_converts_format():
    src = hierarchy(MemoryStore())
    dest = zarrsync.create_group(None, zarr_format=2)
    zarrsync.copy(src["sub/a"], dest)
    assert dest["a"].zarr_format == 2
    np.testing.assert_array_equal(dest["a"][...], data())


def test_copy_all():
    src = hierarchy(MemoryStore())
    dest = zarrsync.create_group(None, attributes={"keep": 1})
    counts = zarrsync.copy_all(src, dest)
    assert counts == (3, 0, 10 * 7 * 4 + 6 * 8)  # b, sub, sub/a
    assert dict(dest.attrs) == {"keep": 1, "title": "t"}
    assert sorted(n for n, _ in dest.members(max_depth=None)) == ["b", "sub", "sub/a"]
    with pytest.raises(TypeError):
        zarrsync.copy_all(src["b"], dest)


# --- from_array ---------------------------------------------------------------------------------------
def test_from_array_keeps_source_settings():
    src = zarrsync.create_array(None, shape=(10, 9), dtype="i4", chunks=(3, 4), shards=(6, 8), fill_value=-1,
                                compressors=[GzipCodec(level=2)], attributes={"n": [1, {"k": 2}]},
                                dimension_names=["y", "x"], chunk_key_encoding={"name": "default", "separator": "."})
    src[...] = data((10, 9))
    new = zarrsync.from_array(MemoryStore(), data=src)
    assert (new.chunks, new.shards, new.fill_value, new.dimension_names) == ((3, 4), (6, 8), -1, ("y", "x"))
    assert new.compressors == (GzipCodec(level=2),)
    assert new.metadata.chunk_key_encoding == src.metadata.chunk_key_encoding
    assert dict(new.attrs) == dict(src.attrs)
    new.attrs["n"] = 0
    assert src.attrs["n"] == [1, {"k": 2}]  # a copy, not shared
    np.testing.assert_array_equal(new[...], src[...])
    over = zarrsync.from_array(None, data=src, chunks=(5, 5), shards=None, compressors=None, attributes={},
                               fill_value=7, write_data=False)
    assert (over.chunks, over.shards, over.compressors, dict(over.attrs), over.fill_value) == ((5, 5), None, (), {}, 7)
    assert over.nchunks_initialized() == 0


def test_from_array_v2_source_and_format_change():
    src = zarrsync.create_array(None, shape=(7,), dtype="i2", chunks=(3,), zarr_format=2, order="F",
                                dimension_separator="/", fill_value=None)
    src[...] = np.arange(7)
    same = zarrsync.from_array(None, data=src)
    doc = same.metadata.to_json()
    assert doc["dimension_separator"] == "/" and doc["order"] == "F" and doc["fill_value"] is None
    v3 = zarrsync.from_array(None, data=src, zarr_format=3)
    assert v3.zarr_format == 3 and v3.chunks == (3,)
    np.testing.assert_array_equal(v3[...], np.arange(7))


@pytest.mark.parametrize("source", [np.arange(12).reshape(3, 4), [[1, 2], [3, 4]], 5])
def test_from_array_array_likes(source):
    new = zarrsync.from_array(None, data=source)
    np.testing.assert_array_equal(new[...], np.asarray(source))


class RecordingStore(MemoryStore):
    """A MemoryStore that records the key of every read, in order (every read goes through ``_get``)."""

    def __init__(self):
        super().__init__()
        self.reads = []

    def _get(self, key, byte_range):
        self.reads.append(key)
        return super()._get(key, byte_range)


def test_from_array_reads_block_by_block_with_bounded_memory():
    store = RecordingStore()
    src = zarrsync.create_array(store, shape=(40, 40), dtype="f8", chunks=(10, 10))  # 16 chunks of 800 bytes
    src[...] = data((40, 40), "f8")
    store.reads.clear()
    reads_at_block_end = []
    with config.context(io_bytes_in_flight=1600):  # two stored chunks of the new array per block
        new = zarrsync.from_array(None, data=src, progress=lambda d, t: reads_at_block_end.append(
            (d, t, [k for k in store.reads if "/c/" in k or k.startswith("c/")])))
    np.testing.assert_array_equal(new[...], data((40, 40), "f8"))
    assert [r[:2] for r in reads_at_block_end] == [(i, 8) for i in range(1, 9)]
    seen = []
    for _, _, chunk_reads in reads_at_block_end:
        fresh = chunk_reads[len(seen):]
        assert len(fresh) == 2  # each block read exactly its own two chunks, before the next block
        seen += fresh
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 16  # every source chunk read once


def test_from_array_progress_true():
    assert zarrsync.from_array(None, data=np.arange(5), progress=True)[4] == 4


# --- save / load / create / open_like / tree / create_hierarchy -------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(tmp_path, kind):
    target = {"memory": {}, "local": str(tmp_path / "s.zarr"), "zip": str(tmp_path / "s.zip")}[kind]
    zarrsync.save(target, np.arange(5))
    np.testing.assert_array_equal(zarrsync.load(target), np.arange(5))
    zarrsync.save(target, np.arange(3), np.ones(2), named=np.eye(2))
    loaded = zarrsync.load(target)
    assert sorted(loaded) == ["arr_0", "arr_1", "named"] and len(loaded) == 3
    np.testing.assert_array_equal(loaded["named"], np.eye(2))
    with pytest.raises(NodeNotFoundError):
        loaded["nope"]


def test_save_array_options_and_errors():
    s = {}
    zarrsync.save_array(s, np.arange(10), path="x", chunks=(4,), zarr_format=2)
    a = zarrsync.open_array(s, path="x")
    assert a.zarr_format == 2 and a.chunks == (4,)
    with pytest.raises(ContainsArrayError):
        zarrsync.save_array(s, np.arange(10), path="x")
    zarrsync.save_array(s, np.arange(3), path="x", mode="w")
    np.testing.assert_array_equal(zarrsync.load(s, path="x"), np.arange(3))
    with pytest.raises(TypeError):
        zarrsync.save_array(s, object(), path="y")
    with pytest.raises(ConfigError):
        zarrsync.save_group(s)
    with pytest.raises(NodeNotFoundError):
        zarrsync.load(s, path="missing")


def test_create_legacy_signature():
    a = zarrsync.create((4, 4), chunks=(2, 2), dtype="i2", fill_value=3, codecs=[{"name": "bytes", "configuration": {"endian": "little"}}, GzipCodec(level=1)])
    assert a.chunks == (2, 2) and [c.name for c in a.codecs] == ["bytes", "gzip"]
    assert a[0, 0] == 3
    b = zarrsync.create(6, data=np.arange(6), chunk_key_encoding=("v2", "."), write_empty_chunks=True)
    np.testing.assert_array_equal(b[...], np.arange(6))
    assert b.config == {"write_empty_chunks": True}


def test_open_like():
    s = MemoryStore()
    src = zarrsync.create_array(None, shape=(4, 3), dtype="u1", chunks=(2, 3), fill_value=9)
    a = zarrsync.open_like(src, "like", store=s)
    assert (a.shape, a.dtype, a.chunks, a.fill_value) == ((4, 3), np.dtype("u1"), (2, 3), 9)
    a[...] = 1
    assert zarrsync.open_like(src, "like", store=s)[0, 0] == 1  # opened, not replaced
    with pytest.raises(ArrayNotFoundError):
        zarrsync.open_like(src, "other", store=s, mode="r+")
    with pytest.raises(ContainsArrayError):
        zarrsync.open_like(src, "like", store=s, mode="w-")


def test_tree_and_create_hierarchy():
    g = hierarchy(MemoryStore())
    assert zarrsync.tree(g) == g.tree() and zarrsync.tree(g, level=0) == g.tree(max_depth=0)
    s = MemoryStore()
    created = list(zarrsync.create_hierarchy(store=s, nodes={
        "a/b": GroupMetadata(attributes={"x": 1}), "": GroupMetadata(attributes={"root": True}),
        "a/arr": zarrsync.create_array(None, shape=(2,), dtype="i1").metadata}))
    assert [p for p, _ in created] == ["", "a/arr", "a/b"]
    root = zarrsync.open_group(s, mode="r")
    assert root.attrs["root"] is True and root["a/b"].attrs["x"] == 1 and root["a/arr"].shape == (2,)
    sub = root["a"]
    with pytest.raises(zarrsync.errors.ReadOnlyError):
        sub.create_hierarchy({"c": GroupMetadata()})
    rw = zarrsync.open_group(s)["a"]
    assert [p for p, _ in rw.create_hierarchy({"c/d": GroupMetadata()})] == ["c/d"]
    assert "c" in rw and "c/d" in rw
    with pytest.raises(zarrsync.errors.MetadataError, match="mix"):
        rw.create_hierarchy({"e": GroupMetadata(), "f": zarrsync.create_group(None, zarr_format=2).metadata})


# --- Group members --------------------------------------------------------------------------------------
@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("kind", ["memory", "local"])
def test_group_move(tmp_path, zarr_format, kind):
    store = make_store(kind, tmp_path, "m")
    g = hierarchy(store, zarr_format)
    before = {k[len("sub/"):]: v for k, v in all_items(store, "sub/").items()}
    g.move("sub", "moved/deeper")
    assert "sub" not in g and store.is_empty("sub/")
    after = {k[len("moved/deeper/"):]: v for k, v in all_items(store, "moved/deeper/").items()}
    assert after == before  # every key carried over byte for byte
    assert g["moved"].zarr_format == zarr_format
    np.testing.assert_array_equal(g["moved/deeper/a"][...], data())
    g.move("b", "b2")
    assert sorted(g.keys()) == ["b2", "moved"]
    with pytest.raises(NodeNotFoundError):
        g.move("nope", "x")
    with pytest.raises(ContainsGroupError):
        g.move("b2", "moved")
    with pytest.raises(InvalidKeyError):
        g.move("moved", "moved/inside")


def test_group_move_refused_by_zip(tmp_path):
    g = hierarchy(ZipStore(str(tmp_path / "z.zip"), mode="w"))
    with pytest.raises(StoreError, match="cannot delete"):
        g.move("b", "c")


def test_group_members_for_parity():
    g = hierarchy(MemoryStore())
    assert g.nmembers() == 2 and g.nmembers(max_depth=None) == 3 and g.nmembers(1) == 3
    assert g.get("missing") is None and g.get("missing", 5) == 5 and g.get("b") == g["b"]
    assert g.get_array("sub/a").shape == (10, 7) and g.get_group("sub").path == "sub"
    with pytest.raises(ContainsGroupError):
        g.get_array("sub")
    with pytest.raises(ContainsArrayError):
        g.get_group("b")
    with pytest.raises(ArrayNotFoundError):
        g.get_array("x")
    with pytest.raises(GroupNotFoundError):
        g.get_group("x")
    assert [a.path for a in g.array_values()] == ["b"] and [s.path for s in g.group_values()] == ["sub"]
    assert [x.path for x in g.require_groups("sub", "new")] == ["sub", "new"]
    z = g.zeros(name="z", shape=(3,))
    assert z.dtype == np.dtype("float64") and z[0] == 0
    assert g.ones(name="o", shape=(2,), dtype="i1")[1] == 1
    assert g.full(name="f", shape=(2,), fill_value=2.5)[0] == 2.5
    assert g.empty(name="e", shape=(2,)).shape == (2,)
    like = g.full_like(name="fl", data=g["sub/a"])
    assert (like.chunks, like.fill_value, like[0, 0]) == ((3, 3), -1, -1)
    assert g.zeros_like(name="zl", data=g["sub/a"])[0, 0] == 0
    assert g.ones_like(name="ol", data=np.zeros((2, 2), "u2"))[1, 1] == 1
    assert g.empty_like(name="el", data=g["sub/a"]).fill_value == -1


def test_group_info():
    g = hierarchy(MemoryStore())
    info = g["sub"].info
    assert (info.name, info.zarr_format, info.read_only, info.store_type) == ("sub", 3, False, "MemoryStore")
    assert info.count_members is None and "No. members" not in repr(info)
    full = g.info_complete()
    assert (full.count_members, full.count_arrays, full.count_groups) == (3, 2, 1)
    assert "No. arrays  : 2" in repr(full)
    consolidated = zarrsync.consolidate_metadata(g.store)
    assert consolidated.info.count_members == 3  # from the consolidated metadata, no walk


def test_group_from_store_and_open(tmp_path):
    path = str(tmp_path / "g.zarr")
    g = zarrsync.Group.from_store(path, attributes={"a": 1}, zarr_format=2)
    assert g.zarr_format == 2
    assert zarrsync.Group.open(path, zarr_format=None).attrs["a"] == 1
    with pytest.raises(GroupNotFoundError):
        zarrsync.Group.open(path)  # v3 asked, v2 stored
    with pytest.raises(ContainsArrayError):
        zarrsync.Group.open(zarrsync.create_array(None, shape=(1,), dtype="i1").store)


def test_async_twins():
    g = hierarchy(MemoryStore())

    async def main():
        n = await g.nmembers_async(max_depth=None)
        arr = await zarrsync.from_array_async(None, data=np.arange(3))
        counts = await zarrsync.copy_store_async(g.store, MemoryStore())
        return n, arr[...], counts[0]

    n, values, copied = asyncio.run(main())
    assert n == 3 and list(values) == [0, 1, 2] and copied == len(all_items(g.store))
