# Everything goes through a project-local virtualenv that `make install` creates from nothing.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CONFIG ?= zenml_config.yaml

STATE := $(CURDIR)/.state
# make run keeps ZenML's and MLflow's state inside the project, not in the user's global config.
ZENML_ENV := ZENML_CONFIG_PATH=$(STATE)/zenml ZENML_ANALYTICS_OPT_IN=false
KFP_OUTPUT ?= build/kubeflow/causal_experiment_pipeline.yaml

.PHONY: install run retrain test test-fast lint format bench compile gate clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<27"
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

test: install
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not integration"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy model

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

run: install
	$(ZENML_ENV) $(PY) scripts/setup_local_stack.py
	$(ZENML_ENV) $(PY) -m pipelines.run -c $(CONFIG)
	@echo "report: $(CURDIR)/results/latest/reports/summary.md (and summary.html)"

retrain: install
	$(ZENML_ENV) $(PY) scripts/setup_local_stack.py
	$(ZENML_ENV) $(PY) -m pipelines.retrain -c $(CONFIG)

compile: install
	$(ZENML_ENV) $(PY) -m orchestrators.kubeflow_gpu.compile --config $(CONFIG) --output $(KFP_OUTPUT)

gate: install
	$(ZENML_ENV) $(PY) -m registry.gate

bench: install
	$(PY) bench/pipeline_time.py
	$(PY) bench/model_quality.py

clean:
	rm -rf build .pytest_cache .mypy_cache
