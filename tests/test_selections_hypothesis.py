"""Property tests of orthogonal, coordinate, mask and block selections, reads and writes, with
numpy as the oracle.

Every test builds a random array (1-d to 4-d, zero-length dimensions, chunk shapes that leave edge
chunks, several data types and fill values, Zarr v3 sharded or not, Zarr v2 in C or F order) in a
``MemoryStore``, mirrors it in a numpy array, and applies the same random selection to both:

- orthogonal (``a.oindex``, ``get/set_orthogonal_selection``): per axis an int, a slice with any
  step, an int list or array (unsorted, repeated, negative) or a bool array; ``...`` and ``None``;
  the oracle is ``x[np.ix_(...)]``;
- coordinate (``a.vindex``, ``get/set_coordinate_selection``): ints and int arrays of any
  broadcast shape; the oracle is ``x[tuple(arrays)]``;
- mask (``a.vindex[mask]``, ``a[mask]``, ``get/set_mask_selection``); the oracle is ``x[mask]``;
- block (``a.blocks``, ``get/set_block_selection``): per axis an int or a step-1 slice counting
  stored chunks (shards when sharded); the oracle picks the elements whose chunk number along
  each axis is in ``range(nblocks)[index]``;
- ``a[sel]`` for mixes of ints, slices, arrays, ``...`` and ``None``: it either gives numpy's own
  ``x[sel]`` or, for the mixes the spec calls ambiguous, raises an ``IndexingError`` naming
  ``oindex`` and ``vindex``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_indexing_hypothesis import chunks_not_all_fill, fill_strategy, random_values, same, values_for

import zarrsync
from zarrsync.errors import IndexingError
from zarrsync.storage import MemoryStore

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DTYPES = ["bool", "int8", "uint16", "int32", "int64", "uint64", "float32", "float64", "complex64", ">i4", ">f8"]
SIDES = {1: 14, 2: 8, 3: 5, 4: 4}


# --- random arrays -----------------------------------------------------------------------------
class Case:
    """A zarrsync array, its numpy mirror, and the shape of its stored chunks (shards if sharded)."""

    def __init__(self, a, x, stored_chunks, rng, label):
        self.a, self.x, self.stored_chunks, self.rng, self.label = a, x, stored_chunks, rng, label

    def __repr__(self):
        return f"Case({self.label}, shape={self.x.shape}, dtype={self.x.dtype}, stored chunks={self.stored_chunks})"


@st.composite
def cases(draw, min_ndim: int = 1, max_ndim: int = 4):
    ndim = draw(st.integers(min_ndim, max_ndim))
    shape = tuple(draw(st.integers(0, SIDES[ndim])) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, s + 1)) for s in shape)
    zarr_format = draw(st.sampled_from([2, 3]))
    layout = draw(st.sampled_from(["plain", "sharded"] if zarr_format == 3 else ["C", "F"]))
    dtype_spelling = draw(st.sampled_from(DTYPES))
    dtype = np.dtype(dtype_spelling).newbyteorder("=")
    fill = draw(fill_strategy(dtype))
    compressors = draw(st.sampled_from(["auto", None]))
    kwargs = dict(shape=shape, dtype=dtype_spelling, chunks=chunks, fill_value=fill, compressors=compressors,
                  zarr_format=zarr_format)
    stored = chunks
    if layout == "sharded":
        stored = tuple(c * draw(st.integers(1, 3)) for c in chunks)
        kwargs["shards"] = stored
    elif zarr_format == 2:
        kwargs["order"] = layout
    a = zarrsync.create_array(MemoryStore(), **kwargs)
    assert a.dtype == dtype
    x = np.empty(shape, dtype=dtype)
    x[...] = a.metadata.chunk_spec().fill_value  # a v2 fill_value=None is stored null and reads as zero
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    # write a random box of random values (possibly all, possibly nothing)
    box = []
    for n in shape:
        lo = draw(st.integers(0, n))
        box.append(slice(lo, draw(st.integers(lo, n))))
    box = tuple(box)
    if draw(st.booleans()):
        data = random_values(rng, dtype, x[box].shape)
        a[box] = data
        x[box] = data
    return Case(a, x, stored, rng, f"v{zarr_format} {layout}")


def stored_grid(a) -> set:
    """Grid coordinates of the chunks (shards) stored for the root array ``a``."""
    out = set()
    for key in a.store.list():
        if key in ("zarr.json", ".zarray", ".zattrs", ".zgroup"):
            continue
        parts = key[2:].split("/") if a.metadata.zarr_format == 3 else key.split(".")
        assert len(parts) == a.ndim, key
        out.add(tuple(int(p) for p in parts))
    return out


def check_whole(case: Case) -> None:
    """The array equals its mirror bit for bit, and exactly the chunks holding more than the fill
    value are stored (``write_empty_chunks`` is off)."""
    same(case.a[...], case.x)
    assert stored_grid(case.a) == chunks_not_all_fill(case.x, case.stored_chunks, case.a.metadata.chunk_spec().fill_value)


def int_dtypes_for(n: int):
    """Integer dtypes that hold every index in ``[-n, n)``."""
    return st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.intp]) if n < 127 else st.just(np.intp)


# --- orthogonal selections -----------------------------------------------------------------------
@st.composite
def orth_index(draw, n: int):
    """One axis's orthogonal index for an axis of length ``n``."""
    kinds = ["slice", "list", "array", "bool"] + (["int"] if n else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        i = draw(st.integers(-n, n - 1))
        return draw(st.sampled_from([int, np.int64, np.int32]))(i)
    if kind == "slice":
        bound = st.one_of(st.none(), st.integers(-n - 3, n + 3))
        step = st.one_of(st.none(), st.integers(-5, 5).filter(bool))
        return slice(draw(bound), draw(bound), draw(step))
    if kind == "bool":
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    values = draw(st.lists(st.integers(-n, n - 1), max_size=8)) if n else []
    if kind == "list":
        return values
    dtype = draw(int_dtypes_for(n))
    if values and min(values) >= 0 and draw(st.booleans()):
        dtype = np.uint8 if n < 255 else np.uintp
    return np.array(values, dtype=dtype)


@st.composite
def with_ellipsis_and_none(draw, per_dim: list, ndim: int):
    """``per_dim`` (one entry per axis) as a selection, possibly with a run of entries replaced
    by ``...``, trailing entries dropped, and ``None`` inserted. Returns ``(selection, expanded)``:
    ``expanded`` is the same selection with ``...`` and the dropped tail spelled out as full slices."""
    tokens: list = list(per_dim)
    how = draw(st.sampled_from(["full", "ellipsis", "truncate"]))
    if how == "ellipsis":
        i = draw(st.integers(0, len(tokens)))
        j = draw(st.integers(i, len(tokens)))
        tokens[i:j] = [Ellipsis]
    elif how == "truncate":
        tokens = tokens[:draw(st.integers(0, len(tokens)))]
    for _ in range(draw(st.integers(0, 2))):
        tokens.insert(draw(st.integers(0, len(tokens))), None)
    n_real = sum(1 for t in tokens if t is not None and t is not Ellipsis)
    expanded: list = []
    for t in tokens:
        if t is Ellipsis:
            expanded.extend([slice(None)] * (ndim - n_real))
        else:
            expanded.append(t)
    expanded.extend([slice(None)] * (ndim - sum(1 for t in expanded if t is not None)))
    sel = tokens[0] if len(tokens) == 1 and draw(st.booleans()) else tuple(tokens)  # maybe a bare index
    return sel, (expanded, any(t is Ellipsis for t in tokens))


def _is_int(t) -> bool:
    return isinstance(t, (int, np.integer)) and not isinstance(t, (bool, np.bool_))


def axis_positions(t, n: int) -> np.ndarray:
    """The positions an orthogonal index ``t`` picks along an axis of length ``n``, in order."""
    if _is_int(t):
        return np.arange(n)[[int(t)]]
    if isinstance(t, slice):
        return np.arange(n)[t]
    arr = np.asarray(t)
    if arr.dtype == bool:
        return np.flatnonzero(arr)
    return np.arange(n)[arr.astype(np.intp)]


def orth_oracle(x: np.ndarray, expanded) -> tuple:
    """``(ix, post)``: ``x[ix]`` (``ix`` from ``np.ix_``) holds one axis per array dimension;
    ``[post]`` of that drops int-indexed axes and inserts ``None`` ones, giving numpy's result.
    ``expanded`` is ``(entries, has_ellipsis)`` from :func:`with_ellipsis_and_none`."""
    expanded, has_ellipsis = expanded
    real = [t for t in expanded if t is not None]
    assert len(real) == x.ndim
    ix = np.ix_(*(axis_positions(t, n).astype(np.intp) for t, n in zip(real, x.shape)))
    post = tuple(None if t is None else (0 if _is_int(t) else slice(None)) for t in expanded)
    if has_ellipsis:
        post += (Ellipsis,)  # numpy returns a 0-d array, not a scalar, when there is an ellipsis
    return ix, post


@st.composite
def orthogonal_selections(draw, shape: tuple):
    per_dim = [draw(orth_index(n)) for n in shape]
    return draw(with_ellipsis_and_none(per_dim, len(shape)))


@SETTINGS
@given(case=cases(), data=st.data())
def test_orthogonal_read(case, data):
    a, x = case.a, case.x
    for _ in range(2):
        sel, expanded = data.draw(orthogonal_selections(x.shape), label="selection")
        ix, post = orth_oracle(x, expanded)
        want = x[ix][post]
        same(a.oindex[sel], want)
        same(a.get_orthogonal_selection(sel), want)
        same(a.oindex.get(sel), want)


@SETTINGS
@given(case=cases(), data=st.data())
def test_orthogonal_write(case, data):
    a, x = case.a, case.x
    for i in range(2):  # the second write merges into chunks the first one wrote
        sel, expanded = data.draw(orthogonal_selections(x.shape), label="selection")
        ix, post = orth_oracle(x, expanded)
        result_shape = np.shape(x[ix][post])
        value = data.draw(values_for(result_shape, a.dtype, case.rng), label="value")
        # numpy, with repeated indices: the last value wins
        x[ix] = np.broadcast_to(np.asarray(value, dtype=x.dtype), result_shape).reshape(x[ix].shape)
        setter = data.draw(st.sampled_from(["oindex[]", "set_orthogonal_selection", "oindex.set"]))
        if setter == "oindex[]":
            a.oindex[sel] = value
        elif setter == "oindex.set":
            a.oindex.set(sel, value)
        else:
            a.set_orthogonal_selection(sel, value)
        check_whole(case)


# --- coordinate selections -------------------------------------------------------------------------
@st.composite
def coordinate_selections(draw, shape: tuple):
    """Per axis an int or an int array (or nested list) broadcastable to a common shape."""
    has_zero = 0 in shape
    bshape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    if has_zero and 0 not in bshape:
        bshape = bshape + (0,)
    sel = []
    for n in shape:
        if n and not has_zero and draw(st.integers(0, 3)) == 0:
            sel.append(int(draw(st.integers(-n, n - 1))))
            continue
        if has_zero:
            ashape = bshape  # the zero-length axis forces zero points: every array must be empty
        else:
            drop = draw(st.integers(0, len(bshape)))
            ashape = tuple(1 if draw(st.booleans()) else s for s in bshape[drop:])
        size = int(np.prod(ashape))
        values = draw(st.lists(st.integers(-n, n - 1), min_size=size, max_size=size)) if n else []
        arr = np.array(values, dtype=draw(int_dtypes_for(n))).reshape(ashape)
        sel.append(arr.tolist() if arr.ndim and arr.size and draw(st.booleans()) else arr)
    return tuple(sel)


def np_coords(sel: tuple) -> tuple:
    return tuple(s if isinstance(s, int) else np.asarray(s, dtype=np.intp) for s in sel)


@SETTINGS
@given(case=cases(), data=st.data())
def test_coordinate_read(case, data):
    a, x = case.a, case.x
    for _ in range(2):
        sel = data.draw(coordinate_selections(x.shape), label="selection")
        want = x[np_coords(sel)]
        same(a.vindex[sel], want)
        same(a.get_coordinate_selection(sel), want)
        same(a.vindex.get(sel), want)
        if x.ndim == 1 and not isinstance(sel[0], int) and np.ndim(sel[0]) >= 1:
            same(a.vindex[sel[0]], want)  # a bare array on a 1-d array


@SETTINGS
@given(case=cases(), data=st.data())
def test_coordinate_write(case, data):
    a, x = case.a, case.x
    for _ in range(2):
        sel = data.draw(coordinate_selections(x.shape), label="selection")
        coords = np_coords(sel)
        value = data.draw(values_for(np.shape(x[coords]), a.dtype, case.rng), label="value")
        x[coords] = value  # repeated points: the last value wins
        setter = data.draw(st.sampled_from(["vindex[]", "set_coordinate_selection", "vindex.set"]))
        if setter == "vindex[]":
            a.vindex[sel] = value
        elif setter == "vindex.set":
            a.vindex.set(sel, value)
        else:
            a.set_coordinate_selection(sel, value)
        check_whole(case)


# --- mask selections ------------------------------------------------------------------------------
@st.composite
def masks(draw, shape: tuple, rng):
    density = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    return rng.random(shape) < density


@SETTINGS
@given(case=cases(), data=st.data())
def test_mask_read(case, data):
    a, x = case.a, case.x
    mask = data.draw(masks(x.shape, case.rng), label="mask")
    want = x[mask]
    same(a.get_mask_selection(mask), want)
    same(a.vindex[mask], want)
    same(a.vindex.get(mask), want)
    same(a[mask], want)


@SETTINGS
@given(case=cases(), data=st.data())
def test_mask_write(case, data):
    a, x = case.a, case.x
    for _ in range(2):
        mask = data.draw(masks(x.shape, case.rng), label="mask")
        kind = data.draw(st.sampled_from(["scalar", "values"]))
        value = (random_values(case.rng, x.dtype, ())[()] if kind == "scalar"
                 else random_values(case.rng, x.dtype, (int(mask.sum()),)))
        x[mask] = value
        setter = data.draw(st.sampled_from(["set_mask_selection", "vindex[]", "a[]", "vindex.set"]))
        if setter == "set_mask_selection":
            a.set_mask_selection(mask, value)
        elif setter == "vindex[]":
            a.vindex[mask] = value
        elif setter == "vindex.set":
            a.vindex.set(mask, value)
        else:
            a[mask] = value
        check_whole(case)


# --- block selections -------------------------------------------------------------------------------
@st.composite
def block_index(draw, nblocks: int):
    if nblocks and draw(st.booleans()):
        return int(draw(st.integers(-nblocks, nblocks - 1)))
    bound = st.one_of(st.none(), st.integers(-nblocks - 2, nblocks + 2))
    return slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1])))


@st.composite
def block_selections(draw, shape: tuple, stored: tuple):
    """``(selection, positions)``: a block selection and, per axis, the element positions it
    covers (the elements whose chunk number is in ``range(nblocks)[index]``)."""
    nblocks = [-(-n // c) for n, c in zip(shape, stored)]
    per_dim = [draw(block_index(nb)) for nb in nblocks]
    positions = []
    for t, n, c, nb in zip(per_dim, shape, stored, nblocks):
        picked = range(nb)[t]
        picked = [picked] if isinstance(picked, int) else list(picked)
        positions.append(np.flatnonzero(np.isin(np.arange(n) // c, picked)))
    tokens = list(per_dim)
    how = draw(st.sampled_from(["full", "ellipsis", "truncate"]))
    if how == "ellipsis":
        i = draw(st.integers(0, len(tokens)))
        j = draw(st.integers(i, len(tokens)))
        # ... stands for whole axes: their positions become every element
        for d in range(i, j):
            positions[d] = np.arange(shape[d])
        tokens[i:j] = [Ellipsis]
    elif how == "truncate":
        k = draw(st.integers(0, len(tokens)))
        for d in range(k, len(tokens)):
            positions[d] = np.arange(shape[d])
        tokens = tokens[:k]
    sel = tokens[0] if len(tokens) == 1 and draw(st.booleans()) else tuple(tokens)
    return sel, np.ix_(*positions)


@SETTINGS
@given(case=cases(), data=st.data())
def test_block_read(case, data):
    a, x = case.a, case.x
    sel, ix = data.draw(block_selections(x.shape, case.stored_chunks), label="selection")
    want = x[ix]
    same(a.blocks[sel], want)
    same(a.get_block_selection(sel), want)
    same(a.blocks.get(sel), want)


@SETTINGS
@given(case=cases(), data=st.data())
def test_block_write(case, data):
    a, x = case.a, case.x
    for _ in range(2):
        sel, ix = data.draw(block_selections(x.shape, case.stored_chunks), label="selection")
        value = data.draw(values_for(x[ix].shape, a.dtype, case.rng), label="value")
        x[ix] = value
        setter = data.draw(st.sampled_from(["blocks[]", "set_block_selection", "blocks.set"]))
        if setter == "blocks[]":
            a.blocks[sel] = value
        elif setter == "blocks.set":
            a.blocks.set(sel, value)
        else:
            a.set_block_selection(sel, value)
        check_whole(case)


# --- a[sel]: numpy's own semantics, or a clear refusal ---------------------------------------------
@st.composite
def mixed_selections(draw, shape: tuple):
    """Ints, slices, 1-d int or bool arrays (0, 1 or several), ``...`` and ``None`` in any mix;
    sometimes int arrays on every axis broadcast together."""
    if draw(st.integers(0, 4)) == 0:  # int arrays on every axis (coordinate)
        return draw(coordinate_selections(shape))
    per_dim = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "array", "array"] if n else ["slice", "array"]))
        if kind == "array":
            per_dim.append(draw(orth_index(n).filter(lambda t: not _is_int(t) and not isinstance(t, slice))))
        elif kind == "int":
            per_dim.append(int(draw(st.integers(-n, n - 1))))
        else:
            per_dim.append(draw(orth_index(n).filter(lambda t: isinstance(t, slice))))
    sel, _ = draw(with_ellipsis_and_none(per_dim, len(shape)))
    return sel


def must_be_supported(sel, ndim: int) -> bool:
    """The rule for the mixes ``a[sel]`` must read as numpy does: no array (basic); one 1-d int
    or bool array whose axis numpy keeps in place (every int next to it, nothing but ints between
    them, ``None`` anywhere); int arrays and ints on every axis; and (issue 10) any other mix of
    int arrays, 1-d bool arrays, ints, slices and ``...`` (numpy's rule for where the broadcast
    axes go). Refused: ``None`` in those other mixes, and bool arrays of more than one dimension
    beside other indices."""
    tokens = sel if isinstance(sel, tuple) else (sel,)
    arrays = [i for i, t in enumerate(tokens) if isinstance(t, (list, np.ndarray))]
    if not arrays:
        return True
    if len(arrays) == 1 and np.ndim(tokens[arrays[0]]) == 1:
        advanced = sorted(arrays + [i for i, t in enumerate(tokens) if _is_int(t)])
        if advanced[-1] - advanced[0] == len(advanced) - 1:
            return True
    if (len(tokens) == ndim and all(_is_int(t) or isinstance(t, (list, np.ndarray)) for t in tokens)
            and not any(np.asarray(tokens[i]).dtype == bool for i in arrays)):
        return True
    return (not any(t is None for t in tokens)
            and not any(np.asarray(tokens[i]).dtype == bool and np.ndim(tokens[i]) != 1 for i in arrays))


@SETTINGS
@given(case=cases(), data=st.data())
def test_getitem_and_setitem_follow_numpy(case, data):
    a, x = case.a, case.x
    sel = data.draw(mixed_selections(x.shape), label="selection")
    def as_numpy(t):  # numpy reads `[]` as a float array; zarrsync, as zarr-python, as no index
        return np.array(t, dtype=np.intp) if isinstance(t, list) else t

    np_sel = tuple(as_numpy(t) for t in sel) if isinstance(sel, tuple) else as_numpy(sel)
    try:
        want = x[np_sel]
    except IndexError:  # numpy refuses it (arrays that do not broadcast together): so does zarrsync
        with pytest.raises(IndexingError):
            a[sel]
        return
    if not must_be_supported(sel, x.ndim):
        with pytest.raises(IndexingError) as info:
            a[sel]
        assert "oindex" in str(info.value) and "vindex" in str(info.value)
        with pytest.raises(IndexingError):
            a[sel] = 0
        same(a[...], x)  # the refused write changed nothing
        return
    same(a[sel], want)
    value = data.draw(values_for(np.shape(want), a.dtype, case.rng), label="value")
    x[np_sel] = value
    a[sel] = value
    check_whole(case)


# --- out= and order="F" for every getter --------------------------------------------------------------
@st.composite
def any_read(draw, case: Case):
    """``(name, read(array, **kwargs), numpy result)`` for a random getter and selection."""
    x = case.x
    kind = draw(st.sampled_from(["orthogonal", "coordinate", "mask", "block"]))
    if kind == "orthogonal":
        sel, expanded = draw(orthogonal_selections(x.shape))
        ix, post = orth_oracle(x, expanded)
        reads = [lambda a, **kw: a.get_orthogonal_selection(sel, **kw), lambda a, **kw: a.oindex.get(sel, **kw)]
        want = x[ix][post]
    elif kind == "coordinate":
        sel = draw(coordinate_selections(x.shape))
        reads = [lambda a, **kw: a.get_coordinate_selection(sel, **kw), lambda a, **kw: a.vindex.get(sel, **kw)]
        want = x[np_coords(sel)]
    elif kind == "mask":
        sel = draw(masks(x.shape, case.rng))
        reads = [lambda a, **kw: a.get_mask_selection(sel, **kw), lambda a, **kw: a.vindex.get(sel, **kw)]
        want = x[sel]
    else:
        sel, ix = draw(block_selections(x.shape, case.stored_chunks))
        reads = [lambda a, **kw: a.get_block_selection(sel, **kw), lambda a, **kw: a.blocks.get(sel, **kw)]
        want = x[ix]
    return kind, draw(st.sampled_from(reads)), want


@SETTINGS
@given(case=cases(), data=st.data())
def test_out_for_every_getter(case, data):
    """``out=`` (C, F, strided or reversed) is filled in place and returned, for every getter."""
    kind, read, want = data.draw(any_read(case), label="read")
    shape = np.shape(want)
    layout = data.draw(st.sampled_from(["C", "F", "strided", "reversed"]))
    if layout == "C":
        buf = np.empty(shape, dtype=case.a.dtype)
    elif layout == "F":
        buf = np.empty(shape, dtype=case.a.dtype, order="F")
    elif layout == "strided":
        buf = np.empty(tuple(2 * s + 1 for s in shape), dtype=case.a.dtype)[tuple(slice(1, None, 2) for _ in shape)
                                                                          + (Ellipsis,)]
    else:
        buf = np.empty(shape, dtype=case.a.dtype)[tuple(slice(None, None, -1) for _ in shape) + (Ellipsis,)]
    buf[...] = random_values(case.rng, case.a.dtype, shape)  # garbage that must be overwritten
    assert read(case.a, out=buf) is buf
    same(buf, np.asarray(want))


@SETTINGS
@given(case=cases(), data=st.data())
def test_reads_in_fortran_order(case, data):
    """With ``order="F"`` every getter returns the same values."""
    kind, read, want = data.draw(any_read(case), label="read")
    with zarrsync.config.context(order="F"):
        got = read(case.a)
    same(got, want)
