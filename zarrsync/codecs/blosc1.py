"""Blosc1: the chunk format written by c-blosc 1.x (numcodecs ``Blosc``, the v3 ``blosc`` codec).

Written with numpy, ``lz4``, ``zstandard`` and ``zlib`` only; c-blosc is not needed. When
numcodecs is installed (the ``fast`` extra), its c-blosc (:mod:`.cblosc`, loaded through ctypes
without importing numcodecs) decodes the chunks that pass this module's header and block-offset
checks, and encodes lz4 chunks: the bytes are the same, only sooner. lz4 splits are compressed as
c-blosc compresses them, with ``LZ4_compress_fast`` in place (:mod:`.lz4_direct`), so an lz4
chunk is numcodecs' byte for byte with or without c-blosc; c-blosc's lz4hc and zstd builds differ
from the ``lz4`` and ``zstandard`` modules', so those are always encoded here.
``SPEC_CHECKLIST`` §5 is the reference this module follows.

Layout of one chunk (all integers little-endian)::

    offset  size  field
    0       u8    version      2 (c-blosc 1.x; 1 is read too, 3+ is Blosc2 and refused)
    1       u8    versionlz    1
    2       u8    flags        0x01 byte shuffle, 0x02 MEMCPYED, 0x04 bit shuffle,
                               0x08 reserved (must be 0), 0x10 DONT_SPLIT,
                               flags >> 5 = codec: 0 blosclz, 1 lz4/lz4hc, 2 snappy, 3 zlib, 4 zstd
    3       u8    typesize     bytes per element, used by the shuffles
    4       u32   nbytes       decoded size
    8       u32   blocksize    bytes per block (the last block may be shorter)
    12      u32   cbytes       encoded size, header included
    16      ...   MEMCPYED: the nbytes raw bytes (the shuffle bits are then ignored);
                  else bstarts: one i32 per block, its offset from the START of the chunk,
                  then per block, per split: i32 csize + csize bytes (csize == split size: raw).

A block is cut into ``typesize`` splits when DONT_SPLIT is clear, ``typesize <= 16``, the block
holds at least 128 elements and it is not the short last block; else it is one split. Each split
is compressed on its own; the concatenated splits are the *shuffled* block, which is then
unshuffled: byte shuffle stores ``typesize`` planes (byte j of every element), trailing
``bsize % typesize`` bytes as they are; bit shuffle stores ``8 * typesize`` bit planes, but only
when the block's element count is a multiple of 8 -- otherwise the whole block is stored as is.

Example
-------
>>> data = bytes(range(256)) * 64
>>> blosc_decompress(blosc_compress(data, 8, "lz4", 5, 1), len(data)) == data
True

Compatibility: :func:`blosc_decompress` reads every chunk c-blosc 1.x writes with blosclz, lz4,
lz4hc, zlib and zstd (snappy raises :class:`CodecError`). :func:`blosc_compress` writes lz4, lz4hc,
zlib and zstd chunks framed as c-blosc 1.x frames them: the same block size, splits (every codec
but zstd cuts full blocks into byte planes), raw splits and MEMCPYED fallback, so the header and
layout equal numcodecs' for the same input; the bytes equal numcodecs' where the libraries give
c-blosc's streams: lz4 (the same ``LZ4_compress_fast`` call) and zlib do here, lz4hc and zstd
builds differ. Malformed input always raises :class:`CorruptChunkError`, and decoding never
allocates more than the limit given.
"""

from __future__ import annotations

import functools
import struct
import threading
import zlib
from typing import Any

import lz4.block
import numpy as np
import zstandard

from ..errors import CodecError, CorruptChunkError
from .chain import scratch
from . import cblosc
from .cblosc import MAX_OVERHEAD  # the header: c-blosc's BLOSC_MAX_OVERHEAD
from .lz4_direct import lz4_compress_fast
from .zstd import lend_compressor

__all__ = ["blosc_compress", "blosc_compress_view", "blosc_decompress", "blosc_decompress_into", "CNAMES",
           "CODEC_IDS"]

HEADER = struct.Struct("<BBBBIII")
_I32 = struct.Struct("<i")
MAX_BUFFERSIZE = 2**31 - 1 - MAX_OVERHEAD
MIN_BUFFERSIZE = 128
MAX_SPLITS = 16
L1 = 32 * 1024

DOSHUFFLE, MEMCPYED, DOBITSHUFFLE, RESERVED, DONT_SPLIT = 0x01, 0x02, 0x04, 0x08, 0x10

#: the format code stored in ``flags >> 5`` for each cname
CODEC_IDS = {"blosclz": 0, "lz4": 1, "lz4hc": 1, "snappy": 2, "zlib": 3, "zstd": 4}
CNAMES = tuple(CODEC_IDS)
_WRITABLE = ("lz4", "lz4hc", "zlib", "zstd")
_HCR = ("lz4hc", "zlib", "zstd")  # high-compression-ratio codecs get larger blocks (as c-blosc)
_CODEC_NAMES = {0: "blosclz", 1: "lz4", 2: "snappy", 3: "zlib", 4: "zstd"}

_local = threading.local()


def _zstd_d() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "d", None)
    if d is None:
        d = _local.d = zstandard.ZstdDecompressor()
    return d


def _corrupt(msg: str) -> CorruptChunkError:
    return CorruptChunkError(f"codec 'blosc': {msg}")


# ---------------------------------------------------------------------------------------------
# shuffles (numpy, one block at a time)

def _byte_unshuffle(src: np.ndarray, dst: np.ndarray, ts: int) -> None:
    """``dst[i*ts + j] = src[j*q + i]`` for the first ``q*ts`` bytes; the tail is copied."""
    n = len(src)
    q = n // ts
    m = q * ts
    _unshuffle_planes(src[:m].reshape(ts, q), dst[:m], ts)
    dst[m:] = src[m:]


def _unshuffle_planes(planes, dst: np.ndarray, ts: int) -> None:
    """Interleave ``ts`` byte planes of ``q`` bytes each into the ``q * ts`` bytes of ``dst``
    (plane ``j`` holds byte ``j`` of every item). ``planes`` is an array or a list of planes:
    the splits of a block, which then need no joining."""
    if ts == 2:  # one shift and one or into u16s: 2.4x faster than two strided copies
        items = dst.view("<u2")
        np.left_shift(planes[1], 8, out=items, dtype=np.uint16)
        items |= planes[0]
        return
    if ts == 4:  # the same twice into u16 halves, then once into u32s: 1.4x faster
        low, high = np.left_shift(planes[1], 8, dtype=np.uint16), np.left_shift(planes[3], 8, dtype=np.uint16)
        low |= planes[0]
        high |= planes[2]
        words = dst.view("<u4")
        np.left_shift(high, 16, out=words, dtype=np.uint32)
        words |= low
        return
    out = dst.reshape(-1, ts)
    for j in range(ts):  # one strided copy per byte plane: 3-9x faster than a transposed copy
        out[:, j] = planes[j]


_UINT: dict[int, np.dtype] = {2: np.dtype("<u2"), 4: np.dtype("<u4")}  # 8: strided copies are faster


def _byte_shuffle(src: np.ndarray, ts: int, out: np.ndarray | None = None, blocks: int = 1) -> np.ndarray:
    """Elements -> ``ts`` byte planes (plane ``j`` holds byte ``j`` of every element), then the
    trailing ``len % ts`` bytes as they are; into ``out`` (as long as ``src``) when given.

    With ``blocks``, ``src`` is that many equal blocks (of a multiple of ``ts`` bytes), each
    shuffled on its own, as Blosc does, in one pass over all of them: few numpy calls per chunk
    keep threads from queueing for the GIL."""
    n = len(src)
    if out is None:
        out = np.empty(n, np.uint8)
    q = n // (blocks * ts)  # items per block
    m = q * ts * blocks
    planes = out[:m].reshape(blocks, ts, q)
    uint = _UINT.get(ts)
    if uint is not None:  # shifts on whole items, stored as bytes: 2-4x faster than strided copies
        items = src[:m].view(uint).reshape(blocks, q)
        planes[:, 0] = items  # numpy keeps the low byte of each item
        for j in range(1, ts):  # no temporary array: the ufunc casts as it stores
            np.right_shift(items, 8 * j, out=planes[:, j], casting="unsafe")
    else:
        per_byte = src[:m].reshape(blocks, q, ts)
        for j in range(ts):
            planes[:, j] = per_byte[:, :, j]
    out[m:] = src[m:]
    return out


_M1, _M2, _M3 = np.uint64(0x00AA00AA00AA00AA), np.uint64(0x0000CCCC0000CCCC), np.uint64(0x00000000F0F0F0F0)
_S1, _S2, _S3 = np.uint64(7), np.uint64(14), np.uint64(28)


def _transpose8(x: np.ndarray) -> np.ndarray:
    """Transpose, in place (``x`` must be a writable copy), the 8x8 bit matrix in each uint64 (bit ``8*r + c`` <-> ``8*c + r``)."""
    for mask, shift in ((_M1, _S1), (_M2, _S2), (_M3, _S3)):
        t = x >> shift
        t ^= x
        t &= mask
        x ^= t
        t <<= shift
        x ^= t
    return x


def _bit_unshuffle(src: np.ndarray, dst: np.ndarray, ts: int) -> None:
    """Bit planes -> elements; a block whose element count is not a multiple of 8 is stored as is.

    Plane ``8*j + k`` holds bit k of byte j of every element, LSB-first. Eight plane bytes (k =
    0..7) of one byte position j and one group of 8 elements form an 8x8 bit matrix; transposing
    it gives byte j of those 8 elements. A byte transpose then interleaves the ``ts`` byte
    positions, as the byte unshuffle does.
    """
    n = len(src) // ts
    if n % 8:
        dst[:] = src
        return
    m, nb = n * ts, n // 8
    x: np.ndarray = src[:m].reshape(ts, 8, nb).transpose(0, 2, 1).copy().view("<u8")  # (ts, nb, 1)
    x = _transpose8(x).view(np.uint8).reshape(ts, n)  # byte j of every element, element-ordered
    dst[:m].reshape(n, ts)[...] = x.T
    dst[m:] = src[m:]


def _bit_shuffle(src: np.ndarray, ts: int) -> np.ndarray:
    n = len(src) // ts
    if n % 8:
        return src
    m, nb = n * ts, n // 8
    x = src[:m].reshape(n, ts).T.copy().view("<u8")  # (ts, nb): byte j of 8 elements
    y = _transpose8(x).view(np.uint8).reshape(ts, nb, 8)  # byte k = bit k of those 8 elements
    out = np.empty(len(src), np.uint8)
    out[:m].reshape(ts, 8, nb)[...] = y.transpose(0, 2, 1)
    out[m:] = src[m:]
    return out


# ---------------------------------------------------------------------------------------------
# decoding

def _blosclz_decompress(src, size: int) -> bytes:
    """Decode one BloscLZ split (§5.4) into exactly ``size`` bytes."""
    ip, n = 0, len(src)
    if n == 0:
        raise _corrupt("empty blosclz stream")
    op = bytearray()
    ctrl = src[ip] & 31
    ip += 1
    while True:
        if ctrl < 32:  # literal run of ctrl + 1 bytes
            run = ctrl + 1
            if ip + run > n or len(op) + run > size:
                raise _corrupt("blosclz literal runs past the end of the stream or the block")
            op += src[ip:ip + run]
            ip += run
        else:  # match
            length = (ctrl >> 5) - 1
            ofs = (ctrl & 31) << 8
            if length == 6:
                while True:
                    if ip >= n:
                        raise _corrupt("truncated blosclz match length")
                    code = src[ip]
                    ip += 1
                    length += code
                    if code != 255:
                        break
            if ip >= n:
                raise _corrupt("truncated blosclz match")
            code = src[ip]
            ip += 1
            length += 3
            dist = ofs + code + 1
            if code == 255 and ofs == 31 << 8:
                if ip + 2 > n:
                    raise _corrupt("truncated blosclz far match")
                dist = ((src[ip] << 8) | src[ip + 1]) + 8191 + 1
                ip += 2
            start = len(op) - dist
            if start < 0 or len(op) + length > size:
                raise _corrupt("blosclz match reaches outside the block")
            if dist >= length:
                op += op[start:start + length]
            else:  # overlapping copy: the pattern of the last ``dist`` bytes repeats
                pattern = op[start:]
                op += (pattern * (length // dist + 1))[:length]
        if ip >= n:
            break
        ctrl = src[ip]
        ip += 1
    if len(op) != size:
        raise _corrupt(f"blosclz split decodes to {len(op)} bytes, expected {size}")
    return bytes(op)


def _decompress_split(codec: int, data, size: int):
    """Decompress one split that must decode to exactly ``size`` bytes."""
    try:
        if codec == 1:
            out = lz4.block.decompress(data, uncompressed_size=size)
        elif codec == 4:
            fcs = zstandard.frame_content_size(data)
            if fcs not in (-1, size):
                raise _corrupt(f"zstd split declares {fcs} bytes, expected {size}")
            out = _zstd_d().decompress(data, max_output_size=size)
        elif codec == 3:
            d = zlib.decompressobj()
            out = d.decompress(data, size + 1)
            if not d.eof:
                raise _corrupt("truncated or oversized zlib split")
        elif codec == 0:
            return _blosclz_decompress(data, size)
        elif codec == 2:
            raise CodecError("codec 'blosc': the chunk is compressed with snappy, which zarrsync cannot decode")
        else:
            raise _corrupt(f"unknown compressor code {codec} in the header flags")
    except (lz4.block.LZ4BlockError, zstandard.ZstdError, zlib.error, ValueError, OverflowError,
            MemoryError) as e:
        if isinstance(e, (CorruptChunkError, CodecError)):
            raise
        raise _corrupt(f"{_CODEC_NAMES[codec]} split does not decode: {e}") from None
    if len(out) != size:
        raise _corrupt(f"{_CODEC_NAMES[codec]} split decodes to {len(out)} bytes, expected {size}")
    return out


def _parse_header(buf: memoryview, max_size: int):
    if len(buf) < MAX_OVERHEAD:
        raise _corrupt(f"chunk of {len(buf)} bytes is shorter than the 16-byte header")
    version, _versionlz, flags, typesize, nbytes, blocksize, cbytes = HEADER.unpack_from(buf)
    if version not in (1, 2):
        raise _corrupt(f"unsupported format version {version} (Blosc1 chunks have version 2)")
    if flags & RESERVED:
        raise _corrupt(f"reserved flag bit 0x08 is set (flags 0x{flags:02x})")
    if cbytes < MAX_OVERHEAD or cbytes > len(buf):
        raise _corrupt(f"header cbytes {cbytes} does not fit a buffer of {len(buf)} bytes")
    if nbytes > max_size:
        raise _corrupt(f"header nbytes {nbytes} exceeds the {max_size} bytes a chunk can hold")
    return flags, typesize, nbytes, blocksize, cbytes


def blosc_decompress_into(buf, out, accelerate: bool = True) -> None:
    """Decode a Blosc1 chunk into the writable buffer ``out``, which it must fill exactly.

    With ``accelerate`` (the default) and numcodecs installed, a chunk that passes the header
    and block-offset checks is decoded by numcodecs' c-blosc; ``accelerate=False`` always uses
    the numpy decoder. Both give the same bytes."""
    out = memoryview(out).cast("B")
    buf = memoryview(buf).cast("B")
    flags, typesize, nbytes, _, _ = _parse_header(buf, len(out))
    if nbytes != len(out):
        raise _corrupt(f"chunk decodes to {nbytes} bytes, expected {len(out)}")
    _decode_body(buf, np.frombuffer(out, np.uint8), accelerate)


def blosc_decompress(buf, max_size: int, accelerate: bool = True) -> bytes:
    """Decode one Blosc1 chunk (``SPEC_CHECKLIST`` §5.2).

    Parameters
    ----------
    buf
        The chunk (any bytes-like); bytes after ``cbytes`` are ignored, as c-blosc does.
    max_size
        The most bytes the chunk may decode to; a header promising more raises.
    accelerate
        Let numcodecs' c-blosc decode the chunk when numcodecs is installed (see
        :func:`blosc_decompress_into`).

    Raises
    ------
    CorruptChunkError
        For any malformed chunk. :class:`CodecError` for a snappy chunk.

    Example
    -------
    >>> blosc_decompress(blosc_compress(b"abc" * 100, 1, "zstd", 5, 0), 300) == b"abc" * 100
    True
    """
    buf = memoryview(buf).cast("B")
    flags, typesize, nbytes, blocksize, cbytes = _parse_header(buf, max_size)
    if nbytes == 0:
        return b""
    if flags & MEMCPYED:  # fast path: stored raw, shuffle bits ignored
        if cbytes != nbytes + MAX_OVERHEAD:
            raise _corrupt(f"memcpyed chunk has cbytes {cbytes}, expected nbytes + 16 = {nbytes + 16}")
        return bytes(buf[MAX_OVERHEAD:cbytes])
    out = np.empty(nbytes, np.uint8)
    _decode_body(buf, out, accelerate)
    return out.tobytes()


def c_blosc() -> cblosc.CBlosc | None:
    """numcodecs' c-blosc (:func:`.cblosc.load`) when numcodecs is installed, the optional
    accelerator of decoding and of lz4 encoding; else None."""
    return cblosc.load()


def _c_decode(buf: memoryview, out: np.ndarray) -> bool:
    """Decode a chunk whose header and block offsets passed our checks with c-blosc; False when
    there is no c-blosc or it refuses the chunk, which then goes to the numpy decoder (which
    names what is wrong, or reads what c-blosc does not: version-1 chunks, for one). Decoded
    bytes are the same either way; c-blosc unshuffles with SIMD and never holds the GIL."""
    blosc = c_blosc()
    return blosc is not None and blosc.decompress_into(np.frombuffer(buf, np.uint8), out)


def _decode_body(buf: memoryview, out: np.ndarray, accelerate: bool = True) -> None:
    flags, typesize, nbytes, blocksize, cbytes = HEADER.unpack_from(buf)[2:]
    if nbytes == 0:
        return
    if flags & MEMCPYED:
        if cbytes != nbytes + MAX_OVERHEAD:
            raise _corrupt(f"memcpyed chunk has cbytes {cbytes}, expected nbytes + 16 = {nbytes + 16}")
        out[:] = np.frombuffer(buf[MAX_OVERHEAD:cbytes], np.uint8)
        return
    if blocksize == 0 or typesize == 0:
        raise _corrupt(f"header has blocksize {blocksize} and typesize {typesize}; both must be positive")
    codec = flags >> 5
    if codec == 2:
        raise CodecError("codec 'blosc': the chunk is compressed with snappy, which zarrsync cannot decode")
    if codec not in _CODEC_NAMES:
        raise _corrupt(f"unknown compressor code {codec} in the header flags 0x{flags:02x}")
    nblocks, leftover = divmod(nbytes, blocksize)
    if leftover:
        nblocks += 1
    data_start = MAX_OVERHEAD + 4 * nblocks
    if data_start > cbytes:
        raise _corrupt(f"{nblocks} block offsets do not fit in cbytes {cbytes}")
    bstarts = np.frombuffer(buf, "<i4", nblocks, MAX_OVERHEAD)
    if nblocks and (int(bstarts.min()) < data_start or int(bstarts.max()) >= cbytes):
        raise _corrupt(f"a block offset lies outside [{data_start}, {cbytes})")
    if accelerate and _c_decode(buf[:cbytes], out):
        return
    shuffle = (flags & DOSHUFFLE) and typesize > 1
    bitshuffle = not shuffle and flags & DOBITSHUFFLE
    dont_split = flags & DONT_SPLIT
    for j in range(nblocks):
        is_leftover = leftover and j == nblocks - 1
        bsize = leftover if is_leftover else blocksize
        if not dont_split and typesize <= MAX_SPLITS and bsize // typesize >= MIN_BUFFERSIZE and not is_leftover:
            nsplits = typesize
        else:
            nsplits = 1
        neblock, rest = divmod(bsize, nsplits)
        if rest:
            raise _corrupt(f"blocksize {bsize} is not a multiple of the {nsplits} splits")
        pos = int(bstarts[j])
        parts = []
        for _ in range(nsplits):
            if pos + 4 > cbytes:
                raise _corrupt(f"block {j}: split size runs past cbytes {cbytes}")
            csize = int.from_bytes(buf[pos:pos + 4], "little", signed=True)
            pos += 4
            if csize < 0 or pos + csize > cbytes:
                raise _corrupt(f"block {j}: split of {csize} bytes runs past cbytes {cbytes}")
            piece = buf[pos:pos + csize]
            pos += csize
            parts.append(piece if csize == neblock else _decompress_split(codec, piece, neblock))
        dst = out[j * blocksize:j * blocksize + bsize]
        if shuffle and nsplits == typesize:  # each split is one byte plane
            _unshuffle_planes([np.frombuffer(p, np.uint8) for p in parts], dst, typesize)
        elif shuffle or (bitshuffle and bsize >= typesize):
            block = np.frombuffer(parts[0] if nsplits == 1 else b"".join(parts), np.uint8)
            if shuffle:
                _byte_unshuffle(block, dst, typesize)
            else:
                _bit_unshuffle(block, dst, typesize)
        elif nsplits == 1:
            dst[:] = np.frombuffer(parts[0], np.uint8)
        else:
            dst[:] = np.frombuffer(b"".join(parts), np.uint8)


# ---------------------------------------------------------------------------------------------
# encoding

_LEVEL_FACTOR = (0.25, 0.5, 1, 2, 4, 4, 8, 8, 8, 8)  # block size per clevel, in units of L1


def _splits(cname: str, typesize: int, blocksize: int) -> bool:
    """Whether c-blosc 1.x cuts blocks into ``typesize`` splits, one byte plane each (its default
    "forward compatible" rule): every codec but zstd, for typesizes up to 16 and blocks of at
    least 128 elements. The short last block of a chunk is never split."""
    return cname != "zstd" and typesize <= MAX_SPLITS and blocksize // typesize >= MIN_BUFFERSIZE


def _compute_blocksize(cname: str, clevel: int, typesize: int, nbytes: int, forced: int) -> int:
    """The block size c-blosc 1.x chooses (``SPEC_CHECKLIST`` §5.3), so chunks come out byte for
    byte as numcodecs writes them."""
    if nbytes < typesize:
        return 1
    if forced:
        bs = min(max(forced, MIN_BUFFERSIZE), MAX_BUFFERSIZE)
    elif nbytes >= L1:
        hcr = cname in _HCR
        bs = int(L1 * (2 if hcr else 1) * _LEVEL_FACTOR[clevel] * (2 if clevel == 9 and hcr else 1))
    else:
        bs = nbytes
    if clevel > 0 and _splits(cname, typesize, bs):  # split codecs get larger blocks
        bs = min(max(min(bs, 1 << 18) * typesize, 1 << 16), 1 << 20)
    bs = min(bs, nbytes)
    if bs > typesize:
        bs = bs // typesize * typesize
    return bs


def _lz4_acceleration(clevel: int) -> int:
    """The LZ4 acceleration c-blosc 1.x uses for a clevel."""
    return 10 - clevel


def _compress_split(cname: str, clevel: int, data) -> bytes:
    if cname == "lz4":
        return lz4.block.compress(data, mode="fast", acceleration=_lz4_acceleration(clevel), store_size=False)
    if cname == "lz4hc":
        return lz4.block.compress(data, mode="high_compression", compression=clevel, store_size=False)
    if cname == "zstd":
        level = 2 * clevel - 1 if clevel < 9 else zstandard.MAX_COMPRESSION_LEVEL
        with lend_compressor(level, False) as c:
            return c.compress(data)
    return zlib.compress(data, clevel)


def blosc_compress(data, typesize: int, cname: str, clevel: int, shuffle: int, blocksize: int = 0,
                   accelerate: bool = True) -> bytes:
    """Encode ``data`` as one Blosc1 chunk that c-blosc and numcodecs can read.

    Parameters
    ----------
    data
        Any contiguous bytes-like.
    typesize
        Element size for the shuffles (values over 255 are stored as 1, as c-blosc does).
    cname
        ``"lz4"``, ``"lz4hc"``, ``"zstd"`` or ``"zlib"`` (``"blosclz"`` and ``"snappy"`` are
        read but not written).
    clevel
        0..9; 0 stores the data raw (a MEMCPYED chunk).
    shuffle
        0 none, 1 byte shuffle, 2 bit shuffle.
    blocksize
        Bytes per block; 0 picks one as c-blosc would.
    accelerate
        Let numcodecs' c-blosc encode lz4 chunks when numcodecs is installed and writes the same
        bytes (checked on probes when it is first used); ``False`` always uses numpy.

    Example
    -------
    >>> chunk = blosc_compress(bytes(1000), 4, "lz4", 5, 1)
    >>> chunk[:4].hex(), len(chunk) < 1000  # version 2, lz4 1, flags: lz4, byte shuffle; typesize 4
    ('02012104', True)
    """
    return bytes(blosc_compress_view(data, typesize, cname, clevel, shuffle, blocksize, accelerate))


def blosc_compress_view(data, typesize: int, cname: str, clevel: int, shuffle: int, blocksize: int = 0,
                        accelerate: bool = True) -> memoryview:
    """:func:`blosc_compress`, as a read-only view of a per-thread buffer that this thread's
    next call reuses: what a codec chain hands its store (no copy, and no fresh pages to fault
    in for every chunk)."""
    if cname not in CODEC_IDS:
        raise CodecError(f"codec 'blosc': unknown cname {cname!r}, expected one of {list(CNAMES)}")
    if cname not in _WRITABLE:
        raise CodecError(f"codec 'blosc': cname {cname!r} is not supported for writing "
                         f"(use one of {list(_WRITABLE)})")
    if isinstance(clevel, bool) or not isinstance(clevel, int) or not 0 <= clevel <= 9:
        raise CodecError(f"codec 'blosc': clevel must be an integer 0..9, got {clevel!r}")
    if shuffle not in (0, 1, 2) or isinstance(shuffle, bool):
        raise CodecError(f"codec 'blosc': shuffle must be 0, 1 or 2, got {shuffle!r}")
    if isinstance(typesize, bool) or not isinstance(typesize, int) or typesize < 1:
        raise CodecError(f"codec 'blosc': typesize must be a positive integer, got {typesize!r}")
    if isinstance(blocksize, bool) or not isinstance(blocksize, int) or blocksize < 0:
        raise CodecError(f"codec 'blosc': blocksize must be a non-negative integer, got {blocksize!r}")
    mv = memoryview(data)
    if not mv.c_contiguous:
        mv = memoryview(mv.tobytes())
    src = np.frombuffer(mv.cast("B") if mv.ndim != 1 or mv.format != "B" else mv, np.uint8)
    nbytes = len(src)
    if nbytes > MAX_BUFFERSIZE:
        raise CodecError(f"codec 'blosc': {nbytes} bytes exceed the Blosc1 limit of {MAX_BUFFERSIZE}")
    ts = typesize if typesize <= 255 else 1
    bs = _compute_blocksize(cname, clevel, ts, nbytes, blocksize)
    flags = ((0 if _splits(cname, ts, bs) else DONT_SPLIT) | (CODEC_IDS[cname] << 5)
             | (DOSHUFFLE if shuffle == 1 else DOBITSHUFFLE if shuffle == 2 else 0))
    # no split starts past nbytes + 16 (the loop stops there) or writes more than 4 + bs bytes
    out = scratch(nbytes + MAX_OVERHEAD + 4 + bs, "blosc-out")
    if np.may_share_memory(out, src):  # compressing this thread's last result again
        out = np.empty(len(out), np.uint8)
    blosc = _c_encoder() if accelerate and cname == "lz4" else None
    if blosc is not None:  # c-blosc writes this function's bytes, in one call without the GIL
        size = blosc.compress_into(src, ts, cname, clevel, shuffle, blocksize, out)
        if size and HEADER.unpack_from(out) == (2, 1, flags | (out[2] & MEMCPYED), ts, nbytes, bs, size):
            return memoryview(out[:size]).toreadonly()
    size = _compress_blocks(src, ts, cname, clevel, flags, bs, out) if clevel > 0 and nbytes >= MIN_BUFFERSIZE else 0
    if not size:  # stored as it is
        size = nbytes + MAX_OVERHEAD
        HEADER.pack_into(out, 0, 2, 1, flags | MEMCPYED, ts, nbytes, bs, size)
        out[MAX_OVERHEAD:size] = src
    return memoryview(out[:size]).toreadonly()


def _c_encoder() -> cblosc.CBlosc | None:
    """c-blosc, where it encodes lz4 chunks byte for byte as this module does (checked once per
    library on probe chunks; each chunk's header is checked too), else None."""
    blosc = c_blosc()
    return blosc if blosc is not None and _encodes_as_numpy(blosc) else None


@functools.cache
def _encodes_as_numpy(blosc: cblosc.CBlosc) -> bool:
    """Whether ``blosc`` writes the numpy path's lz4 chunks on probes that cover split and unsplit
    blocks, the three shuffles, raw splits, a forced block size and the MEMCPYED fallback."""
    if lz4_compress_fast() is None:  # the numpy path uses lz4.block, whose bytes differ
        return False
    ramp = np.arange(20001, dtype="<u4") // 7  # one full block of 64 KiB, one short
    mix = np.arange(9001, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # a hash: bytes lz4 cannot shrink
    mix ^= mix >> np.uint64(29)
    noise = ((mix * np.uint64(0xBF58476D1CE4E5B9)) >> np.uint64(56)).astype(np.uint8)
    half = np.concatenate([noise, np.zeros(70000, np.uint8)])  # raw splits beside compressed ones
    probes = [(ramp, 4, 5, 1, 0), (ramp, 2, 9, 2, 0), (ramp, 8, 1, 0, 4096), (ramp[:300], 4, 5, 1, 0),
              (ramp, 32, 3, 1, 0), (half, 2, 5, 1, 0), (noise, 2, 5, 1, 0), (ramp[:20], 4, 5, 1, 0),
              (ramp, 4, 0, 1, 0)]
    for data, ts, clevel, shuffle, blocksize in probes:
        src = data.view(np.uint8)  # the probes are contiguous and 1-d
        out = np.empty(len(src) + MAX_OVERHEAD, np.uint8)
        size = blosc.compress_into(src, ts, "lz4", clevel, shuffle, blocksize, out)
        if bytes(out[:size]) != blosc_compress(src, ts, "lz4", clevel, shuffle, blocksize, accelerate=False):
            return False
    return True


def _compress_blocks(src: np.ndarray, ts: int, cname: str, clevel: int, flags: int, bs: int, out: np.ndarray) -> int:
    """Write the compressed chunk into ``out`` (at least ``nbytes + 20 + bs`` bytes) and return
    its size; 0 where c-blosc stores it MEMCPYED: when the chunk, counted split by split, would
    outgrow ``nbytes + 16`` bytes. A split that does not shrink is stored raw (csize == its
    size). lz4 splits are compressed in place by :mod:`.lz4_direct` where it can, with no
    allocation or copy per split."""
    nbytes = len(src)
    nblocks = -(-nbytes // bs)
    limit = nbytes + MAX_OVERHEAD
    pos = MAX_OVERHEAD + 4 * nblocks
    bstarts = out[MAX_OVERHEAD:pos].view("<i4")
    split = not flags & DONT_SPLIT
    byte_shuffle = flags & DOSHUFFLE and ts > 1
    full = nbytes // bs  # blocks of bs bytes (bs is a multiple of ts)
    # all full blocks shuffled in one pass, into per-thread buffers (fresh ones cost page faults)
    shuffled = _byte_shuffle(src[:full * bs], ts, scratch(full * bs, "blosc-shuffled"), full) \
        if byte_shuffle and full > 1 else None
    lz4_fast = lz4_compress_fast() if cname == "lz4" else None
    acceleration = _lz4_acceleration(clevel)
    out_addr = out.ctypes.data
    for j in range(nblocks):
        block = src[j * bs:(j + 1) * bs]
        size = len(block)
        if shuffled is not None and j < full:
            block = shuffled[j * bs:(j + 1) * bs]
        elif byte_shuffle:
            block = _byte_shuffle(block, ts, scratch(size, "blosc-shuffled-block"))
        elif flags & DOBITSHUFFLE and size >= ts:
            block = _bit_shuffle(block, ts)
        nsplits = ts if split and size == bs else 1
        part = size // nsplits
        bstarts[j] = pos
        block_addr = block.ctypes.data if lz4_fast is not None else 0
        for k in range(nsplits):
            # csize < part, else the split is stored raw (0: it did not fit in part - 1 bytes)
            if lz4_fast is not None:
                csize = lz4_fast(block_addr + k * part, out_addr + pos + 4, part, part - 1, acceleration)
            else:
                comp = _compress_split(cname, clevel, block[k * part:(k + 1) * part].data)
                csize = len(comp) if len(comp) < part else 0
                out[pos + 4:pos + 4 + csize] = np.frombuffer(comp, np.uint8, csize)
            if not csize:
                csize = part
                out[pos + 4:pos + 4 + part] = block[k * part:(k + 1) * part]
            _I32.pack_into(out, pos, csize)
            pos += 4 + csize
            if pos > limit:
                return 0
    HEADER.pack_into(out, 0, 2, 1, flags, ts, nbytes, bs, pos)
    return pos
