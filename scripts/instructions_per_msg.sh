#!/bin/bash
# User-space instructions per echoed message of one runtime's echo server,
# in the setup of `cargo bench -p goro-bench --bench net` (1 worker pinned
# to CPU 0, the epoll load generator on CPU 1, 64-byte messages). The
# server runs under callgrind, which counts every instruction it executes
# in user space; the counters are zeroed after 2 s of load, and 3 s later
# dumped and divided by the server's `sendto` count over the same window
# (one per echoed message). Deterministic up to how the load happens to
# batch (±1% between runs), unlike times on a shared machine.
#
#   cargo build --release -p goro-bench --bins
#   scripts/instructions_per_msg.sh goro|tokio [CONNS]
#
# Needs valgrind (callgrind_control, callgrind_annotate) and perf with
# access to tracepoints.
set -eu
rt=${1:?usage: $0 goro|tokio [CONNS]}
conns=${2:-50}
bin=$(dirname "$0")/../target/release
dir=$(mktemp -d)
trap 'exec 9>&- 2>/dev/null || true; rm -rf "$dir"' EXIT
mkfifo "$dir/stdin"
taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
    "$bin/server-$rt" --workers 1 <"$dir/stdin" >"$dir/server.out" 2>"$dir/valgrind.err" &
server=$!
exec 9>"$dir/stdin"
for _ in $(seq 100); do grep -q listening "$dir/server.out" && break; sleep 0.2; done
addr=$(awk '{print $2}' "$dir/server.out")
taskset -c 1 "$bin/loadgen" --addr "$addr" --conns "$conns" --size 64 \
    --warmup-ms 500 --measure-ms 6000 >/dev/null &
loadgen=$!
sleep 2
callgrind_control -z "$server" >/dev/null 2>&1
perf stat -x, -e syscalls:sys_enter_sendto -p "$server" -- sleep 3 2>"$dir/stat" >/dev/null
callgrind_control -d "$server" >/dev/null 2>&1
sleep 0.5
msgs=$(cut -d, -f1 "$dir/stat")
dump=$(ls -t "$dir"/cg.out* | head -1)
ir=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
wait "$loadgen"
exec 9>&-
wait "$server" || true
echo "$rt, 1 worker pinned, $conns conns, 64 B: $msgs messages in 3 s; user-space instructions per message: $((ir / msgs))"
