"""Send HTTP requests to Daraja and turn its responses into data or exceptions.

Daraja responds in three shapes besides the expected JSON: its error envelope
``{"requestId", "errorCode", "errorMessage"}`` with HTTP 200, 400, 404 or 500; a SOAP
fault from its API gateway (``{"Envelope": {"Body": {"Fault": ...}}}``); and empty or
HTML bodies on 5xx. Each becomes a specific exception here.
"""

import json
import logging
import re

import requests

from . import codes
from .errors import (
    DarajaBadResponse,
    DarajaConnectionError,
    DarajaRequestError,
    DarajaThrottled,
    DarajaTimeout,
    DarajaTransportError,
)

_logger = logging.getLogger(__name__)

EXCERPT_LENGTH = 200

# "Bad Request - Invalid PhoneNumber" names the rejected field after "Invalid".
_INVALID_FIELD = re.compile(r"invalid\s+([A-Za-z]+)", re.IGNORECASE)

# Kenyan MSISDNs in any response text are masked before they reach an excerpt.
_MSISDN_IN_TEXT = re.compile(r"(?<![0-9])(254[17])[0-9]{5}([0-9]{3})(?![0-9])")


def make_excerpt(text, secrets=()):
    """Return the start of ``text`` for an error message, with secrets and MSISDNs hidden."""
    text = " ".join(str(text).split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _MSISDN_IN_TEXT.sub(r"\1*****\2", text)
    if len(text) > EXCERPT_LENGTH:
        text = text[:EXCERPT_LENGTH] + "..."
    return text


def send(session, method, base_url, path, timeout, **kwargs):
    """Send one request to ``base_url + path`` and return the requests Response.

    :raise DarajaTimeout: when no response arrived within ``timeout`` seconds.
    :raise DarajaConnectionError: when the connection failed or broke.
    :raise DarajaTransportError: for any other error of the requests library.
    """
    url = base_url + path
    try:
        return session.request(method, url, timeout=timeout, **kwargs)
    except requests.exceptions.Timeout as error:
        # Checked before ConnectionError because ConnectTimeout is both.
        _logger.warning("Daraja %s %s timed out after %s s", method, path, timeout)
        raise DarajaTimeout(
            "Daraja did not respond to %s %s within %s seconds. The request may still have been "
            "processed: check its status before sending it again." % (method, path, timeout)
        ) from error
    except requests.exceptions.ConnectionError as error:
        _logger.warning("Daraja %s %s failed: cannot connect to %s", method, path, base_url)
        raise DarajaConnectionError(
            "Cannot connect to Daraja at %s (%s %s). Check the base URL and this server's "
            "network access, then try again." % (base_url, method, path)
        ) from error
    except requests.exceptions.RequestException as error:
        _logger.warning("Daraja %s %s failed: %s", method, path, type(error).__name__)
        raise DarajaTransportError(
            "The request %s %s to Daraja at %s failed (%s). Check the base URL."
            % (method, path, base_url, type(error).__name__)
        ) from error


def _find_key(data, name):
    """Return the value of the first key of ``data`` whose lower-cased name ends with ``name``."""
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        if str(key).lower().endswith(name):
            return value
    return None


def find_soap_fault(data):
    """Return the gateway SOAP fault object of ``data``, or None.

    Matches ``{"Envelope": {"Body": {"Fault": {...}}}}`` with or without a namespace
    prefix such as "soap:Envelope".
    """
    return _find_key(_find_key(_find_key(data, "envelope"), "body"), "fault")


def decode_json(response, method, path, secrets=()):
    """Return the JSON object of ``response``.

    :raise DarajaBadResponse: for an empty body, an HTML page, text that is not JSON,
        JSON that is not an object, or a gateway SOAP fault. The exception carries the
        HTTP status and a short excerpt with ``secrets`` hidden.
    """
    status = response.status_code
    text = (response.content or b"").decode("utf-8", "replace")
    content_type = response.headers.get("Content-Type", "").lower()
    where = "%s %s" % (method, path)

    if not text.strip():
        raise DarajaBadResponse(
            "Daraja responded to %s with HTTP %s and an empty body. This is usually a temporary "
            "fault of Daraja's gateway: try again in a few minutes." % (where, status),
            http_status=status, excerpt="",
        )

    excerpt = make_excerpt(text, secrets)
    if "html" in content_type or text.lstrip().startswith("<"):
        raise DarajaBadResponse(
            "Daraja responded to %s with HTTP %s and an HTML page instead of JSON: %s. Check the "
            "base URL, or try again later if Daraja is down." % (where, status, excerpt),
            http_status=status, excerpt=excerpt,
        )
    try:
        data = json.loads(text)
    except ValueError:
        raise DarajaBadResponse(
            "Daraja responded to %s with HTTP %s and a body that is not JSON: %s. Try again later."
            % (where, status, excerpt),
            http_status=status, excerpt=excerpt,
        )
    if not isinstance(data, dict):
        raise DarajaBadResponse(
            "Daraja responded to %s with HTTP %s and JSON that is not an object: %s."
            % (where, status, excerpt),
            http_status=status, excerpt=excerpt,
        )

    fault = find_soap_fault(data)
    if fault is not None:
        fault_text = _find_key(fault, "faultstring") if isinstance(fault, dict) else fault
        fault_excerpt = make_excerpt(fault_text or excerpt, secrets)
        raise DarajaBadResponse(
            "Daraja's gateway responded to %s with HTTP %s and a SOAP fault: %s. Some sandbox "
            "shortcodes always fail this way. Otherwise try again later." % (where, status, fault_excerpt),
            http_status=status, excerpt=fault_excerpt,
        )
    return data


def error_code_of(data):
    """Return the Daraja errorCode of a response as text, or None."""
    return codes.normalize_result_code(data.get("errorCode"))


def is_invalid_token(data):
    """Return whether a response reports that the access token is invalid.

    Matched on the known codes and on "Invalid Access Token" in the message, because
    Daraja's APIs use four different codes for it. The Apigee gateway's own fault
    (``{"fault": {"faultstring": "Invalid Access Token"}}``) counts too.
    """
    if error_code_of(data) in codes.INVALID_TOKEN_CODES:
        return True
    message = str(data.get("errorMessage") or "")
    fault = data.get("fault")
    if isinstance(fault, dict):
        message += " " + str(fault.get("faultstring") or "")
    return codes.INVALID_TOKEN_TEXT in message.lower()


def classify_reason(error_code, error_message):
    """Return the DarajaRequestError reason of an error code and message."""
    lowered = (error_message or "").lower()
    if error_code == codes.MULTI_CAUSE_CODE:
        for fragment, reason in codes.MULTI_CAUSE_REASONS:
            if fragment in lowered:
                return reason
        return "other"
    if error_code == codes.INVALID_FIELD_CODE or lowered.startswith("bad request - invalid"):
        return "invalid_field"
    return "other"


def request_error(data, http_status):
    """Return the DarajaRequestError for Daraja's error envelope ``data``, or None if it has none."""
    error_code = error_code_of(data)
    if error_code is None:
        return None
    error_message = str(data.get("errorMessage") or "").strip()
    request_id = data.get("requestId")
    detail = " (Daraja error %s: %s)" % (error_code, error_message or "no message")

    if error_code in codes.THROTTLE_CODES:
        return DarajaThrottled(
            codes.REQUEST_ERROR_MESSAGES["throttled"] + detail,
            error_code=error_code, error_message=error_message, request_id=request_id,
            http_status=http_status, reason="other",
        )

    reason = classify_reason(error_code, error_message)
    if reason == "invalid_field":
        field = _INVALID_FIELD.search(error_message)
        summary = (
            "Daraja rejected the %s of the request. Correct that value and send the request "
            "again." % (field.group(1) if field else "value of a field")
        )
    elif reason != "other":
        summary = codes.REQUEST_ERROR_MESSAGES[reason]
    else:
        summary = codes.KNOWN_ERROR_HINTS.get(error_code, codes.REQUEST_ERROR_MESSAGES["other"])
    return DarajaRequestError(
        summary + detail,
        error_code=error_code, error_message=error_message, request_id=request_id,
        http_status=http_status, reason=reason,
    )
