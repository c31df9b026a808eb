"""Backward formulas of plugtorch.linalg's factorisations, written with plugtorch ops (so they run
on every backend and differentiate again for ``create_graph=True``).

Sources: M. Giles, "An extended collection of matrix derivative results for forward and reverse
mode algorithmic differentiation" (2008) for inv, det, solve and Cholesky (with I. Murray,
"Differentiation of the Cholesky decomposition", 2016, for its symmetric form); C. Ionescu et
al., "Matrix backpropagation for deep networks with structured layers" (2015) and M. Seeger et
al., "Auto-differentiating linear algebra" (2017) for eigh and SVD; S. Walter and L. Lehmann,
"Algorithmic differentiation of linear algebra functions with application in optimum
experimental design" (2018) and H.-J. Liao et al., "Differentiable programming tensor networks"
(2019) for QR, the wide case included. They are PyTorch's formulas (FunctionsManual.cpp).

Where a formula divides by the gaps between eigenvalues (eigh) or squared singular values (svd),
an exactly repeated one gives the pair's term 0 instead of PyTorch's inf/nan: the gradient of
a loss that depends on the eigenvectors only through their span (as every well-defined one
does) is then the right one, and a loss of the eigenvalues alone never meets 0/0. Symmetric
inputs (cholesky, eigh, eigvalsh) get a symmetric gradient, as in PyTorch, although the kernels
read one triangle.
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch.autograd.formulas import derivative


def _eye_like(x, n):
    return pt.eye(n, dtype=x.dtype, device=x.device)


def _diag_embed(v):
    """The matrices with ``v``'s last dim on their diagonals."""
    return v.unsqueeze(-1) * _eye_like(v, v.shape[-1])


def _safe_reciprocal(E):
    """1 / E with 0 where E == 0 (the degenerate pairs, and the diagonal)."""
    nz = E != 0
    return pt.where(nz, 1 / pt.where(nz, E, 1.0), 0.0)


def _solve_tri(A, B, upper, left=True, unitriangular=False):
    return pt.ops.linalg_solve_triangular(A, B, upper=upper, left=left, unitriangular=unitriangular)


# ---- Cholesky, inverse, solves --------------------------------------------------------------
def _cholesky_grad(g, A, *, upper=False, result):
    """gA = L^-T Phi(L^T gL) L^-1, Phi(X) the lower triangle with the diagonal halved, symmetrised."""
    L, gL = result[0], g[0]
    if upper:
        L, gL = L.mT, gL.mT
    gA = (L.mT @ gL).tril()
    gA = 0.5 * (gA + gA.tril(-1).mT)
    gA = _solve_tri(L.mT, gA, upper=True)
    return (_solve_tri(L, gA, upper=False, left=False),)


def _inv_grad(g, A, *, result):
    inv_t = result[0].mT
    return (-(inv_t @ g[0] @ inv_t),)


def _solve_grad(g, A, B, *, left=True, result):
    """A X = B: gB = A^-T gX, gA = -gB X^T (X A = B: gB = gX A^-T, gA = -X^T gB)."""
    from plugtorch.dispatch.ops.linalg import is_vector_rhs
    X, gX = result[0], g[0]
    vector = is_vector_rhs(A, B)
    if vector:
        X, gX = X.unsqueeze(-1), gX.unsqueeze(-1)
    gB = pt.ops.linalg_solve_ex(A.mT, gX, left=left)[0]
    gA = -(gB @ X.mT) if left else -(X.mT @ gB)
    return gA, gB.squeeze(-1) if vector else gB


def _solve_triangular_grad(g, A, B, *, upper, left=True, unitriangular=False, result):
    gB = _solve_tri(A.mT, g, upper=not upper, left=left, unitriangular=unitriangular)
    gA = -(gB @ result.mT) if left else -(result.mT @ gB)
    gA = gA.triu(1 if unitriangular else 0) if upper else gA.tril(-1 if unitriangular else 0)
    return gA, gB


# ---- determinants ---------------------------------------------------------------------------
def _prod_of_others(s):
    """p[..., i] = prod_{j != i} s[..., j], exact with zeros (exclusive cumprods from both ends)."""
    n = s.shape[-1]
    ones = pt.ones_like(s.narrow(-1, 0, 1))
    left = pt.cat([ones, s.narrow(-1, 0, n - 1).cumprod(-1)], -1)
    right = pt.cat([ones, s.flip([-1]).narrow(-1, 0, n - 1).cumprod(-1)], -1).flip([-1])
    return left * right


def _cofactors_by_svd(A):
    """The cofactor matrix of each A (singular ones too): det(U) det(Vh) U diag(prod of the
    other singular values) Vh."""
    U, S, Vh = pt.ops.linalg_svd(A, False)
    sign = pt.ops.linalg_det(U) * pt.ops.linalg_det(Vh)
    return (U * _prod_of_others(S).unsqueeze(-2)) @ Vh * sign.unsqueeze(-1).unsqueeze(-1)


def _det_grad(g, A, *, result):
    """g det(A) A^-T; where A is singular (the inverse not finite), g times A's cofactors."""
    if A.shape[-1] == 0:
        return (pt.zeros_like(A),)
    scale = (g * result).unsqueeze(-1).unsqueeze(-1)
    inv, info = pt.ops.linalg_inv_ex(A)
    singular = (info != 0).unsqueeze(-1).unsqueeze(-1)
    if A.is_meta or not bool(singular.any()):     # (a host read, in backward only; meta has no values)
        return (scale * inv.mT,)
    # the singular ones inverted as identities, so no nan reaches a second derivative through where
    inv = pt.ops.linalg_inv_ex(pt.where(singular, _eye_like(A, A.shape[-1]), A))[0]
    return (pt.where(singular, g.unsqueeze(-1).unsqueeze(-1) * _cofactors_by_svd(A), scale * inv.mT),)


def _slogdet_grad(g, A, *, result):
    """d logabsdet = A^-T (the sign is piecewise constant)."""
    return (g[1].unsqueeze(-1).unsqueeze(-1) * pt.ops.linalg_inv_ex(A)[0].mT,)


# ---- QR -------------------------------------------------------------------------------------
def _qr_tall(Q, R, gQ, gR):
    """m >= n: gA = (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q, copyltu(M) = tril(M) + tril(M, -1)^T."""
    Mx = R @ gR.mT - gQ.mT @ Q
    b = gQ + Q @ (Mx.tril() + Mx.tril(-1).mT)
    return _solve_tri(R.mT, b, upper=False, left=False)


def _qr_grad(g, A, mode="reduced", *, result):
    Q, R = result
    gQ, gR = g
    m, n = A.shape[-2], A.shape[-1]
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please "
                           "use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.")
    if mode == "complete" and m > n:
        raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols; "
                           "use mode='reduced'")
    if m >= n:
        return (_qr_tall(Q, R, gQ, gR),)
    # wide: A = [X | Y] = Q [U | V]: X's square formula with gQ + Y gV^T, and gY = Q gV
    U, V = R.narrow(-1, 0, m), R.narrow(-1, m, n - m)
    gU, gV = gR.narrow(-1, 0, m), gR.narrow(-1, m, n - m)
    gX = _qr_tall(Q, U, gQ + (Q @ V) @ gV.mT, gU)
    return (pt.cat([gX, Q @ gV], -1),)


# ---- eigh and SVD ---------------------------------------------------------------------------
def _eigh_grad(g, A, UPLO="L", *, result):
    """gA = V (diag(gL) + skew(V^T gV) / E) V^T with E_ij = L_j - L_i, skew(X) = (X - X^T) / 2."""
    L, V = result
    gL, gV = g
    VtgV = V.mT @ gV
    inner = 0.5 * (VtgV - VtgV.mT) * _safe_reciprocal(L.unsqueeze(-2) - L.unsqueeze(-1)) + _diag_embed(gL)
    return (V @ inner @ V.mT,)


def _eigvalsh_grad(g, A, UPLO="L"):
    """gA = V diag(gL) V^T, the eigenvectors recomputed."""
    V = pt.ops.linalg_eigh(A, UPLO)[1]
    return ((V * g.unsqueeze(-2)) @ V.mT,)


def _svd_grad(g, A, full_matrices=True, *, driver=None, result):
    """gA = U [(skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)] V^T
    + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T), E_jk = S_k^2 - S_j^2, skew(X) = X - X^T."""
    U, S, Vh = result
    gU, gS, gVh = g
    m, n = A.shape[-2], A.shape[-1]
    k = min(m, n)
    if full_matrices:   # the columns past k do not depend on A (PyTorch ignores their gradient too)
        U, gU, Vh, gVh = U.narrow(-1, 0, k), gU.narrow(-1, 0, k), Vh.narrow(-2, 0, k), gVh.narrow(-2, 0, k)
    UtgU = U.mT @ gU
    VtgV = Vh @ gVh.mT
    S2 = S * S
    F = _safe_reciprocal(S2.unsqueeze(-2) - S2.unsqueeze(-1))
    inner = ((UtgU - UtgU.mT) * S.unsqueeze(-2) + S.unsqueeze(-1) * (VtgV - VtgV.mT)) * F + _diag_embed(gS)
    gA = U @ inner @ Vh
    if m > k:
        gA = gA + ((gU - U @ UtgU) / S.unsqueeze(-2)) @ Vh
    if n > k:
        gV = gVh.mT
        gA = gA + U @ ((gV - Vh.mT @ VtgV) / S.unsqueeze(-2)).mT
    return (gA,)


def _svdvals_grad(g, A, *, driver=None):
    U, _, Vh = pt.ops.linalg_svd(A, False)
    return ((U * g.unsqueeze(-2)) @ Vh,)


# ---- pseudo-inverse and least squares ---------------------------------------------------------
def pinv_backward(g, pinvA, A):
    """Golub and Pereyra's derivative of the pseudo-inverse (PyTorch's pinv_backward), arranged so
    the intermediate products have the smaller of A's two sizes."""
    m, n = A.shape[-2], A.shape[-1]
    pinvAh, gh = pinvA.mT, g.mT
    if m <= n:
        K = gh @ pinvA
        KpinvAh = K @ pinvAh
        return -(pinvA @ K).mT + KpinvAh - (A @ pinvA) @ KpinvAh + (pinvAh @ pinvA) @ (gh - K @ A)
    K = pinvA @ gh
    pinvAhK = pinvAh @ K
    return -(K @ pinvA).mT + (gh - A @ K) @ pinvA @ pinvAh + pinvAhK - pinvAhK @ pinvA @ A


def _pinv_grad(g, A, *, atol=None, rtol=None, hermitian=False, rcond=None, result):
    return (pinv_backward(g, result, A),)


def _lstsq_grad(g, A, B, rcond=None, *, driver=None, result):
    """X = pinv(A) B for the solution; the residuals |A X - B|^2 by the envelope theorem (X is
    the minimiser: d/dA = 2 r X^T, d/dB = -2 r with r = A X - B); the singular values as svdvals'."""
    gX, gRes, _, gS = g
    from plugtorch.dispatch.ops.linalg import is_vector_rhs
    X = result[0]
    vector = is_vector_rhs(A, B)
    if vector:
        gX, X, B = gX.unsqueeze(-1), X.unsqueeze(-1), B.unsqueeze(-1)
    pinvA = pt.ops.linalg_pinv(A)
    gA = pinv_backward(gX @ B.mT, pinvA, A)
    gB = pinvA.mT @ gX
    if gRes.numel():
        r = (A @ X - B) * (2 * gRes.unsqueeze(-2))
        gA = gA + r @ X.mT
        gB = gB - r
    if gS.numel():
        gA = gA + _svdvals_grad(gS, A)[0]
    return gA, gB.squeeze(-1) if vector else gB


derivative("linalg_cholesky_ex", _cholesky_grad, save=(), result=True)
derivative("linalg_inv_ex", _inv_grad, save=(), result=True)
derivative("linalg_solve_ex", _solve_grad, save=("A",), result=True)
derivative("linalg_solve_triangular", _solve_triangular_grad, save=("A",), result=True)
derivative("linalg_det", _det_grad, result=True)
derivative("linalg_slogdet", _slogdet_grad, result=True)
derivative("linalg_qr", _qr_grad, save=(), result=True)
derivative("linalg_eigh", _eigh_grad, save=(), result=True)
derivative("linalg_eigvalsh", _eigvalsh_grad)
derivative("linalg_svd", _svd_grad, save=(), result=True)
derivative("linalg_svdvals", _svdvals_grad)
derivative("linalg_pinv", _pinv_grad, save=("A",), result=True)
derivative("linalg_lstsq", _lstsq_grad, result=True)
