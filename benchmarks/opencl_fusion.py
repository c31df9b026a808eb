"""The opencl backend's fused kernels (issue 14): ``a * b + c`` as one generated kernel.

    .venv/bin/python benchmarks/opencl_fusion.py [--rounds 9] [--log2n 24]

On 2^24 float32 elements, all measured in this run, in alternating rounds (median of each):

- ``hand-written kernel``: one PyOpenCL kernel ``o[i] = a[i] * b[i] + c[i]`` into a preallocated
  output, the reference (target: the fused group at least 0.9x its bandwidth);
- ``fused group``: ``OpenCLBackend.fuse_pointwise`` of the group mul -> add, called on the
  native arrays as plugtorch.jit's executor calls it (a fresh output each call);
- ``eager a * b + c``: plugtorch through the dispatcher, two kernels and a temporary.

Bandwidth counts the 4 arrays each version must move (3 read, 1 written).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import timed  # noqa: E402

import plugtorch as pt  # noqa: E402
from plugtorch.backends import get_backend  # noqa: E402
from plugtorch.backends.fusion import IN, STEP, Input, PointwiseGroup, Ref, Step  # noqa: E402

SRC = """__kernel void fma3(__global float* o, __global const float* a, __global const float* b,
    __global const float* c) { const size_t i = get_global_id(0); o[i] = a[i] * b[i] + c[i]; }"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--log2n", type=int, default=24)
    args = p.parse_args(argv)
    if args.rounds < 1 or not 10 <= args.log2n <= 28:
        p.error("--rounds must be at least 1 and --log2n within 10..28")

    import pyopencl as cl

    from plugtorch.backends.opencl.runtime import state
    dev = state(0)
    sync = dev.queue.finish
    be = get_backend("opencl")
    print(f"device: {pt.opencl.get_device_name(0)}")

    n = 1 << args.log2n
    rng = np.random.default_rng(0)
    a, b, c = (pt.tensor(rng.random(n, dtype=np.float32), device="opencl") for _ in range(3))
    f32 = pt.float32
    group = PointwiseGroup(
        inputs=(Input((n,), f32),) * 3,
        steps=(Step("mul", (Ref(IN, 0), Ref(IN, 1), f32), (n,), f32),
               Step("add", (Ref(STEP, 0), Ref(IN, 2), f32), (n,), f32)),
        outputs=(1,), shape=(n,))
    t = time.perf_counter()
    fused = be.fuse_pointwise(group)
    t_build = time.perf_counter() - t
    ad, bd, cd = a._data, b._data, c._data
    knl = cl.Kernel(cl.Program(dev.ctx, SRC).build(), "fma3")
    out = cl.Buffer(dev.ctx, cl.mem_flags.READ_WRITE, 4 * n)
    bufs = [ad.data, bd.data, cd.data]

    (got,) = fused(ad, bd, cd)
    want = (a * b + c).cpu().numpy()
    assert np.array_equal(be.to_numpy(got), want), "the fused result differs from eager"
    del got

    peers = {
        "hand-written kernel": lambda: knl(dev.queue, (n,), None, out, *bufs),
        "fused group": lambda: fused(ad, bd, cd),
        "eager a * b + c": lambda: a * b + c,
    }
    for f in peers.values():
        timed(f, sync, 1)
    per = {name: [] for name in peers}
    for _ in range(args.rounds):
        for name, f in peers.items():
            per[name].append(timed(f, sync))
    ref = np.array(per["hand-written kernel"])
    print(f"a * b + c on 2^{args.log2n} float32, {args.rounds} rounds (median); "
          f"fuse_pointwise took {t_build * 1e3:.1f} ms (program from the cache or built)")
    for name, ts in per.items():
        ts = np.array(ts)
        gbs = 4 * 4 * n / np.median(ts) / 1e9
        ratio = float(np.median(ref / ts))
        target = "  (target >= 0.90x)" if name == "fused group" else ""
        print(f"  {name:<22}{np.median(ts) * 1e3:8.2f} ms  {gbs:6.1f} GB/s  "
              f"{ratio:5.2f}x the hand-written kernel's bandwidth{target}")


if __name__ == "__main__":
    main()
