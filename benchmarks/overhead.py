"""Eager per-op overhead of plugtorch cpu against NumPy (and PyTorch when installed).

Issue 2's targets: ``a + b`` on 1-element float32 tensors within 4x NumPy (PyTorch's eager
overhead is ~3.7x NumPy on this machine class); large ops (2^24 elements) within 5% of the
same NumPy expression.

    python benchmarks/overhead.py
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_ms, per_call_us, row, try_import_torch  # noqa: E402

import plugtorch as pt  # noqa: E402


def main():
    torch = try_import_torch()
    print("Small ops: a + b on 1-element float32 tensors (us per call, best of 7)")
    na, nb = np.ones(1, np.float32), np.ones(1, np.float32)
    a, b = pt.ones(1), pt.ones(1)
    t_np = per_call_us(lambda: na + nb)
    t_pt = per_call_us(lambda: a + b)
    row("numpy", t_np, "us")
    row("plugtorch cpu", t_pt, "us", t_np, "numpy  (target <= 4x)")
    if torch is not None:
        ta, tb = torch.ones(1), torch.ones(1)
        row("pytorch", per_call_us(lambda: ta + tb), "us", t_np, "numpy")
    t_np_s = per_call_us(lambda: na * 2.0)
    t_pt_s = per_call_us(lambda: a * 2.0)
    row("numpy a * 2.0", t_np_s, "us")
    row("plugtorch cpu a * 2.0", t_pt_s, "us", t_np_s, "numpy")
    t_np_e = per_call_us(lambda: np.exp(na))
    t_pt_e = per_call_us(lambda: a.exp())
    row("numpy exp(a)", t_np_e, "us")
    row("plugtorch cpu a.exp()", t_pt_e, "us", t_np_e, "numpy")

    print("\nLarge ops: 2^24 float32 elements (ms, best of 10)")
    n = 1 << 24
    rng = np.random.default_rng(0)
    NA, NB, NC = (rng.standard_normal(n, dtype=np.float32) for _ in range(3))
    A, B, C = pt.from_numpy(NA), pt.from_numpy(NB), pt.from_numpy(NC)
    for label, f_np, f_pt in (
        ("a + b", lambda: NA + NB, lambda: A + B),
        ("a * b + c", lambda: NA * NB + NC, lambda: A * B + C),
        ("sum(a)", lambda: NA.sum(), lambda: A.sum()),
        ("exp(a)", lambda: np.exp(NA), lambda: A.exp()),
    ):
        tn, tp = best_ms(f_np), best_ms(f_pt)
        row(f"numpy {label}", tn, "ms")
        row(f"plugtorch cpu {label}", tp, "ms", tn, "numpy  (target <= 1.05x)")


if __name__ == "__main__":
    main()
