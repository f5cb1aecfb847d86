"""Serve Daraja's endpoints: gateway checks (path, method, token, Content-Type), field validation, routing.

Checks run in the order of Safaricom's gateway: path, method, injected failures and throttling,
access token, Content-Type, JSON body, blocked words in URLs, then the fields of each API.
"""
import base64
import binascii
import json
import logging
import re
import time
import urllib.parse

from . import formats
from .credentials import is_base64
from .messages import ApiResponse
from .errors import (DarajaError, INVALID_AUTH_TYPE, INVALID_GRANT_TYPE, INVALID_PAYLOAD, INVALID_TOKEN,
                     METHOD_NOT_ALLOWED, NOT_FOUND, THROTTLE_MESSAGES, invalid, threat_detected)

_logger = logging.getLogger(__name__)

# Words Daraja rejects anywhere in a callback URL, in any case (Daraja's C2B Register URL page).
BLOCKED_URL_WORDS = ("m-pesa", "mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query")
# Tunnelling and request-capture services Daraja's C2B pages reject as confirmation/validation hosts.
BLOCKED_C2B_HOSTS = ("ngrok", "mockbin", "requestbin")
URL_FIELDS = ("CallBackURL", "ConfirmationURL", "ValidationURL", "ResultURL", "QueueTimeOutURL")
SPECIAL_CHARACTERS = re.compile(r"[@#&]")

SOAP_FAULT = {"Envelope": {"Body": {"Fault": {
    "faultcode": "soap:Server",
    "faultstring": "Execution of ServiceCallout SCO-AddURLVault failed. Reason: ResponseCode 409 is treated as error",
    "detail": {"source": {"errorcode": "steps.servicecallout.ExecutionFailed"}}}}}}


def check_url(body, field, c2b=False):
    """Return the URL in `body[field]` when it is an absolute http(s) URL without spaces, else raise."""
    value = body.get(field)
    if not isinstance(value, str) or not value or value != value.strip() or re.search(r"\s", value):
        raise invalid(field)
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(field)
    if c2b and any(host in parts.hostname.lower() for host in BLOCKED_C2B_HOSTS):
        raise invalid(field)
    return value


def digits_field(body, field, minimum=5, maximum=7):
    """Return `body[field]` as a string of 5 to 7 digits (a JSON number is accepted too), else raise."""
    value = body.get(field)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isdigit() or not minimum <= len(value) <= maximum:
        raise invalid(field)
    return value


def text_field(body, field, maximum=None, minimum=1, required=True, special_characters_ok=True):
    """Return a free-text field; Daraja reports a null one as `Invalid Remarks`, whatever its name."""
    if field in body and body[field] is None:
        raise invalid("Remarks")
    value = body.get(field)
    if value is None:
        if required:
            raise invalid(field)
        return ""
    if not isinstance(value, str) or len(value) < minimum or (maximum and len(value) > maximum):
        raise invalid(field)
    if not special_characters_ok and SPECIAL_CHARACTERS.search(value):
        raise invalid("Remarks")
    return value


def amount_field(body, field, maximum):
    """Return a whole-shilling amount between 1 and `maximum`, else raise `Invalid Amount`."""
    amount = formats.whole_amount(body.get(field))
    if amount is None or not 1 <= amount <= maximum:
        raise invalid("Amount")
    return amount


class DarajaApi(object):
    """Route Daraja paths to the services and turn their errors into Daraja's envelope."""

    def __init__(self, state, stk, c2b, results, pull):
        self.state = state
        self.stk = stk
        self.c2b = c2b
        self.results = results
        self.pull = pull
        self.routes = {
            "/oauth/v1/generate": ("GET", self.generate_token),
            "/mpesa/stkpush/v1/processrequest": ("POST", self.stk_push),
            "/mpesa/stkpushquery/v1/query": ("POST", self.stk_query),
            "/mpesa/c2b/v1/registerurl": ("POST", lambda body: self.register_url(body, "v1")),
            "/mpesa/c2b/v2/registerurl": ("POST", lambda body: self.register_url(body, "v2")),
            "/mpesa/c2b/v1/simulate": ("POST", self.simulate),
            "/mpesa/c2b/v2/simulate": ("POST", self.simulate),
            "/mpesa/transactionstatus/v1/query": ("POST", self.transaction_status),
            "/mpesa/reversal/v1/request": ("POST", self.reversal),
            "/mpesa/accountbalance/v1/query": ("POST", self.account_balance),
            "/pulltransactions/v1/register": ("POST", self.pull_register),
            "/pulltransactions/v1/query": ("POST", self.pull_query),
        }

    def handle(self, request):
        """Handle one request to a Daraja path."""
        try:
            return self._handle(request)
        except DarajaError as error:
            return ApiResponse.json(error.http_status, error.envelope())

    def _handle(self, request):
        route = self.routes.get(request.path)
        if route is None:
            raise DarajaError(NOT_FOUND, "Resource not found")
        method, handler = route
        if request.method != method:
            raise DarajaError(METHOD_NOT_ALLOWED, "Method Not Allowed")

        injected = self._injected_failure(request.path)
        if injected is not None:
            return injected

        if handler == self.generate_token:
            return ApiResponse.json(200, self.generate_token(request))
        self._check_token(request)

        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            # Daraja names the first field it cannot read, whatever is really wrong.
            raise invalid("BusinessShortCode")
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise DarajaError(INVALID_PAYLOAD, "Invalid Request Payload")
        if not isinstance(body, dict):
            raise DarajaError(INVALID_PAYLOAD, "Invalid Request Payload")
        for field in URL_FIELDS:
            value = body.get(field)
            if isinstance(value, str) and any(word in value.lower() for word in BLOCKED_URL_WORDS):
                raise threat_detected()
        return ApiResponse.json(200, handler(body))

    def _injected_failure(self, path):
        """Return the injected response of the fail_next or throttle quirk for this call, or None."""
        failure = self.state.take_counted_quirk("fail_next", path)
        if failure is not None:
            _logger.info("Injected HTTP %s on %s (fail_next quirk)", failure["status"], path)
            if failure["body"] == "soap_fault":
                return ApiResponse.json(failure["status"], SOAP_FAULT)
            if failure["body"].lstrip().startswith("<"):
                return ApiResponse(failure["status"], failure["body"], content_type="text/html")
            return ApiResponse(failure["status"], failure["body"], content_type="application/json")
        throttle = self.state.take_counted_quirk("throttle", path)
        if throttle is not None:
            _logger.info("Throttled %s with %s (throttle quirk)", path, throttle["code"])
            raise DarajaError(throttle["code"], THROTTLE_MESSAGES[throttle["code"]])
        return None

    # -- OAuth -----------------------------------------------------------------------------------

    def generate_token(self, request):
        """Issue an access token for HTTP Basic consumer key and secret and grant_type=client_credentials."""
        header = request.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            raise DarajaError(INVALID_AUTH_TYPE, "Invalid authentication type")
        if request.query.get("grant_type") != ["client_credentials"]:
            raise DarajaError(INVALID_GRANT_TYPE, "Invalid grant type passed")
        try:
            key, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise DarajaError(INVALID_AUTH_TYPE, "Invalid Authentication passed")

        with self.state.lock:
            known = self.state.apps.get(key)
            if known is None or not formats.constant_time_equals(known, secret):
                raise DarajaError(INVALID_AUTH_TYPE, "Invalid Authentication passed")
            now = time.time()
            lifetime = int(self.state.settings["token_expires_in"])
            for value in list(self.state.tokens):
                entry = self.state.tokens[value]
                if entry["expires_at"] < now:
                    del self.state.tokens[value]
                elif entry["consumer_key"] == key and self.state.quirks.get("token_invalidation"):
                    entry["revoked"] = True
            token = formats.random_token()
            self.state.tokens[token] = {"consumer_key": key, "expires_at": now + lifetime, "revoked": False}
            string_expiry = self.state.quirks.get("string_expires_in")
            self.state.save()
        return {"access_token": token, "expires_in": str(lifetime) if string_expiry else lifetime}

    def _check_token(self, request):
        header = request.headers.get("Authorization") or ""
        token = header[7:].strip() if header.startswith("Bearer ") else None
        with self.state.lock:
            entry = self.state.tokens.get(token) if token else None
            if entry is None or entry["revoked"] or entry["expires_at"] < time.time():
                raise DarajaError(INVALID_TOKEN, "Invalid Access Token")

    # -- M-Pesa Express (STK Push) ---------------------------------------------------------------

    def stk_push(self, body):
        """Validate an STK Push request and open the prompt."""
        settings = self.state.settings
        special_ok = not self.state.quirks.get("reject_special_characters")
        fields = dict(body)
        fields["BusinessShortCode"] = digits_field(body, "BusinessShortCode")
        if not isinstance(body.get("Password"), str) or not body["Password"]:
            raise invalid("Password")
        if formats.parse_eat_stamp(body.get("Timestamp")) is None:
            raise invalid("Timestamp")
        if body.get("TransactionType") not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            raise invalid("TransactionType")
        fields["Amount"] = amount_field(body, "Amount", settings["max_amount"])
        # Daraja reports a bad PartyA with the same message as a bad PhoneNumber.
        fields["PartyA"] = formats.coerce_msisdn(body.get("PartyA"))
        fields["PhoneNumber"] = formats.coerce_msisdn(body.get("PhoneNumber"))
        if fields["PhoneNumber"] is None or fields["PartyA"] is None:
            raise invalid("PhoneNumber")
        fields["PartyB"] = digits_field(body, "PartyB")
        fields["CallBackURL"] = check_url(body, "CallBackURL")
        fields["AccountReference"] = text_field(body, "AccountReference", settings["account_reference_max"],
                                                special_characters_ok=special_ok)
        fields["TransactionDesc"] = text_field(body, "TransactionDesc", settings["transaction_desc_max"],
                                               required=False, special_characters_ok=special_ok)
        return self.stk.push(fields)

    def stk_query(self, body):
        """Validate an STK Push Query and look the prompt up in the ledger."""
        fields = dict(body)
        fields["BusinessShortCode"] = digits_field(body, "BusinessShortCode")
        if not isinstance(body.get("Password"), str) or not body["Password"]:
            raise invalid("Password")
        if formats.parse_eat_stamp(body.get("Timestamp")) is None:
            raise invalid("Timestamp")
        if not isinstance(body.get("CheckoutRequestID"), str) or not body["CheckoutRequestID"]:
            raise invalid("CheckoutRequestID")
        return self.stk.query(fields)

    # -- C2B -------------------------------------------------------------------------------------

    def register_url(self, body, version):
        """Validate a C2B Register URL request (v1 or v2) and store the URLs."""
        fields = {"ShortCode": digits_field(body, "ShortCode")}
        if body.get("ResponseType") not in ("Completed", "Cancelled"):
            raise invalid("ResponseType")
        fields["ResponseType"] = body["ResponseType"]
        fields["ConfirmationURL"] = check_url(body, "ConfirmationURL", c2b=True)
        fields["ValidationURL"] = check_url(body, "ValidationURL", c2b=True)
        return self.c2b.register(fields, version)

    def simulate(self, body):
        """Validate a C2B simulate request and start the payment in the background."""
        shortcode = digits_field(body, "ShortCode")
        command_id = body.get("CommandID")
        if command_id not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            raise invalid("CommandID")
        amount = amount_field(body, "Amount", self.state.settings["max_amount"])
        msisdn = formats.coerce_msisdn(body.get("Msisdn"))
        if msisdn is None:
            raise invalid("Msisdn")
        bill_ref = body.get("BillRefNumber")
        if bill_ref is not None and not isinstance(bill_ref, str):
            raise invalid("BillRefNumber")
        return self.c2b.simulate(shortcode, msisdn, amount, bill_ref or "", command_id)

    # -- Transaction Status, Reversal, Account Balance ---------------------------------------------

    def _initiator_fields(self, body, command_id):
        if not isinstance(body.get("Initiator"), str) or not body["Initiator"]:
            raise invalid("Initiator")
        if not is_base64(body.get("SecurityCredential")):
            raise invalid("SecurityCredential")
        if body.get("CommandID") != command_id:
            raise invalid("CommandID")
        fields = dict(body)
        fields["ResultURL"] = check_url(body, "ResultURL")
        fields["QueueTimeOutURL"] = check_url(body, "QueueTimeOutURL")
        return fields

    def transaction_status(self, body):
        """Validate a Transaction Status query; the status goes to ResultURL."""
        fields = self._initiator_fields(body, "TransactionStatusQuery")
        has_receipt = isinstance(body.get("TransactionID"), str) and body["TransactionID"]
        has_conversation = isinstance(body.get("OriginalConversationID"), str) and body["OriginalConversationID"]
        if not has_receipt and not has_conversation:
            raise invalid("TransactionID")
        fields["PartyA"] = digits_field(body, "PartyA")
        if str(body.get("IdentifierType")) not in ("1", "2", "4"):
            raise invalid("IdentifierType")
        fields["Remarks"] = text_field(body, "Remarks", 100)
        fields["Occasion"] = text_field(body, "Occasion", 100, minimum=0, required=False)
        return self.results.transaction_status(fields)

    def reversal(self, body):
        """Validate a Reversal; Daraja's field really is spelled `RecieverIdentifierType`."""
        fields = self._initiator_fields(body, "TransactionReversal")
        if not isinstance(body.get("TransactionID"), str) or not body["TransactionID"]:
            raise invalid("TransactionID")
        amount = amount_field(body, "Amount", self.state.settings["max_amount"])
        fields["ReceiverParty"] = digits_field(body, "ReceiverParty")
        if str(body.get("RecieverIdentifierType")) != "11":
            raise invalid("RecieverIdentifierType")
        fields["Remarks"] = text_field(body, "Remarks", 100, minimum=2)
        fields["Occasion"] = text_field(body, "Occasion", 100, minimum=0, required=False)
        return self.results.reversal(fields, amount)

    def account_balance(self, body):
        """Validate an Account Balance query; the balances go to ResultURL."""
        fields = self._initiator_fields(body, "AccountBalance")
        fields["PartyA"] = digits_field(body, "PartyA")
        if str(body.get("IdentifierType")) != "4":
            raise invalid("IdentifierType")
        fields["Remarks"] = text_field(body, "Remarks", 100)
        return self.results.account_balance(fields)

    # -- Pull Transactions -------------------------------------------------------------------------

    def pull_register(self, body):
        """Validate a Pull Transactions registration."""
        fields = {"ShortCode": digits_field(body, "ShortCode")}
        if body.get("RequestType") != "Pull":
            raise invalid("RequestType")
        nominated = formats.normalize_msisdn(body.get("NominatedNumber"))
        if nominated is None:
            raise invalid("NominatedNumber")
        fields["NominatedNumber"] = nominated
        fields["CallBackURL"] = check_url(body, "CallBackURL")
        return self.pull.register(fields)

    def pull_query(self, body):
        """Validate a Pull Transactions query and page through the ledger."""
        fields = dict(body)
        fields["ShortCode"] = digits_field(body, "ShortCode")
        return self.pull.query(fields)
