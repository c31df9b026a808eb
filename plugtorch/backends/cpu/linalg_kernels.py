"""cpu kernels of plugtorch.linalg's factorisations: NumPy's LAPACK (the same library PyTorch's
cpu kernels call), batched over the leading dims.

NumPy raises for a whole batch when one matrix is singular or not positive-definite; PyTorch's
``*_ex`` functions instead return LAPACK's ``info`` per matrix. So the fast path is NumPy's batched
call, and only when it raises is the batch factored matrix by matrix with SciPy's LAPACK wrappers
to get each ``info``. SciPy also supplies what NumPy lacks: triangular solves (BLAS trsm, which
like PyTorch's gives inf/nan for a singular triangle instead of raising) and least squares
with LAPACK's drivers.
"""
from __future__ import annotations

import numpy as np

_LinAlgError = np.linalg.LinAlgError


def _lapack(name, a):
    from scipy.linalg import lapack
    return lapack.get_lapack_funcs(name, (a,))


def _mT(a):
    return np.swapaxes(a, -1, -2)


def _mH(a):
    """The conjugate transpose (the transpose of real matrices)."""
    return np.conj(_mT(a)) if a.dtype.kind == "c" else _mT(a)


def _real(a):
    return np.empty(0, a.dtype).real.dtype   # float32 for complex64 ...


def _batches(shape):
    return np.ndindex(*shape) if shape else [()]


def cholesky(A, upper):
    """(L, info): upper reads A's upper triangle, as LAPACK's potrf('U') does."""
    info = np.zeros(A.shape[:-2], np.int32)
    src = _mH(A) if upper else A      # U = chol(A^H)^H reads A's upper triangle
    try:
        L = np.linalg.cholesky(src)
    except _LinAlgError:
        L = np.zeros(src.shape, A.dtype)
        potrf = _lapack("potrf", A)
        for i in _batches(A.shape[:-2]):
            c, info[i] = potrf(src[i], lower=True, clean=True)
            L[i] = np.tril(c) if info[i] == 0 else np.nan
    # OpenBLAS's potrf passes a nan pivot (it tests d <= 0 only); LAPACK's reference potrf, PyTorch
    # and our OpenCL kernel report the first one, where sqrt(nan) lands on L's diagonal
    nan_pivot = np.isnan(np.diagonal(L, axis1=-2, axis2=-1))
    if nan_pivot.any():
        info = np.where((info == 0) & nan_pivot.any(-1), nan_pivot.argmax(-1) + 1, info).astype(np.int32)
        L[info != 0] = np.nan
    return (np.ascontiguousarray(_mH(L)) if upper else L), info


def _getrf_info(A):
    """LAPACK getrf's info of each matrix (the first exactly zero pivot, 1-based; 0 if none)."""
    info = np.zeros(A.shape[:-2], np.int32)
    if A.shape[-1]:
        getrf = _lapack("getrf", A)
        for i in _batches(A.shape[:-2]):
            info[i] = getrf(A[i])[2]
    return info


def inv(A):
    try:
        return np.linalg.inv(A), np.zeros(A.shape[:-2], np.int32)
    except _LinAlgError:
        info = _getrf_info(A)
        out = np.full(A.shape, np.nan, A.dtype)
        ok = info == 0
        out[ok] = np.linalg.inv(A[ok])
        return out, info


def solve(A, B, left, vector):
    """(X, info) with A X = B (X A = B unless left); info has A's batch shape."""
    if vector:
        B = B[..., None]
    if not left:                    # X A = B  <=>  A^T X^T = B^T
        A, B = _mT(A), _mT(B)
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    try:
        X = np.linalg.solve(A, B) if A.shape[:-2] == batch else np.linalg.solve(
            np.broadcast_to(A, batch + A.shape[-2:]), B)
        info = np.zeros(A.shape[:-2], np.int32)
    except _LinAlgError:
        info = _getrf_info(A)
        bad = np.broadcast_to(info != 0, batch)
        Ab = np.where(bad[..., None, None], np.eye(A.shape[-1], dtype=A.dtype), np.broadcast_to(A, batch + A.shape[-2:]))
        X = np.linalg.solve(Ab, np.broadcast_to(B, batch + B.shape[-2:]))
        X[bad] = np.nan
    if not left:
        X = _mT(X)
    if vector:
        X = X[..., 0]
    return np.ascontiguousarray(X), info


def det(A):
    with np.errstate(all="ignore"):     # (an overflow to inf is silent, as in PyTorch)
        return np.asarray(np.linalg.det(A), A.dtype)


def slogdet(A):
    with np.errstate(all="ignore"):
        sign, logabs = np.linalg.slogdet(A)
    return np.asarray(sign, A.dtype), np.asarray(logabs, _real(A))


def solve_triangular(A, B, upper, left, unitriangular):
    """BLAS trsm per matrix of the broadcast batch: no check for a zero diagonal (inf/nan)."""
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    out = np.empty(batch + B.shape[-2:], A.dtype)
    if out.size == 0:
        return out
    from scipy.linalg import blas
    trsm = blas.get_blas_funcs("trsm", (A,))
    Ab = np.broadcast_to(A, batch + A.shape[-2:])
    Bb = np.broadcast_to(B, batch + B.shape[-2:])
    for i in _batches(batch):
        out[i] = trsm(1.0, Ab[i], Bb[i], side=0 if left else 1, lower=0 if upper else 1,
                      diag=1 if unitriangular else 0)
    return out


def qr(A, mode):
    if mode == "r":
        return np.empty((0,), A.dtype), np.asarray(np.linalg.qr(A, mode="r"), A.dtype)
    Q, R = np.linalg.qr(A, mode=mode)
    return Q.astype(A.dtype, copy=False), R.astype(A.dtype, copy=False)


def eigh(A, upper):
    w, V = np.linalg.eigh(A, UPLO="U" if upper else "L")
    return w.astype(_real(A), copy=False), V.astype(A.dtype, copy=False)


def eigvalsh(A, upper):
    return np.linalg.eigvalsh(A, UPLO="U" if upper else "L").astype(_real(A), copy=False)


def _svd(A, **kwargs):
    """NumPy's SVD, its LinAlgError turned into plugtorch's with PyTorch's message."""
    try:
        return np.linalg.svd(A, **kwargs)
    except _LinAlgError:
        from plugtorch.dispatch.ops.linalg import LinAlgError
        why = ("the input matrix contained non-finite values" if not np.isfinite(A).all()
               else "the input matrix is ill-conditioned or has too many repeated singular values")
        raise LinAlgError(f"linalg.svd: The algorithm failed to converge because {why}.") from None


def svd(A, full_matrices):
    U, S, Vh = _svd(A, full_matrices=full_matrices)
    return U.astype(A.dtype, copy=False), S.astype(_real(A), copy=False), Vh.astype(A.dtype, copy=False)


def svdvals(A):
    return _svd(A, compute_uv=False).astype(_real(A), copy=False)


def lstsq(A, B, rcond, driver, vector):
    """PyTorch's outputs per driver (see the op's meta), one LAPACK call per matrix."""
    if vector:
        B = B[..., None]
    m, n = A.shape[-2:]
    k = B.shape[-1]
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    Ab = np.broadcast_to(A, batch + (m, n))
    Bb = np.broadcast_to(B, batch + (m, k))
    X = np.zeros(batch + (n, k), A.dtype)
    rank = np.zeros(batch, np.int64)
    sv = np.zeros(batch + (min(m, n),), A.dtype)
    res = np.zeros(batch + (k,), A.dtype)
    if m and n and k:
        from scipy.linalg import lstsq as scipy_lstsq
        for i in _batches(batch):
            if driver == "gels":
                gels = _lapack("gels", Ab[i])
                rhs = np.zeros((max(m, n), k), A.dtype)
                rhs[:m] = Bb[i]
                _, x, _ = gels(Ab[i], rhs)
                X[i] = x[:n]
                rank[i] = n
            else:
                try:
                    x, _, r, s = scipy_lstsq(Ab[i], Bb[i], cond=rcond, lapack_driver=driver, check_finite=False)
                except (ValueError, _LinAlgError):     # SciPy's errors for nan/inf (gelsd, gelss)
                    from plugtorch.dispatch.ops.linalg import LinAlgError
                    why = ("the input matrix contained non-finite values" if not np.isfinite(Ab[i]).all()
                           else "the input matrix is ill-conditioned")
                    raise LinAlgError(f"torch.linalg.lstsq: The algorithm failed to converge because {why}.") from None
                X[i], rank[i] = x, r
                if s is not None:
                    sv[i] = s
    elif n and not m:
        rank[...] = 0
    if m > n and driver != "gelsy" and (driver == "gels" or (rank == n).all()):
        res = ((Ab @ X - Bb) ** 2).sum(-2).astype(A.dtype)
    else:
        res = np.zeros((0,), A.dtype)
    if driver == "gels":
        rank = np.zeros((0,), np.int64)
    if driver not in ("gelsd", "gelss"):
        sv = np.zeros((0,), A.dtype)
    if vector:
        X = X[..., 0]
    return X, res, rank, sv


def _check_finite(op, A):
    """PyTorch's eig refuses inf and nan up front (NumPy would raise its own LinAlgError)."""
    if not np.isfinite(A).all():
        raise RuntimeError(f"torch.linalg.{op}: input tensor should not contain infs or NaNs.")


def eig(A):
    _check_finite("eig", A)
    c = np.complex64 if A.dtype in (np.float32, np.complex64) else np.complex128
    w, V = np.linalg.eig(A)
    return w.astype(c, copy=False), V.astype(c, copy=False)


def eigvals(A):
    _check_finite("eigvals", A)
    c = np.complex64 if A.dtype in (np.float32, np.complex64) else np.complex128
    return np.linalg.eigvals(A).astype(c, copy=False)


def geqrf(A):
    """LAPACK geqrf per matrix: (reflectors below R, tau)."""
    m, n = A.shape[-2:]
    a = np.array(A, copy=True)
    tau = np.zeros(A.shape[:-2] + (min(m, n),), A.dtype)
    if a.size:
        f = _lapack("geqrf", A)
        for i in _batches(A.shape[:-2]):
            a[i], tau[i] = f(A[i])[:2]
    return a, tau


def ldl_factor(A, hermitian):
    """sytrf (hetrf for Hermitian complex A) on the lower triangle: (tril(LD), pivots, info)."""
    LD = np.zeros(A.shape, A.dtype)
    piv = np.zeros(A.shape[:-1], np.int32)
    info = np.zeros(A.shape[:-2], np.int32)
    if A.shape[-1]:
        f = _lapack("hetrf" if hermitian and A.dtype.kind == "c" else "sytrf", A)
        for i in _batches(A.shape[:-2]):
            ld, piv[i], info[i] = f(A[i], lower=1)
            LD[i] = np.tril(ld)
    return LD, piv, info


def ldl_solve(LD, pivots, B, hermitian):
    """sytrs / hetrs per matrix of the broadcast batch."""
    batch = np.broadcast_shapes(LD.shape[:-2], B.shape[:-2])
    out = np.zeros(batch + B.shape[-2:], LD.dtype)
    if out.size:
        f = _lapack("hetrs" if hermitian and LD.dtype.kind == "c" else "sytrs", LD)
        LDb = np.broadcast_to(LD, batch + LD.shape[-2:])
        Pb = np.broadcast_to(pivots.astype(np.int32, copy=False), batch + pivots.shape[-1:])
        Bb = np.broadcast_to(B, batch + B.shape[-2:])
        for i in _batches(batch):
            out[i] = f(LDb[i], Pb[i], Bb[i], lower=1)[0]
    return out


KERNELS = {
    "linalg_eig": eig, "linalg_eigvals": eigvals,
    "linalg_cholesky_ex": cholesky, "linalg_inv_ex": inv, "linalg_solve_ex": solve, "linalg_det": det,
    "linalg_slogdet": slogdet, "linalg_solve_triangular": solve_triangular, "linalg_qr": qr,
    "linalg_eigh": eigh, "linalg_eigvalsh": eigvalsh, "linalg_svd": svd, "linalg_svdvals": svdvals,
    "linalg_lstsq": lstsq,
    "geqrf": geqrf, "linalg_ldl_factor_ex": ldl_factor, "linalg_ldl_solve": ldl_solve,
}
