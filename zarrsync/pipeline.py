"""The fused per-chunk read and write tasks of an array.

The codec chain itself is :class:`zarrsync.codecs.chain.CodecPipeline` (re-exported here).

:func:`read_chunks` and :func:`write_chunks` turn an indexer's work items into pool tasks via
:func:`zarrsync.executor.run_tasks`. One task does a chunk's whole life: fetch, decode, place;
or take the input slice, merge with the old chunk when the write is partial, encode, store.
Small chunks are read a group per task, decoded with one codec call per group.

This module is also the one home of four rules: the per-chunk write lock (:func:`chunk_lock`),
how many threads a call uses (:func:`chunk_workers`), how part of a shard is read as of one
version (:func:`read_shard_region`) and how an error met while reading or writing a chunk names
the chunk and the array (:func:`name_chunk_error`). Empty-chunk elision's test, :func:`is_fill`,
lives with the codec chain (the sharding codec uses it too).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from types import EllipsisType
from typing import Any, Literal, Protocol, cast

import numpy as np

from .codecs.base import ChunkSpec
from .codecs.chain import CodecPipeline, full_of_fill, is_fill, scratch
from .errors import CorruptChunkError, StoreError, UnguardedWriteWarning, VersionChangedError, ZarrsyncError
from .executor import run_tasks
from .indexing import Batches, ProductItems, assign, only_slices
from .config import Settings
from .storage.base import ByteRequest, BytesLike, Snapshot, Store

__all__ = ["CodecPipeline", "read_chunks", "write_chunks", "is_fill", "chunk_lock", "ChunkTarget",
           "read_shard_region", "name_chunk_error", "update_conditionally", "chunk_workers", "CpuGate"]


_LARGE_CHUNK = 256 << 10
_GROUP = 16  # chunks per grouped read task (measured best for 8 KiB chunks on 2 cores)
_LAZY_ITEMS = 1 << 16  # selections over more chunks build their work items lazily
_GROUP_MAX_CHUNK = 64 << 10


# --- empty chunks and fills --------------------------------------------------------------------

def fill_chunk(spec: ChunkSpec, order: Literal["C", "F"] = "C") -> np.ndarray:
    """A new writable chunk holding the fill value everywhere."""
    return full_of_fill(spec.shape, spec.fill_value, spec.dtype, order)


# --- how many threads a call uses -------------------------------------------------------------------

_GIL = getattr(sys, "_is_gil_enabled", lambda: True)()
_KIB = 1024


def chunk_workers(settings: Settings, target: "ChunkTarget", writing: bool) -> int:
    """How many threads a chunk read or write should use (the one home of this rule).

    Threads pay only when each chunk's work away from the GIL and the kernel's locks outweighs
    the hand-offs it causes. Measured on 2 cores (docs/benchmarks.md): with the GIL, reading
    8 KiB zstd chunks one at a time on 2 threads is 0.85x the speed of 1 thread, 32 KiB 1.5x;
    read in groups with one decode call per group (:func:`read_chunks`), 8 KiB chunks gain 1.7x;
    uncompressed reads break even near 128 KiB. Writes of chunks from 128 KiB gain 1.2-2x. Small
    chunk writes gain where the store's writes are kernel work (``kernel_writes``: files): each
    thread creates the files of its own stretch of chunks (:func:`~zarrsync.executor.run_tasks`),
    in other directories than the other threads' (8 KiB and 32 KiB chunks, raw or zstd: 1.4-2.9x
    on 2 threads; taking turns along one cursor, threads contended in the kernel on file creation
    and renames in one directory: 0.7-0.8x). In memory they only queue for the GIL (0.5-0.6x).
    Free-threaded Python gets every worker for reads.

    Stores whose calls wait on a network (``latency_bound``) get ``io_concurrency`` threads, as
    many as ``io_bytes_in_flight`` holds chunks of this size, never fewer than ``max_workers``:
    a thread waiting on a round trip costs no CPU, and decoding is held to ``max_workers``
    threads at once by :class:`CpuGate`.
    """
    max_workers = settings.max_workers
    nbytes = target.spec.nbytes
    if target.store.latency_bound:
        return max(max_workers, min(settings.io_concurrency, settings.io_bytes_in_flight // max(nbytes, 1)))
    if max_workers <= 1:
        return 1
    if writing:
        return max_workers if nbytes >= 128 * _KIB or target.store.kernel_writes else 1
    compressed = bool(target.pipeline.bytes_bytes)
    if not _GIL or target.pipeline.decodes_many:  # small chunks are then read in groups
        return max_workers
    return max_workers if nbytes >= (32 * _KIB if compressed else 128 * _KIB) else 1


class CpuGate:
    """Holds the CPU work of a call's tasks (decoding, encoding, placing) to ``max_workers``
    threads at once while more threads wait on a network: ``with gate: ...`` around that work.
    A gate of the call's own thread count never blocks, so local stores skip the semaphore.

    :meth:`buffer` holds the gate with a decode buffer lent from the gate's pool: at most one
    buffer per thread that can hold the gate, reused from chunk to chunk of the call (a fresh
    large buffer costs a page fault per 4 KiB; per-thread scratch buffers would hold one per
    request in flight)."""

    __slots__ = ("_semaphore", "_lock", "_spare")

    def __init__(self, max_workers: int, threads: int):
        self._semaphore = threading.Semaphore(max_workers) if threads > max_workers else None
        self._lock = threading.Lock()
        self._spare: list[np.ndarray] = []

    def __enter__(self) -> None:
        if self._semaphore is not None:
            self._semaphore.acquire()

    def __exit__(self, *exc) -> None:
        if self._semaphore is not None:
            self._semaphore.release()

    @contextlib.contextmanager
    def buffer(self, nbytes: int) -> Iterator[np.ndarray]:
        """``with gate.buffer(n) as buf:``: hold the gate with a buffer of ``n`` bytes."""
        with self:
            with self._lock:
                buf = self._spare.pop() if self._spare else None
            if buf is None or buf.nbytes != nbytes:
                buf = np.empty(nbytes, dtype=np.uint8)
            try:
                yield buf
            finally:
                with self._lock:
                    self._spare.append(buf)


# --- per-key write locks -------------------------------------------------------------------------

_N_STRIPES = 4096
_STRIPES = tuple(threading.Lock() for _ in range(_N_STRIPES))


def _new_stripes_after_fork() -> None:
    """A child forked while other threads wrote inherits their stripes held, by threads that do
    not exist in it: it gets fresh ones (nothing else in this module holds a lock)."""
    global _STRIPES
    _STRIPES = tuple(threading.Lock() for _ in range(_N_STRIPES))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_stripes_after_fork)


def chunk_lock(location: tuple) -> threading.Lock:
    """The lock that serialises read-modify-write of one chunk (striped: bounded memory).

    ``location`` is :meth:`Store.location` of the chunk key: where the value really lives, equal
    whatever store object, root or array path reached it, so an array opened through its own
    directory and through its parent group takes the same lock for the same chunk. A task holds
    one stripe at a time and takes no other lock inside it, so striping cannot deadlock.
    """
    return _STRIPES[hash(location) % _N_STRIPES]


# --- reading part of a shard as of one version ----------------------------------------------------

class PartialCodec(Protocol):
    """What an array -> bytes codec that declares ``supports_partial`` provides (as
    :class:`~zarrsync.codecs.sharding.ShardingCodec` does): the calls that read and rewrite part
    of an encoded chunk."""

    def index_request(self, spec: ChunkSpec) -> ByteRequest: ...

    def read_region(self, snapshot: Snapshot, raw_index: BytesLike, selection: tuple, dest: np.ndarray,
                    spec: ChunkSpec, max_workers: int = ..., indexer: type = ..., io_workers: int = ...) -> None: ...

    def decode_region(self, data: BytesLike, selection: tuple, dest: np.ndarray, spec: ChunkSpec,
                      max_workers: int = ...) -> None: ...

    def update(self, old: BytesLike | None, selection: tuple, value: np.ndarray, spec: ChunkSpec,
               indexer: type = ..., fields: Any = ...) -> bytes | None: ...


_SNAPSHOT_TRIES = 16


def read_shard_region(store: Store, key: str, codec: PartialCodec, selection: tuple, dest: np.ndarray, spec: ChunkSpec,
                      max_workers: int, indexer: type, io_workers: int = 1) -> bool:
    """Decode part of the shard at ``key`` into ``dest`` from one snapshot of it; False if the
    shard is missing (``dest`` then holds nothing useful).

    The index and the inner chunks come from one snapshot (:meth:`Store.snapshot_read` opens it
    with the index: one round trip on an object store), so a concurrent writer can never hand
    this reader the index of one version and the bytes of another. A snapshot whose version
    moves while it is read raises ``VersionChangedError``: the read starts over from a new
    snapshot (it rewrites every element of ``dest`` it touches), a bounded number of times.
    """
    changed = None
    index_request = [codec.index_request(spec)]
    for _ in range(_SNAPSHOT_TRIES):
        try:
            opened = store.snapshot_read(key, index_request)
            if opened is None:
                return False
            snapshot, (raw_index,) = opened
            with snapshot:
                codec.read_region(snapshot, raw_index, selection, dest, spec, max_workers, indexer, io_workers)
            return True
        except VersionChangedError as e:
            changed = e
    try:
        raise StoreError(f"the shard changed {_SNAPSHOT_TRIES} times while it was being read; "
                         f"giving up (last: {changed})") from changed
    finally:
        del changed  # no cycle through this frame (see name_chunk_error)


# --- errors name the chunk and the array ----------------------------------------------------------

def name_chunk_error(target: "ChunkTarget", key: str, error: BaseException) -> None:
    """Raise ``error`` again naming the chunk ``key`` and the array, if it does not already (the
    one home of this rule); return to let the caller re-raise it unchanged.

    A store's ``OSError`` becomes a :class:`StoreError` with the same ``errno``, the original
    chained; a :class:`CorruptChunkError` or :class:`StoreError` gains the array. Both carry
    ``key`` and ``array`` attributes. Other errors (a refused pickle, a bad key ...) pass as they
    are. Called only from ``except`` blocks around a whole task, so a chunk that succeeds pays
    nothing.
    """
    if getattr(error, "array", None) is not None:
        return  # named already (by a task further in)
    cls: type[CorruptChunkError | StoreError]
    if isinstance(error, CorruptChunkError):
        key = error.key or key
        cls = CorruptChunkError
    elif isinstance(error, OSError) and (isinstance(error, StoreError) or not isinstance(error, ZarrsyncError)):
        cls = type(error) if isinstance(error, StoreError) else StoreError
    else:
        return
    head, detail = f"chunk {key!r}", str(error)
    if detail.startswith(head + ": "):
        detail = detail[len(head) + 2:]
    # Any: neither class declares the array attribute set below (nor StoreError its key)
    named: Any = cls(f"{target.where()}: {detail}" if head in detail else f"{target.where()}: {head}: {detail}")
    if isinstance(error, OSError):
        named.errno = error.errno
    named.key = key
    named.array = target.path
    try:
        raise named from error
    finally:  # a raised exception held by a local of the frame it was raised in is a reference
        del named, error  # cycle: on 3.13t, where collections are rarer, it kept decoders' memory


# --- the fused tasks ------------------------------------------------------------------------------

class ChunkTarget:
    """Everything a chunk task needs about one array, captured once per call."""

    __slots__ = ("store", "prefix", "pipeline", "spec", "key_encoding", "partial", "path")

    def __init__(self, store: Store, prefix: str, pipeline: CodecPipeline, key_encoding, path: str = ""):
        self.store = store
        self.prefix = prefix  # the array path + "/" + the key encoding's prefix
        self.pipeline = pipeline
        self.spec = pipeline.spec
        self.key_encoding = key_encoding
        self.path = path  # the array's path in the store, for error messages
        # a chain that is just a partial-capable array -> bytes codec (sharding) reads and
        # rewrites parts of chunks; anything around it would need the whole chunk
        self.partial = (pipeline.array_bytes.supports_partial and not pipeline.array_array
                        and not pipeline.bytes_bytes)

    def work_items(self, indexer) -> Sequence[tuple[str, tuple, tuple | EllipsisType, bool]]:
        """``(key, chunk_sel, out_sel, complete)`` for every chunk the indexer touches.

        For per-axis (basic, orthogonal) selections the key fragments are formatted once per axis
        entry, not once per chunk. Past ``_LAZY_ITEMS`` chunks each item is built when a task takes
        it (:class:`~zarrsync.indexing.ProductItems`): bounded memory whatever the chunk count.
        """
        enc, prefix = self.key_encoding, self.prefix
        if not indexer.product:
            return [(prefix + "".join(enc.fragments(k, d == 0) for d, k in enumerate(coords)), cs, os, complete)
                    for coords, cs, os, complete in indexer.chunks()]
        if not indexer.dims:  # a 0-d array: one chunk, the prefix is its whole key; `...` keeps views 0-d
            return [(prefix, (), Ellipsis, True)]
        if indexer.nchunks == 1:  # one chunk (a small read or write): no product to form
            entries = [d[0] for d in indexer.dims]
            key = prefix + "".join([enc.fragments(e[0], d == 0) for d, e in enumerate(entries)])
            chunk_sel, out_sel, complete = tuple([e[1] for e in entries]), tuple([e[2] for e in entries]), True
            for e in entries:
                complete = complete and e[3]
            return [(key, chunk_sel, out_sel, complete)]
        if indexer.nchunks > _LAZY_ITEMS:
            def build(combo):
                return (prefix + "".join(enc.fragments(e[0], d == 0) for d, e in enumerate(combo)),
                        tuple(e[1] for e in combo), tuple(e[2] for e in combo), all(e[3] for e in combo))
            return ProductItems(indexer.dims, build)
        dims = [[(enc.fragments(e[0], d == 0), *e[1:]) for e in entries] for d, entries in enumerate(indexer.dims)]
        items: list[tuple[str, tuple, tuple | EllipsisType, bool]] = []
        for combo in itertools.product(*dims):
            frags, chunk_sel, out_sel, completes = zip(*combo)
            items.append((prefix + "".join(frags), chunk_sel, out_sel, all(completes)))
        return items

    def where(self) -> str:
        """The array as error messages name it (computed only when an error is raised)."""
        return f"array {self.path or '/'!r} in {self.store!r}"


def _is_view(out_sel) -> bool:
    """True when ``out[out_sel]`` is a view (slices only), so a chunk can be placed through it."""
    return out_sel is Ellipsis or only_slices(out_sel)


def read_chunks(target: ChunkTarget, indexer, out: np.ndarray, settings: Settings) -> None:
    """Decode every chunk the ``indexer`` touches into ``out`` (its work-shaped array).

    Three kinds of task. Shards (a chain that is just ``sharding_indexed``): a whole shard is
    fetched once and its inner chunks decoded straight into ``out``; part of a shard reads the
    index and only the inner chunks it needs. Chunks up to 64 KiB whose codec decodes many at once
    are read in groups of 16 per task (one decode call per group; not for ``latency_bound``
    stores, whose waits should overlap chunk by chunk). Otherwise one chunk per task, with these
    fast paths: a whole chunk whose place in ``out`` is C-contiguous is decoded
    straight into ``out``; a large chunk (from 256 KiB), when the codec chain allows, is decoded
    into a per-thread scratch buffer and the selected part copied out (a fresh large buffer
    would cost a page fault per 4 KiB); otherwise the chunk is decoded (small allocations are
    cheap) and the selected part copied out.

    Each chunk is fetched and decoded once, however many selected elements fall in it; an
    element's place in ``out`` is a slice where it can be (then chunks decode through a view),
    else an int array (unsorted orthogonal or coordinate selections).
    """
    items = target.work_items(indexer)
    if not items:
        return
    store, pipeline, spec = target.store, target.pipeline, target.spec
    ix = indexer.numpy_index
    fill = spec.fill_value
    direct = pipeline.decodes_into
    shape, dtype, nbytes = spec.shape, spec.dtype, spec.nbytes
    large = nbytes >= _LARGE_CHUNK
    workers = chunk_workers(settings, target, writing=False)
    remote = store.latency_bound  # fetch and decode apart: many requests wait, few threads decode
    gate = CpuGate(settings.max_workers, workers)

    if target.partial:
        codec = cast(PartialCodec, pipeline.array_bytes)  # supports_partial declares its methods
        one_shard = len(items) == 1  # its inner chunks fan out instead
        inner_workers = min(workers, settings.max_workers) if one_shard else 1
        io_workers = workers if one_shard and remote else 1
        kind = indexer.local

        def shard_task(item):
            key, chunk_sel, out_sel, complete = item
            try:
                view = _is_view(out_sel)
                dest = out[out_sel] if view else np.empty(indexer.local_shape(chunk_sel), dtype=dtype)
                if complete and dest.shape == shape:  # one get: one version of the whole shard
                    data = store.get_buffer(key)
                    if data is not None:
                        with gate:
                            codec.decode_region(data, chunk_sel, dest, spec, inner_workers)
                    found = data is not None
                else:
                    found = read_shard_region(store, key, codec, chunk_sel, dest, spec, inner_workers, kind,
                                              io_workers)
                if not found:
                    dest[...] = fill
                if not view:
                    out[ix(out_sel)] = dest
            except Exception as e:
                name_chunk_error(target, key, e)
                raise

        run_tasks(shard_task, items, workers)
        return

    if pipeline.decodes_many and nbytes <= _GROUP_MAX_CHUNK and len(items) > 1 and not remote:
        # small chunks: a task reads a group of chunks, decodes them with one codec call (one
        # GIL release for the group instead of one per chunk), then places them
        def group_task(group):
            key = group[0][0]  # the chunk at hand, for an error's message
            try:
                datas = []
                for item in group:
                    key = item[0]
                    datas.append(store.get(key))
                present = [i for i, d in enumerate(datas) if d is not None]
                decoded = dict(zip(present, pipeline.decode_many([datas[i] for i in present],
                                                                 [group[i][0] for i in present]))) if present else {}
                for i, (key, chunk_sel, out_sel, complete) in enumerate(group):
                    chunk = decoded.get(i)
                    if chunk is None:
                        out[ix(out_sel)] = fill
                    elif complete and _is_view(out_sel):
                        dest = out[out_sel]
                        dest[...] = chunk if dest.shape == shape else chunk[chunk_sel]
                    else:
                        out[ix(out_sel)] = chunk[ix(chunk_sel)]
            except Exception as e:
                name_chunk_error(target, key, e)
                raise

        run_tasks(group_task, Batches(items, _GROUP), workers)
        return

    def task(item):
        key, chunk_sel, out_sel, complete = item
        try:
            view = _is_view(out_sel)  # else scattered output positions: one fancy assignment at the end
            whole = False

            def place(src):
                if view:
                    dest[...] = src
                else:
                    out[ix(out_sel)] = src

            if view:
                dest = out[out_sel]
                whole = complete and dest.shape == shape
                if direct and whole and dest.flags.c_contiguous:  # decode straight into the output
                    buf = memoryview(dest.reshape(-1).view(np.uint8))
                    if remote:  # the fetch waits on the network, outside the gate
                        data = store.get_buffer(key)
                        found = data is not None
                        if found:
                            with gate:
                                pipeline.decode_into(data, buf, key)
                    else:
                        found = pipeline.read_into(store, key, buf)
                    if not found:
                        dest[...] = fill
                    return
            if direct and large and remote:  # fetch outside the gate; decode into its buffer, copy out
                data = store.get_buffer(key)
                if data is not None:
                    with gate.buffer(nbytes) as lent:  # the buffer is the gate's: copy out inside it
                        pipeline.decode_into(data, memoryview(lent), key)
                        place(lent.view(dtype).reshape(shape)[ix(chunk_sel)])
                    return
                src = fill
            elif direct and large:  # decode into a reused buffer, copy the selected part out
                scratch_buf = scratch(nbytes, "decode")
                found = pipeline.read_into(store, key, memoryview(scratch_buf))
                src = scratch_buf.view(dtype).reshape(shape)[ix(chunk_sel)] if found else fill
            else:
                data = store.get_buffer(key)
                if data is None:
                    src = fill
                elif whole:  # the codecs write into the output (strings: no intermediate chunk)
                    with gate:
                        pipeline.decode_to(data, dest, key)
                    return
                else:
                    with gate:
                        chunk = pipeline.decode(data, key)
                    src = chunk[ix(chunk_sel)]
            place(src)
        except Exception as e:
            name_chunk_error(target, key, e)
            raise

    run_tasks(task, items, workers)


def write_chunks(target: ChunkTarget, indexer, value: np.ndarray, settings: Settings, fields=None) -> None:
    """Write ``value`` (work-shaped, or 0-d for a scalar) into every chunk the ``indexer`` touches.

    A chunk written in part is read, changed and written back under its lock (:func:`chunk_lock`:
    writers in this process never lose each other's updates). On a store with
    ``supports_conditional_writes`` the write back is conditional on the version read
    (:func:`update_conditionally`), so writers in other processes and machines do not either;
    elsewhere a ``latency_bound`` store (one other machines may be writing to) warns with
    :class:`~zarrsync.errors.UnguardedWriteWarning`.

    With ``fields`` (a field name or a list of them, for structured arrays) only those fields
    change: every chunk is then read, merged and rewritten.
    """
    items = target.work_items(indexer)
    if not items:
        return
    write_empty_chunks = settings.write_empty_chunks
    store, pipeline, spec = target.store, target.pipeline, target.spec
    conditional = store.supports_conditional_writes
    unguarded = store.latency_bound and not conditional
    ix = indexer.numpy_index
    kind = indexer.local
    location = store.location
    scalar = value.ndim == 0
    scalar_is_fill = scalar and fields is None and is_fill(value, spec.fill_value)

    workers = chunk_workers(settings, target, writing=True)
    gate = CpuGate(settings.max_workers, workers)  # many puts in flight, max_workers encoding

    def store_chunk(key: str, chunk: np.ndarray | None) -> None:
        # chunk None means "all fill"
        with gate:
            drop = not write_empty_chunks and (chunk is None or is_fill(chunk, spec.fill_value))
        if drop:
            if store.supports_deletes:
                store.delete(key)
                return
            if chunk is None and not store.exists(key):
                return
        with gate:
            encoded = pipeline.encode(fill_chunk(spec) if chunk is None else chunk)
        store.set(key, encoded)  # the encoded bytes may be this thread's buffer: stored before the next encode

    def whole_chunk(chunk_sel: tuple, out_sel) -> np.ndarray | None:
        """The new content of a chunk this write covers whole (None: all fill, from a scalar)."""
        if scalar:
            if scalar_is_fill:
                return None
            if all(sel.stop - sel.start == n for sel, n in zip(chunk_sel, spec.shape)):
                return np.full(spec.shape, value, dtype=spec.dtype)
            chunk = fill_chunk(spec)  # an edge chunk: the value goes in bounds only, the rest holds the fill value
            chunk[chunk_sel] = value
            return chunk
        src = value[ix(out_sel)]
        if src.shape == spec.shape:
            return src
        chunk = fill_chunk(spec)  # an edge chunk: the out-of-bounds part holds the fill value
        chunk[chunk_sel] = src
        return chunk

    def task(item):
        key, chunk_sel, out_sel, complete = item
        try:
            if complete and fields is None:
                store_chunk(key, whole_chunk(chunk_sel, out_sel))
                return
            part = value if scalar else value[ix(out_sel)]

            def merged(old):
                """The chunk's new bytes with this write applied to ``old`` (the stored bytes, None
                if absent); None if it is all fill and is not to be stored."""
                with gate:
                    if target.partial:  # re-encode only the inner chunks touched; copy the rest as bytes
                        codec = cast(PartialCodec, pipeline.array_bytes)  # supports_partial declares it
                        return codec.update(old, chunk_sel, part, spec, kind, fields)
                    chunk = fill_chunk(spec) if old is None else np.array(pipeline.decode(old, key), copy=True)
                    assign(chunk, ix(chunk_sel), part, fields)
                    if not write_empty_chunks and is_fill(chunk, spec.fill_value):
                        return None
                    return pipeline.encode(chunk)

            with chunk_lock(location(key)):
                if conditional:
                    update_conditionally(store, key, merged, lambda: pipeline.encode(fill_chunk(spec)),
                                         write_empty_chunks)
                    return
                if unguarded:
                    _warn_unguarded(store)
                new = merged(store.get(key))  # one get: one version of the whole chunk or shard
                if new is None:
                    store_chunk(key, None)
                else:
                    store.set(key, new)
        except Exception as e:
            name_chunk_error(target, key, e)
            raise

    run_tasks(task, items, workers)


# --- read-modify-write across processes -----------------------------------------------------------

_UPDATE_TRIES = 64
_BACKOFF_FIRST, _BACKOFF_MAX = 0.002, 0.25  # seconds


def update_conditionally(store: Store, key: str, merged, fill_bytes, write_empty_chunks: bool) -> None:
    """Read ``key``, apply ``merged`` (old bytes or None -> new bytes, or None for all fill) and
    write the result only if ``key`` still holds the version read (:meth:`Store.set_if_version`);
    otherwise read again and redo it, after a random back-off that doubles up to a quarter second.
    So a writer in another process or machine that changed the chunk in between keeps its update.

    An all-fill result is stored as ``fill_bytes()`` rather than deleted when the key holds a
    value: a delete cannot be made conditional, and a chunk of fill values reads as one that is
    missing. Gives up with :class:`~zarrsync.errors.StoreError` after 64 tries.
    """
    for attempt in range(_UPDATE_TRIES):
        old, version = store.get_versioned(key)
        new = merged(old)
        if new is None:
            if old is None and not write_empty_chunks:
                return  # absent, and all fill: nothing to store
            new = fill_bytes()
        if store.set_if_version(key, new, version):
            return
        time.sleep(random.uniform(0, min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** attempt)))
    raise StoreError(f"chunk {key!r} in {store!r} changed under {_UPDATE_TRIES} conditional writes in a row; "
                     f"giving up (other writers keep replacing it)")


def _warn_unguarded(store: Store) -> None:
    warnings.warn(f"{store!r} has no conditional writes: a chunk written in part here and, at the same time, "
                  f"by another process or machine can lose one of the two updates (writes from this process "
                  f"are serialised; align writers to whole chunks, or use a store with conditional writes)",
                  UnguardedWriteWarning, stacklevel=2)
