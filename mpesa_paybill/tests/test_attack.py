"""Adversarial model tests: review actions, wizard input and record visibility pushed past their checks.

Each test is an attack the addon must resist: a forged or out-of-place request that
must be refused, or data that must stay out of the wrong user's sight.
"""
import json

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import mute_logger

from .common import MpesaCase

UNKNOWN_PHONE = "254733999111"
PROCESSING_LOGGERS = ("odoo.addons.mpesa_paybill.models.mpesa_callback",
                      "odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")


def confirmation_body(trans_id, amount, reference, msisdn=UNKNOWN_PHONE):
    """Return a C2B confirmation as Daraja posts it, for PayBill 600000."""
    return json.dumps({
        "TransactionType": "Pay Bill", "TransID": trans_id, "TransTime": "20260301101500",
        "TransAmount": "%.2f" % amount, "BusinessShortCode": "600000", "BillRefNumber": reference,
        "InvoiceNumber": "", "OrgAccountBalance": "", "ThirdPartyTransID": "", "MSISDN": msisdn,
        "FirstName": "AMINA", "MiddleName": "", "LastName": "",
    })


class TestAttack(MpesaCase):

    def queued(self, trans_id, amount=1000.0):
        """Deliver a C2B payment whose account number matches nothing; return its transaction in review."""
        with mute_logger(*PROCESSING_LOGGERS):
            callback = self.deliver(confirmation_body(trans_id, amount, "NO SUCH ACCOUNT"), kind="c2b_confirmation")
        tx = callback.transaction_id
        self.assertEqual(tx.state, "review", callback.reason)
        return tx

    def vendor_bill(self, amount):
        account = self.env["account.account"].search(
            [("user_type_id", "=", self.env.ref("account.data_account_type_expenses").id)], limit=1)
        bill = self.env["account.invoice"].create({
            "partner_id": self.partner.id,
            "type": "in_invoice",
            "currency_id": self.kes.id,
            "invoice_line_ids": [(0, 0, {
                "name": "Transport of 40 bags",
                "quantity": 1,
                "price_unit": amount,
                "account_id": account.id,
                "invoice_line_tax_ids": [(6, 0, [])],
            })],
        })
        bill.action_invoice_open()
        return bill

    # Review actions --------------------------------------------------------

    def test_match_vendor_bill_rejected(self):
        """Test that a customer's M-Pesa payment cannot be matched to a vendor bill.

        The review wizard's domain offers customer invoices only, but _review_match accepts
        any open account.invoice over RPC; posting to a vendor bill marks the bill paid with
        money that came in.
        """
        bill = self.vendor_bill(1000)
        tx = self.queued("UB10000001")

        with self.assertRaises((UserError, ValidationError)):
            tx._review_match(invoice=bill)

    def test_match_foreign_currency_rejected(self):
        """Test that a KES payment cannot be matched to an invoice in another currency.

        Pay via M-Pesa rejects non-KES documents, but the review queue does not.
        """
        usd = self.env.ref("base.USD")
        usd.active = True
        invoice = self.create_invoice(1000, currency=usd)
        tx = self.queued("UB10000002")

        with self.assertRaises((UserError, ValidationError)):
            tx._review_match(invoice=invoice)

    def test_match_paid_invoice_rejected(self):
        """Test that a queued payment cannot be matched to an invoice that is already paid."""
        invoice = self.create_invoice(1000)
        with mute_logger(*PROCESSING_LOGGERS):
            self.deliver(confirmation_body("UB10000003", 1000, invoice.number), kind="c2b_confirmation")
        self.assertEqual(invoice.state, "paid")
        tx = self.queued("UB10000004")

        with self.assertRaises((UserError, ValidationError)):
            tx._review_match(invoice=invoice)

    def test_split_above_amount_rejected(self):
        """Test that a split allocating more than the payment is rejected."""
        first = self.create_invoice(800)
        second = self.create_invoice(800)
        tx = self.queued("UB10000005", amount=1000)

        with self.assertRaises(UserError):
            tx._review_split([(first, 600), (second, 600)])

    # Wizard input ----------------------------------------------------------

    def test_wizard_cancelled_invoice_rejected(self):
        """Test that Pay via M-Pesa rejects a cancelled invoice."""
        invoice = self.create_invoice(1000)
        invoice.journal_id.update_posted = True
        invoice.action_invoice_cancel()
        wizard = self.env["mpesa.stk.push.wizard"].with_context(default_invoice_id=invoice.id).create(
            {"phone": "0712 345 678", "amount": 1000})

        with self.assertRaises(UserError):
            wizard.action_send()

    def test_wizard_foreign_phone_rejected(self):
        """Test that Pay via M-Pesa rejects a number that is not Kenyan."""
        invoice = self.create_invoice(1000)
        wizard = self.env["mpesa.stk.push.wizard"].with_context(default_invoice_id=invoice.id).create(
            {"phone": "+255 712 345 678"})

        with self.assertRaises(UserError):
            wizard.action_send()

    # STK results -----------------------------------------------------------

    def test_paid_result_without_receipt_kept(self):
        """Test that a paid STK result without MpesaReceiptNumber is kept for review and marks nothing paid.

        Daraja's STK Push page marks every CallbackMetadata item optional. Without a receipt
        the twin lookup searches receipt = False and takes the newest transaction without a
        receipt (here the push itself) for its C2B twin, so the push ends "done" with no
        payment posted.
        """
        invoice = self.create_invoice(1500)
        tx = self.push(invoice)
        body = {"Body": {"stkCallback": {
            "MerchantRequestID": "29115-34620561-2", "CheckoutRequestID": tx.checkout_request_id,
            "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {"Item": [
                {"Name": "Amount", "Value": 1500}, {"Name": "TransactionDate", "Value": 20260301101500},
                {"Name": "PhoneNumber", "Value": 254712345678},
            ]}}}}

        with mute_logger(*PROCESSING_LOGGERS):
            callback = self.deliver(body)

        self.assertNotEqual(tx.state, "done", "no payment was posted: %s" % self.posted_payments(tx))
        self.assertEqual(callback.state, "review")
        self.assertNotEqual(tx.payment_transaction_id.state, "done")

    # Callback URL hint -----------------------------------------------------

    def test_hint_of_other_acquirer_ignored(self):
        """Test that a result posted to one acquirer's URL cannot settle another acquirer's request.

        The STK result URL ends with our transaction id, which settles a request that has no
        CheckoutRequestID yet. An id that belongs to another acquirer must not be used.
        """
        other = self.acquirer.copy({"name": "M-Pesa second PayBill", "mpesa_shortcode": "174379"})
        victim = self.env["mpesa.transaction"].sudo().create({
            "channel": "stk", "acquirer_id": other.id, "shortcode": "174379", "requested_amount": 500,
            "amount": 500, "phone": "254712345678", "phone_masked": "2547*****678", "phone_kind": "plain",
            "account_reference": "INV20260099", "partner_id": self.partner.id, "state": "draft",
        })
        body = {"Body": {"stkCallback": {
            "MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_01032026101500123712345678",
            "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {"Item": [
                {"Name": "Amount", "Value": 500}, {"Name": "MpesaReceiptNumber", "Value": "UB10000006"},
                {"Name": "TransactionDate", "Value": 20260301101500}, {"Name": "PhoneNumber", "Value": 254712345678},
            ]}}}}

        with mute_logger(*PROCESSING_LOGGERS):
            callback = self.deliver(body, transaction_hint=victim.id)

        self.assertEqual(callback.state, "review")
        self.assertEqual(victim.state, "draft")
        self.assertFalse(victim.checkout_request_id)

    # Visibility ------------------------------------------------------------

    def test_callbacks_stay_in_their_company(self):
        """Test that a Billing user of another company reads no raw callback of this company.

        Raw callbacks hold full phone numbers and names, and mpesa.callback has no
        multi-company record rule (mpesa.transaction has one).
        """
        other_company = self.env["res.company"].create({"name": "Mombasa Branch Ltd"})
        user = self.env["res.users"].with_context(no_reset_password=True).create({
            "name": "Billing Clerk Mombasa", "login": "clerk-mombasa", "email": "clerk@example.co.ke",
            "company_id": other_company.id, "company_ids": [(6, 0, [other_company.id])],
            "groups_id": [(6, 0, [self.env.ref("account.group_account_invoice").id])],
        })
        callback = self.env["mpesa.callback"].create({
            "kind": "stk", "acquirer_id": self.acquirer.id,
            "body": '{"Body": {"stkCallback": {"PhoneNumber": 254712345678}}}',
        })

        try:
            visible = self.env["mpesa.callback"].sudo(user).search([("id", "=", callback.id)])
        except AccessError:
            visible = self.env["mpesa.callback"]
        self.assertFalse(visible)

    def test_salesman_cannot_apply_suggestion(self):
        """Test that a salesperson cannot post a queued payment through one of its suggestions."""
        invoice = self.create_invoice(1000)
        with mute_logger(*PROCESSING_LOGGERS):
            callback = self.deliver(confirmation_body("UB10000007", 1000, "NO SUCH ACCOUNT", msisdn="254712345678"),
                                    kind="c2b_confirmation")
        tx = callback.transaction_id
        self.assertEqual(tx.state, "review", callback.reason)
        suggestion = tx.suggestion_ids.filtered(lambda line: line.invoice_id == invoice)
        self.assertEqual(len(suggestion), 1, "the customer's number should suggest the invoice")
        salesman = self.env["res.users"].with_context(no_reset_password=True).create({
            "name": "Salesperson Juma", "login": "juma", "email": "juma@example.co.ke",
            "groups_id": [(6, 0, [self.env.ref("sales_team.group_sale_salesman").id])],
        })

        with self.assertRaises(AccessError):
            suggestion.sudo(salesman).action_apply()
        self.assertEqual(invoice.state, "open")

