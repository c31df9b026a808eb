"""Factories, random fills and host transfer.

Random ops draw from each backend's own generator, so their values are not compared with
cpu's; ``compare`` checks what must hold anyway (range, moments, permutations). ``empty``
returns uninitialised memory: only shape, dtype and device are checked.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt

from ..entry import ALL_DTYPES, DEVICE, FLOAT_DTYPES, NUMERIC_DTYPES, Entry, ErrorInput, Input, Sample
from .indexing import overflowing_scalar

SHAPES = ((), (0,), (1,), (2, 3), (2, 0, 4), (64, 64))


def _full_samples(ctx):
    d = ctx.dtype
    v = True if d is pt.bool else 1.5 if d.is_floating_point else 7
    out = [Sample(s, v, dtype=d, device=DEVICE) for s in SHAPES]
    if d.is_floating_point:
        out += [Sample((3,), float("nan"), dtype=d, device=DEVICE), Sample((2,), -0.0, dtype=d, device=DEVICE),
                Sample((2,), float("-inf"), dtype=d, device=DEVICE)]
    return out


def _only_metadata(actual, expected, sample):
    return None


def _empty_samples(ctx):
    return [Sample(s, dtype=ctx.dtype, device=DEVICE) for s in SHAPES]


def _arange_samples(ctx):
    d = ctx.dtype
    cases = [(0, 10, 1), (5, -3, -2), (0, 0, 1), (3, 4, 5)]
    if d.is_floating_point:
        cases += [(0.0, 1.0, 0.1), (-1.5, 2.0, 0.5)]
    return [Sample(a, b, c, dtype=d, device=DEVICE) for a, b, c in cases]


def _fill_input(ctx, shape):
    return ctx.input(shape, requires_grad=False)


def _uniform_compare(actual, expected, sample):
    (x,) = actual
    lo, hi = sample.args[1:3] if len(sample.args) >= 3 else (0.0, 1.0)
    v = x.astype(np.float64)
    if v.size and (np.isnan(v).any() or v.min() < lo or v.max() > hi):
        return f"uniform_({lo}, {hi}) gave values outside [{lo}, {hi}]: min {v.min()}, max {v.max()}"
    if v.size >= 1000:
        mean, want = v.mean(), (lo + hi) / 2
        if abs(mean - want) > 0.05 * (hi - lo):
            return f"uniform_({lo}, {hi}) has mean {mean:.4f} over {v.size} values (expected about {want})"
    return None


def _normal_compare(actual, expected, sample):
    (x,) = actual
    mean, std = sample.args[1:3] if len(sample.args) >= 3 else (0.0, 1.0)
    v = x.astype(np.float64)
    if not np.isfinite(v).all():
        return "normal_() produced inf or nan"
    if v.size >= 1000 and (abs(v.mean() - mean) > 0.1 * std or abs(v.std() - std) > 0.1 * std):
        return f"normal_({mean}, {std}) gave mean {v.mean():.4f}, std {v.std():.4f} over {v.size} values"
    return None


def _random_compare(actual, expected, sample):
    (x,) = actual
    lo, hi = sample.args[1:3]
    v = x.astype(np.int64) if x.dtype.kind != "b" else x.astype(np.int64)
    if v.size and (v.min() < lo or v.max() >= hi):
        return f"random_({lo}, {hi}) gave values outside [{lo}, {hi}): min {v.min()}, max {v.max()}"
    if v.size >= 1000 and len(np.unique(v)) < min(hi - lo, 2):
        return f"random_({lo}, {hi}) gave only {np.unique(v)}"
    return None


def _fill_samples(*params):
    return lambda ctx: [Sample(_fill_input(ctx, s), *params) for s in ((), (0,), (7,), (3, 4), (64, 64))] + \
        [Sample(ctx.input((64, 64), layout="transposed", requires_grad=False), *params, name="non-contiguous")]


def _random_int_samples(ctx):
    hi = 2 if ctx.dtype is pt.bool else 10
    return [Sample(_fill_input(ctx, s), 0, hi) for s in ((), (0,), (7,), (64, 64))] + \
        [Sample(ctx.input((64, 64), layout="stepped", requires_grad=False), 0, hi, name="non-contiguous")]


def _to_device_samples(ctx):
    out = []
    for s, layout in (((), "contiguous"), ((0,), "contiguous"), ((3, 4), "transposed"), ((2, 6), "stepped"),
                      ((3, 4), "expanded")):
        x = ctx.input(s, layout=layout)
        host = ctx.input(s, layout=layout)
        host.on_cpu = True
        out.append(Sample(host, DEVICE, name="to the device"))
        out.append(Sample(x, pt.device("cpu"), out_device="cpu", name="back to cpu"))
    return out


def _perm_compare(actual, expected, sample):
    (x,) = actual
    n = sample.args[0]
    if sorted(x.tolist()) != list(range(n)):
        return f"randperm({n}) is not a permutation of 0..{n - 1}: {x.tolist()[:20]}"
    return None


def _bernoulli_compare(actual, expected, sample):
    (x,) = actual
    p = sample.args[1] if len(sample.args) > 1 else sample.args[0].logical().astype(np.float64)
    v = x.astype(np.float64)
    if not np.isin(v, (0.0, 1.0)).all():
        return f"bernoulli gave values other than 0 and 1: {np.unique(v)[:10]}"
    if ((p == 0) & (v != 0)).any() or ((p == 1) & (v != 1)).any():
        return "bernoulli ignored a probability of exactly 0 or 1"
    return None


def _multinomial_compare(actual, expected, sample):
    (x,) = actual
    probs = sample.args[0].logical()
    n = probs.shape[-1]
    if x.size and (x.min() < 0 or x.max() >= n):
        return f"multinomial gave category indices outside [0, {n})"
    p2 = probs.reshape(-1, n)
    x2 = x.reshape(p2.shape[0], -1)
    for row, picks in zip(p2, x2):
        if (row[picks] == 0).any():
            return "multinomial picked a category of probability 0"
        if not sample.args[2] and len(set(picks.tolist())) != len(picks):
            return "multinomial without replacement picked a category twice"
    return None


def _probs(ctx, shape):
    """Probabilities in [0, 1) with the first category impossible (it must never be drawn)."""
    v = ctx.rng.uniform(0, 1, size=shape)
    v[..., 0] = 0.0
    return Input(v.astype(ctx.dtype.numpy), ctx.dtype, requires_grad=False)


ENTRIES = [
    Entry("full", samples=_full_samples, dtypes=ALL_DTYPES,
          error_inputs=lambda ctx: [ErrorInput(Sample((2, -1), 1.0, device=DEVICE), RuntimeError, "negative dimension")]
          + ([ErrorInput(Sample((2,), overflowing_scalar(ctx.dtype), dtype=ctx.dtype, device=DEVICE), RuntimeError,
                         "without overflow")] if overflowing_scalar(ctx.dtype) is not None else [])),
    Entry("empty", samples=_empty_samples, dtypes=ALL_DTYPES, compare=_only_metadata),
    Entry("arange", samples=_arange_samples, dtypes=NUMERIC_DTYPES, error_inputs=lambda ctx: [
        ErrorInput(Sample(0, 5, 0, device=DEVICE), RuntimeError, "step must be nonzero"),
        ErrorInput(Sample(0, 5, -1, device=DEVICE), RuntimeError, "inconsistent"),
        ErrorInput(Sample(0, 1, 0.3, dtype=pt.int64, device=DEVICE), ValueError, "step must be nonzero"),
        ErrorInput(Sample(0, 1, float("inf"), dtype=pt.int32, device=DEVICE), RuntimeError, "without overflow"),
        ErrorInput(Sample(0, 3, 1e30, dtype=pt.int64, device=DEVICE), RuntimeError, "without overflow")]),
    Entry("uniform_", samples=_fill_samples(-2.0, 3.0), dtypes=FLOAT_DTYPES, compare=_uniform_compare,
          error_inputs=lambda ctx: [ErrorInput(Sample(_fill_input(ctx, (3,)), 2.0, 1.0), RuntimeError, "from <= to"),
                                    ErrorInput(Sample(_fill_input(ctx, (3,)), 0.0, float("inf")), RuntimeError,
                                               "out of bounds")]),
    Entry("normal_", samples=_fill_samples(1.0, 2.0), dtypes=FLOAT_DTYPES, compare=_normal_compare,
          error_inputs=lambda ctx: [ErrorInput(Sample(_fill_input(ctx, (3,)), 0.0, -1.0), RuntimeError, "std >= 0"),
                                    ErrorInput(Sample(_fill_input(ctx, (3,)), 0.0, float("nan")), RuntimeError,
                                               "std >= 0")]),
    Entry("random_", samples=_random_int_samples, dtypes=(pt.bool,) + NUMERIC_DTYPES, compare=_random_compare,
          error_inputs=lambda ctx: [ErrorInput(Sample(_fill_input(ctx, (3,)), 5, 5), RuntimeError, "less than"),
                                    ErrorInput(Sample(_fill_input(ctx, (3,)), 0.5, 3), TypeError, "must be int")] + (
                                    [ErrorInput(Sample(_fill_input(ctx, (3,)), 0, 2 ** 62), RuntimeError, "out of bounds")]
                                    if ctx.dtype in (pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.float16)
                                    else [])),
    Entry("_to_device", samples=_to_device_samples, dtypes=ALL_DTYPES),
    Entry("linspace", samples=lambda ctx: [Sample(0.0, 1.0, n, dtype=ctx.dtype, device=DEVICE) for n in (0, 1, 2, 7, 100)] +
          [Sample(-3, 5, 9, dtype=ctx.dtype, device=DEVICE), Sample(0, -1, 4, dtype=pt.uint8, device=DEVICE),
           Sample(-3, float("-inf"), 4, dtype=ctx.dtype, device=DEVICE, name="to -inf")], dtypes=FLOAT_DTYPES,
          error_inputs=lambda ctx: [
              ErrorInput(Sample(0.0, 1.0, 2.5, dtype=ctx.dtype, device=DEVICE), TypeError, "'steps' must be int"),
              # the ends are converted to the dtype first, as PyTorch's (uint8's -1 above wraps to 255)
              ErrorInput(Sample(-3, float("-inf"), 4, dtype=pt.int32, device=DEVICE), RuntimeError, "without overflow"),
              ErrorInput(Sample(0, 1, 3, dtype=pt.bool, device=DEVICE), NotImplementedError, "Bool")]),
    Entry("eye", samples=lambda ctx: [Sample(n, m, dtype=ctx.dtype, device=DEVICE) for n, m in ((0, None), (1, None), (3, None), (2, 5), (4, 1))],
          dtypes=ALL_DTYPES, error_inputs=lambda ctx: [
              ErrorInput(Sample(-1, dtype=ctx.dtype, device=DEVICE), RuntimeError, "n must be greater or equal to 0"),
              ErrorInput(Sample(2.5, dtype=ctx.dtype, device=DEVICE), TypeError, "'n' must be int")]),
    Entry("randperm", samples=lambda ctx: [Sample(n, dtype=ctx.dtype, device=DEVICE) for n in (0, 1, 10, 100)],
          dtypes=(pt.int32, pt.int64) + FLOAT_DTYPES[2:], compare=_perm_compare),
    Entry("bernoulli", samples=lambda ctx: [Sample(_probs(ctx, (3, 4))), Sample(_probs(ctx, (64, 64))),
                                            Sample(_fill_input(ctx, (5,)), 0.5)], dtypes=FLOAT_DTYPES,
          compare=_bernoulli_compare, differentiable=False, error_inputs=lambda ctx: [
              ErrorInput(Sample(_fill_input(ctx, (5,)), 1.5), RuntimeError, r"p to be in \[0, 1\]"),
              ErrorInput(Sample(Input(np.array([0.5, -0.5]).astype(ctx.dtype.numpy), ctx.dtype, requires_grad=False)),
                         RuntimeError, r"\[0, 1\]")]),
    Entry("multinomial", samples=lambda ctx: [Sample(_probs(ctx, (5,)), 3, False), Sample(_probs(ctx, (4, 6)), 8, True),
                                              Sample(_probs(ctx, (2, 10)), 4, False)],
          dtypes=(pt.float32, pt.float64), compare=_multinomial_compare, error_inputs=lambda ctx: [
              ErrorInput(Sample(Input(np.array([0.5, v, 0.2]).astype(ctx.dtype.numpy), ctx.dtype, requires_grad=False),
                                1, True), RuntimeError, "probability tensor contains")
              for v in (-0.1, float("nan"), float("inf"))] + [
              ErrorInput(Sample(Input(np.zeros((2, 3)).astype(ctx.dtype.numpy), ctx.dtype, requires_grad=False), 1, True),
                         RuntimeError, "sum of probabilities <= 0"),
              ErrorInput(Sample(_probs(ctx, (4,)), 0, True), RuntimeError, "n_sample <= 0"),
              ErrorInput(Sample(_probs(ctx, (4,)), 1.5, True), TypeError, "'num_samples' must be int")]),
]
