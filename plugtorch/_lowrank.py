"""Randomized low-rank factorisations and LOBPCG, written with plugtorch ops (every backend,
autograd through the steps): ``svd_lowrank``, ``pca_lowrank`` (Halko, Martinsson and Tropp's
randomized range finder with subspace iterations, as PyTorch's ``torch._lowrank``) and ``lobpcg``
(Knyazev's locally optimal block preconditioned conjugate gradient, its basic form: Rayleigh-Ritz
on [X, R, P] each step).

The random test matrix comes from plugtorch's default generator, so ``plugtorch.manual_seed``
repeats a result (PyTorch's draws differ: its generator is another one).

>>> A = plugtorch.randn(20, 3, dtype=plugtorch.float64) @ plugtorch.randn(3, 10, dtype=plugtorch.float64)
>>> U, S, V = plugtorch.svd_lowrank(A, q=5)
>>> bool(plugtorch.allclose(U[:, :3] @ plugtorch.diag(S[:3]) @ V[:, :3].mT, A))
True
"""
from __future__ import annotations

import math

from plugtorch import _dtypes
from plugtorch import _ops_public as P


def _float_dtype(op, A):
    if not isinstance(A, P.Tensor):
        raise TypeError(f"{op}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise ValueError(f"{op}: A must have at least 2 dimensions, got shape {tuple(A.shape)}")
    if A.dtype not in (_dtypes.float32, _dtypes.float64):
        raise RuntimeError(f"{op}: expected a float32 or float64 tensor, got {A.dtype}; convert with .float() or "
                           ".double() first")
    return A.dtype


def get_approximate_basis(A, q, niter=2, M=None):
    """Q with q orthonormal columns such that Q Q^T (A - M) approximates A - M (Halko et al.'s
    algorithm 4.4: a Gaussian test matrix, then ``niter`` subspace iterations, each through QR)."""
    niter = 2 if niter is None else niter
    R = P.randn(A.shape[-1], q, dtype=A.dtype, device=A.device)
    X = A @ R
    if M is not None:
        X = X - M @ R
    Q = _linalg().qr(X).Q
    for _ in range(niter):
        X = A.mT @ Q
        if M is not None:
            X = X - M.mT @ Q
        Q = _linalg().qr(X).Q
        X = A @ Q
        if M is not None:
            X = X - M @ Q
        Q = _linalg().qr(X).Q
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    """``(U, S, V)`` with ``A - M ~= U diag(S) V^T``, of rank ``q`` (at most min(m, n)): a
    randomized SVD for (batches of) low-rank matrices; ``M`` broadcasts to A (e.g. a mean row).
    Repeatable with ``plugtorch.manual_seed``. Returns a plain tuple, as PyTorch."""
    _float_dtype("svd_lowrank", A)
    q = 6 if q is None else q
    m, n = A.shape[-2], A.shape[-1]
    if M is not None:
        M = M.broadcast_to(tuple(A.shape))
    if m < n:
        A = A.mT
        M = M.mT if M is not None else None
    Q = get_approximate_basis(A, q, niter=niter, M=M)
    B = Q.mT @ A
    if M is not None:
        B = B - Q.mT @ M
    U, S, Vh = _linalg().svd(B, full_matrices=False)
    V = Vh.mT
    U = Q @ U
    if m < n:
        U, V = V, U
    return U, S, V


def pca_lowrank(A, q=None, center=True, niter=2):
    """``(U, S, V)``: the randomized SVD of ``A`` with its column means removed (``center``):
    V's columns are the principal directions, S**2 / (m - 1) the variances along them, q
    defaults to min(6, m, n).

    >>> X = plugtorch.randn(50, 4, dtype=plugtorch.float64)
    >>> U, S, V = plugtorch.pca_lowrank(X)
    >>> S.shape, V.shape
    (plugtorch.Size([4]), plugtorch.Size([4, 4]))
    """
    _float_dtype("pca_lowrank", A)
    m, n = A.shape[-2], A.shape[-1]
    if q is None:
        q = min(6, m, n)
    elif not (0 <= q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter=niter)
    return svd_lowrank(A - A.mean(dim=-2, keepdim=True), q, niter=niter)


def _b_orthonormal(S, B, eps):
    """A basis of span(S) orthonormal in the B inner product (S^T B S = I), dropping directions
    whose Gram eigenvalue is below ``eps`` times the largest (the block [X, R, P] loses rank as
    LOBPCG converges)."""
    BS = S if B is None else B @ S
    G = S.mT @ BS
    G = (G + G.mT) / 2
    w, V = _linalg().eigh(G)
    keep = (w > eps * w.max()).nonzero().reshape(-1)
    V, w = V.index_select(1, keep), w.index_select(0, keep)
    return S @ (V / w.sqrt())


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None, method=None,
           tracker=None, ortho_iparams=None, ortho_fparams=None, ortho_bparams=None):
    """``(E, X)``: the ``k`` largest (``largest=False``: smallest) eigenvalues of the symmetric
    matrix ``A`` (of ``A x = E B x`` with symmetric positive-definite ``B``) and their
    eigenvectors, by LOBPCG with preconditioner ``iK``; ``X`` (m x n) is the initial block
    (random by default). Stops when every residual norm is below ``tol`` times the eigenvalue's
    scale, or after ``niter`` steps (1000; -1: until converged). PyTorch's 'basic' and 'ortho'
    methods both run this Rayleigh-Ritz iteration here.

    >>> A = plugtorch.diag(plugtorch.arange(1., 31., dtype=plugtorch.float64))
    >>> E, V = plugtorch.lobpcg(A, k=2)
    >>> [round(v, 6) for v in E.tolist()]
    [30.0, 29.0]
    """
    op = "lobpcg"
    _float_dtype(op, A)
    if tracker is not None:
        raise NotImplementedError(f"{op}: tracker= is not supported by plugtorch's lobpcg (it has no LOBPCG worker "
                                  "object to pass); leave it out")
    if A.ndim != 2:
        raise ValueError(f"{op}: plugtorch's lobpcg takes one matrix A (2-d), got shape {tuple(A.shape)}")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square, got shape {tuple(A.shape)}")
    m = A.shape[-1]
    if B is not None and tuple(B.shape) != tuple(A.shape):
        raise ValueError(f"A and B must have the same shapes, got {tuple(A.shape)} and {tuple(B.shape)}")
    if method not in (None, "basic", "ortho"):
        raise ValueError(f"{op}: method must be 'basic' or 'ortho', got {method!r}")
    if k is None:
        k = 1 if X is None else X.shape[-1]
    n = (k if n is None else n) if X is None else X.shape[-1]
    if m < 3 * n:
        raise ValueError(f"LPBPCG algorithm is not applicable when the number of A rows (={m}) is smaller than 3 x "
                         f"the number of requested eigenpairs (={n})")
    largest = True if largest is None else largest
    niter = 1000 if niter is None else niter
    eps = _dtypes.finfo(A.dtype).eps
    tol = math.sqrt(eps) if tol is None else tol
    if X is None:
        X = P.randn(m, n, dtype=A.dtype, device=A.device)
    sign = 1.0 if largest else -1.0

    def rayleigh_ritz(S):
        """S's Ritz pairs, the wanted ones first."""
        T = S.mT @ (A @ S)
        w, C = _linalg().eigh((T + T.mT) / 2)
        order = P.argsort(sign * -w)
        return w.index_select(0, order), C.index_select(1, order)

    A_norm = A.norm()
    B_norm = 1.0 if B is None else B.norm()
    X = _b_orthonormal(X, B, eps)
    E, C = rayleigh_ritz(X)
    X = X @ C
    Pblock = None
    step = 0
    while niter < 0 or step < niter:
        BX = X if B is None else B @ X
        R = A @ X - BX * E[:n]
        norms = R.norm(dim=0)
        scale = A_norm + E[:n].abs() * B_norm
        if bool((norms[:k] <= tol * scale[:k]).all()):
            break
        W = R if iK is None else iK @ R
        blocks = [X, W] if Pblock is None else [X, W, Pblock]
        S = _b_orthonormal(P.cat(blocks, 1), B, 100 * eps)
        w, C = rayleigh_ritz(S)
        C = C[:, :n]
        Xnew = S @ C
        # the new search direction: the part of the update outside span(X)
        Pblock = Xnew - X @ (X.mT @ (Xnew if B is None else B @ Xnew))
        X, E = Xnew, w
        step += 1
    return E[:k], X[:, :k]


def _linalg():
    from plugtorch import linalg
    return linalg
