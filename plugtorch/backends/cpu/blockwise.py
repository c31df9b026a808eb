"""Elementwise cpu kernels over a large array in cache-sized blocks: each block's few passes (with
in-place temporaries the size of the block, not of the array) run while it stays in the cache,
several times faster than whole-array passes once the array outgrows it.

>>> blockwise(lambda a, b: a * b, [np.arange(5.0), np.full(5, 2.0)], np.float32, 2)
array([0., 2., 4., 6., 8.], dtype=float32)
"""
from __future__ import annotations

import numpy as np


def blockwise(fn, arrays, dtype, block):
    """A new array of ``arrays[0]``'s shape and ``dtype`` whose every run of ``block`` elements
    (in row-major order) is ``fn`` of the same runs of ``arrays`` (all of one shape), cast to
    ``dtype``; NumPy's floating point warnings are off (inf and nan are results, as in PyTorch)."""
    out = np.empty(arrays[0].shape, dtype)
    flats = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
    res = out.reshape(-1)
    with np.errstate(all="ignore"):
        for i in range(0, res.size, block):
            res[i:i + block] = fn(*[f[i:i + block] for f in flats])
    return out
