"""The OpenAPI document describes exactly the app's routes, with bodies, responses and security."""
import app as beacon_app
from chalicelib.api.openapi import openapi_document


def test_the_document_and_the_app_have_the_same_routes():
    # GIVEN every blueprint registered in app.py
    in_app = {(path, method) for path, route in beacon_app.app.routes.items() for method in route}
    # WHEN the document is generated
    document = openapi_document()
    in_document = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    # THEN neither has a route the other lacks
    assert in_app - in_document == set(), "routes the document does not describe"
    assert in_document - in_app == set(), "documented routes the app does not serve"


def test_writes_document_their_body_and_errors_and_need_a_key():
    operation = openapi_document()["paths"]["/incidents"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CreateIncident"}
    assert {"201", "401", "403", "409", "413", "422"} <= set(operation["responses"])
    assert operation["security"] == [{"bearer": []}]
    schemas = openapi_document()["components"]["schemas"]
    assert schemas["CreateIncident"]["additionalProperties"] is False
    assert "IncidentOut" in schemas and "Error" in schemas


def test_public_routes_need_no_key():
    assert openapi_document()["paths"]["/health"]["get"]["security"] == []
