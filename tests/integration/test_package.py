"""The deployable artefacts: `chalice package` with the merge template, checked by cfn-lint,
and a zip that holds every template and renders a page on its own."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.package
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [str(BIN / "chalice"), "package", "--stage", "dev", "--merge-template", "infra/resources.json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_packaged_template_passes_cfn_lint(packaged):
    done = subprocess.run([str(BIN / "cfn-lint"), str(packaged / "sam.json")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_template_merges_infra_and_hands_resource_names_to_functions(packaged):
    template = json.loads((packaged / "sam.json").read_text())
    assert {"StateTable", "PageBucket", "NotificationQueue", "NotificationDeadLetterQueue", "SesFeedbackTopic"} <= set(
        template["Resources"])
    assert template["Globals"]["Function"]["Environment"]["Variables"]["TABLE_NAME"] == {"Ref": "StateTable"}
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert functions and all(f["Properties"]["Role"] for f in functions)


def test_zip_contains_every_template_and_the_site_config(packaged):
    names = set(zipfile.ZipFile(packaged / "deployment.zip").namelist())
    templates = {p.relative_to(ROOT).as_posix() for p in (ROOT / "templates").rglob("*") if p.is_file()}
    assert templates and templates <= names
    assert {"app.py", "site.yml", "chalicelib/config.py"} <= names


def test_a_page_renders_from_the_unpacked_zip_alone(packaged, tmp_path):
    # GIVEN the zip unpacked as Lambda does, at /var/task
    task = tmp_path / "task"
    zipfile.ZipFile(packaged / "deployment.zip").extractall(task)
    # WHEN a fresh interpreter without site-packages renders the page from it
    script = (
        "from datetime import datetime, timezone\n"
        "from pathlib import Path\n"
        "from chalicelib.config import load_site\n"
        "from chalicelib.site.snapshot import build_snapshot\n"
        "from chalicelib.site.render import render_site\n"
        "now = datetime(2026, 5, 1, tzinfo=timezone.utc)\n"
        "snap = build_snapshot(load_site('site.yml'), {}, [], [], now)\n"
        "(index,) = [o for o in render_site(snap, Path('templates')) if o.key == 'index.html']\n"
        "print(index.body.decode())\n"
    )
    done = subprocess.run([sys.executable, "-S", "-c", script], cwd=task, env={"PYTHONPATH": str(task)},
                          capture_output=True, text=True)
    # THEN the page is there, from the zip's own templates and dependencies
    assert done.returncode == 0, done.stderr
    assert "Lumen Coffee Roasters" in done.stdout and "All Systems Operational" in done.stdout
