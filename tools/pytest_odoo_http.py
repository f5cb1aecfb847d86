"""pytest plugin: serve Odoo's HTTP inside the pytest-odoo process.

HttpCase.url_open talks to the port in Odoo's configuration, and
pytest-odoo starts no HTTP server of its own that survives, so this
session fixture starts one thread-based server before the first test.
"""
import odoo
import pytest


@pytest.fixture(scope="session", autouse=True)
def odoo_http_server():
    server = odoo.service.server.ThreadedServer(odoo.service.wsgi_server.application)
    server.http_spawn()
    yield server
