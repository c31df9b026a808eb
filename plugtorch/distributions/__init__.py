"""Probability distributions with PyTorch's ``torch.distributions`` API.

Every distribution has ``batch_shape``/``event_shape``, ``sample(sample_shape)``, ``log_prob``,
``entropy``, ``mean``/``mode``/``variance``/``stddev``, ``expand`` and argument validation; those
with ``has_rsample`` give reparameterised samples that gradients flow through. All the math is
plugtorch ops, so distributions work on every device and autograd flows through them.

>>> import plugtorch as pt
>>> from plugtorch.distributions import Normal, kl_divergence
>>> p, q = Normal(pt.tensor(0.0), pt.tensor(1.0)), Normal(pt.tensor(1.0), pt.tensor(1.0))
>>> kl_divergence(p, q).item()
0.5
"""
from plugtorch.distributions import constraints, transforms
from plugtorch.distributions.bernoulli import Bernoulli
from plugtorch.distributions.categorical import Categorical
from plugtorch.distributions.constraint_registry import biject_to, transform_to
from plugtorch.distributions.continuous_bernoulli import ContinuousBernoulli
from plugtorch.distributions.discrete import Binomial, Geometric, Multinomial, NegativeBinomial, Poisson
from plugtorch.distributions.distribution import Distribution
from plugtorch.distributions.exp_family import ExponentialFamily
from plugtorch.distributions.exponential import Cauchy, Exponential, Gumbel, Laplace
from plugtorch.distributions.gamma import Beta, Chi2, Dirichlet, FisherSnedecor, Gamma, StudentT
from plugtorch.distributions.generalized_pareto import GeneralizedPareto
from plugtorch.distributions.independent import Independent
from plugtorch.distributions.kl import kl_divergence, register_kl
from plugtorch.distributions.lkj_cholesky import LKJCholesky
from plugtorch.distributions.log_normal import LogNormal
from plugtorch.distributions.lowrank_multivariate_normal import LowRankMultivariateNormal
from plugtorch.distributions.mixture_same_family import MixtureSameFamily
from plugtorch.distributions.multivariate_normal import MultivariateNormal
from plugtorch.distributions.normal import Normal
from plugtorch.distributions.one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from plugtorch.distributions.relaxed import (ExpRelaxedCategorical, LogitRelaxedBernoulli, RelaxedBernoulli,
                                             RelaxedOneHotCategorical)
from plugtorch.distributions.transformed_distribution import TransformedDistribution
from plugtorch.distributions.transformed_families import (HalfCauchy, HalfNormal, InverseGamma, Kumaraswamy,
                                                          LogisticNormal, Pareto, Weibull)
from plugtorch.distributions.transforms import (AbsTransform, AffineTransform, CatTransform, ComposeTransform,
                                                CorrCholeskyTransform, CumulativeDistributionTransform, ExpTransform,
                                                IndependentTransform, LowerCholeskyTransform,
                                                PositiveDefiniteTransform, PowerTransform, ReshapeTransform,
                                                SigmoidTransform, SoftmaxTransform, SoftplusTransform, StackTransform,
                                                StickBreakingTransform, TanhTransform, Transform)
from plugtorch.distributions.uniform import Uniform
from plugtorch.distributions.von_mises import VonMises
from plugtorch.distributions.wishart import Wishart
from plugtorch.distributions import kl_pairs as _kl_pairs  # noqa: F401  (registers the closed forms)
from plugtorch.distributions import kl_cross as _kl_cross  # noqa: F401  (and the cross-family ones)

__all__ = [
    "AbsTransform", "AffineTransform", "Bernoulli", "Beta", "Binomial", "CatTransform", "Categorical",
    "Cauchy", "Chi2", "ComposeTransform", "ContinuousBernoulli", "CorrCholeskyTransform",
    "CumulativeDistributionTransform", "Dirichlet", "Distribution", "ExpRelaxedCategorical", "ExpTransform",
    "Exponential", "ExponentialFamily", "FisherSnedecor", "Gamma", "GeneralizedPareto", "Geometric", "Gumbel",
    "HalfCauchy", "HalfNormal", "Independent", "IndependentTransform", "InverseGamma", "Kumaraswamy",
    "LKJCholesky", "Laplace", "LogNormal", "LogisticNormal", "LogitRelaxedBernoulli",
    "LowRankMultivariateNormal", "LowerCholeskyTransform", "MixtureSameFamily", "Multinomial",
    "MultivariateNormal", "NegativeBinomial", "Normal", "OneHotCategorical",
    "OneHotCategoricalStraightThrough", "Pareto", "Poisson", "PositiveDefiniteTransform", "PowerTransform",
    "RelaxedBernoulli", "RelaxedOneHotCategorical", "ReshapeTransform", "SigmoidTransform",
    "SoftmaxTransform", "SoftplusTransform", "StackTransform", "StickBreakingTransform", "StudentT",
    "TanhTransform", "Transform", "TransformedDistribution", "Uniform", "VonMises", "Weibull", "Wishart",
    "biject_to", "constraints", "kl_divergence", "register_kl", "transform_to", "transforms",
]

identity_transform = ComposeTransform([])   # as torch.distributions.identity_transform


def _torch_module_names():
    """``from plugtorch.distributions.beta import Beta``: PyTorch has one module per distribution;
    plugtorch groups several families per file, so each of PyTorch's module names is registered as
    a module holding its classes (the same objects as ``plugtorch.distributions.Beta``)."""
    import sys
    import types
    for mod, names in {
            "beta": ("Beta",), "binomial": ("Binomial",), "cauchy": ("Cauchy",), "chi2": ("Chi2",),
            "dirichlet": ("Dirichlet",), "fishersnedecor": ("FisherSnedecor",), "geometric": ("Geometric",),
            "gumbel": ("Gumbel",), "half_cauchy": ("HalfCauchy",), "half_normal": ("HalfNormal",),
            "inverse_gamma": ("InverseGamma",), "kumaraswamy": ("Kumaraswamy",), "laplace": ("Laplace",),
            "logistic_normal": ("LogisticNormal",), "multinomial": ("Multinomial",),
            "negative_binomial": ("NegativeBinomial",), "pareto": ("Pareto",), "poisson": ("Poisson",),
            "relaxed_bernoulli": ("RelaxedBernoulli", "LogitRelaxedBernoulli"),
            "relaxed_categorical": ("RelaxedOneHotCategorical", "ExpRelaxedCategorical"),
            "studentT": ("StudentT",), "weibull": ("Weibull",)}.items():
        full = f"{__name__}.{mod}"
        if full in sys.modules:
            continue
        m = types.ModuleType(full, f"PyTorch's torch.distributions.{mod}: {', '.join(names)}.")
        for n in names:
            setattr(m, n, globals()[n])
        m.__all__ = list(names)
        sys.modules[full] = m
        globals()[mod] = m


_torch_module_names()
