"""Samplers for Gamma, Poisson and Binomial variates written as loops over whole tensors.

Each round draws proposals for every element and keeps them where the element is still pending
and the proposal is accepted, so the loop runs on any device; the only host read per round is
"is anything still pending". Random numbers come from the default generator (``manual_seed``),
or the ``generator`` that ``poisson`` and ``binomial`` are given.
"""
from __future__ import annotations


import plugtorch as _pt
from plugtorch.autograd.formulas import not_differentiable

_MAX_ROUNDS = 1000


def _any(mask):
    return bool(mask.any())


def standard_gamma(alpha):
    """Gamma(alpha, 1) variates, shape of ``alpha`` (Marsaglia and Tsang, 2000; boosted for alpha < 1)."""
    alpha = alpha.detach()
    shape, kw = tuple(alpha.shape), dict(dtype=alpha.dtype, device=alpha.device)
    boost = alpha < 1
    a = _pt.where(boost, alpha + 1, alpha)
    d = a - 1.0 / 3.0
    c = (9 * d).rsqrt()
    result = _pt.zeros(shape, **kw)
    pending = _pt.ones(shape, dtype=_pt.bool, device=alpha.device)
    for _ in range(_MAX_ROUNDS):
        z = _pt.randn(shape, **kw)
        u = _pt.rand(shape, **kw)
        v = (1 + c * z) ** 3
        vpos = v > 0
        vsafe = _pt.where(vpos, v, _pt.ones_like(v))
        accept = vpos & (u.log() < 0.5 * z * z + d - d * vsafe + d * vsafe.log())
        take = pending & accept
        result = _pt.where(take, d * vsafe, result)
        pending = pending & ~take
        if not _any(pending):
            break
    # Gamma(a) = Gamma(a + 1) * U ** (1 / a)
    u = _pt.rand(shape, **kw)
    result = _pt.where(boost, result * u.pow(alpha.reciprocal()), result)
    return result.clamp(min=_pt.finfo(alpha.dtype).tiny)


def _supports_f64(device):
    from plugtorch.dispatch.ops.composite import _supports_f64 as supports
    return supports(device)


def standard_gamma_grad(alpha, x):
    """d x / d alpha for x ~ Gamma(alpha, 1) held at a fixed quantile (implicit reparameterisation).

    With P(alpha, x) the regularised lower incomplete gamma function (the CDF), P(alpha, x(alpha)) = u
    gives dx/dalpha = -(dP/dalpha) / pdf(x). dP/dalpha comes from a central difference of
    ``special.gammainc`` in float64 (of ``gammaincc`` where P > 1/2, so neither tail cancels); the
    step 1e-5 * alpha keeps both its truncation and rounding errors near 1e-10 relative.
    """
    dtype = alpha.dtype
    work = _pt.float64 if _supports_f64(alpha.device) else dtype
    a, xs = alpha.to(work), x.to(work)
    h = a * (1e-5 if work == _pt.float64 else 3e-3)
    lower = _pt.special.gammainc(a, xs) < 0.5
    d_lower = (_pt.special.gammainc(a + h, xs) - _pt.special.gammainc(a - h, xs)) / (2 * h)
    d_upper = -(_pt.special.gammaincc(a + h, xs) - _pt.special.gammaincc(a - h, xs)) / (2 * h)
    dP = _pt.where(lower, d_lower, d_upper)
    log_pdf = (a - 1) * xs.log() - xs - _pt.lgamma(a)
    grad = -dP / log_pdf.exp()
    return _pt.where(grad.isfinite(), grad, _pt.zeros_like(grad)).to(dtype)


class _ReparameterisedGamma(_pt.autograd.Function):
    """Passes a gamma sample through unchanged; its backward multiplies by d sample / d alpha."""

    @staticmethod
    def forward(ctx, alpha, x):
        ctx.save_for_backward(alpha, x)
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        alpha, x = ctx.saved_tensors
        d = standard_gamma_grad(alpha, x)
        if d.requires_grad:   # (create_graph) its derivative would hold the sample fixed: refuse it, as PyTorch
            d = not_differentiable(d, "the derivative of a Gamma (Beta, Dirichlet) rsample's gradient with "
                                       "respect to its concentration is not implemented (as in PyTorch): "
                                       "differentiate the sample once")
        return grad * d, None


def standard_gamma_rsample(alpha):
    """Gamma(alpha, 1) variates that gradients flow back to ``alpha`` through (as PyTorch's rsample)."""
    x = standard_gamma(alpha)
    if not (alpha.requires_grad and _pt.is_grad_enabled()):
        return x
    return _ReparameterisedGamma.apply(alpha, x)


def poisson(rate, generator=None):
    """Poisson variates (float, shape of ``rate``): multiplication method below 10, PTRS (Hormann 1993) above."""
    rate = rate.detach()
    shape, kw = tuple(rate.shape), dict(dtype=rate.dtype, device=rate.device)
    small = rate < 10
    result = _pt.zeros(shape, **kw)
    if _any(small & (rate > 0)):
        # count arrivals of a rate-lambda process in [0, 1]: exp(-lambda) against a running product
        limit = (-rate).exp()
        prod = _pt.rand(shape, **kw, generator=generator)
        count = _pt.zeros(shape, **kw)
        active = small & (prod > limit)
        while _any(active):
            count = count + active.to(rate.dtype)
            prod = prod * _pt.rand(shape, **kw, generator=generator)
            active = active & (prod > limit)
        result = _pt.where(small, count, result)
    big = ~small & ~rate.isnan()
    if _any(big):
        lam = _pt.where(big, rate, _pt.full_like(rate, 10.0))
        slam, loglam = lam.sqrt(), lam.log()
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        pending = big.clone()
        for _ in range(_MAX_ROUNDS):
            u = _pt.rand(shape, **kw, generator=generator) - 0.5
            v = _pt.rand(shape, **kw, generator=generator)
            us = 0.5 - u.abs()
            k = ((2 * a / us + b) * u + lam + 0.43).floor()
            quick = (us >= 0.07) & (v <= vr)
            reject = (k < 0) | ((us < 0.013) & (v > us))
            ksafe = k.clamp(min=0)
            log_hat = v.log() + invalpha.log() - (a / (us * us) + b).log()
            slow = log_hat <= -lam + ksafe * loglam - _pt.lgamma(ksafe + 1)
            take = pending & (quick | (~reject & slow))
            result = _pt.where(take, k, result)
            pending = pending & ~take
            if not _any(pending):
                break
    return _pt.where(rate.isnan(), rate, result)


def binomial(count, probs, generator=None):
    """Binomial(count, probs) variates (float, broadcast shape), as PyTorch samples them: with
    p = min(probs, 1 - probs), geometric waiting times ("inversion") where count * p < 10 and
    Hormann's BTRS rejection (1993) above, both loops over whole tensors; p > 1/2 by symmetry."""
    count, probs = _pt.broadcast_tensors(count.detach(), probs.detach())
    shape, kw = tuple(count.shape), dict(dtype=probs.dtype, device=probs.device)
    flip = probs > 0.5
    p = _pt.where(flip, 1 - probs, probs)
    result = _pt.zeros(shape, **kw)
    small = count * p < 10
    live = (p > 0) & (count > 0)
    if _any(small & live):
        # successes = how many geometric gaps fit into count trials
        log_q = (-p).log1p()
        log_q = _pt.where(small & live, log_q, _pt.full_like(log_q, -1.0))
        position = _pt.zeros(shape, **kw)
        successes = _pt.zeros(shape, **kw)
        active = small & live
        for _ in range(_MAX_ROUNDS * 100):
            u = _pt.rand(shape, **kw, generator=generator).clamp(min=_pt.finfo(probs.dtype).tiny)
            position = position + (u.log() / log_q).floor() + 1
            active = active & (position <= count)
            if not _any(active):
                break
            successes = successes + active.to(probs.dtype)
        result = _pt.where(small, successes, result)
    big = ~small & live
    if _any(big):
        n = _pt.where(big, count, _pt.full_like(count, 100.0))
        q_ = _pt.where(big, p, _pt.full_like(p, 0.5))
        spq = (n * q_ * (1 - q_)).sqrt()
        b = 1.15 + 2.53 * spq
        a = -0.0873 + 0.0248 * b + 0.01 * q_
        c = n * q_ + 0.5
        v_r = 0.92 - 4.2 / b
        alpha = (2.83 + 5.1 / b) * spq
        m = ((n + 1) * q_).floor()
        log_ratio = q_.log() - (-q_).log1p()
        log_fm = _pt.lgamma(m + 1) + _pt.lgamma(n - m + 1)
        pending = big.clone()
        for _ in range(_MAX_ROUNDS):
            u = _pt.rand(shape, **kw, generator=generator) - 0.5
            v = _pt.rand(shape, **kw, generator=generator)
            us = 0.5 - u.abs()
            k = ((2 * a / us + b) * u + c).floor()
            quick = (us >= 0.07) & (v <= v_r)
            ok = (k >= 0) & (k <= n)
            ks = k.clamp(min=0).minimum(n)
            # accept when v * alpha / (a / us^2 + b) <= f(k) / f(m), f the binomial pmf
            log_f_ratio = log_fm - _pt.lgamma(ks + 1) - _pt.lgamma(n - ks + 1) + (ks - m) * log_ratio
            slow = ok & ((v * alpha / (a / (us * us) + b)).log() <= log_f_ratio)
            take = pending & (quick | slow)
            result = _pt.where(take, k, result)
            pending = pending & ~take
            if not _any(pending):
                break
    return _pt.where(flip, count - result, result)
