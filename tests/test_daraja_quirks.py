"""Tests of the client against each sandbox quirk switch that touches it."""

import logging

from decimal import Decimal

import pytest
import requests

from daraja_fixtures import (  # noqa: F401  (fixtures)
    C2B_PAYBILL,
    INITIATOR,
    INITIATOR_PASSWORD,
    PASSKEY,
    PAYBILL,
    control,
    daraja,
    make_client,
    sandbox_client,
    set_quirks,
)
from daraja import errors, hash_msisdn, masked_msisdn_matches, parse_c2b, parse_result, parse_stk_callback


def paid_callback(sandbox, client, receiver, phone):
    response = client.stk_push(PAYBILL, PASSKEY, 100, phone, receiver.url + "/stk", "SO042")
    control(sandbox, "POST", "/sandbox/prompts/%s/answer" % response.checkout_request_id, {"action": "pay"})
    return receiver.wait_for(1, path="/stk")[0]


def test_token_invalidation_retry(sandbox, callback_receiver, caplog):
    """Test that a token invalidated by another worker's request is refreshed once, then succeeds."""
    set_quirks(sandbox, token_invalidation=True)
    worker_a = make_client(sandbox.base_url)
    worker_b = make_client(sandbox.base_url)
    first_token = worker_a.get_token()
    worker_b.get_token()

    with caplog.at_level(logging.INFO, logger="daraja"):
        response = worker_a.stk_push(PAYBILL, PASSKEY, 10, "0712100001", callback_receiver.url + "/stk", "SO042")
    assert response.response_code == "0"
    assert worker_a.get_token() != first_token
    retries = [record for record in caplog.records if "retrying once with a new token" in record.getMessage()]
    assert len(retries) == 1
    lines = [record.getMessage() for record in caplog.records if record.name == "daraja.client"
             and "/mpesa/stkpush/v1/processrequest -> HTTP" in record.getMessage()]
    assert lines == [
        "Daraja POST /mpesa/stkpush/v1/processrequest -> HTTP 404, errorCode 404.001.03",
        "Daraja POST /mpesa/stkpush/v1/processrequest -> HTTP 200, errorCode none",
    ]


def test_token_invalidation_shared_cache(sandbox, callback_receiver):
    """Test that workers sharing one cache do not invalidate each other's token."""
    set_quirks(sandbox, token_invalidation=True)
    cache = daraja.MemoryTokenCache()
    worker_a = make_client(sandbox.base_url, token_cache=cache)
    worker_b = make_client(sandbox.base_url, token_cache=cache)
    assert worker_a.get_token() == worker_b.get_token()
    worker_a.stk_push(PAYBILL, PASSKEY, 10, "0712100002", callback_receiver.url + "/stk", "SO042")
    worker_b.stk_push(PAYBILL, PASSKEY, 10, "0712100003", callback_receiver.url + "/stk", "SO042")


def test_string_expires_in(sandbox):
    """Test that expires_in sent as the string "3599" is accepted and cached."""
    set_quirks(sandbox, string_expires_in=True)
    cache = daraja.MemoryTokenCache()
    client = make_client(sandbox.base_url, token_cache=cache)
    token = client.get_token()
    assert cache.get(client._token_key)[0] == token
    assert client.get_token() == token


@pytest.mark.parametrize("body, fragment", [
    ("", "empty body"),
    ("<html><body><h1>502 Bad Gateway</h1></body></html>", "HTML page"),
    ("soap_fault", "SOAP fault"),
])
@pytest.mark.parametrize("status", [500, 503])
def test_fail_next(sandbox, sandbox_client, callback_receiver, body, fragment, status):
    """Test that empty, HTML and SOAP-fault responses raise DarajaBadResponse with the HTTP status."""
    sandbox_client.get_token()
    set_quirks(sandbox, fail_next={"count": 1, "status": status, "body": body})
    with pytest.raises(errors.DarajaBadResponse) as caught:
        sandbox_client.stk_push(PAYBILL, PASSKEY, 10, "0712100004", callback_receiver.url + "/stk", "SO042")
    assert fragment in caught.value.message
    assert caught.value.http_status == status
    assert PASSKEY not in caught.value.message

    # The failure was one-off: the next request goes through.
    response = sandbox_client.stk_push(PAYBILL, PASSKEY, 10, "0712100004", callback_receiver.url + "/stk", "SO042")
    assert response.response_code == "0"


def test_fail_next_token_call(sandbox):
    """Test that an empty 503 on the token call raises DarajaBadResponse."""
    set_quirks(sandbox, fail_next={"count": 1, "status": 503, "body": ""})
    with pytest.raises(errors.DarajaBadResponse) as caught:
        make_client(sandbox.base_url).get_token()
    assert caught.value.http_status == 503


def test_soap_fault_excerpt(sandbox, sandbox_client, callback_receiver):
    """Test that the SOAP fault's faultstring is the excerpt."""
    sandbox_client.get_token()
    set_quirks(sandbox, fail_next={"count": 1, "status": 500, "body": "soap_fault"})
    with pytest.raises(errors.DarajaBadResponse) as caught:
        sandbox_client.c2b_register_url(C2B_PAYBILL, callback_receiver.url + "/c", callback_receiver.url + "/v")
    assert "ServiceCallout" in caught.value.excerpt


@pytest.mark.parametrize("code", ["500.003.02", "500.003.03"])
def test_throttle(sandbox, sandbox_client, callback_receiver, code):
    """Test that Spike Arrest and Quota Violation raise DarajaThrottled."""
    set_quirks(sandbox, throttle={"count": 1, "code": code})
    with pytest.raises(errors.DarajaThrottled) as caught:
        sandbox_client.stk_query(PAYBILL, PASSKEY, "ws_CO_04122026231900412712100005")
    assert caught.value.error_code == code
    assert "Wait a few seconds" in caught.value.message


def test_string_result_codes(sandbox, sandbox_client, callback_receiver):
    """Test that a callback ResultCode sent as the string "0" still means paid."""
    set_quirks(sandbox, string_result_codes=True)
    request = paid_callback(sandbox, sandbox_client, callback_receiver, "0712100006")
    assert request.json["Body"]["stkCallback"]["ResultCode"] == "0"
    callback = parse_stk_callback(request.body)
    assert callback.paid is True
    assert callback.result_code == "0"


def test_legacy_balance_item(sandbox, sandbox_client, callback_receiver):
    """Test that the five-item callback with a valueless Balance item parses by name."""
    set_quirks(sandbox, legacy_balance_item=True)
    request = paid_callback(sandbox, sandbox_client, callback_receiver, "0712100007")
    items = request.json["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    assert {"Name": "Balance"} in items
    callback = parse_stk_callback(request.body)
    assert callback.amount == Decimal("100.00")
    assert callback.receipt
    assert callback.phone == "254712100007"


def test_decimal_string_amounts(sandbox, sandbox_client, callback_receiver):
    """Test that an STK Amount sent as the string "100.00" becomes Decimal("100.00")."""
    set_quirks(sandbox, decimal_string_amounts=True)
    request = paid_callback(sandbox, sandbox_client, callback_receiver, "0712100008")
    amounts = [item["Value"] for item in request.json["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
               if item["Name"] == "Amount"]
    assert amounts == ["100.00"]
    assert parse_stk_callback(request.body).amount == Decimal("100.00")


@pytest.mark.parametrize("msisdn_format, kind", [("hashed", "hashed"), ("masked", "masked"), ("plain", "plain")])
def test_msisdn_formats(sandbox, sandbox_client, callback_receiver, msisdn_format, kind):
    """Test that each C2B MSISDN format is classified and can be matched to the payer."""
    set_quirks(sandbox, msisdn_format=msisdn_format)
    sandbox_client.c2b_register_url(C2B_PAYBILL, callback_receiver.url + "/c2b/confirm",
                                    callback_receiver.url + "/c2b/validate")
    control(sandbox, "POST", "/sandbox/c2b/pay", {"ShortCode": C2B_PAYBILL, "MSISDN": "254708374149",
                                                  "Amount": 100, "BillRefNumber": "INV-0001"})
    payment = parse_c2b(callback_receiver.wait_for(1, path="/c2b/confirm")[0].body)
    assert payment.msisdn_kind == kind
    if kind == "hashed":
        assert payment.msisdn == hash_msisdn("254708374149")
    elif kind == "masked":
        assert masked_msisdn_matches(payment.msisdn, "254708374149") is True
    else:
        assert payment.msisdn == "254708374149"


def test_register_code_zeros(sandbox, sandbox_client, callback_receiver):
    """Test that the v2 registration code "00000000" counts as success."""
    set_quirks(sandbox, register_response_code="00000000")
    response = sandbox_client.c2b_register_url(C2B_PAYBILL, callback_receiver.url + "/c",
                                               callback_receiver.url + "/v", version="v2")
    assert response.response_code == "00000000"


def test_urls_already_registered(sandbox, sandbox_client, callback_receiver):
    """Test that registering twice, as production forbids, raises DarajaRequestError with the portal hint."""
    set_quirks(sandbox, urls_already_registered=True)
    sandbox_client.c2b_register_url(C2B_PAYBILL, callback_receiver.url + "/c", callback_receiver.url + "/v")
    with pytest.raises(errors.DarajaRequestError) as caught:
        sandbox_client.c2b_register_url(C2B_PAYBILL, callback_receiver.url + "/c", callback_receiver.url + "/v")
    assert caught.value.error_code == "500.003.1001"
    assert "URL Management" in caught.value.message


def balance_result(sandbox, client, receiver):
    pem = requests.get(sandbox.base_url + "/sandbox/certificate", timeout=10).text
    credential = daraja.security_credential(INITIATOR_PASSWORD, pem)
    client.account_balance(INITIATOR, credential, C2B_PAYBILL, receiver.url + "/result", receiver.url + "/timeout",
                           "Balance check")
    return receiver.wait_for(1, path="/result")[0]


def test_balance_single_parameter(sandbox, sandbox_client, callback_receiver):
    """Test that a balance result whose ResultParameter is one object still yields the accounts."""
    set_quirks(sandbox, balance_single_parameter=True)
    request = balance_result(sandbox, sandbox_client, callback_receiver)
    assert isinstance(request.json["Result"]["ResultParameters"]["ResultParameter"], dict)
    result = parse_result(request.body)
    assert result.success is True
    assert "Working Account" in [account.name for account in result.accounts]


def test_balance_numeric_codes(sandbox, sandbox_client, callback_receiver):
    """Test that numeric ResultType and ResultCode in a balance result become text."""
    set_quirks(sandbox, balance_numeric_codes=True)
    request = balance_result(sandbox, sandbox_client, callback_receiver)
    assert request.json["Result"]["ResultCode"] == 0
    result = parse_result(request.body)
    assert result.result_code == "0"
    assert result.result_type == "0"
    assert result.completed_at is not None
