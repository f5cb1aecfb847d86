"""List the result codes the sandbox sends and the prompt answers that lead to them.

Source: the result-code table of Daraja's M-Pesa Express page, read December 2025.
"""

STK_RESULTS = {
    0: "The service request is processed successfully.",
    1: "The balance is insufficient for the transaction.",
    2: "Declined due to limit rule.",
    3: "The amount is greater than the maximum transaction amount.",
    4: "The amount would exceed daily transfer limit.",
    8: "The amount would exceed the maximum balance.",
    17: "Rule limited.",
    1001: "Unable to lock subscriber, a transaction is already in process for the current subscriber.",
    1019: "Transaction has expired.",
    1025: "An error occurred while sending a push request.",
    1032: "Request cancelled by user",
    1037: "DS timeout user cannot be reached",
    2001: "The initiator information is invalid.",
    2028: "The request is not permitted according to product assignment.",
    8006: "The security credential is locked.",
    9999: "An error occurred while sending a push request.",
    # Daraja sends this non-numeric code as a JSON string.
    "SFC_IC0003": "The operator does not exist.",
}

# Answers a simulated customer can give to a prompt, and the ResultCode each one produces.
ANSWER_ACTIONS = {
    "pay": 0,
    "cancel": 1032,
    "wrong_pin": 2001,
    "insufficient_funds": 1,
    "no_answer": 1037,
    "expire": 1019,
    "pin_locked": 8006,
    "push_error": 1025,
    "rule_limited": 17,
    "below_minimum": 2,
    "above_maximum": 3,
    "daily_limit": 4,
    "balance_limit": 8,
}

# Per-phone defaults: every answer action, plus "manual" (leave the prompt pending until answered).
PHONE_BEHAVIOURS = ("manual",) + tuple(sorted(action for action in ANSWER_ACTIONS if action != "expire"))

# C2B validation reject codes, from Daraja's C2B Register URL page.
C2B_REJECT_CODES = {
    "C2B00011": "Invalid MSISDN",
    "C2B00012": "Invalid Account Number",
    "C2B00013": "Invalid Amount",
    "C2B00014": "Invalid KYC Details",
    "C2B00015": "Invalid Shortcode",
    "C2B00016": "Other Error",
}

RESULT_OK_DESC = "The service request is processed successfully."
INITIATOR_INVALID = (2001, "The initiator information is invalid.")
REVERSAL_UNKNOWN = ("R000002", "The OriginalTransactionID is invalid.")
REVERSAL_DONE = ("R000001", "The transaction has already been reversed.")
INSUFFICIENT = (1, "The balance is insufficient for the transaction.")
