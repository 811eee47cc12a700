"""The API served as `chalice local` serves it, on a free port, against the test's emulator.

Import the fixtures into a test module: ``from tests.integration.api_server import api, api_server``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
import requests

ADMIN_SECRET = "test-admin-key-0123456789abcdef"


_SERVED: list[str] = []


@pytest.fixture(scope="session")
def api_server():
    """One server for the whole run, however many modules import this fixture."""
    if not _SERVED:
        import app as beacon_app
        from tools.local.stack import _chalice_config, local_api_server

        server = local_api_server(beacon_app.app, _chalice_config("dev"), "127.0.0.1", 0)
        threading.Thread(target=server.server.serve_forever, name="api-under-test", daemon=True).start()
        _SERVED.append(f"http://127.0.0.1:{server.server.server_address[1]}")
    return _SERVED[0]


@dataclass
class Api:
    url: str
    admin_secret: str
    marketer_secret: str

    def headers(self, secret: str | None = None, **extra) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret or self.marketer_secret}", **extra}

    def get(self, path: str, secret: str | None = None, **kwargs) -> requests.Response:
        return requests.get(self.url + path, headers=self.headers(secret, **kwargs.pop("headers", {})), timeout=10,
                            **kwargs)

    def send(self, method: str, path: str, json=None, secret: str | None = None, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, json=json,
                                headers=self.headers(secret, **kwargs.pop("headers", {})), timeout=20, **kwargs)


@pytest.fixture
def api(aws, table, api_server):
    """GIVEN an empty stack with an admin key and a marketer key, the API answering on a local port."""
    from chalicelib.api.auth import create_key
    from chalicelib.model import utcnow

    create_key(table, name="ops-admin", scope="admin", created_by="test", now=utcnow(), secret=ADMIN_SECRET)
    marketer, _ = create_key(table, name="ana-marketing", scope="marketer", created_by="test", now=utcnow())
    return Api(api_server, ADMIN_SECRET, marketer)


@pytest.fixture(scope="module")
def shared_api(moto_endpoint, api_server):
    """GIVEN one emulator stack for a whole module (for many cheap requests), with an admin key."""
    from chalicelib import aws as aws_clients
    from chalicelib.api.auth import create_key
    from chalicelib.model import utcnow
    from chalicelib.store import Table
    from tests.conftest import _forget_caches, provision_test_stack

    with pytest.MonkeyPatch.context() as patch:
        provision_test_stack(moto_endpoint, patch)
        table = Table(aws_clients.get_table())
        create_key(table, name="ops-admin", scope="admin", created_by="test", now=utcnow(), secret=ADMIN_SECRET)
        marketer, _ = create_key(table, name="ana-marketing", scope="marketer", created_by="test", now=utcnow())
        yield Api(api_server, ADMIN_SECRET, marketer)
    _forget_caches()

