"""Chunk key encodings: grid coordinates -> the store key suffix of a chunk.

This module is the one home of chunk-key rules (``SPEC_CHECKLIST`` §1.7):

- ``default``: ``"c"`` then, per dimension, the separator and the decimal index:
  ``(1, 23, 45)`` -> ``c/1/23/45`` (separator ``/``, the default) or ``c.1.23.45``; 0-d -> ``c``.
- ``v2``: the indices joined by the separator (default ``.``): ``1.23.45``; 0-d -> ``0``.

>>> ChunkKeyEncoding("default", "/").encode((1, 23, 45))
'c/1/23/45'
>>> ChunkKeyEncoding("v2", ".").encode(())
'0'
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import MetadataError, UnknownExtensionError

__all__ = ["ChunkKeyEncoding", "parse_chunk_key_encoding"]

_DEFAULT_SEPARATOR = {"default": "/", "v2": "."}


@dataclasses.dataclass(frozen=True)
class ChunkKeyEncoding:
    name: str = "default"
    separator: str = "/"

    def __post_init__(self):
        if self.name not in _DEFAULT_SEPARATOR:
            raise UnknownExtensionError(f"unknown chunk_key_encoding {self.name!r}")
        if self.separator not in ("/", "."):
            raise MetadataError(f"chunk_key_encoding separator must be '/' or '.', got {self.separator!r}")

    def encode(self, coords: tuple[int, ...]) -> str:
        """The key of the chunk at ``coords``, relative to the array's path."""
        if self.name == "default":
            return "c" + "".join(self.separator + str(i) for i in coords)
        return self.separator.join(map(str, coords)) if coords else "0"

    def fragments(self, index: int, first: bool) -> str:
        """The part of a key that one dimension's index contributes (keys are built per axis).

        ``"".join(prefix, fragments...)`` equals :meth:`encode`, where ``prefix`` is
        :attr:`prefix`; used by the indexer to build keys without per-chunk formatting.
        """
        if self.name == "default" or not first:
            return self.separator + str(index)
        return str(index)

    @property
    def prefix(self) -> str:
        return "c" if self.name == "default" else ""

    @property
    def zero_dim_key(self) -> str:
        return "c" if self.name == "default" else "0"

    def decode(self, key: str, ndim: int) -> tuple[int, ...] | None:
        """Grid coordinates of a chunk key, or None if the key is not a chunk key of this encoding."""
        if ndim == 0:
            return () if key == self.zero_dim_key else None
        if self.name == "default":
            if not key.startswith("c" + self.separator):
                return None
            key = key[2:]
        parts = key.split(self.separator)
        # exactly what encode() writes: ASCII decimal digits, no sign, no leading zeros
        if len(parts) != ndim or not all(p.isdigit() and p.isascii() and (p == "0" or p[0] != "0") for p in parts):
            return None
        return tuple(int(p) for p in parts)

    def to_json(self) -> dict:
        return {"name": self.name, "configuration": {"separator": self.separator}}


def parse_chunk_key_encoding(value: Any) -> ChunkKeyEncoding:
    """Parse the v3 ``chunk_key_encoding`` field (object or short-hand name); a ChunkKeyEncoding passes."""
    if isinstance(value, ChunkKeyEncoding):
        return value
    config: Any  # checked below: the JSON may hold anything
    if isinstance(value, str):
        name, config = value, {}
    elif isinstance(value, dict) and isinstance(value.get("name"), str):
        name, config = value["name"], value.get("configuration")
        config = {} if config is None else config
        if value.get("must_understand") is False:
            raise MetadataError("chunk_key_encoding may not say must_understand: false")
    else:
        raise MetadataError(f"chunk_key_encoding must be an object with a name, got {value!r}")
    if name not in _DEFAULT_SEPARATOR:
        raise UnknownExtensionError(f"unknown chunk_key_encoding {name!r}")
    if not isinstance(config, dict) or set(config) - {"separator"}:
        raise MetadataError(f"chunk_key_encoding {name!r}: bad configuration {config!r}")
    return ChunkKeyEncoding(name, config.get("separator", _DEFAULT_SEPARATOR[name]))
