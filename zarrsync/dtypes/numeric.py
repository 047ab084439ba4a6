"""The core numeric data types (``SPEC_CHECKLIST`` §1.5) and :class:`DataType`, the base of all.

``bool``, ``int8`` ... ``uint64``, ``float16``/``float32``/``float64`` and ``complex64``/
``complex128``: each a frozen :class:`DataType` holding its v3 name and native numpy dtype, and the
fill-value JSON rules (integers in range; floats as numbers, ``"NaN"``, ``"Infinity"``,
``"-Infinity"`` or the exact bits in hex; complex values as ``[re, im]``).

>>> t = FloatType("float32", np.dtype("float32"))
>>> t.fill_to_json(t.fill_from_json("NaN"))
'NaN'
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from ..errors import FillValueError

__all__ = ["DataType", "BoolType", "IntType", "FloatType", "ComplexType", "CORE_NAMES"]

#: the 14 core v3 names
CORE_NAMES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                        "float16", "float32", "float64", "complex64", "complex128"})


@dataclasses.dataclass(frozen=True)
class DataType:
    """Base of every data type.

    Subclasses set ``name`` (the v3 name) and implement the fill-value rules. ``dtype`` is the
    numpy dtype of decoded chunks, always in native byte order; the ``bytes`` codec handles
    endianness on disk. Instances are immutable and safe to share between threads; so are the
    fill values they return (numpy scalars, ``str``/``bytes`` values, read-only records).
    """

    name: str
    dtype: np.dtype

    #: every element takes ``dtype.itemsize`` bytes (a variable-length type sets False)
    is_fixed_size: ClassVar[bool] = True
    #: the v3 array -> bytes codec new arrays of this type get (None: ``bytes``)
    default_serializer: ClassVar[str | None] = None

    @classmethod
    def from_json(cls, value: Any) -> "DataType":
        """Build from the v3 ``data_type`` value (a name, or ``{"name", "configuration"}``)."""
        name = value["name"] if isinstance(value, dict) else value
        return cls(name, np.dtype(name))

    def to_json(self) -> Any:
        """The v3 ``data_type`` JSON."""
        return self.name

    def default_fill(self) -> Any:
        """The fill value used when the user gives none (zero of the type)."""
        return self.dtype.type(0)

    def fill_from_json(self, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def fill_to_json(self, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def cast_fill(self, value: Any) -> Any:
        """Turn a user-given Python/numpy fill value into a numpy scalar of this type."""
        if value is None:
            return self.default_fill()
        try:
            arr = np.asarray(value)
            if arr.shape != ():
                raise ValueError("not a scalar")
            if not np.can_cast(arr.dtype, self.dtype, casting="same_kind") and arr.dtype.kind not in "biu":
                raise ValueError(f"cannot cast {arr.dtype} to {self.dtype}")
            with np.errstate(over="ignore", invalid="ignore"):
                out = arr.astype(self.dtype)[()]
            v = arr[()]
            if arr.dtype.kind in "biuf" and self.dtype.kind in "iub" and out != v:
                raise ValueError("value out of range")
            if self.dtype.kind in "fc" and np.all(np.isfinite(v)) and not np.all(np.isfinite(out)):
                raise ValueError(f"value overflows {self.name}")
            return out
        except (ValueError, TypeError, OverflowError) as e:
            raise FillValueError(f"fill value {value!r} is not valid for data type {self.name}: {e}") from None

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize


@dataclasses.dataclass(frozen=True)
class BoolType(DataType):
    def fill_from_json(self, value):
        if not isinstance(value, bool):
            raise FillValueError(f"fill_value for bool must be true or false, got {value!r}")
        return np.bool_(value)

    def fill_to_json(self, value):
        return bool(value)

    def default_fill(self):
        return np.bool_(False)


@dataclasses.dataclass(frozen=True)
class IntType(DataType):
    def fill_from_json(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FillValueError(f"fill_value for {self.name} must be an integer, got {value!r}")
        info = np.iinfo(self.dtype)
        if not info.min <= value <= info.max:
            raise FillValueError(f"fill_value {value} is out of range for {self.name}")
        return self.dtype.type(value)

    def fill_to_json(self, value):
        return int(value)


_NAN_BITS = {2: 0x7E00, 4: 0x7FC00000, 8: 0x7FF8000000000000}
_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _float_from_json(value: Any, dtype: np.dtype, what: str):
    size = dtype.itemsize
    if isinstance(value, str):
        if value == "NaN":
            return np.array(_NAN_BITS[size], dtype=_UINT[size]).view(dtype)[()]
        if value == "Infinity":
            return dtype.type(np.inf)
        if value == "-Infinity":
            return dtype.type(-np.inf)
        # hex digits only: int(..., 16) would also take a sign, "_" separators and spaces
        if value[:2] in ("0x", "0X") and len(value) == 2 + 2 * size and all(c in _HEX_DIGITS for c in value[2:]):
            return np.array(int(value[2:], 16), dtype=_UINT[size]).view(dtype)[()]
        raise FillValueError(f"fill_value {value!r} for {what} is not a number, 'NaN', "
                             f"'Infinity', '-Infinity' or a {2 * size}-digit hex string")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FillValueError(f"fill_value for {what} must be a number, got {value!r}")
    try:
        with np.errstate(over="ignore"):
            return dtype.type(value)
    except OverflowError:  # an integer beyond every float (Python refuses to convert it)
        raise FillValueError(f"integer fill_value for {what} is out of range") from None


def _float_to_json(value, dtype: np.dtype):
    v = dtype.type(value)
    if np.isnan(v):
        bits = int(np.array(v, dtype=dtype).view(_UINT[dtype.itemsize])[()])
        if bits == _NAN_BITS[dtype.itemsize]:
            return "NaN"
        return "0x" + format(bits, f"0{2 * dtype.itemsize}x")  # payload or negative NaN: exact bits
    if np.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return float(v)


@dataclasses.dataclass(frozen=True)
class FloatType(DataType):
    def fill_from_json(self, value):
        return _float_from_json(value, self.dtype, self.name)

    def fill_to_json(self, value):
        return _float_to_json(value, self.dtype)


@dataclasses.dataclass(frozen=True)
class ComplexType(DataType):
    @property
    def _part(self) -> np.dtype:
        return np.dtype(f"f{self.dtype.itemsize // 2}")

    def fill_from_json(self, value):
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise FillValueError(f"fill_value for {self.name} must be a [real, imag] list, got {value!r}")
        re_, im = (_float_from_json(v, self._part, self.name) for v in value)
        out = np.zeros((), dtype=self.dtype)
        out.real, out.imag = re_, im
        return out[()]

    def fill_to_json(self, value):
        v = self.dtype.type(value)
        return [_float_to_json(v.real, self._part), _float_to_json(v.imag, self._part)]
