"""Run STK Push prompts: open them, answer them as the customer's phone would, and send their callbacks."""
import logging
import time
from decimal import Decimal

from . import codes, formats
from .errors import ControlError, DarajaError, MERCHANT_ERROR, invalid, merchant
from .formats import RawNumber, eat_stamp, mask_checkout_id, mask_msisdn, money, now_eat

_logger = logging.getLogger(__name__)

ACCEPTED = "Success. Request accepted for processing"
QUERY_ACCEPTED = "The service request has been accepted successfully"
PROCESSING = "The transaction is being processed"
SUBSCRIBER_LOCKED = "Unable to lock subscriber, a transaction is already in process for the current subscriber"
PROMPT_KEYS = ("CheckoutRequestID", "MerchantRequestID", "PhoneNumber", "Amount", "AccountReference",
               "TransactionDesc", "BusinessShortCode", "CreatedAt")


def build_stk_callback(prompt, result_code, result_desc, quirks, receipt=None, paid_at=None):
    """Build the STK callback body Daraja posts to CallBackURL.

    Success carries CallbackMetadata items Amount (number), MpesaReceiptNumber, TransactionDate
    (number, EAT) and PhoneNumber (number); failures carry none.
    """
    if isinstance(result_code, int) and quirks.get("string_result_codes"):
        result_code = str(result_code)
    callback = {
        "MerchantRequestID": prompt["MerchantRequestID"],
        "CheckoutRequestID": prompt["CheckoutRequestID"],
        "ResultCode": result_code,
        "ResultDesc": result_desc,
    }
    if receipt:
        amount = money(prompt["Amount"])
        items = [
            {"Name": "Amount", "Value": amount if quirks.get("decimal_string_amounts") else RawNumber(amount)},
            {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "TransactionDate", "Value": int(eat_stamp(paid_at))},
            {"Name": "PhoneNumber", "Value": int(prompt["PhoneNumber"])},
        ]
        if quirks.get("legacy_balance_item"):
            items.insert(2, {"Name": "Balance"})
        callback["CallbackMetadata"] = {"Item": items}
    return {"Body": {"stkCallback": callback}}


class StkService(object):
    """Open, answer, expire and query STK prompts, keeping the ledger in step with the callbacks."""

    def __init__(self, state, dispatcher, c2b):
        self.state = state
        self.dispatcher = dispatcher
        self.c2b = c2b

    # -- push ------------------------------------------------------------------------------------

    def push(self, fields):
        """Open a prompt for a validated STK Push request and return Daraja's synchronous response.

        :param fields: the request body with Amount as int and phone numbers as 12-digit strings
        :raise DarajaError: for an unknown merchant, a wrong password or a phone that already has a prompt
        """
        shortcode = fields["BusinessShortCode"]
        with self.state.lock:
            code, entry = self.state.merchant_for_stk(shortcode)
            if entry is None:
                raise merchant("Merchant does not exist")
            if not formats.password_matches(shortcode, entry["passkey"], fields["Timestamp"], fields["Password"]):
                raise merchant("[MerchantValidate] - Wrong credentials")
            for prompt in self.state.prompts.values():
                if prompt["status"] == "pending" and prompt["PhoneNumber"] == fields["PhoneNumber"]:
                    raise merchant(SUBSCRIBER_LOCKED)

            moment = now_eat()
            prompt = {
                "CheckoutRequestID": formats.checkout_request_id(fields["PhoneNumber"], moment, self.state.prompts),
                "MerchantRequestID": formats.merchant_request_id(),
                "PhoneNumber": fields["PhoneNumber"],
                "PartyA": fields["PartyA"],
                "PartyB": fields["PartyB"],
                "Amount": fields["Amount"],
                "AccountReference": fields["AccountReference"],
                "TransactionDesc": fields.get("TransactionDesc"),
                "BusinessShortCode": shortcode,
                "ShortCode": code,
                "TransactionType": fields["TransactionType"],
                "CallBackURL": fields["CallBackURL"],
                "CreatedAt": moment.isoformat(),
                "created_epoch": time.time(),
                "status": "pending",
                "ResultCode": None,
                "ResultDesc": None,
                "MpesaReceiptNumber": None,
                "AnsweredAt": None,
            }
            mismatch = self._product_mismatch(fields, code, entry)
            if mismatch is not None:
                # Daraja accepts the push and reports the wrong product in the callback, without a prompt.
                prompt["ShortCode"] = shortcode
            self.state.prompts[prompt["CheckoutRequestID"]] = prompt
            self.state.save()
            phone = self.state.phone(fields["PhoneNumber"])
            generation = self.state.generation

        _logger.info("STK Push %s for KES %s to %s from %s", mask_checkout_id(prompt["CheckoutRequestID"]),
                     prompt["Amount"], shortcode, mask_msisdn(prompt["PhoneNumber"]))
        if mismatch is not None:
            self._finish(prompt["CheckoutRequestID"], mismatch[0], mismatch[1])
        elif phone["behaviour"] != "manual":
            self.dispatcher.schedule(float(phone["delay"]), self._auto_answer,
                                     prompt["CheckoutRequestID"], phone["behaviour"], generation)
        return {
            "MerchantRequestID": prompt["MerchantRequestID"],
            "CheckoutRequestID": prompt["CheckoutRequestID"],
            "ResponseCode": "0",
            "ResponseDescription": ACCEPTED,
            "CustomerMessage": ACCEPTED,
        }

    def _product_mismatch(self, fields, code, entry):
        """Return (ResultCode, ResultDesc) when TransactionType, BusinessShortCode and PartyB do not fit together."""
        business = fields["BusinessShortCode"]
        party_b = fields["PartyB"]
        if fields["TransactionType"] == "CustomerPayBillOnline":
            if entry["type"] != "paybill" or party_b != business:
                return "SFC_IC0003", codes.STK_RESULTS["SFC_IC0003"]
            return None
        # CustomerBuyGoodsOnline: BusinessShortCode is the store number and PartyB one of its tills.
        if entry["type"] != "till" or entry["store_number"] != business:
            return 2028, codes.STK_RESULTS[2028]
        party_entry = self.state.shortcodes.get(party_b)
        if party_entry is None or party_entry["type"] != "till" or party_entry["store_number"] != business:
            return "SFC_IC0003", codes.STK_RESULTS["SFC_IC0003"]
        return None

    # -- answers ---------------------------------------------------------------------------------

    def _auto_answer(self, checkout_id, behaviour, generation):
        with self.state.lock:
            if generation != self.state.generation:
                return
        try:
            self.answer(checkout_id, behaviour)
        except ControlError:
            # Answered by hand (or reset) before the phone's timer fired.
            pass

    def answer(self, checkout_id, action=None, result_code=None):
        """Answer a pending prompt as the customer and send its callback.

        :param action: one of `codes.ANSWER_ACTIONS` (pay, cancel, wrong_pin, ...)
        :param result_code: any code of the STK result table, instead of an action
        :return: `{"CheckoutRequestID", "ResultCode", "ResultDesc", "MpesaReceiptNumber"}`
        :raise ControlError: unknown prompt, prompt already answered, unknown action
        """
        if result_code is None:
            if action not in codes.ANSWER_ACTIONS:
                raise ControlError("unknown action %r; use one of %s" % (action, ", ".join(sorted(codes.ANSWER_ACTIONS))))
            result_code = codes.ANSWER_ACTIONS[action]
        elif result_code not in codes.STK_RESULTS:
            raise ControlError("unknown ResultCode %r; use one of %s"
                               % (result_code, ", ".join(str(code) for code in codes.STK_RESULTS)))

        with self.state.lock:
            prompt = self.state.prompts.get(checkout_id)
            if prompt is None:
                raise ControlError("no STK prompt with CheckoutRequestID %s" % checkout_id, http_status=404)
            if prompt["status"] != "pending":
                raise ControlError("prompt %s was already answered with ResultCode %s"
                                   % (checkout_id, prompt["ResultCode"]), http_status=409)
            if result_code == 0:
                result_code = self._payment_check(prompt)
            return self._finish(checkout_id, result_code, codes.STK_RESULTS[result_code])

    def _payment_check(self, prompt):
        """Return the ResultCode a payment gets from the payer's limits: 0, or 1, 4 or 17."""
        amount = Decimal(prompt["Amount"])
        phone = self.state.phone(prompt["PhoneNumber"])
        if phone["balance"] is not None and Decimal(phone["balance"]) < amount:
            return 1
        today = now_eat().strftime("%Y%m%d")
        paid_today = sum(Decimal(t["Amount"]) for t in self.state.transactions
                         if t["MSISDN"] == prompt["PhoneNumber"] and t["status"] in ("completed", "reversed")
                         and t["kind"] in ("stk", "c2b") and t["TransTime"].startswith(today))
        if paid_today + amount > Decimal(self.state.settings["daily_limit"]):
            return 4
        window = self.state.quirks.get("same_amount_window") or 0
        if window:
            cutoff = time.time() - window
            for other in self.state.prompts.values():
                if (other is not prompt and other["ResultCode"] == 0 and other["PhoneNumber"] == prompt["PhoneNumber"]
                        and other["BusinessShortCode"] == prompt["BusinessShortCode"]
                        and other["Amount"] == prompt["Amount"] and other.get("answered_epoch", 0) >= cutoff):
                    return 17
        return 0

    def _finish(self, checkout_id, result_code, result_desc):
        """Settle a prompt with `result_code`, update the ledger and send the callback(s)."""
        with self.state.lock:
            prompt = self.state.prompts[checkout_id]
            quirks = dict(self.state.quirks)
            paid_at = now_eat()
            receipt = None
            if result_code == 0:
                receipt = formats.receipt_number(self.state.receipts(), paid_at)
                self._record_payment(prompt, receipt, paid_at)
            prompt.update({
                "status": "answered",
                "ResultCode": result_code,
                "ResultDesc": result_desc,
                "MpesaReceiptNumber": receipt,
                "AnsweredAt": paid_at.isoformat(),
                "answered_epoch": time.time(),
            })
            self.state.save()
            body = build_stk_callback(prompt, result_code, result_desc, quirks, receipt, paid_at)
            echo = self._echo_confirmation(prompt, receipt) if receipt and quirks.get("stk_c2b_echo") else None

        _logger.info("STK prompt %s answered with ResultCode %s%s", mask_checkout_id(checkout_id), result_code,
                     " (receipt %s)" % receipt if receipt else "")
        stk_delay = 0.0
        if echo is not None:
            url, confirmation = echo
            if quirks.get("out_of_order"):
                # Send the confirmation first and hold the STK callback back by one more delay.
                stk_delay = max(0.3, self.dispatcher.default_delay())
            self.dispatcher.send("c2b_confirmation", url, confirmation, reference=receipt)
        self.dispatcher.send("stk", prompt["CallBackURL"], body, reference=checkout_id, extra_delay=stk_delay)
        return {"CheckoutRequestID": checkout_id, "ResultCode": result_code, "ResultDesc": result_desc,
                "MpesaReceiptNumber": receipt}

    def _record_payment(self, prompt, receipt, paid_at):
        phone = self.state.phone(prompt["PhoneNumber"])
        if phone["balance"] is not None:
            self.state.set_phone(prompt["PhoneNumber"],
                                 {"balance": Decimal(phone["balance"]) - Decimal(prompt["Amount"])})
        entry = self.state.shortcodes[prompt["ShortCode"]]
        self.state.add_transaction({
            "TransID": receipt,
            "kind": "stk",
            "status": "completed",
            "TransactionType": "Pay Bill" if entry["type"] == "paybill" else "Buy Goods",
            "ShortCode": prompt["ShortCode"],
            "MSISDN": prompt["PhoneNumber"],
            "Amount": money(prompt["Amount"]),
            "BillRefNumber": prompt["AccountReference"] if entry["type"] == "paybill" else "",
            "TransTime": eat_stamp(paid_at),
            "CheckoutRequestID": prompt["CheckoutRequestID"],
            "ThirdPartyTransID": "",
            "result_code": "0",
            "FirstName": phone["first_name"],
            "MiddleName": phone["middle_name"],
            "LastName": phone["last_name"],
        })

    def _echo_confirmation(self, prompt, receipt):
        """Return (ConfirmationURL, body) of the C2B confirmation an STK payment into a registered PayBill produces."""
        entry = self.state.shortcodes[prompt["ShortCode"]]
        registration = self.state.registrations.get(prompt["ShortCode"])
        if entry["type"] != "paybill" or not registration or not registration.get("ConfirmationURL"):
            return None
        record = self.state.transaction(receipt)
        body = self.c2b.notification_body(record, confirmation=True)
        return registration["ConfirmationURL"], body

    def expire_due(self):
        """Send 1019 (expired) for prompts pending longer than prompt_timeout, when expire_pending is on."""
        with self.state.lock:
            if not self.state.settings["expire_pending"]:
                return
            cutoff = time.time() - float(self.state.settings["prompt_timeout"])
            due = [p["CheckoutRequestID"] for p in self.state.prompts.values()
                   if p["status"] == "pending" and p["created_epoch"] <= cutoff]
        for checkout_id in due:
            try:
                self.answer(checkout_id, "expire")
            except ControlError:
                pass

    # -- query -----------------------------------------------------------------------------------

    def query(self, fields):
        """Look up an STK Push Query in the ledger and return the result, as Daraja's M-Pesa Express Query does.

        :raise DarajaError: unknown merchant, wrong password, unknown CheckoutRequestID, or a pending prompt
        """
        shortcode = fields["BusinessShortCode"]
        checkout_id = fields["CheckoutRequestID"]
        with self.state.lock:
            code, entry = self.state.merchant_for_stk(shortcode)
            if entry is None:
                raise merchant("Merchant does not exist")
            if not formats.password_matches(shortcode, entry["passkey"], fields["Timestamp"], fields["Password"]):
                raise merchant("[MerchantValidate] - Wrong credentials")
            prompt = self.state.prompts.get(checkout_id)
            if prompt is None or prompt["BusinessShortCode"] != shortcode:
                raise invalid("CheckoutRequestID")
            prompt = dict(prompt)
            pending_envelope = self.state.quirks.get("query_pending_until_answered")

        if prompt["status"] == "pending":
            if pending_envelope:
                raise DarajaError(MERCHANT_ERROR, PROCESSING, request_id=checkout_id)
            # NOTE: with query_pending_until_answered off the query reports the prompt as unreachable,
            # the way Daraja's own sandbox often reports failures for prompts it lost track of.
            result_code, result_desc = 1037, codes.STK_RESULTS[1037]
        else:
            result_code, result_desc = prompt["ResultCode"], prompt["ResultDesc"]
        return {
            "ResponseCode": "0",
            "ResponseDescription": QUERY_ACCEPTED,
            "MerchantRequestID": prompt["MerchantRequestID"],
            "CheckoutRequestID": checkout_id,
            "ResultCode": str(result_code),
            "ResultDesc": result_desc,
        }

    def prompts_view(self, msisdn=None):
        """Return the pending prompts, oldest first, in the control API's shape."""
        with self.state.lock:
            pending = [p for p in self.state.prompts.values()
                       if p["status"] == "pending" and (msisdn is None or p["PhoneNumber"] == msisdn)]
            pending.sort(key=lambda p: p["created_epoch"])
            return [dict((key, p[key]) for key in PROMPT_KEYS) for p in pending]

