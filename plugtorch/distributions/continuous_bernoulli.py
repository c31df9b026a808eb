"""ContinuousBernoulli (Loaiza-Ganem and Cunningham, 2019): a density on [0, 1] for VAE pixels."""
from __future__ import annotations

import math
import numbers

import plugtorch as _pt
from plugtorch.distributions import constraints
from plugtorch.distributions._parameterised import _ProbsOrLogits
from plugtorch.distributions.bernoulli import _bce_with_logits
from plugtorch.distributions.exp_family import ExponentialFamily
from plugtorch.distributions.utils import broadcast_all, clamp_probs, lazy_property, logits_to_probs

__all__ = ["ContinuousBernoulli"]


def _float64_devices(device):
    """``(device.type,)`` if its backend computes in float64, else ``()``."""
    from plugtorch import backends
    be = backends.get_backend(device.type)
    return (device.type,) if be.unsupported_dtype(_pt.float64, device.index or 0) is None else ()


class ContinuousBernoulli(_ProbsOrLogits, ExponentialFamily):
    """Density proportional to ``probs**x (1 - probs)**(1 - x)`` on [0, 1]; ``rsample`` inverts the CDF.

    Near probs = 1/2 (inside ``lims``) the normaliser and moments use PyTorch's Taylor expansions.

    >>> import plugtorch as pt
    >>> from plugtorch.distributions import ContinuousBernoulli
    >>> round(ContinuousBernoulli(pt.tensor(0.5)).mean.item(), 4)
    0.5
    """
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (checked,) = broadcast_all(probs)
            if validate_args is not None and not bool(self.arg_constraints["probs"].check(checked).all()):
                raise ValueError("The parameter probs has invalid values")
            probs = clamp_probs(checked) if not isinstance(probs, numbers.Number) else clamp_probs(checked).item()
        batch_shape = self._init_probs_logits(probs, logits)
        self._lims = lims
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)
        new._lims = self._lims
        return new

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    def _outside_unstable_region(self):
        # decided in probs' own dtype (as PyTorch: float32 0.499 is outside (0.499, 0.501)), whatever
        # dtype the values are then formed in
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self, probs=None):
        probs = self.probs if probs is None else probs
        return _pt.where(self._outside_unstable_region(), probs, self._lims[0] * _pt.ones_like(probs))

    def _wide_probs(self):
        """probs in float64 where the device has it. Just outside ``lims`` the moments and the
        normaliser are differences of terms ~ 1 / (1 - 2 probs)**2 that cancel: in float32 they lose
        every digit (variance -0.30 at probs 0.4985, where it is 1/12), so they are formed in float64
        and rounded once."""
        p = self.probs
        if p.dtype in (_pt.float32, _pt.float16, _pt.bfloat16) and \
                p.device.type in ("cpu",) + tuple(_float64_devices(p.device)):
            return p.double()
        return p

    def _cont_bern_log_norm(self):
        p = self._wide_probs()
        cut = self._cut_probs(p)
        below = _pt.where(cut <= 0.5, cut, _pt.zeros_like(cut))
        above = _pt.where(cut >= 0.5, cut, _pt.ones_like(cut))
        log_norm = ((-cut).log1p() - cut.log()).abs().log() - _pt.where(
            cut <= 0.5, (-2.0 * below).log1p(), (2.0 * above - 1.0).log())
        x = (p - 0.5).pow(2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return _pt.where(self._outside_unstable_region(), log_norm, taylor).to(self.probs.dtype)

    @property
    def mean(self):
        p = self._wide_probs()
        cut = self._cut_probs(p)
        mus = cut / (2.0 * cut - 1.0) + 1.0 / ((-cut).log1p() - cut.log())
        x = p - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x.pow(2)) * x
        return _pt.where(self._outside_unstable_region(), mus, taylor).to(self.probs.dtype)

    @property
    def variance(self):
        p = self._wide_probs()
        cut = self._cut_probs(p)
        variances = cut * (cut - 1.0) / (1.0 - 2.0 * cut).pow(2) + 1.0 / ((-cut).log1p() - cut.log()).pow(2)
        x = (p - 0.5).pow(2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return _pt.where(self._outside_unstable_region(), variances, taylor).to(self.probs.dtype)

    def sample(self, sample_shape=()):
        with _pt.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        u = _pt.rand(shape, dtype=self.probs.dtype, device=self.probs.device)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        bce = _bce_with_logits(logits, value)
        return -bce + self._cont_bern_log_norm()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        p = self._wide_probs()
        cut, v = self._cut_probs(p), value.to(p.dtype)
        cdfs = (cut.pow(v) * (1.0 - cut).pow(1.0 - v) + cut - 1.0) / (2.0 * cut - 1.0)
        unbounded = _pt.where(self._outside_unstable_region(), cdfs, v).to(_pt.promote_types(value.dtype, self.probs.dtype))
        return _pt.where(value <= 0.0, _pt.zeros_like(unbounded),
                         _pt.where(value >= 1.0, _pt.ones_like(unbounded), unbounded))

    def icdf(self, value):
        p = self._wide_probs()
        cut, v = self._cut_probs(p), value.to(p.dtype)
        inverted = ((-cut + v * (2.0 * cut - 1.0)).log1p() - (-cut).log1p()) / (cut.log() - (-cut).log1p())
        return _pt.where(self._outside_unstable_region(), inverted, v).to(_pt.promote_types(value.dtype, self.probs.dtype))

    def entropy(self):
        log_probs0 = (-self.probs).log1p()
        log_probs1 = self.probs.log()
        return self.mean * (log_probs0 - log_probs1) - self._cont_bern_log_norm() - log_probs0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        out = (x <= self._lims[0] - 0.5) | (x > self._lims[1] - 0.5)
        cut = _pt.where(out, x, (self._lims[0] - 0.5) * _pt.ones_like(x))
        log_norm = cut.expm1().abs().log() - cut.abs().log()
        taylor = 0.5 * x + x.pow(2) / 24.0 - x.pow(4) / 2880.0
        return _pt.where(out, log_norm, taylor)
