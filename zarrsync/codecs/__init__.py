"""Codecs. Each built-in codec is registered here, one line each; see :mod:`.registry`."""

from .base import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec, ChunkSpec, Codec
from .bytes_ import BytesCodec
from .crc32c_ import Crc32cCodec
from .gzip import GzipCodec
from .registry import get_codec_class, parse_codec, register, registered_names
from .sharding import ShardingCodec
from .transpose import TransposeCodec
from .zstd import ZstdCodec

register(BytesCodec)
register(TransposeCodec)
register(GzipCodec)
register(ZstdCodec)
register(Crc32cCodec)
register(ShardingCodec)

__all__ = [
    "Codec", "ArrayArrayCodec", "ArrayBytesCodec", "BytesBytesCodec", "ChunkSpec",
    "BytesCodec", "TransposeCodec", "GzipCodec", "ZstdCodec", "Crc32cCodec", "ShardingCodec",
    "register", "parse_codec", "get_codec_class", "registered_names",
]
