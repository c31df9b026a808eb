"""Generating calls: a conformance sample of the op, then random changes to it.

``make_call(op, seed)`` is a pure function of its arguments: the op's conformance entry
gives a sample for a dtype the seed picks (its error inputs are the conformance suite's to
check), and the seed then
picks up to three changes that keep the call's validity and, half the time, one that breaks
it (mutations.py). Every op of the registry with a conformance entry is fuzzed, so a new op
is fuzzed as soon as it has its entry.

>>> call = make_call("sum", 7)
>>> call.op, make_call("sum", 7).describe() == call.describe()
('sum', True)
"""
from __future__ import annotations

import fnmatch
import zlib

import numpy as np

from plugtorch.conformance import opdb
from plugtorch.conformance.entry import ALL_DTYPES
from plugtorch.conformance.samples import SampleContext, draws
from plugtorch.dispatch.registry import OPS

from . import mutations
from .call import UNKNOWN, VALID, Call

DRAW_POOL = 4        # hypothesis draws are slow: calls share DRAW_POOL sets of them (values stay per call)
DRAWS = 3
P_OTHER_DTYPE = 0.12    # a dtype the entry does not list (the outcome is then PyTorch's to say: unknown)
P_BREAK = 0.4           # one change that makes a valid call invalid
MAX_KEEP = 3


class FuzzContext(SampleContext):
    """A conformance sample context whose hypothesis draws come from a small shared pool."""

    def draws(self, kind):
        return draws(kind, self.max_examples, self.seed % DRAW_POOL)


def fuzz_ops(patterns=None) -> list:
    """The ops fuzzed: every registry op with a conformance entry (optionally matching globs)."""
    names = sorted(n for n in OPS if n in opdb.ENTRIES)
    if patterns:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    return names


def is_public(op: str) -> bool:
    """Users call the op by name (``plugtorch.<op>``, ``Tensor.<op>``, ``nn.functional.<op>``), so
    it must check its arguments itself; internal ops are reached through those."""
    import plugtorch as pt
    return not op.startswith("_") and any(hasattr(ns, op) for ns in (pt, pt.Tensor, pt.nn.functional))


def call_seed(run_seed: int, op: str, i: int) -> int:
    """The seed of the ``i``-th call of ``op`` in a run: independent of which other ops exist."""
    return int(np.random.SeedSequence([run_seed, zlib.crc32(op.encode()), i]).generate_state(1)[0])


def make_call(op: str, seed: int) -> Call:
    entry = opdb.get(op)
    rng = np.random.default_rng([seed, zlib.crc32(op.encode())])
    outside = [d for d in ALL_DTYPES if d not in entry.dtypes]
    if outside and rng.random() < P_OTHER_DTYPE:
        dtype, expect = outside[int(rng.integers(len(outside)))], UNKNOWN
    else:
        dtype, expect = entry.dtypes[int(rng.integers(len(entry.dtypes)))], VALID
    ctx = FuzzContext(dtype, seed=seed, max_examples=DRAWS, key=op)
    samples = list(entry.samples(ctx))
    sample = samples[int(rng.integers(len(samples)))]
    call = Call(op, seed, dtype, entry, sample, expect)
    gen = mutations.Gen(call, ctx, rng)
    keep = mutations.KEEP if is_public(op) else mutations.KEEP_INTERNAL
    for _ in range(int(rng.integers(0, MAX_KEEP + 1))):
        change = keep[int(rng.integers(len(keep)))]
        applied = change(gen)
        if applied:
            call.mutations.append(applied)
    if call.expect is VALID and is_public(op) and rng.random() < P_BREAK:
        for k in rng.permutation(len(mutations.BREAK)):
            applied = mutations.BREAK[int(k)](gen)
            if applied:
                call.mutations.append(applied)
                break
    return call
