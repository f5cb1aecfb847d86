"""Point the demo M-Pesa acquirer at a running offline sandbox and at this Odoo.

Used by ``make run`` and the business-day script before Odoo serves requests.
"""
import argparse

# The offline sandbox's default app and PayBill (daraja_sandbox/README.rst).
SANDBOX_CREDENTIALS = {
    "mpesa_consumer_key": "sandbox-consumer-key",
    "mpesa_consumer_secret": "sandbox-consumer-secret",
    "mpesa_passkey": "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
    "mpesa_shortcode": "600000",
    "mpesa_shortcode_type": "paybill",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, help="Odoo configuration file")
    parser.add_argument("--database", required=True)
    parser.add_argument("--sandbox-url", required=True, help="base URL of the offline Daraja sandbox")
    parser.add_argument("--odoo-url", required=True, help="base URL the sandbox posts callbacks to")
    args = parser.parse_args()

    # Imported here so that tests can read SANDBOX_CREDENTIALS without loading Odoo.
    import odoo
    from odoo import SUPERUSER_ID, api

    odoo.tools.config.parse_config(["-c", args.config, "--log-level=warn"])
    with api.Environment.manage():
        registry = odoo.registry(args.database)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            acquirer = env.ref("mpesa_paybill.payment_acquirer_mpesa")
            acquirer.write(dict(
                SANDBOX_CREDENTIALS,
                mpesa_environment="offline",
                mpesa_offline_url=args.sandbox_url,
                mpesa_public_url=args.odoo_url,
            ))
            acquirer._mpesa_ensure_journal()
            # The sandbox keeps registrations only in its data file, and allows
            # registering again, so every start registers.
            acquirer.action_mpesa_register_c2b_urls()
    print("run: M-Pesa acquirer uses the sandbox at %s; callbacks go to %s" % (args.sandbox_url, args.odoo_url))


if __name__ == "__main__":
    main()
