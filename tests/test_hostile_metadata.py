"""Hostile metadata: opening it and reading a chunk gives data or a ``zarrsync.errors`` exception,
in bounded time and memory (issue 10, point 7).

A hypothesis fuzzer mutates valid v2 and v3 documents (``zarr.json``, ``.zarray``, ``.zattrs``,
``.zgroup``, ``.zmetadata``, inline consolidated metadata): it changes the type of a field, drops
it, puts huge / negative / float / bool numbers and deep nesting in it, breaks the bytes (invalid
UTF-8, truncation), names unknown codecs with odd configurations, and for every codec zarrsync
registers (v3 names and numcodecs ids) mutates each field of a valid configuration. Each example
opens the node from a :class:`~zarrsync.storage.memory.MemoryStore` that also holds a valid
chunk, and reads from it. Allowed outcomes: it works, or it raises a ``ZarrsyncError``; the
``tracemalloc`` peak stays under ``MEMORY_CAP`` and an example that runs past ``TIME_CAP``
(a gross hang, not a benchmark) fails.

Example counts (``max_examples``) are set so the module runs in well under 20 s on a 2-core machine.
"""

from __future__ import annotations

import copy
import json
import signal
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarrsync
from zarrsync.codecs import numcodecs_api
from zarrsync.errors import CodecError, MetadataError, PickleRefusedError, ZarrsyncError
from zarrsync.storage.memory import MemoryStore

MEMORY_CAP = 64 << 20
TIME_CAP = 10.0  # seconds; only a hang gets near it
READ_CAP = 16 << 20  # arrays with larger chunks are opened, not read
DOC_EXAMPLES = 2000  # mutated documents per run
CODEC_EXAMPLES = 1500  # mutated codec configurations per run

# --- valid documents ------------------------------------------------------------------------------

V3_CHAINS = [
    [{"name": "bytes", "configuration": {"endian": "little"}}],
    [{"name": "transpose", "configuration": {"order": [1, 0]}}, {"name": "bytes", "configuration": {"endian": "big"}},
     {"name": "gzip", "configuration": {"level": 1}}],
    [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd", "configuration": {"level": 0, "checksum": True}},
     {"name": "crc32c"}],
    [{"name": "bytes", "configuration": {"endian": "little"}},
     {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}}],
    [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [2, 2], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
        "index_location": "end"}}],
    [{"name": "numcodecs.delta", "configuration": {"dtype": "<i4"}}, {"name": "bytes", "configuration": {"endian": "little"}},
     {"name": "numcodecs.bz2", "configuration": {"level": 1}}],
]


def v3_array(codecs) -> dict:
    return {"zarr_format": 3, "node_type": "array", "shape": [4, 6], "data_type": "int32",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 6]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0, "codecs": codecs, "attributes": {"a": [1, {"b": None}]}, "dimension_names": ["y", "x"]}


def v2_array(compressor, filters) -> dict:
    return {"zarr_format": 2, "shape": [4, 6], "chunks": [4, 6], "dtype": "<i4", "compressor": compressor,
            "filters": filters, "fill_value": 0, "order": "C", "dimension_separator": "."}


V2_CODECS = [
    (None, None),
    ({"id": "zlib", "level": 1}, None),
    ({"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 2, "blocksize": 0}, [{"id": "delta", "dtype": "<i4"}]),
    ({"id": "lz4", "acceleration": 1}, [{"id": "fixedscaleoffset", "offset": 0, "scale": 1, "dtype": "<i4"}]),
    ({"id": "crc32"}, [{"id": "astype", "encode_dtype": "<i8", "decode_dtype": "<i4"}]),
]

DATA = np.arange(24, dtype="<i4").reshape(4, 6)


def build_store(doc: dict, fmt: int) -> MemoryStore:
    """A store holding the array ``doc`` and one valid chunk written through it."""
    store = MemoryStore()
    key = "zarr.json" if fmt == 3 else ".zarray"
    store.set(key, json.dumps(doc).encode())
    if fmt == 2:
        store.set(".zattrs", json.dumps({"a": 1}).encode())
    zarrsync.open_array(store)[...] = DATA
    return store


VALID_STORES: list[tuple[int, dict, dict]] = []  # (format, metadata documents, chunks)


def _valid_stores():
    if VALID_STORES:
        return VALID_STORES
    for codecs in V3_CHAINS:
        store = build_store(v3_array(codecs), 3)
        VALID_STORES.append(_split(store, 3))
    for compressor, filters in V2_CODECS:
        store = build_store(v2_array(compressor, filters), 2)
        VALID_STORES.append(_split(store, 2))
    # groups with consolidated metadata, v3 and v2
    for fmt in (3, 2):
        store = MemoryStore()
        g = zarrsync.create_group(store, zarr_format=fmt, attributes={"x": 1})
        g.create_array("arr", shape=(4, 6), chunks=(2, 3), dtype="i4")[...] = DATA
        zarrsync.consolidate_metadata(store)
        VALID_STORES.append(_split(store, fmt))
    return VALID_STORES


def _split(store: MemoryStore, fmt: int):
    metadata, chunks = {}, {}
    for key in store.list():
        value = bytes(store.get(key))
        name = key.rsplit("/", 1)[-1]
        if name in ("zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"):
            metadata[key] = json.loads(value)
        else:
            chunks[key] = value
    return fmt, metadata, chunks


# --- hostile values and mutations -------------------------------------------------------------------

#: deep nesting is spliced into the JSON text (a nested Python value would make copying it recurse)
DEEP = {f"\x01deep{n}": "[" * n + "0" + "]" * n for n in (50, 990, 5000)}
DEEP["\x01deepobj"] = '{"a":' * 3000 + "0" + "}" * 3000


def deep(n: int):
    return f"\x01deep{n}"


HOSTILE_NUMBERS = [0, 1, -1, 2, 7, 255, 256, 2**15, 2**16, 2**30, 2**31, 2**32, 2**62, 2**63, 2**64, 2**100,
                   -2**31, -2**63, -2**64, 10**400, -10**400,
                   0.5, -0.5, 1e308, -1e308, 1e-320, float("nan"), float("inf"), float("-inf"), 3.0, -0.0, True, False]
HOSTILE_STRINGS = ["", "C", "F", "<i4", ">f8", "|O", "|V1000000000", "|S1073741824", "<U1073741824", "int32",
                   "float64", "bool", "uint8", "string", "bytes", "r8", "r1073741824", "complex128", "|b1",
                   "default", "v2", "regular", "end", "start", "lz4", "blosclz", "snappy", "shuffle", "bitshuffle",
                   "noshuffle", "big", "little", "/", ".", "\x00", "é", "numcodecs.zlib", "zarr.json", "../x",
                   "NaN", "Infinity", "0x7fc00000", "2**64"]
HOSTILE_SHAPES = [None, [], {}, [[]], [{}], {"name": "x"}, {"id": "zlib"}, {"id": "pickle"}, {"id": "nope"},
                  {"name": "nope", "configuration": {"a": 1}}, {"name": "nope", "must_understand": False},
                  [2**30], [2**30, 2**30], [0], [-1], [1, 0], [0, 1], [2**64], [0.5], ["a"],
                  deep(50), deep(990), deep(5000), {"a": deep(990)}, "\x01deepobj"]
#: every hostile value the exhaustive codec test puts in each field
HOSTILE_VALUES = HOSTILE_NUMBERS + HOSTILE_STRINGS[::3] + HOSTILE_SHAPES

HOSTILE = st.one_of(
    st.sampled_from(HOSTILE_NUMBERS), st.sampled_from(HOSTILE_STRINGS), st.sampled_from(HOSTILE_SHAPES),
    st.text(max_size=8), st.lists(st.integers(-3, 2**33), max_size=5),
)


def paths(doc, prefix=()):
    """Every (path, value) inside a JSON document, the root included."""
    yield prefix, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths(v, prefix + (i,))


def apply(doc, path, op, value):
    """A copy of ``doc`` with the node at ``path`` replaced / dropped / given an extra key."""
    doc = copy.deepcopy(doc)
    if not path:
        return value if op == "replace" else doc
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    if op == "replace":
        parent[last] = value
    elif op == "drop":
        del parent[last]
    elif op == "extra" and isinstance(parent[last], dict):
        parent[last]["zz_unknown"] = value
    else:
        parent[last] = value
    return doc


def encode_doc(doc) -> bytes:
    text = json.dumps(doc, allow_nan=True)
    for marker, nested in DEEP.items():
        text = text.replace(json.dumps(marker), nested)
    return text.encode()


BYTE_DAMAGE = st.sampled_from(["none", "none", "none", "none", "truncate", "utf8", "nest", "bom", "nul", "empty"])


def damage(raw: bytes, how: str, cut: int) -> bytes:
    if how == "truncate":
        return raw[: cut % max(1, len(raw))]
    if how == "utf8":
        i = cut % max(1, len(raw))
        return raw[:i] + b"\xff\xfe\xc3" + raw[i:]
    if how == "nest":
        return b"[" * 100000 + raw
    if how == "bom":
        return b"\xef\xbb\xbf" + raw
    if how == "nul":
        return raw.replace(b'"', b'"\x00', 1)
    if how == "empty":
        return b""
    return raw


# --- the check ---------------------------------------------------------------------------------------

class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang("example ran past the time cap")


def exercise(store: MemoryStore) -> None:
    """Open the node at the root (and its members) and read from every array."""
    try:
        node = zarrsync.open(store, mode="r")
    except (ZarrsyncError, FileNotFoundError, KeyError) as e:
        assert isinstance(e, ZarrsyncError), f"{type(e).__name__}: {e}"
        return
    arrays = [node]
    if isinstance(node, zarrsync.Group):
        try:
            arrays = [m for _, m in node.members()]
        except ZarrsyncError:
            return
    for a in arrays:
        if not isinstance(a, zarrsync.Array):
            continue
        if np.prod(a.chunks, dtype=object) * a.dtype.itemsize > READ_CAP:
            continue  # reading allocates a chunk: metadata may ask for that, just not at open
        try:
            if a.ndim == 0:
                a[()]
                continue
            if all(s > 0 for s in a.shape):
                a[(0,) * a.ndim]
                if a.size <= 4096:
                    a[...]
            a.attrs.asdict()
        except ZarrsyncError:
            pass


def check(store: MemoryStore) -> None:
    """Run :func:`exercise` under the caps: only ZarrsyncError may escape it, and no hang."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_CAP)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        exercise(store)
    except _Hang:
        pytest.fail(f"an example ran past {TIME_CAP} s: {dict(store.items()) if hasattr(store, 'items') else store}")
    except ZarrsyncError:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_CAP, f"peak {peak / 2**20:.1f} MiB"
    assert time.perf_counter() - start < TIME_CAP


def make_store(metadata: dict, chunks: dict, raw_override: dict | None = None) -> MemoryStore:
    store = MemoryStore()
    for key, value in chunks.items():
        store.set(key, value)
    for key, doc in metadata.items():
        store.set(key, encode_doc(doc))
    for key, raw in (raw_override or {}).items():
        store.set(key, raw)
    return store


@st.composite
def mutated_store(draw):
    fmt, metadata, chunks = draw(st.sampled_from(_valid_stores()))
    key = draw(st.sampled_from(sorted(metadata)))
    doc = metadata[key]
    n_mut = draw(st.integers(1, 3))
    for _ in range(n_mut):
        all_paths = [p for p, _ in paths(doc)]
        path = draw(st.sampled_from(all_paths))
        op = draw(st.sampled_from(["replace", "replace", "replace", "drop", "extra"]))
        doc = apply(doc, path, op, draw(HOSTILE))
    raw = damage(encode_doc(doc), draw(BYTE_DAMAGE), draw(st.integers(0, 10**6)))
    return make_store(metadata, chunks, {key: raw})


@settings(max_examples=DOC_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(mutated_store())
def test_mutated_documents_fail_cleanly(store):
    check(store)


# --- every codec with each configuration field mutated ----------------------------------------------

#: a valid configuration per numcodecs id (dtype int32 arrays where a filter needs a dtype)
NUMCODECS_CONFIGS = {
    "zlib": {"level": 1}, "gzip": {"level": 1}, "bz2": {"level": 1}, "lzma": {"format": 1, "check": -1, "preset": None,
                                                                          "filters": None},
    "zstd": {"level": 1, "checksum": False}, "lz4": {"acceleration": 1},
    "blosc": {"cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
    "crc32": {"location": "start"}, "adler32": {"location": "end"}, "crc32c": {}, "fletcher32": {},
    "jenkins_lookup3": {"initval": 0, "prefix": [1, 2]},
    "delta": {"dtype": "<i4", "astype": "<i4"}, "fixedscaleoffset": {"offset": 1, "scale": 2, "dtype": "<i4", "astype": "<i4"},
    "quantize": {"digits": 2, "dtype": "<f8", "astype": "<f4"}, "bitround": {"keepbits": 3},
    "packbits": {}, "categorize": {"labels": ["a", "b"], "dtype": "<U1", "astype": "u1"},
    "astype": {"encode_dtype": "<i8", "decode_dtype": "<i4"}, "shuffle": {"elementsize": 4},
    "vlen-utf8": {}, "vlen-bytes": {}, "vlen-array": {"dtype": "<i4"},
    "json2": {"encoding": "utf-8", "indent": None, "separators": [",", ":"], "sort_keys": True},
    "msgpack2": {"use_single_float": False, "use_bin_type": True, "raw": False}, "pickle": {"protocol": 4},
}

FILTER_IDS = {"delta", "fixedscaleoffset", "quantize", "bitround", "packbits", "categorize", "astype", "shuffle"}

V3_CONFIGS = {
    "bytes": {"endian": "little"}, "transpose": {"order": [1, 0]}, "gzip": {"level": 1},
    "zstd": {"level": 1, "checksum": False}, "crc32c": {},
    "blosc": {"cname": "zstd", "clevel": 1, "shuffle": "bitshuffle", "typesize": 4, "blocksize": 0},
    "sharding_indexed": {"chunk_shape": [2, 3], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
                         "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
                         "index_location": "start"},
    "vlen-utf8": {}, "vlen-bytes": {}, "zarrsync.json": {}, "endian": {"endian": "little"},
}


def test_every_registered_codec_has_a_fuzz_config():
    """A codec registered later must be added to the tables above, so the fuzzer covers it."""
    ours = [i for i in numcodecs_api.registered_codec_ids()
            if numcodecs_api._REGISTRY[i].__module__.startswith("zarrsync.")]  # other tests register their own
    assert set(ours) <= set(NUMCODECS_CONFIGS)
    names = [n for n in zarrsync.codecs.registered_names()
             if zarrsync.codecs.get_codec_class(n).__module__.startswith("zarrsync.")]
    assert set(names) <= set(V3_CONFIGS)


def _v3_chain_with(name: str, config: dict) -> list:
    codec = {"name": name, "configuration": config}
    bytes_ = {"name": "bytes", "configuration": {"endian": "little"}}
    if name in ("bytes", "endian", "sharding_indexed", "vlen-utf8", "vlen-bytes", "zarrsync.json"):
        return [codec]
    if name == "transpose" or (name.startswith("numcodecs.") and name[10:] in FILTER_IDS):
        return [codec, bytes_]
    return [bytes_, codec]


def _codec_doc(fmt: int, name: str, config: dict, dtype: str) -> tuple[str, dict]:
    if fmt == 3:
        doc = v3_array(_v3_chain_with(name, config))
        doc["data_type"] = dtype
        doc["fill_value"] = {"bool": False, "string": "", "bytes": ""}.get(dtype, 0)
        return "zarr.json", doc
    cid = name[len("numcodecs."):]
    entry = {"id": cid, **config}
    as_filter = cid in FILTER_IDS or cid in ("vlen-utf8", "vlen-bytes", "vlen-array", "json2", "msgpack2", "pickle")
    doc = v2_array(None, [entry]) if as_filter else v2_array(entry, None)
    doc["dtype"] = dtype
    doc["fill_value"] = None
    return ".zarray", doc


def _values(dtype: str, cid: str = "") -> np.ndarray:
    if dtype == "bytes" or cid == "vlen-bytes":
        return np.array([b"%d" % (i % 7) for i in range(24)], dtype=object).reshape(4, 6)
    if dtype in ("string", "|O", "<U3"):
        return np.array([f"{i % 7}" for i in range(24)], dtype=object if dtype != "<U3" else "<U3").reshape(4, 6)
    return (np.arange(24) % 5).astype({"int32": "<i4", "float64": "<f8", "uint8": "u1", "bool": "?"}.get(dtype, dtype)
                                      ).reshape(4, 6)


@st.composite
def mutated_codec_store(draw):
    """A codec config with one field mutated, over a chunk that the unmutated config wrote (or
    arbitrary bytes where it cannot write one)."""
    fmt = draw(st.sampled_from([2, 3]))
    if fmt == 3 and draw(st.booleans()):
        name = draw(st.sampled_from(sorted(V3_CONFIGS)))
        valid = dict(V3_CONFIGS[name])
    else:
        cid = draw(st.sampled_from(sorted(NUMCODECS_CONFIGS)))
        name, valid = "numcodecs." + cid, dict(NUMCODECS_CONFIGS[cid])
    config = dict(valid)
    if config and draw(st.integers(0, 4)):
        field = draw(st.sampled_from(sorted(config)))
        if draw(st.integers(0, 5)):
            config[field] = draw(HOSTILE)
        else:
            del config[field]
    else:
        config[draw(st.sampled_from(["zz", "id", "name", "level"]))] = draw(HOSTILE)
    dtypes = ["int32", "float64", "uint8", "bool", "string"] if fmt == 3 else ["<i4", "<f8", "|u1", "|b1", "|O", "<U3"]
    dtype = draw(st.sampled_from(dtypes))
    key, doc = _codec_doc(fmt, name, valid, dtype)
    store = MemoryStore()
    store.set(key, encode_doc(doc))
    chunk_key = "c/0/0" if fmt == 3 else "0.0"
    try:
        zarrsync.open_array(store)[...] = _values(dtype)
    except ZarrsyncError:
        store.set(chunk_key, draw(st.binary(max_size=64)))
    key, doc = _codec_doc(fmt, name, config, dtype)
    store.set(key, encode_doc(doc))
    return store


@settings(max_examples=CODEC_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(mutated_codec_store())
def test_every_codec_with_mutated_fields_fails_cleanly(store):
    check(store)


#: a dtype each codec can encode (v3 name, v2 typestr)
CODEC_DTYPES = {"quantize": ("float64", "<f8"), "bitround": ("float64", "<f8"), "packbits": ("bool", "|b1"),
                "categorize": (None, "<U3"), "vlen-utf8": ("string", "|O"), "vlen-bytes": ("bytes", "|O"),
                "vlen-array": (None, "|O"), "json2": (None, "|O"), "msgpack2": (None, "|O"), "pickle": (None, "|O"),
                "zarrsync.json": (None, None)}
EXHAUSTIVE = sorted([(3, name) for name in V3_CONFIGS if CODEC_DTYPES.get(name, ("int32",))[0]]
                    + [(2, cid) for cid in NUMCODECS_CONFIGS]
                    + [(3, "numcodecs." + cid) for cid in NUMCODECS_CONFIGS
                       if cid not in ("vlen-utf8", "vlen-bytes") and CODEC_DTYPES.get(cid, ("int32",))[0]])


@pytest.mark.parametrize("fmt,name", EXHAUSTIVE)
def test_each_codec_field_with_each_hostile_value(fmt, name):
    """Every field of the codec's valid config, in turn, replaced by every value of
    ``HOSTILE_VALUES`` (and dropped), over a chunk the valid config wrote."""
    cid = name[len("numcodecs."):] if name.startswith("numcodecs.") else name
    valid = (V3_CONFIGS if fmt == 3 and not name.startswith("numcodecs.") else NUMCODECS_CONFIGS)[cid]
    dtype = CODEC_DTYPES.get(cid, ("int32", "<i4"))[0 if fmt == 3 else 1]
    full = "numcodecs." + cid if fmt == 2 else name
    key, doc = _codec_doc(fmt, full, valid, dtype)
    base = MemoryStore()
    base.set(key, encode_doc(doc))
    with zarrsync.config.context(allow_pickle=True):  # to write the pickle codec's chunk; reads refuse it
        zarrsync.open_array(base)[...] = _values(dtype, cid)
    chunks = {k: bytes(base.get(k)) for k in base.list() if k != key}
    cases = [(f, v) for f in [*valid, "zz_unknown"] for v in HOSTILE_VALUES] + [(f, _DROP) for f in valid]
    for field, value in cases:
        config = {k: v for k, v in valid.items() if k != field}
        if value is not _DROP:
            config[field] = value
        store = MemoryStore()
        for k, v in chunks.items():
            store.set(k, v)
        store.set(key, encode_doc(_codec_doc(fmt, full, config, dtype)[1]))
        check(store)


_DROP = object()


# --- the cases the issue names -------------------------------------------------------------------------

def _v2_store(compressor=None, filters=None, dtype="<u1", shape=(1024,), chunks=(1024,)) -> MemoryStore:
    store = MemoryStore()
    store.set(".zarray", json.dumps({"zarr_format": 2, "shape": list(shape), "chunks": list(chunks), "dtype": dtype,
                                     "compressor": compressor, "filters": filters, "fill_value": 0,
                                     "order": "C"}).encode())
    return store


def _peak(fn):
    tracemalloc.start()
    try:
        return fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 16 << 20, f"peak {peak / 2**20:.1f} MiB"


def test_delta_filter_on_a_huge_chunk_opens_without_allocating_it():
    store = _v2_store(filters=[{"id": "delta", "dtype": "<u1"}], shape=(2**30,), chunks=(2**30,))
    a = _peak(lambda: zarrsync.open_array(store, mode="r"))
    assert a.chunks == (2**30,)
    assert a[5] == 0  # a missing chunk reads as the fill value


def test_packbits_and_shuffle_filters_resolve_without_encoding_a_chunk():
    store = _v2_store(filters=[{"id": "packbits"}], dtype="|b1", shape=(2**31,), chunks=(2**31,))
    _peak(lambda: zarrsync.open_array(store, mode="r"))
    # and their layouts equal what encoding a chunk gives (the old probe)
    for cfg, dtype, shape in [({"id": "packbits"}, "|b1", (13,)), ({"id": "packbits"}, "|b1", (2,)),
                              ({"id": "shuffle", "elementsize": 4}, "<i4", (3, 5)),
                              ({"id": "shuffle", "elementsize": 4}, "|u1", (8,))]:
        arr = zarrsync.create_array(None, shape=shape, chunks=shape, dtype=dtype, zarr_format=2, compressors=None,
                                    filters=[cfg])
        value = (np.arange(np.prod(shape)) % 3).astype(dtype).reshape(shape)
        arr[...] = value
        np.testing.assert_array_equal(arr[...], value)


@pytest.mark.parametrize("prefix", [2**30, 2**64, -1, 1.5, "abc", True])
def test_jenkins_prefix_must_be_byte_values(prefix):
    store = _v2_store(compressor={"id": "jenkins_lookup3", "prefix": prefix})
    with pytest.raises(CodecError, match="prefix"):
        _peak(lambda: zarrsync.open_array(store))


def test_jenkins_prefix_list_of_bytes_is_accepted():
    store = _v2_store(compressor={"id": "jenkins_lookup3", "prefix": [1, 2, 3]})
    a = zarrsync.open_array(store)
    a[...] = np.arange(1024) % 251
    assert (a[...] == np.arange(1024) % 251).all()


@pytest.mark.parametrize("digits", [-400, -309, 308, 400, 2**16])
def test_quantize_digits_out_of_float_range(digits):
    store = _v2_store(filters=[{"id": "quantize", "digits": digits, "dtype": "<f8"}], dtype="<f8")
    with pytest.raises(CodecError, match="digits"):
        zarrsync.open_array(store)


@pytest.mark.parametrize("digits", [-308, -2, 0, 3, 307])
def test_quantize_digits_in_range_open(digits):
    zarrsync.open_array(_v2_store(filters=[{"id": "quantize", "digits": digits, "dtype": "<f8"}], dtype="<f8"))


@pytest.mark.parametrize("field,value", [("offset", 10**400), ("scale", -10**400), ("offset", float("nan"))])
def test_fixedscaleoffset_numbers_out_of_float_range(field, value):
    config = {"id": "fixedscaleoffset", "offset": 0, "scale": 1, "dtype": "<u2", field: value}
    with pytest.raises(CodecError, match=field):
        zarrsync.open_array(_v2_store(filters=[config], dtype="<u2"))


@pytest.mark.parametrize("field,value", [("offset", -1), ("offset", 2**16), ("scale", 2**16), ("scale", 2**64)])
def test_fixedscaleoffset_ints_outside_the_dtype_decode_as_numcodecs_does(field, value):
    """numpy 2 refuses ``uint16_array - (-1)`` (OverflowError); numcodecs' decoding works in
    floats, so such data (written in numpy 1 days) reads there: it must read here too, alike."""
    numcodecs = pytest.importorskip("numcodecs")
    config = {"id": "fixedscaleoffset", "offset": 0, "scale": 1, "dtype": "<u2", "astype": "<u2", field: value}
    encoded = np.arange(0, 60000, 7, dtype="<u2")[:1024]
    store = _v2_store(filters=[config], dtype="<u2")
    store.set("0", encoded.tobytes())
    a = zarrsync.open_array(store)
    want = numcodecs.get_codec(config).decode(encoded)
    np.testing.assert_array_equal(a[...], want)
    assert a.metadata.to_json()["filters"][0][field] == value  # the config is kept as written


def test_fixedscaleoffset_float_offset_on_unsigned_data_still_works():
    config = {"id": "fixedscaleoffset", "offset": -1.0, "scale": 1, "dtype": "<u2"}
    a = zarrsync.open_array(_v2_store(filters=[config], dtype="<u2"))
    a[...] = np.arange(1024, dtype="<u2")
    assert (a[...] == np.arange(1024)).all()


@pytest.mark.parametrize("key", ["zarr.json", ".zarray", ".zattrs", ".zgroup"])
def test_deeply_nested_json_is_a_metadata_error(key):
    store = _v2_store() if key == ".zattrs" else MemoryStore()
    store.set(key, b"[" * 100000)
    with pytest.raises(MetadataError, match="nested too deeply"):
        zarrsync.open(store, mode="r")


def test_pickle_refusal_reaches_the_caller_v2_compressor():
    import pickle
    store = _v2_store(compressor={"id": "pickle"}, dtype="<i4", shape=(4,), chunks=(4,))
    store.set("0", pickle.dumps(np.arange(4, dtype="<i4")))
    with pytest.raises(PickleRefusedError):
        zarrsync.open_array(store)[...]


def test_pickle_refusal_reaches_the_caller_v3_numcodecs_pickle():
    import pickle
    store = MemoryStore()
    store.set("zarr.json", json.dumps(v3_array([{"name": "bytes", "configuration": {"endian": "little"}},
                                                {"name": "numcodecs.pickle"}])).encode())
    store.set("c/0/0", pickle.dumps(DATA))
    with pytest.raises(PickleRefusedError):
        zarrsync.open_array(store)[...]
    with zarrsync.config.context(allow_pickle=True):  # opted in: the pickled chunk reads
        np.testing.assert_array_equal(zarrsync.open_array(store)[...], DATA)


def test_pickle_refusal_reaches_the_caller_v2_object_filter():
    import pickle
    store = _v2_store(filters=[{"id": "pickle"}], dtype="|O", shape=(2,), chunks=(2,))
    store.set("0", pickle.dumps(np.array(["a", "b"], dtype=object)))
    with pytest.raises(PickleRefusedError):
        zarrsync.open_array(store)[...]
