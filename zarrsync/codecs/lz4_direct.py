"""LZ4 blocks compressed in place with c-blosc's own call, through the ``lz4`` package's library.

c-blosc (and so numcodecs' ``Blosc``) and numcodecs' ``LZ4`` codec compress every block with
``LZ4_compress_fast``. ``lz4.block.compress`` does not: it compresses with a fresh stream
(``LZ4_compress_fast_continue``), which for blocks under 64 KiB picks other hash tables and
writes other, equally valid, bytes. It also allocates a worst-case output and copies the result
into a new ``bytes`` on every call, with the GIL held; a 4 MiB Blosc chunk makes 32 such calls.

The ``lz4`` package's extension module exports the LZ4 library it is built with, so ctypes can
call ``LZ4_compress_fast`` itself, on our own buffers: numcodecs' bytes, no allocation, no copy,
and the GIL released for the call. :func:`lz4_compress_fast` is None where the module does not
export the function (another build) or where the probes find it broken; callers then use
``lz4.block``, whose bytes differ but decode the same.

Example
-------
>>> import numpy as np, lz4.block
>>> src = np.frombuffer(b"zarr chunk " * 1000, np.uint8)
>>> dst = np.empty(len(src), np.uint8)
>>> n = lz4_compress_fast()(src.ctypes.data, dst.ctypes.data, len(src), len(dst), 1)
>>> lz4.block.decompress(dst[:n].tobytes(), uncompressed_size=len(src)) == src.tobytes()
True
"""

from __future__ import annotations

import ctypes
import functools
from typing import Callable

import lz4.block
import numpy as np

__all__ = ["Lz4Fast", "lz4_compress_fast"]

#: ``(src, dst, size, capacity, acceleration) -> block size``, 0 when the block does not fit in
#: ``capacity`` bytes; ``src`` and ``dst`` are addresses
Lz4Fast = Callable[[int, int, int, int, int], int]


@functools.cache
def lz4_compress_fast() -> Lz4Fast | None:
    """``LZ4_compress_fast`` of the ``lz4`` package's library, or None where it cannot be called
    directly (use ``lz4.block`` then). It keeps its state on the C stack, so threads share it."""
    try:
        from lz4.block import _block

        compress = ctypes.CDLL(_block.__file__).LZ4_compress_fast
    except (ImportError, OSError, AttributeError):
        return None
    compress.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    compress.restype = ctypes.c_int
    return compress if _works(compress) else None


def _probes() -> list[tuple[bytes, int]]:
    """(input, acceleration) pairs: a tiny run, blocks under and over 64 KiB (where LZ4 switches
    hash tables), literals, matches and short tails."""
    ramp = bytes(range(251)) * 8 + b"zarr" * 300 + bytes(range(7, 200, 3))
    return [(b"\x00" + b"\x01" * 5 + b"\x00" * 8, 1), (b"ab" * 40, 5), (ramp, 1), (ramp, 9),
            (ramp * 25, 1), (ramp * 25, 5)]


def _works(compress: Lz4Fast) -> bool:
    """Whether ``compress`` writes blocks that ``lz4.block`` decodes to the input, and refuses a
    capacity one byte short of the block."""
    for probe, acceleration in _probes():
        src = np.frombuffer(probe, np.uint8)
        dst = np.empty(len(probe) * 2 + 64, np.uint8)
        n = compress(src.ctypes.data, dst.ctypes.data, len(src), len(dst), acceleration)
        try:
            if n <= 0 or lz4.block.decompress(dst[:n].tobytes(), uncompressed_size=len(probe)) != probe:
                return False
        except lz4.block.LZ4BlockError:
            return False
        if compress(src.ctypes.data, dst.ctypes.data, len(src), n - 1, acceleration) != 0:
            return False
    return True
