"""Table entries for views, movement, indexing and factories.

Views become ONNX copies (Reshape, Transpose, Slice, Gather ...); ``lowering`` keeps track of
which values view which, so in-place writes through them reach their base. Sizes baked into
arguments (``view(x, 2, -1)``, ``full((2, 4), 0)``) may be ``SymInt``\\ s that follow a dynamic
axis: ``g.ints`` emits them from the inputs' run-time shapes.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt
from plugtorch.onnx.values import INT64_MAX, INT64_MIN, SymInt, Val, opmath
from plugtorch.onnx.errors import OnnxExporterError
from plugtorch.onnx.table import onnx_op


def _sizes(shape):
    """``view(x, 2, 3)`` and ``view(x, (2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        return list(shape[0])
    return list(shape)


def _dim(d, ndim):
    return d + ndim if d < 0 else d


@onnx_op("view", "reshape")
def reshape(g, input, *shape):
    dims = _sizes(shape)
    syms = [i for i, d in enumerate(dims) if isinstance(d, SymInt)]
    # (a size only the result's own run-time shape knows: Reshape must infer it)
    own = [i for i in syms if dims[i].source is not None and dims[i].source[0].name is None]
    if len(own) == 1 and -1 not in dims:
        dims[own[0]] = -1
    elif len(syms) == 1 and -1 not in dims:
        dims[syms[0]] = -1       # one dynamic size: let Reshape infer it
    if -1 in dims and 0 in dims:
        dims = list(g.out.dims)  # (an empty result: spell every size out)
    return [g.reshape(g.input(input), dims)]


@onnx_op("expand")
def expand(g, input, *sizes):
    dims = [1 if (not isinstance(d, SymInt) and d == -1) else d for d in _sizes(sizes)]
    return [g.node("Expand", [g.input(input), g.ints(dims)])]


@onnx_op("broadcast_to")
def broadcast_to(g, input, size):
    return expand(g, input, size)


@onnx_op("permute")
def permute(g, input, *dims):
    if input.ndim == 0:
        return [g.node("Identity", [g.input(input)])]
    perm = [_dim(d, input.ndim) for d in _sizes(dims)]
    return [g.node("Transpose", [g.input(input)], perm=perm)]


@onnx_op("transpose")
def transpose(g, input, dim0, dim1):
    n = input.ndim
    if n == 0:
        return [g.node("Identity", [g.input(input)])]
    perm = list(range(n))
    a, b = _dim(dim0, n), _dim(dim1, n)
    perm[a], perm[b] = perm[b], perm[a]
    return [g.node("Transpose", [g.input(input)], perm=perm)]


@onnx_op("t")
def t(g, input):
    if input.ndim < 2:
        return [g.node("Identity", [g.input(input)])]
    return [g.node("Transpose", [g.input(input)], perm=[1, 0])]


@onnx_op("select")
def select(g, input, dim, index):
    # (Gather counts a negative index from the end, as select does)
    idx = g.input(index, pt.int64) if isinstance(index, SymInt) else g.const(np.array(index, np.int64))
    return [g.node("Gather", [g.input(input), idx], axis=_dim(dim, input.ndim))]


@onnx_op("slice")
def slice_(g, input, dim=0, start=None, end=None, step=1):
    start = 0 if start is None else start
    end = INT64_MAX if end is None else end
    step = g.static(step, "the slice's step")
    return [g.node("Slice", [g.input(input), g.ints([start]), g.ints([end]),
                             g.const(np.array([_dim(dim, input.ndim)], np.int64)),
                             g.const(np.array([step], np.int64))])]


@onnx_op("narrow", declines=lambda opset, input, dim, start, length:
         "a tensor start" if isinstance(start, Val) else None)
def narrow(g, input, dim, start, length):
    if isinstance(start, SymInt) or isinstance(length, SymInt):
        end = _sym_add(_as_sym(start), _as_sym(length))
    else:
        end = start + length
    return slice_(g, input, dim, start, end, 1)


def _as_sym(x):
    return x if isinstance(x, SymInt) else SymInt(x, x, ())


def _sym_add(a, b):
    if a.source is not None or b.source is not None:
        run, other = (a, b) if a.source is not None else (b, a)
        if other.source is None and not other.coef:      # a run-time size plus a constant
            return SymInt(a.value + b.value, run.const + other.const, (), source=run.source)
        raise OnnxExporterError("plugtorch.onnx.export: narrow() with a start or length that follows a run-time "
                                "size (a strided convolution's output height) cannot be exported; keep that axis "
                                "static")
    coef = dict(a.coef)
    for s, c in b.coef:
        coef[s] = coef.get(s, 0) + c
    return SymInt(a.value + b.value, a.const + b.const, tuple((s, c) for s, c in coef.items() if c))


@onnx_op("unsqueeze")
def unsqueeze(g, input, dim):
    return [g.unsqueeze(g.input(input), [_dim(dim, input.ndim + 1)])]


@onnx_op("squeeze")
def squeeze(g, input, dim=None):
    n = input.ndim
    dims = range(n) if dim is None else ([dim] if isinstance(dim, int) else list(dim))
    axes = sorted({_dim(d, n) for d in dims if n and input.dims[_dim(d, n)] == 1
                   and not isinstance(input.dims[_dim(d, n)], SymInt)})
    if not axes:
        return [g.node("Identity", [g.input(input)])]
    return [g.squeeze(g.input(input), axes)]


@onnx_op("flatten")
def flatten(g, input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return [g.reshape(g.input(input), [1])]
    return reshape(g, input, *g.out.dims)


@onnx_op("diagonal")
def diagonal(g, input, offset=0, dim1=0, dim2=1):
    """Gather from the matrix dims flattened: element t is at (i0 + t) * cols + j0 + t. The two
    matrix dims must be static; the others may follow dynamic axes."""
    n = input.ndim
    d1, d2 = _dim(dim1, n), _dim(dim2, n)
    rows, cols = g.static_dim(input, d1), g.static_dim(input, d2)
    i0, j0 = max(0, -offset), max(0, offset)
    length = max(0, min(rows - i0, cols - j0))
    perm = [i for i in range(n) if i not in (d1, d2)] + [d1, d2]
    x = g.input(input)
    if perm != list(range(n)):
        x = g.node("Transpose", [x], perm=perm)
    flat = g.reshape(x, [input.dims[i] for i in perm[:-2]] + [rows * cols])
    pos = (i0 + np.arange(length, dtype=np.int64)) * cols + j0 + np.arange(length, dtype=np.int64)
    return [g.node("Gather", [flat, g.const(pos)], axis=n - 2)]


@onnx_op("contiguous")
def contiguous(g, input, memory_format=None):
    return [g.node("Identity", [g.input(input)])]


@onnx_op("cat")
def cat(g, tensors, dim=0):
    out = g.out
    parts = [t for t in tensors if not (t.ndim == 1 and t.shape == (0,) and out.ndim != 1)]
    if not parts:
        parts = list(tensors[:1])
    return [g.node("Concat", [g.input(t, out.dtype) for t in parts], axis=_dim(dim, out.ndim))]


@onnx_op("stack")
def stack(g, tensors, dim=0):
    out = g.out
    d = _dim(dim, out.ndim)
    return [g.node("Concat", [g.unsqueeze(g.input(t, out.dtype), [d]) for t in tensors], axis=d)]


@onnx_op("flip")
def flip(g, input, dims):
    dims = [dims] if isinstance(dims, int) else list(dims)
    if not dims or input.ndim == 0:
        return [g.node("Identity", [g.input(input)])]
    k = len(dims)
    back = g.const(np.full(k, -1, np.int64))
    return [g.node("Slice", [g.input(input), back, g.const(np.full(k, INT64_MIN, np.int64)),
                             g.const(np.array([_dim(d, input.ndim) for d in dims], np.int64)), back])]


# ---- advanced indexing ----------------------------------------------------------------------------
def _index_layout(g, input, indices):
    """Move the indexed dims of ``input`` to the front (in order) and stack the broadcast index
    tensors into GatherND/ScatterND's last axis. Returns (moved input, stacked indices,
    permutation, indexed dims)."""
    pos = [i for i, t in enumerate(indices) if t is not None]
    rest = [i for i in range(input.ndim) if i not in pos]
    perm = pos + rest
    x = g.input(input)
    if perm != list(range(input.ndim)):
        x = g.node("Transpose", [x], perm=perm)
    # broadcast the index tensors together: add them to zeros of each other's shape
    idx = [g.input(indices[i], pt.int64) for i in pos]
    if len(idx) > 1:
        zero = None
        for n in idx:
            z = g.node("Mul", [n, g.const(np.array(0, np.int64))])
            zero = z if zero is None else g.node("Add", [zero, z])
        idx = [g.node("Add", [n, zero]) for n in idx]
    fixed = []
    for i, n in zip(pos, idx):     # negative indices count from the end
        size = g.node("Gather", [g.shape_of(input), g.const(np.array(i, np.int64))], axis=0)
        neg = g.node("Less", [n, g.const(np.array(0, np.int64))])
        fixed.append(g.node("Where", [neg, g.node("Add", [n, size]), n]))
    stacked = g.node("Concat", [g.unsqueeze(n, [-1]) for n in fixed], axis=-1)
    return x, stacked, perm, pos


def _adjacent(pos):
    return pos == list(range(pos[0], pos[-1] + 1))


@onnx_op("index")
def index(g, input, indices):
    indices = list(indices)
    pos = [i for i, t in enumerate(indices) if t is not None]
    if not pos:
        return [g.node("Identity", [g.input(input)])]
    x, stacked, perm, pos = _index_layout(g, input, indices)
    r = g.node("GatherND", [x, stacked])
    if _adjacent(pos) and pos[0] > 0:
        # the index dims go where the indexed dims were: r is (*idx, *rest)
        nb = g.out.ndim - (input.ndim - len(pos))
        order = list(range(nb, nb + pos[0])) + list(range(nb)) + list(range(nb + pos[0], g.out.ndim))
        r = g.node("Transpose", [r], perm=order)
    return [r]


@onnx_op("index_put")
def index_put(g, input, indices, values, accumulate=False):
    indices = list(indices)
    pos = [i for i, t in enumerate(indices) if t is not None]
    v = g.input(values, input.dtype)
    if not pos:
        return [g.node("Expand", [v, g.shape_of(input)])]
    x, stacked, perm, pos = _index_layout(g, input, indices)
    # ScatterND's updates are laid out as GatherND's result, (*index, *rest); the values
    # broadcast against x[indices], which is (*before, *index, *after) when the indexed dims are
    # adjacent and not leading
    k = len(pos)
    idx_shape = g.node("Slice", [g.node("Shape", [stacked]), g.const(np.array([0], np.int64)),
                                 g.const(np.array([-1], np.int64))])
    nbefore = pos[0] if _adjacent(pos) else 0
    x_shape = g.node("Shape", [x])

    def part(a, b):
        return g.node("Slice", [x_shape, g.const(np.array([a], np.int64)), g.const(np.array([b], np.int64))])
    if nbefore:
        res_shape = g.node("Concat", [part(k, k + nbefore), idx_shape, part(k + nbefore, INT64_MAX)], axis=0)
        v = g.node("Expand", [v, res_shape])
        nidx = _idx_ndim(indices)
        nres = nbefore + nidx + (input.ndim - k - nbefore)
        order = list(range(nbefore, nbefore + nidx)) + list(range(nbefore)) + list(range(nbefore + nidx, nres))
        v = g.node("Transpose", [v], perm=order)
    else:
        v = g.node("Expand", [v, g.node("Concat", [idx_shape, part(k, INT64_MAX)], axis=0)])
    r = g.node("ScatterND", [x, stacked, v], **({"reduction": "add"} if accumulate else {}))
    if perm != list(range(input.ndim)):
        r = g.node("Transpose", [r], perm=[int(i) for i in np.argsort(perm)])
    return [r]


def _idx_ndim(indices):
    return max(t.ndim for t in indices if t is not None)


@onnx_op("gather")
def gather(g, input, dim, index, *, sparse_grad=False):
    if input.ndim == 0 or index.ndim == 0:       # (GatherElements wants rank >= 1)
        x = g.reshape(g.input(input), [-1]) if input.ndim == 0 else g.input(input)
        idx = g.reshape(g.input(index, pt.int64), [-1] if input.ndim == 0 else [1] * input.ndim)
        r = g.node("GatherElements", [x, idx], axis=_dim(dim, max(input.ndim, 1)))
        return [g.reshape(r, g.out.dims)]
    return [g.node("GatherElements", [g.input(input), g.input(index, pt.int64)], axis=_dim(dim, input.ndim))]


def _scatter(g, input, dim, index, src, reduction):
    idx = g.input(index, pt.int64)
    s = g.input(src, input.dtype)
    if not isinstance(src, Val) or list(src.dims) != list(index.dims):
        # a scalar fills the index's shape; a larger src is read only where index reaches
        if isinstance(src, Val) and src.ndim == index.ndim:
            s = g.node("Slice", [s, g.const(np.zeros(index.ndim, np.int64)), g.shape_of(index)])
        else:
            s = g.node("Expand", [s, g.shape_of(index)])
    kw = {"reduction": reduction} if reduction else {}
    axis = _dim(dim, input.ndim)
    x = g.input(input)
    r = g.node("ScatterElements", [x, idx, s], axis=axis, **kw)
    if reduction in ("max", "min") and input.dtype.is_floating_point:
        # onnxruntime's max/min reductions skip NaN; eager (and torch) give NaN where one took part:
        # scatter the NaN flags with the same reduction and put NaN where any was set
        flag = g.node("ScatterElements", [g.cast(g.node("IsNaN", [x]), pt.int32), idx,
                                          g.cast(g.node("IsNaN", [s]), pt.int32)], axis=axis, reduction="max")
        r = g.node("Where", [g.cast(flag, pt.bool), g.scalar(float("nan"), input.dtype), r])
    return [r]


# scatter's reduce argument -> ScatterElements' reduction (max/min are ONNX reductions from opset 18;
# scatter_reduce(amax/amin) calls scatter with them)
_SCATTER_REDUCTIONS = {None: None, "add": "add", "multiply": "mul", "amax": "max", "amin": "min"}


def _scatter_declines(opset, input, dim, index, src, reduce=None):
    if reduce not in _SCATTER_REDUCTIONS:
        return f"reduce={reduce!r}"
    if reduce in ("amax", "amin") and opset < 18:
        return f"reduce={reduce!r} (ScatterElements reduces by max/min from opset 18: pass opset_version=18)"
    return None


@onnx_op("scatter", declines=_scatter_declines)
def scatter(g, input, dim, index, src, reduce=None):
    return _scatter(g, input, dim, index, src, _SCATTER_REDUCTIONS[reduce])


@onnx_op("scatter_add")
def scatter_add(g, input, dim, index, src):
    return _scatter(g, input, dim, index, src, "add")


@onnx_op("nonzero", declines=lambda opset, input, as_tuple=False: "as_tuple=True" if as_tuple else None)
def nonzero(g, input, *, as_tuple=False):
    if input.ndim == 0:      # (ONNX's NonZero gives a 0-d input one index column; eager none)
        found = g.node("NonZero", [g.reshape(g.input(input), [1])])
        return [g.node("Slice", [g.node("Transpose", [found], perm=[1, 0]), g.const(np.array([0], np.int64)),
                                 g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64))])]
    return [g.node("Transpose", [g.node("NonZero", [g.input(input)])], perm=[1, 0])]


@onnx_op("index_select")
def index_select(g, input, dim, index):
    idx = g.input(index, pt.int64)
    if index.ndim == 0:          # (a 0-d index keeps the dim, as a 1-element one)
        idx = g.reshape(idx, [1])
    if input.ndim == 0:          # (Gather wants rank >= 1)
        return [g.reshape(g.node("Gather", [g.reshape(g.input(input), [1]), idx], axis=0), g.out.dims)]
    return [g.node("Gather", [g.input(input), idx], axis=_dim(dim, input.ndim))]


# ---- factories -----------------------------------------------------------------------------------------
def _filled(g, size, value, dtype):
    size = _sizes(size) if isinstance(size, (list, tuple)) else [size]
    if isinstance(value, SymInt):     # a fill that follows a dynamic axis (full((b,), n))
        return [g.node("Expand", [g.input(value, dtype), g.ints(size)])]
    ct = pt.float32 if dtype is pt.bfloat16 else dtype
    fill = g.onnx.numpy_helper.from_array(np.array([value], dtype=ct.numpy), name="value")
    r = g.node("ConstantOfShape", [g.ints(size)], value=fill)
    return [r if ct is dtype else g.cast(r, dtype)]


@onnx_op("full")
def full(g, size, fill_value, *, dtype=None, device=None):
    return _filled(g, size, fill_value, g.out.dtype)


@onnx_op("empty")
def empty(g, size, *, dtype=None, device=None):
    return _filled(g, size, 0, g.out.dtype)


@onnx_op("arange")
def arange(g, start, end, step, *, dtype=None, device=None):
    out = g.out.dtype
    ct = out if out in (pt.float32, pt.float64, pt.int16, pt.int32, pt.int64) else opmath(out)
    r = g.node("Range", [g.input(start, ct), g.input(end, ct), g.input(step, ct)])
    return [r if ct is out else g.cast(r, out)]


# ---- sorting and scans -------------------------------------------------------------------------------
@onnx_op("sort")
def sort(g, input, dim=-1, descending=False, stable=False):
    if input.ndim == 0:
        x = g.input(input)
        return [g.node("Identity", [x]), g.node("Mul", [g.cast(x, pt.int64), g.const(np.array(0, np.int64))])]
    d = _dim(dim, input.ndim)
    ct = opmath(input.dtype) if input.dtype is not pt.bool else pt.int32
    # TopK breaks ties by the lower index first: a stable sort, both ways
    vals, idx = g.node("TopK", [g.input(input, ct), g.ints([input.dims[d]])], n_out=2, axis=d,
                       largest=1 if descending else 0, sorted=1)
    return [vals if ct is input.dtype else g.cast(vals, input.dtype), idx]


@onnx_op("topk")
def topk(g, input, k, dim=-1, largest=True, sorted=True):
    d = _dim(dim, max(input.ndim, 1))
    ct = opmath(input.dtype)
    vals, idx = g.node("TopK", [g.input(input, ct), g.ints([k])], n_out=2, axis=d, largest=int(bool(largest)),
                       sorted=1)
    return [vals if ct is input.dtype else g.cast(vals, input.dtype), idx]


@onnx_op("cumsum")
def cumsum(g, input, dim, *, dtype=None):
    out = g.out.dtype
    ct = opmath(out)
    x = g.input(input, ct)
    if input.ndim == 0:       # (CumSum refuses a scalar)
        return [g.node("Identity", [x]) if ct is out else g.cast(x, out)]
    r = g.node("CumSum", [x, g.const(np.array(_dim(dim, input.ndim), np.int64))])
    return [r if ct is out else g.cast(r, out)]


@onnx_op("cumprod")
def cumprod(g, input, dim, *, dtype=None):
    """ONNX has no CumProd: element i is the product of row i of a lower-triangular mask, ones
    above the diagonal (an n x n intermediate for a scanned dim of n)."""
    out = g.out.dtype
    ct = opmath(out)
    x = g.input(input, ct)
    if input.ndim == 0:
        return [g.node("Identity", [x]) if ct is out else g.cast(x, out)]
    n, d = input.ndim, _dim(dim, input.ndim)
    perm = [i for i in range(n) if i != d] + [d]      # the scanned dim last
    if d != n - 1:
        x = g.node("Transpose", [x], perm=perm)
    size = g.node("Squeeze", [g.node("Gather", [g.shape_of(input), g.const(np.array([d], np.int64))], axis=0),
                              g.const(np.array([0], np.int64))])
    pos = g.node("Range", [g.const(np.array(0, np.int64)), size, g.const(np.array(1, np.int64))])
    lower = g.node("LessOrEqual", [g.unsqueeze(pos, [0]), g.unsqueeze(pos, [1])])     # [i, j]: j <= i
    rows = g.node("Where", [lower, g.unsqueeze(x, [n - 1]), g.scalar(1, ct)])
    r = g.reduce("ReduceProd", rows, [n], False)
    if d != n - 1:
        r = g.node("Transpose", [r], perm=[int(i) for i in np.argsort(perm)])
    return [r if ct is out else g.cast(r, out)]
