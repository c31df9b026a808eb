"""interpolate: nearest and (bi)linear resizing, one spatial dim at a time with index_select;
affine_grid and grid_sample: sampling at arbitrary positions (gathers weighted by the fractions).

>>> import plugtorch as pt
>>> pt.nn.functional.interpolate(pt.tensor([[[1., 2.]]]), scale_factor=2).tolist()
[[[1.0, 1.0, 2.0, 2.0]]]
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

import plugtorch as pt
from plugtorch._memory_format import keeps_channels_last
from plugtorch.dispatch.meta import not_implemented_for
from plugtorch.nn.functional._utils import check_tensors, user_stacklevel


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


def _check_sizes(spatial, size):
    """PyTorch's error for an empty or negative input or output size (a size 0 divided by zero)."""
    if min(spatial) <= 0 or min(size) <= 0:
        names = "DHW"[3 - len(size):]
        fmt = lambda sizes: ", ".join(f"{n}: {v}" for n, v in zip(names, sizes))
        raise RuntimeError(f"interpolate(): Input and output sizes should be greater than 0, but got input "
                           f"({fmt(spatial)}) output ({fmt(size)})")
    return size


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
    # (1 - w) a + w b, as PyTorch: the lerp a + (b - a) w turns an inf beside a weight of 0 into nan
    return a * (1 - w) + b * w


def _nearest_exact(x, d, n_in, n_out, scale):
    s = (1.0 / scale) if scale else n_in / n_out
    idx = [min(int(math.floor((i + 0.5) * s)), n_in - 1) for i in range(n_out)]
    return x.index_select(d, pt.tensor(idx, device=x.device))


_CUBIC_A = -0.75    # PyTorch's (and OpenCV's) cubic convolution parameter


def _cubic_weights(t):
    """The four cubic-convolution weights of the taps at floor(src) - 1 .. floor(src) + 2."""
    a = _CUBIC_A

    def near(v):        # |v| <= 1
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def far(v):         # 1 < |v| < 2
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a
    return far(t + 1), near(t), near(1 - t), far(2 - t)


def _cubic_sources(n_in, n_out, scale, align_corners):
    """Each output's source position along a dim, for bicubic resampling."""
    if align_corners:
        s = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        return [i * s for i in range(n_out)]
    s = (1.0 / scale) if scale else n_in / n_out
    return [(i + 0.5) * s - 0.5 for i in range(n_out)]


def _cubic_matrix(n_in, n_out, scale, align_corners):
    """``_cubic`` as an (n_out, n_in) float64 matrix: the four taps' weights, clamped taps summed."""
    rows = np.zeros((n_out, n_in))
    for o, v in enumerate(_cubic_sources(n_in, n_out, scale, align_corners)):
        b = int(math.floor(v))
        for k, w in enumerate(_cubic_weights(v - b)):
            rows[o, min(max(b - 1 + k, 0), n_in - 1)] += w
    return rows


def _cubic(x, d, n_in, n_out, scale, align_corners):
    """Bicubic resampling along dim ``d``: four taps (indices clamped to the edge) per output,
    sources not clamped below 0 (unlike linear), as PyTorch's upsample_bicubic2d."""
    src = _cubic_sources(n_in, n_out, scale, align_corners)
    base = [int(math.floor(v)) for v in src]
    weights = list(zip(*[_cubic_weights(v - b) for v, b in zip(src, base)]))
    shape = [1] * x.ndim
    shape[d] = n_out
    out = None
    for k in range(4):
        idx = pt.tensor([min(max(b - 1 + k, 0), n_in - 1) for b in base], device=x.device)
        w = pt.tensor(list(weights[k]), dtype=x.dtype, device=x.device).reshape(shape)
        term = x.index_select(d, idx) * w
        out = term if out is None else out + term
    return out


def _antialias_matrix(n_in, n_out, scale, align_corners, mode, like):
    """PyTorch's antialiased resampling weights along one dim (as PIL's): when downsampling by s
    the filter (triangle for bilinear, Keys' cubic with a = -0.5 for bicubic, Lanczos-3) is widened s times,
    and each output row's weights are normalized to sum to 1."""
    rows = _resample_weights(n_in, n_out, scale, align_corners, mode, True)
    return pt.tensor(rows, dtype=like.dtype, device=like.device)


def _resample_weights(n_in, n_out, scale, align_corners, mode, antialias):
    """The (n_out, n_in) float64 weights of PyTorch's separable resampling along one dim. Without
    ``antialias`` (its uint8 bilinear kernel) the filter keeps its width and align_corners shifts
    the centres by half a pixel."""
    if align_corners:
        s = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
        s = (1.0 / scale) if scale else n_in / n_out
    size = {"bilinear": 2, "bicubic": 4, "lanczos": 6}[mode]
    wide = antialias and s >= 1.0
    support = size * 0.5 * s if wide else size * 0.5
    inv = 1.0 / s if wide else 1.0
    delta = 0.5 if align_corners and not antialias else 0.0

    # every output's taps at once, in float64 with the scalar formula's operations in its order
    # (the same weights to the bit as the per-pixel loop this replaced, 15x faster at 256 -> 96)
    center = s * (np.arange(n_out) + 0.5 - delta)
    lo = np.maximum(np.trunc(center - support + 0.5 + delta).astype(np.int64), 0)
    hi = np.minimum(np.trunc(center + support + 0.5 + delta).astype(np.int64), n_in)
    if not antialias:   # (PyTorch clips a window that rounding widened by one)
        hi = np.minimum(hi, lo + size)
    taps = int((hi - lo).max(initial=0))
    j = lo[:, None] + np.arange(taps)                                   # (n_out, taps)
    valid = j < hi[:, None]
    v = np.abs((j - center[:, None] + 0.5 - delta) * inv)
    if mode == "bilinear":
        w = np.where(v < 1.0, 1.0 - v, 0.0)
    elif mode == "lanczos":    # Lanczos-3: sinc(v) * sinc(v / 3), with math.sin as before
        w = np.array([0.0 if t >= 3.0 else 1.0 if t == 0.0 else
                      3.0 * math.sin(math.pi * t) * math.sin(math.pi * t / 3) / (math.pi * t) ** 2
                      for t in v.ravel().tolist()]).reshape(v.shape)
    else:
        a = -0.5
        w = np.where(v < 1.0, ((a + 2) * v - (a + 3)) * v * v + 1,
                     np.where(v < 2.0, ((a * v - 5 * a) * v + 8 * a) * v - 4 * a, 0.0))
    w = np.where(valid, w, 0.0)
    total = np.zeros(n_out)
    for k in range(taps):          # left to right, as sum() over each row's taps
        total = total + w[:, k]
    safe = np.where(total != 0, total, 1.0)
    rows = np.zeros((n_out, n_in))
    r = np.broadcast_to(np.arange(n_out)[:, None], j.shape)
    rows[r[valid], j[valid]] = np.where(total[:, None] != 0, w / safe[:, None], 0.0)[valid]
    return rows


_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "lanczos", "area", "nearest-exact")


@keeps_channels_last   # a channels_last input gives a channels_last result, as in PyTorch
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, *spatial): modes 'nearest', 'nearest-exact', 'area' (any
    1-3 spatial dims), 'linear' (3-D), 'bilinear' and 'bicubic' (4-D, optionally ``antialias``ed),
    'lanczos' (4-D, antialiased), 'trilinear' (5-D)."""
    nd = input.ndim - 2
    if not 1 <= nd <= 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
                                  f"the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")
    if mode in ("nearest", "area", "nearest-exact") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    expected = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
    if mode in expected and nd != expected[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {expected[mode] + 2}D input")
    if mode not in _MODES:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
                                  f"the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")
    if mode == "lanczos":
        if nd != 2:
            raise NotImplementedError(f"Got {input.ndim}D input, but lanczos mode needs 4D input")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a 4-D "
                         "tensor as input")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if not input.dtype.is_floating_point and mode not in ("nearest", "nearest-exact"):
        if input.dtype is pt.uint8 and mode in ("bilinear", "bicubic") and nd == 2:
            return _resample_uint8(input, size, scale_factor, mode, bool(align_corners), recompute_scale_factor,
                                   antialias)
        raise NotImplementedError(f"interpolate(): mode '{mode}' is not implemented for {input.dtype} input "
                                  f"(only 'nearest' and 'nearest-exact' take integers, and 'bilinear' and "
                                  f"'bicubic' uint8); convert it with .float() first")
    out_size, scales = _sizes(input, size, scale_factor, nd)
    if mode != "area":   # (area is adaptive average pooling, which allows an empty output)
        _check_sizes(tuple(input.shape[2:]), out_size)
        if input.shape[1] == 0:   # an empty batch resizes, an empty channel dim is PyTorch's error
            raise RuntimeError(f"interpolate(): Non-empty {input.ndim}D data tensor expected but got a tensor with "
                               f"sizes {list(input.shape)}")
    if recompute_scale_factor:
        scales = (None,) * nd
    if antialias:
        # one (out, in) weight matrix per spatial dim: A_h @ x @ A_w^T
        a_h = _antialias_matrix(input.shape[2], out_size[0], scales[0], bool(align_corners), mode, input)
        a_w = _antialias_matrix(input.shape[3], out_size[1], scales[1], bool(align_corners), mode, input)
        return a_h @ input @ a_w.mT
    if mode == "area":
        from plugtorch.nn.functional import pooling
        pool = (pooling.adaptive_avg_pool1d, pooling.adaptive_avg_pool2d, pooling.adaptive_avg_pool3d)[nd - 1]
        return pool(input, out_size)
    x = input
    for k in range(nd):
        d = 2 + k
        n_in, n_out = input.shape[d], out_size[k]
        if mode == "nearest":
            x = _nearest(x, d, n_in, n_out, scales[k])
        elif mode == "nearest-exact":
            x = _nearest_exact(x, d, n_in, n_out, scales[k])
        elif mode == "bicubic":
            x = _cubic(x, d, n_in, n_out, scales[k], bool(align_corners))
        else:
            x = _linear(x, d, n_in, n_out, scales[k], bool(align_corners))
    return x


def _resample_uint8(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    """PyTorch's uint8 image resize, to the bit: width first, then height (a dim whose size does not
    change is left alone), each pass with PyTorch's fixed-point weights, w * 2^p rounded to integers
    with p as large as keeps them in int16, then (sum + 2^(p-1)) >> p saturated to 0..255. The
    weights are the antialias filter's, or plain bilinear's, or bicubic's (taps clamped to the edge
    and summed, as ``_cubic``)."""
    out_size, scales = _sizes(input, size, scale_factor, 2)
    _check_sizes(tuple(input.shape[2:]), out_size)
    if recompute_scale_factor:
        scales = (None, None)
    # the integer sums (under 2^31) are exact in float64, whose matmul is BLAS's (int64's is 15x slower)
    exact = pt.float64 if input._backend().unsupported_dtype(pt.float64, input.device.index) is None else pt.int64
    x = input.to(exact)
    for d in (3, 2):
        k, n_in = d - 2, input.shape[d]
        if out_size[k] == n_in:
            continue
        if mode == "bicubic" and not antialias:
            w = _cubic_matrix(n_in, out_size[k], scales[k], align_corners)
        else:
            w = _resample_weights(n_in, out_size[k], scales[k], align_corners, mode, antialias)
        bits = next((b for b in range(22) if int(0.5 + w.max() * (1 << (b + 1))) >= 1 << 15), 22)
        scaled = w * (1 << bits)
        a = pt.tensor(np.trunc(np.where(scaled < 0, scaled - 0.5, scaled + 0.5)), dtype=exact, device=x.device)
        x = x @ a.mT if d == 3 else a @ x
        x = x + (1 << (bits - 1))
        x = (x >> bits if exact is pt.int64 else (x / (1 << bits)).floor()).clamp(0, 255)
    return x.to(pt.uint8)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated alias of ``interpolate(..., mode='nearest')`` (warns, as PyTorch's)."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated alias of ``interpolate(..., mode='bilinear', align_corners=True)`` (warns, as PyTorch's)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")


def _base_coords(n, align_corners, dtype, device):
    """The normalized [-1, 1] coordinate of each of ``n`` pixels (centres, or corners when aligned)."""
    if n == 1:
        return pt.zeros(1, dtype=dtype, device=device)
    i = pt.arange(n, dtype=dtype, device=device)
    return i * (2.0 / (n - 1)) - 1 if align_corners else (i * 2 + 1) / n - 1


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of a batch of affine maps: theta (N, 2, 3) and size (N, C, H, W) give
    (N, H, W, 2) (x, y) coordinates in [-1, 1] for ``grid_sample``; (N, 3, 4) and a 5-d size give
    (N, D, H, W, 3).

    >>> pt.nn.functional.affine_grid(pt.tensor([[[1., 0, 0], [0, 1, 0]]]), (1, 1, 1, 2), True).tolist()
    [[[[-1.0, 0.0], [1.0, 0.0]]]]
    """
    check_tensors("affine_grid", theta=theta)
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    size = tuple(int(v) for v in size)
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. "
                             f"Got {list(theta.shape)}.")
        spatial = size[2:]
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. "
                             f"Got {list(theta.shape)}.")
        spatial = size[2:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"affine_grid(): theta has a batch of {theta.shape[0]} matrices but size {size} asks "
                           f"for a batch of {size[0]}")
    nd, dt, dev = len(spatial), theta.dtype, theta.device
    # homogeneous base coordinates (x, y[, z], 1), x along the last dim
    axes = [_base_coords(spatial[nd - 1 - i], align_corners, dt, dev) for i in range(nd)]
    cols = []
    for i, a in enumerate(axes):
        shape = [1] * nd
        shape[nd - 1 - i] = spatial[nd - 1 - i]
        cols.append(a.reshape(shape).expand(spatial))
    cols.append(pt.ones(spatial, dtype=dt, device=dev))
    base = pt.stack(cols, -1).reshape(1, -1, nd + 1)                         # (1, prod, nd + 1)
    return (base @ theta.transpose(1, 2)).reshape((size[0],) + tuple(spatial) + (nd,))


def _unnormalize(coord, n, align_corners):
    return (coord + 1) / 2 * (n - 1) if align_corners else ((coord + 1) * n - 1) / 2


def _reflect(coord, low2, high2):
    """PyTorch's reflect_coordinates: fold ``coord`` into [low2/2, high2/2] by reflecting at the ends."""
    if low2 == high2:
        return coord * 0
    lo, span = low2 / 2, (high2 - low2) / 2
    c = (coord - lo).abs()
    extra = c.fmod(span)
    flips = (c / span).floor()
    return pt.where(flips.remainder(2) == 0, extra + lo, span - extra + lo)


def _source_coord(coord, n, padding_mode, align_corners):
    x = _unnormalize(coord, n, align_corners)
    if padding_mode == "reflection":
        x = _reflect(x, 0, 2 * (n - 1)) if align_corners else _reflect(x, -1, 2 * n - 1)
    if padding_mode in ("border", "reflection"):
        # PyTorch counts the borders themselves as outside: no gradient flows to a coordinate that
        # lands exactly on 0 or n - 1 (for reflection the two one-sided slopes cancel there)
        x = pt.where((x > 0) & (x < n - 1), x, x.detach().clamp(0, n - 1))
    return x


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample (N, C, H, W) ``input`` at the (N, Ho, Wo, 2) (x, y) positions of ``grid`` in [-1, 1]
    (or (N, C, D, H, W) at (N, Do, Ho, Wo, 3) (x, y, z) positions): bilinear (trilinear), nearest
    or bicubic (4-D only); outside the image zeros, the border value, or the reflected image.

    >>> img = pt.arange(4.).reshape(1, 1, 2, 2)
    >>> pt.nn.functional.grid_sample(img, pt.tensor([[[[1., -1.]]]]), align_corners=True).tolist()
    [[[[1.0]]]]
    """
    check_tensors("grid_sample", input=input, grid=grid)
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=user_stacklevel())   # (a registry op: through the dispatcher)
        align_corners = False
    nd = input.ndim - 2
    if nd in (2, 3) and grid.ndim and grid.shape[-1] != nd:    # (PyTorch checks this first)
        raise RuntimeError(f"grid_sampler(): expected grid to have size {nd} in last dimension, but got grid with "
                           f"sizes {list(grid.shape)}")
    if nd not in (2, 3) or grid.ndim != input.ndim:
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, but "
                           f"got input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got input with "
                           f"sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input.dtype is not grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    if not input.dtype.is_floating_point:
        raise not_implemented_for("grid_sample", input.dtype, "convert the input and grid with .float() first")
    if mode == "bicubic" and nd == 3:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    sizes = tuple(input.shape[2:])
    if 0 in sizes:
        raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                           f"sizes {list(input.shape)} with dimension {sizes.index(0) + 2} being empty")
    if mode == "bicubic":
        coords, weights = _bicubic_taps(grid, sizes, padding_mode, align_corners)
        return _sample_taps(input, sizes, coords, weights)
    # the grid's last dim lists (x, y[, z]): x indexes the last spatial dim
    pos = [_source_coord(grid[..., nd - 1 - k], sizes[k], padding_mode, align_corners) for k in range(nd)]
    if mode == "nearest":
        return _sample_taps(input, sizes, [p.detach().round().unsqueeze(-1) for p in pos], None)
    # the 2**nd corners around each position, stacked on a new last dim, and their weights
    corners = pt.tensor(list(itertools.product((0.0, 1.0), repeat=nd)), dtype=grid.dtype, device=grid.device)
    coords, weights = [], None
    for k, p in enumerate(pos):
        low = p.detach().floor().unsqueeze(-1)
        frac = p.unsqueeze(-1) - low
        bit = corners[:, k]
        coords.append(low + bit)
        w = frac * bit + (1 - frac) * (1 - bit)
        weights = w if weights is None else weights * w
    return _sample_taps(input, sizes, coords, weights)


def _sample_taps(input, sizes, coords, weights):
    """Sum over taps of weight * input value: ``coords`` holds one (N, *out, T) tensor of integer
    positions per spatial dim, ``weights`` (N, *out, T) (None: 1); a position outside the input
    reads the 0 appended after the input's last element. One gather for all T taps, then one sum
    over the last dim."""
    n, c = input.shape[0], input.shape[1]
    out_sizes, taps = tuple(coords[0].shape[1:-1]), coords[0].shape[-1]
    mt, volume = math.prod(out_sizes) * taps, math.prod(sizes)
    inside, lin = None, None
    for i, size in zip(coords, sizes):
        ok = (i >= 0) & (i <= size - 1)
        inside = ok if inside is None else inside & ok
        i = i.clamp(0, size - 1)
        lin = i if lin is None else lin * size + i
    index = pt.where(inside, lin, float(volume)).to(pt.int64).reshape(n, 1, mt).expand(n, c, mt)
    flat = pt.cat([input.reshape(n, c, volume), pt.zeros((n, c, 1), dtype=input.dtype, device=input.device)], 2)
    values = flat.gather(2, index).reshape((n, c) + out_sizes + (taps,))
    if taps == 1:
        return values.squeeze(-1)
    return (values * weights.unsqueeze(1)).sum(-1)


def _bicubic_taps(grid, sizes, padding_mode, align_corners):
    """PyTorch's bicubic grid sampling: the 4 x 4 pixels around the unpadded source position, each
    integer tap coordinate then folded by the padding mode (clipped for border, reflected then
    clipped for reflection, zero outside for zeros), weighted by the cubic convolution of the
    fractions. Returns the (N, Ho, Wo, 16) coordinates (rows, columns) and weights."""
    h, w = sizes
    x = _unnormalize(grid[..., 0], w, align_corners).unsqueeze(-1)
    y = _unnormalize(grid[..., 1], h, align_corners).unsqueeze(-1)
    x0, y0 = x.detach().floor(), y.detach().floor()
    step = pt.arange(-1, 3, dtype=grid.dtype, device=grid.device)

    def fold(c, n):
        if padding_mode == "reflection":
            c = _reflect(c, 0, 2 * (n - 1)) if align_corners else _reflect(c, -1, 2 * n - 1)
        return c.clamp(0, n - 1) if padding_mode != "zeros" else c
    rows, cols = fold(y0 + step, h), fold(x0 + step, w)                  # (N, Ho, Wo, 4)
    wy, wx = pt.cat(_cubic_weights(y - y0), -1), pt.cat(_cubic_weights(x - x0), -1)
    shape = tuple(rows.shape[:-1]) + (16,)
    coords = [rows.unsqueeze(-1).expand(shape[:-1] + (4, 4)).reshape(shape),
              cols.unsqueeze(-2).expand(shape[:-1] + (4, 4)).reshape(shape)]
    return coords, (wy.unsqueeze(-1) * wx.unsqueeze(-2)).reshape(shape)


GRID_SAMPLE_INTERPOLATION_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
GRID_SAMPLE_PADDING_MODES = {"zeros": 0, "border": 1, "reflection": 2}
