"""LKJCholesky: a distribution over Cholesky factors of correlation matrices (Lewandowski et al. 2009)."""
from __future__ import annotations

import math

import plugtorch as _pt
from plugtorch.distributions import constraints
from plugtorch.distributions.distribution import Distribution
from plugtorch.distributions.gamma import Beta
from plugtorch.distributions.utils import _diag_embed, broadcast_all

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    """LKJ distribution of ``L`` (``L L^T`` a ``dim x dim`` correlation matrix) with ``concentration`` eta.

    Sampling is the onion method: row i takes a Beta-distributed squared length and a uniform
    direction on the hypersphere.

    >>> import plugtorch as pt
    >>> from plugtorch.distributions import LKJCholesky
    >>> L = LKJCholesky(3, pt.tensor(1.0)).sample()
    >>> [round(v, 6) for v in (L @ L.mT).diagonal().tolist()]
    [1.0, 1.0, 1.0]
    """
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        marginal_conc = self.concentration + 0.5 * (self.dim - 2)
        # row i >= 1 has squared length y_i ~ Beta(i / 2, eta + (d - 1 - i) / 2) (the onion method);
        # PyTorch's first parameter is i - 1/2 (offset + 0.5 without the halving), so from row 2 on
        # its samples are not LKJ-distributed (their correlations have the wrong marginals)
        offset = _pt.arange(self.dim - 1, dtype=self.concentration.dtype, device=self.concentration.device)
        offset = _pt.cat([offset.new_zeros((1,)), offset])
        self._beta = Beta(0.5 * offset + 0.5, marginal_conc.unsqueeze(-1) - 0.5 * offset)
        super().__init__(self.concentration.size(), (dim, dim), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = tuple(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(batch_shape + (self.dim,))
        super(LKJCholesky, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        with _pt.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            shape = tuple(self._extended_shape(sample_shape))
            u_normal = _pt.randn(shape, dtype=y.dtype, device=y.device).tril(-1)
            norm = _pt.linalg.vector_norm(u_normal, dim=-1, keepdim=True)
            u_hypersphere = u_normal / _pt.where(norm > 0, norm, _pt.ones_like(norm))   # row 0 is all zeros
            w = y.sqrt() * u_hypersphere
            diag_elems = (1 - (w ** 2).sum(-1)).clamp(min=_pt.finfo(w.dtype).tiny).sqrt()
            return w + _diag_embed(diag_elems)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = _pt.arange(2, self.dim + 1, device=self.concentration.device, dtype=self.concentration.dtype)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized_log_pdf = (order * diag_elems.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = _pt.lgamma(alpha) * dm1
        numerator = _pt.mvlgamma(alpha - 0.5, dm1)
        normalize_term = 0.5 * dm1 * math.log(math.pi) + numerator - denominator
        return unnormalized_log_pdf - normalize_term
