"""The ``zarrsync`` command: ``demo``, ``info`` and ``tree``.

``zarrsync demo [DIR]`` creates a zstd-compressed array on local disk, writes it and reads it back
through the thread pool, checks every element, and prints sizes and throughput.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from . import config
from .api import create_array, open as open_node
from .array import Array


def _demo(directory: str | None, size: int) -> int:
    root = directory or tempfile.mkdtemp(prefix="zarrsync-demo-")
    path = os.path.join(root, "demo.zarr")
    shape, chunks = (size, size, size), (64, 64, 64)
    rng = np.random.default_rng(0)
    data = (np.arange(np.prod(shape), dtype=np.uint32) % 4096).astype(np.uint16).reshape(shape)
    data += rng.integers(0, 16, size=shape, dtype=np.uint16)
    workers = config.get().max_workers
    print(f"zarrsync demo: {shape} uint16 in {chunks} chunks, zstd level 0, {workers} worker threads")
    print(f"  store: {path}")

    t = time.perf_counter()
    a = create_array(path, shape=shape, dtype="uint16", chunks=chunks, fill_value=0, overwrite=True,
                     compressors=[{"name": "zstd", "configuration": {"level": 0, "checksum": False}}],
                     attributes={"made_by": "zarrsync demo"}, dimension_names=["z", "y", "x"])
    a[...] = data
    t_write = time.perf_counter() - t

    t = time.perf_counter()
    back = a[...]
    t_read = time.perf_counter() - t
    if not np.array_equal(back, data):
        print("  FAILED: data read back differs from data written", file=sys.stderr)
        return 1
    part = a[10:20, ::-7, 5]
    if not np.array_equal(part, data[10:20, ::-7, 5]):
        print("  FAILED: a partial read differs", file=sys.stderr)
        return 1
    points = tuple(rng.integers(0, size, 10_000) for _ in shape)
    rows = rng.permutation(size)[: size // 4]
    t = time.perf_counter()
    got_points, got_rows = a.vindex[points], a.oindex[rows, ::3, -1]
    t_fancy = time.perf_counter() - t
    if not (np.array_equal(got_points, data[points]) and np.array_equal(got_rows, data[rows, ::3, -1])):
        print("  FAILED: a point or orthogonal selection differs", file=sys.stderr)
        return 1

    stored = a.nbytes_stored()
    mb = a.nbytes / 1e6
    print(f"  chunks : {a.nchunks_initialized()} of {a.nchunks} stored")
    print(f"  size   : {mb:.1f} MB in memory, {stored / 1e6:.1f} MB on disk (ratio {a.nbytes / stored:.2f})")
    print(f"  write  : {t_write:.3f} s ({mb / t_write:.0f} MB/s)")
    print(f"  read   : {t_read:.3f} s ({mb / t_read:.0f} MB/s)")
    print(f"  select : 10000 points (vindex) and {len(rows)} unsorted rows (oindex) in {t_fancy:.3f} s")
    print("  check  : every element read back equals what was written: OK")
    return 0


def _info(path: str) -> int:
    node = open_node(path, mode="r")
    print(node.info_complete() if isinstance(node, Array) else node.tree())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zarrsync", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write and read a compressed array on local disk")
    demo.add_argument("directory", nargs="?", help="where to put demo.zarr (default: a new temp dir)")
    demo.add_argument("--size", type=int, default=256, help="edge length of the cube (default 256)")
    info = sub.add_parser("info", help="describe an array, or show a group's tree")
    info.add_argument("path")
    tree = sub.add_parser("tree", help="show the hierarchy below a group")
    tree.add_argument("path")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args.directory, args.size)
    if args.command == "info":
        return _info(args.path)
    node = open_node(args.path, mode="r")
    print(node.tree() if not isinstance(node, Array) else repr(node))
    return 0


if __name__ == "__main__":
    sys.exit(main())
