#!/usr/bin/env bash
# Serve the demo: the offline Daraja sandbox on 127.0.0.1:8765 and Odoo with
# mpesa_paybill and its demo data on http://localhost:8069. The database is
# created on the first run and upgraded on later ones. Ctrl-C stops both.
set -euo pipefail
source "$(dirname "$0")/common.sh"

db=${MPESA_PAYBILL_DEMO_DB:-mpesa_paybill_demo}
odoo_port=${MPESA_PAYBILL_ODOO_PORT:-8069}
sandbox_port=${MPESA_PAYBILL_SANDBOX_PORT:-8765}
sandbox_state=${MPESA_PAYBILL_SANDBOX_STATE:-$var/sandbox-state.json}
config="$var/run.conf"
logs="$var/log"
write_config "$config" "$db" "$odoo_port"

if psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    echo "run: upgrading mpesa_paybill in the existing database $db"
    odoo -c "$config" -d "$db" -u mpesa_paybill --stop-after-init --logfile="$logs/run-upgrade.log" \
        || { echo "run: upgrade failed; see $logs/run-upgrade.log" >&2; exit 1; }
else
    echo "run: creating the demo database $db (about 1 minute)"
    create_kenyan_db "$config" "$db" "$logs/run-install.log" \
        || { echo "run: install failed; see $logs/run-install.log" >&2; dropdb --if-exists "$db"; exit 1; }
fi

currency=$(psql -d "$db" -tAc "SELECT c.name FROM res_company co JOIN res_currency c ON c.id = co.currency_id ORDER BY co.id LIMIT 1")
if [ "$currency" != "KES" ]; then
    echo "run: warning: the books of $db are in $currency, so Pay via M-Pesa rejects its documents." >&2
    echo "run: start over with a KES database: dropdb $db, then make run again." >&2
fi

sandbox_pid=""
odoo_pid=""
stop_all() {
    trap - INT TERM EXIT
    [ -z "$odoo_pid" ] || kill "$odoo_pid" 2>/dev/null || true
    [ -z "$sandbox_pid" ] || kill "$sandbox_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    echo "run: stopped Odoo and the Daraja sandbox"
    # Bash runs this handler after the current foreground command ends, so
    # exit here or the script resumes its next line with everything stopped.
    exit 0
}
trap stop_all INT TERM EXIT

"$python" -m daraja_sandbox --host 127.0.0.1 --port "$sandbox_port" \
    --data-file "$sandbox_state" > "$logs/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 30); do
    "$python" -c "import requests, sys; requests.get(sys.argv[1], timeout=2)" \
        "http://127.0.0.1:$sandbox_port/sandbox/" >/dev/null 2>&1 && break
    sleep 0.5
done

# Point the demo acquirer at this sandbox and at this Odoo for callbacks.
"$python" "$root/tools/configure_demo.py" --config "$config" --database "$db" \
    --sandbox-url "http://127.0.0.1:$sandbox_port" --odoo-url "http://127.0.0.1:$odoo_port"

# Started without the odoo() shell function, so that $! is Odoo's own pid
# and stopping it does not leave Odoo running behind a subshell.
PATH="$venv/less/node_modules/.bin:$PATH" "$python" "$root/tools/odoo-bin" -c "$config" -d "$db" \
    --logfile="$logs/odoo.log" &
odoo_pid=$!

# The first request compiles the styles, which can take several seconds.
for _ in $(seq 60); do
    if "$python" -c "import requests, sys; requests.get(sys.argv[1], timeout=10)" \
        "http://127.0.0.1:$odoo_port/web/login" >/dev/null 2>&1; then
        break
    fi
    sleep 1
done

cat <<EOF

  Odoo:           http://localhost:$odoo_port   (login admin, password admin)
  Phone page:     http://127.0.0.1:$sandbox_port/sandbox/phone   (answer STK prompts, pay a PayBill)
  Logs:           $logs/odoo.log and $logs/sandbox.log

  Three things to try first:
  1. Sales > Quotations > the quotation of Wanjiku Kamau > Pay via M-Pesa > Send payment request,
     then press Pay on the phone page: the order is confirmed and the payment posted.
  2. On the phone page, pay PayBill 600000 with an invoice number as the account number;
     the invoice is reconciled (Invoicing > Sales > M-Pesa > Transactions).
  3. Run the scripted business day: make day

  Ctrl-C stops Odoo and the sandbox.
EOF

wait "$odoo_pid"
