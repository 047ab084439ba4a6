"""The dataset that the xarray tests (tests/test_xarray.py, tests_zarr/test_xarray_zarr_python.py)
write and read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def dataset(n_time: int = 12) -> "xr.Dataset":
    """Variables that exercise xarray's CF coding: times, timedeltas, packed ints with a fill
    value, NaNs, fixed and variable-width strings, booleans, and attributes of several types."""
    rng = np.random.default_rng(0)
    shape = (n_time, 6, 8)
    ds = xr.Dataset(
        {
            "temp": (("time", "lat", "lon"), rng.normal(280, 5, shape).astype("f4"),
                     {"units": "K", "long_name": "air temperature", "valid_range": np.array([150.0, 350.0])}),
            "precip": (("time", "lat", "lon"), np.where(rng.random(shape) < 0.2, np.nan, rng.random(shape))),
            "count": (("time",), np.arange(n_time, dtype="i2")),
            "label": (("lat",), np.array(["a", "bb", "ccc", "d", "e", "f"])),
            "flag": (("lon",), np.array([True, False] * 4)),
            "lag": (("time",), pd.to_timedelta(np.arange(n_time), "h").values),
        },
        coords={"time": pd.date_range("2000-01-01", periods=n_time, freq="D"),
                "lat": np.linspace(-50, 50, 6), "lon": np.arange(8) * 10.0,
                "station": ("lon", np.array([f"s{i}" for i in range(8)], dtype=object)),
                "height": ((), 2.0, {"units": "m"})},
        attrs={"title": "test", "history": ["made", "here"], "n": np.int64(3)},
    )
    ds["precip"].encoding = {"scale_factor": 0.01, "add_offset": 0.5, "dtype": "i2", "_FillValue": -9999}
    ds["temp"].encoding = {"chunks": (4, 3, 4)}
    return ds


def as_packed(ds: "xr.Dataset") -> "xr.Dataset":
    """``ds`` as it reads back: ``precip`` packed into int16 at 0.01 keeps two decimals."""
    out = ds.copy()
    out["precip"] = np.round((ds.precip - 0.5) / 0.01) * 0.01 + 0.5
    return out
