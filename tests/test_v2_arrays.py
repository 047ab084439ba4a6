"""Zarr v2 arrays and groups: round trips, and interop both ways with tensorstore's `zarr` driver."""

import json

import numpy as np
import pytest

import zarrsync
from zarrsync.errors import MetadataError, UnknownExtensionError
from oracles import tensorstore as ts  # ts() imports it: only the interop tests here need it

ZSTD = {"id": "zstd", "level": 1}  # tensorstore refuses a "checksum" key in v2 configs
GZIP = {"id": "gzip", "level": 1}

CASES = [
    # dtype, shape, chunks, order, separator, compressor, fill
    ("<f8", (10, 7), (4, 3), "C", ".", None, 0.0),
    (">i2", (9, 5), (4, 2), "F", "/", ZSTD, -3),
    ("<f4", (5, 6, 3), (2, 6, 2), "F", ".", GZIP, "NaN"),
    ("|u1", (8, 8), (8, 3), "C", "/", ZSTD, 7),
    ("<c16", (4,), (3,), "C", ".", None, [1.0, "-Infinity"]),
    ("|b1", (6,), (4,), "C", ".", GZIP, True),
    ("<u8", (3, 3), (2, 2), "C", ".", ZSTD, None),
    ("<i8", (), (), "C", ".", None, 5),
]


def data_for(dtype, shape):
    n = int(np.prod(shape))
    return (np.arange(n) % 13 + 1).reshape(shape).astype(np.dtype(dtype))


def ts_spec(path, **extra):
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": path}, **extra}


def case_id(c):
    return f"{c[0]}-{len(c[1])}d-{c[3]}-{'sep' + c[4]}-{(c[5] or {}).get('id', 'raw')}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_tensorstore_writes_zarrsync_reads(tmp_path, case):
    dtype, shape, chunks, order, sep, compressor, fill = case
    path = str(tmp_path / "a.zarr")
    meta = {"shape": list(shape), "chunks": list(chunks), "dtype": dtype, "order": order, "compressor": compressor,
            "fill_value": fill, "filters": None, "dimension_separator": sep}
    arr = ts().open(ts_spec(path, metadata=meta, create=True)).result()
    data = data_for(dtype, shape)
    region = tuple(slice(0, max(1, s - 1)) for s in shape)  # leave the last chunks unwritten: fill
    arr[region].write(data[region]).result()
    expected = arr.read().result()
    a = zarrsync.open_array(path, mode="r")
    assert a.zarr_format == 2 and a.shape == shape and a.chunks == chunks
    got = a[...]
    assert got.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_zarrsync_writes_tensorstore_reads(tmp_path, case):
    dtype, shape, chunks, order, sep, compressor, fill = case
    path = str(tmp_path / "a.zarr")
    a = zarrsync.create_array(path, shape=shape, chunks=chunks, dtype=dtype, zarr_format=2, order=order,
                              dimension_separator=sep, compressors=compressor,
                              fill_value=None if fill is None else np.asarray(
                                  complex(fill[0], float(fill[1])) if isinstance(fill, list)
                                  else float(fill) if fill == "NaN" else fill).item())
    data = data_for(dtype, shape)
    a[...] = data
    if shape:
        a[(0,) * len(shape)] = data.flat[-1]
        data[(0,) * len(shape)] = data.flat[-1]
    doc = json.load(open(f"{path}/.zarray"))
    assert doc["dtype"] == dtype and doc["order"] == order and doc["compressor"] == compressor
    back = ts().open(ts_spec(path, open=True)).result()
    np.testing.assert_array_equal(back.read().result(), data)
    for key in doc:  # nothing but the v2 fields
        assert key in {"zarr_format", "shape", "chunks", "dtype", "compressor", "fill_value", "order",
                       "filters", "dimension_separator"}


def test_tensorstore_partially_rewrites_a_zarrsync_v2_array(tmp_path):
    path = str(tmp_path / "a.zarr")
    x = data_for("<f4", (9, 9))
    a = zarrsync.create_array(path, shape=x.shape, chunks=(4, 4), dtype="<f4", zarr_format=2, order="F",
                              compressors=GZIP, fill_value=-1.0)
    a[...] = x
    ts().open(ts_spec(path, open=True)).result()[3:6, 2:8].write(np.float32(0.5)).result()
    x[3:6, 2:8] = 0.5
    np.testing.assert_array_equal(zarrsync.open_array(path)[...], x)


def test_groups_attributes_and_resize(tmp_path):
    path = str(tmp_path / "h.zarr")
    g = zarrsync.open_group(path, mode="w", zarr_format=2, attributes={"title": "t"})
    a = g.create_array("sub/x", shape=(5, 4), chunks=(2, 2), dtype="<i4", fill_value=0)
    assert a.zarr_format == 2 and g["sub"].zarr_format == 2
    assert json.load(open(f"{path}/.zgroup")) == {"zarr_format": 2}
    assert json.load(open(f"{path}/.zattrs")) == {"title": "t"}
    assert json.load(open(f"{path}/sub/.zgroup")) == {"zarr_format": 2}
    a[...] = np.arange(20).reshape(5, 4)
    a.attrs["units"] = "m"
    assert json.load(open(f"{path}/sub/x/.zattrs")) == {"units": "m"}
    a.resize((3, 4))
    a.resize((6, 4))
    expected = np.zeros((6, 4), dtype="i4")
    expected[:3] = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(zarrsync.open_array(path, path="sub/x")[...], expected)
    assert json.load(open(f"{path}/sub/x/.zarray"))["shape"] == [6, 4]
    assert zarrsync.open_group(path).keys() == ["sub"] and g["sub"].keys() == ["x"]
    np.testing.assert_array_equal(ts().open(ts_spec(f"{path}/sub/x", open=True)).result().read().result(), expected)
    assert "sub/" in zarrsync.open_group(path, mode="r").tree()


def test_unsupported_v2_settings_are_refused_clearly(tmp_path):
    with pytest.raises(UnknownExtensionError, match="not-a-codec"):
        zarrsync.create_array(None, shape=(4,), dtype="i4", zarr_format=2, compressors={"id": "not-a-codec"})
    with pytest.raises(MetadataError, match="shards"):
        zarrsync.create_array(None, shape=(4,), chunks=(2,), shards=(4,), dtype="i4", zarr_format=2)
    with pytest.raises(MetadataError, match="at most one compressor"):
        zarrsync.create_array(None, shape=(4,), dtype="i4", zarr_format=2, compressors=[ZSTD, GZIP])
    with pytest.raises(MetadataError, match="order"):
        zarrsync.create_array(None, shape=(4,), dtype="i4", order="F")  # a v2 setting on a v3 array
    path = str(tmp_path / "b.zarr")
    open_with_unknown_compressor(path)
    with pytest.raises(UnknownExtensionError, match="not-a-codec"):
        zarrsync.open_array(path)


def open_with_unknown_compressor(path):
    import os
    os.makedirs(path)
    with open(f"{path}/.zarray", "w") as f:
        json.dump({"zarr_format": 2, "shape": [4], "chunks": [2], "dtype": "<i4", "compressor": {"id": "not-a-codec"},
                   "fill_value": 0, "order": "C", "filters": None}, f)


NUMCODECS_COMPRESSORS = [
    {"id": "zlib", "level": 1},
    {"id": "bz2", "level": 1},
    {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
    {"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 2, "blocksize": 0},
    {"id": "blosc", "cname": "zlib", "clevel": 1, "shuffle": 0, "blocksize": 0},
]


@pytest.mark.parametrize("compressor", NUMCODECS_COMPRESSORS, ids=lambda c: f"{c['id']}-{c.get('cname', '')}")
@pytest.mark.parametrize("dtype", ["<f8", "|u1", ">i4"])
def test_numcodecs_compressors_both_ways_with_tensorstore(tmp_path, compressor, dtype):
    data = data_for(dtype, (37, 11))
    p1 = str(tmp_path / "ts.zarr")
    arr = ts().open(ts_spec(p1, create=True, metadata={"shape": [37, 11], "chunks": [16, 8], "dtype": dtype,
                                                     "compressor": compressor, "order": "C"})).result()
    arr.write(data).result()
    np.testing.assert_array_equal(zarrsync.open_array(p1, mode="r")[...], data)
    p2 = str(tmp_path / "zs.zarr")
    a = zarrsync.create_array(p2, shape=data.shape, chunks=(16, 8), dtype=dtype, zarr_format=2, compressors=compressor)
    a[...] = data
    assert json.load(open(f"{p2}/.zarray"))["compressor"] == compressor
    np.testing.assert_array_equal(ts().open(ts_spec(p2, open=True)).result().read().result(), data)


def test_zstd_config_written_without_checksum_key_unless_set():
    a = zarrsync.create_array(None, shape=(4,), dtype="i4", zarr_format=2,
                              compressors=[zarrsync.codecs.ZstdCodec(level=3)])
    assert json.loads(a.store.get(".zarray"))["compressor"] == {"id": "zstd", "level": 3}
    b = zarrsync.create_array(None, shape=(4,), dtype="i4", zarr_format=2,
                              compressors=[zarrsync.codecs.ZstdCodec(level=3, checksum=True)])
    assert json.loads(b.store.get(".zarray"))["compressor"] == {"id": "zstd", "level": 3, "checksum": True}
    assert json.loads(zarrsync.create_array(None, shape=(4,), dtype="i4", zarr_format=2).store.get(".zarray"))[
        "compressor"] == {"id": "zstd", "level": 0}


def test_v3_node_wins_over_v2_documents_and_formats_do_not_mix_up(tmp_path):
    store = zarrsync.MemoryStore()
    zarrsync.create_array(store, name="a", shape=(3,), dtype="i2", zarr_format=2)
    zarrsync.create_array(store, name="b", shape=(3,), dtype="i2")
    root = zarrsync.open_group(store)
    assert root.zarr_format == 2  # the root group was created by the first (v2) array
    assert {n: m.zarr_format for n, m in root.members()} == {"a": 2, "b": 3}


def test_fill_value_none_is_stored_as_null_and_reads_as_zero(tmp_path):
    a = zarrsync.create_array(str(tmp_path / "n.zarr"), shape=(3,), dtype="f4", zarr_format=2, fill_value=None)
    b = zarrsync.create_array(str(tmp_path / "d.zarr"), shape=(3,), dtype="f4", zarr_format=2)
    assert json.loads((tmp_path / "n.zarr" / ".zarray").read_text())["fill_value"] is None
    assert json.loads((tmp_path / "d.zarr" / ".zarray").read_text())["fill_value"] == 0.0
    assert a.fill_value is None and b.fill_value == 0.0
    np.testing.assert_array_equal(a[...], np.zeros(3, "f4"))
    a.resize((2,))  # the cut-off part of the last chunk is cleared to zero, not to None
    a.resize((3,))
    np.testing.assert_array_equal(a[...], np.zeros(3, "f4"))
