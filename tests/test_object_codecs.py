"""Object codecs: v3 ``vlen-utf8`` / ``vlen-bytes`` and the numcodecs-compatible ``vlen-utf8``,
``vlen-bytes``, ``vlen-array``, ``json2``, ``msgpack2`` and ``pickle``.

Expected bytes come from ``SPEC_CHECKLIST`` (§2.8, §6, §9) or from the real numcodecs, never
from zarrsync itself. Malformed input must raise CorruptChunkError, quickly and without
allocating more than the input justifies.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

with warnings.catch_warnings():  # numcodecs warns that the crc32c package is deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    import numcodecs
    import numcodecs.pickles

import zarrsync
from zarrsync.codecs import VLenBytesCodec, VLenUTF8Codec, get_codec, parse_codec
from zarrsync.codecs import objects as zo
from zarrsync.codecs import vlen
from zarrsync.codecs.base import ChunkSpec
from zarrsync.errors import (CodecError, CorruptChunkError, DataTypeError, MissingDependencyError,
                             PickleRefusedError, ZarrsyncError)
from zarrsync.testing import bind, check_config_round_trip

import msgpack  # in the test extra: msgpack2 is tested against the real library

StringDType = getattr(np.dtypes, "StringDType", None)
needs_stringdtype = pytest.mark.skipif(StringDType is None, reason="numpy < 2 has no StringDType")



@pytest.fixture(autouse=True, params=["python", "numcodecs"])
def vlen_path(request, monkeypatch) -> str:
    """Every test runs twice: with zarrsync's Python vlen coder alone, and with numcodecs'
    compiled one accelerating it (the default when numcodecs is installed). Both must give the
    same items, the same bytes and the same errors."""
    if request.param == "python":
        monkeypatch.setattr(vlen, "c_vlen", lambda: None)
    else:
        assert vlen.c_vlen() is not None
    return request.param


#: SPEC_CHECKLIST §2.8 / §9
GOLDEN_VLEN = bytes.fromhex("03000000" "01000000" "61" "02000000" "c3a9" "00000000")


def objects(values, shape=None, order="C") -> np.ndarray:
    """An object array holding exactly ``values`` (lists stay single elements)."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    if shape is not None:
        arr = arr.reshape(shape, order=order)
    return arr


def text_values(n: int, seed: int = 0) -> list:
    """``n`` strings: ASCII, non-ASCII (2-, 3- and 4-byte UTF-8), empty, NUL, long, and None."""
    rng = np.random.default_rng(seed)
    pool = ["", "a", "é", "日本語", "🦆x", "a\x00", "\x00", "x" * 300, "tab\there", "Zarr", "ü" * 70, None]
    out = [pool[i] for i in rng.integers(0, len(pool), n)]
    return [s if s is None or i % 5 else f"{s}{i}" for i, s in enumerate(out)]


def bytes_values(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = int(rng.integers(0, 40)) if i % 7 else 0
        out.append(None if i % 11 == 3 else rng.integers(0, 256, k, dtype=np.uint8).tobytes())
    return out


def normal_text(values) -> list:
    return ["" if v is None else v for v in values]


def normal_bytes(values) -> list:
    return [b"" if v is None else v for v in values]


SIZES = [0, 1, 3, 24, 25, 200, 3000]  # both sides of the bulk-path threshold
SHAPES = [(6,), (2, 3), (3, 1, 4), (0, 5)]


# --- golden bytes from the checklist ----------------------------------------------------------

def test_golden_vlen_utf8_encode():
    data = objects(["a", "é", None])
    assert bytes(VLenUTF8Codec().encode(data, ChunkSpec((3,), np.dtype(object), ""))) == GOLDEN_VLEN
    assert zo.VLenUTF8().encode(data) == GOLDEN_VLEN
    assert numcodecs.VLenUTF8().encode(data) == GOLDEN_VLEN  # the reference agrees with the checklist


def test_golden_vlen_utf8_decode():
    got = bind(["vlen-utf8"], object, (3,), fill_value="").decode(GOLDEN_VLEN, key="c/0")
    assert got.dtype == object and got.tolist() == ["a", "é", ""]
    assert zo.VLenUTF8().decode(GOLDEN_VLEN).tolist() == ["a", "é", ""]
    assert vlen.unpack_utf8(GOLDEN_VLEN, 3) == ["a", "é", ""]


def test_golden_json2():
    codec = zo.JSON()
    assert codec.encode(objects(["x", "y"])) == b'["x","y","|O",[2]]'
    two = objects(["a", "b", "c", None], (2, 2))
    assert codec.encode(two) == b'[["a","b"],["c",null],"|O",[2,2]]'
    dec = codec.decode(b'[["a","b"],["c",null],"|O",[2,2]]')
    assert dec.shape == (2, 2) and dec.dtype == object and dec.tolist() == [["a", "b"], ["c", None]]


def test_golden_msgpack2():
    golden = bytes.fromhex("94a161a26262a27c4f9102")
    assert zo.MsgPack().encode(objects(["a", "bb"])) == golden
    assert zo.MsgPack().decode(golden).tolist() == ["a", "bb"]


#: bytes written by numcodecs 0.16.6 (committed, so they must keep decoding whatever numcodecs
#: version is installed): (config, encoded, decoded values (flat), shape)
NUMCODECS_GOLDEN = [
    ({"id": "vlen-array", "dtype": "<i2"},
     bytes.fromhex("0500000004000000010002000000000002000000030000000000020000000100"),
     [[1, 2], [], [3], [], [1]], (5,)),
    ({"id": "vlen-array", "dtype": ">i4"}, bytes.fromhex("02000000040000000000000104000000fffffffe"), [[1], [-2]],
     (2,)),
    ({"id": "vlen-bytes"}, bytes.fromhex("040000000100000061000000000200000000ff00000000"),
     [b"a", b"", b"\x00\xff", b""], (4,)),
    ({"id": "msgpack2"}, bytes.fromhex("9492a161c401629201c0a27c4f920202"), ["a", b"b", 1, None], (2, 2)),
    ({"id": "msgpack2", "use_single_float": True}, bytes.fromhex("94ca3fc00000ca40000000a33c66389102"), [1.5, 2.0],
     (2,)),
    ({"id": "json2"}, b'[{"a":null,"b":[1,2]},[1,"\\u00e9"],1.5,NaN,"|O",[4]]',
     [{"a": None, "b": [1, 2]}, [1, "\u00e9"], 1.5, float("nan")], (4,)),
    ({"id": "json2", "indent": 1}, b'[\n "\\u00e9", \n {\n  "a": 1\n }, \n "|O", \n [\n  2\n ]\n]',
     ["\u00e9", {"a": 1}], (2,)),
    ({"id": "json2"}, b'[[0,1],[2,3],"<i8",[2,2]]', [0, 1, 2, 3], (2, 2)),
]


@pytest.mark.parametrize("config,encoded,values,shape", NUMCODECS_GOLDEN, ids=range(len(NUMCODECS_GOLDEN)))
def test_numcodecs_golden(config, encoded, values, shape):
    codec = get_codec(dict(config))
    dec = codec.decode(encoded)
    flat = dec.reshape(-1).tolist()
    if config["id"] == "vlen-array":
        assert all(isinstance(x, np.ndarray) and x.dtype == np.dtype(config["dtype"]) for x in flat)
        flat = [x.tolist() for x in flat]
    assert dec.shape == shape and len(flat) == len(values)
    for got, want in zip(flat, values):
        assert (got != got and want != want) or (got == want and type(got) is type(want))
    if config["id"] != "vlen-array":  # (vlen-array's inputs were other types, cast on encode)
        assert codec.encode(dec) == encoded


# --- v3 codecs ------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [VLenUTF8Codec, VLenBytesCodec])
def test_v3_config(cls):
    codec = cls()
    assert codec.to_json() == {"name": cls.name, "configuration": {}}
    check_config_round_trip(codec)
    assert parse_codec({"name": cls.name}) == codec
    assert parse_codec({"name": cls.name, "configuration": {}}) == codec
    assert parse_codec(cls.name) == codec
    with pytest.raises(CodecError, match="unknown configuration"):
        parse_codec({"name": cls.name, "configuration": {"x": 1}})


def test_v3_resolve_checks_the_data_type():
    with pytest.raises(CodecError, match="vlen-utf8"):
        bind(["vlen-utf8"], "<i4", (3,))
    with pytest.raises(CodecError, match="vlen-bytes"):
        bind(["vlen-bytes"], "<U3", (3,), fill_value="")
    with pytest.raises(CodecError):
        bind(["vlen-utf8"], "|S3", (3,), fill_value=b"")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("chain", [["vlen-utf8"], ["vlen-utf8", {"name": "zstd", "configuration": {"level": 1}}]])
def test_v3_utf8_interop(shape, order, chain):
    n = int(np.prod(shape))
    values = text_values(n, seed=n)
    chunk = objects(values, shape, order)
    reference = numcodecs.VLenUTF8().encode(np.ascontiguousarray(chunk))  # v3: always C order
    pipeline = bind(chain, object, shape, fill_value="")
    if len(chain) == 1:
        assert bytes(pipeline.encode(chunk)) == reference
        stored = reference
    else:
        stored = bytes(pipeline.encode(chunk))
        assert numcodecs.VLenUTF8().decode(numcodecs.Zstd().decode(stored)).tolist() == normal_text(
            np.ascontiguousarray(chunk).reshape(-1).tolist())
        stored = numcodecs.Zstd(level=1).encode(reference)
    decoded = pipeline.decode(stored, key="c/0")
    assert decoded.shape == shape and decoded.dtype == object
    assert decoded.reshape(-1).tolist() == normal_text(np.ascontiguousarray(chunk).reshape(-1).tolist())


@pytest.mark.parametrize("shape", SHAPES)
def test_v3_bytes_interop(shape):
    n = int(np.prod(shape))
    values = bytes_values(n, seed=n)
    chunk = objects(values, shape)
    reference = numcodecs.VLenBytes().encode(chunk)
    pipeline = bind(["vlen-bytes"], object, shape, fill_value=b"")
    assert bytes(pipeline.encode(chunk)) == reference
    assert bytes(pipeline.encode(np.asfortranarray(chunk))) == reference
    decoded = pipeline.decode(reference, key="c/0")
    assert decoded.shape == shape and decoded.reshape(-1).tolist() == normal_bytes(values)
    assert all(type(x) is bytes for x in decoded.reshape(-1).tolist())


@needs_stringdtype
@pytest.mark.parametrize("n", SIZES)
def test_v3_stringdtype(n):
    values = normal_text(text_values(n, seed=7))
    arr = np.array(values, dtype=StringDType())
    reference = numcodecs.VLenUTF8().encode(objects(values))
    pipeline = bind(["vlen-utf8"], StringDType(), (n,), fill_value="")
    assert bytes(pipeline.encode(arr)) == reference
    decoded = pipeline.decode(reference)
    assert decoded.dtype == StringDType() and decoded.tolist() == values
    # missing values are written as ""
    with_na = np.array(["a", None, "b"], dtype=StringDType(na_object=None))
    assert bytes(vlen.pack_utf8(with_na)) == numcodecs.VLenUTF8().encode(objects(["a", "", "b"]))


def test_v3_fixed_size_types():
    u = np.array(["ab", "", "é"], dtype="<U2")
    assert bytes(vlen.pack_utf8(u)) == numcodecs.VLenUTF8().encode(u.astype(object))
    out = bind(["vlen-utf8"], "<U2", (3,), fill_value="").decode(numcodecs.VLenUTF8().encode(u.astype(object)))
    assert out.dtype == np.dtype("<U2") and out.tolist() == ["ab", "", "é"]
    s = np.array([b"ab", b"", b"\xff"], dtype="|S2")
    assert bytes(vlen.pack_bytes(s)) == numcodecs.VLenBytes().encode(s.astype(object))
    pipeline = bind(["vlen-bytes"], "|S2", (3,), fill_value=b"")
    assert pipeline.decode(numcodecs.VLenBytes().encode(s.astype(object))).tolist() == [b"ab", b"", b"\xff"]
    with pytest.raises(CorruptChunkError, match="does not fit"):
        pipeline.decode(numcodecs.VLenBytes().encode(objects([b"abc", b"", b""])))


def test_v3_count_must_match_the_chunk():
    pipeline = bind(["vlen-utf8"], object, (4,), fill_value="")
    with pytest.raises(CorruptChunkError, match="3 items, the chunk holds 4") as e:
        pipeline.decode(GOLDEN_VLEN, key="c/7")
    assert e.value.key == "c/7"


# --- numcodecs-compatible codecs against numcodecs -------------------------------------------

def _cfg_text(config: dict) -> str:
    return json.dumps(config)  # tuples and lists alike, key order kept


CONFIGS = [
    {"id": "vlen-utf8"}, {"id": "vlen-bytes"}, {"id": "vlen-array", "dtype": "<i2"},
    {"id": "vlen-array", "dtype": ">f8"}, {"id": "json2"}, {"id": "json2", "indent": 2},
    {"id": "json2", "ensure_ascii": False, "sort_keys": False, "separators": [", ", ": "]},
    {"id": "json2", "encoding": "latin-1", "allow_nan": False, "skipkeys": True, "check_circular": False,
     "strict": False},
    {"id": "msgpack2"}, {"id": "msgpack2", "use_single_float": True, "use_bin_type": False, "raw": True},
    {"id": "pickle"}, {"id": "pickle", "protocol": 2},
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: _cfg_text(c))
def test_config_matches_numcodecs(config):
    ours = get_codec(dict(config))
    theirs = numcodecs.get_codec(dict(config))
    assert _cfg_text(ours.get_config()) == _cfg_text(theirs.get_config())
    assert ours == theirs
    # round trips: JSON text -> registry -> equal, and numcodecs reads ours
    again = get_codec(json.loads(json.dumps(ours.get_config())))
    assert again == ours and hash(again) == hash(ours) and repr(again) == repr(ours)
    assert numcodecs.get_codec(json.loads(json.dumps(ours.get_config()))) == theirs


def test_registered_ids():
    from zarrsync.codecs.numcodecs_api import registered_codec_ids
    assert {"vlen-utf8", "vlen-bytes", "vlen-array", "json2", "msgpack2", "pickle"} <= set(registered_codec_ids())


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("shape_kind", ["1d", "2d-C", "2d-F"])
def test_vlen_utf8_bytes_interop(n, shape_kind):
    for values, ours, theirs, norm in [
        (text_values(n, seed=n), zo.VLenUTF8(), numcodecs.VLenUTF8(), normal_text),
        (bytes_values(n, seed=n), zo.VLenBytes(), numcodecs.VLenBytes(), normal_bytes),
    ]:
        arr = objects(values)
        if shape_kind != "1d" and n % 3 == 0 and n:
            arr = arr.reshape((3, n // 3), order=shape_kind[-1])
        expected = norm(arr.reshape(-1, order="A").tolist())
        reference = theirs.encode(arr)
        assert ours.encode(arr) == reference
        assert ours.decode(reference).tolist() == expected
        assert theirs.decode(ours.encode(arr)).tolist() == expected
        out = np.empty(arr.size, dtype=object)
        assert ours.decode(memoryview(reference), out=out) is out and out.tolist() == expected


def test_vlen_none_and_zero_as_empty():
    for values in ([None, 0, 0.0, False, "x"], [None, 0, b"x"]):
        text = isinstance(values[-1], str)
        ours, theirs = (zo.VLenUTF8(), numcodecs.VLenUTF8()) if text else (zo.VLenBytes(), numcodecs.VLenBytes())
        assert ours.encode(objects(values)) == theirs.encode(objects(values))


def test_vlen_wrong_item_types():
    with pytest.raises(DataTypeError, match="item 1 is a bytes"):
        zo.VLenUTF8().encode(objects(["a", b"b"]))
    with pytest.raises(TypeError):  # DataTypeError is a TypeError, as numcodecs raises
        zo.VLenUTF8().encode(objects(["a", 1.5]))
    with pytest.raises(DataTypeError, match="item 0 is a str"):
        zo.VLenBytes().encode(objects(["a"]))
    with pytest.raises(CodecError, match="item 1 cannot be written as UTF-8"):
        zo.VLenUTF8().encode(objects(["ok", "\ud800"]))
    with pytest.raises(DataTypeError):
        VLenUTF8Codec().encode(np.arange(3), ChunkSpec((3,), np.dtype(object), ""))


def test_vlen_u_and_s_arrays_like_numcodecs():
    u = np.array([["ab", "c"], ["", "é"]])
    assert zo.VLenUTF8().encode(u) == numcodecs.VLenUTF8().encode(u)
    s = np.array([b"ab", b"", b"c\x00d"])
    assert zo.VLenBytes().encode(s) == numcodecs.VLenBytes().encode(s)


ARRAY_DTYPES = ["<i2", ">i4", "<f8", "|u1", "<c16"]


@pytest.mark.parametrize("dtype", ARRAY_DTYPES)
@pytest.mark.parametrize("n", [0, 1, 5, 40])
def test_vlen_array_interop(dtype, n):
    rng = np.random.default_rng(n)
    values = [None if i % 4 == 2 else (rng.standard_normal(int(rng.integers(0, 6))) * 100).astype(dtype)
              for i in range(n)]
    arr = objects(values)
    ours, theirs = zo.VLenArray(dtype), numcodecs.VLenArray(dtype)
    reference = theirs.encode(arr)
    assert ours.encode(arr) == reference
    for dec in (ours.decode(reference), theirs.decode(ours.encode(arr))):
        assert dec.dtype == object and dec.shape == (n,)
        for got, want in zip(dec.tolist(), values):
            want = np.zeros(0, dtype) if want is None else want
            assert got.dtype == np.dtype(dtype) and got.tobytes() == want.tobytes()
    if n:
        first = ours.decode(reference)[0]
        assert first.flags.writeable
    # lists and scalars are cast like numcodecs does
    mixed = objects([[1, 2], 7, np.array([1.7, -2.2])])
    assert ours.encode(mixed) == theirs.encode(mixed)


def test_vlen_array_errors():
    with pytest.raises(CodecError, match="1-d"):
        zo.VLenArray("<i2").encode(objects([np.zeros((2, 2))]))
    with pytest.raises(CodecError):
        zo.VLenArray("|O")
    with pytest.raises(CorruptChunkError, match="item 0 has 3 bytes, not a multiple"):
        zo.VLenArray("<i2").decode(bytes.fromhex("01000000" "03000000" "010002"))


def nested_values():
    ragged = objects([[1, 2], [3], 5])
    lists = objects([[0, 0], [0, 1], [1, 0], [1, 1]], (2, 2))
    mixed = objects([{"b": [1, 2], "a": None}, [1, "é", {"z": True}], 1.5, float("nan"), "日本", None, 7, -3])
    return [("1d-str", objects(["x", "y", None, "é"])), ("2d-str", objects(list("abcdef"), (2, 3))),
            ("2d-F", objects(list("abcdef"), (2, 3), order="F")), ("3d", objects(list(range(24)), (2, 3, 4))),
            ("ragged-lists", ragged), ("list-items-2d", lists), ("mixed-json", mixed),
            ("int", np.arange(6, dtype="<i8").reshape(2, 3)), ("float", np.array([1.5, -0.0, 3.25])),
            ("unicode", np.array(["ab", "é"])), ("0-d", objects(["only"]).reshape(())),
            ("empty", objects([])), ("3x0", np.empty((3, 0), dtype=object))]


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype
    for g, w in zip(got.reshape(-1).tolist(), want.reshape(-1).tolist()):
        if isinstance(w, float) and w != w:
            assert g != g
        else:
            assert g == w and type(g) is type(w)


@pytest.mark.parametrize("config", [c for c in CONFIGS if c["id"] == "json2"], ids=_cfg_text)
@pytest.mark.parametrize("case", nested_values(), ids=lambda c: c[0])
def test_json2_interop(config, case):
    _, arr = case
    ours, theirs = get_codec(dict(config)), numcodecs.get_codec(dict(config))
    if not config.get("allow_nan", True) and case[0] == "mixed-json":
        with pytest.raises(CodecError):
            ours.encode(arr)
        return
    reference = theirs.encode(arr)
    assert ours.encode(arr) == reference
    _same(ours.decode(reference), arr)
    if case[0] not in ("0-d", "3x0", "empty"):  # numcodecs cannot read some of its own output
        _same(theirs.decode(ours.encode(arr)), arr)


@pytest.mark.parametrize("config", [c for c in CONFIGS if c["id"] == "msgpack2"], ids=_cfg_text)
@pytest.mark.parametrize("case", nested_values(), ids=lambda c: c[0])
def test_msgpack2_interop(config, case):
    name, arr = case
    ours, theirs = get_codec(dict(config)), numcodecs.get_codec(dict(config))
    if name == "mixed-json":  # msgpack has no NaN-unequal problem but no dict key order either
        arr = objects([[1, "é"], 1.5, "日本", None, 7, -3, b"\x00\xff", True])
    if name == "0-d":  # numcodecs cannot encode a 0-d chunk; zarrsync reads and writes it
        assert ours.decode(ours.encode(arr))[()] == (b"only" if config.get("raw") else "only")
        return
    reference = theirs.encode(arr)
    assert ours.encode(arr) == reference
    if config.get("raw") or config.get("use_single_float"):  # lossy settings: compare with numcodecs
        try:
            expected = theirs.decode(reference)
        except ValueError:  # raw bytes into a unicode chunk
            with pytest.raises(CorruptChunkError):
                ours.decode(reference)
            return
        _same(ours.decode(reference), expected)
        return
    _same(ours.decode(reference), arr)
    if name != "empty":
        _same(theirs.decode(ours.encode(arr)), arr)


@needs_stringdtype
def test_json_msgpack_write_stringdtype_as_objects():
    arr = np.array(["a", "é"], dtype=StringDType())
    assert zo.JSON().encode(arr) == b'["a","\\u00e9","|O",[2]]'
    # numcodecs writes "StringDType()" (and cannot read it back); zarrsync reads it
    dec = zo.JSON().decode(numcodecs.JSON().encode(arr))
    assert dec.dtype == StringDType() and dec.tolist() == ["a", "é"]


def test_json2_errors():
    with pytest.raises(DataTypeError, match="json2"):
        zo.JSON().encode(objects([b"x"]))
    with pytest.raises(CodecError, match="encoding"):
        zo.JSON(encoding="no-such-encoding")
    with pytest.raises(CodecError, match="separators"):
        zo.JSON(separators=[","])


JSON_BAD = [
    b"", b"not json", b"{}", b'["|O"]', b'[1, 2, 3]', b'["x", "no-such-dtype", [1]]', b'["x", "|O", [2]]',
    b'["x", "|O", "1"]', b'["x", "|O", [-1]]', b'["x", "|O", [true]]', b'[["a"], ["b", "c"], "|O", [2, 1]]',
    b'[1, 2, "|O", []]', b'["x", "<i4", [1]]', b'[1e999999, "<i1", [1]]', b'[300, "|u1", [1]]',
    b'["|O", [1000000000000]]', b'["x", "<U100000000", [1]]', b'[' * 100000 + b']' * 100000,
    "[\"\u00e9\", \"|O\", [1]]".encode("utf-16"),
]


@pytest.mark.parametrize("data", JSON_BAD, ids=range(len(JSON_BAD)))
def test_json2_malformed(data):
    with pytest.raises(CorruptChunkError):
        zo.JSON().decode(data)


def test_msgpack2_malformed():
    bad = [b"", b"\xc1", b"\x94\xa1", msgpack.packb({"a": 1}), msgpack.packb(["x", "|O", [2]]),
           msgpack.packb(["|O", [10 ** 12]]), msgpack.packb(["x", "<U100000000", [1]]), b"\xdd\xff\xff\xff\xff",
           msgpack.packb(["x", "|O", [1]]) + b"\x00"]
    for data in bad:
        with pytest.raises(CorruptChunkError):
            zo.MsgPack().decode(data)


def test_msgpack_is_optional(monkeypatch):
    monkeypatch.setitem(sys.modules, "msgpack", None)  # makes ``import msgpack`` fail
    codec = get_codec({"id": "msgpack2"})  # reading metadata still works
    assert codec.get_config()["id"] == "msgpack2"
    for call in (lambda: codec.encode(objects(["a"])), lambda: codec.decode(b"\x90")):
        with pytest.raises(MissingDependencyError, match="pip install msgpack") as e:
            call()
        assert isinstance(e.value, ImportError) and isinstance(e.value, ZarrsyncError)


def test_import_needs_neither_msgpack_nor_pickle_use():
    code = textwrap.dedent("""
        import sys
        sys.modules["msgpack"] = None
        import zarrsync, zarrsync.codecs
        from zarrsync.codecs import get_codec
        get_codec({"id": "msgpack2"})
        assert "numcodecs" not in sys.modules
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


# --- pickle -----------------------------------------------------------------------------------

@pytest.fixture
def numcodecs_may_unpickle(monkeypatch):
    monkeypatch.setattr(numcodecs.pickles, "ALLOW_UNSAFE_PICKLE_DECODE", True)


def test_pickle_refused_by_default():
    codec = get_codec({"id": "pickle"})
    data = pickle.dumps(objects(["a"]))
    for call in (lambda: codec.decode(data), lambda: codec.encode(objects(["a"]))):
        with pytest.raises(PickleRefusedError) as e:
            call()
        message = str(e.value)
        assert "allow_pickle" in message and "zarrsync.config" in message and "arbitrary code" in message
        assert isinstance(e.value, PermissionError)


def test_pickle_refused_does_not_unpickle():
    class Boom:
        def __reduce__(self):
            return (pytest.fail, ("unpickled although pickle is refused",))
    with pytest.raises(PickleRefusedError):
        zo.Pickle().decode(pickle.dumps(Boom()))


@pytest.mark.parametrize("case", nested_values()[:6], ids=lambda c: c[0])
def test_pickle_allowed_in_context(case, numcodecs_may_unpickle):
    _, arr = case
    ours, theirs = zo.Pickle(), numcodecs.Pickle()
    with zarrsync.config.context(allow_pickle=True):
        assert ours.encode(arr) == theirs.encode(arr)
        _same(ours.decode(theirs.encode(arr)), arr)
        _same(theirs.decode(ours.encode(arr)), arr)
        with pytest.raises(CorruptChunkError):
            ours.decode(b"\x80\x05garbage")
    with pytest.raises(PickleRefusedError):  # the override ends with the block
        ours.decode(theirs.encode(arr))


# --- malformed vlen buffers --------------------------------------------------------------------

VLEN_DECODERS = [
    ("v3-utf8", lambda d, n: VLenUTF8Codec().decode(d, ChunkSpec((n,), np.dtype(object), ""))),
    ("v3-bytes", lambda d, n: VLenBytesCodec().decode(d, ChunkSpec((n,), np.dtype(object), b""))),
    ("nc-utf8", lambda d, n: zo.VLenUTF8().decode(d)),
    ("nc-bytes", lambda d, n: zo.VLenBytes().decode(d)),
    ("nc-array", lambda d, n: zo.VLenArray("|u1").decode(d)),
]


@pytest.mark.parametrize("name,decode", VLEN_DECODERS, ids=[d[0] for d in VLEN_DECODERS])
@pytest.mark.parametrize("n", [3, 60])
def test_vlen_every_truncation_fails(name, decode, n):
    values = normal_text(text_values(n, seed=3))
    if "utf8" not in name:
        values = [v.encode() for v in values]
    data = (numcodecs.VLenUTF8() if "utf8" in name else numcodecs.VLenBytes()).encode(objects(values))
    decode(data, n)  # the whole buffer decodes
    for cut in range(len(data)):
        with pytest.raises(CorruptChunkError):
            decode(data[:cut], n)
    with pytest.raises(CorruptChunkError, match="1 bytes follow the last item"):
        decode(data + b"\x00", n)


@pytest.mark.parametrize("name,decode", VLEN_DECODERS, ids=[d[0] for d in VLEN_DECODERS])
def test_vlen_malformed_messages(name, decode):
    cases = [
        (b"", 0, "too short for the 4-byte item count"),
        (b"\x01\x00", 1, "too short"),
        (bytes.fromhex("02000000" "01000000" "61" "05000000" "62"), 2, "item 1 has length 5, which runs past"),
        (bytes.fromhex("02000000" "09000000" "61" "01000000" "62"), 2, "item 0 has length 9, which runs past"),
        (bytes.fromhex("02000000" "03000000" "616263" "0100"), 2, "ends inside the length of item 1"),
        (bytes.fromhex("01000000" "01000000" "61" "00"), 1, "1 bytes follow the last item"),
        (bytes.fromhex("ffffffff" "00000000"), 0xFFFFFFFF, "4294967295 items, but 8 bytes can hold at most 1"),
    ]
    for data, n, message in cases:
        with pytest.raises(CorruptChunkError, match=message):
            decode(data, n)


def test_vlen_invalid_utf8():
    bad = [bytes.fromhex("02000000" "01000000" "61" "01000000" "ff"),
           bytes.fromhex("02000000" "01000000" "c3" "01000000" "a9"),  # 'é' split across two items
           bytes.fromhex("01000000" "03000000" "eda080")]  # an encoded surrogate
    for data in bad:
        with pytest.raises(CorruptChunkError, match="not valid UTF-8"):
            zo.VLenUTF8().decode(data)
    # the same in the bulk path
    good = numcodecs.VLenUTF8().encode(objects(["ab"] * 100))
    for i, patch in [(50, b"\xff"), (57, b"\xa9")]:
        data = bytearray(good)
        data[8 + 6 * i: 9 + 6 * i] = patch
        with pytest.raises(CorruptChunkError, match=f"item {i} is not valid UTF-8"):
            zo.VLenUTF8().decode(bytes(data))


def test_vlen_huge_count_allocates_nothing():
    data = b"\xff\xff\xff\xff" + b"\x00" * 60
    tracemalloc.start()
    try:
        for decode in (zo.VLenUTF8().decode, zo.VLenBytes().decode, zo.VLenArray("<i8").decode):
            with pytest.raises(CorruptChunkError):
                decode(data)
        with pytest.raises(CorruptChunkError):
            VLenUTF8Codec().decode(data, ChunkSpec((1 << 40,), np.dtype(object), ""))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_vlen_fuzz_agrees_with_numcodecs():
    """Random corruptions: zarrsync decodes exactly when numcodecs does (bar trailing bytes).

    The count stays intact: numcodecs allocates whatever a corrupted count asks for (that case
    is ``test_vlen_huge_count_allocates_nothing``)."""
    rng = np.random.default_rng(1)
    for values in (normal_text(text_values(40, seed=5)), ["ab"] * 40, ["a\x00"] * 30):
        good = numcodecs.VLenUTF8().encode(objects(values))
        for _ in range(300):
            data = bytearray(good)
            for pos in rng.integers(4, len(data), int(rng.integers(1, 4))):
                data[pos] = int(rng.integers(0, 256))
            data = bytes(data)
            try:
                expected = numcodecs.VLenUTF8().decode(data).tolist()
            except Exception:  # noqa: BLE001
                expected = None
            try:
                got = zo.VLenUTF8().decode(data).tolist()
            except CorruptChunkError:
                got = None
            if got is not None:
                assert got == expected
            elif expected is not None:  # numcodecs ignores trailing bytes; zarrsync refuses them
                assert len(numcodecs.VLenUTF8().encode(objects(expected))) < len(data)


def test_vlen_uniform_lengths_shortcut_is_verified():
    # lengths 2, 0, 4 fill exactly the size three items of length 2 would: the shortcut must not trust it
    data = bytes.fromhex("03000000" "02000000" "6162" "00000000" "04000000" "63646566")
    assert zo.VLenUTF8().decode(data).tolist() == ["ab", "", "cdef"]
    many = numcodecs.VLenUTF8().encode(objects(["abcd"] * 50 + ["", "abcdefgh"] + ["abcd"] * 48))
    assert zo.VLenUTF8().decode(many).tolist() == ["abcd"] * 50 + ["", "abcdefgh"] + ["abcd"] * 48


@pytest.mark.parametrize("kind", ["utf8", "bytes"])
def test_vlen_items_holding_every_separator_candidate(kind):
    # the bulk decoder splits at a byte value absent from the items; with every candidate present
    # it falls back to item-by-item decoding
    if kind == "utf8":
        values = ["".join(map(chr, range(128)))] * 40 + ["x"]
        ours, theirs = zo.VLenUTF8(), numcodecs.VLenUTF8()
    else:
        values = [bytes(range(256))] * 40 + [b"x"]
        ours, theirs = zo.VLenBytes(), numcodecs.VLenBytes()
    data = theirs.encode(objects(values))
    assert vlen._split(*vlen.unpack_frames(data, None, "x")[:2], text=kind == "utf8") is None
    assert ours.decode(data).tolist() == values
    values[3] = values[3][:5]
    assert ours.decode(theirs.encode(objects(values))).tolist() == values


@pytest.mark.parametrize("values", [
    ["abc", "", "é", "日本語🦆"] * 20,  # separator 0x00
    ["a\x00b", "", "\x01"] * 20,  # 0x00 and 0x01 taken: 0x1f
    [b"\x00\x01", b"", b"\xfe"] * 20,  # 0xff
    [b"\x00\xff", b"\x01", b""] * 20,  # 0xfe
], ids=range(4))
def test_vlen_bulk_split(values):
    text = isinstance(values[0], str)
    data = (numcodecs.VLenUTF8() if text else numcodecs.VLenBytes()).encode(objects(values))
    data_, starts, ends = vlen.unpack_frames(data, len(values), "x")
    assert vlen._split(data_, starts, text=text) == values
    assert (vlen.unpack_utf8 if text else vlen.unpack_bytes)(data) == values


# --- the numpy guess of item heads agrees with the item-by-item walk -----------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), st.binary(max_size=30), st.sampled_from(["", "\x00", "é"])),
                min_size=2, max_size=120))
def test_guessed_item_heads_are_exactly_the_walked_ones(items):
    """Whatever the payloads (text, binary, empty, NUL), the vectorised guess either declines or
    finds exactly the items the length prefixes define."""
    from zarrsync.codecs import vlen

    payloads = [x.encode("utf-8") if isinstance(x, str) else x for x in items]
    data = bytes(vlen.pack_frames(payloads, "vlen-bytes"))
    guess = vlen._chain_guess(data, len(payloads))
    walked = np.frombuffer(vlen._chain(data, len(payloads), "vlen-bytes"), dtype=np.int64)
    if guess is not None:
        np.testing.assert_array_equal(guess, walked)
    assert vlen.unpack_bytes(data, len(payloads)) == payloads


def test_a_wrong_guess_is_declined():
    """Payloads whose bytes look like length fields: the run-end guess is wrong here, and the
    exact check must refuse it (the walk then finds the items)."""
    from zarrsync.codecs import vlen

    payloads = [b"\x01aa\x01\x02\x01\x01a", b"\x00a\x00\x01"]
    data = bytes(vlen.pack_frames(payloads, "vlen-bytes"))
    assert vlen._chain_guess(data, 2) is None
    assert vlen.unpack_bytes(data, 2) == payloads


def test_guess_is_taken_for_text():
    from zarrsync.codecs import vlen

    payloads = [("w" * (i % 17)).encode() + b"x" for i in range(500)]
    data = bytes(vlen.pack_frames(payloads, "vlen-bytes"))
    ends = vlen._chain_guess(data, len(payloads))
    assert ends is not None
    np.testing.assert_array_equal(ends, np.cumsum([4 + len(p) for p in payloads]) + 4)


def test_json2_indent_true_as_older_numcodecs_wrote_it():
    """Older numcodecs wrote ``"indent": true`` (json reads a bool as the int 1): accepted, with
    numcodecs' bytes, and the config keeps it."""
    config = {"id": "json2", "encoding": "utf-8", "skipkeys": False, "ensure_ascii": True, "check_circular": True,
              "allow_nan": True, "indent": True, "separators": [", ", ": "], "sort_keys": True, "strict": True}
    ours = zo.JSON.from_config(config)
    arr = objects(["a", 1, [2, None]])
    theirs = numcodecs.JSON(**{k: v for k, v in config.items() if k != "id"})
    assert ours.encode(arr) == theirs.encode(arr)
    assert list(ours.decode(theirs.encode(arr))) == list(arr)
    assert ours.get_config()["indent"] is True


def test_json2_indent_is_bounded():
    with pytest.raises(CodecError, match="indent"):
        zo.JSON(indent=1 << 40)


# --- the compiled accelerator -------------------------------------------------------------------

class _Counting:
    """Wraps a numcodecs codec, counting its decode and encode calls."""

    def __init__(self, codec):
        self.codec, self.calls = codec, 0

    def decode(self, buf):
        self.calls += 1
        return self.codec.decode(buf)

    def encode(self, values):
        self.calls += 1
        return self.codec.encode(values)


def test_the_accelerator_is_used_only_on_its_leg_and_refuses_every_trailing_byte(vlen_path, monkeypatch):
    """numcodecs ignores bytes after the last item; through the marker item zarrsync appends,
    the accelerated decoder refuses them as the Python one does: zero padding, a copy of the
    last frame, a frame of 16 capital letters, random bytes."""
    counters = None
    if vlen_path == "numcodecs":
        counters = tuple(_Counting(c) for c in vlen.c_vlen())
        monkeypatch.setattr(vlen, "c_vlen", lambda: counters)
    values = normal_text(text_values(100, seed=8)) + [""]
    good = numcodecs.VLenUTF8().encode(objects(values))
    spec = ChunkSpec((len(values),), np.dtype(object), "")
    assert VLenUTF8Codec().decode(good, spec).tolist() == values
    assert zo.VLenBytes().decode(good).tolist() == [v.encode() for v in values]
    last_frame = numcodecs.VLenUTF8().encode(objects(["x" * 16]))[4:]
    rng = np.random.default_rng(3)
    tails = [b"\x00" * k for k in range(1, 41)] + [bytes(good[-4:]), bytes(good[-9:]), last_frame,
                                                    (16).to_bytes(4, "little") + b"ABCDEFGHIJKLMNOP"]
    tails += [rng.integers(0, 256, int(k), dtype=np.uint8).tobytes() for k in rng.integers(1, 64, 30)]
    for tail in tails:
        for decode in (lambda d: VLenUTF8Codec().decode(d, spec), zo.VLenBytes().decode):
            with pytest.raises(CorruptChunkError, match=f"{len(tail)} bytes follow the last item"):
                decode(bytes(good) + tail)
    if counters is not None:
        assert counters[0].calls > len(tails) and counters[1].calls > len(tails)


@needs_stringdtype
@pytest.mark.parametrize("kind", ["T", "U", "S", "T-missing"])
def test_encoding_gives_the_bytes_of_numcodecs_on_both_legs(vlen_path, kind, monkeypatch):
    """Fixed-width and StringDType chunks: the same bytes with and without the accelerator (the
    format leaves no choice); a StringDType with a missing value always takes the Python encoder,
    which writes the missing value as ''."""
    counters = None
    if vlen_path == "numcodecs":
        counters = tuple(_Counting(c) for c in vlen.c_vlen())
        monkeypatch.setattr(vlen, "c_vlen", lambda: counters)
    values = [v or "" for v in normal_text(text_values(80, seed=9))]
    if kind == "S":
        arr = np.array([v.encode() for v in values], dtype="S")
        values = arr.tolist()  # S drops trailing NULs, as numcodecs sees it
        expected = numcodecs.VLenBytes().encode(objects(values))
        got = vlen.pack_bytes(arr)
    else:
        if kind == "T-missing":
            arr = np.array(values[:-1] + [None], dtype=StringDType(na_object=None))
            values = values[:-1] + [""]
        else:
            arr = np.array(values, dtype=StringDType() if kind == "T" else "U")
            values = arr.tolist()  # U drops trailing NULs, as numcodecs sees it
        expected = numcodecs.VLenUTF8().encode(objects(values))
        got = vlen.pack_utf8(arr)
    assert bytes(got) == bytes(expected)
    if counters is not None:
        assert sum(c.calls for c in counters) == (0 if kind == "T-missing" else 1)
