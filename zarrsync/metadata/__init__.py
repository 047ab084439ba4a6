"""Metadata documents: parsing, validation and serialisation. The one home of JSON handling."""

from __future__ import annotations

import json
from typing import Any

from ..errors import MetadataError
from .keys import ChunkKeyEncoding, parse_chunk_key_encoding
from .v3 import ArrayMetadata, GroupMetadata, parse_array_metadata, parse_group_metadata

__all__ = [
    "ArrayMetadata", "GroupMetadata", "ChunkKeyEncoding", "parse_chunk_key_encoding",
    "parse_array_metadata", "parse_group_metadata", "parse_node", "dumps", "loads", "META_KEY",
]

META_KEY = "zarr.json"


def loads(data: bytes, key: str = META_KEY) -> Any:
    """Decode a metadata document (bare NaN/Infinity tokens are tolerated, as in attributes).

    Nesting deeper than the interpreter's recursion limit (``[`` repeated 100000 times) is
    refused here, at the edge, like any other malformed document.
    """
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise MetadataError(f"{key}: not valid JSON ({e})") from None
    except RecursionError:
        raise MetadataError(f"{key}: JSON nested too deeply") from None


def dumps(doc: dict) -> bytes:
    """Encode a metadata document: 2-space indented UTF-8 JSON."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=True).encode("utf-8")


def parse_node(doc: Any) -> ArrayMetadata | GroupMetadata:
    """Parse a v3 ``zarr.json`` of either node type."""
    if isinstance(doc, dict) and doc.get("node_type") == "group":
        return parse_group_metadata(doc)
    if isinstance(doc, dict) and doc.get("node_type") == "array":
        return parse_array_metadata(doc)
    raise MetadataError(f"zarr.json node_type must be 'array' or 'group', got "
                        f"{doc.get('node_type') if isinstance(doc, dict) else doc!r}")
