"""Create and drop the benchmark's scratch database, a copy of the test template.

The benchmark never opens ``mpesa_paybill_test`` itself: it copies it with
``createdb -T`` (with its file store) into ``mpesa_paybill_bench`` and
upgrades mpesa_paybill there. On a machine where ``make test`` has not run
yet, the scratch database is built instead the way tools/test.sh builds its
own, with ``create_kenyan_db``.
"""
import os
import shutil
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VAR = os.path.join(ROOT, "var")
CONFIG = os.path.join(VAR, "bench.conf")
LOG_DIR = os.path.join(VAR, "log")
FILESTORE = os.path.join(VAR, "data", "filestore")

BENCH_DB = "mpesa_paybill_bench"
TEMPLATE_DB = "mpesa_paybill_test"
# Workers start no HTTP server, but the shared configuration writer needs a port.
HTTP_PORT = 8179
# A test run keeps the template open, so createdb -T is retried this long.
TEMPLATE_WAIT_SECONDS = 300
TEMPLATE_RETRY_SECONDS = 5


def _common_sh(function, *args):
    """Run a function of tools/common.sh with ``args``; raise CalledProcessError when it fails."""
    script = 'source "$1/tools/common.sh" && shift && "$@"'
    subprocess.run(["bash", "-c", script, "bash", ROOT, function] + list(args), check=True)


def database_exists(name):
    """Return whether PostgreSQL has a database called ``name``."""
    listing = subprocess.run(["psql", "-d", "postgres", "-lqtA"], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
    return any(line.split("|", 1)[0] == name for line in listing.splitlines())


def _copy_template(say):
    deadline = time.monotonic() + TEMPLATE_WAIT_SECONDS
    while True:
        result = subprocess.run(["createdb", "-T", TEMPLATE_DB, BENCH_DB], stderr=subprocess.PIPE,
                                universal_newlines=True)
        if result.returncode == 0:
            break
        if "being accessed by other users" not in result.stderr or time.monotonic() > deadline:
            raise RuntimeError("createdb -T %s %s failed: %s" % (TEMPLATE_DB, BENCH_DB, result.stderr.strip()))
        say("template %s is in use (a test run?); retrying in %d s" % (TEMPLATE_DB, TEMPLATE_RETRY_SECONDS))
        time.sleep(TEMPLATE_RETRY_SECONDS)

    template_store = os.path.join(FILESTORE, TEMPLATE_DB)
    if os.path.isdir(template_store):
        shutil.copytree(template_store, os.path.join(FILESTORE, BENCH_DB))


def create_database(say):
    """Create the scratch database afresh and write its Odoo configuration; return how it was made."""
    os.makedirs(LOG_DIR, exist_ok=True)
    _common_sh("write_config", CONFIG, BENCH_DB, str(HTTP_PORT))
    drop_database()
    if database_exists(TEMPLATE_DB):
        say("copying %s into %s" % (TEMPLATE_DB, BENCH_DB))
        _copy_template(say)
        # The template was installed from the code of the last `make test`;
        # upgrading gives the copy the tables and fields of the code here.
        logfile = os.path.join(LOG_DIR, "upgrade-bench.log")
        say("upgrading mpesa_paybill in %s, log in %s" % (BENCH_DB, logfile))
        _common_sh("odoo", "-c", CONFIG, "-d", BENCH_DB, "-u", "mpesa_paybill", "--stop-after-init",
                   "--logfile=" + logfile)
        return "copy of %s, mpesa_paybill upgraded" % TEMPLATE_DB

    # NOTE: installing takes a few minutes on top of the benchmark itself.
    logfile = os.path.join(LOG_DIR, "install-bench.log")
    say("%s not found (make test has not run here); installing mpesa_paybill into %s, log in %s"
        % (TEMPLATE_DB, BENCH_DB, logfile))
    _common_sh("create_kenyan_db", CONFIG, BENCH_DB, logfile)
    return "fresh install (no %s found)" % TEMPLATE_DB


def drop_database():
    """Drop the scratch database and its file store, if they exist."""
    subprocess.run(["dropdb", "--if-exists", BENCH_DB], check=True)
    shutil.rmtree(os.path.join(FILESTORE, BENCH_DB), ignore_errors=True)
