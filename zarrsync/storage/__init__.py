"""Stores: where keys and bytes live. See :mod:`zarrsync.storage.base` for the interface."""

from __future__ import annotations

import os
from typing import Any, MutableMapping

from ..errors import StoreError
from .base import ByteRequest, OffsetRequest, RangeRequest, Store, SuffixRequest, validate_key
from .local import LocalStore
from .memory import MemoryStore
from .zip import ZipStore

__all__ = [
    "Store", "MemoryStore", "LocalStore", "ZipStore", "store_from", "ByteRequest",
    "RangeRequest", "OffsetRequest", "SuffixRequest", "validate_key",
]

StoreLike = Store | str | os.PathLike | MutableMapping | None


def store_from(store: Any, *, mode: str = "a") -> Store:
    """Turn what a user passed as a store into a :class:`Store`.

    ``str``/``Path`` -> :class:`LocalStore` (a name ending in ``.zip`` -> :class:`ZipStore`;
    a ``file://`` prefix is accepted), ``dict`` or ``None`` -> :class:`MemoryStore`, a
    :class:`Store` as it is. ``mode="r"`` gives a read-only store (or view).

    >>> store_from(None)
    MemoryStore(<0 keys>)
    """
    read_only = mode == "r"
    if isinstance(store, Store):
        return store.with_read_only(True) if read_only and not store.read_only else store
    if store is None or isinstance(store, MutableMapping):
        return MemoryStore(store, read_only=read_only)
    if isinstance(store, (str, os.PathLike)):
        path = os.fspath(store)
        if isinstance(path, bytes):
            raise StoreError("store paths are str, not bytes")
        if path.startswith("file://"):
            path = path[len("file://"):]
        elif "://" in path:
            raise StoreError(f"no store for URL {path!r}: only local paths are supported")
        if path.endswith(".zip"):
            zmode = {"r": "r", "w": "w", "w-": "x", "x": "x"}.get(mode, "a")
            return ZipStore(path, mode=zmode)
        return LocalStore(path, read_only=read_only)
    raise StoreError(f"cannot make a store from {type(store).__name__}: pass a path, a dict or a Store")
