#!/usr/bin/env python3
"""Side-by-side Zarr benchmark (v3 and one v2 data set): one implementation per subprocess,
same data, same machine.

usage: peers.py IMPL OP DATASET ROOT      (prints: impl op dataset seconds peak_rss_mb)
       peers.py all ROOT [IMPLS]           (runs the matrix, prints a table and each
                                            implementation's time relative to zarrsync)

Run it from a Python >= 3.12 environment that has zarr, tensorstore (and optionally zarrs)
installed next to zarrsync; see docs/benchmarks.md.
IMPL: zarr | zarr-fused | zarrs | tensorstore | zarrsync
OP:   write | read_all | read_chunks
env:  REPS (best of N, default 3), DATASETS=raw,zstd,... and OPS=write,... to run a subset
      (the reference arrays are written for the selected data sets only)
DATASET: raw | zstd | shard | small (Zarr v3) | v2blosc (Zarr v2, Blosc lz4 + byte shuffle)
"""
import json, os, resource, subprocess, sys, time
import numpy as np

DATASETS = {
    # name: (shape, chunks, shards, compressor); compressor "v2blosc" means a Zarr format 2
    # array with compressor Blosc(cname="lz4", clevel=5, shuffle=1 (byte), blocksize=0),
    # order "C", no filters
    "raw":       ((512, 512, 512), (128, 128, 128), None, None),
    "zstd":      ((512, 512, 512), (128, 128, 128), None, "zstd"),
    "shard":     ((512, 512, 512), (64, 64, 64), (256, 256, 256), "zstd"),
    "small":     ((4096, 4096), (64, 64), None, "zstd"),
    "v2blosc":   ((512, 512, 512), (128, 128, 128), None, "v2blosc"),
}
DTYPE = "uint16"
# the v2 Blosc compressor, as numcodecs/zarr v2 metadata spells it
V2_BLOSC = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}


def make_data(shape):
    rng = np.random.default_rng(0)
    n = int(np.prod(shape))
    base = (np.arange(n, dtype=np.uint32) % 4096).astype(np.uint16)
    noise = rng.integers(0, 16, size=n, dtype=np.uint16)
    return (base + noise).reshape(shape)


def chunk_slices(shape, chunks):
    import itertools
    ranges = [range(0, s, c) for s, c in zip(shape, chunks)]
    for starts in itertools.product(*ranges):
        yield tuple(slice(st, min(st + c, s)) for st, c, s in zip(starts, chunks, shape))


# ---------------- adapters ----------------
def zarr_impl(fused=False, zarrs=False):
    import zarr
    from zarr.codecs import ZstdCodec
    if fused:
        zarr.config.set({"codec_pipeline.path": "zarr.core.codec_pipeline.FusedCodecPipeline"})
    if zarrs:
        import zarrs  # noqa
        zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"})

    def create(path, shape, chunks, shards, comp):
        if comp == "v2blosc":
            import numcodecs
            return zarr.create_array(
                store=path, shape=shape, chunks=chunks, dtype=DTYPE, zarr_format=2,
                compressors=numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE),
                fill_value=0, overwrite=True)
        kw = dict(store=path, shape=shape, dtype=DTYPE, chunks=chunks, overwrite=True,
                  compressors=[ZstdCodec(level=0)] if comp == "zstd" else None, fill_value=0)
        if shards:
            kw["shards"] = shards
        return zarr.create_array(**kw)

    def open_(path):
        return zarr.open_array(path, mode="r")
    return create, open_


def ts_impl():
    import tensorstore as ts

    def create(path, shape, chunks, shards, comp):
        if comp == "v2blosc":
            spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": path},
                    "metadata": {"shape": list(shape), "chunks": list(chunks), "dtype": "<u2",
                                 "compressor": dict(V2_BLOSC), "order": "C", "fill_value": 0,
                                 "filters": None},
                    "create": True, "delete_existing": True}
            return TsArr(ts.open(spec).result())
        codecs = []
        inner = [{"name": "bytes", "configuration": {"endian": "little"}}]
        if comp == "zstd":
            inner.append({"name": "zstd", "configuration": {"level": 0, "checksum": False}})
        if shards:
            codecs = [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": list(chunks), "codecs": inner,
                "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
                "index_location": "end"}}]
            outer = shards
        else:
            codecs = inner
            outer = chunks
        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": path},
                "metadata": {"shape": list(shape), "data_type": DTYPE,
                             "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(outer)}},
                             "codecs": codecs, "fill_value": 0},
                "create": True, "delete_existing": True}
        return TsArr(ts.open(spec).result())

    def open_(path):
        # the v2 driver ("zarr") reads .zarray; everything else here is v3
        driver = "zarr" if os.path.exists(os.path.join(path, ".zarray")) else "zarr3"
        return TsArr(ts.open({"driver": driver, "kvstore": {"driver": "file", "path": path}}).result())
    return create, open_


class TsArr:
    def __init__(self, a):
        self.a = a
        self.shape = tuple(a.shape)

    def __getitem__(self, sel):
        return self.a[sel].read().result()

    def __setitem__(self, sel, value):
        self.a[sel].write(value).result()


def zarrsync_impl():
    import zarrsync

    def create(path, shape, chunks, shards, comp):
        if comp == "v2blosc":
            return zarrsync.create_array(path, shape=shape, dtype=DTYPE, chunks=chunks, fill_value=0,
                                         overwrite=True, zarr_format=2, compressors=dict(V2_BLOSC))
        kw = dict(shape=shape, dtype=DTYPE, chunks=chunks, fill_value=0, overwrite=True,
                  compressors=[{"name": "zstd", "configuration": {"level": 0, "checksum": False}}] if comp == "zstd" else None)
        if shards:
            kw["shards"] = shards
        return zarrsync.create_array(path, **kw)

    def open_(path):
        return zarrsync.open_array(path, mode="r")
    return create, open_


IMPLS = {
    "zarr": lambda: zarr_impl(),
    "zarr-fused": lambda: zarr_impl(fused=True),
    "zarrs": lambda: zarr_impl(zarrs=True),
    "tensorstore": ts_impl,
    "zarrsync": zarrsync_impl,
}


def run_one(impl, op, ds, root):
    shape, chunks, shards, comp = DATASETS[ds]
    create, open_ = IMPLS[impl]()
    path = os.path.join(root, f"{impl}-{ds}.zarr" if op == "write" else f"ref-{ds}.zarr")
    if op == "write":
        data = make_data(shape)
        t = time.perf_counter()
        a = create(path, shape, chunks, shards, comp)
        a[...] = data
        dt = time.perf_counter() - t
    elif op == "read_all":
        a = open_(path)
        t = time.perf_counter()
        out = a[...]
        dt = time.perf_counter() - t
        assert out.shape == tuple(shape)
    elif op == "read_chunks":
        a = open_(path)
        unit = shards or chunks
        t = time.perf_counter()
        for sl in chunk_slices(shape, unit):
            a[sl]
        dt = time.perf_counter() - t
    rss = peak_rss_mb()
    print(json.dumps({"impl": impl, "op": op, "ds": ds, "s": round(dt, 4), "rss_mb": round(rss)}))


def peak_rss_mb():
    # VmHWM belongs to this process image (ru_maxrss would inherit the parent's peak across exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def selected_datasets():
    names = os.environ.get("DATASETS", ",".join(DATASETS)).split(",")
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        sys.exit(f"unknown data set(s) {unknown}; known: {list(DATASETS)}")
    return names


def make_refs(root):
    # reference data for the read benchmarks is written by tensorstore (an independent writer)
    create, _ = ts_impl()
    for ds in selected_datasets():
        shape, chunks, shards, comp = DATASETS[ds]
        p = os.path.join(root, f"ref-{ds}.zarr")
        if not os.path.exists(p):
            a = create(p, shape, chunks, shards, comp)
            a[...] = make_data(shape)


def main():
    if sys.argv[1] == "all":
        root = sys.argv[2]
        impls = sys.argv[3].split(",") if len(sys.argv) > 3 else list(IMPLS)
        reps = int(os.environ.get("REPS", "3"))
        datasets = selected_datasets()
        ops = os.environ.get("OPS", "write,read_all,read_chunks").split(",")
        subprocess.run([sys.executable, __file__, "refs", root], check=True)
        rows = {}
        for ds in datasets:
            for op in ops:
                for impl in impls:
                    best = None
                    for _ in range(reps):
                        r = subprocess.run([sys.executable, __file__, impl, op, ds, root],
                                           capture_output=True, text=True)
                        if r.returncode != 0:
                            # a failed run (e.g. an implementation without this codec) is a nan row
                            best = {"s": float("nan"), "rss_mb": 0, "err": r.stderr.strip().splitlines()[-1:]}
                            break
                        try:
                            d = json.loads(r.stdout.strip().splitlines()[-1])
                        except (IndexError, ValueError):
                            best = {"s": float("nan"), "rss_mb": 0, "err": ["no result line: " + r.stdout[-200:]]}
                            break
                        if best is None or d["s"] < best["s"]:
                            best = d
                    rows[(ds, op, impl)] = best
                    print(json.dumps({"row": [ds, op, impl], **best}), flush=True)
        print()
        print("| dataset | op | " + " | ".join(impls) + " |")
        print("|---|---|" + "---|" * len(impls))
        for ds in datasets:
            for op in ops:
                cells = []
                for impl in impls:
                    b = rows[(ds, op, impl)]
                    cells.append(f"{b['s']:.3f}s/{b['rss_mb']}MB")
                print(f"| {ds} | {op} | " + " | ".join(cells) + " |")
        if "zarrsync" in impls:
            print()
            print("peer time / zarrsync time (> 1: zarrsync is faster)")
            print("| dataset | op | " + " | ".join(i for i in impls if i != "zarrsync") + " |")
            print("|---|---|" + "---|" * (len(impls) - 1))
            for ds in datasets:
                for op in ops:
                    ours = rows[(ds, op, "zarrsync")]["s"]
                    cells = [f"{rows[(ds, op, i)]['s'] / ours:.2f}" for i in impls if i != "zarrsync"]
                    print(f"| {ds} | {op} | " + " | ".join(cells) + " |")
    elif sys.argv[1] == "refs":
        make_refs(sys.argv[2])
    else:
        run_one(*sys.argv[1:5])


if __name__ == "__main__":
    main()
