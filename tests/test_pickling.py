"""Arrays, groups and settings pickle by reference: the store's description, the node's path, its
metadata as JSON and its own options; never locks, pools or caches. An array unpickled in another
process reads and writes the same data."""

from __future__ import annotations

import pickle
import pickletools
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import zarrsync
from zarrsync.storage import LocalStore, MemoryStore, ZipStore

LAYOUTS = {
    "v3": {},
    "v3-sharded": {"shards": (8, 8)},
    "v2": {"zarr_format": 2},
}


def _array(where, layout, **kw):
    a = zarrsync.create_array(where, shape=(12, 10), chunks=(4, 4), dtype="f4", fill_value=-1,
                              attributes={"units": "m"}, **LAYOUTS[layout], **kw)
    a[...] = np.arange(120, dtype="f4").reshape(12, 10)
    return a


def _globals(data: bytes) -> list[str]:
    """The classes and functions a pickle names ("module name"): a lock or pool would be one."""
    found, strings = [], []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            found.append(" ".join(strings[-2:]))
        elif op.name in ("GLOBAL", "INST"):
            found.append(arg)
    assert any(g.startswith("zarrsync") for g in found), found  # the reading is right
    return found


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_local_array_pickles_small_and_reads_the_same(tmp_path, layout):
    a = _array(str(tmp_path / "a.zarr"), layout)
    data = pickle.dumps(a)
    assert len(data) < 1024
    assert not [g for g in _globals(data) if g.split()[0] in ("_thread", "threading", "concurrent.futures")]
    b = pickle.loads(data)
    assert type(b) is zarrsync.Array and b == a and b is not a
    assert b.metadata == a.metadata and b.attrs.asdict() == {"units": "m"}
    np.testing.assert_array_equal(b[...], a[...])


def test_an_unpickled_array_shares_the_node_in_this_process(tmp_path):
    a = _array(str(tmp_path / "a.zarr"), "v3")
    b = pickle.loads(pickle.dumps(a))
    a.resize((20, 10))
    assert b.shape == (20, 10)  # the same node state: a resize through one is seen by the other
    b[15, 0] = 5
    assert a[15, 0] == 5


def test_the_array_config_and_read_only_survive(tmp_path):
    _array(str(tmp_path / "a.zarr"), "v3")
    a = zarrsync.open_array(str(tmp_path / "a.zarr"), mode="r", config={"write_empty_chunks": True, "order": "F"})
    b = pickle.loads(pickle.dumps(a))
    assert b.read_only and b._config == {"write_empty_chunks": True, "order": "F"}
    assert b[...].flags.f_contiguous
    with pytest.raises(zarrsync.errors.ReadOnlyError):
        b[0, 0] = 1


def test_a_memory_array_pickles_a_copy_of_its_data():
    a = _array(MemoryStore(), "v3")
    b = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(b[...], a[...])
    b[0, 0] = 99  # its own copy, as MemoryStore pickles
    assert a[0, 0] == 0


def test_a_zip_array_pickles(tmp_path):
    path = tmp_path / "a.zip"
    with ZipStore(path, mode="w") as store:
        _array(store, "v3")
    with ZipStore(path, mode="r") as store:
        a = zarrsync.open_array(store, mode="r")
        b = pickle.loads(pickle.dumps(a))
        np.testing.assert_array_equal(b[...], np.arange(120, dtype="f4").reshape(12, 10))
        b.store.close()


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_groups_pickle_with_their_consolidated_metadata(tmp_path, zarr_format):
    g = zarrsync.create_group(str(tmp_path / "g.zarr"), zarr_format=zarr_format, attributes={"kind": "root"})
    g.create_array("sub/x", shape=(3,), dtype="i2", fill_value=0)[...] = [1, 2, 3]
    zarrsync.consolidate_metadata(str(tmp_path / "g.zarr"))
    opened = zarrsync.open_consolidated(str(tmp_path / "g.zarr"))
    h = pickle.loads(pickle.dumps(opened))
    assert h == opened and h.attrs.asdict() == {"kind": "root"}
    # the members come from the consolidated metadata it carried: the subgroup's own document
    # is gone, yet it is still listed
    LocalStore(tmp_path / "g.zarr").delete("sub/zarr.json" if zarr_format == 3 else "sub/.zgroup")
    assert sorted(h.keys()) == ["sub"]
    np.testing.assert_array_equal(h["sub/x"][...], [1, 2, 3])


def test_settings_pickle():
    settings = zarrsync.config.get()
    assert pickle.loads(pickle.dumps(settings)) == settings


def test_pickling_from_many_threads_while_writing(tmp_path):
    a = _array(str(tmp_path / "a.zarr"), "v3-sharded")
    errors = []

    def pickler():
        try:
            for _ in range(50):
                b = pickle.loads(pickle.dumps(a))
                assert b.shape == (12, 10)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=pickler) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(50):
        a[i % 12, :] = i
    for t in threads:
        t.join()
    assert not errors


_CHILD = textwrap.dedent("""
    import pickle, sys
    import numpy as np
    a = pickle.loads(sys.stdin.buffer.read())
    assert float(a[3, 4]) == 34.0
    a[0, :] = 7  # a partial write of the first row of chunks
    print(float(a[...].sum()))
""")


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_an_array_unpickled_in_another_process_reads_and_writes_the_same_data(tmp_path, layout):
    a = _array(str(tmp_path / "a.zarr"), layout)
    child = subprocess.run([sys.executable, "-c", _CHILD], input=pickle.dumps(a), capture_output=True,
                           timeout=120)
    assert child.returncode == 0, child.stderr.decode()
    expected = np.arange(120, dtype="f4").reshape(12, 10)
    expected[0, :] = 7
    assert float(child.stdout) == expected.sum()
    np.testing.assert_array_equal(a[...], expected)
