"""Test the sandbox's OAuth endpoint and the gateway checks every Daraja call goes through."""
import logging

import pytest
import requests

TOKEN_PATH = "/oauth/v1/generate"
STK_PATH = "/mpesa/stkpush/v1/processrequest"
ENVELOPE_KEYS = {"requestId", "errorCode", "errorMessage"}


def get_token(sandbox, auth=("sandbox-consumer-key", "sandbox-consumer-secret"), grant="client_credentials"):
    return requests.get(sandbox.base_url + TOKEN_PATH, params={"grant_type": grant}, auth=auth, timeout=10)


def test_token_success_shape(sandbox):
    """Test that a token request with Basic auth returns access_token and a numeric expires_in of 3599."""
    reply = get_token(sandbox)
    body = reply.json()
    assert reply.status_code == 200
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == 3599
    assert isinstance(body["expires_in"], int)
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 20


def test_token_bad_grant(sandbox):
    """Test that a grant_type other than client_credentials gives 400.008.02."""
    reply = get_token(sandbox, grant="password")
    assert reply.status_code == 400
    assert reply.json()["errorCode"] == "400.008.02"
    assert set(reply.json()) == ENVELOPE_KEYS


def test_token_not_basic(sandbox):
    """Test that a token request without Basic auth gives 400.008.01."""
    reply = requests.get(sandbox.base_url + TOKEN_PATH, params={"grant_type": "client_credentials"},
                         headers={"Authorization": "Bearer something"}, timeout=10)
    assert reply.status_code == 400
    assert reply.json()["errorCode"] == "400.008.01"


def test_token_wrong_secret(sandbox):
    """Test that a wrong consumer secret is rejected with 400.008.01."""
    reply = get_token(sandbox, auth=("sandbox-consumer-key", "wrong"))
    assert reply.status_code == 400
    assert reply.json()["errorCode"] == "400.008.01"


def test_token_extra_app(sandbox, daraja):
    """Test that an app added through the control API can get a token."""
    added = daraja.control("POST", "/sandbox/apps", {"consumer_key": "k2", "consumer_secret": "s2"})
    assert added.status_code == 200
    assert get_token(sandbox, auth=("k2", "s2")).status_code == 200


def test_token_post_not_allowed(sandbox):
    """Test that POST on the token path gives 405.001."""
    reply = requests.post(sandbox.base_url + TOKEN_PATH + "?grant_type=client_credentials",
                          auth=("sandbox-consumer-key", "sandbox-consumer-secret"), timeout=10)
    assert reply.status_code == 405
    assert reply.json()["errorCode"] == "405.001"


def test_token_string_expires_in(sandbox, daraja):
    """Test that the string_expires_in quirk sends expires_in as the string "3599"."""
    daraja.control("POST", "/sandbox/quirks", {"string_expires_in": True})
    assert get_token(sandbox).json()["expires_in"] == "3599"


def test_token_invalidation_quirk(sandbox, daraja):
    """Test that with token_invalidation a new token makes the previous one fail with 404.001.03."""
    daraja.control("POST", "/sandbox/quirks", {"token_invalidation": True})
    first = get_token(sandbox).json()["access_token"]
    second = get_token(sandbox).json()["access_token"]
    old = daraja.post(STK_PATH, daraja.stk_body(), token=first)
    new = daraja.post(STK_PATH, daraja.stk_body(), token=second)
    assert old.status_code == 404
    assert old.json()["errorCode"] == "404.001.03"
    assert old.json()["errorMessage"] == "Invalid Access Token"
    assert new.status_code == 200


def test_token_kept_without_quirk(sandbox, daraja):
    """Test that without token_invalidation an older token keeps working."""
    first = get_token(sandbox).json()["access_token"]
    get_token(sandbox)
    assert daraja.post(STK_PATH, daraja.stk_body(), token=first).status_code == 200


def test_token_expired(sandbox, daraja):
    """Test that an expired token gets 404.001.03 with HTTP 404."""
    token = daraja.token()
    daraja.control("POST", "/sandbox/tokens/expire")
    reply = daraja.post(STK_PATH, daraja.stk_body(), token=token)
    assert reply.status_code == 404
    assert reply.json()["errorCode"] == "404.001.03"


def test_token_survives_reset(daraja):
    """Test that POST /sandbox/reset keeps access tokens valid."""
    token = daraja.token()
    daraja.control("POST", "/sandbox/reset")
    assert daraja.post(STK_PATH, daraja.stk_body(), token=token).status_code == 200


def test_token_missing_bearer(sandbox):
    """Test that an API call without a token gets 404.001.03."""
    reply = requests.post(sandbox.base_url + STK_PATH, json={}, timeout=10)
    assert reply.status_code == 404
    assert reply.json()["errorCode"] == "404.001.03"


def test_gateway_unknown_path(sandbox):
    """Test that an unknown path gets 404.001.01 Resource not found."""
    reply = requests.post(sandbox.base_url + "/mpesa/stkpush/v9/processrequest", json={}, timeout=10)
    assert reply.status_code == 404
    assert reply.json()["errorCode"] == "404.001.01"
    assert set(reply.json()) == ENVELOPE_KEYS


def test_gateway_wrong_method(sandbox):
    """Test that GET on an API path gets 405.001."""
    reply = requests.get(sandbox.base_url + STK_PATH, timeout=10)
    assert reply.status_code == 405
    assert reply.json()["errorCode"] == "405.001"


def test_gateway_content_type(daraja):
    """Test that a body sent without Content-Type application/json reads as an invalid BusinessShortCode."""
    reply = requests.post(daraja.base_url + STK_PATH, data="BusinessShortCode=174379",
                          headers={"Authorization": "Bearer " + daraja.token(),
                                   "Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert reply.status_code == 400
    assert reply.json()["errorCode"] == "400.002.02"
    assert reply.json()["errorMessage"] == "Bad Request - Invalid BusinessShortCode"


def test_gateway_invalid_json(daraja):
    """Test that malformed JSON is rejected with an error envelope."""
    reply = requests.post(daraja.base_url + STK_PATH, data="{not json",
                          headers={"Authorization": "Bearer " + daraja.token(),
                                   "Content-Type": "application/json"}, timeout=10)
    assert reply.status_code == 400
    assert set(reply.json()) == ENVELOPE_KEYS


@pytest.mark.parametrize("status", [500, 502, 503])
def test_fail_next_empty_body(daraja, status):
    """Test that fail_next fails the next call with the given status and an empty body."""
    token = daraja.token()
    daraja.control("POST", "/sandbox/quirks", {"fail_next": {"count": 1, "status": status, "body": ""}})
    failed = daraja.post(STK_PATH, daraja.stk_body(), token=token)
    after = daraja.post(STK_PATH, daraja.stk_body(phone="254708374150"), token=token)
    assert failed.status_code == status
    assert failed.content == b""
    assert after.status_code == 200


def test_fail_next_html(daraja):
    """Test that fail_next can respond with an HTML page."""
    token = daraja.token()
    daraja.control("POST", "/sandbox/quirks",
                   {"fail_next": {"count": 1, "status": 502, "body": "<html><body>Bad Gateway</body></html>"}})
    reply = daraja.post(STK_PATH, daraja.stk_body(), token=token)
    assert reply.status_code == 502
    assert reply.headers["Content-Type"].startswith("text/html")
    assert reply.text.startswith("<html>")


def test_fail_next_soap_fault(daraja):
    """Test that fail_next can respond with the gateway's SOAP-fault object."""
    token = daraja.token()
    daraja.control("POST", "/sandbox/quirks", {"fail_next": {"count": 1, "status": 500, "body": "soap_fault"}})
    reply = daraja.post(STK_PATH, daraja.stk_body(), token=token)
    assert reply.status_code == 500
    assert reply.json()["Envelope"]["Body"]["Fault"]["faultcode"] == "soap:Server"


def test_fail_next_counts_token_calls(sandbox, daraja):
    """Test that fail_next without a path also hits the token call, and counts down to zero."""
    daraja.control("POST", "/sandbox/quirks", {"fail_next": {"count": 2, "status": 503}})
    first = get_token(sandbox)
    second = get_token(sandbox)
    third = get_token(sandbox)
    assert first.status_code == 503
    assert second.status_code == 503
    assert third.status_code == 200
    assert daraja.control("GET", "/sandbox/quirks").json()["fail_next"]["count"] == 0


def test_fail_next_path_filter(sandbox, daraja):
    """Test that fail_next with a path only fails calls to that path."""
    daraja.control("POST", "/sandbox/quirks", {"fail_next": {"count": 1, "status": 503, "path": "stkpush"}})
    assert get_token(sandbox).status_code == 200
    assert daraja.stk_push().status_code == 503


@pytest.mark.parametrize("code, message", [("500.003.02", "Spike Arrest Violation"),
                                           ("500.003.03", "Quota Violation")])
def test_throttle(daraja, code, message):
    """Test that the throttle quirk rejects the next calls with Daraja's rate-limit envelope."""
    token = daraja.token()
    daraja.control("POST", "/sandbox/quirks", {"throttle": {"count": 2, "code": code}})
    replies = [daraja.post(STK_PATH, daraja.stk_body(phone="25470837415%d" % n), token=token) for n in range(3)]
    assert [reply.status_code for reply in replies] == [500, 500, 200]
    assert replies[0].json()["errorCode"] == code
    assert replies[0].json()["errorMessage"] == message


def test_quirk_unknown_name(daraja):
    """Test that an unknown quirk name is rejected with a message naming it."""
    reply = daraja.control("POST", "/sandbox/quirks", {"no_such_quirk": True})
    assert reply.status_code == 400
    assert "no_such_quirk" in reply.json()["error"]


def test_quirk_defaults(daraja):
    """Test that stk_c2b_echo and query_pending_until_answered are on by default and the rest off."""
    quirks = daraja.control("GET", "/sandbox/quirks").json()
    assert quirks["stk_c2b_echo"] is True
    assert quirks["query_pending_until_answered"] is True
    assert quirks["drop_callbacks"] is False
    assert quirks["msisdn_format"] == "auto"


def test_logs_hide_secrets(daraja, caplog):
    """Test that request logs mask phone numbers and never contain the token or passkey."""
    caplog.set_level(logging.INFO, logger="daraja_sandbox")
    token = daraja.token()
    checkout_id = daraja.stk_push().json()["CheckoutRequestID"]
    daraja.answer(checkout_id, "pay")
    daraja.control("POST", "/sandbox/phones/254708374149", {"behaviour": "pay"})
    text = caplog.text
    assert "POST /mpesa/stkpush/v1/processrequest 200" in text
    assert "254708374149" not in text
    assert checkout_id not in text
    assert token not in text
    assert daraja.PASSKEY not in text
    assert "sandbox-consumer-secret" not in text
