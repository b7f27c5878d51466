#!/bin/bash
# Syscalls, context switches and CPU time per echoed message of one
# runtime's echo server, in the setup of `cargo bench -p goro-bench --bench
# net`: the server alone in its process with 1 worker pinned to CPU 0, the
# epoll load generator pinned to CPU 1. Counts come from `perf stat` on the
# server's syscall tracepoints over 2 s of steady load, divided by its
# `sendto` count (one per echoed message). Counts, unlike times, barely
# move when other work shares the machine. `timer_start` counts the kernel
# timers (re)armed in the server's context: on loopback that includes TCP's
# retransmit timer of the server's socket and the delayed-ACK timer of the
# client's, whose receive path runs on the sending CPU.
#
#   cargo build --release -p goro-bench --bins
#   scripts/syscalls_per_msg.sh goro|tokio [CONNS] [SIZE]
#
# WORKERS=2 runs the server with 2 workers and unpinned instead (the
# benchmark's 2-worker cases); the load generator stays on CPU 1.
#
# Needs perf (Debian: linux-perf) with access to tracepoints (root, or
# kernel.perf_event_paranoid <= -1).
set -eu
rt=${1:?usage: $0 goro|tokio [CONNS] [SIZE]}
conns=${2:-500}
size=${3:-64}
workers=${WORKERS:-1}
pin="taskset -c 0"
[ "$workers" = 1 ] || pin=
bin=$(dirname "$0")/../target/release
dir=$(mktemp -d)
trap 'exec 9>&- 2>/dev/null || true; rm -rf "$dir"' EXIT
mkfifo "$dir/stdin"
# The server serves until its stdin closes (fd 9 below).
$pin "$bin/server-$rt" --workers "$workers" <"$dir/stdin" >"$dir/server.out" &
server=$!
exec 9>"$dir/stdin"
for _ in $(seq 50); do grep -q listening "$dir/server.out" && break; sleep 0.1; done
addr=$(awk '{print $2}' "$dir/server.out")
taskset -c 1 "$bin/loadgen" --addr "$addr" --conns "$conns" --size "$size" \
    --warmup-ms 500 --measure-ms 3500 >"$dir/loadgen.out" &
loadgen=$!
sleep 1
events=task-clock,context-switches,timer:timer_start
for s in recvfrom sendto read write epoll_wait epoll_pwait futex sched_yield; do
    events="$events,syscalls:sys_enter_$s"
done
perf stat -x, -e "$events" -p "$server" -- sleep 2 2>"$dir/stat" >/dev/null
wait "$loadgen"
exec 9>&-
wait "$server" || true
[ "$workers" = 1 ] && place="1 worker pinned" || place="$workers workers unpinned"
awk -F, -v rt="$rt, $place" -v c="$conns" -v s="$size" '
    { v[$3] = $1 }
    END {
        n = v["syscalls:sys_enter_sendto"]
        printf "%s, %s conns, %s B: %d messages in 2 s; per message:", rt, c, s, n
        for (k in v) {
            name = k; sub(/^syscalls:sys_enter_/, "", name)
            if (k == "task-clock") printf " cpu_us=%.2f", v[k] * 1000 / n
            else printf " %s=%.4f", name, v[k] / n
        }
        print ""
    }' "$dir/stat"
