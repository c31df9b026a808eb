"""Bernoulli distribution, parameterised by ``probs`` or ``logits``."""
from __future__ import annotations

import plugtorch as _pt
from plugtorch.distributions import constraints
from plugtorch.distributions._parameterised import _ProbsOrLogits
from plugtorch.distributions.exp_family import ExponentialFamily
from plugtorch.distributions.utils import broadcast_all
from plugtorch.nn.functional.loss import _softplus_neg

__all__ = ["Bernoulli"]


def _bce_with_logits(logits, value):
    # binary_cross_entropy_with_logits(logits, value), written out: log(1 + exp(l)) - l*v, that
    # softplus differentiable at l = 0 (clamp's and abs's subgradients gave 1 - v, not 0.5 - v)
    return _softplus_neg(-logits) - logits * value


class Bernoulli(_ProbsOrLogits, ExponentialFamily):
    """1 with probability ``probs`` (or ``sigmoid(logits)``), else 0.

    >>> import plugtorch as pt
    >>> from plugtorch.distributions import Bernoulli
    >>> Bernoulli(probs=pt.tensor(0.25)).log_prob(pt.tensor(1.0)).exp().item()
    0.25
    """
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, validate_args=None):
        batch_shape = self._init_probs_logits(probs, logits)
        super().__init__(batch_shape, validate_args=validate_args)

    def _new(self, *args, **kwargs):
        return self._param.new_empty(*args, **kwargs)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return mode.masked_fill(self.probs == 0.5, float("nan"))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        with _pt.no_grad():
            # u < p directly: pt.bernoulli would first read back a range check of probs. Draws in
            # float32 at least, as pt.bernoulli: a float16 draw can round up to 1 and miss p = 1
            probs = self.probs
            draw = _pt.float64 if probs.dtype == _pt.float64 else _pt.float32
            u = _pt.rand(shape, dtype=draw, device=probs.device)
            return (u < probs.to(draw)).to(probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_bce_with_logits(logits, value)

    def entropy(self):
        return _bce_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand=True):
        values = _pt.arange(2, dtype=self._param.dtype, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values

    @property
    def _natural_params(self):
        return (_pt.logit(self.probs),)

    def _log_normalizer(self, x):
        return x.exp().log1p()
