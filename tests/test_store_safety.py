"""Store safety (issue 10): symbolic links never lead a LocalStore outside its root; long key
segments are storable; a failed or killed ZipStore write never damages the archive; hostile zip
entries (names, lying sizes, bombs) are refused one by one; stores stay usable in a child forked
while other threads held their locks; snapshots hold one version."""

from __future__ import annotations

import errno
import os
import random
import resource
import signal
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import traceback
import zipfile
from pathlib import Path

import numpy as np
import pytest

import zarrsync
from zarrsync.errors import InvalidKeyError, StoreError, ZarrsyncError
from zarrsync.storage import LocalStore, MemoryStore, RangeRequest, SuffixRequest, ZipStore

TMP_MARK = ".__zarrsync_tmp__"


def tree(root: Path) -> dict[str, bytes]:
    """Every regular file below ``root``, not following links (relative path -> content)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


# --- children: fork, run, report ------------------------------------------------------------------
def limit_file_size(limit: int) -> None:
    """In a child: writes past ``limit`` bytes fail with EFBIG (SIGXFSZ ignored, else it kills)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def run_in_child(body, timeout: float = 20.0) -> None:
    """Run ``body()`` in a forked child; fail with the child's traceback if it raised, and kill it
    if it has not finished within ``timeout`` seconds (a deadlock)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(read_end)
            body()
        except BaseException:
            os.write(write_end, traceback.format_exc().encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    status = _wait(pid, timeout)
    report = b""
    while chunk := os.read(read_end, 65536):
        report += chunk
    os.close(read_end)
    assert status is not None, "the child hung (killed after the timeout)"
    assert os.waitstatus_to_exitcode(status) == 0, report.decode()


def _wait(pid: int, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


# ==================================================================================================
# LocalStore and symbolic links: followed only when they resolve inside the root
# ==================================================================================================
@pytest.fixture
def layout(tmp_path):
    """``root`` (the store) beside ``outside`` (which must never be read or written)."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (outside / "c").mkdir(parents=True)
    (outside / "secret").write_bytes(b"outside secret")
    (outside / "c" / "0").write_bytes(b"foreign chunk")
    root.mkdir()
    return root, outside


class TestSymlinksLeavingTheRoot:
    def test_linked_directory_receives_nothing_and_reads_fail(self, layout):
        root, outside = layout
        before = tree(outside)
        store = LocalStore(root)
        store.set("arr/zarr.json", b"{}")
        (root / "arr" / "c").symlink_to(outside / "c", target_is_directory=True)
        calls = [
            lambda: store.set("arr/c/1", b"x"), lambda: store.set_if_not_exists("arr/c/1", b"x"),
            lambda: store.set("arr/c/1/2", b"x"), lambda: store.get("arr/c/0"),
            lambda: store.get("arr/c/0", RangeRequest(0, 4)), lambda: store.get("arr/c/missing"),
            lambda: store.get_ranges("arr/c/0", [SuffixRequest(2)]), lambda: store.snapshot("arr/c/0"),
            lambda: store.get_into("arr/c/0", memoryview(bytearray(13))), lambda: store.exists("arr/c/0"),
            lambda: store.get_transient("arr/c/0"),
            lambda: store.getsize("arr/c/0"), lambda: store.delete("arr/c/0"),
            lambda: store.delete_prefix("arr/c/"),
        ]
        for call in calls:
            with pytest.raises(InvalidKeyError, match="arr/c/"):
                call()
        assert list(store.list_prefix("arr/c/")) == [] and list(store.list_prefix("arr/c/0")) == []
        assert list(store.list_dir("arr/c")) == []
        assert sorted(store.list()) == ["arr/zarr.json"]
        assert list(store.list_dir("arr")) == ["zarr.json"]
        store.delete_prefix("arr/")  # removes the link, never what it points to
        assert not (root / "arr").exists()
        assert tree(outside) == before

    def test_array_with_linked_chunk_directory(self, layout):
        root, outside = layout
        before = tree(outside)
        a = zarrsync.create_array(str(root), name="arr", shape=(16,), chunks=(4,), dtype="u1",
                                  compressors=None)
        a[:] = 7
        for p in (root / "arr" / "c").iterdir():
            p.unlink()
        (root / "arr" / "c").rmdir()
        (root / "arr" / "c").symlink_to(outside / "c", target_is_directory=True)
        # a fresh store meets the link (a store checks each directory once: see local.py)
        b = zarrsync.open_array(str(root), path="arr")
        with pytest.raises(ZarrsyncError):
            b[:] = 1
        with pytest.raises(ZarrsyncError):
            b[:4]
        with pytest.raises(ZarrsyncError):
            zarrsync.open_array(str(root), path="arr")[0]
        assert tree(outside) == before

    def test_linked_chunk_file_returns_no_foreign_bytes(self, layout):
        root, outside = layout
        store = LocalStore(root)
        store.set("arr/c/1", b"mine")
        (root / "arr" / "c" / "0").symlink_to(outside / "secret")
        (root / "arr" / "c" / "9").symlink_to(outside / "missing")  # dangling, outside
        for key in ("arr/c/0", "arr/c/9"):
            for call in (lambda: store.get(key), lambda: store.get(key, SuffixRequest(3)),
                         lambda: store.get_ranges(key, [RangeRequest(0, 3)]), lambda: store.snapshot(key),
                         lambda: store.get_into(key, memoryview(bytearray(14))),
                         lambda: store.get_transient(key),
                         lambda: store.exists(key), lambda: store.getsize(key)):
                with pytest.raises(InvalidKeyError, match=key):
                    call()
        assert sorted(store.list()) == ["arr/c/1"]
        assert sorted(store.list_dir("arr/c")) == ["1"]
        # writing or deleting the key replaces or removes the link, never its target
        store.set("arr/c/0", b"new")
        assert store.get("arr/c/0") == b"new" and not (root / "arr" / "c" / "0").is_symlink()
        store.delete("arr/c/9")
        assert not os.path.lexists(root / "arr" / "c" / "9")
        assert (outside / "secret").read_bytes() == b"outside secret"

    def test_write_below_a_linked_ancestor_is_refused(self, layout):
        root, outside = layout
        (root / "g").symlink_to(outside, target_is_directory=True)
        store = LocalStore(root)
        with pytest.raises(InvalidKeyError):
            store.set("g/new/deeper/k", b"x")  # the directories would be made outside
        with pytest.raises(InvalidKeyError):
            store.get("g/secret")
        assert not (outside / "new").exists()
        assert list(store.list()) == [] and list(store.list_dir("")) == []

    def test_link_to_an_ancestor_does_not_loop(self, layout):
        root, _ = layout
        store = LocalStore(root)
        store.set("a/k", b"v")
        (root / "a" / "loop").symlink_to(root, target_is_directory=True)  # inside, but a cycle
        assert sorted(store.list()) == ["a/k"]
        assert sorted(store.list_dir("a")) == ["k", "loop"]
        assert store.get("a/loop/a/k") == b"v"


class TestSymlinksInsideTheRoot:
    def test_links_inside_the_root_work(self, layout):
        root, _ = layout
        store = LocalStore(root)
        store.set("real/c/0", b"chunk 0")
        store.set("file", b"target")
        (root / "arr").mkdir()
        (root / "arr" / "c").symlink_to(root / "real" / "c", target_is_directory=True)
        (root / "alias").symlink_to("file")  # relative, inside
        assert store.get("arr/c/0") == b"chunk 0"
        assert store.get("arr/c/0", RangeRequest(6, 7)) == b"0"
        store.set("arr/c/1", b"chunk 1")  # written through the link, into the root
        assert (root / "real" / "c" / "1").read_bytes() == b"chunk 1"
        assert store.get("alias") == b"target" and store.getsize("alias") == 6 and store.exists("alias")
        with store.snapshot("alias") as snap:
            assert bytes(snap.read([RangeRequest(0, 3)])[0]) == b"tar"
        assert sorted(store.list()) == ["alias", "file", "real/c/0", "real/c/1"]
        assert sorted(store.list_prefix("arr/c/")) == ["arr/c/0", "arr/c/1"]

    def test_root_that_is_a_link(self, tmp_path):
        real = tmp_path / "real"
        real.mkdir()
        (tmp_path / "link").symlink_to(real, target_is_directory=True)
        store = LocalStore(tmp_path / "link")
        store.set("a/b", b"v")
        (real / "a" / "abs").symlink_to(real / "a" / "b")  # absolute, through the real root
        assert store.get("a/b") == b"v" and store.get("a/abs") == b"v"
        assert sorted(store.list()) == ["a/abs", "a/b"]


# ==================================================================================================
# LocalStore: long key segments
# ==================================================================================================
@pytest.mark.parametrize("key", ["k" * 240, "k" * 255, "a/" + "b" * 255, "c" * 200 + "/" + "d" * 255])
def test_long_key_segments_are_storable(tmp_path, key):
    store = LocalStore(tmp_path)
    store.set(key, b"v")
    assert store.get(key) == b"v"
    store.set(key, b"w")  # over an existing file
    assert store.set_if_not_exists(key, b"x") is False
    fresh = key[:-1] + "z"  # as long, not yet stored
    assert store.set_if_not_exists(fresh, b"y") is True
    assert store.get(key) == b"w" and store.get(fresh) == b"y"
    assert set(store.list()) == {key, fresh}
    assert not [p for p in tmp_path.rglob("*") if TMP_MARK in p.name]


# ==================================================================================================
# MemoryStore snapshots hold the stored object
# ==================================================================================================
def test_memory_snapshot_holds_the_stored_bytes():
    data = {}
    store = MemoryStore(data)
    store.set("k", bytearray(b"old value"))
    assert type(data["k"]) is bytes
    with store.snapshot("k") as snap:
        assert snap.value is data["k"]  # the stored object itself: no copy
        store.set("k", b"new")
        store.delete("k")
        assert bytes(snap.read([RangeRequest(0, 3)])[0]) == b"old"
    foreign = bytearray(b"mutable")
    store = MemoryStore({"m": foreign})  # a caller's dict may hold a bytearray
    snap = store.snapshot("m")
    foreign[:] = b"changed"
    assert bytes(snap.read([RangeRequest(0, 7)])[0]) == b"mutable"


# ==================================================================================================
# ZipStore: a failed or killed write never damages the archive
# ==================================================================================================
def zip_contents(path: Path) -> dict[str, bytes]:
    with ZipStore(path, mode="r") as store:
        return {k: store.get(k) for k in store.list()}


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "a.zip"
    with ZipStore(path, mode="w") as store:
        store.set("old/zarr.json", b"{}")
        store.set("old/c/0", b"old chunk")
    return path


def fail_after(real, limit: int):
    """A replacement for the temporary archive's ``write``: raises EFBIG once ``limit`` more
    bytes have gone out (after writing part of the failing call, as a real file size limit does)."""
    left = [limit]

    def write(file, data):
        data = memoryview(data).cast("B")
        if len(data) > left[0]:
            if left[0]:
                real(file, data[:left[0]])
                left[0] = 0
            raise OSError(errno.EFBIG, "File too large")
        left[0] -= len(data)
        return real(file, data)

    return write


class TestZipFailedWrites:
    def test_failed_write_is_rolled_back_and_the_session_goes_on(self, archive, monkeypatch):
        from zarrsync.storage import zip as zipmod
        store = ZipStore(archive, mode="a")
        store.set("a", b"first a")
        store.set("b", b"b")
        monkeypatch.setattr(zipmod._WholeWrites, "write", fail_after(zipmod._WholeWrites.write, 5000))
        with pytest.raises(StoreError, match="'a'"):
            store.set("a", b"x" * 100_000)  # a key written before in this session
        with pytest.raises(StoreError, match="'new'"):
            store.set("new", b"y" * 100_000)  # a key never written
        monkeypatch.undo()
        assert store.get("a") == b"first a" and store.get("new") is None
        assert zip_contents(archive) == {"old/zarr.json": b"{}", "old/c/0": b"old chunk"}  # not yet
        store.set("c", b"after the failure")
        store.close()
        assert zip_contents(archive) == {"old/zarr.json": b"{}", "old/c/0": b"old chunk", "a": b"first a",
                                         "b": b"b", "c": b"after the failure"}
        with zipfile.ZipFile(archive) as zf:
            assert zf.testzip() is None
            assert [i.filename for i in zf.infolist()] == ["old/zarr.json", "old/c/0", "a", "b", "c"]
        assert [p.name for p in archive.parent.iterdir()] == ["a.zip"]  # no temporary file left

    def test_failed_close_keeps_the_old_archive(self, archive, monkeypatch):
        store = ZipStore(archive, mode="a")
        store.set("k", b"v")

        def broken_replace(src, dst):
            raise OSError(errno.EXDEV, "cannot replace")

        monkeypatch.setattr(os, "replace", broken_replace)
        with pytest.raises(StoreError, match="previous content"):
            store.close()
        monkeypatch.undo()
        assert zip_contents(archive) == {"old/zarr.json": b"{}", "old/c/0": b"old chunk"}
        assert [p.name for p in archive.parent.iterdir()] == ["a.zip"]
        store.set("k2", b"v2")  # the store reopens and works
        store.close()
        assert zip_contents(archive)["k2"] == b"v2"

    def test_store_dropped_without_close_is_closed_then(self, archive):
        """As a ``zipfile.ZipFile`` closes itself when collected, a dropped store's session is
        published then (atomically), not lost."""
        import gc
        store = ZipStore(archive, mode="a")
        store.set("k", b"published when dropped")
        view = store.with_read_only()
        assert len(list(archive.parent.iterdir())) == 2  # the archive and the session's copy
        del store
        gc.collect()
        assert zip_contents(archive) == {"old/zarr.json": b"{}", "old/c/0": b"old chunk"}  # a view keeps it open
        assert view.get("k") == b"published when dropped"
        del view
        gc.collect()
        assert [p.name for p in archive.parent.iterdir()] == ["a.zip"]
        assert zip_contents(archive) == {"old/zarr.json": b"{}", "old/c/0": b"old chunk",
                                         "k": b"published when dropped"}

    def test_program_ending_without_close_publishes_the_session(self, archive):
        script = (f"from zarrsync.storage import ZipStore\n"
                  f"s = ZipStore({str(archive)!r}, mode='a')\n"
                  f"s.set('k', b'at exit')\n"
                  f"keep = s  # alive until the interpreter ends\n")
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
        assert zip_contents(archive)["k"] == b"at exit"
        assert [p.name for p in archive.parent.iterdir()] == ["a.zip"]

    def test_dropped_session_that_could_not_roll_back_is_discarded(self, archive, monkeypatch):
        import gc
        store = ZipStore(archive, mode="a")
        store.set("k1", b"v1")
        raw = store._state.raw

        def failing_write(data):
            raise OSError(errno.ENOSPC, "disk full")

        def failing_truncate(size):
            raise OSError(errno.EIO, "cannot truncate")

        monkeypatch.setattr(raw, "write", failing_write)
        monkeypatch.setattr(raw, "truncate", failing_truncate)
        with pytest.raises(StoreError):
            store.set("k2", b"v2")
        monkeypatch.undo()  # the disk is fine again: still, the broken session is not published
        del store, raw
        gc.collect()
        assert [p.name for p in archive.parent.iterdir()] == ["a.zip"]
        assert zip_contents(archive) == {"old/zarr.json": b"{}", "old/c/0": b"old chunk"}

    def test_efbig_in_a_child_with_a_file_size_limit(self, archive):
        old = zip_contents(archive)
        limit = archive.stat().st_size + 8192

        def child():
            limit_file_size(limit)
            store = ZipStore(archive, mode="a")
            store.set("small", b"fits")
            try:
                store.set("huge", os.urandom(1 << 20))
            except StoreError as e:
                assert "huge" in str(e) and isinstance(e.__cause__, OSError) and e.__cause__.errno == errno.EFBIG
            else:
                raise AssertionError("the write past the limit did not fail")
            assert store.get("small") == b"fits" and store.get("huge") is None
            store.set("later", b"after EFBIG")
            store.close()

        run_in_child(child)
        assert zip_contents(archive) == {**old, "small": b"fits", "later": b"after EFBIG"}

    def test_efbig_on_close_keeps_the_old_archive(self, archive):
        old = zip_contents(archive)
        limit = archive.stat().st_size + 200_000

        def child():
            limit_file_size(limit)
            store = ZipStore(archive, mode="a")
            # many entries fill the file right up to the limit: the central directory cannot fit
            value = b"z" * 1000
            for i in range(10_000):
                try:
                    store.set(f"k/{i}", value)
                except StoreError:
                    break
            try:
                store.close()
            except StoreError as e:
                assert "previous content" in str(e)
            else:
                raise AssertionError("close past the limit did not fail")

        run_in_child(child)
        assert zip_contents(archive) == old
        assert [p.name for p in archive.parent.iterdir()] == ["a.zip"]

    def test_sigkill_at_random_moments(self, archive):
        """20 writers killed at random moments: each time the archive opens, and every key holds
        one iteration's complete value."""
        keys = [f"arr/c/{i}" for i in range(6)]
        rng = random.Random(1234)
        completed = 0
        for kill in range(20):
            ready_r, ready_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the writer: append sessions forever
                try:
                    os.close(ready_r)
                    os.write(ready_w, b"!")
                    it = 0
                    while True:
                        it += 1
                        with ZipStore(archive, mode="a") as store:
                            for key in keys:
                                store.set(key, (b"%08d" % (kill * 100_000 + it)) * 512)
                finally:
                    os._exit(0)
            os.close(ready_w)
            assert os.read(ready_r, 1) == b"!"
            os.close(ready_r)
            time.sleep(rng.uniform(0, 0.05))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            contents = zip_contents(archive)  # opens: never "File is not a zip file"
            assert contents.pop("old/zarr.json") == b"{}" and contents.pop("old/c/0") == b"old chunk"
            for key, value in contents.items():
                assert key in keys
                assert len(value) == 8 * 512 and value == value[:8] * 512, f"torn value at {key}"
            if contents:
                completed += 1
            with zipfile.ZipFile(archive) as zf:
                assert zf.testzip() is None
            # a killed writer's temporary copy is never an archive key nor a LocalStore key
            assert all(TMP_MARK in p.name for p in archive.parent.iterdir() if p.name != "a.zip")
            assert list(LocalStore(archive.parent).list()) == ["a.zip"]
        assert completed > 0, "no writer ever completed a session: the kill loop tested nothing"


# ==================================================================================================
# ZipStore: hostile entries
# ==================================================================================================
HOSTILE_NAMES = ["/abs/zarr.json", "../evil/zarr.json", "a//b", "a\\b\\zarr.json", "dir/", "./x",
                 "g/../../zarr.json", "/", "g/"]


def test_hostile_entry_names_are_left_out(tmp_path):
    mem = MemoryStore()
    root = zarrsync.create_group(mem)
    a = root.create_array("arr", shape=(8,), chunks=(4,), dtype="i2")
    a[:] = np.arange(8)
    path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name in HOSTILE_NAMES[:4]:
            zf.writestr(name, b'{"zarr_format": 3, "node_type": "group"}')
        for key in sorted(mem.list()):
            zf.writestr(key, mem.get(key))
        for name in HOSTILE_NAMES[4:]:
            zf.writestr(name, b'{"zarr_format": 3, "node_type": "group"}')
    store = ZipStore(path)
    assert sorted(store.list()) == sorted(mem.list())
    assert sorted(store.list_dir("")) == ["arr", "zarr.json"]
    group = zarrsync.open_group(store, mode="r")
    assert [name for name, _ in group.members()] == ["arr"]
    assert "arr" in str(group.tree())
    np.testing.assert_array_equal(group["arr"][:], np.arange(8))


def _patch_sizes(path: Path, name: str, *, file_size: int | None = None, compress_size: int | None = None):
    """Rewrite an entry's declared sizes in its local header and its central directory record."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        local = zf.getinfo(name).header_offset
    central = data.index(b"PK\x01\x02")  # the first central directory record
    while data[central + 46:central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    for where, (csize_at, fsize_at) in ((local, (18, 22)), (central, (20, 24))):
        if compress_size is not None:
            data[where + csize_at:where + csize_at + 4] = struct.pack("<I", compress_size)
        if file_size is not None:
            data[where + fsize_at:where + fsize_at + 4] = struct.pack("<I", file_size)
    path.write_bytes(bytes(data))


class TestZipBombs:
    @pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
    def test_declared_size_beyond_the_method_is_refused(self, tmp_path, method):
        path = tmp_path / "bomb.zip"
        with zipfile.ZipFile(path, "w", compression=method) as zf:
            zf.writestr("ok", b"fine")
            zf.writestr("c/0", bytes(1 << 16))
        _patch_sizes(path, "c/0", file_size=0xFFFF_FFF0)  # 4 GiB from a few bytes
        store = ZipStore(path)
        tracemalloc.start()
        try:
            with pytest.raises(StoreError, match="'c/0'.*decompression bomb"):
                store.get("c/0")
            with pytest.raises(StoreError, match="'c/0'"):
                store.getsize("c/0")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1 << 20
        assert store.get("ok") == b"fine" and sorted(store.list()) == ["c/0", "ok"]

    def test_honest_large_ratio_is_read(self, tmp_path):
        path = tmp_path / "zeros.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("c/0", bytes(1 << 20))  # about 1000:1, the best deflate does
        assert ZipStore(path).get("c/0") == bytes(1 << 20)

    def test_header_that_lies_small_never_yields_more(self, tmp_path):
        path = tmp_path / "liar.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("c/0", bytes(1 << 20))
        _patch_sizes(path, "c/0", file_size=10)
        store = ZipStore(path)
        assert store.getsize("c/0") == 10
        with pytest.raises(StoreError, match="'c/0'"):  # zipfile stops at 10 bytes: the CRC fails
            store.get("c/0")

    def test_stored_entry_with_mismatched_sizes_or_past_the_data(self, tmp_path):
        path = tmp_path / "stored.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("a", b"x" * 100)
            zf.writestr("b", b"y" * 100)
        _patch_sizes(path, "a", file_size=1 << 30)
        _patch_sizes(path, "b", file_size=1 << 30, compress_size=1 << 30)
        store = ZipStore(path)
        with pytest.raises(StoreError, match="'a'"):
            store.get("a")
        with pytest.raises(StoreError, match="'b'.*past the archive"):
            store.get("b")


# ==================================================================================================
# Fork while other threads hold store and registry locks
# ==================================================================================================
def test_fork_while_threads_hold_store_locks(tmp_path):
    """Threads blocked inside ``MemoryStore._set`` and ``ZipStore._set`` (holding the stores'
    locks) and holding every module-level lock of the layers below, while the process forks:
    the child uses the stores and the registries, and exits in time."""
    from zarrsync import config
    from zarrsync import dtypes
    from zarrsync.codecs import cblosc, registry
    from zarrsync.storage import base

    held, release = threading.Event(), threading.Event()
    entered = threading.Semaphore(0)

    class BlockingDict(dict):
        def __setitem__(self, key, value):
            if key == "blocked":  # inside MemoryStore._set, its lock held
                entered.release()
                release.wait()
            super().__setitem__(key, value)

    mem = MemoryStore(BlockingDict(k=b"v"))
    local = LocalStore(tmp_path / "local")
    local.set("d/k", b"v")
    zstore = ZipStore(tmp_path / "a.zip", mode="w")
    zstore.set("k", b"v")
    zstore.close()  # published; a pending session would be the parent's alone
    zstore.get("k")  # the parent's handle is open: the child must not share its file offset
    real_append = zstore._append

    def blocking_append(zf, info, data, key):  # inside ZipStore._set, its lock held
        if key == "blocked":
            entered.release()
            release.wait()
        real_append(zf, info, data, key)

    zstore._append = blocking_append
    locks = [base._CONDITIONAL_LOCK, config._lock, registry._lock, registry._load_lock,
             dtypes._registry_lock, local._known.lock, cblosc._lock]

    def holder():
        for lock in locks:
            lock.acquire()
        held.set()
        release.wait()
        for lock in reversed(locks):
            lock.release()

    threads = [threading.Thread(target=holder), threading.Thread(target=mem.set, args=("blocked", b"x")),
               threading.Thread(target=zstore.set, args=("blocked", b"x"))]
    for t in threads:
        t.start()
    held.wait()
    entered.acquire()
    entered.acquire()

    def child():
        for lock in (base._CONDITIONAL_LOCK, config._lock, registry._lock, registry._load_lock,
                     dtypes._registry_lock, local._known.lock, cblosc._lock):
            assert lock.acquire(timeout=5), lock
            lock.release()
        cblosc._loaded.clear()  # loading again takes the lock
        assert cblosc.load() is not None
        assert mem.get("k") == b"v"
        mem.set("child", b"c")
        assert mem.set_if_not_exists("child", b"again") is False
        local.set("d/new/k", b"c")
        assert local.get("d/new/k") == b"c"
        assert zstore.get("k") == b"v"
        zstore.set("child", b"c")
        assert zstore.set_if_not_exists("child2", b"c") is True
        zstore.close()
        zarrsync.create_array(mem, name="arr", shape=(4,), chunks=(2,), dtype="i4")[:] = 1

    try:
        run_in_child(child)
    finally:
        release.set()
        for t in threads:
            t.join()
    assert mem.get("blocked") == b"x" and mem.get("child") is None
    assert zstore.get("k") == b"v"
    zstore.close()
    assert zstore.get("blocked") == b"x" and zstore.get("child") is None
    zstore.close()
