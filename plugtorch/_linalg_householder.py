"""Products of Householder reflectors as plugtorch ops: ``linalg.householder_product`` (``orgqr``)
and ``ormqr``, the two uses of ``geqrf``'s compact result.

Reflector i is ``H_i = I - tau_i v_i v_i^T`` with ``v_i`` zero above row i, one at row i and
column i of ``input`` below it (LAPACK's convention). Each is applied to a matrix as a rank-1
update, one per reflector and batched over leading dims, so every backend runs them and autograd
differentiates them (float32/float64; complex64/complex128 forward only, as plugtorch has no complex
autograd yet).

>>> a, tau = plugtorch.geqrf(plugtorch.tensor([[3., 1.], [4., 2.]]))
>>> Q = plugtorch.linalg.householder_product(a, tau)
>>> [round(v, 4) for v in Q[:, 0].tolist()]
[-0.6, -0.8]
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch.dispatch.meta import LEGACY_NAMES

_KERNEL_DTYPES = (_dtypes.float32, _dtypes.float64, _dtypes.complex64, _dtypes.complex128)


def _check_tensors(op, input, tau, other=None):
    for name, t in (("input", input), ("tau", tau), ("other", other)):
        if t is not None and not isinstance(t, P.Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")


def _same_device_and_kind(op, kernel, input, **others):
    """The other tensors on input's device, and input of a float or complex dtype (else PyTorch's
    error naming its cpu kernel)."""
    for name, t in others.items():
        if t.device != input.device:
            raise RuntimeError(f"{op}: Expected input and {name} to be on the same device, but found input on "
                               f"{input.device} and {name} on {t.device} instead.")
    if input.dtype not in _KERNEL_DTYPES:
        _refuse(kernel, input.dtype, op)


def _refuse(kernel, dtype, op):
    name = LEGACY_NAMES.get(dtype.name, dtype.name)
    raise NotImplementedError(f'"{kernel}" not implemented for \'{name}\' ({op}: use float32 or float64, e.g. .float())')


def _batch_check(op, what, t, input):
    if tuple(t.shape[:len(input.shape) - 2]) != tuple(input.shape[:-2]):
        raise RuntimeError(f"{op}: Expected batch dimensions of {what} to be equal to input.shape[:-2], but got "
                           f"{list(t.shape[:-1] if what == 'tau' else t.shape[:-2])}")


def _reflector(A, i):
    """v_i of ``A`` (..., m, n): (..., m), zero above row i, one at row i, A's column i below."""
    m = A.shape[-2]
    rows = P.arange(m, device=A.device)
    below = (rows > i).to(A.dtype)
    at = (rows == i).to(A.dtype)
    return A[..., :, i] * below + at


def _apply_left(X, v, t):
    """``(I - t v v^H) X`` for X (..., m, p), v (..., m), t (...)."""
    return X - (t.unsqueeze(-1) * v).unsqueeze(-1) * (_conj(v).unsqueeze(-2) @ X)


def _apply_right(X, v, t):
    """``X (I - t v v^H)`` for X (..., p, m)."""
    return X - (X @ v.unsqueeze(-1)) * (t.unsqueeze(-1) * _conj(v)).unsqueeze(-2)


def _conj(x):
    return x.conj() if x.dtype.is_complex else x


def householder_product(A, tau):
    """The first n columns of ``H_1 H_2 ... H_k`` (m x n) from the k = tau.shape[-1] reflectors
    stored in the columns of ``A`` (m x n, m >= n >= k), as LAPACK's orgqr; differentiable.

    >>> A = plugtorch.randn(5, 3, dtype=plugtorch.float64)
    >>> Q = plugtorch.linalg.householder_product(*plugtorch.geqrf(A))
    >>> plugtorch.allclose(Q.mT @ Q, plugtorch.eye(3, dtype=plugtorch.float64))
    True
    """
    op = "torch.linalg.householder_product"
    _check_tensors("linalg.householder_product", A, tau)
    if A.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions.")
    m, n = A.shape[-2], A.shape[-1]
    if m < n:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to input.shape[-1] (got shape "
                           f"{tuple(A.shape)})")
    if tau.ndim == 0 or n < tau.shape[-1]:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to tau.shape[-1] (got shapes "
                           f"{tuple(A.shape)} and {tuple(tau.shape)})")
    if A.ndim - tau.ndim != 1:
        raise RuntimeError(f"{op}: Expected tau to have one dimension less than input, but got tau.ndim equal to "
                           f"{tau.ndim} and input.ndim is equal to {A.ndim}")
    _batch_check(op, "tau", tau, A)
    if tau.dtype is not A.dtype:
        raise RuntimeError(f"{op}: tau dtype {LEGACY_NAMES[tau.dtype.name]} does not match input dtype "
                           f"{LEGACY_NAMES[A.dtype.name]}; cast one with .to(dtype)")
    _same_device_and_kind(op, "orgqr_cpu", A, tau=tau)
    Q = P.eye(m, n, dtype=A.dtype, device=A.device).expand(tuple(A.shape[:-2]) + (m, n))
    for i in reversed(range(tau.shape[-1])):
        Q = _apply_left(Q, _reflector(A, i), tau[..., i])
    return Q


def orgqr(input, tau):
    """``linalg.householder_product`` (PyTorch's older name)."""
    return householder_product(input, tau)


def ormqr(input, tau, other, left=True, transpose=False):
    """``Q @ other`` (``other @ Q`` when not ``left``; Q^T with ``transpose``), Q = H_1 ... H_k the
    full square product of ``input``'s reflectors (``geqrf``'s result), without forming Q;
    ``transpose`` conjugates too for complex matrices (Q^H), as PyTorch's.

    >>> A = plugtorch.randn(4, 3, dtype=plugtorch.float64)
    >>> a, tau = plugtorch.geqrf(A)
    >>> R = plugtorch.ormqr(a, tau, A, transpose=True)        # Q^T A: R, zero below
    >>> plugtorch.allclose(R[:3], a.triu()[:3]) and float(R[3].abs().max()) < 1e-12
    True
    """
    op = "torch.ormqr"
    _check_tensors("ormqr", input, tau, other)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions.")
    if other.ndim < 2:
        raise RuntimeError(f"{op}: other must have at least 2 dimensions.")
    side = -2 if left else -1
    if other.shape[side] != input.shape[-2]:
        raise RuntimeError(f"{op}: other.shape[{side}] must be equal to input.shape[-2] (got shapes "
                           f"{tuple(input.shape)} and {tuple(other.shape)})")
    k = min(other.shape[side], input.shape[-1])
    if tau.ndim == 0 or tau.shape[-1] != k:
        raise RuntimeError(f"{op}: tau.shape[-1] must be equal to min(other.shape[{side}], input.shape[-1]) (got "
                           f"{tau.shape[-1] if tau.ndim else 'a 0-d tau'} and {k})")
    if input.ndim - tau.ndim != 1:
        raise RuntimeError(f"{op}: Expected tau to have one dimension less than input, but got tau.ndim equal to "
                           f"{tau.ndim} and input.ndim is equal to {input.ndim}")
    if input.ndim != other.ndim:
        raise RuntimeError(f"{op}: Expected other to have the same number of dimensions as input, but got "
                           f"other.ndim equal to {other.ndim} and input.ndim is equal to {input.ndim}")
    _batch_check(op, "tau", tau, input)
    _batch_check(op, "other", other, input)
    for name, t in (("tau", tau), ("other", other)):
        if t.dtype is not input.dtype:
            raise RuntimeError(f"{op}: Expected input and {name} to have the same dtype, but input has dtype "
                               f"{LEGACY_NAMES[input.dtype.name]} and {name} has dtype {LEGACY_NAMES[t.dtype.name]}")
    _same_device_and_kind(op, "ormqr_cpu", input, tau=tau, other=other)
    order = range(k) if left == transpose else reversed(range(k))     # Q C: H_k first; Q^T C: H_1 first
    apply = _apply_left if left else _apply_right
    X = other
    for i in order:
        t = tau[..., i]
        X = apply(X, _reflector(input, i), _conj(t) if transpose else t)
    return X
