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

import dataclasses
import functools
import os
import threading
from typing import Any

import numpy as np

from ..errors import DataTypeError, UnknownExtensionError
from .fixed import (RAW_BITS_NAME, DateTimeType, FixedUTF32Type, NullTerminatedBytesType, RawBytesType,
                    TimeDeltaType)
from .numeric import CORE_NAMES, BoolType, ComplexType, DataType, FloatType, IntType
from .struct import StructField, StructType
from .variable import JSON, BytesType, ObjectType, StringType

__all__ = [
    "DataType", "BoolType", "IntType", "FloatType", "ComplexType", "FixedUTF32Type", "NullTerminatedBytesType",
    "RawBytesType", "DateTimeType", "TimeDeltaType", "StructType", "StructField", "parse_data_type",
    "data_type_from_numpy", "register_data_type", "data_type_from_json", "has_byte_order",
    "StringType", "BytesType", "ObjectType", "JSON",
]


# --- registry -----------------------------------------------------------------------------------
_registry_lock = threading.Lock()


def _renew_lock_after_fork() -> None:
    # a thread of the parent may have held it: the child has no such thread to release it
    global _registry_lock
    _registry_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_lock_after_fork)

_REGISTRY: dict[str, Any] = {}
_NUMPY_HOOKS: list[Any] = []  # registered classes with a from_numpy classmethod
_entry_points_loaded = False


def register_data_type(name: Any, factory=None) -> Any:
    """Register a data type, so that metadata naming it can be read and ``dtype=`` can name it.

    Two forms:

    - ``register_data_type(MyType)`` (or ``@register_data_type`` on the class): ``MyType`` is a
      :class:`DataType` subclass (a frozen dataclass) whose ``name`` field has the v3 name as its
      default. It implements the fill-value rules (``fill_from_json``, ``fill_to_json``,
      ``cast_fill``, ``default_fill``), may set ``default_serializer`` (the v3 name of the
      array -> bytes codec new arrays get; default ``bytes``) and may define a classmethod
      ``from_numpy(dtype)`` returning an instance for the numpy dtypes it stands for (else None),
      which ``dtype=<numpy dtype>`` then consults before the built-in types.
    - ``register_data_type(name, factory)``: ``factory(json_value) -> DataType`` for the v3 name.

    Packages register theirs with the ``zarrsync.dtypes`` entry-point group (the entry point's
    name is the v3 name; it loads a class or a factory). Returns what it was given.
    """
    if factory is None:
        cls = name
        if not (isinstance(cls, type) and issubclass(cls, DataType)):
            raise DataTypeError(f"register_data_type takes a DataType subclass, or a name and a factory; got {cls!r}")
        default = next((f.default for f in dataclasses.fields(cls) if f.name == "name"), dataclasses.MISSING)
        if not isinstance(default, str):
            raise DataTypeError(f"{cls.__name__}: give the 'name' field its v3 name as default to register it")
        with _registry_lock:
            _REGISTRY[default] = cls.from_json
            if "from_numpy" in vars(cls) and cls not in _NUMPY_HOOKS:
                _NUMPY_HOOKS.append(cls)
        return cls
    with _registry_lock:
        _REGISTRY[name] = factory
    return factory


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    from importlib.metadata import entry_points
    for ep in entry_points(group="zarrsync.dtypes"):
        obj = ep.load()
        if isinstance(obj, type) and issubclass(obj, DataType):
            register_data_type(obj)
        else:
            register_data_type(ep.name, obj)
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
    """The data type of a numpy dtype, in native byte order (structured dtypes packed).
    Registered types with a ``from_numpy`` hook are asked first."""
    _load_entry_points()
    with _registry_lock:
        hooks = list(_NUMPY_HOOKS)
    for cls in hooks:
        found = cls.from_numpy(dtype)
        if found is not None:
            return found
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
    if kind == "T" or (kind == "U" and dtype.itemsize == 0):  # StringDType, or `str`
        return StringType()
    if kind == "S" and dtype.itemsize == 0:  # `bytes`
        return BytesType()
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
        raise DataTypeError("numpy object arrays need a data type that says what the objects are: dtype=str "
                            "(text), dtype=bytes, dtype=zarrsync.dtypes.JSON() (any JSON value) or, in Zarr v2, "
                            "dtype=object with object_codec=")
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
        return any(has_byte_order(dtype[n]) for n in dtype.names)
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
register_data_type("string", StringType.from_json)
register_data_type("bytes", BytesType.from_json)
register_data_type("variable_length_bytes", BytesType.from_json)  # zarr-python's name
register_data_type("zarrsync.json", JSON.from_json)
