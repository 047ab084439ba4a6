"""xarray's engine="zarrsync" against its engine="zarr" (zarr-python 3), both directions.

Stores written by xarray with zarr-python read as the same Dataset, DataTree and encodings
through zarrsync; stores written by ``zarrsync.xarray.to_zarr`` read back through zarr-python as
the ones zarr-python writes, with the same metadata documents.
"""

import asyncio
import json
import os

import numpy as np
import pytest
import xarray as xr
import zarr  # noqa: F401 - the oracle: engine="zarr" needs it

from xarray_common import as_packed, dataset  # in tests/, put on sys.path by conftest.py
from zarrsync.xarray import to_zarr

LAYOUTS = {
    "v3": {"zarr_format": 3},
    "v2": {"zarr_format": 2},
    "v3-sharded": {"zarr_format": 3, "encoding": {"temp": {"chunks": (2, 3, 4), "shards": (4, 6, 8)},
                                                  "precip": {"chunks": (3, 3, 8), "shards": (6, 6, 8),
                                                             **dataset().precip.encoding}}},
}
CODEC_KEYS = ("compressors", "filters", "serializer")


def _codec_json(codecs):
    """Codecs of either library as JSON: zarr-python's ``to_dict``, zarrsync's ``to_json``."""
    if codecs is None:
        return None
    if not isinstance(codecs, (list, tuple)):
        return _codec_json([codecs])[0]
    return [c.to_dict() if hasattr(c, "to_dict") else c.to_json() for c in codecs]


def assert_same_encodings(a: "xr.Dataset", b: "xr.Dataset", *, codecs: bool) -> None:
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        ea, eb = dict(a[name].encoding), dict(b[name].encoding)
        ea.pop("source", None), eb.pop("source", None)
        assert set(ea) == set(eb), name
        for key in ea:
            if key in CODEC_KEYS:
                if codecs:
                    assert _codec_json(ea[key]) == _codec_json(eb[key]), (name, key)
                continue
            np.testing.assert_equal(ea[key], eb[key], err_msg=f"{name}: {key}")
        assert a[name].chunks == b[name].chunks, name


@pytest.mark.parametrize("consolidated", [True, False], ids=["consolidated", "not-consolidated"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_zarrsync_reads_what_xarray_with_zarr_python_writes(tmp_path, layout, consolidated):
    where = str(tmp_path / "d.zarr")
    dataset().to_zarr(where, mode="w", consolidated=consolidated, **LAYOUTS[layout])
    a = xr.open_dataset(where, engine="zarr", chunks={}, consolidated=consolidated)
    b = xr.open_dataset(where, engine="zarrsync", chunks={}, consolidated=consolidated)
    xr.testing.assert_identical(a, b)  # lazily: coordinates, attributes, dims, dtypes
    assert_same_encodings(a, b, codecs=layout != "v2")
    xr.testing.assert_identical(a.load(), b.load())
    xr.testing.assert_identical(b, as_packed(dataset()))


def _documents(root: str) -> dict:
    """Every metadata document under ``root``, parsed, less what is a library's default in v2:
    ``dimension_separator: "."`` (zarr-python writes it, zarrsync leaves it out) and the default
    compressor (xarray creates v2 arrays through zarr-python's legacy ``create``, whose default
    is blosc; zarrsync's default is zstd, as ``zarr.create_array``'s)."""
    out = {}
    for folder, _, files in os.walk(root):
        for f in files:
            if f in ("zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"):
                with open(os.path.join(folder, f)) as fh:
                    out[os.path.relpath(os.path.join(folder, f), root)] = _without_v2_defaults(json.load(fh))
    return out


def _without_v2_defaults(doc):
    if isinstance(doc, dict):
        return {k: _without_v2_defaults(v) for k, v in doc.items()
                if not (k == "dimension_separator" and v == ".") and k not in ("zarr_consolidated_format", "compressor")}
    return doc


@pytest.mark.parametrize("layout", LAYOUTS)
def test_zarr_python_reads_what_zarrsync_writes(tmp_path, layout):
    by_zarr, by_zarrsync = str(tmp_path / "z.zarr"), str(tmp_path / "s.zarr")
    kwargs = LAYOUTS[layout]
    dataset().to_zarr(by_zarr, mode="w", **kwargs)
    to_zarr(dataset(), by_zarrsync, mode="w", **kwargs)
    a, b = xr.open_zarr(by_zarr), xr.open_zarr(by_zarrsync)
    xr.testing.assert_identical(a, b)
    assert_same_encodings(a, b, codecs=layout != "v2")  # v2: numcodecs objects; the documents say the rest
    xr.testing.assert_identical(a.load(), b.load())
    assert _documents(by_zarr) == _documents(by_zarrsync)


def test_encodings_from_engine_zarr_write_through_zarrsync(tmp_path):
    """A dataset opened with zarr-python carries zarr-python codec objects in its encodings;
    zarrsync writes with them, and the documents match what zarr-python writes from it."""
    source, by_zarr, by_zarrsync = (str(tmp_path / n) for n in ("src.zarr", "z.zarr", "s.zarr"))
    ds = dataset()
    ds.to_zarr(source, mode="w", encoding={"temp": {"chunks": (2, 3, 4), "shards": (4, 6, 8),
                                                    "compressors": [zarr.codecs.BloscCodec(cname="lz4", clevel=3)]},
                                           "count": {"compressors": [zarr.codecs.GzipCodec(level=4)]}})
    opened = xr.open_dataset(source, engine="zarr")
    opened.to_zarr(by_zarr, mode="w")
    to_zarr(opened, by_zarrsync, mode="w")
    assert _documents(by_zarr) == _documents(by_zarrsync)
    xr.testing.assert_identical(xr.open_zarr(by_zarrsync).load(), as_packed(ds))


@pytest.mark.parametrize("fmt", [2, 3])
def test_appends_and_region_writes_across_libraries(tmp_path, fmt):
    where = str(tmp_path / "d.zarr")
    full = dataset(16)
    full.isel(time=slice(0, 6)).to_zarr(where, mode="w", zarr_format=fmt)
    to_zarr(full.isel(time=slice(6, 11)), where, append_dim="time")
    full.isel(time=slice(11, 16)).to_zarr(where, append_dim="time")
    for engine in ("zarr", "zarrsync"):
        xr.testing.assert_identical(xr.open_dataset(where, engine=engine).load(), as_packed(full))
    # zarrsync writes a region of zarr-python's arrays, and the other way round
    part = full.isel(time=slice(4, 8))[["count"]].drop_vars("height").assign(count=lambda d: d["count"] * 0 - 5)
    to_zarr(part, where, region="auto", mode="r+")
    part = full.isel(time=slice(12, 14))[["count"]].drop_vars("height").assign(count=lambda d: d["count"] * 0 - 9)
    part.to_zarr(where, region="auto", mode="r+")
    expected = full["count"].values.copy()
    expected[4:8], expected[12:14] = -5, -9
    for engine in ("zarr", "zarrsync"):
        np.testing.assert_array_equal(xr.open_dataset(where, engine=engine)["count"].values, expected)


def test_datatrees_read_the_same(tmp_path):
    where = str(tmp_path / "t.zarr")
    leaf = xr.Dataset({"v": ("depth", np.arange(5.0))}, coords={"depth": np.arange(5) * 10}, attrs={"leaf": 1})
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs={"root": "yes"}), "/a": dataset(), "/a/b": leaf})
    tree.to_zarr(where, mode="w")
    a = xr.open_datatree(where, engine="zarr")
    b = xr.open_datatree(where, engine="zarrsync")
    xr.testing.assert_identical(a, b)
    xr.testing.assert_identical(xr.open_datatree(where, engine="zarrsync", group="a"),
                                xr.open_datatree(where, engine="zarr", group="a"))
    xr.testing.assert_identical(xr.open_dataset(where, engine="zarrsync", group="a/b"), leaf)


def test_async_loading_matches(tmp_path):
    where = str(tmp_path / "d.zarr")
    dataset().to_zarr(where, mode="w")
    a = asyncio.run(xr.open_dataset(where, engine="zarr").load_async())
    b = asyncio.run(xr.open_dataset(where, engine="zarrsync").load_async())
    xr.testing.assert_identical(a, b)
