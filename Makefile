# Trading pipeline: every target bootstraps the virtual environment it needs.
# `make help` lists the targets.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help venv run test lint format clean bench

help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install the project with its extras

run: $(STAMP) ## run the pipeline on the embedded stack (ARGS="--duration 30" to bound it)
	$(BIN)/pipeline run $(ARGS)

test: $(STAMP) ## run the whole test suite (unit, integration, e2e)
	$(BIN)/python -m pytest -q $(ARGS)

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## run the benchmarks and print the figures for BENCHMARKS.md
	$(BIN)/python benchmarks/run.py $(ARGS)

clean: ## remove the environment, caches and the embedded data directory
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis data build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
