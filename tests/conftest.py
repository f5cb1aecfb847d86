"""Set up sys.path and the shared fixtures for the plain (non-Odoo) tests."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _path in (ROOT, os.path.join(ROOT, "mpesa_paybill"), os.path.join(ROOT, "tests"), os.path.join(ROOT, "tools")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from daraja_sandbox import SandboxServer  # noqa: E402
from helpers import CallbackReceiver, DarajaCaller  # noqa: E402


@pytest.fixture
def sandbox():
    """Yield a started offline Daraja sandbox on a free port, stopped after the test."""
    server = SandboxServer(port=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def callback_receiver():
    """Yield a started HTTP server on 127.0.0.1 that records every POST it gets."""
    receiver = CallbackReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def daraja(sandbox):
    """Return a plain-HTTP caller bound to the `sandbox` fixture."""
    return DarajaCaller(sandbox.base_url)
