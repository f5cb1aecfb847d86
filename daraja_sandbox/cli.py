"""Start the sandbox from the command line, or drive a running one through its control API."""
import argparse
import json
import logging
import signal
import sys
import threading
import urllib.error
import urllib.request

from .config import DEFAULT_CONFIG, load_config_file
from .errors import ControlError

DEFAULT_URL = "http://127.0.0.1:8765"
COMMANDS = ("serve", "prompts", "answer", "pay", "phone", "quirks", "ledger", "callbacks", "reset")
# Shorter spellings for the command line; the control API takes the names on the right.
ACTION_ALIASES = {"wrong-pin": "wrong_pin", "insufficient": "insufficient_funds", "ignore": "no_answer",
                  "no-answer": "no_answer", "insufficient-funds": "insufficient_funds"}


def _serve_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port; 0 picks a free one (default 8765)")
    parser.add_argument("--data-file", help="JSON file that keeps the state across restarts")
    parser.add_argument("--config", help="JSON file merged over the default configuration")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")


def build_parser():
    """Build the argument parser with one subcommand per control action."""
    parser = argparse.ArgumentParser(
        prog="python -m daraja_sandbox",
        description="Offline Daraja (M-Pesa) sandbox. Without a command it starts the server.")
    commands = parser.add_subparsers(dest="command")

    _serve_arguments(commands.add_parser("serve", help="start the sandbox (the default command)"))

    def client(name, help_text):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--url", default=DEFAULT_URL, help="base URL of a running sandbox (default %s)" % DEFAULT_URL)
        return sub

    prompts = client("prompts", "list pending STK prompts")
    prompts.add_argument("--phone", help="only the prompts of this phone number")

    answer = client("answer", "answer a pending STK prompt as the customer")
    answer.add_argument("checkout_id", metavar="CHECKOUT_ID")
    answer.add_argument("action", metavar="ACTION",
                        help="pay, cancel, wrong-pin, insufficient, ignore (no answer), expire, ...")

    pay = client("pay", "pay a PayBill or till from the SIM menu (C2B)")
    pay.add_argument("--shortcode", required=True)
    pay.add_argument("--phone", required=True)
    pay.add_argument("--amount", required=True, type=int, help="whole shillings")
    pay.add_argument("--account", default="", help="account number (BillRefNumber); ignored for tills")

    phone = client("phone", "set how a phone answers prompts without a person")
    phone.add_argument("msisdn", metavar="PHONE")
    phone.add_argument("behaviour", metavar="BEHAVIOUR", help="manual, pay, cancel, no_answer, wrong_pin, ...")
    phone.add_argument("--delay", type=float, default=0, help="seconds before the phone answers")

    quirks = client("quirks", "show quirks, or set them with NAME=JSON pairs")
    quirks.add_argument("pairs", nargs="*", metavar="NAME=JSON", help='e.g. drop_callbacks=true throttle=\'{"count": 2}\'')

    client("ledger", "show transactions and balances")
    client("callbacks", "show the callbacks sent")
    client("reset", "clear the state back to the configuration")
    return parser


def _call(base_url, method, path, body=None):
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(base_url.rstrip("/") + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as reply:
            return json.loads(reply.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")
        try:
            message = json.loads(text).get("error", text)
        except ValueError:
            message = text
        raise SystemExit("error: HTTP %s from %s: %s" % (error.code, path, message))
    except urllib.error.URLError as error:
        raise SystemExit("error: cannot reach the sandbox at %s (%s); start it with python -m daraja_sandbox "
                         "or pass --url" % (base_url, error.reason))


def _print_json(value):
    print(json.dumps(value, indent=2, sort_keys=True))


def _parse_pairs(pairs):
    values = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        if not separator:
            raise SystemExit("error: %r is not NAME=JSON, e.g. drop_callbacks=true" % pair)
        try:
            values[name] = json.loads(text)
        except ValueError:
            values[name] = text
    return values


def run_client(args):
    """Run one control command against a running sandbox."""
    if args.command == "prompts":
        path = "/sandbox/prompts" + ("?msisdn=%s" % args.phone if args.phone else "")
        prompts = _call(args.url, "GET", path)["prompts"]
        if not prompts:
            print("No pending prompts.")
        for prompt in prompts:
            print("%s  %s  KES %s  account %s  to %s" % (
                prompt["CheckoutRequestID"], prompt["PhoneNumber"], prompt["Amount"],
                prompt["AccountReference"], prompt["BusinessShortCode"]))
    elif args.command == "answer":
        action = ACTION_ALIASES.get(args.action, args.action.replace("-", "_"))
        _print_json(_call(args.url, "POST", "/sandbox/prompts/%s/answer" % args.checkout_id, {"action": action}))
    elif args.command == "pay":
        _print_json(_call(args.url, "POST", "/sandbox/c2b/pay", {
            "ShortCode": args.shortcode, "MSISDN": args.phone, "Amount": args.amount,
            "BillRefNumber": args.account}))
    elif args.command == "phone":
        behaviour = ACTION_ALIASES.get(args.behaviour, args.behaviour.replace("-", "_"))
        _print_json(_call(args.url, "POST", "/sandbox/phones/%s" % args.msisdn,
                          {"behaviour": behaviour, "delay": args.delay}))
    elif args.command == "quirks":
        if args.pairs:
            _print_json(_call(args.url, "POST", "/sandbox/quirks", _parse_pairs(args.pairs)))
        else:
            _print_json(_call(args.url, "GET", "/sandbox/quirks"))
    elif args.command == "ledger":
        _print_json(_call(args.url, "GET", "/sandbox/ledger"))
    elif args.command == "callbacks":
        _print_json(_call(args.url, "GET", "/sandbox/callbacks"))
    elif args.command == "reset":
        _print_json(_call(args.url, "POST", "/sandbox/reset"))


def serve(args):
    """Start the sandbox, print how to use it and run until Ctrl-C or SIGTERM."""
    from .server import SandboxServer

    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        overrides = load_config_file(args.config) if args.config else None
        server = SandboxServer(host=args.host, port=args.port, data_file=args.data_file, config=overrides)
        server.start()
    except (ControlError, OSError) as error:
        raise SystemExit("error: cannot start the sandbox: %s" % error)

    app = DEFAULT_CONFIG["apps"][0]
    lines = [
        "Daraja sandbox running at %s" % server.base_url,
        "Phone page: %s" % server.phone_url,
        "Consumer key: %s   Consumer secret: %s" % (app["consumer_key"], app["consumer_secret"]),
    ]
    with server.state.lock:
        for code, entry in sorted(server.state.shortcodes.items()):
            if entry["type"] == "till":
                lines.append("Till %s (store number %s), passkey %s" % (code, entry["store_number"], entry["passkey"]))
            else:
                lines.append("PayBill %s, passkey %s" % (code, entry["passkey"]))
        for initiator, password in sorted(server.state.initiators.items()):
            lines.append("Initiator %s, password %s (certificate: %s/sandbox/certificate)"
                         % (initiator, password, server.base_url))
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), flush=True)

    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.stop()
    print("Daraja sandbox stopped.", flush=True)


def main(argv=None):
    """Run the command line; with no command (or only server options) start the sandbox."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv.insert(0, "serve")
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        serve(args)
    else:
        run_client(args)
