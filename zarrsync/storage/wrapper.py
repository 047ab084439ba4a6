"""Stores that wrap another store: :class:`WrapperStore` (forwards everything),
:class:`LoggingStore` (logs and counts each call) and :class:`CacheStore` (an LRU cache of values).

A wrapper reads as its inner store does: the capability flags, ``lock_id`` and ``location`` are
the inner store's, so per-chunk and per-array locks are shared with code that uses the inner
store directly. The public ``get``, ``set``, ``delete`` and ``list_prefix`` of :class:`Store`
validate once and call the hooks, which the wrapper forwards to the inner store's hooks; every
method that a store may optimise (``snapshot``, ``get_ranges``, ``set_if_not_exists`` ...) is
forwarded to the inner store's public method, which validates once. A subclass overrides the
one or two methods it cares about. A wrapper pickles if its inner store does.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Iterator, Sequence

from ..errors import StoreError
from .base import ByteRequest, Snapshot, Store, _validate_prefix, slice_bytes, validate_key
from .memory import _Guard  # one lock, re-created in a forked child

__all__ = ["WrapperStore", "LoggingStore", "CacheStore"]

logger = logging.getLogger("zarrsync.storage")


class WrapperStore(Store):
    """A store that forwards every operation to ``inner``.

    >>> from zarrsync.storage import MemoryStore
    >>> s = WrapperStore(MemoryStore())
    >>> s.set("a", b"1"); s.get("a"), s.inner.get("a")
    (b'1', b'1')
    """

    def __init__(self, inner: Store):
        if not isinstance(inner, Store):
            raise StoreError(f"{type(self).__name__} wraps a Store, got {type(inner).__name__}")
        super().__init__(read_only=inner.read_only)
        self.inner = inner
        # the wrapper reads as its inner store does (declared, never sniffed)
        self.supports_byte_ranges = inner.supports_byte_ranges
        self.supports_get_into = inner.supports_get_into
        self.supports_deletes = inner.supports_deletes
        self.supports_listing = inner.supports_listing
        self.latency_bound = inner.latency_bound

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    def __getstate__(self):
        return {"inner": self.inner}

    def __setstate__(self, state):
        self.__init__(**state)

    # --- identity: the inner store's ------------------------------------------------------------
    def with_read_only(self, read_only: bool = True) -> "WrapperStore":
        """A view over the inner store's view; it shares this wrapper's state (counters, cache)."""
        clone = super().with_read_only(read_only)
        clone.inner = self.inner.with_read_only(read_only)
        return clone

    def lock_id(self) -> tuple:
        return self.inner.lock_id()

    def location(self, key: str) -> tuple:
        return self.inner.location(key)

    def close(self) -> None:
        self.inner.close()

    # --- hooks (keys already validated, writability checked) ------------------------------------
    def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        return self.inner._get(key, byte_range)

    def _set(self, key: str, value) -> None:
        self.inner._set(key, value)

    def _delete(self, key: str) -> None:
        self.inner._delete(key)

    def _list_prefix(self, prefix: str) -> Iterator[str]:
        return self.inner._list_prefix(prefix)

    # --- methods a store may optimise: the inner store's own ------------------------------------
    def get_ranges(self, key: str, ranges: Sequence[ByteRequest]) -> list[bytes] | None:
        return self.inner.get_ranges(key, ranges)

    def snapshot(self, key: str) -> Snapshot | None:
        return self.inner.snapshot(key)

    def get_into(self, key: str, out: memoryview) -> int | None:
        return self.inner.get_into(key, out)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def getsize(self, key: str) -> int | None:
        return self.inner.getsize(key)

    def set_if_not_exists(self, key: str, value: bytes) -> bool:
        return self.inner.set_if_not_exists(key, value)

    def delete_prefix(self, prefix: str) -> None:
        self.inner.delete_prefix(prefix)

    def list_dir(self, prefix: str) -> Iterator[str]:
        return self.inner.list_dir(prefix)

    def is_empty(self, prefix: str = "") -> bool:
        return self.inner.is_empty(prefix)


class _Stats(_Guard):
    """Call counts and byte totals of a :class:`LoggingStore`, behind its lock."""

    def __init__(self):
        super().__init__()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.counts: collections.Counter = collections.Counter()
            self.read = self.written = 0

    def add(self, method: str, read: int, written: int) -> None:
        with self.lock:
            self.counts[method] += 1
            self.read += read
            self.written += written


class LoggingStore(WrapperStore):
    """A wrapper that logs each call and counts calls and bytes.

    Each call logs one line on the ``zarrsync.storage`` logger at ``level`` (DEBUG by default):
    the method, the key (or prefix; a byte request after it) and the bytes moved, e.g.
    ``get 'a/c/0' RangeRequest(start=0, end=16): 16 bytes``. Listings log when called, with 0
    bytes. Reads through a snapshot log as ``snapshot.read``.

    Statistics, kept under a lock and shared with read-only views: :attr:`counts` (a copy,
    method name -> number of calls), :attr:`bytes_read`, :attr:`bytes_written`; :meth:`reset`
    zeroes them. An unpickled copy starts from zero.

    >>> from zarrsync.storage import MemoryStore
    >>> s = LoggingStore(MemoryStore())
    >>> s.set("a", b"123"); s.get("a")
    b'123'
    >>> s.counts, s.bytes_read, s.bytes_written
    ({'set': 1, 'get': 1}, 3, 3)
    """

    def __init__(self, inner: Store, *, level: int = logging.DEBUG):
        if type(level) is not int:
            raise StoreError(f"LoggingStore level is a logging level (an int), got {level!r}")
        super().__init__(inner)
        self.level = level
        self._stats = _Stats()

    def __getstate__(self):
        return {"inner": self.inner, "level": self.level}

    @property
    def counts(self) -> dict[str, int]:
        """A copy of the call counts: method name -> number of calls."""
        with self._stats.lock:
            return dict(self._stats.counts)

    @property
    def bytes_read(self) -> int:
        """Bytes returned by every read so far (values, ranges, snapshot reads, ``get_into``)."""
        with self._stats.lock:
            return self._stats.read

    @property
    def bytes_written(self) -> int:
        """Bytes passed to every write so far (``set`` and ``set_if_not_exists``)."""
        with self._stats.lock:
            return self._stats.written

    def reset(self) -> None:
        """Zero the counts and byte totals."""
        self._stats.reset()

    def _record(self, method: str, key: str, detail: object = None, *, read: int = 0, written: int = 0) -> None:
        """Count one call and log its line (the one home of the line's format)."""
        self._stats.add(method, read, written)
        if logger.isEnabledFor(self.level):
            extra = "" if detail is None else f" {detail}"
            logger.log(self.level, "%s %r%s: %d bytes", method, key, extra, read + written)

    def _forward(self, method: str, key: str, call, *args):
        """``call(*args)`` on the inner store, recorded as a call that moves no bytes."""
        result = call(*args)
        self._record(method, key)
        return result

    # --- reading --------------------------------------------------------------------------------
    def _get(self, key, byte_range):
        value = self.inner._get(key, byte_range)
        self._record("get", key, byte_range, read=0 if value is None else len(value))
        return value

    def get_ranges(self, key, ranges):
        parts = self.inner.get_ranges(key, ranges)
        self._record("get_ranges", key, f"{len(ranges)} ranges", read=sum(map(len, parts or ())))
        return parts

    def snapshot(self, key):
        snap = self.inner.snapshot(key)
        self._record("snapshot", key)
        return None if snap is None else _LoggedSnapshot(snap, self, key)

    def get_into(self, key, out):
        n = self.inner.get_into(key, out)
        self._record("get_into", key, read=n if n == len(out) else 0)
        return n

    def exists(self, key):
        return self._forward("exists", key, self.inner.exists, key)

    def getsize(self, key):
        return self._forward("getsize", key, self.inner.getsize, key)

    # --- writing --------------------------------------------------------------------------------
    def _set(self, key, value):
        self.inner._set(key, value)
        self._record("set", key, written=memoryview(value).nbytes)

    def set_if_not_exists(self, key, value):
        stored = self.inner.set_if_not_exists(key, value)
        self._record("set_if_not_exists", key, "stored" if stored else "present",
                     written=memoryview(value).nbytes if stored else 0)
        return stored

    def _delete(self, key):
        self._forward("delete", key, self.inner._delete, key)

    def delete_prefix(self, prefix):
        self._forward("delete_prefix", prefix, self.inner.delete_prefix, prefix)

    # --- listing (logged when called) -----------------------------------------------------------
    def _list_prefix(self, prefix):
        return self._forward("list_prefix", prefix, self.inner._list_prefix, prefix)

    def list_dir(self, prefix):
        return self._forward("list_dir", prefix, self.inner.list_dir, prefix)

    def is_empty(self, prefix=""):
        return self._forward("is_empty", prefix, self.inner.is_empty, prefix)


class _LoggedSnapshot(Snapshot):
    """A snapshot whose reads a :class:`LoggingStore` logs and counts."""

    def __init__(self, inner: Snapshot, store: LoggingStore, key: str):
        self.inner, self.store, self.key = inner, store, key
        self.size = inner.size

    def read(self, ranges):
        parts = self.inner.read(ranges)
        self.store._record("snapshot.read", self.key, f"{len(ranges)} ranges", read=sum(len(p) for p in parts))
        return parts

    def close(self) -> None:
        self.inner.close()


class _Fetch:
    """One read of a whole value from the inner store, which concurrent misses of its key wait on.

    ``stale`` is set (under the cache's lock) by a write of the key while the read is in flight:
    its result, possibly the old value, is then handed to the readers already waiting but never
    cached."""

    __slots__ = ("done", "value", "error", "stale")

    def __init__(self):
        self.done = threading.Event()
        self.value: bytes | None = None
        self.error: BaseException | None = None
        self.stale = False


class _Cache(_Guard):
    """The LRU of a :class:`CacheStore` and its views, and the reads in flight, behind one lock."""

    def __init__(self, max_bytes: int):
        super().__init__()
        self.max_bytes = max_bytes
        self.entries: collections.OrderedDict[str, bytes] = collections.OrderedDict()  # oldest first
        self.nbytes = 0
        self.fetching: dict[str, _Fetch] = {}
        self.hits = self.misses = 0

    def _after_fork(self) -> None:
        super()._after_fork()
        self.fetching = {}  # their readers are threads the child does not have

    def lookup(self, key: str) -> bytes | None:
        """The cached value (marked most recently used, a hit), or None (a miss)."""
        with self.lock:
            return self._lookup(key)

    def _lookup(self, key: str) -> bytes | None:
        value = self.entries.get(key)
        if value is None:
            self.misses += 1
        else:
            self.entries.move_to_end(key)
            self.hits += 1
        return value

    def join(self, key: str) -> tuple[bytes | None, _Fetch | None, bool]:
        """For a whole-value read: ``(value, None, False)`` on a hit, else the fetch to wait on or
        to run and whether this caller leads it (runs the read). Counts the hit or miss."""
        with self.lock:
            value = self._lookup(key)
            if value is not None:
                return value, None, False
            fetch = self.fetching.get(key)
            if fetch is not None:
                return None, fetch, False
            fetch = self.fetching[key] = _Fetch()
            return None, fetch, True

    def finish(self, key: str, fetch: _Fetch) -> None:
        """Retire a fetch; cache its value unless it failed, went stale, is absent or too big."""
        with self.lock:
            if self.fetching.get(key) is fetch:
                del self.fetching[key]
            value = fetch.value
            if fetch.error is None and not fetch.stale and value is not None and len(value) <= self.max_bytes:
                self.entries[key] = value
                self.nbytes += len(value)
                while self.nbytes > self.max_bytes:  # least recently used first
                    _, old = self.entries.popitem(last=False)
                    self.nbytes -= len(old)
        fetch.done.set()

    def drop(self, key: str) -> None:
        """Drop the cached value of ``key`` and make its read in flight stale (readers that come
        later start a fresh read)."""
        with self.lock:
            self._drop(key)

    def drop_prefix(self, prefix: str) -> None:
        """:meth:`drop` every key that starts with ``prefix`` (a scan of the cache)."""
        with self.lock:
            for key in [k for k in (*self.entries, *self.fetching) if k.startswith(prefix)]:
                self._drop(key)

    def _drop(self, key: str) -> None:
        value = self.entries.pop(key, None)
        if value is not None:
            self.nbytes -= len(value)
        fetch = self.fetching.pop(key, None)
        if fetch is not None:
            fetch.stale = True


class CacheStore(WrapperStore):
    """A wrapper that keeps recently read whole values in memory, at most ``max_bytes`` in all.

    - Whole-value reads (``get``, ``get_into``) are cached, least recently used evicted first; a
      value larger than ``max_bytes`` is never cached. Concurrent misses of one key make one
      inner read: the others wait and share its value, or its exception (the same exception
      object reaches every waiter, and nothing is cached).
    - Byte-range reads (``get`` with a range, ``get_ranges``), ``exists`` and ``getsize`` are
      answered from a cached value when there is one, else by the inner store, and not cached
      (caching a part would mean keying by range; fetching the whole value would read a whole
      shard for a few bytes of it).
    - Missing keys are not cached: a cached absence costs no bytes, so ``max_bytes`` could not
      bound how many there are. Every read of a missing key asks the inner store.
    - ``snapshot`` bypasses the cache (the inner store's snapshot, with its version checks).
    - Writes, deletes, ``delete_prefix`` and ``set_if_not_exists`` through this store or its
      views drop the keys they touch once the inner store has them, and a read of such a key in
      flight meanwhile is never cached, so a read after a write returns the new bytes. Writes
      that bypass this store (to the inner store directly, or by another process) are not seen
      until the value is evicted.

    ``hits`` and ``misses`` count reads answered from the cache and reads that were not
    (a reader that waits on another's read of the same key is a miss).

    >>> from zarrsync.storage import MemoryStore
    >>> s = CacheStore(MemoryStore(), max_bytes=1 << 20)
    >>> s.set("a", b"xyz"); s.get("a"), s.get("a"), (s.hits, s.misses)
    (b'xyz', b'xyz', (1, 1))
    """

    def __init__(self, inner: Store, *, max_bytes: int):
        if type(max_bytes) is not int or max_bytes < 0:
            raise StoreError(f"CacheStore max_bytes is a number of bytes >= 0, got {max_bytes!r}")
        super().__init__(inner)
        self.supports_get_into = False  # get_into copies from a cached value, never reads straight in
        self.max_bytes = max_bytes
        self._cache = _Cache(max_bytes)

    def __repr__(self) -> str:
        return f"CacheStore({self.inner!r}, max_bytes={self.max_bytes})"

    def __getstate__(self):
        return {"inner": self.inner, "max_bytes": self.max_bytes}

    @property
    def hits(self) -> int:
        """Reads answered from the cache."""
        with self._cache.lock:
            return self._cache.hits

    @property
    def misses(self) -> int:
        """Reads not answered from the cache."""
        with self._cache.lock:
            return self._cache.misses

    @property
    def cached_bytes(self) -> int:
        """The total size of the cached values (never more than ``max_bytes``)."""
        with self._cache.lock:
            return self._cache.nbytes

    # --- reading --------------------------------------------------------------------------------
    def _get(self, key, byte_range):
        if byte_range is not None:
            return self._get_part(key, byte_range)
        value, fetch, leader = self._cache.join(key)
        if fetch is None:
            return value
        if leader:
            try:
                fetch.value = self.inner._get(key, None)
            except BaseException as e:  # handed to every waiter, then raised here too
                fetch.error = e
            finally:
                self._cache.finish(key, fetch)
        else:
            fetch.done.wait()
        if fetch.error is not None:
            raise fetch.error
        return fetch.value

    def _get_part(self, key: str, byte_range: ByteRequest) -> bytes | None:
        value = self._cache.lookup(key)
        if value is not None:
            return slice_bytes(value, byte_range)
        return self.inner._get(key, byte_range)

    def get_ranges(self, key, ranges):
        value = self._cache.lookup(validate_key(key))
        if value is not None:
            return [slice_bytes(value, r) for r in ranges]
        return self.inner.get_ranges(key, ranges)

    def get_into(self, key, out):
        return Store.get_into(self, key, out)  # a copy of the (cached) whole value

    def exists(self, key):
        return self._cache.lookup(validate_key(key)) is not None or self.inner.exists(key)

    def getsize(self, key):
        value = self._cache.lookup(validate_key(key))
        if value is not None:
            return len(value)
        return self.inner.getsize(key)

    # --- writing: drop the keys once the inner store has the change (also when it fails midway,
    # having perhaps changed something); dropping before would let a read in between cache the
    # old value again
    def _set(self, key, value):
        try:
            self.inner._set(key, value)
        finally:
            self._cache.drop(key)

    def set_if_not_exists(self, key, value):
        validate_key(key)  # a valid str before the finally below uses it
        try:
            return self.inner.set_if_not_exists(key, value)
        finally:
            self._cache.drop(key)

    def _delete(self, key):
        try:
            self.inner._delete(key)
        finally:
            self._cache.drop(key)

    def delete_prefix(self, prefix):
        _validate_prefix(prefix)  # a valid str before the finally below uses it
        try:
            self.inner.delete_prefix(prefix)
        finally:
            self._cache.drop_prefix(prefix)
