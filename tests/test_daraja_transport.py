"""Tests of the client's HTTP handling against small servers started on 127.0.0.1."""

import base64
import json
import time

import pytest

from daraja_fixtures import (  # noqa: F401  (fixtures)
    PASSKEY,
    closed_port_url,
    daraja,
    make_client,
    scripted_server,
    silent_server,
)
from daraja import errors
from daraja.client import STK_PUSH_PATH, STK_QUERY_PATH, TOKEN_PATH

STK_ACCEPTED = {
    "MerchantRequestID": "2654-4b64-97ff-b827b542881d3130", "CheckoutRequestID": "ws_CO_1007202409152617172396192",
    "ResponseCode": "0", "ResponseDescription": "Success. Request accepted for processing",
    "CustomerMessage": "Success. Request accepted for processing",
}
INVALID_TOKEN = {"requestId": "1c5b-4ba8", "errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}


def push(client, callback_url="http://127.0.0.1:9/callback"):
    return client.stk_push("174379", PASSKEY, 10, "0712345678", callback_url, "SO042")


def test_timeout_quick(silent_server):
    """Test that a server that never responds raises DarajaTimeout after the configured timeout."""
    client = make_client(silent_server.url, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(errors.DarajaTimeout) as caught:
        push(client)
    elapsed = time.monotonic() - started
    assert elapsed < 3
    assert "within 0.5 seconds" in caught.value.message
    assert "check its status before sending it again" in caught.value.message


def test_closed_port():
    """Test that a refused connection raises DarajaConnectionError naming the base URL."""
    url = closed_port_url()
    client = make_client(url, timeout=2)
    with pytest.raises(errors.DarajaConnectionError) as caught:
        push(client)
    assert url in caught.value.message


def test_token_basic_auth(scripted_server):
    """Test that the token call is a GET with HTTP Basic auth and the client_credentials grant."""
    scripted_server.answer_token("tok-1")
    client = make_client(scripted_server.url)
    assert client.get_token() == "tok-1"
    method, path, headers, _ = scripted_server.requests[0]
    assert (method, path) == ("GET", TOKEN_PATH)
    expected = "Basic " + base64.b64encode(b"sandbox-consumer-key:sandbox-consumer-secret").decode()
    assert headers["Authorization"] == expected


def test_token_cached(scripted_server):
    """Test that a second call reuses the cached token."""
    scripted_server.answer_token("tok-1")
    scripted_server.answer("POST", STK_PUSH_PATH, (200, STK_ACCEPTED))
    client = make_client(scripted_server.url)
    push(client)
    push(client)
    token_calls = [request for request in scripted_server.requests if request[1] == TOKEN_PATH]
    assert len(token_calls) == 1


def test_token_margin(scripted_server):
    """Test that a cached token with less than the margin left is replaced."""
    scripted_server.answer_token("tok-new")
    cache = daraja.MemoryTokenCache()
    client = make_client(scripted_server.url, token_cache=cache, token_refresh_margin=300)
    cache.set(client._token_key, "tok-old", time.time() + 200)
    assert client.get_token() == "tok-new"
    cache.set(client._token_key, "tok-old", time.time() + 400)
    assert client.get_token() == "tok-old"


def test_token_shared_cache(scripted_server):
    """Test that two clients sharing a cache fetch one token."""
    scripted_server.answer_token("tok-shared")
    cache = daraja.MemoryTokenCache()
    first = make_client(scripted_server.url, token_cache=cache)
    second = make_client(scripted_server.url, token_cache=cache)
    assert first.get_token() == second.get_token() == "tok-shared"
    assert len(scripted_server.requests) == 1


@pytest.mark.parametrize("expires_in", [3599, "3599", "3599.0", 3599.0])
def test_expires_in_forms(scripted_server, expires_in):
    """Test that expires_in is accepted as number or string."""
    scripted_server.answer_token("tok", expires_in)
    cache = daraja.MemoryTokenCache()
    client = make_client(scripted_server.url, token_cache=cache)
    before = time.time()
    client.get_token()
    expires_at = cache.get(client._token_key)[1]
    assert before + 3590 < expires_at < time.time() + 3600


@pytest.mark.parametrize("expires_in", ["soon", None, 0])
def test_expires_in_invalid(scripted_server, expires_in):
    """Test that an unreadable or non-positive expires_in raises DarajaBadResponse."""
    scripted_server.answer_token("tok", expires_in)
    with pytest.raises(errors.DarajaBadResponse):
        make_client(scripted_server.url).get_token()


def test_token_missing(scripted_server):
    """Test that a token response without access_token raises DarajaBadResponse."""
    scripted_server.answer("GET", TOKEN_PATH, (200, {"expires_in": 3599}))
    with pytest.raises(errors.DarajaBadResponse) as caught:
        make_client(scripted_server.url).get_token()
    assert "no access_token" in caught.value.message


@pytest.mark.parametrize("status", [400, 401])
def test_token_rejected_empty(scripted_server, status):
    """Test that an empty 400 or 401 token response means wrong keys (DarajaAuthError)."""
    scripted_server.answer("GET", TOKEN_PATH, (status, ""))
    with pytest.raises(errors.DarajaAuthError) as caught:
        make_client(scripted_server.url).get_token()
    assert caught.value.http_status == status
    assert "consumer key and secret" in caught.value.message


def test_token_error_code(scripted_server):
    """Test that a documented token error code becomes DarajaAuthError with the code."""
    scripted_server.answer("GET", TOKEN_PATH, (400, {"requestId": "", "errorCode": "400.008.02",
                                                     "errorMessage": "Invalid grant type passed"}))
    with pytest.raises(errors.DarajaAuthError) as caught:
        make_client(scripted_server.url).get_token()
    assert caught.value.error_code == "400.008.02"
    assert "grant type" in caught.value.message


def test_refresh_retry(scripted_server):
    """Test that an invalid-token answer leads to one new token and one retry."""
    scripted_server.answer("GET", TOKEN_PATH,
                           (200, {"access_token": "tok-1", "expires_in": 3599}),
                           (200, {"access_token": "tok-2", "expires_in": 3599}))
    scripted_server.answer("POST", STK_PUSH_PATH, (404, INVALID_TOKEN), (200, STK_ACCEPTED))
    client = make_client(scripted_server.url)
    assert push(client).response_code == "0"
    calls = [(method, path, headers.get("Authorization")) for method, path, headers, _ in scripted_server.requests]
    assert calls == [
        ("GET", TOKEN_PATH, calls[0][2]),
        ("POST", STK_PUSH_PATH, "Bearer tok-1"),
        ("GET", TOKEN_PATH, calls[2][2]),
        ("POST", STK_PUSH_PATH, "Bearer tok-2"),
    ]
    assert client.token_cache.get(client._token_key)[0] == "tok-2"


@pytest.mark.parametrize("answer", [
    (401, {"requestId": "x", "errorCode": "401.002.01", "errorMessage": "Error Occurred - Invalid Access Token - XXX"}),
    (400, {"requestId": "x", "errorCode": "400.003.01", "errorMessage": "Invalid Access Token"}),
    (200, {"requestId": "x", "errorCode": "401.003.01", "errorMessage": "Access denied"}),
    (401, {"fault": {"faultstring": "Invalid Access Token", "detail": {"errorcode": "invalid_access_token"}}}),
])
def test_refresh_retry_spellings(scripted_server, answer):
    """Test that every spelling of the invalid-token error triggers the retry."""
    scripted_server.answer_token("tok")
    scripted_server.answer("POST", STK_PUSH_PATH, answer, (200, STK_ACCEPTED))
    assert push(make_client(scripted_server.url)).response_code == "0"


def test_refresh_retry_once(scripted_server):
    """Test that a token still rejected after the refresh raises DarajaAuthError without a third try."""
    scripted_server.answer_token("tok")
    scripted_server.answer("POST", STK_PUSH_PATH, (404, INVALID_TOKEN))
    client = make_client(scripted_server.url)
    with pytest.raises(errors.DarajaAuthError) as caught:
        push(client)
    assert caught.value.error_code == "404.001.03"
    posts = [request for request in scripted_server.requests if request[0] == "POST"]
    assert len(posts) == 2


def test_invalidate_keeps_newer(scripted_server):
    """Test that the retry does not drop a token another worker stored meanwhile."""
    scripted_server.answer_token("tok-mine")
    scripted_server.answer("POST", STK_PUSH_PATH, (404, INVALID_TOKEN), (200, STK_ACCEPTED))
    cache = daraja.MemoryTokenCache()
    client = make_client(scripted_server.url, token_cache=cache)
    client.get_token()
    cache.set(client._token_key, "tok-other-worker", time.time() + 3000)
    cache.invalidate(client._token_key, "tok-mine")
    assert cache.get(client._token_key)[0] == "tok-other-worker"


def test_http_200_error_code(scripted_server):
    """Test that HTTP 200 with an errorCode is an error too."""
    scripted_server.answer_token()
    scripted_server.answer("POST", STK_PUSH_PATH, (200, {"requestId": "r1", "errorCode": "400.002.02",
                                                         "errorMessage": "Bad Request - Invalid Amount"}))
    with pytest.raises(errors.DarajaRequestError) as caught:
        push(make_client(scripted_server.url))
    assert caught.value.http_status == 200
    assert caught.value.reason == "invalid_field"
    assert "Amount" in caught.value.message


def test_response_code_not_zero(scripted_server):
    """Test that an STK Push answer with a ResponseCode other than "0" is an error."""
    scripted_server.answer_token()
    scripted_server.answer("POST", STK_PUSH_PATH, (200, dict(STK_ACCEPTED, ResponseCode="1",
                                                             ResponseDescription="Rejected")))
    with pytest.raises(errors.DarajaRequestError) as caught:
        push(make_client(scripted_server.url))
    assert caught.value.error_code == "1"


def test_error_without_code(scripted_server):
    """Test that an HTTP error status with JSON but no errorCode raises DarajaBadResponse."""
    scripted_server.answer_token()
    scripted_server.answer("POST", STK_PUSH_PATH, (502, {"message": "upstream failed"}))
    with pytest.raises(errors.DarajaBadResponse) as caught:
        push(make_client(scripted_server.url))
    assert caught.value.http_status == 502


@pytest.mark.parametrize("body, fragment", [
    ("[1, 2]", "not an object"),
    ("{broken", "not JSON"),
    ("<!DOCTYPE html><title>Oops</title>", "HTML page"),
])
def test_unusable_bodies(scripted_server, body, fragment):
    """Test that bodies that are not a JSON object raise DarajaBadResponse with an excerpt."""
    scripted_server.answer_token()
    scripted_server.answer("POST", STK_PUSH_PATH, (200, body, "text/plain"))
    with pytest.raises(errors.DarajaBadResponse) as caught:
        push(make_client(scripted_server.url))
    assert fragment in caught.value.message
    assert caught.value.http_status == 200


def test_excerpt_hides_token(scripted_server):
    """Test that a response echoing the token and passkey does not leak them into the error."""
    scripted_server.answer_token("tok-secret-123")
    scripted_server.answer("POST", STK_PUSH_PATH, (500, "echo tok-secret-123 " + PASSKEY, "text/plain"))
    with pytest.raises(errors.DarajaBadResponse) as caught:
        push(make_client(scripted_server.url))
    assert "tok-secret-123" not in caught.value.message
    assert PASSKEY not in caught.value.message
    assert "tok-secret-123" not in caught.value.excerpt


def test_stk_request_body(scripted_server):
    """Test the STK Push body: Daraja's keys, the EAT Timestamp reused in the Password, a whole Amount."""
    scripted_server.answer_token()
    scripted_server.answer("POST", STK_PUSH_PATH, (200, STK_ACCEPTED))
    client = make_client(scripted_server.url)
    client.stk_push("174379", PASSKEY, 100.0, "+254 712 345 678", "http://127.0.0.1:9/cb", "SO042",
                    description=None, timestamp="20210628092408")
    _, _, headers, raw = scripted_server.requests[-1]
    body = json.loads(raw.decode("utf-8"))
    assert headers["Content-Type"] == "application/json"
    assert body == {
        "BusinessShortCode": "174379",
        "Password": base64.b64encode(("174379" + PASSKEY + "20210628092408").encode()).decode(),
        "Timestamp": "20210628092408",
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 100,
        "PartyA": "254712345678",
        "PartyB": "174379",
        "PhoneNumber": "254712345678",
        "CallBackURL": "http://127.0.0.1:9/cb",
        "AccountReference": "SO042",
        "TransactionDesc": "Payment",
    }


def test_query_request_body(scripted_server):
    """Test that STK Push Query sends the shortcode, Password, Timestamp and CheckoutRequestID."""
    scripted_server.answer_token()
    scripted_server.answer("POST", STK_QUERY_PATH, (200, {"ResponseCode": "0", "ResultCode": "1032",
                                                          "ResultDesc": "Request cancelled by user"}))
    result = make_client(scripted_server.url).stk_query("174379", PASSKEY, "ws_CO_1", timestamp="20210628092408")
    body = json.loads(scripted_server.requests[-1][3].decode("utf-8"))
    assert sorted(body) == ["BusinessShortCode", "CheckoutRequestID", "Password", "Timestamp"]
    assert result.status == "failed"
    assert result.result_code == "1032"


class RacingCache(daraja.MemoryTokenCache):
    """Memory cache in which another worker stores ``tok-other`` just as this one invalidates its token."""

    def invalidate(self, key, token):
        super(RacingCache, self).invalidate(key, token)
        self.set(key, "tok-other", time.time() + 3000)


def test_retry_reuses_other_token(scripted_server):
    """Test that the retry uses a token another worker stored meanwhile instead of fetching one."""
    scripted_server.answer_token("tok-mine")
    scripted_server.answer("POST", STK_PUSH_PATH, (404, INVALID_TOKEN), (200, STK_ACCEPTED))
    client = make_client(scripted_server.url, token_cache=RacingCache())
    push(client)
    token_calls = [request for request in scripted_server.requests if request[1] == TOKEN_PATH]
    assert len(token_calls) == 1
    assert scripted_server.requests[-1][2]["Authorization"] == "Bearer tok-other"


def test_timeout_tuple(silent_server):
    """Test that a (connect, read) timeout tuple is passed to requests."""
    client = make_client(silent_server.url, timeout=(2, 0.3))
    started = time.monotonic()
    with pytest.raises(errors.DarajaTimeout):
        client.get_token()
    assert time.monotonic() - started < 2
