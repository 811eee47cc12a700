"""One URL rule for the page, two implementations: the local page server's and the CloudFront function's.

Both are held to the same table of cases (tests/page_path_cases.json), and to each other on
paths built from the pieces open redirects are made of.
"""
import itertools
import json
import shutil
import subprocess

import pytest

from tools.local.page_paths import PageRequest, page_request
from tools.local.provision import load_template
from tests.conftest import ROOT

CASES = json.loads((ROOT / "tests" / "page_path_cases.json").read_text())
# Pieces of paths that have made open redirects elsewhere: doubled and encoded slashes and backslashes.
PIECES = ["/", "//", "\\", "%2F", "%2f", "%5C", "%5c", "evil.example", "x", "a.html", "%0d%0a", "%20", ".", ".."]


def expected(case: dict) -> PageRequest:
    if "serve" in case:
        return PageRequest(200, key=case["serve"])
    if "redirect" in case:
        return PageRequest(302, location=case["redirect"])
    return PageRequest(case["refuse"])


def tricky_paths() -> list[str]:
    return ["/" + "".join(pieces) for n in (1, 2, 3) for pieces in itertools.product(PIECES, repeat=n)]


def is_same_host(location: str) -> bool:
    """A path on this host: "/" alone, or "/" then a character that cannot start another authority."""
    return location == "/" or (location.startswith("/") and location[1] not in "/\\")


def cloudfront_function_code() -> str:
    """The code the template deploys, as CloudFormation joins it."""
    code = load_template()["Resources"]["PageIndexRewrite"]["Properties"]["FunctionCode"]
    if isinstance(code, dict):
        separator, lines = code["Fn::Join"]
        return separator.join(lines)
    return code


# Runs the function's code as CloudFront does: one viewer-request event per path, in a fresh context.
NODE_HARNESS = """
const vm = require('vm');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const context = vm.createContext({});
vm.runInContext(input.code, context);
const answers = input.paths.map(function (uri) {
  const out = context.handler({version: '1.0', context: {eventType: 'viewer-request'}, viewer: {ip: '192.0.2.1'},
                               request: {method: 'GET', uri: uri, querystring: {}, headers: {}, cookies: {}}});
  if (out.statusCode) {
    return {status: out.statusCode, location: out.headers && out.headers.location ? out.headers.location.value : null};
  }
  return {status: 200, key: decodeURIComponent(out.uri).slice(1)};
});
process.stdout.write(JSON.stringify(answers));
"""


def run_cloudfront_function(paths: list[str]) -> list[PageRequest]:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("Node.js runs the CloudFront function's code in this test: apt-get install nodejs")
    done = subprocess.run([node, "-e", NODE_HARNESS], input=json.dumps({"code": cloudfront_function_code(),
                                                                          "paths": paths}),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [PageRequest(a["status"], key=a.get("key"), location=a.get("location")) for a in json.loads(done.stdout)]


@pytest.mark.parametrize("case", CASES, ids=[case["path"] for case in CASES])
def test_the_local_page_server_follows_the_rule(case):
    assert page_request(case["path"]) == expected(case)


def test_the_cloudfront_function_follows_the_rule():
    # GIVEN the function's code exactly as the template deploys it
    # WHEN each case's path is requested
    answers = run_cloudfront_function([case["path"] for case in CASES])
    # THEN it answers as the table says
    for case, answer in zip(CASES, answers, strict=True):
        assert answer == expected(case), case["path"]


def test_both_agree_and_never_redirect_off_the_host_on_paths_built_from_tricky_pieces():
    # GIVEN every path of up to three pieces
    paths = tricky_paths()
    # WHEN both implementations answer them
    local = [page_request(path) for path in paths]
    cloudfront = run_cloudfront_function(paths)
    # THEN they answer alike, and every redirect stays on this host and lands in one hop
    for path, ours, theirs in zip(paths, local, cloudfront, strict=True):
        assert ours == theirs, path
        if ours.status == 302:
            assert is_same_host(ours.location), (path, ours.location)
            # one hop: the Location itself is served
            assert page_request(ours.location).status == 200, (path, ours.location)
