"""Variable-length strings and bytes against the real zarr-python 3 (``zarr>=3.4``), both ways.

``string`` (zarr-python ``dtype=str``) and ``bytes`` (zarr-python ``VariableLengthBytes()``, which
it names ``variable_length_bytes`` in v3; zarrsync writes ``bytes`` and reads both), in Zarr v3
(plain and sharded) and Zarr v2 (``"|O"`` with a ``vlen-utf8`` / ``vlen-bytes`` filter). Each
case is written by one library and read by the other, then updated by the reader and read back
by the writer; part of every array stays unwritten, so missing chunks read as the fill value.
Expected values are a model (the fill value everywhere, then the written region), never
zarrsync's output. Run with the Python that has zarr-python::

    /work/venv-peers/bin/python -m pytest -q tests_zarr/test_zarr_variable_dtypes.py
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr  # zarr-python >= 3.4: missing it is an error, not a skip
from zarr.core.dtype import VariableLengthBytes

import zarrsync

pytestmark = [pytest.mark.zarr_python,
              # zarr-python warns that these data types have no stable v3 spec yet
              pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

StringDType = np.dtypes.StringDType
SHAPE, CHUNKS, SHARDS = (7, 5), (3, 2), (6, 4)
REGION = (slice(1, 6), slice(1, 5))


def text(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    pool = ["", "a", "é", "日本語", "emoji \U0001f600", "tab\tnl\n", "x" * 300, "\x00nul\x00"]
    return [pool[i] + str(j) for j, i in enumerate(rng.integers(0, len(pool), n))]


def raw(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, int(k), dtype=np.uint8).tobytes() + b"\x00" * int(k % 2)
            for k in rng.integers(0, 300, n)]


KINDS = {
    # id: (zarr-python dtype, zarrsync dtype, values, default fill, custom fill)
    # bytes: no custom fill ending in NUL here, see test_zarr_python_drops_trailing_nuls_of_a_bytes_fill
    "str": (str, str, text, "", "fé\x00x"),
    "bytes": (VariableLengthBytes(), bytes, raw, b"", b"\x00ab"),
}
LAYOUTS = {"v3": (3, None), "v3-sharded": (3, SHARDS), "v2": (2, None)}
PARAMS = [pytest.param(kind, layout, fill, id=f"{kind}-{layout}-{fill}")
          for kind in KINDS for layout in LAYOUTS for fill in ("default", "custom")]


def objects(values, shape=None) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr if shape is None else arr.reshape(shape)


def model_of(kind: str, fill: str, seed: int):
    """(values for the whole array, the array expected after writing REGION), as object arrays."""
    _zp, _zs, make, default, custom = KINDS[kind]
    fv = default if fill == "default" else custom
    model = objects([fv] * (SHAPE[0] * SHAPE[1]), SHAPE)
    values = objects(make(SHAPE[0] * SHAPE[1], seed), SHAPE)
    model[REGION] = values[REGION]
    return values, model, fv


def same(got, want) -> None:
    """Same shape and, element by element, the same type (str / bytes) and value."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    g, w = got.ravel().tolist(), want.ravel().tolist()
    assert [type(x) for x in g] == [type(x) for x in w]
    assert g == w


def for_write(kind: str, values: np.ndarray) -> np.ndarray:
    return values.astype(StringDType()) if kind == "str" else values


@pytest.mark.parametrize("kind, layout, fill", PARAMS)
def test_zarr_python_writes_zarrsync_reads(tmp_path, kind, layout, fill):
    zarr_format, shards = LAYOUTS[layout]
    path = str(tmp_path / "a.zarr")
    values, model, fv = model_of(kind, fill, seed=1)
    z = zarr.create_array(store=path, shape=SHAPE, chunks=CHUNKS, shards=shards, dtype=KINDS[kind][0],
                          zarr_format=zarr_format, **({} if fill == "default" else {"fill_value": fv}))
    z[REGION] = for_write(kind, values[REGION])
    same(z[...], model)  # zarr-python agrees with the model
    assert z.fill_value == fv

    a = zarrsync.open_array(path, mode="r")
    assert a.zarr_format == zarr_format and a.shape == SHAPE and a.shards == shards
    assert type(a.fill_value) is type(fv) and a.fill_value == fv
    assert a.dtype == (StringDType() if kind == "str" else np.dtype(object))
    same(a[...], model)
    same(a[2:7:2, ::-2], model[2:7:2, ::-2])
    same(a.oindex[[0, 6], [4, 1]], model[np.ix_([0, 6], [4, 1])])

    # zarrsync updates the zarr-python array in place; zarr-python reads the result
    b = zarrsync.open_array(path, mode="r+")
    more = objects(KINDS[kind][2](5, 2))
    b[6, :] = more
    model[6, :] = more
    b[0, :2] = fv  # back to the fill value
    model[0, :2] = fv
    same(zarr.open_array(path, mode="r")[...], model)


@pytest.mark.parametrize("kind, layout, fill", PARAMS)
def test_zarrsync_writes_zarr_python_reads(tmp_path, kind, layout, fill):
    zarr_format, shards = LAYOUTS[layout]
    path = str(tmp_path / "a.zarr")
    values, model, fv = model_of(kind, fill, seed=3)
    a = zarrsync.create_array(path, shape=SHAPE, chunks=CHUNKS, shards=shards, dtype=KINDS[kind][1],
                              zarr_format=zarr_format, **({} if fill == "default" else {"fill_value": fv}))
    a[REGION] = for_write(kind, values[REGION])
    same(a[...], model)

    z = zarr.open_array(path, mode="r")
    assert z.metadata.zarr_format == zarr_format
    assert type(z.fill_value) is type(fv) and z.fill_value == fv
    same(z[...], model)
    same(z[1:6:2, 3], model[1:6:2, 3])

    # zarr-python updates the zarrsync array in place; zarrsync reads the result
    w = zarr.open_array(path, mode="r+")
    more = objects(KINDS[kind][2](5, 4))
    w[0, :] = for_write(kind, more)
    model[0, :] = more
    same(zarrsync.open_array(path, mode="r")[...], model)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("zarr_format", [3, 2])
def test_both_libraries_write_alike_metadata(tmp_path, kind, zarr_format):
    """The same request gives the same data type, object codec and fill value JSON; only the v3
    bytes name differs (zarr-python's ``variable_length_bytes``, the registered ``bytes``)."""
    zp_dtype, zs_dtype, _make, _default, custom = KINDS[kind]
    zarr.create_array(store=str(tmp_path / "zp"), shape=(3,), chunks=(2,), dtype=zp_dtype, zarr_format=zarr_format,
                      fill_value=custom)
    zarrsync.create_array(str(tmp_path / "zs"), shape=(3,), chunks=(2,), dtype=zs_dtype, zarr_format=zarr_format,
                          fill_value=custom)
    name = "zarr.json" if zarr_format == 3 else ".zarray"
    zp = json.loads((tmp_path / "zp" / name).read_text())
    zs = json.loads((tmp_path / "zs" / name).read_text())
    if zarr_format == 3:
        assert zs["data_type"] == ("string" if kind == "str" else "bytes")
        assert zp["data_type"] == ("string" if kind == "str" else "variable_length_bytes")
        assert zs["codecs"][0] == zp["codecs"][0]
    else:
        assert zs["dtype"] == zp["dtype"] == "|O"
        assert zs["filters"] == zp["filters"]
    assert zs["fill_value"] == zp["fill_value"]
    for path in ("zp", "zs"):  # each reads both documents' fill value alike
        assert zarrsync.open_array(str(tmp_path / path)).fill_value == custom
        assert zarr.open_array(str(tmp_path / path)).fill_value == custom


def test_zarr_python_drops_trailing_nuls_of_a_bytes_fill(tmp_path):
    """zarr-python 3.4 stores a ``bytes`` fill value with its trailing NULs cut off in the unwritten
    cells of a chunk it writes (it goes through numpy's fixed-width ``S``); a missing chunk reads
    the fill intact. zarrsync reads what was stored, as zarr-python does, and its own writes keep
    every byte, which zarr-python reads."""
    fv = b"\x00ab\x00"
    path = str(tmp_path / "zp")
    z = zarr.create_array(store=path, shape=(4,), chunks=(2,), dtype=VariableLengthBytes(), fill_value=fv)
    z[1:2] = objects([b"x"])  # (zarr-python 3.4 refuses z[1] = b"x": "Expected bytes, got numpy.ndarray")
    theirs = z[...].tolist()
    assert theirs == [b"\x00ab", b"x", fv, fv]  # the zarr-python behaviour this test documents
    assert zarrsync.open_array(path)[...].tolist() == theirs

    path = str(tmp_path / "zs")
    a = zarrsync.create_array(path, shape=(4,), chunks=(2,), dtype=bytes, fill_value=fv)
    a[1] = b"x"
    assert a[...].tolist() == [fv, b"x", fv, fv]
    assert zarr.open_array(path)[...].tolist() == [fv, b"x", fv, fv]


def test_zarr_python_refuses_what_it_cannot_read(tmp_path):
    """The ``zarrsync.json`` data type and v2 object arrays with json2 / msgpack2 / vlen-array
    are refused by zarr-python with an error, never misread."""
    a = zarrsync.create_array(str(tmp_path / "json"), shape=(4,), chunks=(2,), dtype=zarrsync.dtypes.JSON())
    a[1] = {"a": [1]}
    with pytest.raises(ValueError, match="zarrsync.json"):
        zarr.open_array(str(tmp_path / "json"))
    for i, codec in enumerate([{"id": "json2"}, {"id": "msgpack2"}, {"id": "vlen-array", "dtype": "<i4"}]):
        a = zarrsync.create_array(str(tmp_path / str(i)), shape=(4,), chunks=(2,), dtype=object, zarr_format=2,
                                  object_codec=codec)
        with pytest.raises(ValueError, match=codec["id"]):
            zarr.open_array(str(tmp_path / str(i)))
