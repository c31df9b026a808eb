"""Every distribution on the other backends (opencl, the strict plug-in): samples stay on the device
with the right shape, and log_prob / entropy equal cpu's for the same parameters and values."""
import warnings

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.distributions as D

CASES = {
    "Normal": lambda T: D.Normal(T([0.0, 1.0]), T([1.0, 2.0])),
    "Uniform": lambda T: D.Uniform(T([0.0, 1.0]), T([1.0, 3.0])),
    "Bernoulli": lambda T: D.Bernoulli(logits=T([0.0, 1.0])),
    "Categorical": lambda T: D.Categorical(logits=T([[0.0, 1.0, 2.0]])),
    "OneHotCategorical": lambda T: D.OneHotCategorical(logits=T([[0.0, 1.0, 2.0]])),
    "Exponential": lambda T: D.Exponential(T([1.0, 2.0])),
    "Laplace": lambda T: D.Laplace(T([0.0, 1.0]), T([1.0, 2.0])),
    "Cauchy": lambda T: D.Cauchy(T([0.0, 1.0]), T([1.0, 2.0])),
    "Gumbel": lambda T: D.Gumbel(T([0.0, 1.0]), T([1.0, 2.0])),
    "LogNormal": lambda T: D.LogNormal(T([0.0, 1.0]), T([1.0, 2.0])),
    "Gamma": lambda T: D.Gamma(T([0.5, 2.0]), T([1.0, 2.0])),
    "Beta": lambda T: D.Beta(T([0.5, 2.0]), T([1.0, 2.0])),
    "Dirichlet": lambda T: D.Dirichlet(T([[0.5, 2.0, 1.0]])),
    "StudentT": lambda T: D.StudentT(T([3.0, 4.0])),
    "Poisson": lambda T: D.Poisson(T([3.0, 40.0])),
    "Binomial": lambda T: D.Binomial(T([5.0, 10.0]), T([0.3, 0.6])),
    "Geometric": lambda T: D.Geometric(T([0.3, 0.6])),
    "NegativeBinomial": lambda T: D.NegativeBinomial(T([3.0, 5.0]), T([0.3, 0.6])),
    "Multinomial": lambda T: D.Multinomial(5, T([0.2, 0.3, 0.5])),
    "MultivariateNormal": lambda T: D.MultivariateNormal(T([0.0, 1.0]), T([[2.0, 0.3], [0.3, 1.0]])),
    "LowRankMultivariateNormal": lambda T: D.LowRankMultivariateNormal(T([0.0, 1.0]), T([[1.0], [0.5]]),
                                                                       T([1.0, 2.0])),
    "RelaxedOneHotCategorical": lambda T: D.RelaxedOneHotCategorical(T(0.5), probs=T([0.2, 0.8])),
    "Weibull": lambda T: D.Weibull(T([1.0, 2.0]), T([1.5, 2.0])),
    "Kumaraswamy": lambda T: D.Kumaraswamy(T([1.0, 2.0]), T([1.5, 2.0])),
    "VonMises": lambda T: D.VonMises(T([0.0, 1.0]), T([1.0, 2.0])),
    "ContinuousBernoulli": lambda T: D.ContinuousBernoulli(T([0.3, 0.6])),
    "MixtureSameFamily": lambda T: D.MixtureSameFamily(D.Categorical(T([0.5, 0.5])),
                                                       D.Normal(T([-1.0, 1.0]), T([1.0, 1.0]))),
    "GeneralizedPareto": lambda T: D.GeneralizedPareto(T([0.0, 1.0]), T([1.0, 2.0]), T([0.2, -0.1])),
    "LKJCholesky": lambda T: D.LKJCholesky(3, T([1.0, 2.0])),
    "Wishart": lambda T: D.Wishart(T(5.0), covariance_matrix=T([[2.0, 0.3], [0.3, 1.0]])),
}


def _devices():
    names = {e["name"]: e for e in pt.backends.list()}
    return [n for n in ("opencl", "strict") if n in names and names[n]["status"] == "ok" and names[n]["devices"]]


@pytest.mark.parametrize("device", _devices())
def test_every_distribution_on_device(device):
    for name, make in CASES.items():
        cpu = make(lambda x: pt.tensor(np.asarray(x, dtype=np.float32)))
        dev = make(lambda x: pt.tensor(np.asarray(x, dtype=np.float32), device=device))
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # no cpu fallback on the way
            s = dev.sample((50,))
            assert s.device.type == device and tuple(s.shape) == (50,) + tuple(cpu.batch_shape + cpu.event_shape)
            values = s.cpu()
            lp = dev.log_prob(s)
        np.testing.assert_allclose(lp.cpu().numpy(), cpu.log_prob(values).numpy(), rtol=2e-4, atol=2e-4,
                                   err_msg=name)
        try:
            np.testing.assert_allclose(dev.entropy().cpu().numpy(), cpu.entropy().numpy(), rtol=2e-4, atol=2e-4,
                                       err_msg=name)
        except NotImplementedError:
            pass
        if dev.has_rsample:
            assert dev.rsample((2,)).device.type == device
