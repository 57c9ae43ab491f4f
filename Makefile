# Customer retention & CLV reporting kit.  `make` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
KERNEL  := retention-kit
PARAMS  ?= params/default.yaml
OUT     ?=
AS_OF   ?=
EVERY   ?= month
# Each configuration is a series of its own: reports/ for params/default.yaml (the bundled sample),
# reports/<name>/ for params/<name>.yaml, so its index, trend and `latest` never mix data sets.
REPORTS ?= reports$(if $(filter params/default.yaml ./params/default.yaml,$(PARAMS)),,/$(basename $(notdir $(PARAMS))))
PYTHON  ?= python3

.PHONY: FORCE help setup setup-browser setup-spark report backfill reports-index test bench lab clean

# Whether a dated run is up to date is decided by the pipeline (--if-changed), by content: every
# step's key (configuration, the files it names, notebooks, library, packages) and the report it
# is compared with. File times play no part, so a reverted edit or an input copied with an older
# time is never mistaken for up to date. An up-to-date run is left exactly as it is.
ifneq ($(filter backfill,$(MAKECMDGOALS)),)
BACKFILL_DATES := $(shell PYTHONPATH=src $(PYTHON) -m analysis.periods --from "$(FROM)" --to "$(TO)" --every "$(EVERY)" 2>&1)
ifneq ($(.SHELLSTATUS),0)
$(error make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD [EVERY=month|quarter|week]: $(BACKFILL_DATES))
endif
endif

help: ## list the targets
	@echo "Customer retention & CLV reporting kit"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'
	@echo
	@echo "  make report PARAMS=params/other.yaml OUT=reports/other   another configuration, another folder"
	@echo "  make report AS_OF=1998-05-31                              as of a date: reports/1998-05-31/"
	@echo "  make -j2 backfill FROM=1998-01-01 TO=1998-06-30           one report per month end (EVERY=quarter|week)"
	@echo "  make report FRESH=1                                        execute every step, reuse nothing"

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

bench: setup ## benchmark the model stage, then the whole make report path, against lifetimes (SIZES=100k,1m,10m REPEAT=3)
	$(PY) bench/run.py --sizes $(SIZES) --repeat $(REPEAT)
	$(PY) bench/report_path.py --sizes $(SIZES) --repeat $(REPEAT)
	$(PY) bench/toolbox.py --sizes $(SIZES) --repeat $(REPEAT)

ifeq ($(strip $(AS_OF))$(strip $(OUT)),$(strip $(AS_OF)))
ifneq ($(strip $(AS_OF)),)
# make report AS_OF=YYYY-MM-DD: the run folder reports/AS_OF, rebuilt only when out of date
report: $(REPORTS)/$(AS_OF)/manifest.json
	@echo "Report as of $(AS_OF): $(REPORTS)/$(AS_OF)/index.html (all reports: $(REPORTS)/index.html)"
else
report: setup ## run the reports on the bundled sample data (PARAMS=..., AS_OF=YYYY-MM-DD, OUT=...)
	$(PY) -m analysis.pipeline run --params "$(PARAMS)" $(if $(FRESH),--no-reuse)
endif
else
report: setup
	$(PY) -m analysis.pipeline run --params "$(PARAMS)" --out "$(OUT)" $(if $(AS_OF),--as-of $(AS_OF)) $(if $(FRESH),--no-reuse)
endif

# One as-of run. Runs are independent (make -j2 runs two at once); each waits only for an
# earlier date still being written before comparing itself with it.
$(REPORTS)/%/manifest.json: FORCE | $(STAMP)
	$(PY) -m analysis.pipeline run --params "$(PARAMS)" --as-of $* --out "$(REPORTS)/$*" --if-changed $(if $(FRESH),--no-reuse) $(if $(SKIP_EARLY),--skip-early)

FORCE:

# In a backfill, as-of dates before the data have enough history are skipped with one line each.
backfill: SKIP_EARLY := 1

backfill: $(foreach d,$(BACKFILL_DATES),$(REPORTS)/$(d)/manifest.json) ## as-of runs FROM=... TO=... EVERY=month|quarter|week; up-to-date ones are skipped
	@$(PY) -m analysis.pipeline index --reports $(REPORTS)

reports-index: setup ## rewrite reports/index.html and reports/latest from the published runs
	$(PY) -m analysis.pipeline index --reports $(REPORTS)

test: setup ## run the test suite
	$(PY) -m pytest

lab: setup ## open JupyterLab with the project's kernel
	$(PY) -m jupyter lab notebooks/

clean: ## remove the virtual environment, caches and generated reports
	rm -rf $(VENV) .pytest_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find reports -mindepth 1 -maxdepth 1 ! -name README.md ! -name .gitkeep -exec rm -rf {} +
