#!/usr/bin/env bash
# Runs goro's lib tests and the tcp, timers, deadlines and close integration
# tests under valgrind's memcheck and prints a summary.
#
#   scripts/valgrind.sh                 # the default set
#   scripts/valgrind.sh tcp close       # only these integration tests
#   VALGRIND_FLAGS="--leak-check=full" scripts/valgrind.sh   # extra flags
#
# Test binaries have hashed names, so they are found from
# `cargo test --no-run --message-format=json`. Each runs with its normal
# thread count (valgrind serialises threads anyway; --fair-sched keeps
# spinning threads from starving the others). The exit status is 1 if
# memcheck reported any error (including definitely lost memory) in any
# binary. Tests that fail under valgrind without a memcheck error are
# listed separately as warnings: valgrind runs code ~20-50x slower and one
# thread at a time, which trips timing assertions (timer order, lateness
# bounds); rerun those without valgrind before suspecting them. With
# VALGRIND_STRICT=1 such failures make the exit status 3.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind not found: install it with 'apt-get install -y valgrind'" >&2
    exit 2
fi

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
    tests=(tcp timers deadlines close)
fi
cargo_args=(--lib)
for t in "${tests[@]}"; do
    cargo_args+=(--test "$t")
done

echo "== building: cargo test --no-run ${cargo_args[*]}"
json=$(cargo test --no-run --message-format=json "${cargo_args[@]}")

# "name<TAB>path" for every test executable.
binaries=$(printf '%s\n' "$json" | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg.get("profile", {}).get("test"):
        print(msg["target"]["name"] + ("-lib" if "lib" in msg["target"]["kind"] else "") + "\t" + msg["executable"])
')

logdir=$(mktemp -d -t goro-valgrind.XXXXXX)
flags=(--tool=memcheck --error-exitcode=1 --fair-sched=yes
       --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
       --num-callers=30)
# shellcheck disable=SC2206
flags+=(${VALGRIND_FLAGS:-})

summary=()
memcheck_failed=0
test_failed=0
while IFS=$'\t' read -r name exe; do
    [ -n "$name" ] || continue
    log="$logdir/$name.log"
    echo "== valgrind $name ($(basename "$exe"))"
    start=$(date +%s)
    set +e
    GORO_WORKER_THREADS=${GORO_WORKER_THREADS:-2} \
        valgrind "${flags[@]}" --log-file="$log" "$exe" -q >"$logdir/$name.out" 2>&1
    status=$?
    set -e
    took=$(( $(date +%s) - start ))
    errors=$(grep -ho 'ERROR SUMMARY: [0-9]*' "$log"* | awk '{s += $3} END {print s + 0}')
    result=$(grep -E '^test result:' "$logdir/$name.out" | tail -n 1 || true)
    if [ "$errors" -gt 0 ]; then
        memcheck_failed=1
        summary+=("$name: $errors memcheck errors (${took}s) -- see $log")
    elif [ "$status" -ne 0 ]; then
        test_failed=1
        failing=$(grep -E '^    [a-z_:0-9]+$' "$logdir/$name.out" | tr -d ' ' | sort -u | tr '\n' ' ')
        summary+=("$name: 0 memcheck errors; tests failed under valgrind (${took}s): ${failing:-status $status} -- see $logdir/$name.out")
    else
        summary+=("$name: 0 memcheck errors; ${result#test result: } (${took}s)")
    fi
done <<<"$binaries"

echo
echo "== valgrind summary (logs in $logdir)"
printf '  %s\n' "${summary[@]}"
if [ "$memcheck_failed" -ne 0 ]; then
    echo "memcheck found errors"
    exit 1
fi
if [ "$test_failed" -ne 0 ]; then
    echo "no memcheck errors; warning: some tests failed under valgrind's slowdown (see above)"
    [ "${VALGRIND_STRICT:-0}" = 1 ] && exit 3
    exit 0
fi
echo "no memcheck errors"
