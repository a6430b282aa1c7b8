#!/usr/bin/env bash
# bench/timer.sh [--shards N] [--keep-log] [TIMER ARGS...]
#
# One `ringmq-bench timer` run against a fresh broker: starts `ringmq serve
# --shards N` (default 2, unpinned) on free loopback ports with a new data
# directory, runs `ringmq-bench timer -n <its name server> TIMER ARGS...`
# (e.g. `--count 100000`, or `--pending 1000000 --warmup 400000`), passes on
# its output and exit status, then stops the broker and removes the data.
# The load average before and after goes to stderr (the machine may be
# shared). Expects release binaries in target/release (built if missing).
set -euo pipefail

SHARDS=2
KEEP_LOG=0
while [ $# -gt 0 ]; do
    case "$1" in
        --shards) SHARDS=${2:?}; shift 2 ;;
        --keep-log) KEEP_LOG=1; shift ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/target/release/ringmq-bench"
RINGMQ="$ROOT/target/release/ringmq"
[ -x "$BENCH" ] && [ -x "$RINGMQ" ] || (cd "$ROOT" && cargo build --release -q -p ringmq -p ringmq-bench)

WORK=$(mktemp -d /tmp/ringmq-timer.XXXXXX)
BROKER=""
cleanup() {
    if [ -n "$BROKER" ]; then
        kill "$BROKER" 2>/dev/null || true
        wait "$BROKER" 2>/dev/null || true
    fi
    if [ "$KEEP_LOG" = 1 ]; then cp "$WORK/ringmq.log" /tmp/ringmq-timer-last.log || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$(( (RANDOM % 20000) + 30000 ))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    echo "timer.sh: no free port" >&2
    exit 1
}

NSP=$(free_port); BP=$(free_port)
"$RINGMQ" serve --data "$WORK/data" --namesrv-port "$NSP" --broker-port "$BP" --shards "$SHARDS" \
    >"$WORK/ringmq.log" 2>&1 &
BROKER=$!
for _ in $(seq 1 300); do
    grep -q '^ringmq ready' "$WORK/ringmq.log" 2>/dev/null && break
    kill -0 "$BROKER" 2>/dev/null || { cat "$WORK/ringmq.log" >&2; exit 1; }
    sleep 0.1
done
grep -q '^ringmq ready' "$WORK/ringmq.log" || { echo "timer.sh: broker not ready" >&2; exit 1; }

echo "timer.sh: broker pid $BROKER, $SHARDS shards; load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
set +e
"$BENCH" timer -n "127.0.0.1:$NSP" --broker-pid "$BROKER" "$@"
RC=$?
set -e
echo "timer.sh: load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if grep -qE ' (WARN|ERROR) ' "$WORK/ringmq.log"; then
    echo "timer.sh: broker warnings:" >&2
    grep -E ' (WARN|ERROR) ' "$WORK/ringmq.log" | head -n 20 >&2
fi
exit "$RC"
