import logging

from odoo import _, api, fields, models
from odoo.tools import float_compare

from .. import daraja

_logger = logging.getLogger(__name__)

# States from which no callback or query may move a transaction.
FINAL_STATES = ("done", "failed", "set_aside")


class MpesaTransaction(models.Model):
    """One M-Pesa movement: an STK Push request and its result, or a C2B payment."""

    _name = "mpesa.transaction"
    _description = "M-Pesa Transaction"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(compute="_compute_name", store=True)
    channel = fields.Selection(
        [("stk", "STK Push"), ("c2b", "C2B (SIM menu)")],
        required=True,
        readonly=True,
    )
    direction = fields.Selection(
        [("inbound", "Inbound"), ("outbound", "Outbound")],
        default="inbound",
        required=True,
        readonly=True,
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("pending", "Waiting for the customer"),
            ("received", "Received"),
            ("done", "Paid and posted"),
            ("review", "To review"),
            ("failed", "Not paid"),
            ("set_aside", "Set aside"),
        ],
        string="Status",
        default="draft",
        required=True,
        readonly=True,
        index=True,
        track_visibility="onchange",
    )
    acquirer_id = fields.Many2one("payment.acquirer", required=True, readonly=True, ondelete="restrict")
    company_id = fields.Many2one(related="acquirer_id.company_id", store=True, readonly=True)
    shortcode = fields.Char(readonly=True, index=True)
    currency_id = fields.Many2one("res.currency", default=lambda self: self.env.ref("base.KES"), readonly=True)
    amount = fields.Monetary(readonly=True, track_visibility="onchange")
    requested_amount = fields.Monetary(readonly=True, help="Amount asked for in the STK Push request.")
    receipt = fields.Char(string="M-Pesa receipt", readonly=True, index=True, copy=False, track_visibility="onchange")
    checkout_request_id = fields.Char(string="CheckoutRequestID", readonly=True, index=True, copy=False)
    merchant_request_id = fields.Char(string="MerchantRequestID", readonly=True, copy=False)
    phone = fields.Char(
        string="Full number",
        readonly=True,
        groups="account.group_account_invoice",
        help="Payer's number as Daraja sent it: 12 digits, masked or SHA-256 hashed.",
    )
    phone_masked = fields.Char(string="Phone", readonly=True)
    phone_kind = fields.Selection(
        [("plain", "Plain"), ("masked", "Masked"), ("hashed", "Hashed"), ("missing", "Missing")],
        readonly=True,
    )
    payer_name = fields.Char(readonly=True)
    account_reference = fields.Char(string="Account reference", readonly=True,
                                    help="AccountReference of the STK Push, or BillRefNumber of a C2B payment.")
    transaction_time = fields.Datetime(readonly=True)
    result_code = fields.Char(readonly=True)
    result_desc = fields.Char(string="Daraja result", readonly=True)
    result_message = fields.Char(string="Result", readonly=True,
                                 help="Daraja's result in words to repeat to the customer.")
    review_reason = fields.Text(readonly=True, track_visibility="onchange")
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True, index=True)
    sale_order_id = fields.Many2one("sale.order", readonly=True, index=True)
    invoice_id = fields.Many2one("account.invoice", readonly=True, index=True)
    payment_transaction_id = fields.Many2one("payment.transaction", readonly=True)
    payment_ids = fields.One2many("account.payment", "mpesa_transaction_id", string="Payments", readonly=True)
    linked_transaction_id = fields.Many2one(
        "mpesa.transaction",
        string="Same payment as",
        readonly=True,
        help="The STK Push transaction that a C2B notification repeats.",
    )
    callback_ids = fields.One2many("mpesa.callback", "transaction_id", string="Raw callbacks", readonly=True,
                                   groups="account.group_account_invoice")
    request_sent_at = fields.Datetime(readonly=True)
    result_source = fields.Selection(
        [("callback", "Result callback"), ("query", "Status query"), ("c2b", "C2B notification")],
        string="Result from",
        readonly=True,
        help="Where the result came from. Only a failure found by a status query "
             "can still be overturned by a paid result callback.",
    )

    _sql_constraints = [
        # Each receipt is posted at most once per shortcode; PostgreSQL lets
        # several rows without a receipt (pending pushes) coexist.
        ("receipt_shortcode_unique", "unique(shortcode, receipt)",
         "This M-Pesa receipt is already recorded for this shortcode."),
    ]

    @api.depends("receipt", "checkout_request_id", "channel")
    def _compute_name(self):
        for tx in self:
            tx.name = tx.receipt or daraja.mask_reference(tx.checkout_request_id or "") or _("New")

    # ------------------------------------------------------------------
    # STK Push
    # ------------------------------------------------------------------

    def _lock(self):
        """Lock this transaction's row until the end of the database transaction."""
        self.ensure_one()
        self.env.cr.execute("SELECT id FROM mpesa_transaction WHERE id = %s FOR UPDATE", (self.id,))
        self.invalidate_cache()

    @api.multi
    def _send_stk_push(self):
        """Send the STK Push for a draft transaction and store Daraja's identifiers.

        The caller must have committed the transaction first, because the
        result callback can arrive before this request returns.
        """
        self.ensure_one()
        acquirer = self.acquirer_id.sudo()
        client = acquirer._mpesa_get_client()
        response = client.stk_push(
            shortcode=acquirer.mpesa_shortcode,
            passkey=acquirer.mpesa_passkey,
            amount=int(self.requested_amount),
            phone=self.sudo().phone,
            callback_url=acquirer._mpesa_callback_url("stk", self.id),
            account_reference=self.account_reference,
            description=_("Payment"),
            till_number=acquirer.mpesa_till_number if acquirer.mpesa_shortcode_type == "till" else None,
        )
        self._record_stk_response(response)
        return response

    def _record_stk_response(self, response):
        """Store Daraja's synchronous response, without undoing a result that overtook it."""
        self.ensure_one()
        self._lock()
        vals = {
            "merchant_request_id": response.merchant_request_id,
            "request_sent_at": fields.Datetime.now(),
        }
        if not self.checkout_request_id:
            vals["checkout_request_id"] = response.checkout_request_id
        if self.state == "draft":
            vals["state"] = "pending"
        self.write(vals)
        payment_tx = self.payment_transaction_id.sudo()
        if payment_tx and payment_tx.state == "draft":
            payment_tx.write({"acquirer_reference": response.checkout_request_id, "state": "pending"})
        _logger.info("STK Push sent: mpesa.transaction %s, CheckoutRequestID %s, phone %s",
                     self.id, daraja.mask_reference(response.checkout_request_id), self.phone_masked)

    @api.model
    def _process_stk_callback(self, callback):
        """Settle the STK Push that a stored result callback belongs to."""
        if not callback.secret_valid:
            return callback._mark("review", _("The callback URL carried a wrong secret; nothing was posted."))
        try:
            result = daraja.parse_stk_callback(callback.body or "")
        except daraja.errors.DarajaParseError as error:
            return callback._mark("review", _("Malformed STK callback: %s") % error)

        tx = self.search([
            ("channel", "=", "stk"),
            ("checkout_request_id", "=", result.checkout_request_id),
            ("acquirer_id", "=", callback.acquirer_id.id),
        ], limit=1)
        if not tx and callback.transaction_hint:
            # The result overtook the push's response: the transaction exists
            # but does not know its CheckoutRequestID yet.
            tx = self.search([
                ("id", "=", callback.transaction_hint),
                ("channel", "=", "stk"),
                ("acquirer_id", "=", callback.acquirer_id.id),
                ("checkout_request_id", "=", False),
            ])
            if tx:
                tx._lock()
                tx.checkout_request_id = result.checkout_request_id
                tx.payment_transaction_id.sudo().acquirer_reference = result.checkout_request_id
        if not tx:
            return callback._mark("review", _(
                "No STK Push with CheckoutRequestID %s was sent from this acquirer."
            ) % result.checkout_request_id)
        tx._lock()
        callback.transaction_id = tx
        if result.paid and not result.receipt:
            return callback._mark("review", _(
                "Daraja reported the request %s paid but sent no MpesaReceiptNumber; nothing was posted. "
                "Find the receipt in the M-Pesa statement.") % daraja.mask_reference(result.checkout_request_id), tx)
        known_receipts = {tx.receipt, tx.linked_transaction_id.receipt} - {False}
        if result.paid and known_receipts and result.receipt not in known_receipts:
            return tx._record_second_payment(result, callback)
        # A failure found by a status query may be wrong (Daraja's query has
        # reported paid requests as failed), so a paid result still counts.
        overrides_query = result.paid and tx.state == "failed" and tx.result_source == "query"
        if (tx.state in FINAL_STATES or tx.state == "received") and not overrides_query:
            return callback._mark("processed", _("Repeated delivery; the transaction was already settled."), tx)
        if result.paid:
            tx._apply_stk_success(result, callback)
        else:
            tx._apply_stk_failure(result.result_code, result.result_desc)
            callback._mark("processed", transaction=tx)
        return True

    def _record_second_payment(self, result, callback):
        """Keep a second receipt for an STK Push that another payment already settled."""
        self.ensure_one()
        reason = _(
            "Second payment %(receipt)s of %(amount)s for the STK Push already settled by %(settled)s; "
            "nothing was posted. Refund it or assign it to the customer as credit."
        ) % {"receipt": result.receipt, "amount": result.amount,
             "settled": self.receipt or self.linked_transaction_id.receipt}
        if self._find_by_receipt(self.acquirer_id, result.receipt):
            return callback._mark("processed", _("Repeated delivery of %s.") % result.receipt, self)
        extra = self.create({
            "channel": "stk",
            "acquirer_id": self.acquirer_id.id,
            "shortcode": self.shortcode,
            "receipt": result.receipt,
            "amount": float(result.amount or 0),
            "currency_id": self.currency_id.id,
            "phone": result.phone,
            "phone_masked": daraja.mask_msisdn(result.phone) if result.phone else False,
            "phone_kind": "plain" if result.phone else "missing",
            "account_reference": self.account_reference,
            "partner_id": self.partner_id.id,
            "linked_transaction_id": self.id,
            "result_code": result.result_code,
            "result_source": "callback",
            "state": "review",
            "review_reason": reason,
        })
        self.message_post(body=reason)
        return callback._mark("review", reason, extra)

    def _apply_stk_success(self, result, callback):
        self.ensure_one()
        phone = result.phone or self.sudo().phone
        vals = {
            "receipt": result.receipt,
            "transaction_time": result.transaction_date and fields.Datetime.to_string(result.transaction_date),
            "result_code": result.result_code,
            "result_desc": result.result_desc,
            "result_message": daraja.stk_result_message(result.result_code),
            "amount": float(result.amount) if result.amount is not None else 0.0,
            "phone": phone,
            "phone_masked": daraja.mask_msisdn(phone) if phone else False,
            "phone_kind": "plain" if phone else "missing",
        }
        if result.amount is None or float_compare(float(result.amount), self.requested_amount, 2) != 0:
            vals.update(state="review", review_reason=_(
                "Daraja reported %(paid)s paid for a request of %(requested)s; nothing was posted. "
                "Check the receipt %(receipt)s with the customer before matching it."
            ) % {"paid": result.amount, "requested": self.requested_amount, "receipt": result.receipt})
            self.write(vals)
            callback._mark("review", vals["review_reason"], self)
            return
        twin = self._find_by_receipt(self.acquirer_id, result.receipt)
        if twin:
            return self._apply_stk_twin(twin, vals, callback)
        self.write(dict(vals, state="received", result_source="callback"))
        self.env["mpesa.reconcile"]._settle_stk(self)
        callback._mark("processed", transaction=self)
        _logger.info("STK Push paid: receipt %s, mpesa.transaction %s, phone %s",
                     self.receipt, self.id, self.phone_masked)

    def _apply_stk_twin(self, twin, vals, callback):
        """Settle a paid push whose C2B notification was recorded first, posting once."""
        twin._lock()
        if twin.state in ("received", "review"):
            # The C2B record could not be placed, and the push names its document.
            self.env["mpesa.reconcile"]._settle(twin, invoice=self.invoice_id, order=self.sale_order_id,
                                               partner=self.partner_id)
        vals = dict(vals, receipt=False, state="done", linked_transaction_id=twin.id)
        self.write(vals)
        self.payment_transaction_id.sudo()._mpesa_form_validate(
            {"CheckoutRequestID": self.checkout_request_id, "ResultCode": "0", "MpesaReceiptNumber": twin.receipt})
        self.message_post(body=_("Paid; posted through the C2B notification %s.") % twin.receipt)
        callback._mark("processed", transaction=self)

    def _apply_stk_failure(self, result_code, result_desc, source="callback"):
        self.ensure_one()
        message = daraja.stk_result_message(result_code)
        self.write({
            "state": "failed",
            "result_code": result_code,
            "result_desc": result_desc,
            "result_message": message,
            "result_source": source,
        })
        tx = self.payment_transaction_id.sudo()
        if tx:
            # Validated directly rather than through form_feedback: for a
            # failed payment sale_payment has nothing to confirm and would
            # only log a state mismatch.
            tx._mpesa_form_validate({"CheckoutRequestID": self.checkout_request_id,
                                     "ResultCode": result_code, "ResultDesc": result_desc})
        document = self.sale_order_id or self.invoice_id
        if document:
            document.message_post(body=_("M-Pesa payment of %(amount)s not received: %(message)s") % {
                "amount": self.requested_amount, "message": message})
        _logger.info("STK Push not paid: mpesa.transaction %s, ResultCode %s", self.id, result_code)

    @api.multi
    def action_check_status(self):
        """Ask Daraja about pending STK Push requests and settle the finished ones.

        A query never downgrades a transaction a callback already settled,
        and "The transaction is being processed" keeps it pending.
        """
        for tx in self.filtered(lambda t: t.channel == "stk" and t.state == "pending" and t.checkout_request_id):
            acquirer = tx.acquirer_id.sudo()
            try:
                answer = acquirer._mpesa_get_client().stk_query(
                    acquirer.mpesa_shortcode, acquirer.mpesa_passkey, tx.checkout_request_id)
            except daraja.errors.DarajaError as error:
                _logger.warning("STK query for mpesa.transaction %s failed: %s", tx.id, error)
                tx.message_post(body=_("Status check failed: %s") % error)
                continue
            tx._lock()
            if tx.state != "pending" or answer.status == "pending":
                continue
            if answer.status == "failed":
                tx._apply_stk_failure(answer.result_code, answer.result_desc, source="query")
            else:
                # The query has no receipt or amount, so a paid request waits
                # for its callback or its C2B notification to be posted.
                tx.write({
                    "state": "review",
                    "result_code": answer.result_code,
                    "result_desc": answer.result_desc,
                    "result_message": daraja.stk_result_message(answer.result_code),
                    "review_reason": _(
                        "Daraja's status query says this request was paid, but its callback never "
                        "arrived, so the receipt is unknown. Find the receipt in the M-Pesa statement."),
                })
        return True

    @api.model
    def _cron_check_pending(self):
        """Query Daraja for STK Push requests left pending longer than their acquirer allows."""
        now = fields.Datetime.from_string(fields.Datetime.now())
        pending = self.search([("channel", "=", "stk"), ("state", "=", "pending")])
        due = pending.filtered(lambda tx: tx.request_sent_at and (
            now - fields.Datetime.from_string(tx.request_sent_at)).total_seconds()
            >= 60 * (tx.acquirer_id.mpesa_query_after or 0))
        due.action_check_status()
        return len(due)
