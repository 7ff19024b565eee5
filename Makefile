# Everything goes through a project-local virtualenv that `make install` creates from nothing.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CONFIG ?= zenml_config.yaml

# Where make run keeps ZenML's and MLflow's state; tests point it at a folder of their own.
STATE ?= $(CURDIR)/.state
# make run keeps ZenML's and MLflow's state inside the project, not in the user's global config.
ZENML_ENV := ZENML_CONFIG_PATH=$(STATE)/zenml ZENML_ANALYTICS_OPT_IN=false
KFP_OUTPUT ?= build/kubeflow/causal_experiment_pipeline.yaml

.PHONY: install run retrain validate test test-fast lint format bench compile gate clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<27"
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev,bench]"
	touch $(STAMP)

test: install
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not integration"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy model
	$(VENV)/bin/hadolint Dockerfile

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

CLI := $(VENV)/bin/causal-lattice
# Development tools beside the package (tools/, not in the wheel): the local ZenML + MLflow stack.
LOCAL_STACK := $(ZENML_ENV) $(PY) -m tools local-stack --state-dir $(STATE) -c $(CONFIG)

run: install
	$(LOCAL_STACK)
	$(ZENML_ENV) $(CLI) run -c $(CONFIG)
	@echo "report: $(CURDIR)/results/latest/reports/summary.html (and summary.md, promotion.md)"

retrain: install
	$(LOCAL_STACK)
	$(ZENML_ENV) $(CLI) retrain -c $(CONFIG)

validate: install
	$(CLI) validate -c $(CONFIG)

compile: install
	$(ZENML_ENV) $(CLI) compile -c $(CONFIG) --output $(KFP_OUTPUT)

gate: install
	$(ZENML_ENV) $(CLI) gate

bench: install
	$(CLI) bench

clean:
	rm -rf build .pytest_cache .mypy_cache
