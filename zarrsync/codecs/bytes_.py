"""``bytes``: the array -> bytes codec that lays elements out in C order with a byte order.

JSON: ``{"name": "bytes", "configuration": {"endian": "little"}}``; for one-byte data types the
configuration may be left out (``{"name": "bytes"}``), which is what zarrsync writes for them,
as zarr-python does. The pre-rename name ``endian`` is read as an alias.

``endian`` is required when the data type's bytes depend on a byte order: multi-byte numbers,
``fixed_length_utf32`` code units, datetime64/timedelta64, and structs with any such field
(:func:`zarrsync.dtypes.has_byte_order`); for a struct, every multi-byte field is swapped,
nested ones included. ``null_terminated_bytes``, raw bytes and bool never need it.

Decoding checks that the stored size is exactly ``prod(chunk_shape) * itemsize`` and returns a
read-only view of the stored bytes (no copy) when the byte order is native.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from ..dtypes import has_byte_order
from ..errors import CodecError, CorruptChunkError
from .base import ArrayBytesCodec, ChunkSpec, check_config

_NATIVE = sys.byteorder  # "little" or "big"


@dataclasses.dataclass(frozen=True)
class BytesCodec(ArrayBytesCodec):
    name = "bytes"
    aliases = ("endian",)
    is_fixed_size = True

    endian: str | None = "little"

    def __post_init__(self):
        if self.endian not in ("little", "big", None):
            raise CodecError(f"codec 'bytes': endian must be 'little' or 'big', got {self.endian!r}")

    @classmethod
    def from_config(cls, config):
        config = check_config(cls.name, config, {"endian"})
        return cls(config.get("endian"))

    def to_config(self):
        return None if self.endian is None else {"endian": self.endian}

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        if spec.dtype.hasobject or spec.dtype.kind == "T":  # references, not bytes
            raise CodecError(f"codec 'bytes' cannot encode elements of variable length (data type {spec.dtype}); "
                             f"use an array -> bytes codec for them (vlen-utf8, vlen-bytes ...)")
        if self.endian is None and has_byte_order(spec.dtype):
            raise CodecError(f"codec 'bytes': 'endian' is required for data type {spec.dtype}")
        return spec

    def _stored_dtype(self, dtype: np.dtype) -> np.dtype:
        if self.endian is None or self.endian == _NATIVE or dtype.itemsize == 1:
            return dtype
        # numpy applies the order to every field of a structured dtype, recursively, and leaves
        # types without one (S, V, bool, 1-byte) alone
        return dtype.newbyteorder("<" if self.endian == "little" else ">")

    def is_plain_layout(self, spec: ChunkSpec) -> bool:
        return self._stored_dtype(spec.dtype) == spec.dtype

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> memoryview:
        stored = self._stored_dtype(spec.dtype)
        if chunk.dtype != stored:
            chunk = chunk.astype(stored)
        chunk = np.ascontiguousarray(chunk)
        return memoryview(chunk.reshape(-1).view(np.uint8))

    def decode(self, data, spec: ChunkSpec) -> np.ndarray:
        if len(data) != spec.nbytes:
            raise CorruptChunkError(f"codec 'bytes': expected {spec.nbytes} bytes for a chunk of shape "
                                    f"{spec.shape} and type {spec.dtype}, got {len(data)}")
        stored = self._stored_dtype(spec.dtype)
        out = np.frombuffer(data, dtype=stored).reshape(spec.shape)
        return out if stored == spec.dtype else out.astype(spec.dtype)

    def compute_encoded_size(self, nbytes: int, spec: ChunkSpec) -> int:
        return nbytes
