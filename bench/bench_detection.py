"""Outage to first notification: how long after a platform goes down its subscribers hear of it.

``make run``'s stack (the emulator, the API, the scheduler, two probe locations that must agree,
the demo upstream) runs with the probe interval of each row; the default thresholds hold (two
failures in a row). Facebook goes down for both locations just after a home cycle ended, the
worst moment: the next slot sees the first failure, the one after confirms it. Each row is the
time from the outage to the notification event being enqueued (``created_at`` of the first
``GET /notifications`` entry) and to the SMS in the emulator's outbox, measured in real time.
The 60 s interval (one cycle a minute, the default) is the baseline: measured the same way in
the same run; the goal is <= 45 s to the enqueue at a 15 s interval.
"""
from __future__ import annotations

import os
import time
from datetime import datetime

import requests

from bench.table import Row

INTERVALS = (15, 60)


def run() -> list[Row]:
    figures = {interval: _outage_to_notification(interval) for interval in INTERVALS}
    rows = []
    baseline_enqueued, baseline_sms = figures[60]
    for interval in INTERVALS[:-1]:
        enqueued, sms = figures[interval]
        rows.append(Row(f"outage to notification enqueued, probes every {interval} s, 2 locations, "
                        "threshold 2", enqueued, "s", baseline_enqueued, "every 60 s (default)"))
        rows.append(Row(f"outage to the SMS in the outbox, probes every {interval} s", sms, "s", baseline_sms,
                        "every 60 s (default)"))
    return rows


def _until(condition, seconds: float, what: str):
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not happen within {seconds:g} s")


def _outage_to_notification(interval: int) -> tuple[float, float]:
    from tools.local.outbox import read_outbox
    from tools.local.stack import LocalStack, Ports

    saved = dict(os.environ)
    os.environ.pop("PROBE_INTERVAL_SECONDS", None)
    stack = LocalStack(Ports(aws=0, api=0, page=0, chat=0), probe_interval=None if interval == 60 else interval)
    stack.start()
    try:
        api = f"http://127.0.0.1:{stack.ports.api}"
        admin = {"Authorization": f"Bearer {os.environ['BEACON_ADMIN_KEY']}"}
        requests.post(f"{api}/subscribers/import", headers=admin, json={"rows": [{"phone": "+4915112345678"}]},
                      timeout=10).raise_for_status()

        def last_cycle():
            answer = requests.get(f"{api}/probes/latest", headers=admin, timeout=5)
            return answer.json().get("cycle_id") if answer.status_code == 200 else None

        first = _until(last_cycle, 90, "the first probe cycle")
        _until(lambda: last_cycle() not in (None, first), interval + 30, "the next probe cycle")
        started = time.time()
        requests.post(f"http://127.0.0.1:{os.environ['DEMO_PORT']}/_demo/outage/facebook",
                      timeout=5).raise_for_status()
        sms_at = _until(lambda: read_outbox(os.environ["AWS_ENDPOINT_URL"]).sms and time.time(), 4 * interval + 60,
                        "the outage SMS")
        [event, *_] = requests.get(f"{api}/notifications", headers=admin, timeout=5).json()["data"]
        enqueued = datetime.fromisoformat(event["created_at"]).timestamp()
        return enqueued - started, sms_at - started
    finally:
        stack.stop()
        # The emulator keeps its state per process: the next row starts from an empty one. It is reset
        # once the stack has stopped, so no step of it (a queue poll, a probe) meets tables gone.
        from moto.server import ThreadedMotoServer

        eraser = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        eraser.start()
        try:
            host, port = eraser.get_host_and_port()
            requests.post(f"http://{host}:{port}/moto-api/reset", timeout=10).raise_for_status()
        finally:
            eraser.stop()
        os.environ.clear()
        os.environ.update(saved)
