# TX Predictive Intelligence. Two commands do everything from a fresh clone:
#   make run    set up, run the pipeline, serve the Dagster UI, MLflow UI and BentoML service
#   make test   set up, run the whole test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: help install migrate demo showcase run test mlflow dagster serve clean
.DEFAULT_GOAL := help

help:
	@echo "make run      set up, run the pipeline, then the Dagster UI (:3000), MLflow UI (:5000), BentoML service (:3001)"
	@echo "make demo     the same set-up and pipeline, headless; prints a summary and exits"
	@echo "make showcase a planted-signal universe in its own stores (.tx/showcase): pipeline, a promoted champion, the three UIs"
	@echo "make test     the same set-up, then the whole test suite"
	@echo "make migrate  create and migrate the app database, the MLflow store and the Dagster instance"
	@echo "make mlflow   only the MLflow UI on the configured store"
	@echo "make serve    only the BentoML service (:3001) on the configured stores, TX_SERVE_WORKERS workers (default 1)"
	@echo "make clean    remove the embedded stores (.tx/, mlflow/mlflow.db, mlflow/artifacts/)"

# torch first: on these machines torch==2.13.0 is a local CPU wheel; a looser
# requirement resolved later would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/tx migrate

demo: install
	$(BIN)/tx demo

run: install
	$(BIN)/tx run

showcase: install
	$(BIN)/tx showcase

test: install migrate
	$(BIN)/pytest

mlflow: install
	mlflow/serve.sh

serve: install
	$(BIN)/tx serve

clean:
	rm -rf .tx mlflow/mlflow.db mlflow/artifacts
