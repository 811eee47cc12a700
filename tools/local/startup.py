"""What the local stack does once its resources exist, before it serves: seed and publish.

Each capability that needs local seed data (an admin key, demo state) adds a step here.
Two seeds are handed back to the demo upstream rather than kept, both made anew at every
start and held nowhere else: the demo job's heartbeat URLs (``heartbeat_urls``) and the
demo post scheduler's webhook secret (``scheduler_webhook_secret``).
"""
from __future__ import annotations

import logging

log = logging.getLogger("beacon.local")


def publish_first_page(app) -> None:
    from chalicelib.site.service import publish_site

    result = publish_site()
    log.info("published the page: %d object(s)", len(result.uploaded))


def seed_admin_key(app) -> None:
    """The local stack's admin key, from BEACON_ADMIN_KEY; a deployed stage uses `beacon keys create --direct`."""
    import os

    from chalicelib import aws
    from chalicelib.api.auth import check_key, create_key
    from chalicelib.model import utcnow
    from chalicelib.store import Table

    secret = os.environ.get("BEACON_ADMIN_KEY")
    if not secret:
        return
    table = Table(aws.get_table())
    if check_key(table, secret) is None:
        create_key(table, name="local-admin", scope="admin", created_by="local stack", now=utcnow(), secret=secret)
        log.info("seeded the local admin API key from BEACON_ADMIN_KEY")


def seed_chat_subscribers(app) -> None:
    """One webhook and one Slack, Teams, Discord and Telegram subscriber, all posting to the chat receiver
    (CHAT_PORT), added as the admin API adds them; a destination that has a subscriber already keeps it."""
    import os

    from chalicelib.config import get_site
    from chalicelib.model import utcnow
    from chalicelib.notify import service
    from chalicelib.notify.admin import add_subscriber
    from chalicelib.store.subscribers import SubscriberStore
    from chalicelib.store.table import AlreadyExists
    from tools.local.chat import seed_destinations

    port = os.environ.get("CHAT_PORT")
    if not port:
        return
    store, site, check_target = SubscriberStore(service.table()), get_site(), service.senders().webhook.check
    added = []
    for kind, fields in seed_destinations(f"http://127.0.0.1:{port}").items():
        try:
            add_subscriber(store, site, kind, fields, label=f"local {kind}", components=[], check_target=check_target,
                           now=utcnow())
        except AlreadyExists:
            continue
        added.append(kind)
    if added:
        log.info("seeded %s subscriber(s) posting to the chat receiver", ", ".join(added))


def heartbeat_urls(api_url: str) -> list[str]:
    """A fresh secret for every heartbeat probe of the site (as `beacon heartbeats rotate` makes
    one, the old one cut at once), as the URLs the demo job calls."""
    from datetime import timedelta

    from chalicelib import aws
    from chalicelib.config import get_site
    from chalicelib.model import utcnow
    from chalicelib.probes.heartbeats import create_secret, heartbeat_probes
    from chalicelib.store import Table
    from chalicelib.store.probes import ProbeStore

    site, store = get_site(), ProbeStore(Table(aws.get_table()))
    urls = []
    for probe_key in heartbeat_probes(site):
        secret, _ = create_secret(store, site, probe_key, now=utcnow(), created_by="local stack", rotate=True,
                                  overlap=timedelta(0))
        urls.append(f"{api_url}/heartbeat/{secret}")
    if urls:
        log.info("made %d heartbeat secret(s) for the demo job", len(urls))
    return urls


SCHEDULER_WEBHOOK_PATH = "/_demo/scheduler/webhook"


def scheduler_webhook_secret(demo_url: str) -> str:
    """Add the demo post scheduler's webhook subscriber (the platforms' components only, as the
    admin API adds it) and return its signing secret, which no answer shows again.

    The secret lives in the demo's memory only, so a subscriber an earlier start left (a
    restarted demo, or another DEMO_PORT on the same tables) is erased and added anew rather
    than kept with a secret nobody holds.
    """
    from urllib.parse import urlsplit

    from chalicelib.config import get_site
    from chalicelib.model import utcnow
    from chalicelib.notify import service
    from chalicelib.notify.admin import add_subscriber
    from chalicelib.notify.model import Channel
    from chalicelib.store.subscribers import SubscriberStore
    from tools.local.scheduler import PLATFORM_OF

    store, site = SubscriberStore(service.table()), get_site()
    for page in store.pages():
        for subscriber in page:
            target = urlsplit(subscriber.destination)
            if (subscriber.channel is Channel.WEBHOOK and target.hostname == "127.0.0.1"
                    and target.path == SCHEDULER_WEBHOOK_PATH):
                store.erase(subscriber)
    components = sorted(component for component in PLATFORM_OF if component in site.component_ids)
    _, secret = add_subscriber(store, site, "webhook", {"url": demo_url + SCHEDULER_WEBHOOK_PATH},
                               label="demo post scheduler", components=components,
                               check_target=service.senders().webhook.check, now=utcnow())
    log.info("seeded the demo post scheduler's webhook (%s)", ", ".join(components) or "every component")
    return secret


def console_links(page_url: str, admin_key: str) -> tuple[str, str]:
    """The marketer console on the local page server, and a one-time sign-in link to it for ``admin_key``
    (the console reads the key from the fragment once, keeps it in the tab's sessionStorage and removes it
    from the address; a fragment never reaches a server)."""
    from tools.cli.api import console_sign_in_link

    return page_url.rstrip("/") + "/admin/", console_sign_in_link(page_url, admin_key)


STEPS = [seed_admin_key, seed_chat_subscribers, publish_first_page]


def run_all(app) -> None:
    for step in STEPS:
        step(app)
