"""Codec base classes and the chunk spec they are bound to.

A Zarr v3 codec is one of three kinds (``SPEC_CHECKLIST`` §1.8):

- :class:`ArrayArrayCodec` (``transpose`` ...): ndarray -> ndarray;
- :class:`ArrayBytesCodec` (``bytes``, later ``sharding_indexed``, ``vlen-utf8``): ndarray -> bytes;
- :class:`BytesBytesCodec` (``gzip``, ``zstd``, ``crc32c`` ...): bytes -> bytes.

A codec is a small frozen dataclass: its fields are its configuration, class attributes carry
its names and capabilities. It does no I/O and starts no threads; ``encode``/``decode`` act on
exactly one chunk and are safe to call from many threads at once.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

import numpy as np

from ..dtypes.variable import fill_key, is_variable_length_dtype
from ..errors import CodecError, CorruptChunkError
from ..storage.base import BytesLike

__all__ = ["ChunkSpec", "Codec", "ArrayArrayCodec", "ArrayBytesCodec", "BytesBytesCodec", "SkippedCodec",
           "bounded_size", "check_config"]


@dataclasses.dataclass(frozen=True, eq=False)
class ChunkSpec:
    """What one chunk holds: its shape, numpy dtype (native order) and fill value.

    Specs compare and hash by the fill value's bits, not by ``==``: a NaN fill equals itself,
    and records whose fields include raw bytes (numpy cannot hash those) still hash.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    fill_value: Any
    # derived in __post_init__ (declared so they are typed; not constructor arguments)
    size: int = dataclasses.field(init=False, repr=False)
    nbytes: int = dataclasses.field(init=False, repr=False)
    _key: tuple = dataclasses.field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "_key", (tuple(self.shape), self.dtype, fill_key(self.fill_value, self.dtype)))
        size = 1
        for s in self.shape:
            size *= s
        # read once per chunk task: plain attributes, computed here once
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "nbytes", size * self.dtype.itemsize)

    def __eq__(self, other):
        if not isinstance(other, ChunkSpec):
            return NotImplemented
        return self._key == other._key

    def __hash__(self):
        return hash(self._key)



def bounded_size(spec: ChunkSpec, expected_size: int | None) -> int:
    """The most bytes a decoder may produce: the exact size when known, else a generous bound.

    This is the one place the decompression-bomb limit is set. Chunks of variable-length
    elements (object, ``StringDType``) have no size the spec can predict: their bound is
    ``VARIABLE_CHUNK_LIMIT`` (2 GiB; the vlen formats cannot describe an element over 4 GiB).
    """
    if expected_size is not None:
        return expected_size
    if is_variable_length_dtype(spec.dtype):
        return VARIABLE_CHUNK_LIMIT
    return 2 * spec.nbytes + (1 << 20)


#: the most bytes a chunk of variable-length elements may decompress to
VARIABLE_CHUNK_LIMIT = 1 << 31


def decompress_streams(new_decompressor: Callable[[], Any], data, max_size: int, codec: str,
                       error: type[Exception], *, ignore_tail: bool = False) -> bytes:
    """Decode one or more concatenated streams (gzip, zlib, bz2, xz) into at most ``max_size``
    bytes (the one home of bounded stream decoding).

    Each stream is decoded with ``max_length``, so a decompression bomb stops one byte past the
    bound instead of allocating what it expands to. With ``ignore_tail``, bytes after a complete
    stream that do not start a valid stream are ignored (as ``bz2.decompress`` and
    ``lzma.decompress`` do), and empty input decodes to nothing (as ``bz2.decompress``);
    otherwise both are errors (as ``zlib``/``gzip`` decoding).
    """
    if not len(data) and not ignore_tail:
        raise CorruptChunkError(f"codec {codec!r}: truncated stream (no data)")
    parts: list[bytes] = []
    total = 0
    data = memoryview(data)
    while len(data):
        d = new_decompressor()
        try:
            part = d.decompress(data, max_size - total + 1)
        except (error, ValueError, EOFError) as e:
            if parts and ignore_tail:
                break  # trailing garbage after a complete stream
            raise CorruptChunkError(f"codec {codec!r}: {e}") from None
        total += len(part)
        if total > max_size:
            raise CorruptChunkError(f"codec {codec!r}: decodes to more than the {max_size} bytes a chunk can hold")
        parts.append(part)
        if not d.eof:
            raise CorruptChunkError(f"codec {codec!r}: truncated stream (no end-of-stream marker)")
        data = memoryview(d.unused_data)
    return parts[0] if len(parts) == 1 else b"".join(parts)  # b"" for no streams


def check_config(codec: str, config: Any, allowed: set[str], required: frozenset[str] | set[str] = frozenset()) -> dict:
    """Validate a codec ``configuration`` object: a dict with only known keys and the required ones."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise CodecError(f"codec {codec!r}: configuration must be an object, got {config!r}")
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise CodecError(f"codec {codec!r}: unknown configuration key(s) {unknown}")
    missing = sorted(required - set(config))
    if missing:
        raise CodecError(f"codec {codec!r}: configuration is missing {missing}")
    return config


class Codec:
    """Base of all codecs. Subclasses are frozen dataclasses."""

    #: the v3 name
    name: ClassVar[str]
    #: other v3 names read as this codec (never written)
    aliases: ClassVar[tuple[str, ...]] = ()
    #: the encoded size is a function of the decoded size alone (usable in a shard index)
    is_fixed_size: ClassVar[bool] = False

    @classmethod
    def from_config(cls, config: dict | None) -> "Codec":
        """Build from the v3 ``configuration`` object, raising :class:`CodecError` on bad input."""
        check_config(cls.name, config, set())
        return cls()

    def to_config(self) -> dict | None:
        """The v3 ``configuration`` object, or None for a codec that has none."""
        return None

    def to_json(self) -> dict:
        """The v3 codec JSON: ``{"name": ..., "configuration": {...}}``."""
        config = self.to_config()
        return {"name": self.name} if config is None else {"name": self.name, "configuration": config}

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        """The spec of this codec's output for an input described by ``spec`` (validates it)."""
        return spec

    def compute_encoded_size(self, nbytes: int, spec: ChunkSpec) -> int:
        """Encoded size for an input of ``nbytes`` (fixed-size codecs only)."""
        raise CodecError(f"codec {self.name!r} does not have a fixed encoded size")

    def load_accelerator(self) -> None:
        """Load the optional compiled accelerator this codec decodes with, if it has one (an
        import; see the ``fast`` extra). Opening an array calls it, so that the first read does
        not pay the import; otherwise the first use loads it."""


class ArrayArrayCodec(Codec):
    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        raise NotImplementedError

    def decode(self, chunk: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        """Decode; ``spec`` describes the decoded chunk (this codec's input)."""
        raise NotImplementedError


class ArrayBytesCodec(Codec):
    #: the codec reads and rewrites part of an encoded chunk (``read_region``/``update``)
    supports_partial: ClassVar[bool] = False

    @property
    def inner_chunk_shape(self) -> tuple[int, ...] | None:
        """The shape of the chunks inside an encoded chunk (sharding's inner chunks), else None."""
        return None

    def is_plain_layout(self, spec: ChunkSpec) -> bool:
        """True if the encoded bytes are exactly the chunk's native C-order memory (so a chunk can
        be read straight into an output buffer)."""
        return False

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> BytesLike:
        raise NotImplementedError

    def decode(self, data: BytesLike, spec: ChunkSpec) -> np.ndarray:
        """Decode to an array of ``spec.shape`` and ``spec.dtype`` (may be a read-only view of ``data``)."""
        raise NotImplementedError

    def decode_to(self, data: BytesLike, spec: ChunkSpec, dest: np.ndarray) -> None:
        """Decode into ``dest``, a writable array of ``spec.shape`` and ``spec.dtype`` (often a
        view of the caller's output). By default :meth:`decode`, then a copy; a codec that builds
        its elements one by one (variable-length strings) writes them straight into ``dest``."""
        dest[...] = self.decode(data, spec)


class BytesBytesCodec(Codec):
    #: ``decode_into`` writes the decoded bytes into a caller's buffer (no intermediate copy)
    supports_decode_into: ClassVar[bool] = False
    #: ``decode_many`` decodes several chunks in one call (one GIL release for the lot)
    supports_decode_many: ClassVar[bool] = False

    def decode_many(self, datas: list, size: int) -> list:
        """Decode several chunks that must each decode to exactly ``size`` bytes; bytes-likes."""
        raise NotImplementedError

    def decode_into(self, data, out: memoryview) -> None:
        """Decode into ``out``, which must end up exactly full (else CorruptChunkError)."""
        raise NotImplementedError

    def encode(self, data: BytesLike, spec: ChunkSpec) -> BytesLike:
        """Encode; the result may be a view of a per-thread buffer that this thread's next
        encode reuses (as :meth:`CodecPipeline.encode <zarrsync.codecs.chain.CodecPipeline.encode>`
        may return), and ``data`` may be such a view of an earlier codec's buffer."""
        raise NotImplementedError

    def decode(self, data: BytesLike, spec: ChunkSpec, max_size: int | None) -> BytesLike:
        """Decode; the result may not exceed ``max_size`` bytes (a hostile input raises instead).
        ``None`` means the decoded size is not known: the bound is :func:`bounded_size`'s."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class SkippedCodec(Codec):
    """An unknown codec marked ``"must_understand": false``.

    The spec lets a reader ignore it, so the codec pipeline skips it when encoding and decoding;
    its JSON is kept so that rewriting the metadata (an attribute update, a resize) preserves it.
    """

    json: dict

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.json["name"]

    def to_json(self) -> dict:
        return self.json
