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

.PHONY: help setup setup-browser setup-spark report test bench lab clean

help: ## list the targets
	@echo "Customer retention & CLV reporting kit"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'
	@echo
	@echo "  make report PARAMS=params/other.yaml OUT=reports/other   another configuration, another folder"

setup: $(STAMP) ## create .venv, install the pinned packages, register the Jupyter kernel

$(STAMP): requirements.lock pyproject.toml
	@echo "Setting up $(VENV) (first time takes a minute or two)..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))" >/dev/null
	@# In a git checkout, strip notebook outputs on commit (a git filter in .git/config; nothing tracked
	@# changes). --keep-id: the notebooks' cell ids are stable names, not per-run random ones.
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		$(VENV)/bin/nbstripout --install && \
		git config filter.nbstripout.clean "$$(git config filter.nbstripout.clean) --keep-id" && \
		echo "nbstripout: notebooks are committed without outputs"; fi
	@touch $@

setup-browser: ## install Debian's Chromium (browser test, summary.png); needs root
	@if command -v chromium >/dev/null 2>&1; then \
		echo "Chromium is installed: $$(command -v chromium)"; \
	elif [ "$$(id -u)" != "0" ]; then \
		echo "make setup-browser installs Debian's chromium package and needs root. Run:"; \
		echo "    sudo apt-get update && sudo apt-get install -y chromium"; \
		echo "Without it the browser test is skipped and the run folder has no summary.png."; \
		exit 1; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "No apt-get here: install Chromium with your system's package manager, or set RETENTION_KIT_CHROMIUM=/path/to/chromium."; \
		exit 1; \
	else \
		echo "Installing Chromium with apt-get (quiet; takes a minute)..."; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && \
		echo "Chromium installed: $$(command -v chromium)"; \
	fi

SIZES   ?= 100k,1m
REPEAT  ?= 3
SPARK_STAMP := $(VENV)/.spark-installed

setup-spark: $(SPARK_STAMP) ## install the optional Spark engine (pyspark; needs Java 17)

$(SPARK_STAMP): $(STAMP) requirements-spark.txt
	@command -v java >/dev/null 2>&1 || { echo "The Spark engine needs Java 17: java was not found on the PATH."; exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-spark.txt
	@touch $@

bench: setup ## benchmark the model stage against lifetimes (SIZES=100k,1m,10m REPEAT=3)
	$(PY) bench/run.py --sizes $(SIZES) --repeat $(REPEAT)

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
