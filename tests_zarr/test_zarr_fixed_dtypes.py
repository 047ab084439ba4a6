"""The fixed-size non-numeric data types against the real zarr-python 3 (``zarr>=3.4``), both ways.

``struct`` (flat, big-endian, nested with bytes/time/raw/text fields), ``fixed_length_utf32``
(``U``), ``null_terminated_bytes`` (``S``), ``raw_bytes`` (``V``), ``numpy.datetime64`` and
``numpy.timedelta64``, in Zarr v3 (plain and sharded) and Zarr v2. Each case is written by
zarr-python and read by zarrsync, and written by zarrsync and read by zarr-python; part of every
array stays unwritten, so missing chunks read as the fill value. Expected values are a numpy model
(the fill value everywhere, then the written region), never zarrsync's output. Run with the
Python that has zarr-python::

    /work/venv-peers/bin/python -m pytest -q tests_zarr/test_zarr_fixed_dtypes.py
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import zarr  # zarr-python >= 3.4: missing it is an error, not a skip

import zarrsync
from interop_common import make_values, same_bytes  # in tests/, put on sys.path by conftest.py

pytestmark = [pytest.mark.zarr_python,
              # zarr-python warns that some of these data types have no stable v3 spec yet
              pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

FLAT = np.dtype([("x", "<f4"), ("y", "<i2")])
FLAT_BE = np.dtype([("x", ">f4"), ("y", ">i2")])
NESTED = np.dtype([("x", "<f4"), ("p", [("a", "<i2"), ("b", "S2")]), ("t", "<M8[s]"), ("v", "V2"), ("u", "<U2")])

CASES = [
    # id, numpy dtype, fill value (None: each library's default), shards (v3 only)
    ("U5", np.dtype("<U5"), "zé", None),
    ("U5-default", np.dtype("<U5"), None, None),
    ("S4", np.dtype("S4"), b"f\x00g", None),
    ("S4-default", np.dtype("S4"), None, None),
    ("V3", np.dtype("V3"), b"\x07\x00\x09", None),
    ("M8-10us", np.dtype("<M8[10us]"), np.datetime64(12345 * 10, "us"), None),
    ("M8-ns-NaT", np.dtype("<M8[ns]"), None, None),
    ("m8-s", np.dtype("<m8[s]"), np.timedelta64(-4, "s"), None),
    ("m8-3D-NaT", np.dtype("<m8[3D]"), np.timedelta64("NaT", "3D"), None),
    ("struct", FLAT, (np.nan, 7), None),
    ("struct-default", FLAT, None, None),
    ("struct-big-endian", FLAT_BE, (-0.0, -1), None),
    ("struct-nested", NESTED, (1.0, (2, b"ab"), np.datetime64("NaT"), b"\x01\x02", "é"), None),
    ("struct-sharded", FLAT, (1.5, -2), (6, 4)),
    ("U5-sharded", np.dtype("<U5"), "q", (6, 4)),
    ("M8-sharded", np.dtype("<M8[ms]"), None, (6, 4)),
]
SHAPE, CHUNKS = (7, 5), (3, 2)
REGION = (slice(1, 6), slice(1, 5))  # edge chunks on both axes; chunks (2, *) and (*, 0) stay partly unwritten


def compressors(case, zarr_format) -> dict:
    """zarr-python's v2 writer hands numcodecs' zstd a structured array with a datetime field,
    which numpy cannot export as a buffer (zarr-python fails both ways): no compressor there."""
    return {"compressors": None} if zarr_format == 2 and case[1].names and "M" in str(case[1]) else {}


def fill_of(a) -> np.ndarray:
    """An array's fill value as a 0-d array (a v2 null fill reads as the default)."""
    return np.asarray(default_fill(a.dtype) if a.fill_value is None else a.fill_value, dtype=a.dtype)


def formats(case):
    return (3,) if case[3] is not None else (3, 2)


PARAMS = [pytest.param(case, fmt, id=f"{case[0]}-v{fmt}") for case in CASES for fmt in formats(case)]


def default_fill(dtype: np.dtype):
    """What both libraries read for "no fill value given": NaT for times, zeros otherwise."""
    if dtype.kind in "Mm":
        return np.array("NaT", dtype=dtype)[()]
    return np.zeros((), dtype=dtype)[()]


def model_of(dtype: np.dtype, fill) -> tuple[np.ndarray, np.ndarray]:
    """(the values written into REGION, the whole array expected afterwards), in the native dtype."""
    native = dtype.newbyteorder("=") if dtype.names is None else np.dtype(
        [(n, dtype.fields[n][0].newbyteorder("=")) for n in dtype.names])
    fill_np = default_fill(native) if fill is None else np.array(fill, dtype=native)[()]
    model = np.full(SHAPE, fill_np, dtype=native)
    values = make_values(dtype, SHAPE[0] * SHAPE[1], seed=11).reshape(SHAPE).astype(native)
    model[REGION] = values[REGION]
    return values, model


def as_native(arr) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.names is None:
        return arr.astype(arr.dtype.newbyteorder("="))
    return arr.astype([(n, arr.dtype.fields[n][0].newbyteorder("=")) for n in arr.dtype.names])


@pytest.mark.parametrize("case, zarr_format", PARAMS)
def test_zarr_python_writes_zarrsync_reads(tmp_path, case, zarr_format):
    _id, dtype, fill, shards = case
    path = str(tmp_path / "a.zarr")
    z = zarr.create_array(store=path, shape=SHAPE, chunks=CHUNKS, shards=shards, dtype=dtype, fill_value=fill,
                          zarr_format=zarr_format, **compressors(case, zarr_format))
    values, model = model_of(dtype, fill)
    z[REGION] = values[REGION].astype(z.dtype)
    same_bytes(as_native(z[...]), model)  # zarr-python agrees with the model

    a = zarrsync.open_array(path, mode="r")
    assert a.zarr_format == zarr_format and a.shape == SHAPE
    same_bytes(a[...], model)
    same_bytes(a[2:7:2, ::-2], model[2:7:2, ::-2])
    same_bytes(fill_of(a), np.asarray(model[0, 0], a.dtype))

    # zarrsync updates the zarr-python array in place; zarr-python reads the result
    b = zarrsync.open_array(path, mode="r+")
    more = make_values(dtype, 5, seed=12).astype(model.dtype)
    b[6, :] = more
    model[6, :] = more
    same_bytes(as_native(zarr.open_array(path, mode="r")[...]), model)


@pytest.mark.parametrize("case, zarr_format", PARAMS)
def test_zarrsync_writes_zarr_python_reads(tmp_path, case, zarr_format):
    _id, dtype, fill, shards = case
    path = str(tmp_path / "a.zarr")
    a = zarrsync.create_array(path, shape=SHAPE, chunks=CHUNKS, shards=shards, dtype=dtype, fill_value=fill,
                              zarr_format=zarr_format, **compressors(case, zarr_format))
    values, model = model_of(dtype, fill)
    a[REGION] = values[REGION]
    same_bytes(a[...], model)

    z = zarr.open_array(path, mode="r")
    assert z.metadata.zarr_format == zarr_format
    same_bytes(as_native(z[...]), model)
    same_bytes(as_native(z[1:6:2, 3]), model[1:6:2, 3])
    same_bytes(as_native(fill_of(z)), np.asarray(model[0, 0], model.dtype))

    # zarr-python updates the zarrsync array in place; zarrsync reads the result
    w = zarr.open_array(path, mode="r+")
    more = make_values(dtype, 5, seed=13).astype(model.dtype)
    w[0, :] = more.astype(w.dtype)
    model[0, :] = more
    same_bytes(zarrsync.open_array(path, mode="r")[...], model)


@pytest.mark.parametrize("dtype", ["<U3", "S3", "V2", "<M8[10us]", "<m8[s]", FLAT, NESTED], ids=str)
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_both_libraries_write_the_same_metadata(tmp_path, dtype, zarr_format):
    """The data type and fill value JSON match zarr-python's for the same request, so each
    library's documents look alike (zarr-python writes the integer for NaT, zarrsync "NaT" in v3:
    both forms are equivalent; SPEC_CHECKLIST §3). In v2, zarr-python writes a null fill when none
    is given and stripped base64 for S; zarrsync writes the default and every byte."""
    dtype = np.dtype(dtype)
    zarr.create_array(store=str(tmp_path / "zp"), shape=(3,), chunks=(2,), dtype=dtype, zarr_format=zarr_format)
    zarrsync.create_array(str(tmp_path / "zs"), shape=(3,), chunks=(2,), dtype=dtype, zarr_format=zarr_format)
    name = "zarr.json" if zarr_format == 3 else ".zarray"
    zp = json.loads((tmp_path / "zp" / name).read_text())
    zs = json.loads((tmp_path / "zs" / name).read_text())
    key = "data_type" if zarr_format == 3 else "dtype"
    assert zs[key] == zp[key]
    if zarr_format == 3:
        nat = -(2**63)
        assert json.dumps(zs["fill_value"]).replace('"NaT"', str(nat)) == json.dumps(zp["fill_value"])
        assert zs["codecs"][0] == zp["codecs"][0]
    # each library reads the other's document and sees the same fill value
    for path in ("zp", "zs"):
        a = zarrsync.open_array(str(tmp_path / path))
        z = zarr.open_array(str(tmp_path / path))
        same_bytes(fill_of(a), as_native(fill_of(z)))


def test_zarr_python_reads_zarrsync_raw_bytes_and_null_terminated_bytes_metadata(tmp_path):
    a = zarrsync.create_array(str(tmp_path), shape=(4,), chunks=(2,), dtype="V3", fill_value=b"\x00\x01\x02")
    a[1] = b"xyz"
    doc = json.loads((tmp_path / "zarr.json").read_text())
    assert doc["data_type"] == {"name": "raw_bytes", "configuration": {"length_bytes": 3}}
    z = zarr.open_array(str(tmp_path))
    assert [bytes(v) for v in z[...].tolist()] == [b"\x00\x01\x02", b"xyz", b"\x00\x01\x02", b"\x00\x01\x02"]


def test_struct_fill_json_from_zarr_python_is_read_by_name(tmp_path):
    """zarr-python writes the object fill form; zarrsync reads it field by field, nested too."""
    z = zarr.create_array(store=str(tmp_path), shape=(2,), chunks=(2,), dtype=NESTED,
                          fill_value=(2.5, (-3, b"q"), np.datetime64(7, "s"), b"\xff\x00", "zz"))
    doc = json.loads((tmp_path / "zarr.json").read_text())
    assert doc["data_type"]["name"] == "struct" and isinstance(doc["fill_value"], dict)
    a = zarrsync.open_array(str(tmp_path))
    expected = np.array((2.5, (-3, b"q"), np.datetime64(7, "s"), b"\xff\x00", "zz"), NESTED)
    same_bytes(a[...], np.full(2, expected, NESTED))
    same_bytes(as_native(z[...]), np.full(2, expected, NESTED))


def test_mixed_byte_order_v2_structs_are_refused_clearly(tmp_path):
    """zarr-python keeps each field's byte order in a v2 structured dtype; zarrsync stores one byte
    order per array and says so rather than misreading the data."""
    zarr.create_array(store=str(tmp_path), shape=(2,), chunks=(2,), dtype=[("x", "<f4"), ("y", ">i2")], zarr_format=2)
    assert json.loads((tmp_path / ".zarray").read_text())["dtype"] == [["x", "<f4"], ["y", ">i2"]]
    with pytest.raises(zarrsync.errors.DataTypeError, match="mixes little- and big-endian"):
        zarrsync.open_array(str(tmp_path))
