"""A seeded differential fuzzer of plugtorch's ops.

For every op of the registry that has a conformance entry, a call is built from one of the
entry's samples (generate.py), changed by argument kind (mutations.py: layouts, dims, sizes,
counts, index tensors, dtypes, flags, scalars, public function or method; some changes keep
the call valid, one may break it and then says which exception class PyTorch 2.13 raises), and
run on every available backend (oracle.py). It checks that PyTorch-valid calls return on every
backend, match cpu, and on cpu match a NumPy reference with PyTorch's result dtype
(references.py); that invalid calls raise PyTorch's class everywhere; and that nothing outside
RuntimeError / TypeError / ValueError / IndexError escapes.

    python -m tests.fuzz --seed 7 --minutes 10        # a long run (also: make fuzz)
    python -m tests.fuzz --op gather --call-seed 42   # replay one call from its failure line

test_fuzz.py runs a fixed budget in the test suite against known_failures.py.
"""
