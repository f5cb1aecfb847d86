"""Play a scripted business day of M-Pesa traffic against a running Odoo and offline sandbox.

It acts as staff and customers would: staff press Pay via M-Pesa through
Odoo's JSON-RPC (the calls the web client makes), customers answer prompts
and pay the PayBill from the SIM menu through the sandbox's control API.
At the end it prints what happened to every payment and what waits for
review. Against ``make run``::

    .venv/bin/python tools/business_day.py

The system test tests/test_business_day.py runs it on a fresh database
and checks every line of the summary.
"""
import argparse
import os
import random
import sys
import time
from collections import namedtuple

import requests

from odoo_rpc import OdooRpc

Row = namedtuple("Row", "step channel reference amount document outcome")

# States after which a transaction changes no more without a person.
SETTLED = ("done", "failed", "review", "set_aside")


class BusinessDay(object):
    """One scripted day: documents, payments and the summary they end in.

    :param rpc: an authenticated OdooRpc session of a user who may sell and invoice
    :param sandbox_url: base URL of the offline Daraja sandbox Odoo is configured with
    """

    def __init__(self, rpc, sandbox_url, timeout=30, seed=None):
        self.rpc = rpc
        self.sandbox_url = sandbox_url.rstrip("/")
        self.timeout = timeout
        self.random = random.Random(seed)
        self.rows = []
        self.transaction_ids = []
        self.acquirer_id = rpc.ref("mpesa_paybill.payment_acquirer_mpesa")
        self.kes = rpc.ref("base.KES")
        self.shortcode = rpc.read_one("payment.acquirer", self.acquirer_id, ["mpesa_shortcode"])["mpesa_shortcode"]

    # Sandbox control --------------------------------------------------

    def sandbox(self, path, payload=None, method="POST"):
        response = requests.request(method, self.sandbox_url + path, json=payload, timeout=15)
        if response.status_code >= 300:
            raise RuntimeError("sandbox %s %s returned HTTP %s: %s" % (
                method, path, response.status_code, response.text[:300]))
        return response.json()

    def phone_number(self):
        # Random valid-looking Safaricom numbers; no demo customer has them.
        return "2547%08d" % self.random.randint(0, 99999999)

    # Documents --------------------------------------------------------

    def customer(self, name):
        phone = self.phone_number()
        partner_id = self.rpc.create("res.partner", {
            "name": name, "customer": True, "mobile": "0%s" % phone[3:], "country_id": self.rpc.ref("base.ke")})
        return partner_id, phone

    def product(self):
        return self.rpc.create("product.product", {
            "name": "Unga wa ngano 2 kg", "type": "consu", "list_price": 180.0, "invoice_policy": "order"})

    def order(self, partner_id, product_id, amount):
        pricelists = self.rpc.search_read("product.pricelist", [("currency_id", "=", self.kes)], ["id"])
        return self.rpc.create("sale.order", {
            "partner_id": partner_id,
            "pricelist_id": pricelists[0]["id"],
            "order_line": [(0, 0, {"product_id": product_id, "product_uom_qty": 1,
                                   "price_unit": amount, "tax_id": [(6, 0, [])]})],
        })

    def invoice(self, partner_id, product_id, amount):
        revenue = self.rpc.ref("account.data_account_type_revenue")
        account = self.rpc.search_read("account.account", [("user_type_id", "=", revenue)], ["id"])[0]["id"]
        invoice_id = self.rpc.create("account.invoice", {
            "partner_id": partner_id,
            "type": "out_invoice",
            "currency_id": self.kes,
            "invoice_line_ids": [(0, 0, {"name": "Unga wa ngano 2 kg", "product_id": product_id, "quantity": 1,
                                         "price_unit": amount, "account_id": account,
                                         "invoice_line_tax_ids": [(6, 0, [])]})],
        })
        self.rpc.call_button("account.invoice", "action_invoice_open", [invoice_id])
        return invoice_id

    def document_name(self, model, record_id):
        field = "number" if model == "account.invoice" else "name"
        return self.rpc.read_one(model, record_id, [field])[field]

    # Payments ---------------------------------------------------------

    def pay_via_mpesa(self, model, record_id, phone):
        """Press Pay via M-Pesa, keep the proposed amount, send; return the mpesa.transaction id."""
        action = self.rpc.call_button(model, "action_mpesa_pay", [record_id])
        wizard_id = self.rpc.create("mpesa.stk.push.wizard", {"phone": phone}, context=action["context"])
        self.rpc.call_button("mpesa.stk.push.wizard", "action_send", [wizard_id])
        wizard = self.rpc.read_one("mpesa.stk.push.wizard", wizard_id, ["state", "message", "mpesa_transaction_id"])
        if wizard["state"] != "sent":
            raise RuntimeError("Pay via M-Pesa failed: %s" % wizard["message"])
        tx_id = wizard["mpesa_transaction_id"][0]
        self.transaction_ids.append(tx_id)
        return tx_id

    def checkout_id(self, tx_id):
        return self.rpc.read_one("mpesa.transaction", tx_id, ["checkout_request_id"])["checkout_request_id"]

    def answer(self, tx_id, action):
        return self.sandbox("/sandbox/prompts/%s/answer" % self.checkout_id(tx_id), {"action": action})

    def run_status_cron(self):
        cron_id = self.rpc.ref("mpesa_paybill.ir_cron_mpesa_check_pending")
        self.rpc.call_kw("ir.cron", "method_direct_trigger", [[cron_id]])

    def pay_bill(self, reference, amount, phone):
        """A customer pays the PayBill from the SIM menu; return the TransID."""
        outcome = self.sandbox("/sandbox/c2b/pay", {
            "ShortCode": self.shortcode, "MSISDN": phone, "Amount": amount, "BillRefNumber": reference})
        return outcome["TransID"]

    def wait_settled(self, tx_id=None, receipt=None):
        """Wait until the transaction (by id or receipt) leaves the waiting states; return it."""
        deadline = time.time() + self.timeout
        domain = [("id", "=", tx_id)] if tx_id else [("receipt", "=", receipt)]
        fields = ["state", "receipt", "amount", "result_message", "review_reason", "invoice_id",
                  "sale_order_id", "payment_ids", "channel", "account_reference"]
        while True:
            found = self.rpc.search_read("mpesa.transaction", domain, fields)
            if found and found[0]["state"] in SETTLED:
                if found[0]["id"] not in self.transaction_ids:
                    self.transaction_ids.append(found[0]["id"])
                return found[0]
            if time.time() > deadline:
                raise RuntimeError("M-Pesa transaction %s did not settle within %s s (last seen: %s)" % (
                    tx_id or receipt, self.timeout, found[0]["state"] if found else "not recorded"))
            time.sleep(0.3)

    # The day ----------------------------------------------------------

    def run(self):
        stamp = time.strftime("%H%M%S")
        product_id = self.product()
        people = {name: self.customer("%s %s" % (name, stamp)) for name in (
            "Wanjiku Kamau", "Otieno Hardware", "Achieng Odhiambo", "Mutua Stores",
            "Chebet Farm Supplies", "Njeri Salon", "Kiprop Agrovet", "Ali Electronics")}
        self.sandbox("/sandbox/quirks", {"stk_c2b_echo": True, "drop_callbacks": False})
        # The status cron may query a request as soon as it is sent, so the
        # day does not wait the minutes a real till would.
        self.rpc.write("payment.acquirer", [self.acquirer_id], {"mpesa_query_after": 0})
        self.rpc.call_button("payment.acquirer", "action_mpesa_register_c2b_urls", [self.acquirer_id])

        self.stk_paid(people["Wanjiku Kamau"], product_id)
        self.stk_cancelled(people["Otieno Hardware"], product_id)
        self.stk_no_answer(people["Achieng Odhiambo"], product_id)
        self.stk_echoed(people["Mutua Stores"], product_id)
        self.c2b_exact(people["Chebet Farm Supplies"], product_id)
        self.c2b_mistyped(people["Njeri Salon"], product_id)
        self.c2b_partial(people["Kiprop Agrovet"], product_id)
        self.c2b_overpaid(people["Ali Electronics"], product_id)
        self.c2b_unknown()
        return self.summary()

    def stk_paid(self, customer, product_id):
        partner_id, phone = customer
        order_id = self.order(partner_id, product_id, 2450)
        self.sandbox("/sandbox/phones/%s" % phone, {"behaviour": "pay"})
        tx = self.wait_settled(self.pay_via_mpesa("sale.order", order_id, phone))
        state = self.rpc.read_one("sale.order", order_id, ["state"])["state"]
        outcome = "paid, order confirmed" if tx["state"] == "done" and state == "sale" else self.describe(tx)
        self.rows.append(Row("STK paid", "STK", tx["receipt"], 2450, self.document_name("sale.order", order_id), outcome))

    def stk_cancelled(self, customer, product_id):
        partner_id, phone = customer
        order_id = self.order(partner_id, product_id, 1200)
        self.sandbox("/sandbox/phones/%s" % phone, {"behaviour": "cancel"})
        tx = self.wait_settled(self.pay_via_mpesa("sale.order", order_id, phone))
        self.rows.append(Row("STK cancelled", "STK", "-", 1200, self.document_name("sale.order", order_id),
                             self.describe(tx)))

    def stk_no_answer(self, customer, product_id):
        """Send a push the customer ignores and whose result is lost, then let the status cron settle it."""
        partner_id, phone = customer
        invoice_id = self.invoice(partner_id, product_id, 3100)
        self.sandbox("/sandbox/quirks", {"drop_callbacks": True})
        try:
            tx_id = self.pay_via_mpesa("account.invoice", invoice_id, phone)
            self.run_status_cron()
            first = self.rpc.read_one("mpesa.transaction", tx_id, ["state"])["state"]
            self.answer(tx_id, "no_answer")
            self.run_status_cron()
            tx = self.wait_settled(tx_id)
        finally:
            self.sandbox("/sandbox/quirks", {"drop_callbacks": False})
        outcome = "settled by the status cron (was %s): %s" % (first, self.describe(tx))
        self.rows.append(Row("STK no answer", "STK", "-", 3100, self.document_name("account.invoice", invoice_id),
                             outcome))

    def stk_echoed(self, customer, product_id):
        """Pay an STK Push into the PayBill that Safaricom also notifies as C2B."""
        partner_id, phone = customer
        invoice_id = self.invoice(partner_id, product_id, 5600)
        self.sandbox("/sandbox/phones/%s" % phone, {"behaviour": "pay"})
        tx = self.wait_settled(self.pay_via_mpesa("account.invoice", invoice_id, phone))
        echo = self.wait_for_callback("c2b_confirmation", tx["receipt"])
        payments = self.rpc.search_read("account.payment", [("mpesa_receipt", "=", tx["receipt"])], ["id"])
        outcome = "%s; C2B notification %s, %d payment posted" % (
            self.describe(tx), "linked" if echo else "missing", len(payments))
        self.rows.append(Row("STK + C2B", "STK", tx["receipt"], 5600,
                             self.document_name("account.invoice", invoice_id), outcome))

    def wait_for_callback(self, kind, receipt):
        """Wait until Odoo has processed the sandbox's callback of this kind for ``receipt``."""
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            done = self.rpc.search_read("mpesa.callback", [
                ("kind", "=", kind), ("body", "like", receipt), ("state", "!=", "received")], ["id"])
            if done:
                return True
            time.sleep(0.3)
        return False

    def c2b(self, step, reference, amount, phone, invoice_id=None):
        receipt = self.pay_bill(reference, amount, phone)
        tx = self.wait_settled(receipt=receipt)
        document = self.document_name("account.invoice", invoice_id) if invoice_id else "-"
        self.rows.append(Row(step, "C2B", receipt, amount, document, self.describe(tx)))
        return tx

    def c2b_exact(self, customer, product_id):
        invoice_id = self.invoice(customer[0], product_id, 1500)
        self.c2b("C2B exact", self.document_name("account.invoice", invoice_id), 1500, self.phone_number(),
                 invoice_id)

    def c2b_mistyped(self, customer, product_id):
        """Pay with the invoice number one character off, without slashes, from the customer's phone."""
        partner_id, phone = customer
        invoice_id = self.invoice(partner_id, product_id, 800)
        number = self.document_name("account.invoice", invoice_id).replace("/", "")
        typo = number[:-1] + ("7" if number[-1] != "7" else "8")
        self.c2b("C2B mistyped", typo.lower(), 800, phone, invoice_id)

    def c2b_partial(self, customer, product_id):
        invoice_id = self.invoice(customer[0], product_id, 4000)
        number = self.document_name("account.invoice", invoice_id)
        self.c2b("C2B partial", number.replace("/", " "), 1500, self.phone_number(), invoice_id)

    def c2b_overpaid(self, customer, product_id):
        invoice_id = self.invoice(customer[0], product_id, 900)
        number = self.document_name("account.invoice", invoice_id)
        self.c2b("C2B overpaid", number.replace("/", "-"), 1000, self.phone_number(), invoice_id)

    def c2b_unknown(self):
        self.c2b("C2B unknown", "JUMBO 55", 650, self.phone_number())

    # Summary ----------------------------------------------------------

    def describe(self, tx):
        """Put a transaction's end state in the words of the summary."""
        if tx["state"] == "done":
            if tx["invoice_id"]:
                invoice = self.rpc.read_one("account.invoice", tx["invoice_id"][0],
                                            ["state", "residual", "amount_total"])
                if invoice["state"] != "paid":
                    return "paid in part, %.2f still due" % invoice["residual"]
                if tx["amount"] > invoice["amount_total"]:
                    return "paid, invoice reconciled, %.2f left as customer credit" % (
                        tx["amount"] - invoice["amount_total"])
                return "paid, invoice reconciled"
            return "paid"
        if tx["state"] == "failed":
            return "not paid: %s" % tx["result_message"]
        if tx["state"] == "review":
            return "to review: %s" % tx["review_reason"]
        return tx["state"]

    def summary(self):
        txs = self.rpc.search_read("mpesa.transaction", [("id", "in", self.transaction_ids)],
                                   ["state", "amount", "review_reason", "receipt", "payment_ids", "channel",
                                    "linked_transaction_id"])
        posted = [tx for tx in txs if tx["state"] == "done" and not tx["linked_transaction_id"]]
        review = [tx for tx in txs if tx["state"] == "review"]
        payments = self.rpc.search_read("account.payment", [("mpesa_transaction_id", "in", self.transaction_ids),
                                                            ("state", "=", "posted")], ["amount", "mpesa_receipt"])
        touched = self.rpc.search_read("mpesa.transaction", [("id", "in", self.transaction_ids)],
                                       ["invoice_id", "sale_order_id"])
        invoice_ids = sorted({tx["invoice_id"][0] for tx in touched if tx["invoice_id"]})
        order_ids = sorted({tx["sale_order_id"][0] for tx in touched if tx["sale_order_id"]})
        invoices = self.rpc.search_read("account.invoice", [("id", "in", invoice_ids)],
                                        ["state", "residual", "amount_total"])
        orders = self.rpc.search_read("sale.order", [("id", "in", order_ids)], ["state", "mpesa_state"])
        return {
            "rows": self.rows,
            "orders_paid": len([o for o in orders if o["state"] == "sale" and o["mpesa_state"] == "paid"]),
            "invoices_reconciled": len([i for i in invoices if i["state"] == "paid"]),
            "invoices_part_paid": len([i for i in invoices
                                       if i["state"] == "open" and i["residual"] < i["amount_total"]]),
            "paid_count": len(posted),
            "paid_amount": sum(tx["amount"] for tx in posted),
            "posted_payments": len(payments),
            "posted_amount": sum(payment["amount"] for payment in payments),
            "receipts_posted_twice": sorted({p["mpesa_receipt"] for p in payments
                                             if [q["mpesa_receipt"] for q in payments].count(p["mpesa_receipt"]) > 1}),
            "review": [(tx["receipt"], tx["review_reason"]) for tx in review],
        }


def format_summary(summary):
    """Return the summary as a plain-text table."""
    widths = (14, 5, 11, 9, 15)
    lines = ["%-14s %-5s %-11s %9s %-15s %s" % ("Step", "Via", "Receipt", "KES", "Document", "Outcome")]
    lines.append("-" * 100)
    for row in summary["rows"]:
        lines.append("%-*s %-*s %-*s %*s %-*s %s" % (
            widths[0], row.step, widths[1], row.channel, widths[2], row.reference or "-",
            widths[3], "{:,.2f}".format(row.amount), widths[4], row.document, row.outcome))
    lines.append("-" * 100)
    lines.append("Orders paid and confirmed: %d" % summary["orders_paid"])
    lines.append("Invoices reconciled: %d, paid in part: %d" % (
        summary["invoices_reconciled"], summary["invoices_part_paid"]))
    lines.append("Payments posted: %d, KES %s (one per receipt: %s)" % (
        summary["posted_payments"], "{:,.2f}".format(summary["posted_amount"]),
        "yes" if not summary["receipts_posted_twice"] else "NO, twice: %s" % summary["receipts_posted_twice"]))
    lines.append("Waiting for review: %d" % len(summary["review"]))
    for receipt, reason in summary["review"]:
        lines.append("  %s: %s" % (receipt, reason))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # The same variables as tools/run.sh, so that `make day` finds the demo wherever it runs.
    parser.add_argument("--odoo-url",
                        default="http://127.0.0.1:%s" % os.environ.get("MPESA_PAYBILL_ODOO_PORT", "8069"))
    parser.add_argument("--database", default=os.environ.get("MPESA_PAYBILL_DEMO_DB", "mpesa_paybill_demo"))
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--sandbox-url",
                        default="http://127.0.0.1:%s" % os.environ.get("MPESA_PAYBILL_SANDBOX_PORT", "8765"))
    args = parser.parse_args(argv)

    for name, url in (("Odoo", args.odoo_url + "/web/login"), ("the Daraja sandbox", args.sandbox_url + "/sandbox/")):
        try:
            requests.get(url, timeout=5)
        except requests.RequestException:
            print("%s is not answering at %s. Start `make run` in another terminal first." % (name, url),
                  file=sys.stderr)
            return 1
    rpc = OdooRpc(args.odoo_url)
    rpc.authenticate(args.database, args.login, args.password)
    summary = BusinessDay(rpc, args.sandbox_url).run()
    print(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
