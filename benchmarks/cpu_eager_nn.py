"""cpu eager nn layers of typical models (LayerNorm and gelu in transformers, depthwise conv in
MobileNets, GroupNorm, pooling in CNNs) at realistic sizes, forward and forward + backward,
against NumPy written out by hand and PyTorch when installed (one thread each), same run, same
data; best of N with the contenders alternating, ratios printed.

    OPENBLAS_NUM_THREADS=1 python benchmarks/cpu_eager_nn.py [name ...]
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from cpu_eager import main, report  # noqa: E402

import plugtorch as pt  # noqa: E402
import plugtorch.nn.functional as F  # noqa: E402


def _fwd_bwd(fn, *leaves):
    """A closure running ``fn()`` and its backward with a fixed gradient, then clearing the leaves'
    gradients (plugtorch and torch alike)."""
    def run():
        out = fn()
        out.backward(_ones_like(out))
        for t in leaves:
            t.grad = None
    return run


_ONES = {}


def _ones_like(out):
    key = (type(out), tuple(out.shape))
    if key not in _ONES:
        _ONES[key] = out.detach() * 0 + 1
    return _ONES[key]


def _contenders(label, pt_fn, np_fn, torch_fn):
    cs = [(f"plugtorch {label}", pt_fn), (f"numpy {label}", np_fn)]
    if torch_fn is not None:
        cs.append((f"pytorch {label}", torch_fn))
    return cs


def _both(torch, title, make, np_fwd, np_fwdbwd, arrays):
    """make(lib, tensors) -> a function computing the output; times forward and forward + backward."""
    P = [pt.from_numpy(a.copy()) for a in arrays]
    T = [torch.from_numpy(a.copy()) for a in arrays] if torch is not None else None
    with pt.no_grad():
        report(f"{title}, forward, float32 ms",
               _contenders("fwd", lambda: make(pt, P), np_fwd,
                           None if T is None else lambda: _no_grad(torch, make, T)))
    PG = [p.requires_grad_() for p in P]
    TG = None if T is None else [t.requires_grad_() for t in T]
    report(f"{title}, forward + backward, float32 ms",
           _contenders("fwd+bwd", _fwd_bwd(lambda: make(pt, PG), *PG), np_fwdbwd,
                       None if TG is None else _fwd_bwd(lambda: make(torch, TG), *TG)))


def _no_grad(torch, make, T):
    with torch.no_grad():
        return make(torch, T)


def bench_layer_norm(torch, rng):
    x = rng.standard_normal((32, 128, 768), dtype=np.float32)
    w = rng.standard_normal(768, dtype=np.float32)
    b = rng.standard_normal(768, dtype=np.float32)

    def fwd():
        mean = x.mean(-1, keepdims=True)
        xc = x - mean
        rstd = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + 1e-5)
        xc *= rstd
        return xc * w + b, xc, rstd

    def fwdbwd():
        y, xhat, rstd = fwd()
        g = np.ones_like(x)
        gh = g * w
        gx = rstd * (gh - gh.mean(-1, keepdims=True) - xhat * (gh * xhat).mean(-1, keepdims=True))
        return y, gx, (g * xhat).sum((0, 1)), g.sum((0, 1))

    _both(torch, "layer_norm (32, 128, 768) over 768",
          lambda lib, t: lib.nn.functional.layer_norm(t[0], (768,), t[1], t[2]), lambda: fwd()[0], fwdbwd, [x, w, b])


def bench_group_norm(torch, rng):
    x = rng.standard_normal((16, 64, 56, 56), dtype=np.float32)
    w = rng.standard_normal(64, dtype=np.float32)
    b = rng.standard_normal(64, dtype=np.float32)

    def fwd():
        xg = x.reshape(16, 32, -1)
        xc = xg - xg.mean(-1, keepdims=True)
        rstd = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + 1e-5)
        xc *= rstd
        xhat = xc.reshape(x.shape)
        return xhat * w[:, None, None] + b[:, None, None], xhat, rstd

    def fwdbwd():
        y, xhat, rstd = fwd()
        g = np.ones_like(x)
        gh = (g * w[:, None, None]).reshape(16, 32, -1)
        xh = xhat.reshape(16, 32, -1)
        gx = rstd * (gh - gh.mean(-1, keepdims=True) - xh * (gh * xh).mean(-1, keepdims=True))
        return y, gx, (g * xhat).sum((0, 2, 3)), g.sum((0, 2, 3))

    _both(torch, "group_norm 32 groups, (16, 64, 56, 56)",
          lambda lib, t: lib.nn.functional.group_norm(t[0], 32, t[1], t[2]), lambda: fwd()[0], fwdbwd, [x, w, b])


def _np_erf(x):
    from scipy.special import erf
    return erf(x)


def bench_gelu(torch, rng):
    x = rng.standard_normal(1 << 20, dtype=np.float32) * 3

    def fwd():
        return x * 0.5 * (1 + _np_erf(x * np.float32(1 / math.sqrt(2))))

    def fwdbwd():
        cdf = 0.5 * (1 + _np_erf(x * np.float32(1 / math.sqrt(2))))
        pdf = np.exp(-0.5 * x * x) * np.float32(1 / math.sqrt(2 * math.pi))
        return x * cdf, cdf + x * pdf

    _both(torch, "gelu, 2**20 elements (scipy erf for NumPy)", lambda lib, t: lib.nn.functional.gelu(t[0]), fwd,
          fwdbwd, [x])


def bench_depthwise(torch, rng):
    n, c, h = 32, 64, 56
    x = rng.standard_normal((n, c, h, h), dtype=np.float32)
    w = rng.standard_normal((c, 1, 3, 3), dtype=np.float32)

    def fwd():   # 9 shifted multiply-adds
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        out = np.zeros_like(x)
        for i in range(3):
            for j in range(3):
                out += xp[:, :, i:i + h, j:j + h] * w[None, :, 0, i, j, None, None]
        return out, xp

    def fwdbwd():   # backward: 9 products each way
        out, xp = fwd()
        g = np.ones_like(x)
        gp = np.zeros_like(xp)
        gw = np.empty_like(w)
        for i in range(3):
            for j in range(3):
                gp[:, :, i:i + h, j:j + h] += g * w[None, :, 0, i, j, None, None]
                gw[:, 0, i, j] = np.einsum("nchw,nchw->c", g, xp[:, :, i:i + h, j:j + h])
        return out, gp[:, :, 1:-1, 1:-1], gw

    _both(torch, "conv2d depthwise 3x3 pad 1, (32, 64, 56, 56)",
          lambda lib, t: lib.nn.functional.conv2d(t[0], t[1], padding=1, groups=c), lambda: fwd()[0], fwdbwd, [x, w])


def bench_adaptive_avg_pool(torch, rng):
    x = rng.standard_normal((32, 256, 13, 13), dtype=np.float32)

    def bounds(n, o):
        return [(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]

    def fwd():
        return np.stack([np.stack([x[:, :, a:b, c:d].mean((2, 3)) for c, d in bounds(13, 5)], -1)
                         for a, b in bounds(13, 5)], -2)

    def fwdbwd():
        out = fwd()
        g = np.ones_like(out)
        gx = np.zeros_like(x)
        for i, (a, b) in enumerate(bounds(13, 5)):
            for j, (c, d) in enumerate(bounds(13, 5)):
                gx[:, :, a:b, c:d] += (g[:, :, i, j] / ((b - a) * (d - c)))[:, :, None, None]
        return out, gx

    _both(torch, "adaptive_avg_pool2d 5, (32, 256, 13, 13)",
          lambda lib, t: lib.nn.functional.adaptive_avg_pool2d(t[0], 5), fwd, fwdbwd, [x])


def bench_max_pool(torch, rng):
    x = rng.standard_normal((16, 64, 112, 112), dtype=np.float32)
    win = np.lib.stride_tricks.sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)),
                                                          constant_values=-np.inf), (3, 3), (2, 3))[:, :, ::2, ::2]

    def fwd():
        return win.max((-2, -1))

    def fwdbwd():   # argmax of each window, one scatter-add of the ones
        flat = win.reshape(win.shape[:4] + (9,))
        k = flat.argmax(-1)
        out = np.take_along_axis(flat, k[..., None], -1)[..., 0]
        n, c, ho, wo = out.shape
        r = np.arange(ho)[:, None] * 2 + k // 3
        s = np.arange(wo) * 2 + k % 3
        idx = (np.arange(n * c)[:, None] * (114 * 114) + (r * 114 + s).reshape(n * c, -1)).ravel()
        gx = np.bincount(idx, minlength=n * c * 114 * 114).astype(np.float32).reshape(n, c, 114, 114)
        return out, gx[:, :, 1:-1, 1:-1]

    _both(torch, "max_pool2d 3 stride 2 pad 1, (16, 64, 112, 112)",
          lambda lib, t: lib.nn.functional.max_pool2d(t[0], 3, 2, 1), fwd, fwdbwd, [x])


BENCHES = {"layer_norm": bench_layer_norm, "depthwise": bench_depthwise, "gelu": bench_gelu,
           "group_norm": bench_group_norm, "max_pool": bench_max_pool, "adaptive_avg_pool": bench_adaptive_avg_pool}


if __name__ == "__main__":
    main(sys.argv[1:], BENCHES)
