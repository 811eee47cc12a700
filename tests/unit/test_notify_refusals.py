"""Which provider refusals are about the recipient and which about the account, and which
spellings of an address count as one for the sign-up limits."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from chalicelib.notify.destinations import limit_key
from chalicelib.notify.senders import AccountRefused, EmailSender, Permanent, Transient

SOURCE = "Lumen Coffee <status@lumencoffee.com>"


class RefusingSes:
    """An SES client that answers every send with one error, as SES would."""

    def __init__(self, code: str, message: str):
        self.error = ClientError({"Error": {"Code": code, "Message": message}}, "SendRawEmail")

    def send_raw_email(self, **kwargs):
        raise self.error


@pytest.mark.parametrize("code, message", [
    ("AccountSendingPausedException", "Email sending is disabled for this account."),
    ("SendingPausedException", "Sending is paused for this account."),
    ("MessageRejected", "Sending suspended for this account. For more information, check your inbox."),
    ("MessageRejected", "Email address is not verified. The following identities failed the check in region "
                        "EU-WEST-1: status@lumencoffee.com"),
    ("Throttling", "Maximum sending rate exceeded."),
    ("Throttling", "Daily message quota exceeded."),
    ("LimitExceededException", "Too many requests."),
    ("ServiceUnavailable", "Service unavailable."),
])
def test_a_refusal_of_the_account_is_transient_and_blames_no_recipient(code, message):
    sender = EmailSender(RefusingSes(code, message))
    with pytest.raises(AccountRefused) as caught:
        sender.send(SOURCE, "ana@example.com", b"...")
    assert isinstance(caught.value, Transient) and code in caught.value.reason


@pytest.mark.parametrize("message", [
    "Address blacklisted.",
    "Email address is not verified. The following identities failed the check in region EU-WEST-1: ana@example.com",
])
def test_a_rejection_of_the_address_is_permanent(message):
    with pytest.raises(Permanent):
        EmailSender(RefusingSes("MessageRejected", message)).send(SOURCE, "ana@example.com", b"...")


@pytest.mark.parametrize("variants", [
    ("ana@example.com", "Ana@Example.com", "ana+news@example.com", "ANA+x+y@EXAMPLE.COM"),
    ("jodoe@gmail.com", "jo.doe@gmail.com", "J.O.Doe+1@googlemail.com"),
])
def test_case_plus_tags_and_gmail_dots_are_one_destination(variants):
    assert len({limit_key("email", address) for address in variants}) == 1


def test_dots_still_count_outside_gmail_and_numbers_are_kept_as_they_are():
    assert limit_key("email", "jo.doe@example.com") != limit_key("email", "jodoe@example.com")
    assert limit_key("sms", "+4915112345678") == "+4915112345678"
