"""The OpenAPI document describes exactly the app's routes, with bodies, responses and security."""
import app as beacon_app
from chalicelib.api.openapi import openapi_document

ROUTES = beacon_app.app.routes  # the first read of the route table registers every blueprint (app.py)


def test_the_document_and_the_app_have_the_same_routes():
    # GIVEN every blueprint registered in app.py
    in_app = {(path, method) for path, route in ROUTES.items() for method in route}
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


def test_a_created_record_links_to_the_routes_under_its_id():
    # GIVEN the document
    responses = openapi_document()["paths"]["/incidents"]["post"]["responses"]
    # THEN POST /incidents' 201 links to the routes that take the new incident's id
    links = responses["201"]["links"]
    assert {"get_incident", "post_update", "resolve_incident"} <= set(links)
    assert links["get_incident"] == {"operationId": "get_incident",
                                     "parameters": {"incident_id": "$response.body#/id"}}
    # AND a route nested under an id is not taken for a collection
    assert "links" not in openapi_document()["paths"]["/incidents/{incident_id}/updates"]["post"]["responses"]["201"]


def test_every_operation_documents_the_500_answer_and_the_id_pattern():
    document = openapi_document()
    operation = document["paths"]["/incidents/{incident_id}"]["get"]
    assert operation["responses"]["500"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    assert operation["parameters"][0]["schema"]["pattern"] == "^[A-Za-z0-9_-]+$"
