"""Call Odoo's JSON-RPC routes the way the web client does.

Used by the business-day script and the system tests; needs only requests.
"""
import itertools

import requests


class OdooRpcError(Exception):
    """An error Odoo returned for a JSON-RPC call, with its exception name and message."""

    def __init__(self, route, name, message, debug=None):
        super(OdooRpcError, self).__init__("%s failed with %s: %s" % (route, name, message))
        self.route = route
        self.name = name
        self.message = message
        self.debug = debug


class OdooRpc(object):
    """Call Odoo's JSON-RPC routes the way the web client does, on one HTTP session.

    :param base_url: Odoo's address, e.g. "http://127.0.0.1:8069"
    :param timeout: seconds to wait for each response
    """

    def __init__(self, base_url, timeout=30):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        # Requests go straight to 127.0.0.1, whatever proxy the environment names.
        self.session.trust_env = False
        self.uid = None
        self.context = {}
        self._ids = itertools.count(1)

    def call(self, route, params):
        """POST one JSON-RPC call to ``route`` and return its result.

        :raise OdooRpcError: when Odoo returns an error, carrying Odoo's message
        """
        payload = {"jsonrpc": "2.0", "method": "call", "params": params, "id": next(self._ids)}
        response = self.session.post(self.base_url + route, json=payload, timeout=self.timeout)
        if response.status_code != 200:
            raise OdooRpcError(route, "HTTP %s" % response.status_code, response.text[:500])
        answer = response.json()
        error = answer.get("error")
        if error:
            data = error.get("data") or {}
            raise OdooRpcError(route, data.get("name") or error.get("message"),
                               data.get("message") or error.get("message"), data.get("debug"))
        return answer.get("result")

    def authenticate(self, db, login, password):
        """Log in and keep the session cookie and the user's context; return the uid."""
        info = self.call("/web/session/authenticate", {"db": db, "login": login, "password": password})
        if not info or not info.get("uid"):
            raise OdooRpcError("/web/session/authenticate", "AccessDenied",
                               "login %r with the given password was refused by database %s" % (login, db))
        self.uid = info["uid"]
        self.context = dict(info.get("user_context") or {})
        return self.uid

    def _context(self, context=None):
        merged = dict(self.context)
        merged.update(context or {})
        return merged

    def call_kw(self, model, method, args=None, kwargs=None, context=None):
        """Call a public model method with the user's context merged with ``context``."""
        kwargs = dict(kwargs or {})
        kwargs["context"] = self._context(dict(kwargs.get("context") or {}, **(context or {})))
        return self.call("/web/dataset/call_kw/%s/%s" % (model, method), {
            "model": model, "method": method, "args": list(args or []), "kwargs": kwargs,
        })

    def call_button(self, model, method, ids, context=None):
        """Press a button of type "object" on ``ids`` and return the cleaned action, or False."""
        return self.call("/web/dataset/call_button", {
            "model": model, "method": method, "args": [list(ids), self._context(context)],
        })

    def ref(self, xmlid):
        """Return the database id of an XML id such as "base.KES"."""
        return self.call_kw("ir.model.data", "xmlid_to_res_id", [xmlid], {"raise_if_not_found": True})

    def create(self, model, values, context=None):
        return self.call_kw(model, "create", [values], context=context)

    def write(self, model, ids, values, context=None):
        return self.call_kw(model, "write", [list(ids), values], context=context)

    def read_one(self, model, record_id, fields):
        """Return one record as a dict, or raise AssertionError when it does not exist."""
        records = self.call_kw(model, "read", [[record_id], fields])
        if not records:
            raise AssertionError("%s %s does not exist" % (model, record_id))
        return records[0]

    def search_read(self, model, domain, fields, order=None):
        kwargs = {"domain": domain, "fields": fields}
        if order:
            kwargs["order"] = order
        return self.call_kw(model, "search_read", [], kwargs)
