"""ObjectStore: a store over any `obstore <https://developmentseed.org/obstore/>`_ store.

obstore (``pip install "zarrsync[remote]"``) reaches S3, GCS, Azure, HTTP, the local file system
and memory through one Rust library. This module uses its synchronous calls only (``get``,
``get_ranges``, ``put``, ``delete``, ``head``, ``list``, ``list_with_delimiter``); obstore is
imported when the first ``ObjectStore`` is made, never by ``import zarrsync``.

What maps to what:

- ``get`` with a byte request is one ranged ``get``. obstore refuses ranges that start at or past
  the end of a value; such a request is answered from a ``head`` (the size) and clipped as
  :func:`~zarrsync.storage.base.clip_request` says, so ranges past the end select nothing, as in
  every store.
- ``get_ranges`` is one ``head`` and one obstore ``get_ranges`` call (which merges near ranges
  and fetches them in parallel). The ranges may come from two versions if a writer replaces the
  value meanwhile; :meth:`ObjectStore.snapshot` is the one-version read.
- ``snapshot`` takes the size and ``e_tag`` from one ``head``; every read of it is a ranged
  ``get`` with ``if_match`` set to that ``e_tag``. A value replaced or deleted meanwhile raises
  :class:`~zarrsync.errors.VersionChangedError` and the reader starts over (a snapshot cannot
  keep reading the old version as ``LocalStore``'s open file does). A backend that reports no
  ``e_tag`` gets the default snapshot: one whole ``get``.
- ``exists`` and ``getsize`` are a ``head``, never a download.
- ``snapshot_read`` (a snapshot and its first ranges, as a partial shard read opens with the
  index) is one ranged ``get`` when one range is asked for: its answer carries the size and the
  ``e_tag``, so no ``head`` is needed.
- ``get_versioned`` is a ``get`` whose answer carries the ``e_tag``; ``set_if_version`` is a
  ``put`` with ``mode={"e_tag": ...}`` (``If-Match``), or ``mode="create"`` for a key that was
  absent. So a read-modify-write of a chunk never loses another process's update to it
  (``supports_conditional_writes``; obstore's ``LocalStore`` and ``HTTPStore`` have no
  conditional put and keep the default, atomic within this process only).
- ``set_if_not_exists`` is a ``put`` with ``mode="create"``: atomic on the backend (S3, GCS,
  Azure, local and memory support it). A backend that does not (obstore raises
  ``NotImplementedError``) gets the default, atomic within this process only.
- ``delete_prefix`` lists, then deletes in one bulk ``delete`` (S3 and Azure batch it).

obstore's own ``LocalStore`` differs from object stores in three ways, handled here: its root
must exist (pass ``mkdir=True`` to it); a directory outlives its last file, so ``list_dir`` walks
the keys rather than trusting ``list_with_delimiter``'s prefixes; and a path below a file is an
error, not a missing key, so such errors are checked against the key's ancestors. It refuses keys
whose last segment ends in ``#`` and digits (its temporary file names).
"""

from __future__ import annotations

import functools
import os
from types import ModuleType
from typing import Any, Iterator, Sequence, cast

from ..errors import MissingDependencyError, StoreError, VersionChangedError
from .base import (
    ByteRequest, BytesLike, OffsetRequest, RangeRequest, Snapshot, Store, SuffixRequest,
    _validate_prefix, clip_request, dir_prefix, validate_key,
)

__all__ = ["ObjectStore"]

#: byte offsets above this are clipped by a ``head`` before obstore sees them (it takes u64)
_MAX_OFFSET = 2**63 - 1

#: keys fetched per batch of a listing
_LIST_CHUNK = 1000


@functools.cache
def _obstore() -> ModuleType:
    """The obstore module, imported at first use; a StoreError saying how to install it."""
    try:
        import obstore
        import obstore.exceptions
        import obstore.store
    except ImportError:
        from . import REMOTE_EXTRA

        raise MissingDependencyError(f"ObjectStore needs the obstore package: {REMOTE_EXTRA}") from None
    return obstore


def _failures() -> tuple[type[BaseException], ...]:
    """What a failed obstore call raises: its own errors, builtin OSErrors (FileNotFoundError is
    a missing object, handled first), ValueError for a request it refuses, NotImplementedError for
    an operation the backend lacks."""
    return (_obstore().exceptions.BaseError, OSError, ValueError, NotImplementedError)


def _native_range(request: ByteRequest) -> Any:
    """obstore's form of a byte request, or None where obstore would refuse it outright (an empty
    range, a zero suffix, an offset past u64): those are answered by clipping against the size."""
    if isinstance(request, RangeRequest):
        if request.start < request.end <= _MAX_OFFSET:
            return (request.start, request.end)
    elif isinstance(request, OffsetRequest):
        if request.offset <= _MAX_OFFSET:
            return {"offset": request.offset}
    elif isinstance(request, SuffixRequest):
        if 0 < request.suffix <= _MAX_OFFSET:
            return {"suffix": request.suffix}
    else:
        raise StoreError(f"unknown byte request {request!r}")
    return None


def _normal_prefix(prefix: str) -> str:
    """A store prefix as a path below which keys live: ``""`` or ending in ``/``."""
    if not isinstance(prefix, str):
        raise StoreError(f"ObjectStore prefix is a str, got {type(prefix).__name__}")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return _validate_prefix(prefix)


_MULTIPART_FROM = 100 << 20  # bytes; AWS suggests multipart uploads from about 100 MB


class ObjectStore(Store):
    """A store over an obstore store: ``S3Store``, ``GCSStore``, ``AzureStore``, ``HTTPStore``,
    ``LocalStore`` or ``MemoryStore`` from :mod:`obstore.store`.

    Parameters
    ----------
    store : obstore store
        Where the bytes live (its own prefix, if any, applies first).
    prefix : str
        A path inside ``store`` below which the keys live (``"a/b"`` or ``"a/b/"``).
    read_only : bool
        Refuse writes.

    Identity (``lock_id``, ``location``, ``==``): an obstore ``LocalStore`` is its resolved
    directory, named as zarrsync's :class:`~zarrsync.storage.LocalStore` names it, so both
    share per-chunk locks over one directory; a ``MemoryStore`` is that object; any other store
    is its class and obstore's ``repr`` (bucket, container or URL, and prefix; no credentials).
    Pickling keeps the identity, except over a ``MemoryStore``, which obstore cannot pickle: the
    copy holds a new ``MemoryStore`` with the same data.

    >>> from obstore.store import MemoryStore as ObMemoryStore      # doctest: +SKIP
    >>> s = ObjectStore(ObMemoryStore(), prefix="data")              # doctest: +SKIP
    >>> s.set("a/0", b"bytes"); s.get("a/0", RangeRequest(1, 3))     # doctest: +SKIP
    b'yt'
    """

    supports_byte_ranges = True
    latency_bound = True  # each call waits on a network; set False over local and memory stores

    def __init__(self, store: Any, *, prefix: str = "", read_only: bool = False):
        super().__init__(read_only=read_only)
        obs = _obstore().store
        kinds = (obs.S3Store, obs.GCSStore, obs.AzureStore, obs.HTTPStore, obs.LocalStore, obs.MemoryStore)
        if not isinstance(store, kinds):
            raise StoreError(f"ObjectStore wraps an obstore store (obstore.store.S3Store ...), "
                             f"got {type(store).__name__}")
        self.store = store
        self.prefix = _normal_prefix(prefix)
        self._local = isinstance(store, obs.LocalStore)
        self._memory = isinstance(store, obs.MemoryStore)
        if self._local or self._memory:
            self.latency_bound = False
        self.supports_conditional_writes = not (self._local or isinstance(store, obs.HTTPStore))
        self._identity = _identity(store, self._local, self._memory)

    @classmethod
    def from_url(cls, url: str, *, storage_options: dict | None = None, read_only: bool = False) -> "ObjectStore":
        """An ObjectStore over ``obstore.store.from_url(url, **storage_options)``.

        ``s3://bucket/path``, ``gs://``, ``az://``, ``http(s)://``, ``file:///dir`` (the
        directory must exist, or pass ``{"mkdir": True}``) and ``memory:///``; the URL's path is
        the obstore store's prefix. ``storage_options`` are obstore's (``region``,
        ``skip_signature``, ``client_options`` ...).
        """
        obs = _obstore()
        try:
            store = obs.store.from_url(url, **(storage_options or {}))
        except _failures() + (TypeError,) as e:
            raise StoreError(f"obstore cannot open {url!r}: {_first_line(e)}") from e
        return cls(store, read_only=read_only)

    def __repr__(self) -> str:
        prefix = f", prefix={self.prefix!r}" if self.prefix else ""
        return f"ObjectStore({self.store!r}{prefix}{', read_only=True' if self.read_only else ''})"

    def lock_id(self) -> tuple:
        return self._where(self.prefix.rstrip("/"))

    def location(self, key: str) -> tuple:
        return self._where(self.prefix + key)

    def _where(self, path: str) -> tuple:
        kind, root = self._identity
        if kind == "file":
            return ("file", root + "/" + path if path else root)
        return (kind, root, path)

    def __getstate__(self):
        state = {"prefix": self.prefix, "read_only": self._read_only}
        if self._memory:
            state["memory"] = self._memory_contents()
        else:
            state["store"] = self.store
        return state

    def __setstate__(self, state):
        store = state.get("store")
        if store is None:
            store = _obstore().store.MemoryStore()
            for path, value in state["memory"].items():
                _obstore().put(store, path, value)
        type(self).__init__(self, store, prefix=state["prefix"], read_only=state["read_only"])

    def _memory_contents(self) -> dict[str, bytes]:
        """Every object of the wrapped MemoryStore (all of it, not only below the prefix); an
        object deleted while this runs is left out."""
        obs = _obstore()
        out = {}
        for batch in obs.list(self.store, None, chunk_size=_LIST_CHUNK):
            for meta in batch:
                try:
                    out[meta["path"]] = bytes(obs.get(self.store, meta["path"]).bytes())
                except FileNotFoundError:
                    pass
        return out

    # --- errors ---------------------------------------------------------------------------------
    def _error(self, action: str, key: str, error: BaseException) -> StoreError:
        """The StoreError for a failed obstore call, naming the key and this store (obstore's
        full message, with its debug details, stays on the chained cause)."""
        return StoreError(f"{action} {key!r} in {self!r} failed: {type(error).__name__}: {_first_line(error)}")

    def _below_a_value(self, key: str) -> bool:
        """True if ``key`` cannot exist because one of its ancestors is a value. Only obstore's
        LocalStore has this case (a file cannot be a directory), and it reports it as a generic
        error rather than a missing object; object stores never do, so this is False there."""
        if not self._local:
            return False
        parts = key.split("/")
        for i in range(1, len(parts)):
            try:
                _obstore().head(self.store, self.prefix + "/".join(parts[:i]))
                return True
            except _failures():
                continue
        return False

    # --- reading --------------------------------------------------------------------------------
    def _fetch(self, path: str, options: dict | None) -> bytes | None:
        """One obstore ``get``; None if the object is missing (other errors pass to the caller)."""
        view = self._fetch_view(path, options)
        return None if view is None else bytes(view)

    def _fetch_view(self, path: str, options: dict | None) -> memoryview | None:
        """:meth:`_fetch` without the copy: a view of the buffer obstore received."""
        try:
            return memoryview(_obstore().get(self.store, path, options=options).bytes())
        except FileNotFoundError:
            return None

    def _head(self, path: str) -> dict | None:
        """obstore's metadata of an object (``size``, ``e_tag`` ...); None if it is missing."""
        try:
            return _obstore().head(self.store, path)
        except FileNotFoundError:
            return None

    def _meta(self, key: str) -> dict | None:
        """The metadata of ``key``'s value, None if missing; failures raise StoreError."""
        try:
            return self._head(self.prefix + key)
        except _failures() as e:
            if self._below_a_value(key):
                return None
            raise self._error("head of", key, e) from e

    def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        path = self.prefix + key
        try:
            if byte_range is None:
                return self._fetch(path, None)
            native = _native_range(byte_range)
            if native is not None:
                try:
                    return self._fetch(path, {"range": native})
                except _failures():
                    pass  # obstore refuses a range starting at or past the end: clip it below
            return self._get_clipped(path, byte_range)
        except _failures() as e:
            if self._below_a_value(key):
                return None
            raise self._error("read of", key, e) from e

    def get_buffer(self, key: str) -> memoryview | None:
        """The value as a view of the buffer obstore received: a chunk read copies nothing."""
        path = self.prefix + validate_key(key)
        try:
            return self._fetch_view(path, None)
        except _failures() as e:
            if self._below_a_value(key):
                return None
            raise self._error("read of", key, e) from e

    def _get_clipped(self, path: str, request: ByteRequest) -> bytes | None:
        """A byte request clipped against the value's size from a ``head``: the slow path, for
        requests obstore refuses (empty, past the end, past u64)."""
        meta = self._head(path)
        if meta is None:
            return None
        start, stop = clip_request(request, meta["size"])
        if start == stop:
            return b""
        return self._fetch(path, {"range": (start, stop)})

    def get_ranges(self, key: str, ranges: Sequence[ByteRequest]) -> list[bytes] | None:
        """Several byte ranges of one value: one ``head`` for the size, then one obstore
        ``get_ranges`` call for the ranges that select something (one range: one ranged get)."""
        validate_key(key)
        if len(ranges) == 1:  # fast path: one ranged get, no head
            part = self._get(key, ranges[0])
            return None if part is None else [part]
        meta = self._meta(key)
        if meta is None:
            return None
        spans = [clip_request(r, meta["size"]) for r in ranges]
        wanted = [(start, stop) for start, stop in spans if start < stop]
        if not wanted:
            return [b""] * len(spans)
        obs = _obstore()
        try:
            parts = iter(obs.get_ranges(self.store, self.prefix + key, starts=[s for s, _ in wanted],
                                        ends=[e for _, e in wanted]))
        except FileNotFoundError:
            return None  # deleted since the head
        except _failures() as e:
            raise self._error("ranged read of", key, e) from e
        return [bytes(next(parts)) if start < stop else b"" for start, stop in spans]

    def snapshot(self, key: str) -> Snapshot | None:
        """Ranged reads of one version of ``key``'s value (see the module notes): one ``head``
        now, then each read is a ``get`` checked against the ``e_tag`` it returned."""
        meta = self._meta(validate_key(key))
        if meta is None:
            return None
        if meta.get("e_tag") is None:  # no version token: hold the whole value, as the default
            return super().snapshot(key)
        return _ETagSnapshot(self, key, meta["size"], meta["e_tag"])

    def snapshot_read(self, key: str, ranges: Sequence[ByteRequest]) -> tuple[Snapshot, Sequence[BytesLike]] | None:
        """A snapshot and its first range in one ranged ``get`` (its answer carries the size and
        the ``e_tag``); several ranges, or one that obstore would refuse, take the default path."""
        native = _native_range(ranges[0]) if len(ranges) == 1 else None
        if native is None:
            return super().snapshot_read(key, ranges)
        path = self.prefix + validate_key(key)
        try:
            result = _obstore().get(self.store, path, options={"range": native})
            meta = result.meta
            data = bytes(result.bytes())
        except FileNotFoundError:
            return None
        except _failures():
            return super().snapshot_read(key, ranges)  # a range obstore refuses (past the end ...)
        if meta.get("e_tag") is None or tuple(result.range) != clip_request(ranges[0], meta["size"]):
            return super().snapshot_read(key, ranges)
        return _ETagSnapshot(self, key, meta["size"], meta["e_tag"]), [data]

    def _read_version(self, key: str, start: int, stop: int, e_tag: str) -> bytes:
        """Bytes ``[start, stop)`` of ``key``'s value if its ``e_tag`` is still ``e_tag``;
        VersionChangedError if it was replaced or deleted."""
        try:
            value = self._fetch(self.prefix + key, {"range": (start, stop), "if_match": e_tag})
        except _obstore().exceptions.PreconditionError:
            value = None  # replaced: the version read so far is gone, as if deleted
        except _failures() as e:
            raise self._error("snapshot read of", key, e) from e
        if value is None:
            raise VersionChangedError(f"{key!r} in {self!r} changed while a snapshot of it was being read")
        return value

    def exists(self, key: str) -> bool:
        return self._meta(validate_key(key)) is not None

    def getsize(self, key: str) -> int | None:
        meta = self._meta(validate_key(key))
        return None if meta is None else meta["size"]

    # --- writing --------------------------------------------------------------------------------
    def _put(self, key: str, value, mode: str | dict) -> None:
        # obstore takes 1-d uint8 buffers, without a copy: a network or file put is done with the
        # caller's buffer (which it may reuse) when it returns, but a MemoryStore keeps it, so it
        # gets a copy of its own
        view = memoryview(value)
        if self._memory or not view.c_contiguous:
            view = memoryview(view.tobytes())
        # one PUT below _MULTIPART_FROM: obstore's default splits anything over 5 MB into a
        # multipart upload (create, parts, complete: two more round trips, and a server that
        # assembles the parts), which pays only for objects far larger than chunks and shards
        _obstore().put(self.store, self.prefix + key, view.cast("B"), mode=mode,
                       use_multipart=view.nbytes >= _MULTIPART_FROM)

    def _set(self, key: str, value) -> None:
        try:
            self._put(key, value, "overwrite")
        except _failures() as e:
            raise self._error("write of", key, e) from e

    def get_versioned(self, key: str) -> tuple[bytes | None, object]:
        """The value and its version (``e_tag``, and ``version`` where the bucket keeps versions)
        from one ``get``."""
        if not self.supports_conditional_writes:
            return super().get_versioned(key)
        path = self.prefix + validate_key(key)
        try:
            result = _obstore().get(self.store, path)
            meta = result.meta
            version = {"e_tag": meta["e_tag"]}
            if meta.get("version") is not None:
                version["version"] = meta["version"]
            return bytes(result.bytes()), version
        except FileNotFoundError:
            return None, None
        except _failures() as e:
            raise self._error("read of", key, e) from e

    def set_if_version(self, key: str, value: bytes, version: object) -> bool:
        """A conditional ``put``: ``If-Match`` the version read, or create-if-absent."""
        if not self.supports_conditional_writes:
            return super().set_if_version(key, value, version)
        self._check_writable()
        self._check_value(key, value)
        validate_key(key)
        exceptions = _obstore().exceptions
        try:
            # a version is the e_tag dict this store's get_versioned made
            self._put(key, value, "create" if version is None else cast(dict, version))
            return True
        except (exceptions.PreconditionError, exceptions.AlreadyExistsError):
            return False
        except _failures() as e:
            raise self._error("conditional write of", key, e) from e

    def set_if_not_exists(self, key: str, value: bytes) -> bool:
        self._check_writable()
        self._check_value(key, value)
        validate_key(key)
        try:
            self._put(key, value, "create")
            return True
        except _obstore().exceptions.AlreadyExistsError:
            return False
        except NotImplementedError:
            return super().set_if_not_exists(key, value)  # the backend has no create-if-absent
        except _failures() as e:
            raise self._error("create of", key, e) from e

    def _delete(self, key: str) -> None:
        try:
            _obstore().delete(self.store, self.prefix + key)
        except FileNotFoundError:
            pass  # some backends report a missing object: deleting it is no error
        except _failures() as e:
            # obstore's LocalStore: a directory, or a path below a file, is no key to delete
            if self._meta(key) is not None:
                raise self._error("delete of", key, e) from e

    def delete_prefix(self, prefix: str) -> None:
        """Delete every key below ``prefix`` with one bulk obstore ``delete``."""
        self._check_writable()
        keys = list(self._list_prefix(_validate_prefix(prefix)))
        if not keys:
            return
        try:
            _obstore().delete(self.store, [self.prefix + key for key in keys])
        except FileNotFoundError:
            for key in keys:  # one vanished meanwhile and the backend says so: go key by key
                self._delete(key)
        except _failures() as e:
            raise self._error("delete of prefix", prefix, e) from e

    # --- listing --------------------------------------------------------------------------------
    def _list_prefix(self, prefix: str) -> Iterator[str]:
        full = self.prefix + prefix
        # obstore lists whole path segments ("a" finds "a/x", not "ab"): list the directory that
        # holds the prefix and filter
        directory = full[:full.rfind("/") + 1]
        start = len(self.prefix)
        obs = _obstore()
        try:
            for batch in obs.list(self.store, directory or None, chunk_size=_LIST_CHUNK):
                for meta in batch:
                    path = meta["path"]
                    if path.startswith(full):
                        yield path[start:]
        except _failures() as e:
            raise self._error("listing of", prefix, e) from e

    def list_dir(self, prefix: str) -> Iterator[str]:
        """The names directly below ``prefix``: one ``list_with_delimiter`` call (obstore's
        LocalStore walks the keys instead: its empty directories are no names)."""
        if self._local:
            return super().list_dir(prefix)
        full = self.prefix + dir_prefix(prefix)
        try:
            result = _obstore().list_with_delimiter(self.store, full or None)
        except _failures() as e:
            raise self._error("listing of", prefix, e) from e
        names = [meta["path"][len(full):] for meta in result["objects"]]
        names += [p[len(full):].rstrip("/") for p in result["common_prefixes"]]
        return iter(names)


class _ETagSnapshot(Snapshot):
    """A value's size and ``e_tag`` from one ``head``: each read is a ranged ``get`` that the
    backend serves only while the ``e_tag`` matches, so every read comes from that version."""

    __slots__ = ("store", "key", "size", "e_tag")

    def __init__(self, store: ObjectStore, key: str, size: int, e_tag: str):
        self.store = store
        self.key = key
        self.size = size
        self.e_tag = e_tag

    def read(self, ranges: Sequence[ByteRequest]) -> list[bytes]:
        out = []
        for r in ranges:
            start, stop = clip_request(r, self.size)
            out.append(self.store._read_version(self.key, start, stop, self.e_tag) if start < stop else b"")
        return out


def _identity(store: Any, local: bool, memory: bool) -> tuple[str, Any]:
    """What names the data an obstore store reaches (see :class:`ObjectStore`)."""
    if local:
        return ("file", os.path.realpath(os.fspath(store.prefix or "/")))
    if memory:
        return ("obstore-memory", id(store))  # the ObjectStore holds it, so the id stays its own
    return ("obstore", f"{type(store).__name__}:{store!r}")


def _first_line(error: BaseException) -> str:
    """An obstore message without its multi-line debug dump."""
    return str(error).split("\n", 1)[0].strip()
