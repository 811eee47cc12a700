"""What a reconciling publish uploads: the manifest's changes plus what the bucket's listing lacks or holds otherwise."""
import hashlib

from tools.local.provision import load_template
from chalicelib.site.publish import digest, plan_uploads, stored_etag
from chalicelib.site.render import SiteObject


def obj(key, body=b"x"):
    return SiteObject(key, body, "text/plain")


SITE = [obj("index.html"), obj("history.html"), obj("assets/a.js"), obj("robots.txt")]
MANIFEST = {o.key: digest(o) for o in SITE}


def test_the_etag_of_a_single_put_is_the_quoted_md5_of_the_body():
    body = b"User-agent: *\n"
    assert stored_etag(obj("robots.txt", body)) == '"' + hashlib.md5(body).hexdigest() + '"'


def test_objects_missing_from_the_bucket_or_holding_other_bytes_go_up_in_order_though_the_manifest_lists_them():
    # GIVEN a bucket that lost the script and index.html and holds other bytes at robots.txt
    listing = {"history.html": stored_etag(obj("history.html")), "robots.txt": stored_etag(obj("robots.txt", b"junk")),
               "stray.html": '"0"'}
    # WHEN planning with the listing
    planned = [o.key for o in plan_uploads(SITE, MANIFEST, listing)]
    # THEN exactly those go up, assets first and the entry point last; a stray object is left alone
    assert planned == ["assets/a.js", "robots.txt", "index.html"]


def test_a_multipart_etag_cannot_be_checked_and_counts_as_changed():
    listing = {o.key: stored_etag(o) for o in SITE} | {"robots.txt": '"9b2cf535f27731c974343645a3985328-1"'}
    assert [o.key for o in plan_uploads(SITE, MANIFEST, listing)] == ["robots.txt"]


def test_a_healthy_bucket_adds_nothing_to_the_manifests_plan():
    listing = {o.key: stored_etag(o) for o in SITE}
    assert plan_uploads(SITE, MANIFEST, listing) == plan_uploads(SITE, MANIFEST) == []


def test_the_page_bucket_keeps_etags_checkable():
    # SSE-KMS would make every ETag unlike the body's MD5, and every reconcile would upload the whole site.
    bucket = load_template()["Resources"]["PageBucket"]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
