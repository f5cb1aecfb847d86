"""Hold Daraja's error and result codes with plain-English messages.

Each table names the Daraja portal page it comes from (developer.safaricom.co.ke/apis)
and when that page was read. Codes that only third parties report are marked where they sit.
"""

# Error codes that mean "the access token is expired, wrong or from the other environment".
# Daraja spells the same failure differently per API: 404.001.03 on the M-Pesa Express
# (STK Push) page, 400.003.01 on the C2B v2 and Transaction Status pages, 401.002.01 on the
# Account Balance page, 401.003.01 only in a community error catalogue. Read 2025-12.
INVALID_TOKEN_CODES = ("404.001.03", "400.003.01", "401.002.01", "401.003.01")
INVALID_TOKEN_TEXT = "invalid access token"

# Rate limits, from the M-Pesa Express and C2B v2 pages, read 2025-12.
THROTTLE_CODES = ("500.003.02", "500.003.03")

# Errors of the OAuth call itself, from Daraja's Authorization page, read 2025-12.
TOKEN_ERROR_MESSAGES = {
    # Daraja also returns this code for a wrong consumer key or secret.
    "400.008.01": "Daraja rejected the consumer key and secret of the token request",
    "400.008.02": "Daraja rejected the grant type of the token request (it must be client_credentials)",
}

# One code with four unrelated causes, distinguished by errorMessage only. Source: the
# M-Pesa Express page's error table, read 2025-12, plus "The transaction is being
# processed", which Daraja returns to an STK Push Query while the customer has not answered.
MULTI_CAUSE_CODE = "500.001.1001"
MULTI_CAUSE_REASONS = (
    ("merchant does not exist", "merchant_not_found"),
    ("wrong credentials", "wrong_credentials"),
    ("unable to lock subscriber", "subscriber_locked"),
    ("being processed", "processing"),
)

# "Bad Request - Invalid <Field>": a request field failed Daraja's validation, and the
# suffix names the field (M-Pesa Express page, read 2025-12). The suffix does not always
# match the request's key: a null AccountReference is reported as "Invalid Remarks".
INVALID_FIELD_CODE = "400.002.02"

# Plain-English explanations for a support person, keyed by Daraja's reason.
REQUEST_ERROR_MESSAGES = {
    "merchant_not_found": (
        "Daraja does not know this BusinessShortCode. Use the shortcode the Daraja app "
        "went live with (for a till, the store or head-office number)."
    ),
    "wrong_credentials": (
        "Daraja rejected the STK Push password. Check that the passkey belongs to this "
        "shortcode and environment."
    ),
    "subscriber_locked": (
        "The customer's phone already has an M-Pesa prompt open. Wait about a minute "
        "and send the request again."
    ),
    "processing": (
        "The customer has not finished the payment yet. Check its status again in a few seconds."
    ),
    "invalid_field": "Daraja rejected a field of the request. Correct the field it names and send the request again.",
    "throttled": (
        "Daraja is limiting the request rate. Wait a few seconds before sending the "
        "request again, and poll the status less often."
    ),
    "other": "Daraja rejected the request.",
}

# Other synchronous errors worth a specific hint (M-Pesa Express and C2B v2 pages, read 2025-12).
KNOWN_ERROR_HINTS = {
    "404.001.01": "Daraja does not know this path. Check the base URL of the Daraja environment.",
    "405.001": "Daraja accepts only POST on this path.",
    "500.003.1001": (
        "Daraja reported an internal error. For a C2B URL registration this usually means "
        "URLs are already registered: delete them in the M-Pesa portal (URL Management) first."
    ),
}

# Success codes of C2B Register URL. Both pages show ResponseCode "0", but Odoo's own
# pos_safaricom addon (Odoo 19) accepts only "00000000" for v2, so both count as success.
REGISTER_SUCCESS_CODES = ("0", "00000000")

# Pull Transactions register statuses, from the Pull Transactions page, read 2025-12.
PULL_REGISTERED = "1000"
PULL_ALREADY_REGISTERED = "1001"

# The STK callback and STK Push Query result code that means "paid".
PAID_RESULT_CODE = "0"

# STK callback and STK Push Query result codes, from the result-code table of Daraja's
# M-Pesa Express page, read 2025-12. 1001 and 9999 come from a community error catalogue.
# Daraja has also been seen sending other codes (1031 for a cancellation through one
# aggregator), so callers treat every code but "0" as "not paid", not only those listed.
STK_RESULT_MESSAGES = {
    "0": "The customer paid.",
    "1": (
        "The customer's M-Pesa balance is too low for this payment. Ask them to top up "
        "and pay again."
    ),
    "2": "M-Pesa declined the amount because it is below the minimum of KES 1.",
    "3": (
        "The amount is above the M-Pesa maximum for one transaction. Split the payment or "
        "ask for another payment method."
    ),
    "4": (
        "The payment would exceed the customer's M-Pesa daily transfer limit. Ask them to "
        "pay tomorrow or use another payment method."
    ),
    "8": (
        "The payment would exceed the maximum balance of the receiving M-Pesa account. "
        "Contact the finance team."
    ),
    "17": (
        "M-Pesa blocked a repeat of the same amount to the same customer within 2 minutes. "
        "Wait 2 minutes and send the request again."
    ),
    "1001": (
        "Another M-Pesa session is open on the customer's phone. Wait about a minute and "
        "send the request again."
    ),
    "1019": "The payment request expired before the customer answered it. Send a new request.",
    "1025": (
        "M-Pesa could not send the prompt to the customer's phone. Send the request again, "
        "and if it keeps failing, shorten the account reference."
    ),
    "9999": (
        "M-Pesa could not send the prompt to the customer's phone. Send the request again, "
        "and if it keeps failing, shorten the account reference."
    ),
    "1032": "The customer cancelled the payment request on their phone.",
    "1037": (
        "The customer's phone could not be reached (switched off, offline or busy). Ask "
        "them to check their phone and send the request again."
    ),
    "2001": "The customer entered a wrong M-Pesa PIN. Ask them to try again with the correct PIN.",
    "2028": (
        "M-Pesa does not allow this payment type for the shortcode, which usually means a "
        "PayBill and Till mix-up. Ask the administrator to check the shortcode settings."
    ),
    "8006": (
        "The customer's M-Pesa PIN is locked. Ask them to unlock it with Safaricom, then "
        "pay again."
    ),
    "SFC_IC0003": (
        "M-Pesa did not recognise the receiving shortcode for this payment type, which "
        "usually means a PayBill and Till mix-up. Ask the administrator to check the "
        "shortcode settings."
    ),
}

# Result codes of Transaction Status, Reversal and Account Balance results, from the
# Transaction Status, Reversal and Account Balance pages, read 2025-12.
RESULT_MESSAGES = {
    "0": "Daraja processed the request.",
    "1": "The M-Pesa account does not have enough funds for this request.",
    "15": "Daraja rejected a duplicate OriginatorConversationID. Send the request again.",
    "18": "Daraja could not check the initiator's security credential.",
    "2001": (
        "Daraja rejected the initiator name or password. Check the API initiator and its "
        "password, which expires every 90 days."
    ),
    "R000001": "The transaction has already been reversed.",
    "R000002": "Daraja does not know the transaction to reverse (invalid OriginalTransactionID).",
}

# Codes a C2B validation reply may use to reject a payment, from the C2B Register URL v1
# and Customer To Business v2 pages, read 2025-12. The code chooses the SMS the customer gets.
C2B_REJECTION_CODES = {
    "C2B00011": "Invalid MSISDN",
    "C2B00012": "Invalid Account Number",
    "C2B00013": "Invalid Amount",
    "C2B00014": "Invalid KYC Details",
    "C2B00015": "Invalid Shortcode",
    "C2B00016": "Other Error",
}


def normalize_result_code(value):
    """Return a Daraja result code as text: 0 and 0.0 become "0", "SFC_IC0003" stays as sent.

    Return None for a missing code. Daraja sends the same field as a number or a string
    depending on the API and the code, so callers compare text only.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    text = str(value).strip()
    return text or None


def stk_result_message(result_code):
    """Return plain English for an STK callback or STK Push Query result code.

    Unknown codes get a generic message that names the code, so support can look it up.
    """
    code = normalize_result_code(result_code)
    if code is None:
        return "M-Pesa returned no result code. Check the payment status again."
    message = STK_RESULT_MESSAGES.get(code)
    if message:
        return message
    return (
        "The payment did not go through (M-Pesa result code %s). Ask the customer to pay "
        "again, and give this code to support if it repeats." % code
    )


def result_message(result_code):
    """Return plain English for a Transaction Status, Reversal or Account Balance result code."""
    code = normalize_result_code(result_code)
    if code is None:
        return "Daraja returned no result code."
    message = RESULT_MESSAGES.get(code)
    if message:
        return message
    return "Daraja could not complete the request (result code %s)." % code
