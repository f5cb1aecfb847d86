"""Test the HTML phone page: pending prompts, the Pay and Cancel buttons and the SIM-menu PayBill form."""
import html.parser

import requests


class FormCollector(html.parser.HTMLParser):
    """Collect the forms of a page as (action, method, {field name: value})."""

    def __init__(self):
        html.parser.HTMLParser.__init__(self)
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append((attrs.get("action"), attrs.get("method", "get"), {}))
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1][2][attrs["name"]] = attrs.get("value", "")


def forms_of(page_html):
    collector = FormCollector()
    collector.feed(page_html)
    return collector.forms


def test_page_lists_prompt(daraja, callback_receiver):
    """Test that the phone page shows the requesting merchant, the amount and the account of a pending prompt."""
    daraja.stk_push(CallBackURL=callback_receiver.url + "/stk", Amount=1500, AccountReference="SO042")
    reply = requests.get(daraja.base_url + "/sandbox/phone", params={"msisdn": "0708374149"}, timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "KES 1,500.00" in reply.text
    assert "SO042" in reply.text
    assert "Sandbox Shop" in reply.text
    assert "<script" not in reply.text


def test_page_other_phone_empty(daraja, callback_receiver):
    """Test that the page filtered to another number shows no prompt."""
    daraja.stk_push(CallBackURL=callback_receiver.url + "/stk")
    page = requests.get(daraja.base_url + "/sandbox/phone", params={"msisdn": "254711111111"}, timeout=10).text
    assert "No payment requests waiting." in page


def test_page_pay_button(daraja, callback_receiver):
    """Test that submitting the Pay form pays the prompt and redirects back with the receipt."""
    checkout_id = daraja.stk_push(CallBackURL=callback_receiver.url + "/stk").json()["CheckoutRequestID"]
    page = requests.get(daraja.base_url + "/sandbox/phone?msisdn=254708374149", timeout=10).text
    pay_forms = [form for form in forms_of(page) if form[2].get("action") == "pay"]
    action, method, fields = pay_forms[0]

    reply = requests.post(daraja.base_url + action, data=fields, timeout=10)
    callback = callback_receiver.wait_for(1)[0].json["Body"]["stkCallback"]

    assert len(pay_forms) == 1
    assert method == "post"
    assert checkout_id in action
    assert reply.status_code == 200
    assert "Paid. Receipt" in reply.text
    assert "No payment requests waiting." in reply.text
    assert callback["ResultCode"] == 0


def test_page_cancel_button(daraja, callback_receiver):
    """Test that submitting the Cancel form sends the 1032 callback."""
    daraja.stk_push(CallBackURL=callback_receiver.url + "/stk")
    page = requests.get(daraja.base_url + "/sandbox/phone", timeout=10).text
    action, method, fields = [form for form in forms_of(page) if form[2].get("action") == "cancel"][0]
    requests.post(daraja.base_url + action, data=fields, timeout=10)
    assert callback_receiver.wait_for(1)[0].json["Body"]["stkCallback"]["ResultCode"] == 1032


def test_page_sim_menu_payment(daraja, callback_receiver):
    """Test that the SIM-menu form pays a PayBill, confirms it and lists the message."""
    daraja.register("600000", callback_receiver.url)
    page = requests.get(daraja.base_url + "/sandbox/phone", timeout=10).text
    action, method, fields = [form for form in forms_of(page) if form[0] == "/sandbox/c2b/pay"][0]
    fields.update({"ShortCode": "600000", "BillRefNumber": "INV-7", "Amount": "250", "MSISDN": "0712 345 678"})

    reply = requests.post(daraja.base_url + action, data=fields, timeout=10)
    confirmation = callback_receiver.wait_for(1, path="/confirm")[0].json

    assert reply.status_code == 200
    assert "Paid KES 250 to 600000" in reply.text
    assert "Confirmed. Ksh250.00 sent to Sandbox PayBill for account INV-7" in reply.text
    assert confirmation["BillRefNumber"] == "INV-7"


def test_page_sim_menu_error(daraja):
    """Test that a bad amount in the SIM-menu form comes back as a message on the page."""
    reply = requests.post(daraja.base_url + "/sandbox/c2b/pay",
                          data={"ShortCode": "600000", "Amount": "abc", "MSISDN": "0712345678",
                                "redirect": "/sandbox/phone"}, timeout=10)
    assert reply.status_code == 200
    assert "Amount must be whole shillings" in reply.text


def test_page_escapes_text(daraja, callback_receiver):
    """Test that prompt text is HTML-escaped."""
    daraja.stk_push(CallBackURL=callback_receiver.url + "/stk", AccountReference="<b>x</b>")
    page = requests.get(daraja.base_url + "/sandbox/phone", timeout=10).text
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


def test_page_redirect_stays_local(daraja, callback_receiver):
    """Test that a form's redirect target outside the phone page is replaced by the phone page."""
    checkout_id = daraja.stk_push(CallBackURL=callback_receiver.url + "/stk").json()["CheckoutRequestID"]
    reply = requests.post(daraja.base_url + "/sandbox/prompts/%s/answer" % checkout_id,
                          data={"action": "pay", "redirect": "http://evil.example/"}, allow_redirects=False,
                          timeout=10)
    assert reply.status_code == 303
    assert reply.headers["Location"].startswith("/sandbox/phone")


def test_page_names_registered_shortcodes(daraja, callback_receiver):
    """Test that the SIM-menu form names the business numbers that reach a business system."""
    before = requests.get(daraja.base_url + "/sandbox/phone", timeout=10).text
    assert "C2B URLs registered: none yet" in before
    reply = daraja.register("600000", callback_receiver.url)
    assert reply.status_code == 200, reply.text
    after = requests.get(daraja.base_url + "/sandbox/phone", timeout=10).text
    assert "C2B URLs registered: 600000." in after
