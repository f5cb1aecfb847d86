import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare

_logger = logging.getLogger(__name__)


class MpesaReconcile(models.AbstractModel):
    """The one place that turns received M-Pesa money into posted payments.

    STK Push callbacks, C2B confirmations and the review queue all end here:
    it creates and posts the account.payment in the acquirer's journal,
    reconciles it with the invoices it pays, and marks the M-Pesa
    transaction done. The caller holds the transaction's row lock.
    """

    _name = "mpesa.reconcile"
    _description = "M-Pesa Reconciliation"

    @api.model
    def _settle_stk(self, tx):
        """Settle a paid STK Push: feed the payment contract, then post."""
        payment_tx = tx.payment_transaction_id.sudo()
        if payment_tx:
            # Going through form_feedback keeps sale_payment's order
            # confirmation working exactly as for any other acquirer.
            payment_tx.form_feedback({
                "CheckoutRequestID": tx.checkout_request_id,
                "ResultCode": tx.result_code,
                "ResultDesc": tx.result_desc,
                "MpesaReceiptNumber": tx.receipt,
            }, "mpesa")
        self._settle(tx, tx.invoice_id, tx.sale_order_id)

    @api.model
    def _settle(self, tx, invoice=None, order=None, partner=None):
        """Post the money of ``tx`` against an invoice, an order, or a customer's account."""
        if tx.payment_ids:
            return tx.payment_ids
        invoices = self.env["account.invoice"]
        if invoice:
            invoices = invoice
        elif order:
            if order.state in ("draft", "sent") and self._order_fully_paid(order, tx):
                order.action_confirm()
            invoices = order.invoice_ids.filtered(lambda i: i.state == "open" and i.type == "out_invoice")
        partner = partner or (invoices[:1].partner_id or (order and order.partner_id) or tx.partner_id)
        if not partner:
            raise UserError(_("M-Pesa transaction %s has no customer to post to.") % tx.display_name)
        payments = self._post_payment(tx, [(invoices, tx.amount)], partner)
        tx.write({
            "state": "done",
            "partner_id": partner.commercial_partner_id.id,
            "invoice_id": (invoice or invoices[:1]).id if invoices else tx.invoice_id.id,
            "sale_order_id": order.id if order else tx.sale_order_id.id,
            "review_reason": False,
        })
        self._note_documents(tx, invoices, order)
        return payments

    @api.model
    def _order_fully_paid(self, order, tx):
        paid = sum(order.mpesa_transaction_ids.filtered(lambda t: t.state == "done").mapped("amount"))
        return float_compare(paid + tx.amount, order.amount_total, 2) >= 0

    @api.model
    def _post_payment(self, tx, allocations, partner):
        """Create and post one payment per (invoices, amount) allocation of ``tx``.

        :param allocations: list of (account.invoice recordset, amount); an
            empty recordset posts the amount as customer credit.
        """
        journal = tx.acquirer_id.journal_id
        if not journal:
            raise UserError(_(
                "The M-Pesa acquirer %s has no payment journal. Set one in its Configuration tab."
            ) % tx.acquirer_id.name)
        method = self.env.ref("account.account_payment_method_manual_in")
        payments = self.env["account.payment"]
        for invoices, amount in allocations:
            communication = " ".join(filter(None, [tx.receipt] + invoices.mapped("number")))
            payment = self.env["account.payment"].create({
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": partner.commercial_partner_id.id,
                "amount": amount,
                "currency_id": tx.currency_id.id,
                "journal_id": journal.id,
                "payment_date": fields.Date.context_today(self),
                "payment_method_id": method.id,
                "communication": communication,
                "invoice_ids": [(6, 0, invoices.ids)],
                "payment_difference_handling": "open",
                "payment_transaction_id": tx.payment_transaction_id.id,
                "mpesa_transaction_id": tx.id,
            })
            payment.post()
            payments |= payment
        _logger.info("M-Pesa receipt %s posted as account.payment %s", tx.receipt, payments.ids)
        return payments

    @api.model
    def _note_documents(self, tx, invoices, order):
        body = _("M-Pesa payment %(receipt)s of %(amount)s received from %(phone)s.") % {
            "receipt": tx.receipt, "amount": tx.amount, "phone": tx.phone_masked or _("an unknown number")}
        for document in invoices:
            document.message_post(body=body)
        if order:
            order.message_post(body=body)
        tx.message_post(body=_("Posted as %s.") % ", ".join(tx.payment_ids.mapped("name")))
