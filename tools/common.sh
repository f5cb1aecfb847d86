# Shared settings for the scripts in tools/; sourced, not run.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
python="$venv/bin/python"
var="$root/var"
site_packages=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
addons_path="$site_packages/odoo/addons,$root"

# Write an Odoo configuration file: write_config FILE DATABASE HTTP_PORT
write_config() {
    mkdir -p "$var/data" "$var/log"
    cat > "$1" <<CONF
[options]
addons_path = $addons_path
data_dir = $var/data
db_name = $2
dbfilter = ^$2\$
list_db = False
http_port = $3
http_interface = 127.0.0.1
longpolling_port = $(( $3 + 3 ))
without_demo = False
CONF
}

# lessc from .venv comes first on PATH, ahead of any other on the machine.
odoo() { PATH="$venv/less/node_modules/.bin:$PATH" "$python" "$root/tools/odoo-bin" "$@"; }

# Create a database whose company is Kenyan and keeps its books in KES, then
# install mpesa_paybill into it: create_kenyan_db CONFIG DATABASE LOGFILE [ODOO OPTION...]
# Odoo 11's generic chart of accounts sets the company currency to USD when
# it loads, and Odoo refuses to change the currency once journal entries
# exist; so the chart is loaded without demo entries, the currency is set to
# KES, and only then is the addon installed, with its demo data if asked.
create_kenyan_db() {
    local config=$1 database=$2 logfile=$3
    shift 3
    odoo -c "$config" -d "$database" -i base --stop-after-init --logfile="${logfile%.log}-base.log" "$@" || return 1
    odoo -c "$config" -d "$database" -i l10n_generic_coa --without-demo=all --stop-after-init \
        --logfile="${logfile%.log}-chart.log" || return 1
    psql -q -d "$database" -v ON_ERROR_STOP=1 <<'SQL' || return 1
UPDATE res_currency SET active = true WHERE name = 'KES';
UPDATE res_company SET currency_id = (SELECT id FROM res_currency WHERE name = 'KES');
UPDATE product_pricelist SET currency_id = (SELECT id FROM res_currency WHERE name = 'KES');
UPDATE res_partner SET country_id = (SELECT id FROM res_country WHERE code = 'KE')
 WHERE id IN (SELECT partner_id FROM res_company);
SQL
    odoo -c "$config" -d "$database" -i mpesa_paybill --stop-after-init --logfile="$logfile" "$@"
}
