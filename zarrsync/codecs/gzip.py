"""``gzip``: a bytes -> bytes codec producing a gzip member (RFC 1952).

JSON: ``{"name": "gzip", "configuration": {"level": 5}}``, level 0..9. The header's mtime is 0,
so equal input gives equal bytes. Decoding accepts several concatenated members and ignores
header fields; the decoded size is bounded (a hostile stream raises rather than allocating).
"""

from __future__ import annotations

import dataclasses
import zlib

from ..errors import CodecError
from .base import BytesBytesCodec, ChunkSpec, bounded_size, check_config, decompress_streams


@dataclasses.dataclass(frozen=True)
class GzipCodec(BytesBytesCodec):
    name = "gzip"

    level: int = 5

    def __post_init__(self):
        if isinstance(self.level, bool) or not isinstance(self.level, int) or not 0 <= self.level <= 9:
            raise CodecError(f"codec 'gzip': level must be an integer 0..9, got {self.level!r}")

    @classmethod
    def from_config(cls, config):
        config = check_config(cls.name, config, {"level"}, {"level"})
        return cls(config["level"])

    def to_config(self):
        return {"level": self.level}

    def encode(self, data, spec: ChunkSpec) -> bytes:
        c = zlib.compressobj(self.level, zlib.DEFLATED, 31)
        return c.compress(data) + c.flush()

    def decode(self, data, spec: ChunkSpec, expected_size: int | None) -> bytes:
        return gunzip(data, bounded_size(spec, expected_size), self.name)


def gunzip(data, max_size: int, codec: str, wbits: int = 31) -> bytes:
    """Decompress one or more concatenated zlib/gzip streams, refusing more than ``max_size`` bytes."""
    return decompress_streams(lambda: zlib.decompressobj(wbits), data, max_size, codec, zlib.error)
