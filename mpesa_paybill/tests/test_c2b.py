import json
import unittest

from odoo.exceptions import UserError
from odoo.tools import mute_logger

from ..models import mpesa_reconcile
from ..models.matching import MAX_MASK_PARTNERS, SCORE_EXACT, SCORE_MASKED_PHONE, MatchIndex, Target
from .common import CUSTOMER_PHONE, MpesaCase

OTHER_PHONE = "254733111222"


class C2BCase(MpesaCase):

    def setUp(self):
        super(C2BCase, self).setUp()
        self.acquirer.action_mpesa_register_c2b_urls()

    def c2b_pay(self, reference, amount, phone=CUSTOMER_PHONE, shortcode="600000"):
        """Pay the PayBill from the simulated SIM menu and deliver the confirmation to Odoo."""
        outcome = self.sandbox_post("/sandbox/c2b/pay", {
            "ShortCode": shortcode, "MSISDN": phone, "Amount": amount, "BillRefNumber": reference,
        })
        self.assertTrue(outcome["accepted"], outcome)
        body = outcome["confirmation"]["body"]
        callback = self.deliver(body, kind="c2b_confirmation")
        self.assertEqual(callback.state, "processed", callback.reason)
        return callback.transaction_id, body

    def set_msisdn_format(self, fmt):
        self.sandbox_post("/sandbox/quirks", {"msisdn_format": fmt})


class TestC2BMatching(C2BCase):

    def test_exact_reference(self):
        """Test that the invoice number typed exactly pays that invoice once."""
        invoice = self.create_invoice(1500)
        tx, body = self.c2b_pay(invoice.number, 1500, phone=OTHER_PHONE)

        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.channel, "c2b")
        self.assertEqual(tx.receipt, body["TransID"])
        self.assertEqual(invoice.state, "paid")
        self.assertEqual(len(self.posted_payments(tx)), 1)
        self.assertIn("Matched automatically", tx.message_ids.mapped("body")[0])

    def test_reference_shapes(self):
        """Test that lower case, spaces, dashes and no separators all find the invoice."""
        for shape in (str.lower, lambda ref: ref.replace("/", " "), lambda ref: ref.replace("/", "-"),
                      lambda ref: ref.replace("/", ""), lambda ref: "  %s. " % ref.lower()):
            invoice = self.create_invoice(700)
            typed = shape(invoice.number)
            tx, _body = self.c2b_pay(typed, 700, phone=OTHER_PHONE)
            self.assertEqual(tx.state, "done", typed)
            self.assertEqual(tx.invoice_id, invoice, typed)
            self.assertEqual(invoice.state, "paid", typed)

    def test_order_reference_confirms_quotation(self):
        """Test that paying a quotation's full amount by its name confirms it, as an STK payment would."""
        order = self.create_order(1800)
        tx, _body = self.c2b_pay(order.name.lower(), 1800, phone=OTHER_PHONE)
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.sale_order_id, order)
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.mpesa_state, "paid")

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def test_unknown_reference(self):
        """Test that an account number matching nothing goes to review, unposted."""
        tx, _body = self.c2b_pay("HELLO", 450, phone=OTHER_PHONE)
        self.assertEqual(tx.state, "review")
        self.assertIn("HELLO", tx.review_reason)
        self.assertFalse(tx.suggestion_ids)
        self.assertFalse(self.posted_payments(tx))

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def test_reference_fits_two_invoices(self):
        """Test that a customer reference shared by two open invoices is not guessed."""
        first = self.create_invoice(900)
        second = self.create_invoice(900)
        (first | second).write({"reference": "PO-7781"})
        tx, _body = self.c2b_pay("po 7781", 900, phone=OTHER_PHONE)
        self.assertEqual(tx.state, "review")
        self.assertIn("several", tx.review_reason)
        self.assertEqual(set(tx.suggestion_ids.mapped("invoice_id").ids), {first.id, second.id})
        self.assertEqual(first.state, "open")
        self.assertEqual(second.state, "open")

    def test_overpayment_leaves_credit(self):
        """Test that paying more than the invoice pays it and leaves the rest as customer credit."""
        invoice = self.create_invoice(1000)
        tx, _body = self.c2b_pay(invoice.number, 1250, phone=OTHER_PHONE)
        self.assertEqual(invoice.state, "paid")
        payment = self.posted_payments(tx)
        self.assertEqual(payment.amount, 1250)
        unreconciled = payment.move_line_ids.filtered(
            lambda line: line.account_id.internal_type == "receivable" and not line.reconciled)
        credit = -sum(line.amount_residual_currency or line.amount_residual for line in unreconciled)
        self.assertAlmostEqual(credit, 250)

    def test_underpayment_leaves_rest_open(self):
        """Test that paying less than the invoice leaves it open with the rest due."""
        invoice = self.create_invoice(1000)
        self.c2b_pay(invoice.number, 600, phone=OTHER_PHONE)
        self.assertEqual(invoice.state, "open")
        self.assertEqual(invoice.residual, 400)

    def test_mistyped_reference_with_known_phone(self):
        """Test that a one-character typo is matched when the payer's plain, hashed number is the customer's."""
        for fmt in ("plain", "hashed"):
            self.set_msisdn_format(fmt)
            invoice = self.create_invoice(640)
            typo = invoice.number.replace("/", "")[:-1] + "9"
            tx, body = self.c2b_pay(typo, 640)
            self.assertEqual(tx.phone_kind, fmt)
            self.assertEqual(tx.state, "done", "%s: %s" % (fmt, tx.review_reason))
            self.assertEqual(tx.invoice_id, invoice, fmt)

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def test_masked_phone_only_suggests(self):
        """Test that a masked number is weaker evidence: the typo goes to review with the right suggestion."""
        self.set_msisdn_format("masked")
        invoice = self.create_invoice(640)
        typo = invoice.number.replace("/", "")[:-1] + "9"
        tx, body = self.c2b_pay(typo, 640)
        self.assertEqual(tx.phone_kind, "masked")
        self.assertIn("*", body["MSISDN"])
        self.assertEqual(tx.state, "review")
        self.assertEqual(tx.suggestion_ids[0].invoice_id, invoice)
        self.assertIn("visible digits", tx.suggestion_ids[0].reason)

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def test_phone_and_amount_never_post_alone(self):
        """Test that a known number and an equal amount without a reference only suggest."""
        invoice = self.create_invoice(333)
        tx, _body = self.c2b_pay("", 333)
        self.assertEqual(tx.state, "review")
        self.assertEqual(tx.suggestion_ids[0].invoice_id, invoice)
        self.assertEqual(invoice.state, "open")

    def test_redelivered_confirmation(self):
        """Test that the same confirmation delivered again changes nothing."""
        invoice = self.create_invoice(500)
        tx, body = self.c2b_pay(invoice.number, 500, phone=OTHER_PHONE)
        again = self.deliver(body, kind="c2b_confirmation")
        self.assertEqual(again.state, "processed")
        self.assertIn("Repeated", again.reason)
        self.assertEqual(self.env["mpesa.transaction"].search_count([("receipt", "=", body["TransID"])]), 1)
        self.assertEqual(len(self.posted_payments(tx)), 1)

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_callback")
    def test_wrong_secret_confirmation(self):
        """Test that a confirmation with a wrong secret is kept and posts nothing."""
        invoice = self.create_invoice(500)
        outcome = self.sandbox_post("/sandbox/c2b/pay", {
            "ShortCode": "600000", "MSISDN": OTHER_PHONE, "Amount": 500, "BillRefNumber": invoice.number})
        callback = self.deliver(outcome["confirmation"]["body"], kind="c2b_confirmation", secret_valid=False)
        self.assertEqual(callback.state, "review")
        self.assertFalse(callback.transaction_id)
        self.assertEqual(invoice.state, "open")


class TestTill(C2BCase):

    def setUp(self):
        super(TestTill, self).setUp()
        self.till = self.env["payment.acquirer"].create({
            "name": "M-Pesa Till",
            "provider": "mpesa",
            "company_id": self.acquirer.company_id.id,
            "mpesa_environment": "offline",
            "mpesa_offline_url": self.sandbox.base_url,
            "mpesa_consumer_key": "sandbox-consumer-key",
            "mpesa_consumer_secret": "sandbox-consumer-secret",
            "mpesa_passkey": self.acquirer.mpesa_passkey,
            "mpesa_shortcode_type": "till",
            "mpesa_shortcode": "5123400",
            "mpesa_till_number": "5123456",
            "mpesa_public_url": "http://127.0.0.1:8169",
        })
        self.till._mpesa_ensure_journal()
        self.till.action_mpesa_register_c2b_urls()

    def test_own_journal(self):
        """Test that each shortcode posts into a KES journal of its own."""
        self.assertTrue(self.till.journal_id)
        self.assertNotEqual(self.till.journal_id, self.acquirer.journal_id)

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def test_till_payment_without_reference(self):
        """Test that a Till payment, which has no account number, waits with the payer's invoice suggested."""
        invoice = self.create_invoice(275)
        outcome = self.sandbox_post("/sandbox/c2b/pay", {
            "ShortCode": "5123456", "MSISDN": CUSTOMER_PHONE, "Amount": 275})
        body = outcome["confirmation"]["body"]
        self.assertEqual(body["TransactionType"], "Buy Goods")
        self.assertEqual(body["BillRefNumber"], "")

        callback = self.deliver(body, kind="c2b_confirmation", acquirer=self.till)

        tx = callback.transaction_id
        self.assertEqual(tx.shortcode, "5123456")
        self.assertEqual(tx.state, "review")
        self.assertEqual(tx.suggestion_ids[0].invoice_id, invoice)
        self.assertEqual(invoice.state, "open")

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_callback")
    def test_other_shortcode_kept(self):
        """Test that a confirmation for another acquirer's shortcode is kept and not posted."""
        outcome = self.sandbox_post("/sandbox/c2b/pay", {
            "ShortCode": "5123456", "MSISDN": CUSTOMER_PHONE, "Amount": 275})
        callback = self.deliver(outcome["confirmation"]["body"], kind="c2b_confirmation")
        self.assertEqual(callback.state, "review")
        self.assertIn("5123456", callback.reason)


class TestC2BWithStk(C2BCase):

    def setUp(self):
        super(TestC2BWithStk, self).setUp()
        self.sandbox_post("/sandbox/quirks", {"stk_c2b_echo": True})

    def echo_for(self, tx):
        for callback in self.recorded_callbacks("c2b_confirmation"):
            if callback["body"]["TransID"] == tx.receipt:
                return callback["body"]
        self.fail("no C2B notification recorded for receipt %s" % tx.receipt)

    def test_stk_then_c2b(self):
        """Test that the C2B notification of a settled STK payment is linked, not posted again."""
        invoice = self.create_invoice(1100)
        tx = self.push(invoice)
        self.pay_and_deliver(tx)
        callback = self.deliver(self.echo_for(tx), kind="c2b_confirmation")

        self.assertEqual(callback.state, "processed")
        self.assertEqual(callback.transaction_id, tx)
        self.assertEqual(self.env["account.payment"].search_count([("mpesa_receipt", "=", tx.receipt)]), 1)
        self.assertEqual(self.env["mpesa.transaction"].search_count([("receipt", "=", tx.receipt)]), 1)

    def test_c2b_before_stk(self):
        """Test that a C2B notification arriving before the STK result settles the push once."""
        invoice = self.create_invoice(1100)
        tx = self.push(invoice)
        self.answer(tx, "pay")
        stk_body = [c["body"] for c in self.recorded_callbacks()
                    if c["body"]["Body"]["stkCallback"]["CheckoutRequestID"] == tx.checkout_request_id][0]
        receipt = [item["Value"] for item in stk_body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
                   if item["Name"] == "MpesaReceiptNumber"][0]
        c2b_body = [c["body"] for c in self.recorded_callbacks("c2b_confirmation")
                    if c["body"]["TransID"] == receipt][0]

        self.deliver(c2b_body, kind="c2b_confirmation")
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.receipt, receipt)
        self.assertEqual(invoice.state, "paid")

        late = self.deliver(stk_body)
        self.assertEqual(late.state, "processed")
        self.assertEqual(self.env["account.payment"].search_count([("mpesa_receipt", "=", receipt)]), 1)


class TestC2BValidation(C2BCase):

    def validate(self, reference, amount):
        outcome = self.sandbox_post("/sandbox/c2b/pay", {
            "ShortCode": "600000", "MSISDN": OTHER_PHONE, "Amount": amount, "BillRefNumber": reference})
        body = dict(outcome["confirmation"]["body"], OrgAccountBalance="")
        return self.env["mpesa.transaction"]._c2b_validate(self.acquirer, json.dumps(body))

    def test_accepts_by_default(self):
        """Test that validation accepts any payment when no rule is set."""
        answer, reason = self.validate("ANYTHING", 10)
        self.assertEqual(answer, {"ResultCode": "0", "ResultDesc": "Accepted"})
        self.assertEqual(reason, "Accepted.")

    def test_rejects_unknown_account(self):
        """Test that the unknown-account rule returns C2B00012, and known references pass."""
        self.acquirer.mpesa_c2b_reject_unknown = True
        invoice = self.create_invoice(100)
        answer, reason = self.validate("NOSUCHREF", 100)
        self.assertEqual(answer["ResultCode"], "C2B00012")
        self.assertIn("NOSUCHREF", reason)
        answer, _reason = self.validate(invoice.number.lower(), 100)
        self.assertEqual(answer["ResultCode"], "0")

    def test_rejects_amount_out_of_bounds(self):
        """Test that amounts outside the configured bounds get C2B00013."""
        self.acquirer.write({"mpesa_c2b_min_amount": 50, "mpesa_c2b_max_amount": 1000})
        for amount, code in ((49, "C2B00013"), (50, "0"), (1000, "0"), (1001, "C2B00013")):
            answer, _reason = self.validate("X", amount)
            self.assertEqual(answer["ResultCode"], code, amount)
            self.assertNotEqual(answer["ResultCode"], "C2B00011", "never 'invalid MSISDN' for our own rule")


class TestReviewQueue(C2BCase):

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def queued(self, amount=1000, reference="UNKNOWN1"):
        tx, _body = self.c2b_pay(reference, amount, phone=OTHER_PHONE)
        self.assertEqual(tx.state, "review")
        return tx

    def review(self, tx, **values):
        wizard = self.env["mpesa.review.wizard"].with_context(active_id=tx.id).create(values)
        return wizard.action_apply()

    def assert_audited(self, tx, words):
        body = tx.message_ids.mapped("body")[0]
        self.assertIn(words, body)
        self.assertIn(self.env.user.name, body)

    def test_match_to_invoice(self):
        """Test that an accountant can match a queued payment to an invoice."""
        invoice = self.create_invoice(1000)
        tx = self.queued()
        self.review(tx, action="match", invoice_id=invoice.id)
        self.assertEqual(tx.state, "done")
        self.assertEqual(invoice.state, "paid")
        self.assert_audited(tx, "Matched to")

    def test_match_suggestion(self):
        """Test that the Match button of a suggestion posts to it."""
        invoice = self.create_invoice(640)
        typo = invoice.number.replace("/", "")[:-1] + "9"
        tx = self.queued(640, typo)
        tx.suggestion_ids[0].action_apply()
        self.assertEqual(invoice.state, "paid")
        self.assert_audited(tx, "suggestion")

    def test_match_to_order(self):
        """Test that matching to an order confirms it once its total is paid."""
        order = self.create_order(1000)
        tx = self.queued()
        self.review(tx, action="match", sale_order_id=order.id)
        self.assertEqual(order.state, "sale")
        self.assertEqual(tx.sale_order_id, order)

    def test_split_across_invoices(self):
        """Test that a split pays each invoice its share and leaves the rest as credit."""
        first = self.create_invoice(400)
        second = self.create_invoice(500)
        tx = self.queued(1000)
        self.review(tx, action="split", line_ids=[(0, 0, {"invoice_id": first.id, "amount": 400}),
                                                  (0, 0, {"invoice_id": second.id, "amount": 500})])
        self.assertEqual(first.state, "paid")
        self.assertEqual(second.state, "paid")
        self.assertEqual(sum(self.posted_payments(tx).mapped("amount")), 1000)
        self.assert_audited(tx, "Split across")

    def test_split_rejects_two_customers(self):
        """Test that a split across two customers' invoices is refused."""
        other = self.env["res.partner"].create({"name": "Kipchoge Traders", "customer": True})
        first = self.create_invoice(400)
        second = self.create_invoice(500, partner=other)
        tx = self.queued(1000)
        with self.assertRaises(UserError):
            self.review(tx, action="split", line_ids=[(0, 0, {"invoice_id": first.id, "amount": 400}),
                                                      (0, 0, {"invoice_id": second.id, "amount": 500})])
        self.assertEqual(tx.state, "review")

    def test_assign_credit(self):
        """Test that a payment can go to a customer's account as credit."""
        tx = self.queued(750)
        self.review(tx, action="credit", partner_id=self.partner.id)
        self.assertEqual(tx.state, "done")
        payment = self.posted_payments(tx)
        self.assertEqual(payment.partner_id, self.partner)
        self.assertFalse(payment.invoice_ids)
        self.assert_audited(tx, "as credit")

    def test_set_aside(self):
        """Test that setting aside needs a reason, posts nothing and keeps the reason."""
        tx = self.queued(60)
        with self.assertRaises(UserError):
            self.review(tx, action="set_aside", reason="  ")
        self.review(tx, action="set_aside", reason="Refunded to the customer")
        self.assertEqual(tx.state, "set_aside")
        self.assertFalse(self.posted_payments(tx))
        self.assert_audited(tx, "Refunded to the customer")

    def test_done_payment_not_reviewable(self):
        """Test that a posted payment cannot be matched again."""
        invoice = self.create_invoice(1000)
        tx = self.queued()
        self.review(tx, action="match", invoice_id=invoice.id)
        with self.assertRaises(UserError):
            self.review(tx, action="credit", partner_id=self.partner.id)
        self.assertEqual(len(self.posted_payments(tx)), 1)

    def test_menu_shows_count(self):
        """Test that the review menu's name carries the number of payments waiting."""
        menu = self.env.ref("mpesa_paybill.menu_mpesa_review")
        self.queued(10, "NOPE1")
        waiting = self.env["mpesa.transaction"].search_count([("state", "=", "review")])
        self.assertEqual(menu.with_context(lang=None).name, "To Review (%s)" % waiting)


class TestC2BCurrency(C2BCase):

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def test_foreign_invoice_never_matched(self):
        """Test that a payment naming an invoice in another currency is not posted to it."""
        usd = self.env.ref("base.USD")
        usd.active = True
        invoice = self.create_invoice(100, currency=usd)
        tx, _body = self.c2b_pay(invoice.number, 100, phone=OTHER_PHONE)
        self.assertEqual(tx.state, "review")
        self.assertNotIn(invoice, tx.suggestion_ids.mapped("invoice_id"))
        self.assertEqual(invoice.state, "open")


class TestSharedIndex(C2BCase):
    """Confirmations processed one after another in a worker thread share one match index."""

    def shared(self):
        """Return the one SharedIndex this thread keeps."""
        indexes = list(mpesa_reconcile._local.indexes.values())
        self.assertEqual(len(indexes), 1)
        return indexes[0]

    def test_index_built_once(self):
        """Test that two payments in a row are matched on the same index."""
        first, second = self.create_invoice(500), self.create_invoice(700)
        with mpesa_reconcile.shared_match_index():
            self.c2b_pay(first.number, 500, phone=OTHER_PHONE)
            shared = self.shared()
            tx, _body = self.c2b_pay(second.number, 700, phone=OTHER_PHONE)
            self.assertIs(self.shared(), shared)
        self.assertEqual(tx.state, "done")
        self.assertEqual(second.state, "paid")

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def test_paid_invoice_leaves_index(self):
        """Test that a second payment for an invoice the first one paid goes to review, not onto it."""
        invoice = self.create_invoice(500)
        with mpesa_reconcile.shared_match_index():
            self.c2b_pay(invoice.number, 500, phone=OTHER_PHONE)
            tx, _body = self.c2b_pay(invoice.number, 500, phone=OTHER_PHONE)
        self.assertEqual(tx.state, "review")
        self.assertFalse(self.posted_payments(tx))
        self.assertEqual(invoice.state, "paid")

    def test_amount_due_follows_payments(self):
        """Test that after a part payment the index contains the new amount due."""
        invoice = self.create_invoice(1000)
        with mpesa_reconcile.shared_match_index():
            self.c2b_pay(invoice.number, 600, phone=OTHER_PHONE)
            tx, _body = self.c2b_pay(invoice.number, 400, phone=OTHER_PHONE)
        self.assertEqual(invoice.state, "paid")
        self.assertIn("amount equals the amount due", tx.message_ids.mapped("body")[0])

    def test_rolled_back_payments(self):
        """Test that payments whose transaction rolled back leave the invoice's full amount due in the index."""
        invoice = self.create_invoice(800)
        with mpesa_reconcile.shared_match_index():
            with self.assertRaises(RuntimeError):
                with self.env.cr.savepoint():
                    self.c2b_pay(invoice.number, 300, phone=OTHER_PHONE)
                    self.c2b_pay(invoice.number, 200, phone=OTHER_PHONE)
                    self.assertEqual(invoice.residual, 300)
                    raise RuntimeError("roll the payments back")
            self.env.clear()
            self.assertEqual(invoice.residual, 800)
            tx, _body = self.c2b_pay(invoice.number, 800, phone=OTHER_PHONE)
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.invoice_id, invoice)
        self.assertEqual(invoice.state, "paid")
        self.assertIn("amount equals the amount due", tx.message_ids.mapped("body")[0])

    def test_new_invoice_reaches_index(self):
        """Test that an invoice created after the shared index was built is matched without a rebuild."""
        first = self.create_invoice(500)
        with mpesa_reconcile.shared_match_index():
            self.c2b_pay(first.number, 500, phone=OTHER_PHONE)
            shared = self.shared()
            newer = self.create_invoice(900)
            tx, _body = self.c2b_pay(newer.number, 900, phone=OTHER_PHONE)
            self.assertIs(self.shared(), shared)
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.invoice_id, newer)

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def test_invoice_paid_elsewhere(self):
        """Test that an invoice paid outside M-Pesa after the index was built no longer takes payments."""
        first, second = self.create_invoice(500), self.create_invoice(600)
        with mpesa_reconcile.shared_match_index():
            self.c2b_pay(first.number, 500, phone=OTHER_PHONE)
            cash = self.env["account.journal"].search([("type", "=", "cash")], limit=1)
            second.pay_and_reconcile(cash, 600)
            tx, _body = self.c2b_pay(second.number, 600, phone=OTHER_PHONE)
        self.assertEqual(tx.state, "review")
        self.assertFalse(self.posted_payments(tx))

    def age(self, record):
        """Move ``record``'s write_date an hour back, as for a document last written long before the index."""
        self.env.cr.execute("UPDATE %s SET write_date = (now() AT TIME ZONE 'UTC') - interval '1 hour' "
                            "WHERE id = %%s" % record._table, (record.id,))

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def test_deleted_quotation(self):
        """Test that a payment for a quotation deleted after the index was built goes to review."""
        first, order = self.create_invoice(500), self.create_order(2500)
        name, order_id = order.name, order.id
        self.age(order)
        with mpesa_reconcile.shared_match_index():
            self.c2b_pay(first.number, 500, phone=OTHER_PHONE)
            order.unlink()
            tx, _body = self.c2b_pay(name, 2500, phone=OTHER_PHONE)
        self.assertEqual(tx.state, "review")
        self.assertNotIn(order_id, tx.suggestion_ids.mapped("sale_order_id").ids)

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def test_order_paid_by_stk(self):
        """Test that an order paid in full by STK Push after the index was built takes no second payment."""
        first, order = self.create_invoice(500), self.create_order(3000)
        order.action_confirm()
        push = self.push(order)
        self.age(order)
        with mpesa_reconcile.shared_match_index():
            self.c2b_pay(first.number, 500, phone=OTHER_PHONE)
            self.pay_and_deliver(push)
            self.assertEqual(push.state, "done")
            tx, _body = self.c2b_pay(order.name, 3000, phone=OTHER_PHONE)
        self.assertEqual(tx.state, "review")
        self.assertFalse(self.posted_payments(tx))

    @mute_logger("odoo.addons.mpesa_paybill.models.mpesa_transaction_c2b")
    def test_rolled_back_new_invoice(self):
        """Test that an invoice indexed inside a rolled-back savepoint does not take a later payment."""
        first = self.create_invoice(500)
        with mpesa_reconcile.shared_match_index():
            self.c2b_pay(first.number, 500, phone=OTHER_PHONE)
            with self.assertRaises(RuntimeError):
                with self.env.cr.savepoint():
                    ghost = self.create_invoice(1700)
                    ghost.reference = "GHOST-42"
                    other = self.create_invoice(222)
                    self.c2b_pay(other.number, 222, phone=OTHER_PHONE)
                    raise RuntimeError("roll the invoice back")
            self.env.clear()
            tx, _body = self.c2b_pay("GHOST42", 1700, phone=OTHER_PHONE)
        self.assertEqual(tx.state, "review")
        self.assertFalse(self.posted_payments(tx))

    def test_new_customer_number(self):
        """Test that a customer created after the index was built is known by their number."""
        self.set_msisdn_format("plain")
        first = self.create_invoice(500)
        with mpesa_reconcile.shared_match_index():
            self.c2b_pay(first.number, 500, phone=OTHER_PHONE)
            customer = self.env["res.partner"].create({"name": "Njeri Wambui", "customer": True,
                                                       "mobile": "0722 555 101"})
            invoice = self.create_invoice(640, partner=customer)
            typo = invoice.number.replace("/", "")[:-1] + "9"
            tx, _body = self.c2b_pay(typo, 640, phone="254722555101")
        self.assertEqual(tx.state, "done", tx.review_reason)
        self.assertEqual(tx.invoice_id, invoice)


class TestMaskedNumbers(unittest.TestCase):
    """MatchIndex's lookup of customers by a masked payer's number, without a database."""

    def setUp(self):
        self.index = MatchIndex()
        self.index.add_partner_phone(1, "254712345678")
        self.index.add_partner_phone(2, "254712999678")
        self.index.add_partner_phone(3, "254110345678")

    def fits(self, masked):
        partners, score, _reason = self.index.partners_for_phone(masked, "masked")
        return sorted(partners), score

    def test_mask_forms(self):
        """Test that each way of hiding digits finds the customers whose visible digits agree."""
        cases = [
            ("2547 ***** 678", [1, 2]),
            ("25471****678", [1, 2]),
            ("2547123*****", [1]),
            ("2547*23**678", [1]),
            ("254110345678", [3]),
            ("2547 ***** 111", []),
        ]
        for masked, expected in cases:
            self.assertEqual(self.fits(masked), (expected, SCORE_MASKED_PHONE), masked)

    def test_unusable_masks(self):
        """Test that a mask showing under six digits, or other characters, fits no customer."""
        for masked in ("254*******78", "2547-***-678", "2547######678"):
            self.assertEqual(self.fits(masked), ([], 0), masked)

    def test_new_phone_after_lookup(self):
        """Test that a number indexed after a lookup is found by the next one."""
        self.assertEqual(self.fits("2547 ***** 678"), ([1, 2], SCORE_MASKED_PHONE))
        self.index.add_partner_phone(4, "254711000678")
        self.assertEqual(self.fits("2547 ***** 678"), ([1, 2, 4], SCORE_MASKED_PHONE))

    def test_broad_mask_only_strengthens(self):
        """Test that a mask fitting many customers adds to a reference match but brings no documents in."""
        for partner_id in range(10, 10 + MAX_MASK_PARTNERS + 1):
            self.index.add_partner_phone(partner_id, "2547%05d" % partner_id + "555")
            self.index.add_target(Target("account.invoice", partner_id, "INV/2026/%05d" % partner_id, partner_id,
                                         100.0), ["INV/2026/%05d" % partner_id])
        suggestions = self.index.match("INV/2026/00010", "2547 ***** 555", "masked", 50)
        self.assertEqual([suggestion.target.id for suggestion in suggestions], [10])
        self.assertEqual(suggestions[0].score, SCORE_EXACT + SCORE_MASKED_PHONE)


class TestReferenceTypos(unittest.TestCase):
    """MatchIndex's one-character-off suggestions, without a database."""

    def test_one_edit_only(self):
        """Test that a reference one edit away is suggested and one two edits away is not."""
        index = MatchIndex()
        index.add_target(Target("account.invoice", 30, "INV/2026/0030", 1, 900.0), ["INV/2026/0030"])
        cases = [
            ("INV/2026/0031", True),
            ("INV/2026/030", True),
            ("INV/2026/00030", True),
            ("INV/2026/0300", True),
            ("INV/2026/0005", False),
            ("INV/2026/3000", False),
        ]
        for typed, suggested in cases:
            ids = [suggestion.target.id for suggestion in index.match(typed)]
            self.assertEqual(ids, [30] if suggested else [], typed)
