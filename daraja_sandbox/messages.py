"""Define the request and response objects passed between the HTTP server and the API handlers."""
import urllib.parse

from . import formats


class Request(object):
    """One HTTP request: method, path, parsed query, headers and raw body bytes."""

    def __init__(self, method, target, headers, body):
        parts = urllib.parse.urlsplit(target)
        self.method = method
        self.path = parts.path
        self.query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.is_form = content_type == "application/x-www-form-urlencoded"
        self._form = None

    def query_value(self, name):
        """Return the first value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def form_value(self, name):
        """Return the first value of an HTML form field, or None when this is not a form."""
        if not self.is_form:
            return None
        if self._form is None:
            self._form = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        values = self._form.get(name)
        return values[0] if values else None


class ApiResponse(object):
    """An HTTP response: status, body bytes, Content-Type and extra headers."""

    def __init__(self, status, body, content_type="application/json", headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.content_type = content_type
        self.headers = headers or {}

    @classmethod
    def json(cls, status, value):
        """Build a JSON response, writing `formats.RawNumber` values as bare numbers."""
        return cls(status, formats.dump_json(value))
