"""Data types: Zarr v3 names and v2 typestrs <-> numpy dtypes, and fill-value JSON rules.

Each Zarr data type is a frozen :class:`DataType` that knows its v3 ``data_type`` JSON, its numpy
dtype, and how to turn a fill value into JSON and back (``SPEC_CHECKLIST`` §1.5). The registry maps
v3 names to data type classes; third parties add types with :func:`register_data_type` or the
``zarrsync.dtypes`` entry-point group.

>>> t = parse_data_type("float32")
>>> t.name, t.dtype
('float32', dtype('float32'))
>>> t.fill_to_json(t.fill_from_json("NaN"))
'NaN'
>>> parse_data_type(">i2").dtype.str   # numpy spellings work; data is kept native-endian
'<i2'
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import numpy as np

from .errors import DataTypeError, FillValueError, UnknownExtensionError

__all__ = [
    "DataType", "BoolType", "IntType", "FloatType", "ComplexType", "parse_data_type",
    "register_data_type", "data_type_from_json",
]


@dataclasses.dataclass(frozen=True)
class DataType:
    """Base of every data type.

    Subclasses set ``name`` (the v3 name) and implement the fill-value rules. ``dtype`` is the
    numpy dtype of decoded chunks, always in native byte order; the ``bytes`` codec handles
    endianness on disk.
    """

    name: str
    dtype: np.dtype

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


# --- registry -----------------------------------------------------------------------------------
_registry_lock = threading.Lock()
_REGISTRY: dict[str, Any] = {}
_entry_points_loaded = False


def register_data_type(name: str, factory) -> None:
    """Register a data type: ``factory(json_value) -> DataType`` for the v3 name ``name``."""
    with _registry_lock:
        _REGISTRY[name] = factory


register_data_type("bool", BoolType.from_json)
for _n in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
    register_data_type(_n, IntType.from_json)
for _n in ("float16", "float32", "float64"):
    register_data_type(_n, FloatType.from_json)
for _n in ("complex64", "complex128"):
    register_data_type(_n, ComplexType.from_json)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    from importlib.metadata import entry_points
    for ep in entry_points(group="zarrsync.dtypes"):
        register_data_type(ep.name, ep.load())
    _entry_points_loaded = True


def data_type_from_json(value: Any) -> DataType:
    """Parse the v3 ``data_type`` field (a name or an extension object)."""
    if isinstance(value, dict):
        if "name" not in value:
            raise UnknownExtensionError(f"data_type object {value!r} has no 'name'")
        name = value["name"]
        if value.get("must_understand") is False:
            raise UnknownExtensionError("data_type may not say must_understand: false")
    elif isinstance(value, str):
        name = value
    else:
        raise UnknownExtensionError(f"data_type must be a string or an object, got {value!r}")
    factory = _REGISTRY.get(name)
    if factory is None:
        _load_entry_points()
        factory = _REGISTRY.get(name)
    if factory is None:
        raise UnknownExtensionError(f"unknown Zarr v3 data type {name!r}")
    return factory(value)


_KIND_TO_CLASS = {"b": BoolType, "i": IntType, "u": IntType, "f": FloatType, "c": ComplexType}
_CORE_NAMES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                         "float16", "float32", "float64", "complex64", "complex128"})


def parse_data_type(value: Any) -> DataType:
    """Turn what a user passed as ``dtype`` into a :class:`DataType`.

    Accepts a :class:`DataType`, a v3 name, or anything ``numpy.dtype()`` accepts. Byte order
    is dropped (chunks are decoded native-endian; see the ``bytes`` codec for the stored order).
    """
    if isinstance(value, DataType):
        return value
    if isinstance(value, str) and value not in _REGISTRY:
        _load_entry_points()  # a third-party v3 name must win over numpy's reading of the string
    if isinstance(value, dict) or (isinstance(value, str) and value in _REGISTRY):
        return data_type_from_json(value)
    try:
        dt = np.dtype(value)
    except TypeError as e:
        raise DataTypeError(f"not a data type: {value!r} ({e})") from None
    cls = _KIND_TO_CLASS.get(dt.kind)
    native = dt.newbyteorder("=")
    # numpy kinds alone are not enough: longdouble is kind "f" but has no Zarr v3 name
    if cls is None or native.name not in _CORE_NAMES:
        raise DataTypeError(f"data type {dt} (numpy kind {dt.kind!r}) is not supported")
    return cls(native.name, native)

