"""Zarr v2 metadata documents: parsing and writing, with tensorstore's `zarr` driver as the oracle."""

import json
import math

import numpy as np
import pytest

from zarrsync.errors import DataTypeError, FillValueError, MetadataError
from zarrsync.metadata.v2 import (
    GroupMetadataV2, parse_array_metadata_v2, parse_group_metadata_v2, parse_v2_dtype, v2_typestr,
)
from oracles import tensorstore as ts  # ts() imports it: only the interop tests here need it

NUMERIC = ["|b1", "|i1", "|u1", "<i2", ">i2", "<u4", ">i8", "<u8", "<f2", ">f4", "<f8", "<c8", ">c16"]


def zarray(**overrides):
    doc = {"zarr_format": 2, "shape": [10, 7], "chunks": [4, 3], "dtype": "<f8", "compressor": None,
           "fill_value": 0.0, "order": "C", "filters": None}
    doc.update(overrides)
    return doc


@pytest.mark.parametrize("typestr", NUMERIC)
def test_numeric_typestrs_round_trip(typestr):
    data_type, endian = parse_v2_dtype(typestr)
    assert data_type.dtype == np.dtype(typestr).newbyteorder("=")
    assert endian == (None if np.dtype(typestr).itemsize == 1 else ("big" if typestr[0] == ">" else "little"))
    assert v2_typestr(data_type, endian) == typestr


@pytest.mark.parametrize("typestr", ["|O", "f8", "<x4", 5, "<M8", "|U4", "|S0", [], [["a", "|O"]]])
def test_unsupported_or_malformed_typestrs_refused(typestr):
    with pytest.raises(DataTypeError):
        parse_v2_dtype(typestr)


@pytest.mark.parametrize("dtype, fill, expected", [
    ("<f8", "NaN", math.nan), ("<f4", "Infinity", math.inf), ("<f4", "-Infinity", -math.inf), ("<f8", 1.5, 1.5),
    ("<i4", -7, -7), ("|b1", True, True), ("<c16", ["NaN", 1.0], complex(math.nan, 1.0)), ("<u8", 2**64 - 1, 2**64 - 1),
    ("<f8", None, None), ("<i2", 3.0, 3),
])
def test_fill_values(dtype, fill, expected):
    md = parse_array_metadata_v2(zarray(dtype=dtype, fill_value=fill))
    if expected is None:
        assert md.fill_value is None
    else:
        np.testing.assert_array_equal(np.asarray(md.fill_value), np.asarray(expected, dtype=dtype))
    assert json.loads(json.dumps(md.to_json()))["fill_value"] == fill if fill != 3.0 else 3


@pytest.mark.parametrize("dtype, fill", [("<f8", "nan"), ("<i2", 40000), ("|b1", 2), ("|b1", 0.0), ("<c8", 1.0),
                                         ("<i4", 1.5), ("<U4", [0]), ("<U4", True)])
def test_bad_fill_values_refused(dtype, fill):
    with pytest.raises(FillValueError):
        parse_array_metadata_v2(zarray(dtype=dtype, fill_value=fill))


@pytest.mark.parametrize("field, value", [
    ("zarr_format", 3), ("order", "K"), ("dimension_separator", "-"), ("shape", [10]), ("chunks", [0, 3]),
    ("compressor", {"level": 1}), ("filters", [{"x": 1}]), ("filters", {"id": "delta"}), ("shape", "10"),
])
def test_bad_fields_refused(field, value):
    with pytest.raises(MetadataError):
        parse_array_metadata_v2(zarray(**{field: value}))


@pytest.mark.parametrize("missing", ["shape", "chunks", "dtype", "compressor", "fill_value", "order", "filters"])
def test_missing_required_field_named(missing):
    doc = zarray()
    del doc[missing]
    with pytest.raises(MetadataError, match=missing):
        parse_array_metadata_v2(doc)


def test_empty_filters_read_as_none_and_unknown_keys_ignored():
    md = parse_array_metadata_v2(zarray(filters=[], extra_key={"x": 1}))
    assert md.filters is None
    assert "extra_key" not in md.to_json()


def test_attributes_and_groups():
    md = parse_array_metadata_v2(zarray(), {"a": [1, 2]})
    assert md.attributes == {"a": [1, 2]}
    g = parse_group_metadata_v2({"zarr_format": 2}, {"b": 1})
    assert g.attributes == {"b": 1} and g.to_json() == {"zarr_format": 2} and GroupMetadataV2().attributes == {}
    for bad in ({"zarr_format": 3}, [], None):
        with pytest.raises(MetadataError):
            parse_group_metadata_v2(bad)
    with pytest.raises(MetadataError):
        parse_array_metadata_v2(zarray(), ["not", "an", "object"])


def test_chunk_keys_follow_the_dimension_separator():
    assert parse_array_metadata_v2(zarray()).chunk_key_encoding.encode((2, 4)) == "2.4"
    assert parse_array_metadata_v2(zarray(dimension_separator="/")).chunk_key_encoding.encode((2, 4)) == "2/4"
    assert parse_array_metadata_v2(zarray(shape=[], chunks=[])).chunk_key_encoding.encode(()) == "0"


# --- tensorstore's zarr (v2) driver as the oracle ---------------------------------------------------
CASES = [
    ("<f8", [10, 7], [4, 3], "C", ".", None, 0.0),
    (">i2", [9, 5], [4, 2], "F", "/", None, -3),  # (tensorstore stores 1-d arrays as order "C")
    ("<f4", [5, 6], [2, 6], "F", ".", {"id": "zlib", "level": 1}, "NaN"),
    ("|u1", [8, 8], [8, 3], "C", "/", {"id": "zstd", "level": 3}, 7),
    ("<c16", [4], [3], "C", ".", None, [1.0, "-Infinity"]),
    ("|b1", [6], [4], "C", ".", None, True),
    ("<u8", [3, 3], [2, 2], "C", ".", None, None),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_tensorstore_documents_parse_and_ours_are_accepted(tmp_path, case):
    dtype, shape, chunks, order, sep, compressor, fill = case
    path = str(tmp_path / "a.zarr")
    meta = {"shape": shape, "chunks": chunks, "dtype": dtype, "order": order, "compressor": compressor,
            "fill_value": fill, "filters": None, "dimension_separator": sep}
    arr = ts().open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}, "metadata": meta,
                   "create": True}).result()
    data = np.arange(np.prod(shape)).reshape(shape).astype(np.dtype(dtype))
    arr.write(data).result()
    theirs = json.load(open(f"{path}/.zarray"))
    md = parse_array_metadata_v2(theirs)
    assert (list(md.shape), list(md.chunk_shape), md.order, md.dimension_separator) == (shape, chunks, order, sep)
    assert v2_typestr(md.data_type, md.endian) == np.dtype(dtype).str
    assert md.compressor == theirs["compressor"]
    ours = md.to_json()
    assert {k: v for k, v in ours.items() if k != "dimension_separator"} == \
        {k: v for k, v in theirs.items() if k not in ("dimension_separator", "zarr_format")} | {"zarr_format": 2}
    with open(f"{path}/.zarray", "w") as f:  # tensorstore must read our document and the same data
        json.dump(ours, f)
    back = ts().open({"driver": "zarr", "kvstore": {"driver": "file", "path": path}, "open": True}).result()
    np.testing.assert_array_equal(back.read().result(), data)
    assert back.dtype.numpy_dtype == np.dtype(dtype).newbyteorder("=") or back.dtype.numpy_dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype, fill", [("|b1", 0), ("|b1", 1), ("<U4", 0), ("<U4", 12), ("<U4", 1.5), ("|S1", 0),
                                         ("|S3", 0)])
def test_zarr2_legacy_numeric_fill_values_read_as_zarr2_did(dtype, fill):
    """zarr 2.x before 2.11 wrote ``fill_value: 0`` whatever the dtype (the corpus' zarr-python-v2
    fixtures 14, 15 and 17); zarr 2 read it with numpy's conversion, which is the oracle here."""
    md = parse_array_metadata_v2(zarray(dtype=dtype, fill_value=fill))
    want = np.array(fill).astype(dtype)[()]
    assert md.fill_value == want and type(md.fill_value) in (type(want), type(want.item()))
    again = parse_array_metadata_v2(md.to_json())  # written back in today's form, read the same
    assert again.fill_value == want

