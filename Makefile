# eoslog — developer entry points. `make demo` and `make test` are the two set-up commands.
SHELL := /bin/bash
CARGO ?= cargo
DEMO_DIR ?= demo-data

.PHONY: all demo test fmt-check clippy test-rust test-std test-uring build clean

all: build

build:
	$(CARGO) build --workspace

## The main job on a local data directory.
demo:
	$(CARGO) run --release -p eoslog --example demo -- $(DEMO_DIR)

## Everything CI checks.
test: fmt-check clippy test-rust

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

clean:
	$(CARGO) clean
	rm -rf $(DEMO_DIR)
