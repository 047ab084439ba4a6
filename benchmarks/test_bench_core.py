"""pytest-benchmark cases for zarrsync's read and write paths.

Run: ``python3 -m pytest benchmarks --benchmark-enable`` (the test suite disables benchmarks).
Data is uint16 like the side-by-side benchmark (``benchmarks/peers.py``), at a smaller size.
"""

import numpy as np
import pytest

import zarrsync

ZSTD = [{"name": "zstd", "configuration": {"level": 0, "checksum": False}}]


def make_data(shape):
    rng = np.random.default_rng(0)
    n = int(np.prod(shape))
    return ((np.arange(n, dtype=np.uint32) % 4096).astype(np.uint16)
            + rng.integers(0, 16, size=n, dtype=np.uint16)).reshape(shape)


CASES = {
    # name: (shape, chunks, compressors, shards)
    "small-zstd": ((1024, 1024), (64, 64), ZSTD, None),
    "large-raw": ((256, 256, 256), (128, 128, 128), None, None),
    "large-zstd": ((256, 256, 256), (128, 128, 128), ZSTD, None),
    "sharded-zstd": ((256, 256, 256), (32, 32, 32), ZSTD, (128, 128, 128)),
}


@pytest.fixture(scope="module", params=list(CASES))
def stored(request, tmp_path_factory):
    shape, chunks, comp, shards = CASES[request.param]
    data = make_data(shape)
    path = tmp_path_factory.mktemp("bench") / f"{request.param}.zarr"
    a = zarrsync.create_array(str(path), shape=shape, dtype="uint16", chunks=chunks, fill_value=0,
                              compressors=comp, shards=shards)
    a[...] = data
    return request.param, str(path), data, chunks, comp, shards


def test_read_all(benchmark, stored):
    name, path, data, chunks, _, _ = stored
    a = zarrsync.open_array(path, mode="r")
    out = benchmark(lambda: a[...])
    assert np.array_equal(out, data)


def test_read_one_chunk_per_call(benchmark, stored):
    """One (inner) chunk per call: the inline path, and for shards the index + one ranged read."""
    name, path, data, chunks, _, _ = stored
    a = zarrsync.open_array(path, mode="r")
    sels = [tuple(slice(0, c) for c in chunks)] * 16

    def run():
        for s in sels:
            a[s]

    benchmark(run)


def test_read_into_out(benchmark, stored):
    name, path, data, chunks, _, _ = stored
    a = zarrsync.open_array(path, mode="r")
    out = np.empty(data.shape, data.dtype)
    benchmark(lambda: a.get_basic_selection(..., out=out))
    assert np.array_equal(out, data)


def test_write_all(benchmark, stored, tmp_path):
    name, path, data, chunks, comp, shards = stored
    a = zarrsync.create_array(str(tmp_path / "w.zarr"), shape=data.shape, dtype=data.dtype, chunks=chunks,
                              fill_value=0, compressors=comp, shards=shards, overwrite=True)

    def run():
        a[...] = data

    benchmark(run)
    assert np.array_equal(a[...], data)


def test_partial_write(benchmark, stored, tmp_path):
    """Writes that cover parts of chunks: read-modify-write under the per-chunk lock."""
    name, path, data, chunks, comp, shards = stored
    a = zarrsync.create_array(str(tmp_path / "p.zarr"), shape=data.shape, dtype=data.dtype, chunks=chunks,
                              fill_value=0, compressors=comp, shards=shards, overwrite=True)
    a[...] = data
    sel = tuple(slice(c // 2, s - c // 2) for s, c in zip(data.shape, chunks))

    def run():
        a[sel] = 7

    benchmark(run)
    assert (a[sel] == 7).all()


# --- selections (as in peers.py: fixed seed, so every run reads the same elements) ---------------

SELECTIONS = ("oindex", "oindex_unsorted", "vindex", "mask")


def make_selection(kind, shape):
    """oindex: a few hundred distinct ints on axis 0 (sorted, or in random order) times the middle
    3/4 of axis 1; vindex: 10^5 random points; mask: a random bool mask, ~1% True."""
    rng = np.random.default_rng(20261121)
    if kind in ("oindex", "oindex_unsorted"):
        idx = np.sort(rng.choice(shape[0], size=min(300, shape[0] // 2), replace=False))
        if kind == "oindex_unsorted":
            idx = rng.permutation(idx)
        edge = shape[1] // 8
        return (idx, slice(edge, shape[1] - edge)) + (slice(None),) * (len(shape) - 2)
    if kind == "vindex":
        return tuple(rng.integers(0, n, size=100_000) for n in shape)
    return rng.integers(0, 100, size=shape, dtype=np.uint8) < 1


@pytest.mark.parametrize("kind", SELECTIONS)
def test_read_selection(benchmark, stored, kind):
    """``a.oindex[...]``, ``a.vindex[points]`` and ``a.get_mask_selection(mask)``."""
    name, path, data, chunks, _, _ = stored
    a = zarrsync.open_array(path, mode="r")
    sel = make_selection(kind, data.shape)
    if kind.startswith("oindex"):
        read, want = (lambda: a.oindex[sel]), data[sel[0]][(slice(None),) + sel[1:]]
    elif kind == "vindex":
        read, want = (lambda: a.vindex[sel]), data[sel]
    else:
        read, want = (lambda: a.get_mask_selection(sel)), data[sel]
    out = benchmark(read)
    assert np.array_equal(out, want)
