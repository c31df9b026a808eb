"""interpolate: nearest and (bi)linear resizing, one spatial dim at a time with index_select.

>>> import plugtorch as pt
>>> pt.nn.functional.interpolate(pt.tensor([[[1., 2.]]]), scale_factor=2).tolist()
[[[1.0, 1.0, 2.0, 2.0]]]
"""
from __future__ import annotations

import math

import plugtorch as pt


def _sizes(input, size, scale_factor, nd):
    spatial = tuple(input.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        size = tuple(size) if isinstance(size, (list, tuple)) else (size,) * nd
        if len(size) != nd:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                             f"with spatial dimensions of {list(spatial)} and output size of {list(size)}. "
                             "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                             "(o1, o2, ...,oK) format.")
        return size, (None,) * nd
    sf = tuple(scale_factor) if isinstance(scale_factor, (list, tuple)) else (scale_factor,) * nd
    if len(sf) != nd:
        raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                         f"with spatial dimensions of {list(spatial)} and scale_factor of shape {list(sf)}.")
    return tuple(int(math.floor(n * s)) for n, s in zip(spatial, sf)), sf


def _nearest(x, d, n_in, n_out, scale):
    s = (1.0 / scale) if scale else n_in / n_out
    idx = [min(int(math.floor(i * s)), n_in - 1) for i in range(n_out)]
    return x.index_select(d, pt.tensor(idx, device=x.device))


def _linear(x, d, n_in, n_out, scale, align_corners):
    if align_corners:
        s = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        src = [i * s for i in range(n_out)]
    else:
        s = (1.0 / scale) if scale else n_in / n_out
        src = [max((i + 0.5) * s - 0.5, 0.0) for i in range(n_out)]
    i0 = [min(int(math.floor(v)), n_in - 1) for v in src]
    i1 = [min(i + 1, n_in - 1) for i in i0]
    lam = [v - i for v, i in zip(src, i0)]
    shape = [1] * x.ndim
    shape[d] = n_out
    w = pt.tensor(lam, dtype=x.dtype, device=x.device).reshape(shape)
    a = x.index_select(d, pt.tensor(i0, device=x.device))
    b = x.index_select(d, pt.tensor(i1, device=x.device))
    return a + (b - a) * w


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, *spatial); modes 'nearest', 'linear' (3-D), 'bilinear' (4-D)."""
    nd = input.ndim - 2
    if nd < 1:
        raise ValueError(f"interpolate: expected an input of at least 3 dims (N, C, *spatial), got {list(input.shape)}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    expected = {"linear": 1, "bilinear": 2, "trilinear": 3}
    if mode in expected and nd != expected[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {expected[mode] + 2}D input")
    if mode not in ("nearest", "linear", "bilinear", "trilinear"):
        raise NotImplementedError(f"interpolate: mode '{mode}' is not supported; use nearest, linear or bilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    out_size, scales = _sizes(input, size, scale_factor, nd)
    if recompute_scale_factor:
        scales = (None,) * nd
    x = input
    for k in range(nd):
        d = 2 + k
        n_in, n_out = input.shape[d], out_size[k]
        if mode == "nearest":
            x = _nearest(x, d, n_in, n_out, scales[k])
        else:
            x = _linear(x, d, n_in, n_out, scales[k], bool(align_corners))
    return x


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)
