"""Tests of zarrsync.metadata: v3 ``zarr.json`` for arrays and groups, chunk key encodings, fill values.

Expected values are written out by hand from the spec (SPEC_CHECKLIST §1.2-§1.7) or computed with
numpy / struct, never taken from zarrsync's own output.
"""

from __future__ import annotations

import copy
import json
import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zarrsync.codecs import BytesCodec, Crc32cCodec, GzipCodec, TransposeCodec, ZstdCodec
from zarrsync.dtypes import data_type_from_json
from zarrsync.errors import CodecError, FillValueError, MetadataError, UnknownExtensionError
from zarrsync.metadata import (
    META_KEY, ArrayMetadata, ChunkKeyEncoding, GroupMetadata, dumps, loads, parse_array_metadata,
    parse_chunk_key_encoding, parse_group_metadata, parse_node,
)

# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def array_doc(**changes) -> dict:
    """A complete, valid array zarr.json (every optional field present); ``changes`` replace keys."""
    doc = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [10, 20, 30],
        "data_type": "float32",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 5, 30]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 1.5,
        "codecs": [
            {"name": "transpose", "configuration": {"order": [2, 0, 1]}},
            {"name": "bytes", "configuration": {"endian": "big"}},
            {"name": "zstd", "configuration": {"level": 3, "checksum": True}},
            {"name": "crc32c"},
        ],
        "attributes": {"title": "ünïcode", "nested": {"list": [1, 2.5, None, True, "x"]}},
        "storage_transformers": [],
        "dimension_names": ["z", None, "x"],
    }
    for key, value in changes.items():
        if value is DELETE:
            del doc[key]
        else:
            doc[key] = value
    return doc


DELETE = object()


def bits(value, dtype) -> int:
    """The bit pattern of a numpy scalar as an unsigned integer (NaN payloads, -0.0 included)."""
    dtype = np.dtype(dtype)
    return int(np.array(value, dtype=dtype).view(f"u{dtype.itemsize}")[()])


def float_of_bits(pattern: int, dtype) -> np.generic:
    dtype = np.dtype(dtype)
    return np.array(pattern, dtype=f"u{dtype.itemsize}").view(dtype)[()]


def same_fill(a, b, dtype) -> bool:
    """Fill values equal bit for bit (NaN payloads, -0.0 included)."""
    return np.array(a, dtype=dtype).tobytes() == np.array(b, dtype=dtype).tobytes()


def through_text(doc: dict) -> dict:
    """JSON text round trip; spec-defined fields must never need bare NaN/Infinity tokens."""
    return json.loads(json.dumps(doc, allow_nan=False))


# --------------------------------------------------------------------------------------------------
# array zarr.json: every field (SPEC_CHECKLIST §1.2)
# --------------------------------------------------------------------------------------------------


def test_parse_every_array_field():
    m = parse_array_metadata(array_doc())
    assert m.zarr_format == 3
    assert m.shape == (10, 20, 30)
    assert m.data_type.name == "float32" and m.dtype == np.dtype("float32")
    assert m.chunk_shape == (4, 5, 30)
    assert m.grid_shape == (3, 4, 1)
    assert m.chunk_key_encoding == ChunkKeyEncoding("default", "/")
    assert m.fill_value == np.float32(1.5) and m.fill_value.dtype == np.float32
    assert m.codecs == (TransposeCodec((2, 0, 1)), BytesCodec("big"), ZstdCodec(3, True), Crc32cCodec())
    assert m.attributes == {"title": "ünïcode", "nested": {"list": [1, 2.5, None, True, "x"]}}
    assert m.storage_transformers == ()
    assert m.dimension_names == ("z", None, "x")
    assert m.extra == {}
    spec = m.chunk_spec()
    assert spec.shape == (4, 5, 30) and spec.dtype == np.float32 and spec.fill_value == 1.5


def test_array_round_trip_is_identity_for_a_normalised_document():
    doc = array_doc()
    m = parse_array_metadata(doc)
    assert m.to_json() == doc
    assert parse_array_metadata(through_text(m.to_json())) == m


def test_array_serialisation_writes_defaults_explicitly():
    # zarr-python's habits: attributes {} and storage_transformers [] always written, dimension_names
    # omitted when unset, fill_value always written, codecs in object form
    doc = array_doc(attributes=DELETE, storage_transformers=DELETE, dimension_names=DELETE, fill_value=0,
                    codecs=["bytes", "crc32c"], data_type="uint8",
                    chunk_key_encoding={"name": "default"})
    out = parse_array_metadata(doc).to_json()
    assert out["attributes"] == {}
    assert out["storage_transformers"] == []
    assert "dimension_names" not in out
    assert out["fill_value"] == 0 and type(out["fill_value"]) is int
    assert out["codecs"] == [{"name": "bytes"}, {"name": "crc32c"}]
    assert out["chunk_key_encoding"] == {"name": "default", "configuration": {"separator": "/"}}
    assert out["chunk_grid"] == {"name": "regular", "configuration": {"chunk_shape": [4, 5, 30]}}
    assert set(out) == {"zarr_format", "node_type", "shape", "data_type", "chunk_grid", "chunk_key_encoding",
                        "fill_value", "codecs", "attributes", "storage_transformers"}


def test_zero_dimensional_array():
    m = parse_array_metadata(array_doc(shape=[], chunk_grid={"name": "regular", "configuration": {"chunk_shape": []}},
                                       codecs=[{"name": "bytes", "configuration": {"endian": "little"}}],
                                       dimension_names=[]))
    assert m.shape == () and m.chunk_shape == () and m.grid_shape == ()
    assert m.chunk_key(()) == "c"
    assert m.to_json()["shape"] == []


def test_zero_length_dimension():
    m = parse_array_metadata(array_doc(shape=[0, 20, 30]))
    assert m.grid_shape == (0, 4, 1)


@pytest.mark.parametrize("field", ["shape", "data_type", "chunk_grid", "chunk_key_encoding", "fill_value",
                                   "codecs", "zarr_format", "node_type"])
def test_required_field_missing_is_named(field):
    with pytest.raises(MetadataError) as info:
        parse_array_metadata(array_doc(**{field: DELETE}))
    assert field in str(info.value)


@pytest.mark.parametrize("changes, field", [
    ({"zarr_format": 2}, "zarr_format"),
    ({"zarr_format": "3"}, "zarr_format"),
    ({"node_type": "group"}, "node_type"),
    ({"shape": "10"}, "shape"),
    ({"shape": [10, -1, 3]}, "shape"),
    ({"shape": [10, 2.0, 3]}, "shape"),
    ({"shape": [10, True, 3]}, "shape"),
    ({"chunk_grid": {"name": "regular"}}, "chunk_shape"),
    ({"chunk_grid": {"name": "regular", "configuration": {}}}, "chunk_shape"),
    ({"chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 0, 30]}}}, "chunk_shape"),
    ({"chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 5]}}}, "chunk_shape"),
    ({"chunk_grid": {"name": "regular", "configuration": {"chunk_shape": "4"}}}, "chunk_shape"),
    ({"codecs": []}, "codecs"),
    ({"codecs": {"name": "bytes"}}, "codecs"),
    ({"attributes": []}, "attributes"),
    ({"attributes": "x"}, "attributes"),
    ({"storage_transformers": {}}, "storage_transformers"),
    ({"dimension_names": ["a", "b"]}, "dimension_names"),
    ({"dimension_names": ["a", "b", "c", "d"]}, "dimension_names"),
    ({"dimension_names": "abc"}, "dimension_names"),
    ({"dimension_names": ["a", 1, "c"]}, "dimension_names"),
    ({"fill_value": None}, "fill_value"),
    ({"fill_value": "one"}, "fill_value"),
])
def test_bad_field_is_named(changes, field):
    with pytest.raises(MetadataError) as info:
        parse_array_metadata(array_doc(**changes))
    assert field in str(info.value)


@pytest.mark.parametrize("doc", [None, [], "zarr.json", 3])
def test_document_must_be_an_object(doc):
    with pytest.raises(MetadataError):
        parse_array_metadata(doc)
    with pytest.raises(MetadataError):
        parse_group_metadata(doc)


@pytest.mark.parametrize("grid", [
    {"name": "rectangular", "configuration": {"chunk_shape": [4, 5, 30]}},
    {"name": "regular-ish"},
    "irregular",
])
def test_unknown_chunk_grid_refused(grid):
    with pytest.raises(UnknownExtensionError):
        parse_array_metadata(array_doc(chunk_grid=grid))


def test_extension_fields_that_may_not_be_skipped():
    # must_understand: false is not permitted for data_type, chunk_grid, chunk_key_encoding
    for field, value in [
        ("data_type", {"name": "float32", "must_understand": False}),
        ("chunk_grid", {"name": "regular", "configuration": {"chunk_shape": [4, 5, 30]}, "must_understand": False}),
        ("chunk_key_encoding", {"name": "default", "must_understand": False}),
    ]:
        with pytest.raises(MetadataError):
            parse_array_metadata(array_doc(**{field: value}))


def test_unknown_data_type_refused():
    for value in ("float128", "strings", {"name": "my.type"}, {"configuration": {}}, 5):
        with pytest.raises(UnknownExtensionError):
            parse_array_metadata(array_doc(data_type=value))


def test_data_type_object_form():
    m = parse_array_metadata(array_doc(data_type={"name": "int16"}, fill_value=-3))
    assert m.dtype == np.int16 and m.fill_value == -3
    assert m.to_json()["data_type"] == "int16"


# --- unknown top-level keys ------------------------------------------------------------------------

@pytest.mark.parametrize("value", [1, "x", None, [], {}, {"must_understand": True}, {"must_understand": "false"},
                                   {"name": "ext", "configuration": {}}])
def test_unknown_top_level_key_refused(value):
    with pytest.raises(UnknownExtensionError) as info:
        parse_array_metadata(array_doc(my_extension=value))
    assert "my_extension" in str(info.value)


def test_unknown_top_level_key_with_must_understand_false_preserved():
    ext = {"name": "my.ext", "must_understand": False, "configuration": {"deep": [1, {"a": None}]}}
    doc = array_doc(my_extension=ext, other={"must_understand": False})
    m = parse_array_metadata(doc)
    assert m.extra == {"my_extension": ext, "other": {"must_understand": False}}
    out = through_text(m.to_json())
    assert out["my_extension"] == ext and out["other"] == {"must_understand": False}
    assert out == doc
    assert parse_array_metadata(out) == m


# --- codecs -----------------------------------------------------------------------------------------

def test_short_hand_codec_strings_accepted():
    m = parse_array_metadata(array_doc(data_type="uint8", fill_value=7, codecs=["bytes", "crc32c"]))
    assert m.codecs == (BytesCodec(None), Crc32cCodec())
    # written back in the object form (zarr-python 3.1 cannot read short-hand strings)
    assert m.to_json()["codecs"] == [{"name": "bytes"}, {"name": "crc32c"}]


def test_unknown_codec_refused_and_skippable():
    with pytest.raises(UnknownExtensionError, match="fancy"):
        parse_array_metadata(array_doc(codecs=[{"name": "bytes", "configuration": {"endian": "little"}},
                                               {"name": "fancy"}]))
    m = parse_array_metadata(array_doc(codecs=[{"name": "bytes", "configuration": {"endian": "little"}},
                                               {"name": "fancy", "must_understand": False}]))
    # kept (so a rewrite preserves it) but ignored by the codec pipeline
    assert m.codecs[0] == BytesCodec("little") and len(m.codecs) == 2
    assert m.codecs[1].to_json() == {"name": "fancy", "must_understand": False}
    assert m.to_json()["codecs"][1] == {"name": "fancy", "must_understand": False}


def test_bad_codec_configuration_refused():
    with pytest.raises(CodecError, match="endian"):
        parse_array_metadata(array_doc(codecs=[{"name": "bytes", "configuration": {"endian": "middle"}}]))


# --- storage transformers ---------------------------------------------------------------------------

def test_storage_transformers():
    assert parse_array_metadata(array_doc(storage_transformers=DELETE)).storage_transformers == ()
    with pytest.raises(UnknownExtensionError, match="my-transformer"):
        parse_array_metadata(array_doc(storage_transformers=[{"name": "my-transformer"}]))
    with pytest.raises(UnknownExtensionError):
        parse_array_metadata(array_doc(storage_transformers=["short-hand"]))
    with pytest.raises(UnknownExtensionError):
        parse_array_metadata(array_doc(storage_transformers=[{"name": "t", "must_understand": True}]))
    skippable = {"name": "my-transformer", "must_understand": False, "configuration": {"a": 1}}
    m = parse_array_metadata(array_doc(storage_transformers=[skippable]))
    assert m.storage_transformers == (skippable,)
    assert through_text(m.to_json())["storage_transformers"] == [skippable]


# --- dimension names --------------------------------------------------------------------------------

def test_dimension_names():
    assert parse_array_metadata(array_doc(dimension_names=DELETE)).dimension_names is None
    assert parse_array_metadata(array_doc(dimension_names=[None, None, None])).dimension_names == (None,) * 3
    assert parse_array_metadata(array_doc(dimension_names=["x", "x", "x"])).dimension_names == ("x",) * 3
    with pytest.raises(MetadataError, match="dimension_names"):
        ArrayMetadata(shape=(2,), data_type=data_type_from_json("uint8"), chunk_shape=(2,), fill_value=0,
                      codecs=(BytesCodec(None),), dimension_names=("a", "b"))


def test_array_metadata_is_frozen():
    m = parse_array_metadata(array_doc())
    with pytest.raises(AttributeError):
        m.shape = (1,)  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------
# group zarr.json (SPEC_CHECKLIST §1.3)
# --------------------------------------------------------------------------------------------------


def test_group_round_trip():
    doc = {"zarr_format": 3, "node_type": "group", "attributes": {"a": [1, 2], "b": {"c": None}}}
    g = parse_group_metadata(doc)
    assert g.attributes == {"a": [1, 2], "b": {"c": None}}
    assert g.zarr_format == 3
    assert g.to_json() == doc
    assert parse_group_metadata(through_text(g.to_json())) == g


def test_group_minimal():
    g = parse_group_metadata({"zarr_format": 3, "node_type": "group"})
    assert g.attributes == {} and g.extra == {}
    assert g.to_json() == {"zarr_format": 3, "node_type": "group", "attributes": {}}


@pytest.mark.parametrize("doc, field", [
    ({"node_type": "group"}, "zarr_format"),
    ({"zarr_format": 2, "node_type": "group"}, "zarr_format"),
    ({"zarr_format": 3}, "node_type"),
    ({"zarr_format": 3, "node_type": "array"}, "node_type"),
    ({"zarr_format": 3, "node_type": "group", "attributes": [1]}, "attributes"),
    ({"zarr_format": 3, "node_type": "group", "extension": 1}, "extension"),
    ({"zarr_format": 3, "node_type": "group", "extension": {"must_understand": True}}, "extension"),
])
def test_group_errors_name_the_field(doc, field):
    with pytest.raises(MetadataError) as info:
        parse_group_metadata(doc)
    assert field in str(info.value)


def test_group_extension_and_consolidated_metadata_preserved():
    consolidated = {"kind": "inline", "must_understand": False, "metadata": {
        "sub": {"zarr_format": 3, "node_type": "group", "attributes": {},
                "consolidated_metadata": {"kind": "inline", "must_understand": False, "metadata": {}}},
        "sub/arr": array_doc(),
    }}
    doc = {"zarr_format": 3, "node_type": "group", "attributes": {},
           "consolidated_metadata": consolidated, "ext": {"must_understand": False, "x": 1}}
    g = parse_group_metadata(copy.deepcopy(doc))
    assert g.extra == {"consolidated_metadata": consolidated, "ext": {"must_understand": False, "x": 1}}
    assert through_text(g.to_json()) == doc


def test_parse_node_dispatches():
    assert isinstance(parse_node(array_doc()), ArrayMetadata)
    assert isinstance(parse_node({"zarr_format": 3, "node_type": "group"}), GroupMetadata)
    for doc in ({"zarr_format": 3, "node_type": "folder"}, {"zarr_format": 3}, [], None):
        with pytest.raises(MetadataError, match="node_type"):
            parse_node(doc)


def test_loads_and_dumps():
    assert META_KEY == "zarr.json"
    doc = array_doc()
    text = dumps(doc)
    assert isinstance(text, bytes)
    assert json.loads(text.decode("utf-8")) == doc
    assert "ünïcode" in text.decode("utf-8")  # UTF-8, not \u escapes
    assert loads(text) == doc
    # attributes written by zarr-python may hold bare NaN / Infinity tokens
    tolerated = loads(b'{"attributes": {"a": NaN, "b": Infinity, "c": -Infinity}}')["attributes"]
    assert math.isnan(tolerated["a"]) and tolerated["b"] == math.inf and tolerated["c"] == -math.inf
    with pytest.raises(MetadataError, match="a/zarr.json"):
        loads(b"{not json", key="a/zarr.json")
    with pytest.raises(MetadataError):
        loads(b"\xff\xfe\x00")


def test_big_integers_survive_text():
    doc = array_doc(data_type="uint64", fill_value=18446744073709551615, shape=[2 ** 62, 3, 1],
                    chunk_grid={"name": "regular", "configuration": {"chunk_shape": [2 ** 40, 1, 1]}},
                    codecs=[{"name": "bytes", "configuration": {"endian": "little"}}])
    m = parse_array_metadata(loads(dumps(doc)))
    assert m.fill_value == np.uint64(18446744073709551615)
    assert m.shape[0] == 2 ** 62 and m.grid_shape[0] == 2 ** 22
    assert b"18446744073709551615" in dumps(m.to_json())


# --------------------------------------------------------------------------------------------------
# chunk key encodings (SPEC_CHECKLIST §1.7)
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, coords, key", [
    (ChunkKeyEncoding("default", "/"), (1, 23, 45), "c/1/23/45"),
    (ChunkKeyEncoding("default", "."), (1, 23, 45), "c.1.23.45"),
    (ChunkKeyEncoding("default", "/"), (0,), "c/0"),
    (ChunkKeyEncoding("default", "/"), (), "c"),
    (ChunkKeyEncoding("default", "."), (), "c"),
    (ChunkKeyEncoding("v2", "."), (1, 23, 45), "1.23.45"),
    (ChunkKeyEncoding("v2", "/"), (1, 23, 45), "1/23/45"),
    (ChunkKeyEncoding("v2", "."), (7,), "7"),
    (ChunkKeyEncoding("v2", "."), (), "0"),
    (ChunkKeyEncoding("v2", "/"), (), "0"),
    (ChunkKeyEncoding("default", "/"), (10 ** 12, 0), "c/1000000000000/0"),
])
def test_chunk_key_encoding(encoding, coords, key):
    assert encoding.encode(coords) == key
    assert encoding.decode(key, len(coords)) == coords
    if coords:  # keys are built per axis by the indexer: prefix + fragments
        frags = [encoding.fragments(i, d == 0) for d, i in enumerate(coords)]
        assert encoding.prefix + "".join(frags) == key
    else:
        assert encoding.zero_dim_key == key


@pytest.mark.parametrize("encoding", [ChunkKeyEncoding("default", "/"), ChunkKeyEncoding("default", "."),
                                      ChunkKeyEncoding("v2", "."), ChunkKeyEncoding("v2", "/")], ids=repr)
def test_chunk_key_decode_is_the_inverse_of_encode(encoding):
    sep = encoding.separator
    other = "." if sep == "/" else "/"
    pre = "c" + sep if encoding.name == "default" else ""
    not_keys = [
        "", "zarr.json", pre + "1", pre + "1" + sep + "2" + sep + "3", pre + "1" + other + "2",
        pre + "1" + sep, pre + sep + "1", pre + "-1" + sep + "2", pre + "+1" + sep + "2", pre + "a" + sep + "2",
        pre + "01" + sep + "2", pre + "1" + sep + "00", pre + " 1" + sep + "2", pre + "1" + sep + "2 ",
        pre + "\u0661" + sep + "2",  # ARABIC-INDIC DIGIT ONE: a digit, but not ASCII
    ]
    if encoding.name == "default":
        not_keys += ["1" + sep + "2", "d" + sep + "1" + sep + "2", "c" + other + "1" + sep + "2"]
    for key in not_keys:
        assert encoding.decode(key, 2) is None, key
    assert encoding.decode(encoding.zero_dim_key + "x", 0) is None
    for coords in [(0, 0), (0, 10), (99, 100), (12345, 6)]:
        assert encoding.decode(encoding.encode(coords), 2) == coords


@pytest.mark.parametrize("value, expected", [
    ({"name": "default"}, ChunkKeyEncoding("default", "/")),
    ({"name": "default", "configuration": {}}, ChunkKeyEncoding("default", "/")),
    ({"name": "default", "configuration": {"separator": "."}}, ChunkKeyEncoding("default", ".")),
    ({"name": "v2"}, ChunkKeyEncoding("v2", ".")),
    ({"name": "v2", "configuration": {}}, ChunkKeyEncoding("v2", ".")),
    ({"name": "v2", "configuration": {"separator": "/"}}, ChunkKeyEncoding("v2", "/")),
    ("default", ChunkKeyEncoding("default", "/")),
    ("v2", ChunkKeyEncoding("v2", ".")),
])
def test_parse_chunk_key_encoding(value, expected):
    enc = parse_chunk_key_encoding(value)
    assert enc == expected
    assert enc.to_json() == {"name": expected.name, "configuration": {"separator": expected.separator}}
    assert parse_chunk_key_encoding(enc.to_json()) == enc
    assert parse_chunk_key_encoding(enc) is enc


@pytest.mark.parametrize("value, error", [
    ({"name": "default", "configuration": {"separator": "-"}}, MetadataError),
    ({"name": "default", "configuration": {"separator": "//"}}, MetadataError),
    ({"name": "v2", "configuration": {"separator": ""}}, MetadataError),
    ({"name": "default", "configuration": {"separator": None}}, MetadataError),
    ({"name": "default", "configuration": {"separator": "/", "pad": 3}}, MetadataError),
    ({"name": "default", "configuration": ["/"]}, MetadataError),
    ({"name": "default", "configuration": "/"}, MetadataError),
    ({"name": "v3"}, UnknownExtensionError),
    ("flat", UnknownExtensionError),
    ({"configuration": {"separator": "/"}}, MetadataError),
    (5, MetadataError),
])
def test_bad_chunk_key_encoding_refused(value, error):
    with pytest.raises(error):
        parse_chunk_key_encoding(value)
    with pytest.raises(error):
        parse_array_metadata(array_doc(chunk_key_encoding=value))


def test_chunk_key_encoding_constructor_validates():
    with pytest.raises(MetadataError, match="separator"):
        ChunkKeyEncoding("default", "_")
    with pytest.raises(UnknownExtensionError):
        ChunkKeyEncoding("other", "/")


def test_chunk_key_in_array_metadata():
    m = parse_array_metadata(array_doc(chunk_key_encoding={"name": "v2"}))
    assert m.chunk_key((1, 2, 0)) == "1.2.0"
    m = parse_array_metadata(array_doc(chunk_key_encoding={"name": "default", "configuration": {"separator": "."}}))
    assert m.chunk_key((1, 2, 0)) == "c.1.2.0"


# --------------------------------------------------------------------------------------------------
# fill values per data type (SPEC_CHECKLIST §1.5)
# --------------------------------------------------------------------------------------------------

def parse_fill(data_type: str, fill):
    """Parse a fill value as part of a whole document, re-serialise it, and return (value, json)."""
    doc = array_doc(data_type=data_type, fill_value=fill,
                    codecs=[{"name": "bytes", "configuration": {"endian": "little"}}])
    m = parse_array_metadata(doc)
    out = through_text(m.to_json())
    again = parse_array_metadata(out)
    assert same_fill(again.fill_value, m.fill_value, m.dtype)
    return m.fill_value, out["fill_value"]


FLOAT_SIZES = {"float16": 2, "float32": 4, "float64": 8}
CANONICAL_NAN = {"float16": 0x7E00, "float32": 0x7FC00000, "float64": 0x7FF8000000000000}
STRUCT = {"float16": ">e", "float32": ">f", "float64": ">d"}


@pytest.mark.parametrize("dt", sorted(FLOAT_SIZES))
def test_float_special_fill_values(dt):
    value, out = parse_fill(dt, "NaN")
    assert bits(value, dt) == CANONICAL_NAN[dt] and out == "NaN"
    value, out = parse_fill(dt, "Infinity")
    assert value == np.inf and out == "Infinity"
    value, out = parse_fill(dt, "-Infinity")
    assert value == -np.inf and out == "-Infinity"
    value, out = parse_fill(dt, -0.0)
    assert bits(value, dt) == int.from_bytes(struct.pack(STRUCT[dt], -0.0), "big") and out == 0.0
    assert math.copysign(1, out) == -1
    value, out = parse_fill(dt, 0)  # integral JSON number for a float type
    assert bits(value, dt) == 0 and out == 0.0
    value, out = parse_fill(dt, 2.5)
    assert value == 2.5 and out == 2.5


@pytest.mark.parametrize("dt, text, pattern", [
    ("float16", "0x7e00", 0x7E00),
    ("float16", "0x7E00", 0x7E00),
    ("float32", "0x7fc00000", 0x7FC00000),
    ("float64", "0x7ff8000000000000", 0x7FF8000000000000),
])
def test_hex_canonical_nan_is_written_as_nan(dt, text, pattern):
    # the canonical NaN (sign 0, mantissa MSB only) has the short spelling "NaN"
    value, out = parse_fill(dt, text)
    assert bits(value, dt) == pattern and out == "NaN"


@pytest.mark.parametrize("dt, text", [
    ("float16", "0x7e01"),  # payload
    ("float16", "0xfe00"),  # negative NaN
    ("float16", "0x7c01"),  # signalling NaN
    ("float32", "0x7fc00001"),
    ("float32", "0xffc00000"),
    ("float32", "0x7f800001"),
    ("float64", "0x7ff8000000000001"),
    ("float64", "0xfff8000000000000"),
    ("float64", "0x7ff0000000000001"),
])
def test_hex_nan_payloads_round_trip_as_hex(dt, text):
    value, out = parse_fill(dt, text)
    assert np.isnan(value)
    assert bits(value, dt) == int(text, 16)
    assert out == text  # exact bits, not "NaN" (zarr-python 3.1.6 gets this wrong)


@pytest.mark.parametrize("dt, text", [
    ("float32", "0X7FC00001"),
    ("float32", "0x7FC00001"),
    ("float64", "0xFFF8000000000000"),
])
def test_hex_accepts_upper_case(dt, text):
    value, out = parse_fill(dt, text)
    assert bits(value, dt) == int(text, 16)
    assert out.lower() == text.lower()


@pytest.mark.parametrize("dt, text, expected", [
    ("float32", "0x3f800000", 1.0),
    ("float64", "0x3ff0000000000000", 1.0),
    ("float16", "0x3c00", 1.0),
    ("float32", "0x80000000", -0.0),
    ("float64", "0x4059000000000000", 100.0),
])
def test_hex_of_ordinary_numbers(dt, text, expected):
    value, out = parse_fill(dt, text)
    assert bits(value, dt) == int(text, 16)
    assert out == expected and math.copysign(1, out) == math.copysign(1, expected)


@pytest.mark.parametrize("dt, text, spelling", [
    ("float64", "0x7ff0000000000000", "Infinity"),
    ("float32", "0xff800000", "-Infinity"),
    ("float16", "0x7c00", "Infinity"),
])
def test_hex_infinities_written_by_name(dt, text, spelling):
    value, out = parse_fill(dt, text)
    assert bits(value, dt) == int(text, 16)
    assert out == spelling


@pytest.mark.parametrize("dt, value, expected_bits", [
    ("float16", 65519, 0x7BFF),  # rounds down to 65504
    ("float16", 65520, 0x7C00),  # halfway to the next power: ties-to-even gives infinity
    ("float16", 1 + 2 ** -11, 0x3C00),  # halfway between 1 and the next float16: ties to even (1)
    ("float16", 1 + 3 * 2 ** -11, 0x3C02),  # halfway: ties to even (up)
    ("float32", 0.1, 0x3DCCCCCD),
    ("float64", 0.1, 0x3FB999999999999A),
])
def test_float_fill_rounds_to_nearest_even(dt, value, expected_bits):
    v, _ = parse_fill(dt, value)
    assert bits(v, dt) == expected_bits


@pytest.mark.parametrize("dt", sorted(FLOAT_SIZES))
@pytest.mark.parametrize("fill", ["nan", "inf", "-inf", "Inf", "+Infinity", "NAN", "1.5", "", "0x", "0x7e0",
                                  "0x7fc0000g", "0xzzzzzzzz", "0x-7fc0000", "0x+7fc0000", "0x7fc_0000",
                                  "0x 7fc0000", "0x7fc00000000000000000", None, True, False, [1.0], {}])
def test_bad_float_fill_values(dt, fill):
    with pytest.raises(FillValueError) as info:
        parse_fill(dt, fill)
    assert "fill_value" in str(info.value)


@pytest.mark.parametrize("dt, size", [("float16", 4), ("float32", 8), ("float64", 16)])
def test_hex_length_must_match_the_type(dt, size):
    for digits in (size - 2, size + 2):
        with pytest.raises(FillValueError):
            parse_fill(dt, "0x" + "7" + "0" * (digits - 1))


def test_huge_integer_fill_for_float64_is_an_error_not_a_crash():
    with pytest.raises(FillValueError):
        parse_fill("float64", 10 ** 400)


INT_RANGES = {
    "int8": (-(2 ** 7), 2 ** 7 - 1), "int16": (-(2 ** 15), 2 ** 15 - 1), "int32": (-(2 ** 31), 2 ** 31 - 1),
    "int64": (-(2 ** 63), 2 ** 63 - 1), "uint8": (0, 2 ** 8 - 1), "uint16": (0, 2 ** 16 - 1),
    "uint32": (0, 2 ** 32 - 1), "uint64": (0, 2 ** 64 - 1),
}


@pytest.mark.parametrize("dt", sorted(INT_RANGES))
def test_integer_fill_values(dt):
    lo, hi = INT_RANGES[dt]
    for fill in (lo, hi, 0, 1, (lo + hi) // 2):
        value, out = parse_fill(dt, fill)
        assert value.dtype == np.dtype(dt)
        assert int(value) == fill and out == fill and type(out) is int
    for fill in (lo - 1, hi + 1, 2 ** 64, -(2 ** 64)):
        with pytest.raises(FillValueError) as info:
            parse_fill(dt, fill)
        assert "range" in str(info.value)
    for fill in (1.5, "1", "0x01", None, True, False, [1], {}, float("nan")):
        with pytest.raises(FillValueError):
            parse_fill(dt, fill)


def test_uint64_max():
    value, out = parse_fill("uint64", 18446744073709551615)
    assert value == np.iinfo(np.uint64).max and out == 18446744073709551615
    assert int(value) == 2 ** 64 - 1


@pytest.mark.parametrize("dt, fill, expected", [
    ("complex64", [1.5, -2.0], (1.5, -2.0)),
    ("complex128", [0, 1], (0.0, 1.0)),
    ("complex128", ["NaN", "Infinity"], (math.nan, math.inf)),
    ("complex64", ["-Infinity", 0.25], (-math.inf, 0.25)),
])
def test_complex_fill_values(dt, fill, expected):
    value, out = parse_fill(dt, fill)
    assert value.dtype == np.dtype(dt)
    for got, want in zip((value.real, value.imag), expected):
        assert (math.isnan(got) and math.isnan(want)) or got == want
    assert isinstance(out, list) and len(out) == 2
    assert out == [("NaN" if math.isnan(e) else "Infinity" if e == math.inf else "-Infinity" if e == -math.inf
                    else e) for e in expected]


def test_complex_fill_hex_parts():
    value, out = parse_fill("complex64", ["0x7fc00001", "0x3f800000"])
    assert bits(value.real, "float32") == 0x7FC00001
    assert value.imag == 1.0
    assert out == ["0x7fc00001", 1.0]
    value, out = parse_fill("complex128", ["0xfff8000000000000", "NaN"])
    assert bits(value.real, "float64") == 0xFFF8000000000000
    assert bits(value.imag, "float64") == 0x7FF8000000000000
    assert out == ["0xfff8000000000000", "NaN"]


@pytest.mark.parametrize("dt", ["complex64", "complex128"])
@pytest.mark.parametrize("fill", [1.5, 0, "NaN", [1.0], [1.0, 2.0, 3.0], ["nan", 0], [None, 0], {"re": 1}, None,
                                  [True, False]])
def test_bad_complex_fill_values(dt, fill):
    with pytest.raises(FillValueError):
        parse_fill(dt, fill)


def test_bool_fill_values():
    value, out = parse_fill("bool", True)
    assert value == np.True_ and out is True
    value, out = parse_fill("bool", False)
    assert value == np.False_ and out is False
    for fill in (0, 1, "true", "false", None, 0.0, [True]):
        with pytest.raises(FillValueError):
            parse_fill("bool", fill)


# --------------------------------------------------------------------------------------------------
# property test: random valid metadata -> to_json -> JSON text -> parse -> equal
# --------------------------------------------------------------------------------------------------

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]
KNOWN_KEYS = {"zarr_format", "node_type", "shape", "data_type", "chunk_grid", "chunk_key_encoding",
              "fill_value", "codecs", "attributes", "storage_transformers", "dimension_names"}

json_scalars = st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) |
                           st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)


@st.composite
def fill_values(draw, dtype: np.dtype):
    if dtype.kind == "b":
        return np.bool_(draw(st.booleans()))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return dtype.type(draw(st.integers(int(info.min), int(info.max))))
    if dtype.kind == "f":  # any bit pattern: NaN payloads, signed NaNs, subnormals, -0.0, infinities
        n = dtype.itemsize
        return np.array(draw(st.integers(0, 2 ** (8 * n) - 1)), dtype=f"u{n}").view(dtype)[()]
    part = np.dtype(f"f{dtype.itemsize // 2}")
    out = np.zeros((), dtype=dtype)
    out.real, out.imag = draw(fill_values(part)), draw(fill_values(part))
    return out[()]


@st.composite
def codec_chains(draw, ndim: int, dtype: np.dtype):
    chain = []
    if draw(st.booleans()):
        chain.append(TransposeCodec(tuple(draw(st.permutations(range(ndim))))))
    endians = ["little", "big"] + ([None] if dtype.itemsize == 1 else [])
    chain.append(BytesCodec(draw(st.sampled_from(endians))))
    for _ in range(draw(st.integers(0, 3))):
        chain.append(draw(st.one_of(
            st.builds(GzipCodec, st.integers(0, 9)),
            st.builds(ZstdCodec, st.integers(-131072, 22), st.booleans()),
            st.just(Crc32cCodec()),
        )))
    return tuple(chain)


@st.composite
def array_metadata(draw):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 2 ** 40), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.lists(st.integers(1, 2 ** 20), min_size=ndim, max_size=ndim)))
    data_type = data_type_from_json(draw(st.sampled_from(DTYPES)))
    extra_names = st.text(min_size=1, max_size=10).filter(lambda k: k not in KNOWN_KEYS)
    extension = st.fixed_dictionaries({"must_understand": st.just(False)},
                                      optional={"name": st.text(max_size=6), "configuration": json_objects})
    return ArrayMetadata(
        shape=shape,
        data_type=data_type,
        chunk_shape=chunks,
        fill_value=draw(fill_values(data_type.dtype)),
        codecs=draw(codec_chains(ndim, data_type.dtype)),
        chunk_key_encoding=ChunkKeyEncoding(draw(st.sampled_from(["default", "v2"])), draw(st.sampled_from("/."))),
        attributes=draw(json_objects),
        dimension_names=draw(st.none() | st.tuples(*[st.none() | st.text(max_size=5)] * ndim)),
        storage_transformers=tuple(draw(st.lists(extension.map(lambda e: {"name": "t", **e}), max_size=2))),
        extra=draw(st.dictionaries(extra_names, extension, max_size=2)),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(array_metadata())
def test_property_array_metadata_round_trip(m):
    doc = m.to_json()
    text = json.dumps(doc, allow_nan=False)  # spec fields never need NaN tokens
    parsed = parse_array_metadata(json.loads(text))
    assert same_fill(parsed.fill_value, m.fill_value, m.dtype)
    assert parsed == m
    assert parsed.to_json() == doc
    assert parse_array_metadata(loads(dumps(doc))) == m  # and through zarrsync's own text functions


@settings(max_examples=100, deadline=None)
@given(json_objects, st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in KNOWN_KEYS),
                                     st.fixed_dictionaries({"must_understand": st.just(False)},
                                                           optional={"x": json_values}), max_size=2))
def test_property_group_metadata_round_trip(attributes, extra):
    g = GroupMetadata(attributes=attributes, extra=extra)
    parsed = parse_group_metadata(json.loads(json.dumps(g.to_json(), allow_nan=False)))
    assert parsed == g
    assert parsed.to_json() == g.to_json()


def test_metadata_with_nan_fill_equals_its_reparse():
    doc = array_doc(fill_value="NaN")
    assert parse_array_metadata(doc) == parse_array_metadata(doc)
    assert parse_array_metadata(array_doc(fill_value="0x7fc00001")) != parse_array_metadata(doc)
    assert parse_array_metadata(array_doc(fill_value=-0.0)) != parse_array_metadata(array_doc(fill_value=0.0))
    assert parse_array_metadata(array_doc(fill_value=1.0)) != parse_array_metadata(array_doc(fill_value=2.0))
    assert parse_array_metadata(array_doc(attributes={"a": 1})) != parse_array_metadata(array_doc())
