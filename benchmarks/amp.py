"""Half precision speed (issue 20): float16 against float32 on the same device, in one run.

    .venv/bin/python benchmarks/amp.py [--rounds 9] [--log2n 24]

opencl: eager ``a * b + c`` on 2^24 elements (two kernels and a temporary, as a user writes it)
in float16 and float32, in alternating rounds (median of each), each timed up to
``opencl.synchronize()``. float16 moves half the bytes; the target is at least 1.3x the
elements per second of float32. Every figure is measured in this run on this device.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import timed  # noqa: E402

import plugtorch as pt  # noqa: E402


def opencl_fma(rounds, log2n):
    n = 1 << log2n
    sync = pt.opencl.synchronize
    rng = np.random.default_rng(0)
    host = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
    dtypes = (pt.float32, pt.float16)
    args = {dt: [pt.tensor(h).to("opencl").to(dt) for h in host] for dt in dtypes}
    fns = {dt: (lambda a, b, c: lambda: a * b + c)(*args[dt]) for dt in dtypes}
    a16, b16, c16 = (h.astype(np.float16) for h in host)      # the result is NumPy's, bit for bit
    got = fns[pt.float16]().cpu().numpy()
    assert np.array_equal(got.view(np.uint16), (a16 * b16 + c16).view(np.uint16)), "float16 result differs from NumPy"
    for dt in dtypes:          # compile and warm up
        timed(fns[dt], sync)
    times = {dt: [] for dt in dtypes}
    for r in range(rounds):
        for dt in (dtypes if r % 2 == 0 else dtypes[::-1]):
            times[dt].append(timed(fns[dt], sync))
    med = {dt: statistics.median(times[dt]) for dt in dtypes}
    print(f"device: opencl:0 = {pt.opencl.get_device_name(0)}")
    print(f"a * b + c (eager: mul, then add), 2^{log2n} elements, median of {rounds} alternating rounds")
    print(f"  {'dtype':<9}{'ms':>9}{'Gelem/s':>10}{'GB/s':>8}  {'vs float32':<12}")
    for dt in dtypes:
        t = med[dt]
        nbytes = 6 * n * dt.itemsize      # mul reads 2, writes 1; add reads 2, writes 1
        ratio = med[pt.float32] / t
        note = f"{ratio:5.2f}x" + ("  (target >= 1.30)" if dt is pt.float16 else "")
        print(f"  {dt.name:<9}{t * 1e3:9.2f}{n / t / 1e9:10.3f}{nbytes / t / 1e9:8.1f}  {note}")
    return med[pt.float32] / med[pt.float16]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--log2n", type=int, default=24)
    a = p.parse_args(argv)
    if a.rounds < 1 or a.log2n < 1:
        p.error("--rounds and --log2n must be at least 1")
    if not pt.opencl.is_available():
        print("opencl: no device, skipped")
        return
    opencl_fma(a.rounds, a.log2n)


if __name__ == "__main__":
    main()
