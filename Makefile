# Two commands for a newcomer: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LEDGER_DATABASE_URL ?= sqlite:///data/ledger.db
export LEDGER_HOST ?= 127.0.0.1
export LEDGER_PORT ?= 8000

.PHONY: run test test-fast lint bench migrate clean faults

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/ledger migrate

run: migrate
	@echo
	@echo "Custody ledger on $(LEDGER_DATABASE_URL), http://$(LEDGER_HOST):$(LEDGER_PORT) (docs at /docs)"
	@echo "Make a key in another terminal:  .venv/bin/ledger keys create --name me --role admin"
	@echo
	$(BIN)/ledger serve --host $(LEDGER_HOST) --port $(LEDGER_PORT)

# One worker per core: each gets its own PostgreSQL database and temporary directories.
test: $(STAMP) lint
	$(BIN)/pytest -n auto

test-fast: $(STAMP)
	$(BIN)/pytest -n auto -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check domain ledger api tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# Issue #16's fault suite (kill -9, dropped connections, tampering, fuzzing) on SQLite and
# PostgreSQL at 127.0.0.1, on a 100,000-event ledger: about 15 minutes (at most 55); writes docs/faults.md.
faults: $(STAMP)
	$(BIN)/python -m tests.faults

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
