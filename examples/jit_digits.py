"""Train the digits CNN with a compiled training step, trace it, and save the graph for deployment.

    .venv/bin/python examples/jit_digits.py --device auto --epochs 8 --out digits_cnn.ptj
    .venv/bin/python examples/run_traced.py digits_cnn.ptj          # no model code needed there

The whole step (forward, loss, backward, optimizer step) runs as one graph replayed without the
dispatcher (plugtorch.compile); the first epoch is also timed eagerly for comparison. The trained
model is traced (plugtorch.jit.trace) and saved with the test set beside it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import plugtorch as pt  # noqa: E402
from plugtorch import nn  # noqa: E402

from digits_cnn import make_model  # noqa: E402

BATCH = 64


def load(device):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.2, stratify=y, random_state=0)

    def t(a, dt):
        return pt.tensor(a, dtype=dt, device=device)
    return (t(x_tr, pt.float32).reshape(-1, 1, 8, 8), t(y_tr, pt.int64),
            t(x_te, pt.float32).reshape(-1, 1, 8, 8), t(y_te, pt.int64))


def batches(x, y, gen):
    n = (len(y) // BATCH) * BATCH          # whole batches only: one shape, one graph
    order = pt.randperm(len(y), generator=gen)[:n].to(x.device)
    for i in range(0, n, BATCH):
        idx = order[i:i + BATCH]
        yield x[idx], y[idx]


def train(device, epochs, compiled=True, seed=0, quiet=False):
    """Train; returns (model, seconds per epoch, test accuracy)."""
    pt.manual_seed(seed)
    x_tr, y_tr, x_te, y_te = load(device)
    model = make_model().to(device)
    opt = pt.optim.Adam(model.parameters(), lr=3e-3)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()
    run = pt.compile(step) if compiled else step
    gen = pt.Generator().manual_seed(seed)
    times = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        total = pt.zeros((), device=device)
        for xb, yb in batches(x_tr, y_tr, gen):
            total += run(xb, yb)
        loss = total.item()
        times.append(time.perf_counter() - t0)
        if not quiet:
            print(f"  epoch {epoch + 1:2d}  loss {loss / (len(y_tr) // BATCH):.4f}  ({times[-1]:.2f} s)", flush=True)
    model.eval()
    with pt.no_grad():
        acc = (model(x_te).argmax(1) == y_te).float().mean().item()
    return model, times, acc, (x_te, y_te), run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--out", default="digits_cnn.ptj")
    args = ap.parse_args(argv)
    device = pt.device(("opencl" if pt.opencl.is_available() else "cpu") if args.device == "auto" else args.device)
    print(f"digits CNN on {device}: eager, one epoch")
    _, t_eager, _, _, _ = train(device, 1, compiled=False)
    print(f"digits CNN on {device}: plugtorch.compile, {args.epochs} epochs")
    model, t_comp, acc, (x_te, y_te), run = train(device, args.epochs, compiled=True)
    steady = min(t_comp[1:] or t_comp)
    print(f"epoch time: eager {t_eager[0]:.2f} s, compiled {steady:.2f} s ({t_eager[0] / steady:.2f}x faster; "
          f"the first compiled epoch {t_comp[0]:.2f} s includes tracing); graphs {run.counters['graphs']}, "
          f"graph breaks {run.counters['graph_breaks']}")
    print(f"test accuracy {acc:.4f}")
    traced = pt.jit.trace(model, (x_te[:BATCH],))
    traced.save(args.out)
    pt.save({"x": x_te.cpu(), "y": y_te.cpu()}, args.out + ".testset")
    print(f"saved the traced model to {args.out} and the test set to {args.out}.testset")
    return acc, t_eager[0], steady


if __name__ == "__main__":
    main()
