"""Interop with the real zarr-python 3 (``zarr>=3.4``) over S3 (moto's server on loopback), both
directions, through both of each library's S3 clients.

zarr-python reaches the bucket through ``zarr.storage.ObjectStore`` over ``obstore.store.S3Store``
and through ``zarr.storage.FsspecStore`` over s3fs; zarrsync through its ``s3://`` URL (obstore)
and through its own ``FsspecStore`` over s3fs. Each case is written by one library and read by the
other: a v3 array with zstd, a v3 sharded array, a v2 array with a compressor, and groups with
attributes and consolidated metadata (v3 and v2). Expected values come from numpy, never from
either library; the objects on the server are looked at through an independent boto3 client.

Run with the zarr-python leg (see ``.ci/run``)::

    python -m pytest -q tests_zarr/test_s3_zarr_python.py
"""

from __future__ import annotations

import numcodecs
import numpy as np
import pytest
import s3fs  # noqa: F401  (zarr's and zarrsync's FsspecStore need it for s3://; missing it is an error)
import zarr  # zarr-python >= 3.4: missing it is an error, not a skip
from obstore.store import S3Store

import s3server  # in tests/, put on sys.path by conftest.py
from s3server import moto  # noqa: F401 - the fixture
import zarrsync
from zarrsync.storage import FsspecStore, store_from

pytestmark = [
    pytest.mark.zarr_python,
    # zarr-python warns that consolidated metadata is not yet part of the v3 spec
    pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning"),
]

SHAPE, CHUNKS, SHARDS = (11, 14), (4, 5), (8, 10)  # edge chunks and edge shards on both axes
REGION = np.s_[1:10, 3:14]  # what each writer fills; the rest keeps the fill value
CLIENTS = ["obstore", "fsspec"]
LAYOUTS = ["plain", "sharded", "v2"]


@pytest.fixture
def bucket(moto) -> str:
    return moto.new_bucket()


def zarr_store(moto, bucket: str, path: str, client: str, read_only: bool = False):
    """zarr-python's store for ``s3://bucket/path`` through ``client``."""
    if client == "obstore":
        return zarr.storage.ObjectStore(S3Store(bucket, prefix=path, **moto.obstore_options), read_only=read_only)
    return zarr.storage.FsspecStore.from_url(f"s3://{bucket}/{path}", storage_options=moto.s3fs_options,
                                             read_only=read_only)


def zs_store(moto, bucket: str, path: str, client: str, mode: str = "a"):
    """zarrsync's store for ``s3://bucket/path`` through ``client``."""
    url = f"s3://{bucket}/{path}"
    if client == "obstore":
        return store_from(url, mode=mode, storage_options=moto.obstore_options)
    return FsspecStore.from_url(url, storage_options=moto.s3fs_options, read_only=mode == "r")


def model(dtype: str, fill) -> tuple[np.ndarray, np.ndarray]:
    """(the values a writer puts in REGION, the whole array a reader must then see)."""
    full = np.full(SHAPE, fill, dtype)
    region = full[REGION]
    data = (np.arange(region.size) * 13 % 241 - 120).astype(dtype).reshape(region.shape)
    full[REGION] = data
    return data, full


def expected_keys(layout: str) -> set[str]:
    """The objects a writer of REGION leaves: the metadata and the chunks (or shards) REGION touches."""
    grid = SHARDS if layout == "sharded" else CHUNKS
    touched = [range(r.start // g, (r.stop - 1) // g + 1) for r, g in zip(REGION, grid)]
    if layout == "v2":
        return {".zarray", ".zattrs"} | {f"{i}.{j}" for i in touched[0] for j in touched[1]}
    return {"zarr.json"} | {f"c/{i}/{j}" for i in touched[0] for j in touched[1]}


def stored(moto, bucket: str, path: str) -> set[str]:
    return {k[len(path) + 1:] for k in moto.keys(bucket) if k.startswith(path + "/")}


ATTRS = {"title": "over s3", "scale": [1.5, 2], "nested": {"ok": True}}


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype, fill", [("<i4", -3), ("<f8", np.nan)])
def test_zarrsync_writes_zarr_python_reads(moto, bucket, client, layout, dtype, fill):
    data, expected = model(dtype, fill)
    kw = {"v2": dict(zarr_format=2, compressors={"id": "gzip", "level": 4}),
          "sharded": dict(shards=SHARDS, compressors=[{"name": "zstd", "configuration": {"level": 2}}]),
          "plain": dict(compressors=[{"name": "zstd", "configuration": {"level": 2, "checksum": True}}])}[layout]
    a = zarrsync.create_array(zs_store(moto, bucket, "zs.zarr", client), shape=SHAPE, chunks=CHUNKS, dtype=dtype,
                              fill_value=fill, attributes=ATTRS, **kw)
    a[REGION] = data
    assert stored(moto, bucket, "zs.zarr") == expected_keys(layout)
    z = zarr.open_array(zarr_store(moto, bucket, "zs.zarr", client, read_only=True), mode="r")
    assert z.metadata.zarr_format == (2 if layout == "v2" else 3)
    assert z.shape == SHAPE and z.chunks == CHUNKS and np.dtype(z.dtype) == np.dtype(dtype)
    assert z.shards == (SHARDS if layout == "sharded" else None)
    assert z.attrs.asdict() == ATTRS
    np.testing.assert_array_equal(z[...], expected)
    np.testing.assert_array_equal(z[2:9, 4:12], expected[2:9, 4:12])


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype, fill", [("<u2", 9), ("<f4", -0.25)])
def test_zarr_python_writes_zarrsync_reads(moto, bucket, client, layout, dtype, fill):
    data, expected = model(dtype, fill)
    kw = {"v2": dict(zarr_format=2, compressors=numcodecs.Zstd(level=3)),
          "sharded": dict(shards=SHARDS, compressors=zarr.codecs.ZstdCodec(level=2)),
          "plain": dict(compressors=zarr.codecs.ZstdCodec(level=2, checksum=True))}[layout]
    z = zarr.create_array(zarr_store(moto, bucket, "zp.zarr", client), shape=SHAPE, chunks=CHUNKS, dtype=dtype,
                          fill_value=fill, attributes=ATTRS, **kw)
    z[REGION] = data
    assert stored(moto, bucket, "zp.zarr") == expected_keys(layout)
    a = zarrsync.open_array(zs_store(moto, bucket, "zp.zarr", client, mode="r"), mode="r")
    assert a.zarr_format == (2 if layout == "v2" else 3)
    assert a.shape == SHAPE and a.chunks == CHUNKS and a.dtype == np.dtype(dtype)
    assert dict(a.attrs) == ATTRS
    np.testing.assert_array_equal(a[...], expected)
    np.testing.assert_array_equal(a[2:9, 4:12], expected[2:9, 4:12])


def test_partial_writes_alternate_on_one_sharded_array(moto, bucket):
    """zarr-python and zarrsync take turns writing parts of the same shards; each sees the other's."""
    expected = np.full(SHAPE, -1, "<i2")
    z = zarr.create_array(zarr_store(moto, bucket, "mix.zarr", "obstore"), shape=SHAPE, chunks=CHUNKS,
                          shards=SHARDS, dtype="<i2", fill_value=-1)
    a = zarrsync.open_array(zs_store(moto, bucket, "mix.zarr", "obstore"), mode="r+")
    for turn, region in enumerate([np.s_[0:6, 0:12], np.s_[3:11, 6:14], np.s_[5:9, 2:8], np.s_[10, :]]):
        values = (np.arange(expected[region].size) + 100 * turn).astype("<i2").reshape(expected[region].shape)
        writer = a if turn % 2 else z
        writer[region] = values
        expected[region] = values
        np.testing.assert_array_equal(a[...], expected)
        np.testing.assert_array_equal(z[...], expected)
    assert stored(moto, bucket, "mix.zarr") == {"zarr.json", "c/0/0", "c/0/1", "c/1/0", "c/1/1"}


# --- groups with consolidated metadata --------------------------------------------------------------

A_DATA = np.arange(12, dtype="<i2").reshape(3, 4)
B_DATA = np.linspace(0, 1, 6, dtype="<f4")


def hidden_subgroup(moto, bucket: str, zarr_format: int) -> None:
    """Delete the subgroup's own metadata object: only the consolidated document still names
    ``sub`` and ``sub/b``, so a reader that lists them used it."""
    doc = "zarr.json" if zarr_format == 3 else ".zgroup"
    moto.client.delete_object(Bucket=bucket, Key=f"g.zarr/sub/{doc}")
    assert f"g.zarr/sub/{doc}" not in moto.keys(bucket)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("zarr_format", [3, 2])
def test_zarrsync_consolidated_group_read_by_zarr_python(moto, bucket, client, zarr_format):
    g = zarrsync.open_group(zs_store(moto, bucket, "g.zarr", client), mode="w", zarr_format=zarr_format,
                            attributes={"kind": "root"})
    g.create_array("a", shape=A_DATA.shape, chunks=(2, 2), dtype="<i2", attributes={"units": "m"})[...] = A_DATA
    sub = g.create_group("sub", attributes={"kind": "sub"})
    sub.create_array("b", shape=B_DATA.shape, chunks=(4,), dtype="<f4", fill_value=-1)[...] = B_DATA
    zarrsync.consolidate_metadata(zs_store(moto, bucket, "g.zarr", client))
    hidden_subgroup(moto, bucket, zarr_format)

    zg = zarr.open_consolidated(zarr_store(moto, bucket, "g.zarr", client, read_only=True), mode="r",
                                zarr_format=zarr_format)
    assert zg.metadata.zarr_format == zarr_format and zg.attrs.asdict() == {"kind": "root"}
    members = dict(zg.members(max_depth=None))
    assert sorted(members) == ["a", "sub", "sub/b"]
    assert members["sub"].attrs.asdict() == {"kind": "sub"}
    assert members["sub/b"].shape == B_DATA.shape and members["sub/b"].fill_value == -1
    assert members["a"].attrs.asdict() == {"units": "m"}
    np.testing.assert_array_equal(members["a"][...], A_DATA)
    np.testing.assert_array_equal(members["sub/b"][...], B_DATA)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("zarr_format", [3, 2])
def test_zarr_python_consolidated_group_read_by_zarrsync(moto, bucket, client, zarr_format):
    zg = zarr.open_group(zarr_store(moto, bucket, "g.zarr", client), mode="w", zarr_format=zarr_format,
                         attributes={"kind": "root"})
    zg.create_array("a", shape=A_DATA.shape, chunks=(2, 2), dtype="<i2", attributes={"units": "m"})[...] = A_DATA
    zsub = zg.create_group("sub", attributes={"kind": "sub"})
    zsub.create_array("b", shape=B_DATA.shape, chunks=(4,), dtype="<f4", fill_value=-1)[...] = B_DATA
    zarr.consolidate_metadata(zarr_store(moto, bucket, "g.zarr", client))
    hidden_subgroup(moto, bucket, zarr_format)

    g = zarrsync.open_consolidated(zs_store(moto, bucket, "g.zarr", client, mode="r"))
    assert g.zarr_format == zarr_format and dict(g.attrs) == {"kind": "root"}
    members = dict(g.members(max_depth=None))
    assert sorted(members) == ["a", "sub", "sub/b"]
    assert dict(members["sub"].attrs) == {"kind": "sub"}
    assert members["sub/b"].shape == B_DATA.shape and members["sub/b"].fill_value == -1
    assert dict(members["a"].attrs) == {"units": "m"}
    np.testing.assert_array_equal(members["a"][...], A_DATA)
    np.testing.assert_array_equal(members["sub/b"][...], B_DATA)
