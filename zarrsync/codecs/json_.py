"""``zarrsync.json``: the array -> bytes codec of the ``zarrsync.json`` data type.

A chunk is stored as one UTF-8 JSON document: an array holding the chunk's elements in C order,
``[v0, v1, ...]``, with compact separators; NaN and infinities are written as the bare tokens
Python's ``json`` module reads back. numpy scalars and arrays inside elements are written as
their Python values and lists. Decoding checks the document is a JSON array of exactly as many
elements as the chunk holds; anything else is :class:`~zarrsync.errors.CorruptChunkError`.

The codec takes no configuration. Chunks go through ordinary bytes -> bytes codecs after it
(``zstd`` by default).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from ..errors import CodecError, CorruptChunkError
from .base import ArrayBytesCodec, ChunkSpec, check_config

__all__ = ["JSONCodec"]


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"values of type {type(value).__name__} are not JSON-serialisable")


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=True, default=_default, ensure_ascii=False)


@dataclasses.dataclass(frozen=True)
class JSONCodec(ArrayBytesCodec):
    name = "zarrsync.json"

    @classmethod
    def from_config(cls, config):
        check_config(cls.name, config, set())
        return cls()

    def to_config(self):
        return {}

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        if spec.dtype.kind != "O":
            raise CodecError(f"codec {self.name!r} needs the zarrsync.json data type (object elements), "
                             f"not {spec.dtype}")
        return spec

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> bytes:
        try:
            return _ENCODER.encode(chunk.ravel(order="C").tolist()).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise CodecError(f"codec {self.name!r}: {e}") from None

    def decode(self, data, spec: ChunkSpec) -> np.ndarray:
        try:
            items = json.loads(bytes(data).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise CorruptChunkError(f"codec {self.name!r}: not a JSON document: {e}") from None
        if not isinstance(items, list) or len(items) != spec.size:
            found = f"{len(items)} elements" if isinstance(items, list) else type(items).__name__
            raise CorruptChunkError(f"codec {self.name!r}: expected a JSON array of {spec.size} elements, "
                                    f"found {found}")
        out = np.empty(len(items), dtype=object)
        for i, v in enumerate(items):  # element by element: lists must stay single elements
            out[i] = v
        return out.reshape(spec.shape)
