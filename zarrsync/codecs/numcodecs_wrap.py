"""numcodecs-style codecs inside a v3 codec chain (and behind Zarr v2 filters and compressors).

zarr-python's convention (``SPEC_CHECKLIST`` §7): a numcodecs codec ``<id>`` appears in v3
metadata as ``{"name": "numcodecs.<id>", "configuration": <its config without "id">}``.
Compressors and checksums become bytes -> bytes codecs (:class:`NumcodecsBytesCodec`); filters
become array -> array codecs (:class:`NumcodecsArrayCodec`), whose output may change dtype or
shape (``astype``, ``packbits``). Any object satisfying
:class:`~zarrsync.codecs.numcodecs_api.NumcodecsLike` works: zarrsync's own implementations, the
real numcodecs classes, or a third party's.

Both wrappers hand the inner codec an ndarray of the chunk's dtype, as zarr-python's pipeline
does, so codecs that read the item size (Blosc's typesize, Shuffle) see the right one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..errors import CodecError, CorruptChunkError, MissingDependencyError, PickleRefusedError
from .base import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec, ChunkSpec, bounded_size
from .numcodecs_api import NumcodecsCodec, check_numcodecs_like, get_codec

__all__ = ["NumcodecsBytesCodec", "NumcodecsArrayCodec", "NumcodecsObjectCodec", "numcodecs_v3_codec",
           "place_numcodecs", "FILTER_IDS", "OBJECT_CODEC_IDS"]

#: numcodecs ids that act on arrays (filters); the others act on bytes
FILTER_IDS = frozenset({"delta", "fixedscaleoffset", "quantize", "bitround", "packbits", "categorize", "astype"})
#: numcodecs ids that turn object arrays into bytes (the first filter of a v2 object array)
OBJECT_CODEC_IDS = frozenset({"vlen-utf8", "vlen-bytes", "vlen-array", "json2", "msgpack2", "pickle"})


#: errors a decoder raises that are not about the bytes: they reach the caller as they are
_PASS_THROUGH = (CorruptChunkError, PickleRefusedError, MissingDependencyError)


def _config_without_id(codec: Any) -> dict:
    return {k: v for k, v in codec.get_config().items() if k != "id"}


class _Wrapped:
    """What both wrappers share: the v3 name ``numcodecs.<id>``, the configuration (the numcodecs
    config without ``"id"``), and equality by config."""

    codec: Any

    def __post_init__(self):
        check_numcodecs_like(self.codec)

    @property
    def name(self) -> str:
        return "numcodecs." + self.codec.codec_id

    def to_config(self) -> dict:
        return _config_without_id(self.codec)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and self.codec.get_config() == other.codec.get_config()

    def load_accelerator(self) -> None:
        load = getattr(self.codec, "load_accelerator", None)  # zarrsync's own numcodecs-style codecs
        if load is not None:
            load()

    def __hash__(self) -> int:
        return hash(self.name)


@dataclasses.dataclass(frozen=True, eq=False)
class NumcodecsBytesCodec(_Wrapped, BytesBytesCodec):  # type: ignore[override]  # name: per instance
    """A numcodecs compressor or checksum as a v3 bytes -> bytes codec."""

    codec: Any

    def encode(self, data, spec: ChunkSpec) -> bytes:
        view: memoryview | np.ndarray = memoryview(data).cast("B")
        # the typed view numcodecs would have seen; after an object codec it saw that codec's bytes
        if spec.dtype.kind not in "OT" and len(view) % spec.dtype.itemsize == 0:
            view = np.frombuffer(view, dtype=spec.dtype)
        return bytes(memoryview(self.codec.encode(view)).cast("B"))

    def decode(self, data, spec: ChunkSpec, expected_size: int | None) -> memoryview:
        """Decode, never past the size the chunk can hold (:func:`~zarrsync.codecs.base.bounded_size`):
        zarrsync's own codecs stop decoding at it; a third party's codec is checked afterwards."""
        codec = self.codec
        bound = bounded_size(spec, expected_size)
        try:
            if isinstance(codec, NumcodecsCodec):
                out = codec.decode_bounded(data, bound)
            else:
                out = codec.decode(data)
            out = memoryview(np.ascontiguousarray(out) if isinstance(out, np.ndarray) else out).cast("B")
        except _PASS_THROUGH:
            raise
        except Exception as e:  # noqa: BLE001 - any failure of a foreign codec is corrupt input to us
            raise CorruptChunkError(f"codec {self.name!r}: {e}") from None
        if len(out) > bound:
            raise CorruptChunkError(f"codec {self.name!r}: decodes to {len(out)} bytes, more than the {bound} "
                                    f"bytes a chunk can hold")
        return out


@dataclasses.dataclass(frozen=True, eq=False)
class NumcodecsArrayCodec(_Wrapped, ArrayArrayCodec):  # type: ignore[override]  # name: per instance
    """A numcodecs filter as a v3 array -> array codec.

    The encoded representation (dtype and shape) is found once, when the chain is bound, by
    encoding a chunk of zeros; a result with as many elements as the chunk keeps its shape,
    anything else (``packbits``) is one-dimensional.
    """

    codec: Any

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        """The encoded chunk's spec. zarrsync's own filters say it without encoding
        (:meth:`~zarrsync.codecs.numcodecs_api.NumcodecsCodec.encoded_layout`); a third party's
        filter is asked by encoding a chunk of zeros (its code was registered by the caller, so
        the probe's size is the caller's choice, not the metadata's)."""
        codec = self.codec
        if codec.codec_id in OBJECT_CODEC_IDS:  # it turns elements into bytes: never a filter of fixed-size data
            raise CodecError(f"codec {self.name!r} serialises variable-length elements; it cannot be a filter "
                             f"(array -> array codec) of {spec.dtype} data")
        try:
            layout = codec.encoded_layout(spec.shape, spec.dtype) if isinstance(codec, NumcodecsCodec) else None
            if layout is None:
                probe = np.asarray(codec.encode(np.zeros(spec.shape, dtype=spec.dtype)))
                layout = (spec.shape if probe.size == spec.size else probe.shape), probe.dtype
        except CodecError:
            raise
        except (ValueError, TypeError, OverflowError, ArithmeticError, MemoryError) as e:
            raise CodecError(f"codec {self.name!r} cannot encode chunks of type {spec.dtype} and shape "
                             f"{spec.shape}: {e}") from None
        shape, dtype = layout
        dtype = dtype.newbyteorder("=") if dtype.byteorder == ">" else dtype
        return ChunkSpec(tuple(shape), dtype, dtype.type(0))

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        try:
            out = np.asarray(self.codec.encode(np.ascontiguousarray(chunk)))
        except CodecError:
            raise
        except (ValueError, TypeError, OverflowError) as e:
            raise CodecError(f"codec {self.name!r} cannot encode a chunk of type {chunk.dtype}: {e}") from None
        encoded = self.resolve(spec)
        return out.reshape(encoded.shape) if out.size == encoded.size else out

    def decode(self, chunk: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        try:
            out = np.asarray(self.codec.decode(np.ascontiguousarray(chunk)))
        except _PASS_THROUGH:
            raise
        except Exception as e:  # noqa: BLE001
            raise CorruptChunkError(f"codec {self.name!r}: {e}") from None
        if out.size != spec.size and out.nbytes != spec.nbytes:  # a third party's filter may be a bomb too
            raise CorruptChunkError(f"codec {self.name!r}: decoded {out.size} elements of type {out.dtype}, the "
                                    f"chunk holds {spec.size} of type {spec.dtype}")
        if out.dtype != spec.dtype:
            # a filter that decodes to raw bytes (shuffle) is reinterpreted, as zarr-python does;
            # one that decodes to values of another type is cast
            out = np.ascontiguousarray(out)
            out = out.view(spec.dtype) if out.nbytes == spec.nbytes else out.astype(spec.dtype)
        return out.reshape(spec.shape)


def numcodecs_v3_codec(codec_or_config: Any, *, kind: str | None = None):
    """Wrap a numcodecs-like codec (or its config dict, with ``"id"``) for a v3 chain.

    ``kind`` is ``"filter"`` or ``"bytes"``; by default it follows the codec id.
    """
    codec = get_codec(codec_or_config) if isinstance(codec_or_config, dict) else codec_or_config
    check_numcodecs_like(codec)
    if kind is None:
        kind = "filter" if codec.codec_id in FILTER_IDS else "bytes"
    if kind not in ("filter", "bytes"):
        raise CodecError(f"kind must be 'filter' or 'bytes', got {kind!r}")
    return NumcodecsArrayCodec(codec) if kind == "filter" else NumcodecsBytesCodec(codec)


def place_numcodecs(codecs: tuple) -> tuple:
    """Give wrapped numcodecs codecs the kind their position in a v3 chain says: before the
    array -> bytes codec they are filters (array -> array), after it bytes -> bytes. A name alone
    (``numcodecs.<id>``) does not tell a third party's filter from a compressor."""
    out, before = [], True
    for codec in codecs:
        if isinstance(codec, ArrayBytesCodec):
            before = False
        elif before and isinstance(codec, NumcodecsBytesCodec):
            codec = NumcodecsArrayCodec(codec.codec)
        elif not before and isinstance(codec, NumcodecsArrayCodec):
            codec = NumcodecsBytesCodec(codec.codec)
        out.append(codec)
    return tuple(out)


@dataclasses.dataclass(frozen=True, eq=False)
class NumcodecsObjectCodec(_Wrapped, ArrayBytesCodec):  # type: ignore[override]  # name: per instance
    """A numcodecs object codec (``vlen-utf8``, ``json2`` ...) as the array -> bytes codec of a
    Zarr v2 object array, where it is the first filter (``SPEC_CHECKLIST`` §4.4). Its decode
    gives the elements in C order (a ``transpose`` before it handles F order)."""

    codec: Any

    def encode(self, chunk: np.ndarray, spec: ChunkSpec):
        return self.codec.encode(np.ascontiguousarray(chunk))

    def decode(self, data, spec: ChunkSpec) -> np.ndarray:
        try:
            out = np.asarray(self.codec.decode(data))
        except CorruptChunkError:
            raise
        except (ValueError, TypeError, OverflowError) as e:
            raise CorruptChunkError(f"codec {self.codec.codec_id!r}: {e}") from None
        if out.size != spec.size:
            raise CorruptChunkError(f"codec {self.codec.codec_id!r}: decoded {out.size} elements, the chunk "
                                    f"holds {spec.size}")
        out = out.reshape(spec.shape)
        return out if out.dtype == spec.dtype else out.astype(spec.dtype)
