"""The random ops' checks: seeding (conformance/seeding.py), the statistics with fixed bounds
(conformance/stats.py) and the random entries' comparisons, against honest draws and against
the bugs a backend author writes."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import _dtypes
from plugtorch.conformance import FAIL, PASS, VIA_DECOMPOSITION, opdb, run, stats
from plugtorch.conformance.entry import Input, Sample
from plugtorch.conformance.opdb import creation

from .planted import register
from .planted.random import BUGS

RANDOM_ENTRIES = ["uniform_", "normal_", "random_", "randint", "randperm", "bernoulli", "multinomial", "dropout",
                  "exponential_"]


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_random_bug_is_caught_at_other_seeds(bug):
    """Caught at seeds 1 and 2 too (seed 0 is test_planted_bugs'), so not by luck."""
    for seed in (1, 2):
        name = register(bug)
        try:
            dtypes = [_dtypes.to_dtype(d) for d in bug.dtypes] if bug.dtypes else None
            results = run([name], opdb.select([bug.op]), dtypes, seed=seed)
        finally:
            pt.backends.unregister(name)
        assert any(r.status == FAIL for r in results), f"'{bug.name}' let through at seed {seed}"


@pytest.mark.parametrize("seed", [3, 4])
def test_honest_cpu_passes_the_random_entries_at_other_seeds(seed):
    results = run(["cpu"], opdb.select(RANDOM_ENTRIES), seed=seed)
    assert {r.op for r in results} == set(RANDOM_ENTRIES)
    failed = [f"{r.op} {r.dtype}: {r.failures[0]}" for r in results if r.status not in (PASS, VIA_DECOMPOSITION)]
    assert not failed, failed


def test_every_random_op_of_the_registry_is_checked_for_its_seed():
    random_ops = {n for n, op in pt.dispatch.registry.OPS.items() if "random" in op.tags}
    assert random_ops <= {e.op for e in opdb.ENTRIES.values() if e.random}, random_ops
    assert opdb.get("dropout").random and opdb.get("randint").random and not opdb.get("add").random


# ---- the statistics: honest draws pass, wrong ones fail -----------------------------------
RNG = [np.random.default_rng(s) for s in range(3)]


@pytest.mark.parametrize("rng", RNG)
def test_statistics_accept_honest_draws(rng):
    assert stats.uniform(rng.uniform(-2, 3, 4096), -2, 3) is None
    assert stats.normal(rng.normal(1, 2, 4096), 1, 2) is None
    assert stats.discrete_uniform(rng.integers(0, 10, 4096), 0, 10, "r") is None
    assert stats.discrete_uniform(rng.integers(-2 ** 63, 2 ** 63 - 1, 4096), -2 ** 63, 2 ** 63 - 1, "r") is None
    p = rng.uniform(0, 1, 4096)
    assert stats.bernoulli(rng.uniform(0, 1, 4096) < p, p, "b") is None
    assert stats.positions(np.stack([rng.permutation(8) for _ in range(300)]), "p") is None
    assert stats.distinct(rng.random(4096, dtype=np.float32), "u") is None


def test_statistics_reject_wrong_distributions():
    rng = np.random.default_rng(0)
    assert "variance 1.9" in stats.normal(rng.normal(1, 2 ** 0.5, 4096), 1, 2)      # std taken as the variance
    assert "mean" in stats.uniform(rng.uniform(-2, 1, 4096), -2, 3)                 # u * to + from
    z = rng.normal(0, 1, 2048)
    assert "correlated" in stats.normal(np.repeat(z, 2), 0, 1)                      # each value twice
    assert "Kolmogorov" in stats.normal(rng.uniform(-3 ** 0.5, 3 ** 0.5, 4096), 0, 1)   # right moments, wrong law
    assert "probability 0" in stats.chi_square([3, 5], [0.0, 1.0], "c")
    assert "frequencies" in stats.discrete_uniform(rng.integers(0, 3, 4096) > 0, 0, 2, "r")   # bool from [0, 2]
    assert "repeats" in stats.distinct((rng.integers(0, 1 << 16, 4096) / 65536).astype(np.float32), "u")


def _naive_shuffle(rng, n):
    a = np.arange(n)
    for i in range(n):     # swap with any position, not one in [i, n): not uniform
        j = rng.integers(0, n)
        a[i], a[j] = a[j], a[i]
    return a


def test_positions_reject_a_naive_swap_shuffle():
    rng = np.random.default_rng(0)
    assert "positions" in stats.positions(np.stack([_naive_shuffle(rng, 8) for _ in range(2000)]), "randperm(8)")


def test_without_replacement_law():
    p = np.array([0.0, 1.0, 2.0, 3.0])
    law = stats.without_replacement(p, 3)
    np.testing.assert_allclose(law.sum(1), 1.0)
    np.testing.assert_allclose(law[0], p / 6)
    # the second draw: sum over the first j != k of p_j p_k / (1 - p_j)
    q = p / 6
    second = [sum(q[j] * q[k] / (1 - q[j]) for j in range(4) if j != k) for k in range(4)]
    np.testing.assert_allclose(law[1], second)


# ---- the entries' comparisons on the bugs of composite ops a backend cannot plant as kernels --
def test_bernoulli_compare_catches_lte_and_swapped_probabilities():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, (64, 64))
    p[:, 0] = 0.0
    inp = Input(p.astype(np.float32), pt.float32, requires_grad=False)
    u = rng.uniform(0, 1, p.shape)
    u.reshape(-1)[::200] = 0.0      # a generator that can return exactly 0
    assert creation._bernoulli_compare([(u < p).astype(np.float32)], None, Sample(inp)) is None
    assert "exactly 0 or 1" in creation._bernoulli_compare([(u <= p).astype(np.float32)], None, Sample(inp))
    swapped = (rng.uniform(0, 1, p.shape) < 1 - p).astype(np.float32)
    swapped[p == 0] = 0.0
    assert "quarters" in creation._bernoulli_compare([swapped], None, Sample(inp))
    x = (rng.uniform(0, 1, (64, 64)) < 0.8).astype(np.float32)      # bernoulli(0.2) giving 1 w.p. 0.8
    assert "binomial" in creation._bernoulli_compare([x], None, Sample(Input(np.zeros((64, 64), np.float32)), 0.2))


def test_multinomial_compare_catches_an_off_by_one_cumulative_search():
    rng = np.random.default_rng(0)
    w = np.tile(creation._WEIGHTS, (700, 1))
    cdf = np.cumsum(creation._WEIGHTS) / creation._WEIGHTS.sum()
    u = rng.uniform(0, 1, (700, 3))
    honest = np.searchsorted(cdf, u, side="right")
    low = np.maximum(honest - 1, 1)       # one lower (never the impossible category 0)
    s = Sample(Input(w.astype(np.float32), pt.float32, requires_grad=False), 3, True)
    assert creation._multinomial_compare([honest], None, s) is None
    assert "frequencies" in creation._multinomial_compare([low], None, s)


def test_multinomial_compare_checks_each_draw_without_replacement():
    rng = np.random.default_rng(0)
    w = np.tile(creation._WEIGHTS, (700, 1))
    keys = np.log(w) - np.log(-np.log(rng.uniform(size=w.shape)))        # Gumbel top-k: honest
    honest = np.argsort(-keys, axis=1)[:, :3]
    wrong = np.argsort(-(np.log(w) + np.log(-np.log(rng.uniform(size=w.shape)))), axis=1)[:, :3]   # sign error
    s = Sample(Input(w.astype(np.float32), pt.float32, requires_grad=False), 3, False)
    assert creation._multinomial_compare([honest], None, s) is None
    assert "draw" in creation._multinomial_compare([wrong], None, s)
    assert "twice" in creation._multinomial_compare([np.ones((700, 3), np.int64)], None, s)


def test_dropout_compare_catches_the_wrong_scale_and_keeping_with_p():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2, (64, 64)).astype(np.float32)
    s = Sample(Input(x, pt.float32, requires_grad=False), 0.2)
    keep = rng.uniform(0, 1, x.shape) < 0.8
    assert creation.dropout_compare([np.where(keep, x / 0.8, 0).astype(np.float32)], None, s) is None
    assert "scaled by 1/(1-p)" in creation.dropout_compare([np.where(keep, x / 0.2, 0).astype(np.float32)], None, s)
    assert "scaled by 1/(1-p)" in creation.dropout_compare([np.where(keep, x, 0).astype(np.float32)], None, s)
    keep_p = rng.uniform(0, 1, x.shape) < 0.2
    assert "binomial" in creation.dropout_compare([np.where(keep_p, x / 0.8, 0).astype(np.float32)], None, s)
    assert "kept some" in creation.dropout_compare([x], None, Sample(Input(x, pt.float32), 1.0))
    assert "changed" in creation.dropout_compare([x * 2], None, Sample(Input(x, pt.float32), 0.0))


def test_uniform_compare_excludes_to_and_randint_its_high():
    x = np.full((3,), 3.0, np.float16)
    s = Sample(Input(np.zeros(3, np.float16)), -2.0, 3.0)
    assert "outside [-2.0, 3.0)" in creation._uniform_compare([x], None, s)
    cmp = creation._integers_compare("randint", creation._randint_bounds)
    assert "outside" in cmp([np.array([0, 10])], None, Sample(0, 10, (2,)))
    assert cmp([np.array([0, 9])], None, Sample(10, (2,))) is None


def test_exponential_compare_catches_the_scale_taken_as_the_rate():
    rng = np.random.default_rng(0)
    s = Sample(Input(np.zeros((64, 64), np.float32)), 2.0)
    assert creation._exponential_compare([rng.exponential(0.5, (64, 64)).astype(np.float32)], None, s) is None
    assert "mean" in creation._exponential_compare([rng.exponential(2.0, (64, 64)).astype(np.float32)], None, s)
    assert "outside [0, inf)" in creation._exponential_compare([-np.ones(3, np.float32)], None, s)


@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16])
def test_cpu_uniform_in_half_precision_stays_below_to(dtype):
    """A float32 draw can round up to `to` in float16/bfloat16: PyTorch returns `from` then."""
    pt.manual_seed(0)
    u = pt.empty(20000, dtype=dtype).uniform_(-2, 3).float().numpy()
    assert u.max() < 3 and u.min() == -2


def test_array_api_uniform_in_float16_stays_below_to():
    xnp = pytest.importorskip("array_api_compat.numpy")
    pt.backends.register(pt.backends.ArrayAPIBackend(xnp), name="xnp_random")
    try:
        pt.manual_seed(0)
        u = pt.empty(20000, dtype=pt.float16, device="xnp_random").uniform_(-2, 3).cpu().float().numpy()
    finally:
        pt.backends.unregister("xnp_random")
    assert u.max() < 3 and u.min() == -2
