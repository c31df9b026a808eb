"""Backward formulas of plugtorch.fft's real transforms, written with plugtorch ops.

irfftn of a real half spectrum x is linear: y_t = scale * sum_k c_k x_k cos(2 pi k.t / n), with
c_k = 2 for the bins of the halved (last) dim that stand for two of the full spectrum and 1 for
its first (and, n even, last) bin. Its adjoint is therefore scale * c * Re(rfftn(g)) (PyTorch's
fft_c2r_backward, of which a real input keeps the real part), cut or zero-padded back to the
input's sizes. Re(rfftn(.)) is the internal op _fft_rfftn_real; its own adjoint is
irfftn(h / c, norm="forward"), so create_graph differentiates both again. A complex half
spectrum gets the whole c * rfftn(g) (the imaginary parts of its first and last bins, which
irfftn ignores, get 0: rfftn of a real g is real there).

The complex transforms follow the conjugate Wirtinger convention (complex_formulas.py): fftn's
adjoint is the unnormalised inverse, so its gradient is ifftn of the gradient with the norm
mirrored ("backward" <-> "forward"), ifftn's the fftn likewise, each cut or zero-padded back to
the input's sizes; rfftn's is that of fftn with the dropped bins' gradient zero (a real input
keeps the real part, engine.cast_grad).
"""
from __future__ import annotations

import math

import plugtorch as pt
from plugtorch.autograd.formulas import derivative


def _bin_weights(like, n, dim, ndim):
    """c along ``dim`` (length n // 2 + 1), shaped to broadcast over an ``ndim``-d tensor."""
    m = n // 2 + 1
    doubled = n - m
    c = pt.cat([pt.ones(1, dtype=like.dtype, device=like.device),
                pt.full((doubled,), 2.0, dtype=like.dtype, device=like.device),
                pt.ones(m - 1 - doubled, dtype=like.dtype, device=like.device)])
    return c.reshape(tuple(m if i == dim else 1 for i in range(ndim)))


def _resize(g, dims, sizes):
    """``g`` cut or zero-padded at the end of each of ``dims`` to ``sizes``."""
    for d, n in zip(dims, sizes):
        have = g.shape[d]
        if have > n:
            g = g.narrow(d, 0, n)
        elif have < n:
            pad = list(g.shape)
            pad[d] = n - have
            g = pt.cat([g, pt.zeros(tuple(pad), dtype=g.dtype, device=g.device)], d)
    return g


_MIRROR = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _irfftn_grad(g, x, s=None, dim=None, norm=None):
    from plugtorch.dispatch.ops.fft import check_norm, fft_plan
    s, dims = fft_plan("fft_irfftn", x, s, dim, c2r=True)
    sizes = tuple(g.shape[d] for d in dims)      # the output's: s, resolved
    norm = check_norm(norm)
    if x.dtype.is_complex:
        r = pt.ops.fft_rfftn(g, None, dims, _MIRROR[norm]) * _bin_weights(g, sizes[-1], dims[-1], g.ndim)
        return (_resize(r, dims, tuple(x.shape[d] for d in dims)),)
    total = math.prod(sizes)
    scale = {"backward": 1 / total, "ortho": 1 / math.sqrt(total), "forward": 1.0}[norm]
    r = pt.ops._fft_rfftn_real(g, dims) * _bin_weights(g, sizes[-1], dims[-1], g.ndim)
    if scale != 1.0:
        r = r * scale
    return (_resize(r, dims, tuple(x.shape[d] for d in dims)),)


def _rfftn_real_grad(h, x, dim):
    from plugtorch.dispatch.ops.fft import fft_plan
    _, dims = fft_plan("_fft_rfftn_real", x, None, dim)
    sizes = tuple(x.shape[d] for d in dims)
    return (pt.ops.fft_irfftn(h / _bin_weights(h, sizes[-1], dims[-1], h.ndim), sizes, dims, "forward"),)


derivative("fft_irfftn", _irfftn_grad, save=())
derivative("_fft_rfftn_real", _rfftn_real_grad, save=())


def _c2c_grad(op, adjoint):
    def grad(g, x, s=None, dim=None, norm=None):
        from plugtorch.dispatch.ops.fft import check_norm, fft_plan
        _, dims = fft_plan(op, x, s, dim)
        sizes = tuple(g.shape[d] for d in dims)
        gx = adjoint(g, sizes, dims, _MIRROR[check_norm(norm)])
        return (_resize(gx, dims, tuple(x.shape[d] for d in dims)),)
    return grad


def _rfftn_grad(g, x, s=None, dim=None, norm=None):
    from plugtorch.dispatch.ops.fft import check_norm, fft_plan
    s, dims = fft_plan("fft_rfftn", x, s, dim)
    sizes = tuple(x.shape[d] for d in dims) if s is None else s
    full = _resize(g, dims[-1:], sizes[-1:])        # the dropped (negative) frequencies: gradient 0
    gx = pt.ops.fft_ifftn(full, sizes, dims, _MIRROR[check_norm(norm)])
    return (_resize(gx, dims, tuple(x.shape[d] for d in dims)),)


derivative("fft_fftn", _c2c_grad("fft_fftn", lambda g, s, d, n: pt.ops.fft_ifftn(g, s, d, n)), save=())
derivative("fft_ifftn", _c2c_grad("fft_ifftn", lambda g, s, d, n: pt.ops.fft_fftn(g, s, d, n)), save=())
derivative("fft_rfftn", _rfftn_grad, save=())
