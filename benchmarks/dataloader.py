"""DataLoader with worker processes against loading in the main process, measured in this one run.

    .venv/bin/python benchmarks/dataloader.py [--items 64] [--work 20000] [--workers 2] [--repeat 3]

A map-style dataset whose ``__getitem__`` is CPU-heavy pure Python (``--work`` loop steps
holding the GIL, then a small NumPy array made into a tensor), batched by 8. One epoch with
``num_workers=0`` against ``num_workers=N`` (fork; the time includes starting the workers)
and against a second epoch of ``persistent_workers=True`` (workers already running); the same
dataset through ``torch.utils.data.DataLoader`` when PyTorch is installed. Ratios are against
``num_workers=0`` (< 1: faster). On a 2-core machine the best possible with 2 workers is 0.5.

A second case measures transfer alone: 512 samples of 3x64x64 float32 that cost nothing to
make, batch 64 (3 MiB a batch), persistent workers: the price of moving batches between
processes (through /dev/shm files on Linux), which workers only repay with a costly
``__getitem__``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import row, try_import_torch  # noqa: E402

import plugtorch as pt  # noqa: E402
from plugtorch.utils.data import DataLoader, Dataset  # noqa: E402


class Heavy(Dataset):
    def __init__(self, items, work, to_tensor):
        self.items, self.work, self.to_tensor = items, work, to_tensor

    def __len__(self):
        return self.items

    def __getitem__(self, i):
        acc = i
        for k in range(self.work):          # pure Python: the GIL is held, threads would not help
            acc = (acc * 1103515245 + k) % 2147483648
        x = np.full((16, 16), acc % 97, dtype=np.float32)
        return self.to_tensor(x), i


class Cheap(Dataset):
    def __init__(self, to_tensor):
        self.to_tensor = to_tensor

    def __len__(self):
        return 512

    def __getitem__(self, i):
        return self.to_tensor(np.full((3, 64, 64), i, dtype=np.float32)), i


def epoch_s(loader, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        n = sum(len(y) for _, y in loader)
        best = min(best, time.perf_counter() - t)
    assert n == len(loader.dataset)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--work", type=int, default=100000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    ds = Heavy(a.items, a.work, pt.from_numpy)
    print(f"DataLoader, {a.items} items of {a.work} Python loop steps, batch 8, {os.cpu_count()} cpus "
          f"(seconds per epoch, best of {a.repeat})")
    base = epoch_s(DataLoader(ds, batch_size=8), a.repeat)
    row("plugtorch num_workers=0", base, "s")
    row(f"plugtorch num_workers={a.workers}", epoch_s(DataLoader(ds, batch_size=8, num_workers=a.workers), a.repeat),
        "s", base, "vs workers=0")
    persistent = DataLoader(ds, batch_size=8, num_workers=a.workers, persistent_workers=True)
    list(persistent)   # start the workers outside the timing
    row(f"plugtorch num_workers={a.workers} persistent", epoch_s(persistent, a.repeat), "s", base, "vs workers=0")
    cheap = Cheap(pt.from_numpy)
    print("transfer only: 512 samples of 3x64x64 float32, batch 64 (seconds per epoch)")
    cbase = epoch_s(DataLoader(cheap, batch_size=64), a.repeat)
    row("plugtorch num_workers=0", cbase, "s")
    persistent = DataLoader(cheap, batch_size=64, num_workers=a.workers, persistent_workers=True)
    list(persistent)
    row(f"plugtorch num_workers={a.workers} persistent", epoch_s(persistent, a.repeat), "s", cbase, "vs workers=0")
    torch = try_import_torch()
    if torch is not None:
        from torch.utils.data import DataLoader as TorchLoader
        tds = Heavy(a.items, a.work, torch.from_numpy)
        tbase = epoch_s(TorchLoader(tds, batch_size=8), a.repeat)
        row("torch num_workers=0", tbase, "s", base, "vs plugtorch workers=0")
        row(f"torch num_workers={a.workers}", epoch_s(TorchLoader(tds, batch_size=8, num_workers=a.workers), a.repeat),
            "s", tbase, "vs torch workers=0")


if __name__ == "__main__":
    main()
