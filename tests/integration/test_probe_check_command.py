"""`beacon probe-check`: every probe of site.yml once, against the demo upstream, nothing stored."""
from __future__ import annotations

import threading

import pytest
import requests

from tools.cli import main
from tools.local.demo import DemoServer
from chalicelib.settings import PROJECT_ROOT


@pytest.fixture
def demo_ports(monkeypatch):
    server = DemoServer(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("DEMO_PORT", str(server.server_address[1]))
    monkeypatch.setenv("DEMO_SMTP_PORT", str(server.mail.port))
    yield server
    server.shutdown()
    server.server_close()


def test_probe_check_prints_each_probe_and_fails_when_one_fails(demo_ports, capsys):
    targets = str(PROJECT_ROOT / "tools/local/demo-targets.yml")
    # GIVEN the healthy demo upstream
    assert main(["probe-check", str(PROJECT_ROOT / "site.yml"), "--overrides", targets]) == 0
    out = capsys.readouterr().out
    assert "facebook/platform" in out and "operational" in out
    assert "website/tls" in out and "not run: PROBE_OVERRIDES maps no target" in out
    assert "hootsuite/heartbeat" in out and "not checked here" in out
    # WHEN X's status page reports an outage
    requests.post(f"http://127.0.0.1:{demo_ports.server_address[1]}/_demo/outage/x", params={"impact": "major"},
                  timeout=5).raise_for_status()
    # THEN the command names it and exits 1
    assert main(["probe-check", str(PROJECT_ROOT / "site.yml"), "--overrides", targets, "--component", "x"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("x/upstream") and "partial_outage" in line for line in lines)
    assert any(line.startswith("x/http") and "major_outage" in line and "answered HTTP 503" in line for line in lines)


def test_a_name_that_does_not_resolve_is_down_with_the_name(capsys, tmp_path):
    site = (PROJECT_ROOT / "site.yml").read_text()
    path = tmp_path / "site.yml"
    path.write_text(site)
    # .invalid never resolves (RFC 6761), with or without a network
    overrides = tmp_path / "targets.yml"
    overrides.write_text('targets: {"https://help.lumencoffee.com/": "http://help.example.invalid/"}\n')
    assert main(["probe-check", str(path), "--overrides", str(overrides), "--component", "help-centre"]) == 1
    assert "help.example.invalid does not resolve" in capsys.readouterr().out
