from odoo import _, fields, models


class MpesaDocumentMixin(models.AbstractModel):
    """M-Pesa status fields and the Pay via M-Pesa button shared by orders and invoices."""

    _name = "mpesa.document.mixin"
    _description = "M-Pesa fields on documents"

    mpesa_state = fields.Selection(
        [
            ("none", "No M-Pesa payment"),
            ("pending", "Waiting for the customer"),
            ("partial", "Partly paid"),
            ("paid", "Paid"),
            ("failed", "Last request not paid"),
        ],
        string="M-Pesa status",
        compute="_compute_mpesa_state",
    )
    mpesa_amount_paid = fields.Float(string="Paid via M-Pesa", digits=(16, 2), compute="_compute_mpesa_state")
    mpesa_receipts = fields.Char(string="M-Pesa receipts", compute="_compute_mpesa_state",
                                 search="_search_mpesa_receipts")
    mpesa_last_message = fields.Char(string="Last M-Pesa result", compute="_compute_mpesa_state")

    def _mpesa_amount_total(self):
        raise NotImplementedError

    def _compute_mpesa_state(self):
        # Not stored and without @api.depends: each model that uses the mixin
        # declares its own mpesa_transaction_ids, which this model cannot name.
        for document in self:
            txs = document.mpesa_transaction_ids
            # A push settled through its C2B twin links to it; count the money once.
            done = txs.filtered(lambda t: t.state == "done" and not t.linked_transaction_id)
            paid = sum(done.mapped("amount"))
            latest = txs.sorted("id", reverse=True)[:1]
            if latest.state == "pending":
                state = "pending"
            elif done and paid >= document._mpesa_amount_total():
                state = "paid"
            elif done:
                state = "partial"
            elif latest.state == "failed":
                state = "failed"
            else:
                state = "none"
            document.mpesa_state = state
            document.mpesa_amount_paid = paid
            document.mpesa_receipts = ", ".join(filter(None, done.mapped("receipt")))
            document.mpesa_last_message = latest.result_message or latest.review_reason or False

    def _search_mpesa_receipts(self, operator, value):
        return [("mpesa_transaction_ids.receipt", operator, value)]

    def _mpesa_open_wizard(self, context):
        return {
            "type": "ir.actions.act_window",
            "name": _("Pay via M-Pesa"),
            "res_model": "mpesa.stk.push.wizard",
            "view_mode": "form",
            "target": "new",
            "context": context,
        }
