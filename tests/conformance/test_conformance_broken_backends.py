"""The suite is itself tested: deliberately broken backends must fail on the right op, an
honest copy of cpu must pass everything, and unsupported dtypes must show as 'unsupported'."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends.cpu import CPUBackend
from plugtorch.conformance import FAIL, PASS, UNSUPPORTED, VIA_DECOMPOSITION, VIA_FALLBACK, opdb, run

from .planted import CopyOfCPU

_names = (f"fakedev{i}" for i in itertools.count())


@pytest.fixture
def backend():
    """register(**kwargs) -> the name of a fresh fake backend (unregistered afterwards)."""
    made = []

    def register(**kwargs):
        name = next(_names)
        pt.backends.register(CopyOfCPU(**kwargs), name=name)
        made.append(name)
        return name
    yield register
    for n in made:
        pt.backends.unregister(n)


CPU = CPUBackend().kernels


def _check(name, ops, max_examples=3, dtypes=None):
    results = run([name], opdb.select(ops), dtypes, max_examples=max_examples)
    return {(r.op, r.dtype): r for r in results}


def _failing_ops(results):
    return {op for (op, _), r in results.items() if r.status == FAIL}


def test_honest_copy_of_cpu_passes_everything(backend):
    name = backend()
    results = run([name], opdb.select(), max_examples=2)
    failed = [(r.op, r.dtype, str(r.failures[0])) for r in results if r.status == FAIL]
    assert failed == []
    assert {r.status for r in results} <= {PASS, VIA_DECOMPOSITION}
    assert sum(r.samples for r in results) > 5000


def test_add_off_by_1e_3_relative_fails_add_only(backend):
    def add(a, b, dtype):
        r = CPU["add"](a, b, dtype)
        # (np.asarray: NumPy turns a 0-d product into a scalar, which the dispatcher's check of
        # a plug-in's results would report before the values are compared)
        return np.asarray(r * (1 + 1e-3)).astype(r.dtype) if r.dtype.kind == "f" else r
    results = _check(backend(replace={"add": add}), ["add", "mul", "sub"])
    assert _failing_ops(results) == {"add"}
    r = results["add", "float32"]
    assert r.failures[0].check == "forward"
    assert "Mismatched elements" in r.failures[0].message
    assert r.failures[0].max_error > 0


def test_sum_that_ignores_keepdim_fails_sum(backend):
    def sum_(x, dims, keepdim, dtype):
        return CPU["sum"](x, dims, False, dtype)
    results = _check(backend(replace={"sum": sum_}), ["sum", "prod"])
    assert _failing_ops(results) == {"sum"}
    f = results["sum", "float32"].failures[0]
    assert f.check == "shape" and "cpu's has" in f.message


def test_permute_that_assumes_contiguous_input_fails_permute(backend):
    def permute(x, dims):
        st = [x.itemsize * int(np.prod(x.shape[i + 1:])) for i in range(x.ndim)]   # contiguous strides
        return np.lib.stride_tricks.as_strided(x, shape=[x.shape[d] for d in dims], strides=[st[d] for d in dims])
    results = _check(backend(replace={"permute": permute}), ["permute", "neg"])
    assert "permute" in _failing_ops(results)
    assert "neg" not in _failing_ops(results)
    f = results["permute", "float32"].failures[0]
    assert f.check == "forward"
    assert "transposed" in f.sample or "stepped" in f.sample or "expanded" in f.sample   # contiguous inputs pass


def test_view_kernel_that_copies_fails_the_view_check(backend):
    results = _check(backend(replace={"permute": lambda x, dims: np.transpose(x, dims).copy()}), ["permute"],
                     dtypes=[pt.float32])
    f = results["permute", "float32"].failures[0]
    assert f.check == "view" and "sharing the input's memory" in f.message


def test_amax_that_drops_nan_fails_amax_for_floats(backend):
    def amax(x, dims, keepdim, dtype):
        r = np.nanmax(x, axis=dims, keepdims=keepdim) if x.dtype.kind == "f" else np.max(x, axis=dims, keepdims=keepdim)
        return np.asarray(r).astype(dtype.numpy)
    results = _check(backend(replace={"amax": amax}), ["amax", "amin"])
    assert _failing_ops(results) == {"amax"}
    assert results["amax", "float32"].status == FAIL
    assert "nan" in results["amax", "float32"].failures[0].sample
    assert results["amax", "int32"].status == PASS


def test_kernel_that_writes_into_its_input_fails_that_op(backend):
    def neg(x, dtype):
        np.negative(x, out=x)
        return x
    results = _check(backend(replace={"neg": neg}), ["neg", "abs"])
    assert _failing_ops(results) == {"neg"}
    f = results["neg", "float32"].failures[0]
    assert f.check == "input modified"
    assert "was changed by the call" in f.message


def test_unsupported_float64_shows_unsupported_and_needs_a_type_error(backend):
    name = backend(unsupported=[pt.float64])
    ops = ["add", "sum", "exp", "_matmul", "full", "_to_device", "_to_dtype", "cat", "arange", "gather"]
    results = _check(name, ops, max_examples=1)
    f64 = {op: r.status for (op, d), r in results.items() if d == "float64"}
    assert set(f64.values()) == {UNSUPPORTED}, f64
    others = {(op, d): r.status for (op, d), r in results.items() if d != "float64"}
    assert FAIL not in others.values()


def test_returning_numbers_for_an_unsupported_dtype_fails(backend):
    # the device declares float64 unsupported, yet its transfer and kernels compute in float64
    from plugtorch.conformance.runner import _check_unsupported
    from plugtorch.conformance.samples import SampleContext
    name = backend()
    entry = opdb.get("neg")
    samples = list(entry.samples(SampleContext(pt.float64, max_examples=1, key="neg")))
    failure = _check_unsupported(entry, pt.float64, pt.device(name), samples, "no fp64 units")
    assert failure.check == "unsupported dtype"
    assert "returned a result" in failure.message and "TypeError" in failure.message


def test_missing_core_kernel_runs_via_fallback_or_fails(backend):
    name = backend(drop=("exp",))
    pt.set_cpu_fallback(True)
    try:
        results = _check(name, ["exp", "softmax"], dtypes=[pt.float32])
    finally:
        pt.set_cpu_fallback(None)
    assert results["exp", "float32"].status == VIA_FALLBACK
    assert results["softmax", "float32"].status == VIA_DECOMPOSITION
    pt.set_cpu_fallback(False)
    try:
        results = _check(name, ["exp"], dtypes=[pt.float32])
    finally:
        pt.set_cpu_fallback(None)
    f = results["exp", "float32"].failures[0]
    assert results["exp", "float32"].status == FAIL
    assert "NotImplementedError" in f.message and "exp" in f.message


def test_wrong_error_type_fails_the_error_input_check(backend):
    def where(c, a, b, dtype):
        return CPU["where"](c, a, b, dtype)
    name = backend(replace={"where": where})
    entry = opdb.get("where")
    from plugtorch.conformance import Entry

    def fn(*a, **k):
        if any(isinstance(t, pt.Tensor) and t.device.type == name for t in a) and a[0].dtype is not pt.bool:
            raise ValueError("where(): wrong exception type on this device")
        return pt.where(*a, **k)
    broken = Entry("where", samples=entry.samples, fn=fn, error_inputs=entry.error_inputs, dtypes=(pt.float32,))
    (r,) = run([name], [broken])
    assert r.status == FAIL
    assert r.failures[0].check == "error input"
    assert "ValueError" in r.failures[0].message and "RuntimeError" in r.failures[0].message


def _flushing_rsqrt(x, dtype):
    """rsqrt as a GPU in fast mode computes it: float32 subnormals (and the sign of zero) are lost."""
    if x.dtype == np.float32:
        x = np.where(np.abs(x) < np.finfo(np.float32).tiny, np.float32(0), x)
    return CPU["rsqrt"](x, dtype)


def test_backends_that_flush_subnormals_say_so_and_get_flushed_inputs(backend):
    results = _check(backend(replace={"rsqrt": _flushing_rsqrt}), ["rsqrt"], dtypes=[pt.float32])
    f = results["rsqrt", "float32"].failures[0]
    assert f.check == "forward" and ("tiny" in f.sample or "inf/nan" in f.sample)

    class Flushing(CopyOfCPU):
        flushes_subnormals = True
    name = next(_names)
    pt.backends.register(Flushing(replace={"rsqrt": _flushing_rsqrt}), name=name)
    try:
        results = _check(name, ["rsqrt", "atan2"], dtypes=[pt.float32, pt.float64])
    finally:
        pt.backends.unregister(name)
    assert {r.status for r in results.values()} == {PASS}


def test_overflowing_sums_may_give_any_non_finite_value(backend):
    def matmul(a, b):   # another summation order: inf + -inf gives nan where cpu's order gives inf
        r = CPU["_matmul"](a, b)
        return np.where(np.isinf(r), np.nan, r).astype(r.dtype) if r.dtype.kind == "f" else r
    results = _check(backend(replace={"_matmul": matmul}), ["_matmul"], dtypes=[pt.float32], max_examples=8)
    assert results["_matmul", "float32"].status == PASS

    def wrong(a, b):    # but a non-finite value where cpu is finite is a failure
        r = CPU["_matmul"](a, b)
        return np.where(np.abs(r) > 1e30, np.nan, r).astype(r.dtype) if r.dtype.kind == "f" else r
    results = _check(backend(replace={"_matmul": wrong}), ["_matmul"], dtypes=[pt.float32], max_examples=8)
    assert results["_matmul", "float32"].status == FAIL
