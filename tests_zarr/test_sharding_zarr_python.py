"""Sharding interop with the real zarr-python 3 (``zarr>=3.4``), both directions.

Run in the environment where zarr-python is installed::

    /work/venv-peers/bin/python -m pytest -q -p no:cacheprovider tests_zarr/test_sharding_zarr_python.py

zarr-python writes sharded arrays (``zarr.create_array(..., shards=...)`` and
``zarr.codecs.ShardingCodec`` as the serializer, index at the start and at the end, nested
sharding) and zarrsync reads them, whole and one inner chunk at a time, issuing exactly the index
read and the inner chunk's own byte range (counted by a wrapping store); zarrsync writes and
zarr-python reads, whole and by inner chunk; each side partially rewrites the other's shards.
Both libraries write inner chunks back to back in Morton order, so for the same data and codecs
the shard objects must be equal byte for byte (gzip aside: numcodecs stamps the current time into
the gzip header, so there the deflate payloads are compared). Expected values come from numpy,
expected layouts from an independent parser written here; nothing expected comes from zarrsync.

Self-contained: it needs nothing from ``tests/``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import threading

import crc32c as crc32c_mod
import numpy as np
import pytest
import zarr  # zarr-python >= 3.4: missing it is an error, not a skip
from zarr.codecs import BytesCodec, ShardingCodec as ZShardingCodec, TransposeCodec, ZstdCodec

import zarrsync
from zarrsync.codecs import ShardingCodec
from zarrsync.errors import CorruptChunkError
from zarrsync.storage import LocalStore, Store
from zarrsync.storage.base import OffsetRequest, RangeRequest, Snapshot, SuffixRequest

pytestmark = pytest.mark.zarr_python

MAX = 2**64 - 1

B_LE = {"name": "bytes", "configuration": {"endian": "little"}}
B_BE = {"name": "bytes", "configuration": {"endian": "big"}}
CRC = {"name": "crc32c"}


def T(*order):
    return {"name": "transpose", "configuration": {"order": list(order)}}


def GZ(level=5):
    return {"name": "gzip", "configuration": {"level": level}}


def ZS(level=0, checksum=False):
    return {"name": "zstd", "configuration": {"level": level, "checksum": checksum}}


def sharding_json(chunk_shape, codecs, location="end"):
    return {"name": "sharding_indexed", "configuration": {
        "chunk_shape": list(chunk_shape), "codecs": list(codecs),
        "index_codecs": [B_LE, CRC], "index_location": location}}


# --- oracle helpers ------------------------------------------------------------------------------------

def crc32c(data) -> int:
    return crc32c_mod.crc32c(bytes(data))


def index_size(cps) -> int:
    return 16 * math.prod(cps) + 4


def parse_shard(raw: bytes, cps, location="end") -> np.ndarray:
    size = index_size(cps)
    assert len(raw) >= size
    ix = raw[len(raw) - size:] if location == "end" else raw[:size]
    assert crc32c(ix[:-4]) == int.from_bytes(ix[-4:], "little"), "index crc32c mismatch"
    return np.frombuffer(ix[:-4], dtype="<u8").reshape(tuple(cps) + (2,)).astype(np.uint64)


def random_data(rng, dtype, shape):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def data_with_holes(rng, dtype, shape, shard, inner, fill):
    """Random data; about a third of the inner chunks and the last shard hold only ``fill``."""
    x = random_data(rng, dtype, shape)
    grid = tuple(math.ceil(s / c) * c for s, c in zip(shape, shard))
    big = np.empty(grid, dtype=x.dtype)
    big[...] = fill
    big[tuple(slice(0, s) for s in shape)] = x
    for coords in itertools.product(*(range(g // c) for g, c in zip(grid, inner))):
        if rng.random() < 0.35:
            big[tuple(slice(c * s, (c + 1) * s) for c, s in zip(coords, inner))] = fill
    big[tuple(slice(g - s, None) for g, s in zip(grid, shard))] = fill
    return np.ascontiguousarray(big[tuple(slice(0, s) for s in shape)])


def assert_bits_equal(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)
    assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes()


def stored(path) -> dict:
    """Every file below ``path`` (relative key -> bytes), ``zarr.json`` documents left out."""
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            if f != "zarr.json":
                full = os.path.join(root, f)
                out[os.path.relpath(full, path).replace(os.sep, "/")] = open(full, "rb").read()
    return out


def inner_regions(shape, inner):
    for coords in itertools.product(*(range(math.ceil(s / c)) for s, c in zip(shape, inner))):
        yield coords, tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, inner, shape))


class CountingStore(Store):
    """Delegates to ``inner`` and logs every physical read as ``(key, request, nbytes or None)``."""

    supports_byte_ranges = True

    def __init__(self, inner: Store):
        super().__init__()
        self.inner = inner
        self.log = []
        self._lk = threading.Lock()

    def _get(self, key, byte_range):
        value = self.inner.get(key, byte_range)
        with self._lk:
            self.log.append((key, byte_range, None if value is None else len(value)))
        return value

    def snapshot(self, key):
        """The inner store's snapshot, its reads logged like ``get``'s (a missing key: one failed read)."""
        snap = self.inner.snapshot(key)
        if snap is None:
            with self._lk:
                self.log.append((key, None, None))
            return None
        store = self

        class Logged(Snapshot):
            size = snap.size

            def read(self, ranges):
                parts = snap.read(ranges)
                with store._lk:
                    store.log.extend((key, r, len(p)) for r, p in zip(ranges, parts))
                return parts

            def close(self):
                snap.close()

        return Logged()

    def _set(self, key, value):
        self.inner.set(key, value)

    def _delete(self, key):
        self.inner.delete(key)

    def _list_prefix(self, prefix):
        return self.inner.list_prefix(prefix)

    def absolute(self):
        out = []
        for key, req, _ in self.log:
            whole = self.inner.get(key)
            total = None if whole is None else len(whole)
            if req is None:
                out.append((key, 0, total))
            elif isinstance(req, RangeRequest):
                out.append((key, req.start, min(req.end, total)))
            elif isinstance(req, SuffixRequest):
                out.append((key, max(total - req.suffix, 0), total))
            elif isinstance(req, OffsetRequest):
                out.append((key, req.offset, total))
        return out


def check_single_inner_chunk_reads(path, x, shard, inner, location):
    """zarrsync reads every inner chunk of the array at ``path`` on its own: right values, and
    exactly the index read plus the chunk's own byte range (just the index for an absent chunk,
    one failed read for an absent shard)."""
    base = LocalStore(path)
    counting = CountingStore(base)
    a = zarrsync.open_array(counting, mode="r")
    cps = tuple(s // i for s, i in zip(shard, inner))
    isize = index_size(cps)
    for coords, region in inner_regions(x.shape, inner):
        scoords = tuple(c * i // s for c, i, s in zip(coords, inner, shard))
        key = "c/" + "/".join(map(str, scoords))
        counting.log.clear()
        assert_bits_equal(a[region], x[region])
        raw = base.get(key)
        if raw is None:
            assert [(k, n) for k, _, n in counting.log] == [(key, None)]
            continue
        index = parse_shard(raw, cps, location)
        local = tuple(c % n for c, n in zip(coords, cps))
        off, nb = (int(v) for v in index[local])
        ix_span = (len(raw) - isize, len(raw)) if location == "end" else (0, isize)
        want = [(key, *ix_span)] if off == MAX else [(key, *ix_span), (key, off, off + nb)]
        assert counting.absolute() == want, (coords, counting.log)


CHAINS = {
    "bytes": [B_LE],
    "bytes_be": [B_BE],
    "zstd": [B_LE, ZS(0)],
    "zstd3_checksum": [B_LE, ZS(3, True)],
    "crc32c": [B_LE, CRC],
    "transpose_zstd_crc": [T(1, 0), B_LE, ZS(1), CRC],
    "gzip": [B_LE, GZ(5)],
}

SHAPE, SHARD, INNER = (13, 11), (6, 4), (3, 2)


def zarr_sharded(path, codecs, location, dtype, fill, shape=SHAPE, shard=SHARD, inner=INNER):
    serializer = ZShardingCodec(chunk_shape=inner, codecs=codecs, index_location=location)
    return zarr.create_array(path, shape=shape, dtype=dtype, chunks=shard, serializer=serializer,
                             compressors=None, fill_value=fill, overwrite=True)


def zarrsync_sharded(path, codecs, location, dtype, fill, shape=SHAPE, shard=SHARD, inner=INNER):
    return zarrsync.create_array(path, shape=shape, dtype=dtype, chunks=shard, fill_value=fill, compressors=None,
                                 serializer=ShardingCodec(inner, codecs, index_location=location), overwrite=True)


# ======================================================================================================
# zarr-python writes, zarrsync reads
# ======================================================================================================

@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("chain", list(CHAINS), ids=list(CHAINS))
def test_zarr_python_writes_zarrsync_reads(tmp_path, chain, location):
    path = str(tmp_path / "zp.zarr")
    za = zarr_sharded(path, CHAINS[chain], location, "int32", 17)
    x = data_with_holes(np.random.default_rng(1), "int32", SHAPE, SHARD, INNER, 17)
    za[...] = x
    doc = json.load(open(os.path.join(path, "zarr.json")))
    assert doc["codecs"][0]["configuration"]["index_location"] == location

    a = zarrsync.open_array(path, mode="r")
    assert a.chunks == tuple(za.chunks) == INNER
    assert a.shards == tuple(za.shards) == SHARD
    assert_bits_equal(a[...], x)
    for sel in [np.s_[2:11, 1:9], np.s_[12, :], np.s_[::2, ::3], np.s_[4, 5], np.s_[7:8, 3:4]]:
        assert_bits_equal(a[sel], x[sel])
    check_single_inner_chunk_reads(path, x, SHARD, INNER, location)

    # zarrsync partially rewrites zarr-python's shards; zarr-python reads them back
    w = zarrsync.open_array(path, mode="r+")
    w[1:5, 3] = -1234
    x[1:5, 3] = -1234
    w[12, 10] = 5
    x[12, 10] = 5
    w[0:3, 0:2] = 17  # an inner chunk back to fill
    x[0:3, 0:2] = 17
    assert_bits_equal(zarr.open_array(path, mode="r")[...], x)


def test_zarr_python_create_array_shards_zarrsync_reads(tmp_path):
    path = str(tmp_path / "zp2.zarr")
    shape, shard, inner = (20, 9, 4), (8, 3, 4), (2, 3, 2)
    za = zarr.create_array(path, shape=shape, dtype="float64", chunks=inner, shards=shard, fill_value=np.nan,
                           compressors=ZstdCodec(level=3), filters=[TransposeCodec(order=(2, 0, 1))])
    assert tuple(za.chunks) == inner and tuple(za.shards) == shard
    x = data_with_holes(np.random.default_rng(2), "float64", shape, shard, inner, np.nan)
    za[...] = x
    a = zarrsync.open_array(path, mode="r")
    assert a.chunks == inner and a.shards == shard
    assert_bits_equal(a[...], x)
    assert_bits_equal(a[3:17, 1:8, 1:3], x[3:17, 1:8, 1:3])
    check_single_inner_chunk_reads(path, x, shard, inner, "end")


@pytest.mark.parametrize("location", ["start", "end"])
def test_nested_sharding_both_ways(tmp_path, location):
    shape, fill = (9, 11), 3
    inner_z = ZShardingCodec(chunk_shape=(2, 2), codecs=[BytesCodec(), ZstdCodec(level=0)])
    p1 = str(tmp_path / "zp_nested.zarr")
    za = zarr.create_array(p1, shape=shape, dtype="int32", chunks=(8, 8), compressors=None, fill_value=fill,
                           serializer=ZShardingCodec(chunk_shape=(4, 4), codecs=[inner_z], index_location=location))
    x = data_with_holes(np.random.default_rng(3), "int32", shape, (8, 8), (2, 2), fill)
    za[...] = x
    a = zarrsync.open_array(p1, mode="r")
    assert a.chunks == tuple(za.chunks) and a.shards == tuple(za.shards)
    assert_bits_equal(a[...], x)
    for _, region in inner_regions(shape, (2, 2)):
        assert_bits_equal(a[region], x[region])

    p2 = str(tmp_path / "zs_nested.zarr")
    inner_json = sharding_json((2, 2), [B_LE, ZS(0)], "end")
    b = zarrsync.create_array(p2, shape=shape, dtype="int32", chunks=(8, 8), fill_value=fill, compressors=None,
                              serializer=ShardingCodec((4, 4), [inner_json], index_location=location))
    b[...] = x
    zb = zarr.open_array(p2, mode="r")
    assert_bits_equal(zb[...], x)
    for _, region in inner_regions(shape, (2, 2)):
        assert_bits_equal(zb[region], x[region])
    # the same shard objects, byte for byte
    assert stored(p1) == stored(p2)


# ======================================================================================================
# zarrsync writes, zarr-python reads
# ======================================================================================================

@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("chain", list(CHAINS), ids=list(CHAINS))
def test_zarrsync_writes_zarr_python_reads(tmp_path, chain, location):
    path = str(tmp_path / "zs.zarr")
    a = zarrsync_sharded(path, CHAINS[chain], location, "float32", -2.5)
    x = data_with_holes(np.random.default_rng(4), "float32", SHAPE, SHARD, INNER, -2.5)
    a[...] = x
    za = zarr.open_array(path, mode="r")
    assert tuple(za.chunks) == a.chunks == INNER
    assert tuple(za.shards) == a.shards == SHARD
    assert za.fill_value == np.float32(-2.5)
    assert_bits_equal(za[...], x)
    for _, region in inner_regions(SHAPE, INNER):  # zarr-python reads single inner chunks
        assert_bits_equal(za[region], x[region])
    for sel in [np.s_[2:11, 1:9], np.s_[12, :], np.s_[::2, ::3]]:
        assert_bits_equal(za[sel], x[sel])
    # zarr-python partially rewrites zarrsync's shards; zarrsync reads them back
    zw = zarr.open_array(path, mode="r+")
    zw[2:4, 0:7] = 5.5
    x[2:4, 0:7] = 5.5
    zw[12, 10] = 1.25
    x[12, 10] = 1.25
    assert_bits_equal(zarrsync.open_array(path, mode="r")[...], x)
    check_single_inner_chunk_reads(path, x, SHARD, INNER, location)


def test_zarrsync_create_array_shards_zarr_python_reads(tmp_path):
    path = str(tmp_path / "zs2.zarr")
    shape, shard, inner = (17, 10), (8, 10), (2, 5)
    a = zarrsync.create_array(path, shape=shape, dtype="uint16", chunks=inner, shards=shard, fill_value=7)
    x = data_with_holes(np.random.default_rng(5), "uint16", shape, shard, inner, 7)
    x[16, :] = 99  # the edge shard: one row inside the array
    a[...] = x
    za = zarr.open_array(path, mode="r")
    assert tuple(za.chunks) == inner and tuple(za.shards) == shard
    assert_bits_equal(za[...], x)
    for _, region in inner_regions(shape, inner):
        assert_bits_equal(za[region], x[region])


# ======================================================================================================
# the same bytes as zarr-python
# ======================================================================================================

def _write_both(tmp_path, codecs, location, dtype, fill, shape, shard, inner, seed):
    p_zp, p_zs = str(tmp_path / "zp.zarr"), str(tmp_path / "zs.zarr")
    za = zarr_sharded(p_zp, codecs, location, dtype, fill, shape, shard, inner)
    a = zarrsync_sharded(p_zs, codecs, location, dtype, fill, shape, shard, inner)
    x = data_with_holes(np.random.default_rng(seed), dtype, shape, shard, inner, fill)
    za[...] = x
    a[...] = x
    return p_zp, p_zs, za, a, x


BYTE_EQUAL_CHAINS = [c for c in CHAINS if c != "gzip"]


@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("chain", BYTE_EQUAL_CHAINS, ids=BYTE_EQUAL_CHAINS)
@pytest.mark.parametrize("case", [
    ("uint16", 7, (13, 11), (6, 4), (3, 2)),
    ("float64", 0.5, (9, 9), (8, 8), (2, 4)),
    ("int8", 0, (16, 16), (16, 16), (4, 4)),
], ids=["u2_edges", "f8_one_edge_shard", "i1_one_shard_16_inner"])
def test_same_shard_bytes_as_zarr_python(tmp_path, chain, location, case):
    dtype, fill, shape, shard, inner = case
    codecs = CHAINS[chain]
    p_zp, p_zs, za, a, x = _write_both(tmp_path, codecs, location, dtype, fill, shape, shard, inner, 6)
    zp, zs = stored(p_zp), stored(p_zs)
    assert sorted(zs) == sorted(zp)
    for key in zp:
        assert zs[key] == zp[key], f"{key}: zarrsync's shard differs from zarr-python's"
    # the same sequence of partial writes on both keeps them equal
    rng = np.random.default_rng(7)
    for sel in [np.s_[0, 0], np.s_[1:5, 2:7], np.s_[shape[0] - 1, :], np.s_[0:shard[0], 0:inner[1]]]:
        v = random_data(rng, dtype, x[sel].shape)
        za[sel] = v
        a[sel] = v
        x[sel] = v
    za[0:inner[0], 0:inner[1]] = fill  # an inner chunk back to fill
    a[0:inner[0], 0:inner[1]] = fill
    x[0:inner[0], 0:inner[1]] = fill
    zp, zs = stored(p_zp), stored(p_zs)
    assert sorted(zs) == sorted(zp)
    for key in zp:
        assert zs[key] == zp[key], f"{key}: after partial writes zarrsync's shard differs from zarr-python's"
    assert_bits_equal(a[...], x)
    assert_bits_equal(za[...], x)


def test_same_bytes_and_metadata_with_create_array_defaults(tmp_path):
    """``create_array(shards=...)`` with default codecs: the same ``codecs`` JSON and shard bytes."""
    p_zp, p_zs = str(tmp_path / "zp.zarr"), str(tmp_path / "zs.zarr")
    shape, shard, inner = (30, 20), (10, 10), (5, 2)
    za = zarr.create_array(p_zp, shape=shape, dtype="int32", chunks=inner, shards=shard, fill_value=0)
    a = zarrsync.create_array(p_zs, shape=shape, dtype="int32", chunks=inner, shards=shard, fill_value=0)
    x = data_with_holes(np.random.default_rng(8), "int32", shape, shard, inner, 0)
    za[...] = x
    a[...] = x
    doc_zp = json.load(open(os.path.join(p_zp, "zarr.json")))
    doc_zs = json.load(open(os.path.join(p_zs, "zarr.json")))
    assert doc_zs["codecs"] == doc_zp["codecs"]
    assert doc_zs["chunk_grid"] == doc_zp["chunk_grid"]
    assert stored(p_zs) == stored(p_zp)


def test_spec_vector_zarr_python_bytes(tmp_path):
    """SPEC_CHECKLIST §9 written by zarr-python and by zarrsync: 100- and 76-byte shards, equal."""
    x = np.full((8, 8), 7, dtype=np.uint16)
    x[:4, :4] = np.arange(100, 116, dtype=np.uint16).reshape(4, 4)
    x[4:6, 4:6] = [[200, 201], [202, 203]]
    p_zp, p_zs = str(tmp_path / "zp.zarr"), str(tmp_path / "zs.zarr")
    zarr.create_array(p_zp, shape=(8, 8), dtype="uint16", chunks=(2, 2), shards=(4, 4), fill_value=7,
                      compressors=None)[...] = x
    zarrsync.create_array(p_zs, shape=(8, 8), dtype="uint16", chunks=(2, 2), shards=(4, 4), fill_value=7,
                          compressors=None)[...] = x
    zp, zs = stored(p_zp), stored(p_zs)
    assert sorted(zp) == ["c/0/0", "c/1/1"]
    assert len(zp["c/0/0"]) == 100 and len(zp["c/1/1"]) == 76
    assert parse_shard(zp["c/0/0"], (2, 2)).tolist() == [[[0, 8], [16, 8]], [[8, 8], [24, 8]]]
    assert zs == zp


def _mask_gzip_header(blob: bytes) -> bytes:
    """A gzip member with MTIME (bytes 4-7) and OS (byte 9) zeroed: numcodecs stamps the current
    time and OS 255, zlib writes 0 and 3; everything else must agree."""
    assert blob[:3] == b"\x1f\x8b\x08" and blob[3] == 0  # no optional header fields
    return blob[:4] + b"\x00\x00\x00\x00" + blob[8:9] + b"\x00" + blob[10:]


@pytest.mark.parametrize("location", ["start", "end"])
def test_gzip_shards_match_zarr_python_up_to_the_header_timestamp(tmp_path, location):
    codecs = [B_LE, GZ(5)]
    cps = tuple(s // i for s, i in zip(SHARD, INNER))
    p_zp, p_zs, _, _, _ = _write_both(tmp_path, codecs, location, "int32", 3, SHAPE, SHARD, INNER, 9)
    zp, zs = stored(p_zp), stored(p_zs)
    assert sorted(zs) == sorted(zp)
    for key in zp:
        ia, ib = parse_shard(zp[key], cps, location), parse_shard(zs[key], cps, location)
        assert ia.tolist() == ib.tolist(), key  # same offsets and sizes
        for coords in np.ndindex(*cps):
            off, nb = (int(v) for v in ia[coords])
            if off != MAX:
                assert _mask_gzip_header(zs[key][off:off + nb]) == _mask_gzip_header(zp[key][off:off + nb])


# ======================================================================================================
# corrupt shards written by zarr-python
# ======================================================================================================

def test_corrupt_zarr_python_shard_names_the_key(tmp_path):
    path = str(tmp_path / "zp.zarr")
    za = zarr_sharded(path, [B_LE, CRC], "end", "int32", 0)
    za[...] = np.arange(1, 1 + math.prod(SHAPE), dtype=np.int32).reshape(SHAPE)
    f = os.path.join(path, "c", "0", "1")
    raw = bytearray(open(f, "rb").read())
    raw[-2] ^= 0x40  # the index crc32c
    open(f, "wb").write(bytes(raw))
    a = zarrsync.open_array(path, mode="r")
    for read in (lambda: a[0:6, 4:8], lambda: a[1, 5], lambda: a[...]):
        with pytest.raises(CorruptChunkError) as info:
            read()
        assert info.value.key == "c/0/1"
