"""Building the metadata of a new array from what a user passes to ``create_array``.

The one home of creation defaults, chosen to match zarr-python 3 where a user would expect it:

- ``chunks="auto"``: :func:`guess_chunks` (about 1 MiB chunks, halving the longest axis);
- ``compressors="auto"``: ``zstd`` level 0 without checksum;
- ``serializer="auto"``: ``bytes`` with ``endian: "little"`` (``"big"`` when the user spelled a
  big-endian numpy dtype); no configuration for types without a byte order (1-byte types,
  ``S``, ``V``), but a struct with any multi-byte field gets ``endian`` (zarr-python warns
  without it);
- ``filters=None``: no array -> array codec;
- ``fill_value`` not given: the data type's zero (``""``/``b""`` for strings and bytes, ``NaT``
  for datetime64 and timedelta64), as zarr-python. ``fill_value=None`` is the same in v3, but a
  v2 array stores ``null``, as zarr-python does (read back, a null fill is that zero; xarray reads
  a non-null v2 fill value as ``_FillValue``, so its v2 arrays without one need ``null``);
- ``chunk_key_encoding=None``: ``default`` with ``/``;
- ``shards=None``: no sharding. With ``shards``, ``chunks`` is the inner chunk shape and the
  codecs above become the inner codecs of a ``sharding_indexed`` codec whose index is
  ``bytes`` + ``crc32c`` at the end of each shard (zarr-python's defaults).

Codecs may be given as codec objects, as v3 JSON (``{"name": ..., "configuration": ...}``) or as
short-hand names.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .codecs import (ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec, BytesCodec, Codec, Crc32cCodec,
                     NumcodecsLike, ShardingCodec, ZstdCodec, numcodecs_v3_codec, parse_codec)
from .codecs.base import SkippedCodec
from .codecs.numcodecs_wrap import OBJECT_CODEC_IDS
from .dtypes import DataType, has_byte_order, parse_data_type
from .errors import CodecError, MetadataError
from .metadata import ArrayMetadata, parse_chunk_key_encoding
from .metadata.v2 import ArrayMetadataV2, object_data_type, v2_codec_config

__all__ = ["build_array_metadata", "guess_chunks", "normalize_shape", "DEFAULT_FILL"]


class _DefaultFill:
    """The ``fill_value`` of a caller who gave none (apart from ``None``, which v2 stores as null)."""

    def __repr__(self) -> str:
        return "<default fill>"


DEFAULT_FILL = _DefaultFill()

_TARGET_CHUNK_BYTES = 1 << 20


def normalize_shape(shape: Any, what: str = "shape") -> tuple[int, ...]:
    if isinstance(shape, int):
        shape = (shape,)
    try:
        out = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise MetadataError(f"{what} must be an int or a sequence of ints, got {shape!r}") from None
    if any(s < 0 for s in out) or any(int(s) != s for s in shape):
        raise MetadataError(f"{what} must hold non-negative integers, got {shape!r}")
    return out


def guess_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """A chunk shape of at most about 1 MiB: start from the whole array, halve the longest axis."""
    chunks = [max(s, 1) for s in shape]
    while math.prod(chunks) * itemsize > _TARGET_CHUNK_BYTES and max(chunks) > 1:
        i = chunks.index(max(chunks))
        chunks[i] = math.ceil(chunks[i] / 2)
    return tuple(chunks)


def _big_endian(dtype: Any) -> bool:
    """True when the user spelled a big-endian numpy dtype (``">i4"``, a struct whose multi-byte
    fields are all ``">"``): it is stored big-endian then."""
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        return False
    orders = _orders(dt)
    return bool(orders) and orders <= {">"}


def _orders(dt: np.dtype) -> set[str]:
    if dt.names is not None:
        return set().union(*(_orders(dt[n]) for n in dt.names))
    if dt.subdtype is not None:
        return _orders(dt.subdtype[0])
    return {dt.byteorder} if dt.byteorder in "<>=" else set()


def _has_multi_byte_field(dt: np.dtype) -> bool:
    if dt.subdtype is not None:
        return _has_multi_byte_field(dt.subdtype[0])
    if dt.names is None:
        return dt.itemsize > 1
    return any(_has_multi_byte_field(dt[n]) for n in dt.names)


def _endian(dtype: Any, data_type: DataType, zarr_format: int) -> str | None:
    """The stored byte order of a new array: None when the data type has none. In v3 a struct
    with a multi-byte field (even ``S4``) gets one, as the ``struct`` spec words it."""
    dt = data_type.dtype
    needed = has_byte_order(dt) or (zarr_format == 3 and dt.names is not None and _has_multi_byte_field(dt))
    if not needed:
        return None
    return "big" if _big_endian(dtype) else "little"


def _codec_list(value: Any, kind: type[Codec], what: str) -> list[Codec]:
    if value is None:
        return []
    if isinstance(value, (Codec, dict, str)):
        value = [value]
    codecs: list[Codec] = []
    for v in value:
        if not isinstance(v, (Codec, dict, str)) and isinstance(v, NumcodecsLike):
            codec = numcodecs_v3_codec(v, kind="filter" if kind is ArrayArrayCodec else "bytes")
        else:
            codec = parse_codec(v)
        if not isinstance(codec, (kind, SkippedCodec)):
            raise CodecError(f"{what}: codec {codec.name!r} is not an {kind.__name__.replace('Codec', '')} codec")
        codecs.append(codec)
    return codecs


def _flat_key_encoding(value: Any) -> Any:
    """Accept zarr-python's flat form ``{"name": "v2", "separator": "."}`` as well as v3 JSON."""
    if isinstance(value, dict) and "separator" in value and "configuration" not in value:
        return {"name": value.get("name", "default"), "configuration": {"separator": value["separator"]}}
    return value


def build_array_metadata(
    *,
    shape: Any,
    dtype: Any,
    chunks: Any = "auto",
    fill_value: Any = DEFAULT_FILL,
    compressors: Any = "auto",
    filters: Any = None,
    serializer: Any = "auto",
    attributes: dict | None = None,
    dimension_names: Sequence[str | None] | None = None,
    chunk_key_encoding: Any = None,
    shards: Any = None,
    zarr_format: int = 3,
    order: str | None = None,
    dimension_separator: str | None = None,
    object_codec: Any = None,
) -> ArrayMetadata | ArrayMetadataV2:
    """The metadata of a new array; raises MetadataError/CodecError naming a bad argument."""
    if zarr_format not in (2, 3):
        raise MetadataError(f"zarr_format must be 2 or 3, got {zarr_format!r}")
    shape = normalize_shape(shape)
    if zarr_format == 2 and (object_codec is not None or _is_object_dtype(dtype)):
        object_codec = v2_codec_config(_maybe_parse(object_codec)) if object_codec is not None else None
        data_type = _v2_object_type(dtype, object_codec)
        if object_codec is not None:
            filters = [object_codec, *_as_list(filters)]
    else:
        if object_codec is not None:
            raise MetadataError("object_codec is a Zarr v2 setting; in v3 use dtype=str, dtype=bytes or "
                                "dtype=zarrsync.dtypes.JSON()")
        data_type = parse_data_type(dtype)
    if chunks is None or chunks == "auto" or chunks is True:
        chunk_shape = guess_chunks(shape, data_type.itemsize)
    else:
        chunk_shape = normalize_shape(chunks, "chunks")
        if len(chunk_shape) != len(shape):
            raise MetadataError(f"chunks {chunks!r} must have one entry per dimension of shape {shape}")
        if any(c < 1 for c in chunk_shape):
            raise MetadataError(f"chunks must be positive, got {chunks!r}")

    if zarr_format == 2:
        return _v2_metadata(shape, dtype, data_type, chunk_shape, fill_value, compressors, filters, serializer,
                            attributes, dimension_names, chunk_key_encoding, shards, order, dimension_separator)
    if order not in (None, "C") or dimension_separator is not None:
        raise MetadataError("order and dimension_separator are Zarr v2 settings; in v3 use a transpose filter "
                            "and chunk_key_encoding")
    data_type.to_json()  # refuse now a data type with no v3 form (a struct with a sub-array field)
    # a type naming "bytes" gets what every fixed-size type gets: the codec with its endian
    if (serializer == "auto" or serializer is None) and data_type.default_serializer not in (None, "bytes"):
        serializer_codec: Codec = parse_codec(data_type.default_serializer)
    elif serializer == "auto" or serializer is None:
        serializer_codec = BytesCodec(_endian(dtype, data_type, 3))
    else:
        parsed = _codec_list(serializer, ArrayBytesCodec, "serializer")
        if len(parsed) != 1:
            raise CodecError(f"serializer must be exactly one array -> bytes codec, got {serializer!r}")
        serializer_codec = parsed[0]
    if compressors == "auto":
        compressor_codecs: list[Codec] = [ZstdCodec(level=0, checksum=False)]
    else:
        compressor_codecs = _codec_list(compressors, BytesBytesCodec, "compressors")
    filter_codecs = _codec_list(filters, ArrayArrayCodec, "filters")

    codecs = (*filter_codecs, serializer_codec, *compressor_codecs)
    grid_shape = chunk_shape
    if shards is not None:
        grid_shape = normalize_shape(shards, "shards")
        if len(grid_shape) != len(shape):
            raise MetadataError(f"shards {shards!r} must have one entry per dimension of shape {shape}")
        if any(s < 1 or s % c for s, c in zip(grid_shape, chunk_shape)):
            raise MetadataError(f"shards {list(grid_shape)} must be positive multiples of chunks {list(chunk_shape)}")
        # zarr-python's convention: `chunks` is the inner chunk shape, `shards` the stored objects
        codecs = (ShardingCodec(chunk_shape, codecs, (BytesCodec("little"), Crc32cCodec()), "end"),)
    fill = data_type.cast_fill(None if fill_value is DEFAULT_FILL else fill_value)
    if dimension_names is not None:
        dimension_names = tuple(dimension_names)
    if attributes is not None and not isinstance(attributes, dict):
        raise MetadataError(f"attributes must be a dict, got {type(attributes).__name__}")
    return ArrayMetadata(
        shape=shape,
        data_type=data_type,
        chunk_shape=grid_shape,
        fill_value=fill,
        codecs=codecs,
        chunk_key_encoding=parse_chunk_key_encoding(_flat_key_encoding(chunk_key_encoding) or {"name": "default"}),
        attributes=dict(attributes or {}),
        dimension_names=dimension_names,
    )


_V2_DEFAULT_COMPRESSOR = {"id": "zstd", "level": 0}  # no "checksum" key: tensorstore's v2 reader refuses it


def _v2_metadata(shape, dtype, data_type, chunk_shape, fill_value, compressors, filters, serializer, attributes,
                 dimension_names, chunk_key_encoding, shards, order, dimension_separator) -> ArrayMetadataV2:
    """A new v2 array's ``.zarray`` (what ``create_array(zarr_format=2, ...)`` builds).

    ``compressors`` is at most one compressor and ``filters`` a list, each given as a numcodecs
    config (``{"id": ...}``), a numcodecs-like object (zarrsync's or numcodecs' own), or a
    built-in codec that has a v2 form (``zstd``, ``gzip``, ``blosc``).
    """
    for name, value in (("shards", shards), ("dimension_names", dimension_names)):
        if value is not None:
            raise MetadataError(f"{name} are a Zarr v3 feature; this array is Zarr v2")
    if serializer not in ("auto", None):
        raise MetadataError("a serializer is a Zarr v3 setting; v2 arrays always use their dtype's byte layout")
    if compressors == "auto":
        given = [dict(_V2_DEFAULT_COMPRESSOR)]
    else:
        given = _as_list(compressors)
    if len(given) > 1:
        raise MetadataError(f"a Zarr v2 array has at most one compressor, got {len(given)}")
    compressor = v2_codec_config(_maybe_parse(given[0])) if given else None
    filter_configs = tuple(v2_codec_config(_maybe_parse(f)) for f in _as_list(filters)) or None
    if not data_type.is_fixed_size and not (filter_configs and filter_configs[0]["id"] in OBJECT_CODEC_IDS):
        default = _V2_OBJECT_CODEC.get(data_type.name)
        if default is None:
            raise MetadataError("a Zarr v2 object array needs object_codec= (e.g. {'id': 'json2'}, "
                                "{'id': 'msgpack2'}, {'id': 'vlen-array', 'dtype': '<i4'})")
        filter_configs = ({"id": default}, *(filter_configs or ()))
    if isinstance(chunk_key_encoding, dict) and dimension_separator is None:
        dimension_separator = (chunk_key_encoding.get("configuration") or chunk_key_encoding).get("separator")
    endian = _endian(dtype, data_type, 2)
    md = ArrayMetadataV2(
        shape=shape, chunk_shape=chunk_shape, data_type=data_type, endian=endian,
        fill_value=None if fill_value is None else data_type.cast_fill(None if fill_value is DEFAULT_FILL else fill_value),
        order=order or "C", compressor=compressor,
        filters=filter_configs, dimension_separator=dimension_separator or ".", attributes=dict(attributes or {}),
    )
    md.codecs  # noqa: B018 - refuse an unusable codec now, not at the first write
    return md


_V2_OBJECT_CODEC = {"string": "vlen-utf8", "bytes": "vlen-bytes", "variable_length_bytes": "vlen-bytes"}


def _is_object_dtype(dtype: Any) -> bool:
    if isinstance(dtype, DataType) or dtype is None:
        return False
    try:
        return np.dtype(dtype).kind == "O"
    except (TypeError, ValueError):
        return False


def _v2_object_type(dtype: Any, object_codec: dict | None) -> DataType:
    """The data type of a new v2 array given ``object_codec`` (or ``dtype=object``)."""
    if object_codec is None:
        raise MetadataError("dtype=object needs object_codec= in Zarr v2 (e.g. {'id': 'json2'}); "
                            "for text use dtype=str, for bytes dtype=bytes")
    if object_codec["id"] not in OBJECT_CODEC_IDS:
        raise MetadataError(f"object_codec {object_codec['id']!r} is not an object codec "
                            f"({', '.join(sorted(OBJECT_CODEC_IDS))})")
    if _is_object_dtype(dtype):
        return object_data_type((object_codec,))
    data_type = parse_data_type(dtype)
    if data_type.is_fixed_size:
        raise MetadataError(f"object_codec is for object, string and bytes arrays, not {data_type.name}")
    return data_type


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _maybe_parse(value: Any) -> Any:
    """v3 codec JSON (``{"name": ...}``) or a name becomes a codec; anything else stays as given."""
    if isinstance(value, str) or (isinstance(value, dict) and "name" in value and "id" not in value):
        return parse_codec(value)
    return value
