"""Parse the bodies Daraja sends to this server into plain records.

Daraja's types drift between APIs and over time: ResultCode is a number or a string,
amounts are numbers or decimal strings, times are numbers or strings, and metadata
items may be missing or lack a Value. The parsers read items by name, never by
position, and normalise each value:

- result codes become text ("0", "1032", "SFC_IC0003");
- amounts become Decimal with 2 places;
- EAT wall times (YYYYMMDDHHmmss) become naive UTC datetimes, as Odoo stores them;
- MSISDNs are classified as plain, masked, hashed or missing.

A body missing what identifies the payment (CheckoutRequestID, TransID), its amount or
its result raises DarajaParseError naming the field. Other odd values (an unreadable
date or phone number) become None with a warning, because the money has moved already
and the caller stores the raw body anyway.
"""

import datetime
import json
import logging

from collections import namedtuple
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .codes import PAID_RESULT_CODE, normalize_result_code
from .errors import DarajaParseError, InvalidPhoneNumber
from .fields import TIMESTAMP_FORMAT
from .phone import KIND_MISSING, classify_msisdn, mask_msisdn

_logger = logging.getLogger(__name__)

EAT_OFFSET = datetime.timedelta(hours=3)
CENTS = Decimal("0.01")

StkCallback = namedtuple(
    "StkCallback",
    "merchant_request_id checkout_request_id result_code result_desc paid amount receipt "
    "transaction_date phone phone_kind",
)
StkCallback.__doc__ = """STK Push callback: ``paid`` is true only for ResultCode "0".

``phone`` is the normalised 12-digit MSISDN, or the masked or hashed value as sent,
depending on ``phone_kind``.
"""

C2BPayment = namedtuple(
    "C2BPayment",
    "transaction_type trans_id trans_time amount shortcode bill_ref_number invoice_number "
    "org_account_balance third_party_trans_id msisdn msisdn_kind first_name middle_name last_name",
)
C2BPayment.__doc__ = """C2B validation or confirmation request (both have the same shape)."""

DarajaResult = namedtuple(
    "DarajaResult",
    "result_type result_code result_desc success originator_conversation_id conversation_id "
    "transaction_id parameters parameter_list reference_data amount receipt transaction_status "
    "completed_at accounts raw",
)
DarajaResult.__doc__ = """Result of Transaction Status, Reversal or Account Balance, as sent to the ResultURL.

``parameters`` maps each ResultParameter Key to its first Value (the Transaction Status
sample has DebitPartyName twice), and ``parameter_list`` keeps every ``(key, value)`` pair.
"""

BalanceAccount = namedtuple("BalanceAccount", "name currency available amounts")
BalanceAccount.__doc__ = """One account of an Account Balance result, such as "Working Account".

``amounts`` contains every number after the currency, as Decimal (None where unreadable).
NOTE: Daraja's Account Balance page does not label those numbers. ``available`` is the
first one, which the page's sample repeats in the second place.
"""

PullTransaction = namedtuple(
    "PullTransaction",
    "transaction_id trx_date msisdn msisdn_kind transaction_type bill_reference amount "
    "organization_name raw",
)
PullTransaction.__doc__ = """One row of a Pull Transactions query."""


def load_body(body, what="body"):
    """Return the JSON object in ``body`` (dict, bytes or str)."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DarajaParseError("body", "The %s is not UTF-8 text." % what)
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            raise DarajaParseError("body", "The %s is not valid JSON." % what)
    if not isinstance(body, dict):
        raise DarajaParseError(
            "body", "The %s is not a JSON object (got %s)." % (what, type(body).__name__)
        )
    return body


def _text(value):
    """Return ``value`` as stripped text: numbers without ".0", None as ""."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def to_decimal(value, field):
    """Return ``value`` as a Decimal with 2 places, or None when it is None or blank.

    :raise DarajaParseError: naming ``field`` when the value is not a finite number.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise DarajaParseError(field, "%s %r is not a number." % (field, value))
    if isinstance(value, str) and not value.strip():
        return None
    try:
        # str() first: Decimal(1.1) would carry the float's binary error into the amount.
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise DarajaParseError(field, "%s %r is not a number." % (field, value))
    if not amount.is_finite():
        raise DarajaParseError(field, "%s %r is not a finite number." % (field, value))
    return amount.quantize(CENTS, rounding=ROUND_HALF_UP)


def eat_to_utc(value):
    """Return an EAT wall time (YYYYMMDDHHmmss, number or text) as a naive UTC datetime.

    Return None for None or blank text. :raise ValueError: for any other format.
    """
    text = _text(value)
    if not text:
        return None
    if len(text) != 14 or not text.isdigit():
        raise ValueError("expected YYYYMMDDHHmmss, got %r" % (value,))
    return datetime.datetime.strptime(text, TIMESTAMP_FORMAT) - EAT_OFFSET


def _tolerant_time(value, field, where):
    try:
        return eat_to_utc(value)
    except ValueError:
        _logger.warning("Ignored unreadable %s %r in %s", field, value, where)
        return None


def _tolerant_msisdn(value, field, where):
    try:
        return classify_msisdn(value)
    except InvalidPhoneNumber:
        _logger.warning("Ignored unreadable %s %s in %s", field, mask_msisdn(value), where)
        return KIND_MISSING, None


def _pairs(items, key_name):
    """Return ``(name, value)`` pairs of Daraja items, given as a list or a single object.

    Items without ``key_name`` are skipped, and an item without "Value" (such as the
    legacy STK Balance item) gets None.
    """
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return []
    pairs = []
    for item in items:
        if isinstance(item, dict) and item.get(key_name) is not None:
            pairs.append((str(item[key_name]).strip(), item.get("Value")))
    return pairs


def _first_values(pairs):
    values = {}
    for name, value in pairs:
        values.setdefault(name, value)
    return values


def _required_text(data, field, what, why):
    text = _text(data.get(field))
    if not text:
        raise DarajaParseError(field, "The %s has no %s, %s." % (what, field, why))
    return text


def parse_stk_callback(body):
    """Parse an STK Push callback into an StkCallback.

    :raise DarajaParseError: when the body is not JSON, lacks Body.stkCallback, the
        CheckoutRequestID or the ResultCode, or has a non-numeric Amount.
    """
    data = load_body(body, "STK callback")
    envelope = data.get("Body")
    callback = envelope.get("stkCallback") if isinstance(envelope, dict) else None
    if not isinstance(callback, dict):
        raise DarajaParseError(
            "Body.stkCallback",
            "The STK callback has no Body.stkCallback object, so it is not an STK Push callback.",
        )

    what = "STK callback"
    checkout_request_id = _required_text(
        callback, "CheckoutRequestID", what, "so it cannot be matched to a payment request"
    )
    result_code = normalize_result_code(callback.get("ResultCode"))
    if result_code is None:
        raise DarajaParseError(
            "ResultCode", "The STK callback has no ResultCode, so its outcome is unknown."
        )

    metadata = callback.get("CallbackMetadata")
    items = metadata.get("Item") if isinstance(metadata, dict) else None
    values = _first_values(_pairs(items, "Name"))
    receipt = _text(values.get("MpesaReceiptNumber")) or None
    phone_kind, phone = _tolerant_msisdn(values.get("PhoneNumber"), "PhoneNumber", what)

    return StkCallback(
        merchant_request_id=_text(callback.get("MerchantRequestID")) or None,
        checkout_request_id=checkout_request_id,
        result_code=result_code,
        result_desc=_text(callback.get("ResultDesc")),
        paid=result_code == PAID_RESULT_CODE,
        amount=to_decimal(values.get("Amount"), "Amount"),
        receipt=receipt,
        transaction_date=_tolerant_time(values.get("TransactionDate"), "TransactionDate", what),
        phone=phone,
        phone_kind=phone_kind,
    )


def parse_c2b(body):
    """Parse a C2B validation or confirmation request into a C2BPayment.

    :raise DarajaParseError: when the body is not a JSON object, lacks the TransID, or
        lacks the TransAmount or has a non-numeric one.
    """
    data = load_body(body, "C2B request")
    what = "C2B request"
    trans_id = _required_text(data, "TransID", what, "so the payment cannot be identified")
    amount = to_decimal(data.get("TransAmount"), "TransAmount")
    if amount is None:
        raise DarajaParseError("TransAmount", "The C2B request has no TransAmount.")

    try:
        org_account_balance = to_decimal(data.get("OrgAccountBalance"), "OrgAccountBalance")
    except DarajaParseError:
        _logger.warning("Ignored unreadable OrgAccountBalance in C2B request %s", trans_id)
        org_account_balance = None
    msisdn_kind, msisdn = _tolerant_msisdn(data.get("MSISDN"), "MSISDN", what)

    return C2BPayment(
        transaction_type=_text(data.get("TransactionType")),
        trans_id=trans_id,
        trans_time=_tolerant_time(data.get("TransTime"), "TransTime", what),
        amount=amount,
        shortcode=_text(data.get("BusinessShortCode")),
        bill_ref_number=_text(data.get("BillRefNumber")),
        invoice_number=_text(data.get("InvoiceNumber")),
        org_account_balance=org_account_balance,
        third_party_trans_id=_text(data.get("ThirdPartyTransID")),
        msisdn=msisdn,
        msisdn_kind=msisdn_kind,
        first_name=_text(data.get("FirstName")),
        middle_name=_text(data.get("MiddleName")),
        last_name=_text(data.get("LastName")),
    )


def parse_balance_accounts(value):
    """Split an AccountBalance value ("Name|KES|1.00|...&Name|KES|...") into BalanceAccounts."""
    accounts = []
    for chunk in _text(value).split("&"):
        parts = [part.strip() for part in chunk.split("|")]
        if not parts[0]:
            continue
        amounts = []
        for part in parts[2:]:
            try:
                amounts.append(to_decimal(part, "AccountBalance"))
            except DarajaParseError:
                amounts.append(None)
        accounts.append(BalanceAccount(
            name=parts[0],
            currency=parts[1] if len(parts) > 1 else "",
            available=amounts[0] if amounts else None,
            amounts=tuple(amounts),
        ))
    return accounts


# Result parameters that carry the completion time, per API: Transaction Status,
# Reversal and Account Balance.
_COMPLETION_KEYS = ("FinalisedTime", "TransCompletedTime", "BOCompletedTime")


def parse_result(body):
    """Parse a Transaction Status, Reversal or Account Balance result into a DarajaResult.

    :raise DarajaParseError: when the body is not JSON, lacks the Result object or its
        ResultCode, or has a non-numeric Amount parameter.
    """
    data = load_body(body, "Daraja result")
    result = data.get("Result")
    if not isinstance(result, dict):
        raise DarajaParseError("Result", "The Daraja result has no Result object.")
    result_code = normalize_result_code(result.get("ResultCode"))
    if result_code is None:
        raise DarajaParseError("ResultCode", "The Daraja result has no ResultCode.")

    container = result.get("ResultParameters")
    parameter_list = _pairs(container.get("ResultParameter") if isinstance(container, dict) else None, "Key")
    parameters = _first_values(parameter_list)
    reference = result.get("ReferenceData")
    reference_data = _first_values(
        _pairs(reference.get("ReferenceItem") if isinstance(reference, dict) else None, "Key")
    )

    completed_at = None
    for key in _COMPLETION_KEYS:
        if parameters.get(key) is not None:
            completed_at = _tolerant_time(parameters[key], key, "Daraja result")
            break

    return DarajaResult(
        result_type=normalize_result_code(result.get("ResultType")),
        result_code=result_code,
        result_desc=_text(result.get("ResultDesc")),
        success=result_code == "0",
        originator_conversation_id=_text(result.get("OriginatorConversationID")),
        conversation_id=_text(result.get("ConversationID")),
        transaction_id=_text(result.get("TransactionID")),
        parameters=parameters,
        parameter_list=tuple(parameter_list),
        reference_data=reference_data,
        amount=to_decimal(parameters.get("Amount"), "Amount"),
        receipt=_text(parameters.get("ReceiptNo")) or None,
        transaction_status=_text(parameters.get("TransactionStatus")) or None,
        completed_at=completed_at,
        accounts=tuple(parse_balance_accounts(parameters.get("AccountBalance"))),
        raw=data,
    )


def _lower_keys(row):
    return dict((str(key).lower(), value) for key, value in row.items())


def _flatten_rows(value):
    """Return the row objects in ``value``: a list, nested lists, or a JSON string of them."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            raise DarajaParseError("Response", "The Pull Transactions rows are not valid JSON.")
    if isinstance(value, dict):
        return [value]
    rows = []
    if isinstance(value, list):
        for item in value:
            rows.extend(_flatten_rows(item))
    return rows


# Keys that contain the rows of a Pull Transactions response. The Pull Transactions page
# shows "Response" for rows and "Transaction": "[[]]" (a JSON string) for none.
_ROW_CONTAINERS = ("response", "transaction", "transactions")


def parse_pull_time(value, trust_utc_suffix=True):
    """Return a Pull Transactions trxDate as a naive UTC datetime, or None if blank.

    Daraja writes ISO times with a "Z" suffix ("2020-08-05T10:13:00Z") although its
    other APIs use EAT wall time, and no source confirms which is right. By default
    "Z" is trusted, and ``trust_utc_suffix=False`` reads the wall time as EAT instead.
    Times without a zone are read as EAT, times with an offset are converted.

    :raise ValueError: for a value in none of these forms.
    """
    text = _text(value)
    if not text:
        return None
    if len(text) == 14 and text.isdigit():
        return eat_to_utc(text)
    utc_suffix = text.upper().endswith("Z")
    if utc_suffix:
        text = text[:-1]
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    if utc_suffix and trust_utc_suffix:
        return moment
    return moment - EAT_OFFSET


def parse_pull_rows(body, trust_utc_suffix=True):
    """Parse a Pull Transactions query response, or its list of rows, into PullTransactions.

    Row keys are read case-insensitively (Daraja uses lower-case keys such as
    "transactionId" and "billreference"). See ``parse_pull_time`` for ``trust_utc_suffix``.

    :raise DarajaParseError: when the body is not JSON, or a row lacks its
        transactionId or has no numeric amount.
    """
    if isinstance(body, (bytes, bytearray, str)):
        text = body.decode("utf-8-sig") if isinstance(body, (bytes, bytearray)) else body
        try:
            body = json.loads(text)
        except ValueError:
            raise DarajaParseError("body", "The Pull Transactions response is not valid JSON.")

    if isinstance(body, dict):
        lowered = _lower_keys(body)
        source = []
        for key in _ROW_CONTAINERS:
            if key in lowered:
                source = lowered[key]
                break
    elif isinstance(body, list):
        source = body
    else:
        raise DarajaParseError("body", "The Pull Transactions response is not a JSON object or list.")

    transactions = []
    for row in _flatten_rows(source):
        fields = _lower_keys(row)
        transaction_id = _text(fields.get("transactionid"))
        if not transaction_id:
            raise DarajaParseError("transactionId", "A Pull Transactions row has no transactionId.")
        amount = to_decimal(fields.get("amount"), "amount")
        if amount is None:
            raise DarajaParseError("amount", "Pull Transactions row %s has no amount." % transaction_id)
        try:
            trx_date = parse_pull_time(fields.get("trxdate"), trust_utc_suffix)
        except ValueError:
            _logger.warning("Ignored unreadable trxDate %r in Pull Transactions row %s",
                            fields.get("trxdate"), transaction_id)
            trx_date = None
        msisdn_kind, msisdn = _tolerant_msisdn(fields.get("msisdn"), "msisdn", "Pull Transactions row")
        transactions.append(PullTransaction(
            transaction_id=transaction_id,
            trx_date=trx_date,
            msisdn=msisdn,
            msisdn_kind=msisdn_kind,
            transaction_type=_text(fields.get("transactiontype")),
            bill_reference=_text(fields.get("billreference")),
            amount=amount,
            organization_name=_text(fields.get("organizationname")),
            raw=row,
        ))
    return transactions
