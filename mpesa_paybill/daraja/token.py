"""Cache Daraja OAuth access tokens per credential set.

Daraja's Authorization page states that each token request invalidates the previous token
of the app (unconfirmed, but intermittent "Invalid Access Token" errors with correct
keys are often reported). Workers that fetch their own tokens would therefore log each
other out, so every client with the same base URL and consumer key shares one cached
token through a pluggable cache. Any object with these methods works:

- ``get(key)`` returns ``(token, expires_at)`` or None, with ``expires_at`` in epoch seconds;
- ``set(key, token, expires_at)`` stores a token;
- ``invalidate(key, token)`` drops the entry only while it still contains ``token``, so a
  worker that saw a stale token does not wipe the fresh one another worker just stored.

An Odoo addon can implement it on a database row locked with SELECT ... FOR UPDATE.
"""

import hashlib
import threading
import time


def token_cache_key(base_url, consumer_key, consumer_secret):
    """Return the cache key of a credential set: a SHA-256 digest, never the secret in clear.

    The secret is part of the digest so that changing it in the settings stops the
    old token from being used.
    """
    material = "\n".join((base_url.rstrip("/"), consumer_key, consumer_secret))
    return "daraja-token:" + hashlib.sha256(material.encode("utf-8")).hexdigest()


class MemoryTokenCache(object):
    """Thread-safe in-process token cache, the default of DarajaClient."""

    def __init__(self):
        self._entries = {}
        self._lock = threading.Lock()

    def get(self, key):
        """Return ``(token, expires_at)`` for ``key``, or None."""
        with self._lock:
            return self._entries.get(key)

    def set(self, key, token, expires_at):
        """Store ``token`` for ``key`` until ``expires_at`` (epoch seconds)."""
        with self._lock:
            self._entries[key] = (token, expires_at)

    def invalidate(self, key, token):
        """Drop the entry of ``key`` if it still contains ``token``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == token:
                del self._entries[key]

    def clear(self):
        """Drop every entry."""
        with self._lock:
            self._entries.clear()


# Shared by every client created without a cache, so that short-lived clients (one per
# Odoo request) reuse one token per credential set instead of invalidating each other's.
DEFAULT_TOKEN_CACHE = MemoryTokenCache()

# One lock per cache key, so that threads of this process fetch a missing token once.
_fetch_locks = {}
_fetch_locks_guard = threading.Lock()


def fetch_lock(key):
    """Return the process-wide lock that serialises token fetches for ``key``."""
    with _fetch_locks_guard:
        lock = _fetch_locks.get(key)
        if lock is None:
            lock = _fetch_locks[key] = threading.Lock()
        return lock


def is_fresh(entry, margin, now=None):
    """Return whether a cached ``(token, expires_at)`` entry has more than ``margin`` seconds left."""
    if not entry:
        return False
    token, expires_at = entry
    if not token:
        return False
    if now is None:
        now = time.time()
    return float(expires_at) - now > margin
