"""Threads sharing a leaf: every thread's backward runs on its own graph, and the gradients
they add into the shared leaf's .grad are accumulated atomically, as in PyTorch.

Before the fix, cpu lost some of the additions (a read-modify-write race in accumulation) and
opencl corrupted its heap (two threads setting the arguments of one cached cl.Kernel).
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

import plugtorch as pt

DEVICES = pt.backends.available()    # cpu, opencl, the example plug-in 'strict', cuda if present
THREADS, PASSES, REPEATS = 8, 200, 20
# cpu: 256 KiB of float32, large enough for the dispatcher's temporary elision (the result of
# `w * x` is overwritten by `+ 1`); the other backends take a smaller size to keep this quick
SIZES = {"cpu": 1 << 16}


def _run_threads(fn):
    errors = []

    def guarded():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001  (re-raised in the main thread below)
            errors.append(e)
    threads = [threading.Thread(target=guarded) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.mark.parametrize("device", DEVICES)
def test_backward_into_a_shared_leaf_from_eight_threads(device):
    n = SIZES.get(device, 4096)
    xs = np.arange(n) % 7
    x = pt.tensor(xs, dtype=pt.float32, device=device)
    expected = xs * 2.0 * THREADS * PASSES     # exact in float32
    for _ in range(REPEATS):
        w = pt.ones(n, device=device, requires_grad=True)

        def work():
            for _ in range(PASSES):
                ((w * x + 1) * 2).sum().backward()
        _run_threads(work)
        np.testing.assert_array_equal(w.grad.cpu().numpy(), expected)


def test_retained_non_leaf_gradient_from_eight_threads():
    w = pt.ones(3, requires_grad=True)
    shared = w * 2
    shared.retain_grad()

    def work():
        for _ in range(PASSES):
            (shared * pt.tensor([1.0, 2.0, 3.0])).sum().backward(retain_graph=True)
    _run_threads(work)
    assert shared.grad.tolist() == [1600.0, 3200.0, 4800.0]
    assert w.grad.tolist() == [3200.0, 6400.0, 9600.0]
