"""Runtime settings.

Settings are one frozen :class:`Settings` value. The process-wide defaults come from the
environment (``ZARRSYNC_`` and the setting's name in capitals: ``ZARRSYNC_MAX_WORKERS``,
``ZARRSYNC_IO_CONCURRENCY`` ...) and may be changed with :func:`set`. :func:`context` overrides them
for the current thread (or asyncio task) only: the override lives in a ``contextvars.ContextVar``,
so it never leaks into other threads. ``asyncio.to_thread`` copies the caller's context, so an
override made around ``await a.set_async(...)`` applies to that call.

Array operations read the settings once, on the calling thread, and hand the values to their
pool tasks; a worker thread never consults the settings itself. That matters on free-threaded
Python 3.14, where a new thread starts with a copy of its creator's context
(``sys.flags.thread_inherit_context``): a thread you start inside a ``context()`` block sees its
overrides there, but zarrsync's pool threads, whenever they were started, are unaffected.

>>> import zarrsync
>>> with zarrsync.config.context(write_empty_chunks=True):
...     zarrsync.config.get().write_empty_chunks
True
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import threading
from typing import Iterator

from .errors import ConfigError

__all__ = ["Settings", "get", "set", "context", "reset", "with_overrides"]


@dataclasses.dataclass(frozen=True)
class Settings:
    """All runtime settings.

    Attributes
    ----------
    max_workers : int
        Threads that chunk work may use at once (the pool size). Default: the number of CPUs.
    write_empty_chunks : bool
        Store chunks whose every element equals the fill value (default False: delete them).
    order : str
        Memory order, ``"C"`` or ``"F"``, of arrays returned by reads.
    allow_pickle : bool
        Allow codecs that run ``pickle`` on decode. Off by default: unpickling untrusted data
        runs arbitrary code.
    io_concurrency : int
        Requests in flight at once for a store whose calls wait on a network
        (``latency_bound``: object stores, HTTP). Threads waiting on round trips cost no CPU, so
        this is far above ``max_workers``; decoding still uses at most ``max_workers`` threads
        at once. Default 64.
    io_bytes_in_flight : int
        Caps those requests so that about this many bytes of chunks (decoded size) are held at
        once: chunks of 32 MiB get 4 requests in flight under the default 128 MiB, never fewer
        than ``max_workers``.
    """

    max_workers: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    write_empty_chunks: bool = False
    order: str = "C"
    allow_pickle: bool = False
    io_concurrency: int = 64
    io_bytes_in_flight: int = 128 << 20

    def __post_init__(self) -> None:
        for name in ("max_workers", "io_concurrency", "io_bytes_in_flight"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        if self.order not in ("C", "F"):
            raise ConfigError(f"order must be 'C' or 'F', got {self.order!r}")
        for name in ("write_empty_chunks", "allow_pickle"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be a bool, got {getattr(self, name)!r}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ConfigError(f"environment variable {name}={value!r} is not a boolean")


def _from_environment() -> Settings:
    kw: dict = {}
    env = os.environ
    for field in ("max_workers", "io_concurrency", "io_bytes_in_flight"):
        name = "ZARRSYNC_" + field.upper()
        if name in env:
            try:
                kw[field] = int(env[name])
            except ValueError:
                raise ConfigError(f"{name}={env[name]!r} is not an integer") from None
    if "ZARRSYNC_ORDER" in env:
        kw["order"] = env["ZARRSYNC_ORDER"].strip().upper()
    for field in ("write_empty_chunks", "allow_pickle"):
        name = "ZARRSYNC_" + field.upper()
        if name in env:
            kw[field] = _env_bool(name, env[name])
    return Settings(**kw)


_lock = threading.Lock()
_global: Settings | None = None


def _renew_lock_after_fork() -> None:
    # a thread of the parent may have held it: the child has no such thread to release it
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_lock_after_fork)

_override: contextvars.ContextVar[Settings | None] = contextvars.ContextVar("zarrsync_settings", default=None)


def get() -> Settings:
    """Return the settings in force for the calling thread or task."""
    local = _override.get()
    if local is not None:
        return local
    global _global
    if _global is None:
        with _lock:
            if _global is None:
                _global = _from_environment()
    return _global


def set(**changes) -> Settings:  # noqa: A001 - mirrors zarr-python's config.set
    """Change the process-wide defaults; returns the new settings.

    >>> import zarrsync
    >>> old = zarrsync.config.get()
    >>> zarrsync.config.set(max_workers=2).max_workers
    2
    >>> _ = zarrsync.config.set(max_workers=old.max_workers)
    """
    global _global
    with _lock:
        base = _global if _global is not None else _from_environment()
        _global = _replace(base, changes)
        return _global


def reset() -> Settings:
    """Drop changes made with :func:`set`; re-read the environment."""
    global _global
    with _lock:
        _global = _from_environment()
        return _global


@contextlib.contextmanager
def context(**changes) -> Iterator[Settings]:
    """Override settings for the current thread or asyncio task, inside a ``with`` block."""
    new = _replace(get(), changes)
    token = _override.set(new)
    try:
        yield new
    finally:
        _override.reset(token)


def with_overrides(changes: dict | None) -> Settings:
    """The settings in force with ``changes`` applied on top (an array's own ``config``)."""
    base = get()
    return _replace(base, changes) if changes else base


def _replace(base: Settings, changes: dict) -> Settings:
    unknown = sorted(k for k in changes if k not in {f.name for f in dataclasses.fields(Settings)})
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown}; known: {[f.name for f in dataclasses.fields(Settings)]}")
    return dataclasses.replace(base, **changes)
