"""Check the logs that `make test` wrote while installing and upgrading the addon."""
import os
import re

import pytest

LOG_NAMES = ("install-demo.log", "install-nodemo.log", "upgrade.log")

# An Odoo 11 log line: date, time, pid, level, database, logger: message.
LINE = re.compile(r"^\S+ \S+ \d+ (?P<level>[A-Z]+) \S+ (?P<logger>[\w.]+): (?P<message>.*)$")


def _log_dir():
    path = os.environ.get("MPESA_PAYBILL_TEST_LOGS")
    if not path:
        pytest.skip("install logs are written by `make test`; run the suite through it")
    return path


def _problems(path):
    """Return the WARNING or worse lines about the addon, and every ERROR or worse line."""
    problems = []
    with open(path) as log:
        for line in log:
            match = LINE.match(line)
            if not match or match.group("level") not in ("WARNING", "ERROR", "CRITICAL"):
                continue
            about_addon = "mpesa" in match.group("logger") or "mpesa" in match.group("message").lower()
            if about_addon or match.group("level") != "WARNING":
                problems.append(line.rstrip())
    return problems


@pytest.mark.parametrize("name", LOG_NAMES)
def test_install_log_clean(name):
    """Test that installing and upgrading logged no warning or error about the addon."""
    path = os.path.join(_log_dir(), name)
    assert os.path.getsize(path) > 0, "%s is empty: Odoo wrote no log" % path
    assert _problems(path) == []


@pytest.mark.parametrize("name", LOG_NAMES)
def test_install_log_loaded_addon(name):
    """Test that each log shows the addon being loaded, so a clean log means something."""
    with open(os.path.join(_log_dir(), name)) as log:
        text = log.read()
    assert "mpesa_paybill" in text
