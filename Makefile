# eoslog — developer entry points. `make demo` and `make test` are the two set-up commands.
SHELL := /bin/bash
CARGO ?= cargo
DEMO_DIR ?= demo-data
VENV ?= .venv
PYTHON ?= python3

.PHONY: all demo test fmt-check clippy test-rust test-std test-uring test-broker test-kill-long bench-rpw bench-rebalance-copier bench-broker build clean

all: build

build:
	$(CARGO) build --workspace

## The main job on a local data directory: `eoslog demo` (a previous demo directory is replaced).
demo:
	$(CARGO) run --release -p eoslog-cli -- demo --data $(DEMO_DIR)

## Everything CI checks.
test: fmt-check clippy test-rust test-broker

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

## Read-process-write throughput, exactly-once vs plain (release build).
bench-rpw:
	$(CARGO) run --release -p eoslog --example rpw_bench

## Group copier throughput with a member leaving and rejoining every 3 s vs a steady group
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

clean:
	$(CARGO) clean
	rm -rf $(DEMO_DIR)
