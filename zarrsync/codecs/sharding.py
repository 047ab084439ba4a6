"""``sharding_indexed``: an array -> bytes codec that stores a grid of inner chunks in one object.

JSON::

    {"name": "sharding_indexed", "configuration": {
        "chunk_shape": [64, 64],
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                   {"name": "zstd", "configuration": {"level": 0, "checksum": false}}],
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
        "index_location": "end"}}

Layout (``SPEC_CHECKLIST`` §2.7): the encoded inner chunks and an index of one ``(offset,
nbytes)`` uint64 pair per inner chunk, in C order of the inner grid, encoded with the fixed-size
``index_codecs``; the index fills the last (``"end"``, the default) or first (``"start"``) bytes
of the shard. Offsets count from the start of the shard object. An inner chunk equal to the fill
value everywhere is not stored: its entry is ``(2**64 - 1, 2**64 - 1)``. zarrsync stores inner
chunks back to back in Morton (Z) order, dimension 0 in the lowest bit, as zarr-python does, so
equal shards are equal bytes; readers accept any order and gaps, as the spec requires.

Besides whole-shard ``encode``/``decode``, the codec reads a region of a shard from a snapshot
of the shard object (:meth:`ShardingCodec.read_region`: given the index, which the caller reads
first with :meth:`ShardingCodec.index_request`, only the inner chunks the region touches, near
ranges coalesced into one read, all as of one version), and rewrites part of a shard
(:meth:`ShardingCodec.update`: only the inner chunks touched are decoded and re-encoded; the
others are copied as bytes). It never sees the store: the caller hands it a snapshot, or the
whole old shard while it holds the shard key's lock. Every index entry is checked against the
shard's size before anything is read through it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import numpy as np

from ..errors import CodecError, CorruptChunkError
from ..executor import run_tasks
from ..indexing import BasicIndexer, assign, only_slices
from ..storage.base import ByteRequest, BytesLike, RangeRequest, Snapshot, SuffixRequest
from .base import ArrayBytesCodec, ChunkSpec, Codec, check_config
from .bytes_ import BytesCodec
from .chain import CodecPipeline, full_of_fill, is_fill
from .crc32c_ import Crc32cCodec
from .registry import parse_codec

__all__ = ["ShardingCodec"]

_EMPTY = np.uint64(2**64 - 1)
_COALESCE_GAP = 16 << 10  # ranges closer than this are fetched with one read

@dataclasses.dataclass(frozen=True)
class _Bound:
    """The codec bound to one shard spec: the inner and index chains, computed once."""

    inner: CodecPipeline
    index: CodecPipeline
    chunks_per_shard: tuple[int, ...]
    index_size: int


@dataclasses.dataclass(frozen=True)
class ShardingCodec(ArrayBytesCodec):
    name = "sharding_indexed"
    #: read_region and update work on part of a shard
    supports_partial = True

    chunk_shape: tuple[int, ...]
    codecs: tuple[Codec, ...] = (BytesCodec("little"),)
    index_codecs: tuple[Codec, ...] = (BytesCodec("little"), Crc32cCodec())
    index_location: str = "end"

    def __post_init__(self):
        shape = self.chunk_shape
        if not isinstance(shape, (list, tuple)) or not shape or not all(
                isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in shape):
            raise CodecError(f"codec 'sharding_indexed': chunk_shape must be a list of positive integers, got {shape!r}")
        object.__setattr__(self, "chunk_shape", tuple(shape))
        for field in ("codecs", "index_codecs"):
            value = getattr(self, field)
            if isinstance(value, (Codec, dict, str)) or not value:
                raise CodecError(f"codec 'sharding_indexed': {field} must be a non-empty list of codecs")
            object.__setattr__(self, field, tuple(parse_codec(c) for c in value))
        if self.index_location not in ("start", "end"):
            raise CodecError(f"codec 'sharding_indexed': index_location must be 'start' or 'end', "
                             f"got {self.index_location!r}")

    def load_accelerator(self) -> None:
        for codec in self.codecs:  # the inner chunks' codecs
            codec.load_accelerator()

    @classmethod
    def from_config(cls, config):
        config = check_config(cls.name, config, {"chunk_shape", "codecs", "index_codecs", "index_location"},
                              {"chunk_shape", "codecs", "index_codecs"})
        return cls(config["chunk_shape"], config["codecs"], config["index_codecs"],
                   config.get("index_location", "end"))

    def to_config(self):
        return {
            "chunk_shape": list(self.chunk_shape),
            "codecs": [c.to_json() for c in self.codecs],
            "index_codecs": [c.to_json() for c in self.index_codecs],
            "index_location": self.index_location,
        }

    @property
    def inner_chunk_shape(self) -> tuple[int, ...]:
        return self.chunk_shape

    # --- binding ----------------------------------------------------------------------------------
    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        self._bind(spec)
        return spec

    @functools.lru_cache(maxsize=64)  # noqa: B019 - codecs are immutable and few; lru_cache is thread-safe
    def _bind(self, spec: ChunkSpec) -> _Bound:
        if len(self.chunk_shape) != len(spec.shape):
            raise CodecError(f"codec 'sharding_indexed': chunk_shape {list(self.chunk_shape)} has "
                             f"{len(self.chunk_shape)} dimensions, the shard has {len(spec.shape)}")
        if any(s % c for s, c in zip(spec.shape, self.chunk_shape)):
            raise CodecError(f"codec 'sharding_indexed': inner chunk shape {list(self.chunk_shape)} does not "
                             f"divide the shard shape {list(spec.shape)}")
        cps = tuple(s // c for s, c in zip(spec.shape, self.chunk_shape))
        inner = CodecPipeline(self.codecs, ChunkSpec(self.chunk_shape, spec.dtype, spec.fill_value))
        index = CodecPipeline(self.index_codecs, ChunkSpec(cps + (2,), np.dtype(np.uint64), _EMPTY))
        size = index.encoded_size
        if size is None:
            raise CodecError("codec 'sharding_indexed': index_codecs must all have a fixed encoded size "
                             "(e.g. bytes and crc32c; no compression)")
        return _Bound(inner, index, cps, size)

    # --- the index --------------------------------------------------------------------------------
    def _index_request(self, b: _Bound) -> ByteRequest:
        return SuffixRequest(b.index_size) if self.index_location == "end" else RangeRequest(0, b.index_size)

    def _parse_index(self, b: _Bound, raw, total: int) -> np.ndarray:
        """The index as an (n, 2) uint64 array, checked: every entry is empty (both fields
        ``2**64 - 1``) or lies inside the ``total``-byte object, so no read or allocation is ever
        sized by a corrupt entry. The one home of the index checks: whole reads, partial reads and
        partial writes all come through here."""
        if len(raw) != b.index_size:
            raise CorruptChunkError(f"shard index: expected {b.index_size} bytes, got {len(raw)}")
        index = np.asarray(b.index.decode(raw)).reshape(-1, 2)
        offsets, sizes = index[:, 0], index[:, 1]
        ends = offsets + sizes  # wraps around 2**64 when too large: then it is below the offset
        inside = (ends <= np.uint64(total)) & (ends >= offsets)
        if not (inside | ((offsets == _EMPTY) & (sizes == _EMPTY))).all():
            self._index_error(index, total)
        return index

    @staticmethod
    def _index_error(index: np.ndarray, total: int) -> None:
        """Say what is wrong with the first bad entry of a shard index (off the fast path)."""
        for i, (offset, size) in enumerate(index.tolist()):
            empty = (offset == int(_EMPTY), size == int(_EMPTY))
            if empty[0] != empty[1]:
                raise CorruptChunkError(f"shard index: entry {i} has only one of offset and size set")
            if not empty[0] and offset + size > total:
                raise CorruptChunkError(f"shard index: entry {i} (an inner chunk at offset {offset} of {size} "
                                        f"bytes) lies past the end of the {total}-byte shard")
        raise AssertionError("no bad entry found")

    def _split(self, b: _Bound, data) -> tuple[np.ndarray, memoryview]:
        view = memoryview(data)
        if len(view) < b.index_size:
            raise CorruptChunkError(f"shard of {len(view)} bytes is shorter than its {b.index_size}-byte index")
        raw = view[len(view) - b.index_size:] if self.index_location == "end" else view[:b.index_size]
        return self._parse_index(b, raw, len(view)), view

    # --- whole shards -----------------------------------------------------------------------------
    def _inner_slices(self, b: _Bound):
        for coords in np.ndindex(*b.chunks_per_shard):
            yield tuple(slice(c * s, (c + 1) * s) for c, s in zip(coords, self.chunk_shape))

    def encode(self, shard: np.ndarray, spec: ChunkSpec) -> bytes:
        b = self._bind(spec)
        parts: list[bytes | None] = [None] * math.prod(b.chunks_per_shard)
        for i, sl in enumerate(self._inner_slices(b)):
            inner = shard[sl]
            if not is_fill(inner, spec.fill_value):
                parts[i] = bytes(b.inner.encode(inner))  # copied: the chain may reuse its buffer
        return self._assemble(b, parts)

    def _assemble(self, b: _Bound, parts: list) -> bytes:
        """A shard from encoded inner chunks given in C order (None for an omitted chunk); the
        body holds them in Morton order, the index in C order."""
        index = np.full((len(parts), 2), _EMPTY, dtype=np.uint64)
        offset = b.index_size if self.index_location == "start" else 0
        body = []
        for i in _morton_order(b.chunks_per_shard):
            part = parts[i]
            if part is not None:
                index[i] = (offset, len(part))
                offset += len(part)
                body.append(part)
        raw = bytes(b.index.encode(index.reshape(b.chunks_per_shard + (2,))))
        return b"".join([raw, *body] if self.index_location == "start" else [*body, raw])  # one copy of the shard

    def decode(self, data, spec: ChunkSpec) -> np.ndarray:
        out = np.empty(spec.shape, dtype=spec.dtype)
        self.decode_region(data, tuple(slice(0, n) for n in spec.shape), out, spec)
        return out

    # --- part of a shard -----------------------------------------------------------------------------
    def index_request(self, spec: ChunkSpec) -> ByteRequest:
        """The byte range of a shard of ``spec`` that holds its index (what a partial read
        reads first, with :meth:`Store.snapshot_read <zarrsync.storage.base.Store.snapshot_read>`)."""
        return self._index_request(self._bind(spec))

    def read_region(self, snapshot: Snapshot, raw_index, selection: tuple, dest: np.ndarray, spec: ChunkSpec,
                    max_workers: int = 1, indexer: type = BasicIndexer, io_workers: int = 1) -> None:
        """Decode the shard-local ``selection`` into ``dest``, reading only what it needs from
        ``snapshot`` (a :class:`~zarrsync.storage.base.Snapshot` of the shard object) whose
        :meth:`index_request` bytes are ``raw_index``: the inner chunks the selection touches,
        each once, near ones coalesced into one range, up to ``io_workers`` ranges at once (more
        than one only for stores whose reads wait on a network). Every read comes from the one
        snapshot, so the index and the inner chunks belong to the same version of the shard
        however it is being rewritten; a snapshot whose version moves raises
        ``VersionChangedError`` and the caller starts over.

        ``indexer`` is the selection's kind (an indexer class of :mod:`zarrsync.indexing`):
        slices for a basic selection, slices and int arrays for an orthogonal one, one int array
        per axis for a coordinate one; ``dest`` has the shape that kind gives the selection.
        """
        b = self._bind(spec)
        ix = indexer(selection, spec.shape, self.chunk_shape)
        wanted = self._plan(b, self._parse_index(b, raw_index, snapshot.size), ix, dest, spec)
        if not wanted:
            return
        wanted.sort(key=lambda w: w[0])
        ranges = _coalesce([(w[0], w[0] + w[1]) for w in wanted])
        blobs = _read_ranges(snapshot, [RangeRequest(lo, hi) for lo, hi in ranges], io_workers)
        pieces, r = [], 0
        for offset, nbytes, chunk_sel, out_sel, complete in wanted:
            while offset >= ranges[r][1]:
                r += 1
            lo = offset - ranges[r][0]
            blob = memoryview(blobs[r])
            if lo + nbytes > len(blob):  # the index was checked against the size: the store fell short
                raise CorruptChunkError(f"shard: inner chunk at {offset}+{nbytes} could not be read in full")
            pieces.append((blob[lo:lo + nbytes], chunk_sel, out_sel, complete))
        self._decode_pieces(b, pieces, dest, max_workers, ix.numpy_index)

    def decode_region(self, data, selection: tuple, dest: np.ndarray, spec: ChunkSpec, max_workers: int = 1) -> None:
        """Decode the shard-local ``selection`` of a fetched shard object straight into ``dest``."""
        b = self._bind(spec)
        index, view = self._split(b, data)
        ix = BasicIndexer(selection, spec.shape, self.chunk_shape)
        wanted = self._plan(b, index, ix, dest, spec)
        self._decode_pieces(b, [(view[o:o + n], cs, os, c) for o, n, cs, os, c in wanted], dest, max_workers,
                            ix.numpy_index)

    def _plan(self, b: _Bound, index: np.ndarray, ix, dest: np.ndarray, spec: ChunkSpec) -> list:
        """Fill the parts of ``dest`` whose inner chunks are not stored; list the stored ones the
        indexer ``ix`` touches as ``(offset, nbytes, chunk_sel, out_sel, complete)``."""
        wanted = []
        np_index = ix.numpy_index
        for coords, chunk_sel, out_sel, complete in ix.chunks():
            offset, nbytes = index[np.ravel_multi_index(coords, b.chunks_per_shard)]
            if offset == _EMPTY:
                dest[np_index(out_sel)] = spec.fill_value
            else:
                wanted.append((int(offset), int(nbytes), chunk_sel, out_sel, complete))
        return wanted

    @staticmethod
    def _decode_pieces(b: _Bound, pieces: list, dest: np.ndarray, max_workers: int, np_index) -> None:
        inner = b.inner
        shape = inner.spec.shape

        def one(piece):
            data, chunk_sel, out_sel, complete = piece
            if complete and not inner.decodes_into and only_slices(out_sel):
                place = dest[out_sel]
                if place.shape == shape:  # the codecs write into dest (strings: no intermediate chunk)
                    inner.decode_to(data, place)
                    return
            dest[np_index(out_sel)] = inner.decode_reusing(data)[np_index(chunk_sel)]

        # the caller passes max_workers > 1 only for a call that touches a single shard; inside a
        # pool worker run_tasks runs inline, so this never waits on the pool it runs in
        run_tasks(one, pieces, max_workers)

    def update(self, old, selection: tuple, value: np.ndarray, spec: ChunkSpec, indexer: type = BasicIndexer,
               fields=None) -> bytes | None:
        """The shard ``old`` (bytes, or None if missing) with the shard-local ``selection`` (of the
        kind of the ``indexer`` class, as for :meth:`read_region`) set to ``value`` (shaped as the
        selection, or 0-d); with ``fields``, only those fields of a structured array. Only the
        inner chunks the selection touches are decoded and re-encoded; the others are copied as
        bytes. None when no inner chunk is left."""
        b = self._bind(spec)
        n = math.prod(b.chunks_per_shard)
        if old is None:
            index, view = np.full((n, 2), _EMPTY, dtype=np.uint64), memoryview(b"")
        else:
            index, view = self._split(b, old)
        parts: list = [None if o == _EMPTY else view[int(o):int(o + s)] for o, s in index]
        ix = indexer(selection, spec.shape, self.chunk_shape)
        np_index = ix.numpy_index
        scalar = value.ndim == 0
        for coords, chunk_sel, out_sel, complete in ix.chunks():
            i = int(np.ravel_multi_index(coords, b.chunks_per_shard))
            if complete and fields is None:
                inner = np.empty(self.chunk_shape, dtype=spec.dtype)
            elif parts[i] is None:
                inner = full_of_fill(self.chunk_shape, spec.fill_value, spec.dtype)
            else:
                inner = np.array(b.inner.decode(parts[i]), copy=True)
            assign(inner, np_index(chunk_sel), value if scalar else value[np_index(out_sel)], fields)
            parts[i] = None if is_fill(inner, spec.fill_value) else bytes(b.inner.encode(inner))
        if all(p is None for p in parts):
            return None
        return self._assemble(b, [None if p is None else bytes(p) for p in parts])


@functools.lru_cache(maxsize=64)
def _morton_order(shape: tuple[int, ...]) -> tuple[int, ...]:
    """C-order flat indices of a grid, sorted by Morton code (bit j of dimension d at position
    j * ndim + d)."""
    ndim = len(shape)
    bits = max((s - 1).bit_length() for s in shape) if shape else 0

    def code(coords):
        z = 0
        for j in range(bits):
            for d, c in enumerate(coords):
                z |= ((c >> j) & 1) << (j * ndim + d)
        return z

    coords = list(np.ndindex(*shape))
    return tuple(int(np.ravel_multi_index(c, shape)) for c in sorted(coords, key=code))


def _read_ranges(snapshot: Snapshot, requests: list, io_workers: int) -> Sequence[BytesLike]:
    """``snapshot.read(requests)``, as up to ``io_workers`` concurrent reads of one range each."""
    if io_workers <= 1 or len(requests) == 1:
        return snapshot.read(requests)
    blobs: list[BytesLike] = [b""] * len(requests)

    def one(i):
        blobs[i] = snapshot.read([requests[i]])[0]

    run_tasks(one, range(len(requests)), io_workers)
    return blobs


def _coalesce(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge sorted [lo, hi) spans that touch or lie within ``_COALESCE_GAP`` of each other."""
    merged = [list(spans[0])]
    for lo, hi in spans[1:]:
        if lo - merged[-1][1] <= _COALESCE_GAP:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]
