"""The process-wide thread pool and the one function that runs chunk work on it.

:func:`run_tasks` applies a function to every item of a list using up to ``max_workers``
threads: the calling thread plus at most ``max_workers - 1`` pool threads. The threads are
*drainers*: each works through its own stretch of neighbouring items, then takes over half of
the largest stretch left, until none are left. So

- a call submits at most ``max_workers - 1`` pool tasks however many chunks it touches (tiny
  chunks cost a lock acquisition each, not a future each);
- at most ``max_workers`` items are in flight, which bounds memory;
- the caller always makes progress itself, so a busy or saturated pool can never deadlock it;
- one item, ``max_workers == 1``, or a call made from inside a pool worker runs inline on
  the calling thread (work never re-enters the pool that is running it);
- the first error wins: the other drainers stop taking items, and the error is raised once
  everything that had started has finished.

The pool is created lazily under a lock and grows if a caller asks for more workers. After
``fork`` the child gets a fresh pool (the parent's threads do not exist there).
"""

from __future__ import annotations

import contextvars
import functools
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

__all__ = ["get_pool", "run_tasks", "in_worker", "shutdown", "renew_after_fork"]

T = TypeVar("T")

_lock = threading.Lock()
_state: tuple[ThreadPoolExecutor, int] | None = None  # (pool, size), replaced as one value
_local = threading.local()


def in_worker() -> bool:
    """True on a thread that is running a zarrsync pool task."""
    return getattr(_local, "worker", False)


def get_pool(max_workers: int) -> ThreadPoolExecutor:
    """Return the shared pool, creating it (or a larger one) under the lock.

    A replaced pool is shut down without waiting: work already queued on it still runs, and a
    caller that fetched it just before can still fail to submit to it; :func:`_submit` retries.
    """
    global _state
    state = _state
    if state is not None and state[1] >= max_workers:
        return state[0]
    with _lock:
        state = _state
        if state is None or state[1] < max_workers:
            old = state
            state = _state = (ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="zarrsync"), max_workers)
            if old is not None:
                old[0].shutdown(wait=False)  # running tasks finish; idle threads exit
        return state[0]


def _submit(fn, helpers: int):
    while True:
        pool = get_pool(helpers)
        try:
            return pool.submit(fn)
        except RuntimeError:
            state = _state
            if state is not None and state[0] is pool:
                raise  # not a replaced pool: a real failure
            # the pool was replaced by a larger one and shut down meanwhile: use the new one


def shutdown(wait: bool = True) -> None:
    """Shut the shared pool down (a later call creates a new one)."""
    global _state
    with _lock:
        state, _state = _state, None
    if state is not None:
        state[0].shutdown(wait=wait)


# --- fork -----------------------------------------------------------------------------------------
# A child forked while other threads held locks inherits those locks held, by threads that do not
# exist in the child. Every lock, pool and per-thread cache is therefore made anew in the child:
# module-level ones by each module's own ``os.register_at_fork`` hook, per-object ones through
# :func:`renew_after_fork`.

_fork_lock = threading.Lock()
_fork_objects: "weakref.WeakSet" = weakref.WeakSet()


def renew_after_fork(obj) -> None:
    """Register ``obj`` so that, in a forked child, ``obj._after_fork()`` runs before anything else
    (it re-creates the object's locks). Held weakly: registration does not keep ``obj`` alive."""
    with _fork_lock:
        _fork_objects.add(obj)


def _reset_after_fork() -> None:
    global _lock, _state, _fork_lock
    _lock = threading.Lock()
    _state = None
    _fork_lock = threading.Lock()
    for obj in list(_fork_objects):  # the child has one thread: no lock needed here
        obj._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


class _Drain:
    """Shared state of one run_tasks call: the items cut into one contiguous stretch per thread,
    and the first error.

    Each drainer works through a stretch of neighbouring items (neighbouring chunks: neighbouring
    places in the output and in the store) and, when its own is done, takes over the back half
    of the stretch with the most items left. Threads that took turns along one cursor would fault
    the same pages of a fresh output array in at the same time and create files in the same
    directory at the same time; apart, they do not wait on each other.
    """

    __slots__ = ("fn", "items", "lo", "hi", "claimed", "error", "lock")

    def __init__(self, fn, items, parts: int):
        n = len(items)
        self.fn = fn
        self.items = items
        bounds = [n * k // parts for k in range(parts + 1)]
        self.lo = bounds[:-1]  # stretch k: items lo[k] <= i < hi[k] are still to run
        self.hi = bounds[1:]
        self.claimed = 0  # stretches handed to a drainer so far
        self.error: BaseException | None = None
        self.lock = threading.Lock()

    def claim(self) -> int:
        """The stretch of a drainer that starts now. There are as many stretches as drainers; one
        that starts late may find its stretch emptied by the others, and then takes over work."""
        with self.lock:
            k = self.claimed
            self.claimed = k + 1
            return k

    def take(self, k: int) -> tuple[int, int]:
        """The next item for the drainer of stretch ``k``, and its stretch from now on (another
        one when it took over work); item -1 when nothing is left or an error stopped the call."""
        lo, hi = self.lo, self.hi
        with self.lock:
            if self.error is not None:
                return -1, k
            if lo[k] < hi[k]:
                i = lo[k]
                lo[k] = i + 1
                return i, k
            # stretch k is done: take over the back half of the stretch with the most items left
            # (its only item when one is left); its drainer goes on with the front half
            victim = max(range(len(lo)), key=lambda j: hi[j] - lo[j])
            left = hi[victim] - lo[victim]
            if left <= 0:
                return -1, k
            mid = lo[victim] + left // 2
            lo[k], hi[k] = mid + 1, hi[victim]
            hi[victim] = mid
            return mid, k

    def stop(self) -> None:
        """Nothing more is handed out (the caller was interrupted)."""
        with self.lock:
            self.lo = list(self.hi)

    def run(self) -> None:
        fn, items = self.fn, self.items
        k = self.claim()
        while True:
            i, k = self.take(k)
            if i < 0:
                return
            try:
                fn(items[i])
            except BaseException as e:  # noqa: BLE001 - re-raised by run_tasks
                with self.lock:
                    if self.error is None:
                        self.error = e
                return

    def run_in_worker(self) -> None:
        _local.worker = True
        try:
            self.run()
        finally:
            _local.worker = False


def run_tasks(fn: Callable[[T], object], items: Sequence[T], max_workers: int) -> None:
    """Call ``fn(item)`` for every item, on up to ``max_workers`` threads; raise the first error.

    ``fn`` must be safe to call from several threads at once. Results are not collected: a
    task writes its result where it belongs (a slice of the output array, a store key).

    >>> out = [0] * 5
    >>> def square(i): out[i] = i * i
    >>> run_tasks(square, range(5), max_workers=2)
    >>> out
    [0, 1, 4, 9, 16]
    """
    n = len(items)
    if n == 0:
        return
    if n == 1 or max_workers <= 1 or in_worker():
        for item in items:
            fn(item)
        return
    threads = min(max_workers, n)
    drain = _Drain(fn, items, threads)
    helpers = threads - 1
    # each helper runs in a copy of the caller's context: settings made with config.context()
    # (allow_pickle ...) hold for the whole call, on every thread it uses
    futures = [_submit(functools.partial(contextvars.copy_context().run, drain.run_in_worker), helpers)
               for _ in range(helpers)]
    try:
        drain.run()
    finally:
        drain.stop()  # nothing more to take; matters only if the caller was interrupted
        for f in futures:
            if not f.cancel():
                f.result()
    if drain.error is not None:
        error, drain.error = drain.error, None  # drain <- the error's frames: break the cycle
        try:
            raise error
        finally:
            del error
