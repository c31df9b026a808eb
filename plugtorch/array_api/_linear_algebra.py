"""The standard's linear algebra functions of the main namespace: ``matmul``,
``matrix_transpose``, ``tensordot``, ``vecdot`` (operands promoted by the standard's rules).

>>> import plugtorch.array_api as xp
>>> xp.vecdot(xp.asarray([1., 2.]), xp.asarray([3., 4.])).item()
11.0
"""
from __future__ import annotations


import plugtorch as pt
from plugtorch._tensor import Tensor
from plugtorch.array_api._dtypes import check_array, operands, raise_broadcast_error
from plugtorch.dispatch import meta as M

__all__ = ["matmul", "matrix_transpose", "tensordot", "vecdot"]


def matmul(x1: Tensor, x2: Tensor, /) -> Tensor:
    """The matrix product (1-d operands are vectors; leading dimensions broadcast)."""
    x1, x2, _ = operands("matmul", x1, x2, "numeric")
    if not isinstance(x1, Tensor) or not isinstance(x2, Tensor):
        raise TypeError("matmul(): both operands must be arrays")
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError("matmul(): 0-d arrays have no matrix product; use multiply()")
    k1, k2 = x1.shape[-1], x2.shape[-2] if x2.ndim > 1 else x2.shape[0]
    if k1 != k2:
        raise ValueError(f"matmul(): the inner dimensions differ: {tuple(x1.shape)} @ {tuple(x2.shape)}")
    return pt.matmul(x1, x2)


def matrix_transpose(x: Tensor, /) -> Tensor:
    """The last two dimensions swapped (``x.mT``)."""
    check_array("matrix_transpose", x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose(): x must have at least 2 dimensions, got shape {tuple(x.shape)}")
    return x.mT


def tensordot(x1: Tensor, x2: Tensor, /, *, axes=2) -> Tensor:
    """Sum of products over the last ``axes`` dims of ``x1`` and the first of ``x2`` (or the
    pairs of dims ``axes = (x1_axes, x2_axes)``): ``plugtorch.tensordot``, whose refusals are the
    standard's ValueError here."""
    x1, x2, _ = operands("tensordot", x1, x2, "numeric")
    try:
        return pt.tensordot(x1, x2, dims=axes)
    except RuntimeError as e:
        raise ValueError(f"tensordot(): {e}") from None


def vecdot(x1: Tensor, x2: Tensor, /, *, axis: int = -1) -> Tensor:
    """The dot product of vectors along ``axis`` (the other dimensions broadcast)."""
    x1, x2, dt = operands("vecdot", x1, x2, "numeric")
    if not isinstance(x1, Tensor) or not isinstance(x2, Tensor):
        raise TypeError("vecdot(): both operands must be arrays")
    try:
        shape = M.broadcast_shapes(tuple(x1.shape), tuple(x2.shape), op="vecdot")
    except RuntimeError as e:
        raise_broadcast_error("vecdot", e)
        raise
    if not -len(shape) <= axis < 0 and not 0 <= axis < min(x1.ndim, x2.ndim):
        raise ValueError(f"vecdot(): axis {axis} is out of range for shapes {tuple(x1.shape)} and "
                         f"{tuple(x2.shape)}")
    if axis >= 0 and x1.ndim != x2.ndim:
        raise ValueError("vecdot(): a non-negative axis needs operands of the same rank; use a negative axis")
    if x1.shape[axis] != x2.shape[axis]:
        raise ValueError(f"vecdot(): the vectors along axis {axis} differ in size: {tuple(x1.shape)} and "
                         f"{tuple(x2.shape)}")
    if dt.is_complex:   # the standard's (and PyTorch's) vecdot conjugates x1
        x1 = pt.conj(x1)
    return pt.sum(x1 * x2, dim=axis if axis < 0 else axis - x1.ndim, dtype=dt)
