"""c-blosc, the optional Blosc accelerator: numcodecs' build of it, called through ctypes.

numcodecs' ``blosc`` extension module has c-blosc 1.x compiled in and exports its functions.
zarrsync loads that file as a plain shared library, without importing numcodecs (1-2 ms where
the import takes tens), and calls c-blosc's context functions, which keep no global state and run
a whole chunk with the GIL released: ``blosc_compress_ctx`` and ``blosc_decompress_ctx``, each
with one internal thread (zarrsync's pool runs chunks side by side; c-blosc's own threads would
also write blocks in the order they finish, so the bytes would vary from run to run).

:func:`load` is None where numcodecs is not installed or its module does not export the
functions. :mod:`.blosc1` decides what c-blosc may do: decode the chunks that pass its checks,
and encode where its chunks are the numpy path's byte for byte.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import importlib.util
import os
import sys
import threading

import numpy as np

__all__ = ["CBlosc", "load"]

MAX_OVERHEAD = 16  #: c-blosc's BLOSC_MAX_OVERHEAD: the header, and what a chunk stored as it is adds


class CBlosc:
    """c-blosc's context functions in one loaded library."""

    def __init__(self, library: ctypes.CDLL):
        self._compress = library.blosc_compress_ctx
        self._compress.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p,
                                   ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
        self._compress.restype = ctypes.c_int
        self._decompress = library.blosc_decompress_ctx
        self._decompress.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self._decompress.restype = ctypes.c_int

    def compress_into(self, src: np.ndarray, typesize: int, cname: str, clevel: int, shuffle: int, blocksize: int,
                      out: np.ndarray) -> int:
        """Compress the bytes ``src`` (uint8, contiguous) into ``out`` as numcodecs' ``Blosc``
        would: room for ``len(src) + 16`` bytes, so a chunk that does not shrink is stored as it
        is (MEMCPYED). The chunk's size, or 0 where c-blosc refuses."""
        nbytes = len(src)
        if len(out) < nbytes + MAX_OVERHEAD:
            raise ValueError(f"out holds {len(out)} bytes, fewer than the {nbytes + MAX_OVERHEAD} c-blosc may write")
        size = self._compress(clevel, shuffle, typesize, nbytes, src.ctypes.data, out.ctypes.data,
                              nbytes + MAX_OVERHEAD, cname.encode(), blocksize, 1)
        return max(size, 0)

    def decompress_into(self, chunk: np.ndarray, out: np.ndarray) -> bool:
        """Decode ``chunk`` (uint8, exactly ``cbytes`` long, its header already checked) into
        ``out``, which must hold the decoded size exactly; False where c-blosc refuses it."""
        return self._decompress(chunk.ctypes.data, out.ctypes.data, len(out), 1) == len(out)


_lock = threading.Lock()
_loaded: list[CBlosc | None] = []


def _renew_lock_after_fork() -> None:
    # a thread of the parent may have held it: the child has no such thread to release it
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_lock_after_fork)


def load() -> CBlosc | None:
    """The c-blosc in numcodecs' installed ``blosc`` module, or None. Loaded once, under a lock:
    loading runs one small chunk through it, so that c-blosc sets up its lazily chosen SIMD
    routines in one thread before any two use them."""
    if not _loaded:
        with _lock:
            if not _loaded:
                _loaded.append(_open())
    return _loaded[0]


def _open() -> CBlosc | None:
    path = _module_file()
    if path is None:
        return None
    try:
        blosc = CBlosc(ctypes.CDLL(path))
    except (OSError, AttributeError):
        return None
    # one tiny round trip: c-blosc picks its SIMD shuffle routines on first use, unguarded
    src = np.arange(4096, dtype="<u4").view(np.uint8)
    chunk = np.empty(len(src) + MAX_OVERHEAD, np.uint8)
    back = np.empty(len(src), np.uint8)
    size = blosc.compress_into(src, 4, "lz4", 5, 1, 0, chunk)
    if not size or not blosc.decompress_into(chunk[:size], back) or not np.array_equal(back, src):
        return None
    return blosc


def _module_file() -> str | None:
    """The file of numcodecs' ``blosc`` extension module, found without importing numcodecs."""
    if "numcodecs" in sys.modules and sys.modules["numcodecs"] is None:  # imports of it are blocked
        return None
    try:
        spec = importlib.util.find_spec("numcodecs")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "blosc" + suffix)
            if os.path.isfile(path):
                return path
    return None
