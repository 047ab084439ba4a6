"""API parity with zarr-python 3: every public name of zarr-python's top-level namespace,
``zarr.api.synchronous``, ``zarr.Array`` and ``zarr.Group`` exists in zarrsync, or is listed
below as a deliberate difference with its reason. A name zarr-python adds that is neither fails
the test, so each new one is a decision. A few functions are cross-checked between the two
libraries (zarr-python writes, zarrsync reads, and back).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import zarr
import zarr.api.synchronous

import zarrsync
from zarrsync.storage import LocalStore, MemoryStore, ZipStore

ASYNC_OBJECTS = "zarrsync has no async object classes: every blocking call has an awaitable `*_async` twin"

#: top-level names (``zarr.__all__`` and ``zarr.api.synchronous.__all__``) zarrsync lacks on purpose
NAMESPACE_DIFFERENCES = {
    "AsyncArray": ASYNC_OBJECTS,
    "AsyncGroup": ASYNC_OBJECTS,
}

#: public members of ``zarr.Array`` that ``zarrsync.Array`` lacks
ARRAY_DIFFERENCES = {
    "async_array": ASYNC_OBJECTS,
    "store_path": "zarrsync nodes have `store` and `path`; there is no StorePath type",
    "compressor": "deprecated zarr-python 2 alias of `compressors` (one v2 compressor)",
}

#: public members of ``zarr.Group`` that ``zarrsync.Group`` lacks
GROUP_DIFFERENCES = {
    "store_path": "zarrsync nodes have `store` and `path`; there is no StorePath type",
    "synchronizer": "a zarr-python 2 leftover that is always None in zarr-python 3",
}

#: present in both under the same name but meaning something else in zarrsync
SAME_NAME_OTHER_MEANING = {
    ("Group", "create"): "zarrsync: classmethod Group.create(store, path, ...) writes a new group; "
                         "zarr-python: an instance alias of create_array (use Group.create_array)",
    ("Group", "tree"): "zarrsync: tree(max_depth) returns text; zarr-python: tree(expand, level, ...) a rich object",
}


def public(obj) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


def missing(reference: set[str], ours: set[str], differences: dict) -> list[str]:
    return sorted(n for n in reference - ours if n not in differences)


def test_zarr_version_is_the_one_compared():
    assert zarr.__version__.startswith("3.")


def test_synchronous_api_names():
    ours = set(zarrsync.__all__) | public(zarrsync)
    assert missing(set(zarr.api.synchronous.__all__), ours, NAMESPACE_DIFFERENCES) == []


def test_top_level_names():
    ours = set(zarrsync.__all__) | public(zarrsync)
    assert missing(set(zarr.__all__) - {"__version__"}, ours, NAMESPACE_DIFFERENCES) == []
    assert zarrsync.__version__


def test_every_function_has_an_async_twin():
    for name in zarr.api.synchronous.__all__:
        assert name + "_async" in zarrsync.__all__, name


def test_array_members():
    assert missing(public(zarr.Array), public(zarrsync.Array), ARRAY_DIFFERENCES) == []


def test_group_members():
    assert missing(public(zarr.Group), public(zarrsync.Group), GROUP_DIFFERENCES) == []


@pytest.mark.parametrize("differences, zarr_cls, ours_cls", [
    (ARRAY_DIFFERENCES, zarr.Array, zarrsync.Array), (GROUP_DIFFERENCES, zarr.Group, zarrsync.Group),
])
def test_difference_lists_are_current(differences, zarr_cls, ours_cls):
    """A listed difference that zarr-python dropped or zarrsync gained must leave the list."""
    for name in differences:
        assert name in public(zarr_cls), f"{name} is no longer in {zarr_cls.__name__}"
        assert name not in public(ours_cls), f"{name} now exists in zarrsync.{ours_cls.__name__}: unlist it"


def test_namespace_differences_are_current():
    ours = set(zarrsync.__all__) | public(zarrsync)
    for name in NAMESPACE_DIFFERENCES:
        assert name in set(zarr.__all__) | set(zarr.api.synchronous.__all__)
        assert name not in ours


def test_same_name_other_meaning_is_current():
    for (cls_name, member) in SAME_NAME_OTHER_MEANING:
        assert member in public(getattr(zarr, cls_name)) and member in public(getattr(zarrsync, cls_name))


@pytest.mark.parametrize("name", ["from_array", "save", "save_array", "save_group", "load", "open_like",
                                  "create_hierarchy", "tree"])
def test_keyword_names_match(name):
    """zarrsync's function takes every named parameter zarr-python's does (it may take more)."""
    theirs = inspect.signature(getattr(zarr.api.synchronous, name)).parameters
    ours = inspect.signature(getattr(zarrsync, name)).parameters
    named = {p for p, v in theirs.items() if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)}
    assert named <= set(ours), sorted(named - set(ours))


@pytest.mark.parametrize("name", ["move", "nmembers", "get", "get_array", "get_group", "require_groups",
                                  "zeros", "full_like", "from_store", "open"])
def test_group_member_parameters_match(name):
    theirs = inspect.signature(getattr(zarr.Group, name)).parameters
    ours = inspect.signature(getattr(zarrsync.Group, name)).parameters
    named = {p for p, v in theirs.items() if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)}
    assert named <= set(ours), sorted(named - set(ours))


# --- behaviour across the two libraries ------------------------------------------------------------------
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_save_then_zarrsync_load(tmp_path, zarr_format):
    path = str(tmp_path / "saved.zarr")
    zarr.save(path, np.arange(10, dtype="i4"), zarr_format=zarr_format)
    np.testing.assert_array_equal(zarrsync.load(path), np.arange(10, dtype="i4"))
    group_path = str(tmp_path / "group.zarr")
    zarr.save_group(group_path, np.ones(3), named=np.eye(2), zarr_format=zarr_format)
    loaded = zarrsync.load(group_path)
    assert sorted(loaded) == ["arr_0", "named"]
    np.testing.assert_array_equal(loaded["named"], np.eye(2))


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarrsync_save_then_zarr_load(tmp_path, zarr_format):
    path = str(tmp_path / "saved.zarr")
    zarrsync.save(path, np.arange(6).reshape(2, 3), zarr_format=zarr_format)
    np.testing.assert_array_equal(zarr.load(path), np.arange(6).reshape(2, 3))


@pytest.mark.parametrize("dest_kind", ["local", "zip"])
def test_copy_store_output_opens_in_zarr(tmp_path, dest_kind):
    src = MemoryStore()
    g = zarrsync.create_group(src, attributes={"title": "t"})
    a = g.create_array("sub/a", shape=(10, 7), dtype="f4", chunks=(3, 3), shards=(6, 6))
    a[...] = np.arange(70, dtype="f4").reshape(10, 7)
    dest = LocalStore(str(tmp_path / "dest.zarr")) if dest_kind == "local" else \
        ZipStore(str(tmp_path / "dest.zip"), mode="w")
    zarrsync.copy_store(src, dest, dest_path="copied")
    dest.close()
    target = str(tmp_path / ("dest.zarr" if dest_kind == "local" else "dest.zip"))
    store = zarr.storage.ZipStore(target, mode="r") if dest_kind == "zip" else target
    zg = zarr.open_group(store, path="copied", mode="r")
    assert zg.attrs["title"] == "t"
    np.testing.assert_array_equal(zg["sub/a"][...], np.arange(70, dtype="f4").reshape(10, 7))


def test_from_array_of_a_zarr_python_array(tmp_path):
    za = zarr.create_array(str(tmp_path / "z.zarr"), shape=(9, 4), chunks=(4, 4), dtype="i2")
    za[...] = np.arange(36, dtype="i2").reshape(9, 4)
    new = zarrsync.from_array(None, data=za)  # any array-like: read block by block
    np.testing.assert_array_equal(new[...], za[...])


def test_from_array_keeps_what_zarr_python_keeps():
    source_z = zarr.create_array({}, shape=(8, 6), chunks=(2, 3), shards=(4, 6), dtype="u2", fill_value=5,
                                 attributes={"a": 1}, dimension_names=["y", "x"])
    theirs = zarr.from_array({}, data=source_z)
    source_s = zarrsync.create_array(None, shape=(8, 6), chunks=(2, 3), shards=(4, 6), dtype="u2", fill_value=5,
                                     attributes={"a": 1}, dimension_names=["y", "x"])
    ours = zarrsync.from_array(None, data=source_s)
    assert (ours.chunks, ours.shards, ours.fill_value, dict(ours.attrs), ours.dimension_names) == (
        theirs.chunks, theirs.shards, theirs.fill_value, dict(theirs.attrs), tuple(theirs.metadata.dimension_names))


def test_tree_function_matches_group_tree():
    g = zarrsync.create_group(None)
    g.create_array("a/b", shape=(2,), dtype="i1")
    assert zarrsync.tree(g, level=None) == g.tree()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zg = zarr.group()
        zg.create_array("a/b", shape=(2,), dtype="i1")
        assert "b" in str(zarr.tree(zg))


@pytest.mark.parametrize("layout", [{"chunks": (4, 3)}, {"chunks": (4, 3), "shards": (8, 6)},
                                    {"chunks": (4, 3), "zarr_format": 2, "order": "F"}])
def test_chunk_sizes_and_order_match_zarr_python(layout):
    z = zarr.create_array({}, shape=(10, 7), dtype="i1", **layout)
    s = zarrsync.create_array(None, shape=(10, 7), dtype="i1", **layout)
    assert (s.read_chunk_sizes, s.write_chunk_sizes, s.order) == (z.read_chunk_sizes, z.write_chunk_sizes, z.order)
