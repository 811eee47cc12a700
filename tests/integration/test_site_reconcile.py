"""The bucket heals: a reconciling publish restores what was lost or changed in the bucket behind the manifest's back."""
import hashlib
from datetime import timedelta

import boto3
import pytest

from chalicelib.site.publish import ENTRY_POINTS
from chalicelib.site.service import publish_site
from chalicelib.store.records import StateStore
from tests.site_scenarios import bucket, bucket_objects, save_facebook_outage  # noqa: F401

INCIDENT_PAGE = "incidents/01facebook000001.html"


@pytest.fixture
def published_site_with_facebook_down(table, example_site, bucket, noon):
    save_facebook_outage(StateStore(table), example_site, noon)
    publish_site(now=noon)
    return bucket_objects(bucket)


@pytest.fixture
def bucket_damaged_by_hand(published_site_with_facebook_down, bucket):
    """GIVEN someone deleted the script and an incident page and overwrote the summary and robots.txt by hand."""
    s3 = boto3.client("s3")
    script = next(key for key in published_site_with_facebook_down if key.startswith("assets/"))
    for key in (script, INCIDENT_PAGE):
        s3.delete_object(Bucket=bucket, Key=key)
    for key in ("api/v2/summary.json", "robots.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"replaced by hand", ContentType="text/plain")
    return {"deleted": [script, INCIDENT_PAGE], "changed": ["api/v2/summary.json", "robots.txt"]}


def test_a_reconciling_publish_brings_back_what_was_deleted_or_changed_in_the_bucket(
        published_site_with_facebook_down, bucket_damaged_by_hand, bucket, noon):
    before = published_site_with_facebook_down
    damaged = bucket_damaged_by_hand["deleted"] + bucket_damaged_by_hand["changed"]
    # WHEN a publish triggered by a write runs, it trusts its manifest and repairs nothing
    assert not set(damaged) & set(publish_site(now=noon).uploaded)
    # WHEN a reconciling publish runs with nothing new to show
    result = publish_site(now=noon, reconcile=True)
    # THEN exactly the damaged objects went up again, in the safe order (assets first, entry points last)
    assert sorted(result.uploaded) == sorted(result.restored) == sorted(damaged)
    assert result.uploaded[0].startswith("assets/") and result.uploaded[-1] == "api/v2/summary.json"
    # AND the bucket holds the published site byte for byte, with its headers
    assert bucket_objects(bucket) == before
    head = boto3.client("s3").head_object(Bucket=bucket, Key="api/v2/summary.json")
    assert head["ContentType"] == "application/json; charset=utf-8"
    # AND the next reconcile finds nothing to do
    assert publish_site(now=noon, reconcile=True).uploaded == []


def test_a_healthy_bucket_costs_a_reconciling_publish_no_extra_upload(published_site_with_facebook_down, noon):
    # WHEN nothing changed, a reconcile uploads nothing
    assert publish_site(now=noon, reconcile=True).uploaded == []
    # WHEN only the clock moved, it uploads what a plain publish would: the page's timestamp
    moved = publish_site(now=noon + timedelta(minutes=1), reconcile=True)
    assert moved.uploaded == ["de/index.html", "index.html"] and moved.restored == []
    assert publish_site(now=noon + timedelta(minutes=2)).uploaded == ["de/index.html", "index.html"]


def test_an_object_uploaded_in_parts_by_hand_is_replaced_once_by_a_single_put(published_site_with_facebook_down,
                                                                               bucket, noon):
    # GIVEN robots.txt re-uploaded by hand with its own bytes as a multipart upload: its ETag is not an MD5
    s3 = boto3.client("s3")
    body = published_site_with_facebook_down["robots.txt"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="robots.txt", ContentType="text/plain; charset=utf-8")
    part = s3.upload_part(Bucket=bucket, Key="robots.txt", UploadId=upload["UploadId"], PartNumber=1, Body=body)
    s3.complete_multipart_upload(Bucket=bucket, Key="robots.txt", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    assert s3.head_object(Bucket=bucket, Key="robots.txt")["ETag"] != f'"{hashlib.md5(body).hexdigest()}"'
    # WHEN reconciling twice
    first = publish_site(now=noon, reconcile=True).uploaded
    second = publish_site(now=noon, reconcile=True).uploaded
    # THEN the object that could not be checked is replaced once, and is checkable from then on
    assert first == ["robots.txt"] and second == []
    assert s3.head_object(Bucket=bucket, Key="robots.txt")["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'


def test_the_scheduled_publish_reconciles(published_site_with_facebook_down, bucket_damaged_by_hand, bucket):
    import app as beacon
    from tools.local.runner import Scheduler

    # WHEN the five-minute schedule fires, as Lambda (and the local stack) invoke it
    answer = Scheduler(beacon.app).invoke("publish_site")
    # THEN the objects that do not depend on the clock are back byte for byte
    after = bucket_objects(bucket)
    script = bucket_damaged_by_hand["deleted"][0]
    assert after[script] == published_site_with_facebook_down[script]
    assert after["robots.txt"] == published_site_with_facebook_down["robots.txt"]
    # AND the damaged JSON and incident page are real documents again, uploaded before the entry points
    assert after["api/v2/summary.json"].startswith(b"{") and INCIDENT_PAGE in after
    assert answer["uploaded"] >= len(bucket_damaged_by_hand["deleted"] + bucket_damaged_by_hand["changed"])
    assert answer["restored"] >= 2  # at least the script and robots.txt, which no clock changes


def test_entry_points_still_go_up_last_when_reconciling(published_site_with_facebook_down, bucket, noon):
    # GIVEN both entry points and a badge lost from the bucket
    s3 = boto3.client("s3")
    for key in (*ENTRY_POINTS, "badges/facebook.svg"):
        s3.delete_object(Bucket=bucket, Key=key)
    # WHEN reconciling
    uploaded = publish_site(now=noon, reconcile=True).uploaded
    # THEN the badge the page links to is back before the page
    assert uploaded == ["badges/facebook.svg", *ENTRY_POINTS]
