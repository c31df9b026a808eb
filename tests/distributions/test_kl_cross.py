"""Cross-family KL divergences against Monte Carlo estimates, and +inf where q misses p's support."""
import math

import numpy as np

import plugtorch as pt
import plugtorch.distributions as D


def t(x):
    return pt.tensor(np.asarray(x, dtype=np.float64))


def P():
    return {
        "Normal": D.Normal(t(0.3), t(0.8)), "Laplace": D.Laplace(t(0.2), t(0.7)),
        "Gumbel": D.Gumbel(t(0.1), t(0.6)), "Exponential": D.Exponential(t(1.5)),
        "Gamma": D.Gamma(t(2.5), t(1.5)), "Beta": D.Beta(t(2.0), t(3.0)), "Uniform": D.Uniform(t(0.2), t(0.9)),
        "ContinuousBernoulli": D.ContinuousBernoulli(t(0.3)), "Pareto": D.Pareto(t(1.2), t(4.5)),
        "Bernoulli": D.Bernoulli(t(0.3)), "Poisson": D.Poisson(t(1.7)), "HalfNormal": D.HalfNormal(t(0.9)),
    }


def Q():
    return {
        "Normal": D.Normal(t(-0.2), t(1.3)), "Laplace": D.Laplace(t(0.0), t(1.1)), "Gumbel": D.Gumbel(t(0.4), t(1.2)),
        "Exponential": D.Exponential(t(0.8)), "Gamma": D.Gamma(t(1.7), t(0.9)), "Beta": D.Beta(t(1.5), t(1.2)),
        "Uniform": D.Uniform(t(-0.5), t(8.0)), "ContinuousBernoulli": D.ContinuousBernoulli(t(0.6)),
        "Pareto": D.Pareto(t(0.1), t(2.0)), "Poisson": D.Poisson(t(2.2)), "HalfNormal": D.HalfNormal(t(1.4)),
        "Binomial": D.Binomial(5, t(0.4)),
    }


FINITE = [("Normal", "Gumbel"), ("Normal", "Laplace"), ("Laplace", "Normal"), ("Gumbel", "Normal"),
          ("Exponential", "Gamma"), ("Exponential", "Gumbel"), ("Exponential", "Normal"), ("Gamma", "Exponential"),
          ("Gamma", "Gumbel"), ("Gamma", "Normal"), ("Beta", "Exponential"), ("Beta", "Gamma"), ("Beta", "Normal"),
          ("Beta", "ContinuousBernoulli"), ("Uniform", "Beta"), ("Uniform", "Exponential"), ("Uniform", "Gamma"),
          ("Uniform", "Gumbel"), ("Uniform", "Normal"), ("Uniform", "ContinuousBernoulli"),
          ("ContinuousBernoulli", "Exponential"), ("ContinuousBernoulli", "Normal"), ("Pareto", "Exponential"),
          ("Pareto", "Gamma"), ("Pareto", "Normal"), ("Pareto", "Pareto"), ("Bernoulli", "Poisson"),
          ("HalfNormal", "HalfNormal")]
INFINITE = [("Normal", "Exponential"), ("Normal", "Beta"), ("Laplace", "Gamma"), ("Gumbel", "Pareto"),
            ("Exponential", "Beta"), ("Gamma", "Uniform"), ("Beta", "Pareto"), ("Pareto", "Beta"),
            ("Poisson", "Binomial")]


def test_cross_family_kl_against_monte_carlo():
    p_all, q_all = P(), Q()
    pt.manual_seed(21)
    for pn, qn in FINITE:
        p, q = p_all[pn], q_all[qn]
        x = p.sample((60000,))
        diff = (p.log_prob(x) - q.log_prob(x)).numpy()
        kl = D.kl_divergence(p, q).item()
        assert math.isfinite(kl) and abs(diff.mean() - kl) < 5 * diff.std() / math.sqrt(len(diff)) + 1e-9, (pn, qn)


def test_support_mismatch_is_infinite():
    p_all, q_all = P(), Q()
    for pn, qn in INFINITE:
        assert D.kl_divergence(p_all[pn], q_all[qn]).item() == math.inf, (pn, qn)
    # PyTorch gives inf for these two (its support tests use >= and <=); the KL is finite
    cb = D.ContinuousBernoulli(t(0.3))
    assert abs(D.kl_divergence(cb, D.Uniform(t(0.0), t(1.0))).item() + cb.entropy().item()) < 1e-12
    assert math.isfinite(D.kl_divergence(D.Uniform(t(0.0), t(1.0)), cb).item())
