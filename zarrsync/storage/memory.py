"""MemoryStore: a store over a dict, for tests, scratch arrays and caches.

Stored values are immutable ``bytes``: a reader's snapshot (the default, one ``get``) holds the
very object that was stored, so a later write (which stores a new object) cannot change what the
snapshot reads.
"""

from __future__ import annotations

import threading
from typing import Iterator, MutableMapping

from ..executor import renew_after_fork
from .base import ByteRequest, Store, slice_bytes, validate_key


class _Guard:
    """The lock of one store and its views; re-created in a forked child, where a thread of the
    parent may have held it."""

    __slots__ = ("lock", "__weakref__")

    def __init__(self):
        self.lock = threading.Lock()
        renew_after_fork(self)

    def _after_fork(self) -> None:
        self.lock = threading.Lock()


class MemoryStore(Store):
    """Keys and values in a ``dict`` (yours, if you pass one).

    Every operation holds a lock, so listing while other threads write is safe. Pickling copies
    the data; two ``MemoryStore`` objects are equal when they share one dict.

    >>> s = MemoryStore()
    >>> s.set("a/b", b"xyz"); s.get("a/b")
    b'xyz'
    """

    supports_byte_ranges = True

    def __init__(self, data: MutableMapping[str, bytes] | None = None, *, read_only: bool = False):
        super().__init__(read_only=read_only)
        self._data = {} if data is None else data
        self._guard = _Guard()

    def __repr__(self) -> str:
        return f"MemoryStore(<{len(self._data)} keys>{', read_only' if self.read_only else ''})"

    def lock_id(self) -> tuple:
        return ("memory", id(self._data))

    def __getstate__(self):
        with self._guard.lock:
            return {"data": dict(self._data), "read_only": self._read_only}

    def __setstate__(self, state):
        type(self).__init__(self, state["data"], read_only=state["read_only"])

    def _value(self, key: str) -> bytes | None:
        with self._guard.lock:
            value = self._data.get(key)
        if value is not None and type(value) is not bytes:
            value = bytes(value)  # a caller's dict may hold a bytearray: never hand out a mutable
        return value

    def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        value = self._value(key)
        if value is None:
            return None
        return slice_bytes(value, byte_range)

    def _set(self, key: str, value) -> None:
        value = bytes(value)  # immutable, and a copy of a caller's buffer
        with self._guard.lock:
            self._data[key] = value

    def set_if_not_exists(self, key: str, value: bytes) -> bool:
        self._check_writable()
        self._check_value(key, value)
        validate_key(key)
        value = bytes(value)
        with self._guard.lock:
            if key in self._data:
                return False
            self._data[key] = value
            return True

    def _delete(self, key: str) -> None:
        with self._guard.lock:
            self._data.pop(key, None)

    def _list_prefix(self, prefix: str) -> Iterator[str]:
        with self._guard.lock:
            keys = [k for k in self._data if k.startswith(prefix)]
        return iter(keys)

    def getsize(self, key: str) -> int | None:
        value = self.get(key)
        return None if value is None else len(value)

    def clear(self) -> None:
        """Remove every key."""
        self._check_writable()
        with self._guard.lock:
            self._data.clear()

