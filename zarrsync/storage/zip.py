"""ZipStore: an array hierarchy inside one ``.zip`` archive.

Reading works on any zip archive. Writing appends entries, like zarr-python's ZipStore: a zip
archive cannot delete or replace a member in place, so a key written twice is stored twice and
the newest entry wins on read; :meth:`ZipStore.delete` raises.

**A write never damages the archive.** The first write of a session copies the archive (mode
``"a"``; ``"w"`` and ``"x"`` start empty) to a temporary file beside it, named
``.<archive name>.__zarrsync_tmp__<pid>.<random>``; every write and every read of the session
goes to that copy, and :meth:`ZipStore.close` writes its central directory and puts it in place
of the archive with one atomic ``os.replace``. At every instant the archive's path holds a
complete archive, with its old content or its new content. A write that fails midway (a full
disk, ``EFBIG``, an interrupt) is rolled back: the copy is cut back to where the failed entry
began, so the key keeps its previous value and the session's earlier writes stay. A close that
fails leaves the old archive in place (the session's writes are lost, and the error says so).
A store dropped without :meth:`~ZipStore.close` is closed when it is garbage collected or the
program ends (as a ``zipfile.ZipFile`` is), with the same atomic swap; a session that a failed
roll-back left unusable is discarded instead. A writer killed before its close leaves its
temporary copy behind; it is never read as the archive (delete it at leisure). Appending to a
large archive therefore costs one copy of it per session: the price of never destroying it.

Open one writable ``ZipStore`` per archive at a time: each session replaces the archive with
its own copy on close, so two writers open at once lose each other's entries. Views
(``with_read_only``) and copies made by pickling share or reopen the one archive safely.

Hostile archives: entries whose names are not valid keys (absolute, ``..``, ``//``, backslashes,
directory entries) are left out of listings one by one. An entry whose declared size is more
than its compression method can produce from its compressed size (a decompression bomb, or a
lying header), or that lies past the archive's data, is refused with a
:class:`~zarrsync.errors.StoreError` naming the key before anything is decompressed; reading
never produces more than the declared size (``zipfile`` stops there and checks the CRC).
"""

from __future__ import annotations

import io
import os
import shutil
import threading
import weakref
import zipfile
import zlib
from typing import Iterator

from ..errors import InvalidKeyError, ReadOnlyError, StoreError
from ..executor import renew_after_fork
from .base import ByteRequest, Store, slice_bytes, validate_key
from .local import _TMP_MARK

_MODES = ("r", "w", "a", "x")

#: The most bytes each compression method can produce per compressed byte (plus a small
#: constant), used to refuse lying headers and bombs before decompressing anything:
#: - deflate: the longest match (258 bytes) costs at least 2 bits (1-bit length and distance
#:   codes), so at most 1032 bytes per compressed byte;
#: - LZMA: a repeated longest match (273 bytes) costs about 13 binary decisions at the model's
#:   cheapest ~0.022 bits each, about 7,600:1; 32,768:1 leaves a wide margin;
#: - bzip2: one block holds at most 900,000 bytes after its run-length stage, which expand to at
#:   most 45,900,000 bytes, and no block is smaller than 22 bytes compressed; the bound is
#:   per block (loose: bzip2 can compress runs that well).
_DEFLATE_RATIO = 1032
_LZMA_RATIO = 1 << 15
_BZIP2_BLOCK_OUT, _BZIP2_BLOCK_MIN = 45_900_000, 22
_EMPTY_ZIP = b"PK\x05\x06" + bytes(18)  # an end-of-central-directory record: a valid empty archive


def _max_output(method: int, compressed: int) -> int | None:
    """The most bytes ``method`` can produce from ``compressed`` bytes; None: unsupported."""
    if method == zipfile.ZIP_STORED:
        return compressed
    if method == zipfile.ZIP_DEFLATED:
        return _DEFLATE_RATIO * (compressed + 1)
    if method == zipfile.ZIP_LZMA:
        return _LZMA_RATIO * (compressed + 1)
    if method == zipfile.ZIP_BZIP2:
        return _BZIP2_BLOCK_OUT * (compressed // _BZIP2_BLOCK_MIN + 1)
    return None


class _WholeWrites(io.FileIO):
    """The temporary archive, unbuffered (a failed write leaves no data pending in a buffer that
    would resurface after a roll-back) and with every write complete or raising: ``zipfile``
    ignores short writes, which a file size limit produces right before ``EFBIG``."""

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            n = super().write(view)
            if not n:
                raise OSError(5, "write made no progress")
            view = view[n:]
        return total


class _Archive:
    """The open ``ZipFile``, its mode, its session and its lock: one per store, shared with its
    views.

    ``Store.with_read_only`` copies the store's attributes, so a view holds this same object
    and never opens (or truncates) the archive a second time, nor keeps a closed handle.
    ``zf`` reads the archive itself until the first write; from then on (``tmp`` set) it is the
    session's handle on the temporary copy, over the file object ``raw``.
    """

    def __init__(self, mode: str):
        self.lock = threading.RLock()
        self.zf: zipfile.ZipFile | None = None
        self.raw: _WholeWrites | None = None
        self.tmp: str | None = None
        self.discard: weakref.finalize | None = None  # removes an unpublished copy
        self.broken: str | None = None
        self.mode = mode
        renew_after_fork(self)

    def _after_fork(self) -> None:
        # The parent's handle shares its file offset with the parent, and its pending session is
        # the parent's to publish: the child forgets both (without closing them) and reopens.
        self.lock = threading.RLock()
        if self.discard is not None:
            self.discard.detach()  # the parent's copy: never the child's to remove
        self.zf = self.raw = self.tmp = self.discard = self.broken = None


class ZipStore(Store):
    """A store in a zip archive.

    Parameters
    ----------
    path : str or Path
        The archive.
    mode : {"r", "w", "a", "x"}
        As for :class:`zipfile.ZipFile`; ``"r"`` makes the store read-only. With ``"w"`` the
        archive's old content is replaced when the store is closed; ``"x"`` refuses an archive
        that exists.
    compression : int
        ``zipfile.ZIP_STORED`` (default: chunks are compressed already) or ``ZIP_DEFLATED``.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.zip")
    >>> with ZipStore(p, mode="w") as z:
    ...     z.set("k", b"v")
    >>> ZipStore(p, mode="r").get("k")
    b'v'
    """

    supports_deletes = False

    def __init__(self, path: str | os.PathLike, *, mode: str = "r", read_only: bool | None = None,
                 compression: int = zipfile.ZIP_STORED):
        if mode not in _MODES:
            raise StoreError(f"ZipStore mode must be one of {_MODES}, got {mode!r}")
        super().__init__(read_only=(mode == "r") if read_only is None else read_only)
        self.path = os.path.abspath(os.fspath(path))
        self.compression = compression
        self._state = _Archive(mode)

    @property
    def mode(self) -> str:
        """The mode the archive is (next) opened in; ``"w"``/``"x"`` become ``"a"`` once opened."""
        return self._state.mode

    def __repr__(self) -> str:
        return f"ZipStore({self.path!r}, mode={self.mode!r})"

    def lock_id(self) -> tuple:
        return ("zip", self.path)

    def __getstate__(self):
        with self._state.lock:
            if self.mode in ("w", "x"):
                # start the session now, so a "w"/"x" archive is emptied/created once, before
                # the copy exists; then close, to publish what was written so the copy sees it
                self._writer()
            if self.mode != "r":
                self.close()
            return {"path": self.path, "mode": self.mode,
                    "read_only": self._read_only, "compression": self.compression}

    def __setstate__(self, state):
        type(self).__init__(self, state["path"], mode=state["mode"], read_only=state["read_only"],
                            compression=state["compression"])

    # --- the archive and the write session (callers hold self._state.lock) ------------------------
    def _reader(self) -> zipfile.ZipFile | None:
        """The handle reads go through: the session's, or one on the archive itself. None for a
        missing archive in mode ``"a"`` (nothing written yet: no keys)."""
        state = self._state
        if state.broken is not None:
            raise StoreError(state.broken)
        if state.zf is not None:
            return state.zf
        if state.mode in ("w", "x"):
            return self._writer()
        if state.mode == "a" and not os.path.exists(self.path):
            return None
        try:
            state.zf = zipfile.ZipFile(self.path, mode="r")
        except (OSError, zipfile.BadZipFile, ValueError) as e:  # missing, not a zip ...
            raise StoreError(f"cannot open zip archive {self.path!r}: {e}") from e
        return state.zf

    def _writer(self) -> zipfile.ZipFile:
        """The session's handle on the temporary copy, started on the first write."""
        state = self._state
        if state.broken is not None:
            raise StoreError(state.broken)
        if state.tmp is not None:
            assert state.zf is not None  # a session (tmp set) has its handle
            return state.zf
        if state.zf is not None:  # a reader on the archive: the session's copy replaces it
            state.zf.close()
            state.zf = None
        mode = state.mode
        if mode == "x":
            _create_empty(self.path)
            state.mode = "w"  # claimed: a retry after a failure below must not refuse our archive
        fresh = mode in ("w", "x") or not os.path.exists(self.path)
        tmp = _temp_path(self.path)
        raw = None
        try:
            if not fresh:
                shutil.copyfile(self.path, tmp)
            raw = _WholeWrites(tmp, "r+b" if not fresh else "w+b")
            zf = zipfile.ZipFile(raw, mode="w" if fresh else "a", compression=self.compression,
                                 allowZip64=True)
        except BaseException as e:
            if raw is not None:
                raw.close()
            _unlink_quietly(tmp)
            if isinstance(e, (OSError, zipfile.BadZipFile, ValueError)):
                raise StoreError(f"cannot open zip archive {self.path!r} for writing: {e}") from e
            raise
        state.zf, state.raw, state.tmp = zf, raw, tmp
        # a store dropped (or a program ending) without close is closed then, as zipfile does
        state.discard = weakref.finalize(state, _publish_dropped, zf, raw, tmp, self.path)
        state.mode = "a"  # opened once: never empty it again
        return zf

    def close(self) -> None:
        """End the session: write the central directory to the temporary copy and put it in
        place of the archive (atomically). The store reopens on its next use.

        If that fails the archive keeps its previous content, and this raises ``StoreError``.
        """
        with self._state.lock:
            state = self._state
            zf, raw, tmp, broken = state.zf, state.raw, state.tmp, state.broken
            if state.discard is not None:
                state.discard.detach()
            state.zf = state.raw = state.tmp = state.discard = state.broken = None
            if zf is None:
                return
            if tmp is None:
                zf.close()
                return
            assert raw is not None  # a session (tmp set) writes through raw
            try:
                if broken is not None:
                    raise StoreError(broken)
                zf.close()
                os.fsync(raw.fileno())
                raw.close()
                os.replace(tmp, self.path)
            except BaseException as e:
                raw.close()
                _unlink_quietly(tmp)
                if isinstance(e, OSError) and not isinstance(e, StoreError):
                    raise StoreError(f"cannot write zip archive {self.path!r} ({e}); it keeps "
                                     f"its previous content") from e
                raise

    # --- reading --------------------------------------------------------------------------------
    def _entry(self, key: str) -> tuple[zipfile.ZipFile, zipfile.ZipInfo] | None:
        """The archive and the checked entry of ``key``, or None; the caller holds the lock."""
        zf = self._reader()
        info = None if zf is None else zf.NameToInfo.get(key)
        if zf is None or info is None:
            return None
        _check_entry(zf, info, key, self.path)
        return zf, info

    def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        with self._state.lock:
            entry = self._entry(key)
            if entry is None:
                return None
            zf, info = entry
            try:
                value = zf.read(info)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                    NotImplementedError, RuntimeError) as e:
                raise StoreError(f"cannot read key {key!r} from zip archive {self.path!r}: {e}") from e
        return slice_bytes(value, byte_range)

    def getsize(self, key: str) -> int | None:
        validate_key(key)
        with self._state.lock:
            entry = self._entry(key)
            return None if entry is None else entry[1].file_size

    # --- writing --------------------------------------------------------------------------------
    def _set(self, key: str, value) -> None:
        info = zipfile.ZipInfo(key, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = self.compression
        info.external_attr = 0o644 << 16
        if self.mode == "r":  # even a writable view cannot write to an archive opened for reading
            raise ReadOnlyError(f"{self!r} was opened with mode 'r'")
        data = bytes(value)
        with self._state.lock:
            self._append(self._writer(), info, data, key)

    def _append(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes, key: str) -> None:
        """Write one entry; if that fails, cut the copy back to where the entry began and forget
        it, so ``key`` keeps its previous value and the session's other writes stay."""
        start, count = zf.start_dir, len(zf.filelist)
        # zipfile warns "Duplicate name" for a key written before; the earlier entry stays in
        # the archive and the newest wins on read. Forgetting the name in the lookup table
        # avoids the warning without touching process-wide warning filters (not thread-safe).
        previous = zf.NameToInfo.pop(key, None)
        try:
            zf.writestr(info, data)
        except BaseException as e:
            self._roll_back(zf, start, count, key, previous)
            if isinstance(e, OSError) and not isinstance(e, StoreError):
                raise StoreError(f"cannot write key {key!r} to zip archive {self.path!r}: {e}") from e
            raise

    def _roll_back(self, zf, start: int, count: int, key: str, previous) -> None:
        del zf.filelist[count:]
        if previous is not None:
            zf.NameToInfo[key] = previous
        else:
            zf.NameToInfo.pop(key, None)
        zf.start_dir = start
        state = self._state
        # only a session's writes roll back: it has its copy, the file object and the finalizer
        assert state.raw is not None and state.discard is not None and state.tmp is not None
        try:
            state.raw.truncate(start)
            state.raw.seek(start)
        except BaseException as e:  # the copy cannot be repaired: never publish it
            state.discard.detach()
            state.discard = weakref.finalize(state, _unlink_quietly, state.tmp)
            state.broken = (f"zip archive {self.path!r}: a failed write could not be rolled "
                                  f"back ({e}); this session's writes are lost, the archive keeps "
                                  f"its previous content")

    def _delete(self, key: str) -> None:
        with self._state.lock:
            zf = self._reader()
            present = zf is not None and key in zf.NameToInfo
        if present:
            raise StoreError(f"cannot delete {key!r}: zip archives are append-only")

    # --- listing --------------------------------------------------------------------------------
    def _list_prefix(self, prefix: str) -> Iterator[str]:
        with self._state.lock:
            zf = self._reader()
            names = [] if zf is None else list(zf.NameToInfo)
        return iter([n for n in names if n.startswith(prefix) and _is_key(n)])


def _is_key(name: str) -> bool:
    """True if an entry's name is a valid key (hostile or directory entries are no keys)."""
    try:
        validate_key(name)
    except InvalidKeyError:
        return False
    return True


def _check_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, path: str) -> None:
    """Refuse an entry that lies: past the archive's data, or declaring more bytes than its
    compression method can produce from its compressed size (a decompression bomb)."""
    if info.header_offset + 30 + info.compress_size > zf.start_dir:  # 30: the local header
        raise StoreError(f"key {key!r} in zip archive {path!r}: the entry lies past the archive's data")
    bound = _max_output(info.compress_type, info.compress_size)
    if bound is None:
        raise StoreError(f"key {key!r} in zip archive {path!r}: unsupported compression method "
                         f"{info.compress_type}")
    if info.file_size > bound or (info.compress_type == zipfile.ZIP_STORED
                                  and info.file_size != info.compress_size):
        raise StoreError(f"key {key!r} in zip archive {path!r}: declared size {info.file_size} is "
                         f"more than {info.compress_size} compressed bytes can hold (a "
                         f"decompression bomb or a corrupt header)")


def _temp_path(path: str) -> str:
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}{_TMP_MARK}{os.getpid()}.{os.urandom(6).hex()}")


def _create_empty(path: str) -> None:
    """Mode ``"x"``: claim the path atomically with a valid empty archive."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        raise StoreError(f"cannot create zip archive {path!r}: {e}") from e
    try:
        os.write(fd, _EMPTY_ZIP)
    finally:
        os.close(fd)


def _publish_dropped(zf: zipfile.ZipFile, raw: "_WholeWrites", tmp: str, path: str) -> None:
    """Close the session of a store that was dropped without ``close``: the central directory,
    then the atomic swap; if that fails the archive keeps its previous content."""
    try:
        zf.close()
        os.fsync(raw.fileno())
        raw.close()
        os.replace(tmp, path)
    except BaseException:  # noqa: BLE001 - nobody is left to tell: keep the old archive
        _unlink_quietly(tmp)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
