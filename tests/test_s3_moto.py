"""Tests of zarrsync.storage.object_store.ObjectStore over a real S3 server on loopback (moto's
server, one per module; each test gets its own bucket): the StoreTests contract, arrays and groups
through zarrsync, and the S3 features the store relies on (HEAD for exists/getsize, If-None-Match
for set_if_not_exists, If-Match for snapshot reads)."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from oracles import require

obstore = require("obstore")

from obstore.store import S3Store  # noqa: E402

import s3server  # noqa: E402  (tests/s3server.py: moto's server on loopback)
from s3server import moto  # noqa: E402,F401 - the fixture
import zarrsync  # noqa: E402
from zarrsync.errors import VersionChangedError  # noqa: E402
from zarrsync.storage import store_from  # noqa: E402
from zarrsync.storage.base import RangeRequest, SuffixRequest  # noqa: E402
from zarrsync.storage.object_store import ObjectStore  # noqa: E402
from zarrsync.testing import StoreTests, run_threads  # noqa: E402

VALUE = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable


@pytest.fixture(scope="module")
def s3(moto):
    """(obstore options reaching the server, a boto3 client)."""
    return moto.obstore_options, moto.client


@pytest.fixture
def bucket(moto) -> str:
    """A fresh, empty bucket."""
    return moto.new_bucket()


@pytest.fixture
def store(s3, bucket) -> ObjectStore:
    """An ObjectStore over an obstore S3Store on a fresh bucket."""
    return ObjectStore(S3Store(bucket, **s3[0]))


def _keys(client, bucket: str) -> set[str]:
    """Every object in ``bucket``, as the server lists it (one page is enough here)."""
    return {o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}


class TestObjectStoreOverS3(StoreTests):
    store_cls = ObjectStore
    snapshot_keeps_old_version = False  # an If-Match read of a replaced object fails (412)
    threads = 4  # every call is an HTTP request to one local server: keep the module fast

    @pytest.fixture(autouse=True)
    def _s3_bucket(self, s3, bucket):
        self.options, self.bucket = s3[0], bucket

    def make_store(self, tmp_path):
        return ObjectStore(S3Store(self.bucket, **self.options))


# --- arrays and groups through zarrsync -------------------------------------------------------------

def test_plain_array(store, s3, bucket):
    data = np.arange(120, dtype="i4").reshape(10, 12)
    zarrsync.create_array(store, name="plain", shape=(10, 12), chunks=(4, 5), dtype="i4", fill_value=0)[...] = data
    b = zarrsync.open_array(store, path="plain", mode="r")
    np.testing.assert_array_equal(b[...], data)
    np.testing.assert_array_equal(b[3:7, 4:11], data[3:7, 4:11])
    assert {"plain/zarr.json", "plain/c/0/0", "plain/c/2/2"} <= _keys(s3[1], bucket)


def test_sharded_array_partial_read_and_write(store, s3, bucket):
    data = np.arange(240, dtype="f8").reshape(12, 20)
    a = zarrsync.create_array(store, shape=(12, 20), chunks=(3, 5), shards=(6, 10), dtype="f8", fill_value=-1)
    a[...] = data
    assert sorted(k for k in _keys(s3[1], bucket) if k.startswith("c/")) == [
        f"c/{i}/{j}" for i in range(2) for j in range(2)]
    np.testing.assert_array_equal(a[1:5, 2:14], data[1:5, 2:14])
    a[4:8, 7:13] = -data[4:8, 7:13]  # touches inner chunks of all four shards
    data[4:8, 7:13] *= -1
    np.testing.assert_array_equal(zarrsync.open_array(store, mode="r")[...], data)
    np.testing.assert_array_equal(a[5:7, 8:9], data[5:7, 8:9])


def test_v2_array(store, s3, bucket):
    data = np.arange(30, dtype="<u2").reshape(5, 6)
    zarrsync.create_array(store, name="v2", shape=(5, 6), chunks=(2, 4), dtype="<u2", zarr_format=2)[...] = data
    assert {"v2/.zarray", "v2/0.0", "v2/2.1"} <= _keys(s3[1], bucket)
    b = zarrsync.open_array(store, path="v2", mode="r")
    np.testing.assert_array_equal(b[1:4, 3:], data[1:4, 3:])


def test_group_consolidate_list_and_delete_through_the_url(s3, bucket):
    url, options = f"s3://{bucket}/prefix", dict(s3[0])
    root = store_from(url, storage_options=options)
    assert isinstance(root, ObjectStore)
    g = zarrsync.create_group(root, attributes={"kind": "test"})
    g.create_array("x", shape=(4,), chunks=(2,), dtype="i2")[...] = np.arange(4, dtype="i2")
    g.create_array("y", shape=(3, 3), chunks=(3, 3), dtype="f4", fill_value=0.5)
    zarrsync.consolidate_metadata(url, storage_options=options)
    assert all(k.startswith("prefix/") for k in _keys(s3[1], bucket))
    reopened = zarrsync.open_consolidated(url, storage_options=options)
    assert reopened.store.read_only and reopened.attrs["kind"] == "test"
    assert [name for name, _ in reopened.members()] == ["x", "y"]
    np.testing.assert_array_equal(reopened["x"][...], np.arange(4, dtype="i2"))
    np.testing.assert_array_equal(reopened["y"][...], np.full((3, 3), 0.5, "f4"))
    assert sorted(root.list_dir("")) == ["x", "y", "zarr.json"]
    assert sorted(root.list_prefix("x/")) == ["x/c/0", "x/c/1", "x/zarr.json"]
    root.delete_prefix("x/")
    assert sorted(k[len("prefix/"):] for k in _keys(s3[1], bucket)) == ["y/zarr.json", "zarr.json"]


# --- what the store asks of S3 ----------------------------------------------------------------------

def test_exists_and_getsize_make_no_get(store, bucket, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    store.set("big", VALUE * 64)
    assert store.exists("big") is True
    assert store.getsize("big") == len(VALUE) * 64
    assert store.exists("nope") is False
    assert store.getsize("nope") is None

    def objects(requests):  # leaves out the bucket's creation, which the log may show late
        return sorted((method, path) for method, path, _ in requests if path.startswith(f"/{bucket}/"))

    expected = sorted([("PUT", f"/{bucket}/big")] + [("HEAD", f"/{bucket}/big")] * 2
                      + [("HEAD", f"/{bucket}/nope")] * 2)  # no GET
    assert objects(s3server.logged_requests(caplog, lambda r: len(objects(r)) >= len(expected))) == expected


def test_a_shard_sized_value_is_one_put(store, bucket, caplog):
    """Not obstore's default multipart upload (create, parts, complete) for anything over 5 MB."""
    caplog.set_level(logging.INFO, logger="werkzeug")
    value = np.random.default_rng(0).integers(0, 256, 12 << 20, dtype=np.uint8).tobytes()  # 12 MiB
    store.set("shard", value)
    assert store.get("shard") == value
    mine = lambda requests: [(m, p) for m, p, _ in requests if p.startswith(f"/{bucket}/shard")]  # noqa: E731
    assert mine(s3server.logged_requests(caplog, lambda r: len(mine(r)) >= 2)) == [
        ("PUT", f"/{bucket}/shard"), ("GET", f"/{bucket}/shard")]


def test_set_if_not_exists_has_one_winner_among_8_threads(store, s3, bucket):
    winners = []

    def race(t: int) -> None:  # run_threads starts them together
        if store.set_if_not_exists("zarr.json", b"thread %d" % t):
            winners.append(t)

    run_threads(8, race)
    assert len(winners) == 1
    body = s3[1].get_object(Bucket=bucket, Key="zarr.json")["Body"].read()
    assert body == b"thread %d" % winners[0]


def test_snapshot_raises_after_another_client_overwrites(store, s3, bucket, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    store.set("shard", VALUE)
    with store.snapshot("shard") as snap:
        assert snap.read([RangeRequest(10, 20), SuffixRequest(16)]) == [VALUE[10:20], VALUE[-16:]]
        s3[1].put_object(Bucket=bucket, Key="shard", Body=VALUE[::-1])  # same size, other bytes
        with pytest.raises(VersionChangedError, match="shard"):
            snap.read([RangeRequest(10, 20)])
    refused = ("GET", f"/{bucket}/shard", "412")  # the If-Match get after boto3's put
    assert refused in s3server.logged_requests(caplog, lambda r: refused in r)
    with store.snapshot("shard") as snap:
        assert snap.read([RangeRequest(10, 20)]) == [VALUE[::-1][10:20]]


def test_sharded_read_racing_a_writer_never_mixes_versions(store, s3, bucket):
    shape = (6, 10)
    a = zarrsync.create_array(store, shape=shape, chunks=(3, 5), shards=shape, dtype="i4", fill_value=0)
    # the versions compress to different sizes: an index of one over the bytes of the other fails
    values = [np.random.default_rng(0).integers(-2**31, 2**31, shape, dtype="i4"), np.full(shape, 7, "i4")]
    shards = []
    for v in values:
        a[...] = v
        shards.append(store.get("c/0/0"))
    writer_store = ObjectStore(S3Store(bucket, **s3[0]))  # a second client rewrites the shard
    done = threading.Event()

    def write() -> None:
        i = 1
        while not done.wait(0.05):  # a pause well above one read (~10 ms), or a read could change
            i = 1 - i               # under it on every one of its tries and give up
            writer_store.set("c/0/0", shards[i])

    writer = threading.Thread(target=write)
    writer.start()
    seen = set()
    try:
        for _ in range(200):
            part = a[1:5, 2:9]  # spans all four inner chunks
            matches = [i for i, v in enumerate(values) if np.array_equal(part, v[1:5, 2:9])]
            assert matches, f"a read mixed versions: {part}"
            seen.update(matches)
    finally:
        done.set()
        writer.join()
    assert seen == {0, 1}  # the reads really ran alongside the rewrites


def test_xarray_datasets_through_an_s3_url(s3, bucket):
    """``engine="zarrsync"`` and ``zarrsync.xarray.to_zarr`` take the URL and storage_options."""
    xr = require("xarray")
    from xarray_common import as_packed, dataset
    from zarrsync.xarray import to_zarr

    url, options = f"s3://{bucket}/d.zarr", dict(s3[0])
    to_zarr(dataset(), url, mode="w", storage_options=options)
    back = xr.open_dataset(url, engine="zarrsync", storage_options=options, chunks=None)
    xr.testing.assert_identical(back.load(), as_packed(dataset()))


def test_copy_store_to_s3_and_back_is_byte_exact(s3, bucket, tmp_path):
    url, options = f"s3://{bucket}/copy", dict(s3[0])
    g = zarrsync.open_group(str(tmp_path / "src.zarr"), mode="w")
    g.create_array("x", shape=(6, 5), chunks=(4, 2), dtype="i4", shards=(4, 4))[...] = np.arange(30).reshape(6, 5)
    g.create_array("v2/y", shape=(3,), chunks=(2,), dtype="f8")[...] = [1.5, 2.5, 3.5]
    local = zarrsync.storage.LocalStore(str(tmp_path / "src.zarr"))
    remote = store_from(url, storage_options=options)
    copied, skipped, nbytes = zarrsync.copy_store(local, remote)
    assert skipped == 0 and copied == len(list(local.list())) and nbytes > 0
    back = zarrsync.storage.LocalStore(str(tmp_path / "back.zarr"))
    zarrsync.copy_store(remote, back, excludes=r"^v2/")
    assert sorted(back.list()) == sorted(k for k in local.list() if not k.startswith("v2/"))
    assert all(back.get(k) == local.get(k) for k in back.list())
