"""Test the sandbox's STK Push: request validation, prompts, callbacks and STK Push Query."""
import datetime
import re
import time

import pytest

SAMPLE_SUCCESS = {"Body": {"stkCallback": {
    "MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_191220191020363925",
    "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
    "CallbackMetadata": {"Item": [
        {"Name": "Amount", "Value": 1.00},
        {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
        {"Name": "TransactionDate", "Value": 20191219102115},
        {"Name": "PhoneNumber", "Value": 254708374149}]}}}}
SAMPLE_FAILURE_KEYS = {"MerchantRequestID", "CheckoutRequestID", "ResultCode", "ResultDesc"}
SAMPLE_ACK_KEYS = {"MerchantRequestID", "CheckoutRequestID", "ResponseCode", "ResponseDescription", "CustomerMessage"}
SAMPLE_QUERY_KEYS = {"ResponseCode", "ResponseDescription", "MerchantRequestID", "CheckoutRequestID",
                     "ResultCode", "ResultDesc"}
RECEIPT_RE = re.compile(r"^[A-Z0-9]{10}$")
EAT = datetime.timezone(datetime.timedelta(hours=3))


def push(daraja, callback_receiver, **overrides):
    """Send a valid STK Push with its callback going to the receiver and return the CheckoutRequestID."""
    overrides.setdefault("CallBackURL", callback_receiver.url + "/stk")
    reply = daraja.stk_push(**overrides)
    assert reply.status_code == 200, reply.text
    return reply.json()["CheckoutRequestID"]


def stk_callback(callback_receiver, count=1):
    return callback_receiver.wait_for(count, path="/stk")[count - 1].json["Body"]["stkCallback"]


def items(callback):
    return dict((item["Name"], item.get("Value")) for item in callback["CallbackMetadata"]["Item"])


# -- synchronous response -----------------------------------------------------------------------


def test_push_response_shape(daraja):
    """Test that the synchronous STK response has the documented keys, with ResponseCode the string "0"."""
    reply = daraja.stk_push()
    body = reply.json()
    assert reply.status_code == 200
    assert set(body) == SAMPLE_ACK_KEYS
    assert body["ResponseCode"] == "0"
    assert body["ResponseDescription"] == "Success. Request accepted for processing"
    assert body["CustomerMessage"] == "Success. Request accepted for processing"


def test_push_checkout_id_shape(daraja):
    """Test that CheckoutRequestID is ws_CO_ + ddMMyyyyHHmmss in EAT + 3 digits + the payer's last 9 digits."""
    before = datetime.datetime.now(EAT).replace(microsecond=0)
    checkout_id = daraja.stk_push(phone="254712345678").json()["CheckoutRequestID"]
    match = re.match(r"^ws_CO_(\d{14})(\d{3})(\d{9})$", checkout_id)
    assert match is not None, checkout_id
    stamp = datetime.datetime.strptime(match.group(1), "%d%m%Y%H%M%S").replace(tzinfo=EAT)
    assert abs((stamp - before).total_seconds()) <= 5
    assert match.group(3) == "712345678"


def test_push_merchant_request_id_shape(daraja):
    """Test that MerchantRequestID has the documented 4-4-4-hex-and-digits shape."""
    merchant_id = daraja.stk_push().json()["MerchantRequestID"]
    assert re.match(r"^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\d+$", merchant_id), merchant_id


def test_push_ids_unique(daraja):
    """Test that pushes to different phones get different CheckoutRequestIDs and MerchantRequestIDs."""
    replies = [daraja.stk_push(phone="2547083741%02d" % n).json() for n in range(5)]
    assert len(set(reply["CheckoutRequestID"] for reply in replies)) == 5
    assert len(set(reply["MerchantRequestID"] for reply in replies)) == 5


def test_push_wrong_password(daraja):
    """Test that a Password built with another passkey gives 500.001.1001 Wrong credentials."""
    reply = daraja.stk_push(passkey="0" * 64)
    assert reply.status_code == 500
    assert reply.json()["errorCode"] == "500.001.1001"
    assert reply.json()["errorMessage"] == "[MerchantValidate] - Wrong credentials"


def test_push_password_other_timestamp(daraja):
    """Test that a Password built for another Timestamp than the body's is rejected."""
    body = daraja.stk_body(timestamp="20240101120000")
    body["Timestamp"] = "20240101120001"
    reply = daraja.post("/mpesa/stkpush/v1/processrequest", body)
    assert reply.status_code == 500
    assert reply.json()["errorMessage"] == "[MerchantValidate] - Wrong credentials"


def test_push_unknown_merchant(daraja):
    """Test that an unknown BusinessShortCode gives 500.001.1001 Merchant does not exist."""
    reply = daraja.stk_push(shortcode="999999")
    assert reply.status_code == 500
    assert reply.json()["errorCode"] == "500.001.1001"
    assert reply.json()["errorMessage"] == "Merchant does not exist"


INVALID_FIELDS = [
    ("amount_zero", {"Amount": 0}, "Bad Request - Invalid Amount"),
    ("amount_fraction", {"Amount": 10.5}, "Bad Request - Invalid Amount"),
    ("amount_over_cap", {"Amount": 250001}, "Bad Request - Invalid Amount"),
    ("amount_text", {"Amount": "ten"}, "Bad Request - Invalid Amount"),
    ("phone_local", {"PhoneNumber": "0708374149"}, "Bad Request - Invalid PhoneNumber"),
    ("phone_short", {"PhoneNumber": "25470837414"}, "Bad Request - Invalid PhoneNumber"),
    ("phone_airtel_prefix", {"PhoneNumber": "254208374149"}, "Bad Request - Invalid PhoneNumber"),
    ("party_a", {"PartyA": "+254708374149"}, "Bad Request - Invalid PhoneNumber"),
    ("reference_null", {"AccountReference": None}, "Bad Request - Invalid Remarks"),
    ("description_null", {"TransactionDesc": None}, "Bad Request - Invalid Remarks"),
    ("reference_long", {"AccountReference": "ABCDEFGHIJKLM"}, "Bad Request - Invalid AccountReference"),
    ("description_long", {"TransactionDesc": "A" * 14}, "Bad Request - Invalid TransactionDesc"),
    ("callback_not_url", {"CallBackURL": "not a url"}, "Bad Request - Invalid CallBackURL"),
    ("callback_spaces", {"CallBackURL": " http://127.0.0.1:9/stk"}, "Bad Request - Invalid CallBackURL"),
    ("callback_ftp", {"CallBackURL": "ftp://127.0.0.1/stk"}, "Bad Request - Invalid CallBackURL"),
    ("timestamp", {"Timestamp": "2024-01-01"}, "Bad Request - Invalid Timestamp"),
    ("transaction_type", {"TransactionType": "PayBill"}, "Bad Request - Invalid TransactionType"),
    ("shortcode_letters", {"BusinessShortCode": "17437A"}, "Bad Request - Invalid BusinessShortCode"),
]


@pytest.mark.parametrize("case, overrides, message", INVALID_FIELDS, ids=[case[0] for case in INVALID_FIELDS])
def test_push_invalid_field(daraja, case, overrides, message):
    """Test that each invalid field is rejected with 400.002.02 and the message Daraja uses."""
    reply = daraja.post("/mpesa/stkpush/v1/processrequest", dict(daraja.stk_body(), **overrides))
    body = reply.json()
    assert reply.status_code == 400
    assert body["errorCode"] == "400.002.02"
    assert body["errorMessage"] == message
    assert isinstance(body["requestId"], str)


def test_push_description_optional(daraja):
    """Test that TransactionDesc may be left out, as the only optional field."""
    body = daraja.stk_body()
    del body["TransactionDesc"]
    assert daraja.post("/mpesa/stkpush/v1/processrequest", body).status_code == 200


def test_push_number_fields(daraja):
    """Test that shortcodes, amount and phone numbers sent as JSON numbers are accepted."""
    reply = daraja.stk_push(BusinessShortCode=174379, PartyB=174379, PartyA=254708374149,
                            PhoneNumber=254708374149, Amount="100", shortcode="174379")
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("word", ["mpesa", "M-PESA", "Safaricom", "exe", "cmd", "sql", "Query"])
def test_push_blocked_word(daraja, word):
    """Test that a CallBackURL with a blocked word gives Threat Detected with requestId null."""
    reply = daraja.stk_push(CallBackURL="http://127.0.0.1:9/%s/callback" % word)
    assert reply.status_code == 400
    assert reply.json()["errorMessage"] == "Bad Request - Threat Detected"
    assert reply.json()["requestId"] is None


def test_push_subscriber_locked(daraja):
    """Test that a second push to a phone with an open prompt gives Unable to lock subscriber."""
    assert daraja.stk_push().status_code == 200
    reply = daraja.stk_push()
    assert reply.status_code == 500
    assert reply.json()["errorCode"] == "500.001.1001"
    assert reply.json()["errorMessage"] == (
        "Unable to lock subscriber, a transaction is already in process for the current subscriber")


def test_push_lock_released(daraja):
    """Test that a phone can get a new prompt once the previous one is answered."""
    checkout_id = daraja.stk_push().json()["CheckoutRequestID"]
    daraja.answer(checkout_id, "cancel")
    assert daraja.stk_push().status_code == 200


# -- callbacks ----------------------------------------------------------------------------------


def test_pay_callback_matches_sample(daraja, callback_receiver):
    """Test that the paid callback has exactly the documented keys, item names and JSON types."""
    checkout_id = push(daraja, callback_receiver, Amount=1)
    answer = daraja.answer(checkout_id, "pay")
    request = callback_receiver.wait_for(1, path="/stk")[0]
    callback = request.json["Body"]["stkCallback"]
    sample = SAMPLE_SUCCESS["Body"]["stkCallback"]
    metadata = items(callback)

    assert set(request.json) == {"Body"}
    assert set(request.json["Body"]) == {"stkCallback"}
    assert set(callback) == set(sample)
    assert callback["CheckoutRequestID"] == checkout_id
    assert callback["ResultCode"] == 0
    assert isinstance(callback["ResultCode"], int)
    assert callback["ResultDesc"] == sample["ResultDesc"]
    assert [item["Name"] for item in callback["CallbackMetadata"]["Item"]] == [
        item["Name"] for item in sample["CallbackMetadata"]["Item"]]
    assert isinstance(metadata["Amount"], (int, float)) and not isinstance(metadata["Amount"], bool)
    assert metadata["Amount"] == 1
    assert b'"Value": 1.00' in request.body
    assert RECEIPT_RE.match(metadata["MpesaReceiptNumber"])
    assert metadata["MpesaReceiptNumber"] == answer["MpesaReceiptNumber"]
    assert isinstance(metadata["TransactionDate"], int)
    assert len(str(metadata["TransactionDate"])) == 14
    assert isinstance(metadata["PhoneNumber"], int)
    assert metadata["PhoneNumber"] == 254708374149
    assert request.headers["Content-Type"] == "application/json"


def test_pay_transaction_date_eat(daraja, callback_receiver):
    """Test that TransactionDate is the EAT wall time of the payment."""
    daraja.answer(push(daraja, callback_receiver), "pay")
    stamp = items(stk_callback(callback_receiver))["TransactionDate"]
    paid = datetime.datetime.strptime(str(stamp), "%Y%m%d%H%M%S").replace(tzinfo=EAT)
    assert abs((datetime.datetime.now(EAT) - paid).total_seconds()) < 10


def test_pay_receipts_unique(daraja):
    """Test that receipts of several payments are all different 10-character codes."""
    receipts = set()
    for n in range(8):
        checkout_id = daraja.stk_push(phone="2547083741%02d" % n).json()["CheckoutRequestID"]
        receipts.add(daraja.answer(checkout_id, "pay")["MpesaReceiptNumber"])
    assert len(receipts) == 8
    assert all(RECEIPT_RE.match(receipt) for receipt in receipts)


FAILURES = [
    ("cancel", 1032, "Request cancelled by user"),
    ("no_answer", 1037, "DS timeout user cannot be reached"),
    ("insufficient_funds", 1, "The balance is insufficient for the transaction."),
    ("wrong_pin", 2001, "The initiator information is invalid."),
    ("expire", 1019, "Transaction has expired."),
    ("pin_locked", 8006, "The security credential is locked."),
    ("push_error", 1025, "An error occurred while sending a push request."),
]


@pytest.mark.parametrize("action, code, desc", FAILURES, ids=[case[0] for case in FAILURES])
def test_failure_callback(daraja, callback_receiver, action, code, desc):
    """Test that each failing answer sends the documented failure body, with no CallbackMetadata."""
    checkout_id = push(daraja, callback_receiver)
    answer = daraja.answer(checkout_id, action)
    callback = stk_callback(callback_receiver)
    assert answer["ResultCode"] == code
    assert answer["MpesaReceiptNumber"] is None
    assert set(callback) == SAMPLE_FAILURE_KEYS
    assert callback["ResultCode"] == code
    assert isinstance(callback["ResultCode"], int)
    assert callback["ResultDesc"] == desc


def test_answer_any_result_code(daraja, callback_receiver):
    """Test that a prompt can be answered with any code of the result table, e.g. 17."""
    checkout_id = push(daraja, callback_receiver)
    reply = daraja.control("POST", "/sandbox/prompts/%s/answer" % checkout_id, {"ResultCode": 17})
    assert reply.json()["ResultCode"] == 17
    assert stk_callback(callback_receiver)["ResultDesc"] == "Rule limited."


def test_answer_twice_conflict(daraja, callback_receiver):
    """Test that answering an already answered prompt is refused with HTTP 409."""
    checkout_id = push(daraja, callback_receiver)
    daraja.answer(checkout_id, "pay")
    reply = daraja.control("POST", "/sandbox/prompts/%s/answer" % checkout_id, {"action": "cancel"})
    assert reply.status_code == 409


def test_answer_unknown_action(daraja, callback_receiver):
    """Test that an unknown action is rejected with a message listing the known ones."""
    checkout_id = push(daraja, callback_receiver)
    reply = daraja.control("POST", "/sandbox/prompts/%s/answer" % checkout_id, {"action": "dance"})
    assert reply.status_code == 400
    assert "wrong_pin" in reply.json()["error"]


def test_legacy_balance_item(daraja, callback_receiver):
    """Test that legacy_balance_item adds a valueless Balance item in third place."""
    daraja.control("POST", "/sandbox/quirks", {"legacy_balance_item": True})
    daraja.answer(push(daraja, callback_receiver), "pay")
    item_list = stk_callback(callback_receiver)["CallbackMetadata"]["Item"]
    assert [item["Name"] for item in item_list] == [
        "Amount", "MpesaReceiptNumber", "Balance", "TransactionDate", "PhoneNumber"]
    assert item_list[2] == {"Name": "Balance"}


def test_string_result_codes(daraja, callback_receiver):
    """Test that string_result_codes sends ResultCode as a string."""
    daraja.control("POST", "/sandbox/quirks", {"string_result_codes": True})
    daraja.answer(push(daraja, callback_receiver), "pay")
    assert stk_callback(callback_receiver)["ResultCode"] == "0"


def test_decimal_string_amounts(daraja, callback_receiver):
    """Test that decimal_string_amounts sends the STK Amount as "100.00"."""
    daraja.control("POST", "/sandbox/quirks", {"decimal_string_amounts": True})
    daraja.answer(push(daraja, callback_receiver), "pay")
    assert items(stk_callback(callback_receiver))["Amount"] == "100.00"


def test_prompts_listing(daraja, callback_receiver):
    """Test that GET /sandbox/prompts lists pending prompts with the contract's keys."""
    checkout_id = push(daraja, callback_receiver, Amount=250, AccountReference="SO042")
    prompts = daraja.control("GET", "/sandbox/prompts").json()["prompts"]
    assert len(prompts) == 1
    assert set(prompts[0]) == {"CheckoutRequestID", "MerchantRequestID", "PhoneNumber", "Amount",
                               "AccountReference", "TransactionDesc", "BusinessShortCode", "CreatedAt"}
    assert prompts[0]["CheckoutRequestID"] == checkout_id
    assert prompts[0]["Amount"] == 250
    assert prompts[0]["AccountReference"] == "SO042"


def test_prompt_gone_after_answer(daraja, callback_receiver):
    """Test that an answered prompt leaves the pending list."""
    daraja.answer(push(daraja, callback_receiver), "cancel")
    assert daraja.control("GET", "/sandbox/prompts").json()["prompts"] == []


# -- phone behaviours ---------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour, code", [("pay", 0), ("cancel", 1032), ("no_answer", 1037),
                                             ("wrong_pin", 2001), ("insufficient_funds", 1)])
def test_phone_behaviour(daraja, callback_receiver, behaviour, code):
    """Test that a phone's default behaviour answers prompts without a person."""
    reply = daraja.control("POST", "/sandbox/phones/254708374149", {"behaviour": behaviour, "delay": 0})
    assert reply.status_code == 200
    push(daraja, callback_receiver)
    assert stk_callback(callback_receiver)["ResultCode"] == code


def test_phone_behaviour_delay(daraja, callback_receiver):
    """Test that a phone's delay keeps the prompt pending until it answers."""
    daraja.control("POST", "/sandbox/phones/254708374149", {"behaviour": "pay", "delay": 1.0})
    checkout_id = push(daraja, callback_receiver)
    pending = daraja.stk_query(checkout_id)
    callback = stk_callback(callback_receiver)
    assert pending.json()["errorMessage"] == "The transaction is being processed"
    assert callback["ResultCode"] == 0


def test_phone_manual_default(daraja, callback_receiver, sandbox):
    """Test that an unknown phone leaves the prompt pending."""
    checkout_id = push(daraja, callback_receiver)
    time.sleep(0.5)
    assert callback_receiver.requests == []
    assert sandbox.state.prompts[checkout_id]["status"] == "pending"


def test_phone_balance_insufficient(daraja, callback_receiver):
    """Test that paying more than the phone's balance fails with ResultCode 1."""
    daraja.control("POST", "/sandbox/phones/254708374149", {"behaviour": "manual", "balance": 50})
    answer = daraja.answer(push(daraja, callback_receiver, Amount=100), "pay")
    assert answer["ResultCode"] == 1


def test_phone_daily_limit(daraja, callback_receiver):
    """Test that a payment over the daily limit fails with ResultCode 4."""
    daraja.control("POST", "/sandbox/settings", {"daily_limit": 150})
    first = daraja.answer(push(daraja, callback_receiver, Amount=100), "pay")
    second = daraja.answer(push(daraja, callback_receiver, Amount=100), "pay")
    assert first["ResultCode"] == 0
    assert second["ResultCode"] == 4


def test_phone_bad_behaviour(daraja):
    """Test that an unknown behaviour is rejected with a message listing the known ones."""
    reply = daraja.control("POST", "/sandbox/phones/254708374149", {"behaviour": "sleep"})
    assert reply.status_code == 400
    assert "manual" in reply.json()["error"]


def test_expire_pending(daraja, callback_receiver):
    """Test that with expire_pending a prompt older than prompt_timeout gets a 1019 callback."""
    daraja.control("POST", "/sandbox/settings", {"expire_pending": True, "prompt_timeout": 0.3})
    push(daraja, callback_receiver)
    assert stk_callback(callback_receiver)["ResultCode"] == 1019


# -- till ---------------------------------------------------------------------------------------


def test_till_push_paid(daraja, callback_receiver, sandbox):
    """Test that a Buy Goods push with the store number and till as PartyB pays into the till."""
    checkout_id = push(daraja, callback_receiver, shortcode="5123400", PartyB="5123456",
                       TransactionType="CustomerBuyGoodsOnline")
    answer = daraja.answer(checkout_id, "pay")
    record = sandbox.state.transaction(answer["MpesaReceiptNumber"])
    assert stk_callback(callback_receiver)["ResultCode"] == 0
    assert record["ShortCode"] == "5123456"
    assert record["TransactionType"] == "Buy Goods"


def test_till_with_paybill_type(daraja, callback_receiver):
    """Test that CustomerPayBillOnline to a store number fails in the callback with the string SFC_IC0003."""
    push(daraja, callback_receiver, shortcode="5123400", PartyB="5123456")
    callback = stk_callback(callback_receiver)
    assert callback["ResultCode"] == "SFC_IC0003"
    assert callback["ResultDesc"] == "The operator does not exist."


def test_paybill_with_buy_goods_type(daraja, callback_receiver):
    """Test that CustomerBuyGoodsOnline to a PayBill fails in the callback with 2028."""
    push(daraja, callback_receiver, TransactionType="CustomerBuyGoodsOnline")
    callback = stk_callback(callback_receiver)
    assert callback["ResultCode"] == 2028
    assert callback["ResultDesc"] == "The request is not permitted according to product assignment."


def test_paybill_other_party_b(daraja, callback_receiver):
    """Test that a PayBill push whose PartyB is not the BusinessShortCode fails with SFC_IC0003."""
    push(daraja, callback_receiver, PartyB="600000")
    assert stk_callback(callback_receiver)["ResultCode"] == "SFC_IC0003"


# -- query --------------------------------------------------------------------------------------


def test_query_pending_envelope(daraja, callback_receiver):
    """Test that querying an unanswered prompt returns the processing envelope echoing the CheckoutRequestID."""
    checkout_id = push(daraja, callback_receiver)
    reply = daraja.stk_query(checkout_id)
    assert reply.status_code == 500
    assert reply.json() == {"requestId": checkout_id, "errorCode": "500.001.1001",
                            "errorMessage": "The transaction is being processed"}


def test_query_paid(daraja, callback_receiver):
    """Test that querying a paid prompt returns the documented keys with ResultCode the string "0"."""
    checkout_id = push(daraja, callback_receiver)
    daraja.answer(checkout_id, "pay")
    body = daraja.stk_query(checkout_id).json()
    assert set(body) == SAMPLE_QUERY_KEYS
    assert body["ResponseCode"] == "0"
    assert body["ResultCode"] == "0"
    assert body["ResultDesc"] == "The service request is processed successfully."
    assert body["CheckoutRequestID"] == checkout_id


def test_query_pending_then_paid(daraja, callback_receiver):
    """Test that the same prompt queries as pending before the answer and as paid after it."""
    checkout_id = push(daraja, callback_receiver)
    before = daraja.stk_query(checkout_id)
    daraja.answer(checkout_id, "pay")
    after = daraja.stk_query(checkout_id)
    assert before.json()["errorMessage"] == "The transaction is being processed"
    assert after.status_code == 200
    assert after.json()["ResultCode"] == "0"


def test_query_cancelled(daraja, callback_receiver):
    """Test that querying a cancelled prompt returns ResultCode "1032" as a string."""
    checkout_id = push(daraja, callback_receiver)
    daraja.answer(checkout_id, "cancel")
    assert daraja.stk_query(checkout_id).json()["ResultCode"] == "1032"


def test_query_dropped_callback_still_paid(daraja, callback_receiver):
    """Test that a paid prompt whose callback was dropped still queries as paid."""
    daraja.control("POST", "/sandbox/quirks", {"drop_callbacks": True})
    checkout_id = push(daraja, callback_receiver)
    daraja.answer(checkout_id, "pay")
    time.sleep(0.4)
    assert callback_receiver.requests == []
    assert daraja.stk_query(checkout_id).json()["ResultCode"] == "0"


def test_query_pending_quirk_off(daraja, callback_receiver):
    """Test that with query_pending_until_answered off an unanswered prompt queries as 1037."""
    daraja.control("POST", "/sandbox/quirks", {"query_pending_until_answered": False})
    checkout_id = push(daraja, callback_receiver)
    assert daraja.stk_query(checkout_id).json()["ResultCode"] == "1037"


def test_query_unknown_id(daraja):
    """Test that an unknown CheckoutRequestID is rejected as an invalid field."""
    reply = daraja.stk_query("ws_CO_000000000000000000708374149")
    assert reply.status_code == 400
    assert reply.json()["errorMessage"] == "Bad Request - Invalid CheckoutRequestID"


def test_query_wrong_password(daraja, callback_receiver):
    """Test that a query with a wrong password gives Wrong credentials."""
    checkout_id = push(daraja, callback_receiver)
    reply = daraja.stk_query(checkout_id, passkey="1" * 64)
    assert reply.json()["errorMessage"] == "[MerchantValidate] - Wrong credentials"
