"""Codec checks shared by the codec tests: round trips over a matrix of dtypes, shapes and orders,
config round trips and golden bytes."""

from __future__ import annotations

import json as _json
from typing import Literal

import numpy as _np

from ..codecs import Codec, parse_codec
from ..codecs.base import ChunkSpec
from ..pipeline import CodecPipeline

__all__ = [
    "ROUND_TRIP_DTYPES", "ROUND_TRIP_SHAPES", "ROUND_TRIP_ORDERS", "sample_chunk", "assert_same_bits",
    "bind", "check_round_trip", "check_config_round_trip", "check_golden",
]

ROUND_TRIP_DTYPES = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
]
"""The Zarr v3 core data types (numpy names), for round-trip matrices."""

ROUND_TRIP_SHAPES = [(), (0,), (1,), (7,), (3, 4), (4, 0), (2, 3, 5)]
"""Chunk shapes for round-trip matrices: 0-d, empty, one element, odd sizes, 1-3 dimensions."""

ROUND_TRIP_ORDERS = ["C", "F"]
"""Memory orders of the array handed to ``encode``."""

_SPECIALS = {
    "f": [0.0, -0.0, float("nan"), float("inf"), float("-inf")],
}


def sample_chunk(dtype, shape, order: Literal["C", "F"] = "C", seed: int = 0) -> _np.ndarray:
    """A deterministic array of ``dtype`` and ``shape`` in memory ``order``.

    Integers span the type's whole range (both extremes included); floats include NaN (also with
    a payload and a sign bit), infinities, -0.0 and subnormals; complex numbers mix them per part.
    """
    dtype = _np.dtype(dtype)
    size = 1
    for s in shape:
        size *= s
    rng = _np.random.default_rng(seed)
    if dtype.kind == "c":
        part = _np.dtype(f"f{dtype.itemsize // 2}")
        flat = _np.empty(size, dtype=dtype)
        flat.real = sample_chunk(part, (size,), "C", seed)
        flat.imag = sample_chunk(part, (size,), "C", seed + 1)[::-1]
    elif dtype.kind == "f":
        # random bit patterns cover NaN payloads, negative NaNs and subnormals
        uint = _np.dtype(f"u{dtype.itemsize}")
        flat = rng.integers(0, _np.iinfo(uint).max, size=size, dtype=uint, endpoint=True).view(dtype).copy()
        specials = _np.array(_SPECIALS["f"], dtype=dtype)
        flat[: min(size, len(specials))] = specials[: min(size, len(specials))]
    elif dtype.kind in "iu":
        info = _np.iinfo(dtype)
        flat = rng.integers(info.min, info.max, size=size, dtype=dtype, endpoint=True)
        flat[:1] = info.min
        flat[1:2] = info.max
    elif dtype.kind == "b":
        flat = rng.integers(0, 2, size=size).astype(bool)
    else:
        raise TypeError(f"sample_chunk: unsupported dtype {dtype}")
    return _np.asarray(flat.reshape(shape), order=order).copy(order=order)


def assert_same_bits(actual, expected) -> None:
    """Assert two arrays have the same dtype, shape and bytes (NaN payloads and -0.0 included)."""
    actual = _np.asarray(actual)
    expected = _np.asarray(expected)
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    assert actual.tobytes(order="C") == expected.tobytes(order="C"), (
        f"values differ:\n{actual!r}\n!=\n{expected!r}")


def bind(codec_chain, dtype, shape, fill_value=0) -> CodecPipeline:
    """Parse a codec chain (Codec objects or v3 JSON values) and bind it to a chunk spec."""
    codecs = [parse_codec(c) for c in codec_chain]
    dtype = _np.dtype(dtype)
    return CodecPipeline(codecs, ChunkSpec(tuple(shape), dtype, dtype.type(fill_value)))


def check_round_trip(codec_chain, dtype, shape, order: Literal["C", "F"] = "C") -> bytes:
    """Encode then decode one chunk; assert every bit survives. Returns the encoded bytes.

    Also checks that encoding leaves its input untouched, that the encoded bytes do not depend
    on the input's memory order, that the size matches :attr:`CodecPipeline.encoded_size` when
    the chain has a fixed size, and that ``bytes`` and ``memoryview`` inputs decode alike.
    """
    pipeline = bind(codec_chain, dtype, shape)
    chunk = sample_chunk(dtype, shape, order)
    original = chunk.copy(order="K")
    encoded = bytes(pipeline.encode(chunk))
    assert_same_bits(chunk, original)  # encode did not write into its input
    assert bytes(pipeline.encode(chunk.copy(order="C"))) == encoded, "encoded bytes depend on memory order"
    if pipeline.encoded_size is not None:
        assert len(encoded) == pipeline.encoded_size
    decoded = pipeline.decode(encoded, key="c/0")
    assert_same_bits(decoded, original)
    assert_same_bits(pipeline.decode(memoryview(encoded)), original)
    return encoded


def check_config_round_trip(codec: Codec) -> Codec:
    """JSON -> text -> registry -> equal -> repr, for one codec object. Returns the parsed copy."""
    doc = codec.to_json()
    assert isinstance(doc, dict) and doc["name"] == codec.name
    assert set(doc) <= {"name", "configuration"}, "writers emit the plain object form"
    text = _json.dumps(doc, allow_nan=False)
    parsed = parse_codec(_json.loads(text))
    assert type(parsed) is type(codec)
    assert parsed == codec
    assert hash(parsed) == hash(codec)
    assert parsed.to_json() == doc
    assert repr(parsed) == repr(codec)
    assert type(codec).__name__ in repr(codec)
    if "configuration" not in doc:  # the short-hand name form reads the same
        assert parse_codec(codec.name) == codec
    return parsed


def check_golden(codec_chain, dtype, shape, encoded: bytes, expected, key: str = "c/0/0") -> None:
    """Decode ``encoded`` (bytes made by a reference implementation) and compare with ``expected``."""
    pipeline = bind(codec_chain, dtype, shape)
    assert_same_bits(pipeline.decode(encoded, key=key), _np.asarray(expected, dtype=dtype).reshape(shape))
