"""Publishing the page to the bucket: only changes go up, and a failure keeps the last good page."""
import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib import aws as aws_clients
from chalicelib.site.publish import Publisher
from chalicelib.site.render import SiteObject
from chalicelib.site.service import publish_site


def bucket_objects(bucket):
    s3 = boto3.client("s3")
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_publish_renders_the_example_site_and_skips_unchanged_objects(aws, noon):
    first = publish_site(now=noon)
    assert "index.html" in first.uploaded
    page = bucket_objects(aws.environment["BUCKET_NAME"])["index.html"].decode()
    assert "Lumen Coffee Roasters" in page and "All Systems Operational" in page
    head = boto3.client("s3").head_object(Bucket=aws.environment["BUCKET_NAME"], Key="index.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert "stale-if-error" in head["CacheControl"]
    # WHEN nothing changed  THEN nothing is uploaded again
    assert publish_site(now=noon).uploaded == []


class FailingS3:
    """The real emulator-backed client, made to fail on one key, as S3 can mid-publish."""

    def __init__(self, fail_on):
        self.real = aws_clients.client("s3")
        self.fail_on = fail_on

    def put_object(self, **kwargs):
        if kwargs["Key"] == self.fail_on:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "injected"}}, "PutObject")
        return self.real.put_object(**kwargs)


def objects(version):
    return [
        SiteObject("incidents/a.html", f"incident v{version}".encode(), "text/html; charset=utf-8"),
        SiteObject("index.html", f"index v{version}".encode(), "text/html; charset=utf-8"),
    ]


def test_failed_publish_keeps_the_live_entry_point_and_the_next_one_repairs(table, aws):
    bucket = aws.environment["BUCKET_NAME"]
    Publisher(aws_clients.client("s3"), bucket, table).publish(objects(1))
    # WHEN S3 fails on the entry point during the next publish
    with pytest.raises(ClientError):
        Publisher(FailingS3("index.html"), bucket, table).publish(objects(2))
    # THEN the new page went up before the entry point, and the entry point is the old one
    assert bucket_objects(bucket) == {"incidents/a.html": b"incident v2", "index.html": b"index v1"}
    # AND the next publish completes the site
    result = Publisher(aws_clients.client("s3"), bucket, table).publish(objects(2))
    assert "index.html" in result.uploaded
    assert bucket_objects(bucket) == {"incidents/a.html": b"incident v2", "index.html": b"index v2"}
