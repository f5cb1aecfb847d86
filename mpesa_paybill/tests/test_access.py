from odoo.exceptions import AccessError

from .common import MpesaCase


class TestAccess(MpesaCase):

    def setUp(self):
        super(TestAccess, self).setUp()
        Users = self.env["res.users"].with_context(no_reset_password=True)
        self.salesman = Users.create({
            "name": "Salesperson Amina", "login": "amina", "email": "amina@example.co.ke",
            "groups_id": [(6, 0, [self.env.ref("sales_team.group_sale_salesman").id])],
        })
        self.other_salesman = Users.create({
            "name": "Salesperson Baraka", "login": "baraka", "email": "baraka@example.co.ke",
            "groups_id": [(6, 0, [self.env.ref("sales_team.group_sale_salesman").id])],
        })
        self.accountant = Users.create({
            "name": "Accountant Wairimu", "login": "wairimu", "email": "wairimu@example.co.ke",
            "groups_id": [(6, 0, [self.env.ref("account.group_account_invoice").id])],
        })
        self.portal = Users.create({
            "name": "Portal Customer", "login": "portal-customer", "email": "customer@example.co.ke",
            "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
        })

    def salesman_push(self):
        order = self.create_order(1500)
        order.user_id = self.salesman
        order = order.sudo(self.salesman)
        action = order.action_mpesa_pay()
        wizard = self.env["mpesa.stk.push.wizard"].sudo(self.salesman).with_context(
            **action["context"]).create({"phone": "0712 345 678"})
        wizard.action_send()
        self.assertEqual(wizard.state, "sent", wizard.message)
        return order, wizard.mpesa_transaction_id

    def test_salesman_pays_and_sees_status(self):
        """Test that a salesperson can send a request and see the status of their order."""
        order, tx = self.salesman_push()
        self.assertEqual(tx.sudo(self.salesman).state, "pending")
        self.assertEqual(order.mpesa_state, "pending")
        self.assertEqual(tx.sudo(self.salesman).phone_masked, "2547*****678")

    def test_salesman_no_full_phone(self):
        """Test that a salesperson cannot read the payer's full number."""
        _order, tx = self.salesman_push()
        with self.assertRaises(AccessError):
            tx.sudo(self.salesman).read(["phone"])

    def test_salesman_no_raw_callbacks(self):
        """Test that a salesperson cannot read raw callbacks."""
        with self.assertRaises(AccessError):
            self.env["mpesa.callback"].sudo(self.salesman).search([])

    def test_other_salesman_sees_nothing(self):
        """Test that another salesperson does not see the transactions of someone else's order."""
        _order, tx = self.salesman_push()
        visible = self.env["mpesa.transaction"].sudo(self.other_salesman).search([("id", "=", tx.id)])
        self.assertFalse(visible)

    def test_accountant_sees_everything(self):
        """Test that an accountant sees every transaction with its full number."""
        _order, tx = self.salesman_push()
        as_accountant = self.env["mpesa.transaction"].sudo(self.accountant).browse(tx.id)
        self.assertEqual(as_accountant.phone, "254712345678")
        callback = self.env["mpesa.callback"].create({"kind": "stk", "body": "{}", "acquirer_id": self.acquirer.id})
        self.assertEqual(
            self.env["mpesa.callback"].sudo(self.accountant).search_count([("id", "=", callback.id)]), 1)

    def test_credentials_for_administrators_only(self):
        """Test that only Settings administrators can read the Daraja credentials."""
        for user in (self.salesman, self.accountant):
            with self.assertRaises(AccessError):
                self.acquirer.sudo(user).read(["mpesa_consumer_secret"])
            with self.assertRaises(AccessError):
                self.acquirer.sudo(user).read(["mpesa_passkey"])
        self.assertEqual(self.acquirer.read(["mpesa_passkey"])[0]["mpesa_passkey"], self.acquirer.mpesa_passkey)

    def test_portal_sees_nothing(self):
        """Test that portal users read no M-Pesa transaction, callback or token."""
        for model in ("mpesa.transaction", "mpesa.callback", "mpesa.access.token", "mpesa.suggestion"):
            with self.assertRaises(AccessError, msg=model):
                self.env[model].sudo(self.portal).search([])
