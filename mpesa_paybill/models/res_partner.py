from odoo import api, fields, models

from .. import daraja


class ResPartner(models.Model):
    _inherit = "res.partner"

    mpesa_msisdn = fields.Char(
        string="M-Pesa number",
        compute="_compute_mpesa_msisdn",
        store=True,
        index=True,
        help="Mobile (or else phone) number in Daraja's 12-digit form, used "
             "to recognise the customer behind a C2B payment.",
    )
    mpesa_msisdn_hash = fields.Char(compute="_compute_mpesa_msisdn", store=True, index=True)

    @api.depends("mobile", "phone")
    def _compute_mpesa_msisdn(self):
        for partner in self:
            msisdn = False
            for number in (partner.mobile, partner.phone):
                try:
                    msisdn = daraja.normalize_msisdn(number or "")
                    break
                except daraja.errors.InvalidPhoneNumber:
                    continue
            partner.mpesa_msisdn = msisdn
            partner.mpesa_msisdn_hash = daraja.hash_msisdn(msisdn) if msisdn else False
