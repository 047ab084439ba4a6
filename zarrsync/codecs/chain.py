"""A codec chain bound to one chunk spec: validation, encode, decode, and decoding into buffers.

:class:`CodecPipeline` validates a codec list (array->array*, exactly one array->bytes,
bytes->bytes*), resolves each codec's input spec once, and precomputes the exact decoded size at
every bytes->bytes stage where it is known (that size bounds each decompressor). It does no I/O
beyond the one store read of :meth:`CodecPipeline.read_into`, and starts no threads; the
sharding codec binds one for its inner chunks and one for its index.
"""

from __future__ import annotations

import threading
from typing import Any, Literal, Sequence

import numpy as np

from ..errors import CodecError, CorruptChunkError
from ..storage.base import BytesLike, Store
from .base import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec, ChunkSpec, Codec, SkippedCodec

__all__ = ["CodecPipeline", "scratch", "is_fill", "full_of_fill"]


class CodecPipeline:
    """A codec chain bound to a chunk spec. Immutable after construction; thread-safe."""

    __slots__ = ("codecs", "spec", "array_array", "array_bytes", "ab_spec", "bytes_bytes", "_into", "decodes_into",
                 "decodes_many")

    def __init__(self, codecs: Sequence[Codec], spec: ChunkSpec):
        if spec.nbytes > _MAX_CHUNK_BYTES:
            raise CodecError(f"chunks of shape {spec.shape} and type {spec.dtype} ({spec.nbytes} bytes) are larger "
                             f"than an array can be")
        self.codecs = tuple(codecs)
        self.spec = spec
        aa: list[tuple[ArrayArrayCodec, ChunkSpec]] = []
        ab: ArrayBytesCodec | None = None
        bb: list[tuple[BytesBytesCodec, int | None]] = []
        current = spec
        size: int | None = None
        for codec in self.codecs:
            if isinstance(codec, SkippedCodec):
                continue  # unknown, and marked ignorable
            if isinstance(codec, ArrayArrayCodec):
                if ab is not None:
                    raise CodecError(f"codec {codec.name!r} (array -> array) must come before the array -> bytes codec")
                aa.append((codec, current))
                current = codec.resolve(current)
            elif isinstance(codec, ArrayBytesCodec):
                if ab is not None:
                    raise CodecError(f"codecs {ab.name!r} and {codec.name!r}: only one array -> bytes codec is allowed")
                ab = codec
                current = codec.resolve(current)
                size = codec.compute_encoded_size(current.nbytes, current) if codec.is_fixed_size else None
            elif isinstance(codec, BytesBytesCodec):
                if ab is None:
                    raise CodecError(f"codec {codec.name!r} (bytes -> bytes) must come after the array -> bytes codec")
                bb.append((codec, size))  # size: what this codec's decode must produce
                size = codec.compute_encoded_size(size, current) if (size is not None and codec.is_fixed_size) else None
            else:
                raise CodecError(f"{codec!r} is not a codec")
        if ab is None:
            raise CodecError("the codec chain needs exactly one array -> bytes codec (e.g. 'bytes')")
        self.array_array = tuple(aa)
        self.array_bytes = ab
        self.ab_spec = current
        self.bytes_bytes = tuple(bb)
        # decoding straight into a caller's buffer needs plain bytes on the array side and at
        # most one bytes -> bytes codec that can decode into a buffer
        self._into: Any = None
        if not aa and ab.is_plain_layout(current):
            if not bb:
                self._into = _FROM_STORE
            elif len(bb) == 1 and bb[0][0].supports_decode_into:
                self._into = bb[0][0]
        into = self._into
        #: True if :meth:`read_into` can decode chunks straight into a buffer.
        self.decodes_into = into is not None
        #: True if :meth:`decode_many` decodes a group of chunks in one codec call.
        self.decodes_many = into is not None and into is not _FROM_STORE and into.supports_decode_many

    def decode_many(self, datas: list, keys: list[str]) -> list[np.ndarray]:
        """Decode several chunks (only when :attr:`decodes_many`); read-only views."""
        spec = self.spec
        try:
            raws = self._into.decode_many(datas, spec.nbytes)
        except CorruptChunkError:
            raws = None
        if raws is None or any(len(r) != spec.nbytes for r in raws):
            return [self.decode(d, k) for d, k in zip(datas, keys)]  # find and name the bad chunk
        return [np.frombuffer(r, dtype=spec.dtype).reshape(spec.shape) for r in raws]

    def decode_reusing(self, data) -> np.ndarray:
        """:meth:`decode` into a per-thread buffer that the thread's next call reuses (copy the
        result out first). For large chunks of plain chains that decode into buffers (zstd), it
        spares a fresh allocation and its page faults per chunk; otherwise it is :meth:`decode`."""
        into, spec = self._into, self.spec
        if into is None or into is _FROM_STORE or spec.nbytes < _REUSE_FROM:
            return self.decode(data)
        buf = scratch(spec.nbytes, "inner")
        into.decode_into(data, memoryview(buf))
        return buf.view(spec.dtype).reshape(spec.shape)

    def read_into(self, store: Store, key: str, buf: memoryview) -> bool:
        """Decode the chunk at ``key`` into ``buf`` (native C-order bytes of one chunk).

        Returns False if the chunk is missing. Only when :attr:`decodes_into`.
        """
        codec = self._into
        if codec is _FROM_STORE:  # the stored bytes are the chunk
            n = store.get_into(key, buf)
            if n is None:
                return False
            if n != len(buf):
                raise self._size_error(n, key)
            return True
        data = store.get_transient(key)  # decoded at once, nothing kept: it may be a reused buffer
        if data is None:
            return False
        self.decode_into(data, buf, key)
        return True

    def decode_into(self, data, buf: memoryview, key: str | None = None) -> None:
        """Decode the stored bytes ``data`` of one chunk into ``buf`` (as :meth:`read_into`, for
        bytes already fetched). Only when :attr:`decodes_into`."""
        codec = self._into
        if codec is _FROM_STORE:
            if len(data) != len(buf):
                raise self._size_error(len(data), key)
            buf[:] = data
            return
        try:
            codec.decode_into(data, buf)
        except CorruptChunkError as e:
            raise CorruptChunkError(str(e), key) from None

    def _size_error(self, n: int, key: str | None) -> CorruptChunkError:
        spec = self.spec
        return CorruptChunkError(f"codec 'bytes': expected {spec.nbytes} bytes for a chunk of shape "
                                 f"{spec.shape} and type {spec.dtype}, got {n}", key)

    @property
    def encoded_size(self) -> int | None:
        """Size of every encoded chunk when the whole chain is fixed-size, else None."""
        size = None
        if self.array_bytes.is_fixed_size:
            size = self.array_bytes.compute_encoded_size(self.ab_spec.nbytes, self.ab_spec)
            for codec, _ in self.bytes_bytes:
                if not codec.is_fixed_size:
                    return None
                size = codec.compute_encoded_size(size, self.ab_spec)
        return size

    def encode(self, chunk: np.ndarray) -> BytesLike:
        """Encode one chunk (shape and dtype of ``spec``) to bytes-like.

        The result may be a view of a per-thread buffer: use it (store it) before encoding the
        next chunk on the same thread.
        """
        if self._into is not None and not chunk.flags.c_contiguous:
            # plain layout: gather the chunk into a reused buffer rather than a new allocation
            buf = scratch(self.spec.nbytes, "encode")
            np.copyto(buf.view(self.spec.dtype).reshape(self.spec.shape), chunk)
            data: BytesLike = memoryview(buf)
        else:
            for aa_codec, spec in self.array_array:
                chunk = aa_codec.encode(chunk, spec)
            data = self.array_bytes.encode(chunk, self.ab_spec)
        for bb_codec, _ in self.bytes_bytes:
            data = bb_codec.encode(data, self.ab_spec)
        return data

    def decode(self, data: BytesLike, key: str | None = None) -> np.ndarray:
        """Decode one chunk; the result may be a read-only view. Bad bytes raise CorruptChunkError."""
        into = self._into
        if into is not None:  # plain layout: at most one bytes -> bytes codec, then a view
            spec = self.spec
            try:
                if into is not _FROM_STORE:
                    data = into.decode(data, spec, spec.nbytes)
                if len(data) != spec.nbytes:
                    raise CorruptChunkError(f"expected {spec.nbytes} bytes for a chunk of shape {spec.shape} "
                                            f"and type {spec.dtype}, got {len(data)}")
            except CorruptChunkError as e:
                raise CorruptChunkError(str(e), key) from None
            return np.frombuffer(data, dtype=spec.dtype).reshape(spec.shape)
        return self._decode_chain(data, key)

    def decode_to(self, data: BytesLike, dest: np.ndarray, key: str | None = None) -> None:
        """Decode one chunk into ``dest`` (writable, of the spec's shape and type; a view of an
        output, say). With no array -> array codec the array -> bytes codec writes into ``dest``
        itself (:meth:`ArrayBytesCodec.decode_to`: variable-length strings skip a whole-chunk
        intermediate); otherwise :meth:`decode`, then a copy."""
        if self._into is not None or self.array_array:
            dest[...] = self.decode(data, key)
        else:
            self._decode_chain(data, key, dest)

    def _decode_chain(self, data: BytesLike, key: str | None, dest: np.ndarray | None = None) -> np.ndarray:
        """Codec by codec, naming the chunk in any error; with ``dest`` (and no array -> array
        codec) the array -> bytes codec decodes into it."""
        try:
            for bb_codec, expected in reversed(self.bytes_bytes):
                data = bb_codec.decode(data, self.ab_spec, expected)
            if dest is not None:
                self.array_bytes.decode_to(data, self.ab_spec, dest)
                return dest
            chunk = self.array_bytes.decode(data, self.ab_spec)
            for aa_codec, spec in reversed(self.array_array):
                chunk = aa_codec.decode(chunk, spec)
        except CorruptChunkError as e:
            if e.key is None and key is not None:
                raise CorruptChunkError(str(e), key) from None
            raise
        except (ValueError, TypeError, OverflowError, MemoryError) as e:
            raise CorruptChunkError(f"cannot decode: {e}", key) from e
        return chunk


_FROM_STORE = object()
#: numpy cannot allocate 2 ** 63 bytes or more: metadata may describe such chunks, an array cannot hold them
_MAX_CHUNK_BYTES = (1 << 63) - 1
_REUSE_FROM = 64 << 10

_scratch_local = threading.local()
_SCRATCH_MAX = 64 << 20


def scratch(nbytes: int, slot: str) -> np.ndarray:
    """A per-thread buffer of ``nbytes`` bytes, reused between chunks: large fresh allocations
    cost a page fault per 4 KiB on every chunk. ``slot`` keeps decode and encode buffers apart."""
    bufs = getattr(_scratch_local, "bufs", None)
    if bufs is None:
        bufs = _scratch_local.bufs = {}
    buf = bufs.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(nbytes, dtype=np.uint8)
        if nbytes <= _SCRATCH_MAX:
            bufs[slot] = buf
    return buf[:nbytes]


# --- empty chunks --------------------------------------------------------------------------------

_UINT_OF_SIZE = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def full_of_fill(shape: tuple[int, ...], fill: Any, dtype: np.dtype, order: Literal["C", "F"] = "C") -> np.ndarray:
    """A new writable array of ``shape`` holding ``fill`` in every element: the one home of
    fill-value materialisation for chunks (missing inner chunks of a shard included).

    Object elements are set with ``ndarray.fill``: ``np.full`` would first turn the fill into a
    numpy array, and ``np.array(b"a\\0")`` is ``S2`` data that comes back as ``b"a"`` (a
    ``bytes`` fill loses its trailing NULs).
    """
    if dtype.kind == "O":
        out = np.empty(shape, dtype=dtype, order=order)
        out.fill(fill)
        return out
    return np.full(shape, fill, dtype=dtype, order=order)


def is_fill(chunk: np.ndarray, fill: Any) -> bool:
    """True if every element of ``chunk`` equals ``fill`` bit for bit (NaN payloads, -0.0 included).

    This is the one home of empty-chunk elision's test. A chunk whose first or last element
    differs from the fill is decided without scanning it (real data rarely starts and ends with
    the fill value; a full scan of a strided 4 MiB view costs about a millisecond). Integers and
    bools compare as numbers; floats, times (``NaT``), strings, raw bytes and structs compare
    their bytes, through an unsigned-integer view when the item size allows.
    """
    dtype = chunk.dtype
    kind = dtype.kind
    if kind == "T":  # StringDType: compare the strings
        return bool((chunk == fill).all())
    if kind == "O":  # Python objects (strings, bytes, JSON values, arrays): compare each by value
        return all(_same_object(v, fill) for v in chunk.flat)
    if chunk.size > 64 and not (_same_bits(chunk.flat[0], fill, chunk.dtype) and _same_bits(chunk.flat[-1], fill, chunk.dtype)):
        return False
    if kind in "biu":
        if fill == 0:
            return not chunk.any()
        return bool((chunk == fill).all())
    if kind == "c":
        part = np.dtype(f"f{dtype.itemsize // 2}")
        return is_fill(chunk.real, part.type(fill.real)) and is_fill(chunk.imag, part.type(fill.imag))
    raw = np.array(fill, dtype=dtype)
    uint = _UINT_OF_SIZE.get(dtype.itemsize)
    if uint is not None:  # a same-size view works on any strides
        bits = raw.view(uint)[()]
        view = chunk.view(uint)
        return not view.any() if bits == 0 else bool((view == bits).all())
    flat = np.ascontiguousarray(chunk).reshape(-1).view(np.uint8)
    pattern = raw.reshape(1).view(np.uint8)
    if not pattern.any():
        return not flat.any()
    return bool((flat.reshape(-1, dtype.itemsize) == pattern).all())


def _same_object(value: Any, fill: Any) -> bool:
    if value is fill:
        return True
    if type(value) is not type(fill):
        return False  # 0 is not "", 1 is not True, b"" is not ""
    try:
        return bool(value == fill)
    except (ValueError, TypeError):  # arrays (vlen-array elements) have no single truth value
        return False


def _same_bits(value: Any, fill: Any, dtype: np.dtype) -> bool:
    return np.array(value, dtype=dtype).tobytes() == np.array(fill, dtype=dtype).tobytes()
