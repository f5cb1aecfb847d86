from odoo import _, api, fields, models
from odoo.exceptions import UserError


class MpesaReviewWizard(models.TransientModel):
    """Place a payment from the review queue: match, split, credit or set aside."""

    _name = "mpesa.review.wizard"
    _description = "Review M-Pesa Payment"

    transaction_id = fields.Many2one("mpesa.transaction", required=True, readonly=True)
    currency_id = fields.Many2one(related="transaction_id.currency_id", readonly=True)
    amount = fields.Monetary(related="transaction_id.amount", readonly=True)
    review_reason = fields.Text(related="transaction_id.review_reason", readonly=True)
    action = fields.Selection(
        [
            ("match", "Match to an invoice or order"),
            ("split", "Split across invoices of one customer"),
            ("credit", "Assign to a customer as credit"),
            ("set_aside", "Set aside"),
        ],
        required=True,
        default="match",
    )
    invoice_id = fields.Many2one("account.invoice", domain=[("type", "=", "out_invoice"), ("state", "=", "open")])
    sale_order_id = fields.Many2one("sale.order", domain=[("state", "in", ("draft", "sent", "sale"))])
    partner_id = fields.Many2one("res.partner", string="Customer", domain=[("customer", "=", True)])
    reason = fields.Char(help="Why the payment is set aside, e.g. 'refunded to the customer'.")
    line_ids = fields.One2many("mpesa.review.wizard.line", "wizard_id", string="Split")

    @api.model
    def default_get(self, field_names):
        values = super(MpesaReviewWizard, self).default_get(field_names)
        tx = self.env["mpesa.transaction"].browse(self.env.context.get("active_id"))
        if tx:
            values["transaction_id"] = tx.id
            values["partner_id"] = tx.partner_id.id
            # Start from the best suggestion, which the accountant confirms or changes.
            best = tx.suggestion_ids[:1]
            values["invoice_id"] = best.invoice_id.id
            values["sale_order_id"] = best.sale_order_id.id
        return values

    @api.multi
    def action_apply(self):
        self.ensure_one()
        tx = self.transaction_id
        if self.action == "match":
            if bool(self.invoice_id) == bool(self.sale_order_id):
                raise UserError(_("Choose either an invoice or an order to match payment %s to.") % tx.display_name)
            tx._review_match(invoice=self.invoice_id, order=self.sale_order_id)
        elif self.action == "split":
            if not self.line_ids:
                raise UserError(_("Add at least one invoice and amount to split payment %s.") % tx.display_name)
            tx._review_split([(line.invoice_id, line.amount) for line in self.line_ids])
        elif self.action == "credit":
            if not self.partner_id:
                raise UserError(_("Choose the customer whose account payment %s goes to.") % tx.display_name)
            tx._review_credit(self.partner_id)
        else:
            if not (self.reason or "").strip():
                raise UserError(_("Say why payment %s is set aside; the reason stays in its history.")
                                % tx.display_name)
            tx._review_set_aside(self.reason.strip())
        return {"type": "ir.actions.act_window_close"}


class MpesaReviewWizardLine(models.TransientModel):
    _name = "mpesa.review.wizard.line"
    _description = "Review M-Pesa Payment: split line"

    wizard_id = fields.Many2one("mpesa.review.wizard", required=True, ondelete="cascade")
    invoice_id = fields.Many2one("account.invoice", required=True,
                                 domain=[("type", "=", "out_invoice"), ("state", "=", "open")])
    amount = fields.Float(digits=(16, 2), required=True)
