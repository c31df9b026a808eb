"""Poisson, Binomial and Geometric: counting distributions."""
from __future__ import annotations

import math
import numbers

import plugtorch as _pt
from plugtorch.distributions import constraints
from plugtorch.distributions._parameterised import _Parameterised, _ProbsOrLogits
from plugtorch.distributions._samplers import binomial, poisson
from plugtorch.distributions.distribution import Distribution
from plugtorch.distributions.exp_family import ExponentialFamily
from plugtorch.distributions.utils import broadcast_all
from plugtorch.nn.functional.loss import _softplus_neg

__all__ = ["Poisson", "Binomial", "Geometric", "NegativeBinomial", "Multinomial"]


class Poisson(_Parameterised, ExponentialFamily):
    """Poisson distribution with ``rate``: P(k) = rate^k exp(-rate) / k!.

    >>> import plugtorch as pt
    >>> from plugtorch.distributions import Poisson
    >>> round(Poisson(pt.tensor(2.0)).log_prob(pt.tensor(0.0)).item(), 4)
    -2.0
    """
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer
    _params = ("rate",)

    def __init__(self, rate, validate_args=None):
        self._init_params((rate,), validate_args)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        with _pt.no_grad():
            return poisson(self.rate.expand(shape))

    def log_prob(self, value):
        self._check(value)
        rate, value = broadcast_all(self.rate, value)
        return _pt.xlogy(value, rate) - rate - _pt.lgamma(value + 1)

    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        return x.exp()


class Binomial(_ProbsOrLogits):
    """Number of successes in ``total_count`` Bernoulli trials with ``probs`` (or ``logits``)."""
    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True
    _extra = ("total_count",)

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        batch_shape = self._init_probs_logits(probs, logits, (total_count,))
        self.total_count = self.total_count.type_as(self._param)
        super().__init__(batch_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        with _pt.no_grad():
            return binomial(self.total_count.expand(shape), self.probs.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        log_factorial_n = _pt.lgamma(n + 1)
        # n log(1 + exp(l)), differentiable twice at l = 0 (PyTorch's |l| there gives a second derivative 0)
        normalize_term = n * _softplus_neg(-logits) - log_factorial_n
        return value * logits - _pt.lgamma(value + 1) - _pt.lgamma(n - value + 1) - normalize_term

    def _homogeneous_count(self, what):
        total_count = int(self.total_count.max())
        if not int(self.total_count.min()) == total_count:
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return total_count

    def entropy(self):
        self._homogeneous_count("entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(log_prob.exp() * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        total_count = self._homogeneous_count("enumerate_support")
        values = _pt.arange(1 + total_count, dtype=self._param.dtype, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values


class Geometric(_ProbsOrLogits):
    """Number of failures before the first success in Bernoulli(``probs``) trials (support 0, 1, 2 ...)."""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        batch_shape = self._init_probs_logits(probs, logits)
        super().__init__(batch_shape, validate_args=validate_args)
        if self._validate_args and probs is not None:
            value = self.probs
            valid = value > 0
            if not bool(valid.all()):
                raise ValueError(f"Expected parameter probs ({type(value).__name__} of shape {tuple(value.shape)}) "
                                 f"of distribution {self!r} to be positive but found invalid values:\n{value[~valid]}")

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return _pt.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        tiny = _pt.finfo(self.probs.dtype).tiny
        with _pt.no_grad():
            u = _pt.rand(shape, dtype=self.probs.dtype, device=self.probs.device).clamp(min=tiny)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        probs = _pt.where((probs == 1) & (value == 0), _pt.zeros_like(probs), probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        logits, probs = self.logits, self.probs
        bce = logits.clamp(min=0) - logits * probs + (-logits.abs()).exp().log1p()
        return bce / probs


class NegativeBinomial(_ProbsOrLogits):
    """Number of successes before ``total_count`` failures in Bernoulli(``probs``) trials."""
    arg_constraints = {"total_count": constraints.greater_than_eq(0), "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer
    _extra = ("total_count",)

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        batch_shape = self._init_probs_logits(probs, logits, (total_count,))
        self.total_count = self.total_count.type_as(self._param)
        super().__init__(batch_shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / _pt.sigmoid(-self.logits)

    def sample(self, sample_shape=()):
        from plugtorch.distributions._samplers import standard_gamma
        shape = tuple(self._extended_shape(sample_shape))
        with _pt.no_grad():
            # a Gamma(total_count, exp(-logits)) rate, then Poisson: the gamma-Poisson mixture
            rate = standard_gamma(self.total_count.expand(shape)) * self.logits.exp().expand(shape)
            return poisson(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logsig = _pt.nn.functional.logsigmoid
        log_unnormalized_prob = self.total_count * logsig(-self.logits) + value * logsig(self.logits)
        log_normalization = -_pt.lgamma(self.total_count + value) + _pt.lgamma(1.0 + value) + _pt.lgamma(
            self.total_count)
        log_normalization = log_normalization.masked_fill(self.total_count + value == 0.0, 0.0)
        return log_unnormalized_prob - log_normalization


class Multinomial(Distribution):
    """Counts of ``total_count`` draws from Categorical(``probs``/``logits``); event_shape is (K,)."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        from plugtorch.distributions.categorical import Categorical
        if not isinstance(total_count, numbers.Integral):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        batch_shape = _pt.Size(batch_shape)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = Binomial(total_count=self.total_count, probs=new._categorical.probs)
        super(Multinomial, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def param_shape(self):
        return self._categorical.param_shape

    def sample(self, sample_shape=()):
        with _pt.no_grad():
            samples = self._categorical.sample((self.total_count,) + tuple(sample_shape))
            k = self._categorical._num_events
            one_hot = samples.unsqueeze(-1) == _pt.arange(k, device=samples.device)
            return one_hot.to(self.probs.dtype).sum(0)

    def entropy(self):
        n = _pt.tensor(float(self.total_count), dtype=self.probs.dtype, device=self.probs.device)
        term1 = n * self._categorical.entropy() - _pt.lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = self._binomial.log_prob(support).exp()
        weights = _pt.lgamma(support + 1)
        return term1 + (binomial_probs * weights).sum(0).sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = _pt.lgamma(value.sum(-1) + 1)
        log_factorial_xs = _pt.lgamma(value + 1).sum(-1)
        logits = _pt.where((value == 0) & (logits == -math.inf), _pt.zeros_like(logits), logits)
        log_powers = (logits * value).sum(-1)
        return log_factorial_n - log_factorial_xs + log_powers
