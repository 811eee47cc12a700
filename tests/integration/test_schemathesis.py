"""Property-based: schemathesis sends generated requests to the real local API.

Every operation of ``/openapi.json`` gets a bounded number of generated cases (valid and
invalid bodies, queries, path ids); no answer may be a server error, and every answer must
match the document (status code, content type, body schema).
"""
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

import app as beacon_app  # noqa: F401  (registers every blueprint's routes)
from chalicelib.api.openapi import openapi_document
from tests.integration.api_server import api_server, shared_api  # noqa: F401

# `chalice local`'s development server answers TRACE and CONNECT itself (501); API Gateway never
# passes them on, so only the methods the app could receive are tried on routes lacking them.
CONFIG = SchemathesisConfig.from_dict(
    {"phases": {"coverage": {"unexpected-methods": []}}})
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
