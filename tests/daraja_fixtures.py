"""Provide fixtures and helpers for the Daraja client tests.

Test modules import the fixtures they use from here, because tests/conftest.py belongs
to the sandbox's tests.
"""

import datetime
import json
import os
import socket
import sys
import threading

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _path in (ROOT, os.path.join(ROOT, "mpesa_paybill")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import daraja  # noqa: E402

CONSUMER_KEY = "sandbox-consumer-key"
CONSUMER_SECRET = "sandbox-consumer-secret"
PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
PAYBILL = "174379"
C2B_PAYBILL = "600000"
TILL = "5123456"
TILL_STORE = "5123400"
INITIATOR = "testapi"
INITIATOR_PASSWORD = "Safaricom999!*!"
PHONE = "254708374149"


class SilentServer(object):
    """Listen on 127.0.0.1, accept connections and never respond, to provoke read timeouts."""

    def __init__(self):
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.2)
        self._connections = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept_forever, name="silent-server")
        self._thread.daemon = True

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self._socket.getsockname()[1]

    def start(self):
        self._thread.start()
        return self

    def _accept_forever(self):
        while not self._stopped.is_set():
            try:
                connection, _ = self._socket.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            # Keep a reference so the connection stays open until stop().
            self._connections.append(connection)

    def stop(self):
        self._stopped.set()
        self._thread.join(2)
        for connection in self._connections:
            connection.close()
        self._socket.close()


class ScriptedServer(object):
    """Serve canned responses per ``(method, path)`` on 127.0.0.1 and record what arrives.

    ``connections`` counts accepted TCP connections, so a test can prove that nothing
    at all was sent, even a TLS handshake. Paths without a response get HTTP 599.
    """

    def __init__(self):
        self.requests = []
        self.connections = 0
        self._answers = {}
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.partition("?")[0]
                scripted.requests.append((self.command, path, dict(self.headers.items()), body))
                queue = scripted._answers.get((self.command, path)) or [(599, b"", "text/plain")]
                status, payload, content_type = queue.pop(0) if len(queue) > 1 else queue[0]
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address):
                scripted.connections += 1
                return True

        self._httpd = Server(("127.0.0.1", 0), Handler)
        # A short poll interval keeps stop() fast; the default 0.5 s adds up over many tests.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-server"
        )
        self._thread.daemon = True

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self._httpd.server_address[1]

    def answer(self, method, path, *replies):
        """Queue replies ``(status, body)`` or ``(status, body, content_type)`` for a path.

        A dict or list body is sent as JSON. The last reply repeats for later requests.
        """
        queue = []
        for reply in replies:
            status, body = reply[0], reply[1]
            content_type = reply[2] if len(reply) > 2 else "application/json"
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode("utf-8")
            queue.append((status, body, content_type))
        self._answers[(method, path)] = queue

    def answer_token(self, token="scripted-token", expires_in=3599):
        """Make the OAuth call return ``token``."""
        self.answer("GET", "/oauth/v1/generate", (200, {"access_token": token, "expires_in": expires_in}))

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()


def closed_port_url():
    """Return an http URL on 127.0.0.1 whose port nothing listens on."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return "http://127.0.0.1:%d" % port


def make_certificate(common_name="Test M-Pesa certificate"):
    """Return ``(private_key, certificate_pem)`` of a fresh self-signed RSA certificate."""
    from cryptography import x509
    from cryptography.hazmat.backends import default_backend
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048, backend=default_backend())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.utcnow()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256(), default_backend())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def control(sandbox, method, path, payload=None):
    """Call the sandbox's control API and return its JSON answer."""
    response = requests.request(method, sandbox.base_url + path, json=payload, timeout=10)
    assert response.status_code < 400, "%s %s -> %s %s" % (method, path, response.status_code, response.text)
    return response.json() if response.content else None


def set_quirks(sandbox, **switches):
    """Turn sandbox quirk switches on or off and return the full quirk dict."""
    return control(sandbox, "POST", "/sandbox/quirks", switches)


def make_client(base_url, **options):
    """Return a DarajaClient for the offline sandbox's default app, with its own token cache."""
    options.setdefault("environment", "offline")
    options.setdefault("timeout", 10)
    options.setdefault("token_cache", daraja.MemoryTokenCache())
    return daraja.DarajaClient(base_url, CONSUMER_KEY, CONSUMER_SECRET, **options)


@pytest.fixture
def sandbox_client(sandbox):
    """Return a DarajaClient talking to the started ``sandbox``."""
    return make_client(sandbox.base_url)


@pytest.fixture
def silent_server():
    """Yield a server that accepts connections and never answers."""
    server = SilentServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scripted_server():
    """Yield a server with canned answers that records every request and connection."""
    server = ScriptedServer().start()
    try:
        yield server
    finally:
        server.stop()
