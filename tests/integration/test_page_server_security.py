"""The local page server over real HTTP: the distribution's security headers, its URL rule, no open redirect."""
import http.client
import json
import re
import threading

import boto3
import pytest

from chalicelib import aws as aws_clients
from tools.local.provision import load_template
from tools.local.static import PageServer, policy_headers
from chalicelib.site.service import publish_site
from chalicelib.store.records import StateStore
from tests.conftest import ROOT
from tests.site_scenarios import save_facebook_outage

CASES = json.loads((ROOT / "tests" / "page_path_cases.json").read_text())
# What http.client can put on a request line; raw CR, LF, tab or space cannot travel in one.
SENDABLE = [case for case in CASES if not re.search(r"[\x00-\x20\x7f]", case["path"])]


@pytest.fixture
def page_server_with_the_outage_published(aws, table, example_site, noon):
    save_facebook_outage(StateStore(table), example_site, noon)
    publish_site(now=noon)
    server = PageServer(("127.0.0.1", 0), boto3.client("s3"), aws.environment["BUCKET_NAME"],
                        aws_clients.client("s3").meta.endpoint_url, ROOT / "templates")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def get(port: int, path: str) -> http.client.HTTPResponse:
    """GET ``path`` exactly as written, without a client's normalisation."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path)
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def test_every_answer_carries_the_distributions_security_headers(page_server_with_the_outage_published):
    port = page_server_with_the_outage_published
    expected = policy_headers(load_template(), "https://api.beacon.test")
    # WHEN the page, a missing page, a redirect and a refused path are requested
    for path, status in (("/", 200), ("/incidents/nope.html", 404), ("/history", 302), ("/x%0d%0a", 400)):
        response = get(port, path)
        # THEN each carries CSP, HSTS, nosniff, frame options and referrer policy as CloudFront sends them
        assert response.status == status, path
        for name, value in expected.items():
            assert response.getheader(name) == value, (path, name)
    csp = get(port, "/").getheader("Content-Security-Policy")
    assert "script-src 'self';" in csp and "default-src 'none'" in csp
    assert "connect-src 'self' https://api.beacon.test" in csp and "form-action https://api.beacon.test" in csp
    assert get(port, "/").getheader("X-Content-Type-Options") == "nosniff"
    assert get(port, "/").getheader("Strict-Transport-Security").startswith("max-age=")
    assert get(port, "/").getheader("Referrer-Policy") == "strict-origin-when-cross-origin"


def test_paths_follow_the_shared_rule_over_http(page_server_with_the_outage_published):
    for case in SENDABLE:
        # WHEN the path is requested as written
        response = get(page_server_with_the_outage_published, case["path"])
        # THEN the answer is the rule's: a same-host redirect, a refusal that says what to fix, or the object
        if "redirect" in case:
            assert (response.status, response.getheader("Location")) == (302, case["redirect"]), case
        elif "refuse" in case:
            assert response.status == 400, case
            assert b"control character" in response.body and b"remove it from the URL" in response.body
            assert response.getheader("Set-Cookie") is None
        else:
            assert response.status in (200, 404), case


def test_a_query_cannot_steer_a_redirect_and_published_pages_are_served(page_server_with_the_outage_published):
    port = page_server_with_the_outage_published
    assert get(port, "/history?next=//evil.example").getheader("Location") == "/history/"
    assert get(port, "//evil.example/history?x=1").getheader("Location") == "/evil.example/history/"
    page = get(port, "/incidents/01facebook000001.html")
    assert page.status == 200 and b"Facebook" in page.body
    assert get(port, "/").status == 200
