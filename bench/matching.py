"""Time how long each method takes to find the targets of C2B payments, and count how often it is right.

``ours`` is what ``mpesa.reconcile._match_and_settle`` does before it posts:
build the ``MatchIndex`` once with SQL, then match every payment and decide
whether the best suggestion is confident. Storing suggestions and posting
are left out. ``naive`` is what most M-Pesa integrations do: one exact ORM
search on the invoice number per payment, then one on the sale order name
when no open invoice has that number.

Both read the payments from memory, as parsed from Daraja's confirmations,
and run as the superuser, so no record rule slows either down.
"""
import gc
import statistics
import time
import tracemalloc
from collections import Counter, OrderedDict

from bench import data

ORDER_STATES = ("draft", "sent", "sale")


# ----------------------------------------------------------------------
# Memory of this process
# ----------------------------------------------------------------------

def read_rss():
    """Return (current, peak) resident set size of this process in bytes, from /proc/self/status."""
    sizes = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                sizes[name] = int(value.split()[0]) * 1024
    return sizes["VmRSS"], sizes["VmHWM"]


def reset_peak_rss():
    """Reset the kernel's peak RSS of this process to its current RSS; return whether that worked."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


# ----------------------------------------------------------------------
# The two methods
# ----------------------------------------------------------------------

def find_ours(env, payments):
    """Match ``payments`` with the MatchIndex.

    :return: (seconds to build the index, seconds to match, number of
        indexed documents, one decision per payment). A decision is
        (model, id, posted), or None when nothing matched. For a payment
        that goes to review, ``posted`` is False and (model, id) is the top
        suggestion.
    """
    from odoo.addons.mpesa_paybill.models.matching import is_confident

    started = time.perf_counter()
    index = env["mpesa.reconcile"]._build_index(env.user.company_id.ids)
    built = time.perf_counter()

    decisions = []
    for payment in payments:
        suggestions = index.match(payment.bill_ref, payment.msisdn, payment.msisdn_kind, payment.amount)
        if not suggestions:
            decisions.append(None)
            continue
        best = suggestions[0].target
        decisions.append((best.model, best.id, is_confident(suggestions)))
    finished = time.perf_counter()
    return built - started, finished - built, len(index.targets), decisions


def find_naive(env, payments):
    """Look each payment's reference up with one exact ORM search, as most integrations do.

    :return: (0, seconds, None, one decision per payment): the same shape
        as :func:`find_ours`, with no index to build.
    """
    invoices = env["account.invoice"]
    orders = env["sale.order"]
    started = time.perf_counter()

    decisions = []
    for payment in payments:
        invoice = invoices.search([("number", "=", payment.bill_ref), ("state", "=", "open")], limit=1)
        if invoice:
            decisions.append(("account.invoice", invoice.id, True))
            continue
        order = orders.search([("name", "=", payment.bill_ref), ("state", "in", ORDER_STATES)], limit=1)
        decisions.append(("sale.order", order.id, True) if order else None)
    return 0.0, time.perf_counter() - started, None, decisions


# ----------------------------------------------------------------------
# Checks and scores
# ----------------------------------------------------------------------

def check_orm_sees(env, invoices):
    """Raise RuntimeError unless the ORM finds bulk-inserted invoices as the naive method searches them."""
    from odoo.addons.mpesa_paybill import daraja

    for invoice in (invoices[0], invoices[len(invoices) // 2], invoices[-1]):
        found = env["account.invoice"].search([("number", "=", invoice.number), ("state", "=", "open")])
        if found.ids != [invoice.id]:
            raise RuntimeError("The ORM search for %s found %s instead of invoice %d; the bulk insert in "
                               "bench/data.py is out of step with account.invoice." % (invoice.number, found.ids,
                                                                                       invoice.id))
        customer = found.commercial_partner_id
        if abs(found.residual - invoice.residual) > 0.005 or customer.mpesa_msisdn != invoice.msisdn:
            raise RuntimeError("Invoice %s reads back with residual %s and number %s through the ORM; expected "
                               "%s and %s." % (invoice.number, found.residual, customer.mpesa_msisdn,
                                               invoice.residual, invoice.msisdn))
        if customer.mpesa_msisdn_hash != daraja.hash_msisdn(invoice.msisdn):
            raise RuntimeError("Customer %s has a stored hash that differs from daraja.hash_msisdn; fix the SQL "
                               "hash in bench/data.py." % customer.name)


def score(payments, decisions):
    """Count, per reference shape, the payments posted right, posted wrong, or left for review.

    ``right`` counts payments posted to the invoice they were meant for.
    ``wrong`` counts payments posted to any other document, including those
    whose reference belongs to nothing. ``suggested`` counts payments left
    for review whose top suggestion is the right invoice.
    """
    rows = OrderedDict((shape, Counter()) for shape, _weight in data.SHAPE_WEIGHTS)
    for payment, decision in zip(payments, decisions):
        row = rows[payment.shape]
        row["payments"] += 1
        on_target = (decision is not None and payment.expected_id is not None
                     and decision[:2] == ("account.invoice", payment.expected_id))
        if decision is not None and decision[2]:
            row["right" if on_target else "wrong"] += 1
        else:
            row["not placed"] += 1
            if on_target:
                row["suggested"] += 1
    return OrderedDict((shape, dict(counts)) for shape, counts in rows.items())


# ----------------------------------------------------------------------
# One benchmark run
# ----------------------------------------------------------------------

def run(env, size, method, repeats, profiler=None):
    """Insert ``size`` invoices and payments, then time ``method`` once cold and ``repeats`` times more.

    The cold run measures RSS growth; a last run under tracemalloc measures
    the peak of Python allocations (it is slower, so it is not timed).
    """
    find = find_ours if method == "ours" else find_naive

    started = time.perf_counter()
    invoices = data.insert_invoices(env, size)
    payments = data.make_payments(invoices)
    check_orm_sees(env, invoices)
    setup_seconds = time.perf_counter() - started

    # Cold run: how much the process grows to do the work once.
    gc.collect()
    peak_known = reset_peak_rss()
    rss_before, _peak = read_rss()
    cold = find(env, payments)
    rss_after, rss_peak = read_rss()
    decisions = cold[3]

    builds, matches = [], []
    for _repeat in range(repeats):
        build_seconds, match_seconds, _targets, repeated = find(env, payments)
        if repeated != decisions:
            raise RuntimeError("Method %s decided differently on a repeated run; matching must be "
                               "deterministic." % method)
        builds.append(build_seconds)
        matches.append(match_seconds)
    totals = [build + match for build, match in zip(builds, matches)]

    gc.collect()
    tracemalloc.start()
    find(env, payments)
    _current, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    if profiler is not None:
        profiler.enable()
        find(env, payments)
        profiler.disable()

    outcomes = score(payments, decisions)
    exact = outcomes["exact"]
    if method == "naive" and exact.get("right", 0) != exact.get("payments", 0):
        raise RuntimeError("The naive lookup placed %s of %s exact references; the bulk-inserted invoices are not "
                           "what the ORM searches." % (exact.get("right", 0), exact.get("payments", 0)))

    return {
        "benchmark": "matching",
        "method": method,
        "size": size,
        "payments": len(payments),
        "indexed_documents": cold[2],
        "setup_seconds": setup_seconds,
        "cold_seconds": cold[0] + cold[1],
        "build_seconds": statistics.median(builds) if builds else cold[0],
        "match_seconds": statistics.median(matches) if matches else cold[1],
        "total_seconds": statistics.median(totals) if totals else cold[0] + cold[1],
        "all_total_seconds": totals,
        "rss_growth_bytes": rss_after - rss_before,
        "rss_peak_growth_bytes": rss_peak - rss_before if peak_known else None,
        "tracemalloc_peak_bytes": traced_peak,
        "outcomes": outcomes,
    }
