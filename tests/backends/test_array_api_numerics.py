"""ArrayAPIBackend probes a library's numerics when it is made: an op whose results are wrong on
the probe values is repaired in the kernel or runs on cpu, never computed wrong.

The library here is array-api-compat's NumPy with the defects ndonnx showed (float64 cos and sin
computed in float32, -0.0 lost by expm1, log1p, trunc and by where's first branch, a right shift
computed as a floor division by 2 ** n, integer pow through float64, a saturating product), so
the tests need no ndonnx; docs/array_api_backends.md records ndonnx's own run."""
import math
import warnings

import array_api_compat.numpy as compat_numpy
import array_api_strict
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends import ArrayAPIBackend
from plugtorch.conformance import FAIL, PASS, VIA_FALLBACK, opdb, run
from plugtorch.dispatch.dispatcher import record_fallbacks

CPU = "wrong float64 results on the probe values: runs on cpu"
ZERO_SIGN = "fixed in the kernel (the sign of a zero result restored from the input's)"


class Defective:
    """array-api-compat's NumPy computing some functions as a careless library would."""

    __name__ = "defective"

    def __getattr__(self, name):
        return getattr(compat_numpy, name)

    @staticmethod
    def _in_float32(f):
        def g(x):
            if x.dtype == np.float64:   # (no float64 kernel: through float32, as ndonnx's onnxruntime)
                return f(x.astype(np.float32)).astype(np.float64)
            return f(x)
        return g

    def sin(self, x):
        return self._in_float32(compat_numpy.sin)(x)

    def cos(self, x):
        return self._in_float32(compat_numpy.cos)(x)

    @staticmethod
    def _plus_zero(r):   # -0.0 + 0.0 is +0.0: the sign of a zero result is lost
        return r + r.dtype.type(0) if r.dtype.kind == "f" else r

    def expm1(self, x):
        return self._plus_zero(compat_numpy.expm1(x))

    def log1p(self, x):
        return self._plus_zero(compat_numpy.log1p(x))

    def trunc(self, x):
        return self._plus_zero(compat_numpy.trunc(x))

    def where(self, c, a, b):
        return compat_numpy.where(c, self._plus_zero(a) if hasattr(a, "dtype") else a, b)

    def bitwise_right_shift(self, a, b):
        # a floor division by 2 ** b in a's dtype: int8's 2 ** 7 wraps to -128
        return compat_numpy.floor_divide(a, compat_numpy.pow(compat_numpy.asarray(2, dtype=a.dtype), b))

    def pow(self, a, b):
        if hasattr(a, "dtype") and a.dtype.kind in "iu":   # through float64: int64 edge values lose bits
            return compat_numpy.astype(compat_numpy.pow(compat_numpy.astype(a, np.float64),
                                                        compat_numpy.astype(b, np.float64)), a.dtype)
        return compat_numpy.pow(a, b)

    def prod(self, x, axis=None, keepdims=False, dtype=None):
        r = compat_numpy.prod(compat_numpy.astype(x, np.float64), axis=axis, keepdims=keepdims)
        if dtype is not None and np.dtype(dtype).kind in "iu":   # saturates instead of wrapping
            info = np.iinfo(dtype)
            r = np.clip(r, float(info.min), float(info.max))
        return compat_numpy.astype(r, dtype or x.dtype)


@pytest.fixture(scope="module")
def bad():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        be = ArrayAPIBackend(Defective())
    pt.backends.register(be, name="aabad")
    yield "aabad"
    pt.backends.unregister("aabad")


def test_correct_libraries_are_left_alone():
    for ns in (compat_numpy, array_api_strict):
        be = ArrayAPIBackend(ns)
        assert be.numerics == {} and be.declarations() == []
        assert {"sin", "pow", "prod", "where"} <= set(be.kernels)


def test_the_probes_find_each_defect_and_say_what_was_done(bad):
    be = pt.backends.get_backend(bad)
    assert be.numerics == {
        "sin": CPU, "cos": CPU,
        "expm1": f"wrong float64 results on the probe values: {ZERO_SIGN}",
        "log1p": f"wrong float64 results on the probe values: {ZERO_SIGN}",
        "trunc": f"wrong float64 results on the probe values: {ZERO_SIGN}",
        "where": "wrong float64 results on the probe values: fixed in the kernel (the sign of a zero restored "
                 "from the chosen operand's)",
        "pow": "wrong int64 results on the probe values: runs on cpu",
        "bitwise_right_shift": "wrong int64 results on the probe values: fixed in the kernel (shifts by the "
                               "width less one done in two steps)",
        "prod": "wrong int64 results on the probe values: runs on cpu"}
    for op in ("sin", "cos", "pow", "prod"):
        assert op in be.fallback_ops and op not in be.kernels
    assert "tan" in be.kernels and "tan" not in be.fallback_ops   # (computed right: kept)
    lines = pt.backends.summary().splitlines()
    assert "aabad: sin: " + CPU in lines and "aabad: bitwise_left_shift" not in "\n".join(lines)


def test_repaired_kernels_give_cpu_s_values(bad):
    neg0 = pt.tensor([-0.0, 0.0, -0.7, 1.5], dtype=pt.float64)
    for dtype in (pt.float16, pt.float32, pt.float64):
        x = neg0.to(dtype)
        for f in (pt.expm1, pt.log1p, pt.trunc):
            got, want = f(x.to(bad)).cpu().numpy(), f(x).numpy()
            np.testing.assert_array_equal(got, want)
            assert np.array_equal(np.signbit(got), np.signbit(want)), (f, dtype, got)
        c = pt.tensor([True, False, True, True])
        got = pt.where(c.to(bad), x.to(bad), pt.zeros(4, dtype=dtype, device=bad)).cpu().numpy()
        assert np.signbit(got).tolist() == [True, False, True, False], dtype   # -0.0, 0, -0.7, 1.5
        assert math.copysign(1, pt.where(c.to(bad), -0.0, x.to(bad))[0].item()) == -1.0   # a Python -0.0
    a = pt.tensor([-128, -100, -1, 9, 127], dtype=pt.int8)
    for n in (7, 3):
        assert (a.to(bad) >> n).tolist() == (a >> n).tolist() == ([-1, -1, -1, 0, 0] if n == 7 else [-16, -13, -1, 1, 15])
    assert (a.to(bad) >> pt.tensor([7, 6, 7, 7, 1], dtype=pt.int8, device=bad)).tolist() == [-1, -2, -1, 0, 63]


def test_ops_sent_to_cpu_give_cpu_s_values(bad):
    x = pt.tensor([8.693051764634781, -3.819273126691109, 1e-100], dtype=pt.float64)
    i = pt.tensor([2**62 + 1, 3, -(2**61) - 7], dtype=pt.int64)
    with record_fallbacks() as ops, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert x.to(bad).cos().cpu().tolist() == x.cos().tolist() and x.to(bad).sin().cpu().tolist() == x.sin().tolist()
        assert i.to(bad).pow(3).tolist() == i.pow(3).tolist()
        assert i.to(bad).prod().item() == i.prod().item() == ((2**62 + 1) * 3 * (-(2**61) - 7) + 2**63) % 2**64 - 2**63
        assert x.to(bad, pt.float32).cos().cpu().tolist() == x.float().cos().tolist()   # the whole op goes to cpu
    assert ops == {"cos", "sin", "pow", "prod"}


def test_conformance_finds_no_wrong_numbers(bad):
    names = ("sin", "cos", "expm1", "log1p", "trunc", "where", "pow", "bitwise_right_shift", "prod", "tan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        results = run([bad], [opdb.get(n) for n in names], max_examples=0)
    failed = [f"{r.op} {r.dtype}: {r.failures[0]}" for r in results if r.status == FAIL]
    assert not failed, "\n\n".join(failed[:3])
    status = {(r.op, r.dtype): r.status for r in results}
    assert status[("sin", "float64")] == status[("pow", "int64")] == status[("prod", "int16")] == VIA_FALLBACK
    assert status[("expm1", "float64")] == status[("where", "float16")] == status[("bitwise_right_shift", "int8")] == PASS
    assert status[("tan", "float64")] == PASS
