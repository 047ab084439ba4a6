#!/usr/bin/env python3
"""zarrsync + dask against zarr-python + dask on the same ``distributed.LocalCluster`` (issue 13).

usage: dask_peers.py [ROOT] [--size-mib N] [--chunk C] [--workers W] [--threads T]

ROOT (default /tmp/zarrsync-dask-bench) is a local directory; each library writes under its own
subdirectory (ROOT/zarrsync, ROOT/zarr). env REPS: best of N (default 3).

Data: a 2-d float32 array of about N MiB (default 1024: 16384 x 16384), Zarr v3, zstd level 3
without checksum, fill value 0, written by both libraries with the same codecs so the stored
bytes match. Two layouts:
  chunked  chunks (C, C) (default 2048: 16 MiB each)
  sharded  shards (C, C), inner chunks (C/8, C/8) (default 256: 256 KiB each)
Values: standard normal noise from ``da.random.default_rng(0)`` rounded to 1/16 (a few significant
bits, so zstd has something to do), in dask blocks of one stored object (chunk or shard).

Ops (each on the same cluster, best of REPS; the cluster is started once for all of them):
  write        compute the source into a new array:
               zarrsync.from_dask(x, dir, ...)  vs  da.to_zarr(x, dir, ...)
               (a fresh directory each time; removing the previous one is not timed)
  read_sum     to_dask(a).sum().compute()       vs  da.from_zarr(z).sum().compute()
  read_mean    the same with .mean()
The reads use one dask block per stored object on both sides: zarrsync.to_dask's default, and
``chunks=z.shards`` for zarr-python on the sharded layout (from_zarr's default there is the inner
chunk shape: one task per 256 KiB inner chunk).
``source`` is the time to compute the source alone and sum it (no I/O): what every write pays
before it touches storage.

Checks, once per layout before timing: each library's array is read by the other library and
compared element by element with the other's (dask, on the cluster), and the stored sizes are
printed; after timing, the sums and means of the two libraries must agree.

Run it from /work/venv-peers (Python 3.13, zarr 3.4.2, zarrsync installed editable) after
``pip install "dask[array]>=2024.12" "distributed>=2024.12"``; see docs/benchmarks.md, "dask".
"""
import argparse, math, os, shutil, sys, time

import numpy as np

from side_by_side import print_table  # beside this script

DTYPE = "float32"
ZSTD_LEVEL = 3
INNER_DIVISOR = 8  # inner chunks per shard edge in the sharded layout


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", nargs="?", default="/tmp/zarrsync-dask-bench")
    p.add_argument("--size-mib", type=int, default=1024, help="array size in MiB (default 1024)")
    p.add_argument("--chunk", type=int, default=2048, help="chunk (or shard) edge (default 2048)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster n_workers (default 2)")
    p.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    return p.parse_args(argv)


def square_shape(size_mib):
    """The (n, n) float32 shape of about ``size_mib`` MiB."""
    n = int(math.sqrt(size_mib * 2**20 / np.dtype(DTYPE).itemsize))
    return (n, n)


def layouts(chunk):
    """name -> (chunks, shards) of each stored layout."""
    inner = max(1, chunk // INNER_DIVISOR)
    return {"chunked": ((chunk, chunk), None), "sharded": ((inner, inner), (chunk, chunk))}


def source(shape, block):
    """The deterministic dask array every write computes, in blocks of one stored object."""
    import dask.array as da
    x = da.random.default_rng(0).standard_normal(shape, dtype=DTYPE, chunks=block)
    return da.round(x * 16) / 16


# ---------------- the two libraries ----------------
def zarrsync_write(x, path, chunks, shards):
    import zarrsync
    return zarrsync.from_dask(x, path, chunks=chunks, shards=shards, fill_value=0,
                              compressors=[{"name": "zstd",
                                            "configuration": {"level": ZSTD_LEVEL, "checksum": False}}])


def zarr_write(x, path, chunks, shards):
    import dask.array as da
    from zarr.codecs import ZstdCodec
    # default mode "a" on a fresh directory: dask stores without a lock (mode "w" would take one)
    da.to_zarr(x, path, chunks=chunks, shards=shards, fill_value=0,
               compressors=[ZstdCodec(level=ZSTD_LEVEL, checksum=False)])


def zarrsync_read(path):
    import zarrsync
    return zarrsync.to_dask(zarrsync.open_array(path, mode="r"))


def zarr_read(path):
    import dask.array as da
    import zarr
    z = zarr.open_array(path, mode="r")
    return da.from_zarr(z, chunks=z.shards or z.chunks)


LIBS = {"zarrsync": (zarrsync_write, zarrsync_read), "zarr": (zarr_write, zarr_read)}


# ---------------- timing and checks ----------------
def best_of(reps, fn, before=None):
    """The shortest of ``reps`` timed calls of ``fn`` (``before`` runs untimed ahead of each)."""
    best = math.inf
    for _ in range(reps):
        if before is not None:
            before()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def check_layout(root, layout):
    """Each library reads the other's array; the two must be equal element by element."""
    zs_dir, z_dir = (os.path.join(root, lib, layout, "ref") for lib in ("zarrsync", "zarr"))
    a = zarrsync_read(z_dir)   # zarrsync reading zarr-python's array
    b = zarr_read(zs_dir)      # zarr-python reading zarrsync's array
    if a.shape != b.shape or not bool((a == b).all().compute()):
        sys.exit(f"MISMATCH: {layout}: the arrays written by zarrsync and zarr-python differ")
    print(f"# {layout}: arrays equal (each read by the other library); stored bytes: "
          f"zarrsync {dir_bytes(zs_dir)}, zarr {dir_bytes(z_dir)}", flush=True)


def run_layout(root, layout, chunks, shards, shape, reps):
    """{(layout, op): {lib: seconds}} for one layout, after writing its reference arrays."""
    block = shards or chunks
    for lib, (write, _) in LIBS.items():
        ref = os.path.join(root, lib, layout, "ref")
        shutil.rmtree(ref, ignore_errors=True)
        write(source(shape, block), ref, chunks, shards)
    check_layout(root, layout)

    rows = {(layout, "source"): {lib: best_of(reps, lambda: source(shape, block).sum().compute())
                                 for lib in LIBS}}
    rows[(layout, "write")] = {}
    results = {}
    for lib, (write, read) in LIBS.items():
        out = os.path.join(root, lib, layout, "w")
        rows[(layout, "write")][lib] = best_of(
            reps, lambda: write(source(shape, block), out, chunks, shards),
            before=lambda: shutil.rmtree(out, ignore_errors=True))
        ref = os.path.join(root, lib, layout, "ref")
        for op in ("sum", "mean"):
            rows.setdefault((layout, f"read_{op}"), {})[lib] = best_of(
                reps, lambda: results.__setitem__((lib, op), getattr(read(ref), op)().compute()))
    for op in ("sum", "mean"):
        if not np.isclose(results[("zarrsync", op)], results[("zarr", op)], rtol=1e-5, atol=1e-6):
            sys.exit(f"MISMATCH: {layout} read_{op}: zarrsync {results[('zarrsync', op)]} "
                     f"zarr {results[('zarr', op)]}")
    return rows


def main(argv):
    from distributed import Client, LocalCluster
    args = parse_args(argv)
    reps = int(os.environ.get("REPS", "3"))
    shape = square_shape(args.size_mib)
    with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, Client(cluster):
        print(f"# shape {shape} {DTYPE}, chunk/shard edge {args.chunk}, zstd {ZSTD_LEVEL}, "
              f"LocalCluster {args.workers} workers x {args.threads} threads, best of {reps}",
              flush=True)
        rows = {}
        for layout, (chunks, shards) in layouts(args.chunk).items():
            rows.update(run_layout(args.root, layout, chunks, shards, shape, reps))
    print_table(rows)


if __name__ == "__main__":
    main(sys.argv[1:])
