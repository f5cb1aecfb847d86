"""Serve Pull Transactions: register a shortcode and list its C2B payments from the ledger."""
import datetime
import logging

from . import formats
from .errors import DarajaError, invalid
from .formats import EAT, RawNumber, now_eat

_logger = logging.getLogger(__name__)

PULL_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
ROW_TYPES = {"Pay Bill": "c2b-pay-bill-debit", "Buy Goods": "c2b-buy-goods-debit"}


def parse_pull_date(value):
    """Parse a Pull Transactions date such as `2020-08-04 8:36:00` (EAT), or return None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.strptime(value.strip(), PULL_DATE_FORMAT).replace(tzinfo=EAT)
    except ValueError:
        return None


def _invalid_shortcode():
    # Daraja's Pull Transactions page lists 400.001 for an invalid shortcode.
    return DarajaError("400.001", "Invalid ShortCode")


class PullService(object):
    """Keep Pull Transactions registrations and page through the ledger for queries."""

    def __init__(self, state):
        self.state = state

    def register(self, fields):
        """Register a shortcode for Pull Transactions; ResponseStatus 1001 means it already was."""
        code = fields["ShortCode"]
        with self.state.lock:
            if code not in self.state.shortcodes:
                raise _invalid_shortcode()
            already = code in self.state.pull_registrations
            if not already:
                self.state.pull_registrations[code] = {
                    "ShortCode": code, "NominatedNumber": fields["NominatedNumber"],
                    "CallBackURL": fields["CallBackURL"], "registered_at": now_eat().isoformat()}
                self.state.save()
        _logger.info("Pull Transactions register for %s: %s", code, "already registered" if already else "registered")
        return {
            "ResponseRefID": formats.request_id(),
            "ResponseStatus": "1001" if already else "1000",
            "ShortCode": code,
            "ResponseDescription": "Shortcode already Registered" if already else "Shortcode Registered Successfully",
        }

    def query(self, fields):
        """List the shortcode's payments between StartDate and EndDate (EAT), within the last pull_window_hours."""
        code = fields["ShortCode"]
        start = parse_pull_date(fields.get("StartDate"))
        end = parse_pull_date(fields.get("EndDate"))
        if start is None:
            raise invalid("StartDate")
        if end is None or end < start:
            raise invalid("EndDate")
        offset = formats.whole_amount(fields.get("OffSetValue", "0"))
        if offset is None or offset < 0:
            raise invalid("OffSetValue")

        with self.state.lock:
            if code not in self.state.pull_registrations:
                raise _invalid_shortcode()
            window_start = now_eat() - datetime.timedelta(hours=float(self.state.settings["pull_window_hours"]))
            start = max(start, window_start)
            page_size = int(self.state.settings["pull_page_size"])
            entry = self.state.shortcodes.get(code) or {}
            rows = []
            for record in self.state.transactions:
                if record["ShortCode"] != code or record["kind"] not in ("stk", "c2b") \
                        or record["status"] not in ("completed", "reversed"):
                    continue
                moment = formats.parse_eat_stamp(record["TransTime"])
                if start <= moment <= end:
                    rows.append((moment, record))
        rows.sort(key=lambda row: row[0])
        page = rows[offset:offset + page_size]

        if not page:
            # Daraja's Pull Transactions page shows an empty result as this string, not as a list.
            return {"ResponseRefID": formats.request_id(), "ResponseCode": "1001",
                    "ResponseMessage": "No transactions found", "Transaction": "[[]]"}
        return {
            "ResponseRefID": formats.request_id(),
            "ResponseCode": "1000",
            "ResponseMessage": "Success",
            "Response": [[self._row(moment, record, entry) for moment, record in page]],
        }

    @staticmethod
    def _row(moment, record, entry):
        utc = moment.astimezone(datetime.timezone.utc)
        return {
            "transactionId": record["TransID"],
            "trxDate": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "msisdn": int(record["MSISDN"]),
            "transactiontype": ROW_TYPES.get(record["TransactionType"], "c2b-pay-bill-debit"),
            "billreference": record["BillRefNumber"],
            "amount": RawNumber(record["Amount"]),
            "organizationname": entry.get("name") or record["ShortCode"],
        }
