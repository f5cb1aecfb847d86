"""Serve the control API under /sandbox/: answer prompts, pay from the SIM menu, set quirks, read the ledger."""
import copy
import json
import logging
import re
import time
import urllib.parse

from . import codes, formats, phone_page
from .messages import ApiResponse
from .errors import ControlError
from .state import SETTING_KEYS

_logger = logging.getLogger(__name__)

NUMERIC_SETTINGS = ("token_expires_in", "callback_delay", "callback_timeout", "validation_timeout",
                    "prompt_timeout", "max_amount", "daily_limit", "account_reference_max", "transaction_desc_max",
                    "pull_page_size", "pull_window_hours")


class ControlApi(object):
    """Route /sandbox/ paths; JSON in and out, except the phone page and its HTML forms."""

    def __init__(self, state, stk, c2b, dispatcher):
        self.state = state
        self.stk = stk
        self.c2b = c2b
        self.dispatcher = dispatcher
        self.routes = [
            ("GET", r"/sandbox/?", self.index),
            ("POST", r"/sandbox/reset", self.reset),
            ("GET", r"/sandbox/prompts", self.list_prompts),
            ("POST", r"/sandbox/prompts/(?P<checkout_id>[^/]+)/answer", self.answer_prompt),
            ("GET", r"/sandbox/phones", self.list_phones),
            ("POST", r"/sandbox/phones/(?P<msisdn>[^/]+)", self.set_phone),
            ("POST", r"/sandbox/c2b/pay", self.c2b_pay),
            ("GET", r"/sandbox/shortcodes", self.list_shortcodes),
            ("POST", r"/sandbox/shortcodes/(?P<shortcode>[^/]+)", self.set_shortcode),
            ("POST", r"/sandbox/apps", self.add_app),
            ("GET", r"/sandbox/quirks", self.get_quirks),
            ("POST", r"/sandbox/quirks", self.set_quirks),
            ("GET", r"/sandbox/settings", self.get_settings),
            ("POST", r"/sandbox/settings", self.set_settings),
            ("GET", r"/sandbox/callbacks", self.list_callbacks),
            ("POST", r"/sandbox/callbacks/(?P<callback_id>\d+)/redeliver", self.redeliver),
            ("GET", r"/sandbox/ledger", self.ledger),
            ("GET", r"/sandbox/registrations", self.registrations),
            ("GET", r"/sandbox/certificate", self.certificate),
            ("POST", r"/sandbox/tokens/expire", self.expire_tokens),
            ("GET", r"/sandbox/phone", self.phone),
        ]

    def handle(self, request):
        """Handle one request under /sandbox/."""
        matched_path = False
        for method, pattern, handler in self.routes:
            match = re.match(pattern + "$", request.path)
            if not match:
                continue
            matched_path = True
            if method != request.method:
                continue
            try:
                return handler(request, **match.groupdict())
            except ControlError as error:
                if request.is_form:
                    return self._redirect(request, error.message)
                return ApiResponse.json(error.http_status, {"error": error.message})
        if matched_path:
            return ApiResponse.json(405, {"error": "method %s not allowed on %s" % (request.method, request.path)})
        return ApiResponse.json(404, {"error": "no control endpoint %s; see GET /sandbox/" % request.path})

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _body(request):
        """Return the request body as a dict, from JSON or from an HTML form."""
        if request.is_form:
            pairs = urllib.parse.parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
            return dict(pairs)
        if not request.body.strip():
            return {}
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ControlError("request body is not valid JSON: %s" % error)
        if not isinstance(body, dict):
            raise ControlError("request body must be a JSON object, got %s" % type(body).__name__)
        return body

    @staticmethod
    def _redirect(request, message):
        """Send an HTML form back to the phone page with a message (only phone page targets are allowed)."""
        target = request.form_value("redirect") or "/sandbox/phone"
        if not target.startswith("/sandbox/phone"):
            target = "/sandbox/phone"
        separator = "&" if "?" in target else "?"
        location = target + separator + urllib.parse.urlencode({"message": message})
        return ApiResponse(303, "", content_type="text/plain", headers={"Location": location})

    def _msisdn(self, value, field="MSISDN"):
        msisdn = formats.normalize_msisdn(value)
        if msisdn is None:
            raise ControlError("%s must be a Safaricom number such as 254712345678 or 0712345678, got %r"
                               % (field, value))
        return msisdn

    # -- endpoints -------------------------------------------------------------------------------

    def index(self, request):
        return ApiResponse.json(200, {"endpoints": ["%s %s" % (method, pattern) for method, pattern, _ in self.routes]})

    def reset(self, request):
        self.state.reset()
        _logger.info("Sandbox state reset to the configuration")
        return ApiResponse.json(200, {"reset": True})

    def list_prompts(self, request):
        msisdn = request.query_value("msisdn")
        return ApiResponse.json(200, {"prompts": self.stk.prompts_view(self._msisdn(msisdn) if msisdn else None)})

    def answer_prompt(self, request, checkout_id):
        body = self._body(request)
        result_code = body.get("ResultCode", body.get("result_code"))
        if isinstance(result_code, str) and result_code.isdigit():
            result_code = int(result_code)
        outcome = self.stk.answer(checkout_id, body.get("action"), result_code)
        if request.is_form:
            receipt = outcome["MpesaReceiptNumber"]
            message = ("Paid. Receipt %s." % receipt) if receipt else (
                "Answered: %s (ResultCode %s)." % (outcome["ResultDesc"], outcome["ResultCode"]))
            return self._redirect(request, message)
        return ApiResponse.json(200, outcome)

    def list_phones(self, request):
        with self.state.lock:
            return ApiResponse.json(200, {"phones": copy.deepcopy(self.state.phones),
                                          "behaviours": list(codes.PHONE_BEHAVIOURS)})

    def set_phone(self, request, msisdn):
        settings = self.state.set_phone(self._msisdn(msisdn, "phone number"), self._body(request))
        return ApiResponse.json(200, settings)

    def c2b_pay(self, request):
        body = self._body(request)
        shortcode = str(body.get("ShortCode") or "").strip()
        msisdn = self._msisdn(body.get("MSISDN"))
        amount = formats.whole_amount(body.get("Amount"))
        with self.state.lock:
            maximum = self.state.settings["max_amount"]
        if amount is None or not 1 <= amount <= maximum:
            raise ControlError("Amount must be whole shillings from 1 to %s, got %r" % (maximum, body.get("Amount")))
        names = dict((key, body[key]) for key in ("FirstName", "MiddleName", "LastName") if body.get(key) is not None)
        outcome = self.c2b.pay(shortcode, msisdn, amount, str(body.get("BillRefNumber") or ""),
                               body.get("TransactionType") or None, names or None, wait=True)
        if request.is_form:
            if outcome["accepted"]:
                message = "Paid KES %s to %s. Receipt %s." % (amount, shortcode, outcome["TransID"])
            else:
                message = "Payment to %s was rejected (%s)." % (shortcode, outcome["result_code"])
            return self._redirect(request, message)
        return ApiResponse.json(200, outcome)

    def list_shortcodes(self, request):
        with self.state.lock:
            return ApiResponse.json(200, {"shortcodes": copy.deepcopy(self.state.shortcodes)})

    def set_shortcode(self, request, shortcode):
        return ApiResponse.json(200, self.state.set_shortcode(shortcode, self._body(request)))

    def add_app(self, request):
        body = self._body(request)
        self.state.add_app(body.get("consumer_key"), body.get("consumer_secret"))
        return ApiResponse.json(200, {"consumer_key": body["consumer_key"]})

    def get_quirks(self, request):
        return ApiResponse.json(200, self.state.quirks_view())

    def set_quirks(self, request):
        quirks = self.state.set_quirks(self._body(request))
        _logger.info("Quirks changed: %s", ", ".join(sorted(self._body(request))))
        return ApiResponse.json(200, quirks)

    def get_settings(self, request):
        with self.state.lock:
            return ApiResponse.json(200, dict(self.state.settings))

    def set_settings(self, request):
        body = self._body(request)
        for key, value in body.items():
            if key not in SETTING_KEYS:
                raise ControlError("unknown setting %r; known: %s" % (key, ", ".join(SETTING_KEYS)))
            if key in NUMERIC_SETTINGS and (isinstance(value, bool) or not isinstance(value, (int, float))
                                            or value < 0):
                raise ControlError("setting %s must be a number, 0 or more, got %r" % (key, value))
            if key not in NUMERIC_SETTINGS and not isinstance(value, bool):
                raise ControlError("setting %s must be true or false, got %r" % (key, value))
        with self.state.lock:
            self.state.settings.update(body)
            self.state.save()
            return ApiResponse.json(200, dict(self.state.settings))

    def list_callbacks(self, request):
        kind = request.query_value("kind")
        reference = request.query_value("reference")
        with self.state.lock:
            records = [copy.deepcopy(record) for record in self.state.callbacks
                       if (not kind or record["kind"] == kind) and (not reference or record["reference"] == reference)]
        return ApiResponse.json(200, {"callbacks": records})

    def redeliver(self, request, callback_id):
        record = self.dispatcher.redeliver(int(callback_id))
        if record is None:
            raise ControlError("no callback with id %s" % callback_id, http_status=404)
        return ApiResponse.json(200, record)

    def ledger(self, request):
        with self.state.lock:
            return ApiResponse.json(200, {
                "transactions": copy.deepcopy(self.state.transactions),
                "balances": copy.deepcopy(self.state.balances),
                "prompts": copy.deepcopy(list(self.state.prompts.values())),
            })

    def registrations(self, request):
        with self.state.lock:
            return ApiResponse.json(200, {"c2b": copy.deepcopy(self.state.registrations),
                                          "pull": copy.deepcopy(self.state.pull_registrations)})

    def certificate(self, request):
        return ApiResponse(200, self.state.key_pair.certificate_pem, content_type="application/x-pem-file")

    def expire_tokens(self, request):
        with self.state.lock:
            for entry in self.state.tokens.values():
                entry["expires_at"] = min(entry["expires_at"], time.time() - 1)
            count = len(self.state.tokens)
            self.state.save()
        return ApiResponse.json(200, {"expired": count})

    def phone(self, request):
        msisdn = request.query_value("msisdn")
        normalized = formats.normalize_msisdn(msisdn) if msisdn else None
        html = phone_page.render(self.state, self.stk, normalized, request.query_value("message"),
                                 typed_msisdn=msisdn)
        return ApiResponse(200, html, content_type="text/html; charset=utf-8")
