"""Run the sandbox's HTTP server and wire the state, services and APIs together."""
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .c2b import C2BService
from .callbacks import CallbackDispatcher
from .control import ControlApi
from .daraja_api import DarajaApi
from .messages import ApiResponse, Request
from .pull import PullService
from .results import ResultService
from .state import SandboxState
from .stk import StkService

_logger = logging.getLogger(__name__)

_PHONE_IN_PATH = re.compile(r"(254\d{2})\d{4}(\d{3})")
_CHECKOUT_IN_PATH = re.compile(r"(ws_CO_\d+?)\d{9}(?=/|$)")
# Largest request body read, in bytes; Daraja requests are a few hundred bytes.
MAX_BODY = 1024 * 1024


def log_path(path):
    """Mask the phone numbers and CheckoutRequestIDs that control API paths can contain."""
    path = _CHECKOUT_IN_PATH.sub(lambda match: match.group(1) + "*********", path)
    return _PHONE_IN_PATH.sub(lambda match: match.group(1) + "****" + match.group(2), path)


class _Handler(BaseHTTPRequestHandler):
    server_version = "DarajaSandbox/1.0"

    def _serve(self):
        app = self.server.app
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._write(ApiResponse.json(413, {"error": "request body over %d bytes" % MAX_BODY}))
            return
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, self.headers, body)
        try:
            response = app.dispatch(request)
        except Exception:
            _logger.exception("Unhandled error on %s %s", self.command, log_path(request.path))
            response = ApiResponse.json(500, {"requestId": None, "errorCode": "500.003.1001",
                                              "errorMessage": "Internal Server Error"})
        self._write(response)
        _logger.info("%s %s %s", self.command, log_path(request.path), response.status)

    def _write(self, response):
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            _logger.debug("Client disconnected before the response to %s", log_path(self.path))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format, *args):
        # Requests are logged once each by _serve, with phone numbers masked.
        pass


class SandboxServer(object):
    """The offline Daraja sandbox: Daraja's endpoints, the control API and the phone page on one port.

    :param host: address to listen on; keep the default loopback address
    :param port: TCP port; 0 picks a free one (read it back from `base_url`)
    :param data_file: JSON file that keeps the state across restarts
    :param config: dict merged over the default configuration
    """

    def __init__(self, host="127.0.0.1", port=0, data_file=None, config=None):
        self.host = host
        self.port = port
        self.state = SandboxState(config, data_file)
        self.dispatcher = CallbackDispatcher(self.state)
        self.c2b = C2BService(self.state, self.dispatcher)
        self.stk = StkService(self.state, self.dispatcher, self.c2b)
        self.results = ResultService(self.state, self.dispatcher)
        self.pull = PullService(self.state)
        self.daraja = DarajaApi(self.state, self.stk, self.c2b, self.results, self.pull)
        self.control = ControlApi(self.state, self.stk, self.c2b, self.dispatcher)
        self._httpd = None
        self._threads = []
        self._stopping = threading.Event()

    @property
    def base_url(self):
        """Return the URL Daraja paths hang below, e.g. "http://127.0.0.1:8765"."""
        if self._httpd is None:
            raise RuntimeError("the sandbox is not started; call start() first")
        host, port = self._httpd.server_address[:2]
        return "http://%s:%d" % (host, port)

    @property
    def phone_url(self):
        """Return the URL of the HTML phone page."""
        return self.base_url + "/sandbox/phone"

    def dispatch(self, request):
        """Route a request to the control API or to Daraja's endpoints."""
        if request.path == "/sandbox" or request.path.startswith("/sandbox/"):
            return self.control.handle(request)
        return self.daraja.handle(request)

    def start(self):
        """Start serving in background threads and return self."""
        self._httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.app = self
        self._stopping.clear()
        self.dispatcher.resume()
        serve = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                 name="daraja-sandbox-http")
        expiry = threading.Thread(target=self._expire_loop, name="daraja-sandbox-expiry")
        for thread in (serve, expiry):
            thread.daemon = True
            thread.start()
        self._threads = [serve, expiry]
        _logger.info("Daraja sandbox listening on %s", self.base_url)
        return self

    def stop(self):
        """Stop serving, cancel callbacks still waiting for their delay and save the state."""
        if self._httpd is None:
            return
        self._stopping.set()
        self.dispatcher.stop()
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=2)
        self.state.save()
        _logger.info("Daraja sandbox on %s stopped", self.base_url)
        self._httpd = None

    def _expire_loop(self):
        while not self._stopping.wait(0.25):
            try:
                self.stk.expire_due()
            except Exception:
                _logger.exception("Expiring pending STK prompts failed")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
