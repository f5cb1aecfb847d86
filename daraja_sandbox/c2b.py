"""Run C2B payments: URL registration, the validation request and the confirmation notification."""
import json
import logging
import threading

from . import formats
from .errors import ControlError, DarajaError, SERVER_ERROR, invalid, merchant
from .formats import eat_stamp, mask_msisdn, money, now_eat

_logger = logging.getLogger(__name__)

TRANSACTION_TYPES = {"paybill": "Pay Bill", "till": "Buy Goods"}
SIMULATE_ACCEPTED = "Accept the service request successfully."


class C2BService(object):
    """Register C2B URLs and carry simulated customer payments through validation and confirmation."""

    def __init__(self, state, dispatcher):
        self.state = state
        self.dispatcher = dispatcher

    # -- registration ----------------------------------------------------------------------------

    def register(self, fields, version):
        """Store the URLs of a validated Register URL request and return Daraja's response.

        :raise DarajaError: unknown shortcode, or already registered with the urls_already_registered quirk
        """
        code = fields["ShortCode"]
        with self.state.lock:
            if code not in self.state.shortcodes and not self.state.is_store_number(code):
                raise merchant("Merchant does not exist")
            if code in self.state.registrations and self.state.quirks.get("urls_already_registered"):
                raise DarajaError(SERVER_ERROR, "Urls are already registered")
            self.state.registrations[code] = {
                "ShortCode": code,
                "ResponseType": fields["ResponseType"],
                "ConfirmationURL": fields["ConfirmationURL"],
                "ValidationURL": fields.get("ValidationURL") or "",
                "version": version,
                "registered_at": now_eat().isoformat(),
            }
            response_code = self.state.quirks.get("register_response_code") or "0"
            self.state.save()
        _logger.info("Registered C2B URLs (%s) for shortcode %s", version, code)
        return {
            # Daraja really spells this key "Coversation", without the first "n".
            "OriginatorCoversationID": formats.originator_conversation_id(),
            "ResponseCode": response_code,
            "ResponseDescription": "success",
        }

    # -- payments --------------------------------------------------------------------------------

    def msisdn_for(self, code, msisdn):
        """Return the MSISDN as the C2B notifications of `code` carry it: plain, masked or SHA-256."""
        with self.state.lock:
            entry = self.state.shortcodes.get(code) or {}
            fmt = entry.get("msisdn_format") or self.state.quirks.get("msisdn_format") or "auto"
            if fmt == "auto":
                registration = self.state.registration_for(code)
                version = registration["version"] if registration else entry.get("register_version", "v1")
                fmt = "hashed" if version == "v1" else "masked"
        if fmt == "hashed":
            return formats.hashed_c2b_msisdn(msisdn)
        if fmt == "masked":
            return formats.masked_c2b_msisdn(msisdn)
        return msisdn

    def notification_body(self, record, confirmation, third_party_trans_id=""):
        """Build the validation or confirmation body for a ledger record.

        The two share one shape; validation has a blank OrgAccountBalance.
        """
        with self.state.lock:
            balance = self.state.balances.get(record["ShortCode"], {}).get("Utility Account", "0.00")
        return {
            "TransactionType": record["TransactionType"],
            "TransID": record["TransID"],
            "TransTime": record["TransTime"],
            "TransAmount": money(record["Amount"]),
            "BusinessShortCode": record["ShortCode"],
            "BillRefNumber": record["BillRefNumber"],
            "InvoiceNumber": "",
            "OrgAccountBalance": balance if confirmation else "",
            "ThirdPartyTransID": third_party_trans_id or record.get("ThirdPartyTransID") or "",
            "MSISDN": self.msisdn_for(record["ShortCode"], record["MSISDN"]),
            "FirstName": record.get("FirstName", ""),
            "MiddleName": record.get("MiddleName", ""),
            "LastName": record.get("LastName", ""),
        }

    def pay(self, shortcode, msisdn, amount, bill_ref="", transaction_type=None, names=None, wait=True):
        """Carry one customer payment from the SIM menu through validation and confirmation.

        :param amount: whole shillings (int)
        :param transaction_type: "Pay Bill" or "Buy Goods"; defaults to the shortcode's kind
        :param names: optional FirstName/MiddleName/LastName; defaults to the phone's settings
        :param wait: deliver the confirmation before returning (the control API) or in the background
        :return: `{"TransID", "accepted", "result_code", "validation": record|None, "confirmation": record|None}`
        :raise ControlError: unknown shortcode or a TransactionType that does not fit it
        """
        with self.state.lock:
            entry = self.state.shortcodes.get(shortcode)
            if entry is None:
                raise ControlError("unknown shortcode %r; add it with POST /sandbox/shortcodes/<shortcode>"
                                   % (shortcode,), http_status=404)
            expected_type = TRANSACTION_TYPES[entry["type"]]
            if transaction_type and transaction_type != expected_type:
                raise ControlError("shortcode %s is a %s, so TransactionType must be %r, got %r"
                                   % (shortcode, entry["type"], expected_type, transaction_type))
            phone = self.state.phone(msisdn)
            names = names or {}
            moment = now_eat()
            record = {
                "TransID": formats.receipt_number(self.state.receipts(), moment),
                "kind": "c2b",
                "status": "pending",
                "TransactionType": expected_type,
                "ShortCode": shortcode,
                "MSISDN": msisdn,
                "Amount": money(amount),
                # Till payments carry no account number.
                "BillRefNumber": (bill_ref or "") if entry["type"] == "paybill" else "",
                "TransTime": eat_stamp(moment),
                "ThirdPartyTransID": "",
                "FirstName": names.get("FirstName", phone["first_name"]),
                "MiddleName": names.get("MiddleName", phone["middle_name"]),
                "LastName": names.get("LastName", phone["last_name"]),
                "result_code": None,
            }
            registration = self.state.registration_for(shortcode)
            validate = bool(registration and registration.get("ValidationURL") and entry["validation_enabled"])
            validation_timeout = float(self.state.settings["validation_timeout"])

        # Step 1: ask the validation URL, and fall back to ResponseType when it does not respond properly.
        validation = None
        accepted, result_code, reason = True, "0", None
        if validate:
            body = self.notification_body(record, confirmation=False)
            validation = self.dispatcher.post_now("c2b_validation", registration["ValidationURL"], body,
                                                  timeout=validation_timeout, reference=record["TransID"])
            accepted, result_code, reason, third_party = self._read_validation(validation, registration)
            record["ThirdPartyTransID"] = third_party

        # Step 2: book the payment (or the rejection) in the ledger.
        record["status"] = "completed" if accepted else "rejected"
        record["result_code"] = result_code
        if reason:
            record["reason"] = reason
        self.state.add_transaction(record)
        _logger.info("C2B payment %s of KES %s to %s from %s: %s", record["TransID"], record["Amount"], shortcode,
                     mask_msisdn(msisdn), "completed" if accepted else "rejected (%s)" % result_code)

        # Step 3: confirm it.
        confirmation = None
        if accepted and registration and registration.get("ConfirmationURL"):
            body = self.notification_body(record, confirmation=True)
            records = self.dispatcher.send("c2b_confirmation", registration["ConfirmationURL"], body,
                                           reference=record["TransID"], wait=wait)
            confirmation = records[0]
        return {"TransID": record["TransID"], "accepted": accepted, "result_code": result_code,
                "validation": validation, "confirmation": confirmation}

    @staticmethod
    def _read_validation(record, registration):
        """Return (accepted, result_code, reason, ThirdPartyTransID) from a validation delivery record."""
        reply = None
        if record["state"] == "sent" and 200 <= (record["status"] or 0) < 300:
            try:
                reply = json.loads(record["response"] or "")
            except ValueError:
                reply = None
        if not isinstance(reply, dict) or "ResultCode" not in reply:
            problem = record["error"] or "HTTP %s with no usable JSON ResultCode" % record["status"]
            completed = registration["ResponseType"] == "Completed"
            reason = "validation failed (%s), ResponseType %s applied" % (problem, registration["ResponseType"])
            return completed, "0" if completed else "ResponseType Cancelled", reason, ""
        code = str(reply["ResultCode"])
        third_party = reply.get("ThirdPartyTransID") or ""
        if code == "0":
            return True, "0", None, str(third_party)
        return False, code, "rejected by the validation URL: %s" % reply.get("ResultDesc", ""), ""

    def simulate(self, shortcode, msisdn, amount, bill_ref, command_id):
        """Start a payment for the Daraja-shaped simulate endpoint and return its synchronous response."""
        transaction_type = "Buy Goods" if command_id == "CustomerBuyGoodsOnline" else "Pay Bill"
        with self.state.lock:
            entry = self.state.shortcodes.get(shortcode)
            if entry is None:
                raise merchant("Merchant does not exist")
            if TRANSACTION_TYPES[entry["type"]] != transaction_type:
                raise invalid("CommandID")

        def run():
            try:
                self.pay(shortcode, msisdn, amount, bill_ref, transaction_type, wait=True)
            except Exception:
                _logger.exception("Simulated C2B payment to %s failed", shortcode)

        thread = threading.Thread(target=run, name="c2b-simulate")
        thread.daemon = True
        thread.start()
        return {
            "OriginatorCoversationID": formats.originator_conversation_id(),
            "ResponseCode": "0",
            "ResponseDescription": SIMULATE_ACCEPTED,
        }
