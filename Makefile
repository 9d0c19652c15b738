# Patron: `make run` serves the demo on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench bench-bulk clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Serve Patron on SQLite (patron.db) with the demo tenant; prints the URL and a key.
run: $(STAMP)
	$(BIN)/patron demo
	$(BIN)/patron serve

## The whole suite: lint, types, then tests on SQLite and PostgreSQL.
test: $(STAMP) lint
	$(BIN)/pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

bench-bulk: $(STAMP)
	$(BIN)/python bench/ingest.py --bulk

clean:
	rm -rf $(VENV) patron.db patron.db-wal patron.db-shm .pytest_cache .mypy_cache .ruff_cache
