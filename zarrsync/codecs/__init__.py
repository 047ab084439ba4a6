"""Codecs. Each built-in codec is registered here, one line each; see :mod:`.registry`."""

from . import numcodecs_builtin  # noqa: F401  (registers the numcodecs-compatible codecs)
from . import objects  # noqa: F401  (registers the numcodecs-compatible object codecs)
from .base import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec, ChunkSpec, Codec
from .blosc import BloscCodec
from .bytes_ import BytesCodec
from .crc32c_ import Crc32cCodec
from .gzip import GzipCodec
from .json_ import JSONCodec
from .numcodecs_api import NumcodecsLike, get_codec, register_codec
from .numcodecs_wrap import NumcodecsArrayCodec, NumcodecsBytesCodec, numcodecs_v3_codec
from .registry import get_codec_class, parse_codec, register, registered_names
from .sharding import ShardingCodec
from .transpose import TransposeCodec
from .vlen import VLenBytesCodec, VLenUTF8Codec
from .zstd import ZstdCodec

register(BytesCodec)
register(TransposeCodec)
register(GzipCodec)
register(ZstdCodec)
register(Crc32cCodec)
register(ShardingCodec)
register(BloscCodec)
register(VLenUTF8Codec)
register(VLenBytesCodec)
register(JSONCodec)

__all__ = [
    "Codec", "ArrayArrayCodec", "ArrayBytesCodec", "BytesBytesCodec", "ChunkSpec",
    "BytesCodec", "TransposeCodec", "GzipCodec", "ZstdCodec", "Crc32cCodec", "ShardingCodec",
    "BloscCodec", "JSONCodec", "VLenUTF8Codec", "VLenBytesCodec",
    "NumcodecsLike", "NumcodecsArrayCodec", "NumcodecsBytesCodec", "numcodecs_v3_codec",
    "get_codec", "register_codec",
    "register", "parse_codec", "get_codec_class", "registered_names",
]
