"""Eager per-op latency on opencl (issue 14): 1-element ``a + b`` against one raw PyOpenCL enqueue.

    .venv/bin/python benchmarks/opencl_latency.py [--rounds 60] [--inner 400]

Peers, all measured in this run, in alternating rounds (so load from other processes hits
each alike; in a new order each round, so none always follows the same one), ``--inner`` calls
per round and then one ``finish()``:

- ``raw enqueue``: a kernel of the same form as plugtorch's (``out[i] = a[i] + b[i]`` behind a
  bounds check, 64 work-items), its arguments set once, then ``cl.enqueue_nd_range_kernel``
  per call: the floor for a launch from Python (target: eager ``a + b`` at most 1.3x it);
- ``Kernel.__call__``: the same kernel through PyOpenCL's call, which processes its arguments
  on every call (what issue 14 measured first);
- ``C-extension enqueue``: the same launch through the backend's optional C extension
  (``_fastlaunch.enqueue_ptr``, event=NULL): the floor for a launch from Python through C;
- ``plugtorch a + b``, ``a * 2.0`` and ``a.neg()``: the eager ops through the dispatcher;
- ``backend add kernel``: the opencl ``add`` kernel called directly on the native arrays (the
  dispatcher's share is the difference);
- ``fused a * b + c call``: the callable ``fuse_pointwise`` returns for mul -> add, called as
  plugtorch.jit's executor calls it (one launch: its floor is the raw enqueue).
- ``compiled 8-op chain``: ``plugtorch.compile`` of benchmarks/jit.py's chain of small ops on 1
  element (one fused kernel), its ratio to ``raw enqueue (its kernel)``: that kernel, its
  arguments set once, enqueued per call (issue 14's target: at most 1.1x).

The backend's launch paths are the C extension's when it is built (``PLUGTORCH_OPENCL_NO_EXT=1``
runs the Python ones); the header says which ran.

Printed: per-call microseconds (median over rounds) and the median of the per-round ratios, for
wall time and for the calling thread's CPU time (on a busy machine the wall times swing with the
other processes; the host CPU time of a call much less).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import plugtorch as pt

SRC = """__kernel void add1(__global float* o, const long n, __global const float* a,
    __global const float* b) { const long i = get_global_id(0); if (i >= n) return; o[i] = a[i] + b[i]; }"""


def timed(fn, inner, sync):
    """(wall, this thread's CPU) seconds per call: ``inner`` calls, then one wait for the queue."""
    t, c = time.perf_counter(), time.thread_time()
    for _ in range(inner):
        fn()
    c = time.thread_time() - c
    sync()
    return (time.perf_counter() - t) / inner, c / inner


def _fused_mul_add(x):
    from plugtorch.backends import get_backend
    be = get_backend("opencl")
    if not hasattr(be, "fuse_pointwise"):
        return None
    from plugtorch.backends.fusion import IN, STEP, Input, PointwiseGroup, Ref, Step
    f32, shape = x.dtype, tuple(x.shape)
    group = PointwiseGroup((Input(shape, f32),) * 3,
                           (Step("mul", (Ref(IN, 0), Ref(IN, 1), f32), shape, f32),
                            Step("add", (Ref(STEP, 0), Ref(IN, 2), f32), shape, f32)), (1,), shape)
    return be.fuse_pointwise(group)


def _compiled_chain(cl, q):
    """(the raw enqueue of the compiled chain's fused kernel, the compiled call), or None where
    the graph is not one fused kernel."""
    s = pt.ones(1, device="opencl")

    def chain(s):
        return ((((s * 2 + 1).relu() * 3 - 1).exp() + 2) * 0.5).sqrt()
    g = pt.compile(chain)
    g(s), g(s)
    nodes = list(g._cache[next(iter(g._cache))].traced.graph.nodes)
    fk = getattr(nodes[0].kernel, "k0", None) if len(nodes) == 1 else None
    if fk is None:
        return None
    outs = nodes[0].kernel(s._data)
    for i, o in enumerate(outs):
        fk.set_arg(i, o.data)
    fk.set_arg(len(outs) + 1, s._data.data)
    launches = [(fk, gs, loc, off) for gs, loc, off in nodes[0].kernel.launches]
    enqueue = cl.enqueue_nd_range_kernel

    def raw():
        for kk, gs, loc, off in launches:
            enqueue(q, kk, gs, loc, off)
    return raw, lambda: g(s), outs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=60)
    p.add_argument("--inner", type=int, default=400)
    args = p.parse_args(argv)
    if args.rounds < 1 or args.inner < 1:
        p.error("--rounds and --inner must be at least 1")

    import pyopencl as cl

    from plugtorch.backends import get_backend
    from plugtorch.backends.opencl.runtime import state
    from plugtorch.dispatch.registry import get
    dev = state(0)
    q = dev.queue
    sync = q.finish
    from plugtorch.backends.opencl import fastlaunch
    ext = fastlaunch.ext()
    print(f"device: {pt.opencl.get_device_name(0)}; launch paths: "
          f"{'C extension' if ext is not None else 'Python'}")

    x, y = pt.ones(1, device="opencl"), pt.ones(1, device="opencl")
    k = cl.Kernel(cl.Program(dev.ctx, SRC).build(), "add1")
    k.set_scalar_arg_dtypes([None, np.int64, None, None])
    o = cl.Buffer(dev.ctx, cl.mem_flags.READ_WRITE, 4)
    xb, yb = x._data.data, y._data.data
    k.set_args(o, 1, xb, yb)
    enqueue = cl.enqueue_nd_range_kernel
    g, loc = (64,), (64,)
    kc = cl.Kernel(cl.Program(dev.ctx, SRC).build(), "add1")
    kc.set_scalar_arg_dtypes([None, np.int64, None, None])
    kadd = get_backend("opencl").kernels["add"]
    xd, yd, f32 = x._data, y._data, get("add").meta(x, y)[1][2]

    peers = {
        "raw enqueue": lambda: enqueue(q, k, g, loc),
        "Kernel.__call__": lambda: kc(q, g, loc, o, np.int64(1), xb, yb),
        "plugtorch a + b": lambda: x + y,
        "plugtorch a * 2.0": lambda: x * 2.0,
        "plugtorch a.neg()": lambda: x.neg(),
        "backend add kernel": lambda: kadd(xd, yd, f32),
    }
    if ext is not None:
        qp, kp = q.int_ptr, k.int_ptr
        peers = {"raw enqueue": peers.pop("raw enqueue"),
                 "C-extension enqueue": lambda: ext.enqueue_ptr("add1", qp, kp, 64, 64, 1), **peers}
    fused = _fused_mul_add(x)
    if fused is not None:   # what plugtorch.jit's executor calls for a fused a * b + c
        peers["fused a * b + c call"] = lambda: fused(xd, yd, xd)
    ch = _compiled_chain(cl, q)
    if ch is not None:
        peers["raw enqueue (its kernel)"], peers["compiled 8-op chain"], _keep = ch
    for f in peers.values():   # warm: compile, fill the caches
        timed(f, 50, sync)
    per = {name: [] for name in peers}
    names, order = list(peers), np.random.default_rng(0)
    for _ in range(args.rounds):
        # in a new order each round (fixed seed): a peer that leaves PoCL work behind (its worker
        # threads retiring the events Kernel.__call__ makes) slows the one after it by up to
        # ~0.5 us CPU; in a fixed order that was always eager a + b, now it is a different peer
        # in each round, which the medians leave out
        for i in order.permutation(len(names)):
            per[names[i]].append(timed(peers[names[i]], args.inner, sync))
    raw = np.array(per["raw enqueue"])
    print(f"{args.rounds} rounds of {args.inner} calls each (then finish): median wall time per call and "
          "the median of the per-round ratios to the raw enqueue; the same for the calling thread's CPU "
          "time (less disturbed by other processes on a busy machine)")
    for name, ts in per.items():
        ts = np.array(ts)
        wall, cpu = np.median(ts, axis=0) * 1e6
        ref, of = (np.array(per["raw enqueue (its kernel)"]), "its kernel's raw enqueue") \
            if name == "compiled 8-op chain" else (raw, "raw enqueue")
        rw, rc = np.median(ts / ref, axis=0)
        target = {"plugtorch a + b": "  (target <= 1.30x)", "compiled 8-op chain": "  (target <= 1.10x)"}.get(name, "")
        print(f"  {name:<26} wall {wall:7.2f} us {rw:5.2f}x | cpu {cpu:7.2f} us {rc:5.2f}x {of}{target}")

if __name__ == "__main__":
    main()
