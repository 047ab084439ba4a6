"""numcodecs-compatible codecs, byte for byte, without importing numcodecs.

Each class has the numcodecs id, constructor, ``get_config`` keys and byte format of its
numcodecs 0.16 namesake (``SPEC_CHECKLIST`` §4.6, §6), and is registered with
:func:`~zarrsync.codecs.numcodecs_api.register_codec` on import.

- compressors: ``zlib``, ``gzip``, ``bz2``, ``lzma``, ``zstd``, ``lz4`` (u32le size ‖ LZ4 block);
- checksums: ``crc32``, ``adler32`` (u32le, prepended unless ``location="end"``), ``crc32c``
  (appended), ``fletcher32`` (HDF5 variant, appended), ``jenkins_lookup3`` (appended);
- ``blosc`` (zarrsync's own Blosc1 implementation);
- filters: ``delta``, ``fixedscaleoffset``, ``quantize``, ``bitround``, ``packbits``,
  ``categorize``, ``astype``, ``shuffle``.

Example
-------
>>> CRC32().encode(b"123456789").hex()
'2639f4cb313233343536373839'

Compatibility notes: ``gzip`` output differs from numcodecs only in the header mtime (zarrsync
writes 0, so equal input gives equal bytes). Decoders are more tolerant than numcodecs where
the data are unambiguous: zstd decodes several frames, frames without a content size and empty
frames; zlib decodes concatenated streams. Inside a codec chain the compressors decode through
``decode_bounded(buf, max_size)``, which stops one byte past the size a chunk can hold (a
decompression bomb raises :class:`~zarrsync.errors.CorruptChunkError` having allocated about
that much): ``max_length`` for zlib/gzip/bz2/lzma streams, the declared size checked first for
lz4 and Blosc, a bounded stream reader for zstd frames without a content size. Filters say the
shape and type they encode to (``encoded_layout``) without encoding a chunk, so opening an array
never allocates in proportion to its chunk shape. A checksum mismatch raises
:class:`~zarrsync.errors.CorruptChunkError`. ``jenkins_lookup3``'s ``prefix`` is written as a list
of byte values (numcodecs writes a numpy array, which is not JSON).
"""

from __future__ import annotations

import bz2 as _bz2
import lzma as _lzma
import math
import reprlib
import struct
import zlib
from typing import Any, ClassVar

import lz4.block
import numpy as np
import zstandard
from crc32c import crc32c as _crc32c

from ..errors import CodecError, CorruptChunkError
from .base import decompress_streams
from .blosc1 import blosc_compress, blosc_decompress, blosc_decompress_into, c_blosc
from .gzip import gunzip
from .lz4_direct import lz4_compress_fast
from .numcodecs_api import NumcodecsCodec, ensure_contiguous_bytes, ensure_ndarray, fill_out, register_codec
from .zstd import clamp_level, zstd_decompress

__all__ = ["Zlib", "GZip", "BZ2", "LZMA", "Zstd", "LZ4", "CRC32", "Adler32", "CRC32C", "Fletcher32",
           "JenkinsLookup3", "Delta", "FixedScaleOffset", "Quantize", "BitRound", "PackBits", "Categorize",
           "AsType", "Shuffle", "fletcher32", "jenkins_lookup3"]

#: decoders without an ``out`` have no size to hold the output to; this bounds a hostile stream
_UNBOUNDED = (1 << 62)


def _int(codec_id: str, name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise CodecError(f"codec {codec_id!r}: {name} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def _out_size(codec_id: str, out: Any) -> int:
    try:
        return ensure_contiguous_bytes(out).nbytes
    except CodecError as e:
        raise CodecError(f"codec {codec_id!r}: out: {e}") from None


# --- compressors ------------------------------------------------------------------------------

class _StreamCodec(NumcodecsCodec):
    """A compressor whose ``decode`` is its ``decode_bounded``, bounded by ``out``'s size when
    one is given."""

    def decode(self, buf, out=None):
        bound = _UNBOUNDED if out is None else _out_size(self.codec_id, out)
        return fill_out(self.decode_bounded(buf, bound), out, self.codec_id)


class _LevelCodec(_StreamCodec):
    """A compressor whose one setting is an integer ``level`` in [``level_min``, 9]."""

    config_keys = ("level",)
    level_min = -1

    def __init__(self, level: int = 1):
        self.level = _int(self.codec_id, "level", level, self.level_min, 9)

    def get_config(self):
        return {"id": self.codec_id, "level": self.level}


class Zlib(_LevelCodec):
    """``zlib.compress(data, level)``; decodes one or more concatenated zlib streams."""

    codec_id = "zlib"

    def encode(self, buf):
        return zlib.compress(ensure_contiguous_bytes(buf), self.level)

    def decode_bounded(self, buf, max_size):
        return gunzip(ensure_contiguous_bytes(buf), max_size, self.codec_id, wbits=15)


class GZip(_LevelCodec):
    """A gzip member as Python's ``GzipFile`` writes it (OS byte 255), with mtime 0."""

    codec_id = "gzip"

    def encode(self, buf):
        data = ensure_contiguous_bytes(buf)
        xfl = 2 if self.level == 9 else 4 if self.level == 1 else 0  # as GzipFile writes it
        header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + bytes([xfl, 255])
        c = zlib.compressobj(self.level, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
        body = c.compress(data) + c.flush()
        return header + body + struct.pack("<II", zlib.crc32(data), data.nbytes & 0xFFFFFFFF)

    def decode_bounded(self, buf, max_size):
        return gunzip(ensure_contiguous_bytes(buf), max_size, self.codec_id, wbits=31)


class BZ2(_LevelCodec):
    """``bz2.compress(data, level)``; decodes multi-stream input."""

    codec_id = "bz2"
    level_min = 1

    def encode(self, buf):
        return _bz2.compress(memoryview(ensure_contiguous_bytes(buf)), self.level)

    def decode_bounded(self, buf, max_size):
        return decompress_streams(_bz2.BZ2Decompressor, memoryview(ensure_contiguous_bytes(buf)), max_size,
                                  self.codec_id, OSError, ignore_tail=True)


class LZMA(_StreamCodec):
    """``lzma.compress(data, format, check, preset, filters)``."""

    codec_id = "lzma"
    config_keys = ("format", "check", "preset", "filters")

    def __init__(self, format: int = 1, check: int = -1, preset: int | None = None, filters: list | None = None):
        self.format = _int(self.codec_id, "format", format, 0, 3)
        self.check = _int(self.codec_id, "check", check, -1, 15)
        self.preset = None if preset is None else _int(self.codec_id, "preset", preset, 0, 0xFFFFFFFF)
        if filters is not None and not (isinstance(filters, (list, tuple))
                                        and all(isinstance(f, dict) for f in filters)):
            raise CodecError(f"codec 'lzma': filters must be a list of objects, got {filters!r}")
        self.filters = None if filters is None else [dict(f) for f in filters]

    def get_config(self):
        return {"id": self.codec_id, "format": self.format, "check": self.check, "preset": self.preset,
                "filters": self.filters}

    def encode(self, buf):
        try:
            return _lzma.compress(ensure_contiguous_bytes(buf), format=self.format, check=self.check,
                                  preset=self.preset, filters=self.filters)
        except (_lzma.LZMAError, ValueError) as e:
            raise CodecError(f"codec 'lzma': {e}") from None

    def decode_bounded(self, buf, max_size):
        # Filters are given for raw streams only: liblzma reads them from .xz/.lzma headers and
        # refuses them there (numcodecs passes them anyway, and cannot decode its own
        # XZ-with-filters bytes). liblzma allocates the whole dictionary a header or a raw filter
        # chain declares; no match reaches further back than the output goes, so a raw chain's
        # dictionary is cut to the bound, and a header may ask for at most _LZMA_MEMLIMIT (128 MiB:
        # preset 9's 64 MiB dictionary fits) or twice the bound.
        limit: dict[str, Any]
        if self.format == _lzma.FORMAT_RAW:
            limit = {"filters": [_smaller_dictionary(f, max_size) for f in self.filters or ()]}
        else:
            limit = {"memlimit": max(_LZMA_MEMLIMIT, 2 * max_size)}

        def decompressor():
            try:
                return _lzma.LZMADecompressor(format=self.format, **limit)
            except (_lzma.LZMAError, ValueError, TypeError) as e:
                raise CodecError(f"codec 'lzma': bad filters {self.filters!r}: {e}") from None

        data = ensure_contiguous_bytes(buf)
        if not data.nbytes:  # lzma.decompress refuses empty input (bz2.decompress gives b"")
            raise CorruptChunkError("codec 'lzma': empty input")
        return decompress_streams(decompressor, data, max_size, self.codec_id, _lzma.LZMAError,
                                  ignore_tail=True)


_LZMA_MEMLIMIT = 1 << 27
_LZMA_DICT_MIN = 4096


def _smaller_dictionary(lzma_filter: dict, max_size: int) -> dict:
    size = lzma_filter.get("dict_size")
    if isinstance(size, int) and size > max(max_size, _LZMA_DICT_MIN):
        return {**lzma_filter, "dict_size": max(max_size, _LZMA_DICT_MIN)}
    return lzma_filter


class Zstd(NumcodecsCodec):
    """One Zstandard frame with its content size; decodes several frames and unknown sizes."""

    codec_id = "zstd"
    config_keys = ("level", "checksum")

    def __init__(self, level: int = 0, checksum: bool = False):
        # any integer, as numcodecs: libzstd clamps it (numcodecs wrote configs with level 100)
        self.level = _int(self.codec_id, "level", level, -(1 << 63), (1 << 63) - 1)
        if not isinstance(checksum, bool):
            raise CodecError(f"codec 'zstd': checksum must be true or false, got {checksum!r}")
        self.checksum = checksum

    def get_config(self):
        return {"id": self.codec_id, "level": self.level, "checksum": self.checksum}

    def encode(self, buf):
        c = zstandard.ZstdCompressor(level=clamp_level(self.level), write_checksum=self.checksum,
                                     write_content_size=True)
        # zstandard reads any buffer; its stubs name only bytes, bytearray and memoryview
        return c.compress(ensure_contiguous_bytes(buf))  # type: ignore[arg-type]

    def decode_bounded(self, buf, max_size):
        return zstd_decompress(ensure_contiguous_bytes(buf), max_size, True)

    def decode(self, buf, out=None):
        data = ensure_contiguous_bytes(buf)
        if out is not None:
            size = _out_size(self.codec_id, out)
            return fill_out(zstd_decompress(data, size, True), out, self.codec_id)
        parts = []
        try:
            while data.nbytes:
                d = zstandard.ZstdDecompressor().decompressobj()
                parts.append(d.decompress(data))  # type: ignore[arg-type]  # any buffer (see encode)
                if not d.eof:
                    raise CorruptChunkError("codec 'zstd': truncated frame")
                data = np.frombuffer(d.unused_data, np.uint8)
        except zstandard.ZstdError as e:
            raise CorruptChunkError(f"codec 'zstd': {e}") from None
        return b"".join(parts)


class LZ4(NumcodecsCodec):
    """``u32le original size`` ‖ a raw LZ4 block (``LZ4_compress_fast``)."""

    codec_id = "lz4"
    config_keys = ("acceleration",)

    def __init__(self, acceleration: int = 1):
        self.acceleration = _int(self.codec_id, "acceleration", acceleration, -(1 << 31), (1 << 31) - 1)

    def get_config(self):
        return {"id": self.codec_id, "acceleration": self.acceleration}

    def encode(self, buf):
        data = ensure_contiguous_bytes(buf)
        if data.nbytes > 0x7E000000:  # LZ4_MAX_INPUT_SIZE
            raise CodecError(f"codec 'lz4': {data.nbytes} bytes exceed the LZ4 block limit")
        # LZ4 takes an acceleration under 1 as 1 and over 65537 as 65537, numcodecs' call included
        acceleration = min(max(1, self.acceleration), 65537)
        compress = lz4_compress_fast()
        if compress is None:  # another build of lz4: valid blocks, but not numcodecs' bytes
            return lz4.block.compress(data, mode="fast", acceleration=acceleration, store_size=True)
        # numcodecs' own call, so numcodecs' bytes (see .lz4_direct)
        size = data.nbytes
        out = np.empty(4 + size + size // 255 + 16, np.uint8)  # room for LZ4_compressBound(size)
        out[:4].view("<u4")[0] = size
        n = compress(data.ctypes.data, out.ctypes.data + 4, size, len(out) - 4, acceleration)
        return out[:4 + n].tobytes()

    def decode(self, buf, out=None):
        data = ensure_contiguous_bytes(buf)
        if out is not None and data.nbytes >= 4 and _out_size(self.codec_id, out) != int(data[:4].view("<u4")[0]):
            raise CodecError(f"codec 'lz4': out holds {_out_size(self.codec_id, out)} bytes, the header says "
                             f"{int(data[:4].view('<u4')[0])}")
        return fill_out(self.decode_bounded(data, _UNBOUNDED), out, self.codec_id)

    def decode_bounded(self, buf, max_size):
        data = ensure_contiguous_bytes(buf)
        if data.nbytes < 4:
            raise CorruptChunkError(f"codec 'lz4': {data.nbytes} bytes is too short for the size header")
        size = int(data[:4].view("<u4")[0])
        if size > max_size:  # checked before lz4 allocates the declared size
            raise CorruptChunkError(f"codec 'lz4': the header says {size} bytes, more than the {max_size} bytes "
                                    f"a chunk can hold")
        try:
            decoded = lz4.block.decompress(data[4:], uncompressed_size=size) if size else b""
        except lz4.block.LZ4BlockError as e:
            raise CorruptChunkError(f"codec 'lz4': {e}") from None
        if len(decoded) != size:
            raise CorruptChunkError(f"codec 'lz4': decodes to {len(decoded)} bytes, the header says {size}")
        return decoded


# --- checksums --------------------------------------------------------------------------------

def fletcher32(data: Any) -> int:
    """The HDF5 Fletcher-32 of ``data`` (16-bit big-endian words, blocks of 360, end-around carry).

    Example
    -------
    >>> hex(fletcher32(b"123456789"))
    '0x9df09d5'
    """
    raw = ensure_contiguous_bytes(data)
    n = raw.nbytes
    words = raw[: n - n % 2].view(">u2").astype(np.int64)
    nblocks = -(-words.size // 360)
    padded = np.zeros(nblocks * 360, np.int64)
    padded[: words.size] = words
    blocks = padded.reshape(nblocks, 360)
    lengths = np.full(nblocks, 360, np.int64)
    if nblocks and words.size % 360:
        lengths[-1] = words.size % 360
    # within a block: sum1 += sum(w); sum2 += t*sum1_start + sum_i (t - i) w_i
    weights = np.arange(360, 0, -1, dtype=np.int64)
    block_sums = blocks.sum(axis=1).tolist()
    weighted = (blocks * weights).sum(axis=1) - (360 - lengths) * blocks.sum(axis=1)
    sum1 = sum2 = 0
    for a, b, t in zip(block_sums, weighted.tolist(), lengths.tolist()):
        sum2 = (sum2 + t * sum1 + b) & 0xFFFFFFFF  # C uint32 arithmetic
        sum1 = (sum1 + a) & 0xFFFFFFFF
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    if n % 2:
        sum1 += int(raw[-1]) << 8
        sum2 = (sum2 + sum1) & 0xFFFFFFFF
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
    sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    return ((sum2 << 16) | sum1) & 0xFFFFFFFF


_M32 = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M32


def jenkins_lookup3(data: Any, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle`` of ``data`` (the HDF5 implementation).

    Example
    -------
    >>> jenkins_lookup3(b"123456789").to_bytes(4, "little").hex()
    '969a5d84'
    """
    raw = ensure_contiguous_bytes(data)
    length = raw.nbytes
    a = b = c = (0xDEADBEEF + length + initval) & _M32
    if length == 0:
        return c
    nfull = (length - 1) // 12  # the last 1..12 bytes go through the final mix
    padded = np.zeros(12 * (nfull + 1), np.uint8)
    padded[:length] = raw
    words = padded.view("<u4").tolist()
    for i in range(0, 3 * nfull, 3):
        a = (a + words[i]) & _M32
        b = (b + words[i + 1]) & _M32
        c = (c + words[i + 2]) & _M32
        a = (a - c) & _M32; a ^= _rot(c, 4); c = (c + b) & _M32  # noqa: E702
        b = (b - a) & _M32; b ^= _rot(a, 6); a = (a + c) & _M32  # noqa: E702
        c = (c - b) & _M32; c ^= _rot(b, 8); b = (b + a) & _M32  # noqa: E702
        a = (a - c) & _M32; a ^= _rot(c, 16); c = (c + b) & _M32  # noqa: E702
        b = (b - a) & _M32; b ^= _rot(a, 19); a = (a + c) & _M32  # noqa: E702
        c = (c - b) & _M32; c ^= _rot(b, 4); b = (b + a) & _M32  # noqa: E702
    i = 3 * nfull
    a = (a + words[i]) & _M32
    b = (b + words[i + 1]) & _M32
    c = (c + words[i + 2]) & _M32
    c ^= b; c = (c - _rot(b, 14)) & _M32  # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & _M32  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & _M32  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & _M32  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & _M32  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & _M32  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & _M32  # noqa: E702
    return c


class _Checksum32(NumcodecsCodec):
    """A u32le checksum stored before (``location="start"``) or after the data."""

    default_location = "start"
    config_keys: ClassVar[tuple[str, ...]] = ("location",)

    def __init__(self, location: str | None = None):
        if location is not None and location not in ("start", "end"):
            raise CodecError(f"codec {self.codec_id!r}: location must be 'start' or 'end', got {location!r}")
        self._location = location  # written only when given, as numcodecs does

    @property
    def location(self) -> str:
        return self.default_location if self._location is None else self._location

    def get_config(self):
        config = {"id": self.codec_id}
        if self._location is not None:
            config["location"] = self._location
        return config

    def checksum(self, data: np.ndarray) -> int:
        raise NotImplementedError

    def encode(self, buf):
        data = ensure_contiguous_bytes(buf)
        check = struct.pack("<I", self.checksum(data) & _M32)
        return check + data.tobytes() if self.location == "start" else data.tobytes() + check

    def decode(self, buf, out=None):
        data = ensure_contiguous_bytes(buf)
        if data.nbytes < 4:
            raise CorruptChunkError(f"codec {self.codec_id!r}: {data.nbytes} bytes is too short to hold a checksum")
        if self.location == "start":
            stored, payload = data[:4], data[4:]
        else:
            stored, payload = data[-4:], data[:-4]
        expect = int(stored.view("<u4")[0])
        actual = self.checksum(payload) & _M32
        if expect != actual:
            raise CorruptChunkError(f"codec {self.codec_id!r}: stored checksum {expect:08x} does not match the "
                                    f"computed {actual:08x}")
        return fill_out(payload.tobytes(), out, self.codec_id)


class CRC32(_Checksum32):
    """``zlib.crc32``, prepended by default."""

    codec_id = "crc32"

    def checksum(self, data):
        return zlib.crc32(data)


class Adler32(_Checksum32):
    """``zlib.adler32`` (initial value 1), prepended by default."""

    codec_id = "adler32"

    def checksum(self, data):
        return zlib.adler32(data)


class CRC32C(_Checksum32):
    """CRC-32C (Castagnoli), appended by default (the same bytes as the v3 ``crc32c`` codec)."""

    codec_id = "crc32c"
    default_location = "end"

    def checksum(self, data):
        return _crc32c(data)


class Fletcher32(_Checksum32):
    """HDF5 Fletcher-32, always appended (numcodecs has no ``location`` for it)."""

    codec_id = "fletcher32"
    default_location = "end"
    config_keys = ()

    def __init__(self):
        super().__init__(None)

    def checksum(self, data):
        return fletcher32(data)


class JenkinsLookup3(_Checksum32):
    """lookup3 ``hashlittle(prefix ‖ data, initval)``, appended; the prefix is not stored."""

    codec_id = "jenkins_lookup3"
    default_location = "end"
    config_keys = ("initval", "prefix")

    def __init__(self, initval: int = 0, prefix: Any = None):
        super().__init__(None)
        self.initval = _int(self.codec_id, "initval", initval, 0, _M32)
        if prefix is None:
            self.prefix = None
        elif isinstance(prefix, (bool, int, float, str, dict, np.number)):  # bytes(n) would allocate n bytes
            raise CodecError(f"codec 'jenkins_lookup3': prefix must be bytes or a list of byte values, got {prefix!r}")
        else:
            try:
                self.prefix = bytes(prefix) if not isinstance(prefix, np.ndarray) else prefix.astype(np.uint8).tobytes()
            except (TypeError, ValueError):
                raise CodecError(f"codec 'jenkins_lookup3': prefix must be bytes or a list of byte values, "
                                 f"got {prefix!r}") from None

    def get_config(self):
        return {"id": self.codec_id, "initval": self.initval,
                "prefix": None if self.prefix is None else list(self.prefix)}

    def checksum(self, data):
        if self.prefix:
            data = np.concatenate([np.frombuffer(self.prefix, np.uint8), data])
        return jenkins_lookup3(data, self.initval)


# --- filters (array -> array) -----------------------------------------------------------------

#: the widest element a filter's configured data type may have: filters allocate elements of it
#: (a probe at open, each decoded element), and ``"|V1000000000"`` is a valid numpy type
MAX_ITEMSIZE = 1 << 16


def _dtype(codec_id: str, name: str, value: Any) -> np.dtype:
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError, SyntaxError):
        raise CodecError(f"codec {codec_id!r}: {name} is not a data type: {reprlib.repr(value)}") from None
    if dtype.itemsize > MAX_ITEMSIZE:
        raise CodecError(f"codec {codec_id!r}: {name} {dtype.str} is wider than {MAX_ITEMSIZE} bytes")
    return dtype


class _Elementwise(NumcodecsCodec):
    """A filter whose output has one element per element of its own ``dtype`` (only the type
    changes): a one-element probe tells the encoded type without encoding a chunk."""

    def encoded_layout(self, shape, dtype):
        probe = np.asarray(self.encode(np.zeros(1, dtype)))
        if probe.size == 1:
            return tuple(shape), probe.dtype
        # the filter's dtype is smaller than the array's: it reinterprets each element as several
        if math.prod(shape) * dtype.itemsize <= _PROBE_MAX:
            return None  # small enough for the chain to encode a chunk of zeros and see
        raise CodecError(f"codec {self.codec_id!r}: reads the array's {dtype} elements as {probe.size} elements "
                         f"of {probe.dtype} each; supported for chunks up to {_PROBE_MAX} bytes")


#: the largest chunk a filter that reinterprets its input may be probed with at open
_PROBE_MAX = 1 << 20


def _number(codec_id: str, name: str, value: Any, dtype: np.dtype) -> Any:
    """A scale or offset as arithmetic with arrays of ``dtype`` uses it: a finite number (else
    ``CodecError``). A Python int that does not fit an integer ``dtype`` (an ``offset: -1`` on
    unsigned data, which numpy 1 accepted) is used as a float: numpy 2 would raise
    ``OverflowError`` for it, numcodecs' decoding works in floats anyway, and so the data reads
    as numcodecs reads it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise CodecError(f"codec {codec_id!r}: {name} must be a number, got {value!r}")
    try:
        if not math.isfinite(float(value)):
            raise CodecError(f"codec {codec_id!r}: {name} must be finite, got {value!r}")
    except OverflowError:
        raise CodecError(f"codec {codec_id!r}: {name} {value!r} is out of range") from None
    if isinstance(value, int) and dtype.kind in "iu":
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max:
            return float(value)
    return value


def _typed(codec_id: str, buf: Any, dtype: np.dtype) -> np.ndarray:
    """``buf`` viewed as a flat array of ``dtype`` (numcodecs' ``view`` + ``reshape(-1, 'A')``)."""
    arr = ensure_ndarray(buf)
    try:
        return arr.view(dtype).reshape(-1, order="A")
    except ValueError as e:
        raise CodecError(f"codec {codec_id!r}: cannot view the buffer as {dtype.str}: {e}") from None


class Delta(_Elementwise, NumcodecsCodec):
    """``enc[0] = x[0]``, ``enc[i] = x[i] - x[i-1]`` in ``dtype``, stored as ``astype``."""

    codec_id = "delta"
    config_keys = ("dtype", "astype")

    def __init__(self, dtype: Any, astype: Any = None):
        self.dtype = _dtype(self.codec_id, "dtype", dtype)
        self.astype = self.dtype if astype is None else _dtype(self.codec_id, "astype", astype)
        if self.dtype.hasobject or self.astype.hasobject:
            raise CodecError("codec 'delta': object arrays are not supported")

    def get_config(self):
        return {"id": self.codec_id, "dtype": self.dtype.str, "astype": self.astype.str}

    def encode(self, buf):
        arr = _typed(self.codec_id, buf, self.dtype)
        enc = np.empty_like(arr, dtype=self.astype)
        if arr.size:
            enc[0] = arr[0]
            enc[1:] = np.diff(arr)
        return enc

    def decode(self, buf, out=None):
        enc = _typed(self.codec_id, buf, self.astype)
        dec = np.empty_like(enc, dtype=self.dtype)
        np.cumsum(enc, out=dec)
        return fill_out(dec, out, self.codec_id)


class FixedScaleOffset(_Elementwise, NumcodecsCodec):
    """``enc = round((x - offset) * scale)`` as ``astype``; ``dec = enc / scale + offset``."""

    codec_id = "fixedscaleoffset"
    config_keys = ("offset", "scale", "dtype", "astype")

    def __init__(self, offset: float, scale: float, dtype: Any, astype: Any = None):
        self.dtype = _dtype(self.codec_id, "dtype", dtype)
        self.offset, self.scale = offset, scale  # as configured; the arithmetic uses the checked ones
        self._offset = _number(self.codec_id, "offset", offset, self.dtype)
        self._scale = _number(self.codec_id, "scale", scale, self.dtype)
        self.astype = self.dtype if astype is None else _dtype(self.codec_id, "astype", astype)
        if self.dtype.hasobject or self.astype.hasobject:
            raise CodecError("codec 'fixedscaleoffset': object arrays are not supported")

    def get_config(self):
        return {"id": self.codec_id, "scale": self.scale, "offset": self.offset, "dtype": self.dtype.str,
                "astype": self.astype.str}

    def encode(self, buf):
        arr = _typed(self.codec_id, buf, self.dtype)
        enc = np.around((arr - self._offset) * self._scale)
        return enc.astype(self.astype, copy=False)

    def decode(self, buf, out=None):
        enc = _typed(self.codec_id, buf, self.astype)
        dec = ((enc / self._scale) + self._offset).astype(self.dtype, copy=False)
        return fill_out(dec, out, self.codec_id)


class Quantize(_Elementwise, NumcodecsCodec):
    """Round floats to ``digits`` decimal digits (as a power of two scale); decode is a cast."""

    codec_id = "quantize"
    config_keys = ("digits", "dtype", "astype")

    def __init__(self, digits: int, dtype: Any, astype: Any = None):
        self.digits = _int(self.codec_id, "digits", digits, -(1 << 16), 1 << 16)
        self.dtype = _dtype(self.codec_id, "dtype", dtype)
        self.astype = self.dtype if astype is None else _dtype(self.codec_id, "astype", astype)
        if self.dtype.kind != "f" or self.astype.kind != "f":
            raise CodecError("codec 'quantize': only floating point data types are supported")
        try:  # numcodecs' rule: the power of two nearest above 10 ** digits
            exp = math.log10(10.0 ** -self.digits)
            exp = math.floor(exp) if exp < 0 else math.ceil(exp)
            self._scale = 2.0 ** math.ceil(math.log2(10.0 ** -exp))
        except (OverflowError, ValueError):  # 10 ** digits is not a finite, non-zero float
            raise CodecError(f"codec 'quantize': digits {self.digits} is out of the range a float can "
                             f"scale by") from None

    def get_config(self):
        return {"id": self.codec_id, "digits": self.digits, "dtype": self.dtype.str, "astype": self.astype.str}

    def encode(self, buf):
        arr = ensure_ndarray(buf).view(self.dtype)
        scale = self._scale
        enc = np.around(scale * arr) / scale
        return enc.astype(self.astype, copy=False)

    def decode(self, buf, out=None):
        dec = ensure_ndarray(buf).view(self.astype).astype(self.dtype, copy=False)
        return fill_out(dec, out, self.codec_id)


_MANTISSA_BITS = {2: 10, 4: 23, 8: 52}


class BitRound(_Elementwise, NumcodecsCodec):
    """Keep ``keepbits`` mantissa bits (round half to even); the result is an integer view."""

    codec_id = "bitround"
    config_keys = ("keepbits",)

    def __init__(self, keepbits: int):
        self.keepbits = _int(self.codec_id, "keepbits", keepbits, 0, 52)

    def get_config(self):
        return {"id": self.codec_id, "keepbits": self.keepbits}

    def encode(self, buf):
        a = ensure_ndarray(buf)
        if a.dtype.kind != "f" or a.dtype.itemsize not in _MANTISSA_BITS:
            raise CodecError(f"codec 'bitround': only float16/32/64 arrays can be bit-rounded, got {a.dtype}")
        bits = _MANTISSA_BITS[a.dtype.itemsize]
        if self.keepbits == bits:
            return a
        if self.keepbits > bits:
            raise CodecError(f"codec 'bitround': keepbits {self.keepbits} exceeds the {bits} mantissa bits of {a.dtype}")
        int_dtype = np.dtype(a.dtype.str.replace("f", "i"))
        b = a.copy().view(int_dtype)
        maskbits = bits - self.keepbits
        mask = (np.array(-1, dtype=int_dtype) >> maskbits) << maskbits
        b += ((b >> maskbits) & 1) + ((1 << (maskbits - 1)) - 1)
        b &= mask
        return b

    def decode(self, buf, out=None):
        a = ensure_ndarray(buf)
        if a.dtype.kind not in "if" or a.dtype.itemsize not in _MANTISSA_BITS:
            raise CodecError(f"codec 'bitround': cannot tell the float type of a {a.dtype} buffer")
        return fill_out(a.view(np.dtype(a.dtype.str.replace("i", "f"))), out, self.codec_id)


class PackBits(NumcodecsCodec):
    """Bools packed 8 per byte (MSB first) after one byte holding the number of padding bits."""

    codec_id = "packbits"

    def encoded_layout(self, shape, dtype):
        if dtype.itemsize != 1:
            raise CodecError(f"codec 'packbits': packs 1-byte booleans, got the data type {dtype}")
        size = math.prod(shape)
        count = -(-size // 8) + 1
        return (tuple(shape) if count == size else (count,)), np.dtype(np.uint8)

    def encode(self, buf):
        arr = _typed(self.codec_id, buf, np.dtype(bool))
        enc = np.empty(-(-arr.size // 8) + 1, dtype=np.uint8)
        enc[0] = (8 - arr.size % 8) % 8
        enc[1:] = np.packbits(arr)
        return enc

    def decode(self, buf, out=None):
        enc = _typed(self.codec_id, buf, np.dtype(np.uint8))
        if enc.size == 0 or enc[0] > 7:
            raise CorruptChunkError("codec 'packbits': missing or bad padding byte")
        dec = np.unpackbits(enc[1:])
        if enc[0]:
            dec = dec[: -int(enc[0])]
        return fill_out(dec.view(bool), out, self.codec_id)


class Categorize(_Elementwise, NumcodecsCodec):
    """Strings equal to ``labels[i]`` become ``i + 1``, anything else 0 (decoded as ``""``)."""

    codec_id = "categorize"
    config_keys = ("labels", "dtype", "astype")

    def __init__(self, labels: list, dtype: Any, astype: Any = "u1"):
        self.dtype = _dtype(self.codec_id, "dtype", dtype)
        if self.dtype.kind not in "UO":
            raise CodecError("codec 'categorize': only unicode ('U') and object ('O') dtypes are supported")
        if not isinstance(labels, (list, tuple)):
            raise CodecError(f"codec 'categorize': labels must be a list of strings, got {labels!r}")
        self.labels = [label.decode() if isinstance(label, bytes) else str(label) for label in labels]
        self.astype = _dtype(self.codec_id, "astype", astype)
        if self.astype.hasobject:
            raise CodecError("codec 'categorize': encoding as an object array is not supported")

    def get_config(self):
        return {"id": self.codec_id, "labels": list(self.labels), "dtype": self.dtype.str,
                "astype": self.astype.str}

    def encode(self, buf):
        if self.dtype.hasobject:
            arr = np.asarray(buf, dtype=object)
        else:
            arr = ensure_ndarray(buf).view(self.dtype)
        arr = arr.reshape(-1, order="A")
        enc = np.zeros_like(arr, dtype=self.astype)
        for i, label in enumerate(self.labels):
            enc[arr == label] = i + 1
        return enc

    def decode(self, buf, out=None):
        enc = _typed(self.codec_id, buf, self.astype)
        dec = np.full_like(enc, fill_value="", dtype=self.dtype)
        for i, label in enumerate(self.labels):
            dec[enc == (i + 1)] = label
        return fill_out(dec, out, self.codec_id)


class AsType(_Elementwise, NumcodecsCodec):
    """Cast from ``decode_dtype`` to ``encode_dtype`` (and back on decode)."""

    codec_id = "astype"
    config_keys = ("encode_dtype", "decode_dtype")

    def __init__(self, encode_dtype: Any, decode_dtype: Any):
        self.encode_dtype = _dtype(self.codec_id, "encode_dtype", encode_dtype)
        self.decode_dtype = _dtype(self.codec_id, "decode_dtype", decode_dtype)

    def get_config(self):
        return {"id": self.codec_id, "encode_dtype": self.encode_dtype.str, "decode_dtype": self.decode_dtype.str}

    def encode(self, buf):
        return ensure_ndarray(buf).view(self.decode_dtype).astype(self.encode_dtype)

    def decode(self, buf, out=None):
        dec = ensure_ndarray(buf).view(self.encode_dtype).astype(self.decode_dtype)
        return fill_out(dec, out, self.codec_id)


class Shuffle(NumcodecsCodec):
    """Byte shuffle: byte ``j`` of element ``i`` goes to ``j * count + i``."""

    codec_id = "shuffle"
    config_keys = ("elementsize",)

    def __init__(self, elementsize: int = 4):
        self.elementsize = _int(self.codec_id, "elementsize", elementsize, -(1 << 31), (1 << 31) - 1)

    def get_config(self):
        return {"id": self.codec_id, "elementsize": self.elementsize}

    def encoded_layout(self, shape, dtype):
        nbytes = math.prod(shape) * dtype.itemsize
        if self.elementsize > 1 and nbytes % self.elementsize:
            raise CodecError(f"codec 'shuffle': {nbytes} bytes are not a multiple of elementsize {self.elementsize}")
        return (tuple(shape) if nbytes == math.prod(shape) else (nbytes,)), np.dtype(np.uint8)

    def _shape(self, data: np.ndarray) -> int:
        if data.nbytes % self.elementsize:
            raise CodecError(f"codec 'shuffle': {data.nbytes} bytes are not a multiple of elementsize "
                             f"{self.elementsize}")
        return data.nbytes // self.elementsize

    def encode(self, buf):
        data = ensure_contiguous_bytes(buf)
        if self.elementsize <= 1:
            return data.copy()
        count = self._shape(data)
        return np.ascontiguousarray(data.reshape(count, self.elementsize).T).reshape(-1)

    def decode(self, buf, out=None):
        data = ensure_contiguous_bytes(buf)
        if self.elementsize <= 1:
            return fill_out(data.copy(), out, self.codec_id)
        count = self._shape(data)
        dec = np.ascontiguousarray(data.reshape(self.elementsize, count).T).reshape(-1)
        return fill_out(dec, out, self.codec_id)


for _cls in (Zlib, GZip, BZ2, LZMA, Zstd, LZ4, CRC32, Adler32, CRC32C, Fletcher32, JenkinsLookup3, Delta,
             FixedScaleOffset, Quantize, BitRound, PackBits, Categorize, AsType, Shuffle):
    register_codec(_cls)
del _cls


class Blosc(NumcodecsCodec):
    """numcodecs ``Blosc``: one Blosc1 chunk (``SPEC_CHECKLIST`` §5), on zarrsync's own
    implementation (:mod:`~zarrsync.codecs.blosc1`). ``shuffle``: 0 none, 1 byte, 2 bit, -1 auto
    (bit-shuffle for 1-byte items, else byte); the typesize is the input's item size."""

    codec_id = "blosc"
    config_keys = ("cname", "clevel", "shuffle", "blocksize")
    NOSHUFFLE, SHUFFLE, BITSHUFFLE, AUTOSHUFFLE = 0, 1, 2, -1
    _MAX_DECODED = (1 << 31) - 1 - 16  # the Blosc1 format's own limit

    def __init__(self, cname: str = "lz4", clevel: int = 5, shuffle: int = 1, blocksize: int = 0):
        if isinstance(shuffle, bool) or not isinstance(shuffle, int) or shuffle not in (-1, 0, 1, 2):
            raise CodecError(f"codec 'blosc': shuffle must be -1, 0, 1 or 2, got {shuffle!r}")
        if not isinstance(clevel, int) or not 0 <= clevel <= 9:
            raise CodecError(f"codec 'blosc': clevel must be an integer 0..9, got {clevel!r}")
        self.cname, self.clevel, self.shuffle, self.blocksize = cname, clevel, shuffle, blocksize

    def get_config(self) -> dict:
        return {"id": self.codec_id, "cname": self.cname, "clevel": self.clevel, "shuffle": self.shuffle,
                "blocksize": self.blocksize}

    def load_accelerator(self) -> None:
        """Load c-blosc, the optional decoding accelerator (the ``fast`` extra)."""
        c_blosc()

    def encode(self, buf: Any) -> bytes:
        arr = ensure_ndarray(buf)
        typesize = arr.dtype.itemsize
        shuffle = self.shuffle if self.shuffle != -1 else (2 if typesize == 1 else 1)
        return blosc_compress(ensure_contiguous_bytes(arr), typesize, self.cname, self.clevel, shuffle, self.blocksize)

    def decode(self, buf: Any, out: Any = None) -> Any:
        if out is not None:
            dst = ensure_contiguous_bytes(out)
            blosc_decompress_into(buf, memoryview(dst).cast("B"))
            return out
        return blosc_decompress(buf, self._MAX_DECODED)

    def decode_bounded(self, buf: Any, max_size: int) -> bytes:
        return blosc_decompress(buf, min(max_size, self._MAX_DECODED))


register_codec(Blosc)
