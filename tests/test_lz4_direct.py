"""``zarrsync.codecs.lz4_direct``: ``LZ4_compress_fast`` of the ``lz4`` package's library, called
through ctypes, writes the bytes numcodecs' LZ4 codec and c-blosc write (the real numcodecs is
the oracle); the Blosc writer's chunks equal numcodecs' with it, and decode the same without it."""

import ctypes
import itertools
import threading
import warnings

import lz4.block
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from zarrsync.codecs import blosc1, lz4_direct
from zarrsync.codecs.blosc import BloscCodec
from zarrsync.codecs.base import ChunkSpec
from zarrsync.codecs.numcodecs_builtin import LZ4

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # numcodecs' crc32c notice
    import numcodecs
    import numcodecs.blosc

numcodecs.blosc.use_threads = False  # c-blosc's own threads would order blocks as they finish


def test_the_lz4_package_exports_its_compressor_here():
    # a Linux wheel of lz4 exports its LZ4 functions; if a build stops doing so, this fails
    # rather than the Blosc writer silently taking the lz4.block path (other bytes than numcodecs')
    assert lz4_direct.lz4_compress_fast() is not None


def _direct(data: bytes, capacity: int, acceleration: int) -> bytes | None:
    """``LZ4_compress_fast`` on ``data``: the block, or None when it did not fit ``capacity``
    bytes."""
    src = np.frombuffer(data, np.uint8)
    dst = np.empty(capacity + 16, np.uint8)
    dst[capacity:] = 0xA5  # a guard: nothing is written past the capacity
    n = lz4_direct.lz4_compress_fast()(src.ctypes.data, dst.ctypes.data, len(src), capacity, acceleration)
    assert (dst[capacity:] == 0xA5).all()
    return bytes(dst[:n]) if n else None


def _numcodecs_block(data: bytes, acceleration: int) -> bytes:
    """numcodecs' LZ4 codec's block: its chunk without the 4-byte size in front."""
    return bytes(numcodecs.LZ4(acceleration).encode(data))[4:]


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.tuples(st.binary(min_size=1, max_size=40), st.integers(1, 300)), min_size=1, max_size=30),
       acceleration=st.integers(1, 40))
def test_direct_compression_writes_numcodecs_lz4_blocks(pieces, acceleration):
    data = b"".join(piece * times for piece, times in pieces)  # repeats: matches of every length
    expected = _numcodecs_block(data, acceleration)
    assert _direct(data, 2 * len(data) + 64, acceleration) == expected  # room to spare
    # with a capacity one byte short of the block it refuses (0), with the exact size it fits
    assert _direct(data, len(expected), acceleration) == expected
    assert _direct(data, len(expected) - 1, acceleration) is None
    assert lz4.block.decompress(expected, uncompressed_size=len(data)) == data


def test_random_and_zero_inputs_of_blosc_split_sizes():
    rng = np.random.default_rng(3)
    for size, acceleration in itertools.product((1, 127, 4096, 65536, 65547, 131072, 262144), (1, 5, 9)):
        for data in (rng.integers(0, 256, size, dtype=np.uint8).tobytes(), bytes(size),
                     (np.arange(size) // 97 % 13).astype(np.uint8).tobytes()):
            expected = _numcodecs_block(data, acceleration)
            assert _direct(data, len(expected), acceleration) == expected
            # a Blosc split gets size - 1 bytes of room: it is stored raw exactly when lz4 does not shrink it
            assert (_direct(data, size - 1, acceleration) is None) == (len(expected) >= size)


def test_lz4_block_writes_other_bytes_which_is_why_the_direct_call_is_made():
    # lz4.block compresses with a fresh stream (other hash tables under 64 KiB): valid blocks,
    # but not numcodecs' bytes
    data = b"\x00" + b"\x01" * 5 + b"\x00" * 8
    via_lz4_block = lz4.block.compress(data, mode="fast", store_size=False)
    assert via_lz4_block != _numcodecs_block(data, 1) == _direct(data, 64, 1)
    assert lz4.block.decompress(via_lz4_block, uncompressed_size=len(data)) == data


def test_a_broken_library_function_is_not_used():
    # the probes reject a function that ignores its capacity and one whose blocks do not decode
    def ignores_capacity(src, dst, size, capacity, acceleration):
        block = lz4.block.compress(ctypes.string_at(src, size), mode="fast", acceleration=acceleration,
                                   store_size=False)
        ctypes.memmove(dst, block, len(block))
        return len(block)

    def garbles(src, dst, size, capacity, acceleration):
        n = lz4_direct.lz4_compress_fast()(src, dst, size, capacity, acceleration)
        if n:
            ctypes.memset(dst + n - 1, 0xFF, 1)
        return n

    assert lz4_direct._works(lz4_direct.lz4_compress_fast())
    assert not lz4_direct._works(ignores_capacity)
    assert not lz4_direct._works(garbles)


def test_threads_compress_at_once():
    # the function keeps its state on the C stack: threads share it
    rng = np.random.default_rng(5)
    inputs = [(np.arange(70000) // (t + 3) % 251).astype(np.uint8).tobytes() + rng.bytes(100) for t in range(8)]
    expected = [_numcodecs_block(d, 1) for d in inputs]
    together = threading.Barrier(4)
    failures: list[int] = []

    def work(t: int) -> None:
        together.wait()
        for k in range(40):
            i = (t + k) % 8
            if _direct(inputs[i], len(inputs[i]) * 2, 1) != expected[i]:
                failures.append(i)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert failures == []


def test_the_numcodecs_lz4_codec_writes_numcodecs_bytes():
    rng = np.random.default_rng(9)
    for size, acceleration in itertools.product((0, 1, 100, 65535, 65536, 200000), (-5, 0, 1, 7, 100000)):
        data = (rng.integers(0, 8, size, dtype=np.uint8) * 30).tobytes()
        chunk = LZ4(acceleration).encode(data)
        assert chunk == bytes(numcodecs.LZ4(acceleration).encode(data)), (size, acceleration)
        assert LZ4().decode(chunk) == data
        if size:  # numcodecs cannot decode even its own empty chunk
            assert bytes(numcodecs.LZ4().decode(chunk)) == data


def _make(size: int, seed: int) -> bytes:
    """A ramp, a random stretch (raw splits) and zeros."""
    rng = np.random.default_rng(seed)
    third = size // 3
    return (np.arange(third, dtype=np.uint32).astype("<u2").tobytes()[:third]
            + rng.integers(0, 256, third, dtype=np.uint8).tobytes() + bytes(size - 2 * third))


@pytest.mark.parametrize("shuffle", [0, 1, 2])
def test_blosc_chunks_are_numcodecs_bytes_and_decode_the_same_without_direct_lz4(shuffle, monkeypatch):
    # typesizes over 16 are never split; 4096-byte blocks are enlarged when split, as c-blosc does
    cases = list(itertools.product((1, 2, 4, 8, 3, 32), (128, 1000, 65543, 300001, 1 << 20), (1, 5, 9), (0, 4096)))
    for ts, size, clevel, bs in cases:
        data = _make(size, ts + size)
        chunk = blosc1.blosc_compress(data, ts, "lz4", clevel, shuffle, bs, accelerate=False)
        assert chunk == bytes(numcodecs.blosc.compress(data, b"lz4", clevel, shuffle, bs, ts)), (ts, size, clevel, bs)
    monkeypatch.setattr(blosc1, "lz4_compress_fast", lambda: None)  # lz4.block: other bytes, same data
    for ts, size, clevel, bs in cases:
        data = _make(size, ts + size)
        chunk = blosc1.blosc_compress(data, ts, "lz4", clevel, shuffle, bs, accelerate=False)
        assert blosc1.blosc_decompress(chunk, size) == data
        assert bytes(numcodecs.blosc.decompress(chunk)) == data


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
