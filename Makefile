# make demo : set up .venv and run the tour (devices, a few computations, the profiler table)
# make test : set up .venv and run the whole test suite (and the conformance suite on every
#             available backend, eager and jit: traced and compiled replays against eager)
# make fuzz : fuzz every op on every available backend for FUZZ_MINUTES minutes (default 20)
#             from FUZZ_SEED (default: the time); each failure prints its replay command
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test

.PHONY: demo test fuzz bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml setup.py plugtorch/backends/opencl/_fastlaunch.c
	$(BIN)/python -m pip install -q -e '.[test,examples,mpi]'
	$(BIN)/python -m pip install -q ./examples/plugtorch-strict
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# the jit conformance mode runs on cpu and the strict plug-in here: on a fresh machine PoCL
# builds ~1200 fused programs for `--jit --backend opencl` (0.25-0.5 s each, a fixed cost per
# build) and compiles ~1550 fused kernel binaries at their first launch, several minutes beyond
# the 4 minutes of a warm run; opencl's traced/compiled replays are tested by tests/jit and
# tests/backends/opencl
test: $(STAMP)
	$(BIN)/python -m pytest tests
	$(BIN)/plugtorch-conformance --backend all
	$(BIN)/plugtorch-conformance --jit --backend cpu strict

FUZZ_MINUTES ?= 20
FUZZ_SEED ?= $(shell date +%s)
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz --seed $(FUZZ_SEED) --minutes $(FUZZ_MINUTES)

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) build *.egg-info
