"""Check and build the fields of Daraja requests before they are sent.

Each check returns the value to send or raises DarajaConfigError naming the value and
the fix, so that a bad request never reaches Daraja, whose errors ("Bad Request -
Invalid Remarks" for a null AccountReference) often name the wrong field.
"""

import base64
import datetime
import re

from decimal import Decimal, InvalidOperation

from .errors import DarajaConfigError

# East Africa Time has no daylight saving time, so a fixed offset is exact. Daraja reads
# the STK Timestamp and sends callback times as EAT wall time, whatever the server's zone.
EAT = datetime.timezone(datetime.timedelta(hours=3), "EAT")
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"

# Per-transaction limits in KES, from the FAQ of Daraja's M-Pesa Express page (read
# 2025-12). The cap has changed before (it was 70,000), so the client lets callers raise it.
MIN_AMOUNT = 1
MAX_AMOUNT = 250000

# Length limits from the M-Pesa Express page (AccountReference 12, TransactionDesc 13)
# and the Reversal page (Remarks 2 to 100), read 2025-12.
ACCOUNT_REFERENCE_MAX = 12
TRANSACTION_DESC_MAX = 13
REMARKS_MAX = 100
# The C2B pages give BillRefNumber up to 20 characters.
BILL_REF_NUMBER_MAX = 20
OCCASION_MAX = 100

# TransactionDesc is the only optional STK Push field, yet Daraja fails on a null
# value, so an empty description is replaced by this text.
DEFAULT_TRANSACTION_DESC = "Payment"

# Free-text fields accept ASCII letters, digits, space and these characters by default.
# Daraja documents AccountReference as alphanumeric, and integrators report that "@",
# "#" and "&" make requests fail. The list is therefore a small allow-list rather than a
# block-list. "-", "_", "." and "/" are kept because invoice and order numbers use them
# (INV/2024/0001, SO-042). Callers may allow more characters through
# DarajaClient(allowed_punctuation=...), except those in ALWAYS_REJECTED.
DEFAULT_ALLOWED_PUNCTUATION = " -_./"

# Characters reported to break Daraja requests or its HTML/JSON handling, never allowed.
ALWAYS_REJECTED = "@#&<>\"'"

# BusinessShortCode, PartyB and till numbers are 5 to 7 digits on the M-Pesa Express page.
_SHORTCODE = re.compile(r"^[0-9]{5,7}$")
_TIMESTAMP = re.compile(r"^[0-9]{14}$")
# Receipts are 10 upper-case alphanumerics, but Transaction Status also takes conversation IDs.
_TRANSACTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_allowed_punctuation(punctuation):
    """Return ``punctuation`` if it contains no character of ``ALWAYS_REJECTED`` or control character."""
    punctuation = punctuation or ""
    for char in punctuation:
        if char in ALWAYS_REJECTED or not char.isprintable() or char.isalnum():
            raise DarajaConfigError(
                "Character %r cannot be allowed in Daraja free-text fields. Remove it from "
                "allowed_punctuation (these are always rejected: %s)." % (char, ALWAYS_REJECTED)
            )
    return punctuation


def eat_timestamp(moment=None):
    """Return ``moment`` (default: now) as a Daraja Timestamp, YYYYMMDDHHmmss in EAT.

    A naive ``moment`` is read as UTC, as Odoo stores datetimes.
    """
    if moment is None:
        moment = datetime.datetime.now(datetime.timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(EAT).strftime(TIMESTAMP_FORMAT)


def check_timestamp(value):
    """Return ``value`` as a Daraja Timestamp: 14 digits forming a real date and time.

    Accept the text itself or a datetime (converted with ``eat_timestamp``). None means now.
    """
    if value is None or isinstance(value, datetime.datetime):
        return eat_timestamp(value)
    text = str(value)
    if _TIMESTAMP.match(text):
        try:
            datetime.datetime.strptime(text, TIMESTAMP_FORMAT)
            return text
        except ValueError:
            pass
    raise DarajaConfigError(
        "Timestamp %r is invalid. Daraja expects YYYYMMDDHHmmss in East Africa Time, "
        "e.g. 20240628092408. Leave it empty to use the current time." % (value,)
    )


def stk_password(shortcode, passkey, timestamp):
    """Return the STK Push Password: base64(BusinessShortCode + passkey + Timestamp).

    The Timestamp sent in the body must be the same ``timestamp``, or Daraja returns
    "Wrong credentials".
    """
    if not passkey:
        raise DarajaConfigError(
            "The STK Push passkey of shortcode %s is missing. Copy it from the Daraja portal." % shortcode
        )
    raw = "%s%s%s" % (shortcode, passkey, timestamp)
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


def check_amount(value, maximum=MAX_AMOUNT, field="Amount"):
    """Return ``value`` as an int of whole shillings between MIN_AMOUNT and ``maximum``.

    A fractional amount is rejected, never rounded: rounding would charge the customer
    a different sum than the document shows.
    """
    if value is None or isinstance(value, bool):
        raise DarajaConfigError("%s is missing. Give a whole number of shillings." % field)
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise DarajaConfigError(
            "%s %r is not a number. Give a whole number of shillings, e.g. 100." % (field, value)
        )
    if not amount.is_finite():
        raise DarajaConfigError("%s %r is not a finite number." % (field, value))
    if amount != amount.to_integral_value():
        raise DarajaConfigError(
            "%s %s is not a whole number of shillings. M-Pesa accepts whole shillings only, "
            "and the amount is not rounded for you: round it before sending." % (field, value)
        )
    whole = int(amount)
    if whole < MIN_AMOUNT or whole > maximum:
        raise DarajaConfigError(
            "%s %s is outside the M-Pesa limits of KES %d to %d per transaction." % (field, value, MIN_AMOUNT, maximum)
        )
    return whole


def _describe_allowed(punctuation):
    names = {" ": "space"}
    return "letters, digits and " + " ".join(names.get(char, char) for char in punctuation)


def check_free_text(value, field, max_length, min_length=1, punctuation=DEFAULT_ALLOWED_PUNCTUATION):
    """Return ``value`` stripped, if it fits Daraja's length and character rules for ``field``."""
    if value is None:
        raise DarajaConfigError("%s is missing. Daraja rejects an empty %s." % (field, field))
    text = str(value).strip()
    if not text:
        raise DarajaConfigError("%s is empty. Daraja rejects an empty %s." % (field, field))

    for char in text:
        allowed = (char.isascii() and char.isalnum()) or char in punctuation
        if not allowed or char in ALWAYS_REJECTED:
            raise DarajaConfigError(
                "%s %r contains %r, which Daraja rejects. Use only %s."
                % (field, text, char, _describe_allowed(punctuation))
            )

    if len(text) < min_length:
        raise DarajaConfigError(
            "%s %r is too short: Daraja expects at least %d characters." % (field, text, min_length)
        )
    if len(text) > max_length:
        raise DarajaConfigError(
            "%s %r is %d characters long, but Daraja accepts at most %d. Shorten it."
            % (field, text, len(text), max_length)
        )
    return text


def check_account_reference(value, punctuation=DEFAULT_ALLOWED_PUNCTUATION):
    """Return the AccountReference shown in the STK prompt: 1 to 12 allowed characters."""
    return check_free_text(value, "AccountReference", ACCOUNT_REFERENCE_MAX, punctuation=punctuation)


def check_transaction_desc(value, punctuation=DEFAULT_ALLOWED_PUNCTUATION):
    """Return the TransactionDesc: 1 to 13 allowed characters, DEFAULT_TRANSACTION_DESC if empty."""
    if value is None or not str(value).strip():
        value = DEFAULT_TRANSACTION_DESC
    return check_free_text(value, "TransactionDesc", TRANSACTION_DESC_MAX, punctuation=punctuation)


def check_bill_ref_number(value, punctuation=DEFAULT_ALLOWED_PUNCTUATION):
    """Return the BillRefNumber (account number) of a C2B PayBill payment: 1 to 20 allowed characters."""
    return check_free_text(value, "BillRefNumber", BILL_REF_NUMBER_MAX, punctuation=punctuation)


def check_remarks(value, punctuation=DEFAULT_ALLOWED_PUNCTUATION, min_length=1):
    """Return the Remarks of Transaction Status, Reversal or Account Balance (up to 100 characters)."""
    return check_free_text(value, "Remarks", REMARKS_MAX, min_length=min_length, punctuation=punctuation)


def check_occasion(value, punctuation=DEFAULT_ALLOWED_PUNCTUATION):
    """Return the optional Occasion: "" when empty, else up to 100 allowed characters."""
    if value is None or not str(value).strip():
        return ""
    return check_free_text(value, "Occasion", OCCASION_MAX, punctuation=punctuation)


def check_shortcode(value, field="BusinessShortCode"):
    """Return ``value`` as text if it is a 5- to 7-digit shortcode or till number."""
    text = "" if value is None or isinstance(value, bool) else str(value).strip()
    if not _SHORTCODE.match(text):
        raise DarajaConfigError(
            "%s %r is invalid. Daraja expects the 5- to 7-digit number shown on the "
            "Daraja portal, e.g. 174379." % (field, value)
        )
    return text


def check_transaction_id(value, field="TransactionID"):
    """Return ``value`` if it looks like an M-Pesa receipt or conversation ID."""
    text = "" if value is None else str(value).strip()
    if not _TRANSACTION_ID.match(text):
        raise DarajaConfigError(
            "%s %r is invalid. Give the M-Pesa receipt number, e.g. NLJ7RT61SV." % (field, value)
        )
    return text


def check_required(value, field, fix):
    """Return ``value`` as stripped text, or raise DarajaConfigError saying ``fix`` if it is empty."""
    text = "" if value is None else str(value).strip()
    if not text:
        raise DarajaConfigError("%s is missing. %s" % (field, fix))
    return text
