"""Build the identifiers, timestamps, phone numbers and JSON text in the shapes Daraja uses."""
import base64
import datetime
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
from decimal import Decimal, InvalidOperation

# Daraja stamps callbacks and expects STK timestamps in East Africa Time, which has no daylight saving.
EAT = datetime.timezone(datetime.timedelta(hours=3), "EAT")

MSISDN_RE = re.compile(r"^254(7\d{8}|1\d{8})$")
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"

_ALPHANUMERIC = string.ascii_uppercase + string.digits
_counter_lock = threading.Lock()
_counter = [secrets.randbelow(900000) + 100000]


def now_eat():
    """Return the current time in EAT as an aware datetime."""
    return datetime.datetime.now(EAT)


def eat_stamp(moment=None):
    """Format `moment` (default: now) as Daraja's `YYYYMMDDHHmmss` in EAT."""
    return (moment or now_eat()).astimezone(EAT).strftime(TIMESTAMP_FORMAT)


def parse_eat_stamp(value):
    """Parse a `YYYYMMDDHHmmss` string as EAT, returning None when it is not a valid timestamp."""
    if not isinstance(value, str) or not re.match(r"^\d{14}$", value):
        return None
    try:
        return datetime.datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=EAT)
    except ValueError:
        return None


def stk_password(shortcode, passkey, timestamp):
    """Return the STK Password: base64 of shortcode + passkey + timestamp."""
    return base64.b64encode((shortcode + passkey + timestamp).encode("utf-8")).decode("ascii")


def password_matches(shortcode, passkey, timestamp, password):
    """Return True when `password` is the STK Password for this shortcode, passkey and timestamp."""
    if not isinstance(password, str):
        return False
    return hmac.compare_digest(stk_password(shortcode, passkey, timestamp).encode("utf-8"), password.encode("utf-8"))


def constant_time_equals(first, second):
    """Compare two secrets without leaking where they differ through timing."""
    return hmac.compare_digest(first.encode("utf-8"), second.encode("utf-8"))


def _next_counter():
    with _counter_lock:
        _counter[0] += 1
        return _counter[0]


def merchant_request_id():
    """Generate a MerchantRequestID like `2654-4b64-97ff-b827b542881d3130`."""
    hexpart = secrets.token_hex(12)
    return "%s-%s-%s-%s%d" % (hexpart[:4], hexpart[4:8], hexpart[8:12], hexpart[12:24], _next_counter())


request_id = merchant_request_id


def checkout_request_id(msisdn, moment=None, taken=()):
    """Generate a CheckoutRequestID: `ws_CO_`, ddMMyyyyHHmmss (EAT), 3 digits, the payer's last 9 digits.

    :param taken: IDs already issued; the 3-digit part is moved on until the ID is new
    """
    moment = (moment or now_eat()).astimezone(EAT)
    millis = moment.microsecond // 1000
    for step in range(1000):
        candidate = "ws_CO_%s%03d%s" % (moment.strftime("%d%m%Y%H%M%S"), (millis + step) % 1000, msisdn[-9:])
        if candidate not in taken:
            return candidate
    raise RuntimeError("no free CheckoutRequestID left for %s in this second" % mask_msisdn(msisdn))


def receipt_number(taken=(), moment=None):
    """Generate a unique 10-character receipt such as `NLJ7RT61SV`.

    Real receipts start with a letter for the year (A = 2006), a letter for the month
    and a character for the day (1-9, then A = 10), followed by 7 random characters.
    """
    moment = (moment or now_eat()).astimezone(EAT)
    year_letter = _ALPHANUMERIC[(moment.year - 2006) % 26]
    month_letter = string.ascii_uppercase[moment.month - 1]
    day_char = (string.digits[1:] + string.ascii_uppercase)[moment.day - 1]
    while True:
        tail = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(7))
        candidate = year_letter + month_letter + day_char + tail
        if candidate not in taken:
            return candidate


def conversation_id(moment=None):
    """Generate a ConversationID like `AG_20210709_1234409f86436c583e3f`."""
    return "AG_%s_%s" % ((moment or now_eat()).astimezone(EAT).strftime("%Y%m%d"), secrets.token_hex(10))


def originator_conversation_id():
    """Generate an OriginatorConversationID like `7619-37765134-1`."""
    return "%d-%d-%d" % (secrets.randbelow(90000) + 1000, secrets.randbelow(90000000) + 1000000, 1)


def random_token(length=28):
    """Generate an opaque access token of letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def is_msisdn(value):
    """Return True when `value` is a 12-digit Safaricom MSISDN string (2547... or 2541...)."""
    return isinstance(value, str) and bool(MSISDN_RE.match(value))


def coerce_msisdn(value):
    """Return `value` as a 12-digit MSISDN string when it is one (Daraja also accepts JSON numbers), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if is_msisdn(value):
        return value
    return None


def normalize_msisdn(value):
    """Turn a number typed by a person (`0712 345 678`, `+254712345678`, `712345678`) into 12 digits, or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    digits = re.sub(r"[\s\-()]", "", value)
    if digits.startswith("+"):
        digits = digits[1:]
    if re.match(r"^0[17]\d{8}$", digits):
        digits = "254" + digits[1:]
    elif re.match(r"^[17]\d{8}$", digits):
        digits = "254" + digits
    return digits if is_msisdn(digits) else None


def mask_msisdn(msisdn):
    """Mask a phone number for logs and pages: `254712345678` becomes `2547****5678`."""
    text = str(msisdn or "")
    if len(text) < 8:
        return "****"
    return text[:4] + "****" + text[-4:]


def mask_checkout_id(checkout_id):
    """Mask the payer digits that a CheckoutRequestID ends with, for logs."""
    text = str(checkout_id or "")
    if len(text) <= 9:
        return "****"
    return text[:-9] + "*****" + text[-4:]


def masked_c2b_msisdn(msisdn):
    """Mask an MSISDN the way C2B v2 callbacks do: `2547 ***** 126`."""
    return "%s ***** %s" % (msisdn[:4], msisdn[-3:])


def hashed_c2b_msisdn(msisdn):
    """Hash an MSISDN the way C2B v1 callbacks do: SHA-256 hex of the 12 ASCII digits, no salt."""
    return hashlib.sha256(msisdn.encode("ascii")).hexdigest()


def whole_amount(value):
    """Return `value` as an int when it is a whole number of shillings, else None.

    Daraja takes the amount as a JSON number or a numeric string; fractions are invalid.
    """
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or number != number.to_integral_value():
        return None
    return int(number)


def money(value):
    """Format an amount with two decimals, as Daraja writes `TransAmount` and balances."""
    return "%.2f" % Decimal(value)


class RawNumber(object):
    """A JSON number written exactly as given (e.g. `1.00`), which `json` cannot do for floats."""

    def __init__(self, text):
        self.text = str(text)

    def __repr__(self):
        return "RawNumber(%s)" % self.text


_RAW_TOKEN = "rawnum" + secrets.token_hex(8)
_RAW_RE = re.compile(r'"%s:([-0-9.]+)"' % _RAW_TOKEN)


def _mark_raw_numbers(value):
    if isinstance(value, RawNumber):
        return "%s:%s" % (_RAW_TOKEN, value.text)
    if isinstance(value, dict):
        return dict((key, _mark_raw_numbers(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_mark_raw_numbers(item) for item in value]
    return value


def dump_json(value):
    """Serialise `value` to JSON text, writing `RawNumber` values as bare numbers."""
    text = json.dumps(_mark_raw_numbers(value))
    return _RAW_RE.sub(lambda match: match.group(1), text)
