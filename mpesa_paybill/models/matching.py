"""Find the invoice or order a C2B payment is for, from what the customer typed.

Customers type the account number on a SIM menu: in any case, with or
without the ``/``, ``-`` and spaces of the printed reference, sometimes one
character off, sometimes with only its digits. The index below is built
once from the open documents. Matching a payment then costs a few lookups
per character of its reference plus one step per document found. With
sequential numbers, the documents one character off a number grow with
their count, so only those with other evidence are checked in full and the
rest are sampled.

Scores add up from independent pieces of evidence. Only a reference match
can make a payment confident, so an amount or a phone number never posts a
payment on its own.
"""
import math
import re
from collections import defaultdict, namedtuple
from operator import attrgetter

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
# A mask that shows fewer digits cannot tell customers apart.
MIN_VISIBLE_DIGITS = 6
MIN_FUZZY_LENGTH = 5
# Shorter references ("1", "A2") are too common to identify a document.
MIN_REFERENCE_LENGTH = 4
# Neighbours one character off, without other evidence, kept as suggestions.
MAX_FUZZY_SAMPLE = 10
# Customers a masked number may fit and still bring their documents in as suggestions.
MAX_MASK_PARTNERS = 3

_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Z]")
_MASK_CHARACTERS = re.compile(r"^[0-9*]+$")


def reference_key(text):
    """Return the reference in upper case with everything but letters and digits removed."""
    return _NOT_ALPHANUMERIC.sub("", (text or "").upper())


def digits_key(key):
    """Return the digits of a reference key without leading zeros, or '' when too few."""
    digits = "".join(char for char in key if char.isdigit()).lstrip("0")
    return digits if len(digits) >= MIN_DIGITS else ""


_TARGET_ID = attrgetter("target.id")
_SCORE = attrgetter("score")

# Positions of the reference reasons in an index entry.
REASON_EXACT = 1
REASON_DIGITS = 2
REASON_ONE_OFF = 3


def _cents(amount):
    """Return ``amount`` rounded to whole cents, or None when it is not a finite number."""
    if isinstance(amount, (int, float)) and not isinstance(amount, bool) and math.isfinite(amount):
        return int(round(amount * 100))
    return None


# A key's slots stay in a tuple up to this many, then move to a set.
MAX_TUPLE_SLOTS = 8


def _add_slot(slots_by_key, key, slot):
    """Record ``slot`` under ``key``: an int for one slot, a tuple for a few, a set beyond.

    Most keys belong to one document, and a plain int is neither allocated
    as a container nor scanned by the garbage collector, so the index
    builds faster and weighs less.
    """
    known = slots_by_key.get(key)
    if known is None:
        slots_by_key[key] = slot
    elif type(known) is int:
        if known != slot:
            slots_by_key[key] = (known, slot)
    elif type(known) is tuple:
        if slot not in known:
            slots_by_key[key] = known + (slot,) if len(known) < MAX_TUPLE_SLOTS else set(known + (slot,))
    else:
        known.add(slot)


def _slots(slots_by_key, key):
    """Return the slots recorded under ``key`` as an iterable."""
    known = slots_by_key.get(key, ())
    return (known,) if type(known) is int else known


def _deletions(key):
    return {key[:i] + key[i + 1:] for i in range(len(key))}


class MatchIndex(object):
    """Open documents and customer phone numbers, indexed for matching payments.

    Inside the index each document is a small integer slot rather than its
    (model, id) handle, because sets of integers hash and merge faster. With
    sequential numbers, INV/2026/00042 is one character off every number
    that differs from it in one digit, dozens of open invoices.
    """

    def __init__(self):
        # Reference key -> slots, and the same for digits and deletion forms
        # below, each kept by _add_slot as an int, a tuple or a set.
        self._exact = {}
        self._digits = {}
        self._deleted = {}
        self._by_partner = defaultdict(set)
        self._by_cents = defaultdict(set)
        self._partners_by_msisdn = defaultdict(set)
        self._partners_by_hash = defaultdict(set)
        # Per mask shape (digits shown at the start, digits shown at the
        # end): the customers by those digits, built on the first mask of
        # that shape.
        self._partners_by_mask = {}
        self.targets = {}
        self._slots = {}
        # Per slot: (target, exact reason, digits reason, one-off reason),
        # the reasons written once here instead of once per payment.
        self._entries = []
        # Slots whose amount due is not a finite number, compared one by one.
        self._odd_amounts = set()
        # Per slot: the reference keys long enough to be one character off.
        self._fuzzy_keys = defaultdict(list)
        # Slots of documents discarded since the index was built. The
        # reference dictionaries still list them, so lookups skip them.
        self._discarded = set()

    def add_target(self, target, references):
        """Index ``target`` under each of its references (number, customer reference...).

        A document indexed before is discarded first, so it can be added
        again with its new amount due.
        """
        handle = (target.model, target.id)
        if handle in self._slots:
            self.discard_target(*handle)
        self.targets[handle] = target
        slot = self._slots[handle] = len(self._entries)
        self._entries.append((
            target,
            "account number matches %s" % target.name,
            "digits of the account number match %s" % target.name,
            "account number is one character off %s" % target.name,
        ))
        self._by_partner[target.partner_id].add(slot)
        self._amount_slots(target.amount_due).add(slot)

        for reference in references:
            key = reference_key(reference)
            if len(key) < MIN_REFERENCE_LENGTH:
                continue
            _add_slot(self._exact, key, slot)
            digits = digits_key(key)
            if digits:
                _add_slot(self._digits, digits, slot)
            if len(key) >= MIN_FUZZY_LENGTH:
                self._fuzzy_keys[slot].append(key)
                for deleted in _deletions(key) | {key}:
                    _add_slot(self._deleted, deleted, slot)

    def discard_target(self, model, res_id):
        """Remove a document that was paid, cancelled or changed since it was indexed."""
        slot = self._slots.pop((model, res_id), None)
        if slot is None:
            return
        target = self.targets.pop((model, res_id))
        self._by_partner[target.partner_id].discard(slot)
        self._amount_slots(target.amount_due).discard(slot)
        self._fuzzy_keys.pop(slot, None)
        self._discarded.add(slot)

    def _amount_slots(self, amount_due):
        """Return the set of slots that a document with this amount due belongs in."""
        cents = _cents(amount_due)
        return self._odd_amounts if cents is None else self._by_cents[cents]

    def add_partner_phone(self, partner_id, msisdn):
        """Index a customer's normalised 12-digit number, plain and hashed."""
        self._partners_by_msisdn[msisdn].add(partner_id)
        self._partners_by_hash[daraja.hash_msisdn(msisdn)].add(partner_id)
        self._partners_by_mask.clear()

    def clear_phones(self):
        """Forget every customer number, before they are indexed again."""
        self._partners_by_msisdn.clear()
        self._partners_by_hash.clear()
        self._partners_by_mask.clear()

    def partners_for_phone(self, msisdn, kind):
        """Return (partner ids, score, reason) for a payer's number as Daraja sent it."""
        if kind == "plain" and msisdn:
            return self._partners_by_msisdn.get(msisdn, set()), SCORE_PHONE, "payer's number is the customer's"
        if kind == "hashed" and msisdn:
            return (self._partners_by_hash.get(msisdn.lower(), set()), SCORE_PHONE,
                    "payer's hashed number is the customer's")
        if kind == "masked" and msisdn:
            partners = self._partners_for_mask(msisdn.replace(" ", ""))
            if partners is None:
                return set(), 0, ""
            return partners, SCORE_MASKED_PHONE, "visible digits of the payer's number fit the customer's"
        return set(), 0, ""

    def _partners_for_mask(self, pattern):
        """Return the customers whose number fits the mask ``pattern``, or None for an unusable mask.

        It follows daraja.masked_msisdn_matches. Daraja's masks show digits
        at the start and the end ("2547*****126"), so the customers are
        looked up by those digits instead of testing every number.
        """
        if not _MASK_CHARACTERS.match(pattern) or sum(char.isdigit() for char in pattern) < MIN_VISIBLE_DIGITS:
            return None
        prefix = pattern.split("*", 1)[0]
        suffix = pattern.rsplit("*", 1)[-1]
        if len(pattern) == 12 and "*" not in pattern:
            return self._partners_by_msisdn.get(pattern, set())
        if len(pattern) == 12 and pattern[len(prefix):12 - len(suffix)].strip("*"):
            # Digits shown between stars: compare every number position by position.
            partners = set()
            for number, owners in self._partners_by_msisdn.items():
                if all(mask == "*" or mask == digit for mask, digit in zip(pattern, number)):
                    partners |= owners
            return partners
        if len(prefix) + len(suffix) > 12:
            return None

        shape = (len(prefix), len(suffix))
        by_shown_digits = self._partners_by_mask.get(shape)
        if by_shown_digits is None:
            by_shown_digits = self._partners_by_mask[shape] = defaultdict(set)
            for number, owners in self._partners_by_msisdn.items():
                by_shown_digits[number[:shape[0]], number[len(number) - shape[1]:]] |= owners
        return by_shown_digits.get((prefix, suffix), set())

    def match(self, bill_ref, msisdn=None, msisdn_kind=None, amount=None):
        """Return the suggestions for one payment, best first."""
        # Per slot: the score, the position in the entry of the reference
        # reason, and the later reasons. The scores dict keeps the order in
        # which documents were first found, which breaks ties in the sort.
        scores = {}
        found_by = {}
        extra_reasons = {}

        key = reference_key(bill_ref)
        partners, phone_score, phone_reason = self.partners_for_phone(msisdn, msisdn_kind)
        # Documents with other evidence are always checked for a typo in
        # full, so that a typo that happens to be another document's number
        # still meets its rival. Other neighbours are only a sample.
        # "2547 ***** 126" fits one number in a thousand, so a mask that fits
        # many customers only strengthens documents found another way.
        broad_mask = msisdn_kind == "masked" and len(partners) > MAX_MASK_PARTNERS
        partner_slots = set()
        if not broad_mask:
            for partner_id in partners:
                partner_slots.update(self._by_partner.get(partner_id, ()))
        evidence = set(partner_slots)
        if amount is not None:
            evidence.update(self._slots_near_amount(float(amount)))
        self._match_reference(key, scores, found_by, evidence)

        entries = self._entries
        if broad_mask:
            partner_slots = [slot for slot in scores if entries[slot][0].partner_id in partners]
        for slot in partner_slots:
            scores[slot] = scores.get(slot, 0) + phone_score
            extra_reasons.setdefault(slot, []).append(phone_reason)

        if amount is not None and scores:
            amount = float(amount)
            for slot in self._slots_near_amount(amount):
                if slot in scores and abs(entries[slot][0].amount_due - amount) < 0.005:
                    scores[slot] += SCORE_AMOUNT
                    extra_reasons.setdefault(slot, []).append("amount equals the amount due")

        suggestions = []
        for slot, score in scores.items():
            entry = entries[slot]
            reason_at = found_by.get(slot)
            extra = extra_reasons.get(slot)
            if reason_at is None:
                reasons = extra
            elif extra is None:
                reasons = [entry[reason_at]]
            else:
                reasons = [entry[reason_at]] + extra
            suggestions.append(Suggestion(entry[0], score, reasons))
        # Two stable sorts with C keys give the order of one sort on
        # (-score, id), ties kept in the order the documents were found.
        suggestions.sort(key=_TARGET_ID)
        suggestions.sort(key=_SCORE, reverse=True)
        return suggestions

    def _slots_near_amount(self, amount):
        """Return the slots whose amount due may lie within half a cent of ``amount``."""
        cents = _cents(amount)
        if cents is None:
            return list(self._slots.values())
        near = set(self._odd_amounts)
        for bucket in (cents - 1, cents, cents + 1):
            near.update(self._by_cents.get(bucket, ()))
        return near

    def _match_reference(self, key, scores, found_by, evidence):
        if len(key) < MIN_REFERENCE_LENGTH:
            return
        discarded = self._discarded
        exact = _slots(self._exact, key)
        if discarded:
            exact = [slot for slot in exact if slot not in discarded]
        scores.update(dict.fromkeys(exact, SCORE_EXACT))
        found_by.update(dict.fromkeys(exact, REASON_EXACT))

        digits = digits_key(key)
        if digits:
            by_digits = set(_slots(self._digits, digits)) - scores.keys()
            if discarded:
                by_digits -= discarded
            scores.update(dict.fromkeys(by_digits, SCORE_DIGITS))
            found_by.update(dict.fromkeys(by_digits, REASON_DIGITS))

        if len(key) < MIN_FUZZY_LENGTH:
            return
        fuzzy_keys = self._fuzzy_keys
        near = [slot for slot in evidence - scores.keys()
                if any(_one_edit_apart(key, other) for other in fuzzy_keys.get(slot, ()))]
        if not scores:
            # Nothing matched the reference itself: add a bounded sample of
            # the other neighbours as suggestions. With sequential numbers a
            # reference has a hundred neighbours, and without other
            # evidence any of them is as likely as the next. The probes go
            # in a fixed order, so that every process picks the same sample.
            sample = set()
            for probe in [key] + [key[:i] + key[i + 1:] for i in range(len(key))]:
                for slot in _slots(self._deleted, probe):
                    if slot not in sample and any(_one_edit_apart(key, other) for other in fuzzy_keys.get(slot, ())):
                        sample.add(slot)
                if len(sample) >= MAX_FUZZY_SAMPLE:
                    break
            near.extend(sorted(sample - scores.keys() - set(near) - discarded)[:MAX_FUZZY_SAMPLE])
        scores.update(dict.fromkeys(near, SCORE_ONE_OFF))
        found_by.update(dict.fromkeys(near, REASON_ONE_OFF))


def _one_edit_apart(key, other):
    """Return whether ``other`` is ``key`` with one character replaced, added, dropped, or swapped with the next.

    Two keys that lose one character each and then agree can differ in two
    places (INV0005 and INV0030), so the index's deletion forms only find
    candidates and this decides.
    """
    if len(key) == len(other):
        differences = [i for i in range(len(key)) if key[i] != other[i]]
        if len(differences) == 1:
            return True
        if len(differences) != 2:
            return False
        first, second = differences
        return second == first + 1 and key[first] == other[second] and key[second] == other[first]
    if abs(len(key) - len(other)) != 1:
        return False
    shorter, longer = (key, other) if len(key) < len(other) else (other, key)
    start = 0
    while start < len(shorter) and shorter[start] == longer[start]:
        start += 1
    return shorter[start:] == longer[start + 1:]


def is_confident(suggestions):
    """Return whether the best suggestion may be posted without a person."""
    if not suggestions:
        return False
    best = suggestions[0]
    rests_on_reference = any(reason.startswith(("account number", "digits")) for reason in best.reasons)
    runner_up = suggestions[1].score if len(suggestions) > 1 else 0
    return rests_on_reference and best.score >= CONFIDENT_SCORE and best.score - runner_up >= CONFIDENT_MARGIN
