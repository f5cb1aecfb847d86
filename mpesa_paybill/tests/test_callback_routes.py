"""Test the callback routes over HTTP: every body is acknowledged and stored before anything reads it.

Odoo 11's HttpCase serves each request in ``registry.test_cr``, a transaction apart from
``self.cr``, and in test mode the route processes a callback before it responds. So these
tests read what a request wrote through ``self.registry.cursor()`` (the test cursor), and
rely only on data committed at install: the M-Pesa acquirer and its callback secret.
"""
import json

import odoo
from odoo.tests.common import HOST, HttpCase, at_install, post_install
from odoo.tools import mute_logger

# Daraja POSTs its callbacks with this header (Daraja's STK Push page).
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
STK_ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}
ROUTE_LOGGERS = ("odoo.addons.mpesa_paybill.controllers.main", "odoo.addons.mpesa_paybill.models.mpesa_callback")


def stk_body(checkout_request_id, marker):
    """Return a cancelled-prompt STK callback as Daraja sends it, made unique by ``marker``."""
    return json.dumps({"Body": {"stkCallback": {
        "MerchantRequestID": "29115-34620561-%s" % marker,
        "CheckoutRequestID": checkout_request_id,
        "ResultCode": 1032,
        "ResultDesc": "Request cancelled by user",
    }}})


@at_install(False)
@post_install(True)
class TestCallbackRoutes(HttpCase):

    def setUp(self):
        super(TestCallbackRoutes, self).setUp()
        self.acquirer = self.env.ref("mpesa_paybill.payment_acquirer_mpesa")
        self.secret = self.acquirer.sudo().mpesa_callback_secret

    def url(self, acquirer_id, secret, route="stk-result"):
        return "http://%s:%s/payment/lipa/%s/%s/%s" % (
            HOST, odoo.tools.config["http_port"], acquirer_id, secret, route)

    def post(self, url, body):
        return self.opener.post(url, data=body.encode("utf-8"), headers=JSON_HEADERS, timeout=10)

    def stored(self, body):
        """Return the mpesa.callback rows whose body is exactly ``body``, as the requests wrote them."""
        cr = self.registry.cursor()
        try:
            cr.execute("""SELECT kind, state, reason, secret_valid, acquirer_id, body
                            FROM mpesa_callback WHERE body = %s ORDER BY id""", (body,))
            return cr.dictfetchall()
        finally:
            cr.close()

    def count_stored(self):
        cr = self.registry.cursor()
        try:
            cr.execute("SELECT count(*) FROM mpesa_callback")
            return cr.fetchone()[0]
        finally:
            cr.close()

    def assertAcknowledged(self, response):
        self.assertEqual(response.status_code, 200, response.text[:300])
        self.assertEqual(response.headers.get("Content-Type", "").split(";")[0], "application/json")
        self.assertEqual(response.json(), STK_ACK, response.text[:300])

    @mute_logger(*ROUTE_LOGGERS)
    def test_wrong_secret_kept(self):
        """Test that a callback with a wrong secret is acknowledged and kept for review."""
        body = stk_body("ws_CO_01012026000000000712345678", "wrong-secret")

        response = self.post(self.url(self.acquirer.id, "0" * 32), body)

        self.assertAcknowledged(response)
        rows = self.stored(body)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["state"], "review")
        self.assertFalse(rows[0]["secret_valid"])
        self.assertEqual(rows[0]["acquirer_id"], self.acquirer.id)
        self.assertIn("secret", rows[0]["reason"])

    @mute_logger(*ROUTE_LOGGERS)
    def test_unknown_acquirer_kept(self):
        """Test that a callback for an acquirer id that does not exist is acknowledged and stored."""
        self.env.cr.execute("SELECT coalesce(max(id), 0) + 1000 FROM payment_acquirer")
        unknown_id = self.env.cr.fetchone()[0]
        body = stk_body("ws_CO_01012026000000000712345679", "unknown-acquirer")

        response = self.post(self.url(unknown_id, self.secret), body)

        self.assertAcknowledged(response)
        rows = self.stored(body)
        self.assertEqual(len(rows), 1)
        self.assertIsNone(rows[0]["acquirer_id"])
        self.assertFalse(rows[0]["secret_valid"])
        self.assertEqual(rows[0]["state"], "review")

    @mute_logger(*ROUTE_LOGGERS)
    def test_malformed_body_kept(self):
        """Test that a body that is not JSON is acknowledged and stored exactly as sent."""
        body = '{"Body": {"stkCallback": {"ResultCode": 0,  \n "ResultDesc": "Malipo \u2713"  trunc'

        response = self.post(self.url(self.acquirer.id, self.secret), body)

        self.assertAcknowledged(response)
        rows = self.stored(body)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["body"], body)
        self.assertEqual(rows[0]["state"], "review")
        self.assertIn("Malformed", rows[0]["reason"])

    def test_get_rejected(self):
        """Test that a GET on the STK result route is rejected with 405 and stores nothing."""
        before = self.count_stored()

        response = self.opener.get(self.url(self.acquirer.id, self.secret), timeout=10)

        self.assertEqual(response.status_code, 405)
        self.assertEqual(self.count_stored(), before)

    @mute_logger(*ROUTE_LOGGERS)
    def test_unknown_checkout_request_id_kept(self):
        """Test that a verified result for a CheckoutRequestID never sent is kept for review with it."""
        checkout_request_id = "ws_CO_01012026000000000799999999"
        body = stk_body(checkout_request_id, "unknown-checkout")

        response = self.post(self.url(self.acquirer.id, self.secret), body)

        self.assertAcknowledged(response)
        rows = self.stored(body)
        self.assertEqual(len(rows), 1)
        self.assertTrue(rows[0]["secret_valid"])
        self.assertEqual(rows[0]["state"], "review")
        self.assertIn(checkout_request_id, rows[0]["reason"])
