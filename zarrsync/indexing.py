"""Selections -> per-chunk work. Pure functions: no I/O, no threads.

A :class:`BasicIndexer` takes a numpy basic selection (ints, slices with any step, ``...``,
``None``) and works out, per array dimension, which chunks it touches and, for each, the part
of the chunk selected and where that part goes in the output.

Results are computed in a *work shape*: one axis per array dimension, an integer index counting
as an axis of length 1. The caller reshapes the work array to the numpy result shape (integer
axes dropped, ``None`` axes inserted); both reshapes only add or drop length-1 axes, so they
never copy.

Per dimension an entry is ``(grid_index, chunk_slice, out_slice, complete)``; a chunk's work
item is one entry per dimension (:meth:`BasicIndexer.items`). ``complete`` says the selection
covers every in-bounds element of that chunk along that dimension.

>>> ix = BasicIndexer((slice(2, 9),), shape=(10,), chunk_shape=(4,))
>>> ix.shape, [(e[0], e[1], e[2]) for e in ix.dims[0]]
((7,), [(0, slice(2, 4, 1), slice(0, 2, None)), (1, slice(0, 4, 1), slice(2, 6, None)), (2, slice(0, 1, 1), slice(6, 7, None))])
"""

from __future__ import annotations

import itertools
import numbers
from typing import Any, Iterator

import numpy as np

from .errors import BoundsCheckError, IndexingError

__all__ = ["BasicIndexer", "normalize_basic_selection", "DimEntry"]

DimEntry = tuple  # (grid_index: int, chunk_slice: slice, out_slice: slice, complete: bool)


def _is_int(x: Any) -> bool:
    t = type(x)
    if t is int:
        return True
    if t is slice or x is None or t is bool:
        return False
    return isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, np.bool_)


def normalize_basic_selection(selection: Any, ndim: int) -> tuple[list, list[int], bool]:
    """Expand ``...`` and split out ``None``.

    Returns ``(per_dim, newaxis_positions, is_scalar)``: ``per_dim`` has one int or slice per
    array dimension; ``newaxis_positions`` are the result axes that ``None`` inserts; ``is_scalar``
    is True when every dimension is indexed by an int (numpy then returns a scalar).
    """
    # fast paths: `a[...]` and one slice per dimension
    if selection is Ellipsis:
        return [slice(None)] * ndim, [], False
    if type(selection) is tuple and ndim and len(selection) == ndim and all(type(s) is slice for s in selection):
        return list(selection), [], False
    if not isinstance(selection, tuple):
        selection = (selection,)
    n_ellipsis = 0
    for s in selection:
        if type(s) is slice or s is None or _is_int(s):
            continue
        if s is Ellipsis:
            n_ellipsis += 1
        elif isinstance(s, (bool, np.bool_)):
            raise IndexingError("boolean scalars are not a basic selection; use a mask with a.vindex[...]")
        elif isinstance(s, (list, np.ndarray)) or hasattr(s, "__array__"):
            raise IndexingError(f"{type(s).__name__} indices are not a basic selection: use a.oindex[...] "
                                "for orthogonal or a.vindex[...] for coordinate selection")
        else:
            raise IndexingError(f"unsupported index {s!r} of type {type(s).__name__}: use ints, slices, ... or None")
    if n_ellipsis > 1:
        raise IndexingError("an index can only have a single ellipsis ('...')")
    n_real = sum(1 for s in selection if s is not None and s is not Ellipsis)
    if n_real > ndim:
        raise IndexingError(f"too many indices for array: array is {ndim}-dimensional, but {n_real} were indexed")
    expanded: list = []
    for s in selection:
        if s is Ellipsis:
            expanded.extend([slice(None)] * (ndim - n_real))
        else:
            expanded.append(s)
    if n_ellipsis == 0:
        expanded.extend([slice(None)] * (ndim - n_real))
    per_dim, newaxes = [], []
    out_axis = 0
    for s in expanded:
        if s is None:
            newaxes.append(out_axis)
            out_axis += 1
        else:
            per_dim.append(s)
            if not _is_int(s):
                out_axis += 1
    is_scalar = n_ellipsis == 0 and not newaxes and all(_is_int(s) for s in per_dim)
    return per_dim, newaxes, is_scalar


def _dim_positive(start: int, step: int, n: int, dim_len: int, c: int) -> list[tuple[int, int, int, int, int]]:
    """Chunks touched by elements ``start + j*step`` (j < n, step > 0).

    Returns ``(grid_index, chunk_start, chunk_stop, j0, j1)``: the chunk-local range and the
    element positions ``[j0, j1)`` that fall in that chunk.
    """
    out = []
    if n == 0:
        return out
    if step >= c:  # every element in its own chunk
        for j in range(n):
            i = start + j * step
            k = i // c
            out.append((k, i - k * c, i - k * c + 1, j, j + 1))
        return out
    last = start + (n - 1) * step
    for k in range(start // c, last // c + 1):
        lo = k * c
        hi = min(lo + c, dim_len)
        j0 = max(0, -(-(lo - start) // step))
        j1 = min(n, -(-(hi - start) // step))
        if j0 < j1:
            out.append((k, start + j0 * step - lo, start + (j1 - 1) * step - lo + 1, j0, j1))
    return out


def _dim_entries(sel, dim_len: int, c: int) -> tuple[int, list[DimEntry]]:
    """Work-axis length and entries for one dimension."""
    if _is_int(sel):
        i = int(sel)
        if i < 0:
            i += dim_len
        if not 0 <= i < dim_len:
            raise BoundsCheckError(f"index {int(sel)} is out of bounds for a dimension of length {dim_len}")
        k = i // c
        extent = min(c, dim_len - k * c)
        return 1, [(k, slice(i - k * c, i - k * c + 1, 1), slice(0, 1), extent == 1)]
    try:
        start, stop, step = sel.indices(dim_len)
    except TypeError:  # as numpy: anything with __index__ (ints, numpy ints) or None
        raise IndexingError(f"slice {sel!r}: start, stop and step must be integers or None") from None
    except ValueError:  # slice.indices refuses a zero step
        raise IndexingError("slice step cannot be zero") from None
    n = len(range(start, stop, step))
    if step > 0:
        entries = []
        for k, cs, ce, j0, j1 in _dim_positive(start, step, n, dim_len, c):
            complete = step == 1 and cs == 0 and ce == min(c, dim_len - k * c)
            entries.append((k, slice(cs, ce, step), slice(j0, j1), complete))
        return n, entries
    # negative step: walk the same elements upwards; the output runs backwards
    pstep = -step
    pstart = start + (n - 1) * step if n else 0
    entries = []
    for k, cs, ce, j0, j1 in _dim_positive(pstart, pstep, n, dim_len, c):
        complete = pstep == 1 and cs == 0 and ce == min(c, dim_len - k * c)
        hi, lo = n - 1 - j0, n - 1 - j1
        entries.append((k, slice(cs, ce, pstep), slice(hi, lo if lo >= 0 else None, -1), complete))
    return n, entries


class BasicIndexer:
    """A basic selection resolved against an array's shape and chunk shape.

    Attributes
    ----------
    shape : tuple
        The numpy result shape.
    work_shape : tuple
        One axis per array dimension (length 1 for integer-indexed ones).
    dims : list
        Per dimension, the entries ``(grid_index, chunk_slice, out_slice, complete)``.
    is_scalar : bool
        Every dimension has an integer index (the result is a scalar).
    """

    __slots__ = ("shape", "work_shape", "dims", "is_scalar", "nchunks")

    def __init__(self, selection: Any, shape: tuple[int, ...], chunk_shape: tuple[int, ...]):
        per_dim, newaxes, self.is_scalar = normalize_basic_selection(selection, len(shape))
        work, dims = [], []
        for sel, dim_len, c in zip(per_dim, shape, chunk_shape):
            n, entries = _dim_entries(sel, dim_len, c)
            work.append(n)
            dims.append(entries)
        self.work_shape = tuple(work)
        self.dims = dims
        result = [n for n, sel in zip(work, per_dim) if not _is_int(sel)]
        for pos in newaxes:
            result.insert(pos, 1)
        self.shape = tuple(result)
        nchunks = 1
        for d in dims:
            nchunks *= len(d)
        self.nchunks = nchunks

    def items(self) -> Iterator[tuple[DimEntry, ...]]:
        """One work item per touched chunk: a tuple holding one entry per dimension."""
        return itertools.product(*self.dims)

    def to_result(self, work: np.ndarray) -> np.ndarray:
        """View a work-shaped array in the result shape (no copy)."""
        return work.reshape(self.shape)

    def to_work(self, result: np.ndarray) -> np.ndarray:
        """View a result-shaped array in the work shape (no copy)."""
        return result.reshape(self.work_shape)
