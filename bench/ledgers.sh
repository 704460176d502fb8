#!/usr/bin/env bash
# Many ledgers on one node: what a ledger costs and whether spreading appends over ledgers costs throughput.
# Builds Release, then on 127.0.0.1:
#   1. creates COUNT ledgers (default 1,000) with --ledger on a new data folder: time until the node is ready, threads,
#      resident memory and open file descriptors once idle (against a node with one ledger);
#   2. restarts that folder with no flag: time until ready, and file descriptors once idle;
#   3. on a node with the ledger 'default' and SPREAD ledgers (default 100), first warms both paths (one run of each,
#      not counted), then alternates ROUNDS times (default 3) a load-generator run appending to one ledger with one
#      spreading the same appends over the SPREAD ledgers, the order swapped every round (a path that runs second runs
#      warmer), and prints each round's ratio and their median.
# Prints one line per figure; not part of the tests or CI. About 5-7 minutes on a 2-core machine.
#
# SIGNATURES=N passes --max-signatures-per-second N to the node of step 3 (default: the node's default, 100).
# PER_CONNECTION=1 gives step 3 the shape of tenants that each talk to their own ledger: SPREAD connections, each
# keeping to one ledger (--ledger-per-connection), and the one-ledger runs the same SPREAD connections.
#
#   bench/ledgers.sh
#   COUNT=200 SPREAD=50 ROUNDS=2 bench/ledgers.sh
#   SIGNATURES=25 bench/ledgers.sh
#   COUNT=10 PER_CONNECTION=1 bench/ledgers.sh
set -euo pipefail

COUNT=${COUNT:-1000}
SPREAD=${SPREAD:-100}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
CLIENTS=${CLIENTS:-256}
PORT=${PORT:-18543}
SIGNATURES=${SIGNATURES:-}
PER_CONNECTION=${PER_CONNECTION:-}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d /tmp/vellum-ledgers.XXXXXX)
NODE_PID=""
stop_node() {
    if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then
        kill "$NODE_PID" 2>/dev/null || true
        for _ in $(seq 1 300); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$NODE_PID" 2>/dev/null || true
    fi
    NODE_PID=""
}
trap 'stop_node; rm -rf "$WORK"' EXIT

dotnet build src/Vellum.Cli -c Release -v q -nologo > /dev/null
dotnet build bench/Vellum.LoadGen -c Release -v q -nologo > /dev/null
VELLUM=src/Vellum.Cli/bin/Release/net10.0/vellum.dll
LOADGEN=bench/Vellum.LoadGen/bin/Release/net10.0/vellum-loadgen.dll

# Starts a node on data folder $1 with the remaining arguments; sets NODE_PID and READY (seconds until it was ready).
start_node() {
    local data=$1; shift
    local log="$data.log" begin end
    begin=$(date +%s.%N)
    dotnet "$VELLUM" start --data "$data" --listen "127.0.0.1:$PORT" "$@" > "$log" 2>&1 &
    NODE_PID=$!
    for _ in $(seq 1 3000); do grep -q '^ledger files: ' "$log" && break; sleep 0.1; done
    grep -q '^ledger files: ' "$log" || { echo "the node did not start: $(tail -5 "$log")" >&2; exit 1; }
    end=$(date +%s.%N)
    READY=$(echo "$end - $begin" | bc)
}

status() { grep -E "^$2:" "/proc/$1/status" | awk '{print $2}'; }

names() { for i in $(seq 1 "$1"); do printf 'l%04d\n' "$i"; done; }

# 1. Creation, threads and memory.
start_node "$WORK/one"; sleep 3
one_threads=$(status "$NODE_PID" Threads); one_rss=$(status "$NODE_PID" VmRSS); one_fds=$(ls "/proc/$NODE_PID/fd" | wc -l); stop_node
args=(); while read -r n; do args+=(--ledger "$n"); done < <(names "$COUNT")
start_node "$WORK/many" "${args[@]}"; created=$READY; sleep 3
many_threads=$(status "$NODE_PID" Threads); many_rss=$(status "$NODE_PID" VmRSS); many_fds=$(ls "/proc/$NODE_PID/fd" | wc -l); stop_node
echo "create $COUNT ledgers: ${created} s until ready"
echo "threads: 1 ledger $one_threads, $COUNT ledgers $many_threads"
echo "idle RSS: 1 ledger ${one_rss} kB, $COUNT ledgers ${many_rss} kB, $(( (many_rss - one_rss) / COUNT )) kB a ledger"

# 2. Restart.
start_node "$WORK/many"; restarted=$READY; sleep 3; restart_fds=$(ls "/proc/$NODE_PID/fd" | wc -l); stop_node
echo "restart with $COUNT ledgers: ${restarted} s until ready"
echo "file descriptors once idle: 1 ledger $one_fds, $COUNT ledgers $many_fds, $COUNT ledgers after a restart $restart_fds"

# 3. Appends to one ledger against appends spread over SPREAD ledgers, same node, same run.
args=(--ledger default); spread=(); while read -r n; do args+=(--ledger "$n"); spread+=(--ledger "$n"); done < <(names "$SPREAD")
if [ -n "$SIGNATURES" ]; then args+=(--max-signatures-per-second "$SIGNATURES"); fi
start_node "$WORK/spread" "${args[@]}"
common=(append --endpoint "https://127.0.0.1:$PORT" --data "$WORK/spread" --clients "$CLIENTS" --duration "$DURATION" --warmup "$WARMUP" --json)
if [ -n "$PER_CONNECTION" ]; then common+=(--connections "$SPREAD"); spread+=(--ledger-per-connection); fi
okps() { python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ok_per_s"]))'; }
if [ "$ROUNDS" -gt 0 ]; then
    single=$(dotnet "$LOADGEN" "${common[@]}" | okps)
    many=$(dotnet "$LOADGEN" "${common[@]}" "${spread[@]}" | okps)
    echo "warm-up (not counted): one ledger $single ok/s, $SPREAD ledgers $many ok/s"
fi
ratios=()
for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then
        single=$(dotnet "$LOADGEN" "${common[@]}" | okps)
        many=$(dotnet "$LOADGEN" "${common[@]}" "${spread[@]}" | okps)
    else
        many=$(dotnet "$LOADGEN" "${common[@]}" "${spread[@]}" | okps)
        single=$(dotnet "$LOADGEN" "${common[@]}" | okps)
    fi
    ratio=$(echo "scale=2; $many / $single" | bc)
    ratios+=("$ratio")
    echo "round $round: one ledger $single ok/s, $SPREAD ledgers $many ok/s, ratio $ratio"
done
if [ "$ROUNDS" -gt 0 ]; then
    echo "median ratio over $ROUNDS rounds: $(printf '%s\n' "${ratios[@]}" | sort -n | python3 -c 'import statistics,sys; print(statistics.median(float(l) for l in sys.stdin))')"
fi
stop_node
