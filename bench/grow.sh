#!/usr/bin/env bash
# Growth speed into PostgreSQL, side by side with `pgbench -i` in one run.
#
# Narrow rows: pgbench_accounts' own shape (aid int, bid int, abalance int, filler char(84)).
# pgbench fills it with a counter, a branch id, zero and a blank filler ("client-side generate"
# phase of `pgbench -i -I dtg`); loadcast fills the same shape with a sequence, a uniform branch,
# normally distributed balances and a few words of text. Both write a freshly created table.
# Wide rows: an orders table with names, emails, JSON, UUIDs and timestamps: rows/s and MB/s.
#
# Usage: bench/grow.sh      (RUNS=5 SCALE=10 WIDE=300000; PostgreSQL on 127.0.0.1:5432, trust)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
SCALE=${SCALE:-10}
WIDE=${WIDE:-300000}
ROWS=$((SCALE * 100000))
PSQL=(psql -h 127.0.0.1 -U postgres -qAt)

command -v pgbench >/dev/null || { echo "missing pgbench (apt-get install postgresql-contrib)" >&2; exit 1; }
cargo build --release -q -p loadcast
LOADCAST="${CARGO_TARGET_DIR:-target}/release/loadcast"
work=$(mktemp -d)
trap '"${PSQL[@]}" -c "DROP DATABASE IF EXISTS lc_bench_grow WITH (FORCE)" -c "DROP DATABASE IF EXISTS lc_bench_pgbench WITH (FORCE)" >/dev/null 2>&1; rm -rf "$work"' EXIT
"${PSQL[@]}" -c "DROP DATABASE IF EXISTS lc_bench_grow WITH (FORCE)" -c "CREATE DATABASE lc_bench_grow" \
  -c "DROP DATABASE IF EXISTS lc_bench_pgbench WITH (FORCE)" -c "CREATE DATABASE lc_bench_pgbench"
URL="postgres://postgres@127.0.0.1:5432/lc_bench_grow"
"$LOADCAST" grow --db "$URL" --init-marker > /dev/null

cat > "$work/plan.toml" <<TOML
# Only [database] matters here; growth needs no load.
target = "http://127.0.0.1:1"
[[scenario]]
[[scenario.step]]
get = "/"
[load]
model = "closed"
users = 1
duration = "1s"
[database]
url = "$URL"
[database.tables.accounts]
rows = $ROWS
columns.aid = { sequence = 1 }
columns.bid = { uniform = [1, $SCALE] }
columns.abalance = { normal = { mean = 0, sd = 5000 } }
columns.filler = { words = "2..6" }
[database.tables.orders]
rows = $WIDE
columns.total = { lognormal = { median = 38.0, sigma = 0.6 } }
TOML

# rows/s and MB/s of a table from loadcast's summary line.
rate_of() { awk -v t="$1" '$1 == t { print $5, $6 }' "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: > "$work/pgbench"; : > "$work/narrow"; : > "$work/wide_rows"; : > "$work/wide_mb"
for run in $(seq "$RUNS"); do
  pgbench -h 127.0.0.1 -U postgres -i -s "$SCALE" -I dtg lc_bench_pgbench > "$work/pgb.out" 2>&1
  seconds=$(grep -o "client-side generate [0-9.]* s" "$work/pgb.out" | awk '{print $3}')
  echo "$ROWS / $seconds" | bc -l >> "$work/pgbench"

  "${PSQL[@]}" -d lc_bench_grow -c "DROP TABLE IF EXISTS accounts" -c "DROP TABLE IF EXISTS orders" -c "DROP TABLE IF EXISTS customers" \
    -c "CREATE TABLE accounts (aid int NOT NULL, bid int NOT NULL, abalance int NOT NULL, filler char(84))" \
    -c "CREATE TABLE customers (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, city TEXT, created_at TIMESTAMPTZ NOT NULL)" \
    -c "INSERT INTO customers (email, name, city, created_at) SELECT 'c' || g || '@example.com', 'customer ' || g, 'city', now() FROM generate_series(1, 20000) g" \
    -c "CREATE TABLE orders (id BIGSERIAL PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES customers(id), ref UUID NOT NULL UNIQUE, email TEXT NOT NULL, shipping_address TEXT NOT NULL, status VARCHAR(12) NOT NULL CHECK (status IN ('new','paid','shipped')), total NUMERIC(12,2) NOT NULL, note TEXT, meta JSONB, created_at TIMESTAMP NOT NULL)"
  "$LOADCAST" grow "$work/plan.toml" --rows "orders=0" --no-analyze --progress off --batch 50000 > "$work/narrow.out"
  rate_of accounts "$work/narrow.out" | awk '{print $1}' >> "$work/narrow"
  "$LOADCAST" grow "$work/plan.toml" --rows "accounts=0" --no-analyze --progress off --batch 20000 > "$work/wide.out"
  read -r rows_s mb_s < <(rate_of orders "$work/wide.out")
  echo "$rows_s" >> "$work/wide_rows"; echo "$mb_s" >> "$work/wide_mb"
  echo "run $run: pgbench -i $(tail -1 "$work/pgbench" | xargs printf '%.0f') rows/s, loadcast narrow $(tail -1 "$work/narrow") rows/s, wide $rows_s rows/s ($mb_s MB/s)"
done

pgb=$(median < "$work/pgbench"); narrow=$(median < "$work/narrow")
echo
echo "== growth into PostgreSQL $("${PSQL[@]}" -c 'SHOW server_version'), $ROWS narrow rows, median of $RUNS"
printf "pgbench -i (client-side generate)  %10.0f rows/s\n" "$pgb"
printf "loadcast grow, same row shape       %10.0f rows/s   (%.2fx pgbench -i; goal >= 1.0x)\n" "$narrow" "$(echo "$narrow / $pgb" | bc -l)"
printf "loadcast grow, wide orders rows     %10.0f rows/s   %.1f MB/s of values\n" "$(median < "$work/wide_rows")" "$(median < "$work/wide_mb")"
echo "sample narrow row: $("${PSQL[@]}" -d lc_bench_grow -c "SELECT aid, bid, abalance, trim(filler) FROM accounts LIMIT 1 OFFSET 12345")"
echo "sample wide row:   $("${PSQL[@]}" -d lc_bench_grow -c "SELECT email, shipping_address, status, total, note FROM orders LIMIT 1 OFFSET 123")"
