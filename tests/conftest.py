"""Fixtures shared by every test: the AWS emulator over HTTP and the example site.

``aws`` gives each test an emulator emptied of earlier tests' state, with the resources
of infra/resources.json created on it and the environment pointed at them, exactly as
the local stack does.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
import requests

from chalicelib import aws as aws_clients
from chalicelib import config, settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SITE = ROOT / "site.yml"


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _forget_caches():
    settings.reset_settings()
    config.reset_site()
    aws_clients.reset_clients()


def provision_test_stack(moto_endpoint: str, patch):
    """Empty the emulator, create the template's resources and point the environment at them
    (through ``patch``, a pytest MonkeyPatch, so the caller's scope undoes it)."""
    from tools.local.provision import provision

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    for name, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "BEACON_STAGE": "test",
        "SITE_CONFIG": str(EXAMPLE_SITE),
        "EMAIL_SENDER": "status@beacon.test",
        "API_URL": "https://api.beacon.test",
    }.items():
        patch.setenv(name, value)
    provisioned = provision(boto3.session.Session(), "beacon-test", email_sender="status@beacon.test",
                            parameter_values={"ApiUrl": "https://api.beacon.test"})
    for name, value in provisioned.environment.items():
        patch.setenv(name, value)
    _forget_caches()
    return provisioned


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    yield provision_test_stack(moto_endpoint, monkeypatch)
    _forget_caches()


@pytest.fixture
def table(aws):
    from chalicelib.store import Table

    return Table(aws_clients.get_table())


@pytest.fixture
def example_site():
    return config.load_site(EXAMPLE_SITE)


@pytest.fixture
def noon():
    return datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
