"""Zarr v2 ``dtype`` and ``fill_value`` JSON: numpy typestrs and structured lists (``SPEC_CHECKLIST`` §4.2, §4.3).

``dtype`` is a numpy typestr that always carries its byte order (``"<f8"``, ``">i2"``, ``"|u1"``,
``"<U12"``, ``"|S10"``, ``"|V3"``, ``"<M8[10us]"``; datetime and timedelta typestrs must carry a
unit), or a structured list of ``[name, dtype]`` / ``[name, dtype, shape]`` entries, nestable:
``[["x", "<f4"], ["p", [["a", "|u1"], ["b", "<i2", [2]]]]]``. zarrsync keeps one byte order per
array (the ``bytes`` codec's), so a structured dtype whose fields mix ``<`` and ``>`` is refused.

``fill_value``: ``null`` (none), or by kind: bool ``true``/``false``; integers; floats as numbers
or ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; complex ``[re, im]``; ``U`` a plain string;
``M``/``m`` the int64 count (NaT is -9223372036854775808; ``"NaT"`` is read too); ``S``, ``V``
and structured dtypes base64 of the element's bytes as stored (structured fields in the
typestr's byte order). ``S`` fills are written with all ``itemsize`` bytes (tensorstore requires
that; zarr-python reads it), and read stripped or not. COMPAT (zarr 2.x before 2.11 wrote
``fill_value: 0`` for every type): an ``S`` fill that is not base64 (e.g. ``0``) is used as its
ASCII text (``b"0"``) and a ``U`` fill that is a number as its text (``"0"``), which is what
zarr 2 read them as (numpy's conversion of the number); a bool fill of ``0`` / ``1`` is
``false`` / ``true``.

>>> parse_v2_dtype([["x", "<f4"], ["y", "|S2"]])[0].to_json()["configuration"]["fields"][0]
{'name': 'x', 'data_type': 'float32'}
>>> v2_typestr(parse_v2_dtype(">M8[10us]")[0], "big")
'>M8[10us]'
"""

from __future__ import annotations

import binascii
import math
import sys
from typing import Any

import numpy as np

from ..dtypes import DataType, data_type_from_numpy, has_byte_order
from ..dtypes.fixed import b64decode, b64encode
from ..errors import DataTypeError, FillValueError, ZarrsyncError

__all__ = ["parse_v2_dtype", "v2_typestr", "v2_fill_from_json", "v2_fill_to_json", "stored_dtype"]

_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_NATIVE = "<" if sys.byteorder == "little" else ">"
_KINDS = "biufcUSVMm"


def _typestr_dtype(value: Any) -> np.dtype:
    """A v2 ``dtype`` value -> the numpy dtype it describes, byte orders as stored."""
    if isinstance(value, list):
        if not value:
            raise DataTypeError("v2 structured dtype must have at least one field, got []")
        entries: list[tuple] = []
        names = set()
        for item in value:
            if (not isinstance(item, list) or len(item) not in (2, 3) or not isinstance(item[0], str)
                    or not item[0]):
                raise DataTypeError(f"v2 structured dtype entry {item!r} must be [name, dtype] or "
                                    f"[name, dtype, shape] with a non-empty name")
            name = item[0]
            if name in names:
                raise DataTypeError(f"v2 structured dtype has the field name {name!r} more than once")
            names.add(name)
            try:
                sub = _typestr_dtype(item[1])
            except DataTypeError as e:
                raise DataTypeError(f"v2 structured dtype field {name!r}: {e}") from None
            if len(item) == 3:
                shape = item[2]
                if not isinstance(shape, list) or not all(
                        isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape):
                    raise DataTypeError(f"v2 structured dtype field {name!r}: shape must be a list of positive "
                                        f"integers, got {shape!r}")
                entries.append((name, sub, tuple(shape)))
            else:
                entries.append((name, sub))
        try:
            return np.dtype(entries)
        except (TypeError, ValueError) as e:
            raise DataTypeError(f"v2 structured dtype {value!r} is not valid: {e}") from None
    if isinstance(value, str) and value[1:2] == "O":
        raise DataTypeError(f"v2 dtype {value!r}: object elements are only possible as a whole array's dtype "
                            "('|O', with an object codec as the first filter), not here")
    if not isinstance(value, str) or len(value) < 3 or value[0] not in "<>|":
        raise DataTypeError(f"v2 dtype must be a typestr with a byte order like '<f8', or a structured list; "
                            f"got {value!r}")
    if value[1] not in _KINDS:
        raise DataTypeError(f"v2 dtype {value!r} is not supported (numpy kinds {_KINDS})")
    try:
        dt = np.dtype(value)
    except (TypeError, ValueError):
        raise DataTypeError(f"v2 dtype {value!r} is not a valid numpy typestr") from None
    if dt.kind in "US" and dt.itemsize == 0:
        raise DataTypeError(f"v2 dtype {value!r} has no length; variable-length strings and bytes are '|O' "
                            "arrays with a vlen-utf8 or vlen-bytes filter")
    if dt.kind in "Mm" and "[" not in value:
        raise DataTypeError(f"v2 dtype {value!r} must carry a unit, e.g. '{value}[ns]'")
    if value[0] == "|" and has_byte_order(dt):
        raise DataTypeError(f"v2 dtype {value!r}: a multi-byte type needs '<' or '>'")
    return dt


def _orders(dt: np.dtype) -> set[str]:
    """The byte orders (``<``/``>``) of every part of ``dt`` that has one."""
    if dt.names is not None:
        return set().union(*(_orders(dt[n]) for n in dt.names))
    if dt.subdtype is not None:
        return _orders(dt.subdtype[0])
    if dt.byteorder == "|":
        return set()
    return {_NATIVE if dt.byteorder == "=" else dt.byteorder}


def parse_v2_dtype(value: Any) -> tuple[DataType, str | None]:
    """A v2 ``dtype`` (typestr or structured list) -> (data type, stored byte order
    ``"little"``/``"big"``, or None when the type has none)."""
    dt = _typestr_dtype(value)
    orders = _orders(dt)
    if len(orders) > 1:
        raise DataTypeError(f"v2 dtype {value!r} mixes little- and big-endian fields; zarrsync stores one byte "
                            f"order per array")
    return data_type_from_numpy(dt), (None if not orders else "big" if orders == {">"} else "little")


def _typestr(dt: np.dtype, order: str) -> Any:
    if dt.names is not None:
        out = []
        for name in dt.names:
            field = dt[name]
            if field.subdtype is not None:
                out.append([name, _typestr(field.subdtype[0], order), list(field.subdtype[1])])
            else:
                out.append([name, _typestr(field, order)])
        return out
    return ("|" if dt.byteorder == "|" else order) + dt.str[1:]


def v2_typestr(data_type: DataType, endian: str | None) -> Any:
    """The v2 ``dtype`` of a data type stored with ``endian``: a typestr, or a list for a struct;
    ``"|O"`` for variable-length types (strings, bytes, objects)."""
    if not data_type.is_fixed_size:
        return "|O"
    return _typestr(data_type.dtype, ">" if endian == "big" else "<")


def stored_dtype(dtype: np.dtype, endian: str | None) -> np.dtype:
    """``dtype`` with every part that has a byte order in ``endian`` (None: as it is)."""
    if endian is None or (endian == "little") == (_NATIVE == "<"):
        return dtype
    return dtype.newbyteorder("<" if endian == "little" else ">")


def v2_fill_from_json(data_type: DataType, endian: str | None, value: Any) -> Any:
    """The ``.zarray`` ``fill_value`` -> a fill value of ``data_type`` (None stays None)."""
    if value is None:
        return None
    dt = data_type.dtype
    kind = dt.kind
    try:
        if not data_type.is_fixed_size:  # §4.3: plain JSON; 0 means "" / b"" for strings and bytes
            if isinstance(value, str) and data_type.default_fill() == b"":
                try:
                    return b64decode(value, data_type.name)
                except FillValueError:
                    return value.encode("utf-8")
            return data_type.cast_fill(value)
        if kind == "V":
            raw = b64decode(value, data_type.name)
            if len(raw) != dt.itemsize:
                raise ValueError(f"base64 of {len(raw)} bytes; the data type has {dt.itemsize}")
            if dt.names is None:
                return data_type.cast_fill(raw)
            return data_type.cast_fill(np.frombuffer(raw, dtype=stored_dtype(dt, endian)).astype(dt).reshape(()))
        if kind == "S":
            try:
                raw = b64decode(value, data_type.name)
            except FillValueError:  # COMPAT zarr 2.x: a value from before base64, e.g. 0
                raw = str(value).encode("ascii", "replace")
            return data_type.cast_fill(raw)
        if kind == "U":
            return data_type.cast_fill(_legacy_text_fill(value))
        if kind in "Mm":
            return data_type.fill_from_json(value)
        if kind == "c":
            if not isinstance(value, (list, tuple)) or len(value) != 2:
                raise ValueError("a complex fill value is a [real, imag] list")
            parts = [_SPECIAL_FLOATS.get(v, v) if isinstance(v, str) else v for v in value]
            return dt.type(complex(*parts))
        if kind == "f" and isinstance(value, str):
            if value not in _SPECIAL_FLOATS:
                raise ValueError("only 'NaN', 'Infinity' and '-Infinity' are allowed as strings")
            return dt.type(_SPECIAL_FLOATS[value])
        if kind == "b" and not isinstance(value, bool):
            if value not in (0, 1) or isinstance(value, float):  # COMPAT zarr 2.x wrote 0 (and 1)
                raise ValueError("a bool fill value is true or false (or 0 / 1, as zarr 2.x wrote)")
            value = bool(value)
        if kind in "iu" and (isinstance(value, bool) or not isinstance(value, int)):
            if not (isinstance(value, float) and value.is_integer()):
                raise ValueError("an integer fill value is an integer")
            value = int(value)  # an integral float, as some writers emit
        return data_type.cast_fill(value)
    except (ValueError, TypeError, binascii.Error, ZarrsyncError) as e:
        raise FillValueError(f".zarray fill_value {value!r} is not valid for {data_type.name}: {e}") from None


def _legacy_text_fill(value: Any) -> str:
    """A ``U`` fill value: a string; COMPAT (zarr 2.x before 2.11): a number, e.g. ``0``, which zarr
    2 kept as it was and numpy turned into its text (``np.full(n, 0, "<U4")`` holds ``"0"``), the
    same way an ``S`` fill of ``0`` reads as ``b"0"``."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError("a U fill value is a string (or a number, as zarr 2.x wrote)")


def v2_fill_to_json(data_type: DataType, endian: str | None, value: Any) -> Any:
    """A fill value -> the ``.zarray`` ``fill_value`` JSON (None stays None)."""
    if value is None:
        return None
    dt = data_type.dtype
    kind = dt.kind
    if not data_type.is_fixed_size:
        return b64encode(value) if isinstance(value, bytes) else data_type.fill_to_json(value)
    if kind in "SV":  # all itemsize bytes, as stored
        return b64encode(np.asarray(value, dtype=dt).astype(stored_dtype(dt, endian)).tobytes())
    if kind == "U":
        return str(value)
    if kind in "Mm":
        return int(np.asarray(value, dtype=dt).view(np.int64)[()])
    if kind == "c":
        return [_float_json(value.real), _float_json(value.imag)]
    if kind == "f":
        return _float_json(value)
    if kind == "b":
        return bool(value)
    return int(value)


def _float_json(v: Any) -> Any:
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v
