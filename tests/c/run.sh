#!/usr/bin/env bash
# Builds the C tests (and the C example) against include/eoslog.h and libeoslog, then runs each
# three ways: plainly (linked to libeoslog.so), under Valgrind (no leaks, no errors) and with
# AddressSanitizer (linked to libeoslog.a). Called by `make test-c` after the library is built.
#
#   tests/c/run.sh [LIB_DIR]      LIB_DIR defaults to target/debug
#
# Environment: CC, CXX (system compilers by default), VALGRIND=0 or ASAN=0 to skip a pass.
# `make test` needs only a C compiler: a pass whose tool is missing here (a C++ compiler,
# Valgrind, the ASan runtime) is skipped with a loud notice; EOSLOG_REQUIRE_ALL=1 turns such a
# skip into a failure, for machines that are meant to have every tool.
set -euo pipefail
cd "$(dirname "$0")/../.."

LIB_DIR=${1:-target/debug}
OUT=target/c-tests
CC=${CC:-cc}
CXX=${CXX:-c++}
# What a program linked against the static library needs besides it (from
# `cargo rustc -p eoslog-ffi -- --print native-static-libs`).
NATIVE_LIBS="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
CFLAGS="-std=c99 -Wall -Wextra -Werror -pedantic -g -Iinclude -Itests/c"
CXXFLAGS="-std=c++11 -Wall -Wextra -Werror -pedantic -g -Iinclude"
# libeoslog.so's SONAME is its exact version: link through a directory that also has that name.
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
SO_DIR="$PWD/$OUT/lib"
SO_LINK="-L$SO_DIR -Wl,-rpath,$SO_DIR -leoslog -lpthread"
ASAN_FLAGS="-fsanitize=address -fno-omit-frame-pointer"

mkdir -p "$OUT"
for lib in "$LIB_DIR/libeoslog.so" "$LIB_DIR/libeoslog.a"; do
  [ -f "$lib" ] || { echo "run.sh: $lib is missing: build it with cargo build -p eoslog-ffi" >&2; exit 1; }
done
mkdir -p "$SO_DIR"
ln -sf "$PWD/$LIB_DIR/libeoslog.so" "$SO_DIR/libeoslog.so"
ln -sf "$PWD/$LIB_DIR/libeoslog.so" "$SO_DIR/libeoslog.so.$VERSION"

passed=0
failed=0
failures=()

# run NAME COMMAND...: runs one test, counting the outcome.
run() {
  local name=$1
  shift
  local log="$OUT/$name.log"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "ok      $name ($(tail -n 1 "$log"))"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "FAILED  $name (log: $log)"
    tail -n 40 "$log" | sed 's/^/    /'
  fi
}

tests=()
for src in tests/c/test_*.c; do
  tests+=("$(basename "$src" .c)")
done

echo "== building the C tests with $CC (C99) and $CXX (C++11)"
for t in "${tests[@]}"; do
  $CC $CFLAGS "tests/c/$t.c" -o "$OUT/$t" $SO_LINK
done
$CC $CFLAGS examples/c/transactional_copier.c -o "$OUT/transactional_copier" $SO_LINK
# The header compiles as C++ and a C++ program links and runs against the library.
have_cxx=0
if command -v "$CXX" >/dev/null; then
  $CXX $CXXFLAGS tests/c/header_cpp.cpp -o "$OUT/header_cpp" $SO_LINK
  have_cxx=1
else
  echo "!! C++ PASS SKIPPED: $CXX is not installed (apt-get install g++)"
  [ "${EOSLOG_REQUIRE_ALL:-0}" = 1 ] && { failed=$((failed + 1)); failures+=("c++ (missing)"); }
fi

# The copier example, run as its README shows: seeds input, copies it in transactions, and
# checks the copy; a second run (a restart) must find nothing left to copy.
copier() {
  local dir out rc=0
  dir=$(mktemp -d "${TMPDIR:-/tmp}/eoslog-c-copier-XXXXXX")
  "$@" "$dir" input output copiers 7 --seed 40 || rc=$?
  if [ "$rc" = 0 ]; then
    out=$("$@" "$dir" input output copiers 7) || rc=$?
    echo "restart: $out"
    case "$out" in *"copied 0 records"*) ;; *) rc=1 ;; esac
  fi
  rm -rf "$dir"
  return "$rc"
}

echo "== plain (libeoslog.so)"
for t in "${tests[@]}"; do
  run "$t" "$OUT/$t"
done
[ "$have_cxx" = 1 ] && run header_cpp "$OUT/header_cpp"
run transactional_copier copier "$OUT/transactional_copier"

if [ "${VALGRIND:-1}" = 0 ]; then
  echo "!! VALGRIND PASS SKIPPED (VALGRIND=0)"
elif command -v valgrind >/dev/null; then
  echo "== valgrind (libeoslog.so; --error-exitcode=1 --leak-check=full)"
  VG="valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,possible"
  VG="$VG --show-leak-kinds=definite,possible --suppressions=$PWD/tests/c/valgrind.supp"
  # Valgrind does not model io_uring's kernel-side memory access: use the pwrite backend.
  for t in "${tests[@]}"; do
    run "valgrind:$t" env EOSLOG_IO=std EOSLOG_TEST_SMALL=1 $VG "$OUT/$t"
  done
  run "valgrind:transactional_copier" copier env EOSLOG_IO=std $VG "$OUT/transactional_copier"
else
  echo "!! ============================================================"
  echo "!! VALGRIND PASS SKIPPED: valgrind is not installed (apt-get install valgrind)"
  echo "!! ============================================================"
  [ "${EOSLOG_REQUIRE_ALL:-0}" = 1 ] && { failed=$((failed + 1)); failures+=("valgrind (missing)"); }
fi

if [ "${ASAN:-1}" = 0 ]; then
  echo "!! ADDRESSSANITIZER PASS SKIPPED (ASAN=0)"
else
  echo "== AddressSanitizer (libeoslog.a)"
  # First prove that ASan works here: a program with a heap overflow must be stopped by it.
  printf '#include <stdlib.h>\nint main(void){volatile char *p=malloc(4); p[4]=1; free((void*)p); return 0;}\n' \
    >"$OUT/asan_probe.c"
  if $CC $ASAN_FLAGS "$OUT/asan_probe.c" -o "$OUT/asan_probe" 2>"$OUT/asan_probe.log" &&
    ! "$OUT/asan_probe" 2>>"$OUT/asan_probe.log" && grep -q AddressSanitizer "$OUT/asan_probe.log"; then
    for t in "${tests[@]}"; do
      $CC $CFLAGS $ASAN_FLAGS "tests/c/$t.c" -o "$OUT/asan_$t" "$LIB_DIR/libeoslog.a" $NATIVE_LIBS
      # ... and that each test binary really carries the ASan runtime.
      if ! ldd "$OUT/asan_$t" | grep libasan >/dev/null; then
        echo "run.sh: $OUT/asan_$t is not linked with libasan" >&2
        exit 1
      fi
    done
    $CC $CFLAGS $ASAN_FLAGS examples/c/transactional_copier.c -o "$OUT/asan_transactional_copier" \
      "$LIB_DIR/libeoslog.a" $NATIVE_LIBS
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=1
    for t in "${tests[@]}"; do
      run "asan:$t" "$OUT/asan_$t"
    done
    run "asan:transactional_copier" copier "$OUT/asan_transactional_copier"
  else
    echo "!! ============================================================"
    echo "!! ADDRESSSANITIZER PASS SKIPPED: $CC cannot build or run an ASan program"
    echo "!! (install libasan for your gcc, e.g. apt-get install libasan8); see $OUT/asan_probe.log"
    echo "!! ============================================================"
    [ "${EOSLOG_REQUIRE_ALL:-0}" = 1 ] && { failed=$((failed + 1)); failures+=("asan (unavailable)"); }
  fi
fi

echo
echo "test-c: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
