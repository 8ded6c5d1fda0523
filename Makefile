# The two commands of the quick start. Both make the virtualenv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: conform test lint serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## conform: the full conformance run against the bundled simulator, report in reports/latest
conform: $(STAMP)
	$(BIN)/paysim conform --report-dir reports/latest

## test: the project's own tests
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check simulator harness paysim tests loadtests benchmarks examples
	$(BIN)/ruff format --check simulator harness paysim tests loadtests benchmarks examples
	$(BIN)/mypy

serve: $(STAMP)
	$(BIN)/python -m simulator

clean:
	rm -rf $(VENV) reports .pytest_cache
