"""Hostile chunks: corrupted bytes and decompression bombs (issue 10, points 6 and the chunk fuzzing).

Chunk fuzzing: for every codec chain kind, a valid chunk is written through the array API into a
:class:`~zarrsync.storage.memory.MemoryStore`; then its stored bytes are replaced by bit flips,
truncations, extensions and random bytes (seeded, bounded), and the array is read. A read gives
an array of the right shape and dtype (the original data where the chain can tell) or raises a
``ZarrsyncError``; never another exception, a hang or an unbounded allocation. Checksummed data
(the ``crc32c`` codec, a shard index with ``crc32c``, numcodecs ``adler32``/``crc32``/``crc32c``/
``fletcher32``/``jenkins_lookup3``) detects every single bit flip: every bit of the checksummed
bytes is flipped in turn. ``CASES`` records how many corrupted chunks each chain read.

Decompression bombs: for each compressor (numcodecs-compatible, in v2 and as ``numcodecs.*`` in v3,
and the v3 ``gzip``/``zstd``/``blosc``), a tiny chunk that expands to tens of MiB in a 1 KiB
array is refused with ``CorruptChunkError`` naming the key, and the ``tracemalloc`` peak while
refusing it is about twice the chunk plus a small constant.
"""

from __future__ import annotations

import bz2
import gc
import gzip
import json
import lzma
import random
import signal
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zlib

import lz4.block
import numpy as np
import pytest
import zstandard

import zarrsync
from zarrsync.codecs import numcodecs_api
from zarrsync.errors import CorruptChunkError, ZarrsyncError
from zarrsync.storage.memory import MemoryStore

SHAPE = (4, 6)
CHAIN_TIME_CAP = 60  # seconds for one chain's cases: only a hang gets near it
MEMORY_CAP = 64 << 20
#: liblzma allocates the dictionary an .xz header declares (a flipped bit can declare a larger
#: one), up to zarrsync's limit; its pages are touched only as far as the output goes
LZMA_MEMLIMIT = 128 << 20

BYTES = {"name": "bytes", "configuration": {"endian": "little"}}
CRC = {"name": "crc32c"}


def nc(cid: str, **config) -> dict:
    return {"name": "numcodecs." + cid, "configuration": config}


def blosc(cname: str, shuffle: str) -> dict:
    return {"name": "blosc", "configuration": {"cname": cname, "clevel": 5, "shuffle": shuffle, "typesize": 4,
                                               "blocksize": 0}}


def shard(index_codecs: list, inner: list | None = None) -> dict:
    return {"name": "sharding_indexed", "configuration": {
        "chunk_shape": [2, 3], "codecs": inner or [BYTES], "index_codecs": index_codecs, "index_location": "end"}}


#: chain name -> (format, dtype, codecs (v3) or (compressor, filters) (v2), checksummed region)
#: the region: "all" (every bit is covered by a checksum), "index" (the shard index), or None
CHAINS = {
    "bytes": (3, "int32", [BYTES], None),
    "bytes-big": (3, "int32", [{"name": "bytes", "configuration": {"endian": "big"}}], None),
    "transpose": (3, "int32", [{"name": "transpose", "configuration": {"order": [1, 0]}}, BYTES], None),
    "gzip": (3, "int32", [BYTES, {"name": "gzip", "configuration": {"level": 5}}], None),
    "zstd": (3, "int32", [BYTES, {"name": "zstd", "configuration": {"level": 3, "checksum": False}}], None),
    "zstd-checksum": (3, "int32", [BYTES, {"name": "zstd", "configuration": {"level": 3, "checksum": True}}], None),
    "blosc-lz4-shuffle": (3, "int32", [BYTES, blosc("lz4", "shuffle")], None),
    "blosc-lz4hc-noshuffle": (3, "int32", [BYTES, blosc("lz4hc", "noshuffle")], None),
    "blosc-zstd-bitshuffle": (3, "int32", [BYTES, blosc("zstd", "bitshuffle")], None),
    "blosc-zlib-shuffle": (3, "int32", [BYTES, blosc("zlib", "shuffle")], None),
    "crc32c": (3, "int32", [BYTES, CRC], "all"),
    "gzip-crc32c": (3, "int32", [BYTES, {"name": "gzip", "configuration": {"level": 1}}, CRC], "all"),
    "sharding": (3, "int32", [shard([BYTES])], None),
    "sharding-index-crc32c": (3, "int32", [shard([BYTES, CRC])], "index"),
    "sharding-all-crc32c": (3, "int32", [shard([BYTES, CRC], [BYTES, CRC])], "all"),
    "vlen-utf8": (3, "string", [{"name": "vlen-utf8"}], None),
    "vlen-bytes": (3, "bytes", [{"name": "vlen-bytes"}], None),
    "vlen-utf8-zstd": (3, "string", [{"name": "vlen-utf8"}, {"name": "zstd", "configuration": {"level": 1}}], None),
    "json2": (2, "|O", (None, [{"id": "json2"}]), None),
    "msgpack2": (2, "|O", (None, [{"id": "msgpack2"}]), None),
    "v2-vlen-utf8": (2, "|O", (None, [{"id": "vlen-utf8"}]), None),
    "v2-vlen-array": (2, "|O", (None, [{"id": "vlen-array", "dtype": "<i2"}]), None),
    # numcodecs-compatible compressors: v2 and v3
    "v2-zlib": (2, "<i4", ({"id": "zlib", "level": 1}, None), None),
    "v2-gzip": (2, "<i4", ({"id": "gzip", "level": 1}, None), None),
    "v2-bz2": (2, "<i4", ({"id": "bz2", "level": 1}, None), None),
    "v2-lzma": (2, "<i4", ({"id": "lzma"}, None), None),
    "v2-lz4": (2, "<i4", ({"id": "lz4"}, None), None),
    "v2-zstd": (2, "<i4", ({"id": "zstd", "level": 1}, None), None),
    "v2-blosc": (2, "<i4", ({"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": -1}, None), None),
    "nc-zlib": (3, "int32", [BYTES, nc("zlib", level=1)], None),
    "nc-gzip": (3, "int32", [BYTES, nc("gzip", level=1)], None),
    "nc-bz2": (3, "int32", [BYTES, nc("bz2", level=1)], None),
    "nc-lzma": (3, "int32", [BYTES, nc("lzma")], None),
    "nc-lzma-raw": (3, "int32", [BYTES, nc("lzma", format=3, filters=[{"id": 33, "dict_size": 1 << 20}])], None),
    "nc-lz4": (3, "int32", [BYTES, nc("lz4")], None),
    "nc-zstd": (3, "int32", [BYTES, nc("zstd", level=1)], None),
    "nc-blosc": (3, "int32", [BYTES, nc("blosc", cname="zstd", clevel=1, shuffle=2)], None),
    # numcodecs checksums: every bit is covered
    "v2-adler32": (2, "<i4", ({"id": "adler32"}, None), "all"),
    "v2-crc32": (2, "<i4", ({"id": "crc32"}, None), "all"),
    "v2-crc32-end": (2, "<i4", ({"id": "crc32", "location": "end"}, None), "all"),
    "v2-crc32c": (2, "<i4", ({"id": "crc32c"}, None), "all"),
    "v2-fletcher32": (2, "<i4", ({"id": "fletcher32"}, None), "all"),
    "v2-jenkins_lookup3": (2, "<i4", ({"id": "jenkins_lookup3", "initval": 7, "prefix": [1, 2, 3]}, None), "all"),
    "nc-adler32": (3, "int32", [BYTES, nc("adler32")], "all"),
    # numcodecs filters
    "v2-delta": (2, "<i4", (None, [{"id": "delta", "dtype": "<i4", "astype": "<i2"}]), None),
    "v2-fixedscaleoffset": (2, "<f8", (None, [{"id": "fixedscaleoffset", "offset": 10, "scale": 4, "dtype": "<f8",
                                                "astype": "<i2"}]), None),
    "v2-quantize": (2, "<f8", (None, [{"id": "quantize", "digits": 2, "dtype": "<f8", "astype": "<f4"}]), None),
    "v2-bitround": (2, "<f4", (None, [{"id": "bitround", "keepbits": 5}]), None),
    "v2-packbits": (2, "|b1", (None, [{"id": "packbits"}]), None),
    "v2-categorize": (2, "<U3", (None, [{"id": "categorize", "labels": ["a", "bb", "ccc"], "dtype": "<U3",
                                        "astype": "|u1"}]), None),
    "v2-astype": (2, "<i4", (None, [{"id": "astype", "encode_dtype": "<i8", "decode_dtype": "<i4"}]), None),
    "v2-shuffle": (2, "<i4", ({"id": "shuffle", "elementsize": 4}, None), None),
    "v2-delta-zlib-crc": (2, "<i8", ({"id": "zlib", "level": 1}, [{"id": "delta", "dtype": "<i8"}]), None),
}


LOSSY = {"v2-bitround", "v2-quantize", "v2-fixedscaleoffset"}


def values(dtype: str) -> np.ndarray:
    n = int(np.prod(SHAPE))
    if dtype in ("string", "|O"):
        return np.array(["", "a", "bb", "ccc€", "dddd", "x" * 9] * (n // 6), dtype=object).reshape(SHAPE)
    if dtype == "bytes":
        return np.array([b"", b"\x00", b"ab", b"\xff" * 5] * (n // 4), dtype=object).reshape(SHAPE)
    if dtype == "<U3":
        return np.array(["a", "bb", "ccc", ""] * (n // 4), dtype="<U3").reshape(SHAPE)
    if dtype == "|b1":
        return (np.arange(n) % 3 == 0).reshape(SHAPE)
    np_dtype = {"int32": "<i4"}.get(dtype, dtype)
    return ((np.arange(n) * 7919) % 1000 - 500).astype(np_dtype).reshape(SHAPE)


def make_array(name: str):
    fmt, dtype, codecs, _ = CHAINS[name]
    store = MemoryStore()
    if fmt == 3:
        doc = {"zarr_format": 3, "node_type": "array", "shape": list(SHAPE), "data_type": dtype,
               "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(SHAPE)}},
               "chunk_key_encoding": {"name": "default"},
               "fill_value": {"string": "", "bytes": ""}.get(dtype, 0), "codecs": codecs}
        store.set("zarr.json", json.dumps(doc).encode())
        key = "c/0/0"
    else:
        compressor, filters = codecs
        doc = {"zarr_format": 2, "shape": list(SHAPE), "chunks": list(SHAPE), "dtype": dtype,
               "compressor": compressor, "filters": filters, "fill_value": None, "order": "C"}
        store.set(".zarray", json.dumps(doc).encode())
        key = "0.0"
    a = zarrsync.open_array(store)
    if name == "v2-vlen-array":
        data = np.empty(SHAPE, dtype=object)
        for i in range(data.size):
            data.flat[i] = np.arange(i % 4, dtype="<i2")
    else:
        data = values(dtype)
    a[...] = data
    expected = a[...]
    if name == "v2-vlen-array":
        assert all(np.array_equal(x, y) for x, y in zip(expected.flat, data.flat))
    elif name not in LOSSY:
        np.testing.assert_array_equal(expected, data)
    return a, store, key, expected


def corruptions(raw: bytes, region: str | None, rng: random.Random):
    """(kind, corrupted bytes) pairs: every single bit flip where a checksum covers the bytes,
    else a sample; every truncation; extensions; random bytes of the same and other lengths."""
    n = len(raw)
    if region == "all":
        bits = range(8 * n)
    elif region == "index":
        bits = range(8 * (n - 4 * 2 * 4 - 4), 8 * n)  # the index at the end: 4 inner chunks x 16 bytes + crc
    else:
        bits = rng.sample(range(8 * n), min(8 * n, 160))
    for bit in bits:
        b = bytearray(raw)
        b[bit // 8] ^= 1 << (bit % 8)
        yield "flip", bytes(b)
    for cut in range(n):
        yield "truncate", raw[:cut]
    for _ in range(16):
        yield "extend", raw + rng.randbytes(rng.choice([1, 2, 4, 7, 64]))
    for _ in range(24):
        yield "random", rng.randbytes(rng.choice([n, rng.randrange(0, 4 * n + 16)]))
    for _ in range(8):  # a few bytes overwritten
        b = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(n)] = rng.randrange(256)
        yield "bytes", bytes(b)


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


#: chain name -> {kind: cases read}; filled by the test, printed by -s runs
CASES: dict[str, dict[str, int]] = {}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_corrupted_chunks_read_correctly_or_raise(name):
    a, store, key, expected = make_array(name)
    raw = bytes(store.get(key))
    region = CHAINS[name][3]
    rng = random.Random(name)
    counts: dict[str, int] = {}
    undetected = []
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CHAIN_TIME_CAP)
    tracemalloc.start()
    try:
        for kind, bad in corruptions(raw, region, rng):
            counts[kind] = counts.get(kind, 0) + 1
            store.set(key, bad)
            try:
                got = a[...]
            except ZarrsyncError:
                continue
            assert got.shape == expected.shape and got.dtype == expected.dtype, (kind, got.shape, got.dtype)
            if kind == "flip" and region == "all" and bad != raw:
                undetected.append(kind)
            if region == "index" and kind == "flip" and not np.array_equal(got, expected):
                undetected.append(kind)
    except _Hang:
        pytest.fail(f"{name}: reading corrupted chunks ran past {CHAIN_TIME_CAP} s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    CASES[name] = counts
    assert not undetected, f"{name}: {len(undetected)} single bit flips went undetected"
    cap = MEMORY_CAP + (LZMA_MEMLIMIT if "lzma" in name else 0)
    assert peak < cap, f"{name}: peak {peak / 2**20:.1f} MiB"


def test_shard_index_without_checksum_corruption_is_bounded():
    """Not checksummed: index flips may give other data, but every read ends in data or an error."""
    a, store, key, expected = make_array("sharding")
    raw = bytes(store.get(key))
    for bit in range(8 * (len(raw) - 64), 8 * len(raw)):
        b = bytearray(raw)
        b[bit // 8] ^= 1 << (bit % 8)
        store.set(key, bytes(b))
        try:
            assert a[...].shape == SHAPE
        except ZarrsyncError:
            pass


# --- decompression bombs -----------------------------------------------------------------------------

BOMB_SIZE = 64 << 20  # decoded size of each bomb; the chunk holds 1 KiB
CHUNK = 1024


def _zeros_stream(compressobj, size: int = BOMB_SIZE) -> bytes:
    block = bytes(1 << 20)
    out = [compressobj.compress(block) for _ in range(size >> 20)]
    out.append(compressobj.flush())
    return b"".join(out)


def _bombs() -> dict[str, bytes]:
    zeros = bytes(BOMB_SIZE)
    blosc_header = struct.pack("<BBBBIII", 2, 1, 0x01, 1, BOMB_SIZE, BOMB_SIZE, 64)  # claims 64 MiB
    return {
        "zlib": _zeros_stream(zlib.compressobj(9)),
        "gzip": _zeros_stream(zlib.compressobj(9, zlib.DEFLATED, 31)),
        "bz2": _zeros_stream(bz2.BZ2Compressor(9)),
        "lzma": _zeros_stream(lzma.LZMACompressor()),
        "lz4": lz4.block.compress(zeros, store_size=True),
        "zstd": zstandard.ZstdCompressor().compress(zeros),
        "zstd-no-size": zstandard.ZstdCompressor(write_content_size=False).compress(zeros),
        "blosc": blosc_header + bytes(64),
    }


@pytest.fixture(scope="module")
def bombs():
    return _bombs()


def _bomb_array(kind: str, codec: str):
    """A 1 KiB uint8 array whose one chunk is to be a bomb, read through ``kind``'s chain."""
    store = MemoryStore()
    cid = codec.removesuffix("-no-size")
    if kind == "v2":
        store.set(".zarray", json.dumps({"zarr_format": 2, "shape": [CHUNK], "chunks": [CHUNK], "dtype": "|u1",
                                         "compressor": {"id": cid}, "filters": None, "fill_value": 0,
                                         "order": "C"}).encode())
        return store, "0"
    name = {"numcodecs": "numcodecs." + cid, "v3": cid}[kind]
    config = {"level": 1} if (kind == "v3" and cid in ("gzip", "zstd")) else {}
    if kind == "v3" and cid == "blosc":
        config = {"cname": "lz4", "clevel": 5, "shuffle": "noshuffle", "typesize": 1, "blocksize": 0}
    store.set("zarr.json", json.dumps({
        "zarr_format": 3, "node_type": "array", "shape": [CHUNK], "data_type": "uint8",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [CHUNK]}},
        "chunk_key_encoding": {"name": "default"}, "fill_value": 0,
        "codecs": [BYTES, {"name": name, "configuration": config}]}).encode())
    return store, "c/0"


BOMB_CASES = ([("v2", c) for c in ("zlib", "gzip", "bz2", "lzma", "lz4", "zstd", "zstd-no-size", "blosc")]
              + [("numcodecs", c) for c in ("zlib", "gzip", "bz2", "lzma", "lz4", "zstd", "zstd-no-size", "blosc")]
              + [("v3", c) for c in ("gzip", "zstd", "zstd-no-size", "blosc")])

#: what a decoder may hold besides about twice the chunk: its own state, counted by tracemalloc
#: where the library allocates through Python (liblzma's dictionary: 8 MiB for the default preset)
DECODER_STATE = {"lzma": 9 << 20}


@pytest.mark.parametrize("kind,codec", BOMB_CASES)
def test_decompression_bomb_is_refused_within_twice_the_chunk(kind, codec, bombs):
    store, key = _bomb_array(kind, codec)
    store.set(key, bombs[codec])
    a = zarrsync.open_array(store)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptChunkError) as info:
            a[...]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert key in str(info.value)
    allowed = 2 * CHUNK + len(bombs[codec]) + (256 << 10) + DECODER_STATE.get(codec, 0)
    assert peak < allowed, f"peak {peak} bytes while refusing a bomb of {len(bombs[codec])} bytes"


def test_bz2_bomb_of_512_mib_keeps_the_process_small(tmp_path):
    """The issue's case, measured as the process sees it (``VmHWM`` in a child): a 512 MiB bz2
    bomb in a 1 KiB chunk raises, and the peak resident size grows by a few MiB at most."""
    script = textwrap.dedent(f"""
        import bz2, json, zarrsync
        from zarrsync.storage.memory import MemoryStore
        from zarrsync.errors import CorruptChunkError
        c = bz2.BZ2Compressor(9)
        block = bytes(1 << 20)
        bomb = b"".join([c.compress(block) for _ in range(512)] + [c.flush()])
        store = MemoryStore()
        store.set(".zarray", json.dumps({{"zarr_format": 2, "shape": [1024], "chunks": [1024], "dtype": "|u1",
                                          "compressor": {{"id": "bz2"}}, "filters": None, "fill_value": 0,
                                          "order": "C"}}).encode())
        store.set("0", bomb)
        a = zarrsync.open_array(store)

        def peak_kib():  # this process's own high-water mark (ru_maxrss keeps the parent's across exec)
            with open("/proc/self/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

        before = peak_kib()
        try:
            a[...]
        except CorruptChunkError:
            pass
        else:
            raise SystemExit("no error")
        print(len(bomb), peak_kib() - before)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    size, grown_kib = map(int, out.stdout.split())
    assert size < 1024
    assert grown_kib < 16 << 10, f"peak RSS grew by {grown_kib} KiB"


class _Expanding:
    """A third-party numcodecs-style codec that decodes anything to 64 MiB."""

    codec_id = "expanding-test"

    def encode(self, buf):
        return bytes(buf)

    def decode(self, buf, out=None):
        return bytes(BOMB_SIZE)

    def get_config(self):
        return {"id": self.codec_id}

    @classmethod
    def from_config(cls, config):
        return cls()


def test_third_party_codec_output_is_checked():
    numcodecs_api.register_codec(_Expanding)
    store, key = _bomb_array("numcodecs", "expanding-test")
    store.set(key, b"x")
    with pytest.raises(CorruptChunkError, match="more than the 1024 bytes"):
        zarrsync.open_array(store)[...]


def test_lzma_stream_declaring_a_huge_dictionary_is_refused():
    """liblzma allocates the dictionary a header declares: one beyond the limit is refused."""
    data = lzma.compress(b"x" * 10, format=lzma.FORMAT_ALONE,
                         filters=[{"id": lzma.FILTER_LZMA1, "dict_size": 1 << 30}])
    store, key = _bomb_array("v2", "lzma")
    doc = json.loads(store.get(".zarray"))
    doc["compressor"] = {"id": "lzma", "format": 2}
    store.set(".zarray", json.dumps(doc).encode())
    store.set(key, data)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptChunkError):
            zarrsync.open_array(store)[...]
        assert tracemalloc.get_traced_memory()[1] < 256 << 20
    finally:
        tracemalloc.stop()


def test_raw_lzma_filter_dictionary_is_cut_to_the_chunk():
    """A raw LZMA chain's dictionary size comes from metadata: decoding never allocates more of it
    than a chunk can use (no match reaches further back than the output)."""
    store, key = _bomb_array("v2", "lzma")
    doc = json.loads(store.get(".zarray"))
    doc["compressor"] = {"id": "lzma", "format": 3, "filters": [{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 20}]}
    store.set(".zarray", json.dumps(doc).encode())
    zarrsync.open_array(store)[...] = np.arange(CHUNK) % 7
    doc["compressor"]["filters"][0]["dict_size"] = 3 << 29  # 1.5 GiB
    store.set(".zarray", json.dumps(doc).encode())
    a = zarrsync.open_array(store)
    tracemalloc.start()
    try:
        np.testing.assert_array_equal(a[...], np.arange(CHUNK) % 7)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_gzip_and_bz2_still_decode_concatenated_streams():
    from zarrsync.codecs.numcodecs_builtin import BZ2, GZip, LZMA
    x = bytes(range(256)) * 4
    assert bytes(BZ2().decode(bz2.compress(x[:500]) + bz2.compress(x[500:]))) == x
    assert bytes(GZip().decode(gzip.compress(x[:10]) + gzip.compress(x[10:]))) == x
    assert bytes(LZMA().decode(lzma.compress(x[:3]) + lzma.compress(x[3:]))) == x
    assert bytes(BZ2().decode_bounded(bz2.compress(x), len(x))) == x
    with pytest.raises(CorruptChunkError):
        BZ2().decode_bounded(bz2.compress(x), len(x) - 1)
    with pytest.raises(CorruptChunkError, match="truncated"):
        BZ2().decode(bz2.compress(x)[:-5])
    assert bytes(BZ2().decode(bz2.compress(x) + b"garbage")) == x  # as bz2.decompress


def _live_errors() -> list:
    return [o for o in gc.get_objects() if isinstance(o, ZarrsyncError)]


@pytest.mark.parametrize("workers", [1, 2])
def test_failed_chunk_reads_leave_no_reference_cycles(workers):
    """A failed read frees what its decoder held when the error is dropped, without waiting for
    the cyclic garbage collector: an exception kept in a local of the frame that raised it (or in
    the pool's shared run state) forms a cycle with its traceback, which pins every frame below,
    decoders' buffers included (on 3.13t, where collections are rarer, a fuzzing loop grew to
    1.5 GiB). With the collector off, nothing of a failed read may survive."""
    from zarrsync.storage.faulty import FaultyStore

    a, store, key, _ = make_array("nc-lzma")
    raw = bytes(store.get(key))
    b = zarrsync.create_array(FaultyStore(MemoryStore(), fail_keys={"c/1"}), shape=(40,), chunks=(10,),
                              dtype="u1", fill_value=0)
    gc.collect()
    gc.disable()
    try:
        with zarrsync.config.context(max_workers=workers):
            for cut in (50, 104, 110):
                store.set(key, raw[:cut])  # truncated: the decoder fails with its buffers allocated
                with pytest.raises(ZarrsyncError):
                    a[...]
            for _ in range(3):
                with pytest.raises(ZarrsyncError):
                    b[...]
        assert _live_errors() == []
    finally:
        gc.enable()
