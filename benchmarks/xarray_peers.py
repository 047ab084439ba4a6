#!/usr/bin/env python3
"""xarray with engine="zarrsync" against engine="zarr" (zarr-python 3) on the same stores.

usage: xarray_peers.py [ROOT] [--size-mib N]

ROOT (default /tmp/zarrsync-xarray-bench) is a local directory: ROOT/ref/LAYOUT.zarr holds the
reference datasets (written by zarr-python, so both engines read the same bytes), and
ROOT/zarrsync/LAYOUT.zarr, ROOT/zarr/LAYOUT.zarr are rewritten by the write op.
env REPS: best of N (default 3).

Data: a multi-variable dataset of about N MiB in memory (default 512) over (time, lat, lon) with
lat 256 x lon 512 (0.5 MiB a time step for float32): five float32 variables and one variable that
is stored packed (``t2m``: int16 with scale_factor 0.01, add_offset 280 and _FillValue -32768; a
polar cap of it is NaN, which becomes the fill). Coordinates: ``time`` (datetime64, CF-encoded as
int64 "hours since 2000-01-01"), ``lat``, ``lon``, a 2-d ``area`` (lat, lon) and a scalar
``height``; the dataset and every variable carry attributes. Values are smooth fields plus noise
rounded to 1/16, so zstd (level 3, no checksum, the same on both sides) has something to do. The
time length is rounded down to a multiple of the shard edge (at least one shard).
Layouts, each written by ``ds.to_zarr(..., encoding=...)`` with consolidated metadata:
  v3          Zarr v3, chunks (4, 256, 512): 2 MiB (1 MiB for t2m)
  v3-sharded  Zarr v3, shards (8, 256, 512) of inner chunks (4, 128, 256)
  v2          Zarr v2, chunks (4, 256, 512)

Ops, per layout, each best of REPS rounds; a round runs both sides, and which side goes first
alternates from round to round (dask's threaded scheduler wherever dask runs):
  open           xr.open_dataset(p, engine=E, chunks={})       metadata only
  open_reduce    the same + ds.mean(dim=("lat", "lon")).compute()  every data variable
  open_load_one  xr.open_dataset(p, engine=E, chunks=None)["temperature"].load()  no dask
  point_select   chunks=None + ds.isel(time=T/2).sel(lat=.., lon=..) of a 16 x 16 box, loaded
                 (every variable)
  write          zarrsync.xarray.to_zarr(ds, p, mode="w", encoding=..)  vs
                 ds.to_zarr(p, mode="w", encoding=..)  of the in-memory dataset (numpy-backed),
                 a fresh directory each time (removing the previous one and os.sync(), so that
                 no write pays for the writeback of an earlier one, are not timed)

Checks, once per layout before timing: ``open_dataset(p, engine="zarr", chunks={}).load()`` and
the same with ``engine="zarrsync"`` must be ``.identical()``; the datasets written by the two
``to_zarr`` must read back (``xr.open_zarr``, zarr-python) ``.identical()``, and their stored
sizes are printed. After timing, the two engines' open_reduce results must be identical.

The table: seconds for zarrsync and zarr-python, and zarr / zarrsync (> 1: zarrsync is faster).
Run it from /work/venv-peers (Python 3.13, zarr 3.4.2, xarray, dask; zarrsync installed editable,
which registers the "zarrsync" engine):
    REPS=3 /work/venv-peers/bin/python benchmarks/xarray_peers.py --size-mib 256
"""
import argparse, math, os, shutil, sys, time, warnings

import numpy as np

from side_by_side import print_table  # beside this script

ENGINES = ("zarrsync", "zarr")
LAT, LON = 256, 512
FLOAT_VARS = ("temperature", "humidity", "u_wind", "v_wind", "pressure")
PACKED_VAR = "t2m"
LOAD_ONE_VAR = "temperature"
ZSTD_LEVEL = 3
CHUNKS = (4, LAT, LON)
SHARDS = (8, LAT, LON)
INNER = (4, LAT // 2, LON // 2)
BOX = 16  # point_select: a BOX x BOX lat/lon box at one time step
# zarr-python warns that consolidated metadata is not in the v3 spec, on every v3 write and open
warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", nargs="?", default="/tmp/zarrsync-xarray-bench")
    p.add_argument("--size-mib", type=int, default=512, help="dataset size in memory, MiB (default 512)")
    return p.parse_args(argv)


def time_steps(size_mib):
    """Time steps so that all variables (as float32) take about ``size_mib`` MiB; a multiple of
    the shard edge along time, at least one shard."""
    step_bytes = (len(FLOAT_VARS) + 1) * LAT * LON * 4
    n = int(size_mib * 2**20 // step_bytes)
    return max(SHARDS[0], n // SHARDS[0] * SHARDS[0])


# ---------------- the dataset ----------------
def make_dataset(nt):
    """The deterministic in-memory dataset every layout stores (see the module docstring)."""
    import pandas as pd
    import xarray as xr
    rng = np.random.default_rng(0)
    lat = np.linspace(-89.75, 89.75, LAT)
    lon = np.linspace(0, 360, LON, endpoint=False)
    phase = np.sin(np.arange(nt) * 2 * np.pi / 4)[:, None, None]
    base = np.cos(np.deg2rad(lat))[None, :, None] * np.sin(np.deg2rad(lon))[None, None, :]

    def field(scale, offset):
        noise = np.round(rng.standard_normal((nt, LAT, LON), dtype=np.float32) * 16) / 16
        return (offset + scale * (base + 0.1 * phase) + noise).astype(np.float32)

    dims = ("time", "lat", "lon")
    data_vars = {name: (dims, field(10 * (i + 1), 100 * i), {"units": "1", "long_name": name.replace("_", " ")})
                 for i, name in enumerate(FLOAT_VARS)}
    t2m = field(30, 280)
    t2m[:, :8, :] = np.nan  # the polar cap: stored as the _FillValue
    data_vars[PACKED_VAR] = (dims, t2m, {"units": "K", "long_name": "2 m temperature"})
    coords = {
        "time": pd.date_range("2000-01-01", periods=nt, freq="6h"),
        "lat": ("lat", lat, {"units": "degrees_north"}),
        "lon": ("lon", lon, {"units": "degrees_east"}),
        "area": (("lat", "lon"), np.broadcast_to(np.cos(np.deg2rad(lat))[:, None], (LAT, LON)).astype(np.float32),
                 {"units": "1"}),
        "height": ((), 2.0, {"units": "m"}),
    }
    return xr.Dataset(data_vars, coords, attrs={"title": "zarrsync xarray benchmark", "source": "synthetic"})


def encoding(layout):
    """The per-variable encoding of a layout, the same for both writers."""
    import numcodecs
    from zarr.codecs import ZstdCodec
    if layout == "v2":
        compressor = numcodecs.Zstd(level=ZSTD_LEVEL)
        grid = {"chunks": CHUNKS}
    else:
        compressor = ZstdCodec(level=ZSTD_LEVEL, checksum=False)
        grid = {"chunks": INNER, "shards": SHARDS} if layout == "v3-sharded" else {"chunks": CHUNKS}
    enc = {name: {"compressors": (compressor,), **grid} for name in (*FLOAT_VARS, PACKED_VAR)}
    enc[PACKED_VAR].update(dtype="int16", scale_factor=np.float32(0.01), add_offset=np.float32(280),
                           _FillValue=np.int16(-32768))
    enc["time"] = {"units": "hours since 2000-01-01", "calendar": "proleptic_gregorian", "dtype": "int64"}
    return enc


def zarr_format(layout):
    return 2 if layout == "v2" else 3


LAYOUTS = ("v3", "v3-sharded", "v2")


# ---------------- the two libraries ----------------
def open_ds(engine, path, chunks):
    import xarray as xr
    return xr.open_dataset(path, engine=engine, chunks=chunks)


def write_zarrsync(ds, path, layout):
    import zarrsync.xarray
    zarrsync.xarray.to_zarr(ds, path, mode="w", encoding=encoding(layout), zarr_format=zarr_format(layout))


def write_zarr(ds, path, layout):
    ds.to_zarr(path, mode="w", encoding=encoding(layout), zarr_format=zarr_format(layout))


WRITERS = {"zarrsync": write_zarrsync, "zarr": write_zarr}


def point_box(ds):
    """The small selection of point_select: one time step, a BOX x BOX lat/lon box."""
    lat, lon = ds["lat"].values, ds["lon"].values
    i, j = len(lat) // 3, len(lon) // 3
    return ds.isel(time=ds.sizes["time"] // 2).sel(lat=slice(lat[i], lat[i + BOX - 1]),
                                                   lon=slice(lon[j], lon[j + BOX - 1]))


def read_ops(path):
    """op -> fn(engine) for the read ops on one stored dataset; each returns what it computed."""
    return {
        "open": lambda e: open_ds(e, path, {}),
        "open_reduce": lambda e: open_ds(e, path, {}).mean(dim=("lat", "lon")).compute(),
        "open_load_one": lambda e: open_ds(e, path, None)[LOAD_ONE_VAR].load(),
        "point_select": lambda e: point_box(open_ds(e, path, None)).load(),
    }


# ---------------- timing and checks ----------------
def best_of(reps, fns, before=None):
    """{name: (shortest time, last result)} over ``reps`` rounds; each round calls every fn of
    ``fns`` ({name: fn}) once, in alternating order so that neither side always goes first
    (``before(name)`` runs untimed ahead of each call)."""
    best, out = dict.fromkeys(fns, math.inf), {}
    for rep in range(reps):
        for name in (list(fns) if rep % 2 == 0 else list(fns)[::-1]):
            if before is not None:
                before(name)
            t = time.perf_counter()
            out[name] = fns[name]()
            best[name] = min(best[name], time.perf_counter() - t)
    return {name: (best[name], out[name]) for name in fns}


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def check_read(path, layout):
    """Both engines must load the reference dataset identically."""
    a, b = (open_ds(e, path, {}).load() for e in ENGINES)
    if not a.identical(b):
        sys.exit(f"MISMATCH: {layout}: engine='zarrsync' and engine='zarr' load different datasets:\n"
                 f"{a}\n---\n{b}")
    print(f"# {layout}: both engines load identical datasets; stored bytes {dir_bytes(path)}", flush=True)


def check_write(root, ds, layout):
    """The datasets written by the two to_zarr must read back (zarr-python) identically."""
    import xarray as xr
    paths = {lib: os.path.join(root, lib, f"{layout}.zarr") for lib in WRITERS}
    for lib, write in WRITERS.items():
        shutil.rmtree(paths[lib], ignore_errors=True)
        write(ds, paths[lib], layout)
    a, b = (xr.open_zarr(paths[lib]).load() for lib in WRITERS)
    if not a.identical(b):
        sys.exit(f"MISMATCH: {layout}: the datasets written by zarrsync and zarr-python read back "
                 f"differently:\n{a}\n---\n{b}")
    print(f"# {layout}: written datasets read back identical; stored bytes: "
          + ", ".join(f"{lib} {dir_bytes(p)}" for lib, p in paths.items()), flush=True)


def run_layout(root, ds, layout, reps):
    """{(layout, op): {engine: seconds}} for one layout, after writing its reference dataset."""
    ref = os.path.join(root, "ref", f"{layout}.zarr")
    shutil.rmtree(ref, ignore_errors=True)
    write_zarr(ds, ref, layout)
    check_read(ref, layout)
    check_write(root, ds, layout)

    rows = {}
    for op, fn in read_ops(ref).items():
        timed = best_of(reps, {e: (lambda e=e: fn(e)) for e in ENGINES})
        rows[(layout, op)] = {e: t for e, (t, _) in timed.items()}
        if op == "open_reduce" and not timed["zarrsync"][1].identical(timed["zarr"][1]):
            sys.exit(f"MISMATCH: {layout} open_reduce:\n{timed['zarrsync'][1]}\n---\n{timed['zarr'][1]}")
    out = {lib: os.path.join(root, lib, f"{layout}.zarr") for lib in WRITERS}

    def clear(lib):
        """Untimed: remove the previous output and flush dirty pages, so that no write pays for
        the kernel writing back an earlier one."""
        shutil.rmtree(out[lib], ignore_errors=True)
        os.sync()

    timed = best_of(reps, {lib: (lambda lib=lib, write=write: write(ds, out[lib], layout))
                                   for lib, write in WRITERS.items()},
                    before=clear)
    rows[(layout, "write")] = {lib: t for lib, (t, _) in timed.items()}
    return rows


def main(argv):
    import dask
    args = parse_args(argv)
    reps = int(os.environ.get("REPS", "3"))
    nt = time_steps(args.size_mib)
    dask.config.set(scheduler="threads")
    ds = make_dataset(nt)
    print(f"# {len(FLOAT_VARS)} float32 + 1 packed int16 variables of (time {nt}, lat {LAT}, lon {LON}), "
          f"{ds.nbytes / 2**20:.0f} MiB in memory, zstd {ZSTD_LEVEL}, dask threads "
          f"({os.cpu_count()} cores), best of {reps}", flush=True)
    rows = {}
    for layout in LAYOUTS:
        rows.update(run_layout(args.root, ds, layout, reps))
    print_table(rows)


if __name__ == "__main__":
    main(sys.argv[1:])
