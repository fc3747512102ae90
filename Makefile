# taskchain — every target sets up what it needs (a local .venv) before it runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup run test lint type check bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install taskchain with its dev extras

run: $(STAMP) ## run the main job: a full analysis chain on the embedded default (SQLite)
	$(BIN)/taskchain run --task-type analysis --target "$${TARGET:-一家社区咖啡店是否应该推出会员订阅制}" --focus 成本 --focus 客户留存

test: $(STAMP) ## run every test (unit, contract, functional, integration)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

type: $(STAMP) ## mypy strict on the package
	$(BIN)/mypy

check: lint type test ## lint + types + tests

bench: $(STAMP) ## medians of one-shot runs and guided submits
	$(BIN)/python bench/bench.py

clean: ## remove caches and the virtual environment
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
