"""The meta backend's kernels: results of the right shape, dtype and strides, and no data.

Every op the registry declares with a meta function gets a kernel here, made on first use:

- views (view, permute, expand, slice, select, unfold, as_strided ...) compute the view's shape,
  strides and offset, as a device backend does;
- in-place ops (copy_, fill through copy_, uniform_, normal_ ..., the fused optimizer steps) do
  nothing: there is nothing to write;
- factories (empty, full, arange) and the heavy ops (matmul, linear and its backward) compute the
  result's shape directly, and so, on large inputs, do pointwise ops, cat, the reductions, sort,
  the scans, flip, log_softmax and layer_norm;
- every other op runs the cpu kernel on stand-ins (zeros laid out as the inputs when they are
  small, one broadcast zero when large) and keeps only the shape, dtype and layout of its result;
- ops whose result's shape depends on the data (nonzero) raise NotImplementedError, as
  PyTorch's meta device does.
"""
from __future__ import annotations

import numpy as np

from plugtorch.backends import strided_views
from plugtorch.backends.meta.array import _STANDIN_MAX, MetaArray, dense_like, dense_order, from_result
from plugtorch.dispatch.registry import OUT_INPLACE, OUT_RAW, OUT_VIEW


# ---- views: the arithmetic of every strided backend (plugtorch/backends/strided_views.py) -------
def _view_as_real(x, dtype):
    return MetaArray(x.shape + (2,), dtype.numpy, tuple(2 * s for s in x.strides) + (1,), 2 * x.offset)


def _view_as_complex(x, dtype):
    return MetaArray(x.shape[:-1], dtype.numpy, tuple(s // 2 for s in x.strides[:-1]), x.offset // 2)


_VIEWS = {**strided_views.KERNELS, "view_as_real": _view_as_real, "view_as_complex": _view_as_complex}


# ---- factories and the ops computed from shapes alone --------------------------------------
def _empty(shape, dtype, index):
    return MetaArray(shape, dtype.numpy)


def _full(shape, value, dtype, index):
    return MetaArray(shape, dtype.numpy)


def _arange(start, end, step, dtype, index):
    import math
    return MetaArray((max(0, math.ceil((end - start) / step)),), dtype.numpy)   # (the cpu kernel's count)


def _clone(x):
    # (Tensor.clone(memory_format=...) lays the result out above the kernel, as on cpu)
    return MetaArray(x.shape, x.dtype)


def _to_dtype(x, dtype):
    return dense_like(x.shape, dtype.numpy, dense_order(x.shape, x.strides))


def _matmul(a, b):
    from plugtorch.dispatch.meta import broadcast_shapes
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op="matmul")
    return MetaArray(batch + (a.shape[-2], b.shape[-1]), a.dtype)


def _linear(x, w, b):
    if w.ndim == 2:
        return MetaArray(x.shape[:-1] + (w.shape[0],), x.dtype)
    return _generic_call("linear", (x, w, b))


def _linear_backward(g, x, w, mask, dtype):
    if w.ndim != 2:
        return _generic_call("_linear_backward", (g, x, w, mask, dtype))
    d = dtype.numpy
    return (MetaArray(x.shape, d) if mask[0] else None, MetaArray(w.shape, d) if mask[1] else None,
            MetaArray(w.shape[:1], d) if mask[2] else None)


# ---- ops whose result's shape follows from the arguments: computed directly on large inputs,
# where the cpu kernel on stand-ins would allocate (or scan) the whole result ---------------------
def _small(v):
    """``v`` with every dim shrunk to 1: the cpu kernel on it gives the result's dtypes cheaply."""
    if v.__class__ is MetaArray:
        return MetaArray((1,) * v.ndim, v.dtype)
    if v.__class__ in (list, tuple):
        return type(v)(_small(x) for x in v)
    return v


def _dtypes_of(name, kargs):
    if name == "layer_norm":   # (its normalized shape must match the input's last dims)
        return kargs[0].dtype
    r = _generic_call(name, _small(tuple(kargs)))
    return [x.dtype for x in r] if isinstance(r, (tuple, list)) else r.dtype


def _when_large(name, shapes):
    """A kernel computing its results' shapes with ``shapes(*kargs)`` (a shape, or a list of
    them) for large inputs, and running the cpu kernel on stand-ins for small ones (which also
    gives cpu's layout)."""
    generic = _generic(name)

    def kernel(*kargs):
        if not _large(kargs):
            return generic(*kargs)
        shape = shapes(*kargs)
        dt = _dtypes_of(name, kargs)
        if isinstance(dt, list):
            return tuple(MetaArray(sh, d) for sh, d in zip(shape, dt))
        return MetaArray(shape, dt)
    kernel.__name__ = f"meta_{name}"
    return kernel


def _reduced(x, dims, keepdim):
    dims = range(x.ndim) if dims is None else (dims,) if isinstance(dims, int) else dims
    return tuple(1 if d in dims else n for d, n in enumerate(x.shape) if keepdim or d not in dims)


def _cat_shape(arrays, dim, *rest):
    kept = [a for a in arrays if a.shape != (0,)] or list(arrays)   # (legacy empty 1-d tensors are skipped)
    shape = list(kept[0].shape)
    if shape:
        shape[dim] = sum(a.shape[dim] for a in kept)
    return tuple(shape)


def _cross_entropy_shape(x, t, w, ignore_index, reduction, *rest):
    if reduction != "none":
        return ()
    if t.dtype.kind in "iu":   # class indices: one loss per target
        return t.shape
    return x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()   # class probabilities: the class dim goes


_SHAPES = {
    "cat": _cat_shape, "cross_entropy": _cross_entropy_shape, "_cross_entropy_backward": lambda g, x, *a: x.shape,
    "flip": lambda x, *a: x.shape, "log_softmax": lambda x, *a: x.shape, "cumsum": lambda x, *a: x.shape,
    "cumprod": lambda x, *a: x.shape, "layer_norm": lambda x, *a: x.shape,
    "sort": lambda x, *a: [x.shape, x.shape],
    **{n: (lambda x, dims, keepdim, *a: _reduced(x, dims, keepdim))
       for n in ("sum", "prod", "amax", "amin", "all", "any")},
    "argmax": lambda x, dim, keepdim: _reduced(x, dim, keepdim), "argmin": lambda x, dim, keepdim: _reduced(x, dim, keepdim),
}


def _nonzero(x):
    from plugtorch.dispatch.meta import data_dependent_error
    raise data_dependent_error("nonzero")


_SHAPE_KERNELS = {"empty": _empty, "full": _full, "arange": _arange, "clone": _clone, "_to_dtype": _to_dtype,
                  "_matmul": _matmul, "linear": _linear, "_linear_backward": _linear_backward,
                  "nonzero": _nonzero}


def _nothing(*args):
    return None


# ---- everything else: the cpu kernel on stand-ins ------------------------------------------
def _standins(v):
    if v.__class__ is MetaArray:
        return v.standin()
    if v.__class__ in (list, tuple):
        return type(v)(_standins(x) for x in v)
    return v


def _ones(v):   # (pointwise ops: integer division and remainder by a stand-in must not fail)
    if v.__class__ is MetaArray:
        return v.standin(ones=True)
    if v.__class__ in (list, tuple):
        return type(v)(_ones(x) for x in v)
    return v


def _linalg_standins(v):
    """Stand-ins a LAPACK routine accepts: identity matrices, and pivots 1..n (a zero pivot
    would make LAPACK read outside its arrays)."""
    if v.__class__ is MetaArray:
        if v.ndim == 0:
            return v.standin()
        kind = v.dtype.kind
        if kind in "iu":
            fill = np.arange(1, v.shape[-1] + 1, dtype=v.dtype)
        elif kind in "fc" and v.ndim >= 2:
            fill = np.eye(v.shape[-2], v.shape[-1], dtype=v.dtype)
        else:
            return v.standin()
        a = v.standin()          # (laid out as the input when small, so the result is too)
        if a.flags.writeable:
            np.copyto(a, fill)
            return a
        return np.broadcast_to(fill, v.shape)
    if v.__class__ in (list, tuple):
        return type(v)(_linalg_standins(x) for x in v)
    return v


def _cpu_kernels():
    from plugtorch.backends import get_backend
    return get_backend("cpu").kernels


def _generic_call(name, kargs, standins=_standins):
    kernel = _cpu_kernels()[name]
    with np.errstate(all="ignore"):
        return from_result(kernel(*standins(kargs)))


def _generic(name, standins=_standins):
    def kernel(*kargs):
        return _generic_call(name, kargs, standins)
    kernel.__name__ = f"meta_{name}"
    return kernel


def _large(v):
    if v.__class__ is MetaArray:
        return v.size > _STANDIN_MAX
    if v.__class__ in (list, tuple):
        return any(_large(x) for x in v)
    return False


def _pointwise(name):
    """A pointwise op: the result broadcasts its tensor operands; its dtype comes from the cpu
    kernel on one-element stand-ins, its layout from the first operand of the result's shape."""
    generic = _generic(name, _ones)

    def kernel(*kargs):
        if not _large(kargs):
            return generic(*kargs)
        from plugtorch.dispatch.meta import broadcast_shapes
        arrays = [a for a in kargs if a.__class__ is MetaArray]
        shape = broadcast_shapes(*(a.shape for a in arrays), op=name)
        small = [MetaArray((1,) * len(a.shape), a.dtype) if a.__class__ is MetaArray else a for a in kargs]
        r = _generic_call(name, small, _ones)
        like = next((a for a in arrays if a.shape == shape), None)
        order = dense_order(shape, like.strides) if like is not None else tuple(range(len(shape)))
        if isinstance(r, tuple):
            return tuple(dense_like(shape, x.dtype, order) for x in r)
        return dense_like(shape, r.dtype, order)
    kernel.__name__ = f"meta_{name}"
    return kernel


class MetaKernels(dict):
    """Op name -> meta kernel, made on first use for every op the registry declares with a meta
    function (so custom ops registered later get one too)."""

    def __init__(self):
        super().__init__()
        self._none = set()   # names without a kernel (the dispatcher asks for "add_" at every add_)

    def get(self, name, default=None):
        k = dict.get(self, name)
        if k is None:
            if name in self._none:
                return default
            k = self._make(name)
            if k is None:
                from plugtorch.dispatch.registry import OPS
                if name not in OPS:   # (an op registered later may still get one)
                    self._none.add(name)
                return default
            self[name] = k
        return k

    def __contains__(self, name):
        return self.get(name) is not None

    def __getitem__(self, name):
        k = self.get(name)
        if k is None:
            raise KeyError(name)
        return k

    @staticmethod
    def _make(name):
        from plugtorch.dispatch.registry import OPS
        op = OPS.get(name)
        if op is None or op.meta is None:
            return None
        if name in _VIEWS:
            return _VIEWS[name]
        if name in _SHAPE_KERNELS:
            return _SHAPE_KERNELS[name]
        if op.out_kind in (OUT_INPLACE, OUT_RAW):
            return _nothing
        if op.out_kind == OUT_VIEW:
            return None      # a view op this table does not know: the dispatcher names it
        if name not in _cpu_kernels():
            return None
        if name in _SHAPES:
            return _when_large(name, _SHAPES[name])
        if "pointwise" in op.tags:
            return _pointwise(name)
        if name.startswith("linalg_") or name == "geqrf":   # LAPACK: valid matrices and pivots
            return _generic(name, _linalg_standins)
        return _generic(name)
