"""Test the sandbox's C2B: URL registration, validation, confirmation and the STK echo."""
import hashlib
import re
import time

import pytest

SAMPLE_CONFIRMATION = {
    "TransactionType": "Pay Bill", "TransID": "RKL51ZDR4F", "TransTime": "20231121121325", "TransAmount": "5.00",
    "BusinessShortCode": "600966", "BillRefNumber": "Sample Transaction", "InvoiceNumber": "",
    "OrgAccountBalance": "25.00", "ThirdPartyTransID": "", "MSISDN": "2547 ***** 126", "FirstName": "NICHOLAS",
    "MiddleName": "", "LastName": ""}
PHONE = "254708374149"
PHONE_HASH = hashlib.sha256(PHONE.encode()).hexdigest()


def register(daraja, receiver, shortcode="600000", **kwargs):
    reply = daraja.register(shortcode, receiver.url, **kwargs)
    assert reply.status_code == 200, reply.text
    return reply.json()


def enable_validation(daraja, shortcode="600000"):
    reply = daraja.control("POST", "/sandbox/shortcodes/%s" % shortcode, {"validation_enabled": True})
    assert reply.status_code == 200, reply.text


# -- registration -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_register_response(daraja, callback_receiver, version):
    """Test that registration returns the misspelled OriginatorCoversationID and ResponseCode "0"."""
    body = register(daraja, callback_receiver, version=version)
    assert set(body) == {"OriginatorCoversationID", "ResponseCode", "ResponseDescription"}
    assert body["ResponseCode"] == "0"
    assert body["ResponseDescription"] == "success"


def test_register_response_code_quirk(daraja, callback_receiver):
    """Test that register_response_code can make registration return "00000000"."""
    daraja.control("POST", "/sandbox/quirks", {"register_response_code": "00000000"})
    assert register(daraja, callback_receiver, version="v2")["ResponseCode"] == "00000000"


@pytest.mark.parametrize("response_type", ["completed", "Canceled", "CANCELLED", ""])
def test_register_response_type_spelling(daraja, callback_receiver, response_type):
    """Test that ResponseType must be spelled exactly Completed or Cancelled."""
    reply = daraja.register("600000", callback_receiver.url, response_type=response_type)
    assert reply.status_code == 400
    assert reply.json()["errorMessage"] == "Bad Request - Invalid ResponseType"


def test_register_again_allowed(daraja, callback_receiver):
    """Test that the sandbox lets a shortcode register again by default."""
    register(daraja, callback_receiver)
    assert daraja.register("600000", callback_receiver.url + "/new").status_code == 200


def test_register_again_production(daraja, callback_receiver):
    """Test that urls_already_registered rejects a second registration like production."""
    daraja.control("POST", "/sandbox/quirks", {"urls_already_registered": True})
    register(daraja, callback_receiver)
    reply = daraja.register("600000", callback_receiver.url)
    assert reply.status_code == 500
    assert reply.json()["errorCode"] == "500.003.1001"
    assert reply.json()["errorMessage"] == "Urls are already registered"


def test_register_blocked_word(daraja):
    """Test that a confirmation URL containing mpesa gives Threat Detected."""
    reply = daraja.post("/mpesa/c2b/v1/registerurl", {
        "ShortCode": "600000", "ResponseType": "Completed",
        "ConfirmationURL": "http://127.0.0.1:9/mpesa/confirm", "ValidationURL": "http://127.0.0.1:9/validate"})
    assert reply.json()["errorMessage"] == "Bad Request - Threat Detected"
    assert reply.json()["requestId"] is None


def test_register_tunnel_host(daraja):
    """Test that an ngrok confirmation URL is rejected."""
    reply = daraja.post("/mpesa/c2b/v1/registerurl", {
        "ShortCode": "600000", "ResponseType": "Completed",
        "ConfirmationURL": "https://abc.ngrok.io/confirm", "ValidationURL": "http://127.0.0.1:9/validate"})
    assert reply.status_code == 400
    assert reply.json()["errorMessage"] == "Bad Request - Invalid ConfirmationURL"


def test_register_unknown_shortcode(daraja, callback_receiver):
    """Test that registering an unknown shortcode gives Merchant does not exist."""
    reply = daraja.register("700700", callback_receiver.url)
    assert reply.json()["errorMessage"] == "Merchant does not exist"


# -- confirmation -------------------------------------------------------------------------------


def test_confirmation_matches_sample(daraja, callback_receiver):
    """Test that the confirmation has exactly the documented keys, all strings, TransAmount with two decimals."""
    register(daraja, callback_receiver, version="v2")
    outcome = daraja.pay(amount=5, bill_ref="Sample Transaction", FirstName="NICHOLAS", MiddleName="", LastName="")
    request = callback_receiver.wait_for(1, path="/confirm")[0]
    body = request.json
    assert set(body) == set(SAMPLE_CONFIRMATION)
    assert all(isinstance(value, str) for value in body.values())
    assert body["TransactionType"] == "Pay Bill"
    assert body["TransID"] == outcome["TransID"]
    assert re.match(r"^[A-Z0-9]{10}$", body["TransID"])
    assert re.match(r"^\d{14}$", body["TransTime"])
    assert body["TransAmount"] == "5.00"
    assert body["BusinessShortCode"] == "600000"
    assert body["BillRefNumber"] == "Sample Transaction"
    assert body["InvoiceNumber"] == ""
    assert body["OrgAccountBalance"] == "5.00"
    assert body["FirstName"] == "NICHOLAS"
    assert request.headers["Content-Type"] == "application/json"


def test_confirmation_no_validation_call(daraja, callback_receiver):
    """Test that without validation_enabled only the confirmation URL is called."""
    register(daraja, callback_receiver)
    outcome = daraja.pay()
    assert outcome["validation"] is None
    assert [request.path for request in callback_receiver.wait_for(1)] == ["/confirm"]


def test_confirmation_balance_grows(daraja, callback_receiver):
    """Test that OrgAccountBalance carries the running balance after each payment."""
    register(daraja, callback_receiver)
    daraja.pay(amount=100)
    daraja.pay(amount=250)
    bodies = [request.json for request in callback_receiver.wait_for(2, path="/confirm")]
    assert [body["OrgAccountBalance"] for body in bodies] == ["100.00", "350.00"]


def test_pay_without_registration(daraja, sandbox):
    """Test that a payment to a shortcode with no registered URLs completes without callbacks."""
    outcome = daraja.pay()
    assert outcome["accepted"] is True
    assert outcome["confirmation"] is None
    assert sandbox.state.transaction(outcome["TransID"])["status"] == "completed"


def test_till_buy_goods(daraja, callback_receiver):
    """Test that a till payment is Buy Goods with an empty BillRefNumber."""
    register(daraja, callback_receiver, shortcode="5123456")
    daraja.pay(shortcode="5123456", bill_ref="ignored")
    body = callback_receiver.wait_for(1, path="/confirm")[0].json
    assert body["TransactionType"] == "Buy Goods"
    assert body["BillRefNumber"] == ""
    assert body["BusinessShortCode"] == "5123456"


def test_till_via_store_registration(daraja, callback_receiver):
    """Test that a till without its own registration uses its store number's URLs."""
    register(daraja, callback_receiver, shortcode="5123400")
    daraja.pay(shortcode="5123456")
    assert callback_receiver.wait_for(1, path="/confirm")[0].json["TransactionType"] == "Buy Goods"


def test_pay_wrong_type(daraja):
    """Test that paying a PayBill as Buy Goods is rejected with a message naming the expected type."""
    reply = daraja.control("POST", "/sandbox/c2b/pay", {
        "ShortCode": "600000", "MSISDN": PHONE, "Amount": 10, "TransactionType": "Buy Goods"})
    assert reply.status_code == 400
    assert "Pay Bill" in reply.json()["error"]


# -- MSISDN formats -----------------------------------------------------------------------------


def test_msisdn_v1_hashed(daraja, callback_receiver):
    """Test that a v1 registration gets the SHA-256 hex of the 12-digit MSISDN."""
    register(daraja, callback_receiver, version="v1")
    daraja.pay()
    assert callback_receiver.wait_for(1)[0].json["MSISDN"] == PHONE_HASH


def test_msisdn_v2_masked(daraja, callback_receiver):
    """Test that a v2 registration gets the masked 2547 ***** 149 form."""
    register(daraja, callback_receiver, version="v2")
    daraja.pay()
    assert callback_receiver.wait_for(1)[0].json["MSISDN"] == "2547 ***** 149"


@pytest.mark.parametrize("fmt, expected", [("plain", PHONE), ("masked", "2547 ***** 149"), ("hashed", PHONE_HASH)])
def test_msisdn_global_quirk(daraja, callback_receiver, fmt, expected):
    """Test that the global msisdn_format quirk overrides the registration version."""
    daraja.control("POST", "/sandbox/quirks", {"msisdn_format": fmt})
    register(daraja, callback_receiver, version="v2")
    daraja.pay()
    assert callback_receiver.wait_for(1)[0].json["MSISDN"] == expected


def test_msisdn_per_shortcode(daraja, callback_receiver):
    """Test that msisdn_format can be set for one shortcode."""
    reply = daraja.control("POST", "/sandbox/quirks", {"msisdn_format": {"600000": "plain"}})
    assert reply.json()["msisdn_format_by_shortcode"] == {"600000": "plain"}
    register(daraja, callback_receiver, version="v1")
    daraja.pay()
    assert callback_receiver.wait_for(1)[0].json["MSISDN"] == PHONE


# -- validation ---------------------------------------------------------------------------------


def test_validation_then_confirmation(daraja, callback_receiver):
    """Test that validation comes first, with the confirmation's shape and a blank OrgAccountBalance."""
    enable_validation(daraja)
    register(daraja, callback_receiver)
    outcome = daraja.pay(amount=70)
    requests_seen = callback_receiver.wait_for(2)
    validation, confirmation = requests_seen[0].json, requests_seen[1].json
    assert [request.path for request in requests_seen] == ["/validate", "/confirm"]
    assert set(validation) == set(SAMPLE_CONFIRMATION)
    assert validation["OrgAccountBalance"] == ""
    assert confirmation["OrgAccountBalance"] == "70.00"
    assert validation["TransID"] == confirmation["TransID"] == outcome["TransID"]


def test_validation_third_party_id(daraja, callback_receiver):
    """Test that the ThirdPartyTransID returned by validation is echoed in the confirmation."""
    enable_validation(daraja)
    register(daraja, callback_receiver)
    callback_receiver.respond("/validate", {"ResultCode": "0", "ResultDesc": "Accepted", "ThirdPartyTransID": "ERP-77"})
    daraja.pay()
    assert callback_receiver.wait_for(1, path="/confirm")[0].json["ThirdPartyTransID"] == "ERP-77"


@pytest.mark.parametrize("code", ["C2B00011", "C2B00012", "C2B00013", "C2B00014", "C2B00015", "C2B00016"])
def test_validation_reject(daraja, callback_receiver, sandbox, code):
    """Test that a reject code stops the payment: no confirmation, and the ledger keeps the code."""
    enable_validation(daraja)
    register(daraja, callback_receiver)
    callback_receiver.respond("/validate", {"ResultCode": code, "ResultDesc": "Rejected"})
    outcome = daraja.pay()
    record = sandbox.state.transaction(outcome["TransID"])
    time.sleep(0.3)
    assert outcome["accepted"] is False
    assert outcome["confirmation"] is None
    assert [request.path for request in callback_receiver.requests] == ["/validate"]
    assert record["status"] == "rejected"
    assert record["result_code"] == code
    assert sandbox.state.balances["600000"]["Utility Account"] == "0.00"


@pytest.mark.parametrize("response_type, accepted", [("Completed", True), ("Cancelled", False)])
def test_validation_timeout(daraja, callback_receiver, sandbox, response_type, accepted):
    """Test that a validation URL slower than validation_timeout gets the registered ResponseType applied."""
    daraja.control("POST", "/sandbox/settings", {"validation_timeout": 0.3})
    enable_validation(daraja)
    register(daraja, callback_receiver, response_type=response_type)
    callback_receiver.respond("/validate", {"ResultCode": "0"}, delay=1.0)
    outcome = daraja.pay()
    assert outcome["accepted"] is accepted
    assert "timed out" in outcome["validation"]["error"]
    assert (outcome["confirmation"] is not None) is accepted
    assert sandbox.state.transaction(outcome["TransID"])["status"] == ("completed" if accepted else "rejected")


def test_validation_unreachable(daraja, callback_receiver):
    """Test that an unreachable validation URL falls back to ResponseType Completed."""
    enable_validation(daraja)
    daraja.post("/mpesa/c2b/v1/registerurl", {
        "ShortCode": "600000", "ResponseType": "Completed",
        "ConfirmationURL": callback_receiver.url + "/confirm", "ValidationURL": "http://127.0.0.1:9/validate"})
    outcome = daraja.pay()
    assert outcome["accepted"] is True
    assert outcome["validation"]["state"] == "failed"
    assert callback_receiver.wait_for(1, path="/confirm")


def test_validation_html_reply(daraja, callback_receiver):
    """Test that a validation reply that is not JSON applies ResponseType Cancelled."""
    enable_validation(daraja)
    register(daraja, callback_receiver, response_type="Cancelled")
    callback_receiver.respond("/validate", "<html>oops</html>", status=500)
    assert daraja.pay()["accepted"] is False


# -- simulate -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_simulate(daraja, callback_receiver, version):
    """Test that the Daraja-shaped simulate responds at once and confirms in the background."""
    register(daraja, callback_receiver)
    reply = daraja.post("/mpesa/c2b/%s/simulate" % version, {
        "ShortCode": "600000", "CommandID": "CustomerPayBillOnline", "Amount": 10,
        "Msisdn": PHONE, "BillRefNumber": "INV-9"})
    body = reply.json()
    assert reply.status_code == 200
    assert body["ResponseCode"] == "0"
    assert body["ResponseDescription"] == "Accept the service request successfully."
    assert callback_receiver.wait_for(1, path="/confirm")[0].json["BillRefNumber"] == "INV-9"


def test_simulate_invalid_msisdn(daraja):
    """Test that simulate rejects a bad Msisdn."""
    reply = daraja.post("/mpesa/c2b/v1/simulate", {
        "ShortCode": "600000", "CommandID": "CustomerPayBillOnline", "Amount": 10, "Msisdn": "0708",
        "BillRefNumber": "X"})
    assert reply.json()["errorMessage"] == "Bad Request - Invalid Msisdn"


# -- STK echo -----------------------------------------------------------------------------------


def test_stk_echo(daraja, callback_receiver):
    """Test that an STK payment into a registered PayBill also sends a C2B confirmation with its receipt."""
    register(daraja, callback_receiver, shortcode="174379")
    checkout_id = daraja.stk_push(CallBackURL=callback_receiver.url + "/stk", AccountReference="SO042",
                                  Amount=300).json()["CheckoutRequestID"]
    receipt = daraja.answer(checkout_id, "pay")["MpesaReceiptNumber"]
    confirmation = callback_receiver.wait_for(1, path="/confirm")[0].json
    callback_receiver.wait_for(1, path="/stk")
    assert confirmation["TransID"] == receipt
    assert confirmation["BillRefNumber"] == "SO042"
    assert confirmation["TransAmount"] == "300.00"
    assert confirmation["TransactionType"] == "Pay Bill"


def test_stk_echo_off(daraja, callback_receiver):
    """Test that with stk_c2b_echo off an STK payment sends only the STK callback."""
    daraja.control("POST", "/sandbox/quirks", {"stk_c2b_echo": False})
    register(daraja, callback_receiver, shortcode="174379")
    checkout_id = daraja.stk_push(CallBackURL=callback_receiver.url + "/stk").json()["CheckoutRequestID"]
    daraja.answer(checkout_id, "pay")
    callback_receiver.wait_for(1, path="/stk")
    time.sleep(0.3)
    assert [request.path for request in callback_receiver.requests] == ["/stk"]


def test_stk_echo_not_for_failures(daraja, callback_receiver):
    """Test that a cancelled STK prompt sends no C2B confirmation."""
    register(daraja, callback_receiver, shortcode="174379")
    checkout_id = daraja.stk_push(CallBackURL=callback_receiver.url + "/stk").json()["CheckoutRequestID"]
    daraja.answer(checkout_id, "cancel")
    callback_receiver.wait_for(1, path="/stk")
    time.sleep(0.3)
    assert [request.path for request in callback_receiver.requests] == ["/stk"]


def test_stk_echo_order(daraja, callback_receiver):
    """Test that by default the STK callback of an echoed payment is not held back."""
    register(daraja, callback_receiver, shortcode="174379")
    checkout_id = daraja.stk_push(CallBackURL=callback_receiver.url + "/stk").json()["CheckoutRequestID"]
    daraja.answer(checkout_id, "pay")
    assert sorted(request.path for request in callback_receiver.wait_for(2)) == ["/confirm", "/stk"]


def test_stk_echo_out_of_order(daraja, callback_receiver):
    """Test that out_of_order delivers the C2B confirmation before the STK callback."""
    daraja.control("POST", "/sandbox/quirks", {"out_of_order": True})
    register(daraja, callback_receiver, shortcode="174379")
    checkout_id = daraja.stk_push(CallBackURL=callback_receiver.url + "/stk").json()["CheckoutRequestID"]
    daraja.answer(checkout_id, "pay")
    assert [request.path for request in callback_receiver.wait_for(2)] == ["/confirm", "/stk"]
