"""Test how the sandbox delivers callbacks: records, delays, duplicates, drops and redelivery."""
import time
import urllib.parse

RECORD_KEYS = {"id", "kind", "url", "body", "status", "response", "error", "sent_at"}


def paid_prompt(daraja, receiver, phone="254708374149"):
    checkout_id = daraja.stk_push(CallBackURL=receiver.url + "/stk", phone=phone).json()["CheckoutRequestID"]
    daraja.answer(checkout_id, "pay")
    return checkout_id


def callbacks(daraja, **query):
    path = "/sandbox/callbacks" + ("?" + urllib.parse.urlencode(query) if query else "")
    return daraja.control("GET", path).json()["callbacks"]


def test_record_fields(daraja, callback_receiver):
    """Test that each delivery is recorded with the contract's fields, the body as sent and the reply."""
    callback_receiver.respond("/stk", {"ResultCode": 0, "ResultDesc": "Accepted"})
    checkout_id = paid_prompt(daraja, callback_receiver)
    callback_receiver.wait_for(1)
    time.sleep(0.1)
    records = callbacks(daraja)
    record = records[0]
    assert len(records) == 1
    assert RECORD_KEYS <= set(record)
    assert record["kind"] == "stk"
    assert record["url"] == callback_receiver.url + "/stk"
    assert record["status"] == 200
    assert record["error"] is None
    assert record["body"]["Body"]["stkCallback"]["CheckoutRequestID"] == checkout_id
    assert '"ResultDesc": "Accepted"' in record["response"]
    assert record["sent_at"]


def test_record_filter_kind(daraja, callback_receiver):
    """Test that GET /sandbox/callbacks filters by kind."""
    daraja.register("174379", callback_receiver.url)
    paid_prompt(daraja, callback_receiver)
    callback_receiver.wait_for(2)
    time.sleep(0.1)
    kinds = [record["kind"] for record in callbacks(daraja, kind="c2b_confirmation")]
    assert kinds == ["c2b_confirmation"]


def test_record_error_status(daraja, callback_receiver):
    """Test that an HTTP 500 from the callback URL is recorded with its status and body."""
    callback_receiver.respond("/stk", "boom", status=500)
    paid_prompt(daraja, callback_receiver)
    callback_receiver.wait_for(1)
    time.sleep(0.1)
    record = callbacks(daraja)[0]
    assert record["status"] == 500
    assert record["response"] == "boom"


def test_record_unreachable(daraja):
    """Test that an unreachable callback URL is recorded as failed with the error."""
    checkout_id = daraja.stk_push(CallBackURL="http://127.0.0.1:9/stk").json()["CheckoutRequestID"]
    daraja.answer(checkout_id, "pay")
    time.sleep(0.5)
    record = callbacks(daraja)[0]
    assert record["state"] == "failed"
    assert record["status"] is None
    assert record["error"]


def test_remote_host_blocked(daraja):
    """Test that a callback to a host other than loopback is recorded but not sent."""
    checkout_id = daraja.stk_push(CallBackURL="https://erp.example.co.ke/stk").json()["CheckoutRequestID"]
    daraja.answer(checkout_id, "pay")
    time.sleep(0.4)
    record = callbacks(daraja)[0]
    assert record["state"] == "blocked"
    assert "allow_remote_callbacks" in record["error"]


def test_default_delay(daraja, callback_receiver):
    """Test that a callback waits for the default delay of 0.2 s before it is sent."""
    started = time.monotonic()
    paid_prompt(daraja, callback_receiver)
    callback_receiver.wait_for(1)
    assert time.monotonic() - started >= 0.2


def test_delayed(daraja, callback_receiver):
    """Test that the callback_delay quirk delays callbacks."""
    daraja.control("POST", "/sandbox/quirks", {"callback_delay": 0.8})
    paid_prompt(daraja, callback_receiver)
    time.sleep(0.4)
    early = len(callback_receiver.requests)
    late = callback_receiver.wait_for(1, timeout=3)
    assert early == 0
    assert len(late) == 1


def test_duplicate(daraja, callback_receiver):
    """Test that duplicate_callbacks sends the same body twice and marks the second as a duplicate."""
    daraja.control("POST", "/sandbox/quirks", {"duplicate_callbacks": True})
    paid_prompt(daraja, callback_receiver)
    first, second = callback_receiver.wait_for(2)
    records = callbacks(daraja)
    assert first.body == second.body
    assert records[1]["duplicate_of"] == records[0]["id"]


def test_dropped(daraja, callback_receiver):
    """Test that drop_callbacks records the callback as dropped and sends nothing."""
    daraja.control("POST", "/sandbox/quirks", {"drop_callbacks": True})
    paid_prompt(daraja, callback_receiver)
    time.sleep(0.5)
    record = callbacks(daraja)[0]
    assert callback_receiver.requests == []
    assert record["state"] == "dropped"
    assert record["body"]["Body"]["stkCallback"]["ResultCode"] == 0


def test_redeliver(daraja, callback_receiver):
    """Test that a recorded callback can be sent again, byte for byte."""
    paid_prompt(daraja, callback_receiver)
    callback_receiver.wait_for(1)
    time.sleep(0.1)
    original = callbacks(daraja)[0]
    reply = daraja.control("POST", "/sandbox/callbacks/%d/redeliver" % original["id"])
    first, second = callback_receiver.wait_for(2)
    assert reply.status_code == 200
    assert reply.json()["duplicate_of"] == original["id"]
    assert first.body == second.body


def test_redeliver_dropped(daraja, callback_receiver):
    """Test that a dropped callback can be delivered later through redeliver."""
    daraja.control("POST", "/sandbox/quirks", {"drop_callbacks": True})
    paid_prompt(daraja, callback_receiver)
    time.sleep(0.3)
    record_id = callbacks(daraja)[0]["id"]
    daraja.control("POST", "/sandbox/callbacks/%d/redeliver" % record_id)
    assert callback_receiver.wait_for(1)[0].json["Body"]["stkCallback"]["ResultCode"] == 0


def test_redeliver_unknown(daraja):
    """Test that redelivering an unknown id returns 404."""
    assert daraja.control("POST", "/sandbox/callbacks/999/redeliver").status_code == 404


def test_reset_clears(daraja, callback_receiver):
    """Test that reset clears prompts, ledger and callbacks and cancels callbacks still waiting."""
    daraja.control("POST", "/sandbox/quirks", {"callback_delay": 0.5})
    paid_prompt(daraja, callback_receiver)
    reply = daraja.control("POST", "/sandbox/reset")
    time.sleep(0.8)
    ledger = daraja.control("GET", "/sandbox/ledger").json()
    assert reply.status_code == 200
    assert callback_receiver.requests == []
    assert ledger["transactions"] == []
    assert ledger["prompts"] == []
    assert daraja.control("GET", "/sandbox/quirks").json()["callback_delay"] is None
