#!/usr/bin/env bash
# bench/smoke.sh [SECS]: the CI smoke run of issue #4. Starts `ringmq serve`
# on free loopback ports, creates an 8-queue topic, runs `ringmq-bench
# consumer` and `ringmq-bench producer` together for SECS seconds (default 2)
# and fails unless messages were sent, every one was consumed, and neither
# side saw an error. Expects release binaries in target/release (it builds
# them if missing). Prints "1 passed, 0 failed" on success.
set -euo pipefail

SECS=${1:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/target/release/ringmq-bench"
RINGMQ="$ROOT/target/release/ringmq"
[ -x "$BENCH" ] && [ -x "$RINGMQ" ] || (cd "$ROOT" && cargo build --release -q -p ringmq -p ringmq-bench)

WORK=$(mktemp -d /var/tmp/ringmq-smoke.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "smoke: $*" >&2; for f in "$WORK"/*.log "$WORK"/*.err; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }; done; echo "0 passed, 1 failed"; exit 1; }

free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$(( (RANDOM % 20000) + 30000 ))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    fail "no free port"
}
wait_line() {
    local i
    for i in $(seq 1 $(( $3 * 10 ))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "timed out waiting for '$2' in $1"
}
jget() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<<"$1" | head -n1; }

NSP=$(free_port); BP=$(free_port)
NS="127.0.0.1:$NSP"
"$RINGMQ" serve --data "$WORK/data" --namesrv-port "$NSP" --broker-port "$BP" --shards 1 >"$WORK/ringmq.log" 2>&1 &
PIDS+=("$!")
wait_line "$WORK/ringmq.log" '^ringmq ready' 30
"$BENCH" topic -n "$NS" -t SmokeTopic --queues 8 --wait 30 >"$WORK/topic.log" 2>&1 || fail "topic creation failed"

"$BENCH" consumer -n "$NS" -t SmokeTopic -g smoke_consumer --json --duration "$((SECS + 3))" \
    >"$WORK/consumer.json" 2>"$WORK/consumer.err" &
CPID=$!
PIDS+=("$CPID")
wait_line "$WORK/consumer.json" '"type":"started"' 30
"$BENCH" producer -n "$NS" -t SmokeTopic -s 1024 -w 16 --json --duration "$SECS" \
    >"$WORK/producer.json" 2>"$WORK/producer.err" || fail "producer failed"
wait "$CPID" || fail "consumer failed"

P=$(grep '"type":"summary"' "$WORK/producer.json" | tail -n1)
C=$(grep '"type":"summary"' "$WORK/consumer.json" | tail -n1)
SENT=$(jget "$P" sent); CONSUMED=$(jget "$C" consumed)
ERRS=$(( $(jget "$P" send_failed) + $(jget "$P" response_failed) ))
[ "${SENT:-0}" -gt 0 ] || fail "nothing sent"
[ "$ERRS" -eq 0 ] || fail "$ERRS failed sends"
[ "$SENT" = "$CONSUMED" ] || fail "sent $SENT but consumed $CONSUMED"
if grep -q 'broker error' "$WORK/producer.err" "$WORK/consumer.err"; then fail "broker errors reported"; fi
echo "smoke: sent $SENT, consumed $CONSUMED in ${SECS}s, send p99 $(jget "$P" send_p99_us) us"
echo "1 passed, 0 failed"
