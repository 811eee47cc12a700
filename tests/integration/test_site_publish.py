"""The page published to the bucket on the emulator: headers, order, only changes, failures, races, privacy."""
import json
import shutil
import threading
import xml.etree.ElementTree as ElementTree
from datetime import timedelta

import boto3
import jinja2
import pytest
import requests
from botocore.exceptions import ClientError

from chalicelib import aws as aws_clients
from chalicelib import settings
from tools.local.static import PageServer
from chalicelib.model import ComponentState, ComponentStatus
from chalicelib.site.publish import ENTRY_POINTS
from chalicelib.site.service import publish_site
from chalicelib.site.validate import _broken_links
from chalicelib.store.history import HistoryStore
from chalicelib.store.records import StateStore
from tests.conftest import ROOT
from tests.site_scenarios import bucket, bucket_objects, save_facebook_outage  # noqa: F401


@pytest.fixture
def site_with_facebook_down(table, example_site, noon):
    store = StateStore(table)
    save_facebook_outage(store, example_site, noon)
    history = HistoryStore(table)
    for minutes in range(0, 120, 15):
        history.record("facebook", noon - timedelta(minutes=minutes), ComponentStatus.MAJOR_OUTAGE, 900.0)
        history.record("website", noon - timedelta(minutes=minutes), ComponentStatus.OPERATIONAL, 120.0 + minutes)
    return store


def test_publish_uploads_the_whole_site_with_its_headers_entry_points_last(site_with_facebook_down, bucket, noon):
    # WHEN the page is published for the first time
    result = publish_site(now=noon)
    # THEN everything a reader can reach is in the bucket, and the entry points went up last
    assert result.uploaded[-2:] == list(ENTRY_POINTS)
    assert result.uploaded[0].startswith("assets/beacon.")
    live = bucket_objects(bucket)
    for key in ("index.html", "history.html", "history.atom", "history.rss", "badge.svg", "badges/facebook.svg",
                "sitemap.xml", "robots.txt", "404.html", "incidents/01facebook000001.html",
                "api/v2/summary.json", "api/v2/scheduled-maintenances/active.json"):
        assert key in live, key
    s3 = boto3.client("s3")
    expected = {"index.html": "text/html; charset=utf-8", "api/v2/summary.json": "application/json; charset=utf-8",
                "history.atom": "application/atom+xml; charset=utf-8", "badge.svg": "image/svg+xml",
                "robots.txt": "text/plain; charset=utf-8", "sitemap.xml": "application/xml; charset=utf-8"}
    for key, content_type in expected.items():
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == content_type
        assert head["CacheControl"] == "public, max-age=30, stale-while-revalidate=60, stale-if-error=86400"
    script = next(k for k in live if k.startswith("assets/"))
    assert s3.head_object(Bucket=bucket, Key=script)["CacheControl"] == "public, max-age=31536000, immutable"
    summary = json.loads(live["api/v2/summary.json"])
    assert summary["status"]["indicator"] == "critical"
    assert b"Response time, 24 h" in live["index.html"]


def test_a_republish_uploads_only_what_changed(site_with_facebook_down, bucket, noon):
    publish_site(now=noon)
    # WHEN nothing changed
    assert publish_site(now=noon).uploaded == []
    # WHEN only the clock moved: the page's timestamp (on the index in each language) is new, every
    # other file is byte-identical
    assert publish_site(now=noon + timedelta(minutes=1)).uploaded == ["de/index.html", "index.html"]
    # WHEN one component changes
    state = site_with_facebook_down.component_states()["instagram"]
    site_with_facebook_down.save_component_state(
        state.replace(probe_status=ComponentStatus.OPERATIONAL, updated_at=noon))
    uploaded = publish_site(now=noon + timedelta(minutes=1)).uploaded
    # THEN the files that show it, and nothing else
    assert "badges/instagram.svg" in uploaded and "api/v2/components.json" in uploaded
    assert uploaded[-3:] == ["de/index.html", *ENTRY_POINTS]
    assert not [k for k in uploaded if k.removeprefix("de/").startswith(
        ("incidents/", "history", "assets/", "badges/facebook"))]


class FailingS3:
    """The real emulator-backed client, made to fail on one key, as S3 can mid-publish."""

    def __init__(self, fail_on):
        self.real = aws_clients.client("s3")
        self.fail_on = fail_on

    def put_object(self, **kwargs):
        if kwargs["Key"] == self.fail_on:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "PutObject")
        return self.real.put_object(**kwargs)


def test_an_s3_failure_mid_publish_leaves_the_previous_site_whole_and_the_next_publish_repairs(
        site_with_facebook_down, bucket, noon):
    publish_site(now=noon)
    before = bucket_objects(bucket)
    # GIVEN the incident is resolved, which changes its page, the JSON and the index
    incident = next(i for i in site_with_facebook_down.incidents() if i.id == "01facebook000001")
    site_with_facebook_down.save_incident(incident.replace(status="resolved", resolved_at=noon + timedelta(minutes=5),
                                                           updated_at=noon + timedelta(minutes=5)))
    # WHEN S3 fails half-way, on the JSON written after the incident pages
    with pytest.raises(ClientError):
        publish_site(now=noon + timedelta(minutes=5), s3=FailingS3("api/v2/incidents.json"))
    # THEN the entry points are untouched and every link they make still resolves
    during = bucket_objects(bucket)
    assert during["index.html"] == before["index.html"]
    assert during["api/v2/summary.json"] == before["api/v2/summary.json"]
    assert not _broken_links("index.html", during["index.html"].decode(), set(during))
    # WHEN S3 works again, the next publish completes the site
    repaired = publish_site(now=noon + timedelta(minutes=6))
    assert "api/v2/incidents.json" in repaired.uploaded and repaired.uploaded[-2:] == list(ENTRY_POINTS)
    after = bucket_objects(bucket)
    assert json.loads(after["api/v2/incidents/unresolved.json"])["incidents"] == []


def test_a_render_failure_uploads_nothing_and_the_last_good_site_stays(site_with_facebook_down, bucket, noon,
                                                                       tmp_path, monkeypatch):
    publish_site(now=noon)
    before = bucket_objects(bucket)
    # GIVEN a template with an error
    broken = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", broken)
    (broken / "page/incident.html").write_text("{% extends 'page/base.html' %}{% block content %}{{ no_such }}{% endblock %}")
    monkeypatch.setenv("TEMPLATES_DIR", str(broken))
    settings.reset_settings()
    # WHEN the page is published after a change
    StateStore(site_with_facebook_down.table).save_component_state(
        ComponentState(component_id="x", probe_status=ComponentStatus.MAJOR_OUTAGE, updated_at=noon))
    with pytest.raises(jinja2.UndefinedError):
        publish_site(now=noon + timedelta(minutes=1))
    # THEN not one object changed
    assert bucket_objects(bucket) == before


def test_a_publisher_that_loses_the_race_for_the_manifest_publishes_again_from_a_fresh_read(site_with_facebook_down, bucket, noon):
    publish_site(now=noon)
    real = aws_clients.client("s3")
    raced = threading.Event()

    class RacedS3:
        """Another publisher finishes while this one uploads its first object."""

        def put_object(self, **kwargs):
            if not raced.is_set():
                raced.set()
                publish_site(now=noon + timedelta(minutes=2))
            return real.put_object(**kwargs)

    result = publish_site(now=noon + timedelta(minutes=1), s3=RacedS3())
    # THEN the loser did not overwrite the winner's manifest: it read again, rendered again, and
    # uploaded what differed from what the winner had made live
    assert raced.is_set()
    assert result.uploaded == ["de/index.html", "index.html"]
    assert b"2026-05-01T12:01:00.000Z" in bucket_objects(bucket)["index.html"]


def test_nothing_about_subscribers_or_secrets_reaches_the_bucket(site_with_facebook_down, table, bucket, noon,
                                                                 monkeypatch):
    # GIVEN a subscriber and an API key in the same table, and secrets in the environment
    table.create("SUBSCRIBER", "ana@example.com", {"email": "ana@example.com", "phone": "+4915112345678"})
    table.create("APIKEY", "k1", {"name": "marketing", "secret_hash": "s3cr3t-hash-value"})
    monkeypatch.setenv("BEACON_ADMIN_KEY", "very-secret-admin-key")
    publish_site(now=noon)
    everything = b"".join(bucket_objects(bucket).values())
    for secret in (b"ana@example.com", b"+4915112345678", b"s3cr3t-hash-value", b"very-secret-admin-key",
                   b"testing"):
        assert secret not in everything


@pytest.fixture
def page_server(aws, bucket):
    server = PageServer(("127.0.0.1", 0), boto3.client("s3"), bucket, aws_clients.client("s3").meta.endpoint_url,
                        ROOT / "templates")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_page_server_serves_all_eight_json_files_and_both_feeds_to_any_origin(site_with_facebook_down, noon,
                                                                                   page_server):
    publish_site(now=noon)
    for path in ("summary", "status", "components", "incidents", "incidents/unresolved", "scheduled-maintenances",
                 "scheduled-maintenances/upcoming", "scheduled-maintenances/active"):
        response = requests.get(f"{page_server}/api/v2/{path}.json", headers={"Origin": "https://widget.example"},
                                timeout=5)
        assert response.status_code == 200, path
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "page" in response.json()
    for feed in ("history.atom", "history.rss"):
        assert requests.get(f"{page_server}/{feed}", timeout=5).status_code == 200
    missing = requests.get(f"{page_server}/incidents/nope.html", timeout=5)
    assert missing.status_code == 404 and "This page does not exist" in missing.text



def test_a_record_stored_with_controls_publishes_and_its_feeds_parse(site_with_facebook_down, bucket, noon):
    # GIVEN an incident stored before texts were cleaned, its name and update holding pasted controls
    incident = next(i for i in site_with_facebook_down.incidents() if i.id == "01facebook000001")
    update = incident.updates[-1].replace(body="Use\u000bemail\u0000 instead.")
    site_with_facebook_down.save_incident(incident.replace(name="Facebook\u000bis\u000cdown\u0000",
                                                           updates=[*incident.updates[:-1], update]))
    # WHEN the page is published, as the schedule would
    result = publish_site(now=noon)
    # THEN nothing is withheld, and the feeds and the sitemap in the bucket are XML a reader parses
    assert result.withheld == []
    live = bucket_objects(bucket)
    feed = ElementTree.fromstring(live["history.atom"])
    assert "Facebookisdown" in [e.text for e in feed.iter("{http://www.w3.org/2005/Atom}title")]
    ElementTree.fromstring(live["history.rss"])
    ElementTree.fromstring(live["sitemap.xml"])


@pytest.fixture
def templates_that_break_one_incident_page(tmp_path, monkeypatch):
    """GIVEN templates with a fault only the 'Checkout was slow' incident's page meets: a link to a missing file."""
    copy = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", copy)
    page = copy / "page/incident.html"
    page.write_text(page.read_text().replace(
        "{% block content %}\n",
        "{% block content %}\n{% if 'Checkout' in i.name %}<a href=\"{{ root }}runbooks/{{ i.id }}.html\">r</a>"
        "{% endif %}\n", 1))
    monkeypatch.setenv("TEMPLATES_DIR", str(copy))
    settings.reset_settings()
    yield copy
    settings.reset_settings()


def test_a_problem_confined_to_one_incident_page_withholds_it_and_publishes_the_rest(
        site_with_facebook_down, bucket, noon, templates_that_break_one_incident_page, monkeypatch, capsys, caplog):
    # GIVEN the site was published, and a template fault now breaks the resolved incident's page
    monkeypatch.setenv("TEMPLATES_DIR", str(ROOT / "templates"))
    settings.reset_settings()
    publish_site(now=noon)
    before = bucket_objects(bucket)
    monkeypatch.setenv("TEMPLATES_DIR", str(templates_that_break_one_incident_page))
    settings.reset_settings()
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    # WHEN Facebook's incident changes and the page is published
    incident = next(i for i in site_with_facebook_down.incidents() if i.id == "01facebook000001")
    site_with_facebook_down.save_incident(incident.replace(name="Facebook is back, mostly"))
    result = publish_site(now=noon + timedelta(minutes=1))
    # THEN the broken page is withheld (in each language), named with its problem, and its last good copy stays live
    withheld, in_german = result.withheld
    assert (withheld.key, withheld.incident_id) == ("incidents/01resolved000001.html", "01resolved000001")
    assert (in_german.key, in_german.incident_id) == ("de/incidents/01resolved000001.html", "01resolved000001")
    assert "runbooks/01resolved000001.html" in withheld.problems[0]
    after = bucket_objects(bucket)
    assert after["incidents/01resolved000001.html"] == before["incidents/01resolved000001.html"]
    # AND everything else went out: the changed incident, the index, the JSON and the feeds
    assert {"incidents/01facebook000001.html", "index.html", "api/v2/summary.json", "history.atom"} <= set(
        result.uploaded)
    assert b"Facebook is back, mostly" in after["history.atom"]
    # AND the problem is logged and counted for the alarm
    assert any("incidents/01resolved000001.html was not published" in r.getMessage() for r in caplog.records)
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["PageObjectsWithheld"] for m in metrics if "PageObjectsWithheld" in m] == [[2.0]]
