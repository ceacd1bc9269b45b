# MesoClinic: `make run` serves the demo clinic, `make test` checks everything.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint types unit test-deps clean

$(BIN)/python:
	scripts/ensure-python-venv.sh "$(PYTHON)"
	"$(PYTHON)" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python pyproject.toml constraints.txt
	scripts/install-runtime-deps.sh
	$(BIN)/pip install --quiet --constraint constraints.txt --editable .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $@

run: $(VENV)/.runtime
	$(BIN)/mesoclinic demo --if-empty
	$(BIN)/mesoclinic serve

test: lint types unit

test-deps:
	scripts/install-test-deps.sh

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

types: $(VENV)/.dev
	$(BIN)/mypy

unit: $(VENV)/.dev test-deps
	$(BIN)/pytest -n 2  # two workers, each with its own PostgreSQL cluster

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output
