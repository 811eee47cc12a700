"""Each function's cold import, and what the deployment zip holds.

Chalice imports app.py in every function; a handler imports its capability inside its body.
A function's cold import is, in a fresh interpreter, ``import app`` plus the handler's own
import statements (read from app.py by tools.handlers); for the API
function, ``import app`` plus the first read of the route table, which registers the blueprints.
Each runs with the environment ``.chalice/config.json`` gives every function, and is set beside
a bare ``import boto3`` measured in the same run (target: at most 1.5x),
as is the floor under every function (boto3, chalice, powertools and pydantic with one model),
and, under each function, its own floor: that floor and the third-party packages the function
loads (read from ``sys.modules`` after its cold import, in a fresh interpreter), with none of
Beacon's modules or models. What a function takes above its own floor is Beacon's.
The zip is ``make package``'s for the dev stage (``chalice package``, then ``tools.package``'s
trim of Babel's locale data), with its largest parts.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

from bench.table import Row, median_seconds_in_subprocess
from tools.handlers import handler_imports
from tools.local.stack import _chalice_stage_environment
from tools.package import trim

ROOT = Path(__file__).resolve().parent.parent
_TIMED = """
import time
t = time.perf_counter()
{statements}
print(time.perf_counter() - t)
"""
API_IMPORTS = ["import app", "app.app.routes"]
# What every function imports before any Beacon code: the SDK, the framework, structured logs
# and metrics, and pydantic with the first model built (the site's config is validated by it).
FLOOR = """import boto3, chalice
from aws_lambda_powertools import Logger, Metrics
from pydantic import BaseModel
class First(BaseModel):
    name: str"""


# Prints the third-party packages the statements loaded, as test_handler_imports reads them (less
# what a Cython extension registers, which no statement can import).
_PACKAGES = """
import sys
{statements}
tops = {{name.split(".")[0] for name in sys.modules}}
print(" ".join(sorted(top for top in tops if not top.startswith("_") and top not in sys.stdlib_module_names
                      and top not in ("app", "chalicelib") and getattr(sys.modules.get(top), "__spec__", None))))
"""


def function_environment() -> dict[str, str]:
    """This environment with what Chalice gives every function of the dev stage from
    ``.chalice/config.json`` (``PYDANTIC_DISABLE_PLUGINS`` among it), as Lambda starts them."""
    return {**os.environ, **_chalice_stage_environment("dev")}


def run() -> list[Row]:
    cwd, env = str(ROOT), function_environment()
    boto3 = median_seconds_in_subprocess(_TIMED.format(statements="import boto3"), cwd=cwd, env=env) * 1000
    functions = {"api_handler": API_IMPORTS}
    functions |= {name: ["import app", *imports] for name, imports in handler_imports().items()
                  if name != "correlate_requests"}
    floor = median_seconds_in_subprocess(_TIMED.format(statements=FLOOR), cwd=cwd, env=env) * 1000
    rows = [Row("cold import floor: boto3 + chalice + powertools + pydantic (one model)", floor, "ms", boto3,
                "import boto3")]
    common = set(packages_loaded(FLOOR, cwd, env))
    for name, statements in functions.items():
        cold = median_seconds_in_subprocess(_TIMED.format(statements="\n".join(statements)), cwd=cwd, env=env) * 1000
        packages = packages_loaded("\n".join(statements), cwd, env)
        own_floor = median_seconds_in_subprocess(_TIMED.format(statements=f"{FLOOR}\nimport {', '.join(packages)}"),
                                                 cwd=cwd, env=env) * 1000
        beyond = ", ".join(sorted(set(packages) - common)) or "nothing"
        rows += [Row(f"cold import: {name}", cold, "ms", boto3, "import boto3"),
                 Row(f"  {name}'s packages alone (the floor's and {beyond})", own_floor, "ms", boto3,
                     "import boto3"),
                 Row(f"  {name} above its packages (Beacon's modules and models)", cold - own_floor, "ms", boto3,
                     "import boto3")]
    parts = package_parts()
    if parts:
        rows.append(Row("deployment zip size", sum(parts.values()) / 1e6, "MB", 50.0, "Lambda direct-upload limit"))
        rows += [Row(f"  zip part: {part}", size / 1e6, "MB") for part, size in parts.most_common(8)]
    return rows


def packages_loaded(statements: str, cwd: str, env: dict[str, str]) -> list[str]:
    """The third-party packages a fresh interpreter has loaded once ``statements`` ran."""
    done = subprocess.run([sys.executable, "-c", _PACKAGES.format(statements=statements)], cwd=cwd, env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout.split()


def package_parts() -> Counter | None:
    """Compressed bytes of the dev stage's deployment zip by part (a top-level package or file)."""
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
        chalice = Path(sys.executable).parent / "chalice"
        done = subprocess.run(
            [str(chalice), "package", "--stage", "dev", "--merge-template", "infra/resources.json", out],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )
        if done.returncode != 0:
            print(f"zip size skipped: chalice package failed:\n{done.stderr}", file=sys.stderr)
            return None
        trim(Path(out) / "deployment.zip")  # as `make package` does
        parts: Counter = Counter()
        for info in zipfile.ZipFile(Path(out) / "deployment.zip").infolist():
            top = info.filename.split("/")[0]
            part = top.split("-")[0] if top.endswith((".dist-info", ".libs")) else top
            parts[part] += info.compress_size
        return parts
