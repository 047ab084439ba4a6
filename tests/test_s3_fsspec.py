"""Tests of zarrsync.storage.fsspec_store.FsspecStore over S3 through s3fs, against a real S3 server
on loopback (moto's server, one per module; each test gets its own bucket): the StoreTests
contract, arrays (plain, sharded, v2) and groups with consolidated metadata through zarrsync, and
what the store asks of S3 through s3fs (HEAD for exists/getsize, If-None-Match for
set_if_not_exists). The ObjectStore twin of this module is tests/test_s3_moto.py.

An ``s3://`` URL goes to ObjectStore wherever obstore is installed, so every store here is made
as an FsspecStore explicitly.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from oracles import require

s3fs = require("s3fs")

import s3server  # noqa: E402  (tests/s3server.py: moto's server on loopback)
from s3server import moto  # noqa: E402,F401 - the fixture
import zarrsync  # noqa: E402
from zarrsync.errors import UnguardedWriteWarning  # noqa: E402
from zarrsync.storage.base import RangeRequest, SuffixRequest  # noqa: E402
from zarrsync.storage.fsspec_store import FsspecStore  # noqa: E402
from zarrsync.testing import StoreTests  # noqa: E402

VALUE = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable
ROOT = "root"  # every store's keys live below this prefix of its bucket

#: s3fs caches in two places, and the Store contract wants neither here. fsspec hands out one
#: filesystem instance per set of options (``skip_instance_cache=True``: each store gets its own,
#: so a test's store shares no state with another test's). s3fs remembers directory listings and
#: answers ``info`` (exists, getsize) and later listings from them (``use_listings_cache=False``):
#: a key another client wrote or deleted must be seen at once, as ObjectStore sees it.
NO_CACHES = {"skip_instance_cache": True, "use_listings_cache": False}


def storage_options(moto) -> dict:
    """``storage_options`` of an ``s3://`` URL that reach the server, without s3fs's caches."""
    return {**moto.s3fs_options, **NO_CACHES}


def fsspec_store(moto, bucket: str, *, read_only: bool = False) -> FsspecStore:
    """An FsspecStore on ``s3://bucket/root`` over a filesystem of its own (a client of its own)."""
    return FsspecStore(s3fs.S3FileSystem(**storage_options(moto)), f"{bucket}/{ROOT}", read_only=read_only)


@pytest.fixture
def bucket(moto) -> str:
    """A fresh, empty bucket."""
    return moto.new_bucket()


@pytest.fixture
def store(moto, bucket) -> FsspecStore:
    return fsspec_store(moto, bucket)


def stored_keys(moto, bucket: str) -> set[str]:
    """The keys below ROOT as the server lists them (through boto3, not s3fs)."""
    return {k[len(ROOT) + 1:] for k in moto.keys(bucket) if k.startswith(ROOT + "/")}


class TestFsspecStoreOverS3(StoreTests):
    store_cls = FsspecStore
    # snapshot_keeps_old_version stays True: FsspecStore's snapshot is one GET of the whole value
    # (Store's default), which a later replacement cannot change
    threads = 4  # every call is an HTTP request to one local server: keep the module fast

    @pytest.fixture(autouse=True)
    def _s3_bucket(self, moto, bucket):
        self.moto, self.bucket = moto, bucket

    def make_store(self, tmp_path):
        return fsspec_store(self.moto, self.bucket)


def test_the_store_is_latency_bound_without_conditional_writes(store, bucket):
    # what decides that partial writes warn (see the tests below)
    assert store.latency_bound and not store.supports_conditional_writes
    assert (store.protocol, store.root) == ("s3", f"{bucket}/{ROOT}")


# --- arrays through zarrsync ------------------------------------------------------------------------

SHAPE = (10, 12)
#: layout name: (create_array's keywords, keys the whole array's chunks or shards include)
LAYOUTS = {
    "plain": ({"chunks": (4, 5)}, {"zarr.json", "c/0/0", "c/2/2"}),  # 3 x 3 chunks, edges on both axes
    "sharded": ({"chunks": (3, 5), "shards": (6, 10)}, {"zarr.json", "c/0/0", "c/1/1"}),  # 2 x 2 shards
    "v2": ({"chunks": (4, 5), "zarr_format": 2}, {".zarray", "0.0", "2.2"}),
}


def values() -> np.ndarray:
    """What each array here is written with: values of both signs, varying along both axes."""
    return (np.arange(np.prod(SHAPE)) * 7 % 113 - 50).astype("i4").reshape(SHAPE)


def whole_array(store, layout: str):
    """An array named ``a`` of ``layout`` in ``store``, written whole (every chunk complete), which
    must not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnguardedWriteWarning)
        a = zarrsync.create_array(store, name="a", shape=SHAPE, dtype="i4", fill_value=-1, **LAYOUTS[layout][0])
        a[...] = values()
    return a


@pytest.mark.parametrize("layout", LAYOUTS)
def test_array_written_whole_reads_back_through_another_client(store, moto, bucket, layout):
    whole_array(store, layout)
    assert {f"a/{k}" for k in LAYOUTS[layout][1]} <= stored_keys(moto, bucket)
    reader = FsspecStore.from_url(f"s3://{bucket}/{ROOT}", storage_options=storage_options(moto), read_only=True)
    assert reader.fs is not store.fs  # no shared instance: a second client
    b = zarrsync.open_array(reader, path="a", mode="r")
    data = values()
    np.testing.assert_array_equal(b[...], data)
    np.testing.assert_array_equal(b[3:7, 4:11], data[3:7, 4:11])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_partial_write_warns_and_lands(store, moto, bucket, layout):
    a, data = whole_array(store, layout), values()
    region = np.s_[4:8, 2:9]  # part of chunks on both axes (and, sharded, of all four shards)
    with pytest.warns(UnguardedWriteWarning, match="no conditional writes"):
        a[region] = -data[region]
    data[region] *= -1
    reread = zarrsync.open_array(fsspec_store(moto, bucket, read_only=True), path="a", mode="r")
    np.testing.assert_array_equal(reread[...], data)
    np.testing.assert_array_equal(reread[5:7, 8:9], data[5:7, 8:9])


# --- groups, consolidated metadata, listing and deleting --------------------------------------------

#: zarr_format: every key of a group g (and its parent) holding an array x, written whole, and a
#: group sub with an array z of fill values only (no chunks), after consolidating g
GROUP_KEYS = {
    3: {"zarr.json", "g/zarr.json", "g/x/zarr.json", "g/x/c/0", "g/x/c/1", "g/sub/zarr.json", "g/sub/z/zarr.json"},
    2: {".zgroup", "g/.zgroup", "g/.zattrs", "g/.zmetadata", "g/x/.zarray", "g/x/0", "g/x/1", "g/sub/.zgroup",
        "g/sub/z/.zarray"},
}


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_groups_consolidated_listed_and_deleted(store, moto, bucket, zarr_format):
    g = zarrsync.open_group(store, path="g", mode="w", attributes={"kind": "test"}, zarr_format=zarr_format)
    g.create_array("x", shape=(4,), chunks=(2,), dtype="i2")[...] = np.arange(4, dtype="i2")
    g.create_group("sub").create_array("z", shape=(3, 3), chunks=(3, 3), dtype="f4", fill_value=0.5)
    zarrsync.consolidate_metadata(store, path="g")
    keys = GROUP_KEYS[zarr_format]
    assert stored_keys(moto, bucket) == keys

    reopened = zarrsync.open_consolidated(fsspec_store(moto, bucket), path="g")
    assert reopened.store.read_only and reopened.attrs["kind"] == "test"
    assert [name for name, _ in reopened.members(max_depth=None)] == ["sub", "sub/z", "x"]
    np.testing.assert_array_equal(reopened["x"][...], np.arange(4, dtype="i2"))
    np.testing.assert_array_equal(reopened["sub/z"][...], np.full((3, 3), 0.5, "f4"))

    assert sorted(store.list_dir("g/")) == sorted({k.split("/")[1] for k in keys if k.startswith("g/")})
    in_x = {k for k in keys if k.startswith("g/x/")}
    assert sorted(store.list_prefix("g/x/")) == sorted(in_x)
    store.delete_prefix("g/x/")
    assert stored_keys(moto, bucket) == keys - in_x
    listed = zarrsync.open_group(fsspec_store(moto, bucket), path="g", mode="r", use_consolidated=False)
    assert [name for name, _ in listed.members()] == ["sub"]


def test_changes_by_another_client_are_seen_at_once(store, moto, bucket):
    # s3fs's listings cache would keep answering from the first listing (see NO_CACHES)
    store.set("a/old", b"old")
    assert list(store.list_dir("a/")) == ["old"] and store.exists("a/old")
    moto.client.put_object(Bucket=bucket, Key=f"{ROOT}/a/new", Body=b"new")
    moto.client.delete_object(Bucket=bucket, Key=f"{ROOT}/a/old")
    assert list(store.list_dir("a/")) == ["new"]
    assert (store.exists("a/old"), store.getsize("a/new"), store.get("a/new")) == (False, 3, b"new")


# --- what the store asks of S3 ----------------------------------------------------------------------

def test_exists_and_getsize_read_only_metadata(store, bucket, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    store.set("big", VALUE * 64)
    answers = [store.exists("big"), store.getsize("big"), store.exists("nope"), store.getsize("nope")]
    assert answers == [True, 64 * len(VALUE), False, None]
    big, nope = f"/{bucket}/{ROOT}/big", f"/{bucket}/{ROOT}/nope"
    # (s3fs also lists the prefix "nope/" to tell a missing key from a directory: no object read)
    requests = s3server.logged_requests(caplog, lambda r: sum(method == "HEAD" for method, _, _ in r) >= 4)
    assert sorted((method, path) for method, path, _ in requests if path in (big, nope)) == [
        ("HEAD", big), ("HEAD", big), ("HEAD", nope), ("HEAD", nope), ("PUT", big)]


def test_set_if_not_exists_loses_to_a_writer_after_its_check(moto, bucket):
    """The create is conditional on S3 itself (If-None-Match: *): a value another client stores
    between the store's existence check and its write wins, and the store says it did not write."""
    store = fsspec_store(moto, bucket)
    store.fs.connect()  # makes the filesystem's botocore client, whose events the other writer hooks

    def other_client_writes_first(params, **kwargs):
        assert params["IfNoneMatch"] == "*"
        moto.client.put_object(Bucket=bucket, Key=params["Key"], Body=b"other")

    store.fs.s3.meta.events.register("before-parameter-build.s3.PutObject", other_client_writes_first)
    assert store.set_if_not_exists("zarr.json", b"mine") is False
    assert moto.client.get_object(Bucket=bucket, Key=f"{ROOT}/zarr.json")["Body"].read() == b"other"


def test_snapshot_keeps_its_version_when_another_client_overwrites(store, moto, bucket):
    store.set("shard", VALUE)
    with store.snapshot("shard") as snap:
        moto.client.put_object(Bucket=bucket, Key=f"{ROOT}/shard", Body=VALUE[::-1])
        assert snap.read([RangeRequest(10, 20), SuffixRequest(16)]) == [VALUE[10:20], VALUE[-16:]]
    with store.snapshot("shard") as snap:
        assert snap.read([RangeRequest(10, 20)]) == [VALUE[::-1][10:20]]
