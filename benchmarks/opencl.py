"""opencl backend speed, each figure beside its reference, all measured in this one run.

    .venv/bin/python benchmarks/opencl.py

1. ``a * b + c`` on 2^24 float32 (eager: two kernels) vs one hand-written fused PyOpenCL kernel
   (target: at least 0.3x its bandwidth); NumPy's copy bandwidth for scale.
2. 1024^2 float32 matmul vs NumPy (OpenBLAS) (target: at least 0.15x its GFLOP/s).
3. ``a + b`` on 1-element tensors vs enqueuing one plain PyOpenCL kernel (target: at most 1.5x).
"""
from __future__ import annotations

import time

import numpy as np

import plugtorch as pt


def best(f, reps=5, inner=1, sync=None):
    f()
    if sync:
        sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(inner):
            f()
        if sync:
            sync()
        ts.append((time.perf_counter() - t) / inner)
    return min(ts)


def main():
    from plugtorch.backends.opencl.runtime import state
    import pyopencl as cl
    dev = state(0)
    sync = pt.opencl.synchronize
    print(f"device: {pt.opencl.get_device_name(0)}")

    # 1. bandwidth
    n = 1 << 24
    rng = np.random.default_rng(0)
    a, b, c = (pt.tensor(rng.random(n, dtype=np.float32), device="opencl") for _ in range(3))
    t_eager = best(lambda: a * b + c, sync=sync)
    prg = cl.Program(dev.ctx, """__kernel void fma3(__global float* o, __global const float* a,
        __global const float* b, __global const float* c) { size_t i = get_global_id(0); o[i] = a[i] * b[i] + c[i]; }""").build()
    knl = cl.Kernel(prg, "fma3")
    out = cl.Buffer(dev.ctx, cl.mem_flags.READ_WRITE, 4 * n)
    bufs = [x._data.data for x in (a, b, c)]
    t_fused = best(lambda: knl(dev.queue, (n,), None, out, *bufs), sync=sync)
    an = rng.random(n, dtype=np.float32)
    t_np = best(lambda: an.copy())
    gb = lambda t, arrays: arrays * 4 * n / t / 1e9  # noqa: E731
    print(f"a*b+c 2^24 f32: plugtorch {gb(t_eager, 4):6.1f} GB/s effective | fused kernel "
          f"{gb(t_fused, 4):6.1f} GB/s | ratio {t_fused / t_eager:.2f}x (target >= 0.30) | "
          f"numpy copy {gb(t_np, 2):.1f} GB/s")

    # 2. matmul
    m = 1024
    A, B = rng.random((m, m), dtype=np.float32), rng.random((m, m), dtype=np.float32)
    ta, tb = pt.tensor(A, device="opencl"), pt.tensor(B, device="opencl")
    t_mm = best(lambda: ta @ tb, reps=3, sync=sync)
    t_npmm = best(lambda: A @ B, reps=3)
    fl = 2 * m ** 3 / 1e9
    err = np.abs((ta @ tb).cpu().numpy() - A @ B).max()
    print(f"matmul 1024^2 f32: plugtorch {fl / t_mm:6.1f} GFLOP/s | numpy {fl / t_npmm:6.1f} GFLOP/s | "
          f"ratio {t_npmm / t_mm:.2f}x (target >= 0.15) | max abs err {err:.1e}")

    # 3. per-call overhead: alternate short batches of both and keep each one's best, so load
    # from other processes on the machine hits both alike
    x, y = pt.ones(1, device="opencl"), pt.ones(1, device="opencl")
    prg1 = cl.Program(dev.ctx, """__kernel void add1(__global float* o, __global const float* a,
        __global const float* b) { size_t i = get_global_id(0); o[i] = a[i] + b[i]; }""").build()
    k1 = cl.Kernel(prg1, "add1")
    o1 = cl.Buffer(dev.ctx, cl.mem_flags.READ_WRITE, 4)
    xb, yb = x._data.data, y._data.data
    fns = {"pt": lambda: x + y, "plain": lambda: k1(dev.queue, (1,), None, o1, xb, yb)}
    t = {k: best(f, reps=1, inner=300, sync=sync) for k, f in fns.items()}
    ratios = []
    for _ in range(80):
        pair = {k: best(f, reps=1, inner=300, sync=sync) for k, f in fns.items()}
        ratios.append(pair["pt"] / pair["plain"])
        t = {k: min(t[k], pair[k]) for k in t}
    print(f"a+b 1-element: plugtorch {t['pt'] * 1e6:6.1f} us | plain PyOpenCL kernel call "
          f"{t['plain'] * 1e6:6.1f} us | ratio of bests {t['pt'] / t['plain']:.2f}x, median of "
          f"80 paired rounds {float(np.median(ratios)):.2f}x (target <= 1.5)")
    print(f"compile stats: {pt.opencl.compile_stats()}")


if __name__ == "__main__":
    main()
