# make demo : set up .venv and run the tour (devices, a few computations, the profiler table)
# make test : set up .venv and run the whole test suite (and the conformance suite on every
#             available backend)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test

.PHONY: demo test bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml setup.py
	$(BIN)/python -m pip install -q -e '.[test,examples]'
	$(BIN)/python -m pip install -q ./examples/plugtorch-strict
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest tests
	$(BIN)/plugtorch-conformance --backend all

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) build *.egg-info
