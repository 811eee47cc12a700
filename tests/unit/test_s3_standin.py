"""The benchmarks' S3 stand-in answers boto3 as S3 would, and its delays overlap as a network's do."""
from __future__ import annotations

import base64
import hashlib
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config

from bench.s3_standin import S3StandIn, S3Store

DELAY = 0.2


def client(endpoint: str, connections: int = 1):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                        region_name="us-east-1",
                        config=Config(max_pool_connections=connections, connect_timeout=2, read_timeout=2,
                                      retries={"max_attempts": 1}, s3={"addressing_style": "path"}))


@pytest.fixture(scope="module")
def standin_without_delay():
    with S3StandIn(0) as standin:
        yield standin


@pytest.fixture(scope="module")
def standin_200ms_away():
    with S3StandIn(DELAY) as standin:
        yield standin


@pytest.fixture
def bucket_with_three_pages(standin_without_delay, request):
    s3 = client(standin_without_delay.endpoint)
    bucket = request.node.name.replace("_", "-")[:63]
    s3.create_bucket(Bucket=bucket)
    for key, body in (("index.html", b"<h1>ok</h1>"), ("incidents/a b+c.html", b"a"), ("incidents/d.html", b"d")):
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/html", CacheControl="max-age=30")
    return s3, bucket


def test_an_object_comes_back_with_its_bytes_headers_and_md5_etag(bucket_with_three_pages):
    # GIVEN a bucket holding index.html
    s3, bucket = bucket_with_three_pages
    # WHEN it is read and its head is asked for
    got = s3.get_object(Bucket=bucket, Key="index.html")
    head = s3.head_object(Bucket=bucket, Key="index.html")
    # THEN the bytes, the headers it was put with and the quoted MD5 come back
    assert got["Body"].read() == b"<h1>ok</h1>"
    assert (got["ContentType"], got["CacheControl"]) == ("text/html", "max-age=30")
    assert got["ETag"] == head["ETag"] == '"' + hashlib.md5(b"<h1>ok</h1>").hexdigest() + '"'
    assert head["ContentLength"] == len(b"<h1>ok</h1>")


def test_listing_pages_through_every_key_in_order_with_its_etag(bucket_with_three_pages):
    # GIVEN a bucket of three objects, one with a space and a plus in its key
    s3, bucket = bucket_with_three_pages
    # WHEN it is listed two keys a page, and by prefix
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2})
    listed = {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}
    under = s3.list_objects_v2(Bucket=bucket, Prefix="incidents/")
    # THEN every key comes back once, as it was put, in order
    assert list(listed) == ["incidents/a b+c.html", "incidents/d.html", "index.html"]
    assert listed["incidents/d.html"] == '"' + hashlib.md5(b"d").hexdigest() + '"'
    assert [o["Key"] for o in under["Contents"]] == ["incidents/a b+c.html", "incidents/d.html"]


def test_deleted_objects_are_gone(bucket_with_three_pages):
    # GIVEN a bucket of three objects
    s3, bucket = bucket_with_three_pages
    # WHEN two are deleted at once, quietly, and one alone
    response = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "incidents/a b+c.html"},
                                                                    {"Key": "incidents/d.html"}], "Quiet": True})
    s3.delete_object(Bucket=bucket, Key="index.html")
    # THEN none is left, and reading one is NoSuchKey
    assert response.get("Errors", []) == []
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="index.html")


def test_a_bucket_never_created_is_no_such_bucket(standin_without_delay):
    with pytest.raises(client(standin_without_delay.endpoint).exceptions.NoSuchBucket):
        client(standin_without_delay.endpoint).put_object(Bucket="never-made", Key="a", Body=b"a")


def test_a_body_whose_crc32_does_not_match_is_refused():
    # GIVEN a bucket
    store = S3Store()
    store.answer("PUT", "/pages", {}, b"")
    wrong = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    # WHEN a body comes with another body's CRC32
    answer = store.answer("PUT", "/pages/a.html", {"x-amz-checksum-crc32": wrong}, b"mine")
    # THEN it is refused and nothing is stored
    assert answer.status == 400 and b"BadDigest" in answer.body
    assert store.buckets["pages"] == {}


def test_an_aws_chunked_body_is_stored_decoded():
    # GIVEN a bucket
    store = S3Store()
    store.answer("PUT", "/pages", {}, b"")
    chunked = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:abcd\r\n\r\n"
    # WHEN a body comes aws-chunked, with a trailer
    answer = store.answer("PUT", "/pages/a.txt", {"content-encoding": "aws-chunked"}, chunked)
    # THEN the payload is stored, and its ETag is the payload's MD5
    assert answer.status == 200
    assert store.buckets["pages"]["a.txt"].body == b"hello world"
    assert answer.headers["ETag"] == '"' + hashlib.md5(b"hello world").hexdigest() + '"'


def test_requests_in_flight_at_once_wait_their_delays_side_by_side(standin_200ms_away):
    # GIVEN a stand-in answering 0.2 s after each request, and a bucket on it
    s3 = client(standin_200ms_away.endpoint, connections=8)
    s3.create_bucket(Bucket="side-by-side")
    # WHEN 8 uploads are sent at once
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: s3.put_object(Bucket="side-by-side", Key=f"{n}.html", Body=b"x"), range(8)))
    elapsed = time.perf_counter() - started
    # THEN each waited its delay, and they waited together, not one after the other
    assert DELAY <= elapsed < 3 * DELAY
    assert s3.list_objects_v2(Bucket="side-by-side")["KeyCount"] == 8
