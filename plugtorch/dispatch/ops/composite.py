"""Composite ops: decompositions into other ops. A backend may override any of them with a
native kernel (it then also needs the op's meta, where one is declared).

Decompositions call the public API (``plugtorch.*``), which dispatches each step, so every
backend runs them and autograd differentiates them unless a formula is declared.
"""
from __future__ import annotations

import builtins as _b
import math

import numpy as np

from plugtorch import _dtypes
from plugtorch import _memory_format as MF
from plugtorch._caches import Memo
from plugtorch.dispatch import arguments as A
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.registry import OUT_MULTI, OUT_RAW, register_op


def _pt():
    import plugtorch
    return plugtorch


def composite(name, tags=(), differentiable=True, out_kind=None):
    def deco(fn):
        kw = {} if out_kind is None else {"out_kind": out_kind}
        register_op(name, decomposition=fn, tags=tags, differentiable=differentiable, **kw)
        return fn
    return deco


def _t(op, x, name="input"):
    if not isinstance(x, M.Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(x).__name__}")


# ---- transfer -----------------------------------------------------------------------------
@composite("_to_device", tags=("transfer",))
def _to_device(input, device):
    """Copy to another device through host memory (backends may register a direct path)."""
    from plugtorch.dispatch.dispatcher import _resolve_backend
    src_be = input._backend()
    dst_be = device._backend or _resolve_backend(device)
    M.check_dtype("to", input._dtype, device, dst_be)
    if device.type == "meta":   # nothing to carry over but the shape, dtype and layout: no host read
        return M.Tensor._wrap(dst_be.like(tuple(input.shape), input._dtype, input.stride()), input._dtype, device)
    host = src_be.to_numpy(input._data)
    return M.Tensor._wrap(dst_be.from_numpy(host, device.index), input._dtype, device)


# ---- shape (views) ------------------------------------------------------------------------
@composite("reshape", tags=("shape",))
def reshape(input, *shape):
    """A view when the strides allow it, else a copy.

    >>> plugtorch.arange(6).reshape(2, 3).shape
    plugtorch.Size([2, 3])
    """
    from plugtorch.dispatch.ops.shape import _int_args, _missing_sizes, cached_view_shape, infer_size, view_strides
    if isinstance(input, M.Tensor) and shape:
        req = _int_args(shape)
        if req is not None:
            hit = cached_view_shape(input, req)
            if hit is not None:   # a view found valid before for this shape and these strides
                return _pt().ops.view(input, hit)
    _t("reshape", input)
    if not shape:
        raise _missing_sizes("reshape", "shape")
    shape = infer_size("reshape", M.as_shape("reshape", shape), input.numel())
    if view_strides(tuple(input.shape), input.stride(), shape) is None:
        input = _pt().ops.clone(input)   # row-major (Tensor.clone keeps a channels_last layout)
    return _pt().ops.view(input, shape)


@composite("flatten", tags=("shape",))
def flatten(input, start_dim=0, end_dim=-1):
    _t("flatten", input)
    s = M.wrap_dim("flatten", start_dim, input.ndim)   # a 0-d tensor's dims are -1 and 0, as PyTorch's
    e = M.wrap_dim("flatten", end_dim, input.ndim)
    if input.ndim == 0:
        return input.reshape(1)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shp = tuple(input.shape)
    n = 1
    for d in shp[s:e + 1]:
        n *= d
    return input.reshape(shp[:s] + (n,) + shp[e + 1:])


@composite("unflatten", tags=("shape",))
def unflatten(input, dim, sizes):
    _t("unflatten", input)
    d = M.wrap_dim("unflatten", dim, input.ndim)
    sizes = A.as_ints("unflatten", "sizes", sizes)   # PyTorch's TypeError for (1, 3.5) or 4
    if not sizes:
        raise RuntimeError(f"unflatten(): sizes must be non-empty; pass the sizes that dim {d} (of size "
                           f"{input.shape[d]}) splits into, e.g. (2, -1)")
    from plugtorch.dispatch.ops.shape import infer_size
    sizes = infer_size("unflatten", sizes, input.shape[d])
    shp = tuple(input.shape)
    return _pt().ops.view(input, shp[:d] + sizes + shp[d + 1:])


@composite("squeeze", tags=("shape",))
def squeeze(input, dim=None):
    _t("squeeze", input)
    shp = tuple(input.shape)
    if dim is None:
        dims = {i for i, s in enumerate(shp) if s == 1}
    else:
        dims = set(M.wrap_dims("squeeze", dim, input.ndim)) if input.ndim else set()
        dims = {d for d in dims if shp[d] == 1}
    return _pt().ops.view(input, tuple(s for i, s in enumerate(shp) if i not in dims))


@composite("unsqueeze", tags=("shape",))
def unsqueeze(input, dim):
    _t("unsqueeze", input)
    d = M.wrap_dim("unsqueeze", dim, input.ndim + 1)
    shp = list(input.shape)
    shp.insert(d, 1)
    return _pt().ops.view(input, tuple(shp))


@composite("transpose", tags=("shape",))
def transpose(input, dim0, dim1):
    _t("transpose", input)
    n = input.ndim
    a, b = M.wrap_dim("transpose", dim0, n), M.wrap_dim("transpose", dim1, n)
    if n == 0:
        return _pt().ops.view(input, ())
    perm = list(range(n))
    perm[a], perm[b] = perm[b], perm[a]
    return input.permute(perm)


@composite("t", tags=("shape",))
def t(input):
    _t("t", input)
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D; use .mT or transpose")
    return input.transpose(0, 1) if input.ndim == 2 else input.view(tuple(input.shape))


@composite("narrow", tags=("shape",))
def narrow(input, dim, start, length):
    _t("narrow", input)
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor; unsqueeze it first")
    d = M.wrap_dim("narrow", dim, input.ndim)
    n = input.shape[d]
    if isinstance(start, M.Tensor):
        start = int(start)
    start, length = A.as_int("narrow", "start", start), A.as_int("narrow", "length", length)
    if length < 0:   # checked first, as PyTorch does
        raise RuntimeError(f"narrow(): length must be non-negative, got {length}")
    if start < -n or start > n:   # PyTorch: IndexError for the start, RuntimeError for the length
        raise IndexError(f"narrow(): start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if start < 0:
        start += n
    if start + length > n:
        raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _pt().ops.slice(input, d, start, start + length, 1)


@composite("expand_as", tags=("shape",))
def expand_as(input, other):
    _t("expand_as", input)
    _t("expand_as", other, "other")
    return input.expand(tuple(other.shape))


@composite("broadcast_to", tags=("shape",))
def broadcast_to(input, size):
    _t("broadcast_to", input)
    return input.expand(tuple(size))


@composite("contiguous", tags=("shape",))
def contiguous(input, memory_format=None):
    """``input`` itself if it is laid out in ``memory_format`` (default ``contiguous_format``), else a
    copy that is: ``x.contiguous(memory_format=plugtorch.channels_last)`` stores an NCHW tensor NHWC."""
    _t("contiguous", input)
    if memory_format is None or memory_format is MF.contiguous_format:
        return input if input.is_contiguous() else _pt().ops.clone(input)
    fmt = MF.check("contiguous", memory_format)
    if fmt is MF.preserve_format:
        if input.is_contiguous():   # (PyTorch's returns a row-major input as it is, and refuses the rest)
            return input
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator; pass "
                           "plugtorch.contiguous_format or plugtorch.channels_last(_3d)")
    MF.check_rank(fmt, input.ndim)
    if input.is_contiguous(memory_format=fmt):
        return input
    return MF.copy_as(input, fmt, _pt().ops.clone)


@composite("movedim", tags=("shape",))
def movedim(input, source, destination):
    _t("movedim", input)
    n = input.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain "
                           f"the same number of dims as destination ({dst} dims)")
    src = [M.wrap_dim("movedim", s, n) for s in src]
    dst = [M.wrap_dim("movedim", d, n) for d in dst]
    for what, ds, given in (("source", src, source), ("destination", dst, destination)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{what}` ({list(given)})")
    if n == 0:
        return _pt().ops.view(input, ())
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(n) if i not in src)
    return input.permute([o if o is not None else next(rest) for o in order])


# ---- joining and splitting ----------------------------------------------------------------
@composite("stack", tags=("shape",))
def stack(tensors, dim=0):
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"stack(): argument 'tensors' must be a tuple or list of Tensors, not {type(tensors).__name__}")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    from plugtorch.dispatch.ops.shape import check_tensor_list
    check_tensor_list("stack", tensors)
    shp = tuple(tensors[0].shape)
    for i, x in enumerate(tensors):
        if tuple(x.shape) != shp:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shp)} at entry 0 "
                               f"and {list(x.shape)} at entry {i}")
    d = M.wrap_dim("stack", dim, len(shp) + 1)
    if d < len(shp):   # the equal blocks joined along d are the stacked tensor: one cat, one view
        return _pt().cat(tensors, d).reshape(shp[:d] + (len(tensors),) + shp[d:])
    return _pt().cat([x.unsqueeze(d) for x in tensors], d)


@composite("split", tags=("shape",), out_kind=OUT_MULTI)
def split(tensor, split_size_or_sections, dim=0):
    _t("split", tensor)
    if tensor.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor (got a 0-d tensor)")
    d = M.wrap_dim("split", dim, tensor.ndim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        if s < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={s}")
        if s == 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        sizes = [_b.min(s, n - i) for i in range(0, n, s)] if n else [0]
    else:
        sizes = list(A.as_ints("split_with_sizes", "split_sizes", split_size_or_sections))
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                               f"split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got split_sizes={sizes}")
    out, off = [], 0
    for s in sizes:
        out.append(tensor.narrow(d, off, s))
        off += s
    return tuple(out)


@composite("chunk", tags=("shape",), out_kind=OUT_MULTI)
def chunk(input, chunks, dim=0):
    _t("chunk", input)
    if input.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor (got a 0-d tensor)")
    chunks = A.as_int("chunk", "chunks", chunks)
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = M.wrap_dim("chunk", dim, input.ndim)
    n = input.shape[d]
    if n == 0:   # PyTorch: `chunks` empty pieces
        return split(input, [0] * chunks, d)
    size = _b.max(1, -(-n // chunks))
    return split(input, size, d)


@composite("unbind", tags=("shape",), out_kind=OUT_MULTI)
def unbind(input, dim=0):
    _t("unbind", input)
    if input.ndim == 0:   # PyTorch's IndexError (wrap_dim lets dim 0 of a 0-d tensor through)
        raise IndexError(f"unbind(): Dimension specified as {dim} but tensor has no dimensions; a 0-d tensor "
                         "has nothing to unbind (use .item() or unsqueeze it first)")
    d = M.wrap_dim("unbind", dim, input.ndim)
    return tuple(input.select(d, i) for i in range(input.shape[d]))


@composite("roll", tags=("shape",))
def roll(input, shifts, dims=None):
    _t("roll", input)
    shifts = list(A.as_ints("roll", "shifts", shifts if isinstance(shifts, (list, tuple)) else (shifts,)))
    dims = [] if dims is None else list(A.as_ints("roll", "dims", dims if isinstance(dims, (list, tuple)) else (dims,)))
    if not shifts:
        raise RuntimeError("roll(): `shifts` required")
    if not dims:
        if len(shifts) != 1:
            raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, dims: 0 "
                               "(without dims, roll takes one shift for the flattened tensor)")
        return roll(input.flatten(), shifts[0], 0).view(tuple(input.shape))
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}")
    out = input
    for s, d in zip(shifts, dims):
        d = M.wrap_dim("roll", d, input.ndim)
        n = input.shape[d]
        if n == 0:
            continue
        s %= n
        if s:
            out = _pt().cat([out.narrow(d, n - s, s), out.narrow(d, 0, n - s)], d)
    return out


@composite("repeat", tags=("shape",))
def repeat(input, *sizes):
    _t("repeat", input)
    sizes = M.as_shape("repeat", sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    full = (1,) * (len(sizes) - input.ndim) + tuple(input.shape)
    if any(r < 0 for r in sizes):   # a -1 would otherwise mean "keep this size" to expand below
        raise RuntimeError(f"repeat(): Trying to create tensor with negative dimension "
                           f"{next(r * s for r, s in zip(sizes, full) if r < 0)}: "
                           f"{[r * s for r, s in zip(sizes, full)]} (repeats {list(sizes)} must be non-negative)")
    x = input.reshape((1,) * (len(sizes) - input.ndim) + tuple(input.shape))
    # interleave a new axis before each dim, expand it, then merge
    shp = []
    exp = []
    for r, s in zip(sizes, x.shape):
        shp += [1, s]
        exp += [r, s]
    y = x.reshape(shp).expand(exp)
    return y.reshape(tuple(r * s for r, s in zip(sizes, x.shape)))


@composite("tile", tags=("shape",))
def tile(input, dims):
    _t("tile", input)
    dims = M.as_shape("tile", (dims,) if not isinstance(dims, (list, tuple)) else dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


# ---- activations ----------------------------------------------------------------------------
def relu(input):
    """max(input, 0), elementwise; nan stays nan and -0.0 stays -0.0 (as PyTorch's clamp_min).

    >>> plugtorch.relu(plugtorch.tensor([-1., 2.])).tolist()
    [0.0, 2.0]
    """
    return _pt().where(input < 0, 0, input)


# pointwise with a meta: a backend may run it as one kernel (cpu does), others decompose
from plugtorch.dispatch.ops.pointwise import _unary_meta  # noqa: E402

register_op("relu", _unary_meta("relu", "same", (_dtypes._INT, _dtypes._FLOAT)), decomposition=relu,
            tags=("pointwise",))


def threshold_backward(grad_output, input, threshold):
    """The gradient of ``threshold``/``relu`` (``input`` their input or output): ``grad_output``
    where ``input > threshold`` or is nan, 0 elsewhere (PyTorch's rule at the kink)."""
    dt = M.binary_dtype(grad_output, input)
    return _pt().where(input.to(dt) <= threshold, 0, grad_output).to(dt)


_THRESHOLD_BACKWARD = Memo(1024)   # operands' (device, dtype, shape) -> (device, dtype): checks passed


def _threshold_backward_meta(grad_output, input, threshold):
    """A kernel receives ``(grad_output, input, threshold, dtype)``; shapes and devices must agree."""
    try:
        key = (grad_output._device, grad_output._dtype, grad_output._data.shape, input._device, input._dtype,
               input._data.shape, threshold.__class__)
    except AttributeError:
        key = None
    else:
        hit = _THRESHOLD_BACKWARD.get(key)
        if hit is not None:
            dt = hit[1]
            return hit[0], (grad_output._data, input._data, _threshold_as(threshold, dt), dt), dt
    for arg, t in (("grad_output", grad_output), ("input", input)):
        if not isinstance(t, M.Tensor):
            raise TypeError(f"threshold_backward(): argument '{arg}' must be Tensor, not {type(t).__name__}")
    M.check_scalar("threshold_backward", threshold)
    if tuple(grad_output.shape) != tuple(input.shape):
        raise RuntimeError(f"threshold_backward(): grad_output of shape {tuple(grad_output.shape)} does not match "
                           f"input of shape {tuple(input.shape)}")
    dev = M.common_device("threshold_backward", (grad_output, input))
    # PyTorch compares in the operands' promoted dtype (the result's), the threshold converted to it
    dt = M.binary_dtype(grad_output, input)
    if dt is _dtypes.bool:
        raise M.not_implemented_for("threshold_backward", dt, "convert the tensors with .float() first")
    threshold = _threshold_as(threshold, dt)
    if key is not None:
        _THRESHOLD_BACKWARD[key] = (dev, dt)
    return dev, (grad_output._data, input._data, threshold, dt), dt


def _threshold_as(value, dt):
    """The threshold converted to the result dtype as PyTorch converts it, checked: RuntimeError for
    a value the dtype cannot hold (half precision holds float32's range: it compares in float32);
    an integer dtype truncates a float (2.5 is 2) and wraps a negative int to unsigned (-1 is 255)."""
    if dt.category is _dtypes._FLOAT:
        return A.fit_scalar("threshold_backward", value, _dtypes.float32 if dt.itemsize == 2 else dt)
    value = A.fit_scalar("threshold_backward", value, dt)
    return int(value) if value.__class__ is float else value


register_op("threshold_backward", _threshold_backward_meta, decomposition=threshold_backward, tags=("pointwise",))


# ---- indexing -----------------------------------------------------------------------------
@composite("index_select", tags=("indexing",))
def index_select(input, dim, index):
    _t("index_select", input)
    d = M.wrap_dim("index_select", dim, input.ndim)
    if not isinstance(index, M.Tensor):
        raise TypeError(f"index_select(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._dtype not in (_dtypes.int32, _dtypes.int64):
        raise RuntimeError(f"index_select(): Expected dtype int32 or int64 for index, got {index._dtype}")
    if index.ndim > 1:
        raise IndexError(f"index_select(): Index is supposed to be a vector (got a {index.ndim}-D index of "
                         f"shape {tuple(index.shape)})")
    n = input.shape[d] if input.ndim else 1
    A.check_index_range(index, 0, n, IndexError,    # PyTorch takes no negative indices here
                        f"index_select(): an index is out of range for dimension {d} with size {n} (index out of "
                        "range in self)",
                        lambda lo, hi: f"index_select(): index {lo if lo < 0 else hi} is out of range for dimension {d} "
                                       f"with size {n} (index out of range in self)")
    if input.ndim == 0:   # a 0-d input is one element: index 0 selects it
        if index.numel() != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {index.numel()} "
                               "value(s) (a 0-d input has one element)")
        return _pt().ops.index(input.reshape(1), [index.reshape(-1)]).reshape(())
    return _pt().ops.index(input, [None] * d + [index.reshape(-1)])


@composite("masked_fill", tags=("indexing",))
def masked_fill(input, mask, value):
    _t("masked_fill", input)
    _t("masked_fill", mask, "mask")
    if not isinstance(mask, M.Tensor) or mask._dtype is not _dtypes.bool:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{mask._dtype if isinstance(mask, M.Tensor) else type(mask).__name__}")
    if isinstance(value, M.Tensor):
        if value.ndim:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s).")
        if value.requires_grad:
            value = value.to(input.dtype)
        else:   # PyTorch reads the value as a scalar: checked against the input's dtype
            value = value.item()
    if not isinstance(value, M.Tensor):
        value = M.scalar_arg("masked_fill", value)
        value = A.fit_scalar("masked_fill", value, input._dtype)
    M.broadcast_shapes(tuple(input.shape), tuple(mask.shape), op="masked_fill")
    # the result has the broadcast shape of input and mask, as PyTorch's (masked_fill_ keeps input's)
    return _pt().where(mask, value if isinstance(value, M.Tensor) else _cast_scalar(value, input._dtype), input)


def _cast_scalar(v, dtype):
    if dtype.category == _dtypes._COMPLEX:
        return complex(v)
    if dtype.category == _dtypes._FLOAT:
        return float(v)
    if dtype is _dtypes.bool:
        return bool(v)
    return int(v)


@composite("masked_select", tags=("indexing", "dynamic_shape"))
def masked_select(input, mask):
    _t("masked_select", input)
    _t("masked_select", mask, "mask")
    if mask._dtype is not _dtypes.bool:   # (an integer mask would index: x[[1, 0, 1]])
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {mask._dtype}; use mask.bool()")
    M.data_dependent_on_meta("masked_select", input, mask)
    shape = M.broadcast_shapes(tuple(input.shape), tuple(mask.shape), op="masked_select")
    return input.expand(shape)[mask.expand(shape)]


@composite("take_along_dim", tags=("indexing",))
def take_along_dim(input, indices, dim=None):
    """``input`` and ``indices`` broadcast against each other except along ``dim``, then gather
    (``dim=None``: both flattened)."""
    _t("take_along_dim", input)
    if not isinstance(indices, M.Tensor):
        raise TypeError(f"take_along_dim(): argument 'indices' must be Tensor, not {type(indices).__name__}")
    if indices._dtype is not _dtypes.int64 and indices._dtype is not _dtypes.int32:
        raise RuntimeError(f"take_along_dim(): dtype of indices should be int32 or int64 but got {indices._dtype}")
    if dim is None:
        return input.reshape(-1).gather(0, indices.reshape(-1))
    if input.ndim == 0:
        raise IndexError(f"take_along_dim(): Dimension specified as {dim} but tensor has no dimensions; pass "
                         "dim=None for a 0-d input")
    if input.ndim != indices.ndim:
        raise RuntimeError(f"take_along_dim(): input and indices should have the same number of dimensions, but got "
                           f"{input.ndim} dimensions for input, and {indices.ndim} dimensions for indices")
    d = M.wrap_dim("take_along_dim", dim, input.ndim)
    xs, js = list(input.shape), list(indices.shape)
    xs[d] = js[d] = 1
    shape = M.broadcast_shapes(tuple(xs), tuple(js), op="take_along_dim")
    x_shape = shape[:d] + (input.shape[d],) + shape[d + 1:]
    j_shape = shape[:d] + (indices.shape[d],) + shape[d + 1:]
    x = input if tuple(input.shape) == x_shape else input.expand(x_shape)
    j = indices if tuple(indices.shape) == j_shape else indices.expand(j_shape)
    return x.gather(d, j)


def _topk_args(input, k, dim, largest, sorted):
    _t("topk", input)
    M.check_bool("topk", "largest", largest)
    M.check_bool("topk", "sorted", sorted)
    if input._dtype is _dtypes.bool:
        raise RuntimeError("topk(): does not support bool tensors (as PyTorch on cpu); convert with .long() first")
    k = A.as_int("topk", "k", k)
    d = M.wrap_dim("topk", dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if k < 0 or k > n:
        raise RuntimeError(f"topk(): selected index k={k} out of range for dimension {d} of size {n}")
    return k, d


def _topk_meta(input, k, dim=-1, largest=True, sorted=True):
    """A backend may give topk a kernel (cpu: a partition, not a full sort); it returns what the
    decomposition returns: the first k of the stable sort, ties in index order."""
    k, d = _topk_args(input, k, dim, largest, sorted)
    return input._device, (input._data, k, d, bool(largest)), (input._dtype, _dtypes.int64)


def topk(input, k, dim=-1, largest=True, sorted=True):
    k, d = _topk_args(input, k, dim, largest, sorted)
    v, i = _pt().sort(input, d, descending=largest, stable=True)
    if input.ndim == 0:
        return v, i
    return v.narrow(d, 0, k), i.narrow(d, 0, k)


register_op("topk", _topk_meta, decomposition=topk, tags=("reduction",), out_kind=OUT_MULTI)


@composite("argsort", tags=("reduction",), differentiable=False)
def argsort(input, dim=-1, descending=False, stable=False):
    return _pt().sort(input, dim, descending=descending, stable=stable)[1]


@composite("kthvalue", tags=("reduction",), out_kind=OUT_MULTI)
def kthvalue(input, k, dim=-1, keepdim=False):
    _t("kthvalue", input)
    M.check_bool("kthvalue", "keepdim", keepdim)
    if input._dtype is _dtypes.bool:
        raise M.not_implemented_for("kthvalue", input._dtype, "convert bool tensors with .long() first")
    k = A.as_int("kthvalue", "k", k)
    d = M.wrap_dim("kthvalue", dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size (input shape "
                         f"{tuple(input.shape)})")
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k={k} out of range for dimension {d} of size {n} "
                           f"(expected 1 <= k <= {n})")
    if input.ndim == 0:
        return input.clone(), _pt().zeros((), dtype=_dtypes.int64, device=input.device)
    v, i = _pt().sort(input, d, stable=True)
    v, i = v.narrow(d, k - 1, 1), i.narrow(d, k - 1, 1)
    return (v, i) if keepdim else (v.squeeze(d), i.squeeze(d))


def _mode_meta(input, dim=-1, keepdim=False):
    """A backend may run mode as one kernel ``(x, dim or None for 0-d, keepdim) -> (values, indices)``."""
    _t("mode", input)
    M.check_bool("mode", "keepdim", keepdim)
    if dim.__class__ is not int:
        raise TypeError(f"mode(): argument 'dim' must be int, not {type(dim).__name__}")
    d = M.wrap_dim("mode", dim, input.ndim)
    if input.ndim and input.shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size (input shape "
                         f"{tuple(input.shape)}); the mode of no values is undefined")
    return input._device, (input._data, d if input.ndim else None, bool(keepdim)), (input._dtype, _dtypes.int64)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest of equally frequent ones; nan counts as
    one value, larger than all others) and the index of one of its occurrences (PyTorch leaves
    which one unspecified; plugtorch gives the last).

    >>> plugtorch.mode(plugtorch.tensor([3, 1, 3, 1, 2])).indices
    tensor(3)
    """
    _mode_meta(input, dim, keepdim)
    pt = _pt()
    if input.ndim == 0:
        return input.clone(), pt.zeros((), dtype=_dtypes.int64, device=input.device)
    d = M.wrap_dim("mode", dim, input.ndim)
    v, i = pt.sort(input, d, stable=True)            # equal values side by side, nan last, stably
    n = v.shape[d]
    # runs of equal values, in O(n) memory (comparing every pair took n^2: 9.8 GB for 2 rows of 70000):
    # a run starts where a value differs from its left neighbour (nan equals nan here)
    starts = pt.ones(tuple(v.shape[:d]) + (1,) + tuple(v.shape[d + 1:]), dtype=_dtypes.bool, device=v.device)
    if n > 1:
        left, right = v.narrow(d, 0, n - 1), v.narrow(d, 1, n - 1)
        differs = right != left
        if input._dtype.is_floating_point:
            differs = differs & ~(right.isnan() & left.isnan())
        starts = pt.cat([starts, differs], d)
    pos = pt.arange(n, device=v.device).reshape((n,) + (1,) * (v.ndim - 1 - d))
    run = pos - pt.where(starts, pos, 0).cummax(d)[0] + 1          # the length of its run up to each element
    top = run.amax(d, keepdim=True)
    last = (run == top).to(_dtypes.uint8).argmax(d, keepdim=True)  # the end of the smallest value's longest run
    indices = i.gather(d, last)                                   # its last occurrence
    values = input.gather(d, indices)                            # (the gradient goes to that element)
    return (values, indices) if keepdim else (values.squeeze(d), indices.squeeze(d))


register_op("mode", _mode_meta, decomposition=mode, tags=("reduction",), out_kind=OUT_MULTI)


# ---- reductions ---------------------------------------------------------------------------
def _check_float(op, x, dtype=None):
    d = dtype or x._dtype
    if d.category < _dtypes._FLOAT:   # (PyTorch's words; with dtype= it is the dtype argument that is wrong)
        raise RuntimeError(f"{op}(): could not infer output dtype. {'Input' if dtype is None else 'Optional'} "
                           f"dtype must be either a floating point or complex dtype. Got: "
                           f"{_LEGACY_NAMES.get(d.name, d.name)}")


# PyTorch's messages use the legacy type names
_LEGACY_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                 "int64": "Long"}


def _count(x, dim, op="mean"):
    dims = M.wrap_dims(op, dim, x.ndim)
    n = 1
    for d in dims:
        n *= x.shape[d]
    return n


@composite("mean", tags=("reduction",))
def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Arithmetic mean over ``dim`` (all dims by default).

    >>> plugtorch.tensor([1., 2., 3.]).mean().item()
    2.0
    """
    _t("mean", input)
    M.check_bool("mean", "keepdim", keepdim)
    dtype = _dtypes.to_dtype(dtype) if dtype is not None else None
    _check_float("mean", input, dtype)
    x = input if dtype is None else input.to(dtype)
    n = _count(x, dim)
    half = x._dtype in (_dtypes.float16, _dtypes.bfloat16)   # summed and divided in float32, rounded once
    s = x.sum(dim, keepdim=keepdim, dtype=_dtypes.float32 if half else None)
    s = s / n if n else s * float("nan")
    return s.to(x._dtype) if half else s


@composite("var", tags=("reduction",))
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    _t("var", input)
    _check_float("var", input)
    dim, correction = _var_args("var", dim, unbiased, keepdim, correction)
    return _var(input, dim, keepdim, correction)


def _var(input, dim, keepdim, correction, root=False):
    # two passes (mean, then squared deviations), in float32 for float16/bfloat16 and rounded once,
    # as PyTorch: std of float16 [300, 300, 300, -300] is 300 although its variance overflows
    dt = input._dtype
    x, = _in_float32_if_half(dt, input)
    n = _count(x, dim, "std" if root else "var")
    d = x - x.mean(dim, keepdim=True)
    # the corrected two-pass form (Chan, Golub & LeVeque): the mean's rounding error e (its sum of
    # many float32 terms is off by ~n*eps*|mean|) would add e^2 to every squared deviation; the sum
    # of the deviations (n*e) takes it back out, so float32 data at 1e5 + noise keep PyTorch's
    # (Welford's) accuracy. That term's gradient is zero (sum(x - mean) is constant), so it is detached.
    # Without degrees of freedom (n <= correction: one element, correction 1) the variance is 0 / 0 and
    # its gradient 2 (x - mean) / 0 is nan, as PyTorch's: no correction then, its relu would zero it.
    s1 = d.detach().sum(dim, keepdim=keepdim) if n and n - correction > 0 else None
    if d._dtype.is_complex:   # |z - mean|^2: the variance of complex numbers is real (PyTorch)
        d = d.abs()
        if s1 is not None:
            s1 = s1.abs()
    ss = (d * d).sum(dim, keepdim=keepdim)
    if s1 is not None:   # relu: rounding may leave a constant slice's (zero) sum a hair below 0
        ss = (ss - s1 * s1 * (1.0 / n)).relu()
    v = ss / _b.max(n - correction, 0)
    if root:   # sqrt's gradient at a zero variance is 0 (PyTorch's std backward), not 0 * inf = nan
        pos = v > 0
        v = _pt().where(pos, _pt().where(pos, v, 1.0).sqrt(), v * 0)
    return v.to(dt.to_real())


def _var_args(op, dim, unbiased, keepdim, correction):
    """(dim, correction) from var/std's overloads: (dim, unbiased, keepdim), (unbiased) with a bool
    first, and (dim, *, correction); mixing them is PyTorch's TypeError."""
    M.check_bool(op, "keepdim", keepdim)
    if unbiased is not None:
        M.check_bool(op, "unbiased", unbiased)
    if isinstance(dim, bool):   # x.var(False): the unbiased flag
        if unbiased is not None or keepdim or correction is not None:
            raise TypeError(f"{op}(): the first argument {dim} is the 'unbiased' flag, which takes no other "
                            "arguments; pass dim=, unbiased= and keepdim= by name")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}(): got both unbiased={unbiased} and correction={correction}; pass one of them "
                        "(unbiased=False is correction=0)")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


@composite("std", tags=("reduction",))
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    _t("std", input)
    _check_float("std", input)
    dim, correction = _var_args("std", dim, unbiased, keepdim, correction)
    return _var(input, dim, keepdim, correction, root=True)


@composite("var_mean", tags=("reduction",), out_kind=OUT_MULTI)
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    _t("var_mean", input)
    dim, correction = _var_args("var_mean", dim, unbiased, keepdim, correction)
    M.wrap_dims("var_mean", dim, input.ndim)   # (bad dims named by this op, not by var)
    return var(input, dim, None, keepdim, correction=correction), input.mean(dim, keepdim=keepdim)


@composite("std_mean", tags=("reduction",), out_kind=OUT_MULTI)
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    _t("std_mean", input)
    dim, correction = _var_args("std_mean", dim, unbiased, keepdim, correction)
    M.wrap_dims("std_mean", dim, input.ndim)
    return std(input, dim, None, keepdim, correction=correction), input.mean(dim, keepdim=keepdim)


@composite("logsumexp", tags=("reduction",))
def logsumexp(input, dim, keepdim=False):
    _t("logsumexp", input)
    M.check_bool("logsumexp", "keepdim", keepdim)
    M.wrap_dims("logsumexp", dim, input.ndim)   # (bad dims named by this op, not by its amax or sum)
    x = input if input._dtype.is_floating_point or input._dtype.is_complex else input.to(_dtypes.get_default_dtype())
    if x.numel() == 0:
        return x.exp().sum(dim, keepdim=keepdim).log()
    m = (x.real if x._dtype.is_complex else x).detach().amax(dim, keepdim=True)   # complex: the real parts' max
    m = _pt().where(m.isinf(), 0.0, m)
    out = (x - m).exp().sum(dim, keepdim=True).log() + m
    return out if keepdim else out.squeeze(dim)


def _softmax_input(op, input, dtype):
    _t(op, input)
    if dtype is None and not input._dtype.is_floating_point:   # PyTorch has no integer kernel
        raise M.not_implemented_for(op, input._dtype, f"pass dtype= (e.g. {op}(x, dim, dtype=plugtorch.float32)) "
                                    "or convert with .float() first")


@composite("softmax", tags=("reduction",))
def softmax(input, dim, dtype=None):
    _softmax_input("softmax", input, dtype)
    dim = M.wrap_dim("softmax", dim, input.ndim)   # checked here too for empty input, which skips amax
    x = input if dtype is None else input.to(dtype)
    if not x._dtype.is_floating_point:
        x = x.to(_dtypes.get_default_dtype())
    if x.numel() == 0:   # nothing to normalise (and amax over an empty dim has no identity)
        return x.exp()
    dt = x._dtype
    if dt is _dtypes.float16 or dt is _dtypes.bfloat16:   # in float32, rounded once, as PyTorch
        x = x.float()
    x = x.contiguous()   # a row-major result whatever the input's layout, as torch's (.view() works)
    e = (x - x.detach().amax(dim, keepdim=True)).exp()
    out = e / e.sum(dim, keepdim=True)
    return out if out._dtype is dt else out.to(dt)


def _log_softmax_meta(input, dim, dtype=None):
    """A backend may run log_softmax as one kernel ``(x, dim or None for 0-d, out dtype)``."""
    _softmax_input("log_softmax", input, dtype)
    if dtype is not None and not isinstance(dtype, _dtypes.dtype):
        raise TypeError(f"log_softmax(): argument 'dtype' must be a plugtorch dtype, not {type(dtype).__name__}")
    d = M.wrap_dim("log_softmax", dim, input.ndim)
    out = M.float_result(input._dtype if dtype is None else dtype)
    return input._device, (input._data, d if input.ndim else None, out), out


def log_softmax(input, dim, dtype=None):
    x = input if dtype is None else input.to(dtype)
    if not x._dtype.is_floating_point:
        x = x.to(_dtypes.get_default_dtype())
    if x.numel() == 0:
        return x - logsumexp(x, dim, keepdim=True)
    # (x - max) - log(sum(exp(x - max))), as PyTorch: x - logsumexp(x) loses the small terms when |x| is large.
    # An infinite max is kept (unlike logsumexp's): a row holding inf, or only -inf, is all nan, as in PyTorch.
    dt = x._dtype
    if dt is _dtypes.float16 or dt is _dtypes.bfloat16:   # in float32, rounded once, as PyTorch and the cpu kernel
        x = x.float()
    x = x.contiguous()   # a row-major result whatever the input's layout, as torch's (.view() works)
    s = x - x.detach().amax(dim, keepdim=True)
    out = s - s.exp().sum(dim, keepdim=True).log()
    return out if out._dtype is dt else out.to(dt)


register_op("log_softmax", _log_softmax_meta, decomposition=log_softmax, tags=("reduction",))


@composite("max", tags=("reduction",))
def max(input, dim=None, keepdim=False, other=None):
    """max(x) -> the largest value; max(x, dim) -> (values, indices); max(a, b) -> maximum."""
    return _max_min("max", input, dim, keepdim, other)


from plugtorch.dispatch.ops.reductions import check_nonempty  # noqa: E402  (max, min and aminmax)


def _max_min(name, input, dim, keepdim, other):
    pt = _pt()
    if other is not None or isinstance(dim, M.Tensor):   # max(a, b) is maximum(a, b)
        if (other is not None and dim is not None) or (keepdim is not False and keepdim is not None):
            given = [type(a).__name__ for a in (input, dim, keepdim, other) if a is not None and a is not False]
            raise TypeError(f"{name}() received an invalid combination of arguments - got ({', '.join(given)}): "
                            f"{name}(input, other) takes no dim or keepdim; call {name}(input, dim, keepdim) for a "
                            f"reduction or maximum/minimum(input, other) for the elementwise {name}")
        return (pt.maximum if name == "max" else pt.minimum)(input, dim if other is None else other)
    _t(name, input)
    M.check_bool(name, "keepdim", keepdim)
    if dim is None:
        check_nonempty(name, input, None, ())
        return input.amax() if name == "max" else input.amin()
    if isinstance(dim, (list, tuple)):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__} (amax/amin take several dims)")
    d = M.wrap_dim(name, dim, input.ndim)
    check_nonempty(name, input, d, (d,), IndexError)
    keys = input if input._dtype is not _dtypes.bool else input.to(_dtypes.uint8)   # argmax refuses bool
    indices = keys.argmax(d, keepdim=True) if name == "max" else keys.argmin(d, keepdim=True)
    if input.ndim:   # the value at the index picked, so the gradient goes there alone, as PyTorch's
        values = input.gather(d, indices)
        if not keepdim:
            values, indices = values.squeeze(d), indices.squeeze(d)
    else:
        values = input.amax(d) if name == "max" else input.amin(d)
    return getattr(pt.return_types, name)(values, indices)


@composite("min", tags=("reduction",))
def min(input, dim=None, keepdim=False, other=None):
    """min(x) -> the smallest value; min(x, dim) -> (values, indices); min(a, b) -> minimum."""
    return _max_min("min", input, dim, keepdim, other)


@composite("aminmax", tags=("reduction",), out_kind=OUT_MULTI)
def aminmax(input, *, dim=None, keepdim=False):
    _t("aminmax", input)
    M.check_bool("aminmax", "keepdim", keepdim)
    if dim is None and input.numel() == 0:
        raise RuntimeError(f"aminmax(): cannot compute aminmax over an empty dimension as the operation has "
                           f"no identity (input shape {tuple(input.shape)}); specify a non-empty dim")
    if dim is not None:
        d = M.wrap_dim("aminmax", dim, input.ndim)
        check_nonempty("aminmax", input, d, (d,))
    return input.amin(dim, keepdim=keepdim), input.amax(dim, keepdim=keepdim)


def _check_norm_dtype(xt, dtype, op="linalg.vector_norm"):
    """PyTorch's rules for a norm's input and ``dtype=``: both floating point or complex, of the
    same kind (a complex input cast to a real dtype lost its imaginary parts: |3+4j| gave 3), and
    ``dtype`` holding the input without narrowing."""
    name = lambda d: M.LEGACY_NAMES.get(d.name, d.name)   # noqa: E731
    if xt.category < _dtypes._FLOAT:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {name(xt)}; convert "
                           "with .float() first")
    if dtype is None:
        return
    dt = _dtypes.to_dtype(dtype)
    if dt.category < _dtypes._FLOAT:
        raise RuntimeError(f"{op}: dtype should be floating point or complex, but got {name(dt)}")
    if xt.is_complex != dt.is_complex:
        kind = "complex" if xt.is_complex else "real"
        raise RuntimeError(f"{op}: dtype should be {kind} for {kind} inputs, but got {name(dt)}")
    if _dtypes.promote_types(xt, dt) is not dt:
        raise RuntimeError(f"{op}: the dtype of the input ({name(xt)}) should be convertible without narrowing to "
                           f"the specified dtype ({name(dt)})")


@composite("vector_norm", tags=("reduction",))
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    _t("linalg.vector_norm", x, "x")
    M.check_bool("linalg.vector_norm", "keepdim", keepdim)
    M.wrap_dims("linalg.vector_norm", dim, x.ndim)
    _check_norm_dtype(x._dtype, dtype)
    if dtype is not None:
        x = x.to(dtype)
    a = x.abs()
    if ord == float("inf") or ord < 0:   # max, min, negative powers: no identity for empty input (PyTorch)
        dims = M.wrap_dims("linalg.vector_norm", dim, x.ndim)
        shape = tuple(x.shape)
        if x.numel() == 0 and (dim is None or not dims):
            raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor (shape "
                               f"{shape}) because the operation does not have an identity")
        for d in dims:
            if shape[d] == 0:
                raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on the dimension {d} "
                                   f"because this dimension is empty (shape {shape}) and the operation does "
                                   "not have an identity")
    dt = a._dtype
    if ord not in (float("inf"), -float("inf"), 0, 1):   # PyTorch sums powers of float16/bfloat16 in float32
        out = vector_norm(a.float(), ord, dim, keepdim) if dt in (_dtypes.float16, _dtypes.bfloat16) else None
        if out is not None:
            return out.to(dt)
    if ord == 2:
        return _root_at_zero((a * a).sum(dim, keepdim=keepdim), None)
    if ord == 1:
        return a.sum(dim, keepdim=keepdim)
    if ord == float("inf"):
        return a.amax(dim, keepdim=keepdim)
    if ord == -float("inf"):
        return a.amin(dim, keepdim=keepdim)
    if ord == 0:
        count = (a != 0).to(a.dtype).sum(dim, keepdim=keepdim)   # real, for complex x too
        if x.requires_grad and _pt().is_grad_enabled():
            # PyTorch's result requires grad (its gradient is zero), so norm(x, 0).backward() works
            # inside a loss: add an exact 0 that depends on x (where picks 0 whatever x holds; not
            # through abs, whose gradient at a complex inf is nan)
            zero = _pt().where(_pt().zeros_like(x, dtype=_dtypes.bool), x, 0.0).sum(dim, keepdim=keepdim)
            count = count + (zero.real if zero._dtype.is_complex else zero)
        return count
    if ord < 0 and x.requires_grad and _pt().is_grad_enabled():
        # a zero entry makes the norm 0 (|0|^p = inf); PyTorch's gradient there is 0 for the whole
        # slice, where the chain 0 * inf gave nan: the powers of nonzero stand-ins, then 0
        zero = a == 0
        safe = _pt().where(zero, _pt().ones_like(a), a)
        r = safe.pow(ord).sum(dim, keepdim=keepdim).pow(1.0 / ord)
        return _pt().where(zero.to(a.dtype).sum(dim, keepdim=keepdim) > 0, _pt().zeros_like(r), r)
    powers = _root_at_zero(a, ord) if 0 < ord < 1 else a.pow(ord)   # (|x|^p: infinite slope at 0)
    return _root_at_zero(powers.sum(dim, keepdim=keepdim), 1.0 / ord)


def _root_at_zero(s, power):
    """``s ** power`` (``sqrt`` for None) whose gradient is 0 where ``s`` is 0, as PyTorch's norm
    backward gives at a zero vector (the root's own derivative is infinite there, and times the
    powers' zero gradient made NaN). Only while a gradient is recorded: two ``where``s keep the
    root away from the zeros."""
    if not (s.requires_grad and _pt().is_grad_enabled()) or (power is not None and power >= 1):
        return s.sqrt() if power is None else s.pow(power)
    zero = s == 0
    safe = _pt().where(zero, _pt().ones_like(s), s)
    r = safe.sqrt() if power is None else safe.pow(power)
    return _pt().where(zero, _pt().zeros_like(r), r)


@composite("norm", tags=("reduction",))
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    if p == "fro" or p is None:
        p = 2
    elif p == "nuc":   # the sum of the singular values over two dims (all of a 2-d input), as PyTorch's
        return _pt().ops.linalg_matrix_norm(input, "nuc", tuple(range(input.ndim)) if dim is None else dim, keepdim,
                                            dtype=dtype)
    elif isinstance(p, str):
        raise RuntimeError(f"norm(): Order {p} not supported (use a number, 'fro' or 'nuc')")
    if isinstance(input, M.Tensor):
        M.wrap_dims("norm", dim, input.ndim)   # (bad dims named by this op, not by vector_norm)
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


@composite("count_nonzero", tags=("reduction",), differentiable=False)
def count_nonzero(input, dim=None):
    _t("count_nonzero", input)
    M.wrap_dims("count_nonzero", dim, input.ndim)
    return (input != 0).sum(dim)


# ---- pointwise composites -----------------------------------------------------------------
@composite("clamp", tags=("pointwise",))
def clamp(input, min=None, max=None):
    """Limit values to [min, max]; nan stays nan (as in PyTorch).

    >>> plugtorch.tensor([-2., 0.5, 3.]).clamp(0, 1).tolist()
    [0.0, 0.5, 1.0]
    """
    _t("clamp", input)
    if min is None and max is None:
        raise RuntimeError("clamp(): At least one of 'min' or 'max' must not be None")
    # a 0-d tensor beside a Python number binds to PyTorch's Scalar overload: a number too (it takes
    # no part in type promotion as a tensor, and must fit the input's dtype)
    if isinstance(min, M.Tensor) != isinstance(max, M.Tensor) and min is not None and max is not None:
        min, max = (b.item() if isinstance(b, M.Tensor) and b.ndim == 0 else b for b in (min, max))
    min, max = (b if b is None or isinstance(b, M.Tensor) else M.scalar_arg("clamp", b) for b in (min, max))
    bounds = [b for b in (min, max) if b is not None]
    # the result's dtype comes from all three operands at once (PyTorch): a uint8 tensor clamped to
    # (-2, 2.5) computes in float32, so -2 is never first wrapped to uint8's 254
    dt = _dtypes.result_type(input, *bounds)
    out = input if input._dtype is dt else input.to(dt)
    for bound in bounds:       # a Python bound must fit the result's dtype (PyTorch's checked cast)
        if not isinstance(bound, M.Tensor):
            A.fit_scalar("clamp", bound, M.binary_dtype(out, bound))
    # where, not maximum/minimum: a value on a bound keeps its gradient (and -0.0 its sign) as in
    # PyTorch; a nan bound gives nan
    pt = _pt()
    for bound, outside in ((min, lambda o, b: o < b), (max, lambda o, b: o > b)):
        if bound is None:
            continue
        hit = outside(out, bound)
        if isinstance(bound, M.Tensor):
            if bound._dtype.is_floating_point:
                hit = hit | (bound != bound)
        elif isinstance(bound, float) and math.isnan(bound):
            hit = pt.ones_like(hit)
        out = pt.where(hit, bound, out)
    if input.requires_grad and out._dtype.is_floating_point:   # nan gets no gradient (PyTorch's clamp backward)
        out = pt.where(out != out, out.detach(), out)
    return out if out._dtype is dt else out.to(dt)


@composite("clamp_min", tags=("pointwise",))
def clamp_min(input, min):
    return clamp(input, min=min)


@composite("clamp_max", tags=("pointwise",))
def clamp_max(input, max):
    return clamp(input, max=max)


@composite("lerp", tags=("pointwise",))
def lerp(input, end, weight):
    _t("lerp", input)
    _t("lerp", end, "end")          # (a number, list or None is PyTorch's TypeError too)
    if (isinstance(weight, M.Tensor) and weight.ndim == 0 and weight._dtype is not input._dtype
            and isinstance(end, M.Tensor) and end._dtype is input._dtype):
        # PyTorch promotes with a 0-d weight of another dtype (a bool lerp by a float16 weight is float16)
        dt = _dtypes.result_type(input, weight)
        input, end, weight = input.to(dt), end.to(dt), weight.to(dt)
    for name, v in (("end", end), ("weight", weight)):
        if isinstance(v, M.Tensor) and v._dtype is not input._dtype:
            raise RuntimeError(f"lerp(): expected dtype {input._dtype} for `{name}` but got dtype {v._dtype}")
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise M.not_implemented_for("lerp", input._dtype, "lerp takes floating-point or complex tensors")
    if not isinstance(weight, M.Tensor):
        weight = M.scalar_arg("lerp", weight)
        if isinstance(weight, complex) and not input._dtype.is_complex:
            # PyTorch converts the weight to the input's dtype, checked: the imaginary part was dropped
            raise RuntimeError(f"lerp(): the complex weight {weight!r} cannot be converted to the input's dtype "
                               f"{input._dtype} (PyTorch: 'value cannot be converted to type float without "
                               f"overflow'); make input and end complex to interpolate with it")
    dt = input._dtype
    input, end, weight = _in_float32_if_half(dt, input, end, weight)
    d = end - input
    # PyTorch's formula: from the nearer end, so that lerp(a, b, 1) == b exactly however large a is
    if isinstance(weight, M.Tensor):
        out = _pt().where(weight.abs() < 0.5, input + weight * d, end - d * (1 - weight))
    else:
        out = input + weight * d if abs(weight) < 0.5 else end - d * (1 - weight)
    return out.to(dt)


def _in_float32_if_half(dt, *operands):
    """The tensor operands of a float16/bfloat16 op, in float32: PyTorch computes half-precision
    pointwise ops in float32 and rounds the result once (rounding each step loses digits)."""
    if dt is not _dtypes.float16 and dt is not _dtypes.bfloat16:
        return operands
    return tuple(v.to(dt).float() if isinstance(v, M.Tensor) else v for v in operands)


@composite("frac", tags=("pointwise",))
def frac(input):
    _t("frac", input)
    if not input._dtype.is_floating_point:
        raise M.not_implemented_for("frac", input._dtype, "frac takes floating-point tensors")
    return input - input.trunc()


@composite("nan_to_num", tags=("pointwise",))
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    _t("nan_to_num", input)
    if input._dtype.is_complex:   # each part on its own, as PyTorch
        return _pt().complex(*(nan_to_num(p, nan, posinf, neginf) for p in (input.real, input.imag)))
    if not input._dtype.is_floating_point:
        return input.clone()
    fi = _dtypes.finfo(input._dtype)
    posinf = fi.max if posinf is None else posinf
    neginf = fi.min if neginf is None else neginf
    # PyTorch casts the replacements to the dtype unchecked: posinf=1e40 in float32 is inf (where
    # refused it, naming where()); finfo(float32).max stays max
    nan, posinf, neginf = (_unchecked_cast(float(v), input._dtype) for v in (nan, posinf, neginf))
    pt = _pt()   # (each mask from the input: nan=inf must stay inf, not become posinf)
    x = pt.where(input == float("inf"), posinf, input)
    x = pt.where(input == float("-inf"), neginf, x)
    return pt.where(input.isnan(), nan, x)


def _unchecked_cast(v, dtype):
    """Python float ``v`` as ``dtype`` holds it, overflowing to +-inf (a C cast)."""
    if abs(v) <= _dtypes.finfo(dtype).max or not math.isfinite(v):
        return v
    with np.errstate(over="ignore"):
        return float(np.array(v).astype(dtype.numpy))


@composite("square", tags=("pointwise",))
def square(input):
    _t("square", input)
    if input._dtype is _dtypes.bool:   # pow(x, 2): bool -> int64, as PyTorch
        input = input.to(_dtypes.int64)
    return input * input


@composite("true_divide", tags=("pointwise",))
def true_divide(input, other):
    return _pt().ops.div(input, other)


@composite("rsub", tags=("pointwise",))
def rsub(input, other, alpha=1):
    return _pt().sub(other, input, alpha=alpha)


@composite("logaddexp", tags=("pointwise",))
def logaddexp(input, other):
    _t("logaddexp", input)
    if M.binary_dtype(input, other).is_complex:
        return _complex_logaddexp(input, other)
    dt = _float_operands("logaddexp", input, other)
    pt = _pt()
    # the operands in the result dtype first (a bool tensor takes no part in a - b)
    a, b = _in_float32_if_half(dt, *(v.to(dt) if isinstance(v, M.Tensor) else v for v in (input, other)))
    # PyTorch's max(a, b) + log1p(exp(-|a - b|)) (log(1 + tiny) would lose the tiny term), the
    # larger picked by one test so that a tie differentiates twice (sigmoid'(0) = 1/4, where
    # maximum's and abs's kinks gave 0); equal infinities give themselves, not inf - inf = nan
    ge = a >= b
    hi, lo = pt.where(ge, a, b), pt.where(ge, b, a)
    out = hi + (lo - hi).exp().log1p()
    out = pt.where(a.isinf() & (a == b), a, out)
    return out.to(dt)


def _complex_logaddexp(input, other):
    """PyTorch's complex log(exp(a) + exp(b)): log1p(exp(min - max)) + max, the operands ordered by
    their real parts; a NaN in the lesser one gives nan+nanj, equal infinite real parts give the
    lesser one (-inf) or log(exp(a) + exp(b)) (+inf)."""
    pt = _pt()
    dt = M.binary_dtype(input, other)
    a, b = (v.to(dt) if isinstance(v, M.Tensor) else pt.tensor(v, dtype=dt, device=input.device) for v in (input, other))
    swap = b.real <= a.real   # (equal real parts: the first operand is the larger, as torch picks)
    lo, hi = pt.where(swap, b, a), pt.where(swap, a, b)
    out = (lo - hi).exp().log1p() + hi
    both_inf = lo.real.isinf() & (lo.real == hi.real)
    out = pt.where(both_inf, pt.where(lo.real < 0, lo, (lo.exp() + hi.exp()).log()), out)
    return pt.where(lo.real.isnan() | lo.imag.isnan(), complex(math.nan, math.nan), out)


def _float_operands(op, input, other):
    """ops with floating-point kernels only: NotImplementedError when the operands promote to no float."""
    _t(op, input)
    dt = M.binary_dtype(input, other)
    if not dt.is_floating_point:
        raise M.not_implemented_for(op, dt, f"{op} takes floating-point tensors")
    return dt


@composite("isclose", tags=("pointwise",), differentiable=False)
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    _t("isclose", input)
    _t("isclose", other, "other")
    M.check_bool("isclose", "equal_nan", equal_nan)
    if input._dtype != other._dtype:
        raise RuntimeError(f"isclose(): input's dtype {input._dtype} did not match other's dtype "
                           f"{other._dtype}; cast one of them with .to()")
    for name, tol in (("rtol", rtol), ("atol", atol)):   # (a negative one made nothing close but equals)
        if tol < 0:
            raise RuntimeError(f"isclose(): {name} must be greater than or equal to zero, but got {tol}")
    # PyTorch's rule: equal values are close (infinities included); otherwise the error must be
    # finite and within tolerance, so inf - (-inf) is never close however large rtol or atol.
    close = input == other
    inexact = input._dtype.is_floating_point or input._dtype.is_complex
    if equal_nan and inexact:
        close = close | (input.isnan() & other.isnan())
    if rtol == 0 and atol == 0:
        return close
    if not inexact:  # as PyTorch: integer differences in float32 never wrap (a complex one keeps its parts)
        input, other = input.float(), other.float()
    actual = (input - other).abs()
    return close | (actual.isfinite() & (actual <= atol + (rtol * other).abs()))


@composite("allclose", differentiable=False, out_kind=OUT_RAW)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    _t("allclose", input)
    _t("allclose", other, "other")
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


@composite("equal", differentiable=False, out_kind=OUT_RAW)
def equal(input, other):
    _t("equal", input)
    _t("equal", other, "other")
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool((input == other).all())


# ---- linear algebra -----------------------------------------------------------------------
@composite("matmul", tags=("linalg",))
def matmul(input, other):
    """Matrix product with PyTorch's rules for 1-d operands and batch broadcasting.

    >>> (plugtorch.ones(2, 3) @ plugtorch.ones(3)).tolist()
    [3.0, 3.0]
    """
    for name, x in (("input", input), ("other", other)):
        if not isinstance(x, M.Tensor):
            raise TypeError(f"matmul(): argument '{name}' must be Tensor, not {type(x).__name__}")
    a, b = input, other
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul(): both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    if a.ndim == 1 and b.ndim == 1:
        if a.shape[0] != b.shape[0]:
            raise RuntimeError(f"matmul(): inconsistent tensor size, expected tensor [{a.shape[0]}] and "
                               f"src [{b.shape[0]}] to have the same number of elements, but got "
                               f"{a.shape[0]} and {b.shape[0]} elements respectively")
    if a._dtype is not b._dtype:
        raise RuntimeError(f"matmul(): expected both arguments to have the same dtype, but got "
                           f"{a._dtype} and {b._dtype}; cast one with .to(dtype)")
    pt = _pt()
    sq_a = a.ndim == 1
    sq_b = b.ndim == 1
    if sq_a:
        a = a.unsqueeze(0)
    if sq_b:
        b = b.unsqueeze(1)
    out = pt.ops._matmul(a, b)
    if sq_a:
        out = out.squeeze(-2)
    if sq_b:
        out = out.squeeze(-1)
    return out


@composite("mm", tags=("linalg",))
def mm(input, mat2):
    _t("mm", input)
    _t("mm", mat2, "mat2")
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm(): expected 2-D tensors, got {input.ndim}-D and {mat2.ndim}-D "
                           f"(shapes {tuple(input.shape)} and {tuple(mat2.shape)}); use matmul for other ranks")
    return matmul(input, mat2)


@composite("bmm", tags=("linalg",))
def bmm(input, mat2):
    _t("bmm", input)
    _t("bmm", mat2, "mat2")
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm(): batch1 must be a 3D tensor and batch2 must be a 3D tensor (got shapes "
                           f"{tuple(input.shape)} and {tuple(mat2.shape)})")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm(): batch sizes differ: {input.shape[0]} and {mat2.shape[0]}")
    return matmul(input, mat2)


@composite("dot", tags=("linalg",))
def dot(input, tensor):
    _t("dot", input)
    _t("dot", tensor, "tensor")
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"dot(): 1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    return matmul(input, tensor)


# matrix products with an added term: registry ops (not only Python composites) so autocast's
# policy table can name them, as PyTorch's lists do (addmm runs in bfloat16 under cpu autocast,
# mv in float32); their pieces then run as they come
@composite("mv", tags=("linalg",))
def mv(input, vec):
    """The product of a matrix and a vector.

    >>> plugtorch.mv(plugtorch.ones(2, 3), plugtorch.ones(3)).tolist()
    [3.0, 3.0]
    """
    _t("mv", input)
    _t("mv", vec, "vec")
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv(): expected a matrix and a vector, got shapes {tuple(input.shape)} and {tuple(vec.shape)}")
    return matmul(input, vec)


def _scaled_sum(input, prod, beta, alpha):
    out = prod if alpha == 1 else alpha * prod
    if beta == 0:
        return out + _pt().zeros_like(input)
    return (input if beta == 1 else beta * input) + out


@composite("addmm", tags=("linalg",))
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2)."""
    _t("addmm", input)
    _t("addmm", mat1, "mat1")
    _t("addmm", mat2, "mat2")
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


@composite("addmv", tags=("linalg",))
def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec)."""
    _t("addmv", input)
    _t("addmv", mat, "mat")
    _t("addmv", vec, "vec")
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


@composite("baddbmm", tags=("linalg",))
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * bmm(batch1, batch2)."""
    _t("baddbmm", input)
    _t("baddbmm", batch1, "batch1")
    _t("baddbmm", batch2, "batch2")
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


@composite("addbmm", tags=("linalg",))
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]``."""
    _t("addbmm", input)
    _t("addbmm", batch1, "batch1")
    _t("addbmm", batch2, "batch2")
    s = bmm(batch1, batch2).sum(0)
    s = s * alpha if alpha != 1 else s
    return s.broadcast_to(tuple(input.shape)).clone() if beta == 0 else (input * beta if beta != 1 else input) + s


@composite("addr", tags=("linalg",))
def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)`` (logical or/and for bool tensors)."""
    _t("addr", input)
    _t("addr", vec1, "vec1")
    _t("addr", vec2, "vec2")
    o = outer(vec1, vec2)
    if o.dtype is _dtypes.bool:
        return (input.bool() & bool(beta)) | (o & bool(alpha))
    return (input * beta if beta != 1 else input) + (o * alpha if alpha != 1 else o) if beta != 0 else \
        (o * alpha if alpha != 1 else o).broadcast_to(tuple(input.shape)).clone()


@composite("outer", tags=("linalg",))
def outer(input, vec2):
    _t("outer", input)
    _t("outer", vec2, "vec2")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


@composite("einsum", tags=("linalg",))
def einsum(equation, *operands):
    """Einstein summation by broadcasting products and sums (``einsum("ij,jk->ik", a, b)``).

    >>> plugtorch.einsum("ij->j", plugtorch.ones(2, 3)).tolist()
    [2.0, 2.0, 2.0]
    """
    if isinstance(equation, M.Tensor):   # the sublist form: einsum(a, [0, 1], b, [1, 2], [0, 2])
        equation, operands = _einsum_sublists((equation,) + operands)
    elif len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    terms, out = _einsum_parse(equation, operands)
    letters = []
    for term in terms:
        for c in term:
            if c not in letters:
                letters.append(c)
    sizes = {}
    aligned = []
    seen = []   # each operand's subscripts and sizes once its diagonals are taken
    for k, (term, x) in enumerate(zip(terms, operands)):
        # take diagonals for repeated letters within one operand
        while len(set(term)) != len(term):
            for i, c in enumerate(term):
                j = term.find(c, i + 1)
                if j >= 0:
                    if x.shape[i] != x.shape[j]:
                        raise RuntimeError(f"einsum(): subscript {_label(c)} is repeated for operand {k} but the "
                                           f"sizes don't match, {x.shape[i]} != {x.shape[j]}")
                    x = x.diagonal(0, i, j)
                    term = term[:i] + term[i + 1:j] + term[j + 1:] + c
                    break
        for c, n in zip(term, x.shape):
            if sizes.get(c, n) != n and n != 1 and sizes[c] != 1:
                raise RuntimeError(f"einsum(): subscript {_label(c)} has size {n} for operand {k} which does not "
                                   f"broadcast with previously seen size {sizes[c]}")
            sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
        seen.append((term, tuple(x.shape)))
        perm = sorted(range(len(term)), key=lambda i: letters.index(term[i]))
        x = x.permute(perm) if perm != list(range(len(perm))) else x
        shp = [1] * len(letters)
        for i in perm:
            shp[letters.index(term[i])] = x.shape[perm.index(i)]
        aligned.append(x.reshape(shp) if len(shp) != x.ndim else x)
    dt = _einsum_dtype(seen, out, operands)
    work = dt
    if len(aligned) > 1 and dt in (_dtypes.float16, _dtypes.bfloat16):
        work = _dtypes.float32   # products summed in float32 and rounded once, as PyTorch's bmm
    aligned = [x if x._dtype is work else x.to(work) for x in aligned]
    prod = aligned[0]
    red = [i for i, c in enumerate(letters) if c not in out]
    if len(aligned) > 1 and (work.is_floating_point or work.is_complex):
        # pairwise, each pair one bmm (as PyTorch): the broadcast product of two operands would
        # hold every (batch, left, contracted, right) element at once
        for k, x in enumerate(aligned[1:], 1):
            later = {c for term, _ in seen[k + 1:] for c in term}
            prod = _einsum_pair(prod, x, [c in out or c in later for c in letters])
        if red:   # each summed subscript has size 1 by now
            prod = prod.reshape([n for c, n in zip(letters, prod.shape) if c in out])
    else:
        for x in aligned[1:]:
            prod = prod * x
        if red:
            prod = prod.sum(red, dtype=work)
    kept = [c for c in letters if c in out]
    back = [kept.index(c) for c in out]
    prod = prod.permute(back) if back != sorted(back) else prod
    return prod if work is dt else prod.to(dt)


def _einsum_pair(a, b, keep):
    """The product of ``a`` and ``b`` (both with one dim per einsum letter, size 1 where absent),
    summed over each letter whose ``keep`` is False, as one bmm; the result keeps a dim per letter."""
    sa, sb = a.shape, b.shape
    own_a = [i for i, k in enumerate(keep) if not k and sa[i] != 1 and sb[i] == 1]
    own_b = [i for i, k in enumerate(keep) if not k and sb[i] != 1 and sa[i] == 1]
    if own_a:   # summed subscripts only one operand has are summed before the product
        a, sa = a.sum(own_a, keepdim=True), tuple(1 if i in own_a else n for i, n in enumerate(sa))
    if own_b:
        b, sb = b.sum(own_b, keepdim=True), tuple(1 if i in own_b else n for i, n in enumerate(sb))
    batch, left, right, contr = [], [], [], []
    for i, k in enumerate(keep):
        if sa[i] != 1 and sb[i] != 1:
            (batch if k else contr).append(i)
        elif sa[i] != 1:
            left.append(i)
        elif sb[i] != 1:
            right.append(i)
    if not contr:   # nothing to contract: the broadcast product is the result
        return a * b
    rest_a = [i for i in range(len(keep)) if i not in batch and i not in left and i not in contr]
    rest_b = [i for i in range(len(keep)) if i not in batch and i not in contr and i not in right]
    x = _moved(a, batch + left + contr + rest_a, (_numel(sa, batch), _numel(sa, left), _numel(sa, contr)))
    y = _moved(b, batch + contr + right + rest_b, (_numel(sb, batch), _numel(sb, contr), _numel(sb, right)))
    order = batch + left + right
    r = _moved(x.bmm(y), [], [sa[i] for i in batch] + [sa[i] for i in left] + [sb[i] for i in right])
    r = _moved(r, sorted(range(len(order)), key=lambda j: order[j]), None)
    return _moved(r, [], [(sa[i] if sa[i] != 1 else sb[i]) if i in order else 1 for i in range(len(keep))])


def _numel(shape, dims):
    n = 1
    for i in dims:
        n *= shape[i]
    return n


def _moved(t, dims, shape):
    """``t.permute(dims).reshape(shape)``, each step only where it changes something (a shape of
    None: no reshape)."""
    t = t if dims == sorted(dims) else t.permute(dims)
    return t if shape is None or tuple(t.shape) == tuple(shape) else t.reshape(shape)


def _einsum_dtype(seen, out, operands):
    """einsum's result dtype, as PyTorch: the operands' common dtype, kept through the pairwise
    products (bmm, so integers wrap and bool has no contraction), except that a subscript summed
    within a single operand (the only operand, or one where it has size > 1 and no other operand
    has it) goes through sum(), which widens integers and bool to int64."""
    dt = operands[0]._dtype
    for k, x in enumerate(operands[1:], 1):
        if x._dtype is not dt:
            raise RuntimeError(f"einsum(): expected all operands to have the same dtype, got {dt} for operand 0 "
                               f"and {x._dtype} for operand {k}; convert them with .to()")
    if dt.is_floating_point or dt.is_complex:
        return dt
    summed = {c for term, _ in seen for c in term if c not in out}
    alone = {c for c in summed if sum(c in term for term, _ in seen) == 1}
    if len(seen) > 1 and dt is _dtypes.bool and summed - alone:
        raise M.not_implemented_for("einsum", dt, "einsum of several bool operands contracts them with bmm, "
                                    "which has no bool kernel; convert them with .int() first")
    if len(seen) == 1:
        return _dtypes.int64 if summed else dt
    widened = any(c in alone and n != 1 for term, shape in seen for c, n in zip(term, shape))
    return _dtypes.int64 if widened else dt


_ELLIPSIS_LABEL = 0x2460   # private labels for the dims "..." stands for (never a valid subscript)


def _label(c):
    return "..." if ord(c) >= _ELLIPSIS_LABEL else c


_EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_sublists(args):
    """``(op0, sublist0, op1, sublist1, ..., [out_sublist])`` as an equation and its operands:
    subscripts are ints in [0, 52) and ``...`` (Ellipsis) stands for the broadcast dims."""
    def term(sub, what):
        if not isinstance(sub, (list, tuple)):
            raise TypeError(f"einsum(): expected a list of subscripts for {what}, got {type(sub).__name__}")
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < len(_EINSUM_LETTERS):
                raise ValueError(f"einsum(): subscript in subscript list is not within the valid range [0, 52), "
                                 f"got {s!r} for {what}")
            else:
                out.append(_EINSUM_LETTERS[s])
        return "".join(out)
    operands, terms = [], []
    i = 0
    while i + 1 < len(args) and isinstance(args[i], M.Tensor):
        operands.append(args[i])
        terms.append(term(args[i + 1], f"operand {len(terms)}"))
        i += 2
    rest = args[i:]
    if len(rest) > 1 or (rest and isinstance(rest[0], M.Tensor)):
        raise TypeError("einsum(): the sublist form is einsum(op0, sublist0, op1, sublist1, ..., [out_sublist]); "
                        f"got {len(args)} arguments that do not pair up")
    eq = ",".join(terms) + ("->" + term(rest[0], "the output") if rest else "")
    return eq, tuple(operands)


def _einsum_parse(equation, operands):
    """Check an einsum equation against its operands (PyTorch's errors) and return each operand's
    subscripts and the output's, with "..." replaced by one private label per dim it covers."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be str, not {type(equation).__name__}")
    for i, x in enumerate(operands):
        if not isinstance(x, M.Tensor):
            raise TypeError(f"einsum(): expected a Tensor as operand {i}, got {type(x).__name__}")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(operands):
        raise RuntimeError(f"einsum(): fewer operands were provided than specified in the equation "
                           f"'{equation}' ({len(operands)} given, {len(terms)} specified)")
    if len(terms) < len(operands):
        raise RuntimeError(f"einsum(): more operands were provided than specified in the equation "
                           f"'{equation}' ({len(operands)} given, {len(terms)} specified)")
    n_ell = 0
    parsed = []
    for k, (term, x) in enumerate(zip(terms, operands)):
        body = term.replace("...", "", 1)
        has_ell = len(body) != len(term)
        for c in body:
            if c == ".":
                raise RuntimeError(f"einsum(): found '.' for operand {k} that is not part of any ellipsis "
                                   f"in the equation '{equation}'")
            if not ("a" <= c <= "z" or "A" <= c <= "Z"):
                raise RuntimeError(f"einsum(): invalid subscript {c!r} for operand {k} in the equation "
                                   f"'{equation}': subscripts must be in [a-zA-Z]")
        if has_ell:
            if len(body) > x.ndim:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(body)}) is more "
                                   f"than the number of dimensions ({x.ndim}) for operand {k}")
            n = x.ndim - len(body)
            n_ell = _b.max(n_ell, n)
            at = term.index("...")
            parsed.append((term[:at], n, term[at + 3:]))
        else:
            if len(body) != x.ndim:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(body)}) does not "
                                   f"match the number of dimensions ({x.ndim}) for operand {k} (shape "
                                   f"{tuple(x.shape)}) and no ellipsis was given")
            parsed.append((term, 0, ""))
    ell = "".join(chr(_ELLIPSIS_LABEL + i) for i in range(n_ell))
    # the dims "..." covers broadcast like trailing dims: an operand with fewer takes the last ones
    terms = [head + ell[n_ell - n:] + tail for head, n, tail in parsed]
    if not arrow:   # implicit output: "..." first, then the subscripts used once, sorted
        counts = {}
        for t in terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        return terms, ell + "".join(sorted(c for c, n in counts.items() if n == 1 and ord(c) < _ELLIPSIS_LABEL))
    body = rhs.replace("...", ell, 1)
    seen = set("".join(terms))
    for c in body:
        if ord(c) >= _ELLIPSIS_LABEL:
            continue
        if not ("a" <= c <= "z" or "A" <= c <= "Z"):
            raise RuntimeError(f"einsum(): invalid subscript {c!r} in the output of the equation '{equation}': "
                               "subscripts must be in [a-zA-Z]")
        if c not in seen:
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                               f"operand ('{equation}')")
        if body.count(c) > 1:
            raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output ('{equation}')")
    return terms, body


@composite("diagonal", tags=("shape",))
def diagonal(input, offset=0, dim1=0, dim2=1):
    _t("diagonal", input)
    offset = A.as_int("diagonal", "offset", offset)
    n = input.ndim
    d1, d2 = M.wrap_dim("diagonal", dim1, n), M.wrap_dim("diagonal", dim2, n)
    x = input.movedim((d1, d2), (-2, -1))
    r, c = x.shape[-2], x.shape[-1]
    i0 = _b.max(0, -offset)
    j0 = _b.max(0, offset)
    L = _b.max(0, _b.min(r - i0, c - j0))
    pt = _pt()
    # a view, as in PyTorch: the diagonal is every (c+1)-th element of the flattened matrix
    # (of x or, with the offset negated, of its transpose, whichever flattens without a copy)
    from plugtorch.dispatch.ops.shape import view_strides
    for m, off in ((x, offset), (x.mT, -offset)):
        rows, cols = m.shape[-2], m.shape[-1]
        lead_shape = tuple(m.shape[:-2])
        if L > 0 and view_strides(tuple(m.shape), m.stride(), lead_shape + (rows * cols,)) is not None:
            start = _b.max(0, -off) * cols + _b.max(0, off)
            flat = pt.ops.view(m, lead_shape + (rows * cols,))
            return pt.ops.slice(flat, -1, start, start + (L - 1) * (cols + 1) + 1, cols + 1)
    st = x.stride()
    if "as_strided" in input._backend().kernels and not any(s == 0 and n > 1 for n, s in zip(x.shape, st)):
        # otherwise (a matrix of a sliced or permuted input) the same view by its strides: one
        # step along the diagonal is a step along both dims. Not for an expanded input: as_strided's
        # gradient spreads over the elements sharing memory (nobody may write into it anyway)
        return pt.ops.as_strided(x, tuple(x.shape[:-2]) + (L,), tuple(st[:-2]) + (st[-2] + st[-1],),
                                 x.storage_offset() + (i0 * st[-2] + j0 * st[-1] if L else 0))
    ii = pt.arange(L, device=input.device) + i0   # a backend without strided arrays: a copy
    jj = pt.arange(L, device=input.device) + j0
    return pt.ops.index(x, [None] * (x.ndim - 2) + [ii, jj])




# ---- factories ----------------------------------------------------------------------------
@composite("linspace", tags=("factory",), differentiable=False)
def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    pt = _pt()
    steps = A.as_int("linspace", "steps", steps)
    for name, v in (("start", start), ("end", end)):
        if isinstance(v, M.Tensor) and v.ndim != 0:
            raise RuntimeError(f"linspace only supports 0-dimensional start and end tensors, but got {name} with "
                               f"{v.ndim} dimension(s) (shape {tuple(v.shape)}); pass a number or a 0-d tensor")
    if steps < 0:
        raise RuntimeError(f"linspace(): number of steps must be non-negative, got {steps}")
    if dtype is not None:
        dtype = _dtypes.to_dtype(dtype)
    elif isinstance(start, complex) or isinstance(end, complex):   # PyTorch: the default dtype's complex one
        dtype = _dtypes.default_complex_dtype()
    else:
        dtype = _dtypes.get_default_dtype()
    if steps > 1 and dtype is _dtypes.bool:
        raise M.not_implemented_for("linspace", dtype, "use an integer or floating dtype")
    # the ends are converted to dtype first, as PyTorch: RuntimeError for one it cannot hold (inf for an
    # integer dtype), and a negative int wraps for an unsigned one (linspace(0, -1, 4, dtype=uint8) ends at 255);
    # for an integer dtype a float end truncates first (linspace(0.9, 7.9, 3, dtype=int64) is [0, 3, 7])
    integral = dtype.category == _dtypes._INT
    if steps > 0:
        start = A.fit_scalar("linspace", start, dtype)
        start = int(start) if integral else start
    if steps > 1:
        end = A.fit_scalar("linspace", end, dtype)
        end = int(end) if integral else end
    if steps == 1:
        out = pt.full((1,), start, dtype=pt.complex128 if dtype.is_complex else pt.float64, device=device)
    else:
        step = (end - start) / (steps - 1) if steps > 1 else 0
        i = pt.arange(steps, dtype=pt.float64, device=device)
        half = steps // 2
        out = pt.where(i < half, i * step + start, end - (steps - 1 - i) * step)
    out = out.to(dtype)
    return out.requires_grad_() if requires_grad else out


@composite("eye", tags=("factory",), differentiable=False)
def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    pt = _pt()
    n = A.as_int("eye", "n", n)
    m = n if m is None else A.as_int("eye", "m", m)
    for name, v in (("n", n), ("m", m)):
        if v < 0:
            raise RuntimeError(f"eye(): {name} must be greater or equal to 0, got {v}")
    out = (pt.arange(n, device=device).unsqueeze(1) == pt.arange(m, device=device).unsqueeze(0))
    out = out.to(_dtypes.to_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype())
    return out.requires_grad_() if requires_grad else out


def _matrix(op, input):
    _t(op, input)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions (got shape {tuple(input.shape)})")


@composite("tril", tags=("shape",))
def tril(input, diagonal=0):
    _matrix("tril", input)
    diagonal = A.as_int("tril", "diagonal", diagonal)
    pt = _pt()
    r, c = input.shape[-2], input.shape[-1]
    mask = pt.arange(r, device=input.device).unsqueeze(1) + diagonal >= pt.arange(c, device=input.device).unsqueeze(0)
    return pt.where(mask, input, _cast_scalar(0, input._dtype))


@composite("triu", tags=("shape",))
def triu(input, diagonal=0):
    _matrix("triu", input)
    diagonal = A.as_int("triu", "diagonal", diagonal)
    pt = _pt()
    r, c = input.shape[-2], input.shape[-1]
    mask = pt.arange(r, device=input.device).unsqueeze(1) + diagonal <= pt.arange(c, device=input.device).unsqueeze(0)
    return pt.where(mask, input, _cast_scalar(0, input._dtype))


@composite("randperm", tags=("random", "factory"), differentiable=False)
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    pt = _pt()
    n = A.as_int("randperm", "n", n)
    if n < 0:
        raise RuntimeError(f"randperm(): n must be non-negative, got {n}")
    if dtype is not None:   # every value 0..n-1 must be exact in dtype, as PyTorch checks
        dt = _dtypes.to_dtype(dtype)
        if dt is _dtypes.bool:
            raise NotImplementedError("randperm(): not implemented for dtype bool; use an integer dtype")
        if dt.is_floating_point:
            top = 2 ** A.MANTISSA_DIGITS[dt] + 1
            if n > top:
                raise RuntimeError(f"randperm(): n cannot be greater than {top} for {dt} (larger values are "
                                   "not exact in it)")
        elif n:
            A.fit_scalar("randperm", n - 1, dt)
    keys = pt.empty(n, dtype=pt.float64 if _supports_f64(device) else pt.float32, device=device)
    keys.uniform_(generator=generator)
    out = keys.argsort(stable=True)
    out = out.to(_dtypes.to_dtype(dtype)) if dtype is not None else out
    return out.requires_grad_() if requires_grad else out


def _supports_f64(device):
    from plugtorch._device import canonical
    from plugtorch.dispatch.dispatcher import _resolve_backend
    dev = canonical(device)
    be = dev._backend or _resolve_backend(dev)
    return be.unsupported_dtype(_dtypes.float64, dev.index) is None


@composite("bernoulli", tags=("random",), differentiable=False)
def bernoulli(input, p=None, *, generator=None):
    """0 or 1 per element, 1 with probability ``input`` (or ``p``); the result has input's dtype."""
    pt = _pt()
    _t("bernoulli", input)
    if p is None:
        if not input._dtype.is_floating_point:
            raise NotImplementedError(f"bernoulli(): not implemented for dtype {input._dtype}: the probabilities "
                                      "must be a floating-point tensor")
        check_probabilities("bernoulli", input)
        probs = input
    else:
        if isinstance(p, M.Tensor):
            raise TypeError("bernoulli(): argument 'p' must be a float; pass a tensor of probabilities as input")
        M.check_scalar("bernoulli", p)
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        probs = pt.full(tuple(input.shape), float(p), dtype=input.dtype if input.dtype.is_floating_point
                        else pt.float32, device=input.device)
    # uniform draws in float32 at least: a float16/bfloat16 draw can round up to 1.0, and then a
    # probability of exactly 1 would give 0
    ud = pt.float64 if probs.dtype is pt.float64 else pt.float32
    u = pt.empty(tuple(input.shape), dtype=ud, device=input.device).uniform_(generator=generator)
    return (u < probs.to(ud)).to(input.dtype)


def check_probabilities(op, probs):
    """RuntimeError unless every element of ``probs`` is in [0, 1] (one read-back)."""
    if probs.numel():
        from plugtorch.dispatch.dispatcher import data_check
        data_check(((probs < 0) | (probs > 1) | probs.isnan()).any(), RuntimeError,
                   f"{op}(): expects all probabilities p to be in [0, 1] (found one outside it, or nan): "
                   "p_in >= 0 && p_in <= 1 is false")


@composite("multinomial", tags=("random",), differentiable=False)
def multinomial(input, num_samples, replacement=False, *, generator=None):
    pt = _pt()
    _t("multinomial", input)
    M.check_bool("multinomial", "replacement", replacement)
    num_samples = A.as_int("multinomial", "num_samples", num_samples)
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial(): prob_dist must be 1 or 2 dim, got a {input.ndim}-D tensor of shape "
                           f"{tuple(input.shape)}")
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input._dtype}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial(): cannot sample n_sample <= 0 samples (got num_samples={num_samples})")
    if not replacement and num_samples > input.shape[-1]:
        raise RuntimeError("multinomial(): cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if input.shape[-1] == 0 and (input.ndim == 1 or input.shape[0] > 0):
        # no category to draw from (a topk/cdf over nothing would hand back index -1)
        raise RuntimeError(f"multinomial(): invalid multinomial distribution (sum of probabilities <= 0): "
                           f"prob_dist of shape {tuple(input.shape)} has no categories")
    if input.numel():   # one data_check (one read-back, none traced) for both: a bad element, a row sum <= 0
        from plugtorch.dispatch.dispatcher import data_check
        bad = (~input.isfinite() | (input < 0)).any()
        empty = input.sum(-1).amin() <= 0
        # without replacement, a row needs num_samples categories of nonzero probability (PyTorch's
        # documented precondition; its CPU kernel would silently return zero-probability ones)
        flag = bad | empty if replacement else bad | empty | ((input > 0).sum(-1).amin() < num_samples)
        elements = "multinomial(): probability tensor contains either `inf`, `nan` or element < 0"
        too_few = (f"multinomial(): invalid multinomial distribution (with replacement=False, not enough "
                   f"non-negative category to sample): a row has fewer than num_samples={num_samples} "
                   "categories of nonzero probability")
        data_check(flag, RuntimeError, elements + ", or a row whose probabilities sum to <= 0, or "
                   f"(without replacement) a row with fewer than num_samples={num_samples} nonzero probabilities",
                   eager_message=lambda: elements if bool(bad) else
                   "multinomial(): invalid multinomial distribution (sum of probabilities <= 0)" if bool(empty)
                   else too_few)
    if input.ndim == 1:
        return multinomial(input.unsqueeze(0), num_samples, replacement, generator=generator).squeeze(0)
    # draws and sums in float32 at least: a half-precision uniform has 8 or 11 bits, so a
    # category of probability 1e-4 came up 4x (float16) or 21x (bfloat16) too often
    x = input if input._dtype in (_dtypes.float32, _dtypes.float64) else input.to(_dtypes.float32)
    probs = x / x.sum(-1, keepdim=True)
    if replacement:
        cdf = probs.cumsum(-1)
        u = pt.empty((input.shape[0], num_samples), dtype=probs.dtype, device=input.device).uniform_(generator=generator)
        idx = (u.unsqueeze(-1) >= cdf.unsqueeze(1)).sum(-1)
        return idx.clamp(max=input.shape[-1] - 1)
    # Gumbel top-k: sampling without replacement
    u = pt.empty(tuple(probs.shape), dtype=probs.dtype, device=input.device).uniform_(1e-20, 1.0, generator=generator)
    keys = probs.log() - (-u.log()).log()
    return keys.topk(num_samples, -1)[1]
