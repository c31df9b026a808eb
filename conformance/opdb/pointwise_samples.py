"""Hand-picked elementwise samples that are always present, whatever the seed: mixed dtypes
(type promotion inside the kernels), edge values per dtype (overflow thresholds, tiny and
subnormal numbers, signed zeros, inf and nan, integer extremes) and integer zero divisors.

Each ``*_samples(op)`` returns ``ctx -> list[Sample]`` to append to an entry's samples; the
values are fixed per dtype (no hypothesis draw decides whether they appear).

>>> ctx = SampleContext(plugtorch.int8, key="add")      # doctest: +SKIP
>>> [s.name for s in mixed_samples("add")(ctx)][:2]      # doctest: +SKIP
['int8 and int16', 'int16 and int8']
"""
from __future__ import annotations

import itertools
import math

import ml_dtypes
import numpy as np

import plugtorch as pt
from plugtorch.testing import default_tolerances

from ..entry import ErrorInput, Input, Sample

_INF, _NAN = math.inf, math.nan

# Partner dtypes mixed with the dtype under test, tensor with tensor in both orders: the pairs
# PyTorch's promotion treats differently from "the first operand's dtype" (int8 + int16 is
# int16, uint8 + int8 int16, float16 + bfloat16 float32, bool + int the int, int + float the float)
PARTNERS = {
    pt.bool: (pt.uint8, pt.float32),
    pt.uint8: (pt.int8, pt.bool),
    pt.int8: (pt.int16, pt.uint8),
    pt.int16: (pt.int8, pt.float32),
    pt.int32: (pt.int64, pt.float64),
    pt.int64: (pt.int16, pt.float32),
    pt.float16: (pt.bfloat16, pt.int32),
    pt.bfloat16: (pt.float16, pt.int64),
    pt.float32: (pt.float64, pt.int8),
    pt.float64: (pt.float32, pt.bool),
}
# 0-d tensors of another dtype beside a dimensioned one: of the same category they do not
# promote (int8 tensor + 0-d int64 is int8), of a higher one they do (int tensor + 0-d float32
# is float32); each on the device (an array of its own dtype reaches the kernel) and on cpu
# (a device backend receives it as a Python number)
ZERO_DIM = {   # (float32 where the result would take the 0-d dtype: a device may lack float64)
    pt.bool: (pt.int64, pt.float32),
    pt.uint8: (pt.int64, pt.float32),
    pt.int8: (pt.int64, pt.float32),
    pt.int16: (pt.int32, pt.float32),
    pt.int32: (pt.int8, pt.float32),
    pt.int64: (pt.int8, pt.float32),
    pt.float16: (pt.float32, pt.int64),
    pt.bfloat16: (pt.float64, pt.int32),
    pt.float32: (pt.float64, pt.int64),
    pt.float64: (pt.float32, pt.bool),
}
SCALARS = (True, -3, 2.5)   # a Python scalar of each kind (complex is not supported)

DIVISION = ("floor_divide", "remainder", "fmod")
_SHIFTS = ("bitwise_left_shift", "bitwise_right_shift")
_BITWISE = ("bitwise_and", "bitwise_or", "bitwise_xor") + _SHIFTS
_NO_BOOL_RESULT = DIVISION + ("pow",) + _SHIFTS


def _is_float(d):
    return d.is_floating_point


def _kind(v):
    """The dtype of an operand (an Input) or the Python type of a scalar."""
    return v.dtype if isinstance(v, Input) else type(v)


def _result(operands):
    """PyTorch's promoted dtype of the operands (Inputs and Python scalars)."""
    class _T:   # a stand-in with the attributes result_type reads
        def __init__(self, d, ndim):
            self._dtype, self.ndim = d, ndim
    return pt._dtypes.result_type(*(_T(v.dtype, len(v.shape)) if isinstance(v, Input) else v for v in operands))


def allowed(op, operands) -> bool:
    """Whether PyTorch computes ``op`` on these operands (else they belong to the error inputs)."""
    kinds = [_kind(v) for v in operands]
    res = _result(operands)
    if op == "sub" and any(k in (pt.bool, bool) for k in kinds):
        return False
    if op in _NO_BOOL_RESULT and res is pt.bool:
        return False
    if op in _BITWISE and (any(k is float for k in kinds) or res.is_floating_point):
        return False
    if op in _SHIFTS and res is pt.bool:
        return False
    if op == "logaddexp" and (not res.is_floating_point or not all(isinstance(v, Input) for v in operands)):
        return False   # (PyTorch's logaddexp takes tensors only)
    if op == "pow" and res.category == pt._dtypes._INT and any(isinstance(v, int) and v < 0 for v in operands):
        return False   # an integer to a negative Python int power is an error
    return True


# ---- values for one operand ---------------------------------------------------------------
_WIDE = {pt.uint8: (0, 256), pt.int8: (-128, 128), pt.int16: (-3000, 3000), pt.int32: (-100000, 100000),
         pt.int64: (-100000, 100000)}


def operand_values(ctx, op, dtype, shape, role):
    """Host values for operand ``role`` (0, 1, ...) of ``op``: integers across the dtype's range
    (so a kernel computing in the narrower dtype wraps), but non-zero divisors, small powers and
    shift counts below the width."""
    rng = ctx.rng
    shape = tuple(shape)
    if dtype is pt.bool:
        v = rng.integers(0, 2, size=shape).astype(bool)
        return np.ones(shape, bool) if (op in DIVISION and role == 1) else v
    if op in DIVISION + ("div", "true_divide") and role == 1:   # non-zero, either sign
        lo, hi = (1, 30) if not _is_float(dtype) else (0.5, 9.0)
        mag = rng.integers(lo, hi, size=shape) if not _is_float(dtype) else rng.uniform(lo, hi, size=shape)
        sign = np.ones(shape) if dtype is pt.uint8 else rng.choice([-1, 1], size=shape)
        return (mag * sign).astype(dtype.numpy)
    if op == "pow":
        if _is_float(dtype):
            lo, hi = (0.25, 4.0) if role == 0 else (-2.0, 3.0)
            return rng.uniform(lo, hi, size=shape).astype(dtype.numpy)
        lo, hi = (0 if dtype is pt.uint8 else -3, 4) if role == 0 else (0, 4)
        return rng.integers(lo, hi, size=shape).astype(dtype.numpy)
    if op in _SHIFTS and role == 1:
        return rng.integers(0, 8, size=shape).astype(dtype.numpy)
    if _is_float(dtype):
        return rng.uniform(-9.0, 9.0, size=shape).astype(dtype.numpy)
    lo, hi = _WIDE[dtype]
    return rng.integers(lo, hi, size=shape).astype(dtype.numpy)


def _input(ctx, op, dtype, shape, role, layout="contiguous", **kw):
    values = operand_values(ctx, op, dtype, _base_shape(shape, layout), role)
    return Input(values, dtype, layout, tuple(shape), **kw)


def _sample(op, a, b, name, kwargs):
    if op == "pow" and pt.bool in (_kind(a), _kind(b)):
        # no gradients: PyTorch's pow backward computes exponent - 1, which refuses a bool tensor
        for v in (a, b):
            if isinstance(v, Input):
                v.requires_grad = False
    return Sample(a, b, name=name, **kwargs)


def _base_shape(shape, layout):
    return shape[:-2] + (shape[-1], shape[-2]) if layout == "transposed" else shape


def _scalar_for(op, v, role=1):
    """The Python scalar ``v`` adjusted to ``op``'s domain (a non-zero divisor, a small power)."""
    if op in _SHIFTS and role == 1:
        return 3 if v.__class__ is int else v
    return v


# ---- mixed dtypes -------------------------------------------------------------------------
def mixed_samples(op, kwargs=None):
    """Samples whose tensor operands have different dtypes, and Python scalars of each kind.

    For the dtype under test ``d``: ``d`` with each of ``PARTNERS[d]`` in both orders (and
    shapes that broadcast), ``d`` with 0-d tensors of ``ZERO_DIM[d]``, and ``d`` with ``SCALARS``;
    combinations PyTorch refuses (``allowed``) are left to the error inputs.
    """
    kwargs = kwargs or {}

    def gen(ctx):
        d = ctx.dtype
        out = []
        for p in PARTNERS[d]:
            a = _input(ctx, op, d, (2, 3), 0)
            b = _input(ctx, op, p, (2, 3), 1)
            if allowed(op, [a, b]):
                out.append(_sample(op, a, b, f"{d.name} and {p.name}", kwargs))
            a = _input(ctx, op, p, (3,), 0)
            b = _input(ctx, op, d, (2, 3), 1, layout="transposed")
            if allowed(op, [a, b]):
                out.append(_sample(op, a, b, f"{p.name} and {d.name}", kwargs))
        for z in ZERO_DIM[d]:
            for on_cpu in (False, True):
                a = _input(ctx, op, d, (2, 3), 0)
                b = _input(ctx, op, z, (), 1, requires_grad=False, on_cpu=on_cpu)
                where = " on cpu" if on_cpu else ""
                if allowed(op, [a, b]):
                    out.append(_sample(op, a, b, f"{d.name} and 0-d {z.name}{where}", kwargs))
            a = _input(ctx, op, z, (), 0, requires_grad=False)
            b = _input(ctx, op, d, (2, 3), 1)
            if allowed(op, [a, b]):
                out.append(_sample(op, a, b, f"0-d {z.name} and {d.name}", kwargs))
        for s in SCALARS:
            a = _input(ctx, op, d, (2, 3), 0)
            v = _scalar_for(op, s)
            if allowed(op, [a, v]):
                out.append(_sample(op, a, v, f"{d.name} and Python {type(s).__name__}", kwargs))
        return out
    return gen


def where_mixed_samples(ctx):
    """where(condition, a, b) with a and b of different dtypes, 0-d tensors and Python scalars."""
    out = []
    for s in mixed_samples("where")(ctx):
        shapes = [tuple(i.shape) for i in s.args if isinstance(i, Input)]
        cond = Input(ctx.rng.integers(0, 2, size=(2, 3)).astype(bool), pt.bool, requires_grad=False)
        if all(len(sh) == 0 for sh in shapes):
            cond = Input(np.array(True), pt.bool, requires_grad=False)
        out.append(Sample(cond, *s.args, name=s.name))
    return out


def clamp_mixed_samples(ctx):
    """clamp with tensor bounds of other dtypes (the result promotes over all three operands)."""
    d = ctx.dtype
    out = []
    for p in PARTNERS[d] + ZERO_DIM[d]:
        if p is pt.bool:
            continue
        shape = (3,) if p in PARTNERS[d] else ()
        lo = Input(_bounds(ctx, p, shape, low=True), p, requires_grad=False)
        hi = Input(_bounds(ctx, p, shape, low=False), p, requires_grad=False)
        x = _input(ctx, "clamp", d, (2, 3), 0)
        out.append(Sample(x, lo, hi, name=f"{d.name} clamped to {p.name} bounds"))
        out.append(Sample(x, min=lo, name=f"{d.name}, min of {p.name}"))
    out.append(Sample(_input(ctx, "clamp", d, (2, 3), 0), -2.5, 3.5, name="Python float bounds"))
    return out


def _bounds(ctx, dtype, shape, low):
    if _is_float(dtype):
        return ctx.rng.uniform(-6, 0, size=shape).astype(dtype.numpy) if low else \
            ctx.rng.uniform(0, 6, size=shape).astype(dtype.numpy)
    lo, hi = ((0, 3) if low else (3, 9)) if dtype is pt.uint8 else ((-60, 0) if low else (0, 60))
    return ctx.rng.integers(lo, hi, size=shape).astype(dtype.numpy)


def same_dtype_required(op, message, *extra):
    """Error inputs for ops that refuse mixed dtypes (lerp, isclose): RuntimeError ``message``;
    ``extra`` arguments follow the two tensors."""
    def gen(ctx):
        d = ctx.dtype
        a, b = _input(ctx, op, d, (2, 3), 0), _input(ctx, op, PARTNERS[d][0], (2, 3), 1)
        return [ErrorInput(Sample(a, b, *extra), RuntimeError, message)]
    return gen


# ---- integer division by zero -------------------------------------------------------------
def zero_divisor_errors(op):
    """Integer ``op`` by zero raises RuntimeError("ZeroDivisionError") on cpu (as PyTorch): a
    tensor divisor with one zero among other values, a 0-d zero (on the device and on cpu), a
    broadcast zero, a Python 0 and False, a divisor of another integer dtype, a scalar dividend."""
    def gen(ctx):
        d = ctx.dtype
        if _is_float(d) or d is pt.bool:
            return []
        match = "ZeroDivisionError"
        x = Input(np.array([[7, 5, 3], [100, 2, 9]], dtype=d.numpy), d, requires_grad=False)
        one_zero = Input(np.array([[3, 2, 1], [5, 0, 7]], dtype=d.numpy), d, requires_grad=False)
        row_zero = Input(np.array([[4], [0]], dtype=d.numpy), d, layout="expanded", shape=(2, 3), requires_grad=False)
        other = pt.int16 if d is not pt.int16 else pt.int32
        mixed = Input(np.array([1, 0, 3], dtype=other.numpy), other, requires_grad=False)
        samples = [Sample(x, one_zero), Sample(x, row_zero), Sample(x, Input(np.array(0, d.numpy), d)),
                   Sample(x, Input(np.array(0, d.numpy), d, on_cpu=True)), Sample(x, 0), Sample(x, False),
                   Sample(x, mixed), Sample(mixed, Input(np.zeros((2, 3), d.numpy), d)),
                   Sample(9, one_zero)]
        return [ErrorInput(s, RuntimeError, match) for s in samples]
    return gen


# ---- edge values --------------------------------------------------------------------------
def edge_values(dtype) -> list:
    """Values at the edges of ``dtype``: for floats signed zeros, inf, nan, the smallest normal
    and subnormal numbers, eps, halfway and -0.4 (rounding to -0.0), and the arguments where
    exp, exp2, sinh/cosh and squares overflow or underflow; for integers the extremes."""
    if not _is_float(dtype):
        if dtype is pt.bool:
            return [False, True]
        info = pt.iinfo(dtype)
        return sorted({int(info.min), int(info.min) + 1, -2, -1, 0, 1, 2, int(info.max) - 1, int(info.max)}
                      - ({-2, -1} if dtype is pt.uint8 else set()))
    fi = ml_dtypes.finfo(dtype.numpy)
    big, tiny, sub, eps = float(fi.max), float(fi.tiny), float(fi.smallest_subnormal), float(fi.eps)
    ln_max, log2_max = math.log(big), math.log2(big)
    v = [0.0, -0.0, _INF, -_INF, _NAN, tiny, -tiny, sub, -sub, 4 * sub, eps, -eps, 1e-3, -1e-3,
         0.4, -0.4, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 1.0 - eps, -1.0, 1.0,
         ln_max - 0.01, ln_max + 0.01, -ln_max, math.log(sub), math.log(sub) - 1,
         log2_max - 0.01, log2_max + 0.01, math.log2(sub),
         math.sqrt(big) * 0.99, math.sqrt(big) * 1.01, 12.0, -12.0, 20.0, -20.0, 50.0, -50.0, 400.0, -400.0,
         big, -big]
    return v


def edge_input(dtype, values=None, domain=None) -> Input:
    """``values`` (default ``edge_values``) as an Input; ``domain`` (lo, hi) keeps only values
    inside it (plus inf, nan and the signed zeros)."""
    values = edge_values(dtype) if values is None else values
    if not _is_float(dtype):   # (int64's extremes do not survive a trip through float64)
        return Input(np.array(values, dtype=dtype.numpy), dtype, requires_grad=False)
    v = np.array(values, dtype=np.float64)
    if domain is not None:
        lo, hi = domain
        v = v[~np.isfinite(v) | (v == 0) | ((v >= lo) & (v <= hi))]
    with np.errstate(over="ignore"):
        return Input(v.astype(dtype.numpy), dtype, requires_grad=False)


# Small arguments where f(x) is about x (or 2x/sqrt(pi)): expm1, log1p, sin, tanh ... exist to
# keep these accurate. They are compared relatively (atol 0): with the default atol (1e-5 in
# float32) an expm1 computed as exp(x) - 1, whose result for x = 1e-8 is 0, would pass.
TINY = {pt.float16: [0.01, -3e-3, 1e-3, -2.5e-4, 1e-4, 7e-5],
        pt.bfloat16: [0.01, -3e-3, 1e-4, -2.5e-6, 1e-10, -1e-30],
        pt.float32: [0.01, -3e-3, 1e-4, -2.5e-6, 1e-8, -7e-12, 1e-20, -3e-30, 2e-37],
        pt.float64: [0.01, -3e-3, 1e-4, -2.5e-6, 1e-8, -7e-12, 1e-20, -3e-30, 1e-100, -1e-300]}


def tiny_unary_samples(domain=None):
    """Tiny arguments, compared relatively (see ``TINY``); float dtypes only."""
    def gen(ctx):
        if ctx.dtype not in TINY:
            return []
        values = [v for v in TINY[ctx.dtype] if domain is None or domain[0] <= v <= domain[1]]
        rtol = default_tolerances(ctx.dtype)[0]
        return [Sample(edge_input(ctx.dtype, values), name="tiny values, compared relatively",
                       forward_tol={ctx.dtype: (rtol, 0.0)})]
    return gen


def edge_unary_samples(domain=None, kwargs=None):
    """One sample holding every edge value of the dtype (always present, whatever the seed)."""
    kwargs = kwargs or {}
    return lambda ctx: [Sample(edge_input(ctx.dtype, domain=domain), name="edge values", **kwargs)]


def edge_pair_samples(op, exclude_zero_ties=False):
    """Every pair of a small set of edge values (signed zeros, +-1, halves, inf, nan) as two
    operands, for floats; integer extremes against each other for integers (non-zero divisors
    for the division ops). ``exclude_zero_ties`` drops 0.0 against -0.0: PyTorch's maximum and
    minimum return either zero there (its vectorised and scalar loops differ)."""
    def gen(ctx):
        d = ctx.dtype
        if _is_float(d):
            e = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, _INF, -_INF, _NAN]
            if op == "pow":
                e += [2.0, -2.0, 0.25]
        elif d is pt.bool:
            e = [False, True]
        else:
            e = edge_values(d)
        pairs = list(itertools.product(e, e))
        if op in DIVISION and not _is_float(d):
            pairs = [(a, b) for a, b in pairs if b != 0]
        if op in _SHIFTS:
            pairs = [(a, b % 8) for a, b in pairs]
        if op == "pow" and not _is_float(d):
            pairs = [(a, b % 4) for a, b in pairs]   # integer powers overflow anyway; keep them cheap
        if exclude_zero_ties:
            pairs = [(a, b) for a, b in pairs if not (a == 0 and b == 0 and math.copysign(1, a) != math.copysign(1, b))]
        if not pairs:
            return []
        a = edge_input(d, [p[0] for p in pairs])
        b = edge_input(d, [p[1] for p in pairs])
        return [Sample(a, b, name="edge value pairs")]
    return gen


def edge_scalar_samples(op, scalars):
    """The dtype's edge values with each Python scalar of ``scalars`` as the second operand
    (pow's 0.5 and -0.5 are sqrt and rsqrt to PyTorch: sqrt(-0.0) is -0.0, not pow's 0.0)."""
    def gen(ctx):
        x = edge_input(ctx.dtype)
        return [Sample(x, v, name=f"edge values, Python {v!r}") for v in scalars if allowed(op, [x, v])]
    return gen
