# taskchain — every target sets up what it needs (a local .venv) before it runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup run test lint type check eval bench bench-peers fc-build clean serve invoke validate build deploy coze-spec requirements

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install taskchain with its dev extras

run: $(STAMP) ## run the main job: a full analysis chain on SQLite, answered by the configured model (else an outline)
	$(BIN)/taskchain run --task-type analysis --target "$${TARGET:-一家社区咖啡店是否应该推出会员订阅制}" --focus 成本 --focus 客户留存

test: $(STAMP) ## run every test (unit, contract, functional, integration)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

type: $(STAMP) ## mypy strict on the package and the handlers
	$(BIN)/mypy taskchain handlers

check: lint type test ## lint + types + tests

eval: $(STAMP) ## judge the quality corpus: good answers refused and defects caught, per kind
	$(BIN)/python -m tests.quality.evaluate

bench: $(STAMP) ## medians of one-shot runs and guided submits (by position), SQLite bytes, cold starts, model runs
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/cold_start.py --bytecode
	$(BIN)/python bench/model_runs.py

# LangGraph, the tool people would otherwise use, in a virtual environment of its own (never in
# taskchain's dependencies or make test), with this repository installed beside it.
PEERS_VENV := .venv-peers
LANGGRAPH_VERSION := 1.2.24
LANGGRAPH_SQLITE_VERSION := 3.1.2
PEERS_STAMP := $(PEERS_VENV)/.installed-$(LANGGRAPH_VERSION)-$(LANGGRAPH_SQLITE_VERSION)

$(PEERS_STAMP): pyproject.toml
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet -e . \
		langgraph==$(LANGGRAPH_VERSION) langgraph-checkpoint-sqlite==$(LANGGRAPH_SQLITE_VERSION)
	@touch $(PEERS_STAMP)

bench-peers: $(PEERS_STAMP) ## guided submit vs LangGraph interrupt/resume on SQLite: per-step medians, disk
	$(PEERS_VENV)/bin/python bench/peers.py

serve: $(STAMP) ## local HTTP server on 127.0.0.1:8080 turning requests into function-URL events
	$(BIN)/python -m handlers.local_server --host 127.0.0.1 --port $${PORT:-8080}

invoke: $(STAMP) ## run the Lambda handler on one event, as `sam local invoke -e` would: make invoke EVENT=events/http_health.json
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/<name>.json"; exit 2; }
	$(BIN)/python -m tools.invoke "$(EVENT)"

coze-spec: $(STAMP) ## regenerate coze/openapi.yaml from the models (SERVER_URL=https://<function-url> sets its server)
	$(BIN)/python -m tools.coze_spec $(if $(SERVER_URL),--server-url "$(SERVER_URL)") --output coze/openapi.yaml

validate: $(STAMP) ## cfn-lint the SAM template
	$(BIN)/cfn-lint template.yaml

build: ## sam build (needs the AWS SAM CLI)
	@command -v sam >/dev/null || { echo "install the AWS SAM CLI first (pip install aws-sam-cli)"; exit 2; }
	sam build

deploy: build ## sam build && sam deploy --guided
	sam deploy --guided

# Lambda's /var/task and FC's /code are read-only: a package without bytecode compiles every module
# it imports on every cold start (0.3-0.7 s more, bench/cold_start.py --bytecode). So a package
# ships it, compiled by its runtime's Python: $(call bytecode,<dir>,<version>) runs python<version>
# (or RUNTIME_PYTHON_<version>=/path/to/python) over <dir>. unchecked-hash .pyc files stay valid
# whatever modification times the zip gives the sources (the code never changes in place).
# Without that Python the package ships sources only, with a warning.
define bytecode
	@py="$(or $(RUNTIME_PYTHON_$(2)),python$(2))"; \
	if "$$py" -c 'import sys; sys.exit(sys.version.split()[0].rsplit(".", 1)[0] != "$(2)")' 2>/dev/null; then \
		"$$py" -W ignore::SyntaxWarning -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(1)"; \
	else \
		echo "warning: no Python $(2) ($$py): $(1) ships without bytecode" >&2; \
	fi
endef

# sam build calls this target (template.yaml: Metadata.BuildMethod makefile) with ARTIFACTS_DIR set.
# Lambda runs arm64 / Python 3.12: fetch wheels for that platform whatever machine builds.
# boto3 is left out on purpose: the Lambda Python runtime provides it.
build-TaskchainFunction:
	python3 -m pip install --quiet --target "$(ARTIFACTS_DIR)" -r requirements.txt \
		--platform manylinux2014_aarch64 --implementation cp --python-version 3.12 --only-binary=:all:
	cp -r taskchain handlers "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name '__pycache__' -type d -prune -exec rm -rf {} +
	$(call bytecode,$(ARTIFACTS_DIR),3.12)

# The runs function (template.yaml: TaskchainRunsFunction), a Lambda durable function: durable
# functions run on python3.13 (or 3.14), so its wheels are 3.13's; its SDK brings boto3 along.
build-TaskchainRunsFunction:
	python3 -m pip install --quiet --target "$(ARTIFACTS_DIR)" -r requirements-runs.txt \
		--platform manylinux2014_aarch64 --implementation cp --python-version 3.13 --only-binary=:all:
	cp -r taskchain handlers "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name '__pycache__' -type d -prune -exec rm -rf {} +
	$(call bytecode,$(ARTIFACTS_DIR),3.13)

# Aliyun Function Compute (s.yaml): Linux x86_64 wheels for python3.12, the shipped code only.
fc-build: ## the Aliyun FC code package in .fc-build/code (then: s deploy)
	rm -rf .fc-build/code && mkdir -p .fc-build/code
	$(PYTHON) -m pip install --quiet --target .fc-build/code -r requirements-fc.txt \
		--platform manylinux2014_x86_64 --implementation cp --python-version 3.12 --only-binary=:all:
	cp -r taskchain handlers .fc-build/code/
	find .fc-build/code -name '__pycache__' -type d -prune -exec rm -rf {} +
	$(call bytecode,.fc-build/code,3.12)

clean: ## remove caches and the virtual environment
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .fc-build
