"""moto's S3 server on loopback, for the tests that talk S3 (tests/ and tests_zarr/).

:func:`start` runs moto's server (:class:`SerialMotoServer`) on a free port of 127.0.0.1 (never
reachable from elsewhere) and returns once it answers; the :class:`MotoS3` it returns gives the endpoint, the
options each client library needs to reach it, a boto3 client to look at the bucket independently
of the code under test, and fresh buckets. Import it after the test module's ``require`` of its
client (``"obstore"`` or ``"s3fs"``, tests/oracles.py): moto and boto3 come with the same extra.
:func:`logged_requests` reads back which requests the server answered.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid

import boto3
import botocore.exceptions
import pytest
from moto.server import DomainDispatcherApplication, ThreadedMotoServer, create_backend_app
from werkzeug.serving import make_server

HOST = "127.0.0.1"
REGION = "us-east-1"
#: moto accepts any credentials; every client signs with these
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
#: a request in werkzeug's log line (it colours some of them with ANSI escapes)
_REQUEST_LINE = re.compile(r'"(?:\x1b\[[0-9;]*m)*([A-Z]+) (\S+) HTTP/[0-9.]+(?:\x1b\[[0-9;]*m)*" (\d+)')


def _free_port() -> int:
    """A loopback port free now (the OS picks it; the server binds it right after)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _wait_until_answering(client, seconds: float = 10.0) -> None:
    """Return once the server answers an S3 request (ListBuckets)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.list_buckets()
            return
        except botocore.exceptions.EndpointConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def logged_requests(caplog, done, seconds: float = 5.0) -> list[tuple[str, str, str]]:
    """(method, path, status) of each request the server (werkzeug) logged, once ``done`` of them
    holds (or ``seconds`` passed): the server logs a request after answering it, so its log lags.
    The test sets ``caplog.set_level(logging.INFO, logger="werkzeug")`` first."""
    deadline = time.monotonic() + seconds
    while True:
        found = (_REQUEST_LINE.search(r.getMessage()) for r in list(caplog.records) if r.name == "werkzeug")
        requests = [m.groups() for m in found if m]
        if done(requests) or time.monotonic() > deadline:
            return requests
        time.sleep(0.01)


class MotoS3:
    """A running moto S3 server: where it is, how each client reaches it, and fresh buckets."""

    def __init__(self, server: SerialMotoServer, port: int) -> None:
        self._server = server
        self.endpoint = f"http://{HOST}:{port}"
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                                   aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY)

    @property
    def obstore_options(self) -> dict:
        """Keyword arguments of ``obstore.store.S3Store`` (and zarrsync's ``storage_options`` for
        an ``s3://`` URL) that reach this server."""
        return {"endpoint": self.endpoint, "region": REGION, "access_key_id": ACCESS_KEY_ID,
                "secret_access_key": SECRET_ACCESS_KEY, "client_options": {"allow_http": True}}

    @property
    def s3fs_options(self) -> dict:
        """``storage_options`` of an fsspec ``s3://`` filesystem (s3fs) that reach this server."""
        return {"endpoint_url": self.endpoint, "key": ACCESS_KEY_ID, "secret": SECRET_ACCESS_KEY,
                "client_kwargs": {"region_name": REGION}}

    def new_bucket(self) -> str:
        """Create a bucket of a name never used before and return the name."""
        name = f"zarrsync-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> set[str]:
        """Every object in ``bucket`` as the server lists it (up to one page, 1000 keys)."""
        return {o["Key"] for o in self.client.list_objects_v2(Bucket=bucket).get("Contents", [])}

    def stop(self) -> None:
        self._server.stop()


class SerialMotoServer(ThreadedMotoServer):
    """moto's threaded server, but each request's work runs under one lock. moto's S3 backend
    checks a conditional put's precondition (``If-Match``, ``If-None-Match``) and then stores the
    object, with no lock between: two concurrent conditional puts of one key could both succeed,
    where S3 lets one win. Serialising the backend calls gives S3's atomicity (moto is Python:
    its requests never ran in parallel anyway)."""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def serial(environ, start_response):
            with lock:  # the whole response is made inside: the backend work is done by then
                return list(app(environ, start_response))

        self._server = make_server(self._ip_address, self._port, serial, True)
        self._server_ready_event.set()
        self._server.serve_forever()


def start() -> MotoS3:
    """Start moto's S3 server on a free loopback port; return it once it answers."""
    port = _free_port()
    server = SerialMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    try:
        moto = MotoS3(server, port)
        _wait_until_answering(moto.client)
    except BaseException:
        server.stop()
        raise
    return moto


@pytest.fixture(scope="module")
def moto():
    """moto's S3 server on a free loopback port, for one test module (a module imports this
    fixture by name: ``from s3server import moto``)."""
    server = start()
    try:
        yield server
    finally:
        server.stop()
