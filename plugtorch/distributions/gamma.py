"""Gamma, Beta and Dirichlet: sampled through Marsaglia-Tsang gamma variates.

PyTorch gives these ``rsample`` through implicit reparameterisation (the derivative of a gamma
sample with respect to its concentration, from the incomplete gamma function); plugtorch has no
incomplete gamma function yet, so they offer ``sample()`` only and ``rsample`` raises
NotImplementedError saying so. Densities, entropies and KLs are differentiable.
"""
from __future__ import annotations

import plugtorch as _pt
from plugtorch.distributions import constraints
from plugtorch.distributions._location_scale import _Parameterised
from plugtorch.distributions._samplers import standard_gamma
from plugtorch.distributions._special import digamma, lgamma
from plugtorch.distributions.distribution import Distribution

__all__ = ["Gamma", "Beta", "Dirichlet"]


def _no_rsample(name):
    raise NotImplementedError(
        f"{name}.rsample: plugtorch cannot yet differentiate a gamma sample with respect to its concentration "
        "(PyTorch's implicit reparameterisation needs the incomplete gamma function's derivative, which "
        f"plugtorch lacks); use {name}.sample() with a score-function estimator, or a reparameterisable "
        "distribution such as LogNormal")


class Gamma(_Parameterised):
    """Gamma distribution with ``concentration`` (shape) and ``rate`` (inverse scale).

    >>> import plugtorch as pt
    >>> from plugtorch.distributions import Gamma
    >>> Gamma(pt.tensor(2.0), pt.tensor(4.0)).mean.item()
    0.5
    """
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = False
    _params = ("concentration", "rate")

    def __init__(self, concentration, rate, validate_args=None):
        self._init_params((concentration, rate), validate_args)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        with _pt.no_grad():
            value = standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
            return value.clamp(min=_pt.finfo(value.dtype).tiny)

    def rsample(self, sample_shape=()):
        _no_rsample(type(self).__name__)

    def log_prob(self, value):
        value = _pt.as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        self._check(value)
        return (_pt.xlogy(self.concentration, self.rate) + _pt.xlogy(self.concentration - 1, value)
                - self.rate * value - lgamma(self.concentration))

    def entropy(self):
        c = self.concentration
        return c - self.rate.log() + lgamma(c) + (1.0 - c) * digamma(c)


class Beta(_Parameterised):
    """Beta distribution on [0, 1] with ``concentration1`` (alpha) and ``concentration0`` (beta)."""
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = False
    _params = ("concentration1", "concentration0")

    def __init__(self, concentration1, concentration0, validate_args=None):
        self._init_params((concentration1, concentration0), validate_args)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return (self.concentration1 - 1) / (self.concentration1 + self.concentration0 - 2)

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        with _pt.no_grad():
            x = standard_gamma(self.concentration1.expand(shape))
            y = standard_gamma(self.concentration0.expand(shape))
            finfo = _pt.finfo(x.dtype)
            return (x / (x + y)).clamp(min=finfo.tiny, max=1 - finfo.eps)

    def rsample(self, sample_shape=()):
        _no_rsample(type(self).__name__)

    def log_prob(self, value):
        self._check(value)
        a, b = self.concentration1, self.concentration0
        return _pt.xlogy(a - 1, value) + _pt.xlogy(b - 1, 1 - value) - (lgamma(a) + lgamma(b) - lgamma(a + b))

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        return (lgamma(a) + lgamma(b) - lgamma(total) - (a - 1) * digamma(a) - (b - 1) * digamma(b)
                + (total - 2) * digamma(total))

    @property
    def concentration(self):
        return _pt.stack([self.concentration1, self.concentration0], -1)


class Dirichlet(Distribution):
    """Dirichlet distribution over the simplex with ``concentration`` (event_shape is its last dim)."""
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = False

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = _pt.Size(batch_shape)
        new.concentration = self.concentration.expand(tuple(batch_shape) + tuple(self.event_shape))
        super(Dirichlet, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        with _pt.no_grad():
            g = standard_gamma(self.concentration.expand(shape))
            finfo = _pt.finfo(g.dtype)
            return (g / g.sum(-1, keepdim=True)).clamp(min=finfo.tiny, max=1 - finfo.eps)

    def rsample(self, sample_shape=()):
        _no_rsample("Dirichlet")

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return _pt.xlogy(c - 1.0, value).sum(-1) + lgamma(c.sum(-1)) - lgamma(c).sum(-1)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, True)

    @property
    def mode(self):
        cm1 = (self.concentration - 1).clamp(min=0.0)
        mode = cm1 / cm1.sum(-1, True)
        # all concentrations below 1: the density is unbounded at every vertex; PyTorch answers the
        # first one (the argmax of an all-nan row), and so does this
        vertex = (_pt.arange(mode.shape[-1], device=mode.device) == 0).to(mode.dtype).expand(tuple(mode.shape))
        return _pt.where((self.concentration < 1).all(-1, keepdim=True), vertex, mode)

    @property
    def variance(self):
        con0 = self.concentration.sum(-1, True)
        return self.concentration * (con0 - self.concentration) / (con0.pow(2) * (con0 + 1))

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        a0 = c.sum(-1)
        return lgamma(c).sum(-1) - lgamma(a0) - (k - a0) * digamma(a0) - ((c - 1.0) * digamma(c)).sum(-1)
