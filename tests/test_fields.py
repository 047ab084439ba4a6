"""``fields=`` and ``a["name"]`` on structured arrays: every getter and setter, one field or
several, v2 and v3, sharded or not, with numpy's structured indexing as the oracle."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import zarrsync
from zarrsync.errors import IndexingError

FLAT = np.dtype([("x", "<f4"), ("y", "<i2"), ("z", "<u8")])
SUB = np.dtype([("x", "<f4"), ("v", "<u1", (3,))])  # a sub-array field (v2 only)

LAYOUTS = [pytest.param(3, None, id="v3"), pytest.param(3, (4,), id="v3-sharded"), pytest.param(2, None, id="v2")]


def make(fmt, shards, dtype=FLAT, n=11):
    rng = np.random.default_rng(n)
    x = np.zeros(n, dtype)
    for name in dtype.names:
        field = x[name]
        field[...] = rng.integers(0, 100, field.shape)
    a = zarrsync.create_array(None, shape=x.shape, dtype=dtype, chunks=(2,), shards=shards, zarr_format=fmt)
    a[...] = x
    return a, x


# selection kind -> (getter, setter, selection, the numpy index it means)
KINDS = {
    "basic": ("get_basic_selection", "set_basic_selection", slice(9, 1, -3), slice(9, 1, -3)),
    "orthogonal": ("get_orthogonal_selection", "set_orthogonal_selection", ([7, 0, 7, -1],), [7, 0, 7, -1]),
    "coordinate": ("get_coordinate_selection", "set_coordinate_selection", ([[1, 4], [10, 4]],), ([[1, 4], [10, 4]],)),
    "mask": ("get_mask_selection", "set_mask_selection", np.arange(11) % 3 == 0, np.arange(11) % 3 == 0),
    "block": ("get_block_selection", "set_block_selection", slice(1, 3), None),
}


def np_index(kind, shards):
    sel = KINDS[kind][3]
    if kind == "block":
        size = 4 if shards else 2
        return slice(size, 3 * size)
    return sel


@pytest.mark.parametrize("fmt,shards", LAYOUTS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fields", ["y", ["z", "x"]])
def test_get_fields_matches_numpy(fmt, shards, kind, fields):
    a, x = make(fmt, shards)
    getter, _, sel, _ = KINDS[kind]
    want = x[np_index(kind, shards)][fields]
    got = getattr(a, getter)(sel, fields=fields)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    out = np.empty(want.shape, want.dtype)
    assert getattr(a, getter)(sel, fields=fields, out=out) is out
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("fmt,shards", LAYOUTS)
@pytest.mark.parametrize("kind", KINDS)
def test_set_one_field_keeps_the_others(fmt, shards, kind):
    a, x = make(fmt, shards)
    _, setter, sel, _ = KINDS[kind]
    idx = np_index(kind, shards)
    n = x["y"][idx].shape
    value = -np.arange(int(np.prod(n)), dtype="i2").reshape(n) - 1
    getattr(a, setter)(sel, value, fields="y")
    x["y"][idx] = value
    np.testing.assert_array_equal(a[...], x)


@pytest.mark.parametrize("fmt,shards", LAYOUTS)
@pytest.mark.parametrize("kind", KINDS)
def test_set_several_fields(fmt, shards, kind):
    a, x = make(fmt, shards)
    _, setter, sel, _ = KINDS[kind]
    idx = np_index(kind, shards)
    shape = x[idx].shape
    two = np.dtype([("z", "<u8"), ("x", "<f4")])
    value = np.zeros(shape, two)
    value["z"] = 1000 + np.arange(value.size).reshape(shape)
    value["x"] = 0.5
    getattr(a, setter)(sel, value, fields=["z", "x"])
    x["z"][idx] = value["z"]
    x["x"][idx] = value["x"]
    np.testing.assert_array_equal(a[...], x)


@pytest.mark.parametrize("fmt,shards", LAYOUTS)
def test_field_names_in_brackets(fmt, shards):
    a, x = make(fmt, shards)
    np.testing.assert_array_equal(a["x"], x["x"])
    np.testing.assert_array_equal(a[["y", "x"]], x[["y", "x"]])
    np.testing.assert_array_equal(a["y", 2:9:2], x["y"][2:9:2])
    np.testing.assert_array_equal(a[[3, 1], "z"], x["z"][[3, 1]])
    np.testing.assert_array_equal(a.oindex[[5, 5, 0], "x"], x["x"][[5, 5, 0]])
    np.testing.assert_array_equal(a.vindex[[5, 5, 0], "x"], x["x"][[5, 5, 0]])
    np.testing.assert_array_equal(a.blocks[1, "y"], x["y"][(4 if shards else 2):(8 if shards else 4)])
    assert a[3, "z"] == x["z"][3]
    a["x", ::3] = -1
    x["x"][::3] = -1
    a.oindex[[2, 2, 6], "y"] = [7, 8, 9]
    x["y"][[2, 2, 6]] = [7, 8, 9]
    a[0] = (1.5, 2, 3)
    x[0] = (1.5, 2, 3)
    a[1:3] = [(4.5, 5, 6), (7.5, 8, 9)]
    x[1:3] = [(4.5, 5, 6), (7.5, 8, 9)]
    np.testing.assert_array_equal(a[...], x)


def test_sub_array_field_v2():
    a, x = make(2, None, SUB)
    np.testing.assert_array_equal(a["v"], x["v"])
    np.testing.assert_array_equal(a.oindex[[4, 0], "v"], x["v"][[4, 0]])
    a["v", 1] = [5, 6, 7]
    x["v"][1] = [5, 6, 7]
    a.set_coordinate_selection([3, 9], [[1, 1, 1], [2, 2, 2]], fields="v")
    x["v"][[3, 9]] = [[1, 1, 1], [2, 2, 2]]
    np.testing.assert_array_equal(a[...], x)


def test_fields_async_twins():
    a, x = make(3, (4,))

    async def main():
        got = await a.oindex.get_async(([9, 1],), fields="y")
        await a.vindex.set_async(([0, 10],), [11, 12], fields="z")
        return got, await a.get_basic_selection_async(Ellipsis, fields=["z"])

    got, z = asyncio.run(main())
    np.testing.assert_array_equal(got, x["y"][[9, 1]])
    x["z"][[0, 10]] = [11, 12]
    np.testing.assert_array_equal(z, x[["z"]])


@pytest.mark.parametrize("fields,match", [("nope", "no field"), (["x", "x"], "distinct"), ([], "distinct")])
def test_bad_fields_raise(fields, match):
    a, _ = make(3, None)
    with pytest.raises(IndexingError, match=match):
        a.get_basic_selection(Ellipsis, fields=fields)
    with pytest.raises(IndexingError, match=match):
        a.set_basic_selection(Ellipsis, 0, fields=fields)


def test_fields_need_a_structured_array():
    a = zarrsync.create_array(None, shape=(4,), dtype="i4", chunks=(2,))
    with pytest.raises(IndexingError, match="structured"):
        a["x"]
    with pytest.raises(IndexingError, match="structured"):
        a.get_orthogonal_selection([1], fields="x")


def test_out_with_wrong_field_dtype_raises():
    a, _ = make(3, None)
    with pytest.raises(IndexingError, match="dtype"):
        a.get_basic_selection(slice(0, 2), fields="y", out=np.empty(2, "f4"))


def test_concurrent_writes_to_different_fields_of_one_chunk_lose_nothing():
    """Threads write different fields of the same chunks, element by element: the field merge
    happens under the chunk's lock, so no write undoes another (each element of each field is
    written once, so a lost update would stay lost)."""
    import sys
    import threading

    n = 300
    a = zarrsync.create_array(None, shape=(n,), dtype=FLAT, chunks=(4,), fill_value=0)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        def write(field):
            for i in range(n):
                a.set_basic_selection(i, i + 1, fields=field)

        threads = [threading.Thread(target=write, args=(f,)) for f in FLAT.names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    got = a[...]
    for name in FLAT.names:
        np.testing.assert_array_equal(got[name], np.arange(1, n + 1))
