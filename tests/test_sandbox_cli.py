"""Test the command line: start the sandbox in a subprocess and drive it with the control subcommands."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from helpers import DarajaCaller

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "daraja_sandbox"] + list(args), cwd=ROOT, timeout=30,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)


@pytest.fixture
def cli_server(tmp_path):
    """Start `python -m daraja_sandbox` on a free port and yield (process, base URL, banner lines)."""
    port = free_port()
    stderr_path = str(tmp_path / "stderr.log")
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "daraja_sandbox", "--port", str(port), "--data-file", str(tmp_path / "data.json")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, universal_newlines=True)
    banner = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            banner.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C"):
                break
        assert banner and banner[-1].startswith("Press Ctrl-C"), "sandbox did not start: %r, stderr: %s" % (
            banner, open(stderr_path).read())
        process.stderr_path = stderr_path
        yield process, "http://127.0.0.1:%d" % port, banner
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()


def test_cli_banner(cli_server):
    """Test that the banner prints the base URL, the phone page URL and the default credentials."""
    process, base_url, banner = cli_server
    text = "\n".join(banner)
    assert "Daraja sandbox running at %s" % base_url in text
    assert base_url + "/sandbox/phone" in text
    assert "sandbox-consumer-key" in text
    assert "sandbox-consumer-secret" in text
    assert "testapi" in text


def test_cli_serves_and_stops(cli_server):
    """Test that the started sandbox issues tokens and stops cleanly on Ctrl-C (SIGINT)."""
    process, base_url, banner = cli_server
    reply = requests.get(base_url + "/oauth/v1/generate", params={"grant_type": "client_credentials"},
                         auth=("sandbox-consumer-key", "sandbox-consumer-secret"), timeout=10)
    process.send_signal(signal.SIGINT)
    rest = process.stdout.read()
    assert reply.status_code == 200
    assert process.wait(timeout=10) == 0
    assert "stopped" in rest


def test_cli_prompts_and_answer(cli_server, callback_receiver):
    """Test that the prompts and answer subcommands list a pending prompt and pay it."""
    process, base_url, banner = cli_server
    caller = DarajaCaller(base_url)
    checkout_id = caller.stk_push(CallBackURL=callback_receiver.url + "/stk").json()["CheckoutRequestID"]

    listed = run_cli("prompts", "--url", base_url)
    answered = run_cli("answer", checkout_id, "pay", "--url", base_url)
    callback = callback_receiver.wait_for(1)[0].json["Body"]["stkCallback"]

    assert listed.returncode == 0, listed.stderr
    assert checkout_id in listed.stdout
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["ResultCode"] == 0
    assert callback["ResultCode"] == 0


def test_cli_answer_aliases(cli_server, callback_receiver):
    """Test that the answer subcommand accepts wrong-pin, insufficient and ignore."""
    process, base_url, banner = cli_server
    caller = DarajaCaller(base_url)
    codes = []
    for n, action in enumerate(["wrong-pin", "insufficient", "ignore"]):
        checkout_id = caller.stk_push(phone="25470837410%d" % n,
                                      CallBackURL=callback_receiver.url + "/stk").json()["CheckoutRequestID"]
        answered = run_cli("answer", checkout_id, action, "--url", base_url)
        assert answered.returncode == 0, answered.stderr
        codes.append(json.loads(answered.stdout)["ResultCode"])
    assert codes == [2001, 1, 1037]


def test_cli_pay(cli_server, callback_receiver):
    """Test that the pay subcommand makes a C2B payment that reaches the confirmation URL."""
    process, base_url, banner = cli_server
    DarajaCaller(base_url).register("600000", callback_receiver.url)
    paid = run_cli("pay", "--shortcode", "600000", "--phone", "254712345678", "--amount", "100",
                   "--account", "INV-2024-0001", "--url", base_url)
    confirmation = callback_receiver.wait_for(1, path="/confirm")[0].json
    assert paid.returncode == 0, paid.stderr
    assert confirmation["BillRefNumber"] == "INV-2024-0001"
    assert confirmation["TransAmount"] == "100.00"


def test_cli_logs_masked(cli_server):
    """Test that the server's log masks the phone number of a payment."""
    process, base_url, banner = cli_server
    run_cli("pay", "--shortcode", "600000", "--phone", "254712345678", "--amount", "5", "--url", base_url)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=10)
    with open(process.stderr_path) as handle:
        log = handle.read()
    assert "2547****5678" in log
    assert "254712345678" not in log


def test_cli_unreachable():
    """Test that a control subcommand without a running sandbox exits with a readable error."""
    result = run_cli("prompts", "--url", "http://127.0.0.1:%d" % free_port())
    assert result.returncode != 0
    assert "cannot reach the sandbox" in result.stderr
