# MMX: the two README commands (make run, make test) plus bench. Every target creates the
# virtualenv and node modules when they are missing, so a fresh machine needs nothing else.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export PYTHONHASHSEED ?= 0
DURATION ?= 60
# make backtest BACKTEST_ARGS="--seconds 86400 --csv path.csv ..." (python -m offchain.backtest --help)
BACKTEST_ARGS ?= --seconds 3600 --sweep

WEB_SRC := $(wildcard offchain/web/src/*) offchain/web/build.mjs offchain/client/reasons.json
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test bench backtest deps compile clean web chromium postgres

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	node_modules/.bin/anvil --version >/dev/null
	touch $@

deps: $(VENV)/.installed node_modules/.installed

# bench-only comparison peers (bench/matching_peers.py); not needed by run or test
$(VENV)/.bench-installed: requirements-bench.lock $(VENV)/.installed
	$(BIN)/pip install -q --no-deps -r requirements-bench.lock
	touch $@

# the wallet app's bundle (ethers + the app, by esbuild from node_modules; nothing fetched at run time)
offchain/web/dist/app.js: node_modules/.installed $(WEB_SRC)
	node offchain/web/build.mjs

web: offchain/web/dist/app.js

# the browser tests drive Debian's chromium (never a downloaded browser); installed when missing
chromium:
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# the journal's PostgreSQL tests and the failover bench run Debian's server binaries
# (offchain/devdb.py starts a throwaway server); installed when missing
postgres:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

# ape's cache does not rebuild a contract when only a module it compiles in changed (an
# edit to ledger.vy left ExchangeRisk stale): any change under contracts/ rebuilds all
CONTRACT_SRC := $(wildcard contracts/*.vy contracts/interfaces/*.vyi)
.build/.contracts: $(CONTRACT_SRC) ape-config.yaml | deps
	ape compile --force
	@touch $@

# the matching core's optional compiled build (Cython on the same source, docs/matching.md):
# made when a C compiler is present; without one the interpreted source runs
MATCHING_SRC := $(wildcard offchain/matching/*.py offchain/matching/*.pxd) scripts/build_matching.py
.build/.matching-accel: $(MATCHING_SRC) | deps
	@if command -v cc >/dev/null 2>&1; then python scripts/build_matching.py; \
	else echo "# no C compiler: the matching core runs interpreted"; fi
	@mkdir -p .build && touch $@

compile: deps .build/.contracts .build/.matching-accel
	$(MAKE) --no-print-directory web

run: deps compile
	DURATION=$(DURATION) ape run mmx

# worksteal: an idle worker takes queued tests from the busy one, so the long stateful and
# e2e tests at the end do not run alone (idle, 2 cores: 14:30 with the default load split, 9:36)
test: deps compile chromium postgres
	pytest -q -n 2 --dist worksteal tests

backtest: deps
	python -m offchain.backtest $(BACKTEST_ARGS)

bench: deps compile postgres $(VENV)/.bench-installed
	@for f in bench/bench_*.py; do echo "# $$f"; python $$f || exit 1; done

clean:
	rm -rf .build .cache .pytest_cache offchain/web/dist offchain/matching/*.so
