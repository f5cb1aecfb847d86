import logging

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .. import daraja

_logger = logging.getLogger(__name__)

# Daraja result codes that mean the customer chose not to pay, as opposed
# to an error on the way (Daraja STK Push page, result codes, read 2025-12).
CANCELLED_CODES = ("1032", "1031")


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    mpesa_transaction_ids = fields.One2many("mpesa.transaction", "payment_transaction_id",
                                            string="M-Pesa transactions")

    @api.model
    def _mpesa_form_get_tx_from_data(self, data):
        """Find the transaction of a parsed STK result by its CheckoutRequestID."""
        checkout_request_id = data.get("CheckoutRequestID")
        if not checkout_request_id:
            raise ValidationError(_("M-Pesa: the result carries no CheckoutRequestID."))
        txs = self.search([("acquirer_reference", "=", checkout_request_id),
                           ("acquirer_id.provider", "=", "mpesa")])
        if len(txs) != 1:
            raise ValidationError(_("M-Pesa: %(count)s transactions found for CheckoutRequestID %(id)s.") % {
                "count": len(txs), "id": daraja.mask_reference(checkout_request_id)})
        return txs

    @api.multi
    def _mpesa_form_validate(self, data):
        """Move the transaction to done, cancel or error from Daraja's ResultCode."""
        self.ensure_one()
        if self.state == "done":
            # A repeated result never undoes a payment already confirmed.
            return True
        code = str(data.get("ResultCode"))
        if code == "0":
            return self.write({
                "state": "done",
                "date_validate": fields.Datetime.now(),
                "acquirer_reference": data.get("CheckoutRequestID"),
                "state_message": _("Paid, M-Pesa receipt %s") % (data.get("MpesaReceiptNumber") or ""),
            })
        message = daraja.stk_result_message(code)
        return self.write({
            "state": "cancel" if code in CANCELLED_CODES else "error",
            "state_message": message,
        })
