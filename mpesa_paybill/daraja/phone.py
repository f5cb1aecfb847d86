"""Normalise, mask, classify and hash Kenyan MSISDNs.

Daraja expects 12-digit numbers such as 254712345678. Safaricom also issues 01XX
numbers (2541...), so both 2547 and 2541 are accepted. A 2541 prefix alone does not
prove an M-Pesa line: 0100-0102 belong to Airtel, and number portability breaks
prefix rules anyway, so no carrier check is made here.
"""

import hashlib
import re

from .errors import InvalidPhoneNumber

# Characters people type between digit groups: "+254 712 345 678", "(0712) 345678".
_SEPARATORS = re.compile(r"[\s\-().]")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_MASKED = re.compile(r"^[0-9* ]+$")

EXPECTED_FORMS = "0712345678, 712345678, 254712345678, +254 712 345 678 or 0110 123 456"

# Daraja's FAQ prints its own sample hash with two characters missing (62 instead of 64),
# so hashes of 62 to 64 hex characters are accepted.
HASH_MIN_LENGTH = 62
HASH_MAX_LENGTH = 64

KIND_PLAIN = "plain"
KIND_MASKED = "masked"
KIND_HASHED = "hashed"
KIND_MISSING = "missing"


def _reject(value, reason):
    raise InvalidPhoneNumber(
        value,
        "Invalid phone number %r: %s. Enter a Kenyan mobile number such as %s."
        % (value, reason, EXPECTED_FORMS),
    )


def normalize_msisdn(value):
    """Return ``value`` as a 12-digit MSISDN (2547XXXXXXXX or 2541XXXXXXXX).

    Accept the international form with or without "+", the local form with a leading 0,
    and the bare 9-digit subscriber number, with spaces, dashes, dots or brackets
    between digit groups. Integers such as the STK callback's PhoneNumber are accepted.

    :raise InvalidPhoneNumber: for None, empty text, letters, a wrong length, another
        country code or a subscriber number that does not start with 7 or 1.
    """
    if value is None:
        _reject(value, "the number is missing")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        _reject(value, "expected text or an integer")

    text = _SEPARATORS.sub("", str(value))
    if not text:
        _reject(value, "the number is empty")
    if text.startswith("+"):
        if not text.startswith("+254"):
            _reject(value, "only Kenyan numbers (+254) are accepted")
        text = text[1:]
    if not text.isdigit() or not text.isascii():
        _reject(value, "it contains characters other than digits")

    if len(text) == 12 and text.startswith("254"):
        subscriber = text[3:]
    elif len(text) == 10 and text.startswith("0"):
        subscriber = text[1:]
    elif len(text) == 9:
        subscriber = text
    else:
        _reject(value, "it has %d digits, which matches no Kenyan format" % len(text))

    if subscriber[0] not in "71":
        _reject(value, "Kenyan mobile numbers start with 07 or 01 (2547 or 2541)")
    return "254" + subscriber


def mask_msisdn(value):
    """Return ``value`` with all but the first 4 and last 3 characters replaced by "*".

    Meant for logs: "254712345678" gives "2547*****678". A value that already contains
    "*" is returned unchanged. Any other value keeps at most 7 of its characters, and
    values shorter than 10 characters are masked whole. The function never raises.
    """
    if value is None:
        return ""
    text = str(value).strip()
    if not text:
        return ""
    if "*" in text:
        return text
    try:
        text = normalize_msisdn(text)
    except InvalidPhoneNumber:
        pass
    if len(text) < 10:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 7) + text[-3:]


def mask_reference(value):
    """Return a CheckoutRequestID with its trailing characters replaced by "*" for logs.

    Recent IDs end with the payer's last 9 digits (ws_CO_ + ddMMyyyyHHmmss + 3 digits +
    9 digits), so the last 9 characters are hidden. That keeps the date part, which is
    enough to tell two requests apart in a log. Values of 12 characters or fewer keep
    only their first 3 characters.
    """
    if value is None:
        return ""
    text = str(value)
    if len(text) <= 12:
        return text[:3] + "*" * max(len(text) - 3, 0)
    return text[:-9] + "*" * 9


def hash_msisdn(value):
    """Return the SHA-256 hex digest of the normalised 12-digit MSISDN, as C2B v1 sends it.

    Daraja hashes the ASCII digits with no salt and no "+", so a known customer number
    can be matched against a hashed callback.

    :raise InvalidPhoneNumber: when ``value`` is not a valid Kenyan number.
    """
    return hashlib.sha256(normalize_msisdn(value).encode("ascii")).hexdigest()


def classify_msisdn(value):
    """Return ``(kind, value)`` for an MSISDN as Daraja sends it in callbacks.

    - ``("plain", "2547XXXXXXXX")``: a full number, normalised.
    - ``("masked", "2547 ***** 126")``: stars and digits, kept exactly as sent.
    - ``("hashed", "94c3...")``: a SHA-256 hex digest of 62 to 64 characters, lower-cased.
    - ``("missing", None)``: None or blank.

    :raise InvalidPhoneNumber: for any other value.
    """
    if value is None or isinstance(value, bool):
        return KIND_MISSING, None
    if isinstance(value, float) and value.is_integer():
        # JSON parsers may turn the STK callback's numeric PhoneNumber into a float.
        value = int(value)
    text = str(value).strip()
    if not text:
        return KIND_MISSING, None
    if "*" in text and _MASKED.match(text) and any(char.isdigit() for char in text):
        return KIND_MASKED, text
    if HASH_MIN_LENGTH <= len(text) <= HASH_MAX_LENGTH and _HEX.match(text):
        return KIND_HASHED, text.lower()
    return KIND_PLAIN, normalize_msisdn(text)


def masked_msisdn_matches(masked, msisdn, min_visible_digits=6):
    """Return whether ``msisdn`` agrees with every visible digit of ``masked``.

    Both "2547 ***** 126" (C2B v2) and "25470****149" (C2B v1) forms work: spaces are
    ignored, a 12-character mask is compared position by position, and any other length
    is compared by its leading and trailing digits. A mask showing fewer than
    ``min_visible_digits`` digits matches nothing, because it cannot identify a customer.
    An ``msisdn`` that is not a valid number matches nothing either.
    """
    if not masked:
        return False
    pattern = str(masked).replace(" ", "")
    if not _MASKED.match(pattern):
        return False
    if sum(char.isdigit() for char in pattern) < min_visible_digits:
        return False
    try:
        number = normalize_msisdn(msisdn)
    except InvalidPhoneNumber:
        return False

    if len(pattern) == len(number):
        return all(mask == "*" or mask == digit for mask, digit in zip(pattern, number))
    prefix = pattern.split("*", 1)[0]
    suffix = pattern.rsplit("*", 1)[-1]
    if len(prefix) + len(suffix) > len(number):
        return False
    return number.startswith(prefix) and number.endswith(suffix)
