"""Zarr v2 metadata documents (``.zarray``, ``.zgroup``, ``.zattrs``) as frozen dataclasses.

Rules (``SPEC_CHECKLIST`` §4): ``.zarray`` holds ``zarr_format`` (2), ``shape``, ``chunks``,
``dtype`` (a numpy typestr with its byte order, e.g. ``"<f8"``), ``compressor`` (null or an
object with ``"id"``), ``fill_value``, ``order`` (``"C"`` or ``"F"``), ``filters`` (null or a list
of objects with ``"id"``; ``[]`` is read as null) and optionally ``dimension_separator`` (``"."``
default, or ``"/"``). Other keys are ignored. ``.zgroup`` is exactly ``{"zarr_format": 2}``;
attributes live in ``.zattrs`` (absent means ``{}``).

Data types and fill values (§4.2, §4.3) live in :mod:`zarrsync.metadata.v2_dtype`: numeric,
``U``, ``S``, ``V``, ``M``/``m`` typestrs and structured lists; ``null`` means no fill value
(missing chunks read as the data type's default: zero, ``""``, ``NaT``). Object dtypes raise
:class:`~zarrsync.errors.DataTypeError` naming the typestr. Filters and compressors are any
numcodecs-compatible codec (:mod:`zarrsync.codecs.numcodecs_builtin`, or one registered with
``register_codec``).

>>> md = parse_array_metadata_v2({"zarr_format": 2, "shape": [10], "chunks": [5], "dtype": ">i2",
...     "compressor": None, "fill_value": None, "order": "C", "filters": []})
>>> md.data_type.name, md.endian, md.filters, md.fill_value
('int16', 'big', None, None)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..codecs import (BloscCodec, BytesCodec, Codec, GzipCodec, NumcodecsArrayCodec, NumcodecsBytesCodec,
                      TransposeCodec, ZstdCodec, get_codec)
from ..codecs.base import ChunkSpec
from ..codecs.blosc import SHUFFLE_NAMES
from ..codecs.numcodecs_api import check_numcodecs_like
from ..codecs.numcodecs_wrap import OBJECT_CODEC_IDS, NumcodecsObjectCodec
from ..dtypes import BytesType, DataType, ObjectType, StringType
from ..dtypes.variable import fill_key, is_variable_length_dtype
from ..errors import MetadataError, UnknownExtensionError
from .keys import ChunkKeyEncoding
from .v3 import grid_shape
from .v2_dtype import parse_v2_dtype, v2_fill_from_json, v2_fill_to_json, v2_typestr

__all__ = [
    "ArrayMetadataV2", "GroupMetadataV2", "v2_codec_chain", "v2_codec_config", "parse_array_metadata_v2", "parse_group_metadata_v2",
    "parse_v2_dtype", "v2_typestr", "ZARRAY", "ZGROUP", "ZATTRS",
]

ZARRAY, ZGROUP, ZATTRS = ".zarray", ".zgroup", ".zattrs"


def _codec_config(value: Any, field: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise MetadataError(f".zarray {field} must be null or an object with an 'id', got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class ArrayMetadataV2:
    """The contents of ``.zarray`` (plus the attributes of ``.zattrs``).

    ``compressor`` and ``filters`` are kept as their JSON configs (``{"id": ...}``); the array
    layer turns them into codecs.
    """

    shape: tuple[int, ...]
    chunk_shape: tuple[int, ...]
    data_type: DataType
    endian: str | None
    fill_value: Any
    order: str = "C"
    compressor: dict | None = None
    filters: tuple[dict, ...] | None = None
    dimension_separator: str = "."
    attributes: dict = dataclasses.field(default_factory=dict)

    zarr_format = 2
    dimension_names = None  # v2 has none

    def __eq__(self, other):
        # fill values compare by their bits, as in the v3 ArrayMetadata: NaN, NaT and records
        # holding them must make a document equal to its own re-parse
        if not isinstance(other, ArrayMetadataV2):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name)
                   for f in dataclasses.fields(self) if f.name != "fill_value") and \
            fill_key(self.fill_value, self.dtype) == fill_key(other.fill_value, other.dtype)

    def __post_init__(self):
        for field, value, minimum in (("shape", self.shape, 0), ("chunks", self.chunk_shape, 1)):
            if not isinstance(value, tuple) or not all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value):
                raise MetadataError(f".zarray {field} must be a list of integers >= {minimum}, got {value!r}")
        if len(self.chunk_shape) != len(self.shape):
            raise MetadataError(f".zarray chunks {list(self.chunk_shape)} and shape {list(self.shape)} differ in length")
        if self.order not in ("C", "F"):
            raise MetadataError(f".zarray order must be 'C' or 'F', got {self.order!r}")
        if self.dimension_separator not in (".", "/"):
            raise MetadataError(f".zarray dimension_separator must be '.' or '/', got {self.dimension_separator!r}")

    @property
    def dtype(self) -> np.dtype:
        return self.data_type.dtype

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return grid_shape(self.shape, self.chunk_shape)

    @property
    def chunk_key_encoding(self) -> ChunkKeyEncoding:
        """v2 chunk keys: indices joined by the dimension separator, no prefix; 0-d is ``"0"``."""
        return ChunkKeyEncoding("v2", self.dimension_separator)

    def chunk_spec(self) -> ChunkSpec:
        """What every chunk holds; a null fill value reads as zero (what zarr-python does)."""
        fill = self.data_type.default_fill() if self.fill_value is None else self.fill_value
        return ChunkSpec(self.chunk_shape, self.data_type.dtype, fill)

    @property
    def codecs(self) -> tuple[Codec, ...]:
        """The equivalent codec chain: filters, ``transpose`` for F order, ``bytes``, compressor."""
        return v2_codec_chain(self)

    def to_json(self) -> dict:
        """The ``.zarray`` document (attributes go to ``.zattrs``)."""
        doc = {
            "zarr_format": 2,
            "shape": list(self.shape),
            "chunks": list(self.chunk_shape),
            "dtype": v2_typestr(self.data_type, self.endian),
            "compressor": self.compressor,
            "fill_value": v2_fill_to_json(self.data_type, self.endian, self.fill_value),
            "order": self.order,
            "filters": None if self.filters is None else list(self.filters),
        }
        if self.dimension_separator != ".":
            doc["dimension_separator"] = self.dimension_separator
        return doc


def object_data_type(filters: tuple[dict, ...] | None) -> DataType:
    """The data type of a v2 ``|O`` array, from its object codec (the first filter):
    ``vlen-utf8`` -> ``string``, ``vlen-bytes`` -> ``bytes``, the others -> objects."""
    first = filters[0]["id"] if filters else None
    if first == "vlen-utf8":
        return StringType()
    if first == "vlen-bytes":
        return BytesType()
    if first in OBJECT_CODEC_IDS:
        return ObjectType()
    raise MetadataError(f"a v2 object array ('|O') needs an object codec ({', '.join(sorted(OBJECT_CODEC_IDS))}) "
                        f"as its first filter; filters are {list(filters or ())!r}")


def v2_codec_chain(md: ArrayMetadataV2) -> tuple[Codec, ...]:
    """The one home of the v2 -> codec-chain mapping (``SPEC_CHECKLIST`` §1.10, §4.4):
    ``transpose`` reversing the axes for ``order: "F"`` (chunks are stored column-major, and the
    filters see them in that order), the filters in order, ``bytes`` with the typestr's byte
    order, then the compressor."""
    chain: list[Codec] = []
    if md.order == "F" and len(md.shape) > 1:
        chain.append(TransposeCodec(tuple(range(len(md.shape) - 1, -1, -1))))
    if is_variable_length_dtype(md.dtype):  # the object codec (first filter) serialises the chunk
        first, *rest = md.filters or (None,)
        if first is None or first["id"] not in OBJECT_CODEC_IDS:
            raise MetadataError(f"a v2 object array needs an object codec ({', '.join(sorted(OBJECT_CODEC_IDS))}) "
                                f"as its first filter, got filters {md.filters!r}")
        chain.append(NumcodecsObjectCodec(get_codec(first)))
        chain.extend(NumcodecsBytesCodec(get_codec(f)) for f in rest)
    else:
        chain.extend(NumcodecsArrayCodec(get_codec(f)) for f in md.filters or ())
        chain.append(BytesCodec(md.endian))
    if md.compressor is not None:
        # after an object codec the compressor sees that codec's bytes: items of one byte
        itemsize = 1 if is_variable_length_dtype(md.dtype) else md.dtype.itemsize
        chain.append(_v2_compressor(md.compressor, itemsize))
    return tuple(chain)


def _v2_compressor(config: dict, itemsize: int) -> Codec:
    """zstd, gzip and blosc map to the built-in v3 codecs (same bytes, and their fast read paths:
    decoding straight into buffers); any other id to the numcodecs-compatible codec of that id."""
    cid = config["id"]
    if cid == "zstd":
        return ZstdCodec(config.get("level", 0), bool(config.get("checksum", False)))
    if cid == "gzip":
        return GzipCodec(config.get("level", 1))
    if cid == "blosc":
        get_codec(config)  # validates the config as numcodecs would
        shuffle = config.get("shuffle", 1)
        if shuffle == -1:  # numcodecs' AUTOSHUFFLE: bit-shuffle for 1-byte items, else byte
            shuffle = 2 if itemsize == 1 else 1
        return BloscCodec(cname=config.get("cname", "lz4"), clevel=config.get("clevel", 5),
                          shuffle=SHUFFLE_NAMES[shuffle], typesize=itemsize, blocksize=config.get("blocksize", 0))
    return NumcodecsBytesCodec(get_codec(config))


def v2_codec_config(codec: Any) -> dict:
    """The numcodecs-style ``.zarray`` config of a compressor or filter: a config dict, a
    numcodecs-like object, a wrapped one, or a built-in codec with a v2 form."""
    if isinstance(codec, dict):
        if not isinstance(codec.get("id"), str):
            raise MetadataError(f"a v2 codec config needs an 'id', got {codec!r}")
        get_codec(codec)  # refuse an unknown id now
        return dict(codec)
    if isinstance(codec, (NumcodecsBytesCodec, NumcodecsArrayCodec)):
        return codec.codec.get_config()
    if isinstance(codec, ZstdCodec):
        # "checksum" only when true: tensorstore's v2 reader refuses the key, numcodecs defaults it
        return {"id": "zstd", "level": codec.level, **({"checksum": True} if codec.checksum else {})}
    if isinstance(codec, GzipCodec):
        return {"id": "gzip", "level": codec.level}
    if isinstance(codec, BloscCodec):
        return {"id": "blosc", "cname": codec.cname, "clevel": codec.clevel,
                "shuffle": SHUFFLE_NAMES.index(codec.shuffle), "blocksize": codec.blocksize}
    if isinstance(codec, Codec):
        raise UnknownExtensionError(f"codec {codec.name!r} has no Zarr v2 form")
    return check_numcodecs_like(codec).get_config()


@dataclasses.dataclass(frozen=True)
class GroupMetadataV2:
    """A v2 group: ``.zgroup`` (always ``{"zarr_format": 2}``) and the attributes of ``.zattrs``."""

    attributes: dict = dataclasses.field(default_factory=dict)

    zarr_format = 2

    def to_json(self) -> dict:
        return {"zarr_format": 2}


def _attributes(attrs: Any) -> dict:
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise MetadataError(f".zattrs must hold a JSON object, got {type(attrs).__name__}")
    return attrs


def parse_array_metadata_v2(doc: Any, attrs: Any = None) -> ArrayMetadataV2:
    """Parse a ``.zarray`` document (and the ``.zattrs`` one, if any), both JSON-decoded."""
    if not isinstance(doc, dict):
        raise MetadataError(f".zarray must hold a JSON object, got {type(doc).__name__}")
    if doc.get("zarr_format") != 2:
        raise MetadataError(f".zarray zarr_format must be 2, got {doc.get('zarr_format')!r}")
    for field in ("shape", "chunks", "dtype", "compressor", "fill_value", "order", "filters"):
        if field not in doc:
            raise MetadataError(f".zarray is missing the required field {field!r}")
    for field in ("shape", "chunks"):
        if not isinstance(doc[field], list):
            raise MetadataError(f".zarray {field} must be a list of integers, got {doc[field]!r}")
    filters = doc["filters"]
    if filters is not None and not isinstance(filters, list):
        raise MetadataError(f".zarray filters must be null or a list, got {filters!r}")
    filters = tuple(_codec_config(f, "filters entry") for f in filters) if filters else None
    if doc["dtype"] == "|O":
        data_type, endian = object_data_type(filters), None
    else:
        data_type, endian = parse_v2_dtype(doc["dtype"])
    return ArrayMetadataV2(
        shape=tuple(doc["shape"]),
        chunk_shape=tuple(doc["chunks"]),
        data_type=data_type,
        endian=endian,
        fill_value=v2_fill_from_json(data_type, endian, doc["fill_value"]),
        order=doc["order"],
        compressor=_codec_config(doc["compressor"], "compressor"),
        filters=filters,
        dimension_separator=doc.get("dimension_separator", "."),
        attributes=_attributes(attrs),
    )


def parse_group_metadata_v2(doc: Any, attrs: Any = None) -> GroupMetadataV2:
    """Parse a ``.zgroup`` document (and the ``.zattrs`` one, if any)."""
    if not isinstance(doc, dict) or doc.get("zarr_format") != 2:
        raise MetadataError(f".zgroup must be {{'zarr_format': 2}}, got {doc!r}")
    return GroupMetadataV2(attributes=_attributes(attrs))
