"""Forward + backward of ``(a*b + a).sum()`` on 16-element float32 tensors.

plugtorch (cpu) against the same computation written by hand in NumPy, and PyTorch when it
is installed, in one run. Prints microseconds per step and ratios to hand-written NumPy.

    .venv/bin/python benchmarks/autograd.py [--n 16] [--repeat 5]
"""
from __future__ import annotations

import argparse
import timeit

import numpy as np


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


def plugtorch_step(n):
    import plugtorch as pt
    pt.manual_seed(0)
    a = pt.randn(n, requires_grad=True)
    b = pt.randn(n, requires_grad=True)

    def step():
        a.grad = None
        b.grad = None
        (a * b + a).sum().backward()
    return step


def torch_step(n):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    a = torch.randn(n, requires_grad=True)
    b = torch.randn(n, requires_grad=True)

    def step():
        a.grad = None
        b.grad = None
        (a * b + a).sum().backward()
    return step


def best_us(fn, repeat, number):
    fn()
    return min(timeit.repeat(fn, repeat=repeat, number=number)) / number * 1e6


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
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--number", type=int, default=2000)
    args = p.parse_args()
    check(args.n)
    rows = [("numpy (by hand)", numpy_by_hand(args.n)), ("plugtorch cpu", plugtorch_step(args.n))]
    t = torch_step(args.n)
    if t is not None:
        rows.append(("pytorch", t))
    times = {name: best_us(fn, args.repeat, args.number) for name, fn in rows}
    base = times["numpy (by hand)"]
    print(f"forward+backward of (a*b + a).sum(), {args.n} float32 elements, best of {args.repeat}")
    print(f"{'':18}{'us/step':>10}{'x numpy':>10}")
    for name, us in times.items():
        print(f"{name:18}{us:10.2f}{us / base:10.1f}")
    if t is None:
        print("(pytorch not installed: skipped)")


if __name__ == "__main__":
    main()
