"""Time matching C2B confirmations one at a time, as the callback worker does, with and without a shared index.

The worker processes one confirmation per database transaction. With a
shared index it builds the index once and, before each payment, reads
again the documents written since shortly before the build. Without one,
every payment builds the index anew. Both sides run among the same open invoices (the bulk ones
of bench/data.py plus the ones paid here) and post every payment, but only
finding the match is timed: ``mpesa.reconcile._find_match``.
"""
import contextlib
import statistics
import time

from bench import data
from bench.posting import SHORTCODE, _make_customers, _make_transaction


def _time_side(env, invoices, transactions, shared):
    """Match and post each transaction in turn; return the seconds each match took."""
    from odoo.addons.mpesa_paybill.models.mpesa_reconcile import shared_match_index

    reconcile = env["mpesa.reconcile"]
    company_ids = env.user.company_id.ids
    seconds = []
    with shared_match_index() if shared else contextlib.nullcontext():
        for tx in transactions:
            started = time.perf_counter()
            suggestions = reconcile._find_match(tx, company_ids)
            seconds.append(time.perf_counter() - started)
            reconcile._apply_match(tx, suggestions)

    env.cache.invalidate()
    paid = sum(1 for invoice in invoices if invoice.state == "paid")
    if paid != len(invoices):
        raise RuntimeError("Only %d of %d invoices were paid on the %s side; the two sides did unlike work."
                           % (paid, len(invoices), "shared" if shared else "fresh"))
    return seconds


def run(env, size, count):
    """Insert ``size`` open invoices as background, then match and post ``count`` payments on each side."""
    acquirer = env.ref("mpesa_paybill.payment_acquirer_mpesa")
    if not acquirer.mpesa_shortcode:
        acquirer.mpesa_shortcode = SHORTCODE
    acquirer._mpesa_ensure_journal()
    background = data.insert_invoices(env, size)
    # Open invoices and their customers are usually written days before a
    # payment. Inserted in this transaction, they would carry its start time
    # as write_date, and the shared index would read all of them again for
    # every payment.
    background_ids = [invoice.id for invoice in background]
    env.cr.execute("UPDATE res_partner SET write_date = write_date - interval '3 days' WHERE id IN "
                   "(SELECT commercial_partner_id FROM account_invoice WHERE id = ANY(%s))", (background_ids,))
    env.cr.execute("UPDATE account_invoice SET write_date = write_date - interval '3 days' WHERE id = ANY(%s)",
                   (background_ids,))
    revenue = env["account.account"].search(
        [("user_type_id", "=", env.ref("account.data_account_type_revenue").id)], limit=1)
    customers = _make_customers(env)

    sides = {}
    for offset, shared in ((0, True), (count, False)):
        invoices = [data.make_open_invoice(env, customers[number % len(customers)],
                                           float(700 + number), revenue)
                    for number in range(offset, offset + count)]
        invoices = [env["account.invoice"].browse(invoice.id) for invoice in invoices]
        transactions = [env["mpesa.transaction"].browse(_make_transaction(env, acquirer, invoice, number).id)
                        for number, invoice in zip(range(offset, offset + count), invoices)]
        env.cache.invalidate()
        sides["shared" if shared else "fresh"] = _time_side(env, invoices, transactions, shared)

    return {
        "benchmark": "worker_path",
        "size": size,
        "count": count,
        "shared": {"mean_seconds": statistics.mean(sides["shared"]),
                   "median_seconds": statistics.median(sides["shared"]),
                   "first_seconds": sides["shared"][0]},
        "fresh": {"mean_seconds": statistics.mean(sides["fresh"]),
                  "median_seconds": statistics.median(sides["fresh"])},
    }
