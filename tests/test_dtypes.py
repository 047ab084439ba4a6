"""Tests of zarrsync.dtypes: parsing user data types, fill-value casting, the extension registry."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import sys

import numpy as np
import pytest

from zarrsync import dtypes
from zarrsync.dtypes import (
    BoolType, ComplexType, DataType, FloatType, IntType, data_type_from_json, parse_data_type, register_data_type,
)
from zarrsync.errors import DataTypeError, FillValueError, MetadataError, UnknownExtensionError
from zarrsync.metadata import parse_array_metadata

V3_NAMES = {
    "bool": (BoolType, "?"), "int8": (IntType, "i1"), "int16": (IntType, "i2"), "int32": (IntType, "i4"),
    "int64": (IntType, "i8"), "uint8": (IntType, "u1"), "uint16": (IntType, "u2"), "uint32": (IntType, "u4"),
    "uint64": (IntType, "u8"), "float16": (FloatType, "f2"), "float32": (FloatType, "f4"),
    "float64": (FloatType, "f8"), "complex64": (ComplexType, "c8"), "complex128": (ComplexType, "c16"),
}


@pytest.mark.parametrize("name", sorted(V3_NAMES))
def test_v3_names(name):
    cls, code = V3_NAMES[name]
    t = parse_data_type(name)
    assert type(t) is cls
    assert t.name == name
    assert t.dtype == np.dtype(code) and t.dtype.isnative
    assert t.itemsize == np.dtype(code).itemsize
    assert t.to_json() == name
    assert data_type_from_json(name) == t
    assert data_type_from_json({"name": name}) == t
    assert parse_data_type({"name": name}) == t
    assert parse_data_type(t) is t


@pytest.mark.parametrize("spelling, name", [
    ("i1", "int8"), ("<i2", "int16"), ("i4", "int32"), ("=i8", "int64"), ("u1", "uint8"), ("<u2", "uint16"),
    ("u4", "uint32"), ("<u8", "uint64"), ("f2", "float16"), ("<f4", "float32"), ("f8", "float64"),
    ("c8", "complex64"), ("<c16", "complex128"), ("?", "bool"), ("b1", "bool"), ("|b1", "bool"),
    (np.int8, "int8"), (np.uint16, "uint16"), (np.float32, "float32"), (np.complex128, "complex128"),
    (np.bool_, "bool"), (np.dtype("int32"), "int32"), (np.dtype("float16"), "float16"),
    (bool, "bool"), (float, "float64"), (complex, "complex128"), ("double", "float64"), ("single", "float32"),
    ("half", "float16"), ("short", "int16"), ("ubyte", "uint8"),
])
def test_numpy_spellings(spelling, name):
    t = parse_data_type(spelling)
    assert t.name == name
    assert t.dtype == np.dtype(V3_NAMES[name][1])
    assert t == parse_data_type(name)


def test_platform_int():
    assert parse_data_type(int).dtype == np.dtype(int)
    assert parse_data_type(int).name == np.dtype(int).name


@pytest.mark.parametrize("spelling, name", [
    (">i2", "int16"), (">i4", "int32"), (">i8", "int64"), (">u2", "uint16"), (">u4", "uint32"),
    (">u8", "uint64"), (">f2", "float16"), (">f4", "float32"), (">f8", "float64"), (">c8", "complex64"),
    (">c16", "complex128"), ("<i4", "int32"), ("<f8", "float64"),
    (np.dtype(">f8"), "float64"), (np.dtype("<c8"), "complex64"),
])
def test_byte_order_is_dropped(spelling, name):
    t = parse_data_type(spelling)
    assert t.name == name
    assert t.dtype.isnative
    assert t.dtype.byteorder in ("=", "|", "<" if sys.byteorder == "little" else ">")
    assert t.dtype == np.dtype(spelling).newbyteorder("=")
    assert t == parse_data_type(name)
    assert t.to_json() == name  # never "<f8" or ">f8"


@pytest.mark.parametrize("value", [
    # fixed-size strings, bytes, times and structs are supported: tests/test_dtypes_fixed.py;
    # str and bytes are the variable-length string and bytes types: tests/test_dtypes_variable.py
    "O", object, "V0", "(2,)i4", np.longdouble, np.clongdouble, "g", "G",
    [("a", "i4"), ("b", "O")],
])
def test_unsupported_kinds(value):
    with pytest.raises(DataTypeError) as info:
        parse_data_type(value)
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize("value", ["not-a-type", "float8", "int128", 5.5, "", "float32x"])
def test_not_data_types(value):
    with pytest.raises((DataTypeError, UnknownExtensionError)):
        parse_data_type(value)


def test_unknown_v3_names_refused():
    for value in ("float128", "strings", "my.type"):
        with pytest.raises(UnknownExtensionError, match=value):
            data_type_from_json(value)
    with pytest.raises(UnknownExtensionError):
        data_type_from_json({"configuration": {}})
    with pytest.raises(UnknownExtensionError):
        data_type_from_json(5)
    with pytest.raises(UnknownExtensionError, match="must_understand"):
        data_type_from_json({"name": "int8", "must_understand": False})
    with pytest.raises(UnknownExtensionError):
        parse_data_type({"name": "my.type"})


# --------------------------------------------------------------------------------------------------
# cast_fill: user-given fill values
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, value, expected", [
    ("int8", -128, -128), ("int8", 127, 127), ("uint8", 255, 255), ("uint64", 2 ** 64 - 1, 2 ** 64 - 1),
    ("int64", -(2 ** 63), -(2 ** 63)), ("int16", np.int8(5), 5), ("uint8", True, 1),
    ("float32", 1.5, 1.5), ("float64", 3, 3.0), ("float16", np.float16(2.5), 2.5),
    ("complex64", 1 + 2j, 1 + 2j), ("complex128", 2.5, 2.5 + 0j),
    ("bool", True, True), ("bool", np.False_, False),
])
def test_cast_fill(name, value, expected):
    t = parse_data_type(name)
    out = t.cast_fill(value)
    assert isinstance(out, np.generic) and out.dtype == t.dtype
    assert out == expected


def test_cast_fill_none_is_the_default():
    for name in V3_NAMES:
        t = parse_data_type(name)
        out = t.cast_fill(None)
        assert out.dtype == t.dtype and out == 0 and out == t.default_fill()


def test_cast_fill_keeps_nan_bits():
    t = parse_data_type("float32")
    nan = np.array(0x7FC00001, dtype="u4").view("f4")[()]
    assert np.array(t.cast_fill(nan)).view("u4") == 0x7FC00001
    assert np.isnan(t.cast_fill(float("nan")))
    assert np.signbit(t.cast_fill(-0.0))


@pytest.mark.parametrize("name, value", [
    ("int8", 128), ("int8", -129), ("uint8", -1), ("uint8", 256), ("uint16", 2 ** 16), ("int32", 2 ** 31),
    ("uint64", 2 ** 64), ("uint64", -1), ("int64", 2 ** 63), ("int64", -(2 ** 63) - 1),
    ("int8", 1.5), ("int32", float("nan")), ("int32", float("inf")), ("uint8", "1"),
    ("float32", "abc"), ("float32", "1.5"), ("float64", 1 + 2j), ("float32", [1.0, 2.0]), ("float32", (1.0,)),
    ("int8", []), ("complex64", "x"), ("float64", object()), ("int16", {"a": 1}), ("bool", "True"),
    ("int32", np.ones(3)),
])
def test_cast_fill_errors(name, value):
    t = parse_data_type(name)
    with pytest.raises(FillValueError) as info:
        t.cast_fill(value)
    assert name in str(info.value)
    assert isinstance(info.value, MetadataError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", sorted(V3_NAMES))
def test_fill_json_round_trip_of_default(name):
    t = parse_data_type(name)
    out = t.fill_to_json(t.default_fill())
    assert out in (0, False, [0.0, 0.0])
    assert np.array(t.fill_from_json(out)).tobytes() == np.zeros((), t.dtype).tobytes()


# --------------------------------------------------------------------------------------------------
# the extension hook
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CelsiusType(DataType):
    """A made-up extension data type: float32 temperatures whose fill JSON is ``{"celsius": x}``."""

    @classmethod
    def from_json(cls, value):
        if isinstance(value, dict) and value.get("configuration", {}).get("scale", 1) != 1:
            raise UnknownExtensionError("only scale 1 is supported")
        return cls("test.celsius", np.dtype("float32"))

    def to_json(self):
        return {"name": "test.celsius", "configuration": {"scale": 1}}

    def fill_from_json(self, value):
        if not isinstance(value, dict) or set(value) != {"celsius"}:
            raise FillValueError(f"fill_value for test.celsius must be {{'celsius': number}}, got {value!r}")
        return np.float32(value["celsius"])

    def fill_to_json(self, value):
        return {"celsius": float(value)}


@pytest.fixture
def private_registry(monkeypatch):
    monkeypatch.setattr(dtypes, "_REGISTRY", dict(dtypes._REGISTRY))
    monkeypatch.setattr(dtypes, "_entry_points_loaded", False)


def test_register_data_type(private_registry):
    with pytest.raises(UnknownExtensionError):
        data_type_from_json("test.celsius")
    register_data_type("test.celsius", CelsiusType.from_json)
    t = data_type_from_json({"name": "test.celsius", "configuration": {"scale": 1}})
    assert isinstance(t, CelsiusType) and t.dtype == np.float32
    assert parse_data_type("test.celsius") == t
    assert parse_data_type({"name": "test.celsius"}) == t
    with pytest.raises(UnknownExtensionError, match="scale"):
        data_type_from_json({"name": "test.celsius", "configuration": {"scale": 2}})

    doc = {
        "zarr_format": 3, "node_type": "array", "shape": [4], "data_type": t.to_json(),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
        "chunk_key_encoding": {"name": "default"}, "fill_value": {"celsius": -40.0},
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
    }
    m = parse_array_metadata(doc)
    assert m.data_type == t and m.fill_value == np.float32(-40.0)
    out = m.to_json()
    assert out["data_type"] == {"name": "test.celsius", "configuration": {"scale": 1}}
    assert out["fill_value"] == {"celsius": -40.0}
    assert parse_array_metadata(out) == m


def test_register_data_type_can_override_a_name(private_registry):
    register_data_type("int8", lambda value: IntType("int8", np.dtype("int8")))
    assert data_type_from_json("int8").name == "int8"


class FakeEntryPoint:
    def __init__(self, name, obj, group="zarrsync.dtypes"):
        self.name, self.group, self.obj, self.loads = name, group, obj, 0
        self.value = f"{__name__}:{getattr(obj, '__qualname__', 'x')}"

    def load(self):
        self.loads += 1
        return self.obj


def _fake_entry_points(monkeypatch, eps):
    calls = []

    def entry_points(**params):
        calls.append(params)
        return [ep for ep in eps if ep.group == params.get("group")]
    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    return calls


def test_entry_point_data_type(private_registry, monkeypatch):
    ep = FakeEntryPoint("test.celsius", CelsiusType.from_json)
    calls = _fake_entry_points(monkeypatch, [ep, FakeEntryPoint("test.other", IntType.from_json, group="x")])
    assert data_type_from_json("float32").name == "float32"
    assert calls == [] and ep.loads == 0  # built-in names never look at entry points
    t = data_type_from_json("test.celsius")
    assert isinstance(t, CelsiusType)
    assert calls == [{"group": "zarrsync.dtypes"}] and ep.loads == 1
    data_type_from_json("test.celsius")
    with pytest.raises(UnknownExtensionError):
        data_type_from_json("test.unknown")
    assert ep.loads == 1


def test_entry_point_data_type_through_parse_data_type(private_registry, monkeypatch):
    # a user passing dtype="test.celsius" to create_array goes through parse_data_type
    _fake_entry_points(monkeypatch, [FakeEntryPoint("test.celsius", CelsiusType.from_json)])
    t = parse_data_type("test.celsius")
    assert isinstance(t, CelsiusType)


def test_numpy_spellings_still_work_with_entry_points(private_registry, monkeypatch):
    _fake_entry_points(monkeypatch, [FakeEntryPoint("test.celsius", CelsiusType.from_json)])
    assert parse_data_type(">f4").name == "float32"
    assert parse_data_type("i2").name == "int16"
    assert parse_data_type("U3").name == "fixed_length_utf32"
    with pytest.raises(DataTypeError):
        parse_data_type("O")
