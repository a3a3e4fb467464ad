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
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

printf '%-30s %12s %12s %7s   %12s %12s %7s\n' "workload (records x bytes)" "C /s" "Rust /s" "C/Rust" \
  "C /cpu-s" "Rust /cpu-s" "C/Rust"
# records per batch, value bytes, appends (20 to 100 MB per run)
for workload in "1 100 200000" "10 100 100000" "100 1000 3000"; do
  set -- $workload
  appends=$(($3 / scale))
  c_wall=() c_cpu=() rust_wall=() rust_cpu=()
  for ((i = 0; i < rounds; i++)); do
    for side in c rust; do
      dir=$(mktemp -d "$base/eoslog-bench-XXXXXX")
      if [ "$side" = c ]; then
        out=$("$c_bin" "$dir" "$appends" "$1" "$2")
        c_wall+=("$(echo "$out" | field appends_per_sec)")
        c_cpu+=("$(echo "$out" | field appends_per_cpu_sec)")
      else
        out=$("$rust_bin" "$dir" "$appends" "$1" "$2")
        rust_wall+=("$(echo "$out" | field appends_per_sec)")
        rust_cpu+=("$(echo "$out" | field appends_per_cpu_sec)")
      fi
      rm -rf "$dir"
    done
  done
  cw=$(printf '%s\n' "${c_wall[@]}" | median)
  rw=$(printf '%s\n' "${rust_wall[@]}" | median)
  cc=$(printf '%s\n' "${c_cpu[@]}" | median)
  rc=$(printf '%s\n' "${rust_cpu[@]}" | median)
  printf '%-30s %12.0f %12.0f %7s   %12.0f %12.0f %7s\n' "$1 x $2 B, $appends appends" "$cw" "$rw" \
    "$(ratio "$cw" "$rw")" "$cc" "$rc" "$(ratio "$cc" "$rc")"
done
echo "($rounds rounds per side and workload, C and Rust alternating, fresh data directory each; medians;"
echo " /s = appends per wall-clock second, /cpu-s = appends per second of process CPU time)"

# Instructions per append (user space), counted by callgrind: repeatable on a busy machine,
# where the timings above are not. The difference of two run lengths cancels open and close.
if command -v valgrind >/dev/null; then
  echo
  printf '%-30s %12s %12s %7s\n' "instructions per append" "C" "Rust" "C/Rust"
  instructions() {
    local bin=$1 n=$2 dir log
    dir=$(mktemp -d "$base/eoslog-bench-XXXXXX")
    log=$(mktemp)
    EOSLOG_IO=std valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$dir" "$n" 1 100 >/dev/null 2>"$log"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log"
    rm -rf "$dir" "$log"
  }
  c=$(( ($(instructions "$c_bin" 15000) - $(instructions "$c_bin" 5000)) / 10000 ))
  r=$(( ($(instructions "$rust_bin" 15000) - $(instructions "$rust_bin" 5000)) / 10000 ))
  printf '%-30s %12d %12d %7s\n' "1 x 100 B (std backend)" "$c" "$r" "$(awk -v a="$r" -v b="$c" 'BEGIN { printf "%.3f", a / b }')"
  echo "(the last column is Rust/C instructions, comparable to a C/Rust rate; kernel time is not counted)"
fi
