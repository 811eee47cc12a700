"""Sign-up with double opt-in, confirmation, unsubscribe and the manage page's changes.

Every sign-up is answered the same way whatever the destination's state (new, pending,
confirmed, unsubscribed, suppressed), so the form cannot be used to learn who subscribes:
each state costs the same store requests and gets an opt-in whose code page answers alike.
A known address gets a confirmation like a new one (confirming it again sets the components
of that sign-up); only a suppressed one (bounced, complained, STOP) is sent nothing.
Limits are counted before anything is written or sent: per source address, per destination
(``destinations.limit_key``: case, ``+tag`` and Gmail dots do not make a new one) and, for
confirmation texts, a ceiling per hour for the whole page and per country calling code
(``SmsCeilingReached`` is counted and alarmed). The only message an unconfirmed destination
ever gets is its confirmation: an email link (single use, 7 days) or an SMS code with a
link; every code try is counted by one conditional update before the code is compared, so
parallel guesses get no more than ``code_attempts`` between them.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import msgspec

from chalicelib.config import Site
from chalicelib.i18n import N_
from chalicelib.model import new_id
from chalicelib.notify import channels
from chalicelib.notify.destinations import InvalidDestination, calling_code, limit_key
from chalicelib.store.windows import TooMany
from chalicelib.notify.model import Channel, Consent, OptIn, Subscriber, SubscriberStatus
from chalicelib.notify.senders import AccountRefused, EmailSender, SendError, SmsSender
from chalicelib.observability import count
from chalicelib.store.subscribers import SubscriberStore
from chalicelib.store.table import Conflict

log = logging.getLogger("beacon.notify")


class InvalidLink(Exception):
    """A confirmation, unsubscribe or manage link that is unknown, used, expired or tampered with.

    The message is English (the API's); ``words`` says it for a reader of the page (``i18n``)."""

    def __init__(self, message: str, words: str | None = None):
        super().__init__(message)
        self.words, self.params = words, {}


class WrongCode(Exception):
    def __init__(self, attempts_left: int):
        self.attempts_left = attempts_left
        super().__init__(f"that code is not right; {attempts_left} tries left" if attempts_left
                         else "too many wrong codes; subscribe again to get a new code")


class ConfirmationNotSent(Exception):
    """The provider refused the confirmation for a reason of its own (throttled, down): try again."""


class SignupAnswer(msgspec.Struct, frozen=True):
    channel: Channel
    masked: str
    verify_id: str          # the code entry page's id (SMS); the same shape for email
    expires_in_hours: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Subscriptions(msgspec.Struct):
    store: SubscriberStore
    site: Site
    email: EmailSender
    sms: SmsSender
    api_url: str
    email_source: str
    templates_dir: Path
    clock: Callable[[], datetime]

    @property
    def policy(self):
        return self.site.subscriptions

    # -- sign-up ---------------------------------------------------------------------------
    def subscribe(self, *, email: str | None, phone: str | None, components: list[str],
                  source_ip: str, language: str | None = None) -> SignupAnswer:
        """``language``: what the subscriber reads (one of the site's languages; None: the default)."""
        typed = {"email": (email or "").strip(), "phone": (phone or "").strip()}
        given = [(kind, typed[kind.signup_field]) for kind in channels.signup() if typed.get(kind.signup_field)]
        if len(given) != 1:
            raise InvalidDestination("email", "give an email address or a phone number (one of the two)",
                                     N_("Enter an email address or a phone number (one of the two)."))
        components = self.check_components(components)
        language = self.check_language(language)
        kind, raw = given[0]
        if not kind.offered(self.policy):
            raise InvalidDestination(kind.signup_field, kind.not_offered, kind.not_offered)
        channel, destination = kind.name, kind.normalise(raw, self.policy)
        now = self.clock()
        limits = self.policy.limits
        self._limit(f"ip:{source_ip}:{channel.value}", kind.signups_per_ip(self.policy), now,
                    f"{channel.value} sign-ups from your address")
        self._limit(f"destination:{channel.value}:{limit_key(channel.value, destination)}",
                    limits.confirmations_per_destination, now, "confirmation messages to this destination")
        if kind.paid_confirmations:
            self._sms_ceiling(destination, now)
        hours = kind.confirm_hours(self.policy)
        answer = SignupAnswer(channel, kind.mask(destination), new_id(now), hours)
        subscriber = self.store.enlist(Subscriber(id=new_id(now), channel=channel, destination=destination,
                                                  created_at=now, updated_at=now,
                                                  manage_token=secrets.token_urlsafe(24)))
        token = secrets.token_urlsafe(12)
        code = f"{secrets.randbelow(10 ** 6):06d}" if kind.confirms_by_code else None
        # A suppressed destination gets an opt-in too, so its code page answers like any other.
        optin = self.store.add_optin(OptIn(
            id=answer.verify_id, subscriber_id=subscriber.id, channel=channel,
            components=components, token_hash=token_hash(token),
            code_hash=token_hash(f"{answer.verify_id}:{code}") if code else None,
            created_at=now, expires_at=now + timedelta(hours=hours), language=language,
        ))
        if subscriber.status is SubscriberStatus.SUPPRESSED:
            log.info("sign-up for suppressed subscriber %s: answered, nothing sent", subscriber.id)
            return answer
        self._send_confirmation(optin, subscriber, token, code)
        return answer

    def _sms_ceiling(self, number: str, now: datetime) -> None:
        """The page's ceilings on confirmation texts, whoever asks: counted and alarmed when reached."""
        limits = self.policy.limits
        try:
            self._limit("sms-ceiling:page", limits.sms_confirmations, now,
                        "text message sign-ups on this page just now (email sign-ups still work)")
            self._limit(f"sms-ceiling:+{calling_code(number)}", limits.sms_confirmations_per_country, now,
                        "text message sign-ups for this country just now (email sign-ups still work)")
        except TooMany:
            count("SmsCeilingReached")
            log.warning("SMS confirmation ceiling reached (+%s): sign-up refused", calling_code(number))
            raise

    def check_components(self, components: list[str]) -> list[str]:
        wanted = sorted({c.strip() for c in components if c and c.strip()})
        unknown = [c for c in wanted if c not in self.site.component_ids]
        if unknown:
            raise InvalidDestination("components", f"no component {unknown[0]!r}; use ids such as "
                                                   f"{', '.join(sorted(self.site.component_ids)[:4])}",
                                     N_("There is no component {component} on this page."), component=unknown[0])
        # Every component chosen is the same as none chosen: future components included.
        return [] if set(wanted) == set(self.site.component_ids) else wanted

    def check_language(self, language: str | None) -> str | None:
        if language is None or language in self.site.languages:
            return language
        raise InvalidDestination("language", f"this page is written in {', '.join(self.site.languages)}; "
                                             f"choose one of those, not {language!r}",
                                 N_("This page is written in {languages}; choose one of those."),
                                 languages=", ".join(self.site.languages))

    def _limit(self, key: str, limit, now: datetime, what: str) -> None:
        counted, resets_in = self.store.count_in_window(key, now, limit.window_seconds)
        if counted > limit.count:
            raise TooMany(what, resets_in)

    def _send_confirmation(self, optin: OptIn, subscriber: Subscriber, token: str, code: str | None) -> None:
        confirm_url = f"{self.api_url}/subscribers/confirm/{optin.id}?token={token}"
        kind = channels.get(optin.channel)
        language = optin.language or self.site.default_language
        site = self.site.in_language(language)
        names = [site.component(c).name for c in optin.components]
        message = kind.confirmation(site, subscriber.destination, confirm_url, code, names, self.templates_dir,
                                    self.email_source, language)
        try:
            kind.send(message, subscriber, self)   # ``email`` and ``sms`` are this object's senders
        except SendError as exc:
            if isinstance(exc, AccountRefused):
                count(f"{optin.channel.value.capitalize()}AccountRefused")
            log.warning("confirmation for opt-in %s not sent: %s", optin.id, exc.reason)
            raise ConfirmationNotSent(exc.reason) from exc

    # -- confirmation ----------------------------------------------------------------------
    def pending(self, optin_id: str) -> OptIn:
        optin = self.store.get_optin(optin_id)
        if optin is None or optin.expires_at <= self.clock():
            raise InvalidLink("this confirmation has expired or was used already; subscribe again for a new one",
                              N_("This confirmation has expired or was used already; subscribe again for a new one."))
        return optin

    def confirm_link(self, optin_id: str, token: str) -> Subscriber:
        optin = self.pending(optin_id)
        if not hmac.compare_digest(optin.token_hash, token_hash(token or "")):
            raise InvalidLink("this confirmation link is not valid; use the newest link we sent, or subscribe again",
                              N_("This confirmation link is not valid; use the newest link we sent, or subscribe "
                                 "again."))
        return self._confirm(optin)

    def confirm_code(self, optin_id: str, code: str) -> Subscriber:
        optin = self.pending(optin_id)
        if optin.code_hash is None:
            raise InvalidLink("this sign-up is confirmed by the link in its email, not by a code",
                              N_("This sign-up is confirmed by the link in its email, not by a code."))
        allowed = self.policy.limits.code_attempts
        # The try is taken before the code is compared: parallel guesses cannot share a count.
        counted = self.store.take_code_try(optin.id, allowed)
        if counted is None:
            raise WrongCode(0)
        code = "".join(ch for ch in (code or "") if ch.isdigit())
        if hmac.compare_digest(counted.code_hash or "", token_hash(f"{optin.id}:{code}")):
            return self._confirm(counted)
        raise WrongCode(max(0, allowed - counted.attempts))

    def _confirm(self, optin: OptIn) -> Subscriber:
        try:
            self.store.use_optin(optin)
        except Conflict:
            raise InvalidLink("this confirmation was used already", N_("This confirmation was used already.")) from None
        now = self.clock()

        def confirmed(subscriber: Subscriber) -> Subscriber:
            if subscriber.status is SubscriberStatus.SUPPRESSED:
                return subscriber
            return subscriber.replace(status=SubscriberStatus.CONFIRMED, components=optin.components,
                                      consent=Consent.DOUBLE_OPT_IN, confirmed_at=now, unsubscribed_at=None,
                                      updated_at=now, language=optin.language or subscriber.language)

        return self._change(optin.subscriber_id, confirmed)

    # -- links in every message ------------------------------------------------------------
    def by_token(self, subscriber_id: str, token: str) -> Subscriber:
        subscriber = self.store.get(subscriber_id)
        if subscriber is None or not hmac.compare_digest(subscriber.manage_token, token or ""):
            raise InvalidLink("this link is not valid; use the link in the newest message we sent you",
                              N_("This link is not valid; use the link in the newest message we sent you."))
        return subscriber

    def unsubscribe(self, subscriber_id: str, token: str) -> Subscriber | None:
        """RFC 8058 one-click: idempotent, and an erased subscriber is simply gone (None)."""
        if self.store.get(subscriber_id) is None:
            return None
        self.by_token(subscriber_id, token)
        now = self.clock()

        def unsubscribed(subscriber: Subscriber) -> Subscriber:
            if subscriber.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.SUPPRESSED):
                return subscriber
            return subscriber.replace(status=SubscriberStatus.UNSUBSCRIBED, unsubscribed_at=now, updated_at=now)

        return self._change(subscriber_id, unsubscribed)

    def update_components(self, subscriber_id: str, token: str, components: list[str],
                          language: str | None = None) -> Subscriber:
        """The manage page's save: the components heard about and, when given, the language read."""
        self.by_token(subscriber_id, token)
        chosen = self.check_components(components)
        if not [c for c in components if c.strip()]:
            raise InvalidDestination("components", "choose at least one component, or unsubscribe instead",
                                     N_("Choose at least one component, or unsubscribe instead."))
        language = self.check_language(language)
        now = self.clock()
        change = {"components": chosen, "updated_at": now} | ({"language": language} if language else {})
        return self._change(subscriber_id, lambda s: s.replace(**change))

    def _change(self, subscriber_id: str, change: Callable[[Subscriber], Subscriber]) -> Subscriber:
        for _ in range(5):
            current = self.store.get(subscriber_id)
            if current is None:
                raise InvalidLink("this subscription no longer exists; subscribe again",
                                  N_("This subscription no longer exists; subscribe again."))
            changed = change(current)
            if changed == current:
                return current
            try:
                return self.store.save(changed, previous=current.status)
            except Conflict:
                continue
        raise Conflict(f"subscriber {subscriber_id} kept changing; try again")
