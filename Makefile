# Two commands do all the set-up on a fresh machine:
#   make run    creates .venv, installs darts-gnn (CPU torch 2.13.0) and runs a search on synthetic data
#   make test   creates .venv, installs darts-gnn with its test extra and runs the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-all install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/darts-gnn search

test: $(STAMP)
	$(PY) -m pytest -q -ra

bench: $(STAMP)
	$(PY) benchmarks/bench_kernels.py --quick
	$(PY) benchmarks/bench_train.py --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
