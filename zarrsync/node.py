"""What arrays and groups share: node paths, reading and writing node metadata, creating
ancestor groups, the write-through attribute mapping and ``ArrayInfo``.

Hierarchy rules (``SPEC_CHECKLIST`` §1.1, §4.1): a v3 node at path ``a/b`` keeps its metadata at
``a/b/zarr.json``, a v2 node at ``a/b/.zarray`` or ``a/b/.zgroup`` (attributes in ``.zattrs``);
every ancestor must be a group with its own document, so creating a node writes any missing
ancestor group documents, in the new node's format.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import weakref
from typing import Any, Callable, Iterator, MutableMapping

from .errors import ContainsArrayError, ContainsGroupError, MetadataError, ReadOnlyError
from .metadata import META_KEY, ArrayMetadata, GroupMetadata, dumps, loads, parse_node
from .metadata.v2 import (ZARRAY, ZATTRS, ZGROUP, ArrayMetadataV2, GroupMetadataV2, parse_array_metadata_v2,
                          parse_group_metadata_v2)
from .storage.base import Store

__all__ = [
    "Node", "normalize_path", "meta_key", "child_path", "read_metadata", "write_metadata",
    "ensure_parents", "prepare_create", "Attributes", "NodeState", "node_state", "ArrayInfo",
    "human_size", "info_table",
]


@dataclasses.dataclass(frozen=True)
class ArrayInfo:
    """A summary of an array (``a.info``; ``a.info_complete()`` adds stored sizes)."""

    type: str
    zarr_format: int
    data_type: str
    shape: tuple
    chunk_shape: tuple
    fill_value: Any
    codecs: tuple
    store: str
    read_only: bool
    nbytes: int
    count_chunks_initialized: int | None = None
    count_bytes_stored: int | None = None

    def __repr__(self) -> str:
        rows = [
            ("Type", self.type), ("Zarr format", self.zarr_format), ("Data type", self.data_type),
            ("Shape", self.shape), ("Chunk shape", self.chunk_shape), ("Fill value", self.fill_value),
            ("Codecs", ", ".join(c["name"] for c in self.codecs)), ("Store", self.store),
            ("Read-only", self.read_only), ("No. bytes", f"{self.nbytes} ({human_size(self.nbytes)})"),
        ]
        if self.count_chunks_initialized is not None:
            rows.append(("Chunks initialized", self.count_chunks_initialized))
        if self.count_bytes_stored is not None:
            ratio = self.nbytes / self.count_bytes_stored if self.count_bytes_stored else float("inf")
            rows.append(("No. bytes stored", f"{self.count_bytes_stored} ({human_size(self.count_bytes_stored)})"))
            rows.append(("Storage ratio", f"{ratio:.1f}"))
        return info_table(rows)


def info_table(rows: list[tuple[str, Any]]) -> str:
    """``label : value`` lines with the labels padded to one width (the reprs of ``a.info`` and
    ``g.info``)."""
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}} : {v}" for k, v in rows)


def human_size(n: float) -> str:
    """``n`` bytes for people: ``1.5 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def normalize_path(path: str | None) -> str:
    """Canonical node path: ``/``-separated, no leading or trailing ``/``; ``""`` is the root."""
    if path is None:
        return ""
    if not isinstance(path, str):
        raise MetadataError(f"node paths are strings, got {type(path).__name__}")
    path = path.replace("\\", "/").strip("/")
    parts = [p for p in path.split("/") if p]
    for p in parts:
        if set(p) == {"."}:
            raise MetadataError(f"invalid node path {path!r}: segment {p!r} is not allowed")
    return "/".join(parts)


def check_node_name(name: str) -> None:
    """Names of new nodes: not empty, no ``/``, not only dots, not starting with ``__``."""
    if not name or "/" in name or set(name) == {"."} or name.startswith("__") or name == META_KEY:
        raise MetadataError(f"invalid node name {name!r}")


def child_path(parent: str, name: str) -> str:
    name = normalize_path(name)
    return f"{parent}/{name}" if parent and name else (parent or name)


def meta_key(path: str, name: str = META_KEY) -> str:
    """The store key of metadata document ``name`` (``zarr.json`` by default) of the node at ``path``."""
    return f"{path}/{name}" if path else name


def meta_keys(path: str) -> list[str]:
    """Every metadata key a node at ``path`` may have, in either format."""
    return [meta_key(path, name) for name in (META_KEY, ZARRAY, ZGROUP, ZATTRS)]


def _load(store: Store, key: str) -> Any:
    data = store.get(key)
    return None if data is None else loads(data, key)


_DOCUMENTS = {None: (META_KEY, ZARRAY, ZGROUP), 3: (META_KEY,), 2: (ZARRAY, ZGROUP)}


def read_metadata(store: Store, path: str, zarr_format: int | None = None) -> Any | None:
    """The metadata of the node at ``path``, or None when there is none.

    A ``zarr.json`` (v3) wins; otherwise ``.zarray`` or ``.zgroup`` (v2) with its ``.zattrs``
    (zarr-python's order). ``zarr_format`` 2 or 3 reads that format's documents only: a node
    may carry both (zarrs writes a ``zarr.json`` beside a v2 ``.zarray`` over the same chunks).
    """
    if zarr_format not in (None, 2, 3):
        raise MetadataError(f"zarr_format must be 2, 3 or None, got {zarr_format!r}")
    for name in _DOCUMENTS[zarr_format]:
        key = meta_key(path, name)
        doc = _load(store, key)
        if doc is None:
            continue
        try:
            if name == META_KEY:
                return parse_node(doc)
            attrs = _load(store, meta_key(path, ZATTRS))
            return parse_array_metadata_v2(doc, attrs) if name == ZARRAY else parse_group_metadata_v2(doc, attrs)
        except MetadataError as e:
            raise type(e)(f"{key}: {e}") from None
    return None


def metadata_to_plain(metadata: Any) -> tuple:
    """A node's metadata as plain JSON values, ``(zarr_format, document, v2 attributes)``: what a
    pickled node carries, parsed again by :func:`metadata_from_plain` on the other side, so no
    parsed codec or data type object crosses processes."""
    v2_attributes = metadata.attributes if metadata.zarr_format == 2 else None
    return metadata.zarr_format, metadata.to_json(), v2_attributes


def metadata_from_plain(plain: tuple) -> Any:
    """The metadata that :func:`metadata_to_plain` gave ``plain`` for."""
    zarr_format, doc, v2_attributes = plain
    if zarr_format == 3:
        return parse_node(doc)
    parse = parse_array_metadata_v2 if "shape" in doc else parse_group_metadata_v2
    return parse(doc, v2_attributes)


def _restore_node(cls: type[Node], store: Store, path: str, plain: tuple, options: dict) -> "Node":
    return cls._unpickle(store, path, metadata_from_plain(plain), options)


def write_metadata(store: Store, path: str, metadata: Any) -> None:
    """Write a node's metadata: ``zarr.json`` (v3), or ``.zarray``/``.zgroup`` and ``.zattrs`` (v2)."""
    if metadata.zarr_format == 3:
        store.set(meta_key(path), dumps(metadata.to_json()))
        return
    name = ZARRAY if isinstance(metadata, ArrayMetadataV2) else ZGROUP
    store.set(meta_key(path, name), dumps(metadata.to_json()))
    if metadata.attributes or store.exists(meta_key(path, ZATTRS)):
        store.set(meta_key(path, ZATTRS), dumps(metadata.attributes))


_NOT_CHILDREN = frozenset({META_KEY, ZARRAY, ZGROUP, ZATTRS, ".zmetadata"})


def walk_nodes(store: Store, path: str, max_depth: int | None = None) -> list[tuple[str, Any]]:
    """``(relative path, metadata)`` of the nodes below the group at ``path``, depth first in name
    order; ``max_depth=0`` gives the direct children only, None the whole tree."""
    found: list[tuple[str, Any]] = []

    def walk(rel: str, depth: int | None) -> None:
        base = child_path(path, rel)
        for name in sorted(store.list_dir(base)):
            if name in _NOT_CHILDREN or name.startswith("__"):
                continue
            md = read_metadata(store, child_path(base, name))
            if md is None:
                continue
            relname = f"{rel}/{name}" if rel else name
            found.append((relname, md))
            if not is_array_metadata(md) and (depth is None or depth > 0):
                walk(relname, None if depth is None else depth - 1)

    walk("", max_depth)
    return found


def is_array_metadata(metadata: Any) -> bool:
    """True for the metadata of an array, in either format."""
    return isinstance(metadata, (ArrayMetadata, ArrayMetadataV2))


def ensure_parents(store: Store, path: str, zarr_format: int = 3) -> None:
    """Write a group document (of ``zarr_format``) for every missing ancestor of ``path``; refuse
    array ancestors."""
    parts = path.split("/") if path else []
    group = GroupMetadata() if zarr_format == 3 else GroupMetadataV2()
    group_key, group_doc = (META_KEY if zarr_format == 3 else ZGROUP), dumps(group.to_json())
    for i in range(len(parts)):
        parent = "/".join(parts[:i])
        existing = read_metadata(store, parent)
        if existing is None:
            if store.set_if_not_exists(meta_key(parent, group_key), group_doc):
                continue
            existing = read_metadata(store, parent)  # another writer created it meanwhile
        if is_array_metadata(existing):
            raise ContainsArrayError(f"cannot create a node below {parent or '/'!r}: it is an array")


def prepare_create(store: Store, path: str, overwrite: bool, zarr_format: int = 3) -> None:
    """Check that a node may be created at ``path``; with ``overwrite`` remove what is there."""
    if store.read_only:
        raise ReadOnlyError(f"cannot create a node in read-only {store!r}")
    for part in path.split("/") if path else []:
        check_node_name(part)
    existing = read_metadata(store, path)
    if existing is not None and not overwrite:
        cls = ContainsArrayError if is_array_metadata(existing) else ContainsGroupError
        raise cls(f"a{'n array' if cls is ContainsArrayError else ' group'} already exists at {path or '/'!r}")
    if overwrite:
        store.delete_prefix(f"{path}/" if path else "")
        for key in meta_keys(path):
            if store.supports_deletes or store.exists(key):
                store.delete(key)
    ensure_parents(store, path, zarr_format)


# --- what every object over one stored node shares in this process ---------------------------------

class NodeState:
    """The state that every node object over one stored node shares within a process.

    - ``metadata``: the node's current metadata. A resize or attribute update through any object
      replaces it here, so every other object over the node sees it at once (h5py's handles
      behave so; zarr-python's objects each keep a private copy, and a write through a copy with
      a pre-shrink shape would bring cut-off data back).
    - ``edit_lock``: serialises metadata changes (attributes, resize, append, create).
    - a readers-writer lock: chunk writes hold it shared (:meth:`acquire_write` /
      :meth:`release_write`, once per write call, not per chunk); a resize holds it exclusive
      (:meth:`exclusive`). A waiting resize blocks new writes, so a stream of writes cannot starve
      it. Reads take no lock.

    Lock order: ``edit_lock`` before the readers-writer lock; chunk tasks take neither.
    """

    __slots__ = ("metadata", "edit_lock", "_mutex", "_cond", "_writers", "_exclusive", "_waiting", "__weakref__")

    def __init__(self, metadata: Any):
        self.metadata = metadata
        self._after_fork()

    def _after_fork(self) -> None:
        """New locks and counts: in a forked child the holders of the old ones do not exist."""
        self.edit_lock = threading.Lock()
        self._mutex = threading.Lock()  # taken directly on the fast paths (cheaper than the Condition's enter)
        self._cond = threading.Condition(self._mutex)
        self._writers = 0
        self._exclusive = False
        self._waiting = 0

    def acquire_write(self) -> None:
        """Enter a chunk write (shared with other writes, excluded by a resize)."""
        with self._mutex:
            while self._exclusive or self._waiting:
                self._cond.wait()
            self._writers += 1

    def release_write(self) -> None:
        with self._mutex:
            self._writers -= 1
            if not self._writers and self._waiting:
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold off every chunk write of the node (a resize runs inside)."""
        with self._cond:
            self._waiting += 1
            try:
                while self._exclusive or self._writers:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()

    def refresh(self, store: Store, path: str, like: Any) -> None:
        """Re-read the metadata from the store, under the edit lock so no change of this process
        is half done; keep the current one if the store has none of the kind and format of ``like``."""
        with self.edit_lock:
            try:
                metadata = read_metadata(store, path, like.zarr_format)
            except MetadataError:
                return
            if type(metadata) is type(like):
                self.metadata = metadata


_states: "weakref.WeakValueDictionary[tuple, NodeState]" = weakref.WeakValueDictionary()
_states_lock = threading.Lock()


def _doc_name(metadata: Any) -> str:
    if metadata.zarr_format == 3:
        return META_KEY
    return ZARRAY if isinstance(metadata, ArrayMetadataV2) else ZGROUP


def node_state(store: Store, path: str, metadata: Any) -> NodeState:
    """The shared state of the node at ``path`` whose (just read or written) metadata is ``metadata``.

    Keyed by where the node's metadata document really lives (:meth:`Store.location`), so an
    array opened through its own directory and through its parent group, or through two store
    objects over one directory, shares one state. Held weakly: it lives while a node object does.
    When a state exists and ``metadata`` differs from its metadata (another process changed the
    node, or consolidated metadata is stale), the store decides: the state re-reads it.
    """
    location = store.location(meta_key(path, _doc_name(metadata)))
    with _states_lock:
        state = _states.get(location)
        if state is None:
            state = _states[location] = NodeState(metadata)
            return state
    current = state.metadata
    if current is not metadata and current != metadata:
        state.refresh(store, path, metadata)
    return state


def _renew_states_after_fork() -> None:
    global _states_lock
    _states_lock = threading.Lock()
    for state in list(_states.values()):  # the child has one thread: no lock needed here
        state._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_states_after_fork)


class Attributes(MutableMapping):
    """A node's attributes; every change is written to the store at once.

    Changes go through the node's ``update_attributes`` (one read-modify-write under the node's
    lock), so concurrent updates from several threads are never lost.
    """

    def __init__(self, node: Any):
        self._node = node

    def _current(self) -> dict:
        return self._node.metadata.attributes

    def __getitem__(self, key: str) -> Any:
        return self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._current()))

    def __len__(self) -> int:
        return len(self._current())

    def __setitem__(self, key: str, value: Any) -> None:
        self._node.update_attributes({key: value})

    def __delitem__(self, key: str) -> None:
        self._node._edit_attributes(lambda attrs: attrs.pop(key))

    def put(self, attrs: dict) -> None:
        """Replace all attributes."""
        self._node._edit_attributes(lambda a: (a.clear(), a.update(attrs)))

    def asdict(self) -> dict:
        return dict(self._current())

    def __repr__(self) -> str:
        return repr(self._current())



class Node:
    """What arrays and groups share: their store and path, their metadata, and metadata updates.

    Metadata is replaced, never mutated: an update builds a new frozen metadata object, writes it,
    then swaps the reference, all under the node's edit lock, so concurrent attribute updates
    never lose each other. The reference lives in a :class:`NodeState` shared by every node
    object over the same stored node in this process (see :func:`node_state`): an update through
    one object is seen by all of them, as with h5py's handles. A call that reads the metadata
    reads the reference once and works on that snapshot.
    """

    def __init__(self, store: Store, path: str, metadata: Any):
        self._store = store
        self._path = path
        self._state = node_state(store, path, metadata)

    @property
    def _metadata(self) -> Any:
        """The node's current metadata, shared by every object over the node in this process."""
        return self._state.metadata

    @property
    def metadata(self) -> Any:
        return self._state.metadata

    @property
    def store(self) -> Store:
        return self._store

    @property
    def path(self) -> str:
        """Path of the node in its store (``""`` for the root)."""
        return self._path

    @property
    def name(self) -> str:
        """Absolute node name, ``"/" + path``."""
        return "/" + self._path

    @property
    def basename(self) -> str:
        return self._path.rsplit("/", 1)[-1]

    @property
    def attrs(self) -> Attributes:
        """The attributes; changes are written at once."""
        return Attributes(self)

    @property
    def read_only(self) -> bool:
        return self._store.read_only

    @property
    def zarr_format(self) -> int:
        return self._metadata.zarr_format

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and self._store == other._store and self._path == other._path

    def __reduce__(self):
        """Pickled by reference: the store (which pickles as its own description: a directory, a
        bucket and prefix ...), the path, the metadata as its JSON document and the node's own
        options (:meth:`_pickled_options`); never locks, pools or caches. Unpickled in another
        process it reads and writes the same data; in this one it shares the node's state."""
        return (_restore_node, (type(self), self._store, self._path, metadata_to_plain(self._metadata),
                                self._pickled_options()))

    def _pickled_options(self) -> dict:
        """Keyword arguments of the class's :meth:`_unpickle` besides store, path and metadata."""
        return {}

    @classmethod
    def _unpickle(cls, store: Store, path: str, metadata: Any, options: dict) -> "Node":
        return cls(store, path, metadata, **options)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._store, self._path))

    def _check_writable(self) -> None:
        if self._store.read_only:
            raise ReadOnlyError(f"{type(self).__name__.lower()} {self.name!r} is read-only")

    def _edit_metadata(self, edit: Callable[[Any], Any]) -> Any:
        self._check_writable()
        state = self._state
        with state.edit_lock:
            new = edit(state.metadata)
            write_metadata(self._store, self._path, new)
            state.metadata = new
            return new

    def _edit_attributes(self, fn: Callable[[dict], Any]) -> None:
        def edit(md):
            attrs = dict(md.attributes)
            fn(attrs)
            return dataclasses.replace(md, attributes=attrs)
        self._edit_metadata(edit)

    def update_attributes(self, new_attributes: dict):
        """Merge ``new_attributes`` into the attributes and write them; returns this node."""
        self._edit_attributes(lambda attrs: attrs.update(new_attributes))
        return self
