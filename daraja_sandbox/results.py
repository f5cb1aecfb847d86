"""Serve Transaction Status, Reversal and Account Balance: an acknowledgement now, the Result later."""
import logging
from decimal import Decimal

from . import codes, formats
from .errors import merchant
from .formats import RawNumber, eat_stamp, money, now_eat
from .state import ACCOUNTS, PAYMENT_ACCOUNT

_logger = logging.getLogger(__name__)

ACK_DESCRIPTION = "Accept the service request successfully."
REASON_TYPES = {
    ("stk", "Pay Bill"): "Pay Bill Online",
    ("stk", "Buy Goods"): "Buy Goods Online",
    ("c2b", "Pay Bill"): "Pay Bill",
    ("c2b", "Buy Goods"): "Buy Goods",
}


def _parameters(pairs):
    """Turn (key, value) pairs into Daraja's ResultParameter list; a value of None leaves the Value key out."""
    items = []
    for key, value in pairs:
        item = {"Key": key}
        if value is not None:
            item["Value"] = value
        items.append(item)
    return items


class ResultService(object):
    """Check the initiator's credential, acknowledge the request and post the Result to ResultURL."""

    def __init__(self, state, dispatcher):
        self.state = state
        self.dispatcher = dispatcher

    def _credential_ok(self, initiator, credential):
        with self.state.lock:
            password = self.state.initiators.get(initiator)
            key_pair = self.state.key_pair
        return password is not None and key_pair.decrypt_credential(credential) == password

    def _acknowledge(self, kind, fields, build_result):
        """Return the acknowledgement and schedule the Result (or a queue timeout) for it."""
        originator = formats.originator_conversation_id()
        conversation = formats.conversation_id()
        ids = {"OriginatorConversationID": originator, "ConversationID": conversation}
        credential_ok = self._credential_ok(fields["Initiator"], fields["SecurityCredential"])

        with self.state.lock:
            timeouts_left = self.state.quirks.get("queue_timeout") or 0
            if timeouts_left:
                self.state.quirks["queue_timeout"] = timeouts_left - 1
            if credential_ok:
                result = build_result(ids)
            else:
                code, desc = codes.INITIATOR_INVALID
                result = self._envelope(ids, code, desc, None)
            self.state.conversations[conversation] = {
                "kind": kind, "OriginatorConversationID": originator,
                "ResultCode": result["Result"]["ResultCode"],
                "TransactionID": result["Result"].get("TransactionID")}
            self.state.save()

        if timeouts_left:
            # NOTE: Daraja does not document the QueueTimeOutURL body; this one mirrors the Result envelope.
            body = self._envelope(ids, 1, "The request timed out while waiting in the queue.", None)
            self.dispatcher.send("timeout", fields["QueueTimeOutURL"], body, reference=conversation)
        else:
            self.dispatcher.send("result", fields["ResultURL"], result, reference=conversation)
        _logger.info("%s request %s acknowledged; Result code %s", kind, conversation, result["Result"]["ResultCode"])
        return {
            "OriginatorConversationID": originator,
            "ConversationID": conversation,
            "ResponseCode": "0",
            "ResponseDescription": ACK_DESCRIPTION,
        }

    def _envelope(self, ids, code, desc, parameters, occasion=None, result_type=0, transaction_id=None):
        result = {
            "ResultType": result_type,
            "ResultCode": code,
            "ResultDesc": desc,
            "OriginatorConversationID": ids["OriginatorConversationID"],
            "ConversationID": ids["ConversationID"],
            "TransactionID": transaction_id or formats.receipt_number(self.state.receipts()),
        }
        if parameters is not None:
            result["ResultParameters"] = {"ResultParameter": parameters}
        reference = {"Key": "Occasion"}
        if occasion:
            reference["Value"] = occasion
        result["ReferenceData"] = {"ReferenceItem": reference}
        return {"Result": result}

    def _check_merchant(self, code):
        with self.state.lock:
            if code not in self.state.shortcodes and not self.state.is_store_number(code):
                raise merchant("Merchant does not exist")

    def _party_name(self, code):
        entry = self.state.shortcodes.get(code) or {}
        return "%s - %s" % (code, entry.get("name") or "Sandbox")

    # -- Transaction Status ------------------------------------------------------------------------

    def transaction_status(self, fields):
        """Acknowledge a Transaction Status query and post the status of the receipt from the ledger."""
        self._check_merchant(fields["PartyA"])

        def build(ids):
            record = self._find(fields.get("TransactionID"), fields.get("OriginalConversationID"), fields["PartyA"])
            if record is None:
                # NOTE: Daraja does not document the code for an unknown receipt; this reuses Reversal's.
                code, desc = codes.REVERSAL_UNKNOWN
                return self._envelope(ids, code, desc, None, fields.get("Occasion"))
            status = {"completed": "Completed", "reversed": "Completed", "rejected": "Declined"}.get(
                record["status"], "Completed")
            customer = "%s - %s %s" % (record["MSISDN"], record.get("FirstName", ""), record.get("LastName", ""))
            parameters = _parameters([
                ("DebitPartyName", customer.strip()),
                ("CreditPartyName", self._party_name(record["ShortCode"])),
                ("OriginatorConversationID", ids["OriginatorConversationID"]),
                ("InitiatedTime", int(record["TransTime"])),
                ("DebitAccountType", "MMF Account For Customer"),
                ("DebitPartyCharges", None),
                ("TransactionReason", None),
                ("ReasonType", REASON_TYPES.get((record["kind"], record["TransactionType"]), "Pay Bill")),
                ("TransactionStatus", status),
                ("FinalisedTime", int(record["TransTime"])),
                # Daraja's Transaction Status page writes this amount as a string of whole shillings.
                ("Amount", str(int(Decimal(record["Amount"])))),
                ("ConversationID", ids["ConversationID"]),
                ("ReceiptNo", record["TransID"]),
            ])
            return self._envelope(ids, 0, codes.RESULT_OK_DESC, parameters, fields.get("Occasion"))

        return self._acknowledge("TransactionStatus", fields, build)

    def _find(self, trans_id, conversation_id, shortcode):
        with self.state.lock:
            if not trans_id and conversation_id:
                trans_id = (self.state.conversations.get(conversation_id) or {}).get("TransactionID")
            record = self.state.transaction(trans_id) if trans_id else None
            if record is None:
                return None
            entry = self.state.shortcodes.get(record["ShortCode"]) or {}
            if shortcode not in (record["ShortCode"], entry.get("store_number")):
                return None
            return dict(record)

    # -- Reversal ----------------------------------------------------------------------------------

    def reversal(self, fields, amount):
        """Acknowledge a Reversal and post its Result, moving the money back when it succeeds."""
        self._check_merchant(fields["ReceiverParty"])

        def build(ids):
            with self.state.lock:
                original = self.state.transaction(fields["TransactionID"])
                entry = self.state.shortcodes.get(original["ShortCode"]) if original else None
                if (original is None or original["status"] == "rejected" or original["kind"] == "reversal"
                        or fields["ReceiverParty"] not in (original["ShortCode"], entry.get("store_number"))):
                    code, desc = codes.REVERSAL_UNKNOWN
                    return self._envelope(ids, code, desc, None, fields.get("Occasion"))
                if original["status"] == "reversed":
                    code, desc = codes.REVERSAL_DONE
                    return self._envelope(ids, code, desc, None, fields.get("Occasion"))
                if Decimal(amount) != Decimal(original["Amount"]):
                    # NOTE: Daraja's Reversal page lists no code for a wrong amount; this result is a stand-in.
                    code, desc = codes.REVERSAL_UNKNOWN
                    return self._envelope(ids, code, desc, None, fields.get("Occasion"))
                balance = Decimal(self.state.balances[original["ShortCode"]][PAYMENT_ACCOUNT])
                if balance < Decimal(amount):
                    code, desc = codes.INSUFFICIENT
                    return self._envelope(ids, code, desc, None, fields.get("Occasion"))

                moment = now_eat()
                reversal_id = formats.receipt_number(self.state.receipts(), moment)
                new_balance = self.state.move_balance(original["ShortCode"], -Decimal(amount))
                original["status"] = "reversed"
                original["reversed_by"] = reversal_id
                self.state.add_transaction({
                    "TransID": reversal_id, "kind": "reversal", "status": "completed",
                    "TransactionType": "Reversal", "ShortCode": original["ShortCode"], "MSISDN": original["MSISDN"],
                    "Amount": money(amount), "BillRefNumber": original["BillRefNumber"],
                    "TransTime": eat_stamp(moment), "OriginalTransactionID": original["TransID"],
                    "ThirdPartyTransID": "", "result_code": "0",
                })
                parameters = _parameters([
                    ("DebitAccountBalance", "%s|KES|%s|%s|0.00|0.00" % (PAYMENT_ACCOUNT, new_balance, new_balance)),
                    ("Amount", RawNumber(money(amount))),
                    ("TransCompletedTime", int(eat_stamp(moment))),
                    ("OriginalTransactionID", original["TransID"]),
                    ("Charge", RawNumber("0.00")),
                    ("CreditPartyPublicName", "%s - %s %s" % (original["MSISDN"], original.get("FirstName", ""),
                                                              original.get("LastName", ""))),
                    ("DebitPartyPublicName", self._party_name(original["ShortCode"])),
                ])
                return self._envelope(ids, 0, codes.RESULT_OK_DESC, parameters, fields.get("Occasion"),
                                      transaction_id=reversal_id)

        return self._acknowledge("Reversal", fields, build)

    # -- Account Balance ---------------------------------------------------------------------------

    def account_balance(self, fields):
        """Acknowledge an Account Balance query and post the shortcode's balances."""
        self._check_merchant(fields["PartyA"])

        def build(ids):
            with self.state.lock:
                code = fields["PartyA"]
                balances = dict(self.state.balances.get(code) or dict((name, "0.00") for name in ACCOUNTS))
                single = self.state.quirks.get("balance_single_parameter")
                numeric = self.state.quirks.get("balance_numeric_codes")
            text = "&".join("%s|KES|%s|%s|0.00|0.00" % (name, balances[name], balances[name]) for name in ACCOUNTS)
            if single:
                parameters = {"Key": "AccountBalance", "Value": text}
            else:
                parameters = _parameters([("AccountBalance", text), ("BOCompletedTime", int(eat_stamp()))])
            zero = 0 if numeric else "0"
            return self._envelope(ids, zero, codes.RESULT_OK_DESC, parameters, result_type=zero)

        return self._acknowledge("AccountBalance", fields, build)
