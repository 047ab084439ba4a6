"""Data types: Zarr v3 names and numpy dtypes, fill-value JSON rules, and the registry.

Each Zarr data type is a frozen :class:`DataType` that knows its v3 ``data_type`` JSON, its numpy
dtype (always native byte order: the ``bytes`` codec handles the stored order), and how to turn a
fill value into JSON and back (``SPEC_CHECKLIST`` §1.5, §3). The registry maps v3 names to
factories; third parties add types with :func:`register_data_type` or the ``zarrsync.dtypes``
entry-point group.

- :mod:`~zarrsync.dtypes.numeric`: ``bool``, ``int8`` ... ``uint64``, ``float16/32/64``,
  ``complex64/128`` (numpy kinds ``b i u f c``), and the :class:`DataType` base;
- :mod:`~zarrsync.dtypes.fixed`: ``fixed_length_utf32`` (``U``), ``null_terminated_bytes``
  (``S``), ``raw_bytes`` and ``r<N>`` (``V``), ``numpy.datetime64`` (``M``),
  ``numpy.timedelta64`` (``m``);
- :mod:`~zarrsync.dtypes.struct`: ``struct`` and the legacy ``structured`` (``V`` with fields).

>>> t = parse_data_type("float32")
>>> t.name, t.dtype
('float32', dtype('float32'))
>>> t.fill_to_json(t.fill_from_json("NaN"))
'NaN'
>>> parse_data_type(">i2").dtype.str   # numpy spellings work; data is kept native-endian
'<i2'
>>> parse_data_type([("x", "<f4"), ("y", "<i2")]).to_json()["configuration"]["fields"][1]
{'name': 'y', 'data_type': 'int16'}
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np

from ..errors import DataTypeError, UnknownExtensionError
from .fixed import (RAW_BITS_NAME, DateTimeType, FixedUTF32Type, NullTerminatedBytesType, RawBytesType,
                    TimeDeltaType)
from .numeric import CORE_NAMES, BoolType, ComplexType, DataType, FloatType, IntType
from .struct import StructField, StructType

__all__ = [
    "DataType", "BoolType", "IntType", "FloatType", "ComplexType", "FixedUTF32Type", "NullTerminatedBytesType",
    "RawBytesType", "DateTimeType", "TimeDeltaType", "StructType", "StructField", "parse_data_type",
    "data_type_from_numpy", "register_data_type", "data_type_from_json", "has_byte_order",
]


# --- registry -----------------------------------------------------------------------------------
_registry_lock = threading.Lock()
_REGISTRY: dict[str, Any] = {}
_entry_points_loaded = False


def register_data_type(name: str, factory) -> None:
    """Register a data type: ``factory(json_value) -> DataType`` for the v3 name ``name``."""
    with _registry_lock:
        _REGISTRY[name] = factory


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
    if factory is None and isinstance(name, str) and RAW_BITS_NAME.fullmatch(name):
        factory = RawBytesType.from_json  # r8, r16, ...: a family of names, not one
    if factory is None:
        raise UnknownExtensionError(f"unknown Zarr v3 data type {name!r}")
    return factory(value)


def data_type_from_numpy(dtype: np.dtype) -> DataType:
    """The data type of a numpy dtype, in native byte order (structured dtypes packed)."""
    kind = dtype.kind
    if dtype.subdtype is not None:
        raise DataTypeError(f"numpy sub-array dtype {dtype} is not a data type: add its shape {dtype.shape} to "
                            f"the array's shape instead")
    if kind in "biufc":
        native = dtype.newbyteorder("=")
        # numpy kinds alone are not enough: longdouble is kind "f" but has no Zarr v3 name
        if native.name not in CORE_NAMES:
            raise DataTypeError(f"data type {dtype} (numpy kind {kind!r}) is not supported")
        cls = {"b": BoolType, "i": IntType, "u": IntType, "f": FloatType, "c": ComplexType}[kind]
        return cls(native.name, native)
    if kind == "U":
        return FixedUTF32Type.of_length(dtype.itemsize // 4)
    if kind == "S":
        return NullTerminatedBytesType.of_length(dtype.itemsize)
    if kind == "V":
        if dtype.names is not None:
            return StructType.from_numpy(dtype, data_type_from_numpy)
        return RawBytesType.of_length(dtype.itemsize)
    if kind in "Mm":
        unit, scale = np.datetime_data(dtype)
        return (DateTimeType if kind == "M" else TimeDeltaType).of_unit(unit, scale)
    if kind == "O":
        raise DataTypeError("numpy object dtype is not supported yet (variable-length strings and bytes are "
                            "not implemented)")
    raise DataTypeError(f"data type {dtype} (numpy kind {kind!r}) is not supported")


def parse_data_type(value: Any) -> DataType:
    """Turn what a user passed as ``dtype`` into a :class:`DataType`.

    Accepts a :class:`DataType`, a v3 name or ``data_type`` object, or anything
    ``numpy.dtype()`` accepts (``"U5"``, ``"S3"``, ``"V4"``, ``"M8[ns]"``,
    ``[("x", "<f4"), ("y", "<i2")]`` ...). Byte order is dropped (chunks are decoded
    native-endian; see the ``bytes`` codec for the stored order).

    Examples
    --------
    >>> parse_data_type("M8[10us]").to_json()
    {'name': 'numpy.datetime64', 'configuration': {'unit': 'us', 'scale_factor': 10}}
    >>> parse_data_type("U5").to_json()
    {'name': 'fixed_length_utf32', 'configuration': {'length_bytes': 20}}
    """
    if isinstance(value, DataType):
        return value
    if isinstance(value, str) and value not in _REGISTRY:
        _load_entry_points()  # a third-party v3 name must win over numpy's reading of the string
    if isinstance(value, dict) or (isinstance(value, str) and (value in _REGISTRY or RAW_BITS_NAME.fullmatch(value))):
        return data_type_from_json(value)
    try:
        dt = np.dtype(value)
    except (TypeError, ValueError) as e:
        raise DataTypeError(f"not a data type: {value!r} ({e})") from None
    return data_type_from_numpy(dt)


def has_byte_order(dtype: np.dtype) -> bool:
    """True if the stored bytes of ``dtype`` depend on a byte order: it is (or a field is) a
    multi-byte number, code point or time. False for bool, 1-byte types, ``S`` and ``V``."""
    if dtype.names is not None:
        return any(has_byte_order(dtype.fields[n][0]) for n in dtype.names)
    if dtype.subdtype is not None:
        return has_byte_order(dtype.subdtype[0])
    return dtype.byteorder != "|"


# --- the built-in types: one line each ------------------------------------------------------------
register_data_type("bool", BoolType.from_json)
for _n in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
    register_data_type(_n, IntType.from_json)
for _n in ("float16", "float32", "float64"):
    register_data_type(_n, FloatType.from_json)
for _n in ("complex64", "complex128"):
    register_data_type(_n, ComplexType.from_json)
register_data_type("fixed_length_utf32", FixedUTF32Type.from_json)
register_data_type("null_terminated_bytes", NullTerminatedBytesType.from_json)
register_data_type("raw_bytes", RawBytesType.from_json)
register_data_type("numpy.datetime64", DateTimeType.from_json)
register_data_type("numpy.timedelta64", TimeDeltaType.from_json)
register_data_type("struct", functools.partial(StructType.from_json, resolve=data_type_from_json))
register_data_type("structured", functools.partial(StructType.from_json, resolve=data_type_from_json))
