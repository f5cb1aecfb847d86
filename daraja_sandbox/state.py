"""Hold the sandbox's ledger, prompts, registrations and settings, and persist them to a JSON file."""
import copy
import json
import logging
import os
import tempfile
import threading
import time
from decimal import Decimal, InvalidOperation

from . import config as config_module
from . import quirks as quirks_module
from .credentials import KeyPair
from .errors import ControlError
from .codes import PHONE_BEHAVIOURS
from .formats import is_msisdn, money

_logger = logging.getLogger(__name__)

ACCOUNTS = ("Working Account", "Float Account", "Utility Account", "Charges Paid Account",
            "Organization Settlement Account")
# Customer payments into a PayBill or till land in the Utility Account.
PAYMENT_ACCOUNT = "Utility Account"
STATE_VERSION = 1

SETTING_KEYS = ("token_expires_in", "callback_delay", "callback_timeout", "validation_timeout", "prompt_timeout",
                "expire_pending", "max_amount", "daily_limit", "account_reference_max", "transaction_desc_max",
                "pull_page_size", "pull_window_hours", "allow_remote_callbacks")


class SandboxState(object):
    """The sandbox's whole state. Guard every read-modify-write with `lock`.

    :param overrides: configuration merged over the defaults (see `config.build_config`)
    :param data_file: JSON file to load at start and rewrite (atomically) after each change
    """

    def __init__(self, overrides=None, data_file=None):
        self.lock = threading.RLock()
        self.data_file = data_file
        self.base_config = config_module.build_config(overrides)
        # Bumped by reset() so that timers scheduled before it do nothing.
        self.generation = 0
        self.key_pair = None
        self._apply_config()
        if data_file and os.path.exists(data_file):
            self._load(data_file)
        if self.key_pair is None:
            self.key_pair = KeyPair.generate() if data_file else KeyPair.for_process()
        self.save()

    # -- configuration -------------------------------------------------------------------------

    def _apply_config(self):
        cfg = copy.deepcopy(self.base_config)
        self.apps = dict((app["consumer_key"], app["consumer_secret"]) for app in cfg["apps"])
        self.shortcodes = cfg["shortcodes"]
        self.initiators = cfg["initiators"]
        self.settings = dict((key, cfg[key]) for key in SETTING_KEYS)
        self.phones = dict((msisdn, self._check_phone(msisdn, values)) for msisdn, values in cfg["phones"].items())
        self.quirks = copy.deepcopy(quirks_module.DEFAULT_QUIRKS)
        self.quirks.update(cfg["quirks"])
        self.tokens = {}
        self.prompts = {}
        self.transactions = []
        self.balances = {}
        for code, entry in self.shortcodes.items():
            self._init_balances(code, entry)
        self.registrations = {}
        self.pull_registrations = {}
        self.callbacks = []
        self.conversations = {}

    def _init_balances(self, code, entry):
        balances = dict((account, "0.00") for account in ACCOUNTS)
        for account, amount in (entry.get("balances") or {}).items():
            balances[account] = money(amount)
        self.balances[code] = balances

    def reset(self):
        """Clear prompts, ledger, registrations and run-time changes back to the configuration.

        Access tokens survive, so that a client holding one goes on working.
        """
        with self.lock:
            self.generation += 1
            tokens = self.tokens
            self._apply_config()
            self.tokens = tokens
            self.save()

    @staticmethod
    def _check_phone(msisdn, values):
        if not is_msisdn(msisdn):
            raise ControlError("phone number must be 12 digits starting 2547 or 2541, got %r" % (msisdn,))
        if not isinstance(values, dict):
            raise ControlError("phone settings must be a JSON object, got %r" % (values,))
        entry = {"behaviour": "manual", "delay": 0, "balance": None,
                 "first_name": "JOHN", "middle_name": "", "last_name": "DOE"}
        entry.update(values)
        if entry["behaviour"] not in PHONE_BEHAVIOURS:
            raise ControlError("behaviour must be one of %s, got %r" % (", ".join(PHONE_BEHAVIOURS), entry["behaviour"]))
        delay = entry["delay"]
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise ControlError("delay must be a number of seconds, 0 or more, got %r" % (delay,))
        if entry["balance"] is not None:
            try:
                entry["balance"] = money(entry["balance"])
            except (InvalidOperation, TypeError, ValueError):
                raise ControlError("balance must be an amount in shillings or null, got %r" % (entry["balance"],))
        return entry

    def set_phone(self, msisdn, values):
        """Set the default behaviour of one simulated phone and return its settings."""
        with self.lock:
            merged = dict(self.phones.get(msisdn, {}))
            merged.update(values)
            self.phones[msisdn] = self._check_phone(msisdn, merged)
            self.save()
            return dict(self.phones[msisdn])

    def phone(self, msisdn):
        """Return the settings of a phone; unknown numbers leave prompts pending ("manual")."""
        with self.lock:
            return dict(self.phones.get(msisdn) or self._check_phone(msisdn, {}))

    def set_shortcode(self, code, values):
        """Add or change a shortcode and return its entry."""
        with self.lock:
            entry = config_module.check_shortcode(code, values, self.shortcodes.get(code))
            self.shortcodes[code] = entry
            if code not in self.balances:
                self._init_balances(code, entry)
            elif "balances" in values:
                self._init_balances(code, entry)
            self.save()
            return dict(entry)

    def add_app(self, consumer_key, consumer_secret):
        """Register another app's consumer key and secret."""
        if not isinstance(consumer_key, str) or not consumer_key or not isinstance(consumer_secret, str) \
                or not consumer_secret:
            raise ControlError("consumer_key and consumer_secret must be non-empty strings")
        with self.lock:
            self.apps[consumer_key] = consumer_secret
            self.save()

    def set_quirks(self, values):
        """Change quirk switches and return the full quirk dict.

        `msisdn_format` also accepts `{"<shortcode>": "<format>"}` to set it per shortcode.
        """
        if not isinstance(values, dict):
            raise ControlError("quirks must be a JSON object of switch names and values")
        with self.lock:
            checked = {}
            per_shortcode = {}
            for name, value in values.items():
                if name == "msisdn_format" and isinstance(value, dict):
                    for code, fmt in value.items():
                        if code not in self.shortcodes:
                            raise ControlError("msisdn_format: unknown shortcode %r" % (code,))
                        per_shortcode[code] = quirks_module.check_msisdn_format(fmt)
                else:
                    checked[name] = quirks_module.check_quirk(name, value)
            self.quirks.update(checked)
            for code, fmt in per_shortcode.items():
                self.shortcodes[code]["msisdn_format"] = fmt
            self.save()
            return self.quirks_view()

    def quirks_view(self):
        """Return the quirk dict, with per-shortcode MSISDN formats under `msisdn_format_by_shortcode`."""
        with self.lock:
            view = copy.deepcopy(self.quirks)
            view["msisdn_format_by_shortcode"] = dict(
                (code, entry["msisdn_format"]) for code, entry in self.shortcodes.items() if entry["msisdn_format"])
            return view

    def take_counted_quirk(self, name, path):
        """Consume one use of a counted quirk (fail_next, throttle) matching `path` and return it, or None."""
        with self.lock:
            value = self.quirks.get(name)
            if not value or value.get("count", 0) <= 0:
                return None
            if value.get("path") and value["path"] not in path:
                return None
            value["count"] -= 1
            self.save()
            return dict(value)

    # -- merchants -------------------------------------------------------------------------------

    def merchant_for_stk(self, business_shortcode):
        """Return (shortcode entry code, entry) for an STK BusinessShortCode: a PayBill, or a till's store number."""
        with self.lock:
            entry = self.shortcodes.get(business_shortcode)
            if entry is not None and entry["type"] == "paybill":
                return business_shortcode, entry
            for code, till in self.shortcodes.items():
                if till["type"] == "till" and till["store_number"] == business_shortcode:
                    return code, till
            if entry is not None:
                return business_shortcode, entry
            return None, None

    def is_store_number(self, code):
        """Return True when `code` is the store (HO) number of some till."""
        with self.lock:
            return any(entry["type"] == "till" and entry["store_number"] == code
                       for entry in self.shortcodes.values())

    def registration_for(self, code):
        """Return the C2B URL registration that applies to `code` (a till falls back to its store number)."""
        with self.lock:
            registration = self.registrations.get(code)
            entry = self.shortcodes.get(code)
            if registration is None and entry is not None and entry["type"] == "till":
                registration = self.registrations.get(entry["store_number"])
            return registration

    # -- ledger ----------------------------------------------------------------------------------

    def receipts(self):
        """Return the set of receipts and TransIDs issued so far."""
        with self.lock:
            return set(t["TransID"] for t in self.transactions)

    def add_transaction(self, record):
        """Append a ledger record and move the balances for completed payments."""
        with self.lock:
            self.transactions.append(record)
            if record["status"] == "completed" and record["kind"] in ("stk", "c2b"):
                self.move_balance(record["ShortCode"], Decimal(record["Amount"]))
            self.save()
            return record

    def move_balance(self, code, amount, account=PAYMENT_ACCOUNT):
        """Add `amount` (negative to debit) to one account of `code` and return the new balance string."""
        with self.lock:
            if code not in self.balances:
                self.balances[code] = dict((name, "0.00") for name in ACCOUNTS)
            new = Decimal(self.balances[code][account]) + Decimal(amount)
            self.balances[code][account] = money(new)
            return self.balances[code][account]

    def transaction(self, trans_id):
        """Return the ledger record with this TransID/receipt, or None."""
        with self.lock:
            for record in self.transactions:
                if record["TransID"] == trans_id:
                    return record
            return None

    def record_callback(self, record):
        """Append a callback delivery record and give it an id."""
        with self.lock:
            record["id"] = len(self.callbacks) + 1
            self.callbacks.append(record)
            return record

    def callback(self, callback_id):
        """Return the callback delivery record with this id, or None."""
        with self.lock:
            for record in self.callbacks:
                if record["id"] == callback_id:
                    return record
            return None

    # -- persistence -----------------------------------------------------------------------------

    def to_dict(self):
        """Return everything that survives a restart, as JSON-ready data."""
        with self.lock:
            return copy.deepcopy({
                "version": STATE_VERSION,
                "saved_at": time.time(),
                "apps": self.apps,
                "shortcodes": self.shortcodes,
                "initiators": self.initiators,
                "settings": self.settings,
                "phones": self.phones,
                "quirks": self.quirks,
                "tokens": self.tokens,
                "prompts": list(self.prompts.values()),
                "transactions": self.transactions,
                "balances": self.balances,
                "registrations": self.registrations,
                "pull_registrations": self.pull_registrations,
                "callbacks": self.callbacks,
                "conversations": self.conversations,
                "key_pair": {"private_key_pem": self.key_pair.private_key_pem,
                             "certificate_pem": self.key_pair.certificate_pem} if self.key_pair else None,
            })

    def _load(self, path):
        try:
            with open(path, "r", encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as error:
            raise ControlError("cannot read sandbox data file %s: %s; move it away to start afresh" % (path, error))
        if data.get("version") != STATE_VERSION:
            raise ControlError("sandbox data file %s has version %r, expected %d; move it away to start afresh"
                               % (path, data.get("version"), STATE_VERSION))

        self.apps = data["apps"]
        self.shortcodes = data["shortcodes"]
        self.initiators = data["initiators"]
        self.settings.update(data["settings"])
        self.phones = data["phones"]
        self.quirks.update(data["quirks"])
        self.tokens = data["tokens"]
        self.prompts = dict((p["CheckoutRequestID"], p) for p in data["prompts"])
        self.transactions = data["transactions"]
        self.balances = data["balances"]
        self.registrations = data["registrations"]
        self.pull_registrations = data["pull_registrations"]
        self.callbacks = data["callbacks"]
        self.conversations = data.get("conversations", {})

        for record in self.callbacks:
            # A delivery cut short by the restart will never finish.
            if record.get("state") == "scheduled":
                record["state"] = "abandoned"
                record["error"] = "sandbox stopped before delivery"
        if data.get("key_pair"):
            self.key_pair = KeyPair(data["key_pair"]["private_key_pem"], data["key_pair"]["certificate_pem"])
        _logger.info("Loaded sandbox state from %s: %d transaction(s), %d prompt(s)",
                     path, len(self.transactions), len(self.prompts))

    def save(self):
        """Write the state to the data file, if any, through a temporary file and an atomic rename."""
        if not self.data_file:
            return
        with self.lock:
            text = json.dumps(self.to_dict(), indent=1, sort_keys=True)
            directory = os.path.dirname(os.path.abspath(self.data_file))
            handle, temp_path = tempfile.mkstemp(prefix=".sandbox-", suffix=".tmp", dir=directory)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as temp:
                    temp.write(text)
                    temp.flush()
                    os.fsync(temp.fileno())
                os.replace(temp_path, self.data_file)
            except BaseException:
                if os.path.exists(temp_path):
                    os.unlink(temp_path)
                raise
