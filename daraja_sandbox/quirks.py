"""Define the switches that make the sandbox behave like Daraja's less regular sides, and check new values."""
from .errors import ControlError, QUOTA_VIOLATION, SPIKE_ARREST

MSISDN_FORMATS = ("auto", "plain", "masked", "hashed")
FAIL_STATUSES = (500, 502, 503)

DEFAULT_QUIRKS = {
    # Five-item STK success callback with a valueless {"Name": "Balance"} third, as older payloads have.
    "legacy_balance_item": False,
    # STK callback ResultCode as a string ("0") instead of a number.
    "string_result_codes": False,
    # C2B MSISDN: "auto" follows the registration (v1 hashed, v2 masked); shortcodes may override it.
    "msisdn_format": "auto",
    # STK callback Amount as the string "1.00" instead of a number.
    "decimal_string_amounts": False,
    # Send every callback twice.
    "duplicate_callbacks": False,
    # Seconds before a callback goes out; None uses the configured callback_delay.
    "callback_delay": None,
    # Deliver the C2B confirmation of an STK payment before its STK callback.
    "out_of_order": False,
    # Record callbacks but never send them, like a lost notification.
    "drop_callbacks": False,
    # {"count": N, "status": 500|502|503, "body": "" | "<html>..." | "soap_fault", "path": optional filter}.
    "fail_next": None,
    # A new token invalidates the earlier tokens of the same app.
    "token_invalidation": False,
    # {"count": N, "code": "500.003.02" | "500.003.03", "path": optional filter}.
    "throttle": None,
    # Token expires_in as the string "3599".
    "string_expires_in": False,
    # An STK payment into a PayBill with registered C2B URLs also produces a C2B confirmation.
    "stk_c2b_echo": True,
    # STK Query on an unanswered prompt returns the "The transaction is being processed" envelope.
    "query_pending_until_answered": True,
    # Reject a second C2B URL registration with "500.003.1001 Urls are already registered", as production does.
    "urls_already_registered": False,
    # ResponseCode of a successful C2B URL registration; some report "00000000" for v2.
    "register_response_code": "0",
    # Account Balance result with ResultParameter as one object instead of a list.
    "balance_single_parameter": False,
    # Account Balance ResultType/ResultCode as numbers; Daraja's Account Balance page shows strings.
    "balance_numeric_codes": False,
    # Post the next N Transaction Status / Reversal / Balance results to QueueTimeOutURL as a timeout.
    "queue_timeout": 0,
    # Seconds within which paying the same amount to the same shortcode again gives ResultCode 17 (0 = off).
    "same_amount_window": 0,
    # Reject @, # and & in AccountReference/TransactionDesc/Remarks, as some integrators report.
    "reject_special_characters": False,
}


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ControlError("quirk %s must be true or false, got %r" % (name, value))
    return value


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ControlError("quirk %s must be a whole number of 0 or more, got %r" % (name, value))
    return value


def _check_seconds(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ControlError("quirk %s must be a number of seconds (0 or more) or null, got %r" % (name, value))
    return value


def _check_fail_next(value):
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ControlError('quirk fail_next must be an object like {"count": 1, "status": 503, "body": ""}')
    count = _check_count("fail_next.count", value.get("count", 1))
    status = value.get("status", 503)
    if status not in FAIL_STATUSES:
        raise ControlError("quirk fail_next.status must be one of %s, got %r" % (FAIL_STATUSES, status))
    body = value.get("body", "")
    if not isinstance(body, str):
        raise ControlError('quirk fail_next.body must be "", an HTML string or "soap_fault", got %r' % (body,))
    path = value.get("path")
    if path is not None and not isinstance(path, str):
        raise ControlError("quirk fail_next.path must be a string, got %r" % (path,))
    return {"count": count, "status": status, "body": body, "path": path}


def _check_throttle(value):
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ControlError('quirk throttle must be an object like {"count": 1, "code": "500.003.02"}')
    count = _check_count("throttle.count", value.get("count", 1))
    code = value.get("code", SPIKE_ARREST)
    if code not in (SPIKE_ARREST, QUOTA_VIOLATION):
        raise ControlError("quirk throttle.code must be %s or %s, got %r" % (SPIKE_ARREST, QUOTA_VIOLATION, code))
    path = value.get("path")
    if path is not None and not isinstance(path, str):
        raise ControlError("quirk throttle.path must be a string, got %r" % (path,))
    return {"count": count, "code": code, "path": path}


def check_msisdn_format(value):
    """Return `value` when it names a C2B MSISDN format, else raise ControlError."""
    if value not in MSISDN_FORMATS:
        raise ControlError("msisdn_format must be one of %s, got %r" % (", ".join(MSISDN_FORMATS), value))
    return value


def check_quirk(name, value):
    """Return the checked value of quirk `name`, raising ControlError for an unknown name or bad value."""
    if name not in DEFAULT_QUIRKS:
        raise ControlError("unknown quirk %r; known quirks: %s" % (name, ", ".join(sorted(DEFAULT_QUIRKS))))
    if name == "fail_next":
        return _check_fail_next(value)
    if name == "throttle":
        return _check_throttle(value)
    if name == "msisdn_format":
        return check_msisdn_format(value)
    if name in ("callback_delay",):
        return _check_seconds(name, value)
    if name == "same_amount_window":
        return _check_seconds(name, value) or 0
    if name == "queue_timeout":
        return _check_count(name, value)
    if name == "register_response_code":
        if value not in ("0", "00000000"):
            raise ControlError('quirk register_response_code must be "0" or "00000000", got %r' % (value,))
        return value
    return _check_bool(name, value)
