"""complex64 on the opencl backend beside NumPy on the host, measured in this one run.

    .venv/bin/python benchmarks/opencl_complex.py

Each line times one op on 2^22 complex64 elements (matmul: 512^2), best of 5 after a warm-up (_timing.best_ms),
the device synchronised; the ratio is NumPy's time over plugtorch's (above 1: opencl is faster).
On PoCL both run on the same CPU cores, so these say how far the generated kernels are from
NumPy's loops (and OpenBLAS's cgemm for matmul), not what a GPU would do.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_ms  # noqa: E402

import plugtorch as pt  # noqa: E402


def main():
    sync = pt.opencl.synchronize
    print(f"device: {pt.opencl.get_device_name(0)}")
    rng = np.random.default_rng(0)
    n = 1 << 22
    a, b = ((rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64) for _ in range(2))
    x, y = pt.tensor(a, device="opencl"), pt.tensor(b, device="opencl")
    m = 512
    ma, mb = ((rng.standard_normal((m, m)) + 1j * rng.standard_normal((m, m))).astype(np.complex64) for _ in range(2))
    mx, my = pt.tensor(ma, device="opencl"), pt.tensor(mb, device="opencl")
    cases = [("a * b", lambda: x * y, lambda: a * b), ("a / b", lambda: x / y, lambda: a / b),
             ("exp(a)", lambda: x.exp(), lambda: np.exp(a)), ("abs(a)", lambda: x.abs(), lambda: np.abs(a)),
             ("sum(a)", lambda: x.sum(), lambda: a.sum()), ("matmul 512^2", lambda: mx @ my, lambda: ma @ mb)]
    print(f"{'op':>14} {'plugtorch':>12} {'NumPy':>12} {'NumPy / plugtorch':>18}")
    for name, ours, ref in cases:
        t, r = best_ms(ours, repeat=5, sync=sync), best_ms(ref, repeat=5)
        print(f"{name:>14} {t:>10.2f}ms {r:>10.2f}ms {r / t:>17.2f}x")


if __name__ == "__main__":
    main()
