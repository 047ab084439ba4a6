"""I/O fault tests (issue 10): a full disk (``RLIMIT_FSIZE`` in a child process) and failing stores
(:class:`zarrsync.testing.FaultyStore`). The error reaches the caller, old data stays intact and
readable, nothing torn is left, and the same array (and the thread pool) keeps working.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import zarrsync
from zarrsync.errors import CorruptChunkError, ZarrsyncError
from zarrsync.storage.memory import MemoryStore
from zarrsync.testing import FaultyStore


def _errno(e: BaseException) -> int | None:
    """The errno of ``e`` or of the error it wraps."""
    while e is not None:
        if isinstance(e, OSError) and e.errno is not None:
            return e.errno
        e = e.__cause__ or e.__context__
    return None


# --- a full disk -------------------------------------------------------------------------------

_EFBIG_CHILD = textwrap.dedent(r"""
    import errno, resource, signal, sys
    import numpy as np
    import zarrsync
    from zarrsync.storage.local import LocalStore

    def errno_of(e):
        while e is not None:
            if isinstance(e, OSError) and e.errno is not None:
                return e.errno
            e = e.__cause__ or e.__context__

    root = sys.argv[1]
    big = 1 << 17  # 128 KiB chunks: writes and reads of them run on the pool's threads
    kw = dict(compressors=None) if sys.argv[2] == "3" else dict(compressors=None, zarr_format=2)
    a = zarrsync.create_array(root, path="big", shape=(4, big), chunks=(1, big), dtype="u1", fill_value=0,
                              config={"max_workers": 4}, **kw)
    a[...] = 1
    small = zarrsync.create_array(root, path="small", shape=(64,), chunks=(8,), dtype="u1", fill_value=0, **kw)
    small[...] = 1
    keys_before = sorted(LocalStore(root).list())

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (big // 2, hard))

    for write in (lambda: a.__setitem__(Ellipsis, 2),            # whole chunks, on the pool
                  lambda: a.__setitem__((1, slice(5, 99)), 3),   # a partial write: read, merge, fail
                  lambda: a.append(np.full((1, big), 4, "u1"))):  # grows, then the new chunk fails
        try:
            write()
        except OSError as e:
            assert errno_of(e) == errno.EFBIG, repr(e)
        else:
            raise AssertionError("a write past RLIMIT_FSIZE did not raise")
        got = a[:4]  # old chunks intact, read on the pool
        assert (got == 1).all(), np.unique(got)
    assert a.shape == (5, big) and (a[4] == 0).all()  # the appended row never landed
    assert sorted(LocalStore(root).list()) == keys_before, "a failed write left a key behind"

    small[3:20] = 7  # small writes still fit: the process, its pool and the array work on
    assert (small[...] == np.r_[[1] * 3, [7] * 17, [1] * 44]).all()
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    a[...] = 5
    assert (a[...] == 5).all()
    print("ok")
""")


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_full_disk_efbig(tmp_path, zarr_format):
    r = subprocess.run([sys.executable, "-c", _EFBIG_CHILD, str(tmp_path / "root"), str(zarr_format)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-3000:]


# --- failing stores ----------------------------------------------------------------------------------

LAYOUTS = {
    "v3": dict(chunks=(8,)),
    "sharded": dict(chunks=(4,), shards=(16,)),
    "v2": dict(chunks=(8,), zarr_format=2),
}


def _array(layout: str, **faults):
    inner = MemoryStore()
    fs = FaultyStore(inner)
    a = zarrsync.create_array(fs, shape=(80,), dtype="i4", fill_value=-1, config={"max_workers": 1},
                              **LAYOUTS[layout])
    a[...] = 1
    fs.reset()
    for k, v in faults.items():
        setattr(fs, k, v)
    return a, fs


def _per_object(a, values: np.ndarray) -> list[np.ndarray]:
    size = a.shards[0] if a.shards else a.chunks[0]
    return [values[i:i + size] for i in range(0, values.size, size)]


def _clear(fs) -> None:
    fs.fail_get_at = fs.fail_set_at = fs.fail_delete_at = fs.fail_keys = None


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("threads", [False, True])
def test_nth_set_fails_in_a_multi_chunk_write(layout, threads):
    """Fail each set of ``a[3:77] = 2`` in turn (partial edge chunks, whole ones between)."""
    n_objects = 80 // (16 if layout == "sharded" else 8)
    for n in range(1, n_objects + 1):
        a, fs = _array(layout, fail_set_at=n)
        if threads:  # every chunk write on the pool, several in flight when one fails
            fs.latency_bound = True
            a = zarrsync.open_array(fs, config={"max_workers": 4})
        with pytest.raises(OSError) as info:
            a[3:77] = 2
        assert _errno(info.value) == errno.EIO
        got = a[...]
        new = np.r_[[1] * 3, [2] * 74, [1] * 3]
        parts = list(zip(_per_object(a, got), _per_object(a, np.ones(80, "i4")), _per_object(a, new)))
        states = ["new" if np.array_equal(g, w) else "old" if np.array_equal(g, o) else "torn" for g, o, w in parts]
        assert "torn" not in states, (n, got)
        assert states.count("old") >= 1
        if not threads:  # one at a time: the chunks before the failing one are written, none after
            assert states == ["new"] * (n - 1) + ["old"] * (n_objects - n + 1), (n, states)
        _clear(fs)
        a[...] = 3  # the same array keeps working
        assert (a[...] == 3).all()


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_failed_get_in_a_partial_write_keeps_the_old_chunk(layout):
    a, fs = _array(layout)
    a[8:16] = 5
    fs.reset()
    fs.fail_get_at = 1
    with pytest.raises(OSError):
        a[9:11] = 6
    assert fs.sets == 0
    np.testing.assert_array_equal(a[...], np.r_[[1] * 8, [5] * 8, [1] * 64])
    a[9:11] = 6
    np.testing.assert_array_equal(a[8:16], [5, 6, 6, 5, 5, 5, 5, 5])


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_failed_delete_or_metadata_write_during_a_shrink(layout):
    """Every delete, and the metadata write, failing in turn: the error reaches the caller, the
    shape in force is the old one (the metadata is written last), the part of the cut-off region
    already cleared is fill, and a retry through the same object finishes the shrink."""
    a, fs = _array(layout)
    probe = FaultyStore(MemoryStore())
    b = zarrsync.create_array(probe, shape=(80,), dtype="i4", fill_value=-1, **LAYOUTS[layout])
    b[...] = 1
    probe.reset()
    b.resize((13,))
    faults = [("fail_delete_at", i) for i in range(1, probe.deletes + 1)] + [("fail_set_at", probe.sets)]
    assert len(faults) >= 4
    for attr, n in faults:
        a, fs = _array(layout, **{attr: n})
        with pytest.raises(OSError):
            a.resize((13,))
        assert a.shape == (80,)
        fresh = zarrsync.open_array(fs.inner)
        assert fresh.shape == (80,)
        got = fresh[...]
        assert (got[:13] == 1).all() and np.all((got[13:] == 1) | (got[13:] == -1))
        _clear(fs)
        a.resize((13,))
        a.resize((80,))
        np.testing.assert_array_equal(a[...], np.r_[[1] * 13, [-1] * 67])


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_failed_attribute_write_keeps_the_old_attributes(layout):
    a, fs = _array(layout)
    a.attrs["x"] = 1
    fs.fail_set_at = fs.sets + 1
    with pytest.raises(OSError):
        a.attrs["x"] = 2
    assert a.attrs["x"] == 1 and zarrsync.open_array(fs.inner).attrs["x"] == 1
    _clear(fs)
    a.attrs["x"] = 3
    assert zarrsync.open_array(fs.inner).attrs["x"] == 3


@pytest.mark.parametrize("layout", ["v3", "v2"])
def test_torn_write_of_a_non_atomic_store_is_a_clear_error(layout):
    """A store that tears writes breaks its promise; zarrsync still refuses the torn chunk by name."""
    a, fs = _array(layout, truncate_to=7)
    a[8:16] = 5
    with pytest.raises(CorruptChunkError) as info:
        a[8:16]
    key = "c/1" if layout == "v3" else "1"
    assert isinstance(info.value, ZarrsyncError) and repr(key) in str(info.value)
