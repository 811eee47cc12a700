"""Serve the page bucket as the CloudFront distribution of infra/resources.json does, plus the outbox.

``/`` and ``/dir/`` serve ``index.html`` and ``/dir`` redirects to ``/dir/`` (the
distribution's index-rewrite function); the stored ``Content-Type`` and ``Cache-Control``
are sent back with an ``ETag``; a missing key serves ``404.html`` with status 404 (its
custom error responses); ``Access-Control-Allow-Origin: *`` when the bucket's CORS rules
allow any origin (its response headers policy). ``/_outbox`` exists locally only.
"""
from __future__ import annotations

import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jinja2
from botocore.exceptions import ClientError

from chalicelib.local.outbox import format_text, read_outbox

log = logging.getLogger("beacon.local")


class PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, s3, bucket: str, endpoint_url: str, templates_dir: Path):
        super().__init__(address, _Handler)
        self.s3 = s3
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir)), autoescape=True)
        self.allow_any_origin = self._cors_allows_any_origin()

    def _cors_allows_any_origin(self) -> bool:
        try:
            rules = self.s3.get_bucket_cors(Bucket=self.bucket)["CORSRules"]
        except ClientError:
            return False
        return any("*" in rule.get("AllowedOrigins", []) for rule in rules)


class _Handler(BaseHTTPRequestHandler):
    server: PageServer
    server_version = "BeaconLocal"

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    def _serve(self, head: bool):
        path = unquote(urlsplit(self.path).path)
        if path.rstrip("/") == "/_outbox":
            return self._outbox(head)
        if path.rstrip("/") == "/_outbox.txt":
            return self._outbox(head, text=True)
        key = path.lstrip("/")
        if key == "" or key.endswith("/"):
            key += "index.html"
        found = self._get(key)
        if found is None and "." not in key.rsplit("/", 1)[-1]:
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", path + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = HTTPStatus.OK
        if found is None:
            status = HTTPStatus.NOT_FOUND
            found = self._get("404.html") or {
                "Body": b"Not found\n", "ContentType": "text/plain; charset=utf-8", "CacheControl": "no-cache"}
        etag = found.get("ETag")
        if etag and self.headers.get("If-None-Match") == etag and status == HTTPStatus.OK:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        body = found["Body"]
        self.send_response(status)
        self.send_header("Content-Type", found.get("ContentType") or "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if found.get("CacheControl"):
            self.send_header("Cache-Control", found["CacheControl"])
        if etag:
            self.send_header("ETag", etag)
        if self.server.allow_any_origin:
            self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _get(self, key: str) -> dict | None:
        try:
            response = self.server.s3.get_object(Bucket=self.server.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NoSuchBucket"):
                return None
            raise
        return {**response, "Body": response["Body"].read()}

    def _outbox(self, head: bool, text: bool = False):
        outbox = read_outbox(self.server.endpoint_url)
        if text:
            body, content_type = format_text(outbox).encode(), "text/plain; charset=utf-8"
        else:
            body = self.server.templates.get_template("local/outbox.html").render(outbox=outbox).encode()
            content_type = "text/html; charset=utf-8"
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format, *args):
        log.debug("page %s", format % args)
