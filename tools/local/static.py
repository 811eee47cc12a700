"""Serve the page bucket as the CloudFront distribution of infra/resources.json does, plus the outbox.

Paths follow the distribution's index-rewrite function through the rule both share
(``page_paths``): ``/`` and ``/dir/`` serve ``index.html``, ``/dir`` redirects to ``/dir/``,
redirects never leave the host, and paths with control characters (CR, LF, raw or
encoded) or bad escapes get 400. The stored ``Content-Type`` and ``Cache-Control`` are sent
back with an ``ETag``; a missing key serves ``404.html`` with status 404 (its custom error
responses). Every response carries the security headers of the distribution's response
headers policy, read from the template (CSP, HSTS, nosniff, frame options, referrer
policy), so a page the CSP would break in production breaks here too; the CSP admits the
local API as ``ApiUrl`` and leaves out origins of resources that only exist on AWS (API
Gateway's). Paths under ``/admin/`` (the marketer console) get the console's own policy,
as the distribution's ``admin/*`` cache behavior gives them. ``Access-Control-Allow-Origin: *`` when the bucket's CORS rules allow any
origin. ``/_outbox`` exists locally only: the emulator's email and SMS and the chat receiver's messages.
"""
from __future__ import annotations

import functools
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jinja2
from botocore.exceptions import ClientError

from tools.local.outbox import format_text, read_outbox
from tools.local.page_paths import page_request
from tools.local.provision import load_template, resolve_without_resources
from chalicelib.settings import get_settings

log = logging.getLogger("beacon.local")
# Stands in for resources that exist only on AWS; CSP sources naming one are left out locally.
_ONLY_ON_AWS = "only-on-aws.invalid"
BAD_PATH = (b"Bad request: the path has a control character (CR, LF, ...), a malformed %-escape or a . or .. "
            b"segment; remove it from the URL.\n")


PAGE_POLICY, CONSOLE_POLICY = "PageResponseHeadersPolicy", "ConsoleResponseHeadersPolicy"


@functools.cache
def security_headers(api_url: str, policy: str = PAGE_POLICY) -> dict[str, str]:
    """The headers the distribution's response headers policy adds, with the local API as ``ApiUrl``."""
    return policy_headers(load_template(), api_url, policy)


def policy_for(path: str) -> str:
    """The response headers policy of the cache behavior that serves ``path`` (``admin/*``: the console's)."""
    return CONSOLE_POLICY if path.startswith("/admin/") else PAGE_POLICY


def policy_headers(template: dict[str, Any], api_url: str, policy: str = PAGE_POLICY) -> dict[str, str]:
    config = template["Resources"][policy]["Properties"]["ResponseHeadersPolicyConfig"]
    config = resolve_without_resources(config, {"ApiUrl": api_url}, _ONLY_ON_AWS)
    headers = {}
    for name, setting in config.get("SecurityHeadersConfig", {}).items():
        if name == "ContentSecurityPolicy":
            directives = (" ".join(s for s in d.split() if _ONLY_ON_AWS not in s) for d in setting[name].split(";"))
            headers["Content-Security-Policy"] = "; ".join(d for d in directives if d)
        elif name == "StrictTransportSecurity":
            value = f"max-age={setting['AccessControlMaxAgeSec']}"
            if setting.get("IncludeSubdomains"):
                value += "; includeSubDomains"
            if setting.get("Preload"):
                value += "; preload"
            headers["Strict-Transport-Security"] = value
        elif name == "ContentTypeOptions":
            headers["X-Content-Type-Options"] = "nosniff"
        elif name == "FrameOptions":
            headers["X-Frame-Options"] = setting["FrameOption"]
        elif name == "ReferrerPolicy":
            headers["Referrer-Policy"] = setting["ReferrerPolicy"]
        else:
            raise ValueError(f"infra/resources.json: {policy} sets {name}, which the local page "
                             "server does not send; add it to policy_headers in tools/local/static.py")
    for custom in config.get("CustomHeadersConfig", {}).get("Items", []):
        headers[custom["Header"]] = custom["Value"]
    return headers


class PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, s3, bucket: str, endpoint_url: str, templates_dir: Path, chat_url: str | None = None):
        super().__init__(address, _Handler)
        self.s3 = s3
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.chat_url = chat_url
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

    def end_headers(self):
        path = self.requestline.split(" ")[1] if self.requestline.count(" ") >= 2 else "/"
        for name, value in security_headers(get_settings().api_url, policy_for(path)).items():
            self.send_header(name, value)
        super().end_headers()

    def _serve(self, head: bool):
        # The target as sent, as CloudFront hands it to the function: http.server folds the leading
        # slashes of self.path, and parsing it as a URL would read "//host/x" as a host.
        path = self.requestline.split(" ")[1].split("?", 1)[0].split("#", 1)[0]
        if path.rstrip("/") == "/_outbox":
            return self._outbox(head)
        if path.rstrip("/") == "/_outbox.txt":
            return self._outbox(head, text=True)
        request = page_request(path)
        if request.status == HTTPStatus.BAD_REQUEST:
            return self._answer(HTTPStatus.BAD_REQUEST, BAD_PATH, head)
        if request.status == HTTPStatus.FOUND:
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", request.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        found = self._get(request.key)
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
        outbox = read_outbox(self.server.endpoint_url, self.server.chat_url)
        if text:
            body, content_type = format_text(outbox).encode(), "text/plain; charset=utf-8"
        else:
            body = self.server.templates.get_template("local/outbox.html").render(outbox=outbox).encode()
            content_type = "text/html; charset=utf-8"
        self._answer(HTTPStatus.OK, body, head, content_type)

    def _answer(self, status: HTTPStatus, body: bytes, head: bool, content_type: str = "text/plain; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format, *args):
        log.debug("page %s", format % args)
