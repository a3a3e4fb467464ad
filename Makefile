# eoslog — developer entry points. `make demo` and `make test` are the two set-up commands.
SHELL := /bin/bash
CARGO ?= cargo
DEMO_DIR ?= demo-data
VENV ?= .venv
PYTHON ?= python3

.PHONY: all demo test fmt-check clippy test-rust test-std test-uring test-broker test-python python-dev wheel bench-python test-kill-long bench-rpw bench-broker build clean

all: build

build:
	$(CARGO) build --workspace

## The main job on a local data directory.
demo:
	$(CARGO) run --release -p eoslog --example demo -- $(DEMO_DIR)

## Everything CI checks.
test: fmt-check clippy test-rust test-broker test-python

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

## The client crash tests with many more SIGKILLs than `make test` (20 for the copier, 8 for
## the SQLite sink). Override with COPIER_KILLS=... SINK_KILLS=...
COPIER_KILLS ?= 300
SINK_KILLS ?= 60
test-kill-long:
	COPIER_KILLS=$(COPIER_KILLS) SINK_KILLS=$(SINK_KILLS) $(CARGO) test -p eoslog --test copier_kill --test sqlite_sink_kill -- --nocapture

## Read-process-write throughput, exactly-once vs plain (release build).
bench-rpw:
	$(CARGO) run --release -p eoslog --example rpw_bench

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
