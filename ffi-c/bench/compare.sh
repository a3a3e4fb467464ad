#!/usr/bin/env bash
# Runs the C-ABI and the Rust-API append benchmarks alternately on the same workloads and
# prints the median rate of each and their ratio (C / Rust). Called by `make bench-ffi`.
#
#   compare.sh <c-binary> <rust-binary>      ROUNDS (default 5); SCALE divides the append counts
set -euo pipefail
c_bin=$1
rust_bin=$2
rounds=${ROUNDS:-5}
scale=${SCALE:-1}
base=${BENCH_DIR:-$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rate() { sed -n 's/.*appends_per_sec=\([0-9.]*\).*/\1/p'; }

printf '%-28s %14s %14s %8s\n' "workload (records x bytes)" "C appends/s" "Rust appends/s" "C/Rust"
# records per batch, value bytes, appends (20 to 100 MB per run)
for workload in "1 100 200000" "10 100 100000" "100 1000 1000"; do
  set -- $workload
  appends=$(($3 / scale))
  c_rates=()
  rust_rates=()
  for ((i = 0; i < rounds; i++)); do
    for side in c rust; do
      dir=$(mktemp -d "$base/eoslog-bench-XXXXXX")
      if [ "$side" = c ]; then
        c_rates+=("$("$c_bin" "$dir" "$appends" "$1" "$2" | rate)")
      else
        rust_rates+=("$("$rust_bin" "$dir" "$appends" "$1" "$2" | rate)")
      fi
      rm -rf "$dir"
    done
  done
  c=$(printf '%s\n' "${c_rates[@]}" | median)
  r=$(printf '%s\n' "${rust_rates[@]}" | median)
  printf '%-28s %14.0f %14.0f %8.3f\n' "$1 x $2 B ($appends appends)" "$c" "$r" \
    "$(awk -v c="$c" -v r="$r" 'BEGIN { print c / r }')"
done
echo "($rounds rounds per side and workload, C and Rust alternating, fresh data directory each; medians)"
