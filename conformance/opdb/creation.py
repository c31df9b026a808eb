"""Factories, random fills and host transfer.

Random ops draw from each backend's own generator, so their values are not compared with
cpu's: ``compare`` checks the support (range, integers, permutations, probabilities 0 and 1)
and, on samples of 1000 values or more, the distribution with the fixed-bound tests of
stats.py; the runner checks that a seed repeats the draw on the backend (seeding.py). ``empty``
returns uninitialised memory: only shape, dtype and device are checked.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt
from plugtorch import _dtypes

from .. import stats
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


# ---- random fills: support, seed (seeding.py) and distribution (stats.py) -------------------
def _spacing(dtype, magnitude):
    """The distance between neighbouring values of ``dtype`` (host NumPy) near ``magnitude``."""
    eps = float(_dtypes.finfo(_dtypes.from_numpy_dtype(dtype)).eps)
    return eps * 2.0 ** np.floor(np.log2(max(abs(magnitude), 1e-30)))


def _uniform_compare(actual, expected, sample):
    (x,) = actual
    lo, hi = sample.args[1:3]
    v = stats.as_float(x)
    if v.size and (np.isnan(v).any() or v.min() < lo or v.max() >= hi):
        return f"uniform_({lo}, {hi}) gave values outside [{lo}, {hi}): min {v.min()}, max {v.max()} (a draw that " \
               "rounds to `to` in the dtype must become `from`, as PyTorch does)"
    if v.size >= stats.MIN_SAMPLES:
        return stats.uniform(v, lo, hi, resolution=_spacing(x.dtype, max(abs(lo), abs(hi)))) or \
            stats.distinct(x, f"uniform_({lo}, {hi})")
    return None


def _normal_compare(actual, expected, sample):
    (x,) = actual
    mean, std = sample.args[1:3]
    v = stats.as_float(x)
    if not np.isfinite(v).all():
        return f"normal_({mean}, {std}) produced inf or nan"
    if v.size >= stats.MIN_SAMPLES:
        return stats.normal(v, mean, std, resolution=_spacing(x.dtype, abs(mean) + 6 * std)) or \
            stats.distinct(x, f"normal_({mean}, {std})")
    return None


def _exponential_compare(actual, expected, sample):
    (x,) = actual
    lambd = sample.args[1]
    v = stats.as_float(x)
    if v.size and not (np.isfinite(v).all() and v.min() >= 0):
        return f"exponential_({lambd}) gave values outside [0, inf): min {v.min()}, max {v.max()}"
    if v.size >= stats.MIN_SAMPLES:
        from scipy.stats import expon
        what, m = f"exponential_({lambd})", 1 / lambd
        return stats.mean(v, m, m, what) or stats.variance(v, m * m, 9 * m ** 4, what) or \
            stats.ks(v, expon(scale=m), _spacing(x.dtype, 8 * m), what) or stats.independent(v, what)
    return None


def _integers_compare(op, bounds):
    """Support [low, high) and a uniform distribution for random_ and randint (``bounds(sample)``)."""
    def compare(actual, expected, sample):
        (x,) = actual
        lo, hi = bounds(sample)
        v = x.astype(np.int64)
        what = f"{op}({lo}, {hi})"
        if v.size and (v.min() < lo or v.max() > hi - 1 or (x.dtype.kind == "f" and (v != x).any())):
            return f"{what} gave values outside the integers of [{lo}, {hi}): min {x.min()}, max {x.max()}"
        if v.size >= stats.MIN_SAMPLES:
            return stats.discrete_uniform(x, lo, hi, what)
        return None
    return compare


def _randint_bounds(sample):
    a = sample.args
    return (0, a[0]) if len(a) == 2 else (a[0], a[1])


def _fill_samples(*params, stat=None):
    """uniform_/normal_ samples: 0-d, empty, small, 64x64 and a non-contiguous 64x64; ``stat``
    adds a 64x64 sample with other parameters (the defaults rand/randn use)."""
    return lambda ctx: [Sample(_fill_input(ctx, s), *params) for s in ((), (0,), (7,), (3, 4), (64, 64))] + \
        [Sample(ctx.input((64, 64), layout="transposed", requires_grad=False), *params, name="non-contiguous")] + \
        ([Sample(_fill_input(ctx, (64, 64)), *stat)] if stat else [])


def _full_range(dtype):
    """The widest range random_ takes for ``dtype``: all its integers (int64: PyTorch's `to` must
    be an int64 too), or the floats' exact integers [0, 2^digits]."""
    if dtype is pt.bool:
        return 0, 2
    if dtype.is_floating_point:
        from plugtorch.dispatch.arguments import MANTISSA_DIGITS
        return 0, 2 ** MANTISSA_DIGITS[dtype] + 1
    info = _dtypes.iinfo(dtype)
    return int(info.min), min(int(info.max) + 1, 2 ** 63 - 1)


def _random_int_samples(ctx):
    hi = 2 if ctx.dtype is pt.bool else 10
    return [Sample(_fill_input(ctx, s), 0, hi) for s in ((), (0,), (7,), (64, 64))] + \
        [Sample(ctx.input((64, 64), layout="stepped", requires_grad=False), 0, hi, name="non-contiguous"),
         Sample(_fill_input(ctx, (64, 64)), *_full_range(ctx.dtype), name="the dtype's range")]


def _randint_samples(ctx):
    d = dict(dtype=ctx.dtype, device=DEVICE)
    lo, hi = _full_range(ctx.dtype)
    return [Sample(10, (3,), **d), Sample(-5 if ctx.dtype is not pt.uint8 else 5, 7, (), **d),
            Sample(0, 10, (64, 64), **d), Sample(lo, hi, (64, 64), **d, name="the dtype's range")]


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


def _randperm(n, *, repeat=None, **kw):
    """randperm(n), or ``repeat`` of them stacked: enough permutations for a statistic."""
    if repeat is None:
        return pt.ops.randperm(n, **kw)
    return pt.stack([pt.ops.randperm(n, **kw) for _ in range(repeat)])


def _randperm_samples(ctx):
    d = dict(dtype=ctx.dtype, device=DEVICE)
    out = [Sample(n, **d) for n in (0, 1, 10, 100, 2000)]
    if ctx.dtype is pt.int64:   # (the positions do not depend on the dtype: checked once)
        out.append(Sample(8, repeat=200, **d, name="200 permutations"))
    return out


def _perm_compare(actual, expected, sample):
    (x,) = actual
    n = sample.args[0]
    if n == 0:
        return None if x.size == 0 else f"randperm(0) gave {x.size} values"
    perms = x.reshape(-1, n).astype(np.int64)
    if x.dtype.kind == "f" and (perms != x.reshape(-1, n)).any() or \
            (np.sort(perms, axis=1) != np.arange(n)).any():
        return f"randperm({n}) is not a permutation of 0..{n - 1}: {x.reshape(-1, n)[0].tolist()[:20]}"
    if n >= stats.MIN_SAMPLES:
        return stats.independent(stats.as_float(x), f"randperm({n})")
    if perms.size >= stats.MIN_SAMPLES:
        return stats.positions(perms, f"randperm({n}) drawn {perms.shape[0]} times")
    return None


def _bernoulli_compare(actual, expected, sample):
    (x,) = actual
    p = sample.args[1] if len(sample.args) > 1 else sample.args[0].logical().astype(np.float64)
    v = stats.as_float(x)
    if not np.isin(v, (0.0, 1.0)).all():
        return f"bernoulli gave values other than 0 and 1: {np.unique(v)[:10]}"
    pf = np.broadcast_to(p, x.shape).reshape(-1)
    if ((pf == 0) & (v != 0)).any() or ((pf == 1) & (v != 1)).any():
        return "bernoulli ignored a probability of exactly 0 or 1 (a 1 where p is 0, or a 0 where p is 1)"
    if v.size >= stats.MIN_SAMPLES:
        what = f"bernoulli(p={p})" if np.ndim(p) == 0 else "bernoulli(p)"
        if np.ndim(p) == 0:   # one probability: the count of ones, and no pattern in the stream
            return stats.binomial(v.sum(), v.size, p, what) or stats.independent(v, what) if 0 < p < 1 else None
        return stats.bernoulli(v, pf, what)
    return None


def _bernoulli_samples(ctx):
    const = np.full((64, 64), 0.3)
    const[:, :8] = (0.0, 1.0) * 4     # exact 0 and 1 amid the others
    return [Sample(_probs(ctx, (3, 4))), Sample(_probs(ctx, (64, 64))), Sample(_fill_input(ctx, (5,)), 0.5),
            Sample(Input(const.astype(ctx.dtype.numpy), ctx.dtype, requires_grad=False), name="p = 0.3, 0 and 1"),
            Sample(_fill_input(ctx, (64, 64)), 0.2), Sample(_fill_input(ctx, (7,)), 0.0),
            Sample(_fill_input(ctx, (7,)), 1.0)]


def _multinomial_compare(actual, expected, sample):
    (x,) = actual
    probs, k, replacement = sample.args[0].logical(), sample.args[1], sample.args[2]
    n = probs.shape[-1]
    if x.size and (x.min() < 0 or x.max() >= n):
        return f"multinomial gave category indices outside [0, {n})"
    p2 = probs.reshape(-1, n).astype(np.float64)
    x2 = x.reshape(p2.shape[0], -1)
    for row, picks in zip(p2, x2):
        if (row[picks] == 0).any():
            return "multinomial picked a category of probability 0"
        if not replacement and len(set(picks.tolist())) != len(picks):
            return "multinomial without replacement picked a category twice"
    if x.size < stats.MIN_SAMPLES or (p2 != p2[0]).any():
        return None
    what = f"multinomial({k} of {p2[0].tolist()}, replacement={replacement})"
    if replacement:
        return stats.chi_square(np.bincount(x2.reshape(-1), minlength=n), p2[0], what)
    law = stats.without_replacement(p2[0], k)
    for t in range(k):
        msg = stats.chi_square(np.bincount(x2[:, t], minlength=n), law[t], f"{what}, draw {t + 1}")
        if msg:
            return msg
    return None


def _probs(ctx, shape):
    """Probabilities in [0, 1) with the first category impossible (it must never be drawn)."""
    v = ctx.rng.uniform(0, 1, size=shape)
    v[..., 0] = 0.0
    return Input(v.astype(ctx.dtype.numpy), ctx.dtype, requires_grad=False)


_WEIGHTS = np.array([0.0, 1.0, 2.0, 3.0, 0.5, 2.5])   # unnormalised, one impossible category


def _multinomial_samples(ctx):
    rows = Input(np.tile(_WEIGHTS, (700, 1)).astype(ctx.dtype.numpy), ctx.dtype, requires_grad=False)
    return [Sample(_probs(ctx, (5,)), 3, False), Sample(_probs(ctx, (4, 6)), 8, True),
            Sample(_probs(ctx, (2, 10)), 4, False), Sample(rows, 3, True, name="700 rows alike"),
            Sample(rows, 3, False, name="700 rows alike")]


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
    Entry("uniform_", samples=_fill_samples(-2.0, 3.0, stat=(0.0, 1.0)), dtypes=FLOAT_DTYPES, compare=_uniform_compare,
          error_inputs=lambda ctx: [ErrorInput(Sample(_fill_input(ctx, (3,)), 2.0, 1.0), RuntimeError, "from <= to"),
                                    ErrorInput(Sample(_fill_input(ctx, (3,)), 0.0, float("inf")), RuntimeError,
                                               "out of bounds")]),
    Entry("normal_", samples=_fill_samples(1.0, 2.0, stat=(0.0, 1.0)), dtypes=FLOAT_DTYPES, compare=_normal_compare,
          error_inputs=lambda ctx: [ErrorInput(Sample(_fill_input(ctx, (3,)), 0.0, -1.0), RuntimeError, "std >= 0"),
                                    ErrorInput(Sample(_fill_input(ctx, (3,)), 0.0, float("nan")), RuntimeError,
                                               "std >= 0")]),
    Entry("exponential_", fn=lambda x, lambd: x.exponential_(lambd), samples=_fill_samples(2.0, stat=(0.5,)),
          dtypes=FLOAT_DTYPES, compare=_exponential_compare, inplace=True, random=True, error_inputs=lambda ctx: [
              ErrorInput(Sample(_fill_input(ctx, (3,)), 0.0), RuntimeError, "lambda > 0")]),
    Entry("random_", samples=_random_int_samples, dtypes=(pt.bool,) + NUMERIC_DTYPES,
          compare=_integers_compare("random_", lambda s: s.args[1:3]),
          error_inputs=lambda ctx: [ErrorInput(Sample(_fill_input(ctx, (3,)), 5, 5), RuntimeError, "less than"),
                                    ErrorInput(Sample(_fill_input(ctx, (3,)), 0.5, 3), TypeError, "must be int")] + (
                                    [ErrorInput(Sample(_fill_input(ctx, (3,)), 0, 2 ** 62), RuntimeError, "out of bounds")]
                                    if ctx.dtype in (pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.float16)
                                    else [])),
    Entry("randint", op="random_", fn=pt.randint, samples=_randint_samples, dtypes=NUMERIC_DTYPES, inplace=False,
          compare=_integers_compare("randint", _randint_bounds), error_inputs=lambda ctx: [
              ErrorInput(Sample(5, 5, (3,), dtype=ctx.dtype, device=DEVICE), RuntimeError, "less than"),
              ErrorInput(Sample(0, 2 ** 63, (3,), dtype=ctx.dtype, device=DEVICE), ValueError, "Overflow")]),
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
    Entry("randperm", samples=_randperm_samples, fn=_randperm, dtypes=(pt.int32, pt.int64) + FLOAT_DTYPES[2:],
          compare=_perm_compare),
    Entry("bernoulli", samples=_bernoulli_samples, dtypes=FLOAT_DTYPES,
          compare=_bernoulli_compare, differentiable=False, error_inputs=lambda ctx: [
              ErrorInput(Sample(_fill_input(ctx, (5,)), 1.5), RuntimeError, r"p to be in \[0, 1\]"),
              ErrorInput(Sample(Input(np.array([0.5, -0.5]).astype(ctx.dtype.numpy), ctx.dtype, requires_grad=False)),
                         RuntimeError, r"\[0, 1\]")]),
    Entry("multinomial", samples=_multinomial_samples,
          dtypes=(pt.float32, pt.float64), compare=_multinomial_compare, error_inputs=lambda ctx: [
              ErrorInput(Sample(Input(np.array([0.5, v, 0.2]).astype(ctx.dtype.numpy), ctx.dtype, requires_grad=False),
                                1, True), RuntimeError, "probability tensor contains")
              for v in (-0.1, float("nan"), float("inf"))] + [
              ErrorInput(Sample(Input(np.zeros((2, 3)).astype(ctx.dtype.numpy), ctx.dtype, requires_grad=False), 1, True),
                         RuntimeError, "sum of probabilities <= 0"),
              ErrorInput(Sample(_probs(ctx, (4,)), 0, True), RuntimeError, "n_sample <= 0"),
              ErrorInput(Sample(_probs(ctx, (4,)), 1.5, True), TypeError, "'num_samples' must be int")]),
]


# ---- dropout (its entry is in nn.py): a mask drawn with bernoulli_, the kept values scaled ---
def dropout(input, p, training=True):
    import plugtorch.nn.functional as F
    return F.dropout(input, p, training)


def dropout_samples(ctx):
    def x(shape, layout="contiguous"):   # values away from 0: a dropped element is told by its 0
        inp = ctx.input(shape, layout=layout, requires_grad=False)
        v = inp.values.astype(np.float64)
        inp.values = (np.where(v < 0, -1.0, 1.0) * (0.5 + np.abs(v) / 6)).astype(inp.values.dtype)
        return inp
    return [Sample(x((3, 4)), 0.3), Sample(x((64, 64)), 0.2), Sample(x((64, 64)), 0.5),
            Sample(x((64, 64), "transposed"), 0.2, name="non-contiguous"), Sample(x((7,)), 0.0),
            Sample(x((7,)), 1.0), Sample(x((64, 64)), 0.3, False, name="eval")]


def dropout_compare(actual, expected, sample):
    (y,) = actual
    p = sample.args[1]
    training = sample.args[2] if len(sample.args) > 2 else True
    x, v = sample.args[0].logical().astype(np.float64), stats.as_float(y)
    x = x.reshape(-1)
    if not training or p == 0:
        return None if np.array_equal(v, x) else f"dropout(p={p}, training={training}) changed its input's values"
    if p == 1:
        return None if not v.any() else "dropout(p=1) kept some elements (all must be 0)"
    kept = v != 0
    eps = float(_dtypes.finfo(_dtypes.from_numpy_dtype(y.dtype)).eps)
    scaled = x[kept] / (1 - p)
    bad = np.abs(v[kept] - scaled) > 4 * eps * np.abs(scaled)
    if bad.any():
        i = int(np.argmax(bad))
        return f"dropout(p={p}) kept {x[kept][i]} as {v[kept][i]}; kept values must be scaled by 1/(1-p) = " \
               f"{1 / (1 - p):.6g} (to {scaled[i]:.6g})"
    if v.size >= stats.MIN_SAMPLES:
        what = f"dropout(p={p}), the elements kept"
        return stats.binomial(kept.sum(), kept.size, 1 - p, what) or stats.independent(kept.astype(np.float64), what)
    return None
