"""The demo upstream: the brand's website and the platforms' status APIs, on 127.0.0.1.

``make run`` starts it on DEMO_PORT (default 8090) and points the probes of site.yml at it
through ``demo-targets.yml`` (``PROBE_OVERRIDES``), so the whole loop runs offline:

    curl -X POST   http://127.0.0.1:8090/_demo/outage/facebook             # Facebook's own outage
    curl -X POST   'http://127.0.0.1:8090/_demo/outage/facebook?scope=brand' # only our Facebook page
    curl -X POST   'http://127.0.0.1:8090/_demo/outage/facebook?location=second' # seen from one probe location
    curl -X DELETE http://127.0.0.1:8090/_demo/outage/facebook             # over
    curl           http://127.0.0.1:8090/_demo                              # what is down

What it serves:

| path | imitates |
| --- | --- |
| ``/<platform>/`` | the platform's front page (``https://www.facebook.com/``) |
| ``/<platform>/<anything>`` | the brand's page on it (``https://www.facebook.com/lumencoffee``) |
| ``/status/<platform>/api/v2/summary.json`` | its Statuspage v2 summary |
| ``/site/...``, ``/help/...`` | the brand's shop and help centre |
| DEMO_PORT + 1 (TCP) | the brand's mail server (``support-inbox``): closed while it is down |

A platform outage (``scope=platform``, the default for platforms) breaks its front page,
the brand's page on it and its status summary (indicator ``impact``: minor, major or
critical, default critical). A brand outage (``scope=brand``) breaks only the brand's page.
``location=<name>`` limits an outage to the probes of that location (they name it in their
User-Agent, ``location=<name>``), the way a network fault between one region and a platform looks:
the stack's probe locations must agree (``probe_settings.quorum``) before anyone is told.
``POST /_demo/locations/<name>/run`` runs one probe cycle at another location now, as its
region's schedule would, so ``POST /probes/run`` (home's cycle) confirms against fresh results.
``scheduler`` stops the post scheduler's heartbeats, which the demo otherwise sends to the
API every 30 s, to the URLs whose secrets the stack makes at start (``startup.heartbeat_urls``).

The post scheduler also keeps a queue of the brand's social posts (tools/local/scheduler.py):
Beacon's signed webhook at ``POST /_demo/scheduler/webhook`` pauses a platform's posts while
the platform is down and resumes them when it is back; ``GET /_demo/scheduler`` shows the queue.
"""
from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests

from tools.local.scheduler import SignatureRefused, new_scheduler

log = logging.getLogger("beacon.demo")

PLATFORMS = {"facebook": "Facebook", "instagram": "Instagram", "whatsapp": "WhatsApp", "x": "X",
             "linkedin": "LinkedIn", "hubspot": "HubSpot", "hootsuite": "Hootsuite"}
BRAND = {"website": "Online shop", "help-centre": "Help centre", "support-inbox": "Email & SMS support",
         "scheduler": "Post scheduler"}
_IMPACT_STATUS = {"minor": "degraded_performance", "major": "partial_outage", "critical": "major_outage"}
_LOCATION = re.compile(r"\blocation=([a-z0-9-]+)")
_DESCRIPTION = {"none": "All Systems Operational", "minor": "Minor Service Outage",
                "major": "Partial System Outage", "critical": "Major System Outage"}


class DemoState:
    def __init__(self):
        self.lock = threading.Lock()
        self.outages: dict[str, dict] = {}

    def start(self, name: str, scope: str, impact: str, location: str | None = None) -> dict:
        with self.lock:
            self.outages[name] = {"scope": scope, "impact": impact, "location": location,
                                  "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            return dict(self.outages[name])

    def end(self, name: str) -> bool:
        with self.lock:
            return self.outages.pop(name, None) is not None

    def get(self, name: str, seen_from: str | None = None) -> dict | None:
        """The outage of ``name`` as a probe at ``seen_from`` sees it (one limited to another location is not)."""
        with self.lock:
            outage = self.outages.get(name)
        if outage and outage.get("location") and outage["location"] != seen_from:
            return None
        return outage


class DemoHandler(BaseHTTPRequestHandler):
    server: "DemoServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the stack's log is enough
        log.debug("demo %s", format % args)

    def do_GET(self):
        path = urlsplit(self.path).path
        state = self.server.state
        parts = [p for p in path.split("/") if p]
        if path in ("/_demo", "/_demo/"):
            return self._json(200, {"outages": state.outages, "platforms": PLATFORMS, "brand": BRAND,
                                    "locations": sorted(self.server.locations),
                                    "scheduler": self.server.scheduler.queue()})
        if path.rstrip("/") == "/_demo/scheduler":
            return self._json(200, self.server.scheduler.queue())
        if len(parts) >= 2 and parts[0] == "status" and parts[1] in PLATFORMS:
            return self._summary(parts[1])
        if parts and parts[0] == "site":
            return self._page("website", "Lumen Coffee Roasters — freshly roasted, delivered")
        if parts and parts[0] == "help":
            return self._page("help-centre", "Lumen help centre: order tracking and returns")
        if parts and parts[0] in PLATFORMS:
            platform = parts[0]
            outage = state.get(platform, self._location())
            if outage and outage["scope"] == "platform":
                return self._text(503, f"{PLATFORMS[platform]} is down. Sorry, something went wrong.")
            if len(parts) == 1:
                return self._text(200, f"<html><title>{PLATFORMS[platform]}</title>{PLATFORMS[platform]} home</html>")
            if outage and outage["scope"] == "brand":
                return self._text(404, "This content isn't available right now.")
            return self._text(200, f"<html><title>Lumen Coffee on {PLATFORMS[platform]}</title>Lumen Coffee</html>")
        return self._text(404, "not part of the demo upstream; GET /_demo lists it")

    do_HEAD = do_GET

    def do_POST(self):
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/_demo/scheduler/webhook":
            return self._scheduler_webhook()
        parts = [p for p in path.split("/") if p]
        if len(parts) == 4 and parts[:2] == ["_demo", "locations"] and parts[3] == "run":
            return self._run_location(parts[2])
        self._outage(start=True)

    def _run_location(self, location: str):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if location not in self.server.locations:
            return self._json(404, {"error": f"no probe location {location!r} runs here; "
                                             f"these do: {', '.join(self.server.locations) or 'none'}"})
        return self._json(200, self.server.locations[location]())

    def do_DELETE(self):
        self._outage(start=False)

    def _outage(self, start: bool):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = [p for p in url.path.split("/") if p]
        if len(parts) != 3 or parts[:2] != ["_demo", "outage"]:
            return self._json(404, {"error": "use POST or DELETE /_demo/outage/<name>"})
        name = parts[2]
        if name not in PLATFORMS and name not in BRAND:
            return self._json(404, {"error": f"no {name!r} in the demo; use one of "
                                              f"{', '.join([*PLATFORMS, *BRAND])}"})
        if not start:
            ended = self.server.state.end(name)
            return self._json(200, {"name": name, "ended": ended})
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        scope = query.get("scope", "platform" if name in PLATFORMS else "brand")
        impact = query.get("impact", "critical")
        if scope not in ("platform", "brand") or impact not in _IMPACT_STATUS:
            return self._json(400, {"error": "scope is platform or brand; impact is minor, major or critical"})
        if name in BRAND:
            scope = "brand"
        location = query.get("location") or None
        if location is not None and name == "support-inbox":
            return self._json(400, {"error": "the mail server is probed over TCP, which names no location; "
                                             "limit an HTTP target (a platform, website, help-centre) instead"})
        outage = self.server.state.start(name, scope, impact, location)
        if name == "support-inbox":
            self.server.mail.close()
        return self._json(201, {"name": name, **outage})

    def _scheduler_webhook(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            changed = self.server.scheduler.receive(self.headers.get("X-Beacon-Signature"), body)
        except SignatureRefused as exc:
            log.warning("demo scheduler refused a webhook: %s", exc)
            return self._json(401, {"error": str(exc)})
        except ValueError as exc:
            return self._json(400, {"error": f"not a Beacon webhook payload: {exc}"})
        if changed["paused"] or changed["resumed"]:
            log.info("demo scheduler: %s paused %s, resumed %s", changed["event"], changed["paused"] or "none",
                     changed["resumed"] or "none")
        return self._json(200, changed)

    def _location(self) -> str | None:
        """The probe location named in the User-Agent, if any."""
        match = _LOCATION.search(self.headers.get("User-Agent") or "")
        return match.group(1) if match else None

    def _page(self, name: str, text: str):
        if self.server.state.get(name, self._location()):
            return self._text(503, "Service Unavailable")
        return self._text(200, f"<html><title>{text}</title>{text}</html>")

    def _summary(self, platform: str):
        outage = self.server.state.get(platform, self._location())
        down = outage is not None and outage["scope"] == "platform"
        indicator = outage["impact"] if down else "none"
        status = _IMPACT_STATUS[indicator] if down else "operational"
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        components = [{"id": f"{platform}-{part}", "name": part.title(), "status": status, "position": i,
                       "description": None, "showcase": True, "group_id": None, "page_id": platform,
                       "group": False, "only_show_if_degraded": False, "created_at": now, "updated_at": now}
                      for i, part in enumerate(("api", "web", "messaging"), 1)]
        incidents = [] if not down else [{"id": f"{platform}-demo", "name": f"{PLATFORMS[platform]} outage",
                                          "status": "investigating", "impact": indicator, "created_at": now}]
        self._json(200, {"page": {"id": platform, "name": PLATFORMS[platform], "url": f"/status/{platform}",
                                  "time_zone": "Etc/UTC", "updated_at": now},
                         "status": {"indicator": indicator, "description": _DESCRIPTION[indicator]},
                         "components": components, "incidents": incidents, "scheduled_maintenances": []})

    def _json(self, status: int, body: dict):
        self._send(status, json.dumps(body, indent=1).encode(), "application/json")

    def _text(self, status: int, text: str):
        self._send(status, text.encode(), "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class MailListener:
    """A TCP port that accepts while the support inbox is up and is closed while it is down."""

    def __init__(self, port: int, state: DemoState):
        self.port, self.state = port, state
        self.sock: socket.socket | None = None
        self.stopped = threading.Event()
        self.open()
        threading.Thread(target=self._serve, name="demo-mail", daemon=True).start()

    def open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        sock.settimeout(0.5)
        self.port = sock.getsockname()[1]
        self.sock = sock

    def close(self) -> None:
        if self.sock is not None:
            # shutdown first: a thread waiting in accept() keeps a closed socket listening until it wakes.
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None

    def _serve(self) -> None:
        while not self.stopped.is_set():
            if self.sock is None:
                if not self.state.get("support-inbox"):
                    try:
                        self.open()
                    except OSError:
                        pass
                self.stopped.wait(0.5)
                continue
            try:
                conn, _ = self.sock.accept()
                conn.sendall(b"220 mail.lumencoffee.demo ESMTP\r\n")
                conn.close()
            except (OSError, AttributeError):
                continue


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, heartbeat_urls: list[str] = (), heartbeat_every: float = 30.0):
        super().__init__(("127.0.0.1", port), DemoHandler)
        self.state = DemoState()
        # The post scheduler's queue; the stack hands it its webhook secret (scheduler.use_secret).
        self.scheduler = new_scheduler()
        try:
            self.mail = MailListener(self.server_address[1] + 1 if port else 0, self.state)
        except OSError:  # the next port is taken: any free one (DEMO_SMTP_PORT tells the probes)
            self.mail = MailListener(0, self.state)
        self.heartbeat_urls = list(heartbeat_urls)
        self.heartbeat_every = heartbeat_every
        # Probe locations other than home, by name: a call runs one cycle there (the stack fills it in).
        self.locations: dict[str, Callable[[], dict]] = {}
        if self.heartbeat_urls:
            threading.Thread(target=self._send_heartbeats, name="demo-heartbeat", daemon=True).start()

    def _send_heartbeats(self) -> None:
        while not self.mail.stopped.is_set():
            if not self.state.get("scheduler"):
                for url in self.heartbeat_urls:
                    try:
                        requests.post(url, timeout=5)
                    except requests.RequestException as exc:
                        log.warning("demo heartbeat to %s failed: %s", url, exc)
            self.mail.stopped.wait(self.heartbeat_every)

    def server_close(self) -> None:
        self.mail.stopped.set()
        self.mail.close()
        super().server_close()


def start_demo(port: int, heartbeat_urls: list[str] = ()) -> DemoServer:
    server = DemoServer(port, heartbeat_urls)
    threading.Thread(target=server.serve_forever, name="demo", daemon=True).start()
    return server
