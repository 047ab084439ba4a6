"""LZ4 blocks compressed in place, through the ``lz4`` package's own library.

``lz4.block.compress`` allocates a worst-case output, copies the result into a new ``bytes``
and frees the output on every call, with the GIL held for all three. A Blosc chunk of 4 MiB
makes 32 such calls. The ``lz4`` package's extension module exports the LZ4 library it is
built with, so ctypes can make the same library call on our own buffers: no allocation, no
copy, and ctypes releases the GIL for the call.

The same call means the same bytes. ``lz4.block`` compresses with a fresh stream
(``LZ4_compress_fast_continue`` after zeroing an ``LZ4_stream_t``); plain
``LZ4_compress_fast`` picks other hash tables for blocks under 64 KiB and writes other bytes.
So :class:`Lz4Compressor` zeroes a per-thread stream state and calls the ``_continue`` function.

:func:`lz4_compressor` is None where the module does not export the functions (another build),
or where probes find that the result differs from ``lz4.block``'s; callers then use
``lz4.block``.

Example
-------
>>> import numpy as np, lz4.block
>>> src = np.frombuffer(b"zarr chunk " * 1000, np.uint8)
>>> dst = np.empty(len(src), np.uint8)
>>> n = lz4_compressor().compress(src.ctypes.data, dst.ctypes.data, len(src), len(dst), 1)
>>> bytes(dst[:n]) == lz4.block.compress(src, mode="fast", store_size=False)
True
"""

from __future__ import annotations

import ctypes
import functools
import threading
from typing import Any

import lz4.block
import numpy as np

__all__ = ["Lz4Compressor", "lz4_compressor"]


class Lz4Compressor:
    """One thread's LZ4 stream state and the library function that compresses with it."""

    def __init__(self, compress_continue: Any, state_size: int):
        self._compress_continue = compress_continue
        self._state = np.zeros(state_size, np.uint8)  # numpy aligns it (LZ4 wants 8 bytes)
        self._state_view = memoryview(self._state)
        self._state_address = self._state.ctypes.data
        self._zeros = bytes(state_size)

    def compress(self, src: int, dst: int, size: int, capacity: int, acceleration: int) -> int:
        """Compress ``size`` bytes at address ``src`` into one LZ4 block at ``dst``: its size, or
        0 when it does not fit in ``capacity`` bytes. With room, the block is the bytes of
        ``lz4.block.compress(..., mode="fast", acceleration=acceleration, store_size=False)``."""
        self._state_view[:] = self._zeros  # a fresh stream, as LZ4_initStream makes (one memcpy, GIL held)
        return self._compress_continue(self._state_address, src, dst, size, capacity, acceleration)


_local = threading.local()


def lz4_compressor() -> Lz4Compressor | None:
    """This thread's :class:`Lz4Compressor`, or None where the ``lz4`` package's library cannot
    be called directly (use ``lz4.block`` then)."""
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        library = _library()
        if library is None:
            return None
        compressor = _local.compressor = Lz4Compressor(*library)
    return compressor


@functools.cache
def _library() -> tuple[Any, int] | None:
    """``LZ4_compress_fast_continue`` and the stream state's size, when exported and in
    agreement with ``lz4.block``."""
    try:
        from lz4.block import _block

        lib = ctypes.CDLL(_block.__file__)
        compress_continue, sizeof_state = lib.LZ4_compress_fast_continue, lib.LZ4_sizeofState
    except (ImportError, OSError, AttributeError):
        return None
    sizeof_state.argtypes = []
    sizeof_state.restype = ctypes.c_int
    compress_continue.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_int]
    compress_continue.restype = ctypes.c_int
    library = (compress_continue, sizeof_state())
    return library if _agrees_with_lz4_block(Lz4Compressor(*library)) else None


def _probes() -> list[tuple[bytes, int]]:
    """(input, acceleration) pairs on which a different LZ4 call would write different bytes:
    a tiny run, blocks under and over 64 KiB (where LZ4 switches hash tables), literals,
    matches and short tails."""
    ramp = bytes(range(251)) * 8 + b"zarr" * 300 + bytes(range(7, 200, 3))
    return [(b"\x00" + b"\x01" * 5 + b"\x00" * 8, 1), (b"ab" * 40, 5), (ramp, 1), (ramp, 9),
            (ramp * 25, 1), (ramp * 25, 5)]


def _agrees_with_lz4_block(compressor: Lz4Compressor) -> bool:
    """Whether ``compressor`` writes ``lz4.block``'s bytes on the probes, and refuses a capacity
    one byte short of the block."""
    for probe, acceleration in _probes():
        src = np.frombuffer(probe, np.uint8)
        dst = np.empty(len(probe) * 2 + 64, np.uint8)
        expected = lz4.block.compress(probe, mode="fast", acceleration=acceleration, store_size=False)
        n = compressor.compress(src.ctypes.data, dst.ctypes.data, len(src), len(dst), acceleration)
        if bytes(dst[:n]) != expected:
            return False
        if compressor.compress(src.ctypes.data, dst.ctypes.data, len(src), n - 1, acceleration) != 0:
            return False
    return True
