"""VonMises: the circular normal distribution on angles."""
from __future__ import annotations

import math

import plugtorch as _pt
from plugtorch.distributions import constraints
from plugtorch.distributions._parameterised import _Parameterised
from plugtorch.distributions._samplers import _MAX_ROUNDS, _any, _supports_f64

__all__ = ["VonMises"]


def _log_i0(x):
    return _pt.special.i0e(x).log() + x   # i0e(x) = exp(-|x|) I0(x), so no overflow for large x


class VonMises(_Parameterised):
    """Density exp(concentration * cos(x - loc)) / (2 pi I0(concentration)) on [-pi, pi).

    ``log_prob`` uses the scaled Bessel function ``special.i0e`` (exact to rounding; PyTorch uses a
    polynomial fit within ~1e-7). Sampling is Best and Fisher's rejection loop, in float64 where
    the device has it, as PyTorch's.

    >>> import plugtorch as pt
    >>> from plugtorch.distributions import VonMises
    >>> round(VonMises(pt.tensor(0.0), pt.tensor(1.0)).log_prob(pt.tensor(0.0)).item(), 4)
    -1.0738
    """
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False
    _params = ("loc", "concentration")

    def __init__(self, loc, concentration, validate_args=None):
        self._init_params((loc, concentration), validate_args)

    def log_prob(self, value):
        self._check(value)
        return self.concentration * (value - self.loc).cos() - math.log(2 * math.pi) - _log_i0(self.concentration)

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        work = _pt.float64 if _supports_f64(self.loc.device) else self.loc.dtype
        with _pt.no_grad():
            loc = self.loc.to(work).expand(shape)
            kappa = self.concentration.to(work).expand(shape)
            tau = 1 + (1 + 4 * kappa ** 2).sqrt()
            rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
            proposal_r = _pt.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho ** 2) / (2 * rho))
            x = _pt.zeros(shape, dtype=work, device=self.loc.device)
            done = _pt.zeros(shape, dtype=_pt.bool, device=self.loc.device)
            for _ in range(_MAX_ROUNDS):
                u1, u2, u3 = (_pt.rand(shape, dtype=work, device=self.loc.device) for _ in range(3))
                z = (math.pi * u1).cos()
                f = (1 + proposal_r * z) / (proposal_r + z)
                c = kappa * (proposal_r - f)
                accept = ~done & ((c * (2 - c) - u2 > 0) | ((c / u2).log() + 1 - c >= 0))
                x = _pt.where(accept, (u3 - 0.5).sign() * f.clamp(min=-1, max=1).acos(), x)
                done = done | accept
                if not _any(~done):
                    break
            return ((x + math.pi + loc) % (2 * math.pi) - math.pi).to(self.loc.dtype)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        k = self.concentration
        return 1 - _pt.special.i1e(k) / _pt.special.i0e(k)
