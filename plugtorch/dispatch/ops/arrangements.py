"""Rearranging ops: sliding windows (``unfold``), ``rot90``, ``kron``, ``renorm`` and
``as_strided`` (with ``as_strided_scatter``).

``unfold`` and ``as_strided`` are views like PyTorch's: backends with a strided array (cpu,
opencl, cuda) give results that share the input's memory; any other backend runs the
decomposition (a gather), which has the same values but is a copy.
"""
from __future__ import annotations

import builtins as _b

from plugtorch.dispatch import arguments as A
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.ops.composite import _pt, _t, composite
from plugtorch.dispatch.registry import register_op


def _unfold_args(input, dimension, size, step):
    _t("unfold", input)
    d = M.wrap_dim("unfold", dimension, input.ndim)
    size = A.as_int("unfold", "size", size)
    step = A.as_int("unfold", "step", step)
    n = input.shape[d] if input.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return d, size, step, (n - size) // step + 1


def _unfold_meta(input, dimension, size, step):
    d, size, step, _ = _unfold_args(input, dimension, size, step)
    return input._device, (input._data, d, size, step), input._dtype


def unfold(input, dimension, size, step):
    """The windows of ``size`` elements every ``step`` along ``dimension``, as a new last dim.

    >>> plugtorch.arange(5.).unfold(0, 2, 2).tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    pt = _pt()
    d, size, step, count = _unfold_args(input, dimension, size, step)
    if input.ndim == 0:
        return input.reshape(1)
    idx = (pt.arange(count, device=input.device) * step).unsqueeze(1) + pt.arange(size, device=input.device)
    shape = tuple(input.shape)
    out = input.index_select(d, idx.reshape(-1)).reshape(shape[:d] + (count, size) + shape[d + 1:])
    return out.movedim(d + 1, -1)


register_op("unfold", _unfold_meta, decomposition=unfold, tags=("view",))


def unfold_backward(g, input_shape, d, size, step):
    """The gradient of ``unfold``: every window's gradient added back at its positions."""
    pt = _pt()
    if len(input_shape) == 0:
        return g.reshape(())
    count = g.shape[d]
    idx = (pt.arange(count, device=g.device) * step).unsqueeze(1) + pt.arange(size, device=g.device)
    gm = g.movedim(-1, d + 1)
    gm = gm.reshape(tuple(gm.shape[:d]) + (count * size,) + tuple(gm.shape[d + 2:]))
    z = pt.zeros(tuple(input_shape), dtype=g.dtype, device=g.device)
    return z.index_add(d, idx.reshape(-1), gm)


@composite("rot90", tags=("shape",))
def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first towards the second.

    >>> plugtorch.rot90(plugtorch.tensor([[1, 2], [3, 4]])).tolist()
    [[2, 4], [1, 3]]
    """
    _t("rot90", input)
    k = A.as_int("rot90", "k", k)
    dims = A.as_ints("rot90", "dims", dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = (M.wrap_dim("rot90", d, input.ndim) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return input.flip([d1]).transpose(d0, d1)
    if k == 2:
        return input.flip([d0, d1])
    if k == 3:
        return input.flip([d0]).transpose(d0, d1)
    return input.clone()


@composite("kron", tags=("linalg",))
def kron(input, other):
    """The Kronecker product: blocks ``input[i] * other`` (shapes padded with leading ones).

    >>> plugtorch.kron(plugtorch.tensor([1, 2]), plugtorch.tensor([1, 10])).tolist()
    [1, 10, 2, 20]
    """
    _t("kron", input)
    _t("kron", other, "other")
    n = _b.max(input.ndim, other.ndim)
    a = tuple(input.shape)
    b = tuple(other.shape)
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    ai = input.reshape(tuple(x for s in a for x in (s, 1)))
    bi = other.reshape(tuple(x for s in b for x in (1, s)))
    return (ai * bi).reshape(tuple(x * y for x, y in zip(a, b)))


@composite("renorm", tags=("reduction",))
def renorm(input, p, dim, maxnorm):
    """Each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down to norm ``maxnorm``.

    >>> plugtorch.renorm(plugtorch.ones(2, 4), 2, 0, 1.0).tolist()[0]
    [0.5, 0.5, 0.5, 0.5]
    """
    _t("renorm", input)
    if not input._dtype.is_floating_point and not input._dtype.is_complex:
        raise M.not_implemented_for("renorm", input._dtype, "convert to a floating-point dtype first")
    if not isinstance(p, (int, float)) or isinstance(p, bool) or p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if not isinstance(maxnorm, (int, float)) or maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions")
    d = M.wrap_dim("renorm", dim, input.ndim)
    others = tuple(i for i in range(input.ndim) if i != d)
    norm = _pt().linalg.vector_norm(input, p, dim=others, keepdim=True)
    factor = _pt().where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)
    return input * factor.to(input.dtype)


# ---- as_strided ---------------------------------------------------------------------------
def _as_strided_args(input, size, stride, storage_offset):
    _t("as_strided", input)
    size = A.as_ints("as_strided", "size", size)
    stride = A.as_ints("as_strided", "stride", stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got strides: {list(stride)}")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(size)}")
    offset = input.storage_offset() if storage_offset is None else A.as_int("as_strided", "storage_offset",
                                                                               storage_offset)
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    return size, stride, offset


def storage_needed(size, stride, offset):
    """Elements of storage a (size, stride, offset) view reaches (0 for an empty view)."""
    if any(n == 0 for n in size):
        return 0
    return offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1


def _storage_error(size, stride, offset, itemsize, available):
    return RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, and "
                        f"itemsize {itemsize} requiring a storage size of "
                        f"{storage_needed(size, stride, offset) * itemsize} are out of bounds for storage of size "
                        f"{available * itemsize}")


def _as_strided_meta(input, size, stride, storage_offset=None):
    size, stride, offset = _as_strided_args(input, size, stride, storage_offset)
    available = input._backend().storage_size(input._data)
    if available is not None and storage_needed(size, stride, offset) > available:
        raise _storage_error(size, stride, offset, input._dtype.itemsize, available)
    return input._device, (input._data, size, stride, offset), input._dtype


def storage_positions(size, stride, offset, device):
    """The storage index of every element of a (size, stride, offset) view, in its shape."""
    pt = _pt()
    pos = pt.full(tuple(size), offset, dtype=pt.int64, device=device)
    for d, (n, s) in enumerate(zip(size, stride)):
        pos = pos + (pt.arange(n, device=device) * s).reshape((n,) + (1,) * (len(size) - 1 - d))
    return pos


def as_strided(input, size, stride, storage_offset=None):
    """A view of ``input``'s memory with the given sizes, strides (in elements) and storage offset.

    On a backend without strided arrays the input's elements, in order, stand for its memory
    (the result is then a copy).

    >>> plugtorch.arange(6.).as_strided((2, 2), (1, 2)).tolist()
    [[0.0, 2.0], [1.0, 3.0]]
    """
    size, stride, offset = _as_strided_args(input, size, stride, storage_offset)
    flat = input.reshape(-1)
    if storage_needed(size, stride, offset) > flat.numel():
        raise _storage_error(size, stride, offset, input._dtype.itemsize, flat.numel())
    pos = storage_positions(size, stride, offset, input.device)
    return flat.index_select(0, pos.reshape(-1)).reshape(tuple(size))


register_op("as_strided", _as_strided_meta, decomposition=as_strided, tags=("view",))


def as_strided_backward(g, input_meta, size, stride, storage_offset):
    """The gradient of ``as_strided``: ``g`` added into a zero storage at the view's positions,
    then read back at the input's positions."""
    pt = _pt()
    size, stride = tuple(size), tuple(stride)
    in_shape, in_stride, in_offset = input_meta
    offset = in_offset if storage_offset is None else storage_offset
    n = max(storage_needed(size, stride, offset), storage_needed(in_shape, in_stride, in_offset))
    out_pos = storage_positions(size, stride, offset, g.device).reshape(-1)
    storage = pt.zeros(n, dtype=g.dtype, device=g.device).index_add(0, out_pos, g.reshape(-1))
    in_pos = storage_positions(in_shape, in_stride, in_offset, g.device).reshape(-1)
    grad = storage.index_select(0, in_pos)
    if may_overlap(in_shape, in_stride):
        # an element the input reads k times (expand, unfold...) gets k copies of its storage's
        # gradient, and the input's own backward adds them up: hand each a k-th, as PyTorch does
        count = pt.zeros(n, dtype=g.dtype, device=g.device).index_add(0, in_pos, pt.ones_like(grad))
        grad = grad / count.index_select(0, in_pos)
    return grad.reshape(tuple(in_shape))


def may_overlap(size, stride) -> bool:
    """Whether two elements of a (size, stride) view can share a storage element (False is sure).

    >>> may_overlap((3, 3), (1, 1)), may_overlap((2, 3), (1, 2))
    (True, False)
    """
    dims = sorted((s, n) for n, s in zip(size, stride) if n > 1)
    reach = 0                      # the furthest storage element the dims so far reach from the first
    for s, n in dims:
        if s <= reach:
            return True
        reach += (n - 1) * s
    return False


@composite("as_strided_scatter", tags=("indexing",))
def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """``input`` (as a new contiguous tensor) with ``src`` written where
    ``as_strided(size, stride, storage_offset)`` of it would look."""
    _t("as_strided_scatter", src, "src")
    size, stride, offset = _as_strided_args(input, size, stride, 0 if storage_offset is None else storage_offset)
    if tuple(src.shape) != tuple(size):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(size)}")
    flat = input.reshape(-1)
    if storage_needed(size, stride, offset) > flat.numel():
        raise _storage_error(size, stride, offset, input._dtype.itemsize, flat.numel())
    if src.numel() == 0:
        return input.clone()
    pos = storage_positions(size, stride, offset, input.device).reshape(-1)
    return flat.index_put([pos], src.reshape(-1).to(input.dtype)).reshape(tuple(input.shape))
