"""Find the invoice or order a C2B payment is for, from what the customer typed.

Customers type the account number on a SIM menu: in any case, with or
without the ``/``, ``-`` and spaces of the printed reference, sometimes one
character off, sometimes with only its digits. The index below is built
once from the open documents and matches each payment in time proportional
to the length of its reference, whatever the number of documents.

Scores add up from independent pieces of evidence; only a reference match
can make a payment confident, so an amount or a phone number never posts a
payment on its own.
"""
import re
from collections import defaultdict, namedtuple

from .. import daraja

Target = namedtuple("Target", "model id name partner_id amount_due")
Target.__doc__ = """An open invoice or order a payment can go to, as plain values."""

Suggestion = namedtuple("Suggestion", "target score reasons")
Suggestion.__doc__ = """A ranked candidate for a payment; ``reasons`` are plain English."""

SCORE_EXACT = 100
SCORE_DIGITS = 70
SCORE_ONE_OFF = 60
SCORE_PHONE = 30
SCORE_MASKED_PHONE = 15
SCORE_AMOUNT = 10

# A payment is posted without a person when its best candidate reaches this
# score, leads the next one by CONFIDENT_MARGIN, and rests on its reference.
CONFIDENT_SCORE = 90
CONFIDENT_MARGIN = 20

MIN_DIGITS = 3
MIN_FUZZY_LENGTH = 5

_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Z]")


def reference_key(text):
    """Return the reference in upper case with everything but letters and digits removed."""
    return _NOT_ALPHANUMERIC.sub("", (text or "").upper())


def digits_key(key):
    """Return the digits of a reference key without leading zeros, or '' when too few."""
    digits = "".join(char for char in key if char.isdigit()).lstrip("0")
    return digits if len(digits) >= MIN_DIGITS else ""


def _deletions(key):
    return {key[:i] + key[i + 1:] for i in range(len(key))}


class MatchIndex(object):
    """Open documents and customer phone numbers, indexed for matching payments."""

    def __init__(self):
        self._exact = defaultdict(set)
        self._digits = defaultdict(set)
        self._deleted = defaultdict(set)
        self._by_partner = defaultdict(set)
        self._partners_by_msisdn = defaultdict(set)
        self._partners_by_hash = defaultdict(set)
        self._msisdn_by_suffix = defaultdict(set)
        self.targets = {}

    def add_target(self, target, references):
        """Index ``target`` under each of its references (number, customer reference...)."""
        handle = (target.model, target.id)
        self.targets[handle] = target
        self._by_partner[target.partner_id].add(handle)
        for reference in references:
            key = reference_key(reference)
            if not key:
                continue
            self._exact[key].add(handle)
            digits = digits_key(key)
            if digits:
                self._digits[digits].add(handle)
            if len(key) >= MIN_FUZZY_LENGTH:
                self._deleted[key].add((handle, key))
                for deleted in _deletions(key):
                    self._deleted[deleted].add((handle, key))

    def add_partner_phone(self, partner_id, msisdn):
        """Index a customer's normalised 12-digit number, plain and hashed."""
        self._partners_by_msisdn[msisdn].add(partner_id)
        self._partners_by_hash[daraja.hash_msisdn(msisdn)].add(partner_id)
        self._msisdn_by_suffix[msisdn[-3:]].add(msisdn)

    def partners_for_phone(self, msisdn, kind):
        """Return (partner ids, score, reason) for a payer's number as Daraja sent it."""
        if kind == "plain" and msisdn:
            return self._partners_by_msisdn.get(msisdn, set()), SCORE_PHONE, "payer's number is the customer's"
        if kind == "hashed" and msisdn:
            return (self._partners_by_hash.get(msisdn.lower(), set()), SCORE_PHONE,
                    "payer's hashed number is the customer's")
        if kind == "masked" and msisdn:
            # Masks show the last digits ("2547 ***** 126"), so only numbers
            # ending with them are compared in full.
            suffix = msisdn.replace(" ", "")[-3:]
            partners = set()
            for number in self._msisdn_by_suffix.get(suffix, ()):
                if daraja.masked_msisdn_matches(msisdn, number):
                    partners |= self._partners_by_msisdn[number]
            return partners, SCORE_MASKED_PHONE, "visible digits of the payer's number fit the customer's"
        return set(), 0, ""

    def match(self, bill_ref, msisdn=None, msisdn_kind=None, amount=None):
        """Return the suggestions for one payment, best first."""
        scores = defaultdict(int)
        reasons = defaultdict(list)

        def add(handle, score, reason):
            scores[handle] += score
            reasons[handle].append(reason)

        key = reference_key(bill_ref)
        self._match_reference(key, add)

        partners, phone_score, phone_reason = self.partners_for_phone(msisdn, msisdn_kind)
        for partner_id in partners:
            for handle in self._by_partner.get(partner_id, ()):
                add(handle, phone_score, phone_reason)

        if amount is not None:
            for handle in list(scores):
                if abs(self.targets[handle].amount_due - float(amount)) < 0.005:
                    add(handle, SCORE_AMOUNT, "amount equals the amount due")

        suggestions = [Suggestion(self.targets[handle], scores[handle], reasons[handle]) for handle in scores]
        suggestions.sort(key=lambda suggestion: (-suggestion.score, suggestion.target.id))
        return suggestions

    def _match_reference(self, key, add):
        if not key:
            return
        exact = self._exact.get(key, set())
        for handle in exact:
            add(handle, SCORE_EXACT, "account number matches %s" % self.targets[handle].name)
        seen = set(exact)

        digits = digits_key(key)
        for handle in self._digits.get(digits, set()) - seen if digits else ():
            add(handle, SCORE_DIGITS, "digits of the account number match %s" % self.targets[handle].name)
            seen.add(handle)

        if len(key) < MIN_FUZZY_LENGTH:
            return
        for probe in {key} | _deletions(key):
            for handle, target_key in self._deleted.get(probe, ()):
                if handle not in seen:
                    add(handle, SCORE_ONE_OFF, "account number is one character off %s" % self.targets[handle].name)
                    seen.add(handle)


def is_confident(suggestions):
    """Return whether the best suggestion may be posted without a person."""
    if not suggestions:
        return False
    best = suggestions[0]
    rests_on_reference = any(reason.startswith(("account number", "digits")) for reason in best.reasons)
    runner_up = suggestions[1].score if len(suggestions) > 1 else 0
    return rests_on_reference and best.score >= CONFIDENT_SCORE and best.score - runner_up >= CONFIDENT_MARGIN
