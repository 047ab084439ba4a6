"""A numcodecs-compatible codec API, without importing numcodecs.

numcodecs codecs are objects with a class attribute ``codec_id``, ``encode(buf)``,
``decode(buf, out=None)``, ``get_config()`` (a JSON-safe dict whose ``"id"`` names the codec) and
a classmethod ``from_config(config)``. Zarr v2 stores these configs in ``.zarray``
(``"compressor"``, ``"filters"``) and Zarr v3 wraps them as ``numcodecs.<id>`` codecs
(``SPEC_CHECKLIST`` §4.6, §7). This module gives zarrsync:

- :class:`NumcodecsCodec`, a base class in that style, implemented by the codecs of
  :mod:`zarrsync.codecs.numcodecs_builtin` (byte-compatible with numcodecs 0.16);
- a registry, :func:`register_codec` / :func:`get_codec`, keyed by numcodecs id;
- :class:`NumcodecsLike`, a runtime-checkable ``Protocol`` that the real numcodecs codecs, and
  third-party codecs written against numcodecs, satisfy; :func:`check_numcodecs_like` names the
  members an object lacks.

Example
-------
>>> from zarrsync.codecs import numcodecs_builtin  # registers the built-in codecs
>>> codec = get_codec({"id": "zlib", "level": 1})
>>> codec.decode(codec.encode(b"abc"))
b'abc'

Compatibility notes: unknown keys in a known codec's config are ignored (as numcodecs's
``from_config`` is usually called with exactly the keys it wrote); an unknown id raises
:class:`~zarrsync.errors.UnknownExtensionError` naming it. ``decode(buf, out)`` fills ``out``
in place and requires it to have exactly the decoded size (numcodecs is looser).
"""

from __future__ import annotations

import json
import reprlib
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from ..errors import CodecError, UnknownExtensionError, ZarrsyncError

__all__ = ["NumcodecsCodec", "NumcodecsLike", "register_codec", "get_codec", "registered_codec_ids",
           "check_numcodecs_like", "ensure_ndarray", "ensure_contiguous_bytes", "fill_out"]

#: the members a numcodecs-style codec must have, in the order errors list them
_MEMBERS = ("codec_id", "encode", "decode", "get_config", "from_config")


@runtime_checkable
class NumcodecsLike(Protocol):
    """What zarrsync needs from a numcodecs-style codec (numcodecs' own ``Codec`` fits)."""

    codec_id: ClassVar[str]

    def encode(self, buf: Any) -> Any: ...

    def decode(self, buf: Any, out: Any = None) -> Any: ...

    def get_config(self) -> dict: ...

    @classmethod
    def from_config(cls, config: dict) -> "NumcodecsLike": ...


def check_numcodecs_like(obj: Any) -> Any:
    """Return ``obj`` if it is a numcodecs-style codec (object or class), else raise CodecError.

    The error lists exactly the members that are missing (or present but not callable).

    Example
    -------
    >>> class Half:
    ...     codec_id = "half"
    ...     def encode(self, buf): return buf
    >>> check_numcodecs_like(Half())
    Traceback (most recent call last):
    ...
    zarrsync.errors.CodecError: Half is not a numcodecs-style codec: missing member(s) ['decode', 'from_config', 'get_config']
    """
    missing = sorted(m for m in _MEMBERS if not hasattr(obj, m))
    not_callable = sorted(m for m in _MEMBERS[1:] if hasattr(obj, m) and not callable(getattr(obj, m)))
    bad_id = hasattr(obj, "codec_id") and not isinstance(obj.codec_id, str)
    if missing or not_callable or bad_id:
        what = obj.__name__ if isinstance(obj, type) else type(obj).__name__
        problems = []
        if missing:
            problems.append(f"missing member(s) {missing}")
        if not_callable:
            problems.append(f"member(s) {not_callable} are not callable")
        if bad_id:
            problems.append(f"codec_id must be a string, got {obj.codec_id!r}")
        raise CodecError(f"{what} is not a numcodecs-style codec: {'; '.join(problems)}")
    return obj


# --- buffer helpers (the numcodecs ``compat`` functions, in one place) -------------------------

def ensure_ndarray(buf: Any) -> np.ndarray:
    """``buf`` as an ndarray without copying: arrays pass through, other buffers keep their format."""
    if isinstance(buf, np.ndarray):
        return buf
    try:
        return np.asarray(memoryview(buf))
    except TypeError:
        raise CodecError(f"expected a bytes-like object or an ndarray, got {type(buf).__name__}") from None


def ensure_contiguous_bytes(buf: Any) -> np.ndarray:
    """``buf``'s bytes as a flat uint8 ndarray (no copy); CodecError if not contiguous or object."""
    arr = ensure_ndarray(buf)
    if arr.dtype.hasobject:
        raise CodecError("object arrays have no byte representation; use an object codec first")
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        raise CodecError("the buffer is not contiguous")
    return arr.reshape(-1, order="A").view(np.uint8)


def fill_out(result: Any, out: Any, codec_id: str) -> Any:
    """Copy a decoded ``result`` into the caller's ``out``, which must hold exactly its bytes.

    This is the one place the ``decode(buf, out)`` contract lives; it returns ``out``.
    """
    if out is None:
        return result
    src = ensure_ndarray(result)
    if src.dtype.hasobject:
        dst = ensure_ndarray(out)
        if dst.size != src.size:
            raise CodecError(f"codec {codec_id!r}: out holds {dst.size} items, decoded {src.size}")
        dst.reshape(-1, order="A")[...] = src.reshape(-1, order="A")
        return out
    src_bytes = ensure_contiguous_bytes(src)
    try:
        dst_bytes = ensure_contiguous_bytes(out)
    except CodecError as e:
        raise CodecError(f"codec {codec_id!r}: out: {e}") from None
    if dst_bytes.nbytes != src_bytes.nbytes:
        raise CodecError(f"codec {codec_id!r}: out holds {dst_bytes.nbytes} bytes, the decoded data is "
                         f"{src_bytes.nbytes} bytes")
    if not dst_bytes.flags.writeable:
        raise CodecError(f"codec {codec_id!r}: out is read-only")
    dst_bytes[...] = src_bytes
    return out


class NumcodecsCodec:
    """Base of zarrsync's numcodecs-compatible codecs.

    Subclasses set ``codec_id`` and ``config_keys`` (the constructor keywords that
    :meth:`from_config` passes on), and implement ``encode``, ``decode`` and ``get_config``,
    which writes explicitly the keys numcodecs writes.
    """

    codec_id: ClassVar[str]
    #: constructor keywords read from a config; any other key is ignored
    config_keys: ClassVar[tuple[str, ...]] = ()

    def encode(self, buf: Any) -> Any:
        raise NotImplementedError

    def decode(self, buf: Any, out: Any = None) -> Any:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"id": self.codec_id}

    def decode_bounded(self, buf: Any, max_size: int) -> Any:
        """Decode ``buf``, refusing to produce more than ``max_size`` bytes.

        A codec chain calls this with the size a chunk can hold, so a hostile stream (a
        decompression bomb) raises :class:`~zarrsync.errors.CorruptChunkError` before it
        allocates more than about ``max_size`` bytes. Compressors override it with a decoder
        that stops at the bound; this default (codecs whose output is no larger than a fixed
        multiple of their input) decodes in full, and the chain checks the size afterwards.
        """
        return self.decode(buf)

    def encoded_layout(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[tuple[int, ...], np.dtype] | None:
        """The shape and dtype that :meth:`encode` gives a filter input of ``shape`` and ``dtype``,
        found without encoding a whole chunk; None when only encoding one can tell.

        Binding a chain asks this of each filter: metadata can name chunks of any size, and
        opening an array must not allocate in proportion to them.
        """
        return None

    @classmethod
    def from_config(cls, config: dict) -> "NumcodecsCodec":
        """Build from a numcodecs config (with or without ``"id"``); unknown keys are ignored."""
        if not isinstance(config, dict):
            raise CodecError(f"codec {cls.codec_id!r}: config must be an object, got {config!r}")
        try:
            return cls(**{k: config[k] for k in cls.config_keys if k in config})
        except ZarrsyncError:
            raise
        except (TypeError, ValueError, OverflowError) as e:  # a required key is missing, a bad value
            raise CodecError(f"codec {cls.codec_id!r}: bad config {reprlib.repr(config)}: {e}") from None

    def __eq__(self, other: object) -> bool:
        get_config = getattr(other, "get_config", None)
        if get_config is None:
            return NotImplemented
        try:
            return bool(self.get_config() == get_config())
        except (ValueError, TypeError):  # e.g. a numpy array inside the other config
            return False

    def __hash__(self) -> int:
        return hash(json.dumps(self.get_config(), sort_keys=True))

    def __repr__(self) -> str:
        config = self.get_config()
        args = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "id")
        return f"{type(self).__name__}({args})"


_REGISTRY: dict[str, type[NumcodecsLike]] = {}
_CodecClass = TypeVar("_CodecClass", bound=type[NumcodecsLike])


def register_codec(cls: _CodecClass, codec_id: str | None = None) -> _CodecClass:
    """Register a numcodecs-style codec class under ``codec_id`` (default ``cls.codec_id``).

    Any class satisfying :class:`NumcodecsLike` may be registered, not only
    :class:`NumcodecsCodec` subclasses; a later registration replaces an earlier one. Returns
    ``cls``, so it can be used as a decorator.

    Example
    -------
    >>> class Identity(NumcodecsCodec):
    ...     codec_id = "identity-example"
    ...     def encode(self, buf): return bytes(buf)
    ...     def decode(self, buf, out=None): return fill_out(bytes(buf), out, self.codec_id)
    >>> _ = register_codec(Identity)
    >>> get_codec({"id": "identity-example"})
    Identity()
    """
    check_numcodecs_like(cls)
    codec_id = cls.codec_id if codec_id is None else codec_id
    if not isinstance(codec_id, str) or not codec_id:
        raise CodecError(f"a codec id must be a non-empty string, got {codec_id!r}")
    _REGISTRY[codec_id] = cls
    return cls


def registered_codec_ids() -> list[str]:
    """The registered numcodecs ids, sorted."""
    return sorted(_REGISTRY)


def get_codec(config: dict) -> Any:
    """Build a codec from a numcodecs config such as ``{"id": "zlib", "level": 1}``.

    An unknown id raises :class:`UnknownExtensionError` naming it; unknown keys are ignored.
    """
    if not isinstance(config, dict):
        raise CodecError(f"a numcodecs codec config must be an object, got {config!r}")
    codec_id = config.get("id")
    if not isinstance(codec_id, str):
        raise CodecError(f"a numcodecs codec config needs a string 'id', got {config!r}")
    cls = _REGISTRY.get(codec_id)
    if cls is None:
        raise UnknownExtensionError(f"unknown numcodecs codec id {codec_id!r} (Zarr v2 compressor/filter, "
                                    f"or Zarr v3 codec 'numcodecs.{codec_id}')")
    params = {k: v for k, v in config.items() if k != "id"}
    return cls.from_config(params)
