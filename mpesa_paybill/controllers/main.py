"""HTTP routes Daraja calls back: store the raw body, acknowledge, process later.

The paths hold none of the words Daraja rejects in URLs (mpesa, safaricom,
exe, cmd, sql, query, ...), and each carries the acquirer's secret.
Daraja signs nothing, so the secret is what tells our callbacks from forged
ones; a request with a wrong secret is still stored, for review.
"""
import json
import logging
import re

from werkzeug.wrappers import Response

from odoo import http
from odoo.http import request

from ..models.mpesa_callback import CallbackWorker

_logger = logging.getLogger(__name__)

CALLBACK_PREFIX = "/payment/lipa/"
ROUTE = CALLBACK_PREFIX + "<int:acquirer_id>/<string:secret>/"

# Acknowledgements in the shapes Daraja documents or integrations use: the
# C2B confirmation reply has a numeric ResultCode (Daraja's C2B Register URL
# page); Daraja documents no STK reply body and reads none that we know of.
STK_ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}
CONFIRMATION_ACK = {"ResultCode": 0, "ResultDesc": "Success"}
VALIDATION_ACCEPT = {"ResultCode": "0", "ResultDesc": "Accepted"}

# Daraja's bodies are about 1 KB. Larger ones are not Daraja's: only their
# first bytes are kept, so that nobody can fill the database through a URL.
MAX_BODY_BYTES = 64 * 1024
KEPT_BYTES_OF_LARGE_BODY = 4096


class _SecretFilter(logging.Filter):
    """Hide the callback secret in werkzeug's access log lines."""

    _secret = re.compile(r"(%s\d+/)[^/\s]+" % re.escape(CALLBACK_PREFIX))

    def filter(self, record):
        message = record.getMessage()
        if CALLBACK_PREFIX in message:
            record.msg, record.args = self._secret.sub(r"\1***", message), ()
        return True


logging.getLogger("werkzeug").addFilter(_SecretFilter())


def _get_request(root, httprequest, _original=http.Root.get_request):
    """Serve our callback paths as plain HTTP requests, whatever their Content-Type.

    Odoo 11 turns every request with Content-Type application/json into a
    JSON-RPC request, which Daraja's bodies are not: the route would return
    400 before our code could store the body. Other paths are untouched.
    """
    if httprequest.path.startswith(CALLBACK_PREFIX):
        return http.HttpRequest(httprequest)
    return _original(root, httprequest)


http.Root.get_request = _get_request


class MpesaCallbackController(http.Controller):

    def _json(self, payload):
        return request.make_response(json.dumps(payload), headers=[("Content-Type", "application/json")])

    def _store(self, kind, acquirer_id, secret, transaction_hint=None):
        """Store the raw body first; return (callback id, acquirer or None, secret valid)."""
        length = request.httprequest.content_length or 0
        if length > MAX_BODY_BYTES:
            head = request.httprequest.stream.read(KEPT_BYTES_OF_LARGE_BODY).decode("utf-8", "replace")
            body = "[body of %d bytes, over the %d-byte limit; first %d bytes kept]\n%s" % (
                length, MAX_BODY_BYTES, KEPT_BYTES_OF_LARGE_BODY, head)
            _logger.warning("M-Pesa %s callback of %d bytes truncated before storing", kind, length)
        else:
            body = request.httprequest.get_data(as_text=True)
        # PostgreSQL text cannot hold NUL characters; keep them visible instead of failing to store.
        body = body.replace("\x00", "\\x00")
        acquirer = request.env["payment.acquirer"].sudo().browse(acquirer_id).exists()
        if acquirer and acquirer.provider != "mpesa":
            acquirer = None
        secret_valid = bool(acquirer) and acquirer._mpesa_check_secret(secret)
        callback_id = request.env["mpesa.callback"].sudo()._store(
            kind, body,
            acquirer_id=acquirer.id if acquirer else None,
            remote_addr=request.httprequest.remote_addr,
            secret_valid=secret_valid,
            transaction_hint=transaction_hint,
        )
        if not secret_valid:
            _logger.warning("mpesa.callback %s (%s): wrong secret or unknown acquirer %s from %s",
                            callback_id, kind, acquirer_id, request.httprequest.remote_addr)
        return callback_id, acquirer, secret_valid

    def _dispatch(self, callback_id):
        """Process now in tests, otherwise in the background worker."""
        if request.env.registry.in_test_mode():
            request.env["mpesa.callback"].sudo().browse(callback_id)._process()
        else:
            CallbackWorker.submit(request.env.cr.dbname, callback_id)

    def _store_and_acknowledge(self, kind, acquirer_id, secret, ack, transaction_hint=None):
        try:
            callback_id, _acquirer, _valid = self._store(kind, acquirer_id, secret, transaction_hint)
        except Exception:
            # Without a stored body there is nothing to process, so a response
            # with an error code lets Daraja (or the operator) deliver it again.
            _logger.exception("M-Pesa %s callback could not be stored", kind)
            return Response(json.dumps({"ResultCode": 1, "ResultDesc": "Not stored"}),
                            status=500, content_type="application/json")
        self._dispatch(callback_id)
        return self._json(ack)

    @http.route([ROUTE + "stk-result", ROUTE + "stk-result/<int:transaction_id>"],
                type="http", auth="none", methods=["POST"], csrf=False)
    def stk_result(self, acquirer_id, secret, transaction_id=None, **kwargs):
        return self._store_and_acknowledge("stk", acquirer_id, secret, STK_ACK, transaction_id)

    @http.route(ROUTE + "c2b-confirmation", type="http", auth="none", methods=["POST"], csrf=False)
    def c2b_confirmation(self, acquirer_id, secret, **kwargs):
        # The money has already moved: a confirmation is never refused.
        return self._store_and_acknowledge("c2b_confirmation", acquirer_id, secret, CONFIRMATION_ACK)

    @http.route(ROUTE + "c2b-validation", type="http", auth="none", methods=["POST"], csrf=False)
    def c2b_validation(self, acquirer_id, secret, **kwargs):
        answer = VALIDATION_ACCEPT
        try:
            callback_id, acquirer, secret_valid = self._store("c2b_validation", acquirer_id, secret)
            if secret_valid:
                answer, reason = request.env["mpesa.transaction"].sudo()._c2b_validate(
                    acquirer, request.httprequest.get_data(as_text=True))
                request.env["mpesa.callback"].sudo()._set_result(callback_id, "processed", reason)
            else:
                request.env["mpesa.callback"].sudo()._set_result(
                    callback_id, "review", "Wrong secret or unknown acquirer; accepted without checks.")
        except Exception:
            # An error of ours must not turn a customer's payment away, and
            # must never be reported as "invalid MSISDN": accept, and let the
            # confirmation land in the review queue if it cannot be matched.
            _logger.exception("C2B validation failed on our side; accepting the payment")
        return self._json(answer)

    @http.route(ROUTE + "result", type="http", auth="none", methods=["POST"], csrf=False)
    def result(self, acquirer_id, secret, **kwargs):
        return self._store_and_acknowledge("result", acquirer_id, secret, STK_ACK)

    @http.route(ROUTE + "timeout", type="http", auth="none", methods=["POST"], csrf=False)
    def timeout(self, acquirer_id, secret, **kwargs):
        return self._store_and_acknowledge("timeout", acquirer_id, secret, STK_ACK)
