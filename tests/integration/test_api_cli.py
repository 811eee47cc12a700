"""The `beacon` command against the API served locally: tables out, the API's errors and exit 1."""
import json

from tools.cli import main
from tests.integration.api_server import api, api_server  # noqa: F401


def beacon(api, capsys, *argv, key=None):
    code = main([*argv, "--api", api.url, "--key", key or api.marketer_secret])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_marketer_runs_an_outage_from_the_command_line(api, capsys):
    # WHEN an incident is opened on Facebook
    code, out, _ = beacon(api, capsys, "incident", "open", "Facebook Messenger is down", "--body", "Use email.",
                          "--impact", "major", "--component", "facebook=major_outage", "--notify", "--json")
    assert code == 0
    incident = json.loads(out)
    # THEN two updates and a resolution follow, each printed as a table
    code, out, _ = beacon(api, capsys, "incident", "update", incident["id"], "--status", "identified",
                          "--body", "Meta confirmed it.", "--version", "1")
    assert code == 0 and "identified" in out and out.splitlines()[0].split() == ["ID", "NAME", "STATUS", "IMPACT",
                                                                                 "VERSION"]
    assert beacon(api, capsys, "incident", "update", incident["id"], "--status", "monitoring",
                  "--body", "Messages arrive again.")[0] == 0
    code, out, _ = beacon(api, capsys, "incident", "resolve", incident["id"], "--notify")
    assert code == 0 and "resolved" in out
    # AND a playbook is triggered and resolved, a notice posted, the page published
    code, out, _ = beacon(api, capsys, "playbook", "trigger", "instagram-outage", "--var", "eta=15:00")
    assert code == 0 and "Instagram DMs are down" in out
    code, out, _ = beacon(api, capsys, "playbook", "resolve", "instagram-outage")
    assert code == 0 and "resolved" in out
    code, out, _ = beacon(api, capsys, "notice", "post", "We answer on SMS and email today")
    assert code == 0 and "True" in out
    code, out, _ = beacon(api, capsys, "publish")
    assert code == 0 and out.startswith("UPLOADED")


def test_a_stale_version_exits_1_with_the_api_message(api, capsys):
    _, out, _ = beacon(api, capsys, "incident", "open", "X is slow", "--body", "b", "--json")
    incident_id = json.loads(out)["id"]
    beacon(api, capsys, "incident", "update", incident_id, "--status", "identified", "--body", "b")
    code, out, err = beacon(api, capsys, "incident", "update", incident_id, "--status", "monitoring", "--body", "b",
                            "--version", "1")
    assert code == 1 and out == ""
    assert "beacon: 409 version_conflict: incident" in err and "read it again" in err


def test_keys_are_created_listed_and_revoked_by_an_admin_only(api, capsys):
    code, _, err = beacon(api, capsys, "keys", "list")
    assert code == 1 and "403 forbidden" in err
    code, out, _ = beacon(api, capsys, "keys", "create", "zapier", "--scope", "marketer", key=api.admin_secret)
    assert code == 0 and "shown only now" in out
    secret = out.split("password manager):\n  ")[1].split()[0]
    # (with the console's sign-in link for it, on the page's address)
    assert f"https://status.lumencoffee.com/admin/#key={secret}" in out
    key_id = out.splitlines()[1].split()[0]
    code, out, _ = beacon(api, capsys, "keys", "list", key=api.admin_secret)
    assert "zapier" in out
    code, out, _ = beacon(api, capsys, "keys", "revoke", key_id, key=api.admin_secret)
    assert code == 0 and key_id in out


def test_the_first_admin_key_of_a_stage_is_written_straight_to_the_table(api, aws, capsys):
    # GIVEN an operator's AWS credentials and the stage's table name, no API key at all
    table_name = aws.environment["TABLE_NAME"]
    code = main(["keys", "create", "first-admin", "--scope", "admin", "--direct", "--table", table_name, "--json"])
    created = json.loads(capsys.readouterr().out)
    assert code == 0 and created["scope"] == "admin"
    # THEN the key works against the API
    code, out, _ = beacon(api, capsys, "keys", "list", key=created["secret"])
    assert code == 0 and "first-admin" in out


def test_no_api_or_a_wrong_key_says_what_to_do(api, capsys):
    code = main(["incident", "list", "--key", "k", "--api", ""])
    assert code == 1 and "pass --api or set BEACON_API_URL" in capsys.readouterr().err
    code, _, err = beacon(api, capsys, "incident", "list", key="bk_wrong")
    assert code == 1 and "401 unauthorized: unknown or revoked API key" in err


def test_maintenance_and_component_statuses_from_the_command_line(api, capsys):
    code, out, _ = beacon(api, capsys, "maintenance", "schedule", "Help centre upgrade",
                          "--from", "2030-05-01T22:00:00Z", "--until", "2030-05-01T22:30:00Z",
                          "--component", "help-centre", "--json")
    assert code == 0
    maintenance = json.loads(out)[0]
    assert maintenance["status"] == "scheduled" and maintenance["scheduled_for"] == "2030-05-01T22:00:00.000Z"
    code, out, _ = beacon(api, capsys, "maintenance", "list")
    assert code == 0 and "Help centre upgrade" in out
    assert beacon(api, capsys, "maintenance", "cancel", maintenance["id"])[0] == 0
    code, _, err = beacon(api, capsys, "maintenance", "schedule", "Shop", "--from", "2030-05-01T22:00:00",
                          "--until", "2030-05-01T23:00:00Z", "--component", "website")
    assert code == 1 and "scheduled_for: give a time zone" in err
    code, out, _ = beacon(api, capsys, "component", "set", "hootsuite", "partial_outage")
    assert code == 0 and "partial_outage  manual" in out
    code, out, _ = beacon(api, capsys, "component", "clear", "hootsuite")
    assert code == 0 and "operational  probe" in out
