"""Group: a node that holds arrays and groups. Members, tree, attributes, moving members, creating
whole hierarchies from metadata, and ``*_async`` twins."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import numpy as np

from .array import Array, async_twin
from .consolidated import read_consolidated
from .creation import build_array_metadata, normalize_shape
from .dtypes import parse_data_type
from .errors import (ArrayNotFoundError, ContainsArrayError, ContainsGroupError, GroupNotFoundError, InvalidKeyError,
                     MetadataError, NodeNotFoundError, StoreError, ValueShapeError)
from .metadata import ArrayMetadata, GroupMetadata
from .metadata.v2 import ArrayMetadataV2, GroupMetadataV2
from .node import (Node, child_path, ensure_parents, info_table, is_array_metadata, meta_keys,
                   metadata_from_plain, metadata_to_plain, normalize_path, prepare_create, read_metadata, walk_nodes, write_metadata)
from .storage import store_from
from .storage.base import Store

__all__ = ["Group", "GroupInfo", "open_node", "create_nodes", "like_arguments"]


def open_node(store: Store, path: str) -> Array | "Group":
    """The array or group at ``path``; :class:`NodeNotFoundError` if there is none."""
    md = read_metadata(store, path)
    if md is None:
        raise NodeNotFoundError(f"no array or group at {path or '/'!r} in {store!r}")
    return Array.existing(store, path, md) if is_array_metadata(md) else Group(store, path, md)


def like_arguments(a: Any, kwargs: dict) -> dict:
    """Creation arguments for an array like ``a``: its shape and dtype, and for an :class:`Array`
    its chunks and fill value; ``kwargs`` win (the one home of the ``*_like`` rule)."""
    out = {"shape": a.shape, "dtype": a.dtype}
    if isinstance(a, Array):
        out["chunks"] = a.chunks
        out["fill_value"] = a.fill_value
    out.update(kwargs)
    return out


_NODE_METADATA = (ArrayMetadata, ArrayMetadataV2, GroupMetadata, GroupMetadataV2)


def create_nodes(store: Store, base: str, nodes: dict, overwrite: bool) -> list[tuple[str, Any]]:
    """Create the node of each ``{relative path: metadata}`` below ``base``, parents before
    children, missing ancestors as implicit groups; return ``(relative path, node)`` in that order.

    All nodes must be of one Zarr format (a hierarchy mixing them is refused, as zarr-python
    does). ``overwrite`` replaces a node at a named path (and everything below it); an implicit
    ancestor group that exists is kept.
    """
    parsed = {}
    for rel, md in nodes.items():
        if not isinstance(md, _NODE_METADATA):
            raise MetadataError(f"create_hierarchy: node {rel!r} must be array or group metadata, "
                                f"got {type(md).__name__}")
        parsed[normalize_path(rel)] = md
    formats = {md.zarr_format for md in parsed.values()}
    if len(formats) > 1:
        raise MetadataError(f"create_hierarchy: nodes mix Zarr formats {sorted(formats)}")
    created: list[tuple[str, Array | Group]] = []
    for rel in sorted(parsed, key=lambda r: (r.count("/") if r else -1, r)):
        md, path = parsed[rel], child_path(base, rel)
        if isinstance(md, (ArrayMetadata, ArrayMetadataV2)):  # is_array_metadata, narrowing for mypy
            created.append((rel, Array.create(store, path, md, overwrite=overwrite)))
        else:
            created.append((rel, Group._write_new(store, path, md, overwrite)))
    return created


_DOCUMENT_NAMES = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"})


@dataclasses.dataclass(frozen=True)
class GroupInfo:
    """A summary of a group (``g.info``; ``g.info_complete()`` adds member counts)."""

    name: str
    zarr_format: int
    read_only: bool
    store_type: str
    count_members: int | None = None
    count_arrays: int | None = None
    count_groups: int | None = None

    def __repr__(self) -> str:
        rows = [("Name", self.name), ("Type", "Group"), ("Zarr format", self.zarr_format),
                ("Read-only", self.read_only), ("Store type", self.store_type)]
        for label, value in (("No. members", self.count_members), ("No. arrays", self.count_arrays),
                             ("No. groups", self.count_groups)):
            if value is not None:
                rows.append((label, value))
        return info_table(rows)


class Group(Node):
    """A Zarr group. Create one with :func:`zarrsync.create_group`, open one with
    :func:`zarrsync.open_group`.

    >>> import zarrsync
    >>> g = zarrsync.create_group(None)
    >>> a = g.create_array("sub/x", shape=(3,), dtype="f8")
    >>> sorted(g.keys()), g["sub/x"].shape
    (['sub'], (3,))
    """

    @classmethod
    def create(cls, store: Store, path: str, *, overwrite: bool = False, attributes: dict | None = None,
               zarr_format: int = 3) -> "Group":
        """Write a new group's metadata (and any missing ancestor groups) and return the group."""
        if zarr_format not in (2, 3):
            raise MetadataError(f"zarr_format must be 2 or 3, got {zarr_format!r}")
        group_cls = GroupMetadata if zarr_format == 3 else GroupMetadataV2
        return cls._write_new(store, path, group_cls(attributes=dict(attributes or {})), overwrite)

    @classmethod
    def _write_new(cls, store: Store, path: str, metadata: Any, overwrite: bool) -> "Group":
        prepare_create(store, path, overwrite, metadata.zarr_format)
        write_metadata(store, path, metadata)
        return cls(store, path, metadata)

    @classmethod
    def from_store(cls, store: Any, *, attributes: dict | None = None, zarr_format: int = 3,
                   overwrite: bool = False) -> "Group":
        """Create a group at the root of ``store`` (anything :func:`~zarrsync.storage.store_from`
        takes), as zarr-python's ``Group.from_store``."""
        return cls.create(store_from(store), "", overwrite=overwrite, attributes=attributes, zarr_format=zarr_format)

    @classmethod
    def open(cls, store: Any, zarr_format: int | None = 3) -> "Group":  # noqa: A003
        """Open the group at the root of ``store``, with its consolidated metadata if it has any;
        ``zarr_format=None`` accepts either format."""
        st = store_from(store)
        md = read_metadata(st, "", zarr_format)
        if md is None:
            raise GroupNotFoundError(f"no Zarr v{zarr_format or '2/3'} group at the root of {st!r}")
        if is_array_metadata(md):
            raise ContainsArrayError(f"the root of {st!r} is an array, not a group")
        return cls(st, "", md, consolidated=read_consolidated(st, "", md))

    def __init__(self, store: Store, path: str, metadata: Any, *, consolidated: dict | None = None):
        super().__init__(store, path, metadata)
        self._consolidated = consolidated  # relative path -> metadata, from consolidated metadata

    def _pickled_options(self) -> dict:
        if self._consolidated is None:
            return {}
        return {"consolidated": {rel: metadata_to_plain(md) for rel, md in self._consolidated.items()}}

    @classmethod
    def _unpickle(cls, store: Store, path: str, metadata: Any, options: dict) -> "Group":
        consolidated = options.get("consolidated")
        if consolidated is not None:
            consolidated = {rel: metadata_from_plain(plain) for rel, plain in consolidated.items()}
        return cls(store, path, metadata, consolidated=consolidated)

    @property
    def metadata(self) -> GroupMetadata:
        return self._metadata

    def __repr__(self) -> str:
        return f"<zarrsync.Group {self._store!r} path={self._path!r}>"

    # --- members ------------------------------------------------------------------------------------
    def _child(self, name: str) -> str:
        return child_path(self._path, name)

    def _member(self, name: str) -> str:
        """The path of member ``name``; a name that normalises to ``""`` (``""``, ``"/"``) would
        be the group itself, which is not its own member (``del g[""]`` must not delete ``g``)."""
        if not normalize_path(name):
            raise NodeNotFoundError(f"{name!r} is not a member of group {self.name!r}")
        return self._child(name)

    def __getitem__(self, name: str) -> Array | "Group":
        """The member at ``name``; nested paths (``"a/b/c"``) are allowed."""
        rel = normalize_path(name)
        if self._consolidated is not None and rel in self._consolidated:
            return self._node(rel, self._consolidated[rel])
        try:
            return open_node(self._store, self._member(name))
        except NodeNotFoundError:
            raise NodeNotFoundError(f"{name!r} is not a member of group {self.name!r}") from None

    def __contains__(self, name: str) -> bool:
        if not normalize_path(name):
            return False
        return read_metadata(self._store, self._child(name)) is not None

    def __delitem__(self, name: str) -> None:
        self._check_writable()
        path = self._member(name)
        if read_metadata(self._store, path) is None:
            raise NodeNotFoundError(f"{name!r} is not a member of group {self.name!r}")
        self._store.delete_prefix(path + "/")
        for key in meta_keys(path):
            self._store.delete(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def members(self, max_depth: int | None = 0) -> tuple[tuple[str, Array | "Group"], ...]:
        """``(name, node)`` for each member, sorted by name.

        ``max_depth=0`` (default) lists direct children; ``None`` walks the whole tree, naming
        nested members by their path relative to this group. A group opened with consolidated
        metadata lists them from it (no read per node).
        """
        if self._consolidated is not None:
            found = sorted(((rel, md) for rel, md in self._consolidated.items()
                            if max_depth is None or rel.count("/") <= max_depth), key=lambda r: r[0].split("/"))
        else:
            found = walk_nodes(self._store, self._path, max_depth)
        return tuple((rel, self._node(rel, md)) for rel, md in found)

    def _node(self, rel: str, md: Any) -> Array | "Group":
        path = child_path(self._path, rel)
        if is_array_metadata(md):
            return Array(self._store, path, md)
        sub = None
        if self._consolidated is not None:
            prefix = rel + "/"
            sub = {r[len(prefix):]: m for r, m in self._consolidated.items() if r.startswith(prefix)}
        return Group(self._store, path, md, consolidated=sub)

    def keys(self) -> list[str]:
        return [name for name, _ in self.members()]

    def nmembers(self, max_depth: int | None = 0) -> int:
        """How many members :meth:`members` lists with this ``max_depth``."""
        if max_depth is not None and max_depth < 0:
            raise ValueShapeError(f"max_depth must be None or >= 0, got {max_depth!r}")
        return len(self.members(max_depth=max_depth))

    def get(self, path: str, default: Any = None) -> Any:
        """The member at ``path``, or ``default`` if there is none."""
        try:
            return self[path]
        except NodeNotFoundError:
            return default

    def get_array(self, path: str) -> Array:
        """The array at ``path``: ArrayNotFoundError if nothing is there, ContainsGroupError for a group."""
        node = self.get(path)
        if node is None:
            raise ArrayNotFoundError(f"no array {path!r} in group {self.name!r}")
        if isinstance(node, Group):
            raise ContainsGroupError(f"{path!r} in group {self.name!r} is a group, not an array")
        return node

    def get_group(self, path: str) -> "Group":
        """The group at ``path``: GroupNotFoundError if nothing is there, ContainsArrayError for an array."""
        node = self.get(path)
        if node is None:
            raise GroupNotFoundError(f"no group {path!r} in group {self.name!r}")
        if isinstance(node, Array):
            raise ContainsArrayError(f"{path!r} in group {self.name!r} is an array, not a group")
        return node

    def arrays(self) -> list[tuple[str, Array]]:
        return [(n, m) for n, m in self.members() if isinstance(m, Array)]

    def groups(self) -> list[tuple[str, "Group"]]:
        return [(n, m) for n, m in self.members() if isinstance(m, Group)]

    def array_keys(self) -> list[str]:
        return [n for n, _ in self.arrays()]

    def group_keys(self) -> list[str]:
        return [n for n, _ in self.groups()]

    def array_values(self) -> list[Array]:
        return [m for _, m in self.arrays()]

    def group_values(self) -> list["Group"]:
        return [m for _, m in self.groups()]

    @property
    def info(self) -> GroupInfo:
        """A summary of the group; no I/O, except that a group opened with consolidated metadata
        counts its members from it (see :meth:`info_complete`)."""
        info = GroupInfo(name=self._path, zarr_format=self.zarr_format, read_only=self.read_only,
                         store_type=type(self._store).__name__)
        return info if self._consolidated is None else _with_counts(info, self._consolidated.values())

    def info_complete(self) -> GroupInfo:
        """:attr:`info` plus the number of members, arrays and groups below the group (walks it)."""
        return _with_counts(self.info, [node.metadata for _, node in self.members(max_depth=None)])

    # --- creating members ---------------------------------------------------------------------------
    def create_group(self, name: str, *, overwrite: bool = False, attributes: dict | None = None) -> "Group":
        """Create a subgroup, in this group's Zarr format (nested names create missing groups)."""
        return Group.create(self._store, self._child(name), overwrite=overwrite, attributes=attributes,
                            zarr_format=self.zarr_format)

    def create_array(self, name: str, *, overwrite: bool = False, config: dict | None = None, **kwargs) -> Array:
        """Create an array in this group (in its Zarr format unless ``zarr_format`` says otherwise);
        keywords as for :func:`zarrsync.create_array`."""
        kwargs.setdefault("zarr_format", self.zarr_format)
        return Array.create(self._store, self._child(name), build_array_metadata(**kwargs), overwrite=overwrite,
                            config=config)

    def require_group(self, name: str, *, attributes: dict | None = None) -> "Group":
        """The subgroup ``name``, created if missing; an array there raises ContainsArrayError."""
        path = self._child(name)
        md = read_metadata(self._store, path)
        if md is None:
            return self.create_group(name, attributes=attributes)
        if is_array_metadata(md):
            raise ContainsArrayError(f"{name!r} in group {self.name!r} is an array, not a group")
        return Group(self._store, path, md)

    def require_array(self, name: str, *, shape, dtype, **kwargs) -> Array:
        """The array ``name`` if it exists with this shape and dtype, else a new one."""
        path = self._child(name)
        md = read_metadata(self._store, path)
        if md is None:
            return self.create_array(name, shape=shape, dtype=dtype, **kwargs)
        if not is_array_metadata(md):
            raise ContainsGroupError(f"{name!r} in group {self.name!r} is a group, not an array")
        want_shape = normalize_shape(shape)
        if md.shape != want_shape:
            raise ValueShapeError(f"array {name!r} exists with shape {md.shape}, not {want_shape}")
        if md.dtype != parse_data_type(dtype).dtype:
            raise ValueShapeError(f"array {name!r} exists with dtype {md.dtype}, not {dtype}")
        return Array(self._store, path, md, kwargs.get("config"))  # the settings asked for, either way

    def require_groups(self, *names: str) -> tuple["Group", ...]:
        """:meth:`require_group` for each name."""
        return tuple(self.require_group(name) for name in names)

    def create_hierarchy(self, nodes: dict, *, overwrite: bool = False) -> Iterator[tuple[str, Any]]:
        """Create a node for each ``{path relative to this group: metadata}`` (zarrsync metadata
        objects: :class:`~zarrsync.metadata.GroupMetadata`, ``ArrayMetadata``, their v2 forms),
        parents first, missing ancestors as implicit groups. Unlike zarr-python's generator,
        every node is created when the call returns; it returns an iterator of
        ``(relative path, node)`` in creation order."""
        self._check_writable()
        if any(not normalize_path(rel) for rel in nodes):
            raise MetadataError(f"create_hierarchy: the path '' is group {self.name!r} itself, not a member")
        return iter(create_nodes(self._store, self._path, nodes, overwrite))

    # --- arrays of constant values (zarr-python's Group.zeros ...) -----------------------------------
    def full(self, *, name: str, shape: Any, fill_value: Any, **kwargs) -> Array:
        """A new member array whose every element is ``fill_value`` (its dtype unless given)."""
        kwargs.setdefault("dtype", np.asarray(fill_value).dtype)
        return self.create_array(name, shape=shape, fill_value=fill_value, **kwargs)

    def zeros(self, *, name: str, shape: Any, **kwargs) -> Array:
        return self.full(name=name, shape=shape, fill_value=0, **{"dtype": "float64", **kwargs})

    def ones(self, *, name: str, shape: Any, **kwargs) -> Array:
        return self.full(name=name, shape=shape, fill_value=1, **{"dtype": "float64", **kwargs})

    def empty(self, *, name: str, shape: Any, **kwargs) -> Array:
        """A new member array whose unwritten elements read as the fill value (default zero)."""
        return self.create_array(name, shape=shape, **{"dtype": "float64", **kwargs})

    def full_like(self, *, name: str, data: Any, fill_value: Any = None, **kwargs) -> Array:
        """Like :meth:`full`, with the shape, dtype (and chunks) of ``data``; ``fill_value``
        defaults to that of ``data`` when it is an Array, else zero."""
        kw = like_arguments(data, kwargs)
        own_fill = kw.pop("fill_value", 0)
        return self.full(name=name, fill_value=own_fill if fill_value is None else fill_value, **kw)

    def zeros_like(self, *, name: str, data: Any, **kwargs) -> Array:
        return self.full_like(name=name, data=data, fill_value=0, **kwargs)

    def ones_like(self, *, name: str, data: Any, **kwargs) -> Array:
        return self.full_like(name=name, data=data, fill_value=1, **kwargs)

    def empty_like(self, *, name: str, data: Any, **kwargs) -> Array:
        """A new member array with the shape, dtype, chunks and fill value of ``data``."""
        return self.empty(name=name, **like_arguments(data, kwargs))

    # --- moving members -------------------------------------------------------------------------------
    def move(self, source: str, dest: str) -> None:
        """Rename member ``source`` (array or group, with everything below it) to ``dest``, both
        relative to this group; missing ancestors of ``dest`` become groups.

        The stored keys are copied, metadata documents last (deepest first), then the source's are
        deleted, metadata documents first: a failure midway leaves the member at ``source`` (and
        perhaps keys at ``dest`` that no metadata names yet), never a member without its data. Not atomic: do not write to the member while it moves. Node
        objects over ``source`` keep pointing there, and consolidated metadata goes stale (run
        :func:`zarrsync.consolidate_metadata` again).

        >>> import zarrsync
        >>> g = zarrsync.create_group(None)
        >>> _ = g.create_array("a", shape=(2,), dtype="i1")
        >>> g.move("a", "b/c")
        >>> sorted(n for n, _ in g.members(max_depth=None))
        ['b', 'b/c']
        """
        self._check_writable()
        if not self._store.supports_deletes:
            raise StoreError(f"cannot move {source!r}: {self._store!r} cannot delete keys")
        src, dst = self._member(source), self._member(dest)
        md = read_metadata(self._store, src)
        if md is None:
            raise NodeNotFoundError(f"{source!r} is not a member of group {self.name!r}")
        if dst == src or dst.startswith(src + "/"):
            raise InvalidKeyError(f"cannot move {source!r} to {dest!r}: the destination is inside the source")
        existing = read_metadata(self._store, dst)
        if existing is not None:
            cls = ContainsArrayError if is_array_metadata(existing) else ContainsGroupError
            raise cls(f"cannot move {source!r} to {dest!r} in group {self.name!r}: a node exists there")
        ensure_parents(self._store, dst, md.zarr_format)
        keys = sorted(self._store.list_prefix(src + "/"))
        documents = [k for k in keys if k.rsplit("/", 1)[-1] in _DOCUMENT_NAMES]
        data = [k for k in keys if k.rsplit("/", 1)[-1] not in _DOCUMENT_NAMES]
        for key in data + sorted(documents, key=lambda k: -k.count("/")):
            value = self._store.get(key)
            if value is not None:  # deleted meanwhile by someone else: nothing to carry over
                self._store.set(dst + key[len(src):], value)
        for key in sorted(documents, key=lambda k: k.count("/")) + data:
            self._store.delete(key)

    # --- display --------------------------------------------------------------------------------------
    def tree(self, max_depth: int | None = None) -> str:
        """The hierarchy below this group as indented text."""
        lines = [self.name if self._path else "/"]
        members = self.members(max_depth=max_depth)
        for relname, node in members:
            depth = relname.count("/")
            label = relname.rsplit("/", 1)[-1]
            if isinstance(node, Array):
                lines.append(f"{'  ' * (depth + 1)}{label} {node.shape} {node.dtype}")
            else:
                lines.append(f"{'  ' * (depth + 1)}{label}/")
        return "\n".join(lines)

    # --- awaitable twins ------------------------------------------------------------------------------
    getitem_async = async_twin(__getitem__)
    contains_async = async_twin(__contains__)
    delitem_async = async_twin(__delitem__)
    members_async = async_twin(members)
    keys_async = async_twin(keys)
    arrays_async = async_twin(arrays)
    groups_async = async_twin(groups)
    array_keys_async = async_twin(array_keys)
    group_keys_async = async_twin(group_keys)
    create_group_async = async_twin(create_group)
    create_array_async = async_twin(create_array)
    require_group_async = async_twin(require_group)
    require_array_async = async_twin(require_array)
    update_attributes_async = async_twin(Node.update_attributes)
    tree_async = async_twin(tree)
    nmembers_async = async_twin(nmembers)
    get_async = async_twin(get)
    get_array_async = async_twin(get_array)
    get_group_async = async_twin(get_group)
    array_values_async = async_twin(array_values)
    group_values_async = async_twin(group_values)
    info_complete_async = async_twin(info_complete)
    require_groups_async = async_twin(require_groups)
    create_hierarchy_async = async_twin(create_hierarchy)
    full_async = async_twin(full)
    zeros_async = async_twin(zeros)
    ones_async = async_twin(ones)
    empty_async = async_twin(empty)
    full_like_async = async_twin(full_like)
    zeros_like_async = async_twin(zeros_like)
    ones_like_async = async_twin(ones_like)
    empty_like_async = async_twin(empty_like)
    move_async = async_twin(move)


def _with_counts(info: GroupInfo, metadata: Any) -> GroupInfo:
    metadata = list(metadata)
    arrays = sum(1 for md in metadata if is_array_metadata(md))
    return dataclasses.replace(info, count_members=len(metadata), count_arrays=arrays,
                               count_groups=len(metadata) - arrays)


