"""Loopback servers for the remote rows of peers.py: a delayed, read-only HTTP file server that
counts requests, and a moto S3 server to write to.

Both listen on 127.0.0.1 only, on a free port, and are context managers:

    with HTTPFileServer("/tmp/zarrsync-bench", delay_s=0.02) as http:
        http.url                     # "http://127.0.0.1:PORT"
        http.counts()                # {"GET ranged": 3, "GET whole": 1, "HEAD": 0}
    with MotoS3() as s3:
        s3.endpoint                  # "http://127.0.0.1:PORT", credentials testing/testing

The HTTP server sleeps `delay_s` (default: env REMOTE_DELAY_MS, else 20 ms) before it answers each
request, in the request's own thread, so concurrent requests wait concurrently, as they would on
a network with that round-trip time. A client in another process reads the counters with
`fetch_counts(url)` (GET /__counts__, neither delayed nor counted).
"""
import email.utils, http.server, json, os, re, threading, urllib.request

DEFAULT_DELAY_MS = 20.0
COUNTS_PATH = "/__counts__"
KINDS = ("GET ranged", "GET whole", "HEAD")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def delay_from_env():
    """The per-request delay in seconds: env REMOTE_DELAY_MS, else 20 ms."""
    return float(os.environ.get("REMOTE_DELAY_MS", DEFAULT_DELAY_MS)) / 1e3


def parse_range(header, total):
    """The (first, last) bytes, inclusive, that a `Range: bytes=...` header asks of `total` bytes;
    None when the header is absent or not one range (then the whole file is sent, as RFC 9110
    lets a server do); "unsatisfiable" when the range starts at or past the end."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None or m.group(0) == "bytes=-":
        return None
    a, b = m.groups()
    if total == 0:
        return "unsatisfiable"
    if a == "":  # suffix: the last n bytes
        n = int(b)
        if n == 0:
            return "unsatisfiable"
        return (max(total - n, 0), total - 1)
    first = int(a)
    last = total - 1 if b == "" else min(int(b), total - 1)
    if b != "" and int(b) < first:
        return None  # a syntactically invalid range is ignored
    if first >= total:
        return "unsatisfiable"
    return (first, last)


class _Counter:
    """Request counts by kind, safe to bump from the server's many handler threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(KINDS, 0)

    def add(self, kind):
        with self._lock:
            self._counts[kind] += 1

    def snapshot(self):
        with self._lock:
            return dict(self._counts)


class _Server(http.server.ThreadingHTTPServer):
    # clients open dozens of connections at once; the default backlog of 5 makes the kernel drop
    # SYNs, and a dropped SYN costs a second's retransmit
    request_queue_size = 256
    daemon_threads = True


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections, as with a real server
    # headers and body go out in two writes: with Nagle's algorithm the body waits for the ACK of
    # the headers, which the client delays (40 ms on Linux) on every reused connection
    disable_nagle_algorithm = True
    server_version = "zarrsync-bench"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._answer(body=False)

    def do_GET(self):
        self._answer(body=True)

    def _answer(self, body):
        srv = self.server
        if self.path == COUNTS_PATH:
            data = json.dumps(srv.counter.snapshot()).encode()
            return self._send(200, {"Content-Type": "application/json"}, data, body)
        ranged = body and _RANGE.match(self.headers.get("Range", "").strip()) is not None
        srv.counter.add(("GET ranged" if ranged else "GET whole") if body else "HEAD")
        if srv.delay_s:
            threading.Event().wait(srv.delay_s)
        path = self._file()
        if path is None:
            return self._send(404, {}, b"", body)
        st = os.stat(path)
        total = st.st_size
        headers = {"Accept-Ranges": "bytes", "ETag": f'"{st.st_mtime_ns:x}-{total:x}"',
                   "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
                   "Content-Type": "application/octet-stream"}
        rng = parse_range(self.headers.get("Range"), total) if body else None
        if rng == "unsatisfiable":
            return self._send(416, {**headers, "Content-Range": f"bytes */{total}"}, b"", body)
        if rng is None:
            status, first, last = 200, 0, total - 1
        else:
            (first, last), status = rng, 206
            headers["Content-Range"] = f"bytes {first}-{last}/{total}"
        with open(path, "rb") as f:
            f.seek(first)
            data = f.read(last - first + 1) if body else b""
        headers["Content-Length"] = str(last - first + 1)
        self._send(status, headers, data, body, length_set=True)

    def _file(self):
        """The served file the request path names, or None: no file there, a directory, or a
        path that leaves the root."""
        rel = urllib.request.url2pathname(self.path.split("?", 1)[0]).lstrip("/")
        root = self.server.root
        path = os.path.realpath(os.path.join(root, rel))
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            return None
        return path

    def _send(self, status, headers, data, body, length_set=False):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if not length_set:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body and data:
            self.wfile.write(data)


class HTTPFileServer:
    """Serves `root` read-only over HTTP on 127.0.0.1 (a free port), `delay_s` late per request.

    GET (whole, or one range: `bytes=a-b`, `bytes=a-`, `bytes=-n`, answered 206 with
    `Content-Range: bytes a-b/total`; 416 past the end) and HEAD; every file answer carries an
    ETag from the file's mtime and size. Anything else is refused by http.server (501).
    """

    def __init__(self, root, delay_s=None):
        self.root = os.path.realpath(root)
        self.delay_s = delay_from_env() if delay_s is None else delay_s
        self._server = None
        self._thread = None

    def start(self):
        srv = _Server(("127.0.0.1", 0), _Handler)
        srv.root, srv.delay_s, srv.counter = self.root, self.delay_s, _Counter()
        self._server = srv
        self._thread = threading.Thread(target=srv.serve_forever, name="bench-http", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def counts(self):
        """Requests served so far, by kind ("GET ranged", "GET whole", "HEAD")."""
        return self._server.counter.snapshot()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def fetch_counts(url):
    """The request counts of the HTTPFileServer at `url` (from another process)."""
    with urllib.request.urlopen(url + COUNTS_PATH) as r:
        return json.loads(r.read())


def count_delta(before, after):
    return {k: after[k] - before[k] for k in KINDS}


class MotoS3:
    """A moto S3 server on 127.0.0.1 (a free port); region us-east-1, credentials testing/testing.

    `storage_options()` and friends give each client's settings for it."""

    REGION = "us-east-1"
    KEY = SECRET = "testing"

    def __init__(self):
        self._server = None

    def start(self):
        import logging
        from moto.server import ThreadedMotoServer
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        return self

    @property
    def endpoint(self):
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def client(self):
        import boto3
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.REGION,
                            aws_access_key_id=self.KEY, aws_secret_access_key=self.SECRET)

    def create_bucket(self, name):
        self.client().create_bucket(Bucket=name)

    def delete_prefix(self, bucket, prefix):
        """Delete every object under `prefix` (a benchmark's output, so moto's memory stays flat)."""
        c = self.client()
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                c.delete_objects(Bucket=bucket, Delete={"Objects": keys})

    def stop(self):
        self._server.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def s3_env(endpoint):
    """Environment for clients that read credentials from it (tensorstore, boto)."""
    return {"AWS_ACCESS_KEY_ID": MotoS3.KEY, "AWS_SECRET_ACCESS_KEY": MotoS3.SECRET,
            "AWS_REGION": MotoS3.REGION, "AWS_DEFAULT_REGION": MotoS3.REGION,
            "AWS_ENDPOINT_URL": endpoint}
