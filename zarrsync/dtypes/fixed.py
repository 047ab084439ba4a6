"""Fixed-size non-numeric data types: text, byte strings, raw bytes, datetime64 and timedelta64.

- ``fixed_length_utf32`` ``{"length_bytes": L}``: numpy ``U{L/4}``; fill a string of at most
  L/4 code points.
- ``null_terminated_bytes`` ``{"length_bytes": L}``: numpy ``S{L}``; fill base64 of the bytes,
  trailing zeros stripped.
- ``raw_bytes`` ``{"length_bytes": L}``: numpy ``V{L}``; fill base64 of all L bytes.
- ``r<N>`` (N bits, no configuration): numpy ``V{N/8}``; fill a list of N/8 integers 0..255.
- ``numpy.datetime64`` ``{"unit": U, "scale_factor": k}``: numpy ``M8[kU]``; fill an int64 count
  of ``k U`` since 1970-01-01, or ``"NaT"``.
- ``numpy.timedelta64``, same configuration: numpy ``m8[kU]``; fill an int64 count or ``"NaT"``.

(``SPEC_CHECKLIST`` §1.5, §3.) ``fixed_length_utf32`` stores UTF-32 code units in the ``bytes``
codec's byte order, zero-padded; ``null_terminated_bytes`` stores the bytes zero-padded (numpy
drops trailing zeros when reading them back, so a value cannot end in zero bytes); the raw bytes
types store the bytes as they are. Time values are int64 in the ``bytes`` codec's byte order;
``NaT`` is the int64 minimum. Units are ``Y M W D h m s ms us μs ns ps fs as generic`` (``μs`` is
read as ``us``); ``generic`` takes only ``scale_factor`` 1, as numpy cannot keep a scaled generic
unit.

``null_terminated_bytes`` and ``raw_bytes`` are zarr-python's names (not yet registered with
zarr-extensions); ``r<N>`` is the core spec's. Both raw forms are read; see :class:`RawBytesType`
for what is written. Fill values are immutable: ``numpy.str_``, ``numpy.bytes_``, ``bytes`` (raw
bytes: numpy's unstructured void scalars are mutable and unhashable) and numpy time scalars.

>>> t = NullTerminatedBytesType.from_json({"name": "null_terminated_bytes", "configuration": {"length_bytes": 4}})
>>> t.dtype, t.fill_to_json(t.fill_from_json("YWI="))
(dtype('S4'), 'YWI=')
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from typing import Any

import numpy as np

from ..errors import DataTypeError, FillValueError
from .numeric import DataType

__all__ = ["FixedUTF32Type", "NullTerminatedBytesType", "RawBytesType", "DateTimeType", "TimeDeltaType",
           "TIME_UNITS", "RAW_BITS_NAME", "type_config", "b64decode", "b64encode", "is_int_zero"]

#: the ``unit`` values of ``numpy.datetime64`` / ``numpy.timedelta64``
TIME_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "μs", "ns", "ps", "fs", "as", "generic")
#: the core ``r<N>`` names: N bits, a positive multiple of 8 without leading zeros
RAW_BITS_NAME = re.compile(r"r[1-9][0-9]*")

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_SCALE_MAX = 2**31 - 1


# --- helpers shared by the parameterised types ---------------------------------------------------

def type_config(value: Any, name: Any, keys: set[str]) -> dict:
    """The ``configuration`` of a parameterised data type: an object holding exactly ``keys``.
    ``name`` is the JSON's name as given (for messages; it may not be a string)."""
    config = value.get("configuration") if isinstance(value, dict) else None
    if not isinstance(config, dict):
        raise DataTypeError(f"data type {name!r} needs a configuration object with {sorted(keys)}, got {value!r}")
    unknown = sorted(set(config) - keys)
    if unknown:
        raise DataTypeError(f"data type {name!r}: unknown configuration key(s) {unknown}")
    missing = sorted(keys - set(config))
    if missing:
        raise DataTypeError(f"data type {name!r}: configuration is missing {missing}")
    return config


def _length_bytes(config: dict, name: str, multiple: int = 1) -> int:
    n = config["length_bytes"]
    if isinstance(n, bool) or not isinstance(n, int) or n < multiple or n % multiple:
        rule = "a positive integer" if multiple == 1 else f"a positive multiple of {multiple}"
        raise DataTypeError(f"data type {name!r}: length_bytes must be {rule}, got {n!r}")
    return n


def _sized(code: str, n: int, name: str) -> np.dtype:
    try:
        return np.dtype(f"{code}{n}")
    except (TypeError, ValueError):
        raise DataTypeError(f"data type {name!r}: length {n} is too large for numpy") from None


def b64decode(value: Any, what: str) -> bytes:
    """Strict standard-alphabet base64 (a fill value); FillValueError naming ``what`` otherwise."""
    if not isinstance(value, str):
        raise FillValueError(f"fill_value for {what} must be a base64 string, got {value!r}")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise FillValueError(f"fill_value {value!r} for {what} is not valid base64") from None


def b64encode(raw: bytes) -> str:
    return base64.standard_b64encode(raw).decode("ascii")


def is_int_zero(value: Any) -> bool:
    """numpy's "zeros" of a type: the integer 0 (what ``zarrsync.zeros`` passes as the fill)."""
    return _is_int(value) and value == 0


def _is_int(value: Any) -> bool:
    """A Python or numpy integer (not a bool, not a timedelta64: numpy counts it an integer)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_, np.timedelta64))


# --- text and bytes ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FixedUTF32Type(DataType):
    """``fixed_length_utf32``: strings of at most ``length_bytes / 4`` code points (numpy ``U``).

    The fill value is a plain JSON string; trailing U+0000 are not part of a value.
    """

    @classmethod
    def from_json(cls, value):
        config = type_config(value, "fixed_length_utf32", {"length_bytes"})
        return cls.of_length(_length_bytes(config, "fixed_length_utf32", 4) // 4)

    @classmethod
    def of_length(cls, chars: int) -> "FixedUTF32Type":
        if chars < 1:
            raise DataTypeError("fixed-length strings need a length, e.g. 'U10'; dtype=str is the variable-length "
                                "string type")
        return cls("fixed_length_utf32", _sized("U", chars, "fixed_length_utf32"))

    @property
    def chars(self) -> int:
        return self.dtype.itemsize // 4

    def to_json(self):
        return {"name": self.name, "configuration": {"length_bytes": self.dtype.itemsize}}

    def default_fill(self):
        return self.dtype.type("")

    def _value(self, value: str, what: str):
        value = value.rstrip("\x00")
        if len(value) > self.chars:
            raise FillValueError(f"{what} {value!r} has {len(value)} characters; {self.name} with length_bytes "
                                 f"{self.dtype.itemsize} holds at most {self.chars}")
        return self.dtype.type(value)

    def fill_from_json(self, value):
        if not isinstance(value, str):
            raise FillValueError(f"fill_value for {self.name} must be a string, got {value!r}")
        return self._value(value, "fill_value")

    def fill_to_json(self, value):
        return str(value).rstrip("\x00")

    def cast_fill(self, value):
        if value is None or is_int_zero(value):
            return self.default_fill()
        if not isinstance(value, str):
            raise FillValueError(f"fill value {value!r} is not valid for data type {self.name}: expected a str")
        return self._value(value, "fill value")


@dataclasses.dataclass(frozen=True)
class NullTerminatedBytesType(DataType):
    """``null_terminated_bytes``: byte strings of at most ``length_bytes`` bytes (numpy ``S``).

    zarr-python's name (spec pending in zarr-extensions). The fill value is written as base64 with
    trailing zero bytes stripped; base64 of up to ``length_bytes`` bytes (stripped or not) is read.
    """

    @classmethod
    def from_json(cls, value):
        config = type_config(value, "null_terminated_bytes", {"length_bytes"})
        return cls.of_length(_length_bytes(config, "null_terminated_bytes"))

    @classmethod
    def of_length(cls, n: int) -> "NullTerminatedBytesType":
        if n < 1:
            raise DataTypeError("fixed-length bytes need a length, e.g. 'S10'; dtype=bytes is the variable-length "
                                "bytes type")
        return cls("null_terminated_bytes", _sized("S", n, "null_terminated_bytes"))

    def to_json(self):
        return {"name": self.name, "configuration": {"length_bytes": self.dtype.itemsize}}

    def default_fill(self):
        return self.dtype.type(b"")

    def _value(self, raw: bytes, what: str):
        raw = raw.rstrip(b"\x00")
        if len(raw) > self.dtype.itemsize:
            raise FillValueError(f"{what} {raw!r} has {len(raw)} bytes; {self.name} with length_bytes "
                                 f"{self.dtype.itemsize} holds at most {self.dtype.itemsize}")
        return self.dtype.type(raw)

    def fill_from_json(self, value):
        return self._value(b64decode(value, self.name), "fill_value")

    def fill_to_json(self, value):
        return b64encode(bytes(value).rstrip(b"\x00"))

    def cast_fill(self, value):
        if value is None or is_int_zero(value):
            return self.default_fill()
        if isinstance(value, str):
            try:
                value = value.encode("ascii")
            except UnicodeEncodeError:
                raise FillValueError(f"fill value {value!r} for {self.name} must be bytes or an ASCII str") from None
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise FillValueError(f"fill value {value!r} is not valid for data type {self.name}: expected bytes")
        return self._value(bytes(value), "fill value")


@dataclasses.dataclass(frozen=True)
class RawBytesType(DataType):
    """Opaque fixed-size byte sequences (numpy ``V`` without fields): ``raw_bytes`` or ``r<N>``.

    Both names are read: ``{"name": "raw_bytes", "configuration": {"length_bytes": L}}`` with a
    base64 fill of exactly L bytes (zarr-python), and the core ``r<N>`` (N bits, a multiple of
    8) with a fill of N/8 integers 0..255 (a base64 string is read too: tensorstore expects it).
    A type keeps the name it was read with, so rewriting metadata preserves it.

    For a numpy ``V`` dtype given by a user, zarrsync writes ``raw_bytes``: although ``r<N>``
    is the registered name, neither peer reads the spec's form (zarr-python 3.4 does not know
    ``r<N>`` at all; tensorstore 0.1.86 refuses its list fill value), while both read
    ``raw_bytes`` with a base64 fill (``SPEC_CHECKLIST`` §3, §8.9).

    The fill value is a ``bytes`` object of exactly the item size.
    """

    @classmethod
    def from_json(cls, value):
        name = value.get("name") if isinstance(value, dict) else value
        if name == "raw_bytes":
            config = type_config(value, "raw_bytes", {"length_bytes"})
            return cls("raw_bytes", _sized("V", _length_bytes(config, "raw_bytes"), "raw_bytes"))
        if not isinstance(name, str) or not RAW_BITS_NAME.fullmatch(name) or int(name[1:]) % 8:
            raise DataTypeError(f"raw bits data type {name!r} must be 'r<N>' with N a positive multiple of 8")
        if isinstance(value, dict) and value.get("configuration") not in (None, {}):
            raise DataTypeError(f"data type {name!r} takes no configuration, got {value['configuration']!r}")
        return cls(name, _sized("V", int(name[1:]) // 8, name))

    @classmethod
    def of_length(cls, n: int) -> "RawBytesType":
        if n < 1:
            raise DataTypeError("numpy dtype 'V0' has no length; give one, e.g. 'V8'")
        return cls("raw_bytes", _sized("V", n, "raw_bytes"))

    def to_json(self):
        if self.name == "raw_bytes":
            return {"name": self.name, "configuration": {"length_bytes": self.dtype.itemsize}}
        return self.name

    def default_fill(self):
        return bytes(self.dtype.itemsize)

    def _value(self, raw: bytes, what: str) -> bytes:
        if len(raw) != self.dtype.itemsize:
            raise FillValueError(f"{what} for {self.name} must be exactly {self.dtype.itemsize} bytes, got {len(raw)}")
        return raw

    def fill_from_json(self, value):
        if self.name != "raw_bytes" and isinstance(value, list):
            if not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value):
                raise FillValueError(f"fill_value for {self.name} must be a list of integers 0..255, got {value!r}")
            return self._value(bytes(value), "fill_value")
        return self._value(b64decode(value, self.name), "fill_value")

    def fill_to_json(self, value):
        raw = np.asarray(value, dtype=self.dtype).tobytes()
        return b64encode(raw) if self.name == "raw_bytes" else list(raw)

    def cast_fill(self, value):
        if value is None or is_int_zero(value):
            return self.default_fill()
        if isinstance(value, np.void) and value.dtype.names is None:
            value = value.tobytes()
        elif isinstance(value, list) and all(isinstance(b, int) and 0 <= b <= 255 for b in value):
            value = bytes(value)
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise FillValueError(f"fill value {value!r} is not valid for data type {self.name}: expected bytes")
        return self._value(bytes(value), "fill value")


# --- time ----------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _TimeType(DataType):
    """``numpy.datetime64`` / ``numpy.timedelta64``: int64 counts of ``scale_factor`` units."""

    _name = "numpy.datetime64"
    _code = "M8"

    @classmethod
    def from_json(cls, value):
        name = value.get("name") if isinstance(value, dict) else value
        config = type_config(value, name, {"unit", "scale_factor"})
        unit, scale = config["unit"], config["scale_factor"]
        if unit not in TIME_UNITS:
            raise DataTypeError(f"data type {name!r}: unknown unit {unit!r}; expected one of {list(TIME_UNITS)}")
        if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= _SCALE_MAX:
            raise DataTypeError(f"data type {name!r}: scale_factor must be an integer 1..{_SCALE_MAX}, got {scale!r}")
        return cls.of_unit("us" if unit == "μs" else unit, scale)

    @classmethod
    def of_unit(cls, unit: str, scale: int = 1) -> "_TimeType":
        name = cls._name
        if unit == "generic" and scale != 1:
            raise DataTypeError(f"data type {name!r}: unit 'generic' takes only scale_factor 1, got {scale}")
        suffix = "" if unit == "generic" else f"[{scale}{unit}]"
        return cls(name, np.dtype(cls._code + suffix))

    @property
    def unit(self) -> str:
        return np.datetime_data(self.dtype)[0]

    @property
    def scale_factor(self) -> int:
        return np.datetime_data(self.dtype)[1]

    def to_json(self):
        return {"name": self.name, "configuration": {"unit": self.unit, "scale_factor": self.scale_factor}}

    def _from_int(self, n: int):
        return np.array(n, dtype=np.int64).view(self.dtype)[()]

    def default_fill(self):
        """``NaT``, as zarr-python (``fill_value=None`` and a v2 ``null`` fill read as NaT)."""
        return self._from_int(_INT64_MIN)

    def fill_from_json(self, value):
        if value == "NaT":
            return self.default_fill()
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FillValueError(f"fill_value for {self.name} must be an integer or 'NaT', got {value!r}")
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise FillValueError(f"fill_value {value} for {self.name} is out of the int64 range")
        return self._from_int(value)

    def to_int(self, value) -> int:
        """The stored int64 of a value of this type (NaT is the int64 minimum)."""
        return int(np.asarray(value, dtype=self.dtype).view(np.int64)[()])

    def fill_to_json(self, value):
        n = self.to_int(value)
        return "NaT" if n == _INT64_MIN else n

    def cast_fill(self, value):
        if value is None:
            return self.default_fill()
        if _is_int(value):
            if not _INT64_MIN <= int(value) <= _INT64_MAX:
                raise FillValueError(f"fill value {value} for {self.name} is out of the int64 range")
            return self._from_int(int(value))
        try:
            scalar = self._scalar(value)
        except (ValueError, TypeError, OverflowError) as e:
            raise FillValueError(f"fill value {value!r} is not valid for data type {self.name}: {e}") from None
        if scalar.dtype.kind != self.dtype.kind:
            raise FillValueError(f"fill value {value!r} is a {scalar.dtype}, not a {self.name} value")
        return np.asarray(scalar).astype(self.dtype)[()]

    def _scalar(self, value):  # pragma: no cover - abstract
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class DateTimeType(_TimeType):
    """``numpy.datetime64``: points in time as counts of ``scale_factor * unit`` since 1970-01-01.

    A fill value may be given as an int (the count), ``"NaT"``, an ISO string, a
    ``numpy.datetime64`` or a ``datetime.datetime``/``datetime.date``.
    """

    _name = "numpy.datetime64"
    _code = "M8"

    def _scalar(self, value):
        if isinstance(value, np.timedelta64):
            raise TypeError("a timedelta64 is not a point in time")
        return value if isinstance(value, np.datetime64) else np.datetime64(value)


@dataclasses.dataclass(frozen=True)
class TimeDeltaType(_TimeType):
    """``numpy.timedelta64``: durations as counts of ``scale_factor * unit``.

    A fill value may be given as an int (the count), ``"NaT"``, a ``numpy.timedelta64`` or a
    ``datetime.timedelta``.
    """

    _name = "numpy.timedelta64"
    _code = "m8"

    def _scalar(self, value):
        if isinstance(value, np.timedelta64):
            return value
        if isinstance(value, np.datetime64):
            raise TypeError("a datetime64 is not a duration")
        return np.timedelta64(value)
