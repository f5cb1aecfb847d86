import logging

from odoo import fields, models

_logger = logging.getLogger(__name__)


class MpesaAccessToken(models.Model):
    """Daraja OAuth token shared by every Odoo worker of the database.

    Daraja may invalidate a token when another one is requested for the same
    app, so workers must reuse one token instead of each fetching their own.
    """

    _name = "mpesa.access.token"
    _description = "Daraja Access Token"

    key = fields.Char(required=True, index=True)
    token = fields.Char(required=True)
    expires_at = fields.Float(required=True, help="Expiry as seconds since the Unix epoch.")

    _sql_constraints = [
        ("key_unique", "unique(key)", "One Daraja token per credential set."),
    ]


class DatabaseTokenCache(object):
    """Token cache for the Daraja client that stores tokens in the database.

    Each call runs in a cursor of its own and commits at once, so a token
    fetched during a request that later rolls back is still shared, and a
    token written by one worker is seen by the others.
    """

    def __init__(self, registry):
        self.registry = registry

    def get(self, key):
        with self.registry.cursor() as cr:
            cr.execute("SELECT token, expires_at FROM mpesa_access_token WHERE key = %s", (key,))
            row = cr.fetchone()
        return (row[0], row[1]) if row else None

    def set(self, key, token, expires_at):
        with self.registry.cursor() as cr:
            cr.execute(
                """INSERT INTO mpesa_access_token (key, token, expires_at, create_date, write_date)
                   VALUES (%s, %s, %s, now() at time zone 'UTC', now() at time zone 'UTC')
                   ON CONFLICT (key) DO UPDATE
                   SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at,
                       write_date = EXCLUDED.write_date""",
                (key, token, expires_at),
            )

    def invalidate(self, key, token):
        # Drop the token only if it is still the one that failed, so that a
        # fresh token another worker just stored survives.
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM mpesa_access_token WHERE key = %s AND token = %s", (key, token))
