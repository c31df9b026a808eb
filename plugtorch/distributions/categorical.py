"""Categorical distribution over ``{0, ..., K-1}``, parameterised by ``probs`` or ``logits``."""
from __future__ import annotations

import math

import plugtorch as _pt
from plugtorch.distributions import constraints
from plugtorch.distributions.distribution import Distribution
from plugtorch.distributions.utils import lazy_property, logits_to_probs, probs_to_logits

__all__ = ["Categorical"]

_COMPARE_ALL_UP_TO = 32


def _inverse_cdf_sample(probs, sample_shape):
    """Indices drawn from ``probs`` (normalised over the last dim) by inverting the CDF with one uniform each.

    Runs on the probabilities' device with the default generator (``plugtorch.manual_seed``), no host reads.
    """
    k = probs.shape[-1]
    cdf = probs.cumsum(-1)
    cdf = cdf / cdf[..., -1:]   # the last entry exactly 1, so a draw in [0, 1) never runs past it
    batch = tuple(probs.shape[:-1])
    u = _pt.rand(tuple(sample_shape) + batch, dtype=probs.dtype, device=probs.device)
    if k <= _COMPARE_ALL_UP_TO:   # few categories: count the CDF entries <= u in one comparison
        return (u.unsqueeze(-1) >= cdf).sum(-1).clamp(max=k - 1)
    # many: a binary search, log2(k) gathers over (batch, samples) instead of a (samples, batch, k) mask
    n_batch = math.prod(batch)
    cdf_rows = cdf.reshape(n_batch, k)
    u_rows = u.reshape(-1, n_batch).mT
    lo = _pt.zeros(tuple(u_rows.shape), dtype=_pt.int64, device=probs.device)
    hi = _pt.full(tuple(u_rows.shape), k, dtype=_pt.int64, device=probs.device)
    for _ in range(k.bit_length()):
        mid = (lo + hi) // 2
        right = cdf_rows.gather(1, mid.clamp(max=k - 1)) <= u_rows   # u lies past cdf[mid]
        right = right & (mid < hi)
        lo = _pt.where(right, mid + 1, lo)
        hi = _pt.where(right, hi, mid)
    return lo.mT.reshape(tuple(sample_shape) + batch).clamp(max=k - 1)


class Categorical(Distribution):
    """One of ``K`` categories with probabilities ``probs`` (normalised over the last dim) or ``logits``.

    >>> import plugtorch as pt
    >>> from plugtorch.distributions import Categorical
    >>> Categorical(probs=pt.tensor([1.0, 3.0])).probs.tolist()
    [0.25, 0.75]
    """
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.size()[-1]
        batch_shape = self._param.size()[:-1] if self._param.dim() > 1 else _pt.Size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Categorical, _instance)
        batch_shape = _pt.Size(batch_shape)
        param_shape = tuple(batch_shape) + (self._num_events,)
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(param_shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(param_shape)
            new._param = new.logits
        new._num_events = self._num_events
        super(Categorical, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _new(self, *args, **kwargs):
        return self._param.new_empty(*args, **kwargs)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        return self._param.size()

    @property
    def mean(self):
        return _pt.full(tuple(self._extended_shape()), math.nan, dtype=self.probs.dtype, device=self.probs.device)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return _pt.full(tuple(self._extended_shape()), math.nan, dtype=self.probs.dtype, device=self.probs.device)

    def sample(self, sample_shape=()):
        with _pt.no_grad():
            return _inverse_cdf_sample(self.probs.detach(), sample_shape)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = _pt.broadcast_tensors(value, self.logits)
        value = value[..., :1]
        return log_pmf.gather(-1, value).squeeze(-1)

    def entropy(self):
        min_real = _pt.finfo(self.logits.dtype).min
        logits = self.logits.clamp(min=min_real)
        p_log_p = logits * self.probs
        return -p_log_p.sum(-1)

    def enumerate_support(self, expand=True):
        num_events = self._num_events
        values = _pt.arange(num_events, dtype=_pt.long, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values
