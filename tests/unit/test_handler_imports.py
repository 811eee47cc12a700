"""Each Lambda function imports only what it runs.

Chalice imports app.py in every function; a handler imports its capability inside its body.
For each scheduled and queue handler, a fresh interpreter imports app, then runs the handler's
own import statements (read from app.py, so the test follows the code), and lists what loaded.
A handler fails when it loads a third-party package outside its allowed set, or a part of
Beacon it does not run. In Lambda, where ``_HANDLER`` names the function, its init (importing
app) loads what its first call would, and nothing more.
"""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tools.handlers import handler_imports

# What app.py and every handler may load: Chalice, boto3, logging and metrics, the records and the
# site's configuration (msgspec). PyYAML is imported only where a YAML file is read: a working tree's
# site.yml on a first call; deployed, the function reads the copy make package parsed (tools.package).
BASE = {"app", "chalice", "boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3", "certifi",
        "aws_lambda_powertools", "msgspec", "typing_extensions", "cython_runtime"}
RENDERING = {"jinja2", "markupsafe", "markdown_it", "mdurl", "nh3"}
HTTP_CLIENT = {"requests", "idna", "charset_normalizer"}
# The probes' HTTP/1.1 parser (chalicelib.probes.http): only the probe functions load it.
PROBE_CLIENT = {"httptools"}
# Checking what people type: only the functions that handle subscribers load these.
DESTINATIONS = {"email_validator", "phonenumbers"}
# Parts of Beacon no scheduled or queue function runs.
NEVER = ("chalicelib.api", "tools")
PROBE_RUN = ("chalicelib.probes.runner", "chalicelib.probes.checks", "chalicelib.probes.cycle",
             "chalicelib.probes.service", "chalicelib.probes.shards")
DELIVERY = ("chalicelib.notify.service", "chalicelib.notify.delivery", "chalicelib.notify.channels",
            "chalicelib.notify.senders", "chalicelib.notify.content")
UPKEEP_NEVER = tuple(name for name in DELIVERY if name != "chalicelib.notify.senders") + (
    "chalicelib.notify.planning", "chalicelib.text", "chalicelib.site")

HANDLERS = {
    "scheduled_publish": (BASE | RENDERING, NEVER + PROBE_RUN + DELIVERY),
    "publish_requested": (BASE | RENDERING, NEVER + PROBE_RUN + DELIVERY),
    "probe_cycle": (BASE | HTTP_CLIENT | PROBE_CLIENT, NEVER + DELIVERY + ("chalicelib.site",)),
    "probe_shard": (BASE | HTTP_CLIENT | PROBE_CLIENT, NEVER + DELIVERY + ("chalicelib.site",)),
    "scheduled_maintenance": (BASE, NEVER + PROBE_RUN + DELIVERY + ("chalicelib.site.render",
                                                                    "chalicelib.site.publish")),
    "deliver_notifications": (BASE | RENDERING | HTTP_CLIENT | DESTINATIONS,
                              NEVER + PROBE_RUN + ("chalicelib.site.publish",)),
    # Feedback and upkeep (notify.upkeep) load the SMS sender for the opt-out list, and none of delivery;
    # feedback reads no site, so it loads no site's configuration.
    "ses_feedback": (BASE, NEVER + PROBE_RUN + UPKEEP_NEVER + ("chalicelib.config",)),
    "subscriber_upkeep": (BASE, NEVER + PROBE_RUN + UPKEEP_NEVER),
}


def printed(code: str, handler: str | None = None) -> list[str]:
    """What ``code`` prints in a fresh interpreter: started as Lambda starts the function whose
    handler is ``handler`` (``_HANDLER`` set to ``app.<handler>``), or, without one, as chalice
    local and the tests start."""
    env = {**os.environ, **lambda_environment(handler or "app"), "_HANDLER": f"app.{handler}" if handler else ""}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def loaded_after(statements: list[str], handler: str | None = None) -> set[str]:
    """What a fresh interpreter has loaded once it imported app and ran ``statements``."""
    return set(printed("import sys\nimport app\n" + "\n".join(statements) + "\nprint('\\n'.join(sys.modules))",
                       handler))


def third_party(modules: set[str]) -> set[str]:
    tops = {name.split(".")[0] for name in modules}
    return {top for top in tops if not top.startswith("_") and top not in sys.stdlib_module_names
            and top != "chalicelib"}


def test_every_event_handler_is_held_to_its_modules():
    assert set(handler_imports()) - {"correlate_requests"} == set(HANDLERS)


def test_importing_app_loads_chalice_alone():
    # GIVEN a fresh interpreter  WHEN it imports app.py, as every function's cold start does
    loaded = loaded_after([])
    # THEN no part of Beacon and no package but Chalice is loaded
    assert third_party(loaded) <= {"app", "chalice"}
    assert not {name for name in loaded if name.startswith("chalicelib")}


@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_a_handler_loads_only_what_it_runs(handler):
    allowed, forbidden = HANDLERS[handler]
    # GIVEN app imported cold  WHEN the handler's own imports run, as on its first call
    loaded = loaded_after(handler_imports()[handler])
    # THEN it loads no package outside its set and no part of Beacon it does not run
    assert third_party(loaded) - allowed == set()
    assert sorted(name for name in loaded if name.startswith(forbidden)) == []


def lambda_environment(handler: str) -> dict[str, str]:
    """What Lambda sets before a function's init, and the table the stage gives every function."""
    return {"_HANDLER": f"app.{handler}", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
            "TABLE_NAME": "beacon-state"}


def beacon(modules: set[str]) -> set[str]:
    return {name for name in modules if name == "app" or name.startswith("chalicelib")}


@pytest.mark.parametrize("handler", sorted(HANDLERS) + ["app"])
def test_in_lambda_a_function_imports_in_its_init_what_its_first_call_would(handler):
    # The API's first request reads the route table (registering the blueprints) through the middleware.
    first_call = (["app.app.routes", *handler_imports()["correlate_requests"]] if handler == "app"
                  else handler_imports()[handler])
    # GIVEN Lambda's name for the function's handler  WHEN its init imports app
    at_init = loaded_after([], handler=handler)
    # THEN Beacon's modules and the packages its first call would load are loaded, and nothing more
    # than the table's client, which every function's first call makes; a function that reads
    # site.yml (its modules include the configuration) has read it too
    later = loaded_after(first_call)
    if "chalicelib.config" in later:
        later = loaded_after([*first_call, "from chalicelib.config import get_site", "get_site()"])
    assert beacon(at_init) == beacon(later) | {"chalicelib.aws", "chalicelib.settings"} and len(beacon(later)) > 10
    assert third_party(at_init) == third_party(later)


@pytest.mark.parametrize("handler", ["app", "ses_feedback"])
def test_in_lambda_a_function_makes_its_table_client_in_its_init(handler):
    made = "import app\nfrom chalicelib import aws\nprint(aws.get_table.cache_info().currsize)\n"
    which = "table = aws.get_table()\nprint(table.name, table.meta.client.meta.region_name)\n"
    # GIVEN a fresh interpreter without and with Lambda's name for the function  WHEN it imports app
    # THEN only the function's init made the client, for the stage's table in the function's region
    assert printed(made) == ["0"]
    assert printed(made + which, handler) == ["1", "beacon-state", "eu-west-1"]


def collector_after_init(handler: str | None) -> tuple[bool, int, int]:
    """Whether the collector is on once app is imported, how many objects are frozen, how many are not."""
    enabled, frozen, tracked = printed("import gc, app\nprint(gc.isenabled(), gc.get_freeze_count(), "
                                       "len(gc.get_objects()))", handler)
    return enabled == "True", int(frozen), int(tracked)


@pytest.mark.parametrize("handler", ["app", "probe_cycle"])
def test_the_collector_is_on_after_the_init_and_what_the_init_made_is_frozen(handler):
    # GIVEN a fresh interpreter, without Lambda's name for a function and with it
    # WHEN it imports app (in Lambda, the function's init)
    bare = collector_after_init(None)
    started = collector_after_init(handler)
    # THEN the collector is on again in both, with everything made so far frozen, which in Lambda
    # includes every module the function runs
    assert bare[0] and started[0]
    assert bare[2] == started[2] == 0
    assert started[1] > 5 * bare[1] > 0


@pytest.mark.parametrize("handler, reads_site", [("app", True), ("probe_cycle", True), ("subscriber_upkeep", True),
                                                 ("ses_feedback", False)])
def test_in_lambda_a_function_that_reads_the_site_reads_it_in_its_init(handler, reads_site):
    read = "import app\nfrom chalicelib import config\nprint(config._loaded is not None)\n"
    # GIVEN a fresh interpreter without and with Lambda's name for the function  WHEN it imports app
    # THEN only the init of a function whose modules read site.yml has read it
    assert printed(read) == ["False"]
    assert printed(read, handler) == [str(reads_site)]


def test_the_api_reads_and_answers_its_bodies_without_pydantic():
    code = ("import sys\nimport app\napp.app.routes\n"
            "from chalicelib.api.http import model_response\nfrom chalicelib.api.models import CreateIncident\n"
            "from chalicelib.schema import read\n"
            "body = read(CreateIncident, {'name': 'Checkout down', 'body': 'Looking into it.'}, strict=True)\n"
            "print(model_response(body).body)\n"
            "print(sorted({name.split('.')[0] for name in sys.modules} & {'pydantic', 'pydantic_core'}))\n")
    # GIVEN the API function's init in Lambda, which registers every route and its bodies
    # WHEN it reads a body and answers with it
    *answer, loaded = printed(code, "app")
    # THEN neither pydantic nor its core was loaded for it
    assert " ".join(answer).startswith('{"name":"Checkout down","body":"Looking into it.","status":"investigating"')
    assert loaded == "[]"

def test_the_api_leaves_the_probe_engine_and_delivery_to_the_functions_that_run_them():
    # GIVEN the API function's init in Lambda, which registers every route
    loaded = beacon(loaded_after([], handler="app"))
    # THEN it loaded no part of a probe cycle (POST /probes/run loads it on its call) and none of
    # delivery (the deliver function's): its routes read reports and sign subscribers up
    assert sorted(name for name in loaded if name.startswith(PROBE_RUN)) == []
    assert sorted(name for name in loaded if name.startswith(
        ("chalicelib.notify.worker", "chalicelib.notify.delivery", "chalicelib.notify.content"))) == []
    assert {"chalicelib.probes.reports", "chalicelib.notify.service", "chalicelib.api.probes"} <= loaded
