"""The synchronous store interface.

A store maps string keys (``"a/b/zarr.json"``, ``"a/b/c/0/1"``) to bytes. The required core is
small: :meth:`Store.get`, :meth:`Store.set`, :meth:`Store.delete` and :meth:`Store.list_prefix`.
Everything else has a default built on those, which a store may override for speed.
A missing key is ``None``, never an exception. Stores never start threads or event loops.

Byte ranges are requested with :class:`RangeRequest` (``[start, end)``),
:class:`OffsetRequest` (from an offset to the end) or :class:`SuffixRequest` (the last N bytes).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import Iterable, Iterator, Self, Sequence, TypeAlias

from ..errors import InvalidKeyError, ReadOnlyError, StoreError

__all__ = [
    "Store", "BytesLike", "ByteRequest", "RangeRequest", "OffsetRequest", "SuffixRequest",
    "validate_key", "slice_bytes", "Snapshot", "BytesSnapshot",
]


@dataclasses.dataclass(frozen=True)
class RangeRequest:
    """Bytes ``[start, end)`` of a value (``end`` is clipped to the value's length)."""

    start: int
    end: int

    def __post_init__(self):
        if self.start < 0 or self.end < self.start:
            raise StoreError(f"invalid byte range [{self.start}, {self.end})")


@dataclasses.dataclass(frozen=True)
class OffsetRequest:
    """Bytes from ``offset`` to the end of a value."""

    offset: int

    def __post_init__(self):
        if self.offset < 0:
            raise StoreError(f"invalid byte offset {self.offset}")


@dataclasses.dataclass(frozen=True)
class SuffixRequest:
    """The last ``suffix`` bytes of a value (all of it if it is shorter)."""

    suffix: int

    def __post_init__(self):
        if self.suffix < 0:
            raise StoreError(f"invalid suffix length {self.suffix}")


ByteRequest = RangeRequest | OffsetRequest | SuffixRequest

#: encoded data as stores and codecs pass it: any bytes-like (a read may return a view of a
#: buffer rather than a copy; a write may be given one)
BytesLike: TypeAlias = bytes | bytearray | memoryview


def slice_bytes(value: bytes, request: ByteRequest | None) -> bytes:
    """Apply a byte request to a whole value (the default for stores without native ranges)."""
    if request is None:
        return value
    start, stop = clip_request(request, len(value))
    return value[start:stop]


def clip_request(request: ByteRequest | None, size: int) -> tuple[int, int]:
    """The ``[start, stop)`` that a byte request selects of a value of ``size`` bytes, clipped
    to the value: a range past the end selects nothing (the one home of this rule)."""
    if request is None:
        return 0, size
    if isinstance(request, RangeRequest):
        start, stop = request.start, request.end
    elif isinstance(request, OffsetRequest):
        start, stop = request.offset, size
    elif isinstance(request, SuffixRequest):
        start, stop = size - request.suffix, size
    else:
        raise StoreError(f"unknown byte request {request!r}")
    start = min(max(start, 0), size)
    return start, max(start, min(stop, size))


class Snapshot:
    """Byte ranges of one stored value, all as of one version of it.

    A reader that needs several reads of one object (a shard's index, then its inner chunks)
    takes a snapshot, so that a concurrent writer replacing the object cannot hand it the index
    of one version and the chunks of another. ``size`` is the value's length; every range is
    clipped to it, so a corrupt offset can never make a store read or allocate past the value.
    Use it as a context manager (or call :meth:`close`): a snapshot may hold a file descriptor.
    """

    size: int

    def read(self, ranges: Sequence[ByteRequest]) -> Sequence[BytesLike]:
        """The bytes of each range, in order (clipped to :attr:`size`); each may be a view."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the snapshot holds (the default holds nothing)."""

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BytesSnapshot(Snapshot):
    """A snapshot over an immutable value already in memory."""

    __slots__ = ("value", "size")

    def __init__(self, value: bytes):
        self.value = value
        self.size = len(value)

    def read(self, ranges: Sequence[ByteRequest]) -> list[memoryview]:
        view, size = memoryview(self.value), self.size
        out = []
        for r in ranges:
            start, stop = clip_request(r, size)
            out.append(view[start:stop])
        return out


def validate_key(key: str) -> str:
    """Check a store key; return it unchanged.

    Keys are ``/``-separated relative paths. Empty segments, ``.`` and ``..`` segments, a leading
    ``/``, backslashes and NUL bytes are rejected, so no key can escape a store's root.
    """
    if type(key) is str and key and key[0] not in "/." and key[-1] != "/" and "//" not in key \
            and "/." not in key and "\\" not in key and "\x00" not in key:
        return key  # fast path: no segment can be empty or start with a dot
    if not isinstance(key, str):
        raise InvalidKeyError(f"store keys are str, got {type(key).__name__}")
    if not key or key.startswith("/") or key.endswith("/") or "\\" in key or "\x00" in key:
        raise InvalidKeyError(f"invalid store key {key!r}")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise InvalidKeyError(f"invalid store key {key!r}: segment {part!r} is not allowed")
    return key


def _validate_prefix(prefix: str) -> str:
    if type(prefix) is not str:
        raise InvalidKeyError(f"store prefixes are str, got {type(prefix).__name__} {prefix!r}")
    if prefix == "":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def dir_prefix(prefix: str) -> str:
    """A directory-like prefix checked and ending in ``/`` (``""`` for the root): what the
    ``list_dir`` of every store lists below."""
    _validate_prefix(prefix)
    return prefix + "/" if prefix and not prefix.endswith("/") else prefix


class Store:
    """Base class of every store.

    Subclasses implement ``_get``, ``_set``, ``_delete`` and ``_list_prefix``; the public methods
    validate keys, enforce ``read_only`` and provide the rest. Capabilities are declared as
    class attributes: ``supports_byte_ranges`` (``_get`` honours byte requests natively),
    ``supports_get_into``, ``supports_deletes``, ``supports_listing``, ``latency_bound``,
    ``kernel_writes``.

    Every store is safe to use from many threads at once.
    """

    supports_byte_ranges: bool = False
    supports_get_into: bool = False
    #: calls wait on a network: threads then overlap the waits, whatever the chunk size
    latency_bound: bool = False
    #: a write spends its time in the operating system (creating, writing and renaming a file)
    #: with the GIL released: threads that each write their own stretch of chunks gain even when
    #: the chunks are small
    kernel_writes: bool = False
    #: :meth:`set_if_version` is atomic on the backend itself, across processes and machines (an
    #: object store's conditional put); without it, it is atomic within this process only
    supports_conditional_writes: bool = False
    supports_deletes: bool = True
    supports_listing: bool = True

    def __init__(self, *, read_only: bool = False):
        self._read_only = bool(read_only)

    # --- identity -------------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        """True if this store (or view) refuses writes."""
        return self._read_only

    def with_read_only(self, read_only: bool = True) -> Self:
        """Return a view of the same data with the given read-only flag."""
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        clone._read_only = bool(read_only)
        return clone

    def lock_id(self) -> tuple:
        """A hashable that is equal for every store object over the same underlying data.

        Per-chunk write locks are keyed on it, so two ``Array`` objects over one directory
        serialise their partial writes to the same chunk.
        """
        return (type(self).__name__, id(self))

    def location(self, key: str) -> tuple:
        """A hashable naming where ``key``'s value really lives, equal whatever store object,
        root or path reached it (``LocalStore``: the resolved file path). Per-chunk write locks
        and per-array locks are keyed on it, so an array opened through its own directory and
        through its parent group's shares them."""
        return (self.lock_id(), key)

    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyError(f"{self!r} is read-only")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release resources (files, handles). The default does nothing."""

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.lock_id() == other.lock_id() and self._read_only == other._read_only

    def __hash__(self) -> int:
        return hash((self.lock_id(), self._read_only))

    # --- what subclasses implement --------------------------------------------------------------
    def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        raise NotImplementedError

    def _set(self, key: str, value: BytesLike) -> None:
        raise NotImplementedError

    def _delete(self, key: str) -> None:
        raise NotImplementedError

    def _list_prefix(self, prefix: str) -> Iterator[str]:
        raise NotImplementedError

    # --- reading --------------------------------------------------------------------------------
    def get(self, key: str, byte_range: ByteRequest | None = None) -> bytes | None:
        """Return the value at ``key`` (or the requested byte range of it), ``None`` if missing."""
        return self._get(validate_key(key), byte_range)

    def get_buffer(self, key: str):
        """The whole value at ``key`` as a read-only bytes-like object, ``None`` if missing: what
        chunk reads decode. It may be a view of memory the store's client owns (``ObjectStore``:
        the buffer obstore received), sparing a copy of every chunk; the default is :meth:`get`."""
        return self.get(key)

    def get_transient(self, key: str):
        """The whole value at ``key`` as a read-only bytes-like object that may live in a buffer
        this thread reuses: valid until this thread's next ``get_transient`` call. ``None`` if
        missing. For a caller that decodes the value at once and keeps nothing that points into
        it (a chunk decoded into the output). ``LocalStore`` reads the file into the thread's
        buffer (no new allocation, no page faults per chunk); the default is :meth:`get_buffer`."""
        return self.get_buffer(key)

    def get_ranges(self, key: str, ranges: Sequence[ByteRequest]) -> list[bytes] | None:
        """Return several byte ranges of one value, ``None`` if the key is missing.

        The default reads the whole value once when the store has no native ranges.
        """
        validate_key(key)
        if not self.supports_byte_ranges:
            whole = self._get(key, None)
            if whole is None:
                return None
            return [slice_bytes(whole, r) for r in ranges]
        out = []
        for r in ranges:
            part = self._get(key, r)
            if part is None:
                return None
            out.append(part)
        return out

    def snapshot(self, key: str) -> Snapshot | None:
        """A :class:`Snapshot` of the value at ``key``: any number of ranged reads, all from the
        version current when it was taken. ``None`` if the key is missing.

        The default holds the whole value in memory (one ``get``); stores that can do better
        override it: ``LocalStore`` keeps the file open (a write replaces the file, so an open
        descriptor keeps reading the old version); a store with version tokens checks the token
        on each read and raises :class:`~zarrsync.errors.VersionChangedError` so the reader
        starts over.
        """
        value = self.get(key)
        return None if value is None else BytesSnapshot(value)

    def snapshot_read(self, key: str, ranges: Sequence[ByteRequest]) -> tuple[Snapshot, Sequence[BytesLike]] | None:
        """Take a :meth:`snapshot` of ``key`` and read ``ranges`` from it: the snapshot (the
        caller closes it) and the bytes of each range, or ``None`` if the key is missing.

        A store whose ranged reads report the value's size and version (an object store's
        ranged ``GET`` answers with both) does it in one round trip; the default takes the
        snapshot, then reads.
        """
        snap = self.snapshot(key)
        if snap is None:
            return None
        try:
            return snap, snap.read(ranges)
        except BaseException:
            snap.close()
            raise

    def get_into(self, key: str, out: memoryview) -> int | None:
        """Read the whole value at ``key`` into ``out`` if it has exactly ``len(out)`` bytes.

        Returns the value's size (when it differs from ``len(out)``, ``out`` holds nothing
        useful), or None if the key is missing. Stores that set ``supports_get_into`` read
        straight into ``out``; the default copies from :meth:`get`.
        """
        value = self.get(key)
        if value is None:
            return None
        if len(value) == len(out):
            out[:] = value
        return len(value)

    def exists(self, key: str) -> bool:
        """True if a value is stored at ``key``."""
        return self.get(key, RangeRequest(0, 0)) is not None

    def getsize(self, key: str) -> int | None:
        """Size in bytes of the value at ``key``, ``None`` if missing."""
        value = self.get(key)
        return None if value is None else len(value)

    # --- writing --------------------------------------------------------------------------------
    def set(self, key: str, value: bytes | bytearray | memoryview) -> None:
        """Store ``value`` at ``key``; readers see the old value or the new one, never a mix.

        ``value`` may be a view of a buffer that zarrsync reuses once ``set`` returns: a store
        that keeps the value must copy it (``bytes(value)``).
        """
        self._check_writable()
        self._check_value(key, value)
        self._set(validate_key(key), value)

    @staticmethod
    def _check_value(key: str, value) -> None:
        """The one check that a value to store is bytes-like (``set`` and ``set_if_not_exists``)."""
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise StoreError(f"store values are bytes-like, got {type(value).__name__} for key {key!r}")

    def set_if_not_exists(self, key: str, value: bytes) -> bool:
        """Store ``value`` only if ``key`` is absent; return True if it was stored.

        The default checks and sets under a per-store lock (atomic within this process);
        stores that can do better (``LocalStore``) override it.
        """
        self._check_writable()
        self._check_value(key, value)
        validate_key(key)
        with _CONDITIONAL_LOCK:
            if self._get(key, None) is not None:
                return False
            self._set(key, value)
            return True

    def get_versioned(self, key: str) -> tuple[bytes | None, object]:
        """The value at ``key`` (``None`` if missing) and a version token for :meth:`set_if_version`.

        The default token is the value itself; stores with version tokens of their own (an
        object's ETag) return those.
        """
        value = self.get(key)
        return value, value

    def set_if_version(self, key: str, value: bytes, version: object) -> bool:
        """Store ``value`` only if ``key`` still holds the version :meth:`get_versioned` returned
        as ``version`` (``None``: only if ``key`` is absent); return True if it was stored.

        This is how a read-modify-write of a chunk keeps a concurrent writer's update: when it
        returns False, read again and redo the change. With ``supports_conditional_writes`` the
        backend checks the version (across processes and machines); the default compares the
        stored bytes under a per-process lock, so it is atomic only among this process's
        conditional writes.
        """
        self._check_writable()
        self._check_value(key, value)
        validate_key(key)
        with _CONDITIONAL_LOCK:
            if self._get(key, None) != version:
                return False
            self._set(key, value)
            return True

    def delete(self, key: str) -> None:
        """Delete ``key``; deleting a missing key is not an error."""
        self._check_writable()
        self._delete(validate_key(key))

    def delete_prefix(self, prefix: str) -> None:
        """Delete every key that starts with ``prefix`` (``""`` empties the store)."""
        self._check_writable()
        for key in list(self._list_prefix(_validate_prefix(prefix))):
            self._delete(key)

    # --- listing --------------------------------------------------------------------------------
    def list(self) -> Iterator[str]:
        """Every key in the store, in no particular order."""
        return self._list_prefix("")

    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Every key that starts with ``prefix`` (full keys, not relative ones)."""
        return self._list_prefix(_validate_prefix(prefix))

    def list_dir(self, prefix: str) -> Iterator[str]:
        """The names directly below ``prefix``: keys and sub-prefixes, relative, without ``/``.

        ``prefix`` is a directory-like path (``"a/b"`` or ``"a/b/"``; ``""`` for the root).
        """
        prefix = dir_prefix(prefix)
        seen = set()
        for key in self._list_prefix(prefix):
            name = key[len(prefix):].split("/", 1)[0]
            if name not in seen:
                seen.add(name)
                yield name

    def is_empty(self, prefix: str = "") -> bool:
        """True if no key starts with ``prefix``."""
        for _ in self.list_prefix(prefix):
            return False
        return True

    def set_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        """Store several values (a convenience; each ``set`` is atomic on its own)."""
        for key, value in items:
            self.set(key, value)


_CONDITIONAL_LOCK = threading.Lock()


def _renew_lock_after_fork() -> None:
    # a thread of the parent may have held it: the child has no such thread to release it
    global _CONDITIONAL_LOCK
    _CONDITIONAL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_lock_after_fork)
