# Two commands for a newcomer: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LEDGER_DATABASE_URL ?= sqlite:///data/ledger.db
export LEDGER_HOST ?= 127.0.0.1
export LEDGER_PORT ?= 8000

.PHONY: run test test-fast lint bench migrate clean faults compile

# The domain compiled by mypyc from its own source (decision 0027): the findings walk
# runs about 1.6 times as fast. Rebuilt when a source changes; without a C compiler the
# domain stays pure Python (same results, slower) and this says so.
COMPILED := domain/_compiled.json
# Package markers are never compiled (setup.py): editing one needs no new build.
DOMAIN_SOURCES := $(shell find domain -name '*.py' -not -name '__init__.py') setup.py

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(COMPILED): $(STAMP) $(DOMAIN_SOURCES)
	@if command -v cc >/dev/null 2>&1; then \
		echo "compiling domain/ with mypyc (about two minutes; make compile)"; \
		LEDGER_COMPILE=1 $(BIN)/python setup.py --quiet build_ext --inplace > build-compile.log 2>&1 \
			|| { tail -30 build-compile.log; rm -f $(COMPILED); exit 1; }; \
	else echo "no C compiler (cc): domain/ runs as pure Python"; fi

compile: $(COMPILED)

migrate: $(STAMP)
	$(BIN)/ledger migrate

run: migrate
	@echo
	@echo "Custody ledger on $(LEDGER_DATABASE_URL), http://$(LEDGER_HOST):$(LEDGER_PORT) (docs at /docs)"
	@echo "Make a key in another terminal:  .venv/bin/ledger keys create --name me --role admin"
	@echo
	$(BIN)/ledger serve --host $(LEDGER_HOST) --port $(LEDGER_PORT)

# One worker per core: each gets its own PostgreSQL database and temporary directories.
# The suite runs on the compiled domain, as deployed; the few tests that look inside
# its objects (marked source_only) run again on the source.
test: $(STAMP) lint compile
	$(BIN)/pytest -n auto
	LEDGER_PURE_PYTHON=1 $(BIN)/pytest -n auto -m source_only

test-fast: $(STAMP)
	$(BIN)/pytest -n auto -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check domain ledger api tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

bench: $(STAMP) compile
	$(BIN)/python -m benchmarks.run

# Issue #16's fault suite (kill -9, dropped connections, tampering, fuzzing) on SQLite and
# PostgreSQL at 127.0.0.1, on a 100,000-event ledger: about 15 minutes (at most 55); writes docs/faults.md.
faults: $(STAMP)
	$(BIN)/python -m tests.faults

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info build-compile.log $(COMPILED)
	find . -name '*.so' -not -path './.venv/*' -delete
