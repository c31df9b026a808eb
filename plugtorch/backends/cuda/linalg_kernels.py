"""cuda kernels of plugtorch.linalg's factorisations and plugtorch.fft's real transforms: CuPy's
cuSOLVER, cuBLAS and cuFFT wrappers, batched where CuPy batches.

Where PyTorch reports a failing matrix through ``info`` (cholesky, inv, solve), the batch runs under
``cupyx.errstate(linalg="raise")``: cuSOLVER's info is read once (one synchronisation, as
PyTorch's checked calls on CUDA) and, only when a matrix failed, the batch is factored on the host
to give LAPACK's info per matrix. Empty batches and matrices go through the host too (cuSOLVER
refuses zero sizes). ``lstsq`` has no batched CuPy counterpart and keeps the host round trip.

``make_cuda_linalg_kernels(xp, ...)`` takes the array module as an argument, so tests run these
kernels with NumPy standing in for CuPy (tests/linalg/test_cuda_kernels.py).
"""
from __future__ import annotations

import numpy as np

from plugtorch.backends.cpu import fft_kernels as host_fft
from plugtorch.backends.cpu import linalg_kernels as host


def make_cuda_linalg_kernels(cp, *, errstate=None, solve_triangular=None, to_host=None) -> dict:
    """The kernel table over array module ``cp`` (CuPy): ``errstate(linalg='raise')`` makes a
    failed factorisation raise (default: ``cupyx.errstate``), ``solve_triangular`` is
    ``cupyx.scipy.linalg.solve_triangular``'s signature, ``to_host`` is ``cp.asnumpy``."""
    if errstate is None:
        import cupyx
        errstate = cupyx.errstate
    if solve_triangular is None:
        from cupyx.scipy.linalg import solve_triangular
    to_host = to_host or cp.asnumpy
    LinAlgError = np.linalg.LinAlgError

    def on_host(kernel, *args):
        """``kernel`` (a cpu kernel) on host copies of the arrays, its results copied back."""
        out = kernel(*(to_host(a) if isinstance(a, cp.ndarray) else a for a in args))
        return tuple(cp.asarray(o) for o in out) if isinstance(out, tuple) else cp.asarray(out)

    def mT(a):
        return cp.swapaxes(a, -1, -2)

    def empty(*arrays):
        return any(a.size == 0 for a in arrays)

    def cholesky(A, upper):
        if empty(A):
            return on_host(host.cholesky, A, upper)
        try:
            with errstate(linalg="raise"):
                L = cp.linalg.cholesky(mT(A) if upper else A)
        except LinAlgError:
            return on_host(host.cholesky, A, upper)
        # a nan pivot may pass the factorisation's d <= 0 test (OpenBLAS's does); the host kernel
        # reports it in info, as LAPACK's reference potrf and PyTorch do
        if bool(cp.isnan(cp.diagonal(L, axis1=-2, axis2=-1)).any()):
            return on_host(host.cholesky, A, upper)
        return (cp.ascontiguousarray(mT(L)) if upper else L), cp.zeros(A.shape[:-2], np.int32)

    def inv(A):
        if empty(A):
            return on_host(host.inv, A)
        try:
            with errstate(linalg="raise"):
                out = cp.linalg.inv(A)
        except LinAlgError:
            return on_host(host.inv, A)
        return out, cp.zeros(A.shape[:-2], np.int32)

    def solve(A, B, left, vector):
        if empty(A, B):
            return on_host(host.solve, A, B, left, vector)
        Bm = B[..., None] if vector else B
        Am, Bm = (A, Bm) if left else (mT(A), mT(Bm))
        batch = np.broadcast_shapes(Am.shape[:-2], Bm.shape[:-2])
        try:   # (operands of equal rank: B is a stack of matrices under either NumPy convention)
            with errstate(linalg="raise"):
                X = cp.linalg.solve(cp.broadcast_to(Am, batch + Am.shape[-2:]), cp.broadcast_to(Bm, batch + Bm.shape[-2:]))
        except LinAlgError:
            return on_host(host.solve, A, B, left, vector)
        if not left:
            X = mT(X)
        return cp.ascontiguousarray(X[..., 0] if vector else X), cp.zeros(A.shape[:-2], np.int32)

    def det(A):
        return on_host(host.det, A) if empty(A) else cp.asarray(cp.linalg.det(A)).astype(A.dtype, copy=False)

    def slogdet(A):
        if empty(A):
            return on_host(host.slogdet, A)
        sign, logabs = cp.linalg.slogdet(A)
        return cp.asarray(sign).astype(A.dtype, copy=False), cp.asarray(logabs).astype(A.dtype, copy=False)

    def triangular(A, B, upper, left, unitriangular):
        batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
        out = cp.empty(batch + B.shape[-2:], A.dtype)
        if out.size == 0:
            return out
        Ab, Bb = cp.broadcast_to(A, batch + A.shape[-2:]), cp.broadcast_to(B, batch + B.shape[-2:])
        for i in np.ndindex(*batch):   # (cuBLAS trsm per matrix: no check of the diagonal, as PyTorch)
            if left:
                out[i] = solve_triangular(Ab[i], Bb[i], lower=not upper, unit_diagonal=unitriangular)
            else:                      # X A = B  <=>  A^T X^T = B^T
                out[i] = mT(solve_triangular(Ab[i], mT(Bb[i]), trans="T", lower=not upper,
                                             unit_diagonal=unitriangular))
        return out

    def qr(A, mode):
        if empty(A):
            return on_host(host.qr, A, mode)
        if mode == "r":
            return cp.empty((0,), A.dtype), cp.linalg.qr(A, mode="r").astype(A.dtype, copy=False)
        Q, R = cp.linalg.qr(A, mode=mode)
        return Q.astype(A.dtype, copy=False), R.astype(A.dtype, copy=False)

    def eigh(A, upper):
        if empty(A):
            return on_host(host.eigh, A, upper)
        w, V = cp.linalg.eigh(A, UPLO="U" if upper else "L")
        return w.astype(A.dtype, copy=False), V.astype(A.dtype, copy=False)

    def eigvalsh(A, upper):
        if empty(A):
            return on_host(host.eigvalsh, A, upper)
        return cp.linalg.eigvalsh(A, UPLO="U" if upper else "L").astype(A.dtype, copy=False)

    def svd(A, full_matrices):
        if empty(A):
            return on_host(host.svd, A, full_matrices)
        U, S, Vh = cp.linalg.svd(A, full_matrices=full_matrices)
        return U.astype(A.dtype, copy=False), S.astype(A.dtype, copy=False), Vh.astype(A.dtype, copy=False)

    def svdvals(A):
        if empty(A):
            return on_host(host.svdvals, A)
        return cp.linalg.svd(A, compute_uv=False).astype(A.dtype, copy=False)

    def irfftn(x, s, dims, norm, dtype):
        if empty(x):
            return on_host(host_fft.irfftn, x, s, dims, norm, dtype)
        d = dtype.numpy
        return cp.fft.irfftn(x.astype(d, copy=False), s=s, axes=dims, norm=norm).astype(d, copy=False)

    def rfftn_real(x, dims, dtype):
        if empty(x):
            return on_host(host_fft.rfftn_real, x, dims, dtype)
        d = dtype.numpy
        return cp.ascontiguousarray(cp.fft.rfftn(x.astype(d, copy=False), axes=dims).real).astype(d, copy=False)

    return {"linalg_cholesky_ex": cholesky, "linalg_inv_ex": inv, "linalg_solve_ex": solve, "linalg_det": det,
            "linalg_slogdet": slogdet, "linalg_solve_triangular": triangular, "linalg_qr": qr, "linalg_eigh": eigh,
            "linalg_eigvalsh": eigvalsh, "linalg_svd": svd, "linalg_svdvals": svdvals, "fft_irfftn": irfftn,
            "_fft_rfftn_real": rfftn_real}
