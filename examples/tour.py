"""A short tour: the devices plugtorch found, a few PyTorch-style computations on each,
and the profiler's table of the ops they dispatched.

    make demo            (or: .venv/bin/python examples/tour.py)
"""
from __future__ import annotations

import plugtorch as pt


def show_devices():
    print("Backends and devices")
    for b in pt.backends.list():
        devs = ", ".join(b["devices"]) or "-"
        print(f"  {b['name']:<8} {b['status']:<60.60} {devs}")
    print()


def computations(device):
    pt.manual_seed(0)
    x = pt.randn(4, 3, device=device, requires_grad=True)
    w = pt.randn(3, 2, device=device, requires_grad=True)
    y = (x @ w).relu() if hasattr(pt.Tensor, "relu") else (x @ w).clamp(min=0)
    loss = y.softmax(dim=1).log().mean()
    loss.backward()
    print(f"  loss        = {loss.item():.6f}")
    print(f"  x.grad[0]   = {x.grad[0].tolist()}")
    z = pt.arange(12, device=device).reshape(3, 4)
    z[1] += 100
    print(f"  z[:, 1:3]   = {z[:, 1:3].tolist()}")
    print(f"  int8 + 3    -> {(pt.ones(2, dtype=pt.int8, device=device) + 3).dtype}, "
          f"int / int -> {(pt.ones(2, dtype=pt.int64, device=device) / 2).dtype}")
    return loss.item()


def main():
    show_devices()
    results = {}
    with pt.profiler.profile() as prof:
        for name in pt.backends.available():
            dev = pt.device(name)
            print(f"On {dev}:")
            try:
                results[name] = computations(dev)
            except Exception as e:  # a backend still being built should not stop the tour
                print(f"  (failed: {type(e).__name__}: {e})")
            print()
    if "cpu" in results:
        for name, v in results.items():
            print(f"  {name}: loss matches cpu: {abs(v - results['cpu']) < 1e-4 if name != 'cpu' else True}")
    print("\nProfiler: ops dispatched by the tour")
    print(prof.table(row_limit=25))


if __name__ == "__main__":
    main()
