"""Forward + backward of ``(a*b + a).sum()`` on 16-element float32 tensors.

plugtorch (cpu) against the same computation written by hand in NumPy, and PyTorch when it
is installed, in one run. Prints microseconds per step and ratios to hand-written NumPy.

    .venv/bin/python benchmarks/autograd.py [--n 16] [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import per_call_us, row, try_import_torch  # noqa: E402


def numpy_by_hand(n):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)

    def step():
        c = a * b + a
        s = c.sum()
        g = np.ones_like(c)          # d s / d c
        ga = g * b + g               # d c / d a = b + 1
        gb = g * a
        return s, ga, gb
    return step


def autograd_step(lib, n):
    """The step in a PyTorch-style library ``lib`` (plugtorch, or torch itself)."""
    lib.manual_seed(0)
    a = lib.randn(n, requires_grad=True)
    b = lib.randn(n, requires_grad=True)

    def step():
        a.grad = None
        b.grad = None
        (a * b + a).sum().backward()
    return step


def check(n):
    """The plugtorch gradients equal the hand-written ones."""
    import plugtorch as pt
    a = pt.randn(n, requires_grad=True)
    b = pt.randn(n, requires_grad=True)
    (a * b + a).sum().backward()
    an, bn = a.detach().numpy(), b.detach().numpy()
    assert np.allclose(a.grad.numpy(), bn + 1) and np.allclose(b.grad.numpy(), an)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--number", type=int, default=500)
    args = p.parse_args()
    check(args.n)
    import plugtorch
    rows = [("numpy (by hand)", numpy_by_hand(args.n)), ("plugtorch cpu", autograd_step(plugtorch, args.n))]
    torch = try_import_torch()
    if torch is not None:
        rows.append(("pytorch", autograd_step(torch, args.n)))
    times = {name: per_call_us(fn, number=args.number, repeat=args.repeat) for name, fn in rows}
    base = times["numpy (by hand)"]
    print(f"Forward + backward of (a*b + a).sum() on {args.n} float32 elements "
          f"(us per step, best of {args.repeat})")
    for name, us in times.items():
        target = "  (target <= 10x)" if name == "plugtorch cpu" else ""
        row(name, us, "us", None if name.startswith("numpy") else base, "numpy by hand" + target)
    if torch is None:
        print("  pytorch: not installed, skipped")


if __name__ == "__main__":
    main()
