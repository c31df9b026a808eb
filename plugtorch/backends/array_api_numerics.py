"""A library's numerics, probed against the cpu reference when ArrayAPIBackend is made.

The standard fixes which functions a library has, not how well they compute: ndonnx (on
onnxruntime) computes float64 cos in float32, loses the sign of -0.0 in ``where`` (and so in
expm1, log1p and trunc), shifts int8 right by 7 as a floor division by 2**7 (which wraps) and
saturates integer products. So each op below runs once, on a few values chosen to show those
defects (signed zeros, tiny and near-overflow arguments, integer edge values), through the
backend's own kernel and through cpu's; where they disagree the backend either repairs the
kernel cheaply (``make_fixes``: the repaired kernel must then pass the probe) or runs the op on
cpu. ``probe_numerics`` returns what it decided, per op, for ``ArrayAPIBackend.numerics``.
"""
from __future__ import annotations

import math

import warnings

import numpy as np

from plugtorch import _dtypes
from plugtorch._dtypes import _FLOAT

f16, f32, f64 = _dtypes.float16, _dtypes.float32, _dtypes.float64
INTS = (_dtypes.uint8, _dtypes.int8, _dtypes.int16, _dtypes.int32, _dtypes.int64)
RTOL = {f16: 1e-3, f32: 1e-6, f64: 1e-10}   # float32 arithmetic in a float64 op is ~1e-8 off

_TINY = {f32: 1e-30, f64: 1e-100}
_BIG = {f32: 88.0, f64: 709.0}    # just below exp's overflow


def _general(dt):
    return [-0.0, 0.0, _TINY[dt], -2.5e-6, 0.3, -0.7, 3.8192731, 8.693051764634781, -22.5]


def _positive(dt):
    return [-0.0, 0.0, _TINY[dt], 2.5e-6, 0.3, 0.7, 3.8192731, 8.693051764634781, 1e30]


UNARY_VALUES = {
    "exp": lambda dt: _general(dt) + [_BIG[dt]],
    "expm1": lambda dt: _general(dt) + [_BIG[dt]],
    "sinh": lambda dt: _general(dt) + [_BIG[dt]],
    "cosh": lambda dt: _general(dt) + [_BIG[dt]],
    "log": _positive, "log2": _positive, "log10": _positive, "sqrt": _positive,
    "log1p": lambda dt: [-0.0, 0.0, _TINY[dt], -2.5e-6, 0.3, -0.7, 3.8192731, 1e30],
    "sin": _general, "cos": _general, "tan": _general, "atan": _general, "tanh": _general,
    "asin": lambda dt: [-0.0, 0.0, _TINY[dt], -2.5e-6, -0.003, 0.3, -0.7, 0.99, -1.0, 1.0],
    "acos": lambda dt: [-0.0, 0.0, _TINY[dt], -2.5e-6, -0.003, 0.3, -0.7, 0.99, -1.0, 1.0],
}
ROUNDING_VALUES = [-0.0, 0.0, -0.725, 0.3, -1.5, 2.5, -3.49, 1e4]
# f(x) has the sign of x for every x: a lost sign of zero is repaired from x
SIGN_OF_X = frozenset({"expm1", "log1p", "sqrt", "asin", "atan", "sinh", "tanh", "trunc"})


def _int_edges(dt):
    info = np.iinfo(dt.numpy)
    vals = [info.min, info.min + 1, -100, -3, -1, 0, 1, 2, 3, 9, 100, info.max - 1, info.max]
    return [v for v in vals if info.min <= v <= info.max]


def _pairs(xs, ys, dt):
    a, b = np.meshgrid(np.array(xs, dt.numpy), np.array(ys, dt.numpy))
    return a.ravel(), b.ravel()


def probes() -> dict:
    """Each op's probes: (dtype, the kernel's arguments with arrays on the host), float64 first."""
    out: dict = {}
    for op, values in UNARY_VALUES.items():
        # float64 for precision (a library may compute it in float32), float32 for the signs of
        # zeros (float16 computes in float32)
        dts = (f64, f32) if op in SIGN_OF_X else (f64,)
        out[op] = [(dt, (np.array(values(dt), dt.numpy), dt)) for dt in dts]
    out["trunc"] = [(dt, (np.array(ROUNDING_VALUES, dt.numpy), dt)) for dt in (f64, f32, f16)]
    c = np.array([True, False, True, False, True])
    out["where"] = [(dt, (c, np.array([-0.0, -0.0, 0.0, 1.5, np.inf], dt.numpy),
                          np.array([0.0, -0.0, -0.0, np.nan, -0.0], dt.numpy), dt)) for dt in (f64, f32, f16)]
    out["pow"], out["bitwise_right_shift"], out["prod"] = [], [], []
    for dt in INTS[::-1]:
        bits = dt.itemsize * 8
        out["pow"].append((dt, (*_pairs(_int_edges(dt), [0, 1, 2, 3, 5, bits - 1], dt), dt)))
        if dt.is_signed:   # (a right shift of a negative number fills with ones)
            out["bitwise_right_shift"].append((dt, (*_pairs(_int_edges(dt), [1, 3, bits - 1], dt), dt)))
        # products that wrap around: each edge value times 3
        x = np.array([_int_edges(dt), [3] * len(_int_edges(dt))], dt.numpy)
        out["prod"].append((dt, (x, (0,), False, dt)))
    return out


def same(got, want, dt) -> bool:
    """``got`` equals ``want`` as the conformance suite compares: exact for integers and for zeros
    (their sign), infinities and NaN, within ``RTOL`` (relatively, even for tiny values) else."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    if dt.category != _FLOAT:
        return bool(np.array_equal(got, want))
    g, w = got.astype(np.float64), want.astype(np.float64)
    if not np.array_equal(np.isnan(g), np.isnan(w)):
        return False
    g, w = g[~np.isnan(w)], w[~np.isnan(w)]
    exact = (w == 0) | np.isinf(w)
    if not (np.array_equal(g[exact], w[exact]) and np.array_equal(np.signbit(g[exact]), np.signbit(w[exact]))):
        return False
    return bool(np.all(np.abs(g[~exact] - w[~exact]) <= RTOL[dt] * np.abs(w[~exact])))


def make_fixes(xp, D, array_type):
    """Cheap repairs of a kernel, by op: each takes the kernel and returns the repaired one
    (``D`` maps plugtorch dtypes to the library's)."""

    def neg_zero(v):   # -0.0 where v is -0.0 (1 / -0.0 is -inf): libraries may lack signbit
        if not isinstance(v, array_type):
            return xp.asarray(v == 0 and math.copysign(1.0, v) < 0)
        if not xp.isdtype(v.dtype, "real floating"):
            return xp.zeros(v.shape, dtype=xp.bool)
        zero = xp.zeros((), dtype=v.dtype)
        return xp.logical_and(xp.equal(v, zero), xp.less(xp.divide(xp.ones((), dtype=v.dtype), v), zero))

    def with_zero_sign(r, negative):
        # r + 0 turns -0.0 into +0.0 and leaves every other value as it is; times -1 where the
        # zero must be negative (arithmetic keeps signs where a library's where may not)
        zero, one = xp.zeros((), dtype=r.dtype), xp.ones((), dtype=r.dtype)
        flip = xp.logical_and(xp.equal(r, zero), negative)
        r = xp.multiply(xp.add(r, zero), xp.where(flip, -one, one))
        return r if isinstance(r, array_type) else xp.asarray(r)   # (NumPy's 0-d results are scalars)

    def sign_of_x(kernel):
        def k(x, dtype):
            r = kernel(x, dtype)
            if dtype.category != _FLOAT or not xp.isdtype(x.dtype, "real floating"):
                return r   # (an integer or bool input gives no -0.0)
            return with_zero_sign(r, xp.logical_or(neg_zero(x), xp.less(x, xp.zeros((), dtype=x.dtype))))
        return k

    def where_keeping_zero_signs(kernel):
        def k(c, a, b, dtype):
            r = kernel(c, a, b, dtype)
            if dtype.category != _FLOAT:
                return r
            c = c if isinstance(c, array_type) else xp.asarray(bool(c))
            return with_zero_sign(r, xp.where(c, neg_zero(a), neg_zero(b)))   # (a where of bools)
        return k

    def shift_in_two_steps(kernel):
        # x >> n as (x >> n // 2) >> (n - n // 2): no step shifts by the width less one, whose
        # 2 ** n a library computing shifts by division cannot hold (int8: 2 ** 7 wraps to -128)
        def k(a, b, dtype):
            if dtype.category == _FLOAT or dtype is _dtypes.bool:
                return kernel(a, b, dtype)
            if isinstance(b, array_type):
                b = b if b.dtype == D[dtype] else xp.astype(b, D[dtype])
                h = xp.floor_divide(b, xp.asarray(2, dtype=b.dtype))
                rest = xp.subtract(b, h)
            else:
                h, rest = int(b) // 2, int(b) - int(b) // 2
            return kernel(kernel(a, h, dtype), rest, dtype)
        return k

    fixes = {op: (sign_of_x, "the sign of a zero result restored from the input's")
             for op in SIGN_OF_X}
    fixes["where"] = (where_keeping_zero_signs, "the sign of a zero restored from the chosen operand's")
    fixes["bitwise_right_shift"] = (shift_in_two_steps, "shifts by the width less one done in two steps")
    return fixes


def probe_numerics(backend, kernels, cpu_kernels, fixes) -> tuple[dict, dict]:
    """Probe each op the backend has a kernel for; returns (kernels to replace, report):
    ``report[op]`` says what was found and done (a repaired kernel, or the op runs on cpu, where
    its replacement is None). An op's probes stop at the first dtype that fails (cpu's fallback
    takes a whole op), and a repair must pass that probe (the repairs are the same arithmetic in
    every dtype; each probe costs a library like ndonnx milliseconds)."""
    # the probe values include zeros, infinities and overflowing arguments: their floating-point
    # warnings (log(0), exp(1000)) belong to the probe, not to the user who made the backend
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _probe_all(backend, kernels, cpu_kernels, fixes)


def _probe_all(backend, kernels, cpu_kernels, fixes):
    replace, report = {}, {}
    for op, cases in probes().items():
        if op not in kernels:
            continue
        cases = [(dt, args) for dt, args in cases if dt in backend._dtypes]
        bad = next((dt for dt, args in cases if not _passes(backend, kernels[op], cpu_kernels[op], dt, args)), None)
        if bad is None:
            continue
        wrong = f"wrong {bad.name} results on the probe values"
        fix = fixes.get(op)
        if fix is not None:
            fixed = fix[0](kernels[op])
            if _passes(backend, fixed, cpu_kernels[op], bad, dict(cases)[bad]):
                replace[op] = fixed
                report[op] = f"{wrong}: fixed in the kernel ({fix[1]})"
                continue
        replace[op] = None
        report[op] = f"{wrong}: runs on cpu"
    return replace, report


def _passes(backend, kernel, cpu_kernel, dt, args) -> bool:
    want = np.asarray(cpu_kernel(*args))
    try:
        got = backend.to_numpy(kernel(*[backend.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]))
    except Exception:   # noqa: BLE001  (a probe the library cannot run at all is a failed probe)
        return False
    return same(np.asarray(got), want, dt)
