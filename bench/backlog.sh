#!/usr/bin/env bash
# The backlog measurement of docs/performance.md: EVENTS W1-shaped events (about 730 bytes
# each) put in a flow's inbox with `ledgerlink send`, then drained by `ledgerlink run
# --until-idle` (16 workers, a map of four fields and a call of the `mock` connector, SQLite
# FULL), the engine's RSS sampled every second. Memory must stay flat however long the backlog.
#
#   cargo build --release && bench/backlog.sh            # 1,000,000 events, about 7 minutes
#   bench/backlog.sh 100000                               # a shorter run
#
# Leaves its files (store, events, logs) in the directory it prints; delete it afterwards
# (the store of a million runs is about 1.3 GB).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
events=${1:-1000000}
bin=${LEDGERLINK:-$root/target/release/ledgerlink}
[ -x "$bin" ] || { echo "no $bin: run \`cargo build --release\` first (or set LEDGERLINK)" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/ll-backlog-XXXXXX")
mkdir -p "$dir/flows" "$dir/profiles"
cd "$dir"

cat > flows/backlog.yaml <<'YAML'
flow: backlog
trigger: { manual: {} }
steps:
  - id: payment
    map:
      PaymentReference: '"BL-" + event.transaction_id'
      PaymentDate: pacific_date(event.created.at)
      Amount: money(event.amount)
      CustomerID: event.customer_id
  - id: post
    call: mock.echo
    with: steps.payment
YAML
cat > profiles/bench.yaml <<YAML
profile: bench
runtime: { store: $dir/state.db, workers: 16 }
YAML

echo "== $events events into $dir/events.jsonl"
awk -v n="$events" 'BEGIN {
  for (i = 0; i < n; i++) {
    printf "{\"transaction_id\":%d,\"transaction_type\":\"SALE\",\"status_code\":101,", 500000 + i
    printf "\"status_message\":\"Your transaction was successfully approved.\",\"amount\":\"%d.%02d\",", 10 + i % 900, i % 100
    printf "\"invoice_id\":\"INV-%d\",\"customer_id\":\"pt-cust-100%d\",\"customer_reference_id\":\"\",", 20000 + i, 1 + i % 3
    printf "\"credit_card\":{\"masked_number\":\"xxxxxxxxxxxx5454\",\"expiration_month\":12,\"expiration_year\":28},"
    printf "\"approval_code\":\"TAS610\",\"approval_message\":\"  NO  MATCH - Approved and completed\","
    printf "\"avs_response\":\"No Match\",\"csc_response\":\"Match\",\"description\":\"Order 81234 web checkout\","
    printf "\"billing_address\":{\"name\":\"Ada Lovelace\",\"street_address\":\"8320 Main Street\",\"city\":\"Spokane\",\"state\":\"WA\",\"zip\":\"99201\"},"
    printf "\"created\":{\"at\":\"11/25/2026 11:42:10 PM\",\"through\":\"API\",\"by\":\"ledgerlink\",\"from_ip\":\"127.0.0.1\"},"
    printf "\"settled\":\"\",\"tax_amount\":\"\",\"receipt_emailed_to\":\"ada@example.com\"}\n"
  }
}' > events.jsonl

echo "== ledgerlink send (streamed)"
t0=$(date +%s.%N)
"$bin" send backlog --event events.jsonl --profile bench > send.log 2>&1
t1=$(date +%s.%N)
tail -n 2 send.log

echo "== ledgerlink run --until-idle (RSS every 10 s)"
"$bin" run --profile bench --until-idle --no-sandbox --progress 0 \
  --bind 127.0.0.1:0 --admin-bind 127.0.0.1:0 > run.log 2>&1 &
pid=$!
# Sampled every second (so the drain time is not rounded up to a sample), shown every 10 s;
# the first figure is taken 5 s in, once the engine has warmed up.
first=""
last=0
peak=0
i=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  i=$((i + 1))
  now=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$now" ] || continue
  last=$now
  [ -n "$hwm" ] && peak=$hwm
  [ -z "$first" ] && [ "$i" -ge 5 ] && first=$now
  [ $((i % 10)) -eq 0 ] && echo "   ${i}s: rss ${now} kB"
done
wait "$pid" || { echo "run failed:"; tail -n 20 run.log; exit 1; }
t2=$(date +%s.%N)
tail -n 1 run.log

awk -v n="$events" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v first="${first:-$last}" \
  -v last="$last" -v peak="$peak" -v size="$(stat -c %s state.db)" 'BEGIN {
  printf "\n| | %d events |\n|---|---|\n", n
  printf "| accepting (`send`, streamed) | %.0f s, %.0f events/s |\n", t1 - t0, n / (t1 - t0)
  printf "| draining (`run --until-idle`) | %.0f s, %.0f events/s |\n", t2 - t1, n / (t2 - t1)
  printf "| engine RSS while draining | %.1f MB after 5 s, %.1f MB at the end, peak %.1f MB |\n", first / 1024, last / 1024, peak / 1024
  printf "| store file afterwards | %.2f GB |\n", size / 1e9
}'
echo "files: $dir"
