"""Cold start of the API: a fresh interpreter imports ``app.py`` and answers its first request,
against a bare ``import boto3`` in a fresh interpreter, both measured here in the same run; and
the site's first load in a fresh interpreter (read, parsed and validated, what every function
but SES feedback does in its init): as deployed, from the copy ``make package`` parses beside
site.yml (PyYAML never imported), against parsing the file with libyaml, which a working tree
does; and libyaml against PyYAML's own parser. Each figure includes the imports the load makes.
Every function's cold import and the deployment zip are in bench_imports.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.table import Row, median_seconds_in_subprocess
from chalicelib.config import parsed_copy, parsed_copy_path

ROOT = Path(__file__).resolve().parent.parent

_IMPORT_APP = """
import time
t = time.perf_counter()
import app
print(time.perf_counter() - t)
"""
_FIRST_REQUEST = """
import time, os
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
t = time.perf_counter()
import app
event = {"resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
         "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
         "stageVariables": None, "body": None, "isBase64Encoded": False,
         "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "stage": "api", "requestId": "bench"}}
response = app.app(event, None)
assert response["statusCode"] == 200, response
print(time.perf_counter() - t)
"""
_LOAD_SITE = """
import time
from chalicelib import config
{parser}
t = time.perf_counter()
config.load_site({path!r})
print(time.perf_counter() - t)
"""
# PyYAML's parser in Python, which config keeps for describing errors, in place of libyaml's.
_PYTHON_PARSER = ("yaml, fast, python = config._yaml_loaders()\n"
                  "config._yaml_loaders = lambda: (yaml, python, python)")
_IMPORT_BOTO3 = """
import time
t = time.perf_counter()
import boto3
print(time.perf_counter() - t)
"""


def run() -> list[Row]:
    cwd = str(ROOT)
    # Beacon's modules start from their bytecode, as the deployment zip ships them: the first run
    # writes it where a shell asks Python not to.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    boto3_import = median_seconds_in_subprocess(_IMPORT_BOTO3, cwd=cwd, env=env)
    app_import = median_seconds_in_subprocess(_IMPORT_APP, cwd=cwd, env=env)
    first_request = median_seconds_in_subprocess(_FIRST_REQUEST, cwd=cwd, env=env)
    with tempfile.TemporaryDirectory() as shipped:
        # site.yml and its parsed copy, as tools.package ships them
        deployed = Path(shipped) / "site.yml"
        deployed.write_bytes((ROOT / "site.yml").read_bytes())
        parsed_copy_path(deployed).write_bytes(parsed_copy(deployed.read_bytes()))
        site_copy = median_seconds_in_subprocess(_LOAD_SITE.format(parser="", path=str(deployed)), cwd=cwd, env=env)
    site = median_seconds_in_subprocess(_LOAD_SITE.format(parser="", path="site.yml"), cwd=cwd, env=env)
    site_python = median_seconds_in_subprocess(_LOAD_SITE.format(parser=_PYTHON_PARSER, path="site.yml"),
                                               cwd=cwd, env=env)
    return [
        Row("cold start: import app.py", app_import * 1000, "ms", boto3_import * 1000, "import boto3"),
        Row("cold start: import + first GET /health", first_request * 1000, "ms", boto3_import * 1000, "import boto3"),
        Row("first load of site.yml as deployed (read its parsed copy, validate)", site_copy * 1000, "ms",
            site * 1000, "libyaml parse"),
        Row("first load of site.yml (read, libyaml parse, validate)", site * 1000, "ms", site_python * 1000,
            "PyYAML's Python parser"),
    ]

