"""Blosc1 (``zarrsync.codecs.blosc1``) and the v3 ``blosc`` codec, with numcodecs as the oracle.

numcodecs' Blosc wraps c-blosc 1.x: every chunk it writes must decode exactly with the pure-numpy
decoder, and every chunk zarrsync writes must decode exactly with numcodecs; lz4 and zlib chunks
must be numcodecs' byte for byte.
"""

from __future__ import annotations

import itertools
import json
import random
import struct
import subprocess
import sys
import warnings
import zlib

import lz4.block
import numpy as np
import pytest
import zstandard

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # numcodecs' crc32c notice
    import numcodecs.blosc
    from numcodecs import Blosc

import zarrsync
from zarrsync.codecs.base import ChunkSpec
from zarrsync.codecs import blosc1, cblosc
from zarrsync.codecs.blosc import BloscCodec
from zarrsync.codecs.blosc1 import _bit_shuffle, _byte_shuffle, blosc_compress, blosc_decompress, \
    blosc_decompress_into
from zarrsync.errors import CodecError, CorruptChunkError

numcodecs.blosc.use_threads = False


@pytest.fixture(autouse=True, params=["numpy", "c-blosc"])
def decoder(request, monkeypatch) -> str:
    """Every test runs twice: coding with numpy alone, and with numcodecs' c-blosc accelerating
    decoding and lz4 encoding (the default when numcodecs is installed). Both must give the same
    bytes and the same errors."""
    from zarrsync.codecs import blosc1
    if request.param == "numpy":
        monkeypatch.setattr(blosc1, "c_blosc", lambda: None)
    else:
        assert blosc1.c_blosc() is not None
    return request.param

CNAMES = ("lz4", "lz4hc", "zstd", "zlib", "blosclz")
WRITABLE = ("lz4", "lz4hc", "zstd", "zlib")
SHUFFLES = (0, 1, 2)
TYPESIZES = (1, 2, 4, 8, 16, 3)
SIZES = (0, 1, 127, 128, 1000, 65536 + 7, 300001)
CLEVELS = (0, 1, 5, 9)
BLOCKSIZES = (0, 256, 4096)
HEADER = struct.Struct("<BBBBIII")


def make_data(size: int, seed: int) -> bytes:
    """Mixed content: a smooth ramp (compresses well, more so shuffled), a random stretch (stored
    raw in its blocks/splits) and zeros, so one chunk exercises compressed and raw splits."""
    rng = np.random.default_rng(seed)
    a, b = int(size * 0.45), int(size * 0.75)
    out = np.zeros(size, np.uint8)
    ramp = np.cumsum(rng.integers(0, 3, a // 4 + 1, dtype=np.int64)).astype("<u4").view(np.uint8)
    out[:a] = ramp[:a]
    out[a:b] = rng.integers(0, 256, b - a, dtype=np.uint8)
    return out.tobytes()


def nc_encode(data: bytes, cname, clevel, shuffle, typesize, blocksize=0) -> bytes:
    return bytes(Blosc(cname=cname, clevel=clevel, shuffle=shuffle, blocksize=blocksize,
                       typesize=typesize).encode(data))


def walk(chunk: bytes) -> dict:
    """Describe a chunk's layout independently of the decoder: memcpy, splits, raw splits, leftover."""
    _, _, flags, ts, nbytes, bs, cbytes = HEADER.unpack_from(chunk)
    info = {"memcpy": bool(flags & 2), "split": False, "raw_split": False, "leftover": False,
            "compressed_split": False}
    if nbytes == 0 or flags & 2:
        return info
    nblocks = -(-nbytes // bs)
    info["leftover"] = nbytes % bs != 0
    bstarts = struct.unpack_from(f"<{nblocks}i", chunk, 16)
    for j, start in enumerate(bstarts):
        bsize = bs if j < nblocks - 1 or not info["leftover"] else nbytes % bs
        nsplits = ts if (not flags & 0x10 and ts <= 16 and bsize // ts >= 128
                         and not (info["leftover"] and j == nblocks - 1)) else 1
        info["split"] |= nsplits > 1
        pos = start
        for _ in range(nsplits):
            (csize,) = struct.unpack_from("<i", chunk, pos)
            pos += 4 + csize
            if csize == bsize // nsplits:
                info["raw_split"] = True
            else:
                info["compressed_split"] = True
    return info


# ---------------------------------------------------------------------------------------------
# (a) decoder against numcodecs

def _decoder_cases():
    """The full cname x shuffle x typesize x size x clevel x blocksize product is 7560 cases.
    Every small-size case runs; of the two big sizes, a deterministic (seeded) sample of
    ``_BIG_FRACTION``, in which every value of every other axis still appears (checked below)."""
    pick = random.Random(1234)
    return [case for case in itertools.product(CNAMES, SHUFFLES, TYPESIZES, SIZES, CLEVELS, BLOCKSIZES)
            if case[3] < 65536 or pick.random() < _BIG_FRACTION]


_BIG_FRACTION = 0.5  # the full product passes too (~35 s); half keeps the suite quick
DECODER_CASES = _decoder_cases()


def test_decoder_case_sample_covers_every_axis_value():
    for axis, values in enumerate((CNAMES, SHUFFLES, TYPESIZES, SIZES, CLEVELS, BLOCKSIZES)):
        assert {c[axis] for c in DECODER_CASES} == set(values)
    big = [c for c in DECODER_CASES if c[3] >= 65536]
    for axis, values in enumerate((CNAMES, SHUFFLES, TYPESIZES, SIZES[5:], CLEVELS, BLOCKSIZES)):
        assert {c[axis] for c in big} == set(values)


@pytest.mark.parametrize("cname", CNAMES)
@pytest.mark.parametrize("shuffle", SHUFFLES)
@pytest.mark.parametrize("typesize", TYPESIZES)
def test_decode_numcodecs_chunks(cname, shuffle, typesize):
    cases = [c for c in DECODER_CASES if c[:3] == (cname, shuffle, typesize)]
    assert cases
    for _, _, _, size, clevel, blocksize in cases:
        data = make_data(size, seed=size + clevel)
        chunk = nc_encode(data, cname, clevel, shuffle, typesize, blocksize)
        got = blosc_decompress(chunk, size)
        assert got == data, (cname, shuffle, typesize, size, clevel, blocksize)
        assert isinstance(got, bytes)
        out = bytearray(size)
        blosc_decompress_into(chunk, out)
        assert out == data
        # bytes after cbytes are ignored, as c-blosc ignores them
        assert blosc_decompress(chunk + b"\x00junk", size) == data


def test_decoder_product_exercises_every_layout_feature():
    """The oracle chunks above really contain splits, raw and compressed splits, short last
    blocks and memcpyed chunks carrying shuffle flags (checked by walking the layout)."""
    seen = {k: set() for k in ("memcpy", "split", "raw_split", "leftover", "compressed_split")}
    for cname, shuffle, typesize, size, clevel, blocksize in [
            ("lz4", 1, 4, 65543, 5, 4096), ("blosclz", 2, 2, 65543, 5, 0), ("lz4hc", 0, 8, 300001, 9, 0),
            ("zlib", 1, 3, 65543, 1, 256), ("zstd", 2, 16, 300001, 5, 4096), ("lz4", 1, 4, 1000, 0, 0),
            ("blosclz", 0, 1, 127, 5, 0)]:
        data = make_data(size, size + clevel)
        chunk = nc_encode(data, cname, clevel, shuffle, typesize, blocksize)
        for k, v in walk(chunk).items():
            if v:
                seen[k].add(cname)
        assert blosc_decompress(chunk, size) == data
    # c-blosc splits only blosclz/lz4/lz4hc/snappy streams (zlib/zstd splits: hand-made test below)
    assert seen["split"] == {"lz4", "blosclz", "lz4hc"}
    assert seen["raw_split"] and seen["compressed_split"] and seen["leftover"] and seen["memcpy"]
    # memcpyed with the shuffle flag set
    chunk = nc_encode(make_data(1000, 5), "lz4", 0, 1, 4)
    assert chunk[2] & 0x03 == 0x03
    assert blosc_decompress(chunk, 1000) == make_data(1000, 5)


# ---------------------------------------------------------------------------------------------
# (b) encoder against numcodecs

@pytest.mark.parametrize("cname", WRITABLE)
@pytest.mark.parametrize("shuffle", SHUFFLES)
def test_encode_decodes_with_numcodecs(cname, shuffle):
    for typesize, size in itertools.product(TYPESIZES, SIZES):
        clevel = (1, 5, 9)[(typesize + size) % 3] if cname != "zstd" or size < 65536 else 5
        data = make_data(size, seed=typesize * 7 + size)
        chunk = blosc_compress(data, typesize, cname, clevel, shuffle)
        assert blosc_decompress(chunk, size) == data
        version, versionlz, flags, ts, nbytes, _, cbytes = HEADER.unpack_from(chunk)
        assert (version, versionlz, ts, nbytes, cbytes) == (2, 1, typesize, size, len(chunk))
        # c-blosc's framing: the same flags (but MEMCPYED, which depends on the compressed
        # sizes), typesize and block size as numcodecs; with zlib, whose library gives the same
        # deflate stream, and lz4, compressed with c-blosc's LZ4_compress_fast call, the very
        # same bytes
        reference = nc_encode(data, cname, clevel, shuffle, typesize)
        ref_flags, ref_bs = reference[2], HEADER.unpack_from(reference)[5]
        assert (flags & ~0x02, HEADER.unpack_from(chunk)[5]) == (ref_flags & ~0x02, ref_bs)
        assert bool(flags & 0x10) == (cname == "zstd" or typesize > 16 or ref_bs // typesize < 128)
        if cname in ("zlib", "lz4"):
            assert chunk == reference
        if size == 0:
            # numcodecs cannot decode even its own empty chunk; ours is byte-identical to it
            assert chunk == nc_encode(data, cname, clevel, shuffle, typesize)
            continue
        assert bytes(Blosc().decode(chunk)) == data, (cname, shuffle, typesize, size, clevel)
        if size >= 1000:
            assert len(chunk) < size and not flags & 0x02
        if size < 128:
            assert flags & 0x02 and len(chunk) == size + 16


@pytest.mark.parametrize("cname", WRITABLE)
def test_encode_clevels_blocksizes_and_raw_splits(cname):
    for clevel, blocksize, shuffle in itertools.product(CLEVELS, BLOCKSIZES, SHUFFLES):
        data = make_data(65543, clevel + blocksize)
        chunk = blosc_compress(data, 4, cname, clevel, shuffle, blocksize)
        assert bytes(Blosc().decode(chunk)) == data
        assert blosc_decompress(chunk, len(data)) == data
        info = walk(chunk)
        if clevel == 0:
            assert info["memcpy"] and len(chunk) == len(data) + 16
        else:
            # the block size c-blosc makes of the one asked for (it enlarges blocks it splits)
            bs = HEADER.unpack_from(chunk)[5]
            assert bs == HEADER.unpack_from(nc_encode(data, cname, clevel, shuffle, 4, blocksize))[5]
            # c-blosc splits every full block of at least 128 items into byte planes, except with zstd
            assert not info["memcpy"] and info["compressed_split"]
            assert info["split"] == (cname != "zstd" and bs // 4 >= 128)
            if blocksize:
                assert bs == blocksize if not info["split"] else bs > blocksize
                assert info["raw_split"] and info["leftover"]  # random stretch stored raw


def test_encode_incompressible_is_memcpyed_and_other_inputs():
    rnd = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    chunk = blosc_compress(rnd, 1, "lz4", 9, 0)
    assert chunk[2] & 0x02 and len(chunk) == 5016 and bytes(Blosc().decode(chunk)) == rnd
    # numpy arrays and memoryviews are accepted; typesize > 255 is stored as 1 (as c-blosc does)
    arr = np.linspace(0, 1, 3000).reshape(30, 100)
    for src in (arr, memoryview(arr), arr.tobytes(), bytearray(arr.tobytes())):
        assert bytes(Blosc().decode(blosc_compress(src, 8, "zstd", 5, 1))) == arr.tobytes()
    chunk = blosc_compress(arr, 300, "zlib", 5, 1)
    assert chunk[3] == 1 and blosc_decompress(chunk, arr.nbytes) == arr.tobytes()
    # non-contiguous input is copied
    assert blosc_decompress(blosc_compress(arr[:, ::2], 8, "lz4", 5, 1), 12000) == arr[:, ::2].tobytes()


@pytest.mark.parametrize("bad, match", [
    (dict(cname="blosclz"), "not supported for writing"), (dict(cname="snappy"), "not supported for writing"),
    (dict(cname="gzip"), "cname"), (dict(clevel=10), "clevel"), (dict(clevel=True), "clevel"),
    (dict(shuffle=3), "shuffle"), (dict(typesize=0), "typesize"), (dict(blocksize=-1), "blocksize")])
def test_encode_bad_arguments(bad, match):
    args = dict(typesize=4, cname="lz4", clevel=5, shuffle=1, blocksize=0) | bad
    with pytest.raises(CodecError, match=match):
        blosc_compress(b"x" * 1000, **args)


# ---------------------------------------------------------------------------------------------
# (c) golden bytes and format regressions

GOLDEN = [
    # numcodecs 0.16.6: Blosc("lz4", 5, 1, typesize=4).encode(arange(64, "<i4") * 3)
    ("020131040001000000010000680000001400000050000000ff36000306090c0f1215181b1e2124272a2d30333639"
     "3c3f4245484b4e5154575a5d606366696c6f7275787b7e8184878a8d909396999c9fa2a5a8abaeb1b4b7babd0000"
     "0000000500a3500000000000", (np.arange(64, dtype="<i4") * 3).tobytes()),
    # Blosc("blosclz", 9, 2, typesize=2).encode(arange(256, "<u2") % 50): bitshuffle + 2 splits
    ("020104020002000000020000d400000014000000ac00000023aaaaaaaae012031faacccccccccccc303333333333c3"
     "cccccccccc0c333333333333cccccccccccc1f30f0f0f0f0f0f0c0c3c3c3c3c3030f0f0f0f0f0f3c3c3c3c3c3cf0f0"
     "f0f0f0f01fc000ff00ff00ff00fc03fc03fc03f00ff00ff00fc03fc03fc03f00ff00ff00ff19000000ffff00000300"
     "fcff03000c00f0ff0f003000c0ff3f00c0a0181800000000ffff03000000fcff0f000000f0ff3f000000c0ffffe000"
     "18e03200020000000c0000002300000000e0f00302000000", (np.arange(256, dtype="<u2") % 50).astype("<u2").tobytes()),
    # Blosc("zstd", 3, 0, typesize=1).encode(bytes(range(200)) * 3)
    ("020190015802000058020000f300000014000000db00000028b52ffd6058018d0600840c000102030405060708090a0b"
     + bytes(range(12, 200)).hex() + "0100c8c6a56aa4", bytes(range(200)) * 3),
]


@pytest.mark.parametrize("hexchunk, expected", GOLDEN)
def test_golden_numcodecs_chunks(hexchunk, expected):
    chunk = bytes.fromhex(hexchunk)
    assert bytes(Blosc().decode(chunk)) == expected  # the golden bytes are what c-blosc reads
    assert blosc_decompress(chunk, len(expected)) == expected


def _payload(chunk: bytes, block: int = 0) -> bytes:
    """Payload (still shuffled) of a one-split block of a zstd chunk, decompressed if it is not raw."""
    nbytes, blocksize = HEADER.unpack_from(chunk)[4:6]
    bsize = min(blocksize, nbytes - block * blocksize)
    start = struct.unpack_from("<i", chunk, 16 + 4 * block)[0]
    (csize,) = struct.unpack_from("<i", chunk, start)
    if csize == bsize:  # stored raw
        return chunk[start + 4:start + 4 + csize]
    return zstandard.ZstdDecompressor().decompress(chunk[start + 4:start + 4 + csize])


def test_bitshuffle_block_with_elements_not_multiple_of_8_is_stored_unshuffled():
    data = np.linspace(0, 1, 125).tobytes()  # 125 float64 elements: 125 % 8 == 5
    chunk = nc_encode(data, "zstd", 5, 2, 8)
    assert chunk[2] & 0x04 and not chunk[2] & 0x02
    assert _payload(chunk) == data  # c-blosc stored the block as is
    assert blosc_decompress(chunk, len(data)) == data
    ours = blosc_compress(data, 8, "zstd", 5, 2)
    assert _payload(ours) == data and bytes(Blosc().decode(ours)) == data
    # 128 elements: really bit-shuffled, and our shuffle matches c-blosc's bytes
    data = np.linspace(0, 1, 128).tobytes()
    chunk = nc_encode(data, "zstd", 5, 2, 8)
    assert _payload(chunk) != data
    assert _payload(chunk) == _bit_shuffle(np.frombuffer(data, np.uint8), 8).tobytes()
    assert blosc_decompress(chunk, len(data)) == data


def test_byte_and_bit_shuffle_copy_the_tail():
    """Blocks are multiples of typesize, so a tail only occurs in the short last block."""
    data = make_data(1003, 3)  # blocks of 256; last block 235 = 29 * 8 + 3 trailing bytes
    chunk = nc_encode(data, "zstd", 5, 1, 8, 256)
    payload = _payload(chunk, 3)
    assert len(payload) == 235 and payload[-3:] == data[-3:]
    assert payload == _byte_shuffle(np.frombuffer(data[768:], np.uint8), 8).tobytes()
    assert blosc_decompress(chunk, 1003) == data
    data = make_data(1027, 4)  # blocks of 512; last block 515 = 64 * 8 + 3: bit planes + 3-byte tail
    chunk = nc_encode(data, "zstd", 5, 2, 8, 512)
    payload = _payload(chunk, 2)
    assert len(payload) == 3 and payload == data[-3:]  # 3 bytes < typesize: not shuffled at all
    payload = _payload(chunk, 1)
    assert payload != data[512:1024]
    assert payload == _bit_shuffle(np.frombuffer(data[512:1024], np.uint8), 8).tobytes()
    assert blosc_decompress(chunk, 1027) == data
    data = make_data(1539, 5)  # blocks of 1024; last block 515 = 64 * 8 + 3
    chunk = nc_encode(data, "zstd", 5, 2, 8, 1024)
    payload = _payload(chunk, 1)
    assert len(payload) == 515 and payload[-3:] == data[-3:] and payload != data[1024:]
    assert payload == _bit_shuffle(np.frombuffer(data[1024:], np.uint8), 8).tobytes()
    assert blosc_decompress(chunk, 1539) == data
    for shuffle in (1, 2):  # our encoder writes the same shuffled payloads
        ours = blosc_compress(data, 8, "zstd", 5, shuffle, 1024)
        assert _payload(ours, 1) == _payload(nc_encode(data, "zstd", 5, shuffle, 8, 1024), 1)
        assert bytes(Blosc().decode(ours)) == data


@pytest.mark.parametrize("flags", [0x02, 0x03, 0x06, 0x13, 0x33, 0x92, 0x97 & ~0x08])
def test_memcpyed_chunk_ignores_shuffle_flags(flags):
    data = make_data(64, 9)
    chunk = HEADER.pack(2, 1, flags, 4, 64, 64, 80) + data
    assert bytes(Blosc().decode(chunk)) == data  # c-blosc copies, whatever the shuffle bits
    assert blosc_decompress(chunk, 64) == data


def test_bstarts_are_offsets_from_the_chunk_start():
    """Two blocks written in reverse order after 5 bytes of padding: only chunk-relative offsets
    find them. Block 0 is a raw split (csize == block size), block 1 an lz4 split."""
    data = make_data(512, 11)
    b0 = data[:256]
    b1 = lz4.block.compress(data[256:], store_size=False)
    assert len(b1) < 256
    table_end = 16 + 8
    off1 = table_end + 5
    off0 = off1 + 4 + len(b1)
    body = b"\xee" * 5 + struct.pack("<i", len(b1)) + b1 + struct.pack("<i", 256) + b0
    cbytes = table_end + len(body)
    chunk = HEADER.pack(2, 1, 0x30, 1, 512, 256, cbytes) + struct.pack("<ii", off0, off1) + body
    assert bytes(Blosc().decode(chunk)) == data
    assert blosc_decompress(chunk, 512) == data


def test_hand_made_split_chunk_with_zlib():
    """DONT_SPLIT clear, typesize 4, 512 elements: four zlib splits per block, as c-blosc reads."""
    data = np.arange(512, dtype="<u4").tobytes()
    shuffled = _byte_shuffle(np.frombuffer(data, np.uint8), 4).tobytes()
    splits = [zlib.compress(shuffled[i * 512:(i + 1) * 512]) for i in range(4)]
    body = b"".join(struct.pack("<i", len(s)) + s for s in splits)
    chunk = HEADER.pack(2, 1, 0x61, 4, 2048, 2048, 20 + len(body)) + struct.pack("<i", 20) + body
    assert bytes(Blosc().decode(chunk)) == data
    assert blosc_decompress(chunk, 2048) == data


# ---------------------------------------------------------------------------------------------
# (d) malformed input

def _valid() -> tuple[bytes, bytes]:
    data = make_data(10000, 21)
    return nc_encode(data, "lz4", 5, 1, 4, 4096), data


def _set_header(chunk: bytes, **fields) -> bytes:
    names = ("version", "versionlz", "flags", "typesize", "nbytes", "blocksize", "cbytes")
    values = dict(zip(names, HEADER.unpack_from(chunk))) | fields
    return HEADER.pack(*(values[n] for n in names)) + chunk[16:]


def _bad_chunks():
    chunk, data = _valid()
    nb = HEADER.unpack_from(chunk)[4]
    start0 = struct.unpack_from("<i", chunk, 16)[0]
    yield "truncated header", chunk[:10], "shorter than the 16-byte header"
    yield "empty", b"", "shorter than the 16-byte header"
    yield "cbytes > len", chunk[:-1], "cbytes"
    yield "cbytes < 16", _set_header(chunk, cbytes=8), "cbytes"
    yield "version 0", _set_header(chunk, version=0), "version"
    yield "version 3 (Blosc2)", _set_header(chunk, version=3), "version"
    yield "reserved flag", _set_header(chunk, flags=chunk[2] | 0x08), "reserved"
    yield "unknown codec", _set_header(chunk, flags=(chunk[2] & 0x1F) | (6 << 5)), "compressor code 6"
    yield "blocksize 0", _set_header(chunk, blocksize=0), "blocksize"
    yield "typesize 0", _set_header(chunk, typesize=0), "typesize"
    yield "nbytes > max", _set_header(chunk, nbytes=nb + 1), "exceeds"
    yield "huge nbytes", _set_header(chunk, nbytes=2**32 - 1), "exceeds"
    yield "bstarts below table", chunk[:16] + struct.pack("<i", 3) + chunk[20:], "block offset"
    yield "bstarts beyond cbytes", chunk[:16] + struct.pack("<i", len(chunk)) + chunk[20:], "block offset"
    yield "bstarts negative", chunk[:16] + struct.pack("<i", -4) + chunk[20:], "block offset"
    yield "too many blocks", _set_header(chunk, blocksize=1), "offsets do not fit"
    yield "split past end", chunk[:start0] + struct.pack("<i", 1 << 30) + chunk[start0 + 4:], "runs past"
    yield "negative split", chunk[:start0] + struct.pack("<i", -5) + chunk[start0 + 4:], "runs past"
    (csize,) = struct.unpack_from("<i", chunk, start0)
    garbage = bytes([0xF0]) + b"\xff" * (csize - 1)
    yield "corrupt lz4 payload", chunk[:start0 + 4] + garbage + chunk[start0 + 4 + csize:], "lz4"
    yield "lz4 payload too short", chunk[:start0] + struct.pack("<i", 3) + b"\x30abc" + chunk[start0 + 8:], "lz4"
    raw = HEADER.pack(2, 1, 0x02, 1, 100, 100, 116) + bytes(100)
    yield "memcpy size mismatch", _set_header(raw + b"\0", cbytes=117), "memcpyed"
    yield "memcpy cbytes short", _set_header(raw, nbytes=101, cbytes=116), "memcpyed"


@pytest.mark.parametrize("name, chunk, match", list(_bad_chunks()), ids=[c[0] for c in _bad_chunks()])
def test_malformed_chunks_raise_corrupt_chunk_error(name, chunk, match):
    _, data = _valid()
    with pytest.raises(CorruptChunkError, match=match):
        blosc_decompress(chunk, len(data) if name not in ("memcpy size mismatch", "memcpy cbytes short") else 200)


@pytest.mark.parametrize("cname", ["zstd", "zlib", "blosclz"])
def test_corrupt_payloads_of_each_codec(cname):
    data = make_data(4000, 2)
    chunk = bytearray(nc_encode(data, cname, 5, 0, 1))
    assert not chunk[2] & 0x02
    start = struct.unpack_from("<i", chunk, 16)[0]
    for i in range(start + 4, min(start + 12, len(chunk))):
        chunk[i] ^= 0xFF
    with pytest.raises(CorruptChunkError, match=cname):
        blosc_decompress(bytes(chunk), len(data))


def test_the_accelerator_decodes_when_present_and_the_numpy_decoder_takes_what_it_refuses(decoder, monkeypatch):
    """With c-blosc a valid chunk is handed to it (and only then); a chunk it refuses but the
    format allows (version 1, as c-blosc before 1.0 wrote) is decoded by numpy; either way the
    bytes are the data, and ``accelerate=False`` never calls c-blosc."""
    calls = []
    real = cblosc.CBlosc.decompress_into
    monkeypatch.setattr(cblosc.CBlosc, "decompress_into", lambda self, chunk, out: calls.append(len(chunk))
                        or real(self, chunk, out))
    chunk, data = _valid()
    assert blosc_decompress(chunk, len(data)) == data
    assert len(calls) == (decoder == "c-blosc")
    out = bytearray(len(data))
    blosc_decompress_into(chunk, out, accelerate=False)
    assert bytes(out) == data and len(calls) == (decoder == "c-blosc")
    old_version = _set_header(chunk, version=1)
    assert blosc_decompress(old_version, len(data)) == data
    assert len(calls) == 2 * (decoder == "c-blosc")  # c-blosc was asked, and refused it
    with pytest.raises(RuntimeError):
        numcodecs.blosc.decompress(old_version)  # as numcodecs' c-blosc refuses it


def test_the_accelerator_encodes_lz4_only_and_only_when_asked(decoder, monkeypatch):
    blosc1._c_encoder()  # its probes, once per process, are not counted below
    calls = []
    real = cblosc.CBlosc.compress_into
    monkeypatch.setattr(cblosc.CBlosc, "compress_into", lambda self, src, *args: calls.append(args[1])
                        or real(self, src, *args))
    data = make_data(300001, 4)
    for cname in WRITABLE:
        for accelerate in (True, False):
            chunk = blosc_compress(data, 4, cname, 5, 1, accelerate=accelerate)
            assert blosc_decompress(chunk, len(data)) == data
    assert calls == (["lz4"] if decoder == "c-blosc" else [])


@pytest.mark.parametrize("typesize", [1, 2, 4, 8, 16, 32, 3])
def test_c_blosc_and_numpy_write_the_same_lz4_chunks(decoder, typesize):
    rng = np.random.default_rng(typesize)
    for case in range(24):
        size = int(rng.choice([0, 1, 127, 128, 129, 4096, 65536 + 7, 300001, 1 << 20]))
        clevel, shuffle = int(rng.integers(0, 10)), int(rng.integers(0, 3))
        blocksize = int(rng.choice([0, 0, 128, 1000, 4096, 65536]))
        data = make_data(size, case)
        chunk = blosc_compress(data, typesize, "lz4", clevel, shuffle, blocksize)
        assert chunk == blosc_compress(data, typesize, "lz4", clevel, shuffle, blocksize, accelerate=False)
        assert chunk == nc_encode(data, "lz4", clevel, shuffle, typesize, blocksize), (size, clevel, shuffle, blocksize)


def test_a_c_blosc_that_writes_other_bytes_is_not_used(monkeypatch):
    monkeypatch.setattr(blosc1, "c_blosc", cblosc.load)  # with c-blosc, whichever decoder the fixture chose
    blosc = blosc1.c_blosc()
    real = cblosc.CBlosc.compress_into

    def other_bytes(self, src, *args):
        size = real(self, src, *args)
        args[-1][size - 1] ^= 1  # the last byte of the chunk
        return size

    assert blosc1._encodes_as_numpy(blosc)
    monkeypatch.setattr(cblosc.CBlosc, "compress_into", other_bytes)
    blosc1._encodes_as_numpy.cache_clear()
    try:
        assert not blosc1._encodes_as_numpy(blosc) and blosc1._c_encoder() is None
        data = make_data(300001, 2)
        assert blosc_compress(data, 4, "lz4", 5, 1) == nc_encode(data, "lz4", 5, 1, 4)
    finally:
        monkeypatch.undo()
        blosc1._encodes_as_numpy.cache_clear()
    assert blosc1._c_encoder() is blosc


def test_a_chunk_whose_header_c_blosc_writes_otherwise_is_encoded_by_numpy(monkeypatch):
    # past the probes, each chunk's header is checked: a block size other than the numpy
    # path's (as a changed c-blosc default would give) sends that chunk to numpy
    monkeypatch.setattr(blosc1, "c_blosc", cblosc.load)
    blosc = blosc1.c_blosc()
    assert blosc1._c_encoder() is blosc
    real = cblosc.CBlosc.compress_into
    calls = []

    def other_blocksize(self, src, typesize, cname, clevel, shuffle, blocksize, out):
        calls.append(len(src))
        return real(self, src, typesize, cname, clevel, shuffle, blocksize or 8192, out)

    monkeypatch.setattr(cblosc.CBlosc, "compress_into", other_blocksize)
    data = make_data(300001, 3)
    chunk = blosc_compress(data, 2, "lz4", 5, 1)
    assert calls == [len(data)]
    assert chunk == nc_encode(data, "lz4", 5, 1, 2) != nc_encode(data, "lz4", 5, 1, 2, 8192)


def test_c_blosc_is_found_without_importing_numcodecs():
    code = ("import sys\n"
            "from zarrsync.codecs import blosc1\n"
            "assert blosc1.c_blosc() is not None and blosc1._c_encoder() is not None\n"
            "assert 'numcodecs' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    blocked = ("import sys\n"
               "sys.modules['numcodecs'] = None\n"  # any import of it fails: as if not installed
               "from zarrsync.codecs import blosc1\n"
               "assert blosc1.c_blosc() is None and blosc1._c_encoder() is None\n")
    r = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_snappy_chunks_raise_codec_error_naming_snappy():
    chunk, data = _valid()
    snappy = _set_header(chunk, flags=(chunk[2] & 0x1F) | (2 << 5))
    with pytest.raises(CodecError, match="snappy"):
        blosc_decompress(snappy, len(data))


def test_fuzzed_chunks_raise_only_corrupt_chunk_error():
    """Truncations and byte flips of valid chunks either decode or raise CorruptChunkError (or
    CodecError naming snappy), never IndexError/ValueError/zlib.error/MemoryError."""
    rng = np.random.default_rng(7)
    chunks = []
    for cname, shuffle, ts in [("lz4", 1, 4), ("zstd", 2, 8), ("zlib", 0, 1), ("blosclz", 1, 2), ("lz4hc", 2, 3)]:
        data = make_data(3000, ts)
        chunks.append((nc_encode(data, cname, 5, shuffle, ts, 256), data))
        chunks.append((nc_encode(data, cname, 5, shuffle, ts, 0), data))
    for chunk, data in chunks:
        for _ in range(150):
            bad = bytearray(chunk)
            if rng.random() < 0.3:
                bad = bad[:rng.integers(0, len(bad))]
            else:
                for _ in range(rng.integers(1, 4)):
                    i = int(rng.integers(0, min(len(bad), 64) if rng.random() < 0.5 else len(bad)))
                    bad[i] = int(rng.integers(0, 256))
            try:
                out = blosc_decompress(bytes(bad), len(data))
                assert len(out) <= len(data)
            except CorruptChunkError:
                pass
            except CodecError as e:
                assert "snappy" in str(e)


# ---------------------------------------------------------------------------------------------
# (e) the v3 codec: configuration

def test_config_round_trip_and_zarr_python_json():
    codec = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle", typesize=4, blocksize=0)
    js = codec.to_json()
    # zarr-python 3 writes exactly this (all five keys, typesize first)
    assert json.dumps(js) == ('{"name": "blosc", "configuration": {"typesize": 4, "cname": "lz4", '
                              '"clevel": 5, "shuffle": "shuffle", "blocksize": 0}}')
    assert BloscCodec.from_config(js["configuration"]) == codec
    assert BloscCodec.from_config(json.loads(json.dumps(js))["configuration"]) == codec
    assert "BloscCodec(" in repr(codec) and hash(codec) == hash(BloscCodec.from_config(js["configuration"]))
    for shuffle in ("noshuffle", "shuffle", "bitshuffle"):
        for cname in ("lz4", "lz4hc", "blosclz", "zstd", "snappy", "zlib"):
            c = BloscCodec.from_config({"typesize": 2, "cname": cname, "clevel": 9, "shuffle": shuffle,
                                        "blocksize": 4096})
            assert BloscCodec.from_config(c.to_config()) == c
            assert list(c.to_config()) == ["typesize", "cname", "clevel", "shuffle", "blocksize"]
    # typesize and blocksize are optional when reading
    c = BloscCodec.from_config({"cname": "zstd", "clevel": 5, "shuffle": "noshuffle"})
    assert c.typesize is None and c.blocksize == 0
    assert c.to_config() == {"cname": "zstd", "clevel": 5, "shuffle": "noshuffle", "blocksize": 0}
    with pytest.raises(CodecError, match="blosc"):
        BloscCodec.from_config({"cname": "zstd", "clevel": 5, "shuffle": "noshuffle", "level": 1})


@pytest.mark.parametrize("field, value", [
    ("cname", "gzip"), ("cname", 1), ("clevel", 10), ("clevel", -1), ("clevel", "5"), ("clevel", True),
    ("shuffle", 1), ("shuffle", "SHUFFLE"), ("typesize", 0), ("typesize", 2.0), ("blocksize", -1),
    ("blocksize", None)])
def test_config_validation_names_the_field(field, value):
    config = {"typesize": 4, "cname": "lz4", "clevel": 5, "shuffle": "shuffle", "blocksize": 0, field: value}
    with pytest.raises(CodecError, match=field):
        BloscCodec.from_config(config)


def test_config_missing_required_field():
    with pytest.raises(CodecError, match="cname"):
        BloscCodec.from_config({"clevel": 5, "shuffle": "shuffle"})


def test_codec_encode_decode_uses_header_only():
    spec = ChunkSpec((1000,), np.dtype("f8"), 0.0)
    data = np.linspace(0, 1, 1000).tobytes()
    for codec in (BloscCodec("lz4", 5, "shuffle", 8), BloscCodec("zstd", 5, "bitshuffle"),
                  BloscCodec("zlib", 1, "noshuffle", 1, 256)):
        enc = codec.encode(data, spec)
        assert bytes(Blosc().decode(enc)) == data
        assert enc[3] == 8 or codec.typesize == 1  # typesize None -> the chunk's item size
        # any blosc codec decodes any chunk: settings come from the header
        assert BloscCodec("lz4hc", 1, "noshuffle", 2).decode(enc, spec, 8000) == data
        assert BloscCodec().decode(enc, spec, None) == data
        out = bytearray(8000)
        BloscCodec().decode_into(enc, memoryview(out))
        assert out == data
        with pytest.raises(CorruptChunkError):
            BloscCodec().decode(enc, spec, 7999)
        with pytest.raises(CorruptChunkError):
            BloscCodec().decode_into(enc, memoryview(bytearray(8001)))
    nc = bytes(Blosc("blosclz", 5, 2).encode(np.arange(1000.0)))
    assert BloscCodec().decode(nc, spec, 8000) == np.arange(1000.0).tobytes()
    with pytest.raises(CodecError, match="not supported for writing"):
        BloscCodec("blosclz", 5, "shuffle", 8).encode(data, spec)
    with pytest.raises(CodecError, match="not supported for writing"):
        BloscCodec("snappy", 5, "shuffle", 8).encode(data, spec)


# ---------------------------------------------------------------------------------------------
# (f) a v3 array

@pytest.mark.parametrize("codec", [BloscCodec("lz4", 5, "shuffle", 8), BloscCodec("zstd", 3, "bitshuffle", 8),
                                   BloscCodec("zlib", 9, "noshuffle", 8, 4096)])
def test_v3_array_round_trip(codec):
    expected = np.random.default_rng(0).normal(size=(100, 37)).cumsum(axis=0)
    arr = zarrsync.create_array(None, shape=(100, 37), dtype="f8", chunks=(32, 16), compressors=[codec])
    arr[...] = expected
    np.testing.assert_array_equal(arr[...], expected)
    np.testing.assert_array_equal(arr[5:77, 3:30], expected[5:77, 3:30])

    store = {}
    arr = zarrsync.create_array(store, shape=(100, 37), dtype="f8", chunks=(32, 16), compressors=[codec])
    arr[...] = expected
    meta = json.loads(store["zarr.json"])
    assert meta["codecs"][-1] == codec.to_json()
    # the stored chunks are Blosc1 chunks c-blosc reads; edge chunks hold the full chunk shape
    chunk = np.frombuffer(bytes(Blosc().decode(bytes(store["c/3/2"]))), "<f8").reshape(32, 16)
    np.testing.assert_array_equal(chunk[:4, :5], expected[96:, 32:])
    np.testing.assert_array_equal(chunk[:4, 5:], 0.0)
