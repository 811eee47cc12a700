"""Check and normalise what people type: email addresses, phone numbers, webhook URLs.

email-validator and phonenumbers do the work; the errors name the field and the fix. Both
load on first use (about 35 ms between them), so the routes and functions that only name
``InvalidDestination`` or mask a destination do not pay for them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from chalicelib.i18n import N_

if TYPE_CHECKING:
    from chalicelib.notify.policy import SubscriptionPolicy


class InvalidDestination(ValueError):
    """What was typed cannot be used: ``field`` names it, ``message`` says the fix (English, for the API).

    ``words`` is the same for a reader of the page: a catalogue message (``i18n``) with
    ``{placeholders}`` filled from ``params``, so the sign-up pages say it in the reader's language.
    """

    def __init__(self, field: str, message: str, words: str | None = None, **params):
        self.field = field
        super().__init__(f"{field}: {message}")
        self.message = message
        self.words, self.params = words, params


def normalise_email(raw: str, *, check_domain: bool = False) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(raw.strip(), check_deliverability=check_domain)
    except EmailNotValidError as exc:
        raise InvalidDestination("email", f"{exc}; enter an address such as name@example.com",
                                 N_("This email address cannot be used; enter an address such as "
                                    "name@example.com.")) from None
    # One address, one subscriber: Ana@Example.com and ana@example.com are the same mailbox at
    # every provider people use, whatever RFC 5321 allows.
    return checked.normalized.lower()


def normalise_phone(raw: str, policy: SubscriptionPolicy) -> str:
    """E.164 (+4915112345678) for a valid number of an allowed country."""
    import phonenumbers

    countries = policy.sms_countries
    try:
        number = phonenumbers.parse(raw.strip(), countries[0])
    except phonenumbers.NumberParseException:
        raise InvalidDestination("phone", "not a phone number; enter it with its country code, e.g. +49 151 12345678",
                                 N_("This is not a phone number; enter it with its country code, e.g. "
                                    "+49 151 12345678.")) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidDestination("phone", "this number does not exist; check the digits and the country code",
                                 N_("This number does not exist; check the digits and the country code."))
    region = phonenumbers.region_code_for_number(number)
    if region not in countries:
        raise InvalidDestination("phone", f"we cannot send text messages to numbers of {region or 'that country'}; "
                                          f"numbers of {', '.join(countries)} can subscribe, or subscribe by email",
                                 N_("We cannot send text messages to numbers of {region}; numbers of {countries} "
                                    "can subscribe, or subscribe by email."),
                                 region=region or "?", countries=", ".join(countries))
    if phonenumbers.number_type(number) not in (phonenumbers.PhoneNumberType.MOBILE,
                                                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidDestination("phone", "this is not a mobile number; enter a number that can receive texts",
                                 N_("This is not a mobile number; enter a number that can receive texts."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Providers where dots in the local part are ignored, and the domain each is an alias of.
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def limit_key(channel: str, destination: str) -> str:
    """One key per mailbox for the sign-up limits, so variants of an address share its limit.

    Lower case, no ``+tag`` (Ana+1@x.com and ana+2@x.com reach ana@x.com), and for Gmail no
    dots and one domain (a.na@googlemail.com is ana@gmail.com). Only the limits use it: mail
    goes to the address as given.
    """
    if channel != "email" or "@" not in destination:
        return destination
    local, domain = destination.lower().rsplit("@", 1)
    local = local.split("+", 1)[0] or local
    if domain in _DOTLESS_DOMAINS:
        local, domain = local.replace(".", ""), _DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


def calling_code(number: str) -> int:
    """The country calling code of an E.164 number (49 for +4915112345678)."""
    import phonenumbers

    return phonenumbers.parse(number).country_code


def check_webhook_url(raw: str) -> str:
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidDestination("url", "must be an absolute http(s) URL, e.g. https://hooks.example.com/beacon")
    if parts.username or parts.password:
        raise InvalidDestination("url", "must not carry a user name or password; the payload is signed instead")
    return url


def mask(channel: str, destination: str) -> str:
    """What an answer may show of a destination: enough to recognise it, not to harvest it."""
    from chalicelib.notify import channels     # the channels import this module

    return channels.get(channel).mask(destination)
