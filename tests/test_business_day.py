"""Run the scripted business day on a fresh database and check every line of its summary."""
import pytest

import business_day
from odoo_server import SystemStack

DAY_DB = "mpesa_paybill_day"


@pytest.fixture(scope="module")
def day():
    """Return the summary of one business day played on a fresh copy of the test database.

    The summary also carries every callback the sandbox sent during the day.
    """
    with SystemStack(db=DAY_DB) as stack:
        summary = business_day.BusinessDay(stack.rpc, stack.sandbox.base_url).run()
        summary["callbacks"] = stack.sandbox_call("GET", "/sandbox/callbacks")["callbacks"]
    print("\n" + business_day.format_summary(summary))
    return summary


def row(summary, step):
    rows = [row for row in summary["rows"] if row.step == step]
    assert len(rows) == 1, "expected one summary row for %r, got %s" % (step, rows)
    return rows[0]


EXPECTED_OUTCOMES = [
    ("STK paid", "paid, order confirmed"),
    ("STK cancelled", "not paid: The customer cancelled the payment request on their phone."),
    ("STK no answer", "settled by the status cron (was pending): not paid: The customer's phone could not be reached"),
    ("STK + C2B", "paid, invoice reconciled; C2B notification linked, 1 payment posted"),
    ("C2B exact", "paid, invoice reconciled"),
    ("C2B mistyped", "paid, invoice reconciled"),
    ("C2B partial", "paid in part, 2500.00 still due"),
    ("C2B overpaid", "paid, invoice reconciled, 100.00 left as customer credit"),
    ("C2B unknown", "to review: Account number JUMBO 55 matches no open invoice or order"),
]


@pytest.mark.parametrize("step, expected", EXPECTED_OUTCOMES)
def test_day_outcome(day, step, expected):
    """Test that each payment of the day ends with the outcome the summary shows."""
    assert row(day, step).outcome.startswith(expected)


def test_day_has_every_step(day):
    """Test that the summary has one row per scripted payment and no other."""
    assert [r.step for r in day["rows"]] == [step for step, _outcome in EXPECTED_OUTCOMES]


def test_day_receipts(day):
    """Test that paid rows carry a 10-character receipt and unpaid STK rows none."""
    for step in ("STK paid", "STK + C2B", "C2B exact", "C2B mistyped", "C2B partial", "C2B overpaid", "C2B unknown"):
        assert len(row(day, step).reference) == 10, step
    for step in ("STK cancelled", "STK no answer"):
        assert row(day, step).reference == "-", step


def test_day_totals(day):
    """Test the totals: orders paid, invoices reconciled, payments and amounts posted."""
    assert day["orders_paid"] == 1
    assert day["invoices_reconciled"] == 4
    assert day["invoices_part_paid"] == 1
    assert day["posted_payments"] == 6
    assert day["posted_amount"] == 2450 + 5600 + 1500 + 800 + 1500 + 1000
    assert day["paid_count"] == 6
    assert day["paid_amount"] == day["posted_amount"]


def test_day_one_payment_per_receipt(day):
    """Test that no receipt of the day was posted twice."""
    assert day["receipts_posted_twice"] == []


def test_day_review_queue(day):
    """Test that exactly the unknown payment waits for review, with its reason."""
    assert len(day["review"]) == 1
    receipt, reason = day["review"][0]
    assert receipt == row(day, "C2B unknown").reference
    assert "JUMBO 55" in reason


# Keys and JSON types of the bodies Daraja sends, from the samples of
# Daraja's STK Push and C2B Register URL pages.
STK_HEADER = {"MerchantRequestID": str, "CheckoutRequestID": str, "ResultCode": int, "ResultDesc": str}
STK_ITEMS = {"Amount": (int, float), "MpesaReceiptNumber": str, "TransactionDate": int, "PhoneNumber": int}
C2B_FIELDS = ["TransactionType", "TransID", "TransTime", "TransAmount", "BusinessShortCode", "BillRefNumber",
              "InvoiceNumber", "OrgAccountBalance", "ThirdPartyTransID", "MSISDN", "FirstName", "MiddleName",
              "LastName"]


def sent(day, kind):
    bodies = [callback["body"] for callback in day["callbacks"] if callback["kind"] == kind]
    assert bodies, "the sandbox sent no %s callback during the day" % kind
    return bodies


def test_day_stk_bodies_shape(day):
    """Test that every STK result of the day has Daraja's keys and JSON types."""
    for body in sent(day, "stk"):
        result = body["Body"]["stkCallback"]
        paid = result.get("ResultCode") == 0
        expected_keys = set(STK_HEADER) | ({"CallbackMetadata"} if paid else set())
        assert set(result) == expected_keys
        for key, kind in STK_HEADER.items():
            assert isinstance(result[key], kind), key
        if paid:
            items = {item["Name"]: item["Value"] for item in result["CallbackMetadata"]["Item"]}
            assert set(items) == set(STK_ITEMS)
            for name, kind in STK_ITEMS.items():
                assert isinstance(items[name], kind), name
            assert len(str(items["TransactionDate"])) == 14


def test_day_c2b_bodies_shape(day):
    """Test that every C2B confirmation of the day has Daraja's keys, all strings."""
    for body in sent(day, "c2b_confirmation"):
        assert sorted(body) == sorted(C2B_FIELDS)
        for key in C2B_FIELDS:
            assert isinstance(body[key], str), key
        assert body["TransAmount"].endswith(".00")
        assert len(body["TransTime"]) == 14
        assert len(body["MSISDN"]) == 64, "a v1 registration sends the SHA-256 of the number"
