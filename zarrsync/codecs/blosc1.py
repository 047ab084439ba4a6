"""Blosc1: the chunk format written by c-blosc 1.x (numcodecs ``Blosc``, the v3 ``blosc`` codec).

Written with numpy, ``lz4.block``, ``zstandard`` and ``zlib`` only; c-blosc is not needed.
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
zlib and zstd chunks with DONT_SPLIT set, which c-blosc and numcodecs read. Malformed input
always raises :class:`CorruptChunkError`, and decoding never allocates more than the limit given.
"""

from __future__ import annotations

import struct
import threading
import zlib

import lz4.block
import numpy as np
import zstandard

from ..errors import CodecError, CorruptChunkError
from .zstd import lend_compressor

__all__ = ["blosc_compress", "blosc_decompress", "blosc_decompress_into", "CNAMES", "CODEC_IDS"]

HEADER = struct.Struct("<BBBBIII")
MAX_OVERHEAD = 16
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
    out = dst.reshape(-1, ts)
    for j in range(ts):  # one strided copy per byte plane: 3-9x faster than a transposed copy
        out[:, j] = planes[j]


def _byte_shuffle(src: np.ndarray, ts: int) -> np.ndarray:
    n = len(src)
    q = n // ts
    m = q * ts
    out = np.empty(n, np.uint8)
    planes, items = out[:m].reshape(ts, q), src[:m].reshape(q, ts)
    for j in range(ts):
        planes[j] = items[:, j]
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


def blosc_decompress_into(buf, out) -> None:
    """Decode a Blosc1 chunk into the writable buffer ``out``, which it must fill exactly."""
    out = memoryview(out).cast("B")
    buf = memoryview(buf).cast("B")
    flags, typesize, nbytes, _, _ = _parse_header(buf, len(out))
    if nbytes != len(out):
        raise _corrupt(f"chunk decodes to {nbytes} bytes, expected {len(out)}")
    _decode_body(buf, np.frombuffer(out, np.uint8))


def blosc_decompress(buf, max_size: int) -> bytes:
    """Decode one Blosc1 chunk (``SPEC_CHECKLIST`` §5.2).

    Parameters
    ----------
    buf
        The chunk (any bytes-like); bytes after ``cbytes`` are ignored, as c-blosc does.
    max_size
        The most bytes the chunk may decode to; a header promising more raises.

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
    _decode_body(buf, out)
    return out.tobytes()


def _decode_body(buf: memoryview, out: np.ndarray) -> None:
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

def _compute_blocksize(cname: str, clevel: int, typesize: int, nbytes: int, forced: int) -> int:
    """A blocksize close to c-blosc's ``compute_blocksize`` (no splits are written)."""
    if nbytes < typesize:
        return max(nbytes, 1)
    if forced:
        bs = min(max(forced, MIN_BUFFERSIZE), MAX_BUFFERSIZE)
    elif nbytes >= L1:
        bs = L1 * (2 if cname in _HCR else 1)
        bs = int(bs * {0: 0.25, 1: 0.5, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 8, 8: 8, 9: 8}[clevel])
        if clevel == 9 and cname in _HCR:
            bs *= 2
        if clevel > 0 and cname not in _HCR and typesize <= MAX_SPLITS:
            # c-blosc enlarges blocks it would split; we keep the block size it would choose
            bs = min(max(min(bs, 1 << 18) * typesize, 1 << 16), 1 << 20)
    else:
        bs = nbytes
    bs = min(bs, nbytes)
    if bs > typesize:
        bs = bs // typesize * typesize
    return bs


def _compress_split(cname: str, clevel: int, data) -> bytes:
    if cname == "lz4":
        return lz4.block.compress(data, mode="fast", acceleration=10 - clevel, store_size=False)
    if cname == "lz4hc":
        return lz4.block.compress(data, mode="high_compression", compression=clevel, store_size=False)
    if cname == "zstd":
        level = 2 * clevel - 1 if clevel < 9 else zstandard.MAX_COMPRESSION_LEVEL
        with lend_compressor(level, False) as c:
            return c.compress(data)
    return zlib.compress(data, clevel)


def blosc_compress(data, typesize: int, cname: str, clevel: int, shuffle: int, blocksize: int = 0) -> bytes:
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

    Example
    -------
    >>> chunk = blosc_compress(bytes(1000), 4, "lz4", 5, 1)
    >>> chunk[:4].hex(), len(chunk) < 1000
    ('02013104', True)
    """
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
    flags = DONT_SPLIT | (CODEC_IDS[cname] << 5) | (DOSHUFFLE if shuffle == 1 else DOBITSHUFFLE if shuffle == 2 else 0)
    bs = _compute_blocksize(cname, clevel, ts, nbytes, blocksize)
    if clevel > 0 and nbytes >= MIN_BUFFERSIZE:
        chunk = _compress_blocks(src, ts, cname, clevel, flags, bs)
        if chunk is not None:
            return chunk
    header = HEADER.pack(2, 1, flags | MEMCPYED, ts, nbytes, bs, nbytes + MAX_OVERHEAD)
    return header + src.tobytes()


def _compress_blocks(src: np.ndarray, ts: int, cname: str, clevel: int, flags: int, bs: int) -> bytes | None:
    """The compressed chunk, or None if it would not be smaller than a MEMCPYED one."""
    nbytes = len(src)
    nblocks = -(-nbytes // bs)
    limit = nbytes + MAX_OVERHEAD
    pos = MAX_OVERHEAD + 4 * nblocks
    bstarts = np.empty(nblocks, "<i4")
    pieces = []
    for j in range(nblocks):
        block = src[j * bs:(j + 1) * bs]
        if flags & DOSHUFFLE and ts > 1:
            block = _byte_shuffle(block, ts)
        elif flags & DOBITSHUFFLE and len(block) >= ts:
            block = _bit_shuffle(block, ts)
        raw = block.data if block.flags.c_contiguous else block.tobytes()
        comp = _compress_split(cname, clevel, raw)
        if len(comp) >= len(block):  # incompressible: store the split raw (csize == block size)
            comp = bytes(raw)
        bstarts[j] = pos
        pieces.append(struct.pack("<i", len(comp)))
        pieces.append(comp)
        pos += 4 + len(comp)
        if pos >= limit:
            return None
    header = HEADER.pack(2, 1, flags, ts, nbytes, bs, pos)
    return b"".join([header, bstarts.tobytes(), *pieces])
