"""PyTorch's per-distribution module names import the same classes as plugtorch.distributions."""
import importlib

import pytest

import plugtorch as pt
import plugtorch.distributions as D

NAMES = {"beta": "Beta", "binomial": "Binomial", "cauchy": "Cauchy", "chi2": "Chi2", "dirichlet": "Dirichlet",
         "fishersnedecor": "FisherSnedecor", "geometric": "Geometric", "gumbel": "Gumbel",
         "half_cauchy": "HalfCauchy", "half_normal": "HalfNormal", "inverse_gamma": "InverseGamma",
         "kumaraswamy": "Kumaraswamy", "laplace": "Laplace", "logistic_normal": "LogisticNormal",
         "multinomial": "Multinomial", "negative_binomial": "NegativeBinomial", "pareto": "Pareto",
         "poisson": "Poisson", "relaxed_bernoulli": "RelaxedBernoulli",
         "relaxed_categorical": "RelaxedOneHotCategorical", "studentT": "StudentT", "weibull": "Weibull",
         "normal": "Normal", "gamma": "Gamma", "uniform": "Uniform"}


@pytest.mark.parametrize("mod", sorted(NAMES))
def test_from_the_torch_module_name_import_the_class(mod):
    m = importlib.import_module(f"plugtorch.distributions.{mod}")
    assert getattr(m, NAMES[mod]) is getattr(D, NAMES[mod])


def test_identity_transform_is_the_identity():
    x = pt.tensor([-1.5, 0.0, 2.0])
    t = D.identity_transform
    assert t(x).tolist() == x.tolist() and t.inv(x).tolist() == x.tolist()
    assert t.log_abs_det_jacobian(x, x).tolist() == [0.0, 0.0, 0.0]
