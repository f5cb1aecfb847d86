from odoo import fields, models


class AccountPayment(models.Model):
    _inherit = "account.payment"

    mpesa_transaction_id = fields.Many2one("mpesa.transaction", string="M-Pesa transaction",
                                           readonly=True, index=True, ondelete="restrict")
    mpesa_receipt = fields.Char(related="mpesa_transaction_id.receipt", string="M-Pesa receipt",
                                store=True, readonly=True, index=True)
    mpesa_phone = fields.Char(related="mpesa_transaction_id.phone_masked", string="M-Pesa phone",
                              store=True, readonly=True)
