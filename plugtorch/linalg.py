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


def matrix_power(A, n):
    """``A`` to the integer power ``n`` by repeated squaring (the inverse's power for n < 0, the
    identity for n = 0), batched.

    >>> plugtorch.linalg.matrix_power(plugtorch.tensor([[1., 1.], [0., 1.]]), 3).tolist()
    [[1.0, 3.0], [0.0, 1.0]]
    """
    from plugtorch.dispatch import arguments as A_
    from plugtorch.dispatch.ops.linalg import check_square
    n = A_.as_int("linalg_matrix_power", "n", n)
    check_square("linalg.matrix_power", A)
    if n == 0:
        # the identity written into a copy of A, so the result stays on A's graph (its gradient
        # is 0, as PyTorch's; a fresh eye would not require grad and backward would fail)
        k = A.shape[-1]
        return A.clone().copy_(_pt().eye(k, dtype=A.dtype, device=A.device).expand(tuple(A.shape)))
    if n == 1:          # a new tensor, as PyTorch (not A itself: writing to it must not change A)
        return A.clone()
    if n < 0:
        A, n = inv(A), -n
    result = None
    while True:          # binary powering: log2(n) squarings
        if n & 1:
            result = A if result is None else result @ A
        n >>= 1
        if not n:
            return result
        A = A @ A


def multi_dot(tensors):
    """The product of a chain of matrices, multiplied in the cheapest order (matrix-chain dynamic
    programming); the first may be a row vector and the last a column vector (1-d).

    >>> plugtorch.linalg.multi_dot([plugtorch.ones(3), plugtorch.ones(3, 4), plugtorch.ones(4)]).item()
    12.0
    """
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    for i, t in enumerate(ts):
        want = "1D or 2D" if i in (0, len(ts) - 1) else "2D"
        if t.ndim not in ((1, 2) if i in (0, len(ts) - 1) else (2,)):
            which = "first" if i == 0 else "last" if i == len(ts) - 1 else f"tensor {i}"
            raise RuntimeError(f"multi_dot(): {'the ' if i in (0, len(ts) - 1) else ''}{which} tensor must be "
                               f"{want} but got {t.ndim}D")
        if t.dtype is not ts[0].dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                               f"{ts[0].dtype} and tensor {i} {t.dtype}")
    row, col = ts[0].ndim == 1, ts[-1].ndim == 1
    mats = [ts[0].unsqueeze(0) if row else ts[0]] + ts[1:-1] + [ts[-1].unsqueeze(1) if col else ts[-1]]
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(ts[i].shape)} and "
                               f"{list(ts[i + 1].shape)} cannot be multiplied")
    dims = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    k = len(mats)
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j], split[i][j] = min((cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1], s)
                                          for s in range(i, j))

    def product(i, j):
        return mats[i] if i == j else product(i, split[i][j]) @ product(split[i][j] + 1, j)
    out = product(0, k - 1)
    if row:
        out = out.squeeze(0)
    if col:
        out = out.squeeze(-1)
    return out


def vander(x, *, N=None):
    """The Vandermonde matrices of the last dim of ``x``: columns ``x**0, x**1, ..., x**(N-1)``.

    >>> plugtorch.linalg.vander(plugtorch.tensor([1, 2, 3])).tolist()
    [[1, 1, 1], [1, 2, 4], [1, 3, 9]]
    """
    if x.ndim < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension")
    d = x.dtype
    if not (d in (_pt().float32, _pt().float64, _pt().complex64, _pt().complex128)
            or (not d.is_floating_point and not d.is_complex and d != _pt().bool)):
        raise RuntimeError(f"linalg.vander supports floating point, complex, and integer tensors, but got {d}; "
                           "convert with .float() (or plugtorch.vander, which takes any dtype)")
    n = x.shape[-1] if N is None else N
    if n <= 1:      # PyTorch's check (plugtorch.vander, the older function, allows 0 and 1)
        raise RuntimeError(f"linalg.vander: N must be greater than 1 (got N={n})")
    xs = x if x.dtype.is_floating_point or x.dtype.is_complex else x.long()
    cols = _pt().cat([_pt().ones_like(xs).unsqueeze(-1), xs.unsqueeze(-1).expand(tuple(xs.shape) + (n - 1,))], -1)
    return cols.cumprod(-1)


def cond(A, p=None):
    """The condition number of ``A`` in norm ``p`` (2 by default: the ratio of the extreme
    singular values); other norms as ``norm(A, p) * norm(inv(A), p)``, for square matrices.

    >>> plugtorch.linalg.cond(plugtorch.tensor([[1., 0.], [0., 4.]])).item()
    4.0
    """
    if A.ndim < 2:
        raise RuntimeError(f"linalg.cond: The input tensor A must have at least 2 dimensions.")
    empty = A.shape[-2] == 0 or A.shape[-1] == 0
    if p is None or p in (2, -2):
        if empty:       # an empty matrix's condition number is 0, as PyTorch
            return vector_norm(A, 2, (-2, -1))
        s = svdvals(A)
        return s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.cond(ord={p}): A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if empty:
        return vector_norm(A, 2, (-2, -1))
    # a singular matrix has condition number inf in these norms (PyTorch's documented result)
    A_inv, info = ops.linalg_inv_ex(A)
    singular = info > 0
    A_inv = _pt().where(singular[..., None, None], 0, A_inv)      # no nan into the nuclear norm's SVD
    return _pt().where(singular, float("inf"), matrix_norm(A, p) * matrix_norm(A_inv, p))


def tensorinv(A, ind=2):
    """The tensor ``X`` with ``tensordot(X, A, ind)`` the identity: ``A`` reshaped to a square
    matrix (its first ``ind`` dims against the rest), inverted and reshaped back."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    lead, rest = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    rows = cols = 1
    for s in lead:
        rows *= s
    for s in rest:
        cols *= s
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return inv(A.reshape(rows, cols)).reshape(rest + lead)


def tensorsolve(A, B, dims=None):
    """``X`` with ``tensordot(A, X, X.ndim) == B``; ``dims`` of ``A`` are moved to its end first."""
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = A.permute([d for d in range(A.ndim) if d not in dims] + dims)
    out_shape = tuple(A.shape[B.ndim:])
    n = B.numel()
    return solve(A.reshape(n, -1), B.reshape(n)).reshape(out_shape)


matrix_exp = ops.matrix_exp
eigvals = ops.linalg_eigvals


def eig(A):
    """``(eigenvalues, eigenvectors)`` of general square matrices, complex (LAPACK's geev: unit
    eigenvectors in the columns).

    >>> plugtorch.linalg.eig(plugtorch.tensor([[2., 0.], [0., 3.]])).eigenvalues.tolist()
    [(2+0j), (3+0j)]
    """
    return _R.linalg_eig(*ops.linalg_eig(A))
from plugtorch._linalg_lu import lu, lu_factor, lu_factor_ex, lu_solve  # noqa: E402
from plugtorch._linalg_householder import householder_product  # noqa: E402


def _ldl_singular(v):
    at = "" if v is None else f" (D[{v - 1},{v - 1}] is exactly zero)"
    return (f"The factorization was completed but D is singular{at}, so ldl_solve would divide by zero; "
            "call linalg.ldl_factor_ex to get the factors anyway")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """``(LD, pivots, info)``: the Bunch-Kaufman factorisation ``A = P L D L^H P^T`` of symmetric
    (``hermitian``: Hermitian) matrices in LAPACK's compact form (sytrf/hetrf on the lower
    triangle, LD's strict upper triangle zero; pivots 1-based int32, negative for a 2x2 block of
    D); ``info`` > 0 where D has an exact zero on its diagonal.

    >>> LD, piv, info = plugtorch.linalg.ldl_factor_ex(plugtorch.tensor([[4., 2.], [2., 3.]]))
    >>> LD.tolist(), piv.tolist(), info.item()
    ([[4.0, 0.0], [0.5, 2.0]], [1, 2], 0)
    """
    LD, piv, info = ops.linalg_ldl_factor_ex(A, hermitian=hermitian)
    if check_errors:
        check_info("torch.linalg.ldl_factor_ex", info, A.ndim > 2, _ldl_singular)
    return _R.linalg_ldl_factor_ex(LD, piv, info)


def ldl_factor(A, *, hermitian=False):
    """``(LD, pivots)`` of ``ldl_factor_ex``; LinAlgError where D is singular."""
    LD, piv, info = ops.linalg_ldl_factor_ex(A, hermitian=hermitian)
    check_info("torch.linalg.ldl_factor", info, A.ndim > 2, _ldl_singular)
    return _R.linalg_ldl_factor(LD, piv)


def ldl_solve(LD, pivots, B, *, hermitian=False):
    """X with ``A X = B`` from ``ldl_factor``'s result (LAPACK's sytrs/hetrs); batch dims broadcast.

    >>> A = plugtorch.tensor([[4., 2.], [2., 3.]])
    >>> plugtorch.linalg.ldl_solve(*plugtorch.linalg.ldl_factor(A), plugtorch.tensor([[6.], [5.]])).tolist()
    [[1.0], [1.0]]
    """
    return ops.linalg_ldl_solve(LD, pivots, B, hermitian=hermitian)


def _pt():
    import plugtorch
    return plugtorch


__all__ = ["LinAlgError", "householder_product", "ldl_factor", "ldl_factor_ex", "ldl_solve", "cond", "eig", "eigvals", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "matrix_exp", "tensorinv", "tensorsolve",
           "vander", "matrix_power", "multi_dot", "cholesky", "cholesky_ex", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv",
           "inv_ex", "lstsq", "matmul", "matrix_norm", "matrix_rank", "norm", "pinv", "qr", "slogdet", "solve",
           "solve_ex", "solve_triangular", "svd", "svdvals", "vecdot", "vector_norm"]


# out= for the functions whose torch.linalg counterpart takes it (plugtorch/_out.py)
from plugtorch import _out  # noqa: E402

_out.install(globals(), "linalg")
