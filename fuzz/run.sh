#!/usr/bin/env bash
# Runs every fuzz target (or those named) for FUZZ_SECONDS each, one after the other, from seed
# corpora written by the `seed` binary into corpus/ (grown corpora stay there, uncommitted).
# Prints one line per target: executions, wall seconds, CPU seconds (user+sys), and whether a
# crash was found (its input is then under artifacts/<target>/, and the run exits non-zero).
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-+nightly}"
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    mapfile -t TARGETS < <(cargo "$TOOLCHAIN" fuzz list | grep -vx seed)
fi
cargo "$TOOLCHAIN" fuzz build -O
# The targets are run straight from the build (so that the CPU time below is fuzzing only).
BIN="target/$(rustc "$TOOLCHAIN" -vV | sed -n 's/^host: //p')/release"
# `cargo fuzz build` built the seed generator too (instrumented, which does not matter here).
"$BIN/seed" corpus
# Scratch data directories of the targets, removed at the end.
SCRATCH_PARENT=/dev/shm
[ -d "$SCRATCH_PARENT" ] || SCRATCH_PARENT="${TMPDIR:-/tmp}"
export EOSLOG_FUZZ_SCRATCH="$(mktemp -d "$SCRATCH_PARENT/eoslog-fuzz-run.XXXXXX")"
trap 'rm -rf "$EOSLOG_FUZZ_SCRATCH"' EXIT
status=0
summary=()
for t in "${TARGETS[@]}"; do
    log="target/fuzz-$t.log"
    mkdir -p "artifacts/$t"
    set +e
    /usr/bin/time -f "%U %S" -o "target/fuzz-$t.time" \
        "$BIN/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    set -e
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    cpu=$(awk '{printf "%.1f", $1 + $2}' "target/fuzz-$t.time")
    corpus=$(find "corpus/$t" -type f | wc -l)
    if [ $rc -ne 0 ]; then
        status=1
        summary+=("$t: CRASH after ${runs:-?} executions (see $log and artifacts/$t/)")
    else
        summary+=("$t: ${runs:-?} executions, ${SECONDS_PER_TARGET} s wall, ${cpu} s CPU, corpus $corpus inputs, no crash")
    fi
done
printf '%s\n' "${summary[@]}"
exit $status
