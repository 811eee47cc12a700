"""The marketer API's answer times, against the emulator, side by side in one run.

A write (open an incident: validate, authorize, save, audit, republish what it changed)
against ``GET /health`` through the same server; the same write without HTTP and publish
(the service alone) shows what the synchronous republish costs; a stale ``If-Match`` is
refused before anything is written.
"""
from __future__ import annotations

import functools
import os
import threading

import requests

from bench.table import Row, median_ms

ROUNDS = 15
_median_ms = functools.partial(median_ms, runs=ROUNDS)


def run() -> list[Row]:
    import boto3
    from moto.server import ThreadedMotoServer

    saved = dict(os.environ)
    emulator = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    emulator.start()
    try:
        return _measure(emulator, boto3)
    finally:
        emulator.stop()
        os.environ.clear()
        os.environ.update(saved)


def _measure(emulator, boto3) -> list[Row]:
    from chalicelib import aws, config, settings
    from chalicelib.api.auth import create_key
    from chalicelib.incidents import IncidentService
    from chalicelib.site.service import publish_site
    from tools.local.provision import provision
    from tools.local.stack import _chalice_config, local_api_server
    from chalicelib.model import ComponentStatus, Impact, utcnow
    from chalicelib.store import Table

    host, port = emulator.get_host_and_port()
    os.environ.update({
        "AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1", "BEACON_STAGE": "bench", "API_URL": "https://api.beacon.bench",
        "EMAIL_SENDER": "status@beacon.bench", "POWERTOOLS_METRICS_DISABLED": "true",
    })
    provisioned = provision(boto3.session.Session(), "beacon-bench", email_sender="status@beacon.bench",
                            parameter_values={"ApiUrl": "https://api.beacon.bench"})
    os.environ.update(provisioned.environment)
    settings.reset_settings()
    config.reset_site()
    aws.reset_clients()
    table = Table(aws.get_table())
    secret, _ = create_key(table, name="bench", scope="marketer", created_by="bench", now=utcnow())

    import logging

    import app as beacon_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = local_api_server(beacon_app.app, _chalice_config("dev"), "127.0.0.1", 0)
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server.server_address[1]}"
    session = _FreshConnections({"Authorization": f"Bearer {secret}"})
    try:
        body = {"name": "Facebook Messenger is down", "body": "Email or text us instead.", "impact": "major",
                "components": {"facebook": "major_outage"}}
        session.post(base + "/incidents", json=body, timeout=30).raise_for_status()  # first render warms Jinja
        health = _median_ms(lambda: session.get(base + "/health", timeout=10).raise_for_status())
        write = _median_ms(lambda: session.post(base + "/incidents", json=body, timeout=30).raise_for_status())
        service = IncidentService(table, config.get_site(), utcnow)
        alone = _median_ms(lambda: service.open_incident(
            name="Facebook Messenger is down", body="b", impact=Impact.MAJOR,
            components={"facebook": ComponentStatus.MAJOR_OUTAGE}, notify=False, actor="bench"))
        publish_site()  # the incidents just opened without a publish get their pages, as the schedule would
        incident = session.post(base + "/incidents", json=body, timeout=30).json()
        stale = _median_ms(lambda: _expect(session.post(
            base + f"/incidents/{incident['id']}/updates", json={"status": "identified", "body": "b"},
            headers={"If-Match": '"99"'}, timeout=10), 409))
        listing = _median_ms(lambda: session.get(base + "/incidents", timeout=10).raise_for_status())
    finally:
        server.server.shutdown()
        server.server.server_close()
        settings.reset_settings()
        config.reset_site()
        aws.reset_clients()
    count = len(IncidentService(table, config.get_site(), utcnow).states.incidents())
    return [
        Row("api: POST /incidents (save, audit, republish)", write, "ms", health, "GET /health"),
        Row("api: open an incident, service alone (no HTTP, no publish)", alone, "ms", write, "POST /incidents"),
        Row("api: stale If-Match refused (409)", stale, "ms", health, "GET /health"),
        Row(f"api: GET /incidents ({min(count, 25)} of {count})", listing, "ms", health, "GET /health"),
    ]


class _FreshConnections:
    """A new connection per request: the development server's keep-alive meets delayed ACKs (40 ms)."""

    def __init__(self, headers: dict[str, str]):
        self.headers = headers

    def get(self, url: str, **kwargs):
        return requests.get(url, headers=self.headers, **kwargs)

    def post(self, url: str, json=None, headers=None, **kwargs):
        return requests.post(url, json=json, headers={**self.headers, **(headers or {})}, **kwargs)


def _expect(response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(f"expected {status}, got {response.status_code}: {response.text[:200]}")
