"""plugtorch on cuda against raw CuPy (and PyTorch when it is installed), timed in the same run.

Issue 9's target: plugtorch at least 0.9x raw CuPy's speed on the large ops (``a * b + c`` on
2^26 float32, a 4096x4096 float32 matmul). The digits-MLP training step (64-128-10, batch 64,
cross-entropy as log_softmax + gather, SGD by hand) shows what per-op overhead costs on small
work. "speed" is raw CuPy's time divided by plugtorch's: 1.00x means as fast, below 1 slower.

Every timing runs the operation ``iters`` times back to back and then synchronises, so it
measures throughput the way a training loop sees it; the best of ``repeat`` such runs counts.

    python benchmarks/cuda.py                       # needs CuPy and a CUDA GPU
    python benchmarks/cuda.py --report out.md       # also write the table as Markdown
    python benchmarks/cuda.py --smoke               # tiny sizes; on cpu against NumPy without cuda
"""
from __future__ import annotations

import argparse
import os
import sys

# Running this file puts benchmarks/ first on sys.path, where this very file would shadow the
# `cuda` package that CuPy imports (cuda.pathfinder); drop it.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
import platform
import time

import numpy as np

import plugtorch as pt


def timed_ms(fn, sync, iters, repeat=5, warmup=2) -> float:
    """Best over ``repeat`` runs of the mean time per call of ``iters`` back-to-back calls."""
    for _ in range(warmup):
        fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        best = min(best, (time.perf_counter() - t0) / iters)
    return best * 1e3


# --- the digits MLP step, three ways --------------------------------------------------------
def mlp_params_np(rng):
    return [rng.standard_normal((64, 128)).astype(np.float32) * 0.1, np.zeros(128, np.float32),
            rng.standard_normal((128, 10)).astype(np.float32) * 0.1, np.zeros(10, np.float32)]


def plugtorch_step(params, x, y, lr=0.1):
    w1, b1, w2, b2 = params
    h = (x @ w1 + b1).clamp(min=0)
    logp = (h @ w2 + b2).log_softmax(dim=1)
    loss = -logp.gather(1, y.unsqueeze(1)).mean()
    loss.backward()
    with pt.no_grad():
        for p in params:
            p.sub_(lr * p.grad)
            p.grad = None
    return loss


def raw_step(xp, params, x, y, lr=0.1):
    """The same step with hand-written gradients on an array namespace (CuPy or NumPy)."""
    w1, b1, w2, b2 = params
    n = x.shape[0]
    pre = x @ w1 + b1
    h = xp.maximum(pre, 0)
    z = h @ w2 + b2
    z = z - z.max(axis=1, keepdims=True)
    e = xp.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = xp.arange(n)
    loss = -(z[rows, y] - xp.log(s[:, 0])).mean()
    dz = e / s
    dz[rows, y] -= 1
    dz /= n
    dh = (dz @ w2.T) * (pre > 0)
    grads = (x.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0))
    for p, g in zip(params, grads):
        p -= lr * g
    return loss


def torch_step(torch, params, x, y, lr=0.1):
    w1, b1, w2, b2 = params
    logp = torch.log_softmax(torch.clamp(x @ w1 + b1, min=0) @ w2 + b2, dim=1)
    loss = -logp.gather(1, y.unsqueeze(1)).mean()
    loss.backward()
    with torch.no_grad():
        for p in params:
            p.sub_(lr * p.grad)
            p.grad = None
    return loss


def check_mlp_agrees(xp, dev):
    """One step from the same start on plugtorch and by hand must give the same weights."""
    rng = np.random.default_rng(0)
    start = mlp_params_np(rng)
    xn = rng.standard_normal((64, 64)).astype(np.float32)
    yn = rng.integers(0, 10, 64)
    ours = [pt.tensor(p, device=dev).requires_grad_() for p in start]
    loss = plugtorch_step(ours, pt.tensor(xn, device=dev), pt.tensor(yn, device=dev))
    theirs = [xp.asarray(p) for p in start]
    raw_loss = raw_step(xp, theirs, xp.asarray(xn), xp.asarray(yn))
    assert abs(loss.item() - float(raw_loss)) < 1e-4, (loss.item(), float(raw_loss))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.detach().cpu().numpy(), to_host(xp, b), rtol=1e-4, atol=1e-5)


def to_host(xp, a):
    return xp.asnumpy(a) if hasattr(xp, "asnumpy") else np.asarray(a)


# --- the run ---------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for checking the script")
    ap.add_argument("--report", help="write the results as Markdown to this file")
    ap.add_argument("--profile", type=int, default=0, metavar="STEPS",
                    help="after the table, profile this many plugtorch MLP steps (cProfile, by own time)")
    args = ap.parse_args(argv)

    if pt.cuda.is_available():
        import cupy as xp
        dev = "cuda"
        peer = f"CuPy {xp.__version__}"
        sync = pt.cuda.synchronize
        where = f"{pt.cuda.get_device_name(0)} (CUDA runtime {xp.cuda.runtime.runtimeGetVersion()})"
    elif args.smoke:
        xp, dev, peer, sync = np, "cpu", f"NumPy {np.__version__}", (lambda: None)
        where = f"cpu ({platform.machine()}), no cuda: {pt.cuda.unavailable_reason()}"
    else:
        raise SystemExit(f"benchmarks/cuda.py needs a CUDA GPU: {pt.cuda.unavailable_reason()} "
                         "(use --smoke to check the script on cpu)")
    torch = try_torch_cuda() if dev == "cuda" else None
    n_elem, n_mm, iters = (1 << 16, 256, 3) if args.smoke else (1 << 26, 4096, 20)
    print(f"plugtorch {pt.__version__} on {where}; peer: {peer}"
          + (f"; PyTorch {torch.__version__}" if torch else ""))
    rows = []

    def add_row(name, ours, raw, theirs=None, target=None):
        rows.append((name, ours, raw, theirs, target))
        extra = f"   pytorch {theirs:9.3f} ms" if theirs is not None else ""
        print(f"  {name:<38} plugtorch {ours:9.3f} ms   raw {raw:9.3f} ms   speed {raw / ours:5.2f}x{extra}")

    pt.manual_seed(0)
    pt.cuda.manual_seed(0)

    # a * b + c on 2^26 float32: two memory-bound kernels each side
    a, b, c = (pt.rand(n_elem, device=dev) for _ in range(3))
    ra, rb, rc = (xp.from_dlpack(t) for t in (a, b, c))      # the same memory, zero-copy
    assert np.allclose(to_host(xp, (a * b + c)[:8].cpu().numpy()), to_host(xp, (ra * rb + rc)[:8]))
    t_pt = timed_ms(lambda: a * b + c, sync, iters)
    t_raw = timed_ms(lambda: ra * rb + rc, sync, iters)
    t_th = None
    if torch is not None:
        ta, tb, tc = (torch.from_dlpack(t) for t in (a, b, c))
        t_th = timed_ms(lambda: ta * tb + tc, torch.cuda.synchronize, iters)
    add_row(f"a * b + c, 2^{n_elem.bit_length() - 1} float32", t_pt, t_raw, t_th, 0.9)
    del a, b, c, ra, rb, rc

    # matmul
    A, B = pt.randn(n_mm, n_mm, device=dev), pt.randn(n_mm, n_mm, device=dev)
    rA, rB = xp.from_dlpack(A), xp.from_dlpack(B)
    t_pt = timed_ms(lambda: A @ B, sync, max(iters // 2, 3))
    t_raw = timed_ms(lambda: rA @ rB, sync, max(iters // 2, 3))
    t_th = None
    if torch is not None:
        tA, tB = torch.from_dlpack(A), torch.from_dlpack(B)
        t_th = timed_ms(lambda: tA @ tB, torch.cuda.synchronize, max(iters // 2, 3))
    add_row(f"matmul {n_mm}x{n_mm} float32", t_pt, t_raw, t_th, 0.9)
    del A, B, rA, rB

    # a large reduction
    x = pt.rand(n_elem, device=dev)
    rx = xp.from_dlpack(x)
    add_row(f"sum of 2^{n_elem.bit_length() - 1} float32", timed_ms(lambda: x.sum(), sync, iters),
            timed_ms(lambda: rx.sum(), sync, iters))
    del x, rx

    # the digits MLP training step
    check_mlp_agrees(xp, dev)
    rng = np.random.default_rng(1)
    start = mlp_params_np(rng)
    xn = rng.standard_normal((64, 64)).astype(np.float32)
    yn = rng.integers(0, 10, 64)
    ours = [pt.tensor(p, device=dev).requires_grad_() for p in start]
    xb, yb = pt.tensor(xn, device=dev), pt.tensor(yn, device=dev)
    theirs = [xp.asarray(p) for p in start]
    rxb, ryb = xp.asarray(xn), xp.asarray(yn)
    steps = 20 if args.smoke else 200
    t_pt = timed_ms(lambda: plugtorch_step(ours, xb, yb), sync, steps)
    t_raw = timed_ms(lambda: raw_step(xp, theirs, rxb, ryb), sync, steps)
    t_th = None
    if torch is not None:
        tp = [torch.tensor(p, device="cuda", requires_grad=True) for p in start]
        tx, ty = torch.tensor(xn, device="cuda"), torch.tensor(yn, device="cuda")
        t_th = timed_ms(lambda: torch_step(torch, tp, tx, ty), torch.cuda.synchronize, steps)
    add_row("digits MLP step (64-128-10, batch 64)", t_pt, t_raw, t_th)
    if args.profile:
        profile_steps(lambda: plugtorch_step(ours, xb, yb), sync, args.profile)

    # per-op overhead: a + b on 1-element tensors
    s1, s2 = pt.ones(1, device=dev), pt.ones(1, device=dev)
    r1, r2 = xp.from_dlpack(s1), xp.from_dlpack(s2)
    n_small = 200 if args.smoke else 5000
    add_row("a + b, 1 element (per call)", timed_ms(lambda: s1 + s2, sync, n_small),
            timed_ms(lambda: r1 + r2, sync, n_small))

    if dev == "cuda":
        mb = pt.cuda.max_memory_allocated() / 2**20
        print(f"  peak memory allocated through CuPy's pool: {mb:.0f} MiB")
    ok = all(raw / ours >= target for _, ours, raw, _, target in rows if target)
    print("large-op target (>= 0.9x raw CuPy):", "met" if ok else "NOT met")
    if args.report:
        write_report(args.report, where, peer, torch, rows, ok)
    return 0


def profile_steps(step, sync, n):
    """Where an MLP step's time goes: the functions with the most own time over ``n`` steps.
    Reads from the GPU (``get``, ``__bool__``, ``item`` ...) show up as the time they wait."""
    import cProfile
    import pstats
    prof = cProfile.Profile()
    sync()
    prof.enable()
    for _ in range(n):
        step()
    sync()
    prof.disable()
    stats = pstats.Stats(prof)
    print(f"\nprofile of {n} plugtorch MLP steps (own time per step, calls per step):")
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:30]
    for (file, line, name), (cc, nc, tt, ct, _) in rows:
        where = f"{file.rsplit('/', 2)[-2:] if '/' in file else file}:{line}" if line else file
        print(f"  {tt / n * 1e6:8.1f} us  {nc / n:6.1f}  {name}  ({where})")


def try_torch_cuda():
    try:
        import torch
    except Exception:  # noqa: BLE001
        return None
    return torch if torch.cuda.is_available() else None


def write_report(path, where, peer, torch, rows, ok):
    lines = [f"Device: {where}; peer: {peer}" + (f"; PyTorch {torch.__version__}" if torch else ""), "",
             "| benchmark | plugtorch ms | raw CuPy ms | speed vs CuPy | target | PyTorch ms |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, ours, raw, theirs, target in rows:
        lines.append(f"| {name} | {ours:.3f} | {raw:.3f} | {raw / ours:.2f}x | "
                     f"{f'>= {target}x' if target else '-'} | {f'{theirs:.3f}' if theirs else '-'} |")
    lines += ["", f"Large-op target (>= 0.9x raw CuPy): {'met' if ok else 'NOT met'}.", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
