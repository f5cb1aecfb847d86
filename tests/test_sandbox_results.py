"""Test Transaction Status, Reversal and Account Balance: the credential check, the ack and the Result."""
import base64

import pytest
import requests

ACK_KEYS = {"OriginatorConversationID", "ConversationID", "ResponseCode", "ResponseDescription"}
RESULT_KEYS = {"ResultType", "ResultCode", "ResultDesc", "OriginatorConversationID", "ConversationID",
               "TransactionID", "ResultParameters", "ReferenceData"}
TS_PATH = "/mpesa/transactionstatus/v1/query"
REVERSAL_PATH = "/mpesa/reversal/v1/request"
BALANCE_PATH = "/mpesa/accountbalance/v1/query"


def parameters(result):
    """Return the ResultParameter list of a Result as a dict of Key to Value."""
    return dict((item["Key"], item.get("Value")) for item in result["ResultParameters"]["ResultParameter"])


def ts_body(daraja, receiver, receipt, **overrides):
    body = {
        "Initiator": "testapi", "SecurityCredential": daraja.security_credential(),
        "CommandID": "TransactionStatusQuery", "TransactionID": receipt, "PartyA": "600000",
        "IdentifierType": "4", "ResultURL": receiver.url + "/result", "QueueTimeOutURL": receiver.url + "/timeout",
        "Remarks": "Status check", "Occasion": "",
    }
    body.update(overrides)
    return body


def reversal_body(daraja, receiver, receipt, amount=100, **overrides):
    body = {
        "Initiator": "testapi", "SecurityCredential": daraja.security_credential(),
        "CommandID": "TransactionReversal", "TransactionID": receipt, "Amount": amount,
        "ReceiverParty": "600000", "RecieverIdentifierType": "11",
        "ResultURL": receiver.url + "/result", "QueueTimeOutURL": receiver.url + "/timeout",
        "Remarks": "Refund", "Occasion": "",
    }
    body.update(overrides)
    return body


def balance_body(daraja, receiver, **overrides):
    body = {
        "Initiator": "testapi", "SecurityCredential": daraja.security_credential(), "CommandID": "AccountBalance",
        "PartyA": "600000", "IdentifierType": "4", "Remarks": "Balance",
        "ResultURL": receiver.url + "/result", "QueueTimeOutURL": receiver.url + "/timeout",
    }
    body.update(overrides)
    return body


def result_of(receiver, count=1):
    return receiver.wait_for(count, path="/result")[count - 1].json["Result"]


def test_certificate_served(sandbox):
    """Test that GET /sandbox/certificate returns a PEM X.509 certificate."""
    from cryptography import x509

    reply = requests.get(sandbox.base_url + "/sandbox/certificate", timeout=10)
    certificate = x509.load_pem_x509_certificate(reply.content)
    assert reply.status_code == 200
    assert reply.text.startswith("-----BEGIN CERTIFICATE-----")
    assert certificate.public_key().key_size == 2048


# -- Transaction Status -------------------------------------------------------------------------


def test_status_ack(daraja, callback_receiver):
    """Test that Transaction Status acknowledges with the documented keys and ResponseCode "0"."""
    receipt = daraja.pay()["TransID"]
    reply = daraja.post(TS_PATH, ts_body(daraja, callback_receiver, receipt))
    body = reply.json()
    assert reply.status_code == 200
    assert set(body) == ACK_KEYS
    assert body["ResponseCode"] == "0"
    assert body["ResponseDescription"] == "Accept the service request successfully."
    assert body["ConversationID"].startswith("AG_")


def test_status_result(daraja, callback_receiver):
    """Test that the status Result describes the receipt from the ledger, with ResultParameter as a list."""
    receipt = daraja.pay(amount=300)["TransID"]
    ack = daraja.post(TS_PATH, ts_body(daraja, callback_receiver, receipt)).json()
    result = result_of(callback_receiver)
    values = parameters(result)
    assert set(result) == RESULT_KEYS
    assert result["ResultCode"] == 0
    assert result["ResultType"] == 0
    assert result["ConversationID"] == ack["ConversationID"]
    assert result["OriginatorConversationID"] == ack["OriginatorConversationID"]
    assert isinstance(result["ResultParameters"]["ResultParameter"], list)
    assert values["ReceiptNo"] == receipt
    assert values["Amount"] == "300"
    assert values["TransactionStatus"] == "Completed"
    assert values["DebitPartyName"].startswith("254708374149 - ")
    assert "Value" not in [item for item in result["ResultParameters"]["ResultParameter"]
                           if item["Key"] == "TransactionReason"][0]
    assert result["ReferenceData"] == {"ReferenceItem": {"Key": "Occasion"}}


def test_status_unknown_receipt(daraja, callback_receiver):
    """Test that an unknown receipt gives a failed Result without ResultParameters."""
    daraja.post(TS_PATH, ts_body(daraja, callback_receiver, "ZZZ0000000"))
    result = result_of(callback_receiver)
    assert result["ResultCode"] == "R000002"
    assert "ResultParameters" not in result


def test_status_wrong_password(daraja, callback_receiver):
    """Test that a credential holding the wrong password gives Result 2001 The initiator information is invalid."""
    receipt = daraja.pay()["TransID"]
    body = ts_body(daraja, callback_receiver, receipt, SecurityCredential=daraja.security_credential("wrong"))
    assert daraja.post(TS_PATH, body).status_code == 200
    result = result_of(callback_receiver)
    assert result["ResultCode"] == 2001
    assert result["ResultDesc"] == "The initiator information is invalid."


def test_status_wrong_initiator(daraja, callback_receiver):
    """Test that an unknown Initiator name gives Result 2001."""
    receipt = daraja.pay()["TransID"]
    daraja.post(TS_PATH, ts_body(daraja, callback_receiver, receipt, Initiator="someone"))
    assert result_of(callback_receiver)["ResultCode"] == 2001


def test_status_credential_other_key(daraja, callback_receiver):
    """Test that a credential encrypted with another key gives Result 2001."""
    receipt = daraja.pay()["TransID"]
    garbage = base64.b64encode(b"\x01" * 256).decode()
    daraja.post(TS_PATH, ts_body(daraja, callback_receiver, receipt, SecurityCredential=garbage))
    assert result_of(callback_receiver)["ResultCode"] == 2001


def test_status_credential_not_base64(daraja, callback_receiver):
    """Test that a SecurityCredential that is not base64 is rejected at once."""
    reply = daraja.post(TS_PATH, ts_body(daraja, callback_receiver, "X", SecurityCredential="not base64!"))
    assert reply.status_code == 400
    assert reply.json()["errorMessage"] == "Bad Request - Invalid SecurityCredential"


def test_status_wrong_command(daraja, callback_receiver):
    """Test that a wrong CommandID is rejected at once."""
    reply = daraja.post(TS_PATH, ts_body(daraja, callback_receiver, "X", CommandID="TransactionStatus"))
    assert reply.json()["errorMessage"] == "Bad Request - Invalid CommandID"


def test_status_queue_timeout(daraja, callback_receiver):
    """Test that the queue_timeout quirk posts to QueueTimeOutURL instead of ResultURL."""
    daraja.control("POST", "/sandbox/quirks", {"queue_timeout": 1})
    receipt = daraja.pay()["TransID"]
    daraja.post(TS_PATH, ts_body(daraja, callback_receiver, receipt))
    timeout = callback_receiver.wait_for(1, path="/timeout")[0].json
    assert timeout["Result"]["ResultCode"] != 0
    assert daraja.control("GET", "/sandbox/quirks").json()["queue_timeout"] == 0


# -- Reversal -----------------------------------------------------------------------------------


def test_reversal_result(daraja, callback_receiver, sandbox):
    """Test that a reversal Result carries the documented parameters and moves the balance back."""
    receipt = daraja.pay(amount=100)["TransID"]
    ack = daraja.post(REVERSAL_PATH, reversal_body(daraja, callback_receiver, receipt))
    result = result_of(callback_receiver)
    values = parameters(result)
    assert set(ack.json()) == ACK_KEYS
    assert result["ResultCode"] == 0
    assert set(values) == {"DebitAccountBalance", "Amount", "TransCompletedTime", "OriginalTransactionID",
                           "Charge", "CreditPartyPublicName", "DebitPartyPublicName"}
    assert values["OriginalTransactionID"] == receipt
    assert values["Amount"] == 100
    assert isinstance(values["Amount"], float)
    assert isinstance(values["TransCompletedTime"], int)
    assert values["DebitAccountBalance"] == "Utility Account|KES|0.00|0.00|0.00|0.00"
    assert sandbox.state.balances["600000"]["Utility Account"] == "0.00"
    assert sandbox.state.transaction(receipt)["status"] == "reversed"


def test_reversal_twice(daraja, callback_receiver):
    """Test that reversing the same receipt twice gives R000001 the second time."""
    daraja.pay(amount=100)
    receipt = daraja.pay(amount=100)["TransID"]
    daraja.post(REVERSAL_PATH, reversal_body(daraja, callback_receiver, receipt))
    daraja.post(REVERSAL_PATH, reversal_body(daraja, callback_receiver, receipt))
    second = result_of(callback_receiver, 2)
    assert result_of(callback_receiver, 1)["ResultCode"] == 0
    assert second["ResultCode"] == "R000001"


def test_reversal_unknown(daraja, callback_receiver):
    """Test that reversing an unknown receipt gives the string R000002."""
    daraja.post(REVERSAL_PATH, reversal_body(daraja, callback_receiver, "ZZZ0000000"))
    result = result_of(callback_receiver)
    assert result["ResultCode"] == "R000002"
    assert result["ResultDesc"] == "The OriginalTransactionID is invalid."


def test_reversal_correct_spelling_rejected(daraja, callback_receiver):
    """Test that ReceiverIdentifierType spelled correctly is rejected: Daraja wants RecieverIdentifierType."""
    body = reversal_body(daraja, callback_receiver, "ZZZ0000000")
    body["ReceiverIdentifierType"] = body.pop("RecieverIdentifierType")
    reply = daraja.post(REVERSAL_PATH, body)
    assert reply.status_code == 400
    assert reply.json()["errorMessage"] == "Bad Request - Invalid RecieverIdentifierType"


def test_reversal_wrong_password(daraja, callback_receiver, sandbox):
    """Test that a reversal with a wrong initiator password fails with 2001 and moves no money."""
    receipt = daraja.pay(amount=100)["TransID"]
    daraja.post(REVERSAL_PATH, reversal_body(daraja, callback_receiver, receipt,
                                             SecurityCredential=daraja.security_credential("nope")))
    assert result_of(callback_receiver)["ResultCode"] == 2001
    assert sandbox.state.balances["600000"]["Utility Account"] == "100.00"


def test_reversal_then_status(daraja, callback_receiver):
    """Test that the reversal's own receipt can be looked up with Transaction Status."""
    receipt = daraja.pay(amount=100)["TransID"]
    daraja.post(REVERSAL_PATH, reversal_body(daraja, callback_receiver, receipt))
    reversal_id = result_of(callback_receiver)["TransactionID"]
    daraja.post(TS_PATH, ts_body(daraja, callback_receiver, reversal_id))
    assert parameters(result_of(callback_receiver, 2))["ReceiptNo"] == reversal_id


# -- Account Balance ----------------------------------------------------------------------------


def balance_accounts(result):
    value = parameters(result)["AccountBalance"]
    return dict((part.split("|")[0], part.split("|")[2]) for part in value.split("&"))


def test_balance_result(daraja, callback_receiver):
    """Test that the balance Result lists every account with string codes, as Daraja's page shows."""
    daraja.post(BALANCE_PATH, balance_body(daraja, callback_receiver))
    result = result_of(callback_receiver)
    accounts = balance_accounts(result)
    assert result["ResultCode"] == "0"
    assert result["ResultType"] == "0"
    assert accounts["Utility Account"] == "0.00"
    assert "Working Account" in accounts
    assert isinstance(parameters(result)["BOCompletedTime"], int)


def test_balance_moves(daraja, callback_receiver):
    """Test that the balance follows payments and reversals."""
    daraja.pay(amount=500)
    receipt = daraja.pay(amount=200)["TransID"]
    daraja.post(REVERSAL_PATH, reversal_body(daraja, callback_receiver, receipt, amount=200))
    result_of(callback_receiver)
    daraja.post(BALANCE_PATH, balance_body(daraja, callback_receiver))
    assert balance_accounts(result_of(callback_receiver, 2))["Utility Account"] == "500.00"


def test_balance_single_object(daraja, callback_receiver):
    """Test that balance_single_parameter sends ResultParameter as one object."""
    daraja.control("POST", "/sandbox/quirks", {"balance_single_parameter": True})
    daraja.post(BALANCE_PATH, balance_body(daraja, callback_receiver))
    parameter = result_of(callback_receiver)["ResultParameters"]["ResultParameter"]
    assert isinstance(parameter, dict)
    assert parameter["Key"] == "AccountBalance"


def test_balance_numeric_codes(daraja, callback_receiver):
    """Test that balance_numeric_codes sends ResultType and ResultCode as numbers."""
    daraja.control("POST", "/sandbox/quirks", {"balance_numeric_codes": True})
    daraja.post(BALANCE_PATH, balance_body(daraja, callback_receiver))
    result = result_of(callback_receiver)
    assert result["ResultCode"] == 0
    assert result["ResultType"] == 0


def test_balance_wrong_password(daraja, callback_receiver):
    """Test that a balance query with a wrong password gets Result 2001."""
    daraja.post(BALANCE_PATH, balance_body(daraja, callback_receiver,
                                           SecurityCredential=daraja.security_credential("bad")))
    assert result_of(callback_receiver)["ResultCode"] == 2001


def test_balance_unknown_shortcode(daraja, callback_receiver):
    """Test that a balance query for an unknown shortcode gives Merchant does not exist."""
    reply = daraja.post(BALANCE_PATH, balance_body(daraja, callback_receiver, PartyA="700700"))
    assert reply.json()["errorMessage"] == "Merchant does not exist"


@pytest.mark.parametrize("field", ["ResultURL", "QueueTimeOutURL"])
def test_result_url_blocked_word(daraja, callback_receiver, field):
    """Test that ResultURL and QueueTimeOutURL go through the blocked-word filter."""
    reply = daraja.post(BALANCE_PATH, balance_body(daraja, callback_receiver, **{field: "http://127.0.0.1/cmd"}))
    assert reply.json()["errorMessage"] == "Bad Request - Threat Detected"
