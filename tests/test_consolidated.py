"""Consolidated metadata (v3 inline in zarr.json, v2 .zmetadata): writing, reading, and when it is used."""

import json

import numpy as np
import pytest

import zarrsync
from zarrsync.errors import MetadataError


def build(store, fmt):
    g = zarrsync.open_group(store, mode="w", zarr_format=fmt, attributes={"title": "root"})
    a = g.create_array("raw/img", shape=(4, 4), dtype="u2", chunks=(2, 2), attributes={"units": "counts"})
    a[...] = np.arange(16).reshape(4, 4)
    g.create_group("empty")
    g.create_array("b", shape=(3,), dtype="f4")
    return g


@pytest.mark.parametrize("fmt", [2, 3])
def test_round_trip_and_members(fmt):
    store = zarrsync.MemoryStore()
    build(store, fmt)
    g = zarrsync.consolidate_metadata(store)
    expected = ["b", "empty", "raw", "raw/img"]
    assert [n for n, _ in g.members(max_depth=None)] == expected
    assert [n for n, _ in g.members()] == ["b", "empty", "raw"]
    assert [n for n, _ in g["raw"].members()] == ["img"]
    assert g["raw/img"].attrs["units"] == "counts"
    np.testing.assert_array_equal(g["raw/img"][...], np.arange(16).reshape(4, 4))
    again = zarrsync.open_consolidated(store)
    assert [n for n, _ in again.members(max_depth=None)] == expected


def test_v3_document_shape():
    store = zarrsync.MemoryStore()
    build(store, 3)
    zarrsync.consolidate_metadata(store)
    cm = json.loads(store.get("zarr.json"))["consolidated_metadata"]
    assert cm["kind"] == "inline" and cm["must_understand"] is False
    assert list(cm["metadata"]) == ["b", "empty", "raw", "raw/img"]  # by depth, then name
    assert cm["metadata"]["raw/img"] == json.loads(store.get("raw/img/zarr.json"))
    assert cm["metadata"]["empty"]["consolidated_metadata"] == {"kind": "inline", "must_understand": False,
                                                                "metadata": {}}


def test_v2_document_shape():
    store = zarrsync.MemoryStore()
    build(store, 2)
    zarrsync.consolidate_metadata(store)
    doc = json.loads(store.get(".zmetadata"))
    assert doc["zarr_consolidated_format"] == 1
    md = doc["metadata"]
    for key in (".zgroup", ".zattrs", "raw/.zgroup", "raw/img/.zarray", "raw/img/.zattrs", "b/.zarray", "empty/.zgroup"):
        assert key in md, key
        assert md[key] == json.loads(store.get(key)), key


@pytest.mark.parametrize("fmt", [2, 3])
def test_snapshot_is_used_only_when_asked_or_present(fmt):
    store = zarrsync.MemoryStore()
    build(store, fmt)
    zarrsync.consolidate_metadata(store)
    store.delete("b/zarr.json" if fmt == 3 else "b/.zarray")  # the hierarchy changes after the snapshot
    assert "b" in zarrsync.open_group(store).keys()  # default: the snapshot, when present
    assert "b" not in zarrsync.open_group(store, use_consolidated=False).keys()


def test_requiring_consolidated_metadata_that_is_absent():
    store = zarrsync.MemoryStore()
    build(store, 3)
    with pytest.raises(MetadataError, match="no consolidated metadata"):
        zarrsync.open_consolidated(store)
    with pytest.raises(MetadataError):
        zarrsync.consolidate_metadata(zarrsync.create_array(None, shape=(2,), dtype="i1").store)


def test_sub_group_consolidation_and_bad_documents():
    store = zarrsync.MemoryStore()
    build(store, 3)
    g = zarrsync.consolidate_metadata(store, path="raw")
    assert g.keys() == ["img"]
    doc = json.loads(store.get("zarr.json"))
    doc["consolidated_metadata"] = {"kind": "weird", "must_understand": False, "metadata": {}}
    store.set("zarr.json", json.dumps(doc).encode())
    with pytest.raises(MetadataError, match="consolidated_metadata"):
        zarrsync.open_group(store)
