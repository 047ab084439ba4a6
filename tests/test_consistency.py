"""Never wrong, never lost (issue 10): what a reader sees while another thread rewrites, what
partial writers through differently opened arrays leave behind, and what an I/O error says.

- Reads during whole-array overwrites return, for every chunk (every inner chunk of a shard),
  the value of one written version: never another chunk's bytes, never a mix. Partial shard reads
  take the index and the inner chunks from one snapshot of the shard; plain v3 and v2 chunks and
  whole shards are one read of one file.
- Partial writes of disjoint elements of shared chunks, through an array opened by its own path
  and the same array reached through its parent group, lose nothing: the chunk lock is keyed on
  where the chunk really lives.
- A store error met while reading or writing a chunk names the chunk key and the array.

``sys.setswitchinterval`` is lowered to force interleavings. A racing test reads until it has both
made its reads and seen the writer publish enough versions, so every run exercises real races
whatever the machine's speed (bounded either way).
"""

from __future__ import annotations

import errno
import threading

import numpy as np
import pytest

import zarrsync
from zarrsync import config
from zarrsync.codecs.bytes_ import BytesCodec
from zarrsync.codecs.sharding import ShardingCodec
from zarrsync.errors import CorruptChunkError, StoreError, VersionChangedError
from zarrsync.storage import LocalStore, MemoryStore
from zarrsync.testing import fast_switching

N, CHUNK, VERSIONS = 64, 8, 4
READS = 5000
MIN_WRITES = 200  # versions the writer must have published before the reader may stop
MAX_READS = 60_000  # the bound if the writer is starved


def versions() -> list[np.ndarray]:
    """Version ``k`` holds ``k * 100 + j + 1`` in chunk ``j``, except the chunks with
    ``j % VERSIONS == k``, which hold the fill value 0 (not stored): so the layout of a shard, and
    which chunk files exist, differ from one version to the next."""
    out = []
    for k in range(VERSIONS):
        v = np.zeros(N, dtype="i4")
        for j in range(N // CHUNK):
            if j % VERSIONS != k:
                v[j * CHUNK:(j + 1) * CHUNK] = k * 100 + j + 1
        out.append(v)
    return out


def make_array(kind: str, store):
    if kind == "v2":
        return zarrsync.create_array(store, shape=(N,), dtype="i4", chunks=(CHUNK,), fill_value=0, zarr_format=2,
                                     compressors=None)
    if kind == "v3":
        return zarrsync.create_array(store, shape=(N,), dtype="i4", chunks=(CHUNK,), fill_value=0)
    if kind == "shard-end":
        return zarrsync.create_array(store, shape=(N,), dtype="i4", chunks=(CHUNK,), shards=(N,), fill_value=0)
    assert kind == "shard-start"
    return zarrsync.create_array(store, shape=(N,), dtype="i4", chunks=(N,), fill_value=0, compressors=None,
                                 serializer=ShardingCodec((CHUNK,), [BytesCodec("little")], index_location="start"))


def race_reads(a, selection: slice, reads_wanted: int = READS) -> dict:
    """Overwrite ``a`` with the versions in a loop on one thread while this thread reads
    ``a[selection]``; check every chunk read against the versions. Returns the counts."""
    vs = versions()
    lo, hi = selection.start, selection.stop
    # each chunk's part of the selection, and what that part may hold
    spans = [(max(lo, j * CHUNK) - lo, min(hi, (j + 1) * CHUNK) - lo)
             for j in range(lo // CHUNK, (hi - 1) // CHUNK + 1)]
    allowed = [[v[lo + p:lo + q] for v in vs] for p, q in spans]
    written = [0]
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer():
        try:
            i = 0
            while not stop.is_set():
                a[...] = vs[i % VERSIONS]
                i += 1
                written[0] = i
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    a[...] = vs[0]
    t = threading.Thread(target=writer)
    reads = overlapped = torn = 0
    with fast_switching():
        t.start()
        try:
            while (reads < reads_wanted or written[0] < MIN_WRITES) and reads < MAX_READS and not errors:
                before = written[0]
                got = a[selection]
                overlapped += written[0] != before
                reads += 1
                for (p, q), ok in zip(spans, allowed):
                    if not any(np.array_equal(got[p:q], v) for v in ok):
                        torn += 1
        finally:
            stop.set()
            t.join(30)
    assert not t.is_alive()
    if errors:
        raise errors[0]
    assert torn == 0, f"{torn} torn chunks in {reads} reads ({written[0]} writes)"
    assert written[0] >= MIN_WRITES, "the writer was starved: no race was exercised"
    return {"reads": reads, "writes": written[0], "reads overlapping a write": overlapped}


@pytest.mark.parametrize("kind,selection", [
    ("shard-end", slice(8, 40)),  # part of a shard: index + inner-chunk ranges from one snapshot
    ("shard-start", slice(8, 40)),
    ("shard-end", slice(0, N)),  # the whole shard: one get
    ("v3", slice(8, 40)),  # plain chunks: one get (or get_into) of one file each
    ("v2", slice(4, 44)),
])
def test_reads_during_overwrites_never_see_torn_chunks(tmp_path, kind, selection):
    a = make_array(kind, LocalStore(tmp_path / "a"))
    race_reads(a, selection)


@pytest.mark.parametrize("kind", ["shard-end", "v3"])
def test_reads_during_overwrites_in_memory(kind):
    race_reads(make_array(kind, MemoryStore()), slice(8, 40), reads_wanted=3000)


# --- partial writes through differently opened arrays ------------------------------------------------

WRITERS, ROUNDS = 8, 12


@pytest.mark.parametrize("sharded", [False, True])
def test_partial_writes_through_two_openings_lose_nothing(tmp_path, sharded):
    """8 threads, each owning every 8th column of a 32 x 32 array, write their columns again and
    again in row blocks (each a partial write of the chunks it touches). Half of them write through
    ``open_array(root + "/arr")``, half through ``open_group(root)["arr"]``: the chunk keys differ
    ("c/0/1" and "arr/c/0/1") but the files are the same, and so must the locks be."""
    root = str(tmp_path / "root")
    g = zarrsync.create_group(root)
    extra = {"shards": (16, 32)} if sharded else {}
    g.create_array("arr", shape=(32, 32), dtype="i4", chunks=(8, 32) if not sharded else (8, 8), fill_value=0,
                   **extra)
    arrays = [zarrsync.open_array(root + "/arr"), zarrsync.open_group(root)["arr"]]
    assert arrays[0].store.lock_id() != arrays[1].store.lock_id()  # two roots: the old lock identity differed
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(i):
        a = arrays[i % 2]
        try:
            for rnd in range(ROUNDS):
                barrier.wait()
                for lo in range(0, 32, 4):
                    a[lo:lo + 4, i::WRITERS] = rnd * 1000 + i * 100 + np.arange(lo, lo + 4)[:, None]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    with fast_switching():
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not any(t.is_alive() for t in threads), "writers did not finish (deadlock?)"
    if errors:
        raise errors[0]
    expected = np.empty((32, 32), dtype="i4")
    for i in range(WRITERS):
        expected[:, i::WRITERS] = (ROUNDS - 1) * 1000 + i * 100 + np.arange(32)[:, None]
    got = zarrsync.open_array(root + "/arr")[...]
    lost = int((got != expected).sum())
    assert lost == 0, f"{lost} of {expected.size} elements lost"


# --- errors name the chunk and the array ---------------------------------------------------------------

class EIOStore(MemoryStore):
    """Raises ``OSError(EIO)`` on every read (whole, ranged, snapshot) and write of the keys in ``fail``."""

    def __init__(self):
        super().__init__()
        self.fail: set[str] = set()

    def _check(self, key):
        if key in self.fail:
            raise OSError(errno.EIO, "Input/output error")

    def _get(self, key, byte_range):
        self._check(key)
        return super()._get(key, byte_range)

    def _set(self, key, value):
        self._check(key)
        super()._set(key, value)

    def snapshot(self, key):
        self._check(key)
        return super().snapshot(key)


@pytest.mark.parametrize("layout", ["plain", "sharded", "v2", "grouped"])
def test_store_errors_name_the_chunk_and_the_array(layout):
    store = EIOStore()
    kw = {"plain": dict(chunks=(4, 4)), "sharded": dict(chunks=(2, 2), shards=(4, 4)),
          "v2": dict(chunks=(4, 4), zarr_format=2), "grouped": dict(chunks=(2, 2), compressors="auto")}[layout]
    g = zarrsync.create_group(store, path="grp", zarr_format=kw.get("zarr_format", 3))
    a = g.create_array("arr", shape=(16, 16), dtype="i4", fill_value=0, **kw)
    x = np.arange(256, dtype="i4").reshape(16, 16)
    a[...] = x
    key = {"plain": "grp/arr/c/1/2", "sharded": "grp/arr/c/1/2", "v2": "grp/arr/1.2",
           "grouped": "grp/arr/c/3/4"}[layout]
    assert store.get(key) is not None
    store.fail.add(key)
    where = f"array 'grp/arr' in {store!r}: chunk {key!r}: "
    block = (4, 8) if layout != "grouped" else (6, 8)
    reads = [lambda: a[...], lambda: a[block[0], block[1]], lambda: a[block[0]:block[0] + 2, :]]
    writes = [lambda: a.__setitem__((slice(None), slice(None)), 7),  # whole chunks
              lambda: a.__setitem__((block[0], block[1]), 7)]  # a partial write: read, merge, write
    for op in reads + writes:
        with pytest.raises(StoreError) as info:
            op()
        e = info.value
        assert str(e).startswith(where), str(e)
        assert str(e).count(key) == 1
        assert e.errno == errno.EIO and isinstance(e, OSError)
        assert isinstance(e.__cause__, OSError) and e.__cause__.errno == errno.EIO
        assert e.key == key and e.array == "grp/arr"
    # the failed writes left the failing chunk as it was; the pool is still usable
    store.fail.clear()
    rows, cols = (slice(6, 8), slice(8, 10)) if layout == "grouped" else (slice(4, 8), slice(8, 12))
    np.testing.assert_array_equal(a[rows, cols], x[rows, cols])
    a[...] = x
    np.testing.assert_array_equal(a[...], x)


def test_corrupt_chunk_errors_name_the_array():
    store = MemoryStore()
    a = zarrsync.create_array(store, path="p/q", shape=(8,), dtype="i4", chunks=(4,), fill_value=0,
                              compressors=None)
    a[...] = 1
    store.set("p/q/c/1", b"\x00" * 3)  # wrong size for 4 int32
    for op in (lambda: a[...], lambda: a[5], lambda: a.__setitem__(5, 2)):
        with pytest.raises(CorruptChunkError) as info:
            op()
        msg = str(info.value)
        assert msg.startswith(f"array 'p/q' in {store!r}: chunk 'p/q/c/1': "), msg
        assert msg.count("p/q/c/1") == 1 and info.value.key == "p/q/c/1"


# --- a snapshot whose version moves: the shard read starts over -------------------------------------

class MovingStore(MemoryStore):
    """A store whose snapshots of ``key`` report a version change on their first ``moves`` reads,
    as a remote store with version tokens does when an object is replaced mid-read."""

    def __init__(self, key: str, moves: int):
        super().__init__()
        self.key, self.moves, self.snapshots = key, moves, 0

    def snapshot(self, key):
        snap = super().snapshot(key)
        if key != self.key or snap is None:
            return snap
        self.snapshots += 1
        store = self

        class Moving(type(snap)):
            def read(self, ranges):
                if store.moves > 0:
                    store.moves -= 1
                    raise VersionChangedError(f"{key!r} changed")
                return super().read(ranges)

        snap.__class__ = Moving
        return snap


@pytest.mark.parametrize("moves", [1, 5])
def test_shard_read_starts_over_when_the_version_moves(moves):
    store = MovingStore("c/0", moves)
    a = zarrsync.create_array(store, shape=(16,), dtype="i4", chunks=(4,), shards=(16,), fill_value=0)
    a[...] = np.arange(16)
    np.testing.assert_array_equal(a[2:9], np.arange(2, 9))
    assert store.snapshots == moves + 1 and store.moves == 0


def test_shard_read_gives_up_after_bounded_retries():
    store = MovingStore("p/c/0", 10**6)
    a = zarrsync.create_array(store, path="p", shape=(16,), dtype="i4", chunks=(4,), shards=(16,), fill_value=0)
    a[...] = np.arange(16)
    with pytest.raises(StoreError) as info:
        a[2:9]
    assert str(info.value).startswith(f"array 'p' in {store!r}: chunk 'p/c/0': the shard changed"), str(info.value)
    assert isinstance(info.value.__cause__.__cause__, VersionChangedError)  # named error <- give-up <- last move
    assert store.snapshots < 100  # bounded


def test_a_store_error_that_names_the_key_names_it_once():
    class Refusing(MemoryStore):
        def _set(self, key, value):
            if "/c/" in key:
                raise StoreError(f"chunk {key!r}: quota exceeded")
            super()._set(key, value)

    store = Refusing()
    a = zarrsync.create_array(store, path="a", shape=(4,), dtype="u1", chunks=(4,), fill_value=0)
    with pytest.raises(StoreError) as info:
        a[...] = 1
    assert str(info.value) == f"array 'a' in {store!r}: chunk 'a/c/0': quota exceeded"
    assert info.value.key == "a/c/0"


@pytest.mark.parametrize("layout", ["plain", "sharded"])
def test_faulty_local_store_errors_name_the_chunk_and_the_array(tmp_path, layout):
    """The same through ``zarrsync.testing.FaultyStore`` over a ``LocalStore`` (snapshot reads of
    shards go through the wrapper too); then the pool keeps working."""
    from zarrsync.testing import FaultyStore

    store = FaultyStore(LocalStore(tmp_path / "s"))
    kw = dict(chunks=(4, 4)) if layout == "plain" else dict(chunks=(2, 2), shards=(4, 4))
    a = zarrsync.create_array(store, path="grp/arr", shape=(16, 16), dtype="i4", fill_value=0, **kw)
    x = np.arange(256, dtype="i4").reshape(16, 16)
    a[...] = x
    key = "grp/arr/c/3/1"
    store.fail_keys = {key}
    ops = [lambda: a[...], lambda: a[13, 5], lambda: a[12:14, 4:7], lambda: a.__setitem__((13, 5), 0),
           lambda: a.__setitem__((slice(12, 16), slice(4, 8)), 0)]
    with config.context(max_workers=4):
        for op in ops:
            with pytest.raises(StoreError) as info:
                op()
            assert str(info.value).startswith(f"array 'grp/arr' in {store!r}: chunk {key!r}: [Errno 5]")
            assert info.value.errno == errno.EIO and info.value.key == key
        store.fail_keys = None
        np.testing.assert_array_equal(a[...], x)  # the failed writes left every chunk as it was
