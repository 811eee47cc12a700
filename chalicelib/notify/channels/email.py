"""Email: raw MIME (text and HTML from ``templates/email``) through SES, with one-click unsubscribe."""
from __future__ import annotations

from chalicelib.i18n import N_
from chalicelib.notify.channels.base import BaseChannel
from chalicelib.notify.model import Channel as ChannelName


class Email(BaseChannel):
    name = ChannelName.EMAIL
    batch_size = 25
    confirmation_place = "inbox"
    signup_field = "email"
    not_offered = N_("this page does not offer email updates; subscribe by SMS")

    def offered(self, policy) -> bool:
        return policy.email

    def normalise(self, raw: str, policy) -> str:
        from chalicelib.notify.destinations import normalise_email

        return normalise_email(raw, check_domain=policy.check_email_domain)

    def signups_per_ip(self, policy):
        return policy.limits.email_signups_per_ip

    def confirm_hours(self, policy) -> int:
        return policy.confirm_email_days * 24

    def confirmation(self, site, destination: str, confirm_url: str, code: str | None, component_names: list[str],
                     templates_dir, email_source: str, language: str) -> tuple[str, bytes]:
        from chalicelib.notify import content

        mail = content.confirmation_email(site, confirm_url, component_names, site.subscriptions.confirm_email_days,
                                          templates_dir, language=language)
        return email_source, content.raw_email(email_source, site.brand.name, destination, mail, {})

    def rate(self, settings) -> float:
        return settings.email_send_rate / settings.notify_consumers

    def mask(self, destination: str) -> str:
        if "@" not in destination:
            return destination
        local, domain = destination.rsplit("@", 1)
        return f"{local[:1]}***@{domain}"

    def render(self, event, context) -> tuple[str, bytes]:
        from chalicelib.notify import content

        mail = content.notification_email(event, context.site, context.incident, context.links, context.templates_dir,
                                          language=context.language)
        headers = {**content.unsubscribe_headers(context.links.unsubscribe_url), "X-Beacon-Notification": event.id}
        return context.email_source, content.raw_email(context.email_source, context.site.brand.name,
                                                       context.subscriber.destination, mail, headers)

    def send(self, payload: tuple[str, bytes], subscriber, senders) -> str:
        source, raw = payload
        return senders.email.send(source, subscriber.destination, raw)


CHANNEL = Email()
