"""LU with partial pivoting as plugtorch ops: ``linalg.lu_factor(_ex)``, ``linalg.lu``,
``linalg.lu_solve``, ``lu_unpack`` (and the old ``torch.lu``/``lu_solve``).

Gaussian elimination, one column per step (argmax pivot, a row swap by ``gather``, a rank-1
update of the trailing block), batched over leading dims, so every backend runs it and
autograd differentiates it. Pivots are LAPACK's: 1-based int32 row swaps, applied in order.
"""
from __future__ import annotations

import builtins as _b

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch import return_types as R
from plugtorch.dispatch.ops.linalg import LinAlgError


def _check(op, A):
    if not isinstance(A, P.Tensor):
        raise TypeError(f"{op}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if A.dtype not in (_dtypes.float32, _dtypes.float64):
        # PyTorch's LU kernel has no instance for it: NotImplementedError, as its dtype dispatch raises
        raise NotImplementedError(f"{op}: Expected a floating point tensor (float32 or float64) as input. "
                                  f"Got {A.dtype}; convert with .float() or .double() first")


def _swap_rows(x, k, p):
    """``x`` with rows ``k`` and ``p`` (a tensor of the batch shape) swapped, along dim -2."""
    m = x.shape[-2]
    rows = P.arange(m, device=x.device)
    p = p.unsqueeze(-1)
    order = P.where(rows == k, p, P.where(rows == p, k, rows))           # (..., m)
    return x.gather(-2, order.unsqueeze(-1).expand(tuple(x.shape)))


def _factor(A):
    m, n = A.shape[-2], A.shape[-1]
    LU = A
    pivots = []
    zero_at = None
    for k in range(_b.min(m, n)):
        p = LU[..., k:, k].abs().argmax(-1) + k                          # the largest entry leads
        pivots.append(p)
        LU = _swap_rows(LU, k, p)
        pivot = LU[..., k, k]
        is_zero = pivot == 0
        zero_at = P.where((zero_at == 0) & is_zero, k + 1, zero_at) if zero_at is not None else \
            P.where(is_zero, k + 1, 0)
        safe = P.where(is_zero, P.ones((), dtype=LU.dtype, device=LU.device), pivot)
        factors = P.where(is_zero.unsqueeze(-1), P.zeros((), dtype=LU.dtype, device=LU.device),
                          LU[..., k + 1:, k] / safe.unsqueeze(-1))          # (..., m-k-1)
        trailing = LU[..., k + 1:, k + 1:] - factors.unsqueeze(-1) * LU[..., k, k + 1:].unsqueeze(-2)
        lower = P.cat([LU[..., k + 1:, :k], factors.unsqueeze(-1), trailing], -1)
        LU = P.cat([LU[..., :k + 1, :], lower], -2)
    batch = tuple(A.shape[:-2])
    piv = (P.stack(pivots, -1) + 1).to(_dtypes.int32) if pivots else P.zeros(batch + (0,), dtype=_dtypes.int32,
                                                                             device=A.device)
    info = (zero_at if zero_at is not None else P.zeros(batch, dtype=_dtypes.int64, device=A.device)).to(_dtypes.int32)
    return LU, piv, info


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """``(LU, pivots, info)``: L (unit diagonal, below) and U packed in one matrix, LAPACK's
    pivots and ``info`` > 0 where U has a zero on its diagonal (its 1-based position)."""
    _check("torch.linalg.lu_factor_ex", A)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    LU, piv, info = _factor(A)
    if check_errors:
        _raise_singular("torch.linalg.lu_factor_ex", info)
    return R.linalg_lu_factor_ex(LU, piv, info)


def _raise_singular(op, info):
    if info.numel() and bool((info > 0).any()):
        flat = info.reshape(-1)
        b = int(P.nonzero(flat > 0)[0, 0])
        at = int(flat[b])       # 1-based, as PyTorch's message
        where = f"(Batch element {b}): " if info.ndim else ""
        raise LinAlgError(f"{op}: {where}U[{at},{at}] is zero and using it on lu_solve would result in a division by "
                          "zero. If you still want to perform the factorization, consider calling linalg.lu(A, pivot) "
                          "or linalg.lu_factor_ex(A, pivot)")


def lu_factor(A, *, pivot=True):
    """``(LU, pivots)`` of ``A`` = P L U; a singular ``A`` raises (use ``lu_factor_ex``).

    >>> LU, piv = plugtorch.linalg.lu_factor(plugtorch.tensor([[1., 2.], [3., 4.]]))
    >>> piv.tolist()
    [2, 2]
    """
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    _raise_singular("torch.linalg.lu_factor", info)
    return R.linalg_lu_factor(LU, piv)


def _permutation(pivots, m, device):
    """The row order ``perm`` with ``A[perm] = L U`` from LAPACK's pivots."""
    batch = tuple(pivots.shape[:-1])
    perm = P.arange(m, device=device).expand(batch + (m,))
    piv = pivots.long() - 1
    for k in range(pivots.shape[-1]):
        perm = _swap_rows(perm.unsqueeze(-1), k, piv[..., k]).squeeze(-1)
    return perm


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """``(P, L, U)`` from ``lu_factor``'s packed result."""
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = _b.min(m, n)
    if unpack_data:
        L = LU_data[..., :, :k].tril(-1) + P.eye(m, k, dtype=LU_data.dtype, device=LU_data.device)
        U = LU_data[..., :k, :].triu()
    else:
        L = U = P.empty(0, dtype=LU_data.dtype, device=LU_data.device)
    if unpack_pivots:
        perm = _permutation(LU_pivots, m, LU_data.device)
        eye = P.eye(m, dtype=LU_data.dtype, device=LU_data.device)
        Pm = eye[perm].mT                                          # P[perm[c], c] = 1
    else:
        Pm = P.empty(0, dtype=LU_data.dtype, device=LU_data.device)
    return R.lu_unpack(Pm, L, U)


def lu(A, *, pivot=True):
    """``(P, L, U)`` with ``A = P @ L @ U``: L unit lower triangular, U upper (trapezoidal).

    >>> P_, L, U = plugtorch.linalg.lu(plugtorch.tensor([[1., 2.], [3., 4.]]))
    >>> (P_ @ L @ U).tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    LU, piv, _ = lu_factor_ex(A, pivot=pivot)
    return R.linalg_lu(*lu_unpack(LU, piv))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """``X`` with ``A X = B`` (``X A = B`` when not ``left``; ``A^H`` when ``adjoint``), from
    ``lu_factor``'s result."""
    from plugtorch import linalg
    m = LU.shape[-1]
    if LU.shape[-2] != m:
        raise RuntimeError(f"linalg.lu_solve: Expected LU to be a square matrix or batch of square matrices, got "
                           f"shape {tuple(LU.shape)}")
    if not left:        # X A = B  <=>  A^T X^T = B^T
        return lu_solve(LU, pivots, B.mT, left=True, adjoint=not adjoint).mT
    if B.shape[-2] != m:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({m}x{m} and {B.shape[-2]}x{B.shape[-1]})")
    import plugtorch
    batch = plugtorch.broadcast_shapes(tuple(LU.shape[:-2]), tuple(B.shape[:-2]))   # batch dims broadcast
    LU, pivots, B = LU.expand(batch + (m, m)), pivots.expand(batch + (m,)), B.expand(batch + tuple(B.shape[-2:]))
    perm = _permutation(pivots, m, LU.device)
    L = LU.tril(-1) + P.eye(m, dtype=LU.dtype, device=LU.device)
    U = LU.triu()
    if not adjoint:     # A = P L U: X = U^-1 L^-1 P^T B, and (P^T B) = B[perm]
        pb = B.gather(-2, perm.unsqueeze(-1).expand(tuple(perm.shape) + (B.shape[-1],)))
        y = linalg.solve_triangular(L, pb, upper=False, unitriangular=True)
        return linalg.solve_triangular(U, y, upper=True)
    # A^T X = B: U^T L^T P^T X = B, so P^T X = L^-T U^-T B and X = P (that)
    y = linalg.solve_triangular(U.mT, B, upper=False)
    z = linalg.solve_triangular(L.mT, y, upper=True, unitriangular=True)
    inverse = P.argsort(perm, -1)
    return z.gather(-2, inverse.unsqueeze(-1).expand(tuple(inverse.shape) + (B.shape[-1],)))
