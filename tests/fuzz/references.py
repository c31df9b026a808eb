"""NumPy references: what PyTorch returns for an op, computed another way.

``reference(call)`` gives the expected outputs of a call as ``[(array, dtype), ...]``, or None
when the op has no reference here (random ops, nn ops, sorts with ties) or the reference
cannot say (an integer division by zero). The result dtype comes from an independent copy
of PyTorch's promotion rules (``promoted_dtype``: dim tensors, then 0-d tensors, then Python
scalars, by category), not from plugtorch's own ``_dtypes``, so the check means something.

Floats are computed as PyTorch computes them: float16 and bfloat16 in float32, then rounded;
sums in float64 (the tolerance of a sum grows with its length, see conformance/tolerances.py).

>>> x = Input(np.array([[1, 2], [3, 4]], np.int8))
>>> [(a.tolist(), d.name) for a, d in REFERENCES["sum"](x.logical(), dim=1)]
[([3, 7], 'int64')]
"""
from __future__ import annotations

import inspect
import math
from functools import reduce

import numpy as np

import plugtorch as pt
from plugtorch import _dtypes
from plugtorch.conformance.entry import DEVICE, Input

from .arguments import custom_fn

B, U8, I8, I16, I32, I64 = pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64
F16, BF16, F32, F64 = pt.float16, pt.bfloat16, pt.float32, pt.float64
_HALF = (F16, BF16)


# ---- PyTorch's promotion, written out ---------------------------------------------------------
def _category(d) -> int:
    return 0 if d is B else 2 if d.is_floating_point else 1


def promote_types(a, b):
    """PyTorch's lattice: uint8 with a signed int needs the next wider signed int; float16
    with bfloat16 meets in float32; otherwise the higher category, then the wider type."""
    if a is None or a is b:
        return b
    if b is None:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    if ca == 1 and U8 in (a, b):
        other = b if a is U8 else a
        return I16 if other is I8 else other
    if ca == 2 and {a, b} == {F16, BF16}:
        return F32
    return a if a.itemsize >= b.itemsize else b


def _combine(higher, lower):
    """c10's combine_categories: a lower-priority group only raises the category."""
    if higher is not None and higher.is_floating_point:
        return higher
    if higher is B or (lower is not None and lower.is_floating_point):
        return promote_types(higher, lower)
    return higher if higher is not None else lower


def promoted_dtype(operands):
    """The result dtype of a pointwise op on ``operands`` (Inputs and Python numbers)."""
    dim_t = zero_t = wrapped = None
    for o in operands:
        if isinstance(o, Input):
            if len(o.shape):
                dim_t = promote_types(dim_t, o.dtype)
            else:
                zero_t = promote_types(zero_t, o.dtype)
        elif isinstance(o, bool):
            wrapped = promote_types(wrapped, B)
        elif isinstance(o, int):
            wrapped = promote_types(wrapped, I64)
        elif isinstance(o, float):
            wrapped = promote_types(wrapped, _dtypes.get_default_dtype())
    return _combine(dim_t, _combine(zero_t, wrapped))


# ---- helpers ----------------------------------------------------------------------------------
def _np(d):
    return d.numpy


def _opmath(d):
    return np.float32 if d in _HALF else _np(d)


def _dt(a):
    return _dtypes.from_numpy_dtype(a.dtype)


def _as(v, d):
    """``v`` (array or Python number) in dtype ``d`` the way PyTorch casts: integers wrap."""
    with np.errstate(all="ignore"):
        if isinstance(v, np.ndarray):
            if d is B:
                return v != 0 if v.dtype != bool else v
            if not d.is_floating_point and v.dtype.kind == "f":
                return v.astype(np.float64).astype(np.int64).astype(_np(d))
            return v.astype(_np(d))
        if d is B:
            return np.asarray(bool(v))
        if d.is_floating_point:
            return np.asarray(v, dtype=np.float64).astype(_np(d))
        if isinstance(v, float):
            v = int(v) if math.isfinite(v) else 0
        return np.asarray(int(v)).astype(np.int64).astype(_np(d))


def _out(a, d):
    with np.errstate(all="ignore"):
        return [(np.asarray(_as(np.asarray(a), d)), d)]


def _float_result(d):
    return d if d.is_floating_point else _dtypes.get_default_dtype()


def _axes(dim, ndim):
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return None
    if isinstance(dim, (list, tuple)):
        return tuple(int(d) % max(ndim, 1) for d in dim) if ndim else None
    return int(dim) % max(ndim, 1) if ndim else None


# ---- pointwise ----------------------------------------------------------------------------------
def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64)).astype(x.dtype) if x.size else x


def _sigmoid(x):
    with np.errstate(all="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


FLOAT_UNARY = {"exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log2": np.log2,
               "log10": np.log10, "log1p": np.log1p, "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x),
               "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
               "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "sigmoid": _sigmoid,
               "erf": _erf, "reciprocal": lambda x: 1 / x}


def _float_unary(fn):
    def ref(input):
        d = _float_result(_dt(input))
        with np.errstate(all="ignore"):
            return _out(fn(input.astype(_opmath(d))), d)
    return ref


def _same_dtype_unary(fn, bool_fn=None):
    def ref(input):
        d = _dt(input)
        if d is B and bool_fn is not None:
            return _out(bool_fn(input), d)
        x = input.astype(_opmath(d)) if d.is_floating_point else input
        with np.errstate(all="ignore"):
            return _out(fn(x), d)
    return ref


def _predicate(fn):
    def ref(input):
        d = _dt(input)
        x = input.astype(_opmath(d)) if d.is_floating_point else input
        return _out(fn(x), B)
    return ref


def _binary(fn, result=None, int_fn=None, bool_fn=None, float_only_result=False):
    """``fn`` on the operands promoted PyTorch's way; ``result`` maps the promoted dtype to the
    result's (comparisons give bool, true division a float)."""
    def ref(input, other, **kw):
        d = promoted_dtype([_wrap(input), _wrap(other)])
        out = result(d) if result else d
        x, y = _in(input, d), _in(other, d)
        with np.errstate(all="ignore"):
            if d is B and bool_fn is not None:
                r = bool_fn(x, y)
            elif not d.is_floating_point and int_fn is not None:
                r = int_fn(x, y)
                if r is None:
                    return None
            else:
                if float_only_result and not d.is_floating_point:
                    x, y = x.astype(_opmath(out)), y.astype(_opmath(out))
                r = fn(x, y)
        return _out(r, out)
    return ref


def _wrap(v):
    """Host values back into something ``promoted_dtype`` reads (arrays carry their shape)."""
    if isinstance(v, np.ndarray):
        return Input(v) if v.ndim else Input(v.reshape(()), shape=())
    return v


def _in(v, d):
    a = _as(v, d)
    return a.astype(_opmath(d)) if d.is_floating_point else a


def _int_div(np_fn):
    def f(x, y):
        if np.any(np.asarray(y) == 0):
            return None    # PyTorch raises ZeroDivisionError (a RuntimeError) for integers
        return np_fn(x, y)
    return f


def _int_pow(x, y):
    if np.any(np.asarray(y) < 0):
        return None
    return np.power(x.astype(np.int64), y.astype(np.int64))


def _bool_result(d):
    return B


REFERENCES = {n: _float_unary(f) for n, f in FLOAT_UNARY.items()}
REFERENCES.update({
    "neg": _same_dtype_unary(np.negative), "abs": _same_dtype_unary(np.abs, lambda x: x),
    "sign": _same_dtype_unary(np.sign, lambda x: x), "floor": _same_dtype_unary(np.floor),
    "ceil": _same_dtype_unary(np.ceil), "trunc": _same_dtype_unary(np.trunc), "round": _same_dtype_unary(np.round),
    "square": lambda input: _out(input.astype(np.int64) ** 2, I64) if input.dtype == bool
    else _same_dtype_unary(lambda x: x * x)(input), "relu": _same_dtype_unary(lambda x: np.where((x > 0) | (x != x), x, 0)),
    "frac": _same_dtype_unary(lambda x: x - np.trunc(x)),
    "bitwise_not": _same_dtype_unary(np.invert, np.logical_not),
    "isnan": _predicate(np.isnan), "isinf": _predicate(np.isinf), "isfinite": _predicate(np.isfinite),
    "logical_not": _predicate(np.logical_not),
    "add": _binary(np.add, bool_fn=np.logical_or), "sub": _binary(np.subtract),
    "mul": _binary(np.multiply, bool_fn=np.logical_and),
    "div": _binary(np.true_divide, result=_float_result, float_only_result=True),
    "true_divide": _binary(np.true_divide, result=_float_result, float_only_result=True),
    "floor_divide": _binary(np.floor_divide, int_fn=_int_div(np.floor_divide)),
    "remainder": _binary(np.remainder, int_fn=_int_div(np.remainder)),
    "fmod": _binary(np.fmod, int_fn=_int_div(np.fmod)),
    "atan2": _binary(np.arctan2, result=_float_result, float_only_result=True),
    "pow": _binary(np.power, int_fn=_int_pow),
    "maximum": _binary(np.maximum), "minimum": _binary(np.minimum),
    "eq": _binary(np.equal, result=_bool_result), "ne": _binary(np.not_equal, result=_bool_result),
    "lt": _binary(np.less, result=_bool_result), "le": _binary(np.less_equal, result=_bool_result),
    "gt": _binary(np.greater, result=_bool_result), "ge": _binary(np.greater_equal, result=_bool_result),
    "logical_and": _binary(np.logical_and, result=_bool_result),
    "logical_or": _binary(np.logical_or, result=_bool_result),
    "logical_xor": _binary(np.logical_xor, result=_bool_result),
    "bitwise_and": _binary(np.bitwise_and), "bitwise_or": _binary(np.bitwise_or),
    "bitwise_xor": _binary(np.bitwise_xor),
    "bitwise_left_shift": _binary(None, int_fn=lambda x, y: np.left_shift(x, y)),
    "bitwise_right_shift": _binary(None, int_fn=lambda x, y: np.right_shift(x, y)),
    "logaddexp": _binary(np.logaddexp),
})


def _rsub(input, other, alpha=1):
    if alpha != 1:
        return None
    return REFERENCES["sub"](other, input)


def _where(condition, input, other):
    d = promoted_dtype([_wrap(input), _wrap(other)])
    return _out(np.where(condition, _in(input, d), _in(other, d)), d)


def _clamp(input, min=None, max=None):
    if min is None and max is None:
        return None
    d = promoted_dtype([_wrap(input)] + [_wrap(v) for v in (min, max) if v is not None])
    x = _in(input, d)
    with np.errstate(all="ignore"):
        if min is not None:
            lo = _in(min, d)
            x = np.where(np.isnan(x) if d.is_floating_point else False, x, np.maximum(x, lo))
        if max is not None:
            hi = _in(max, d)
            x = np.where(np.isnan(x) if d.is_floating_point else False, x, np.minimum(x, hi))
    return _out(x, d)


def _lerp(input, end, weight):
    d = promoted_dtype([_wrap(input), _wrap(end)])
    if not d.is_floating_point or not isinstance(weight, (int, float)):
        return None
    a, b, w = _in(input, d), _in(end, d), float(weight)
    with np.errstate(all="ignore"):
        r = a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1 - w)
    return _out(r, d)


def _nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    d = _dt(input)
    if not d.is_floating_point:
        return _out(input, d)
    fi = _dtypes.finfo(d)
    x = input.astype(np.float64)
    x = np.where(np.isnan(x), nan, x)
    x = np.where(np.isposinf(x), float(fi.max) if posinf is None else posinf, x)
    x = np.where(np.isneginf(x), float(fi.min) if neginf is None else neginf, x)
    return _out(x, d)


def _threshold_backward(grad_output, input, threshold):
    d = promoted_dtype([_wrap(grad_output), _wrap(input)])
    return _out(np.where(input <= threshold, 0, grad_output), d)


REFERENCES.update({"rsub": _rsub, "where": _where, "clamp": _clamp, "lerp": _lerp, "nan_to_num": _nan_to_num,
                   "clamp_min": lambda input, min: _clamp(input, min=min),
                   "clamp_max": lambda input, max: _clamp(input, max=max),
                   "threshold_backward": _threshold_backward})


# ---- reductions -------------------------------------------------------------------------------
def _acc_dtype(d):
    return I64 if not d.is_floating_point else d


def _reduce(np_fn, result):
    def ref(input, dim=None, keepdim=False, *, dtype=None):
        d_in = _dt(input)
        d = dtype if dtype is not None else result(d_in)
        acc = np.float64 if d.is_floating_point else np.int64
        x = _as(input, d) if dtype is not None else input
        with np.errstate(all="ignore"):
            r = np_fn(x.astype(acc), axis=_axes(dim, input.ndim), keepdims=bool(keepdim))
        return _out(r, d)
    return ref


def _minmax(np_fn):
    def ref(input, dim=None, keepdim=False, *, dtype=None):
        d = _dt(input)
        ax = _axes(dim, input.ndim)
        x = input.astype(np.float64) if d.is_floating_point else input
        if x.size == 0:
            return None
        return _out(np_fn(x, axis=ax, keepdims=bool(keepdim)), d)
    return ref


def _all_any(np_fn):
    """uint8 in, uint8 out (PyTorch keeps it for backward compatibility); ``dim=[]`` reduces
    nothing here, unlike the other reductions."""
    def ref(input, dim=None, keepdim=False, *, dtype=None):
        d = U8 if _dt(input) is U8 else B
        axis = () if isinstance(dim, (list, tuple)) and not dim else _axes(dim, input.ndim)
        return _out(np_fn(input != 0, axis=axis, keepdims=bool(keepdim)), d)
    return ref


def _arg(np_fn):
    def ref(input, dim=None, keepdim=False):
        if dim is None and keepdim:
            return None
        x = input.astype(np.float64) if input.dtype.kind == "f" or str(input.dtype) == "bfloat16" else input
        if x.ndim == 0:
            return _out(np.asarray(0), I64)
        if dim is None:
            return _out(np_fn(x.reshape(-1)), I64) if x.size else None
        ax = int(dim) % x.ndim
        if x.shape[ax] == 0:
            return None
        r = np_fn(x, axis=ax)
        return _out(np.expand_dims(r, ax) if keepdim else r, I64)
    return ref


def _mean(input, dim=None, keepdim=False, *, dtype=None):
    d = dtype or _dt(input)
    if not d.is_floating_point:
        return None
    with np.errstate(all="ignore"):
        return _out(np.mean(input.astype(np.float64), axis=_axes(dim, input.ndim), keepdims=bool(keepdim)), d)


def _count_nonzero(input, dim=None):
    return _out(np.count_nonzero(input, axis=_axes(dim, input.ndim)), I64)


def _scan(np_fn):
    def ref(input, dim, *, dtype=None):
        d = dtype if dtype is not None else _acc_dtype(_dt(input))
        x = _as(input, d) if dtype is not None else input
        acc = np.float64 if d.is_floating_point else np.int64
        if x.ndim == 0:
            return _out(x, d)
        with np.errstate(all="ignore"):
            return _out(np_fn(x.astype(acc), axis=int(dim) % x.ndim), d)
    return ref


def _var(sqrt, with_mean=False):
    def ref(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
        d = _dt(input)
        if not d.is_floating_point:
            return None
        ddof = correction if correction is not None else (0 if unbiased is False else 1)
        ax = _axes(dim, input.ndim)
        x = input.astype(np.float64)
        with np.errstate(all="ignore"):
            n = x.size if ax is None else math.prod(x.shape[a] for a in (ax if isinstance(ax, tuple) else (ax,)))
            m = np.mean(x, axis=ax, keepdims=True) if n else np.full([1] * x.ndim, np.nan)
            ss = np.sum((x - m) ** 2, axis=ax, keepdims=bool(keepdim))
            v = ss / max(n - ddof, 0)
            r = np.sqrt(v) if sqrt else v
            out = _out(r, d)
            if with_mean:
                out += _out(np.mean(x, axis=ax, keepdims=bool(keepdim)) if n else np.full(np.shape(r), np.nan), d)
        return out
    return ref


def _logsumexp(input, dim, keepdim=False):
    d = _dt(input)
    if not d.is_floating_point:
        return None
    x = input.astype(np.float64)
    ax = _axes(dim, x.ndim)
    with np.errstate(all="ignore"):
        if x.ndim == 0:
            return _out(x, d)
        m = np.max(x, axis=ax, keepdims=True) if x.size else np.zeros([1] * x.ndim)
        m = np.where(np.isfinite(m), m, 0.0)
        r = np.log(np.sum(np.exp(x - m), axis=ax, keepdims=True)) + m
        if not keepdim:
            r = np.squeeze(r, axis=ax)
    return _out(r, d)


def _softmax(log):
    def ref(input, dim, dtype=None):
        d = dtype or _dt(input)
        if not d.is_floating_point:
            return None
        x = input.astype(np.float64)
        if x.ndim == 0:
            return _out(np.zeros(()) if log else np.ones(()), d)
        ax = int(dim) % x.ndim
        with np.errstate(all="ignore"):
            m = np.max(x, axis=ax, keepdims=True) if x.size else 0.0
            e = x - m
            s = np.sum(np.exp(e), axis=ax, keepdims=True)
            r = e - np.log(s) if log else np.exp(e) / s
        return _out(r, d)
    return ref


REFERENCES.update({
    "sum": _reduce(np.sum, _acc_dtype), "prod": _reduce(np.prod, _acc_dtype),
    "amax": _minmax(np.max), "amin": _minmax(np.min), "all": _all_any(np.all), "any": _all_any(np.any),
    "argmax": _arg(np.argmax), "argmin": _arg(np.argmin), "mean": _mean, "count_nonzero": _count_nonzero,
    "cumsum": _scan(np.cumsum), "cumprod": _scan(np.cumprod), "var": _var(False), "std": _var(True),
    "var_mean": _var(False, True), "std_mean": _var(True, True), "logsumexp": _logsumexp,
    "softmax": _softmax(False), "log_softmax": _softmax(True),
})


# ---- shape ------------------------------------------------------------------------------------
def _shape_arg(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (list, tuple)) else tuple(shape)


def _same(fn):
    def ref(input, *args, **kwargs):
        return _out(fn(input, *args, **kwargs), _dt(input))
    return ref


def _expand(x, *sizes):
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        return None
    target = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return _out(np.broadcast_to(x, target), _dt(x))


def _flip(x, dims):
    if x.ndim == 0:
        return _out(x, _dt(x))
    dims = [dims] if isinstance(dims, int) else dims
    return _out(np.flip(x, axis=tuple(int(d) for d in dims)) if len(dims) else x, _dt(x))


def _squeeze(x, dim=None):
    if x.ndim == 0 or dim is None:
        return _out(np.squeeze(x), _dt(x))
    dims = [dim] if isinstance(dim, int) else list(dim)
    axes = tuple(d % x.ndim for d in dims if x.shape[d % x.ndim] == 1)
    return _out(np.squeeze(x, axis=axes) if axes else x, _dt(x))


def _flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return _out(x.reshape(1), _dt(x))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    if s > e:
        return None
    return _out(x.reshape(x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]), _dt(x))


def _unflatten(x, dim, sizes):
    d = dim % x.ndim
    return _out(x.reshape(x.shape[:d] + tuple(sizes) + x.shape[d + 1:]), _dt(x))


def _narrow(x, dim, start, length):
    d = dim % max(x.ndim, 1)
    start = start % x.shape[d] if start < 0 else start
    return _out(np.take(x, np.arange(start, start + length), axis=d), _dt(x))


def _select(x, dim, index):
    return _out(np.take(x, index, axis=dim % x.ndim), _dt(x))


def _slice(x, dim=0, start=None, end=None, step=1):
    idx = [slice(None)] * x.ndim
    idx[dim % x.ndim] = slice(start, end, step)
    return _out(x[tuple(idx)], _dt(x))


def _cat(tensors, dim=0):
    d = reduce(promote_types, [_dt(t) for t in tensors])
    keep = [t for t in tensors if not (t.shape == (0,) and any(u.ndim > 1 for u in tensors))]
    if not keep:
        return _out(np.zeros((0,)), d)
    return _out(np.concatenate([_as(t, d) for t in keep], axis=dim % keep[0].ndim), d)


def _stack(tensors, dim=0):
    d = reduce(promote_types, [_dt(t) for t in tensors])
    return _out(np.stack([_as(t, d) for t in tensors], axis=dim % (tensors[0].ndim + 1)), d)


def _pieces(x, d, bounds):
    return [(np.take(x, np.arange(a, b), axis=d), _dt(x)) for a, b in bounds]


def _split(tensor, split_size_or_sections, dim=0):
    x = tensor
    d = dim % max(x.ndim, 1)
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        if s <= 0:
            return None
        bounds = [(i, min(i + s, n)) for i in range(0, n, s)] or [(0, 0)]
    else:
        cuts = np.cumsum([0] + list(split_size_or_sections))
        bounds = list(zip(cuts[:-1], cuts[1:]))
    return _pieces(x, d, bounds)


def _chunk(input, chunks, dim=0):
    x = input
    d = dim % max(x.ndim, 1)
    n = x.shape[d]
    if n == 0 or chunks <= 0:
        return None
    return _split(x, -(-n // chunks), dim)


def _unbind(input, dim=0):
    d = dim % input.ndim
    return [(np.take(input, i, axis=d), _dt(input)) for i in range(input.shape[d])]


def _roll(x, shifts, dims=None):
    return _out(np.roll(x, shifts, axis=dims), _dt(x))


def _repeat(x, *sizes):
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        return None
    return _out(np.tile(x, sizes), _dt(x))


def _permute(x, *dims):
    return _out(np.transpose(x, _shape_arg(dims)) if x.ndim else x, _dt(x))


def _transpose(x, dim0, dim1):
    return _out(np.swapaxes(x, dim0, dim1) if x.ndim else x, _dt(x))


def _movedim(x, source, destination):
    return _out(np.moveaxis(x, source, destination) if x.ndim else x, _dt(x))


def _to_dtype(input, dtype):
    x = input
    if x.dtype.kind == "f" or str(x.dtype) == "bfloat16":
        x = x.astype(np.float64)
        if not dtype.is_floating_point and dtype is not B:
            return _out(np.trunc(x), dtype)
    return _out(x, dtype)


REFERENCES.update({
    "view": lambda input, *shape: _out(input.reshape(_shape_arg(shape)), _dt(input)),
    "reshape": lambda input, *shape: _out(input.reshape(_shape_arg(shape)), _dt(input)),
    "expand": _expand, "broadcast_to": lambda input, size: _expand(input, *size),
    "expand_as": lambda input, other: _out(np.broadcast_to(input, other.shape), _dt(input)),
    "permute": _permute, "transpose": _transpose, "t": _same(lambda x: x.T if x.ndim == 2 else x),
    "flip": _flip, "squeeze": _squeeze, "flatten": _flatten, "unflatten": _unflatten,
    "unsqueeze": lambda input, dim: _out(np.expand_dims(input, dim % (input.ndim + 1)), _dt(input)),
    "narrow": _narrow, "select": _select, "slice": _slice, "cat": _cat, "stack": _stack, "split": _split,
    "chunk": _chunk, "unbind": _unbind, "movedim": _movedim, "roll": _roll, "repeat": _repeat,
    "tile": lambda input, dims: _out(np.tile(input, tuple(dims)), _dt(input)),
    "diagonal": _same(lambda x, offset=0, dim1=0, dim2=1: np.diagonal(x, offset, dim1, dim2)),
    "tril": _same(lambda x, diagonal=0: np.tril(x, diagonal)), "triu": _same(lambda x, diagonal=0: np.triu(x, diagonal)),
    "clone": _same(lambda x, **kw: x), "contiguous": _same(lambda x, memory_format=None: x), "_to_dtype": _to_dtype,
})


# ---- indexing -----------------------------------------------------------------------------------
def _index(input, indices):
    idx = tuple(slice(None) if i is None else i.astype(np.int64) if i.dtype != bool else i for i in indices)
    return _out(input[idx], _dt(input))


def _index_put(input, indices, values, accumulate=False):
    d = _dt(input)
    res = input.copy()
    idx = tuple(slice(None) if i is None else i.astype(np.int64) if i.dtype != bool else i for i in indices)
    vals = _as(values, d)
    if accumulate:
        target = res[idx]
        vals = np.broadcast_to(vals, target.shape)
        if d.is_floating_point:
            acc = res.astype(np.float64)
            np.add.at(acc, idx, vals.astype(np.float64))
            return _out(acc, d)
        with np.errstate(all="ignore"):
            np.add.at(res, idx, vals)
        return _out(res, d)
    res[idx] = vals
    return _out(res, d)


def _gather(input, dim, index, **kw):
    if input.ndim == 0:
        return _out(np.broadcast_to(input, index.shape).copy(), _dt(input))
    d = dim % input.ndim
    cut = tuple(slice(None) if i == d else slice(0, s) for i, s in enumerate(index.shape))
    return _out(np.take_along_axis(input[cut], index.astype(np.int64), axis=d), _dt(input))


def _scatter(add):
    def ref(input, dim, index, src, reduce=None):
        if reduce not in (None, "add") or input.ndim == 0:
            return None
        d = _dt(input)
        res = input.astype(np.float64).copy() if d.is_floating_point else input.copy()
        ax = dim % input.ndim
        grids = list(np.indices(index.shape, sparse=True))
        grids[ax] = index.astype(np.int64)
        if isinstance(src, np.ndarray):
            cut = tuple(slice(0, s) for s in index.shape)
            vals = _as(src[cut] if src.ndim else np.broadcast_to(src, index.shape), d)
        else:
            vals = np.broadcast_to(_as(src, d), index.shape)
        vals = vals.astype(res.dtype)
        with np.errstate(all="ignore"):
            if add or reduce == "add":
                np.add.at(res, tuple(grids), vals)
            else:
                res[tuple(grids)] = vals
        return _out(res, d)
    return ref


def _index_select(input, dim, index):
    if input.ndim == 0:
        return None
    return _out(np.take(input, index.reshape(-1).astype(np.int64), axis=dim % input.ndim), _dt(input))


def _masked_fill(input, mask, value):
    d = _dt(input)
    return _out(np.where(np.broadcast_to(mask, input.shape), _as(value, d), input), d)


def _masked_select(input, mask):
    x, m = np.broadcast_arrays(input, mask)
    return _out(x[m], _dt(input))


def _nonzero(input, as_tuple=False):
    if as_tuple:
        return None
    return _out(np.argwhere(input).reshape(-1, input.ndim), I64)


REFERENCES.update({"index": _index, "index_put": _index_put, "gather": _gather, "scatter": _scatter(False),
                   "scatter_add": _scatter(True), "index_select": _index_select, "masked_fill": _masked_fill,
                   "masked_select": _masked_select, "nonzero": _nonzero})


# ---- matrix products --------------------------------------------------------------------------
def _product(np_fn):
    def ref(input, other=None, **kw):
        b = other if other is not None else next(iter(kw.values()))
        d = _dt(input)
        if _dt(b) is not d or d is B:
            return None
        acc = np.float64 if d.is_floating_point else np.int64
        with np.errstate(all="ignore"):
            return _out(np_fn(input.astype(acc), b.astype(acc)), d)
    return ref


def _einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    dts = {_dt(o) for o in operands}
    if len(dts) != 1:
        return None
    d = dts.pop()
    if not d.is_floating_point:
        return None     # PyTorch's integer einsum keeps the dtype through bmm but widens through sum
    with np.errstate(all="ignore"):
        return _out(np.einsum(equation, *[o.astype(np.float64) for o in operands]), d)


REFERENCES.update({"einsum": _einsum, "matmul": _product(np.matmul), "_matmul": _product(np.matmul), "mm": _product(np.matmul),
                   "bmm": _product(np.matmul), "dot": _product(np.dot), "outer": _product(np.outer)})


# ---- the entry point ----------------------------------------------------------------------------
def host_args(sample):
    """The sample's arguments with every Input replaced by its logical host values."""
    def conv(v):
        if isinstance(v, Input):
            return v.logical()
        if v is DEVICE:
            return None
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, tuple):
            return tuple(conv(x) for x in v)
        return v
    return [conv(a) for a in sample.args], {k: conv(v) for k, v in sample.kwargs.items()}


def reference(call):
    """``[(array, dtype), ...]`` PyTorch returns for ``call``, or None when there is no reference."""
    fn = REFERENCES.get(call.op)
    if fn is None or (custom_fn(call.entry) and call.target == "op"):
        return None
    args, kwargs = host_args(call.sample)
    if call.target == "public":
        try:
            bound = inspect.signature(getattr(pt, call.op)).bind(*args, **kwargs)
        except TypeError:
            return None
        args, kwargs = _rebind_for_op(call.op, bound)
        if args is None:
            return None
    return fn(*args, **kwargs)


def _rebind_for_op(op, bound):
    """Arguments bound to the public function, passed on by the op's parameter names."""
    from plugtorch.dispatch.registry import OPS
    sig = OPS[op].signature
    names = list(sig.parameters)
    args, kwargs = [], {}
    for name, value in bound.arguments.items():
        p = bound.signature.parameters[name]
        if p.kind is p.VAR_POSITIONAL:
            args.extend(value)
        elif p.kind is p.VAR_KEYWORD:
            kwargs.update(value)
        elif name in names:
            kwargs[name] = value
        else:
            return None, None
    return args, kwargs
