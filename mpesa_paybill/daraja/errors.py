"""Define the exceptions raised by the Daraja client.

Every exception carries a plain-English ``message`` that a support person can act on.
Callers branch on the class (and on ``reason`` for business errors), never on the text.
"""


class DarajaError(Exception):
    """Base class of every error raised by the Daraja client."""

    def __init__(self, message):
        super(DarajaError, self).__init__(message)
        self.message = message

    def __str__(self):
        return self.message


class DarajaConfigError(DarajaError):
    """Invalid setting or request value, detected before anything is sent to Daraja."""


class InvalidPhoneNumber(DarajaConfigError, ValueError):
    """Phone number that cannot be turned into a 12-digit Kenyan MSISDN."""

    def __init__(self, value, message):
        super(InvalidPhoneNumber, self).__init__(message)
        self.value = value


class DarajaAuthError(DarajaError):
    """Rejected consumer key and secret, or an access token that stays invalid after a refresh."""

    def __init__(self, message, error_code=None, error_message=None, http_status=None):
        super(DarajaAuthError, self).__init__(message)
        self.error_code = error_code
        self.error_message = error_message
        self.http_status = http_status


class DarajaRequestError(DarajaError):
    """Business error returned by Daraja in its ``errorCode``/``errorMessage`` envelope.

    ``reason`` is one of ``REASONS``, so that callers need not parse ``error_message``,
    which for code 500.001.1001 alone covers four unrelated causes.
    """

    REASONS = (
        "merchant_not_found",
        "wrong_credentials",
        "subscriber_locked",
        "processing",
        "invalid_field",
        "other",
    )

    def __init__(self, message, error_code=None, error_message=None, request_id=None,
                 http_status=None, reason="other"):
        super(DarajaRequestError, self).__init__(message)
        self.error_code = error_code
        self.error_message = error_message
        self.request_id = request_id
        self.http_status = http_status
        self.reason = reason


class DarajaThrottled(DarajaRequestError):
    """Rate limit hit (500.003.02 Spike Arrest Violation or 500.003.03 Quota Violation)."""


class DarajaTransportError(DarajaError):
    """Failure to get a usable HTTP response from Daraja."""

    def __init__(self, message, http_status=None, excerpt=None):
        super(DarajaTransportError, self).__init__(message)
        self.http_status = http_status
        self.excerpt = excerpt


class DarajaTimeout(DarajaTransportError):
    """Request that got no response within the client's timeout.

    Daraja may still have processed it, so check its status before sending it again.
    """


class DarajaConnectionError(DarajaTransportError):
    """Connection to Daraja that could not be opened or broke before a response arrived."""


class DarajaBadResponse(DarajaTransportError):
    """Response that is empty, not JSON, an HTML page or a gateway SOAP fault."""


class DarajaParseError(DarajaError, ValueError):
    """Inbound Daraja body (callback, result, Pull Transactions row) that cannot be read.

    ``field`` names the missing or invalid item, e.g. ``"CheckoutRequestID"``.
    """

    def __init__(self, field, message):
        super(DarajaParseError, self).__init__(message)
        self.field = field
