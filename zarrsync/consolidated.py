"""Consolidated metadata: every node's metadata below a group, stored in one document.

- Zarr v3 (``SPEC_CHECKLIST`` §1.3): the group's ``zarr.json`` gets ``"consolidated_metadata":
  {"kind": "inline", "must_understand": false, "metadata": {<relative path>: <that node's
  zarr.json>, ...}}``, paths of all descendants sorted by depth then name; each child group in it
  carries an empty ``consolidated_metadata`` of its own (as zarr-python writes).
- Zarr v2 (§4.5): a ``.zmetadata`` document beside the group's ``.zgroup``:
  ``{"zarr_consolidated_format": 1, "metadata": {".zgroup": ..., ".zattrs": ...,
  "sub/arr/.zarray": ..., ...}}`` keyed by store keys relative to the group.

Consolidated metadata is a snapshot: it goes stale when the hierarchy changes. The per-node
documents stay authoritative; a group opened with consolidated metadata uses the snapshot only to
list and open members without one read per node.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .errors import MetadataError
from .metadata import dumps, loads, parse_node
from .metadata.v2 import ZARRAY, ZATTRS, ZGROUP, parse_array_metadata_v2, parse_group_metadata_v2
from .node import is_array_metadata, meta_key, read_metadata, walk_nodes, write_metadata
from .storage.base import Store

__all__ = ["consolidate", "read_consolidated", "ZMETADATA"]

ZMETADATA = ".zmetadata"


def consolidate(store: Store, path: str) -> dict[str, Any]:
    """Write the consolidated metadata of the group at ``path``; return the nodes it holds
    (relative path -> metadata)."""
    root = read_metadata(store, path)
    if root is None or is_array_metadata(root):
        raise MetadataError(f"consolidated metadata belongs to a group; {path or '/'!r} is not one")
    nodes = dict(walk_nodes(store, path))
    if root.zarr_format == 3:
        docs = {}
        for rel in sorted(nodes, key=lambda r: (r.count("/"), r)):
            doc = nodes[rel].to_json()
            if not is_array_metadata(nodes[rel]):
                doc["consolidated_metadata"] = {"kind": "inline", "must_understand": False, "metadata": {}}
            docs[rel] = doc
        extra = {**root.extra, "consolidated_metadata": {"kind": "inline", "must_understand": False, "metadata": docs}}
        write_metadata(store, path, dataclasses.replace(root, extra=extra))
    else:
        docs = {ZGROUP: root.to_json(), ZATTRS: root.attributes}
        for rel, md in nodes.items():
            docs[f"{rel}/{ZARRAY if is_array_metadata(md) else ZGROUP}"] = md.to_json()
            if md.attributes:
                docs[f"{rel}/{ZATTRS}"] = md.attributes
        store.set(meta_key(path, ZMETADATA), dumps({"zarr_consolidated_format": 1, "metadata": docs}))
    return nodes


def read_consolidated(store: Store, path: str, root: Any) -> dict[str, Any] | None:
    """The consolidated nodes of the group at ``path`` (relative path -> metadata), or None."""
    if root.zarr_format == 3:
        cm = root.extra.get("consolidated_metadata")
        if cm is None:
            return None
        if not isinstance(cm, dict) or cm.get("kind") != "inline" or not isinstance(cm.get("metadata"), dict):
            raise MetadataError("consolidated_metadata must be {'kind': 'inline', 'metadata': {...}}")
        try:
            return {rel: parse_node(doc) for rel, doc in cm["metadata"].items()}
        except MetadataError as e:
            raise MetadataError(f"consolidated_metadata: {e}") from None
    key = meta_key(path, ZMETADATA)
    raw = store.get(key)
    if raw is None:
        return None
    doc = loads(raw, key)
    if not isinstance(doc, dict) or doc.get("zarr_consolidated_format") != 1 or not isinstance(doc.get("metadata"), dict):
        raise MetadataError(f"{key}: not a version 1 consolidated metadata document")
    docs = doc["metadata"]
    nodes = {}
    for k, d in docs.items():
        rel, _, name = k.rpartition("/")
        if not rel or name not in (ZARRAY, ZGROUP):
            continue
        attrs = docs.get(f"{rel}/{ZATTRS}")
        nodes[rel] = parse_array_metadata_v2(d, attrs) if name == ZARRAY else parse_group_metadata_v2(d, attrs)
    return nodes


