"""The closed-form KL divergences registered with ``register_kl`` (PyTorch's formulas)."""
from __future__ import annotations

import math

import plugtorch as _pt
from plugtorch.distributions.bernoulli import Bernoulli
from plugtorch.distributions.categorical import Categorical
from plugtorch.distributions.independent import Independent
from plugtorch.distributions.kl import _infinite_like, kl_divergence, register_kl
from plugtorch.distributions.normal import Normal
from plugtorch.distributions.one_hot_categorical import OneHotCategorical
from plugtorch.distributions.uniform import Uniform
from plugtorch.distributions.utils import _sum_rightmost

@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (_pt.nn.functional.softplus(-q.logits) - _pt.nn.functional.softplus(-p.logits))
    t1 = _pt.where(q.probs == 0, _pt.full_like(t1, math.inf), t1)
    t1 = _pt.where(p.probs == 0, _pt.zeros_like(t1), t1)
    t2 = (1 - p.probs) * (_pt.nn.functional.softplus(q.logits) - _pt.nn.functional.softplus(p.logits))
    t2 = _pt.where(q.probs == 1, _pt.full_like(t2, math.inf), t2)
    t2 = _pt.where(p.probs == 1, _pt.zeros_like(t2), t2)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = _pt.where(q.probs == 0, _pt.full_like(t, math.inf), t)
    t = _pt.where(p.probs == 0, _pt.zeros_like(t), t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return _pt.where((q.low > p.low) | (q.high < p.high), _infinite_like(result), result)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("kl_divergence(Independent, Independent): the two distributions reinterpret "
                                  f"{p.reinterpreted_batch_ndims} and {q.reinterpreted_batch_ndims} batch dims; "
                                  "they must reinterpret the same number")
    result = kl_divergence(p.base_dist, q.base_dist)
    return _sum_rightmost(result, p.reinterpreted_batch_ndims)


@register_kl(Normal, Uniform)
def _kl_normal_uniform(p, q):
    return _infinite_like(p.loc)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    common_term = p.high - p.low
    t1 = (math.sqrt(math.pi * 2) * q.scale / common_term).log()
    t2 = common_term.pow(2) / 12
    t3 = ((p.high + p.low - 2 * q.loc) / 2).pow(2)
    return t1 + 0.5 * (t2 + t3) / q.scale.pow(2)



# ---- the other families -------------------------------------------------------------------
from plugtorch.distributions.discrete import Binomial, Geometric, Poisson  # noqa: E402
from plugtorch.distributions.exponential import _EULER_GAMMA, Cauchy, Exponential, Gumbel, Laplace  # noqa: E402
from plugtorch.distributions.gamma import Beta, Dirichlet, Gamma  # noqa: E402
from plugtorch.distributions.multivariate_normal import MultivariateNormal, _batch_mahalanobis  # noqa: E402
from plugtorch.distributions.transformed_distribution import TransformedDistribution  # noqa: E402


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return -rate_ratio.log() + rate_ratio - 1


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    t1 = q.concentration * (p.rate / q.rate).log()
    t2 = _pt.lgamma(q.concentration) - _pt.lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * _pt.digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    sum_p = p.concentration1 + p.concentration0
    sum_q = q.concentration1 + q.concentration0
    t1 = _pt.lgamma(q.concentration1) + _pt.lgamma(q.concentration0) + _pt.lgamma(sum_p)
    t2 = _pt.lgamma(p.concentration1) + _pt.lgamma(p.concentration0) + _pt.lgamma(sum_q)
    t3 = (p.concentration1 - q.concentration1) * _pt.digamma(p.concentration1)
    t4 = (p.concentration0 - q.concentration0) * _pt.digamma(p.concentration0)
    t5 = (sum_q - sum_p) * _pt.digamma(sum_p)
    return t1 - t2 + t3 + t4 + t5


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    sum_p = p.concentration.sum(-1)
    sum_q = q.concentration.sum(-1)
    t1 = _pt.lgamma(sum_p) - _pt.lgamma(sum_q)
    t2 = (_pt.lgamma(p.concentration) - _pt.lgamma(q.concentration)).sum(-1)
    t3 = p.concentration - q.concentration
    t4 = _pt.digamma(p.concentration) - _pt.digamma(sum_p).unsqueeze(-1)
    return t1 - t2 + (t3 * t4).sum(-1)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = (q.loc - p.loc).abs()
    t1 = -scale_ratio.log()
    t2 = loc_abs_diff / q.scale
    t3 = scale_ratio * (-loc_abs_diff / p.scale).exp()
    return t1 + t2 + t3 - 1


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    t1 = ((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log()
    t2 = (4 * p.scale * q.scale).log()
    return t1 - t2


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    ct1 = p.scale / q.scale
    ct2 = q.loc / q.scale
    ct3 = p.loc / q.scale
    t1 = -ct1.log() - ct2 + ct3
    t2 = ct1 * _EULER_GAMMA
    t3 = (ct2 + _pt.lgamma(1 + ct1) - ct3).exp()
    return t1 + t2 + t3 - (1 + _EULER_GAMMA)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p() - (-q.probs).log1p())
    return _pt.where(p.total_count > q.total_count, _infinite_like(kl), kl)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_multivariatenormal_multivariatenormal(p, q):
    if tuple(p.event_shape) != tuple(q.event_shape):
        raise ValueError("KL-divergence between two Multivariate Normals with different event shapes cannot be "
                         f"computed: {tuple(p.event_shape)} and {tuple(q.event_shape)}")
    pL, qL = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    half_term1 = qL.diagonal(dim1=-2, dim2=-1).log().sum(-1) - pL.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    n = p.event_shape[0]
    batch = tuple(_pt.broadcast_shapes(tuple(qL.shape[:-2]), tuple(pL.shape[:-2])))
    sol = _pt.linalg.solve_triangular(qL.expand(batch + (n, n)), pL.expand(batch + (n, n)), upper=False)
    term2 = sol.pow(2).sum((-2, -1))
    term3 = _batch_mahalanobis(qL, q.loc - p.loc)
    return half_term1 + 0.5 * (term2 + term3 - n)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms:
        raise NotImplementedError("kl_divergence(TransformedDistribution, TransformedDistribution) needs the same "
                                  f"transforms on both sides, got {p.transforms} and {q.transforms}")
    if tuple(p.event_shape) != tuple(q.event_shape):
        raise NotImplementedError("kl_divergence(TransformedDistribution, TransformedDistribution) needs equal "
                                  f"event shapes, got {tuple(p.event_shape)} and {tuple(q.event_shape)}")
    return kl_divergence(p.base_dist, q.base_dist)


from plugtorch.distributions.exp_family import ExponentialFamily  # noqa: E402


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    """The Bregman divergence of the log-normaliser, for two members of one family."""
    if type(p) is not type(q):
        raise NotImplementedError("The cross KL-divergence between different exponential families cannot be computed "
                                  "using Bregman divergences")
    p_nparams = [nparam.detach().requires_grad_() for nparam in p._natural_params]
    q_nparams = q._natural_params
    with _pt.enable_grad():
        lg_normal = p._log_normalizer(*p_nparams)
        gradients = _pt.autograd.grad(lg_normal.sum(), p_nparams, create_graph=True)
    result = q._log_normalizer(*q_nparams) - lg_normal
    for pnp, qnp, g in zip(p_nparams, q_nparams, gradients):
        result = result - _sum_rightmost((qnp - pnp) * g, len(q.event_shape))
    return result
