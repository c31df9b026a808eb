"""searchsorted on NumPy arrays: ``numpy.searchsorted`` where it gives PyTorch's answer, PyTorch's
own binary search (vectorised over the values) where it would not.

On a sorted line without nan both searches find the one lower (upper) bound: NumPy's. A nan
value goes past the end in both (NumPy sorts nan last, PyTorch's ``!(mid >= v)`` always steps
right). A line holding nan is where they part: NumPy orders nan last, PyTorch's comparisons say
nan is neither above nor below, and its answer is whatever its bisection meets; so for those, for
lines out of order (where the two bisections meet different midpoints) and for batched lines the
bisection runs here step for step (``ceil(log2(k + 1))`` steps over all values).
"""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes

_HALF = (np.dtype(np.float16), np.dtype(_dtypes.bfloat16.numpy))


def _bisect(lines, values, right):
    """PyTorch's lower (upper) bound of each row of ``values`` in the same row of ``lines``."""
    k = lines.shape[1]
    lo = np.zeros(values.shape, np.int64)
    hi = np.full(values.shape, k, np.int64)
    with np.errstate(invalid="ignore"):
        for _ in range(k.bit_length()):       # each step at least halves every hi - lo
            mid = (lo + hi) >> 1
            at = np.take_along_axis(lines, np.minimum(mid, k - 1), 1)
            up = ~(at > values) if right else ~(at >= values)
            live = lo < hi
            lo = np.where(live & up, mid + 1, lo)
            hi = np.where(live & ~up, mid, hi)
    return lo


def searchsorted(seq, values, sorter, right, common, out):
    d = common.numpy
    if d in _HALF:                 # (exact in float32, which NumPy compares natively)
        d = np.dtype(np.float32)
    seq, values = seq.astype(d, copy=False), values.astype(d, copy=False)
    k = seq.shape[-1]
    if sorter is not None:
        if sorter.size and (sorter.min() < 0 or sorter.max() >= k):
            raise RuntimeError("torch.searchsorted(): sorter index out of range")
        seq = np.take_along_axis(seq, sorter, -1)
    # (NumPy's search of a line out of order picks other midpoints than PyTorch's: [0, 3, 1] put 2 at 3, not 1)
    if seq.ndim == 1 and not (d.kind == "f" and np.isnan(seq).any()) and not (seq[1:] < seq[:-1]).any():
        found = np.searchsorted(seq, values, side="right" if right else "left")
    else:
        rows = int(np.prod(seq.shape[:-1]))
        n = values.shape[-1] if seq.ndim > 1 else values.size
        found = _bisect(seq.reshape(rows, k), values.reshape(rows, n), right)
    return np.asarray(found, dtype=out.numpy).reshape(values.shape)


KERNELS = {"searchsorted": searchsorted}
