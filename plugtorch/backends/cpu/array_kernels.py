"""Kernels for every core op, written once against an array namespace ``xp``.

The cpu backend calls ``make_kernels(numpy)``; the cuda backend calls ``make_kernels(cupy)``
and overrides the few kernels where CuPy differs. Each kernel matches PyTorch's definition
(rounding, integer division, nan propagation, overflow of small ints), since cpu is the
reference every other backend is compared with.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from plugtorch import _dtypes

# NumPy warns about inf/nan results (log(0), 0/0); PyTorch returns them silently. The filter
# matches warnings raised from this module only, and costs nothing when none is raised.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=__name__)

_LOW_PRECISION = (_dtypes.float16, _dtypes.bfloat16)


def _scalar_like(v, d) -> bool:
    """A Python number, or a 0-d array of a dtype other than ``d``: what PyTorch takes as a scalar."""
    shape = getattr(v, "shape", None)
    return shape is None or (shape == () and v.dtype != d)


def memory_root(a, ndarray=np.ndarray):
    """The outermost array whose memory ``a`` views. NumPy's as_strided (behind expand, unfold
    and as_strided views) leaves a plain object between a view and its array, so walk through it.

    >>> x = np.arange(4.)
    >>> memory_root(np.lib.stride_tricks.as_strided(x[1:], (2, 2), (8, 0))) is x
    True
    """
    root, b = a, a.base
    while b is not None:
        if isinstance(b, ndarray):
            root = b
        b = getattr(b, "base", None)
    return root


_BF16 = np.dtype(_dtypes.bfloat16.numpy)
_F16, _F32 = np.dtype(np.float16), np.dtype(np.float32)


def cast(x, d):
    """``x.astype(d)``; bfloat16 to an integer goes through float32, as PyTorch's (and NumPy's for
    float32) conversion: ml_dtypes' own gives 0 for nan, inf and out-of-range values, and -1 -> uint8 0.

    >>> cast(np.array([-1.0, np.nan], _BF16), np.dtype(np.int32)).tolist()
    [-1, -2147483648]
    """
    if x.dtype == _BF16 and d.kind in "iu":
        with np.errstate(invalid="ignore"):
            return x.astype(np.float32).astype(d)
    if d in _F8 or x.dtype in _F8:
        return _dtypes.host_cast(x, d)   # PyTorch's float8 conversions (e4m3fn saturates)
    return x.astype(d)


_F8 = frozenset(np.dtype(t.numpy) for t in _dtypes.float8_dtypes)


def make_kernels(xp, *, erf=None, rng_factory=None, add_at=None, multiply_at=None, maximum_at=None,
                 minimum_at=None, pairs=None) -> dict:
    """The kernel table for array namespace ``xp`` (NumPy or CuPy).

    ``add_at(r, key, values)`` / ``multiply_at`` / ``maximum_at`` / ``minimum_at`` do unbuffered
    in-place accumulation (``np.add.at``); namespaces other than NumPy pass their own. ``pairs``, a dict,
    receives the kernels that run two ops' calls at once ((first op, second op) -> kernel; see
    ``Backend.fuse_pair``).
    """
    ndarray = xp.ndarray
    asarray = xp.asarray
    K = {}

    def arr(r):
        return r if r.__class__ is ndarray else asarray(r)

    # ---- unary ---------------------------------------------------------------------------
    erf_impl = [erf]

    def _scipy_erf(x):
        # imported on first use: scipy.special takes a quarter of a second to import
        from scipy.special import erf as scipy_erf
        erf_impl[0] = scipy_erf
        return scipy_erf(x)

    if erf is None:
        erf_impl[0] = _scipy_erf

    # rsqrt and sigmoid of float16/bfloat16 compute in float32 and round once, as PyTorch's do:
    # step by step in float16, sigmoid(-11.1) is 0 (exp(11.1) overflows) instead of 1.5e-5
    _half = tuple(d.numpy for d in _LOW_PRECISION)

    def _rsqrt(x, dtype=None):
        if dtype in _half:
            return xp.reciprocal(xp.sqrt(x.astype(np.float32))).astype(dtype)
        # (1 / z, not NumPy's reciprocal: rsqrt(0j) is PyTorch's inf+nanj, reciprocal gives nan+nanj)
        return xp.divide(1, xp.sqrt(x, dtype=dtype), dtype=dtype)

    def _sigmoid(x, dtype=None):
        # 1 / (1 + exp(-x)) overflows harmlessly to 0 for very negative x
        if dtype in _half:
            return _sigmoid(x.astype(np.float32), np.dtype(np.float32)).astype(dtype)
        one = xp.asarray(1, dtype=dtype)
        return xp.divide(one, xp.add(one, xp.exp(xp.negative(x, dtype=dtype))), dtype=dtype)

    def _erf(x, dtype=None):
        return erf_impl[0](x.astype(np.float64 if dtype == np.float64 else np.float32)).astype(dtype)

    def _sign(x, dtype=None):
        if x.dtype == np.bool_:
            return x.copy()
        if x.dtype.kind in "iu":
            return xp.sign(x)
        # PyTorch's (0 < x) - (x < 0): sign(nan) and sign(-0.0) are +0, not NumPy's nan and -0
        return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)

    def _round(x, dtype=None):
        return xp.rint(x) if x.dtype.kind == "f" or x.dtype == _dtypes.bfloat16.numpy else x.copy()

    def _int_identity(f):
        def k(x, dtype=None):
            if x.dtype.kind in "iub":
                return x.copy()
            return f(x)
        return k

    def _reciprocal(x, dtype=None):
        return xp.divide(1, x, dtype=dtype)

    def _logical_not(x, dtype=None):
        return xp.logical_not(x)

    def _bitwise_not(x, dtype=None):
        return xp.invert(x)

    unary = {
        "neg": xp.negative, "abs": xp.absolute, "sign": _sign,
        "exp": xp.exp, "exp2": xp.exp2, "expm1": xp.expm1, "log": xp.log, "log2": xp.log2,
        "log10": xp.log10, "log1p": xp.log1p, "sqrt": xp.sqrt, "rsqrt": _rsqrt,
        "sin": xp.sin, "cos": xp.cos, "tan": xp.tan, "asin": xp.arcsin, "acos": xp.arccos,
        "atan": xp.arctan, "sinh": xp.sinh, "cosh": xp.cosh, "tanh": xp.tanh,
        "sigmoid": _sigmoid, "erf": _erf, "reciprocal": _reciprocal,
        "floor": _int_identity(xp.floor), "ceil": _int_identity(xp.ceil),
        "trunc": _int_identity(xp.trunc), "round": _round,
        "isnan": xp.isnan, "isinf": xp.isinf, "isfinite": xp.isfinite,
        "logical_not": _logical_not, "bitwise_not": _bitwise_not,
    }
    float_valued = {"exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
                    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
                    "sigmoid", "erf", "reciprocal"}
    ufuncs_with_dtype = {"exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt",
                         "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh"}

    for name, f in unary.items():
        if name in ufuncs_with_dtype:
            def k(x, dtype, _f=f):
                d = dtype.numpy
                if x.dtype != d:
                    x = x.astype(d)
                return arr(_f(x))
        elif name in float_valued:
            def k(x, dtype, _f=f):
                d = dtype.numpy
                if x.dtype != d:
                    x = x.astype(d)
                return arr(_f(x, dtype=d)).astype(d, copy=False)
        elif name in ("isnan", "isinf", "isfinite", "logical_not"):
            def k(x, dtype, _f=f):
                return arr(_f(x))
        else:
            def k(x, dtype, _f=f):
                r = arr(_f(x))
                return r if r.dtype == dtype.numpy else r.astype(dtype.numpy)
        K[name] = k

    # ---- binary --------------------------------------------------------------------------
    def binary(f, check_zero=False, name="", natural=False, opmath_scalar=False):
        # opmath_scalar (mul, div): PyTorch's float16/bfloat16 kernels take a scalar operand as a
        # float32 (not first rounded to the half type) and round the result once; other ops
        # round the scalar to the tensor's dtype first (bfloat16 -54.5 * 0.1 is -5.4375)
        def general(a, b, dtype):
            d = dtype.numpy
            if check_zero and d.kind in "iu":
                # the divisor as the kernel sees it: a wider 0-d divisor wraps to the dtype first
                # (uint8 % tensor(256) divides by 0, as in PyTorch)
                if hasattr(b, "dtype") and b.dtype != d:
                    b = b.astype(d)
                if bool(xp.any(xp.asarray(b) == 0)):
                    raise RuntimeError(f"ZeroDivisionError: integer {name} by zero")
            # (a 0-d tensor as the first operand is cast to the half type first: tensor(70000) * h is inf)
            if opmath_scalar and dtype in _LOW_PRECISION and (not hasattr(a, "shape") or _scalar_like(b, d)):
                return arr(_in_float32(f, a, b).astype(d))
            try:
                return arr(f(a, b, dtype=d))
            except (OverflowError, TypeError):
                # a Python int outside the dtype's range wraps, as in PyTorch; ml_dtypes' bfloat16
                # ufuncs reject Python scalars (TypeError), so scalars become arrays of the dtype
                # (and they reject arrays of another dtype, e.g. bfloat16 + int64): cast both
                a = xp.asarray(a).astype(d) if not hasattr(a, "dtype") else a.astype(d, copy=False)
                b = xp.asarray(np.array(b).astype(d)) if not hasattr(b, "dtype") else b.astype(d, copy=False)
                return arr(f(a, b, dtype=d))

        if not natural:
            return general

        # f is a plain ufunc: when the operands already have the result dtype, NumPy's own
        # promotion gives it too, and the slower dtype= argument can be skipped
        def k(a, b, dtype):
            d = dtype.numpy
            if a.__class__ is ndarray and a.dtype is d and (b.dtype is d if b.__class__ is ndarray else
                                                            not opmath_scalar or dtype not in _LOW_PRECISION):
                try:
                    r = f(a, b)
                except OverflowError:
                    return general(a, b, dtype)
                if r.__class__ is ndarray and r.dtype is d:
                    return r
            return general(a, b, dtype)
        return k

    def _cast_both(a, b, d):
        if hasattr(a, "dtype") and a.dtype != d:
            a = a.astype(d)
        if hasattr(b, "dtype") and b.dtype != d:
            b = b.astype(d)
        return a, b

    def _floor_divide(a, b, dtype):
        if dtype.kind in "iu":
            return xp.floor_divide(a, b, dtype=dtype)
        # PyTorch's div_floor_floating (Python's float //): the floor of the exact quotient, found
        # from fmod; floor(a / b) is off by one wherever a / b rounds up to an integer (1.0 // 0.1
        # is 9). float16 and bfloat16 are computed in float64 and rounded once.
        a, b = _cast_both(a, b, dtype)
        w = dtype if dtype.itemsize >= 4 else np.float64
        a, b = xp.asarray(a, dtype=w), xp.asarray(b, dtype=w)
        with np.errstate(divide="ignore", invalid="ignore"):
            m = xp.fmod(a, b)
            d = (a - m) / b
            d = xp.where((m != 0) & ((b < 0) != (m < 0)), d - 1, d)
            f = xp.floor(d)
            f = xp.where(d - f > 0.5, f + 1, f)
            f = xp.where(d == 0, xp.copysign(xp.zeros_like(d), a / b), f)
            f = xp.where(b == 0, a / b, f)
        return f.astype(dtype, copy=False)

    def _pow(a, b, dtype):
        if dtype.kind == "b":
            return xp.logical_or(xp.logical_not(xp.asarray(b, dtype=bool)), xp.asarray(a, dtype=bool)) & True
        if dtype.kind in "iu":
            # through int64 (exact modulo 2^bits, so small ints wrap as PyTorch's do; CuPy's
            # int8 power loop is wrong). A negative exponent (meta refuses a negative Python
            # int): PyTorch's integer pow gives 1 and -1 their powers and every other base 0
            # Both operands in the result dtype first, as PyTorch's: an int8 exponent -3 of a uint8
            # base is 253 there
            a, b = (xp.asarray(v).astype(dtype).astype(np.int64) for v in (a, b))
            neg = b < 0
            r = xp.power(a, xp.where(neg, 0, b))
            r = xp.where(neg & (a != 1), xp.where((a == -1) & (b % 2 != 0), -1, 0), r)
            r = xp.where(neg & (a == -1) & (b % 2 == 0), 1, r)
            return r.astype(dtype)
        if b.__class__ is float and (b == 0.5 or b == -0.5):
            # PyTorch's pow(tensor, 0.5) is sqrt and pow(tensor, -0.5) rsqrt: sqrt(-0.0) is -0.0 and
            # sqrt(-inf) nan, where C's pow gives +0.0 and inf (and NumPy's pow agrees for -0.5 only)
            r = xp.sqrt(xp.asarray(a).astype(dtype, copy=False))
            return r if b > 0 else xp.reciprocal(r)
        if b.__class__ is ndarray and b.ndim == 0 and getattr(a, "ndim", 0):
            # a 0-d exponent is a tensor to PyTorch (pow, not sqrt, for 0.5); NumPy would take it
            # for a scalar and compute x ** 0.5 as sqrt(x)
            b = xp.broadcast_to(b, a.shape)
        return xp.power(a, b, dtype=dtype)

    def _remainder(a, b, dtype):
        if dtype.kind in "iu":
            return xp.remainder(a, b, dtype=dtype)
        # PyTorch: fmod, then shift by b where the signs differ; a zero result keeps fmod's
        # sign (NumPy's remainder copies b's sign onto zeros instead)
        a, b = _cast_both(a, b, dtype)
        m = xp.fmod(a, b, dtype=dtype)
        fix = (m != 0) & ((xp.asarray(b) < 0) != (m < 0))
        return xp.where(fix, m + b, m).astype(dtype, copy=False)

    def _bool_add(f):
        def g(a, b, dtype):
            if dtype == np.bool_:
                return xp.logical_or(a, b) if f is xp.add else xp.logical_and(a, b)
            return f(a, b, dtype=dtype)
        return g

    def _maximum(a, b, dtype):
        a, b = _cast_both(a, b, dtype)
        return xp.maximum(a, b, dtype=dtype)

    def _minimum(a, b, dtype):
        a, b = _cast_both(a, b, dtype)
        return xp.minimum(a, b, dtype=dtype)

    def _in_float32(f, a, b):
        return f(asarray(a).astype(np.float32), asarray(b).astype(np.float32))

    def inplace(f, opmath_scalar=False):
        # optional in-place kernel "<op>_": same arguments, result written into the first
        def k(a, b, dtype):
            d = dtype.numpy
            if opmath_scalar and dtype in _LOW_PRECISION and _scalar_like(b, d):
                a[...] = _in_float32(f, a, b).astype(d)   # as binary(opmath_scalar=True)
                return
            if a.dtype is d and d.kind == "f" and (b.__class__ is float or (b.__class__ is ndarray and b.dtype is d)):
                f(a, b, out=a)   # NumPy's own loop is already the right one: skip dtype= and the cast
                return
            if not hasattr(b, "dtype"):   # NumPy finds no bfloat16 loop for a Python scalar operand
                try:
                    b = xp.asarray(b, dtype=d)
                except OverflowError:   # a Python int outside the dtype's range wraps, as in PyTorch
                    b = xp.asarray(np.array(b).astype(d))
            elif b.dtype != d:   # a 0-d int8 operand of a uint8 tensor: cast (wrapping) as PyTorch's, which
                b = b.astype(d)  # NumPy's same_kind rule refuses inside the ufunc
            f(a, b, out=a, dtype=d)
        return k

    for name, f in (("add", xp.add), ("sub", xp.subtract), ("mul", xp.multiply), ("div", xp.true_divide)):
        K[name + "_"] = inplace(f, opmath_scalar=name in ("mul", "div"))
    K["add"] = binary(xp.add, natural=True)
    K["sub"] = binary(xp.subtract, natural=True)
    K["mul"] = binary(xp.multiply, natural=True, opmath_scalar=True)
    K["div"] = binary(xp.true_divide, natural=True, opmath_scalar=True)
    def fused_sgd_(ps, gs, bs, lr, momentum, dampening, weight_decay, nesterov, maximize, dtypes):
        # the optim op: SGD's per-parameter update (plugtorch/optim/ops.py) with this table's
        # own kernels, so it rounds exactly as the decomposition dispatching them does
        if lr.__class__ is not float and hasattr(lr, "shape"):   # a tensor learning rate's 0-d array: its
            lr = float(lr)                                        # number now (optim/ops.py)
        plain = momentum != 0 and not (maximize or weight_decay != 0 or nesterov) and dampening == 0
        if plain:
            # the usual case, with the ufuncs those kernels end up calling for a float dtype (the
            # loop's own Python kept to a minimum: it is a tenth of the update on a small model)
            multiply, add_np, neg_lr, others = xp.multiply, xp.add, -lr, False
            for p, g, b in zip(ps, gs, bs):
                if p.dtype.kind == "f" and p.dtype.itemsize > 2 and g.dtype is p.dtype:
                    multiply(b, momentum, out=b)
                    add_np(b, g, out=b)
                    add_np(p, multiply(b, neg_lr), out=p)
                else:
                    others = True
            if not others:
                return
        add, mul, add_, mul_, neg = K["add"], K["mul"], K["add_"], K["mul_"], K["neg"]
        for i, p in enumerate(ps):
            g, dt = gs[i], dtypes[i]
            if dt.itemsize == 2:
                # float16/bfloat16: in float64, each stored value rounded once, in the order of the
                # decomposition's _sgd_update_wide
                f64 = xp.float64
                pw, gw = xp.asarray(p).astype(f64), xp.asarray(g).astype(f64)
                if maximize:
                    gw = -gw
                if weight_decay != 0:
                    gw = gw + pw * weight_decay
                if momentum != 0:
                    b = bs[i]
                    bw = xp.asarray(b).astype(f64) * momentum + gw * (1 - dampening)
                    b[...] = bw.astype(b.dtype)
                    gw = gw + bw * momentum if nesterov else bw
                p[...] = (pw - gw * lr).astype(p.dtype)
                continue
            if plain and p.dtype.kind == "f" and g.dtype is p.dtype:
                continue     # (done above)
            if maximize:
                g = neg(g, dt)
            if weight_decay != 0:
                g = add(g, mul(p, weight_decay, dt), dt)
            if momentum != 0:
                b = bs[i]
                mul_(b, momentum, dt)
                add_(b, g if dampening == 0 else mul(g, 1 - dampening, dt), dt)
                g = add(g, mul(b, momentum, dt), dt) if nesterov else b
            add_(p, mul(g, -lr, dt), dt)
    K["_fused_sgd_"] = fused_sgd_

    def fused_adam_(ps, gs, ms, vs, vmaxs, steps, lr, beta1, beta2, weight_decay, eps, amsgrad, maximize,
                    decoupled, dtypes):
        # the optim op: Adam's per-parameter update (plugtorch/optim/ops.py) with this table's own
        # kernels, in the order the decomposition dispatches them, so it rounds exactly as it does
        add, sub, mul, div, add_, mul_ = K["add"], K["sub"], K["mul"], K["div"], K["add_"], K["mul_"]
        if hasattr(lr, "shape"):   # a tensor learning rate's 0-d array: its number now (optim/ops.py)
            lr = float(lr)
        for i, p in enumerate(ps):
            g, dt = gs[i], dtypes[i]
            s = steps[i]
            s += 1                                   # step_t.add_(1)
            t = float(s)
            if p.ndim and p.dtype.kind == "f" and p.dtype.itemsize >= 4 and g.dtype is p.dtype:
                # float32/64 (not 0-d, where NumPy returns scalars): the same ufuncs in the same
                # order, in place where the result is fresh
                _adam_float(p, -g if maximize else g, ms[i], vs[i], vmaxs[i] if amsgrad else None, t, lr, beta1,
                            beta2, weight_decay, eps, decoupled)
                continue
            if dt.itemsize == 2:
                _adam_wide(p, g, ms[i], vs[i], vmaxs[i] if amsgrad else None, t, lr, beta1, beta2, weight_decay,
                           eps, maximize, decoupled)
                continue
            if maximize:
                g = K["neg"](g, dt)
            if weight_decay != 0:
                if decoupled:
                    mul_(p, 1 - lr * weight_decay, dt)
                else:                                # g.add(p, alpha=weight_decay)
                    g = add(g, p if weight_decay == 1 else mul(p, weight_decay, dt), dt)
            m, v = ms[i], vs[i]
            _lerp_(m, g, 1 - beta1)                                  # m.lerp_(g, 1 - beta1)
            mul_(v, beta2, dt)
            gg = mul(g, g, dt)
            add_(v, gg if beta2 == 0 else mul(gg, 1 - beta2, dt), dt)
            if amsgrad:
                vmax = vmaxs[i]
                vmax[...] = K["maximum"](vmax, v, dt)
                v = vmax
            step_size = lr / (1 - beta1 ** t)
            denom = div(K["sqrt"](v, dt), math.sqrt(1 - beta2 ** t), dt)
            add_(denom, eps, dt)
            r = div(m, denom, dt)
            add_(p, r if step_size == -1 else mul(r, -step_size, dt), dt)
    K["_fused_adam_"] = fused_adam_

    def amp_non_finite_check_and_unscale_(gs, found_inf, inv_scale, dtypes):
        # GradScaler's op (plugtorch/amp/ops.py): each gradient checked, then multiplied in place
        # with this table's mul_ (so it rounds as the decomposition does); the flag is combined on
        # the device, never read back (cupy runs this too)
        mul_ = K["mul_"]
        inv = inv_scale.reshape(())
        finite = []
        for g, dt in zip(gs, dtypes):
            finite.append(xp.all(xp.isfinite(g)))
            mul_(g, inv, dt)
        if finite:
            bad = xp.logical_not(xp.all(xp.stack(finite))).astype(found_inf.dtype)
            found_inf[...] = xp.maximum(found_inf, bad)
    K["_amp_foreach_non_finite_check_and_unscale_"] = amp_non_finite_check_and_unscale_

    def amp_update_scale_(scale, tracker, found_inf, growth_factor, backoff_factor, growth_interval):
        # GradScaler's update (plugtorch/amp/ops.py), in place on the device; the products in
        # float64, rounded once, as PyTorch's cpu kernel
        found = found_inf.reshape(scale.shape) > 0
        successful = tracker + 1
        grow = successful == growth_interval
        wide = scale.astype(xp.float64)
        grown = (wide * growth_factor).astype(scale.dtype)
        kept = xp.where(xp.logical_and(grow, xp.isfinite(grown)), grown, scale)
        scale[...] = xp.where(found, (wide * backoff_factor).astype(scale.dtype), kept)
        tracker[...] = xp.where(xp.logical_or(found, grow), 0, successful).astype(tracker.dtype)
    K["_amp_update_scale_"] = amp_update_scale_

    def _lerp_(m, g, w):
        # as the lerp op: PyTorch's formula, float16/bfloat16 computed in float32 and rounded once
        c = np.float32 if m.dtype.itemsize < 4 else m.dtype
        a, b = xp.asarray(m).astype(c), xp.asarray(g).astype(c)
        d = b - a
        m[...] = (a + w * d if abs(w) < 0.5 else b - d * (1 - w)).astype(m.dtype)

    def _adam_wide(p, g, m, v, vmax, t, lr, beta1, beta2, weight_decay, eps, maximize, decoupled):
        # float16/bfloat16: in float64, each stored value rounded once, in the order of the
        # decomposition's _adam_update_wide (plugtorch/optim/ops.py)
        f64 = xp.float64
        pw, gw = xp.asarray(p).astype(f64), xp.asarray(g).astype(f64)
        if maximize:
            gw = -gw
        if weight_decay != 0:
            if decoupled:
                pw = pw * (1 - lr * weight_decay)
            else:
                gw = gw + pw * weight_decay
        mw = xp.asarray(m).astype(f64) * beta1 + gw * (1 - beta1)
        vw = xp.asarray(v).astype(f64) * beta2 + gw * gw * (1 - beta2)
        m[...] = mw.astype(m.dtype)
        v[...] = vw.astype(v.dtype)
        if vmax is not None:
            vw = xp.maximum(xp.asarray(vmax).astype(f64), vw)
            vmax[...] = vw.astype(vmax.dtype)
        denom = xp.sqrt(vw) / math.sqrt(1 - beta2 ** t) + eps
        p[...] = (pw - mw / denom * (lr / (1 - beta1 ** t))).astype(p.dtype)

    def _adam_float(p, g, m, v, vmax, t, lr, beta1, beta2, weight_decay, eps, decoupled):
        if weight_decay != 0:
            if decoupled:
                p *= 1 - lr * weight_decay
            else:
                g = g + (p if weight_decay == 1 else p * weight_decay)
        tmp = g - m                      # m.lerp_(g, 1 - beta1): m + (1 - beta1) * (g - m)
        tmp *= 1 - beta1
        m += tmp
        v *= beta2
        gg = g * g
        if beta2 != 0:
            gg *= 1 - beta2
        v += gg
        if vmax is not None:
            xp.maximum(vmax, v, out=vmax)
            v = vmax
        step_size = lr / (1 - beta1 ** t)
        denom = xp.sqrt(v)
        denom /= math.sqrt(1 - beta2 ** t)
        denom += eps
        r = xp.divide(m, denom, out=denom)
        if step_size != -1:
            r *= -step_size
        p += r

    K["floor_divide"] = binary(_floor_divide, check_zero=True, name="division")
    K["remainder"] = binary(_remainder, check_zero=True, name="remainder")
    K["fmod"] = binary(xp.fmod, check_zero=True, name="fmod")
    K["pow"] = binary(_pow)
    K["atan2"] = binary(xp.arctan2)
    K["maximum"] = binary(_maximum)
    K["minimum"] = binary(_minimum)
    for name, f in (("bitwise_and", xp.bitwise_and), ("bitwise_or", xp.bitwise_or),
                    ("bitwise_xor", xp.bitwise_xor)):
        K[name] = binary(f)

    def _shift(f, left):
        def k(a, b, dtype):
            d = dtype.numpy
            # a Python int converts to the dtype as a C cast (PyTorch: uint8 << -2 shifts by 254)
            a, b = (_wrapped(v, d) if v.__class__ is int else v for v in (a, b))
            a, b = _cast_both(xp.asarray(a, dtype=d), xp.asarray(b, dtype=d), d)
            bits = d.itemsize * 8
            r = f(a, xp.clip(b, 0, bits - 1).astype(d), dtype=d)
            # shifting by the width or more gives 0 (or -1 for negative values shifted right)
            big = (b >= bits) | (b < 0)
            if bool(xp.any(big)):
                fill = xp.where(a < 0, -1, 0).astype(d) if not left and d.kind == "i" else xp.zeros_like(r)
                r = xp.where(big, fill, r)
            return arr(r)
        return k

    K["bitwise_left_shift"] = _shift(xp.left_shift, True)
    K["bitwise_right_shift"] = _shift(xp.right_shift, False)

    def _wrapped(v, d):
        # a Python int converted to integer dtype d as a C cast: modulo 2**bits (uint8: -3 is 253)
        bits = d.itemsize * 8
        v %= 1 << bits
        if d.kind == "i" and v >= 1 << (bits - 1):
            v -= 1 << bits
        return d.type(v)

    def compare(f):
        # PyTorch compares in the promoted dtype, a Python int converted to it (wrapping): for a
        # uint8 tensor u, u < -3 is u < 253 and u > 300 is u > 44 (NumPy would compare the values)
        def k(a, b, dtype):
            d = dtype.numpy
            a, b = _cast_both(a, b, d)
            if d.kind in "iu":
                if a.__class__ is int:
                    a = _wrapped(a, d)
                if b.__class__ is int:
                    b = _wrapped(b, d)
            return arr(f(a, b))
        return k

    for name, f in (("eq", xp.equal), ("ne", xp.not_equal), ("lt", xp.less),
                    ("le", xp.less_equal), ("gt", xp.greater), ("ge", xp.greater_equal),
                    ("logical_and", xp.logical_and), ("logical_or", xp.logical_or),
                    ("logical_xor", xp.logical_xor)):
        K[name] = compare(f)

    _bits = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64} if xp is np else {}

    def _zero(v):   # the scalar +0 (not -0.0, whose sign where() keeps)
        return (v.__class__ is int or v.__class__ is float) and v == 0 and math.copysign(1.0, v) > 0

    def _keep_where(c, x, it):
        # where(c, x, +0) as bits: x & (c ? all ones : 0); exact for every value, nan and inf
        # included, and branch-free (np.where costs 2-3x more on a mask like relu's). The mask
        # is widened by astype, then negated in place: 20% faster than one widening ufunc call
        m = c.view(np.int8).astype(it)
        np.negative(m, out=m)
        np.bitwise_and(x.view(it), m, out=m)
        return m.view(x.dtype)

    def _zero_where(z, x, it):
        # where(z, +0, x) as bits: x & (z ? 0 : all ones), the mask z - 1 (widened as above)
        m = z.view(np.int8).astype(it)
        np.subtract(m, 1, out=m)
        np.bitwise_and(x.view(it), m, out=m)
        return m.view(x.dtype)

    def threshold_backward(g, x, threshold, dtype):   # where(x <= threshold, 0, g): the relu formula's op
        it = _bits.get(g.dtype)
        if it is not None and g.ndim and x.dtype is g.dtype and g.shape == x.shape and g.dtype is dtype.numpy:
            return _zero_where(x <= threshold, g, it)   # (where()'s own path for these arrays, called directly)
        if x.dtype != dtype.numpy:   # compared in the result dtype (the threshold is converted to it)
            x = x.astype(dtype.numpy)
        return where(x <= threshold, 0, g, dtype)
    K["threshold_backward"] = threshold_backward

    def _maximum_is_relu(it, zero):
        # Whether np.maximum(+0, x) gives where(x < 0, +0, x) bit for bit: NumPy documents that
        # a nan comes through, not which zero a tie returns or whether a nan keeps its sign and
        # payload, so check it here once, on every loop a call can take (SIMD body at each
        # offset, tails, strides, a transposed 2-d view), with -0.0 and signed nans with
        # payloads at every lane
        bits = {np.int32: [0x80000000, 0, 0x7FC00000, 0xFFC00000, 0x7FC00123, 0xFFC00321, 0xFF800000,
                           0x7F800000, 0xBFC00000, 0x40200000, 0x80000001],
                np.int64: [1 << 63, 0, 0x7FF8 << 48, 0xFFF8 << 48, (0x7FF8 << 48) | 0x123, (0xFFF8 << 48) | 0x321,
                           0xFFF0 << 48, 0x7FF0 << 48, 0xBFF8 << 48, 0x4004 << 48, (1 << 63) | 1]}[it]
        x = np.array((bits * 24)[:256], dtype=np.uint64).astype(np.dtype(it).str.replace("i", "u")).view(it)
        x = x.view(zero.dtype)
        cases = [x[k:] for k in range(17)] + [x[:n] for n in range(1, 40)]
        cases += [x[::2], x[1::3], x[:225].reshape(15, 15).T]
        return all(np.maximum(zero, v).tobytes() == _zero_where(v < 0, v, it).tobytes() for v in cases)

    # relu by np.maximum (one pass) where it gives the bits of the masks (three passes)
    relu_by_max = {d: z for d, z in ((np.dtype(np.float32), np.float32(0)), (np.dtype(np.float64), np.float64(0)))
                   if xp is np and _maximum_is_relu(_bits[d], z)}

    def relu(x, dtype):   # where(x < 0, 0, x), as the decomposition: nan stays nan, -0.0 stays -0.0 (PyTorch)
        zero = relu_by_max.get(x.dtype)
        if zero is not None and x.ndim:   # (float32/64 where np.maximum gives the bits: checked above)
            return xp.maximum(zero, x)
        if x.dtype.kind in "iu":
            return arr(xp.maximum(x, x.dtype.type(0)))
        it = _bits.get(x.dtype)
        if it is not None and x.ndim:   # (0-d arrays are left to np.where: ~c gives a NumPy scalar)
            return _zero_where(x < 0, x, it)
        return arr(xp.where(x < 0, xp.zeros((), dtype=x.dtype), x))
    K["relu"] = relu

    def where(c, a, b, dtype):
        d = dtype.numpy
        it = _bits.get(d)
        if it is not None and c.__class__ is ndarray and c.dtype == np.bool_ and c.ndim:
            # (0-d arrays are left to np.where: ~c and astype give NumPy scalars there)
            if a.__class__ is ndarray and a.dtype is d and a.shape == c.shape and _zero(b):
                return _keep_where(c, a, it)
            if b.__class__ is ndarray and b.dtype is d and b.shape == c.shape and _zero(a):
                return _zero_where(c, b, it)
        a, b = _cast_both(a, b, d)   # NumPy can't promote bfloat16 with ints or float16
        return arr(xp.where(c, a, b).astype(d, copy=False))
    K["where"] = where

    # ---- reductions ----------------------------------------------------------------------
    def _acc_dtype(d):
        return np.float32 if d in (np.float16, _dtypes.bfloat16.numpy) else d

    def reduction(f, accumulate):
        def k(x, dims, keepdim, dtype):
            d = dtype.numpy
            if accumulate:
                acc = _acc_dtype(d)
                if x.dtype is _BF16 and np.dtype(acc).kind in "iu":   # (NumPy's implicit cast gives 0 past the range)
                    x = cast(x, np.dtype(acc))
                if x.dtype is acc:   # (the dtype argument costs ~0.3 us a call)
                    r = f(x, axis=dims, keepdims=keepdim)
                else:
                    r = f(x, axis=dims, keepdims=keepdim, dtype=acc)
            else:
                r = f(x, axis=dims, keepdims=keepdim)
            r = arr(r)
            return r if r.dtype is d or r.dtype == d else r.astype(d)
        return k

    # NumPy's ufunc.reduce is what np.sum & co. call, without their Python wrapper (2-3 us a call)
    fast = xp is np
    K["sum"] = reduction(np.add.reduce if fast else xp.sum, True)
    if fast:
        _sum = K["sum"]

        def sum_short_last(x, dims, keepdim, dtype):
            # add.reduce over a contiguous last axis of n < 24 runs NumPy's pairwise sum row by
            # row (below 8: in order from 0.0; from 8: eight running sums combined as a tree, the
            # tail added in order, then to 0.0): 4-16x slower than the same adds across the rows
            n = x.shape[-1] if x.ndim else 0
            if (1 < n < 24 and x.size >= 4096 and dims is not None and len(dims) == 1 and dims[0] % x.ndim == x.ndim - 1
                    and x.dtype in _bits and x.dtype is dtype.numpy and x.flags.c_contiguous):
                if n < 8:
                    r = x[..., 0] + 0.0
                    for j in range(1, n):
                        r += x[..., j]
                else:
                    acc = [x[..., j] + x[..., j + 8] if n >= 16 else x[..., j].copy() for j in range(8)]
                    i = 16 if n >= 16 else 8
                    r = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
                    for j in range(i, n):
                        r += x[..., j]
                    r += 0.0
                return r[..., None] if keepdim else r
            return _sum(x, dims, keepdim, dtype)

        tree_add = np.add.reduce

        def _tree_sum(x3, acc):
            # (pre, n, post) summed over n as a tree: add.reduce of a row-major array over a leading
            # axis adds its rows one by one (error ~ n eps, not NumPy's pairwise ~ log n). Short
            # rows (post < 64): (pre, 16, n // 16, post) summed over the 16 (long contiguous runs,
            # 30x faster than NumPy's row by row); long rows: (pre, n // 32, 32, post) summed over
            # the 32 (one row-sized accumulator, as NumPy's); then those sums the same way
            r = None
            while True:
                pre, n, post = x3.shape
                if n <= 128:   # (up to 128 rows added in order, ~128 eps: as NumPy pairwise sum's blocks)
                    s = tree_add(x3, axis=1, keepdims=True) if x3.dtype is acc else \
                        tree_add(x3, axis=1, keepdims=True, dtype=acc)
                    break
                k, ax = (16, 1) if post < 64 else (32, 2)
                b = n // k
                if n != b * k:   # the last n % k rows: added at the end
                    t = tree_add(x3[:, b * k:], axis=1, keepdims=True, dtype=acc)
                    r = t if r is None else r + t
                    x3 = x3[:, :b * k]
                x3 = x3.reshape((pre, k, b, post) if ax == 1 else (pre, b, k, post))
                x3 = tree_add(x3, axis=ax) if x3.dtype is acc else tree_add(x3, axis=ax, dtype=acc)
            if r is not None:
                s += r
            return s

        _tree_kinds = frozenset("fc")
        prod = math.prod

        def sum_tree(x, dims, keepdim, dtype):
            # floating sums over a leading axis of a row-major array, as a tree (_tree_sum); the
            # trailing reduced axes (NumPy's pairwise sum) first, in one add.reduce
            if dims is None or not dims or x.size < 64:
                return sum_short_last(x, dims, keepdim, dtype)
            shape = x.shape
            nd = len(shape)
            one = len(dims) == 1
            if one:   # (the usual call: one axis)
                d = dims[0] % nd
                n = shape[d]
                if d == nd - 1:
                    return sum_short_last(x, dims, keepdim, dtype)
                if n <= 128:   # (as _tree_sum: add.reduce)
                    return _sum(x, dims, keepdim, dtype)
            else:
                ds = sorted({d % nd for d in dims})
                t = nd
                while ds and ds[-1] == t - 1:
                    t -= 1
                    ds.pop()
                if prod([shape[d] for d in ds]) <= 128:
                    return sum_short_last(x, dims, keepdim, dtype)
            if not ((x.dtype.kind in _tree_kinds or x.dtype is _BF16) and x.flags.c_contiguous):
                return sum_short_last(x, dims, keepdim, dtype)
            acc = dtype.numpy
            if acc is _BF16 or acc is _F16:   # (summed in float32, as _acc_dtype)
                acc = _F32
            elif acc.kind not in _tree_kinds:   # (an integer sum of floats)
                return sum_short_last(x, dims, keepdim, dtype)
            if one:
                pre = prod(shape[:d])
                y = _tree_sum(x.reshape(pre, n, x.size // (pre * n)), acc)
                y = y.reshape(shape[:d] + (1,) + shape[d + 1:] if keepdim else shape[:d] + shape[d + 1:])
            else:
                y = x
                if t < nd:
                    y = tree_add(y, axis=tuple(range(t, nd)), keepdims=True, dtype=acc)
                for d in reversed(ds):
                    s = y.shape
                    y = _tree_sum(y.reshape(prod(s[:d]), s[d], prod(s[d + 1:])), acc).reshape(s[:d] + (1,) + s[d + 1:])
                if not keepdim:
                    y = y.reshape(tuple(k for i, k in enumerate(y.shape) if i < t and i not in ds))
            d = dtype.numpy
            return y if y.dtype is d else y.astype(d)
        K["sum"] = sum_tree

    def log_softmax(x, dim, dtype):   # (x - max) - log(sum(exp(x - max))), as the decomposition
        d = dtype.numpy
        # (row-major in and out: NumPy keeps a transposed or channels_last input's layout, torch's
        # result is contiguous, and .view() on it must work as there)
        x = x.astype(_acc_dtype(d), copy=False)
        if not x.flags.c_contiguous:      # (ascontiguousarray would make a 0-d array 1-d)
            x = xp.ascontiguousarray(x)
        if x.size == 0:
            return arr(x.astype(d))
        s = x - x.max(axis=dim, keepdims=True)   # an infinite max makes the row nan, as in PyTorch
        s -= xp.log(xp.exp(s).sum(axis=dim, keepdims=True))
        return arr(s.astype(d, copy=False))
    K["log_softmax"] = log_softmax

    def _nll_weights(t, w, ignore_index, dtype):
        keep = t != ignore_index
        safe = xp.where(keep, t, 0)
        ww = keep.astype(dtype)
        if w is not None:
            ww = ww * w.astype(dtype)[safe]
        return safe, ww

    def nll_loss(x, t, w, _size_average, ignore_index, _reduce, reduction):   # the nn op
        n = x.shape[1] if x.ndim > 1 else x.shape[0]
        if (t.size and x.ndim == 2 and w is None and reduction == "mean" and not 0 <= ignore_index < n
                and 0 <= t.min() and t.max() < n):
            # the usual case (every target a class, none ignored, no weights): the general path's
            # sum(-picked * 1) / sum(1), with the ones left out
            picked = x[xp.arange(t.shape[0]), t]
            total = xp.negative(picked).sum(dtype=_acc_dtype(x.dtype.type)).astype(x.dtype)
            return arr(total / x.dtype.type(t.shape[0]))
        bad = ((t < 0) | (t >= n)) & (t != ignore_index)
        if bad.any():
            raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds.")
        safe, ww = _nll_weights(t, w, ignore_index, x.dtype)
        if x.ndim > 1:
            picked = xp.take_along_axis(x, xp.expand_dims(safe, 1), 1).squeeze(1)
        else:
            picked = x[safe]
        loss = -picked * ww
        if reduction == "none":
            return arr(loss)
        acc = _acc_dtype(x.dtype.type)
        total = xp.sum(loss, dtype=acc).astype(x.dtype)
        if reduction == "sum":
            return arr(total)
        return arr(total / xp.sum(ww, dtype=acc).astype(x.dtype))
    K["nll_loss"] = nll_loss

    as_unsigned = {np.dtype(f"i{n}"): np.dtype(f"u{n}") for n in (1, 2, 4, 8)}

    def _plain_ce(x, t, w, ignore_index, reduction, ls):
        # The usual cross-entropy call: float32/64 logits (N, C), class indices all in range and
        # counted, no weights, no smoothing, the mean. Returns the logits minus their row max,
        # and the class axis: 0 for a (C, N) transposed copy when rows are short (NumPy reduces
        # short rows one at a time, 3x slower than down contiguous columns), else 1. None for
        # other calls, and for inf or nan logits (the general path handles them).
        if not (x.ndim == 2 and w is None and not ls and reduction == "mean" and t.size and x.dtype.kind == "f"
                and x.dtype.itemsize >= 4 and ignore_index < 0 and t.dtype.kind in "iu"):
            return None
        if fast:   # 0 <= t < C in one reduction: a negative target is a huge unsigned one
            if int(t_max(t.view(as_unsigned.get(t.dtype, t.dtype)))) >= x.shape[1]:
                return None
        elif int(t_min(t)) < 0 or int(t_max(t)) >= x.shape[1]:
            return None
        if fast and x.shape[1] <= 32 and x.shape[0] >= 8:
            s, ax = x.T.copy(), 0   # (a fresh C-order copy, even when x.T is already contiguous)
            m = np.maximum.reduce(s, axis=0)
        else:
            s, ax = x, 1
            m = x_max(x, axis=1, keepdims=True)
        if not math.isfinite(float(x_sum(m, axis=None))):
            return None
        if ax == 0:
            s -= m
        else:
            s = s - m
        return s, ax

    # the plain path's steps, shared by the loss, its gradient and the two together: from
    # _plain_ce's shifted logits s, the targets' entries; then, after s = exp(s) and its class
    # sums, the mean loss and (s / sums - onehot) * g / N
    def _ce_picked(s, ax, t):
        rows = xp.arange(t.shape[0])
        return s[t, rows] if ax == 0 else s[rows, t]

    def _ce_mean(x, t, picked, sums):
        lse = xp.log(sums.reshape(-1))
        return arr(xp.asarray((x_sum(lse) - x_sum(picked)) / x.dtype.type(t.shape[0]), dtype=x.dtype))

    def _ce_grad(g, x, t, p, ax, sums):
        p /= sums
        rows = xp.arange(t.shape[0])
        if ax == 0:
            p[t, rows] -= 1
        else:
            p[rows, t] -= 1
        p *= g / x.dtype.type(t.shape[0])
        return xp.ascontiguousarray(p.T) if ax == 0 else p

    def cross_entropy(x, t, w, ignore_index, reduction, ls, dtype):   # the nn op
        # log_softmax, then the NLL of class indices (with smoothing) or the class probabilities'
        # cross-entropy: the decomposition in plugtorch/nn/functional/loss.py, in one kernel
        cdim = 1 if x.ndim > 1 else 0
        c = x.shape[cdim]
        plain = _plain_ce(x, t, w, ignore_index, reduction, ls)
        if plain is not None:   # mean over samples of logsumexp(x) - x[target]
            s, ax = plain
            picked = _ce_picked(s, ax, t)
            return _ce_mean(x, t, picked, x_sum(xp.exp(s, out=s), axis=ax, keepdims=True))
        logp = log_softmax(x, cdim, dtype)
        prob = t.dtype.kind == "f" or t.dtype == _dtypes.bfloat16.numpy
        if not prob and not ls:
            return nll_loss(logp, t, w, None, ignore_index, None, reduction)
        acc = _acc_dtype(x.dtype.type)
        lp = logp.astype(acc, copy=False)
        wc = None if w is None else w.astype(acc).reshape((c,) + (1,) * (x.ndim - 2) if x.ndim > 1 else (c,))
        if prob:
            tt = t.astype(acc, copy=False)
            if ls:
                tt = tt * acc(1 - ls) + acc(ls / c)
            prod = lp * tt
            if wc is not None:
                prod = prod * wc
            loss = -prod.sum(axis=cdim)
            if reduction == "mean":
                n = x.size // c if c else 0
                loss = loss.sum() / acc(n) if x.size else acc("nan")
            elif reduction == "sum":
                loss = loss.sum()
            return arr(xp.asarray(loss).astype(x.dtype))
        nll = nll_loss(logp, t, w, None, ignore_index, None, reduction).astype(acc)
        keep = t != ignore_index
        smooth = xp.where(keep, -(lp if wc is None else lp * wc).sum(axis=cdim), acc(0))
        if reduction == "mean":
            if w is None:
                denom = keep.sum(dtype=acc)
            else:
                denom = (w.astype(acc)[xp.where(keep, t, 0)] * keep).sum(dtype=acc)
            smooth = smooth.sum(dtype=acc) / denom
        elif reduction == "sum":
            smooth = smooth.sum(dtype=acc)
        return arr(xp.asarray(nll * acc(1 - ls) + smooth * acc(ls / c)).astype(x.dtype))
    K["cross_entropy"] = cross_entropy

    # NumPy's ufunc.reduce skips the Python wrappers of np.max & co.
    x_max = np.maximum.reduce if fast else xp.max
    x_sum = np.add.reduce if fast else xp.sum
    t_min = np.minimum.reduce if fast else xp.min
    t_max = np.maximum.reduce if fast else xp.max

    def cross_entropy_backward(g, x, t, w, ignore_index, reduction, ls):   # the nn op
        # softmax(x) * A.sum(C) - A, scaled: as the decomposition in plugtorch/nn/ops.py
        cdim = 1 if x.ndim > 1 else 0
        c = x.shape[cdim]
        plain = _plain_ce(x, t, w, ignore_index, reduction, ls)
        if plain is not None:   # (softmax(x) - onehot(t)) * g / N, in the fewest NumPy calls
            p, ax = plain
            xp.exp(p, out=p)
            return _ce_grad(g, x, t, p, ax, x_sum(p, axis=ax, keepdims=True))
        acc = _acc_dtype(x.dtype.type)
        xs = x.astype(acc, copy=False)
        if x.size == 0:
            return arr(xp.zeros(x.shape, dtype=x.dtype))
        m = xs.max(axis=cdim, keepdims=True)
        inf = xp.isinf(m)
        if inf.any():
            m = xp.where(inf, 0, m)
        p = xp.exp(xs - m)
        p /= p.sum(axis=cdim, keepdims=True)
        tc = t.reshape(t.shape[:cdim] + (1,) + t.shape[cdim:])
        keep = tc != ignore_index
        safe = xp.where(keep, tc, 0)
        hit = keep.astype(acc) if w is None else keep * w.astype(acc)[safe]
        classes = xp.arange(c).reshape((c,) + (1,) * (x.ndim - 2)) if x.ndim > 1 else xp.arange(c)
        a = (safe == classes) * hit   # hit's weight at each sample's target class
        if reduction == "mean":   # every target ignored: PyTorch's gradient is 0 (its loss 0/0), not 0 * (1/0)
            scale = xp.asarray(g, dtype=acc) / (hit.sum(dtype=acc) + xp.logical_not(keep.any()))
        elif reduction == "sum":
            scale = xp.asarray(g, dtype=acc)
        else:
            scale = xp.expand_dims(g.astype(acc), cdim)
        if ls:
            wc = 1 if w is None else w.astype(acc).reshape((c,) + (1,) * (x.ndim - 2))
            a = a * (1 - ls) + keep * (wc * (ls / c))
        return arr(((p * a.sum(axis=cdim, keepdims=True) - a) * scale).astype(x.dtype, copy=False))
    K["_cross_entropy_backward"] = cross_entropy_backward

    def cross_entropy_and_backward(x, t, w, ignore_index, reduction, ls, dtype, g, *_same):
        # cross_entropy and _cross_entropy_backward on the same logits and targets (a traced
        # training step; the backward's own arguments repeat the forward's): the softmax once,
        # the same NumPy calls in the same order as the two kernels, so the same bits
        plain = _plain_ce(x, t, w, ignore_index, reduction, ls)
        if plain is None:
            return (cross_entropy(x, t, w, ignore_index, reduction, ls, dtype),
                    cross_entropy_backward(g, x, t, w, ignore_index, reduction, ls))
        s, ax = plain
        picked = _ce_picked(s, ax, t)
        sums = x_sum(xp.exp(s, out=s), axis=ax, keepdims=True)
        return _ce_mean(x, t, picked, sums), _ce_grad(g, x, t, s, ax, sums)
    if pairs is not None:
        pairs[("cross_entropy", "_cross_entropy_backward")] = cross_entropy_and_backward

    K["prod"] = reduction(np.multiply.reduce if fast else xp.prod, True)
    K["amax"] = reduction(np.maximum.reduce if fast else xp.max, False)
    K["amin"] = reduction(np.minimum.reduce if fast else xp.min, False)
    K["all"] = reduction(xp.all, False)
    K["any"] = reduction(xp.any, False)

    def _short_argreduce(x, ax, keepdim, extreme):
        # The first extreme along a short axis ``ax`` of many rows (max_pool's windows): NumPy's
        # argmax runs its inner loop once per row (3.6 ms for 128k rows of 4), a reduce and two
        # vectorized passes take 0.3 ms. A cell equal to its row's extreme (or nan, which wins as
        # in NumPy's argmax) scores K - j at position j; the best score gives the first such j.
        # The axis goes first (a copy, unless it already is outermost): a reduce over the first axis of
        # a contiguous array is elementwise over whole planes, one over an inner axis is not.
        n = x.shape[ax]
        x = np.ascontiguousarray(np.moveaxis(x, ax, 0))
        m = extreme.reduce(x, axis=0)
        hit = x == m
        if x.dtype.kind == "f":
            hit |= x != x
        hit = hit * np.arange(n, 0, -1, dtype=np.int8).reshape((n,) + (1,) * (x.ndim - 1))
        r = n - np.maximum.reduce(hit, axis=0).astype(np.int64)
        return arr(np.expand_dims(r, ax) if keepdim else r)

    def argreduce(f, extreme):
        def k(x, dim, keepdim):
            if dim is None:
                r = arr(f(x.reshape(-1)).astype(np.int64))
                return r.reshape((1,) * x.ndim) if keepdim else r
            ax = dim[0] % x.ndim if x.ndim else 0
            if (fast and x.ndim and 1 < x.shape[ax] <= 32 and x.size >= 4096
                    and (x.dtype.kind in "iu" or x.dtype in (np.float16, np.float32, np.float64))):
                return _short_argreduce(x, ax, keepdim, extreme)
            return arr(f(x, axis=dim[0], keepdims=keepdim).astype(np.int64))
        return k
    K["argmax"] = argreduce(xp.argmax, np.maximum)
    K["argmin"] = argreduce(xp.argmin, np.minimum)

    def scan(f):
        def k(x, dim, dtype):
            d = dtype.numpy
            if x.ndim == 0:
                return x.astype(d)
            acc = _acc_dtype(d)     # (row-major result, as torch's: see log_softmax)
            if x.dtype is _BF16 and np.dtype(acc).kind in "iu":   # (as in reduction())
                x = cast(x, np.dtype(acc))
            if not x.flags.c_contiguous:
                x = xp.ascontiguousarray(x)
            return arr(f(x, axis=dim, dtype=acc)).astype(d, copy=False)
        return k
    K["cumsum"] = scan(xp.cumsum)
    K["cumprod"] = scan(xp.cumprod)

    def sort(x, dim, descending):
        if x.ndim == 0:
            return x.copy(), xp.zeros((), dtype=np.int64)
        keys = x.astype(np.float32) if x.dtype == _dtypes.bfloat16.numpy else x  # NumPy can't sort bfloat16
        if descending:
            n = x.shape[dim]
            i = xp.argsort(xp.flip(keys, dim), axis=dim, kind="stable")
            idx = (n - 1) - xp.flip(i, dim)
        else:
            idx = xp.argsort(keys, axis=dim, kind="stable")
        idx = idx.astype(np.int64)
        return xp.take_along_axis(x, idx, axis=dim), idx
    K["sort"] = sort

    def topk(x, k, dim, largest):
        """The first k of sort(x, dim, descending=largest) (stable: nan first when largest and
        last otherwise, ties in index order), from a partition: the k-th value, everything
        beyond it and the lowest-indexed of its ties, then a stable sort of those k only."""
        n = x.shape[dim] if x.ndim else 1
        if x.ndim == 0 or k == 0 or 4 * k > n or x.dtype.kind not in "fiu":
            v, i = sort(x, dim, largest)
            return (v, i) if x.ndim == 0 else (v[(slice(None),) * dim + (slice(0, k),)].copy(),
                                                i[(slice(None),) * dim + (slice(0, k),)].copy())
        keys = xp.moveaxis(x, dim, -1)
        shape = keys.shape
        keys = keys.reshape(-1, n)
        j = n - k if largest else k - 1
        part = xp.argpartition(keys, j, axis=-1)
        kth = xp.take_along_axis(keys, part[:, j:j + 1], -1)
        if x.dtype.kind == "f" and xp.isnan(kth).any() or (keys == kth).sum() > len(keys):
            # the k-th value has ties (or is nan): the partition's pick among them is arbitrary,
            # the sort's is the lowest-indexed; count them out per row
            if x.dtype.kind == "f":   # nan sorts above everything (np.partition agrees)
                nan = xp.isnan(keys)
                kth_nan = xp.isnan(kth)
                beyond = (keys > kth) | nan if largest else keys < kth
                beyond = xp.where(kth_nan, False if largest else ~nan, beyond)
                tie = xp.where(kth_nan, nan, keys == kth)
            else:
                beyond = keys > kth if largest else keys < kth
                tie = keys == kth
            need = k - beyond.sum(-1, keepdims=True)
            sel = beyond | (tie & (xp.cumsum(tie, axis=-1) <= need))
            idx = xp.nonzero(sel)[1].reshape(-1, k)                  # the k picked, in index order
        else:   # a unique k-th value in every row: the partition picked the sort's k
            idx = xp.sort(part[:, j:] if largest else part[:, :k], axis=-1)
        v, order = sort(xp.take_along_axis(keys, idx, -1), 1, largest)
        idx = xp.take_along_axis(idx, order, -1).astype(np.int64)
        out_shape = shape[:-1] + (k,)
        v = xp.moveaxis(v.reshape(out_shape), -1, dim)
        return xp.ascontiguousarray(v), xp.ascontiguousarray(xp.moveaxis(idx.reshape(out_shape), -1, dim))
    if xp is np:   # (CuPy runs the decomposition)
        K["topk"] = topk

    def mode(x, dim, keepdim):   # the longest run of equal values in the stably sorted row
        if dim is None:
            return x.copy(), xp.zeros((), dtype=np.int64)
        v, idx = sort(x, dim, False)
        v, idx = xp.moveaxis(v, dim, -1), xp.moveaxis(idx, dim, -1)
        n = v.shape[-1]
        new = xp.ones(v.shape, dtype=bool)
        new[..., 1:] = v[..., 1:] != v[..., :-1]
        if v.dtype.kind == "f" or v.dtype == _dtypes.bfloat16.numpy:   # nan is one value, as in PyTorch
            new[..., 1:] &= ~(xp.isnan(v[..., 1:].astype(np.float32)) & xp.isnan(v[..., :-1].astype(np.float32)))
        pos = xp.arange(n)
        count = pos - xp.maximum.accumulate(xp.where(new, pos, 0), axis=-1) + 1   # run length so far
        end = xp.argmax(count == count.max(axis=-1, keepdims=True), axis=-1)[..., None]   # first longest run
        values, indices = xp.take_along_axis(v, end, -1), xp.take_along_axis(idx, end, -1)
        values, indices = xp.moveaxis(values, -1, dim), xp.moveaxis(indices, -1, dim)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return arr(values), arr(indices)
    K["mode"] = mode

    # ---- linear algebra ------------------------------------------------------------------
    halves = {np.dtype(np.float16), np.dtype(_dtypes.bfloat16.numpy)}   # (a set: no dtype conversions)

    def matmul(a, b):
        if a.dtype in halves:
            return arr(xp.matmul(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype))
        if a.shape[-1:] == (1,) and b.ndim >= 2 and max(a.ndim, b.ndim) > 2 and a.dtype in _bits and b.dtype is a.dtype:
            # a batch of contractions of length 1 is a broadcast product; NumPy's matmul runs
            # one tiny gemm per batch index (8.5 ms for (64, 9, 1) @ (8, 64, 1, 1024), conv2d's
            # depthwise backward; 0.6 ms this way). + 0.0 turns -0.0 into the 0.0 a sum gives
            r = xp.multiply(a, b)
            r += 0.0
            return r
        return arr(xp.matmul(a, b))
    K["_matmul"] = matmul

    matmul_np = xp.matmul

    def mm(a, b):   # matmul of operands that are not both 1-d: float32/64 straight to NumPy's
        return matmul_np(a, b) if a.dtype in _bits else matmul(a, b)

    def mm_rows(a, b):
        """a @ b for a 2-d ``b``: an a of more dims as one (rows, k) matrix, so BLAS runs one gemm
        (NumPy's matmul broadcasts a 3-d a into one small gemm per leading index: 4x slower
        for (64, 8, 256) @ (256, 256), more when a is a transposed view)."""
        if a.ndim <= 2:
            return mm(a, b)
        lead = a.shape[:-1]
        rows = 1
        for n in lead:
            rows *= n
        return mm(a.reshape(rows, a.shape[-1]), b).reshape(lead + (b.shape[-1],))

    add_reduce = np.add.reduce if xp is np else None

    def linear_backward(g, x, w, mask, dtype):   # the nn op: linear's three gradients in one call
        if g.ndim == 2 and x.ndim == 2 and add_reduce is not None and g.dtype in _bits \
                and x.dtype is g.dtype and w.dtype is g.dtype and dtype.numpy == g.dtype:
            # the usual case (a batch of rows, float32/64) with the calls the general path ends
            # in (mm, the sum kernel over the rows), minus ~1.5 us of their wrappers
            return (matmul_np(g, w) if mask[0] else None, matmul_np(g.T, x) if mask[1] else None,
                    (add_reduce(g, axis=0) if len(g) <= 128 else K["sum"](g, (0,), False, dtype)) if mask[2] else None)
        gi = mm_rows(g, w) if mask[0] else None
        gw = gb = None
        if x.ndim == 1:
            if mask[1]:
                gw = arr(g.reshape(-1, 1) * x)
            if mask[2]:
                gb = g.copy()
            return gi, gw, gb
        g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
        if mask[1]:
            gw = mm(g2.T, x if x.ndim == 2 else x.reshape(-1, x.shape[-1]))
        if mask[2]:
            gb = K["sum"](g2, (0,), False, dtype)
        return gi, gw, gb
    K["_linear_backward"] = linear_backward

    def linear(x, w, b):   # the nn op: x @ w^T + b, one dtype (checked by its meta)
        if x.ndim == 2 and w.ndim == 2 and x.dtype in _bits:   # (mm_rows's own call, unwrapped)
            out = matmul_np(x, w.T)
        else:
            out = mm_rows(x, w.T) if w.ndim == 2 else matmul(x, w)
        if b is None:
            return out
        if out.ndim and b.shape == out.shape[-1:]:   # the usual bias: add in place
            out += b
            return out
        return arr(out + b)
    K["linear"] = linear

    if xp is np:
        from numpy.lib.stride_tricks import as_strided

        def _shifted_runs(x, k, stride, dilation):
            """Each kernel offset of a convolution over the padded 4-d x as (array, shift): laid out
            at the input's row width, an offset's window is the run of the flattened (N, C*Hp*Wp)
            array starting `shift` after the output's position. A stride reads the stride's phases
            (x[:, :, a::sh, b::sw] copied once, each zero-padded to one size (Hp, Wp), so that all
            share the output's layout), in which every offset is again a plain shift."""
            (kh, kw), (sh, sw), (dh, dw) = k, stride, dilation
            n, c, h, wd = x.shape
            if (sh, sw) == (1, 1):
                hp, wp = h, wd
                phases = {(0, 0): x.reshape(n, c * h * wd)}
            else:
                hp, wp = -(-h // sh), -(-wd // sw)
                phases = {}
                for a in sorted({i * dh % sh for i in range(kh)}):
                    for b in sorted({j * dw % sw for j in range(kw)}):
                        ph = np.zeros((n, c, hp, wp), x.dtype)
                        src = x[:, :, a::sh, b::sw]
                        ph[:, :, :src.shape[2], :src.shape[3]] = src
                        phases[a, b] = ph.reshape(n, c * hp * wp)
            taps = [(phases[i * dh % sh, j * dw % sw], (i * dh // sh) * wp + j * dw // sw)
                    for i in range(kh) for j in range(kw)]
            return taps, hp, wp

        def _depthwise(x, w, k, out_hw, stride, dilation):
            """A depthwise convolution (one filter per channel) of the padded x as kh*kw multiply-adds
            of shifted runs of the flattened image (``_shifted_runs``): every pass is a long 1-d one
            (NumPy's 2-d strided passes over Wo-long rows ran 3-4x slower), on blocks of about 1 MiB.
            Returns the (N, C, Hp, Wp) result, whose (Ho, Wo) corner is the convolution's."""
            kh, kw = k
            n, c = x.shape[:2]
            taps, hp, wp = _shifted_runs(x, k, stride, dilation)
            plane = hp * wp
            sample = c * plane
            # each offset's weights, every channel's repeated over its plane (one sample's worth),
            # so a pass multiplies two contiguous runs: no per-channel broadcast
            wfull = np.repeat(w.reshape(c, kh * kw).T, plane, axis=1)
            # the last `maxshift` positions of a sample are past every valid output (cropped), and
            # computing them would read beyond it
            maxshift = max(s for _, s in taps)
            out = np.empty((n, sample), x.dtype)
            budget = 1 << 18
            nb, cb = (max(1, budget // sample), c) if sample <= budget else (1, max(1, budget // plane))
            tmp = np.empty((nb, cb * plane), x.dtype)
            for m in range(0, n, nb):
                for a in range(0, c, cb):
                    lo, hi = a * plane, min(c, a + cb) * plane
                    length = hi - lo - (maxshift if hi == sample else 0)
                    ob = out[m:m + nb, lo:lo + length]
                    t = tmp[:ob.shape[0], :length]
                    for q, (ph, s) in enumerate(taps):
                        v, wq = ph[m:m + nb, lo + s:lo + s + length], wfull[q, lo:lo + length]
                        if q == 0:
                            np.multiply(v, wq, out=ob)
                        else:
                            np.multiply(v, wq, out=t)
                            ob += t
            return out.reshape(n, c, hp, wp)

        def depthwise_conv2d_weight_grad(g, x, w, stride, pads, dilation):   # the nn op, one dtype
            # each offset's sum over the batch and pixels of g times its window, as one einsum over
            # shifted runs (g laid out at the runs' row width, zeros past Wo): no (N, C, Ho, Wo)
            # product and no strided passes (4x faster than multiply-then-sum per offset)
            kh, kw = w.shape[2], w.shape[3]
            (sh, sw), (dh, dw), dt = stride, dilation, g.dtype
            acc = _acc_dtype(dt)
            if any(pads):
                x = np.pad(x, ((0, 0), (0, 0), (pads[2], pads[3]), (pads[0], pads[1])))
            x, g = x.astype(acc, copy=False), g.astype(acc, copy=False)
            n, c, ho, wo = g.shape
            out = np.empty((c, kh * kw), acc)
            if not np.isfinite(x).all():
                # the runs pair g's zeros past Wo with pixels outside the windows: an inf there would
                # give nan; each offset's strided window instead
                for i in range(kh):
                    for j in range(kw):
                        win = x[:, :, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
                        out[:, i * kw + j] = np.einsum("ncrs,ncrs->c", g, win)
                return out.reshape(w.shape).astype(dt, copy=False)
            taps, hp, wp = _shifted_runs(x, (kh, kw), stride, dilation)
            run = (ho - 1) * wp + wo   # the last output's position + 1 in a plane
            gp = np.zeros((n, c, ho, wp), acc)
            gp[:, :, :, :wo] = g
            gr = gp.reshape(n, c, ho * wp)[:, :, :run]
            for q, (ph, shift) in enumerate(taps):
                out[:, q] = np.einsum("ncq,ncq->c", gr, ph.reshape(n, c, hp * wp)[:, :, shift:shift + run])
            return out.reshape(w.shape).astype(dt, copy=False)
        K["_depthwise_conv2d_weight_grad"] = depthwise_conv2d_weight_grad

        def conv2d(x, w, b, stride, pads, dilation, groups):   # the nn op, one dtype (its meta)
            # the windows as one strided view, one copy into columns, one batched matmul
            squeeze = x.ndim == 3
            if squeeze:
                x = x[None]
            if any(pads):
                x = np.pad(x, ((0, 0), (0, 0), (pads[2], pads[3]), (pads[0], pads[1])))
            n, c, h, wd = x.shape
            o, cg, kh, kw = w.shape
            (sh, sw), (dh, dw) = stride, dilation
            ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
            acc = _acc_dtype(x.dtype)
            if groups == c == o and cg == 1:
                full = _depthwise(x.astype(acc, copy=False), w.astype(acc, copy=False), (kh, kw), (ho, wo),
                                  stride, dilation)[:, :, :ho, :wo]
                out = np.empty((n, o, ho, wo), x.dtype)   # the crop, in the pass that adds the bias
                if b is not None:
                    np.add(full, b.reshape(o, 1, 1), out=out, casting="unsafe")
                else:
                    np.copyto(out, full, casting="unsafe")
                return out[0] if squeeze else out
            s0, s1, s2, s3 = x.strides
            win = as_strided(x, (n, c, kh, kw, ho, wo), (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw))
            cols = win.reshape(n, groups, cg * kh * kw, ho * wo).astype(acc, copy=False)
            out = np.matmul(w.reshape(groups, o // groups, cg * kh * kw).astype(acc, copy=False), cols)
            out = out.reshape(n, o, ho, wo)
            if b is not None:
                out += b.reshape(o, 1, 1)
            out = out.astype(x.dtype, copy=False)
            return out[0] if squeeze else out
        K["conv2d"] = conv2d

    # ---- views and layout ----------------------------------------------------------------
    def view(x, shape):
        return x.reshape(shape)
    K["view"] = view
    K["permute"] = lambda x, dims: xp.transpose(x, dims)
    if xp is np:
        # broadcast_to is read-only; PyTorch lets you write through an expanded view's
        # non-overlapping parts (copy_ refuses the overlapping ones)
        def expand(x, shape):
            # NumPy's broadcast_to gives every size-1 dim stride 0; PyTorch (and the other
            # backends) keep the input's stride where the size is unchanged, 0 where it broadcasts
            shape = tuple(shape)
            lead = len(shape) - x.ndim
            st = [0] * lead
            for s, n, m in zip(x.strides, x.shape, shape[lead:]):
                if n == m:
                    st.append(s)
                elif n == 1:
                    st.append(0)
                else:
                    np.broadcast_to(x, shape)   # raises NumPy's error
            if lead < 0:
                np.broadcast_to(x, shape)
            return np.lib.stride_tricks.as_strided(x, shape, st, writeable=x.flags.writeable)
        K["expand"] = expand
    else:
        K["expand"] = lambda x, shape: xp.broadcast_to(x, shape)

    def slice_(x, dim, start, end, step):
        return x[(slice(None),) * dim + (slice(start, end, step),)]
    K["slice"] = slice_

    def select(x, dim, index):
        return xp.squeeze(x[(slice(None),) * dim + (slice(index, index + 1),)], axis=dim)
    K["select"] = select

    def unfold(x, dim, size, step):   # windows as a strided view of x (overlapping when step < size)
        if x.ndim == 0:
            return x.reshape(1)
        n = (x.shape[dim] - size) // step + 1
        shape = x.shape[:dim] + (n,) + x.shape[dim + 1:] + (size,)
        strides = x.strides[:dim] + (x.strides[dim] * step,) + x.strides[dim + 1:] + (x.strides[dim],)
        if xp is np:
            return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=x.flags.writeable)
        return xp.lib.stride_tricks.as_strided(x, shape, strides)
    K["unfold"] = unfold

    def as_strided_view(x, size, stride, offset):   # a view of x's memory: from its base array's first element
        base = memory_root(x, xp.ndarray)
        if not (base.flags.c_contiguous or base.flags.f_contiguous):
            raise RuntimeError("as_strided(): the tensor's memory is not one dense block here; call .contiguous() first")
        from plugtorch.dispatch.ops.arrangements import _storage_error, storage_needed
        # counted in x's elements, which may differ from the base's (view_as_real, view(dtype)):
        # the base's bytes, from x's offset, read as x's dtype
        isz = x.itemsize
        available = base.nbytes // isz
        if storage_needed(size, stride, offset) > available:
            raise _storage_error(size, stride, offset, isz, available)
        flat = base.ravel(order="K").view(xp.uint8)[offset * isz:available * isz].view(x.dtype)   # memory order
        strides = tuple(s * isz for s in stride)
        if xp is np:
            return np.lib.stride_tricks.as_strided(flat, tuple(size), strides, writeable=x.flags.writeable)
        return xp.lib.stride_tricks.as_strided(flat, tuple(size), strides)
    K["as_strided"] = as_strided_view

    K["clone"] = lambda x: x.copy()
    K["flip"] = lambda x, dims: xp.flip(x, dims).copy() if dims else x.copy()

    def cat(arrays, dim, dtype):
        d = dtype.numpy
        return xp.concatenate([a if a.dtype == d else cast(a, d) for a in arrays], axis=dim)
    K["cat"] = cat

    def copy_(dst, src):
        sd = getattr(src, "dtype", None)
        dst[...] = cast(src, dst.dtype) if sd == _BF16 or (sd != dst.dtype and (dst.dtype in _F8 or sd in _F8)) \
            else src
    K["copy_"] = copy_
    K["_to_dtype"] = lambda x, dtype: cast(x, dtype.numpy)

    # ---- indexing ------------------------------------------------------------------------
    def _key(indices):
        return tuple(slice(None) if i is None else i for i in indices)

    def index(x, indices):
        arrays = [k for k, i in enumerate(indices) if i is not None]
        if not arrays:
            return x[_key(indices)].copy()
        if len(arrays) == 1 and indices[arrays[0]].dtype != bool:
            # one integer index array: take() along its dim is row-major, as torch's result; x[key]
            # leaves the indexed dim where NumPy's advanced indexing puts it in memory, so the
            # result's strides were permuted (x.index_select(2, i).view(-1) failed on cpu only)
            d = arrays[0]
            idx = indices[d]
            if idx.ndim == 1:
                return xp.take(x, idx, axis=d)
        r = x[_key(indices)]
        return r if r.flags.c_contiguous else xp.ascontiguousarray(r)
    K["index"] = index

    def index_put(x, indices, values, accumulate):
        r = x.copy()
        key = _key(indices)
        if accumulate:
            _add_at(r, key, values)
        else:
            r[key] = values
        return r
    K["index_put"] = index_put

    def _add_at(r, key, values):
        if add_at is not None:
            add_at(r, key, values)
        elif xp is np:
            if r.ndim > 1 and _add_at_rounds(r, key, values):
                return
            if r.ndim > 1 and r.flags.c_contiguous:
                # NumPy's ufunc.at is ~10x slower with a multi-dimensional key than on a flat array:
                # index an arange of r's flat positions with the same key, then one 1-d add.at. Each
                # element still receives its values in the key's order, so the sums are unchanged.
                if len(key) == r.ndim and all(k.__class__ is not slice and k.dtype.kind in "iu" for k in key):
                    # an integer array for every dim (scatter's key): the flat position is arithmetic
                    lin = None
                    for k, (i, n) in enumerate(zip(key, r.shape)):
                        step = r.strides[k] // r.itemsize
                        i = np.where(i < 0, i + n, i) * step
                        lin = i if lin is None else lin + i
                elif r.ndim * np.size(values) < r.size:   # few values: sum each dim's indexed offsets
                    lin = None
                    for k, n in enumerate(r.shape):
                        step = r.strides[k] // r.itemsize
                        shp = [1] * r.ndim
                        shp[k] = n
                        c = np.broadcast_to(np.arange(0, n * step, step, dtype=np.intp).reshape(shp), r.shape)[key]
                        lin = c if lin is None else lin + c
                else:
                    lin = np.arange(r.size, dtype=np.intp).reshape(r.shape)[key]
                np.add.at(r.reshape(-1), lin.reshape(-1), np.broadcast_to(values, lin.shape).reshape(-1))
            else:
                np.add.at(r, key, values)
        else:
            import cupyx
            cupyx.scatter_add(r, key, values)

    def _add_at_rounds(r, key, values, max_rounds=8):
        """index_add's case of add.at (one integer index array, slices elsewhere) as a few plain
        fancy-index adds: round j adds each target's j-th occurrence (targets unique within a
        round), so every element sums its values in the key's order, as add.at does. False when
        the key is another kind or some target occurs more than ``max_rounds`` times."""
        pos = [i for i, k in enumerate(key) if k.__class__ is not slice]
        if len(pos) != 1 or getattr(values, "dtype", None) != r.dtype:
            return False
        d = pos[0]
        idx = key[d]
        if idx.dtype.kind not in "iu":
            return False
        flat = idx.reshape(-1)
        m = flat.size
        v = np.broadcast_to(values, r.shape[:d] + idx.shape + r.shape[d + 1:])
        v = v.reshape(r.shape[:d] + (m,) + r.shape[d + 1:])
        pre = (slice(None),) * d
        if m == 0:
            return True
        flat = np.where(flat < 0, flat + r.shape[d], flat)   # -1 and n-1 are one target
        order = np.argsort(flat, kind="stable")
        s = flat[order]
        new = np.empty(m, dtype=bool)
        new[0] = True
        np.not_equal(s[1:], s[:-1], out=new[1:])
        if new.all():
            r[pre + (flat,)] += v
            return True
        pos_m = np.arange(m)
        rank_sorted = pos_m - np.maximum.accumulate(np.where(new, pos_m, 0))
        rounds = int(rank_sorted.max()) + 1
        if rounds > max_rounds:
            return False
        rank = np.empty(m, dtype=rank_sorted.dtype)
        rank[order] = rank_sorted
        for j in range(rounds):
            sel = np.flatnonzero(rank == j)
            r[pre + (flat[sel],)] += v[pre + (sel,)]
        return True

    def _along(index, dim):
        key = []
        for j, n in enumerate(index.shape):
            if j == dim:
                key.append(index)
            else:
                shp = [1] * index.ndim
                shp[j] = n
                key.append(xp.arange(n).reshape(shp))
        return tuple(key)

    def gather(x, dim, index):
        if x.ndim == 0:   # every index is 0 (meta checked): the one element, as often as indexed
            return xp.broadcast_to(x, index.shape).copy()
        dense = None
        if fast and x.ndim == index.ndim and index.size >= 4096:
            # x's memory as one flat run, where x is a contiguous array's permuted view (max_pool's windows)
            dense = x.transpose(sorted(range(x.ndim), key=lambda j: -x.strides[j]))
            dense = dense.reshape(-1) if dense.flags.c_contiguous and min(x.strides) >= 0 else None
        if dense is not None:
            # one take of flat offsets: a third of the time of indexing with ndim arrays
            step = [st // x.itemsize for st in x.strides]
            off = index.astype(np.intp) * step[dim]
            for j, n in enumerate(index.shape):
                if j != dim:
                    off += (np.arange(n, dtype=np.intp) * step[j]).reshape([n if i == j else 1 for i in range(x.ndim)])
            return np.take(dense, off)
        return x[_along(index, dim)]
    K["gather"] = gather

    def scatter(x, dim, index, src, reduce):
        r = x.copy()
        if r.ndim == 0:
            r = r.reshape(1)
            index = index.reshape(-1)
        key = _along(index, dim)
        if hasattr(src, "shape"):
            src = src[tuple(slice(0, n) for n in index.shape)] if src.ndim else src
        if reduce is None:
            r[key] = src
        elif reduce in ("add", "sum"):
            _add_at(r, key, xp.broadcast_to(xp.asarray(src, dtype=r.dtype), index.shape))
        elif reduce in ("amax", "amin"):   # NaN wins, as in PyTorch's scatter_reduce
            at = maximum_at if reduce == "amax" else minimum_at
            if at is not None:
                at(r, key, src)
            elif xp is np:
                (np.maximum if reduce == "amax" else np.minimum).at(r, key, src)
            else:
                raise NotImplementedError(f"scatter(reduce={reduce!r}) is not implemented for this array namespace")
        else:
            if multiply_at is not None:
                multiply_at(r, key, src)
            elif xp is np:
                np.multiply.at(r, key, src)
            else:
                raise NotImplementedError("scatter(reduce='multiply') is not implemented on cuda")
        return r.reshape(x.shape)
    K["scatter"] = scatter
    K["scatter_add"] = lambda x, dim, index, src: scatter(x, dim, index, src, "add")

    def nonzero(x):
        if x.ndim == 0:
            return xp.zeros((int(bool(x)), 0), dtype=np.int64)
        return xp.stack(xp.nonzero(x), axis=1).astype(np.int64)
    K["nonzero"] = nonzero

    # ---- factories and random ------------------------------------------------------------
    K["full"] = lambda shape, value, dtype, index: xp.full(shape, value, dtype=dtype.numpy)
    K["empty"] = lambda shape, dtype, index: xp.empty(shape, dtype=dtype.numpy)

    def arange(start, end, step, dtype, index):
        d = dtype.numpy
        n = max(0, math.ceil((end - start) / step))
        if d.kind in "iu" and all(isinstance(v, int) for v in (start, end, step)):
            return xp.arange(start, start + n * step, step, dtype=np.int64)[:n].astype(d)
        return (xp.arange(n, dtype=np.float64) * step + start).astype(d)
    K["arange"] = arange

    def _float_kind(d):
        return np.float64 if d == np.float64 else np.float32

    def uniform_(x, low, high, gen):
        r = gen.random(x.shape, dtype=_float_kind(x.dtype))
        v = r * (high - low) + low
        if x.dtype.itemsize == 2:   # float16/bfloat16: a draw rounding up to `high` becomes `low`, as PyTorch's
            v = v.astype(x.dtype)
            v = xp.where(v == xp.asarray(high).astype(x.dtype), xp.asarray(low).astype(x.dtype), v)
        x[...] = v

    def normal_(x, mean, std, gen):
        x[...] = gen.standard_normal(x.shape, dtype=_float_kind(x.dtype)) * std + mean

    def random_(x, low, high, gen):
        x[...] = gen.integers(low, high, size=x.shape)

    K["uniform_"] = uniform_
    K["normal_"] = normal_
    K["random_"] = random_
    return K
