"""Keys and scopes, validation errors and the audit log, through the real API."""
import requests

from tests.integration.api_server import api, api_server  # noqa: F401


def test_a_missing_or_unknown_key_is_401_with_a_json_error(api):
    missing = requests.get(api.url + "/incidents", timeout=5)
    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthorized" and "Authorization: Bearer" in missing.json()["message"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = api.get("/incidents", secret="bk_not-a-key")
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.json()["message"]


def test_a_marketer_key_cannot_manage_keys(api):
    response = api.send("POST", "/keys", {"name": "intruder", "scope": "admin"})
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden",
                               "message": "key 'ana-marketing' has scope 'marketer'; this needs an 'admin' key"}


def test_an_admin_creates_a_key_that_is_shown_once_and_works_until_revoked(api, table):
    # WHEN an admin creates a key
    created = api.send("POST", "/keys", {"name": "zapier", "scope": "marketer"}, secret=api.admin_secret)
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("bk_") and len(secret) >= 3 + 43  # 256 random bits
    # THEN the table holds its hash only, and the listing never shows it again
    raw = table._table.scan()["Items"]
    assert not any(secret in str(item) for item in raw)
    listed = api.get("/keys", secret=api.admin_secret).json()["data"]
    assert "zapier" in [k["name"] for k in listed] and all("secret" not in k for k in listed)
    assert api.get("/incidents", secret=secret).status_code == 200
    # WHEN it is revoked, THEN it stops working at once
    revoked = api.send("DELETE", f"/keys/{created.json()['id']}", secret=api.admin_secret)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert api.get("/incidents", secret=secret).status_code == 401


def test_bad_bodies_name_each_field_and_why(api):
    response = api.send("POST", "/incidents", {
        "name": "", "body": "x", "impact": "apocalyptic", "components": {"facebook": "on_fire"}, "colour": "red"})
    assert response.status_code == 422
    problems = {f["field"]: f["problem"] for f in response.json()["fields"]}
    assert set(problems) == {"name", "impact", "components.facebook", "colour"}
    assert problems["name"] == "must not be empty; write a text"
    assert problems["impact"] == "'apocalyptic' is not allowed here; use one of none, minor, major, critical, maintenance"
    assert problems["components.facebook"].startswith("'on_fire' is not allowed here; use one of operational,")
    assert problems["colour"] == "unknown field; remove it or check its spelling"


def test_timestamps_need_a_zone(api):
    response = api.send("POST", "/notices", {"title": "Holiday hours", "starts_at": "2026-12-24T09:00:00"})
    assert response.status_code == 422
    assert response.json()["fields"] == [{"field": "starts_at", "problem": "give a time zone, e.g. 2026-05-01T12:00:00Z"}]


def test_an_unknown_component_is_named(api):
    response = api.send("POST", "/incidents", {"name": "n", "body": "b", "components": {"myspace": "major_outage"}})
    assert response.status_code == 422 and "no component 'myspace'" in response.json()["message"]


def test_a_body_over_the_limit_is_413_and_broken_json_400(api):
    big = api.send("POST", "/incidents", data="{" + " " * 70_000 + "}",
                   headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["error"] == "payload_too_large"
    broken = api.send("POST", "/incidents", data="{name:", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["message"]


def test_every_write_is_in_the_audit_log_readable_by_admins(api):
    incident = api.send("POST", "/incidents", {"name": "Instagram DMs delayed", "body": "b"}).json()
    api.send("POST", f"/incidents/{incident['id']}/resolve", {})
    api.send("POST", "/notices", {"title": "Holiday hours"})
    assert api.get("/audit").status_code == 403
    first = api.get("/audit", secret=api.admin_secret, params={"limit": 2}).json()
    rest = api.get("/audit", secret=api.admin_secret, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    entries = first["data"] + rest["data"]
    assert sorted(e["action"] for e in entries) == ["incident.open", "incident.resolve", "notice.post"]
    assert {e["actor"] for e in entries} == {"ana-marketing"}
    opened = next(e for e in entries if e["action"] == "incident.open")
    assert opened["target"] == f"incident/{incident['id']}" and "Instagram DMs delayed" in opened["summary"]
    bad = api.get("/audit", secret=api.admin_secret, params={"cursor": "eyJwayI6IktFWSIsInNrIjoieCJ9"})
    assert bad.status_code == 422 and "cursor" in bad.json()["message"]


def test_a_key_cannot_revoke_itself(api):
    # GIVEN two admin keys
    second = api.send("POST", "/keys", {"name": "ops-backup", "scope": "admin"}, secret=api.admin_secret).json()
    keys = api.get("/keys", secret=api.admin_secret).json()["data"]
    admin = next(k for k in keys if k["name"] == "ops-admin")
    # WHEN a key asks to revoke itself
    response = api.send("DELETE", f"/keys/{admin['id']}", secret=api.admin_secret)
    # THEN it is refused and keeps working; another admin key may revoke it
    assert response.status_code == 422 and "cannot revoke itself" in response.json()["message"]
    assert api.get("/keys", secret=api.admin_secret).status_code == 200
    assert api.send("DELETE", f"/keys/{admin['id']}", secret=second["secret"]).status_code == 200


def audit_entries(api) -> list[dict]:
    entries, cursor = [], None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = api.get("/audit", secret=api.admin_secret, params=params)
        assert page.status_code == 200, page.text
        entries += page.json()["data"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return entries


def test_every_write_attempt_is_audited_once_refused_ones_included_without_secrets(api, table):
    # GIVEN an admin key, a marketer key, and a secret that is no key
    unknown = "bk_this-is-no-key-but-a-guess-0123456789"
    incident = api.send("POST", "/incidents", {"name": "Instagram DMs delayed", "body": "b"}).json()
    # WHEN writes are attempted: refused for each reason, and one carried out
    attempts = [
        ("POST", "/incidents", None, unknown, 401),
        ("POST", "/keys", {"name": "intruder", "scope": "admin"}, None, 403),
        ("POST", "/incidents", {"name": "", "body": "b"}, None, 422),
        ("POST", f"/incidents/{incident['id']}/resolve", {}, "stale", 409),
        ("POST", "/probes/run", None, "query", 422),
    ]
    for method, path, body, how, status in attempts:
        headers = {"If-Match": '"99"'} if how == "stale" else {}
        params = {"dry": "1"} if how == "query" else None
        secret = unknown if how == unknown else None
        answer = api.send(method, path, body, secret=secret, headers=headers, params=params)
        assert answer.status_code == status, (path, answer.text)
    reads = api.get("/incidents")
    assert reads.status_code == 200
    # THEN the log has one entry per attempt: the service's for the write it made, the route's for each refusal
    entries = audit_entries(api)
    refused = {(e["action"], e["summary"]) for e in entries if e["summary"].startswith("refused")}
    assert refused == {
        ("POST /incidents", "refused: 401 unauthorized"),
        ("POST /keys", "refused: 403 forbidden"),
        ("POST /incidents", "refused: 422 validation_failed (name)"),
        ("POST /incidents/{incident_id}/resolve", "refused: 409 version_conflict"),
        ("POST /probes/run", "refused: 422 validation_failed (dry)"),
    }
    by_summary = {e["summary"]: e for e in entries}
    assert by_summary["refused: 401 unauthorized"]["actor"] == "anonymous"
    assert by_summary["refused: 403 forbidden"]["actor"] == "ana-marketing"
    assert by_summary["refused: 409 version_conflict"]["target"] == f"/incidents/{incident['id']}/resolve"
    assert [e["action"] for e in entries if not e["summary"].startswith("refused")] == ["incident.open"]
    # AND no key, not even a wrong one, is stored anywhere
    raw = str(table._table.scan()["Items"])
    assert unknown not in raw and api.marketer_secret not in raw and api.admin_secret not in raw


def test_public_routes_are_not_audited(api):
    # GIVEN anyone on the internet, without a key
    requests.post(api.url + "/subscribers", json={"email": "someone@example.com"}, timeout=10)
    requests.post(api.url + "/heartbeat/no-such-heartbeat-token", timeout=10)
    # THEN the audit log stays empty: it records what keys did, and nobody can fill it from outside
    assert audit_entries(api) == []


def test_browser_integrations_may_send_if_match_and_read_the_etag(api):
    preflight = requests.options(api.url + "/incidents", timeout=5, headers={
        "Origin": "https://dashboard.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,if-match,content-type"})
    assert preflight.status_code == 200
    assert "If-Match" in preflight.headers["Access-Control-Allow-Headers"]
    answer = api.get("/incidents", headers={"Origin": "https://dashboard.example"})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in answer.headers["Access-Control-Expose-Headers"]


def test_the_local_stack_seeds_its_admin_key_from_the_environment(api_server, aws, monkeypatch):
    from tools.local.startup import STEPS, seed_admin_key

    # GIVEN the local stack's start-up steps and BEACON_ADMIN_KEY
    assert seed_admin_key in STEPS
    monkeypatch.setenv("BEACON_ADMIN_KEY", "local-admin-key-for-this-test")
    # WHEN the step runs (twice, as a restart would)
    seed_admin_key(None)
    seed_admin_key(None)
    # THEN that key is an admin key, once
    keys = requests.get(api_server + "/keys", timeout=5,
                        headers={"Authorization": "Bearer local-admin-key-for-this-test"})
    assert keys.status_code == 200
    assert [(k["name"], k["scope"]) for k in keys.json()["data"]] == [("local-admin", "admin")]
