"""plugtorch.jit / plugtorch.compile against eager plugtorch and hand-written references (issue 14).

cpu, digits MLP (64 -> 128 -> 10, batch 64):
  * one training step (forward, cross-entropy, backward, SGD with momentum): compiled vs the same
    step by hand in NumPy (target <= 1.2x) and vs eager plugtorch;
  * inference (forward only): traced vs NumPy by hand (target <= 1.2x) and eager.
cpu, digits CNN (examples/digits_cnn.py, Adam, batch 64): the time from the compiled step's first
  call until its graph exists (both traces: Adam creates its state on the first), target < 2 s.
opencl (when a device exists):
  * ``a * b + c`` on 2^24 float32: traced (one fused kernel) vs one hand-written PyOpenCL kernel,
    as bandwidth (target >= 0.9x), and vs eager;
  * the MLP training step compiled vs eager (target: at least 2x faster);
  * a chain of 8 small ops (1 element): compiled replay vs the raw enqueues of its fused kernel.

    python benchmarks/jit.py [--quick] [--only {cpu,cnn,opencl}]
"""
from __future__ import annotations

import os
import statistics
import sys
import time

# one BLAS thread: on a small shared machine two OpenBLAS threads per process make every matmul's
# time swing by 10x with the load; NumPy and plugtorch share the BLAS, so the ratio stays fair
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from training import LR, MOMENTUM, NumpyMLP, initial_weights, plugtorch_mlp  # noqa: E402

import plugtorch as pt  # noqa: E402
from plugtorch import nn  # noqa: E402

BATCH = 64


def per_call_us(fn, sync=None, n=200, repeat=7) -> float:
    """Median over ``repeat`` runs of the mean time of ``n`` calls, in microseconds."""
    return interleaved({"x": fn}, sync, n, repeat)["x"]


def interleaved(fns: dict, sync=None, n=200, repeat=7, cpu=None, best=None) -> dict:
    """Median per-call time of each function, timed in alternating rounds (a load that comes and
    goes on a shared machine then hits every contender alike). ``cpu``, a dict, also receives the
    median CPU time of this thread per call: on a loaded machine it leaves out the time the
    thread waited for a core (not for a device: use it for cpu work only); ``best`` receives
    the least CPU time per call of any round (the round the other processes disturbed least)."""
    for fn in fns.values():
        for _ in range(5):
            fn()
    if sync:
        sync()
    runs = {k: [] for k in fns}
    cpu_runs = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            c0 = time.thread_time()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            if sync:
                sync()
            runs[k].append((time.perf_counter() - t0) / n * 1e6)
            cpu_runs[k].append((time.thread_time() - c0) / n * 1e6)
    if cpu is not None:
        cpu.update({k: statistics.median(v) for k, v in cpu_runs.items()})
    if best is not None:
        best.update({k: min(v) for k, v in cpu_runs.items()})
    return {k: statistics.median(v) for k, v in runs.items()}


def row(name, us, ref=None, ref_name="", target="", cpu=None, cpu_ref=None, best=None, best_ref=None):
    ratio = f"{us / ref:6.2f}x {ref_name}" if ref else ""
    if cpu is not None:   # CPU time of the thread, and its ratio
        ratio += f"  | cpu {cpu:7.1f} us" + (f" {cpu / cpu_ref:5.2f}x" if cpu_ref else "")
    if best is not None:   # the least disturbed round's CPU time, and its ratio
        ratio += f"  | best {best:7.1f} us" + (f" {best / best_ref:5.2f}x" if best_ref else "")
    print(f"  {name:<44}{us:>10.1f} us  {ratio} {target}")


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, 64), dtype=np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int64)
    return x, y


def train_step_fn(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def cpu_section(n):
    print("cpu: digits MLP 64-128-10, batch 64 (median of 15 runs of the mean per call)")
    x, y = data()
    w = initial_weights()
    ref = NumpyMLP(w)
    m_eager = plugtorch_mlp(w)
    opt_e = pt.optim.SGD(m_eager.parameters(), lr=LR, momentum=MOMENTUM)
    step_e = train_step_fn(m_eager, opt_e)
    X, Y = pt.from_numpy(x), pt.from_numpy(y)
    m_c = plugtorch_mlp(w)
    opt_c = pt.optim.SGD(m_c.parameters(), lr=LR, momentum=MOMENTUM)
    step_c = pt.compile(train_step_fn(m_c, opt_c))
    c, b = {}, {}
    t = interleaved({"numpy": lambda: ref.step(x, y), "eager": lambda: step_e(X, Y),
                     "compiled": lambda: step_c(X, Y)}, n=n, repeat=15, cpu=c, best=b)
    assert step_c.counters["graph_breaks"] == 0 and step_c.counters["graphs"] == 1, step_c.counters
    print(" training step (wall time; CPU time; least CPU time of a round; "
          f"load average {os.getloadavg()[0]:.1f})")
    cpu_rows(t, c, b, ("numpy by hand", "plugtorch eager", "plugtorch.compile"))
    print(f"  {'compiled speed-up over eager':<44}{t['eager'] / t['compiled']:>10.2f}x")

    ci, bi = {}, {}
    with pt.no_grad():
        traced = pt.jit.trace(m_eager, (X,))
        ti = interleaved({"numpy": lambda: ref.logits(x), "eager": lambda: m_eager(X),
                          "traced": lambda: traced(X)}, n=n * 4, repeat=15, cpu=ci, best=bi)
    print(f" inference (forward; load average {os.getloadavg()[0]:.1f})")
    cpu_rows(ti, ci, bi, ("numpy by hand", "plugtorch eager", "plugtorch.jit.trace"))
    return {"train_numpy": t["numpy"], "train_eager": t["eager"], "train_compiled": t["compiled"],
            "infer_numpy": ti["numpy"], "infer_eager": ti["eager"], "infer_traced": ti["traced"],
            "cpu": {"train": c, "infer": ci}, "best": {"train": b, "infer": bi}}


def cpu_rows(wall, cpu, best, names):
    """One row per contender (NumPy first, the graph last, with the target), each as wall time,
    CPU time and the least CPU time of a round, with its ratio to NumPy's."""
    keys = list(wall)
    for k, name in zip(keys, names):
        ref = k != "numpy"
        row(name, wall[k], wall["numpy"] if ref else None, "numpy", "(target <= 1.2x)" if k == keys[-1] else "",
            cpu=cpu[k], cpu_ref=cpu["numpy"] if ref else None, best=best[k], best_ref=best["numpy"] if ref else None)


def cnn_compile_section():
    """Tracing cost: wall and CPU time of the compiled digits-CNN training step's calls until its
    graph is built (the first call traces, Adam makes its state, the second traces again)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
    from digits_cnn import make_model
    pt.manual_seed(0)
    model = make_model()
    opt = pt.optim.Adam(model.parameters(), lr=3e-3)
    step = pt.compile(train_step_fn(model, opt))
    x, y = pt.randn(BATCH, 1, 8, 8), pt.randint(0, 10, (BATCH,))
    t0, c0 = time.perf_counter(), time.process_time()
    calls = 0
    while step.counters["graphs"] == 0 and calls < 5:
        step(x, y)
        calls += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"\ncpu: compiling the digits CNN training step (Adam, batch 64): {calls} traced calls")
    print(f"  {'until the graph is built':<44}{wall:>10.3f} s  ({cpu:.3f} s CPU; target < 2 s)")
    return {"cnn_compile_s": wall, "cnn_compile_cpu_s": cpu}


def opencl_section(n):
    if not pt.opencl.is_available():
        print("opencl: no device, skipped")
        return {}
    import pyopencl as cl
    from plugtorch.backends.opencl import runtime
    print(f"\nopencl ({pt.opencl.get_device_name(0)})")
    sync = pt.opencl.synchronize
    size = 1 << 24
    rng = np.random.default_rng(0)
    ha, hb, hc = (rng.standard_normal(size, dtype=np.float32) for _ in range(3))
    a, b, c = (pt.from_numpy(h).to("opencl") for h in (ha, hb, hc))
    f = pt.jit.trace(lambda a, b, c: a * b + c, (a, b, c))
    fused = any(nd.fused is not None for nd in f.graph.nodes)
    st = runtime.state(0)
    # no bounds check: 2^24 is a whole number of work-groups (a per-item check halves PoCL's bandwidth)
    prg = cl.Program(st.ctx, """__kernel void fma3(__global const float* a, __global const float* b,
        __global const float* c, __global float* o, const long n) {
        long i = get_global_id(0); o[i] = a[i] * b[i] + c[i]; }""").build()
    k = cl.Kernel(prg, "fma3")
    out = cl.Buffer(st.ctx, cl.mem_flags.READ_WRITE, size * 4)
    k.set_args(a._data.data, b._data.data, c._data.data, out, np.int64(size))

    def hand():
        cl.enqueue_nd_range_kernel(st.queue, k, ((size + 63) // 64 * 64,), (64,))
    reps = max(3, n // 40)
    t = interleaved({"hand": hand, "traced": lambda: f(a, b, c), "eager": lambda: a * b + c}, sync=sync,
                    n=reps, repeat=7)
    t_hand, t_traced, t_eager = t["hand"], t["traced"], t["eager"]
    gb = 4 * 4 * size / 1e9     # bytes moved: three reads and one write

    def bw(us):
        return gb / (us * 1e-6)
    print(f" a * b + c on 2^24 float32 (GB/s; traced graph {'fused' if fused else 'NOT fused'})")
    print(f"  {'hand-written PyOpenCL kernel':<44}{bw(t_hand):>10.2f} GB/s")
    print(f"  {'plugtorch eager':<44}{bw(t_eager):>10.2f} GB/s  {bw(t_eager) / bw(t_hand):6.2f}x hand")
    print(f"  {'plugtorch.jit.trace':<44}{bw(t_traced):>10.2f} GB/s  {bw(t_traced) / bw(t_hand):6.2f}x hand "
          "(target >= 0.9x)")

    x, y = data()
    w = initial_weights()
    X, Y = pt.from_numpy(x).to("opencl"), pt.from_numpy(y).to("opencl")
    m_e = plugtorch_mlp(w).to("opencl")
    opt_e = pt.optim.SGD(m_e.parameters(), lr=LR, momentum=MOMENTUM)
    step_e = train_step_fn(m_e, opt_e)
    m_c = plugtorch_mlp(w).to("opencl")
    opt_c = pt.optim.SGD(m_c.parameters(), lr=LR, momentum=MOMENTUM)
    step_c = pt.compile(train_step_fn(m_c, opt_c))
    t = interleaved({"eager": lambda: step_e(X, Y), "compiled": lambda: step_c(X, Y)}, sync=sync, n=max(10, n // 4))
    t_e, t_c = t["eager"], t["compiled"]
    print(" digits MLP training step (batch 64)")
    row("plugtorch eager", t_e)
    row("plugtorch.compile", t_c, t_e, "eager", "(target <= 0.5x)")

    # a chain of small ops: the replay's overhead over the raw enqueues of its kernels
    s = pt.ones(1, device="opencl")

    def chain(s):
        return ((((s * 2 + 1).relu() * 3 - 1).exp() + 2) * 0.5).sqrt()
    g = pt.compile(chain)
    g(s)
    g(s)
    nodes = list(g._cache[next(iter(g._cache))].traced.graph.nodes)
    # the reference: the graph's own kernels (the generated fused kernel, same binary and launch
    # shape), their arguments set once, then one enqueue_nd_range_kernel per launch
    launches = []
    for nd in nodes:
        fk = getattr(nd.kernel, "k0", None)
        if fk is None:      # not a fused kernel (no fusion on this device): a stand-in of one launch
            fk = cl.Kernel(prg, "fma3")
            fk.set_args(a._data.data, b._data.data, c._data.data, cl.Buffer(st.ctx, cl.mem_flags.READ_WRITE, 4),
                        np.int64(1))
            launches.append((fk, (1,), (1,), None))
            continue
        outs = nd.kernel(s._data)
        for i, o in enumerate(outs):
            fk.set_arg(i, o.data)
        fk.set_arg(len(outs) + 1, s._data.data)
        launches += [(fk, gs, loc, off) for gs, loc, off in nd.kernel.launches]
    enqueue, q = cl.enqueue_nd_range_kernel, st.queue

    def raw():
        for kk, gs, loc, off in launches:
            enqueue(q, kk, gs, loc, off)
    cpu, best = {}, {}
    t = interleaved({"raw": raw, "eager": lambda: chain(s), "compiled": lambda: g(s)}, sync=sync, n=n,
                    cpu=cpu, best=best)
    t_raw, t_chain_e, t_chain_c = t["raw"], t["eager"], t["compiled"]
    print(f" a chain of 8 ops on 1 element ({len(nodes)} kernel call(s) after fusion, {len(launches)} launch(es); "
          "wall time, then the calling thread's CPU time)")
    row("raw enqueues of those kernels", t_raw, cpu=cpu["raw"], best=best["raw"])
    row("plugtorch eager", t_chain_e, t_raw, "raw", cpu=cpu["eager"], cpu_ref=cpu["raw"], best=best["eager"],
        best_ref=best["raw"])
    row("plugtorch.compile", t_chain_c, t_raw, "raw", "(target <= 1.1x)", cpu=cpu["compiled"],
        cpu_ref=cpu["raw"], best=best["compiled"], best_ref=best["raw"])
    return {"fma_hand_gbs": bw(t_hand), "fma_traced_gbs": bw(t_traced), "train_eager": t_e, "train_compiled": t_c}


SECTIONS = ("cpu", "cnn", "opencl")


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="plugtorch.jit / plugtorch.compile against eager and by-hand references")
    ap.add_argument("--quick", action="store_true", help="50 calls per timing instead of 300")
    ap.add_argument("--only", choices=SECTIONS, action="append",
                    help="run only this section (repeatable): cpu MLP step and inference, cnn compile time, opencl")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    n = 50 if args.quick else 300
    only = args.only or SECTIONS
    if "cpu" in only:
        cpu_section(n)
    if "cnn" in only:
        cnn_compile_section()
    if "opencl" in only:
        opencl_section(n)


if __name__ == "__main__":
    main()
