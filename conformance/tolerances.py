"""How close a backend's results must be to cpu's, per dtype.

The default is PyTorch's ``assert_close`` table (``plugtorch.testing.default_tolerances``):
float16 1e-3 / 1e-5, bfloat16 1.6e-2 / 1e-5, float32 1.3e-6 / 1e-5, float64 1e-7 / 1e-7,
integers and bool exact.

Ops that add up many terms (sums, means, norms, matmul, cumsum) legitimately depend on the
order of the additions, and a device backend sums in a different order than NumPy (tree
reductions, tiled matmul). Recursive summation of n terms has error at most
``(n - 1) * u * sum(|x_i|)`` with ``u`` the unit roundoff (Higham, *Accuracy and Stability of
Numerical Algorithms*, 2nd ed., eq. 4.4), and any order obeys the same bound, so two correct
orders differ by at most twice that. With ``M`` the largest input magnitude, ``sum(|x_i|) <= n*M``:

    rtol' = rtol + n * u                 (results that do not cancel)
    atol' = atol + 2 * n * u * n * M     (results that cancel to near zero)

``n`` is the sample's ``reduction_length``. Pointwise ops keep the table: a wrong ``add``
off by 1e-3 relative, or a ``sum`` over the wrong dims, is still caught.
"""
from __future__ import annotations

import math

from plugtorch import _dtypes
from plugtorch.testing import default_tolerances

# unit roundoff: half the distance from 1.0 to the next float
UNIT_ROUNDOFF = {_dtypes.float16: 2.0 ** -11, _dtypes.bfloat16: 2.0 ** -8,
                 _dtypes.float32: 2.0 ** -24, _dtypes.float64: 2.0 ** -53,
                 _dtypes.complex64: 2.0 ** -24, _dtypes.complex128: 2.0 ** -53}   # (complex: their parts')


def default(dtype) -> tuple[float, float]:
    """PyTorch's ``(rtol, atol)`` for ``dtype``; ``(0, 0)`` (exact) for integers and bool."""
    return default_tolerances(dtype)


def for_reduction(dtype, n: int, magnitude: float, base: tuple[float, float] | None = None) -> tuple[float, float]:
    """Loosened ``(rtol, atol)`` for a result that sums ``n`` terms of size at most ``magnitude``."""
    rtol, atol = base if base is not None else default(dtype)
    u = UNIT_ROUNDOFF.get(dtype)
    if u is None or n <= 1:
        return rtol, atol
    if not math.isfinite(magnitude):
        magnitude = 0.0
    return rtol + n * u, atol + 2.0 * n * u * n * magnitude


def for_sample(entry, dtype, sample, magnitude: float, forward: bool = False) -> tuple[float, float]:
    """The tolerance a result of ``dtype`` from one sample of ``entry`` is checked with
    (``forward``: the forward values, where the sample's ``forward_tol`` applies)."""
    base = entry.tol.get(dtype, default(dtype))
    if forward and sample.forward_tol and dtype in sample.forward_tol:
        base = sample.forward_tol[dtype]
    if sample.reduction_length:
        return for_reduction(dtype, sample.reduction_length, magnitude, base)
    return base
