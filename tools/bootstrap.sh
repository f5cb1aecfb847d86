#!/usr/bin/env bash
# Prepare this machine for Odoo 11 with mpesa_paybill: Python 3.7, the
# project's virtualenv in .venv, and a running PostgreSQL with a role for
# the current user. Safe to run again: each step is skipped when done.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
lock="$root/requirements-odoo11-py37.txt"

say() { printf 'bootstrap: %s\n' "$*"; }
fail() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo "$@"
    else
        return 1
    fi
}

find_python37() {
    local candidate
    # A pyenv shim named python3.7 exists even when 3.7 is not the active
    # version, so each candidate is run, not only looked up.
    for candidate in python3.7 "$(pyenv root 2>/dev/null)"/versions/3.7*/bin/python3.7; do
        if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 7)' >/dev/null 2>&1; then
            command -v "$candidate" 2>/dev/null || echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_venv() {
    local python stamp wanted
    python=$(find_python37) || fail "Python 3.7 not found. Odoo 11 runs on Python 3.7 only.
Install it with pyenv ('pyenv install 3.7.16') or put python3.7 on PATH, then run this again."

    # The stamp records what the venv was built from; a change to the lock
    # file or to the interpreter rebuilds it.
    wanted="$("$python" -c 'import sys; print(sys.version.split()[0])') $(sha256sum "$lock" | cut -d' ' -f1)"
    stamp="$venv/.mpesa-paybill-stamp"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -x "$venv/bin/python" ]; then
        say "virtualenv is up to date ($venv)"
        return 0
    fi

    say "creating the virtualenv with $python (about 1 minute, 540 MB)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # This machine's pip configuration names local indexes that may not
    # exist; pip warns once per package about them, so those lines are cut.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$lock" \
        2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2) \
        || fail "pip could not install $lock. Check that PyPI is reachable, then run this again."
    echo "$wanted" > "$stamp"
}

# Odoo 11 compiles the web client's stylesheets with lessc at run time;
# without it every page is served unstyled. less 3.0.4 is the release line
# Odoo 11 was built against, installed from the npm registry into .venv.
LESS_VERSION=3.0.4

ensure_lessc() {
    local lessc="$venv/less/node_modules/.bin/lessc"
    if [ -x "$lessc" ] && "$lessc" --version 2>/dev/null | grep -q "lessc $LESS_VERSION"; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        say "warning: npm not found, so lessc $LESS_VERSION is not installed and make run serves Odoo"
        say "without styles. Install Node.js with npm, then run this again. Tests do not need it."
        return 0
    fi
    say "installing lessc $LESS_VERSION for Odoo's stylesheets"
    npm install --silent --no-audit --no-fund --prefix "$venv/less" "less@$LESS_VERSION" >/dev/null \
        || fail "npm could not install less@$LESS_VERSION. Check that the npm registry is reachable, then run this again."
}

ensure_postgresql() {
    if ! command -v pg_lsclusters >/dev/null 2>&1; then
        say "PostgreSQL is not installed; installing Debian's postgresql package"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
            || fail "could not install PostgreSQL. As root, run 'apt-get install postgresql', then run this again."
    fi

    if ! pg_lsclusters --no-header 2>/dev/null | grep -q ' online '; then
        say "starting PostgreSQL"
        as_root service postgresql start >/dev/null \
            || fail "could not start PostgreSQL. As root, run 'service postgresql start', then run this again."
    fi

    local tries=0
    until pg_isready -q; do
        tries=$((tries + 1))
        [ "$tries" -le 30 ] || fail "PostgreSQL did not accept connections within 30 s; see /var/log/postgresql/."
        sleep 1
    done

    # Odoo refuses to connect as 'postgres', so the user that runs Odoo
    # needs a role of its own that may create databases.
    local user
    user=$(id -un)
    if ! psql -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
        say "creating the PostgreSQL role '$user'"
        as_root su postgres -c "createuser --superuser '$user'" \
            || fail "could not create the PostgreSQL role '$user'. As root, run: su postgres -c \"createuser --superuser $user\""
    fi
}

start=$(date +%s)
ensure_venv
ensure_lessc
ensure_postgresql
say "ready in $(( $(date +%s) - start )) s"
