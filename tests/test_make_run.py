"""Start the demo the way `make run` does, check what it serves, and stop it."""
import os
import signal
import subprocess
import tempfile
import time

import psycopg2
import pytest
import requests

from odoo_rpc import OdooRpc
from odoo_server import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_DB = "mpesa_paybill_runcheck"


def wait_for(url, process, timeout):
    """Wait until ``url`` returns 200, or fail with the script's output."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=30)[0]
    pytest.fail("%s did not answer 200 within %s s; tools/run.sh printed:\n%s" % (url, timeout, output[-3000:]))


def stop(process):
    """Stop the script if it still runs; kill its whole session if it does not end within a minute."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def drop_database():
    connection = psycopg2.connect(dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cr:
        cr.execute('DROP DATABASE IF EXISTS "%s"' % RUN_DB)
    connection.close()


def demo_environment(odoo_url, sandbox_url):
    """Return the environment that points tools/run.sh at the test's database and ports."""
    state_file = os.path.join(tempfile.mkdtemp(prefix="mpesa-runcheck-"), "sandbox-state.json")
    return dict(os.environ, MPESA_PAYBILL_DEMO_DB=RUN_DB, MPESA_PAYBILL_ODOO_PORT=odoo_url.rsplit(":", 1)[1],
                MPESA_PAYBILL_SANDBOX_PORT=sandbox_url.rsplit(":", 1)[1], MPESA_PAYBILL_SANDBOX_STATE=state_file)


@pytest.fixture(scope="module")
def demo():
    """Run tools/run.sh on a database and ports of its own; yield (process, Odoo URL, sandbox URL)."""
    drop_database()
    odoo_url = "http://127.0.0.1:%s" % free_port()
    sandbox_url = "http://127.0.0.1:%s" % free_port()
    process = subprocess.Popen(["bash", os.path.join(ROOT, "tools", "run.sh")], cwd=ROOT,
                               env=demo_environment(odoo_url, sandbox_url), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True, start_new_session=True)
    try:
        wait_for(odoo_url + "/web/login", process, timeout=300)
        yield process, odoo_url, sandbox_url
    finally:
        stop(process)
        drop_database()


def test_run_serves_login(demo):
    """Test that the demo serves Odoo's login page with styles compiled."""
    _process, odoo_url, _sandbox_url = demo
    page = requests.get(odoo_url + "/web/login", timeout=10)
    assert page.status_code == 200
    assert "login" in page.text


def test_run_serves_phone_page(demo):
    """Test that the sandbox's phone page is up beside Odoo."""
    _process, _odoo_url, sandbox_url = demo
    page = requests.get(sandbox_url + "/sandbox/phone", timeout=10)
    assert page.status_code == 200


def test_run_configures_acquirer(demo):
    """Test that the demo's M-Pesa acquirer points at this sandbox and this Odoo, with C2B registered."""
    _process, odoo_url, sandbox_url = demo
    rpc = OdooRpc(odoo_url)
    rpc.authenticate(RUN_DB, "admin", "admin")
    acquirer_id = rpc.ref("mpesa_paybill.payment_acquirer_mpesa")
    acquirer = rpc.read_one("payment.acquirer", acquirer_id, [
        "mpesa_environment", "mpesa_offline_url", "mpesa_public_url", "mpesa_c2b_registration", "journal_id"])
    assert acquirer["mpesa_environment"] == "offline"
    assert acquirer["mpesa_offline_url"] == sandbox_url
    assert acquirer["mpesa_public_url"] == odoo_url
    assert "Daraja answered 0" in acquirer["mpesa_c2b_registration"]
    assert acquirer["journal_id"]


def test_run_has_kenyan_demo_data(demo):
    """Test that the demo database keeps KES books and has the Kenyan demo customers."""
    _process, odoo_url, _sandbox_url = demo
    rpc = OdooRpc(odoo_url)
    rpc.authenticate(RUN_DB, "admin", "admin")
    company = rpc.search_read("res.company", [], ["currency_id"])[0]
    assert company["currency_id"][1] == "KES"
    customers = rpc.search_read("res.partner", [("name", "in", ["Wanjiku Kamau", "Achieng Odhiambo"])], ["mobile"])
    assert len(customers) == 2


def test_run_stops_everything(demo):
    """Test that stopping the script stops Odoo and the sandbox it started."""
    process, odoo_url, sandbox_url = demo
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert "stopped Odoo and the Daraja sandbox" in output
    for url in (odoo_url + "/web/login", sandbox_url + "/sandbox/"):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)


def test_run_stops_while_starting(demo):
    """Test that a stop sent before Odoo is up ends the script at once, not after its readiness checks."""
    _process, odoo_url, sandbox_url = demo
    process = subprocess.Popen(["bash", os.path.join(ROOT, "tools", "run.sh")], cwd=ROOT, env=demo_environment(
        odoo_url, sandbox_url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        start_new_session=True)
    try:
        wait_for(sandbox_url + "/sandbox/", process, timeout=300)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    finally:
        stop(process)
    assert "stopped Odoo and the Daraja sandbox" in output
    assert "Ctrl-C stops" not in output, "the script went on after it was stopped:\n" + output[-3000:]
    for url in (odoo_url + "/web/login", sandbox_url + "/sandbox/"):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)
