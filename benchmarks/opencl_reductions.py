"""opencl reductions (eager) against NumPy on the same machine, measured in this one run.

    .venv/bin/python benchmarks/opencl_reductions.py [--n 4096] [--rounds 7]

Each op on an n x n float32 matrix: plugtorch on opencl (waiting for the device) and the NumPy
call computing the same thing, in alternating rounds; the medians and their ratio are printed
(ratio > 1: opencl is slower). softmax/log_softmax are NumPy written the usual way
(max, subtract, exp, sum, divide). On PoCL this is a CPU against a CPU.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import timed  # noqa: E402

import plugtorch as pt  # noqa: E402


def _np_softmax(a):
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _np_log_softmax(a):
    s = a - a.max(1, keepdims=True)
    return s - np.log(np.exp(s).sum(1, keepdims=True))


def cases(x, a):
    return [
        ("sum()", lambda: x.sum(), lambda: a.sum()),
        ("sum(0)", lambda: x.sum(0), lambda: a.sum(0)),
        ("sum(1)", lambda: x.sum(1), lambda: a.sum(1)),
        ("mean(0)", lambda: x.mean(0), lambda: a.mean(0)),
        ("amax(0)", lambda: x.amax(0), lambda: a.max(0)),
        ("amax(1)", lambda: x.amax(1), lambda: a.max(1)),
        ("amin()", lambda: x.amin(), lambda: a.min()),
        ("prod(1)", lambda: x.prod(1), lambda: a.prod(1)),
        ("var(1)", lambda: x.var(1), lambda: a.var(1, ddof=1)),
        ("argmax(1)", lambda: x.argmax(1), lambda: a.argmax(1)),
        ("softmax(1)", lambda: x.softmax(1), lambda: _np_softmax(a)),
        ("log_softmax(1)", lambda: x.log_softmax(1), lambda: _np_log_softmax(a)),
        ("sum(0) of x.T", lambda: x.t().sum(0), lambda: a.T.sum(0)),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--inner", type=int, default=3)
    args = ap.parse_args()
    sync = pt.opencl.synchronize
    print(f"device: {pt.opencl.get_device_name(0)}; {args.n} x {args.n} float32, median of "
          f"{args.rounds} alternating rounds of {args.inner} calls")
    a = np.random.default_rng(0).standard_normal((args.n, args.n), dtype=np.float32) * 0.1 + 1
    x = pt.tensor(a, device="opencl")
    print(f"  {'op':<16}{'opencl ms':>11}{'numpy ms':>11}{'ratio':>9}")
    for name, f, g in cases(x, a):
        f()
        g()
        sync()
        tf, tg = [], []
        for _ in range(args.rounds):
            tf.append(timed(f, sync, args.inner))
            tg.append(timed(g, lambda: None, args.inner))
        mf, mg = statistics.median(tf) * 1e3, statistics.median(tg) * 1e3
        print(f"  {name:<16}{mf:>11.2f}{mg:>11.2f}{mf / mg:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
