"""Array: the one array class. Selections, resize, append, attributes, info, and ``*_async`` twins.

Reading ``a[sel]`` (``SPEC_CHECKLIST``/DESIGN "read path"): the indexer turns ``sel`` into work
items, the output is allocated once (or the caller's ``out=`` is used), and
:func:`zarrsync.pipeline.read_chunks` runs one fused task per chunk (inline for one chunk).
Writing is the mirror image through :func:`zarrsync.pipeline.write_chunks`.

Each ``*_async`` method is ``await asyncio.to_thread(sync_method, ...)``: one thread hop per call,
never per chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import math
import os
from typing import Any, Callable, Coroutine, Literal, ParamSpec, TypeVar, cast

import numpy as np

from . import config as _config
from .codecs import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec, ShardingCodec
from .errors import ArrayNotFoundError, IndexingError, SelectionTooLargeError, ValueOverflowError, ValueShapeError
from .indexing import (BasicIndexer, BlockIndexer, CoordinateIndexer, OrthogonalIndexer, field_dtype, mask_indexer,
                       mixed_indexer, only_slices, pop_fields, select_fields, selection_kind)
from .metadata import ArrayMetadata
from .metadata.v2 import ArrayMetadataV2
from .node import (ArrayInfo, Node, human_size, meta_keys, metadata_from_plain, normalize_path,
                   prepare_create, read_metadata, write_metadata)
from .pipeline import ChunkTarget, CodecPipeline, read_chunks, write_chunks
from .storage import store_from
from .storage.base import Store

__all__ = ["Array", "ArrayInfo", "async_twin", "OrthogonalIndex", "VectorizedIndex", "BlockIndex"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def async_twin(sync: Callable[_P, _R]) -> Callable[_P, Coroutine[Any, Any, _R]]:
    """Make ``<name>_async``: an awaitable that runs ``sync`` in a worker thread, one hop.

    The twin has ``sync``'s signature, for type checkers and ``inspect.signature`` (``__wrapped__``).
    """

    @functools.wraps(sync)
    async def twin(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return await asyncio.to_thread(sync, *args, **kwargs)

    base = sync.__name__.strip("_")
    twin.__name__ = f"{base}_async"
    twin.__qualname__ = sync.__qualname__.rsplit(".", 1)[0] + f".{base}_async" if "." in sync.__qualname__ else twin.__name__
    twin.__doc__ = f"Awaitable twin of ``{sync.__name__}``: runs it in a worker thread (``asyncio.to_thread``)."
    return twin


class Array(Node):
    """A Zarr array in a store. Create one with :func:`zarrsync.create_array` or open one with
    :func:`zarrsync.open_array`.

    Safe to share between threads: reads and writes of different chunks run in parallel, partial
    writes to one chunk are serialised per chunk key, and metadata changes (attributes, resize)
    are serialised per stored node. Every ``Array`` object over one node in a process shares its
    metadata (a resize or attribute update through one is seen by all) and its write lock (a
    resize waits for writes in progress and holds new ones off).

    >>> import zarrsync, numpy as np
    >>> a = zarrsync.create_array(None, shape=(4, 4), dtype="i4", chunks=(2, 2), fill_value=0)
    >>> a[1:3, 1:3] = 7
    >>> a[1, :]
    array([0, 7, 7, 0], dtype=int32)
    """

    def __init__(self, store: Store, path: str, metadata: ArrayMetadata | ArrayMetadataV2, config: dict | None = None):
        self._config = dict(config or {})
        _config.with_overrides(self._config)  # unknown or bad settings fail now, not at first use
        self._binding = _bind(store, path, metadata)  # validates the codecs before the node is shared
        super().__init__(store, path, metadata)

    def _pickled_options(self) -> dict:
        return {"config": self._config} if self._config else {}

    def _bound(self) -> tuple:
        """``(metadata, pipeline, target)`` for the node's current metadata. A resize or attribute
        update keeps the codec chain; a node re-created with another layout gets a new one."""
        binding = self._binding
        md = self._state.metadata
        if binding[0] is not md:
            binding = (md, *binding[1:]) if _same_layout(binding[0], md) else _bind(self._store, self._path, md)
            self._binding = binding  # one reference swap: readers see the old or the new tuple
        return binding

    @property
    def _pipeline(self) -> CodecPipeline:
        return self._bound()[1]

    @property
    def _target(self) -> ChunkTarget:
        return self._bound()[2]

    @classmethod
    def create(cls, store: Store, path: str, metadata: ArrayMetadata | ArrayMetadataV2, *, overwrite: bool = False,
               config: dict | None = None) -> "Array":
        """Write a new array's metadata (and any missing ancestor groups) and return the array."""
        array = cls(store, path, metadata, config)  # validates codecs and settings before any write
        state = array._state
        with state.edit_lock, state.exclusive():  # no write of another object lands mid-overwrite
            prepare_create(store, path, overwrite, metadata.zarr_format)
            write_metadata(store, path, metadata)
            state.metadata = metadata
        return array

    # --- properties (no I/O) ----------------------------------------------------------------------
    @property
    def metadata(self) -> ArrayMetadata | ArrayMetadataV2:
        return self._metadata

    @property
    def shape(self) -> tuple[int, ...]:
        return self._metadata.shape

    @property
    def dtype(self) -> np.dtype:
        return self._metadata.dtype

    @property
    def chunks(self) -> tuple[int, ...]:
        """The chunk shape: for a sharded array the inner chunk shape (zarr-python's convention)."""
        inner = self._pipeline.array_bytes.inner_chunk_shape
        return inner if inner is not None and self._target.partial else self._metadata.chunk_shape

    @property
    def shards(self) -> tuple[int, ...] | None:
        """The shard shape (the stored objects' shape) of a sharded array, else None."""
        return self._metadata.chunk_shape if self._target.partial else None

    @property
    def ndim(self) -> int:
        return len(self._metadata.shape)

    @property
    def size(self) -> int:
        return math.prod(self._metadata.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the whole array takes in memory (not on disk; see :meth:`nbytes_stored`)."""
        return self.size * self.dtype.itemsize

    @property
    def fill_value(self) -> Any:
        return self._metadata.fill_value

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        """Chunks per dimension."""
        return self._metadata.grid_shape

    @property
    def nchunks(self) -> int:
        return math.prod(self._metadata.grid_shape)

    @property
    def dimension_names(self) -> tuple[str | None, ...] | None:
        return self._metadata.dimension_names

    @property
    def codecs(self) -> tuple:
        return self._pipeline.codecs

    @property
    def filters(self) -> tuple:
        """The array -> array codecs (of the inner chunks, in a sharded array: what
        ``create_array(filters=...)`` took; :attr:`codecs` has the stored chain)."""
        return tuple(c for c in self._chunk_codecs() if isinstance(c, ArrayArrayCodec))

    @property
    def serializer(self):
        """The array -> bytes codec (of the inner chunks, in a sharded array)."""
        return next(c for c in self._chunk_codecs() if isinstance(c, ArrayBytesCodec))

    @property
    def compressors(self) -> tuple:
        """The bytes -> bytes codecs (of the inner chunks, in a sharded array)."""
        return tuple(c for c in self._chunk_codecs() if isinstance(c, BytesBytesCodec))

    def _chunk_codecs(self) -> tuple:
        codecs = self._metadata.codecs
        return codecs[0].codecs if len(codecs) == 1 and isinstance(codecs[0], ShardingCodec) else codecs

    @property
    def config(self) -> dict:
        """This array's own settings (from ``create_array(config=...)``/``open_array``), applied
        over :mod:`zarrsync.config` for every call on it."""
        return dict(self._config)

    @property
    def order(self) -> str:
        """The memory order of chunks: a v2 array's ``order``, else the ``order`` setting."""
        md = self._metadata
        return md.order if isinstance(md, ArrayMetadataV2) else _config.with_overrides(self._config).order

    def with_config(self, config: dict) -> "Array":
        """This array with ``config`` applied over its own settings (no I/O)."""
        return Array(self._store, self._path, self._metadata, {**self._config, **config})

    @classmethod
    def open(cls, store: Any, *, path: str = "", zarr_format: int | None = None,
             config: dict | None = None) -> "Array":
        """The array at ``path`` of ``store`` (a Store, path or URL); ArrayNotFoundError if none."""
        st = store_from(store)
        md = read_metadata(st, normalize_path(path), zarr_format)
        if not isinstance(md, (ArrayMetadata, ArrayMetadataV2)):
            raise ArrayNotFoundError(f"no array at {path or '/'!r} in {st!r}")
        return cls.existing(st, normalize_path(path), md, config)

    @classmethod
    def existing(cls, store: Store, path: str, metadata: Any, config: dict | None = None) -> "Array":
        """An array object over metadata read from ``store``: an array that exists, there to be
        read. Its codecs load their optional accelerators now (an import), so that its first read
        does not pay for them; a new array's load when first used (a write may need none)."""
        for codec in metadata.codecs:
            codec.load_accelerator()
        return cls(store, path, metadata, config)

    @classmethod
    def from_dict(cls, store: Any, data: dict, *, path: str = "") -> "Array":
        """An array object over ``store`` with the metadata document ``data`` (a ``zarr.json``, or
        a ``.zarray`` with ``attributes``); nothing is written."""
        plain = (data.get("zarr_format"), data, data.get("attributes"))
        return cls(store_from(store), normalize_path(path), metadata_from_plain(plain))

    @property
    def read_chunk_sizes(self) -> tuple[tuple[int, ...], ...]:
        """Per axis, the sizes of the chunks reads decode (inner chunks of a sharded array),
        clipped to the shape."""
        return _grid_sizes(self.shape, self.chunks)

    @property
    def write_chunk_sizes(self) -> tuple[tuple[int, ...], ...]:
        """Per axis, the sizes of the stored objects (shards, else chunks), clipped to the shape."""
        return _grid_sizes(self.shape, self.shards or self.chunks)

    @property
    def info(self) -> ArrayInfo:
        """A summary of the array; no I/O (see :meth:`info_complete`)."""
        md = self._metadata
        data_type = md.data_type.to_json() if md.zarr_format == 3 else md.to_json()["dtype"]  # v2: the typestr
        return ArrayInfo(
            type="Array", zarr_format=md.zarr_format, data_type=str(data_type), shape=md.shape,
            chunk_shape=md.chunk_shape, fill_value=md.fill_value, codecs=tuple(c.to_json() for c in md.codecs),
            store=repr(self._store), read_only=self.read_only, nbytes=self.nbytes,
        )

    def __repr__(self) -> str:
        return f"<zarrsync.Array {self._store!r} path={self._path!r} shape={self.shape} dtype={self.dtype}>"

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    # --- reading ------------------------------------------------------------------------------------
    def get_basic_selection(self, selection: Any = Ellipsis, *, out: np.ndarray | None = None,
                            fields: str | list[str] | None = None) -> Any:
        """Read a basic selection (ints, slices with any step, ``...``, ``None``).

        Parameters
        ----------
        selection
            As for numpy basic indexing.
        out : numpy.ndarray, optional
            Where to put the result: a writable array of exactly the result's shape and dtype.
            Chunks decode straight into it (no intermediate copy).
        fields : str or list of str, optional
            For structured data types: the field (or fields) to return, as ``x[fields]`` in numpy.

        Returns
        -------
        numpy.ndarray or scalar
            A scalar when every dimension is indexed by an integer, as in numpy.

        Examples
        --------
        >>> import zarrsync, numpy as np
        >>> a = zarrsync.array(np.arange(10), chunks=(3,))
        >>> a.get_basic_selection(slice(None, None, -4))
        array([9, 5, 1])
        """
        return self._get(BasicIndexer, selection, out, fields)

    def get_orthogonal_selection(self, selection: Any, *, out: np.ndarray | None = None,
                                 fields: str | list[str] | None = None) -> Any:
        """Read an orthogonal selection: each axis indexed on its own, as ``x[np.ix_(...)]``.

        Per axis: an int, a slice (any step), an int array or list (any order, repeats,
        negatives) or a bool array of the axis's length; ``...`` and ``None`` as in numpy. Each
        chunk is read once however many selected elements fall in it. ``out`` and ``fields`` as
        for :meth:`get_basic_selection`.

        >>> import zarrsync, numpy as np
        >>> a = zarrsync.array(np.arange(12).reshape(3, 4), chunks=(2, 2))
        >>> a.get_orthogonal_selection(([2, 0], [True, False, False, True]))
        array([[ 8, 11],
               [ 0,  3]])
        """
        return self._get(OrthogonalIndexer, selection, out, fields)

    def get_coordinate_selection(self, selection: Any, *, out: np.ndarray | None = None,
                                 fields: str | list[str] | None = None) -> Any:
        """Read points: one int array (or int) per axis, broadcast together; the result has the
        broadcast shape. Points are grouped by chunk: each chunk is read once. ``out`` and
        ``fields`` as for :meth:`get_basic_selection`.

        >>> import zarrsync, numpy as np
        >>> a = zarrsync.array(np.arange(12).reshape(3, 4), chunks=(2, 2))
        >>> a.get_coordinate_selection(([2, 0, 2], [3, 1, 3]))
        array([11,  1, 11])
        """
        return self._get(CoordinateIndexer, selection, out, fields)

    def get_mask_selection(self, mask: Any, *, out: np.ndarray | None = None,
                           fields: str | list[str] | None = None) -> Any:
        """Read the elements where the bool ``mask`` (the array's shape) is True, in C order, as
        ``x[mask]``. ``out`` and ``fields`` as for :meth:`get_basic_selection`."""
        return self._get(mask_indexer, mask, out, fields)

    def get_block_selection(self, selection: Any, *, out: np.ndarray | None = None,
                            fields: str | list[str] | None = None) -> Any:
        """Read whole chunks (blocks) by their grid position: per axis an int or a step-1 slice
        counting chunks (shards, for a sharded array: the stored objects). Every axis is kept.

        >>> import zarrsync, numpy as np
        >>> a = zarrsync.array(np.arange(10), chunks=(4,))
        >>> a.get_block_selection(-1)
        array([8, 9])
        """
        return self._get(BlockIndexer, selection, out, fields)

    def _get(self, kind: Callable, selection: Any, out: np.ndarray | None, fields) -> Any:
        """Read ``selection`` resolved by indexer ``kind`` against one view of the metadata."""
        md, _, target = self._bound()
        ix = kind(selection, md.shape, md.chunk_shape)
        cfg = _config.with_overrides(self._config)
        dtype = md.dtype
        work = result = None
        if out is not None and fields is None:
            result = self._check_out(out, ix.shape, dtype)
            work = _work_view(ix, result)  # None if the out array cannot be viewed in the work shape
        if work is None:
            work = _allocate_work(ix.work_shape, dtype, cfg.order, self)
        if ix.nchunks:
            with self._own_settings():
                read_chunks(target, ix, work, cfg)
        records = ix.to_result(work)
        if result is not None:
            if not np.shares_memory(result, work):
                result[...] = records
            return result
        if fields is not None:
            selected = select_fields(records, fields)
            if out is None:
                return selected[()] if ix.is_scalar else selected
            self._check_out(out, selected.shape, selected.dtype)[...] = selected
            return out
        if out is None and ix.is_scalar:
            return records[()]
        return records

    def _own_settings(self):
        """This array's settings in force around chunk work: codecs read some (``allow_pickle``)
        from :func:`zarrsync.config.get`, and pool tasks run in the caller's context."""
        return _config.context(**self._config) if self._config else _NO_SETTINGS

    def _check_out(self, out: Any, shape: tuple, dtype: np.dtype) -> np.ndarray:
        if not isinstance(out, np.ndarray):
            raise IndexingError(f"out= must be a numpy.ndarray, got {type(out).__name__}")
        if out.shape != shape:
            raise IndexingError(f"out= has shape {out.shape}, the selection has shape {shape}")
        if out.dtype != dtype:
            raise IndexingError(f"out= has dtype {out.dtype}, the selection has dtype {dtype}")
        if not out.flags.writeable:
            raise IndexingError("out= is read-only")
        return out

    def __getitem__(self, selection: Any) -> Any:
        """``a[sel]`` as numpy reads it: basic selections; one int or bool array among ints and
        slices (orthogonal); int arrays on every axis (coordinate); a bool mask of the array's
        shape. Field names (a string, or a list of strings) select fields of a structured
        array. Other mixes raise :class:`~zarrsync.errors.IndexingError` naming ``a.oindex`` and
        ``a.vindex``."""
        if type(selection) is tuple and only_slices(selection):  # the common case, told apart cheaply
            return self._get(BasicIndexer, selection, None, None)
        fields, selection = pop_fields(selection)
        return self._get(_numpy_indexer, selection, None, fields)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        a = self.get_basic_selection(Ellipsis)
        return a if dtype is None else a.astype(dtype, copy=False)

    def __iter__(self):
        """Iterate over the first axis, reading each chunk once (a row of chunks at a time)."""
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        step = self._metadata.chunk_shape[0]  # a row of stored objects (shards, when sharded)
        for start in range(0, self.shape[0], step):
            yield from self.get_basic_selection(slice(start, start + step))

    @property
    def oindex(self) -> "OrthogonalIndex":
        """Orthogonal selection with ``[]``: ``a.oindex[[0, 2], ::-1]``; ``a.oindex.get_async(...)``."""
        return OrthogonalIndex(self)

    @property
    def vindex(self) -> "VectorizedIndex":
        """Coordinate (point) or mask selection with ``[]``: ``a.vindex[[0, 2], [1, 1]]``, ``a.vindex[mask]``."""
        return VectorizedIndex(self)

    @property
    def blocks(self) -> "BlockIndex":
        """Block (chunk-grid) selection with ``[]``: ``a.blocks[1, -1]``."""
        return BlockIndex(self)

    # --- writing ------------------------------------------------------------------------------------
    def set_basic_selection(self, selection: Any, value: Any, *, fields: str | list[str] | None = None) -> None:
        """Write ``value`` (broadcast as in numpy) to a basic selection.

        Chunks the selection covers whole are encoded without reading them; partially covered
        chunks are read, merged and rewritten under a per-chunk lock. A chunk left equal to the
        fill value everywhere is deleted unless ``write_empty_chunks`` is set. With ``fields``
        (structured arrays), only those fields change.

        Examples
        --------
        >>> import zarrsync
        >>> a = zarrsync.zeros((6,), chunks=(4,), dtype="u1")
        >>> a[::2] = 5
        >>> a[...]
        array([5, 0, 5, 0, 5, 0], dtype=uint8)
        """
        self._set(BasicIndexer, selection, value, fields)

    def set_orthogonal_selection(self, selection: Any, value: Any, *, fields: str | list[str] | None = None) -> None:
        """Write ``value`` (broadcast as in numpy) to an orthogonal selection (see
        :meth:`get_orthogonal_selection`). Repeated indices: the last value wins, as in numpy."""
        self._set(OrthogonalIndexer, selection, value, fields)

    def set_coordinate_selection(self, selection: Any, value: Any, *, fields: str | list[str] | None = None) -> None:
        """Write ``value`` (broadcast to the points' shape) at points (see
        :meth:`get_coordinate_selection`). A repeated point gets the last of its values."""
        self._set(CoordinateIndexer, selection, value, fields)

    def set_mask_selection(self, mask: Any, value: Any, *, fields: str | list[str] | None = None) -> None:
        """Write ``value`` (a scalar, or one value per True element in C order) where ``mask`` is True."""
        self._set(mask_indexer, mask, value, fields)

    def set_block_selection(self, selection: Any, value: Any, *, fields: str | list[str] | None = None) -> None:
        """Write ``value`` (broadcast as in numpy) to whole chunks by grid position (see
        :meth:`get_block_selection`)."""
        self._set(BlockIndexer, selection, value, fields)

    def _set(self, kind: Callable, selection: Any, value: Any, fields) -> None:
        """Write ``value`` to ``selection`` read by indexer ``kind`` against the current shape.

        The node's write lock is held shared for the whole call (one acquire per call, not per
        chunk) and the selection is resolved under it, so a resize through any object over the
        node comes wholly before or wholly after this write: a write never lands outside the
        shape in force, which would bring cut-off data back at the next grow.
        """
        self._check_writable()
        state = self._state
        state.acquire_write()
        try:
            md, _, target = self._bound()
            ix = kind(selection, md.shape, md.chunk_shape)
            value = self._prepare_value(value, ix, md.dtype, fields)
            if ix.nchunks:
                cfg = _config.with_overrides(self._config)
                with self._own_settings():
                    write_chunks(target, ix, value, cfg, fields)
        finally:
            state.release_write()

    def _prepare_value(self, value: Any, ix, dtype: np.dtype, fields=None) -> np.ndarray:
        """The value as an array of the selected dtype, broadcast to the work shape (0-d stays 0-d).

        Casting follows numpy's assignment rules: arrays cast unsafely, as ``x[...] = y`` does,
        but a Python number that does not fit the type raises instead of wrapping.
        """
        dtype, sub = field_dtype(dtype, fields)
        if isinstance(value, np.ndarray):
            arr = value
        elif type(value) in (int, float, complex):
            try:
                arr = np.asarray(value, dtype=dtype)
            except OverflowError:
                raise ValueOverflowError(f"value {value!r} does not fit data type {dtype}") from None
        elif dtype.kind == "O":  # objects: never through numpy's fixed-width S/U (they drop trailing NULs)
            if ix.shape == () or not isinstance(value, (list, tuple)):
                arr = np.empty((), dtype=object)  # one element: a list or dict is one value, not several
                arr[()] = value
            else:
                arr = np.array(value, dtype=object)
        elif dtype.names is not None:
            try:  # a tuple is one record; lists of tuples, np.void records ...
                arr = np.array(value, dtype=dtype)
            except (ValueError, TypeError) as e:
                raise ValueShapeError(f"cannot store {value!r} in an array of dtype {dtype}: {e}") from None
        else:
            arr = np.asarray(value)
        if dtype.kind == "T" and arr.dtype.kind == "O":
            arr = _none_as_empty_text(arr)
        if arr.dtype != dtype:
            try:
                arr = arr.astype(dtype)
            except (ValueError, TypeError) as e:
                raise ValueShapeError(f"cannot store values of dtype {arr.dtype} in an array of dtype {dtype}: {e}") from None
        if arr.ndim == 0 and not sub:
            return arr
        shape = ix.shape + sub
        if arr.shape == shape:  # nothing to broadcast (np.broadcast_to costs microseconds)
            view = arr.reshape(ix.work_shape + sub)
            view.flags.writeable = False  # as broadcast_to's views are: no codec writes into the caller's array
            return view
        while arr.ndim > len(shape) and arr.shape[0] == 1:
            arr = arr[0]  # numpy accepts extra leading length-1 axes
        try:
            arr = np.broadcast_to(arr, shape)
        except ValueError:
            raise ValueShapeError(f"value of shape {np.shape(value)} cannot be broadcast to the selection's "
                                  f"shape {shape}") from None
        return arr.reshape(ix.work_shape + sub)

    def __setitem__(self, selection: Any, value: Any) -> None:
        """``a[sel] = value``, with ``sel`` read as :meth:`__getitem__` reads it."""
        if type(selection) is tuple and only_slices(selection):
            return self._set(BasicIndexer, selection, value, None)
        fields, selection = pop_fields(selection)
        self._set(_numpy_indexer, selection, value, fields)

    # --- metadata changes ----------------------------------------------------------------------------
    def resize(self, new_shape: tuple[int, ...] | int, *, delete_outside_chunks: bool = True) -> None:
        """Change the shape. Growing writes only the metadata; the new region reads as the fill value.

        With ``delete_outside_chunks`` (default), chunks wholly outside the new shape are deleted
        and the part of an edge chunk beyond the new shape is reset to the fill value, so data cut
        off by shrinking never reappears when the array grows again. With ``False`` the chunks
        stay, and growing back shows their old data (zarr-python's meaning of the flag).

        Crash safety, by order rather than by a journal: a shrink first deletes the chunks
        wholly outside the new shape and resets the cut-off part of the edge chunks, while the
        stored metadata still says the old shape, and writes the new metadata last. Each step
        is one atomic store operation, so a writer killed (or a store failing) at any point
        leaves metadata that parses and says the old or the new shape; the cut-off region is
        cleared wherever the new shape is in force, and is old data or fill inside an old shape
        still in force (as if the shrink had not begun, or had partly begun). Nothing beyond the
        shape in force holds data, so no later grow can show old values. A journal ("record
        and reconcile") would need every opener to replay it before trusting the metadata; the
        ordering needs nothing from readers. Rerunning the resize finishes it.

        Within a process the resize excludes every chunk write to the node, through any
        ``Array`` object over it (the node's shared write lock), and every object sees the new
        shape at once.
        """
        shape = (new_shape,) if isinstance(new_shape, int) else tuple(new_shape)
        if len(shape) != self.ndim or not all(isinstance(s, (int, np.integer)) and s >= 0 for s in shape):
            raise ValueShapeError(f"new shape {new_shape!r} must be {self.ndim} non-negative integers")
        shape = tuple(int(s) for s in shape)
        self._check_writable()
        state = self._state
        with state.edit_lock, state.exclusive():
            self._resize_locked(shape, delete_outside_chunks)

    def _resize_locked(self, shape: tuple[int, ...], delete_outside_chunks: bool) -> None:
        """The resize itself; the caller holds the node's edit lock and its write lock exclusive."""
        old = self._state.metadata
        new = dataclasses.replace(old, shape=shape)
        if delete_outside_chunks and any(n < o for n, o in zip(shape, old.shape)):
            self._clear_outside(old, new)  # before the metadata: see resize's docstring
        write_metadata(self._store, self._path, new)
        self._state.metadata = new

    def _clear_outside(self, old: ArrayMetadata, new: ArrayMetadata) -> None:
        """Make everything outside ``new.shape`` fill: delete the stored chunks outside the new
        grid (also strays beyond the old one), then reset to fill, along each shrunk axis, the
        slab from the new shape to the end of the new grid's last chunk (in every chunk of the
        new grid that the slab crosses: the edge chunks). Writes go straight to the chunks: the
        caller holds the node's write lock exclusive."""
        grid, chunk_shape = new.grid_shape, new.chunk_shape
        for coords, key in self._chunk_keys():
            if any(c >= g for c, g in zip(coords, grid)):
                self._store.delete(key)
        extent = tuple(g * c for g, c in zip(grid, chunk_shape))  # the new grid's chunks, whole
        cfg = _config.with_overrides(self._config)
        _, _, target = self._bound()
        for d, (n, o, e) in enumerate(zip(new.shape, old.shape, extent)):
            if n >= o or n >= e:
                continue  # not shrunk on this axis, or the new edge is a chunk boundary
            slab = tuple(slice(n, e) if i == d else slice(0, x) for i, x in enumerate(extent))
            ix = BasicIndexer(slab, extent, chunk_shape)
            value = self._prepare_value(new.chunk_spec().fill_value, ix, new.dtype)
            with self._own_settings():
                write_chunks(target, ix, value, cfg)

    def append(self, data: Any, axis: int = 0) -> tuple[int, ...]:
        """Grow the array along ``axis`` and write ``data`` there; returns the new shape.

        Appends through any objects over the node are serialised (each lands after the last),
        and no resize comes between the grow and the write. The grow comes first (data is never
        written beyond the shape in force); if the write then fails, the array keeps the new
        shape and the new region reads as the fill value where the write did not land.
        """
        data = np.asarray(data)
        if data.ndim != self.ndim:
            raise ValueShapeError(f"data has {data.ndim} dimensions, the array has {self.ndim}")
        if not -self.ndim <= axis < self.ndim:
            raise IndexingError(f"axis {axis} is out of range for a {self.ndim}-d array")
        axis %= self.ndim
        self._check_writable()
        state = self._state
        with state.edit_lock:
            shape = state.metadata.shape
            for d, (s, t) in enumerate(zip(data.shape, shape)):
                if d != axis and s != t:
                    raise ValueShapeError(f"data shape {data.shape} does not match array shape {shape} off axis {axis}")
            old_len = shape[axis]
            new_shape = tuple(s + data.shape[axis] if d == axis else s for d, s in enumerate(shape))
            with state.exclusive():
                self._resize_locked(new_shape, True)
            sel = tuple(slice(old_len, None) if d == axis else slice(None) for d in range(self.ndim))
            self._set(BasicIndexer, sel, data, None)
        return new_shape

    # --- stored data ------------------------------------------------------------------------------
    def _chunk_keys(self):
        """(coords, key) of every stored chunk of this array."""
        md = self._metadata
        base = self._path + "/" if self._path else ""
        for key in list(self._store.list_prefix(base)):
            rel = key[len(base):]
            coords = md.chunk_key_encoding.decode(rel, len(md.shape))
            if coords is not None:
                yield coords, key

    def nchunks_initialized(self) -> int:
        """How many chunks inside the array's grid are stored."""
        grid = self._metadata.grid_shape
        return sum(1 for coords, _ in self._chunk_keys() if all(c < g for c, g in zip(coords, grid)))

    def nbytes_stored(self) -> int:
        """Bytes stored for this array: its metadata document plus every chunk."""
        keys = meta_keys(self._path) + [k for _, k in self._chunk_keys()]
        return sum(self._store.getsize(k) or 0 for k in keys)

    def info_complete(self) -> ArrayInfo:
        """:attr:`info` plus the number of stored chunks and bytes (lists the store)."""
        return dataclasses.replace(self.info, count_chunks_initialized=self.nchunks_initialized(),
                                   count_bytes_stored=self.nbytes_stored())

    # --- awaitable twins: one thread hop each ---------------------------------------------------------
    get_basic_selection_async = async_twin(get_basic_selection)
    set_basic_selection_async = async_twin(set_basic_selection)
    get_orthogonal_selection_async = async_twin(get_orthogonal_selection)
    set_orthogonal_selection_async = async_twin(set_orthogonal_selection)
    get_coordinate_selection_async = async_twin(get_coordinate_selection)
    set_coordinate_selection_async = async_twin(set_coordinate_selection)
    get_mask_selection_async = async_twin(get_mask_selection)
    set_mask_selection_async = async_twin(set_mask_selection)
    get_block_selection_async = async_twin(get_block_selection)
    set_block_selection_async = async_twin(set_block_selection)
    getitem_async = async_twin(__getitem__)
    setitem_async = async_twin(__setitem__)
    update_attributes_async = async_twin(Node.update_attributes)
    resize_async = async_twin(resize)
    with_config_async = async_twin(with_config)
    append_async = async_twin(append)
    nchunks_initialized_async = async_twin(nchunks_initialized)
    nbytes_stored_async = async_twin(nbytes_stored)
    info_complete_async = async_twin(info_complete)


_NO_SETTINGS = contextlib.nullcontext()  # reusable: it holds no state

_INDEXERS = {"basic": BasicIndexer, "orthogonal": OrthogonalIndexer, "coordinate": CoordinateIndexer,
             "mask": mask_indexer, "mixed": mixed_indexer}


def _numpy_indexer(selection: Any, shape: tuple, chunk_shape: tuple):
    """The indexer of ``a[sel] = x``: the kind numpy's rules give ``sel`` on ``shape``."""
    return _INDEXERS[selection_kind(selection, shape)](selection, shape, chunk_shape)


def _bind(store: Store, path: str, metadata) -> tuple:
    """``(metadata, pipeline, target)``: the codec chain bound to ``metadata``'s chunk spec."""
    pipeline = CodecPipeline(metadata.codecs, metadata.chunk_spec())
    enc = metadata.chunk_key_encoding
    prefix = (path + "/" if path else "") + (enc.prefix if metadata.shape else enc.zero_dim_key)
    return metadata, pipeline, ChunkTarget(store, prefix, pipeline, enc, path)


def _same_layout(a, b) -> bool:
    """True when chunks of metadata ``a`` and ``b`` are stored alike (only shape or attributes differ)."""
    return (a.codecs == b.codecs and a.chunk_spec() == b.chunk_spec()
            and a.chunk_key_encoding == b.chunk_key_encoding and bool(a.shape) == bool(b.shape))


def _none_as_empty_text(arr: np.ndarray) -> np.ndarray:
    """Objects headed for a ``StringDType`` chunk with ``None`` as ``""``: numpy would store the
    text ``"None"``; numcodecs' vlen-utf8 (and ``SPEC_CHECKLIST`` §2.8) write ``None`` as empty."""
    # elementwise `is None` in C (None equals only None); numpy's stubs refuse a None operand
    missing = np.equal(arr, None)  # type: ignore[call-overload]
    if not missing.any():
        return arr
    out = arr.copy()
    out[missing] = ""
    return out


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: numpy's allocation decides
        return None


_PHYSICAL_MEMORY = _physical_memory()


def _allocate_work(shape: tuple, dtype: np.dtype, order: str, array: "Array") -> np.ndarray:
    """A read's output, allocated before any chunk is enumerated or read, so that a selection too
    large to hold (``a[...]`` of a ``(2**40,)`` array) fails at once instead of after building
    work for millions of chunks. Larger than the machine's memory is refused outright (with
    overcommit an allocation may "succeed" and fail page by page later)."""
    nbytes = math.prod(shape) * dtype.itemsize
    if _PHYSICAL_MEMORY is not None and nbytes > _PHYSICAL_MEMORY:
        raise SelectionTooLargeError(f"reading {shape} elements of {array!r} needs {human_size(nbytes)}, more than "
                                     f"this machine's memory ({human_size(_PHYSICAL_MEMORY)}); read less, or pass out=")
    try:
        return np.empty(shape, dtype=dtype, order=cast(Literal["C", "F"], order))  # Settings checks it
    except (MemoryError, ValueError) as e:  # ValueError: numpy's "array is too big"
        raise SelectionTooLargeError(f"cannot allocate {human_size(nbytes)} for reading {shape} elements of "
                                     f"{array!r}: {e}") from None


def _work_view(ix, out: np.ndarray) -> np.ndarray | None:
    """``out`` viewed in the indexer's work shape, or None when that would need a copy."""
    try:
        work = out.reshape(ix.work_shape, copy=False)
    except (ValueError, TypeError):  # a copy would be needed (TypeError: numpy < 2.1 has no copy=)
        return None
    return work


def _grid_sizes(shape: tuple, chunks: tuple) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(min(c, n - o) for o in range(0, n, c)) for n, c in zip(shape, chunks))


class _SelectionHelper:
    """Base of ``a.oindex``, ``a.vindex`` and ``a.blocks``: ``[]`` plus ``get``/``set`` methods
    and their awaitable twins."""

    __slots__ = ("_array",)

    def __init__(self, array: Array):
        self._array = array

    def _kind(self, selection: Any):  # pragma: no cover - abstract
        raise NotImplementedError

    def get(self, selection: Any, *, out: np.ndarray | None = None, fields: str | list[str] | None = None) -> Any:
        """Read ``selection`` (see the class docstring)."""
        array = self._array
        return array._get(self._kind(selection), selection, out, fields)

    def set(self, selection: Any, value: Any, *, fields: str | list[str] | None = None) -> None:
        """Write ``value`` to ``selection`` (see the class docstring)."""
        array = self._array
        array._set(self._kind(selection), selection, value, fields)

    def __getitem__(self, selection: Any) -> Any:
        fields, selection = pop_fields(selection)
        return self.get(selection, fields=fields)

    def __setitem__(self, selection: Any, value: Any) -> None:
        fields, selection = pop_fields(selection)
        self.set(selection, value, fields=fields)

    get_async = async_twin(get)
    set_async = async_twin(set)
    getitem_async = async_twin(__getitem__)
    setitem_async = async_twin(__setitem__)


class OrthogonalIndex(_SelectionHelper):
    """``a.oindex``: orthogonal selection (see :meth:`Array.get_orthogonal_selection`)."""

    __slots__ = ()

    def _kind(self, selection: Any):
        return OrthogonalIndexer


class VectorizedIndex(_SelectionHelper):
    """``a.vindex``: coordinate selection (see :meth:`Array.get_coordinate_selection`), or mask
    selection when the selection is one bool array."""

    __slots__ = ()

    def _kind(self, selection: Any):
        sel = selection[0] if isinstance(selection, tuple) and len(selection) == 1 else selection
        if isinstance(sel, (np.ndarray, list)) and np.asarray(sel).dtype == np.bool_:
            return mask_indexer
        return CoordinateIndexer


class BlockIndex(_SelectionHelper):
    """``a.blocks``: block selection (see :meth:`Array.get_block_selection`)."""

    __slots__ = ()

    def _kind(self, selection: Any):
        return BlockIndexer
