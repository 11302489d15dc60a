# br-parquet developer commands. `make demo` and `make test` work on a fresh
# machine: they install what is missing (apt packages, a venv), then build.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The bundled RocksDB takes ~18 minutes to compile on two cores: keep one
# target directory outside the checkout so every clone (CI included) reuses it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/br-parquet/target
# Everything is built with the release profile, so tests, clippy and the
# extension module share a single RocksDB build.
CARGO_PROFILE := --release
SYSTEM_PACKAGES := clang libclang-dev rocksdb-tools
DEMO_DIR ?= $(CURDIR)/.demo

.PHONY: help system-deps venv develop build test test-rust test-python lint lint-rust \
        lint-python fmt demo proto bench wheel clean fuzz fuzz-long

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

system-deps:  ## apt packages: clang/libclang (bindgen of librocksdb-sys), sst_dump (tests)
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BIN)/maturin:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q 'maturin==1.16.0'

venv: $(BIN)/maturin  ## a virtualenv in .venv with maturin

develop: system-deps venv  ## build the extension (release) and install the package + dev deps into .venv
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/maturin develop --release --extras dev --quiet

build: develop

test: develop lint test-rust test-python fuzz  ## everything CI runs: build, linters, cargo test, pytest, a short fuzz run

test-rust:  ## cargo test of the core crate
	cargo test $(CARGO_PROFILE) -p br-parquet-core

test-python:  ## pytest (needs ../shared for the fixture tests; they skip without it)
	$(BIN)/pytest -q

lint: lint-rust lint-python  ## rustfmt, clippy, ruff, mypy --strict, stub check

lint-rust:
	cargo fmt --all --check
	cargo clippy $(CARGO_PROFILE) --workspace --all-targets -- -D warnings

lint-python:
	$(BIN)/ruff check python tests benches
	$(BIN)/ruff format --check python tests benches
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest --mypy-config-file pyproject.toml br_parquet._native

fmt:  ## format Rust and Python sources
	cargo fmt --all
	$(BIN)/ruff format python tests benches
	$(BIN)/ruff check --fix python tests benches

demo: develop  ## write a sample BR backup, export it, print the rows read back
	$(BIN)/python -m br_parquet.demo --workdir $(DEMO_DIR)

proto: venv  ## regenerate python/br_parquet/proto/*_pb2.py from the .proto files
	$(BIN)/python -m br_parquet.proto.generate

# cargo-fuzz needs -Z flags; the stable toolchain accepts them with RUSTC_BOOTSTRAP=1.
# Sanitizer builds get their own target dirs, never the main one. The decoder
# targets (rust/core/fuzz) link no RocksDB; the whole-path `scan` target
# (rust/core/fuzz-scan) does, so its first build compiles RocksDB once more.
FUZZ_TARGETS := keys write_cf row_v1 row_v2 datum decimal json
FUZZ_ENV := RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(HOME)/.cache/br-parquet/fuzz-target
FUZZ_SCAN_ENV := RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(HOME)/.cache/br-parquet/fuzz-scan-target
FUZZ_SECONDS ?= 10
# The scan seeds use the project's test encoders when the venv has them.
SEED_PYTHON = $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))

$(HOME)/.cargo/bin/cargo-fuzz:
	cargo install cargo-fuzz --locked --version 0.13.2

fuzz: $(HOME)/.cargo/bin/cargo-fuzz  ## a short fuzz run of every target, decoders and whole scan path (FUZZ_SECONDS each)
	$(PYTHON) rust/core/fuzz/seeds.py
	$(SEED_PYTHON) rust/core/fuzz-scan/seeds.py
	set -o pipefail; cd rust/core && for t in $(FUZZ_TARGETS); do \
	  $(FUZZ_ENV) cargo fuzz run -O $$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 2>&1 \
	    | grep -E '^Done|ERROR|panicked' || exit 1; \
	done
	set -o pipefail; cd rust/core/fuzz-scan && \
	  $(FUZZ_SCAN_ENV) cargo fuzz run --fuzz-dir . -O scan -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 2>&1 \
	    | grep -E '^Done|ERROR|panicked'

fuzz-long:  ## a long fuzz campaign: FUZZ_SECONDS=3600 per target by default
	$(MAKE) fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-3600}

# The suite also runs scan_projection.py, scan_memory.py and plan_resume.py and keeps
# their output in RESULTS.md. About 30 minutes on two cores once the backups are cached.
bench: develop  ## benchmarks: per-decoder criterion benches, then benches/suite.py writes benches/RESULTS.md (generates ~9 GiB of cached backups)
	cargo bench -p br-parquet-core --bench decoders -- --noplot
	$(BIN)/python benches/suite.py

wheel: system-deps venv  ## build a release wheel into dist/
	$(BIN)/maturin build --release --out dist

clean:
	rm -rf $(VENV) dist .demo .pytest_cache .mypy_cache .ruff_cache
