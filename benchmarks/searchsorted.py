"""searchsorted / bucketize against NumPy, measured in this one run.

    .venv/bin/python benchmarks/searchsorted.py [--n 1000000] [--k 1000] [--repeat 5]

n float32 values against k sorted float32 boundaries: plugtorch on cpu (NumPy's searchsorted
under it), a batch of 8 lines (the vectorised bisection), the decomposition any backend without
a kernel runs (bisection in ops), opencl when available (one binary search per work-item), and
numpy.searchsorted itself. Ratios are against NumPy (> 1: slower).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_ms, row  # noqa: E402

import plugtorch as pt  # noqa: E402
from plugtorch.dispatch.ops.searching import searchsorted as decomposition  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    bounds = np.sort(rng.standard_normal(a.k).astype(np.float32))
    vals = rng.standard_normal(a.n).astype(np.float32)
    b, v = pt.tensor(bounds), pt.tensor(vals)
    lines = np.sort(rng.standard_normal((8, a.k)).astype(np.float32), 1)
    lv = rng.standard_normal((8, a.n // 8)).astype(np.float32)
    B, LV = pt.tensor(lines), pt.tensor(lv)
    print(f"searchsorted: {a.n} float32 values, {a.k} boundaries")
    ref = best_ms(lambda: np.searchsorted(bounds, vals), a.repeat)
    row("numpy.searchsorted", ref, "ms")
    row("plugtorch cpu searchsorted", best_ms(lambda: pt.searchsorted(b, v), a.repeat), "ms", ref, "numpy")
    row("plugtorch cpu bucketize right", best_ms(lambda: pt.bucketize(v, b, right=True), a.repeat), "ms", ref, "numpy")
    row("plugtorch cpu 8 lines (bisection)", best_ms(lambda: pt.searchsorted(B, LV), a.repeat), "ms", ref, "numpy")
    row("decomposition in ops (cpu)", best_ms(lambda: decomposition(b, v), max(1, a.repeat // 2)), "ms", ref, "numpy")
    if pt.opencl.is_available():
        bo, vo = b.to("opencl"), v.to("opencl")
        sync = pt.opencl.synchronize
        row("plugtorch opencl searchsorted", best_ms(lambda: pt.searchsorted(bo, vo), a.repeat, sync), "ms", ref,
            "numpy")


if __name__ == "__main__":
    main()
