"""zarrsync's numcodecs-compatible codecs against the real numcodecs (the oracle).

For every codec and a matrix of dtypes, shapes and settings: bytes made by numcodecs decode
exactly with zarrsync; zarrsync's bytes decode exactly with numcodecs; encodings are identical
(gzip up to the header mtime); configs are identical and round-trip through the registry. Also:
the ``NumcodecsLike`` protocol, the ``decode(out=)`` contract, the check values of
``SPEC_CHECKLIST`` §9, and that zarrsync never imports numcodecs itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import lz4
import numpy as np
import pytest
import zstandard

with warnings.catch_warnings():  # numcodecs warns that the crc32c package is deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    import numcodecs

from zarrsync.codecs import numcodecs_builtin as zb
from zarrsync.codecs.numcodecs_api import (NumcodecsCodec, NumcodecsLike, check_numcodecs_like, get_codec,
                                           register_codec)
from zarrsync.errors import CodecError, CorruptChunkError, UnknownExtensionError

NC = numcodecs


def as_bytes(x) -> bytes:
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x).tobytes()
    return bytes(memoryview(x).cast("B")) if memoryview(x).ndim else bytes(x)


def make_array(dtype, shape, seed=0) -> np.ndarray:
    """Deterministic, compressible-but-not-trivial data of ``dtype``."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    if dtype.kind == "b":
        a = rng.integers(0, 2, n).astype(bool)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        a = (np.arange(n) % 17 * 3 + rng.integers(0, 5, n)).astype(dtype)
        if n > 3:
            a[1], a[2] = info.max, info.min  # exercise wrap-around
    else:
        a = (np.linspace(-50, 50, n) + rng.standard_normal(n)).astype(dtype)
    return a.reshape(shape)


DTYPES = ["|u1", "<i2", "<u4", "<i8", "<f4", "<f8", "|b1"]
SHAPES = [(0,), (1,), (7,), (100,), (10, 13), (4, 5, 6), (300, 70)]
BUFFERS = [(d, s) for d in DTYPES for s in SHAPES]
BUFFER_IDS = [f"{d}-{'x'.join(map(str, s))}" for d, s in BUFFERS]

# --- bytes -> bytes codecs: (zarrsync class, numcodecs class, kwargs) --------------------------

BYTES_CODECS = [
    (zb.Zlib, NC.Zlib, {}), (zb.Zlib, NC.Zlib, {"level": 0}), (zb.Zlib, NC.Zlib, {"level": 9}),
    (zb.GZip, NC.GZip, {}), (zb.GZip, NC.GZip, {"level": 5}), (zb.GZip, NC.GZip, {"level": 9}),
    (zb.GZip, NC.GZip, {"level": 0}),
    (zb.BZ2, NC.BZ2, {}), (zb.BZ2, NC.BZ2, {"level": 9}),
    (zb.LZMA, NC.LZMA, {}), (zb.LZMA, NC.LZMA, {"preset": 1}), (zb.LZMA, NC.LZMA, {"check": 0}),
    (zb.LZMA, NC.LZMA, {"format": 2, "preset": 2}),
    (zb.LZMA, NC.LZMA, {"format": 3, "filters": [{"id": 33, "preset": 1}]}),
    (zb.LZMA, NC.LZMA, {"format": 3, "filters": [{"id": 3, "dist": 4}, {"id": 33, "preset": 1}]}),
    (zb.Zstd, NC.Zstd, {}), (zb.Zstd, NC.Zstd, {"level": 1}), (zb.Zstd, NC.Zstd, {"level": 19}),
    (zb.Zstd, NC.Zstd, {"level": -5}), (zb.Zstd, NC.Zstd, {"level": 3, "checksum": True}),
    (zb.LZ4, NC.LZ4, {}), (zb.LZ4, NC.LZ4, {"acceleration": 10}), (zb.LZ4, NC.LZ4, {"acceleration": 0}),
    (zb.CRC32, NC.CRC32, {}), (zb.CRC32, NC.CRC32, {"location": "end"}),
    (zb.CRC32, NC.CRC32, {"location": "start"}),
    (zb.Adler32, NC.Adler32, {}), (zb.Adler32, NC.Adler32, {"location": "end"}),
    (zb.CRC32C, NC.CRC32C, {}), (zb.CRC32C, NC.CRC32C, {"location": "start"}),
    (zb.Fletcher32, NC.Fletcher32, {}),
    (zb.JenkinsLookup3, NC.JenkinsLookup3, {}), (zb.JenkinsLookup3, NC.JenkinsLookup3, {"initval": 12345}),
    (zb.Shuffle, NC.Shuffle, {}), (zb.Shuffle, NC.Shuffle, {"elementsize": 1}),
    (zb.Shuffle, NC.Shuffle, {"elementsize": 2}), (zb.Shuffle, NC.Shuffle, {"elementsize": 8}),
]
BYTES_IDS = [f"{z.codec_id}-{json.dumps(kw, sort_keys=True)}" for z, _, kw in BYTES_CODECS]


def numcodecs_limitation(zcls, kwargs, data: bytes) -> bool:
    """Inputs numcodecs itself cannot handle (each pinned by a test below)."""
    if zcls is zb.Fletcher32 and not data:
        return True  # numcodecs' fletcher32 indexes past an empty buffer
    if zcls is zb.Shuffle and kwargs.get("elementsize", 4) > 1 and len(data) % kwargs.get("elementsize", 4):
        return True  # not a multiple of elementsize: both refuse (tested separately)
    return False


NC_ZSTD_VERSION = (numcodecs.zstd.MAJOR_VERSION_NUMBER, numcodecs.zstd.MINOR_VERSION_NUMBER,
                   numcodecs.zstd.MICRO_VERSION_NUMBER)
#: zstd and lz4 output depends on the library version; numcodecs bundles its own copies
SAME_ZSTD = tuple(zstandard.ZSTD_VERSION) == NC_ZSTD_VERSION
SAME_LZ4 = lz4.library_version_string() == numcodecs.lz4.VERSION_STRING


def assert_same_encoding(zcls, z_enc: bytes, nc_enc: bytes) -> None:
    """(c): identical bytes; for zstd/lz4 built on a different library version than numcodecs',
    identical framing (zstd frame header fields, lz4 size header) and identical bytes whenever
    the compressors agree (small and incompressible inputs)."""
    if zcls is zb.Zstd:
        zp, np_ = zstandard.get_frame_parameters(z_enc), zstandard.get_frame_parameters(nc_enc)
        assert (zp.content_size, zp.window_size, zp.dict_id, zp.has_checksum) == \
               (np_.content_size, np_.window_size, np_.dict_id, np_.has_checksum)
        assert z_enc[:4] == nc_enc[:4] == b"\x28\xb5\x2f\xfd"
        if SAME_ZSTD or zp.content_size < 1024:
            assert z_enc == nc_enc
        return
    if zcls is zb.LZ4:
        assert z_enc[:4] == nc_enc[:4]
        if SAME_LZ4 or len(z_enc) <= 20:
            assert z_enc == nc_enc
        return
    assert comparable(zcls, z_enc) == comparable(zcls, nc_enc)


def comparable(zcls, encoded: bytes) -> bytes:
    """gzip headers carry an mtime (numcodecs: now, zarrsync: 0); blank it before comparing."""
    if zcls is zb.GZip:
        return encoded[:4] + b"\0\0\0\0" + encoded[8:]
    return encoded


@pytest.mark.parametrize("zcls,ncls,kwargs", BYTES_CODECS, ids=BYTES_IDS)
@pytest.mark.parametrize("dtype,shape", BUFFERS, ids=BUFFER_IDS)
def test_bytes_codec_interop(zcls, ncls, kwargs, dtype, shape):
    arr = make_array(dtype, shape)
    data = arr.tobytes()
    ours, theirs = zcls(**kwargs), ncls(**kwargs)
    if numcodecs_limitation(zcls, kwargs, data):
        with pytest.raises(Exception):
            theirs.encode(arr)
        return
    # (a) numcodecs' bytes decode exactly with zarrsync (from bytes and from the ndarray)
    nc_enc = as_bytes(theirs.encode(arr))
    assert as_bytes(ours.decode(nc_enc)) == data
    assert as_bytes(ours.decode(np.frombuffer(nc_enc, np.uint8))) == data
    # (c) identical bytes (gzip: up to the header mtime)
    z_enc = as_bytes(ours.encode(arr))
    assert_same_encoding(zcls, z_enc, nc_enc)
    assert as_bytes(ours.encode(data)) == z_enc  # ndarray and bytes input agree
    # (b) zarrsync's bytes decode exactly with numcodecs (an empty zstd frame is pinned below)
    if not (zcls in (zb.Zstd, zb.LZ4) and not data):
        assert as_bytes(theirs.decode(z_enc)) == data
    # decode(out=): filled in place, exactly sized
    out = np.empty_like(arr)
    assert ours.decode(z_enc, out=out) is out
    np.testing.assert_array_equal(out, arr)
    with pytest.raises(CodecError):
        ours.decode(z_enc, out=np.empty(len(data) + 1, np.uint8))


@pytest.mark.parametrize("zcls,ncls,kwargs", BYTES_CODECS + [
    (zb.JenkinsLookup3, NC.JenkinsLookup3, {"initval": 7, "prefix": b"hdf5"})], ids=BYTES_IDS + ["jenkins-prefix"])
def test_bytes_codec_config(zcls, ncls, kwargs):
    ours, theirs = zcls(**kwargs), ncls(**kwargs)
    config = ours.get_config()
    json.dumps(config)  # JSON-safe
    nc_config = theirs.get_config()
    if "prefix" in kwargs:  # numcodecs writes the prefix as a numpy array (not JSON)
        assert config["prefix"] == list(nc_config["prefix"])
        assert {k: v for k, v in config.items() if k != "prefix"} == \
               {k: v for k, v in nc_config.items() if k != "prefix"}
        assert config == ours.from_config(config).get_config()
        assert as_bytes(ours.encode(b"123456789")) == as_bytes(theirs.encode(b"123456789"))
        return
    assert config == nc_config
    assert list(config) == list(nc_config)  # same keys, same order
    # (d) the registry builds zarrsync's class from numcodecs' config; unknown keys are ignored
    built = get_codec(nc_config)
    assert type(built) is zcls and built == ours and built.get_config() == nc_config
    assert get_codec({**nc_config, "some_future_key": 1}) == ours
    assert zcls.from_config(nc_config) == ours
    assert ours == theirs  # numcodecs-style equality compares configs
    # numcodecs builds its own class from zarrsync's config
    assert numcodecs.get_codec(dict(config)) == theirs
    assert repr(ours).startswith(zcls.__name__ + "(")
    assert eval(repr(ours), vars(zb)) == ours
    assert hash(ours) == hash(zcls.from_config(config))


# --- array -> array filters --------------------------------------------------------------------

def filter_cases():
    """(zarrsync class, numcodecs class, kwargs, input array) for every filter setting."""
    cases = []
    int_float = ["|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f4", "<f8"]
    for dt in int_float:
        for shape in [(1,), (9,), (6, 7), (3, 4, 5)]:
            cases.append((zb.Delta, NC.Delta, {"dtype": dt}, make_array(dt, shape)))
    cases.append((zb.Delta, NC.Delta, {"dtype": "<i4", "astype": "<i2"}, np.arange(-50, 50, dtype="<i4")))
    cases.append((zb.Delta, NC.Delta, {"dtype": "<i8", "astype": "|i1"}, np.arange(200, dtype="<i8") % 7))
    cases.append((zb.Delta, NC.Delta, {"dtype": "<f8", "astype": "<f4"}, np.linspace(0, 1, 50)))
    x = np.linspace(1000, 1025, 60).reshape(6, 10)
    for astype in ["|u1", "<i2", "<i4", "<u2", "<f8"]:
        cases.append((zb.FixedScaleOffset, NC.FixedScaleOffset,
                      {"offset": 1000, "scale": 10, "dtype": "<f8", "astype": astype}, x))
    cases.append((zb.FixedScaleOffset, NC.FixedScaleOffset, {"offset": 0.5, "scale": 3.5, "dtype": "<f4"},
                  np.linspace(-4, 4, 33, dtype="<f4")))
    cases.append((zb.FixedScaleOffset, NC.FixedScaleOffset, {"offset": 10, "scale": 1, "dtype": "<i4",
                                                             "astype": "|u1"}, np.arange(10, 200, dtype="<i4")))
    for digits in [-1, 0, 1, 3, 6]:
        for dt, astype in [("<f8", None), ("<f4", None), ("<f8", "<f2"), ("<f8", "<f4"), ("<f2", None)]:
            kw = {"digits": digits, "dtype": dt} if astype is None else {"digits": digits, "dtype": dt, "astype": astype}
            cases.append((zb.Quantize, NC.Quantize, kw, make_array(dt, (5, 8), seed=digits + 10)))
    for dt, bits in [("<f2", 10), ("<f4", 23), ("<f8", 52)]:
        for keepbits in sorted({0, 1, 3, 7, bits - 1, bits}):
            arr = make_array(dt, (4, 25), seed=keepbits)
            arr.flat[:4] = [np.inf, -np.inf, 0.0, -0.0]
            cases.append((zb.BitRound, NC.BitRound, {"keepbits": keepbits}, arr))
    for n in [1, 7, 8, 9, 15, 16, 17, 100]:
        cases.append((zb.PackBits, NC.PackBits, {}, make_array("|b1", (n,), seed=n)))
    cases.append((zb.PackBits, NC.PackBits, {}, make_array("|b1", (5, 7), seed=3)))
    labels = ["a", "bb", "ccc", "é"]
    words = np.array(["a", "bb", "zz", "ccc", "é", "", "a", "bb", "x", "ccc", "a", "é"], dtype=object).reshape(3, 4)
    for dtype in ["|O", "<U3"]:
        for astype in ["|u1", "<u2", "<i4"]:
            data = words if dtype == "|O" else words.astype("<U3")
            cases.append((zb.Categorize, NC.Categorize, {"labels": labels, "dtype": dtype, "astype": astype}, data))
    for enc, dec in [("<f2", "<f8"), ("<f4", "<f8"), ("<i2", "<i8"), ("|u1", "<u4"), ("<f8", "<f4")]:
        arr = (np.arange(60) % 50).astype(dec).reshape(5, 12)
        cases.append((zb.AsType, NC.AsType, {"encode_dtype": enc, "decode_dtype": dec}, arr))
    return cases


FILTER_CASES = filter_cases()
FILTER_IDS = [f"{z.codec_id}-{i}" for i, (z, *_rest) in enumerate(FILTER_CASES)]


def is_lossless(zcls, kwargs) -> bool:
    if zcls is zb.PackBits:
        return True
    # integer deltas wrap exactly; float deltas round
    return zcls is zb.Delta and kwargs.get("astype", kwargs["dtype"]) == kwargs["dtype"] \
        and np.dtype(kwargs["dtype"]).kind in "iu"


@pytest.mark.parametrize("zcls,ncls,kwargs,arr", FILTER_CASES, ids=FILTER_IDS)
def test_filter_interop(zcls, ncls, kwargs, arr):
    ours, theirs = zcls(**kwargs), ncls(**kwargs)
    nc_enc = theirs.encode(arr)
    z_enc = ours.encode(arr)
    # (c) identical encoded arrays: same dtype, same bytes
    assert np.asarray(z_enc).dtype == np.asarray(nc_enc).dtype
    assert np.asarray(z_enc).shape == np.asarray(nc_enc).shape
    assert as_bytes(z_enc) == as_bytes(nc_enc)
    # (a) numcodecs' encoding decodes with zarrsync to what numcodecs decodes it to
    expected = np.asarray(theirs.decode(nc_enc))
    got = np.asarray(ours.decode(nc_enc))
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    if zcls is not zb.BitRound:  # bitround needs the typed array; the rest read raw bytes too
        np.testing.assert_array_equal(np.asarray(ours.decode(as_bytes(nc_enc))).reshape(-1), expected.reshape(-1))
    # (b) zarrsync's encoding decodes with numcodecs
    np.testing.assert_array_equal(np.asarray(theirs.decode(z_enc)), expected)
    if is_lossless(zcls, kwargs):
        np.testing.assert_array_equal(got.reshape(arr.shape), arr)
    if zcls is zb.Categorize:  # labels round-trip, anything else becomes ""
        known = np.isin(arr.astype(object), kwargs["labels"])
        np.testing.assert_array_equal(got.reshape(arr.shape).astype(object), np.where(known, arr.astype(object), ""))
    # decode(out=) fills an exactly sized array; a wrong size is a CodecError
    out = np.empty(arr.shape, dtype=expected.dtype)
    assert ours.decode(z_enc, out=out) is out
    np.testing.assert_array_equal(out.reshape(-1), expected.reshape(-1))
    with pytest.raises(CodecError):
        ours.decode(z_enc, out=np.empty(expected.size + 1, dtype=expected.dtype))
    # (d) config
    config = ours.get_config()
    assert config == theirs.get_config() and list(config) == list(theirs.get_config())
    json.dumps(config)
    assert get_codec(json.loads(json.dumps(theirs.get_config()))) == ours
    assert type(get_codec(theirs.get_config())) is zcls
    assert numcodecs.get_codec(dict(config)) == theirs


@pytest.mark.parametrize("elementsize,nbytes", [(2, 7), (4, 10), (8, 12), (3, 10)])
def test_shuffle_refuses_ragged_buffers_like_numcodecs(elementsize, nbytes):
    data = bytes(range(nbytes))
    with pytest.raises(ValueError):
        NC.Shuffle(elementsize).encode(data)
    with pytest.raises(CodecError):
        zb.Shuffle(elementsize).encode(data)
    with pytest.raises(CodecError):
        zb.Shuffle(elementsize).decode(data)


@pytest.mark.parametrize("elementsize,count", [(3, 5), (16, 10), (5, 0), (2, 1)])
def test_shuffle_odd_element_sizes(elementsize, count):
    data = bytes((i * 7) % 251 for i in range(elementsize * count))
    enc = as_bytes(zb.Shuffle(elementsize).encode(data))
    assert enc == as_bytes(NC.Shuffle(elementsize).encode(data))
    assert as_bytes(zb.Shuffle(elementsize).decode(enc)) == data
    assert as_bytes(NC.Shuffle(elementsize).decode(enc)) == data


def test_filter_errors_match_numcodecs():
    with pytest.raises(ValueError):
        NC.BitRound(11).encode(np.zeros(3, "<f2"))
    with pytest.raises(CodecError):
        zb.BitRound(11).encode(np.zeros(3, "<f2"))
    with pytest.raises(CodecError):
        zb.BitRound(3).encode(np.zeros(3, "<i4"))
    with pytest.raises(CodecError):
        zb.Quantize(2, "<i4")
    with pytest.raises(CodecError):
        zb.Delta("|O")
    with pytest.raises(CodecError):
        zb.Categorize(["a"], "<i4")
    with pytest.raises(CodecError):
        get_codec({"id": "delta"})  # dtype is required


# --- edge cases and decoders more tolerant than numcodecs ------------------------------------

def test_zstd_multi_frame_and_unknown_content_size():
    a, b = b"first frame " * 50, bytes(range(256)) * 20
    multi = as_bytes(NC.Zstd().encode(a)) + as_bytes(NC.Zstd(level=5).encode(b))
    assert zb.Zstd().decode(multi) == a + b
    out = bytearray(len(a + b))
    zb.Zstd().decode(multi, out=out)
    assert bytes(out) == a + b
    c = zstandard.ZstdCompressor().compressobj()
    no_size = c.compress(a) + c.flush()
    assert zstandard.get_frame_parameters(no_size).content_size == zstandard.CONTENTSIZE_UNKNOWN
    assert zb.Zstd().decode(no_size) == a
    assert zb.Zstd().decode(no_size + multi) == a + a + b
    assert as_bytes(NC.Zstd().decode(no_size)) == a  # numcodecs agrees on the unknown-size frame


def test_zstd_empty_frame_decodes_where_numcodecs_cannot():
    empty = as_bytes(NC.Zstd().encode(b""))
    assert empty == as_bytes(zb.Zstd().encode(b""))
    assert zb.Zstd().decode(empty) == b""
    with pytest.raises(Exception):
        NC.Zstd().decode(empty)  # SPEC_CHECKLIST §8.14


@pytest.mark.parametrize("zcls,kwargs", [(zb.Zstd, {}), (zb.Zlib, {}), (zb.GZip, {}), (zb.BZ2, {}),
                                         (zb.LZMA, {}), (zb.LZ4, {})])
def test_compressors_reject_garbage_and_truncation(zcls, kwargs):
    codec = zcls(**kwargs)
    enc = as_bytes(codec.encode(bytes(range(256)) * 40))
    with pytest.raises(CorruptChunkError):
        codec.decode(enc[: len(enc) // 2])
    with pytest.raises((CorruptChunkError, CodecError)):
        codec.decode(b"\x01\x02\x03\x04 not a compressed stream")


def test_lz4_empty_block_decodes_where_numcodecs_cannot():
    empty = as_bytes(NC.LZ4().encode(b""))
    assert empty == as_bytes(zb.LZ4().encode(b"")) == bytes(5)
    assert zb.LZ4().decode(empty) == b""
    with pytest.raises(RuntimeError):
        NC.LZ4().decode(empty)


def test_gzip_multi_member_and_zlib_concatenated():
    a, b = b"one " * 100, b"two " * 100
    two = as_bytes(NC.GZip().encode(a)) + as_bytes(NC.GZip(level=9).encode(b))
    assert zb.GZip().decode(two) == a + b
    assert as_bytes(NC.GZip().decode(two)) == a + b


@pytest.mark.parametrize("zcls,ncls,kwargs", [c for c in BYTES_CODECS if c[0] in
                                              (zb.CRC32, zb.Adler32, zb.CRC32C, zb.Fletcher32, zb.JenkinsLookup3)],
                         ids=lambda x: getattr(x, "codec_id", json.dumps(x) if isinstance(x, dict) else None))
def test_checksum_mismatch_is_corrupt_chunk(zcls, ncls, kwargs):
    enc = bytearray(as_bytes(ncls(**kwargs).encode(b"some chunk bytes")))
    for pos in (0, len(enc) // 2, len(enc) - 1):
        bad = bytearray(enc)
        bad[pos] ^= 0x10
        with pytest.raises(CorruptChunkError):
            zcls(**kwargs).decode(bytes(bad))
        with pytest.raises(Exception):
            ncls(**kwargs).decode(bytes(bad))  # numcodecs also refuses it
    with pytest.raises(CorruptChunkError):
        zcls(**kwargs).decode(b"abc")


def test_lzma_xz_with_filters_decodes_where_numcodecs_cannot():
    kwargs = {"format": 1, "check": 1, "filters": [{"id": 3, "dist": 4}, {"id": 33, "preset": 1}]}
    data = np.arange(500, dtype="<i4").tobytes()
    enc = as_bytes(NC.LZMA(**kwargs).encode(data))
    assert as_bytes(zb.LZMA(**kwargs).encode(data)) == enc
    assert zb.LZMA(**kwargs).decode(enc) == data
    with pytest.raises(ValueError):
        NC.LZMA(**kwargs).decode(enc)  # numcodecs passes the filters to an XZ decoder


def test_lz4_header_and_out_size():
    enc = as_bytes(zb.LZ4().encode(bytes(40)))
    bad = (41).to_bytes(4, "little") + enc[4:]
    with pytest.raises(CorruptChunkError):
        zb.LZ4().decode(bad)
    with pytest.raises(CodecError):
        zb.LZ4().decode(enc, out=bytearray(39))


def test_jenkins_prefix_matches_numcodecs():
    for prefix in (b"", b"x", b"hdf5 prefix bytes!"):
        ours = zb.JenkinsLookup3(initval=99, prefix=prefix)
        theirs = NC.JenkinsLookup3(initval=99, prefix=prefix)
        for data in (b"", b"1", bytes(range(100))):
            enc = as_bytes(theirs.encode(data))
            assert as_bytes(ours.encode(data)) == enc
            assert as_bytes(ours.decode(enc)) == data
    assert zb.JenkinsLookup3(prefix=[104, 105]).get_config()["prefix"] == [104, 105]
    assert get_codec({"id": "jenkins_lookup3", "initval": 0, "prefix": [104, 105]}) == \
        zb.JenkinsLookup3(prefix=b"hi")


# --- (g) check values (SPEC_CHECKLIST §9) -----------------------------------------------------

CHECK = b"123456789"


def test_check_values():
    assert as_bytes(zb.CRC32().encode(CHECK))[:4] == bytes.fromhex("cbf43926")[::-1]
    assert as_bytes(zb.Adler32().encode(CHECK))[:4] == bytes.fromhex("091e01de")[::-1]
    assert as_bytes(zb.CRC32C().encode(CHECK))[-4:] == bytes.fromhex("e3069283")[::-1]
    assert as_bytes(zb.Fletcher32().encode(CHECK))[-4:] == bytes.fromhex("d509df09")
    assert as_bytes(zb.JenkinsLookup3().encode(CHECK))[-4:] == bytes.fromhex("969a5d84")
    assert as_bytes(zb.LZ4().encode(bytes(range(40))))[:4] == bytes.fromhex("28000000")
    assert zb.fletcher32(CHECK) == 0x09DF09D5
    assert zb.jenkins_lookup3(CHECK) == 0x845D9A96
    for codec in (zb.CRC32(), zb.Adler32(), zb.CRC32C(), zb.Fletcher32(), zb.JenkinsLookup3()):
        assert as_bytes(codec.encode(CHECK)) == as_bytes(numcodecs.get_codec(codec.get_config()).encode(CHECK))
        assert codec.decode(codec.encode(CHECK)) == CHECK


def test_packbits_vector():
    enc = zb.PackBits().encode(np.array([1, 0, 1, 1, 0, 0, 0, 0, 1, 1], dtype=bool))
    assert as_bytes(enc) == bytes.fromhex("06b0c0")


# --- registry and protocol ---------------------------------------------------------------------

def test_unknown_id_names_it():
    with pytest.raises(UnknownExtensionError, match="no-such-codec"):
        get_codec({"id": "no-such-codec", "level": 1})
    with pytest.raises(CodecError):
        get_codec({"level": 1})
    with pytest.raises(CodecError):
        get_codec("zlib")


def test_out_of_range_settings_are_codec_errors():
    for bad in ({"id": "zlib", "level": 10}, {"id": "zstd", "level": 1.5}, {"id": "zstd", "checksum": 1},
                {"id": "crc32", "location": "middle"}, {"id": "bz2", "level": 0}, {"id": "shuffle", "elementsize": "4"}):
        with pytest.raises(CodecError):
            get_codec(bad)


class ThirdPartyReverse:
    """A codec written against numcodecs' interface, knowing nothing of zarrsync."""

    codec_id = "test-reverse"

    def __init__(self, tag: str = "x"):
        self.tag = tag

    def encode(self, buf):
        return bytes(memoryview(buf).cast("B"))[::-1]

    def decode(self, buf, out=None):
        data = bytes(memoryview(buf).cast("B"))[::-1]
        if out is not None:
            memoryview(out).cast("B")[:] = data
            return out
        return data

    def get_config(self):
        return {"id": self.codec_id, "tag": self.tag}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("id", None)
        return cls(**config)


class NoDecode:
    codec_id = "broken"

    def encode(self, buf):
        return buf


def test_protocol_accepts_real_numcodecs_and_third_party_codecs():
    for obj in (NC.Zlib(), NC.Blosc(), NC.Delta("<i4"), ThirdPartyReverse(), zb.Zstd(), zb.Delta("<f8")):
        assert isinstance(obj, NumcodecsLike)
        assert check_numcodecs_like(obj) is obj
    assert isinstance(zb.CRC32(), NumcodecsCodec)
    register_codec(ThirdPartyReverse)
    codec = get_codec({"id": "test-reverse", "tag": "t"})
    assert isinstance(codec, ThirdPartyReverse) and codec.decode(codec.encode(b"abc")) == b"abc"
    # a real numcodecs class registered under its own name, decoding zarrsync's bytes
    register_codec(NC.Zlib, "test-numcodecs-zlib")
    real = get_codec({"id": "test-numcodecs-zlib", "level": 3})
    assert isinstance(real, NC.Zlib)
    assert as_bytes(real.decode(zb.Zlib(3).encode(b"hello" * 10))) == b"hello" * 10


def test_protocol_names_missing_members():
    obj = NoDecode()
    assert not isinstance(obj, NumcodecsLike)
    with pytest.raises(CodecError) as info:
        check_numcodecs_like(obj)
    message = str(info.value)
    assert "['decode', 'from_config', 'get_config']" in message
    assert "encode" not in message.split("missing member(s)")[1] and "codec_id" not in message.split("NoDecode")[1]
    with pytest.raises(CodecError, match=r"\['codec_id', 'decode', 'encode', 'from_config', 'get_config'\]"):
        check_numcodecs_like(object())
    with pytest.raises(CodecError, match="NoDecode"):
        register_codec(NoDecode)

    class NotCallable(ThirdPartyReverse):
        decode = 3
    with pytest.raises(CodecError, match=r"\['decode'\] are not callable"):
        check_numcodecs_like(NotCallable())


# --- (f) zarrsync never imports numcodecs ------------------------------------------------------

def test_zarrsync_does_not_import_numcodecs():
    script = textwrap.dedent("""
        import sys
        import numpy as np
        import zarrsync
        import zarrsync.codecs
        from zarrsync.codecs import numcodecs_builtin as zb
        from zarrsync.codecs.numcodecs_api import get_codec
        data = np.arange(1000, dtype="<i4")
        for config in [{"id": i} for i in ("zlib", "gzip", "bz2", "lzma", "zstd", "lz4", "crc32", "adler32",
                                           "crc32c", "fletcher32", "jenkins_lookup3", "shuffle", "packbits")]:
            codec = get_codec(config)
            arg = data.astype(bool) if config["id"] == "packbits" else data
            codec.decode(codec.encode(arg))
        for codec in [zb.Delta("<i4"), zb.FixedScaleOffset(0, 2, "<i4"), zb.AsType("<i8", "<i4")]:
            codec.decode(codec.encode(data))
        zb.Quantize(2, "<f8").encode(data.astype("<f8"))
        zb.BitRound(5).encode(data.astype("<f4"))
        zb.Categorize(["a"], "|O").encode(np.array(["a", "b"], dtype=object))
        print(sorted(m for m in sys.modules if m == "numcodecs" or m.startswith("numcodecs.")))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("level", [23, 100, -200000])
def test_zstd_level_out_of_range_is_clamped_as_numcodecs_does(level):
    """Older numcodecs wrote ``level: 100`` (the corpus has it): numcodecs accepts any level and
    libzstd clamps it to [-131072, 22]; the config keeps the level as written."""
    data = make_array("<i4", (100, 7))
    ours = get_codec({"id": "zstd", "level": level})
    assert ours.get_config() == NC.Zstd(level=level).get_config()
    assert as_bytes(ours.encode(data)) == as_bytes(NC.Zstd(level=level).encode(data))
    assert as_bytes(ours.decode(ours.encode(data))) == data.tobytes()


def test_v2_array_with_zstd_level_100_reads_and_writes():
    import json as _json
    import zarrsync
    from zarrsync.storage.memory import MemoryStore
    store = MemoryStore()
    store.set(".zarray", _json.dumps({"zarr_format": 2, "shape": [50], "chunks": [50], "dtype": "<i4",
                                      "compressor": {"id": "zstd", "level": 100}, "filters": None,
                                      "fill_value": 0, "order": "C"}).encode())
    store.set("0", NC.Zstd(level=100).encode(np.arange(50, dtype="<i4")))
    a = zarrsync.open_array(store)
    np.testing.assert_array_equal(a[...], np.arange(50))
    a[...] = np.arange(50)[::-1]
    np.testing.assert_array_equal(np.frombuffer(NC.Zstd().decode(bytes(store.get("0"))), "<i4"), np.arange(50)[::-1])
    assert _json.loads(store.get(".zarray"))["compressor"]["level"] == 100


def test_v3_zstd_codec_keeps_the_spec_range():
    from zarrsync.codecs import parse_codec
    with pytest.raises(CodecError, match="level"):
        parse_codec({"name": "zstd", "configuration": {"level": 100}})
