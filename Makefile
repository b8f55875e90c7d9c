# Two commands on a fresh machine with Python 3.10+:
#   make demo     - `ninestep train`: the nine steps on the built-in data (sets up .venv first)
#   make test     - the whole test-suite, reference libraries included
#   make example  - examples/nine_steps.py: the article's set-up beside a good one, through the API
#   make playground - the live web page that trains the real network (http://127.0.0.1:8765)
# Afterwards the command is .venv/bin/ninestep (or `source .venv/bin/activate`, then `ninestep`).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test example bench playground clean

demo: $(VENV)/.core
	$(BIN)/ninestep train

example: $(VENV)/.core
	$(BIN)/python examples/nine_steps.py

test: $(VENV)/.test
	$(BIN)/python -m pytest -q

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run.py

playground: $(VENV)/.playground
	$(BIN)/ninestep playground

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.core: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[cli]'
	touch $@

$(VENV)/.test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[test,cli]'
	touch $@ $(VENV)/.core

$(VENV)/.bench: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[bench,cli]'
	touch $@

$(VENV)/.playground: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[playground]'
	touch $@

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis
