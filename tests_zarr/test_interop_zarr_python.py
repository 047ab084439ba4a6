"""Interop with the real zarr-python 3 (``zarr>=3.4``), both directions.

Run in a Python >= 3.12 environment where zarr-python is installed (see ``.ci/run``)::

    python -m pytest -q tests_zarr

Every array case is written once by zarr-python and read by zarrsync, and written once by
zarrsync and read by zarr-python. Expected values come from numpy (a model array filled with the
fill value, then the written region), never from zarrsync. The ``zarr.json`` documents both
libraries write for the same array are compared semantically, and each library parses the other's
document. Hierarchies (groups with attributes, nested arrays) are checked in both directions.
The case model and the numpy oracle helpers live in ``tests/interop_common.py`` (shared with the
tensorstore suite; ``conftest.py`` here puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np
import pytest
import zarr  # zarr-python >= 3.4: missing it is an error, not a skip
from zarr.codecs import BytesCodec, Crc32cCodec, GzipCodec, TransposeCodec, ZstdCodec
from zarr.core.metadata.v3 import ArrayV3Metadata

import zarrsync
from interop_common import (  # in tests/, put on sys.path by conftest.py
    B_1, B_BE, B_LE, CRC, GZ, ZS, Case, T, assert_same, check_keys, check_zarrsync_metadata, chunk_key,
    cke_cases, codec_cases, data_of, decode_fill, dtype_cases, expected_of, fill_cases, fills_equal,
    has_writes, load_json, make_data, ndim_cases, norm_meta, split_codecs, stored_keys, zs_create, zs_write,
)

pytestmark = pytest.mark.zarr_python

# --- the zarr-python writer ------------------------------------------------------------------------

def zarr_codec(c: dict):
    """A v3 codec JSON object -> the zarr-python codec object."""
    conf = c.get("configuration") or {}
    if c["name"] == "bytes":
        return BytesCodec(endian=conf.get("endian"))
    if c["name"] == "transpose":
        return TransposeCodec(order=conf["order"])
    if c["name"] == "gzip":
        return GzipCodec(level=conf["level"])
    if c["name"] == "zstd":
        return ZstdCodec(level=conf["level"], checksum=conf.get("checksum", False))
    if c["name"] == "crc32c":
        return Crc32cCodec()
    raise AssertionError(c)


def zarr_create(path: str, case: Case):
    filters, serializer, compressors = split_codecs(case.codecs)
    kw = {}
    if case.cke is not None:
        kw["chunk_key_encoding"] = case.cke
    return zarr.create_array(
        store=path, shape=case.shape, dtype=case.dtype, chunks=case.chunks,
        fill_value=decode_fill(case.fill, case.dtype),
        filters=[zarr_codec(c) for c in filters], serializer=zarr_codec(serializer),
        compressors=[zarr_codec(c) for c in compressors],
        dimension_names=case.dimension_names, attributes=case.attributes, zarr_format=3,
        overwrite=True, **kw,
    )


def zarr_write(case: Case, path: str) -> None:
    a = zarr_create(path, case)
    a[case.region] = data_of(case)


def check_zarr_metadata(b, case: Case) -> None:
    assert b.shape == case.shape
    assert b.chunks == case.chunks
    assert np.dtype(b.dtype) == np.dtype(case.dtype)
    assert fills_equal(b.fill_value, decode_fill(case.fill, case.dtype)), (b.fill_value, case.fill)
    unnamed = (None,) * len(case.shape)
    assert tuple(b.metadata.dimension_names or unnamed) == tuple(case.dimension_names or unnamed)
    assert dict(b.attrs) == (case.attributes or {})


# --- the matrix --------------------------------------------------------------------------------------

CODEC_LAYOUTS = [
    ("u2_2d", "uint16", (11, 13), (4, 5), T(1, 0), 7),
    ("f8_3d", "float64", (5, 6, 7), (2, 4, 3), T(2, 0, 1), -0.5),
    ("i4_4d", "int32", (5, 4, 3, 6), (2, 3, 2, 4), T(1, 3, 0, 2), 11),
]


FILLS = [
    ("int32", 0), ("int32", -7), ("int8", -128), ("int64", -(2 ** 63)), ("uint8", 255),
    ("uint64", 2 ** 64 - 1), ("bool", True),
    ("float16", "NaN"), ("float32", "NaN"), ("float32", "Infinity"), ("float64", "-Infinity"),
    ("float64", -1.5), ("float64", -0.0),
    ("complex64", ["NaN", 1.0]), ("complex128", [1.5, "-Infinity"]),
]


CKES = {
    "default-slash": {"name": "default", "configuration": {"separator": "/"}},
    "default-dot": {"name": "default", "configuration": {"separator": "."}},
    "v2-dot": {"name": "v2", "configuration": {"separator": "."}},
    "v2-slash": {"name": "v2", "configuration": {"separator": "/"}},
}


def _misc_cases() -> list[Case]:
    return [
        Case("dimnames-all", "uint16", (6, 5, 4), (2, 2, 2), (B_LE,), 0, ("z", "y", "x")),
        Case("dimnames-null-entry", "uint16", (6, 5, 4), (2, 2, 2), (B_LE,), 0, ("t", None, "x")),
        Case("attributes", "float32", (6,), (4,), (B_LE, ZS(0)), 0,
             attributes={"units": "m", "scale": [1, 2.5], "nested": {"k": None, "b": True}, "s": "é"}),
        Case("partial-middle", "int32", (20, 17), (6, 5), (B_LE, ZS(1)), 0, region=(slice(5, 13), slice(3, 11))),
        Case("partial-strided", "float32", (20, 17), (6, 5), (T(1, 0), B_LE, CRC), "NaN",
             region=(slice(1, 19, 3), slice(None, None, 4))),
        Case("partial-one-element", "uint64", (10, 10), (3, 3), (B_BE,), 2 ** 64 - 1, region=(4, 7)),
    ] + cke_cases(CKES)


CASES = (codec_cases(CODEC_LAYOUTS) + dtype_cases([("none", B_1)]) + ndim_cases() + fill_cases(FILLS)
         + _misc_cases())
assert len({c.id for c in CASES}) == len(CASES)


# --- array tests -------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_zarr_python_writes_zarrsync_reads(tmp_path, case: Case) -> None:
    path = str(tmp_path / "zp.zarr")
    zarr_write(case, path)
    if has_writes(case):
        check_keys(path, case)
    a = zarrsync.open_array(path, mode="r")
    check_zarrsync_metadata(a, case, attributes=True)
    expected = expected_of(case)
    assert_same(a[...], expected)
    if case.shape:
        sel = tuple(slice(1, None, 2) if s > 1 else slice(None) for s in case.shape)
        assert_same(a[sel], expected[sel])
        if all(case.shape):
            idx = tuple(s // 2 for s in case.shape)
            assert_same(np.asarray(a[idx]), np.asarray(expected[idx]))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_zarrsync_writes_zarr_python_reads(tmp_path, case: Case) -> None:
    path = str(tmp_path / "zs.zarr")
    zs_write(case, path)
    if has_writes(case):
        check_keys(path, case)
    b = zarr.open_array(path, mode="r")
    check_zarr_metadata(b, case)
    expected = expected_of(case)
    assert_same(b[...], expected)
    if case.shape:
        sel = tuple(slice(1, None, 2) if s > 1 else slice(None) for s in case.shape)
        assert_same(b[sel], expected[sel])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_zarr_json_documents_agree(tmp_path, case: Case) -> None:
    """Both libraries describe the same array with semantically the same zarr.json, and each
    library's metadata parser accepts the other's document."""
    p_zp, p_zs = str(tmp_path / "zp.zarr"), str(tmp_path / "zs.zarr")
    zarr_create(p_zp, case)
    zs_create(p_zs, case)
    d_zp, d_zs = load_json(p_zp), load_json(p_zs)
    # zarr-python's own parser accepts zarrsync's document and serialises it back unchanged (semantically)
    back = ArrayV3Metadata.from_dict(json.loads(json.dumps(d_zs))).to_dict()
    back = json.loads(json.dumps(back, default=str))
    n_zp, n_zs, n_back = norm_meta(d_zp), norm_meta(d_zs), norm_meta(back)
    fills = [n.pop("fill_value") for n in (n_zp, n_zs, n_back)]
    dec = [decode_fill(f, case.dtype) for f in fills]
    assert fills_equal(dec[1], dec[0]) and fills_equal(dec[2], dec[0]), fills
    if np.dtype(case.dtype).kind == "f":
        assert np.signbit(dec[1]) == np.signbit(dec[0])
    assert n_zs == n_zp
    assert n_back == n_zp
    # and zarrsync opens zarr-python's document with the same meaning
    a = zarrsync.open_array(p_zp, mode="r")
    check_zarrsync_metadata(a, case, attributes=True)


def test_chunk_keys_identical_on_disk(tmp_path) -> None:
    for name, cke in CKES.items():
        case = Case(f"keys-{name}", "uint8", (5, 7, 3), (2, 3, 2), (B_1,), 0, cke=cke)
        p_zp, p_zs = str(tmp_path / f"zp-{name}"), str(tmp_path / f"zs-{name}")
        data = np.arange(1, 5 * 7 * 3 + 1, dtype="uint8").reshape(case.shape)
        zarr_create(p_zp, case)[...] = data
        zs_create(p_zs, case)[...] = data
        assert stored_keys(p_zs) == stored_keys(p_zp), name
        want = {chunk_key((i, j, k), cke) for i in range(3) for j in range(3) for k in range(2)}
        assert stored_keys(p_zs) - {"zarr.json"} == want, name


def test_chunk_bytes_identical_uncompressed(tmp_path) -> None:
    """Without a compressor the chunk bytes are fixed by the spec, so both writers agree byte for byte."""
    for i, chain in enumerate(([B_LE], [B_BE], [T(1, 0), B_BE], [T(1, 0), B_LE, CRC])):
        case = Case("bytes", "int32", (7, 5), (3, 2), tuple(chain), -9)
        p_zp, p_zs = str(tmp_path / f"zp{i}"), str(tmp_path / f"zs{i}")
        data = make_data("int32", case.shape, 1)
        zarr_create(p_zp, case)[...] = data
        zs_create(p_zs, case)[...] = data
        keys = stored_keys(p_zp) - {"zarr.json"}
        assert keys == stored_keys(p_zs) - {"zarr.json"}
        for k in keys:
            with open(os.path.join(p_zp, k), "rb") as f1, open(os.path.join(p_zs, k), "rb") as f2:
                assert f1.read() == f2.read(), (chain, k)


def test_zarr_python_default_array_read_by_zarrsync(tmp_path) -> None:
    """zarr-python's defaults (auto chunks, its default compressor and fill) as a user gets them."""
    path = str(tmp_path / "d.zarr")
    data = make_data("float32", (300, 200), 7)
    z = zarr.create_array(store=path, shape=data.shape, dtype="float32")
    z[...] = data
    a = zarrsync.open_array(path, mode="r")
    assert a.chunks == z.chunks
    assert fills_equal(a.fill_value, z.fill_value)
    assert_same(a[...], data)


def test_zarrsync_default_array_read_by_zarr_python(tmp_path) -> None:
    path = str(tmp_path / "d.zarr")
    data = make_data("int16", (300, 200), 8)
    a = zarrsync.create_array(path, shape=data.shape, dtype="int16", chunks=(64, 64))
    a[...] = data
    z = zarr.open_array(path, mode="r")
    assert z.chunks == (64, 64)
    assert_same(z[...], data)
    assert_same(z[5:250:7, 1::3], data[5:250:7, 1::3])  # zarr-python: positive steps only


# --- partial writes across the two libraries -------------------------------------------------------------

def test_zarr_python_writes_region_of_zarrsync_array(tmp_path) -> None:
    path = str(tmp_path / "a.zarr")
    case = Case("rw", "int32", (23, 19), (5, 4), (T(1, 0), B_LE, ZS(1, True), CRC), -1, dimension_names=("y", "x"))
    a = zs_create(path, case)
    model = np.full(case.shape, -1, dtype="int32")
    first = make_data("int32", (23, 10), 1)
    a[:, :10] = first
    model[:, :10] = first
    z = zarr.open_array(path, mode="r+")
    patch = make_data("int32", (9, 12), 2)
    z[4:13, 3:15] = patch
    model[4:13, 3:15] = patch
    z[22, 18] = 77
    model[22, 18] = 77
    a2 = zarrsync.open_array(path, mode="r")
    assert_same(a2[...], model)
    assert_same(a2[3:20:2, ::-2], model[3:20:2, ::-2])
    a3 = zarrsync.open_array(path, mode="r+")
    more = make_data("int32", (4, 19), 3)
    a3[10:14, :] = more
    model[10:14, :] = more
    assert_same(zarr.open_array(path, mode="r")[...], model)


def test_zarrsync_writes_region_of_zarr_python_array(tmp_path) -> None:
    path = str(tmp_path / "b.zarr")
    case = Case("rw2", "float64", (13, 11, 6), (4, 3, 5), (B_BE, GZ(4), CRC), "NaN")
    z = zarr_create(path, case)
    model = np.full(case.shape, np.nan)
    base = make_data("float64", (13, 11, 3), 4)
    z[:, :, :3] = base
    model[:, :, :3] = base
    a = zarrsync.open_array(path, mode="r+")
    patch = make_data("float64", (5, 7, 4), 5)
    a[2:7, 1:8, 1:5] = patch
    model[2:7, 1:8, 1:5] = patch
    a[12, 10, 5] = 1.25
    model[12, 10, 5] = 1.25
    z2 = zarr.open_array(path, mode="r")
    assert_same(z2[...], model)
    assert_same(z2[1:12:3, 2::2, 2], model[1:12:3, 2::2, 2])  # zarr-python: positive steps only


def test_resize_and_attributes_by_zarrsync_seen_by_zarr_python(tmp_path) -> None:
    path = str(tmp_path / "r.zarr")
    a = zs_create(path, Case("resize", "uint16", (6, 6), (4, 4), (B_LE, ZS(0)), 5))
    data = make_data("uint16", (6, 6), 6)
    a[...] = data
    a.resize((9, 3))
    a.update_attributes({"k": [1, {"x": None}]})
    model = np.full((9, 3), 5, dtype="uint16")
    model[:6, :3] = data[:, :3]
    z = zarr.open_array(path, mode="r")
    assert z.shape == (9, 3)
    assert dict(z.attrs) == {"k": [1, {"x": None}]}
    assert_same(z[...], model)


def test_resize_and_attributes_by_zarr_python_seen_by_zarrsync(tmp_path) -> None:
    path = str(tmp_path / "r2.zarr")
    z = zarr_create(path, Case("resize", "int8", (6, 6), (4, 4), (B_1, GZ(1)), -2))
    data = make_data("int8", (6, 6), 9)
    z[...] = data
    z.resize((3, 10))
    z.attrs.update({"added": "yes", "n": 3})
    model = np.full((3, 10), -2, dtype="int8")
    model[:3, :6] = data[:3]
    a = zarrsync.open_array(path, mode="r")
    assert a.shape == (3, 10)
    assert dict(a.attrs) == {"added": "yes", "n": 3}
    assert_same(a[...], model)


# --- hierarchies ------------------------------------------------------------------------------------------

GROUP_ATTRS = {
    "": {"title": "root", "version": 2, "tags": ["a", "b"], "nested": {"x": 1.5, "none": None}},
    "a": {"level": 1},
    "a/b": {"level": 2, "flag": True},
    "empty": {},
}
ARRAYS = {
    # path: (shape, dtype, chunks, attributes)
    "x": ((10,), "float64", (4,), {"units": "s"}),
    "a/y": ((4, 5), "int16", (2, 2), {}),
    "a/b/z": ((3, 3, 3), "uint8", (2, 2, 2), {"desc": "cube"}),
    "a/b/scalar": ((), "complex128", (), {}),
}


def _array_data(path: str) -> np.ndarray:
    shape, dtype, _, _ = ARRAYS[path]
    return make_data(dtype, shape, len(path))


def _expected_members() -> dict[str, str]:
    kinds = {p: "group" for p in GROUP_ATTRS if p}
    kinds.update({p: "array" for p in ARRAYS})
    return kinds


def _build_with_zarr_python(path: str) -> None:
    root = zarr.open_group(path, mode="w", attributes=GROUP_ATTRS[""])
    for p, attrs in GROUP_ATTRS.items():
        if p:
            root.create_group(p, attributes=attrs)
    for p, (shape, dtype, chunks, attrs) in ARRAYS.items():
        arr = root.create_array(p, shape=shape, dtype=dtype, chunks=chunks, attributes=attrs)
        arr[...] = _array_data(p)


def _build_with_zarrsync(path: str) -> None:
    root = zarrsync.open_group(path, mode="w", attributes=GROUP_ATTRS[""])
    for p, attrs in GROUP_ATTRS.items():
        if p:
            root.create_group(p, attributes=attrs)
    for p, (shape, dtype, chunks, attrs) in ARRAYS.items():
        arr = root.create_array(p, shape=shape, dtype=dtype, chunks=chunks, attributes=attrs)
        arr[...] = _array_data(p)


def _check_zarrsync_view(path: str) -> None:
    g = zarrsync.open_group(path, mode="r")
    assert dict(g.attrs) == GROUP_ATTRS[""]
    assert sorted(g.keys()) == ["a", "empty", "x"]
    assert sorted(g.group_keys()) == ["a", "empty"]
    assert g.array_keys() == ["x"]
    members = dict(g.members(max_depth=None))
    want = _expected_members()
    assert set(members) == set(want)
    for p, kind in want.items():
        node = members[p]
        assert isinstance(node, zarrsync.Array if kind == "array" else zarrsync.Group), p
        assert node.path == p
    for p, attrs in GROUP_ATTRS.items():
        node = g if not p else g[p]
        assert isinstance(node, zarrsync.Group)
        assert dict(node.attrs) == attrs, p
    for p, (shape, dtype, chunks, attrs) in ARRAYS.items():
        arr = g[p]
        assert isinstance(arr, zarrsync.Array)
        assert arr.shape == shape and arr.dtype == np.dtype(dtype) and arr.chunks == chunks
        assert dict(arr.attrs) == attrs, p
        assert_same(arr[...], _array_data(p))
    sub = zarrsync.open_group(path, path="a", mode="r")
    assert sorted(sub.keys()) == ["b", "y"]
    assert sorted(n for n, _ in sub.members(max_depth=None)) == ["b", "b/scalar", "b/z", "y"]
    tree = g.tree()
    for p in want:
        assert p.rsplit("/", 1)[-1] in tree, (p, tree)


def _check_zarr_python_view(path: str) -> None:
    g = zarr.open_group(path, mode="r")
    assert dict(g.attrs) == GROUP_ATTRS[""]
    assert sorted(g.keys()) == ["a", "empty", "x"]
    assert sorted(g.group_keys()) == ["a", "empty"]
    assert sorted(g.array_keys()) == ["x"]
    members = dict(g.members(max_depth=None))
    want = _expected_members()
    assert set(members) == set(want)
    for p, kind in want.items():
        assert isinstance(members[p], zarr.Array if kind == "array" else zarr.Group), p
    for p, attrs in GROUP_ATTRS.items():
        node = g if not p else g[p]
        assert isinstance(node, zarr.Group)
        assert dict(node.attrs) == attrs, p
    for p, (shape, dtype, chunks, attrs) in ARRAYS.items():
        arr = g[p]
        assert isinstance(arr, zarr.Array)
        assert arr.shape == shape and np.dtype(arr.dtype) == np.dtype(dtype) and arr.chunks == chunks
        assert dict(arr.attrs) == attrs, p
        assert_same(arr[...], _array_data(p))
    sub = zarr.open_group(path, path="a", mode="r")
    assert sorted(sub.keys()) == ["b", "y"]


def _node_docs(path: str) -> dict[str, dict]:
    docs = {}
    for k in stored_keys(path):
        if k == "zarr.json" or k.endswith("/zarr.json"):
            with open(os.path.join(path, k)) as f:
                docs[k] = norm_meta(json.load(f))
    return docs


def test_zarr_python_hierarchy_read_by_zarrsync(tmp_path) -> None:
    path = str(tmp_path / "h.zarr")
    _build_with_zarr_python(path)
    _check_zarrsync_view(path)


def test_zarrsync_hierarchy_read_by_zarr_python(tmp_path) -> None:
    path = str(tmp_path / "h.zarr")
    _build_with_zarrsync(path)
    _check_zarr_python_view(path)


def test_hierarchy_documents_agree(tmp_path) -> None:
    """The same hierarchy built by both libraries: the same metadata keys, the same documents
    (default codecs included: zarrsync's creation defaults are documented to match zarr-python's)."""
    p_zp, p_zs = str(tmp_path / "zp.zarr"), str(tmp_path / "zs.zarr")
    _build_with_zarr_python(p_zp)
    _build_with_zarrsync(p_zs)
    d_zp, d_zs = _node_docs(p_zp), _node_docs(p_zs)
    assert set(d_zs) == set(d_zp)
    for k in d_zp:
        assert d_zs[k] == d_zp[k], k


def test_zarrsync_edits_zarr_python_hierarchy(tmp_path) -> None:
    """zarrsync adds members and attributes to zarr-python's hierarchy; zarr-python sees them."""
    path = str(tmp_path / "h.zarr")
    _build_with_zarr_python(path)
    g = zarrsync.open_group(path, mode="r+")
    g.update_attributes({"edited": True})
    g.create_group("new/deep", attributes={"d": 1})
    arr = g.create_array("a/new_arr", shape=(5,), dtype="int64", chunks=(2,), fill_value=-1)
    arr[1:3] = [10, 20]
    zg = zarr.open_group(path, mode="r")
    assert zg.attrs["edited"] is True and zg.attrs["title"] == "root"
    assert sorted(zg.keys()) == ["a", "empty", "new", "x"]
    assert dict(zg["new/deep"].attrs) == {"d": 1}
    assert isinstance(zg["new"], zarr.Group)
    assert_same(zg["a/new_arr"][...], np.array([-1, 10, 20, -1, -1], dtype="int64"))


def test_zarr_python_edits_zarrsync_hierarchy(tmp_path) -> None:
    path = str(tmp_path / "h.zarr")
    _build_with_zarrsync(path)
    zg = zarr.open_group(path, mode="r+")
    zg.attrs.update({"edited": True})
    zg.create_group("new/deep", attributes={"d": 1})
    zarr_arr = zg.create_array("a/new_arr", shape=(5,), dtype="int64", chunks=(2,), fill_value=-1)
    zarr_arr[1:3] = [10, 20]
    del zg["empty"]
    g = zarrsync.open_group(path, mode="r")
    assert g.attrs["edited"] is True and g.attrs["title"] == "root"
    assert sorted(g.keys()) == ["a", "new", "x"]
    assert dict(g["new/deep"].attrs) == {"d": 1}
    assert_same(g["a/new_arr"][...], np.array([-1, 10, 20, -1, -1], dtype="int64"))


def test_zarr_python_consolidated_hierarchy_read_by_zarrsync(tmp_path) -> None:
    """zarr-python's consolidated metadata (a ``must_understand: false`` field of the root
    zarr.json) must not stop zarrsync from opening the hierarchy."""
    path = str(tmp_path / "c.zarr")
    _build_with_zarr_python(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(path)
    assert "consolidated_metadata" in load_json(path)
    _check_zarrsync_view(path)


def test_non_finite_and_big_attributes_from_zarr_python(tmp_path) -> None:
    """zarr-python writes bare NaN/Infinity tokens and big integers in attributes; zarrsync reads them."""
    path = str(tmp_path / "n.zarr")
    zarr.open_group(path, mode="w", attributes={"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"),
                                                "big": 2 ** 70})
    attrs = dict(zarrsync.open_group(path, mode="r").attrs)
    assert math.isnan(attrs["nan"]) and attrs["inf"] == math.inf and attrs["ninf"] == -math.inf
    assert attrs["big"] == 2 ** 70


def test_non_finite_attributes_from_zarrsync(tmp_path) -> None:
    path = str(tmp_path / "n2.zarr")
    a = zarrsync.create_array(path, shape=(2,), dtype="f4", chunks=(2,), attributes={"nan": float("nan"), "inf": math.inf})
    a[...] = 1
    attrs = dict(zarr.open_array(path, mode="r").attrs)
    assert math.isnan(attrs["nan"]) and attrs["inf"] == math.inf


def test_write_empty_chunks_true_from_zarr_python(tmp_path) -> None:
    """Chunks equal to the fill value that zarr-python stores anyway read back as stored."""
    path = str(tmp_path / "e.zarr")
    z = zarr.create_array(store=path, shape=(6, 6), dtype="int16", chunks=(3, 3), fill_value=4,
                          config={"write_empty_chunks": True})
    z[...] = 4
    z[0, 0] = 1
    assert stored_keys(path) - {"zarr.json"} == {"c/0/0", "c/0/1", "c/1/0", "c/1/1"}
    model = np.full((6, 6), 4, dtype="int16")
    model[0, 0] = 1
    assert_same(zarrsync.open_array(path, mode="r")[...], model)


ODD_NAMES = ["dotted.name", "with space", "ünïcødé", ".hidden", "c", "0", "zarr_json_like"]


def test_member_names_from_zarr_python(tmp_path) -> None:
    """Names that look like chunk keys or hidden files, unicode names; a stray folder is no member."""
    path = str(tmp_path / "names.zarr")
    g = zarr.open_group(path, mode="w")
    for i, n in enumerate(ODD_NAMES):
        g.create_array(n, shape=(3,), dtype="int8", chunks=(2,))[...] = np.array([i, i + 1, i + 2], dtype="int8")
    g.create_group("sub").create_group("c")
    os.makedirs(os.path.join(path, "stray", "deeper"))
    with open(os.path.join(path, "stray", "note.txt"), "w") as f:
        f.write("not zarr")
    zg = zarrsync.open_group(path, mode="r")
    assert sorted(zg.keys()) == sorted(ODD_NAMES + ["sub"])
    for i, n in enumerate(ODD_NAMES):
        assert_same(zg[n][...], np.array([i, i + 1, i + 2], dtype="int8"))
    assert isinstance(zg["sub/c"], zarrsync.Group)
    assert isinstance(zarrsync.open(path, path="sub/c", mode="r"), zarrsync.Group)
    assert isinstance(zarrsync.open(path, path="with space", mode="r"), zarrsync.Array)


def test_member_names_from_zarrsync(tmp_path) -> None:
    path = str(tmp_path / "names.zarr")
    g = zarrsync.open_group(path, mode="w")
    for i, n in enumerate(ODD_NAMES):
        g.create_array(n, shape=(3,), dtype="int8", chunks=(2,))[...] = np.array([i, i + 1, i + 2], dtype="int8")
    g.create_group("sub").create_group("c")
    zg = zarr.open_group(path, mode="r")
    assert sorted(zg.keys()) == sorted(ODD_NAMES + ["sub"])
    for i, n in enumerate(ODD_NAMES):
        assert_same(zg[n][...], np.array([i, i + 1, i + 2], dtype="int8"))
    assert isinstance(zg["sub/c"], zarr.Group)


def test_zarrsync_overwrites_and_deletes_in_zarr_python_hierarchy(tmp_path) -> None:
    path = str(tmp_path / "o.zarr")
    _build_with_zarr_python(path)
    g = zarrsync.open_group(path, mode="r+")
    del g["a/b"]
    zg = zarr.open_group(path, mode="r")
    assert sorted(n for n, _ in zg.members(max_depth=None)) == ["a", "a/y", "empty", "x"]
    # an array replaces the group "a" and everything under it
    new = zarrsync.create_array(path, name="a", shape=(2, 2), dtype="uint8", chunks=(1, 2), fill_value=3,
                                overwrite=True)
    new[1] = [7, 8]
    za = zarr.open_array(path, path="a", mode="r")
    assert_same(za[...], np.array([[3, 3], [7, 8]], dtype="uint8"))
    assert not any(k.startswith("a/y") for k in stored_keys(path))
    # mode "w" on the root leaves an empty group
    zarrsync.open_group(path, mode="w", attributes={"fresh": True})
    zg = zarr.open_group(path, mode="r")
    assert list(zg.keys()) == [] and dict(zg.attrs) == {"fresh": True}


def test_zarr_python_overwrites_zarrsync_hierarchy(tmp_path) -> None:
    path = str(tmp_path / "o2.zarr")
    _build_with_zarrsync(path)
    zarr.create_array(store=path, name="a", shape=(3,), dtype="int16", chunks=(2,), fill_value=-1, overwrite=True)
    g = zarrsync.open_group(path, mode="r")
    assert sorted(g.keys()) == ["a", "empty", "x"]
    assert isinstance(g["a"], zarrsync.Array)
    assert_same(g["a"][...], np.array([-1, -1, -1], dtype="int16"))
    assert sorted(n for n, _ in g.members(max_depth=None)) == ["a", "empty", "x"]
