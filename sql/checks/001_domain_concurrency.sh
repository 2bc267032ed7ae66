#!/usr/bin/env bash
# Concurrency checks of sql/001_domain.sql: they need several sessions and committed data, so
# they cannot live in 001_domain_checks.sql's single rolled-back transaction.
#
#   sql/checks/001_domain_concurrency.sh [SERVER_URL]
#
# SERVER_URL is any database URL on the server (default: scripts/db url). The script creates a
# throwaway database beside it, applies 001, runs the checks, and drops it. Exits non-zero
# with 'CHECK FAILED' when the database lets concurrent transactions overbook.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
server=${1:-$("$repo/scripts/db" url)}
db="reception_concurrency_$$"
# Replace the database name in the URL (postgresql://user@host/NAME?params).
url=$(printf '%s' "$server" | sed -E "s#^(postgres(ql)?://[^/]*/)[^?]*#\1$db#")
admin=$(printf '%s' "$server" | sed -E "s#^(postgres(ql)?://[^/]*/)[^?]*#\1postgres#")

fail() { echo "CHECK FAILED: $*" >&2; exit 1; }
q() { psql "$url" -XAtq -v ON_ERROR_STOP=1 "$@"; }

psql "$admin" -XAtq -c "CREATE DATABASE $db"
trap 'psql "$admin" -XAtq -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
psql "$url" -Xq -v ON_ERROR_STOP=1 --single-transaction -f "$repo/sql/001_domain.sql"

q <<'SQL'
INSERT INTO municipalities (code, name) VALUES ('2480', 'Umeå'), ('2460', 'Vännäs');
INSERT INTO capacity (municipality_code, period, dimension, quota)
SELECT m, 2026, d, q FROM (VALUES ('persons', 5), ('dwellings', 40)) v (d, q), (VALUES ('2480'), ('2460')) mm (m);
-- X and Y: 3 persons each, only one fits in 2480. S1..S30: one person each, for the crowd.
INSERT INTO cases (reference, ages, arrived_on) VALUES ('X', '{30,30,19}', '2026-01-01'), ('Y', '{40,40,18}', '2026-01-02');
INSERT INTO cases (reference, ages, arrived_on) SELECT 'S' || i, '{25}', '2026-01-03' FROM generate_series(1, 30) i;
SQL

alloc() {  # alloc REF CODE -> an INSERT of a manual allocation
    echo "INSERT INTO allocations (case_id, municipality_code, period, decision_reason)
          SELECT id, '$2', 2026, 'concurrency check' FROM cases WHERE reference = '$1';"
}

# 1. Two sessions, READ COMMITTED: the second waits on the capacity row, then re-checks
#    against the committed numbers and is refused.
{ echo "BEGIN;"; alloc X 2480; echo "SELECT pg_sleep(1.5); COMMIT;"; } |
    psql "$url" -Xq -v ON_ERROR_STOP=1 >/tmp/$db.s1 2>&1 & p1=$!
sleep 0.5
{ echo "BEGIN;"; alloc Y 2480; echo "COMMIT;"; } |
    psql "$url" -Xq -v ON_ERROR_STOP=1 >/tmp/$db.s2 2>&1 & p2=$!
wait $p1 || fail "session 1 failed: $(cat /tmp/$db.s1)"
if wait $p2; then fail "session 2 overbooked 2480"; fi
grep -q 'not enough persons capacity' /tmp/$db.s2 || fail "session 2: unexpected error: $(cat /tmp/$db.s2)"
[ "$(q -c "SELECT used FROM capacity WHERE municipality_code = '2480' AND dimension = 'persons'")" = 3 ] ||
    fail "2480 persons used is not 3"
echo "ok: two READ COMMITTED sessions cannot together exceed capacity (second refused: 23514)"

# 2. REPEATABLE READ: the second session gets a serialization failure (40001), for the app to retry.
{ echo "BEGIN ISOLATION LEVEL REPEATABLE READ;"; alloc Y 2460; echo "SELECT pg_sleep(1.5); COMMIT;"; } |
    psql "$url" -Xq -v ON_ERROR_STOP=1 >/tmp/$db.s1 2>&1 & p1=$!
sleep 0.5
{ echo "BEGIN ISOLATION LEVEL REPEATABLE READ;"; echo "SELECT count(*) FROM capacity;"; alloc S1 2460; echo "COMMIT;"; } |
    psql "$url" -Xq -v ON_ERROR_STOP=1 -v VERBOSITY=verbose >/tmp/$db.s2 2>&1 & p2=$!
wait $p1 || fail "RR session 1 failed: $(cat /tmp/$db.s1)"
if wait $p2; then fail "RR session 2 should have been a serialization failure"; fi
grep -q '40001' /tmp/$db.s2 || fail "RR session 2: unexpected error: $(cat /tmp/$db.s2)"
echo "ok: under REPEATABLE READ the second writer gets 40001"

# 3. A crowd: 30 sessions at once, one person each, into 2480 with 10 persons free.
q -c "UPDATE capacity SET quota = 13 WHERE municipality_code = '2480' AND dimension = 'persons'"  # X holds 3
for i in $(seq 1 30); do
    { echo "BEGIN;"; alloc "S$i" 2480; echo "SELECT pg_sleep(0.2); COMMIT;"; } |
        psql "$url" -Xq -v ON_ERROR_STOP=1 >/dev/null 2>&1 &
done
wait || true
placed=$(q -c "SELECT count(*) FROM allocations a JOIN cases c ON c.id = a.case_id
               WHERE a.municipality_code = '2480' AND a.status = 'proposed' AND c.reference LIKE 'S%'")
used=$(q -c "SELECT used || '/' || quota FROM capacity WHERE municipality_code = '2480' AND dimension = 'persons'")
[ "$placed" = 10 ] && [ "$used" = "13/13" ] || fail "crowd: $placed placed, persons $used (want 10 and 13/13)"
echo "ok: 30 concurrent sessions for 10 free places: exactly 10 placed, persons 13/13"

# 4. Withdrawal racing a confirmation (they lock the case and the allocation in opposite
#    orders, so one may be chosen as a deadlock victim, 40P01, and retried by the app): whichever
#    wins, capacity equals what the active allocations hold and the case status matches.
read -r aid ref < <(q -F ' ' -c "SELECT a.id, c.reference FROM allocations a JOIN cases c ON c.id = a.case_id
                                 WHERE c.reference LIKE 'S%' AND a.status = 'proposed' ORDER BY a.id LIMIT 1")
q -c "UPDATE allocations SET status = 'confirmed' WHERE id = $aid; SELECT pg_sleep(0.3)" >/dev/null 2>/tmp/$db.r1 & p1=$!
q -c "UPDATE cases SET status = 'withdrawn', withdrawn_reason = 'race' WHERE reference = '$ref'" >/dev/null 2>/tmp/$db.r2 & p2=$!
wait $p1 && r1=ok || r1=$(grep -o 'ERROR: .*' /tmp/$db.r1 | head -1)
wait $p2 && r2=ok || r2=$(grep -o 'ERROR: .*' /tmp/$db.r2 | head -1)
echo "   race: confirm: $r1; withdraw: $r2"
state=$(q -c "SELECT c.status || '/' || a.status FROM cases c JOIN allocations a ON a.case_id = c.id WHERE a.id = $aid")
case "$state" in
    withdrawn/cancelled|placed/confirmed|proposed/proposed) ;;
    *) fail "after the race, case/allocation is $state" ;;
esac
bad=$(q <<'SQL'
WITH held AS (
    SELECT a.municipality_code, a.period, d.key AS dimension, sum(d.value::int) AS units
    FROM allocations a, jsonb_each_text(a.demand) d
    WHERE a.status IN ('proposed', 'confirmed') GROUP BY 1, 2, 3)
SELECT count(*) FROM capacity c FULL JOIN held h USING (municipality_code, period, dimension)
WHERE coalesce(c.used + c.forced, 0) <> coalesce(h.units, 0);
SQL
)
[ "$bad" = 0 ] || fail "capacity differs from the active allocations in $bad rows"
echo "ok: after all races, capacity used equals the demand held by active allocations"
rm -f /tmp/$db.s1 /tmp/$db.s2 /tmp/$db.r1 /tmp/$db.r2
echo "all 001_domain concurrency checks passed"
