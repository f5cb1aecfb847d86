"""Define the records that DarajaClient operations return.

Each record keeps Daraja's whole JSON response in ``raw``. None of them means "paid":
Daraja's synchronous responses only state that a request was accepted.
"""

from collections import namedtuple

StkPushResponse = namedtuple(
    "StkPushResponse",
    "merchant_request_id checkout_request_id response_code response_description customer_message raw",
)
StkPushResponse.__doc__ = """STK Push request accepted by Daraja. The outcome arrives by callback."""

StkQueryResult = namedtuple("StkQueryResult", "status result_code result_desc raw")
StkQueryResult.__doc__ = """STK Push Query outcome.

``status`` is "paid" (ResultCode "0"), "failed" (any other ResultCode) or "pending"
(the customer has not answered yet). ``result_code`` is text, or None while pending.
"""

RegisterUrlResponse = namedtuple(
    "RegisterUrlResponse", "response_code response_description originator_conversation_id raw"
)
RegisterUrlResponse.__doc__ = """C2B Register URL response whose ResponseCode means success."""

AcceptedResponse = namedtuple(
    "AcceptedResponse",
    "originator_conversation_id conversation_id response_code response_description raw",
)
AcceptedResponse.__doc__ = """Acknowledgement of an asynchronous request (C2B simulate,
Transaction Status, Reversal, Account Balance). The outcome arrives at the ResultURL."""

PullRegisterResponse = namedtuple(
    "PullRegisterResponse", "response_ref_id response_status shortcode response_description raw"
)
PullRegisterResponse.__doc__ = """Pull Transactions registration response: status "1000" for
registered now, "1001" for registered before."""

PullQueryResult = namedtuple("PullQueryResult", "response_code response_message rows raw")
PullQueryResult.__doc__ = """Pull Transactions query response, whose ``rows`` are PullTransaction records."""
