"""What every worker of benchmarks/distributed.py shares: the model's sizes, its initial weights and
the random batches (NumPy only, so the PyTorch worker can import it without plugtorch), and the
one line of JSON a worker prints for the driver.
"""
from __future__ import annotations

import json

import numpy as np

SIZES = (784, 1024, 1024, 10)     # the MLP: Linear-ReLU-Linear-ReLU-Linear
GLOBAL_BATCH = 256
LR = 0.01
N_BATCHES = 4                     # distinct global batches, visited in turn
RESULT_TAG = "RESULT "            # prefix of the line a worker prints for the driver


def initial_weights(seed: int = 0) -> list[np.ndarray]:
    """``[w1, b1, w2, b2, w3, b3]`` as nn.Linear's default initialisation draws them."""
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / np.sqrt(fan_in)
        out += [rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                rng.uniform(-bound, bound, fan_out).astype(np.float32)]
    return out


def batches(rank: int, world_size: int, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """This rank's share (rows ``rank::world_size`` blocks) of the ``N_BATCHES`` global batches:
    every world size sees the same global batches, so the trained parameters agree."""
    rng = np.random.default_rng(seed)
    local = GLOBAL_BATCH // world_size
    out = []
    for _ in range(N_BATCHES):
        x = rng.standard_normal((GLOBAL_BATCH, SIZES[0]), dtype=np.float32)
        y = rng.integers(0, SIZES[-1], GLOBAL_BATCH).astype(np.int64)
        rows = slice(rank * local, (rank + 1) * local)
        out.append((np.ascontiguousarray(x[rows]), y[rows].copy()))
    return out


def update_size(trained, initial) -> float:
    """sum |trained - initial| over the parameters: how far training moved them, which every
    framework and world size should agree on (an unaveraged or unsynchronised gradient would not)."""
    return float(sum(np.abs(t.astype(np.float64) - i).sum() for t, i in zip(trained, initial)))


def report(**fields) -> None:
    print(RESULT_TAG + json.dumps(fields), flush=True)
