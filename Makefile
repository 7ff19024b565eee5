# Everything goes through a project-local virtualenv that `make install` creates from nothing, with the
# interpreter PYTHON (3.11, 3.12 or 3.13): `make test PYTHON=$(pyenv prefix 3.12)/bin/python3 VENV=build/venv-3.12`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CONFIG ?= zenml_config.yaml

# Where make run keeps ZenML's and MLflow's state; tests point it at a folder of their own.
STATE ?= $(CURDIR)/.state
# make run keeps ZenML's and MLflow's state inside the project, not in the user's global config.
ZENML_ENV := ZENML_CONFIG_PATH=$(STATE)/zenml ZENML_ANALYTICS_OPT_IN=false
KFP_OUTPUT ?= build/kubeflow/causal_experiment_pipeline.yaml
# checkov (make lint) lives in a virtualenv of its own, from its own lock: its pins clash with requirements.lock.
CHECKOV_VENV ?= build/venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
# SDCD, bench/structure_scale.py's baseline, likewise (requirements-sdcd.lock: its pins clash with requirements.lock).
SDCD_VENV ?= build/venv-sdcd
# cpu: the lock's torch==X+cpu (this machine's wheel, Python 3.11); cuda: PyPI's torch==X (its CUDA build), for SDCD on
# the GPU beside this model (`make sdcd SDCD_TORCH=cuda SDCD_VENV=build/venv-sdcd-cuda`).
SDCD_TORCH ?= cpu
# --skip-download: nothing is fetched from the vendor's platform; every skip is inline, with its reason.
CHECKOV_FLAGS := --skip-download --compact --quiet

.PHONY: install checkov sdcd browser run retrain validate test test-fast lint format bench compile gate clean

install: $(STAMP)

# requirements.lock pins torch's CPU build (torch==2.13.0+cpu), which this machine holds for Python 3.11 only;
# PyPI has no CPU build for Linux, so on 3.12 and 3.13 the same release comes from PyPI (its CUDA build, which
# runs on the CPU as well). Every other pin is the lock's.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<27"
	if $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then cp requirements.lock $(VENV)/constraints.txt; \
	else sed -E 's/^torch==([0-9.]+)\+cpu$$/torch==\1/' requirements.lock > $(VENV)/constraints.txt; fi
	$(PY) -m pip install --quiet -c $(VENV)/constraints.txt -e ".[dev,bench]"
	touch $(STAMP)

checkov: $(CHECKOV)

$(CHECKOV): requirements-checkov.lock
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade "pip<27"
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.lock
	touch $(CHECKOV)

sdcd: $(SDCD_VENV)/.installed-stamp

$(SDCD_VENV)/.installed-stamp: requirements-sdcd.lock
	test -x $(SDCD_VENV)/bin/python || $(PYTHON) -m venv $(SDCD_VENV)
	if [ "$(SDCD_TORCH)" = cuda ]; then sed -E 's/^torch==([0-9.]+)\+cpu$$/torch==\1/' requirements-sdcd.lock > $(SDCD_VENV)/requirements.txt; \
	else cp requirements-sdcd.lock $(SDCD_VENV)/requirements.txt; fi
	$(SDCD_VENV)/bin/python -m pip install --quiet -r $(SDCD_VENV)/requirements.txt
	touch $@

# The report's browser test drives Debian's chromium through Playwright (whose own browser download is not
# reachable), with a Japanese font for the screenshots. Installed once; without root and without chromium
# this fails rather than letting the test be skipped.
browser:
	@if test -x /usr/bin/chromium && fc-list :lang=ja | grep -q .; then echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null)"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-ipafont-gothic >/dev/null; fi
	/usr/bin/chromium --version

# The suite runs on TEST_WORKERS pytest-xdist workers; tests/conftest.py groups the tests so that each pipeline
# scenario runs once, on one worker, and hands the longest groups out first (kept in that order by
# --no-loadscope-reorder). TEST_WORKERS=0 runs it in this process. With two workers, each pipeline's OpenMP
# threads share the cores with the other worker's: OpenMP's default is to spin while waiting for work, which on
# busy cores burns the time the others need (a 2-thread training beside CI's load: 134 s of CPU spinning, 15 s
# passive, same weights), so the suite's threads wait passively.
TEST_WORKERS ?= 2
PYTEST := OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

# tests/k8s/test_pin_images.py runs checkov over the pinned manifests.
test: install browser checkov
	$(PYTEST)

test-fast: install checkov
	$(PYTEST) -m "not integration"

lint: install checkov
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy model
	$(VENV)/bin/hadolint Dockerfile
	$(CHECKOV) $(CHECKOV_FLAGS) --framework kubernetes -d k8s
	$(CHECKOV) $(CHECKOV_FLAGS) --framework dockerfile -f Dockerfile

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
