"""Tests of every DarajaClient operation over real HTTP against the offline sandbox."""

import datetime

from decimal import Decimal

import pytest
import requests

from daraja_fixtures import (  # noqa: F401  (fixtures)
    C2B_PAYBILL,
    CONSUMER_KEY,
    INITIATOR,
    INITIATOR_PASSWORD,
    PASSKEY,
    PAYBILL,
    TILL,
    TILL_STORE,
    control,
    daraja,
    make_client,
    sandbox_client,
    scripted_server,
)
from daraja import (
    errors,
    hash_msisdn,
    masked_msisdn_matches,
    parse_c2b,
    parse_result,
    parse_stk_callback,
    security_credential,
    stk_result_message,
)


def push(client, receiver, phone, path="/stk", amount=100, reference="SO042", **options):
    return client.stk_push(PAYBILL, PASSKEY, amount, phone, receiver.url + path, reference, **options)


def answer(sandbox, checkout_request_id, action):
    return control(sandbox, "POST", "/sandbox/prompts/%s/answer" % checkout_request_id, {"action": action})


def certificate(sandbox):
    response = requests.get(sandbox.base_url + "/sandbox/certificate", timeout=10)
    assert response.status_code == 200
    return response.text


def pay_c2b(sandbox, phone="254708374149", amount=100, reference="INV-0001", shortcode=C2B_PAYBILL):
    return control(sandbox, "POST", "/sandbox/c2b/pay", {
        "ShortCode": shortcode, "MSISDN": phone, "Amount": amount, "BillRefNumber": reference,
    })


def register_c2b(client, receiver, version="v1"):
    return client.c2b_register_url(C2B_PAYBILL, receiver.url + "/c2b/confirm", receiver.url + "/c2b/validate",
                                   version=version)


# STK Push -------------------------------------------------------------------------------

def test_stk_round_trip_paid(sandbox, sandbox_client, callback_receiver):
    """Test an STK Push that the customer pays: accepted, callback parsed as paid, query paid."""
    response = push(sandbox_client, callback_receiver, "0712000001")
    assert response.response_code == "0"
    assert response.checkout_request_id.startswith("ws_CO_")
    assert response.merchant_request_id

    prompts = control(sandbox, "GET", "/sandbox/prompts")["prompts"]
    prompt = [item for item in prompts if item["CheckoutRequestID"] == response.checkout_request_id][0]
    assert prompt["PhoneNumber"] == "254712000001"
    assert prompt["AccountReference"] == "SO042"

    answered = answer(sandbox, response.checkout_request_id, "pay")
    request = callback_receiver.wait_for(1, path="/stk")[0]
    callback = parse_stk_callback(request.body)
    assert callback.paid is True
    assert callback.result_code == "0"
    assert callback.checkout_request_id == response.checkout_request_id
    assert callback.merchant_request_id == response.merchant_request_id
    assert callback.receipt == answered["MpesaReceiptNumber"]
    assert callback.amount == Decimal("100.00")
    assert callback.phone == "254712000001"
    assert isinstance(callback.transaction_date, datetime.datetime)
    assert abs(datetime.datetime.utcnow() - callback.transaction_date) < datetime.timedelta(minutes=2)

    query = sandbox_client.stk_query(PAYBILL, PASSKEY, response.checkout_request_id)
    assert query.status == "paid"
    assert query.result_code == "0"


def test_stk_query_pending(sandbox, sandbox_client, callback_receiver):
    """Test that querying an unanswered prompt gives "pending", not an error."""
    response = push(sandbox_client, callback_receiver, "0712000002")
    query = sandbox_client.stk_query(PAYBILL, PASSKEY, response.checkout_request_id)
    assert query.status == "pending"
    assert query.result_code is None
    assert "being processed" in query.result_desc


@pytest.mark.parametrize("action, code", [
    ("cancel", "1032"),
    ("wrong_pin", "2001"),
    ("insufficient_funds", "1"),
    ("no_answer", "1037"),
    ("expire", "1019"),
])
def test_stk_failures(sandbox, sandbox_client, callback_receiver, action, code):
    """Test that each customer outcome other than paying gives its code in callback and query."""
    response = push(sandbox_client, callback_receiver, "0712000003")
    answer(sandbox, response.checkout_request_id, action)
    callback = parse_stk_callback(callback_receiver.wait_for(1, path="/stk")[0].body)
    assert callback.paid is False
    assert callback.result_code == code
    assert callback.receipt is None
    assert stk_result_message(code) != stk_result_message("unknown")

    query = sandbox_client.stk_query(PAYBILL, PASSKEY, response.checkout_request_id)
    assert query.status == "failed"
    assert query.result_code == code


def test_stk_till(sandbox, sandbox_client, callback_receiver):
    """Test a till push: store number as BusinessShortCode, till as PartyB, BuyGoods type."""
    response = sandbox_client.stk_push(TILL_STORE, PASSKEY, 250, "0712000004", callback_receiver.url + "/till",
                                       "Till sale", till_number=TILL)
    assert response.response_code == "0"
    answer(sandbox, response.checkout_request_id, "pay")
    callback = parse_stk_callback(callback_receiver.wait_for(1, path="/till")[0].body)
    assert callback.paid is True
    assert callback.amount == Decimal("250.00")


def test_stk_wrong_passkey(sandbox_client, callback_receiver):
    """Test that a wrong passkey gives the wrong_credentials reason."""
    with pytest.raises(errors.DarajaRequestError) as caught:
        sandbox_client.stk_push(PAYBILL, "0" * 64, 10, "0712000005", callback_receiver.url + "/stk", "SO042")
    assert caught.value.reason == "wrong_credentials"
    assert caught.value.error_code == "500.001.1001"
    assert "passkey" in caught.value.message


def test_stk_unknown_shortcode(sandbox_client, callback_receiver):
    """Test that an unknown shortcode gives the merchant_not_found reason."""
    with pytest.raises(errors.DarajaRequestError) as caught:
        sandbox_client.stk_push("999999", PASSKEY, 10, "0712000006", callback_receiver.url + "/stk", "SO042")
    assert caught.value.reason == "merchant_not_found"


def test_stk_subscriber_locked(sandbox_client, callback_receiver):
    """Test that a second push while the first prompt is open gives subscriber_locked."""
    push(sandbox_client, callback_receiver, "0712000007")
    with pytest.raises(errors.DarajaRequestError) as caught:
        push(sandbox_client, callback_receiver, "0712000007")
    assert caught.value.reason == "subscriber_locked"
    assert "Wait about a minute" in caught.value.message


def test_wrong_consumer_secret(sandbox):
    """Test that a wrong consumer secret raises DarajaAuthError."""
    client = daraja.DarajaClient(sandbox.base_url, CONSUMER_KEY, "wrong-secret", token_cache=daraja.MemoryTokenCache())
    with pytest.raises(errors.DarajaAuthError) as caught:
        client.get_token()
    assert "consumer key and secret" in caught.value.message
    assert "wrong-secret" not in caught.value.message


# Rules enforced before sending ------------------------------------------------------------

def test_blocked_word_nothing_sent(sandbox, scripted_server):
    """Test that a callback URL with a blocked word is rejected before any connection is made."""
    client = make_client(scripted_server.url)
    with pytest.raises(errors.DarajaConfigError) as caught:
        client.stk_push(PAYBILL, PASSKEY, 10, "0712000008", "http://127.0.0.1:9/mpesa/cb", "SO042")
    assert caught.value.message == (
        "Callback URL 'http://127.0.0.1:9/mpesa/cb' contains 'mpesa', which Daraja blocks; "
        "rename that part of the path."
    )
    assert scripted_server.connections == 0

    sandbox_client = make_client(sandbox.base_url)
    with pytest.raises(errors.DarajaConfigError):
        sandbox_client.stk_push(PAYBILL, PASSKEY, 10, "0712000008", "http://127.0.0.1:9/QUERY", "SO042")
    assert control(sandbox, "GET", "/sandbox/prompts")["prompts"] == []


def test_production_http_nothing_sent(scripted_server):
    """Test that an http callback URL in production is rejected before any connection is made."""
    # The https base URL points at the scripted server: any attempt would show as a connection.
    base_url = scripted_server.url.replace("http://", "https://")
    client = daraja.DarajaClient(base_url, CONSUMER_KEY, "secret", environment="production",
                                 token_cache=daraja.MemoryTokenCache())
    with pytest.raises(errors.DarajaConfigError) as caught:
        client.stk_push(PAYBILL, PASSKEY, 10, "0712000009", "http://erp.example.co.ke/pay/cb", "SO042")
    assert "uses http" in caught.value.message
    assert "'http://erp.example.co.ke/pay/cb'" in caught.value.message
    assert scripted_server.connections == 0


@pytest.mark.parametrize("options, fragment", [
    ({"amount": 10.5}, "not a whole number"),
    ({"amount": 0}, "outside the M-Pesa limits"),
    ({"reference": "SO#42"}, "'#'"),
    ({"reference": "A" * 13}, "at most 12"),
    ({"phone": "+1 415 555 0100"}, "Invalid phone number"),
])
def test_invalid_values_nothing_sent(scripted_server, options, fragment):
    """Test that invalid amounts, references and phones are rejected before any connection."""
    client = make_client(scripted_server.url)
    arguments = {"amount": 10, "reference": "SO042", "phone": "0712000010"}
    arguments.update(options)
    with pytest.raises(errors.DarajaConfigError) as caught:
        client.stk_push(PAYBILL, PASSKEY, arguments["amount"], arguments["phone"], "http://127.0.0.1:9/cb",
                        arguments["reference"])
    assert fragment in caught.value.message
    assert scripted_server.connections == 0


# C2B ------------------------------------------------------------------------------------

def test_c2b_v1_hashed(sandbox, sandbox_client, callback_receiver):
    """Test a v1 registration and a customer payment: the confirmation carries the hashed MSISDN."""
    registered = register_c2b(sandbox_client, callback_receiver, "v1")
    assert registered.response_code == "0"
    assert registered.originator_conversation_id

    paid = pay_c2b(sandbox, phone="254708374149", amount=150, reference="INV-0001")
    payment = parse_c2b(callback_receiver.wait_for(1, path="/c2b/confirm")[0].body)
    assert payment.trans_id == paid["TransID"]
    assert payment.amount == Decimal("150.00")
    assert payment.bill_ref_number == "INV-0001"
    assert payment.shortcode == C2B_PAYBILL
    assert payment.msisdn_kind == "hashed"
    assert payment.msisdn == hash_msisdn("0708374149")
    assert isinstance(payment.trans_time, datetime.datetime)


def test_c2b_v2_masked(sandbox, sandbox_client, callback_receiver):
    """Test a v2 registration: the confirmation carries a masked MSISDN matching the payer."""
    register_c2b(sandbox_client, callback_receiver, "v2")
    pay_c2b(sandbox, phone="254708374149", amount=200, reference="INV-0002")
    payment = parse_c2b(callback_receiver.wait_for(1, path="/c2b/confirm")[0].body)
    assert payment.msisdn_kind == "masked"
    assert masked_msisdn_matches(payment.msisdn, "0708374149") is True
    assert masked_msisdn_matches(payment.msisdn, "0708374148") is False


def test_c2b_validation(sandbox, sandbox_client, callback_receiver):
    """Test that with validation on, the validation request parses too."""
    control(sandbox, "POST", "/sandbox/shortcodes/%s" % C2B_PAYBILL, {"validation_enabled": True})
    register_c2b(sandbox_client, callback_receiver, "v1")
    pay_c2b(sandbox, amount=75, reference="INV-0003")
    validation = parse_c2b(callback_receiver.wait_for(1, path="/c2b/validate")[0].body)
    confirmation = parse_c2b(callback_receiver.wait_for(1, path="/c2b/confirm")[0].body)
    assert validation.trans_id == confirmation.trans_id
    assert validation.amount == Decimal("75.00")
    assert validation.bill_ref_number == "INV-0003"


def test_c2b_simulate(sandbox_client, callback_receiver):
    """Test that C2B simulate is accepted and leads to a confirmation."""
    register_c2b(sandbox_client, callback_receiver, "v1")
    accepted = sandbox_client.c2b_simulate(C2B_PAYBILL, 120, "0708374149", "INV-0004")
    assert accepted.response_code == "0"
    payment = parse_c2b(callback_receiver.wait_for(1, path="/c2b/confirm")[0].body)
    assert payment.amount == Decimal("120.00")
    assert payment.bill_ref_number == "INV-0004"


def test_stk_echoed_as_c2b(sandbox, sandbox_client, callback_receiver):
    """Test that an STK payment into a registered PayBill links to its C2B confirmation by receipt."""
    register_c2b(sandbox_client, callback_receiver, "v1")
    response = sandbox_client.stk_push(C2B_PAYBILL, PASSKEY, 90, "0712000011", callback_receiver.url + "/stk",
                                       "SO077")
    answer(sandbox, response.checkout_request_id, "pay")
    callback = parse_stk_callback(callback_receiver.wait_for(1, path="/stk")[0].body)
    payment = parse_c2b(callback_receiver.wait_for(1, path="/c2b/confirm")[0].body)
    assert payment.trans_id == callback.receipt
    assert payment.bill_ref_number == "SO077"
    assert payment.amount == callback.amount


def test_register_bad_response_type(sandbox_client, callback_receiver):
    """Test that an unknown ResponseType is rejected before sending."""
    with pytest.raises(errors.DarajaConfigError):
        sandbox_client.c2b_register_url(C2B_PAYBILL, callback_receiver.url + "/c", callback_receiver.url + "/v",
                                        response_type="Accepted")


# Transaction Status, Reversal, Account Balance ----------------------------------------------

def initiator_call(client, sandbox, receiver, operation, password=INITIATOR_PASSWORD, **arguments):
    credential = security_credential(password, certificate(sandbox))
    urls = {"result_url": receiver.url + "/result", "timeout_url": receiver.url + "/timeout"}
    accepted = getattr(client, operation)(INITIATOR, credential, **dict(urls, **arguments))
    assert accepted.response_code == "0"
    assert accepted.conversation_id
    return parse_result(receiver.wait_for(1, path="/result")[0].body)


def test_transaction_status(sandbox, sandbox_client, callback_receiver):
    """Test a Transaction Status request and its parsed result."""
    paid = pay_c2b(sandbox, amount=300)
    result = initiator_call(sandbox_client, sandbox, callback_receiver, "transaction_status",
                            transaction_id=paid["TransID"], shortcode=C2B_PAYBILL, remarks="Status check")
    assert result.success is True
    assert result.receipt == paid["TransID"]
    assert result.amount == Decimal("300.00")
    assert result.transaction_status == "Completed"


def test_reversal(sandbox, sandbox_client, callback_receiver):
    """Test a Reversal request (misspelled RecieverIdentifierType) and its parsed result."""
    paid = pay_c2b(sandbox, amount=40)
    result = initiator_call(sandbox_client, sandbox, callback_receiver, "reversal",
                            transaction_id=paid["TransID"], amount=40, shortcode=C2B_PAYBILL, remarks="Refund")
    assert result.success is True
    assert result.amount == Decimal("40.00")


def test_reversal_unknown(sandbox, sandbox_client, callback_receiver):
    """Test that reversing an unknown receipt gives the string code R000002."""
    result = initiator_call(sandbox_client, sandbox, callback_receiver, "reversal",
                            transaction_id="ZZZ0000000", amount=40, shortcode=C2B_PAYBILL, remarks="Refund")
    assert result.success is False
    assert result.result_code == "R000002"


def test_reversal_short_remarks(sandbox_client, callback_receiver):
    """Test that Reversal Remarks need 2 characters."""
    with pytest.raises(errors.DarajaConfigError):
        sandbox_client.reversal(INITIATOR, "cred", "ZZZ0000000", 40, C2B_PAYBILL, callback_receiver.url + "/r",
                                callback_receiver.url + "/t", "R")


def test_account_balance(sandbox, sandbox_client, callback_receiver):
    """Test an Account Balance request and its accounts."""
    pay_c2b(sandbox, amount=500)
    result = initiator_call(sandbox_client, sandbox, callback_receiver, "account_balance",
                            shortcode=C2B_PAYBILL, remarks="Balance check")
    assert result.success is True
    names = [account.name for account in result.accounts]
    assert "Utility Account" in names
    assert all(isinstance(account.available, Decimal) for account in result.accounts)
    assert sum(account.available for account in result.accounts) == Decimal("500.00")


def test_wrong_initiator_password(sandbox, sandbox_client, callback_receiver):
    """Test that a credential built from a wrong password gives result code 2001."""
    result = initiator_call(sandbox_client, sandbox, callback_receiver, "account_balance",
                            password="wrong-password", shortcode=C2B_PAYBILL, remarks="Balance check")
    assert result.success is False
    assert result.result_code == "2001"


# Pull Transactions ----------------------------------------------------------------------

def test_pull_register_and_query(sandbox, sandbox_client, callback_receiver):
    """Test Pull Transactions: register, register again, then find a payment in the query."""
    first = sandbox_client.pull_register(C2B_PAYBILL, "0722000000", callback_receiver.url + "/pull")
    assert first.response_status == "1000"
    again = sandbox_client.pull_register(C2B_PAYBILL, "0722000000", callback_receiver.url + "/pull")
    assert again.response_status == "1001"

    paid = pay_c2b(sandbox, phone="254708374149", amount=60, reference="INV-0009")
    now = datetime.datetime.utcnow()
    result = sandbox_client.pull_query(C2B_PAYBILL, now - datetime.timedelta(hours=1),
                                       now + datetime.timedelta(minutes=1))
    rows = [row for row in result.rows if row.transaction_id == paid["TransID"]]
    assert len(rows) == 1
    assert rows[0].amount == Decimal("60.00")
    assert rows[0].bill_reference == "INV-0009"
    assert abs(now - rows[0].trx_date) < datetime.timedelta(minutes=2)


def test_pull_query_bad_dates(sandbox_client):
    """Test that malformed Pull dates are rejected before sending."""
    with pytest.raises(errors.DarajaConfigError):
        sandbox_client.pull_query(C2B_PAYBILL, "yesterday", "2024-08-04 08:36:00")
