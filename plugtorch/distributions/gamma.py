"""Gamma, Beta and Dirichlet: sampled through Marsaglia-Tsang gamma variates.

``rsample`` differentiates a gamma sample with respect to its concentration by implicit
reparameterisation, as PyTorch does: the sample is held at its quantile, so d x / d alpha =
-(dCDF/dalpha) / pdf(x) (see ``_samplers.standard_gamma_grad``). Beta and Dirichlet samples are
normalised gamma samples, so their gradients follow.
"""
from __future__ import annotations

import math

import plugtorch as _pt
from plugtorch.distributions import constraints
from plugtorch.distributions._parameterised import _Parameterised
from plugtorch.distributions._samplers import standard_gamma_rsample
from plugtorch.distributions.distribution import Distribution
from plugtorch.distributions.exp_family import ExponentialFamily

__all__ = ["Gamma", "Beta", "Dirichlet", "Chi2", "StudentT", "FisherSnedecor"]


def _clamp_open(x, upper):
    # into (tiny, 1 - eps) or (tiny, inf) without cutting the gradient: the clamp moves values only
    finfo = _pt.finfo(x.dtype)
    clamped = x.clamp(min=finfo.tiny, max=1 - finfo.eps) if upper else x.clamp(min=finfo.tiny)
    return x + (clamped - x).detach()


class Gamma(_Parameterised, ExponentialFamily):
    """Gamma distribution with ``concentration`` (shape) and ``rate`` (inverse scale).

    >>> import plugtorch as pt
    >>> from plugtorch.distributions import Gamma
    >>> Gamma(pt.tensor(2.0), pt.tensor(4.0)).mean.item()
    0.5
    """
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
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

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        return _clamp_open(standard_gamma_rsample(self.concentration.expand(shape)) / self.rate.expand(shape), False)

    def log_prob(self, value):
        value = _pt.as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        self._check(value)
        return (_pt.xlogy(self.concentration, self.rate) + _pt.xlogy(self.concentration - 1, value)
                - self.rate * value - _pt.lgamma(self.concentration))

    def cdf(self, value):
        value = _pt.as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        self._check(value)
        return _pt.special.gammainc(self.concentration, self.rate * value)

    def entropy(self):
        c = self.concentration
        return c - self.rate.log() + _pt.lgamma(c) + (1.0 - c) * _pt.digamma(c)

    _mean_carrier_measure = 0

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return _pt.lgamma(x + 1) + (x + 1) * (-y.reciprocal()).log()


class Beta(_Parameterised, ExponentialFamily):
    """Beta distribution on [0, 1] with ``concentration1`` (alpha) and ``concentration0`` (beta)."""
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True
    _params = ("concentration1", "concentration0")

    def __init__(self, concentration1, concentration0, validate_args=None):
        self._init_params((concentration1, concentration0), validate_args)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return Dirichlet(self.concentration, validate_args=False).mode[..., 0]   # as PyTorch's Beta

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        x = standard_gamma_rsample(self.concentration1.expand(shape))
        y = standard_gamma_rsample(self.concentration0.expand(shape))
        return _clamp_open(x / (x + y), True)

    def log_prob(self, value):
        self._check(value)
        a, b = self.concentration1, self.concentration0
        lbeta = _pt.lgamma(a) + _pt.lgamma(b) - _pt.lgamma(a + b)
        return _pt.xlogy(a - 1, value) + _pt.xlogy(b - 1, 1 - value) - lbeta

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        return (_pt.lgamma(a) + _pt.lgamma(b) - _pt.lgamma(total) - (a - 1) * _pt.digamma(a)
                - (b - 1) * _pt.digamma(b) + (total - 2) * _pt.digamma(total))

    @property
    def concentration(self):
        return _pt.stack([self.concentration1, self.concentration0], -1)

    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        return _pt.lgamma(x) + _pt.lgamma(y) - _pt.lgamma(x + y)


class Dirichlet(ExponentialFamily):
    """Dirichlet distribution over the simplex with ``concentration`` (event_shape is its last dim)."""
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

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

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        g = standard_gamma_rsample(self.concentration.expand(shape))
        return _clamp_open(g / g.sum(-1, keepdim=True), True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return _pt.xlogy(c - 1.0, value).sum(-1) + _pt.lgamma(c.sum(-1)) - _pt.lgamma(c).sum(-1)

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
        return (_pt.lgamma(c).sum(-1) - _pt.lgamma(a0) - (k - a0) * _pt.digamma(a0)
                - ((c - 1.0) * _pt.digamma(c)).sum(-1))

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return _pt.lgamma(x).sum(-1) - _pt.lgamma(x.sum(-1))


class Chi2(Gamma):
    """Chi-squared distribution with ``df`` degrees of freedom: Gamma(df / 2, 1 / 2)."""
    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        df = df if isinstance(df, _pt.Tensor) else _pt.tensor(float(df))
        super().__init__(0.5 * df, _pt.full_like(df, 0.5), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Chi2, _instance)
        return super().expand(batch_shape, new)

    @property
    def df(self):
        return self.concentration * 2


class StudentT(Distribution):
    """Student's t distribution with ``df`` degrees of freedom, ``loc`` and ``scale``.

    >>> import plugtorch as pt
    >>> from plugtorch.distributions import StudentT
    >>> round(StudentT(pt.tensor(3.0)).log_prob(pt.tensor(0.0)).item(), 4)
    -1.0009
    """
    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        from plugtorch.distributions.utils import broadcast_all
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        super().__init__(self.df.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(StudentT, _instance)
        batch_shape = _pt.Size(batch_shape)
        new.df = self.df.expand(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new._chi2 = self._chi2.expand(batch_shape)
        super(StudentT, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return _pt.where(self.df > 1, self.loc, _pt.full_like(self.loc, math.nan))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        finite = self.scale.pow(2) * df / (df - 2)
        return _pt.where(df > 2, finite, _pt.where(df > 1, _pt.full_like(df, math.inf), _pt.full_like(df, math.nan)))

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        X = _pt.randn(shape, dtype=self.df.dtype, device=self.df.device)
        Z = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * X * (Z / self.df).rsqrt()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        Z = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi) + _pt.lgamma(0.5 * self.df)
             - _pt.lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * (y ** 2.0 / self.df).log1p() - Z

    def entropy(self):
        df = self.df
        lbeta = _pt.lgamma(0.5 * df) + math.lgamma(0.5) - _pt.lgamma(0.5 * (df + 1))
        return (self.scale.log() + 0.5 * (df + 1) * (_pt.digamma(0.5 * (df + 1)) - _pt.digamma(0.5 * df))
                + 0.5 * df.log() + lbeta)


class FisherSnedecor(Distribution):
    """Fisher-Snedecor (F) distribution with ``df1`` and ``df2``: a ratio of scaled chi-squares."""
    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        import numbers
        from plugtorch.distributions.utils import broadcast_all
        self.df1, self.df2 = broadcast_all(df1, df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2)
        scalar = isinstance(df1, numbers.Number) and isinstance(df2, numbers.Number)
        super().__init__(() if scalar else self.df1.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(FisherSnedecor, _instance)
        batch_shape = _pt.Size(batch_shape)
        new.df1 = self.df1.expand(batch_shape)
        new.df2 = self.df2.expand(batch_shape)
        new._gamma1 = self._gamma1.expand(batch_shape)
        new._gamma2 = self._gamma2.expand(batch_shape)
        super(FisherSnedecor, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        df2 = _pt.where(self.df2 <= 2, _pt.full_like(self.df2, math.nan), self.df2)
        return df2 / (df2 - 2)

    @property
    def mode(self):
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return _pt.where(self.df1 <= 2, _pt.full_like(mode, math.nan), mode)

    @property
    def variance(self):
        df2 = _pt.where(self.df2 <= 4, _pt.full_like(self.df2, math.nan), self.df2)
        return 2 * df2.pow(2) * (self.df1 + df2 - 2) / (self.df1 * (df2 - 2).pow(2) * (df2 - 4))

    def rsample(self, sample_shape=()):
        X1 = self._gamma1.rsample(sample_shape)
        X2 = _clamp_open(self._gamma2.rsample(sample_shape), False)
        return _clamp_open(X1 / X2, False)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        ct1, ct2 = self.df1 * 0.5, self.df2 * 0.5
        ct3 = self.df1 / self.df2
        t1 = _pt.lgamma(ct1 + ct2) - _pt.lgamma(ct1) - _pt.lgamma(ct2)
        t2 = ct1 * ct3.log() + (ct1 - 1) * value.log()
        t3 = (ct1 + ct2) * (ct3 * value).log1p()
        return t1 + t2 - t3
