"""The functions most users start from: create, open, and convenience constructors.

Every function has an awaitable twin named ``<name>_async``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .array import Array, async_twin
from .creation import DEFAULT_FILL, build_array_metadata
from .consolidated import consolidate, read_consolidated
from .errors import (ArrayNotFoundError, ContainsArrayError, ContainsGroupError, GroupNotFoundError, MetadataError,
                     NodeNotFoundError)
from .convenience import __all__ as _convenience_all
from .convenience import create_mode
from .convenience import *  # noqa: F401,F403 - copy, save, load, from_array ... and their twins
from .group import Group, like_arguments
from .node import is_array_metadata, normalize_path, read_metadata
from .storage import store_from

__all__ = [
    "create_array", "open_array", "open", "open_group", "create_group", "group", "array",
    "consolidate_metadata", "open_consolidated",
    "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "empty_like",
]

_MODES = ("r", "r+", "a", "w", "w-")


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")


def create_array(
    store: Any = None,
    *,
    name: str | None = None,
    path: str | None = None,
    shape: Any,
    dtype: Any = "float64",
    chunks: Any = "auto",
    fill_value: Any = DEFAULT_FILL,
    compressors: Any = "auto",
    filters: Any = None,
    serializer: Any = "auto",
    attributes: dict | None = None,
    dimension_names: Any = None,
    chunk_key_encoding: Any = None,
    shards: Any = None,
    zarr_format: int = 3,
    order: str | None = None,
    dimension_separator: str | None = None,
    object_codec: Any = None,
    overwrite: bool = False,
    config: dict | None = None,
    storage_options: dict | None = None,
) -> Array:
    """Create a Zarr v3 array and return it.

    Parameters
    ----------
    store
        A :class:`~zarrsync.storage.Store`, a directory path (``"x.zip"`` -> zip archive), a URL
        (``"s3://bucket/x.zarr"``, ``"https://..."``, ``"memory://x"``: see
        :func:`zarrsync.storage.store_from`), a dict, or None (a new in-memory store).
    name, path
        Where in the store (``path`` is an alias of ``name``); default the root.
    shape, dtype, chunks
        The array's shape, data type (numpy spelling or v3 name) and chunk shape (``"auto"``
        picks about 1 MiB chunks).
    fill_value
        The value of elements never written (default: zero of the type). ``None`` is that zero
        too, except that a v2 array stores it as ``null`` (as zarr-python does).
    compressors, filters, serializer
        Bytes -> bytes codecs (default ``zstd`` level 0; ``None`` for none), array -> array codecs,
        and the array -> bytes codec (default ``bytes``). Codec objects or v3 JSON.
    zarr_format
        3 (default) or 2. For v2, ``compressors`` is at most one compressor (``zstd`` or ``gzip``
        so far; default ``zstd`` level 0), and ``order`` (``"C"``/``"F"``) and
        ``dimension_separator`` (``"."``/``"/"``) are stored in ``.zarray``.
    object_codec
        Zarr v2 object arrays (``dtype=object``): the codec that serialises the objects
        (``{"id": "json2"}``, ``zarrsync.codecs.objects.JSON()``, ``numcodecs.MsgPack()`` ...),
        stored as the first filter, as zarr-python 2 did. ``dtype=str`` and ``dtype=bytes`` get
        ``vlen-utf8`` / ``vlen-bytes`` by default. In v3 use ``dtype=zarrsync.dtypes.JSON()``.
    shards
        Shard shape: store ``shards``-shaped blocks of ``chunks``-shaped inner chunks in one
        object each (``sharding_indexed``); must be a multiple of ``chunks``.
    attributes, dimension_names, chunk_key_encoding
        As in the v3 spec (``chunk_key_encoding={"name": "v2", "separator": "."}`` ...).
    overwrite
        Replace whatever is at the path; otherwise an existing node raises.
    config
        Settings of this array object (``{"write_empty_chunks": True}``), applied over
        :mod:`zarrsync.config` for every call on it; see :attr:`Array.config`.
    storage_options
        For a URL: options of its backend (obstore's or fsspec's: credentials, region, ...).

    Examples
    --------
    >>> import zarrsync
    >>> a = zarrsync.create_array(None, shape=(100, 100), dtype="uint16", chunks=(10, 10))
    >>> a.shape, a.chunks, a.dtype
    ((100, 100), (10, 10), dtype('uint16'))
    """
    node_path = normalize_path(name if name is not None else path)
    st = store_from(store, mode=create_mode(overwrite, node_path), storage_options=storage_options)
    md = build_array_metadata(
        shape=shape, dtype=dtype, chunks=chunks, fill_value=fill_value, compressors=compressors,
        filters=filters, serializer=serializer, attributes=attributes, dimension_names=dimension_names,
        chunk_key_encoding=chunk_key_encoding, shards=shards, zarr_format=zarr_format, order=order,
        dimension_separator=dimension_separator, object_codec=object_codec,
    )
    return Array.create(st, node_path, md, overwrite=overwrite, config=config)


def open_array(store: Any = None, *, path: str | None = None, mode: str = "a", zarr_format: int | None = None,
               config: dict | None = None, storage_options: dict | None = None) -> Array:
    """Open an existing array; :class:`~zarrsync.errors.ArrayNotFoundError` if there is none.

    >>> import zarrsync
    >>> s = {}
    >>> _ = zarrsync.create_array(s, shape=(3,), dtype="i2")
    >>> zarrsync.open_array(s, mode="r").read_only
    True
    """
    _check_mode(mode)
    st = store_from(store, mode="r" if mode == "r" else "a", storage_options=storage_options)
    node_path = normalize_path(path)
    md = _read_format(st, node_path, zarr_format)
    if not is_array_metadata(md):
        where = node_path or "/"
        raise ArrayNotFoundError(f"no array at {where!r} in {st!r}" + (" (it is a group)" if md else ""))
    _check_format(md, zarr_format)
    return Array.existing(st, node_path, md, config)


def _read_format(st: Any, node_path: str, zarr_format: int | None) -> Any:
    """The node's metadata in ``zarr_format`` (v3 first when None, as zarr-python); a node of the
    other format only is returned as it is, for :func:`_check_format` to refuse."""
    md = read_metadata(st, node_path, zarr_format)
    if md is None and zarr_format is not None:
        md = read_metadata(st, node_path)
    return md


def _check_format(md: Any, zarr_format: int | None) -> None:
    if zarr_format is not None and md.zarr_format != zarr_format:
        raise NodeNotFoundError(f"the node is Zarr format {md.zarr_format}, not {zarr_format}")


def create_group(store: Any = None, *, path: str | None = None, overwrite: bool = False,
                 attributes: dict | None = None, zarr_format: int = 3, storage_options: dict | None = None) -> Group:
    """Create a group (and any missing ancestor groups) and return it.

    >>> import zarrsync
    >>> zarrsync.create_group(None, attributes={"a": 1}).attrs["a"]
    1
    """
    node_path = normalize_path(path)
    st = store_from(store, mode=create_mode(overwrite, node_path), storage_options=storage_options)
    return Group.create(st, node_path, overwrite=overwrite, attributes=attributes, zarr_format=zarr_format)


def open_group(store: Any = None, *, path: str | None = None, mode: str = "a",
               attributes: dict | None = None, zarr_format: int | None = None,
               use_consolidated: bool | None = None, storage_options: dict | None = None) -> Group:
    """Open a group. With mode ``"a"`` (default) or ``"w"``/``"w-"``, create it if missing.

    ``"r"`` and ``"r+"`` require it to exist (:class:`~zarrsync.errors.GroupNotFoundError`).
    ``use_consolidated``: None (default) lists members from consolidated metadata when the group
    has it, True requires it, False never uses it (see :func:`consolidate_metadata`).
    """
    _check_mode(mode)
    st = store_from(store, mode="r" if mode == "r" else "a", storage_options=storage_options)
    node_path = normalize_path(path)
    new_format = 3 if zarr_format is None else zarr_format
    if mode == "w":
        return Group.create(st, node_path, overwrite=True, attributes=attributes, zarr_format=new_format)
    md = _read_format(st, node_path, zarr_format)
    if md is None:
        if mode in ("r", "r+"):
            raise GroupNotFoundError(f"no group at {node_path or '/'!r} in {st!r}")
        return Group.create(st, node_path, attributes=attributes, zarr_format=new_format)
    if mode == "w-":
        raise ContainsGroupError(f"a node already exists at {node_path or '/'!r}")
    if is_array_metadata(md):
        raise ContainsArrayError(f"{node_path or '/'!r} is an array, not a group")
    _check_format(md, zarr_format)
    nodes = None if use_consolidated is False else read_consolidated(st, node_path, md)
    if nodes is None and use_consolidated:
        raise MetadataError(f"the group at {node_path or '/'!r} has no consolidated metadata")
    return Group(st, node_path, md, consolidated=nodes)


def consolidate_metadata(store: Any, *, path: str | None = None, storage_options: dict | None = None) -> Group:
    """Store the metadata of every node below the group at ``path`` in one document (v3: in the
    group's ``zarr.json``; v2: ``.zmetadata``) and return the group, opened with it.

    Readers of remote stores then list a hierarchy with one read. It is a snapshot: run it again
    after changing the hierarchy.

    >>> import zarrsync
    >>> g = zarrsync.create_group(None)
    >>> _ = g.create_array("a/b", shape=(2,), dtype="i1")
    >>> [n for n, _ in zarrsync.consolidate_metadata(g.store).members(max_depth=None)]
    ['a', 'a/b']
    """
    st = store_from(store, storage_options=storage_options)
    node_path = normalize_path(path)
    consolidate(st, node_path)
    return open_group(st, path=node_path, mode="r+", use_consolidated=True)


def open_consolidated(store: Any, *, path: str | None = None, mode: str = "r",
                      storage_options: dict | None = None) -> Group:
    """Open a group that must have consolidated metadata (``open_group(use_consolidated=True)``)."""
    return open_group(store, path=path, mode=mode, use_consolidated=True, storage_options=storage_options)


def group(store: Any = None, *, path: str | None = None, overwrite: bool = False,
          attributes: dict | None = None, zarr_format: int | None = None, storage_options: dict | None = None) -> Group:
    """Open the group at ``path``, creating it if missing (``overwrite`` replaces it)."""
    return open_group(store, path=path, mode="w" if overwrite else "a", attributes=attributes, zarr_format=zarr_format,
                      storage_options=storage_options)


def open(store: Any = None, *, path: str | None = None, mode: str = "a",  # noqa: A001
         storage_options: dict | None = None, **kwargs) -> Array | Group:
    """Open the array or group at ``path``.

    If nothing is there: with mode ``"r"``/``"r+"`` raise; otherwise create an array when
    ``shape`` is given, else a group. Mode ``"w"`` always creates anew.
    """
    _check_mode(mode)
    st = store_from(store, mode="r" if mode == "r" else "a", storage_options=storage_options)
    node_path = normalize_path(path)
    zarr_format = kwargs.get("zarr_format")
    md = None if mode in ("w", "w-") else _read_format(st, node_path, zarr_format)
    if md is None:
        if mode in ("r", "r+"):
            raise NodeNotFoundError(f"no array or group at {node_path or '/'!r} in {st!r}")
        overwrite = mode == "w"
        if "shape" in kwargs:
            return create_array(st, name=node_path, overwrite=overwrite, **kwargs)
        unknown = sorted(set(kwargs) - {"attributes", "zarr_format"})
        if unknown:  # a group has no such settings: refuse rather than drop them
            raise TypeError(f"open() creates a group here (no shape given); unexpected argument(s) {unknown}")
        return create_group(st, path=node_path, overwrite=overwrite, attributes=kwargs.get("attributes"),
                            zarr_format=3 if zarr_format is None else zarr_format)
    _check_format(md, zarr_format)
    if is_array_metadata(md):
        return Array.existing(st, node_path, md, kwargs.get("config"))
    return Group(st, node_path, md)


# --- convenience constructors ------------------------------------------------------------------------

def full(shape: Any, fill_value: Any, *, store: Any = None, **kwargs) -> Array:
    """A new array whose every element is ``fill_value`` (nothing is written but metadata).

    >>> import zarrsync
    >>> zarrsync.full((2, 2), 7, dtype="i1")[...]
    array([[7, 7],
           [7, 7]], dtype=int8)
    """
    if "dtype" not in kwargs:
        kwargs["dtype"] = np.asarray(fill_value).dtype
    return create_array(store, shape=shape, fill_value=fill_value, **kwargs)


def zeros(shape: Any, *, store: Any = None, **kwargs) -> Array:
    """A new array of zeros."""
    return full(shape, 0, store=store, **{"dtype": "float64", **kwargs})


def ones(shape: Any, *, store: Any = None, **kwargs) -> Array:
    """A new array of ones."""
    return full(shape, 1, store=store, **{"dtype": "float64", **kwargs})


def empty(shape: Any, *, store: Any = None, **kwargs) -> Array:
    """A new array whose unwritten elements read as the data type's zero."""
    return create_array(store, shape=shape, **kwargs)


def array(data: Any, *, store: Any = None, **kwargs) -> Array:
    """A new array holding a copy of ``data`` (a numpy array or anything array-like).

    >>> import zarrsync, numpy as np
    >>> zarrsync.array(np.arange(6).reshape(2, 3), chunks=(1, 2))[1]
    array([3, 4, 5])
    """
    data = np.asarray(data)
    kwargs.setdefault("dtype", data.dtype)
    a = create_array(store, shape=data.shape, **kwargs)
    a[...] = data
    return a


def zeros_like(a: Any, *, store: Any = None, **kwargs) -> Array:
    """Zeros with the shape, dtype (and chunks, for an Array) of ``a``."""
    kw = like_arguments(a, kwargs)
    kw.pop("fill_value", None)
    return zeros(kw.pop("shape"), store=store, **kw)


def ones_like(a: Any, *, store: Any = None, **kwargs) -> Array:
    """Ones with the shape, dtype (and chunks, for an Array) of ``a``."""
    kw = like_arguments(a, kwargs)
    kw.pop("fill_value", None)
    return ones(kw.pop("shape"), store=store, **kw)


def full_like(a: Any, fill_value: Any, *, store: Any = None, **kwargs) -> Array:
    """``fill_value`` everywhere, with the shape, dtype (and chunks) of ``a``."""
    kw = like_arguments(a, kwargs)
    kw.pop("fill_value", None)
    return full(kw.pop("shape"), fill_value, store=store, **kw)


def empty_like(a: Any, *, store: Any = None, **kwargs) -> Array:
    """An empty array with the shape, dtype, chunks and fill value of ``a``."""
    kw = like_arguments(a, kwargs)
    return empty(kw.pop("shape"), store=store, **kw)


# --- awaitable twins ---------------------------------------------------------------------------------
create_array_async = async_twin(create_array)
open_array_async = async_twin(open_array)
open_async = async_twin(open)
open_group_async = async_twin(open_group)
create_group_async = async_twin(create_group)
group_async = async_twin(group)
array_async = async_twin(array)
zeros_async = async_twin(zeros)
ones_async = async_twin(ones)
full_async = async_twin(full)
empty_async = async_twin(empty)
zeros_like_async = async_twin(zeros_like)
ones_like_async = async_twin(ones_like)
full_like_async = async_twin(full_like)
empty_like_async = async_twin(empty_like)
consolidate_metadata_async = async_twin(consolidate_metadata)
open_consolidated_async = async_twin(open_consolidated)

# spelled out, not computed: type checkers read __all__ to know what ``zarrsync`` exports
__all__ += [
    "create_array_async", "open_array_async", "open_async", "open_group_async", "create_group_async", "group_async",
    "array_async", "consolidate_metadata_async", "open_consolidated_async",
    "zeros_async", "ones_async", "full_async", "empty_async",
    "zeros_like_async", "ones_like_async", "full_like_async", "empty_like_async",
]
__all__ += _convenience_all  # with their own twins
