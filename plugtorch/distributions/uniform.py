"""Uniform distribution on the half-open interval [low, high)."""
from __future__ import annotations

import plugtorch as _pt
from plugtorch.distributions import constraints
from plugtorch.distributions._parameterised import _Parameterised

__all__ = ["Uniform"]


class Uniform(_Parameterised):
    """Uniform distribution on ``[low, high)``; rsample is ``low + u * (high - low)``.

    >>> import plugtorch as pt
    >>> from plugtorch.distributions import Uniform
    >>> Uniform(0.0, 4.0).log_prob(pt.tensor(1.0)).exp().item()
    0.25
    """
    @property
    def arg_constraints(self):
        # low < high, checked both ways as PyTorch does, so Uniform(1., 0.) fails validation
        return {"low": constraints.less_than(self.high), "high": constraints.greater_than(self.low)}

    has_rsample = True
    _params = ('low', 'high')

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return _pt.full_like(self.high, float("nan"))

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low).pow(2) / 12

    def __init__(self, low, high, validate_args=None):
        self._init_params((low, high), validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        rand = _pt.rand(tuple(shape), dtype=self.low.dtype, device=self.low.device)
        return self.low + rand * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        lb = self.low.le(value).type_as(self.low)
        ub = self.high.gt(value).type_as(self.low)
        return (lb * ub).log() - (self.high - self.low).log()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        result = (value - self.low) / (self.high - self.low)
        return result.clamp(min=0, max=1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    def entropy(self):
        return (self.high - self.low).log()
