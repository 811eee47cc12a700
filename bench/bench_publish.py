"""Publishing the large site to a bucket 20 ms away: one upload at a time, in parallel, streamed, resumed.

The large site of ``bench_site`` (1,000 past incidents, ~1,100 objects) is published for the
first time to a bucket 20 ms away. S3 is ``s3_standin``: objects in memory, in a process of its
own, every answer 20 ms after its request, requests in flight at once each waiting their own
20 ms, and next to no CPU per request, as real S3 spends none of ours (moto's S3, a full
emulator, cost more CPU per request than the publisher on a small machine, so the figure
measured it). The manifest's table is the emulator's DynamoDB (moto, server mode, in a process
of its own, its resources made from the template) behind a loopback proxy (another process) that
holds every request 20 ms before forwarding it; the publish reads and writes it a few times
only. Each figure includes the uploads and the manifest writes (and reads) of the publish;
every row runs against the same stand-in and table, in the same run.
The first publish is timed as ``service.publish_site`` runs it: render, check and upload in one
stream (``SiteRender`` → ``checked_stream`` → ``Publisher.publish``), the manifest read before and
written during and after; the snapshot it renders is built beforehand (reading state is another
bench's). Beside it: the same objects rendered and checked whole first, then published, and a
bare thread pool of ``put_object`` calls over the pre-rendered objects (no order, no manifest, no
render): the best a user could script instead. The goal (2.5 s, where one upload at a time took
25 s) is for the uploads and the manifest, pre-rendered objects, like the figure it replaced;
the pre-rendered objects also go up at half the default concurrency, beside it.

Memory: a site of 5,000 incidents is rendered, and rendered and published (streamed), each in a
child process of its own whose peak resident set (``peak_rss_mb``) is its figure, beside the peak
once its snapshot is built, before anything is rendered.
"""
from __future__ import annotations

import http.client
import json
import random
import resource
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import requests
from botocore.config import Config

from bench.bench_site import NOW, TEMPLATES, large_records, large_site
from bench.processes import ServerProcess, emulator, free_port
from bench.s3_standin import S3StandIn
from bench.table import Row
from chalicelib.settings import PROJECT_ROOT, PUBLISH_CONCURRENCY
from chalicelib.site.publish import MANIFEST_PK, Publisher, checked_stream, split_manifest
from chalicelib.site.render import SiteRender, render_site
from chalicelib.site.snapshot import build_snapshot
from chalicelib.site.validate import check_site
from chalicelib.store.table import Table

LATENCY_SECONDS = 0.02
GOAL_SECONDS = 2.5
CONCURRENCY = PUBLISH_CONCURRENCY  # the default
CLIENT_CONFIG = Config(max_pool_connections=CONCURRENCY, retries={"mode": "standard", "max_attempts": 4},
                       s3={"addressing_style": "path"})  # the stand-in knows no virtual-hosted buckets
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class SlowProxy(ThreadingHTTPServer):
    """Forwards every request to ``upstream`` after ``delay`` seconds, one thread per connection.

    Both its sockets send without Nagle's delay, as boto3's do: otherwise an answer written in two
    pieces waits for the reader's delayed acknowledgement, about 40 ms more than ``delay``."""

    daemon_threads = True

    def __init__(self, upstream: tuple[str, int], delay: float, port: int = 0):
        self.upstream, self.delay = upstream, delay
        self.local = threading.local()
        super().__init__(("127.0.0.1", port), _Forward)


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _forward(self):
        server: SlowProxy = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(server.delay)
        connection = getattr(server.local, "connection", None)
        if connection is None:
            connection = server.local.connection = http.client.HTTPConnection(*server.upstream, timeout=30)
            connection.connect()
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        length = response.getheader("Content-Length") if self.command == "HEAD" else str(len(payload))
        self.send_header("Content-Length", length or "0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


MEMORY_INCIDENTS = 5000


def _large_site_snapshot(incidents: int = 1000):
    site = large_site()
    days, latency, records = large_records(site, random.Random(3), count=incidents)
    return build_snapshot(site, {}, records, [], NOW, days=days, latency=latency,
                          since=NOW - timedelta(days=400), api_url="https://api.example")


def _publish_streamed(publisher: Publisher, snapshot) -> None:
    """As ``service.publish_site`` publishes everything: rendered, checked and uploaded as one stream."""
    checked = checked_stream(SiteRender(snapshot, TEMPLATES))
    publisher.publish(checked.objects, now=NOW, complete=True, rendered=checked.keys)


def _publish_rendered_first(publisher: Publisher, snapshot) -> None:
    """Rendered and checked whole, then published: how a publish ran before it streamed."""
    checked = check_site(render_site(snapshot, TEMPLATES))
    publisher.publish(checked.objects, now=NOW, complete=True, keep=[w.key for w in checked.withheld])


def peak_rss_mb() -> float:
    """This process's peak resident set, in MB: ``VmHWM`` of its own memory. (``ru_maxrss`` also keeps
    the peak of the memory it was started from, the parent's, on Linux: a bench run after others
    measured the parent.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(mode: str, s3_endpoint: str = "", bucket: str = "", dynamodb_endpoint: str = "",
                 table_name: str = "") -> None:
    """Run in a child process: build the 5,000-incident snapshot, then render it (``render``) or render
    and publish it streamed (``publish``) to ``s3_endpoint`` and ``dynamodb_endpoint``; print seconds,
    peak RSS before and after (MB)."""
    snapshot = _large_site_snapshot(MEMORY_INCIDENTS)
    before = peak_rss_mb()
    started = time.perf_counter()
    if mode == "render":
        objects = render_site(snapshot, TEMPLATES)
        check_site(objects)
    else:
        session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench",
                                        region_name="us-east-1")
        table = Table(session.resource("dynamodb", endpoint_url=dynamodb_endpoint, config=CLIENT_CONFIG)
                      .Table(table_name))
        publisher = Publisher(session.client("s3", endpoint_url=s3_endpoint, config=CLIENT_CONFIG), bucket, table,
                              concurrency=CONCURRENCY)
        _publish_streamed(publisher, snapshot)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "before_mb": before,
                      "peak_mb": peak_rss_mb()}))


def _in_child(*args: str) -> dict:
    code = f"from bench.bench_publish import memory_child; memory_child{args!r}"
    out = subprocess.run([sys.executable, "-c", code], cwd=str(PROJECT_ROOT), capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


class _Stack:
    """The emulator with the template's resources, its table reached through the slow proxy, and the
    page bucket made on the S3 stand-in."""

    def __init__(self, endpoint: str, proxied: str, s3_endpoint: str):
        import os

        from tools.local.provision import provision

        self.session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench",
                                             region_name="us-east-1")
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        saved = os.environ.get("AWS_ENDPOINT_URL")
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        try:
            names = provision(self.session, "beacon-bench", email_sender="status@bench.example",
                              parameter_values={"ApiUrl": "https://api.example"}).environment
        finally:
            if saved is None:
                os.environ.pop("AWS_ENDPOINT_URL", None)
            else:
                os.environ["AWS_ENDPOINT_URL"] = saved
        self.bucket, self.table_name = names["BUCKET_NAME"], names["TABLE_NAME"]
        self.s3 = self.session.client("s3", endpoint_url=s3_endpoint, config=CLIENT_CONFIG)
        self.s3.create_bucket(Bucket=self.bucket)
        self.table = Table(self.session.resource("dynamodb", endpoint_url=proxied, config=CLIENT_CONFIG)
                           .Table(names["TABLE_NAME"]))
        self._direct_table = Table(self.session.resource("dynamodb", endpoint_url=endpoint).Table(names["TABLE_NAME"]))

    def empty(self) -> None:
        """No object in the bucket, no manifest: the next publish is a first publish."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        keys = [{"Key": o["Key"]} for page in pages for o in page.get("Contents", [])]
        for start in range(0, len(keys), 1000):
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys[start:start + 1000]})
        for item in self._direct_table.query_all(MANIFEST_PK):
            self._direct_table.delete(item.pk, item.sk)

    def publisher(self, concurrency: int, s3=None, **options) -> Publisher:
        return Publisher(s3 or self.s3, self.bucket, self.table, concurrency=concurrency, **options)


class _StopsAfter:
    """The bucket's client; the publish is interrupted once ``puts`` uploads succeeded."""

    def __init__(self, s3, puts: int):
        self._s3, self._left, self._lock = s3, puts, threading.Lock()

    def put_object(self, **kwargs):
        with self._lock:
            if self._left == 0:
                raise TimeoutError("interrupted half-way")
            self._left -= 1
        return self._s3.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._s3, name)


def _seconds(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _serve_proxy(upstream_port: int, port: int, delay: float) -> None:
    SlowProxy(("127.0.0.1", upstream_port), delay, port).serve_forever()


def run() -> list[Row]:
    snapshot = _large_site_snapshot()
    objects = render_site(snapshot, TEMPLATES)
    server = emulator()
    proxy = bucket = None
    try:
        proxy = ServerProcess("from bench.bench_publish import _serve_proxy; "
                              f"_serve_proxy({server.port}, {(port := free_port())}, {LATENCY_SECONDS})", port)
        bucket = S3StandIn(LATENCY_SECONDS)
        stack = _Stack(f"http://127.0.0.1:{server.port}", f"http://127.0.0.1:{proxy.port}", bucket.endpoint)

        stack.empty()
        sequential_s = _seconds(lambda: stack.publisher(1).publish(objects, now=NOW, complete=True))
        stack.empty()
        parallel_s = _seconds(lambda: stack.publisher(CONCURRENCY).publish(objects, now=NOW, complete=True))
        stack.empty()
        half_s = _seconds(lambda: stack.publisher(CONCURRENCY // 2).publish(objects, now=NOW, complete=True))
        stack.empty()
        rendered_first_s = _seconds(lambda: _publish_rendered_first(stack.publisher(CONCURRENCY), snapshot))
        stack.empty()
        streamed_s = _seconds(lambda: _publish_streamed(stack.publisher(CONCURRENCY), snapshot))

        def bare_pool():
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                list(pool.map(lambda o: stack.s3.put_object(Bucket=stack.bucket, Key=o.key, Body=o.body,
                                                            ContentType=o.content_type,
                                                            CacheControl=o.cache_control), objects))

        stack.empty()
        bare_s = _seconds(bare_pool)

        stack.empty()
        half = len(objects) // 2
        try:
            stack.publisher(CONCURRENCY, _StopsAfter(stack.s3, half)).publish(objects, now=NOW, complete=True)
        except TimeoutError:
            pass
        resumed = stack.publisher(CONCURRENCY).publish(objects, now=NOW, complete=True)
        republish_s = _seconds(lambda: stack.publisher(CONCURRENCY).publish(objects, now=NOW, complete=True))
        rendering = _in_child("render")
        stack.empty()
        publishing = _in_child("publish", bucket.endpoint, stack.bucket, f"http://127.0.0.1:{proxy.port}",
                               stack.table_name)
    finally:
        if bucket is not None:
            bucket.stop()
        if proxy is not None:
            proxy.stop()
        server.stop()

    manifest = {f"incidents/0past{n:011d}.html": "0123456789abcdef" * 2 for n in range(6000)}
    parts = split_manifest(manifest)
    largest_part = max(len(json.dumps(p, separators=(",", ":"))) for p in parts)
    where = "S3: in-memory stand-in, DynamoDB: emulator, each 20 ms/request"
    label = f"uploads + manifest reads/writes; {where}"
    everything = f"render + check + uploads + manifest reads/writes; {where}"
    return [
        Row(f"publish: first publish, large site, pre-rendered objects, {CONCURRENCY} at a time ({label})", parallel_s,
            "s", GOAL_SECONDS, "goal"),
        Row(f"publish: first publish, large site, pre-rendered objects, 1 upload at a time ({label})", sequential_s,
            "s", parallel_s, f"{CONCURRENCY} at a time"),
        Row(f"publish: first publish, large site, pre-rendered objects, {CONCURRENCY // 2} at a time ({label})", half_s,
            "s", parallel_s, f"{CONCURRENCY} at a time"),
        Row(f"publish: first publish, large site, streamed: {CONCURRENCY} at a time while it renders ({everything})",
            streamed_s, "s", parallel_s, "pre-rendered objects, uploads alone"),
        Row(f"publish: first publish, large site, rendered whole first, then {CONCURRENCY} at a time ({everything})",
            rendered_first_s, "s", bare_s, "bare pool, no render"),
        Row(f"publish: bare pool of {CONCURRENCY} put_object, pre-rendered, no order, no manifest "
            "(S3: in-memory stand-in, 20 ms/request)", bare_s, "s"),
        Row(f"publish: render + check, {MEMORY_INCIDENTS:,} incidents, wall (child process)", rendering["seconds"],
            "s"),
        Row(f"publish: render + check, {MEMORY_INCIDENTS:,} incidents, peak RSS (child process)",
            rendering["peak_mb"], "MB", rendering["before_mb"], "its snapshot built, nothing rendered"),
        Row(f"publish: render + upload streamed, {MEMORY_INCIDENTS:,} incidents, first publish, wall (child process; "
            f"{everything})", publishing["seconds"], "s", rendering["seconds"], "render + check alone"),
        Row(f"publish: render + upload streamed, {MEMORY_INCIDENTS:,} incidents, peak RSS (child process)",
            publishing["peak_mb"], "MB", rendering["peak_mb"], "render + check alone"),
        Row("publish: objects uploaded by the publish after an interruption half-way", len(resumed.uploaded),
            "objects", len(objects) - half, "objects not uploaded before it"),
        Row(f"publish: republish with no change, large site ({label})", republish_s * 1000, "ms"),
        Row("publish: manifest JSON at 6,000 objects, as one item", len(json.dumps(manifest)) / 1024, "KB", 400,
            "DynamoDB item limit"),
        Row(f"publish: manifest at 6,000 objects, largest of its {len(parts)} parts", largest_part / 1024, "KB", 400,
            "DynamoDB item limit"),
    ]
