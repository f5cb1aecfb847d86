import copy
import json

from odoo.exceptions import UserError
from odoo.tools import mute_logger

from .common import MpesaCase


class TestStkPush(MpesaCase):

    def test_invoice_paid_in_full(self):
        """Test that a paid push posts one payment in the M-Pesa journal and reconciles the invoice."""
        invoice = self.create_invoice(3000)
        tx = self.push(invoice)
        self.assertEqual(tx.state, "pending")
        self.assertEqual(invoice.mpesa_state, "pending")

        callback = self.pay_and_deliver(tx)

        self.assertEqual(callback.state, "processed")
        self.assertEqual(tx.state, "done")
        self.assertRegex(tx.receipt, r"^[A-Z0-9]{10}$")
        payments = self.posted_payments(tx)
        self.assertEqual(len(payments), 1)
        self.assertEqual(payments.journal_id, self.journal)
        self.assertEqual(payments.amount, 3000)
        self.assertEqual(payments.mpesa_receipt, tx.receipt)
        self.assertEqual(payments.mpesa_phone, "2547*****678")
        self.assertEqual(invoice.state, "paid")
        self.assertEqual(tx.payment_transaction_id.state, "done")
        self.assertEqual(invoice.mpesa_state, "paid")

    def test_invoice_paid_in_two_parts(self):
        """Test that two partial pushes leave the rest open, then pay the invoice."""
        invoice = self.create_invoice(3000)
        first = self.push(invoice, amount=1000)
        self.pay_and_deliver(first)
        self.assertEqual(invoice.state, "open")
        self.assertEqual(invoice.residual, 2000)
        self.assertEqual(invoice.mpesa_state, "partial")

        second = self.push(invoice)
        self.assertEqual(second.requested_amount, 2000, "the wizard proposes what is still due")
        self.pay_and_deliver(second)

        self.assertEqual(invoice.state, "paid")
        self.assertEqual(len(self.posted_payments(first)), 1)
        self.assertEqual(len(self.posted_payments(second)), 1)
        self.assertNotEqual(first.receipt, second.receipt)

    def test_quotation_paid_confirms_order(self):
        """Test that a paid push on a quotation confirms it and posts the money as customer credit."""
        order = self.create_order(2500)
        tx = self.push(order)
        self.pay_and_deliver(tx)

        self.assertEqual(order.state, "sale")
        self.assertEqual(tx.state, "done")
        self.assertEqual(order.mpesa_state, "paid")
        self.assertEqual(order.mpesa_amount_paid, 2500)
        payment = self.posted_payments(tx)
        self.assertEqual(payment.partner_id, self.partner)
        self.assertEqual(payment.amount, 2500)
        self.assertFalse(payment.invoice_ids)

    def test_cancelled_by_customer(self):
        """Test that a cancelled prompt posts nothing and explains why in plain words."""
        order = self.create_order()
        tx = self.push(order)
        self.pay_and_deliver(tx, "cancel")

        self.assertEqual(tx.state, "failed")
        self.assertEqual(tx.result_code, "1032")
        self.assertIn("cancel", tx.result_message.lower())
        self.assertEqual(tx.payment_transaction_id.state, "cancel")
        self.assertEqual(order.state, "draft")
        self.assertEqual(order.mpesa_state, "failed")
        self.assertFalse(self.posted_payments(tx))

    def test_failures_explained(self):
        """Test that an unreachable phone, a wrong PIN and insufficient funds each fail with their own reason."""
        cases = [("no_answer", "1037"), ("wrong_pin", "2001"), ("insufficient_funds", "1")]
        for action, code in cases:
            invoice = self.create_invoice(500)
            tx = self.push(invoice)
            self.pay_and_deliver(tx, action)
            self.assertEqual(tx.state, "failed", action)
            self.assertEqual(tx.result_code, code, action)
            self.assertEqual(tx.payment_transaction_id.state, "error", action)
            self.assertTrue(tx.result_message, action)
            self.assertEqual(invoice.state, "open", action)
            self.assertFalse(self.posted_payments(tx), action)

    def test_callback_before_push_answer(self):
        """Test that a result arriving before the push's response still settles the transaction."""
        invoice = self.create_invoice(1200)
        tx = self.push(invoice)
        checkout_request_id = tx.checkout_request_id
        self.answer(tx, "pay")
        body = self.recorded_callbacks()[-1]["body"]

        # Put the transaction back where it was before the response was stored.
        tx.write({"checkout_request_id": False, "state": "draft"})
        self.deliver(body, transaction_hint=tx.id)
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.checkout_request_id, checkout_request_id)

        # The late response changes nothing.
        response = type("Response", (), {"merchant_request_id": "late", "checkout_request_id": checkout_request_id})
        tx._record_stk_response(response)
        self.assertEqual(tx.state, "done")
        self.assertEqual(invoice.state, "paid")
        self.assertEqual(len(self.posted_payments(tx)), 1)

    def test_delivered_twice(self):
        """Test that a second delivery of the same result is acknowledged and posts nothing."""
        invoice = self.create_invoice(800)
        tx = self.push(invoice)
        self.pay_and_deliver(tx)
        body = self.recorded_callbacks()[-1]["body"]

        again = self.deliver(body)

        self.assertEqual(again.state, "processed")
        self.assertIn("Repeated", again.reason)
        self.assertEqual(len(self.posted_payments(tx)), 1)

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_callback")
    def test_wrong_secret_kept(self):
        """Test that a callback with a wrong secret is kept for review and not posted."""
        invoice = self.create_invoice(800)
        tx = self.push(invoice)
        self.answer(tx, "pay")
        body = self.recorded_callbacks()[-1]["body"]

        callback = self.deliver(body, secret_valid=False)

        self.assertEqual(callback.state, "review")
        self.assertIn("secret", callback.reason)
        self.assertEqual(tx.state, "pending")
        self.assertFalse(self.posted_payments(tx))

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_callback")
    def test_wrong_amount_kept(self):
        """Test that a result whose amount differs from the request goes to review unposted."""
        invoice = self.create_invoice(800)
        tx = self.push(invoice)
        self.answer(tx, "pay")
        body = copy.deepcopy(self.recorded_callbacks()[-1]["body"])
        for item in body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]:
            if item["Name"] == "Amount":
                item["Value"] = 8

        callback = self.deliver(body)

        self.assertEqual(callback.state, "review")
        self.assertEqual(tx.state, "review")
        self.assertIn("800", tx.review_reason)
        self.assertFalse(self.posted_payments(tx))
        self.assertEqual(invoice.state, "open")

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_callback")
    def test_unknown_checkout_request_id_kept(self):
        """Test that a result for a CheckoutRequestID we never sent is kept for review."""
        invoice = self.create_invoice(800)
        tx = self.push(invoice)
        self.answer(tx, "pay")
        body = copy.deepcopy(self.recorded_callbacks()[-1]["body"])
        body["Body"]["stkCallback"]["CheckoutRequestID"] = "ws_CO_01012026000000000799999999"

        callback = self.deliver(body)

        self.assertEqual(callback.state, "review")
        self.assertIn("ws_CO_01012026000000000799999999", callback.reason)
        self.assertFalse(self.posted_payments(tx))

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_callback")
    def test_malformed_body_kept(self):
        """Test that a body that is not an STK result is kept with the parse error."""
        for body in ("not json at all", json.dumps({"Body": {}}), ""):
            callback = self.deliver(body)
            self.assertEqual(callback.state, "review", body)
            self.assertIn("Malformed", callback.reason, body)
            self.assertEqual(callback.body, body)

    def test_cron_settles_failed_prompt(self):
        """Test that the status cron settles a cancelled prompt whose callback was lost."""
        invoice = self.create_invoice(700)
        tx = self.push(invoice)
        self.env["mpesa.transaction"]._cron_check_pending()
        self.assertEqual(tx.state, "pending", "an unanswered prompt stays pending")

        self.answer(tx, "cancel")
        self.env["mpesa.transaction"]._cron_check_pending()

        self.assertEqual(tx.state, "failed")
        self.assertEqual(tx.result_code, "1032")

    def test_query_never_downgrades(self):
        """Test that checking the status of a paid transaction leaves it paid."""
        invoice = self.create_invoice(700)
        tx = self.push(invoice)
        self.pay_and_deliver(tx)
        tx.action_check_status()
        self.assertEqual(tx.state, "done")
        self.assertEqual(invoice.state, "paid")

    def test_lost_paid_callback_to_review(self):
        """Test that a paid prompt whose callback was lost goes to review, since no receipt is known."""
        invoice = self.create_invoice(700)
        tx = self.push(invoice)
        self.answer(tx, "pay")
        self.env["mpesa.transaction"]._cron_check_pending()
        self.assertEqual(tx.state, "review")
        self.assertIn("receipt", tx.review_reason)
        self.assertFalse(self.posted_payments(tx))


class TestStkWizard(MpesaCase):

    def wizard(self, document, **values):
        field = "sale_order_id" if document._name == "sale.order" else "invoice_id"
        return self.env["mpesa.stk.push.wizard"].with_context(
            **{"default_" + field: document.id}).create(values)

    def test_prefilled_from_document(self):
        """Test that the wizard proposes the customer's mobile and the amount due, rounded up."""
        invoice = self.create_invoice(1160.5)
        wizard = self.wizard(invoice)
        self.assertEqual(wizard.phone, "0712 345 678")
        self.assertEqual(wizard.amount_due, 1160.5)
        self.assertEqual(wizard.amount, 1161)

    def test_rejections_name_value(self):
        """Test that each invalid request is rejected with a message naming the value."""
        invoice = self.create_invoice(1000)
        cases = [
            ({"amount": 100.5}, "100.50"),
            ({"amount": 0}, "0"),
            ({"amount": 1001}, "1001"),
            ({"phone": "0812 345"}, "0812 345"),
            ({"phone": ""}, "phone"),
        ]
        for values, expected in cases:
            wizard = self.wizard(invoice, **values)
            with self.assertRaises(UserError) as raised:
                wizard.action_send()
            self.assertIn(expected, raised.exception.name, values)
        self.assertFalse(self.env["mpesa.transaction"].search([("invoice_id", "=", invoice.id)]))

    def test_overpayment_when_allowed(self):
        """Test that an amount above the amount due is sent once the acquirer allows overpayment."""
        invoice = self.create_invoice(1000)
        self.acquirer.mpesa_allow_overpayment = True
        tx = self.push(invoice, amount=1500)
        self.pay_and_deliver(tx)
        self.assertEqual(invoice.state, "paid")
        self.assertEqual(self.posted_payments(tx).amount, 1500)

    def test_above_daraja_maximum(self):
        """Test that an amount above Daraja's per-payment maximum is rejected."""
        invoice = self.create_invoice(300000)
        wizard = self.wizard(invoice, amount=260000)
        with self.assertRaises(UserError) as raised:
            wizard.action_send()
        self.assertIn("250000", raised.exception.name)

    def test_non_kes_rejected(self):
        """Test that a document in another currency is rejected, naming the currency."""
        usd = self.env.ref("base.USD")
        usd.active = True
        invoice = self.create_invoice(100, currency=usd)
        wizard = self.wizard(invoice, amount=100)
        with self.assertRaises(UserError) as raised:
            wizard.action_send()
        self.assertIn("USD", raised.exception.name)


class TestSharedToken(MpesaCase):

    def test_workers_share_one_token(self):
        """Test that two clients of one acquirer reuse one token stored in the database."""
        self.sandbox_post("/sandbox/quirks", {"token_invalidation": True})
        first = self.acquirer._mpesa_get_client()
        second = self.acquirer._mpesa_get_client()

        token = first.get_token()

        self.assertEqual(second.get_token(), token)
        # The cache commits in cursors of its own, which this test's snapshot cannot see.
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM mpesa_access_token WHERE token = %s", (token,))
            self.assertEqual(cr.fetchone()[0], 1)
        # The first client's token is still valid, so nothing invalidated it.
        invoice = self.create_invoice(100)
        tx = self.push(invoice)
        self.assertEqual(tx.state, "pending")
