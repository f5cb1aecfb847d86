"""Test Pull Transactions: registration and paging through the ledger."""
import datetime

REGISTER_PATH = "/pulltransactions/v1/register"
QUERY_PATH = "/pulltransactions/v1/query"
EAT = datetime.timezone(datetime.timedelta(hours=3))


def pull_register(daraja, shortcode="600000"):
    return daraja.post(REGISTER_PATH, {"ShortCode": shortcode, "RequestType": "Pull",
                                       "NominatedNumber": "0722000000", "CallBackURL": "http://127.0.0.1:9/pull"})


def window(hours_back=1, hours_ahead=1):
    now = datetime.datetime.now(EAT)
    start = (now - datetime.timedelta(hours=hours_back)).strftime("%Y-%m-%d %H:%M:%S")
    end = (now + datetime.timedelta(hours=hours_ahead)).strftime("%Y-%m-%d %H:%M:%S")
    return start, end


def pull_query(daraja, offset="0", shortcode="600000"):
    start, end = window()
    return daraja.post(QUERY_PATH, {"ShortCode": shortcode, "StartDate": start, "EndDate": end,
                                    "OffSetValue": offset})


def test_register_then_again(daraja):
    """Test that the first registration returns 1000 and the second 1001."""
    first = pull_register(daraja).json()
    second = pull_register(daraja).json()
    assert set(first) == {"ResponseRefID", "ResponseStatus", "ShortCode", "ResponseDescription"}
    assert first["ResponseStatus"] == "1000"
    assert first["ResponseDescription"] == "Shortcode Registered Successfully"
    assert second["ResponseStatus"] == "1001"


def test_register_bad_request_type(daraja):
    """Test that a RequestType other than Pull is rejected."""
    reply = daraja.post(REGISTER_PATH, {"ShortCode": "600000", "RequestType": "Push",
                                        "NominatedNumber": "0722000000", "CallBackURL": "http://127.0.0.1:9/pull"})
    assert reply.json()["errorMessage"] == "Bad Request - Invalid RequestType"


def test_query_rows(daraja):
    """Test that a query lists the shortcode's payments with the documented lower-case keys and types."""
    pull_register(daraja)
    paid = daraja.pay(amount=30, bill_ref="ACC-1")["TransID"]
    body = pull_query(daraja).json()
    row = body["Response"][0][0]
    assert body["ResponseCode"] == "1000"
    assert set(row) == {"transactionId", "trxDate", "msisdn", "transactiontype", "billreference", "amount",
                        "organizationname"}
    assert row["transactionId"] == paid
    assert row["trxDate"].endswith("Z")
    assert isinstance(row["msisdn"], int)
    assert row["transactiontype"] == "c2b-pay-bill-debit"
    assert row["billreference"] == "ACC-1"
    assert row["amount"] == 30


def test_query_empty(daraja):
    """Test that a query with no rows returns code 1001 and Transaction "[[]]"."""
    pull_register(daraja)
    body = pull_query(daraja).json()
    assert body["ResponseCode"] == "1001"
    assert body["Transaction"] == "[[]]"


def test_query_paging(daraja):
    """Test that OffSetValue pages through the rows by row offset."""
    daraja.control("POST", "/sandbox/settings", {"pull_page_size": 2})
    pull_register(daraja)
    receipts = [daraja.pay(amount=10 + n)["TransID"] for n in range(3)]
    first = [row["transactionId"] for row in pull_query(daraja, "0").json()["Response"][0]]
    second = [row["transactionId"] for row in pull_query(daraja, "2").json()["Response"][0]]
    assert first == receipts[:2]
    assert second == receipts[2:]


def test_query_not_registered(daraja):
    """Test that querying a shortcode that is not registered for pull is rejected with 400.001."""
    reply = pull_query(daraja)
    assert reply.status_code == 400
    assert reply.json()["errorCode"] == "400.001"


def test_query_bad_date(daraja):
    """Test that a StartDate in the wrong format is rejected."""
    pull_register(daraja)
    reply = daraja.post(QUERY_PATH, {"ShortCode": "600000", "StartDate": "04/08/2020", "EndDate": "2020-08-16 10:10:00",
                                     "OffSetValue": "0"})
    assert reply.json()["errorMessage"] == "Bad Request - Invalid StartDate"
