"""Call Daraja's M-Pesa APIs: OAuth token, STK Push, C2B, Transaction Status, Reversal,
Account Balance and Pull Transactions.

Every request value is checked before sending (see ``fields`` and ``urls``), every
request has a timeout, and every response is checked for Daraja's error envelope even
with HTTP 200. Logs name the method, path, HTTP status and Daraja error code of each
request, never a secret, a full MSISDN or a full CheckoutRequestID.
"""

import datetime
import logging
import threading
import time

import requests

from . import codes, fields, transport
from .errors import DarajaAuthError, DarajaBadResponse, DarajaConfigError, DarajaRequestError, DarajaThrottled
from .parsers import parse_pull_rows
from .phone import mask_msisdn, mask_reference, normalize_msisdn
from .responses import (
    AcceptedResponse,
    PullQueryResult,
    PullRegisterResponse,
    RegisterUrlResponse,
    StkPushResponse,
    StkQueryResult,
)
from .token import DEFAULT_TOKEN_CACHE, fetch_lock, is_fresh, token_cache_key
from .urls import check_callback_url, check_environment

_logger = logging.getLogger(__name__)

# Safaricom's base URLs, used only when a caller passes them explicitly.
PRODUCTION_URL = "https://api.safaricom.co.ke"
SAFARICOM_SANDBOX_URL = "https://sandbox.safaricom.co.ke"
# The project's offline sandbox (python -m daraja_sandbox --port 8765).
OFFLINE_URL = "http://127.0.0.1:8765"

TOKEN_PATH = "/oauth/v1/generate"
STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
C2B_REGISTER_PATH = "/mpesa/c2b/%s/registerurl"
C2B_SIMULATE_PATH = "/mpesa/c2b/%s/simulate"
TRANSACTION_STATUS_PATH = "/mpesa/transactionstatus/v1/query"
REVERSAL_PATH = "/mpesa/reversal/v1/request"
ACCOUNT_BALANCE_PATH = "/mpesa/accountbalance/v1/query"
PULL_REGISTER_PATH = "/pulltransactions/v1/register"
PULL_QUERY_PATH = "/pulltransactions/v1/query"

DEFAULT_TIMEOUT = 30
# Refresh a cached token this many seconds before its expires_in runs out, so that a
# token does not expire between the cache check and Daraja's own check.
DEFAULT_TOKEN_REFRESH_MARGIN = 300

C2B_VERSIONS = ("v1", "v2")
C2B_COMMANDS = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
# ResponseType is what M-Pesa does when the validation URL does not respond in time.
RESPONSE_TYPES = {"completed": "Completed", "cancelled": "Cancelled", "canceled": "Cancelled"}
# IdentifierType 4 is an organisation shortcode. RecieverIdentifierType 11 is what the
# Reversal page requires for the receiving shortcode.
SHORTCODE_IDENTIFIER = "4"
REVERSAL_RECEIVER_IDENTIFIER = "11"
PULL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class DarajaClient(object):
    """Client for one Daraja app (consumer key and secret) in one environment.

    :param base_url: Daraja's base URL, e.g. PRODUCTION_URL, SAFARICOM_SANDBOX_URL or
        the offline sandbox's URL.
    :param environment: "production", "sandbox" (Safaricom's sandbox) or "offline"
        (the project's own sandbox, which alone accepts http and loopback callback URLs).
    :param timeout: seconds to wait for each HTTP response, or a (connect, read) tuple as
        requests accepts.
    :param token_cache: an object with ``get``, ``set`` and ``invalidate`` (see
        ``token.MemoryTokenCache``). The default is one in-process cache shared by all
        clients, so that clients created per request reuse one token.
    :param token_refresh_margin: seconds before expiry at which a cached token is
        replaced. NOTE: a token whose lifetime is shorter than the margin is fetched
        again on every call.
    :param max_amount: largest amount in KES accepted per transaction.
    :param allowed_punctuation: characters accepted in free-text fields besides ASCII
        letters and digits (see ``fields.DEFAULT_ALLOWED_PUNCTUATION``).
    :param register_success_codes: C2B Register URL ResponseCodes that mean success.
    :param session: a requests.Session to reuse (by default the client creates one).
    """

    def __init__(self, base_url, consumer_key, consumer_secret, environment="offline",
                 timeout=DEFAULT_TIMEOUT, token_cache=None,
                 token_refresh_margin=DEFAULT_TOKEN_REFRESH_MARGIN, max_amount=fields.MAX_AMOUNT,
                 allowed_punctuation=fields.DEFAULT_ALLOWED_PUNCTUATION,
                 register_success_codes=codes.REGISTER_SUCCESS_CODES, session=None):
        self.environment = check_environment(environment)
        self.base_url = self._check_base_url(base_url, environment)
        self.consumer_key = fields.check_required(
            consumer_key, "Consumer key", "Copy the consumer key of the Daraja app from the Daraja portal."
        )
        self._consumer_secret = fields.check_required(
            consumer_secret, "Consumer secret", "Copy the consumer secret of the Daraja app from the Daraja portal."
        )
        timeouts = timeout if isinstance(timeout, tuple) else (timeout,)
        if not all(isinstance(value, (int, float)) and value > 0 for value in timeouts):
            raise DarajaConfigError("Timeout %r is invalid. Give a positive number of seconds." % (timeout,))
        self.timeout = timeout
        self.token_cache = token_cache if token_cache is not None else DEFAULT_TOKEN_CACHE
        self.token_refresh_margin = token_refresh_margin
        self.max_amount = max_amount
        self.allowed_punctuation = fields.check_allowed_punctuation(allowed_punctuation)
        self.register_success_codes = tuple(register_success_codes)
        self.session = session or requests.Session()
        self._token_key = token_cache_key(self.base_url, self.consumer_key, self._consumer_secret)
        # Strings hidden from every error excerpt: the secret and the tokens seen so far.
        self._secrets = [self._consumer_secret]
        self._secrets_lock = threading.Lock()

    def __repr__(self):
        return "<DarajaClient %s %s key=%s...>" % (self.environment, self.base_url, self.consumer_key[:4])

    @staticmethod
    def _check_base_url(base_url, environment):
        url = fields.check_required(base_url, "Daraja base URL", "Set the base URL of the Daraja environment.")
        url = url.rstrip("/")
        if not (url.startswith("https://") or url.startswith("http://")):
            raise DarajaConfigError(
                "Daraja base URL %r is not an http(s) URL. Use e.g. %s." % (url, PRODUCTION_URL)
            )
        if environment != "offline" and not url.startswith("https://"):
            raise DarajaConfigError(
                "Daraja base URL %r uses http in the %s environment. Use %s or %s."
                % (url, environment, PRODUCTION_URL, SAFARICOM_SANDBOX_URL)
            )
        return url

    def _remember_secret(self, secret):
        with self._secrets_lock:
            if secret and secret not in self._secrets:
                self._secrets.append(secret)
                del self._secrets[1:-20]

    # Token ---------------------------------------------------------------------------

    def get_token(self, force=False):
        """Return a valid access token, from the cache unless it is close to expiry or ``force``.

        :raise DarajaAuthError: when Daraja rejects the consumer key and secret.
        :raise DarajaTransportError: when the token call fails or its response is unusable.
        """
        if not force:
            entry = self.token_cache.get(self._token_key)
            if is_fresh(entry, self.token_refresh_margin):
                self._remember_secret(entry[0])
                return entry[0]
        return self._replace_token(force=force)

    def _replace_token(self, rejected=None, force=False):
        """Fetch and cache a new token, unless another thread has just stored a usable one.

        A cached token is usable when it is fresh, is not the ``rejected`` token that
        Daraja refused, and ``force`` is false.
        """
        with fetch_lock(self._token_key):
            entry = self.token_cache.get(self._token_key)
            if not force and is_fresh(entry, self.token_refresh_margin) and entry[0] != rejected:
                # Another thread or worker stored a new token while this one waited.
                self._remember_secret(entry[0])
                return entry[0]
            token, expires_in = self._fetch_token()
            self.token_cache.set(self._token_key, token, time.time() + expires_in)
            return token

    def _fetch_token(self):
        """Request a new access token with HTTP Basic auth and return ``(token, expires_in)``."""
        method = "GET"
        response = transport.send(
            self.session, method, self.base_url, TOKEN_PATH, self.timeout,
            params={"grant_type": "client_credentials"},
            auth=(self.consumer_key, self._consumer_secret),
        )
        status = response.status_code
        try:
            data = transport.decode_json(response, method, TOKEN_PATH, self._secrets)
        except DarajaBadResponse as error:
            _logger.debug("Daraja %s %s -> HTTP %s, unusable body", method, TOKEN_PATH, status)
            if status in (400, 401, 403):
                # Daraja may reject wrong keys with an empty 400 or 401 body.
                raise DarajaAuthError(
                    "Daraja rejected the consumer key and secret (HTTP %s). Copy both again "
                    "from the Daraja app, and check that the app belongs to this environment." % status,
                    http_status=status,
                ) from error
            raise

        error_code = transport.error_code_of(data)
        _logger.debug("Daraja %s %s -> HTTP %s, errorCode %s", method, TOKEN_PATH, status, error_code or "none")
        if error_code in codes.THROTTLE_CODES:
            raise transport.request_error(data, status)
        if error_code or status >= 400:
            error_message = str(data.get("errorMessage") or "")
            hint = codes.TOKEN_ERROR_MESSAGES.get(error_code, "Daraja rejected the consumer key and secret")
            raise DarajaAuthError(
                "%s (HTTP %s, Daraja error %s: %s). Check the consumer key and secret of the "
                "Daraja app for this environment." % (hint, status, error_code or "none", error_message or "no message"),
                error_code=error_code, error_message=error_message, http_status=status,
            )

        token = data.get("access_token")
        if not token or not isinstance(token, str):
            raise DarajaBadResponse(
                "Daraja's token response (HTTP %s) has no access_token. Try again later." % status,
                http_status=status, excerpt=transport.make_excerpt(sorted(data), self._secrets),
            )
        self._remember_secret(token)
        try:
            # Documented as a number, but seen as the string "3599" in the wild.
            expires_in = int(float(str(data.get("expires_in")).strip()))
        except ValueError:
            raise DarajaBadResponse(
                "Daraja's token response has an unreadable expires_in %r. Try again later."
                % (data.get("expires_in"),),
                http_status=status,
            )
        if expires_in <= 0:
            raise DarajaBadResponse(
                "Daraja's token response has expires_in %s, which is not positive." % expires_in,
                http_status=status,
            )
        return token, expires_in

    # Requests ------------------------------------------------------------------------

    def _post(self, path, body, secrets=()):
        """POST ``body`` to ``path`` with a Bearer token and return Daraja's JSON response.

        A response reporting an invalid token makes the client drop that token from the
        cache (only if no other worker replaced it), fetch a new one and retry once.

        :raise DarajaAuthError: when the token is still rejected after the retry.
        :raise DarajaRequestError: for Daraja's error envelope, even with HTTP 200.
        :raise DarajaTransportError: for timeouts, connection errors and unusable responses.
        """
        method = "POST"
        all_secrets = list(self._secrets) + [secret for secret in secrets if secret]
        rejected = None
        for attempt in (1, 2):
            token = self.get_token() if rejected is None else self._replace_token(rejected=rejected)
            all_secrets.append(token)
            response = transport.send(
                self.session, method, self.base_url, path, self.timeout,
                json=body, headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
            )
            status = response.status_code
            try:
                data = transport.decode_json(response, method, path, all_secrets)
            except DarajaBadResponse:
                _logger.info("Daraja %s %s -> HTTP %s, unusable body", method, path, status)
                raise
            error_code = transport.error_code_of(data)
            _logger.info("Daraja %s %s -> HTTP %s, errorCode %s", method, path, status, error_code or "none")

            if not transport.is_invalid_token(data):
                break
            self.token_cache.invalidate(self._token_key, token)
            if attempt == 2:
                raise DarajaAuthError(
                    "Daraja rejected a freshly fetched access token (HTTP %s, Daraja error %s: %s). "
                    "Check that the Daraja app is approved for this API and that the base URL "
                    "matches the app's environment." % (status, error_code, data.get("errorMessage")),
                    error_code=error_code, error_message=data.get("errorMessage"), http_status=status,
                )
            _logger.warning("Daraja %s %s: access token rejected, retrying once with a new token", method, path)
            rejected = token

        error = transport.request_error(data, status)
        if error is not None:
            raise error
        if status >= 400:
            raise DarajaBadResponse(
                "Daraja responded to %s %s with HTTP %s but no error code: %s."
                % (method, path, status, transport.make_excerpt(data, all_secrets)),
                http_status=status, excerpt=transport.make_excerpt(data, all_secrets),
            )
        return data

    def _callback_url(self, url, label):
        return check_callback_url(url, self.environment, label)

    def _free_text(self, check, value):
        return check(value, punctuation=self.allowed_punctuation)

    @staticmethod
    def _require_code(data, expected, what):
        """Raise DarajaRequestError unless the response's ResponseCode is in ``expected``."""
        response_code = codes.normalize_result_code(data.get("ResponseCode"))
        if response_code not in expected:
            description = str(data.get("ResponseDescription") or "no description")
            raise DarajaRequestError(
                "Daraja did not accept the %s (ResponseCode %s: %s)." % (what, response_code, description),
                error_code=response_code, error_message=description,
            )
        return response_code

    # STK Push ------------------------------------------------------------------------

    def stk_push(self, shortcode, passkey, amount, phone, callback_url, account_reference,
                 description="Payment", till_number=None, timestamp=None):
        """Send an STK Push (M-Pesa Express) prompt to the customer's phone.

        For a PayBill, ``shortcode`` is the PayBill and PartyB too. For a till, pass
        ``till_number``: the request becomes CustomerBuyGoodsOnline with
        BusinessShortCode = ``shortcode`` (the store or head-office number) and
        PartyB = ``till_number``.

        The response only means "accepted": the payment outcome arrives at
        ``callback_url`` or through ``stk_query``.

        :raise DarajaConfigError: for an invalid value, before anything is sent.
        """
        shortcode = fields.check_shortcode(shortcode, "BusinessShortCode")
        party_b = fields.check_shortcode(till_number, "Till number") if till_number else shortcode
        whole_amount = fields.check_amount(amount, self.max_amount)
        msisdn = normalize_msisdn(phone)
        callback_url = self._callback_url(callback_url, "Callback URL")
        account_reference = self._free_text(fields.check_account_reference, account_reference)
        description = self._free_text(fields.check_transaction_desc, description)
        timestamp = fields.check_timestamp(timestamp)
        password = fields.stk_password(shortcode, passkey, timestamp)

        body = {
            "BusinessShortCode": shortcode,
            "Password": password,
            "Timestamp": timestamp,
            "TransactionType": "CustomerBuyGoodsOnline" if till_number else "CustomerPayBillOnline",
            "Amount": whole_amount,
            "PartyA": msisdn,
            "PartyB": party_b,
            "PhoneNumber": msisdn,
            "CallBackURL": callback_url,
            "AccountReference": account_reference,
            "TransactionDesc": description,
        }
        data = self._post(STK_PUSH_PATH, body, secrets=(passkey, password))
        response_code = self._require_code(data, ("0",), "STK Push")
        checkout_request_id = str(data.get("CheckoutRequestID") or "")
        if not checkout_request_id:
            raise DarajaBadResponse(
                "Daraja accepted the STK Push but returned no CheckoutRequestID, so its outcome "
                "cannot be tracked. Check the M-Pesa statement before asking the customer again."
            )
        _logger.debug(
            "STK Push of KES %s to %s accepted, CheckoutRequestID %s",
            whole_amount, mask_msisdn(msisdn), mask_reference(checkout_request_id),
        )
        return StkPushResponse(
            merchant_request_id=data.get("MerchantRequestID"),
            checkout_request_id=checkout_request_id,
            response_code=response_code,
            response_description=data.get("ResponseDescription"),
            customer_message=data.get("CustomerMessage"),
            raw=data,
        )

    def stk_query(self, shortcode, passkey, checkout_request_id, timestamp=None):
        """Request the outcome of an STK Push from Daraja and return an StkQueryResult.

        ResultCode "0" gives "paid" and any other code "failed". Daraja's 500.001.1001
        "The transaction is being processed" error gives "pending", not an exception.
        The response has no receipt, amount or phone, so it cannot replace the callback,
        and Safaricom's sandbox has reported "failed" for paid prompts: never let it
        downgrade a payment already confirmed by callback.
        """
        shortcode = fields.check_shortcode(shortcode, "BusinessShortCode")
        checkout_request_id = fields.check_required(
            checkout_request_id, "CheckoutRequestID", "Give the CheckoutRequestID returned by stk_push."
        )
        timestamp = fields.check_timestamp(timestamp)
        password = fields.stk_password(shortcode, passkey, timestamp)
        body = {
            "BusinessShortCode": shortcode,
            "Password": password,
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        try:
            data = self._post(STK_QUERY_PATH, body, secrets=(passkey, password))
        except DarajaRequestError as error:
            if error.reason == "processing" and not isinstance(error, DarajaThrottled):
                return StkQueryResult("pending", None, error.error_message, {
                    "errorCode": error.error_code, "errorMessage": error.error_message, "requestId": error.request_id,
                })
            raise

        result_code = codes.normalize_result_code(data.get("ResultCode"))
        if result_code is None:
            status = "pending"
        elif result_code == codes.PAID_RESULT_CODE:
            status = "paid"
        else:
            status = "failed"
        _logger.debug("STK Query for %s: %s (ResultCode %s)", mask_reference(checkout_request_id), status, result_code)
        return StkQueryResult(status, result_code, data.get("ResultDesc"), data)

    # C2B -----------------------------------------------------------------------------

    def c2b_register_url(self, shortcode, confirmation_url, validation_url, response_type="Completed", version="v1"):
        """Register the confirmation and validation URLs of a PayBill or till.

        ``response_type`` ("Completed" or "Cancelled") is what M-Pesa does when the
        validation URL does not respond in time. Version v1 callbacks carry a SHA-256
        hashed MSISDN and v2 callbacks a masked one. In production the registration
        is one-time: changing the URLs needs them deleted in the M-Pesa portal first.

        :raise DarajaRequestError: when the ResponseCode is not a success code.
        """
        version = self._check_c2b_version(version)
        shortcode = fields.check_shortcode(shortcode, "ShortCode")
        canonical_type = RESPONSE_TYPES.get(str(response_type or "").strip().lower())
        if canonical_type is None:
            raise DarajaConfigError(
                "ResponseType %r is invalid. Use \"Completed\" or \"Cancelled\"." % (response_type,)
            )
        body = {
            "ShortCode": shortcode,
            "ResponseType": canonical_type,
            "ConfirmationURL": self._callback_url(confirmation_url, "ConfirmationURL"),
            "ValidationURL": self._callback_url(validation_url, "ValidationURL"),
        }
        data = self._post(C2B_REGISTER_PATH % version, body)
        response_code = self._require_code(data, self.register_success_codes, "C2B URL registration")
        return RegisterUrlResponse(
            response_code=response_code,
            response_description=data.get("ResponseDescription"),
            # Daraja misspells this key "OriginatorCoversationID".
            originator_conversation_id=data.get("OriginatorCoversationID") or data.get("OriginatorConversationID"),
            raw=data,
        )

    @staticmethod
    def _check_c2b_version(version):
        if version not in C2B_VERSIONS:
            raise DarajaConfigError("C2B API version %r is invalid. Use \"v1\" or \"v2\"." % (version,))
        return version

    def c2b_simulate(self, shortcode, amount, msisdn, bill_ref_number, command_id="CustomerPayBillOnline", version="v2"):
        """Simulate a customer paying ``shortcode`` from the SIM menu (sandbox environments only).

        :raise DarajaConfigError: in the production environment, where Daraja has no
            simulation, and for invalid values.
        """
        if self.environment == "production":
            raise DarajaConfigError(
                "C2B simulate is only available in Daraja's sandbox. Switch the environment "
                "to sandbox or offline, or make a real payment from a phone."
            )
        version = self._check_c2b_version(version)
        if command_id not in C2B_COMMANDS:
            raise DarajaConfigError(
                "CommandID %r is invalid. Use one of: %s." % (command_id, ", ".join(C2B_COMMANDS))
            )
        if command_id == "CustomerPayBillOnline":
            bill_ref_number = self._free_text(fields.check_bill_ref_number, bill_ref_number)
        else:
            bill_ref_number = str(bill_ref_number or "").strip()
        body = {
            "ShortCode": fields.check_shortcode(shortcode, "ShortCode"),
            "CommandID": command_id,
            "Amount": fields.check_amount(amount, self.max_amount),
            "Msisdn": normalize_msisdn(msisdn),
            "BillRefNumber": bill_ref_number,
        }
        data = self._post(C2B_SIMULATE_PATH % version, body)
        return self._accepted(data, "C2B simulation")

    def _accepted(self, data, what):
        response_code = self._require_code(data, ("0",), what)
        return AcceptedResponse(
            originator_conversation_id=data.get("OriginatorConversationID") or data.get("OriginatorCoversationID"),
            conversation_id=data.get("ConversationID"),
            response_code=response_code,
            response_description=data.get("ResponseDescription"),
            raw=data,
        )

    # Transaction Status, Reversal, Account Balance -------------------------------------

    def _initiator_fields(self, initiator, security_credential, result_url, timeout_url):
        return {
            "Initiator": fields.check_required(initiator, "Initiator", "Set the name of the Daraja API initiator."),
            "SecurityCredential": fields.check_required(
                security_credential, "SecurityCredential",
                "Build it from the initiator password with security_credential().",
            ),
            "ResultURL": self._callback_url(result_url, "ResultURL"),
            "QueueTimeOutURL": self._callback_url(timeout_url, "QueueTimeOutURL"),
        }

    def transaction_status(self, initiator, security_credential, transaction_id, shortcode, result_url,
                           timeout_url, remarks, occasion="", original_conversation_id=None):
        """Request the status of an M-Pesa transaction, whose result Daraja sends to ``result_url``.

        ``transaction_id`` is the M-Pesa receipt. For a transaction without a receipt,
        pass ``original_conversation_id`` and an empty ``transaction_id``.
        """
        body = self._initiator_fields(initiator, security_credential, result_url, timeout_url)
        if transaction_id or not original_conversation_id:
            body["TransactionID"] = fields.check_transaction_id(transaction_id)
        if original_conversation_id:
            body["OriginalConversationID"] = fields.check_transaction_id(
                original_conversation_id, "OriginalConversationID"
            )
        body.update({
            "CommandID": "TransactionStatusQuery",
            "PartyA": fields.check_shortcode(shortcode, "PartyA"),
            "IdentifierType": SHORTCODE_IDENTIFIER,
            "Remarks": self._free_text(fields.check_remarks, remarks),
            "Occasion": self._free_text(fields.check_occasion, occasion),
        })
        data = self._post(TRANSACTION_STATUS_PATH, body, secrets=(security_credential,))
        return self._accepted(data, "Transaction Status request")

    def reversal(self, initiator, security_credential, transaction_id, amount, shortcode, result_url,
                 timeout_url, remarks, occasion=""):
        """Request the reversal of a C2B payment to ``shortcode``, whose result Daraja sends to ``result_url``.

        Remarks must be 2 to 100 characters on Daraja's Reversal page.
        """
        body = self._initiator_fields(initiator, security_credential, result_url, timeout_url)
        body.update({
            "CommandID": "TransactionReversal",
            "TransactionID": fields.check_transaction_id(transaction_id),
            "Amount": fields.check_amount(amount, self.max_amount),
            "ReceiverParty": fields.check_shortcode(shortcode, "ReceiverParty"),
            # Daraja requires this misspelling and rejects "ReceiverIdentifierType".
            "RecieverIdentifierType": REVERSAL_RECEIVER_IDENTIFIER,
            "Remarks": fields.check_remarks(remarks, punctuation=self.allowed_punctuation, min_length=2),
            "Occasion": self._free_text(fields.check_occasion, occasion),
        })
        data = self._post(REVERSAL_PATH, body, secrets=(security_credential,))
        return self._accepted(data, "Reversal request")

    def account_balance(self, initiator, security_credential, shortcode, result_url, timeout_url, remarks):
        """Request the balances of ``shortcode``'s accounts, which Daraja sends to ``result_url``."""
        body = self._initiator_fields(initiator, security_credential, result_url, timeout_url)
        body.update({
            "CommandID": "AccountBalance",
            "PartyA": fields.check_shortcode(shortcode, "PartyA"),
            "IdentifierType": SHORTCODE_IDENTIFIER,
            "Remarks": self._free_text(fields.check_remarks, remarks),
        })
        data = self._post(ACCOUNT_BALANCE_PATH, body, secrets=(security_credential,))
        return self._accepted(data, "Account Balance request")

    # Pull Transactions ---------------------------------------------------------------

    def pull_register(self, shortcode, nominated_number, callback_url):
        """Register ``shortcode`` for Pull Transactions (production shortcodes live with C2B).

        ResponseStatus "1000" means registered now and "1001" registered before. Both
        are returned, and any other status raises DarajaRequestError.
        """
        msisdn = normalize_msisdn(nominated_number)
        body = {
            "ShortCode": fields.check_shortcode(shortcode, "ShortCode"),
            "RequestType": "Pull",
            # The Pull Transactions page writes the nominated number in local form.
            "NominatedNumber": "0" + msisdn[3:],
            "CallBackURL": self._callback_url(callback_url, "CallBackURL"),
        }
        data = self._post(PULL_REGISTER_PATH, body)
        status = codes.normalize_result_code(data.get("ResponseStatus"))
        if status not in (codes.PULL_REGISTERED, codes.PULL_ALREADY_REGISTERED):
            description = str(data.get("ResponseDescription") or "no description")
            raise DarajaRequestError(
                "Daraja did not register the shortcode for Pull Transactions (ResponseStatus %s: %s)."
                % (status, description),
                error_code=status, error_message=description,
            )
        return PullRegisterResponse(
            response_ref_id=data.get("ResponseRefID"),
            response_status=status,
            shortcode=data.get("ShortCode"),
            response_description=data.get("ResponseDescription"),
            raw=data,
        )

    def pull_query(self, shortcode, start, end, offset=0):
        """Return the C2B transactions of ``shortcode`` between ``start`` and ``end`` as a PullQueryResult.

        ``start`` and ``end`` are datetimes (naive ones are read as UTC, as Odoo stores
        them, and sent in EAT) or text in Daraja's "YYYY-MM-DD HH:MM:SS" form. Daraja
        keeps only the last 48 hours and pages by row ``offset``.
        """
        body = {
            "ShortCode": fields.check_shortcode(shortcode, "ShortCode"),
            "StartDate": self._pull_time(start, "StartDate"),
            "EndDate": self._pull_time(end, "EndDate"),
            "OffSetValue": str(self._check_offset(offset)),
        }
        data = self._post(PULL_QUERY_PATH, body)
        return PullQueryResult(
            response_code=codes.normalize_result_code(data.get("ResponseCode")),
            response_message=data.get("ResponseMessage") or data.get("ResponseDescription"),
            rows=parse_pull_rows(data),
            raw=data,
        )

    @staticmethod
    def _check_offset(offset):
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise DarajaConfigError("OffSetValue %r is invalid. Give a row offset of 0 or more." % (offset,))
        return offset

    @staticmethod
    def _pull_time(value, field):
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.timezone.utc)
            return value.astimezone(fields.EAT).strftime(PULL_TIME_FORMAT)
        text = "" if value is None else str(value).strip()
        try:
            datetime.datetime.strptime(text, PULL_TIME_FORMAT)
        except ValueError:
            raise DarajaConfigError(
                "%s %r is invalid. Give a datetime or text like \"2024-08-04 08:36:00\" (EAT)." % (field, value)
            )
        return text
