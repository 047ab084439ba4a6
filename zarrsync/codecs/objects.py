"""numcodecs-compatible object codecs: arrays of Python objects to bytes and back.

Zarr v2 object arrays (``"dtype": "|O"``) name one of these as the first entry of ``filters``
(``SPEC_CHECKLIST`` §4.4), e.g. ``{"id": "vlen-utf8"}``. Each class has the numcodecs id,
constructor, ``get_config`` keys and byte format of its numcodecs 0.16 namesake (§4.6, §6) and is
registered with :func:`~zarrsync.codecs.numcodecs_api.register_codec` on import:

- ``vlen-utf8``, ``vlen-bytes``: u32le count, then u32le length + bytes per item (the framing of
  :mod:`zarrsync.codecs.vlen`, whose functions do the work);
- ``vlen-array`` (``{"id": "vlen-array", "dtype": "<i2"}``): the same framing, each item a 1-d
  array of ``dtype``;
- ``json2``: UTF-8 JSON of ``[*items, dtype, shape]`` (items nested for N-d chunks);
- ``msgpack2``: msgpack of the same list (needs the optional ``msgpack`` package);
- ``pickle`` (``{"id": "pickle", "protocol": 5}``): refused unless the ``allow_pickle`` setting is
  on (see below).

Items are taken in numpy order ``'A'`` (an F-ordered chunk is written column-major), as numcodecs
does; decoding returns a 1-d array for the vlen codecs and an array of the stored shape for
``json2`` / ``msgpack2``.

Example
-------
>>> codec = VLenUTF8()
>>> codec.encode(np.array(["a", "é", None], dtype=object)).hex()
'03000000010000006102000000c3a900000000'
>>> codec.decode(bytes.fromhex("03000000010000006102000000c3a900000000"))
array(['a', 'é', ''], dtype=object)

Pickle: decoding a pickle runs whatever code the stored bytes name, so :class:`Pickle` raises
:class:`~zarrsync.errors.PickleRefusedError` on decode *and* encode unless
``zarrsync.config`` has ``allow_pickle=True`` (``zarrsync.config.context(allow_pickle=True)``, or
the environment variable ``ZARRSYNC_ALLOW_PICKLE=1``). The setting is read when ``encode`` /
``decode`` is called, from :func:`zarrsync.config.get` on the calling thread: a pool thread does
not see a ``context()`` override made on another thread, so chunk work on the pool must run in
the caller's context (or be handed the caller's setting) for the override to apply there.

Compatibility notes: decoders are strict where numcodecs is loose (trailing bytes after the last
vlen item, a length that is not a multiple of the ``vlen-array`` item size, a JSON/msgpack shape
that does not match its items: :class:`~zarrsync.errors.CorruptChunkError`). ``json2`` and
``msgpack2`` write a ``StringDType`` chunk as ``"|O"`` (numcodecs writes ``"StringDType()"``, which
it cannot read back; zarrsync reads both) and handle 0-d chunks and shapes with a zero-length
axis, which numcodecs' ``msgpack2`` and ``json2`` fail on. ``json2``'s ``get_config`` writes
``separators`` as a list (numcodecs returns a tuple, which JSON writes as a list).
"""

from __future__ import annotations

import codecs as _codecs
import json as _json
import pickle as _pickle
from typing import Any

import numpy as np

from .. import config as _config
from ..errors import CodecError, CorruptChunkError, DataTypeError, MissingDependencyError, PickleRefusedError
from .numcodecs_api import NumcodecsCodec, ensure_contiguous_bytes, fill_out, register_codec
from .vlen import STRING_DTYPE, c_vlen, object_array, pack_bytes, pack_frames, pack_utf8, unpack_frames, unpack_items

__all__ = ["VLenUTF8", "VLenBytes", "VLenArray", "JSON", "MsgPack", "Pickle"]


def _flat(buf: Any, kinds: str) -> np.ndarray:
    """``buf`` as a flat array in numpy order ``'A'``; other dtypes than ``kinds`` as objects."""
    arr = np.asarray(buf)
    if arr.dtype.kind not in kinds:
        arr = arr.astype(object)
    return arr.reshape(-1, order="A")


class _VLenCodec(NumcodecsCodec):
    """What ``VLenUTF8`` and ``VLenBytes`` share: numcodecs' compiled coder as an accelerator."""

    def load_accelerator(self) -> None:
        """Load numcodecs' compiled vlen coder, the optional accelerator (the ``fast`` extra)."""
        c_vlen()


class VLenUTF8(_VLenCodec):
    """numcodecs ``VLenUTF8``: strings (``None`` and ``0`` written as ``""``)."""

    codec_id = "vlen-utf8"

    def encode(self, buf: Any) -> bytes:
        return bytes(pack_utf8(_flat(buf, "OTU"), self.codec_id))

    def decode(self, buf: Any, out: Any = None) -> np.ndarray:
        return fill_out(object_array(unpack_items(buf, None, self.codec_id, True)), out, self.codec_id)


class VLenBytes(_VLenCodec):
    """numcodecs ``VLenBytes``: byte strings (``None`` and ``0`` written as ``b""``)."""

    codec_id = "vlen-bytes"

    def encode(self, buf: Any) -> bytes:
        return bytes(pack_bytes(_flat(buf, "OS"), self.codec_id))

    def decode(self, buf: Any, out: Any = None) -> np.ndarray:
        return fill_out(object_array(unpack_items(buf, None, self.codec_id, False)), out, self.codec_id)


#: the widest item type vlen-array accepts (a configured "|S1073741824" would allocate per item)
_MAX_ITEMSIZE = 1 << 16


class VLenArray(NumcodecsCodec):
    """numcodecs ``VLenArray``: each item a 1-d array of ``dtype`` (``None`` written as empty).

    Items are cast to ``dtype`` (byte order included) on encode; decoded items are writeable
    arrays of ``dtype``.
    """

    codec_id = "vlen-array"
    config_keys = ("dtype",)

    def __init__(self, dtype: Any):
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise CodecError(f"codec 'vlen-array': dtype is not a data type: {dtype!r}") from None
        if self.dtype.hasobject or not 0 < self.dtype.itemsize <= _MAX_ITEMSIZE:
            raise CodecError(f"codec 'vlen-array': dtype must be a fixed-size type of at most {_MAX_ITEMSIZE} "
                             f"bytes, got {self.dtype}")

    def get_config(self) -> dict:
        return {"id": self.codec_id, "dtype": self.dtype.str}

    def encode(self, buf: Any) -> bytes:
        values = np.asarray(buf, dtype=object).reshape(-1, order="A")
        parts: list[bytes | np.ndarray] = []
        for i, v in enumerate(values.tolist()):
            if v is None:
                parts.append(b"")
                continue
            try:
                a = np.ascontiguousarray(v, dtype=self.dtype)
            except (TypeError, ValueError, OverflowError) as e:
                raise DataTypeError(f"codec 'vlen-array': item {i} cannot be cast to {self.dtype}: {e}") from None
            if a.ndim != 1:
                raise CodecError(f"codec 'vlen-array': item {i} has {a.ndim} dimensions; only 1-d arrays are "
                                 f"supported")
            parts.append(a.view(np.uint8))
        return bytes(pack_frames(parts, self.codec_id))

    def decode(self, buf: Any, out: Any = None) -> np.ndarray:
        data, starts, ends = unpack_frames(buf, None, self.codec_id)
        lens = ends - starts
        size = self.dtype.itemsize
        bad = np.flatnonzero(lens % size)
        if bad.size:
            i = int(bad[0])
            raise CorruptChunkError(f"codec 'vlen-array': item {i} has {int(lens[i])} bytes, not a multiple of the "
                                    f"{size}-byte {self.dtype}")
        whole = np.frombuffer(bytearray(data), np.uint8)  # one writeable copy that the items view
        dtype = self.dtype
        items = [whole[a:b].view(dtype) for a, b in zip(starts.tolist(), ends.tolist())]
        return fill_out(object_array(items), out, self.codec_id)


# --- json2 and msgpack2: [*items, dtype, shape] ------------------------------------------------

#: a JSON / msgpack item takes at least one byte; a decoded chunk may hold this many bytes per
#: input byte (wide fixed-size types such as U100 need a large ratio), plus a constant
_MAX_EXPANSION = 1024
_MAX_EXTRA = 1 << 20


def _items_of(arr: np.ndarray) -> list:
    """numcodecs' ``[*items, dtype, shape]`` (items nested for N-d; a 0-d chunk gives one item)."""
    items = arr.tolist()
    if arr.ndim == 0:
        items = [items]
    items.append(arr.dtype.str)
    items.append(list(arr.shape))
    return items


def _as_array(buf: Any) -> np.ndarray:
    try:
        arr = np.asarray(buf)
    except ValueError:  # a ragged sequence
        arr = np.asarray(buf, dtype=object)
    if arr.dtype.kind == "T":  # numcodecs would write "StringDType()", which it cannot read back
        arr = arr.astype(object)
    return arr


def _parse_dtype(codec_id: str, value: Any) -> np.dtype:
    if isinstance(value, bytes):  # msgpack with raw=True
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        raise CorruptChunkError(f"codec {codec_id!r}: the data type entry is {value!r}, not a string")
    if value == "StringDType()" and STRING_DTYPE is not None:
        return np.dtype(STRING_DTYPE())
    try:
        return np.dtype(value)
    except (TypeError, ValueError, SyntaxError):
        raise CorruptChunkError(f"codec {codec_id!r}: {value!r} is not a data type") from None


def _from_items(items: Any, codec_id: str, nbytes: int) -> np.ndarray:
    """The array that ``[*items, dtype, shape]`` describes; CorruptChunkError if they disagree."""
    if not isinstance(items, list) or len(items) < 2:
        raise CorruptChunkError(f"codec {codec_id!r}: expected a list ending with a data type and a shape")
    dtype = _parse_dtype(codec_id, items[-2])
    shape = items[-1]
    if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
        raise CorruptChunkError(f"codec {codec_id!r}: the shape entry is {shape!r}, not a list of sizes")
    flat = items[:-2]
    if not shape:
        if len(flat) != 1:
            raise CorruptChunkError(f"codec {codec_id!r}: a 0-d chunk must hold one item, found {len(flat)}")
    else:
        if len(flat) != shape[0]:
            raise CorruptChunkError(f"codec {codec_id!r}: the shape {shape} does not match the {len(flat)} items")
        for d in range(1, len(shape)):  # unnest exactly ndim levels: deeper lists are items
            nested, flat = flat, []
            for x in nested:
                if not isinstance(x, list) or len(x) != shape[d]:
                    raise CorruptChunkError(f"codec {codec_id!r}: the items do not have the shape {shape}")
                flat.extend(x)
    need = len(flat) * dtype.itemsize
    if need > _MAX_EXPANSION * nbytes + _MAX_EXTRA:
        raise CorruptChunkError(f"codec {codec_id!r}: {len(flat)} items of {dtype} ({need} bytes) from a "
                                f"{nbytes}-byte chunk")
    if dtype == object:
        arr = object_array(flat)
    else:
        arr = np.empty(len(flat), dtype=dtype)
        try:
            arr[...] = flat
        except (TypeError, ValueError, OverflowError) as e:
            raise CorruptChunkError(f"codec {codec_id!r}: the items do not fit the data type {dtype}: {e}") from None
    return arr.reshape(shape)


def _bool(codec_id: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise CodecError(f"codec {codec_id!r}: {name} must be true or false, got {value!r}")
    return bool(value)


def _jsonable(value: Any) -> Any:
    """Tuples as lists (numcodecs' ``json2`` config holds ``separators`` as a tuple)."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


#: json writes ``" " * indent`` per level: a metadata number may not make encoding allocate without bound
_MAX_INDENT = 1024


class JSON(NumcodecsCodec):
    """numcodecs ``JSON`` (id ``json2``): the items, then dtype and shape, as one JSON list."""

    codec_id = "json2"
    config_keys = ("encoding", "skipkeys", "ensure_ascii", "check_circular", "allow_nan", "sort_keys", "indent",
                   "separators", "strict")

    def __init__(self, encoding: str = "utf-8", skipkeys: bool = False, ensure_ascii: bool = True,
                 check_circular: bool = True, allow_nan: bool = True, sort_keys: bool = True,
                 indent: int | str | None = None, separators: Any = None, strict: bool = True):
        cid = self.codec_id
        try:
            _codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise CodecError(f"codec 'json2': unknown text encoding {encoding!r}") from None
        self.encoding = encoding
        self.skipkeys = _bool(cid, "skipkeys", skipkeys)
        self.ensure_ascii = _bool(cid, "ensure_ascii", ensure_ascii)
        self.check_circular = _bool(cid, "check_circular", check_circular)
        self.allow_nan = _bool(cid, "allow_nan", allow_nan)
        self.sort_keys = _bool(cid, "sort_keys", sort_keys)
        self.strict = _bool(cid, "strict", strict)
        # a bool is an int to json (older numcodecs wrote ``indent: true``: one space)
        if (indent is not None and not isinstance(indent, (int, str))) or (isinstance(indent, int) and indent > _MAX_INDENT):
            raise CodecError(f"codec 'json2': indent must be null, an integer up to {_MAX_INDENT} or a string, "
                             f"got {indent!r}")
        self.indent = indent
        if separators is None:  # numcodecs' defaults: compact unless indented
            separators = (",", ":") if indent is None else (", ", ": ")
        if not (isinstance(separators, (list, tuple)) and len(separators) == 2
                and all(isinstance(s, str) for s in separators)):
            raise CodecError(f"codec 'json2': separators must be two strings, got {separators!r}")
        self.separators = list(separators)
        self._encoder = _json.JSONEncoder(skipkeys=self.skipkeys, ensure_ascii=self.ensure_ascii,
                                          check_circular=self.check_circular, allow_nan=self.allow_nan,
                                          indent=indent, separators=tuple(separators), sort_keys=self.sort_keys)
        self._decoder = _json.JSONDecoder(strict=self.strict)

    def get_config(self) -> dict:
        # the keys in numcodecs' order
        return {"id": self.codec_id, "encoding": self.encoding, "skipkeys": self.skipkeys,
                "ensure_ascii": self.ensure_ascii, "check_circular": self.check_circular,
                "allow_nan": self.allow_nan, "indent": self.indent, "separators": list(self.separators),
                "sort_keys": self.sort_keys, "strict": self.strict}

    def __eq__(self, other: object) -> bool:
        get_config = getattr(other, "get_config", None)
        if get_config is None:
            return NotImplemented
        return self.get_config() == _jsonable(get_config())

    __hash__ = NumcodecsCodec.__hash__

    def encode(self, buf: Any) -> bytes:
        items = _items_of(_as_array(buf))
        try:
            text = self._encoder.encode(items)
        except TypeError as e:  # an object JSON cannot hold (bytes, a set ...)
            raise DataTypeError(f"codec 'json2': {e}") from None
        except (ValueError, RecursionError) as e:  # NaN without allow_nan, a circular reference
            raise CodecError(f"codec 'json2': {e}") from None
        try:
            return text.encode(self.encoding)
        except UnicodeEncodeError as e:
            raise CodecError(f"codec 'json2': cannot write the text as {self.encoding}: {e}") from None

    def decode(self, buf: Any, out: Any = None) -> np.ndarray:
        raw = ensure_contiguous_bytes(buf)
        try:
            items = self._decoder.decode(raw.tobytes().decode(self.encoding))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
            raise CorruptChunkError(f"codec 'json2': {e}") from None
        return fill_out(_from_items(items, self.codec_id, raw.nbytes), out, self.codec_id)


def _msgpack():
    """The ``msgpack`` module, imported on first use (it is an optional dependency)."""
    try:
        import msgpack
    except ImportError:
        raise MissingDependencyError("codec 'msgpack2' needs the msgpack package: pip install msgpack "
                                     "(or pip install 'zarrsync[msgpack]')") from None
    return msgpack


class MsgPack(NumcodecsCodec):
    """numcodecs ``MsgPack`` (id ``msgpack2``): the items, then dtype and shape, as one msgpack
    array. Needs the ``msgpack`` package (``pip install msgpack``) when used, not when built."""

    codec_id = "msgpack2"
    config_keys = ("use_single_float", "use_bin_type", "raw")

    def __init__(self, use_single_float: bool = False, use_bin_type: bool = True, raw: bool = False):
        cid = self.codec_id
        self.use_single_float = _bool(cid, "use_single_float", use_single_float)
        self.use_bin_type = _bool(cid, "use_bin_type", use_bin_type)
        self.raw = _bool(cid, "raw", raw)

    def get_config(self) -> dict:
        return {"id": self.codec_id, "raw": self.raw, "use_single_float": self.use_single_float,
                "use_bin_type": self.use_bin_type}

    def encode(self, buf: Any) -> bytes:
        msgpack = _msgpack()
        items = _items_of(_as_array(buf))
        try:
            return msgpack.packb(items, use_bin_type=self.use_bin_type, use_single_float=self.use_single_float)
        except TypeError as e:  # an object msgpack cannot hold
            raise DataTypeError(f"codec 'msgpack2': {e}") from None
        except (ValueError, OverflowError) as e:  # an integer out of range, too deep nesting
            raise CodecError(f"codec 'msgpack2': {e}") from None

    def decode(self, buf: Any, out: Any = None) -> np.ndarray:
        msgpack = _msgpack()
        raw = ensure_contiguous_bytes(buf)
        try:
            # msgpack bounds every container by the input size
            items = msgpack.unpackb(raw, raw=self.raw)
        except Exception as e:  # noqa: BLE001 - msgpack raises ValueError, TypeError and its own types
            raise CorruptChunkError(f"codec 'msgpack2': {type(e).__name__}: {e}") from None
        return fill_out(_from_items(items, self.codec_id, raw.nbytes), out, self.codec_id)


# --- pickle -----------------------------------------------------------------------------------

def _check_pickle_allowed(action: str) -> None:
    """The one place the ``allow_pickle`` setting is enforced."""
    if not _config.get().allow_pickle:
        raise PickleRefusedError(
            f"codec 'pickle': refusing to {action}: unpickling runs arbitrary code, so a stored chunk could take over "
            f"this process. If you trust the data, turn on the setting allow_pickle in zarrsync.config "
            f"(with zarrsync.config.context(allow_pickle=True): ..., zarrsync.config.set(allow_pickle=True), or "
            f"the environment variable ZARRSYNC_ALLOW_PICKLE=1)")


class Pickle(NumcodecsCodec):
    """numcodecs ``Pickle``: ``pickle.dumps(array, protocol)``. Refused unless the
    ``allow_pickle`` setting is on (:class:`~zarrsync.errors.PickleRefusedError`)."""

    codec_id = "pickle"
    config_keys = ("protocol",)

    def __init__(self, protocol: int = _pickle.HIGHEST_PROTOCOL):
        highest = _pickle.HIGHEST_PROTOCOL
        if isinstance(protocol, bool) or not isinstance(protocol, int) or not -1 <= protocol <= highest:
            raise CodecError(f"codec 'pickle': protocol must be an integer in [-1, {_pickle.HIGHEST_PROTOCOL}], got "
                             f"{protocol!r}")
        self.protocol = protocol

    def get_config(self) -> dict:
        return {"id": self.codec_id, "protocol": self.protocol}

    def encode(self, buf: Any) -> bytes:
        _check_pickle_allowed("write pickled data (a reader would have to unpickle it)")
        try:
            return _pickle.dumps(buf, protocol=self.protocol)
        except (_pickle.PicklingError, TypeError, AttributeError) as e:
            raise DataTypeError(f"codec 'pickle': {e}") from None

    def decode(self, buf: Any, out: Any = None) -> Any:
        _check_pickle_allowed("unpickle a chunk")
        try:
            decoded = _pickle.loads(ensure_contiguous_bytes(buf))
        except Exception as e:  # noqa: BLE001 - anything may fail inside a bad pickle
            raise CorruptChunkError(f"codec 'pickle': {type(e).__name__}: {e}") from None
        return fill_out(decoded, out, self.codec_id)


for _cls in (VLenUTF8, VLenBytes, VLenArray, JSON, MsgPack, Pickle):
    register_codec(_cls)
del _cls

