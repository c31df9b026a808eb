"""plugtorch.linalg speed (issue 18), every figure measured in this run on this machine.

    .venv/bin/python benchmarks/linalg.py [--rounds 9] [--n 512] [--batch 64] [--m 64] [--skip-opencl]

cpu: ``solve`` (one right-hand side and n of them), ``cholesky`` and ``svd`` of n x n float64
matrices against NumPy's own call on the same arrays (the same LAPACK), in alternating rounds;
the ratio is the median of the per-round ratios (target: within 1.2x).

opencl: batched ``cholesky`` and ``solve`` (and, for the record, ``inv``, ``det``, ``qr``) of
``batch`` x (m x m) float32 matrices with the device's own kernels against the host round trip
the op takes on a device without them (copy to the host, NumPy's LAPACK, copy back), each timed
up to ``opencl.synchronize()`` in alternating rounds (target: the kernels faster).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import timed  # noqa: E402

import plugtorch as pt  # noqa: E402
from plugtorch.dispatch.host import host_decomposition  # noqa: E402


def compare(pairs, rounds, sync, inner):
    """{name: (median seconds of a, median of b, median of per-round a/b)} for ``pairs`` of
    (name, a, b), timed in alternating order."""
    out = {}
    for name, a, b in pairs:
        timed(a, sync, 1)
        timed(b, sync, 1)
        ta, tb, ratio = [], [], []
        for r in range(rounds):
            if r % 2:
                y, x = timed(b, sync, inner), timed(a, sync, inner)
            else:
                x, y = timed(a, sync, inner), timed(b, sync, inner)
            ta.append(x)
            tb.append(y)
            ratio.append(x / y)
        out[name] = (statistics.median(ta), statistics.median(tb), statistics.median(ratio))
    return out


def spd(rng, shape, dtype):
    x = rng.standard_normal(shape)
    return (x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def cpu(rounds, n):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)) + n ** 0.5 * np.eye(n)
    s = spd(rng, (n, n), np.float64)
    b1, bn = rng.standard_normal(n), rng.standard_normal((n, n))
    A, S, B1, Bn = (pt.tensor(v) for v in (a, s, b1, bn))
    L = pt.linalg
    np.testing.assert_allclose(L.solve(A, B1).numpy(), np.linalg.solve(a, b1), rtol=1e-9)
    np.testing.assert_allclose(L.cholesky(S).numpy(), np.linalg.cholesky(s), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(L.svdvals(A).numpy(), np.linalg.svd(a, compute_uv=False), rtol=1e-9)
    pairs = [("solve (n x n, 1 rhs)", lambda: L.solve(A, B1), lambda: np.linalg.solve(a, b1)),
             ("solve (n x n, n rhs)", lambda: L.solve(A, Bn), lambda: np.linalg.solve(a, bn)),
             ("cholesky", lambda: L.cholesky(S), lambda: np.linalg.cholesky(s)),
             ("svd", lambda: L.svd(A), lambda: np.linalg.svd(a))]
    res = compare(pairs, rounds, lambda: None, 3)
    print(f"cpu: {n} x {n} float64, plugtorch vs NumPy (median of {rounds} alternating rounds; target <= 1.20x)")
    print(f"  {'op':<24}{'plugtorch ms':>13}{'NumPy ms':>10}{'ratio':>8}")
    for name, (tp, tn, r) in res.items():
        print(f"  {name:<24}{tp * 1e3:13.2f}{tn * 1e3:10.2f}{r:7.2f}x")
    return res


def opencl(rounds, batch, m):
    sync = pt.opencl.synchronize
    rng = np.random.default_rng(1)
    a = spd(rng, (batch, m, m), np.float32)
    g = (rng.standard_normal((batch, m, m)) / m ** 0.5 + np.eye(m)).astype(np.float32)   # det of order 1
    b = rng.standard_normal((batch, m, 1)).astype(np.float32)
    A, G, B = (pt.tensor(v, device="opencl") for v in (a, g, b))
    ops = pt.ops
    np.testing.assert_allclose(ops.linalg_cholesky_ex(A)[0].cpu().numpy(), np.linalg.cholesky(a), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ops.linalg_solve_ex(G, B)[0].cpu().numpy(), np.linalg.solve(g, b), rtol=1e-3, atol=1e-4)
    host = {name: host_decomposition(name) for name in
            ("linalg_cholesky_ex", "linalg_solve_ex", "linalg_inv_ex", "linalg_det", "linalg_qr")}
    pairs = [("cholesky", lambda: ops.linalg_cholesky_ex(A), lambda: host["linalg_cholesky_ex"](A)),
             ("solve (1 rhs)", lambda: ops.linalg_solve_ex(G, B), lambda: host["linalg_solve_ex"](G, B)),
             ("inv", lambda: ops.linalg_inv_ex(G), lambda: host["linalg_inv_ex"](G)),
             ("det", lambda: ops.linalg_det(G), lambda: host["linalg_det"](G)),
             ("qr", lambda: ops.linalg_qr(G), lambda: host["linalg_qr"](G))]
    res = compare(pairs, rounds, sync, 3)
    print(f"opencl:0 = {pt.opencl.get_device_name(0)}: {batch} x ({m} x {m}) float32, device kernels vs the host "
          f"round trip (median of {rounds} alternating rounds; target: cholesky and solve < 1.00x)")
    print(f"  {'op':<24}{'kernels ms':>11}{'host ms':>10}{'ratio':>8}")
    for name, (tk, th, r) in res.items():
        print(f"  {name:<24}{tk * 1e3:11.2f}{th * 1e3:10.2f}{r:7.2f}x")
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--m", type=int, default=64)
    p.add_argument("--skip-opencl", action="store_true")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cpus)")
    cpu(a.rounds, a.n)
    if not a.skip_opencl and "opencl" in pt.backends.available():
        print()
        opencl(a.rounds, a.batch, a.m)
    print(f"\n({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
