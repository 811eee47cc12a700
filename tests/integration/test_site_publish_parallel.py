"""Parallel, resumable publishing with deletes, against the bucket and table on the emulator."""
import json
import threading
import time
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws as aws_clients
from chalicelib import settings
from chalicelib.site import publish
from chalicelib.site.publish import (
    ENTRY_POINTS, MANIFEST_PK, PART_PREFIX, Publisher, checked_stream, digest, split_manifest, upload_rank,
)
from chalicelib.site.render import SiteObject, SiteRender, render_site
from chalicelib.site.snapshot import build_snapshot
from chalicelib.site.validate import _broken_links
from tests.conftest import ROOT
from tests import site_scenarios
from tests.site_scenarios import bucket_objects, facebook_outage, past_incidents

bucket = site_scenarios.bucket  # the page bucket's fixture


class Killed(BaseException):
    """The runtime stopping the function (a timeout): no code of the publish runs after it."""


class S3FailingAfter:
    """The real emulator-backed client; ``put_object`` fails once ``puts`` of them have succeeded."""

    def __init__(self, puts: int, error: BaseException | None = None):
        self.real = aws_clients.client("s3", max_pool_connections=32)
        self.left = puts
        self.error = error or ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "PutObject")
        self.lock = threading.Lock()

    def put_object(self, **kwargs):
        with self.lock:
            if self.left == 0:
                raise self.error
            self.left -= 1
        return self.real.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


class S3Recording:
    """The real client, each upload taking 20 ms as over a network; records calls and uploads in flight."""

    def __init__(self):
        self.real = aws_clients.client("s3", max_pool_connections=32)
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.calls: list[tuple[str, str, float, float]] = []  # (operation, key, started, ended)

    def put_object(self, **kwargs):
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        started = time.perf_counter()
        try:
            time.sleep(0.02)
            return self.real.put_object(**kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.calls.append(("put", kwargs["Key"], started, time.perf_counter()))

    def delete_objects(self, **kwargs):
        started = time.perf_counter()
        response = self.real.delete_objects(**kwargs)
        with self.lock:
            self.calls += [("delete", o["Key"], started, time.perf_counter()) for o in kwargs["Delete"]["Objects"]]
        return response

    def __getattr__(self, name):
        return getattr(self.real, name)


def snapshot_of(example_site, noon, incidents=60, dropped=()):
    """The example site on a bad day with ``incidents`` past incidents."""
    states, current, notices = facebook_outage(example_site, noon)
    past = past_incidents(incidents, noon, [c.id for c in example_site.components], updates=2)
    records = [i for i in current + past if i.id not in dropped]
    return build_snapshot(example_site, states, records, notices, noon, since=noon - timedelta(days=30),
                          api_url="https://api.beacon.test")


def render(example_site, noon, incidents=60, dropped=()):
    """A full render of the example site on a bad day with ``incidents`` past incidents."""
    return render_site(snapshot_of(example_site, noon, incidents, dropped), ROOT / "templates")


def publisher(table, bucket, s3=None, **options) -> Publisher:
    return Publisher(s3 or aws_clients.client("s3", max_pool_connections=32), bucket, table, **options)


def recorded(table) -> dict[str, str]:
    return publisher(table, "unused", concurrency=1).read_manifest().objects


def test_a_publish_that_fails_half_way_is_completed_by_the_next_which_uploads_only_what_was_missing(
        table, bucket, example_site, noon):
    # GIVEN a first publish of the whole site, S3 failing after half of its uploads
    site = render(example_site, noon)
    half = len(site) // 2
    with pytest.raises(ClientError):
        publisher(table, bucket, S3FailingAfter(half)).publish(site, now=noon, complete=True)
    # THEN a reader finds no index yet, and what is there is the render's own bytes
    during = bucket_objects(bucket)
    assert not set(ENTRY_POINTS) & set(during)
    assert len(during) == half and all(during[o.key] == o.body for o in site if o.key in during)
    # WHEN the next publish runs without a fault
    result = publisher(table, bucket).publish(site, now=noon, complete=True)
    # THEN it uploads only what the first did not, and the bucket holds the render byte for byte
    assert len(result.uploaded) == len(site) - half and result.unchanged == half
    assert bucket_objects(bucket) == {o.key: o.body for o in site}
    assert recorded(table) == {o.key: digest(o) for o in site}


def test_a_publish_stopped_without_warning_resumes_from_its_last_recorded_progress(table, bucket, example_site, noon):
    # GIVEN a publish killed half-way, recording its progress every 10 uploads
    site = render(example_site, noon)
    half = len(site) // 2
    killed = publisher(table, bucket, S3FailingAfter(half, Killed()), checkpoint_objects=10)
    with pytest.raises(Killed):
        killed.publish(site, now=noon)
    done = {key for key, value in recorded(table).items() if value == digest(next(o for o in site if o.key == key))}
    # THEN progress up to its last record survived the kill (all but what was in flight), and no entry point went up
    assert half - 10 - killed.concurrency <= len(done) <= half and not set(ENTRY_POINTS) & set(bucket_objects(bucket))
    # WHEN the next publish runs, it uploads only what was not recorded
    result = publisher(table, bucket).publish(site, now=noon)
    assert len(result.uploaded) == len(site) - len(done)
    assert bucket_objects(bucket) == {o.key: o.body for o in site}


def test_while_a_publish_fails_half_way_readers_keep_the_previous_index_and_every_link_in_it_resolves(
        table, bucket, example_site, noon):
    # GIVEN the site published with 5 past incidents
    before = render(example_site, noon, incidents=5)
    publisher(table, bucket).publish(before, now=noon, complete=True)
    previous = bucket_objects(bucket)
    # WHEN 55 more incidents are published and S3 fails after 20 uploads
    later = noon + timedelta(minutes=5)
    after = render(example_site, later, incidents=60)
    with pytest.raises(ClientError):
        publisher(table, bucket, S3FailingAfter(20)).publish(after, now=later, complete=True)
    # THEN the index is the previous one, and every page it links to is in the bucket
    during = bucket_objects(bucket)
    assert during["index.html"] == previous["index.html"]
    assert during["api/v2/summary.json"] == previous["api/v2/summary.json"]
    assert not _broken_links("index.html", during["index.html"].decode(), set(during))
    # AND the next publish completes it
    publisher(table, bucket).publish(after, now=later, complete=True)
    assert bucket_objects(bucket) == {o.key: o.body for o in after}


def test_uploads_run_in_parallel_up_to_the_setting_and_rank_by_rank_with_entry_points_last(
        table, bucket, example_site, noon, monkeypatch):
    # GIVEN a concurrency of 4 set for the deployment
    monkeypatch.setenv("PUBLISH_CONCURRENCY", "4")
    settings.reset_settings()
    s3 = S3Recording()
    site = render(example_site, noon)
    # WHEN the whole site is published
    result = publisher(table, bucket, s3).publish(site, now=noon)
    # THEN up to 4 uploads were in flight at once, never more
    assert 1 < s3.most_in_flight <= 4
    # AND every upload of a rank ended before any of a later rank started; the entry points went up last, one by one
    puts = [(upload_rank(key), started, ended) for _, key, started, ended in s3.calls]
    for rank, started, _ in puts:
        assert all(ended <= started for other, _, ended in puts if other < rank), rank
    assert result.uploaded[-2:] == list(ENTRY_POINTS)
    assert sorted(s3.calls, key=lambda call: call[2])[-2:][0][1] == ENTRY_POINTS[0]
    assert bucket_objects(bucket) == {o.key: o.body for o in site}


def test_a_full_publish_deletes_the_page_of_a_deleted_incident_after_the_entry_points_and_nothing_placed_by_hand(
        table, bucket, example_site, noon):
    # GIVEN the site published, and an object placed in the bucket by hand
    site = render(example_site, noon, incidents=5)
    publisher(table, bucket).publish(site, now=noon, complete=True)
    s3 = S3Recording()
    s3.real.put_object(Bucket=bucket, Key="hand/notes.html", Body=b"placed by hand")
    gone = "incidents/0past00000000003.html"
    # WHEN the incident is deleted and the whole site published again
    later = noon + timedelta(minutes=1)
    without = render(example_site, later, incidents=5, dropped=("0past00000000003",))
    result = publisher(table, bucket, s3).publish(without, now=later, complete=True)
    # THEN its page (in each language) is deleted, after the entry points went up, and the hand-placed object stays
    assert result.deleted == [f"de/{gone}", gone]
    live = bucket_objects(bucket)
    assert live == {**{o.key: o.body for o in without}, "hand/notes.html": b"placed by hand"}
    summary_put = next(ended for op, key, _, ended in s3.calls if op == "put" and key == ENTRY_POINTS[-1])
    assert next(started for op, key, started, _ in s3.calls if op == "delete") >= summary_put
    assert gone not in recorded(table)


def test_a_partial_publish_keeps_what_it_did_not_render_and_removes_only_recorded_keys_it_names(
        table, bucket, example_site, noon):
    # GIVEN the site published, and an object placed by hand
    site = render(example_site, noon, incidents=5)
    publisher(table, bucket).publish(site, now=noon, complete=True)
    s3 = aws_clients.client("s3", max_pool_connections=32)
    s3.put_object(Bucket=bucket, Key="hand/notes.html", Body=b"placed by hand")
    page = "incidents/0past00000000002.html"
    changed = SiteObject("incidents/0past00000000001.html", b"<p>new</p>", "text/html; charset=utf-8")
    # WHEN a partial publish uploads one page and asks to remove another and the hand-placed object
    result = publisher(table, bucket).publish([changed], now=noon, remove=[page, "hand/notes.html"])
    # THEN only the recorded page is deleted; everything it did not render is kept, in the bucket and the manifest
    assert result.uploaded == [changed.key] and result.deleted == [page]
    live = bucket_objects(bucket)
    expected = {o.key: o.body for o in site if o.key != page} | {changed.key: changed.body,
                                                                 "hand/notes.html": b"placed by hand"}
    assert live == expected
    assert recorded(table) == {o.key: digest(o) for o in site if o.key != page} | {changed.key: digest(changed)}
    # AND a full publish that keeps a withheld page does not delete it
    dropped = [o.key for o in site if o.key.startswith("badges/")][:3]
    kept = publisher(table, bucket).publish([o for o in site if o.key not in dropped], now=noon, complete=True,
                                            keep=[dropped[0]])
    assert set(kept.deleted) == set(dropped[1:])


def test_a_manifest_of_6000_objects_is_split_into_items_under_the_dynamodb_limit():
    objects = {f"incidents/0past{n:011d}.html": "0123456789abcdef" * 2 for n in range(6000)}
    whole = len(json.dumps(objects, separators=(",", ":")))
    parts = split_manifest(objects)
    assert whole > 400 * 1024  # one item could not hold it
    assert len(parts) > 1 and all(len(json.dumps(p, separators=(",", ":"))) < 350 * 1024 for p in parts)
    assert {k: v for part in parts for k, v in part.items()} == objects


def test_a_manifest_in_several_parts_resumes_and_keeps_no_replaced_part(table, bucket, example_site, noon,
                                                                       monkeypatch):
    # GIVEN parts small enough that this site's manifest needs several
    monkeypatch.setattr(publish, "PART_BYTES", 1500)
    site = render(example_site, noon)
    with pytest.raises(ClientError):
        publisher(table, bucket, S3FailingAfter(30)).publish(site, now=noon)
    # WHEN publishing again, then once more with nothing new, then with one page changed
    assert len(publisher(table, bucket).publish(site, now=noon).uploaded) == len(site) - 30
    assert publisher(table, bucket).publish(site, now=noon).uploaded == []
    changed = SiteObject("index.html", b"<p>new</p>", "text/html; charset=utf-8")
    assert publisher(table, bucket).publish([changed], now=noon).uploaded == ["index.html"]
    # THEN the head lists several parts, exactly the part items stored, and they hold the whole site
    head = table.get(MANIFEST_PK, "published")
    stored = [item.sk for item in table.query_all(MANIFEST_PK, prefix=PART_PREFIX)]
    assert len(head.children) > 1 and sorted(head.children) == sorted(stored)
    assert recorded(table) == {o.key: digest(o) for o in site} | {"index.html": digest(changed)}


class S3CountingStream:
    """The real client; at each upload notes how many objects the stream had handed on by then."""

    def __init__(self):
        self.real = aws_clients.client("s3", max_pool_connections=32)
        self.handed = 0
        self.lock = threading.Lock()
        self.puts: list[tuple[int, int]] = []  # (objects handed on, uploads started before this one)

    def stream(self, objects):
        for obj in objects:
            with self.lock:
                self.handed += 1
            yield obj

    def put_object(self, **kwargs):
        with self.lock:
            self.puts.append((self.handed, len(self.puts)))
        return self.real.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_streamed_publish_uploads_pages_while_it_renders_them_and_never_holds_the_whole_site(
        table, bucket, example_site, noon):
    # GIVEN a render of 300 past incidents, checked as it is read
    snapshot = snapshot_of(example_site, noon, incidents=300)
    rendered = SiteRender(snapshot, ROOT / "templates")
    checked = checked_stream(rendered)
    s3 = S3CountingStream()
    # WHEN it is published as one stream, 4 uploads at a time
    result = publisher(table, bucket, s3, concurrency=4).publish(s3.stream(checked.objects), now=noon,
                                                                 complete=True, rendered=checked.keys)
    # THEN pages went up before the last was rendered
    total = s3.handed
    assert total == len(rendered.keys) and s3.puts[0][0] < total
    # AND the stream never ran further ahead of the uploads than what it holds for last and what the pool queues
    ahead = max(handed - started for handed, started in s3.puts)
    assert ahead <= len(rendered.first) + publish.QUEUED_PER_THREAD * 4 + 1
    # AND the bucket and the manifest hold what a render held whole gives, entry points last
    whole = render_site(snapshot, ROOT / "templates")
    assert result.uploaded[-2:] == list(ENTRY_POINTS) and not checked.withheld
    assert bucket_objects(bucket) == {o.key: o.body for o in whole}
    assert recorded(table) == {o.key: digest(o) for o in whole}


def test_a_render_failing_half_way_through_its_stream_changes_no_entry_point_and_the_next_publish_resumes(
        table, bucket, example_site, noon):
    # GIVEN the site published with 5 past incidents
    publisher(table, bucket).publish(render(example_site, noon, incidents=5), now=noon, complete=True)
    previous = bucket_objects(bucket)
    # WHEN 55 more incidents are published as a stream whose render fails after 20 incident pages
    later = noon + timedelta(minutes=5)
    rendered = SiteRender(snapshot_of(example_site, later, incidents=60), ROOT / "templates")

    def failing(objects):
        for count, obj in enumerate(objects):
            if count == len(rendered.first) + 20:
                raise RuntimeError("a template failed")
            yield obj

    with pytest.raises(RuntimeError):
        publisher(table, bucket).publish(failing(checked_stream(rendered)), now=later, complete=True,
                                         rendered=rendered.keys)
    # THEN only incident pages (and the hashed script) went up; the index and all it lists are the previous ones
    during = bucket_objects(bucket)
    changed = {key for key in during if previous.get(key) != during[key]}
    assert changed and all(key.removeprefix("de/").startswith(("incidents/", "assets/")) for key in changed)
    assert not _broken_links("index.html", during["index.html"].decode(), set(during))
    # AND they were recorded: the next publish uploads only the rest and ends equal to a full render
    after = render(example_site, later, incidents=60)
    result = publisher(table, bucket).publish(after, now=later, complete=True)
    assert not changed & set(result.uploaded)
    assert bucket_objects(bucket) == {o.key: o.body for o in after}
    assert recorded(table) == {o.key: digest(o) for o in after}


def test_checkpoints_record_only_what_went_up_since_the_last_and_the_publish_ends_with_the_whole_manifest(
        table, bucket, example_site, noon):
    # GIVEN a publish killed half-way, recording its progress every 10 uploads
    site = render(example_site, noon)
    killed = publisher(table, bucket, S3FailingAfter(len(site) // 2, Killed()), checkpoint_objects=10)
    with pytest.raises(Killed):
        killed.publish(site, now=noon)
    # THEN each checkpoint wrote one more part holding only its own uploads (about 10), none repeated
    head = table.get(MANIFEST_PK, "published")
    parts = [table.get(MANIFEST_PK, sk).data for sk in head.children]
    assert len(parts) >= 3 and all(len(part) <= 10 + killed.concurrency for part in parts)
    assert sum(len(part) for part in parts) == len(recorded(table))
    # WHEN the next publish completes the site, as a full publish
    publisher(table, bucket).publish(site, now=noon, complete=True)
    # THEN the manifest is whole again: as many parts as its size asks, exactly the part items stored
    head = table.get(MANIFEST_PK, "published")
    stored = [item.sk for item in table.query_all(MANIFEST_PK, prefix=PART_PREFIX)]
    assert len(head.children) == len(split_manifest(recorded(table))) and sorted(head.children) == sorted(stored)
    assert recorded(table) == {o.key: digest(o) for o in site}


def test_a_partial_publish_records_its_few_objects_as_one_small_part_and_a_full_one_compacts(
        table, bucket, example_site, noon):
    # GIVEN the site published whole
    site = render(example_site, noon)
    publisher(table, bucket).publish(site, now=noon, complete=True)
    whole = table.get(MANIFEST_PK, "published").children
    # WHEN two partial publishes each change one object (the republish after a write)
    changed = []
    for n in range(2):
        page = SiteObject(f"incidents/new{n}.html", f"<p>{n}</p>".encode(), "text/html; charset=utf-8")
        publisher(table, bucket).publish([page], now=noon)
        changed.append(page)
    # THEN each appended one part holding only its object; the parts written before are untouched
    head = table.get(MANIFEST_PK, "published")
    assert list(head.children[:len(whole)]) == list(whole) and len(head.children) == len(whole) + 2
    assert [table.get(MANIFEST_PK, sk).data for sk in head.children[len(whole):]] == [
        {page.key: digest(page)} for page in changed]
    assert recorded(table) == {o.key: digest(o) for o in [*site, *changed]}
    # WHEN a full publish follows
    publisher(table, bucket).publish([*site, *changed], now=noon, complete=True)
    # THEN the manifest is whole again, its small parts gone
    head = table.get(MANIFEST_PK, "published")
    stored = [item.sk for item in table.query_all(MANIFEST_PK, prefix=PART_PREFIX)]
    assert len(head.children) == len(split_manifest(recorded(table))) and sorted(head.children) == sorted(stored)
    assert recorded(table) == {o.key: digest(o) for o in [*site, *changed]}
