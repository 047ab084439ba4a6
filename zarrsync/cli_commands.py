"""The ``zarrsync`` commands, on click (the ``cli`` extra): ``demo``, ``info``, ``tree``, ``ls``, ``copy``.

``zarrsync demo [DIR]`` creates a zstd-compressed array on local disk, writes it and reads it back
through the thread pool, checks every element, and prints sizes and throughput. The other
commands take a path or a URL (``s3://...``, ``memory://...``, ``x.zip``) as
:func:`zarrsync.open` does. A zarrsync error, or an ``OSError`` from a store, ends a command with
``zarrsync: error: <message>`` on stderr and exit code 1; click's usage errors exit with 2.
:func:`zarrsync.cli.main` is the entry point; it imports this module only once click is there.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from typing import Any, Callable, Iterator

import click
import numpy as np

from . import config
from .api import create_array, open as open_node
from .array import Array
from .cli_copy import KEEP, CopyOptions, compressor_from_text, copy_node
from .errors import ZarrsyncError
from .group import Group


class Failure(click.ClickException):
    """A command failed for a reason the user can act on: ``zarrsync: error: ...``, exit code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"zarrsync: error: {self.format_message()}", file=file or sys.stderr)


class _Commands(click.Group):
    """The command group; it turns zarrsync's errors (and a store's OSError) into :class:`Failure`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ZarrsyncError, OSError) as e:
            raise Failure(str(e)) from e


@click.group(cls=_Commands, help="Zarr v2/v3 arrays from the command line.")
def cli() -> None:
    pass


# --- option types: parsed at the edge, a bad value is a usage error (exit 2) --------------------------

class _Shape(click.ParamType):
    """``64,64`` -> ``(64, 64)``: positive integers, comma-separated."""

    name = "N,N,..."

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            shape = tuple(int(v) for v in value.split(","))
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of integers", param, ctx)
        if any(n < 1 for n in shape):
            self.fail(f"{value!r}: every entry must be a positive integer", param, ctx)
        return shape


class _Compressor(click.ParamType):
    name = "zstd:L|gzip:L|blosc:CNAME:L|none"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            return compressor_from_text(value)
        except ZarrsyncError as e:
            self.fail(str(e), param, ctx)


class _StorageOption(click.ParamType):
    """``KEY=VALUE``; VALUE is read as JSON when it is JSON (``true``, ``3``), else as text."""

    name = "KEY=VALUE"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, Any]:
        if isinstance(value, tuple):
            return value
        key, sep, text = value.partition("=")
        if not sep or not key:
            self.fail(f"{value!r} is not KEY=VALUE", param, ctx)
        try:
            return key, json.loads(text)
        except ValueError:
            return key, text


storage_option = click.option("--storage-option", "storage_options", type=_StorageOption(), multiple=True,
                              help="an option of a URL's backend (credentials, region ...); repeatable")


def _open(path: str, storage_options: tuple[tuple[str, Any], ...] = ()) -> Array | Group:
    return open_node(path, mode="r", storage_options=dict(storage_options) or None)


# --- demo -----------------------------------------------------------------------------------------------

@cli.command(help="Write and read a compressed array on local disk, check it and report throughput.")
@click.argument("directory", required=False)
@click.option("--size", type=click.IntRange(min=1), default=256, show_default=True, help="edge length of the cube")
@click.pass_context
def demo(ctx: click.Context, directory: str | None, size: int) -> None:
    if not _demo(directory, size):
        ctx.exit(1)


def _demo(directory: str | None, size: int) -> bool:
    """The README's demo; False (after saying what differed) if a read-back check fails."""
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
        return False
    part = a[10:20, ::-7, 5]
    if not np.array_equal(part, data[10:20, ::-7, 5]):
        print("  FAILED: a partial read differs", file=sys.stderr)
        return False
    points = tuple(rng.integers(0, size, 10_000) for _ in shape)
    rows = rng.permutation(size)[: size // 4]
    t = time.perf_counter()
    got_points, got_rows = a.vindex[points], a.oindex[rows, ::3, -1]
    t_fancy = time.perf_counter() - t
    if not (np.array_equal(got_points, data[points]) and np.array_equal(got_rows, data[rows, ::3, -1])):
        print("  FAILED: a point or orthogonal selection differs", file=sys.stderr)
        return False

    stored = a.nbytes_stored()
    mb = a.nbytes / 1e6
    print(f"  chunks : {a.nchunks_initialized()} of {a.nchunks} stored")
    print(f"  size   : {mb:.1f} MB in memory, {stored / 1e6:.1f} MB on disk (ratio {a.nbytes / stored:.2f})")
    print(f"  write  : {t_write:.3f} s ({mb / t_write:.0f} MB/s)")
    print(f"  read   : {t_read:.3f} s ({mb / t_read:.0f} MB/s)")
    print(f"  select : 10000 points (vindex) and {len(rows)} unsorted rows (oindex) in {t_fancy:.3f} s")
    print("  check  : every element read back equals what was written: OK")
    return True


# --- info, tree, ls --------------------------------------------------------------------------------------

@cli.command(help="Describe an array (with its stored sizes) or summarise a group.")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="print JSON: the metadata document plus stored sizes")
@storage_option
def info(path: str, as_json: bool, storage_options: tuple) -> None:
    node = _open(path, storage_options)
    if as_json:
        click.echo(json.dumps(_info_doc(node), indent=2, default=_json_scalar))
    elif isinstance(node, Array):
        click.echo(repr(node.info_complete()))
    else:
        click.echo(_group_summary(node))


def _info_doc(node: Array | Group) -> dict:
    """``info --json``: the node's metadata document (``zarr.json``, or ``.zarray``/``.zgroup``),
    its attributes, and for an array its stored chunks and bytes, for a group its member counts."""
    doc: dict[str, Any] = {
        "node_type": "array" if isinstance(node, Array) else "group", "zarr_format": node.zarr_format,
        "path": node.path, "metadata": node.metadata.to_json(), "attributes": node.attrs.asdict()}
    if isinstance(node, Array):
        stored = node.info_complete()
        doc.update(nbytes=node.nbytes, count_chunks_initialized=stored.count_chunks_initialized,
                   count_bytes_stored=stored.count_bytes_stored)
    else:
        members = node.members()
        arrays = sum(isinstance(m, Array) for _, m in members)
        doc.update(members=len(members), arrays=arrays, groups=len(members) - arrays)
    return doc


def _json_scalar(value: Any) -> Any:
    """numpy scalars and arrays in attributes or fill values, as JSON values."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _group_summary(group: Group) -> str:
    members = group.members()
    arrays = sum(isinstance(m, Array) for _, m in members)
    rows = [("Type", "Group"), ("Zarr format", group.zarr_format),
            ("Members", f"{len(members)} ({arrays} arrays, {len(members) - arrays} groups)"),
            ("Attributes", json.dumps(group.attrs.asdict(), default=_json_scalar)), ("Store", repr(group.store))]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}} : {v}" for k, v in rows)


@cli.command(help="Show the hierarchy below a group.")
@click.argument("path")
@click.option("--depth", type=click.IntRange(min=1), help="levels to show (1: direct members only; default all)")
@storage_option
def tree(path: str, depth: int | None, storage_options: tuple) -> None:
    node = _open(path, storage_options)
    click.echo(node.tree(max_depth=None if depth is None else depth - 1) if isinstance(node, Group) else repr(node))


@cli.command(help="List a group's members, one a line: name, kind, shape, dtype, chunks (and shards).")
@click.argument("path")
@storage_option
def ls(path: str, storage_options: tuple) -> None:
    node = _open(path, storage_options)
    members = node.members() if isinstance(node, Group) else ((node.basename, node),)
    rows = [_ls_row(name, m) for name, m in members]
    widths = [max(len(r[i]) for r in rows) for i in range(4)] if rows else []
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + ("  " + row[4] if row[4] else ""))


def _ls_row(name: str, node: Array | Group) -> tuple[str, str, str, str, str]:
    if isinstance(node, Group):
        return name + "/", "group", "", "", ""
    layout = f"chunks={node.chunks}" + (f" shards={node.shards}" if node.shards else "")
    return name, "array", str(node.shape), str(node.dtype), layout


# --- copy -----------------------------------------------------------------------------------------------

@cli.command(help="Copy an array or a group (recursively) to DST: re-chunk, re-compress, shard, convert v2 -> v3.")
@click.argument("src")
@click.argument("dst")
@click.option("--path", "src_path", help="the node inside SRC to copy (default: its root); it goes to DST's root")
@click.option("--chunks", type=_Shape(), help="new (inner) chunk shape, e.g. 64,64")
@click.option("--shards", type=_Shape(), help="shard shape (Zarr v3), a multiple of the chunks, e.g. 256,256")
@click.option("--compressor", type=_Compressor(), default=None, help="new compressor (default: the source's)")
@click.option("--zarr-format", type=click.Choice(["2", "3"]), help="the destination's format (default: the source's)")
@click.option("--overwrite", is_flag=True, help="replace whatever is at DST")
@click.option("--resume", is_flag=True, help="continue an interrupted copy with the same options: "
              "skip blocks whose destination objects are all stored")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar and no summary")
def copy(src: str, dst: str, src_path: str | None, chunks: tuple | None, shards: tuple | None,
         compressor: Any, zarr_format: str | None, overwrite: bool, resume: bool, quiet: bool) -> None:
    if overwrite and resume:
        raise click.UsageError("--overwrite and --resume exclude each other")
    source = open_node(src, path=src_path, mode="r")
    opts = CopyOptions(chunks=chunks, shards=shards,
                       compressors=KEEP if compressor is None else compressor,
                       zarr_format=None if zarr_format is None else int(zarr_format),
                       overwrite=overwrite, resume=resume)
    with _progress(not quiet and _is_terminal(sys.stdout)) as start:
        pairs = copy_node(source, dst, opts, note=lambda text: click.echo(f"zarrsync: note: {text}", err=True),
                          start=start)
    if not quiet:
        total = sum(s.nbytes for s, _ in pairs)
        fmt = opts.zarr_format or source.zarr_format
        click.echo(f"copied {len(pairs)} array(s), {total / 1e6:.1f} MB, to {dst} (Zarr v{fmt})")


def _is_terminal(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


@contextlib.contextmanager
def _progress(show: bool) -> Iterator[Callable[[int], Callable[[int], None]]]:
    """Yields ``start(total_bytes) -> update(n)``: a tqdm bar on stderr when ``show``, else nothing."""
    bars = []

    def start(total: int) -> Callable[[int], None]:
        if not show:
            return lambda _: None
        from tqdm import tqdm  # present: main() checked

        bars.append(tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="copy", file=sys.stderr))
        return bars[-1].update

    try:
        yield start
    finally:
        for bar in bars:
            bar.close()
