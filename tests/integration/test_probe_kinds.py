"""Each probe kind against real local servers: HTTP, TCP, TLS (certificates made here), DNS.

Servers listen on 127.0.0.1 with ports the OS picks; every probe runs with private
targets allowed (the guard is tested on its own below, with them refused).
"""
from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.model import ComponentStatus
from chalicelib.probes.checks import ProbeContext, check
from chalicelib.probes.model import PlannedProbe
from chalicelib.probes.runner import run_probes
from chalicelib.probes.spec import ProbeSettings
from chalicelib.config import Component
from chalicelib.schema import read

UP, SLOW, DOWN = (ComponentStatus.OPERATIONAL, ComponentStatus.DEGRADED_PERFORMANCE, ComponentStatus.MAJOR_OUTAGE)
NOW = dt.datetime.now(dt.timezone.utc)


def probe(**spec) -> PlannedProbe:
    component = read(Component, {"id": "shop", "name": "Shop", "probes": [spec]})
    return PlannedProbe("shop", component.probes[0])


def run(spec: dict, *, allow_private: bool = True, **settings):
    context = ProbeContext(ProbeSettings(allow_private_targets=allow_private, **settings), now=NOW)
    return check(probe(**spec), context)


# -- the servers -----------------------------------------------------------------------------------

class TargetHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        server = self.server
        if url.path == "/ok":
            return self.answer(200, json.dumps({"status": {"indicator": query.get("indicator", "none")},
                                                "components": [{"id": "c1", "name": "Messaging",
                                                                "status": query.get("messaging", "operational")}]}))
        if url.path == "/slow":
            time.sleep(int(query.get("ms", "300")) / 1000)
            return self.answer(200, "slow but fine")
        if url.path == "/hang":
            server.release.wait(30)  # answers nothing until the test ends
            return
        if url.path == "/status":
            return self.answer(int(query["code"]), "as asked")
        if url.path == "/bad-json":
            return self.answer(200, "{'status': oops")
        if url.path == "/flap":
            server.flaps += 1
            return self.answer(200 if server.flaps % 2 else 500, "flap")
        if url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if url.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        return self.answer(404, "no such page")

    def answer(self, status: int, body: str):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if body.startswith("{") else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class TargetServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address="127.0.0.1"):
        super().__init__((address, 0), TargetHandler)
        self.release = threading.Event()
        self.flaps = 0

    def url(self, path: str) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{path}"


@pytest.fixture(scope="module")
def web():
    server = TargetServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_listener():
    """A TCP port that accepts connections and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# -- http ------------------------------------------------------------------------------------------

def test_a_healthy_page_is_up_with_its_latency(web):
    result = run({"kind": "http", "url": web.url("/ok"), "body_contains": "indicator"})
    assert (result.status, result.error) == (UP, None)
    assert result.latency_ms is not None and result.detail["status_code"] == 200


def test_a_wrong_status_code_is_down_and_says_which(web):
    result = run({"kind": "http", "url": web.url("/status?code=503")})
    assert result.status is DOWN
    assert result.error == "answered HTTP 503, expected 2xx"


def test_expected_status_codes_are_taken_as_declared(web):
    # GIVEN LinkedIn-style 999 answers that mean "up, but no robots"
    result = run({"kind": "http", "url": web.url("/status?code=999"), "expect_status": [200, 999]})
    assert result.status is UP


def test_a_slow_page_is_degraded_above_its_latency_threshold(web):
    result = run({"kind": "http", "url": web.url("/slow?ms=300"), "degraded_above_ms": 100})
    assert result.status is SLOW and result.latency_ms >= 300


def test_a_hanging_page_times_out(web):
    result = run({"kind": "http", "url": web.url("/hang"), "timeout_seconds": 0.5})
    assert result.status is DOWN
    assert result.error == "no answer within 0.5 s"


def test_a_body_that_lacks_the_expected_text_is_down(web):
    result = run({"kind": "http", "url": web.url("/ok"), "body_contains": "Lumen"})
    assert result.error == "the answer does not contain 'Lumen'"
    result = run({"kind": "http", "url": web.url("/ok"), "body_not_contains": "indicator"})
    assert result.error == "the answer contains 'indicator'"
    result = run({"kind": "http", "url": web.url("/ok"), "body_regex": r"indicator\W+none"})
    assert result.status is UP


def test_a_json_condition_checks_one_value(web):
    good = run({"kind": "http", "url": web.url("/ok"), "json": {"path": "status.indicator", "equals": "none"}})
    bad = run({"kind": "http", "url": web.url("/ok?indicator=major"),
               "json": {"path": "status.indicator", "equals": "none"}})
    listed = run({"kind": "http", "url": web.url("/ok"),
                  "json": {"path": "components.0.status", "one_of": ["operational", "degraded_performance"]}})
    assert good.status is UP and listed.status is UP
    assert bad.error == "status.indicator is 'major', expected 'none'"


def test_bad_json_fails_a_json_condition(web):
    result = run({"kind": "http", "url": web.url("/bad-json"), "json": {"path": "status.indicator", "equals": "none"}})
    assert result.status is DOWN and "is not JSON" in result.error


def test_redirects_are_followed_up_to_the_limit(web):
    followed = run({"kind": "http", "url": web.url(f"/redirect?to={web.url('/ok')}")})
    looping = run({"kind": "http", "url": web.url("/loop"), "max_redirects": 3})
    not_followed = run({"kind": "http", "url": web.url(f"/redirect?to={web.url('/ok')}"), "follow_redirects": False,
                        "expect_status": [302]})
    assert followed.status is UP
    assert looping.status is DOWN and looping.error == "too many redirects"
    assert not_followed.status is UP


def test_a_refused_connection_is_down(closed_port):
    result = run({"kind": "http", "url": f"http://127.0.0.1:{closed_port}/"})
    assert result.status is DOWN and result.error.startswith("cannot connect to 127.0.0.1")


def test_a_failure_status_can_be_milder_than_major(web):
    result = run({"kind": "http", "url": web.url("/status?code=500"), "on_failure": "partial_outage"})
    assert result.status is ComponentStatus.PARTIAL_OUTAGE


# -- the target guard, with private targets refused --------------------------------------------------

def test_loopback_targets_are_refused_unless_the_site_allows_them(web):
    result = run({"kind": "http", "url": web.url("/ok")}, allow_private=False)
    assert result.status is DOWN
    assert result.error.startswith("refused: 127.0.0.1 is a loopback address")
    assert "probe_settings.allow_private_targets" in result.error


def test_a_name_pointing_at_loopback_is_refused(web):
    # GIVEN localhost, a name that resolves to the loopback address
    port = web.server_address[1]
    result = run({"kind": "http", "url": f"http://localhost:{port}/ok"}, allow_private=False)
    assert result.status is DOWN
    assert "localhost resolves to" in result.error and "a loopback address" in result.error


@pytest.fixture
def second_loopback_server():
    server = TargetServer("127.0.0.2")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_every_redirect_hop_is_checked_again(web, second_loopback_server):
    # GIVEN the first hop's network is allowed, and it redirects to another loopback address that is not
    hop = second_loopback_server.url("/ok")
    result = run({"kind": "http", "url": web.url(f"/redirect?to={hop}")}, allow_private=False,
                 allowed_private_networks=("127.0.0.1/32",))
    # THEN the redirect is refused at the second hop, though 127.0.0.2 would answer
    assert result.status is DOWN
    assert result.error.startswith("refused: 127.0.0.2 is a loopback address")
    assert run({"kind": "http", "url": hop}).status is UP


def test_tcp_to_a_private_address_is_refused_before_connecting(silent_listener):
    result = run({"kind": "tcp", "host": "127.0.0.1", "port": silent_listener}, allow_private=False)
    assert result.status is DOWN and result.error.startswith("refused:")


# -- tcp -------------------------------------------------------------------------------------------

def test_tcp_is_up_when_the_port_accepts(silent_listener, closed_port):
    assert run({"kind": "tcp", "host": "127.0.0.1", "port": silent_listener}).status is UP
    refused = run({"kind": "tcp", "host": "127.0.0.1", "port": closed_port})
    assert refused.status is DOWN and "Connection refused" in refused.error


# -- tls -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate_authority(tmp_path_factory):
    trustme = pytest.importorskip("trustme", reason="install trustme (requirements-dev.txt) for the TLS tests")
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, str(path)


def _tls_server(ca, **cert_args):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1", **cert_args).configure_cert(context)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stop = threading.Event()

    def serve():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    return sock, stop


@pytest.fixture
def tls_server(certificate_authority):
    servers = []

    def start(**cert_args) -> int:
        sock, stop = _tls_server(certificate_authority[0], **cert_args)
        servers.append((sock, stop))
        return sock.getsockname()[1]

    yield start
    for sock, stop in servers:
        stop.set()
        sock.close()


def test_a_valid_certificate_is_up_with_days_left(tls_server, certificate_authority):
    port = tls_server(not_after=NOW + dt.timedelta(days=90))
    result = run({"kind": "tls", "host": "127.0.0.1", "port": port, "server_name": "localhost",
                  "ca_file": certificate_authority[1]})
    assert result.status is UP, result.error
    assert 89 < result.detail["days_left"] <= 90


def test_a_certificate_close_to_expiry_is_degraded(tls_server, certificate_authority):
    port = tls_server(not_after=NOW + dt.timedelta(days=5))
    result = run({"kind": "tls", "host": "127.0.0.1", "port": port, "server_name": "localhost",
                  "ca_file": certificate_authority[1], "degraded_below_days": 14})
    assert result.status is SLOW


def test_an_expired_certificate_is_down(tls_server, certificate_authority):
    port = tls_server(not_before=NOW - dt.timedelta(days=100), not_after=NOW - dt.timedelta(days=1))
    result = run({"kind": "tls", "host": "127.0.0.1", "port": port, "server_name": "localhost",
                  "ca_file": certificate_authority[1]})
    assert result.status is DOWN
    assert result.error == "the certificate of localhost is not valid: certificate has expired"


def test_a_certificate_of_an_unknown_authority_is_down(tls_server):
    port = tls_server(not_after=NOW + dt.timedelta(days=90))
    result = run({"kind": "tls", "host": "127.0.0.1", "port": port, "server_name": "localhost"})
    assert result.status is DOWN and "not valid" in result.error


def test_https_with_an_expired_certificate_is_down(tls_server, certificate_authority):
    port = tls_server(not_before=NOW - dt.timedelta(days=100), not_after=NOW - dt.timedelta(days=1))
    result = run({"kind": "http", "url": f"https://localhost:{port}/", "ca_file": certificate_authority[1]})
    assert result.status is DOWN
    assert result.error == "TLS failed: certificate has expired"


# -- dns -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dns_server():
    import dns.message
    import dns.rcode
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()
    records = {("shop.test.", "A"): ["203.0.113.10", "203.0.113.11"], ("shop.test.", "MX"): ["10 mx.shop.test."]}

    def serve():
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except OSError:
                continue
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            name, kind = question.name.to_text(), dns.rdatatype.to_text(question.rdtype)
            if (name, kind) in records:
                response.answer.append(dns.rrset.from_text(name, 60, "IN", kind, *records[(name, kind)]))
            elif not any(n == name for n, _ in records):
                response.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(response.to_wire(), peer)

    threading.Thread(target=serve, daemon=True).start()
    yield sock.getsockname()[1]
    stop.set()
    sock.close()


def test_dns_resolves_to_the_expected_records(dns_server):
    spec = {"kind": "dns", "name": "shop.test", "nameservers": ["127.0.0.1"], "port": dns_server}
    assert run({**spec, "expect": ["203.0.113.10"]}).status is UP
    wrong = run({**spec, "expect": ["198.51.100.1"]})
    assert wrong.status is DOWN and "missing 198.51.100.1" in wrong.error
    assert run({**spec, "record_type": "MX", "expect": ["mx.shop.test"]}).status is UP


def test_dns_of_a_missing_name_is_down(dns_server):
    result = run({"kind": "dns", "name": "gone.test", "nameservers": ["127.0.0.1"], "port": dns_server})
    assert result.status is DOWN and result.error == "gone.test does not exist (NXDOMAIN)"
    no_record = run({"kind": "dns", "name": "shop.test", "record_type": "TXT", "nameservers": ["127.0.0.1"],
                     "port": dns_server})
    assert no_record.error == "shop.test has no TXT record"


# -- upstream --------------------------------------------------------------------------------------

def test_upstream_maps_the_platform_indicator(web):
    for indicator, status in [("none", UP), ("minor", SLOW), ("major", ComponentStatus.PARTIAL_OUTAGE),
                              ("critical", DOWN), ("maintenance", ComponentStatus.UNDER_MAINTENANCE)]:
        result = run({"kind": "upstream", "url": web.url(f"/ok?indicator={indicator}")})
        assert result.status is status and result.role == "platform"


def test_upstream_can_follow_one_component_of_theirs(web):
    result = run({"kind": "upstream", "url": web.url("/ok?indicator=minor&messaging=major_outage"),
                  "component": "messaging"})
    assert result.status is DOWN
    missing = run({"kind": "upstream", "url": web.url("/ok"), "component": "Ads"})
    assert missing.status is None and "no component 'Ads'" in missing.error


def test_upstream_bad_json_gives_no_verdict_unless_told_otherwise(web):
    # GIVEN their status page answers garbage: that says nothing about the platform itself
    result = run({"kind": "upstream", "url": web.url("/bad-json")})
    assert result.status is None and "is not JSON" in result.error
    told = run({"kind": "upstream", "url": web.url("/bad-json"), "on_error": "degraded_performance"})
    assert told.status is SLOW


# -- the runner ------------------------------------------------------------------------------------

def test_the_cycle_ends_at_its_deadline_when_every_target_hangs(web, silent_listener):
    # GIVEN 40 probes of targets that never answer, each with a 30 s timeout
    planned = [probe(kind="http", id=f"p{i}", url=web.url("/hang"), timeout_seconds=30) for i in range(40)]
    context = ProbeContext(ProbeSettings(allow_private_targets=True), now=NOW)
    # WHEN the cycle runs with a 1 s deadline
    started = time.monotonic()
    results = run_probes(planned, context, deadline_seconds=1, max_workers=64)
    # THEN every probe counts as a timeout and the cycle did not wait for their own timeouts
    assert time.monotonic() - started < 10
    assert {r.status for r in results} == {DOWN}
    assert all("cycle deadline (1 s)" in r.error for r in results)


def test_a_crashing_probe_does_not_stop_the_others(web):
    planned = [probe(kind="http", id=f"p{i}", url=web.url("/ok")) for i in range(5)]

    def run_one(p, context):
        if p.spec.id == "p2":
            raise RuntimeError("bug in a check")
        return check(p, context)

    context = ProbeContext(ProbeSettings(allow_private_targets=True), now=NOW)
    results = run_probes(planned, context, deadline_seconds=10, max_workers=4, run_one=run_one)
    assert [r.status for r in results] == [UP, UP, None, UP, UP]
    assert "the probe crashed (RuntimeError: bug in a check)" in results[2].error


def test_a_flapping_target_never_confirms_an_outage(web):
    from chalicelib.probes.rules import apply_result, new_state

    # GIVEN a page that fails every other request, and the default threshold of 2 failures in a row
    planned = probe(kind="http", url=web.url("/flap"))
    context = ProbeContext(ProbeSettings(allow_private_targets=True), now=NOW)
    state = new_state(planned.key, NOW)
    seen = []
    # WHEN eight cycles check it
    for minute in range(8):
        result = check(planned, context)
        seen.append(result.status)
        state = apply_result(state, result, planned.spec, NOW + dt.timedelta(minutes=minute))
    # THEN half the checks failed, yet the probe's status never left operational
    assert seen.count(DOWN) == 4
    assert state.status is UP and state.since is None
