"""Reductions over a set of dims, scans, and sort.

Kernels receive ``(x, dims, keepdim, out_dtype)`` with ``dims`` a sorted tuple of
non-negative dims (all dims when the caller passed ``dim=None``).
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch._caches import Memo
from plugtorch._dtypes import _FLOAT
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.registry import OUT_MULTI, register_op


def _check_tensor(op, x):
    if not isinstance(x, M.Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")


_MEMO = Memo(4096)   # (op, device, dtype, shape, dim, keepdim, dtype arg) -> (dims, keepdim, out dtype)


def _reduce_meta(name, result, identity):
    def meta(input, dim=None, keepdim=False, *, dtype=None):
        dc = dim.__class__
        if dc is list or dc is tuple:   # ints only: 1.0 == 1 as a key, but only 1 is a dim
            dim_key = tuple(dim) if all(d.__class__ is int for d in dim) else None
        else:
            dim_key = dim if dc is int or dim is None else None
        key = None
        if input.__class__ is M.Tensor and (dim_key is not None or dim is None) and keepdim.__class__ is bool:
            key = (name, input._device, input._dtype, input._data.shape, dim_key, keepdim, dtype)
            hit = _MEMO.get(key)
            if hit is not None:
                return input._device, (input._data, hit[0], hit[1], hit[2]), hit[2]
        r = _meta(input, dim, keepdim, dtype)
        if key is not None:
            _MEMO[key] = r[1][1:]
        return r

    def _meta(input, dim, keepdim, dtype):
        _check_tensor(name, input)
        M.check_bool(name, "keepdim", keepdim)
        dims = M.wrap_dims(name, dim, input.ndim)
        if result == "bool" and dims and dim.__class__ in (list, tuple) and not dim:
            dims = ()   # PyTorch: all/any over an empty dim list reduce nothing (sum's reduces every dim)
        if not identity:
            check_nonempty(name, input, dim, dims)
        d = input._dtype if dtype is None else _dtypes.to_dtype(dtype)
        if result == "widen" and dtype is None and d.category < _FLOAT:
            d = _dtypes.int64
        elif result == "bool":   # all/any: bool, but uint8 stays uint8 (PyTorch's legacy rule)
            d = _dtypes.uint8 if input._dtype is _dtypes.uint8 else _dtypes.bool
        elif result == "index":
            d = _dtypes.int64
        return input._device, (input._data, dims, bool(keepdim), d), d
    meta.__name__ = name
    return meta


def check_nonempty(name, input, dim, dims, all_dims_error=RuntimeError):
    """Reductions without an identity (max, argmax, median ...) refuse empty input as PyTorch
    does: RuntimeError (IndexError for argmax/argmin) when no dim was named, IndexError when a
    named dim is empty. An empty result over non-empty dims is fine."""
    shape = input._data.shape
    if dim is None or (isinstance(dim, (list, tuple)) and not dim):
        if input.numel() == 0:
            raise all_dims_error(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0 (input shape "
                f"{tuple(shape)}): the operation has no identity. Specify the reduction dim with the "
                "'dim' argument.")
        return
    for d in dims:
        if shape and shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size (input shape "
                             f"{tuple(shape)}): the operation has no identity")


def _arg_meta(name):
    def meta(input, dim=None, keepdim=False):
        _check_tensor(name, input)
        M.check_bool(name, "keepdim", keepdim)
        if input._dtype is _dtypes.bool:
            raise RuntimeError(f"{name}(): does not support bool input; convert it first, e.g. x.long().{name}()")
        dims = None if dim is None else (M.wrap_dim(name, dim, input.ndim),)
        check_nonempty(name, input, dim, dims or (), IndexError)
        if input.ndim == 0:   # dim 0 (or -1) of a 0-d tensor is the tensor: reduce it whole (a 0-d result)
            dims, keepdim = None, False
        # dim=None with keepdim=True: the flat index in a tensor of ones, shape (1,) * ndim, as PyTorch's
        return input._device, (input._data, dims, bool(keepdim)), _dtypes.int64
    meta.__name__ = name
    return meta


register_op("sum", _reduce_meta("sum", "widen", True), tags=("reduction",))
register_op("prod", _reduce_meta("prod", "widen", True), tags=("reduction",))
register_op("amax", _reduce_meta("amax", "same", False), tags=("reduction",))
register_op("amin", _reduce_meta("amin", "same", False), tags=("reduction",))
register_op("all", _reduce_meta("all", "bool", True), tags=("reduction",), differentiable=False)
register_op("any", _reduce_meta("any", "bool", True), tags=("reduction",), differentiable=False)
register_op("argmax", _arg_meta("argmax"), tags=("reduction",), differentiable=False)
register_op("argmin", _arg_meta("argmin"), tags=("reduction",), differentiable=False)


def _scan_meta(name):
    def meta(input, dim, *, dtype=None):
        _check_tensor(name, input)
        d = M.wrap_dim(name, dim, input.ndim)
        out = input._dtype if dtype is None else _dtypes.to_dtype(dtype)
        if dtype is None and out.category < _FLOAT:
            out = _dtypes.int64
        return input._device, (input._data, d, out), out
    meta.__name__ = name
    return meta


register_op("cumsum", _scan_meta("cumsum"), tags=("reduction",))
register_op("cumprod", _scan_meta("cumprod"), tags=("reduction",))


def _sort_meta(input, dim=-1, descending=False, stable=False):
    _check_tensor("sort", input)
    M.check_bool("sort", "descending", descending)
    M.check_bool("sort", "stable", stable)
    d = M.wrap_dim("sort", dim, input.ndim)
    if input._dtype is _dtypes.bool:
        pass
    return input._device, (input._data, d, bool(descending)), (input._dtype, _dtypes.int64)


register_op("sort", _sort_meta, tags=("reduction",), out_kind=OUT_MULTI)
