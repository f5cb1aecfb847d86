"""Render the HTML phone page: pending STK prompts with Pay/Cancel buttons, a PayBill form and recent messages."""
import datetime
import html
import urllib.parse
from decimal import Decimal

from .formats import EAT, parse_eat_stamp

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: #eef1f4; margin: 0; color: #1d2731; }
main { max-width: 26rem; margin: 1.5rem auto; background: #fff; border-radius: 1.2rem; padding: 1.2rem 1.4rem;
       box-shadow: 0 0.3rem 1.2rem rgba(0, 0, 0, 0.12); }
h1 { font-size: 1.25rem; margin: 0 0 0.2rem; }
h2 { font-size: 1rem; margin: 1.4rem 0 0.5rem; border-bottom: 1px solid #dde3e8; padding-bottom: 0.3rem; }
p.hint, p.meta, p.empty { color: #5b6874; font-size: 0.85rem; margin: 0.2rem 0; }
.message { background: #e7f6ec; border: 1px solid #9fd5b1; border-radius: 0.5rem; padding: 0.5rem 0.7rem; }
.prompt { border: 1px solid #cfd8df; border-radius: 0.8rem; padding: 0.8rem; margin: 0.6rem 0; background: #fafcfd; }
.prompt .ask { font-size: 1.05rem; margin: 0.2rem 0 0.6rem; }
.actions { display: flex; gap: 0.5rem; }
.actions form { flex: 1; }
button { width: 100%; padding: 0.55rem; border-radius: 0.5rem; border: 1px solid #8a98a5; background: #fff;
         font-size: 0.95rem; cursor: pointer; }
button.pay { background: #2f9e44; border-color: #2f9e44; color: #fff; }
label { display: block; font-size: 0.85rem; margin: 0.5rem 0 0.15rem; }
input { width: 100%; box-sizing: border-box; padding: 0.45rem; border: 1px solid #b7c2cc; border-radius: 0.4rem;
        font-size: 0.95rem; }
form.sim button { margin-top: 0.8rem; }
form.filter { display: flex; gap: 0.4rem; align-items: end; }
form.filter button { width: auto; }
ul.sms { list-style: none; padding: 0; margin: 0; }
ul.sms li { background: #f1f4f7; border-radius: 0.6rem; padding: 0.5rem 0.7rem; margin: 0.4rem 0; font-size: 0.88rem; }
"""


def _e(value):
    return html.escape("" if value is None else str(value), quote=True)


def _phone_url(msisdn):
    return "/sandbox/phone" + ("?" + urllib.parse.urlencode({"msisdn": msisdn}) if msisdn else "")


def _shillings(amount):
    value = Decimal(str(amount))
    return "{:,.2f}".format(value)


def _merchant_name(state, code):
    entry = state.shortcodes.get(code)
    if entry is None:
        for till in state.shortcodes.values():
            if till["type"] == "till" and till["store_number"] == code:
                entry = till
                break
    return (entry or {}).get("name") or code


def _answer_form(checkout_id, action, label, css_class, redirect):
    return (
        '<form method="post" action="/sandbox/prompts/%s/answer">'
        '<input type="hidden" name="action" value="%s">'
        '<input type="hidden" name="redirect" value="%s">'
        '<button type="submit" class="%s">%s</button></form>'
        % (_e(urllib.parse.quote(checkout_id)), _e(action), _e(redirect), css_class, _e(label)))


def _prompt_card(state, prompt, redirect):
    created = datetime.datetime.fromisoformat(prompt["CreatedAt"]).astimezone(EAT).strftime("%H:%M:%S")
    name = _merchant_name(state, prompt["BusinessShortCode"])
    return (
        '<div class="prompt">'
        '<p class="meta">From %s (%s) to %s</p>'
        '<p class="ask">Pay <strong>KES %s</strong> to <strong>%s</strong> for account <strong>%s</strong>?</p>'
        '<p class="meta">Enter your M-Pesa PIN to pay. Sent at %s EAT.</p>'
        '<div class="actions">%s%s</div>'
        '</div>'
        % (_e(name), _e(prompt["BusinessShortCode"]), _e(prompt["PhoneNumber"]), _e(_shillings(prompt["Amount"])), _e(name),
           _e(prompt["AccountReference"]), _e(created),
           _answer_form(prompt["CheckoutRequestID"], "pay", "Pay", "pay", redirect),
           _answer_form(prompt["CheckoutRequestID"], "cancel", "Cancel", "cancel", redirect)))


def _sms_text(state, record):
    moment = parse_eat_stamp(record["TransTime"])
    when = moment.strftime("%d/%m/%y at %I:%M %p") if moment else record["TransTime"]
    name = _merchant_name(state, record["ShortCode"])
    if record["status"] == "rejected":
        return "%s Failed. Your payment of Ksh%s to %s was not accepted (%s)." % (
            record["TransID"], _shillings(record["Amount"]), name, record.get("result_code"))
    if record["kind"] == "reversal":
        return "%s Confirmed. Ksh%s from %s has been reversed to your M-PESA account on %s." % (
            record["TransID"], _shillings(record["Amount"]), name, when)
    account = " for account %s" % record["BillRefNumber"] if record.get("BillRefNumber") else ""
    return "%s Confirmed. Ksh%s sent to %s%s on %s." % (
        record["TransID"], _shillings(record["Amount"]), name, account, when)


def render(state, stk, msisdn=None, message=None, typed_msisdn=None):
    """Return the phone page for one number (or for every number when `msisdn` is None)."""
    redirect = _phone_url(msisdn)
    prompts = stk.prompts_view(msisdn)
    with state.lock:
        cards = "".join(_prompt_card(state, prompt, redirect) for prompt in prompts)
        records = [record for record in state.transactions if msisdn is None or record["MSISDN"] == msisdn]
        messages = "".join("<li>%s</li>" % _e(_sms_text(state, record)) for record in reversed(records[-10:]))
        # Shortcodes with C2B URLs first: a payment to any other reaches no business system.
        paybills = ", ".join(sorted((code for code, entry in state.shortcodes.items() if entry["type"] == "paybill"),
                                    key=lambda code: (code not in state.registrations, code)))
        registered = ", ".join(sorted(state.registrations)) or "none yet"

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Sandbox phone%s</title>" % (" " + _e(msisdn) if msisdn else ""),
        "<style>%s</style></head><body><main>" % STYLE,
        "<h1>Sandbox phone</h1>",
        '<p class="hint">Offline M-Pesa sandbox. %s <a href="%s">Refresh</a></p>' % (
            "Showing %s." % _e(msisdn) if msisdn else "Showing every phone.", _e(redirect)),
        '<form class="filter" method="get" action="/sandbox/phone">'
        '<div style="flex:1"><label for="msisdn">Phone number</label>'
        '<input id="msisdn" name="msisdn" value="%s" placeholder="0712345678"></div>'
        '<button type="submit">Show</button></form>' % _e(msisdn or typed_msisdn or ""),
    ]
    if typed_msisdn and not msisdn:
        parts.append('<p class="message">%s is not a Safaricom number; showing every phone.</p>' % _e(typed_msisdn))
    if message:
        parts.append('<p class="message">%s</p>' % _e(message))

    parts.append("<h2>Payment requests</h2>")
    parts.append(cards or '<p class="empty">No payment requests waiting.</p>')

    parts.append("<h2>Pay a PayBill from the SIM menu</h2>")
    parts.append('<p class="hint">Business numbers with C2B URLs registered: %s. '
                 'Payments to others are recorded here only.</p>' % _e(registered))
    parts.append(
        '<form class="sim" method="post" action="/sandbox/c2b/pay">'
        '<input type="hidden" name="redirect" value="%s">'
        '<label for="ShortCode">Business number</label>'
        '<input id="ShortCode" name="ShortCode" required inputmode="numeric" placeholder="%s">'
        '<label for="BillRefNumber">Account number</label>'
        '<input id="BillRefNumber" name="BillRefNumber" placeholder="INV-2024-0001">'
        '<label for="Amount">Amount (KES)</label>'
        '<input id="Amount" name="Amount" required inputmode="numeric" placeholder="100">'
        '<label for="MSISDN">Your phone number</label>'
        '<input id="MSISDN" name="MSISDN" required value="%s" placeholder="0712345678">'
        '<button type="submit" class="pay">Send money</button></form>'
        % (_e(redirect), _e(paybills.split(", ")[0] if paybills else ""), _e(msisdn or "")))
    parts.append('<p class="hint">PayBills here: %s.</p>' % _e(paybills or "none"))

    parts.append("<h2>Messages</h2>")
    parts.append('<ul class="sms">%s</ul>' % messages if messages else '<p class="empty">No messages yet.</p>')
    parts.append("</main></body></html>")
    return "\n".join(parts)
