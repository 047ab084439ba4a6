"""``zstd``: a bytes -> bytes codec producing a Zstandard frame (RFC 8878).

JSON: ``{"name": "zstd", "configuration": {"level": 0, "checksum": false}}``; level in
[-131072, 22] (0 = the library default), ``checksum`` optional (default false). zarrsync writes
both keys, as zarr-python does. A Zarr v2 / numcodecs config may hold any integer level
(numcodecs wrote ``level: 100``): libzstd clamps it to [-131072, 22], and so does
:func:`clamp_level`; the config keeps the level as written.

Decoding handles frames without a content size and several concatenated frames (which
python-zstandard's one-shot ``decompress`` does not), and never produces more bytes than a
chunk can hold. Compressor and decompressor contexts are not thread-safe: each thread keeps its
own decompressor (``threading.local``); compressors, larger, are lent from a shared pool.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import struct
import threading
from collections.abc import Iterator

import zstandard

from ..errors import CodecError, CorruptChunkError
from .base import BytesBytesCodec, ChunkSpec, bounded_size, check_config

_local = threading.local()  # decompressor contexts: small, one per thread
_idle_lock = threading.Lock()
_idle: dict[tuple[int, bool], list[zstandard.ZstdCompressor]] = {}


def _new_pool_after_fork() -> None:
    """A child forked while another thread held the pool's lock would wait on it forever."""
    global _idle_lock, _idle
    _idle_lock, _idle = threading.Lock(), {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_pool_after_fork)


LEVEL_MIN, LEVEL_MAX = -131072, 22


def clamp_level(level: int) -> int:
    """The level libzstd compresses at for a configured ``level`` (numcodecs passes any integer
    to libzstd, which clamps it; python-zstandard refuses levels above 22)."""
    return min(max(level, LEVEL_MIN), LEVEL_MAX)


@contextlib.contextmanager
def lend_compressor(level: int, checksum: bool) -> Iterator[zstandard.ZstdCompressor]:
    """``with lend_compressor(level, checksum) as c:``: a compressor context no other thread uses
    meanwhile, lent from a pool all threads share. The pool holds as many contexts as encodes
    ever ran at once, not one per thread: a network store's calls run up to ``io_concurrency``
    threads, and a context at a high level holds tens of MiB."""
    key = (clamp_level(level), checksum)
    with _idle_lock:
        idle = _idle.setdefault(key, [])
        c = idle.pop() if idle else None
    if c is None:
        c = zstandard.ZstdCompressor(level=key[0], write_checksum=checksum, write_content_size=True)
    try:
        yield c
    finally:
        with _idle_lock:
            idle.append(c)


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
        # any integer: a v2 compressor config maps here and may hold one out of the v3 range
        if isinstance(self.level, bool) or not isinstance(self.level, int):
            raise CodecError(f"codec 'zstd': level must be an integer, got {self.level!r}")
        if not isinstance(self.checksum, bool):
            raise CodecError(f"codec 'zstd': checksum must be true or false, got {self.checksum!r}")

    @classmethod
    def from_config(cls, config):
        config = check_config(cls.name, config, {"level", "checksum"}, {"level"})
        level = config["level"]
        if isinstance(level, int) and not isinstance(level, bool) and not LEVEL_MIN <= level <= LEVEL_MAX:
            raise CodecError(f"codec 'zstd': level must be an integer in [{LEVEL_MIN}, {LEVEL_MAX}], got {level!r}")
        return cls(level, config.get("checksum", False))

    def to_config(self):
        return {"level": self.level, "checksum": self.checksum}

    def encode(self, data, spec: ChunkSpec) -> bytes:
        with lend_compressor(self.level, self.checksum) as c:
            return c.compress(data)

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


    supports_decode_many = True

    def decode_many(self, datas: list, size: int) -> list:
        """Decode several small chunks with one call that releases the GIL once.

        python-zstandard's ``multi_decompress_to_buffer`` decodes each input's first frame into
        exactly ``size`` bytes (a different size is an error) but ignores what follows that
        frame, so an input whose first frame does not end exactly at its end (trailing bytes,
        several frames, anything odd) is decoded by the strict one-chunk path instead. On any
        error every chunk is decoded one by one, so the corrupt one is found and named.
        """
        d = _decompressor()
        multi = getattr(d, "multi_decompress_to_buffer", None)  # absent from the cffi backend
        single = [i for i, x in enumerate(datas) if _first_frame_size(x) != len(x)]
        if multi is None or len(datas) - len(single) < 2:
            return [zstd_decompress(x, size, True) for x in datas]
        batch = [x for i, x in enumerate(datas) if i not in single] if single else datas
        try:
            result = multi(batch, decompressed_sizes=struct.pack(f"={len(batch)}Q", *([size] * len(batch))))
        except zstandard.ZstdError:
            return [zstd_decompress(x, size, True) for x in datas]
        decoded = [result[i] for i in range(len(result))]
        for i in single:
            decoded.insert(i, zstd_decompress(datas[i], size, True))
        return decoded


_STREAM_FROM = 1 << 18
_MAGIC = 0xFD2FB528
_FCS_BYTES = (0, 2, 4, 8)
_DICT_ID_BYTES = (0, 1, 2, 4)


def _first_frame_size(data) -> int | None:
    """Compressed size of the first zstd frame of ``data`` (RFC 8878 §3.1.1), read from the frame
    and block headers alone; None if ``data`` does not start with a well-formed frame."""
    n = len(data)
    if n < 6 or int.from_bytes(data[:4], "little") != _MAGIC:
        return None
    fhd = data[4]
    single_segment = (fhd >> 5) & 1
    fcs = _FCS_BYTES[fhd >> 6] or single_segment  # flag 0 means 1 byte in single-segment mode
    pos = 5 + (1 - single_segment) + _DICT_ID_BYTES[fhd & 3] + fcs
    while pos + 3 <= n:
        header = data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16)
        block_type = (header >> 1) & 3
        if block_type == 3:
            return None
        pos += 3 + (1 if block_type == 1 else header >> 3)  # an RLE block stores one byte
        if header & 1:  # last block
            return pos + 4 * ((fhd >> 2) & 1)
    return None


_READ_STEP = 16 << 20


def zstd_decompress(data, max_size: int, exact: bool) -> bytes:
    """Decompress one or more zstd frames into at most ``max_size`` bytes.

    When ``exact`` and the first frame declares exactly ``max_size`` bytes (the common case),
    one call decodes it (zstd itself enforces the declared size) and input left after the frame
    is corruption. Otherwise a stream reader decodes across frames, never producing more than
    ``max_size + 1`` bytes, so a hostile input cannot make it allocate without bound.
    """
    try:
        if exact and zstandard.frame_content_size(data) == max_size:
            # zstd enforces the declared size; input left after the frame is corruption
            return _decompressor().decompress(data, allow_extra_data=False)
        parts, total = [], 0
        with _decompressor().stream_reader(data, read_across_frames=True) as reader:
            while total <= max_size:
                part = reader.read(min(max_size + 1 - total, _READ_STEP))  # read(n) allocates n bytes
                if not part:
                    break
                parts.append(part)
                total += len(part)
        if total > max_size:
            raise CorruptChunkError(f"codec 'zstd': decodes to more than the {max_size} bytes a chunk can hold")
        return parts[0] if len(parts) == 1 else b"".join(parts)
    except zstandard.ZstdError as e:
        raise CorruptChunkError(f"codec 'zstd': {e}") from None
