"""Stores: where keys and bytes live. See :mod:`zarrsync.storage.base` for the interface."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from typing import Any, MutableMapping

from ..errors import MissingDependencyError, StoreError
from .base import ByteRequest, OffsetRequest, RangeRequest, Store, SuffixRequest, validate_key
from .fsspec_store import FsspecStore
from .local import LocalStore
from .memory import MemoryStore
from .object_store import ObjectStore
from .wrapper import CacheStore, LoggingStore, WrapperStore
from .zip import ZipStore

__all__ = [
    "Store", "MemoryStore", "LocalStore", "ZipStore", "ObjectStore", "FsspecStore", "WrapperStore",
    "LoggingStore", "CacheStore", "store_from", "ByteRequest", "RangeRequest", "OffsetRequest",
    "SuffixRequest", "validate_key",
]

StoreLike = Store | str | os.PathLike | MutableMapping | None

REMOTE_EXTRA = 'pip install "zarrsync[remote]"'

# URL schemes obstore serves itself (everything else, and chained URLs, goes to fsspec)
_OBSTORE_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "az", "azure", "abfs", "abfss", "adl", "http", "https"})


def store_from(store: Any, *, mode: str = "a", storage_options: dict | None = None) -> Store:
    """Turn what a user passed as a store into a :class:`Store`.

    - a :class:`Store`: as it is;
    - ``dict`` or ``None``: :class:`MemoryStore`; an fsspec mapper (``fsspec.get_mapper(...)``):
      an :class:`~zarrsync.storage.fsspec_store.FsspecStore` over its filesystem and root;
    - a path (``str``/``Path``, or a ``file://`` URL): :class:`LocalStore` (a name ending in
      ``.zip``: :class:`ZipStore`);
    - another URL (``s3://``, ``gs://``, ``az://``, ``http(s)://``, ``memory://``, chained
      ``zip::...``, any fsspec protocol), with ``storage_options`` passed to the backend: a
      scheme registered in the ``zarrsync.stores`` entry-point group first; then obstore
      (:class:`~zarrsync.storage.object_store.ObjectStore`) for the schemes it serves, when
      installed; then fsspec. Both come with the ``remote`` extra.

    ``mode="r"`` gives a read-only store (or view).

    >>> store_from(None)
    MemoryStore(<0 keys>)
    """
    read_only = mode == "r"
    if isinstance(store, Store):
        if storage_options:
            raise StoreError("storage_options apply to URLs only, not to a Store object")
        return store.with_read_only(True) if read_only and not store.read_only else store
    if _is_fsspec_mapper(store):
        return FsspecStore.from_mapper(store, read_only=read_only)
    if store is None or isinstance(store, MutableMapping):
        if storage_options:
            raise StoreError("storage_options apply to URLs only, not to a dict")
        return MemoryStore(store, read_only=read_only)
    if isinstance(store, (str, os.PathLike)):
        path = os.fspath(store)
        if isinstance(path, bytes):
            raise StoreError("store paths are str, not bytes")
        if path.startswith("file://") and "::" not in path:
            path = path[len("file://"):]
        elif "://" in path or "::" in path:
            return _store_from_url(path, storage_options or {}, read_only)
        if storage_options:
            raise StoreError(f"storage_options apply to remote URLs, not to the local path {path!r}")
        if path.endswith(".zip"):
            zmode = {"r": "r", "w": "w", "w-": "x", "x": "x"}.get(mode, "a")
            return ZipStore(path, mode=zmode)
        return LocalStore(path, read_only=read_only)
    raise StoreError(f"cannot make a store from {type(store).__name__}: pass a path, a URL, a dict or a Store")


def _is_fsspec_mapper(obj: Any) -> bool:
    """An ``fsspec.mapping.FSMap``, told without importing fsspec (it is a MutableMapping too)."""
    cls = type(obj)
    return cls.__module__.startswith("fsspec") and hasattr(obj, "fs") and hasattr(obj, "root")


def _store_from_url(url: str, storage_options: dict, read_only: bool) -> Store:
    scheme = url.split("::", 1)[0].split("://", 1)[0].lower()
    plugin = _registered_schemes().get(scheme)
    if plugin is not None:
        return plugin.load()(url, storage_options=storage_options, read_only=read_only)
    if "::" not in url and scheme in _OBSTORE_SCHEMES and _installed("obstore"):
        return ObjectStore.from_url(url, storage_options=storage_options, read_only=read_only)
    if _installed("fsspec"):
        return FsspecStore.from_url(url, storage_options=storage_options, read_only=read_only)
    raise MissingDependencyError(f"no store for URL {url!r}: URLs need obstore or fsspec; {REMOTE_EXTRA}")


def _registered_schemes() -> dict:
    """Stores that other packages register for URL schemes: entry points of the group
    ``zarrsync.stores``, each named by its scheme and loading ``factory(url, *,
    storage_options, read_only) -> Store``."""
    return {ep.name.lower(): ep for ep in importlib.metadata.entry_points(group="zarrsync.stores")}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
