"""Property-based: schemathesis sends generated requests to the real local API.

Every operation of ``/openapi.json`` gets a bounded number of generated cases (valid and
invalid bodies, queries, path ids); no answer may be a server error, and every answer must
match the document (status code, content type, body schema). The stateful run then chains
operations along the document's links (create an incident, then read, update, resolve it
by the id it answered), bounded in scenarios and steps, with the same checks; the admin
key it writes with still works at its end.
"""
import time

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

import app as beacon_app
from chalicelib.api.openapi import openapi_document
from tests.integration.api_server import api_server, shared_api  # noqa: F401

ROUTES = beacon_app.app.routes  # the first read of the route table registers every blueprint (app.py)
# `chalice local`'s development server answers TRACE and CONNECT itself (501); API Gateway never
# passes them on, so only the methods the app could receive are tried on routes lacking them.
# The stateful run follows the document's own links only, not links schemathesis infers.
CONFIG = SchemathesisConfig.from_dict(
    {"phases": {"coverage": {"unexpected-methods": []}, "stateful": {"inference": {"algorithms": []}}}})
# /probes/run probes the brand's real channels over the network: not from a test.
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG).exclude(path="/probes/run")

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]


@schema.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_api_never_fails_and_keeps_to_its_document(case, shared_api):
    response = case.call(base_url=shared_api.url, headers={"Authorization": f"Bearer {shared_api.admin_secret}"},
                         timeout=20)
    case.validate_response(response, checks=CHECKS)


# Response bodies are held to the document by the test above; the chained run checks what
# chaining can break: no server error, documented status codes and content types.
STATEFUL_CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance]
Workflow = schema.as_state_machine()


class ApiWorkflow(Workflow):
    url = ""
    secret = ""

    def get_call_kwargs(self, case):
        return {"base_url": self.url, "headers": {"Authorization": f"Bearer {self.secret}"}, "timeout": 20}

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(response, checks=STATEFUL_CHECKS)


def test_chained_operations_never_fail_and_leave_the_admin_key_working(shared_api):
    # GIVEN the API and its admin key
    ApiWorkflow.url, ApiWorkflow.secret = shared_api.url, shared_api.admin_secret
    started = time.monotonic()
    # WHEN schemathesis follows the document's links from operation to operation
    ApiWorkflow.run(settings=settings(max_examples=60, stateful_step_count=8, deadline=None, derandomize=True,
                                      phases=[Phase.explicit, Phase.generate], database=None,
                                      suppress_health_check=list(HealthCheck)))
    # THEN no answer was a server error or off the document (the checks raise), within the time budget
    assert time.monotonic() - started < 90
    # AND the key it used still works: a key cannot revoke itself
    keys = requests.get(shared_api.url + "/keys", timeout=10,
                        headers={"Authorization": f"Bearer {shared_api.admin_secret}"})
    assert keys.status_code == 200
