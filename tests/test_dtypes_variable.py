"""Variable-length data types in arrays: ``string``, ``bytes``, ``zarrsync.json`` and Zarr v2 object
arrays (``dtype=object`` with an object codec), end to end through create / write / read / reopen.

Expected values are a model (an object array of Python values, the fill value wherever nothing
was written) or come from the real numcodecs (bytes it writes, arrays it decodes) and from
``SPEC_CHECKLIST`` (§2.8, §4.3, §4.4, §9); never from zarrsync's own output. zarr-python interop
lives in ``tests_zarr/test_zarr_variable_dtypes.py``.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import warnings
from typing import Any, Callable, ClassVar

import numpy as np
import pytest

with warnings.catch_warnings():  # numcodecs warns that the crc32c package is deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    import numcodecs
    import numcodecs.pickles

import zarrsync
import zarrsync.dtypes as zdt
from zarrsync.codecs import objects as zo
from zarrsync.dtypes import JSON, DataType, register_data_type
from zarrsync.errors import (CodecError, CorruptChunkError, DataTypeError, FillValueError, MetadataError,
                             PickleRefusedError, UnknownExtensionError)
from zarrsync.storage import LocalStore, MemoryStore

pytest.importorskip("msgpack")  # in the test extra; numcodecs.MsgPack needs it

StringDType = getattr(np.dtypes, "StringDType", None)
pytestmark = pytest.mark.skipif(StringDType is None, reason="numpy < 2 has no StringDType")

#: SPEC_CHECKLIST §2.8 / §9: vlen-utf8 of ['a', 'é', None]
GOLDEN_VLEN = bytes.fromhex("03000000" "01000000" "61" "02000000" "c3a9" "00000000")


# --- helpers -------------------------------------------------------------------------------------

def objects(values, shape=None) -> np.ndarray:
    """An object array holding exactly ``values`` (a list or array value stays one element)."""
    arr = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        arr[i] = v
    return arr if shape is None else arr.reshape(shape)


def one(value) -> np.ndarray:
    """``value`` as a 0-d object array: one element, even if it is a list or an array."""
    out = np.empty((), dtype=object)
    out[()] = value
    return out


def same(got, want, none_as=None) -> None:
    """Element by element: same type and value (arrays: same dtype and items). With ``none_as``,
    a None expected may also read as that array (what vlen-array stores for None)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    for i, (g, w) in enumerate(zip(got.ravel().tolist(), want.ravel().tolist())):
        if w is None and none_as is not None and isinstance(g, np.ndarray):
            w = none_as
        if isinstance(w, np.ndarray):
            assert isinstance(g, np.ndarray) and g.dtype == w.dtype and np.array_equal(g, w), (i, g, w)
        else:
            assert type(g) is type(w) and g == w, (i, g, w)


def text_values(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    pool = ["", "a", "é", "zé\u00ff", "日本語", "emoji \U0001f600", "tab\tnl\n", "x" * 40, "\x00nul\x00"]
    return [pool[i] + str(j) for j, i in enumerate(rng.integers(0, len(pool), n))]


def bytes_values(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, int(k), dtype=np.uint8).tobytes() + b"\x00" * int(k % 2)
            for k in rng.integers(0, 12, n)]


def json_values(n: int, seed: int) -> list:
    pool = [None, True, 0, -7, 2.5, "", "s", "é", [], [1, "x", None], {"a": 1}, {"k": [1, {"z": None}]}]
    rng = np.random.default_rng(seed)
    return [pool[i] if i % 3 else f"{pool[i]}-{j}" if isinstance(pool[i], str) else pool[i]
            for j, i in enumerate(rng.integers(0, len(pool), n))]


def msgpack_values(n: int, seed: int) -> list:
    """JSON values and some bytes (msgpack keeps bytes apart from str)."""
    return [b"\x00b" if i % 5 == 4 else v for i, v in enumerate(json_values(n, seed))]


def array_values(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [rng.integers(-1000, 1000, int(k)).astype("<i4") for k in rng.integers(0, 6, n)]


@dataclasses.dataclass(frozen=True)
class Kind:
    """One way of storing variable-length values."""

    id: str
    create: dict  # dtype= / object_codec= arguments
    values: Callable[[int, int], list]
    formats: tuple  # zarr formats it exists in
    default_fill: Any
    custom_fill: Any = None  # None: only the default is tested
    as_input: Callable[[np.ndarray], np.ndarray] = lambda a: a  # the value given to a write
    read_dtype: Any = np.dtype(object)
    #: vlen-array writes None as an empty array: a stored chunk's unwritten elements read so
    none_as: Any = None

    def model(self, shape, fill) -> np.ndarray:
        out = np.empty(shape, dtype=object)
        for ix in np.ndindex(*shape):
            out[ix] = fill
        return out

    def data(self, shape, seed) -> np.ndarray:
        n = int(np.prod(shape))
        return objects(self.values(n, seed), shape)


def _string_input(a: np.ndarray) -> np.ndarray:
    return a.astype(StringDType())


KINDS = [
    Kind("str", {"dtype": str}, text_values, (3, 2), "", "\u00b7fill", read_dtype=StringDType and StringDType()),
    Kind("str-stringdtype", {"dtype": StringDType and StringDType()}, text_values, (3, 2), "", "f",
         as_input=_string_input, read_dtype=StringDType and StringDType()),
    Kind("bytes", {"dtype": bytes}, bytes_values, (3, 2), b"", b"\x00fill\x00"),
    Kind("json", {"dtype": JSON()}, json_values, (3,), None, "nothing"),
    Kind("json2", {"dtype": object, "object_codec": {"id": "json2"}}, json_values, (2,), None, -1),
    Kind("msgpack2", {"dtype": object, "object_codec": {"id": "msgpack2"}}, msgpack_values, (2,), None, "m"),
    Kind("vlen-array", {"dtype": object, "object_codec": {"id": "vlen-array", "dtype": "<i4"}}, array_values,
         (2,), None, none_as=np.empty(0, "<i4")),
    Kind("numcodecs.JSON", {"dtype": object, "object_codec": numcodecs.JSON()}, json_values, (2,), None, 0),
    Kind("numcodecs.MsgPack", {"dtype": object, "object_codec": numcodecs.MsgPack()}, msgpack_values, (2,), None),
]

# layout id -> create_array arguments
LAYOUTS = {
    "v3": {"zarr_format": 3},
    "v3-sharded": {"zarr_format": 3, "shards": (6, 4)},
    "v2-C": {"zarr_format": 2, "order": "C"},
    "v2-F": {"zarr_format": 2, "order": "F"},
}
SHAPE, CHUNKS = (7, 5), (3, 2)
REGION = (slice(1, 6), slice(1, 5))  # the edge chunk column; chunk row 2 stays missing, others partly written


def _cases():
    for kind in KINDS:
        for layout, kw in LAYOUTS.items():
            if kw["zarr_format"] not in kind.formats:
                continue
            fills = ["default"] + (["custom"] if kind.custom_fill is not None else [])
            for fill in fills:
                yield pytest.param(kind, layout, fill, id=f"{kind.id}-{layout}-{fill}")


CASES = list(_cases())


def fill_of(kind: Kind, fill: str):
    return kind.default_fill if fill == "default" else kind.custom_fill


def create(store, kind: Kind, layout: str, fill: str, shape=SHAPE, **extra) -> zarrsync.Array:
    kw = dict(kind.create, **LAYOUTS[layout], **extra)
    if fill == "custom":
        kw["fill_value"] = kind.custom_fill
    return zarrsync.create_array(store, shape=shape, chunks=CHUNKS, **kw)


def chunk_key(layout: str, coords) -> str:
    if layout == "v3-sharded":  # shards of 2 x 2 chunks
        coords = (coords[0] // 2, coords[1] // 2)
    return ".".join(map(str, coords)) if layout.startswith("v2") else "c/" + "/".join(map(str, coords))


def chunk_keys(store) -> set:
    return {k for k in store.list_prefix("") if not k.endswith((".zarray", "zarr.json", ".zattrs", ".zgroup"))}


def check_read(a: zarrsync.Array, kind: Kind, model: np.ndarray) -> None:
    got = a[...]
    assert got.dtype == kind.read_dtype
    same(got, model, kind.none_as)


# --- round trips ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, layout, fill", CASES)
def test_round_trip(tmp_path, kind, layout, fill):
    store = LocalStore(str(tmp_path / "a.zarr"))
    a = create(store, kind, layout, fill)
    fv = fill_of(kind, fill)
    assert type(a.fill_value) is type(fv) and a.fill_value == fv
    model = kind.model(SHAPE, fv)
    check_read(a, kind, model)  # nothing stored: every element is the fill value
    assert chunk_keys(store) == set()

    data = kind.data(SHAPE, seed=1)
    a[REGION] = kind.as_input(data[REGION])
    model[REGION] = data[REGION]
    check_read(a, kind, model)
    same(a[2:7:2, ::-2], model[2:7:2, ::-2], kind.none_as)
    same(one(a[6, 4]), one(model[6, 4]), kind.none_as)  # one element: a str, bytes, JSON value or array
    touched = {chunk_key(layout, (i, j)) for i in range(2) for j in range(3)}  # rows 1..5, columns 1..4
    assert chunk_keys(store) == touched

    b = zarrsync.open_array(str(tmp_path / "a.zarr"), mode="r")  # from the directory, no shared state
    assert b.zarr_format == LAYOUTS[layout]["zarr_format"] and b.shape == SHAPE
    assert type(b.fill_value) is type(fv) and b.fill_value == fv
    check_read(b, kind, model)


@pytest.mark.parametrize("kind, layout, fill", CASES)
def test_selections_read_and_write(kind, layout, fill):
    store = MemoryStore()
    a = create(store, kind, layout, fill)
    model = kind.model(SHAPE, fill_of(kind, fill))
    data = kind.data(SHAPE, seed=2)
    a[:, 1:] = kind.as_input(data[:, 1:])
    model[:, 1:] = data[:, 1:]

    def eq(got, want):
        same(got, want, kind.none_as)

    rows, cols = [0, 3, 6], [4, 0, 1]
    eq(a.oindex[rows, cols], model[np.ix_(rows, cols)])
    eq(a.get_orthogonal_selection((rows, slice(None))), model[rows])
    eq(a.vindex[rows, cols], model[rows, cols])
    eq(a.get_coordinate_selection((rows, cols)), model[rows, cols])
    mask = np.random.default_rng(3).random(SHAPE) < 0.4
    eq(a.vindex[mask], model[mask])
    eq(a.get_mask_selection(mask), model[mask])
    r, c = a.shards or a.chunks  # blocks are the stored objects: shards if sharded
    eq(a.blocks[-1, -1], model[(SHAPE[0] - 1) // r * r:, (SHAPE[1] - 1) // c * c:])  # the corner (edge) block
    eq(a.blocks[:, 0], model[:, :c])

    new = kind.data(SHAPE, seed=4)
    a.oindex[[1, 5], [0, 3]] = kind.as_input(new[np.ix_([1, 5], [0, 3])])
    model[np.ix_([1, 5], [0, 3])] = new[np.ix_([1, 5], [0, 3])]
    a.vindex[[0, 6, 2], [0, 4, 2]] = kind.as_input(new[[0, 6, 2], [0, 4, 2]])
    model[[0, 6, 2], [0, 4, 2]] = new[[0, 6, 2], [0, 4, 2]]
    new = kind.data(SHAPE, seed=5)
    wmask = np.random.default_rng(6).random(SHAPE) < 0.3
    a.set_mask_selection(wmask, kind.as_input(new[wmask]))
    model[wmask] = new[wmask]
    last = (SHAPE[0] - 1) // r * r
    a.blocks[-1, 0] = kind.as_input(new[last:, :c])  # an edge block
    model[last:, :c] = new[last:, :c]
    a.blocks[0, 1] = kind.as_input(new[:r, c:2 * c])
    model[:r, c:2 * c] = new[:r, c:2 * c]
    check_read(a, kind, model)
    check_read(zarrsync.open_array(store, mode="r"), kind, model)


@pytest.mark.parametrize("kind, layout, fill", CASES)
def test_resize_grow_and_shrink(kind, layout, fill):
    store = MemoryStore()
    a = create(store, kind, layout, fill)
    fv = fill_of(kind, fill)
    data = kind.data(SHAPE, seed=7)
    a[...] = kind.as_input(data)
    a.resize((4, 3))  # cuts through chunk row 1 and column 1 (and through shards)
    check_read(a, kind, data[:4, :3])
    grid = {(i, j) for i in range(2) for j in range(2)}
    assert chunk_keys(store) == {chunk_key(layout, c) for c in grid}
    a.resize((9, 6))  # what the shrink cut off reads as the fill value, not the old data
    model = kind.model((9, 6), fv)
    model[:4, :3] = data[:4, :3]
    check_read(a, kind, model)
    check_read(zarrsync.open_array(store, mode="r"), kind, model)
    a[8, 5] = one(data[0, 0])
    model[8, 5] = data[0, 0]
    check_read(a, kind, model)


@pytest.mark.parametrize("kind, layout, fill", CASES)
def test_chunks_written_back_to_fill_are_deleted(kind, layout, fill):
    store = MemoryStore()
    a = create(store, kind, layout, fill)
    fv = fill_of(kind, fill)
    data = kind.data(SHAPE, seed=8)
    a[:3, :2] = kind.as_input(data[:3, :2])
    a[6, 4] = one(data[6, 4])  # another (edge) chunk, another shard
    assert chunk_keys(store) == {chunk_key(layout, (0, 0)), chunk_key(layout, (2, 2))}
    fill_block = kind.model((3, 2), fv)
    a[:3, 1:2] = kind.as_input(fill_block[:, :1])
    assert chunk_key(layout, (0, 0)) in chunk_keys(store)  # still holds data
    a[:3, :2] = kind.as_input(fill_block)
    assert chunk_keys(store) == {chunk_key(layout, (2, 2))}
    a[6, 4] = fv
    assert chunk_keys(store) == set()
    check_read(a, kind, kind.model(SHAPE, fv))

    kept = create(MemoryStore(), kind, layout, fill, config={"write_empty_chunks": True})
    kept[:3, :2] = kind.as_input(fill_block)
    assert chunk_keys(kept.store) == {chunk_key(layout, (0, 0))}


def test_vlen_array_stores_none_as_an_empty_array():
    """numcodecs' VLenArray writes None as a zero-length item: a missing chunk reads as the fill
    value (None), the unwritten elements of a stored chunk as empty arrays (SPEC_CHECKLIST §6)."""
    a = zarrsync.create_array(None, shape=(4,), chunks=(2,), dtype=object, zarr_format=2,
                              object_codec={"id": "vlen-array", "dtype": "<i2"})
    a[1] = one(np.array([1, -2], "<i2"))
    got = a[...]
    assert got[0].dtype == np.dtype("<i2") and got[0].size == 0
    same(got[1:], objects([np.array([1, -2], "<i2"), None, None]))
    a[1] = None  # element 0 is an empty array now, not the fill value: the chunk stays
    assert chunk_keys(a.store) == {"0"}
    same(a[:2], objects([np.empty(0, "<i2"), np.empty(0, "<i2")]))
    a[0:2] = None  # all fill again: deleted
    assert chunk_keys(a.store) == set()
    same(a[...], objects([None] * 4))


# --- the issue's JSON example ----------------------------------------------------------------------

def test_json_example_round_trips(tmp_path):
    z = zarrsync.create_array(str(tmp_path / "j.zarr"), shape=(4,), chunks=(2,), dtype=zarrsync.dtypes.JSON())
    z[1] = 'foo'
    z[2] = ['bar', 'baz']
    z[3] = {'a': 1}
    want = objects([None, 'foo', ['bar', 'baz'], {'a': 1}])
    same(z[...], want)
    reopened = zarrsync.open_array(LocalStore(str(tmp_path / "j.zarr")), mode="r")
    same(reopened[...], want)
    same(reopened[2:], want[2:])
    assert reopened[3] == {'a': 1} and reopened[2] == ['bar', 'baz']

    doc = json.loads((tmp_path / "j.zarr" / "zarr.json").read_text())
    assert doc["data_type"] == "zarrsync.json" and doc["fill_value"] is None
    assert doc["codecs"][0] == {"name": "zarrsync.json", "configuration": {}}


def test_json_chunk_document(tmp_path):
    z = zarrsync.create_array(str(tmp_path), shape=(2, 2), chunks=(2, 2), dtype=JSON(), compressors=None)
    z[...] = objects([1.5, "é", [None, True], {"k": [1]}], (2, 2))
    assert json.loads((tmp_path / "c" / "0" / "0").read_bytes()) == [1.5, "é", [None, True], {"k": [1]}]


@pytest.fixture
def clean_registry(monkeypatch):
    """The data type registry as it is, restored after the test (entry points: not loaded again)."""
    monkeypatch.setattr(zdt, "_REGISTRY", dict(zdt._REGISTRY))
    monkeypatch.setattr(zdt, "_NUMPY_HOOKS", list(zdt._NUMPY_HOOKS))
    monkeypatch.setattr(zdt, "_entry_points_loaded", True)


def test_a_reader_without_the_json_type_refuses_the_array(tmp_path, clean_registry):
    z = zarrsync.create_array(str(tmp_path), shape=(2,), chunks=(2,), dtype=JSON())
    z[0] = {"a": [1]}
    del zdt._REGISTRY["zarrsync.json"]  # a reader that does not know the name
    with pytest.raises(UnknownExtensionError, match="'zarrsync.json'"):
        zarrsync.open_array(str(tmp_path))
    doc = json.loads((tmp_path / "zarr.json").read_text())
    doc["data_type"] = "zarrsync.json2"  # the same with a name nobody registered
    with pytest.raises(UnknownExtensionError, match="'zarrsync.json2'"):
        zarrsync.open_array({"zarr.json": json.dumps(doc).encode()})


# --- pickle --------------------------------------------------------------------------------------

PICKLE_VALUES = [{"a": 1}, [1, "x"], None, 2.5, "s", b"b", (1, 2), {3, 4}] * 3  # 24 elements, 12 chunks


@pytest.fixture
def numcodecs_may_unpickle(monkeypatch):
    monkeypatch.setattr(numcodecs.pickles, "ALLOW_UNSAFE_PICKLE_DECODE", True, raising=False)


class LatencyBoundStore(LocalStore):
    """A local directory read as if over a network: chunk work always gets every worker."""

    latency_bound = True


def pickle_array(path) -> np.ndarray:
    """A v2 pickle-coded array made with the real numcodecs, as zarr-python 2 wrote it."""
    codec = numcodecs.Pickle()
    values = objects(PICKLE_VALUES)
    path.mkdir()
    (path / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": [24], "chunks": [2], "dtype": "|O", "compressor": None, "fill_value": None,
        "order": "C", "filters": [codec.get_config()]}))
    for i in range(12):
        (path / str(i)).write_bytes(codec.encode(values[2 * i:2 * i + 2]))
    return values


def test_pickle_is_refused_on_read_and_write(tmp_path):
    path = tmp_path / "p.zarr"
    pickle_array(path)
    before = (path / "0").read_bytes()
    a = zarrsync.open_array(str(path))
    for read in (lambda: a[...], lambda: a[0], lambda: a.oindex[[1, 5]]):
        with pytest.raises(PickleRefusedError, match="allow_pickle"):
            read()
    for write in (lambda: a.__setitem__(0, "x"), lambda: a.__setitem__(slice(0, 2), objects(["x", "y"]))):
        with pytest.raises(PickleRefusedError, match="allow_pickle"):
            write()
    assert (path / "0").read_bytes() == before


def test_pickle_allowed_in_a_context_on_every_pool_thread(tmp_path, monkeypatch, numcodecs_may_unpickle):
    path = tmp_path / "p.zarr"
    values = pickle_array(path)
    threads = set()
    decode = zo.Pickle.decode

    def recording_decode(self, buf, out=None):
        threads.add(threading.get_ident())
        time.sleep(0.005)  # long enough that the pool's helpers take chunks too
        return decode(self, buf, out)

    monkeypatch.setattr(zo.Pickle, "decode", recording_decode)
    a = zarrsync.open_array(LatencyBoundStore(str(path)))  # small chunks: threads only for such stores
    with zarrsync.config.context(allow_pickle=True, max_workers=4):
        same(a[...], values)
        a[4:8] = objects([["new"], {"n": 1}, None, "z"])
        a[0] = b"\x00raw\x00"
    assert len(threads) > 1, "the chunks were all decoded on one thread"
    values[4:8] = objects([["new"], {"n": 1}, None, "z"])
    values[0] = b"\x00raw\x00"
    # the chunks written are what numcodecs.Pickle writes: it reads them back
    for i in (0, 2, 3):
        same(numcodecs.Pickle().decode((path / str(i)).read_bytes()), values[2 * i:2 * i + 2])
    with pytest.raises(PickleRefusedError):  # the setting ends with the block
        a[...]
    # an array's own settings work the same way
    threads.clear()
    b = zarrsync.open_array(LatencyBoundStore(str(path)), config={"allow_pickle": True, "max_workers": 4})
    same(b[...], values)
    assert len(threads) > 1


def test_pickle_object_codec_on_creation(tmp_path, numcodecs_may_unpickle):
    a = zarrsync.create_array(str(tmp_path), shape=(3,), chunks=(2,), dtype=object, zarr_format=2,
                              object_codec=numcodecs.Pickle(), compressors=None, config={"allow_pickle": True})
    a[...] = objects([{1, 2}, ("t",), None])
    doc = json.loads((tmp_path / ".zarray").read_text())
    assert doc["dtype"] == "|O" and doc["filters"][0]["id"] == "pickle"
    same(numcodecs.Pickle().decode((tmp_path / "0").read_bytes()), objects([{1, 2}, ("t",)]))
    with pytest.raises(PickleRefusedError):
        zarrsync.open_array(str(tmp_path))[...]


# --- golden bytes (SPEC_CHECKLIST §2.8, §9) ---------------------------------------------------------

@pytest.mark.parametrize("layout", ["v3", "v2"])
@pytest.mark.parametrize("write", ["objects-with-None", "stringdtype", "edge-chunk"])
def test_golden_vlen_utf8_chunk(layout, write):
    store = MemoryStore()
    shape = (2,) if write == "edge-chunk" else (3,)
    a = zarrsync.create_array(store, shape=shape, chunks=(3,), dtype=str, compressors=None,
                              zarr_format=3 if layout == "v3" else 2)
    if write == "objects-with-None":
        a[...] = objects(["a", "é", None])
    elif write == "stringdtype":
        a[...] = np.array(["a", "é", ""], dtype=StringDType())
    else:  # two elements, the third of the (full-size) stored chunk is the fill value ""
        a[...] = ["a", "é"]
    key = "c/0" if layout == "v3" else "0"
    assert store.get(key) == GOLDEN_VLEN
    assert a[...].tolist() == ["a", "é", ""][:shape[0]]
    if layout == "v2":
        doc = json.loads(store.get(".zarray"))
        assert doc["dtype"] == "|O" and doc["filters"] == [{"id": "vlen-utf8"}] and doc["compressor"] is None
    else:
        doc = json.loads(store.get("zarr.json"))
        assert doc["data_type"] == "string" and doc["codecs"] == [{"name": "vlen-utf8", "configuration": {}}]


def test_golden_vlen_bytes_chunk():
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(3,), chunks=(3,), dtype=bytes, compressors=None)
    a[...] = objects([b"a", "é".encode(), None])
    assert store.get("c/0") == GOLDEN_VLEN  # the same framing (SPEC_CHECKLIST §2.8)
    assert json.loads(store.get("zarr.json"))["codecs"] == [{"name": "vlen-bytes", "configuration": {}}]
    store.set("c/0", GOLDEN_VLEN)
    assert a[...].tolist() == [b"a", "é".encode(), b""]


def test_golden_chunk_placed_by_hand_is_read():
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(3,), chunks=(3,), dtype=str, compressors=None)
    store.set("c/0", GOLDEN_VLEN)
    got = a[...]
    assert got.dtype == StringDType() and got.tolist() == ["a", "é", ""]


# --- malformed chunks inside arrays ------------------------------------------------------------

def _corruptions() -> dict:
    g = GOLDEN_VLEN
    return {
        "truncated": g[:-1],
        "no-header": g[:3],
        "length-past-end": g[:4] + (200).to_bytes(4, "little") + g[8:],
        "count-too-small": (2).to_bytes(4, "little") + g[4:],
        "count-too-large": (4).to_bytes(4, "little") + g[4:],
        "trailing-bytes": g + b"\x00",
        "bad-utf8": g[:13] + b"\xff" + g[14:],
    }


@pytest.mark.parametrize("zarr_format", [3, 2])
@pytest.mark.parametrize("dtype,how", [(d, h) for d in (str, bytes) for h in _corruptions()
                                       if not (h == "bad-utf8" and d is bytes)])  # any bytes are valid vlen-bytes
def test_malformed_vlen_chunks_name_the_key(dtype, zarr_format, how):
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(6,), chunks=(3,), dtype=dtype, compressors=None,
                              zarr_format=zarr_format)
    a[...] = ["a", "b", "c", "d", "e", "f"] if dtype is str else [b"a", b"b", b"c", b"d", b"e", b"f"]
    key = "c/1" if zarr_format == 3 else "1"
    store.set(key, _corruptions()[how])
    for call in (lambda: a[...], lambda: a[4], lambda: a.__setitem__(5, a.fill_value)):
        with pytest.raises(CorruptChunkError) as e:
            call()
        assert e.value.key == key and repr(key) in str(e.value)
    assert a[:3].tolist() == (["a", "b", "c"] if dtype is str else [b"a", b"b", b"c"])


@pytest.mark.parametrize("how", ["length-past-end", "count-too-small"])
def test_malformed_inner_chunk_of_a_shard_names_the_shard(how):
    store = MemoryStore()
    a = zarrsync.create_array(store, shape=(6,), chunks=(3,), shards=(6,), dtype=str, compressors=None)
    a[...] = ["a", "é", "", "x", "y", "z"]
    shard = store.get("c/0")
    at = shard.find(GOLDEN_VLEN)
    assert at >= 0  # the first inner chunk, stored uncompressed
    bad = _corruptions()[how]
    store.set("c/0", shard[:at] + bad + shard[at + len(bad):])
    with pytest.raises(CorruptChunkError) as e:
        a[...]
    assert e.value.key == "c/0"


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_malformed_json_chunks_name_the_key(zarr_format):
    store = MemoryStore()
    kw = {"dtype": JSON()} if zarr_format == 3 else {"dtype": object, "object_codec": {"id": "json2"}}
    a = zarrsync.create_array(store, shape=(4,), chunks=(2,), compressors=None, zarr_format=zarr_format, **kw)
    a[...] = objects([1, "a", [2], {"b": None}])
    key = "c/1" if zarr_format == 3 else "1"
    for bad in (b"[1,", b"\xff", b'{"a": 1}', b"[1, 2, 3]" if zarr_format == 3 else b'[1, 2, 3, "|O", [2]]'):
        store.set(key, bad)
        with pytest.raises(CorruptChunkError) as e:
            a[...]
        assert e.value.key == key
    same(a[:2], objects([1, "a"]))


# --- user-defined data types ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Meters(DataType):
    """A test type: float64 lengths in metres, for numpy dtypes that carry ``metadata={"unit": "m"}``."""

    name: str = "test.meters"
    dtype: np.dtype = np.dtype("<f8")

    default_serializer: ClassVar[str] = "bytes"

    @classmethod
    def from_json(cls, value):
        if value not in ("test.meters", {"name": "test.meters"}, {"name": "test.meters", "configuration": {}}):
            raise DataTypeError(f"not test.meters: {value!r}")
        return cls()

    def default_fill(self):
        return np.float64(-1.0)

    def cast_fill(self, value):
        if value is None:
            return self.default_fill()
        if not isinstance(value, (int, float)):
            raise FillValueError(f"bad fill {value!r}")
        return np.float64(value)

    def fill_from_json(self, value):
        return self.cast_fill(value)

    def fill_to_json(self, value):
        return float(value)

    @classmethod
    def from_numpy(cls, dtype):
        return cls() if (dtype.metadata or {}).get("unit") == "m" else None


METERS_NUMPY = np.dtype("f8", metadata={"unit": "m"})


def _check_meters(tmp_path, dtype, name="test.meters"):
    a = zarrsync.create_array(str(tmp_path), shape=(5,), chunks=(2,), dtype=dtype, overwrite=True)
    doc = json.loads((tmp_path / "zarr.json").read_text())
    assert doc["data_type"] == name and doc["fill_value"] == -1.0
    assert doc["codecs"][0] == {"name": "bytes", "configuration": {"endian": "little"}}
    a[1:3] = [1.5, 2.5]
    b = zarrsync.open_array(str(tmp_path), mode="r")
    assert type(b.metadata.data_type).__name__ == "Meters"
    np.testing.assert_array_equal(b[...], [-1.0, 1.5, 2.5, -1.0, -1.0])


def test_register_data_type_class_form(tmp_path, clean_registry):
    assert register_data_type(Meters) is Meters
    _check_meters(tmp_path, METERS_NUMPY)  # the from_numpy hook picks the type
    _check_meters(tmp_path, "test.meters")  # and the v3 name names it
    _check_meters(tmp_path, Meters())
    assert zdt.parse_data_type(np.dtype("f8")).name == "float64"  # the hook leaves other dtypes alone
    with pytest.raises(FillValueError):
        zarrsync.create_array(None, shape=(2,), dtype=Meters(), fill_value="x")


def test_register_data_type_needs_a_named_data_type_class(clean_registry):
    with pytest.raises(DataTypeError, match="DataType subclass"):
        register_data_type(int)

    @dataclasses.dataclass(frozen=True)
    class Nameless(DataType):
        pass

    with pytest.raises(DataTypeError, match="name"):
        register_data_type(Nameless)


class FakeEntryPoint:
    def __init__(self, name, obj):
        self.name, self.group, self._obj = name, "zarrsync.dtypes", obj
        self.loads = 0

    def load(self):
        self.loads += 1
        return self._obj


@pytest.fixture
def fake_entry_points(monkeypatch, clean_registry):
    import importlib.metadata
    eps = [FakeEntryPoint("test.meters", Meters),
           FakeEntryPoint("test.celsius", lambda value: Meters.from_json("test.meters"))]

    def entry_points(**kw):
        return eps if kw.get("group") == "zarrsync.dtypes" else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.setattr(zdt, "_entry_points_loaded", False)
    return eps


def test_data_types_from_entry_points(tmp_path, fake_entry_points):
    assert "test.meters" not in zdt._REGISTRY
    # reading metadata that names the type loads the entry points (once)
    a = zarrsync.create_array({}, shape=(2,), dtype="float64")  # nothing loaded for a built-in name
    assert a.dtype == np.float64
    doc = {"zarr_format": 3, "node_type": "array", "shape": [3], "data_type": "test.meters",
           "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
           "chunk_key_encoding": {"name": "default"}, "fill_value": 4.0,
           "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}
    store = {"zarr.json": json.dumps(doc).encode()}
    b = zarrsync.open_array(store)
    assert isinstance(b.metadata.data_type, Meters) and b.fill_value == 4.0
    np.testing.assert_array_equal(b[...], [4.0] * 3)
    assert [ep.loads for ep in fake_entry_points] == [1, 1]
    # the class form registered its from_numpy hook; the factory form its name
    assert zdt.parse_data_type(METERS_NUMPY) == Meters()
    assert zdt.parse_data_type("test.celsius") == Meters()
    _check_meters(tmp_path, METERS_NUMPY)
    assert [ep.loads for ep in fake_entry_points] == [1, 1]


def test_numpy_hook_from_entry_points_without_a_name_lookup(tmp_path, fake_entry_points):
    _check_meters(tmp_path, METERS_NUMPY)  # dtype= with a numpy dtype loads the entry points too


# --- bad input -----------------------------------------------------------------------------------

def test_object_dtype_in_v3_points_at_the_variable_length_types():
    with pytest.raises(DataTypeError) as e:
        zarrsync.create_array(None, shape=(2,), dtype=object)
    assert all(s in str(e.value) for s in ("JSON()", "dtype=str", "dtype=bytes", "object_codec"))


@pytest.mark.parametrize("kw, error, match", [
    ({"dtype": object, "zarr_format": 2}, MetadataError, "object_codec"),
    ({"dtype": JSON(), "zarr_format": 2}, MetadataError, "object_codec"),
    ({"dtype": object, "object_codec": {"id": "json2"}}, MetadataError, "Zarr v2 setting"),
    ({"dtype": str, "object_codec": {"id": "vlen-utf8"}}, MetadataError, "Zarr v2 setting"),
    ({"dtype": object, "object_codec": {"id": "zstd"}, "zarr_format": 2}, MetadataError, "not an object codec"),
    ({"dtype": object, "object_codec": numcodecs.Zlib(), "zarr_format": 2}, MetadataError, "not an object codec"),
    ({"dtype": "i4", "object_codec": {"id": "json2"}, "zarr_format": 2}, MetadataError, "not int32"),
    ({"dtype": object, "object_codec": {"id": "no-such-codec"}, "zarr_format": 2}, UnknownExtensionError,
     "no-such-codec"),
], ids=lambda v: str(v)[:40] if not isinstance(v, dict) else None)
def test_bad_object_array_requests(kw, error, match):
    with pytest.raises(error, match=match):
        zarrsync.create_array(None, shape=(2,), chunks=(2,), **kw)


@pytest.mark.parametrize("kw, fill", [
    ({"dtype": str}, 5),
    ({"dtype": str}, b"x"),
    ({"dtype": str}, ["x"]),
    ({"dtype": bytes}, "x"),
    ({"dtype": bytes}, 3),
    ({"dtype": bytes}, [1, 2]),
    ({"dtype": JSON()}, [1]),
    ({"dtype": JSON()}, {"a": 1}),
    ({"dtype": JSON()}, object()),
    ({"dtype": JSON()}, {1, 2}),
    ({"dtype": object, "object_codec": {"id": "json2"}, "zarr_format": 2}, object()),
    ({"dtype": object, "object_codec": {"id": "json2"}, "zarr_format": 2}, [1, 2]),
    ({"dtype": object, "object_codec": {"id": "msgpack2"}, "zarr_format": 2}, {"a": 1}),
])
def test_bad_fill_values(kw, fill):
    with pytest.raises(FillValueError):
        zarrsync.create_array(None, shape=(2,), chunks=(2,), fill_value=fill, **kw)


@pytest.mark.parametrize("data_type, fill, error", [
    ("string", 5, FillValueError),
    ("string", None, FillValueError),
    ("bytes", [300], FillValueError),
    ("bytes", [True], FillValueError),
    ("bytes", "not base64!", FillValueError),
    ("variable_length_bytes", 7, FillValueError),
    ("zarrsync.json", [1], FillValueError),
    ({"name": "string", "configuration": {"x": 1}}, "", DataTypeError),
    ({"name": "zarrsync.json", "configuration": {"x": 1}}, None, DataTypeError),
])
def test_bad_metadata_is_refused(data_type, fill, error):
    codec = {"string": "vlen-utf8", "zarrsync.json": "zarrsync.json"}.get(
        data_type if isinstance(data_type, str) else data_type["name"], "vlen-bytes")
    doc = {"zarr_format": 3, "node_type": "array", "shape": [2], "data_type": data_type,
           "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
           "chunk_key_encoding": {"name": "default"}, "fill_value": fill,
           "codecs": [{"name": codec, "configuration": {}}]}
    with pytest.raises(error):
        zarrsync.open_array({"zarr.json": json.dumps(doc).encode()})


def test_fill_values_read_from_metadata():
    def open_with(data_type, fill, codec):
        doc = {"zarr_format": 3, "node_type": "array", "shape": [2], "data_type": data_type,
               "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
               "chunk_key_encoding": {"name": "default"}, "fill_value": fill,
               "codecs": [{"name": codec}]}
        return zarrsync.open_array({"zarr.json": json.dumps(doc).encode()})

    assert open_with("bytes", [0, 104, 105, 0], "vlen-bytes")[...].tolist() == [b"\x00hi\x00"] * 2
    assert open_with("bytes", "AGhpAA==", "vlen-bytes")[...].tolist() == [b"\x00hi\x00"] * 2
    assert open_with("variable_length_bytes", "", "vlen-bytes").fill_value == b""
    assert open_with("string", "é\x00", "vlen-utf8")[...].tolist() == ["é\x00"] * 2
    assert open_with("zarrsync.json", 2.5, "zarrsync.json")[...].tolist() == [2.5, 2.5]


@pytest.mark.parametrize("zarr_format, fill, expected", [
    (2, 0, ""), (2, None, ""), (2, "", ""), (2, "x", "x"),  # §4.3: 0 and null mean ""
])
def test_v2_string_fill_values(zarr_format, fill, expected):
    doc = {"zarr_format": 2, "shape": [2], "chunks": [2], "dtype": "|O", "compressor": None, "fill_value": fill,
           "order": "C", "filters": [{"id": "vlen-utf8"}]}
    a = zarrsync.open_array({".zarray": json.dumps(doc).encode()})
    assert a[...].tolist() == [expected] * 2


@pytest.mark.parametrize("fill, expected", [(0, b""), (None, b""), ("", b""), ("AGk=", b"\x00i")])
def test_v2_bytes_fill_values(fill, expected):
    doc = {"zarr_format": 2, "shape": [2], "chunks": [2], "dtype": "|O", "compressor": None, "fill_value": fill,
           "order": "C", "filters": [{"id": "vlen-bytes"}]}
    a = zarrsync.open_array({".zarray": json.dumps(doc).encode()})
    assert a[...].tolist() == [expected] * 2


def test_bad_element_values_are_refused():
    b = zarrsync.create_array(None, shape=(2,), chunks=(2,), dtype=bytes)
    with pytest.raises(DataTypeError, match="expected bytes"):
        b[0] = "text"
    j = zarrsync.create_array(None, shape=(2,), chunks=(2,), dtype=JSON())
    with pytest.raises(CodecError, match="zarrsync.json"):
        j[0] = object()
    assert b[...].tolist() == [b"", b""] and j[...].tolist() == [None, None]


def test_none_written_to_text_is_empty():
    """numcodecs' vlen-utf8 writes None as "" (SPEC_CHECKLIST §2.8); numpy would make it "None"."""
    a = zarrsync.create_array(None, shape=(3,), chunks=(2,), dtype=str, fill_value="f")
    a[...] = objects(["x", None, "y"])
    a[2] = None
    assert a[...].tolist() == ["x", "", ""]


# --- v2 object arrays written with the real numcodecs, as zarr-python 2 wrote them ------------------

def zarr2_write(path, values: np.ndarray, chunks, *, filters, compressor=None, order="C", fill_value=None,
                separator=".", skip=()) -> None:
    """Write ``values`` (an object array) as zarr-python 2 did, using only numcodecs: each chunk a
    full chunk-shaped object array in ``order`` (cells beyond the array hold ``fill_value``),
    through ``filters`` in order, then ``compressor``. Chunks at grid positions in ``skip`` are
    not written."""
    path.mkdir(parents=True)
    meta = {"zarr_format": 2, "shape": list(values.shape), "chunks": list(chunks), "dtype": "|O",
            "compressor": None if compressor is None else compressor.get_config(), "fill_value": fill_value,
            "order": order, "filters": [f.get_config() for f in filters], "dimension_separator": separator}
    (path / ".zarray").write_text(json.dumps(meta))
    grid = [-(-s // c) for s, c in zip(values.shape, chunks)]
    for coords in np.ndindex(*grid):
        if coords in skip:
            continue
        chunk = np.empty(chunks, dtype=object, order=order)
        if fill_value is not None:
            chunk.fill(fill_value)
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, chunks, values.shape))
        chunk[tuple(slice(0, r.stop - r.start) for r in region)] = values[region]
        data = chunk
        for f in filters:
            data = f.encode(data)
        if compressor is not None:
            data = compressor.encode(data)
        key = separator.join(map(str, coords))
        (path / key).parent.mkdir(parents=True, exist_ok=True)
        (path / key).write_bytes(bytes(np.asarray(data).data) if isinstance(data, np.ndarray) else bytes(data))


def zarr2_read(path) -> np.ndarray:
    """Read a v2 object array as zarr-python 2 (and zarr-python 3's V2Codec) did, using only
    numcodecs: decompress, filters in reverse, then ``reshape(-1, order="A")`` and
    ``reshape(chunks, order=order)``; a missing chunk is the fill value."""
    meta = json.loads((path / ".zarray").read_text())
    shape, chunks, order = tuple(meta["shape"]), tuple(meta["chunks"]), meta["order"]
    sep = meta.get("dimension_separator", ".")
    filters = [numcodecs.get_codec(f) for f in meta["filters"] or ()]
    compressor = numcodecs.get_codec(meta["compressor"]) if meta["compressor"] else None
    out = np.empty(shape, dtype=object)
    out.fill(meta["fill_value"])
    for coords in np.ndindex(*[-(-s // c) for s, c in zip(shape, chunks)]):
        file = path / sep.join(map(str, coords))
        if not file.exists():
            continue
        data = file.read_bytes()
        if compressor is not None:
            data = compressor.decode(data)
        for f in reversed(filters):
            data = f.decode(data)
        chunk = np.asarray(data).reshape(-1, order="A").reshape(chunks, order=order)
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, chunks, shape))
        out[region] = chunk[tuple(slice(0, r.stop - r.start) for r in region)]
    return out


def with_nones(values: list, every: int = 4) -> list:
    return [None if i % every == 1 else v for i, v in enumerate(values)]


def _empty_i4():
    return np.empty(0, "<i4")


NUMCODECS_CASES = [
    # id, object codec, other filters, compressor, values, what None reads as, orders, shape, chunks
    ("vlen-utf8+zstd", numcodecs.VLenUTF8(), [], numcodecs.Zstd(level=1), text_values, "", "CF", (7, 5), (3, 2)),
    ("vlen-utf8+blosc-lz4", numcodecs.VLenUTF8(), [], numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE),
     text_values, "", "CF", (7, 5), (3, 2)),
    ("vlen-utf8-3d", numcodecs.VLenUTF8(), [], numcodecs.Zlib(level=1), text_values, "", "CF", (4, 3, 5),
     (3, 2, 2)),
    ("vlen-bytes+blosc-zstd", numcodecs.VLenBytes(), [], numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE),
     bytes_values, b"", "CF", (7, 5), (3, 2)),
    ("vlen-bytes+zstd", numcodecs.VLenBytes(), [], numcodecs.Zstd(level=3), bytes_values, b"", "CF", (9,), (4,)),
    ("vlen-array+blosc", numcodecs.VLenArray("<i4"), [], numcodecs.Blosc("lz4", 5, numcodecs.Blosc.NOSHUFFLE),
     array_values, _empty_i4, "CF", (7, 5), (3, 2)),
    ("vlen-array+gzip", numcodecs.VLenArray("<i4"), [], numcodecs.GZip(level=1), array_values, _empty_i4, "C",
     (4, 3, 5), (3, 2, 2)),
    ("json2+zstd", numcodecs.JSON(), [], numcodecs.Zstd(level=1), json_values, None, "C", (7, 5), (3, 2)),
    ("json2-3d", numcodecs.JSON(), [], None, json_values, None, "C", (4, 3, 5), (3, 2, 2)),
    ("json2-1d-F", numcodecs.JSON(), [], numcodecs.Zstd(), json_values, None, "F", (9,), (4,)),
    ("json2+zlib-filter", numcodecs.JSON(), [numcodecs.Zlib(level=1)], numcodecs.Zstd(), json_values, None, "C",
     (7, 5), (3, 2)),
    ("msgpack2", numcodecs.MsgPack(), [], None, msgpack_values, None, "C", (7, 5), (3, 2)),
    ("msgpack2+blosc", numcodecs.MsgPack(), [], numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE), msgpack_values,
     None, "C", (4, 3, 5), (3, 2, 2)),
    ("msgpack2-1d-F", numcodecs.MsgPack(), [], None, msgpack_values, None, "F", (9,), (4,)),
]


def _numcodecs_params():
    for case in NUMCODECS_CASES:
        for order in case[6]:
            for fill in ("fill-null", "fill-0"):
                yield pytest.param(case, order, fill, id=f"{case[0]}-{order}-{fill}")


@pytest.mark.parametrize("case, order, fill", list(_numcodecs_params()))
def test_numcodecs_written_object_arrays(tmp_path, case, order, fill):
    _id, codec, more_filters, compressor, make, none_reads, _orders, shape, chunks = case
    n = int(np.prod(shape))
    values = objects(with_nones(make(n, 5)), shape)
    last = tuple(-(-s // c) - 1 for s, c in zip(shape, chunks))
    first = (0,) * len(shape)
    region_missing = tuple(slice(i * c, None) for i, c in zip(last, chunks))
    fill_value = None if fill == "fill-null" else 0  # zarr-python 2's default for object arrays was 0
    path = tmp_path / "a.zarr"
    sep = "/" if len(shape) == 3 else "."
    zarr2_write(path, values, chunks, filters=[codec, *more_filters], compressor=compressor, order=order,
                fill_value=fill_value, separator=sep, skip={last, first} if len(shape) > 1 else {last})

    # expected: the values, None as the codec writes it, the skipped chunks as the fill value
    expected = values.copy()
    for ix in np.ndindex(*shape):
        if expected[ix] is None and none_reads is not None:
            expected[ix] = none_reads() if callable(none_reads) else none_reads
    if isinstance(none_reads, str) or isinstance(none_reads, bytes):  # string / bytes: 0 and null mean ""/b""
        missing = none_reads
    else:
        missing = fill_value
    expected[region_missing] = missing
    if len(shape) > 1:
        expected[tuple(slice(0, c) for c in chunks)] = missing

    a = zarrsync.open_array(str(path), mode="r")
    assert a.zarr_format == 2 and a.shape == shape and a.chunks == chunks
    got = a[...]
    assert got.dtype == (StringDType() if isinstance(codec, numcodecs.VLenUTF8) else np.dtype(object))
    same(got, expected)
    same(a[1::2, ...], expected[1::2, ...])
    # zarr-python 2's own reading of these files agrees (it reads a missing chunk as the raw fill
    # value, where zarrsync reads 0 and null as "" and b"" for text and bytes: SPEC_CHECKLIST §4.3)
    reference = zarr2_read(path)
    if not isinstance(none_reads, (str, bytes)):
        same(reference, expected)
    else:
        written = np.ones(shape, bool)
        written[region_missing] = False
        if len(shape) > 1:
            written[tuple(slice(0, c) for c in chunks)] = False
        same(reference[written], expected[written])

    # zarrsync writes into the file; numcodecs (zarr-python 2's reader) reads what was written
    b = zarrsync.open_array(str(path), mode="r+")
    new = objects(make(n, 6), shape)
    sel = tuple(slice(1, None) for _ in shape)
    b[sel] = new[sel] if not isinstance(codec, numcodecs.VLenUTF8) else new[sel].astype(StringDType())
    expected[sel] = new[sel]
    got = b[...]
    same(got[sel], new[sel])
    stored = tuple(slice(c, None) for c in chunks)  # chunks that were written (not fill) both times
    same(got[stored], expected[stored])
    reference = zarr2_read(path)
    same(reference[sel], new[sel])
    if not isinstance(none_reads, (str, bytes)):
        same(got, reference)  # every cell, the fill cells zarrsync wrote into chunk 0 included


def test_numcodecs_json2_F_order_with_n_d_chunks_is_read_as_zarr_python_reads_it(tmp_path):
    """zarr-python 2 handed json2/msgpack2 an F-ordered chunk, which they store as nested lists in
    logical order, but its reader (and zarr-python 3's V2Codec) then flattens the decoded C-order
    array and reshapes it in F order (SPEC_CHECKLIST §4.4): zarr-python 2 reads such chunks
    transposed-scrambled. zarrsync reads them as zarr-python does, and writes F-ordered json2
    chunks that zarr-python's reader reads as written."""
    values = objects(json_values(6, 1), (2, 3))
    path = tmp_path / "a.zarr"
    zarr2_write(path, values, (2, 3), filters=[numcodecs.JSON()], order="F")
    reference = zarr2_read(path)
    assert reference.tolist() != values.tolist()  # zarr-python 2's own round trip is not exact here
    same(zarrsync.open_array(str(path))[...], reference)

    z = zarrsync.create_array(str(tmp_path / "b.zarr"), shape=(2, 3), chunks=(2, 3), dtype=object, zarr_format=2,
                              object_codec=numcodecs.JSON(), order="F")
    z[...] = values
    same(zarr2_read(tmp_path / "b.zarr"), values)
    same(z[...], values)


@pytest.mark.parametrize("kind", [k for k in KINDS if 2 in k.formats], ids=lambda k: k.id)
@pytest.mark.parametrize("order", "CF")
def test_zarrsync_written_object_arrays_read_by_numcodecs(tmp_path, kind, order):
    """What zarrsync writes in v2, zarr-python 2's reader (numcodecs alone) reads back."""
    path = tmp_path / "a.zarr"
    a = zarrsync.create_array(str(path), shape=SHAPE, chunks=CHUNKS, zarr_format=2, order=order, **kind.create)
    data = kind.data(SHAPE, seed=9)
    a[REGION] = kind.as_input(data[REGION])
    model = kind.model(SHAPE, kind.default_fill)
    model[REGION] = data[REGION]
    ref = zarr2_read(path)
    if kind.default_fill in ("", b""):  # the v2 fill JSON of text and bytes: "" / base64 ""
        for ix in np.ndindex(*SHAPE):
            if ref[ix] == "" and kind.default_fill == b"":
                ref[ix] = b""
    same(ref, model, kind.none_as)


@pytest.mark.parametrize("compressor", [numcodecs.Zlib(level=1), numcodecs.BZ2(level=1), numcodecs.LZ4()],
                         ids=lambda c: c.codec_id)
@pytest.mark.parametrize("kw, value", [
    ({"dtype": str}, "abcdefgh"),  # vlen-utf8 of one 8-character item: 16 bytes (StringDType's itemsize)
    ({"dtype": bytes}, b"abcdefgh"),
    ({"dtype": object, "object_codec": {"id": "json2"}}, "abcdefghijk"),  # '["abcdefghijk","|O",[1]]': 24 bytes
])
def test_numcodecs_compressors_get_the_object_codecs_bytes(tmp_path, compressor, kw, value):
    """A compressor after an object codec compresses that codec's bytes, whatever their length
    (a length that is a multiple of the array's item size once made it view them as objects)."""
    a = zarrsync.create_array(str(tmp_path), shape=(1,), chunks=(1,), zarr_format=2, compressors=compressor, **kw)
    a[0] = value
    assert a[0] == value
    same(zarr2_read(tmp_path), objects([value]))


@pytest.mark.parametrize("shuffle", [-1, 0, 1, 2])
def test_v2_blosc_after_an_object_codec_sees_one_byte_items(shuffle):
    """As in zarr-python 2, Blosc compresses the object codec's bytes: typesize 1, and numcodecs'
    AUTOSHUFFLE (-1) means bit-shuffle there (SPEC_CHECKLIST §5.1: header byte 3 is the typesize)."""
    store = MemoryStore()
    blosc = numcodecs.Blosc("lz4", 5, shuffle)
    a = zarrsync.create_array(store, shape=(40,), chunks=(40,), dtype=str, zarr_format=2, compressors=blosc)
    values = objects([f"item {i}" for i in range(40)])
    a[...] = values
    ours, theirs = store.get("0"), bytes(blosc.encode(numcodecs.VLenUTF8().encode(values)))
    assert ours[3] == theirs[3] == 1
    assert ours[2] & 0b101 == theirs[2] & 0b101  # the byte- and bit-shuffle flags
    assert numcodecs.VLenUTF8().decode(blosc.decode(ours)).tolist() == values.tolist()


# --- chunks decoded straight into their place in the output (ArrayBytesCodec.decode_to) -----------

def _text_grid(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pool = ["", "a", "é", "日本語", "🦆x", "a\x00", "Zarr", "x" * 40, "tab\there"]
    flat = [f"{pool[k]}{i}" if i % 3 else pool[k] for i, k in enumerate(rng.integers(0, len(pool), int(np.prod(shape))))]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(shape)


@pytest.mark.parametrize("leg", ["python", "numcodecs"])
@pytest.mark.parametrize("layout", ["1-d", "2-d", "2-d sharded", "v2 object", "v2 object F"])
def test_string_chunks_decode_into_their_place(leg, layout, monkeypatch):
    """Whole chunks (and whole inner chunks of shards) are decoded into the output in place:
    contiguous places take the item list, strided ones (2-d chunks of a wider array) an array;
    both vlen legs, StringDType and v2 object arrays, against a model."""
    from zarrsync.codecs import vlen
    if leg == "python":
        monkeypatch.setattr(vlen, "c_vlen", lambda: None)
    shape, chunks = ((400,), (50,)) if layout == "1-d" else ((6, 120), (3, 40))
    kw: dict[str, Any] = {"shards": (6, 120)} if layout == "2-d sharded" else {}
    if layout.startswith("v2"):
        kw = {"zarr_format": 2, "dtype": object, "object_codec": {"id": "vlen-utf8"}, "order": "F" if "F" in layout else "C"}
    else:
        kw["dtype"] = str
    model = _text_grid(shape, seed=len(layout))
    a = zarrsync.create_array(MemoryStore(), shape=shape, chunks=chunks, fill_value="", **kw)
    a[...] = model
    b = zarrsync.open_array(a.store, mode="r")
    whole = b[...]
    assert whole.tolist() == model.tolist()
    assert whole.dtype == StringDType()  # v2 vlen-utf8 object arrays read as strings too
    if len(shape) == 2:
        assert b[:, 40:120].tolist() == model[:, 40:120].tolist()  # whole chunks, strided places
        assert b[1:5, 30:50].tolist() == model[1:5, 30:50].tolist()  # parts of chunks
        out = np.empty((6, 120), dtype=whole.dtype)
        b.get_basic_selection(..., out=out)
        assert out.tolist() == model.tolist()
    else:
        assert b[100:300].tolist() == model[100:300].tolist()
        assert b[::7].tolist() == model[::7].tolist()
