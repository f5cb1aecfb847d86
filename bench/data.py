"""Build the matching benchmark's data: open invoices in bulk, and the C2B payments made for them.

Creating 10,000 invoices through the ORM takes longer than the whole
benchmark may, so one customer and one open invoice are created through
the ORM and then copied in SQL (``INSERT ... SELECT generate_series``) with
new numbers, customers and amounts. The copies have no invoice lines and no
journal entry: matching and the naive lookup read only the invoice row
(number, state, type, company, customer, amount due) and the customer's
M-Pesa number.

The payments are drawn from a seeded random generator, so every run and
every worker process gets the same references, numbers and amounts.
"""
import hashlib
import random
import re
from collections import namedtuple

Invoice = namedtuple("Invoice", "id number msisdn residual")
Invoice.__doc__ = """An invoice inserted for the benchmark, with its customer's 12-digit number."""

Payment = namedtuple("Payment", "bill_ref msisdn msisdn_kind amount shape expected_id")
Payment.__doc__ = """A C2B payment as Daraja reports it, and the invoice it was meant for (None if none)."""

NUMBER_PREFIX = "INV/2026/"
INVOICES_PER_CUSTOMER = 2
SEED = 2026

# How often customers type the account number in each shape, in percent.
# No published figures exist, so this mix is an assumption. The report's
# per-shape table shows each shape on its own.
SHAPE_WEIGHTS = [
    ("exact", 35),
    ("lower case", 10),
    ("spaces", 10),
    ("dashes", 10),
    ("no separators", 10),
    ("one character off", 8),
    ("digits only", 7),
    ("unknown", 5),
    ("phone only", 5),
]

# Forms of the payer's number, in percent: C2B v1 sends a SHA-256 hash, v2 a
# masked number such as "2547 ***** 126", and older registrations the plain number.
MSISDN_KIND_WEIGHTS = [("hashed", 45), ("masked", 45), ("plain", 10)]

# Share of payments made from the customer's own phone, and share that pay
# the whole amount due (the rest pay a quarter, half or 80 %).
OWN_PHONE_SHARE = 0.85
FULL_AMOUNT_SHARE = 0.85
PARTIAL_SHARES = (0.25, 0.5, 0.8)

# Account numbers that belong to no document: words people type, and their
# own phone number, which SIM-menu users often enter as the account.
UNKNOWN_WORDS = ("RENT", "SCHOOL FEES", "SHOP", "JOHN", "PAYMENT", "ACCOUNT", "STOCK")

# Letters that share a key on a phone keypad. A slip on the SIM menu picks a neighbour on the same key.
KEYPAD_GROUPS = ("ABC", "DEF", "GHI", "JKL", "MNO", "PQRS", "TUV", "WXYZ")

_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Z]")


# ----------------------------------------------------------------------
# Rows in the database
# ----------------------------------------------------------------------

def _copy_rows(cr, table, template_id, count, overrides, lateral="", params=None):
    """Insert ``count`` copies of one row of ``table``, with SQL expressions for some columns.

    The expressions can use ``g`` (1 to ``count``) and any name the
    ``lateral`` clause defines. Columns not in ``overrides`` keep the template row's value, so
    every column the ORM filled, required or not, is filled in the copies.

    :return: the new ids, in the order of ``g``.
    """
    cr.execute(
        """SELECT column_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = %s
           ORDER BY ordinal_position""",
        (table,),
    )
    columns = [name for (name,) in cr.fetchall() if name != "id"]
    unknown = set(overrides) - set(columns)
    if unknown:
        raise ValueError("Table %s has no column %s; fix the overrides in bench/data.py." % (table, sorted(unknown)))

    values = [overrides.get(column, 'tpl."%s"' % column) for column in columns]
    query = """
        INSERT INTO {table} ({columns})
        SELECT {values}
        FROM {table} tpl CROSS JOIN generate_series(1, %(count)s) AS g {lateral}
        WHERE tpl.id = %(template_id)s
        ORDER BY g
        RETURNING id""".format(
        table=table,
        columns=", ".join('"%s"' % column for column in columns),
        values=", ".join(values),
        lateral=lateral,
    )
    query_params = dict(params or {}, count=count, template_id=template_id)
    cr.execute(query, query_params)
    ids = [row[0] for row in cr.fetchall()]
    if len(ids) != count:
        raise RuntimeError("Inserted %d rows into %s instead of %d." % (len(ids), table, count))
    return sorted(ids)


def create_templates(env):
    """Create, through the ORM, the customer and the open invoice that the bulk rows copy."""
    customer = env["res.partner"].create({
        "name": "Template customer",
        "customer": True,
        "mobile": "0799 000 001",
        "country_id": env.ref("base.ke").id,
    })
    revenue = env["account.account"].search(
        [("user_type_id", "=", env.ref("account.data_account_type_revenue").id)], limit=1)
    return customer, make_open_invoice(env, customer, 3000.0, revenue)


def make_open_invoice(env, customer, amount, revenue):
    """Create and validate, through the ORM, a KES customer invoice of one untaxed line."""
    invoice = env["account.invoice"].create({
        "partner_id": customer.id,
        "type": "out_invoice",
        "currency_id": env.ref("base.KES").id,
        "invoice_line_ids": [(0, 0, {
            "name": "Sack of rice 25 kg",
            "quantity": 1,
            "price_unit": amount,
            "account_id": revenue.id,
            "invoice_line_tax_ids": [(6, 0, [])],
        })],
    })
    invoice.action_invoice_open()
    return invoice


def insert_invoices(env, count):
    """Insert ``count`` open customer invoices, two per customer, each customer with an M-Pesa number.

    Numbers run from ``INV/2026/00001``; amounts due run from KES 500 to
    49,499. Ends with ANALYZE so that PostgreSQL plans the lookups for the
    table's real size.

    :return: the invoices as :class:`Invoice`, in number order.
    """
    cr = env.cr
    customer, invoice = create_templates(env)
    customer_count = (count + INVOICES_PER_CUSTOMER - 1) // INVOICES_PER_CUSTOMER

    # Customers: unique Safaricom numbers 2547XXXXXXXX (7919 is prime, so
    # g * 7919 modulo 10^8 differs for every g below 10^8), with the mobile
    # as people write it and the stored forms Odoo computes from it.
    customer_ids = _copy_rows(
        cr, "res_partner", customer.id, customer_count,
        overrides={
            "name": "'Customer ' || lpad(g::text, 5, '0')",
            "display_name": "'Customer ' || lpad(g::text, 5, '0')",
            "mobile": ("'0' || substr(m.msisdn, 4, 3) || ' ' || substr(m.msisdn, 7, 3) || ' ' "
                       "|| substr(m.msisdn, 10, 3)"),
            "mpesa_msisdn": "m.msisdn",
            "mpesa_msisdn_hash": "encode(sha256(convert_to(m.msisdn, 'UTF8')), 'hex')",
            "commercial_partner_id": "NULL",
        },
        lateral="CROSS JOIN LATERAL (SELECT '2547' || lpad(((g::bigint * 7919) %% 100000000)::text, 8, '0') "
                "AS msisdn) AS m",
    )
    cr.execute("UPDATE res_partner SET commercial_partner_id = id WHERE id = ANY(%s)", (customer_ids,))

    # Invoices: open, numbered in sequence, no lines and no journal entry.
    invoice_ids = _copy_rows(
        cr, "account_invoice", invoice.id, count,
        overrides={
            "number": "%(prefix)s || lpad(g::text, 5, '0')",
            "move_name": "%(prefix)s || lpad(g::text, 5, '0')",
            "name": "NULL",
            "origin": "NULL",
            "reference": "NULL",
            "move_id": "NULL",
            "access_token": "NULL",
            "state": "'open'",
            "type": "'out_invoice'",
            "partner_id": "(%(customers)s::int[])[(g - 1) / %(per_customer)s + 1]",
            "commercial_partner_id": "(%(customers)s::int[])[(g - 1) / %(per_customer)s + 1]",
            "date_invoice": "DATE '2026-11-01' + (g %% 30)",
            "date": "DATE '2026-11-01' + (g %% 30)",
            "date_due": "DATE '2026-12-01' + (g %% 30)",
            "amount_untaxed": "a.amount",
            "amount_untaxed_signed": "a.amount",
            "amount_tax": "0",
            "amount_total": "a.amount",
            "amount_total_signed": "a.amount",
            "amount_total_company_signed": "a.amount",
            "residual": "a.amount",
            "residual_signed": "a.amount",
            "residual_company_signed": "a.amount",
            "reconciled": "false",
        },
        lateral="CROSS JOIN LATERAL (SELECT (500 + (g * 7331) %% 49000)::numeric AS amount) AS a",
        params={"prefix": NUMBER_PREFIX, "customers": customer_ids, "per_customer": INVOICES_PER_CUSTOMER},
    )
    cr.execute("ANALYZE account_invoice")
    cr.execute("ANALYZE res_partner")
    env.cache.invalidate()

    cr.execute(
        """SELECT invoice.id, invoice.number, customer.mpesa_msisdn, invoice.residual
           FROM account_invoice invoice
           JOIN res_partner customer ON customer.id = invoice.commercial_partner_id
           WHERE invoice.id = ANY(%s)
           ORDER BY invoice.number""",
        (invoice_ids,),
    )
    return [Invoice(row[0], row[1], row[2], float(row[3])) for row in cr.fetchall()]


# ----------------------------------------------------------------------
# Payments as customers make them
# ----------------------------------------------------------------------

def reference_key(text):
    """Return ``text`` in upper case with only its letters and digits (the benchmark's own copy)."""
    return _NOT_ALPHANUMERIC.sub("", text.upper())


def _neighbour(char, rng):
    if char.isdigit():
        return str((int(char) + rng.choice((1, 9))) % 10)
    group = next(letters for letters in KEYPAD_GROUPS if char.upper() in letters)
    return rng.choice([letter for letter in group if letter != char.upper()])


def mistype(number, rng):
    """Return ``number`` with one slip: a character dropped, doubled, swapped with the next, or replaced."""
    positions = [i for i, char in enumerate(number) if char.isalnum()]
    while True:
        i = rng.choice(positions)
        slip = rng.choice(("drop", "double", "swap", "replace"))
        if slip == "drop":
            typed = number[:i] + number[i + 1:]
        elif slip == "double":
            typed = number[:i] + number[i] + number[i:]
        elif slip == "swap":
            if i + 1 not in positions:
                continue
            typed = number[:i] + number[i + 1] + number[i] + number[i + 2:]
        else:
            typed = number[:i] + _neighbour(number[i], rng) + number[i + 1:]
        # Swapping two equal digits changes nothing; draw again.
        if reference_key(typed) != reference_key(number):
            return typed


def type_reference(shape, number, rng):
    """Return the account number a customer types for invoice ``number`` in ``shape``."""
    if shape == "exact":
        return number
    if shape == "lower case":
        return number.lower()
    if shape == "spaces":
        return number.replace("/", " ")
    if shape == "dashes":
        return number.replace("/", "-")
    if shape == "no separators":
        return number.replace("/", "")
    if shape == "digits only":
        return "".join(char for char in number if char.isdigit())
    if shape == "one character off":
        return mistype(number, rng)
    if shape == "unknown":
        if rng.random() < 0.3:
            return "07%08d" % rng.randrange(10 ** 8)
        return rng.choice(UNKNOWN_WORDS)
    if shape == "phone only":
        return ""
    raise ValueError("Unknown reference shape %r; use one of SHAPE_WEIGHTS." % shape)


def send_msisdn(msisdn, kind):
    """Return ``msisdn`` as Daraja sends it in a C2B notification of ``kind``."""
    if kind == "hashed":
        return hashlib.sha256(msisdn.encode("ascii")).hexdigest()
    if kind == "masked":
        return "%s ***** %s" % (msisdn[:4], msisdn[-3:])
    return msisdn


def make_payments(invoices, seed=SEED):
    """Return one payment per invoice, in shuffled order, drawn from a generator seeded with ``seed``."""
    rng = random.Random(seed)
    shapes, shape_weights = zip(*SHAPE_WEIGHTS)
    kinds, kind_weights = zip(*MSISDN_KIND_WEIGHTS)
    payments = []
    for invoice in invoices:
        shape = rng.choices(shapes, shape_weights)[0]
        bill_ref = type_reference(shape, invoice.number, rng)

        # Payer's number: the customer's own, or someone paying for them
        # from a 2541 1XX number that no customer here has.
        own_phone = shape == "phone only" or rng.random() < OWN_PHONE_SHARE
        msisdn = invoice.msisdn if own_phone else "25411%07d" % rng.randrange(10 ** 7)
        kind = rng.choices(kinds, kind_weights)[0]

        amount = invoice.residual
        if rng.random() >= FULL_AMOUNT_SHARE:
            amount = float(round(invoice.residual * rng.choice(PARTIAL_SHARES)))

        expected = None if shape == "unknown" else invoice.id
        payments.append(Payment(bill_ref, send_msisdn(msisdn, kind), kind, amount, shape, expected))
    rng.shuffle(payments)
    return payments
