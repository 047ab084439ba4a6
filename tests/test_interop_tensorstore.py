"""Interop with the real tensorstore ``zarr3`` driver, both directions.

Every case is written once by tensorstore and read by zarrsync, and written once by zarrsync and
read by tensorstore (opened from the path alone, no metadata given). Expected values always come
from numpy (a model array filled with the fill value, then the written region), never from
zarrsync. The metadata each side reports and the ``zarr.json`` documents each side writes are
compared too. The case model and the numpy oracle helpers live in ``interop_common`` (shared with
the zarr-python suite).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

import zarrsync
from interop_common import (
    B_1, B_BE, B_LE, CRC, GZ, ZS, Case, T, assert_same, check_keys, check_zarrsync_metadata, chunk_key,
    cke_cases, codec_cases, data_of, decode_fill, dtype_cases, expected_of, fill_cases, fills_equal,
    has_writes, load_json, make_data, ndim_cases, norm_meta, stored_keys, zs_create, zs_write,
)
from oracles import require

ts = require("tensorstore")  # every test here needs it

# --- the tensorstore writer and reader ---------------------------------------------------------------

def ts_metadata(case: Case) -> dict:
    md = {
        "shape": list(case.shape),
        "data_type": case.dtype,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(case.chunks)}},
        "codecs": list(case.codecs),
        "fill_value": case.fill,
    }
    if case.dimension_names is not None:
        md["dimension_names"] = list(case.dimension_names)
    if case.cke is not None:
        md["chunk_key_encoding"] = case.cke
    return md


def ts_create(path: str, case: Case):
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": path},
            "metadata": ts_metadata(case), "create": True, "delete_existing": True}
    return ts.open(spec).result()


def ts_open(path: str):
    return ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": path}}).result()


def ts_write(case: Case, path: str) -> None:
    a = ts_create(path, case)
    a[case.region].write(data_of(case)).result()


def check_ts_metadata(b, case: Case) -> None:
    assert tuple(b.shape) == case.shape
    assert b.dtype.numpy_dtype == np.dtype(case.dtype)
    assert fills_equal(b.fill_value, decode_fill(case.fill, case.dtype)), (b.fill_value, case.fill)
    labels = tuple(b.domain.labels)
    want = case.dimension_names or (None,) * len(case.shape)
    assert labels == tuple(n or "" for n in want)
    assert tuple(b.chunk_layout.read_chunk.shape or ()) == case.chunks  # None for a 0-d array


# --- the matrix --------------------------------------------------------------------------------------

CODEC_LAYOUTS = [
    ("u2_2d", "uint16", (11, 13), (4, 5), T(1, 0), 7),
    ("f8_3d", "float64", (5, 6, 7), (2, 4, 3), T(2, 0, 1), -0.5),
    ("i4_4d", "int32", (5, 4, 3, 6), (2, 3, 2, 4), T(1, 3, 0, 2), 11),
    ("c8_2d", "complex64", (6, 9), (4, 4), T(1, 0), [1.0, -2.0]),
]


def _ndim_cases() -> list[Case]:
    # the shared 0-d to 4-d cases (each with a NaN-filled float32 twin) and edge layouts; then chunk == 1
    return ndim_cases(nan_float_twins=True) + [Case("chunk-of-one", "uint8", (3, 4), (1, 1), (B_1, GZ(1)), 9)]


# (dtype, fill JSON); half of each array stays unwritten, so never-written chunks are read as fill
FILLS = [
    ("int32", 0), ("int32", -7), ("int8", -128), ("int16", 32767), ("int64", -(2 ** 63)),
    ("int64", 2 ** 63 - 1), ("uint8", 255), ("uint32", 42), ("uint64", 2 ** 64 - 1),
    ("uint64", 2 ** 63 + 12345), ("bool", True), ("bool", False),
    ("float16", "NaN"), ("float16", "-Infinity"), ("float32", "NaN"), ("float32", "Infinity"),
    ("float32", -1.5), ("float64", "NaN"), ("float64", "Infinity"), ("float64", "-Infinity"),
    ("float64", 1e300), ("float64", -0.0),
    ("complex64", ["NaN", 1.0]), ("complex64", [1.5, "-Infinity"]), ("complex128", [0.0, 0.0]),
    ("complex128", ["Infinity", -2.5]),
]


def _dimension_name_cases() -> list[Case]:
    return [
        Case("dimnames-all", "uint16", (6, 5, 4), (2, 2, 2), (B_LE,), 0, ("z", "y", "x")),
        Case("dimnames-null-entry", "uint16", (6, 5, 4), (2, 2, 2), (B_LE,), 0, ("t", None, "x")),
        Case("dimnames-all-null", "uint16", (6, 5), (4, 2), (B_LE,), 0, (None, None)),
        Case("dimnames-1d", "float32", (7,), (3,), (B_LE,), 0, ("time",)),
    ]


CKES = {
    "default-slash": {"name": "default", "configuration": {"separator": "/"}},
    "default-dot": {"name": "default", "configuration": {"separator": "."}},
    "v2-dot": {"name": "v2", "configuration": {"separator": "."}},
    "v2-slash": {"name": "v2", "configuration": {"separator": "/"}},
    "default-noconfig": {"name": "default"},
    "v2-noconfig": {"name": "v2"},
}


def _partial_cases() -> list[Case]:
    return [
        Case("partial-middle", "int32", (20, 17), (6, 5), (B_LE, ZS(1)), 0, region=(slice(5, 13), slice(3, 11))),
        Case("partial-strided", "float32", (20, 17), (6, 5), (T(1, 0), B_LE, CRC), "NaN",
             region=(slice(1, 19, 3), slice(None, None, 4))),
        Case("partial-one-element", "uint64", (10, 10), (3, 3), (B_BE,), 2 ** 64 - 1, region=(4, 7)),
        Case("partial-edge-chunk", "int8", (10, 10), (4, 4), (B_1, GZ(3)), 5, region=(slice(8, 10), slice(8, 10))),
        Case("partial-nothing", "float64", (10, 10), (4, 4), (B_LE,), "Infinity", region=(slice(3, 3), slice(None))),
    ]


CASES = (codec_cases(CODEC_LAYOUTS) + dtype_cases([("none", B_1), ("big", B_BE)]) + _ndim_cases()
         + fill_cases(FILLS) + _dimension_name_cases() + cke_cases(CKES) + _partial_cases())
assert len({c.id for c in CASES}) == len(CASES)


# --- tests -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_tensorstore_writes_zarrsync_reads(tmp_path, case: Case) -> None:
    path = str(tmp_path / "ts.zarr")
    ts_write(case, path)
    if has_writes(case):
        check_keys(path, case)
    a = zarrsync.open_array(path, mode="r")
    check_zarrsync_metadata(a, case)
    expected = expected_of(case)
    assert_same(a[...], expected)
    if case.shape:
        # a partial, strided read crossing chunk boundaries
        sel = tuple(slice(1, None, 2) if s > 1 else slice(None) for s in case.shape)
        assert_same(a[sel], expected[sel])
        sel = tuple(slice(None, None, -3) for _ in case.shape)
        assert_same(a[sel], expected[sel])
        if all(case.shape):
            idx = tuple(s // 2 for s in case.shape)
            assert_same(np.asarray(a[idx]), np.asarray(expected[idx]))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_zarrsync_writes_tensorstore_reads(tmp_path, case: Case) -> None:
    path = str(tmp_path / "zs.zarr")
    zs_write(case, path)
    if has_writes(case):
        check_keys(path, case)
    b = ts_open(path)
    check_ts_metadata(b, case)
    expected = expected_of(case)
    assert_same(b.read().result(), expected)
    if case.shape:
        sel = tuple(slice(1, None, 2) if s > 1 else slice(None) for s in case.shape)
        assert_same(b[sel].read().result(), expected[sel])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_zarr_json_documents_agree(tmp_path, case: Case) -> None:
    """Both libraries describe the same array with semantically the same zarr.json."""
    p_ts, p_zs = str(tmp_path / "ts.zarr"), str(tmp_path / "zs.zarr")
    ts_create(p_ts, case)
    zs_create(p_zs, case)
    d_ts, d_zs = load_json(p_ts), load_json(p_zs)
    assert d_zs["zarr_format"] == 3 and d_zs["node_type"] == "array"
    n_ts, n_zs = norm_meta(d_ts), norm_meta(d_zs)
    # fill values: compare decoded (JSON spellings 1 vs 1.0 are the same number)
    f_ts, f_zs = n_ts.pop("fill_value"), n_zs.pop("fill_value")
    assert fills_equal(decode_fill(f_zs, case.dtype), decode_fill(f_ts, case.dtype)), (f_zs, f_ts)
    if np.dtype(case.dtype).kind == "f":
        assert np.signbit(decode_fill(f_zs, case.dtype)) == np.signbit(decode_fill(f_ts, case.dtype))
    assert n_zs == n_ts


def test_chunk_keys_identical_on_disk(tmp_path) -> None:
    """For every chunk key encoding both writers store exactly the same keys."""
    for name, cke in CKES.items():
        case = Case(f"keys-{name}", "uint8", (5, 7, 3), (2, 3, 2), (B_1,), 0, cke=cke)
        p_ts, p_zs = str(tmp_path / f"ts-{name}"), str(tmp_path / f"zs-{name}")
        data = np.arange(1, 5 * 7 * 3 + 1, dtype="uint8").reshape(case.shape)
        ts_create(p_ts, case).write(data).result()
        zs_create(p_zs, case)[...] = data
        k_ts, k_zs = stored_keys(p_ts), stored_keys(p_zs)
        assert k_zs == k_ts, name
        want = {chunk_key((i, j, k), cke) for i in range(3) for j in range(3) for k in range(2)}
        assert k_zs - {"zarr.json"} == want, name


def test_chunk_bytes_identical_uncompressed(tmp_path) -> None:
    """With no compressor the chunk bytes are fully determined by the spec: both writers agree."""
    for chain in ([B_LE], [B_BE], [T(1, 0), B_BE], [T(1, 0), B_LE, CRC]):
        case = Case("bytes", "int32", (7, 5), (3, 2), tuple(chain), -9)
        p_ts, p_zs = str(tmp_path / "ts"), str(tmp_path / "zs")
        data = make_data("int32", case.shape, 1)
        ts_create(p_ts, case).write(data).result()
        zs_create(p_zs, case)[...] = data
        keys = stored_keys(p_ts) - {"zarr.json"}
        assert keys == stored_keys(p_zs) - {"zarr.json"}
        for k in keys:
            with open(os.path.join(p_ts, k), "rb") as f1, open(os.path.join(p_zs, k), "rb") as f2:
                assert f1.read() == f2.read(), (chain, k)


HEX_FILLS = [
    ("float16", "0x7e01"),               # quiet NaN with a payload
    ("float32", "0x7fc00001"),
    ("float32", "0xffc00000"),           # negative NaN
    ("float32", "0x7f800001"),           # signalling NaN
    ("float64", "0x7ff8000000000001"),
    ("float64", "0xfff8000000000000"),
]


def _bits(value: Any, dtype: str) -> int:
    return int(np.asarray(value, dtype=dtype).view(f"u{np.dtype(dtype).itemsize}"))


@pytest.mark.parametrize("dtype,hexfill", HEX_FILLS)
def test_hex_nan_fill_from_tensorstore(tmp_path, dtype, hexfill) -> None:
    """A NaN with a payload or sign can only be stored as a hex fill; zarrsync keeps the bits."""
    case = Case("hexnan", dtype, (5,), (2,), (B_LE,), hexfill, region=slice(0, 2))
    path = str(tmp_path / "ts.zarr")
    ts_write(case, path)
    assert load_json(path)["fill_value"].lower() == hexfill   # tensorstore kept the hex form
    a = zarrsync.open_array(path, mode="r")
    assert _bits(a.fill_value, dtype) == int(hexfill, 16)
    out = a[...]
    assert_same(out[:2], data_of(case))
    assert (out[2:].view(f"u{np.dtype(dtype).itemsize}") == int(hexfill, 16)).all()


@pytest.mark.parametrize("dtype,hexfill", HEX_FILLS)
def test_hex_nan_fill_to_tensorstore(tmp_path, dtype, hexfill) -> None:
    fill = decode_fill(hexfill, dtype)
    assert _bits(fill, dtype) == int(hexfill, 16)
    path = str(tmp_path / "zs.zarr")
    a = zarrsync.create_array(zarrsync.LocalStore(path), shape=(5,), dtype=dtype, chunks=(2,),
                              fill_value=fill, compressors=None, overwrite=True)
    a[:2] = np.array([1, 2], dtype=dtype)
    written = load_json(path)["fill_value"]
    assert isinstance(written, str) and written.lower() == hexfill, written
    b = ts_open(path)
    assert _bits(b.fill_value, dtype) == int(hexfill, 16)
    out = b.read().result()
    assert (out[2:].view(f"u{np.dtype(dtype).itemsize}") == int(hexfill, 16)).all()
    assert list(out[:2]) == [1, 2]


# --- partial write round trips across the two libraries ------------------------------------------------

def test_tensorstore_writes_region_of_zarrsync_array(tmp_path) -> None:
    path = str(tmp_path / "a.zarr")
    case = Case("rw", "int32", (23, 19), (5, 4), (T(1, 0), B_LE, ZS(1, True), CRC), -1,
                dimension_names=("y", "x"))
    a = zs_create(path, case)
    model = np.full(case.shape, -1, dtype="int32")
    first = make_data("int32", (23, 10), 1)
    a[:, :10] = first
    model[:, :10] = first
    b = ts_open(path)
    patch = make_data("int32", (9, 12), 2)
    b[4:13, 3:15].write(patch).result()        # partial chunks on every side, some never written before
    model[4:13, 3:15] = patch
    b[22, 18].write(np.int32(77)).result()      # a single element in the far corner edge chunk
    model[22, 18] = 77
    a2 = zarrsync.open_array(path, mode="r")
    assert_same(a2[...], model)
    assert_same(a2[3:20:2, ::-2], model[3:20:2, ::-2])
    assert a2[22, 18] == 77
    # and zarrsync writes over tensorstore's chunks; tensorstore reads the result
    a3 = zarrsync.open_array(path, mode="r+")
    more = make_data("int32", (4, 19), 3)
    a3[10:14, :] = more
    model[10:14, :] = more
    assert_same(ts_open(path).read().result(), model)


def test_zarrsync_writes_region_of_tensorstore_array(tmp_path) -> None:
    path = str(tmp_path / "b.zarr")
    case = Case("rw2", "float64", (13, 11, 6), (4, 3, 5), (B_BE, GZ(4), CRC), "NaN")
    ts_arr = ts_create(path, case)
    model = np.full(case.shape, np.nan)
    base = make_data("float64", (13, 11, 3), 4)
    ts_arr[:, :, :3].write(base).result()
    model[:, :, :3] = base
    a = zarrsync.open_array(path, mode="r+")
    patch = make_data("float64", (5, 7, 4), 5)
    a[2:7, 1:8, 1:5] = patch
    model[2:7, 1:8, 1:5] = patch
    a[12, 10, 5] = 1.25
    model[12, 10, 5] = 1.25
    got = ts_open(path).read().result()
    assert_same(got, model)
    assert_same(ts_open(path)[1:12:3, ::-1, 2].read().result(), model[1:12:3, ::-1, 2])


def test_resize_by_zarrsync_seen_by_tensorstore(tmp_path) -> None:
    path = str(tmp_path / "r.zarr")
    case = Case("resize", "uint16", (6, 6), (4, 4), (B_LE, ZS(0)), 5)
    a = zs_create(path, case)
    data = make_data("uint16", (6, 6), 6)
    a[...] = data
    a.resize((9, 3))
    model = np.full((9, 3), 5, dtype="uint16")
    model[:6, :3] = data[:, :3]
    b = ts_open(path)
    assert tuple(b.shape) == (9, 3)
    assert_same(b.read().result(), model)


def test_attributes_written_by_zarrsync_survive_tensorstore(tmp_path) -> None:
    path = str(tmp_path / "attrs.zarr")
    a = zarrsync.create_array(zarrsync.LocalStore(path), shape=(4,), dtype="int8", chunks=(2,),
                              attributes={"units": "m", "scale": [1, 2.5], "nested": {"k": None}}, overwrite=True)
    a[...] = np.arange(4, dtype="int8")
    b = ts_open(path)
    b[1:3].write(np.array([9, 9], dtype="int8")).result()   # a data write must not touch the attributes
    assert load_json(path)["attributes"] == {"units": "m", "scale": [1, 2.5], "nested": {"k": None}}
    a2 = zarrsync.open_array(path, mode="r")
    assert dict(a2.attrs) == {"units": "m", "scale": [1, 2.5], "nested": {"k": None}}
    assert_same(a2[...], np.array([0, 9, 9, 3], dtype="int8"))


def test_attributes_written_by_tensorstore(tmp_path) -> None:
    path = str(tmp_path / "tsattrs.zarr")
    case = Case("tsattrs", "float32", (4, 3), (2, 2), (B_LE,), 0, dimension_names=("a", "b"))
    md = {**ts_metadata(case), "attributes": {"title": "t", "values": [1, 2.5, None], "deep": {"x": {"y": True}}}}
    arr = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": path}, "metadata": md,
                   "create": True}).result()
    arr[...].write(np.ones((4, 3), "float32")).result()
    a = zarrsync.open_array(path, mode="r")
    assert dict(a.attrs) == {"title": "t", "values": [1, 2.5, None], "deep": {"x": {"y": True}}}
    assert_same(a[...], np.ones((4, 3), "float32"))
    # zarrsync updates the attributes; tensorstore still opens the array and sees the same data
    a2 = zarrsync.open_array(path, mode="r+")
    a2.update_attributes({"added": 1})
    assert load_json(path)["attributes"]["added"] == 1
    assert_same(ts_open(path).read().result(), np.ones((4, 3), "float32"))


def test_resize_by_tensorstore_seen_by_zarrsync(tmp_path) -> None:
    path = str(tmp_path / "tr.zarr")
    case = Case("tsresize", "int16", (7, 8), (3, 3), (B_LE, ZS(0)), -4)
    arr = ts_create(path, case)
    data = make_data("int16", (7, 8), 11)
    arr.write(data).result()
    arr = arr.resize(exclusive_max=[5, 11]).result()
    model = np.full((5, 11), -4, dtype="int16")
    model[:5, :8] = data[:5]
    a = zarrsync.open_array(path, mode="r")
    assert a.shape == (5, 11)
    assert_same(a[...], model)


@pytest.mark.parametrize("chain", [(B_LE, CRC), (B_LE, ZS(1, True)), (B_LE, GZ(1)), (B_LE, ZS(1), CRC)],
                         ids=["crc32c", "zstd-checksum", "gzip", "zstd-crc32c"])
def test_corrupt_tensorstore_chunk_is_detected(tmp_path, chain) -> None:
    """A flipped byte in a chunk tensorstore wrote: both libraries refuse it, zarrsync with
    CorruptChunkError naming the key; other chunks still read."""
    path = str(tmp_path / "bad.zarr")
    case = Case("bad", "int32", (8, 8), (4, 4), chain, 0)
    ts_write(case, path)
    key = os.path.join(path, "c", "1", "0")
    raw = bytearray(open(key, "rb").read())
    raw[len(raw) // 2] ^= 0x5A
    with open(key, "wb") as f:
        f.write(bytes(raw))
    with pytest.raises(Exception):
        ts_open(path).read().result()
    a = zarrsync.open_array(path, mode="r")
    with pytest.raises(zarrsync.errors.CorruptChunkError) as info:
        a[...]
    assert "c/1/0" in str(info.value)
    assert_same(a[:4, :], expected_of(case)[:4, :])
