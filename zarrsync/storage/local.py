"""LocalStore: keys are files below a root directory.

Writes are atomic: the value goes to a temporary file in the target's directory, which then
replaces the target with ``os.replace``. A reader sees the old file or the new one, never a torn
one, and an interrupted write leaves the old value in place. Temporary files are named
``.__zarrsync_tmp__<pid>.<random>.<n>`` (short, whatever the key, so any key whose segments the
file system accepts can be stored); names holding that marker are never listed, and keys holding
it are refused.

Keys are validated (:func:`~zarrsync.storage.base.validate_key`): ``..`` segments, absolute paths
and backslashes are rejected, so no key reaches outside the root.

Symbolic links: **a link is followed only when it resolves inside the root.** Nothing is read
or written outside it:

- a read (``get``, ``get_ranges``, ``get_into``, ``snapshot``, ``exists``, ``getsize``) of a key
  whose path leaves the root through a link, in a directory or as the file itself, raises
  :class:`~zarrsync.errors.InvalidKeyError` naming the key; a write or delete through a
  directory link that leaves the root raises the same (writing or deleting a key that is itself
  a link replaces or removes the link, never its target);
- listings skip links that leave the root and do not descend into links to directories (no
  loops, no key listed twice); a key below such a link inside the root still reads and writes;
- the root itself may be a link: it is resolved once, when the store is made.

Writers in several processes: with ``interprocess_locks=True`` the store has conditional writes
(``supports_conditional_writes``), so a chunk written in part by two processes at once keeps both
updates (a read-modify-write is redone when the chunk changed under it). Every replacement of a
file then happens under an exclusive ``flock`` of one lock file in the root,
``.__zarrsync_tmp__lock`` (never listed, as a temporary file), held only to compare the stored
bytes with those read and rename the new file into place; values are written before it is
taken. ``flock`` is POSIX and is reliable on local file systems (not every network file system
honours it).

Symbolic links cost nothing on the common path: the final component is opened with ``O_NOFOLLOW`` (only a
link, refused with ``ELOOP``, is resolved with ``realpath``), and each directory is resolved once
per store and remembered. What is checked is the tree as it is when the store first meets a
directory: someone who can replace a directory by a link while the store is in use is beyond
what this check defends against.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import threading
from contextlib import contextmanager
from types import ModuleType
from typing import Iterator

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

from ..errors import InvalidKeyError, StoreError
from ..executor import renew_after_fork
from .base import (  # RangeRequest: the class docstring's example
    ByteRequest, RangeRequest, Snapshot, Store, _validate_prefix, clip_request, dir_prefix, validate_key,
)

_TMP_MARK = ".__zarrsync_tmp__"
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_READ = os.O_RDONLY | _O_BINARY | _O_NOFOLLOW
_LINK_ERRNOS = {errno.ELOOP, getattr(errno, "EMLINK", errno.ELOOP)}  # FreeBSD says EMLINK
_MAX_KNOWN_DIRS = 1 << 16
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class _KnownDirs:
    """Directories (relative to the root) already resolved and found inside it: one per store,
    shared by its views. Only ever grows (cleared when it gets large), so a racing reader that
    misses a fresh entry merely resolves the directory again."""

    __slots__ = ("lock", "dirs", "__weakref__")

    def __init__(self):
        self.lock = threading.Lock()
        self.dirs: set[str] = set()
        renew_after_fork(self)

    def _after_fork(self) -> None:
        self.lock = threading.Lock()

    def add(self, rel: str) -> None:
        with self.lock:
            if len(self.dirs) >= _MAX_KNOWN_DIRS:
                self.dirs.clear()
            self.dirs.add(rel)


class LocalStore(Store):
    """A directory on the local file system.

    Parameters
    ----------
    root : str or Path
        The directory (created on the first write if it does not exist). It may be a symbolic
        link; links below it are followed only when they stay inside it (see the module notes).
    read_only : bool
        Refuse writes.
    fsync : bool
        ``fsync`` each file before it replaces the old one (durable across power loss, slower).
    interprocess_locks : bool
        Make partial chunk writes safe between processes (conditional writes under a ``flock``;
        see the module notes). Off by default: writers in one process never need it.

    >>> import tempfile
    >>> s = LocalStore(tempfile.mkdtemp())
    >>> s.set("a/0", b"data"); s.get("a/0", RangeRequest(1, 3))
    b'at'
    """

    supports_byte_ranges = True
    supports_get_into = True
    kernel_writes = True

    def __init__(self, root: str | os.PathLike, *, read_only: bool = False, fsync: bool = False,
                 interprocess_locks: bool = False):
        super().__init__(read_only=read_only)
        self.root = os.path.abspath(os.fspath(root))
        self.fsync = bool(fsync)
        if interprocess_locks and fcntl is None:
            raise StoreError("LocalStore interprocess_locks needs flock (POSIX); this system has none")
        self.interprocess_locks = self.supports_conditional_writes = bool(interprocess_locks)
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise StoreError(f"LocalStore root {self.root!r} exists and is not a directory")
        self._real_root = os.path.realpath(self.root)
        self._inside_prefix = self._real_root.rstrip(os.sep) + os.sep
        self._known = _KnownDirs()
        self._known_dirs = self._known.dirs  # the same set (cleared, never replaced): one lookup less

    def __repr__(self) -> str:
        return f"LocalStore({self.root!r}{', read_only=True' if self.read_only else ''})"

    def __getstate__(self):
        return {"root": self.root, "read_only": self._read_only, "fsync": self.fsync,
                "interprocess_locks": self.interprocess_locks}

    def __setstate__(self, state):
        type(self).__init__(self, state["root"], read_only=state["read_only"], fsync=state["fsync"],
                      interprocess_locks=state.get("interprocess_locks", False))

    def lock_id(self) -> tuple:
        return ("file", self._real_root)

    def location(self, key: str) -> tuple:
        return ("file", self._real_root + "/" + key)

    # --- paths and the symlink policy -----------------------------------------------------------
    def _path(self, key: str) -> str:
        """The file path of a valid key, once its directory is known to resolve inside the root
        (a set lookup on the common path)."""
        refuse_temp_marker(key)
        i = key.rfind("/")
        if i > 0 and key[:i] not in self._known_dirs:
            self._check_dir(key[:i], key)
        return self.root + "/" + key

    def _inside(self, real: str) -> bool:
        return real == self._real_root or real.startswith(self._inside_prefix)

    def _dir_inside(self, rel: str) -> bool:
        """True if the directory ``rel`` (existing or not) resolves inside the root."""
        if not rel or rel in self._known_dirs:
            return True
        if not self._inside(os.path.realpath(self.root + "/" + rel)):
            return False
        self._known.add(rel)
        return True

    def _check_dir(self, rel: str, key: str) -> None:
        if not self._dir_inside(rel):
            raise InvalidKeyError(f"store key {key!r} leads outside the store root {self.root!r} "
                                  f"through a symbolic link")

    def _resolve_link(self, path: str, key: str) -> str:
        """The real path of a key whose file is a symbolic link, if it stays inside the root."""
        real = os.path.realpath(path)
        if not self._inside(real):
            raise InvalidKeyError(f"store key {key!r} is a symbolic link leading outside the store "
                                  f"root {self.root!r}")
        return real

    def _open(self, key: str) -> int | None:
        """A read-only descriptor of a key's file, or None if it is missing. The common case is
        one ``open``; a link (refused by ``O_NOFOLLOW``) is resolved and followed if it stays
        inside the root."""
        path = self._path(key)
        try:
            return os.open(path, _O_READ) if _O_NOFOLLOW else self._open_link(path, key)
        except _MISSING:
            return None
        except OSError as e:
            if e.errno not in _LINK_ERRNOS:
                raise
        return self._open_link(path, key)

    def _open_link(self, path: str, key: str) -> int | None:
        """Open a key's file that is (or may be) a link: only if it resolves inside the root."""
        try:
            return os.open(self._resolve_link(path, key), _O_READ)
        except _MISSING:
            return None

    def _stat(self, key: str) -> os.stat_result | None:
        """The ``stat`` of a key's regular file (a link inside the root is followed), or None."""
        path = self._path(key)
        try:
            st = os.stat(path, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                st = os.stat(self._resolve_link(path, key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st if stat.S_ISREG(st.st_mode) else None  # a directory is not a key

    # --- reading --------------------------------------------------------------------------------
    def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        fd = self._open(key)
        if fd is None:
            return None
        try:
            if byte_range is None:
                return _read_all(fd)
            size = _regular_size(fd)
            if size is None:
                return None
            return _read_range(fd, byte_range, size)
        except IsADirectoryError:
            return None
        finally:
            os.close(fd)

    def get_transient(self, key: str) -> memoryview | None:
        """The file's bytes in this thread's read buffer (see :meth:`Store.get_transient`): an
        ``fstat`` and one ``read``, no new allocation once the buffer has grown to the chunks."""
        fd = self._open(validate_key(key))
        if fd is None:
            return None
        try:
            size = _regular_size(fd)
            return None if size is None else _read_transient(fd, size)  # a directory is not a value
        finally:
            os.close(fd)

    def get_into(self, key: str, out: memoryview) -> int | None:
        fd = self._open(validate_key(key))
        if fd is None:
            return None
        try:
            size = _regular_size(fd)
            if size is None:
                return None  # a directory is not a value
            if size != len(out):
                return size
            pos = 0
            while pos < size:  # straight into the caller's buffer: no intermediate bytes
                n = _read_into(fd, out[pos:])
                if n == 0:
                    return pos  # the file shrank under us
                pos += n
            return size
        finally:
            os.close(fd)

    def snapshot(self, key: str) -> _FileSnapshot | None:
        fd = self._open(validate_key(key))
        if fd is None:
            return None
        try:
            size = _regular_size(fd)
        except BaseException:
            os.close(fd)
            raise
        if size is None:
            os.close(fd)
            return None
        return _FileSnapshot(fd, size)

    def get_ranges(self, key: str, ranges) -> list[bytes] | None:
        snapshot = self.snapshot(key)  # one descriptor: every range from one version
        if snapshot is None:
            return None
        with snapshot:
            return snapshot.read(ranges)

    def exists(self, key: str) -> bool:
        return self._stat(validate_key(key)) is not None

    def getsize(self, key: str) -> int | None:
        st = self._stat(validate_key(key))
        return None if st is None else st.st_size

    # --- writing --------------------------------------------------------------------------------
    def _write_temp(self, path: str, value) -> str:
        directory = path[:path.rindex("/")]
        made_dirs = False
        while True:
            tmp = _temp_name(directory)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
                break
            except FileExistsError:
                continue  # a stale temp file of a dead thread with the same name: take the next
            except FileNotFoundError:
                if made_dirs:
                    raise
                os.makedirs(directory, exist_ok=True)
                made_dirs = True
        try:
            view = memoryview(value)
            if not view.c_contiguous:  # e.g. a strided slice: os.write needs contiguous bytes
                view = memoryview(view.tobytes())
            view = view.cast("B")
            while view:
                view = view[os.write(fd, view):]
            if self.fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            _unlink_quietly(tmp)
            raise
        os.close(fd)
        return tmp

    def _set(self, key: str, value) -> None:
        path = self._path(key)
        tmp = self._write_temp(path, value)
        try:
            with self._writers_excluded():
                os.replace(tmp, path)  # replaces a link itself, never its target
        except BaseException:
            _unlink_quietly(tmp)
            raise

    @contextmanager
    def _writers_excluded(self) -> Iterator[None]:
        """With ``interprocess_locks``: hold the root's lock file exclusively (every thread and
        process that replaces or deletes a file here takes it). Each call opens the file itself,
        so ``flock`` excludes other threads of this process as well as other processes."""
        if not self.interprocess_locks:
            yield
            return
        lock_file = self.root + "/" + _TMP_MARK + "lock"
        try:
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | _O_BINARY, 0o666)
        except FileNotFoundError:  # no root yet (a delete before any write)
            os.makedirs(self.root, exist_ok=True)
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | _O_BINARY, 0o666)
        assert fcntl is not None  # __init__ refuses interprocess_locks without it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def set_if_version(self, key: str, value: bytes, version: object) -> bool:
        """With ``interprocess_locks``: store ``value`` if the stored bytes are still ``version``
        (those :meth:`get_versioned` read), comparing and replacing under the lock file."""
        if not self.interprocess_locks:
            return super().set_if_version(key, value, version)
        path, tmp = self._new_file(key, value)
        try:
            with self._writers_excluded():
                if self._get(key, None) != version:
                    return False
                os.replace(tmp, path)
                return True
        finally:
            _unlink_quietly(tmp)  # gone once it replaced the old file

    def _new_file(self, key: str, value) -> tuple[str, str]:
        """For a conditional write: ``key``'s path and a temporary file beside it holding ``value``."""
        self._check_writable()
        self._check_value(key, value)
        path = self._path(validate_key(key))
        return path, self._write_temp(path, value)

    def set_if_not_exists(self, key: str, value: bytes) -> bool:
        path, tmp = self._new_file(key, value)
        try:
            with self._writers_excluded():
                os.link(tmp, path)  # atomic, and fails if the target exists
            return True
        except FileExistsError:
            return False
        finally:
            _unlink_quietly(tmp)

    def _delete(self, key: str) -> None:
        path = self._path(key)
        try:
            with self._writers_excluded():
                _unlink_quietly(path)  # a link is removed, never its target
        except (IsADirectoryError, PermissionError):
            if not os.path.isdir(path):  # a directory is a prefix, not a key: nothing to delete
                raise

    def delete_prefix(self, prefix: str) -> None:
        self._check_writable()
        _validate_prefix(prefix)
        if prefix == "" or prefix.endswith("/"):
            if prefix:
                self._check_dir(prefix[:-1], prefix)
            target = self.root if not prefix else self._path(prefix[:-1])
            if not os.path.isdir(target):
                return
            if target == self.root:
                for entry in os.scandir(target):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        _unlink_quietly(entry.path)
            else:
                shutil.rmtree(target, ignore_errors=True)  # refuses a link, never follows one
            return
        super().delete_prefix(prefix)

    # --- listing --------------------------------------------------------------------------------
    def _list_prefix(self, prefix: str) -> Iterator[str]:
        # walk only the deepest directory that the prefix names
        base = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        if not self._listable(base):
            return
        start = self.root + ("/" + base[:-1] if base else "")
        for rel in self._walk(start, base):
            if rel.startswith(prefix):
                yield rel

    def list_dir(self, prefix: str) -> Iterator[str]:
        prefix = dir_prefix(prefix)
        if not self._listable(prefix):
            return
        for entry in _entries(self.root + "/" + prefix[:-1] if prefix else self.root):
            if entry.is_symlink():
                if self._link_target(entry.path) is not None:
                    yield entry.name
                continue
            # deletes leave empty directories behind; they hold no key, so they are no name
            if entry.is_dir(follow_symlinks=False) and next(self._walk(entry.path, ""), None) is None:
                continue
            yield entry.name

    def _listable(self, prefix: str) -> bool:
        """True if the directory ``prefix`` (``""`` or ending in ``/``) may be listed: not a temp
        name, and inside the root."""
        return not prefix or (_TMP_MARK not in prefix and self._dir_inside(prefix[:-1]))

    def _link_target(self, path: str) -> str | None:
        """The real path a link in a listing leads to, or None if it leaves the root."""
        real = os.path.realpath(path)
        return real if self._inside(real) else None

    def _walk(self, directory: str, rel: str) -> Iterator[str]:
        for entry in _entries(directory):
            if entry.is_symlink():
                # a link is a key if it leads to a file inside the root; links to directories are
                # not descended into (no loops, no key listed twice)
                real = self._link_target(entry.path)
                if real is not None and os.path.isfile(real):
                    yield rel + entry.name
            elif entry.is_dir(follow_symlinks=False):
                yield from self._walk(entry.path, rel + entry.name + "/")
            else:
                yield rel + entry.name


def _entries(directory: str) -> list[os.DirEntry]:
    """A directory's entries, temporary files left out; none if it does not exist."""
    try:
        return [e for e in os.scandir(directory) if _TMP_MARK not in e.name]
    except (FileNotFoundError, NotADirectoryError):
        return []


class _FileSnapshot(Snapshot):
    """An open descriptor: writes replace the file (a new inode), so every read through it sees
    the version that was current when it was opened."""

    __slots__ = ("fd", "size")

    def __init__(self, fd: int, size: int):
        self.fd = fd
        self.size = size

    def read(self, ranges) -> list[bytes]:
        return [_read_range(self.fd, r, self.size) for r in ranges]

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def _pread_all(fd: int, n: int, offset: int) -> bytes:
    if n <= 0:
        return b""
    data = os.pread(fd, n, offset)
    if len(data) == n or not data:
        return data
    parts = [data]  # a short read (over 2 GiB on Linux)
    got = len(data)
    while got < n and (part := os.pread(fd, n - got, offset + got)):
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _regular_size(fd: int) -> int | None:
    """The size of an open regular file; None for anything else (a directory is not a value)."""
    st = os.fstat(fd)
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def refuse_temp_marker(key: str) -> None:
    """A key holding the temp-file marker could be written but never listed: refuse it (every
    store that writes local temp files beside their targets)."""
    if _TMP_MARK in key:
        raise InvalidKeyError(f"invalid store key {key!r}: {_TMP_MARK!r} is reserved for temporary files")


_tmp_local = threading.local()


def _temp_name(directory: str) -> str:
    """A short name in ``directory`` that no other process or thread uses: pid, a random
    per-thread prefix and a per-thread counter (cheaper than a uuid per write). It does not
    grow with the key, so a key with a 255-byte last segment still has room for its temp file."""
    local = _tmp_local
    n = getattr(local, "n", None)
    if n is None:
        local.prefix = os.urandom(6).hex()
        n = 0
    local.n = n + 1
    return f"{directory}/{_TMP_MARK}{os.getpid()}.{local.prefix}.{n}"


_HEAD = 1 << 16


def _read_all(fd: int) -> bytes:
    """A whole file's bytes. Small files (the common chunk) take one ``read``; a large one is
    re-read from the start with one read of its full size, which returns ``bytes`` without a
    join or an extra copy."""
    head = os.read(fd, _HEAD)
    if len(head) < _HEAD:
        return head
    size = os.fstat(fd).st_size
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, size + 1)
    if len(data) == size:
        return data
    parts = [data]  # a short read (over 2 GiB on Linux), or the file grew meanwhile
    while part := os.read(fd, 1 << 24):
        parts.append(part)
    return b"".join(parts)


_HAVE_READV = hasattr(os, "readv")
_transient = threading.local()
_TRANSIENT_KEEP = 64 << 20  # a thread keeps its read buffer between reads up to this size


def _read_transient(fd: int, size: int) -> memoryview:
    """The bytes of an open regular file of ``size`` bytes (its ``fstat``), read into this
    thread's buffer and returned as a read-only view of it. The buffer holds one byte more than
    the file, so the common chunk costs one ``read``, which stops short of the buffer's end at
    the file's end; a read short of ``size`` (a file system may read short) is followed by
    more, and a file that grew meanwhile is read to its new end."""
    buf = getattr(_transient, "buf", None)
    if buf is None or len(buf) <= size:
        buf = bytearray(max(size + 1, _HEAD))
    pos = 0
    while True:
        view = memoryview(buf)
        n = _read_into(fd, view[pos:])
        pos += n
        if n == 0 or size <= pos < len(buf):
            break  # the end of the file
        if pos == len(buf):  # it grew past the buffer
            view.release()
            grown = bytearray(2 * len(buf))
            grown[:pos] = buf
            buf = grown
    if len(buf) <= _TRANSIENT_KEEP:
        _transient.buf = buf
    return memoryview(buf)[:pos].toreadonly()


def _read_into(fd: int, view: memoryview) -> int:
    """One read from ``fd`` straight into ``view`` (``readv``; a copy of ``os.read``'s bytes where
    there is none); the number of bytes read."""
    if _HAVE_READV:
        return os.readv(fd, [view])
    data = os.read(fd, len(view))
    view[:len(data)] = data
    return len(data)


def _read_range(fd: int, r: ByteRequest, size: int) -> bytes:
    """One byte request of a file of ``size`` bytes, clipped to it first: a hostile offset never
    reaches ``pread`` (no OverflowError, no allocation past the file)."""
    start, stop = clip_request(r, size)
    return _pread_all(fd, stop - start, start)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):
        pass
