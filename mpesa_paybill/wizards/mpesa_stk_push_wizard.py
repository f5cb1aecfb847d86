import logging
import math
import re
import threading

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from .. import daraja

_logger = logging.getLogger(__name__)


class MpesaStkPushWizard(models.TransientModel):
    """Pay via M-Pesa: check the number and amount, then send an STK Push."""

    _name = "mpesa.stk.push.wizard"
    _description = "Pay via M-Pesa"

    sale_order_id = fields.Many2one("sale.order", readonly=True)
    invoice_id = fields.Many2one("account.invoice", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    acquirer_id = fields.Many2one(
        "payment.acquirer",
        string="M-Pesa account",
        domain=[("provider", "=", "mpesa")],
        required=True,
    )
    currency_id = fields.Many2one("res.currency", readonly=True)
    amount_due = fields.Monetary(readonly=True)
    phone = fields.Char(required=True, help="The customer's Safaricom number, e.g. 0712 345 678.")
    amount = fields.Float(
        required=True,
        digits=(16, 2),
        help="Whole shillings only. An amount due with cents is rounded up to "
             "the next shilling; the extra cents stay on the customer's account as credit.",
    )
    mpesa_transaction_id = fields.Many2one("mpesa.transaction", readonly=True)
    state = fields.Selection([("draft", "Draft"), ("sent", "Sent"), ("failed", "Failed")], default="draft")
    message = fields.Text(readonly=True)

    @api.model
    def default_get(self, field_names):
        values = super(MpesaStkPushWizard, self).default_get(field_names)
        order = self.env["sale.order"].browse(values.get("sale_order_id"))
        invoice = self.env["account.invoice"].browse(values.get("invoice_id"))
        document = order or invoice
        if not document:
            return values
        partner = document.partner_id
        due = self._amount_due(document)
        acquirer = self.env["payment.acquirer"].search(
            [("provider", "=", "mpesa"), ("company_id", "=", document.company_id.id)], limit=1)
        values.update({
            "partner_id": partner.id,
            "currency_id": document.currency_id.id,
            "amount_due": due,
            "amount": math.ceil(due - 0.005),
            "phone": partner.mobile or partner.phone or False,
            "acquirer_id": acquirer.id,
        })
        return values

    def _document(self):
        return self.sale_order_id or self.invoice_id

    @api.model
    def _amount_due(self, document):
        """Return what is still to pay on an invoice or order, computed on the server."""
        if document._name == "account.invoice":
            return document.residual
        invoices = document.invoice_ids.filtered(lambda i: i.type == "out_invoice" and i.state in ("open", "paid"))
        if invoices:
            # Invoiced orders are paid through their invoices, by any means.
            uninvoiced = document.amount_total - sum(invoices.mapped("amount_total"))
            return max(sum(invoices.mapped("residual")) + max(uninvoiced, 0.0), 0.0)
        return max(document.amount_total - document.mpesa_amount_paid, 0.0)

    def _check_request(self):
        """Return the normalised MSISDN, or raise UserError naming the value and the fix."""
        document = self._document()
        if not document:
            raise UserError(_("Open Pay via M-Pesa from a quotation, an order or an invoice."))
        user = self.env.user
        if not (user.has_group("sales_team.group_sale_salesman") or user.has_group("account.group_account_invoice")):
            raise AccessError(_("Only salespeople and accountants can request M-Pesa payments."))
        document.check_access_rights("write")
        document.check_access_rule("write")
        pending = document.sudo().mpesa_transaction_ids.filtered(lambda t: t.state in ("draft", "pending"))
        if pending:
            raise UserError(_(
                "A request of %(amount)d KES to %(phone)s for %(doc)s is still waiting for the customer. "
                "Press Check status on it (M-Pesa tab), or wait for it to end, before sending another."
            ) % {"amount": pending[0].requested_amount, "phone": pending[0].phone_masked,
                 "doc": document.display_name})
        if self.sale_order_id and self.sale_order_id.state not in ("draft", "sent", "sale"):
            raise UserError(_("Order %s is %s; only quotations and confirmed orders can be paid via M-Pesa.") % (
                self.sale_order_id.name, self.sale_order_id.state))
        if self.invoice_id and (self.invoice_id.type != "out_invoice" or self.invoice_id.state != "open"):
            raise UserError(_("Invoice %s is not an open customer invoice, so it cannot be paid via M-Pesa.")
                            % self.invoice_id.display_name)
        if document.currency_id != self.env.ref("base.KES"):
            raise UserError(_(
                "%(doc)s is in %(currency)s, but M-Pesa takes Kenya shillings (KES) only. "
                "Use a KES pricelist or invoice currency."
            ) % {"doc": document.display_name, "currency": document.currency_id.name})
        if self.amount != int(self.amount):
            raise UserError(_(
                "Amount %(amount).2f has cents, but M-Pesa takes whole shillings. "
                "Enter %(up)d (the extra cents stay as customer credit) or %(down)d."
            ) % {"amount": self.amount, "up": math.ceil(self.amount), "down": math.floor(self.amount)})
        maximum = self.acquirer_id.mpesa_max_amount or 0
        if self.amount < 1 or (maximum and self.amount > maximum):
            raise UserError(_("Amount %(amount)d is outside what M-Pesa accepts in one payment: "
                              "1 to %(max)d KES. Split it into several payments.")
                            % {"amount": self.amount, "max": maximum})
        # The amount due shown in the form comes from the browser; recompute it.
        due = self._amount_due(document)
        limit = math.ceil(due - 0.005)
        if self.amount > limit and not self.acquirer_id.mpesa_allow_overpayment:
            raise UserError(_(
                "Amount %(amount)d is more than the %(due).2f due on %(doc)s. Lower it, or allow "
                "overpayment on the M-Pesa acquirer."
            ) % {"amount": self.amount, "due": due, "doc": document.display_name})
        try:
            return daraja.normalize_msisdn(self.phone)
        except daraja.errors.InvalidPhoneNumber as error:
            raise UserError(error.message)

    @api.model
    def _account_reference(self, document):
        # AccountReference is at most 12 characters and shows on the prompt;
        # letters and digits only, so "INV/2026/0001" becomes "INV20260001".
        return re.sub(r"[^A-Za-z0-9]", "", document.name or document.number or "")[-12:] or "Payment"

    @api.multi
    def action_send(self):
        """Create the transactions, make them durable, then send the STK Push."""
        self.ensure_one()
        msisdn = self._check_request()
        document = self._document()
        kes = self.env.ref("base.KES")
        payment_tx = self.env["payment.transaction"].sudo().create({
            "acquirer_id": self.acquirer_id.id,
            "amount": self.amount,
            "currency_id": kes.id,
            "partner_id": self.partner_id.id,
            "partner_country_id": (self.partner_id.country_id or self.env.ref("base.ke")).id,
            "reference": self.env["payment.transaction"]._get_next_reference(document.name or document.number),
            "sale_order_id": self.sale_order_id.id,
            "type": "form",
        })
        tx = self.env["mpesa.transaction"].sudo().create({
            "channel": "stk",
            "acquirer_id": self.acquirer_id.id,
            # The shortcode that receives the money: for a Till that is the
            # till, as in its C2B notifications, so that unique(shortcode,
            # receipt) also applies between the push and its notification.
            "shortcode": self.acquirer_id.sudo()._mpesa_receiving_shortcode(),
            "requested_amount": self.amount,
            "amount": self.amount,
            "currency_id": kes.id,
            "phone": msisdn,
            "phone_masked": daraja.mask_msisdn(msisdn),
            "phone_kind": "plain",
            "account_reference": self._account_reference(document),
            "partner_id": self.partner_id.commercial_partner_id.id,
            "sale_order_id": self.sale_order_id.id,
            "invoice_id": self.invoice_id.id,
            "payment_transaction_id": payment_tx.id,
        })
        if self.sale_order_id:
            self.sale_order_id.payment_tx_id = payment_tx
        # Commit before the request leaves: Daraja may deliver the result
        # callback before its synchronous response reaches us, and the callback
        # must find this transaction. Tests run inside one transaction that
        # is rolled back at the end, so they skip the commit.
        if not getattr(threading.current_thread(), "testing", False):
            self.env.cr.commit()

        try:
            response = tx._send_stk_push()
        except daraja.errors.DarajaError as error:
            tx.write({"state": "failed", "result_message": error.message})
            payment_tx.write({"state": "error", "state_message": error.message})
            self.write({"state": "failed", "mpesa_transaction_id": tx.id, "message": _(
                "The request was not sent: %s") % error.message})
            document.message_post(body=_("M-Pesa request to %(phone)s failed: %(error)s") % {
                "phone": tx.phone_masked, "error": error.message})
            return self._reopen()
        self.write({"state": "sent", "mpesa_transaction_id": tx.id, "message": _(
            "%(customer_message)s\nAsk the customer to enter their M-Pesa PIN on %(phone)s. "
            "The document updates once Safaricom confirms the payment."
        ) % {"customer_message": response.customer_message or "", "phone": tx.phone_masked}})
        document.message_post(body=_("M-Pesa request for %(amount)d KES sent to %(phone)s.") % {
            "amount": self.amount, "phone": tx.phone_masked})
        return self._reopen()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    @api.multi
    def action_check_status(self):
        self.ensure_one()
        self.mpesa_transaction_id.sudo().action_check_status()
        tx = self.mpesa_transaction_id
        self.message = tx.result_message or tx.review_reason or dict(
            tx._fields["state"].selection).get(tx.state)
        return self._reopen()
