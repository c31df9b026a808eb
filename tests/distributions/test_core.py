"""Normal, Uniform, Bernoulli, Categorical, OneHotCategorical, Independent and their KLs: densities
against scipy.stats, sample moments from seeded draws, rsample gradients, shapes and validation."""
import math

import numpy as np
import pytest
import scipy.stats as st

import plugtorch as pt
from plugtorch.distributions import (Bernoulli, Categorical, Distribution, Independent, Normal, OneHotCategorical,
                                     OneHotCategoricalStraightThrough, Uniform, constraints, kl_divergence,
                                     register_kl)

F64 = dict(dtype=pt.float64)


def t(x, **kw):
    return pt.tensor(np.asarray(x, dtype=np.float64), **kw)


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a.detach().numpy() if isinstance(a, pt.Tensor) else a), b,
                               rtol=tol, atol=tol)


def test_normal_densities_against_scipy():
    loc, scale, x = np.array([0.0, 1.5, -2.0]), np.array([1.0, 0.5, 3.0]), np.array([0.3, -1.0, 4.0])
    d = Normal(t(loc), t(scale))
    close(d.log_prob(t(x)), st.norm.logpdf(x, loc, scale))
    close(d.cdf(t(x)), st.norm.cdf(x, loc, scale))
    q = np.array([0.01, 0.5, 0.97])
    close(d.icdf(t(q)), st.norm.ppf(q, loc, scale), 1e-9)
    close(d.entropy(), st.norm.entropy(loc, scale))
    close(d.mean, loc), close(d.mode, loc), close(d.stddev, scale), close(d.variance, scale ** 2)


def test_normal_sample_moments_and_shapes():
    pt.manual_seed(0)
    d = Normal(t([0.0, 2.0]), t([1.0, 0.5]))
    s = d.sample((20000,))
    assert tuple(s.shape) == (20000, 2) and not s.requires_grad
    se = np.array([1.0, 0.5]) / math.sqrt(20000)
    assert np.all(np.abs(s.numpy().mean(0) - [0.0, 2.0]) < 5 * se)
    assert np.all(np.abs(s.numpy().std(0) - [1.0, 0.5]) < 5 * se)
    pt.manual_seed(0)
    assert np.array_equal(d.sample((20000,)).numpy(), s.numpy())   # follows manual_seed
    assert tuple(Normal(0.0, 1.0).sample().shape) == () and tuple(Normal(0.0, 1.0).batch_shape) == ()


def test_normal_rsample_gradient():
    loc, scale = t([0.5], requires_grad=True), t([2.0], requires_grad=True)
    pt.manual_seed(1)
    x = Normal(loc, scale).rsample((5,))
    x.sum().backward()
    pt.manual_seed(1)
    eps = pt.randn((5, 1), **F64).numpy()
    close(loc.grad, [5.0]), close(scale.grad, [eps.sum()])


def test_log_prob_gradient_against_finite_differences():
    loc, scale = t(0.3, requires_grad=True), t(1.7, requires_grad=True)
    Normal(loc, scale).log_prob(t(1.1)).backward()
    h = 1e-6
    f = lambda m, s: st.norm.logpdf(1.1, m, s)  # noqa: E731
    close(loc.grad, (f(0.3 + h, 1.7) - f(0.3 - h, 1.7)) / (2 * h), 1e-7)
    close(scale.grad, (f(0.3, 1.7 + h) - f(0.3, 1.7 - h)) / (2 * h), 1e-7)


def test_uniform():
    d = Uniform(t([0.0, -1.0]), t([2.0, 3.0]))
    x = np.array([0.5, 3.5])
    d2 = Uniform(t([0.0, -1.0]), t([2.0, 3.0]), validate_args=False)
    close(d2.log_prob(t(x)), [math.log(0.5), -math.inf])
    close(d.cdf(t([0.5, 0.0])), [0.25, 0.25]), close(d.icdf(t([0.25, 0.5])), [0.5, 1.0])
    close(d.entropy(), np.log([2.0, 4.0])), close(d.mean, [1.0, 1.0]), close(d.variance, [4 / 12, 16 / 12])
    with pytest.raises(ValueError, match="to be within the support"):
        d.log_prob(t(x))
    # low < high is validated (PyTorch's arg_constraints less_than(high) / greater_than(low))
    with pytest.raises(ValueError, match=r"parameter low .* LessThan\(upper_bound=0.0\)"):
        Uniform(t(1.0), t(0.0))
    with pytest.raises(ValueError, match="parameter low"):
        Uniform(t([0.0, 2.0]), t([1.0, 2.0]))
    assert math.isnan(Uniform(t(1.0), t(0.0), validate_args=False).entropy().item())
    low = t(1.0, requires_grad=True)
    pt.manual_seed(0)
    s = Uniform(low, t(3.0)).rsample((10000,))
    s.sum().backward()
    u = (s.detach().numpy() - 1.0) / 2.0
    close(low.grad, (1 - u).sum(), 1e-8)
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / 10000)


def test_bernoulli_probs_and_logits():
    p = np.array([0.1, 0.5, 0.8])
    for d in (Bernoulli(probs=t(p)), Bernoulli(logits=t(np.log(p / (1 - p))))):
        close(d.log_prob(t([1.0, 0.0, 0.0])), st.bernoulli.logpmf([1, 0, 0], p))
        close(d.entropy(), st.bernoulli.entropy(p))
        close(d.probs, p), close(d.mean, p), close(d.variance, p * (1 - p))
        assert np.isnan(d.mode.numpy()[1]) and d.mode.numpy()[[0, 2]].tolist() == [0.0, 1.0]
    pt.manual_seed(3)
    s = Bernoulli(probs=t(p)).sample((20000,)).numpy()
    assert set(np.unique(s)) <= {0.0, 1.0}
    assert np.all(np.abs(s.mean(0) - p) < 5 * np.sqrt(p * (1 - p) / 20000))
    assert Bernoulli(0.3).enumerate_support().tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        Bernoulli(probs=0.3, logits=0.1)
    with pytest.raises(ValueError, match=r"Expected parameter probs .* to satisfy the constraint Interval"):
        Bernoulli(probs=t([0.5, 1.5]))


def test_categorical():
    probs = np.array([[0.2, 0.3, 0.5], [0.7, 0.1, 0.2]])
    for d in (Categorical(probs=t(probs * 4)), Categorical(logits=t(np.log(probs) + 1.0))):
        assert tuple(d.batch_shape) == (2,) and tuple(d.event_shape) == ()
        close(d.probs, probs)
        close(d.log_prob(t([2, 0]).long()), np.log([0.5, 0.7]))
        close(d.entropy(), st.entropy(probs, axis=-1))
        assert d.mode.tolist() == [2, 0]
    pt.manual_seed(5)
    s = Categorical(probs=t(probs)).sample((30000,))
    assert tuple(s.shape) == (30000, 2) and s.dtype == pt.int64
    for b in range(2):
        freq = np.bincount(s.numpy()[:, b], minlength=3) / 30000
        assert np.all(np.abs(freq - probs[b]) < 5 * np.sqrt(probs[b] * (1 - probs[b]) / 30000))
    zero = Categorical(probs=t([0.0, 1.0, 0.0])).sample((1000,))
    assert zero.numpy().tolist() == [1] * 1000
    # many categories take the binary search; zero-probability ones are never drawn
    many = np.random.default_rng(0).dirichlet(np.ones(100), size=3)
    many[:, ::7] = 0
    many /= many.sum(-1, keepdims=True)
    s = Categorical(probs=t(many)).sample((50000,)).numpy()
    for b in range(3):
        freq = np.bincount(s[:, b], minlength=100) / 50000
        assert np.all(freq[::7] == 0) and np.all(np.abs(freq - many[b]) < 5 * np.sqrt(many[b] / 50000) + 1e-12)
    assert tuple(Categorical(probs=t(probs)).enumerate_support().shape) == (3, 2)
    with pytest.raises(ValueError, match="`probs` parameter must be at least one-dimensional."):
        Categorical(probs=t(0.5))
    with pytest.raises(ValueError, match="to be within the support"):
        Categorical(probs=t(probs)).log_prob(t([3, 0]).long())


def test_one_hot_categorical():
    probs = np.array([0.2, 0.3, 0.5])
    d = OneHotCategorical(probs=t(probs))
    assert tuple(d.event_shape) == (3,) and tuple(d.batch_shape) == ()
    close(d.log_prob(t([0.0, 1.0, 0.0])), math.log(0.3))
    pt.manual_seed(2)
    s = d.sample((20000,)).numpy()
    assert np.all(s.sum(-1) == 1) and np.all(np.abs(s.mean(0) - probs) < 0.02)
    assert d.mode.tolist() == [0.0, 0.0, 1.0] and tuple(d.enumerate_support().shape) == (3, 3)
    logits = t([0.1, 0.2, 0.3], requires_grad=True)
    OneHotCategoricalStraightThrough(logits=logits).rsample().sum().backward()
    assert logits.grad is not None and np.allclose(logits.grad.numpy(), 0.0, atol=1e-12)   # sum of probs is 1


def test_independent():
    base = Normal(pt.zeros((4, 3), **F64), pt.ones((4, 3), **F64) * 2)
    d = Independent(base, 1)
    assert tuple(d.batch_shape) == (4,) and tuple(d.event_shape) == (3,) and d.has_rsample
    x = np.random.default_rng(0).standard_normal((4, 3))
    close(d.log_prob(t(x)), st.norm.logpdf(x, 0, 2).sum(-1))
    close(d.entropy(), np.full(4, 3 * st.norm.entropy(0, 2)))
    assert tuple(d.sample((2,)).shape) == (2, 4, 3)
    with pytest.raises(ValueError, match=r"Expected reinterpreted_batch_ndims <= len\(base_distribution.batch_shape\), "
                                         "actual 3 vs 2"):
        Independent(base, 3)
    assert repr(d.support) == "IndependentConstraint(Real(), 1)"


def test_expand_and_shapes():
    d = Normal(t([0.0, 1.0]), t([1.0, 2.0])).expand((3, 2))
    assert tuple(d.batch_shape) == (3, 2) and tuple(d.sample((5,)).shape) == (5, 3, 2)
    c = Categorical(logits=t([0.0, 1.0, 2.0])).expand((4,))
    assert tuple(c.batch_shape) == (4,) and tuple(c.sample((2,)).shape) == (2, 4)
    b = Bernoulli(logits=t([0.5])).expand((2, 1))
    assert tuple(b.sample().shape) == (2, 1)
    i = Independent(Normal(pt.zeros(3, **F64), pt.ones(3, **F64)), 1).expand((2,))
    assert tuple(i.batch_shape) == (2,) and tuple(i.sample().shape) == (2, 3)
    with pytest.raises(ValueError, match="The right-most size of value must match event_shape"):
        OneHotCategorical(probs=t([0.5, 0.5, 0.0])).log_prob(t([0.0, 1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="Value is not broadcastable with batch_shape\\+event_shape"):
        Normal(t([0.0, 1.0]), t([1.0, 1.0])).log_prob(t([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        Normal(0.0, 1.0).log_prob(0.5)


def test_validation_switch():
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(2,\)\) of distribution "
                                         r"Normal\(.*\) to satisfy the constraint GreaterThan\(lower_bound=0.0\)"):
        Normal(t([0.0, 0.0]), t([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"of distribution Normal\(loc: 0.0, scale: -1.0\) to satisfy the constraint "
                                         r"GreaterThan\(lower_bound=0.0\), but found invalid values:\n-1.0$"):
        Normal(t(0.0), t(-1.0))   # 0-d tensors print as numbers, as PyTorch's f-strings do
    Normal(t(0.0), t(-1.0), validate_args=False)
    try:
        Distribution.set_default_validate_args(False)
        Normal(t(0.0), t(-1.0))
    finally:
        Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        Distribution.set_default_validate_args("yes")


def test_kl_closed_forms():
    p, q = Normal(t([0.0, 1.0]), t([1.0, 2.0])), Normal(t([0.5, -1.0]), t([1.5, 0.5]))
    expect = np.log(np.array([1.5, 0.5]) / [1.0, 2.0]) + (np.array([1.0, 4.0]) + np.array([0.25, 4.0])) / (
        2 * np.array([2.25, 0.25])) - 0.5
    close(kl_divergence(p, q), expect)
    close(kl_divergence(Independent(p, 1), Independent(q, 1)), expect.sum())
    bp, bq = np.array([0.2, 0.0, 1.0]), np.array([0.6, 0.3, 0.5])
    close(kl_divergence(Bernoulli(t(bp)), Bernoulli(t(bq))), [0.2 * np.log(0.2 / 0.6) + 0.8 * np.log(0.8 / 0.4),
                                                                np.log(1 / 0.7), np.log(1 / 0.5)], 1e-9)
    assert kl_divergence(Bernoulli(t(0.5)), Bernoulli(t(0.0))).item() == math.inf
    cp, cq = np.array([0.2, 0.3, 0.5]), np.array([0.4, 0.4, 0.2])
    close(kl_divergence(Categorical(t(cp)), Categorical(t(cq))), st.entropy(cp, cq), 1e-9)
    close(kl_divergence(OneHotCategorical(t(cp)), OneHotCategorical(t(cq))), st.entropy(cp, cq), 1e-9)
    close(kl_divergence(Uniform(t(0.0), t(1.0)), Uniform(t(-1.0), t(3.0))), math.log(4))
    assert kl_divergence(Uniform(t(-2.0), t(1.0)), Uniform(t(-1.0), t(3.0))).item() == math.inf


def test_kl_monte_carlo_and_gradient():
    pt.manual_seed(7)
    p, q = Normal(t(0.3), t(0.8)), Normal(t(-0.2), t(1.3))
    x = p.sample((200000,))
    mc = (p.log_prob(x) - q.log_prob(x)).mean().item()
    assert abs(mc - kl_divergence(p, q).item()) < 0.01
    loc = t(0.3, requires_grad=True)
    kl_divergence(Normal(loc, t(1.0)), Normal(t(0.0), t(1.0))).backward()
    close(loc.grad, 0.3)


def test_kl_errors_and_registration():
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Normal and q type "
                                                  "Categorical"):
        kl_divergence(Normal(0.0, 1.0), Categorical(pt.ones(2)))
    with pytest.raises(TypeError, match="Expected type_p to be a Distribution subclass"):
        register_kl(int, Normal)

    class MyNormal(Normal):
        pass

    assert kl_divergence(MyNormal(t(0.0), t(1.0)), Normal(t(1.0), t(1.0))).item() == 0.5   # the parent's rule

    @register_kl(MyNormal, MyNormal)
    def _kl(p, q):
        return p.loc * 0 + 42.0

    assert kl_divergence(MyNormal(t(0.0), t(1.0)), MyNormal(t(1.0), t(1.0))).item() == 42.0


def test_constraints():
    x = t([-1.0, 0.0, 0.5, 1.0, float("nan")])
    assert constraints.positive.check(x).tolist() == [False, False, True, True, False]
    assert constraints.unit_interval.check(x).tolist() == [False, True, True, True, False]
    assert constraints.real.check(x).tolist() == [True, True, True, True, False]
    assert constraints.simplex.check(t([[0.2, 0.8], [0.5, 0.6]])).tolist() == [True, False]
    assert constraints.lower_cholesky.check(t([[1.0, 0.0], [2.0, 1.0]])).item()
    assert not constraints.positive_definite.check(t([[1.0, 2.0], [2.0, 1.0]])).item()
    assert constraints.is_dependent(Uniform.support) and constraints.is_dependent(constraints.dependent)
    with pytest.raises(ValueError, match="Cannot determine validity of dependent constraint"):
        constraints.dependent.check(x)


@pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")
def test_on_opencl():
    # log_prob/entropy of every family on opencl against cpu: test_devices.py; here the sampling statistics
    dev = "opencl"
    pt.manual_seed(0)
    s = Normal(pt.tensor([0.0, 1.0], device=dev), pt.tensor([1.0, 2.0], device=dev)).sample((5000,))
    assert s.device.type == "opencl" and abs(s.cpu().numpy()[:, 1].mean() - 1.0) < 5 * 2 / math.sqrt(5000)
    for logits in (np.array([0.0, 1.0, 2.0], dtype=np.float32), np.linspace(-2, 2, 60).astype(np.float32)):
        draws = Categorical(logits=pt.tensor(logits, device=dev)).sample((20000,))   # 60: the binary search
        freq = np.bincount(draws.cpu().numpy(), minlength=len(logits)) / 20000
        assert draws.device.type == "opencl" and np.abs(freq - np.exp(logits) / np.exp(logits).sum()).max() < 0.015
    cp, cq = pt.tensor([0.2, 0.8], device=dev), pt.tensor([0.5, 0.5], device=dev)
    close(kl_divergence(Categorical(cp), Categorical(cq)).cpu(), st.entropy([0.2, 0.8], [0.5, 0.5]), 1e-5)
