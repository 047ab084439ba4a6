"""What ``store_from`` (and so every API function taking ``store=``) makes of URLs, mappers and
``storage_options``; the stores themselves are tested in test_store_fsspec / test_store_obstore."""

from __future__ import annotations

import fsspec
import numpy as np
import pytest

import zarrsync
import zarrsync.storage as storage
from zarrsync.errors import MissingDependencyError, StoreError
from zarrsync.storage import LocalStore, MemoryStore, store_from
from zarrsync.storage.fsspec_store import FsspecStore
from oracles import require


def test_memory_urls_are_one_process_wide_namespace(tmp_path):
    url = f"memory://zs-urls-{tmp_path.name}/a.zarr"
    a = zarrsync.create_array(url, shape=(6,), chunks=(4,), dtype="i2", fill_value=0)
    a[:] = np.arange(6)
    assert isinstance(a.store, FsspecStore)
    np.testing.assert_array_equal(zarrsync.open_array(url, mode="r")[:], np.arange(6))


def test_an_fsspec_mapper_is_read_through_fsspec_not_copied_into_memory(tmp_path):
    mapper = fsspec.get_mapper(f"memory://zs-urls-{tmp_path.name}/m.zarr")
    zarrsync.create_array(mapper, shape=(3,), chunks=(3,), dtype="u1", fill_value=7)
    st = store_from(mapper)
    assert isinstance(st, FsspecStore) and not isinstance(st, MemoryStore)
    assert "zarr.json" in mapper  # written through to the filesystem
    assert zarrsync.open_array(mapper, mode="r")[:].tolist() == [7, 7, 7]


def test_file_urls_and_paths_stay_local(tmp_path):
    assert isinstance(store_from(f"file://{tmp_path}"), LocalStore)
    assert isinstance(store_from(str(tmp_path)), LocalStore)


def test_storage_options_on_something_other_than_a_url_are_refused(tmp_path):
    for target in (str(tmp_path), {}, MemoryStore()):
        with pytest.raises(StoreError, match="storage_options"):
            store_from(target, storage_options={"anon": True})


def test_storage_options_reach_the_backend(tmp_path):
    # fsspec's local filesystem takes auto_mkdir; an unknown option is the backend's error
    st = store_from(f"simplecache::file://{tmp_path}/x", storage_options={"file": {"auto_mkdir": True}})
    assert isinstance(st, FsspecStore)


def test_object_store_urls_go_to_obstore_when_installed():
    require("obstore")
    from zarrsync.storage.object_store import ObjectStore

    st = store_from("s3://some-bucket/x.zarr", mode="r", storage_options={"region": "us-east-1",
                                                                           "skip_signature": True})
    assert isinstance(st, ObjectStore) and st.read_only
    assert isinstance(store_from("https://example.org/data.zarr", mode="r"), ObjectStore)


def test_without_a_backend_the_error_names_the_extra(monkeypatch):
    monkeypatch.setattr(storage, "_installed", lambda module: False)
    with pytest.raises(MissingDependencyError, match=r"zarrsync\[remote\]"):
        store_from("s3://bucket/x.zarr")


def test_a_scheme_registered_by_another_package_is_used(tmp_path, monkeypatch):
    """A package names ``factory(url, *, storage_options, read_only)`` under the
    ``zarrsync.stores`` entry-point group; here a real installed distribution on sys.path."""
    (tmp_path / "zs_test_plugin.py").write_text(
        "from zarrsync.storage import MemoryStore\n"
        "made = []\n"
        "def make(url, *, storage_options, read_only):\n"
        "    made.append((url, storage_options, read_only))\n"
        "    return MemoryStore(read_only=read_only)\n")
    dist = tmp_path / "zs_test_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zs-test-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[zarrsync.stores]\nzstest = zs_test_plugin:make\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    st = store_from("zstest://anything/x", mode="r", storage_options={"k": 1})
    import zs_test_plugin

    assert isinstance(st, MemoryStore) and st.read_only
    assert zs_test_plugin.made == [("zstest://anything/x", {"k": 1}, True)]
