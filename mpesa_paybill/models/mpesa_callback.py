import json
import logging
import queue
import threading
import time

import psycopg2

import odoo
from odoo import _, api, fields, models
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY

from .mpesa_reconcile import shared_match_index

_logger = logging.getLogger(__name__)

# Attempts of the worker thread when PostgreSQL reports a concurrent update.
MAX_CONCURRENCY_RETRIES = 5


def is_concurrency_error(error):
    return isinstance(error, psycopg2.OperationalError) and error.pgcode in PG_CONCURRENCY_ERRORS_TO_RETRY


class MpesaCallback(models.Model):
    """Raw body of a request Daraja sent us, stored before anything reads it.

    Each row is committed in a cursor of its own before the body is parsed,
    so a body survives whatever happens to its processing. Processing runs
    after the acknowledgement, in a worker thread of this process, and the
    cron picks up anything that thread did not finish.
    """

    _name = "mpesa.callback"
    _description = "M-Pesa Callback"
    _order = "id desc"

    kind = fields.Selection(
        [
            ("stk", "STK Push result"),
            ("c2b_validation", "C2B validation"),
            ("c2b_confirmation", "C2B confirmation"),
            ("result", "Result"),
            ("timeout", "Queue timeout"),
        ],
        required=True,
        readonly=True,
    )
    acquirer_id = fields.Many2one("payment.acquirer", readonly=True, ondelete="set null")
    body = fields.Text(readonly=True, help="The request body exactly as received.")
    remote_addr = fields.Char(string="Sender address", readonly=True)
    secret_valid = fields.Boolean(string="Secret verified", readonly=True)
    state = fields.Selection(
        [
            ("received", "Received"),
            ("processed", "Processed"),
            ("review", "Kept for review"),
            ("failed", "Processing failed"),
        ],
        default="received",
        required=True,
        readonly=True,
        index=True,
    )
    reason = fields.Text(readonly=True)
    transaction_id = fields.Many2one("mpesa.transaction", readonly=True, ondelete="set null", index=True)
    attempts = fields.Integer(readonly=True)
    transaction_hint = fields.Integer(
        readonly=True,
        help="mpesa.transaction id taken from the callback URL; trusted only "
             "together with a verified secret and a matching acquirer.",
    )

    @api.model
    def _store(self, kind, body, acquirer_id=None, remote_addr=None, secret_valid=False,
               transaction_hint=None):
        """Insert and commit one raw callback in a cursor of its own; return its id."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                """INSERT INTO mpesa_callback
                       (kind, body, acquirer_id, remote_addr, secret_valid, transaction_hint, state,
                        attempts, create_uid, write_uid, create_date, write_date)
                   VALUES (%s, %s, %s, %s, %s, %s, 'received', 0, %s, %s,
                           now() at time zone 'UTC', now() at time zone 'UTC')
                   RETURNING id""",
                (kind, body, acquirer_id, remote_addr, secret_valid, transaction_hint,
                 self.env.uid, self.env.uid),
            )
            return cr.fetchone()[0]

    @api.model
    def _set_result(self, callback_id, state, reason):
        """Record the outcome of a callback handled inside its request, in a cursor of its own."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                """UPDATE mpesa_callback SET state = %s, reason = %s, attempts = attempts + 1,
                          write_date = now() at time zone 'UTC'
                   WHERE id = %s""",
                (state, reason, callback_id),
            )

    def _payload(self):
        """Return the body as a dict, or None when it is not a JSON object."""
        self.ensure_one()
        try:
            payload = json.loads(self.body or "")
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None

    @api.multi
    def _process(self):
        """Process each received callback; record failures instead of raising."""
        for callback in self:
            if callback.state != "received":
                continue
            callback.attempts += 1
            handler = getattr(self.env["mpesa.transaction"], "_process_%s_callback" % callback.kind, None)
            try:
                with self.env.cr.savepoint():
                    if handler is None:
                        callback._mark("review", _("No handler for callbacks of kind %s.") % callback.kind)
                    else:
                        handler(callback)
            except psycopg2.OperationalError as error:
                if is_concurrency_error(error):
                    # Another transaction changed the same rows; the whole
                    # transaction must start again, which the caller does.
                    raise
                _logger.exception("mpesa.callback %s (%s) failed", callback.id, callback.kind)
                callback._mark("failed", _("Processing failed: %s") % error)
            except Exception as error:
                _logger.exception("mpesa.callback %s (%s) failed", callback.id, callback.kind)
                callback._mark("failed", _("Processing failed: %s") % error)
        return True

    def _mark(self, state, reason=None, transaction=None):
        self.ensure_one()
        vals = {"state": state, "reason": reason}
        if transaction:
            vals["transaction_id"] = transaction.id
        self.write(vals)
        if state == "review":
            _logger.warning("mpesa.callback %s (%s) kept for review: %s", self.id, self.kind, reason)

    @api.model
    def _cron_process_received(self, limit=500):
        """Process callbacks that no worker thread finished, oldest first."""
        self.env.cr.execute(
            """SELECT id FROM mpesa_callback
               WHERE state = 'received' AND kind != 'c2b_validation'
               ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
            (limit,),
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        with shared_match_index():
            self.browse(ids)._process()
        return len(ids)

    @api.multi
    def action_process_again(self):
        """Send failed callbacks through processing once more."""
        self.filtered(lambda c: c.state == "failed").write({"state": "received"})
        return self._process()


class CallbackWorker(object):
    """One daemon thread per database that processes stored callbacks.

    Controllers hand it callback ids after they have acknowledged Daraja, so the
    time spent posting and reconciling never delays an acknowledgement.
    Callbacks left behind (process restart, crash) stay 'received' and the
    cron processes them.
    """

    _workers = {}
    _lock = threading.Lock()

    def __init__(self, dbname):
        self.dbname = dbname
        self.queue = queue.Queue()
        thread = threading.Thread(target=self._run, name="mpesa-callbacks-%s" % dbname)
        thread.daemon = True
        thread.start()

    @classmethod
    def submit(cls, dbname, callback_id):
        with cls._lock:
            worker = cls._workers.get(dbname)
            if worker is None:
                worker = cls._workers[dbname] = cls(dbname)
        worker.queue.put(callback_id)

    def _run(self):
        # Confirmations arriving in a burst share one match index instead of
        # reading every open invoice again for each payment.
        with shared_match_index():
            while True:
                self._process_with_retries(self.queue.get())

    def _process_with_retries(self, callback_id):
        for attempt in range(1, MAX_CONCURRENCY_RETRIES + 1):
            try:
                self._process_one(callback_id)
                break
            except psycopg2.OperationalError as error:
                if not is_concurrency_error(error) or attempt == MAX_CONCURRENCY_RETRIES:
                    _logger.exception("mpesa.callback %s: worker thread failed; the cron will retry", callback_id)
                    break
                _logger.info("mpesa.callback %s: concurrent update, attempt %s of %s",
                             callback_id, attempt, MAX_CONCURRENCY_RETRIES)
                time.sleep(0.1 * attempt)
            except Exception:
                _logger.exception("mpesa.callback %s: worker thread failed; the cron will retry", callback_id)
                break

    def _process_one(self, callback_id):
        registry = odoo.registry(self.dbname)
        with api.Environment.manage(), registry.cursor() as cr:
            env = api.Environment(cr, odoo.SUPERUSER_ID, {})
            cr.execute(
                "SELECT id FROM mpesa_callback WHERE id = %s AND state = 'received' FOR UPDATE SKIP LOCKED",
                (callback_id,),
            )
            if cr.fetchone():
                env["mpesa.callback"].browse(callback_id)._process()
