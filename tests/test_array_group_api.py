"""The public Array, Group and api surface: properties, selections via dunder methods, resize,
append, attributes, stored sizes, empty-chunk elision, read-only refusal, creation arguments,
open modes, convenience constructors, groups and hierarchies, local and zip stores, and the
one-chunk inline fast path. numpy (and the Zarr v3 spec, spelled out here) are the oracles.
"""

from __future__ import annotations

import collections
import json
import math
import threading
import zipfile

import numpy as np
import pytest

import zarrsync
import zarrsync.executor
from zarrsync import config
from zarrsync.codecs import BytesCodec, Crc32cCodec, GzipCodec, TransposeCodec, ZstdCodec
from zarrsync.errors import (
    ArrayNotFoundError, ContainsArrayError, ContainsGroupError, FillValueError, GroupNotFoundError,
    IndexingError, NodeNotFoundError, ReadOnlyError, ValueShapeError, ZarrsyncError,
)
from zarrsync.metadata import ArrayMetadata, GroupMetadata
from zarrsync.storage import LocalStore, MemoryStore, ZipStore


class CountingStore(MemoryStore):
    """A MemoryStore that counts ``get`` calls per key and records the calling threads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gets = collections.Counter()
        self.threads = set()
        self._count_lock = threading.Lock()

    def get(self, key, byte_range=None):
        with self._count_lock:
            self.gets[key] += 1
            self.threads.add(threading.get_ident())
        return super().get(key, byte_range)

    def set(self, key, value):
        with self._count_lock:
            self.threads.add(threading.get_ident())
        return super().set(key, value)


def chunk_keys(store, prefix="") -> set:
    """Stored keys below ``prefix`` that are not metadata documents."""
    return {k for k in store.list_prefix(prefix) if not k.endswith("zarr.json")}


def doc(store, key) -> dict:
    return json.loads(store.get(key))


def data_2d(shape=(10, 7), dtype="i4"):
    return np.arange(math.prod(shape), dtype=dtype).reshape(shape) + 1


# --- properties -----------------------------------------------------------------------------------
def test_array_properties():
    store = MemoryStore()
    compressors = [GzipCodec(level=1)]
    a = zarrsync.create_array(
        store, name="grp/sub/temp", shape=(10, 7), dtype="int32", chunks=(4, 3), fill_value=-1,
        compressors=compressors, attributes={"units": "K", "n": [1, 2]}, dimension_names=["y", None],
    )
    assert a.shape == (10, 7)
    assert a.dtype == np.dtype("int32")
    assert a.chunks == (4, 3)
    assert a.ndim == 2
    assert a.size == 70
    assert a.nbytes == 70 * 4
    assert a.fill_value == -1 and np.asarray(a.fill_value).dtype == np.dtype("int32")
    assert dict(a.attrs) == {"units": "K", "n": [1, 2]}
    assert a.path == "grp/sub/temp"
    assert a.name == "/grp/sub/temp"
    assert a.basename == "temp"
    assert a.store is store
    assert a.read_only is False
    assert a.nchunks == math.ceil(10 / 4) * math.ceil(7 / 3) == 9
    assert a.cdata_shape == (3, 3)
    assert isinstance(a.metadata, ArrayMetadata)
    assert a.metadata.shape == (10, 7) and a.metadata.chunk_shape == (4, 3)
    assert a.dimension_names == ("y", None)
    assert a.zarr_format == 3
    assert a.compressors == (GzipCodec(level=1),)
    assert a.filters == ()
    assert a.serializer == BytesCodec("little")
    assert a.codecs == (BytesCodec("little"), GzipCodec(level=1))
    info = a.info
    assert info.shape == (10, 7) and info.chunk_shape == (4, 3) and info.data_type == "int32"
    assert info.zarr_format == 3 and info.read_only is False and info.nbytes == 280
    assert info.fill_value == -1 and [c["name"] for c in info.codecs] == ["bytes", "gzip"]
    text = repr(info)
    assert "(10, 7)" in text and "int32" in text and "gzip" in text and "280" in text
    # the stored document says the same
    d = doc(store, "grp/sub/temp/zarr.json")
    assert d["shape"] == [10, 7] and d["data_type"] == "int32" and d["fill_value"] == -1
    assert d["chunk_grid"] == {"name": "regular", "configuration": {"chunk_shape": [4, 3]}}
    assert d["dimension_names"] == ["y", None]
    assert d["attributes"] == {"units": "K", "n": [1, 2]}
    assert d["codecs"] == [{"name": "bytes", "configuration": {"endian": "little"}},
                           {"name": "gzip", "configuration": {"level": 1}}]


def test_root_and_zero_dim_properties():
    a = zarrsync.create_array(None, shape=(), dtype="f4", fill_value=1.5)
    assert a.path == "" and a.name == "/" and a.basename == ""
    assert a.shape == () and a.ndim == 0 and a.size == 1 and a.nbytes == 4
    assert a.chunks == () and a.nchunks == 1 and a.cdata_shape == ()
    assert a.dimension_names is None
    assert a[()] == np.float32(1.5)
    with pytest.raises(TypeError):
        len(a)
    with pytest.raises(TypeError):
        iter(a).__next__()
    empty = zarrsync.create_array(None, shape=(0, 5), dtype="i1", chunks=(2, 2))
    assert empty.size == 0 and empty.nchunks == 0 and empty.cdata_shape == (0, 3)
    assert len(empty) == 0 and list(empty) == []


def test_read_only_flag_and_open_read_only():
    store = MemoryStore()
    zarrsync.create_array(store, shape=(3,), dtype="i2")
    r = zarrsync.open_array(store, mode="r")
    assert r.read_only is True and r.info.read_only is True
    assert zarrsync.open_array(store, mode="r+").read_only is False


# --- numpy protocol -----------------------------------------------------------------------------
def test_array_len_iter_and_numpy_conversion():
    x = data_2d()
    a = zarrsync.array(x, chunks=(3, 4))
    assert len(a) == 10
    np.testing.assert_array_equal(np.asarray(a), x)
    conv = np.asarray(a, dtype="f8")
    assert conv.dtype == np.float64
    np.testing.assert_array_equal(conv, x.astype("f8"))
    rows = list(a)
    assert len(rows) == 10
    for got, want in zip(rows, x):
        np.testing.assert_array_equal(got, want)
    one_d = zarrsync.array(np.arange(7, dtype="u2"), chunks=(3,))
    assert [int(v) for v in one_d] == list(range(7))
    assert np.add(a, 1).tolist() == (x + 1).tolist()  # __array__ via a ufunc


def test_iteration_reads_each_chunk_once():
    store = CountingStore()
    x = data_2d((11, 7))
    a = zarrsync.create_array(store, shape=x.shape, dtype=x.dtype, chunks=(3, 4))
    a[...] = x
    a[6:9, :] = 0  # the chunk row 2 is all fill on the right half: one key missing
    x[6:9, :] = 0
    store.gets.clear()
    rows = list(a)
    np.testing.assert_array_equal(np.stack(rows), x)
    chunk_gets = {k: n for k, n in store.gets.items() if not k.endswith("zarr.json")}
    expected = {f"c/{i}/{j}" for i in range(4) for j in range(2)}
    assert set(chunk_gets) == expected
    assert all(n == 1 for n in chunk_gets.values()), chunk_gets


# --- resize and append --------------------------------------------------------------------------
def test_resize_grow_and_shrink():
    store = MemoryStore()
    x = data_2d()
    a = zarrsync.create_array(store, shape=x.shape, dtype=x.dtype, chunks=(4, 3), fill_value=-1)
    a[...] = x
    assert len(chunk_keys(store)) == 9
    a.resize((5, 5))
    assert a.shape == (5, 5) and a.cdata_shape == (2, 2) and a.nchunks == 4
    np.testing.assert_array_equal(a[...], x[:5, :5])
    # chunks wholly outside the new shape are gone
    assert chunk_keys(store) == {"c/0/0", "c/0/1", "c/1/0", "c/1/1"}
    assert zarrsync.open_array(store).shape == (5, 5)
    # growing again: what shrinking cut off does not come back
    a.resize((10, 7))
    want = np.full((10, 7), -1, dtype=x.dtype)
    want[:5, :5] = x[:5, :5]
    np.testing.assert_array_equal(a[...], want)
    np.testing.assert_array_equal(zarrsync.open_array(store)[...], want)
    a.resize((12, 9))
    want = np.pad(want, ((0, 2), (0, 2)), constant_values=-1)
    np.testing.assert_array_equal(a[...], want)
    a.resize((0, 9))
    assert chunk_keys(store) == set() and a[...].shape == (0, 9)


def test_resize_one_dim_int_and_without_deleting():
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(10,), dtype="u1", chunks=(4,))
    a[...] = np.arange(1, 11, dtype="u1")
    a.resize(6)
    assert a.shape == (6,)
    np.testing.assert_array_equal(a[...], np.arange(1, 7, dtype="u1"))
    a.resize(10)
    np.testing.assert_array_equal(a[...], [1, 2, 3, 4, 5, 6, 0, 0, 0, 0])
    b = zarrsync.create_array(MemoryStore(), shape=(10,), dtype="u1", chunks=(4,))
    b[...] = 7
    b.resize((3,), delete_outside_chunks=False)
    assert len(chunk_keys(b.store)) == 3  # kept
    for bad in [(3, 3), (-1,), (2.5,), "x"]:
        with pytest.raises(ValueShapeError):
            b.resize(bad)


def test_append_along_axes():
    x = data_2d((5, 3))
    a = zarrsync.array(x, chunks=(2, 2))
    extra = np.full((3, 3), 9, dtype=x.dtype)
    assert a.append(extra) == (8, 3)
    x = np.concatenate([x, extra])
    np.testing.assert_array_equal(a[...], x)
    cols = np.arange(16, dtype=x.dtype).reshape(8, 2)
    assert a.append(cols, axis=1) == (8, 5)
    x = np.concatenate([x, cols], axis=1)
    np.testing.assert_array_equal(a[...], x)
    more = -np.ones((8, 1), dtype=x.dtype)
    assert a.append(more, axis=-1) == (8, 6)
    x = np.concatenate([x, more], axis=-1)
    np.testing.assert_array_equal(a[...], x)
    np.testing.assert_array_equal(zarrsync.open_array(a.store)[...], x)
    with pytest.raises(ValueShapeError):
        a.append(np.zeros((2, 5), dtype=x.dtype))  # wrong length off the axis
    with pytest.raises(ValueShapeError):
        a.append(np.zeros(6, dtype=x.dtype))  # wrong ndim
    with pytest.raises(IndexingError):
        a.append(np.zeros((1, 6), dtype=x.dtype), axis=2)
    assert a.shape == (8, 6)


# --- attributes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["array", "group"])
def test_attributes(kind):
    store = MemoryStore()
    if kind == "array":
        node = zarrsync.create_array(store, name="n", shape=(2,), dtype="i1", attributes={"a": 1})
        reopen = lambda: zarrsync.open_array(store, path="n")  # noqa: E731
    else:
        node = zarrsync.create_group(store, path="n", attributes={"a": 1})
        reopen = lambda: zarrsync.open_group(store, path="n", mode="r")  # noqa: E731
    assert node.update_attributes({"b": [1, "x"], "c": {"d": None}}) is node
    want = {"a": 1, "b": [1, "x"], "c": {"d": None}}
    assert dict(node.attrs) == want and dict(reopen().attrs) == want
    node.attrs["a"] = 2.5
    want["a"] = 2.5
    del node.attrs["b"]
    del want["b"]
    assert dict(node.attrs) == want == node.attrs.asdict()
    assert dict(reopen().attrs) == want
    assert len(node.attrs) == 2 and sorted(node.attrs) == ["a", "c"] and node.attrs["c"] == {"d": None}
    with pytest.raises(KeyError):
        del node.attrs["missing"]
    with pytest.raises(KeyError):
        node.attrs["missing"]
    node.attrs.put({"only": True})
    assert dict(node.attrs) == {"only": True} == dict(reopen().attrs)
    assert doc(store, "n/zarr.json")["attributes"] == {"only": True}


# --- stored data --------------------------------------------------------------------------------
def test_nchunks_initialized_nbytes_stored_info_complete():
    store = MemoryStore()
    a = zarrsync.create_array(store, name="a", shape=(10, 10), dtype="f8", chunks=(5, 5), compressors=None)
    assert a.nchunks_initialized() == 0
    assert a.nbytes_stored() == len(store.get("a/zarr.json"))
    a[:5, :] = 1.0
    assert a.nchunks_initialized() == 2
    a[7, 7] = 2.0
    assert a.nchunks_initialized() == 3
    # uncompressed: every chunk stores 25 float64 values
    assert a.nbytes_stored() == len(store.get("a/zarr.json")) + 3 * 25 * 8
    info = a.info_complete()
    assert info.count_chunks_initialized == 3
    assert info.count_bytes_stored == a.nbytes_stored()
    assert "Chunks initialized" in repr(info)
    # a sibling whose name starts with the array's name is not counted
    zarrsync.create_array(store, name="ab", shape=(4,), dtype="f8", chunks=(2,))[...] = 1.0
    assert a.nchunks_initialized() == 3


# --- write_empty_chunks -------------------------------------------------------------------------
def test_write_empty_chunks_default_deletes_fill_chunks():
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(8,), dtype="i2", chunks=(4,), fill_value=5)
    a[...] = np.arange(8, dtype="i2")
    assert chunk_keys(store) == {"c/0", "c/1"}
    a[:4] = 5  # whole chunk back to fill: deleted
    assert chunk_keys(store) == {"c/1"}
    a[4:6] = 5
    a[6:] = 5  # partial writes that leave the chunk all fill: deleted too
    assert chunk_keys(store) == set()
    np.testing.assert_array_equal(a[...], np.full(8, 5, dtype="i2"))
    a[...] = 5  # never stored at all
    assert chunk_keys(store) == set()


def test_write_empty_chunks_nan_fill():
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(6,), dtype="f4", chunks=(3,), fill_value=float("nan"))
    a[...] = 1.0
    assert chunk_keys(store) == {"c/0", "c/1"}
    a[:3] = np.nan
    assert chunk_keys(store) == {"c/1"}
    a[3:] = np.array([np.nan] * 3, dtype="f4")
    assert chunk_keys(store) == set()
    assert np.isnan(a[...]).all()


def test_write_empty_chunks_setting_stores_them():
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(8,), dtype="f8", chunks=(4,), fill_value=float("nan"))
    with config.context(write_empty_chunks=True):
        a[...] = np.nan
        assert chunk_keys(store) == {"c/0", "c/1"}
        a[:4] = 0.0
        a[:4] = np.nan
    assert chunk_keys(store) == {"c/0", "c/1"}
    assert config.get().write_empty_chunks is False  # the override ended with the block
    b = zarrsync.create_array(MemoryStore(), shape=(4,), dtype="i4", chunks=(2,))
    with config.context(write_empty_chunks=True):
        b[...] = 0
    assert chunk_keys(b.store) == {"c/0", "c/1"}
    b[:2] = 0
    assert chunk_keys(b.store) == {"c/1"}


# --- read-only ---------------------------------------------------------------------------------
def test_read_only_refuses_writes():
    store = MemoryStore()
    a = zarrsync.create_array(store, name="g/a", shape=(4,), dtype="i4", chunks=(2,))
    a[...] = 3
    snapshot = lambda: {k: store.get(k) for k in store.list()}  # noqa: E731
    before = snapshot()
    r = zarrsync.open_array(store, path="g/a", mode="r")
    for op in [
        lambda: r.__setitem__(slice(None), 1),
        lambda: r.set_basic_selection(0, 1),
        lambda: r.resize((8,)),
        lambda: r.append(np.ones(2, dtype="i4")),
        lambda: r.update_attributes({"x": 1}),
        lambda: r.attrs.__setitem__("x", 1),
        lambda: r.attrs.put({}),
    ]:
        with pytest.raises(ReadOnlyError):
            op()
    g = zarrsync.open_group(store, path="g", mode="r")
    assert g.read_only
    for op in [
        lambda: g.create_group("h"),
        lambda: g.create_array("b", shape=(1,), dtype="i1"),
        lambda: g.__delitem__("a"),
        lambda: g.update_attributes({"x": 1}),
        lambda: g.attrs.__setitem__("x", 1),
        lambda: g.require_group("new"),
    ]:
        with pytest.raises(ReadOnlyError):
            op()
    assert issubclass(ReadOnlyError, PermissionError)
    assert snapshot() == before  # nothing changed
    np.testing.assert_array_equal(r[...], [3, 3, 3, 3])


# --- create_array arguments ---------------------------------------------------------------------
def test_codecs_as_objects_and_json_dicts():
    x = data_2d((6, 4), dtype="i2")
    a = zarrsync.create_array(None, shape=x.shape, dtype="i2", chunks=(3, 4),
                              serializer=BytesCodec("big"), compressors=[ZstdCodec(level=3, checksum=True), Crc32cCodec()])
    a[...] = x
    np.testing.assert_array_equal(a[...], x)
    assert doc(a.store, "zarr.json")["codecs"] == [
        {"name": "bytes", "configuration": {"endian": "big"}},
        {"name": "zstd", "configuration": {"level": 3, "checksum": True}},
        {"name": "crc32c"},
    ]
    b = zarrsync.create_array(None, shape=x.shape, dtype="i2", chunks=(3, 4),
                              serializer={"name": "bytes", "configuration": {"endian": "little"}},
                              filters=[{"name": "transpose", "configuration": {"order": [1, 0]}}],
                              compressors=[{"name": "gzip", "configuration": {"level": 9}}])
    b[...] = x
    np.testing.assert_array_equal(b[...], x)
    assert b.filters == (TransposeCodec((1, 0)),) and b.compressors == (GzipCodec(level=9),)
    assert doc(b.store, "zarr.json")["codecs"] == [
        {"name": "transpose", "configuration": {"order": [1, 0]}},
        {"name": "bytes", "configuration": {"endian": "little"}},
        {"name": "gzip", "configuration": {"level": 9}},
    ]


def test_uncompressed_chunk_bytes_follow_the_spec():
    """compressors=None: a chunk's bytes are its elements in C order (after transpose)."""
    x = data_2d((6, 4), dtype="i4")
    a = zarrsync.create_array(None, shape=x.shape, dtype="i4", chunks=(3, 4), compressors=None)
    a[...] = x
    assert a.compressors == ()
    assert a.store.get("c/1/0") == x[3:6, :].astype("<i4").tobytes()
    t = zarrsync.create_array(None, shape=x.shape, dtype=">i4", chunks=(3, 4), compressors=None,
                              filters=[TransposeCodec((1, 0))])
    t[...] = x
    assert t.serializer == BytesCodec("big")
    assert t.store.get("c/0/0") == np.ascontiguousarray(x[:3, :].T).astype(">i4").tobytes()
    # an edge chunk is stored full size, the outside part holding the fill value
    e = zarrsync.create_array(None, shape=(5,), dtype="u1", chunks=(4,), compressors=None, fill_value=9)
    e[...] = np.arange(5, dtype="u1")
    assert e.store.get("c/1") == bytes([4, 9, 9, 9])
    np.testing.assert_array_equal(np.frombuffer(e.store.get("c/0"), "u1"), [0, 1, 2, 3])


@pytest.mark.parametrize("spelling", ["int16", "i2", "<i2", ">i2", np.int16, np.dtype("int16"), np.dtype(">i2")])
def test_dtype_spellings(spelling):
    a = zarrsync.create_array(None, shape=(3,), dtype=spelling, compressors=None)
    assert a.dtype == np.dtype("int16") and a.dtype.isnative
    assert doc(a.store, "zarr.json")["data_type"] == "int16"
    a[...] = [1, -2, 300]
    np.testing.assert_array_equal(a[...], np.array([1, -2, 300], dtype="i2"))
    endian = ">" if np.dtype(spelling).byteorder == ">" else "<"
    assert a.store.get("c/0") == np.array([1, -2, 300], dtype=endian + "i2").tobytes()


@pytest.mark.parametrize("name", ["bool", "int8", "uint64", "float16", "float32", "complex128"])
def test_v3_type_names(name):
    a = zarrsync.create_array(None, shape=(4,), dtype=name)
    assert a.dtype == np.dtype(name)
    assert doc(a.store, "zarr.json")["data_type"] == name


def test_chunks_auto():
    small = zarrsync.create_array(None, shape=(30, 40), dtype="f8", chunks="auto")
    assert small.chunks == (30, 40)  # well below 1 MiB: one chunk
    big = zarrsync.create_array(None, shape=(5000, 3000), dtype="f8")
    assert len(big.chunks) == 2
    assert all(1 <= c <= s for c, s in zip(big.chunks, big.shape))
    nbytes = math.prod(big.chunks) * 8
    assert 256 * 1024 <= nbytes <= 1 << 20
    zero = zarrsync.create_array(None, shape=(0, 7), dtype="u1", chunks="auto")
    assert all(c >= 1 for c in zero.chunks)


@pytest.mark.parametrize("dtype, fill", [
    ("int8", 300), ("int8", 1.5), ("int8", "x"), ("uint8", -1), ("uint64", 2**64), ("int32", float("nan")),
    ("int32", [1, 2]), ("float32", "abc"), ("float64", object()), ("int16", 1 + 2j),
])
def test_fill_value_casting_errors(dtype, fill):
    store = MemoryStore()
    with pytest.raises(FillValueError):
        zarrsync.create_array(store, shape=(3,), dtype=dtype, fill_value=fill)
    assert list(store.list()) == []  # nothing written


@pytest.mark.parametrize("dtype, fill, want", [
    ("int8", 127, 127), ("uint64", 2**64 - 1, 2**64 - 1), ("float32", 1, 1.0), ("float64", "NaN", None),
    ("int16", np.int64(-7), -7), ("bool", True, True), ("complex64", 1 + 2j, 1 + 2j), ("float32", 2.0, 2.0),
])
def test_fill_value_casting_ok(dtype, fill, want):
    if fill == "NaN":
        fill = float("nan")
    a = zarrsync.create_array(None, shape=(3,), dtype=dtype, fill_value=fill)
    assert np.asarray(a.fill_value).dtype == np.dtype(dtype)
    if want is None:
        assert np.isnan(a.fill_value) and np.isnan(a[...]).all()
        assert doc(a.store, "zarr.json")["fill_value"] == "NaN"
    else:
        assert a.fill_value == want
        np.testing.assert_array_equal(a[...], np.full(3, want, dtype=dtype))


def test_overwrite():
    store = MemoryStore()
    a = zarrsync.create_array(store, name="x", shape=(4,), dtype="i4", chunks=(2,))
    a[...] = 1
    with pytest.raises(ContainsArrayError) as info:
        zarrsync.create_array(store, name="x", shape=(8,), dtype="f4")
    assert isinstance(info.value, FileExistsError) and isinstance(info.value, ZarrsyncError)
    np.testing.assert_array_equal(zarrsync.open_array(store, path="x")[...], [1, 1, 1, 1])
    b = zarrsync.create_array(store, name="x", shape=(8,), dtype="f4", chunks=(8,), overwrite=True)
    assert zarrsync.open_array(store, path="x").shape == (8,)
    assert chunk_keys(store, "x/") == set()  # the old chunks are gone
    np.testing.assert_array_equal(b[...], np.zeros(8, dtype="f4"))
    zarrsync.create_group(store, path="g")
    with pytest.raises(ContainsGroupError):
        zarrsync.create_array(store, name="g", shape=(1,), dtype="i1")
    zarrsync.create_array(store, name="g", shape=(1,), dtype="i1", overwrite=True)
    assert isinstance(zarrsync.open(store, path="g", mode="r"), zarrsync.Array)


def test_chunk_key_encodings():
    x = data_2d((4, 6), dtype="u2")
    a = zarrsync.create_array(None, shape=x.shape, dtype="u2", chunks=(2, 3),
                              chunk_key_encoding={"name": "v2", "separator": "."})
    a[...] = x
    assert chunk_keys(a.store) == {"0.0", "0.1", "1.0", "1.1"}
    assert doc(a.store, "zarr.json")["chunk_key_encoding"] == {"name": "v2", "configuration": {"separator": "."}}
    np.testing.assert_array_equal(zarrsync.open_array(a.store, mode="r")[...], x)
    b = zarrsync.create_array(None, shape=x.shape, dtype="u2", chunks=(2, 3),
                              chunk_key_encoding={"name": "default", "separator": "."})
    b[...] = x
    assert chunk_keys(b.store) == {"c.0.0", "c.0.1", "c.1.0", "c.1.1"}
    c = zarrsync.create_array(None, shape=x.shape, dtype="u2", chunks=(2, 3),
                              chunk_key_encoding={"name": "v2", "configuration": {"separator": "/"}})
    c[...] = x
    assert chunk_keys(c.store) == {"0/0", "0/1", "1/0", "1/1"}
    # a group's create_array accepts the same flat form
    g = zarrsync.create_group(None)
    d = g.create_array("d", shape=x.shape, dtype="u2", chunks=(2, 3),
                       chunk_key_encoding={"name": "default", "separator": "."})
    d[...] = x
    assert chunk_keys(g.store) == {"d/c.0.0", "d/c.0.1", "d/c.1.0", "d/c.1.1"}
    z = zarrsync.create_array(None, shape=(), dtype="i1", chunk_key_encoding={"name": "v2", "separator": "."})
    z[()] = 3
    assert chunk_keys(z.store) == {"0"}


def test_parent_groups_are_written():
    store = MemoryStore()
    zarrsync.create_array(store, name="a/b/c/arr", shape=(2,), dtype="i1")
    for key in ["zarr.json", "a/zarr.json", "a/b/zarr.json", "a/b/c/zarr.json"]:
        d = doc(store, key)
        assert d["zarr_format"] == 3 and d["node_type"] == "group" and d["attributes"] == {}
    assert doc(store, "a/b/c/arr/zarr.json")["node_type"] == "array"
    # an existing parent group keeps its attributes
    zarrsync.open_group(store, path="a").attrs["keep"] = 1
    zarrsync.create_array(store, name="a/other", shape=(1,), dtype="i1")
    assert doc(store, "a/zarr.json")["attributes"] == {"keep": 1}
    with pytest.raises(ContainsArrayError):
        zarrsync.create_array(store, name="a/b/c/arr/below", shape=(1,), dtype="i1")
    with pytest.raises(ContainsArrayError):
        zarrsync.create_group(store, path="a/b/c/arr/g")


# --- open ---------------------------------------------------------------------------------------
def test_open_array_missing_or_group():
    store = MemoryStore()
    with pytest.raises(ArrayNotFoundError) as info:
        zarrsync.open_array(store, path="nope")
    assert isinstance(info.value, KeyError)
    zarrsync.create_group(store, path="g")
    with pytest.raises(ArrayNotFoundError):
        zarrsync.open_array(store, path="g")
    with pytest.raises(ArrayNotFoundError):
        zarrsync.open_array(store)  # the root group
    with pytest.raises(ValueError):
        zarrsync.open_array(store, mode="x")


def test_open_modes():
    store = MemoryStore()
    with pytest.raises(NodeNotFoundError):
        zarrsync.open(store, mode="r")
    with pytest.raises(NodeNotFoundError):
        zarrsync.open(store, path="p", mode="r+")
    a = zarrsync.open(store, path="p", mode="a", shape=(4,), dtype="i4", chunks=(2,))
    assert isinstance(a, zarrsync.Array) and a.shape == (4,)
    a[...] = [1, 2, 3, 4]
    again = zarrsync.open(store, path="p", mode="a", shape=(9,), dtype="i4")  # exists: opened as it is
    assert again.shape == (4,)
    np.testing.assert_array_equal(again[...], [1, 2, 3, 4])
    r = zarrsync.open(store, path="p", mode="r")
    assert r.read_only
    with pytest.raises(ReadOnlyError):
        r[0] = 0
    rw = zarrsync.open(store, path="p", mode="r+")
    rw[0] = 10
    np.testing.assert_array_equal(a[...], [10, 2, 3, 4])
    with pytest.raises(ContainsArrayError):
        zarrsync.open(store, path="p", mode="w-", shape=(2,), dtype="i4")
    w = zarrsync.open(store, path="p", mode="w", shape=(2,), dtype="f8")
    assert w.shape == (2,) and w.dtype == np.float64
    np.testing.assert_array_equal(w[...], [0.0, 0.0])
    assert chunk_keys(store, "p/") == set()
    new = zarrsync.open(store, path="q", mode="w-", shape=(3,), dtype="u1")
    assert isinstance(new, zarrsync.Array)
    g = zarrsync.open(store, path="grp", mode="a")  # no shape: a group
    assert isinstance(g, zarrsync.Group)
    assert isinstance(zarrsync.open(store, path="grp", mode="r"), zarrsync.Group)
    with pytest.raises(ValueError):
        zarrsync.open(store, mode="rw")


def test_open_group_modes():
    store = MemoryStore()
    with pytest.raises(GroupNotFoundError):
        zarrsync.open_group(store, path="g", mode="r")
    with pytest.raises(GroupNotFoundError):
        zarrsync.open_group(store, path="g", mode="r+")
    g = zarrsync.open_group(store, path="g", mode="a", attributes={"v": 1})
    g.create_array("arr", shape=(2,), dtype="i1")
    assert dict(zarrsync.open_group(store, path="g", mode="a").attrs) == {"v": 1}
    r = zarrsync.open_group(store, path="g", mode="r")
    assert r.read_only and r.keys() == ["arr"]
    rp = zarrsync.open_group(store, path="g", mode="r+")
    assert not rp.read_only
    rp.attrs["w"] = 2
    with pytest.raises(ContainsGroupError):
        zarrsync.open_group(store, path="g", mode="w-")
    w = zarrsync.open_group(store, path="g", mode="w", attributes={"fresh": True})
    assert w.keys() == [] and dict(w.attrs) == {"fresh": True}
    assert "g/arr/zarr.json" not in set(store.list())
    zarrsync.open_group(store, path="new", mode="w-")
    assert doc(store, "new/zarr.json")["node_type"] == "group"
    zarrsync.create_array(store, name="arr", shape=(1,), dtype="i1")
    with pytest.raises(ContainsArrayError):
        zarrsync.open_group(store, path="arr", mode="a")
    with pytest.raises(ValueError):
        zarrsync.open_group(store, mode="z")
    assert zarrsync.group(store, path="g").attrs["fresh"] is True


# --- convenience constructors -------------------------------------------------------------------
def test_array_zeros_ones_full_empty():
    x = np.arange(12, dtype="i8").reshape(3, 4)
    a = zarrsync.array(x, chunks=(2, 2))
    assert a.dtype == x.dtype and a.chunks == (2, 2)
    np.testing.assert_array_equal(a[...], x)
    np.testing.assert_array_equal(zarrsync.array([[1.5, 2.5]])[...], np.array([[1.5, 2.5]]))
    z = zarrsync.zeros((3, 2), chunks=(2, 2))
    assert z.dtype == np.float64 and z.fill_value == 0
    np.testing.assert_array_equal(z[...], np.zeros((3, 2)))
    o = zarrsync.ones((5,), dtype="u1")
    assert o.dtype == np.uint8
    np.testing.assert_array_equal(o[...], np.ones(5, dtype="u1"))
    f = zarrsync.full((2, 2), 7, dtype="i1")
    np.testing.assert_array_equal(f[...], np.full((2, 2), 7, dtype="i1"))
    ff = zarrsync.full((3,), 2.5)
    assert ff.dtype == np.float64 and ff.fill_value == 2.5
    e = zarrsync.empty((4,), dtype="i2")
    np.testing.assert_array_equal(e[...], np.zeros(4, dtype="i2"))
    for made in (z, o, f, ff, e):
        assert chunk_keys(made.store) == set()  # nothing but metadata is written
    store = MemoryStore()
    zarrsync.zeros((2,), store=store, name="inside")
    assert "inside/zarr.json" in set(store.list())


def test_like_constructors():
    src = zarrsync.create_array(None, shape=(6, 4), dtype="i2", chunks=(3, 3), fill_value=4)
    for made, want in [
        (zarrsync.zeros_like(src), 0), (zarrsync.ones_like(src), 1),
        (zarrsync.full_like(src, 9), 9), (zarrsync.empty_like(src), 4),
    ]:
        assert made.shape == (6, 4) and made.dtype == np.int16 and made.chunks == (3, 3)
        np.testing.assert_array_equal(made[...], np.full((6, 4), want, dtype="i2"))
    assert zarrsync.empty_like(src).fill_value == 4
    x = np.zeros((5, 2), dtype="f4")
    for made, want in [(zarrsync.zeros_like(x), 0), (zarrsync.ones_like(x), 1), (zarrsync.full_like(x, -2), -2)]:
        assert made.shape == (5, 2) and made.dtype == np.float32
        np.testing.assert_array_equal(made[...], np.full((5, 2), want, dtype="f4"))
    assert zarrsync.zeros_like(src, dtype="f8", chunks=(6, 4)).chunks == (6, 4)
    store = MemoryStore()
    zarrsync.ones_like(src, store=store)
    assert doc(store, "zarr.json")["fill_value"] == 1


# --- groups --------------------------------------------------------------------------------------
def make_tree():
    g = zarrsync.create_group(None, attributes={"root": True})
    g.create_group("a/b/c")
    g.create_array("a/x", shape=(2, 3), dtype="u2")
    g.create_group("a/b2")
    g.create_array("z", shape=(5,), dtype="f4")
    return g


def test_group_properties():
    g = make_tree()
    assert g.path == "" and g.name == "/" and g.basename == "" and g.zarr_format == 3
    assert isinstance(g.metadata, GroupMetadata) and not g.read_only
    sub = g["a/b"]
    assert isinstance(sub, zarrsync.Group)
    assert sub.path == "a/b" and sub.name == "/a/b" and sub.basename == "b"
    assert sub == zarrsync.open_group(g.store, path="a/b") and hash(sub) == hash(g["a/b"])


def test_group_getitem_contains_delitem():
    g = make_tree()
    assert isinstance(g["a"], zarrsync.Group) and isinstance(g["a/x"], zarrsync.Array)
    assert g["a/b/c"].path == "a/b/c"
    assert g["a"]["b"]["c"].path == "a/b/c"
    assert g["/a/x/"].path == "a/x"
    assert g["a/x"].shape == (2, 3)
    with pytest.raises(NodeNotFoundError):
        g["nope"]
    with pytest.raises(KeyError):
        g["a/nope"]
    for name in ["a", "a/b", "a/b/c", "a/x", "z"]:
        assert name in g
    for name in ["nope", "a/c", "x", "a/b/c/d"]:
        assert name not in g
    assert "b/c" in g["a"]
    del g["a/b"]
    assert "a/b" not in g and "a/b/c" not in g and "a/b2" in g
    assert not any(k.startswith("a/b/") for k in g.store.list())
    with pytest.raises(NodeNotFoundError):
        del g["a/b"]
    del g["z"]
    assert g.keys() == ["a"] and not any(k.startswith("z/") for k in g.store.list())
    # a group is not its own member: "" and "/" name nothing, and deleting them deletes nothing
    sub = g["a"]
    for name in ["", "/"]:
        assert name not in sub and name not in g
        with pytest.raises(NodeNotFoundError):
            sub[name]
        with pytest.raises(NodeNotFoundError):
            del sub[name]
        with pytest.raises(NodeNotFoundError):
            del g[name]
    assert "a" in g and sub.keys() == ["b2", "x"]


def test_group_members_and_keys():
    g = make_tree()
    direct = g.members()
    assert [n for n, _ in direct] == ["a", "z"]
    assert [(n, m.path) for n, m in g.members(max_depth=0)] == [(n, m.path) for n, m in direct]
    assert isinstance(dict(direct)["z"], zarrsync.Array)
    everything = g.members(max_depth=None)
    assert [n for n, _ in everything] == ["a", "a/b", "a/b/c", "a/b2", "a/x", "z"]
    assert [n for n, _ in g.members(max_depth=1)] == ["a", "a/b", "a/b2", "a/x", "z"]
    for name, node in everything:
        assert node.path == name
    assert g.keys() == ["a", "z"] and list(g) == ["a", "z"] and len(g) == 2
    assert g.array_keys() == ["z"] and g.group_keys() == ["a"]
    assert [n for n, _ in g.arrays()] == ["z"] and [n for n, _ in g.groups()] == ["a"]
    sub = g["a"]
    assert sub.keys() == ["b", "b2", "x"]
    assert sub.array_keys() == ["x"] and sub.group_keys() == ["b", "b2"]
    assert all(isinstance(m, zarrsync.Array) for _, m in sub.arrays())
    assert all(isinstance(m, zarrsync.Group) for _, m in sub.groups())
    assert [n for n, _ in sub.members(max_depth=None)] == ["b", "b/c", "b2", "x"]


def test_require_group_and_array():
    g = zarrsync.create_group(None)
    made = g.require_group("s", attributes={"k": 1})
    assert dict(made.attrs) == {"k": 1}
    again = g.require_group("s")
    assert again.path == "s" and dict(again.attrs) == {"k": 1}
    nested = g.require_group("s/t/u")
    assert nested.path == "s/t/u" and "s/t" in g
    a = g.require_array("arr", shape=(4,), dtype="i4", chunks=(2,))
    a[...] = [1, 2, 3, 4]
    b = g.require_array("arr", shape=4, dtype="int32")
    np.testing.assert_array_equal(b[...], [1, 2, 3, 4])
    with pytest.raises(ValueShapeError):
        g.require_array("arr", shape=(5,), dtype="i4")
    with pytest.raises(ValueShapeError):
        g.require_array("arr", shape=(4,), dtype="f4")
    with pytest.raises(ContainsGroupError):
        g.require_array("s", shape=(4,), dtype="i4")
    with pytest.raises(ContainsArrayError):
        g.require_group("arr")
    np.testing.assert_array_equal(g["arr"][...], [1, 2, 3, 4])


def test_group_create_nested_and_errors():
    g = zarrsync.create_group(None)
    c = g.create_group("x/y/z", attributes={"deep": 1})
    assert c.path == "x/y/z" and dict(c.attrs) == {"deep": 1}
    for path in ["x", "x/y"]:
        assert doc(g.store, f"{path}/zarr.json")["node_type"] == "group"
    with pytest.raises(ContainsGroupError):
        g.create_group("x/y")
    g.create_group("x/y", overwrite=True)
    assert "x/y/z" not in g
    with pytest.raises(ZarrsyncError):
        g.create_group("__bad")
    arr = g["x"].create_array("data", shape=(3,), dtype="i8")
    assert arr.path == "x/data"
    with pytest.raises(ContainsArrayError):
        g.create_array("x/data", shape=(3,), dtype="i8")


def test_tree_output():
    g = make_tree()
    assert g.tree().splitlines() == [
        "/",
        "  a/",
        "    b/",
        "      c/",
        "    b2/",
        "    x (2, 3) uint16",
        "  z (5,) float32",
    ]
    assert g["a"].tree().splitlines() == ["/a", "  b/", "    c/", "  b2/", "  x (2, 3) uint16"]
    assert g.tree(max_depth=0).splitlines() == ["/", "  a/", "  z (5,) float32"]


# --- LocalStore and ZipStore --------------------------------------------------------------------
def test_local_store_end_to_end(tmp_path):
    path = tmp_path / "data.zarr"
    x = data_2d((9, 8), dtype="f8")
    a = zarrsync.create_array(str(path), name="grp/arr", shape=x.shape, dtype="f8", chunks=(4, 4),
                              dimension_names=["y", "x"])
    assert isinstance(a.store, LocalStore)
    a[...] = x
    a[::3, ::-2] = -1.0
    x[::3, ::-2] = -1.0
    assert (path / "zarr.json").is_file() and (path / "grp" / "zarr.json").is_file()
    assert (path / "grp" / "arr" / "c" / "2" / "1").is_file()
    assert json.loads((path / "grp" / "arr" / "zarr.json").read_text())["shape"] == [9, 8]
    r = zarrsync.open_array(path, path="grp/arr", mode="r")
    np.testing.assert_array_equal(r[...], x)
    g = zarrsync.open_group(str(path), mode="r+")
    assert g.tree(max_depth=None).splitlines() == ["/", "  grp/", "    arr (9, 8) float64"]
    g["grp"].create_array("b", shape=(2,), dtype="i1")[...] = 1
    del g["grp/arr"]
    assert not (path / "grp" / "arr" / "zarr.json").exists()
    assert zarrsync.open_group(path, path="grp").keys() == ["b"]
    b = zarrsync.open(f"file://{path}", path="grp/b", mode="r")
    np.testing.assert_array_equal(b[...], [1, 1])
    # two store objects over one directory see each other's writes
    a2 = zarrsync.create_array(LocalStore(path), name="c", shape=(4,), dtype="i4", chunks=(2,))
    a2[...] = 7
    np.testing.assert_array_equal(zarrsync.open_array(LocalStore(path), path="c")[...], [7] * 4)


def test_zip_store_end_to_end(tmp_path):
    path = tmp_path / "x.zip"
    x = data_2d((5, 6), dtype="u2")
    a = zarrsync.create_array(str(path), name="g/a", shape=x.shape, dtype="u2", chunks=(2, 4))
    assert isinstance(a.store, ZipStore)
    a[...] = x
    a[1:3, 2:] = 0  # partial rewrite (entries appended; the newest wins)
    x[1:3, 2:] = 0
    np.testing.assert_array_equal(a[...], x)
    a.store.close()  # writes the central directory; one open ZipStore per archive at a time
    b = zarrsync.create_array(str(path), name="b", shape=(3,), dtype="i1", overwrite=True)
    b[...] = -1
    b.store.close()
    assert zipfile.is_zipfile(path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    assert {"zarr.json", "g/zarr.json", "g/a/zarr.json", "b/zarr.json"} <= names
    r = zarrsync.open_array(str(path), path="g/a", mode="r")
    assert r.read_only
    np.testing.assert_array_equal(r[...], x)  # overwriting "b" left its sibling intact
    np.testing.assert_array_equal(zarrsync.open_array(str(path), path="b", mode="r")[...], [-1, -1, -1])
    g = zarrsync.open_group(str(path), mode="r")
    assert g.tree(max_depth=None).splitlines() == ["/", "  b (3,) int8", "  g/", "    a (5, 6) uint16"]
    r.store.close()


# --- the one-chunk fast path ---------------------------------------------------------------------
def test_one_chunk_runs_inline(monkeypatch):
    store = CountingStore()
    x = data_2d((8, 8), dtype="i4")
    a = zarrsync.create_array(store, shape=x.shape, dtype="i4", chunks=(4, 4))
    a[...] = x

    class PoolTouched(Exception):  # not RuntimeError: the executor retries submits on that
        pass

    def no_pool(*args, **kwargs):
        raise PoolTouched("the pool was used")

    monkeypatch.setattr(zarrsync.executor, "get_pool", no_pool)
    me = threading.get_ident()
    with config.context(max_workers=8):
        store.threads.clear()
        np.testing.assert_array_equal(a[1:3, 0:4], x[1:3, 0:4])
        assert a[5, 6] == x[5, 6]
        out = np.empty((4, 4), dtype="i4")
        assert a.get_basic_selection((slice(4, 8), slice(4, 8)), out=out) is out
        np.testing.assert_array_equal(out, x[4:, 4:])
        a[0, 0] = -5  # a one-chunk partial write
        a[4:8, 0:4] = 3  # a one-chunk whole write
        x[0, 0] = -5
        x[4:8, 0:4] = 3
        np.testing.assert_array_equal(a[0:4, 0], x[0:4, 0])
        np.testing.assert_array_equal(a[7:3:-1, 0:4], x[7:3:-1, 0:4])
        assert store.threads == {me}
        # sanity: the patch is live: a selection over several chunks of a store whose calls wait
        # on a network goes to the pool (tiny local chunks stay on one thread: chunk_workers)
        store.latency_bound = True
        with pytest.raises(PoolTouched):
            a[...]
    monkeypatch.undo()
    np.testing.assert_array_equal(a[...], x)


# --- values that do not fit the data type ---------------------------------------------------------
@pytest.mark.parametrize("dtype, value", [("int8", 300), ("uint8", -1), ("int32", 2**40)])
def test_out_of_range_python_int_is_refused(dtype, value):
    """numpy refuses a Python integer that does not fit the array's type (OverflowError); so
    must a write, rather than silently storing a wrapped value (300 -> 44 in int8)."""
    x = np.zeros(4, dtype=dtype)
    with pytest.raises(OverflowError):
        x[...] = value
    a = zarrsync.create_array(None, shape=(4,), dtype=dtype, chunks=(2,))
    with pytest.raises((OverflowError, ValueError)):
        a[...] = value
    with pytest.raises((OverflowError, ValueError)):
        a[1] = value
    np.testing.assert_array_equal(a[...], x)  # nothing was written


# --- small chunks read in groups (pipeline.read_chunks group path) ---------------------------------
@pytest.mark.parametrize("max_workers", [1, 2, 4])
def test_grouped_small_chunk_reads_with_missing_and_corrupt_chunks(max_workers):
    store = zarrsync.MemoryStore()
    x = np.arange(40 * 40, dtype="f4").reshape(40, 40)
    a = zarrsync.create_array(store, shape=x.shape, dtype="f4", chunks=(4, 4), fill_value=-1.0)
    a[...] = x
    for key in ("c/0/3", "c/5/5", "c/9/0"):  # missing chunks inside groups read as fill
        store.delete(key)
        i, j = map(int, key.split("/")[1:])
        x[4 * i:4 * i + 4, 4 * j:4 * j + 4] = -1.0
    with config.context(max_workers=max_workers):
        np.testing.assert_array_equal(a[...], x)
        np.testing.assert_array_equal(a[3:37:3, ::-5], x[3:37:3, ::-5])
        good = store.get("c/7/2")
        store.set("c/7/2", good + b"trailing junk")
        with pytest.raises(zarrsync.errors.CorruptChunkError, match="c/7/2"):
            a[...]
        store.set("c/7/2", good[:-4])
        with pytest.raises(zarrsync.errors.CorruptChunkError, match="c/7/2"):
            a[...]


@pytest.mark.parametrize("value", [9, np.uint8(9), np.array(9, dtype="u1")])
def test_scalar_over_an_edge_chunk_leaves_out_of_bounds_as_fill(value):
    """Spec: the part of an edge chunk outside the array holds the fill value. A scalar written
    over the whole in-bounds part must not fill the rest, or it reappears when the array grows."""
    a = zarrsync.create_array(zarrsync.MemoryStore(), shape=(5, 3), dtype="u1", chunks=(4, 2), fill_value=0,
                              compressors=None)
    a[4:, :] = value
    stored = np.frombuffer(a.store.get("c/1/0"), dtype="u1").reshape(4, 2)
    np.testing.assert_array_equal(stored, [[9, 9], [0, 0], [0, 0], [0, 0]])
    a.resize((8, 4))
    expected = np.zeros((8, 4), dtype="u1")
    expected[4, :3] = 9
    np.testing.assert_array_equal(a[...], expected)


# --- the Zarr format asked for is the one created and read (issue 10) ---------------------------
def test_create_group_and_open_keep_the_zarr_format_asked_for():
    store = MemoryStore()
    g = zarrsync.create_group(store, path="v2", zarr_format=2, attributes={"a": 1})
    assert g.zarr_format == 2 and {"v2/.zgroup", "v2/.zattrs"} <= set(store.list())
    assert "v2/zarr.json" not in set(store.list())
    assert zarrsync.open_group(store, path="v2", mode="r").zarr_format == 2
    assert zarrsync.group(store, path="g2", zarr_format=2).zarr_format == 2
    assert zarrsync.open(store, path="o2", mode="w", zarr_format=2).zarr_format == 2
    assert zarrsync.open_group(store, path="w2", mode="w", zarr_format=2).zarr_format == 2
    assert "o2/.zgroup" in set(store.list()) and "w2/.zgroup" in set(store.list())
    with pytest.raises(TypeError, match="chunks"):  # no shape: a group, which has no chunks to take
        zarrsync.open(store, path="o3", mode="w", chunks=(2,))


def test_a_node_with_both_documents_opens_in_the_format_asked_for():
    """zarrs writes a ``zarr.json`` beside a v2 ``.zarray`` (the corpus' zarrs ``v3/*.zarr``):
    ``zarr_format=2`` reads the v2 document, 3 or None (zarr-python's order) the v3 one."""
    store = MemoryStore()
    v2 = zarrsync.create_array(store, name="x", shape=(4,), dtype="i2", chunks=(2,), zarr_format=2)
    v2[...] = [1, 2, 3, 4]
    other = MemoryStore()
    zarrsync.create_array(other, name="x", shape=(6,), dtype="i2", chunks=(3,))
    store.set("x/zarr.json", other.get("x/zarr.json"))
    zarrsync.create_group(store, path="g", zarr_format=2, attributes={"v": 2})
    zarrsync.create_group(other, path="g", attributes={"v": 3})
    store.set("g/zarr.json", other.get("g/zarr.json"))
    a2 = zarrsync.open_array(store, path="x", zarr_format=2)
    assert (a2.zarr_format, a2.shape) == (2, (4,))
    np.testing.assert_array_equal(a2[...], [1, 2, 3, 4])
    assert zarrsync.open_array(store, path="x", zarr_format=3).shape == (6,)
    assert zarrsync.open_array(store, path="x").shape == (6,)
    assert zarrsync.open(store, path="x", mode="r", zarr_format=2).shape == (4,)
    assert zarrsync.open_group(store, path="g", mode="r", zarr_format=2).attrs["v"] == 2
    assert zarrsync.open_group(store, path="g", mode="r").attrs["v"] == 3
    only_v3 = zarrsync.create_array(store, name="y", shape=(1,), dtype="i1")
    with pytest.raises(NodeNotFoundError, match="format 3, not 2"):
        zarrsync.open_array(store, path=only_v3.path, zarr_format=2)
    with pytest.raises(NodeNotFoundError, match="format 3, not 2"):
        zarrsync.open(store, path=only_v3.path, zarr_format=2)


def test_require_array_keeps_its_config_when_the_array_exists():
    g = zarrsync.create_group(None)
    first = g.require_array("x", shape=(2,), dtype="i1", config={"write_empty_chunks": True})
    again = g.require_array("x", shape=(2,), dtype="i1", config={"write_empty_chunks": True})
    assert first.config == again.config == {"write_empty_chunks": True}


def test_a_written_value_of_the_selections_shape_reaches_the_codecs_as_a_read_only_view():
    """No copy and no broadcast for a value of the selection's exact shape, but still a
    read-only view (as broadcast_to's were): no codec can change the caller's array, and the
    caller's array keeps its own flags."""
    from zarrsync.indexing import BasicIndexer

    a = zarrsync.create_array(MemoryStore(), shape=(4, 6), chunks=(2, 3), dtype="i4", fill_value=0)
    value = np.arange(12, dtype="i4").reshape(2, 6)
    ix = BasicIndexer((slice(1, 3), slice(None)), a.shape, a.chunks)
    work = a._prepare_value(value, ix, a.dtype)
    assert np.shares_memory(work, value) and not work.flags.writeable
    a[1:3, :] = value
    assert value.flags.writeable
    np.testing.assert_array_equal(a[1:3, :], np.arange(12).reshape(2, 6))


def test_array_open_from_dict_with_config_order_and_chunk_sizes(tmp_path):
    where = str(tmp_path / "a.zarr")
    a = zarrsync.create_array(where, shape=(10, 7), chunks=(4, 3), shards=(8, 6), dtype="i1")
    assert a.read_chunk_sizes == ((4, 4, 2), (3, 3, 1))  # inner chunks, clipped to the shape
    assert a.write_chunk_sizes == ((8, 2), (6, 1))  # shards
    assert a.order == "C"
    opened = zarrsync.Array.open(where)
    assert opened == a and opened.metadata == a.metadata
    quiet = opened.with_config({"write_empty_chunks": True})
    assert quiet.config == {"write_empty_chunks": True} and opened.config == {}
    quiet[0, 0] = 0  # the fill value, stored anyway
    assert a.nchunks_initialized() == 1
    as_dict = zarrsync.Array.from_dict(where, a.metadata.to_json())
    np.testing.assert_array_equal(as_dict[...], a[...])
    v2 = zarrsync.create_array(str(tmp_path / "f.zarr"), shape=(3,), dtype="i2", zarr_format=2, order="F")
    assert zarrsync.Array.open(str(tmp_path / "f.zarr")).order == "F"
    with pytest.raises(zarrsync.errors.ArrayNotFoundError):
        zarrsync.Array.open(str(tmp_path / "missing.zarr"))
