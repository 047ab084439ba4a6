"""Golden bytes: fixtures made by the real numcodecs must decode exactly with zarrsync.

``tests/fixtures/numcodecs_golden.json`` is written by ``tests/fixtures/make_numcodecs_fixtures.py``
(run it with numcodecs installed to regenerate). Each case holds a numcodecs config, the input
array (dtype, shape, raw bytes), numcodecs' encoded bytes and, for lossy cases, numcodecs' own
decoded bytes. This test does NOT import numcodecs: it decodes every case with
``zarrsync.codecs.get_codec(config)`` and compares exactly; for the byte-deterministic codecs it
also re-encodes with zarrsync and requires numcodecs' exact bytes.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from zarrsync.codecs import get_codec

FIXTURE = Path(__file__).parent / "fixtures" / "numcodecs_golden.json"
CASES = json.loads(FIXTURE.read_text())
BY_ID = {c["id"]: c for c in CASES}

#: every numcodecs codec zarrsync re-implements; each must have fixtures
ALL_CODECS = {"zlib", "gzip", "bz2", "lzma", "zstd", "lz4", "blosc", "crc32", "adler32", "crc32c", "fletcher32",
              "jenkins_lookup3", "delta", "fixedscaleoffset", "quantize", "bitround", "packbits", "categorize",
              "astype", "shuffle"}
#: codecs whose encoding is deterministic and must equal numcodecs' byte for byte
#: (gzip: header mtime / OS byte; zstd, lz4, blosc: library-version-dependent, not required)
REENCODE_IDENTICAL = {"zlib", "bz2", "lzma", "crc32", "adler32", "crc32c", "fletcher32", "jenkins_lookup3",
                      "delta", "fixedscaleoffset", "quantize", "bitround", "packbits", "categorize", "astype",
                      "shuffle"}


def _b(s: str) -> bytes:
    return base64.b64decode(s)


def _bytes_of(x) -> bytes:
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x).tobytes()
    m = memoryview(x)
    return m.cast("B").tobytes() if m.ndim and m.format != "B" else m.tobytes()


def _input(case) -> np.ndarray:
    return np.frombuffer(_b(case["input"]), dtype=np.dtype(case["dtype"])).reshape(case["shape"])


def _encoded(case):
    raw = _b(case["encoded"])
    if case["kind"] == "bytes":
        return raw
    return np.frombuffer(raw, dtype=np.dtype(case["encoded_dtype"]))


def _expected_decoded(case) -> tuple[np.dtype, bytes]:
    """numcodecs' own decode result (== the input for lossless cases)."""
    if case["decoded"] is None:
        return np.dtype(case["dtype"]), _b(case["input"])
    return np.dtype(case["decoded_dtype"]), _b(case["decoded"])


def test_fixture_covers_every_codec():
    assert len(CASES) == len(BY_ID), "duplicate case ids"
    assert {c["config"]["id"] for c in CASES} == ALL_CODECS
    assert any(c["lossy"] for c in CASES)


@pytest.mark.parametrize("case_id", list(BY_ID))
def test_decode_golden(case_id):
    case = BY_ID[case_id]
    codec = get_codec(dict(case["config"]))
    dec = codec.decode(_encoded(case))
    exp_dtype, exp_bytes = _expected_decoded(case)
    if case["kind"] == "bytes":
        got = _bytes_of(dec)
        assert len(got) == len(exp_bytes), f"{case_id}: decoded {len(got)} bytes, expected {len(exp_bytes)}"
        assert got == exp_bytes, f"{case_id}: decoded bytes differ from numcodecs' input"
    else:
        arr = np.asarray(dec)
        assert arr.dtype == exp_dtype, f"{case_id}: decoded dtype {arr.dtype.str}, numcodecs gives {exp_dtype.str}"
        got = _bytes_of(arr)
        if got != exp_bytes:
            want = np.frombuffer(exp_bytes, dtype=exp_dtype)
            flat = arr.reshape(-1)
            bad = np.flatnonzero(flat != want) if flat.size == want.size else []
            pytest.fail(f"{case_id}: decoded values differ ({len(bad)} of {want.size} elements; "
                        f"first at {bad[:5].tolist() if len(bad) else '?'}: got {flat[bad[:3]].tolist() if len(bad) else flat.size}, "
                        f"want {want[bad[:3]].tolist() if len(bad) else want.size})")
        if not case["lossy"]:  # lossless filters give back the input exactly
            assert got == _b(case["input"])


@pytest.mark.parametrize("case_id", list(BY_ID))
def test_decode_into_out(case_id):
    """``decode(buf, out)`` fills a caller-provided buffer with the same bytes."""
    case = BY_ID[case_id]
    codec = get_codec(dict(case["config"]))
    exp_dtype, exp_bytes = _expected_decoded(case)
    out = np.zeros(len(exp_bytes) // exp_dtype.itemsize, dtype=exp_dtype)
    codec.decode(_encoded(case), out=out)
    assert out.tobytes() == exp_bytes


REENCODE_IDS = [cid for cid, c in BY_ID.items() if c["config"]["id"] in REENCODE_IDENTICAL]


@pytest.mark.parametrize("case_id", REENCODE_IDS)
def test_reencode_identical(case_id):
    case = BY_ID[case_id]
    codec = get_codec(dict(case["config"]))
    enc = codec.encode(_input(case))
    if case["kind"] == "bytes":
        assert _bytes_of(enc) == _b(case["encoded"]), f"{case_id}: zarrsync's encoding differs from numcodecs'"
    else:
        arr = np.asarray(enc)
        assert arr.dtype.str == case["encoded_dtype"], f"{case_id}: encoded dtype {arr.dtype.str}"
        assert _bytes_of(arr) == _b(case["encoded"]), f"{case_id}: zarrsync's encoding differs from numcodecs'"


#: zarrsync's Blosc reads but does not write the blosclz cname (blosc1.py ``_WRITABLE``), so those
#: cases are decode-only
ROUNDTRIP_IDS = [cid for cid, c in BY_ID.items()
                 if cid not in set(REENCODE_IDS) and c["config"].get("cname") != "blosclz"]


@pytest.mark.parametrize("case_id", ROUNDTRIP_IDS)
def test_roundtrip_nondeterministic(case_id):
    """gzip / zstd / lz4 / blosc: zarrsync's own encoding need not match, but must round-trip."""
    case = BY_ID[case_id]
    codec = get_codec(dict(case["config"]))
    assert _bytes_of(codec.decode(codec.encode(_input(case)))) == _b(case["input"])


def test_config_roundtrip():
    """zarrsync writes back exactly the config numcodecs wrote."""
    for case in CASES:
        assert get_codec(dict(case["config"])).get_config() == case["config"], case["id"]
