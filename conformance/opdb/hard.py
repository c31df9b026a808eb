"""Hand-picked inputs that every run sees, whatever the seed: rows full of ties for sorting,
and numerically hard rows per float dtype for reductions, scans and the softmax family.

Random draws find these cases only by luck (a row of equal values, a value near float16's
overflow, a row of -inf), so the bugs they expose (an unstable sort, a log_softmax that does not
subtract the max, a sum accumulated in float16) would pass at most seeds.

>>> rows = hard_rows(plugtorch.float16)
>>> sorted(rows)
['infinities', 'large', 'near overflow', 'tiny']
>>> tie_values(plugtorch.int8, (2, 3), np.random.default_rng(0)).dtype
dtype('int8')
"""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes

inf, nan = float("inf"), float("nan")

# values at which each dtype is hard: the largest finite value, a value whose exp overflows the
# float32 a half-precision kernel computes in (exp(100) > 3.4e38), the smallest normal and a
# subnormal
_LIMITS = {   # dtype: (max, exp overflows, tiny normal, subnormal)
    _dtypes.float16: (65504.0, 100.0, 1e-4, 1e-6),
    _dtypes.bfloat16: (3.3895e38, 100.0, 1e-30, 1e-39),
    _dtypes.float32: (3.4028e38, 100.0, 1e-30, 1e-40),
    _dtypes.float64: (1.7976e308, 1000.0, 1e-300, 1e-310),
}


def hard_rows(dtype) -> dict:
    """``{theme: 2-D values}`` of ``dtype``, six columns a row; one theme per sample, so that the
    tolerance a sample gets from its largest value fits every row of it."""
    big, ex, tiny, sub = _LIMITS[dtype]
    b = 0.75 * big   # two of them overflow, three of them (+, +, -) do not in a wider accumulator
    rows = {
        # logits whose exp overflows: only a kernel that subtracts the row's max gets them right
        "large": [[ex, ex - 1, ex - 2, -ex, 0, 1], [ex] * 6, [-ex] * 6, [ex, -ex, ex, -ex, ex, -ex]],
        # near the dtype's overflow: sums that overflow then come back, equal rows, squares
        "near overflow": [[b, b, -b, 0.5 * b, -b, 1], [b] * 6, [-b, b, -b, b, -b, b],
                          [big, -big, big, 0, 1, -1]],
        # the smallest normal numbers and subnormals (a kernel that flushes them to zero, or
        # underflows a square, differs from cpu)
        "tiny": [[tiny, -tiny, sub, -sub, 0, 2 * sub], [sub] * 6, [tiny] * 6, [-sub, sub, -sub, sub, 1, -1]],
        # rows of +-inf and nan, and infinities among finite values
        "infinities": [[inf, 1, 2, 3, 4, 5], [-inf] * 6, [-inf, 0, 1, -inf, 2, 3], [nan, 1, 2, 3, 4, 5],
                       [inf, -inf, 1, 2, 3, 4], [inf] * 6],
    }
    with np.errstate(over="ignore"):
        return {k: np.array(v, dtype=np.float64).astype(dtype.numpy) for k, v in rows.items()}


def tie_values(dtype, shape, rng, special=nan) -> np.ndarray:
    """Values of ``shape`` from three classes, so that every row of four or more holds ties: for
    floats ``special`` (nan, inf or -inf), zeros of either sign (equal, so they tie) and one
    finite value; for integers three consecutive values."""
    if dtype is _dtypes.bool:
        return rng.integers(0, 2, size=shape).astype(bool)
    cls = rng.integers(0, 3, size=shape)
    if dtype.is_floating_point:
        zeros = np.where(rng.integers(0, 2, size=shape) == 1, -0.0, 0.0)
        finite = rng.choice(np.array([1.0, -1.5, 2.5]))
        return np.where(cls == 0, special, np.where(cls == 1, zeros, finite)).astype(dtype.numpy)
    lo = 0 if dtype is _dtypes.uint8 else -1
    return (cls + lo).astype(dtype.numpy)
