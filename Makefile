# creditplan — the two commands of the README, and the ones behind them.
#   make demo   install, create the SQLite database, load demo data, serve on http://127.0.0.1:8000
#               (development mode: random keys of this machine in var/, no debug pages)
#   make test   install what tests need (PostgreSQL, Chromium from apt when root) and run everything
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export CREDITPLAN_DATA_DIR ?= $(abspath $(CURDIR)/../shared/data)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test install system-deps lint test-sqlite test-postgres bench serve clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e ".[test,spark]"
	@touch $(STAMP)

install: $(STAMP)
	$(BIN)/creditplan compile-translations -v0

# The demo runs in development mode: keys made at random once, kept in var/development-keys.json (mode 0600).
# Not debug mode: no Django debug pages (CREDITPLAN_DEBUG=1 turns them on for a developer). A server sets its keys
# instead (README, "Running on PostgreSQL").
demo: export CREDITPLAN_DEVELOPMENT := 1
demo: install
	$(BIN)/creditplan migrate -v0
	$(BIN)/creditplan seed-demo
	@echo "webhooks and notifications: creditplan integration run, every 15 s, console sender → var/integration.log"
	$(BIN)/creditplan integration run --interval 15 >> var/integration.log 2>&1 & \
	  CREDITPLAN_BUREAU_CLIENT=creditplan.origination.sources.demo_credit_file \
	  $(BIN)/creditplan serve --host 127.0.0.1 --port 8000; kill $$! 2>/dev/null || true

system-deps:
	bash scripts/install-system-deps.sh

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

# The page walk (every page x role x language) seeds its own demo world and runs in a session of its own: beside the
# other tests its world came out without early-warning entries once (state shared with another test, not found yet).
test-sqlite: install
	$(BIN)/python -m pytest tests -q -n 2 --dist loadgroup -m "not postgres_only" --ignore=tests/e2e/test_page_walk.py
	$(BIN)/python -m pytest tests/e2e/test_page_walk.py -q -n 0

test-postgres: install
	CREDITPLAN_TEST_DB=postgresql $(BIN)/python -m pytest tests -q -n 2 --dist loadgroup -m "not pure and not e2e"

test: system-deps lint test-sqlite test-postgres
	@echo "make test: lint, SQLite suite and PostgreSQL suite passed"

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) var .ruff_cache
