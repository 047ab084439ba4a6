"""What the store suite and concurrency tests share: hostile keys and byte requests, a sample
tree of keys, and helpers that start threads together with a fast GIL switch interval."""

from __future__ import annotations

import contextlib
import sys
import threading

from ..storage.base import OffsetRequest, RangeRequest, SuffixRequest

__all__ = ["INVALID_KEYS", "INVALID_PREFIXES", "TREE", "BYTE_REQUESTS", "HUGE_REQUESTS", "expected_slice",
           "run_threads", "fast_switching"]

INVALID_KEYS = ["", "/a", "a/../b", "..", ".", "a/./b", "a\\b", "a//b", "a/", "/", "a\x00b", "../a", "a/.."]
"""Keys every store must reject with :class:`~zarrsync.errors.InvalidKeyError`."""

INVALID_PREFIXES = ["/a", "/", "..", "../", "a/../", "a//", "a//b/", "a\\b/", "./", 5, b"a/"]
"""Prefixes every listing/deleting method must reject with InvalidKeyError."""

#: A tree of keys with no key that is also a prefix of another (a file cannot be a directory).
TREE = {
    "zarr.json": b"{}",
    "a/b/c": b"abc",
    "a/b/d": b"abd",
    "a/e": b"ae",
    "ab/x": b"abx",
    "abc": b"",
    "b/c/d/e": b"deep",
}

_VALUE = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable

BYTE_REQUESTS = [
    RangeRequest(0, 10), RangeRequest(10, 20), RangeRequest(0, 1024), RangeRequest(1000, 2000),
    RangeRequest(1024, 1030), RangeRequest(5000, 6000), RangeRequest(5, 5), RangeRequest(0, 0),
    OffsetRequest(0), OffsetRequest(1000), OffsetRequest(1024), OffsetRequest(5000),
    SuffixRequest(10), SuffixRequest(1024), SuffixRequest(5000), SuffixRequest(0), SuffixRequest(1),
]
"""Byte requests checked against :func:`expected_slice`, including clipping and empty cases."""

HUGE_REQUESTS = [
    RangeRequest(2**62, 2**63), RangeRequest(0, 2**63), RangeRequest(1020, 2**64), RangeRequest(2**40, 2**40),
    OffsetRequest(2**63), OffsetRequest(2**70), SuffixRequest(2**63), SuffixRequest(2**70),
]
"""Byte requests far past any value (a corrupt shard index): each is clipped, never raises."""


def expected_slice(value: bytes, request) -> bytes:
    """The bytes a request must return, written independently of the stores' own helper."""
    if isinstance(request, RangeRequest):
        return value[request.start:min(request.end, len(value))]
    if isinstance(request, OffsetRequest):
        return value[request.offset:]
    if request.suffix == 0:
        return b""
    return value[-request.suffix:] if request.suffix < len(value) else value


class _Switching:
    """The process-wide switch interval, shared by every thread inside ``fast_switching``.

    The first thread in lowers it and remembers the old value; the last one out restores it. So
    blocks that overlap in different threads (a test body run from several threads at once)
    never leave the interval lowered, as a save/restore per block would when the exits come out
    of order. The lowest interval asked for by a thread inside wins.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._saved = 0.0

    def enter(self, interval: float) -> None:
        with self._lock:
            if self._inside == 0:
                self._saved = sys.getswitchinterval()
            self._inside += 1
            sys.setswitchinterval(min(interval, sys.getswitchinterval()))

    def leave(self) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0:
                sys.setswitchinterval(self._saved)


_SWITCHING = _Switching()


@contextlib.contextmanager
def fast_switching(interval: float = 1e-6):
    """Lower ``sys.setswitchinterval`` inside the block (threads then interleave often on the GIL
    build, which shakes out races), and restore it when the last thread inside leaves."""
    _SWITCHING.enter(interval)
    try:
        yield
    finally:
        _SWITCHING.leave()


def run_threads(n: int, target, *, switch_interval: float = 1e-6) -> None:
    """Run ``target(i)`` in ``n`` threads started together; re-raise the first failure.

    ``sys.setswitchinterval`` is lowered while they run (to force interleavings on the GIL
    build) and restored afterwards.
    """
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as e:  # collected and re-raised in the caller's thread
            errors.append(e)

    with fast_switching(switch_interval):
        threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
