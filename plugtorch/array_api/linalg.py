"""The standard's ``linalg`` extension: thin wrappers over ``plugtorch.linalg``.

They rename arguments (``axis=`` for ``dim=``, ``keepdims=``), return the standard's named
tuples, promote operands by the standard's rules and give ``solve`` the standard's meaning of
a 1-d right-hand side (always a vector). The factorisations themselves are plugtorch's, so
they run wherever ``plugtorch.linalg`` does (cpu, cuda, opencl) with its autograd.

>>> import plugtorch.array_api as xp
>>> float(xp.linalg.vector_norm(xp.asarray([3., 4.])))
5.0
"""
from __future__ import annotations

from typing import NamedTuple

import plugtorch as pt
from plugtorch import _dtypes as D
from plugtorch._tensor import Tensor
from plugtorch.array_api._dtypes import check_array, check_category, operands
from plugtorch.array_api._linear_algebra import matmul, matrix_transpose, tensordot, vecdot
from plugtorch.array_api._statistical import normalize_axis

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm",
           "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr", "slogdet", "solve", "svd",
           "svdvals", "tensordot", "trace", "vecdot", "vector_norm"]


class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class QRResult(NamedTuple):
    Q: Tensor
    R: Tensor


class SlogdetResult(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


class SVDResult(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


def _la(name):
    """``plugtorch.linalg.<name>``, looked up at call time."""
    fn = getattr(pt.linalg, name, None)
    if fn is None:
        raise NotImplementedError(f"linalg.{name}(): plugtorch.linalg has no {name} yet")
    return fn


def _matrices(fname, x, category="floating-point"):
    check_array(fname, x)
    check_category(fname, x, category)
    if x.ndim < 2:
        raise ValueError(f"linalg.{fname}(): x must have at least 2 dimensions, got shape {tuple(x.shape)}")


def _square(fname, x):
    _matrices(fname, x)
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"linalg.{fname}(): x must hold square matrices, got shape {tuple(x.shape)}")


def cholesky(x: Tensor, /, *, upper: bool = False) -> Tensor:
    """The Cholesky factor of symmetric positive-definite matrices (lower, or upper if ``upper``)."""
    _square("cholesky", x)
    return _la("cholesky")(x, upper=upper)


def cross(x1: Tensor, x2: Tensor, /, *, axis: int = -1) -> Tensor:
    """Cross products of 3-vectors along ``axis`` (other dimensions broadcast)."""
    x1, x2, _ = operands("cross", x1, x2, "numeric")
    if x1.shape[axis] != 3 or x2.shape[axis] != 3:
        raise ValueError(f"linalg.cross(): axis {axis} must have size 3, got shapes {tuple(x1.shape)} and "
                         f"{tuple(x2.shape)}")
    return _la("cross")(x1, x2, dim=axis)


def det(x: Tensor, /) -> Tensor:
    _square("det", x)
    return _la("det")(x)


def diagonal(x: Tensor, /, *, offset: int = 0) -> Tensor:
    """The ``offset``-th diagonals of the matrices (the last two dimensions) of ``x``."""
    _matrices("diagonal", x, "all")
    return pt.diagonal(x, offset, -2, -1)


def eigh(x: Tensor, /) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices."""
    _square("eigh", x)
    w, v = _la("eigh")(x)
    return EighResult(w, v)


def eigvalsh(x: Tensor, /) -> Tensor:
    _square("eigvalsh", x)
    return _la("eigvalsh")(x)


def inv(x: Tensor, /) -> Tensor:
    _square("inv", x)
    return _la("inv")(x)


def matrix_norm(x: Tensor, /, *, keepdims: bool = False, ord="fro") -> Tensor:
    """Norms of the matrices of ``x``: ``'fro'``, ``'nuc'``, ±1, ±2 or ±inf."""
    _matrices("matrix_norm", x)
    return _la("matrix_norm")(x, ord=ord, dim=(-2, -1), keepdim=keepdims)


def matrix_power(x: Tensor, n: int, /) -> Tensor:
    """``x`` multiplied by itself ``n`` times (the inverse's powers for negative ``n``)."""
    _square("matrix_power", x)
    return _la("matrix_power")(x, n)


def matrix_rank(x: Tensor, /, *, rtol=None) -> Tensor:
    _matrices("matrix_rank", x)
    return _la("matrix_rank")(x, rtol=rtol)


def outer(x1: Tensor, x2: Tensor, /) -> Tensor:
    """The outer product of two 1-d arrays."""
    x1, x2, _ = operands("outer", x1, x2, "numeric")
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"linalg.outer(): x1 and x2 must be 1-d, got shapes {tuple(x1.shape)} and {tuple(x2.shape)}")
    return pt.outer(x1, x2)


def pinv(x: Tensor, /, *, rtol=None) -> Tensor:
    _matrices("pinv", x)
    return _la("pinv")(x, rtol=rtol)


def qr(x: Tensor, /, *, mode: str = "reduced") -> QRResult:
    """``Q`` with orthonormal columns and upper-triangular ``R``, ``x = Q @ R``."""
    _matrices("qr", x)
    if mode not in ("reduced", "complete"):
        raise ValueError(f"linalg.qr(): mode must be 'reduced' or 'complete', got {mode!r}")
    q, r = _la("qr")(x, mode=mode)
    return QRResult(q, r)


def slogdet(x: Tensor, /) -> SlogdetResult:
    """The sign and the log of the absolute value of the determinants."""
    _square("slogdet", x)
    s, la = _la("slogdet")(x)
    return SlogdetResult(s, la)


def solve(x1: Tensor, x2: Tensor, /) -> Tensor:
    """``x`` with ``x1 @ x = x2``; a 1-d ``x2`` is one vector (broadcast over x1's batch)."""
    x1, x2, _ = operands("solve", x1, x2, "floating-point")
    _square("solve", x1)
    if x2.ndim == 1:
        if x2.shape[0] != x1.shape[-1]:
            raise ValueError(f"linalg.solve(): x2 of shape {tuple(x2.shape)} does not match x1 of shape "
                             f"{tuple(x1.shape)}")
        b = x2.reshape(x2.shape[0], 1).expand(tuple(x1.shape[:-2]) + (x2.shape[0], 1))
        return _la("solve")(x1, b)[..., 0]
    batch = pt.broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    a = x1.expand(tuple(batch) + tuple(x1.shape[-2:]))
    b = x2.expand(tuple(batch) + tuple(x2.shape[-2:]))
    return _la("solve")(a, b)


def svd(x: Tensor, /, *, full_matrices: bool = True) -> SVDResult:
    """``U``, singular values ``S`` (descending) and ``Vh`` with ``x = U @ diag(S) @ Vh``."""
    _matrices("svd", x)
    u, s, vh = _la("svd")(x, full_matrices=full_matrices)
    return SVDResult(u, s, vh)


def svdvals(x: Tensor, /) -> Tensor:
    _matrices("svdvals", x)
    return _la("svdvals")(x)


def trace(x: Tensor, /, *, offset: int = 0, dtype=None) -> Tensor:
    """Sums of the ``offset``-th diagonals of the matrices of ``x`` (integers in int64)."""
    _matrices("trace", x, "numeric")
    if dtype is None:
        dtype = D.int64 if x.dtype.category == D._INT else x.dtype
    return pt.sum(pt.diagonal(x, offset, -2, -1), dim=-1, dtype=D.to_dtype(dtype))


def vector_norm(x: Tensor, /, *, axis=None, keepdims: bool = False, ord=2) -> Tensor:
    """The ``ord``-norm of the vectors along ``axis`` (of all elements when None)."""
    check_array("vector_norm", x)
    check_category("vector_norm", x, "floating-point")
    axes = normalize_axis("vector_norm", axis, x.ndim)
    if not axes and x.ndim:   # axis=(): each element is its own vector
        return pt.abs(x) if ord != 0 else (x != 0).to(x.dtype)
    return _la("vector_norm")(x, ord, dim=axes, keepdim=keepdims)
