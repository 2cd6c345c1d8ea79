# Trading pipeline: every target bootstraps the virtual environment it needs.
# `make help` lists the targets.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The hot path compiled with mypyc (pipeline/compiled.py lists it): rebuilt when it changes.
COMPILED := $(VENV)/.compiled
NATIVE := $(shell $(PYTHON) pipeline/compiled.py)
ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help venv run test fuzz chaos lint format clean bench bench-parts soak

help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PIPELINE_PURE_PYTHON=1 $(BIN)/python -m pip install --quiet -e '.[embedded,dev]'
	@touch $(STAMP)

# Compiled in place with the venv's mypy (a dev extra); PIPELINE_PURE_PYTHON=1 skips it.
$(COMPILED): $(STAMP) $(NATIVE)
	@if [ -n "$$PIPELINE_PURE_PYTHON" ] && [ "$$PIPELINE_PURE_PYTHON" != 0 ]; then \
	  echo "PIPELINE_PURE_PYTHON is set: the hot path is not compiled"; \
	else \
	  echo "compiling the hot path with mypyc (log: $(VENV)/compile.log)"; \
	  $(BIN)/python setup.py --quiet build_ext --inplace > $(VENV)/compile.log 2>&1 \
	    || { tail -n 30 $(VENV)/compile.log; exit 1; }; \
	  touch $(COMPILED); \
	fi

# promtool checks and unit-tests the Prometheus alert rules (tests/unit/operations).
PROMTOOL := $(BIN)/promtool
$(PROMTOOL):
	infra/prometheus/get-promtool.sh $(PROMTOOL)

venv: $(COMPILED) ## create .venv, install the project with its extras, compile the hot path

run: $(COMPILED) ## run the pipeline on the embedded stack (ARGS="--duration 30" to bound it)
	$(BIN)/pipeline run $(ARGS)

test: $(COMPILED) $(PROMTOOL) ## run the whole test suite (compiled hot path), and the domain as plain Python
	$(BIN)/python -m pytest -q $(ARGS)
	PIPELINE_PURE_PYTHON=1 $(BIN)/python -m pytest -q tests/unit/domain tests/unit/venues

fuzz: $(COMPILED) ## the property tests with new random examples (`make test` repeats the same ones)
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -q -m hypothesis $(ARGS)

chaos: $(COMPILED) ## each role its own process, each SIGKILLed and restarted, vs the ground truth
	$(BIN)/python -m pytest -q -s -m chaos $(ARGS)

lint: $(COMPILED) ## ruff check and format check; mypy on the whole package, and the hot path alone
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pipeline
	$(BIN)/mypy $(NATIVE)

format: $(COMPILED) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Quix Streams and faust-streaming, peers of the bench and nothing else, are the optional
# `bench` extra: installed on first `make bench`.
BENCH_STAMP := $(VENV)/.bench-extra
$(BENCH_STAMP): $(STAMP)
	PIPELINE_PURE_PYTHON=1 $(BIN)/python -m pip install --quiet -e '.[embedded,dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(COMPILED) $(BENCH_STAMP) ## `pipeline bench`: peers and pipeline side by side (ARGS="--events 200000")
	$(BIN)/pipeline bench $(ARGS)

bench-parts: $(COMPILED) ## the in-process figures (fold, processor, e2e) and recovery: benchmarks/run.py
	$(BIN)/python benchmarks/run.py $(ARGS)

soak: $(COMPILED) ## the main job for 10 min at a high load with venue faults and broker pauses
	$(BIN)/python benchmarks/soak.py $(ARGS)

clean: ## remove the environment, caches and the embedded data directory
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .mypy_cache data build *.egg-info
	find pipeline -name '*.so' -delete
	rm -f pipeline/hotpath.sources.json
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
