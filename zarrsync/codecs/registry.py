"""The codec registry: v3 codec names -> codec classes.

Built-in codecs are registered in :mod:`zarrsync.codecs`; third parties call :func:`register`
or publish an entry point in the ``zarrsync.codecs`` group (name = the v3 codec name, value = the
class), loaded the first time an unknown name is looked up.
"""

from __future__ import annotations

import os
import reprlib
import threading
from typing import Any

from ..errors import CodecError, UnknownExtensionError, ZarrsyncError
from .base import Codec, SkippedCodec

__all__ = ["register", "get_codec_class", "parse_codec", "registered_names"]

_lock = threading.Lock()
_load_lock = threading.Lock()


def _renew_locks_after_fork() -> None:
    # a thread of the parent may have held them: the child has no such thread to release them
    global _lock, _load_lock
    _lock = threading.Lock()
    _load_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_locks_after_fork)

_REGISTRY: dict[str, type[Codec]] = {}
_entry_points_loaded = False


def register(cls: type[Codec]) -> type[Codec]:
    """Register a codec class under its ``name`` and ``aliases``; returns the class."""
    with _lock:
        for n in (cls.name, *cls.aliases):
            _REGISTRY[n] = cls
    return cls


def registered_names() -> list[str]:
    with _lock:
        return sorted(_REGISTRY)


def _load_entry_points() -> None:
    # Held across loading (register() takes _lock, so this is a separate lock): a thread that
    # looks a name up while another thread is loading waits for it instead of seeing a registry
    # that is marked loaded but not yet filled.
    global _entry_points_loaded
    from importlib.metadata import entry_points
    with _load_lock:
        if _entry_points_loaded:
            return
        try:
            for ep in entry_points(group="zarrsync.codecs"):
                register(ep.load())
        finally:
            _entry_points_loaded = True


def get_codec_class(name: str) -> type[Codec] | None:
    """The class registered for a v3 codec name, or None."""
    cls = _REGISTRY.get(name)
    if cls is None and not _entry_points_loaded:
        _load_entry_points()
        cls = _REGISTRY.get(name)
    return cls


def parse_codec(value: Any) -> Codec:
    """Parse one v3 codec JSON value (object or short-hand name) or pass a codec object through.

    An unknown codec marked ``"must_understand": false`` becomes a :class:`SkippedCodec`.
    """
    if isinstance(value, Codec):
        return value
    if isinstance(value, str):
        name, config, must = value, None, True
    elif isinstance(value, dict):
        if "name" not in value or not isinstance(value["name"], str):
            raise CodecError(f"codec {value!r} has no 'name'")
        unknown = set(value) - {"name", "configuration", "must_understand"}
        if unknown:
            raise CodecError(f"codec {value['name']!r}: unknown member(s) {sorted(unknown)}")
        name, config, must = value["name"], value.get("configuration"), value.get("must_understand", True)
    else:
        raise CodecError(f"a codec is an object, a name or a Codec instance, got {value!r}")
    cls = get_codec_class(name)
    if cls is None and name.startswith("numcodecs."):
        return _numcodecs_v3(name, config)
    if cls is None:
        if must is False:
            return SkippedCodec(dict(value))
        raise UnknownExtensionError(f"unknown Zarr v3 codec {name!r}")
    try:
        return cls.from_config(config)
    except ZarrsyncError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, RecursionError) as e:
        # the edge where JSON becomes a codec: a codec's own validation that let a value of the
        # wrong shape through (a number where a list belongs) still gives a named error
        raise CodecError(f"codec {name!r}: bad configuration {reprlib.repr(config)}: {type(e).__name__}: {e}") from None


def _numcodecs_v3(name: str, config: Any) -> Codec:
    """``numcodecs.<id>`` (zarr-python's convention): the numcodecs-compatible codec ``<id>``,
    configured by ``configuration`` (which has no ``"id"``), wrapped for a v3 chain."""
    from .numcodecs_wrap import numcodecs_v3_codec  # the wrappers build on this module's classes
    if config is not None and not isinstance(config, dict):
        raise CodecError(f"codec {name!r}: configuration must be an object, got {config!r}")
    return numcodecs_v3_codec({**(config or {}), "id": name[len("numcodecs."):]})
