"""Check callback, result, validation and confirmation URLs against Daraja's rules.

Daraja's C2B Register URL pages (read 2025-12) list the rules, and integrators report
that they apply to the URLs of the other APIs too:

- a public IP address or domain, over HTTPS in production;
- none of the words mpesa, m-pesa, safaricom, exe, exec, cmd, sql, query, in any case,
  anywhere in the URL (Daraja returns "Bad Request - Threat Detected" or "Invalid CallBackURL");
- no tunnelling or request-inspection hosts such as ngrok, mockbin or requestbin.

The "offline" environment is the project's own sandbox on this machine, so it also
accepts http and loopback hosts. The word filter still applies there, because a URL
that passes offline should pass on Daraja too.
"""

import ipaddress

from urllib.parse import urlsplit

from .errors import DarajaConfigError

ENVIRONMENTS = ("production", "sandbox", "offline")

# Longest words first, so "exec" is reported rather than the "exe" inside it.
BLOCKED_WORDS = ("safaricom", "m-pesa", "mpesa", "query", "exec", "exe", "cmd", "sql")

# Host fragments of tunnelling and request-inspection services that Daraja rejects in production.
BLOCKED_HOST_FRAGMENTS = ("ngrok", "mockbin", "requestbin")

# Host names that never reach this machine from Safaricom's servers.
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def check_environment(environment):
    """Return ``environment`` if it is one of ``ENVIRONMENTS``, else raise DarajaConfigError."""
    if environment not in ENVIRONMENTS:
        raise DarajaConfigError(
            "Unknown Daraja environment %r. Use one of: %s."
            % (environment, ", ".join(ENVIRONMENTS))
        )
    return environment


def _find_blocked_word(url):
    """Return ``(word, start)`` of the earliest blocked word in ``url``, or None."""
    lowered = url.lower()
    found = None
    for word in BLOCKED_WORDS:
        start = lowered.find(word)
        if start >= 0 and (found is None or start < found[1]):
            found = (word, start)
    return found


def _part_at(url, parts, position):
    """Name the URL component (host, path, query string...) that contains ``position``."""
    scheme_end = len(parts.scheme) + 3  # "https://"
    netloc_end = scheme_end + len(parts.netloc)
    if position < len(parts.scheme):
        return "scheme"
    if position < netloc_end:
        return "host name"
    path_end = netloc_end + len(parts.path)
    if position < path_end:
        return "path"
    if parts.fragment and position >= len(url) - len(parts.fragment):
        return "fragment"
    return "query string"


def _is_public_host(host):
    """Return whether ``host`` looks reachable from the internet (not loopback or private)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return address.is_global
    if host == "localhost" or host.endswith(_PRIVATE_SUFFIXES):
        return False
    # A single-label name such as "odoo" only resolves inside a private network.
    return "." in host.strip(".")


def check_callback_url(url, environment="production", label="Callback URL"):
    """Return ``url`` if Daraja would accept it as a callback URL in ``environment``.

    ``label`` names the URL in messages, e.g. "ResultURL" or "ConfirmationURL".

    :raise DarajaConfigError: naming the offending part of the URL and the fix.
    """
    check_environment(environment)
    if url is None or not str(url).strip():
        raise DarajaConfigError("%s is missing. Set a public HTTPS URL of this server." % label)
    url = str(url)
    if url != url.strip() or any(char.isspace() for char in url):
        raise DarajaConfigError(
            "%s %r contains a space, which Daraja rejects as an invalid URL. Remove it." % (label, url)
        )

    found = _find_blocked_word(url)
    parts = urlsplit(url)
    if found:
        word, start = found
        raise DarajaConfigError(
            "%s %r contains %r, which Daraja blocks; rename that part of the %s."
            % (label, url, word, _part_at(url, parts, start))
        )

    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise DarajaConfigError(
            "%s %r is not an absolute http(s) URL. Use the form https://host/path." % (label, url)
        )
    if environment == "offline":
        return url

    if scheme != "https":
        raise DarajaConfigError(
            "%s %r uses http, but Daraja's %s environment requires https. Serve this server "
            "over HTTPS and use an https:// URL." % (label, url, environment)
        )
    if not _is_public_host(host):
        raise DarajaConfigError(
            "%s %r points to the host %r, which Daraja cannot reach. Use the public domain "
            "name or IP address of this server." % (label, url, host)
        )
    if environment == "production":
        for fragment in BLOCKED_HOST_FRAGMENTS:
            if fragment in host:
                raise DarajaConfigError(
                    "%s %r uses the %s host %r, which Daraja blocks in production. Use this "
                    "server's own public domain name." % (label, url, fragment, host)
                )
    return url
