import gc
import logging
import threading
import time
from contextlib import contextmanager

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare

from .matching import MatchIndex, Target, is_confident

_logger = logging.getLogger(__name__)

# A shared index is rebuilt when it is older than this, in seconds, so that
# customers' changed numbers reach it too.
SHARED_INDEX_MAX_AGE = 30
# Documents written this many seconds before the index was built are read
# again before each use. Odoo stamps write_date with the time its database
# transaction began, so a transaction that began earlier but committed after
# the build is still caught, unless it ran longer than this.
CHANGED_DOCUMENTS_MARGIN = 60
# Rounds of reading stale suggestions again before the index is rebuilt.
MAX_STALE_ROUNDS = 3

_local = threading.local()


class SharedIndex(object):
    """A match index that the C2B payments matched in one thread reuse.

    Before each use, the documents written since shortly before the build
    are read again, in the current transaction, and so is every document
    read again before: a rollback restores a document without a later
    write_date. Payments this thread posted write their documents, so they
    are among those. After matching, the suggested documents are compared
    with the database, which also catches deleted documents and orders
    whose amount due changed through their M-Pesa payments alone.
    """

    def __init__(self, index, database_time):
        self.index = index
        self.built_at = time.monotonic()
        # The database's clock (UTC, as write_date) when the index was built.
        self.database_time = database_time
        self.reread = _ids_by_model()
        # (customer, number, active) of the contacts written since shortly
        # before the build, as of the last time the numbers were indexed again.
        self.partner_changes = set()

    def age(self):
        """Return the seconds since the index was built."""
        return time.monotonic() - self.built_at


def _ids_by_model():
    """Return empty sets of record ids for the two kinds of documents a payment can go to."""
    return {"account.invoice": set(), "sale.order": set()}


@contextmanager
def shared_match_index():
    """Let the C2B payments matched inside this block, in this thread, share their match index."""
    previous = getattr(_local, "indexes", None)
    _local.indexes = {} if previous is None else previous
    try:
        yield
    finally:
        _local.indexes = previous


class MpesaReconcile(models.AbstractModel):
    """The one place that turns received M-Pesa money into posted payments.

    STK Push callbacks, C2B confirmations and the review queue all end here:
    it creates and posts the account.payment in the acquirer's journal,
    reconciles it with the invoices it pays, and marks the M-Pesa
    transaction done. The caller holds the transaction's row lock.
    """

    _name = "mpesa.reconcile"
    _description = "M-Pesa Reconciliation"

    @api.model
    def _settle_stk(self, tx):
        """Settle a paid STK Push: feed the payment contract, then post."""
        payment_tx = tx.payment_transaction_id.sudo()
        if payment_tx:
            data = {
                "CheckoutRequestID": tx.checkout_request_id,
                "ResultCode": tx.result_code,
                "ResultDesc": tx.result_desc,
                "MpesaReceiptNumber": tx.receipt,
            }
            try:
                # Going through form_feedback keeps sale_payment's order
                # confirmation working exactly as for any other acquirer.
                with self.env.cr.savepoint():
                    payment_tx.form_feedback(data, "mpesa")
            except UserError as error:
                # sale_payment confirms the order together with its
                # confirmation email, which fails without a PDF renderer
                # (wkhtmltopdf) or a mail server. The money has arrived:
                # validate the transaction and let _settle confirm the order.
                _logger.warning("Order confirmation email for mpesa.transaction %s failed: %s", tx.id, error.name)
                payment_tx._mpesa_form_validate(data)
                if tx.sale_order_id:
                    tx.sale_order_id.message_post(body=_(
                        "Confirmed after M-Pesa payment %(receipt)s; the confirmation email was not sent: %(error)s"
                    ) % {"receipt": tx.receipt, "error": error.name})
        self._settle(tx, tx.invoice_id, tx.sale_order_id)

    @api.model
    def _settle(self, tx, invoice=None, order=None, partner=None, note=None):
        """Post the money of ``tx`` against an invoice, an order, or a customer's account."""
        if tx.payment_ids:
            return tx.payment_ids
        invoices = self.env["account.invoice"]
        if invoice and invoice.state != "open":
            # Paid (or cancelled) another way meanwhile: the money stays on
            # the customer's account as credit instead of failing to post.
            tx.message_post(body=_("Invoice %(invoice)s was %(state)s when the payment arrived; "
                                   "the payment is kept as customer credit.") % {
                "invoice": invoice.display_name, "state": invoice.state})
            partner = partner or invoice.partner_id
            invoice = None
        if invoice:
            invoices = invoice
        elif order:
            if order.state in ("draft", "sent") and self._order_fully_paid(order, tx):
                order.action_confirm()
            invoices = order.invoice_ids.filtered(lambda i: i.state == "open" and i.type == "out_invoice")
        partner = partner or (invoices[:1].partner_id or (order and order.partner_id) or tx.partner_id)
        if not partner:
            raise UserError(_("M-Pesa transaction %s has no customer to post to.") % tx.display_name)
        payments = self._post_payment(tx, [(invoices, tx.amount)], partner)
        tx.write({
            "state": "done",
            "partner_id": partner.commercial_partner_id.id,
            "invoice_id": invoices[:1].id or tx.invoice_id.id,
            "sale_order_id": order.id if order else tx.sale_order_id.id,
            "review_reason": False,
        })
        self._note_documents(tx, invoices, order, note)
        return payments

    @api.model
    def _settle_split(self, tx, allocations):
        """Post ``tx`` across several invoices of one customer; the rest becomes credit."""
        invoices = self.env["account.invoice"].browse([invoice.id for invoice, _amount in allocations])
        partners = invoices.mapped("commercial_partner_id")
        if len(partners) != 1:
            raise UserError(_("A split must stay within one customer; these invoices belong to %s.")
                            % ", ".join(partners.mapped("display_name")))
        total = sum(amount for _invoice, amount in allocations)
        if float_compare(total, tx.amount, 2) > 0:
            raise UserError(_("The split allocates %(total).2f but the payment %(name)s is %(amount).2f.")
                            % {"total": total, "name": tx.display_name, "amount": tx.amount})
        for invoice, amount in allocations:
            if float_compare(amount, 0.0, 2) <= 0 or invoice.state != "open":
                raise UserError(_("Invoice %(invoice)s cannot take %(amount).2f: each line needs an open "
                                  "invoice and a positive amount.") % {"invoice": invoice.display_name,
                                                                       "amount": amount})
        parts = list(allocations)
        rest = tx.amount - total
        if float_compare(rest, 0.0, 2) > 0:
            parts.append((self.env["account.invoice"], rest))
        self._post_payment(tx, parts, partners)
        tx.write({"state": "done", "partner_id": partners.id, "invoice_id": invoices[:1].id, "review_reason": False})
        self._note_documents(tx, invoices, None)
        return tx.payment_ids

    @api.model
    def _order_fully_paid(self, order, tx):
        paid = sum(order.mpesa_transaction_ids.filtered(
            lambda t: t.state == "done" and not t.linked_transaction_id).mapped("amount"))
        return float_compare(paid + tx.amount, order.amount_total, 2) >= 0

    @api.model
    def _post_payment(self, tx, allocations, partner):
        """Create and post one payment per (invoices, amount) allocation of ``tx``.

        :param allocations: list of (account.invoice recordset, amount); an
            empty recordset posts the amount as customer credit.
        """
        if not tx.acquirer_id.journal_id:
            tx.acquirer_id.sudo()._mpesa_ensure_journal()
        journal = tx.acquirer_id.journal_id
        if not journal:
            raise UserError(_(
                "The M-Pesa acquirer %s has no payment journal. Set one in its Configuration tab."
            ) % tx.acquirer_id.name)
        method = self.env.ref("account.account_payment_method_manual_in")
        payments = self.env["account.payment"]
        for invoices, amount in allocations:
            communication = " ".join(filter(None, [tx.receipt] + invoices.mapped("number")))
            payment = self.env["account.payment"].create({
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": partner.commercial_partner_id.id,
                "amount": amount,
                "currency_id": tx.currency_id.id,
                "journal_id": journal.id,
                "payment_date": fields.Date.context_today(self),
                "payment_method_id": method.id,
                "communication": communication,
                "invoice_ids": [(6, 0, invoices.ids)],
                "payment_difference_handling": "open",
                "payment_transaction_id": tx.payment_transaction_id.id,
                "mpesa_transaction_id": tx.id,
                "mpesa_receipt": tx.receipt or tx.linked_transaction_id.receipt,
                "mpesa_phone": tx.phone_masked,
            })
            payment.post()
            payments |= payment
        _logger.info("M-Pesa receipt %s posted as account.payment %s", tx.receipt, payments.ids)
        return payments

    @api.model
    def _note_documents(self, tx, invoices, order, note=None):
        """Write one line in the transaction's history, and on an order that has no invoice yet.

        Invoices show the payment in their payments widget already.
        """
        body = _("Posted as %(payments)s: %(amount)s received from %(phone)s.") % {
            "payments": ", ".join(tx.payment_ids.mapped("name")), "amount": tx.amount,
            "phone": tx.phone_masked or _("an unknown number")}
        if note:
            body = "%s %s" % (note, body)
        tx.message_post(body=body)
        if order and not invoices:
            order.message_post(body=_("M-Pesa payment %(receipt)s of %(amount)s received.") % {
                "receipt": tx.receipt, "amount": tx.amount})

    # ------------------------------------------------------------------
    # Matching C2B payments
    # ------------------------------------------------------------------

    @api.model
    def _build_index(self, company_ids):
        """Index the open invoices and orders of these companies, and customers' numbers.

        Plain SQL, because matching runs for every C2B payment and month-end
        imports bring thousands at once; the rows are read once per batch.
        """
        index = MatchIndex()
        cr = self.env.cr
        # Building creates hundreds of thousands of small objects; the cyclic
        # garbage collector would scan them again and again for nothing.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._fill_index(index, cr, company_ids)
        finally:
            if collecting:
                gc.enable()
        return index

    @api.model
    def _fill_index(self, index, cr, company_ids, invoice_ids=None, order_ids=None):
        """Add the open documents of these companies to ``index``, and the customers' numbers.

        With ``invoice_ids`` or ``order_ids``, only those documents are
        read again, and numbers are left as they are.
        """
        companies = tuple(company_ids) or (0,)
        refreshing = invoice_ids is not None or order_ids is not None
        only_invoices = "AND id IN %s" if refreshing else ""
        only_orders = "AND so.id IN %s" if refreshing else ""
        # The invoice's free-text description (name) is not a reference
        # customers are given, so it is left out.
        # M-Pesa pays in KES only, so documents in other currencies are left out.
        kes = self.env.ref("base.KES").id
        cr.execute(
            """SELECT id, number, reference, origin, commercial_partner_id, residual
               FROM account_invoice
               WHERE type = 'out_invoice' AND state = 'open' AND company_id IN %s
                 AND currency_id = %s """ + only_invoices,
            (companies, kes) + ((tuple(invoice_ids) or (0,),) if refreshing else ()),
        )
        for invoice_id, number, reference, origin, partner_id, residual in cr.fetchall():
            target = Target("account.invoice", invoice_id, number, partner_id, residual or 0.0)
            index.add_target(target, [number, reference, origin])

        # Orders already invoiced are reached through their invoices (whose
        # origin is the order name), so only orders still to invoice count.
        cr.execute(
            """SELECT so.id, so.name, so.client_order_ref, partner.commercial_partner_id,
                      so.amount_total - COALESCE(paid.amount, 0)
               FROM sale_order so
               JOIN res_partner partner ON partner.id = so.partner_id
               JOIN product_pricelist pricelist ON pricelist.id = so.pricelist_id
               LEFT JOIN (SELECT sale_order_id, SUM(amount) AS amount FROM mpesa_transaction
                          WHERE state = 'done' AND sale_order_id IS NOT NULL
                                AND linked_transaction_id IS NULL
                          GROUP BY sale_order_id) paid ON paid.sale_order_id = so.id
               WHERE so.company_id IN %s AND pricelist.currency_id = %s
                 AND (so.state IN ('draft', 'sent')
                      OR (so.state = 'sale' AND so.invoice_status IN ('to invoice', 'no')))
                 AND so.amount_total - COALESCE(paid.amount, 0) > 0 """ + only_orders,
            (companies, kes) + ((tuple(order_ids) or (0,),) if refreshing else ()),
        )
        for order_id, name, client_ref, partner_id, due in cr.fetchall():
            index.add_target(Target("sale.order", order_id, name, partner_id, due), [name, client_ref])
        if not refreshing:
            self._fill_phones(index, cr)

    @api.model
    def _fill_phones(self, index, cr):
        """Add every active customer's M-Pesa number to ``index``."""
        cr.execute(
            """SELECT commercial_partner_id, mpesa_msisdn FROM res_partner
               WHERE mpesa_msisdn IS NOT NULL AND active"""
        )
        for partner_id, msisdn in cr.fetchall():
            index.add_partner_phone(partner_id, msisdn)

    @api.model
    def _shared_index(self, company_ids, rebuild=False):
        """Return (SharedIndex of these companies for this thread, whether it was built by this call).

        Documents changed since the build are read again first. Outside
        shared_match_index() each call builds a new index.
        """
        cr = self.env.cr
        indexes = getattr(_local, "indexes", None)
        key = (cr.dbname, tuple(sorted(company_ids)))
        shared = indexes.get(key) if indexes is not None else None
        if shared is None or rebuild or shared.age() > SHARED_INDEX_MAX_AGE:
            cr.execute("SELECT now() AT TIME ZONE 'UTC'")
            database_time = cr.fetchone()[0]
            shared = SharedIndex(self._build_index(company_ids), database_time)
            if indexes is not None:
                indexes[key] = shared
            return shared, True

        # Odoo reads timestamps as strings, so the margin is taken off in SQL.
        since = (shared.database_time, CHANGED_DOCUMENTS_MARGIN)
        companies = tuple(company_ids) or (0,)
        cr.execute("SELECT id FROM account_invoice WHERE write_date >= %s::timestamp - make_interval(secs => %s) "
                   "AND type = 'out_invoice' AND company_id IN %s", since + (companies,))
        shared.reread["account.invoice"].update(row[0] for row in cr.fetchall())
        cr.execute("SELECT id FROM sale_order WHERE write_date >= %s::timestamp - make_interval(secs => %s) "
                   "AND company_id IN %s", since + (companies,))
        shared.reread["sale.order"].update(row[0] for row in cr.fetchall())
        self._reread(shared, company_ids, shared.reread)

        # A contact written since then may have a new number, or none: when
        # the numbers of those contacts change, every number is indexed again
        # (a few milliseconds for thousands of customers). Writes that leave
        # the numbers alone, as posting a payment does, change nothing.
        cr.execute("SELECT commercial_partner_id, mpesa_msisdn, active FROM res_partner "
                   "WHERE write_date >= %s::timestamp - make_interval(secs => %s)", since)
        partner_changes = set(cr.fetchall())
        if partner_changes != shared.partner_changes:
            shared.index.clear_phones()
            self._fill_phones(shared.index, cr)
            shared.partner_changes = partner_changes
        return shared, False

    @api.model
    def _reread(self, shared, company_ids, ids_by_model):
        """Index these documents of ``shared`` again as the database has them now; drop those no longer open."""
        if not any(ids_by_model.values()):
            return
        for model, ids in ids_by_model.items():
            for res_id in ids:
                shared.index.discard_target(model, res_id)
        self._fill_index(shared.index, self.env.cr, company_ids, invoice_ids=ids_by_model["account.invoice"],
                         order_ids=ids_by_model["sale.order"])

    @api.model
    def _reread_stale_suggestions(self, shared, company_ids, suggestions):
        """Index again the suggested documents that differ from the database; return whether any did."""
        suggested = _ids_by_model()
        for suggestion in suggestions:
            suggested[suggestion.target.model].add(suggestion.target.id)
        current = MatchIndex()
        self._fill_index(current, self.env.cr, company_ids, invoice_ids=suggested["account.invoice"],
                         order_ids=suggested["sale.order"])
        stale = _ids_by_model()
        for model, ids in suggested.items():
            for res_id in ids:
                if current.targets.get((model, res_id)) != shared.index.targets.get((model, res_id)):
                    stale[model].add(res_id)
                    shared.reread[model].add(res_id)
        self._reread(shared, company_ids, stale)
        return any(stale.values())

    @api.model
    def _match_and_settle(self, txs):
        """Match received C2B transactions; post the confident ones, queue the rest for review."""
        company_ids = txs.mapped("company_id").ids
        with shared_match_index():
            for tx in txs:
                self._match_and_settle_one(tx, company_ids)
        return True

    @api.model
    def _match_and_settle_one(self, tx, company_ids):
        """Match one C2B transaction on the shared index; post it when confident, else queue it for review."""
        self._apply_match(tx, self._find_match(tx, company_ids))

    @api.model
    def _find_match(self, tx, company_ids):
        """Return the suggestions for one C2B transaction, best first."""
        shared, built = self._shared_index(company_ids)
        for _round in range(MAX_STALE_ROUNDS):
            suggestions = shared.index.match(tx.account_reference, tx.sudo().phone, tx.phone_kind, tx.amount)
            if built or not self._reread_stale_suggestions(shared, company_ids, suggestions):
                return suggestions
        shared, built = self._shared_index(company_ids, rebuild=True)
        return shared.index.match(tx.account_reference, tx.sudo().phone, tx.phone_kind, tx.amount)

    @api.model
    def _apply_match(self, tx, suggestions):
        """Post ``tx`` to its best suggestion when confident, else send it to review."""
        tx._store_suggestions(suggestions)
        if is_confident(suggestions):
            best = suggestions[0].target
            document = self.env[best.model].browse(best.id)
            note = _("Matched automatically: %s.") % "; ".join(suggestions[0].reasons)
            if best.model == "account.invoice":
                self._settle(tx, invoice=document, note=note)
            else:
                self._settle(tx, order=document, note=note)
        else:
            tx._send_to_review(suggestions)
