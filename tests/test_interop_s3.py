"""Interop with the real tensorstore over S3 (moto's server on loopback), both directions.

zarrsync writes through its ``s3://`` URL (obstore) and tensorstore reads through its own ``s3``
kvstore, and the other way round, for a v3 array with zstd, a v3 sharded array and a v2 array with
a compressor. A zarrsync partial write into a sharded array tensorstore wrote is read back by
tensorstore. Expected values come from numpy (the fill value, then the regions written), never
from either library; the objects each writer leaves are checked through an independent boto3
client.
"""

from __future__ import annotations

import numpy as np
import pytest

from oracles import require, tensorstore as ts

obstore = require("obstore")  # zarrsync's s3:// URLs go through it

import s3server  # noqa: E402  (tests/s3server.py: moto's server on loopback)
from s3server import moto  # noqa: E402,F401 - the fixture
import zarrsync  # noqa: E402

SHAPE, CHUNKS, SHARDS = (13, 17), (4, 5), (8, 10)  # edge chunks and edge shards on both axes
#: the part of the array each writer fills; the rest stays the fill value
REGION = np.s_[1:12, 2:16]
ZSTD = {"name": "zstd", "configuration": {"level": 3, "checksum": False}}
BYTES = {"name": "bytes", "configuration": {"endian": "little"}}
LAYOUTS = ["plain", "sharded", "v2-gzip", "v2-zstd"]


@pytest.fixture
def bucket(moto, monkeypatch) -> str:
    """A fresh bucket, and the credentials tensorstore's ``environment`` credentials read."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3server.ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3server.SECRET_ACCESS_KEY)
    return moto.new_bucket()


def model(dtype: str, fill) -> tuple[np.ndarray, np.ndarray]:
    """(the values a writer puts in REGION, the whole array a reader must then see)."""
    full = np.full(SHAPE, fill, dtype)
    region = full[REGION]
    data = (np.arange(region.size) * 7 % 251 - 100).astype(dtype).reshape(region.shape)
    full[REGION] = data
    return data, full


def kvstore(moto, bucket: str, path: str) -> dict:
    return {"driver": "s3", "bucket": bucket, "path": path.rstrip("/") + "/", "endpoint": moto.endpoint,
            "aws_region": s3server.REGION, "aws_credentials": {"type": "environment"}}


def ts_open(moto, bucket: str, path: str, layout: str):
    """tensorstore's view of the array at ``path``, from the stored metadata alone."""
    driver = "zarr" if layout.startswith("v2") else "zarr3"
    return ts().open({"driver": driver, "kvstore": kvstore(moto, bucket, path), "open": True}).result()


def ts_create(moto, bucket: str, path: str, layout: str, dtype: str, fill):
    kv = kvstore(moto, bucket, path)
    if layout.startswith("v2"):
        compressor = {"id": "gzip", "level": 5} if layout == "v2-gzip" else {"id": "zstd", "level": 3}
        spec = {"driver": "zarr", "kvstore": kv, "create": True,
                "metadata": {"shape": list(SHAPE), "chunks": list(CHUNKS), "dtype": np.dtype(dtype).str,
                             "fill_value": fill, "compressor": compressor, "order": "C"}}
    else:
        inner = [BYTES, ZSTD]
        if layout == "sharded":
            codecs = [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": list(CHUNKS), "codecs": inner,
                "index_codecs": [BYTES, {"name": "crc32c"}], "index_location": "end"}}]
            grid = SHARDS
        else:
            codecs, grid = inner, CHUNKS
        spec = {"driver": "zarr3", "kvstore": kv, "create": True,
                "metadata": {"shape": list(SHAPE), "data_type": np.dtype(dtype).name, "fill_value": fill,
                             "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(grid)}},
                             "codecs": codecs}}
    return ts().open(spec).result()


def zs_url(moto, bucket: str, path: str) -> tuple[str, dict]:
    return f"s3://{bucket}/{path}", {"storage_options": moto.obstore_options}


def zs_create(moto, bucket: str, path: str, layout: str, dtype: str, fill):
    url, kw = zs_url(moto, bucket, path)
    if layout == "plain":
        kw.update(compressors=[ZSTD])
    elif layout == "sharded":
        kw.update(shards=SHARDS, compressors=[ZSTD])
    else:
        kw.update(zarr_format=2, compressors={"id": "gzip", "level": 5} if layout == "v2-gzip"
                  else {"id": "zstd", "level": 3})
    return zarrsync.create_array(url, shape=SHAPE, chunks=CHUNKS, dtype=dtype, fill_value=fill, **kw)


def expected_keys(layout: str) -> set[str]:
    """The objects a writer of REGION leaves: the metadata and the chunks (or shards) REGION touches."""
    grid = SHARDS if layout == "sharded" else CHUNKS
    touched = [range(r.start // g, (r.stop - 1) // g + 1) for r, g in zip(REGION, grid)]
    if layout.startswith("v2"):
        return {".zarray"} | {f"{i}.{j}" for i in touched[0] for j in touched[1]}
    return {"zarr.json"} | {f"c/{i}/{j}" for i in touched[0] for j in touched[1]}


def stored(moto, bucket: str, path: str) -> set[str]:
    return {k[len(path) + 1:] for k in moto.keys(bucket) if k.startswith(path + "/")}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype, fill", [("<i2", -1), ("<f8", 0.5)])
def test_zarrsync_writes_tensorstore_reads(moto, bucket, layout, dtype, fill):
    data, expected = model(dtype, fill)
    zs_create(moto, bucket, "zs.zarr", layout, dtype, fill)[REGION] = data
    assert stored(moto, bucket, "zs.zarr") == expected_keys(layout)
    b = ts_open(moto, bucket, "zs.zarr", layout)
    assert b.shape == SHAPE and b.dtype.numpy_dtype == np.dtype(dtype)
    np.testing.assert_array_equal(b.read().result(), expected)
    np.testing.assert_array_equal(b[3:11, 4:13].read().result(), expected[3:11, 4:13])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype, fill", [("<u2", 7), ("<f4", -2.5)])
def test_tensorstore_writes_zarrsync_reads(moto, bucket, layout, dtype, fill):
    data, expected = model(dtype, fill)
    ts_create(moto, bucket, "ts.zarr", layout, dtype, fill)[REGION].write(data).result()
    assert stored(moto, bucket, "ts.zarr") == expected_keys(layout)
    url, kw = zs_url(moto, bucket, "ts.zarr")
    b = zarrsync.open_array(url, mode="r", **kw)
    assert b.shape == SHAPE and b.chunks == CHUNKS and b.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(b[...], expected)
    np.testing.assert_array_equal(b[3:11, 4:13], expected[3:11, 4:13])


def test_zarrsync_partial_writes_into_a_tensorstore_sharded_array(moto, bucket):
    data, expected = model("<i4", -9)
    ts_create(moto, bucket, "ts.zarr", "sharded", "<i4", -9)[REGION].write(data).result()
    url, kw = zs_url(moto, bucket, "ts.zarr")
    a = zarrsync.open_array(url, mode="r+", **kw)
    # across all four shards and parts of inner chunks
    a[5:10, 7:13] = np.arange(30, dtype="<i4").reshape(5, 6) + 1000
    expected[5:10, 7:13] = np.arange(30, dtype="<i4").reshape(5, 6) + 1000
    # one whole inner chunk back to the fill value: it leaves the shard
    a[0:4, 0:5] = -9
    expected[0:4, 0:5] = -9
    # the bottom-right shard's untouched inner chunk row 12 (edge chunk of an edge shard)
    a[12, 15:17] = [55, 66]
    expected[12, 15:17] = [55, 66]
    np.testing.assert_array_equal(ts_open(moto, bucket, "ts.zarr", "sharded").read().result(), expected)
    np.testing.assert_array_equal(a[...], expected)


def test_tensorstore_partial_writes_into_a_zarrsync_sharded_array(moto, bucket):
    data, expected = model("<f4", np.nan)
    zs_create(moto, bucket, "zs.zarr", "sharded", "<f4", np.nan)[REGION] = data
    b = ts_open(moto, bucket, "zs.zarr", "sharded")
    b[6:9, 8:12].write(np.full((3, 4), 3.25, "<f4")).result()
    expected[6:9, 8:12] = 3.25
    url, kw = zs_url(moto, bucket, "zs.zarr")
    np.testing.assert_array_equal(zarrsync.open_array(url, mode="r", **kw)[...], expected)
