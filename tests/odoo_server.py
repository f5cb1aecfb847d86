"""Run a real Odoo server beside the offline Daraja sandbox for system tests, and call Odoo over JSON-RPC.

`SystemStack` copies the test database, starts the sandbox in this process and Odoo as a
subprocess, logs in as admin and points the M-Pesa acquirer at the sandbox. It is a context
manager, so scripts can use it outside pytest. The fixtures at the end wrap it for pytest.
A test module uses them by importing them::

    from odoo_server import system, system_stack  # noqa: F401

Fixtures imported into several modules are instantiated once per module, so when a second
module needs them, import them in tests/conftest.py instead, and the session shares one stack.
"""
import configparser
import logging
import os
import shutil
import socket
import subprocess
import sys
import time

import psycopg2
import pytest
import requests

from configure_demo import SANDBOX_CREDENTIALS
from odoo_rpc import OdooRpc

_logger = logging.getLogger(__name__)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TEMPLATE_DB = "mpesa_paybill_test"
SYSTEM_DB = "mpesa_paybill_system"
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin"
ACQUIRER_XMLID = "mpesa_paybill.payment_acquirer_mpesa"


# Seconds to wait for Odoo to serve /web/login after the process starts.
START_TIMEOUT = 90
# Seconds to wait for the template database to lose its last connection.
TEMPLATE_BUSY_TIMEOUT = 20


def read_odoo_config(path):
    """Return the [options] section of an Odoo configuration file as a dict."""
    if not os.path.isfile(path):
        raise RuntimeError("Odoo configuration %s not found. Run `make test` once to create it and the "
                           "template database %s." % (path, TEMPLATE_DB))
    parser = configparser.RawConfigParser()
    parser.read(path)
    return dict(parser.items("options"))


def connect_database(options, dbname):
    """Open a psycopg2 connection to ``dbname`` with the server settings of an Odoo configuration."""
    params = {"dbname": dbname}
    for option, key in (("db_host", "host"), ("db_port", "port"), ("db_user", "user"),
                        ("db_password", "password")):
        value = options.get(option)
        if value and value.lower() != "false":
            params[key] = value
    return psycopg2.connect(**params)


def copy_database(options, template, name):
    """Create database ``name`` as a copy of ``template`` with its file store; drop ``name`` first.

    PostgreSQL copies a database only while nobody is connected to it, so this waits up to
    TEMPLATE_BUSY_TIMEOUT seconds for the template's connections to end.
    """
    conn = connect_database(options, "postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
            if not cr.fetchone():
                raise RuntimeError("template database %s does not exist. Run `make test` once to create it."
                                   % template)
            cr.execute('DROP DATABASE IF EXISTS "%s"' % name)
            deadline = time.monotonic() + TEMPLATE_BUSY_TIMEOUT
            while True:
                try:
                    cr.execute('CREATE DATABASE "%s" TEMPLATE "%s"' % (name, template))
                    break
                except psycopg2.errors.ObjectInUse:
                    if time.monotonic() > deadline:
                        cr.execute("SELECT pid, application_name FROM pg_stat_activity WHERE datname = %s",
                                   (template,))
                        raise RuntimeError(
                            "cannot copy %s: it still has connections after %s s (pid, application): %s. "
                            "Stop the Odoo processes or tests that use it and run again."
                            % (template, TEMPLATE_BUSY_TIMEOUT, cr.fetchall()))
                    time.sleep(0.5)
    finally:
        conn.close()

    filestore = os.path.join(options.get("data_dir") or os.path.join(ROOT, "var", "data"), "filestore")
    target = os.path.join(filestore, name)
    shutil.rmtree(target, ignore_errors=True)
    if os.path.isdir(os.path.join(filestore, template)):
        shutil.copytree(os.path.join(filestore, template), target)


def free_port():
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def odoo_python():
    """Return the interpreter of the project's virtualenv, which has Odoo 11 and its addons."""
    venv_python = os.path.join(ROOT, ".venv", "bin", "python")
    return venv_python if os.path.exists(venv_python) else sys.executable


def log_tail(path, lines=30):
    """Return the last lines of a log file, or a note that it is missing."""
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return "(no log at %s)" % path


def wait_until(function, timeout=20.0, interval=0.2, message="condition"):
    """Call ``function`` until it returns a true value and return that value.

    :raise AssertionError: naming ``message`` and the last value when ``timeout`` seconds pass
    """
    deadline = time.monotonic() + timeout
    while True:
        value = function()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %s s waiting for %s; last value: %r" % (timeout, message, value))
        time.sleep(interval)


class OdooServer(object):
    """An Odoo 11 server in a subprocess, serving one database on a free port with one process.

    ``--workers 0`` serves with threads, so the addon's callback worker thread runs in the
    same process as the routes. ``--max-cron-threads 0`` keeps the crons still: tests run
    them when they choose.
    """

    def __init__(self, config_path, db, log_path, port=None):
        self.config_path = config_path
        self.db = db
        self.log_path = log_path
        self.console_path = os.path.splitext(log_path)[0] + "-console.log"
        self.port = port or free_port()
        self.process = None

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=START_TIMEOUT):
        """Start the server and return self once /web/login returns HTTP 200."""
        for path in (self.log_path, self.console_path):
            if os.path.exists(path):
                os.remove(path)
        command = [
            odoo_python(), os.path.join(ROOT, "tools", "odoo-bin"),
            "-c", self.config_path, "-d", self.db,
            "--http-port", str(self.port), "--db-filter", "^%s$" % self.db,
            "--workers", "0", "--max-cron-threads", "0", "--logfile", self.log_path,
        ]
        # The project's lessc first, as tools/common.sh does for make run.
        environment = dict(os.environ)
        environment["PATH"] = os.pathsep.join([os.path.join(ROOT, ".venv", "less", "node_modules", ".bin"),
                                               environment.get("PATH", "")])
        with open(self.console_path, "w") as console:
            self.process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, env=environment,
                                            stdout=console, stderr=subprocess.STDOUT)
        _logger.info("Started Odoo (pid %s) on %s for database %s", self.process.pid, self.base_url, self.db)
        try:
            self._wait_ready(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("Odoo exited with status %s before serving %s.\nLog %s:\n%s\nConsole:\n%s" % (
                    self.process.returncode, self.base_url, self.log_path, log_tail(self.log_path),
                    log_tail(self.console_path)))
            try:
                response = requests.get(self.base_url + "/web/login", timeout=5)
                if response.status_code == 200:
                    return
                last_error = "HTTP %s" % response.status_code
            except requests.RequestException as error:
                last_error = str(error)
            time.sleep(0.3)
        raise RuntimeError("Odoo did not serve %s/web/login with HTTP 200 within %s s (last: %s).\nLog %s:\n%s" % (
            self.base_url, timeout, last_error, self.log_path, log_tail(self.log_path)))

    def stop(self):
        """Stop the server: SIGTERM, then SIGKILL after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            _logger.warning("Odoo (pid %s) ignored SIGTERM for 15 s; killing it", self.process.pid)
            self.process.kill()
            self.process.wait(timeout=5)
        _logger.info("Stopped Odoo (pid %s)", self.process.pid)


class SystemStack(object):
    """A copy of the test database served by a real Odoo, with the offline sandbox it pays through.

    Attributes once started: ``sandbox`` (a `SandboxServer`), ``odoo`` (an `OdooServer`),
    ``rpc`` (an `OdooRpc` logged in as admin), ``acquirer_id`` and ``db``.

    :param config_path: Odoo configuration file; defaults to $MPESA_PAYBILL_TEST_CONFIG, else var/test.conf
    :param log_dir: directory of the Odoo log; defaults to $MPESA_PAYBILL_TEST_LOGS, else var/log
    """

    def __init__(self, config_path=None, db=SYSTEM_DB, template=TEMPLATE_DB, log_dir=None):
        self.config_path = os.path.abspath(
            config_path or os.environ.get("MPESA_PAYBILL_TEST_CONFIG") or os.path.join(ROOT, "var", "test.conf"))
        self.log_dir = log_dir or os.environ.get("MPESA_PAYBILL_TEST_LOGS") or os.path.join(ROOT, "var", "log")
        self.db = db
        self.template = template
        self.options = None
        self.sandbox = None
        self.odoo = None
        self.rpc = None
        self.acquirer_id = None

    def start(self):
        """Copy the database, start the sandbox and Odoo, log in and configure the acquirer; return self."""
        # Imported here so that importing this module costs nothing to tests that never start a stack.
        from daraja_sandbox import SandboxServer

        self.options = read_odoo_config(self.config_path)
        os.makedirs(self.log_dir, exist_ok=True)
        copy_database(self.options, self.template, self.db)
        try:
            self.sandbox = SandboxServer(port=0).start()
            log_name = "system-odoo.log" if self.db == SYSTEM_DB else "system-odoo-%s.log" % self.db
            self.odoo = OdooServer(self.config_path, self.db, os.path.join(self.log_dir, log_name)).start()
            self.rpc = self.login(ADMIN_LOGIN, ADMIN_PASSWORD)
            self.acquirer_id = self.configure_acquirer()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop Odoo and the sandbox. The database stays for inspection until the next start."""
        if self.odoo is not None:
            self.odoo.stop()
        if self.sandbox is not None:
            self.sandbox.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def login(self, login, password):
        """Return a new `OdooRpc` session logged in as ``login``."""
        rpc = OdooRpc(self.odoo.base_url)
        rpc.authenticate(self.db, login, password)
        return rpc

    def configure_acquirer(self):
        """Point the M-Pesa acquirer at the sandbox, with the sandbox's credentials; return its id."""
        acquirer_id = self.rpc.ref(ACQUIRER_XMLID)
        values = dict(SANDBOX_CREDENTIALS,
                      mpesa_environment="offline",
                      mpesa_offline_url=self.sandbox.base_url,
                      mpesa_public_url=self.odoo.base_url)
        self.rpc.write("payment.acquirer", [acquirer_id], values)
        return acquirer_id

    def sandbox_call(self, method, path, payload=None):
        """Call the sandbox's control API and return its JSON reply.

        :raise AssertionError: on an HTTP status of 300 or more, with the sandbox's message
        """
        response = requests.request(method, self.sandbox.base_url + path, json=payload, timeout=10)
        if response.status_code >= 300:
            raise AssertionError("sandbox %s %s returned HTTP %s: %s" % (
                method, path, response.status_code, response.text[:500]))
        return response.json()

    def reset_sandbox(self, **quirks):
        """Clear the sandbox's prompts, ledger and callback log, then set ``quirks``."""
        self.sandbox_call("POST", "/sandbox/reset", {})
        if quirks:
            self.sandbox_call("POST", "/sandbox/quirks", quirks)

    def connect_database(self):
        """Open a psycopg2 connection to the served database, e.g. to hold a row lock."""
        return connect_database(self.options, self.db)


@pytest.fixture(scope="session")
def system_stack():
    """Yield a started `SystemStack` for the whole session; stop Odoo and the sandbox at its end."""
    stack = SystemStack().start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def system(system_stack):
    """Return the session's `SystemStack` with the sandbox reset to its defaults."""
    system_stack.reset_sandbox()
    return system_stack
