"""Tests of MSISDN normalisation, masking, classification and hashing."""

import pytest

from daraja_fixtures import daraja  # noqa: F401  (sets sys.path)
from daraja import (
    InvalidPhoneNumber,
    classify_msisdn,
    hash_msisdn,
    mask_msisdn,
    mask_reference,
    masked_msisdn_matches,
    normalize_msisdn,
)
from daraja.errors import DarajaConfigError

VALID = [
    ("+254 712 345 678", "254712345678"),
    ("254712345678", "254712345678"),
    ("0712345678", "254712345678"),
    ("712345678", "254712345678"),
    ("0110 123 456", "254110123456"),
    ("+254-110-123-456", "254110123456"),
    ("(0712) 345678", "254712345678"),
    ("  0712-345-678 ", "254712345678"),
    ("0111000111", "254111000111"),
    (254708374149, "254708374149"),
    (712345678, "254712345678"),
]

INVALID = [
    None,
    "",
    "   ",
    "+",
    "07123abc78",
    "O712345678",
    "071234567",
    "07123456789",
    "25471234567",
    "2547123456789",
    "+255712345678",
    "+1 415 555 0100",
    "255712345678",
    "254012345678",
    "0012345678",
    "612345678",
    "٠٧١٢٣٤٥٦٧٨",
    True,
    7.12345678e8,
    "254",
]


@pytest.mark.parametrize("raw, expected", VALID)
def test_normalize_valid(raw, expected):
    """Test that every accepted Kenyan form becomes the 12-digit MSISDN."""
    assert normalize_msisdn(raw) == expected


@pytest.mark.parametrize("raw", INVALID)
def test_normalize_invalid(raw):
    """Test that invalid numbers raise InvalidPhoneNumber naming the value and the expected forms."""
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_msisdn(raw)
    assert repr(raw) in caught.value.message
    assert "0712345678" in caught.value.message


def test_normalize_empty_not_254():
    """Test that empty input is an error rather than the bare country code."""
    with pytest.raises(InvalidPhoneNumber):
        normalize_msisdn("")


def test_invalid_phone_is_value_error():
    """Test that InvalidPhoneNumber is both a DarajaConfigError and a ValueError."""
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_msisdn("abc")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, DarajaConfigError)
    assert caught.value.value == "abc"


@pytest.mark.parametrize("raw, expected", [
    ("254712345678", "2547*****678"),
    ("0712345678", "2547*****678"),
    ("+254 110 123 456", "2541*****456"),
    ("2547 ***** 126", "2547 ***** 126"),
    (None, ""),
    ("", ""),
    ("12345", "*****"),
    ("94c392c311d522da950619227b3361752a42042db7e1e699b26e628305c68a88",
     "94c3" + "*" * 57 + "a88"),
])
def test_mask_msisdn(raw, expected):
    """Test that masking keeps the first 4 and last 3 characters only."""
    assert mask_msisdn(raw) == expected


def test_mask_msisdn_hides_middle():
    """Test that a masked number does not contain the subscriber's middle digits."""
    assert "12345" not in mask_msisdn("254712345678")


@pytest.mark.parametrize("raw, expected", [
    ("ws_CO_21072024125243250722943992", "ws_CO_21072024125243250*********"),
    ("ws_CO_191220191020363925", "ws_CO_191220191*********"),
    ("ws_CO_1", "ws_****"),
    (None, ""),
])
def test_mask_reference(raw, expected):
    """Test that CheckoutRequestIDs lose the trailing digits that can embed the payer's number."""
    assert mask_reference(raw) == expected


def test_mask_reference_hides_msisdn():
    """Test that the payer's last 9 digits embedded in an ID do not survive masking."""
    assert "722943992" not in mask_reference("ws_CO_21072024125243250722943992")


def test_hash_sandbox_persona():
    """Test that the hash is sha256 of the 12-digit ASCII number, matching Daraja's sandbox sample."""
    expected = "94c392c311d522da950619227b3361752a42042db7e1e699b26e628305c68a88"
    assert hash_msisdn("254705912645") == expected
    assert hash_msisdn("0705 912 645") == expected


def test_hash_invalid_number():
    """Test that hashing an invalid number raises instead of hashing garbage."""
    with pytest.raises(InvalidPhoneNumber):
        hash_msisdn("12")


@pytest.mark.parametrize("raw, expected", [
    ("0712345678", ("plain", "254712345678")),
    (254708374149, ("plain", "254708374149")),
    (254708374149.0, ("plain", "254708374149")),
    ("2547 ***** 126", ("masked", "2547 ***** 126")),
    ("25470****149", ("masked", "25470****149")),
    ("94C392C311D522DA950619227B3361752A42042DB7E1E699B26E628305C68A88",
     ("hashed", "94c392c311d522da950619227b3361752a42042db7e1e699b26e628305c68a88")),
    ("94c2c311d522da950619227b3361752a42042db7e1e699b26e628305c68a88",
     ("hashed", "94c2c311d522da950619227b3361752a42042db7e1e699b26e628305c68a88")),
    (None, ("missing", None)),
    ("", ("missing", None)),
])
def test_classify(raw, expected):
    """Test that plain, masked, hashed (62 to 64 hex) and missing MSISDNs are distinguished."""
    assert classify_msisdn(raw) == expected


@pytest.mark.parametrize("raw", ["hello", "94c3" * 10, "*****", "2547-***-126"])
def test_classify_unknown(raw):
    """Test that values of no known form raise InvalidPhoneNumber."""
    with pytest.raises(InvalidPhoneNumber):
        classify_msisdn(raw)


@pytest.mark.parametrize("masked, msisdn, expected", [
    ("2547 ***** 126", "254712345126", True),
    ("2547 ***** 126", "0712 345 126", True),
    ("2547 ***** 126", "254712345127", False),
    ("2547 ***** 126", "254112345126", False),
    ("25470****149", "254708374149", True),
    ("25470****149", "254718374149", False),
    ("2547***126", "254712345126", True),
    ("2547***126", "254712345125", False),
    ("******", "254712345126", False),
    ("", "254712345126", False),
    ("2547 ***** 126", "not a number", False),
])
def test_masked_matches(masked, msisdn, expected):
    """Test that a masked MSISDN matches exactly the numbers with the same visible digits."""
    assert masked_msisdn_matches(masked, msisdn) is expected
