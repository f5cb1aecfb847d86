"""System tests of STK Push: a real Odoo server, the offline sandbox, and only HTTP between them.

Each test acts as a salesperson would in the web client, over JSON-RPC: Pay via M-Pesa on a
quotation or an invoice, then Send payment request in the wizard. The sandbox plays the
customer's phone and POSTs its callbacks to Odoo's route, and Odoo processes them in its
callback worker thread after acknowledging, so the tests poll until the state changes.
"""
import itertools
import json
import threading
import time

import pytest
import requests

from odoo_server import system, system_stack, wait_until  # noqa: F401

WIZARD = "mpesa.stk.push.wizard"
WIZARD_FIELDS = ["sale_order_id", "invoice_id", "partner_id", "acquirer_id", "currency_id", "amount_due",
                 "phone", "amount", "state", "message", "mpesa_transaction_id"]
TX_FIELDS = ["state", "receipt", "result_code", "result_message", "amount", "checkout_request_id",
             "payment_transaction_id", "review_reason"]
CALLBACK_FIELDS = ["state", "body", "reason", "secret_valid", "acquirer_id", "transaction_id", "kind"]

# Acknowledgements documented in controllers/main.py, by the last part of the route's path.
ACKNOWLEDGEMENTS = {
    "stk-result": {"ResultCode": 0, "ResultDesc": "Accepted"},
    "c2b-confirmation": {"ResultCode": 0, "ResultDesc": "Success"},
    "c2b-validation": {"ResultCode": "0", "ResultDesc": "Accepted"},
    "result": {"ResultCode": 0, "ResultDesc": "Accepted"},
    "timeout": {"ResultCode": 0, "ResultDesc": "Accepted"},
}
STK_ACK = ACKNOWLEDGEMENTS["stk-result"]

# Seconds to wait for a callback to be processed. The sandbox sends it 0.2 s after the customer acts.
SETTLE_TIMEOUT = 20

_phone_numbers = itertools.count(1)


# -- Documents and customers --------------------------------------------------------------------


def new_phone():
    """Return a Safaricom number not used before in this session, written as staff type it.

    The sandbox refuses a second prompt to a phone whose first prompt is still open, so each
    test pays from its own phone.
    """
    return "0712 000 %03d" % next(_phone_numbers)


def create_customer(system, name):
    return system.rpc.create("res.partner", {
        "name": name,
        "customer": True,
        "mobile": new_phone(),
        "country_id": system.rpc.ref("base.ke"),
    })


def create_product(system, price):
    return system.rpc.create("product.product", {
        "name": "Sack of rice 25 kg",
        "type": "consu",
        "list_price": price,
        "invoice_policy": "order",
    })


def create_quotation(system, price):
    """Create a draft quotation in KES for one product at ``price``; return its id."""
    pricelist_id = system.rpc.create("product.pricelist", {
        "name": "Kenya shillings",
        "currency_id": system.rpc.ref("base.KES"),
    })
    return system.rpc.create("sale.order", {
        "partner_id": create_customer(system, "Wanjiru Njoroge"),
        "pricelist_id": pricelist_id,
        "order_line": [(0, 0, {
            "product_id": create_product(system, price),
            "product_uom_qty": 1,
            "price_unit": price,
            "tax_id": [(6, 0, [])],
        })],
    })


def create_invoice(system, price):
    """Create and validate a customer invoice in KES; return its id."""
    revenue_type = system.rpc.ref("account.data_account_type_revenue")
    account = system.rpc.search_read("account.account", [("user_type_id", "=", revenue_type)], ["id"])[0]
    invoice_id = system.rpc.create("account.invoice", {
        "partner_id": create_customer(system, "Otieno Hardware Ltd"),
        "type": "out_invoice",
        "currency_id": system.rpc.ref("base.KES"),
        "invoice_line_ids": [(0, 0, {
            "name": "Sack of rice 25 kg",
            "product_id": create_product(system, price),
            "quantity": 1,
            "price_unit": price,
            "account_id": account["id"],
            "invoice_line_tax_ids": [(6, 0, [])],
        })],
    }, context={"type": "out_invoice"})
    system.rpc.call_button("account.invoice", "action_invoice_open", [invoice_id])
    return invoice_id


# -- Paying through the UI's buttons --------------------------------------------------------------


def pay_via_mpesa(system, model, record_id, acquirer_id=None):
    """Press Pay via M-Pesa on a document, then Send payment request; return the wizard's values.

    The wizard is filled the way the web client fills it: default_get with the button's
    context, create with the editable fields, then the button on the saved record.
    """
    action = system.rpc.call_button(model, "action_mpesa_pay", [record_id])
    assert action["res_model"] == WIZARD, action
    context = action["context"]
    defaults = system.rpc.call_kw(WIZARD, "default_get", [WIZARD_FIELDS], context=context)
    values = {
        "acquirer_id": acquirer_id or defaults["acquirer_id"],
        "phone": defaults["phone"],
        "amount": defaults["amount"],
    }
    wizard_id = system.rpc.create(WIZARD, values, context=context)
    system.rpc.call_button(WIZARD, "action_send", [wizard_id], context=context)
    wizard = system.rpc.read_one(WIZARD, wizard_id, WIZARD_FIELDS)
    assert wizard["state"] == "sent", wizard["message"]
    return wizard


def push(system, model, record_id, acquirer_id=None):
    """Send an STK Push for a document; return the new mpesa.transaction as a dict."""
    wizard = pay_via_mpesa(system, model, record_id, acquirer_id)
    tx = read_transaction(system, wizard["mpesa_transaction_id"][0])
    assert tx["state"] == "pending", tx
    return tx


def answer(system, tx, action):
    """Answer the prompt of ``tx`` on the sandbox's phone; return the sandbox's outcome."""
    return system.sandbox_call("POST", "/sandbox/prompts/%s/answer" % tx["checkout_request_id"], {"action": action})


def read_transaction(system, tx_id):
    return system.rpc.read_one("mpesa.transaction", tx_id, TX_FIELDS)


def wait_for_transaction(system, tx, states):
    """Poll the transaction until its state is one of ``states``; return it."""
    def settled():
        current = read_transaction(system, tx["id"])
        return current if current["state"] in states else None

    return wait_until(settled, timeout=SETTLE_TIMEOUT, message="mpesa.transaction %s to reach %s" % (tx["id"], states))


def posted_payments(system, tx):
    return system.rpc.search_read(
        "account.payment", [("mpesa_transaction_id", "=", tx["id"]), ("state", "=", "posted")],
        ["amount", "mpesa_receipt", "invoice_ids", "partner_id", "journal_id", "communication"])


def stored_callbacks(system, body):
    """Return the mpesa.callback rows whose body is exactly ``body``, oldest first."""
    return system.rpc.search_read("mpesa.callback", [("body", "=", body)], CALLBACK_FIELDS, order="id")


def wait_for_callbacks(system, body, count):
    """Poll until ``count`` stored callbacks with ``body`` have left the state received; return them."""
    def processed():
        rows = stored_callbacks(system, body)
        return rows if len(rows) == count and all(row["state"] != "received" for row in rows) else None
    return wait_until(processed, timeout=SETTLE_TIMEOUT,
                      message="%s stored callback(s) with this body to be processed" % count)


def describe_reply(text):
    """Return Odoo's message from a JSON-RPC error reply, else the start of the reply."""
    try:
        reply = json.loads(text or "")
    except ValueError:
        return (text or "")[:300]
    if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
        return (reply["error"].get("data") or {}).get("message") or reply["error"].get("message")
    return text[:300]


def wait_for_result(system, tx, copies=1):
    """Wait until the sandbox delivered the STK callback(s) of ``tx`` and Odoo processed them.

    Each delivery must have got Odoo's acknowledgement.

    :return: (the sandbox's records of the deliveries, the stored mpesa.callback rows)
    """
    def delivered():
        records = [record for record in sandbox_callbacks(system, tx) if record["state"] != "scheduled"]
        return records if len(records) == copies else None

    records = wait_until(delivered, timeout=SETTLE_TIMEOUT,
                         message="the sandbox to deliver %s STK callback(s)" % copies)
    for record in records:
        assert record["state"] == "sent", record["error"]
        assert record["status"] == 200, describe_reply(record["response"])
        assert json.loads(record["response"]) == STK_ACK, describe_reply(record["response"])
    return records, wait_for_callbacks(system, records[0]["raw"], copies)


def sandbox_callbacks(system, tx):
    """Return the STK callbacks the sandbox recorded for ``tx``, sent or not."""
    records = system.sandbox_call("GET", "/sandbox/callbacks?kind=stk")["callbacks"]
    return [record for record in records
            if record["body"]["Body"]["stkCallback"]["CheckoutRequestID"] == tx["checkout_request_id"]]


def recorded_callback(system, tx):
    """Return the one STK callback the sandbox recorded for ``tx`` (drop_callbacks kept it unsent)."""
    records = sandbox_callbacks(system, tx)
    assert len(records) == 1, records
    return records[0]


def post_callback(url, body, timeout=10):
    """POST ``body`` to a callback URL as the sandbox does; return the response and its duration in s."""
    started = time.monotonic()
    response = requests.post(url, data=body.encode("utf-8"), timeout=timeout,
                             headers={"Content-Type": "application/json", "Accept": "application/json"})
    return response, time.monotonic() - started


def with_secret(url, secret):
    """Replace the secret part of a callback URL (/payment/lipa/<id>/<secret>/...)."""
    parts = url.split("/")
    index = parts.index("lipa") + 2
    parts[index] = secret
    return "/".join(parts)


def run_cron(rpc, xmlid):
    """Press Run Manually on a scheduled action, as an administrator does in Settings."""
    return rpc.call_button("ir.cron", "method_direct_trigger", [rpc.ref(xmlid)])


def lock_waiters(connection, db):
    """Return how many sessions of ``db`` wait for a lock."""
    with connection.cursor() as cr:
        cr.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (db,))
        return cr.fetchone()[0]


def hold_transaction_lock(system, tx):
    """Open a database connection that holds the row lock of ``tx``; the caller rolls it back."""
    connection = system.connect_database()
    with connection.cursor() as cr:
        cr.execute("SELECT id FROM mpesa_transaction WHERE id = %s FOR UPDATE", (tx["id"],))
    return connection


# -- Paid, cancelled ------------------------------------------------------------------------------


def test_quotation_paid_confirmed(system):
    """Test that a paid quotation is confirmed with one posted payment carrying the receipt."""
    order_id = create_quotation(system, 2500)
    tx = push(system, "sale.order", order_id)

    outcome = answer(system, tx, "pay")
    _records, rows = wait_for_result(system, tx)

    tx = read_transaction(system, tx["id"])
    order = system.rpc.read_one("sale.order", order_id, ["state", "mpesa_state", "mpesa_receipts"])
    payments = posted_payments(system, tx)
    assert rows[0]["state"] == "processed", rows[0]["reason"]
    assert tx["state"] == "done"
    assert tx["receipt"] == outcome["MpesaReceiptNumber"]
    assert order["state"] == "sale"
    assert order["mpesa_state"] == "paid"
    assert order["mpesa_receipts"] == tx["receipt"]
    assert len(payments) == 1
    assert payments[0]["mpesa_receipt"] == tx["receipt"]
    assert payments[0]["amount"] == 2500
    payment_tx = system.rpc.read_one("payment.transaction", tx["payment_transaction_id"][0], ["state"])
    assert payment_tx["state"] == "done"


def test_invoice_paid_reconciled(system):
    """Test that a paid invoice is reconciled with one posted payment carrying the receipt."""
    invoice_id = create_invoice(system, 3000)
    tx = push(system, "account.invoice", invoice_id)

    answer(system, tx, "pay")
    _records, rows = wait_for_result(system, tx)

    tx = read_transaction(system, tx["id"])
    invoice = system.rpc.read_one("account.invoice", invoice_id, ["state", "residual", "reconciled"])
    payments = posted_payments(system, tx)
    assert rows[0]["state"] == "processed", rows[0]["reason"]
    assert tx["state"] == "done"
    assert invoice["state"] == "paid"
    assert invoice["reconciled"] is True
    assert invoice["residual"] == 0
    assert len(payments) == 1
    assert payments[0]["invoice_ids"] == [invoice_id]
    assert payments[0]["mpesa_receipt"] == tx["receipt"]
    assert tx["receipt"] in payments[0]["communication"]


def test_prompt_cancelled(system):
    """Test that a cancelled prompt leaves the quotation unconfirmed, records the reason and posts nothing."""
    order_id = create_quotation(system, 1800)
    tx = push(system, "sale.order", order_id)

    answer(system, tx, "cancel")
    _records, rows = wait_for_result(system, tx)

    tx = read_transaction(system, tx["id"])
    order = system.rpc.read_one("sale.order", order_id, ["state", "mpesa_state"])
    payment_tx = system.rpc.read_one("payment.transaction", tx["payment_transaction_id"][0], ["state"])
    assert rows[0]["state"] == "processed", rows[0]["reason"]
    assert tx["state"] == "failed"
    assert tx["result_code"] == "1032"
    assert "cancel" in tx["result_message"].lower()
    assert order["state"] == "draft"
    assert order["mpesa_state"] == "failed"
    assert payment_tx["state"] == "cancel"
    assert posted_payments(system, tx) == []


# -- Repeated and concurrent deliveries -----------------------------------------------------------


def test_duplicate_callbacks_quirk(system):
    """Test that a result the sandbox sends twice posts exactly one payment for its receipt."""
    system.reset_sandbox(duplicate_callbacks=True)
    invoice_id = create_invoice(system, 1500)
    tx = push(system, "account.invoice", invoice_id)

    answer(system, tx, "pay")
    _records, rows = wait_for_result(system, tx, copies=2)
    tx = read_transaction(system, tx["id"])

    assert [row["state"] for row in rows] == ["processed", "processed"]
    assert "Repeated" in rows[1]["reason"]
    assert tx["state"] == "done"
    assert len(posted_payments(system, tx)) == 1
    assert len(system.rpc.search_read("account.payment", [("mpesa_receipt", "=", tx["receipt"])], ["id"])) == 1


def test_concurrent_deliveries(system):
    """Test that two simultaneous POSTs of one result are both acknowledged and post one payment."""
    system.reset_sandbox(drop_callbacks=True)
    invoice_id = create_invoice(system, 1700)
    tx = push(system, "account.invoice", invoice_id)
    answer(system, tx, "pay")
    record = recorded_callback(system, tx)

    barrier = threading.Barrier(2)
    responses = [None, None]

    def deliver(index):
        barrier.wait(timeout=10)
        responses[index] = post_callback(record["url"], record["raw"])[0]

    threads = [threading.Thread(target=deliver, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)

    rows = wait_for_callbacks(system, record["raw"], 2)
    tx = read_transaction(system, tx["id"])
    assert [response.status_code for response in responses] == [200, 200]
    assert [response.json() for response in responses] == [STK_ACK, STK_ACK]
    assert sorted(row["state"] for row in rows) == ["processed", "processed"]
    assert tx["state"] == "done"
    assert len(posted_payments(system, tx)) == 1


def test_duplicate_processed_by_worker_and_cron(system):
    """Test that a duplicate processed by the cron while the worker posts the original ends processed.

    With several Odoo workers, or the callback worker beside the "process stored callbacks"
    cron, two deliveries of one result are processed at the same time in two database
    transactions. A row lock held here makes both wait on the transaction's row, then lets go.
    """
    system.reset_sandbox(drop_callbacks=True)
    invoice_id = create_invoice(system, 1900)
    tx = push(system, "account.invoice", invoice_id)
    answer(system, tx, "pay")
    record = recorded_callback(system, tx)
    cron_rpc = system.login("admin", "admin")
    cron_errors = []

    def run_process_cron():
        try:
            run_cron(cron_rpc, "mpesa_paybill.ir_cron_mpesa_process_callbacks")
        except Exception as error:
            cron_errors.append(error)

    lock = hold_transaction_lock(system, tx)
    try:
        for _ in range(2):
            response, _duration = post_callback(record["url"], record["raw"])
            assert response.status_code == 200
        wait_until(lambda: lock_waiters(lock, system.db) == 1, timeout=10,
                   message="the callback worker to wait for the transaction's row lock")
        cron = threading.Thread(target=run_process_cron)
        cron.start()
        wait_until(lambda: lock_waiters(lock, system.db) == 2, timeout=10,
                   message="the cron to wait for the transaction's row lock too")
    finally:
        lock.rollback()
        lock.close()
    cron.join(timeout=SETTLE_TIMEOUT)

    rows = wait_for_callbacks(system, record["raw"], 2)
    tx = read_transaction(system, tx["id"])
    assert cron_errors == []
    assert tx["state"] == "done"
    assert len(posted_payments(system, tx)) == 1
    assert [row["state"] for row in rows] == ["processed", "processed"], [row["reason"] for row in rows]


# -- Unverified, malformed, failed ----------------------------------------------------------------


def test_wrong_secret_kept_for_review(system):
    """Test that a result posted with a wrong secret is acknowledged, stored for review and not posted."""
    system.reset_sandbox(drop_callbacks=True)
    invoice_id = create_invoice(system, 1100)
    tx = push(system, "account.invoice", invoice_id)
    answer(system, tx, "pay")
    record = recorded_callback(system, tx)

    response, _duration = post_callback(with_secret(record["url"], "0" * 32), record["raw"])

    rows = wait_for_callbacks(system, record["raw"], 1)
    assert response.status_code == 200
    assert response.json() == STK_ACK
    assert rows[0]["state"] == "review"
    assert rows[0]["secret_valid"] is False
    assert "secret" in rows[0]["reason"]
    assert read_transaction(system, tx["id"])["state"] == "pending"
    assert posted_payments(system, tx) == []


def test_malformed_body_stored_verbatim(system):
    """Test that a body that is not an STK result is acknowledged and stored exactly as sent."""
    acquirer = system.rpc.read_one("payment.acquirer", system.acquirer_id, ["mpesa_callback_secret"])
    url = "%s/payment/lipa/%s/%s/stk-result" % (system.odoo.base_url, system.acquirer_id,
                                                acquirer["mpesa_callback_secret"])
    body = '{"Body": {"stkCallback": {"ResultCode": 0, "ResultDesc": "Malipo \u2713 \\u00e9t\u00e9"  \n  trunc'

    response, _duration = post_callback(url, body)

    rows = wait_for_callbacks(system, body, 1)
    assert response.status_code == 200
    assert response.json() == STK_ACK
    assert rows[0]["body"] == body
    assert rows[0]["state"] == "review"
    assert "Malformed" in rows[0]["reason"]


@pytest.mark.parametrize("route", sorted(ACKNOWLEDGEMENTS))
def test_acknowledgement_format(system, route):
    """Test that each callback route responds 200 with its documented JSON body and Content-Type."""
    url = "%s/payment/lipa/%s/%s/%s" % (system.odoo.base_url, system.acquirer_id, "f" * 32, route)
    body = json.dumps({"probe": route, "sent_at": time.time()})

    response, _duration = post_callback(url, body)

    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == "application/json"
    assert response.json() == ACKNOWLEDGEMENTS[route]
    assert len(stored_callbacks(system, body)) == 1


def test_body_kept_when_processing_fails(system):
    """Test that a paid result is stored verbatim and marked failed when its journal has no account.

    A copy of the acquirer gets a journal of its own, whose default accounts an accountant
    then cleared, so posting the payment fails after the body was stored.
    """
    acquirer_id = system.rpc.call_kw("payment.acquirer", "copy", [system.acquirer_id], {
        "default": {"name": "M-Pesa (journal without account)", "sequence": 99, "journal_id": False}})
    journal = system.rpc.read_one("payment.acquirer", acquirer_id, ["journal_id"])["journal_id"]
    main_journal = system.rpc.read_one("payment.acquirer", system.acquirer_id, ["journal_id"])["journal_id"]
    assert journal and journal != main_journal, "the copied acquirer needs a journal of its own, got %s" % journal
    system.rpc.write("account.journal", [journal[0]],
                     {"default_debit_account_id": False, "default_credit_account_id": False})
    invoice_id = create_invoice(system, 1300)
    tx = push(system, "account.invoice", invoice_id, acquirer_id=acquirer_id)

    answer(system, tx, "pay")
    records, rows = wait_for_result(system, tx)

    invoice = system.rpc.read_one("account.invoice", invoice_id, ["state"])
    assert rows[0]["state"] == "failed", rows[0]["reason"]
    assert rows[0]["body"] == records[0]["raw"]
    assert rows[0]["acquirer_id"][0] == acquirer_id
    assert rows[0]["reason"].startswith("Processing failed")
    assert read_transaction(system, tx["id"])["state"] == "pending"
    assert invoice["state"] == "open"
    assert posted_payments(system, tx) == []


# -- Lost callbacks and slow processing -----------------------------------------------------------


def test_lost_callback_settled_by_cron(system):
    """Test that the status cron settles a cancelled prompt whose callback the sandbox dropped."""
    system.reset_sandbox(drop_callbacks=True)
    invoice_id = create_invoice(system, 900)
    tx = push(system, "account.invoice", invoice_id)
    query_after = system.rpc.read_one("payment.acquirer", system.acquirer_id, ["mpesa_query_after"])
    system.rpc.write("payment.acquirer", [system.acquirer_id], {"mpesa_query_after": 0})
    try:
        run_cron(system.rpc, "mpesa_paybill.ir_cron_mpesa_check_pending")
        unanswered = read_transaction(system, tx["id"])

        answer(system, tx, "cancel")
        run_cron(system.rpc, "mpesa_paybill.ir_cron_mpesa_check_pending")
        settled = read_transaction(system, tx["id"])
    finally:
        system.rpc.write("payment.acquirer", [system.acquirer_id],
                         {"mpesa_query_after": query_after["mpesa_query_after"]})

    assert recorded_callback(system, tx)["state"] == "dropped"
    assert unanswered["state"] == "pending"
    assert settled["state"] == "failed"
    assert settled["result_code"] == "1032"
    assert system.rpc.read_one("account.invoice", invoice_id, ["state"])["state"] == "open"
    assert posted_payments(system, tx) == []


def test_ack_while_processing_slow(system, capsys):
    """Test that the route acknowledges while processing waits, and processing finishes afterwards.

    A database lock on the transaction's row stands for slow processing: the worker thread
    waits for it, and the route must respond anyway. The time to acknowledge is printed.
    """
    system.reset_sandbox(drop_callbacks=True)
    invoice_id = create_invoice(system, 1400)
    tx = push(system, "account.invoice", invoice_id)
    answer(system, tx, "pay")
    record = recorded_callback(system, tx)

    lock = hold_transaction_lock(system, tx)
    try:
        response, seconds = post_callback(record["url"], record["raw"])
        wait_until(lambda: lock_waiters(lock, system.db) == 1, timeout=10,
                   message="the callback worker to wait for the transaction's row lock")
        waiting = stored_callbacks(system, record["raw"])
        pending = read_transaction(system, tx["id"])
    finally:
        lock.rollback()
        lock.close()

    settled = wait_for_transaction(system, tx, ("done", "failed", "review"))
    with capsys.disabled():
        print("\nSTK callback acknowledged in %.1f ms while its processing waited for a row lock" % (seconds * 1000))
    assert response.status_code == 200
    assert response.json() == STK_ACK
    assert [row["state"] for row in waiting] == ["received"]
    assert pending["state"] == "pending"
    assert settled["state"] == "done"
    assert len(posted_payments(system, tx)) == 1
