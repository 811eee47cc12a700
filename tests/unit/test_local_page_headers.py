"""The local page server's security headers come from the distribution's response headers policy in the template."""
import pytest

from tools.local.provision import load_template
from tools.local.static import policy_headers


def template_with_security_headers(config: dict) -> dict:
    policy = {"ResponseHeadersPolicyConfig": {"Name": "page", "SecurityHeadersConfig": config}}
    return {"Resources": {"PageResponseHeadersPolicy": {"Properties": policy}}}


def test_the_template_policy_becomes_the_headers_cloudfront_sends_with_the_local_api_admitted():
    headers = policy_headers(load_template(), "http://127.0.0.1:8000")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    csp = headers["Content-Security-Policy"]
    assert "connect-src 'self' http://127.0.0.1:8000;" in csp and "form-action http://127.0.0.1:8000;" in csp
    # API Gateway's origin exists only on AWS: it is left out rather than invented
    assert "execute-api" not in csp and "${" not in csp


def test_a_policy_header_the_local_server_cannot_send_is_refused_with_the_file_and_the_fix():
    template = template_with_security_headers({"XSSProtection": {"Override": True, "Protection": True}})
    with pytest.raises(ValueError) as refused:
        policy_headers(template, "http://127.0.0.1:8000")
    assert "infra/resources.json" in str(refused.value) and "XSSProtection" in str(refused.value)
    assert "tools/local/static.py" in str(refused.value)
