"""Read-only Zarr over HTTP: a threaded static file server on 127.0.0.1 (a free port, started and
stopped here) serving a directory that zarrsync wrote, read back through an ``http://`` URL
(``ObjectStore`` over obstore's HTTPStore). The server answers ``Range`` requests and sends an
``ETag``, as web servers and object stores do; every request is logged."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import re
import threading

import numpy as np
import pytest

import zarrsync
from oracles import require

require("obstore")

OPTIONS = {"client_options": {"allow_http": True}}  # plain http on loopback


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with byte ranges (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``), an ETag of
    each file's contents and ``If-Match`` (412 when it names another ETag); appends ``(method, path, range, if_match)`` to the server's ``requests``."""

    def log_message(self, *args):
        pass

    def send_head(self):
        request = (self.command, self.path, self.headers.get("Range"), self.headers.get("If-Match"))
        self.server.requests.append(request)
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            return super().send_head()
        with open(path, "rb") as f:
            data = f.read()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        self.server.before_answering(request)  # the answer is this version, whatever happens now
        if self.headers.get("If-Match") not in (None, etag):
            self.send_error(412)
            return None
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range") or "")
        if match is None:
            start, end, status = 0, len(data), 200
        else:
            first, last = match.groups()
            start = max(0, len(data) - int(last)) if first == "" else int(first)
            end = len(data) if first == "" or last == "" else min(len(data), int(last) + 1)
            status = 206
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.send_header("Content-Length", str(end - start))
        self.send_header("ETag", etag)
        self.end_headers()
        return io.BytesIO(data[start:end])


@pytest.fixture
def served(tmp_path):
    """A group with a plain and a sharded array, consolidated, served over HTTP: (url, server)."""
    g = zarrsync.create_group(str(tmp_path / "g.zarr"))
    g.create_array("x", shape=(20, 20), chunks=(5, 5), dtype="i4", fill_value=0)[...] = np.arange(400).reshape(20, 20)
    s = g.create_array("s", shape=(16, 16), chunks=(4, 4), shards=(8, 8), dtype="i4", fill_value=-1)
    s[...] = np.arange(256).reshape(16, 16)
    zarrsync.consolidate_metadata(str(tmp_path / "g.zarr"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(tmp_path)))
    server.requests = []
    server.before_answering = lambda request: None  # a test may act between a request and its answer
    server.root = tmp_path
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/g.zarr", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_consolidated_group_opens_and_reads_without_listing(served):
    url, server = served
    g = zarrsync.open_consolidated(url, mode="r", storage_options=OPTIONS)
    assert type(g.store).__name__ == "ObjectStore" and g.store.read_only
    assert sorted(name for name, _ in g.members()) == ["s", "x"]
    np.testing.assert_array_equal(g["x"][3:17, 2:9], np.arange(400).reshape(20, 20)[3:17, 2:9])
    np.testing.assert_array_equal(g["s"][...], np.arange(256).reshape(16, 16))
    # every request named a file: nothing asked the server for a listing
    assert server.requests and all(path.rsplit("/", 1)[-1] for _, path, _, _ in server.requests)


def test_one_element_of_a_sharded_array_reads_two_ranges_of_one_version(served):
    url, server = served
    a = zarrsync.open_array(url, path="s", mode="r", storage_options=OPTIONS)
    server.requests.clear()
    assert a[5, 6] == 5 * 16 + 6
    shard = "/g.zarr/s/c/0/0"
    # the index (the shard's last bytes), whose answer carries the shard's size and ETag, then
    # one inner chunk, a ranged GET checked against that ETag: two requests, never the whole shard
    assert [(m, p) for m, p, _, _ in server.requests] == [("GET", shard), ("GET", shard)]
    (index_range, index_tag), (chunk_range, chunk_tag) = [(r, tag) for _, _, r, tag in server.requests]
    with open(server.root / "g.zarr/s/c/0/0", "rb") as f:
        etag = '"' + hashlib.sha256(f.read()).hexdigest()[:16] + '"'
    assert index_range.startswith("bytes=-") and index_tag is None
    assert re.fullmatch(r"bytes=\d+-\d+", chunk_range) and chunk_tag == etag


def test_a_shard_replaced_between_its_index_and_its_chunks_is_read_again(served):
    url, server = served
    a = zarrsync.open_array(url, path="s", mode="r", storage_options=OPTIONS)
    writer = zarrsync.open_array(str(server.root / "g.zarr"), path="s", mode="r+")
    new = np.arange(256).reshape(16, 16) + 1000
    replaced = []

    def replace_after_the_index(request):
        if request[0] == "GET" and request[1].endswith("/s/c/0/0") and not replaced:
            replaced.append(request)
            writer[...] = new  # the index answered is the old one; its chunk's GET will not match

    server.before_answering = replace_after_the_index
    server.requests.clear()
    assert a[5, 6] == new[5, 6]  # never the old index with the new chunk's bytes, or the reverse
    shard_requests = [(m, tag) for m, p, _, tag in server.requests if p.endswith("/s/c/0/0")]
    # the old version's index, a conditional GET refused (412), then the new index and its chunk
    assert [tag is None for _, tag in shard_requests] == [True, False, True, False]


def test_writes_are_refused(served):
    url, _ = served
    a = zarrsync.open_array(url, path="x", mode="r", storage_options=OPTIONS)
    with pytest.raises(zarrsync.errors.ReadOnlyError):
        a[0, 0] = 1
