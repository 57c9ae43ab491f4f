# Customer retention & CLV reporting kit.  `make` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
KERNEL  := retention-kit
PARAMS  ?= params/default.yaml
OUT     ?=
PYTHON  ?= python3

.PHONY: help setup report test lab clean

help: ## list the targets
	@echo "Customer retention & CLV reporting kit"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-8s %s\n", $$1, $$2}'
	@echo
	@echo "  make report PARAMS=params/other.yaml OUT=reports/other   another configuration, another folder"

setup: $(STAMP) ## create .venv, install the pinned packages, register the Jupyter kernel

$(STAMP): requirements.lock pyproject.toml
	@echo "Setting up $(VENV) (first time takes a minute or two)..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))" >/dev/null
	@touch $@

report: setup ## run the reports on the bundled sample data (PARAMS=..., OUT=...)
	$(PY) -m analysis.pipeline run --params $(PARAMS) $(if $(OUT),--out $(OUT))

test: setup ## run the test suite
	$(PY) -m pytest

lab: setup ## open JupyterLab with the project's kernel
	$(PY) -m jupyter lab notebooks/

clean: ## remove the virtual environment, caches and generated reports
	rm -rf $(VENV) .pytest_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find reports -mindepth 1 -maxdepth 1 ! -name README.md ! -name .gitkeep -exec rm -rf {} +
