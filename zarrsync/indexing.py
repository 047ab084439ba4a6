"""Selections -> per-chunk work. Pure functions and small classes: no I/O, no threads.

Four kinds of selection, one indexer class each, all with the same interface:

- :class:`BasicIndexer`: numpy basic indexing (ints, slices with any step, ``...``, ``None``);
- :class:`OrthogonalIndexer`: each axis on its own (``a.oindex``; numpy's ``np.ix_``): ints,
  slices, int arrays (unsorted, repeated, negative) and bool arrays;
- :class:`CoordinateIndexer`: points (``a.vindex``): one int array per axis, broadcast together;
  :func:`mask_indexer` turns a full-shape bool mask into one, and :func:`mixed_indexer` numpy's
  index arrays beside slices (``a[:, [1, 2], [3, 4]]``);
- :class:`BlockIndexer`: ints and slices counting chunks (``a.blocks``), a basic selection in
  the end.

An indexer works out which chunks a selection touches and, for each, the part of the chunk
selected (``chunk_sel``) and where that part goes (``out_sel``) in a *work array*. Basic and
orthogonal work arrays have one axis per array dimension (an integer index counts as an axis of
length 1); a coordinate work array is flat, one element per point. :meth:`to_result` and
:meth:`to_work` convert between the work shape and the numpy result shape.

Basic and orthogonal selections are per-axis products: per dimension a list of entries
``(grid_index, chunk_sel, out_sel, complete)`` (``dims``), a chunk's work item being one entry per
dimension. An entry's selections are slices where the selected elements are a run (sorted int
arrays mostly are), else int arrays. ``complete`` says the entry covers every in-bounds element of
its chunk along that dimension, in order. A coordinate selection lists its chunks directly
(:meth:`CoordinateIndexer.chunks`), each point fetched with the others of its chunk.

Work is sized before it is listed: a slice's entries are computed on demand past 4096 chunks
(:class:`_RangeEntries`), and :class:`ProductItems` builds a product's work items one at a time,
so building an indexer over ``(2**40,)`` costs nothing and a reader can allocate (or refuse) the
output before any chunk work exists.

``numpy_index`` of an indexer turns a (``chunk_sel`` or ``out_sel``) tuple into a numpy index:
orthogonal tuples with two or more arrays go through ``np.ix_``; the others are numpy indices
already.

>>> ix = BasicIndexer((slice(2, 9),), shape=(10,), chunk_shape=(4,))
>>> ix.shape, [(e[0], e[1], e[2]) for e in ix.dims[0]]
((7,), [(0, slice(2, 4, 1), slice(0, 2, None)), (1, slice(0, 4, 1), slice(2, 6, None)), (2, slice(0, 1, 1), slice(6, 7, None))])
>>> ix = OrthogonalIndexer(([7, 1, 2],), shape=(10,), chunk_shape=(4,))
>>> [(e[0], e[1], e[2]) for e in ix.dims[0]]
[(0, slice(1, 3, 1), slice(1, 3, None)), (1, slice(3, 4, 1), slice(0, 1, None))]
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from typing import Any, Callable, Iterator

import numpy as np

from .errors import BoundsCheckError, IndexingError, SelectionTooLargeError

__all__ = ["BasicIndexer", "OrthogonalIndexer", "CoordinateIndexer", "BlockIndexer", "mask_indexer", "mixed_indexer",
           "selection_kind", "normalize_basic_selection", "orthogonal_numpy_index", "assign", "DimEntry",
           "ProductItems", "Batches", "only_slices", "pop_fields", "field_dtype", "select_fields"]

DimEntry = tuple  # (grid_index: int, chunk_sel: slice | ndarray, out_sel: slice | ndarray, complete: bool)


def _is_int(x: Any) -> bool:
    t = type(x)
    if t is int:
        return True
    if t is slice or x is None or t is bool:
        return False
    return isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, np.bool_)


def only_slices(items) -> bool:
    """True when every item is a slice (a loop: on the per-call paths it beats all(<genexpr>))."""
    for s in items:
        if type(s) is not slice:
            return False
    return True


def _is_array_like(x: Any) -> bool:
    t = type(x)
    if t is slice or t is int or x is None or x is Ellipsis:  # the common indices, without hasattr's miss
        return False
    if isinstance(x, (list, np.ndarray)):
        return True
    return hasattr(x, "__array__") and not isinstance(x, (str, bytes, np.generic))


def normalize_basic_selection(selection: Any, ndim: int, arrays: bool = False) -> tuple[list, list[int], bool]:
    """Expand ``...`` and split out ``None``.

    Returns ``(per_dim, newaxis_positions, is_scalar)``: ``per_dim`` has one int or slice (or,
    with ``arrays``, array-like) per array dimension; ``newaxis_positions`` are the result axes
    that ``None`` inserts; ``is_scalar`` is True when every dimension is indexed by an integer
    (numpy then returns a scalar).
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
            raise IndexingError("boolean scalars are not supported as indices; use a mask with a.vindex[...]")
        elif _is_array_like(s):
            if not arrays:
                raise IndexingError(f"{type(s).__name__} indices are not a basic selection: use a.oindex[...] "
                                    "for orthogonal or a.vindex[...] for coordinate selection")
        else:
            raise IndexingError(f"unsupported index {s!r} of type {type(s).__name__}: use ints, slices, ... or None"
                                + (", or int or bool arrays" if arrays else ""))
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


#: per-axis entry lists up to this many chunks are built at once (fast to iterate); longer ones
#: are computed entry by entry on demand, so a selection over 2**28 chunks costs no memory up front
_EAGER_ENTRIES = 4096


def _range_count(start: int, step: int, n: int, c: int) -> int:
    """How many chunks the elements ``start + j*step`` (``j < n``, ``step > 0``) touch: with
    ``step < c`` every chunk from the first element's to the last's holds at least one element
    (consecutive elements are closer than a chunk); with ``step >= c`` each has a chunk of its own."""
    if n == 0:
        return 0
    return n if step >= c else (start + (n - 1) * step) // c - start // c + 1


def _range_entry(start: int, step: int, n: int, dim_len: int, c: int, reverse: bool, m: int) -> DimEntry:
    """The ``m``-th chunk entry ``(grid_index, chunk_sel, out_sel, complete)``, in increasing chunk
    order, of an axis indexed by ``start + j*step`` (see :func:`_range_count`). ``reverse``: the
    selection runs downwards (a negative slice step) and the output positions count backwards."""
    if step >= c:
        i = start + m * step
        k = i // c
        cs, ce, j0, j1 = i - k * c, i - k * c + 1, m, m + 1
    else:
        k = start // c + m
        lo = k * c
        hi = min(lo + c, dim_len)
        j0 = max(0, -(-(lo - start) // step))
        j1 = min(n, -(-(hi - start) // step))
        cs, ce = start + j0 * step - lo, start + (j1 - 1) * step - lo + 1
    complete = step == 1 and cs == 0 and ce == min(c, dim_len - k * c)
    if reverse:
        hi_, lo_ = n - 1 - j0, n - 1 - j1
        return (k, slice(cs, ce, step), slice(hi_, lo_ if lo_ >= 0 else None, -1), complete)
    return (k, slice(cs, ce, step), slice(j0, j1), complete)


class _Lazy(Sequence):
    """A sequence of ``length`` items, the ``i``-th built by ``_item(i)`` only when asked for
    (what the lazily enumerated sequences below share: indexing, negative indices, slices)."""

    __slots__ = ("length",)
    length: int

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._item(j) for j in range(*i.indices(self.length))]
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError(i)
        return self._item(i)

    def __iter__(self) -> Iterator:
        return map(self._item, range(self.length))

    def _item(self, i: int):  # pragma: no cover - abstract
        raise NotImplementedError


class _RangeEntries(_Lazy):
    """The entries of a long axis (:func:`_range_entry`), each computed when asked for."""

    __slots__ = ("args",)

    def __init__(self, args: tuple[int, int, int, int, int, bool], length: int):
        self.args, self.length = args, length

    def _item(self, m: int) -> DimEntry:
        return _range_entry(*self.args, m)


def _range_entries(start: int, step: int, n: int, dim_len: int, c: int, reverse: bool) -> Sequence:
    count = _range_count(start, step, n, c)
    if count > _EAGER_ENTRIES:
        return _RangeEntries((start, step, n, dim_len, c, reverse), count)
    return [_range_entry(start, step, n, dim_len, c, reverse, m) for m in range(count)]


class ProductItems(_Lazy):
    """``itertools.product(*axes)`` as a sequence whose ``i``-th item (in product order) is built
    by ``build(combo)`` only when asked for.

    A selection over millions of chunks (``a[...] = 1`` on a ``(2**40,)`` array of 4096-element
    chunks touches 2**28) is then enumerated lazily: :func:`zarrsync.executor.run_tasks` takes
    items by index, so memory stays bounded whatever the chunk count.
    """

    __slots__ = ("_axes", "_lens", "_build")

    def __init__(self, axes: Sequence, build: Callable[[tuple], Any]):
        self._axes = axes
        self._lens = [len(a) for a in axes]
        self._build = build
        self.length = math.prod(self._lens)

    def _item(self, i: int):
        combo = []
        for axis, n in zip(reversed(self._axes), reversed(self._lens)):  # the last axis varies fastest
            i, r = divmod(i, n)
            combo.append(axis[r])
        return self._build(tuple(reversed(combo)))


class Batches(_Lazy):
    """``items`` in consecutive batches of ``size`` (the last may be shorter), each built when asked
    for: grouping lazily enumerated work keeps it lazy."""

    __slots__ = ("_items", "_size")

    def __init__(self, items: Sequence, size: int):
        self._items, self._size = items, size
        self.length = -(-len(items) // size)

    def _item(self, i: int):
        return self._items[i * self._size:(i + 1) * self._size]


def _int_entry(sel, dim_len: int, c: int) -> tuple[int, list[DimEntry]]:
    i = int(sel)
    if i < 0:
        i += dim_len
    if not 0 <= i < dim_len:
        raise BoundsCheckError(f"index {int(sel)} is out of bounds for a dimension of length {dim_len}")
    k = i // c
    extent = min(c, dim_len - k * c)
    return 1, [(k, slice(i - k * c, i - k * c + 1, 1), slice(0, 1), extent == 1)]


def _slice_entries(sel: slice, dim_len: int, c: int) -> tuple[int, Sequence]:
    try:
        start, stop, step = sel.indices(dim_len)
    except TypeError:  # as numpy: anything with __index__ (ints, numpy ints) or None
        raise IndexingError(f"slice {sel!r}: start, stop and step must be integers or None") from None
    except ValueError:  # slice.indices refuses a zero step
        raise IndexingError("slice step cannot be zero") from None
    n = len(range(start, stop, step))
    if step == 1 and n and start // c == (stop - 1) // c:  # within one chunk: what _range_entry gives, sooner
        lo = start - start % c
        cs, ce = start - lo, stop - lo
        return n, [(start // c, slice(cs, ce, 1), slice(0, n), cs == 0 and ce == min(c, dim_len - lo))]
    if step > 0:
        return n, _range_entries(start, step, n, dim_len, c, False)
    # negative step: walk the same elements upwards; the output runs backwards
    return n, _range_entries(start + (n - 1) * step if n else 0, -step, n, dim_len, c, True)


def _dim_entries(sel, dim_len: int, c: int) -> tuple[int, Sequence[DimEntry]]:
    """Work-axis length and entries for one dimension of a basic selection."""
    if _is_int(sel):
        return _int_entry(sel, dim_len, c)
    return _slice_entries(sel, dim_len, c)


def _int_array(sel: Any, what: str) -> np.ndarray:
    """``sel`` as an intp array; bool arrays are not accepted here."""
    arr = np.asarray(sel)
    if arr.dtype.kind in "iu":
        if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.intp).max:
            raise BoundsCheckError(f"{what}: index {arr.max()} is out of bounds")
        return arr.astype(np.intp, copy=False)
    if arr.size == 0 and arr.dtype.kind == "f":  # `[]` is an empty float64 array to numpy
        return arr.astype(np.intp)
    if arr.dtype.kind == "b":
        raise IndexingError(f"{what}: boolean arrays are not supported here")
    raise IndexingError(f"{what}: arrays used as indices must be of integer (or boolean) type, got {arr.dtype}")


def _wrap(idx: np.ndarray, dim_len: int, axis: int) -> np.ndarray:
    """Negative indices counted from the end; anything out of ``[0, dim_len)`` raises."""
    if idx.size == 0:
        return idx
    lo, hi = int(idx.min()), int(idx.max())
    if lo < -dim_len or hi >= dim_len:
        bad = lo if lo < -dim_len else hi
        raise BoundsCheckError(f"index {bad} is out of bounds for axis {axis} of length {dim_len}")
    if lo < 0:
        idx = np.where(idx < 0, idx + dim_len, idx)
    return idx


def _run(a: np.ndarray) -> slice | None:
    """``a`` as a slice if it is a run of consecutive increasing integers, else None."""
    first, last = int(a[0]), int(a[-1])
    if last - first == len(a) - 1 and (len(a) < 3 or bool((np.diff(a) == 1).all())):
        return slice(first, last + 1, 1)
    return None


def _array_entries(idx: np.ndarray, dim_len: int, c: int) -> tuple[int, list[DimEntry]]:
    """Work-axis length and entries for one dimension indexed by an int array (in bounds,
    non-negative): grouped by chunk, each chunk's elements in their order in ``idx``."""
    n = len(idx)
    if n == 0:
        return 0, []
    k = idx // c
    if n == 1 or bool((k[1:] >= k[:-1]).all()):
        order = None  # already grouped by chunk: each chunk's output positions are a run
        sk = k
    else:
        order = np.argsort(k, kind="stable")
        sk = k[order]
    bounds = [0, *(np.flatnonzero(sk[1:] != sk[:-1]) + 1).tolist(), n]
    entries = []
    for s, e in zip(bounds[:-1], bounds[1:]):
        kk = int(sk[s])
        out_sel: slice | np.ndarray
        if order is None:
            local, out_sel = idx[s:e] - kk * c, slice(s, e)
        else:
            pos = order[s:e]
            local = idx[pos] - kk * c
            # a stable sort keeps pos increasing: a run exactly when first and last are e-s-1 apart
            out_sel = slice(int(pos[0]), int(pos[-1]) + 1) if int(pos[-1]) - int(pos[0]) == e - s - 1 else pos
        run = _run(local)
        extent = min(c, dim_len - kk * c)
        complete = run is not None and run.start == 0 and run.stop == extent
        entries.append((kk, run if run is not None else local, out_sel, complete))
    return n, entries


def orthogonal_numpy_index(sel: tuple) -> tuple:
    """A numpy index for an orthogonal ``chunk_sel``/``out_sel`` (one slice or int array per
    axis). With at most one array numpy already indexes orthogonally; with more, every axis
    goes through ``np.ix_`` (slices as ``arange``)."""
    if type(sel) is not tuple or sum(type(s) is not slice for s in sel) < 2:
        return sel
    return np.ix_(*(s if type(s) is not slice else _slice_arange(s) for s in sel))


def assign(target: np.ndarray, index: Any, value: Any, fields: str | list | None = None) -> None:
    """``target[index] = value``; with ``fields`` (one name or several) only those fields of a
    structured ``target`` change, ``value`` holding that field's values (or, for several, a
    structured value with those fields)."""
    if fields is None:
        target[index] = value
    elif isinstance(fields, str):
        target[fields][index] = value
    else:
        for name in fields:
            target[name][index] = value[name]


def _slice_arange(s: slice) -> np.ndarray:
    step = s.step or 1
    stop = s.stop if s.stop is not None else -1  # only the negative-step output slices run to the start
    return np.arange(s.start or 0, stop, step)


def _same(sel):
    return sel


class _ProductIndexer:
    """Shared by basic and orthogonal selections: per-dimension entries, a product of chunks."""

    __slots__ = ("shape", "work_shape", "dims", "is_scalar", "nchunks")
    product = True
    numpy_index = staticmethod(_same)

    def _finish(self, work: list, dims: list, per_dim: list, newaxes: list) -> None:
        self.work_shape = tuple(work)
        self.dims = dims
        if not newaxes and only_slices(per_dim):  # no axis dropped or added
            self.shape = self.work_shape
        else:
            result = [n for n, sel in zip(work, per_dim) if not _is_int(sel)]
            for pos in newaxes:
                result.insert(pos, 1)
            self.shape = tuple(result)
        nchunks = 1
        for d in dims:
            nchunks *= len(d)
        self.nchunks = nchunks

    @property
    def local(self) -> type:
        """The indexer class for one chunk's part of this selection (``chunk_sel``, shard-local)."""
        return type(self)

    def items(self) -> Iterator[tuple[DimEntry, ...]]:
        """One work item per touched chunk: a tuple holding one entry per dimension."""
        return itertools.product(*self.dims)

    def chunks(self) -> Iterator[tuple[tuple, tuple, tuple, bool]]:
        """``(grid_coords, chunk_sel, out_sel, complete)`` per touched chunk."""
        for item in self.items():
            coords, chunk_sel, out_sel, complete = zip(*item) if item else ((), (), (), (True,))
            yield coords, chunk_sel, out_sel, all(complete)

    @staticmethod
    def local_shape(chunk_sel: tuple) -> tuple[int, ...]:
        """The shape of the work array part that one chunk's ``chunk_sel`` fills."""
        return tuple(len(range(s.start, s.stop, s.step)) if type(s) is slice else len(s) for s in chunk_sel)

    def to_result(self, work: np.ndarray) -> np.ndarray:
        """View a work-shaped array in the result shape (no copy)."""
        return work.reshape(self.shape)

    def to_work(self, result: np.ndarray) -> np.ndarray:
        """View a result-shaped array in the work shape (no copy)."""
        return result.reshape(self.work_shape)


class BasicIndexer(_ProductIndexer):
    """A basic selection resolved against an array's shape and chunk shape.

    Attributes
    ----------
    shape : tuple
        The numpy result shape.
    work_shape : tuple
        One axis per array dimension (length 1 for integer-indexed ones).
    dims : list
        Per dimension, the entries ``(grid_index, chunk_sel, out_sel, complete)``; all slices.
    is_scalar : bool
        Every dimension has an integer index (the result is a scalar).
    """

    __slots__ = ()
    kind = "basic"

    def __init__(self, selection: Any, shape: tuple[int, ...], chunk_shape: tuple[int, ...]):
        per_dim, newaxes, self.is_scalar = normalize_basic_selection(selection, len(shape))
        work, dims = [], []
        for sel, dim_len, c in zip(per_dim, shape, chunk_shape):
            n, entries = _dim_entries(sel, dim_len, c)
            work.append(n)
            dims.append(entries)
        self._finish(work, dims, per_dim, newaxes)


class OrthogonalIndexer(_ProductIndexer):
    """An orthogonal selection: each axis indexed on its own by an int, a slice (any step), a
    1-d int array (any order, repeats, negatives) or a 1-d bool array of the axis's length;
    ``...`` and ``None`` as in numpy. The result has, per axis, the elements the axis's index
    picks, like ``x[np.ix_(...)]``; an int drops its axis."""

    __slots__ = ("numpy_index",)
    kind = "orthogonal"

    def __init__(self, selection: Any, shape: tuple[int, ...], chunk_shape: tuple[int, ...]):
        per_dim, newaxes, self.is_scalar = normalize_basic_selection(selection, len(shape), arrays=True)
        work, dims = [], []
        for axis, (sel, dim_len, c) in enumerate(zip(per_dim, shape, chunk_shape)):
            if _is_int(sel) or type(sel) is slice:
                n, entries = _dim_entries(sel, dim_len, c)
            else:
                arr = np.asarray(sel)
                if arr.ndim != 1:
                    raise IndexingError(f"orthogonal selection: the index for axis {axis} must be 1-dimensional, "
                                        f"got shape {arr.shape}; use a.vindex[...] for points")
                if arr.dtype.kind == "b":
                    if len(arr) != dim_len:
                        raise IndexingError(f"boolean index for axis {axis} has length {len(arr)}, "
                                            f"the axis has length {dim_len}")
                    idx = np.flatnonzero(arr)
                else:
                    idx = _wrap(_int_array(arr, f"axis {axis}"), dim_len, axis)
                n, entries = _array_entries(idx, dim_len, c)
            work.append(n)
            dims.append(entries)
        self._finish(work, dims, per_dim, newaxes)
        # with arrays on at most one axis every chunk's selections are numpy indices already (an
        # int or slice axis has slices only: its entries, maybe millions, need no look)
        array_axes = sum(any(type(e[1]) is not slice or type(e[2]) is not slice for e in d)
                         for d, sel in zip(dims, per_dim) if not (_is_int(sel) or type(sel) is slice))
        self.numpy_index = orthogonal_numpy_index if array_axes >= 2 else _same


class CoordinateIndexer:
    """A coordinate (vectorized, point) selection: one int array (or int) per axis, broadcast
    together; the result has the broadcast shape, element ``i`` being the array's element at the
    ``i``-th coordinates. Points are grouped by chunk (each chunk fetched once, the points of a
    chunk kept in their order, so repeated points written last-wins as in numpy).

    Attributes as :class:`BasicIndexer`, but ``work_shape`` is ``(number of points,)`` and the
    chunks are listed by :meth:`chunks` (no ``dims``).
    """

    __slots__ = ("shape", "work_shape", "is_scalar", "nchunks", "_chunks")
    kind = "coordinate"
    product = False
    numpy_index = staticmethod(_same)

    def __init__(self, selection: Any, shape: tuple[int, ...], chunk_shape: tuple[int, ...]):
        ndim = len(shape)
        if not ndim:
            raise IndexingError("coordinate selection needs an array with at least one dimension")
        sel = selection if isinstance(selection, tuple) else (selection,)
        if len(sel) != ndim:
            raise IndexingError(f"coordinate selection needs one int array per axis: the array has {ndim} "
                                f"dimensions, the selection {len(sel)} entries")
        given = []
        for axis, s in enumerate(sel):
            if not (_is_int(s) or _is_array_like(s)):
                raise IndexingError(f"coordinate selection: axis {axis} has {s!r}; only ints and int arrays "
                                    "are allowed (use a.oindex[...] for slices)")
            given.append(_int_array(s, f"coordinate selection, axis {axis}"))
        try:
            arrays = np.broadcast_arrays(*given)
        except ValueError:
            raise IndexingError("coordinate selection: the index arrays cannot be broadcast together, shapes "
                                + " ".join(str(np.shape(s)) for s in sel)) from None
        points = tuple(_wrap(a.reshape(-1), n, axis) for axis, (a, n) in enumerate(zip(arrays, shape)))
        self._group(arrays[0].shape, points, shape, chunk_shape)

    @classmethod
    def from_points(cls, points: tuple, shape: tuple[int, ...], chunk_shape: tuple[int, ...],
                    result_shape: tuple[int, ...] | None = None) -> "CoordinateIndexer":
        """The indexer of points already checked and non-negative (one flat intp array per axis),
        read into ``result_shape`` (default: flat, one element per point)."""
        ix = cls.__new__(cls)
        ix._group((len(points[0]),) if result_shape is None else result_shape, points, shape, chunk_shape)
        return ix

    def _group(self, result_shape: tuple, points: tuple, shape: tuple, chunk_shape: tuple) -> None:
        self.shape = result_shape
        self.is_scalar = result_shape == ()
        npoints = len(points[0]) if points else 0
        self.work_shape = (npoints,)
        self._chunks = _group_points(points, shape, chunk_shape, npoints)
        self.nchunks = len(self._chunks)

    @property
    def local(self) -> type:
        """The indexer class for one chunk's part of this selection (``chunk_sel``, shard-local)."""
        return type(self)

    def chunks(self) -> list[tuple[tuple, tuple, tuple, bool]]:
        """``(grid_coords, chunk_sel, out_sel, complete)`` per touched chunk: ``chunk_sel`` one
        array of chunk-local indices per axis, ``out_sel`` the points' positions (an array or,
        for a run, a slice) in the flat work array; never complete."""
        return self._chunks

    @staticmethod
    def local_shape(chunk_sel: tuple) -> tuple[int, ...]:
        return (len(chunk_sel[0]),)

    def to_result(self, work: np.ndarray) -> np.ndarray:
        return work.reshape(self.shape)

    def to_work(self, result: np.ndarray) -> np.ndarray:
        return result.reshape(self.work_shape)


def _group_points(points: tuple, shape: tuple, chunk_shape: tuple, npoints: int) -> list:
    """Points grouped by chunk: a stable sort on the chunk's linear grid index (a radix sort when
    the grid has at most 2**16 chunks), then one run of the sorted points per chunk."""
    if npoints == 0:
        return []
    grid = tuple(-(-n // c) for n, c in zip(shape, chunk_shape))
    local: Sequence[np.ndarray]
    cells, local = zip(*(np.divmod(p, c) for p, c in zip(points, chunk_shape)))
    linear = np.ravel_multi_index(cells, grid) if len(grid) > 1 else cells[0]
    if npoints == 1 or bool((linear[1:] >= linear[:-1]).all()):
        order, sorted_ids = None, linear
    else:
        ngrid = 1
        for g in grid:
            ngrid *= g
        keys = linear.astype(np.uint16) if ngrid <= 1 << 16 else linear
        order = np.argsort(keys, kind="stable")
        sorted_ids = linear[order]
        local = [q[order] for q in local]
    bounds = [0, *(np.flatnonzero(sorted_ids[1:] != sorted_ids[:-1]) + 1).tolist(), npoints]
    unravelled = np.unravel_index(sorted_ids[bounds[:-1]], grid)
    out = []
    for g, (s, e) in enumerate(zip(bounds[:-1], bounds[1:])):
        pos: slice | np.ndarray
        if order is None:
            pos = slice(s, e)
        else:
            pos = order[s:e]
            first = int(pos[0])
            if int(pos[-1]) - first == e - s - 1:  # a stable sort keeps pos increasing: a run
                pos = slice(first, first + e - s)
        coords = tuple(int(u[g]) for u in unravelled)
        out.append((coords, tuple(q[s:e] for q in local), (pos,), False))
    return out


def mask_indexer(mask: Any, shape: tuple[int, ...], chunk_shape: tuple[int, ...]) -> CoordinateIndexer:
    """The points where a bool ``mask`` of the array's shape is True, in C order. ``(mask,)``
    is the mask too, as in numpy (``a[mask]`` and ``a.vindex[mask,]`` pass a 1-tuple)."""
    if isinstance(mask, tuple) and len(mask) == 1:
        mask = mask[0]
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise IndexingError(f"mask selection needs a boolean array, got dtype {m.dtype}")
    if m.shape != tuple(shape):
        raise IndexingError(f"mask selection: the mask has shape {m.shape}, the array has shape {tuple(shape)}")
    if not shape:
        raise IndexingError("mask selection needs an array with at least one dimension")
    points = tuple(a.astype(np.intp, copy=False) for a in np.nonzero(m))
    return CoordinateIndexer.from_points(points, shape, chunk_shape)


class BlockIndexer(BasicIndexer):
    """A block selection: per axis an int or a step-1 slice counting chunks (negative counts
    from the end), ``...`` as in numpy. The result keeps every axis (``a.blocks[1]`` is the
    whole first-axis row of chunks number 1); it is the basic selection of those chunks' elements."""

    __slots__ = ()

    def __init__(self, selection: Any, shape: tuple[int, ...], chunk_shape: tuple[int, ...]):
        if any(_is_array_like(s) for s in (selection if isinstance(selection, tuple) else (selection,))):
            raise IndexingError("block selection takes ints and step-1 slices of chunk numbers, not arrays")
        per_dim, newaxes, _ = normalize_basic_selection(selection, len(shape))
        if newaxes:
            raise IndexingError("block selection does not support None (newaxis)")
        basic = []
        for axis, (sel, n, c) in enumerate(zip(per_dim, shape, chunk_shape)):
            nblocks = -(-n // c)
            if _is_int(sel):
                b = int(sel)
                if not -nblocks <= b < nblocks:
                    raise BoundsCheckError(f"block index {b} is out of bounds for axis {axis} with {nblocks} blocks")
                b %= nblocks
                basic.append(slice(b * c, min((b + 1) * c, n)))
            else:
                try:
                    start, stop, step = sel.indices(nblocks)
                except (TypeError, ValueError):
                    raise IndexingError(f"block selection: bad slice {sel!r}") from None
                if step != 1:
                    raise IndexingError(f"block selection: slice steps must be 1, got {sel!r}")
                stop = max(start, stop)
                basic.append(slice(start * c, min(stop * c, n)))
        super().__init__(tuple(basic), shape, chunk_shape)

    @property
    def local(self) -> type:
        return BasicIndexer  # chunk-local parts are plain slices


def mixed_indexer(selection: Any, shape: tuple[int, ...], chunk_shape: tuple[int, ...]) -> CoordinateIndexer:
    """numpy's advanced indexing with int arrays beside slices (``x[[1, 2], [3, 4]]`` on a 3-d
    array, ``x[:, [1, 2], [3, 4]]``, ``x[1, :, [0, 2]]``), as the points it picks.

    numpy's rule: the int arrays, the ints among them and each 1-d bool array (its ``nonzero``)
    broadcast together to a shape ``B``. When they sit on adjacent axes, ``B`` replaces those
    axes in place (``(n0, n1, n2)[:, [1, 2], [3, 4]]`` -> ``(n0, 2)``); otherwise ``B`` comes
    first, then the sliced axes in order (``x[[0, 1], :, [1, 2]]`` -> ``(2, n1)``). The result
    is the coordinate selection of every point, in that shape: each touched chunk is still read
    or written once, at the cost of one index per element and axis (``a.oindex`` /
    ``a.vindex`` are cheaper when they say the same). ``None`` and bool arrays of more than one
    dimension among them raise :class:`IndexingError`.
    """
    per_dim, newaxes, _ = normalize_basic_selection(selection, len(shape), arrays=True)
    if newaxes:
        raise IndexingError(f"None (newaxis) among index arrays {_describe(_as_tuple(selection))} is not supported: "
                            "use a.oindex[...] or a.vindex[...] and add the axis to the result")
    advanced = {}
    for axis, (sel, n) in enumerate(zip(per_dim, shape)):
        if _is_int(sel) or _is_array_like(sel):
            arr = np.asarray(sel)
            if arr.dtype == np.bool_:
                if arr.ndim != 1 or len(arr) != n:
                    raise IndexingError(f"a boolean index among index arrays must be 1-d with the length of its "
                                        f"axis ({n}); got shape {arr.shape} for axis {axis}: use a.oindex[...] "
                                        "per axis, a.vindex[...] for points or a full-shape boolean mask")
                arr = np.flatnonzero(arr)
            advanced[axis] = _wrap(_int_array(arr, f"axis {axis}"), n, axis)
    try:
        bshape = np.broadcast_shapes(*(a.shape for a in advanced.values()))
    except ValueError:
        raise IndexingError("the index arrays cannot be broadcast together, shapes "
                            + " ".join(str(a.shape) for a in advanced.values())
                            + ": use a.oindex[...] to index each axis on its own") from None
    axes = sorted(advanced)
    basic = [axis for axis in range(len(shape)) if axis not in advanced]
    # adjacency is read off the key as written: a literal ``...`` between two advanced indices
    # separates them even where it stands for no axes (numpy's rule)
    key = _as_tuple(selection)
    at = [i for i, s in enumerate(key) if _is_int(s) or _is_array_like(s)]
    adjacent = at[-1] - at[0] == len(at) - 1
    before = sum(1 for axis in basic if axis < axes[0]) if adjacent else 0
    ranges = {axis: np.arange(*per_dim[axis].indices(shape[axis])) for axis in basic}
    result = [len(ranges[axis]) for axis in basic]
    result[before:before] = bshape
    nb = len(bshape)
    b_axes = (1,) * before + bshape + (1,) * (len(result) - before - nb)
    index = []
    for axis in range(len(shape)):
        if axis in advanced:
            view = np.broadcast_to(advanced[axis], bshape).reshape(b_axes)
        else:
            pos = basic.index(axis)
            pos += nb if pos >= before else 0
            view = ranges[axis].reshape(tuple(len(ranges[axis]) if i == pos else 1 for i in range(len(result))))
        index.append(view)
    try:
        points = tuple(np.broadcast_to(v, tuple(result)).reshape(-1) for v in index)
    except MemoryError:
        raise SelectionTooLargeError(f"the selection picks {math.prod(result)} elements, too many to list their "
                                     "coordinates; use a.oindex[...] or split it") from None
    return CoordinateIndexer.from_points(points, shape, chunk_shape, tuple(result))


def _as_tuple(selection: Any) -> tuple:
    return selection if isinstance(selection, tuple) else (selection,)


def selection_kind(selection: Any, shape: tuple[int, ...]) -> str:
    """How ``a[selection]`` reads, as numpy would: ``"basic"``, ``"orthogonal"`` (one int or bool
    array among ints and slices, where numpy keeps the array's axis in place), ``"coordinate"``
    (int arrays or ints on every axis, no slices: numpy broadcasts them together), ``"mask"`` (a
    bool array of the array's shape) or ``"mixed"`` (index arrays beside slices otherwise:
    :func:`mixed_indexer`, numpy's rule for where the broadcast axes go)."""
    sel = selection if isinstance(selection, tuple) else (selection,)
    fancy = [i for i, s in enumerate(sel) if _is_array_like(s)]
    if not fancy:
        return "basic"
    arrays = [np.asarray(sel[i]) for i in fancy]
    if len(sel) == 1 and arrays[0].dtype == np.bool_ and arrays[0].shape == tuple(shape) and shape:
        return "mask"
    if len(fancy) == 1 and arrays[0].ndim == 1:
        # numpy treats ints next to an array as advanced indices too: its result matches the
        # orthogonal one when every int and the array are adjacent
        advanced = sorted(set(fancy) | {i for i, s in enumerate(sel) if _is_int(s)})
        if advanced[-1] - advanced[0] == len(advanced) - 1:
            return "orthogonal"
    elif (len(sel) == len(shape) and all(_is_int(s) or i in fancy for i, s in enumerate(sel))
          and not any(a.dtype == np.bool_ for a in arrays)):
        return "coordinate"
    return "mixed"


def _describe(sel: tuple) -> str:
    parts = []
    for s in sel:
        if _is_array_like(s):
            a = np.asarray(s)
            parts.append(f"{type(s).__name__}[{a.dtype}]{a.shape}")
        else:
            parts.append(repr(s))
    return "(" + ", ".join(parts) + ")"


# --- fields of structured arrays ----------------------------------------------------------------

def pop_fields(selection: Any) -> tuple[Any, Any]:
    """Split field names off a selection: ``a["x"]``, ``a[["x", "y"]]``, ``a["x", 1:3]``."""
    if isinstance(selection, str):
        return selection, Ellipsis
    if isinstance(selection, list) and selection and all(isinstance(s, str) for s in selection):
        return selection, Ellipsis
    if isinstance(selection, tuple):
        names = [s for s in selection if isinstance(s, str)]
        if names:
            rest = tuple(s for s in selection if not isinstance(s, str))
            return (names[0] if len(names) == 1 else names), (rest if rest else Ellipsis)
    return None, selection


def field_dtype(dtype: np.dtype, fields) -> tuple[np.dtype, tuple]:
    """The dtype (and sub-array shape) of values written to ``fields`` of a structured dtype."""
    if fields is None:
        return dtype, ()
    if dtype.names is None:
        raise IndexingError(f"fields= needs a structured data type; this array has {dtype}")
    names = [fields] if isinstance(fields, str) else list(fields)
    if not names or len(set(names)) != len(names):
        raise IndexingError(f"fields= must name distinct fields, got {fields!r}")
    missing = [n for n in names if n not in dtype.names]
    if missing:
        raise IndexingError(f"no field(s) {missing} in the data type; fields are {list(dtype.names)}")
    if isinstance(fields, str):
        field = dtype[fields]
        return field.base, field.shape
    return np.dtype([(n, dtype[n]) for n in names]), ()


def select_fields(records: np.ndarray, fields) -> np.ndarray:
    """``records[fields]`` as numpy gives it, after checking the names."""
    field_dtype(records.dtype, fields)
    return records[fields]
