"""``zstd``: a bytes -> bytes codec producing a Zstandard frame (RFC 8878).

JSON: ``{"name": "zstd", "configuration": {"level": 0, "checksum": false}}``; level in
[-131072, 22] (0 = the library default), ``checksum`` optional (default false). zarrsync writes
both keys, as zarr-python does.

Decoding handles frames without a content size and several concatenated frames (which
python-zstandard's one-shot ``decompress`` does not), and never produces more bytes than a
chunk can hold. Compressor and decompressor contexts are not thread-safe, so each thread keeps
its own (``threading.local``).
"""

from __future__ import annotations

import dataclasses
import threading

import zstandard

from ..errors import CodecError, CorruptChunkError
from .base import BytesBytesCodec, ChunkSpec, check_config
from .gzip import bounded_size

_local = threading.local()


def _compressor(level: int, checksum: bool) -> zstandard.ZstdCompressor:
    cache = getattr(_local, "compressors", None)
    if cache is None:
        cache = _local.compressors = {}
    c = cache.get((level, checksum))
    if c is None:
        c = cache[(level, checksum)] = zstandard.ZstdCompressor(level=level, write_checksum=checksum,
                                                                write_content_size=True)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


@dataclasses.dataclass(frozen=True)
class ZstdCodec(BytesBytesCodec):
    name = "zstd"

    level: int = 0
    checksum: bool = False

    def __post_init__(self):
        if isinstance(self.level, bool) or not isinstance(self.level, int) or not -131072 <= self.level <= 22:
            raise CodecError(f"codec 'zstd': level must be an integer in [-131072, 22], got {self.level!r}")
        if not isinstance(self.checksum, bool):
            raise CodecError(f"codec 'zstd': checksum must be true or false, got {self.checksum!r}")

    @classmethod
    def from_config(cls, config):
        config = check_config(cls.name, config, {"level", "checksum"}, {"level"})
        return cls(config["level"], config.get("checksum", False))

    def to_config(self):
        return {"level": self.level, "checksum": self.checksum}

    def encode(self, data, spec: ChunkSpec) -> bytes:
        return _compressor(self.level, self.checksum).compress(data)

    def decode(self, data, spec: ChunkSpec, expected_size: int | None) -> bytes:
        return zstd_decompress(data, bounded_size(spec, expected_size), expected_size is not None)

    supports_decode_into = True

    def decode_into(self, data, out: memoryview) -> None:
        size = len(out)
        if size <= _STREAM_FROM:  # one-shot decode and a copy beat a stream reader on small chunks
            decoded = zstd_decompress(data, size, True)
            if len(decoded) != size:
                raise CorruptChunkError(f"codec 'zstd': decodes to {len(decoded)} bytes, the chunk holds {size}")
            out[:] = decoded
            return
        try:
            with _decompressor().stream_reader(data, read_across_frames=True) as reader:
                pos = 0
                while pos < size:
                    n = reader.readinto(out[pos:])
                    if n == 0:
                        raise CorruptChunkError(f"codec 'zstd': decodes to {pos} bytes, the chunk holds {size}")
                    pos += n
                if reader.read(1):
                    raise CorruptChunkError(f"codec 'zstd': decodes to more than the {size} bytes a chunk holds")
        except zstandard.ZstdError as e:
            raise CorruptChunkError(f"codec 'zstd': {e}") from None


_STREAM_FROM = 1 << 18


def zstd_decompress(data, max_size: int, exact: bool) -> bytes:
    """Decompress one or more zstd frames into at most ``max_size`` bytes.

    When ``exact`` and the first frame declares exactly ``max_size`` bytes (the common case),
    one call decodes it (zstd itself enforces the declared size) and any input left over is
    corruption. Otherwise a stream reader decodes across frames, never producing more than
    ``max_size + 1`` bytes, so a hostile input cannot make it allocate without bound.
    """
    try:
        if exact and zstandard.frame_content_size(data) == max_size:
            dobj = _decompressor().decompressobj()
            out = dobj.decompress(data)
            if not dobj.eof:
                raise CorruptChunkError("codec 'zstd': truncated frame")
            if dobj.unused_data:
                raise CorruptChunkError(f"codec 'zstd': {len(dobj.unused_data)} bytes follow the frame")
            return out
        parts, total = [], 0
        with _decompressor().stream_reader(data, read_across_frames=True) as reader:
            while total <= max_size:
                part = reader.read(max_size + 1 - total)
                if not part:
                    break
                parts.append(part)
                total += len(part)
        if total > max_size:
            raise CorruptChunkError(f"codec 'zstd': decodes to more than the {max_size} bytes a chunk can hold")
        return parts[0] if len(parts) == 1 else b"".join(parts)
    except zstandard.ZstdError as e:
        raise CorruptChunkError(f"codec 'zstd': {e}") from None
