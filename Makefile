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

# the optional C extensions (setup.py) are rebuilt by the editable install when their sources change
C_EXTENSIONS := plugtorch/backends/opencl/_fastlaunch.c plugtorch/dispatch/_fastop.c plugtorch/compiler/_fastcall.c

$(STAMP): $(BIN)/python pyproject.toml setup.py $(C_EXTENSIONS)
	$(BIN)/python -m pip install -q -e '.[test,examples,mpi]'
	$(BIN)/python -m pip install -q ./examples/plugtorch-strict
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# the conformance suite runs once, in the jit mode, which checks every eager entry too (the same rows
# and exit status as without --jit) and then traces and compiles each sample against eager. On opencl
# the jit mode traces batches of 64 entries before replaying them, so PoCL builds each batch's fused
# kernels as one program (a build costs a fixed 0.3-0.5 s): with the eager kernels in PoCL's cache,
# a fresh-cache `--jit --backend opencl` took 5m32 (load ~1.3, CPU 335 s; 30 fused programs built in
# 14 s, 1949 fused kernel binaries at first launch) against 5m12 warm (CPU 285 s). With every cache
# empty, eager kernels too: 15m58 (load 0.4-2.1, CPU 936 s), mostly the eager kernels' 797 builds
# (164 s) and first launches, which the eager-only run paid before. Before the batching the 1209
# fused builds alone took 291 s (every cache empty: 37.5 min at load 3-6). That opencl run keeps one
# core busy (PoCL builds one program at a time); --jobs 2 checks cpu and strict (3m08 in jit mode)
# in a second process on the other core meanwhile
test: $(STAMP)
	$(BIN)/python -m pytest tests
	$(BIN)/plugtorch-conformance --jit --backend all --jobs 2

FUZZ_MINUTES ?= 20
FUZZ_SEED ?= $(shell date +%s)
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz --seed $(FUZZ_SEED) --minutes $(FUZZ_MINUTES)

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) build *.egg-info
