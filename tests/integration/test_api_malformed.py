"""Malformed requests, over real HTTP: every answer is a 4xx in the API's JSON error shape, never a 5xx.

An unexpected exception answers 500 in the same shape, with the request id and no internals.
"""
import json
import logging

import pytest
import requests

from chalicelib.notify.model import Channel
from chalicelib.store.subscribers import SubscriberStore
from tests.conftest import _forget_caches
from tests.integration.api_server import api, api_server  # noqa: F401

JSON = {"Content-Type": "application/json"}


def error_of(response: requests.Response) -> dict:
    """The answer's JSON error, after checking it has the documented shape."""
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    body = response.json()
    assert {"error", "message"} <= set(body) <= {"error", "message", "fields"}, body
    assert isinstance(body["error"], str) and body["message"], body
    return body


def test_json_nested_deeper_than_the_limit_is_a_400_that_says_so(api):
    # GIVEN a body of 50,000 opening brackets (json.loads would raise RecursionError)
    deep = "[" * 50_000
    # WHEN it is posted to a write route
    response = api.send("POST", "/incidents", data=deep, secret=api.admin_secret, headers=JSON)
    # THEN it is a 400 naming the limit
    assert response.status_code == 400
    assert "nested deeper than 200 levels" in error_of(response)["message"]


def test_json_that_is_not_strict_json_is_a_400(api):
    # GIVEN NaN, which Python's json module accepts and no JSON client sends
    response = api.send("POST", "/incidents", data='{"name": NaN, "body": "b"}', headers=JSON)
    assert response.status_code == 400 and error_of(response)["error"] == "bad_request"


@pytest.fixture
def confirmed_subscriber(api, table):
    """GIVEN a subscriber who signed up by email: links carry their id and a token."""
    requests.post(api.url + "/subscribers", json={"email": "mia@example.com"}, timeout=10,
                  headers={"Accept": "application/json"}).raise_for_status()
    return SubscriberStore(table).find(Channel.EMAIL, "mia@example.com")


@pytest.mark.parametrize("link", ["unsubscribe", "manage"])
def test_a_link_token_with_non_ascii_characters_is_a_400_naming_the_parameter(api, confirmed_subscriber, link):
    # WHEN the link is followed with a token a mail client mangled into non-ASCII characters
    for method in ("GET", "POST"):
        response = requests.request(method, f"{api.url}/subscribers/{confirmed_subscriber.id}/{link}",
                                    params={"token": "é" * 8}, headers={"Accept": "application/json"}, timeout=10)
        # THEN it is refused as a bad request, naming the parameter, not a server error
        assert response.status_code == 400, response.text
        body = error_of(response)
        assert "'token'" in body["message"] and body["fields"][0]["field"] == "token"


@pytest.mark.parametrize("path", ["/heartbeat/%C3%A9t%C3%A9", "/incidents/..%2Fkeys", "/subscribers/%C3%A9/manage"])
def test_a_path_parameter_that_is_not_an_id_is_a_404_saying_what_ids_look_like(api, path):
    response = requests.get(api.url + path, headers=api.headers(api.admin_secret), timeout=10)
    assert response.status_code == 404
    assert "ids and tokens are letters, digits" in error_of(response)["message"]


def test_a_body_in_an_unknown_charset_or_type_is_a_415_in_the_json_shape(api):
    # GIVEN a form in a charset nobody knows, sent to a route that takes JSON
    response = api.send("POST", "/incidents", data=b"name=x&body=y", secret=api.admin_secret,
                               headers={"Content-Type": "application/x-www-form-urlencoded; charset=unknown-8bit"})
    # THEN the answer is 415 in the API's shape, saying what to send
    assert response.status_code == 415
    body = error_of(response)
    assert body["error"] == "unsupported_media_type" and "send application/json" in body["message"]
    xml = api.send("POST", "/incidents", data="<incident/>", headers={"Content-Type": "application/xml"})
    assert xml.status_code == 415 and error_of(xml)["error"] == "unsupported_media_type"


def test_a_method_a_route_lacks_is_a_405_naming_the_allowed_ones(api):
    response = api.send("PUT", "/incidents", json={})
    assert response.status_code == 405
    body = error_of(response)
    assert body["error"] == "method_not_allowed" and "PUT is not allowed on /incidents" in body["message"]
    assert "GET" in body["message"] and "POST" in body["message"]
    assert "GET" in response.headers["Allow"]


def test_a_body_over_the_limit_is_a_413(api):
    response = api.send("POST", "/incidents", data="{" + " " * 70_000 + "}", headers=JSON)
    assert response.status_code == 413 and error_of(response)["error"] == "payload_too_large"


@pytest.fixture
def api_whose_table_is_gone(api, monkeypatch):
    """GIVEN the API pointed at a DynamoDB table that does not exist: every read fails unexpectedly."""
    monkeypatch.setenv("TABLE_NAME", "beacon-table-that-was-deleted")
    _forget_caches()
    yield api
    monkeypatch.undo()
    _forget_caches()


def test_an_unexpected_exception_is_logged_with_its_trace_and_answers_500_without_internals(
        api_whose_table_is_gone, caplog):
    # WHEN a route fails in a way no code expects
    with caplog.at_level(logging.ERROR):
        response = api_whose_table_is_gone.get("/incidents")
    # THEN the client gets a 500 in the JSON shape that names the request id, and nothing of the cause
    assert response.status_code == 500
    body = error_of(response)
    assert body["error"] == "internal_error" and "request id" in body["message"]
    for internal in ("Traceback", "ResourceNotFound", "botocore", "beacon-table-that-was-deleted"):
        assert internal not in response.text
    # AND the log has the trace
    traces = [r for r in caplog.records if r.exc_info]
    assert traces and "ResourceNotFoundException" in "".join(
        logging.Formatter().formatException(r.exc_info) for r in traces)


def test_chalice_error_bodies_never_reach_a_client(api):
    # GIVEN every kind of refusal Chalice itself answers
    answers = [api.send("DELETE", "/health"),
               api.send("POST", "/subscribers", data="<a/>", headers={"Content-Type": "application/xml"})]
    # THEN none of them has Chalice's {"Code", "Message"} body
    for response in answers:
        assert 400 <= response.status_code < 500
        assert "Code" not in json.loads(response.text)
        error_of(response)


def test_a_sign_up_form_field_in_an_unknown_charset_is_a_4xx_naming_the_field(api):
    # GIVEN a multipart sign-up whose email part claims a charset nobody knows
    body = (b"--x\r\nContent-Disposition: form-data; name=\"email\"\r\n"
            b"Content-Type: text/plain; charset=unknown-8bit\r\n\r\nmia@example.com\r\n--x--\r\n")
    # WHEN it is posted to the public sign-up route
    response = requests.post(api.url + "/subscribers", data=body, timeout=10,
                             headers={"Content-Type": "multipart/form-data; boundary=x", "Accept": "application/json"})
    # THEN it is refused in the JSON shape, naming the field and the fix
    assert 400 <= response.status_code < 500, response.text
    assert "form field 'email'" in error_of(response)["message"]


def test_a_sign_up_nested_deeper_than_the_limit_is_a_4xx(api):
    # GIVEN a JSON sign-up of 10,000 opening brackets (inside the form's 16 KiB limit)
    response = requests.post(api.url + "/subscribers", data="[" * 10_000, timeout=10,
                             headers={"Content-Type": "application/json", "Accept": "application/json"})
    # THEN it is refused with the limit named, never a server error
    assert 400 <= response.status_code < 500, response.text
    assert "nested deeper than 200 levels" in error_of(response)["message"]
