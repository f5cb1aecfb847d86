"""Provide a Daraja (Safaricom M-Pesa) API client that does not depend on Odoo.

The addon imports it as ``odoo.addons.mpesa_paybill.daraja``, and plain tests import it as
``daraja`` with ``mpesa_paybill/`` on ``sys.path``. It needs only the standard library,
``requests`` and ``cryptography``.
"""

from . import errors
from .client import OFFLINE_URL, PRODUCTION_URL, SAFARICOM_SANDBOX_URL, DarajaClient
from .codes import C2B_REJECTION_CODES, normalize_result_code, result_message, stk_result_message
from .credential import security_credential
from .errors import (
    DarajaAuthError,
    DarajaBadResponse,
    DarajaConfigError,
    DarajaConnectionError,
    DarajaError,
    DarajaParseError,
    DarajaRequestError,
    DarajaThrottled,
    DarajaTimeout,
    DarajaTransportError,
    InvalidPhoneNumber,
)
from .fields import EAT, eat_timestamp, stk_password
from .parsers import (
    BalanceAccount,
    C2BPayment,
    DarajaResult,
    PullTransaction,
    StkCallback,
    parse_c2b,
    parse_pull_rows,
    parse_result,
    parse_stk_callback,
)
from .phone import classify_msisdn, hash_msisdn, mask_msisdn, mask_reference, masked_msisdn_matches, normalize_msisdn
from .responses import (
    AcceptedResponse,
    PullQueryResult,
    PullRegisterResponse,
    RegisterUrlResponse,
    StkPushResponse,
    StkQueryResult,
)
from .token import MemoryTokenCache, token_cache_key
from .urls import check_callback_url

__all__ = [
    "AcceptedResponse",
    "BalanceAccount",
    "C2BPayment",
    "C2B_REJECTION_CODES",
    "DarajaAuthError",
    "DarajaBadResponse",
    "DarajaClient",
    "DarajaConfigError",
    "DarajaConnectionError",
    "DarajaError",
    "DarajaParseError",
    "DarajaRequestError",
    "DarajaResult",
    "DarajaThrottled",
    "DarajaTimeout",
    "DarajaTransportError",
    "EAT",
    "InvalidPhoneNumber",
    "MemoryTokenCache",
    "OFFLINE_URL",
    "PRODUCTION_URL",
    "PullQueryResult",
    "PullRegisterResponse",
    "PullTransaction",
    "RegisterUrlResponse",
    "SAFARICOM_SANDBOX_URL",
    "StkCallback",
    "StkPushResponse",
    "StkQueryResult",
    "check_callback_url",
    "classify_msisdn",
    "eat_timestamp",
    "errors",
    "hash_msisdn",
    "mask_msisdn",
    "mask_reference",
    "masked_msisdn_matches",
    "normalize_msisdn",
    "normalize_result_code",
    "parse_c2b",
    "parse_pull_rows",
    "parse_result",
    "parse_stk_callback",
    "result_message",
    "security_credential",
    "stk_password",
    "stk_result_message",
    "token_cache_key",
]
