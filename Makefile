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
        lint-python fmt demo proto bench wheel clean

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
	$(BIN)/maturin develop --release --extras dev --quiet

build: develop

test: develop lint test-rust test-python  ## everything CI runs: build, linters, cargo test, pytest

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

bench: develop  ## run the benchmarks in benches/
	$(BIN)/python benches/run.py

wheel: system-deps venv  ## build a release wheel into dist/
	$(BIN)/maturin build --release --out dist

clean:
	rm -rf $(VENV) dist .demo .pytest_cache .mypy_cache .ruff_cache
