from odoo import api, fields, models


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "mpesa.document.mixin"]

    mpesa_transaction_ids = fields.One2many("mpesa.transaction", "sale_order_id", string="M-Pesa transactions")

    def _mpesa_amount_total(self):
        return self.amount_total

    @api.multi
    def action_mpesa_pay(self):
        self.ensure_one()
        return self._mpesa_open_wizard({"default_sale_order_id": self.id})
