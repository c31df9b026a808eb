"""The runner's own checks: every kernel result checked itself while a backend is under test
(built-ins included), signed zeros and NaN positions compared exactly, failure messages with
the first mismatch, the tolerance and the inputs, and the kernels a failing sample ran."""
from __future__ import annotations

import re

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends import get_backend
from plugtorch.conformance import FAIL, PASS, opdb, run
from plugtorch.conformance.compare import Mismatch, compare_values, describe_inputs, may_overflow
from plugtorch.conformance.entry import Input, Sample
from plugtorch.conformance.recorder import KernelRecorder
from plugtorch.dispatch import registry
from plugtorch.dispatch.checked import KernelResultError, PluginKernels, checking_results, layout_problem

from .planted import Bug, CopyOfCPU, register
from .planted import checks as planted_checks
from .planted import first_edition

CPU = get_backend("cpu").kernels


@pytest.fixture
def builtin():
    """register(**kernels) -> the name of a backend that is cpu with those kernels replaced,
    registered as a built-in one (whose kernel table the dispatcher runs unchecked)."""
    names = []

    def make(**kernels):
        name = f"fakebuiltin{len(names)}"
        pt.backends.register(CopyOfCPU(replace=kernels), name=name, origin="built-in")
        names.append(name)
        return name
    yield make
    for name in names:
        pt.backends.unregister(name)


def failures(name, op, dtype=pt.float32):
    results = run([name], opdb.select([op]), [dtype])
    return [f for r in results for f in r.failures], results


# ---- kernel results, checked at the kernel --------------------------------------------------
def test_builtin_backend_comparison_returning_float_fails_as_kernel_result(builtin):
    name = builtin(eq=lambda a, b, dtype: CPU["eq"](a, b, dtype).astype(a.dtype))
    x = pt.tensor([1.0, 2.0], device=name)
    assert (x == 1.0).tolist() == [True, False]     # outside a conformance run: not checked (built-in)
    fails, results = failures(name, "eq")
    assert results[0].status == FAIL
    f = fails[0]
    assert f.check == "kernel result"
    assert (f"eq(): the '{name}' backend's kernel returned an array of dtype float32, but the op's result "
            "has dtype bool (bool on this backend); fix the kernel in the backend (built-in)") in f.message
    assert f.kernels == ["eq"]
    assert f"--backend {name} --op 'eq' --dtype float32 --sample {f.index}" in f.rerun


def test_builtin_backend_0d_numpy_scalar_fails_as_kernel_result(builtin):
    def sum_(x, dims, keepdim, dtype):
        r = CPU["sum"](x, dims, keepdim, dtype)
        return r[()] if r.ndim == 0 else r
    name = builtin(sum=sum_)
    fails, _ = failures(name, "sum")
    assert fails[0].check == "kernel result"
    assert "sum(): the '%s' backend's kernel returned a numpy.float32, not a numpy.ndarray" % name in fails[0].message


def test_strict_mode_is_scoped_and_restores_the_kernel_table(builtin):
    name = builtin(neg=lambda x, dtype: (-x).astype(np.float64))
    dev = pt.device(f"{name}:0")
    x = pt.ones(2, device=dev)
    assert (-x).dtype is pt.float32                    # built-in: the wrapper trusts the meta
    be = get_backend(name)
    assert dev._kernels is be.kernels
    with checking_results(name):
        assert isinstance(dev._kernels, PluginKernels) and dev._kernels.strict
        with checking_results(name):                  # nested: still on
            with pytest.raises(KernelResultError, match=r"neg\(\): .* dtype float64, but the op's result has dtype float32"):
                -x
        with pytest.raises(KernelResultError):          # the memoised fast path is checked too
            -x
    assert dev._kernels is be.kernels
    assert (-x).tolist() == [-1.0, -1.0]
    assert registry.get("neg").fast[(dev, pt.float32)][0] is be.kernels["neg"]


def test_cpu_passes_under_strict_checks():
    results = run(["cpu"], opdb.select(["eq", "sum", "amax", "permute", "expand", "sort", "round", "where"]))
    assert results and all(r.status != FAIL for r in results), [(r.op, r.dtype, r.failures[:1]) for r in results
                                                               if r.status == FAIL]
    assert pt.device("cpu")._kernels is get_backend("cpu").kernels


def test_layout_problem_numpy():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    for ok in (x, x.T, x[::-1, ::2], x[1], np.broadcast_to(x[0], (5, 4)), x[:, :0],
               np.lib.stride_tricks.as_strided(x, (2, 2), (16, 4))):
        assert layout_problem(None, ok) is None
    outside = np.lib.stride_tricks.as_strided(x[2], (3, 4), (16, 4))
    assert layout_problem(None, outside) == (
        "an array of shape (3, 4) with strides (4, 1) (elements) and storage offset 8 that reaches past the "
        "end of its buffer of 12 elements: strides and offset must stay inside the memory the result owns "
        "or views")
    before = np.lib.stride_tricks.as_strided(x[0], (2,), (-4,))
    assert "reaches before the start of its buffer of 12 elements" in layout_problem(None, before)
    odd = np.lib.stride_tricks.as_strided(x, (2, 2), (6, 4))
    assert layout_problem(None, odd) == ("an array with strides (6, 4) (bytes) that are not multiples of its "
                                         "itemsize 4: strides must count whole elements")


class _Strided:
    """A device array as the opencl backend has it: a buffer, an offset and element strides."""

    def __init__(self, shape, strides, offset, size):
        self.shape, self.strides, self.offset, self.size = shape, strides, offset, size


class _StridedBackend:
    def strides(self, a):
        return a.strides

    def storage_offset(self, a):
        return a.offset

    def storage_size(self, a):
        return a.size


def test_layout_problem_with_element_strides_and_storage_size():
    be = _StridedBackend()
    assert layout_problem(be, _Strided((2, 3), (3, 1), 0, 6)) is None
    assert layout_problem(be, _Strided((3, 2), (1, 3), 0, 6)) is None          # a transpose
    assert layout_problem(be, _Strided((3,), (-1,), 2, 3)) is None             # a flip
    assert layout_problem(be, _Strided((0, 9), (9, 1), 99, 6)) is None         # empty: reads nothing
    assert "storage offset 4 that reaches past the end of its buffer of 6 elements" in \
        layout_problem(be, _Strided((2, 3), (3, 1), 4, 6))
    assert "reaches before the start" in layout_problem(be, _Strided((3,), (-1,), 1, 6))


def test_opencl_results_are_checked_for_layout_and_device():
    be = get_backend("opencl")
    if not be.is_available():
        pytest.skip("no OpenCL device")
    x = pt.arange(6.0, device="opencl").view(2, 3)
    assert be.storage_size(x._data) == 6 and be.array_device(x._data) == 0
    assert layout_problem(be, x.permute(1, 0)[1:]._data) is None
    bad = x._data.view_as((2, 3), (3, 1), 2)
    assert "reaches past the end of its buffer of 6 elements" in layout_problem(be, bad)


# ---- values: signed zeros, NaN positions, the message --------------------------------------
def mismatch(x, y, rtol=1e-6, atol=1e-6, **kw):
    with pytest.raises(Mismatch) as e:
        compare_values("forward", "", np.array(x, np.float32), np.array(y, np.float32), rtol, atol, **kw)
    return e.value.message


def test_signed_zero_compared_exactly():
    assert "first mismatch at index (1,): expected -0.0, got 0.0 (+0.0 where cpu has -0.0: zeros must carry " \
        "cpu's sign)" in mismatch([1.0, 0.0], [1.0, -0.0])
    assert "expected 0.0, got -0.0 (-0.0 where cpu has +0.0" in mismatch([-0.0], [0.0])
    compare_values("forward", "", np.array([-0.0, 0.0]), np.array([-0.0, 0.0]), 0, 0)
    compare_values("gradient", "", np.array([-0.0]), np.array([0.0]), 1e-6, 1e-6, signed_zeros=False)


def test_nan_positions_whatever_the_tolerance():
    assert "expected 1.0, got nan (nan where cpu has 1.0: NaN must stand where cpu's does" in mismatch([np.nan], [1.0], rtol=1e9, atol=1e9)
    assert "expected nan, got 1.0 (1.0 where cpu has nan: NaN must stand" in mismatch([1.0], [np.nan], rtol=1e9, atol=1e9)
    compare_values("forward", "", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), 0, 0)


def test_overflow_order_only_where_overflow_is_possible():
    assert not may_overflow(5, 9.0, pt.float32) and not may_overflow(1, 1e38, pt.float32)
    assert may_overflow(5, 1e30, pt.float32) and may_overflow(6, 9.0, pt.float16)   # 9 ** 6 > 65504
    assert not may_overflow(5, 1e30, pt.int64)
    # a sum that may overflow: inf + -inf is nan in one order, inf in another
    compare_values("forward", "", np.array([np.inf]), np.array([np.nan]), 1e-6, 1e-6, overflow_order=True)
    # one that cannot: the nan came from a nan input, in any order
    assert "expected nan, got inf (inf where cpu has nan" in mismatch([np.inf], [np.nan])


def test_value_failure_message():
    message = mismatch([1.0, 2.5, 3.0, 4.0], [1.0, 2.0, 3.0, 3.0], rtol=1e-3, atol=1e-5)
    assert message.splitlines() == [
        "Mismatched elements: 2 / 4 (50.0%)",
        "first mismatch at index (1,): expected 2.0, got 2.5",
        "greatest absolute difference: 1 at index (3,); greatest relative difference: 0.3333 at index (3,)",
        "tolerance: rtol=0.001, atol=1e-05"]


def test_failure_prints_first_mismatch_tolerance_inputs_and_rerun():
    bug = first_edition.BUGS[0]          # add off by 1e-3 relative
    name = register(bug)
    try:
        fails, _ = failures(name, "add")
    finally:
        pt.backends.unregister(name)
    f = fails[0]
    text = str(f)
    assert f.check == "forward" and f.kernels == ["add"]
    assert re.search(r"first mismatch at index \(.*\): expected \S+, got \S+", text)
    assert re.search(r"greatest absolute difference: \S+ at index .*; greatest relative difference: \S+", text)
    assert "tolerance: rtol=1.3e-06, atol=1e-05" in text
    assert f"kernels that ran on {name}:0: add" in text
    assert "\ninputs:\n  arg 0: float32" in text and "\n  arg 1: " in text
    assert text.endswith(f"\nrerun: plugtorch-conformance --backend {name} --op 'add' --dtype float32 "
                         f"--sample {f.index}")


def test_describe_inputs_small_in_full_large_summarised():
    big = np.linspace(-3, 5, 40).astype(np.float32)
    big[[1, 2]] = np.nan
    big[3] = -np.inf
    big[4] = -0.0
    s = Sample(Input(np.array([[1.5, -0.0], [np.nan, 2.0]], np.float32), layout="transposed"), 1,
               [Input(big), Input(np.arange(3, dtype=np.int64))], alpha=Input(np.array(7, np.int16)))
    assert describe_inputs(s).splitlines() == [
        "",
        "inputs:",
        "  arg 0: float32[2, 2] transposed = [[ 1.5,  nan],",
        "     [-0. ,  2. ]]",
        "  arg 2[0]: float32[40]: min -3.0 max 5.0, 2 nan, 1 inf, 1 -0.0",
        "  arg 2[1]: int64[3] = [0, 1, 2]",
        "  alpha: int16[] = 7"]


# ---- the kernels a failing sample ran -----------------------------------------------------
def test_recorder_names_kernels_not_decompositions():
    x = pt.ones(2, 3, requires_grad=True)
    with KernelRecorder(pt.device("cpu")) as rec:
        y = pt.nn.functional.softmax(-x, 1)
    rec.phase = "backward"
    with rec:
        y.sum().backward()
    assert rec.forward[0] == "neg" and "softmax" not in rec.forward and "exp" in rec.forward
    assert rec.backward and "neg" in rec.backward


@pytest.mark.parametrize("bug", [b for b in planted_checks.BUGS if b.bug_class == "gradient"], ids=lambda b: b.name)
def test_gradient_failure_names_the_backward_kernel(bug):
    (broken,) = bug.replace
    name = register(bug)
    try:
        fails, _ = failures(name, bug.op)
    finally:
        pt.backends.unregister(name)
    f = fails[0]
    assert f.check == "gradient"
    assert re.search(rf"\nbackward kernels that ran on {name}:0: [^\n]*{broken}", f.message)
    assert f.kernels[0] == bug.op and broken in f.kernels


def test_threshold_backward_named_for_relu():
    bug = next(b for b in first_edition.BUGS if "threshold_backward" in b.replace)
    name = register(bug)
    try:
        fails, _ = failures(name, "relu")
    finally:
        pt.backends.unregister(name)
    assert fails[0].check == "gradient" and fails[0].kernels == ["relu", "threshold_backward"]


def test_kernels_recorded_only_for_failures():
    name = register(Bug("honest", "values", "neg"))
    try:
        results = run([name], opdb.select(["neg"]), [pt.float32])
    finally:
        pt.backends.unregister(name)
    assert results[0].status == PASS and not results[0].failures


@pytest.mark.parametrize("bug", [b for b in planted_checks.BUGS if b.bug_class in ("signed zero", "nan position")],
                         ids=lambda b: b.name)
def test_planted_value_bugs_say_why(bug):
    name = register(bug)
    try:
        fails, _ = failures(name, bug.op)
    finally:
        pt.backends.unregister(name)
    why = "zeros must carry cpu's sign" if bug.bug_class == "signed zero" else "NaN must stand where cpu's does"
    assert fails and why in fails[0].message and fails[0].kernels[0] == bug.op


def test_ops_that_pick_among_equal_values_may_pick_either_zero():
    # amax of [-0.0, +0.0]: torch 2.13 keeps the first (-0.0), NumPy's reduction gives +0.0;
    # a backend returning either passes, while neg's zeros are still compared exactly
    from plugtorch.conformance.compare import compare_outputs
    amax, neg = opdb.get("amax"), opdb.get("neg")
    assert amax.zero_sign is False and neg.zero_sign is True
    got, want = pt.tensor([-0.0]), pt.tensor([0.0])
    tol = lambda dtype: (1.3e-6, 1e-5)  # noqa: E731
    compare_outputs(amax, Sample(), got, want, got.device, tol, "forward")
    with pytest.raises(Mismatch, match="zeros must carry cpu's sign"):
        compare_outputs(neg, Sample(), got, want, got.device, tol, "forward")
