# Peers for scripts/bench-queue, run on the same cluster as our queue: sourced, not run.
#
#   bench_pgbench URL SECONDS   pgbench (Debian's postgresql packages), 8 clients, each
#                               transaction ONE single-row UPDATE; prints its tps (integer)
#   bench_pgqueuer URL JOBS     PgQueuer (PyPI) at its default settings drains JOBS no-op
#                               jobs in one process; prints jobs/s (integer)
#   bench_pgqueuer_version      the PgQueuer version bench_pgqueuer uses
#
# URL is a connection string as scripts/db prints it (postgresql://user@/db?host=SOCKET&port=N);
# each peer works in a database of its own on that cluster (`pgbench`, `pgqueuer`), created
# here. Only the figure goes to stdout; the tools' own output goes to stderr.
#
# PgQueuer runs from a virtualenv in .reception/venv-bench, created (and the versions pinned
# in bench_peers_venv installed with pip) when missing.

# URL with its database name replaced by $2 (the query parameters are kept).
bench_peers_url_for() {
    local url=$1 db=$2
    if [[ "$url" =~ ^(postgres(ql)?://[^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
        echo "${BASH_REMATCH[1]}/$db${BASH_REMATCH[4]}"
    else
        echo "bench-peers: error: not a postgresql:// URL: $url" >&2
        return 1
    fi
}

# The folder of PostgreSQL's client programs (pgbench, psql): the newest in
# /usr/lib/postgresql/*/bin, else the one on the PATH.
bench_peers_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/pgbench" ] && [ -x "$d/psql" ] && { echo "$d"; return 0; }
    done
    command -v pgbench >/dev/null 2>&1 && command -v psql >/dev/null 2>&1 &&
        { dirname "$(command -v pgbench)"; return 0; }
    echo "bench-peers: error: pgbench not found (it comes with Debian's postgresql-client package)" >&2
    return 1
}

# Creates database $2 on the cluster behind URL $1 unless it exists; with "fresh" as $3,
# drops it first.
bench_peers_database() {
    local url=$1 db=$2 mode=${3:-} bindir admin
    bindir=$(bench_peers_bindir) || return 1
    admin=$(bench_peers_url_for "$url" postgres) || return 1
    if [ "$mode" = fresh ]; then
        PGOPTIONS="-c client_min_messages=warning" "$bindir/psql" "$admin" -XAtq -v ON_ERROR_STOP=1 \
            -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >&2 || return 1
    fi
    if [ "$("$bindir/psql" "$admin" -XAtq -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != "1" ]; then
        "$bindir/psql" "$admin" -XAtq -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >&2 || return 1
    fi
}

# bench_pgbench URL SECONDS: pgbench -i -s 1 in database `pgbench` (re-created tables each
# time), then `-c 8 -j 2 -T SECONDS -n` with a script of one single-row UPDATE per
# transaction (no SELECT, no INSERT into history, unlike TPC-B). Prints the tps, without
# connection time, as an integer.
bench_pgbench() {
    local url=${1:?bench_pgbench URL SECONDS} seconds=${2:?bench_pgbench URL SECONDS}
    local bindir db out script tps
    bindir=$(bench_peers_bindir) || return 1
    db=$(bench_peers_url_for "$url" pgbench) || return 1
    bench_peers_database "$url" pgbench || return 1
    out=$("$bindir/pgbench" -i -s 1 -q "$db" 2>&1) ||
        { echo "$out" >&2; echo "bench-peers: error: pgbench -i failed" >&2; return 1; }
    script=$(mktemp "${TMPDIR:-/tmp}/bench-peers-pgbench.XXXXXX.sql") || return 1
    cat >"$script" <<'EOF'
\set aid random(1, 100000 * :scale)
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
EOF
    local rc=0
    out=$("$bindir/pgbench" -n -c 8 -j 2 -T "$seconds" -f "$script" "$db" 2>&1) || rc=$?
    rm -f "$script"
    echo "$out" | sed 's/^/pgbench: /' >&2
    [ "$rc" -eq 0 ] || { echo "bench-peers: error: pgbench failed" >&2; return 1; }
    tps=$(echo "$out" | sed -n '/^tps = /{s/^tps = \([0-9.]*\).*/\1/p;q;}')
    [ -n "$tps" ] || { echo "bench-peers: error: no tps in pgbench's output" >&2; return 1; }
    awk -v t="$tps" 'BEGIN { printf "%d\n", t }'
}

# The venv's python with the pinned PgQueuer and asyncpg, created or completed when needed.
# These are the versions bench-queue was tested with.
bench_peers_venv() {
    local pgqueuer_version=1.6.0 asyncpg_version=0.32.0
    local repo venv py
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    venv=$repo/.reception/venv-bench
    py=$venv/bin/python
    if [ -x "$py" ] && "$py" - "$pgqueuer_version" "$asyncpg_version" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
sys.exit(0 if (version("pgqueuer"), version("asyncpg")) == (sys.argv[1], sys.argv[2]) else 1)
EOF
    then
        echo "$py"
        return 0
    fi
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        echo "bench-peers: installing python3 and python3-venv with apt-get" >&2
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q >&2 &&
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q python3 python3-venv >&2 || return 1
    fi
    echo "bench-peers: installing PgQueuer $pgqueuer_version in $venv" >&2
    [ -x "$py" ] || python3 -m venv "$venv" >&2 || return 1
    "$py" -m pip install -q --disable-pip-version-check \
        "pgqueuer==$pgqueuer_version" "asyncpg==$asyncpg_version" >&2 || return 1
    echo "$py"
}

# bench_pgqueuer URL JOBS: in a fresh database `pgqueuer`, installs PgQueuer's schema,
# enqueues JOBS no-op jobs in bulk (not timed with the drain), drains them with one PgQueuer
# consumer at its defaults (see scripts/bench-peers/pgqueuer_drain.py), prints jobs/s.
bench_pgqueuer() {
    local url=${1:?bench_pgqueuer URL JOBS} jobs=${2:?bench_pgqueuer URL JOBS}
    local here py db
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    py=$(bench_peers_venv) || { echo "bench-peers: error: could not set up the PgQueuer venv" >&2; return 1; }
    db=$(bench_peers_url_for "$url" pgqueuer) || return 1
    bench_peers_database "$url" pgqueuer fresh || return 1
    "$py" "$here/bench-peers/pgqueuer_drain.py" --dsn "$db" --jobs "$jobs"
}

# The PgQueuer version bench_pgqueuer runs (for the summary line).
bench_pgqueuer_version() {
    local py
    py=$(bench_peers_venv) || return 1
    "$py" -c 'from importlib.metadata import version; print(version("pgqueuer"))'
}
