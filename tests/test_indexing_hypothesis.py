"""Property tests of basic selections (reads and writes), with numpy as the oracle.

Every test builds a random array (0-d to 4-d, zero-length dimensions, chunk shapes that leave
edge chunks, every supported data type, random fill values) in a ``MemoryStore``, mirrors it in
a numpy array, applies the same random basic selection (ints, negative ints, slices with any
start/stop/step including negative steps, ``...``, ``None``) to both and compares.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarrsync
from zarrsync.errors import BoundsCheckError, IndexingError, ZarrsyncError
from zarrsync.storage import MemoryStore

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DTYPES = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
    ">i4", "<u2", ">f8", "f4", "i8", "c16",  # numpy spellings, big-endian ones stored big-endian
]


# --- random data --------------------------------------------------------------------------------
def random_values(rng: np.random.Generator, dtype: np.dtype, shape: tuple) -> np.ndarray:
    """Random values of ``dtype`` (no NaN: NaN only ever comes from a fill value)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 100).astype(dtype)
    real = rng.standard_normal(shape) * 100
    imag = rng.standard_normal(shape) * 100
    return (real + 1j * imag).astype(dtype)


def fill_strategy(dtype: np.dtype):
    """None (the type's zero), zero, one, a random value, or NaN for floats."""
    choices = [st.none(), st.just(0), st.just(1), st.integers(0, 2**32).map(
        lambda seed: random_values(np.random.default_rng(seed), dtype, ())[()])]
    if dtype.kind == "f":
        choices.append(st.just(float("nan")))
    if dtype.kind == "b":
        choices = [st.none(), st.just(False), st.just(True)]
    return st.one_of(*choices)


# --- random arrays -----------------------------------------------------------------------------
@st.composite
def arrays(draw, max_side: int = 7):
    """(zarrsync array, numpy mirror) with part of the array written, the rest fill."""
    ndim = draw(st.integers(0, 4))
    side = {0: max_side, 1: 12, 2: 9, 3: 7, 4: 5}[ndim]
    shape = tuple(draw(st.lists(st.integers(0, side), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, s + 1)) for s in shape)
    dtype_spelling = draw(st.sampled_from(DTYPES))
    dtype = np.dtype(dtype_spelling).newbyteorder("=")
    fill = draw(fill_strategy(dtype))
    compressors = draw(st.sampled_from(["auto", None]))
    a = zarrsync.create_array(MemoryStore(), shape=shape, dtype=dtype_spelling, chunks=chunks,
                              fill_value=fill, compressors=compressors)
    assert a.dtype == dtype
    expected = np.full(shape, a.fill_value, dtype=dtype)
    # numpy turns a NaN fill into the canonical NaN; keep zarrsync's exact fill bits
    expected[...] = a.fill_value
    # write a random box of random values (possibly the whole array, possibly nothing)
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    box = []
    for n in shape:
        lo = draw(st.integers(0, n))
        hi = draw(st.integers(lo, n))
        box.append(slice(lo, hi))
    box = tuple(box)
    if draw(st.booleans()):
        data = random_values(rng, dtype, expected[box].shape)
        a[box] = data
        expected[box] = data
    return a, expected, rng


def dim_index(n: int):
    """One index for a dimension of length ``n``: an int (Python or numpy) or a slice."""
    bound = st.one_of(st.none(), st.integers(-n - 3, n + 3))
    step = st.one_of(st.none(), st.integers(-5, 5).filter(bool))
    slices = st.builds(slice, bound, bound, step)
    if n == 0:
        return slices
    ints = st.integers(-n, n - 1)
    ints = st.one_of(ints, ints.map(np.int64), ints.map(np.int16))
    return st.one_of(ints, slices)


@st.composite
def selections(draw, shape: tuple):
    """A random basic selection for ``shape``: ints, slices, at most one ``...``, ``None``s."""
    per_dim = [draw(dim_index(n)) for n in shape]
    sel: list = list(per_dim)
    how = draw(st.sampled_from(["full", "ellipsis", "truncate"]))
    if how == "ellipsis":
        i = draw(st.integers(0, len(sel)))
        j = draw(st.integers(i, len(sel)))
        sel[i:j] = [Ellipsis]
    elif how == "truncate":
        sel = sel[:draw(st.integers(0, len(sel)))]
    for _ in range(draw(st.integers(0, 2))):
        sel.insert(draw(st.integers(0, len(sel))), None)
    if len(sel) == 1 and draw(st.booleans()):
        return sel[0]  # a bare index, not wrapped in a tuple
    return tuple(sel)


def same(result, expected) -> None:
    """``result`` equals the numpy result in kind (scalar or array), shape, dtype and value."""
    assert isinstance(result, np.ndarray) == isinstance(expected, np.ndarray), (type(result), type(expected))
    assert np.shape(result) == np.shape(expected)
    assert np.asarray(result).dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(result, expected)
    # bit for bit (a NaN fill keeps its payload; -0.0 stays -0.0)
    assert np.asarray(result).tobytes() == np.ascontiguousarray(expected).tobytes()


def stored_chunks(a) -> set:
    """Grid coordinates of the chunks stored in the root array ``a`` (keys ``c/i/j/...``)."""
    keys = set(a.store.list_prefix("c"))
    if a.ndim == 0:
        return {()} if "c" in keys else set()
    out = set()
    for key in keys:
        parts = key.split("/")
        assert parts[0] == "c" and len(parts) == a.ndim + 1, key
        out.add(tuple(int(p) for p in parts[1:]))
    return out


def chunks_not_all_fill(expected: np.ndarray, chunks: tuple, fill) -> set:
    """Oracle for ``write_empty_chunks=False``: the chunks that hold anything but the fill bits."""
    itemsize = expected.dtype.itemsize
    fill_bytes = np.array(fill, dtype=expected.dtype).reshape(-1).view(np.uint8)
    grid = [range(math.ceil(s / c)) for s, c in zip(expected.shape, chunks)]
    out = set()
    for coords in itertools.product(*grid):
        region = expected[tuple(slice(i * c, (i + 1) * c) for i, c in zip(coords, chunks))]
        raw = np.ascontiguousarray(region).reshape(-1).view(np.uint8).reshape(-1, itemsize)
        if not (raw == fill_bytes).all():
            out.add(coords)
    return out


# --- reads ---------------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_read_matches_numpy(data):
    a, expected, _ = data.draw(arrays())
    for _ in range(3):
        sel = data.draw(selections(expected.shape))
        same(a[sel], expected[sel])
        same(a.get_basic_selection(sel), expected[sel])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_read_in_fortran_order(data):
    """With ``order="F"`` reads return the same values, laid out in Fortran order."""
    a, expected, _ = data.draw(arrays())
    sel = data.draw(selections(expected.shape))
    with zarrsync.config.context(order="F"):
        got = a[sel]
    same(got, expected[sel])
    if isinstance(got, np.ndarray):
        assert got.flags.f_contiguous


@SETTINGS
@given(data=st.data())
def test_read_into_out_buffer(data):
    """``out=`` is filled in place and returned as is, also when it is a strided or F-order view."""
    a, expected, rng = data.draw(arrays())
    sel = data.draw(selections(expected.shape))
    want = expected[sel]
    shape = np.shape(want)
    layout = data.draw(st.sampled_from(["C", "F", "strided", "reversed"]))
    if layout == "C":
        buf = np.empty(shape, dtype=a.dtype)
    elif layout == "F":
        buf = np.empty(shape, dtype=a.dtype, order="F")
    elif layout == "strided":
        big = np.empty(tuple(2 * s + 1 for s in shape), dtype=a.dtype)
        buf = big[tuple(slice(1, None, 2) for _ in shape) + (Ellipsis,)]  # a view even when 0-d
    else:
        buf = np.empty(shape, dtype=a.dtype)[tuple(slice(None, None, -1) for _ in shape) + (Ellipsis,)]
    assert buf.shape == shape
    buf[...] = random_values(rng, a.dtype, shape)  # garbage that must be overwritten
    result = a.get_basic_selection(sel, out=buf)
    assert result is buf
    np.testing.assert_array_equal(buf, want)
    assert np.ascontiguousarray(buf).tobytes() == np.ascontiguousarray(want).tobytes()


# --- writes --------------------------------------------------------------------------------------
@st.composite
def values_for(draw, target_shape: tuple, dtype: np.dtype, rng: np.random.Generator):
    """A scalar or an array that broadcasts (numpy rules) to ``target_shape``."""
    kind = draw(st.sampled_from(["python scalar", "numpy scalar", "0-d", "array", "broadcast"]))
    if kind in ("python scalar", "numpy scalar", "0-d"):
        v = random_values(rng, dtype, ())
        return {"python scalar": v.item(), "numpy scalar": v[()], "0-d": v}[kind]
    if kind == "array":
        return random_values(rng, dtype, target_shape)
    # drop some leading axes, shrink some axes to 1
    drop = draw(st.integers(0, len(target_shape)))
    shape = [1 if draw(st.booleans()) else n for n in target_shape[drop:]]
    return random_values(rng, dtype, tuple(shape))


@SETTINGS
@given(data=st.data())
def test_write_matches_numpy(data):
    a, expected, rng = data.draw(arrays())
    for _ in range(2):  # the second write merges into chunks the first one wrote
        sel = data.draw(selections(expected.shape))
        value = data.draw(values_for(np.shape(expected[sel]), a.dtype, rng))
        expected[sel] = value
        a[sel] = value
        same(a[...], expected)
    # write_empty_chunks is off: exactly the chunks holding anything but the fill are stored
    assert stored_chunks(a) == chunks_not_all_fill(expected, a.chunks, a.fill_value)


@SETTINGS
@given(data=st.data())
def test_set_basic_selection_with_fill_and_reread(data):
    """Writing the fill value through a selection, then reading through another selection."""
    a, expected, _ = data.draw(arrays())
    sel = data.draw(selections(expected.shape))
    a.set_basic_selection(sel, a.fill_value)
    expected[sel] = a.fill_value
    sel2 = data.draw(selections(expected.shape))
    same(a.get_basic_selection(sel2), expected[sel2])
    same(a[...], expected)
    assert stored_chunks(a) == chunks_not_all_fill(expected, a.chunks, a.fill_value)


# --- index arrays beside slices (numpy's mixed advanced indexing) -------------------------------
@st.composite
def mixed_selections(draw, shape: tuple):
    """Two or more int arrays (and ints) beside slices, on any axes: adjacent ones keep their
    broadcast axes in place, separated ones move them first. Arrays broadcast to a random shape."""
    axes = [d for d, n in enumerate(shape) if n > 0]
    chosen = draw(st.lists(st.sampled_from(axes), min_size=2, max_size=len(axes), unique=True))
    bshape = tuple(draw(st.lists(st.integers(0, 3), min_size=1, max_size=2)))
    sel: list = [draw(dim_index(n)) if d not in chosen else None for d, n in enumerate(shape)]  # ints: advanced too
    for d in chosen:
        n = shape[d]
        if draw(st.integers(0, 4)) == 0:
            sel[d] = draw(st.integers(-n, n - 1))  # an int among the arrays: broadcast as 0-d
            continue
        drop = draw(st.integers(0, len(bshape)))
        ishape = tuple(1 if draw(st.booleans()) else k for k in bshape[drop:])
        sel[d] = np.asarray(draw(st.lists(st.integers(-n, n - 1), min_size=math.prod(ishape),
                                          max_size=math.prod(ishape))), dtype=np.int64).reshape(ishape)
    if draw(st.booleans()) and sel and isinstance(sel[-1], slice) and sel[-1] == slice(None):
        sel[-1] = Ellipsis
    return tuple(sel)


@st.composite
def arrays_2d_up(draw):
    a, expected, rng = draw(arrays())
    if expected.ndim < 2 or sum(n > 0 for n in expected.shape) < 2:
        a, expected, rng = draw(arrays().filter(lambda t: sum(n > 0 for n in t[1].shape) >= 2))
    return a, expected, rng


def read_and_write_twice(data, a, expected, rng, selections_of) -> None:
    """Read then write two drawn selections, each checked against numpy (the second write merges
    into chunks the first one wrote)."""
    for _ in range(2):
        sel = data.draw(selections_of(expected.shape))
        same(a[sel], expected[sel])
        value = data.draw(values_for(np.shape(expected[sel]), a.dtype, rng))
        expected[sel] = value
        a[sel] = value
        same(a[...], expected)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_mixed_index_arrays_read_and_write_as_numpy(data):
    read_and_write_twice(data, *data.draw(arrays_2d_up()), mixed_selections)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_lazily_enumerated_work_matches_numpy(data):
    """The lazy per-axis entries and work items that huge selections use (normally past 4096
    chunks on an axis and 65536 in all) forced on for every selection: reads and writes agree
    with numpy exactly as the eager lists do."""
    from zarrsync import indexing, pipeline
    saved = indexing._EAGER_ENTRIES, pipeline._LAZY_ITEMS
    indexing._EAGER_ENTRIES, pipeline._LAZY_ITEMS = -1, -1
    try:
        read_and_write_twice(data, *data.draw(arrays()), selections)
    finally:
        indexing._EAGER_ENTRIES, pipeline._LAZY_ITEMS = saved


# --- errors --------------------------------------------------------------------------------------
@st.composite
def out_of_bounds(draw):
    """An array and a selection holding one int outside its dimension's bounds."""
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, s + 1)) for s in shape)
    d = draw(st.integers(0, ndim - 1))
    n = shape[d]
    bad = draw(st.one_of(st.integers(n, n + 20), st.integers(-n - 20, -n - 1)))
    sel = [slice(None)] * ndim
    sel[d] = bad
    return shape, chunks, tuple(sel)


@SETTINGS
@given(case=out_of_bounds())
def test_out_of_bounds_int_raises_bounds_check_error(case):
    shape, chunks, sel = case
    with pytest.raises(IndexError):
        np.zeros(shape)[sel]  # numpy agrees that it is out of bounds
    a = zarrsync.create_array(MemoryStore(), shape=shape, dtype="i4", chunks=chunks)
    with pytest.raises(BoundsCheckError) as info:
        a[sel]
    assert isinstance(info.value, IndexError) and isinstance(info.value, ZarrsyncError)
    with pytest.raises(BoundsCheckError):
        a[sel] = 1
    with pytest.raises(BoundsCheckError):
        a.get_basic_selection(sel, out=np.empty(0, dtype="i4"))
    assert list(a.store.list_prefix("c")) == []  # the refused write stored nothing


@pytest.fixture(scope="module")
def arr():
    a = zarrsync.create_array(MemoryStore(), shape=(6, 5), dtype="i2", chunks=(4, 2), fill_value=3)
    a[...] = np.arange(30, dtype="i2").reshape(6, 5)
    return a


@pytest.mark.parametrize("sel", [
    (0, 0, 0), (slice(None),) * 3, (0, Ellipsis, 0, 0), (None, 1, 2, 3, None),
])
def test_too_many_indices(arr, sel):
    with pytest.raises(IndexError):
        np.zeros((6, 5))[sel]
    with pytest.raises(IndexingError):
        arr[sel]
    with pytest.raises(IndexingError):
        arr[sel] = 0


@pytest.mark.parametrize("sel", [
    [0, 1], np.array([0, 1]), (slice(None), [1, 2]), np.array([True, False, True, False, True, False]),
    (0, np.arange(2)),
])
def test_array_indices_are_not_basic(arr, sel):
    """Arrays are orthogonal or coordinate selections: ``a[sel]`` reads them (as numpy does),
    ``get_basic_selection`` refuses them and names the helpers."""
    x = np.arange(30, dtype="i2").reshape(6, 5)
    with pytest.raises(IndexingError, match="oindex"):
        arr.get_basic_selection(sel)
    with pytest.raises(IndexingError, match="oindex"):
        arr.set_basic_selection(sel, 0)
    np.testing.assert_array_equal(arr[sel], x[sel])


@pytest.mark.parametrize("sel", [
    True, False, np.True_, (0, True), (Ellipsis, Ellipsis), "a", 1.5, (0, 1.0),
    slice(None, None, 0), (0, slice(1, None, 0)), slice(1.5, None), slice(None, "a"),
])
def test_unsupported_selections_raise_indexing_error(arr, sel):
    before = arr[...]
    with pytest.raises(IndexingError):
        arr[sel]
    with pytest.raises(IndexingError):
        arr.get_basic_selection(sel)
    with pytest.raises(IndexingError):
        arr[sel] = 0
    np.testing.assert_array_equal(arr[...], before)


def test_slice_parts_with_index_method(arr):
    """Slice bounds may be numpy ints or bools (anything with ``__index__``), as in numpy."""
    x = np.arange(30, dtype="i2").reshape(6, 5)
    for sel in [slice(np.int8(1), np.uint64(5), np.int32(2)), slice(True, None), (slice(None), slice(np.int64(-1), None, np.int64(-2)))]:
        same(arr[sel], x[sel])


def test_zero_dim_array_selections():
    a = zarrsync.create_array(MemoryStore(), shape=(), dtype="f8", fill_value=2.5)
    x = np.array(2.5)
    for sel in [(), Ellipsis, None, (None, Ellipsis), (Ellipsis, None, None)]:
        same(a[sel], x[sel])
    a[()] = 7.0
    x[()] = 7.0
    same(a[()], x[()])
    same(a[...], x[...])
    with pytest.raises(IndexingError):
        a[0]
    with pytest.raises(IndexingError):
        a[:]


@pytest.mark.parametrize("make_bad", [
    lambda shape, dt: np.empty(shape + (1,), dtype=dt),  # wrong shape (an extra axis)
    lambda shape, dt: np.empty((shape[0] + 1,) + shape[1:], dtype=dt),  # wrong shape
    lambda shape, dt: np.empty(shape, dtype="i4"),  # wrong dtype
    lambda shape, dt: np.empty(shape, dtype=np.dtype(dt).newbyteorder(">")),  # wrong byte order
    lambda shape, dt: np.empty(shape, dtype=dt).tolist(),  # not an ndarray
    lambda shape, dt: memoryview(np.empty(shape, dtype=dt)),  # not an ndarray
    lambda shape, dt: np.broadcast_to(np.empty((), dtype=dt), shape),  # read-only
])
def test_bad_out_raises_indexing_error(arr, make_bad):
    sel = (slice(1, 5), slice(None, None, -2))
    shape = arr[sel].shape
    bad = make_bad(shape, arr.dtype)
    with pytest.raises(IndexingError):
        arr.get_basic_selection(sel, out=bad)


def test_read_only_out_raises(arr):
    buf = np.empty((6, 5), dtype=arr.dtype)
    buf.flags.writeable = False
    with pytest.raises(IndexingError):
        arr.get_basic_selection(Ellipsis, out=buf)


def test_scalar_selection_into_0d_out(arr):
    buf = np.empty((), dtype=arr.dtype)
    assert arr.get_basic_selection((-1, -1), out=buf) is buf
    assert buf[()] == 29
    with pytest.raises(IndexingError):
        arr.get_basic_selection((1, 1), out=np.empty((1,), dtype=arr.dtype))


@settings(max_examples=2000, deadline=None)
@given(dim_len=st.integers(1, 80), chunk=st.integers(1, 24), start=st.none() | st.integers(-90, 90),
       stop=st.none() | st.integers(-90, 90), step=st.sampled_from([None, 1, 2, 3, -1, -2]))
def test_slice_entries_match_numpy_chunk_by_chunk(dim_len, chunk, start, stop, step):
    """Per axis, the chunk entries of a slice (the one-chunk shortcut included) pick, chunk by
    chunk, exactly the elements numpy's slice picks, each put where numpy puts it."""
    from zarrsync.indexing import _slice_entries

    sel = slice(start, stop, step)
    want = np.arange(dim_len)[sel]
    n, entries = _slice_entries(sel, dim_len, chunk)
    assert n == len(want)
    got = np.full(n, -1)
    for k, chunk_sel, out_sel, complete in entries:
        lo = k * chunk
        got[out_sel] = np.arange(lo, min(lo + chunk, dim_len))[chunk_sel]
        assert complete == (chunk_sel.step == 1 and chunk_sel.start == 0
                            and chunk_sel.stop == min(chunk, dim_len - lo))
    np.testing.assert_array_equal(got, want)
    assert [e[0] for e in entries] == sorted({i // chunk for i in want.tolist()})
