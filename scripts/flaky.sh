#!/usr/bin/env bash
# Flakiness budget: runs the whole test suite N times in a row while two
# busy-loop processes keep both cores loaded, then reports how often each
# test failed.
#
#   scripts/flaky.sh 20
#   FLAKY_CARGO_ARGS="--test tcp" scripts/flaky.sh 5     # a subset
#   FLAKY_HOGS=4 FLAKY_RUN_TIMEOUT=900 scripts/flaky.sh 3
#
# FLAKY_CARGO_ARGS: arguments for `cargo test` (default: --workspace
# --all-features, what CI runs). FLAKY_HOGS: busy loops (default 2, one per
# core of the CI machine). FLAKY_RUN_TIMEOUT: seconds one suite run may take
# before it counts as a hang (default 1800). The hogs are killed on exit,
# however the script ends. Exit status: 0 if no run failed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${1:-}
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 N   (N = number of suite runs, at least 1)" >&2
    exit 2
fi
read -r -a cargo_args <<<"${FLAKY_CARGO_ARGS:---workspace --all-features}"
hogs=${FLAKY_HOGS:-2}
run_timeout=${FLAKY_RUN_TIMEOUT:-1800}
logdir=$(mktemp -d -t goro-flaky.XXXXXX)

echo "== building: cargo test --no-run ${cargo_args[*]}"
cargo test --no-run "${cargo_args[@]}" >"$logdir/build.log" 2>&1 || {
    cat "$logdir/build.log" >&2
    echo "build failed" >&2
    exit 2
}

hog_pids=()
stop_hogs() {
    for pid in "${hog_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait "${hog_pids[@]}" 2>/dev/null || true
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM
for _ in $(seq "$hogs"); do
    bash -c 'while :; do :; done' &
    hog_pids+=("$!")
done
echo "== $hogs CPU hogs running (pids ${hog_pids[*]}); logs in $logdir"

failed_runs=0
: >"$logdir/failures"
for i in $(seq "$runs"); do
    log="$logdir/run-$i.log"
    start=$(date +%s)
    timeout --kill-after=30 "$run_timeout" \
        cargo test --no-fail-fast "${cargo_args[@]}" >"$log" 2>&1
    status=$?
    took=$(( $(date +%s) - start ))
    # "binary::test" for every failed test; a binary that failed without a
    # failed test (crash, signal) is listed as "binary::<crashed>".
    awk -v run="$i" '
        /^ *Running / { bin = $2; sub(/^tests\//, "", bin); sub(/\.rs$/, "", bin); next }
        /^ *Doc-tests / { bin = "doctests-" $2; next }
        /^test .* \.\.\. FAILED$/ { name = $2; print bin "::" name; failed[bin] = 1; next }
        /^error: test failed, to rerun pass/ { if (!(bin in failed)) print bin "::<crashed>" }
        / has been running for over 60 seconds$/ { slow[$2] = 1 }
        END { for (s in slow) print "slow::" s }
    ' "$log" | sort -u >"$logdir/run-$i.failures"
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        echo "run::<hang: suite exceeded ${run_timeout}s>" >>"$logdir/run-$i.failures"
    fi
    grep -v '^slow::' "$logdir/run-$i.failures" >>"$logdir/failures" || true
    if [ "$status" -ne 0 ]; then
        failed_runs=$((failed_runs + 1))
        echo "run $i/$runs: FAILED in ${took}s: $(grep -v '^slow::' "$logdir/run-$i.failures" | tr '\n' ' ')"
    else
        echo "run $i/$runs: ok in ${took}s"
    fi
    slow=$(grep '^slow::' "$logdir/run-$i.failures" | sed 's/^slow:://' | tr '\n' ' ')
    [ -n "$slow" ] && echo "    ran over 60 s: $slow"
done

echo
echo "== flakiness summary: $failed_runs of $runs runs failed under $hogs CPU hogs"
if [ -s "$logdir/failures" ]; then
    echo "   failures per test (out of $runs runs):"
    sort "$logdir/failures" | uniq -c | sort -rn | sed 's/^/   /'
else
    echo "   no test failed"
fi
echo "   logs: $logdir"
[ "$failed_runs" -eq 0 ]
