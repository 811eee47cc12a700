"""Request parsing and error shapes of the API: no network."""
import pytest

from chalicelib.api.auth import digest, new_secret
from chalicelib.api.http import BadRequest, Unprocessable, if_match_version, parse_body
from chalicelib.api.models import CreateIncident, ScheduleMaintenance


class Request:
    def __init__(self, headers=None, raw_body=b""):
        self.headers = headers or {}
        self.raw_body = raw_body


@pytest.mark.parametrize("header, version", [('"3"', 3), ("3", 3), ('W/"12"', 12)])
def test_if_match_carries_the_version_read(header, version):
    assert if_match_version(Request({"if-match": header})) == version


def test_a_malformed_if_match_says_what_to_send():
    with pytest.raises(BadRequest, match='send the ETag, e.g. If-Match: "3"'):
        if_match_version(Request({"if-match": "yesterday"}))
    assert if_match_version(Request()) is None


def test_each_bad_field_is_named_with_its_reason():
    # GIVEN a JSON body with four mistakes
    body = (b'{"name": "Upgrade", "scheduled_for": "2026-05-01T22:00:00", "scheduled_until": "tomorrow",'
            b' "components": [], "notify": "yes", "colour": "red"}')
    # WHEN it is parsed, THEN every field is named with its reason, in one answer
    with pytest.raises(Unprocessable) as caught:
        parse_body(Request(raw_body=body), ScheduleMaintenance)
    problems = {f["field"]: f["problem"] for f in caught.value.fields}
    assert problems == {
        "scheduled_for": "give a time zone, e.g. 2026-05-01T12:00:00Z",
        "scheduled_until": "'tomorrow' is not a time; use ISO-8601 with a zone, e.g. 2026-05-01T12:00:00Z",
        "components": "give at least 1 item, not 0",
        "notify": "give true or false, not 'yes'",
        "colour": "unknown field; remove it or check its spelling",
    }
    assert caught.value.message.startswith("the request body is not valid: colour: unknown field; remove it")


def test_json_is_read_strictly_and_a_form_as_people_type_it():
    # GIVEN the same boolean as a JSON string and as a form value
    as_json = Request(raw_body=b'{"name": "n", "body": "b", "notify": "true"}')
    as_form = Request({"content-type": "application/x-www-form-urlencoded"}, b"name=n&body=b&notify=true")
    # THEN JSON must give a boolean, and the form's text reads as one
    with pytest.raises(Unprocessable, match="notify: give true or false, not 'true'"):
        parse_body(as_json, CreateIncident)
    assert parse_body(as_form, CreateIncident).notify is True


def test_titles_are_trimmed_and_may_not_be_blank():
    with pytest.raises(Unprocessable, match="name: must not be empty"):
        parse_body(Request(raw_body=b'{"name": "   ", "body": "b"}'), CreateIncident)
    assert parse_body(Request(raw_body=b'{"name": " X down ", "body": "b"}'), CreateIncident).name == "X down"


def test_keys_are_long_random_and_stored_as_sha256():
    first, second = new_secret(), new_secret()
    assert first != second and len(first) == 3 + 43
    assert len(digest(first)) == 64 and digest(first) != first


# -- bodies a client can get wrong ---------------------------------------------------------------
def multipart(part_headers: str, value: bytes) -> tuple[bytes, str]:
    body = (b"--b\r\nContent-Disposition: form-data; name=\"email\"\r\n" + part_headers.encode()
            + b"\r\n\r\n" + value + b"\r\n--b--\r\n")
    return body, "multipart/form-data; boundary=b"


def test_json_nested_past_the_limit_is_a_bad_request_not_a_recursion_error():
    from chalicelib.api.http import load_json

    with pytest.raises(BadRequest, match="nested deeper than 200 levels"):
        load_json(b"[" * 100_000)
    assert load_json(b"[" * 150 + b"]" * 150)


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1} trailing', b'{"a": "\xff"}', b" "])
def test_only_strict_json_is_json(raw):
    from chalicelib.api.http import load_json

    with pytest.raises(BadRequest, match="request body"):
        load_json(raw)


def test_a_multipart_field_in_an_unknown_charset_is_a_bad_request_naming_the_field():
    from chalicelib.api.http import form_fields

    body, content_type = multipart("Content-Type: text/plain; charset=unknown-8bit", b"mia@example.com")
    with pytest.raises(BadRequest, match="form field 'email' is in charset 'unknown-8bit'.*send it as UTF-8"):
        form_fields(body, content_type)


def test_multipart_and_url_encoded_fields_are_decoded_in_their_charset():
    from chalicelib.api.http import form_fields

    body, content_type = multipart("Content-Type: text/plain; charset=iso-8859-1", "zoë@example.com".encode("latin-1"))
    assert form_fields(body, content_type) == {"email": ["zoë@example.com"]}
    assert form_fields("c=é&c=x".encode("latin-1"), "application/x-www-form-urlencoded; charset=latin-1") == {
        "c": ["é", "x"]}
    with pytest.raises(BadRequest, match="charset 'unknown-8bit'"):
        form_fields(b"email=a", "application/x-www-form-urlencoded; charset=unknown-8bit")
    with pytest.raises(BadRequest, match="not UTF-8"):
        form_fields(b"email=%FF", "application/x-www-form-urlencoded")


# -- answers ---------------------------------------------------------------------------------------
def test_chalice_own_error_answers_are_rewritten_into_the_api_shape():
    import json

    from chalice import Response
    from chalice.app import error_response

    from chalicelib.api.http import in_error_shape

    class Put:
        method, path, headers, context = "PUT", "/incidents", {}, {"requestId": "req-1"}

    method = in_error_shape(error_response("Unsupported method: PUT", "MethodNotAllowedError", 405,
                                           {"Allow": "GET, POST"}), Put())
    assert method.status_code == 405 and method.headers["Allow"] == "GET, POST"
    assert json.loads(method.body) == {"error": "method_not_allowed",
                                       "message": "PUT is not allowed on /incidents; use GET, POST"}
    crashed = in_error_shape(Response(body={"Code": "InternalServerError", "Message": "An internal server error"},
                                      status_code=500), Put())
    assert json.loads(crashed.body)["error"] == "internal_error" and "req-1" in json.loads(crashed.body)["message"]
    page = Response(body="<html>", status_code=503, headers={"Content-Type": "text/html"})
    assert in_error_shape(page, Put()) is page


def test_api_gateway_answers_its_own_errors_in_the_api_shape():
    import json

    from tests.conftest import ROOT

    # GIVEN the gateway responses merged into the API's definition
    template = json.loads((ROOT / "infra" / "resources.json").read_text())
    responses = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"][
        "x-amazon-apigateway-gateway-responses"]
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN"} <= set(responses)
    # WHEN API Gateway fills in a message, THEN every body is the API's JSON error
    for kind, response in responses.items():
        body = response["responseTemplates"]["application/json"].replace(
            "$context.error.messageString", json.dumps('Say "why"'))
        assert set(json.loads(body)) == {"error", "message"}, kind
        assert response["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"
    # AND a path or method no route has is a 404, not API Gateway's 403 "Missing Authentication Token"
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
