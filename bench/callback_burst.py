"""Measure how fast a real Odoo acknowledges a burst of C2B confirmations.

Daraja waits for each acknowledgement, and posting one payment costs about
a quarter of a second, so the routes only store the body and acknowledge it, and a
worker thread posts afterwards. This sends N confirmations from C parallel
senders to a real Odoo server (a copy of the test database, served with
--workers 0 as `make run` does) and prints the acknowledgement times and
how long the worker took to post them all::

    .venv/bin/python bench/callback_burst.py --payments 200 --senders 20

It needs the database that `make test` creates (mpesa_paybill_test), or
another one named with --template and --config.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests"), os.path.join(ROOT, "tools")]

from odoo_server import SystemStack  # noqa: E402


def confirmation(index, invoice_number, amount):
    return json.dumps({
        "TransactionType": "Pay Bill",
        "TransID": "BRST%06d" % index,
        "TransTime": time.strftime("%Y%m%d%H%M%S"),
        "TransAmount": "%.2f" % amount,
        "BusinessShortCode": "600000",
        "BillRefNumber": invoice_number.lower().replace("/", " "),
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": "2547%08d" % index,
        "FirstName": "BURST",
        "MiddleName": "",
        "LastName": "",
    })


def create_invoices(rpc, count):
    """Create ``count`` open KES invoices of 100 shillings through JSON-RPC; return their numbers."""
    kes = rpc.ref("base.KES")
    revenue = rpc.ref("account.data_account_type_revenue")
    account = rpc.search_read("account.account", [("user_type_id", "=", revenue)], ["id"])[0]["id"]
    partner = rpc.create("res.partner", {"name": "Burst customer", "customer": True})
    numbers = []
    for _index in range(count):
        invoice_id = rpc.create("account.invoice", {
            "partner_id": partner, "type": "out_invoice", "currency_id": kes,
            "invoice_line_ids": [(0, 0, {"name": "Burst", "quantity": 1, "price_unit": 100.0,
                                         "account_id": account, "invoice_line_tax_ids": [(6, 0, [])]})],
        })
        rpc.call_button("account.invoice", "action_invoice_open", [invoice_id])
        numbers.append(rpc.read_one("account.invoice", invoice_id, ["number"])["number"])
    return numbers


def send_burst(url, bodies, senders):
    """POST every body with ``senders`` threads; return the acknowledgement times in seconds."""
    times = []
    errors = []
    lock = threading.Lock()
    queue = list(enumerate(bodies))

    def sender():
        session = requests.Session()
        session.trust_env = False
        while True:
            with lock:
                if not queue:
                    return
                _index, body = queue.pop()
            started = time.perf_counter()
            response = session.post(url, data=body, timeout=30,
                                    headers={"Content-Type": "application/json"})
            elapsed = time.perf_counter() - started
            with lock:
                times.append(elapsed)
                if response.status_code != 200 or response.json().get("ResultCode") != 0:
                    errors.append(response.text[:200])

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError("%d confirmations were not acknowledged, e.g. %s" % (len(errors), errors[0]))
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=200)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--config", default=os.path.join(ROOT, "var", "test.conf"))
    parser.add_argument("--template", default="mpesa_paybill_test")
    args = parser.parse_args()

    with SystemStack(config_path=args.config, db="mpesa_paybill_burst", template=args.template) as stack:
        rpc = stack.rpc
        numbers = create_invoices(rpc, args.payments)
        secret = rpc.read_one("payment.acquirer", stack.acquirer_id, ["mpesa_callback_secret"])
        url = "%s/payment/lipa/%s/%s/c2b-confirmation" % (
            stack.odoo.base_url, stack.acquirer_id, secret["mpesa_callback_secret"])
        bodies = [confirmation(index, number, 100) for index, number in enumerate(numbers)]

        started = time.perf_counter()
        times = send_burst(url, bodies, args.senders)
        acknowledged = time.perf_counter() - started
        while True:
            done = rpc.call_kw("mpesa.transaction", "search_count",
                               [[("receipt", "like", "BRST%"), ("state", "=", "done")]])
            if done >= args.payments or time.perf_counter() - started > 600:
                break
            time.sleep(0.5)
        processed = time.perf_counter() - started

    times.sort()
    print("C2B confirmation burst: %d payments from %d parallel senders" % (args.payments, args.senders))
    print("  acknowledgement  median %.1f ms, 95th percentile %.1f ms, max %.1f ms" % (
        1000 * statistics.median(times), 1000 * times[int(0.95 * (len(times) - 1))], 1000 * times[-1]))
    print("  all acknowledged after %.2f s; %d of %d posted and reconciled after %.2f s (%.0f ms each)" % (
        acknowledged, done, args.payments, processed, 1000 * processed / max(done, 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
