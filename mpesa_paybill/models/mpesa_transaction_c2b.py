import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare

from .. import daraja
from .matching import MIN_REFERENCE_LENGTH, reference_key

_logger = logging.getLogger(__name__)

# C2B validation responses (Daraja's C2B Register URL page, read 2025-12). The
# code picks the SMS the payer gets, so each rejection uses the code for
# its own reason and never "invalid MSISDN" for a problem of ours.
C2B_ACCEPT = {"ResultCode": "0", "ResultDesc": "Accepted"}
C2B_INVALID_ACCOUNT = "C2B00012"
C2B_INVALID_AMOUNT = "C2B00013"


class MpesaSuggestion(models.Model):
    """A ranked candidate target for a payment in the review queue."""

    _name = "mpesa.suggestion"
    _description = "M-Pesa Match Suggestion"
    _order = "score desc, id"

    transaction_id = fields.Many2one("mpesa.transaction", required=True, ondelete="cascade", index=True)
    score = fields.Integer(readonly=True)
    reason = fields.Char(readonly=True)
    invoice_id = fields.Many2one("account.invoice", readonly=True)
    sale_order_id = fields.Many2one("sale.order", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    amount_due = fields.Float(digits=(16, 2), readonly=True)

    @api.multi
    def action_apply(self):
        """Post the payment to this suggestion's invoice or order."""
        self.ensure_one()
        return self.transaction_id._review_match(invoice=self.invoice_id, order=self.sale_order_id,
                                                 note=_("suggestion %s") % self.reason)


class MpesaTransaction(models.Model):
    _inherit = "mpesa.transaction"

    suggestion_ids = fields.One2many("mpesa.suggestion", "transaction_id", string="Suggestions", readonly=True,
                                     groups="account.group_account_invoice")

    # ------------------------------------------------------------------
    # Validation: responded to while Daraja waits, about 8 seconds at most
    # ------------------------------------------------------------------

    @api.model
    def _c2b_validate(self, acquirer, body):
        """Return (response, reason) for a C2B validation request body.

        Accepts unless a rule configured on the acquirer rejects the payment. It
        reads the body, not the stored row, because the row is committed by
        another cursor than the one of this request.
        """
        try:
            payment = daraja.parse_c2b(body or "")
        except daraja.errors.DarajaParseError as error:
            return C2B_ACCEPT, _("Accepted, but the body is malformed: %s") % error

        low, high = acquirer.mpesa_c2b_min_amount, acquirer.mpesa_c2b_max_amount
        if (low and payment.amount < low) or (high and payment.amount > high):
            response = {"ResultCode": C2B_INVALID_AMOUNT, "ResultDesc": "Rejected"}
            reason = _("Rejected: amount %(amount)s is outside %(low)s to %(high)s.") % {
                "amount": payment.amount, "low": low or 1, "high": high or _("no maximum")}
        elif (acquirer.mpesa_c2b_reject_unknown and acquirer.mpesa_shortcode_type == "paybill"
              and not self._c2b_reference_known(acquirer, payment.bill_ref_number)):
            response = {"ResultCode": C2B_INVALID_ACCOUNT, "ResultDesc": "Rejected"}
            reason = _("Rejected: account number %s matches no open invoice or order.") % payment.bill_ref_number
        else:
            response, reason = C2B_ACCEPT, _("Accepted.")
        _logger.info("C2B validation %s for TransID %s: %s", response["ResultCode"], payment.trans_id, reason)
        return response, reason

    @api.model
    def _c2b_reference_known(self, acquirer, bill_ref):
        """Return whether an account number is an open invoice's or order's reference.

        One SQL query, so that validation stays far below Daraja's 8 s
        however many documents are open.
        """
        key = reference_key(bill_ref)
        if len(key) < MIN_REFERENCE_LENGTH:
            return False
        self.env.cr.execute(
            """SELECT 1 FROM account_invoice
               WHERE type = 'out_invoice' AND state = 'open' AND company_id = %(company)s
                 AND currency_id = %(kes)s
                 AND %(key)s IN (regexp_replace(upper(coalesce(number, '')), '[^0-9A-Z]', '', 'g'),
                                 regexp_replace(upper(coalesce(reference, '')), '[^0-9A-Z]', '', 'g'),
                                 regexp_replace(upper(coalesce(origin, '')), '[^0-9A-Z]', '', 'g'))
               UNION ALL
               SELECT 1 FROM sale_order so JOIN product_pricelist pricelist ON pricelist.id = so.pricelist_id
               WHERE so.state IN ('draft', 'sent', 'sale') AND so.company_id = %(company)s
                 AND pricelist.currency_id = %(kes)s
                 AND %(key)s IN (regexp_replace(upper(so.name), '[^0-9A-Z]', '', 'g'),
                                 regexp_replace(upper(coalesce(so.client_order_ref, '')), '[^0-9A-Z]', '', 'g'))
               LIMIT 1""",
            {"company": acquirer.company_id.id, "key": key, "kes": self.env.ref("base.KES").id},
        )
        return bool(self.env.cr.fetchone())

    @api.model
    def _process_c2b_validation_callback(self, callback):
        # Validation is decided inside its request. A row left 'received'
        # (a response that failed) has nothing more to do.
        callback._mark("processed", callback.reason or _("Answered during the request."))

    # ------------------------------------------------------------------
    # Confirmation: the money has moved; record it once, then place it
    # ------------------------------------------------------------------

    @api.model
    def _process_c2b_confirmation_callback(self, callback):
        """Record a C2B confirmation once per TransID and shortcode, then match it."""
        if not callback.secret_valid:
            return callback._mark("review", _("The confirmation URL carried a wrong secret; nothing was posted."))
        try:
            payment = daraja.parse_c2b(callback.body or "")
        except daraja.errors.DarajaParseError as error:
            return callback._mark("review", _("Malformed C2B confirmation: %s") % error)

        acquirer = callback.acquirer_id
        shortcodes = {acquirer.mpesa_shortcode, acquirer.mpesa_till_number} - {False, None}
        if payment.shortcode not in shortcodes:
            return callback._mark("review", _(
                "Confirmation for shortcode %(got)s reached the acquirer of %(expected)s; nothing was posted."
            ) % {"got": payment.shortcode, "expected": ", ".join(sorted(shortcodes))})

        existing = self._find_by_receipt(acquirer, payment.trans_id)
        if existing:
            existing._lock()
            note = _("Repeated delivery of %s.") % payment.trans_id
            if existing.channel == "stk":
                note = _("C2B notification of STK Push payment %s; already recorded there.") % payment.trans_id
                existing.message_post(body=note)
            return callback._mark("processed", note, existing)

        stk = self._find_stk_for_c2b(acquirer, payment)
        if stk:
            return self._settle_stk_from_c2b(stk, payment, callback)

        try:
            with self.env.cr.savepoint():
                tx = self.create(self._prepare_c2b_vals(acquirer, payment))
        except psycopg2.IntegrityError:
            # A concurrent delivery of the same TransID committed first.
            return callback._mark("processed", _("Repeated delivery of %s.") % payment.trans_id)
        callback.transaction_id = tx
        self.env["mpesa.reconcile"]._match_and_settle(tx)
        callback._mark("processed", transaction=tx)
        _logger.info("C2B payment %s of %s recorded as mpesa.transaction %s (%s)",
                     tx.receipt, tx.amount, tx.id, tx.state)
        return True

    @api.model
    def _find_by_receipt(self, acquirer, receipt):
        if not receipt:
            return self.browse()
        shortcodes = [code for code in (acquirer.mpesa_shortcode, acquirer.mpesa_till_number) if code]
        return self.search([("receipt", "=", receipt), ("shortcode", "in", shortcodes)], limit=1)

    @api.model
    def _find_stk_for_c2b(self, acquirer, payment):
        """Return the unsettled STK Push this C2B notification repeats, if any.

        Safaricom also notifies C2B URLs of STK payments into a PayBill, with
        BillRefNumber set to the push's AccountReference. The notification can
        arrive before the push's own result.
        """
        if not payment.bill_ref_number:
            return self.browse()
        candidates = self.search([
            ("channel", "=", "stk"),
            ("acquirer_id", "=", acquirer.id),
            ("account_reference", "=", payment.bill_ref_number),
            ("receipt", "=", False),
        ])
        # Pending, or failed only according to a status query (which can be wrong).
        candidates = candidates.filtered(
            lambda tx: (tx.state in ("draft", "pending") or (tx.state == "failed" and tx.result_source == "query"))
            and float_compare(tx.requested_amount, float(payment.amount), 2) == 0)
        return candidates[:1] if len(candidates) == 1 else self.browse()

    @api.model
    def _settle_stk_from_c2b(self, stk, payment, callback):
        stk._lock()
        stk.write({
            "receipt": payment.trans_id,
            "amount": float(payment.amount),
            "transaction_time": payment.trans_time and fields.Datetime.to_string(payment.trans_time),
            "result_code": "0",
            "result_message": daraja.stk_result_message("0"),
            "result_source": "c2b",
            "state": "received",
        })
        stk.message_post(body=_("Paid: the C2B notification %s arrived before the STK result.") % payment.trans_id)
        self.env["mpesa.reconcile"]._settle_stk(stk)
        callback._mark("processed", _("C2B notification of STK Push payment %s.") % payment.trans_id, stk)
        return True

    @api.model
    def _prepare_c2b_vals(self, acquirer, payment):
        if payment.msisdn_kind == "plain":
            masked = daraja.mask_msisdn(payment.msisdn)
        elif payment.msisdn_kind == "masked":
            masked = payment.msisdn
        elif payment.msisdn_kind == "hashed":
            masked = _("hashed %s…") % payment.msisdn[:8]
        else:
            masked = False
        name = " ".join(filter(None, [payment.first_name, payment.middle_name, payment.last_name]))
        return {
            "channel": "c2b",
            "acquirer_id": acquirer.id,
            "shortcode": payment.shortcode,
            "receipt": payment.trans_id,
            "amount": float(payment.amount),
            "currency_id": self.env.ref("base.KES").id,
            "phone": payment.msisdn,
            "phone_masked": masked,
            "phone_kind": payment.msisdn_kind,
            "payer_name": name or False,
            "account_reference": payment.bill_ref_number or False,
            "transaction_time": payment.trans_time and fields.Datetime.to_string(payment.trans_time),
            "result_code": "0",
            "state": "received",
        }

    # ------------------------------------------------------------------
    # Review queue
    # ------------------------------------------------------------------

    def _store_suggestions(self, suggestions, limit=5):
        self.ensure_one()
        lines = [(5, 0, 0)]
        for suggestion in suggestions[:limit]:
            target = suggestion.target
            document = self.env[target.model].browse(target.id)
            lines.append((0, 0, {
                "score": suggestion.score,
                "reason": "; ".join(suggestion.reasons),
                "invoice_id": target.id if target.model == "account.invoice" else False,
                "sale_order_id": target.id if target.model == "sale.order" else False,
                "partner_id": document.partner_id.commercial_partner_id.id,
                "amount_due": target.amount_due,
            }))
        self.suggestion_ids = lines

    def _send_to_review(self, suggestions):
        self.ensure_one()
        if not suggestions:
            reason = _("Account number %s matches no open invoice or order, and the payer's number "
                       "matches no customer.") % (self.account_reference or _("(none)"))
        elif suggestions[0].score >= 90 and len(suggestions) > 1 and suggestions[1].score >= suggestions[0].score - 20:
            reason = _("Account number %(ref)s fits several open documents: %(names)s.") % {
                "ref": self.account_reference or _("(none)"),
                "names": ", ".join(s.target.name for s in suggestions[:3])}
        else:
            reason = _("No confident match for account number %(ref)s; best suggestion: %(name)s (%(why)s).") % {
                "ref": self.account_reference or _("(none)"),
                "name": suggestions[0].target.name, "why": "; ".join(suggestions[0].reasons)}
        partner = suggestions[0].target.partner_id if suggestions else False
        self.write({"state": "review", "review_reason": reason,
                    "partner_id": partner or self.partner_id.id})
        _logger.warning("mpesa.transaction %s (receipt %s) sent to review: %s", self.id, self.receipt, reason)

    @api.model
    def create(self, vals):
        tx = super(MpesaTransaction, self).create(vals)
        if vals.get("state") == "review":
            self._update_review_menu()
        return tx

    @api.multi
    def write(self, vals):
        # Recount the queue only when a payment enters or leaves it.
        touches_queue = "state" in vals and (
            vals["state"] == "review" or any(tx.state == "review" for tx in self))
        result = super(MpesaTransaction, self).write(vals)
        if touches_queue:
            self._update_review_menu()
        return result

    @api.model
    def _update_review_menu(self):
        """Show the number of payments waiting for review in the menu's name.

        Odoo 11's web client shows no counters on menus, so the count is part
        of the name and is rewritten only when it changes.
        """
        menu = self.env.ref("mpesa_paybill.menu_mpesa_review", raise_if_not_found=False)
        if not menu:
            return
        self.env.cr.execute("SELECT count(*) FROM mpesa_transaction WHERE state = 'review'")
        count = self.env.cr.fetchone()[0]
        name = _("To Review (%s)") % count if count else _("To Review")
        menu = menu.sudo().with_context(lang=None)
        if menu.name != name:
            menu.name = name

    def _review_note(self, action):
        self.message_post(body=_("%(action)s by %(user)s on %(date)s.") % {
            "action": action, "user": self.env.user.name, "date": fields.Datetime.now()})

    def _check_reviewable(self):
        self.ensure_one()
        self._lock()
        if self.state not in ("review", "received"):
            raise UserError(_(
                "M-Pesa transaction %(name)s is %(state)s; only payments to review can be matched or set aside."
            ) % {"name": self.display_name, "state": dict(self._fields["state"].selection)[self.state]})

    @api.multi
    def _review_match(self, invoice=None, order=None, note=None):
        """Post a reviewed payment to one invoice or order."""
        self._check_reviewable()
        kes = self.env.ref("base.KES")
        if invoice and (invoice.type != "out_invoice" or invoice.state != "open" or invoice.currency_id != kes):
            raise UserError(_("%s is not an open customer invoice in KES, so an M-Pesa payment cannot pay it.")
                            % invoice.display_name)
        if order and (order.state not in ("draft", "sent", "sale") or order.currency_id != kes):
            raise UserError(_("%s is not a quotation or confirmed order in KES, so an M-Pesa payment cannot pay it.")
                            % order.display_name)
        self.env["mpesa.reconcile"]._settle(self, invoice=invoice or None, order=order or None)
        self._review_note(_("Matched to %s (%s)") % ((invoice or order).display_name, note or _("chosen by hand")))
        return True

    @api.multi
    def _review_split(self, allocations):
        """Post a reviewed payment across several invoices of one customer.

        :param allocations: list of (account.invoice, amount); what they leave
            of the payment stays on the customer's account as credit.
        """
        self._check_reviewable()
        self.env["mpesa.reconcile"]._settle_split(self, allocations)
        self._review_note(_("Split across %s") % ", ".join(
            "%s: %.2f" % (invoice.number, amount) for invoice, amount in allocations))
        return True

    @api.multi
    def _review_credit(self, partner):
        """Post a reviewed payment as credit on a customer's account."""
        self._check_reviewable()
        self.env["mpesa.reconcile"]._settle(self, partner=partner)
        self._review_note(_("Assigned to %s as credit") % partner.display_name)
        return True

    @api.multi
    def _review_set_aside(self, reason):
        """Take a payment out of the queue without posting it, keeping the reason."""
        self._check_reviewable()
        self.write({"state": "set_aside", "review_reason": reason})
        self._review_note(_("Set aside (%s)") % reason)
        return True
