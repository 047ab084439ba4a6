#!/usr/bin/env python3
"""Thread scaling: the same fixed amount of Zarr work split across 1..N threads, per interpreter.

Each workload does a fixed total amount of work, so ideal time at n threads is (time at 1) / n:
  user_small_reads          n user threads read their share of the small chunks (64x64 uint16,
                            zstd 1, ~8 KiB each, LocalStore), one chunk per call, library pool off
  user_small_writes_memory  n user threads write their share of those chunks to a MemoryStore array
  user_small_writes_local   the same into a LocalStore array (overwritten each time, whole chunks)
  pool_small_read           one a[...] over the small-chunk array, library pool of n workers
  pool_zstd_read            one a[...] over 4-MiB zstd chunks (512^3 uint16, chunks 128^3), pool n
  partial_shard_reads       n user threads read their share of the inner chunks of a sharded array
                            (4096^2 uint16, shards 1024^2, inner 64^2, zstd), one per call, pool off
  vlen_strings              n user threads read their share of the chunks of a string array
                            (1024 chunks of 256 short strings, vlen-utf8 + zstd), one per call
  async_tasks               one event loop gathers one `await a.getitem_async(chunk)` per small
                            chunk; the loop's default executor is a ThreadPoolExecutor(n)
"Pool off" is zarrsync.config.context(max_workers=1) in each thread.

The script is a driver: it runs itself (--child) under each --python interpreter, one after the
other, and prints per interpreter the best of --repeat seconds at each thread count, the speed-up
t1/tn, and a zarr-python anchor (same shapes, chunks and codecs, arrays written by zarr-python,
sync API from user threads; pool workloads with zarr's async.concurrency = n; async_tasks through
zarr.api.asynchronous) at 1 thread and at the largest n, best of 1, timing --zarr-fraction of the
work and scaling up. Then a table comparing a GIL and a free-threaded interpreter. Every result is
checked once against the numpy source, outside the timing. Data lives under ROOT (written once,
reused by later runs and by every interpreter).

    python benchmarks/threads.py /tmp/zs-threads --python /opt/py313/bin/python3 \\
        --python /opt/py313t/bin/python3 --threads 1,2 [--quick] [--json out.json]
"""
import argparse, asyncio, contextlib, itertools, json, os, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
import numpy as np

# name: (shape, chunks, shards, dtype); "unit" regions are the chunks (inner chunks if sharded)
DATASETS = {
    "full": {"small": ((4096, 4096), (64, 64), None, "uint16"),
             "zstd": ((512, 512, 512), (128, 128, 128), None, "uint16"),
             "shard": ((4096, 4096), (64, 64), (1024, 1024), "uint16"),
             "vlen": ((262144,), (256,), None, "str")},
    "quick": {"small": ((1024, 1024), (64, 64), None, "uint16"),
              "zstd": ((256, 256, 256), (128, 128, 128), None, "uint16"),
              "shard": ((1024, 1024), (64, 64), (512, 512), "uint16"),
              "vlen": ((32768,), (256,), None, "str")},
}
# workload: (data set, mode)
WORKLOADS = {
    "user_small_reads": ("small", "read"),
    "user_small_writes_memory": ("small", "write_memory"),
    "user_small_writes_local": ("small", "write_local"),
    "pool_small_read": ("small", "pool"),
    "pool_zstd_read": ("zstd", "pool"),
    "partial_shard_reads": ("shard", "read"),
    "vlen_strings": ("vlen", "read"),
    "async_tasks": ("small", "async"),
}


def source(shape, dtype):
    if dtype == "str":
        words = [f"v{i}-" + "x" * (i % 11) for i in range(int(np.prod(shape)))]
        return np.array(words, dtype=np.dtypes.StringDType()).reshape(shape)
    return np.random.default_rng(0).integers(0, 64, size=shape, dtype=np.uint16)


def units(shape, chunks, frac=1.0):
    """One selection per chunk, in C order; the first `frac` of them."""
    grid = itertools.product(*(range(0, s, c) for s, c in zip(shape, chunks)))
    sels = [tuple(slice(i, i + c) for i, c in zip(starts, chunks)) for starts in grid]
    return sels[:max(1, round(len(sels) * frac))]


def same(got, want):
    if want.dtype.kind == "T":
        got, want = np.asarray(got).astype(object), want.astype(object)
    return got.shape == want.shape and bool(np.array_equal(got, want))


class Zarrsync:
    name = "zarrsync"

    def __init__(self):
        import zarrsync
        self.z = zarrsync
        self.version = zarrsync.__version__

    def create(self, path, shape, chunks, shards, dtype):
        numeric = dtype != "str"
        return self.z.create_array(path, shape=shape, dtype=dtype if numeric else str, chunks=chunks,
                                   shards=shards, fill_value=0 if numeric else None, overwrite=True,
                                   compressors=[{"name": "zstd", "configuration": {"level": 1}}])

    def open(self, path):
        return self.z.open_array(path, mode="r")

    def pool_off(self):
        return self.z.config.context(max_workers=1)

    def pool(self, n):
        return self.z.config.context(max_workers=n)

    async def get_all_async(self, path, sels):
        a = self.open(path)
        with self.pool_off():
            t0 = time.perf_counter()
            out = await asyncio.gather(*(a.getitem_async(s) for s in sels))
        return time.perf_counter() - t0, out


class ZarrPython:
    name = "zarr-python"

    def __init__(self):
        import zarr, zarr.api.asynchronous
        self.z = zarr
        self.version = zarr.__version__

    def create(self, path, shape, chunks, shards, dtype):
        from zarr.codecs import ZstdCodec
        numeric = dtype != "str"
        store = path if path is not None else self.z.storage.MemoryStore()
        return self.z.create_array(store=store, shape=shape, dtype=dtype if numeric else str, chunks=chunks,
                                   shards=shards, fill_value=0 if numeric else "", overwrite=True,
                                   compressors=[ZstdCodec(level=1)])

    def open(self, path):
        return self.z.open_array(path, mode="r")

    def pool_off(self):
        # a one-chunk call has nothing to run concurrently: zarr's settings stay as they are
        return contextlib.nullcontext()

    def pool(self, n):
        return self.z.config.set({"async.concurrency": n})

    async def get_all_async(self, path, sels):
        a = await self.z.api.asynchronous.open_array(store=path, mode="r")
        t0 = time.perf_counter()
        out = await asyncio.gather(*(a.getitem(s) for s in sels))
        return time.perf_counter() - t0, out


def prepared(impl, root, ds, spec, src):
    """The data set as IMPL wrote it under root, written on first use."""
    path = os.path.join(root, f"{impl.name}-{impl.version}", ds + ".zarr")
    if not os.path.exists(path + ".done"):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        impl.create(path, *spec)[...] = src
        open(path + ".done", "w").close()
    return path


def in_threads(n, sels, fn, ctx):
    """Split sels over n threads, each calling fn(sel) inside ctx(); wall seconds."""
    errors = []

    def worker(k):
        try:
            with ctx():
                for s in sels[k::n]:
                    fn(s)
        except BaseException as e:  # re-raised below, in the calling thread
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t0


def in_loop(impl, path, sels, n):
    async def main():
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(n))
        return await impl.get_all_async(path, sels)
    return asyncio.run(main())


def check_reads(a, sels, src, ctx):
    """Read every selection again from 2 threads and compare with the source."""
    got = []
    in_threads(2, sels, lambda s: got.append((s, a[s])), ctx)
    return len(got) == len(sels) and all(same(x, src[s]) for s, x in got)


def workload(impl, mode, path, spec, src, frac):
    """(time(n) -> seconds, check() -> bool, share of the whole work done) for one workload."""
    shape, chunks = spec[0], spec[1]
    sels = units(shape, chunks, frac)
    share = len(sels) / len(units(shape, chunks))
    if mode == "read":
        a = impl.open(path)
        return (lambda n: in_threads(n, sels, lambda s: a[s], impl.pool_off),
                lambda: check_reads(a, sels, src, impl.pool_off), share)
    if mode.startswith("write"):
        target = None if mode == "write_memory" else path.replace(".zarr", "-write.zarr")
        written = []

        def time_writes(n):
            # a fresh array each time: overwriting a file costs the file system more than
            # creating one, so reusing the array would time a different thing on each repetition
            a = impl.create(target, *spec)
            written[:] = [a]
            os.sync()  # the last run's dirty pages are not flushed inside this one

            def write(s):
                a[s] = src[s]
            return in_threads(n, sels, write, impl.pool_off)
        return time_writes, lambda: all(same(written[0][s], src[s]) for s in sels), share
    if mode == "pool":
        a = impl.open(path)
        rows = max(chunks[0], round(shape[0] * frac / chunks[0]) * chunks[0])
        region = (slice(0, rows),)

        def time_pool(n):
            with impl.pool(n):
                t0 = time.perf_counter()
                a[region]
                return time.perf_counter() - t0
        return time_pool, lambda: same(a[region], src[region]), rows / shape[0]
    if mode == "async":
        return (lambda n: in_loop(impl, path, sels, n)[0],
                lambda: all(same(x, src[s]) for s, x in zip(sels, in_loop(impl, path, sels, 2)[1])), share)
    raise ValueError(mode)


def emit(**row):
    print(json.dumps(row), flush=True)


def child(args):
    impls = [Zarrsync()]
    try:
        impls.append(ZarrPython())
    except ImportError as e:
        print(f"zarr-python not importable here: {e}", file=sys.stderr)
    emit(type="header", python=sys.executable, version=sys.version.split()[0],
         gil=getattr(sys, "_is_gil_enabled", lambda: True)(), zarrsync=impls[0].version,
         zarr=impls[1].version if len(impls) > 1 else None, zarr_fraction=args.zarr_fraction)
    size = "quick" if args.quick else "full"
    root = os.path.join(args.root, size)
    specs = DATASETS[size]
    sources = {ds: source(spec[0], spec[3]) for ds, spec in specs.items()}
    threads = parse_threads(args.threads)
    for impl in impls if args.zarr_fraction > 0 else impls[:1]:
        anchor = impl.name != "zarrsync"
        frac, repeat = (args.zarr_fraction, 1) if anchor else (1.0, args.repeat)
        counts = sorted({threads[0], threads[-1]}) if anchor else threads
        for name, (ds, mode) in WORKLOADS.items():
            if args.workloads and name not in args.workloads.split(","):
                continue
            try:
                path = prepared(impl, root, ds, specs[ds], sources[ds])
                time_n, check, share = workload(impl, mode, path, specs[ds], sources[ds], frac)
                for n in counts:
                    s = min(time_n(n) for _ in range(repeat))
                    emit(type="time", impl=impl.name, workload=name, threads=n, s=s / share, share=share)
                emit(type="check", impl=impl.name, workload=name, ok=check())
            except Exception as e:
                if not anchor:
                    raise
                print(f"{impl.name} {name}: n/a ({type(e).__name__}: {e})", file=sys.stderr)
            print(f"  {sys.version.split()[0]} {impl.name} {name} done", file=sys.stderr, flush=True)


def parse_threads(text):
    if text:
        return sorted({int(t) for t in text.split(",")})
    cpu = os.cpu_count() or 1
    return sorted({2 ** k for k in range(cpu.bit_length()) if 2 ** k <= cpu} | {cpu})


def run_child(python, args):
    cmd = [python, os.path.abspath(__file__), args.root, "--child", "--repeat", str(args.repeat),
           "--threads", ",".join(map(str, parse_threads(args.threads))), "--zarr-fraction", str(args.zarr_fraction)]
    cmd += ["--workloads", args.workloads] if args.workloads else []
    out = subprocess.run(cmd + (["--quick"] if args.quick else []), stdout=subprocess.PIPE, text=True, check=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    res = {"header": rows[0], "times": {}, "shares": {}, "checks": {}}
    for r in rows[1:]:
        if r["type"] == "time":
            res["times"][f"{r['impl']}/{r['workload']}/{r['threads']}"] = r["s"]
            res["shares"][f"{r['impl']}/{r['workload']}"] = r["share"]
        else:
            res["checks"][f"{r['impl']}/{r['workload']}"] = r["ok"]
    return res


def cell(x, fmt="{:.3f}"):
    return "n/a" if x is None else fmt.format(x)


def table(res, threads):
    h, t = res["header"], res["times"]
    anchors = sorted({threads[0], threads[-1]})
    print(f"\n== {h['python']}: CPython {h['version']}, GIL {'on' if h['gil'] else 'off'}, "
          f"zarrsync {h['zarrsync']}, zarr-python {h['zarr'] or 'not installed'} ==")
    if h["zarr"]:
        print("   zarr columns: best of 1, timed on the share of the work in 'zarr part', scaled to the whole")
    cols = ([f"{n}thr s" for n in threads] + [f"x{n}" for n in threads[1:]]
            + [f"zarr {n}thr s" for n in anchors] + ["zarr part", "check"])
    print(f"{'workload':26}" + "".join(f"{c:>12}" for c in cols))
    for w in (w for w in WORKLOADS if f"zarrsync/{w}/{threads[0]}" in t):
        secs = [t.get(f"zarrsync/{w}/{n}") for n in threads]
        ups = [secs[0] / s if s else None for s in secs[1:]]
        zs = [t.get(f"zarr-python/{w}/{n}") for n in anchors]
        ok = [res["checks"].get(f"{i}/{w}") for i in ("zarrsync", "zarr-python")]
        chk = "/".join({True: "ok", False: "FAIL", None: "-"}[c] for c in ok)
        part = res["shares"].get(f"zarr-python/{w}")
        cells = [cell(s) for s in secs] + [cell(u, "{:.2f}") for u in ups] + [cell(z) for z in zs]
        cells += [cell(part, "{:.3g}"), chk]
        print(f"{w:26}" + "".join(f"{c:>12}" for c in cells))


def comparison(results, threads):
    gil = next((r for r in results if r["header"]["gil"]), None)
    ft = next((r for r in results if not r["header"]["gil"]), None)
    if gil is None or ft is None:
        return
    print(f"\n== zarrsync, free-threaded ({ft['header']['python']}) vs GIL ({gil['header']['python']}) ==")
    cols = [f"{threads[0]}thr FT/GIL"] + [f"x{n} GIL" for n in threads[1:]] + [f"x{n} FT" for n in threads[1:]]
    print(f"{'workload':26}" + "".join(f"{c:>12}" for c in cols))
    for w in (w for w in WORKLOADS if f"zarrsync/{w}/{threads[0]}" in ft["times"] and f"zarrsync/{w}/{threads[0]}" in gil["times"]):
        def t(r, n):
            return r["times"][f"zarrsync/{w}/{n}"]
        ratio = t(ft, threads[0]) / t(gil, threads[0])
        ups = [t(r, threads[0]) / t(r, n) for r in (gil, ft) for n in threads[1:]]
        print(f"{w:26}" + "".join(f"{c:>12}" for c in [f"{ratio:.2f}"] + [f"{u:.2f}" for u in ups]))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", help="directory for the data sets (created if missing)")
    p.add_argument("--python", action="append", help="interpreter to run (repeatable; default: this one)")
    p.add_argument("--threads", help="thread counts, e.g. 1,2 (default 1,2,4,... up to the CPU count)")
    p.add_argument("--repeat", type=int, default=3, help="zarrsync: best of this many (default 3)")
    p.add_argument("--zarr-fraction", type=float, default=0.25,
                   help="share of the work timed for zarr-python (0: leave zarr-python out)")
    p.add_argument("--workloads", help="comma-separated workloads to run (default: all)")
    p.add_argument("--quick", action="store_true", help="small data sets, for a trial run")
    p.add_argument("--json", help="save all raw numbers here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    os.makedirs(args.root, exist_ok=True)
    if args.child:
        return child(args)
    threads = parse_threads(args.threads)
    results = [run_child(py, args) for py in args.python or [sys.executable]]
    for r in results:
        table(r, threads)
    comparison(results, threads)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": threads, "quick": args.quick, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
