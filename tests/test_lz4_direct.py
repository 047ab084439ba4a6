"""``zarrsync.codecs.lz4_direct``: the ``lz4`` package's own library called through ctypes (a
fresh stream, then ``LZ4_compress_fast_continue``) writes exactly ``lz4.block``'s bytes, and the
Blosc writer gives the same chunks with it as without it."""

import ctypes
import itertools
import threading

import lz4.block
from lz4.block import _block
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from zarrsync.codecs import blosc1, lz4_direct
from zarrsync.codecs.blosc import BloscCodec
from zarrsync.codecs.base import ChunkSpec


def test_the_lz4_package_exports_its_compressor_here():
    # a Linux wheel of lz4 exports its LZ4 functions; if a build stops doing so, this fails
    # rather than the Blosc writer silently taking the slower lz4.block path
    assert lz4_direct.lz4_compressor() is not None


def _direct(data: bytes, capacity: int, acceleration: int) -> bytes | None:
    """This thread's :class:`Lz4Compressor` on ``data``: the block, or None when it did not fit
    ``capacity`` bytes."""
    src = np.frombuffer(data, np.uint8)
    dst = np.empty(capacity + 16, np.uint8)
    dst[capacity:] = 0xA5  # a guard: nothing is written past the capacity
    n = lz4_direct.lz4_compressor().compress(src.ctypes.data, dst.ctypes.data, len(src), capacity, acceleration)
    assert (dst[capacity:] == 0xA5).all()
    return bytes(dst[:n]) if n else None


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.tuples(st.binary(min_size=1, max_size=40), st.integers(1, 300)), min_size=1, max_size=30),
       acceleration=st.integers(1, 40))
def test_direct_compression_is_lz4_block_compression(pieces, acceleration):
    data = b"".join(piece * times for piece, times in pieces)  # repeats: matches of every length
    expected = lz4.block.compress(data, mode="fast", acceleration=acceleration, store_size=False)
    assert _direct(data, 2 * len(data) + 64, acceleration) == expected  # room to spare
    # with a capacity one byte short of the block it refuses (0), with the exact size it fits
    assert _direct(data, len(expected), acceleration) == expected
    assert _direct(data, len(expected) - 1, acceleration) is None


def test_random_and_zero_inputs_of_blosc_split_sizes():
    rng = np.random.default_rng(3)
    for size, acceleration in itertools.product((1, 127, 4096, 65536, 65547, 131072, 262144), (1, 5, 9)):
        for data in (rng.integers(0, 256, size, dtype=np.uint8).tobytes(), bytes(size),
                     (np.arange(size) // 97 % 13).astype(np.uint8).tobytes()):
            expected = lz4.block.compress(data, mode="fast", acceleration=acceleration, store_size=False)
            assert _direct(data, len(expected), acceleration) == expected
            # a Blosc split gets size - 1 bytes of room: it is stored raw exactly when lz4 does not shrink it
            assert (_direct(data, size - 1, acceleration) is None) == (len(expected) >= size)


def test_a_library_that_disagrees_with_lz4_block_is_not_used():
    # LZ4_compress_fast itself writes other bytes than lz4.block (other hash tables under 64
    # KiB); the probes catch that, as they catch a function that ignores its capacity
    lib = ctypes.CDLL(_block.__file__)
    fast = lib.LZ4_compress_fast
    fast.argtypes = [ctypes.c_void_p] * 2 + [ctypes.c_int] * 3

    def plain_compress_fast(state, src, dst, size, capacity, acceleration):
        return fast(src, dst, size, capacity, acceleration)

    def ignores_capacity(state, src, dst, size, capacity, acceleration):
        block = lz4.block.compress(ctypes.string_at(src, size), mode="fast", acceleration=acceleration,
                                   store_size=False)
        ctypes.memmove(dst, block, len(block))
        return len(block)

    size = lib.LZ4_sizeofState()
    assert lz4_direct._agrees_with_lz4_block(lz4_direct.Lz4Compressor(*lz4_direct._library()))
    assert not lz4_direct._agrees_with_lz4_block(lz4_direct.Lz4Compressor(plain_compress_fast, size))
    assert not lz4_direct._agrees_with_lz4_block(lz4_direct.Lz4Compressor(ignores_capacity, size))


def test_each_thread_has_its_own_stream_state():
    states = set()
    together = threading.Barrier(4)  # all alive at once: no thread's state is freed and its id reused

    def work() -> None:
        states.add(id(lz4_direct.lz4_compressor()))
        assert lz4_direct.lz4_compressor() is lz4_direct.lz4_compressor()
        together.wait()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(states) == 4


def _make(size: int, seed: int) -> bytes:
    """A ramp, a random stretch (raw splits) and zeros."""
    rng = np.random.default_rng(seed)
    third = size // 3
    return (np.arange(third, dtype=np.uint32).astype("<u2").tobytes()[:third]
            + rng.integers(0, 256, third, dtype=np.uint8).tobytes() + bytes(size - 2 * third))


@pytest.mark.parametrize("shuffle", [0, 1, 2])
def test_blosc_chunks_are_the_same_with_and_without_direct_lz4(shuffle, monkeypatch):
    # typesizes over 16 are never split; 4096-byte blocks are enlarged when split, as c-blosc does
    cases = list(itertools.product((1, 2, 4, 8, 3, 32), (128, 1000, 65543, 300001, 1 << 20), (1, 5, 9), (0, 4096)))
    with_direct = [blosc1.blosc_compress(_make(size, ts + size), ts, "lz4", clevel, shuffle, bs)
                   for ts, size, clevel, bs in cases]
    monkeypatch.setattr(blosc1, "lz4_compressor", lambda: None)
    for (ts, size, clevel, bs), chunk in zip(cases, with_direct):
        data = _make(size, ts + size)
        assert blosc1.blosc_compress(data, ts, "lz4", clevel, shuffle, bs) == chunk, (ts, size, clevel, bs)
        assert blosc1.blosc_decompress(chunk, size) == data


def test_the_codec_hands_out_a_read_only_view_that_each_thread_reuses():
    spec = ChunkSpec((1 << 16,), np.dtype("<u4"), 0)
    codec = BloscCodec("lz4", 5, "shuffle")
    data = [np.arange(i, i + (1 << 16), dtype="<u4") * 3 for i in range(8)]
    expected = [blosc1.blosc_compress(d, 4, "lz4", 5, 1) for d in data]
    first = codec.encode(data[0], spec)
    assert isinstance(first, memoryview) and first.readonly
    assert bytes(first) == expected[0]
    # compressing the last result again (a chain of two blosc codecs) does not read its own output
    again = codec.encode(first, ChunkSpec((len(first),), np.dtype("u1"), 0))
    assert blosc1.blosc_decompress(again, len(expected[0])) == expected[0]
    # threads encoding at once each keep their own buffer
    results: dict[int, list[bytes]] = {}

    def work(t: int) -> None:
        results[t] = [bytes(codec.encode(data[(t + k) % 8], spec)) for k in range(16)]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t, got in results.items():
        assert got == [expected[(t + k) % 8] for k in range(16)]
