from odoo import SUPERUSER_ID, api


def post_init_hook(cr, registry):
    """Give every M-Pesa acquirer a callback secret and a KES journal."""
    env = api.Environment(cr, SUPERUSER_ID, {})
    acquirers = env["payment.acquirer"].search([("provider", "=", "mpesa")])
    for acquirer in acquirers:
        if not acquirer.mpesa_callback_secret:
            acquirer.action_mpesa_rotate_secret()
    acquirers._mpesa_ensure_journal()
