"""Define the sandbox's default configuration and merge a caller's overrides into it."""
import copy
import json

from . import quirks
from .errors import ControlError

# Daraja's public test passkey for shortcode 174379 (Daraja's M-Pesa Express page).
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"

SHORTCODE_TYPES = ("paybill", "till")

DEFAULT_CONFIG = {
    "apps": [{"consumer_key": "sandbox-consumer-key", "consumer_secret": "sandbox-consumer-secret"}],
    "shortcodes": {
        "174379": {"type": "paybill", "passkey": SANDBOX_PASSKEY, "name": "Sandbox Shop"},
        "600000": {"type": "paybill", "passkey": SANDBOX_PASSKEY, "name": "Sandbox PayBill"},
        "5123456": {"type": "till", "passkey": SANDBOX_PASSKEY, "name": "Sandbox Till", "store_number": "5123400"},
    },
    "initiators": {"testapi": "Safaricom999!*!"},
    # Seconds.
    "token_expires_in": 3599,
    "callback_delay": 0.2,
    "callback_timeout": 10,
    "validation_timeout": 8,
    "prompt_timeout": 60,
    # Send 1019 (expired) for prompts left pending longer than prompt_timeout; off keeps tests deterministic.
    "expire_pending": False,
    # Kenyan shillings, per Daraja's M-Pesa Express FAQ.
    "max_amount": 250000,
    "daily_limit": 500000,
    "account_reference_max": 12,
    "transaction_desc_max": 13,
    "pull_page_size": 100,
    "pull_window_hours": 48,
    # Callbacks go only to loopback hosts unless this is on (e.g. staff training with Odoo on another machine).
    "allow_remote_callbacks": False,
    # Per-number phone behaviours: {"2547...": {"behaviour": "pay", "delay": 0, "balance": null, "first_name": ...}}.
    "phones": {},
    "quirks": {},
}

SHORTCODE_DEFAULTS = {
    "type": "paybill",
    "passkey": SANDBOX_PASSKEY,
    "name": "",
    "store_number": None,
    # Daraja calls the validation URL only after Safaricom switches external validation on.
    "validation_enabled": False,
    "register_version": "v1",
    "msisdn_format": None,
    "balances": {},
}


def check_shortcode(code, values, existing=None):
    """Return a complete shortcode entry built from `values` over `existing` (or the defaults).

    :raise ControlError: when a value is invalid, naming it
    """
    if not isinstance(code, str) or not code.isdigit() or not 5 <= len(code) <= 7:
        raise ControlError("shortcode must be 5 to 7 digits, got %r" % (code,))
    if not isinstance(values, dict):
        raise ControlError("shortcode settings must be a JSON object, got %r" % (values,))
    entry = copy.deepcopy(existing or SHORTCODE_DEFAULTS)
    for key, value in values.items():
        if key not in SHORTCODE_DEFAULTS:
            raise ControlError("unknown shortcode setting %r; known: %s" % (key, ", ".join(sorted(SHORTCODE_DEFAULTS))))
        entry[key] = value
    if entry["type"] not in SHORTCODE_TYPES:
        raise ControlError("shortcode %s: type must be paybill or till, got %r" % (code, entry["type"]))
    if entry["type"] == "till":
        store = entry.get("store_number") or code
        if not str(store).isdigit():
            raise ControlError("till %s: store_number must be digits, got %r" % (code, store))
        entry["store_number"] = str(store)
    if not isinstance(entry["passkey"], str) or not entry["passkey"]:
        raise ControlError("shortcode %s: passkey must be a non-empty string" % code)
    if entry["register_version"] not in ("v1", "v2"):
        raise ControlError("shortcode %s: register_version must be v1 or v2, got %r" % (code, entry["register_version"]))
    if entry["msisdn_format"] is not None:
        quirks.check_msisdn_format(entry["msisdn_format"])
    if not isinstance(entry["validation_enabled"], bool):
        raise ControlError("shortcode %s: validation_enabled must be true or false" % code)
    return entry


def build_config(overrides=None):
    """Return the full configuration: the defaults with `overrides` merged in.

    Shortcodes and phones merge per key; `apps` entries are added to the default app; every
    other key replaces the default.
    """
    config = copy.deepcopy(DEFAULT_CONFIG)
    overrides = copy.deepcopy(overrides or {})
    unknown = set(overrides) - set(DEFAULT_CONFIG)
    if unknown:
        raise ControlError("unknown configuration key(s) %s; known: %s" % (
            ", ".join(sorted(unknown)), ", ".join(sorted(DEFAULT_CONFIG))))

    for key, value in overrides.items():
        if key == "shortcodes":
            config["shortcodes"].update(value)
        elif key == "phones":
            config["phones"].update(value)
        elif key == "apps":
            config["apps"].extend(value)
        elif key == "quirks":
            for name, quirk in value.items():
                config["quirks"][name] = quirks.check_quirk(name, quirk)
        else:
            config[key] = value

    config["shortcodes"] = dict(
        (code, check_shortcode(code, values)) for code, values in config["shortcodes"].items())
    return config


def load_config_file(path):
    """Read a JSON configuration file, raising ControlError with the path when it is unreadable."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise ControlError("cannot read configuration file %s: %s" % (path, error))
