"""PyTorch's top-level linear-algebra functions (``torch.det``, ``torch.inverse``, ``torch.svd`` ...)
and their Tensor methods: thin wrappers over the ``linalg_*`` ops, with the older signatures
(``svd`` returns V, not Vh; ``qr(some=)``; ``cross`` without ``dim`` takes the first dim of size 3).

>>> plugtorch.tensor([[2., 1.], [1., 3.]]).det().item()
5.0
"""
from __future__ import annotations

import math
import os
import sys
import warnings

from plugtorch import _ops_public as P
from plugtorch import return_types
from plugtorch._tensor import Tensor
from plugtorch.dispatch.meta import broadcast_shapes

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep

__all__ = []


def public(op_name):
    return P.public(op_name, __all__)


@public("linalg_det")
def det(input):
    """The determinant of each square matrix (``linalg.det``)."""
    return P.ops.linalg_det(input)


@public("linalg_inv")
def inverse(input):
    """The inverse of each square matrix (``linalg.inv``; LinAlgError for a singular one)."""
    return P.ops.linalg_inv(input)


@public("linalg_slogdet")
def slogdet(input):
    """``(sign, logabsdet)`` as a ``return_types.slogdet``."""
    return return_types.slogdet(*P.ops.linalg_slogdet(input))


@public("linalg_slogdet")
def logdet(input):
    """log(det): nan for a negative determinant, -inf for a singular matrix (as PyTorch)."""
    sign, logabs = P.ops.linalg_slogdet(input)
    if input.dtype.is_complex:      # log(det) = log|det| + i angle(det), sign = det / |det|
        return logabs + sign.log()
    return P.where(sign < 0, math.nan, logabs)


@public("linalg_pinv")
def pinverse(input, rcond=1e-15):
    """The pseudo-inverse, singular values below ``rcond`` times the largest counted as zero."""
    return P.ops.linalg_pinv(input, rcond=rcond)


@public("linalg_svd")
def svd(input, some=True, compute_uv=True):
    """``(U, S, V)`` with ``input = U diag(S) V^T`` (V, not linalg.svd's Vh); ``some=False`` gives
    square U and V; ``compute_uv=False`` zero-filled U (m x m) and V (n x n), as PyTorch."""
    if not compute_uv:
        S = P.ops.linalg_svdvals(input)
        m, n = input.shape[-2], input.shape[-1]
        batch = tuple(input.shape[:-2])
        zeros = (lambda k: P.zeros(batch + (k, k), dtype=input.dtype, device=input.device))
        return return_types.svd(zeros(m), S, zeros(n))
    U, S, Vh = P.ops.linalg_svd(input, not some)
    return return_types.svd(U, S, Vh.mT)


@public("linalg_qr")
def qr(input, some=True):
    """``(Q, R)``: ``linalg.qr`` with mode 'reduced' (``some``) or 'complete'."""
    return return_types.qr(*P.ops.linalg_qr(input, "reduced" if some else "complete"))


@public("linalg_cholesky")
def cholesky(input, upper=False):
    """The Cholesky factor (``linalg.cholesky``)."""
    return P.ops.linalg_cholesky(input, upper=upper)


@public("linalg_solve_triangular")
def cholesky_solve(B, L, upper=False):
    """X with A X = B, given A's Cholesky factor L (U with ``upper``): two triangular solves."""
    if upper:           # A = U^H U: L = U^H
        L = L.mH
    y = P.ops.linalg_solve_triangular(L, B, upper=False)
    return P.ops.linalg_solve_triangular(L.mH, y, upper=True)


@public("linalg_solve_triangular")
def cholesky_inverse(L, upper=False):
    """A^-1 from A's Cholesky factor; a zero on the factor's diagonal (A singular) raises
    LinAlgError naming it (1-based), as PyTorch."""
    from plugtorch.dispatch.ops.linalg_composite import _singular, check_info
    n = L.shape[-1]
    if n and L.ndim >= 2:
        zero = L.diagonal(dim1=-2, dim2=-1) == 0
        info = P.where(zero.any(-1), zero.int().argmax(-1) + 1, 0)
        check_info("cholesky_inverse", info, L.ndim > 2, _singular)
    eye = P.eye(n, dtype=L.dtype, device=L.device).expand(tuple(L.shape[:-2]) + (n, n))
    return cholesky_solve(eye, L, upper)


def _user_stacklevel() -> int:
    """The ``stacklevel`` pointing a warning from the caller of this function at the first frame
    outside plugtorch (``plugtorch.cross`` is reached through the ``out=`` wrapper or a method)."""
    level, f = 2, sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE):
        level, f = level + 1, f.f_back
    return level


@public("linalg_cross")
def cross(input, other, dim=None):
    """The cross product along ``dim``; without it, the first dim of size 3 (PyTorch's deprecated
    default, with its warning: pass dim, or use linalg.cross)."""
    if dim is None:
        shape = broadcast_shapes(tuple(input.shape), tuple(other.shape), op="cross") \
            if isinstance(input, Tensor) and isinstance(other, Tensor) else ()
        dim = next((d for d, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError(f"no dimension of size 3 in input (shapes {tuple(input.shape)} and "
                               f"{tuple(other.shape)}); pass dim=, or use plugtorch.linalg.cross")
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated. Please either pass the "
                      "dim explicitly or simply use plugtorch.linalg.cross.", UserWarning, stacklevel=_user_stacklevel())
    return P.ops.linalg_cross(input, other, dim=dim)


@public("geqrf")
def geqrf(input):
    """``(a, tau)``: LAPACK's compact QR (R on and above the diagonal, the Householder vectors
    below it); ``linalg.householder_product(a, tau)`` forms Q. Not differentiable, as PyTorch.

    >>> a, tau = plugtorch.geqrf(plugtorch.tensor([[3., 1.], [4., 2.]]))
    >>> [round(v, 4) for v in a.triu().flatten().tolist()]
    [-5.0, -2.2, 0.0, 0.4]
    """
    return return_types.geqrf(*P.ops.geqrf(input))


from plugtorch._linalg_householder import orgqr, ormqr  # noqa: E402

P.PUBLIC_TO_OP.update(orgqr="_matmul", ormqr="_matmul")
__all__ += ["orgqr", "ormqr"]

from plugtorch._lowrank import lobpcg, pca_lowrank, svd_lowrank  # noqa: E402

P.PUBLIC_TO_OP.update(svd_lowrank="linalg_qr", pca_lowrank="linalg_qr", lobpcg="linalg_eigh")
__all__ += ["svd_lowrank", "pca_lowrank", "lobpcg"]
