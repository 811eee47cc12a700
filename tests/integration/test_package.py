"""The deployable artefacts: `chalice package` with the merge template, checked by cfn-lint,
and a zip that holds every template, renders a page on its own and ships its modules compiled."""
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import msgspec
import pytest

from tests.conftest import ROOT
from tools.package import finish

pytestmark = pytest.mark.package
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    return package("dev", tmp_path_factory.mktemp("package"))


def package(stage: str, out: Path) -> Path:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [str(BIN / "chalice"), "package", "--stage", stage, "--merge-template", "infra/resources.json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    finish(out / "deployment.zip")  # as `make package` does
    return out


def test_packaged_template_passes_cfn_lint(packaged):
    done = subprocess.run([str(BIN / "cfn-lint"), str(packaged / "sam.json")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_prod_template_has_the_cdn_alarms_and_shard_queue_and_passes_cfn_lint(tmp_path):
    out = package("prod", tmp_path)
    done = subprocess.run([str(BIN / "cfn-lint"), str(out / "sam.json")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    resources = json.loads((out / "sam.json").read_text())["Resources"]
    kinds = {name: r["Type"] for name, r in resources.items()}
    assert kinds["PageDistribution"] == "AWS::CloudFront::Distribution"
    assert kinds["ProbeShardQueue"] == "AWS::SQS::Queue"
    assert {"NotificationDeadLetterAlarm", "StalePageAlarm", "ProbeCycleErrorAlarm"} <= {
        name for name, kind in kinds.items() if kind == "AWS::CloudWatch::Alarm"}
    assert resources["PageBucket"]["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


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
    assert {"app.py", "site.yml", "site.yml.json", "chalicelib/config.py"} <= names
    # The beacon command and the local stack are tools, never deployed.
    assert not {name for name in names if name.startswith("tools/")}
    # Beacon's languages travel with their catalogues and their locale data, and no other language's data.
    assert {"chalicelib/locales/de/LC_MESSAGES/messages.po", "babel/locale-data/root.dat",
            "babel/locale-data/de.dat", "babel/locale-data/en.dat", "babel/locale-data/de_AT.dat"} <= names
    assert "babel/locale-data/fr.dat" not in names and "babel/locale-data/ja.dat" not in names


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
    done = subprocess.run([sys.executable, "-S", "-c", script], cwd=task, env=lambda_environment(task),
                          capture_output=True, text=True)
    # THEN the page is there, from the zip's own templates and dependencies
    assert done.returncode == 0, done.stderr
    assert "Lumen Coffee Roasters" in done.stdout and "All Systems Operational" in done.stdout


def lambda_environment(task: Path) -> dict[str, str]:
    # Lambda's file system is read-only: nothing an import compiles is kept for the next cold start.
    return {"PYTHONPATH": str(task), "PYTHONDONTWRITEBYTECODE": "1"}


def test_a_function_started_from_the_zip_reads_the_parsed_site_without_pyyaml(packaged, tmp_path, example_site):
    # GIVEN the zip unpacked as Lambda does, with site.yml and the copy make package parsed beside it
    task = tmp_path / "task"
    zipfile.ZipFile(packaged / "deployment.zip").extractall(task)
    # WHEN the API function starts (its init reads the site)
    script = ("import sys\nimport app\nfrom chalicelib import config\nimport msgspec\n"
              "print(msgspec.json.encode(config._loaded).decode())\nprint('yaml' in sys.modules)\n")
    env = {**lambda_environment(task), "_HANDLER": "app.app", "AWS_REGION": "eu-west-1",
           "AWS_DEFAULT_REGION": "eu-west-1", "TABLE_NAME": "beacon-state", "SITE_CONFIG": "site.yml"}
    done = subprocess.run([sys.executable, "-S", "-c", script], cwd=task, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    site, yaml_loaded = done.stdout.splitlines()
    # THEN it read the site site.yml describes, and PyYAML was never imported
    assert json.loads(site) == json.loads(msgspec.json.encode(example_site))
    assert yaml_loaded == "False"


def test_every_module_ships_compiled_for_the_runtime_and_a_cold_start_compiles_none(packaged, tmp_path):
    # GIVEN the packaged zip and the runtime Chalice named for its functions
    archive = zipfile.ZipFile(packaged / "deployment.zip")
    names = set(archive.namelist())
    assert len(names) == len(archive.namelist())  # no entry twice
    template = json.loads((packaged / "sam.json").read_text())
    runtimes = {r["Properties"]["Runtime"] for r in template["Resources"].values()
                if r["Type"] == "AWS::Serverless::Function"}
    assert runtimes == {f"python{sys.version_info.major}.{sys.version_info.minor}"}
    # THEN every module has its bytecode where that runtime looks for it, hash-based and not checked
    # against its source (the zip's entries are all dated 1980, so a date could not tell a stale file)
    modules = {name for name in names if name.endswith(".py")}
    assert {"app.py", "chalicelib/config.py", "botocore/session.py", "msgspec/__init__.py"} <= modules
    assert not {name for name in modules if importlib.util.cache_from_source(name) not in names}
    # (and none is the bytecode of a working tree, which Chalice copies with the sources)
    headers = {name: archive.open(name).read(8) for name in names if name.endswith(".pyc")}
    assert {(header[:4], int.from_bytes(header[4:], "little")) for header in headers.values()} == {
        (importlib.util.MAGIC_NUMBER, 0b01)}
    # WHEN functions start from the unpacked zip, as Lambda starts them
    task = tmp_path / "task"
    archive.extractall(task)
    script = "import app\napp.app.routes\nfrom chalicelib.notify import service\nfrom chalicelib.probes import service\n"
    done = subprocess.run([sys.executable, "-S", "-v", "-c", script], cwd=task, env=lambda_environment(task),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    # THEN every module of the zip they load comes from its bytecode, and none is compiled from source
    loaded = [line for line in done.stderr.splitlines() if line.startswith(f"# code object from '{task}")]
    compiled_now = [line for line in done.stderr.splitlines() if line.startswith(f"# code object from {task}")]
    assert len(loaded) > 300 and not compiled_now, compiled_now[:5]


# What each function may do, and nothing more: a function that gains a permission fails here.
TABLE_RW = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"}
LOGS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}
SEND = {"ses:SendRawEmail", "sns:Publish", "sns:CheckIfPhoneNumberIsOptedOut"}
# Publishing reads incidents in batches, takes and gives back the publishing turn, rewrites
# manifest parts (deleting the parts it replaced in one batch) and deletes pages the site no longer has.
PUBLISH = TABLE_RW | {"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "s3:PutObject", "s3:DeleteObject"}
# Writers of incidents and component states read the open incidents and the components' states
# by key, in batches (``store.incidents``); no function reads a secondary index (the table has none).
WRITE_INCIDENTS = TABLE_RW | {"dynamodb:BatchGetItem"}
ALLOWED = {
    # s3:GetObject on index.html only: GET /page reads when the page was last published.
    "APIHandler": LOGS | PUBLISH | {"dynamodb:BatchWriteItem", "sqs:SendMessage", "s3:GetObject"} | SEND,
    "PublishSite": LOGS | PUBLISH | {"s3:ListBucket"},
    "PublishRequested": LOGS | PUBLISH | CONSUME,
    "ProbeCycle": LOGS | WRITE_INCIDENTS | {"sqs:SendMessage"},
    "ProbeShard": LOGS | WRITE_INCIDENTS | {"sqs:SendMessage"} | CONSUME,
    "AdvanceMaintenance": LOGS | WRITE_INCIDENTS | {"sqs:SendMessage"},
    "DeliverNotifications": LOGS | TABLE_RW | CONSUME | {"sqs:SendMessage"} | SEND,
    "SesFeedback": LOGS | TABLE_RW,
    "SubscriberUpkeep": LOGS | TABLE_RW | {"sns:ListPhoneNumbersOptedOut"},
}


def function_permissions(template) -> dict[str, set[str]]:
    granted = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        role = template["Resources"][resource["Properties"]["Role"]["Fn::GetAtt"][0]]
        actions = set()
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow"
                listed = statement["Action"]
                actions |= {listed} if isinstance(listed, str) else set(listed)
        assert not role["Properties"].get("ManagedPolicyArns"), f"{name} has managed policies"
        granted[name] = actions
    return granted


def test_each_function_has_exactly_its_own_permissions(packaged):
    template = json.loads((packaged / "sam.json").read_text())
    assert function_permissions(template) == ALLOWED


def test_no_function_may_read_a_secondary_index(packaged):
    template = json.loads((packaged / "sam.json").read_text())
    # GIVEN the packaged template and its table
    table = template["Resources"]["StateTable"]["Properties"]
    # THEN the table has no index, and no statement grants one
    assert "GlobalSecondaryIndexes" not in table
    assert "/index/" not in json.dumps({name: r for name, r in template["Resources"].items()
                                        if r["Type"] == "AWS::IAM::Role"})


def test_only_the_publishers_and_the_api_may_write_the_bucket(packaged):
    template = json.loads((packaged / "sam.json").read_text())
    writers = {name for name, actions in function_permissions(template).items() if "s3:PutObject" in actions}
    senders = {name for name, actions in function_permissions(template).items() if "ses:SendRawEmail" in actions}
    assert writers == {"APIHandler", "PublishSite", "PublishRequested"}
    assert senders == {"APIHandler", "DeliverNotifications"}
    # The probe cycle writes state and asks for a publish; it can neither send nor publish.
    assert not {"s3:PutObject", "ses:SendRawEmail", "sns:Publish"} & ALLOWED["ProbeCycle"]


def test_queue_visibility_covers_six_consumer_timeouts(packaged):
    template = json.loads((packaged / "sam.json").read_text())
    resources = template["Resources"]
    for function, queue in (("DeliverNotifications", "NotificationQueue"), ("PublishRequested", "PublishQueue"),
                            ("ProbeShard", "ProbeShardQueue")):
        timeout = resources[function]["Properties"]["Timeout"]
        assert resources[queue]["Properties"]["VisibilityTimeout"] >= 6 * timeout, queue


def test_both_stages_load_with_settings_for_every_function(example_site):
    from chalice.cli.factory import CLIFactory

    import app

    functions = {"api_handler", *(source.name for source in app.app.event_sources)}
    for stage in ("dev", "prod"):
        config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][stage]
        assert set(config["lambda_functions"]) == functions, stage
        loaded = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name=stage)
        for name in functions:
            policy = ROOT / ".chalice" / config["lambda_functions"][name]["iam_policy_file"]
            assert policy.exists(), policy
        # API Gateway gives up after 29 s; the probe cycle must end before Lambda stops it.
        assert loaded.scope(stage, "api_handler").lambda_timeout <= 29
        deadline = example_site.probe_settings.cycle_deadline_seconds
        assert loaded.scope(stage, "probe_cycle").lambda_timeout >= deadline + 10
