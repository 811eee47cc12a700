"""Each function's cold import as Lambda runs it, and what the deployment zip holds.

Every figure is taken in the dev stage's deployment zip as ``make package`` builds it
(``chalice package``, then ``tools.package``: Babel's locale data trimmed, every module
compiled), unpacked as Lambda unpacks it: a fresh interpreter without site-packages (``-S``)
whose working directory and only import path is the unpacked zip, which writes nothing back
(Lambda's file system is read-only), in the environment ``.chalice/config.json`` gives every function.

A function's cold import is ``import app`` plus the handler's own import statements (read from
app.py by tools.handlers); for the API function, ``import app`` plus the first read of the route
table, which registers the blueprints, and the middleware's imports. They run as Lambda's init
runs them (app.py's ``prepare``): with the cyclic garbage collector off, and what they made
frozen at the end. Each is set beside a bare ``import boto3`` from the same zip, the target's
baseline (at most 1.5x), the two run in turn, round by round, so that the machine's drift over
the bench's minutes moves both alike; the same import with the collector off is shown under it. Under each
function: its own floor, which is the floor under every function (boto3, chalice, powertools)
and the third-party packages the function loads (read from ``sys.modules`` after its cold
import), with none of Beacon's modules or models, imported the same way; what a function takes
above its own floor is Beacon's. Then the function's init as Lambda runs it: ``import app`` with
``_HANDLER`` naming its handler, which imports the same modules, makes the table's client and
reads site.yml (all but SES feedback), beside a bare function's init that imports boto3 and makes
its DynamoDB ``Table`` with the collector off the same way (run in turn with it), and beside itself in the zip without
its bytecode, as ``chalice package`` alone ships it and Lambda then compiles every module at each
cold start.

Every figure is the fastest of its runs (21 for a function's cold import and what it is set
beside, 11 for the others), as ``timeit`` reports its own: the code's cost does not change from
run to run, and on a shared machine other work only ever slows a run. On the 2-core VM these
figures were first taken on, a bare ``import boto3`` read 139-230 ms within one minute, so a
median of 11 moved a function's ratio by up to 0.3x between two runs of the bench with no change
to the code; the fastest runs moved it by a few hundredths. Each function's medians are printed
under its fastest runs, set beside each other the same way.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

from bench.table import Row, timings_side_by_side
from tools.handlers import handler_imports
from tools.local.stack import _chalice_stage_environment
from tools.package import finish

ROOT = Path(__file__).resolve().parent.parent
_TIMED = """
import time
t = time.perf_counter()
{statements}
print(time.perf_counter() - t)
"""
# What every function imports before any Beacon code: the SDK, the framework, structured logs and metrics.
FLOOR = """import boto3, chalice
from aws_lambda_powertools import Logger, Metrics"""
# What every function adds to read its records, site.yml and the API's bodies: msgspec, with the first struct read.
MSGSPEC = """import msgspec
class First(msgspec.Struct):
    name: str
msgspec.convert({"name": "x"}, First)"""


# Prints the third-party packages the statements loaded, as test_handler_imports reads them (less
# what a Cython extension registers, which no statement can import).
_PACKAGES = """
import sys
{statements}
tops = {{name.split(".")[0] for name in sys.modules}}
print(" ".join(sorted(top for top in tops if not top.startswith("_") and top not in sys.stdlib_module_names
                      and top not in ("app", "chalicelib") and getattr(sys.modules.get(top), "__spec__", None))))
"""


# A bare function's init, as AWS advises writing one: the SDK imported and the client made outside the handler.
BARE_INIT = 'import boto3\nboto3.session.Session().resource("dynamodb").Table("beacon-dev-state")'


def collector_off(statements: str) -> str:
    """``statements`` with the cyclic collector off while they run, as in a function's init (app.py)."""
    return f"import gc\ngc.disable()\n{statements}\ngc.freeze()\ngc.enable()"


class Unpacked:
    """The deployment zip unpacked at ``root``, run as Lambda runs a function from it."""

    def __init__(self, root: Path):
        self.root = root
        # What Chalice gives every function of the dev stage,
        # and what Lambda and the template add: the region and the table's name.
        self.env = {**os.environ, **_chalice_stage_environment("dev"), "PYTHONPATH": str(root),
                    "PYTHONDONTWRITEBYTECODE": "1", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                    "TABLE_NAME": "beacon-dev-state"}

    def cold_ms(self, statements: str, handler: str | None = None) -> float:
        """The fastest of 11 runs of ``statements``, each in a fresh interpreter started for ``handler``
        ("app.<name>"), in ms."""
        return self.side_by_side((statements, handler))[0]

    def side_by_side(self, *runs: tuple[str, str | None], rounds: int = 11) -> list[float]:
        """Per ``(statements, handler)`` the fastest of its runs as ``cold_ms`` takes them, all taken in turn."""
        return [min(times) for times in self.timings(*runs, rounds=rounds)]

    def timings(self, *runs: tuple[str, str | None], rounds: int = 11) -> list[list[float]]:
        """Per ``(statements, handler)`` each of its ``rounds`` runs in ms, all taken in turn."""
        return [[seconds * 1000 for seconds in times] for times in timings_side_by_side(
            [(_TIMED.format(statements=statements), self._started_for(handler)) for statements, handler in runs],
            rounds=rounds, cwd=str(self.root), flags=("-S",))]

    def packages_loaded(self, statements: str) -> list[str]:
        """The third-party packages a fresh interpreter has loaded once ``statements`` ran."""
        done = subprocess.run([sys.executable, "-S", "-c", _PACKAGES.format(statements=statements)],
                              cwd=self.root, env=self.env, capture_output=True, text=True, check=True)
        return done.stdout.split()

    def _started_for(self, handler: str | None) -> dict[str, str]:
        return self.env if handler is None else {**self.env, "_HANDLER": handler}


def run() -> list[Row]:
    with tempfile.TemporaryDirectory() as out:
        deployment = package(Path(out))
        if deployment is None:
            return []
        compiled = Unpacked(unpack(deployment, Path(out) / "task"))
        sources = Unpacked(unpack(deployment, Path(out) / "sources", bytecode=False))
        # The two copies are about 110 MB the kernel would write back while the first figures are taken.
        os.sync()
        return cold_imports(compiled, sources) + zip_rows(deployment)


# Runs of a function's cold import and of what it is set beside: the target's figures.
COLD_ROUNDS = 21


def cold_imports(compiled: Unpacked, sources: Unpacked) -> list[Row]:
    imports = handler_imports()
    # Each function's imports, and the handler Lambda names in its _HANDLER.
    functions = {"api_handler": (["import app", "app.app.routes", *imports["correlate_requests"]], "app.app")}
    functions |= {name: (["import app", *statements], f"app.{name}") for name, statements in imports.items()
                  if name != "correlate_requests"}
    # Every ratio compares figures taken in turn, run by run (``side_by_side``): this machine's speed
    # drifts by 10-20 % over the minutes the bench takes, and figures taken minutes apart would carry it.
    boto3, boto3_off, floor, with_msgspec = compiled.side_by_side(
        ("import boto3", None), (collector_off("import boto3"), None), (collector_off(FLOOR), None),
        (collector_off(f"{FLOOR}\n{MSGSPEC}"), None))
    plain_init, bare_init = compiled.side_by_side((BARE_INIT, None), (collector_off(BARE_INIT), None))
    rows = [Row("bare import boto3 without bytecode", sources.cold_ms("import boto3"), "ms", boto3,
                "import boto3"),
            Row("bare import boto3 with the collector off", boto3_off, "ms", boto3, "import boto3"),
            Row("cold import floor: boto3 + chalice + powertools", floor, "ms", boto3, "import boto3"),
            Row("  and msgspec with one struct read (records, site.yml, API bodies)", with_msgspec, "ms", boto3,
                "import boto3"),
            Row("bare function's init: import boto3, make a DynamoDB Table", plain_init, "ms", boto3, "import boto3"),
            Row("  the same with the collector off, as app.py runs an init", bare_init, "ms", boto3, "import boto3")]
    common = set(compiled.packages_loaded(FLOOR))
    for name, (statements, handler) in functions.items():
        code = "\n".join(statements)
        packages = compiled.packages_loaded(code)
        runs = compiled.timings(
            (collector_off(code), None), (collector_off(f"{FLOOR}\nimport {', '.join(packages)}"), None),
            ("import boto3", None), rounds=COLD_ROUNDS)
        cold, own_floor, beside = (min(times) for times in runs)
        cold_median, _, beside_median = (statistics.median(times) for times in runs)
        init, bare = compiled.side_by_side(("import app", handler), (collector_off(BARE_INIT), None))
        beyond = ", ".join(sorted(set(packages) - common)) or "nothing"
        rows += [Row(f"cold import: {name}", cold, "ms", beside, "import boto3, in turn"),
                 Row(f"  the same, medians of the {COLD_ROUNDS} runs", cold_median, "ms", beside_median,
                     "import boto3, in turn"),
                 Row(f"  {name}'s packages alone (the floor's and {beyond})", own_floor, "ms", beside,
                     "import boto3, in turn"),
                 Row(f"  {name} above its packages (Beacon's modules and models)", cold - own_floor, "ms", beside,
                     "import boto3, in turn"),
                 Row(f"  {name}'s init in Lambda (its imports, its table's client, site.yml read)", init, "ms",
                     bare, "bare init, collector off, in turn"),
                 Row(f"  {name}'s init without bytecode (chalice package alone)", sources.cold_ms("import app", handler),
                     "ms", init, "with bytecode")]
    return rows


def package(out: Path) -> Path | None:
    """The dev stage's deployment zip, built as ``make package`` builds it, or None when Chalice fails."""
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    chalice = Path(sys.executable).parent / "chalice"
    done = subprocess.run(
        [str(chalice), "package", "--stage", "dev", "--merge-template", "infra/resources.json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        print(f"import bench skipped: chalice package failed:\n{done.stderr}", file=sys.stderr)
        return None
    finish(out / "deployment.zip")
    return out / "deployment.zip"


def unpack(deployment: Path, root: Path, bytecode: bool = True) -> Path:
    with zipfile.ZipFile(deployment) as archive:
        archive.extractall(root, [name for name in archive.namelist() if bytecode or not name.endswith(".pyc")])
    return root


def zip_rows(deployment: Path) -> list[Row]:
    """The zip's size, unpacked size and largest parts (a top-level package or file, compressed)."""
    parts: Counter = Counter()
    infos = zipfile.ZipFile(deployment).infolist()
    for info in infos:
        top = info.filename.split("/")[0]
        part = top.split("-")[0] if top.endswith((".dist-info", ".libs")) else top
        parts[part] += info.compress_size
    bytecode = sum(info.compress_size for info in infos if info.filename.endswith(".pyc"))
    rows = [Row("deployment zip size", deployment.stat().st_size / 1e6, "MB", 50.0, "Lambda direct-upload limit"),
            Row("  of which compiled bytecode", bytecode / 1e6, "MB"),
            Row("  unpacked", sum(info.file_size for info in infos) / 1e6, "MB", 250.0, "Lambda unpacked limit")]
    return rows + [Row(f"  zip part: {part}", size / 1e6, "MB") for part, size in parts.most_common(8)]
