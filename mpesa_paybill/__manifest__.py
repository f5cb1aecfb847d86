# Copyright 2026 The mpesa_paybill authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "M-Pesa PayBill",
    "summary": "Take M-Pesa PayBill and Till payments (STK Push and C2B) "
               "and reconcile them with orders and invoices",
    "version": "11.0.1.0.0",
    "category": "Accounting",
    "website": "https://github.com/mpesa-paybill/mpesa_paybill",
    "author": "mpesa_paybill authors",
    "license": "LGPL-3",
    "application": False,
    "installable": True,
    "depends": [
        "sale_management",
        "account_invoicing",
        "payment",
        # sale_payment links transactions to orders and confirms an order
        # once its transaction is done.
        "sale_payment",
        # Odoo 11 has no Kenyan chart of accounts, so Kenyan companies use
        # the generic one. The M-Pesa journal and the demo invoices need a
        # chart at install time, which this dependency guarantees.
        "l10n_generic_coa",
    ],
    "external_dependencies": {
        "python": ["cryptography", "requests"],
    },
    "data": [
        "security/mpesa_security.xml",
        "security/ir.model.access.csv",
        "security/mpesa_rules.xml",
        "data/payment_acquirer_data.xml",
        "data/ir_cron_data.xml",
        "views/payment_acquirer_views.xml",
        "views/mpesa_callback_views.xml",
        "views/sale_order_views.xml",
        "views/account_invoice_views.xml",
        "views/account_payment_views.xml",
        "wizards/mpesa_stk_push_wizard_views.xml",
        "wizards/mpesa_review_wizard_views.xml",
        "views/mpesa_transaction_views.xml",
        "views/mpesa_menus.xml",
    ],
    "demo": [
        "demo/mpesa_demo.xml",
    ],
    "post_init_hook": "post_init_hook",
}
