"""The only notify code that talks to AWS or the network: SES, SNS, webhooks and chat platforms, the queue.

Every failure is sorted into ``Transient`` (throttling, timeouts, 5xx: try again later) or
``Permanent`` (a rejected address, a 4xx from a webhook or chat platform: record it and move on). SES refusing
the whole account (sending paused, the sender identity not verified, throttled, over quota)
is ``AccountRefused``, a transient failure: it says nothing about the recipient.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from email.utils import parseaddr
from urllib.parse import urlsplit

import urllib3
from botocore.exceptions import BotoCoreError, ClientError

import msgspec

from chalicelib.probes.guard import TargetGuard, TargetRefused, guarded_pool_manager

TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "Throttled", "TooManyRequestsException", "ServiceUnavailable",
    "ServiceUnavailableException", "InternalFailure", "InternalError", "InternalErrorException",
    "RequestTimeout", "RequestTimeoutException", "KMSThrottlingException", "LimitExceededException",
})
# SES error codes that refuse every message of the account, whoever it is for.
SES_ACCOUNT_CODES = frozenset({
    "AccountSendingPausedException", "SendingPausedException", "ConfigurationSetSendingPausedException",
    "AccountSuspendedException", "MailFromDomainNotVerifiedException", "Throttling", "ThrottlingException",
    "TooManyRequestsException", "LimitExceededException", "ServiceUnavailable", "ServiceUnavailableException",
})
# Wordings of ``MessageRejected`` that are about the recipient's address; any other rejection
# that does not name the recipient (sending suspended, the sender not verified) is the account's.
SES_ADDRESS_REJECTIONS = ("blacklisted", "illegal address", "suppression list")
SIGNATURE_HEADER = "X-Beacon-Signature"


class SendError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Transient(SendError):
    pass


class Permanent(SendError):
    pass


class AccountRefused(Transient):
    """The provider refuses the whole account for now: retry later, and blame no recipient."""


def _classified(exc: Exception) -> SendError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        reason = f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
        return Transient(reason) if error.get("Code") in TRANSIENT_CODES else Permanent(reason)
    return Transient(f"{exc.__class__.__name__}: {exc}")


def _ses_classified(exc: Exception, source: str, to: str) -> SendError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), str(error.get("Message", ""))
        reason = f"{code}: {message}".strip()
        if code in SES_ACCOUNT_CODES:
            return AccountRefused(reason)
        if code == "MessageRejected":
            text, sender = message.lower(), parseaddr(source)[1].lower()
            names_recipient = to.lower() in text or any(words in text for words in SES_ADDRESS_REJECTIONS)
            names_sender = bool(sender) and sender in text
            return Permanent(reason) if names_recipient and not names_sender else AccountRefused(reason)
    return _classified(exc)


class EmailSender:
    def __init__(self, ses):
        self.ses = ses

    def send(self, source: str, to: str, raw: bytes) -> str:
        try:
            return self.ses.send_raw_email(Source=source, Destinations=[to], RawMessage={"Data": raw})["MessageId"]
        except (ClientError, BotoCoreError) as exc:
            raise _ses_classified(exc, source, to) from exc


class SmsSender:
    def __init__(self, sns):
        self.sns = sns

    def opted_out(self, number: str) -> bool:
        try:
            return bool(self.sns.check_if_phone_number_is_opted_out(phoneNumber=number)["isOptedOut"])
        except (ClientError, BotoCoreError) as exc:
            raise _classified(exc) from exc

    def opted_out_numbers(self) -> Iterator[str]:
        kwargs: dict = {}
        while True:
            page = self.sns.list_phone_numbers_opted_out(**kwargs)
            yield from page.get("phoneNumbers", [])
            if not page.get("nextToken"):
                return
            kwargs["nextToken"] = page["nextToken"]

    def send(self, number: str, text: str) -> str:
        try:
            return self.sns.publish(
                PhoneNumber=number, Message=text,
                MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
            )["MessageId"]
        except (ClientError, BotoCoreError) as exc:
            raise _classified(exc) from exc


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``; receivers recompute and compare."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class WebhookSender:
    """POSTs JSON through the probes' target guard (public addresses only, checked at connect): signed for
    webhooks (``send``), as the platform expects for chat channels (``post``)."""

    def __init__(self, allow_private: bool = False, timeout: float = 5.0, clock: Callable[[], float] = time.time,
                 allowed_networks: tuple[str, ...] = ()):
        self.guard = TargetGuard(allow_private=allow_private, allowed_networks=tuple(allowed_networks))
        self.pool = guarded_pool_manager(self.guard, maxsize=2)
        self.timeout = timeout
        self.clock = clock

    def check(self, url: str) -> None:
        """Refuse a URL whose host resolves to an address webhooks may not reach (``Permanent``)."""
        parts = urlsplit(url)
        try:
            self.guard.resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        except (TargetRefused, OSError) as exc:
            raise Permanent(_refusal(exc)) from exc

    def send(self, url: str, secret: str, payload: dict, delivery_id: str) -> str:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Beacon-Webhook/1",
            SIGNATURE_HEADER: sign(secret, int(self.clock()), body),
            "X-Beacon-Delivery": delivery_id,
        }
        return self._post(url, body, headers, shown=url)

    def post(self, url: str, payload: dict) -> str:
        """POST unsigned JSON to a chat platform; the URL holds a secret, so no error names it."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Beacon-Webhook/1"}
        return self._post(url, body, headers, shown=urlsplit(url).hostname or "the platform")

    def _post(self, url: str, body: bytes, headers: dict, shown: str) -> str:
        try:
            response = self.pool.request("POST", url, body=body, headers=headers, redirect=False, retries=False,
                                         timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout))
        except TargetRefused as exc:
            raise Permanent(_refusal(exc)) from exc
        except urllib3.exceptions.HTTPError as exc:
            detail = f": {exc}" if shown == url else f" reaching {shown}"
            raise Transient(f"{exc.__class__.__name__}{detail}") from exc
        if response.status < 300:
            return str(response.status)
        reason = f"HTTP {response.status} from {shown}"
        if response.status in (408, 425, 429) or response.status >= 500:
            raise Transient(reason)
        raise Permanent(reason)


def _refusal(exc: Exception) -> str:
    reason = str(exc).split("; probes reach", 1)[0]
    if isinstance(exc, TargetRefused):
        reason += ("; webhooks reach public addresses only, unless site.yml lists the network under "
                   "subscriptions.webhooks_allowed_private_networks (or sets webhooks_allow_private_targets: true)")
    return reason


class NotificationQueue:
    """Sends JSON messages to the notification queue, ten per call, retrying entries SQS refused."""

    def __init__(self, sqs, url: str, attempts: int = 5, sleep: Callable[[float], None] = time.sleep):
        self.sqs = sqs
        self.url = url
        self.attempts = attempts
        self.sleep = sleep

    def send(self, bodies: list[dict]) -> None:
        for start in range(0, len(bodies), 10):
            entries = {str(i): json.dumps(body, separators=(",", ":"))
                       for i, body in enumerate(bodies[start:start + 10])}
            for attempt in range(self.attempts):
                response = self.sqs.send_message_batch(
                    QueueUrl=self.url, Entries=[{"Id": key, "MessageBody": value} for key, value in entries.items()])
                failed = {f["Id"] for f in response.get("Failed", [])}
                entries = {key: value for key, value in entries.items() if key in failed}
                if not entries:
                    break
                self.sleep(0.2 * 2 ** attempt)
            else:
                raise RuntimeError(f"SQS refused {len(entries)} message(s) {self.attempts} times")


class Senders(msgspec.Struct):
    """What a delivery sends with: one sender per kind of destination, and the queue for fan-out."""

    email: EmailSender
    sms: SmsSender
    webhook: WebhookSender
    queue: NotificationQueue
