"""Tests of the callback URL rules."""

import pytest

from daraja_fixtures import daraja  # noqa: F401  (sets sys.path)
from daraja import check_callback_url
from daraja.errors import DarajaConfigError

ALL_ENVIRONMENTS = ("production", "sandbox", "offline")


@pytest.mark.parametrize("environment", ALL_ENVIRONMENTS)
@pytest.mark.parametrize("url, word, part", [
    ("https://x.co.ke/mpesa/cb", "mpesa", "path"),
    ("https://x.co.ke/M-PESA/cb", "m-pesa", "path"),
    ("https://safaricom-pay.example.com/cb", "safaricom", "host name"),
    ("https://x.co.ke/cb?kind=Query", "query", "query string"),
    ("https://x.co.ke/executive/cb", "exec", "path"),
    ("https://x.co.ke/app.exe", "exe", "path"),
    ("https://x.co.ke/cmd/cb", "cmd", "path"),
    ("https://mysql.example.com/cb", "sql", "host name"),
    ("https://x.co.ke/cb#sqlite", "sql", "fragment"),
])
def test_blocked_word(environment, url, word, part):
    """Test that each blocked word is rejected in every environment, naming the word and the URL part."""
    with pytest.raises(DarajaConfigError) as caught:
        check_callback_url(url, environment)
    message = caught.value.message
    assert repr(url) in message
    assert "contains %r" % word in message
    assert "rename that part of the %s" % part in message


def test_blocked_word_message():
    """Test the exact wording of a blocked-word rejection."""
    with pytest.raises(DarajaConfigError) as caught:
        check_callback_url("https://x.co.ke/mpesa/cb", "production")
    assert caught.value.message == (
        "Callback URL 'https://x.co.ke/mpesa/cb' contains 'mpesa', which Daraja blocks; "
        "rename that part of the path."
    )


@pytest.mark.parametrize("environment", ["production", "sandbox"])
@pytest.mark.parametrize("url, fragment", [
    ("http://pay.example.co.ke/cb", "uses http"),
    ("https://127.0.0.1/cb", "'127.0.0.1'"),
    ("https://localhost:8069/cb", "'localhost'"),
    ("https://10.0.0.5/cb", "'10.0.0.5'"),
    ("https://192.168.1.20/cb", "'192.168.1.20'"),
    ("https://odoo/cb", "'odoo'"),
    ("https://erp.local/cb", "'erp.local'"),
    ("https://[::1]/cb", "'::1'"),
])
def test_public_https_required(environment, url, fragment):
    """Test that production and Safaricom's sandbox need https and a public host."""
    with pytest.raises(DarajaConfigError) as caught:
        check_callback_url(url, environment)
    assert fragment in caught.value.message


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8069/payment/cb",
    "http://localhost/cb",
    "https://erp.example.co.ke/pay/cb",
    "http://odoo:8069/cb",
])
def test_offline_allows_loopback(url):
    """Test that the offline environment accepts http and loopback hosts."""
    assert check_callback_url(url, "offline") == url


@pytest.mark.parametrize("environment", ["production", "sandbox"])
def test_public_https_accepted(environment):
    """Test that a public https URL passes in production and sandbox."""
    url = "https://erp.example.co.ke/payment/stk/callback?token=abc123"
    assert check_callback_url(url, environment) == url


def test_public_ip_accepted():
    """Test that a public IP address is accepted in production."""
    assert check_callback_url("https://196.201.214.200/cb", "production")


@pytest.mark.parametrize("url", [
    "https://abcd-41-90-1-2.ngrok-free.app/cb",
    "https://abc.ngrok.io/cb",
    "https://mockbin.org/bin/123",
    "https://en1234.requestbin.com/cb",
])
def test_tunnel_hosts_production(url):
    """Test that ngrok, mockbin and requestbin hosts are rejected in production only."""
    with pytest.raises(DarajaConfigError) as caught:
        check_callback_url(url, "production")
    assert "blocks in production" in caught.value.message
    assert check_callback_url(url, "sandbox") == url


@pytest.mark.parametrize("url", [None, "", "   "])
def test_missing_url(url):
    """Test that a missing URL is rejected with a hint."""
    with pytest.raises(DarajaConfigError) as caught:
        check_callback_url(url, "offline")
    assert "is missing" in caught.value.message


@pytest.mark.parametrize("url", [" https://x.co.ke/cb", "https://x.co.ke/c b", "https://x.co.ke/cb\n"])
def test_whitespace(url):
    """Test that stray spaces, which Daraja reports as an invalid CallBackURL, are rejected."""
    with pytest.raises(DarajaConfigError) as caught:
        check_callback_url(url, "offline")
    assert "contains a space" in caught.value.message


@pytest.mark.parametrize("url", ["ftp://x.co.ke/cb", "x.co.ke/cb", "https:///cb"])
def test_not_http_url(url):
    """Test that URLs that are not absolute http(s) URLs are rejected."""
    with pytest.raises(DarajaConfigError) as caught:
        check_callback_url(url, "offline")
    assert "absolute http(s) URL" in caught.value.message


def test_label_in_message():
    """Test that the message names the kind of URL being checked."""
    with pytest.raises(DarajaConfigError) as caught:
        check_callback_url("http://x.co.ke/cb", "production", label="ResultURL")
    assert caught.value.message.startswith("ResultURL ")


def test_unknown_environment():
    """Test that an unknown environment name is rejected."""
    with pytest.raises(DarajaConfigError) as caught:
        check_callback_url("https://x.co.ke/cb", "live")
    assert "'live'" in caught.value.message
