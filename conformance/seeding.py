"""Seeded random ops on the backend under test: ``manual_seed(s)`` repeats a draw exactly; the
next call, and another seed, draw other values.

Random values are never compared with cpu's (each backend has its own stream), so these
checks run the op again on the backend itself: after ``manual_seed(seed)`` it must give the
values it gave the first time; the call after that, and the first call after
``manual_seed(seed + 1)``, must give other values. "Other" is asked only where cpu's honest
generator gives other values in at least ``MIN_CHANGED`` places: with that many places that
change independently, the chance that an honest stream repeats every one of them is below
e^-16 (a sample of few random bits, a probability of 0 or 1, dropout with p=0, is skipped).

>>> import plugtorch
>>> from plugtorch.conformance import opdb
>>> from plugtorch.conformance.entry import Input, Sample
>>> s = Sample(Input(np.zeros(100, np.float32), requires_grad=False), 0.0, 1.0)
>>> e, cpu = opdb.get("uniform_"), plugtorch.device("cpu")
>>> _ = plugtorch.manual_seed(0); out = e.fn(*s.materialize(cpu)[0])
>>> check_seeding(e, s, cpu, 0, out, out)    # no Mismatch: fine
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt
from plugtorch._device import canonical

from .compare import Mismatch, flatten, host, same_values

MIN_CHANGED = 64


def _draw(entry, sample, device) -> list:
    args, kwargs, _ = sample.materialize(device)
    return [host(t) for t in flatten(entry.fn(*args, **kwargs)) if isinstance(t, pt.Tensor)]


def _draws(entry, sample, device, seed, skip_first=False) -> tuple:
    """(first call after manual_seed(seed), the call after it, first call after manual_seed(seed + 1))."""
    pt.manual_seed(seed)
    first = None if skip_first else _draw(entry, sample, device)
    if skip_first:
        _draw(entry, sample, device)
    following = _draw(entry, sample, device)
    pt.manual_seed(seed + 1)
    return first, following, _draw(entry, sample, device)


def _changed(a, b) -> int:
    """How many elements differ between two lists of host arrays (shapes differing: all)."""
    n = 0
    for x, y in zip(a, b):
        if x.shape != y.shape:
            n += max(x.size, y.size)
        elif x.size:
            xf, yf = x.astype(np.float64), y.astype(np.float64)
            n += int((~((xf == yf) | (np.isnan(xf) & np.isnan(yf)))).sum())
    return n


def check_seeding(entry, sample, dev, seed, out, ref_out) -> None:
    """Raise ``Mismatch("seed", ...)`` unless the op on ``dev`` repeats under one seed and changes
    with the stream (the next call, another seed) wherever it changes on cpu. ``out`` and
    ``ref_out`` are the results of the first call after ``manual_seed(seed)`` on ``dev`` and cpu."""
    out = [host(t) for t in flatten(out) if isinstance(t, pt.Tensor)]
    first, following, other = _draws(entry, sample, dev, seed)
    if any(x.shape != y.shape or not same_values(x, y) for x, y in zip(first, out)):
        raise Mismatch("seed", f"two calls after manual_seed({seed}) gave different values ({_changed(first, out)} "
                        "elements differ): the kernel must draw from the generator state it is passed (the "
                        "last argument of uniform_/normal_/random_), not from a stream of its own")
    cpu_first = [host(t) for t in flatten(ref_out) if isinstance(t, pt.Tensor)]
    _, cpu_following, cpu_other = _draws(entry, sample, canonical("cpu"), seed, skip_first=True)
    for what, got, want in (("the call after it", following, cpu_following),
                            (f"the first call after manual_seed({seed + 1})", other, cpu_other)):
        if _changed(cpu_first, want) >= MIN_CHANGED and _changed(first, got) == 0:
            raise Mismatch("seed", f"the first call after manual_seed({seed}) and {what} gave the same values "
                            f"(cpu's differ in {_changed(cpu_first, want)} of {sum(x.size for x in want)} places): "
                            "the kernel must advance the generator it is passed, and draw from its seed")
