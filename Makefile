# Two entry points: `make demo` (set up + build the demo atlases + start the dashboard) and
# `make test` (set up + lint + the test suite). Both work from a fresh clone on Debian.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
MIRROR ?= $(firstword $(wildcard ../shared/data) $(AI4LOOP_DATA_MIRROR))
export AI4LOOP_DATA_DIR ?= $(CURDIR)/data
export KERAS_BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: demo test setup sysdeps sysdeps-test data lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { $(SUDO) apt-get update && $(SUDO) apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); }

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

setup: $(VENV)/.installed sysdeps

# System packages: bedtools for preprocess (pybedtools), chromium for the browser test.
sysdeps:
	@command -v bedtools >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq bedtools; }

sysdeps-test: sysdeps
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

data: setup
	$(BIN)/ai4loop data fetch $(if $(MIRROR),--mirror $(MIRROR))

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: data
	$(BIN)/ai4loop atlas build-demo --out atlases
	$(BIN)/ai4loop dashboard --atlas atlases

test: data sysdeps-test lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) data atlases build tests/artifacts .pytest_cache
