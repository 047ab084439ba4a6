"""``crc32c``: a bytes -> bytes codec that appends a CRC-32C (Castagnoli) checksum.

JSON: ``{"name": "crc32c"}`` (no configuration). Encoded bytes are the input followed by its
CRC-32C as a little-endian uint32 (4 bytes). Decoding verifies it; a mismatch raises
:class:`~zarrsync.errors.CorruptChunkError` (the pipeline adds the chunk key).
"""

from __future__ import annotations

import dataclasses

from crc32c import crc32c

from ..errors import CorruptChunkError
from .base import BytesBytesCodec, ChunkSpec


@dataclasses.dataclass(frozen=True)
class Crc32cCodec(BytesBytesCodec):
    name = "crc32c"
    is_fixed_size = True

    def encode(self, data, spec: ChunkSpec) -> bytes:
        return bytes(data) + crc32c(data).to_bytes(4, "little")

    def decode(self, data, spec: ChunkSpec, expected_size: int | None) -> memoryview:
        view = memoryview(data)
        if len(view) < 4:
            raise CorruptChunkError(f"codec 'crc32c': {len(view)} bytes is too short to hold a checksum")
        body = view[:-4]
        stored = int.from_bytes(view[-4:], "little")
        actual = crc32c(body)
        if stored != actual:
            raise CorruptChunkError(f"codec 'crc32c': checksum mismatch (stored {stored:08x}, computed {actual:08x})")
        return body

    def compute_encoded_size(self, nbytes: int, spec: ChunkSpec) -> int:
        return nbytes + 4
