"""FaultyStore: a store wrapper that injects faults, for testing how the code above a store copes
with failing I/O (zarrsync's own tests use it; so may third-party stores and applications).

It is a plain store (no pytest needed): ``zarrsync.testing`` re-exports it beside ``StoreTests``.
"""

from __future__ import annotations

import errno
import threading
import time
from typing import Callable, Collection, Iterator

from ..executor import renew_after_fork
from .base import Store, validate_key
from .wrapper import WrapperStore

__all__ = ["FaultyStore"]


class FaultyStore(Store):
    """A store that delegates to ``inner`` and injects faults: for testing how code above a
    store (zarrsync's arrays, or yours) copes with failing I/O. Reusable by third-party store
    authors: wrap your store and check that errors reach the caller and old data stays intact.

    Parameters
    ----------
    inner : Store
        The store that holds the data.
    fail_get_at, fail_set_at, fail_delete_at : int or collection of int, optional
        Fail the Nth read / write / delete (counted from 1, per kind of operation; see the
        counters below), e.g. ``fail_set_at=3`` or ``fail_set_at={3, 4}``.
    fail_keys : collection of str or callable, optional
        Every read, write and delete of these keys fails (a predicate ``key -> bool`` or a set).
    truncate_to : int, optional
        Writes store only the first ``truncate_to`` bytes of each value and report success: a
        torn write, as a store without atomic writes could leave after a crash.
    delay : float
        Seconds to sleep before each operation (widens race windows).
    error : exception or callable, optional
        What a failing operation raises: an exception instance, or ``(op, key) -> exception``
        (``op`` is ``"get"``, ``"set"`` or ``"delete"``). By default
        ``OSError(errno.EIO, "injected I/O error: <op> <key>")``.

    Counters (thread-safe): ``gets`` counts ``get``, ``get_ranges``, ``get_into``, ``snapshot``,
    ``exists`` and ``getsize`` calls; ``sets`` counts ``set`` and ``set_if_not_exists``;
    ``deletes`` counts ``delete`` and ``delete_prefix``. Listing is never counted nor failed.
    :meth:`reset` zeroes them. The fault attributes may be changed between operations.
    ``lock_id``, ``location`` and ``snapshot`` are the inner store's, so locks keyed on them are
    shared with code that uses ``inner`` directly.

    >>> from zarrsync.storage import MemoryStore
    >>> s = FaultyStore(MemoryStore(), fail_set_at=2)
    >>> s.set("a", b"1")
    >>> s.set("b", b"2")
    Traceback (most recent call last):
    OSError: [Errno 5] injected I/O error: set b
    >>> s.sets, s.get("b")
    (2, None)
    """

    def __init__(self, inner: Store, *, fail_get_at: int | Collection[int] | None = None,
                 fail_set_at: int | Collection[int] | None = None,
                 fail_delete_at: int | Collection[int] | None = None,
                 fail_keys: Collection[str] | Callable[[str], bool] | None = None,
                 truncate_to: int | None = None, delay: float = 0.0,
                 error: BaseException | Callable[[str, str], BaseException] | None = None):
        super().__init__(read_only=inner.read_only)
        self.inner = inner
        self.fail_get_at, self.fail_set_at, self.fail_delete_at = fail_get_at, fail_set_at, fail_delete_at
        self.fail_keys = fail_keys
        self.truncate_to = truncate_to
        self.delay = delay
        self.error = error
        # the wrapper reads as its inner store does
        self.supports_byte_ranges = inner.supports_byte_ranges
        self.supports_get_into = inner.supports_get_into
        self.supports_deletes = inner.supports_deletes
        self.supports_listing = inner.supports_listing
        self.latency_bound = inner.latency_bound
        self.kernel_writes = inner.kernel_writes
        self._counts = _Counters()

    def __repr__(self) -> str:
        return f"FaultyStore({self.inner!r})"

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_counts"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._counts = _Counters()

    # --- counters -------------------------------------------------------------------------------
    @property
    def gets(self) -> int:
        return self._counts.n["get"]

    @property
    def sets(self) -> int:
        return self._counts.n["set"]

    @property
    def deletes(self) -> int:
        return self._counts.n["delete"]

    def reset(self) -> None:
        """Zero the counters (the faults stay as configured)."""
        self._counts.reset()

    # --- the fault --------------------------------------------------------------------------------
    def _fault(self, op: str, key: str) -> None:
        """Count one operation and raise if it is to fail."""
        if self.delay:
            time.sleep(self.delay)
        n = self._counts.bump(op)
        at = {"get": self.fail_get_at, "set": self.fail_set_at, "delete": self.fail_delete_at}[op]
        hit = at is not None and (n == at if isinstance(at, int) else n in at)
        keys = self.fail_keys
        if not hit and keys is not None:
            hit = keys(key) if callable(keys) else key in keys
        if hit:
            raise self._error(op, key)

    def _error(self, op: str, key: str) -> BaseException:
        if self.error is None:
            return OSError(errno.EIO, f"injected I/O error: {op} {key}")
        return self.error(op, key) if callable(self.error) else self.error

    def _torn(self, value):
        """The part of ``value`` that a torn write leaves (all of it unless ``truncate_to``)."""
        if self.truncate_to is None:
            return value
        view = memoryview(value)
        flat = view.cast("B") if view.c_contiguous else view.tobytes()
        return bytes(flat[:self.truncate_to])

    # --- identity: the inner store's, as a wrapper's ----------------------------------------------
    lock_id = WrapperStore.lock_id
    location = WrapperStore.location
    close = WrapperStore.close

    # --- reading --------------------------------------------------------------------------------
    def _get(self, key, byte_range):
        self._fault("get", key)
        return self.inner.get(key, byte_range)

    def get_ranges(self, key, ranges):
        self._fault("get", validate_key(key))
        return self.inner.get_ranges(key, ranges)

    def get_buffer(self, key):
        self._fault("get", validate_key(key))
        return self.inner.get_buffer(key)

    def get_transient(self, key):
        self._fault("get", validate_key(key))
        return self.inner.get_transient(key)

    def get_into(self, key, out):
        self._fault("get", validate_key(key))
        return self.inner.get_into(key, out)

    def snapshot(self, key):
        self._fault("get", validate_key(key))
        return self.inner.snapshot(key)

    def exists(self, key) -> bool:
        self._fault("get", validate_key(key))
        return self.inner.exists(key)

    def getsize(self, key):
        self._fault("get", validate_key(key))
        return self.inner.getsize(key)

    # --- writing --------------------------------------------------------------------------------
    def _set(self, key, value) -> None:
        self._fault("set", key)
        self.inner.set(key, self._torn(value))

    def set_if_not_exists(self, key, value) -> bool:
        self._check_writable()
        self._check_value(key, value)
        self._fault("set", validate_key(key))
        return self.inner.set_if_not_exists(key, self._torn(value))

    def _delete(self, key) -> None:
        self._fault("delete", key)
        self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> None:
        self._check_writable()
        self._fault("delete", prefix)
        self.inner.delete_prefix(prefix)

    # --- listing --------------------------------------------------------------------------------
    def _list_prefix(self, prefix: str) -> Iterator[str]:
        return self.inner.list_prefix(prefix)

    def list_dir(self, prefix: str) -> Iterator[str]:
        return self.inner.list_dir(prefix)


class _Counters:
    """Per-kind operation counts of a :class:`FaultyStore`, behind a lock (renewed after fork)."""

    __slots__ = ("lock", "n", "__weakref__")

    def __init__(self):
        self.lock = threading.Lock()
        self.n = {"get": 0, "set": 0, "delete": 0}
        renew_after_fork(self)

    def _after_fork(self) -> None:
        self.lock = threading.Lock()

    def bump(self, op: str) -> int:
        with self.lock:
            n = self.n[op] = self.n[op] + 1
        return n

    def reset(self) -> None:
        with self.lock:
            self.n = {"get": 0, "set": 0, "delete": 0}
