"""What the digits examples share: the data, the device choice, the train/test loop and ``main``.

scikit-learn bundles the digits data set (1,797 8x8 images of handwritten digits), so the
examples need no download. The split is fixed (20% test, stratified, seed 0).
"""
from __future__ import annotations

import argparse
import time

import plugtorch as pt
from plugtorch.utils.data import DataLoader, TensorDataset


def parse_args(description, argv=None, *, epochs, lr):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--device", default="auto",
                   help="cpu, opencl, cuda (or opencl:1 ...); auto picks cuda, then opencl, then cpu")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")
    p.add_argument("--amp", action="store_true",
                   help="mixed precision: plugtorch.autocast for the forward pass and loss, GradScaler for the step")
    p.add_argument("--amp-dtype", choices=("float16", "bfloat16"), default=None,
                   help="autocast's dtype (default: the device's, bfloat16 on cpu, float16 on opencl and cuda)")
    return p.parse_args(argv)


def pick_device(name: str) -> pt.device:
    if name != "auto":
        return pt.device(name)
    available = pt.backends.available()
    for kind in ("cuda", "opencl"):
        if kind in available:
            return pt.device(kind)
    return pt.device("cpu")


def digits(device, *, images: bool, batch_size: int, seed: int):
    """Train and test loaders; samples are (64,) vectors, or (1, 8, 8) images if ``images``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.2, stratify=y, random_state=0)
    shape = (-1, 1, 8, 8) if images else (-1, 64)

    def dataset(x, y):
        return TensorDataset(pt.tensor(x, dtype=pt.float32, device=device).reshape(shape),
                             pt.tensor(y, dtype=pt.int64, device=device))

    g = pt.Generator().manual_seed(seed)
    train = DataLoader(dataset(x_tr, y_tr), batch_size=batch_size, shuffle=True, generator=g)
    test = DataLoader(dataset(x_te, y_te), batch_size=512)
    return train, test


def accuracy(model, loader, autocast=None) -> float:
    model.eval()
    correct = total = 0
    with pt.no_grad(), autocast or pt.autocast("cpu", enabled=False):
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    model.train()
    return correct / total


def fit(model, optimizer, train, test, *, epochs, progress=True, scheduler=None, amp=False, amp_dtype=None):
    """Train for ``epochs``, printing the mean loss and the test accuracy after each. With ``amp``
    the forward pass and the loss run under ``plugtorch.autocast`` (in ``amp_dtype``, default the
    device's) and a ``GradScaler`` scales the loss and skips steps with inf/NaN gradients."""
    from tqdm import tqdm
    loss_fn = pt.nn.CrossEntropyLoss()
    device_type = next(iter(model.parameters())).device.type
    autocast = pt.autocast(device_type, dtype=amp_dtype, enabled=amp)
    scaler = pt.amp.GradScaler(device_type, enabled=amp)
    acc = 0.0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        total, n = pt.zeros((), device=next(iter(model.parameters())).device), 0
        bar = tqdm(train, desc=f"epoch {epoch:2d}/{epochs}", leave=False, disable=not progress, unit="batch")
        for x, y in bar:
            optimizer.zero_grad()
            with autocast:
                loss = loss_fn(model(x), y)
            scaler.scale(loss).backward()     # without amp: loss.backward(), optimizer.step()
            scaler.step(optimizer)
            scaler.update()
            total += loss.detach() * len(y)    # summed on the device: no host sync per batch
            n += len(y)
        if scheduler is not None:
            scheduler.step()
        acc = accuracy(model, test, autocast)
        print(f"epoch {epoch:2d}/{epochs}  loss {total.item() / n:.4f}  test accuracy {acc:.4f}  "
              f"({time.perf_counter() - start:.2f} s)", flush=True)
    return acc


def main(name: str, description: str, make_model, make_optimizer, *, images: bool, epochs: int, lr: float,
         argv=None) -> float:
    """Parse the command line, train ``make_model()`` with ``make_optimizer(parameters, lr)`` and a
    cosine schedule, and return the final test accuracy; ``name`` labels the log ("digits MLP on cpu")."""
    args = parse_args(description, argv, epochs=epochs, lr=lr)
    device = pick_device(args.device)
    pt.manual_seed(args.seed)
    amp_dtype = getattr(pt, args.amp_dtype) if args.amp_dtype else None
    amp_note = f" (autocast {(amp_dtype or pt.get_autocast_dtype(device.type)).name} + GradScaler)" if args.amp else ""
    print(f"digits {name} on {device}{amp_note}")
    train, test = digits(device, images=images, batch_size=args.batch_size, seed=args.seed)
    model = make_model().to(device)
    opt = make_optimizer(model.parameters(), args.lr)
    sched = pt.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    acc = fit(model, opt, train, test, epochs=args.epochs, progress=not args.no_progress, scheduler=sched,
              amp=args.amp, amp_dtype=amp_dtype)
    print(f"final test accuracy {acc:.4f}")
    return acc
