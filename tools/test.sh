#!/usr/bin/env bash
# Run every test on fresh databases: install the addon with and without
# demo data, upgrade it, then run the addon's Odoo tests (pytest-odoo) and
# the system tests in tests/ (plain pytest). Exits non-zero when a test
# fails or when no test ran.
set -euo pipefail
source "$(dirname "$0")/common.sh"

db=mpesa_paybill_test
db_nodemo=mpesa_paybill_test_nodemo
logs="$var/log"
config="$var/test.conf"
mkdir -p "$logs"
rm -f "$logs"/install-*.log "$logs"/upgrade.log "$logs"/junit-*.xml
write_config "$config" "$db" 8169

for name in "$db" "$db_nodemo"; do
    dropdb --if-exists "$name"
done

# The two installs are independent, so they run side by side.
echo "test: installing mpesa_paybill into $db (demo data) and $db_nodemo (none)"
start=$(date +%s)
create_kenyan_db "$config" "$db" "$logs/install-demo.log" &
demo_pid=$!
create_kenyan_db "$config" "$db_nodemo" "$logs/install-nodemo.log" --without-demo=all &
nodemo_pid=$!
wait "$demo_pid" || { echo "test: install with demo data failed; see $logs/install-demo.log" >&2; exit 1; }
wait "$nodemo_pid" || { echo "test: install without demo data failed; see $logs/install-nodemo.log" >&2; exit 1; }
odoo -c "$config" -d "$db" -u mpesa_paybill --stop-after-init --logfile="$logs/upgrade.log" \
    || { echo "test: upgrade failed; see $logs/upgrade.log" >&2; exit 1; }
echo "test: installed and upgraded in $(( $(date +%s) - start )) s"

export MPESA_PAYBILL_TEST_LOGS="$logs" MPESA_PAYBILL_TEST_CONFIG="$config"
status=0

echo "test: addon tests (pytest-odoo on $db)"
PYTHONPATH="$root/tools${PYTHONPATH:+:$PYTHONPATH}" "$python" -m pytest \
    -p pytest_odoo_http --odoo-config="$config" --odoo-log-level=warn \
    --junitxml="$logs/junit-addon.xml" -q "$root/mpesa_paybill/tests" || status=$?

echo "test: system tests (plain pytest)"
"$python" -m pytest -p no:odoo --junitxml="$logs/junit-system.xml" -q "$root/tests" || status=$?

# One closing line over both runs, so that a failure in the first run is
# not hidden behind a green second one.
"$python" "$root/tools/junit_summary.py" "$logs/junit-addon.xml" "$logs/junit-system.xml" || status=1
exit "$status"
