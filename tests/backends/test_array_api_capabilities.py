"""ArrayAPIBackend's declared capabilities: a library whose views are copies (Dask, ndonnx, JAX)
or whose data-dependent shapes are unknown (Dask) gets a clear refusal or the cpu, never a
wrong result, and the conformance suite reports the refused ops as unsupported.

The mechanism is checked on NumPy with the capabilities declared missing (deterministic, no
extra dependency); the real libraries run below when installed (dask is in the test extra;
ndonnx is not, see docs/array_api_backends.md for its recorded full run)."""
import gc
import warnings

import array_api_strict
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends import ArrayAPIBackend
from plugtorch.backends.array_api import CAPABILITIES
from plugtorch.backends.array_api import _declaring as declaring
from plugtorch.backends.base import MissingCapabilityError
from plugtorch.conformance import FAIL, PASS, UNSUPPORTED, VIA_FALLBACK, opdb, run
from plugtorch.dispatch.dispatcher import record_fallbacks

REFUSED = "copy_\\(\\): the 'aacopy' backend lacks the capability 'writes through views'"


@pytest.fixture(scope="module")
def copy_views():
    """NumPy declared as a library whose views are copies and whose nonzero has no known shape."""
    be = ArrayAPIBackend(np, capabilities={"writes through views": False, "data-dependent shapes": False})
    pt.backends.register(be, name="aacopy")
    yield "aacopy"
    pt.backends.unregister("aacopy")


def test_probes_find_what_numpy_and_strict_have():
    for ns in (np, array_api_strict):
        be = ArrayAPIBackend(ns)
        assert be.capabilities == {c: True for c in CAPABILITIES}
        assert be.missing_capabilities() == {}
        assert "nonzero" in be.kernels and "nonzero" not in be.fallback_ops


def test_unknown_capability_is_refused():
    with pytest.raises(ValueError, match="unknown capability 'views'; known: writes through views, data-dependent"):
        ArrayAPIBackend(np, capabilities={"views": False})


def test_an_op_the_library_lacks_is_a_missing_capability():
    be = ArrayAPIBackend(np)

    def lacking(a, b, dtype):
        raise NotImplementedError("no atan2 loop")
    k = declaring("atan2", lacking, be)
    with pytest.raises(MissingCapabilityError, match="atan2\\(\\): the 'numpy' backend lacks the capability 'atan2 in "
                       "numpy' \\(numpy raised NotImplementedError: no atan2 loop for bool, int8 operands\\)"):
        k(np.zeros(2, bool), np.zeros(2, np.int8), pt.float32)
    assert be.kernels["add"](np.ones(2), np.ones(2), pt.float64).tolist() == [2.0, 2.0]


def test_declared_capabilities(copy_views):
    be = pt.backends.get_backend(copy_views)
    assert set(be.missing_capabilities()) == set(CAPABILITIES)
    assert "nonzero" in be.fallback_ops and "nonzero" not in be.kernels


def test_writes_into_unshared_tensors_and_reads_of_views_work(copy_views):
    x = pt.zeros(2, 3, device=copy_views)
    x.add_(1)
    x.copy_(pt.tensor([1.0, 2.0, 3.0], device=copy_views))
    assert x.tolist() == [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    assert x.t().tolist() == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]] and x[:, 1].tolist() == [2.0, 2.0]
    assert pt.nn.functional.conv2d(pt.ones(1, 1, 3, 3, device=copy_views),
                                   pt.ones(1, 1, 2, 2, device=copy_views)).tolist() == [[[[4.0, 4.0], [4.0, 4.0]]]]


def test_writes_through_views_are_refused_with_a_clear_error(copy_views):
    x = pt.zeros(2, 3, device=copy_views)
    row = x[1]
    with pytest.raises(MissingCapabilityError, match=REFUSED + ".*a view on this backend \\(numpy\\) is a copy"):
        row.add_(1)                       # would not reach x
    with pytest.raises(NotImplementedError, match=REFUSED):
        x.mul_(2)                         # would not reach row
    with pytest.raises(MissingCapabilityError, match=REFUSED):
        x[0] = 5.0
    with pytest.raises(MissingCapabilityError, match="uniform_\\(\\): the 'aacopy' backend lacks"):
        pt.empty(3, 4, device=copy_views).t().uniform_()
    assert x.tolist() == [[0.0] * 3] * 2   # nothing was half written
    del row
    gc.collect()
    x.add_(1)                             # the view is gone: x shares memory with nothing now
    assert x.tolist() == [[1.0] * 3] * 2


def test_composites_that_write_into_part_of_a_buffer_are_refused_not_wrong(copy_views):
    x, w = pt.ones(1, 1, 3, 3, device=copy_views), pt.ones(1, 1, 2, 2, device=copy_views)
    with pytest.raises(MissingCapabilityError, match=REFUSED):
        pt.nn.functional.conv2d(x, w, padding=1)      # pad writes the input into a zero buffer
    g = pt.tensor([[1.0, 2.0], [3.0, 4.0]], device=copy_views, requires_grad=True)
    with pytest.raises(MissingCapabilityError, match=REFUSED):
        g[1].sum().backward()                         # select's backward writes into zeros


def test_data_dependent_shapes_run_on_cpu(copy_views):
    x = pt.tensor([[0.0, 1.5], [2.0, 0.0]], device=copy_views)
    with record_fallbacks() as ops, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # (warned once per op and process)
        nz = x.nonzero()
    assert ops == {"nonzero"}
    assert nz.device.type == copy_views and nz.tolist() == [[0, 1], [1, 0]]
    assert x[x > 1.7].tolist() == [2.0]


def test_conformance_reports_refused_ops_as_unsupported(copy_views):
    entries = [opdb.get(n) for n in ("add", "slice", "conv2d", "nonzero")]
    results = {r.op: r for r in run([copy_views], entries, dtypes=[pt.float32], max_examples=0)}
    assert results["add"].status == PASS
    assert results["nonzero"].status == VIA_FALLBACK
    for op in ("slice", "conv2d"):
        assert results[op].status == UNSUPPORTED, results[op].failures
        assert "lacks the capability 'writes through views'" in results[op].failures[0].message
    assert not [r for r in results.values() if r.status == FAIL]


# ---- the libraries themselves -------------------------------------------------------------
def test_dask_declares_what_it_lacks_and_never_computes_wrong():
    pytest.importorskip("dask")
    import array_api_compat.dask.array as dask_xp
    be = ArrayAPIBackend(dask_xp)
    assert be.capabilities == {"writes through views": False, "data-dependent shapes": False}
    pt.backends.register(be, name="aadask")
    try:
        e = pt.zeros(0, 3, device="aadask")
        assert pt.amax(e, 1).shape == (0,) and pt.amin(e, 1, keepdim=True).shape == (0, 1)
        e.copy_(pt.ones(0, 3))          # (Dask refuses x[...] = y on an empty x)
        entries = [opdb.get(n) for n in ("add", "amax", "_matmul", "view", "conv2d", "nonzero", "copy_")]
        results = {r.op: r.status for r in run(["aadask"], entries, dtypes=[pt.float32], max_examples=0)}
        assert results == {"add": PASS, "amax": PASS, "_matmul": PASS, "view": UNSUPPORTED,
                           "conv2d": UNSUPPORTED, "nonzero": VIA_FALLBACK, "copy_": PASS}
    finally:
        pt.backends.unregister("aadask")


def test_ndonnx_with_a_to_numpy_override():
    ndonnx = pytest.importorskip("ndonnx")
    with pytest.raises(TypeError, match="cannot copy a Array to NumPy.*give ArrayAPIBackend\\(..., to_numpy=f\\)"):
        ArrayAPIBackend(ndonnx).to_numpy(ndonnx.asarray(np.zeros(2)))
    be = ArrayAPIBackend(ndonnx, to_numpy=lambda a: a.unwrap_numpy())
    assert not be.capabilities["writes through views"]
    pt.backends.register(be, name="aandonnx")
    try:
        entries = [opdb.get(n) for n in ("add", "slice")]
        results = {r.op: r.status for r in run(["aandonnx"], entries, dtypes=[pt.float32], max_examples=0)}
        assert results == {"add": PASS, "slice": UNSUPPORTED}
        x = pt.tensor([[1.0, 2.0], [3.0, 4.0]], device="aandonnx")
        idx = pt.tensor([[1, 0], [0, 0]], dtype=pt.int32, device="aandonnx")
        assert x.gather(1, idx).tolist() == [[2.0, 1.0], [3.0, 3.0]]   # ndonnx takes int64 indices only
        nan = float("nan")
        y = pt.tensor([[1.0, nan, 5.0, nan], [-1.0, 2.0, 0.0, 9.0]], device="aandonnx")
        assert y.argmax(1).tolist() == [1, 3] and y.argmin(1).tolist() == [1, 0]   # the first NaN wins
        assert y.argmax().tolist() == 1 and y.argmin(0, keepdim=True).tolist() == [[1, 0, 1, 0]]
        assert "cumprod" in be.fallback_ops and "cumprod" not in be.kernels   # ndonnx's is exp(cumsum(log x))
        with record_fallbacks() as ops, warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            c = pt.tensor([-2.0, 3.0, 0.5], device="aandonnx").cumprod(0)
        assert ops == {"cumprod"}
        assert c.tolist() == [-2.0, -6.0, -3.0]
        # ndonnx's numerics (docs/array_api_backends.md): float64 trigonometry in float32, -0.0 lost
        # by where (and so expm1, log1p, trunc), int8 >> 7 as a division by 2 ** 7, saturating pow/prod
        assert {op for op, what in be.numerics.items() if what.endswith(": runs on cpu")} == {
            "expm1", "sinh", "cosh", "cos", "tan", "asin", "acos", "atan", "pow", "prod"}
        assert {op for op, what in be.numerics.items() if "fixed in the kernel" in what} == {
            "log1p", "trunc", "where", "bitwise_right_shift"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            v = pt.tensor([8.693051764634781, -0.0, -0.725], dtype=pt.float64)
            assert v.to("aandonnx").cos().tolist() == v.cos().tolist()
            assert str(v.to("aandonnx").trunc().tolist()) == "[8.0, -0.0, -0.0]"
            assert str(v.to("aandonnx").log1p()[1:2].tolist()) == "[-0.0]"
            assert (pt.tensor([9, -128], dtype=pt.int8, device="aandonnx") >> 7).tolist() == [0, -1]
            big = pt.tensor([2**62 + 1, 3], device="aandonnx")
            assert big.prod().item() == big.cpu().prod().item() and big.pow(3).tolist() == big.cpu().pow(3).tolist()
        b = pt.tensor([True, False], device="aandonnx")
        with pytest.raises(MissingCapabilityError, match="atan2\\(\\): the 'aandonnx' backend lacks the capability "
                           "'atan2 in ndonnx'"):
            pt.atan2(b, b)
    finally:
        pt.backends.unregister("aandonnx")
