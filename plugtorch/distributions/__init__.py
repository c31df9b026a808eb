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
