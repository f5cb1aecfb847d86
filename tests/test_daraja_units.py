"""Tests of the client's pure parts: error mapping, token cache, SecurityCredential and imports."""

import base64
import os
import subprocess
import sys
import threading
import time

import pytest

from cryptography.hazmat.primitives.asymmetric import padding, ec
from cryptography.hazmat.backends import default_backend

from daraja_fixtures import ROOT, daraja, make_certificate  # noqa: F401  (sets sys.path)
from daraja import MemoryTokenCache, security_credential, token_cache_key
from daraja import errors, transport
from daraja.client import DarajaClient


# Error envelope mapping -----------------------------------------------------------------

@pytest.mark.parametrize("message, reason", [
    ("Merchant does not exist", "merchant_not_found"),
    ("[MerchantValidate] - Wrong credentials", "wrong_credentials"),
    ("Unable to lock subscriber, a transaction is already in process for the current subscriber", "subscriber_locked"),
    ("The transaction is being processed", "processing"),
    ("Something new", "other"),
])
def test_multi_cause_code(message, reason):
    """Test that 500.001.1001 is distinguished by its errorMessage."""
    error = transport.request_error(
        {"requestId": "1c5b", "errorCode": "500.001.1001", "errorMessage": message}, 500
    )
    assert type(error) is errors.DarajaRequestError
    assert error.reason == reason
    assert error.error_code == "500.001.1001"
    assert error.error_message == message
    assert error.http_status == 500
    assert error.request_id == "1c5b"


@pytest.mark.parametrize("code", ["500.003.02", "500.003.03"])
def test_throttle_codes(code):
    """Test that Spike Arrest and Quota Violation become DarajaThrottled."""
    error = transport.request_error({"errorCode": code, "errorMessage": "Spike Arrest Violation"}, 500)
    assert isinstance(error, errors.DarajaThrottled)
    assert "Wait a few seconds" in error.message


def test_invalid_field_names_field():
    """Test that "Bad Request - Invalid <Field>" names the field in plain English."""
    error = transport.request_error(
        {"requestId": None, "errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid PhoneNumber"}, 400
    )
    assert error.reason == "invalid_field"
    assert "rejected the PhoneNumber" in error.message
    assert error.request_id is None


def test_no_error_code():
    """Test that a response without errorCode is not an error."""
    assert transport.request_error({"ResponseCode": "0"}, 200) is None


@pytest.mark.parametrize("data, expected", [
    ({"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}, True),
    ({"errorCode": "400.003.01", "errorMessage": "Invalid Access Token"}, True),
    ({"errorCode": "401.002.01", "errorMessage": "Error Occurred - Invalid Access Token - XXX"}, True),
    ({"errorCode": "401.003.01", "errorMessage": ""}, True),
    ({"errorCode": "999.999.99", "errorMessage": "Invalid Access Token"}, True),
    ({"fault": {"faultstring": "Invalid Access Token"}}, True),
    ({"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid Amount"}, False),
    ({"ResponseCode": "0"}, False),
])
def test_invalid_token_detection(data, expected):
    """Test that invalid tokens are detected by code and by message."""
    assert transport.is_invalid_token(data) is expected


def test_excerpt_hides_secrets():
    """Test that excerpts hide the given secrets and mask MSISDNs."""
    excerpt = transport.make_excerpt("token abc123 for 254712345678 ok", secrets=["abc123"])
    assert "abc123" not in excerpt
    assert "254712345678" not in excerpt
    assert "2547*****678" in excerpt


def test_excerpt_length():
    """Test that excerpts are cut short."""
    assert len(transport.make_excerpt("x" * 5000)) <= transport.EXCERPT_LENGTH + 3


def test_soap_fault_found():
    """Test that the gateway's SOAP fault object is recognised with or without a namespace."""
    fault = {"faultcode": "soap:Server", "faultstring": "Execution of ServiceCallout SCO-AddURLVault failed."}
    assert transport.find_soap_fault({"Envelope": {"Body": {"Fault": fault}}}) == fault
    assert transport.find_soap_fault({"soap:Envelope": {"soap:Body": {"soap:Fault": fault}}}) == fault
    assert transport.find_soap_fault({"errorCode": "1"}) is None


# Token cache ----------------------------------------------------------------------------

def test_cache_key_hides_secret():
    """Test that the cache key does not contain the consumer secret or key in clear."""
    key = token_cache_key("http://127.0.0.1:1", "my-consumer-key", "my-consumer-secret")
    assert "my-consumer-secret" not in key
    assert "my-consumer-key" not in key


def test_cache_key_per_credentials():
    """Test that the key differs per base URL, consumer key and secret."""
    base = token_cache_key("https://a", "k", "s")
    assert token_cache_key("https://b", "k", "s") != base
    assert token_cache_key("https://a", "k2", "s") != base
    assert token_cache_key("https://a", "k", "s2") != base
    assert token_cache_key("https://a/", "k", "s") == base


def test_memory_cache_roundtrip():
    """Test that the memory cache stores and returns entries."""
    cache = MemoryTokenCache()
    assert cache.get("k") is None
    cache.set("k", "token-1", 123.0)
    assert cache.get("k") == ("token-1", 123.0)


def test_invalidate_only_same_token():
    """Test that invalidate leaves a newer token in place."""
    cache = MemoryTokenCache()
    cache.set("k", "token-new", 1e12)
    cache.invalidate("k", "token-old")
    assert cache.get("k") == ("token-new", 1e12)
    cache.invalidate("k", "token-new")
    assert cache.get("k") is None


def test_memory_cache_threads():
    """Test that concurrent writers leave a consistent cache."""
    cache = MemoryTokenCache()

    def write(index):
        for round_ in range(200):
            cache.set("k%d" % (round_ % 5), "token-%d" % index, float(index))
            cache.invalidate("k%d" % ((round_ + 1) % 5), "token-%d" % index)

    threads = [threading.Thread(target=write, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for slot in range(5):
        entry = cache.get("k%d" % slot)
        assert entry is None or entry[0] == "token-%d" % int(entry[1])


def test_cached_token_used_without_http():
    """Test that a fresh cached token is returned without any request (the base URL is unreachable)."""
    cache = MemoryTokenCache()
    client = DarajaClient("http://127.0.0.1:9", "key", "secret", token_cache=cache)
    cache.set(client._token_key, "cached-token", time.time() + 3000)
    assert client.get_token() == "cached-token"


# Client configuration -------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, fragment", [
    ({"base_url": ""}, "base URL is missing"),
    ({"base_url": "ftp://x"}, "not an http(s) URL"),
    ({"base_url": "http://api.example.com", "environment": "production"}, "uses http"),
    ({"consumer_key": ""}, "Consumer key is missing"),
    ({"consumer_secret": None}, "Consumer secret is missing"),
    ({"environment": "live"}, "Unknown Daraja environment"),
    ({"timeout": 0}, "Timeout 0 is invalid"),
    ({"allowed_punctuation": "&"}, "cannot be allowed"),
])
def test_client_config_errors(kwargs, fragment):
    """Test that invalid client settings are rejected at construction."""
    options = {"base_url": "http://127.0.0.1:9", "consumer_key": "key", "consumer_secret": "secret"}
    options.update(kwargs)
    with pytest.raises(errors.DarajaConfigError) as caught:
        DarajaClient(**options)
    assert fragment in caught.value.message


def test_client_repr_hides_secret():
    """Test that the client's repr shows neither the secret nor the whole key."""
    text = repr(DarajaClient("http://127.0.0.1:9", "consumer-key-123", "top-secret"))
    assert "top-secret" not in text
    assert "consumer-key-123" not in text


def test_simulate_refused_in_production():
    """Test that C2B simulate is refused in production before anything is sent."""
    client = DarajaClient(daraja.PRODUCTION_URL, "key", "secret", environment="production")
    with pytest.raises(errors.DarajaConfigError) as caught:
        client.c2b_simulate("600000", 100, "254708374149", "SO042")
    assert "only available in Daraja's sandbox" in caught.value.message


# SecurityCredential ---------------------------------------------------------------------

def test_security_credential_decrypts():
    """Test that the credential is base64 RSA PKCS#1 v1.5 that the private key decrypts."""
    key, pem = make_certificate()
    credential = security_credential("Safaricom999!*!", pem)
    plain = key.decrypt(base64.b64decode(credential), padding.PKCS1v15())
    assert plain == b"Safaricom999!*!"


def test_security_credential_bytes_pem():
    """Test that a PEM given as bytes works too."""
    key, pem = make_certificate()
    credential = security_credential("pw", pem.encode("ascii"))
    assert key.decrypt(base64.b64decode(credential), padding.PKCS1v15()) == b"pw"


@pytest.mark.parametrize("pem", ["", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"])
def test_security_credential_bad_pem(pem):
    """Test that an unreadable certificate raises DarajaConfigError."""
    with pytest.raises(errors.DarajaConfigError):
        security_credential("pw", pem)


def test_security_credential_not_rsa():
    """Test that a certificate with a non-RSA key raises DarajaConfigError."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID
    import datetime

    key = ec.generate_private_key(ec.SECP256R1(), default_backend())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec")])
    now = datetime.datetime.utcnow()
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256(), default_backend()))
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(errors.DarajaConfigError) as caught:
        security_credential("pw", pem)
    assert "RSA" in caught.value.message


def test_security_credential_empty_password():
    """Test that an empty initiator password is rejected."""
    _, pem = make_certificate()
    with pytest.raises(errors.DarajaConfigError):
        security_credential("", pem)


# Imports --------------------------------------------------------------------------------

def test_no_odoo_import():
    """Test that importing the client in a fresh interpreter does not import odoo."""
    code = (
        "import sys; sys.path.insert(0, %r); import daraja; "
        "print('odoo' in sys.modules, any(name.startswith('odoo.') for name in sys.modules))"
    ) % os.path.join(ROOT, "mpesa_paybill")
    output = subprocess.check_output([sys.executable, "-c", code]).decode().split()
    assert output == ["False", "False"]


def test_public_api_exports():
    """Test that the names of the shared contract are importable from the package."""
    names = ["DarajaClient", "MemoryTokenCache", "normalize_msisdn", "mask_msisdn", "mask_reference",
             "classify_msisdn", "hash_msisdn", "check_callback_url", "parse_stk_callback", "parse_c2b",
             "parse_result", "parse_pull_rows", "stk_result_message", "PRODUCTION_URL",
             "SAFARICOM_SANDBOX_URL", "errors", "security_credential", "masked_msisdn_matches"]
    missing = [name for name in names if not hasattr(daraja, name)]
    assert missing == []


def test_error_hierarchy():
    """Test the exception hierarchy of the shared contract."""
    assert issubclass(errors.DarajaThrottled, errors.DarajaRequestError)
    assert issubclass(errors.DarajaTimeout, errors.DarajaTransportError)
    assert issubclass(errors.DarajaConnectionError, errors.DarajaTransportError)
    assert issubclass(errors.DarajaBadResponse, errors.DarajaTransportError)
    assert issubclass(errors.DarajaParseError, ValueError)
    assert issubclass(errors.InvalidPhoneNumber, errors.DarajaConfigError)
    assert issubclass(errors.InvalidPhoneNumber, ValueError)
    for name in ("DarajaConfigError", "DarajaAuthError", "DarajaRequestError", "DarajaTransportError",
                 "DarajaParseError"):
        assert issubclass(getattr(errors, name), errors.DarajaError), name
