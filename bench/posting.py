"""Time posting a matched payment: our ``mpesa.reconcile._settle`` beside Odoo's ``pay_and_reconcile``.

Each side gets its own fresh invoices, created and validated through the
ORM, for the same customers and amounts. The two sides take turns, one
payment each, and the side that goes first alternates, so that slow drift
(growing tables, a warmer cache) weighs on both alike. Both post in the
M-Pesa acquirer's journal.

Ours is timed from the call to ``_settle`` on an ``mpesa.transaction``
already received and matched. Creating that transaction is set-up, because
it happens when the confirmation arrives, before matching.
"""
import statistics
import time

from bench.data import make_open_invoice

CUSTOMERS = 20
SHORTCODE = "600000"


def _make_customers(env):
    return [env["res.partner"].create({
        "name": "Posting customer %02d" % number,
        "customer": True,
        "mobile": "0799 100 %03d" % number,
        "country_id": env.ref("base.ke").id,
    }) for number in range(1, CUSTOMERS + 1)]


def _make_transaction(env, acquirer, invoice, number):
    return env["mpesa.transaction"].create({
        "channel": "c2b",
        "acquirer_id": acquirer.id,
        "shortcode": SHORTCODE,
        "receipt": "BNC%07d" % number,
        "amount": invoice.residual,
        "currency_id": env.ref("base.KES").id,
        "phone": "254799100001",
        "phone_masked": "2547*****001",
        "phone_kind": "plain",
        "account_reference": invoice.number,
        "result_code": "0",
        "state": "received",
    })


def _summary(seconds):
    return {
        "count": len(seconds),
        "total_seconds": sum(seconds),
        "mean_seconds": statistics.mean(seconds),
        "median_seconds": statistics.median(seconds),
        "min_seconds": min(seconds),
        "max_seconds": max(seconds),
    }


def run(env, count, warmup, profilers=None):
    """Post ``count`` payments on each side after ``warmup`` untimed ones, and return the figures.

    :param profilers: optional dict of cProfile.Profile by side ("ours",
        "baseline"), enabled around that side's timed posts. A profiled
        run's times are inflated, so only its profile is of use.
    """
    acquirer = env.ref("mpesa_paybill.payment_acquirer_mpesa")
    if not acquirer.mpesa_shortcode:
        acquirer.mpesa_shortcode = SHORTCODE
    acquirer._mpesa_ensure_journal()
    journal = acquirer.journal_id
    revenue = env["account.account"].search(
        [("user_type_id", "=", env.ref("account.data_account_type_revenue").id)], limit=1)
    customers = _make_customers(env)

    # Fresh invoices for each side, same customer and amount at each position.
    total = warmup + count
    started = time.perf_counter()
    ours_invoices, baseline_invoices = [], []
    for number in range(total):
        customer = customers[number % CUSTOMERS]
        amount = float(500 + (number * 7331) % 49000)
        ours_invoices.append(make_open_invoice(env, customer, amount, revenue))
        baseline_invoices.append(make_open_invoice(env, customer, amount, revenue))
    invoice_seconds = (time.perf_counter() - started) / (2 * total)
    transactions = [_make_transaction(env, acquirer, invoice, number)
                    for number, invoice in enumerate(ours_invoices)]

    # Records returned by create() carry the context it set (account.invoice
    # adds mail_create_nolog, which would spare the baseline's payment its
    # "created" message). Callers in production browse their records, so
    # both sides get plain ones here.
    ours_invoices = [env["account.invoice"].browse(invoice.id) for invoice in ours_invoices]
    baseline_invoices = [env["account.invoice"].browse(invoice.id) for invoice in baseline_invoices]
    transactions = [env["mpesa.transaction"].browse(tx.id) for tx in transactions]
    env.cache.invalidate()

    reconcile = env["mpesa.reconcile"]

    def post_ours(number):
        reconcile._settle(transactions[number], invoice=ours_invoices[number])

    def post_baseline(number):
        invoice = baseline_invoices[number]
        invoice.pay_and_reconcile(journal, invoice.residual)

    profilers = profilers or {}
    ours_seconds, baseline_seconds = [], []
    for number in range(total):
        turns = [("ours", post_ours, ours_seconds), ("baseline", post_baseline, baseline_seconds)]
        if number % 2:
            turns.reverse()
        for side, post, seconds in turns:
            profiler = profilers.get(side) if number >= warmup else None
            if profiler:
                profiler.enable()
            started = time.perf_counter()
            post(number)
            elapsed = time.perf_counter() - started
            if profiler:
                profiler.disable()
            if number >= warmup:
                seconds.append(elapsed)

    # Both sides must have paid every invoice, or the times compare unlike work.
    env.cache.invalidate()
    paid_ours = sum(1 for invoice in ours_invoices if invoice.state == "paid")
    paid_baseline = sum(1 for invoice in baseline_invoices if invoice.state == "paid")
    done = sum(1 for tx in transactions if tx.state == "done" and len(tx.payment_ids) == 1)
    if paid_ours != total or paid_baseline != total or done != total:
        raise RuntimeError("Posting left invoices unpaid: ours %d of %d paid (%d transactions done), baseline %d "
                           "of %d paid." % (paid_ours, total, done, paid_baseline, total))

    return {
        "benchmark": "posting",
        "journal": journal.name,
        "warmup": warmup,
        "invoice_seconds": invoice_seconds,
        "ours": _summary(ours_seconds),
        "baseline": _summary(baseline_seconds),
        "profiled": sorted(profilers),
    }
