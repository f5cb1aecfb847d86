"""Provide test doubles: an HTTP server for callback URLs, and a plain-HTTP caller for the sandbox."""
import base64
import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class ReceivedRequest(object):
    """One POST recorded by `CallbackReceiver`.

    Attributes: `path` (without the query string), `query`, `headers` (dict), `body` (raw
    bytes) and `json` (the parsed body, or None when it is not JSON).
    """

    def __init__(self, path, headers, body):
        self.path, _, self.query = path.partition("?")
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "ReceivedRequest(%r, %r)" % (self.path, self.body[:200])


class CallbackReceiver(object):
    """Record every POST sent to 127.0.0.1:<port> and respond with a reply set per path.

    The default reply is HTTP 200 with `{"ResultCode": 0, "ResultDesc": "Accepted"}`.
    `respond()` sets another reply, an HTTP status or a delay for one path, which is how
    tests play a validation URL that rejects a payment or responds too late.
    """

    default_reply = {"ResultCode": 0, "ResultDesc": "Accepted"}

    def __init__(self):
        self.requests = []
        self._replies = {}
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._make_handler())
        self._httpd.daemon_threads = True
        self._thread = None

    @property
    def url(self):
        """Return the base URL, e.g. "http://127.0.0.1:40123"."""
        return "http://127.0.0.1:%d" % self._httpd.server_address[1]

    def start(self):
        """Serve in a background thread and return self."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="callback-receiver")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def respond(self, path, body=None, status=200, delay=0.0):
        """Set the reply for POSTs to `path`.

        :param body: a dict or list (sent as JSON), str or bytes (sent as is), or None for the default
        :param status: HTTP status of the reply
        :param delay: seconds to wait before replying
        """
        self._replies[path] = (body, status, delay)

    def wait_for(self, count, timeout=5, path=None):
        """Return the recorded requests once `count` of them (to `path`, if given) arrived.

        :raise AssertionError: when fewer arrived within `timeout` seconds
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                matching = [r for r in self.requests if path is None or r.path == path]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        "expected %d callback(s)%s within %ss, got %d: %r"
                        % (count, " to " + path if path else "", timeout, len(matching), matching))
                self._arrived.wait(remaining)

    def _record(self, request):
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()

    def _make_handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = ReceivedRequest(self.path, dict(self.headers.items()), body)
                receiver._record(request)
                reply, status, delay = receiver._replies.get(request.path, (None, 200, 0.0))
                if delay:
                    time.sleep(delay)
                if reply is None:
                    reply = receiver.default_reply
                if isinstance(reply, (dict, list)):
                    payload = json.dumps(reply).encode("utf-8")
                elif isinstance(reply, str):
                    payload = reply.encode("utf-8")
                else:
                    payload = reply
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    # The caller gave up waiting (a delayed reply in a timeout test).
                    pass

            def log_message(self, format, *args):
                pass

        return Handler


class DarajaCaller(object):
    """Call a running sandbox over HTTP the way an integration would, with plain `requests`.

    The sandbox's own tests use this instead of the project's Daraja client, so that a
    format bug in the client cannot hide a bug in the sandbox or the other way round.
    """

    PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
    PHONE = "254708374149"

    def __init__(self, base_url, consumer_key="sandbox-consumer-key", consumer_secret="sandbox-consumer-secret"):
        self.base_url = base_url
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self._token = None

    # -- raw HTTP ------------------------------------------------------------------------------

    def token(self, refresh=False):
        """Return an access token, fetching one the first time."""
        if self._token is None or refresh:
            reply = requests.get(self.base_url + "/oauth/v1/generate", params={"grant_type": "client_credentials"},
                                 auth=(self.consumer_key, self.consumer_secret), timeout=10)
            assert reply.status_code == 200, reply.text
            self._token = reply.json()["access_token"]
        return self._token

    def post(self, path, body, token=None, headers=None):
        """POST JSON to a Daraja path with a Bearer token and return the `requests` response."""
        sent = {"Authorization": "Bearer %s" % (token or self.token())}
        sent.update(headers or {})
        return requests.post(self.base_url + path, json=body, headers=sent, timeout=30)

    def control(self, method, path, body=None):
        """Call the control API and return the `requests` response."""
        return requests.request(method, self.base_url + path, json=body, timeout=30)

    # -- STK -----------------------------------------------------------------------------------

    def stk_body(self, **overrides):
        """Return a valid STK Push body for PayBill 174379, with fields replaced by `overrides`."""
        shortcode = overrides.pop("shortcode", "174379")
        passkey = overrides.pop("passkey", self.PASSKEY)
        timestamp = overrides.pop("timestamp", eat_timestamp())
        phone = overrides.pop("phone", self.PHONE)
        body = {
            "BusinessShortCode": shortcode,
            "Password": base64.b64encode((shortcode + passkey + timestamp).encode()).decode(),
            "Timestamp": timestamp,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": 100,
            "PartyA": phone,
            "PartyB": shortcode,
            "PhoneNumber": phone,
            "CallBackURL": "http://127.0.0.1:9/stk",
            "AccountReference": "INV-0001",
            "TransactionDesc": "Invoice",
        }
        body.update(overrides)
        return body

    def stk_push(self, **overrides):
        """Send an STK Push and return the `requests` response."""
        return self.post("/mpesa/stkpush/v1/processrequest", self.stk_body(**overrides))

    def stk_query(self, checkout_id, shortcode="174379", passkey=PASSKEY):
        """Send an STK Push Query and return the `requests` response."""
        timestamp = eat_timestamp()
        return self.post("/mpesa/stkpushquery/v1/query", {
            "BusinessShortCode": shortcode,
            "Password": base64.b64encode((shortcode + passkey + timestamp).encode()).decode(),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_id,
        })

    def answer(self, checkout_id, action):
        """Answer a pending prompt through the control API and return the JSON response."""
        reply = self.control("POST", "/sandbox/prompts/%s/answer" % checkout_id, {"action": action})
        assert reply.status_code == 200, reply.text
        return reply.json()

    # -- C2B -----------------------------------------------------------------------------------

    def register(self, shortcode, base_url, response_type="Completed", version="v1"):
        """Register `<base_url>/confirm` and `<base_url>/validate` for a shortcode and return the response."""
        return self.post("/mpesa/c2b/%s/registerurl" % version, {
            "ShortCode": shortcode, "ResponseType": response_type,
            "ConfirmationURL": base_url + "/confirm", "ValidationURL": base_url + "/validate"})

    def pay(self, shortcode="600000", msisdn=PHONE, amount=100, bill_ref="INV-0001", **extra):
        """Pay from the SIM menu through the control API and return the JSON outcome."""
        body = {"ShortCode": shortcode, "MSISDN": msisdn, "Amount": amount, "BillRefNumber": bill_ref}
        body.update(extra)
        reply = self.control("POST", "/sandbox/c2b/pay", body)
        assert reply.status_code == 200, reply.text
        return reply.json()

    # -- initiator APIs ------------------------------------------------------------------------

    def security_credential(self, password="Safaricom999!*!"):
        """Encrypt the initiator password with the sandbox's certificate (RSA PKCS#1 v1.5, base64)."""
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import padding

        pem = requests.get(self.base_url + "/sandbox/certificate", timeout=10).content
        public_key = x509.load_pem_x509_certificate(pem).public_key()
        return base64.b64encode(public_key.encrypt(password.encode(), padding.PKCS1v15())).decode()


def eat_timestamp():
    """Return the current EAT time as Daraja's `YYYYMMDDHHmmss`."""
    eat = datetime.timezone(datetime.timedelta(hours=3))
    return datetime.datetime.now(eat).strftime("%Y%m%d%H%M%S")
