import binascii
import hmac
import logging
import os

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from .. import daraja
from .mpesa_access_token import DatabaseTokenCache

_logger = logging.getLogger(__name__)

# Daraja's per-transaction maximum in KES (Daraja STK Push page, FAQ 5, read
# 2025-12). It has changed before (it was 70,000), so it is a setting.
DEFAULT_MAX_AMOUNT = 250000

# Paths of our callback routes below the public base URL. They hold none of
# the words Daraja blocks in URLs (mpesa, safaricom, exe, cmd, sql, query...).
CALLBACK_PATHS = {
    "stk": "/payment/lipa/%(id)s/%(secret)s/stk-result/%(tx)s",
    "c2b_validation": "/payment/lipa/%(id)s/%(secret)s/c2b-validation",
    "c2b_confirmation": "/payment/lipa/%(id)s/%(secret)s/c2b-confirmation",
    "result": "/payment/lipa/%(id)s/%(secret)s/result",
    "timeout": "/payment/lipa/%(id)s/%(secret)s/timeout",
}


def _new_secret():
    # Hex digits only: a secret in a URL must never spell a blocked word.
    return binascii.hexlify(os.urandom(16)).decode("ascii")


class PaymentAcquirer(models.Model):
    _inherit = "payment.acquirer"

    provider = fields.Selection(selection_add=[("mpesa", "M-Pesa")])

    mpesa_environment = fields.Selection(
        [
            ("production", "Production (Safaricom)"),
            ("sandbox", "Safaricom sandbox"),
            ("offline", "Offline sandbox (this project)"),
        ],
        string="Daraja environment",
        default="offline",
        help="Where requests go. The offline sandbox runs on this machine "
             "(python -m daraja_sandbox) and needs no Safaricom account.",
    )
    mpesa_offline_url = fields.Char(
        string="Offline sandbox URL",
        default="http://127.0.0.1:8765",
        help="Base URL of the offline Daraja sandbox.",
    )
    mpesa_consumer_key = fields.Char(string="Consumer key", groups="base.group_system")
    mpesa_consumer_secret = fields.Char(string="Consumer secret", groups="base.group_system")
    mpesa_passkey = fields.Char(string="Passkey", groups="base.group_system")
    mpesa_shortcode_type = fields.Selection(
        [("paybill", "PayBill"), ("till", "Till (Buy Goods)")],
        string="Shortcode type",
        default="paybill",
    )
    mpesa_shortcode = fields.Char(
        string="Shortcode",
        help="The PayBill number, or for a Till the store (head office) "
             "number that Daraja expects as BusinessShortCode.",
    )
    mpesa_till_number = fields.Char(
        string="Till number",
        help="The Till customers pay to; only for the Till type.",
    )
    mpesa_initiator_name = fields.Char(string="Initiator name", groups="base.group_system")
    mpesa_initiator_password = fields.Char(string="Initiator password", groups="base.group_system")
    mpesa_certificate = fields.Text(
        string="Daraja certificate (PEM)",
        groups="base.group_system",
        help="Safaricom's public certificate, used to encrypt the initiator "
             "password for Transaction Status, Reversal and Account Balance.",
    )
    mpesa_public_url = fields.Char(
        string="Public base URL",
        help="The https address at which Safaricom reaches this Odoo, e.g. "
             "https://erp.example.co.ke. Callback URLs are built from it.",
    )
    mpesa_callback_secret = fields.Char(
        string="Callback secret",
        copy=False,
        groups="base.group_system",
        help="Random hex part of every callback URL; callbacks without it "
             "are kept for review and never posted.",
    )
    mpesa_allow_overpayment = fields.Boolean(
        string="Allow overpayment",
        help="Let staff request more than the amount due; the rest stays "
             "on the customer's account as credit.",
    )
    mpesa_max_amount = fields.Integer(string="Maximum per payment (KES)", default=DEFAULT_MAX_AMOUNT)
    mpesa_query_after = fields.Integer(
        string="Query pending after (minutes)",
        default=2,
        help="The status cron asks Daraja about STK Push requests that have "
             "had no callback for this long.",
    )
    mpesa_c2b_version = fields.Selection(
        [("v1", "v1 (hashed MSISDN)"), ("v2", "v2 (masked MSISDN)")],
        string="C2B register URL version",
        default="v1",
    )
    mpesa_c2b_response_type = fields.Selection(
        [("Completed", "Completed"), ("Cancelled", "Cancelled")],
        string="When validation does not answer",
        default="Completed",
        help="What M-Pesa does with a C2B payment when our validation URL "
             "cannot be reached in time.",
    )
    mpesa_c2b_reject_unknown = fields.Boolean(
        string="Reject unknown account numbers",
        help="Validation rejects a PayBill payment whose account number "
             "matches no open invoice or order. Needs external validation, "
             "which Safaricom enables on request.",
    )
    mpesa_c2b_min_amount = fields.Integer(string="Minimum C2B amount (KES)")
    mpesa_c2b_max_amount = fields.Integer(string="Maximum C2B amount (KES)")
    mpesa_c2b_registration = fields.Text(string="Last C2B registration", readonly=True, copy=False)

    # ------------------------------------------------------------------
    # Constraints and set-up
    # ------------------------------------------------------------------

    @api.constrains("provider", "mpesa_shortcode", "mpesa_till_number", "mpesa_shortcode_type")
    def _check_mpesa_shortcode(self):
        for acquirer in self.filtered(lambda a: a.provider == "mpesa"):
            for label, value in ((_("Shortcode"), acquirer.mpesa_shortcode),
                                 (_("Till number"), acquirer.mpesa_till_number)):
                if value and not (value.isdigit() and 5 <= len(value) <= 7):
                    raise ValidationError(_(
                        "%(label)s '%(value)s' on %(acquirer)s is invalid: "
                        "M-Pesa shortcodes have 5 to 7 digits."
                    ) % {"label": label, "value": value, "acquirer": acquirer.name})
            if acquirer.mpesa_shortcode_type == "till" and not acquirer.mpesa_till_number:
                raise ValidationError(_(
                    "%s is a Till acquirer without a till number. Enter the "
                    "till number customers pay to."
                ) % acquirer.name)

    @api.model
    def create(self, vals):
        if vals.get("provider") == "mpesa" and not vals.get("journal_id"):
            # payment.acquirer defaults to the first bank journal; each
            # shortcode gets a KES journal of its own instead.
            vals = dict(vals, journal_id=False)
        acquirer = super(PaymentAcquirer, self).create(vals)
        if acquirer.provider == "mpesa":
            if not acquirer.sudo().mpesa_callback_secret:
                acquirer.sudo().mpesa_callback_secret = _new_secret()
            acquirer._mpesa_ensure_journal()
        return acquirer

    @api.multi
    def copy(self, default=None):
        default = dict(default or {})
        if self.provider == "mpesa":
            # A copy is usually another shortcode, which needs its own journal.
            default.setdefault("journal_id", False)
        return super(PaymentAcquirer, self).copy(default)

    @api.multi
    def action_mpesa_rotate_secret(self):
        """Replace the callback secret. Register the C2B URLs again after this."""
        for acquirer in self:
            acquirer.sudo().mpesa_callback_secret = _new_secret()
            # payment.acquirer has no chatter in Odoo 11, so the log keeps the trace.
            _logger.info("payment.acquirer %s: callback secret rotated by user %s", acquirer.id, self.env.uid)
        return True

    @api.multi
    def _mpesa_ensure_journal(self):
        """Give each M-Pesa acquirer a KES bank journal when it has none."""
        kes = self.env.ref("base.KES")
        kes.active = True
        for acquirer in self:
            if acquirer.journal_id or not acquirer.company_id.chart_template_id:
                continue
            vals = acquirer._prepare_account_journal_vals()
            vals.update({
                "name": _("M-Pesa %s") % acquirer.mpesa_shortcode if acquirer.mpesa_shortcode else acquirer.name,
                "code": acquirer._mpesa_free_journal_code(),
                "inbound_payment_method_ids": [(6, 0, [self.env.ref("account.account_payment_method_manual_in").id])],
            })
            if acquirer.company_id.currency_id != kes:
                vals["currency_id"] = kes.id
            acquirer.journal_id = self.env["account.journal"].create(vals)

    def _mpesa_free_journal_code(self):
        # Journal codes have at most 5 characters and are unique per company.
        Journal = self.env["account.journal"]
        digits = (self.mpesa_shortcode or "")[-3:]
        candidates = ["MP%s" % digits] + ["MP%d" % number for number in range(1, 1000)]
        for code in candidates:
            if not Journal.search_count([("code", "=", code), ("company_id", "=", self.company_id.id)]):
                return code
        raise UserError(_("No free journal code for the M-Pesa acquirer %s; create its journal by hand.") % self.name)

    # ------------------------------------------------------------------
    # Daraja access
    # ------------------------------------------------------------------

    def _mpesa_base_url(self):
        self.ensure_one()
        if self.mpesa_environment == "production":
            return daraja.PRODUCTION_URL
        if self.mpesa_environment == "sandbox":
            return daraja.SAFARICOM_SANDBOX_URL
        return (self.mpesa_offline_url or "").rstrip("/")

    def _mpesa_get_client(self):
        """Return a Daraja client for this acquirer, sharing tokens through the database."""
        self.ensure_one()
        acquirer = self.sudo()
        missing = [label for label, value in (
            (_("Consumer key"), acquirer.mpesa_consumer_key),
            (_("Consumer secret"), acquirer.mpesa_consumer_secret),
            (_("Passkey"), acquirer.mpesa_passkey),
            (_("Shortcode"), acquirer.mpesa_shortcode),
        ) if not value]
        if missing:
            raise UserError(_(
                "The M-Pesa acquirer %(name)s is missing: %(fields)s. Set them in "
                "Invoicing > Configuration > Payment Acquirers > %(name)s."
            ) % {"name": self.name, "fields": ", ".join(missing)})
        return daraja.DarajaClient(
            self._mpesa_base_url(),
            acquirer.mpesa_consumer_key,
            acquirer.mpesa_consumer_secret,
            environment=self.mpesa_environment,
            token_cache=DatabaseTokenCache(self.env.registry),
        )

    def _mpesa_callback_url(self, kind, tx_id=0):
        """Return the full callback URL of the given kind, checked against Daraja's rules.

        STK result URLs end with the id of our mpesa.transaction, so that a
        result arriving before the push's own response (which brings the
        CheckoutRequestID) still finds its transaction.

        :raise UserError: when the public base URL is missing or breaks a rule,
            naming the offending part.
        """
        self.ensure_one()
        base = (self.mpesa_public_url or "").strip().rstrip("/")
        if not base:
            raise UserError(_(
                "The M-Pesa acquirer %s has no public base URL. Set the https "
                "address at which Safaricom reaches this Odoo in its Configuration tab."
            ) % self.name)
        secret = self.sudo().mpesa_callback_secret
        url = base + CALLBACK_PATHS[kind] % {"id": self.id, "secret": secret, "tx": tx_id}
        try:
            daraja.check_callback_url(url, environment=self.mpesa_environment)
        except daraja.errors.DarajaConfigError as error:
            raise UserError(_("M-Pesa acquirer %(name)s: %(error)s") % {
                "name": self.name, "error": error.message.replace(secret, "<secret>"),
            })
        return url

    def _mpesa_receiving_shortcode(self):
        """Return the PayBill, or for a Till the till number, that customers pay into."""
        self.ensure_one()
        if self.mpesa_shortcode_type == "till":
            return self.mpesa_till_number
        return self.mpesa_shortcode

    @api.multi
    def action_mpesa_register_c2b_urls(self):
        """Register this shortcode's C2B validation and confirmation URLs with Daraja.

        In production this is a one-time call: changing the URLs later means
        deleting them on Safaricom's portal first.
        """
        self.ensure_one()
        acquirer = self.sudo()
        shortcode = acquirer._mpesa_receiving_shortcode()
        client = acquirer._mpesa_get_client()
        try:
            response = client.c2b_register_url(
                shortcode,
                confirmation_url=self._mpesa_callback_url("c2b_confirmation"),
                validation_url=self._mpesa_callback_url("c2b_validation"),
                response_type=acquirer.mpesa_c2b_response_type or "Completed",
                version=acquirer.mpesa_c2b_version or "v1",
            )
        except daraja.errors.DarajaError as error:
            self.mpesa_c2b_registration = _("%(date)s: registration failed: %(error)s") % {
                "date": fields.Datetime.now(), "error": error.message}
            _logger.warning("C2B URL registration for shortcode %s failed: %s", shortcode, error.message)
            raise UserError(_("Daraja did not register the C2B URLs of %(code)s: %(error)s") % {
                "code": shortcode, "error": error.message})
        self.mpesa_c2b_registration = _("%(date)s: Daraja answered %(code)s %(desc)s (%(version)s)") % {
            "date": fields.Datetime.now(), "code": response.response_code,
            "desc": response.response_description, "version": acquirer.mpesa_c2b_version}
        _logger.info("C2B URLs registered for shortcode %s (%s)", shortcode, acquirer.mpesa_c2b_version)
        return True

    def _mpesa_check_secret(self, secret):
        """Compare a secret from a callback URL with ours in constant time."""
        self.ensure_one()
        expected = self.sudo().mpesa_callback_secret or ""
        return bool(expected) and hmac.compare_digest(expected.encode(), (secret or "").encode())

    @api.multi
    def mpesa_get_form_action_url(self):
        # STK Push starts from the Pay via M-Pesa wizard, not from a web form.
        return "#"
