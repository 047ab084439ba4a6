"""Copying, saving and loading: zarr-python's convenience functions, over any zarrsync stores.

- :func:`copy_store` copies stored bytes exactly, key by key, between any two stores (local,
  zip, memory, remote), with regular-expression filters and an ``if_exists`` policy.
- :func:`copy` and :func:`copy_all` copy nodes (arrays and groups) into a group, decoding and
  re-encoding, so the codecs may change on the way (zarr-python 2's semantics).
- :func:`from_array` makes a new array from a zarrsync Array (keeping its chunks, shards,
  codecs, fill value, attributes and dimension names unless told otherwise) or any array-like,
  copying block by block with bounded memory.
- :func:`save`, :func:`save_array`, :func:`save_group` and :func:`load` mirror numpy's
  ``save``/``savez``/``load``; :func:`create` is zarr-python's older all-in-one creator;
  :func:`open_like`, :func:`tree` and :func:`create_hierarchy` complete zarr-python 3's
  top-level namespace.

Long-running calls (:func:`copy_store`, :func:`from_array`) take ``progress``: ``True`` shows a
``tqdm`` bar when tqdm is installed (and reports nothing otherwise), a callable is called with
``(done, total)`` after each unit of work (a key, a block), from whichever thread finished it,
one call at a time.

Every function has an awaitable twin named ``<name>_async``.
"""

from __future__ import annotations

import contextlib
import copy as _copy_module
import itertools
import math
import re
import threading
from collections.abc import Mapping
from typing import Any, Callable, Iterator, cast

import numpy as np

from . import config as _config
from .array import Array, async_twin
from .codecs import ArrayArrayCodec, ArrayBytesCodec, parse_codec
from .creation import DEFAULT_FILL, build_array_metadata
from .errors import (ArrayNotFoundError, CodecError, ConfigError, ContainsArrayError, ContainsGroupError,
                     InvalidKeyError, NodeNotFoundError, StoreError)
from .executor import run_tasks
from .group import Group, create_nodes, like_arguments, open_node
from .metadata.v2 import ArrayMetadataV2
from .node import child_path, is_array_metadata, normalize_path, read_metadata
from .storage import store_from
from .storage.base import Store

__all__ = [
    "copy", "copy_all", "copy_store", "create", "create_hierarchy", "from_array", "load", "open_like",
    "save", "save_array", "save_group", "tree", "print_debug_info",
]

#: the default budget of plan_block: bytes of one block (more when one destination object is larger)
BLOCK_BYTES = 32 << 20

_KEEP = "keep"


def create_mode(overwrite: bool, node_path: str) -> str:
    """The ``store_from`` mode that creates a node at ``node_path``: ``"w"`` truncates a whole zip
    archive, right only when the new node is the root; otherwise overwriting one node would
    destroy its siblings (the one home of this rule)."""
    return "w" if overwrite and not node_path else "a"


@contextlib.contextmanager
def _opened(store: Any, mode: str = "a", storage_options: dict | None = None) -> Iterator[Store]:
    """The store for ``store``; closed on exit only when this call made it (a zip archive opened
    from a path is then written out), never a Store the caller passed."""
    st = store_from(store, mode=mode, storage_options=storage_options)
    try:
        yield st
    finally:
        if st is not store:
            st.close()


# --- progress -----------------------------------------------------------------------------------------

class _Progress:
    """Counts finished units of work and reports ``(done, total)``: to a callable, to a tqdm bar
    (``progress=True`` with tqdm installed), or nowhere. Safe to advance from several threads;
    reports are made one at a time, in order."""

    def __init__(self, progress: bool | Callable[[int, int], Any] | None, total: int, what: str):
        if not (progress is None or isinstance(progress, bool) or callable(progress)):
            raise ConfigError(f"progress must be True, False or a callable (done, total), got {progress!r}")
        self._lock = threading.Lock()
        self._done = 0
        self._total = total
        self._callback = progress if callable(progress) else None
        self._bar = _tqdm_bar(total, what) if progress is True else None

    def advance(self) -> None:
        with self._lock:
            self._done += 1
            if self._callback is not None:
                self._callback(self._done, self._total)
            if self._bar is not None:
                self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _tqdm_bar(total: int, what: str) -> Any:
    """A tqdm progress bar, or None when tqdm is not installed (an optional dependency)."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=what)


# --- copying stored bytes -----------------------------------------------------------------------------

_IF_EXISTS = ("raise", "replace", "skip")


def _patterns(value: str | list[str] | None, what: str) -> list[re.Pattern]:
    if value is None:
        return []
    try:
        return [re.compile(p) for p in ([value] if isinstance(value, str) else value)]
    except re.error as e:
        raise ConfigError(f"{what}: invalid regular expression {e.pattern!r}: {e}") from None


def _prefix(path: str) -> str:
    path = normalize_path(path)
    return path + "/" if path else ""


def copy_store(source: Any, dest: Any, source_path: str = "", dest_path: str = "", excludes: Any = None,
               includes: Any = None, if_exists: str = "raise",
               progress: bool | Callable[[int, int], Any] = False) -> tuple[int, int, int]:
    """Copy every stored key below ``source_path`` of ``source`` to ``dest_path`` of ``dest``,
    byte for byte (metadata documents, chunks, anything else).

    Parameters
    ----------
    source, dest
        Stores, or anything :func:`~zarrsync.storage.store_from` takes (a path, ``"x.zip"``, a
        URL, a dict). A store made here from a path is closed at the end (a zip archive is then
        written out); a Store passed in is left open.
    source_path, dest_path
        Node paths; the keys below ``source_path`` land below ``dest_path`` under the same
        relative names.
    excludes, includes
        Regular expressions (one or a list), searched (``re.search``) in each full source key:
        a key that an exclude matches is left out unless an include matches it too (zarr-python
        2's rule).
    if_exists
        When a destination key exists: ``"raise"`` (default; checked for every key before
        anything is written, so nothing is copied), ``"replace"`` or ``"skip"``.
    progress
        ``True`` (a tqdm bar if tqdm is installed) or a callable given ``(keys done, total)``.

    Returns
    -------
    (n_copied, n_skipped, n_bytes_copied)
        Keys copied, keys skipped because they existed, and bytes written.

    Stores whose calls wait on a network copy ``io_concurrency`` keys at once (see
    :mod:`zarrsync.config`); local and in-memory copies run on the calling thread.

    Examples
    --------
    >>> import zarrsync
    >>> src = zarrsync.MemoryStore()
    >>> _ = zarrsync.array([1, 2, 3], store=src, name="a", chunks=(2,))
    >>> dest = zarrsync.MemoryStore()
    >>> zarrsync.copy_store(src, dest, source_path="a", dest_path="b")[:2]  # zarr.json and 2 chunks
    (3, 0)
    >>> zarrsync.open_array(dest, path="b")[...]
    array([1, 2, 3])
    """
    if if_exists not in _IF_EXISTS:
        raise ConfigError(f"if_exists must be one of {_IF_EXISTS}, got {if_exists!r}")
    excluded, included = _patterns(excludes, "excludes"), _patterns(includes, "includes")
    src_prefix, dst_prefix = _prefix(source_path), _prefix(dest_path)
    with _opened(source, "r") as src, _opened(dest) as dst:
        dst._check_writable()
        keys = [k for k in sorted(src.list_prefix(src_prefix))
                if not any(p.search(k) for p in excluded) or any(p.search(k) for p in included)]
        pairs = [(k, dst_prefix + k[len(src_prefix):]) for k in keys]
        existing = _existing(dst, dst_prefix, pairs) if if_exists != "replace" else set()
        if if_exists == "raise" and existing:
            first = min(existing)
            raise StoreError(f"copy_store: key {first!r} exists in {dst!r} ({len(existing)} existing keys; "
                             f"pass if_exists='replace' or 'skip')")
        todo = [(k, d) for k, d in pairs if d not in existing]
        totals = _copy_keys(src, dst, todo, _Progress(progress, len(todo), "copy_store"))
    return totals[0], len(pairs) - totals[0], totals[1]


def _existing(store: Store, prefix: str, pairs: list[tuple[str, str]]) -> set[str]:
    """Which destination keys of ``pairs`` exist: one listing, or one check per key on a store
    that cannot list."""
    if store.supports_listing:
        listed = set(store.list_prefix(prefix))
        return {d for _, d in pairs if d in listed}
    return {d for _, d in pairs if store.exists(d)}


def _copy_keys(src: Store, dst: Store, pairs: list[tuple[str, str]], report: _Progress) -> tuple[int, int]:
    """Copy each ``(source key, dest key)``; return (keys copied, bytes written). A key deleted
    from the source meanwhile is not copied."""
    lock = threading.Lock()
    totals = [0, 0]

    def one(pair: tuple[str, str]) -> None:
        value = src.get(pair[0])
        if value is not None:
            dst.set(pair[1], value)
            with lock:
                totals[0] += 1
                totals[1] += len(value)
        report.advance()

    settings = _config.get()
    workers = settings.io_concurrency if (src.latency_bound or dst.latency_bound) else 1
    try:
        run_tasks(one, pairs, workers)
    finally:
        report.close()
    return totals[0], totals[1]


# --- copying nodes ------------------------------------------------------------------------------------

_NODE_IF_EXISTS = ("raise", "replace", "skip", "skip_initialized")


def copy(source: Array | Group, dest: Group, name: str | None = None, shallow: bool = False,
         without_attrs: bool = False, if_exists: str = "raise", **create_kws) -> tuple[int, int, int]:
    """Copy the array or group ``source`` (with everything below it) into group ``dest`` as ``name``
    (default: the source's own name).

    Arrays are read and written block by block (:func:`from_array`), in ``dest``'s Zarr format,
    keeping the source's chunks, codecs and fill value unless ``create_kws`` says otherwise
    (``compressors=...``, ``chunks=...``: any :func:`from_array` argument). A group already at
    the destination is merged into; an array there is handled by ``if_exists``: ``"raise"``
    (default), ``"replace"``, ``"skip"``, or ``"skip_initialized"`` (skip it only if every chunk
    is stored). ``shallow`` copies a group's direct arrays but not its subgroups;
    ``without_attrs`` leaves the attributes behind.

    Returns ``(n_copied, n_skipped, n_bytes_copied)``: nodes copied, nodes skipped, and bytes of
    array data copied (uncompressed, as zarr-python 2 counted).

    >>> import zarrsync
    >>> src = zarrsync.create_group(None)
    >>> _ = src.create_array("x/y", shape=(4,), dtype="i2")
    >>> zarrsync.copy(src["x"], zarrsync.create_group(None))
    (2, 0, 8)
    """
    if not isinstance(source, (Array, Group)):
        raise TypeError(f"copy: source must be a zarrsync Array or Group, got {type(source).__name__}")
    _check_dest(dest, if_exists)
    name = source.basename if name is None else name
    if not normalize_path(name):
        raise InvalidKeyError("copy: the source is a root group; say where it goes with name=")
    return _copy_node(source, dest, name, True, shallow, without_attrs, if_exists, create_kws)


def copy_all(source: Group, dest: Group, shallow: bool = False, without_attrs: bool = False,
             if_exists: str = "raise", **create_kws) -> tuple[int, int, int]:
    """Copy every member of group ``source`` into group ``dest`` (see :func:`copy`), and, unless
    ``without_attrs``, merge ``source``'s attributes into ``dest``'s.

    >>> import zarrsync
    >>> src = zarrsync.create_group(None, attributes={"a": 1})
    >>> _ = src.create_array("x", shape=(2,), dtype="i1")
    >>> dest = zarrsync.create_group(None)
    >>> zarrsync.copy_all(src, dest), dict(dest.attrs)
    ((1, 0, 2), {'a': 1})
    """
    if not isinstance(source, Group):
        raise TypeError(f"copy_all: source must be a zarrsync Group, got {type(source).__name__}")
    _check_dest(dest, if_exists)
    totals = (0, 0, 0)
    for member_name, member in source.members():
        counts = _copy_node(member, dest, member_name, False, shallow, without_attrs, if_exists, create_kws)
        totals = (totals[0] + counts[0], totals[1] + counts[1], totals[2] + counts[2])
    if not without_attrs:
        dest.update_attributes(source.attrs.asdict())
    return totals


def _check_dest(dest: Any, if_exists: str) -> None:
    if not isinstance(dest, Group):
        raise TypeError(f"the destination must be a zarrsync Group, got {type(dest).__name__}")
    if if_exists not in _NODE_IF_EXISTS:
        raise ConfigError(f"if_exists must be one of {_NODE_IF_EXISTS}, got {if_exists!r}")


def _copy_node(source: Array | Group, dest: Group, name: str, root: bool, shallow: bool, without_attrs: bool,
               if_exists: str, create_kws: dict) -> tuple[int, int, int]:
    existing = dest.get(name)
    if isinstance(source, Array):
        if existing is not None and not _may_replace(existing, source, dest, name, if_exists):
            return 0, 1, 0
        kws = {"zarr_format": dest.zarr_format, **create_kws}
        if without_attrs:
            kws.setdefault("attributes", {})
        from_array(dest.store, name=child_path(dest.path, name), data=source, overwrite=existing is not None, **kws)
        return 1, 0, source.nbytes
    if not root and shallow:
        return 0, 0, 0
    if isinstance(existing, Array):
        if not _may_replace(existing, source, dest, name, if_exists):
            return 0, 1, 0
        del dest[name]
    group = dest.require_group(name)
    if not without_attrs:
        group.update_attributes(source.attrs.asdict())
    totals = (1, 0, 0)
    for member_name, member in source.members():
        counts = _copy_node(member, group, member_name, False, shallow, without_attrs, if_exists, create_kws)
        totals = (totals[0] + counts[0], totals[1] + counts[1], totals[2] + counts[2])
    return totals


def _may_replace(existing: Array | Group, source: Array | Group, dest: Group, name: str, if_exists: str) -> bool:
    """Whether the node in the way at ``name`` is to be replaced (False: skip the copy)."""
    if if_exists == "raise":
        cls = ContainsArrayError if isinstance(existing, Array) else ContainsGroupError
        raise cls(f"copy: {name!r} already exists in group {dest.name!r} (pass if_exists='replace' or 'skip')")
    if if_exists == "skip":
        return False
    if if_exists == "skip_initialized" and isinstance(existing, Array):
        return existing.nchunks_initialized() < existing.nchunks
    return True


# --- new arrays from data -----------------------------------------------------------------------------

def from_array(store: Any, *, data: Any, write_data: bool = True, name: str | None = None, chunks: Any = _KEEP,
               shards: Any = _KEEP, filters: Any = _KEEP, compressors: Any = _KEEP, serializer: Any = _KEEP,
               fill_value: Any = DEFAULT_FILL, order: str | None = None, zarr_format: int | None = None,
               attributes: dict | None = None, chunk_key_encoding: Any = None, dimension_names: Any = None,
               storage_options: dict | None = None, overwrite: bool = False, config: dict | None = None,
               progress: bool | Callable[[int, int], Any] = False) -> Array:
    """A new array holding a copy of ``data``: a zarrsync :class:`Array`, a numpy array, or any
    array-like (``h5py``, ``dask`` and zarr-python arrays are read block by block too).

    From a zarrsync Array the new array keeps, unless an argument says otherwise, its chunks,
    shards, filters, compressors, serializer and chunk key encoding (when the Zarr format
    stays the same; otherwise that format's defaults), its fill value, attributes (a deep copy),
    dimension names and Zarr format, as zarr-python's ``from_array`` does. From anything else:
    the defaults of :func:`zarrsync.create_array` (``"keep"`` means ``"auto"``).

    The data is copied in blocks of whole stored chunks (shards) of the new array, each block
    read from the source and written before the next is read: at most about
    ``max(one stored chunk, io_bytes_in_flight)`` bytes (see :mod:`zarrsync.config`) are held at
    once, whatever the array's size. ``write_data=False`` creates the array only.
    ``progress``: ``True`` (a tqdm bar if installed) or a callable given ``(blocks done, total)``.

    >>> import zarrsync, numpy as np
    >>> a = zarrsync.array(np.arange(6), chunks=(2,), attributes={"u": "m"})
    >>> b = zarrsync.from_array(None, data=a)
    >>> b.chunks, dict(b.attrs), b[...]
    ((2,), {'u': 'm'}, array([0, 1, 2, 3, 4, 5]))
    """
    source = data if _blockwise(data) else np.asarray(data)
    kwargs = _from_arguments(source, chunks=chunks, shards=shards, filters=filters, compressors=compressors,
                             serializer=serializer, fill_value=fill_value, order=order, zarr_format=zarr_format,
                             attributes=attributes, chunk_key_encoding=chunk_key_encoding,
                             dimension_names=dimension_names)
    node_path = normalize_path(name)
    st = store_from(store, mode=create_mode(overwrite, node_path), storage_options=storage_options)
    new = Array.create(st, node_path, build_array_metadata(**kwargs), overwrite=overwrite, config=config)
    if write_data:
        copy_blocks(source, new, progress)
    return new


def _blockwise(data: Any) -> bool:
    """Whether ``data`` can be read in blocks as it is (it has a shape, a dtype and slicing)."""
    return isinstance(data, (Array, np.ndarray)) or all(hasattr(data, a) for a in ("shape", "dtype", "__getitem__"))


def _from_arguments(source: Any, *, chunks, shards, filters, compressors, serializer, fill_value, order,
                    zarr_format, attributes, chunk_key_encoding, dimension_names) -> dict:
    """The :func:`build_array_metadata` arguments of :func:`from_array`: ``"keep"`` resolved
    against a zarrsync Array source (zarr-python's rules), or to the defaults otherwise."""
    if not isinstance(source, Array):
        return {
            "shape": source.shape, "dtype": source.dtype, "chunks": "auto" if chunks == _KEEP else chunks,
            "shards": None if shards == _KEEP else shards, "filters": None if filters in (_KEEP, "auto") else filters,
            "compressors": "auto" if compressors == _KEEP else compressors,
            "serializer": "auto" if serializer == _KEEP else serializer, "fill_value": fill_value, "order": order,
            "zarr_format": zarr_format or 3, "attributes": attributes, "chunk_key_encoding": chunk_key_encoding,
            "dimension_names": dimension_names,
        }
    md = source.metadata
    fmt = zarr_format or md.zarr_format
    same = fmt == md.zarr_format
    out = {"shape": md.shape, "dtype": md.data_type, "zarr_format": fmt}
    out["chunks"] = source.chunks if chunks == _KEEP else chunks
    out["shards"] = (source.shards if fmt == 3 else None) if shards == _KEEP else shards
    if filters == _KEEP:
        filters = ((md.filters if isinstance(md, ArrayMetadataV2) else source.filters) or None) if same else None
    out["filters"] = None if filters == "auto" else filters
    if compressors == _KEEP:
        compressors = (((md.compressor if isinstance(md, ArrayMetadataV2) else source.compressors) or None)
                       if same else "auto")
    out["compressors"] = compressors
    if serializer == _KEEP:
        serializer = source.serializer if fmt == 3 and not isinstance(md, ArrayMetadataV2) else "auto"
    out["serializer"] = serializer
    out["fill_value"] = source.fill_value if fill_value is DEFAULT_FILL else fill_value
    out["order"] = md.order if order is None and fmt == 2 and isinstance(md, ArrayMetadataV2) else order
    if chunk_key_encoding is None and same:
        if isinstance(md, ArrayMetadataV2):
            out["dimension_separator"] = md.dimension_separator
        else:
            chunk_key_encoding = md.chunk_key_encoding
    out["chunk_key_encoding"] = chunk_key_encoding
    if dimension_names is None and fmt == 3:
        dimension_names = md.dimension_names
    out["dimension_names"] = dimension_names
    out["attributes"] = _copy_module.deepcopy(source.attrs.asdict()) if attributes is None else attributes
    return out


def copy_blocks(source: Any, dest: Array, progress: bool | Callable[[int, int], Any] = False) -> None:
    """Write ``source`` (same shape as ``dest``) into ``dest`` block by block: each block whole
    stored objects of ``dest`` (aligned to a zarrsync source's objects where that fits, see
    :func:`plan_block`), about ``io_bytes_in_flight`` bytes, read then written before the next is
    read. The one home of bounded-memory copying in the library (the CLI's copy plans its blocks
    with :func:`plan_block` too)."""
    md = dest.metadata
    src_objects = source.metadata.chunk_shape if isinstance(source, Array) else md.chunk_shape
    block = plan_block(md.shape, dest.dtype.itemsize, md.chunk_shape, src_objects, _config.get().io_bytes_in_flight)
    selections = list(iter_blocks(md.shape, block))
    report = _Progress(progress, len(selections), "from_array")
    try:
        for sel in selections:
            dest[sel] = source[sel]
            report.advance()
    finally:
        report.close()


def plan_block(shape: tuple[int, ...], itemsize: int, dst_objects: tuple[int, ...], src_objects: tuple[int, ...],
               budget: int = BLOCK_BYTES) -> tuple[int, ...]:
    """The block shape of a copy: a multiple of the destination's stored-object shape in every
    dimension (or the whole extent), of at most ``budget`` bytes unless one destination object
    alone is larger (then exactly one object).

    Per dimension, innermost first, the block first takes the least common multiple of the two
    object shapes when it fits (each source object is then read by one block only), then grows by
    whole such units until the budget is spent.

    >>> plan_block((1000, 1000), 1, (100, 100), (64, 64), budget=200_000)
    (200, 1000)
    """
    block = [min(d, n) for d, n in zip(dst_objects, shape)]

    def nbytes(b: list[int]) -> int:
        return math.prod(b) * itemsize

    for d in reversed(range(len(shape))):
        aligned = min(math.lcm(dst_objects[d], src_objects[d]), shape[d])
        if nbytes(block[:d] + [aligned] + block[d + 1:]) <= budget:
            block[d] = aligned
    for d in reversed(range(len(shape))):
        unit = block[d]
        if unit == 0 or unit >= shape[d]:
            continue
        others = nbytes(block) // unit
        times = max(1, budget // max(1, others * unit))
        block[d] = min(times * unit, shape[d])
        if block[d] < shape[d]:
            break  # the budget is spent: outer dimensions keep one unit
    return tuple(block)


def iter_blocks(shape: tuple[int, ...], block: tuple[int, ...]) -> Iterator[tuple[slice, ...]]:
    """The selections of every block, in C order (none when the array is empty)."""
    if any(n == 0 for n in shape):
        return
    starts = [range(0, n, b) for n, b in zip(shape, block)]
    for corner in itertools.product(*starts):
        yield tuple(slice(s, min(s + b, n)) for s, b, n in zip(corner, block, shape))


def create(shape: Any, *, chunks: Any = None, dtype: Any = None, compressor: Any = "auto",
           fill_value: Any = DEFAULT_FILL, order: str | None = None, store: Any = None, overwrite: bool = False,
           path: str | None = None, filters: Any = None, object_codec: Any = None,
           dimension_separator: str | None = None, write_empty_chunks: bool | None = None,
           zarr_format: int | None = None, attributes: dict | None = None, chunk_shape: Any = None,
           chunk_key_encoding: Any = None, codecs: Any = None, dimension_names: Any = None,
           storage_options: dict | None = None, config: dict | None = None, data: Any = None) -> Array:
    """zarr-python's older all-in-one array creator (prefer :func:`zarrsync.create_array`).

    ``chunks`` (or ``chunk_shape``) None or True picks them; ``dtype`` None is float64;
    ``compressor`` is one bytes -> bytes codec (``None`` for none); ``codecs`` is a whole v3
    codec chain (filters, one array -> bytes codec, compressors), split here as
    :func:`~zarrsync.create_array` takes it; ``chunk_key_encoding`` may be zarr-python 2's
    tuple form (``("v2", ".")``); ``write_empty_chunks`` goes to the array's ``config``;
    ``data`` is written to the new array.

    >>> import zarrsync
    >>> zarrsync.create((4, 4), chunks=(2, 2), dtype="i2").chunks
    (2, 2)
    """
    config = dict(config or {})
    if write_empty_chunks is not None:
        config["write_empty_chunks"] = write_empty_chunks
    if isinstance(chunk_key_encoding, tuple):
        chunk_key_encoding = {"name": chunk_key_encoding[0], "separator": chunk_key_encoding[1]}
    chunks = chunk_shape if chunks is None else chunks
    kwargs = {"compressors": compressor, "filters": filters, "serializer": "auto"}
    if codecs is not None:
        kwargs = _split_codecs(codecs)
    node_path = normalize_path(path)
    st = store_from(store, mode=create_mode(overwrite, node_path), storage_options=storage_options)
    md = build_array_metadata(
        shape=shape, dtype="float64" if dtype is None else dtype, chunks="auto" if chunks in (None, True) else chunks,
        fill_value=fill_value, order=order, attributes=attributes, dimension_names=dimension_names,
        chunk_key_encoding=chunk_key_encoding, zarr_format=zarr_format or 3, object_codec=object_codec,
        dimension_separator=dimension_separator, **kwargs)
    new = Array.create(st, node_path, md, overwrite=overwrite, config=config)
    if data is not None:
        copy_blocks(data if _blockwise(data) else np.asarray(data), new)
    return new


def _split_codecs(codecs: Any) -> dict:
    """A v3 codec chain as ``filters``, ``serializer`` and ``compressors``."""
    parsed = [parse_codec(c) for c in codecs]
    serializers = [i for i, c in enumerate(parsed) if isinstance(c, ArrayBytesCodec)]
    if len(serializers) != 1:
        raise CodecError(f"codecs must hold exactly one array -> bytes codec, got {[c.name for c in parsed]}")
    i = serializers[0]
    if not all(isinstance(c, ArrayArrayCodec) for c in parsed[:i]):
        raise CodecError(f"codecs: only array -> array codecs may come before {parsed[i].name!r}")
    return {"filters": parsed[:i] or None, "serializer": parsed[i], "compressors": parsed[i + 1:] or None}


def open_like(a: Any, path: str, *, zarr_format: int | None = None, store: Any = None, mode: str = "a",
              storage_options: dict | None = None, **kwargs) -> Array:
    """Open the array at ``path`` of ``store``; if there is none (or ``mode="w"``), create one with
    the shape, dtype (and, for an Array, chunks and fill value) of ``a``, ``kwargs`` winning.

    As in zarr-python, the new array takes ``zarr_format`` (default 3), not ``a``'s format.
    ``mode``: ``"r"``/``"r+"`` need the array to exist, ``"w-"`` refuses an existing one.
    """
    node_path = normalize_path(path)
    st = store_from(store, mode="r" if mode == "r" else create_mode(mode == "w", node_path),
                    storage_options=storage_options)
    md = None if mode == "w" else read_metadata(st, node_path, zarr_format)
    if md is not None:
        if not is_array_metadata(md):
            raise ContainsGroupError(f"{node_path or '/'!r} in {st!r} is a group, not an array")
        if mode == "w-":
            raise ContainsArrayError(f"an array already exists at {node_path or '/'!r} in {st!r}")
        return Array.existing(st, node_path, md, kwargs.get("config"))
    if mode in ("r", "r+"):
        raise ArrayNotFoundError(f"no array at {node_path or '/'!r} in {st!r}")
    config = kwargs.pop("config", None)
    md = build_array_metadata(**like_arguments(a, {"zarr_format": zarr_format or 3, **kwargs}))
    return Array.create(st, node_path, md, overwrite=mode == "w", config=config)


# --- saving and loading -------------------------------------------------------------------------------

def save(store: Any, *args: Any, zarr_format: int | None = None, path: str | None = None,
         storage_options: dict | None = None, **kwargs: Any) -> None:
    """Save one array (:func:`save_array`) or several (:func:`save_group`: positional ones as
    ``arr_0``, ``arr_1`` ..., keyword ones under their names), as numpy's ``save``/``savez``.

    >>> import zarrsync, numpy as np
    >>> s = {}
    >>> zarrsync.save(s, np.arange(3), b=np.ones(2))
    >>> sorted(zarrsync.load(s))
    ['arr_0', 'b']
    """
    if len(args) == 1 and not kwargs:
        save_array(store, args[0], zarr_format=zarr_format, path=path, storage_options=storage_options)
    else:
        save_group(store, *args, zarr_format=zarr_format, path=path, storage_options=storage_options, **kwargs)


def save_array(store: Any, arr: Any, *, zarr_format: int | None = None, path: str | None = None,
               storage_options: dict | None = None, **kwargs: Any) -> None:
    """Save ``arr`` (a numpy array, a scalar, or an array-like) as a new array at ``path``.

    ``kwargs`` go to :func:`zarrsync.create_array` (``compressors=``, ``chunks=`` ...; an
    array-like's own ``chunks`` tuple is kept); ``mode="w"`` or ``overwrite=True`` replaces what
    is there, otherwise an existing node raises. A store made here from a path is closed (a zip
    archive is written out).
    """
    if np.isscalar(arr):
        arr = np.asarray(arr)
    if not _blockwise(arr):
        raise TypeError(f"save_array: arr must be a numpy array or an array-like, got {type(arr).__name__}")
    overwrite = bool(kwargs.pop("overwrite", False)) or kwargs.pop("mode", "a") == "w"
    own_chunks = getattr(arr, "chunks", None)
    kwargs.setdefault("chunks", own_chunks if isinstance(own_chunks, tuple) and len(own_chunks) == arr.ndim
                      else "auto")
    node_path = normalize_path(path)
    with _opened(store, create_mode(overwrite, node_path), storage_options) as st:
        md = build_array_metadata(shape=arr.shape, dtype=arr.dtype, zarr_format=zarr_format or 3, **kwargs)
        copy_blocks(arr, Array.create(st, node_path, md, overwrite=overwrite))


def save_group(store: Any, *args: Any, zarr_format: int | None = None, path: str | None = None,
               storage_options: dict | None = None, **kwargs: Any) -> None:
    """Save several arrays in a new group at ``path`` (replacing whatever is there), as numpy's
    ``savez``: positional arrays as ``arr_0``, ``arr_1`` ..., keyword ones under their names.
    Every argument is checked before anything is deleted."""
    arrays = {f"arr_{i}": a for i, a in enumerate(args)}
    arrays.update(kwargs)
    if not arrays:
        raise ConfigError("save_group: at least one array must be given")
    arrays = {k: np.asarray(a) if np.isscalar(a) else a for k, a in arrays.items()}
    for key, arr in arrays.items():
        if not _blockwise(arr):
            raise TypeError(f"save_group: {key!r} must be a numpy array or an array-like, got {type(arr).__name__}")
    fmt = zarr_format or 3
    node_path = normalize_path(path)
    with _opened(store, create_mode(True, node_path), storage_options) as st:
        group = Group.create(st, node_path, overwrite=True, zarr_format=fmt)
        for key, arr in arrays.items():
            copy_blocks(arr, group.create_array(key, shape=arr.shape, dtype=arr.dtype))


def load(store: Any, path: str | None = None, zarr_format: int | None = None) -> Any:
    """Read the array at ``path`` into memory (a numpy array), or, for a group, a read-only
    mapping from each array member's name to its data, read when looked up (as zarr-python 2).

    >>> import zarrsync, numpy as np
    >>> s = {}
    >>> zarrsync.save(s, np.arange(3))
    >>> zarrsync.load(s)
    array([0, 1, 2])
    """
    node_path = normalize_path(path)
    st = store_from(store, mode="r")
    md = read_metadata(st, node_path, zarr_format)
    if md is None:
        raise NodeNotFoundError(f"no array or group at {node_path or '/'!r} in {st!r}")
    if is_array_metadata(md):
        return Array.existing(st, node_path, md)[...]
    return GroupLoader(cast(Group, open_node(st, node_path)))  # md is not an array's: a group's


class GroupLoader(Mapping):
    """What :func:`load` returns for a group: array member name -> its data, read on each lookup."""

    def __init__(self, group: Group):
        self._group = group
        self._names = tuple(group.array_keys())

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._names:
            raise NodeNotFoundError(f"{name!r} is not an array in group {self._group.name!r}")
        return cast(Array, self._group[name])[...]  # self._names holds array members only

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"<zarrsync.GroupLoader {self._group!r} arrays={list(self._names)}>"


# --- hierarchies ------------------------------------------------------------------------------------

def tree(grp: Group, expand: bool | None = None, level: int | None = None) -> str:
    """``grp.tree(max_depth=level)`` (zarr-python deprecates this function in favour of the
    method). ``expand`` only shapes zarr-python's HTML display; zarrsync's tree is text."""
    return grp.tree(max_depth=level)


def create_hierarchy(*, store: Any, nodes: dict, overwrite: bool = False) -> Iterator[tuple[str, Any]]:
    """Create a node for each ``{path: metadata}`` (zarrsync metadata objects; ``""`` is the
    root), parents first, with implicit groups for missing ancestors; every node is created
    before this returns (zarr-python's is a lazy generator). Returns an iterator of
    ``(path, node)`` in creation order.

    >>> import zarrsync
    >>> from zarrsync.metadata import GroupMetadata
    >>> [p for p, _ in zarrsync.create_hierarchy(store={}, nodes={"a/b": GroupMetadata()})]
    ['a/b']
    """
    return iter(create_nodes(store_from(store), "", nodes, overwrite))


def print_debug_info() -> None:
    """Print the versions of Python, the platform, zarrsync and its dependencies and extras (for
    bug reports); an extra that is not installed shows as ``-``."""
    import importlib.metadata
    import platform
    import sys

    print(f"platform: {platform.platform()}")
    print(f"python: {sys.version.split()[0]}{' (free-threaded)' if 'free-threading' in sys.version else ''}")
    for name in ("zarrsync", "numpy", "zstandard", "lz4", "crc32c", "numcodecs", "obstore", "fsspec", "msgpack",
                 "dask", "distributed", "xarray", "click", "tqdm"):
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        print(f"{name}: {version}")


copy_async = async_twin(copy)
copy_all_async = async_twin(copy_all)
copy_store_async = async_twin(copy_store)
create_async = async_twin(create)
create_hierarchy_async = async_twin(create_hierarchy)
from_array_async = async_twin(from_array)
load_async = async_twin(load)
open_like_async = async_twin(open_like)
save_async = async_twin(save)
save_array_async = async_twin(save_array)
save_group_async = async_twin(save_group)
tree_async = async_twin(tree)
print_debug_info_async = async_twin(print_debug_info)

# spelled out, not computed: type checkers read __all__ to know what ``zarrsync`` exports
__all__ += [
    "copy_async", "copy_all_async", "copy_store_async", "create_async", "create_hierarchy_async",
    "from_array_async", "load_async", "open_like_async", "save_async", "save_array_async",
    "save_group_async", "tree_async", "print_debug_info_async",
]
