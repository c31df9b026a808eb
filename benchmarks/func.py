"""vmap's per-sample loop against batched peers, in one run.

1. ``vmap(pt.mul, in_dims=(0, None))`` (a pointwise registry op: vmap's batched path), the same
   call through a lambda (which vmap cannot see into, so it loops), and the batched call by hand.
2. Per-sample gradients of a linear least-squares loss: ``vmap(grad(loss))`` (a loop of one
   forward and one backward per sample) against the closed-form gradient computed batched, and
   torch.func's vmap(grad) when PyTorch is installed.

    .venv/bin/python benchmarks/func.py [--batch 64] [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_ms, row, try_import_torch  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    import plugtorch as pt
    from plugtorch.func import grad, vmap
    b = a.batch
    pt.manual_seed(0)
    x, w = pt.randn(b, 128), pt.randn(128)

    fast = vmap(pt.mul, in_dims=(0, None))
    loop = vmap(lambda u, v: pt.mul(u, v), in_dims=(0, None))
    assert bool(pt.equal(fast(x, w), loop(x, w))) and bool(pt.equal(fast(x, w), x * w))
    print(f"vmap of a pointwise op, batch {b} x 128 (ms, ratio to the batched call by hand)")
    ref = best_ms(lambda: x * w, a.repeat)
    row("batched by hand: x * w", ref, "ms")
    row("vmap(pt.mul): batched path", best_ms(lambda: fast(x, w), a.repeat), "ms", ref, "by hand")
    row("vmap(lambda: pt.mul): loop", best_ms(lambda: loop(x, w), a.repeat), "ms", ref, "by hand")

    W, xs, ys = pt.randn(3, 16), pt.randn(b, 16), pt.randn(b, 3)

    def loss(weight, xi, yi):
        return ((weight @ xi - yi) ** 2).sum()

    psg = vmap(grad(loss), in_dims=(None, 0, 0))

    def closed_form():     # d/dW sum((W x - y)^2) = 2 (W x - y) x^T, for every sample at once
        r = xs @ W.T - ys
        return 2 * r.unsqueeze(2) * xs.unsqueeze(1)

    np.testing.assert_allclose(psg(W, xs, ys).numpy(), closed_form().numpy(), rtol=1e-4, atol=1e-5)
    print(f"\nper-sample gradients, batch {b}, W 3x16 (ms, ratio to the batched closed form)")
    ref = best_ms(closed_form, a.repeat)
    row("closed form, batched", ref, "ms")
    row("vmap(grad(loss)): loop", best_ms(lambda: psg(W, xs, ys), a.repeat), "ms", ref, "closed form")
    torch = try_import_torch()
    if torch is not None:
        tW, txs, tys = (torch.from_numpy(t.numpy()) for t in (W, xs, ys))
        tpsg = torch.func.vmap(torch.func.grad(lambda w_, x_, y_: ((w_ @ x_ - y_) ** 2).sum()), in_dims=(None, 0, 0))
        row("torch.func vmap(grad(loss))", best_ms(lambda: tpsg(tW, txs, tys), a.repeat), "ms", ref, "closed form")


if __name__ == "__main__":
    main()
