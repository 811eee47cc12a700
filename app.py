"""Beacon's Chalice wiring: routes, schedules and event handlers. The work is in chalicelib."""
from chalice import Chalice, Rate

from chalicelib.config import get_site
from chalicelib.settings import get_settings
from chalicelib.site.service import publish_site

app = Chalice(app_name="beacon")


@app.route("/health", methods=["GET"], cors=True)
def health():
    return {"status": "ok", "stage": get_settings().stage, "site": get_site().brand.name}


@app.schedule(Rate(5, unit=Rate.MINUTES), name="publish_site")
def scheduled_publish(event):
    result = publish_site()
    return {"uploaded": len(result.uploaded), "unchanged": result.unchanged}
