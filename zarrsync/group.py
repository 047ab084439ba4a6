"""Group: a node that holds arrays and groups. Members, tree, attributes, and ``*_async`` twins."""

from __future__ import annotations

from typing import Any, Iterator

from .array import Array, async_twin
from .creation import build_array_metadata, normalize_shape
from .dtypes import parse_data_type
from .errors import ContainsArrayError, ContainsGroupError, MetadataError, NodeNotFoundError, ValueShapeError
from .metadata import GroupMetadata
from .metadata.v2 import GroupMetadataV2
from .node import (Node, child_path, is_array_metadata, meta_keys, metadata_from_plain, metadata_to_plain,
                   normalize_path, prepare_create, read_metadata,
                   walk_nodes, write_metadata)
from .storage.base import Store

__all__ = ["Group", "open_node"]


def open_node(store: Store, path: str) -> Array | "Group":
    """The array or group at ``path``; :class:`NodeNotFoundError` if there is none."""
    md = read_metadata(store, path)
    if md is None:
        raise NodeNotFoundError(f"no array or group at {path or '/'!r} in {store!r}")
    return Array(store, path, md) if is_array_metadata(md) else Group(store, path, md)


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
        metadata = group_cls(attributes=dict(attributes or {}))
        prepare_create(store, path, overwrite, zarr_format)
        write_metadata(store, path, metadata)
        return cls(store, path, metadata)

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

    def arrays(self) -> list[tuple[str, Array]]:
        return [(n, m) for n, m in self.members() if isinstance(m, Array)]

    def groups(self) -> list[tuple[str, "Group"]]:
        return [(n, m) for n, m in self.members() if isinstance(m, Group)]

    def array_keys(self) -> list[str]:
        return [n for n, _ in self.arrays()]

    def group_keys(self) -> list[str]:
        return [n for n, _ in self.groups()]

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


