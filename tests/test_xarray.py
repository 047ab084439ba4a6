"""The xarray backend (engine="zarrsync") and zarrsync.xarray.to_zarr, against the real xarray.

What zarr-python and xarray's own zarr engine make of the same stores is in
tests_zarr/test_xarray_zarr_python.py; here: round trips, the stored conventions, laziness,
indexing, async loading, groups, appends and region writes.
"""

from __future__ import annotations

import asyncio
import json
import os

import numpy as np
import pandas as pd
import pytest

import xarray as xr

import zarrsync
from oracles import require
from zarrsync.array import OrthogonalIndex, VectorizedIndex
from zarrsync.storage import LocalStore, LoggingStore, MemoryStore
from zarrsync.xarray import to_zarr
from xarray_common import as_packed, dataset


def open_zs(where, **kwargs) -> "xr.Dataset":
    return xr.open_dataset(where, engine="zarrsync", chunks=None, **kwargs)


LAYOUTS = {
    "v3": {"zarr_format": 3},
    "v2": {"zarr_format": 2},
    "v3-sharded": {"zarr_format": 3, "encoding": {"temp": {"chunks": (2, 3, 4), "shards": (4, 6, 8)}}},
    "v3-not-consolidated": {"zarr_format": 3, "consolidated": False},
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip_is_identical(tmp_path, layout):
    ds = dataset()
    to_zarr(ds, tmp_path / "d.zarr", mode="w", **LAYOUTS[layout])
    back = open_zs(tmp_path / "d.zarr")
    xr.testing.assert_identical(back.load(), as_packed(ds))
    assert back.time.encoding["units"].startswith("days since 2000-01-01")
    assert back.precip.encoding["scale_factor"] == 0.01 and back.precip.encoding["dtype"] == np.dtype("i2")
    assert back.temp.encoding["chunks"] == ((2, 3, 4) if layout == "v3-sharded" else (4, 3, 4))
    assert back.temp.encoding["shards"] == ((4, 6, 8) if layout == "v3-sharded" else None)


def _doc(path, name: str) -> dict:
    with open(path / name) as f:
        return json.load(f)


def test_v3_conventions(tmp_path):
    """dimension_names in metadata; a float fill value stored as ``fill_value`` NaN, and
    ``_FillValue`` (when present) as an attribute holding the base64 of a little-endian double."""
    ds = xr.Dataset({"x": (("a", "b"), np.zeros((2, 3), "f8"))}, attrs={"k": "v"})
    ds.x.attrs["_FillValue"] = -1.0
    to_zarr(ds, tmp_path / "d.zarr", mode="w")
    meta = _doc(tmp_path / "d.zarr", "x/zarr.json")
    assert meta["dimension_names"] == ["a", "b"]
    assert meta["fill_value"] == "NaN"
    assert meta["attributes"]["_FillValue"] == "AAAAAAAA8L8="  # struct.pack("<d", -1.0), base64
    root = _doc(tmp_path / "d.zarr", "zarr.json")
    assert root["attributes"] == {"k": "v"} and "consolidated_metadata" in root
    assert open_zs(tmp_path / "d.zarr").x.encoding["_FillValue"] == -1.0


def test_v2_conventions(tmp_path):
    """_ARRAY_DIMENSIONS attribute; the array's fill_value is _FillValue (null when none)."""
    ds = xr.Dataset({"x": (("a",), np.arange(3, dtype="i4")), "y": (("a",), np.arange(3, dtype="i4"))})
    ds.y.encoding["_FillValue"] = -7
    to_zarr(ds, tmp_path / "d.zarr", mode="w", zarr_format=2)
    assert _doc(tmp_path / "d.zarr", "x/.zattrs") == {"_ARRAY_DIMENSIONS": ["a"]}
    assert _doc(tmp_path / "d.zarr", "x/.zarray")["fill_value"] is None
    assert _doc(tmp_path / "d.zarr", "y/.zarray")["fill_value"] == -7
    assert os.path.exists(tmp_path / "d.zarr" / ".zmetadata")
    back = open_zs(tmp_path / "d.zarr")
    assert back.y.encoding["_FillValue"] == -7 and "_FillValue" not in back.x.encoding
    # v2 without xarray's mask rule: the zero fill of an array written without one is data
    np.testing.assert_array_equal(back.x.values, [0, 1, 2])


def test_arrays_without_dimension_names_are_refused(tmp_path):
    g = zarrsync.open_group(str(tmp_path / "d.zarr"), mode="w")
    g.create_array("x", shape=(3,), dtype="i1")
    with pytest.raises(KeyError, match="dimension_names"):
        open_zs(tmp_path / "d.zarr", consolidated=False)


def _keys_read(caplog) -> set[str]:
    """The keys that reads named in the LoggingStore lines captured so far; then forget them."""
    keys = {r.args[1] for r in caplog.records if r.name == "zarrsync.storage" and r.args[0] != "set"}
    caplog.clear()
    return keys


def test_opening_reads_metadata_only_and_a_point_reads_one_chunk(tmp_path, caplog):
    to_zarr(dataset(), tmp_path / "d.zarr", mode="w")
    caplog.set_level("DEBUG", logger="zarrsync.storage")
    ds = open_zs(LoggingStore(LocalStore(str(tmp_path / "d.zarr"))))
    # the root zarr.json holds every node's metadata (consolidated); xarray loads the index
    # coordinates to build its indexes
    assert _keys_read(caplog) == {"zarr.json", "time/c/0", "lat/c/0", "lon/c/0"}
    assert float(ds.temp[5, 2, 3]) == float(dataset().temp[5, 2, 3])
    assert _keys_read(caplog) == {"temp/c/1/0/0"}  # temp's 4x3x4 chunk that holds the element


def test_outer_and_vectorised_indexing(tmp_path):
    ds = dataset()
    to_zarr(ds, tmp_path / "d.zarr", mode="w")
    back = open_zs(tmp_path / "d.zarr")
    want = ds.temp.values
    np.testing.assert_array_equal(back.temp.isel(time=[1, 7, 3], lon=[0, 5]).values, want[[1, 7, 3]][:, :, [0, 5]])
    i, j = xr.DataArray([0, 5, 2], dims="p"), xr.DataArray([1, 1, 7], dims="p")
    np.testing.assert_array_equal(back.temp.isel(lat=i, lon=j).values, want[:, [0, 5, 2], [1, 1, 7]])
    np.testing.assert_array_equal(back.temp.isel(time=i, lon=j).values,
                                  np.stack([want[t, :, n] for t, n in zip([0, 5, 2], [1, 1, 7])]))
    np.testing.assert_array_equal(back.temp.isel(time=slice(2, 9, 3), lat=-1).values, want[2:9:3, -1])


def test_async_loading_goes_through_the_async_twins(tmp_path, monkeypatch):
    ds = dataset()
    to_zarr(ds, tmp_path / "d.zarr", mode="w")
    calls = []

    def spy(cls, name):
        original = getattr(cls, name)

        async def twin(self, *args, **kwargs):
            calls.append(f"{cls.__name__}.{name}")
            return await original(self, *args, **kwargs)
        monkeypatch.setattr(cls, name, twin)

    spy(zarrsync.Array, "getitem_async")
    spy(OrthogonalIndex, "get_async")
    spy(VectorizedIndex, "get_async")
    back = open_zs(tmp_path / "d.zarr")
    loaded = asyncio.run(back[["temp", "count"]].load_async())
    xr.testing.assert_identical(loaded.temp, ds.temp)
    assert set(calls) == {"Array.getitem_async"}  # temp, count and the lazy coordinates, whole
    calls.clear()
    back = open_zs(tmp_path / "d.zarr")  # a fresh one: the first keeps what it loaded in memory
    outer = asyncio.run(back.temp.isel(time=[1, 7], lon=[0, 5]).load_async())
    xr.testing.assert_identical(outer, ds.temp.isel(time=[1, 7], lon=[0, 5]))
    assert "OrthogonalIndex.get_async" in calls and "VectorizedIndex.get_async" not in calls
    calls.clear()
    i, j = xr.DataArray([0, 5, 2], dims="p"), xr.DataArray([1, 1, 7], dims="p")
    points = asyncio.run(back.temp.isel(time=0, lat=i, lon=j).load_async())
    xr.testing.assert_identical(points, ds.temp.isel(time=0, lat=i, lon=j))
    assert "VectorizedIndex.get_async" in calls, calls


def test_dask_chunks_are_the_stored_chunks(tmp_path):
    require("dask")
    to_zarr(dataset(), tmp_path / "d.zarr", mode="w", encoding={"count": {"chunks": (5,)}})
    back = xr.open_dataset(tmp_path / "d.zarr", engine="zarrsync", chunks={})
    assert back.temp.chunks == ((4, 4, 4), (3, 3), (4, 4))
    assert back["count"].chunks == ((5, 5, 2),)
    xr.testing.assert_identical(back.temp.compute(), dataset().temp)


def test_groups_and_datatree(tmp_path):
    where = str(tmp_path / "d.zarr")
    to_zarr(xr.Dataset(attrs={"root": 1}), where, mode="w")
    to_zarr(dataset(), where, group="a", mode="w")
    leaf = xr.Dataset({"v": ("depth", np.arange(5.0))}, coords={"depth": np.arange(5) * 10}, attrs={"leaf": "yes"})
    to_zarr(leaf, where, group="a/b", mode="w")
    xr.testing.assert_identical(open_zs(where, group="a/b"), leaf)
    tree = xr.open_datatree(where, engine="zarrsync")
    assert set(tree.to_dict()) == {"/", "/a", "/a/b"}
    assert tree.attrs == {"root": 1}
    xr.testing.assert_identical(tree["a"].to_dataset(), dataset().pipe(as_packed))
    sub = xr.open_datatree(where, engine="zarrsync", group="a")
    assert set(sub.to_dict()) == {"/", "/b"}


@pytest.mark.parametrize("fmt", [2, 3])
def test_append_along_a_dimension(tmp_path, fmt):
    full = dataset(12)
    to_zarr(full.isel(time=slice(0, 7)), tmp_path / "d.zarr", mode="w", zarr_format=fmt)
    to_zarr(full.isel(time=slice(7, 12)), tmp_path / "d.zarr", append_dim="time")
    back = open_zs(tmp_path / "d.zarr")
    xr.testing.assert_identical(back.load(), as_packed(full))
    assert back.time.encoding["units"].startswith("days since 2000-01-01")


def test_append_dash_leaves_variables_without_the_dimension(tmp_path):
    full = dataset(12)
    to_zarr(full.isel(time=slice(0, 6)), tmp_path / "d.zarr", mode="w")
    later = full.isel(time=slice(6, 12)).assign(label=("lat", np.array(["uuu", "vvv", "www", "x", "y", "z"])))
    to_zarr(later, tmp_path / "d.zarr", mode="a-", append_dim="time")
    back = open_zs(tmp_path / "d.zarr")
    assert list(back.label.values) == ["a", "bb", "ccc", "d", "e", "f"]
    assert back.sizes["time"] == 12


def test_region_writes(tmp_path):
    ds = dataset()
    to_zarr(ds, tmp_path / "d.zarr", mode="w")
    part = ds.isel(time=slice(4, 8))[["temp", "count"]]
    part = part.assign(temp=part.temp * 0 - 1, count=part["count"] * 0 + 99)
    to_zarr(part.drop_vars(["lat", "lon", "station", "height"]), tmp_path / "d.zarr", region={"time": slice(4, 8)})
    back = open_zs(tmp_path / "d.zarr")
    assert (back.temp.isel(time=slice(4, 8)) == -1).all() and (back["count"].values[4:8] == 99).all()
    xr.testing.assert_identical(back.temp.isel(time=slice(0, 4)), ds.temp.isel(time=slice(0, 4)))
    # "auto": found from the stored time coordinate
    part2 = ds.isel(time=slice(9, 11))[["count"]].drop_vars("height").assign(count=lambda d: d["count"] * 0 + 7)
    to_zarr(part2, tmp_path / "d.zarr", region="auto", mode="r+")
    assert list(open_zs(tmp_path / "d.zarr")["count"].values[8:12]) == [8, 7, 7, 11]


def test_region_auto_refuses_values_not_stored(tmp_path):
    ds = dataset()
    to_zarr(ds, tmp_path / "d.zarr", mode="w")
    moved = ds.isel(time=slice(0, 2))[["count"]].drop_vars("height").assign_coords(time=pd.date_range("1990-01-01", periods=2))
    with pytest.raises(KeyError, match="not in the stored"):
        to_zarr(moved, tmp_path / "d.zarr", region="auto", mode="r+")


def test_mode_r_plus_refuses_new_variables_and_w_minus_an_existing_group(tmp_path):
    to_zarr(dataset(), tmp_path / "d.zarr", mode="w")
    with pytest.raises(ValueError, match="mode='r\\+'"):
        to_zarr(xr.Dataset({"new": ("time", np.zeros(12))}), tmp_path / "d.zarr", mode="r+")
    with pytest.raises(zarrsync.errors.ContainsGroupError):
        to_zarr(dataset(), tmp_path / "d.zarr")
    with pytest.raises(ValueError, match="already exist"):
        to_zarr(dataset(), tmp_path / "d.zarr", mode="a", encoding={"temp": {"chunks": (1, 1, 1)}})


def test_mode_w_replaces_the_group(tmp_path):
    to_zarr(dataset(), tmp_path / "d.zarr", mode="w")
    to_zarr(xr.Dataset({"only": ("z", np.arange(2))}), tmp_path / "d.zarr", mode="w")
    assert list(open_zs(tmp_path / "d.zarr").data_vars) == ["only"]


def test_dask_writes_refuse_blocks_that_share_a_chunk_or_align_them(tmp_path):
    require("dask")
    ds = dataset().chunk({"time": 5})
    with pytest.raises(ValueError, match="[Cc]hunk"):
        to_zarr(ds, tmp_path / "a.zarr", mode="w", encoding={"temp": {"chunks": (4, 6, 8)}})
    to_zarr(ds, tmp_path / "b.zarr", mode="w", encoding={"temp": {"chunks": (4, 6, 8)}}, align_chunks=True)
    xr.testing.assert_identical(open_zs(tmp_path / "b.zarr"), as_packed(dataset()))
    to_zarr(dataset().drop_encoding().chunk({"time": 4}), tmp_path / "c.zarr", mode="w")
    back = open_zs(tmp_path / "c.zarr")
    assert back.temp.encoding["chunks"] == (4, 6, 8)  # the dask chunks became the stored chunks
    xr.testing.assert_identical(back, dataset())


def test_compute_false_returns_the_writes(tmp_path):
    require("dask")
    delayed = to_zarr(dataset().chunk({"time": 4}), tmp_path / "d.zarr", mode="w", compute=False)
    assert np.isnan(open_zs(tmp_path / "d.zarr").temp.values).all()  # metadata only, so far
    delayed.compute()
    xr.testing.assert_identical(open_zs(tmp_path / "d.zarr"), as_packed(dataset()))


def test_zarrsync_store_objects_and_urls(tmp_path):
    store = MemoryStore()
    to_zarr(dataset(), store, mode="w")
    xr.testing.assert_identical(open_zs(store), as_packed(dataset()))
    to_zarr(dataset(), "file://" + str(tmp_path / "u.zarr"), mode="w")
    xr.testing.assert_identical(open_zs("file://" + str(tmp_path / "u.zarr")), as_packed(dataset()))


def test_guess_engine_for_dot_zarr_paths(tmp_path):
    from zarrsync.xarray import ZarrsyncBackendEntrypoint

    assert ZarrsyncBackendEntrypoint().guess_can_open(str(tmp_path / "x.zarr/"))
    assert not ZarrsyncBackendEntrypoint().guess_can_open(str(tmp_path / "x.nc"))
    assert "zarrsync" in xr.backends.list_engines()


def test_lazy_datasets_pickle_and_read_after(tmp_path):
    """What dask's process and distributed schedulers do to a lazily opened dataset."""
    import pickle

    to_zarr(dataset(), tmp_path / "d.zarr", mode="w")
    lazy = open_zs(tmp_path / "d.zarr")
    xr.testing.assert_identical(pickle.loads(pickle.dumps(lazy)).load(), as_packed(dataset()))
