"""Statistical checks of random draws, with fixed acceptance bounds.

Every check draws its bound from the distribution of its statistic under an honest
generator, at a false-failure probability of ``ALPHA`` (1e-6) per check: the suite runs at a
fixed seed, so a check's verdict is deterministic, and an honest backend fails one only with
probability ``ALPHA`` over the choice of seed. Each returns None, or a message saying what is
wrong. Checks apply to samples of at least ``MIN_SAMPLES`` values, where a realistic bug (a
wrong scale, a skewed or correlated stream) moves the statistic far past its bound.

>>> import numpy as np
>>> v = np.random.default_rng(0).uniform(-2, 3, 4096)
>>> uniform(v, -2, 3) is None
True
>>> uniform(v * 0.9, -2, 3)[:26]
'uniform_(-2, 3): variance '
"""
from __future__ import annotations

import numpy as np
from scipy import stats as _st

ALPHA = 1e-6           # the false-failure probability of each check
MIN_SAMPLES = 1000     # fewer values: only the support is checked
_Z = float(_st.norm.isf(ALPHA / 2))   # 4.89: a two-sided normal bound


def as_float(v) -> np.ndarray:
    """Host values (any dtype, bfloat16 included) as a flat float64 array."""
    return np.asarray(v).astype(np.float64).reshape(-1)


def mean(v, mu, sigma, what) -> str | None:
    """The sample mean within ``_Z`` standard errors of ``mu`` (normal by the central limit
    theorem: exact for normal draws, and for n >= 1000 bounded or Bernoulli draws)."""
    m, half = v.mean(), _Z * sigma / np.sqrt(v.size)
    if abs(m - mu) > half:
        return f"{what}: mean {m:.4g} over {v.size} values, expected {mu:.4g} +- {half:.4g} (a bound missed with " \
               f"probability {ALPHA:g})"
    return None


def variance(v, var, mu4=None, what="") -> str | None:
    """The sample variance against ``var``: for normal draws (``mu4`` None) the exact chi-square
    bounds of (n-1) s^2 / var; otherwise the normal approximation with Var(s^2) ~ (mu4 - var^2) / n,
    ``mu4`` the distribution's fourth central moment."""
    n = v.size
    s2 = v.var(ddof=1)
    if mu4 is None:
        lo, hi = (var * _st.chi2.ppf(q, n - 1) / (n - 1) for q in (ALPHA / 2, 1 - ALPHA / 2))
    else:
        half = _Z * np.sqrt(max(mu4 - var * var, 0.0) / n)
        lo, hi = var - half, var + half
    if not lo <= s2 <= hi:
        return f"{what}: variance {s2:.4g} over {n} values, expected {var:.4g} (accepted [{lo:.4g}, {hi:.4g}])"
    return None


def ks(v, dist, resolution, what) -> str | None:
    """Kolmogorov-Smirnov distance to the continuous ``dist`` (a frozen scipy distribution).

    Values rounded to a dtype's grid sit up to one grid step from the draw they came from, which
    moves the empirical CDF by at most (largest density) x (largest step): ``resolution`` is that
    step, and the bound is the KS critical value at ``ALPHA`` plus that shift."""
    d = _st.kstest(v, dist.cdf).statistic
    shift = float(dist.pdf(dist.ppf(np.linspace(0, 1, 201)[1:-1])).max()) * resolution
    bound = float(_st.kstwo.isf(ALPHA, v.size)) + shift
    if d > bound:
        return f"{what}: the values do not follow the distribution (Kolmogorov-Smirnov distance {d:.4f} over " \
               f"{v.size} values, accepted up to {bound:.4f})"
    return None


def chi_square(counts, probs, what, labels=None) -> str | None:
    """Observed ``counts`` against category probabilities ``probs`` (Pearson's test; categories
    expected fewer than 5 times are merged into one, so the chi-square law holds). A count in a
    category of probability 0 fails outright."""
    counts, probs = np.asarray(counts, np.float64), np.asarray(probs, np.float64)
    labels = list(range(len(counts))) if labels is None else list(labels)
    impossible = (probs == 0) & (counts > 0)
    if impossible.any():
        i = int(np.argmax(impossible))
        return f"{what}: drew {labels[i]!r} {int(counts[i])} times, a value of probability 0"
    n = counts.sum()
    expected = n * probs / probs.sum()
    small = expected < 5
    if small.any():
        counts = np.append(counts[~small], counts[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
        if expected[-1] == 0:
            counts, expected = counts[:-1], expected[:-1]
    if len(counts) < 2:
        return None
    stat, p = _st.chisquare(counts, expected)
    if p < ALPHA:
        worst = int(np.argmax((counts - expected) ** 2 / expected))
        lab = labels[worst] if not small.any() and worst < len(labels) else "(a category)"
        return f"{what}: the frequencies do not follow the distribution (chi-square {stat:.1f} on " \
               f"{len(counts) - 1} degrees of freedom, p = {p:.2g} < {ALPHA:g}; {lab!r} drawn " \
               f"{int(counts[worst])} times, expected {expected[worst]:.1f})"
    return None


def binomial(k, n, p, what) -> str | None:
    """``k`` successes in ``n`` independent trials of probability ``p`` (exact binomial test)."""
    if _st.binomtest(int(k), int(n), p).pvalue < ALPHA:
        return f"{what}: {int(k)} of {int(n)} ({k / n:.4f}), expected a fraction {p:.4g} (binomial test, p < {ALPHA:g})"
    return None


def independent(v, what) -> str | None:
    """Consecutive values uncorrelated: the lag-1 correlation of n independent values is about
    N(0, 1/n). Catches streams that repeat or reuse values (Box-Muller writing one value twice)."""
    x = v - v.mean()
    denom = float((x * x).sum())
    if v.size < 3 or denom == 0:
        return None
    r = float((x[:-1] * x[1:]).sum()) / denom
    if abs(r) * np.sqrt(v.size) > _Z:
        return f"{what}: consecutive values are correlated (lag-1 correlation {r:.3f} over {v.size} values, " \
               f"accepted |r| <= {_Z / np.sqrt(v.size):.3f}): the stream repeats or reuses values"
    return None


def distinct(values, what) -> str | None:
    """Enough distinct values for a float32/float64 draw: a generator with 24 (53) random bits
    makes n values collide in about n^2 / 2^25 pairs (0.5 for n = 4096); the bound is Poisson's at
    ``ALPHA`` around four times that. Catches generators with too few random bits."""
    values = np.asarray(values)
    if values.dtype not in (np.float32, np.float64) or values.size < MIN_SAMPLES:
        return None
    n = values.size
    bits = 24 if values.dtype == np.float32 else 53
    mu = 4 * n * (n - 1) / 2 / 2.0 ** (bits + 1)
    bound = int(_st.poisson.isf(ALPHA, mu))
    collisions = n - len(np.unique(values))
    if collisions > bound:
        return f"{what}: only {n - collisions} distinct values among {n} ({collisions} repeats, at most {bound} " \
               f"expected from a generator with {bits} random bits): the generator has too few random bits"
    return None


def uniform(v, lo, hi, *, resolution=0.0, what=None) -> str | None:
    """Mean, variance and KS distance of continuous uniform draws on [lo, hi)."""
    what = what or f"uniform_({lo:g}, {hi:g})"
    v = as_float(v)
    w = hi - lo
    return (mean(v, (lo + hi) / 2, w / np.sqrt(12), what) or variance(v, w * w / 12, w ** 4 / 80, what)
            or ks(v, _st.uniform(lo, w), resolution, what) or independent(v, what))


def normal(v, mu, sigma, *, resolution=0.0, what=None) -> str | None:
    """Mean, variance and KS distance of normal draws."""
    what = what or f"normal_({mu:g}, {sigma:g})"
    v = as_float(v)
    return (mean(v, mu, sigma, what) or variance(v, sigma * sigma, None, what)
            or ks(v, _st.norm(mu, sigma), resolution, what) or independent(v, what))


def discrete_uniform(v, lo, hi, what) -> str | None:
    """Integers uniform on [lo, hi): every value's frequency for small ranges; for wide ones the
    low four bits (exact probabilities of (v - lo) mod 16), the KS distance of (v - lo) / span,
    mean and variance."""
    span = hi - lo
    # offsets from lo, exact for any int64 range: uint64 arithmetic wraps modulo 2^64
    off = np.asarray(v).astype(np.int64).reshape(-1).view(np.uint64) - np.uint64(lo % 2 ** 64)
    if span <= 256:
        return chi_square(np.bincount(off.astype(np.int64), minlength=span), np.ones(span), what,
                          labels=[lo + i for i in range(span)]) or independent(as_float(v), what)
    residues = np.array([(span - r - 1) // 16 + 1 for r in range(16)], np.float64)
    low_bits = np.bincount((off % np.uint64(16)).astype(np.int64), minlength=16)
    u = off.astype(np.float64) / float(span)
    return (chi_square(low_bits, residues, f"{what}, the values mod 16")
            or mean(u, 0.5, np.sqrt(1 / 12), what) or ks(u, _st.uniform(0, 1), 1.0 / span, what)
            or independent(u, what))


def positions(perms, what) -> str | None:
    """Rows that are uniform random permutations of 0..n-1: how often each value lands in each
    position. The R x n counts have every row and column summing to R, so Pearson's statistic
    follows chi-square with (n-1)^2 degrees of freedom (a contingency table with fixed margins)."""
    perms = np.asarray(perms).astype(np.int64)
    r, n = perms.shape
    if n < 2:
        return None
    counts = np.zeros((n, n))
    np.add.at(counts, (np.broadcast_to(np.arange(n), perms.shape), perms), 1)
    e = r / n
    stat = float(((counts - e) ** 2 / e).sum())
    p = float(_st.chi2.sf(stat, (n - 1) ** 2))
    if p < ALPHA:
        i, j = np.unravel_index(np.argmax(np.abs(counts - e)), counts.shape)
        return f"{what}: values are not uniform over the positions (chi-square {stat:.1f} on {(n - 1) ** 2} degrees " \
               f"of freedom, p = {p:.2g} < {ALPHA:g}; {j} landed in position {i} {int(counts[i, j])} times of {r}, " \
               f"expected {e:.1f})"
    return None


def bernoulli(x, p, what) -> str | None:
    """0/1 draws ``x`` with probabilities ``p`` (same shape): the number of ones among the
    elements of each quarter of the probabilities against its mean sum(p) and variance
    sum(p (1-p)); the four normal scores squared sum to a chi-square with 4 degrees of freedom."""
    x, p = as_float(x), np.broadcast_to(np.asarray(p, np.float64), np.shape(x)).reshape(-1)
    edges = np.quantile(p, [0.25, 0.5, 0.75])
    bins = np.searchsorted(edges, p, side="right")
    z2, worst = 0.0, None
    for b in range(4):
        m = bins == b
        var = float((p[m] * (1 - p[m])).sum())
        if var == 0:
            continue
        z = (float(x[m].sum()) - float(p[m].sum())) / np.sqrt(var)
        z2 += z * z
        if worst is None or abs(z) > abs(worst[0]):
            worst = (z, int(x[m].sum()), float(p[m].sum()), int(m.sum()), float(p[m].mean()))
    if worst is not None and _st.chi2.sf(z2, 4) < ALPHA:
        z, k, mu, n, pm = worst
        return f"{what}: {k} ones among {n} elements of mean probability {pm:.3f}, expected {mu:.1f} (chi-square " \
               f"{z2:.1f} on 4 degrees of freedom over the quarters of the probabilities, p < {ALPHA:g})"
    return None


def without_replacement(p, k) -> np.ndarray:
    """The exact probability that category j is drawn k-th, for successive draws without
    replacement with weights ``p`` (a (k, n) table; every ordered k-tuple enumerated)."""
    import itertools
    p = np.asarray(p, np.float64) / np.sum(p)
    nz = [j for j in range(len(p)) if p[j] > 0]
    out = np.zeros((k, len(p)))
    for seq in itertools.permutations(nz, k):
        prob, left = 1.0, 1.0
        for j in seq:
            prob *= p[j] / left
            left -= p[j]
        for t, j in enumerate(seq):
            out[t, j] += prob
    return out
