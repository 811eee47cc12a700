"""The regional probe stack (infra/probe-location.json): valid, least privilege, and the code it runs
touches nothing but its own report in the home table."""
from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

from chalicelib import aws as aws_clients
from chalicelib.settings import PROJECT_ROOT, Settings
from tools.local.demo import DemoServer

TEMPLATE = PROJECT_ROOT / "infra" / "probe-location.json"
BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


@pytest.fixture(scope="module")
def template() -> dict:
    return json.loads(TEMPLATE.read_text())


def test_the_template_passes_cfn_lint():
    done = subprocess.run([str(BIN / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_its_role_may_write_only_its_report_to_the_home_table_and_its_own_logs(template):
    [policy] = template["Resources"]["ProbeRole"]["Properties"]["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert set(statements) == {"OwnLogs", "ReportHome"}
    report = statements["ReportHome"]
    assert report["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert report["Resource"] == {"Ref": "HomeTableArn"}
    assert report["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["PROBE_SEEN"]}}
    assert statements["OwnLogs"]["Resource"] == {"Fn::GetAtt": ["ProbeLogGroup", "Arn"]}


def test_it_runs_the_home_stacks_probe_handler_with_settings_the_app_reads(template):
    import app

    function = template["Resources"]["ProbeFunction"]["Properties"]
    assert function["Handler"] == "app.probe_cycle" and "probe_cycle" in app.app.handler_map
    variables = function["Environment"]["Variables"]
    settings = Settings.from_environ({name: "x" for name in variables})
    assert settings.probe_location == "x" and settings.table_region == "x" and settings.table_name == "x"
    assert function["ReservedConcurrentExecutions"] == 1 and function["Timeout"] == 75


def test_a_cycle_at_another_location_calls_only_what_its_role_allows(aws, tmp_path, monkeypatch):
    from chalicelib import config, settings
    from chalicelib.probes.service import scheduled_probe_cycle

    demo = DemoServer(0)
    threading.Thread(target=demo.serve_forever, daemon=True).start()
    try:
        # GIVEN the site probes from home and eu-west-1, and this function runs at eu-west-1
        site_file = tmp_path / "site.yml"
        site_file.write_text((PROJECT_ROOT / "site.yml").read_text().replace(
            "  cycle_deadline_seconds: 45\n",
            "  cycle_deadline_seconds: 45\n  locations: [us-east-1, eu-west-1]\n  quorum: 2\n"))
        for name, value in {"SITE_CONFIG": str(site_file), "PROBE_LOCATION": "eu-west-1",
                            "PROBE_OVERRIDES": str(PROJECT_ROOT / "tools/local/demo-targets.yml"),
                            "DEMO_PORT": str(demo.server_address[1]), "DEMO_SMTP_PORT": str(demo.mail.port)}.items():
            monkeypatch.setenv(name, value)
        settings.reset_settings()
        config.reset_site()
        aws_clients.reset_clients()
        calls = []
        aws_clients.get_table().meta.client.meta.events.register(
            "before-call.dynamodb", lambda model, params, **_: calls.append((model.name, _partition(params))))
        # WHEN its schedule fires
        summary = scheduled_probe_cycle()
        # THEN it probed, and read and wrote its own report item only
        assert summary["cycles"] == 1
        assert calls and set(calls) <= {("GetItem", "PROBE_SEEN"), ("PutItem", "PROBE_SEEN")}
    finally:
        demo.shutdown()
        demo.server_close()


def _partition(request: dict) -> str:
    """The partition key a serialized DynamoDB request names."""
    body = json.loads(request["body"])
    return (body.get("Key") or body.get("Item"))["pk"]["S"]
