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

## test: the project's own tests: four processes (most tests wait on servers and sockets), then
## the ones marked alone (their load runs judge timings) one at a time; the first failure's code
test: $(STAMP)
	$(BIN)/python -m pytest -n 4 --dist loadgroup -m "not alone"; first=$$?; \
	$(BIN)/python -m pytest -m alone; second=$$?; \
	if [ $$first -ne 0 ]; then exit $$first; fi; exit $$second

lint: $(STAMP)
	$(BIN)/ruff check simulator harness paysim tests loadtests benchmarks examples
	$(BIN)/ruff format --check simulator harness paysim tests loadtests benchmarks examples
	$(BIN)/mypy

serve: $(STAMP)
	$(BIN)/python -m simulator

clean:
	rm -rf $(VENV) reports .pytest_cache
