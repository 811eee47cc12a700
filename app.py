"""Beacon's Chalice wiring: routes, schedules and event handlers. The work is in chalicelib."""
from chalice import Chalice, Rate

from chalicelib.config import get_site
from chalicelib.observability import count, operation
from chalicelib.settings import get_settings
from chalicelib.site.service import publish_site

app = Chalice(app_name="beacon")


@app.route("/health", methods=["GET"], cors=True)
def health():
    return {"status": "ok", "stage": get_settings().stage, "site": get_site().brand.name}


@app.schedule(Rate(5, unit=Rate.MINUTES), name="publish_site")
def scheduled_publish(event):
    with operation("Publish", trigger="schedule"):
        result = publish_site()
        count("PagePublished")
    return {"uploaded": len(result.uploaded), "unchanged": result.unchanged}


@app.on_sqs_message(queue="publish.fifo", batch_size=10, name="publish_requested")
def publish_requested(event):
    # One publish renders the latest state, so a batch of requests needs one.
    with operation("Publish", trigger="request", requests=len(list(event))):
        publish_site()
        count("PagePublished")
