"""Shared set-up for the addon's tests: the offline Daraja sandbox and a KES customer.

The sandbox runs in the test process on a free loopback port. It records
the callbacks it would send instead of sending them (its drop_callbacks
switch), because a callback posted to Odoo's HTTP server would land in
another database transaction than the test's. Each test then hands the
recorded body to the same processing the HTTP route uses.
"""
import json
import os
import sys

import requests

from odoo.tests.common import TransactionCase

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from daraja_sandbox import SandboxServer  # noqa: E402

SANDBOX_KEY = "sandbox-consumer-key"
SANDBOX_SECRET = "sandbox-consumer-secret"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
CUSTOMER_PHONE = "254712345678"


class MpesaCase(TransactionCase):
    """A configured M-Pesa acquirer, a customer, and helpers to drive the sandbox."""

    @classmethod
    def setUpClass(cls):
        super(MpesaCase, cls).setUpClass()
        cls.sandbox = SandboxServer(port=0).start()

    @classmethod
    def tearDownClass(cls):
        cls.sandbox.stop()
        super(MpesaCase, cls).tearDownClass()

    def setUp(self):
        super(MpesaCase, self).setUp()
        self.sandbox_post("/sandbox/reset", {})
        self.sandbox_post("/sandbox/quirks", {"drop_callbacks": True, "stk_c2b_echo": False})

        self.kes = self.env.ref("base.KES")
        self.acquirer = self.env.ref("mpesa_paybill.payment_acquirer_mpesa")
        self.acquirer.write({
            "mpesa_environment": "offline",
            "mpesa_offline_url": self.sandbox.base_url,
            "mpesa_consumer_key": SANDBOX_KEY,
            "mpesa_consumer_secret": SANDBOX_SECRET,
            "mpesa_passkey": SANDBOX_PASSKEY,
            "mpesa_shortcode": "600000",
            "mpesa_shortcode_type": "paybill",
            "mpesa_public_url": "http://127.0.0.1:8169",
            "mpesa_query_after": 0,
        })
        self.acquirer._mpesa_ensure_journal()
        self.journal = self.acquirer.journal_id

        self.partner = self.env["res.partner"].create({
            "name": "Wanjiru Njoroge",
            "customer": True,
            "mobile": "0712 345 678",
            "country_id": self.env.ref("base.ke").id,
        })
        self.pricelist = self.env["product.pricelist"].create({
            "name": "Kenya shillings",
            "currency_id": self.kes.id,
        })
        self.product = self.env["product.product"].create({
            "name": "Sack of rice 25 kg",
            "type": "consu",
            "list_price": 3000.0,
            "invoice_policy": "order",
        })

    # Documents ----------------------------------------------------------

    def create_order(self, price=3000.0, quantity=1):
        order = self.env["sale.order"].create({
            "partner_id": self.partner.id,
            "pricelist_id": self.pricelist.id,
            "order_line": [(0, 0, {
                "product_id": self.product.id,
                "product_uom_qty": quantity,
                "price_unit": price,
                "tax_id": [(6, 0, [])],
            })],
        })
        self.assertEqual(order.currency_id, self.kes, "test orders must be in KES")
        return order

    def create_invoice(self, price=3000.0, partner=None, currency=None):
        partner = partner or self.partner
        account = self.env["account.account"].search(
            [("user_type_id", "=", self.env.ref("account.data_account_type_revenue").id)], limit=1)
        invoice = self.env["account.invoice"].create({
            "partner_id": partner.id,
            "type": "out_invoice",
            "currency_id": (currency or self.kes).id,
            "invoice_line_ids": [(0, 0, {
                "name": "Sack of rice 25 kg",
                "product_id": self.product.id,
                "quantity": 1,
                "price_unit": price,
                "account_id": account.id,
                "invoice_line_tax_ids": [(6, 0, [])],
            })],
        })
        invoice.action_invoice_open()
        return invoice

    # Sandbox control ----------------------------------------------------

    def sandbox_post(self, path, payload):
        response = requests.post(self.sandbox.base_url + path, json=payload, timeout=10)
        self.assertLess(response.status_code, 300, "sandbox %s failed: %s" % (path, response.text))
        return response.json()

    def sandbox_get(self, path):
        response = requests.get(self.sandbox.base_url + path, timeout=10)
        self.assertEqual(response.status_code, 200, "sandbox %s failed: %s" % (path, response.text))
        return response.json()

    def answer(self, tx, action):
        """Answer the prompt of ``tx`` on the simulated phone."""
        return self.sandbox_post("/sandbox/prompts/%s/answer" % tx.checkout_request_id, {"action": action})

    def recorded_callbacks(self, kind="stk"):
        return [callback for callback in self.sandbox_get("/sandbox/callbacks")["callbacks"]
                if callback["kind"] == kind]

    # Payments -----------------------------------------------------------

    def push(self, document, amount=None, phone="0712 345 678"):
        """Run Pay via M-Pesa on an order or invoice and return the mpesa.transaction."""
        field = "sale_order_id" if document._name == "sale.order" else "invoice_id"
        wizard = self.env["mpesa.stk.push.wizard"].with_context(
            **{"default_" + field: document.id}).create({"phone": phone})
        if amount is not None:
            wizard.amount = amount
        wizard.action_send()
        self.assertEqual(wizard.state, "sent", wizard.message)
        return wizard.mpesa_transaction_id

    def deliver(self, body, secret_valid=True, transaction_hint=None, kind="stk", acquirer=None):
        """Store a callback body as the HTTP route does and process it."""
        if not isinstance(body, str):
            body = json.dumps(body)
        callback = self.env["mpesa.callback"].create({
            "kind": kind,
            "body": body,
            "acquirer_id": (acquirer or self.acquirer).id,
            "secret_valid": secret_valid,
            "transaction_hint": transaction_hint,
        })
        callback._process()
        return callback

    def pay_and_deliver(self, tx, action="pay"):
        """Answer the prompt, then deliver the STK callback the sandbox recorded for it."""
        self.answer(tx, action)
        bodies = [callback["body"] for callback in self.recorded_callbacks()
                  if callback["body"]["Body"]["stkCallback"]["CheckoutRequestID"] == tx.checkout_request_id]
        self.assertEqual(len(bodies), 1, "expected one recorded STK callback for the prompt")
        return self.deliver(bodies[0])

    def posted_payments(self, tx):
        return self.env["account.payment"].search([("mpesa_transaction_id", "=", tx.id), ("state", "=", "posted")])
