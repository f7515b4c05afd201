# Signalbox: build, run and test.
#
#   make run     install what is missing (no browser bits), build the release
#                binary and serve it (default http://127.0.0.1:3000, data ./data)
#                  make run ADDR=127.0.0.1:8080 DATA_DIR=/tmp/sb
#   make test    everything CI runs: setup, fmt, clippy (server + wasm), cargo
#                tests, the release wasm's size budget, debug build, Playwright
#                end-to-end tests
#   make e2e     only the end-to-end tests against target/debug/signalbox
#                  make e2e E2E_ARGS="--project nojs"
#   make bench   build the release binary and run the load generator's suite
#                (3 repeats; prints the README's table of medians)
#                  make bench BENCH_ARGS="fanout --subscribers 1000 --rate 5000"
#   make bench-browser  frame times in headless Chromium while a 2,000-step run progresses
#                  make bench-browser FRAMES_ARGS="--steps 500"
#   make bench-latency  ingest-to-DOM latency measured in headless Chromium
#
# CI runs `bash .ci/run`, which is `make test`.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# The steps of `test` must run in order even under `make -j`.
.NOTPARALLEL:

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

# wasm-opt (npm binaryen, installed by .ci/setup) and the cargo-installed tools.
export PATH := $(ROOT)/.ci/tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

# `make run` options; unset means the binary's defaults (127.0.0.1:3000, ./data).
ADDR ?=
DATA_DIR ?=
SERVE_ARGS := $(if $(ADDR),--addr $(ADDR)) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

# What `make bench` runs: `signalbox bench $(BENCH_ARGS)`.
BENCH_ARGS ?= suite --repeat 3

# What `make bench-browser` passes to end2end/bench/frames.mjs.
FRAMES_ARGS ?=

# The release wasm bundle is split by page (`cargo leptos build --split`). Its main module,
# which every page loads, may not exceed WASM_GZIP_BUDGET bytes gzipped, nor any page's first
# visit (main module + that page's own parts) WASM_PAGE_GZIP_BUDGET: `make test` builds the
# release frontend and fails above either, so the bundle cannot grow unnoticed. The page
# budget rose from 760,000 on 2026-12-03: the run page's drawing by blocks of tiles and its
# short state cost it 1.7 KB, for a 2,000-step page live a fifth sooner (README, Performance).
WASM_GZIP_BUDGET ?= 276000
WASM_PAGE_GZIP_BUDGET ?= 765000

# Extra arguments for `playwright test`, e.g. E2E_ARGS="--project js -g marker".
E2E_ARGS ?=

# Upper bounds per step, so a hung step cannot eat CI's whole budget. Cold
# tool installs (cargo-leptos ~22 min, wasm-bindgen ~5 min) dominate setup.
SETUP_TIMEOUT ?= 50m
CARGO_TIMEOUT ?= 40m
E2E_TIMEOUT ?= 20m
# In a terminal, --foreground lets Ctrl-C reach the bounded command; in CI the
# whole process group is signalled on timeout.
TIMEOUT := timeout --kill-after=30s $(if $(CI),,--foreground)

.PHONY: help run test setup setup-run build build-release fmt-check clippy clippy-ssr \
        clippy-hydrate unit wasm-size report-wasm-size e2e serve bench bench-browser bench-latency clean regzip

help:
	@sed -n '1,/^$$/p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# \{0,1\}//'

# --- main targets ----------------------------------------------------------------

run: setup-run build-release
	@echo "== serve"
	exec ./target/release/signalbox serve $(SERVE_ARGS)

# (e2e goes last: its closing "e2e: N passed, N failed" line ends the output.)
# `unit` runs before `build`: `cargo test` also builds target/debug/signalbox, with the
# dev-dependencies' features unified in, and that binary's pages do not hydrate against the
# wasm cargo-leptos builds. The e2e tests must run cargo-leptos's own binary.
test: setup fmt-check clippy unit wasm-size build e2e

# --- steps -------------------------------------------------------------------------

setup:
	@echo "== .ci/setup"
	$(TIMEOUT) $(SETUP_TIMEOUT) .ci/setup

setup-run:
	@echo "== .ci/setup --no-e2e"
	$(TIMEOUT) $(SETUP_TIMEOUT) .ci/setup --no-e2e

fmt-check:
	@echo "== cargo fmt --check"
	cargo fmt --all --check

clippy: clippy-ssr clippy-hydrate

clippy-ssr:
	@echo "== cargo clippy (ssr)"
	$(TIMEOUT) $(CARGO_TIMEOUT) cargo clippy --features ssr --all-targets -- -D warnings

clippy-hydrate:
	@echo "== cargo clippy (hydrate, wasm32)"
	$(TIMEOUT) $(CARGO_TIMEOUT) cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

build:
	@echo "== cargo leptos build (debug)"
	$(TIMEOUT) $(CARGO_TIMEOUT) cargo leptos build --split

# Release site files go to target/site-release (the release binary looks there), so debug
# and release builds never serve each other's wasm; each is stored beside its brotli and gzip
# forms (--precompress), which the server sends instead of compressing on every request.
build-release:
	@echo "== cargo leptos build --release"
	@command -v wasm-opt >/dev/null || { echo "wasm-opt not on PATH: run .ci/setup" >&2; exit 1; }
	LEPTOS_SITE_ROOT=target/site-release $(TIMEOUT) $(CARGO_TIMEOUT) cargo leptos build --release --split --precompress
	@$(MAKE) --no-print-directory regzip report-wasm-size

# Builds only the release frontend (into target/site-release) and holds it to the budget.
wasm-size:
	@echo "== cargo leptos build --release --frontend-only (wasm size budget)"
	@command -v wasm-opt >/dev/null || { echo "wasm-opt not on PATH: run .ci/setup" >&2; exit 1; }
	LEPTOS_SITE_ROOT=target/site-release $(TIMEOUT) $(CARGO_TIMEOUT) cargo leptos build --release --split --frontend-only --precompress
	@$(MAKE) --no-print-directory regzip
	node .ci/wasm-size target/site-release/pkg $(WASM_GZIP_BUDGET) $(WASM_PAGE_GZIP_BUDGET)

# cargo-leptos stores its gzip forms at a fast level (the main module: 332 KB, against 285 KB
# at -9); clients without brotli get these, so they are written again at the best level.
regzip:
	@find target/site-release/pkg -type f ! -name '*.gz' ! -name '*.br' -exec gzip -9 -k -f {} +

report-wasm-size:
	@node .ci/wasm-size target/site-release/pkg

unit:
	@echo "== cargo test --features ssr"
	$(TIMEOUT) $(CARGO_TIMEOUT) cargo test --features ssr

e2e:
	@echo "== end-to-end tests (Playwright, target/debug/signalbox)"
	E2E_TIMEOUT=$(E2E_TIMEOUT) .ci/e2e $(E2E_ARGS)

bench: setup-run build-release
	@echo "== signalbox bench $(BENCH_ARGS)"
	./target/release/signalbox bench $(BENCH_ARGS)

bench-browser: setup build-release
	@echo "== browser frame times (end2end/bench/frames.mjs $(FRAMES_ARGS))"
	node end2end/bench/frames.mjs $(FRAMES_ARGS)

bench-latency: setup build-release
	@echo "== ingest-to-DOM latency (end2end/bench/latency.mjs)"
	node end2end/bench/latency.mjs

# Serve the last release build without rebuilding.
serve:
	exec ./target/release/signalbox serve $(SERVE_ARGS)

clean:
	cargo clean
	rm -rf end2end/test-results end2end/playwright-report
