"""Heartbeat secrets: made and rotated by admins, stored hashed, wrong ones limited per address.

The API is served as `chalice local` serves it, against the emulator; every request of a
test comes from the same source address (127.0.0.1), as a job and a guesser behind one NAT.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib import aws as aws_clients
from tools.cli import main
from chalicelib.model import utcnow
from chalicelib.probes import reports
from chalicelib.probes.reports import UnknownHeartbeat, receive_heartbeat
from tests.integration.api_server import api, api_server  # noqa: F401

SCHEDULER = "hootsuite/heartbeat"
WRONG = "hb_" + "x" * 43


def make_secret(api, *, rotate: bool = False, overlap_minutes: int = 60):
    if rotate:
        return api.send("POST", f"/heartbeats/{SCHEDULER}/rotate", {"overlap_minutes": overlap_minutes},
                        secret=api.admin_secret)
    return api.send("POST", f"/heartbeats/{SCHEDULER}/secret", secret=api.admin_secret)


def beat(api, secret: str, *, fail: bool = False):
    return api.send("POST", f"/heartbeat/{secret}" + ("/fail" if fail else ""), headers={"Authorization": ""})


def whole_table() -> str:
    return json.dumps(aws_clients.get_table().scan()["Items"], default=str)


@pytest.fixture
def scheduler_secret(api) -> str:
    """GIVEN the post scheduler's heartbeat has a secret, made by an admin."""
    made = make_secret(api)
    assert made.status_code == 201, made.text
    return made.json()["secret"]


def test_an_admin_makes_a_secret_shown_once_and_stored_only_as_its_hash(api):
    # WHEN an admin makes the scheduler's secret
    made = make_secret(api)
    # THEN the answer holds a 256-bit secret and the job's URL, and the table holds neither
    assert made.status_code == 201, made.text
    secret, url = made.json()["secret"], made.json()["url"]
    assert secret.startswith("hb_") and len(secret) == 46 and url == f"https://api.beacon.test/heartbeat/{secret}"
    assert secret not in whole_table()
    # AND the job's call is accepted under the probe's name
    answer = beat(api, secret)
    assert answer.status_code == 200 and answer.json()["probe"] == SCHEDULER
    # AND the list shows that it has a secret, never the secret
    listed = api.get("/heartbeats", secret=api.admin_secret).json()["data"]
    assert [(h["probe"], h["has_secret"]) for h in listed] == [(SCHEDULER, True)]
    assert secret not in json.dumps(listed)


def test_only_an_admin_makes_secrets_and_never_twice_by_mistake(api, scheduler_secret):
    assert make_secret(api).status_code == 422
    assert "`beacon heartbeats rotate hootsuite/heartbeat` replaces it" in make_secret(api).json()["message"]
    refused = api.send("POST", f"/heartbeats/{SCHEDULER}/secret")  # a marketer's key
    assert refused.status_code == 403
    unknown = api.send("POST", "/heartbeats/hootsuite/nightly/secret", secret=api.admin_secret)
    assert unknown.status_code == 404
    assert "use <component>/<probe>, one of hootsuite/heartbeat" in unknown.json()["message"]


def test_a_rotated_secret_keeps_working_for_the_overlap_only(api, scheduler_secret):
    # WHEN an admin rotates the secret with a 30-minute overlap
    rotated = make_secret(api, rotate=True, overlap_minutes=30)
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["secret"]
    # THEN both secrets work now
    assert beat(api, scheduler_secret).status_code == 200 and beat(api, new).status_code == 200
    # AND after the overlap only the new one does
    later = utcnow() + timedelta(minutes=31)
    assert receive_heartbeat(new, clock=lambda: later)["probe"] == SCHEDULER
    with pytest.raises(UnknownHeartbeat):
        receive_heartbeat(scheduler_secret, clock=lambda: later)


def test_a_rotation_without_overlap_cuts_a_leaked_secret_at_once(api, scheduler_secret):
    new = make_secret(api, rotate=True, overlap_minutes=0).json()["secret"]
    assert beat(api, scheduler_secret).status_code == 404
    assert beat(api, new).status_code == 200


def test_wrong_secrets_from_one_address_are_limited_but_the_right_one_still_beats(api, scheduler_secret):
    # GIVEN someone guesses heartbeat URLs from the address the job calls from
    answers = [beat(api, WRONG, fail=True) for _ in range(reports.WRONG_SECRETS_PER_ADDRESS)]
    assert {a.status_code for a in answers} == {404}
    # WHEN they guess once more
    limited = beat(api, WRONG, fail=True)
    # THEN they get 429 with the seconds to wait
    assert limited.status_code == 429
    assert limited.json()["error"] == "too_many_requests"
    assert "too many wrong heartbeat URLs from your address" in limited.json()["message"]
    assert 0 < int(limited.headers["Retry-After"]) <= 600
    # AND the job's own calls are still accepted, and another address is not limited
    assert beat(api, scheduler_secret).status_code == 200
    with pytest.raises(UnknownHeartbeat):
        receive_heartbeat(WRONG, source_ip="198.51.100.7")


def test_an_admin_makes_and_rotates_secrets_from_the_command_line(api, aws, capsys):
    # WHEN an admin creates the scheduler's secret with the command
    code = main(["heartbeats", "create", SCHEDULER, "--api", api.url, "--key", api.admin_secret])
    out = capsys.readouterr().out
    # THEN it prints the job's URL once, which works
    assert code == 0 and "shown only now" in out
    url = out.strip().splitlines()[-1].strip()
    assert beat(api, url.rsplit("/", 1)[1]).status_code == 200
    # WHEN an operator rotates it straight in the stage's table with AWS credentials
    code = main(["heartbeats", "rotate", SCHEDULER, "--overlap-minutes", "0", "--direct",
                 "--table", aws.environment["TABLE_NAME"], "--api", api.url, "--json"])
    rotated = json.loads(capsys.readouterr().out)
    # THEN the new URL works and the old one no longer does
    assert code == 0 and rotated["url"] == f"{api.url}/heartbeat/{rotated['secret']}"
    assert beat(api, rotated["secret"]).status_code == 200
    assert beat(api, url.rsplit("/", 1)[1]).status_code == 404
    # AND a probe site.yml does not name is refused with the ones it does
    code = main(["heartbeats", "create", "hootsuite/nightly", "--api", api.url, "--key", api.admin_secret])
    assert code == 1 and "one of hootsuite/heartbeat" in capsys.readouterr().err
