"""Tests of the inbound body parsers on Daraja's documented samples and on malformed bodies."""

import datetime
import json

from decimal import Decimal

import pytest

from daraja_fixtures import daraja  # noqa: F401  (sets sys.path)
from daraja import (
    DarajaParseError,
    parse_c2b,
    parse_pull_rows,
    parse_result,
    parse_stk_callback,
    stk_result_message,
)
from daraja.codes import STK_RESULT_MESSAGES

# STK callback success sample of Daraja's M-Pesa Express page, verbatim.
STK_SUCCESS = """{"Body": {"stkCallback": {
  "MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_191220191020363925",
  "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
  "CallbackMetadata": {"Item": [
    {"Name": "Amount", "Value": 1.00},
    {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
    {"Name": "TransactionDate", "Value": 20191219102115},
    {"Name": "PhoneNumber", "Value": 254708374149}]}}}}"""

# The older five-item shape: a valueless Balance item in third place.
STK_SUCCESS_FIVE = """{"Body": {"stkCallback": {
  "MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_191220191020363925",
  "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
  "CallbackMetadata": {"Item": [
    {"Name": "Amount", "Value": 1.00},
    {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
    {"Name": "Balance"},
    {"Name": "TransactionDate", "Value": 20191219102115},
    {"Name": "PhoneNumber", "Value": 254708374149}]}}}}"""

# Failure sample of the M-Pesa Express page, verbatim.
STK_FAILURE = """{"Body": {"stkCallback": {"MerchantRequestID": "f1e2-4b95-a71d-b30d3cdbb7a7942864",
  "CheckoutRequestID": "ws_CO_21072024125243250722943992", "ResultCode": 1032, "ResultDesc": "Request cancelled by user"}}}"""

STK_SFC = """{"Body": {"stkCallback": {"MerchantRequestID": "f1e2-4b95-a71d-b30d3cdbb7a7942864",
  "CheckoutRequestID": "ws_CO_21072024125243250722943992", "ResultCode": "SFC_IC0003",
  "ResultDesc": "The operator does not exist."}}}"""

# C2B v2 sample of the Customer To Business page, verbatim.
C2B_V2 = """{"TransactionType": "Pay Bill", "TransID": "RKL51ZDR4F", "TransTime": "20231121121325", "TransAmount": "5.00",
 "BusinessShortCode": "600966", "BillRefNumber": "Sample Transaction", "InvoiceNumber": "", "OrgAccountBalance": "25.00",
 "ThirdPartyTransID": "", "MSISDN": "2547 ***** 126", "FirstName": "NICHOLAS", "MiddleName": "", "LastName": ""}"""

FULL_HASH = "94c392c311d522da950619227b3361752a42042db7e1e699b26e628305c68a88"
# Daraja's FAQ prints the hash with "39" missing after "94c": 62 characters.
DOC_HASH = "94c2c311d522da950619227b3361752a42042db7e1e699b26e628305c68a88"

# Transaction Status result sample of the Transaction Status page (its "..." elisions removed).
TS_RESULT = {"Result": {
    "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
    "OriginatorConversationID": "1236-7134259-1", "ConversationID": "AG_20210709_1234409f86436c583e3f",
    "TransactionID": "MBN0000000",
    "ResultParameters": {"ResultParameter": [
        {"Key": "DebitPartyName", "Value": "600310 - Safaricom333"},
        {"Key": "DebitPartyName", "Value": "254708374149 - John Doe"},
        {"Key": "OriginatorConversationID", "Value": "3211-416020-3"},
        {"Key": "InitiatedTime", "Value": 20200120164825},
        {"Key": "DebitAccountType", "Value": "Utility Account"},
        {"Key": "DebitPartyCharges", "Value": "Fee For B2C Payment|KES|22.40"},
        {"Key": "TransactionReason"},
        {"Key": "ReasonType", "Value": "Business Payment to Customer via API"},
        {"Key": "TransactionStatus", "Value": "Completed"},
        {"Key": "FinalisedTime", "Value": 20200120164825},
        {"Key": "Amount", "Value": "300"},
        {"Key": "ConversationID", "Value": "AG_20200120_000041b6ec2a0e4e2da2"},
        {"Key": "ReceiptNo", "Value": "MBN31H462N"}]},
    "ReferenceData": {"ReferenceItem": {"Key": "Occasion"}}}}

REVERSAL_SUCCESS = {"Result": {
    "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
    "OriginatorConversationID": "f1e2-4b95-a71d-b30d3cdbb7a7436546",
    "ConversationID": "AG_20210706_20106e9209f64bebd05b", "TransactionID": "SGU91HBCZR",
    "ResultParameters": {"ResultParameter": [
        {"Key": "DebitAccountBalance", "Value": "Utility Account|KES|7722179.62|7722179.62|0.00|0.00"},
        {"Key": "Amount", "Value": 1.00},
        {"Key": "TransCompletedTime", "Value": 20210706160301},
        {"Key": "OriginalTransactionID", "Value": "RGT71HBCZR"},
        {"Key": "Charge", "Value": 0.00},
        {"Key": "CreditPartyPublicName", "Value": "254705912645 - NICHOLAS JOHN SONGOK"},
        {"Key": "DebitPartyPublicName", "Value": "600992 - Safaricom Daraja 992"}]},
    "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://internalsandbox.example/cb"}}}}

REVERSAL_FAILURE = {"Result": {
    "ResultType": 0, "ResultCode": "R000002", "ResultDesc": "The OriginalTransactionID is invalid.",
    "OriginatorConversationID": "f1e2-4b95-a71d-b30d3cdbb7a7436546",
    "ConversationID": "AG_20210706_20106e9209f64bebd05b", "TransactionID": "SGU91HBCZR",
    "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://internalsandbox.example/cb"}}}}

BALANCE_VALUE = ("Working Account|KES|700000.00|700000.00|0.00|0.00&Utility Account|KES|228037.00|228037.00|0.00|0.00"
                 "&Charges Paid Account|KES|-1540.00|-1540.00|0.00|0.00")

BALANCE_LIST = {"Result": {
    "ResultType": "0", "ResultCode": "0", "ResultDesc": "The service request is processed successfully",
    "OriginatorConversationID": "16917-22577599-3", "ConversationID": "AG_20200206_00005e091a8ec6b9eac5",
    "TransactionID": "OA90000000",
    "ResultParameters": {"ResultParameter": [
        {"Key": "AccountBalance", "Value": BALANCE_VALUE},
        {"Key": "BOCompletedTime", "Value": "20200109125710"}]},
    "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://internalsandbox.example/cb"}}}}

BALANCE_SINGLE = {"Result": {
    "ResultType": 0, "ResultCode": 2001, "ResultDesc": "The initiator information is invalid.",
    "OriginatorConversationID": "16917-22577599-3", "ConversationID": "AG_20200206_00005e091a8ec6b9eac5",
    "TransactionID": "OA90000000",
    "ResultParameters": {"ResultParameter": {"Key": "BOCompletedTime", "Value": 20200109125710}},
    "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://internalsandbox.example/cb"}}}}

PULL_ANSWER = {
    "ResponseRefID": "26178-42530161-2", "ResponseCode": "1000", "ResponseMessage": "Success",
    "Response": [[
        {"transactionId": "OHR6IAI0JE", "trxDate": "2020-08-05T10:13:00Z", "msisdn": 254722000000,
         "sender": "UNKNOWN", "transactiontype": "c2b-pay-bill-debit", "billreference": "Test",
         "amount": "50.0", "organizationname": "Daraja Pull API Test"},
        {"transactionId": "OHR6IAI0JF", "trxDate": "2020-08-05T11:00:00Z", "msisdn": "254722000001",
         "transactiontype": "c2b-pay-bill-debit", "billreference": "SO042", "amount": 1000,
         "organizationname": "Daraja Pull API Test"},
    ]],
}


# STK callback ---------------------------------------------------------------------------

def test_stk_success_four_items():
    """Test that the documented four-item success callback parses into a paid record."""
    callback = parse_stk_callback(STK_SUCCESS)
    assert callback.paid is True
    assert callback.result_code == "0"
    assert callback.merchant_request_id == "29115-34620561-1"
    assert callback.checkout_request_id == "ws_CO_191220191020363925"
    assert callback.result_desc == "The service request is processed successfully."
    assert callback.amount == Decimal("1.00")
    assert str(callback.amount) == "1.00"
    assert callback.receipt == "NLJ7RT61SV"
    assert callback.transaction_date == datetime.datetime(2019, 12, 19, 7, 21, 15)
    assert callback.phone == "254708374149"
    assert callback.phone_kind == "plain"


def test_stk_success_five_items():
    """Test that the legacy valueless Balance item changes nothing."""
    assert parse_stk_callback(STK_SUCCESS_FIVE) == parse_stk_callback(STK_SUCCESS)


@pytest.mark.parametrize("kind", [dict, bytes, str])
def test_stk_input_types(kind):
    """Test that dict, bytes and str bodies give the same record."""
    body = {dict: json.loads(STK_SUCCESS), bytes: STK_SUCCESS.encode("utf-8"), str: STK_SUCCESS}[kind]
    assert parse_stk_callback(body).receipt == "NLJ7RT61SV"


def test_stk_items_reordered():
    """Test that items are read by Name, not by position."""
    data = json.loads(STK_SUCCESS)
    items = data["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    items.reverse()
    callback = parse_stk_callback(data)
    assert callback.receipt == "NLJ7RT61SV"
    assert callback.amount == Decimal("1.00")


def test_stk_missing_items():
    """Test that missing metadata items become None."""
    data = json.loads(STK_SUCCESS)
    data["Body"]["stkCallback"]["CallbackMetadata"]["Item"] = [{"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"}]
    callback = parse_stk_callback(data)
    assert callback.amount is None
    assert callback.phone is None
    assert callback.phone_kind == "missing"
    assert callback.transaction_date is None


def test_stk_string_values():
    """Test that string ResultCode, Amount, TransactionDate and PhoneNumber are normalised alike."""
    data = json.loads(STK_SUCCESS)
    callback_data = data["Body"]["stkCallback"]
    callback_data["ResultCode"] = "0"
    callback_data["CallbackMetadata"]["Item"] = [
        {"Name": "Amount", "Value": "1.00"},
        {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
        {"Name": "TransactionDate", "Value": "20191219102115"},
        {"Name": "PhoneNumber", "Value": "254708374149"},
    ]
    assert parse_stk_callback(data) == parse_stk_callback(STK_SUCCESS)


def test_stk_integer_amount():
    """Test that an integer Amount gets 2 decimal places."""
    data = json.loads(STK_SUCCESS)
    data["Body"]["stkCallback"]["CallbackMetadata"]["Item"][0]["Value"] = 10500
    assert str(parse_stk_callback(data).amount) == "10500.00"


def test_stk_failure():
    """Test that the documented cancellation parses into an unpaid record with no metadata."""
    callback = parse_stk_callback(STK_FAILURE)
    assert callback.paid is False
    assert callback.result_code == "1032"
    assert callback.result_desc == "Request cancelled by user"
    assert callback.amount is None
    assert callback.receipt is None
    assert callback.checkout_request_id == "ws_CO_21072024125243250722943992"


def test_stk_string_code():
    """Test that the string code SFC_IC0003 is kept as sent and means not paid."""
    callback = parse_stk_callback(STK_SFC)
    assert callback.result_code == "SFC_IC0003"
    assert callback.paid is False


def test_stk_masked_phone():
    """Test that a masked PhoneNumber is kept as sent and classified."""
    data = json.loads(STK_SUCCESS)
    data["Body"]["stkCallback"]["CallbackMetadata"]["Item"][3]["Value"] = "2547 ***** 149"
    callback = parse_stk_callback(data)
    assert callback.phone == "2547 ***** 149"
    assert callback.phone_kind == "masked"


@pytest.mark.parametrize("body, field", [
    ("not json", "body"),
    (b"\xff\xfe", "body"),
    ("[1, 2]", "body"),
    ({"Body": {}}, "Body.stkCallback"),
    ({"stkCallback": {}}, "Body.stkCallback"),
    ({"Body": {"stkCallback": {"ResultCode": 0}}}, "CheckoutRequestID"),
    ({"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1"}}}, "ResultCode"),
    ({"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0,
                               "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": "one"}]}}}}, "Amount"),
])
def test_stk_malformed(body, field):
    """Test that each malformed callback raises DarajaParseError naming the field."""
    with pytest.raises(DarajaParseError) as caught:
        parse_stk_callback(body)
    assert caught.value.field == field


def test_parse_error_is_value_error():
    """Test that DarajaParseError is a ValueError too."""
    with pytest.raises(ValueError):
        parse_stk_callback("{}")


@pytest.mark.parametrize("code", sorted(STK_RESULT_MESSAGES))
def test_result_message_known(code):
    """Test that every documented result code has its own plain-English message."""
    message = stk_result_message(code)
    assert message == STK_RESULT_MESSAGES[code]
    assert "result code" not in message


@pytest.mark.parametrize("code, fragment", [
    (0, "paid"), (1032, "cancelled"), (1037, "could not be reached"), (1, "balance is too low"),
    (2001, "wrong M-Pesa PIN"), (1019, "expired"), ("SFC_IC0003", "PayBill and Till"),
])
def test_result_message_wording(code, fragment):
    """Test that messages describe what happened in the salesperson's words."""
    assert fragment in stk_result_message(code)


def test_result_message_unknown():
    """Test that an unknown code gets a generic message naming the code."""
    assert "1031" in stk_result_message(1031)


def test_result_message_table_complete():
    """Test that every code of Daraja's STK result table has a message."""
    documented = {"0", "1", "2", "3", "4", "8", "17", "1001", "1019", "1025", "9999", "1032", "1037",
                  "2001", "2028", "8006", "SFC_IC0003"}
    assert documented <= set(STK_RESULT_MESSAGES)


# C2B ------------------------------------------------------------------------------------

def test_c2b_v2_sample():
    """Test that the documented C2B v2 body parses with its masked MSISDN kept as sent."""
    payment = parse_c2b(C2B_V2)
    assert payment.transaction_type == "Pay Bill"
    assert payment.trans_id == "RKL51ZDR4F"
    assert payment.trans_time == datetime.datetime(2023, 11, 21, 9, 13, 25)
    assert payment.amount == Decimal("5.00")
    assert payment.shortcode == "600966"
    assert payment.bill_ref_number == "Sample Transaction"
    assert payment.invoice_number == ""
    assert payment.org_account_balance == Decimal("25.00")
    assert payment.third_party_trans_id == ""
    assert payment.msisdn == "2547 ***** 126"
    assert payment.msisdn_kind == "masked"
    assert payment.first_name == "NICHOLAS"
    assert payment.middle_name == ""
    assert payment.last_name == ""


def test_c2b_v1_masked():
    """Test that the v1 page's masked form 25470****149 is classified as masked."""
    data = json.loads(C2B_V2)
    data["MSISDN"] = "25470****149"
    payment = parse_c2b(data)
    assert payment.msisdn == "25470****149"
    assert payment.msisdn_kind == "masked"


@pytest.mark.parametrize("value", [FULL_HASH, DOC_HASH])
def test_c2b_hashed(value):
    """Test that the 64-character hash and the doc's 62-character one are both classified as hashed."""
    data = json.loads(C2B_V2)
    data["MSISDN"] = value
    payment = parse_c2b(data)
    assert payment.msisdn == value
    assert payment.msisdn_kind == "hashed"


def test_c2b_plain():
    """Test that a plain MSISDN is normalised."""
    data = json.loads(C2B_V2)
    data["MSISDN"] = "254708374149"
    payment = parse_c2b(data)
    assert payment.msisdn == "254708374149"
    assert payment.msisdn_kind == "plain"


def test_c2b_odd_msisdn():
    """Test that an unreadable MSISDN is recorded as missing instead of failing the payment."""
    data = json.loads(C2B_V2)
    data["MSISDN"] = "not-a-number"
    payment = parse_c2b(data)
    assert payment.msisdn is None
    assert payment.msisdn_kind == "missing"


@pytest.mark.parametrize("value, expected", [("100.00", "100.00"), ("10", "10.00"), (100, "100.00"), (5.5, "5.50")])
def test_c2b_amount_forms(value, expected):
    """Test that TransAmount as decimal string, integer string or number becomes a 2-place Decimal."""
    data = json.loads(C2B_V2)
    data["TransAmount"] = value
    assert str(parse_c2b(data).amount) == expected


def test_c2b_validation_blank_balance():
    """Test that the blank OrgAccountBalance of a validation request becomes None."""
    data = json.loads(C2B_V2)
    data["OrgAccountBalance"] = ""
    assert parse_c2b(data).org_account_balance is None


def test_c2b_bad_time():
    """Test that an unreadable TransTime becomes None."""
    data = json.loads(C2B_V2)
    data["TransTime"] = "2023-11-21"
    assert parse_c2b(data).trans_time is None


@pytest.mark.parametrize("change, field", [
    ({"TransID": None}, "TransID"),
    ({"TransID": ""}, "TransID"),
    ({"TransAmount": None}, "TransAmount"),
    ({"TransAmount": ""}, "TransAmount"),
    ({"TransAmount": "five"}, "TransAmount"),
    ({"TransAmount": True}, "TransAmount"),
])
def test_c2b_malformed(change, field):
    """Test that a C2B body without TransID or a numeric TransAmount raises DarajaParseError naming it."""
    data = json.loads(C2B_V2)
    data.update(change)
    with pytest.raises(DarajaParseError) as caught:
        parse_c2b(data)
    assert caught.value.field == field


@pytest.mark.parametrize("body", ["<xml/>", "null", b"[]"])
def test_c2b_not_object(body):
    """Test that bodies that are not JSON objects raise DarajaParseError on the body."""
    with pytest.raises(DarajaParseError) as caught:
        parse_c2b(body)
    assert caught.value.field == "body"


# Results --------------------------------------------------------------------------------

def test_transaction_status_result():
    """Test that the documented Transaction Status result parses by Key."""
    result = parse_result(TS_RESULT)
    assert result.success is True
    assert result.result_code == "0"
    assert result.result_type == "0"
    assert result.receipt == "MBN31H462N"
    assert result.amount == Decimal("300.00")
    assert result.transaction_status == "Completed"
    assert result.completed_at == datetime.datetime(2020, 1, 20, 13, 48, 25)
    assert result.conversation_id == "AG_20210709_1234409f86436c583e3f"
    assert result.parameters["DebitPartyName"] == "600310 - Safaricom333"
    assert result.parameters["TransactionReason"] is None
    assert ("DebitPartyName", "254708374149 - John Doe") in result.parameter_list
    assert result.reference_data == {"Occasion": None}


def test_reversal_success():
    """Test that the documented Reversal success result parses with its number Amount."""
    result = parse_result(REVERSAL_SUCCESS)
    assert result.success is True
    assert result.amount == Decimal("1.00")
    assert result.completed_at == datetime.datetime(2021, 7, 6, 13, 3, 1)
    assert result.parameters["OriginalTransactionID"] == "RGT71HBCZR"
    assert result.transaction_id == "SGU91HBCZR"


def test_reversal_failure():
    """Test that the string failure code R000002 is kept and means failure."""
    result = parse_result(REVERSAL_FAILURE)
    assert result.success is False
    assert result.result_code == "R000002"
    assert result.parameters == {}
    assert result.amount is None


def test_balance_list():
    """Test that a balance result with a list of parameters splits the accounts."""
    result = parse_result(BALANCE_LIST)
    assert result.success is True
    assert [account.name for account in result.accounts] == ["Working Account", "Utility Account", "Charges Paid Account"]
    assert result.accounts[0].currency == "KES"
    assert result.accounts[0].available == Decimal("700000.00")
    assert result.accounts[2].available == Decimal("-1540.00")
    assert result.accounts[1].amounts == (Decimal("228037.00"), Decimal("228037.00"), Decimal("0.00"), Decimal("0.00"))
    assert result.completed_at == datetime.datetime(2020, 1, 9, 9, 57, 10)


def test_balance_single_object():
    """Test that ResultParameter as a single object is read like a one-item list."""
    result = parse_result(BALANCE_SINGLE)
    assert result.result_code == "2001"
    assert result.success is False
    assert result.parameters == {"BOCompletedTime": 20200109125710}
    assert result.completed_at == datetime.datetime(2020, 1, 9, 9, 57, 10)
    assert result.accounts == ()


@pytest.mark.parametrize("body, field", [
    ({}, "Result"),
    ({"Result": "x"}, "Result"),
    ({"Result": {"ResultDesc": "x"}}, "ResultCode"),
    ({"Result": {"ResultCode": 0, "ResultParameters": {"ResultParameter": [{"Key": "Amount", "Value": "abc"}]}}},
     "Amount"),
    ("{", "body"),
])
def test_result_malformed(body, field):
    """Test that malformed results raise DarajaParseError naming the field."""
    with pytest.raises(DarajaParseError) as caught:
        parse_result(body)
    assert caught.value.field == field


# Pull Transactions ----------------------------------------------------------------------

def test_pull_rows():
    """Test that Pull Transactions rows parse with lower-case keys and UTC times."""
    rows = parse_pull_rows(PULL_ANSWER)
    assert len(rows) == 2
    first = rows[0]
    assert first.transaction_id == "OHR6IAI0JE"
    assert first.trx_date == datetime.datetime(2020, 8, 5, 10, 13)
    assert first.msisdn == "254722000000"
    assert first.msisdn_kind == "plain"
    assert first.transaction_type == "c2b-pay-bill-debit"
    assert first.bill_reference == "Test"
    assert first.amount == Decimal("50.00")
    assert first.organization_name == "Daraja Pull API Test"
    assert rows[1].amount == Decimal("1000.00")


def test_pull_rows_eat_option():
    """Test that the Z suffix can be distrusted and the time read as EAT."""
    rows = parse_pull_rows(PULL_ANSWER, trust_utc_suffix=False)
    assert rows[0].trx_date == datetime.datetime(2020, 8, 5, 7, 13)


@pytest.mark.parametrize("body", [
    {"ResponseCode": "1001", "Transaction": "[[]]"},
    {"ResponseCode": "1001", "Response": [[]]},
    [],
    "[]",
])
def test_pull_no_rows(body):
    """Test that Daraja's empty responses, including the "[[]]" string, give no rows."""
    assert parse_pull_rows(body) == []


def test_pull_rows_list_and_bytes():
    """Test that a bare list of rows and a bytes body are accepted."""
    rows = PULL_ANSWER["Response"][0]
    assert len(parse_pull_rows(rows)) == 2
    assert len(parse_pull_rows(json.dumps(PULL_ANSWER).encode("utf-8"))) == 2


@pytest.mark.parametrize("row, field", [
    ({"amount": "10"}, "transactionId"),
    ({"transactionId": "OHR6IAI0JE"}, "amount"),
    ({"transactionId": "OHR6IAI0JE", "amount": "ten"}, "amount"),
])
def test_pull_malformed(row, field):
    """Test that a row without transactionId or numeric amount raises DarajaParseError naming it."""
    with pytest.raises(DarajaParseError) as caught:
        parse_pull_rows({"Response": [[row]]})
    assert caught.value.field == field
