"""Rearranging ops: sliding windows (``unfold``), ``rot90``, ``kron`` and ``renorm``.

``unfold`` is a view like PyTorch's: backends with a strided array (cpu, opencl, cuda) give
windows that share the input's memory; any other backend runs the decomposition (a gather),
which has the same values but is a copy.
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
