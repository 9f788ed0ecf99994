# Deckhand: `make run` sets up, builds and opens the app against a local server;
# `make test` sets up and runs every suite. Both work on a fresh Debian machine with Rust and Node.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help setup bindings check-bindings package ui test test-rust test-ui test-e2e test-fuzz fuzz app run clean bins chaos chaos-pg bench bench-peer bench-app app-release

help:
	@echo "make run    build everything, start a local deckhand-server and open the app"
	@echo "make test   install what is missing and run every suite"
	@echo "make chaos  the chaos convergence suite at full size (CHAOS_SEED=... to replay)"
	@echo "make chaos-pg  PostgreSQL: 3 instances, one killed -9 and the database restarted mid-load, at full size"
	@echo "make package  .deb and .rpm bundles (target/debug/bundle/)"

setup:
	@scripts/setup.sh

# TypeScript mirrors of the Rust types (ui/src/bindings): ts-rs for the types, then
# src-tauri/ipc.rs for the typed command wrappers, events and error kinds (bindings/ipc.ts).
# Committed; `check-bindings` fails when they drift from the Rust.
bindings: setup
	$(CARGO) test --locked -p deckhand-protocol -p deckhand-core export_bindings -- --quiet
	$(CARGO) test --locked -p deckhand --lib export_ -- --quiet

check-bindings: bindings
	@git diff --exit-code --stat -- ui/src/bindings || { echo "ui/src/bindings drifted from the Rust: run 'make bindings' and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard ui/src/bindings)" || { echo "new generated bindings are not committed:"; git ls-files --others --exclude-standard ui/src/bindings; exit 1; }

ui: bindings
	cd ui && npm run build

test: check-bindings ui test-rust test-fuzz test-ui test-e2e

# tests/chaos.rs spawns the real binaries: build them first.
bins: setup
	$(CARGO) build --locked -p deckhand-server -p deckhand-cli

# Includes the short chaos run (3 clients x 150 ops, 5 client kills, 1 server kill, fixed seed, oracle).
test-rust: bins
	$(CARGO) test --workspace --locked
	# The server suite again on PostgreSQL (a throw-away cluster the tests start themselves).
	DECKHAND_TEST_BACKEND=postgres $(CARGO) test --locked -p deckhand-server

# Chaos convergence at full size: 3 clients x 2,000 ops, 5 client kills, 1 server kill, conflicts
# left open while their cards are edited, and the model-checking oracle over the clients' journals
# (a few minutes; docs/reliability.md). Replay a failure with CHAOS_SEED=<seed>; CHAOS_OPS,
# CHAOS_CLIENT_KILLS, CHAOS_SERVER_KILLS, CHAOS_FAULT_P, CHAOS_DEFER, CHAOS_ORACLE_ENFORCE=1 and
# CHAOS_KEEP=1 (keep data dirs, logs and journals) also apply.
CHAOS_OPS ?= 2000
chaos: bins
	CHAOS_OPS=$(CHAOS_OPS) $(CARGO) test --locked --test chaos -- --exact chaos_convergence --nocapture

# The same chaos run at full size on PostgreSQL (a throw-away cluster, deckhand_testkit::pg):
# 3 serve processes on one database, each client pinned to its own instance through its own fault
# proxy, instances killed -9 mid-load, PostgreSQL restarted once mid-load, the oracle at the end.
# Then the server-level fault run (plain HTTP writers spread over 3 instances, one killed -9 and
# the database restarted: every write exactly once, seqs dense). `make test` runs both small.
# CHAOS_INSTANCES sets the instance count.
CHAOS_PG_WRITES ?= 400
chaos-pg: bins
	CHAOS_OPS=$(CHAOS_OPS) $(CARGO) test --locked --test chaos -- --exact chaos_convergence_on_postgres --nocapture
	CHAOS_PG_WRITES=$(CHAOS_PG_WRITES) $(CARGO) test --locked -p deckhand-server --test multi_instance_faults -- --nocapture

# schemathesis (PyPI, pinned, in a venv under target/) against the real server's OpenAPI document.
test-fuzz fuzz: setup
	tests/fuzz/run.sh
	FUZZ_BACKEND=postgres tests/fuzz/run.sh

# The fake backend is type-checked against the generated command map first.
test-ui: ui
	ui/node_modules/.bin/tsc -p tests/ui/tsconfig.json
	cd tests && npm run test:ui

# The real app embeds ui/dist at compile time, so it is built after the UI.
app: ui
	$(CARGO) build --locked -p deckhand-server -p deckhand-cli
	$(CARGO) build --locked -p deckhand --features custom-protocol

# .deb and .rpm with the Tauri bundler (tauri-cli from npm, a prebuilt binary). It bundles the
# build `make app` made: debug by default, as the whole suite uses (PACKAGE_PROFILE=release for a
# release build). No AppImage: its bundler downloads tools at build time (README, "Install").
PACKAGE_PROFILE ?= debug
package: app
ifeq ($(PACKAGE_PROFILE),release)
	$(CARGO) build --locked --release -p deckhand --features custom-protocol
	ui/node_modules/.bin/tauri bundle --ci --bundles deb,rpm --features custom-protocol
else
	ui/node_modules/.bin/tauri bundle --ci --debug --bundles deb,rpm --features custom-protocol
endif
	@ls -1 $${CARGO_TARGET_DIR:-target}/$(PACKAGE_PROFILE)/bundle/deb/*.deb $${CARGO_TARGET_DIR:-target}/$(PACKAGE_PROFILE)/bundle/rpm/*.rpm

# The real app under tauri-driver + Xvfb against a real server; screenshots in target/screenshots/.
# Includes installing the .deb `package` made from the same debug build (tests/e2e/package.test.mjs).
test-e2e: app package
	cd tests && npm run test:e2e

run: app
	scripts/run-local.sh

clean:
	$(CARGO) clean
	rm -rf ui/dist

# P1-P6 against same-run baselines and Q1-Q6 side by side with the PouchDB peer (release build);
# writes docs/benchmarks.md. BENCH_ARGS=--quick for a smoke run, BENCH_ARGS="--only Q1,Q3" for some rows.
BENCH_ARGS ?=
# P5's second row, P7 and P8 start real `deckhand-server serve` processes (the release binary
# beside deckhand-bench) on a throw-away PostgreSQL cluster (crates/testkit).
bench: bench-peer app-release
	$(CARGO) build --release --locked -p deckhand-server
	$(CARGO) run --release --locked -p deckhand-bench -- --out docs/benchmarks.md $(BENCH_ARGS)

# P9/P10 and the whole app's memory start the release app (the UI is embedded at compile time, so
# after `ui`) under Xvfb through tauri-driver (crates/bench/app/app-bench.mjs). `make bench` runs
# them with the rest; `make bench-app` runs only them and prints the rows.
app-release: ui
	$(CARGO) build --release --locked -p deckhand --features custom-protocol

bench-app: app-release
	$(CARGO) build --release --locked -p deckhand-server
	$(CARGO) run --release --locked -p deckhand-bench -- --only P9 $(BENCH_ARGS)

# The Node part: PouchDB 9 + express-pouchdb pinned in crates/bench/peer (npm ci by setup), then a
# write -> replicate up -> replicate down check on 127.0.0.1 (no network beyond loopback).
bench-peer: setup
	@d=$$(mktemp -d) && node crates/bench/peer/peer.js check --dir $$d && rm -rf $$d
