"""Exponential, Laplace, Cauchy, Gumbel, LogNormal, Gamma, Beta, Dirichlet, Poisson, Binomial, Geometric,
MultivariateNormal and the relaxed distributions: densities against scipy.stats, seeded sample moments,
rsample gradients, KLs against Monte Carlo, and the error paths."""
import math

import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st

import plugtorch as pt
import plugtorch.distributions as D


def t(x, **kw):
    return pt.tensor(np.asarray(x, dtype=np.float64), **kw)


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(a.detach().numpy() if isinstance(a, pt.Tensor) else a, b, rtol=tol, atol=tol)


def assert_nan(x):
    assert np.isnan(x), x


def moments_ok(samples, mean, var, n_sigma=5):
    """Sample mean within n_sigma standard errors of ``mean``, sample variance within 10 % of ``var``."""
    s = samples.numpy()
    n = s.shape[0]
    assert np.all(np.abs(s.mean(0) - mean) < n_sigma * np.sqrt(np.asarray(var) / n) + 1e-12), (s.mean(0), mean)
    assert np.allclose(s.var(0), var, rtol=0.1, atol=1e-12), (s.var(0), var)


LOC_SCALE = [
    (D.Exponential, (2.0,), st.expon(scale=0.5), True),
    (D.Laplace, (0.5, 2.0), st.laplace(0.5, 2.0), True),
    (D.Cauchy, (0.5, 2.0), st.cauchy(0.5, 2.0), True),
    (D.Gumbel, (0.5, 2.0), st.gumbel_r(0.5, 2.0), True),
    (D.LogNormal, (0.3, 0.6), st.lognorm(0.6, scale=math.exp(0.3)), True),
]


@pytest.mark.parametrize("cls,args,ref,has_cdf", LOC_SCALE, ids=[c[0].__name__ for c in LOC_SCALE])
def test_continuous_against_scipy(cls, args, ref, has_cdf):
    d = cls(*[t(a) for a in args])
    x = np.array([0.2, 1.3, 4.0])
    close(d.log_prob(t(x)), ref.logpdf(x))
    close(d.entropy(), ref.entropy())
    close(d.cdf(t(x)), ref.cdf(x))
    q = np.array([0.1, 0.5, 0.8])
    close(d.icdf(t(q)), ref.ppf(q), 1e-8)
    pt.manual_seed(11)
    s = d.sample((40000,))
    assert tuple(s.shape) == (40000,) and d.has_rsample
    if cls is D.Cauchy:   # no moments: compare the median and quartiles
        assert np.allclose(np.quantile(s.numpy(), [0.25, 0.5, 0.75]), ref.ppf([0.25, 0.5, 0.75]), atol=0.1)
    else:
        close(d.mean, ref.mean()), close(d.variance, ref.var())
        moments_ok(s, ref.mean(), ref.var())


def test_location_scale_rsample_gradients():
    # d sample / d scale = (sample - loc) / scale for every location-scale family
    for cls in (D.Laplace, D.Cauchy, D.Gumbel, D.Normal):
        loc, scale = t(0.5, requires_grad=True), t(2.0, requires_grad=True)
        pt.manual_seed(4)
        x = cls(loc, scale).rsample((7,))
        x.sum().backward()
        close(loc.grad, 7.0), close(scale.grad, ((x.detach() - 0.5) / 2.0).sum().item())
    rate = t(2.0, requires_grad=True)
    pt.manual_seed(4)
    x = D.Exponential(rate).rsample((5,))
    x.sum().backward()
    close(rate.grad, -(x.detach() / 2.0).sum().item())   # x = E / rate


def test_gamma_beta_dirichlet():
    c, r = np.array([0.4, 3.0]), np.array([2.0, 0.5])
    g = D.Gamma(t(c), t(r))
    x = np.array([0.3, 5.0])
    close(g.log_prob(t(x)), st.gamma.logpdf(x, c, scale=1 / r))
    close(g.entropy(), st.gamma.entropy(c, scale=1 / r))
    close(g.cdf(t(x)), st.gamma.cdf(x, c, scale=1 / r))
    close(g.mode, [0.0, 4.0]), close(g.variance, c / r ** 2)
    pt.manual_seed(0)
    moments_ok(g.sample((40000,)), c / r, c / r ** 2)
    a, b = np.array([0.5, 3.0]), np.array([2.0, 1.5])
    be = D.Beta(t(a), t(b))
    close(be.log_prob(t([0.2, 0.7])), st.beta.logpdf([0.2, 0.7], a, b))
    close(be.entropy(), st.beta.entropy(a, b))
    pt.manual_seed(1)
    moments_ok(be.sample((40000,)), st.beta.mean(a, b), st.beta.var(a, b))
    # (a - 1) / (a + b - 2) where both exceed 1; nan where the density is unbounded (PyTorch's answer)
    modes = D.Beta(t([2.0, 0.5, 3.0]), t([3.0, 1.0, 1.0])).mode.numpy()
    close(modes[[0, 2]], [1 / 3, 1.0]), assert_nan(modes[1])
    al = np.array([0.5, 2.0, 3.5])
    di = D.Dirichlet(t(al))
    v = np.array([0.2, 0.3, 0.5])
    close(di.log_prob(t(v)), st.dirichlet.logpdf(v, al))
    close(di.entropy(), st.dirichlet.entropy(al))
    pt.manual_seed(2)
    s = di.sample((40000,))
    assert tuple(di.event_shape) == (3,) and np.allclose(s.numpy().sum(-1), 1.0)
    moments_ok(s, st.dirichlet.mean(al), st.dirichlet.var(al))
    conc = t(2.0, requires_grad=True)
    D.Gamma(conc, t(1.0)).log_prob(t(1.5)).backward()
    close(conc.grad, math.log(1.5) - sp.digamma(2.0), 1e-11)
    assert g.has_rsample and be.has_rsample and di.has_rsample


def test_gamma_beta_dirichlet_rsample_gradients():
    # each sample's derivative against scipy's incomplete gamma function: dx/da = -(dP/da)(a, x) / pdf(x)
    a = t(np.full(6, 1.7), requires_grad=True)
    pt.manual_seed(12)
    x = D.Gamma(a, t(1.0)).rsample()
    x.sum().backward()
    xn, h = x.detach().numpy(), 1e-6
    ref = -(sp.gammainc(1.7 + h, xn) - sp.gammainc(1.7 - h, xn)) / (2 * h) / st.gamma.pdf(xn, 1.7)
    close(a.grad, ref, 1e-7)
    # the pathwise gradients of the means: d/da E[x] = 1 / rate, and Beta's and Dirichlet's closed forms
    for a0 in (0.05, 2.5):
        a = t(a0, requires_grad=True)
        D.Gamma(a, t(2.0)).rsample((20000,)).mean().backward()
        assert abs(a.grad.item() - 0.5) < 0.02
    c1, c0 = t(2.0, requires_grad=True), t(3.0, requires_grad=True)
    D.Beta(c1, c0).rsample((20000,)).mean().backward()
    assert abs(c1.grad.item() - 3 / 25) < 0.005 and abs(c0.grad.item() + 2 / 25) < 0.005
    c = t([1.0, 2.0, 3.0], requires_grad=True)
    D.Dirichlet(c).rsample((20000,))[:, 0].mean().backward()
    assert np.allclose(c.grad.numpy(), [5 / 36, -1 / 36, -1 / 36], atol=0.005)
    with pytest.raises(ValueError, match="`concentration` parameter must be at least one-dimensional."):
        D.Dirichlet(t(1.0))
    with pytest.raises(ValueError, match=r"Expected parameter concentration .* to satisfy the constraint "
                                         r"GreaterThan\(lower_bound=0.0\)"):
        D.Gamma(t([1.0, -1.0]), t(1.0))


def test_poisson_binomial_geometric():
    rate = np.array([0.5, 4.0, 30.0])
    p = D.Poisson(t(rate))
    k = np.array([0.0, 3.0, 25.0])
    close(p.log_prob(t(k)), st.poisson.logpmf(k, rate))
    pt.manual_seed(3)
    moments_ok(p.sample((20000,)), rate, rate)
    assert D.Poisson(t(0.0)).sample((5,)).tolist() == [0.0] * 5
    n, pr = np.array([5.0, 20.0, 200.0]), np.array([0.3, 0.5, 0.9])
    for b in (D.Binomial(t(n), probs=t(pr)), D.Binomial(t(n), logits=t(np.log(pr / (1 - pr))))):
        close(b.log_prob(t([2.0, 11.0, 180.0])), st.binom.logpmf([2, 11, 180], n, pr))
        close(b.mean, n * pr), close(b.variance, n * pr * (1 - pr))
    pt.manual_seed(4)
    moments_ok(D.Binomial(t(n), probs=t(pr)).sample((20000,)), n * pr, n * pr * (1 - pr))
    # both samplers (inversion where count * p < 10, BTRS above) against the pmf, and a huge count
    for count, prob in ((60.0, 0.1), (100.0, 0.7)):
        x = D.Binomial(t(count), t(prob)).sample((100000,)).numpy()
        k = np.arange(int(count) + 1)
        k = k[st.binom.pmf(k, count, prob) * 100000 >= 5]   # the cells a chi-square test can use
        observed, expected = np.array([(x == v).sum() for v in k]), st.binom.pmf(k, count, prob) * 100000
        assert st.chi2.sf(((observed - expected) ** 2 / expected).sum(), len(k)) > 1e-3
    big = D.Binomial(t(1e6), t(0.4)).sample((2000,)).numpy()
    assert abs(big.mean() - 4e5) < 5 * np.sqrt(2.4e5 / 2000)
    close(D.Binomial(10, t([0.2, 0.7])).entropy(), st.binom.entropy(10, [0.2, 0.7]))
    with pytest.raises(NotImplementedError, match="Inhomogeneous total count not supported by `entropy`."):
        D.Binomial(t([3.0, 4.0]), t([0.2, 0.7])).entropy()
    gp = np.array([0.2, 0.7, 1.0])
    ge = D.Geometric(t(gp))
    close(ge.log_prob(t([2.0, 1.0, 0.0])), st.geom.logpmf([3, 2, 1], gp))
    close(ge.entropy()[:2], st.geom.entropy(gp[:2]))
    pt.manual_seed(5)
    moments_ok(D.Geometric(t(gp[:2])).sample((40000,)), 1 / gp[:2] - 1, (1 - gp[:2]) / gp[:2] ** 2)
    with pytest.raises(ValueError, match=r"Expected parameter probs \(Tensor of shape \(2,\)\) of distribution "
                                         r"Geometric\(.*\) to be positive but found invalid values"):
        D.Geometric(t([0.5, 0.0]))
    with pytest.raises(ValueError, match="to be within the support"):
        p.log_prob(t([0.5, 1.0, 2.0]))


def _spd(n, seed):
    a = np.random.default_rng(seed).standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def test_multivariate_normal():
    C, m = _spd(3, 0), np.array([0.1, -0.2, 0.3])
    x = np.random.default_rng(1).standard_normal((4, 3))
    for kw in (dict(covariance_matrix=t(C)), dict(precision_matrix=t(np.linalg.inv(C))),
               dict(scale_tril=t(np.linalg.cholesky(C)))):
        d = D.MultivariateNormal(t(m), **kw)
        close(d.log_prob(t(x)), st.multivariate_normal.logpdf(x, m, C))
        close(d.entropy(), st.multivariate_normal.entropy(m, C))
        close(d.covariance_matrix, C), close(d.precision_matrix, np.linalg.inv(C)), close(d.variance, np.diag(C))
    batched = D.MultivariateNormal(t(np.zeros((2, 3))), covariance_matrix=t(C))
    assert tuple(batched.batch_shape) == (2,) and tuple(batched.event_shape) == (3,)
    pt.manual_seed(6)
    s = batched.sample((20000,))
    assert tuple(s.shape) == (20000, 2, 3)
    assert np.allclose(np.cov(s.numpy()[:, 0].T), C, rtol=0.05, atol=0.1)
    loc = t(m, requires_grad=True)
    D.MultivariateNormal(loc, covariance_matrix=t(C)).log_prob(t(x[0])).backward()
    close(loc.grad, np.linalg.solve(C, x[0] - m))
    L = t(np.linalg.cholesky(C), requires_grad=True)
    pt.manual_seed(7)
    y = D.MultivariateNormal(t(m), scale_tril=L).rsample()
    y.sum().backward()
    pt.manual_seed(7)
    eps = pt.randn((3,), dtype=pt.float64).numpy()
    close(L.grad, np.outer(np.ones(3), eps))   # d sum(L eps) / dL_ij = eps_j (the upper half too, as in PyTorch)
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril may be "
                                         "specified."):
        D.MultivariateNormal(t(m))
    with pytest.raises(ValueError, match="loc must be at least one-dimensional."):
        D.MultivariateNormal(t(0.0), covariance_matrix=t(C))
    with pytest.raises(ValueError, match=r"Expected parameter covariance_matrix .* PositiveDefinite"):
        D.MultivariateNormal(t(m), covariance_matrix=t(-C))


def test_relaxed():
    temp, probs = 0.5, np.array([0.2, 0.8])
    rb = D.RelaxedBernoulli(t(temp), probs=t(probs))
    # the Concrete density (Maddison et al. 2017, eq. 5) for binary variables, written out
    y = np.array([0.3, 0.9])
    a = probs / (1 - probs)
    ref = np.log(temp * a * y ** (-temp - 1) * (1 - y) ** (-temp - 1) / (a * y ** -temp + (1 - y) ** -temp) ** 2)
    close(rb.log_prob(t(y)), ref)
    pt.manual_seed(8)
    s = rb.rsample((20000,)).numpy()
    assert np.all((s > 0) & (s < 1)) and np.allclose((s > 0.5).mean(0), probs, atol=0.02)
    alpha = np.array([0.2, 0.5, 0.3])
    rc = D.RelaxedOneHotCategorical(t(0.7), probs=t(alpha))
    x = np.array([0.2, 0.5, 0.3])
    K, lam = 3, 0.7
    ref = (math.log(math.factorial(K - 1)) + (K - 1) * math.log(lam) + np.sum(np.log(alpha) - (lam + 1) * np.log(x))
           - K * np.log(np.sum(alpha * x ** -lam)))
    close(rc.log_prob(t(x)), ref)
    logits = t([0.1, 0.4, -0.3], requires_grad=True)
    pt.manual_seed(9)
    s = D.RelaxedOneHotCategorical(t(0.7), logits=logits).rsample((2000,))
    close(s.sum(-1), np.ones(2000), 1e-12)
    (s[:, 0]).sum().backward()
    assert logits.grad.numpy()[0] > 0 > logits.grad.numpy()[1]


KL_PAIRS = [
    lambda: (D.Exponential(t(2.0)), D.Exponential(t(0.7))),
    lambda: (D.Gamma(t(2.0), t(3.0)), D.Gamma(t(1.5), t(1.0))),
    lambda: (D.Beta(t(2.0), t(3.0)), D.Beta(t(1.5), t(1.0))),
    lambda: (D.Dirichlet(t([2.0, 3.0, 1.0])), D.Dirichlet(t([1.5, 1.0, 2.0]))),
    lambda: (D.Poisson(t(2.0)), D.Poisson(t(3.5))),
    lambda: (D.Laplace(t(0.0), t(1.0)), D.Laplace(t(0.5), t(2.0))),
    lambda: (D.Gumbel(t(0.0), t(1.0)), D.Gumbel(t(0.5), t(2.0))),
    lambda: (D.Geometric(t(0.3)), D.Geometric(t(0.6))),
    lambda: (D.Binomial(10, t(0.3)), D.Binomial(10, t(0.6))),
    lambda: (D.MultivariateNormal(t([0.0, 1.0]), t([[2.0, 0.3], [0.3, 1.0]])),
             D.MultivariateNormal(t([1.0, 0.0]), scale_tril=t([[1.0, 0.0], [0.5, 2.0]]))),
    lambda: (D.LogNormal(t(0.0), t(1.0)), D.LogNormal(t(1.0), t(2.0))),
]


def test_kl_against_monte_carlo():
    pt.manual_seed(10)
    for make in KL_PAIRS:
        p, q = make()
        x = p.sample((100000,))
        diff = (p.log_prob(x) - q.log_prob(x)).numpy()
        kl = D.kl_divergence(p, q).item()
        assert abs(diff.mean() - kl) < 5 * diff.std() / math.sqrt(len(diff)) + 1e-9, type(p).__name__
    close(D.kl_divergence(D.Cauchy(t(0.0), t(1.0)), D.Cauchy(t(0.5), t(2.0))), math.log(9.25 / 8))   # closed form
    with pytest.raises(NotImplementedError, match="q.total_count > p.total_count"):
        D.kl_divergence(D.Binomial(5, t(0.3)), D.Binomial(10, t(0.6)))


@pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")
def test_families_on_opencl():
    dev = "opencl"
    pt.manual_seed(0)
    g = D.Gamma(pt.tensor([0.5, 4.0], device=dev), pt.tensor([1.0, 2.0], device=dev))
    s = g.sample((4000,))
    assert s.device.type == "opencl"
    assert np.allclose(s.cpu().numpy().mean(0), [0.5, 2.0], atol=0.1)
    x = np.array([0.3, 1.7], dtype=np.float32)
    close(g.log_prob(pt.tensor(x, device=dev)).cpu(), st.gamma.logpdf(x, [0.5, 4.0], scale=[1.0, 0.5]), 1e-4)
    C = _spd(3, 0).astype(np.float32)
    mvn = D.MultivariateNormal(pt.zeros(3, device=dev), covariance_matrix=pt.tensor(C, device=dev))
    close(mvn.log_prob(pt.ones(3, device=dev)).cpu(), st.multivariate_normal.logpdf(np.ones(3), np.zeros(3), C), 1e-4)
