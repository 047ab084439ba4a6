"""Tests of zarrsync.codecs and the codec chain of zarrsync.pipeline.

Round trips and config round trips go through the shared helpers of :mod:`zarrsync.testing`;
golden bytes come from independent implementations (python's ``gzip``/``zlib`` modules,
``zstandard`` used directly, numpy's byte-order casts and transposes, RFC 3720 CRC-32C vectors).
"""

from __future__ import annotations

import dataclasses
import gzip as pygzip
import importlib.metadata
import io
import json
import threading
import time
import tracemalloc
import zlib

import numpy as np
import pytest
import zstandard

import zarrsync
from zarrsync.codecs import (
    ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec, BytesCodec, ChunkSpec, Codec, Crc32cCodec, GzipCodec,
    TransposeCodec, ZstdCodec, get_codec_class, parse_codec, register, registered_names,
)
from zarrsync.codecs import registry
from zarrsync.codecs.base import SkippedCodec, check_config
from zarrsync.codecs.gzip import gunzip
from zarrsync.errors import CodecError, CorruptChunkError, MetadataError, UnknownExtensionError
from zarrsync.pipeline import CodecPipeline
from zarrsync.testing import (
    ROUND_TRIP_DTYPES, ROUND_TRIP_ORDERS, ROUND_TRIP_SHAPES, assert_same_bits, bind, check_config_round_trip,
    check_golden, check_round_trip, sample_chunk,
)

# --------------------------------------------------------------------------------------------------
# round trips over dtype x shape x order
# --------------------------------------------------------------------------------------------------


def _reverse(ndim):
    return list(range(ndim))[::-1]


def _roll(ndim):
    return list(range(1, ndim)) + [0] if ndim else []


CHAINS = {
    "bytes-little": lambda nd: [BytesCodec("little")],
    "bytes-big": lambda nd: [BytesCodec("big")],
    "transpose-bytes": lambda nd: [TransposeCodec(_reverse(nd)), BytesCodec("little")],
    "bytes-gzip": lambda nd: [BytesCodec("little"), GzipCodec(1)],
    "bytes-big-zstd-checksum": lambda nd: [BytesCodec("big"), ZstdCodec(3, True)],
    "bytes-crc32c": lambda nd: [BytesCodec("little"), Crc32cCodec()],
    "bytes-crc32c-gzip": lambda nd: [BytesCodec("little"), Crc32cCodec(), GzipCodec(9)],
    "everything": lambda nd: [TransposeCodec(_roll(nd)), BytesCodec("big"), ZstdCodec(-1), Crc32cCodec()],
    "json-form": lambda nd: [{"name": "transpose", "configuration": {"order": _reverse(nd)}},
                             {"name": "bytes", "configuration": {"endian": "little"}},
                             {"name": "zstd", "configuration": {"level": 0, "checksum": False}}, "crc32c"],
}


@pytest.mark.parametrize("order", ROUND_TRIP_ORDERS)
@pytest.mark.parametrize("shape", ROUND_TRIP_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", ROUND_TRIP_DTYPES)
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_round_trip(chain, dtype, shape, order):
    check_round_trip(CHAINS[chain](len(shape)), dtype, shape, order)


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8"])
@pytest.mark.parametrize("shape", ROUND_TRIP_SHAPES, ids=str)
def test_round_trip_bytes_without_endian_for_one_byte_types(dtype, shape):
    encoded = check_round_trip([{"name": "bytes"}, {"name": "gzip", "configuration": {"level": 5}}], dtype, shape)
    assert gzip_decompress(encoded) == sample_chunk(dtype, shape).tobytes()


@pytest.mark.parametrize("dtype", [d for d in ROUND_TRIP_DTYPES if np.dtype(d).itemsize > 1])
def test_bytes_without_endian_refused_for_multi_byte_types(dtype):
    with pytest.raises(CodecError, match="endian"):
        bind([{"name": "bytes"}], dtype, (4,))


def test_sample_chunk_covers_special_values():
    f = sample_chunk("float32", (50,))
    assert np.isnan(f).any() and np.isinf(f).any() and (np.signbit(f) & (f == 0)).any()
    i = sample_chunk("int16", (10,))
    assert i.min() == -(2 ** 15) and i.max() == 2 ** 15 - 1
    assert sample_chunk("float64", (3, 4), "F").flags.f_contiguous


def gzip_decompress(data: bytes) -> bytes:
    return pygzip.decompress(data)


# --------------------------------------------------------------------------------------------------
# configuration round trips, and invalid configurations
# --------------------------------------------------------------------------------------------------

CODECS = [
    BytesCodec("little"), BytesCodec("big"), BytesCodec(None),
    TransposeCodec((0,)), TransposeCodec((1, 0)), TransposeCodec((2, 0, 1)), TransposeCodec(()),
    GzipCodec(0), GzipCodec(5), GzipCodec(9),
    ZstdCodec(0), ZstdCodec(22, True), ZstdCodec(-131072), ZstdCodec(-7, False),
    Crc32cCodec(),
]


@pytest.mark.parametrize("codec", CODECS, ids=repr)
def test_config_round_trip(codec):
    check_config_round_trip(codec)


@pytest.mark.parametrize("value, expected", [
    ("bytes", BytesCodec(None)),
    ("endian", BytesCodec(None)),  # the pre-rename name is read as an alias
    ({"name": "endian", "configuration": {"endian": "big"}}, BytesCodec("big")),
    ("crc32c", Crc32cCodec()),
    ({"name": "crc32c", "configuration": {}}, Crc32cCodec()),
    ({"name": "transpose", "configuration": {"order": [1, 0]}}, TransposeCodec((1, 0))),
    ({"name": "zstd", "configuration": {"level": 3}}, ZstdCodec(3, False)),  # checksum may be omitted
    ({"name": "gzip", "configuration": {"level": 1}, "must_understand": True}, GzipCodec(1)),
    ({"name": "gzip", "configuration": {"level": 1}, "must_understand": False}, GzipCodec(1)),  # known: parsed
])
def test_parse_codec_forms(value, expected):
    codec = parse_codec(value)
    assert codec == expected and type(codec) is type(expected)


def test_written_json_matches_zarr_python_forms():
    # SPEC_CHECKLIST §2: what zarr-python writes, byte for byte in JSON terms
    assert BytesCodec("little").to_json() == {"name": "bytes", "configuration": {"endian": "little"}}
    assert BytesCodec(None).to_json() == {"name": "bytes"}
    assert Crc32cCodec().to_json() == {"name": "crc32c"}
    assert ZstdCodec().to_json() == {"name": "zstd", "configuration": {"level": 0, "checksum": False}}
    assert GzipCodec().to_json() == {"name": "gzip", "configuration": {"level": 5}}
    assert TransposeCodec([2, 1, 0]).to_json() == {"name": "transpose", "configuration": {"order": [2, 1, 0]}}
    assert parse_codec("endian").to_json()["name"] == "bytes"  # aliases are never written


def test_parse_codec_passes_codec_objects_through():
    c = ZstdCodec(4)
    assert parse_codec(c) is c


@pytest.mark.parametrize("value, field", [
    ({"name": "gzip", "configuration": {"level": 10}}, "level"),
    ({"name": "gzip", "configuration": {"level": -1}}, "level"),
    ({"name": "gzip", "configuration": {"level": "5"}}, "level"),
    ({"name": "gzip", "configuration": {"level": True}}, "level"),
    ({"name": "gzip", "configuration": {}}, "level"),
    ({"name": "gzip"}, "level"),
    ({"name": "zstd", "configuration": {"level": "x"}}, "level"),
    ({"name": "zstd", "configuration": {"level": 23}}, "level"),
    ({"name": "zstd", "configuration": {"level": -131073}}, "level"),
    ({"name": "zstd", "configuration": {"level": 1.5}}, "level"),
    ({"name": "zstd", "configuration": {"level": 1, "checksum": "yes"}}, "checksum"),
    ({"name": "zstd", "configuration": {"level": 1, "checksum": 1}}, "checksum"),
    ({"name": "transpose", "configuration": {"order": [0, 0]}}, "order"),
    ({"name": "transpose", "configuration": {"order": [1, 2]}}, "order"),
    ({"name": "transpose", "configuration": {"order": "C"}}, "order"),
    ({"name": "transpose", "configuration": {"order": "F"}}, "order"),
    ({"name": "transpose", "configuration": {"order": [0, 1.0]}}, "order"),
    ({"name": "transpose", "configuration": {"order": [True, False]}}, "order"),
    ({"name": "transpose", "configuration": {}}, "order"),
    ({"name": "bytes", "configuration": {"endian": "middle"}}, "endian"),
    ({"name": "bytes", "configuration": {"endian": 1}}, "endian"),
    ({"name": "bytes", "configuration": {"endian": "little", "byteorder": "x"}}, "byteorder"),
    ({"name": "gzip", "configuration": {"level": 5, "mtime": 0}}, "mtime"),
    ({"name": "zstd", "configuration": {"level": 5, "window": 10}}, "window"),
    ({"name": "transpose", "configuration": {"order": [0], "extra": 1}}, "extra"),
    ({"name": "crc32c", "configuration": {"seed": 1}}, "seed"),
    ({"name": "gzip", "configuration": [5]}, "configuration"),
    ({"name": "gzip", "configuration": {"level": 5}, "version": 2}, "version"),
    ({"configuration": {"level": 5}}, "name"),
    ({"name": 5}, "name"),
])
def test_invalid_config_names_the_field(value, field):
    with pytest.raises(CodecError) as info:
        parse_codec(value)
    assert field in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("make, field", [
    (lambda: GzipCodec(10), "level"),
    (lambda: ZstdCodec("x"), "level"),
    (lambda: ZstdCodec(1, "no"), "checksum"),
    (lambda: TransposeCodec([0, 0]), "order"),
    (lambda: BytesCodec("middle"), "endian"),
])
def test_invalid_constructor_arguments(make, field):
    with pytest.raises(CodecError, match=field):
        make()


@pytest.mark.parametrize("value", [5, None, ["gzip"], 1.5])
def test_parse_codec_rejects_non_codec_values(value):
    with pytest.raises(CodecError):
        parse_codec(value)


def test_check_config_helper():
    assert check_config("x", None, {"a"}) == {}
    assert check_config("x", {"a": 1}, {"a"}, {"a"}) == {"a": 1}
    with pytest.raises(CodecError, match="'b'"):
        check_config("x", {"b": 1}, {"a"})
    with pytest.raises(CodecError, match="'a'"):
        check_config("x", {}, {"a"}, {"a"})


def test_codecs_are_frozen_and_hashable():
    c = GzipCodec(3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.level = 4  # type: ignore[misc]
    assert len({GzipCodec(3), GzipCodec(3), ZstdCodec(3), TransposeCodec([1, 0]), TransposeCodec((1, 0))}) == 3


# --------------------------------------------------------------------------------------------------
# chain validation
# --------------------------------------------------------------------------------------------------

SPEC = ChunkSpec((4, 5), np.dtype("int32"), np.int32(0))


@pytest.mark.parametrize("chain, needle", [
    ([BytesCodec(), BytesCodec()], "only one array -> bytes"),
    ([GzipCodec(), BytesCodec()], "must come after the array -> bytes"),
    ([Crc32cCodec()], "must come after the array -> bytes"),
    ([TransposeCodec((1, 0))], "array -> bytes"),
    ([], "array -> bytes"),
    ([BytesCodec(), TransposeCodec((1, 0))], "must come before the array -> bytes"),
    ([TransposeCodec((0, 1, 2)), BytesCodec()], "axes"),  # wrong number of axes for a 2-d chunk
    ([BytesCodec(None)], "endian"),
])
def test_invalid_chains(chain, needle):
    with pytest.raises(CodecError) as info:
        CodecPipeline(chain, SPEC)
    assert needle in str(info.value)


def test_chain_with_non_codec_refused():
    with pytest.raises(CodecError):
        CodecPipeline([BytesCodec(), "gzip"], SPEC)  # type: ignore[list-item]


def test_encoded_size():
    assert CodecPipeline([BytesCodec()], SPEC).encoded_size == 80
    assert CodecPipeline([TransposeCodec((1, 0)), BytesCodec(), Crc32cCodec()], SPEC).encoded_size == 84
    assert CodecPipeline([BytesCodec(), Crc32cCodec(), Crc32cCodec()], SPEC).encoded_size == 88
    assert CodecPipeline([BytesCodec(), GzipCodec()], SPEC).encoded_size is None
    assert CodecPipeline([BytesCodec(), ZstdCodec(), Crc32cCodec()], SPEC).encoded_size is None


def test_codec_kinds():
    assert isinstance(BytesCodec(), ArrayBytesCodec)
    assert isinstance(TransposeCodec((0,)), ArrayArrayCodec)
    for c in (GzipCodec(), ZstdCodec(), Crc32cCodec()):
        assert isinstance(c, BytesBytesCodec)


# --------------------------------------------------------------------------------------------------
# golden bytes: gzip / zlib from python's own modules
# --------------------------------------------------------------------------------------------------

INTS = np.arange(-50, 70, dtype="<i4").reshape(8, 15)


def test_gzip_golden_from_python_gzip_module():
    raw = INTS.tobytes()
    for level in (0, 1, 6, 9):
        check_golden([BytesCodec(), GzipCodec(5)], "int32", INTS.shape, pygzip.compress(raw, level, mtime=1234), INTS)


def test_gzip_golden_with_header_fields():
    # a member with a file name, an mtime and the FHCRC-free header python writes: fields are ignored
    buf = io.BytesIO()
    with pygzip.GzipFile(filename="chunk.bin", mode="wb", fileobj=buf, mtime=987654321) as f:
        f.write(INTS.tobytes())
    data = buf.getvalue()
    assert data[3] & 0x08  # FNAME flag is set
    check_golden([BytesCodec(), GzipCodec(1)], "int32", INTS.shape, data, INTS)


def test_gzip_golden_multi_member():
    raw = INTS.tobytes()
    cut = [0, 7, 100, 333, len(raw)]
    data = b"".join(pygzip.compress(raw[a:b], mtime=0) for a, b in zip(cut, cut[1:]))
    check_golden([BytesCodec(), GzipCodec()], "int32", INTS.shape, data, INTS)


def test_gzip_golden_empty_member_then_data():
    data = pygzip.compress(b"") + pygzip.compress(INTS.tobytes())
    check_golden([BytesCodec(), GzipCodec()], "int32", INTS.shape, data, INTS)


def test_gzip_encoding_is_readable_by_python_gzip():
    raw = INTS.tobytes()
    out = bytes(bind([BytesCodec(), GzipCodec(6)], "int32", INTS.shape).encode(INTS))
    assert out[:3] == b"\x1f\x8b\x08"  # RFC 1952 magic + deflate
    assert out[4:8] == b"\x00\x00\x00\x00"  # mtime 0: equal input gives equal bytes
    assert pygzip.decompress(out) == raw
    assert GzipCodec(6).encode(raw, SPEC) == out


def test_gunzip_reads_zlib_streams():
    raw = INTS.tobytes()
    assert gunzip(zlib.compress(raw, 6), len(raw), "zlib", wbits=15) == raw
    assert gunzip(zlib.compress(raw[:40]) + zlib.compress(raw[40:]), len(raw), "zlib", wbits=15) == raw
    with pytest.raises(CorruptChunkError, match="more than"):
        gunzip(zlib.compress(raw), len(raw) - 1, "zlib", wbits=15)
    with pytest.raises(CorruptChunkError, match="zlib"):
        gunzip(zlib.compress(raw)[:-3], len(raw), "zlib", wbits=15)


# --------------------------------------------------------------------------------------------------
# golden bytes: zstd from zstandard itself
# --------------------------------------------------------------------------------------------------

FLOATS = (np.arange(96, dtype="<f8") / 7).reshape(4, 24)
ZSTD_CHAIN = [BytesCodec(), ZstdCodec()]


def test_zstd_golden_one_frame():
    for level in (-5, 1, 19):
        for checksum in (False, True):
            data = zstandard.ZstdCompressor(level=level, write_checksum=checksum).compress(FLOATS.tobytes())
            check_golden(ZSTD_CHAIN, "float64", FLOATS.shape, data, FLOATS)


def test_zstd_golden_without_content_size():
    raw = FLOATS.tobytes()
    data = zstandard.ZstdCompressor(write_content_size=False).compress(raw)
    assert zstandard.get_frame_parameters(data).content_size == zstandard.CONTENTSIZE_UNKNOWN
    check_golden(ZSTD_CHAIN, "float64", FLOATS.shape, data, FLOATS)


def test_zstd_golden_streaming_frame():
    raw = FLOATS.tobytes()
    out = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(out, closefd=False) as w:  # size unknown up front
        for i in range(0, len(raw), 100):
            w.write(raw[i:i + 100])
    data = out.getvalue()
    assert zstandard.get_frame_parameters(data).content_size == zstandard.CONTENTSIZE_UNKNOWN
    check_golden(ZSTD_CHAIN, "float64", FLOATS.shape, data, FLOATS)


def test_zstd_golden_multi_frame():
    raw = FLOATS.tobytes()
    c = zstandard.ZstdCompressor(level=3)
    no_size = zstandard.ZstdCompressor(write_content_size=False, write_checksum=True)
    data = c.compress(raw[:10]) + no_size.compress(raw[10:500]) + c.compress(raw[500:])
    check_golden(ZSTD_CHAIN, "float64", FLOATS.shape, data, FLOATS)


def test_zstd_golden_zero_content_frames():
    empty = zstandard.ZstdCompressor().compress(b"")
    assert zstandard.get_frame_parameters(empty).content_size == 0
    # an empty chunk stored as a frame whose content size is 0 (numcodecs refuses it; we must not)
    check_golden(ZSTD_CHAIN, "float64", (0, 24), empty, np.zeros((0, 24)))
    # empty frames around real data
    data = empty + zstandard.ZstdCompressor().compress(FLOATS.tobytes()) + empty
    check_golden(ZSTD_CHAIN, "float64", FLOATS.shape, data, FLOATS)


def test_zstd_encoding_is_a_standard_frame():
    raw = FLOATS.tobytes()
    for checksum in (False, True):
        out = bytes(bind([BytesCodec(), ZstdCodec(5, checksum)], "float64", FLOATS.shape).encode(FLOATS))
        assert out[:4] == b"\x28\xb5\x2f\xfd"
        params = zstandard.get_frame_parameters(out)
        assert params.content_size == len(raw)
        assert params.has_checksum == checksum
        assert zstandard.ZstdDecompressor().decompress(out) == raw


@pytest.mark.thread_unsafe  # counts the contexts of one shared pool
def test_zstd_compressors_are_lent_one_holder_at_a_time():
    """Threads holding a compressor at once hold different ones; a returned one is lent again
    (the pool grows with encodes in flight, not with threads), with its own level and checksum."""
    from zarrsync.codecs.zstd import lend_compressor
    held, release, errors = [], threading.Event(), []
    gate = threading.Barrier(4)

    def hold():
        try:
            with lend_compressor(7, True) as c:
                held.append(c)
                gate.wait(timeout=10)
                release.wait(timeout=10)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for t in threads:
        t.start()
    while len(held) < 4 and not errors:
        time.sleep(0.001)
    release.set()
    for t in threads:
        t.join()
    assert not errors
    assert len({id(c) for c in held}) == 4
    with lend_compressor(7, True) as again:
        assert any(again is c for c in held)
        assert zstandard.get_frame_parameters(again.compress(b"x" * 100)).has_checksum
    with lend_compressor(7, False) as other:
        assert all(other is not c for c in held)
        assert not zstandard.get_frame_parameters(other.compress(b"x" * 100)).has_checksum


# --------------------------------------------------------------------------------------------------
# golden bytes: crc32c, bytes, transpose
# --------------------------------------------------------------------------------------------------

# RFC 3720 appendix B.4 test vectors and the standard check value
CRC32C_VECTORS = [
    (b"123456789", 0xE3069283),
    (bytes(32), 0x8A9136AA),
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
    (b"", 0x00000000),
]


@pytest.mark.parametrize("data, crc", CRC32C_VECTORS)
def test_crc32c_known_values(data, crc):
    encoded = bytes(Crc32cCodec().encode(data, SPEC))
    assert encoded == data + crc.to_bytes(4, "little")
    assert bytes(Crc32cCodec().decode(encoded, SPEC, len(data))) == data


def test_crc32c_golden_through_pipeline():
    payload = INTS.tobytes()
    import crc32c as reference  # the C library zarr-python's numcodecs also uses
    data = payload + reference.crc32c(payload).to_bytes(4, "little")
    check_golden([BytesCodec(), Crc32cCodec()], "int32", INTS.shape, data, INTS)
    assert bytes(bind([BytesCodec(), Crc32cCodec()], "int32", INTS.shape).encode(INTS)) == data


def test_crc32c_check_value_appended_little_endian():
    out = bytes(bind([BytesCodec(), Crc32cCodec()], "uint8", (9,)).encode(np.frombuffer(b"123456789", "u1")))
    assert out == b"123456789\x83\x92\x06\xe3"


@pytest.mark.parametrize("dtype", ["int16", "int32", "uint64", "float16", "float32", "float64", "complex64",
                                   "complex128", "int8", "bool"])
@pytest.mark.parametrize("endian, code", [("big", ">"), ("little", "<")])
def test_bytes_codec_against_numpy_byte_order(dtype, endian, code):
    a = sample_chunk(dtype, (3, 5), seed=7)
    numpy_bytes = a.astype(a.dtype.newbyteorder(code)).tobytes()
    pipeline = bind([BytesCodec(endian)], dtype, a.shape)
    assert bytes(pipeline.encode(a)) == numpy_bytes
    check_golden([BytesCodec(endian)], dtype, a.shape, numpy_bytes, a)


def test_bytes_codec_big_endian_int32_literal():
    a = np.array([1, -2, 0x01020304], dtype="i4")
    assert a.astype(">i4").tobytes() == b"\x00\x00\x00\x01\xff\xff\xff\xfe\x01\x02\x03\x04"
    assert bytes(bind([BytesCodec("big")], "int32", (3,)).encode(a)) == a.astype(">i4").tobytes()
    check_golden([BytesCodec("big")], "int32", (3,), a.astype(">i4").tobytes(), a)


def test_bytes_codec_bool_is_zero_or_one():
    a = np.array([True, False, True])
    assert bytes(bind([BytesCodec(None)], "bool", (3,)).encode(a)) == b"\x01\x00\x01"


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1), (0, 2, 1)])
@pytest.mark.parametrize("mem", ["C", "F"])
def test_transpose_against_numpy(order, mem):
    a = np.asarray(sample_chunk("uint16", (2, 3, 4), seed=3), order=mem)
    expected = np.transpose(a, order).astype(">u2").tobytes(order="C")
    chain = [TransposeCodec(order), BytesCodec("big")]
    assert bytes(bind(chain, "uint16", a.shape).encode(a)) == expected
    check_golden(chain, "uint16", a.shape, expected, a)


def test_transpose_array_level():
    a = np.arange(24).reshape(2, 3, 4)
    codec = TransposeCodec((2, 0, 1))
    spec = ChunkSpec(a.shape, a.dtype, 0)
    assert codec.resolve(spec).shape == (4, 2, 3)
    encoded = codec.encode(a, spec)
    assert np.array_equal(encoded, np.transpose(a, (2, 0, 1)))
    assert np.array_equal(codec.decode(encoded, spec), a)


# --------------------------------------------------------------------------------------------------
# corrupt data
# --------------------------------------------------------------------------------------------------


def test_crc32c_mismatch_names_the_key():
    pipeline = bind([BytesCodec(), Crc32cCodec()], "int32", INTS.shape)
    good = bytearray(pipeline.encode(INTS))
    for position in (0, 100, len(good) - 5, len(good) - 1):  # payload bytes and checksum bytes
        bad = bytearray(good)
        bad[position] ^= 0x10
        with pytest.raises(CorruptChunkError) as info:
            pipeline.decode(bytes(bad), key="c/0/0")
        assert info.value.key == "c/0/0"
        assert "c/0/0" in str(info.value)
        assert "checksum" in str(info.value)


def test_crc32c_too_short():
    pipeline = bind([BytesCodec(), Crc32cCodec()], "uint8", (0,))
    with pytest.raises(CorruptChunkError) as info:
        pipeline.decode(b"\x00\x00\x00", key="c/5")
    assert info.value.key == "c/5"
    assert bytes(pipeline.encode(np.zeros(0, "u1"))) == b"\x00\x00\x00\x00"


def _truncations(data: bytes):
    return sorted({1, 3, 4, 5, 9, len(data) // 2, len(data) - 4, len(data) - 1})


@pytest.mark.parametrize("codec", [GzipCodec(5), ZstdCodec(3), ZstdCodec(3, True)], ids=repr)
def test_truncated_stream(codec):
    pipeline = bind([BytesCodec(), codec], "float64", FLOATS.shape)
    data = bytes(pipeline.encode(FLOATS))
    for cut in _truncations(data):
        with pytest.raises(CorruptChunkError) as info:
            pipeline.decode(data[:cut], key="c/1/2")
        assert info.value.key == "c/1/2"


def test_truncated_reference_streams():
    raw = FLOATS.tobytes()
    for chain, data in [
        ([BytesCodec(), GzipCodec()], pygzip.compress(raw)),
        ([BytesCodec(), ZstdCodec()], zstandard.ZstdCompressor(write_content_size=False).compress(raw)),
        ([BytesCodec(), ZstdCodec()], zstandard.ZstdCompressor().compress(raw[:8]) + zstandard.ZstdCompressor()
         .compress(raw[8:])[:-2]),
    ]:
        pipeline = bind(chain, "float64", FLOATS.shape)
        with pytest.raises(CorruptChunkError, match="c/9"):
            pipeline.decode(data[:-1], key="c/9")


@pytest.mark.parametrize("codec", [GzipCodec(), ZstdCodec()], ids=repr)
def test_garbage_is_corrupt(codec):
    pipeline = bind([BytesCodec(), codec], "float64", FLOATS.shape)
    for data in (b"", b"\x00" * 10, b"not compressed at all" * 10):
        with pytest.raises(CorruptChunkError, match="c/0"):
            pipeline.decode(data, key="c/0")


@pytest.mark.parametrize("extra", [-8, -1, 1, 8])
@pytest.mark.parametrize("codec, compress", [
    (GzipCodec(), lambda b: pygzip.compress(b)),
    (ZstdCodec(), lambda b: zstandard.ZstdCompressor().compress(b)),
    (ZstdCodec(), lambda b: zstandard.ZstdCompressor(write_content_size=False).compress(b)),
], ids=["gzip", "zstd", "zstd-no-size"])
def test_decoded_size_mismatch_is_corrupt(codec, compress, extra):
    raw = FLOATS.tobytes()
    raw = raw[:extra] if extra < 0 else raw + bytes(extra)
    with pytest.raises(CorruptChunkError, match="c/3"):
        bind([BytesCodec(), codec], "float64", FLOATS.shape).decode(compress(raw), key="c/3")


@pytest.mark.parametrize("trailer", [
    b"garbage",
    b"\x00\x00\x00\x00",
    zstandard.ZstdCompressor().compress(b"more data after a full chunk"),
], ids=["garbage", "zeros", "extra-frame"])
def test_zstd_data_after_a_complete_chunk_is_corrupt(trailer):
    # a frame that declares exactly the chunk's size, followed by more bytes: the stored object is
    # not what was written, and the extra bytes must not be silently dropped
    data = zstandard.ZstdCompressor().compress(FLOATS.tobytes()) + trailer
    with pytest.raises(CorruptChunkError, match="c/0"):
        bind(ZSTD_CHAIN, "float64", FLOATS.shape).decode(data, key="c/0")


def test_gzip_garbage_after_a_complete_chunk_is_corrupt():
    data = pygzip.compress(FLOATS.tobytes()) + b"garbage"
    with pytest.raises(CorruptChunkError, match="c/0"):
        bind([BytesCodec(), GzipCodec()], "float64", FLOATS.shape).decode(data, key="c/0")


def test_bytes_codec_size_mismatch_is_corrupt():
    pipeline = bind([BytesCodec()], "int32", (4,))
    for n in (0, 15, 17):
        with pytest.raises(CorruptChunkError, match="c/0"):
            pipeline.decode(bytes(n), key="c/0")


# --------------------------------------------------------------------------------------------------
# decompression bombs: refused without allocating the decoded size
# --------------------------------------------------------------------------------------------------

BOMB_SIZE = 64 << 20  # decodes to 64 MiB
BOMB_CHUNK = (1024,)  # while a chunk holds 4 KiB
PEAK_LIMIT = 16 << 20


def _zstd_bomb(content_size: bool) -> bytes:
    c = zstandard.ZstdCompressor(level=1, write_content_size=content_size)
    obj = c.compressobj(size=BOMB_SIZE if content_size else -1)
    block = bytes(1 << 20)
    return b"".join([obj.compress(block) for _ in range(BOMB_SIZE >> 20)] + [obj.flush()])


def _gzip_bomb() -> bytes:
    obj = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join([obj.compress(block) for _ in range(BOMB_SIZE >> 20)] + [obj.flush()])


BOMBS = {
    "zstd": lambda: ([BytesCodec(), ZstdCodec()], _zstd_bomb(True)),
    "zstd-no-content-size": lambda: ([BytesCodec(), ZstdCodec()], _zstd_bomb(False)),
    "zstd-then-crc32c": lambda: ([BytesCodec(), ZstdCodec(), Crc32cCodec()],
                                 _zstd_bomb(False) + b"\0\0\0\0"),
    "gzip": lambda: ([BytesCodec(), GzipCodec()], _gzip_bomb()),
    "gzip-under-crc32c": lambda: ([BytesCodec(), Crc32cCodec(), GzipCodec()], _gzip_bomb()),
}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_decompression_bomb_refused_without_allocating(bomb):
    chain, data = BOMBS[bomb]()
    if isinstance(chain[-1], Crc32cCodec):
        import crc32c as reference
        data = data[:-4] + reference.crc32c(data[:-4]).to_bytes(4, "little")
    assert len(data) < 1 << 20  # a small object that expands 64 MiB
    pipeline = bind(chain, "int32", BOMB_CHUNK)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptChunkError) as info:
            pipeline.decode(data, key="c/7")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.key == "c/7"
    assert peak < PEAK_LIMIT, f"decoding a bomb allocated {peak / 2**20:.1f} MiB"


# --------------------------------------------------------------------------------------------------
# registry: unknown names, must_understand, third-party registration
# --------------------------------------------------------------------------------------------------


def test_unknown_codec_refused():
    for value in ("foo", {"name": "foo"}, {"name": "foo", "configuration": {"a": 1}},
                  {"name": "foo", "must_understand": True}):
        with pytest.raises(UnknownExtensionError) as info:
            parse_codec(value)
        assert "'foo'" in str(info.value)
        assert isinstance(info.value, MetadataError)


def test_unknown_codec_with_must_understand_false_is_skipped():
    for doc in ({"name": "foo", "must_understand": False},
                {"name": "foo", "configuration": {"x": [1]}, "must_understand": False}):
        codec = parse_codec(doc)
        assert isinstance(codec, SkippedCodec)
        assert codec.name == "foo" and codec.to_json() == doc


def test_skipped_codec_is_ignored_by_the_pipeline_and_kept_on_rewrite():
    """An ignorable unknown codec must not change the data, and rewriting the metadata (here an
    attribute update) must keep it: dropping it would silently change the array's codec list."""
    import json
    store = zarrsync.MemoryStore()
    a = zarrsync.create_array(store, shape=(6,), dtype="i2", chunks=(4,), compressors=None)
    a[...] = np.arange(6, dtype="i2")
    doc = json.loads(store.get("zarr.json"))
    doc["codecs"].append({"name": "x.checksum-later", "configuration": {"k": 1}, "must_understand": False})
    store.set("zarr.json", json.dumps(doc).encode())
    b = zarrsync.open_array(store)
    np.testing.assert_array_equal(b[...], np.arange(6))
    b[4:] = 9
    b.attrs["touched"] = True
    rewritten = json.loads(store.get("zarr.json"))
    assert rewritten["codecs"] == doc["codecs"]
    np.testing.assert_array_equal(zarrsync.open_array(store)[...], [0, 1, 2, 3, 9, 9])


def test_builtin_names_registered():
    names = registered_names()
    for name in ("bytes", "endian", "transpose", "gzip", "zstd", "crc32c"):
        assert name in names
        assert get_codec_class(name) is not None
    assert get_codec_class("definitely-not-a-codec") is None


@dataclasses.dataclass(frozen=True)
class XorCodec(BytesBytesCodec):
    """A third-party bytes -> bytes codec: XOR every byte with ``key``."""

    name = "test.xor"
    aliases = ("test.xor-legacy",)
    is_fixed_size = True

    key: int = 0x5A

    @classmethod
    def from_config(cls, config):
        config = check_config(cls.name, config, {"key"}, {"key"})
        return cls(config["key"])

    def to_config(self):
        return {"key": self.key}

    def encode(self, data, spec):
        return bytes(b ^ self.key for b in bytes(data))

    def decode(self, data, spec, expected_size):
        return bytes(b ^ self.key for b in bytes(data))

    def compute_encoded_size(self, nbytes, spec):
        return nbytes


@pytest.fixture
def private_registry(monkeypatch):
    """A copy of the codec registry, with entry points not yet loaded; restored afterwards."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    return registry


def test_register_third_party_codec(private_registry):
    assert register(XorCodec) is XorCodec
    assert "test.xor" in registered_names() and "test.xor-legacy" in registered_names()
    codec = check_config_round_trip(XorCodec(7))
    assert parse_codec({"name": "test.xor-legacy", "configuration": {"key": 7}}) == codec
    encoded = check_round_trip([BytesCodec(), XorCodec(0x33), Crc32cCodec()], "int16", (3, 4), "F")
    raw = sample_chunk("int16", (3, 4), "F").astype("<i2").tobytes(order="C")
    assert encoded[:-4] == bytes(b ^ 0x33 for b in raw)


class FakeEntryPoint:
    def __init__(self, name, obj, group="zarrsync.codecs", on_load=None):
        self.name, self.group, self.value = name, group, f"{__name__}:{obj.__name__}"
        self.obj, self.on_load, self.loads = obj, on_load, 0

    def load(self):
        self.loads += 1
        if self.on_load is not None:
            self.on_load()
        return self.obj


def _fake_entry_points(monkeypatch, eps, calls=None):
    def entry_points(**params):
        if calls is not None:
            calls.append(params)
        group = params.get("group")
        return [ep for ep in eps if group is None or ep.group == group]
    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_entry_point_codec_is_loaded_lazily(private_registry, monkeypatch):
    ep = FakeEntryPoint("test.xor", XorCodec)
    other = FakeEntryPoint("test.other", GzipCodec, group="something.else")
    calls = []
    _fake_entry_points(monkeypatch, [ep, other], calls)
    assert parse_codec({"name": "gzip", "configuration": {"level": 1}}) == GzipCodec(1)
    assert calls == [] and ep.loads == 0  # known names never look at entry points
    assert parse_codec({"name": "test.xor", "configuration": {"key": 9}}) == XorCodec(9)
    assert calls == [{"group": "zarrsync.codecs"}] and ep.loads == 1 and other.loads == 0
    assert parse_codec({"name": "test.xor", "configuration": {"key": 1}}) == XorCodec(1)
    with pytest.raises(UnknownExtensionError):
        parse_codec("still-unknown")
    assert len(calls) == 1 and ep.loads == 1  # loaded once, not per lookup


def test_entry_point_codec_in_a_pipeline(private_registry, monkeypatch):
    _fake_entry_points(monkeypatch, [FakeEntryPoint("test.xor", XorCodec)])
    check_round_trip(["bytes", {"name": "test.xor", "configuration": {"key": 255}}], "uint8", (5, 5), "C")


def test_entry_points_loaded_once_under_concurrency(private_registry, monkeypatch):
    # a second thread that looks up the same name while the first is still loading the entry
    # points must wait for them, not conclude that the codec is unknown
    started = threading.Event()

    def slow():
        started.set()
        time.sleep(0.3)

    ep = FakeEntryPoint("test.xor", XorCodec, on_load=slow)
    _fake_entry_points(monkeypatch, [ep])
    results = []
    first = threading.Thread(target=lambda: results.append(parse_codec({"name": "test.xor",
                                                                         "configuration": {"key": 1}})))
    first.start()
    assert started.wait(10)
    second = parse_codec({"name": "test.xor", "configuration": {"key": 2}})
    first.join(10)
    assert second == XorCodec(2)
    assert results == [XorCodec(1)]
    assert ep.loads == 1


def test_json_text_of_every_registered_builtin():
    # every built-in codec's JSON is plain JSON (no NaN tokens, no tuples)
    for codec in CODECS:
        assert json.loads(json.dumps(codec.to_json(), allow_nan=False)) == codec.to_json()
    assert isinstance(CODECS[0], Codec)


# --------------------------------------------------------------------------------------------------
# the decode-into fast path (CodecPipeline.read_into) must agree with decode on the same bytes
# --------------------------------------------------------------------------------------------------

def _read_into(chain, dtype, shape, data):
    from zarrsync.storage import MemoryStore
    pipeline = bind(chain, dtype, shape)
    assert pipeline.decodes_into
    store = MemoryStore()
    store.set("c/0", data)
    out = np.empty(shape, dtype=dtype)
    assert pipeline.read_into(store, "c/0", memoryview(out).cast("B"))
    return out


@pytest.mark.parametrize("make", [
    lambda raw: zstandard.ZstdCompressor().compress(raw),
    lambda raw: zstandard.ZstdCompressor(write_content_size=False, write_checksum=True).compress(raw),
    lambda raw: zstandard.ZstdCompressor().compress(raw[:100]) + zstandard.ZstdCompressor().compress(raw[100:]),
    lambda raw: zstandard.ZstdCompressor().compress(b"") + zstandard.ZstdCompressor().compress(raw),
], ids=["one-frame", "no-content-size", "multi-frame", "empty-frame-first"])
def test_read_into_zstd_golden(make):
    assert_same_bits(_read_into(ZSTD_CHAIN, "float64", FLOATS.shape, make(FLOATS.tobytes())), FLOATS)


def test_read_into_missing_chunk_and_plain_bytes():
    from zarrsync.storage import MemoryStore
    pipeline = bind([BytesCodec()], "int32", INTS.shape)
    buf = np.empty(INTS.shape, "i4")
    assert pipeline.read_into(MemoryStore(), "c/0", memoryview(buf).cast("B")) is False
    assert_same_bits(_read_into([BytesCodec()], "int32", INTS.shape, INTS.tobytes()), INTS)
    with pytest.raises(CorruptChunkError, match="c/0"):
        _read_into([BytesCodec()], "int32", INTS.shape, INTS.tobytes()[:-1])


@pytest.mark.parametrize("data", [
    zstandard.ZstdCompressor().compress(FLOATS.tobytes()) + b"garbage",
    zstandard.ZstdCompressor().compress(FLOATS.tobytes() + b"x"),
    zstandard.ZstdCompressor().compress(FLOATS.tobytes()[:-1]),
    zstandard.ZstdCompressor().compress(FLOATS.tobytes())[:-3],
], ids=["trailing-garbage", "one-byte-more", "one-byte-less", "truncated"])
def test_read_into_zstd_corrupt(data):
    with pytest.raises(CorruptChunkError, match="c/0"):
        _read_into(ZSTD_CHAIN, "float64", FLOATS.shape, data)


def test_read_into_zstd_bomb_bounded():
    data = _zstd_bomb(False)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptChunkError, match="c/0"):
            _read_into(ZSTD_CHAIN, "int32", BOMB_CHUNK, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT


# --- grouped decoding (ZstdCodec.decode_many, used for small chunks) ----------------------------------
def test_first_frame_size_matches_the_library_over_many_frames():
    from zarrsync.codecs.zstd import _first_frame_size
    rng = np.random.default_rng(1)
    for n in (0, 1, 100, 8192, 200_000):
        raw = rng.integers(0, 4, n, dtype=np.uint8).tobytes()
        for level in (1, 3, 19):
            for checksum in (False, True):
                for content_size in (True, False):
                    frame = zstandard.ZstdCompressor(level=level, write_checksum=checksum,
                                                     write_content_size=content_size).compress(raw)
                    assert _first_frame_size(frame) == len(frame)
                    assert _first_frame_size(frame + b"xyz") == len(frame)
    assert _first_frame_size(b"not a zstd frame") is None


@pytest.mark.parametrize("bad", ["trailing", "extra-frame", "truncated", "wrong-size"])
def test_decode_many_names_the_corrupt_chunk(bad):
    raw = FLOATS.tobytes()
    good = zstandard.ZstdCompressor().compress(raw)
    corrupt = {
        "trailing": good + b"junk",
        "extra-frame": good + zstandard.ZstdCompressor().compress(b"x"),
        "truncated": good[:-3],
        "wrong-size": zstandard.ZstdCompressor().compress(raw[:-8]),
    }[bad]
    pipeline = CodecPipeline([BytesCodec("little"), ZstdCodec()], ChunkSpec(FLOATS.shape, FLOATS.dtype, 0.0))
    assert pipeline.decodes_many
    with pytest.raises(CorruptChunkError, match="c/1"):
        pipeline.decode_many([good, corrupt, good], ["c/0", "c/1", "c/2"])


def test_decode_many_matches_decode_including_multi_frame_chunks():
    raw = FLOATS.tobytes()
    frames = [zstandard.ZstdCompressor(level=lv).compress(raw) for lv in (1, 5)]
    frames.append(zstandard.ZstdCompressor().compress(raw[:100]) + zstandard.ZstdCompressor().compress(raw[100:]))
    frames.append(zstandard.ZstdCompressor(write_content_size=False).compress(raw))
    pipeline = CodecPipeline([BytesCodec("little"), ZstdCodec()], ChunkSpec(FLOATS.shape, FLOATS.dtype, 0.0))
    for chunk in pipeline.decode_many(frames, [f"c/{i}" for i in range(len(frames))]):
        assert_same_bits(chunk, FLOATS)
