"""GeneralizedPareto: the peaks-over-threshold distribution of extreme value theory."""
from __future__ import annotations

import math

import plugtorch as _pt
from plugtorch.distributions import constraints
from plugtorch.distributions._parameterised import _Parameterised

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(_Parameterised):
    """Generalized Pareto with ``loc``, ``scale`` and ``concentration`` (the shape xi; 0 is Exponential).

    >>> import plugtorch as pt
    >>> from plugtorch.distributions import GeneralizedPareto
    >>> GeneralizedPareto(pt.tensor(0.0), pt.tensor(1.0), pt.tensor(0.0)).cdf(pt.tensor(0.0)).item()
    0.0
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True
    _params = ("loc", "scale", "concentration")

    def __init__(self, loc, scale, concentration, validate_args=None):
        self._init_params((loc, scale, concentration), validate_args)

    def _safe_concentration(self):
        eq_zero = _pt.isclose(self.concentration, _pt.zeros_like(self.concentration))
        return eq_zero, _pt.where(eq_zero, _pt.ones_like(self.concentration), self.concentration)

    def _z(self, x):
        return (x - self.loc) / self.scale

    def rsample(self, sample_shape=()):
        return self.icdf(self._uniform(sample_shape, self.loc))

    def log_prob(self, value):
        self._check(value)
        z = self._z(value)
        eq_zero, safe = self._safe_concentration()
        y = 1 / safe + _pt.ones_like(z)
        where_nonzero = _pt.where(y == 0, y, y * (safe * z).log1p())
        return -self.scale.log() - _pt.where(eq_zero, z, where_nonzero)

    def log_survival_function(self, value):
        self._check(value)
        z = self._z(value)
        eq_zero, safe = self._safe_concentration()
        return _pt.where(eq_zero, -z, -(safe * z).log1p() / safe)

    def log_cdf(self, value):
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value):
        return self.log_cdf(value).exp()

    def icdf(self, value):
        eq_zero, safe = self._safe_concentration()
        logu = (-value).log1p()
        where_nonzero = self.loc + self.scale / safe * (-safe * logu).expm1()
        return _pt.where(eq_zero, self.loc - self.scale * logu, where_nonzero)

    @property
    def mean(self):
        valid = self.concentration < 1
        safe = _pt.where(valid, self.concentration, _pt.full_like(self.concentration, 0.5))
        result = self.loc + self.scale / (1 - safe)
        return _pt.where(valid, result, _pt.full_like(result, math.nan))

    @property
    def variance(self):
        valid = self.concentration < 0.5
        safe = _pt.where(valid, self.concentration, _pt.full_like(self.concentration, 0.25))
        result = self.scale ** 2 / ((1 - safe) ** 2 * (1 - 2 * safe))
        return _pt.where(valid, result, _pt.full_like(result, math.nan))

    def entropy(self):
        return (self.scale.log() + self.concentration + 1).expand(tuple(self._batch_shape))

    @property
    def mode(self):
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        lower = self.loc
        upper = _pt.where(self.concentration < 0, lower - self.scale / self.concentration,
                          _pt.full_like(lower, math.inf))
        return constraints.interval(lower, upper)
