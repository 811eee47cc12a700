"""Beacon's Chalice wiring: routes, schedules and event handlers. The work is in chalicelib.

Chalice imports this module in every function, so it stays light: each handler imports its
capability inside its body, and the API's blueprints are registered the first time Chalice
reads the route table (``chalice package``, ``chalice local``, ``chalice.test.Client``), so the
scheduled and queue functions never load the API. In Lambda, ``prepare`` runs those imports
(and for the API, registers the blueprints) in the function's init, the one function Lambda
names in ``_HANDLER``. tests/unit/test_handler_imports.py holds each function to the modules it runs.

The cyclic garbage collector is off while this module, and in Lambda the function's init, imports:
an import makes tens of thousands of objects that live as long as the process (modules, classes,
botocore's models, the API's bodies), nearly none of them garbage, and each full collection
on the way walks them all again (about a fifth of the API's import). When the init is done they
are frozen (``gc.freeze``: later collections never walk them again, and the half megabyte of
cycles the imports left stays with them) and the collector is on again for the calls.
"""
import gc
import importlib
import os
import sys
import threading

_collecting = gc.isenabled()
gc.disable()  # before the first import that makes many objects; on again at the end of this module

from chalice import Chalice, Rate


class Beacon(Chalice):
    """A Chalice app whose routes are registered by ``register_routes`` on the first read of ``routes``."""

    def __init__(self, app_name: str, register_routes) -> None:
        self._register_routes = register_routes
        self._routes_lock = threading.RLock()
        self._routes_ready = False
        self._registering = False
        super().__init__(app_name=app_name)

    @property
    def routes(self):
        if not self._routes_ready:
            # Other threads wait here until the table is whole (chalice local serves on threads);
            # the registering thread's own reads, during registration, see it as it grows.
            with self._routes_lock:
                if not self._routes_ready and not self._registering:
                    self._registering = True
                    try:
                        self._register_routes(self)
                        self._routes_ready = True
                    except BaseException:
                        # A failed registration leaves no half table behind: the next read tries again.
                        self._route_table.clear()
                        raise
                    finally:
                        self._registering = False
        return self._route_table

    @routes.setter
    def routes(self, table) -> None:
        self._route_table = table


def register_routes(app: Chalice) -> None:
    from chalicelib.api import register_api

    register_api(app)
    app.route("/health", methods=["GET"], cors=True)(health)


app = Beacon("beacon", register_routes)


@app.middleware("http")
def correlate_requests(event, get_response):
    from chalicelib.api.http import edge
    from chalicelib.observability import correlated

    # API Gateway's request id ties the request's log lines together; `edge` keeps every answer,
    # Chalice's own included, in the API's JSON error shape.
    with correlated(event.context.get("requestId"), path=event.path):
        return edge(event, get_response)


def health():
    from chalicelib.config import get_site
    from chalicelib.settings import get_settings

    return {"status": "ok", "stage": get_settings().stage, "site": get_site().brand.name}


@app.schedule(Rate(5, unit=Rate.MINUTES), name="publish_site")
def scheduled_publish(event):
    from chalicelib.observability import count, operation
    from chalicelib.site.service import publish_site

    with operation("Publish", trigger="schedule"):
        # Only the schedule lists the bucket, so what was lost there comes back within 5 minutes.
        result = publish_site(reconcile=True)
        count("PagePublished")
        count("PageObjectsRestored", len(result.restored))
    return {"uploaded": len(result.uploaded), "unchanged": result.unchanged, "restored": len(result.restored)}


@app.on_sqs_message(queue="publish.fifo", batch_size=10, name="publish_requested")
def publish_requested(event):
    from chalicelib.observability import count, operation
    from chalicelib.site.service import requested_changes, publish_site

    # One publish renders the latest state, so a batch of requests needs one (or none, when a
    # publish after an API write is running: it publishes again for them).
    bodies = [record.body for record in event]
    with operation("Publish", trigger="request", requests=len(bodies)):
        publish_site(coalesce=True, changes=requested_changes(bodies))
        count("PagePublished")


@app.schedule(Rate(1, unit=Rate.MINUTES), name="probe_cycle")
def probe_cycle(event):
    from chalicelib.observability import count, operation
    from chalicelib.probes.service import scheduled_probe_cycle

    with operation("ProbeCycle", trigger="schedule"):
        summary = scheduled_probe_cycle(scheduled_at=event.time, seconds_left=seconds_left(event))
        count("ProbeChanges", summary["changes"])
        count("ProbesFailed", summary.get("failed", 0))
        count("ProbesUnconfirmed", summary.get("unconfirmed", 0))
    return summary


@app.on_sqs_message(queue="probe-shards", batch_size=1, name="probe_shard")
def probe_shard(event):
    from chalicelib.observability import count, operation
    from chalicelib.probes.service import run_probe_shard

    for record in event:
        with operation("ProbeCycle", trigger="shard"):
            summary = run_probe_shard(record.body, seconds_left=seconds_left(event))
            count("ProbeChanges", summary["changes"])
            count("ProbesFailed", summary.get("failed", 0))
            count("ProbesUnconfirmed", summary.get("unconfirmed", 0))


def seconds_left(event):
    """The invocation's remaining time, from the Lambda context Chalice hands the event."""
    context = getattr(event, "context", None)
    return None if context is None else lambda: context.get_remaining_time_in_millis() / 1000


@app.schedule(Rate(1, unit=Rate.MINUTES), name="advance_maintenance")
def scheduled_maintenance(event):
    from chalicelib.maintenance import advance_maintenance
    from chalicelib.observability import count, operation

    with operation("AdvanceMaintenance", trigger="schedule"):
        moved = advance_maintenance()
        count("MaintenanceAdvanced", moved)
    return {"moved": moved}


@app.on_sqs_message(queue="notifications", batch_size=10, name="deliver_notifications")
def deliver_notifications(event):
    from chalicelib.notify import worker
    from chalicelib.observability import count, operation

    records = [record.to_dict() for record in event]
    with operation("DeliverNotifications", messages=len(records)):
        answer = worker.deliver_notifications(records, event.context.get_remaining_time_in_millis)
        count("NotificationMessagesFailed", len(answer["batchItemFailures"]))
    return answer


@app.on_sns_message(topic="ses-feedback", name="ses_feedback")
def ses_feedback(event):
    from chalicelib.notify import upkeep
    from chalicelib.observability import count, operation

    with operation("SesFeedback"):
        result = upkeep.ses_feedback(event.message)
        count("SubscribersSuppressed", result.suppressed)
        count("TransientBounces", result.transient)


@app.schedule(Rate(1, unit=Rate.HOURS), name="subscriber_upkeep")
def subscriber_upkeep(event):
    from chalicelib.config import get_site
    from chalicelib.notify import upkeep
    from chalicelib.observability import count, operation

    with operation("SubscriberUpkeep", trigger="schedule"):
        done = upkeep.subscriber_upkeep(get_site().subscriptions)
        count("SubscribersSuppressed", done["suppressed"])
        count("UnconfirmedSignupsErased", done["purged"])
    return done


# What each function runs, by its handler's name. Lambda names the function's handler in
# ``_HANDLER`` ("app.probe_cycle") before it imports this module, and runs that import, the
# function's init, with a full vCPU; the function's calls get the share of one its memory buys
# (about a seventh at 256 MB). So in Lambda a function imports what it runs here, in its init,
# instead of in its first call, and makes its table's client, which every function uses (botocore
# reads DynamoDB's models and the endpoint rules for it: about 0.1 s at a full vCPU). The handlers
# keep their own imports for chalice local, the local stack and the tests, which call them without
# ``_HANDLER``; tests/unit/test_handler_imports.py holds each function's init to load what its
# first call would.
RUNS = {
    "app": ("chalicelib.api.http", "chalicelib.observability"),  # and the routes, registered by reading them
    "scheduled_publish": ("chalicelib.observability", "chalicelib.site.service"),
    "publish_requested": ("chalicelib.observability", "chalicelib.site.service"),
    "probe_cycle": ("chalicelib.observability", "chalicelib.probes.service"),
    "probe_shard": ("chalicelib.observability", "chalicelib.probes.service"),
    "scheduled_maintenance": ("chalicelib.maintenance", "chalicelib.observability"),
    "deliver_notifications": ("chalicelib.notify.worker", "chalicelib.observability"),
    "ses_feedback": ("chalicelib.notify.upkeep", "chalicelib.observability"),
    "subscriber_upkeep": ("chalicelib.config", "chalicelib.notify.upkeep", "chalicelib.observability"),
}


def prepare(handler: str | None) -> None:
    """Import what the function whose handler is ``handler`` ("app.<name>") runs, make its table's
    client and, when it reads site.yml, read it; nothing for any other."""
    module, _, name = (handler or "").partition(".")
    if module != __name__ or name not in RUNS:
        return
    for imported in RUNS[name]:
        importlib.import_module(imported)
    if name == "app":
        app.routes  # the first read registers the blueprints
    from chalicelib.aws import get_table

    get_table()
    # A function whose modules read the site's configuration (all but SES feedback) reads it on its
    # first call; it is read here instead, with the init's full vCPU. make package refuses a site.yml
    # that does not load, so a deployed one does not fail here.
    if "chalicelib.config" in sys.modules:
        from chalicelib.config import get_site

        get_site()


try:
    prepare(os.environ.get("_HANDLER"))
finally:
    gc.freeze()
    if _collecting:
        gc.enable()
