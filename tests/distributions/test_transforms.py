"""Transforms (round trips, log|det J| against finite differences, caching, composition) and
TransformedDistribution (change-of-variables densities against scipy, cdf/icdf with decreasing maps,
the tanh-squashed Gaussian of SAC policies)."""
import math

import numpy as np
import pytest
import scipy.stats as st

import plugtorch as pt
import plugtorch.distributions as D
from plugtorch.distributions import constraints
from plugtorch.distributions.transforms import (AffineTransform, ComposeTransform, ExpTransform, PowerTransform,
                                                SigmoidTransform, SoftmaxTransform, TanhTransform, Transform)


def t(x, **kw):
    return pt.tensor(np.asarray(x, dtype=np.float64), **kw)


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(a.detach().numpy() if isinstance(a, pt.Tensor) else a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("tr", [ExpTransform(), AffineTransform(1.5, -2.0), SigmoidTransform(), TanhTransform(),
                                PowerTransform(t(3.0)), ComposeTransform([AffineTransform(0.5, 2.0), TanhTransform()])],
                         ids=["exp", "affine", "sigmoid", "tanh", "power", "compose"])
def test_round_trip_and_log_det_against_finite_differences(tr):
    x = np.array([0.2, 0.7, 1.3]) if isinstance(tr, PowerTransform) else np.array([-1.2, 0.1, 0.9])
    y = tr(t(x))
    close(tr.inv(y), x, 1e-8)
    h = 1e-6
    deriv = (tr(t(x + h)).numpy() - tr(t(x - h)).numpy()) / (2 * h)
    close(tr.log_abs_det_jacobian(t(x), y), np.log(np.abs(deriv)), 1e-6)
    assert tr.inv.inv is tr and tr.bijective


def test_caching_and_properties():
    tr = TanhTransform(cache_size=1)
    x = t([30.0])   # tanh(30) rounds to 1: only the cache recovers x
    y = tr(x)
    assert tr.inv(y) is x
    assert math.isinf(TanhTransform().inv(y).item())
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        ExpTransform(cache_size=2)
    assert ExpTransform() == ExpTransform() and ExpTransform() != SigmoidTransform()
    assert ExpTransform().codomain is constraints.positive and ExpTransform().inv.domain is constraints.positive
    assert AffineTransform(0.0, -1.0).sign == -1 and ExpTransform().inv.sign == 1
    assert SoftmaxTransform().domain.event_dim == 1 and SoftmaxTransform().codomain is constraints.simplex
    s = SoftmaxTransform()(t([1.0, 2.0, 3.0]))
    close(s, np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())
    close(SoftmaxTransform()(SoftmaxTransform().inv(s)), s.numpy())
    assert ComposeTransform([ExpTransform(), AffineTransform(0.0, 2.0, event_dim=1)]).codomain.event_dim == 1
    with pytest.raises(NotImplementedError):
        Transform()(t(1.0))


def test_transformed_distribution_log_prob_cdf_icdf():
    # Y = 1 - 2 exp(X), X ~ Normal(0.3, 0.5): a reflected, scaled log-normal
    base = D.Normal(t(0.3), t(0.5))
    d = D.TransformedDistribution(base, [ExpTransform(), AffineTransform(1.0, -2.0)])
    ref = st.lognorm(0.5, scale=math.exp(0.3))
    y = np.array([-0.5, 0.2, -3.0])
    z = (1 - y) / 2
    close(d.log_prob(t(y)), ref.logpdf(z) - math.log(2))
    close(d.cdf(t(y)), 1 - ref.cdf(z))   # decreasing map: the cdf is flipped
    q = np.array([0.1, 0.6])
    close(d.icdf(t(q)), 1 - 2 * ref.ppf(1 - q), 1e-8)
    pt.manual_seed(0)
    s = d.sample((20000,)).numpy()
    assert abs(s.mean() - (1 - 2 * ref.mean())) < 5 * 2 * ref.std() / math.sqrt(20000)
    assert d.has_rsample and repr(d.support) == "Real()"


def test_tanh_squashed_gaussian_policy():
    loc, scale = t([0.1, -0.4], requires_grad=True), t([0.8, 0.3], requires_grad=True)
    d = D.TransformedDistribution(D.Normal(loc, scale), [TanhTransform(cache_size=1)])
    pt.manual_seed(1)
    a = d.rsample((3,))
    lp = d.log_prob(a)
    u = np.arctanh(a.detach().numpy())
    ref = st.norm.logpdf(u, [0.1, -0.4], [0.8, 0.3]) - np.log(1 - np.tanh(u) ** 2)
    close(lp, ref, 1e-8)
    (lp.sum() + a.sum()).backward()
    assert loc.grad is not None and scale.grad is not None and np.all(np.isfinite(loc.grad.numpy()))
    assert tuple(d.batch_shape) == (2,) and tuple(d.expand((4, 2)).sample().shape) == (4, 2)


def test_independent_event_dims_and_errors():
    base = D.Normal(pt.zeros(3, 2, dtype=pt.float64), pt.ones(3, 2, dtype=pt.float64))
    d = D.TransformedDistribution(base, AffineTransform(t(0.0), t(2.0), event_dim=1))
    assert tuple(d.batch_shape) == (3,) and tuple(d.event_shape) == (2,)
    x = np.random.default_rng(0).standard_normal((3, 2))
    close(d.log_prob(t(x)), st.norm.logpdf(x, 0, 2).sum(-1))
    with pytest.raises(ValueError, match="transforms must be a Transform or a list of Transforms"):
        D.TransformedDistribution(base, [ExpTransform(), 3])
    with pytest.raises(ValueError, match="transforms must be a Transform or list, but was"):
        D.TransformedDistribution(base, ExpTransform)
    lp, lq = D.LogNormal(t(0.0), t(1.0)), D.LogNormal(t(1.0), t(2.0))
    close(D.kl_divergence(lp, lq), D.kl_divergence(D.Normal(t(0.0), t(1.0)), D.Normal(t(1.0), t(2.0))).item())
    with pytest.raises(NotImplementedError, match="needs the same transforms"):
        D.kl_divergence(D.TransformedDistribution(D.Normal(t(0.0), t(1.0)), [ExpTransform()]),
                        D.TransformedDistribution(D.Normal(t(0.0), t(1.0)), [SigmoidTransform()]))
