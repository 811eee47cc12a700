"""Correcting names and titles from the `beacon` command: incidents, maintenance and notices."""
import json

from tools.cli import main
from tests.integration.api_server import api, api_server  # noqa: F401


def beacon(api, capsys, *argv):
    code = main([*argv, "--api", api.url, "--key", api.marketer_secret])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_marketer_corrects_the_names_of_an_incident_a_maintenance_and_a_notice(api, capsys):
    # GIVEN an incident, a maintenance and a notice, each with a typo
    _, out, _ = beacon(api, capsys, "incident", "open", "Facebok is down", "--body", "Use email.", "--json")
    incident = json.loads(out)
    _, out, _ = beacon(api, capsys, "maintenance", "schedule", "Shop upgarde", "--from", "2030-01-01T22:00:00Z",
                       "--until", "2030-01-01T23:00:00Z", "--component", "website", "--json")
    (maintenance,) = json.loads(out)
    _, out, _ = beacon(api, capsys, "notice", "post", "We answer on SMS todya", "--json")
    (notice,) = json.loads(out)
    # WHEN each is corrected from the command line
    code, out, _ = beacon(api, capsys, "incident", "edit", incident["id"], "--name", "Facebook is down",
                          "--version", "1")
    # THEN the API renamed it and the table shows the new name
    assert code == 0 and "Facebook is down" in out
    code, out, _ = beacon(api, capsys, "maintenance", "edit", maintenance["id"], "--name", "Shop upgrade")
    assert code == 0 and "Shop upgrade" in out
    code, out, _ = beacon(api, capsys, "notice", "edit", notice["id"], "--title", "We answer on SMS today")
    assert code == 0 and "We answer on SMS today" in out
    # AND a stale version is refused with the API's message
    code, _, err = beacon(api, capsys, "incident", "edit", incident["id"], "--name", "Facebook is up", "--version", "1")
    assert code == 1 and "409 version_conflict" in err


def test_a_notice_edit_with_nothing_to_change_says_what_to_give(api, capsys):
    code, _, err = beacon(api, capsys, "notice", "edit", "0000000000000001")
    assert code == 1 and "give --title, --body or both" in err
