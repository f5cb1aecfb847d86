"""Define the exceptions that become Daraja's synchronous error envelope or a control API error."""
from . import formats

# Daraja's error codes start with the HTTP status they travel with ("404.001.03" comes with 404).
INVALID_FIELD = "400.002.02"
INVALID_PAYLOAD = "400.002.05"
INVALID_AUTH_TYPE = "400.008.01"
INVALID_GRANT_TYPE = "400.008.02"
INVALID_TOKEN = "404.001.03"
NOT_FOUND = "404.001.01"
METHOD_NOT_ALLOWED = "405.001"
MERCHANT_ERROR = "500.001.1001"
SPIKE_ARREST = "500.003.02"
QUOTA_VIOLATION = "500.003.03"
SERVER_ERROR = "500.003.1001"

THROTTLE_MESSAGES = {
    SPIKE_ARREST: "Spike Arrest Violation",
    QUOTA_VIOLATION: "Quota Violation",
}


class DarajaError(Exception):
    """A synchronous Daraja error, returned as `{"requestId", "errorCode", "errorMessage"}`.

    :param request_id: the envelope's requestId; None is sent as JSON null, and by
        default a fresh id is generated
    """

    _generate = object()

    def __init__(self, code, message, request_id=_generate, http_status=None):
        super(DarajaError, self).__init__("%s %s" % (code, message))
        self.code = code
        self.message = message
        self.request_id = formats.request_id() if request_id is DarajaError._generate else request_id
        self.http_status = http_status or int(code.split(".")[0])

    def envelope(self):
        """Return the error body as Daraja sends it."""
        return {"requestId": self.request_id, "errorCode": self.code, "errorMessage": self.message}


def invalid(field):
    """Return the `400.002.02 Bad Request - Invalid <field>` error Daraja gives for a bad field."""
    return DarajaError(INVALID_FIELD, "Bad Request - Invalid %s" % field)


def threat_detected():
    """Return the error for a URL with a blocked word; Daraja sends it with requestId null."""
    # NOTE: the errorCode that comes with "Threat Detected" is not documented; 400.002.02 is a guess.
    return DarajaError(INVALID_FIELD, "Bad Request - Threat Detected", request_id=None)


def merchant(message):
    """Return a `500.001.1001` error; Daraja uses that one code for several unrelated causes."""
    return DarajaError(MERCHANT_ERROR, message)


class ControlError(Exception):
    """A control API error, returned as `{"error": message}` with an HTTP status."""

    def __init__(self, message, http_status=400):
        super(ControlError, self).__init__(message)
        self.message = message
        self.http_status = http_status
