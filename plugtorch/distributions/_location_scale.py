"""Shared constructor/expand for distributions parameterised by broadcastable tensors or numbers."""
from __future__ import annotations

import numbers

import plugtorch as _pt
from plugtorch.distributions.distribution import Distribution
from plugtorch.distributions.utils import broadcast_all


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
