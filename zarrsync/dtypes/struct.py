"""``struct``: records of named fields, each of a fixed-size data type (numpy structured dtypes).

JSON (zarr-extensions ``data-types/struct``)::

    {"name": "struct", "configuration": {"fields": [
        {"name": "x", "data_type": "float32"},
        {"name": "p", "data_type": {"name": "struct", "configuration": {"fields": [
            {"name": "a", "data_type": "uint8"}]}}}]}}

Rules (``SPEC_CHECKLIST`` §3): at least one field; names are non-empty and unique; order is
significant; fields may be structs themselves but never variable-length. Elements are packed: the
fields in order, depth first, no padding; the ``bytes`` codec's ``endian`` applies to every
multi-byte field and is required when there is one. The numpy dtype is the packed structured
dtype in native byte order (``[("x", "<f4"), ("p", [("a", "u1")])]``).

The fill value is an object with every field, each in its own type's fill JSON:
``{"x": 1.5, "p": {"a": 0}}``; in Python it is a read-only ``numpy.void`` record.

COMPAT: the legacy name ``structured`` (zarr-python 3.1) is read, with fields as ``[name,
data_type]`` pairs and a fill that may be base64 of the packed record (little-endian); zarrsync
never writes it (a rewritten document says ``struct``). Zarr v2 sub-array fields (``[name,
typestr, shape]``) are kept as :attr:`StructField.shape`; they have no v3 form.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from ..errors import DataTypeError, FillValueError, ZarrsyncError
from .fixed import b64decode, is_int_zero, type_config
from .numeric import DataType

__all__ = ["StructField", "StructType", "VARIABLE_LENGTH_NAMES"]

#: v3 names of variable-length data types, refused as struct fields (zarr-python's too)
VARIABLE_LENGTH_NAMES = frozenset({"string", "bytes", "variable_length_utf8", "variable_length_bytes"})


@dataclasses.dataclass(frozen=True)
class StructField:
    """One field: its name, data type and (Zarr v2 sub-array fields only) element shape."""

    name: str
    data_type: DataType
    shape: tuple[int, ...] = ()


def _renamed(e: ZarrsyncError, field: str) -> ZarrsyncError:
    """The same kind of error, its message prefixed with the field it concerns."""
    return type(e)(f"struct field {field!r}: {e}")


def _frozen(arr: np.ndarray):
    """A read-only record scalar of a 0-d structured array: immutable and hashable."""
    arr.flags.writeable = False
    return arr[()]


@dataclasses.dataclass(frozen=True)
class StructType(DataType):
    """The ``struct`` data type (read also as ``structured``)."""

    fields: tuple[StructField, ...] = ()
    #: read from the legacy ``structured`` name (affects nothing but how a missing ``endian`` reads)
    legacy: bool = dataclasses.field(default=False, compare=False)

    @classmethod
    def from_fields(cls, fields: Any, legacy: bool = False) -> "StructType":
        """Build from :class:`StructField` objects, checking the names and field types."""
        fields = tuple(fields)
        if not fields:
            raise DataTypeError("a struct data type needs at least one field")
        seen = set()
        for f in fields:
            if not isinstance(f.name, str) or not f.name:
                raise DataTypeError(f"struct field names must be non-empty strings, got {f.name!r}")
            if f.name in seen:
                raise DataTypeError(f"struct field name {f.name!r} appears more than once")
            seen.add(f.name)
            if not isinstance(f.data_type, DataType) or not f.data_type.is_fixed_size:
                raise DataTypeError(f"struct field {f.name!r} must have a fixed-size data type, got {f.data_type!r}")
        dtype = np.dtype([(f.name, f.data_type.dtype, f.shape) if f.shape else (f.name, f.data_type.dtype)
                          for f in fields])
        return cls("struct", dtype, fields, legacy)

    # registered through functools.partial with ``resolve`` bound, so it is called as the base's
    @classmethod
    def from_json(cls, value: Any, resolve: Callable[[Any], DataType]) -> "StructType":  # type: ignore[override]
        """Parse ``struct`` (or legacy ``structured``) JSON; ``resolve`` parses a field's data type."""
        name = value.get("name") if isinstance(value, dict) else value
        items = type_config(value, name, {"fields"})["fields"]
        if not isinstance(items, list) or not items:
            raise DataTypeError(f"data type {name!r}: fields must be a non-empty list, got {items!r}")
        fields = []
        for i, item in enumerate(items):
            if isinstance(item, dict) and set(item) == {"name", "data_type"}:
                fname, ftype = item["name"], item["data_type"]
            elif isinstance(item, (list, tuple)) and len(item) == 2:  # the legacy [name, data_type] pair
                fname, ftype = item
            else:
                raise DataTypeError(f"data type {name!r}: fields[{i}] must be an object with exactly 'name' and "
                                    f"'data_type', got {item!r}")
            if not isinstance(fname, str) or not fname:
                raise DataTypeError(f"data type {name!r}: fields[{i}] needs a non-empty string name, got {fname!r}")
            type_name = ftype.get("name") if isinstance(ftype, dict) else ftype
            if isinstance(type_name, str) and type_name in VARIABLE_LENGTH_NAMES:
                raise DataTypeError(f"struct field {fname!r} has the variable-length data type {type_name!r}; "
                                    f"struct fields must be fixed-size")
            try:
                fields.append(StructField(fname, resolve(ftype)))
            except ZarrsyncError as e:
                raise _renamed(e, fname) from None
        return cls.from_fields(fields, legacy=name == "structured")

    @classmethod
    def from_numpy(cls, dtype: np.dtype, resolve: Callable[[np.dtype], DataType]) -> "StructType":
        """From a numpy structured dtype (any layout: the result is packed; values keep their
        fields). ``resolve`` maps a field's numpy dtype to a data type."""
        fields = []
        assert dtype.names is not None and dtype.fields is not None  # called for structured dtypes only
        for fname in dtype.names:
            fdtype, _offset, *title = dtype.fields[fname]
            if title:
                raise DataTypeError(f"struct field {fname!r} has a title ({title[0]!r}); field titles are not supported")
            shape: tuple[int, ...] = ()
            if fdtype.subdtype is not None:
                fdtype, shape = fdtype.subdtype
            try:
                fields.append(StructField(fname, resolve(fdtype), tuple(shape)))
            except ZarrsyncError as e:
                raise _renamed(e, fname) from None
        return cls.from_fields(fields)

    def to_json(self):
        for f in self.fields:
            if f.shape:
                raise DataTypeError(f"struct field {f.name!r} is a sub-array of shape {f.shape}; Zarr v3 struct "
                                    f"fields have no shape (only Zarr v2 can store this data type)")
        return {"name": "struct", "configuration": {
            "fields": [{"name": f.name, "data_type": f.data_type.to_json()} for f in self.fields]}}

    def default_fill(self):
        return _frozen(np.zeros((), dtype=self.dtype))

    def fill_from_json(self, value):
        if isinstance(value, str):  # legacy: base64 of the packed record, little-endian
            raw = b64decode(value, self.name)
            if len(raw) != self.dtype.itemsize:
                raise FillValueError(f"base64 fill_value for {self.name} must hold {self.dtype.itemsize} bytes, "
                                     f"got {len(raw)}")
            return _frozen(np.frombuffer(raw, dtype=self.dtype.newbyteorder("<")).astype(self.dtype).reshape(()))
        if not isinstance(value, dict):
            raise FillValueError(f"fill_value for {self.name} must be an object with every field, got {value!r}")
        self._check_keys(value, "fill_value")
        out = np.zeros((), dtype=self.dtype)
        for f in self.fields:
            if f.shape:
                raise FillValueError(f"struct field {f.name!r} is a sub-array: it has no fill_value JSON")
            try:
                out[f.name] = f.data_type.fill_from_json(value[f.name])
            except ZarrsyncError as e:
                raise _renamed(e, f.name) from None
        return _frozen(out)

    def _check_keys(self, value: dict, what: str) -> None:
        names = [f.name for f in self.fields]
        missing = [n for n in names if n not in value]
        if missing:
            raise FillValueError(f"{what} for {self.name} is missing field {missing[0]!r} (every field "
                                 f"of {names} needs a value)")
        extra = sorted(str(k) for k in value if k not in names)
        if extra:
            raise FillValueError(f"{what} for {self.name} has unknown field(s) {extra}; the fields are {names}")

    def fill_to_json(self, value):
        record = np.asarray(value, dtype=self.dtype)
        out = {}
        for f in self.fields:
            if f.shape:
                raise DataTypeError(f"struct field {f.name!r} is a sub-array: it has no fill_value JSON")
            out[f.name] = f.data_type.fill_to_json(record[f.name][()])
        return out

    def cast_fill(self, value):
        """A user's fill value as a record: a record or 0-d array with the same field names, a
        dict with every field, a tuple/list of field values in order, ``bytes`` of the packed
        native record, or 0 (all zero bytes)."""
        if value is None or is_int_zero(value):
            return self.default_fill()
        names = [f.name for f in self.fields]
        if isinstance(value, (np.void, np.ndarray)) and value.dtype.names is not None:
            if list(value.dtype.names) != names or np.shape(value) != ():
                raise FillValueError(f"fill value {value!r} must be one record with the fields {names}")
            try:
                return _frozen(np.array(value).astype(self.dtype))
            except (ValueError, TypeError) as e:
                raise FillValueError(f"fill value {value!r} is not valid for this struct: {e}") from None
        if isinstance(value, (bytes, bytearray, memoryview)):
            if len(value) != self.dtype.itemsize:
                raise FillValueError(f"a bytes fill value for this struct must hold {self.dtype.itemsize} bytes "
                                     f"(the packed record), got {len(value)}")
            return _frozen(np.frombuffer(bytes(value), dtype=self.dtype).reshape(()).copy())
        if isinstance(value, dict):
            self._check_keys(value, "fill value")
            parts = [value[n] for n in names]
        elif isinstance(value, (tuple, list)):
            if len(value) != len(names):
                raise FillValueError(f"fill value {value!r} has {len(value)} items; the struct has fields {names}")
            parts = list(value)
        else:
            raise FillValueError(f"fill value {value!r} is not valid for a struct: give a dict, tuple or record")
        out = np.zeros((), dtype=self.dtype)
        for f, part in zip(self.fields, parts):
            try:
                if f.shape:
                    out[f.name] = np.broadcast_to(np.asarray(part, dtype=f.data_type.dtype), f.shape)
                else:
                    out[f.name] = f.data_type.cast_fill(part)
            except ZarrsyncError as e:
                raise _renamed(e, f.name) from None
            except (ValueError, TypeError) as e:
                raise FillValueError(f"struct field {f.name!r}: fill value {part!r} is not valid: {e}") from None
        return _frozen(out)
