"""Dask arrays over zarrsync arrays: read one as a dask array, store a dask array into one.

Dask is optional (``pip install "zarrsync[dask]"``) and imported only inside these functions, so
``import zarrsync`` never pays for it.

Arrays pickle by reference (store description, path, metadata JSON, settings), so the graphs built
here run on any scheduler: threads, processes, or a ``distributed`` cluster whose workers reach
the same store.

Writes from several workers are safe without a lock because :func:`write_dask` rechunks its input
so that each dask block covers whole stored objects (chunks, or shards of a sharded array),
counted from the region's start: two blocks never write to the same object, so no worker ever
reads, modifies and writes back an object another worker is writing. Only the blocks at the
region's edges write part of an object, and each such object is touched by that one block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .api import create_array
from .array import Array
from .errors import IndexingError, MissingDependencyError, ValueShapeError
from .node import meta_key

__all__ = ["to_dask", "write_dask", "from_dask"]


def _dask_array():
    """``dask.array``, or a :class:`MissingDependencyError` that names the extra to install."""
    try:
        import dask.array as da
    except ImportError as e:
        raise MissingDependencyError(
            f'dask support needs dask[array] ({e}): pip install "zarrsync[dask]"') from None
    return da


def _stored_shape(a: Array) -> tuple[int, ...]:
    """The shape of one stored object of ``a``: the shard shape when sharded, else the chunk shape."""
    return a.shards or a.chunks


def to_dask(a: Array, chunks: Any = None):
    """A dask array that reads ``a``.

    Parameters
    ----------
    a
        The zarrsync array to read.
    chunks
        Dask's chunks (any form :func:`dask.array.from_array` takes). Default: the stored objects'
        shape (the shard shape of a sharded array), so each dask task reads whole objects and no
        object is read by two tasks.

    The graph's name is a token of the array's location, metadata and chunks, so two calls over the
    same stored array give the same graph. It does not track the array's contents: a result that
    a ``distributed`` cluster holds on to (``persist``) is not refreshed by a later write.

    >>> import zarrsync, numpy as np
    >>> a = zarrsync.create_array(None, shape=(6, 6), dtype="i4", chunks=(3, 3))
    >>> a[...] = np.arange(36).reshape(6, 6)
    >>> x = zarrsync.to_dask(a)
    >>> x.chunks, int(x.sum().compute())
    (((3, 3), (3, 3)), 630)
    """
    da = _dask_array()
    from dask.base import tokenize

    chunks = _stored_shape(a) if chunks is None else chunks
    token = tokenize(a.store.location(meta_key(a.path)), a.metadata.to_json(), a.config, chunks)
    # A zarrsync read returns a fresh ndarray (asarray=False: no copy); zero-size ``meta`` so dask
    # need not read the array to learn its type; no lock: reads of different objects are independent.
    return da.from_array(a, chunks=chunks, name=f"zarrsync-{token}", lock=False, asarray=False,
                         meta=np.empty((0,) * a.ndim, dtype=a.dtype))


def _normalize_region(a: Array, region: tuple | None) -> tuple[slice, ...]:
    """``region`` as one ``slice(start, stop, 1)`` per dimension, clipped to ``a``'s shape as numpy
    clips; None means the whole array."""
    if region is None:
        return tuple(slice(0, n, 1) for n in a.shape)
    if not isinstance(region, tuple) or len(region) != a.ndim or not all(isinstance(s, slice) for s in region):
        raise IndexingError(f"region must be a tuple of {a.ndim} slices for {a!r}, got {region!r}")
    out = []
    for s, n in zip(region, a.shape):
        start, stop, step = s.indices(n)
        if step != 1:
            raise IndexingError(f"region slices must have step 1, got {s!r}")
        out.append(slice(start, max(start, stop), 1))
    return tuple(out)


def _aligned_dim(start: int, stop: int, size: int, want: int) -> tuple[int, ...]:
    """Block lengths covering ``[start, stop)`` of one dimension whose inner boundaries all lie on
    multiples of the stored object length ``size``: a partial first block up to the first object
    boundary when ``start`` is not on one, then blocks of ``want`` rounded down to whole objects
    (at least one), the last cut at ``stop``."""
    if stop == start:
        return (0,)
    step = max(1, want // size) * size
    blocks = []
    pos = start
    if pos % size:
        first = min(stop, pos + size - pos % size)
        blocks.append(first - pos)
        pos = first
    while pos < stop:
        end = min(stop, pos + step)
        blocks.append(end - pos)
        pos = end
    return tuple(blocks)


def write_dask(x, a: Array, region: tuple | None = None) -> None:
    """Compute the dask array ``x`` into the existing zarrsync array ``a``.

    Parameters
    ----------
    x
        A dask array of ``region``'s shape (values are cast to ``a``'s data type as a zarrsync
        write casts them).
    a
        The target array.
    region
        A tuple of one slice (step 1) per dimension; default the whole array.

    ``x`` is rechunked so that every block covers whole stored objects (shards of a sharded
    array, else chunks), counted from the region's start: two blocks never touch the same object,
    so the blocks are written in parallel without a lock, from threads, processes or a
    ``distributed`` cluster. Blocks keep about ``x``'s block size (rounded down to whole objects,
    at least one). Only the blocks at the region's edges write part of an object.

    >>> import zarrsync, dask.array as da
    >>> a = zarrsync.create_array(None, shape=(6, 6), dtype="i4", chunks=(3, 3), fill_value=0)
    >>> zarrsync.write_dask(da.ones((4, 4), dtype="i4", chunks=2), a, region=(slice(1, 5), slice(1, 5)))
    >>> int(a[...].sum())
    16
    """
    da = _dask_array()
    slices = _normalize_region(a, region)
    shape = tuple(s.stop - s.start for s in slices)
    if tuple(x.shape) != shape:
        raise ValueShapeError(f"dask array of shape {x.shape} does not match the region {slices} of "
                              f"shape {shape} in {a!r}")
    size = _stored_shape(a)
    chunks = tuple(_aligned_dim(s.start, s.stop, c, max(want, 1))
                   for s, c, want in zip(slices, size, x.chunksize))
    if x.chunks != chunks:
        x = x.rechunk(chunks)
    da.store(x, a, regions=slices, lock=False, compute=True)


def from_dask(x, store: Any, *, path: str | None = None, **create_array_kwargs) -> Array:
    """Create an array in ``store`` of ``x``'s shape and data type and compute ``x`` into it.

    The chunk shape defaults to ``x``'s block shape (its largest block where blocks are irregular);
    ``create_array_kwargs`` (``chunks``, ``shards``, ``compressors``, ``zarr_format`` ...) go to
    :func:`zarrsync.create_array` and override it. The write is :func:`write_dask`'s.

    >>> import zarrsync, dask.array as da
    >>> a = zarrsync.from_dask(da.arange(10, chunks=4), None)
    >>> a.chunks, int(a[...].sum())
    ((4,), 45)
    """
    _dask_array()
    create_array_kwargs.setdefault("chunks", tuple(max(c, 1) for c in x.chunksize))
    a = create_array(store, path=path, shape=x.shape, dtype=x.dtype, **create_array_kwargs)
    write_dask(x, a)
    return a
