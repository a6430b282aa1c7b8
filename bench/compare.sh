#!/usr/bin/env bash
# bench/compare.sh [--duration SECS] [--json] [--threads W] [--size BYTES]
#                  [--tps RATE] [--skip-peer] [--skip-ringmq]
#
# Measures ringmq and the rocketmq-rust 1.0.0 broker (the comparison point of
# issue #4) the same way, in one run, on this machine: for each broker, start
# it on free loopback ports, create an 8-queue topic, run `ringmq-bench
# consumer` and `ringmq-bench producer -s 1024 -w 64` at the same time for
# SECS seconds, and sample the broker's CPU time (user + sys from
# /proc/<pid>/stat) and its RSS (VmRSS, the maximum of one-second samples).
#
# Rows:
#   ringmq pinned    `ringmq serve --shards 1 --cpus 0`, the tool on CPU 1
#                    (taskset): broker and load generator never share a core
#   ringmq unpinned  `ringmq serve --shards 2`, nothing pinned
#   rocketmq-rust    default config, then commitLogMicroBatchEnabled=false;
#                    broker on CPU 0 and the tool on CPU 1, like the first row
#
# The rocketmq-rust binaries (rocketmq-namesrv-rust, rocketmq-broker-rust)
# are installed on first use with `cargo install --root $RINGMQ_BENCH_CACHE`
# (default ~/.cache/ringmq-bench, outside the repository; about 30 minutes of
# both cores), then reused. --skip-peer (or RINGMQ_BENCH_SKIP_PEER=1) leaves
# them out; --skip-ringmq runs the peer rows only.
#
# Output: a table, or with --json one JSON object per row with the fields
# broker, produce_tps, consume_tps, send_p50_us, send_p99_us, send_p999_us,
# send_max_us, cpu_us_per_msg (broker CPU time / messages produced; each
# produced message is also consumed once), rss_mib, broker_cores (broker CPU
# seconds / wall seconds of the producer run). The load generator's own CPU
# use goes to stderr.
set -euo pipefail

DURATION=60
JSON=0
THREADS=64
SIZE=1024
TPS=""
SKIP_PEER=${RINGMQ_BENCH_SKIP_PEER:-0}
SKIP_RINGMQ=0
QUEUES=8
# Not "BenchmarkTest": Apache brokers (and ringmq) reserve that name as a
# system topic with 1024 queues and refuse to create it.
TOPIC=BenchTopic8
PEER_VERSION=1.0.0

usage() { sed -n '2,3p' "$0" | sed 's/^# //' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION=${2:?}; shift 2 ;;
        --json) JSON=1; shift ;;
        --threads) THREADS=${2:?}; shift 2 ;;
        --size) SIZE=${2:?}; shift 2 ;;
        --tps) TPS=${2:?}; shift 2 ;;
        --skip-peer) SKIP_PEER=1; shift ;;
        --skip-ringmq) SKIP_RINGMQ=1; shift ;;
        -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) usage ;;
    esac
done
[ "$(nproc)" -ge 2 ] || { echo "compare.sh: needs at least 2 CPUs (broker on 0, tool on 1)" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${RINGMQ_BENCH_CACHE:-$HOME/.cache/ringmq-bench}
case "$CACHE/" in "$ROOT"/*) echo "compare.sh: RINGMQ_BENCH_CACHE must be outside the repository" >&2; exit 2 ;; esac
WORK=$(mktemp -d /var/tmp/ringmq-compare.XXXXXX)
HZ=$(getconf CLK_TCK)
PIDS=()

log() { echo "compare.sh: $*" >&2; }

cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# A TCP port nobody listens on (and, with a step, the ports base-step ..
# base+step, for brokers that open neighbours of their listen port).
free_port() {
    local p q ok
    for _ in $(seq 1 200); do
        p=$(( (RANDOM % 20000) + 30000 ))
        ok=1
        for q in $(seq $((p - 3)) $((p + 3))); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$q") 2>/dev/null; then ok=0; break; fi
        done
        [ "$ok" = 1 ] && { echo "$p"; return; }
    done
    log "no free port found"; exit 1
}

# user + sys clock ticks of a process.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# Value of a top-level number field in a flat JSON object line.
jget() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<<"$1" | head -n1; }

BENCH="$ROOT/target/release/ringmq-bench"
RINGMQ="$ROOT/target/release/ringmq"

build() {
    log "building ringmq and ringmq-bench (release)"
    (cd "$ROOT" && cargo build --release -q -p ringmq -p ringmq-bench)
}

install_peer() {
    if [ -x "$CACHE/bin/rocketmq-namesrv-rust" ] && [ -x "$CACHE/bin/rocketmq-broker-rust" ]; then
        return 0
    fi
    log "installing rocketmq-namesrv and rocketmq-broker $PEER_VERSION into $CACHE (first use: about 30 minutes)"
    mkdir -p "$CACHE"
    CARGO_TARGET_DIR="$CACHE/target" cargo install --locked --root "$CACHE" \
        "rocketmq-namesrv@$PEER_VERSION" "rocketmq-broker@$PEER_VERSION"
}

# Waits until $1 (a file) has a line matching $2, or fails after $3 seconds.
wait_line() {
    local i
    for i in $(seq 1 $(( $3 * 10 ))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    log "timed out waiting for '$2' in $1:"; tail -n 20 "$1" >&2; return 1
}

# Waits until 127.0.0.1:$1 accepts connections, or fails after $2 seconds.
wait_port() {
    local i
    for i in $(seq 1 $(( $2 * 10 ))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    log "timed out waiting for port $1"; return 1
}

# run_load NAME BROKER_PID NAMESRV TOOL_CPUS: topic, consumer + producer,
# broker CPU and RSS; prints the row.
run_load() {
    local name=$1 pid=$2 ns=$3 tool_cpus=$4
    local pin=()
    [ -n "$tool_cpus" ] && pin=(taskset -c "$tool_cpus")
    "$BENCH" topic -n "$ns" -t "$TOPIC" --queues "$QUEUES" --wait 60 >&2 || return 1

    local clog="$WORK/consumer.$RANDOM.json" plog="$WORK/producer.$RANDOM.json"
    "${pin[@]}" "$BENCH" consumer -n "$ns" -t "$TOPIC" -g benchmark_consumer --json \
        --duration "$((DURATION + 3))" >"$clog" 2>"$clog.err" &
    local cpid=$!
    PIDS+=("$cpid")
    wait_line "$clog" '"type":"started"' 30

    local rss_max_file="$WORK/rss.$pid"
    echo 0 >"$rss_max_file"
    ( m=0; while kill -0 "$pid" 2>/dev/null; do
          r=$(rss_kib "$pid"); [ "${r:-0}" -gt "$m" ] && { m=$r; echo "$m" >"$rss_max_file"; }
          sleep 1
      done ) &
    local spid=$!
    PIDS+=("$spid")

    local extra=()
    [ -n "$TPS" ] && extra=(--tps "$TPS")
    local c0 t0 c1 t1
    c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
    "${pin[@]}" "$BENCH" producer -n "$ns" -t "$TOPIC" -s "$SIZE" -w "$THREADS" --json \
        --duration "$DURATION" "${extra[@]}" >"$plog" 2>"$plog.err" || { cat "$plog.err" >&2; return 1; }
    c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
    wait "$cpid" || { log "consumer failed:"; cat "$clog.err" >&2; }
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    grep -v '^ringmq-bench: 0 x' "$plog.err" "$clog.err" | sed 's/^/  /' >&2 || true

    local p c
    p=$(grep '"type":"summary"' "$plog" | tail -n1)
    c=$(grep '"type":"summary"' "$clog" | tail -n1)
    [ -n "$p" ] && [ -n "$c" ] || { log "$name: no summary"; cat "$plog.err" "$clog.err" >&2; return 1; }
    local sent rss
    sent=$(jget "$p" sent)
    rss=$(cat "$rss_max_file")
    local row
    row=$(awk -v name="$name" -v ptps="$(jget "$p" produce_tps)" -v ctps="$(jget "$c" consume_tps)" \
        -v p50="$(jget "$p" send_p50_us)" -v p99="$(jget "$p" send_p99_us)" \
        -v p999="$(jget "$p" send_p999_us)" -v pmax="$(jget "$p" send_max_us)" \
        -v ticks="$((c1 - c0))" -v hz="$HZ" -v t0="$t0" -v t1="$t1" -v sent="$sent" -v rss="$rss" \
        -v consumed="$(jget "$c" consumed)" -v json="$JSON" \
        -v ptool="$(jget "$p" tool_cores)" -v ctool="$(jget "$c" tool_cores)" 'BEGIN {
            cpu = ticks / hz; wall = t1 - t0
            per = sent > 0 ? cpu * 1e6 / sent : 0
            cores = wall > 0 ? cpu / wall : 0
            if (json)
                printf "{\"broker\":\"%s\",\"produce_tps\":%.0f,\"consume_tps\":%.0f,\"send_p50_us\":%d,\"send_p99_us\":%d,\"send_p999_us\":%d,\"send_max_us\":%d,\"cpu_us_per_msg\":%.2f,\"rss_mib\":%.0f,\"broker_cores\":%.3f}\n", name, ptps, ctps, p50, p99, p999, pmax, per, rss / 1024, cores
            else
                printf "| %s | %.0f | %.0f | %d / %d / %d / %d | %.2f | %.3f | %.0f | %s + %s |\n", name, ptps, ctps, p50, p99, p999, pmax, per, cores, rss / 1024, ptool, ctool
            printf "compare.sh: %s: sent %d, consumed %d, broker CPU %.2f s in %.2f s; tool cores: producer %s, consumer %s\n", name, sent, consumed, cpu, wall, ptool, ctool > "/dev/stderr"
        }')
    echo "$row"
}

run_ringmq() {
    local label=$1 tool_cpus=$2; shift 2
    local nsp bp dir
    nsp=$(free_port); bp=$(free_port)
    dir="$WORK/ringmq.$RANDOM"
    "$RINGMQ" serve --data "$dir" --namesrv-port "$nsp" --broker-port "$bp" "$@" \
        >"$dir.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_line "$dir.log" '^ringmq ready' 30
    run_load "$label" "$pid" "127.0.0.1:$nsp" "$tool_cpus"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    # A 60 s row stores ~10 GB; the next broker must not start on a full disk.
    rm -rf "$dir"
}

run_peer() {
    local label=$1 micro_batch=$2
    local nsp bp dir home
    nsp=$(free_port); bp=$(free_port)
    dir="$WORK/peer.$RANDOM"
    home="$dir/home"
    mkdir -p "$home/conf" "$dir/store"
    ROCKETMQ_HOME="$home" taskset -c 0 "$CACHE/bin/rocketmq-namesrv-rust" --listenPort "$nsp" \
        --bindAddress 127.0.0.1 >"$dir.namesrv.log" 2>&1 &
    PIDS+=("$!")
    wait_port "$nsp" 60 || { tail -n 30 "$dir.namesrv.log" >&2; return 1; }
    local batch_line=""
    [ "$micro_batch" = false ] && batch_line="commitLogMicroBatchEnabled = false"
    cat >"$dir/broker.toml" <<EOF
[broker]
namesrvAddr = "127.0.0.1:$nsp"
brokerIp1 = "127.0.0.1"
listenPort = $bp
storePathRootDir = "$dir/store"

[broker.brokerServerConfig]
bindAddress = "127.0.0.1"

[broker.brokerIdentity]
brokerName = "broker-a"
brokerClusterName = "DefaultCluster"
brokerId = 0

[store]
storePathRootDir = "$dir/store"
storePathCommitLog = "$dir/store/commitlog"
haListenPort = $((bp + 1))
$batch_line
EOF
    ROCKETMQ_HOME="$home" taskset -c 0 "$CACHE/bin/rocketmq-broker-rust" -c "$dir/broker.toml" \
        >"$dir.broker.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_port "$bp" 60 || { tail -n 30 "$dir.broker.log" >&2; return 1; }
    # `ringmq-bench topic` waits (60 s) for the broker to register.
    run_load "$label" "$pid" "127.0.0.1:$nsp" 1 || { tail -n 30 "$dir.broker.log" >&2; return 1; }
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$dir/store"
}

build
if [ "$SKIP_PEER" != 1 ]; then
    install_peer
fi

log "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), ${DURATION}s per row, -s $SIZE -w $THREADS${TPS:+ --tps $TPS}"
if [ "$JSON" = 0 ]; then
    echo "| broker | produce msg/s | consume msg/s | send p50 / p99 / p999 / max µs | broker CPU µs/msg | broker cores | RSS MiB | tool cores (producer + consumer) |"
    echo "|---|---|---|---|---|---|---|---|"
fi
if [ "$SKIP_RINGMQ" != 1 ]; then
    run_ringmq "ringmq (broker CPU 0, tool CPU 1)" 1 --shards 1 --cpus 0
    run_ringmq "ringmq (unpinned, 2 shards)" "" --shards 2
fi
if [ "$SKIP_PEER" != 1 ]; then
    run_peer "rocketmq-rust $PEER_VERSION (default)" true || log "the peer row (default) failed"
    run_peer "rocketmq-rust $PEER_VERSION (commitLogMicroBatchEnabled=false)" false \
        || log "the peer row (commitLogMicroBatchEnabled=false) failed"
fi
