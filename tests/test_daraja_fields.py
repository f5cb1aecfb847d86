"""Tests of the request field rules: Timestamp, Password, amounts and free text."""

import base64
import datetime
import os
import subprocess
import sys

from decimal import Decimal

import pytest

from daraja_fixtures import PASSKEY, ROOT, daraja  # noqa: F401  (sets sys.path)
from daraja import fields
from daraja.errors import DarajaConfigError


def test_password_doc_sample():
    """Test that the Password matches the sample on Daraja's M-Pesa Express page."""
    password = fields.stk_password("174379", PASSKEY, "20210628092408")
    decoded = base64.b64decode(password).decode("ascii")
    assert decoded == "174379" + PASSKEY + "20210628092408"


def test_password_missing_passkey():
    """Test that an empty passkey is rejected without echoing anything secret."""
    with pytest.raises(DarajaConfigError) as caught:
        fields.stk_password("174379", "", "20210628092408")
    assert "passkey" in caught.value.message


def test_timestamp_is_eat():
    """Test that a UTC moment is written as East Africa Time, 3 hours ahead."""
    moment = datetime.datetime(2024, 12, 31, 22, 30, 5, tzinfo=datetime.timezone.utc)
    assert fields.eat_timestamp(moment) == "20250101013005"


def test_timestamp_naive_is_utc():
    """Test that a naive datetime is read as UTC, as Odoo stores it."""
    assert fields.eat_timestamp(datetime.datetime(2024, 6, 28, 6, 24, 8)) == "20240628092408"


def test_timestamp_now_ignores_tz():
    """Test that the current Timestamp does not depend on the machine's time zone."""
    code = (
        "import sys, datetime; sys.path.insert(0, %r);"
        "from daraja.fields import eat_timestamp;"
        "utc = datetime.datetime.now(datetime.timezone.utc);"
        "print(eat_timestamp(), (utc + datetime.timedelta(hours=3)).strftime('%%Y%%m%%d%%H%%M'))"
    ) % os.path.join(ROOT, "mpesa_paybill")
    for zone in ("America/Los_Angeles", "Asia/Tokyo", "UTC"):
        environment = dict(os.environ, TZ=zone)
        output = subprocess.check_output([sys.executable, "-c", code], env=environment).decode()
        timestamp, expected_minute = output.split()
        # The two clocks are read a few microseconds apart; compare to the minute.
        assert timestamp[:12] == expected_minute, zone


def test_timestamp_format():
    """Test that the Timestamp is 14 digits."""
    timestamp = fields.eat_timestamp()
    assert len(timestamp) == 14
    assert timestamp.isdigit()


@pytest.mark.parametrize("value", ["2024-06-28", "20241328092408", "2024062809240", "abc", 20240628092408.5])
def test_timestamp_invalid(value):
    """Test that a malformed Timestamp is rejected with the expected format."""
    with pytest.raises(DarajaConfigError) as caught:
        fields.check_timestamp(value)
    assert "YYYYMMDDHHmmss" in caught.value.message


def test_timestamp_given_kept():
    """Test that a valid Timestamp given by the caller is sent unchanged."""
    assert fields.check_timestamp("20210628092408") == "20210628092408"


@pytest.mark.parametrize("value, expected", [
    (1, 1),
    (100, 100),
    (100.0, 100),
    ("250", 250),
    (Decimal("1500.00"), 1500),
    (250000, 250000),
])
def test_amount_valid(value, expected):
    """Test that whole amounts within the limits become ints."""
    assert fields.check_amount(value) == expected


@pytest.mark.parametrize("value", [100.5, Decimal("99.99"), "10.01"])
def test_amount_fraction(value):
    """Test that fractional amounts are rejected, not rounded, with a message saying so."""
    with pytest.raises(DarajaConfigError) as caught:
        fields.check_amount(value)
    assert "not a whole number of shillings" in caught.value.message
    assert "not rounded" in caught.value.message


@pytest.mark.parametrize("value", [0, -5, 250001, 1e9])
def test_amount_limits(value):
    """Test that amounts outside KES 1 to 250,000 are rejected."""
    with pytest.raises(DarajaConfigError) as caught:
        fields.check_amount(value)
    assert "outside the M-Pesa limits" in caught.value.message


def test_amount_custom_maximum():
    """Test that the maximum is configurable."""
    assert fields.check_amount(300000, maximum=500000) == 300000
    with pytest.raises(DarajaConfigError):
        fields.check_amount(70001, maximum=70000)


@pytest.mark.parametrize("value", [None, True, "ten", float("nan"), float("inf"), ""])
def test_amount_not_number(value):
    """Test that missing and non-numeric amounts are rejected."""
    with pytest.raises(DarajaConfigError):
        fields.check_amount(value)


@pytest.mark.parametrize("value", ["SO042", "INV/2024/001", "A-1_b.2 x", " SO042 "])
def test_account_reference_valid(value):
    """Test that letters, digits, space, dash, underscore, dot and slash are accepted."""
    assert fields.check_account_reference(value) == value.strip()


@pytest.mark.parametrize("value, char", [
    ("SO@42", "@"), ("SO#42", "#"), ("A&B", "&"), ("<b>", "<"), ("a>b", ">"),
    ('say"hi', '"'), ("it's", "'"), ("SO\t42", "\t"), ("SO\x0042", "\x00"), ("Café", "é"),
    ("50%", "%"),
])
def test_account_reference_chars(value, char):
    """Test that characters Daraja fails on are rejected, naming the character."""
    with pytest.raises(DarajaConfigError) as caught:
        fields.check_account_reference(value)
    assert repr(char) in caught.value.message


@pytest.mark.parametrize("value", [None, "", "   "])
def test_account_reference_empty(value):
    """Test that an empty AccountReference is rejected: it has no documented fallback."""
    with pytest.raises(DarajaConfigError) as caught:
        fields.check_account_reference(value)
    assert "AccountReference" in caught.value.message


def test_account_reference_length():
    """Test that AccountReference is limited to 12 characters."""
    assert fields.check_account_reference("A" * 12) == "A" * 12
    with pytest.raises(DarajaConfigError) as caught:
        fields.check_account_reference("A" * 13)
    assert "at most 12" in caught.value.message


def test_transaction_desc_length():
    """Test that TransactionDesc is limited to 13 characters."""
    assert fields.check_transaction_desc("B" * 13) == "B" * 13
    with pytest.raises(DarajaConfigError) as caught:
        fields.check_transaction_desc("B" * 14)
    assert "at most 13" in caught.value.message


@pytest.mark.parametrize("value", [None, "", "  "])
def test_transaction_desc_fallback(value):
    """Test that an empty TransactionDesc, the one optional field, falls back to a default."""
    assert fields.check_transaction_desc(value) == fields.DEFAULT_TRANSACTION_DESC


def test_extra_punctuation():
    """Test that callers can allow more punctuation, but never the rejected characters."""
    assert fields.check_account_reference("SO:42", punctuation=" -:") == "SO:42"
    with pytest.raises(DarajaConfigError):
        fields.check_allowed_punctuation(" -#")


def test_remarks_limits():
    """Test that Remarks are limited to 100 characters and may require 2."""
    assert fields.check_remarks("R" * 100) == "R" * 100
    with pytest.raises(DarajaConfigError):
        fields.check_remarks("R" * 101)
    with pytest.raises(DarajaConfigError):
        fields.check_remarks("R", min_length=2)


def test_occasion_optional():
    """Test that an empty Occasion is sent as an empty string."""
    assert fields.check_occasion(None) == ""


@pytest.mark.parametrize("value", ["1234", "12345678", "17437a", "", None])
def test_shortcode_invalid(value):
    """Test that shortcodes must have 5 to 7 digits."""
    with pytest.raises(DarajaConfigError):
        fields.check_shortcode(value)


def test_shortcode_int():
    """Test that an integer shortcode is sent as text."""
    assert fields.check_shortcode(174379) == "174379"
