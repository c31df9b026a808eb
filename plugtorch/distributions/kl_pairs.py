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

