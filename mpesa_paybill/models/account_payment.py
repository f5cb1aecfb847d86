from odoo import fields, models


class AccountPayment(models.Model):
    _inherit = "account.payment"

    mpesa_transaction_id = fields.Many2one("mpesa.transaction", string="M-Pesa transaction",
                                           readonly=True, index=True, ondelete="restrict")
    # Plain fields filled when the payment is created: related fields would
    # copy the transaction's tracking and post a message on every payment.
    mpesa_receipt = fields.Char(string="M-Pesa receipt", readonly=True, index=True, copy=False)
    mpesa_phone = fields.Char(string="M-Pesa phone", readonly=True, copy=False,
                              help="Payer's number, masked.")
