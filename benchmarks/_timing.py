"""Shared timing helpers for the benchmarks: best-of-N wall time, printed side by side."""
from __future__ import annotations

import time
import timeit


def per_call_us(fn, number=100_000, repeat=7) -> float:
    """Best per-call time in microseconds over ``repeat`` runs of ``number`` calls."""
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def best_ms(fn, repeat=10, sync=None) -> float:
    """Best single-call time in milliseconds (``sync`` waits for asynchronous devices)."""
    fn()
    if sync:
        sync()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def timed(fn, sync, inner=3) -> float:
    """Mean seconds per call over ``inner`` calls, waiting for the device once at the end (one
    round of an alternating comparison; take the median over rounds)."""
    t = time.perf_counter()
    for _ in range(inner):
        fn()
    sync()
    return (time.perf_counter() - t) / inner


def try_import_torch():
    try:
        import torch
        return torch
    except Exception:
        return None


def row(name, value, unit, ref=None, ref_name=""):
    ratio = f"{value / ref:6.2f}x {ref_name}" if ref else ""
    print(f"  {name:<34}{value:>10.3f} {unit:<6}{ratio}")
