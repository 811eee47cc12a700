"""What the sign-up and delivery tests share: a settable clock, the sign-up service and app
client on the emulator, the last SMS code sent, and metric totals from EMF output."""
from __future__ import annotations

import json
import re

import pytest

from tools.local.outbox import read_outbox
from chalicelib.notify import service
from chalicelib.settings import reset_settings


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def signups(aws, noon):
    reset_settings()
    clock = Clock(noon)
    return service.subscriptions(clock), clock


@pytest.fixture
def api(aws):
    from chalice.test import Client

    import app as app_module

    with Client(app_module.app) as client:
        yield client


def last_code(endpoint, number):
    texts = [m.message for m in read_outbox(endpoint).sms if m.phone_number == number]
    return re.search(r"code: (\d{6})", texts[-1]).group(1)


def metric_total(stdout: str, name: str) -> float:
    """The sum of a metric over the EMF documents printed (one value, or a list of them, each)."""
    total = 0
    for document in (json.loads(line) for line in stdout.splitlines() if '"_aws"' in line):
        value = document.get(name, 0)
        total += sum(value) if isinstance(value, list) else value
    return total
