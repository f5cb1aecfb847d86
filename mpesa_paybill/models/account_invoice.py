from odoo import api, fields, models


class AccountInvoice(models.Model):
    _name = "account.invoice"
    _inherit = ["account.invoice", "mpesa.document.mixin"]

    mpesa_transaction_ids = fields.One2many("mpesa.transaction", "invoice_id", string="M-Pesa transactions")

    def _mpesa_amount_total(self):
        return self.amount_total

    @api.multi
    def action_mpesa_pay(self):
        self.ensure_one()
        return self._mpesa_open_wizard({"default_invoice_id": self.id})
