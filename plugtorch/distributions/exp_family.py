"""ExponentialFamily: distributions of the form exp(<theta, t(x)> - F(theta) + k(x)).

Subclasses give ``_natural_params`` (theta), ``_log_normalizer`` (F) and ``_mean_carrier_measure``
(E[k(x)]); the entropy and the KL between two members of one family then follow from F and its
gradient (a Bregman divergence), computed by autograd.
"""
from __future__ import annotations

import plugtorch as _pt
from plugtorch.distributions.distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """Base class of exponential-family distributions (Normal, Bernoulli, Gamma, Beta, Dirichlet ...)."""

    @property
    def _natural_params(self):
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError

    def entropy(self):
        """H = F(theta) - <theta, grad F(theta)> - E[k(x)], through autograd."""
        result = -self._mean_carrier_measure
        nparams = [p.detach().requires_grad_() for p in self._natural_params]
        with _pt.enable_grad():
            lg_normal = self._log_normalizer(*nparams)
            gradients = _pt.autograd.grad(lg_normal.sum(), nparams, create_graph=True)
        result = result + lg_normal
        for nparam, g in zip(nparams, gradients):
            result = result - (nparam * g).reshape(tuple(self._batch_shape) + (-1,)).sum(-1)
        return result
