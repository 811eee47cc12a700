"""This container's subscriber upkeep: SES's bounces and complaints, and the hourly sweep.

Bound to the settings and AWS as ``service`` binds delivery, without what delivery loads (the
message templates, the planner, the webhook and chat senders), so the two functions that run it
start without them. The sweep is handed the site's subscription policy by its handler, so SES
feedback, which reads no site, starts without the site's configuration (YAML and its models).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib import aws
from chalicelib.model import utcnow
from chalicelib.notify.feedback import FeedbackResult, apply_feedback, purge_unconfirmed, sync_opt_outs
from chalicelib.notify.senders import SmsSender
from chalicelib.store.subscribers import SubscriberStore
from chalicelib.store.table import Table

if TYPE_CHECKING:
    from chalicelib.notify.policy import SubscriptionPolicy


def ses_feedback(message: str) -> FeedbackResult:
    return apply_feedback(SubscriberStore(Table(aws.get_table())), message, utcnow())


def subscriber_upkeep(policy: SubscriptionPolicy, now: datetime | None = None) -> dict[str, int]:
    """Hourly: suppress numbers that replied STOP; erase sign-ups unconfirmed past their window
    (``policy``: the site's, ``Site.subscriptions``)."""
    now = now or utcnow()
    store = SubscriberStore(Table(aws.get_table()))
    window = max(timedelta(days=policy.confirm_email_days), timedelta(hours=policy.confirm_sms_hours))
    return {"suppressed": sync_opt_outs(store, SmsSender(aws.client("sns")).opted_out_numbers(), now),
            "purged": purge_unconfirmed(store, now - window - timedelta(days=1))}
