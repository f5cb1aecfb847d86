"""Deliver callbacks (STK results, C2B validation and confirmation, API results) and record each attempt."""
import ipaddress
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from .formats import dump_json, now_eat

_logger = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


def log_url(url):
    """Shorten a callback URL for logs: its path may carry a shared secret."""
    parts = urllib.parse.urlsplit(url)
    return "%s://%s/..." % (parts.scheme, parts.netloc)


def is_loopback_url(url):
    """Return True when the URL's host is localhost or a loopback address."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CallbackDispatcher(object):
    """Send callbacks from background threads after a delay, honouring the delivery quirks.

    Every attempt becomes a record in `state.callbacks`:
    `{"id", "kind", "url", "body", "status", "response", "error", "sent_at", "state", "reference", "duplicate_of"}`.
    `state` moves from "scheduled" to "sent" (an HTTP response came back), "failed" (no response),
    "dropped" (the drop_callbacks quirk), "blocked" (a host other than loopback) or "cancelled"
    (sandbox reset or stopped first).
    """

    def __init__(self, state):
        self.state = state
        self._timers = set()
        self._timers_lock = threading.Lock()
        self._stopped = False
        # Bypass any proxy from the environment: callbacks go straight to the given host.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def stop(self):
        """Cancel callbacks that are still waiting for their delay."""
        self._stopped = True
        with self._timers_lock:
            timers = list(self._timers)
            self._timers.clear()
        for timer in timers:
            timer.cancel()

    def resume(self):
        """Allow deliveries again after stop(), for a sandbox started a second time."""
        self._stopped = False

    def default_delay(self):
        """Return the delay before a notification, in seconds: the callback_delay quirk, else the setting."""
        with self.state.lock:
            quirk = self.state.quirks.get("callback_delay")
            return float(quirk if quirk is not None else self.state.settings["callback_delay"])

    def send(self, kind, url, body, reference=None, wait=False, extra_delay=0.0):
        """Record a notification and deliver it after the callback delay.

        :param wait: deliver in this thread and return once done, instead of in the background
        :param extra_delay: seconds added to the usual delay (used to reorder deliveries)
        :return: the records created (two with the duplicate_callbacks quirk)
        """
        with self.state.lock:
            quirks = dict(self.state.quirks)
            generation = self.state.generation
        copies = 2 if quirks.get("duplicate_callbacks") else 1
        records = []
        for copy_number in range(copies):
            record = self._new_record(kind, url, body, reference)
            if copy_number:
                record["duplicate_of"] = records[0]["id"]
            if quirks.get("drop_callbacks"):
                record["state"] = "dropped"
                record["error"] = "not sent: the drop_callbacks quirk is on"
                _logger.info("Dropped %s callback to %s (drop_callbacks quirk)", kind, log_url(url))
            records.append(record)
        self.state.save()

        pending = [record for record in records if record["state"] == "scheduled"]
        delay = self.default_delay() + extra_delay
        if wait:
            if delay:
                time.sleep(delay)
            for record in pending:
                self._deliver(record, generation)
        elif pending:
            self._schedule(delay, self._deliver_all, pending, generation)
        return records

    def post_now(self, kind, url, body, timeout, reference=None):
        """Send one request in this thread, with no quirks applied, and return its record (used for C2B validation)."""
        record = self._new_record(kind, url, body, reference)
        self._deliver(record, None, timeout=timeout)
        return record

    def redeliver(self, callback_id):
        """Send a recorded callback again, in this thread, and return the new record."""
        original = self.state.callback(callback_id)
        if original is None:
            return None
        record = self._new_record(original["kind"], original["url"], None, original.get("reference"))
        record["raw"] = original["raw"]
        record["body"] = original["body"]
        record["duplicate_of"] = original["id"]
        self._deliver(record, None)
        return record

    def schedule(self, delay, function, *args):
        """Run `function(*args)` after `delay` seconds in a daemon thread, unless the dispatcher stops first."""
        self._schedule(delay, function, *args)

    # -- internals ---------------------------------------------------------------------------------

    def _new_record(self, kind, url, body, reference):
        raw = dump_json(body) if body is not None else None
        record = {
            "kind": kind,
            "url": url,
            "body": json.loads(raw) if raw is not None else None,
            "raw": raw,
            "status": None,
            "response": None,
            "error": None,
            "sent_at": None,
            "scheduled_at": now_eat().isoformat(),
            "state": "scheduled",
            "reference": reference,
            "duplicate_of": None,
        }
        return self.state.record_callback(record)

    def _schedule(self, delay, function, *args):
        timer = None

        def run():
            with self._timers_lock:
                self._timers.discard(timer)
            if not self._stopped:
                function(*args)

        timer = threading.Timer(delay, run)
        timer.daemon = True
        with self._timers_lock:
            if self._stopped:
                return
            self._timers.add(timer)
        timer.start()

    def _deliver_all(self, records, generation):
        for record in records:
            self._deliver(record, generation)

    def _deliver(self, record, generation, timeout=None):
        with self.state.lock:
            stale = generation is not None and generation != self.state.generation
            allow_remote = bool(self.state.settings.get("allow_remote_callbacks"))
            if timeout is None:
                timeout = self.state.settings["callback_timeout"]
        if stale or self._stopped:
            self._finish(record, state="cancelled", error="not sent: the sandbox was reset or stopped first")
            return
        if not allow_remote and not is_loopback_url(record["url"]):
            self._finish(record, state="blocked",
                         error="not sent: callbacks go only to 127.0.0.1 or localhost unless allow_remote_callbacks "
                               "is set in the configuration")
            _logger.warning("Blocked %s callback to %s: not a loopback host", record["kind"], log_url(record["url"]))
            return

        request = urllib.request.Request(
            record["url"], data=record["raw"].encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"})
        sent_at = now_eat().isoformat()
        started = time.monotonic()
        try:
            with self._opener.open(request, timeout=timeout) as reply:
                status, text = reply.status, reply.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode("utf-8", "replace")
        except (urllib.error.URLError, socket.timeout, OSError) as error:
            reason = getattr(error, "reason", error)
            message = "timed out after %ss" % timeout if isinstance(reason, socket.timeout) \
                or isinstance(error, socket.timeout) else str(reason)
            self._finish(record, state="failed", error=message, sent_at=sent_at)
            _logger.info("Callback %s to %s failed after %.1fs: %s",
                         record["kind"], log_url(record["url"]), time.monotonic() - started, message)
            return
        self._finish(record, state="sent", status=status, response=text, sent_at=sent_at)
        _logger.info("Sent %s callback to %s: HTTP %s", record["kind"], log_url(record["url"]), status)

    def _finish(self, record, **values):
        with self.state.lock:
            record.update(values)
            self.state.save()
