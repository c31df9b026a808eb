"""Shared constructors and ``expand`` for distributions whose parameters broadcast together
(``_Parameterised``) or that take binary ``probs`` or ``logits`` (``_ProbsOrLogits``)."""
from __future__ import annotations

import numbers

import plugtorch as _pt
from plugtorch.distributions.distribution import Distribution
from plugtorch.distributions.utils import broadcast_all, lazy_property, logits_to_probs, probs_to_logits


class _Parameterised(Distribution):
    """Stores the parameters named in ``_params`` broadcast together; batch_shape is their shape."""
    _params: tuple = ()

    def _init_params(self, values, validate_args):
        for name, value in zip(self._params, broadcast_all(*values)):
            setattr(self, name, value)
        if all(isinstance(v, numbers.Number) for v in values):
            batch_shape = _pt.Size()
        else:
            batch_shape = getattr(self, self._params[0]).size()
        Distribution.__init__(self, batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        batch_shape = _pt.Size(batch_shape)
        for name in self._params:
            setattr(new, name, getattr(self, name).expand(batch_shape))
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _check(self, value):
        if self._validate_args:
            self._validate_sample(value)

    def _uniform(self, sample_shape, ref):
        return _pt.rand(tuple(self._extended_shape(sample_shape)), dtype=ref.dtype, device=ref.device)


class _ProbsOrLogits(Distribution):
    """Stores ``probs`` or ``logits`` (binary); the other is a lazy property."""

    def _init_probs_logits(self, probs, logits, extra=()):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        given = probs if probs is not None else logits
        values = broadcast_all(*extra, given)
        for name, value in zip(self._extra, values):
            setattr(self, name, value)
        setattr(self, "probs" if probs is not None else "logits", values[-1])
        self._param = values[-1]
        is_scalar = isinstance(given, numbers.Number) and all(isinstance(e, numbers.Number) for e in extra)
        return _pt.Size() if is_scalar else self._param.size()

    _extra: tuple = ()

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        batch_shape = _pt.Size(batch_shape)
        for name in self._extra:
            setattr(new, name, getattr(self, name).expand(batch_shape))
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, getattr(self, name).expand(batch_shape))
                new._param = getattr(new, name)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self):
        return self._param.size()
