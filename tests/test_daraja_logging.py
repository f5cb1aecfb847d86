"""Tests that the client's log lines carry no secret and no full phone number or CheckoutRequestID."""

import logging

from daraja_fixtures import CONSUMER_SECRET, PASSKEY, PAYBILL, control, daraja, make_client  # noqa: F401
from daraja import parse_stk_callback, stk_password

PHONE = "254712200001"
TIMESTAMP = "20240628092408"


def record_texts(records):
    texts = []
    for record in records:
        texts.append(record.getMessage())
        if record.exc_text:
            texts.append(record.exc_text)
    return texts


def test_stk_logs_clean(sandbox, callback_receiver, caplog):
    """Test that a full STK Push, payment and query log no secret, token, password, MSISDN or full ID."""
    cache = daraja.MemoryTokenCache()
    client = make_client(sandbox.base_url, token_cache=cache)

    with caplog.at_level(logging.DEBUG):
        response = client.stk_push(PAYBILL, PASSKEY, 100, "0712 200 001", callback_receiver.url + "/stk", "SO042",
                                   timestamp=TIMESTAMP)
        pending = client.stk_query(PAYBILL, PASSKEY, response.checkout_request_id, timestamp=TIMESTAMP)
    client_records = list(caplog.records)
    caplog.clear()

    # The test's own control call logs its URL (which contains the CheckoutRequestID), so it runs unrecorded.
    control(sandbox, "POST", "/sandbox/prompts/%s/answer" % response.checkout_request_id, {"action": "pay"})
    request = callback_receiver.wait_for(1, path="/stk")[0]

    with caplog.at_level(logging.DEBUG):
        callback = parse_stk_callback(request.body)
        paid = client.stk_query(PAYBILL, PASSKEY, response.checkout_request_id, timestamp=TIMESTAMP)
    client_records.extend(caplog.records)

    assert pending.status == "pending"
    assert paid.status == "paid"
    assert callback.phone == PHONE

    token = cache.get(client._token_key)[0]
    forbidden = {
        "consumer secret": CONSUMER_SECRET,
        "passkey": PASSKEY,
        "token": token,
        "password": stk_password(PAYBILL, PASSKEY, TIMESTAMP),
        "MSISDN": PHONE,
        "CheckoutRequestID": response.checkout_request_id,
    }
    texts = record_texts(client_records)
    assert texts, "expected log records at DEBUG"
    for name, value in forbidden.items():
        leaks = [text for text in texts if value in text]
        assert leaks == [], "%s leaked into: %r" % (name, leaks)


def test_request_line(sandbox, callback_receiver, caplog):
    """Test that each request logs one line with method, path, HTTP status and Daraja error code."""
    client = make_client(sandbox.base_url)
    with caplog.at_level(logging.INFO, logger="daraja"):
        response = client.stk_push(PAYBILL, PASSKEY, 100, "0712200002", callback_receiver.url + "/stk", "SO042")
        client.stk_query(PAYBILL, PASSKEY, response.checkout_request_id)
    lines = [record.getMessage() for record in caplog.records if record.name == "daraja.client"]
    assert lines == [
        "Daraja POST /mpesa/stkpush/v1/processrequest -> HTTP 200, errorCode none",
        "Daraja POST /mpesa/stkpushquery/v1/query -> HTTP 500, errorCode 500.001.1001",
    ]
