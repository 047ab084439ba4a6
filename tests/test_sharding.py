"""Tests of the ``sharding_indexed`` codec (SPEC_CHECKLIST §2.7 and §9).

The oracles are numpy (expected values), an independent shard parser written here with numpy,
``crc32c``, ``zstandard`` and ``zlib`` (expected bytes and layouts), and the real tensorstore
``zarr3`` driver (interop both ways). Nothing expected is produced by zarrsync itself.

Covered: round trips over inner codec chains with the index at the start and at the end, nested
sharding, edge shards, fill values, empty shards; the exact bytes of the §9 test vector; reads
of single inner chunks issuing exactly the byte-range reads they need (counted by a wrapping
store); the lost-update race of partial writes into shared shards (one array object, and many
array objects over one directory); corrupt shards raising ``CorruptChunkError`` naming the shard
key; ``create_array(shards=...)`` validation; ``Array.chunks``/``Array.shards``; partial writes
re-encoding only the touched inner chunks and deleting shards that become all fill; a hypothesis
property test of basic-selection reads and writes against numpy.
"""

from __future__ import annotations

import gzip as gzip_mod
import itertools
import json
import math
import os
import sys
import threading
import zlib

import crc32c as crc32c_mod
import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarrsync
from zarrsync.codecs import ShardingCodec
from zarrsync.errors import CodecError, CorruptChunkError, MetadataError
from zarrsync.storage import LocalStore, MemoryStore, Store
from zarrsync.storage.base import OffsetRequest, RangeRequest, Snapshot, SuffixRequest
from oracles import tensorstore as ts  # ts() imports it: only the interop tests here need it

MAX = 2**64 - 1

# --- codec JSON -------------------------------------------------------------------------------------

B_LE = {"name": "bytes", "configuration": {"endian": "little"}}
B_BE = {"name": "bytes", "configuration": {"endian": "big"}}
CRC = {"name": "crc32c"}
INDEX_CODECS = [B_LE, CRC]


def T(*order: int) -> dict:
    return {"name": "transpose", "configuration": {"order": list(order)}}


def GZ(level: int = 5) -> dict:
    return {"name": "gzip", "configuration": {"level": level}}


def ZS(level: int = 0, checksum: bool = False) -> dict:
    return {"name": "zstd", "configuration": {"level": level, "checksum": checksum}}


def sharding_json(chunk_shape, codecs, location="end") -> dict:
    return {"name": "sharding_indexed", "configuration": {
        "chunk_shape": list(chunk_shape), "codecs": list(codecs), "index_codecs": INDEX_CODECS,
        "index_location": location}}


# --- the independent oracle: shard layout ---------------------------------------------------------------

def crc32c(data: bytes) -> int:
    return crc32c_mod.crc32c(bytes(data))


def index_size(cps) -> int:
    """bytes + crc32c index of ``prod(cps)`` (offset, nbytes) uint64 pairs."""
    return 16 * math.prod(cps) + 4


def encode_index(entries: np.ndarray) -> bytes:
    """An index (any shape ending in 2, C order) encoded as little-endian uint64 + crc32c."""
    body = np.ascontiguousarray(entries, dtype="<u8").tobytes()
    return body + crc32c(body).to_bytes(4, "little")


def parse_shard(raw: bytes, cps, location: str = "end") -> np.ndarray:
    """The index of a shard, shape ``cps + (2,)``, after checking its crc32c."""
    size = index_size(cps)
    assert len(raw) >= size, (len(raw), size)
    ix = raw[len(raw) - size:] if location == "end" else raw[:size]
    body, crc = ix[:-4], ix[-4:]
    assert crc32c(body) == int.from_bytes(crc, "little"), "index crc32c mismatch"
    return np.frombuffer(body, dtype="<u8").reshape(tuple(cps) + (2,)).astype(np.uint64)


def morton_key(coords) -> int:
    """Morton code with dimension 0 in the lowest bit of each group (zarr-python's order)."""
    z, ndim = 0, len(coords)
    for bit in range(16):
        for d, c in enumerate(coords):
            z |= ((c >> bit) & 1) << (bit * ndim + d)
    return z


def oracle_decode_inner(blob: bytes, chain: list, shape: tuple, dtype, fill=None) -> np.ndarray:
    """Decode an inner chunk with numpy/zstandard/zlib/crc32c (transpose, bytes, zstd, gzip, crc32c)."""
    dtype = np.dtype(dtype)
    # the shape on the bytes side: every transpose applied in order
    enc_shape = tuple(shape)
    for c in chain:
        if c["name"] == "transpose":
            enc_shape = tuple(enc_shape[i] for i in c["configuration"]["order"])
        if c["name"] in ("bytes", "sharding_indexed"):
            break
    data = bytes(blob)
    arr = None
    for c in reversed(chain):
        name = c["name"]
        if name == "crc32c":
            assert crc32c(data[:-4]) == int.from_bytes(data[-4:], "little"), "inner crc32c mismatch"
            data = data[:-4]
        elif name == "zstd":
            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        elif name == "gzip":
            data = zlib.decompress(data, 31)
        elif name == "bytes":
            endian = (c.get("configuration") or {}).get("endian", "little")
            dt = dtype.newbyteorder("<" if endian == "little" else ">")
            assert len(data) == math.prod(enc_shape) * dt.itemsize
            arr = np.frombuffer(data, dtype=dt).reshape(enc_shape).astype(dtype.newbyteorder("="))
        elif name == "sharding_indexed":
            cfg = c["configuration"]
            arr = oracle_decode_shard(data, enc_shape, dtype, cfg, fill)
        elif name == "transpose":
            arr = arr.transpose(np.argsort(c["configuration"]["order"]))
        else:  # pragma: no cover
            raise AssertionError(name)
    return np.ascontiguousarray(arr)


def oracle_decode_shard(raw: bytes, shard_shape, dtype, cfg: dict, fill=None) -> np.ndarray:
    """A whole shard decoded by the oracle (inner chunks in any order; sentinels -> fill)."""
    inner = tuple(cfg["chunk_shape"])
    cps = tuple(s // c for s, c in zip(shard_shape, inner))
    index = parse_shard(raw, cps, cfg.get("index_location", "end"))
    assert fill is not None, "an inner shard needs the fill value"
    out = np.empty(shard_shape, dtype=np.dtype(dtype).newbyteorder("="))
    out[...] = fill
    for coords in np.ndindex(*cps):
        off, nb = (int(v) for v in index[coords])
        if off == MAX:
            assert nb == MAX
            continue
        sl = tuple(slice(c * s, (c + 1) * s) for c, s in zip(coords, inner))
        out[sl] = oracle_decode_inner(raw[off:off + nb], cfg["codecs"], inner, dtype, fill)
    return out


def padded(expected: np.ndarray, shard, fill) -> np.ndarray:
    """``expected`` extended with the fill value to a whole number of shards."""
    grid = tuple(math.ceil(s / c) * c for s, c in zip(expected.shape, shard))
    out = np.empty(grid, dtype=expected.dtype)
    out[...] = fill
    out[tuple(slice(0, s) for s in expected.shape)] = expected
    return out


def same_bits(a: np.ndarray, b) -> bool:
    a = np.ascontiguousarray(a)
    b = np.broadcast_to(np.asarray(b, dtype=a.dtype), a.shape)
    return a.tobytes() == np.ascontiguousarray(b).tobytes()


def assert_bits_equal(got, want) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)
    assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes()


def check_layout(get, shape, shard, inner, chain, location, expected, fill, prefix="c/",
                 sep="/", morton=True) -> None:
    """Every shard object in a store against the numpy ``expected`` array.

    ``get(key)`` returns the stored bytes or None. Checks: a shard is stored iff it holds any
    non-fill element; its index is the right size with a valid crc32c; an inner chunk is absent
    (both sentinels) iff it is all fill; every present inner chunk decodes (by the oracle) to the
    fill-padded numpy block, lies inside the object and after/before the index; no two overlap;
    with ``morton``, present inner chunks are packed back to back in Morton order (as zarr-python
    writes them).
    """
    cps = tuple(s // c for s, c in zip(shard, inner))
    isize = index_size(cps)
    big = padded(expected, shard, fill)
    grid = [range(math.ceil(s / c)) for s, c in zip(shape, shard)]
    for scoords in itertools.product(*grid):
        key = prefix + sep.join(str(c) for c in scoords)
        raw = get(key)
        block = big[tuple(slice(c * s, (c + 1) * s) for c, s in zip(scoords, shard))]
        if same_bits(block, fill):
            assert raw is None, f"{key}: an all-fill shard is stored"
            continue
        assert raw is not None, f"{key}: a shard with data is missing"
        index = parse_shard(raw, cps, location)
        spans = []
        for icoords in np.ndindex(*cps):
            off, nb = (int(v) for v in index[icoords])
            sub = block[tuple(slice(c * s, (c + 1) * s) for c, s in zip(icoords, inner))]
            if same_bits(sub, fill):
                assert (off, nb) == (MAX, MAX), f"{key} inner {icoords}: an all-fill inner chunk is stored"
                continue
            assert off != MAX and nb != MAX, f"{key} inner {icoords}: inner chunk with data is missing"
            lo, hi = (isize, len(raw)) if location == "start" else (0, len(raw) - isize)
            assert lo <= off and off + nb <= hi, (key, icoords, off, nb, len(raw))
            assert_bits_equal(oracle_decode_inner(raw[off:off + nb], chain, inner, expected.dtype, fill), sub)
            spans.append((morton_key(icoords), off, nb))
        by_offset = sorted(spans, key=lambda s: s[1])
        for (_, o1, n1), (_, o2, _) in zip(by_offset, by_offset[1:]):
            assert o1 + n1 <= o2, f"{key}: inner chunks overlap"
        if morton:
            pos = isize if location == "start" else 0
            for _, off, nb in sorted(spans):
                assert off == pos, f"{key}: inner chunks not packed in Morton order"
                pos += nb
            assert pos == (len(raw) if location == "start" else len(raw) - isize)


def random_data(rng, dtype, shape) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 100).astype(dtype)
    return (rng.standard_normal(shape) * 100 + 1j * rng.standard_normal(shape)).astype(dtype)


def data_with_holes(rng, dtype, shape, shard, inner, fill) -> np.ndarray:
    """Random data where about a third of the inner chunks and the last shard hold only ``fill``."""
    x = random_data(rng, dtype, shape)
    big = padded(x, shard, fill)
    igrid = [s // c for s, c in zip(big.shape, inner)]
    for coords in itertools.product(*map(range, igrid)):
        if rng.random() < 0.35:
            big[tuple(slice(c * s, (c + 1) * s) for c, s in zip(coords, inner))] = fill
    big[tuple(slice(big.shape[d] - shard[d], None) for d in range(len(shape)))] = fill
    return np.ascontiguousarray(big[tuple(slice(0, s) for s in shape)])


def full_of(shape, dtype, fill) -> np.ndarray:
    out = np.empty(shape, dtype=np.dtype(dtype).newbyteorder("="))
    out[...] = fill
    return out


# --- a store that records every read --------------------------------------------------------------------

class _LoggedSnapshot(Snapshot):
    def __init__(self, owner, key, inner):
        self.owner, self.key, self.inner, self.size = owner, key, inner, inner.size

    def read(self, ranges):
        out = self.inner.read(ranges)
        with self.owner._lk:
            self.owner.log.extend((self.key, r, len(v)) for r, v in zip(ranges, out))
        return out

    def close(self):
        self.inner.close()


class CountingStore(Store):
    """Delegates to ``inner`` and logs every physical read as ``(key, request, nbytes or None)``."""

    supports_byte_ranges = True

    def __init__(self, inner: Store):
        super().__init__()
        self.inner = inner
        self.log: list = []
        self._lk = threading.Lock()

    def _get(self, key, byte_range):
        value = self.inner.get(key, byte_range)
        with self._lk:
            self.log.append((key, byte_range, None if value is None else len(value)))
        return value

    def snapshot(self, key):
        """The inner store's snapshot, its reads logged like ``get``'s (a missing key: one entry
        with no size)."""
        snap = self.inner.snapshot(key)
        if snap is None:
            with self._lk:
                self.log.append((key, None, None))
            return None
        return _LoggedSnapshot(self, key, snap)

    def _set(self, key, value):
        self.inner.set(key, value)

    def _delete(self, key):
        self.inner.delete(key)

    def _list_prefix(self, prefix):
        return self.inner.list_prefix(prefix)

    def absolute(self, key_prefix: str = "") -> list:
        """The logged reads as ``(key, start, end)`` absolute byte spans (whole object: None)."""
        out = []
        for key, req, n in self.log:
            if not key.startswith(key_prefix):
                continue
            total = len(self.inner.get(key)) if self.inner.get(key) is not None else None
            if req is None:
                out.append((key, 0, total))
            elif isinstance(req, RangeRequest):
                out.append((key, req.start, min(req.end, total) if total is not None else req.end))
            elif isinstance(req, SuffixRequest):
                out.append((key, max(total - req.suffix, 0) if total is not None else -req.suffix, total))
            elif isinstance(req, OffsetRequest):
                out.append((key, req.offset, total))
        return out


# ======================================================================================================
# round trips
# ======================================================================================================

CHAINS = {
    "bytes": [B_LE],
    "bytes_be": [B_BE],
    "zstd": [B_LE, ZS(0)],
    "zstd3_checksum": [B_LE, ZS(3, True)],
    "gzip": [B_LE, GZ(5)],
    "crc32c": [B_LE, CRC],
    "transpose_zstd_crc": [T(1, 0), B_LE, ZS(1), CRC],
    "transpose_be_gzip": [T(1, 0), B_BE, GZ(1)],
}


@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("chain", list(CHAINS), ids=list(CHAINS))
@pytest.mark.parametrize("dtype,fill", [("uint16", 7), ("float32", -1.5), ("int64", 0)])
def test_round_trip_inner_chains(chain, location, dtype, fill):
    codecs = CHAINS[chain]
    shape, shard, inner = (11, 13), (4, 6), (2, 3)
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=shape, dtype=dtype, chunks=shard, fill_value=fill,
                              serializer=ShardingCodec(inner, codecs, index_location=location), compressors=None)
    assert a.chunks == inner and a.shards == shard
    doc = json.loads(store.get("zarr.json"))
    assert doc["chunk_grid"]["configuration"]["chunk_shape"] == list(shard)
    assert doc["codecs"] == [sharding_json(inner, codecs, location)]

    rng = np.random.default_rng(zlib.crc32(f"{chain}/{location}/{dtype}".encode()))
    x = data_with_holes(rng, dtype, shape, shard, inner, fill)
    a[...] = x
    check_layout(store.get, shape, shard, inner, codecs, location, x, fill)
    assert_bits_equal(a[...], x)
    # reopened from the store alone
    b = zarrsync.open_array(store, mode="r")
    assert b.chunks == inner and b.shards == shard
    assert_bits_equal(b[...], x)
    for sel in [np.s_[3:9, 2:11], np.s_[5, :], np.s_[:, 12], np.s_[::3, 1::4], np.s_[10, 12], np.s_[1:2, 4:5]]:
        assert_bits_equal(b[sel], x[sel])

    # partial writes (scalars and arrays; within one inner chunk and across shards)
    for sel in [np.s_[0, 0], np.s_[1:7, 2:9], np.s_[9:, 10:], np.s_[4:8, 0:6]]:
        v = random_data(rng, dtype, x[sel].shape)
        a[sel] = v
        x[sel] = v
    a[2:5, 5:8] = fill
    x[2:5, 5:8] = fill
    assert_bits_equal(a[...], x)
    check_layout(store.get, shape, shard, inner, codecs, location, x, fill)


def test_round_trip_3d_transpose():
    codecs = [T(2, 0, 1), B_LE, ZS(0), CRC]
    shape, shard, inner = (5, 7, 6), (4, 4, 6), (2, 2, 3)
    for location in ("start", "end"):
        store = MemoryStore()
        a = zarrsync.create_array(store, shape=shape, dtype="int32", chunks=shard, fill_value=-9,
                                  serializer=ShardingCodec(inner, codecs, index_location=location),
                                  compressors=None)
        x = data_with_holes(np.random.default_rng(3), "int32", shape, shard, inner, -9)
        a[...] = x
        check_layout(store.get, shape, shard, inner, codecs, location, x, -9)
        assert_bits_equal(a[...], x)
        assert_bits_equal(a[1:4, 3:6, 2:5], x[1:4, 3:6, 2:5])


def test_round_trip_via_create_array_shards():
    """``create_array(shards=...)``: inner codecs are the usual serializer + compressors, index at end."""
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(10, 9), dtype="float64", chunks=(3, 3), shards=(6, 9),
                              fill_value=np.nan, compressors=[ZS(2)], filters=[T(1, 0)])
    doc = json.loads(store.get("zarr.json"))
    assert doc["chunk_grid"]["configuration"]["chunk_shape"] == [6, 9]
    assert doc["codecs"] == [sharding_json((3, 3), [T(1, 0), B_LE, ZS(2)], "end")]
    x = data_with_holes(np.random.default_rng(5), "float64", (10, 9), (6, 9), (3, 3), np.nan)
    a[...] = x
    check_layout(store.get, (10, 9), (6, 9), (3, 3), [T(1, 0), B_LE, ZS(2)], "end", x, np.nan)
    assert_bits_equal(a[...], x)


# ======================================================================================================
# the exact bytes of SPEC_CHECKLIST §9
# ======================================================================================================

def _spec_vector_array(store, location="end"):
    if location == "end":
        return zarrsync.create_array(store, shape=(8, 8), dtype="uint16", chunks=(2, 2), shards=(4, 4),
                                     fill_value=7, compressors=None)
    return zarrsync.create_array(store, shape=(8, 8), dtype="uint16", chunks=(4, 4), fill_value=7, compressors=None,
                                 serializer=ShardingCodec((2, 2), [B_LE], index_location="start"))


def _spec_vector_data():
    x = np.full((8, 8), 7, dtype=np.uint16)
    x[:4, :4] = np.arange(100, 116, dtype=np.uint16).reshape(4, 4)   # shard c/0/0: 4 inner chunks
    x[4:6, 4:6] = [[200, 201], [202, 203]]                            # shard c/1/1: 1 inner chunk
    return x                                                          # c/0/1, c/1/0: all fill


def test_spec_vector_exact_bytes_index_end():
    store = MemoryStore()
    a = _spec_vector_array(store)
    x = _spec_vector_data()
    a[...] = x

    def le(block):
        return np.ascontiguousarray(block, dtype="<u2").tobytes()

    # c/0/0: inner chunks in Morton order (0,0) (1,0) (0,1) (1,1), 8 bytes each; index in C order
    body = le(x[0:2, 0:2]) + le(x[2:4, 0:2]) + le(x[0:2, 2:4]) + le(x[2:4, 2:4])
    index = np.array([[[0, 8], [16, 8]], [[8, 8], [24, 8]]], dtype="<u8").tobytes()
    want_00 = body + index + crc32c(index).to_bytes(4, "little")
    assert len(want_00) == 100
    # c/1/1: one inner chunk at 0, three sentinels
    index = np.array([[[0, 8], [MAX, MAX]], [[MAX, MAX], [MAX, MAX]]], dtype="<u8").tobytes()
    want_11 = le(x[4:6, 4:6]) + index + crc32c(index).to_bytes(4, "little")
    assert len(want_11) == 76

    assert store.get("c/0/0") == want_00
    assert store.get("c/1/1") == want_11
    assert store.get("c/0/1") is None and store.get("c/1/0") is None
    assert sorted(k for k in store.list() if k != "zarr.json") == ["c/0/0", "c/1/1"]
    # the literal hex of the index of c/0/0 (u64 LE pairs (0,8) (16,8) (8,8) (24,8))
    assert want_00[32:96].hex() == (
        "0000000000000000" "0800000000000000" "1000000000000000" "0800000000000000"
        "0800000000000000" "0800000000000000" "1800000000000000" "0800000000000000")
    assert_bits_equal(a[...], x)


def test_spec_vector_bytes_index_start():
    """The same shards with the index first: 68 index bytes, offsets shifted by 68."""
    store = MemoryStore()
    a = _spec_vector_array(store, "start")
    x = _spec_vector_data()
    a[...] = x
    le = lambda b: np.ascontiguousarray(b, dtype="<u2").tobytes()  # noqa: E731
    body = le(x[0:2, 0:2]) + le(x[2:4, 0:2]) + le(x[0:2, 2:4]) + le(x[2:4, 2:4])
    index = np.array([[[68, 8], [84, 8]], [[76, 8], [92, 8]]], dtype="<u8").tobytes()
    assert store.get("c/0/0") == index + crc32c(index).to_bytes(4, "little") + body
    index = np.array([[[68, 8], [MAX, MAX]], [[MAX, MAX], [MAX, MAX]]], dtype="<u8").tobytes()
    assert store.get("c/1/1") == index + crc32c(index).to_bytes(4, "little") + le(x[4:6, 4:6])
    assert store.get("c/0/1") is None and store.get("c/1/0") is None
    assert_bits_equal(a[...], x)


def test_spec_vector_read_from_hand_built_bytes():
    """zarrsync reads shards built by hand here (not written by zarrsync)."""
    store = MemoryStore()
    a = _spec_vector_array(store)
    x = _spec_vector_data()
    le = lambda b: np.ascontiguousarray(b, dtype="<u2").tobytes()  # noqa: E731
    body = le(x[0:2, 0:2]) + le(x[2:4, 0:2]) + le(x[0:2, 2:4]) + le(x[2:4, 2:4])
    store.set("c/0/0", body + encode_index(np.array([[[0, 8], [16, 8]], [[8, 8], [24, 8]]])))
    store.set("c/1/1", le(x[4:6, 4:6]) + encode_index(np.array([[[0, 8], [MAX, MAX]], [[MAX, MAX], [MAX, MAX]]],
                                                               dtype=np.uint64)))
    assert_bits_equal(a[...], x)
    for i, j in itertools.product(range(8), range(8)):
        assert a[i, j] == x[i, j]


# ======================================================================================================
# nested sharding, edge shards, fill values, empty shards
# ======================================================================================================

NESTED_INNER = sharding_json((2, 2), [B_LE, ZS(0)], "end")


def nested_codec(location="start"):
    return ShardingCodec((4, 4), [NESTED_INNER], index_location=location)


@pytest.mark.parametrize("location", ["start", "end"])
def test_nested_sharding_round_trip(location):
    store = MemoryStore()
    shape = (9, 11)
    a = zarrsync.create_array(store, shape=shape, dtype="int32", chunks=(8, 8), fill_value=3,
                              serializer=nested_codec(location), compressors=None)
    assert a.shards == (8, 8) and a.chunks == (4, 4)
    doc = json.loads(store.get("zarr.json"))
    assert doc["codecs"] == [sharding_json((4, 4), [NESTED_INNER], location)]
    x = data_with_holes(np.random.default_rng(11), "int32", shape, (8, 8), (2, 2), 3)
    a[...] = x
    assert_bits_equal(a[...], x)
    for sel in [np.s_[1:3, 2:4], np.s_[5, 6], np.s_[3:9, 1:10], np.s_[8, :]]:
        assert_bits_equal(a[sel], x[sel])
    # the oracle decodes each stored outer shard, inner shards included
    big = padded(x, (8, 8), 3)
    cfg = sharding_json((4, 4), [NESTED_INNER], location)["configuration"]
    for i, j in itertools.product(range(2), range(2)):
        raw = store.get(f"c/{i}/{j}")
        block = big[i * 8:(i + 1) * 8, j * 8:(j + 1) * 8]
        if same_bits(block, 3):
            assert raw is None
            continue
        assert_bits_equal(oracle_decode_shard(raw, (8, 8), "int32", cfg, fill=3), block)
        # an all-fill middle shard is not stored in the outer index
        index = parse_shard(raw, (2, 2), location)
        for p, q in itertools.product(range(2), range(2)):
            empty = same_bits(block[p * 4:(p + 1) * 4, q * 4:(q + 1) * 4], 3)
            assert (tuple(int(v) for v in index[p, q]) == (MAX, MAX)) == empty
    # partial writes through two levels
    a[2:3, 2:7] = -5
    x[2:3, 2:7] = -5
    a[8, 10] = 77
    x[8, 10] = 77
    assert_bits_equal(a[...], x)


def test_edge_shards_index_covers_inner_chunks_outside_the_array():
    store = MemoryStore()
    shape = (5, 7)
    a = zarrsync.create_array(store, shape=shape, dtype="int16", chunks=(2, 2), shards=(4, 4), fill_value=0,
                              compressors=None)
    x = np.arange(1, 36, dtype=np.int16).reshape(shape)
    a[...] = x
    check_layout(store.get, shape, (4, 4), (2, 2), [B_LE], "end", x, 0)
    raw = store.get("c/1/1")  # rows 4:8, cols 4:8 of which only row 4, cols 4:7 exist
    assert len(raw) == 2 * 8 + 68
    index = parse_shard(raw, (2, 2))
    assert index.tolist() == [[[0, 8], [8, 8]], [[MAX, MAX], [MAX, MAX]]]
    le = lambda b: np.asarray(b, dtype="<i2").tobytes()  # noqa: E731
    assert raw[0:8] == le([[x[4, 4], x[4, 5]], [0, 0]])
    assert raw[8:16] == le([[x[4, 6], 0], [0, 0]])
    assert_bits_equal(a[4, 3:], x[4, 3:])
    assert_bits_equal(a[3:, 5:], x[3:, 5:])
    assert_bits_equal(a[...], x)


@pytest.mark.parametrize("value", [9, np.array(9, dtype=np.uint8), np.array([9], dtype=np.uint8)],
                         ids=["python_scalar", "0d_array", "1d_array"])
def test_write_covering_an_edge_shard_keeps_out_of_bounds_as_fill(value):
    """SPEC_CHECKLIST §1.6: the out-of-bounds part of an edge chunk is written as the fill value;
    §2.7: inner chunks that are all fill (here: wholly outside the array) are not stored. Growing
    the array afterwards must show the fill value there, not the last value written."""
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(5,), dtype="uint8", chunks=(2,), shards=(4,), fill_value=0,
                              compressors=None)
    a[4:] = value  # covers all of edge shard c/1 that lies inside the array
    raw = store.get("c/1")
    index = parse_shard(raw, (2,))
    assert tuple(int(v) for v in index[1]) == (MAX, MAX), "an inner chunk wholly outside the array is stored"
    off, nb = (int(v) for v in index[0])
    assert raw[off:off + nb] == bytes([9, 0])
    a.resize((8,))
    assert_bits_equal(a[...], np.array([0, 0, 0, 0, 9, 0, 0, 0], dtype=np.uint8))


@pytest.mark.parametrize("dtype,fill", [
    ("uint16", 7), ("int8", -3), ("float32", np.nan), ("float64", -1.5), ("complex64", 1 + 2j), ("bool", True),
    ("uint64", 2**64 - 1),
])
def test_fill_values(dtype, fill):
    store = MemoryStore()
    shape, shard, inner = (6, 10), (4, 4), (2, 2)
    a = zarrsync.create_array(store, shape=shape, dtype=dtype, chunks=inner, shards=shard, fill_value=fill,
                              compressors=[ZS(0)])
    expected = full_of(shape, dtype, a.fill_value)
    assert_bits_equal(a[...], expected)
    assert list(store.list()) == ["zarr.json"]
    rng = np.random.default_rng(1)
    # a few cells of non-fill data, the rest fill
    for i, j in [(0, 0), (3, 5), (5, 9), (1, 6)]:
        v = random_data(rng, dtype, ())
        while same_bits(np.asarray(v), fill):
            v = random_data(rng, dtype, ())
        a[i, j] = v
        expected[i, j] = v
    assert_bits_equal(a[...], expected)
    check_layout(store.get, shape, shard, inner, [B_LE, ZS(0)], "end", expected, fill)
    # writing the fill back over an inner chunk makes its entry a sentinel pair, then removes the shard
    a[0:2, 0:2] = fill
    expected[0:2, 0:2] = fill
    check_layout(store.get, shape, shard, inner, [B_LE, ZS(0)], "end", expected, fill)
    a[...] = fill
    assert list(store.list()) == ["zarr.json"]
    assert_bits_equal(a[...], full_of(shape, dtype, a.fill_value))


def test_empty_shards():
    store = MemoryStore()
    counting = CountingStore(store)
    a = zarrsync.create_array(counting, shape=(8, 8), dtype="int32", chunks=(2, 2), shards=(4, 4), fill_value=42)
    assert_bits_equal(a[...], np.full((8, 8), 42, np.int32))
    counting.log.clear()
    assert a[1, 2] == 42  # a partial read of a missing shard: one (failed) read of the index
    assert [(k, n) for k, _, n in counting.log] == [("c/0/0", None)]
    assert_bits_equal(a[5:7, 1:6], np.full((2, 5), 42, np.int32))
    # writing the fill value into a missing shard stores nothing
    a[1, 1] = 42
    a[0:3, 0:3] = 42
    a[4:8, 4:8] = 42
    assert list(store.list()) == ["zarr.json"]
    # a shard whose index is all sentinels is valid and reads as fill
    store.set("c/1/0", encode_index(np.full((2, 2, 2), MAX, dtype=np.uint64)))
    assert_bits_equal(a[...], np.full((8, 8), 42, np.int32))
    assert a[5, 1] == 42
    assert_bits_equal(a[4:6, 0:3], np.full((2, 3), 42, np.int32))


# ======================================================================================================
# partial reads: exactly the reads they need
# ======================================================================================================

@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("backend", ["memory", "local"])
def test_partial_read_of_one_inner_chunk_issues_exactly_the_reads_it_needs(location, backend, tmp_path):
    shape, shard, inner = (16, 16), (8, 8), (2, 2)
    base = MemoryStore() if backend == "memory" else LocalStore(tmp_path / "a")
    codecs = [B_LE, ZS(0)]
    w = zarrsync.create_array(base, shape=shape, dtype="int32", chunks=shard, fill_value=0, compressors=None,
                              serializer=ShardingCodec(inner, codecs, index_location=location))
    x = data_with_holes(np.random.default_rng(2), "int32", shape, shard, inner, 0)
    x[8:, 8:] = 0  # shard c/1/1 is not stored
    x[8:10, 0:2] = 0  # inner chunk (0, 0) of shard c/1/0 is all fill
    x[10:12, 2:4] = np.arange(4).reshape(2, 2) + 1
    w[...] = x
    counting = CountingStore(base)
    a = zarrsync.open_array(counting, mode="r")
    isize = index_size((4, 4))
    for key in ("c/0/0", "c/0/1", "c/1/0"):
        raw = base.get(key)
        index = parse_shard(raw, (4, 4), location)
        ix_span = (len(raw) - isize, len(raw)) if location == "end" else (0, isize)
        si, sj = (int(v) for v in key.split("/")[1:])
        for p, q in itertools.product(range(4), range(4)):
            r0, c0 = si * 8 + p * 2, sj * 8 + q * 2
            off, nb = (int(v) for v in index[p, q])
            for sel in [np.s_[r0:r0 + 2, c0:c0 + 2], np.s_[r0 + 1, c0], np.s_[r0:r0 + 2, c0 + 1]]:
                counting.log.clear()
                assert_bits_equal(a[sel], x[sel])
                reads = counting.absolute()
                if off == MAX:
                    assert reads == [(key, *ix_span)], (key, p, q, counting.log)
                else:
                    assert reads == [(key, *ix_span), (key, off, off + nb)], (key, p, q, counting.log)
    # the missing shard: one read of its index, which finds nothing
    counting.log.clear()
    assert a[9, 9] == 0
    assert [(k, n) for k, _, n in counting.log] == [("c/1/1", None)]
    # a whole shard is fetched with one read of the whole object
    counting.log.clear()
    assert_bits_equal(a[0:8, 8:16], x[0:8, 8:16])
    assert [(k, r) for k, r, _ in counting.log] == [("c/0/1", None)]


def test_partial_read_spanning_inner_chunks_never_fetches_the_whole_shard():
    """A region inside one shard: one index read, then only ranges inside the body, covering
    every needed inner chunk; a region over two shards: one index read per shard."""
    base = MemoryStore()
    # big incompressible inner chunks so that the coalescing of near ranges cannot span the shard
    shape, shard, inner = (64, 64), (64, 64), (16, 16)
    w = zarrsync.create_array(base, shape=shape, dtype="float64", chunks=inner, shards=shard, compressors=None)
    x = np.random.default_rng(0).standard_normal(shape)
    w[...] = x
    counting = CountingStore(base)
    a = zarrsync.open_array(counting, mode="r")
    raw = base.get("c/0/0")
    index = parse_shard(raw, (4, 4))
    counting.log.clear()
    assert_bits_equal(a[0:20, 0:5], x[0:20, 0:5])  # inner chunks (0, 0) and (1, 0)
    reads = counting.absolute()
    assert reads[0] == ("c/0/0", len(raw) - index_size((4, 4)), len(raw))
    assert all(r[2] <= len(raw) - index_size((4, 4)) for r in reads[1:])
    for p, q in [(0, 0), (1, 0)]:
        off, nb = (int(v) for v in index[p, q])
        assert any(lo <= off and off + nb <= hi for _, lo, hi in reads[1:])
    assert sum(hi - lo for _, lo, hi in reads[1:]) < len(raw) // 2


# ======================================================================================================
# the lost-update race
# ======================================================================================================

N_THREADS = 16


def _race(get_array, shape, rounds, mode):
    """16 threads each own the cells ``flat_index % 16 == t`` and write them ``rounds`` times."""
    owner = np.arange(math.prod(shape)).reshape(shape) % N_THREADS
    barrier = threading.Barrier(N_THREADS)
    errors = []

    def work(t):
        try:
            a = get_array()
            barrier.wait()
            cells = list(zip(*np.nonzero(owner == t)))
            for r in range(rounds):
                value = r * 1000 + t
                if mode == "cells":
                    for i, j in cells:
                        a[i, j] = value
                else:  # strided slices: every 16th cell of a row
                    for i in range(shape[0]):
                        start = (t - i * shape[1]) % N_THREADS
                        a[i, start::N_THREADS] = value
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(N_THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(old)
    assert sys.getswitchinterval() == old
    assert not errors, errors
    return (rounds - 1) * 1000 + owner


@pytest.mark.parametrize("mode", ["cells", "strided"])
def test_lost_update_one_array(mode):
    shape = (8, 32)  # 4 shards of 4 x 16, inner 2 x 4
    a = zarrsync.create_array(MemoryStore(), shape=shape, dtype="int32", chunks=(2, 4), shards=(4, 16),
                              fill_value=-1, compressors=[ZS(0)])
    want = _race(lambda: a, shape, rounds=12 if mode == "cells" else 40, mode=mode)
    assert_bits_equal(a[...], want.astype(np.int32))


def test_lost_update_many_arrays_over_one_directory(tmp_path):
    shape = (8, 16)  # 2 shards of 4 x 16, inner 2 x 2
    path = str(tmp_path / "race.zarr")
    zarrsync.create_array(path, shape=shape, dtype="int32", chunks=(2, 2), shards=(4, 16), fill_value=-1,
                          compressors=[ZS(0)])
    want = _race(lambda: zarrsync.open_array(path, mode="r+"), shape, rounds=8, mode="cells")
    assert_bits_equal(zarrsync.open_array(path, mode="r")[...], want.astype(np.int32))
    # and every shard is still well formed with data at the right place
    check_layout(LocalStore(path).get, shape, (4, 16), (2, 2), [B_LE, ZS(0)], "end", want.astype(np.int32), -1)


def test_lost_update_many_arrays_over_one_local_store_object(tmp_path):
    shape = (8, 16)
    store = LocalStore(tmp_path / "race2.zarr")
    zarrsync.create_array(store, shape=shape, dtype="int32", chunks=(2, 2), shards=(8, 8), fill_value=-1,
                          compressors=None)
    want = _race(lambda: zarrsync.open_array(LocalStore(tmp_path / "race2.zarr"), mode="r+"), shape,
                 rounds=20, mode="strided")
    assert_bits_equal(zarrsync.open_array(store, mode="r")[...], want.astype(np.int32))


# ======================================================================================================
# corrupt shards
# ======================================================================================================

def _corrupt(raw: bytes, kind: str, location: str) -> bytes:
    """A corrupted copy of a 2 x 2-inner-chunk shard; the damage hits inner chunk (1, 1)."""
    isize = index_size((2, 2))
    ix = raw[-isize:] if location == "end" else raw[:isize]
    body = raw[:-isize] if location == "end" else raw[isize:]
    entries = np.frombuffer(ix[:-4], dtype="<u8").reshape(2, 2, 2).copy()

    def with_index(e):
        new = encode_index(e)
        return body + new if location == "end" else new + body

    if kind == "index_crc":
        bad = bytearray(ix)
        bad[3 * 16 + 1] ^= 0x01  # a bit of the (1, 1) offset; the crc32c no longer matches
        return body + bytes(bad) if location == "end" else bytes(bad) + body
    if kind == "crc_field":
        bad = bytearray(ix)
        bad[-1] ^= 0xFF
        return body + bytes(bad) if location == "end" else bytes(bad) + body
    if kind == "offset_past_end":
        entries[1, 1, 0] = len(raw) + 10
        return with_index(entries)
    if kind == "nbytes_past_end":
        entries[1, 1, 1] = len(raw)
        return with_index(entries)
    if kind == "only_offset_sentinel":
        entries[1, 1, 0] = MAX
        return with_index(entries)
    if kind == "only_nbytes_sentinel":
        entries[1, 1, 1] = MAX
        return with_index(entries)
    if kind == "truncated":
        return raw[:-5]  # index at end: cuts the index; at start: cuts inner chunk (1, 1), last in Morton order
    if kind == "shorter_than_index":
        return raw[:30]
    raise AssertionError(kind)


CORRUPTIONS = ["index_crc", "crc_field", "offset_past_end", "nbytes_past_end", "only_offset_sentinel",
               "only_nbytes_sentinel", "truncated", "shorter_than_index"]


@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("kind", CORRUPTIONS)
@pytest.mark.parametrize("how", ["whole_shard_read", "partial_read", "partial_write"])
def test_corrupt_shard_raises_naming_the_key(kind, location, how):
    store = MemoryStore()
    a = zarrsync.create_array(store, name="g/arr", shape=(8, 8), dtype="int32", chunks=(4, 4), fill_value=0,
                              serializer=ShardingCodec((2, 2), [B_LE], index_location=location), compressors=None)
    x = np.arange(1, 65, dtype=np.int32).reshape(8, 8)
    a[...] = x
    key = "g/arr/c/0/0"
    raw = store.get(key)
    assert parse_shard(raw, (2, 2), location) is not None  # well formed before
    store.set(key, _corrupt(raw, kind, location))
    with pytest.raises(CorruptChunkError) as info:
        if how == "whole_shard_read":
            a[0:4, 0:4]
        elif how == "partial_read":
            a[3, 3]  # inner chunk (1, 1)
        else:
            a[3, 2] = 99
    assert info.value.key == key
    assert key in str(info.value)
    # other shards are unaffected
    assert_bits_equal(a[4:8, 4:8], x[4:8, 4:8])
    assert_bits_equal(a[0:4, 4:8], x[0:4, 4:8])


# a bytes-only index (no crc32c): nothing but the bounds checks stands between a corrupt entry and a
# read or allocation of whatever size it names. Each entry is (offset, nbytes) of inner chunk (1, 1).
UNCHECKED_ENTRIES = {
    "offset_past_end": lambda size: (size + 10, 4),
    "offset_far_past_end": lambda size: (2**63, 16),
    "end_wraps_past_2**64": lambda size: (2**64 - 8, 16),  # offset + nbytes wraps around to 8
    "nbytes_wraps_past_2**64": lambda size: (16, 2**64 - 2),  # wraps around to 14
    "huge_nbytes": lambda size: (0, 2**40),
    "nbytes_past_end": lambda size: (1, size),
    "only_offset_empty": lambda size: (MAX, 16),
    "only_nbytes_empty": lambda size: (0, MAX),
}


@pytest.mark.parametrize("backend", ["memory", "local"])
@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("kind", list(UNCHECKED_ENTRIES))
def test_unchecked_index_entries_are_bounds_checked(kind, location, backend, tmp_path):
    store = MemoryStore() if backend == "memory" else LocalStore(tmp_path / "s")
    a = zarrsync.create_array(store, shape=(8, 8), dtype="int32", chunks=(4, 4), fill_value=0, compressors=None,
                              serializer=ShardingCodec((2, 2), [B_LE], index_codecs=[B_LE], index_location=location))
    x = np.arange(1, 65, dtype=np.int32).reshape(8, 8)
    a[...] = x
    key = "c/0/0"
    raw = store.get(key)
    isize = 4 * 16
    entries = np.frombuffer(raw[-isize:] if location == "end" else raw[:isize], dtype="<u8").reshape(4, 2).copy()
    entries[3] = UNCHECKED_ENTRIES[kind](len(raw))
    index = entries.astype("<u8").tobytes()
    store.set(key, raw[:-isize] + index if location == "end" else index + raw[isize:])
    ops = {"whole read": lambda: a[0:4, 0:4], "partial read of the entry": lambda: a[3, 3],
           "partial read of another entry": lambda: a[0:2, 0:2], "partial write": lambda: a.__setitem__((3, 2), 9),
           "read of the whole array": lambda: a[...]}
    for name, op in ops.items():
        with pytest.raises(CorruptChunkError) as info:
            op()
        assert info.value.key == key, name
        assert f"chunk {key!r}: shard index" in str(info.value), (name, str(info.value))
    assert store.get(key) is not None and len(store.get(key)) == len(raw)  # the failed write changed nothing
    assert_bits_equal(a[4:8, :], x[4:8, :])


def test_corrupt_shard_full_array_read_names_the_key():
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(8, 8), dtype="uint8", chunks=(2, 2), shards=(4, 4))
    a[...] = 5
    raw = store.get("c/1/0")
    store.set("c/1/0", raw[:-1] + bytes([raw[-1] ^ 0x5A]))
    with pytest.raises(CorruptChunkError) as info:
        a[...]
    assert info.value.key == "c/1/0"


def test_corrupt_inner_chunk_names_the_shard_key():
    """An inner chunk whose own crc32c fails: the error names the shard's key."""
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(4, 4), dtype="int32", chunks=(4, 4), fill_value=0,
                              serializer=ShardingCodec((2, 2), [B_LE, CRC]), compressors=None)
    a[...] = np.arange(1, 17).reshape(4, 4)
    raw = bytearray(store.get("c/0/0"))
    raw[0] ^= 0x10  # first byte of inner chunk (0, 0)
    store.set("c/0/0", bytes(raw))
    for read in (lambda: a[...], lambda: a[0, 0]):
        with pytest.raises(CorruptChunkError) as info:
            read()
        assert info.value.key == "c/0/0"
    assert_bits_equal(a[2:4, 2:4], np.array([[11, 12], [15, 16]], dtype=np.int32))


# ======================================================================================================
# create_array(shards=...) and Array.chunks / Array.shards
# ======================================================================================================

@pytest.mark.parametrize("shards,chunks", [
    ((5, 4), (2, 2)),     # not a multiple
    ((4, 3), (2, 2)),
    ((1, 2), (2, 2)),     # smaller than the chunks
    ((4,), (2, 2)),       # wrong number of dimensions
    ((4, 4, 4), (2, 2)),
    ((0, 4), (2, 2)),     # not positive
    ((-4, 4), (2, 2)),
])
def test_create_array_shards_validation(shards, chunks):
    store = MemoryStore()
    with pytest.raises(MetadataError):
        zarrsync.create_array(store, shape=(8, 8), dtype="int32", chunks=chunks, shards=shards)
    assert list(store.list()) == []


def test_sharding_codec_chunk_shape_must_divide_the_shard():
    store = MemoryStore()
    with pytest.raises(CodecError):
        zarrsync.create_array(store, shape=(8, 8), dtype="int32", chunks=(4, 4), compressors=None,
                              serializer=ShardingCodec((3, 3), [B_LE]))
    with pytest.raises(CodecError):
        zarrsync.create_array(store, shape=(8, 8), dtype="int32", chunks=(4, 4), compressors=None,
                              serializer=ShardingCodec((2, 2, 2), [B_LE]))
    with pytest.raises(CodecError):  # the index codecs must have a fixed size
        zarrsync.create_array(store, shape=(8, 8), dtype="int32", chunks=(4, 4), compressors=None,
                              serializer=ShardingCodec((2, 2), [B_LE], [B_LE, ZS(0)]))
    with pytest.raises(CodecError):
        ShardingCodec((2, 2), [B_LE], index_location="middle")
    assert list(store.list()) == []


def test_array_chunks_and_shards(tmp_path):
    path = str(tmp_path / "s.zarr")
    a = zarrsync.create_array(path, shape=(20, 30), dtype="uint8", chunks=(5, 3), shards=(10, 15))
    assert a.chunks == (5, 3)
    assert a.shards == (10, 15)
    doc = json.load(open(os.path.join(path, "zarr.json")))
    assert doc["chunk_grid"] == {"name": "regular", "configuration": {"chunk_shape": [10, 15]}}
    assert doc["codecs"][0]["name"] == "sharding_indexed"
    assert doc["codecs"][0]["configuration"]["chunk_shape"] == [5, 3]
    b = zarrsync.open_array(path, mode="r")
    assert b.chunks == (5, 3) and b.shards == (10, 15)
    # shards equal to chunks: one inner chunk per shard
    c = zarrsync.create_array(None, shape=(4, 4), dtype="uint8", chunks=(2, 2), shards=(2, 2))
    assert c.chunks == (2, 2) and c.shards == (2, 2)
    c[...] = np.arange(16, dtype=np.uint8).reshape(4, 4)
    assert_bits_equal(c[...], np.arange(16, dtype=np.uint8).reshape(4, 4))
    # not sharded
    d = zarrsync.create_array(None, shape=(4, 4), dtype="uint8", chunks=(2, 2))
    assert d.chunks == (2, 2) and d.shards is None


# ======================================================================================================
# partial writes: only the touched inner chunks are re-encoded; all-fill shards are deleted
# ======================================================================================================

def _hand_built_gzip_shard(x4: np.ndarray, location: str) -> tuple[bytes, dict]:
    """A 4 x 4 int32 shard of 2 x 2 inner chunks, each gzip'ed with a header zarrsync never writes
    (mtime, file name), placed in reverse C order with gaps of junk bytes."""
    blobs = {}
    for p, q in itertools.product(range(2), range(2)):
        data = np.ascontiguousarray(x4[p * 2:(p + 1) * 2, q * 2:(q + 1) * 2], dtype="<i4").tobytes()
        blobs[p, q] = gzip_mod.compress(data, compresslevel=9, mtime=1234567 + p * 2 + q)
    isize = index_size((2, 2))
    pos = isize + 5 if location == "start" else 5
    body = b"\xAA" * 5
    entries = np.zeros((2, 2, 2), dtype=np.uint64)
    for coords in [(1, 1), (1, 0), (0, 1), (0, 0)]:
        entries[coords] = (pos, len(blobs[coords]))
        body += blobs[coords] + b"\xBB" * 3
        pos += len(blobs[coords]) + 3
    ix = encode_index(entries)
    return (body + ix if location == "end" else ix + body), blobs


@pytest.mark.parametrize("location", ["start", "end"])
def test_partial_write_reencodes_only_touched_inner_chunks(location):
    store = MemoryStore()
    chain = [B_LE, GZ(5)]
    a = zarrsync.create_array(store, shape=(4, 4), dtype="int32", chunks=(4, 4), fill_value=0, compressors=None,
                              serializer=ShardingCodec((2, 2), chain, index_location=location))
    x = np.arange(1, 17, dtype=np.int32).reshape(4, 4)
    raw, blobs = _hand_built_gzip_shard(x, location)
    store.set("c/0/0", raw)
    # any order, with gaps, is readable
    assert_bits_equal(a[...], x)
    assert_bits_equal(a[2:4, 1:3], x[2:4, 1:3])

    a[0, 1] = 99  # touches inner chunk (0, 0) only
    x[0, 1] = 99
    new = store.get("c/0/0")
    index = parse_shard(new, (2, 2), location)
    for coords in [(0, 1), (1, 0), (1, 1)]:
        off, nb = (int(v) for v in index[coords])
        assert new[off:off + nb] == blobs[coords], f"untouched inner chunk {coords} was re-encoded"
    off, nb = (int(v) for v in index[0, 0])
    assert new[off:off + nb] != blobs[0, 0]
    assert_bits_equal(oracle_decode_inner(new[off:off + nb], chain, (2, 2), np.int32), x[0:2, 0:2])
    assert_bits_equal(a[...], x)

    # two more touched inner chunks; (0, 1) keeps its hand-built bytes
    a[2:4, 0:3] = -7
    x[2:4, 0:3] = -7
    new = store.get("c/0/0")
    index = parse_shard(new, (2, 2), location)
    off, nb = (int(v) for v in index[0, 1])
    assert new[off:off + nb] == blobs[0, 1]
    assert_bits_equal(a[...], x)

    # inner chunks become fill one by one: sentinels, then the shard is deleted
    a[0:2, 0:2] = 0
    x[0:2, 0:2] = 0
    index = parse_shard(store.get("c/0/0"), (2, 2), location)
    assert tuple(int(v) for v in index[0, 0]) == (MAX, MAX)
    off, nb = (int(v) for v in index[0, 1])
    assert store.get("c/0/0")[off:off + nb] == blobs[0, 1]
    a[2:4, 0:4] = 0
    x[2:4, 0:4] = 0
    assert store.get("c/0/0") is not None
    a[0:2, 3] = 0
    a[1, 2] = 0
    assert store.get("c/0/0") is not None  # x[0, 2] is still 3
    a[0, 2] = 0
    assert store.get("c/0/0") is None
    assert list(store.list()) == ["zarr.json"]
    assert_bits_equal(a[...], np.zeros((4, 4), np.int32))


def test_partial_write_shard_becoming_fill_is_deleted_local(tmp_path):
    path = str(tmp_path / "d.zarr")
    a = zarrsync.create_array(path, shape=(6, 6), dtype="float32", chunks=(2, 2), shards=(4, 4),
                              fill_value=np.nan)
    a[1:5, 1:5] = 1.0
    assert sorted(os.listdir(os.path.join(path, "c"))) == ["0", "1"]
    a[1:4, 1:4] = np.nan
    a[4, 1:4] = np.nan
    a[1:4, 4] = np.nan
    assert not os.path.exists(os.path.join(path, "c", "0", "0"))
    assert not os.path.exists(os.path.join(path, "c", "0", "1"))
    assert not os.path.exists(os.path.join(path, "c", "1", "0"))
    assert os.path.exists(os.path.join(path, "c", "1", "1"))
    a[4, 4] = np.nan
    assert not os.path.exists(os.path.join(path, "c", "1", "1"))
    assert np.isnan(a[...]).all()


# ======================================================================================================
# tensorstore interop
# ======================================================================================================

def ts_spec(path, shape, dtype, shard, codecs, fill, create=True):
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": path}}
    if create:
        spec.update(create=True, delete_existing=True, metadata={
            "shape": list(shape), "data_type": dtype,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shard)}},
            "codecs": codecs, "fill_value": fill})
    return spec


def ts_open(path):
    return ts().open({"driver": "zarr3", "kvstore": {"driver": "file", "path": path}}).result()


TS_CHAINS = {
    "bytes": [B_LE],
    "zstd": [B_LE, ZS(0)],
    "crc32c": [B_LE, CRC],
    "transpose_gzip": [T(1, 0), B_LE, GZ(5)],
    "be_zstd_crc": [B_BE, ZS(3, True), CRC],
}


def _inner_regions(shape, inner):
    for coords in itertools.product(*(range(math.ceil(s / c)) for s, c in zip(shape, inner))):
        yield coords, tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, inner, shape))


@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("chain", list(TS_CHAINS), ids=list(TS_CHAINS))
def test_tensorstore_writes_zarrsync_reads(tmp_path, chain, location):
    codecs = TS_CHAINS[chain]
    shape, shard, inner, fill, dtype = (13, 10), (6, 4), (3, 2), 9, "int16"
    path = str(tmp_path / "ts.zarr")
    t = ts().open(ts_spec(path, shape, dtype, shard, [sharding_json(inner, codecs, location)], fill)).result()
    x = data_with_holes(np.random.default_rng(7), dtype, shape, shard, inner, fill)
    t[...].write(x).result()

    base = LocalStore(path)
    counting = CountingStore(base)
    a = zarrsync.open_array(counting, mode="r")
    assert a.chunks == inner and a.shards == shard
    assert_bits_equal(a[...], x)
    for sel in [np.s_[2:11, 1:9], np.s_[12, :], np.s_[::2, ::3]]:
        assert_bits_equal(a[sel], x[sel])
    # single inner chunks: right values, and exactly the index read plus the chunk's own range
    cps = tuple(s // i for s, i in zip(shard, inner))
    isize = index_size(cps)
    for coords, region in _inner_regions(shape, inner):
        scoords = tuple(c * i // s for c, i, s in zip(coords, inner, shard))
        key = "c/" + "/".join(map(str, scoords))
        counting.log.clear()
        assert_bits_equal(a[region], x[region])
        raw = base.get(key)
        if raw is None:
            assert [(k, n) for k, _, n in counting.log] == [(key, None)]
            continue
        index = parse_shard(raw, cps, location)
        local = tuple(c % (s // i) for c, s, i in zip(coords, shard, inner))
        off, nb = (int(v) for v in index[local])
        ix_span = (len(raw) - isize, len(raw)) if location == "end" else (0, isize)
        want = [(key, *ix_span)] if off == MAX else [(key, *ix_span), (key, off, off + nb)]
        assert counting.absolute() == want, (coords, counting.log)
    # zarrsync updates the tensorstore array; tensorstore reads it back
    w = zarrsync.open_array(path, mode="r+")
    w[1:5, 3] = 1234
    x[1:5, 3] = 1234
    w[12, 9] = -1
    x[12, 9] = -1
    assert_bits_equal(ts_open(path)[...].read().result(), x)


@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("chain", list(TS_CHAINS), ids=list(TS_CHAINS))
def test_zarrsync_writes_tensorstore_reads(tmp_path, chain, location):
    codecs = TS_CHAINS[chain]
    shape, shard, inner, fill, dtype = (13, 10), (6, 4), (3, 2), -2.5, "float32"
    path = str(tmp_path / "zs.zarr")
    a = zarrsync.create_array(path, shape=shape, dtype=dtype, chunks=shard, fill_value=fill, compressors=None,
                              serializer=ShardingCodec(inner, codecs, index_location=location))
    x = data_with_holes(np.random.default_rng(8), dtype, shape, shard, inner, fill)
    a[...] = x
    t = ts_open(path)
    assert tuple(t.chunk_layout.read_chunk.shape) == inner
    assert tuple(t.chunk_layout.write_chunk.shape) == shard
    assert np.asarray(t.fill_value) == np.float32(fill)
    assert_bits_equal(t[...].read().result(), x)
    for _, region in _inner_regions(shape, inner):  # tensorstore reads single inner chunks
        assert_bits_equal(t[region].read().result(), x[region])
    # tensorstore updates the zarrsync array; zarrsync reads it back
    t[2:4, 0:7].write(np.full((2, 7), 5.5, np.float32)).result()
    x[2:4, 0:7] = 5.5
    assert_bits_equal(zarrsync.open_array(path, mode="r")[...], x)


def test_zarrsync_writes_tensorstore_reads_create_array_shards(tmp_path):
    path = str(tmp_path / "zs2.zarr")
    shape = (17, 9, 5)
    a = zarrsync.create_array(path, shape=shape, dtype="uint32", chunks=(2, 3, 5), shards=(8, 3, 5),
                              fill_value=0, compressors=[ZS(0)])
    x = data_with_holes(np.random.default_rng(9), "uint32", shape, (8, 3, 5), (2, 3, 5), 0)
    a[...] = x
    a[16, :, :] = 77  # an edge shard with one row in bounds
    x[16, :, :] = 77
    t = ts_open(path)
    assert_bits_equal(t[...].read().result(), x)
    for _, region in _inner_regions(shape, (2, 3, 5)):
        assert_bits_equal(t[region].read().result(), x[region])


@pytest.mark.parametrize("location", ["start", "end"])
def test_nested_sharding_tensorstore_both_ways(tmp_path, location):
    shape, fill = (9, 11), 3
    codec_json = sharding_json((4, 4), [NESTED_INNER], location)
    # tensorstore writes, zarrsync reads
    p1 = str(tmp_path / "ts_nested.zarr")
    t = ts().open(ts_spec(p1, shape, "int32", (8, 8), [codec_json], fill)).result()
    x = data_with_holes(np.random.default_rng(12), "int32", shape, (8, 8), (2, 2), fill)
    t[...].write(x).result()
    a = zarrsync.open_array(p1, mode="r")
    assert a.shards == (8, 8) and a.chunks == (4, 4)
    assert_bits_equal(a[...], x)
    for _, region in _inner_regions(shape, (2, 2)):
        assert_bits_equal(a[region], x[region])
    # zarrsync writes, tensorstore reads
    p2 = str(tmp_path / "zs_nested.zarr")
    b = zarrsync.create_array(p2, shape=shape, dtype="int32", chunks=(8, 8), fill_value=fill,
                              serializer=nested_codec(location), compressors=None)
    b[...] = x
    t2 = ts_open(p2)
    assert_bits_equal(t2[...].read().result(), x)
    for _, region in _inner_regions(shape, (2, 2)):
        assert_bits_equal(t2[region].read().result(), x[region])


# ======================================================================================================
# property test: basic selections on sharded arrays vs numpy
# ======================================================================================================

def dim_index(n: int):
    bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
    step = st.one_of(st.none(), st.integers(-3, 3).filter(bool))
    slices = st.builds(slice, bound, bound, step)
    if n == 0:
        return slices
    return st.one_of(st.integers(-n, n - 1), slices)


@st.composite
def selections(draw, shape):
    sel = tuple(draw(dim_index(n)) for n in shape)
    if draw(st.booleans()) and sel:
        k = draw(st.integers(0, len(sel)))
        return sel[:k] + (Ellipsis,)
    return sel


@st.composite
def sharded_arrays(draw):
    ndim = draw(st.integers(1, 3))
    inner = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    shard = tuple(c * draw(st.integers(1, 3)) for c in inner)
    shape = tuple(draw(st.integers(0, 2 * s + 1)) for s in shard)
    dtype = draw(st.sampled_from(["uint8", "int16", "float32", ">i4"]))
    fill = draw(st.sampled_from([0, 5] + ([float("nan")] if dtype == "float32" else [])))
    location = draw(st.sampled_from(["start", "end"]))
    chain = draw(st.sampled_from([[B_LE], [B_LE, ZS(0)], [B_LE, CRC], [T(*reversed(range(ndim))), B_LE, GZ(1)]]))
    if dtype == ">i4":
        chain = [B_BE if c == B_LE else c for c in chain]
    how = draw(st.sampled_from(["codec", "create_array"]))
    store = MemoryStore()
    if how == "codec":
        a = zarrsync.create_array(store, shape=shape, dtype=dtype, chunks=shard, fill_value=fill, compressors=None,
                                  serializer=ShardingCodec(inner, chain, index_location=location))
    else:
        location = "end"
        filters = [c for c in chain if c["name"] == "transpose"]
        compressors = [c for c in chain if c["name"] in ("zstd", "gzip", "crc32c")]
        a = zarrsync.create_array(store, shape=shape, dtype=dtype, chunks=inner, shards=shard, fill_value=fill,
                                  compressors=compressors or None, filters=filters or None)
    assert a.chunks == inner and a.shards == shard
    return a, store, dict(shape=shape, shard=shard, inner=inner, chain=chain, location=location, fill=fill,
                          dtype=np.dtype(dtype).newbyteorder("="))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_basic_selections_on_sharded_arrays(data):
    a, store, p = data.draw(sharded_arrays())
    expected = full_of(p["shape"], p["dtype"], p["fill"])
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    for _ in range(data.draw(st.integers(1, 4))):
        sel = data.draw(selections(p["shape"]))
        target_shape = expected[sel].shape
        kind = data.draw(st.sampled_from(["array", "scalar", "fill"]))
        if kind == "array":
            value = random_data(rng, p["dtype"], target_shape)
        elif kind == "scalar":
            value = random_data(rng, p["dtype"], ())
        else:
            value = p["fill"]
        a[sel] = value
        expected[sel] = value
        read_sel = data.draw(selections(p["shape"]))
        got = a[read_sel]
        assert_bits_equal(got, expected[read_sel])
    assert_bits_equal(a[...], expected)
    check_layout(store.get, p["shape"], p["shard"], p["inner"], p["chain"], p["location"], expected, p["fill"])


def test_codec_properties_of_a_sharded_array_are_the_inner_chunks():
    """As in zarr-python: ``filters``/``serializer``/``compressors`` are what ``create_array``
    took for the inner chunks; ``codecs`` is the stored chain (one sharding codec)."""
    a = zarrsync.create_array(None, shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="f4",
                              filters=[{"name": "transpose", "configuration": {"order": [1, 0]}}],
                              compressors=[{"name": "gzip", "configuration": {"level": 2}}])
    assert [c.name for c in a.codecs] == ["sharding_indexed"]
    assert [c.name for c in a.filters] == ["transpose"]
    assert a.serializer.name == "bytes"
    assert [c.to_json() for c in a.compressors] == [{"name": "gzip", "configuration": {"level": 2}}]
