"""cpu kernels of the normalization nn ops (plugtorch/nn/ops.py): layer_norm and its backward in a
few passes over memory, reusing their temporaries, instead of the decomposition's dozen (one new
array per step). The arithmetic is the decomposition's: the mean, the centred values, the biased
variance of those, then ``xhat * weight + bias``; float16 and bfloat16 are computed in float32."""
from __future__ import annotations

import warnings

import numpy as np

from plugtorch import _dtypes

# inf/nan from the unguarded kernels (group_norm): silent as PyTorch's (plugtorch/dispatch/fpstate.py)
warnings.filterwarnings("ignore", category=RuntimeWarning, module=__name__)

_HALVES = (np.dtype(np.float16), np.dtype(_dtypes.bfloat16.numpy))


def _rows(x, ns, *params):
    """x as (rows, row length) in the computation dtype: float32 for float16 and bfloat16, promoted
    with the parameters' (a float64 weight computes in float64, as the decomposition's product)."""
    n = rows = 1
    for s in ns:
        n *= s
    for s in x.shape[:x.ndim - len(ns)]:
        rows *= s
    ct = np.result_type(np.float32 if x.dtype in _HALVES else x.dtype, *(p.dtype for p in params if p is not None))
    return x.reshape(rows, n).astype(ct, copy=False), n


def _centred(x2, n, eps):
    """x - mean per row (a new array) and 1 / sqrt(var + eps) as (rows, 1); the variance is the
    centred values' (stable), their squares summed by one dot product per row (no temporary)."""
    mean = np.add.reduce(x2, axis=1, keepdims=True)
    mean /= n
    xc = np.subtract(x2, mean, order="C")   # (a row-major result whatever x's layout, as torch's)
    var = np.vecdot(xc, xc)[:, None]
    var /= n
    var += eps
    rstd = np.sqrt(var, out=var)
    return xc, np.divide(1, rstd, out=rstd)


def layer_norm(x, ns, w, b, eps):
    """The nn op: ``(x - mean) * rstd * weight + bias``, a row-major result of x's dtype; four
    passes over the data and two row reductions."""
    x2, n = _rows(x, ns, w, b)
    if x2.size == 0:
        return np.empty(x.shape, x.dtype)
    with np.errstate(all="ignore"):
        y, rstd = _centred(x2, n, eps)
        y *= rstd
        if w is not None:
            y *= w.reshape(-1)
        if b is not None:
            y += b.reshape(-1)
    return y.reshape(x.shape).astype(x.dtype, copy=False)


def group_norm(x, num_groups, w, b, eps):
    """The nn op: each (sample, group) normalised as layer_norm's kernel normalises a row, then
    ``* weight + bias`` per channel, in the decomposition's dtypes (a float64 weight promotes, an
    integer one is cast), so its values are the decomposition's (which autograd records)."""
    if x.size == 0:
        return np.empty(x.shape, x.dtype)
    n, c = x.shape[0], x.shape[1]
    rows = n * int(num_groups)
    x2 = x.reshape(rows, -1).astype(np.float32 if x.dtype in _HALVES else x.dtype, copy=False)
    y, rstd = _centred(x2, x2.shape[1], eps)    # (no errstate: its 3 us is the op's; module filter above)
    y *= rstd
    y = y.reshape(n, c, -1)
    for p, op in ((w, np.multiply), (b, np.add)):
        if p is None:
            continue
        if p.dtype.kind in "biu":
            p = p.astype(y.dtype)
        p = p.reshape(c, 1)
        if np.result_type(y.dtype, p.dtype) == y.dtype:
            op(y, p, out=y)
        else:
            y = op(y, p)
    return y.reshape(x.shape).astype(x.dtype, copy=False)


def layer_norm_backward(g, x, ns, w, eps, mask):
    """The nn op: layer_norm's three gradients (the weight's and bias's summed over the rows).

    With xhat = xc * rstd, gh = g * w, a = mean(gh), c = mean(gh * xhat) per row: the input's is
    rstd (gh - a - xhat c) = (gh - a) rstd - xc (rstd^2 c); the weight's sum(g xhat) over the rows
    = (g xc)^T rstd. The row sums of products with w are matrix-vector products."""
    x2, n = _rows(x, ns, w)
    g2, _ = _rows(g, ns, w)
    ct = x2.dtype
    gx = gw = gb = None
    if x2.size == 0:
        zeros = np.zeros(ns, ct)
        return (np.zeros(x.shape, x.dtype) if mask[0] else None, zeros if mask[1] else None,
                zeros.copy() if mask[2] else None)
    with np.errstate(all="ignore"):
        xc, rstd = _centred(x2, n, eps)
        if mask[2]:
            gb = np.add.reduce(g2, axis=0).reshape(ns)
        if not (mask[0] or mask[1]):
            return None, None, gb
        gxc = np.multiply(g2, xc)
        if mask[1]:
            gw = (rstd[:, 0] @ gxc).reshape(ns)
        if mask[0]:
            wv = None if w is None else w.reshape(-1).astype(ct, copy=False)
            k = (gxc @ wv if wv is not None else np.add.reduce(gxc, axis=1))[:, None]    # sum(gh xc)
            k *= rstd * rstd * rstd / n                                                  # rstd^2 c
            a = (g2 @ wv if wv is not None else np.add.reduce(g2, axis=1))[:, None] / n   # mean(gh)
            xc *= k
            xc += a * rstd
            t = np.multiply(g2, wv, out=gxc) if wv is not None else np.multiply(g2, rstd, out=gxc)
            if wv is not None:
                t *= rstd
            t -= xc
            gx = t.reshape(x.shape).astype(x.dtype, copy=False)
    return gx, gw, gb


def hardtanh(x, lo, hi):
    """The nn op hardtanh (ReLU6): one clip, nan and -0.0 kept as PyTorch's clamp keeps them; an
    integer input clipped to float limits is truncated back to its dtype, as the decomposition."""
    if x.dtype.kind == "f":
        return np.clip(x, x.dtype.type(lo), x.dtype.type(hi))
    return np.clip(x, lo, hi).astype(x.dtype, copy=False)


KERNELS = {"layer_norm": layer_norm, "_layer_norm_backward": layer_norm_backward, "group_norm": group_norm,
           "hardtanh": hardtanh}
