"""Adversarial system tests: a real Odoo server and the offline sandbox, attacked over HTTP only.

Each test plays one attack or one unlucky sequence of events against a copy of the test
database of its own (``mpesa_paybill_attack``), and asserts that the addon resists it.

Set-up steps that are not the attack itself raise ScenarioError instead of AssertionError,
so a scenario that breaks for another reason is told apart from a defect.
"""
import itertools
import json
import threading
import time

import pytest
import requests

from odoo_rpc import OdooRpcError
from odoo_server import SystemStack, wait_until

ATTACK_DB = "mpesa_paybill_attack"
WIZARD = "mpesa.stk.push.wizard"
WIZARD_FIELDS = ["sale_order_id", "invoice_id", "partner_id", "acquirer_id", "currency_id", "amount_due",
                 "phone", "amount", "state", "message", "mpesa_transaction_id"]
TX_FIELDS = ["state", "receipt", "amount", "checkout_request_id", "account_reference", "review_reason",
             "invoice_id", "partner_id"]
CALLBACK_FIELDS = ["state", "reason", "kind", "body", "secret_valid", "transaction_id"]

# Acquirer settings each test starts from; tests change them and the fixture puts them back.
ACQUIRER_DEFAULTS = {
    "mpesa_query_after": 2,
    "mpesa_allow_overpayment": False,
    "mpesa_c2b_reject_unknown": False,
    "mpesa_c2b_min_amount": 0,
    "mpesa_c2b_max_amount": 0,
}
STK_ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}
CONFIRMATION_ACK = {"ResultCode": 0, "ResultDesc": "Success"}
VALIDATION_ACCEPT = {"ResultCode": "0", "ResultDesc": "Accepted"}
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}

# Seconds to wait for a callback to be processed by Odoo's callback worker thread.
SETTLE_TIMEOUT = 20

_phone_numbers = itertools.count(1)
_markers = itertools.count(1)

class ScenarioError(Exception):
    """A step of the scenario before the attack went wrong, as opposed to the attack succeeding."""


def require(condition, message):
    if not condition:
        raise ScenarioError(message)


def wait_for(function, message):
    """Call ``function`` until it returns a true value and return it; raise ScenarioError on timeout."""
    try:
        return wait_until(function, timeout=SETTLE_TIMEOUT, message=message)
    except AssertionError as error:
        raise ScenarioError(str(error))


# -- Stack -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack():
    """Yield a started SystemStack on a database of this module's own."""
    with SystemStack(db=ATTACK_DB) as running:
        yield running


@pytest.fixture
def system(stack):
    """Return the stack with the sandbox reset and the acquirer back at ACQUIRER_DEFAULTS."""
    stack.reset_sandbox()
    stack.rpc.write("payment.acquirer", [stack.acquirer_id], ACQUIRER_DEFAULTS)
    return stack


# -- Documents and people ----------------------------------------------------------------------------


def new_phone():
    """Return a number no other test of this module uses, as staff type it."""
    return "0713 200 %03d" % next(_phone_numbers)


def msisdn(phone):
    return "254" + phone.replace(" ", "")[1:]


def create_customer(system, name, phone=None):
    return system.rpc.create("res.partner", {
        "name": name,
        "customer": True,
        "email": "customer%d@example.co.ke" % next(_markers),
        "mobile": phone or new_phone(),
        "country_id": system.rpc.ref("base.ke"),
    })


def create_invoice(system, price, partner_id=None, name=None):
    """Create and validate a KES customer invoice; return its id."""
    revenue_type = system.rpc.ref("account.data_account_type_revenue")
    account = system.rpc.search_read("account.account", [("user_type_id", "=", revenue_type)], ["id"])[0]
    product_id = system.rpc.create("product.product", {"name": "Bag of cement 50 kg", "type": "consu",
                                                       "list_price": price})
    values = {
        "partner_id": partner_id or create_customer(system, "Kamau Building Supplies"),
        "type": "out_invoice",
        "currency_id": system.rpc.ref("base.KES"),
        "invoice_line_ids": [(0, 0, {
            "name": "Bag of cement 50 kg",
            "product_id": product_id,
            "quantity": 1,
            "price_unit": price,
            "account_id": account["id"],
            "invoice_line_tax_ids": [(6, 0, [])],
        })],
    }
    if name:
        values["name"] = name
    invoice_id = system.rpc.create("account.invoice", values, context={"type": "out_invoice"})
    system.rpc.call_button("account.invoice", "action_invoice_open", [invoice_id])
    return invoice_id


def create_user(system, login, groups, partner_id=None):
    values = {
        "name": login.replace("_", " ").title(),
        "login": login,
        "password": login,
        "email": "%s@example.co.ke" % login,
        "groups_id": [(6, 0, [system.rpc.ref(xmlid) for xmlid in groups])],
    }
    if partner_id:
        values["partner_id"] = partner_id
    system.rpc.create("res.users", values, context={"no_reset_password": True})
    return system.login(login, login)


def invoice_number(system, invoice_id):
    return system.rpc.read_one("account.invoice", invoice_id, ["number"])["number"]


# -- Paying ----------------------------------------------------------------------------------------


def push(system, invoice_id, rpc=None):
    """Press Pay via M-Pesa on an invoice and Send payment request; return the new transaction."""
    rpc = rpc or system.rpc
    context = rpc.call_button("account.invoice", "action_mpesa_pay", [invoice_id])["context"]
    defaults = rpc.call_kw(WIZARD, "default_get", [WIZARD_FIELDS], context=context)
    wizard_id = rpc.create(WIZARD, {"acquirer_id": defaults["acquirer_id"], "phone": defaults["phone"],
                                    "amount": defaults["amount"]}, context=context)
    rpc.call_button(WIZARD, "action_send", [wizard_id], context=context)
    wizard = rpc.read_one(WIZARD, wizard_id, WIZARD_FIELDS)
    require(wizard["state"] == "sent", "the STK Push was not sent: %s" % wizard["message"])
    return read_transaction(system, wizard["mpesa_transaction_id"][0])


def read_transaction(system, tx_id):
    return system.rpc.read_one("mpesa.transaction", tx_id, TX_FIELDS)


def transactions_with_receipt(system, receipt):
    return system.rpc.search_read("mpesa.transaction", [("receipt", "=", receipt)], TX_FIELDS)


def answer(system, tx, action):
    return system.sandbox_call("POST", "/sandbox/prompts/%s/answer" % tx["checkout_request_id"], {"action": action})


def open_prompts(system, number):
    return [prompt for prompt in system.sandbox_call("GET", "/sandbox/prompts")["prompts"]
            if prompt["PhoneNumber"] == number]


def register_c2b(system):
    system.rpc.call_button("payment.acquirer", "action_mpesa_register_c2b_urls", [system.acquirer_id])


def pay_bill(system, reference, amount, number):
    """Pay the PayBill from the SIM menu; return the sandbox's outcome once the confirmation is delivered."""
    return system.sandbox_call("POST", "/sandbox/c2b/pay", {
        "ShortCode": "600000", "MSISDN": number, "Amount": amount, "BillRefNumber": reference})


def run_cron(system, xmlid):
    system.rpc.call_button("ir.cron", "method_direct_trigger", [system.rpc.ref(xmlid)])


def wait_for_state(system, tx_id, states):
    def settled():
        tx = read_transaction(system, tx_id)
        return tx if tx["state"] in states else None
    return wait_for(settled, "mpesa.transaction %s to reach %s" % (tx_id, states))


def wait_for_receipt(system, receipt):
    """Wait until Odoo has processed every stored callback that names ``receipt``; return them."""
    def processed():
        rows = system.rpc.search_read("mpesa.callback", [("body", "like", receipt)], CALLBACK_FIELDS, order="id")
        return rows if rows and all(row["state"] != "received" for row in rows) else None
    return wait_for(processed, "the callbacks of receipt %s" % receipt)


def stored_callbacks(system, marker):
    return system.rpc.search_read("mpesa.callback", [("body", "like", marker)], CALLBACK_FIELDS, order="id")


def callback_url(system, route, secret=None, acquirer_id=None):
    if secret is None:
        secret = system.rpc.read_one("payment.acquirer", system.acquirer_id,
                                     ["mpesa_callback_secret"])["mpesa_callback_secret"]
    return "%s/payment/lipa/%s/%s/%s" % (system.odoo.base_url, acquirer_id or system.acquirer_id, secret, route)


def post(url, body, timeout=30):
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    return requests.post(url, data=data, headers=JSON_HEADERS, timeout=timeout)


def c2b_body(trans_id, amount, reference, shortcode="600000", number="254713299999"):
    return json.dumps({
        "TransactionType": "Pay Bill", "TransID": trans_id, "TransTime": time.strftime("%Y%m%d%H%M%S"),
        "TransAmount": amount, "BusinessShortCode": shortcode, "BillRefNumber": reference,
        "InvoiceNumber": "", "OrgAccountBalance": "", "ThirdPartyTransID": "", "MSISDN": number,
        "FirstName": "AMINA", "MiddleName": "", "LastName": "",
    })


def new_trans_id():
    return "UA%08d" % (int(time.time() * 1000) % 10 ** 6 * 100 + next(_markers) % 100)


# -- Money received but not recorded -------------------------------------------------------------------


def test_paid_after_failed_query(system):
    """Test that a payment whose status query first returned 'not paid' is recorded when its result arrives.

    Daraja's sandbox has answered STK queries with a failure for prompts that were then paid,
    and the offline sandbox does the same with query_pending_until_answered off: the status
    cron marks the request failed, then the customer enters the PIN and the paid result comes.
    """
    system.reset_sandbox(query_pending_until_answered=False)
    invoice_id = create_invoice(system, 2100)
    tx = push(system, invoice_id)
    system.rpc.write("payment.acquirer", [system.acquirer_id], {"mpesa_query_after": 0})
    run_cron(system, "mpesa_paybill.ir_cron_mpesa_check_pending")
    require(read_transaction(system, tx["id"])["state"] == "failed", "the status query did not fail the request")

    receipt = answer(system, tx, "pay")["MpesaReceiptNumber"]
    callbacks = wait_for_receipt(system, receipt)

    assert len(transactions_with_receipt(system, receipt)) == 1, [row["reason"] for row in callbacks]
    assert system.rpc.read_one("account.invoice", invoice_id, ["state"])["state"] == "paid"


def test_second_receipt_for_settled_push(system):
    """Test that a customer who pays from the SIM menu and then also accepts the prompt has both receipts recorded.

    The SIM-menu payment carries the push's AccountReference and amount, so it settles the
    pending push. The prompt's own payment then brings a second receipt, which must not be
    taken for a repeated delivery of the first.
    """
    system.reset_sandbox(stk_c2b_echo=False)
    register_c2b(system)
    invoice_id = create_invoice(system, 1600)
    tx = push(system, invoice_id)
    first = pay_bill(system, tx["account_reference"], 1600, "254713288001")["TransID"]
    require(wait_for_state(system, tx["id"], ("done",))["receipt"] == first,
            "the SIM-menu payment did not settle the pending push")

    second = answer(system, tx, "pay")["MpesaReceiptNumber"]
    callbacks = wait_for_receipt(system, second)

    assert len(transactions_with_receipt(system, second)) == 1, [row["reason"] for row in callbacks]


def test_push_paid_after_invoice_paid(system):
    """Test that a prompt paid after its invoice was paid another way is recorded, as credit or for review.

    The customer pays the invoice from the SIM menu (typing its number with the slashes, so
    the payment is matched to the invoice, not to the push) and then also accepts the prompt.
    """
    system.reset_sandbox(stk_c2b_echo=False)
    register_c2b(system)
    invoice_id = create_invoice(system, 1200)
    tx = push(system, invoice_id)
    first = pay_bill(system, invoice_number(system, invoice_id), 1200, "254713288002")["TransID"]
    wait_for_receipt(system, first)
    require(system.rpc.read_one("account.invoice", invoice_id, ["state"])["state"] == "paid",
            "the SIM-menu payment did not pay the invoice")

    second = answer(system, tx, "pay")["MpesaReceiptNumber"]
    callbacks = wait_for_receipt(system, second)

    assert [row["state"] for row in callbacks] != ["failed"], [row["reason"] for row in callbacks]
    assert len(transactions_with_receipt(system, second)) == 1


# -- Who may send a payment request --------------------------------------------------------------------


def test_portal_user_push_rejected(system):
    """Test that a portal customer cannot send STK Push prompts to a phone of their choice.

    The wizard is a TransientModel, open to every user, and its readonly fields (amount_due)
    come from the client. So a portal user can send a stranger's phone a prompt for KES 250,000
    against their own KES 500 invoice, and the payment becomes their credit.
    """
    partner_id = create_customer(system, "Portal Customer Ltd")
    invoice_id = create_invoice(system, 500, partner_id=partner_id)
    portal = create_user(system, "portal_attacker", ["base.group_portal"], partner_id=partner_id)
    victim = msisdn(new_phone())

    try:
        wizard_id = portal.create(WIZARD, {
            "invoice_id": invoice_id, "acquirer_id": system.acquirer_id, "partner_id": partner_id,
            "currency_id": system.rpc.ref("base.KES"), "phone": victim, "amount": 250000, "amount_due": 250000})
        portal.call_button(WIZARD, "action_send", [wizard_id])
    except OdooRpcError:
        pass

    assert open_prompts(system, victim) == []


def test_forged_amount_due_rejected(system):
    """Test that the wizard rejects more than the invoice's amount due whatever amount_due the client sends."""
    invoice_id = create_invoice(system, 1000)
    context = system.rpc.call_button("account.invoice", "action_mpesa_pay", [invoice_id])["context"]
    defaults = system.rpc.call_kw(WIZARD, "default_get", [WIZARD_FIELDS], context=context)
    wizard_id = system.rpc.create(WIZARD, {"acquirer_id": defaults["acquirer_id"], "phone": defaults["phone"],
                                           "amount": 90000, "amount_due": 90000}, context=context)

    try:
        system.rpc.call_button(WIZARD, "action_send", [wizard_id], context=context)
    except OdooRpcError:
        pass

    assert system.rpc.read_one(WIZARD, wizard_id, ["state"])["state"] != "sent"
    assert open_prompts(system, msisdn(defaults["phone"])) == []


def test_second_push_rejected_while_pending(system):
    """Test that a second request for the whole amount is rejected while the first is still pending.

    With overpayment not allowed, two open prompts for the whole invoice let the customer
    pay it twice; the second payment then fails processing (test_push_paid_after_invoice_paid).
    """
    system.reset_sandbox(drop_callbacks=True)
    invoice_id = create_invoice(system, 1000)
    first = push(system, invoice_id)
    answer(system, first, "pay")
    context = system.rpc.call_button("account.invoice", "action_mpesa_pay", [invoice_id])["context"]
    defaults = system.rpc.call_kw(WIZARD, "default_get", [WIZARD_FIELDS], context=context)
    wizard_id = system.rpc.create(WIZARD, {"acquirer_id": defaults["acquirer_id"], "phone": defaults["phone"],
                                           "amount": 1000}, context=context)

    try:
        system.rpc.call_button(WIZARD, "action_send", [wizard_id], context=context)
    except OdooRpcError:
        pass

    assert system.rpc.read_one(WIZARD, wizard_id, ["state"])["state"] != "sent"


# -- C2B validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("setting, reference, amount, code", [
    ({"mpesa_c2b_min_amount": 1000}, "INVOICE", 500, "C2B00013"),
    ({"mpesa_c2b_reject_unknown": True}, "JUMBO 55", 650, "C2B00012"),
], ids=["below-minimum", "unknown-account"])
def test_validation_rule_rejects(system, setting, reference, amount, code):
    """Test that a C2B validation rule set on the acquirer rejects the payment with its own code."""
    register_c2b(system)
    system.sandbox_call("POST", "/sandbox/shortcodes/600000", {"validation_enabled": True})
    system.rpc.write("payment.acquirer", [system.acquirer_id], setting)
    if reference == "INVOICE":
        reference = invoice_number(system, create_invoice(system, 5000))

    outcome = pay_bill(system, reference, amount, "254713288003")

    assert outcome["accepted"] is False, outcome["validation"] and outcome["validation"]["response"]
    assert outcome["result_code"] == code


def test_validation_answers_fast(system):
    """Test that a C2B validation gets its response well within Daraja's 8 seconds."""
    register_c2b(system)
    system.sandbox_call("POST", "/sandbox/shortcodes/600000", {"validation_enabled": True})
    url = callback_url(system, "c2b-validation")
    body = c2b_body(new_trans_id(), "100.00", "ANY REFERENCE")

    started = time.monotonic()
    response = post(url, body)
    seconds = time.monotonic() - started

    assert response.status_code == 200
    assert response.json() == VALIDATION_ACCEPT
    assert seconds < 2


# -- Secrets and stored bodies ----------------------------------------------------------------------------


def test_secret_not_in_log(system):
    """Test that the callback secret never reaches Odoo's log, since it is all that authenticates a callback."""
    secret = system.rpc.read_one("payment.acquirer", system.acquirer_id,
                                 ["mpesa_callback_secret"])["mpesa_callback_secret"]
    marker = "log-probe-%d" % next(_markers)
    response = post(callback_url(system, "stk-result", secret), json.dumps({"probe": marker}))
    require(response.status_code == 200, "the probe was not acknowledged: %s" % response.text[:200])
    wait_for(lambda: stored_callbacks(system, marker), "the probe to be stored")

    with open(system.odoo.log_path, errors="replace") as handle:
        occurrences = handle.read().count(secret)

    assert occurrences == 0, "the callback secret appears %d times in %s" % (occurrences, system.odoo.log_path)


@pytest.mark.parametrize("route", ["stk-result", "c2b-confirmation"])
def test_nul_byte_body_stored(system, route):
    """Test that a body with a raw NUL byte, which PostgreSQL text cannot hold, is stored and acknowledged."""
    marker = "nul-%d" % next(_markers)
    body = b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_\x00", "ResultCode": 0}}, "m": "' + \
        marker.encode() + b'"}'

    response = post(callback_url(system, route), body)

    assert response.status_code == 200
    assert response.json()["ResultCode"] == 0
    connection = system.connect_database()
    try:
        with connection.cursor() as cr:
            cr.execute("SELECT body FROM mpesa_callback WHERE body LIKE %s", ("%" + marker + "%",))
            stored = [row[0] for row in cr.fetchall()]
    finally:
        connection.close()
    assert len(stored) == 1
    assert "ws_CO_\\x00" in stored[0]


def test_oversized_body_not_stored(system):
    """Test that several megabytes posted to an unknown acquirer with a made-up secret are not stored whole.

    Daraja's bodies are a few hundred bytes; anyone on the internet can reach these routes.
    """
    marker = "big-%d" % next(_markers)
    body = json.dumps({"probe": marker, "padding": "x" * (5 * 1024 * 1024)})

    response = post(callback_url(system, "stk-result", secret="0" * 32, acquirer_id=999999), body)

    connection = system.connect_database()
    try:
        with connection.cursor() as cr:
            cr.execute("SELECT COALESCE(MAX(length(body)), 0) FROM mpesa_callback WHERE body LIKE %s",
                       ("%" + marker + "%",))
            stored = cr.fetchone()[0]
    finally:
        connection.close()
    assert response.status_code in (200, 413)
    assert stored < 1024 * 1024


# -- Matching and who reads it -------------------------------------------------------------------------


def test_short_reference_not_confident(system):
    """Test that account number "1" from an unknown phone is not posted to the invoice described as "1".

    Odoo copies an order's customer reference into its invoice's description. Short values
    such as "1" or "cash" are common there, and so are customers who type "1" as the account.
    """
    register_c2b(system)
    invoice_id = create_invoice(system, 900, name="1")

    receipt = pay_bill(system, "1", 900, "254713288004")["TransID"]
    wait_for_receipt(system, receipt)

    tx = transactions_with_receipt(system, receipt)[0]
    assert tx["state"] == "review", "posted to invoice %s" % invoice_id


def test_salesman_sees_no_other_suggestions(system):
    """Test that a salesperson reads no suggestion of a payment they cannot see."""
    register_c2b(system)
    phone = new_phone()
    create_invoice(system, 750, partner_id=create_customer(system, "Achieng Salon", phone=phone))
    receipt = pay_bill(system, "NOT A NUMBER", 750, msisdn(phone))["TransID"]
    wait_for_receipt(system, receipt)
    tx = transactions_with_receipt(system, receipt)[0]
    require(tx["state"] == "review", "the payment did not go to review")
    salesman = create_user(system, "salesman_%d" % next(_markers), ["sales_team.group_sale_salesman"])

    try:
        visible = salesman.search_read("mpesa.suggestion", [("transaction_id", "=", tx["id"])], ["reason"])
    except OdooRpcError:
        visible = []

    assert visible == []


# -- Attacks that are resisted ------------------------------------------------------------------------


def test_forged_confirmation_not_posted(system):
    """Test that a C2B confirmation naming an open invoice but posted with a wrong secret pays nothing."""
    invoice_id = create_invoice(system, 4000)
    trans_id = new_trans_id()
    body = c2b_body(trans_id, "4000.00", invoice_number(system, invoice_id))

    response = post(callback_url(system, "c2b-confirmation", secret="f" * 32), body)
    rows = wait_for_receipt(system, trans_id)

    assert response.json() == CONFIRMATION_ACK
    assert [row["state"] for row in rows] == ["review"]
    assert transactions_with_receipt(system, trans_id) == []
    assert system.rpc.read_one("account.invoice", invoice_id, ["state"])["state"] == "open"


def test_confirmation_burst_posts_once(system):
    """Test that 25 simultaneous deliveries of one confirmation are all acknowledged and post one payment."""
    invoice_id = create_invoice(system, 2600)
    trans_id = new_trans_id()
    body = c2b_body(trans_id, "2600.00", invoice_number(system, invoice_id))
    url = callback_url(system, "c2b-confirmation")
    barrier = threading.Barrier(25)
    responses = []

    def deliver():
        barrier.wait(timeout=10)
        responses.append(post(url, body))

    threads = [threading.Thread(target=deliver) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    rows = wait_for_receipt(system, trans_id)

    payments = system.rpc.search_read("account.payment", [("mpesa_receipt", "=", trans_id)], ["state"])
    assert [response.status_code for response in responses] == [200] * 25
    assert all(response.json() == CONFIRMATION_ACK for response in responses)
    assert len(rows) == 25
    assert len(transactions_with_receipt(system, trans_id)) == 1
    assert [payment["state"] for payment in payments] == ["posted"]


ODD_BODIES = {
    "json-array": '[{"TransID": "%(id)s"}]',
    "deeply-nested": '{"TransID": "%(id)s", "x": ' + "[" * 50000 + "]" * 50000 + "}",
    "nulls": '{"TransID": "%(id)s", "TransAmount": null, "BusinessShortCode": null, "MSISDN": null}',
    "numbers-as-strings": '{"Body": {"stkCallback": {"CheckoutRequestID": "%(id)s", "ResultCode": "0", '
                          '"CallbackMetadata": {"Item": [{"Name": "Amount", "Value": "1e308"}]}}}}',
    "huge-amount": '{"TransID": "%(id)s", "TransAmount": "1e308", "BusinessShortCode": "600000", '
                   '"BillRefNumber": "INV/2026/0001"}',
    "negative-amount": '{"TransID": "%(id)s", "TransAmount": "-500.00", "BusinessShortCode": "600000", '
                       '"BillRefNumber": "INV/2026/0001"}',
    "unicode-reference": '{"TransID": "%(id)s", "TransAmount": "10.00", "BusinessShortCode": "600000", '
                         '"BillRefNumber": "\u0130NV\u2044\u0662\u0660\u0662\u0666 \U0001F4B0", '
                         '"FirstName": "W\u0101njik\u0169"}',
    "not-utf8": '{"TransID": "%(id)s", "FirstName": "J\xe9r\xf4me"}',
}


@pytest.mark.parametrize("route", ["stk-result", "c2b-confirmation", "c2b-validation"])
@pytest.mark.parametrize("shape", sorted(ODD_BODIES))
def test_odd_body_acknowledged(system, route, shape):
    """Test that an odd body with the valid secret is acknowledged in Daraja's format, stored, and posts no payment."""
    trans_id = new_trans_id()
    text = ODD_BODIES[shape] % {"id": trans_id}
    body = text.encode("latin-1") if shape == "not-utf8" else text.encode("utf-8")
    expected = {"stk-result": STK_ACK, "c2b-confirmation": CONFIRMATION_ACK,
                "c2b-validation": VALIDATION_ACCEPT}[route]

    response = post(callback_url(system, route), body)
    rows = stored_callbacks(system, trans_id)

    assert response.status_code == 200
    assert response.json() == expected
    assert len(rows) == 1
    if route != "c2b-validation":
        wait_for_receipt(system, trans_id)
    payments = system.rpc.search_read("account.payment", [("mpesa_receipt", "=", trans_id)], ["state"])
    assert payments == []
