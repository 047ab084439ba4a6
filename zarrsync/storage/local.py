"""LocalStore: keys are files below a root directory.

Writes are atomic: the value goes to a temporary file in the target's directory, which then
replaces the target with ``os.replace``. A reader sees the old file or the new one, never a torn
one, and an interrupted write leaves the old value in place. Temporary files carry the marker
``.__zarrsync_tmp__`` in their names and are never listed.

Keys are validated (:func:`~zarrsync.storage.base.validate_key`): ``..`` segments, absolute paths
and backslashes are rejected, so no key reaches outside the root.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import threading
from typing import Iterator

from ..errors import InvalidKeyError, StoreError
from .base import (
    ByteRequest, OffsetRequest, RangeRequest, Snapshot, Store, SuffixRequest, _validate_prefix,
    clip_request, validate_key,
)

_TMP_MARK = ".__zarrsync_tmp__"


class LocalStore(Store):
    """A directory on the local file system.

    Parameters
    ----------
    root : str or Path
        The directory (created on the first write if it does not exist).
    read_only : bool
        Refuse writes.
    fsync : bool
        ``fsync`` each file before it replaces the old one (durable across power loss, slower).

    >>> import tempfile
    >>> s = LocalStore(tempfile.mkdtemp())
    >>> s.set("a/0", b"data"); s.get("a/0", RangeRequest(1, 3))
    b'at'
    """

    supports_byte_ranges = True
    supports_get_into = True

    def __init__(self, root: str | os.PathLike, *, read_only: bool = False, fsync: bool = False):
        super().__init__(read_only=read_only)
        self.root = os.path.abspath(os.fspath(root))
        self.fsync = bool(fsync)
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise StoreError(f"LocalStore root {self.root!r} exists and is not a directory")

    def __repr__(self) -> str:
        return f"LocalStore({self.root!r}{', read_only=True' if self.read_only else ''})"

    def lock_id(self) -> tuple:
        return ("file", self._real_root)

    @functools.cached_property
    def _real_root(self) -> str:
        return os.path.realpath(self.root)

    def location(self, key: str) -> tuple:
        return ("file", self._real_root + "/" + key)

    def _path(self, key: str) -> str:
        # a key holding the temp marker could be written but never listed
        if _TMP_MARK in key:
            raise InvalidKeyError(f"invalid store key {key!r}: {_TMP_MARK!r} is reserved for temporary files")
        return self.root + "/" + key

    # --- reading --------------------------------------------------------------------------------
    def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        path = self._path(key)
        try:
            if byte_range is None:
                return _read_file(path)
            with open(path, "rb", buffering=0) as f:
                return _read_range(f, byte_range)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def get_into(self, key: str, out: memoryview) -> int | None:
        path = self._path(validate_key(key))
        try:
            fd = os.open(path, os.O_RDONLY | _O_BINARY)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None  # a directory is not a value
            size = st.st_size
            if size != len(out):
                return size
            pos = 0
            while pos < size:  # straight into the caller's buffer: no intermediate bytes
                n = os.readv(fd, [out[pos:]]) if _HAVE_READV else _read_into(fd, out[pos:])
                if n == 0:
                    return pos  # the file shrank under us
                pos += n
            return size
        finally:
            os.close(fd)

    def snapshot(self, key: str) -> Snapshot | None:
        path = self._path(validate_key(key))
        try:
            fd = os.open(path, os.O_RDONLY | _O_BINARY)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        try:
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return None
        return _FileSnapshot(fd, st.st_size)

    def get_ranges(self, key: str, ranges) -> list[bytes] | None:
        validate_key(key)
        try:
            with open(self._path(key), "rb", buffering=0) as f:
                return [_read_range(f, r) for r in ranges]
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(validate_key(key)))

    def getsize(self, key: str) -> int | None:
        try:
            st = os.stat(self._path(validate_key(key)))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None  # a directory is not a key

    # --- writing --------------------------------------------------------------------------------
    def _write_temp(self, path: str, value) -> str:
        made_dirs = False
        while True:
            tmp = _temp_name(path)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                continue  # a stale temp file of a dead thread with the same name: take the next
            except FileNotFoundError:
                if made_dirs:
                    raise
                os.makedirs(os.path.dirname(path), exist_ok=True)
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
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise

    def set_if_not_exists(self, key: str, value: bytes) -> bool:
        self._check_writable()
        self._check_value(key, value)
        path = self._path(validate_key(key))
        tmp = self._write_temp(path, value)
        try:
            os.link(tmp, path)  # atomic, and fails if the target exists
            return True
        except FileExistsError:
            return False
        finally:
            _unlink_quietly(tmp)

    def _delete(self, key: str) -> None:
        path = self._path(key)
        try:
            _unlink_quietly(path)
        except (IsADirectoryError, PermissionError):
            if not os.path.isdir(path):  # a directory is a prefix, not a key: nothing to delete
                raise

    def delete_prefix(self, prefix: str) -> None:
        self._check_writable()
        if prefix == "" or prefix.endswith("/"):
            if prefix:
                validate_key(prefix[:-1])
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
                shutil.rmtree(target, ignore_errors=True)
            return
        super().delete_prefix(prefix)

    # --- listing --------------------------------------------------------------------------------
    def _list_prefix(self, prefix: str) -> Iterator[str]:
        # walk only the deepest directory that the prefix names
        base = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        start = self.root + ("/" + base[:-1] if base else "")
        for rel in _walk(start, base):
            if rel.startswith(prefix):
                yield rel

    def list_dir(self, prefix: str) -> Iterator[str]:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        _validate_prefix(prefix)
        try:
            entries = list(os.scandir(self._path(prefix[:-1]) if prefix else self.root))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if _TMP_MARK in entry.name:
                continue
            # deletes leave empty directories behind; they hold no key, so they are no name
            if entry.is_dir(follow_symlinks=False) and next(_walk(entry.path, ""), None) is None:
                continue
            yield entry.name


class _FileSnapshot(Snapshot):
    """An open descriptor: writes replace the file (a new inode), so every read through it sees
    the version that was current when it was opened."""

    __slots__ = ("fd", "size")

    def __init__(self, fd: int, size: int):
        self.fd = fd
        self.size = size

    def read(self, ranges) -> list[bytes]:
        out = []
        for r in ranges:
            start, stop = clip_request(r, self.size)
            out.append(_pread_all(self.fd, stop - start, start))
        return out

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def _pread_all(fd: int, n: int, offset: int) -> bytes:
    data = os.pread(fd, n, offset)
    if len(data) == n or not data:
        return data
    parts = [data]  # a short read (over 2 GiB on Linux)
    got = len(data)
    while got < n and (part := os.pread(fd, n - got, offset + got)):
        parts.append(part)
        got += len(part)
    return b"".join(parts)


_tmp_local = threading.local()


def _temp_name(path: str) -> str:
    """A name beside ``path`` that no other process or thread uses: pid, a random per-thread
    prefix and a per-thread counter (cheaper than a uuid per write)."""
    local = _tmp_local
    n = getattr(local, "n", None)
    if n is None:
        local.prefix = os.urandom(6).hex()
        n = 0
    local.n = n + 1
    return f"{path}{_TMP_MARK}{os.getpid()}.{local.prefix}.{n}"


_HEAD = 1 << 16
_O_BINARY = getattr(os, "O_BINARY", 0)


def _read_file(path: str) -> bytes:
    """A whole file's bytes. Small files (the common chunk) take one ``read``; a large one is
    re-read from the start with one read of its full size, which returns ``bytes`` without a
    join or an extra copy."""
    fd = os.open(path, os.O_RDONLY | _O_BINARY)
    try:
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
    finally:
        os.close(fd)


_HAVE_READV = hasattr(os, "readv")


def _read_into(fd: int, view: memoryview) -> int:
    data = os.read(fd, len(view))
    view[:len(data)] = data
    return len(data)


def _read_range(f, r: ByteRequest) -> bytes:
    if isinstance(r, RangeRequest):
        f.seek(r.start)
        return f.read(r.end - r.start)
    if isinstance(r, OffsetRequest):
        f.seek(r.offset)
        return f.readall()
    if isinstance(r, SuffixRequest):
        if r.suffix == 0:
            return b""
        size = os.fstat(f.fileno()).st_size
        f.seek(max(size - r.suffix, 0))
        return f.readall()
    raise StoreError(f"unknown byte request {r!r}")


def _walk(directory: str, rel: str) -> Iterator[str]:
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if _TMP_MARK in entry.name:
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path, rel + entry.name + "/")
        else:
            yield rel + entry.name


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):
        pass


