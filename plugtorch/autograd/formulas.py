"""Backward formulas, one per differentiable op, keyed by the op's registered name.

Each formula is ``f(grad, *op_args, **op_kwargs) -> grads for the op's leading arguments``,
written with plugtorch ops so it runs on every backend and can itself be differentiated
(``create_graph=True``). The engine reduces each gradient to its input's shape (undoing
broadcasting) and casts it to the input's dtype, so formulas need not.

``save=`` names the arguments the formula reads (default: all tensor arguments); the others
reach it as shape/dtype stand-ins, and are not kept alive by the graph. ``result=True`` passes
the op's output(s) as ``result=``. ``when=`` limits a composite op's formula to the calls it
covers; autograd differentiates the others through the op's decomposition.
"""
from __future__ import annotations

import cmath
import inspect
import math

import plugtorch as pt
from plugtorch._caches import Memo
from plugtorch.autograd.graph import TensorMeta

FORMULAS: dict = {}
RECORD_CACHE: dict = {}   # op -> what engine.record needs to know about it; derivative() clears it


class Formula:
    """One op's backward: the function and what the graph must keep for it."""

    __slots__ = ("fn", "saves", "uses_result", "result_for", "record_inplace", "shapes", "when", "needs")

    def __init__(self, fn, saves, uses_result, record_inplace=None, shapes=True, when=None, needs=None,
                 result_for=None):
        self.fn = fn
        self.result_for = result_for
        self.when = when
        self.needs = needs
        self.saves = saves
        self.uses_result = uses_result
        self.record_inplace = record_inplace
        self.shapes = shapes


def derivative(name, fn, save=None, result=False, shapes=True, when=None, needs=None):
    """Register ``fn`` as the backward formula of op ``name``.

    ``save``: the names of the tensor arguments ``fn`` reads (default: all); ``result``: pass
    the op's output as ``result=``, or ``result=(names)``: keep the output only when one of those
    arguments requires grad (None reaches ``fn`` otherwise: pow's output serves only the
    exponent's gradient, so ``y = x ** 2; y += 1`` stays differentiable, as in PyTorch);
    ``shapes=False``: ``fn`` does not even read the unsaved
    arguments' shapes, so they reach it as None (``shapes="geometry"``: it reads their strides
    and storage offsets too); ``when(args, kwargs)``: whether ``fn`` covers
    this call (tensor arguments positional) of a composite op; when it says no, the op's
    decomposition is recorded instead. ``needs``: {argument: the arguments whose gradients read
    it}; an argument is then saved only when one of those requires grad (as PyTorch: ``a * b``
    with only ``a`` requiring grad keeps ``b``, so writing into ``a`` in place afterwards is
    fine); ``fn`` gets it as a TensorMeta otherwise and must not read its data.
    """
    params = list(inspect.signature(fn).parameters)[1:]
    if save is None:
        saves = None
    else:
        saves = frozenset(params.index(s) for s in save)
    if needs is not None:
        needs = {params.index(k): tuple(params.index(u) for u in v) for k, v in needs.items()}
    result_for = None
    if isinstance(result, tuple):
        result_for = frozenset(params.index(r) for r in result)
        result = True
    FORMULAS[name] = Formula(fn, saves, result, shapes=shapes, when=when, needs=needs, result_for=result_for)
    RECORD_CACHE.clear()


def sum_to(g, shape):
    """Sum ``g`` over the dims that broadcasting added or stretched, giving ``shape``."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1]
    if dims:
        g = g.sum(dims, keepdim=True)
    if lead:
        g = g.reshape(shape)
    return g


def _expand_back(g, x, dims, keepdim):
    """Gradient of a reduction over ``dims``: broadcast ``g`` back to ``x``'s shape."""
    shape = tuple(x.shape)
    if not keepdim and g.ndim:   # put the reduced dims back as size 1 (a 0-d g expands as is)
        g = g.reshape(tuple(1 if i in dims else n for i, n in enumerate(shape)))
    return broadcast_grad(g, shape)


_ONES = Memo(256)   # (shape, dtype, device id) -> ones, for broadcast_grad


def broadcast_grad(g, shape):
    """``g`` broadcast to ``shape`` as a fresh tensor.

    Small gradients are multiplied by a cached tensor of ones: one pointwise kernel costs far
    less than an expand (a strided view the leaf's AccumulateGrad would copy anyway) on the
    small graphs where per-op overhead dominates. ``g * 1`` is exact, inf and nan included.
    """
    n = 1
    for d in shape:
        n *= d
    if n > 4096:
        return g.expand(shape)
    key = (shape, g._dtype, id(g._device))    # id: devices are interned, and hashing one is a call
    ones = _ONES.get(key)
    if ones is None or ones._device is not g._device:
        from plugtorch.dispatch.dispatcher import outside_modes
        with pt.no_grad(), outside_modes():    # (a cached constant: a tracer captures it)
            ones = _ONES[key] = pt.ones(shape, dtype=g._dtype, device=g._device)
    return g * ones


def conj_if_complex(v):
    """``v``'s complex conjugate if it is complex (a tensor or a Python complex), else ``v`` itself:
    formulas multiply by conj(f'(z)) (complex_formulas.py), which costs nothing for real tensors."""
    if v.__class__ is complex:
        return v.conjugate()
    if isinstance(v, pt.Tensor) and v._dtype.is_complex:
        return v.conj()
    return v


_c = conj_if_complex
_LN2, _LN10 = math.log(2.0), math.log(10.0)
# piecewise-constant ops: zeros, not g * 0, so an inf or nan upstream gradient gives 0 as PyTorch
# (lp_pool's sign(s) * relu(|s|) at s = 0 meets pow(1/p)'s inf there)
_zero = lambda g, x: (pt.zeros_like(g),)  # noqa: E731

# ---- unary --------------------------------------------------------------------------------
derivative("neg", lambda g, x: (-g,), save=(), shapes=False)
derivative("abs", lambda g, x: (g * (x.sgn() if x._dtype.is_complex else x.sign()),))
for _n in ("sign", "floor", "ceil", "trunc", "round"):
    derivative(_n, _zero, save=())
derivative("exp", lambda g, x, result: (g * _c(result),), save=(), result=True)
derivative("exp2", lambda g, x, result: (g * _c(result) * _LN2,), save=(), result=True)
derivative("expm1", lambda g, x, result: (g * _c(result + 1),), save=(), result=True)
derivative("log", lambda g, x: (g / _c(x),))
derivative("log2", lambda g, x: (g / _c(x * _LN2),))
derivative("log10", lambda g, x: (g / _c(x * _LN10),))
derivative("log1p", lambda g, x: (g / _c(x + 1),))
derivative("sqrt", lambda g, x, result: (g / _c(2 * result),), save=(), result=True)
derivative("rsqrt", lambda g, x, result: (g * _c(result * result * result) * -0.5,), save=(), result=True)
derivative("sin", lambda g, x: (g * _c(x.cos()),))
derivative("cos", lambda g, x: (-g * _c(x.sin()),))
derivative("tan", lambda g, x, result: (g * _c(1 + result * result),), save=(), result=True)
derivative("asin", lambda g, x: (g * _c((1 - x * x).rsqrt()),))
derivative("acos", lambda g, x: (-g * _c((1 - x * x).rsqrt()),))
derivative("atan", lambda g, x: (g / _c(1 + x * x),))
derivative("sinh", lambda g, x: (g * _c(x.cosh()),))
derivative("cosh", lambda g, x: (g * _c(x.sinh()),))
derivative("tanh", lambda g, x, result: (g * _c(1 - result * result),), save=(), result=True)
derivative("sigmoid", lambda g, x, result: (g * _c(result * (1 - result)),), save=(), result=True)
derivative("erf", lambda g, x: (g * (2 / math.sqrt(math.pi)) * (-(x * x)).exp(),))
derivative("reciprocal", lambda g, x, result: (-g * _c(result * result),), save=(), result=True)

# ---- binary -------------------------------------------------------------------------------
derivative("add", lambda g, a, b: (g, g), save=(), shapes=False)
derivative("sub", lambda g, a, b: (g, -g), save=(), shapes=False)
def _held(x) -> bool:
    """Whether the formula got argument ``x`` itself (not a TensorMeta standing for it)."""
    return x.__class__ is not TensorMeta


derivative("mul", lambda g, a, b: (g * _c(b) if _held(b) else None, g * _c(a) if _held(a) else None),
           needs={"a": ("b",), "b": ("a",)})
derivative("div", lambda g, a, b: (g / _c(b), -g * _c(a) / _c(b * b) if _held(a) else None),
           needs={"a": ("b",), "b": ("a", "b")})
def _zero_grad(g, x):
    """The gradient of a step function (zero almost everywhere) for input ``x``; None for a number."""
    if isinstance(x, (int, float, bool, complex)):
        return None
    return pt.zeros(tuple(x.shape), dtype=g.dtype, device=g.device)


# floor_divide, and so div(rounding_mode='floor'): zero gradients, as PyTorch's div with a rounding
# mode (PyTorch's floor_divide itself raises at backward; the derivative is 0 almost everywhere)
derivative("floor_divide", lambda g, a, b: (_zero_grad(g, a), _zero_grad(g, b)), save=())
derivative("remainder", lambda g, a, b: (g, -g * pt.floor_divide(a, b)))
derivative("fmod", lambda g, a, b: (g, -g * (a / b).trunc()))


def _nonneg(b):
    """b >= 0; for a complex b: real and >= 0 (PyTorch's pow_backward_exponent)."""
    return (b.real >= 0) & (b.imag == 0) if b._dtype.is_complex else b >= 0


def _pow_grad(g, a, b, result):
    # (result: the output, kept only when the exponent requires grad; g has its dtype)
    cplx = g._dtype.is_complex     # then grad * conj(derivative), logs taken in complex
    ga = None
    if isinstance(a, pt.Tensor):
        ga = g * _c(b * pt.pow(a, b - 1)) if cplx else g * b * pt.pow(a, b - 1)
        # an exponent of 0 makes a^b constant: gradient 0, not 0 * 0^-1 = nan at a == 0 (PyTorch)
        ga = pt.where(b == 0, 0.0, ga) if isinstance(b, pt.Tensor) else (pt.zeros_like(ga) if b == 0 else ga)
    gb = None
    if isinstance(b, pt.Tensor) and result is not None:     # (None: b needs no gradient)
        if isinstance(a, pt.Tensor):
            # d/db a^b = a^b log a, taken as 0 where a == 0 and b >= 0 (PyTorch's convention)
            zero = (a == 0) & _nonneg(b)
            base = pt.where(zero, 1.0, a)
            if cplx:
                gb = pt.where(zero, 0.0, g * _c(result * base.to(result._dtype).log()))
            else:
                gb = pt.where(zero, 0.0, g * result * base.log())
        elif a == 0:      # 0^b: 0 where b >= 0, else result * log 0 (PyTorch)
            gb = pt.where(_nonneg(b), 0.0, g * _c(result * -math.inf) if cplx else g * result * -math.inf)
        elif cplx:
            gb = g * _c(result * cmath.log(a))
        else:
            gb = g * result * (math.log(a) if a > 0 else float("nan"))
    return ga, gb


derivative("pow", _pow_grad, result=("b",))


def _atan2_grad(g, a, b):
    # 1 / (a^2 + b^2), 0 where that is 0 (PyTorch's): the origin's gradient is 0, not 0 * inf = nan
    d = a * a + b * b
    r = pt.where(d == 0, 0.0, 1 / pt.where(d == 0, 1.0, d))
    return g * b * r, -g * a * r


derivative("atan2", _atan2_grad)


def _minmax_grad(pick):
    def f(g, a, b):
        win = pick(a, b)
        tie = a == b
        half = g * 0.5
        # an operand gets nothing only where the other one wins: with a nan (the result) both get it, as PyTorch
        ga = pt.where(tie, half, pt.where(pick(b, a), 0.0, g))
        gb = pt.where(tie, half, pt.where(win, 0.0, g))
        return ga, gb
    return f


derivative("maximum", _minmax_grad(lambda a, b: a > b))
derivative("minimum", _minmax_grad(lambda a, b: a < b))
derivative("where", lambda g, c, a, b: (None, pt.where(c, g, 0.0) if _is_tensor(a) else None,
                                         pt.where(c, 0.0, g) if _is_tensor(b) else None), save=("c",))

# ---- reductions ---------------------------------------------------------------------------


def _is_tensor(v):
    """A tensor argument, saved or passed as a shape stand-in (graph.TensorMeta)."""
    return isinstance(v, (pt.Tensor, TensorMeta))


def _dims(x, dim):
    return pt.dispatch.meta.wrap_dims("backward", dim, x.ndim)


def _sum_grad(g, x, dim=None, keepdim=False, *, dtype=None):
    if g._data.shape and not keepdim:    # put the reduced dims back as size 1
        dims = _dims(x, dim)
        g = g.reshape(tuple(1 if i in dims else n for i, n in enumerate(x.shape)))
    return (broadcast_grad(g, tuple(x.shape)),)


derivative("sum", _sum_grad, save=())


def _amax_grad(g, x, dim=None, keepdim=False, *, dtype=None, result):
    dims = _dims(x, dim)
    r = _expand_back(result, x, dims, keepdim)
    mask = x == r
    if x._dtype.is_floating_point:   # a nan result: the gradient goes to the nan elements (was nan everywhere)
        mask = mask | ((x != x) & (r != r))
    mask = mask.to(g.dtype)
    return (_expand_back(g, x, dims, keepdim) * mask / mask.sum(dims, keepdim=True),)


derivative("amax", _amax_grad, result=True)
derivative("amin", _amax_grad, result=True)


def _prod_except_self(x, d):
    """Product of all other elements along dim d (exact with zeros): exclusive cumprods."""
    n = x.shape[d]
    ones = pt.ones_like(x.narrow(d, 0, 1))
    left = pt.cat([ones, x.narrow(d, 0, n - 1).cumprod(d)], d) if n > 1 else ones
    rx = x.flip([d])
    right = pt.cat([ones, rx.narrow(d, 0, n - 1).cumprod(d)], d).flip([d]) if n > 1 else ones
    return left * right


def _prod_grad(g, x, dim=None, keepdim=False, *, dtype=None):
    if x.numel() == 0:
        return (pt.zeros_like(x),)
    dims = _dims(x, dim)
    if x.ndim == 0:
        return (g,)
    if len(dims) == 1:
        return (_expand_back(g, x, dims, keepdim) * _c(_prod_except_self(x, dims[0])),)
    # several dims: move them last and flatten them into one, then the one-dim rule applies
    kept = [d for d in range(x.ndim) if d not in dims]
    perm = kept + list(dims)
    xp = x.permute(perm)
    others = _prod_except_self(xp.reshape(tuple(xp.shape[:len(kept)]) + (-1,)), len(kept))
    others = others.reshape(tuple(xp.shape)).permute([perm.index(i) for i in range(x.ndim)])
    return (_expand_back(g, x, dims, keepdim) * _c(others),)


derivative("prod", _prod_grad)
derivative("cumsum", lambda g, x, dim, *, dtype=None: (g.flip([dim]).cumsum(dim).flip([dim]),), save=())


def _cumprod_grad(g, x, dim, *, dtype=None, result):
    # d out_j / d x_i = out_j / x_i for j >= i (x without zeros); exact variant for zeros below
    if x.ndim == 0:
        return (g,)
    safe = x.is_meta or bool((x != 0).all())   # (meta: no zeros to find, the result's shape is all)
    if safe:
        return ((g * _c(result)).flip([dim]).cumsum(dim).flip([dim]) / _c(x),)
    n = x.shape[dim]
    cols = []
    for i in range(n):   # O(n^2) but exact when x has zeros
        xi = x.clone()
        xi = pt.cat([x.narrow(dim, 0, i), pt.ones_like(x.narrow(dim, i, 1)), x.narrow(dim, i + 1, n - i - 1)], dim)
        partial = xi.cumprod(dim).narrow(dim, i, n - i)
        cols.append((g.narrow(dim, i, n - i) * _c(partial)).sum(dim, keepdim=True))
    return (pt.cat(cols, dim),)


derivative("cumprod", _cumprod_grad, result=True)


def _sort_grad(g, x, dim=-1, descending=False, stable=False, *, result):
    gv = g[0]
    idx = result[1]
    return (pt.zeros_like(gv).scatter_add(dim, idx, gv),)


derivative("sort", _sort_grad, save=(), result=True)


def _topk_grad(g, x, k, dim=-1, largest=True, sorted=True, *, result):
    # the decomposition's gradient (sort's scatter of the narrowed values), in one node: the cpu
    # kernel selects without sorting the whole row, so it has no sort to differentiate
    gv = g[0]
    return (pt.zeros(tuple(x.shape), dtype=gv.dtype, device=gv.device).scatter_add(dim, result[1], gv),)


derivative("topk", _topk_grad, save=(), result=True)

# ---- composite ops with their own formula (one node instead of their decomposition's,
# and numerically stable) ---------------------------------------------------------------------
def _softmax_grad(g, x, dim, dtype=None, *, result):
    return (result * (g - (g * result).sum(dim, keepdim=True)),)


def _log_softmax_grad(g, x, dim, dtype=None, *, result):
    return (g - result.exp() * g.sum(dim, keepdim=True),)


def _logsumexp_grad(g, x, dim, keepdim=False, *, result):
    dims = _dims(x, dim)
    if not keepdim and x.ndim:
        keep = tuple(1 if i in dims else n for i, n in enumerate(x.shape))
        g, result = g.reshape(keep), result.reshape(keep)
    return (g * (x - result).exp(),)


def _layer_norm_grad(g, x, normalized_shape, weight=None, bias=None, eps=1e-5):
    # one op (nn/ops.py) for the three gradients, so a backend computes them in one kernel; the
    # weight's and bias's come summed over the leading (batch) dims
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    mask = (x._rg, weight is not None and weight._rg, _is_tensor(bias))
    gx, gw, gb = pt.ops._layer_norm_backward(g, x, ns, weight, eps, mask)
    return (gx, None, gw, gb)


derivative("relu", lambda g, x, result: (pt.ops.threshold_backward(g, result, 0),), save=(), result=True)
# relu's gradient, differentiable as PyTorch's: in grad_output the same mask; in input (relu's output)
# piecewise constant, so zeros, but connected: a Hessian of a ReLU network is 0, not an error
derivative("threshold_backward", lambda g, grad_output, input, threshold:
           (pt.ops.threshold_backward(g, input, threshold), pt.zeros_like(input), None), save=("input",))
derivative("softmax", _softmax_grad, save=(), result=True)
derivative("log_softmax", _log_softmax_grad, save=(), result=True)
derivative("logsumexp", _logsumexp_grad, result=True)
derivative("layer_norm", _layer_norm_grad, save=("x", "weight"))   # an nn op (plugtorch.nn.ops)

# ---- linear algebra -----------------------------------------------------------------------
derivative("_matmul", lambda g, a, b: (g @ _c(b.mT), _c(a.mT) @ g))

# ---- movement -----------------------------------------------------------------------------
derivative("view", lambda g, x, *shape: (g.reshape(tuple(x.shape)),), save=())


def _permute_grad(g, x, *dims):
    dims = pt.dispatch.meta.as_shape("permute", dims)
    inv = [0] * len(dims)
    for i, d in enumerate(dims):
        inv[d % len(dims)] = i
    return (g.permute(inv),)


derivative("permute", _permute_grad, save=())
derivative("expand", lambda g, x, *sizes: (g,), save=())
derivative("clone", lambda g, x, **kw: (g,), save=())
derivative("_to_dtype", lambda g, x, dtype: (g,), save=())
derivative("flip", lambda g, x, dims: (g.flip(dims),), save=())


def _into_zeros(x, g, view):
    z = pt.zeros(tuple(x.shape), dtype=g.dtype, device=g.device)
    view(z).copy_(g)
    return z


derivative("slice", lambda g, x, dim=0, start=None, end=None, step=1:
           (_into_zeros(x, g, lambda z: pt.ops.slice(z, dim, start, end, step)),), save=())
derivative("select", lambda g, x, dim, index:
           (_into_zeros(x, g, lambda z: z.select(dim, index)),), save=())


def _unfold_grad(g, x, dimension, size, step):
    from plugtorch.dispatch.ops.arrangements import unfold_backward
    d = dimension % x.ndim if x.ndim else 0
    return (unfold_backward(g, x.shape, d, size, step),)


derivative("unfold", _unfold_grad, save=())


def _as_strided_grad(g, x, size, stride, storage_offset=None):
    # x's strides and storage offset say where its elements sit in the memory; its data is not
    # read, so writing into x (or the view) in place afterwards is fine, as in PyTorch
    from plugtorch.dispatch.ops.arrangements import as_strided_backward
    return (as_strided_backward(g, (tuple(x.shape), x.stride(), x.storage_offset()), size, stride, storage_offset),)


derivative("as_strided", _as_strided_grad, save=(), shapes="geometry")


def _cat_grad(g, tensors, dim=0):
    ref = next((t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)), tensors[0])
    d = dim % ref.ndim if ref.ndim else 0
    out, off = [], 0
    for t in tensors:
        if t.ndim == 1 and t.shape[0] == 0 and ref.ndim != 1:
            out.append(None)
            continue
        n = t.shape[d]
        out.append(g.narrow(d, off, n))
        off += n
    return (out,)


derivative("cat", _cat_grad, save=())

# ---- indexing -----------------------------------------------------------------------------
derivative("index", lambda g, x, indices:
           (pt.zeros(tuple(x.shape), dtype=g.dtype, device=g.device).index_put(indices, g, accumulate=True),),
           save=("indices",))


def _index_put_grad(g, x, indices, values, accumulate=False):
    gx = g if accumulate else g.index_put(indices, 0.0)
    # the index op itself (not g[...]: Python indexing reads a 0-d index tensor as an integer,
    # so separated indices would put the broadcast dims elsewhere than index_put took them)
    gv = pt.ops.index(g, indices) if _is_tensor(values) else None
    return gx, None, gv


derivative("index_put", _index_put_grad, save=("indices",))
derivative("gather", lambda g, x, dim, index, **kw:
           (pt.zeros(tuple(x.shape), dtype=g.dtype, device=g.device).scatter_add(dim, index, g),),
           save=("index",))


def _scatter_grad(g, x, dim, index, src, reduce=None):
    if reduce not in (None,) and reduce not in ("add", "sum"):
        raise RuntimeError(f"scatter(reduce={reduce!r}) has no derivative formula; use scatter_add or scatter")
    gx = g if reduce else g.scatter(dim, index, 0.0)
    gs = _src_grad(g, dim, index, src) if _is_tensor(src) else None
    return gx, None, None, gs


def _src_grad(g, dim, index, src):
    """The gradient of scatter's ``src``: ``g`` read at ``index``, and zero for the elements of
    a ``src`` larger than ``index`` (they are never read)."""
    return _pad_to(g.gather(dim, index), src)


def _pad_to(gs, src):
    """``gs`` padded with zeros to ``src``'s shape (the elements of ``src`` never read)."""
    for d, (n, m) in enumerate(zip(tuple(src.shape), tuple(gs.shape))):
        if n > m:
            gs = pt.cat([gs, gs.new_zeros(tuple(gs.shape[:d]) + (n - m,) + tuple(gs.shape[d + 1:]))], d)
    return gs


derivative("scatter", _scatter_grad, save=("index",))
derivative("scatter_add", lambda g, x, dim, index, src: (g, None, None, _src_grad(g, dim, index, src)), save=("index",))


def _scatter_prod_grad(g, x, dim, index, src, reduce, *, include_self=True, result):
    """scatter_reduce's prod (PyTorch's formula, itself differentiable): each factor's gradient is
    the product of the other factors at its position; a zero factor's is the product taken with
    it set to 1, so one zero gets a gradient and two give none."""
    s = src[tuple(slice(0, n) for n in index.shape)] if src.ndim else src.expand(tuple(index.shape))
    if include_self:
        mx = x.masked_fill(x == 0, 1)
        gx = g * mx.scatter_reduce(dim, index, s, "prod") / mx
    else:   # the written positions forget the input
        gx = g.masked_fill(pt.zeros_like(x).scatter(dim, index, 1.0) != 0, 0)
    s_zero = s == 0
    zeros_at = pt.zeros_like(x).scatter_add(dim, index, s_zero.to(x.dtype)).gather(dim, index)
    single = s_zero & (zeros_at == 1)
    without = x.scatter_reduce(dim, index, s.masked_fill(single, 1), "prod", include_self=include_self)
    gs = pt.where(single, (g * without).gather(dim, index), (g * result).gather(dim, index) / s.masked_fill(s_zero, 1))
    if gs.requires_grad and bool((s_zero & (zeros_at > 1)).any()):
        gs = not_differentiable(gs, "scatter_reduce(): double backward is unsupported for src when more than "
                                     "one zero in src is scattered to the same position (as in PyTorch); "
                                     "move the zeros apart, or differentiate once")
    return gx, None, None, _pad_to(gs, src)


derivative("scatter_reduce", _scatter_prod_grad, result=True,
           when=lambda args, kwargs: (args[4] if len(args) > 4 else kwargs.get("reduce")) == "prod")


def not_differentiable(t, message):
    """``t`` (a gradient) whose own differentiation raises ``message``: its history is cut at a
    node that fails when reached, so a double backward never sees a silent zero."""
    from plugtorch.autograd.function import _DelayedError
    node = _DelayedError(message, 1)
    node.next_functions = ((t.grad_fn, t._out_nr),) if t.grad_fn is not None else ()
    out = t.detach()
    out._rg = True
    out.grad_fn = node
    out._out_nr = 0
    return out

# ---- transfer -----------------------------------------------------------------------------
derivative("_to_device", lambda g, x, device: (g.to(x.device),), save=())

# plugtorch.linalg's factorisations and plugtorch.fft's transforms have their own files
from plugtorch.autograd import linalg_formulas  # noqa: E402,F401
from plugtorch.autograd import fft_formulas  # noqa: E402,F401
from plugtorch.autograd import special_formulas  # noqa: E402,F401
from plugtorch.autograd import rnn_formulas  # noqa: E402,F401
from plugtorch.autograd import complex_formulas  # noqa: E402,F401
