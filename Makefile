# eoslog — developer entry points. `make demo` and `make test` are the two set-up commands.
SHELL := /bin/bash
CARGO ?= cargo
DEMO_DIR ?= demo-data
VENV ?= .venv
PYTHON ?= python3

.PHONY: all demo test fmt-check clippy test-rust test-std test-uring test-broker test-kill-long torture fuzz soak bench-rpw bench-rebalance-copier bench-broker build clean \
	ffi header test-c test-c-install install bench-ffi test-python python-dev wheel bench-python

all: build

build:
	$(CARGO) build --workspace

## The main job on a local data directory: `eoslog demo` (a previous demo directory is replaced).
demo:
	$(CARGO) run --release -p eoslog-cli -- demo --data $(DEMO_DIR)

## Everything CI checks.
test: fmt-check clippy test-rust test-broker test-c test-python

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

## All Rust tests, once per I/O backend.
test-rust: test-std test-uring

test-std:
	EOSLOG_IO=std $(CARGO) test --workspace --all-features

test-uring:
	@if [ "$$($(CARGO) run -q -p eoslog --example io_probe)" = uring ]; then \
		EOSLOG_IO=uring $(CARGO) test --workspace --all-features; \
	else \
		echo "io_uring is not available on this machine: the io_uring pass is skipped (std passed)"; \
	fi

## The client crash tests with many more SIGKILLs than `make test` (20 for the copier, 5 for
## the group copier, 8 for the SQLite sink). Override with COPIER_KILLS=... GROUP_COPIER_KILLS=...
## SINK_KILLS=...
COPIER_KILLS ?= 300
GROUP_COPIER_KILLS ?= 60
SINK_KILLS ?= 60
test-kill-long:
	COPIER_KILLS=$(COPIER_KILLS) GROUP_COPIER_KILLS=$(GROUP_COPIER_KILLS) SINK_KILLS=$(SINK_KILLS) \
		$(CARGO) test -p eoslog --test copier_kill --test sqlite_sink_kill -- --nocapture

## SIGKILL torture with many more kills than `make test` (25): a child under mixed idempotent,
## transactional and offset-commit load is killed at random moments and an outside oracle checks
## the directory after every kill. Override with TORTURE_KILLS=... TORTURE_SEED=...
TORTURE_KILLS ?= 500
TORTURE_SEED ?= 20260101
torture:
	TORTURE_KILLS=$(TORTURE_KILLS) TORTURE_SEED=$(TORTURE_SEED) $(CARGO) test -p eoslog \
		--test sigkill_torture -- --nocapture

## cargo-fuzz targets (fuzz/, its own workspace, nightly toolchain): each target runs for
## FUZZ_SECONDS from seed corpora; prints executions and CPU seconds per target; a crash fails.
## Needs `cargo install cargo-fuzz --locked` and a nightly toolchain. FUZZ_TARGETS=... narrows.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh $(FUZZ_TARGETS)

## Soak: a long mixed workload (engine reopened every SOAK_EPOCH_SECONDS) printing RSS and open
## descriptors every second and asserting both stay flat after warm-up.
SOAK_SECONDS ?= 300
SOAK_EPOCH_SECONDS ?= 10
soak:
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_EPOCH_SECONDS=$(SOAK_EPOCH_SECONDS) $(CARGO) test -p eoslog \
		--test soak -- --ignored --nocapture

## Read-process-write throughput, exactly-once vs plain (release build).
bench-rpw:
	$(CARGO) run --release -p eoslog --example rpw_bench

## Group copier throughput with a member leaving and rejoining every 1.5 s vs a steady group
## (release build).
bench-rebalance-copier:
	$(CARGO) run --release -p eoslog --example rebalance_copier_bench

## The Kafka-protocol broker example against a real Kafka client (librdkafka via confluent-kafka
## from PyPI, in $(VENV)). Same cargo flags as test-std, so the broker binary built there is
## reused as is.
test-broker: $(VENV)/.broker-deps
	EOSLOG_BROKER_PYTHON=$(CURDIR)/$(VENV)/bin/python $(CARGO) test --workspace --all-features \
		--test kafka_clients -- --ignored

## librdkafka producer throughput against the broker next to in-process appends of the same
## batches (a report, not a test).
bench-broker: $(VENV)/.broker-deps
	$(CARGO) build --release -p eoslog-broker --bin eoslog-broker --example engine_produce_bench
	$(VENV)/bin/python examples/kafka-broker/bench/producer_throughput.py

$(VENV)/.broker-deps:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet confluent-kafka pytest
	touch $@

## ---------------------------------------------------------------- C ABI (ffi-c/)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
# `make install FFI_PROFILE=debug` installs the debug build (what test-c-install uses).
FFI_PROFILE ?= release
FFI_PROFILE_FLAG := $(if $(filter release,$(FFI_PROFILE)),--release,)

## libeoslog.so and libeoslog.a (debug build, in target/debug).
ffi:
	$(CARGO) build -p eoslog-ffi

## Regenerates include/eoslog.h from ffi-c/src with the pinned cbindgen (a test checks it).
header:
	EOSLOG_WRITE_HEADER=1 $(CARGO) test -p eoslog-ffi --test header -- checked_in_header_is_up_to_date

## The C tests and the C example, built with the system compilers and run plainly, under
## Valgrind and with AddressSanitizer; then `make install` and the README's C quick start.
test-c: ffi
	tests/c/run.sh target/debug
	$(MAKE) --no-print-directory test-c-install

## Installs into a temporary prefix and builds the C quick start with pkg-config, as
## ffi-c/README.md shows it.
test-c-install:
	@set -e; prefix=$$(mktemp -d "$${TMPDIR:-/tmp}/eoslog-prefix-XXXXXX"); \
	$(MAKE) --no-print-directory install PREFIX=$$prefix FFI_PROFILE=debug >/dev/null; \
	export PKG_CONFIG_PATH=$$prefix/lib/pkgconfig; \
	if command -v pkg-config >/dev/null; then \
		cflags=$$(pkg-config --cflags eoslog); libs=$$(pkg-config --libs eoslog); libdir=$$(pkg-config --variable=libdir eoslog); \
	else \
		echo "!! pkg-config is not installed: building the quick start with the flags eoslog.pc lists"; \
		cflags="-I$$prefix/include"; libs="-L$$prefix/lib -leoslog"; libdir=$$prefix/lib; \
	fi; \
	cc examples/c/quickstart.c -o $$prefix/quickstart $$cflags $$libs -Wl,-rpath,$$prefix/lib; \
	cc examples/c/quickstart.c -o $$prefix/quickstart-static $$cflags \
		$$libdir/libeoslog.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc; \
	cd $$prefix && ./quickstart data && ./quickstart-static data-static; \
	rm -rf $$prefix; echo "test-c-install: 1 passed, 0 failed"

## Installs libeoslog.so (with its exact-version SONAME), libeoslog.a, eoslog.h and eoslog.pc
## under PREFIX (default /usr/local).
install:
	$(CARGO) build $(FFI_PROFILE_FLAG) -p eoslog-ffi
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 755 target/$(FFI_PROFILE)/libeoslog.so $(DESTDIR)$(LIBDIR)/libeoslog.so.$(VERSION)
	ln -sf libeoslog.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libeoslog.so
	install -m 644 target/$(FFI_PROFILE)/libeoslog.a $(DESTDIR)$(LIBDIR)/libeoslog.a
	install -m 644 include/eoslog.h $(DESTDIR)$(INCLUDEDIR)/eoslog.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' ffi-c/eoslog.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/eoslog.pc

## Append throughput through the C ABI against the Rust API on the same batches, in one run
## (release build; a report, not a test).
bench-ffi:
	$(CARGO) build --release -p eoslog-ffi --lib --example append_bench
	cc -O2 -std=c99 -Iinclude ffi-c/bench/append_bench.c -o target/release/c_append_bench \
		target/release/libeoslog.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
	ffi-c/bench/compare.sh target/release/c_append_bench target/release/examples/append_bench

## The Python package (python/, issue 7). Its Rust crate is a workspace member, so `fmt-check`
## and `clippy` above cover it. `test-python` builds the extension into $(VENV) with
## `maturin develop` (incremental, debug by default: it reuses the workspace's debug build;
## PYTHON_BUILD=release for an optimised one), runs pytest (warnings are errors), checks the
## stubs against the module with mypy.stubtest, and type-checks package, tests and examples.
PYTHON_BUILD ?= dev
PYTHON_TEST_DEPS := "maturin>=1.9.4,<2" "pytest>=8" pytest-timeout hypothesis mypy \
	"kafka-python>=2.0.3" lz4 zstandard python-snappy
# Test data directories on tmpfs when there is one: engine opens fsync a lot.
PYTEST_TMPDIR ?= $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo /tmp)

$(VENV)/.python-deps:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet $(PYTHON_TEST_DEPS)
	touch $@

python-dev: $(VENV)/.python-deps
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin develop --quiet -m python/Cargo.toml \
		$(if $(filter release,$(PYTHON_BUILD)),--release)

test-python: python-dev
	cd python && TMPDIR=$(PYTEST_TMPDIR) ../$(VENV)/bin/python -m pytest
	cd python && ../$(VENV)/bin/python -m mypy.stubtest eoslog._eoslog
	cd python && ../$(VENV)/bin/python -m mypy python/eoslog tests ../examples/python

## An abi3 wheel (CPython >= 3.11) in target/wheels/.
wheel: $(VENV)/.python-deps
	$(VENV)/bin/maturin build --release -m python/Cargo.toml -o target/wheels

## send_many / send / consumer throughput of 100-byte records against the Rust client API on
## the same workload, in one run (a report, not a test).
bench-python: $(VENV)/.python-deps
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin develop --quiet --release -m python/Cargo.toml
	$(VENV)/bin/python python/bench/throughput.py

clean:
	$(CARGO) clean
	rm -rf $(DEMO_DIR)
