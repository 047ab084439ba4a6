"""FsspecStore: a store over any fsspec filesystem (S3, GCS, Azure, HTTP, SFTP, memory, ...).

Every operation is one or two calls of fsspec's own filesystem API, so whatever fsspec (and the
package that implements a protocol) can reach, zarrsync can read and write:

============================  ==================================================================
store operation               fsspec call
============================  ==================================================================
``get(key)``                  ``cat_file(path)``
``get(key, SuffixRequest)``   ``cat_file(path, start=-n)`` (fsspec clips it like a slice)
``get(key, other range)``     ``info(path)`` for the size, then ``cat_file(path, start, stop)``
                              with the range clipped to it (a range past the end is ``b""``)
``get_ranges``                ``info(path)``, then one ``cat_ranges`` call for every range
``exists`` / ``getsize``      ``info(path)``: metadata only (a HEAD), never a download
``set``                       ``pipe_file`` (local files: a temporary file renamed into place)
``set_if_not_exists``         ``info`` then ``pipe_file(mode="create")`` (see below)
``delete``                    ``rm_file`` (a missing key is not an error)
``list_prefix``               ``find`` (files only; keys relative to the root, ``/``-separated)
============================  ==================================================================

A missing key reads as ``None`` (fsspec's ``FileNotFoundError``, or the path naming a directory);
any other ``OSError`` becomes a :class:`~zarrsync.errors.StoreError` naming the key and the store.

What does not carry over from the other stores, and why:

- ``set_if_not_exists`` is atomic within one process (a process-wide lock around an existence
  check and the write). fsspec has no portable conditional put: the write asks for
  ``mode="create"``, which a backend that implements it with a conditional put makes atomic
  across processes too (s3fs sends ``If-None-Match: *``); **on a filesystem without one, two
  processes can both create the same key**.
- There are no conditional writes (``supports_conditional_writes`` is False): fsspec has no
  portable ``If-Match`` put, so on a remote filesystem a partial write of a chunk warns with
  :class:`~zarrsync.errors.UnguardedWriteWarning` (writers in other processes can lose each
  other's updates; :class:`~zarrsync.storage.object_store.ObjectStore` has them).
- s3fs and other object-store filesystems cache directory listings and answer ``info`` from
  them: pass ``use_listings_cache=False`` in ``storage_options`` when other clients write to the
  same prefix, or ``exists`` and ``getsize`` may answer from a stale listing.
- ``get_ranges`` asks for the size and then for the ranges: a value replaced between the two calls
  gives bytes of the new value clipped to the old size. Partial shard reads do not go through it:
  they take a :meth:`~Store.snapshot`, here one whole ``get``, which is always one version.
- Writes are atomic (a reader sees the old value or the new one) where the backend's ``pipe_file``
  is: object stores and fsspec's memory filesystem replace an object whole. fsspec's local
  filesystem truncates and rewrites the file, so for it the store writes a temporary file beside
  the target and renames it into place (names holding ``.__zarrsync_tmp__``, the same marker
  :class:`~zarrsync.storage.local.LocalStore` uses, are never listed, and keys holding it are
  refused). Other file-like filesystems (SFTP, SMB, ...) write in place, as fsspec does.
- fsspec's memory filesystem iterates its one process-wide dict in ``find`` and ``info``, which
  fails on a free-threaded build while another thread writes: the store's calls that list,
  look up, write or delete there hold one process-wide lock (reads of values do not).
- For local directories :class:`~zarrsync.storage.local.LocalStore` is faster and confines
  symbolic links to the root; this store does neither.

fsspec is imported only when a store is made, so ``import zarrsync`` never needs it.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, Sequence

from ..errors import MissingDependencyError, StoreError
from . import base
from .base import ByteRequest, Store, SuffixRequest, clip_request, validate_key
from .local import _TMP_MARK, _temp_name, _unlink_quietly, refuse_temp_marker
from .memory import _Guard

__all__ = ["FsspecStore"]

# what fsspec raises for a path that names no value: nothing there, a file in the way of a
# directory, or a directory (a prefix of keys is not a key)
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)

# fsspec's memory filesystem is one process-wide dict, which its ``find`` and ``info`` iterate: on a
# free-threaded build that raises "dictionary changed size during iteration" when another thread
# writes meanwhile. The store's calls that iterate or change it hold this lock.
_MEMORY_FS = _Guard()
_NO_LOCK = contextlib.nullcontext()


def _fsspec():
    """The fsspec package, imported on first use; MissingDependencyError naming the extra if it is missing."""
    try:
        import fsspec
        import fsspec.implementations.local
        import fsspec.implementations.memory
    except ImportError as e:
        from . import REMOTE_EXTRA

        raise MissingDependencyError(f"FsspecStore needs fsspec: {REMOTE_EXTRA} ({e})") from e
    return fsspec


class FsspecStore(Store):
    """Keys are files below ``root`` in an fsspec filesystem.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
        The filesystem (``fsspec.filesystem("s3", anon=True)``, ...).
    root : str
        The directory (or bucket prefix) inside ``fs`` that holds the keys; a protocol prefix
        and a trailing ``/`` are stripped.
    read_only : bool
        Refuse writes.

    Stores are equal when they reach the same protocol and root: filesystems are told apart by
    protocol and path, not by endpoint or credentials. Pickling keeps the filesystem (fsspec
    filesystems pickle their options), so the copy reaches the same data; fsspec's memory
    filesystem is one process-wide namespace, so a copy unpickled in the same process sees it too.

    >>> import fsspec
    >>> s = FsspecStore(fsspec.filesystem("memory"), "/doc-example")
    >>> s.set("a/0", b"data"); s.get("a/0", SuffixRequest(2))
    b'ta'
    >>> s.delete("a/0")
    """

    supports_byte_ranges = True
    #: an unknown filesystem is assumed to wait on a network (cleared for local and memory ones)
    latency_bound = True

    def __init__(self, fs, root: str, *, read_only: bool = False):
        super().__init__(read_only=read_only)
        fsspec = _fsspec()
        if not isinstance(fs, fsspec.AbstractFileSystem):
            raise StoreError(f"FsspecStore needs an fsspec filesystem, got {type(fs).__name__}")
        if not isinstance(root, str):
            raise StoreError(f"FsspecStore root must be a str, got {type(root).__name__}")
        self.fs = fs
        self.root = fs._strip_protocol(root).rstrip("/")
        self._prefix = self.root + "/"  # "" (a filesystem's own root) becomes "/"
        self.protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self._local = isinstance(fs, fsspec.implementations.local.LocalFileSystem)
        self._memory = isinstance(fs, fsspec.implementations.memory.MemoryFileSystem)
        if self._local or self._memory:
            self.latency_bound = False
        # a local directory has one name whatever store reached it: LocalStore's (see lock_id)
        self._real_root = os.path.realpath(self._prefix) if self._local else None

    @classmethod
    def from_url(cls, url: str, *, storage_options: dict | None = None, read_only: bool = False) -> "FsspecStore":
        """The store at an fsspec URL (``"s3://bucket/x.zarr"``, ``"memory://x"``, chained
        ``"simplecache::s3://..."``); ``storage_options`` go to the filesystem.

        >>> FsspecStore.from_url("memory://doc-url")
        FsspecStore('memory', '/doc-url')
        """
        fsspec = _fsspec()
        try:
            fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
        except (ImportError, ValueError, OSError) as e:  # unknown protocol, missing backend, bad option
            raise StoreError(f"no fsspec filesystem for {url!r}: {e}") from e
        return cls(fs, path, read_only=read_only)

    @classmethod
    def from_mapper(cls, mapper, *, read_only: bool = False) -> "FsspecStore":
        """The store over an ``fsspec.mapping.FSMap`` (``fsspec.get_mapper(url)``): its
        filesystem and root, read and written in place (not copied)."""
        fsspec = _fsspec()
        if not isinstance(mapper, fsspec.mapping.FSMap):
            raise StoreError(f"from_mapper needs an fsspec FSMap, got {type(mapper).__name__}")
        return cls(mapper.fs, mapper.root, read_only=read_only)

    # --- identity -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"FsspecStore({self.protocol!r}, {self.root!r}{', read_only=True' if self.read_only else ''})"

    def __getstate__(self):
        return {"fs": self.fs, "root": self.root, "read_only": self._read_only}

    def __setstate__(self, state):
        type(self).__init__(self, state["fs"], state["root"], read_only=state["read_only"])

    def lock_id(self) -> tuple:
        if self._local:  # the same as LocalStore's: both serialise their writes to one chunk
            return ("file", self._real_root)
        return ("fsspec", self.protocol, self.root)

    def location(self, key: str) -> tuple:
        if self._local:
            return ("file", f"{self._real_root}/{key}")
        return ("fsspec", self.protocol, self._prefix + key)

    # --- paths and errors -----------------------------------------------------------------------
    def _path(self, key: str) -> str:
        """The filesystem path of a valid key."""
        refuse_temp_marker(key)
        return self._prefix + key

    def _serial(self):
        """The lock around a call that iterates or changes the filesystem's namespace: for the
        memory filesystem the process-wide one (see ``_MEMORY_FS``), for others none."""
        return _MEMORY_FS.lock if self._memory else _NO_LOCK

    def _failed(self, action: str, key: str, error: BaseException) -> StoreError:
        return StoreError(f"{self!r}: could not {action} key {key!r}: {error}")

    # --- reading --------------------------------------------------------------------------------
    def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        path = self._path(key)
        # fast paths, one call each: the whole value; its last n bytes (fsspec reads a negative
        # start from the end, clipped like a slice, so no size is needed)
        if byte_range is None:
            return self._cat(path, key, None, None)
        if isinstance(byte_range, SuffixRequest) and byte_range.suffix > 0:
            return self._cat(path, key, -byte_range.suffix, None)
        size = self._size(path, key)
        if size is None:
            return None
        start, stop = clip_request(byte_range, size)
        return self._cat(path, key, start, stop) if stop > start else b""

    def _cat(self, path: str, key: str, start: int | None, stop: int | None) -> bytes | None:
        try:
            return self.fs.cat_file(path, start=start, end=stop)
        except _MISSING:
            return None
        except OSError as e:
            raise self._failed("read", key, e) from e

    def _size(self, path: str, key: str) -> int | None:
        """The size of the value at ``path`` from its metadata (a HEAD, never a download);
        None if it is missing or a directory."""
        try:
            with self._serial():
                info = self.fs.info(path)
        except _MISSING:
            return None
        except OSError as e:
            raise self._failed("look up", key, e) from e
        return None if info.get("type") == "directory" else info["size"]

    def get_ranges(self, key: str, ranges: Sequence[ByteRequest]) -> list[bytes] | None:
        """Several ranges of one value: its size, then every non-empty range in one
        ``cat_ranges`` call (fsspec's async backends fetch them concurrently)."""
        path = self._path(validate_key(key))
        size = self._size(path, key)
        if size is None:
            return None
        spans = [clip_request(r, size) for r in ranges]
        reads = [(start, stop) for start, stop in spans if stop > start]
        try:
            got = self.fs.cat_ranges([path] * len(reads), [s for s, _ in reads], [e for _, e in reads],
                                     on_error="raise") if reads else []
        except _MISSING:
            return None  # deleted since its size was read
        except OSError as e:
            raise self._failed("read", key, e) from e
        parts = iter(got)
        return [next(parts) if stop > start else b"" for start, stop in spans]

    def exists(self, key: str) -> bool:
        return self._size(self._path(validate_key(key)), key) is not None

    def getsize(self, key: str) -> int | None:
        return self._size(self._path(validate_key(key)), key)

    # --- writing --------------------------------------------------------------------------------
    def _set(self, key: str, value) -> None:
        self._write(self._path(key), key, bytes(value), create=False)

    def set_if_not_exists(self, key: str, value: bytes) -> bool:
        """Store ``value`` only if ``key`` is absent; True if it was stored.

        Atomic within this process: a process-wide lock holds the existence check and the write
        together. Across processes it is atomic only where the backend's ``pipe_file`` honours
        ``mode="create"`` with a conditional create; **on a filesystem without one (the local
        one, most file-like ones) two processes can both store the key, the later write
        winning**.
        """
        self._check_writable()
        self._check_value(key, value)
        path = self._path(validate_key(key))
        data = bytes(value)
        with base._CONDITIONAL_LOCK:  # the default's lock (renewed after fork there)
            if self._size(path, key) is not None:
                return False
            return self._write(path, key, data, create=True)

    def _write(self, path: str, key: str, data: bytes, *, create: bool) -> bool:
        """Write ``data`` at ``path`` (the path of ``key``); False only when ``create`` and the
        backend found the key already there."""
        try:
            try:
                self._put(path, data, create)
            except FileNotFoundError:  # a filesystem with real directories: make the parent once
                with self._serial():
                    self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                self._put(path, data, create)
        except FileExistsError as e:  # a conditional create lost, or a file is in the way
            if create and self._size(path, key) is not None:
                return False
            raise self._failed("write", key, e) from e
        except OSError as e:
            raise self._failed("write", key, e) from e
        return True

    def _put(self, path: str, data: bytes, create: bool) -> None:
        if self._local:
            self._replace_local(path, data)
            return
        with self._serial():
            if create:
                self.fs.pipe_file(path, data, mode="create")
            else:
                self.fs.pipe_file(path, data)

    def _replace_local(self, path: str, data: bytes) -> None:
        """Write a local file atomically: fsspec's local ``pipe_file`` truncates the target and
        then writes it, so a reader could see a torn value. The value goes to a temporary file
        beside the target, which ``os.replace`` then renames over it (atomic on POSIX)."""
        tmp = _temp_name(path.rsplit("/", 1)[0])
        self.fs.pipe_file(tmp, data)
        try:
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise

    def _delete(self, key: str) -> None:
        try:
            with self._serial():
                self.fs.rm_file(self._path(key))
        except _MISSING:
            pass
        except OSError as e:
            raise self._failed("delete", key, e) from e

    # --- listing --------------------------------------------------------------------------------
    def _list_prefix(self, prefix: str) -> Iterator[str]:
        # find the deepest directory the prefix names ("a/b/c" -> "a/b/"), keep what starts with it
        directory = prefix[:prefix.rfind("/") + 1]
        try:
            with self._serial():
                names = self.fs.find(self._prefix + directory)
        except FileNotFoundError:
            return iter(())
        except OSError as e:
            raise StoreError(f"{self!r}: could not list prefix {prefix!r}: {e}") from e
        wanted, n = self._prefix + prefix, len(self._prefix)
        return iter([name[n:] for name in names if name.startswith(wanted) and _TMP_MARK not in name[n:]])
