"""Zarr v3 ``zarr.json`` documents for arrays and groups, as frozen dataclasses.

``parse_*`` functions turn JSON into dataclasses and raise :class:`~zarrsync.errors.MetadataError`
naming the offending field; ``to_json`` writes every field explicitly. Unknown top-level keys are
accepted only when their value is an object with ``"must_understand": false``; they are kept
and written back unchanged (``SPEC_CHECKLIST`` §1.2).

COMPAT (§2.1): an array of the legacy ``structured`` data type (zarr-python 3.1) whose ``bytes``
codec has no ``endian`` is read as little-endian, with a warning; rewriting its metadata writes
``struct`` and ``"endian": "little"``.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from ..codecs import BytesCodec, Codec, ShardingCodec, parse_codec
from ..codecs.numcodecs_wrap import place_numcodecs
from ..codecs.base import ChunkSpec
from ..dtypes import DataType, StructType, data_type_from_json, has_byte_order
from ..dtypes.variable import fill_key
from ..errors import MetadataError, UnknownExtensionError
from .keys import ChunkKeyEncoding, parse_chunk_key_encoding

__all__ = ["ArrayMetadata", "GroupMetadata", "parse_array_metadata", "parse_group_metadata"]

_ARRAY_KEYS = frozenset({
    "zarr_format", "node_type", "shape", "data_type", "chunk_grid", "chunk_key_encoding",
    "fill_value", "codecs", "attributes", "storage_transformers", "dimension_names",
})
_GROUP_KEYS = frozenset({"zarr_format", "node_type", "attributes"})


@dataclasses.dataclass(frozen=True)
class ArrayMetadata:
    """The contents of an array's ``zarr.json``.

    ``attributes`` and ``extra`` are plain dicts: treat them as read-only (updates build a new
    metadata object with :func:`dataclasses.replace`).
    """

    shape: tuple[int, ...]
    data_type: DataType
    chunk_shape: tuple[int, ...]
    fill_value: Any
    codecs: tuple[Codec, ...]
    chunk_key_encoding: ChunkKeyEncoding = ChunkKeyEncoding()
    attributes: dict = dataclasses.field(default_factory=dict)
    dimension_names: tuple[str | None, ...] | None = None
    storage_transformers: tuple = ()
    extra: dict = dataclasses.field(default_factory=dict)

    zarr_format = 3

    def __post_init__(self):
        _check_shape("shape", self.shape, minimum=0)
        _check_shape("chunk_grid.configuration.chunk_shape", self.chunk_shape, minimum=1)
        if len(self.chunk_shape) != len(self.shape):
            raise MetadataError(f"chunk_shape {list(self.chunk_shape)} has {len(self.chunk_shape)} dimensions, "
                                f"shape {list(self.shape)} has {len(self.shape)}")
        if not self.codecs:
            raise MetadataError("codecs must not be empty")
        if self.dimension_names is not None:
            if len(self.dimension_names) != len(self.shape):
                raise MetadataError(f"dimension_names {list(self.dimension_names)} must have one entry per "
                                    f"dimension ({len(self.shape)})")
            if not all(n is None or isinstance(n, str) for n in self.dimension_names):
                raise MetadataError(f"dimension_names entries must be strings or null, got {list(self.dimension_names)}")

    def __eq__(self, other):
        # fill values compare by their bits: a NaN fill (numpy says nan != nan) must still make a
        # document equal to its own re-parse, and -0.0 / NaN payloads must not compare equal to 0.0 / NaN
        if not isinstance(other, ArrayMetadata):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name)
                   for f in dataclasses.fields(self) if f.name != "fill_value") and \
            fill_key(self.fill_value, self.dtype) == fill_key(other.fill_value, other.dtype)

    @property
    def dtype(self):
        return self.data_type.dtype

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """Chunks per dimension (0 where the dimension is empty)."""
        return grid_shape(self.shape, self.chunk_shape)

    def chunk_spec(self) -> ChunkSpec:
        """What every chunk holds (edge chunks are stored full size, so there is one spec)."""
        return ChunkSpec(self.chunk_shape, self.data_type.dtype, self.fill_value)

    def chunk_key(self, coords: tuple[int, ...]) -> str:
        return self.chunk_key_encoding.encode(coords)

    def to_json(self) -> dict:
        doc = {
            "zarr_format": 3,
            "node_type": "array",
            "shape": list(self.shape),
            "data_type": self.data_type.to_json(),
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(self.chunk_shape)}},
            "chunk_key_encoding": self.chunk_key_encoding.to_json(),
            "fill_value": self.data_type.fill_to_json(self.fill_value),
            "codecs": [c.to_json() for c in self.codecs],
            "attributes": self.attributes,
            "storage_transformers": list(self.storage_transformers),
        }
        if self.dimension_names is not None:
            doc["dimension_names"] = list(self.dimension_names)
        doc.update(self.extra)
        return doc


@dataclasses.dataclass(frozen=True)
class GroupMetadata:
    """The contents of a group's ``zarr.json``."""

    attributes: dict = dataclasses.field(default_factory=dict)
    extra: dict = dataclasses.field(default_factory=dict)

    zarr_format = 3

    def to_json(self) -> dict:
        return {"zarr_format": 3, "node_type": "group", "attributes": self.attributes, **self.extra}


def _check_shape(field: str, value, minimum: int) -> None:
    if not isinstance(value, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value):
        raise MetadataError(f"{field} must be a list of integers >= {minimum}, got {value!r}")


def grid_shape(shape: tuple[int, ...], chunk_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Chunks per dimension, in integer arithmetic (``math.ceil(s / c)`` rounds through a float:
    wrong above 2 ** 53 and OverflowError above 1e308)."""
    return tuple(-(-s // c) for s, c in zip(shape, chunk_shape))


def _int_list(doc: dict, field: str, value) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise MetadataError(f"{field} must be a list of integers, got {value!r}")
    return tuple(value)


def _extra_keys(doc: dict, known: frozenset, what: str) -> dict:
    extra = {}
    for key, value in doc.items():
        if key in known:
            continue
        if isinstance(value, dict) and value.get("must_understand") is False:
            extra[key] = value
        else:
            raise UnknownExtensionError(f"{what} metadata has unknown field {key!r} that must be understood")
    return extra


def _check_header(doc: Any, node_type: str) -> None:
    if not isinstance(doc, dict):
        raise MetadataError(f"zarr.json must hold a JSON object, got {type(doc).__name__}")
    if doc.get("zarr_format") != 3:
        raise MetadataError(f"zarr_format must be 3, got {doc.get('zarr_format')!r}")
    if doc.get("node_type") != node_type:
        raise MetadataError(f"node_type must be {node_type!r}, got {doc.get('node_type')!r}")


def _attributes(doc: dict) -> dict:
    attrs = doc.get("attributes", {})
    if not isinstance(attrs, dict):
        raise MetadataError(f"attributes must be an object, got {attrs!r}")
    return attrs


def parse_array_metadata(doc: Any) -> ArrayMetadata:
    """Parse an array ``zarr.json`` document (already JSON-decoded)."""
    _check_header(doc, "array")
    for field in ("shape", "data_type", "chunk_grid", "chunk_key_encoding", "fill_value", "codecs"):
        if field not in doc:
            raise MetadataError(f"array metadata is missing the required field {field!r}")
    shape = _int_list(doc, "shape", doc["shape"])
    data_type = data_type_from_json(doc["data_type"])

    grid = doc["chunk_grid"]
    if isinstance(grid, dict) and grid.get("must_understand") is False:
        raise MetadataError("chunk_grid may not say must_understand: false")
    if grid == "regular":
        raise MetadataError("chunk_grid 'regular' needs a configuration with chunk_shape")
    if not isinstance(grid, dict) or grid.get("name") != "regular":
        name = grid.get("name") if isinstance(grid, dict) else grid
        raise UnknownExtensionError(f"unknown chunk_grid {name!r}: only 'regular' is supported")
    grid_config = grid.get("configuration")
    if not isinstance(grid_config, dict) or "chunk_shape" not in grid_config:
        raise MetadataError("chunk_grid.configuration.chunk_shape is missing")
    chunk_shape = _int_list(doc, "chunk_grid.configuration.chunk_shape", grid_config["chunk_shape"])

    codecs_json = doc["codecs"]
    if not isinstance(codecs_json, list) or not codecs_json:
        raise MetadataError(f"codecs must be a non-empty list, got {codecs_json!r}")
    codecs = place_numcodecs(tuple(parse_codec(v) for v in codecs_json))
    if isinstance(data_type, StructType) and data_type.legacy and has_byte_order(data_type.dtype):
        codecs = _legacy_little_endian(codecs)

    transformers = doc.get("storage_transformers", [])
    if not isinstance(transformers, list):
        raise MetadataError(f"storage_transformers must be a list, got {transformers!r}")
    for t in transformers:
        if not (isinstance(t, dict) and t.get("must_understand") is False):
            name = t.get("name") if isinstance(t, dict) else t
            raise UnknownExtensionError(f"unknown storage transformer {name!r}")

    names = doc.get("dimension_names")
    if names is not None and not isinstance(names, list):
        raise MetadataError(f"dimension_names must be a list, got {names!r}")
    return ArrayMetadata(
        shape=shape,
        data_type=data_type,
        chunk_shape=chunk_shape,
        fill_value=data_type.fill_from_json(doc["fill_value"]),
        codecs=codecs,
        chunk_key_encoding=parse_chunk_key_encoding(doc["chunk_key_encoding"]),
        attributes=_attributes(doc),
        dimension_names=None if names is None else tuple(names),
        storage_transformers=tuple(transformers),
        extra=_extra_keys(doc, _ARRAY_KEYS, "array"),
    )


def _legacy_little_endian(codecs: tuple[Codec, ...]) -> tuple[Codec, ...]:
    """``bytes`` codecs without ``endian`` (here or inside sharding) made little-endian, with a warning."""
    out = []
    for c in codecs:
        if isinstance(c, BytesCodec) and c.endian is None:
            warnings.warn("data type 'structured' with a 'bytes' codec that has no 'endian': read as little-endian "
                          "(zarr-python 3.1 wrote it so)", UserWarning, stacklevel=4)
            c = BytesCodec("little")
        elif isinstance(c, ShardingCodec):
            c = dataclasses.replace(c, codecs=_legacy_little_endian(c.codecs))
        out.append(c)
    return tuple(out)


def parse_group_metadata(doc: Any) -> GroupMetadata:
    """Parse a group ``zarr.json`` document (already JSON-decoded)."""
    _check_header(doc, "group")
    extra = {}
    for key, value in doc.items():
        if key in _GROUP_KEYS:
            continue
        if key == "consolidated_metadata" or (isinstance(value, dict) and value.get("must_understand") is False):
            extra[key] = value  # consolidated metadata is kept as it is (it has no extension shape)
        else:
            raise UnknownExtensionError(f"group metadata has unknown field {key!r} that must be understood")
    return GroupMetadata(attributes=_attributes(doc), extra=extra)
