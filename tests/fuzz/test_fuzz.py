"""The fuzzer's CI budget, and tests that the fuzzer finds what it claims to find.

The budget: every op of the registry 30 times (seed 0) on every available backend, the
device backends that compile kernels (opencl, cuda) in the first 2 rounds only: about 5400
calls, 12 s here with PoCL's kernel cache warm, 50 s with it empty. Its failures
must be exactly ``KNOWN_FAILURES``: a new one fails the test with its replay line, and so does
an entry that no longer fails (delete it: the fix has landed).
"""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.conformance.entry import Input

from . import runner
from .call import VALID, error
from .generate import fuzz_ops, make_call
from .known_failures import KNOWN_FAILURES
from .oracle import check, internal_origin
from .references import REFERENCES, promoted_dtype

CI_SEED = 0
CI_ROUNDS = 30
CI_BACKEND_ROUNDS = {"opencl": 2, "cuda": 2}


def test_ci_budget_finds_exactly_the_known_failures():
    report = runner.run(CI_SEED, rounds=CI_ROUNDS, backend_rounds=CI_BACKEND_ROUNDS)
    assert report.calls == CI_ROUNDS * len(fuzz_ops())
    new, fixed = runner.compare_known(report, KNOWN_FAILURES)
    problems = []
    if report.broken:
        problems.append("the fuzzer itself failed:\n" +
                        "\n".join(f"{op} seed {s}: {tb}" for op, s, tb in report.broken))
    if new:
        problems.append("new failures (fix them, or add them to known_failures.py with a reason):\n" +
                        "\n".join(str(report.failures[k][0]) for k in new))
    if fixed:
        problems.append("known failures that no longer fail (delete them from known_failures.py):\n" +
                        "\n".join(f"{op}: {kind}" for op, kind in fixed))
    assert not problems, "\n\n".join(problems)


# ---- the fuzzer's own machinery -----------------------------------------------------------------
def test_a_call_is_reproducible_from_its_op_and_seed():
    a, b = make_call("sum", 12345), make_call("sum", 12345)
    assert a.describe() == b.describe()
    assert [i.values.tolist() for i in a.sample.inputs()] == [i.values.tolist() for i in b.sample.inputs()]
    call, failures = runner.replay("sum", 12345, ["cpu"])
    assert call.describe() == a.describe() and failures == check(b, ["cpu"])


def test_every_registry_op_with_an_entry_is_fuzzed():
    from plugtorch.conformance import opdb
    from plugtorch.dispatch.registry import OPS
    assert set(fuzz_ops()) == {n for n in OPS if n in opdb.ENTRIES}
    assert {"add", "sum", "gather", "matmul", "conv2d"} <= set(fuzz_ops())


def _valid_neg_call():
    call = make_call("neg", 0)
    call.sample.args = (Input(np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)),)
    call.sample.kwargs = {}
    call.target, call.varargs, call.expect, call.invalid, call.mutations = "op", False, VALID, None, []
    return call


def test_a_wrong_kernel_on_another_backend_is_found(altcpu):
    from plugtorch.backends import get_backend
    be = get_backend("altcpu")
    be.kernels = dict(be.kernels, neg=lambda x, dtype: x.copy())     # forgets the sign
    failures = check(_valid_neg_call(), ["cpu", "altcpu"])
    assert [f.kind for f in failures] == ["altcpu: forward differs from cpu"]


def test_a_call_that_returns_where_pytorch_raises_is_found():
    call = _valid_neg_call()
    call.expect, call.invalid = error(IndexError), "a planted expectation"
    [f] = check(call, ["cpu"])
    assert f.kind == "no error for a planted expectation (PyTorch: IndexError)"
    assert "--op neg --call-seed 0" in str(f)


def test_a_wrong_result_is_found_against_numpy(monkeypatch):
    monkeypatch.setitem(REFERENCES, "neg", lambda input: [(input.astype(np.float32), pt.float32)])
    [f] = check(_valid_neg_call(), ["cpu"])
    assert f.kind == "values differ from NumPy"


def test_exceptions_outside_the_documented_set_are_found():
    call = _valid_neg_call()
    call.entry = type("E", (), {"fn": staticmethod(lambda x: {}["k"]), "inplace": False, "compare": None,
                                "tol": {}, "op": "neg"})()
    [f] = check(call, ["cpu"])
    assert f.kind == "undocumented KeyError"


def test_only_deliberate_raises_count_as_documented():
    with pytest.raises(IndexError) as deliberate:
        pt.ones(2, 3).sum(5)
    assert internal_origin(deliberate.value) is None
    with pytest.raises(ValueError) as from_numpy:
        np.ones(6).reshape(4, 4)
    assert "numpy" in internal_origin(from_numpy.value) or "test_fuzz" in internal_origin(from_numpy.value)


@pytest.mark.parametrize("operands, expected", [
    ((pt.int8, pt.uint8), pt.int16), ((pt.float16, pt.bfloat16), pt.float32), ((pt.bool, pt.int32), pt.int32),
    ((pt.int64, pt.float16), pt.float16), ((pt.uint8, 2.5), pt.float32), ((pt.float16, 2.5), pt.float16),
    ((pt.int8, 300), pt.int8), ((pt.bool, 2), pt.int64), ((pt.float32, ("0-d", pt.float64)), pt.float32),
    ((pt.int32, ("0-d", pt.float64)), pt.float64), ((pt.uint8, ("0-d", pt.int8)), pt.uint8),
])
def test_promotion_follows_pytorch(operands, expected):
    def operand(o):
        if isinstance(o, tuple):
            return Input(np.zeros((), o[1].numpy), o[1], shape=())
        if isinstance(o, pt.dtype):
            return Input(np.zeros((2,), o.numpy), o)
        return o
    assert promoted_dtype([operand(o) for o in operands]) is expected


def test_every_reference_is_a_registry_op():
    from plugtorch.dispatch.registry import OPS
    assert set(REFERENCES) <= set(OPS)
    assert {"floor", "sign", "sum", "gather", "matmul", "view", "where", "isclose"} <= set(REFERENCES)


def test_references_know_pytorchs_result_dtypes():
    x = np.array([[1, 0, 3]], np.uint8)
    assert [(a.tolist(), d) for a, d in REFERENCES["all"](x, dim=1)] == [([0], pt.uint8)]
    assert [(a.tolist(), d) for a, d in REFERENCES["sum"](x.astype(np.int8))] == [(4, pt.int64)]
    assert [(a.tolist(), d) for a, d in REFERENCES["exp"](np.zeros(2, np.int16))] == [([1.0, 1.0], pt.float32)]
    assert [(a.tolist(), d) for a, d in REFERENCES["cumsum"](np.array([True, True]), 0)] == [([1, 2], pt.int64)]


def test_half_mul_and_div_take_a_scalar_operand_as_a_float32():
    # float16 -0.09515 * 71003 is -6756.2 (-6756 in float16): a 0-d int64 or a Python int second
    # operand is not first rounded to float16 (inf), while a float16 tensor of 71003 is inf
    h = np.array([-0.09515, 2.0], np.float16)
    exact = (h.astype(np.float64) * 71003).astype(np.float16)
    assert exact.tolist() == [-6756.0, np.inf]
    for other in (np.array(71003), 71003):
        [(r, d)] = REFERENCES["mul"](h, other)
        assert d is pt.float16 and r.tolist() == exact.tolist()
    [(r, d)] = REFERENCES["div"](h, np.array(1 / 71003))
    assert d is pt.float16 and r.tolist() == exact.tolist()
    [(r, d)] = REFERENCES["mul"](np.array(71003), h)             # a first operand is rounded first
    assert r.tolist() == [-np.inf, np.inf]
    assert (pt.tensor(h) * pt.tensor(71003)).tolist() == exact.tolist()
