"""Test that the sandbox keeps its state in a data file across restarts."""
import json
import os

import pytest

from daraja_sandbox import SandboxServer
from daraja_sandbox.errors import ControlError
from helpers import DarajaCaller


@pytest.fixture
def data_file(tmp_path):
    return str(tmp_path / "sandbox.json")


def test_restart_keeps_ledger(data_file, callback_receiver):
    """Test that payments, balances, registrations, tokens and the key pair survive a restart."""
    with SandboxServer(data_file=data_file) as first:
        caller = DarajaCaller(first.base_url)
        token = caller.token()
        caller.register("600000", callback_receiver.url)
        receipt = caller.pay(amount=150)["TransID"]
        certificate = caller.control("GET", "/sandbox/certificate").text

    with SandboxServer(data_file=data_file) as second:
        caller = DarajaCaller(second.base_url)
        ledger = caller.control("GET", "/sandbox/ledger").json()
        assert [record["TransID"] for record in ledger["transactions"]] == [receipt]
        assert ledger["balances"]["600000"]["Utility Account"] == "150.00"
        assert caller.control("GET", "/sandbox/registrations").json()["c2b"]["600000"]["version"] == "v1"
        assert caller.control("GET", "/sandbox/certificate").text == certificate
        assert caller.stk_push(CallBackURL=callback_receiver.url + "/stk").status_code == 200
        assert caller.post("/mpesa/stkpush/v1/processrequest", caller.stk_body(phone="254700000001"),
                           token=token).status_code == 200


def test_restart_keeps_prompt(data_file, callback_receiver):
    """Test that a prompt left pending can be answered after a restart and then queries as paid."""
    with SandboxServer(data_file=data_file) as first:
        checkout_id = DarajaCaller(first.base_url).stk_push(
            CallBackURL=callback_receiver.url + "/stk").json()["CheckoutRequestID"]

    with SandboxServer(data_file=data_file) as second:
        caller = DarajaCaller(second.base_url)
        caller.answer(checkout_id, "pay")
        assert callback_receiver.wait_for(1, path="/stk")[0].json["Body"]["stkCallback"]["ResultCode"] == 0
        assert caller.stk_query(checkout_id).json()["ResultCode"] == "0"


def test_restart_keeps_quirks(data_file):
    """Test that quirks and phone behaviours set at run time survive a restart."""
    with SandboxServer(data_file=data_file) as first:
        caller = DarajaCaller(first.base_url)
        caller.control("POST", "/sandbox/quirks", {"legacy_balance_item": True})
        caller.control("POST", "/sandbox/phones/254711000111", {"behaviour": "pay"})

    with SandboxServer(data_file=data_file) as second:
        caller = DarajaCaller(second.base_url)
        assert caller.control("GET", "/sandbox/quirks").json()["legacy_balance_item"] is True
        assert caller.control("GET", "/sandbox/phones").json()["phones"]["254711000111"]["behaviour"] == "pay"


def test_file_is_json_without_leftovers(data_file):
    """Test that the data file is valid JSON and no temporary file is left beside it."""
    with SandboxServer(data_file=data_file) as server:
        DarajaCaller(server.base_url).pay(amount=10)
    with open(data_file) as handle:
        data = json.load(handle)
    assert data["version"] == 1
    assert os.listdir(os.path.dirname(data_file)) == ["sandbox.json"]


def test_corrupt_file_reported(data_file):
    """Test that a corrupt data file stops the start with a message naming the file."""
    with open(data_file, "w") as handle:
        handle.write("{broken")
    with pytest.raises(ControlError) as raised:
        SandboxServer(data_file=data_file)
    assert data_file in raised.value.message


def test_config_overrides():
    """Test that a config dict adds shortcodes and changes settings."""
    config = {"shortcodes": {"777777": {"type": "paybill", "passkey": "secret-passkey"}},
              "callback_delay": 0.05}
    with SandboxServer(config=config) as server:
        caller = DarajaCaller(server.base_url)
        reply = caller.stk_push(shortcode="777777", passkey="secret-passkey")
        assert reply.status_code == 200, reply.text
        assert server.state.settings["callback_delay"] == 0.05


def test_config_unknown_key():
    """Test that an unknown configuration key is rejected with its name."""
    with pytest.raises(ControlError) as raised:
        SandboxServer(config={"callback_dealy": 1})
    assert "callback_dealy" in raised.value.message
