"""The case model and oracle helpers shared by the interop suites.

Used by ``tests/test_interop_tensorstore.py`` and ``tests_zarr/test_interop_zarr_python.py``
(the latter finds this module through ``tests_zarr/conftest.py``). numpy is the oracle: expected
values, chunk keys and normalised metadata are worked out here independently of zarrsync. Nothing
in this module calls zarrsync except the zarrsync-side writers ``zs_create`` and ``zs_write``;
the peer libraries' own helpers stay in their suites.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

import numpy as np

import zarrsync

# --- codec JSON ------------------------------------------------------------------------------------

B_LE = {"name": "bytes", "configuration": {"endian": "little"}}
B_BE = {"name": "bytes", "configuration": {"endian": "big"}}
B_1 = {"name": "bytes"}  # 1-byte types: endian may be omitted
CRC = {"name": "crc32c"}


def T(*order: int) -> dict:
    return {"name": "transpose", "configuration": {"order": list(order)}}


def GZ(level: int = 5) -> dict:
    return {"name": "gzip", "configuration": {"level": level}}


def ZS(level: int = 0, checksum: bool = False) -> dict:
    return {"name": "zstd", "configuration": {"level": level, "checksum": checksum}}


def split_codecs(codecs) -> tuple[list, dict, list]:
    """A v3 codec chain -> (filters, the one serializer, compressors)."""
    filters = [c for c in codecs if c["name"] == "transpose"]
    serializer = [c for c in codecs if c["name"] == "bytes"]
    compressors = [c for c in codecs if c["name"] not in ("transpose", "bytes")]
    assert len(serializer) == 1
    return filters, serializer[0], compressors


ALL_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float16", "float32", "float64", "complex64", "complex128"]


# --- cases -----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    dtype: str
    shape: tuple
    chunks: tuple
    codecs: tuple
    fill: Any = 0                      # fill value in its v3 JSON form
    dimension_names: tuple | None = None
    cke: dict | None = None            # chunk_key_encoding JSON; None = not given (default "/")
    region: Any = Ellipsis             # the selection that gets written; the rest stays fill
    attributes: dict | None = None
    seed: int = 0


def decode_fill(fill: Any, dtype: str) -> Any:
    """The v3 fill JSON -> a numpy scalar (independent of zarrsync)."""
    special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
    if isinstance(fill, list):
        re, im = (special.get(v, v) if isinstance(v, str) else v for v in fill)
        return np.array(complex(re, im), dtype=dtype)[()]
    if isinstance(fill, str):
        if fill.startswith("0x"):
            bits = int(fill, 16)
            itemsize = np.dtype(dtype).itemsize
            return np.array(bits, dtype=f"<u{itemsize}").view(f"<f{itemsize}").astype(dtype)[()]
        return np.array(special[fill], dtype=dtype)[()]
    return np.array(fill, dtype=dtype)[()]


def make_data(dtype: str, shape: tuple, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    if dt.kind == "f":
        return (rng.standard_normal(size=shape) * 100).astype(dt)
    if dt.kind == "c":
        ft = np.float32 if dt == np.complex64 else np.float64
        re = (rng.standard_normal(size=shape) * 100).astype(ft)
        im = (rng.standard_normal(size=shape) * 100).astype(ft)
        return (re + 1j * im).astype(dt)
    raise AssertionError(dtype)


def region_shape(shape: tuple, region: Any) -> tuple:
    return np.empty(shape, dtype="u1")[region].shape


def data_of(case: Case) -> np.ndarray:
    return make_data(case.dtype, region_shape(case.shape, case.region), case.seed)


def expected_of(case: Case) -> np.ndarray:
    exp = np.full(case.shape, decode_fill(case.fill, case.dtype), dtype=case.dtype)
    exp[case.region] = data_of(case)
    return exp


def has_writes(case: Case) -> bool:
    return math.prod(region_shape(case.shape, case.region)) > 0


def zero_fill(dtype: str) -> Any:
    kind = np.dtype(dtype).kind
    return False if kind == "b" else [0.0, 0.0] if kind == "c" else 0


# --- comparisons -----------------------------------------------------------------------------------

def assert_same(actual: Any, expected: np.ndarray) -> None:
    """Same dtype, shape and values; NaNs match NaNs; non-NaN floats match bit for bit (-0.0 too)."""
    actual = np.asarray(actual)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_array_equal(actual, expected)
    if expected.dtype.kind in "fc":
        _same_float_bits(np.ascontiguousarray(actual), np.ascontiguousarray(expected))


def _same_float_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    if expected.dtype.kind == "c":
        _same_float_bits(np.ascontiguousarray(actual.real), np.ascontiguousarray(expected.real))
        _same_float_bits(np.ascontiguousarray(actual.imag), np.ascontiguousarray(expected.imag))
        return
    u = f"u{expected.dtype.itemsize}"
    nan = np.isnan(expected)
    # the bits of every non-NaN element match (so -0.0 stays -0.0); NaN positions already matched
    np.testing.assert_array_equal(actual.view(u)[~nan], expected.view(u)[~nan])


def fills_equal(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
    return bool(a == b)


# --- the zarrsync writer ---------------------------------------------------------------------------

def zs_create(path: str, case: Case) -> zarrsync.Array:
    filters, serializer, compressors = split_codecs(case.codecs)
    return zarrsync.create_array(
        zarrsync.LocalStore(path), shape=case.shape, dtype=case.dtype, chunks=case.chunks,
        fill_value=decode_fill(case.fill, case.dtype), filters=filters or None,
        serializer=serializer, compressors=compressors or None,
        dimension_names=case.dimension_names, chunk_key_encoding=case.cke,
        attributes=case.attributes, overwrite=True,
    )


def zs_write(case: Case, path: str) -> None:
    a = zs_create(path, case)
    a[case.region] = data_of(case)


# --- store layout and metadata ---------------------------------------------------------------------

def stored_keys(path: str) -> set[str]:
    out = set()
    for root, _, files in os.walk(path):
        for f in files:
            out.add(os.path.relpath(os.path.join(root, f), path).replace(os.sep, "/"))
    return out


def chunk_key(coords: tuple, cke: dict | None) -> str:
    """The spec's chunk key rules (SPEC_CHECKLIST 1.7), written out independently."""
    name = (cke or {}).get("name", "default")
    sep = ((cke or {}).get("configuration") or {}).get("separator", "/" if name == "default" else ".")
    if name == "default":
        return "c" + "".join(sep + str(c) for c in coords)
    return sep.join(str(c) for c in coords) if coords else "0"


def chunks_touched(case: Case) -> set[tuple]:
    """Grid coordinates of the chunks holding any element of the written region."""
    mask = np.zeros(case.shape, dtype=bool)
    mask[case.region] = True
    out = set()
    for idx in zip(*np.nonzero(mask)) if case.shape else [()]:
        out.add(tuple(int(i) // c for i, c in zip(idx, case.chunks)))
    return out


def check_keys(path: str, case: Case) -> None:
    want = {chunk_key(c, case.cke) for c in chunks_touched(case)}
    got = stored_keys(path) - {"zarr.json"}
    # a writer may omit chunks equal to the fill value everywhere, never store anything else
    assert got <= want, (got - want)
    assert got, "no chunk was stored"


def norm_meta(doc: dict) -> dict:
    """A zarr.json document with every spec default made explicit, for semantic comparison."""
    doc = json.loads(json.dumps(doc))
    if doc.get("attributes", {}) == {}:
        doc.pop("attributes", None)
    if doc.get("storage_transformers", []) == []:
        doc.pop("storage_transformers", None)
    if doc.get("node_type") != "array":
        return doc
    itemsize = np.dtype(doc["data_type"]).itemsize
    if "dimension_names" in doc and (doc["dimension_names"] is None or all(n is None for n in doc["dimension_names"])):
        del doc["dimension_names"]
    cke = doc.get("chunk_key_encoding", {"name": "default"})
    if isinstance(cke, str):
        cke = {"name": cke}
    conf = dict(cke.get("configuration") or {})
    conf.setdefault("separator", "/" if cke["name"] == "default" else ".")
    doc["chunk_key_encoding"] = {"name": cke["name"], "configuration": conf}
    codecs = []
    for c in doc["codecs"]:
        c = {"name": c} if isinstance(c, str) else dict(c)
        conf = dict(c.get("configuration") or {})
        if c["name"] == "bytes" and itemsize == 1:
            conf.pop("endian", None)
        if c["name"] == "zstd":
            conf.setdefault("checksum", False)
        codecs.append({"name": c["name"], "configuration": conf})
    doc["codecs"] = codecs
    return doc


def load_json(path: str) -> dict:
    with open(os.path.join(path, "zarr.json")) as f:
        return json.load(f)


def check_zarrsync_metadata(a: zarrsync.Array, case: Case, *, attributes: bool = False) -> None:
    """What zarrsync reports matches the case; with ``attributes`` its attributes must equal the
    case's (none given: empty)."""
    assert a.shape == case.shape
    assert a.chunks == case.chunks
    assert a.dtype == np.dtype(case.dtype)
    assert fills_equal(a.fill_value, decode_fill(case.fill, case.dtype)), (a.fill_value, case.fill)
    # absent dimension_names and a list of nulls mean the same (all unnamed)
    unnamed = (None,) * len(case.shape)
    assert tuple(a.dimension_names or unnamed) == tuple(case.dimension_names or unnamed)
    if attributes:
        assert dict(a.attrs) == (case.attributes or {})


# --- building blocks of the case matrices ----------------------------------------------------------

# name -> the chain, given the layout's transpose codec
CODEC_CHAINS = {
    "bytes_le": lambda t: [B_LE],
    "bytes_be": lambda t: [B_BE],
    "transpose_le": lambda t: [t, B_LE],
    "transpose_be": lambda t: [t, B_BE],
    "gzip1": lambda t: [B_LE, GZ(1)],
    "gzip9_be": lambda t: [B_BE, GZ(9)],
    "zstd": lambda t: [B_LE, ZS(0)],
    "zstd_checksum": lambda t: [B_LE, ZS(3, True)],
    "zstd_negative_level": lambda t: [B_LE, ZS(-5)],
    "crc32c": lambda t: [B_LE, CRC],
    "crc32c_be": lambda t: [B_BE, CRC],
    "transpose_zstd_crc32c": lambda t: [t, B_LE, ZS(5, True), CRC],
    "transpose_be_gzip_crc32c": lambda t: [t, B_BE, GZ(6), CRC],
    "gzip_zstd": lambda t: [B_LE, GZ(2), ZS(1)],
    "crc32c_zstd": lambda t: [B_LE, CRC, ZS(2, True)],
}


def codec_cases(layouts) -> list[Case]:
    """Every codec chain on every layout ``(name, dtype, shape, chunks, transpose, fill)``."""
    return [Case(f"codec-{cname}-{lname}", dt, shape, chunks, tuple(chain(t)), fill)
            for cname, chain in CODEC_CHAINS.items() for lname, dt, shape, chunks, t, fill in layouts]


def dtype_cases(one_byte_serializers) -> list[Case]:
    """Every dtype; 1-byte types with each ``(name, serializer)`` given, others little and big endian."""
    out = []
    for dt in ALL_DTYPES:
        one = np.dtype(dt).itemsize == 1
        for endian, ser in (one_byte_serializers if one else [("little", B_LE), ("big", B_BE)]):
            out.append(Case(f"dtype-{dt}-{endian}", dt, (10, 7), (4, 3), (ser, ZS(1)), zero_fill(dt)))
    return out


def ndim_cases(*, nan_float_twins: bool = False) -> list[Case]:
    """0-d to 4-d arrays, then edge chunk layouts; ``nan_float_twins`` adds a NaN-filled float32
    case after each dimensionality."""
    layouts = [
        ((), ()), ((17,), (5,)), ((9, 10), (4, 3)), ((5, 6, 7), (2, 3, 4)), ((3, 4, 5, 6), (2, 3, 2, 4)),
    ]
    out = []
    for shape, chunks in layouts:
        n = len(shape)
        codecs = (T(*reversed(range(n))), B_LE, ZS(1, True), CRC) if n > 1 else (B_LE, ZS(1, True), CRC)
        out.append(Case(f"ndim-{n}", "int32", shape, chunks, codecs, -1))
        if nan_float_twins:
            out.append(Case(f"ndim-{n}-f4", "float32", shape, chunks, (B_BE,), "NaN", seed=n))
    # chunk bigger than the array, 0-d with a transpose, an empty dimension, big chunks
    out.append(Case("chunk-larger-than-array", "int16", (3, 5), (8, 8), (B_LE,), 3))
    out.append(Case("ndim-0-transpose", "uint32", (), (), (T(), B_BE, CRC), 6))
    out.append(Case("zero-length-dim", "int32", (0, 5), (2, 2), (B_LE, ZS(0)), 4))
    out.append(Case("big-chunks-zstd", "float64", (300, 260), (128, 128), (B_LE, ZS(3, True), CRC), "NaN",
                    region=(slice(0, 290), slice(5, 260))))
    out.append(Case("big-chunks-gzip", "int64", (300, 260), (128, 100), (T(1, 0), B_BE, GZ(6)), -5,
                    region=(slice(10, 300), slice(0, 250))))
    return out


def fill_cases(fills) -> list[Case]:
    """One case per ``(dtype, fill JSON)``; half of each array stays unwritten, so never-written
    chunks are read as fill."""
    out = []
    for i, (dt, fill) in enumerate(fills):
        ser = B_1 if np.dtype(dt).itemsize == 1 else B_LE
        out.append(Case(f"fill-{dt}-{json.dumps(fill)}", dt, (9, 8), (4, 3), (ser, ZS(0)), fill,
                        region=(slice(0, 4), slice(1, 5)), seed=i))
    return out


def cke_cases(ckes: dict) -> list[Case]:
    """A 3-d and a 0-d case for each named chunk_key_encoding JSON."""
    out = []
    for name, cke in ckes.items():
        out.append(Case(f"cke-{name}-3d", "int16", (7, 5, 6), (3, 2, 4), (B_LE, ZS(0)), -3, cke=cke,
                        region=(slice(1, 7), slice(0, 3), slice(2, 6))))
        out.append(Case(f"cke-{name}-0d", "float64", (), (), (B_LE,), 0.5, cke=cke))
    return out


# --- fixed-size non-numeric data types (struct, U, S, V, M, m) ------------------------------------------

def make_values(dtype, n: int, seed: int = 0) -> np.ndarray:
    """``n`` varied values of ``dtype`` (strings of every length, bytes with interior zeros, NaT,
    NaN fields ...), built with numpy alone."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    if dt.names is not None:
        out = np.zeros(n, dtype=dt)
        for i, name in enumerate(dt.names):
            field = dt.fields[name][0]
            if field.subdtype is not None:
                base, shape = field.subdtype
                out[name] = make_values(base, n * int(np.prod(shape)), seed + i + 1).reshape((n,) + shape)
            else:
                out[name] = make_values(field, n, seed + i + 1)
        return out
    if dt.kind == "U":
        alphabet = list("abcXYZ é€😀")
        chars = dt.itemsize // 4
        return np.array(["".join(rng.choice(alphabet, size=rng.integers(0, chars + 1))).rstrip("\x00")
                         for _ in range(n)], dtype=dt)
    if dt.kind == "S":
        return np.array([bytes(rng.integers(0, 256, size=rng.integers(0, dt.itemsize + 1)).astype(np.uint8))
                         .rstrip(b"\x00") for _ in range(n)], dtype=dt)
    if dt.kind == "V":
        return np.frombuffer(rng.integers(0, 256, size=n * dt.itemsize).astype(np.uint8).tobytes(), dtype=dt).copy()
    if dt.kind in "Mm":
        ints = rng.integers(-(10**12), 10**12, size=n)
        ints[::5] = -(2**63)  # NaT
        return ints.astype(np.int64).view(dt.newbyteorder("=")).astype(dt)
    if dt.kind == "f":
        out = (rng.standard_normal(n) * 100).astype(dt)
        out[::7] = np.nan
        return out
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=n, endpoint=True).astype(dt)
    raise AssertionError(dt)


def same_bytes(actual, expected) -> None:
    """Equal dtype, shape and bytes (NaN and NaT compare as bits)."""
    actual = np.asarray(actual)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert np.ascontiguousarray(actual).tobytes() == np.ascontiguousarray(expected).tobytes(), (actual, expected)
