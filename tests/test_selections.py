"""Example-based tests of orthogonal, coordinate, mask and block selections: how ``a[...]``
dispatches, the errors, ``out=`` for every getter, and how many store reads a selection costs.

The random property tests (every selection kind against numpy) are in
``test_selections_hypothesis.py``; here numpy is still the oracle for every value.
"""

from __future__ import annotations

import collections
import itertools
import math
import threading

import numpy as np
import pytest

import zarrsync
from zarrsync.errors import BoundsCheckError, IndexingError, ZarrsyncError
from zarrsync.storage import MemoryStore, RangeRequest, SuffixRequest

X = np.arange(10 * 12, dtype="i4").reshape(10, 12) * 7 - 300


@pytest.fixture
def arr():
    """A 10 x 12 int32 array in 3 x 4 chunks (edge chunks on axis 0), mirrored by ``X``."""
    a = zarrsync.create_array(MemoryStore(), shape=X.shape, dtype="i4", chunks=(3, 4), fill_value=-1)
    a[...] = X
    return a


@pytest.fixture
def arr3():
    x = np.arange(6 * 5 * 4, dtype="f8").reshape(6, 5, 4) / 4
    a = zarrsync.create_array(MemoryStore(), shape=x.shape, dtype="f8", chunks=(4, 2, 3))
    a[...] = x
    return a, x


def same(result, expected):
    assert isinstance(result, np.ndarray) == isinstance(expected, np.ndarray), (type(result), type(expected))
    assert np.shape(result) == np.shape(expected)
    assert np.asarray(result).dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(result, expected)


# ======================================================================================================
# a[...] dispatch, as numpy
# ======================================================================================================

MASK = (X % 3 == 0) & (X > 0)

ORTHOGONAL_AS_NUMPY = [  # one 1-d int or bool array among ints and slices, numpy keeps its axis in place
    [3, 1, 1, -1],
    np.array([9, 0, 4]),
    ([2, 2, 0],),
    (slice(None), [11, 0, -5, 0]),
    (slice(1, None, 3), np.array([True, False] * 6)),
    (np.array([True, False, True] + [False] * 7), slice(None, None, -5)),
    (4, [3, 1]),  # an int next to the array: numpy broadcasts them, in place
    ([7, 2], -1),
    (Ellipsis, [5, 6]),
    ([0, 9], Ellipsis),
    (None, [1, 2], slice(2, 5)),
    (slice(None, 3), np.array([], dtype=int)),
    [],
]

COORDINATE_AS_NUMPY = [  # int arrays or ints on every axis: numpy broadcasts them together
    ([0, 9, 9, 4], [11, 0, 11, 5]),
    (np.array([[0], [9]]), np.array([1, 2, 3])),  # broadcast to (2, 3)
    (np.array([[1, 2], [3, 4]]), 7),
    (-1, np.array([[0, -1]])),
]


@pytest.mark.parametrize("sel", ORTHOGONAL_AS_NUMPY)
def test_getitem_one_array_is_orthogonal_as_numpy(arr, sel):
    want = X[sel if not isinstance(sel, list) else np.array(sel, dtype=np.intp)]
    same(arr[sel], want)
    same(arr.oindex[sel], want)  # numpy agrees with the orthogonal reading here
    value = np.arange(want.size, dtype="i4").reshape(want.shape) + 1000
    arr[sel] = value
    expected = X.copy()
    expected[sel if not isinstance(sel, list) else np.array(sel, dtype=np.intp)] = value
    same(arr[...], expected)


@pytest.mark.parametrize("sel", COORDINATE_AS_NUMPY)
def test_getitem_arrays_on_every_axis_is_coordinate_as_numpy(arr, sel):
    want = X[sel]
    same(arr[sel], want)
    same(arr.vindex[sel], want)
    value = np.arange(want.size, dtype="i4").reshape(want.shape) + 1000
    arr[sel] = value
    expected = X.copy()
    expected[sel] = value
    same(arr[...], expected)


def test_getitem_arrays_and_ints_on_every_axis_3d(arr3):
    a, x = arr3
    for sel in [([0, 5], 2, [1, 3]), (1, [4, 0, 0], [3, 3, 2]), ([[5]], [[0, 1]], [[3]])]:
        same(a[sel], x[sel])


def test_getitem_full_shape_mask(arr):
    same(arr[MASK], X[MASK])
    same(arr[(MASK,)], X[(MASK,)])
    same(arr.vindex[MASK], X[MASK])
    same(arr.vindex[(MASK,)], X[MASK])
    same(arr.get_mask_selection(MASK), X[MASK])
    arr[MASK] = -7
    expected = X.copy()
    expected[MASK] = -7
    same(arr[...], expected)
    arr.vindex[MASK] = np.arange(MASK.sum(), dtype="i4")
    expected[MASK] = np.arange(MASK.sum())
    same(arr[...], expected)


MIXED = [  # (ndim, selection): index arrays beside slices, read and written as numpy does
    (3, (np.array([1, 2]), np.array([3, 4]))),  # adjacent arrays: their broadcast axis replaces them in place
    (3, (slice(None), [1, 2], [3, 2])),
    (3, ([0, 1], [1, 2], slice(None))),
    (3, (slice(None, None, -2), [[1], [2]], [0, 3])),  # a 2-d broadcast shape in place, after a reversed slice
    (3, (Ellipsis, [1, 0], [[0], [2]])),
    (3, ([0, 1], slice(None), [1, 2])),  # two arrays around a slice: numpy moves the broadcast axis first
    (3, (1, slice(None), [1, 3])),  # an array and an int separated by a slice
    (3, ([0, 2], slice(None), 3)),
    (3, (1, Ellipsis, [0, 2])),  # ... between an int and an array
    (3, (slice(None), [0, 1], Ellipsis, [1, 2])),  # ... standing for no axes still separates the arrays
    (3, (slice(None), 0, Ellipsis, [1, 2])),
    (3, ([-1, 0, -1], slice(1, None), -1)),  # negative and repeated
    (2, (np.array([[0, 1]]), slice(None))),  # a 2-d array among slices
    (2, (np.array([True, False, True] + [False] * 7), np.array([0, 1]))),  # a bool array with an int array
    (2, (slice(2, 9, 3), np.array([[11, 0, 5]]))),
]


@pytest.mark.parametrize("ndim,sel", MIXED)
def test_mixed_index_arrays_follow_numpy(arr3, arr, ndim, sel):
    """numpy is the oracle: same shape and values for reads; writes of an array value, of a
    value broadcast to the result and of a scalar land where numpy's do."""
    a, x = arr3 if ndim == 3 else (arr, X)
    x = x.copy()
    same(a[sel], x[sel])
    shape = x[sel].shape
    value = (np.arange(math.prod(shape)).reshape(shape) * 3 + 1).astype(x.dtype)
    a[sel] = value
    x[sel] = value
    same(a[...], x)
    a[sel] = value[-1:] if shape else value  # broadcast along the first result axis
    x[sel] = value[-1:] if shape else value
    same(a[...], x)
    a[sel] = -2
    x[sel] = -2
    same(a[...], x)


REFUSED = [  # (ndim, selection): numpy reads these, zarrsync's a[...] refuses them clearly
    (3, ([0, 1], None, 2)),  # an array and an int separated by None
    (3, (None, [0, 1], [1, 2])),
    (2, (np.ones((10, 12), dtype=bool)[:, :3], np.array([0, 1]))),  # a 2-d bool array among others
]


@pytest.mark.parametrize("ndim,sel", REFUSED)
def test_unsupported_mixes_raise_naming_oindex_and_vindex(arr3, arr, ndim, sel):
    a, x = arr3 if ndim == 3 else (arr, X)
    try:
        x[sel]
    except IndexError:
        pass  # numpy may refuse it too; zarrsync must still say what to use
    with pytest.raises(IndexError) as info:
        a[sel]
    assert isinstance(info.value, IndexingError) and not isinstance(info.value, BoundsCheckError)
    assert "oindex" in str(info.value) and "vindex" in str(info.value)
    with pytest.raises(IndexingError, match="oindex"):
        a[sel] = 0
    same(a[...], x)  # the refused write changed nothing


def test_mixed_selection_out_of_bounds_and_broadcast_errors(arr3):
    a, x = arr3
    with pytest.raises(BoundsCheckError):
        a[:, [0, 5], [1, 2]]
    with pytest.raises(BoundsCheckError):
        a[[0, 1], :, [1, -5]]
    with pytest.raises(IndexingError, match="broadcast"):
        a[:, [0, 1], [1, 2, 3]]
    same(a[...], x)


def test_ambiguous_mix_is_readable_through_the_helpers(arr3):
    """What `a[...]` refuses, `a.oindex` and `a.vindex` say explicitly."""
    a, x = arr3
    same(a.oindex[[0, 1], :, [1, 2]], x[np.ix_([0, 1], range(5), [1, 2])])
    same(a.vindex[[0, 1], 3, [1, 2]], x[[0, 1], 3, [1, 2]])
    same(a.oindex[1, :, [1, 3]], x[1][:, [1, 3]])


# ======================================================================================================
# errors
# ======================================================================================================

BOUNDS = [
    ("oindex", ([0, 10],)), ("oindex", ([-11],)), ("oindex", (slice(None), [12])), ("oindex", (10,)),
    ("oindex", (np.array([2**63], dtype=np.uint64),)),
    ("vindex", ([0, 10], [0, 0])), ("vindex", ([0, 1], [0, -13])), ("vindex", (9, 12)),
    ("getitem", ([0, 10],)), ("getitem", ([0, 1], [0, 12])), ("getitem", (-11, [0])),
    ("blocks", (4,)), ("blocks", (-5,)), ("blocks", (0, 3)),
]


def numpy_refuses(how: str, sel: tuple) -> bool:
    """numpy agrees that ``sel`` is out of bounds for ``X`` (blocks: a 4 x 3 grid of chunks)."""
    try:
        if how == "oindex":
            for s, n in zip(sel, X.shape):
                np.arange(n)[s if isinstance(s, slice) else np.atleast_1d(s).astype(np.int64)]
        elif how == "blocks":
            np.empty((4, 3))[sel]
        else:
            X[sel]
    except IndexError:
        return True
    return False


@pytest.mark.parametrize("how,sel", BOUNDS)
def test_out_of_bounds_raise_bounds_check_error(arr, how, sel):
    assert numpy_refuses(how, sel)
    target = {"oindex": arr.oindex, "vindex": arr.vindex, "getitem": arr, "blocks": arr.blocks}[how]
    getter = {"oindex": arr.get_orthogonal_selection, "vindex": arr.get_coordinate_selection,
              "getitem": arr.__getitem__, "blocks": arr.get_block_selection}[how]
    setter = {"oindex": arr.set_orthogonal_selection, "vindex": arr.set_coordinate_selection,
              "getitem": arr.__setitem__, "blocks": arr.set_block_selection}[how]
    with pytest.raises(BoundsCheckError) as info:
        target[sel]
    assert isinstance(info.value, IndexError) and isinstance(info.value, ZarrsyncError)
    with pytest.raises(BoundsCheckError):
        getter(sel)
    with pytest.raises(BoundsCheckError):
        target[sel] = 5
    with pytest.raises(BoundsCheckError):
        setter(sel, 5)
    same(arr[...], X)  # a refused write changes nothing


@pytest.mark.parametrize("call,match", [
    (lambda a: a.oindex[np.array([[0, 1]])], "1-dimensional"),
    (lambda a: a.oindex[np.array([True, False])], "length 2"),
    (lambda a: a.oindex[[0.5, 1]], "integer"),
    (lambda a: a.oindex["x"], "structured"),  # a string is a field name
    (lambda a: a.oindex[0, 0, 0], "too many"),
    (lambda a: a.oindex[..., 0, ...], "ellipsis"),
    (lambda a: a.vindex[0:2, [1]], "oindex"),
    (lambda a: a.vindex[[0, 1]], "one int array per axis"),
    (lambda a: a.vindex[[0, 1], [0, 1, 2]], "broadcast"),
    (lambda a: a.vindex[[0.0], [1]], "integer"),
    (lambda a: a.get_mask_selection(MASK[:5]), "shape"),
    (lambda a: a.get_mask_selection(MASK.astype(int)), "bool"),
    (lambda a: a.set_mask_selection(MASK[:, :3], 1), "shape"),
    (lambda a: a.blocks[::2], "step"),
    (lambda a: a.blocks[None, 0], "None"),
    (lambda a: a.blocks[[0, 1]], "not arrays"),
    (lambda a: a.get_block_selection((0, 0, 0)), "too many"),
    (lambda a: a.get_basic_selection([0, 1]), "oindex"),
    (lambda a: a.get_orthogonal_selection(True), "boolean"),
])
def test_malformed_selections_raise_indexing_error(arr, call, match):
    with pytest.raises(IndexingError, match=match):
        call(arr)
    same(arr[...], X)


def test_set_value_shape_mismatch_raises(arr):
    with pytest.raises(ValueError):
        arr.oindex[[0, 1], [0, 1, 2]] = np.zeros((3, 2), dtype="i4")
    with pytest.raises(ValueError):
        arr.vindex[[0, 1], [0, 1]] = np.zeros(3, dtype="i4")
    with pytest.raises(ValueError):
        arr.set_mask_selection(MASK, np.zeros(int(MASK.sum()) + 1, dtype="i4"))
    same(arr[...], X)


# ======================================================================================================
# out=
# ======================================================================================================

def getters(a):
    """name -> (reader taking out=, the numpy result) for every getter."""
    x = X
    rows, cols = [9, 0, 4, 4], [11, 0, -5]
    pts = (np.array([[0, 9, 3], [4, 4, 1]]), np.array([[11, 0, 5], [0, 1, 2]]))
    orth_want = x[np.ix_(rows, np.arange(12)[cols])]
    block_want = x[3:9, 4:12]
    return {
        "get_basic_selection": (lambda out: a.get_basic_selection((slice(8, 0, -2), slice(1, 11)), out=out),
                                x[8:0:-2, 1:11]),
        "get_orthogonal_selection": (lambda out: a.get_orthogonal_selection((rows, cols), out=out), orth_want),
        "oindex.get": (lambda out: a.oindex.get((rows, cols), out=out), orth_want),
        "get_coordinate_selection": (lambda out: a.get_coordinate_selection(pts, out=out), x[pts]),
        "vindex.get": (lambda out: a.vindex.get(pts, out=out), x[pts]),
        "get_mask_selection": (lambda out: a.get_mask_selection(MASK, out=out), x[MASK]),
        "vindex.get(mask)": (lambda out: a.vindex.get(MASK, out=out), x[MASK]),
        "get_block_selection": (lambda out: a.get_block_selection((slice(1, 3), slice(-2, None)), out=out),
                                block_want),
        "blocks.get": (lambda out: a.blocks.get((slice(1, 3), slice(-2, None)), out=out), block_want),
    }


GETTERS = list(getters(None))


def make_out(layout: str, shape: tuple, dtype) -> np.ndarray:
    if layout == "C":
        buf = np.empty(shape, dtype=dtype)
    elif layout == "F":
        buf = np.empty(shape, dtype=dtype, order="F")
    elif layout == "strided":
        big = np.empty(tuple(2 * s + 1 for s in shape), dtype=dtype)
        buf = big[tuple(slice(1, None, 2) for _ in shape)]
    else:  # "reversed": negative strides
        buf = np.empty(shape, dtype=dtype)[tuple(slice(None, None, -1) for _ in shape)]
    buf[...] = 12345  # garbage that must be overwritten
    return buf


@pytest.mark.parametrize("layout", ["C", "F", "strided", "reversed"])
@pytest.mark.parametrize("name", GETTERS)
def test_out_is_filled_and_returned(arr, name, layout):
    read, want = getters(arr)[name]
    out = make_out(layout, want.shape, arr.dtype)
    assert want.size and (12345 != want).all()
    if layout == "F" and want.ndim > 1:
        assert not out.flags.c_contiguous
    result = read(out)
    assert result is out
    same(out, want)


@pytest.mark.parametrize("name", GETTERS)
def test_bad_out_raises(arr, name):
    read, want = getters(arr)[name]
    bad = [
        (np.empty(want.shape + (1,), dtype="i4"), "shape"),
        (np.empty((want.shape[0] + 1,) + want.shape[1:], dtype="i4"), "shape"),
        (np.empty(want.shape, dtype="i8"), "dtype"),
        (np.empty(want.shape, dtype=">i4"), "dtype"),
        (np.zeros(want.shape, dtype="i4").tolist(), "ndarray"),
        (np.broadcast_to(np.zeros(1, dtype="i4"), want.shape), "read-only"),
    ]
    readonly = np.zeros(want.shape, dtype="i4")
    readonly.flags.writeable = False
    bad.append((readonly, "read-only"))
    for out, match in bad:
        with pytest.raises(IndexingError, match="out="):
            read(out)
        with pytest.raises(IndexingError, match=match):
            read(out)
    assert (readonly == 0).all()


def test_out_for_scalar_results(arr):
    for read in [lambda o: arr.get_coordinate_selection((2, 5), out=o),
                 lambda o: arr.get_orthogonal_selection((2, 5), out=o),
                 lambda o: arr.vindex.get((2, 5), out=o)]:
        out = np.zeros((), dtype="i4")
        assert read(out) is out
        assert out[()] == X[2, 5]


def test_out_of_a_sharded_array():
    x = np.arange(16 * 16, dtype="u2").reshape(16, 16)
    a = zarrsync.create_array(MemoryStore(), shape=x.shape, dtype="u2", chunks=(2, 2), shards=(8, 8))
    a[...] = x
    for layout in ["C", "F", "strided", "reversed"]:
        for read, want in [
            (lambda o: a.oindex.get(([15, 0, 3, 3], slice(None, None, -3)), out=o), x[[15, 0, 3, 3]][:, ::-3]),
            (lambda o: a.vindex.get((np.array([[1, 9], [14, 2]]), np.array([[0, 15], [7, 7]])), out=o),
             x[np.array([[1, 9], [14, 2]]), np.array([[0, 15], [7, 7]])]),
            (lambda o: a.blocks.get((1, slice(None)), out=o), x[8:16]),
            (lambda o: a.get_mask_selection(x % 5 == 1, out=o), x[x % 5 == 1]),
        ]:
            out = make_out(layout, want.shape, a.dtype)
            assert read(out) is out
            same(out, want)


# ======================================================================================================
# store reads: each chunk fetched once per call, only the chunks touched
# ======================================================================================================

class CountingStore(MemoryStore):
    """A MemoryStore counting its outermost ``get``, ``get_ranges``, ``get_into`` and snapshot ``read`` calls per key
    (a ``get_into`` that calls ``get`` counts once) and logging the byte ranges requested."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = collections.Counter()
        self.log = []
        self._local = threading.local()
        self._count_lock = threading.Lock()

    def _count(self, method, key, detail):
        depth = getattr(self._local, "depth", 0)
        if depth == 0 and not key.endswith(("zarr.json", ".zarray", ".zattrs")):
            with self._count_lock:
                self.calls[key] += 1
                self.log.append((method, key, detail))
        self._local.depth = depth + 1

    def _done(self):
        self._local.depth -= 1

    def get(self, key, byte_range=None):
        self._count("get", key, byte_range)
        try:
            return super().get(key, byte_range)
        finally:
            self._done()

    def get_ranges(self, key, ranges):
        self._count("get_ranges", key, list(ranges))
        try:
            return super().get_ranges(key, ranges)
        finally:
            self._done()

    def get_into(self, key, out):
        self._count("get_into", key, len(out))
        try:
            return super().get_into(key, out)
        finally:
            self._done()

    def snapshot(self, key):
        """Taking a snapshot reads nothing here; each of its ``read`` calls counts as one call."""
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            snap = super().snapshot(key)
        finally:
            self._done()
        if snap is None:
            self._count("snapshot", key, None)
            self._done()
            return None
        counting = self

        class Counted(type(snap)):
            def read(self, ranges):
                counting._count("snapshot.read", key, list(ranges))
                try:
                    return super().read(ranges)
                finally:
                    counting._done()

        snap.__class__ = Counted
        return snap

    def reset(self):
        self.calls.clear()
        self.log.clear()


def chunk_key(coords) -> str:
    return "c/" + "/".join(str(c) for c in coords)


def touched(positions, chunks) -> set:
    """The chunk keys holding the given element positions (one array of positions per axis)."""
    return {chunk_key(tuple(int(p) // c for p, c in zip(pt, chunks))) for pt in zip(*positions)}


@pytest.fixture(params=["zstd", "uncompressed"])
def counted(request):
    """A 30 x 40 array in 6 x 8 chunks (a 5 x 5 grid) over a counting store, mirrored by ``x``."""
    store = CountingStore()
    x = np.random.default_rng(0).integers(0, 1000, size=(30, 40)).astype("i8")
    a = zarrsync.create_array(store, shape=x.shape, dtype="i8", chunks=(6, 8),
                              compressors="auto" if request.param == "zstd" else None)
    a[...] = x
    store.reset()
    return a, x, store


def assert_each_fetched_once(store, expected_keys):
    assert set(store.calls) == expected_keys, (sorted(store.calls), sorted(expected_keys))
    assert all(n == 1 for n in store.calls.values()), store.calls


def test_orthogonal_repeated_indices_fetch_each_chunk_once(counted):
    a, x, store = counted
    # many repeats, all inside chunk (1, 2)
    rows, cols = [7, 7, 6, 11, 7, 6, 11], [20, 16, 16, 23, 20]
    same(a.oindex[rows, cols], x[np.ix_(rows, cols)])
    assert_each_fetched_once(store, {"c/1/2"})
    # unsorted, repeated, negative, spread over 3 x 2 chunks
    store.reset()
    rows, cols = [29, 0, 29, 13, 0, -1, 12], [39, 1, -40, 39, 3]
    want = x[np.ix_(rows, cols)]
    same(a.get_orthogonal_selection((rows, cols)), want)
    r, c = np.arange(30)[rows], np.arange(40)[cols]
    assert_each_fetched_once(store, {chunk_key((i // 6, j // 8)) for i in r for j in c})
    assert len(store.calls) == 3 * 2
    # a bool index along one axis and a list along the other
    store.reset()
    keep = np.zeros(40, dtype=bool)
    keep[[2, 3, 5, 33]] = True
    same(a.oindex[[25, 24, 25], keep], x[np.ix_([25, 24, 25], np.flatnonzero(keep))])
    assert_each_fetched_once(store, {"c/4/0", "c/4/4"})


def test_coordinate_many_points_per_chunk_fetch_each_chunk_once(counted):
    a, x, store = counted
    rng = np.random.default_rng(1)
    # 500 points in the 4 chunks (0, 0), (0, 3), (4, 1), (2, 4), in random order with repeats
    corners = np.array([(0, 0), (0, 24), (24, 8), (12, 32)])
    which = rng.integers(0, 4, size=500)
    rows = corners[which, 0] + rng.integers(0, 6, size=500)
    cols = corners[which, 1] + rng.integers(0, 8, size=500)
    same(a.vindex[rows, cols], x[rows, cols])
    assert_each_fetched_once(store, {"c/0/0", "c/0/3", "c/4/1", "c/2/4"})
    # the same points shaped (20, 25): the grouping does not depend on the shape
    store.reset()
    same(a.get_coordinate_selection((rows.reshape(20, 25), cols.reshape(20, 25))),
         x[rows.reshape(20, 25), cols.reshape(20, 25)])
    assert_each_fetched_once(store, {"c/0/0", "c/0/3", "c/4/1", "c/2/4"})
    # points everywhere: every chunk once
    store.reset()
    rows, cols = rng.integers(0, 30, size=3000), rng.integers(0, 40, size=3000)
    same(a.vindex[rows, cols], x[rows, cols])
    assert_each_fetched_once(store, touched((rows, cols), (6, 8)))
    assert len(store.calls) == 25


def test_mask_and_blocks_fetch_only_touched_chunks(counted):
    a, x, store = counted
    mask = np.zeros(x.shape, dtype=bool)
    mask[13:17, 9:15] = True  # all in chunk (2, 1)
    mask[29, 39] = True
    same(a.get_mask_selection(mask), x[mask])
    assert_each_fetched_once(store, touched(np.nonzero(mask), (6, 8)))
    assert set(store.calls) == {"c/2/1", "c/4/4"}
    store.reset()
    same(a.blocks[1:3, -1], x[6:18, 32:40])
    assert_each_fetched_once(store, {"c/1/4", "c/2/4"})


def test_writes_fetch_each_partial_chunk_once(counted):
    a, x, store = counted
    rows, cols = [7, 7, 6, 11, 7], [20, 16, 16, 23, 20, 39]
    a.oindex[rows, cols] = -5
    x[np.ix_(rows, cols)] = -5
    assert_each_fetched_once(store, {"c/1/2", "c/1/4"})
    store.reset()
    pts = (np.array([0, 1, 0, 0, 29]), np.array([0, 1, 0, 2, 39]))
    a.vindex[pts] = np.arange(5)
    x[pts] = np.arange(5)
    assert_each_fetched_once(store, {"c/0/0", "c/4/4"})
    store.reset()
    same(a[...], x)


# --- sharded: the index and the inner chunks needed, never the whole shard ----------------------------

SHARD_INDEX = 4 * 4 * 16 + 4  # 4 x 4 inner chunks, (offset, nbytes) uint64 each, then a crc32c


def parse_index(raw: bytes) -> np.ndarray:
    """The (4, 4, 2) index of a shard with 4 x 4 inner chunks (index at the end, as the spec says)."""
    return np.frombuffer(raw[-SHARD_INDEX:-4], dtype="<u8").reshape(4, 4, 2)


def absolute(req, total: int) -> tuple[int, int]:
    if isinstance(req, SuffixRequest):
        return total - req.suffix, total
    assert isinstance(req, RangeRequest), req
    return req.start, min(req.end, total)


@pytest.fixture(params=["zstd", "uncompressed"])
def sharded(request):
    """A 32 x 32 array in shards of 16 x 16 holding 4 x 4 inner chunks of 4 x 4."""
    store = CountingStore()
    x = np.random.default_rng(2).standard_normal((32, 32))
    a = zarrsync.create_array(store, shape=x.shape, dtype="f8", chunks=(4, 4), shards=(16, 16),
                              compressors="auto" if request.param == "zstd" else None)
    a[...] = x
    store.reset()
    return a, x, store


EYE = np.pad(np.eye(4, dtype=bool), ((20, 8), (8, 20)))  # True on the diagonal of rows 20-23, cols 8-11


@pytest.mark.parametrize("read,oracle", [
    (lambda a: a.oindex[[21, 22, 21, 20, 22], [9, 9, 8, 11]], lambda x: x[np.ix_([21, 22, 21, 20, 22], [9, 9, 8, 11])]),
    (lambda a: a.get_orthogonal_selection(([23, 20], np.isin(np.arange(32), [11, 9]))),
     lambda x: x[np.ix_([23, 20], [9, 11])]),
    (lambda a: a.vindex[[21, 20, 23, 23, 21, 22], [8, 11, 9, 9, 10, 11]],
     lambda x: x[[21, 20, 23, 23, 21, 22], [8, 11, 9, 9, 10, 11]]),
    (lambda a: a.get_coordinate_selection((np.array([[22], [20]]), np.array([8, 11, 10]))),
     lambda x: x[np.array([[22], [20]]), np.array([8, 11, 10])]),
    (lambda a: a[[21, 23, 21], 10], lambda x: x[[21, 23, 21], 10]),
    (lambda a: a.get_mask_selection(EYE), lambda x: x[EYE]),
    (lambda a: a.vindex[EYE], lambda x: x[EYE]),
])
def test_sharded_points_in_one_inner_chunk_read_the_index_and_that_chunk(sharded, read, oracle):
    """Everything here lies in rows 20-23, cols 8-11: inner chunk (1, 2) of shard c/1/0."""
    a, x, store = sharded
    same(read(a), oracle(x))
    raw = MemoryStore.get(store, "c/1/0")
    total = len(raw)
    offset, nbytes = (int(v) for v in parse_index(raw)[1, 2])
    assert offset + nbytes <= total - SHARD_INDEX
    assert set(store.calls) == {"c/1/0"}
    assert [m for m, _, _ in store.log] == ["snapshot.read", "snapshot.read"], store.log  # no whole-shard get
    spans = [[absolute(r, total) for r in detail] for _, _, detail in store.log]
    assert spans == [[(total - SHARD_INDEX, total)], [(offset, offset + nbytes)]], spans


def test_sharded_list_index_never_loads_whole_shards(sharded):
    a, x, store = sharded
    rows, cols = [0, 31, 2, 31, 17], [30, 1, 1, 30]
    same(a.oindex[rows, cols], x[np.ix_(rows, cols)])
    # shards (0, 0), (0, 1), (1, 0), (1, 1): each read through its index, once, then its inner chunks
    assert set(store.calls) == {"c/0/0", "c/0/1", "c/1/0", "c/1/1"}
    assert all(n == 2 for n in store.calls.values()), store.calls  # the index, then the chunks
    for method, key, detail in store.log:
        assert method == "snapshot.read", (method, key)
        raw = MemoryStore.get(store, key)
        for r in detail:
            lo, hi = absolute(r, len(raw))
            assert hi - lo < len(raw) // 2, (key, lo, hi, len(raw))  # never the whole shard
    store.reset()
    pts = (np.array([3, 3, 30, 2, 30]), np.array([3, 2, 29, 3, 29]))
    same(a.vindex[pts], x[pts])
    assert set(store.calls) == {"c/0/0", "c/1/1"}
    assert all(n == 2 for n in store.calls.values()), store.calls
    for method, key, detail in store.log:
        assert method == "snapshot.read"
        raw = MemoryStore.get(store, key)
        index = parse_index(raw)
        if detail != [SuffixRequest(SHARD_INDEX)]:
            inner = (3 // 4, 3 // 4) if key == "c/0/0" else ((30 - 16) // 4, (29 - 16) // 4)
            off, nb = (int(v) for v in index[inner])
            assert [absolute(r, len(raw)) for r in detail] == [(off, off + nb)]


def test_sharded_blocks_count_shards(sharded):
    a, x, store = sharded
    same(a.blocks[1, 0], x[16:32, 0:16])
    assert set(store.calls) == {"c/1/0"} and store.calls["c/1/0"] == 1
    same(a.blocks[-1], x[16:])
    a.blocks[0, 1] = 2.5
    x[0:16, 16:32] = 2.5
    same(a[...], x)


def test_sharded_orthogonal_product_is_complete():
    """Every combination of touched inner chunks, in every shard, is read correctly."""
    x = np.arange(24 * 24, dtype="i2").reshape(24, 24)
    a = zarrsync.create_array(MemoryStore(), shape=x.shape, dtype="i2", chunks=(3, 4), shards=(12, 8))
    a[...] = x
    for rows, cols in itertools.product([[23, 0, 11, 12], [5], []], [[0, 23, 8, 7, 7], slice(None, None, -5)]):
        want = x[np.ix_(rows, np.arange(24)[cols])]
        same(a.oindex[rows, cols], want)


# ======================================================================================================
# huge selections (issue 10, point 8)
# ======================================================================================================

_HUGE = r"""
import resource, sys
import numpy as np
import zarrsync
from zarrsync.errors import SelectionTooLargeError, StoreError
from zarrsync.storage import MemoryStore

# a regression (per-chunk lists built up front) must fail here, not eat the machine
resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))

a = zarrsync.create_array(None, shape=(2**40,), dtype="u1", chunks=(4096,))
for read in (lambda: a[...], lambda: a.oindex[:], lambda: a.get_basic_selection(slice(None, None, 2))):
    try:
        read()
    except SelectionTooLargeError as e:
        assert isinstance(e, MemoryError) and "1.0 TiB" in str(e) or "512.0 GiB" in str(e), e
    else:
        sys.exit("a read of the whole array did not fail")

# small regions of the huge array still read and write
a[2**40 - 5:] = 7
a[2**39:2**39 + 3] = [1, 2, 3]
assert a[2**40 - 8:].tolist() == [0, 0, 0, 7, 7, 7, 7, 7]
assert a[2**39 - 1:2**39 + 4].tolist() == [0, 1, 2, 3, 0]
assert a[::2**38].tolist() == [0, 0, 1, 0]
assert a.vindex[[2**40 - 1, 2**39 + 2, 5]].tolist() == [7, 3, 0]


class Stop(Exception):
    pass


class StopAfter(MemoryStore):
    # a store that refuses the 200th chunk write: a[...] = 1 must have started writing without
    # enumerating its 2**28 chunks first
    def __init__(self):
        super().__init__()
        self.sets = 0

    def set(self, key, value):
        if key.startswith("c/"):
            self.sets += 1
            if self.sets >= 200:
                raise Stop(key)
        super().set(key, value)


store = StopAfter()
b = zarrsync.create_array(store, shape=(2**40,), dtype="u1", chunks=(4096,), compressors=None)
try:
    b[...] = 1
except Exception as e:
    assert isinstance(e, Stop) or isinstance(e.__cause__, Stop) or "Stop" in repr(e), repr(e)
else:
    sys.exit("the write did not reach the failing store")
assert 200 <= store.sets < 1000, store.sets
# this process's own high-water mark (ru_maxrss would carry over the parent's from before exec)
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))  # KiB
assert peak < 1 << 20, f"peak memory {peak} KiB: work was not enumerated lazily"
print("ok")
"""


def test_huge_selections_fail_fast_and_write_lazily():
    """``a[...]`` of a ``(2**40,)`` uint8 array raises SelectionTooLargeError (a MemoryError)
    before any chunk work is built; ``a[...] = 1`` starts writing at once with bounded memory
    (it is stopped by its store after 200 chunks); small regions still read and write. Run in a
    child with an address-space limit and a generous timeout, so a regression fails instead of
    exhausting the machine."""
    import subprocess
    import sys
    try:
        proc = subprocess.run([sys.executable, "-c", _HUGE], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("huge selections did not fail fast (the child ran past 60 s)")
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr
