"""The engine of ``zarrsync copy``: re-chunk, re-compress, shard and migrate v2 -> v3 in one pass.

The copy streams in *blocks*: boxes of whole destination stored objects (shards, or chunks when
unsharded), grown to whole source stored objects where that fits the memory budget, so that no
destination object is written twice (no read-modify-write) and, where alignment allows, no
source object is decoded twice. Blocks are read and written with ordinary array reads/writes,
which fan out over chunks on zarrsync's own thread pool; :data:`IN_FLIGHT` blocks are in flight at
once through the arrays' awaitable twins (one thread hop per block), so memory stays below
``IN_FLIGHT`` x the block size whatever the array's size.

No click here: :mod:`zarrsync.cli_commands` parses the options and shows progress.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import math
from typing import Any, Callable, Iterator

import numpy as np

from .api import consolidate_metadata, create_array, create_group, open_array, open_group
from .array import Array
from .codecs.registry import parse_codec
from .consolidated import read_consolidated
from .convenience import BLOCK_BYTES, iter_blocks, plan_block
from .creation import build_array_metadata
from .errors import CodecError, ContainsArrayError, MetadataError
from .group import Group
from .metadata.v2 import ArrayMetadataV2

__all__ = ["CopyOptions", "KEEP", "IN_FLIGHT", "compressor_from_text", "copy_node"]

#: blocks read or written at once (each of at most BLOCK_BYTES: see convenience.plan_block)
IN_FLIGHT = 3

KEEP = "keep"  # CopyOptions.compressors: the source's own compressors


def compressor_from_text(text: str) -> list[dict]:
    """The compressors that ``--compressor`` names: ``zstd:LEVEL``, ``gzip:LEVEL``,
    ``blosc:CNAME:LEVEL`` (byte shuffle) or ``none`` (``[]``); as v3 JSON, which Zarr v2 arrays
    take too.

    >>> compressor_from_text("zstd:3")
    [{'name': 'zstd', 'configuration': {'level': 3, 'checksum': False}}]
    """
    name, *args = text.strip().lower().split(":")
    if name == "none" and not args:
        return []
    forms = {"zstd": ["level"], "gzip": ["level"], "blosc": ["cname", "clevel"]}
    if name not in forms or len(args) != len(forms[name]):
        raise CodecError(f"compressor {text!r}: expected zstd:LEVEL, gzip:LEVEL, blosc:CNAME:LEVEL or none")
    config: dict[str, Any] = dict(zip(forms[name], args))
    level_key = forms[name][-1]
    try:
        config[level_key] = int(config[level_key])
    except ValueError:
        raise CodecError(f"compressor {text!r}: the level {config[level_key]!r} is not an integer") from None
    if name == "zstd":
        config["checksum"] = False
    if name == "blosc":
        config.update(shuffle="shuffle", blocksize=0)
    doc = {"name": name, "configuration": config}
    parse_codec(doc)  # a bad level or cname fails here, naming it
    return [doc]


@dataclasses.dataclass(frozen=True)
class CopyOptions:
    """What ``zarrsync copy`` changes; None (and :data:`KEEP`) keeps the source's setting.

    ``chunks`` and ``shards`` apply to arrays with as many dimensions as they have entries.
    """

    chunks: tuple[int, ...] | None = None
    shards: tuple[int, ...] | None = None
    compressors: Any = KEEP
    zarr_format: int | None = None
    overwrite: bool = False
    resume: bool = False


def _objects_in(sel: tuple[slice, ...], objects: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """Grid coordinates of the stored objects that block ``sel`` covers."""
    return itertools.product(*(range(s.start // o, -(-s.stop // o)) for s, o in zip(sel, objects)))


# --- destination settings ----------------------------------------------------------------------------

def array_settings(src: Array, opts: CopyOptions) -> dict[str, Any]:
    """The ``create_array`` keywords of the copy of ``src``.

    Attributes are kept as they are (v2 ``_ARRAY_DIMENSIONS`` included; it is not turned into
    v3 ``dimension_names``); v3 dimension names are kept in v3 and dropped in v2, which has none.
    Within one Zarr format the byte layout is kept (v2 typestr and order, v3 serializer and key
    encoding); across formats the destination gets its default (little-endian) layout.
    """
    fmt = opts.zarr_format or src.zarr_format
    fits = opts.chunks is None or len(opts.chunks) == src.ndim
    fits_shards = opts.shards is None or len(opts.shards) == src.ndim
    chunks = opts.chunks if opts.chunks is not None and fits else src.chunks
    shards: tuple[int, ...] | None
    if opts.shards is not None and fits_shards:
        shards = opts.shards
    else:
        shards = src.shards if fmt == 3 and (opts.chunks is None or not fits) else None
    settings: dict[str, Any] = dict(
        shape=src.shape, chunks=chunks, shards=shards, fill_value=src.fill_value, zarr_format=fmt,
        attributes=src.attrs.asdict(),
    )
    md = src.metadata
    if fmt == 2 and isinstance(md, ArrayMetadataV2):  # a v2 source
        fixed = md.data_type.is_fixed_size
        settings.update(dtype=md.to_json()["dtype"] if fixed else md.data_type, filters=md.filters,
                        compressors=md.compressor, order=md.order, dimension_separator=md.dimension_separator)
    elif fmt == 2:
        settings.update(dtype=md.data_type, filters=src.filters, compressors=src.compressors)
    else:
        same = src.zarr_format == 3
        settings.update(dtype=md.data_type, filters=src.filters, compressors=src.compressors,
                        serializer=src.serializer if same else "auto", dimension_names=src.dimension_names,
                        chunk_key_encoding=md.chunk_key_encoding.to_json() if same else None)
    if opts.compressors != KEEP:
        settings["compressors"] = opts.compressors
    return settings


def _ignored_options(src: Array, opts: CopyOptions) -> list[str]:
    """The ``--chunks``/``--shards`` values that do not apply to ``src`` (another dimensionality)."""
    return [f"{name} {list(value)}" for name, value in (("--chunks", opts.chunks), ("--shards", opts.shards))
            if value is not None and len(value) != src.ndim]


# --- the copy --------------------------------------------------------------------------------------------

def copy_node(src: Array | Group, dst: str, opts: CopyOptions, *, storage_options: dict | None = None,
              note: Callable[[str], None] = lambda _: None,
              start: Callable[[int], Callable[[int], None]] = lambda _: (lambda _: None)) -> list[tuple[Array, Array]]:
    """Copy the array or group ``src`` (a group recursively) to the root of ``dst``.

    ``note(text)`` hears about options that do not apply to an array; ``start(total_bytes)`` is
    called once the destination nodes exist and returns the callable that hears the bytes of
    each block done. Returns the ``(source, destination)`` pairs of arrays copied.
    """
    if isinstance(src, Array):
        pairs = [(src, _make_array(src, opts, note, lambda kw: create_array(
            dst, overwrite=opts.overwrite, storage_options=storage_options, **kw),
            lambda: open_array(dst, mode="r+", storage_options=storage_options)))]
        root = None
    else:
        root = _make_group(src, dst, opts, storage_options)
        pairs = []
        for rel, node in src.members(max_depth=None):  # parents come before their members
            if isinstance(node, Group):
                if rel not in root:
                    root.create_group(rel, attributes=node.attrs.asdict())
                continue
            pairs.append((node, _make_array(node, opts, note, lambda kw, rel=rel: root.create_array(rel, **kw),
                                            lambda rel=rel: root[rel])))
    done = start(sum(s.nbytes for s, _ in pairs))
    for s, d in pairs:
        copy_array_data(s, d, resume=opts.resume, budget=BLOCK_BYTES, done=done)
    if root is not None and read_consolidated(src.store, src.path, src.metadata) is not None:
        consolidate_metadata(root.store, path=root.path)
    return pairs


def _make_group(src: Group, dst: str, opts: CopyOptions, storage_options: dict | None) -> Group:
    fmt = opts.zarr_format or src.zarr_format
    if not opts.resume:
        return create_group(dst, overwrite=opts.overwrite, attributes=src.attrs.asdict(), zarr_format=fmt,
                            storage_options=storage_options)
    root = open_group(dst, mode="r+", zarr_format=fmt, use_consolidated=False, storage_options=storage_options)
    if root.attrs.asdict() != src.attrs.asdict():
        raise MetadataError(f"cannot resume: the attributes of the group at {dst!r} differ from the source's")
    return root


def _make_array(src: Array, opts: CopyOptions, note: Callable[[str], None], create: Callable[..., Array],
                existing: Callable[..., Any]) -> Array:
    """The destination array of ``src``: created, or with ``resume`` the one an earlier run
    created, which must have exactly the metadata this run would write.

    ``create(settings)`` and ``existing()`` are typed ``Callable[...]``: mypy cannot infer the
    caller's lambdas, which bind the loop variable with a defaulted parameter."""
    for ignored in _ignored_options(src, opts):
        note(f"{ignored} does not apply to {src.name or '/'} ({src.ndim} dimensions): its own layout is kept")
    settings = array_settings(src, opts)
    if not opts.resume:
        return create(settings)
    try:
        dst = existing()
    except KeyError:  # NodeNotFoundError: this array was not reached before
        return create(settings)
    if not isinstance(dst, Array):
        raise ContainsArrayError(f"cannot resume: {dst.name!r} in the destination is not an array")
    if dst.metadata != build_array_metadata(**settings):
        raise MetadataError(f"cannot resume: the destination array {dst.name!r} was created with other settings")
    return dst


def copy_array_data(src: Array, dst: Array, *, resume: bool = False, budget: int = BLOCK_BYTES,
                    in_flight: int = IN_FLIGHT, done: Callable[[int], None] = lambda _: None) -> tuple[int, ...]:
    """Copy every element of ``src`` into ``dst`` (same shape) block by block; return the block
    shape used. With ``resume``, blocks whose destination objects are all stored are skipped
    (objects are written whole and atomically, so a stored one is complete; an all-fill object
    is never stored, so its block is copied again)."""
    objects = dst.metadata.chunk_shape
    block = plan_block(src.shape, src.dtype.itemsize, objects, src.metadata.chunk_shape, budget)
    blocks = iter_blocks(src.shape, block)
    if resume:
        stored = {coords for coords, _ in dst._chunk_keys()}  # one listing, not one request per object
        blocks = _unfinished(blocks, objects, stored, src.dtype.itemsize, done)
    asyncio.run(_pump(src, dst, blocks, in_flight, done))
    return block


def _unfinished(blocks: Iterator[tuple[slice, ...]], objects: tuple[int, ...], stored: set, itemsize: int,
                done: Callable[[int], None]) -> Iterator[tuple[slice, ...]]:
    for sel in blocks:
        if all(c in stored for c in _objects_in(sel, objects)):
            done(math.prod(s.stop - s.start for s in sel) * itemsize)
        else:
            yield sel


async def _pump(src: Array, dst: Array, blocks: Iterator[tuple[slice, ...]], in_flight: int,
                done: Callable[[int], None]) -> None:
    """Copy ``blocks`` with ``in_flight`` of them under way at once. The workers share one
    iterator; it is advanced on the event loop's thread only, between awaits."""
    async def worker() -> None:
        for sel in blocks:
            data = await src.getitem_async(sel)
            await dst.setitem_async(sel, data)
            done(np.asarray(data).size * src.dtype.itemsize)

    try:
        async with asyncio.TaskGroup() as tasks:
            for _ in range(in_flight):
                tasks.create_task(worker())
    except BaseExceptionGroup as group:  # the first failure, as a plain call would raise it
        raise group.exceptions[0] from None
