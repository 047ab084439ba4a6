"""Stores that wrap another store: :class:`WrapperStore` (forwards everything),
:class:`LoggingStore` (logs and counts each call) and :class:`CacheStore` (an LRU cache of values
and byte ranges).

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
from typing import Iterator, Self, Sequence

from ..errors import StoreError
from .base import ByteRequest, BytesLike, Snapshot, Store, _validate_prefix, slice_bytes, validate_key
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
        self.kernel_writes = inner.kernel_writes
        self.supports_conditional_writes = inner.supports_conditional_writes

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    def __getstate__(self):
        return {"inner": self.inner}

    def __setstate__(self, state):
        type(self).__init__(self, **state)

    # --- identity: the inner store's ------------------------------------------------------------
    def with_read_only(self, read_only: bool = True) -> Self:
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

    def snapshot_read(self, key: str, ranges: Sequence[ByteRequest]) -> tuple[Snapshot, Sequence[BytesLike]] | None:
        return self.inner.snapshot_read(key, ranges)

    def get_versioned(self, key: str) -> tuple[bytes | None, object]:
        return self.inner.get_versioned(key)

    def set_if_version(self, key: str, value: bytes, version: object) -> bool:
        self._check_writable()
        return self.inner.set_if_version(key, value, version)

    def get_buffer(self, key: str):
        return self.inner.get_buffer(key)

    def get_transient(self, key: str):
        return self.inner.get_transient(key)

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
        """Bytes passed to every write so far (``set``, ``set_if_not_exists``, ``set_if_version``)."""
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

    def snapshot_read(self, key, ranges):
        opened = self.inner.snapshot_read(key, ranges)
        if opened is None:
            self._record("snapshot_read", key)
            return None
        snap, parts = opened
        self._record("snapshot_read", key, f"{len(ranges)} ranges", read=sum(map(len, parts)))
        return _LoggedSnapshot(snap, self, key), parts

    def get_versioned(self, key):
        value, version = self.inner.get_versioned(key)
        self._record("get_versioned", key, read=0 if value is None else len(value))
        return value, version

    def set_if_version(self, key, value, version):
        self._check_writable()
        stored = self.inner.set_if_version(key, value, version)
        self._record("set_if_version", key, "stored" if stored else "changed",
                     written=memoryview(value).nbytes if stored else 0)
        return stored

    def get_buffer(self, key):
        value = self.inner.get_buffer(key)
        self._record("get_buffer", key, read=0 if value is None else memoryview(value).nbytes)
        return value

    def get_transient(self, key):
        value = self.inner.get_transient(key)
        self._record("get_transient", key, read=0 if value is None else memoryview(value).nbytes)
        return value

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


_Hit = tuple[bytes, ByteRequest | None]  # cached bytes, and the request still to apply to them


class _Fetch:
    """One read in flight from the inner store, of one key: of one cache slot (its whole value,
    or one byte range of it), which concurrent misses of that slot wait on and share; or, for
    ``get_ranges``, of several ranges at once (``slot`` None: nobody waits on it, its parts are
    cached one by one).

    ``stale`` is set (under the cache's lock) by a write of the key while the read is in flight:
    its result, possibly the old bytes, is then handed to the readers already waiting but never
    cached."""

    __slots__ = ("key", "slot", "done", "value", "error", "stale")

    def __init__(self, key: str, slot: tuple[str, ByteRequest | None] | None):
        self.key = key
        self.slot = slot
        self.done = threading.Event()
        self.value: bytes | None = None
        self.error: BaseException | None = None
        self.stale = False


class _Cache(_Guard):
    """The LRU of a :class:`CacheStore` and its views, and the reads in flight, behind one lock.

    An entry's slot is ``(key, None)`` for a whole value, ``(key, request)`` for one byte range
    of it. ``parts`` and ``reading`` index the range entries and the reads in flight by key, so
    that a write of a key drops them without a scan of the cache."""

    def __init__(self, max_bytes: int):
        super().__init__()
        self.max_bytes = max_bytes
        self.entries: collections.OrderedDict[tuple[str, ByteRequest | None], bytes] = \
            collections.OrderedDict()  # oldest first
        self.parts: dict[str, set[ByteRequest]] = {}  # key -> the requests it has an entry for
        self.nbytes = 0
        self.fetching: dict[tuple[str, ByteRequest | None], _Fetch] = {}  # the read each miss joins
        self.reading: dict[str, set[_Fetch]] = {}  # key -> every read of it in flight
        self.hits = self.misses = 0

    def _after_fork(self) -> None:
        super()._after_fork()
        self.fetching = {}  # their readers are threads the child does not have
        self.reading = {}

    def _count(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1

    def _use(self, slot: tuple[str, ByteRequest | None]) -> bytes | None:
        """The bytes cached in ``slot``, marked most recently used, or None."""
        value = self.entries.get(slot)
        if value is not None:
            self.entries.move_to_end(slot)
        return value

    def lookup(self, key: str) -> bytes | None:
        """The cached whole value (a hit), or None (a miss)."""
        with self.lock:
            value = self._use((key, None))
            self._count(value is not None)
            return value

    def _find(self, key: str, request: ByteRequest | None) -> _Hit | None:
        """Where the cache holds ``request`` of ``key``: the whole value and the request still to
        apply to it, or the cached part and None; None if it holds neither."""
        whole = self._use((key, None))
        if whole is not None:
            return whole, request
        part = None if request is None else self._use((key, request))
        return None if part is None else (part, None)

    def join(self, key: str, request: ByteRequest | None) -> tuple[_Hit | None, _Fetch | None, bool]:
        """For a read of the whole value (``request`` None) or of one range: ``(hit, None,
        False)`` when cached (``hit`` as :meth:`_find` returns it), else ``(None, fetch, leader)``:
        the read to wait on or to run, and whether this caller leads it (runs the read). Counts
        the hit or miss."""
        with self.lock:
            hit = self._find(key, request)
            self._count(hit is not None)
            if hit is not None:
                return hit, None, False
            slot = (key, request)
            fetch = self.fetching.get(slot)
            if fetch is not None:
                return None, fetch, False
            fetch = self.fetching[slot] = self._begin(key, slot)
            return None, fetch, True

    def join_ranges(self, key: str, ranges: Sequence[ByteRequest]) -> tuple[list[_Hit] | None, _Fetch | None]:
        """For ``get_ranges``: ``(hits, None)`` when the whole value, or a part for every range, is
        cached (each hit as :meth:`_find` returns it), else ``(None, fetch)``: a new read of all
        the ranges, which the caller runs. Counts one hit or miss."""
        with self.lock:
            whole = self._use((key, None))
            hits: list[_Hit] | None
            if whole is not None:
                hits = [(whole, r) for r in ranges]
            elif ranges and all((key, r) in self.entries for r in ranges):
                # every slot is cached (checked just above, under the lock): _use returns bytes
                hits = [(self._use((key, r)), None) for r in ranges]  # type: ignore[misc]
            else:
                hits = None
            self._count(hits is not None)
            return (hits, None) if hits is not None else (None, self._begin(key, None))

    def _begin(self, key: str, slot: tuple[str, ByteRequest | None] | None) -> _Fetch:
        fetch = _Fetch(key, slot)
        self.reading.setdefault(key, set()).add(fetch)
        return fetch

    def finish(self, fetch: _Fetch, items) -> None:
        """Retire a read; unless it failed or went stale, cache each ``(slot, bytes)`` of
        ``items`` (see :meth:`_store`). Then wake its waiters."""
        with self.lock:
            if fetch.slot is not None and self.fetching.get(fetch.slot) is fetch:
                del self.fetching[fetch.slot]
            readers = self.reading.get(fetch.key)
            if readers is not None:  # None: a write made it stale and dropped the set
                readers.discard(fetch)
                if not readers:
                    del self.reading[fetch.key]
            if fetch.error is None and not fetch.stale:
                for slot, value in items:
                    self._store(slot, value)
        fetch.done.set()

    def _store(self, slot: tuple[str, ByteRequest | None], value: bytes | None) -> None:
        """Cache ``value`` in ``slot``, least recently used entries evicted to make room. Not
        cached: a missing key (None), a value larger than ``max_bytes``, an empty part (it would
        cost no bytes, so ``max_bytes`` could not bound how many there are), a part of a cached
        whole value. Caching a whole value drops its parts, which it answers."""
        key, request = slot
        if value is None or len(value) > self.max_bytes:
            return
        if request is not None:
            if not value or (key, None) in self.entries:
                return
            self.parts.setdefault(key, set()).add(request)
        else:
            for r in self.parts.pop(key, ()):
                self.nbytes -= len(self.entries.pop((key, r)))
        old = self.entries.pop(slot, None)  # a range asked twice in one get_ranges
        if old is not None:
            self.nbytes -= len(old)
        self.entries[slot] = value
        self.nbytes += len(value)
        while self.nbytes > self.max_bytes:  # least recently used first
            self._evict()

    def _evict(self) -> None:
        (key, request), value = self.entries.popitem(last=False)
        self.nbytes -= len(value)
        if request is not None:
            requests = self.parts[key]
            requests.discard(request)
            if not requests:
                del self.parts[key]

    def drop(self, key: str) -> None:
        """Drop the cached value and parts of ``key`` and make its reads in flight stale (readers
        that come later start fresh reads)."""
        with self.lock:
            self._drop(key)

    def drop_prefix(self, prefix: str) -> None:
        """:meth:`drop` every key that starts with ``prefix`` (a scan of the cache)."""
        with self.lock:
            keys = {key for key, _ in self.entries}.union(self.reading)
            for key in [k for k in keys if k.startswith(prefix)]:
                self._drop(key)

    def _drop(self, key: str) -> None:
        for slot in [(key, None), *((key, r) for r in self.parts.pop(key, ()))]:
            value = self.entries.pop(slot, None)
            if value is not None:
                self.nbytes -= len(value)
        for fetch in self.reading.pop(key, ()):
            fetch.stale = True
            if fetch.slot is not None and self.fetching.get(fetch.slot) is fetch:
                del self.fetching[fetch.slot]


class CacheStore(WrapperStore):
    """A wrapper that keeps recently read values and byte ranges in memory, at most ``max_bytes``
    in all.

    - Whole-value reads (``get``, ``get_into``) are cached, least recently used evicted first; a
      value larger than ``max_bytes`` is never cached. Concurrent misses of one key make one
      inner read: the others wait and share its value, or its exception (the same exception
      object reaches every waiter, and nothing is cached).
    - Byte-range reads are answered from the cached whole value when there is one. Otherwise
      ``get`` with a range is cached per ``(key, request)``, in the same LRU and ``max_bytes``,
      with concurrent misses of one request coalesced as for whole values; the request is the
      key, so an overlapping or equal-but-differently-written range is a separate entry.
      ``get_ranges`` is answered from the cached parts when every range has one, else by one
      inner ``get_ranges`` (the inner store's batching kept) whose parts are then cached. Empty
      parts are not cached (they cost no bytes, so ``max_bytes`` could not bound them), nor a
      part of a cached whole value, which also drops its key's parts when cached itself.
      ``exists`` and ``getsize`` are answered from a cached whole value, else by the inner store.
    - Missing keys are not cached: a cached absence costs no bytes, so ``max_bytes`` could not
      bound how many there are. Every read of a missing key asks the inner store.
    - ``snapshot``, ``snapshot_read`` and ``get_versioned`` bypass the cache: they promise reads
      of one backend version (a snapshot's version checks, a token for ``set_if_version``), which
      bytes cached earlier, perhaps of a version overwritten by another process, cannot keep.
    - Writes, deletes, ``delete_prefix``, ``set_if_not_exists`` and ``set_if_version`` through
      this store or its views drop the values and parts of the keys they touch once the inner
      store has them, and a read of such a key in flight meanwhile is never cached, so a read
      after a write returns the new bytes. Writes that bypass this store (to the inner store
      directly, or by another process) are not seen until the entry is evicted.

    ``hits`` and ``misses`` count reads answered from the cache and reads that were not
    (a reader that waits on another's read of the same key or range is a miss).

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
        """The total size of the cached values and parts (never more than ``max_bytes``)."""
        with self._cache.lock:
            return self._cache.nbytes

    def _check_request(self, key: str, request) -> None:
        """A byte request is the cache's key: reject anything else before it reaches the cache
        (an unhashable one would fail there with a bare TypeError)."""
        if not isinstance(request, ByteRequest):
            raise StoreError(f"unknown byte request {request!r} for key {key!r} of {self!r}")

    # --- reading --------------------------------------------------------------------------------
    def _get(self, key, byte_range):
        if byte_range is not None:
            self._check_request(key, byte_range)
        hit, fetch, leader = self._cache.join(key, byte_range)
        if hit is not None:
            return slice_bytes(*hit)
        assert fetch is not None  # join gives a hit or a fetch
        if leader:
            try:
                fetch.value = self.inner._get(key, byte_range)
            except BaseException as e:  # handed to every waiter, then raised here too
                fetch.error = e
            finally:
                self._cache.finish(fetch, [(fetch.slot, fetch.value)])
        else:
            fetch.done.wait()
        if fetch.error is not None:
            raise fetch.error
        return fetch.value

    def get_ranges(self, key, ranges):
        validate_key(key)
        for r in ranges:
            self._check_request(key, r)
        hits, fetch = self._cache.join_ranges(key, ranges)
        if hits is not None:
            return [slice_bytes(value, rest) for value, rest in hits]
        assert fetch is not None  # join_ranges gives hits or a fetch
        parts = None
        try:
            parts = self.inner.get_ranges(key, ranges)
        finally:  # nothing cached if it raised (parts None) or a write raced it (stale)
            self._cache.finish(fetch, zip([(key, r) for r in ranges], parts or ()))
        return parts

    def get_buffer(self, key):
        return self.get(key)  # the (cached) whole value

    def get_transient(self, key):
        return self.get(key)  # the (cached) whole value: never a buffer another read reuses

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

    def set_if_version(self, key, value, version):
        validate_key(key)  # a valid str before the finally below uses it
        try:
            return super().set_if_version(key, value, version)
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
