"""Training speed and memory: the digits MLP with plugtorch cpu against the same math in NumPy.

The model is 64-128-10 with ReLU and cross-entropy, trained by SGD (lr 0.1, momentum 0.9) on
batches of 64. NumPy (forward, backward and update written by hand), plugtorch cpu (nn,
autograd, optim, DataLoader) and PyTorch when installed start from the same weights and see
the same batches, so they end at the same accuracy. Issue 7's targets: plugtorch cpu at most
2.8x the hand-written NumPy per epoch, and 1,000 training steps after warm-up growing the
process's peak memory (ru_maxrss) by less than 5%.

    python benchmarks/training.py [--epochs 10]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import try_import_torch  # noqa: E402

import plugtorch as pt  # noqa: E402
from plugtorch import nn  # noqa: E402
from plugtorch.utils.data import DataLoader, Sampler, TensorDataset  # noqa: E402

LR, MOMENTUM, BATCH = 0.1, 0.9, 64


def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split((x / 16.0).astype(np.float32), y.astype(np.int64),
                                              test_size=0.2, stratify=y, random_state=0)
    return x_tr, y_tr, x_te, y_te


def initial_weights(seed=0):
    rng = np.random.default_rng(seed)

    def uniform(shape, fan_in):   # nn.Linear's default initialisation
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)
    return [uniform((128, 64), 64), uniform(128, 64), uniform((10, 128), 128), uniform(10, 128)]


class NumpyMLP:
    """The MLP, its backward pass and SGD with momentum (PyTorch's update), by hand."""

    def __init__(self, weights):
        self.params = [w.copy() for w in weights]
        self.bufs = None

    def logits(self, x):
        w1, b1, w2, b2 = self.params
        return np.maximum(x @ w1.T + b1, 0) @ w2.T + b2

    def step(self, x, y):
        w1, b1, w2, b2 = self.params
        h = x @ w1.T + b1
        a = np.maximum(h, 0)
        z = a @ w2.T + b2
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        loss = -np.log(p[np.arange(len(y)), y]).mean()
        dz = p
        dz[np.arange(len(y)), y] -= 1
        dz /= len(y)
        dh = (dz @ w2) * (h > 0)
        grads = [dh.T @ x, dh.sum(0), dz.T @ a, dz.sum(0)]
        if self.bufs is None:
            self.bufs = [g.copy() for g in grads]
        else:
            for b, g in zip(self.bufs, grads):
                b *= MOMENTUM
                b += g
        for w, b in zip(self.params, self.bufs):
            w -= LR * b
        return loss


class FixedOrders(Sampler):
    """Each epoch visits the samples in the next of the given orders (shared by every framework)."""

    def __init__(self, orders):
        self.orders, self.epoch = orders, 0

    def __iter__(self):
        order = self.orders[self.epoch % len(self.orders)]
        self.epoch += 1
        return iter(order.tolist())

    def __len__(self):
        return len(self.orders[0])


def plugtorch_mlp(weights):
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    with pt.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(pt.from_numpy(w))
    return model


def time_epochs(runners: dict, epochs: int) -> dict:
    """Median and best ms per epoch of each runner; epochs alternate between runners so that
    all of them see the same machine load."""
    for run in runners.values():
        run()   # warm-up
    times = {name: [] for name in runners}
    for _ in range(epochs):
        for name, run in runners.items():
            t0 = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10, help="timed epochs after one warm-up epoch")
    ap.add_argument("--steps", type=int, default=1000, help="training steps for the memory check")
    args = ap.parse_args(argv)
    x_tr, y_tr, x_te, y_te = digits()
    orders = [np.random.default_rng(e).permutation(len(y_tr)) for e in range(args.epochs + 1)]
    weights = initial_weights()
    print(f"digits MLP 64-128-10, {len(y_tr)} training samples, batch {BATCH}, SGD lr {LR} "
          f"momentum {MOMENTUM}; ms per epoch (median / best of {args.epochs}, after 1 warm-up)")

    # NumPy by hand
    ref = NumpyMLP(weights)
    np_epochs = iter(range(10 ** 9))

    def numpy_epoch():
        order = orders[next(np_epochs) % len(orders)]
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            ref.step(x_tr[idx], y_tr[idx])

    # plugtorch cpu
    model = plugtorch_mlp(weights)
    opt = pt.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(pt.from_numpy(x_tr), pt.from_numpy(y_tr)), batch_size=BATCH,
                        sampler=FixedOrders(orders))

    def train_step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    def plugtorch_epoch():
        for x, y in loader:
            train_step(x, y)

    runners = {"numpy by hand": numpy_epoch, "plugtorch cpu": plugtorch_epoch}
    torch = try_import_torch()
    if torch is not None:
        runners["pytorch"], torch_accuracy = torch_runner(torch, weights, x_tr, y_tr, x_te, y_te, orders)
    times = time_epochs(runners, args.epochs)
    with pt.no_grad():
        acc_pt = (model(pt.from_numpy(x_te)).argmax(1) == pt.from_numpy(y_te)).float().mean().item()
    accs = {"numpy by hand": (ref.logits(x_te).argmax(1) == y_te).mean(), "plugtorch cpu": acc_pt}
    if torch is not None:
        accs["pytorch"] = torch_accuracy()
    t_np = times["numpy by hand"][0]
    for name, (med, best) in times.items():
        ratio = f"{med / t_np:5.2f}x numpy" if name != "numpy by hand" else ""
        print(f"  {name:<16}{med:9.2f} / {best:7.2f} ms   test accuracy {accs[name]:.4f}   {ratio}")
    print("  target: plugtorch cpu <= 2.8x numpy (PyTorch's ratio measured for issue 7), same accuracy")

    memory_check(loader, train_step, args.steps)


def memory_check(loader, train_step, steps):
    def run(n):
        done = 0
        while done < n:
            for x, y in loader:
                train_step(x, y)
                done += 1
                if done == n:
                    return
    run(100)   # warm-up: caches, optimizer state, allocator pools
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run(steps)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    growth = (after - before) / before * 100
    print(f"\nMemory: {steps} training steps after 100 warm-up steps: peak RSS {before / 1024:.1f} -> "
          f"{after / 1024:.1f} MiB ({growth:+.2f}%; target < 5%)")
    tracemalloc.start()
    run(10)
    start = tracemalloc.get_traced_memory()[0]
    run(200)
    end = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"        Python/NumPy heap still allocated after 200 more steps: {(end - start) / 1024:+.1f} KiB "
          "(tracemalloc; a leak would grow with the step count)")


def torch_runner(torch, weights, x_tr, y_tr, x_te, y_te, orders):
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(torch.from_numpy(w))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    epochs = iter(range(10 ** 9))

    def epoch():
        order = torch.from_numpy(orders[next(epochs) % len(orders)])
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()

    def accuracy():
        with torch.no_grad():
            return (model(torch.from_numpy(x_te)).argmax(1) == torch.from_numpy(y_te)).float().mean().item()
    return epoch, accuracy


if __name__ == "__main__":
    main()
