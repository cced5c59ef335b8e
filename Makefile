# `make test` sets itself up from nothing (a venv in .venv) and runs every check and test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

export MLC_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: help demo bench chaos venv lint format typecheck imports unit component integration contract e2e pytest test clean

help:
	@echo "make demo   - install into .venv, then run the whole flow against both emulators"
	@echo "make test   - install into .venv, lint, type-check, check import rules, run all tests"
	@echo "make bench  - benchmarks, reported as ratios (JSON in bench/results/)"
	@echo "make chaos  - fault campaigns: SIGKILLs, lost responses, 429s, token races, webhooks, PostgreSQL restart"
	@echo "make lint | typecheck | imports | pytest | format | clean"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

demo: venv
	$(BIN)/ml-connector demo

bench: venv
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

# `make chaos CAMPAIGNS=kill-cycles SEED=11` runs one campaign; results in chaos/results/.
chaos: venv
	$(BIN)/python -m chaos $(CAMPAIGNS) --seed $(or $(SEED),7)

lint: venv
	$(BIN)/ruff check src tests bench chaos scripts
	$(BIN)/ruff format --check src tests bench chaos scripts

format: venv
	$(BIN)/ruff check --fix src tests bench chaos scripts
	$(BIN)/ruff format src tests bench chaos scripts

typecheck: venv
	$(BIN)/mypy

imports: venv
	$(BIN)/lint-imports

pytest: venv
	$(BIN)/pytest $(PYTEST_ARGS)

unit component integration contract e2e: venv
	$(BIN)/pytest tests/$@ $(PYTEST_ARGS)

test: lint typecheck imports pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
