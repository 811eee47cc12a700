"""Beacon's Chalice wiring: routes, schedules and event handlers. The work is in chalicelib."""
from chalice import Chalice, Rate

from chalicelib.api import register_api
from chalicelib.api.http import edge
from chalicelib.api.maintenance import advance_maintenance
from chalicelib.api.subscribers import bp as subscribers_api
from chalicelib.config import get_site
from chalicelib.notify import service as notify
from chalicelib.observability import correlated, count, operation
from chalicelib.probes.routes import probes_api
from chalicelib.probes.service import run_probe_shard, scheduled_probe_cycle
from chalicelib.settings import get_settings
from chalicelib.site.service import publish_site

app = Chalice(app_name="beacon")
app.register_blueprint(probes_api)
register_api(app)
app.register_blueprint(subscribers_api)


@app.middleware("http")
def correlate_requests(event, get_response):
    # API Gateway's request id ties the request's log lines together; `edge` keeps every answer,
    # Chalice's own included, in the API's JSON error shape.
    with correlated(event.context.get("requestId"), path=event.path):
        return edge(event, get_response)


@app.route("/health", methods=["GET"], cors=True)
def health():
    return {"status": "ok", "stage": get_settings().stage, "site": get_site().brand.name}


@app.schedule(Rate(5, unit=Rate.MINUTES), name="publish_site")
def scheduled_publish(event):
    with operation("Publish", trigger="schedule"):
        # Only the schedule lists the bucket, so what was lost there comes back within 5 minutes.
        result = publish_site(reconcile=True)
        count("PagePublished")
        count("PageObjectsRestored", len(result.restored))
    return {"uploaded": len(result.uploaded), "unchanged": result.unchanged, "restored": len(result.restored)}


@app.on_sqs_message(queue="publish.fifo", batch_size=10, name="publish_requested")
def publish_requested(event):
    # One publish renders the latest state, so a batch of requests needs one.
    with operation("Publish", trigger="request", requests=len(list(event))):
        publish_site()
        count("PagePublished")


@app.schedule(Rate(1, unit=Rate.MINUTES), name="probe_cycle")
def probe_cycle(event):
    with operation("ProbeCycle", trigger="schedule"):
        summary = scheduled_probe_cycle()
        count("ProbeChanges", summary["changes"])
        count("ProbesFailed", summary.get("failed", 0))
    return summary


@app.on_sqs_message(queue="probe-shards", batch_size=1, name="probe_shard")
def probe_shard(event):
    for record in event:
        with operation("ProbeCycle", trigger="shard"):
            summary = run_probe_shard(record.body)
            count("ProbeChanges", summary["changes"])
            count("ProbesFailed", summary.get("failed", 0))


@app.schedule(Rate(1, unit=Rate.MINUTES), name="advance_maintenance")
def scheduled_maintenance(event):
    with operation("AdvanceMaintenance", trigger="schedule"):
        moved = advance_maintenance()
        count("MaintenanceAdvanced", moved)
    return {"moved": moved}


@app.on_sqs_message(queue="notifications", batch_size=10, name="deliver_notifications")
def deliver_notifications(event):
    records = [record.to_dict() for record in event]
    with operation("DeliverNotifications", messages=len(records)):
        answer = notify.deliver_notifications(records, event.context.get_remaining_time_in_millis)
        count("NotificationMessagesFailed", len(answer["batchItemFailures"]))
    return answer


@app.on_sns_message(topic="ses-feedback", name="ses_feedback")
def ses_feedback(event):
    with operation("SesFeedback"):
        result = notify.ses_feedback(event.message)
        count("SubscribersSuppressed", result.suppressed)
        count("TransientBounces", result.transient)


@app.schedule(Rate(1, unit=Rate.HOURS), name="subscriber_upkeep")
def subscriber_upkeep(event):
    with operation("SubscriberUpkeep", trigger="schedule"):
        done = notify.subscriber_upkeep()
        count("SubscribersSuppressed", done["suppressed"])
        count("UnconfirmedSignupsErased", done["purged"])
    return done
