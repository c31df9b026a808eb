"""``plugtorch.linalg``: PyTorch's ``torch.linalg`` on every backend.

Factorisations and solvers run NumPy's LAPACK on cpu, CuPy's cuSOLVER on cuda, own kernels on
opencl where it has them (``cholesky``, ``solve_triangular``, the LU-based ``solve``/``inv``/``det``,
``qr``) and a host round trip for the rest; all take float32/float64 and batch over leading dims.
Each differentiable one has a backward formula (plugtorch/autograd/linalg_formulas.py).

>>> import plugtorch as pt
>>> pt.linalg.vector_norm(pt.tensor([3., 4.])).item()
5.0
>>> pt.linalg.det(pt.tensor([[2., 1.], [1., 3.]])).item()
5.0
"""
from __future__ import annotations

from plugtorch import return_types as _R
from plugtorch._ops_public import ops
from plugtorch.dispatch.ops.linalg import LinAlgError
from plugtorch.dispatch.ops.linalg_composite import _not_pd, _singular, check_info

vector_norm = ops.vector_norm
matrix_norm = ops.linalg_matrix_norm
norm = ops.linalg_norm
matmul = ops.matmul
cross = ops.linalg_cross
vecdot = ops.linalg_vecdot
cholesky = ops.linalg_cholesky
inv = ops.linalg_inv
solve = ops.linalg_solve
det = ops.linalg_det
eigvalsh = ops.linalg_eigvalsh
svdvals = ops.linalg_svdvals
solve_triangular = ops.linalg_solve_triangular
pinv = ops.linalg_pinv
matrix_rank = ops.linalg_matrix_rank


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonals of the matrices of ``A`` (a view): ``diagonal`` with matrix defaults."""
    return ops.diagonal(A, offset, dim1, dim2)


def cholesky_ex(A, *, upper=False, check_errors=False):
    """``(L, info)``: ``cholesky`` without the error, info the order of the first leading minor
    that is not positive-definite (0 where the factorisation succeeded)."""
    L, info = ops.linalg_cholesky_ex(A, upper=upper)
    if check_errors:
        check_info("linalg.cholesky_ex", info, A.ndim > 2, _not_pd)
    return _R.linalg_cholesky_ex(L, info)


def inv_ex(A, *, check_errors=False):
    """``(inverse, info)``: ``inv`` without the error (info: the first zero pivot, 1-based)."""
    out, info = ops.linalg_inv_ex(A)
    if check_errors:
        check_info("linalg.inv_ex", info, A.ndim > 2, _singular)
    return _R.linalg_inv_ex(out, info)


def solve_ex(A, B, *, left=True, check_errors=False):
    """``(result, info)``: ``solve`` without the error."""
    X, info = ops.linalg_solve_ex(A, B, left=left)
    if check_errors:
        check_info("linalg.solve_ex", info, A.ndim > 2, lambda v: "The solver failed because the input matrix is singular.")
    return _R.linalg_solve_ex(X, info)


def slogdet(A):
    """``(sign, logabsdet)`` of each matrix: ``det = sign * exp(logabsdet)`` without overflow.

    >>> plugtorch.linalg.slogdet(plugtorch.tensor([[-2., 0.], [0., 3.]])).sign.item()
    -1.0
    """
    return _R.linalg_slogdet(*ops.linalg_slogdet(A))


def qr(A, mode="reduced"):
    """``(Q, R)`` with ``A = Q R``: ``mode`` 'reduced' (Q m x k), 'complete' (Q m x m) or 'r'
    (R only; Q empty)."""
    return _R.linalg_qr(*ops.linalg_qr(A, mode))


def eigh(A, UPLO="L"):
    """``(eigenvalues, eigenvectors)`` of symmetric matrices, eigenvalues ascending.

    >>> plugtorch.linalg.eigh(plugtorch.tensor([[2., 1.], [1., 2.]])).eigenvalues.tolist()
    [1.0, 3.0]
    """
    return _R.linalg_eigh(*ops.linalg_eigh(A, UPLO))


def svd(A, full_matrices=True, *, driver=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, S descending."""
    return _R.linalg_svd(*ops.linalg_svd(A, full_matrices, driver=driver))


def lstsq(A, B, rcond=None, *, driver=None):
    """``(solution, residuals, rank, singular_values)`` of min ||A X - B|| (see the op's meta for
    which driver computes what)."""
    return _R.linalg_lstsq(*ops.linalg_lstsq(A, B, rcond, driver=driver))


__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv",
           "inv_ex", "lstsq", "matmul", "matrix_norm", "matrix_rank", "norm", "pinv", "qr", "slogdet", "solve",
           "solve_ex", "solve_triangular", "svd", "svdvals", "vecdot", "vector_norm"]
