"""Pooling: windows of the padded input (as in conv's unfold), reduced with max or mean.

Max pooling picks each window's first maximum with argmax + gather, so the gradient goes to
that one element (as PyTorch's does). Adaptive pooling gathers each output bin's input range.

>>> import plugtorch as pt
>>> pt.nn.functional.max_pool2d(pt.arange(16.).reshape(1, 1, 4, 4), 2).tolist()
[[[[5.0, 7.0], [13.0, 15.0]]]]
"""
from __future__ import annotations

import math

import plugtorch as pt
from plugtorch._memory_format import keeps_channels_last
from plugtorch.dispatch.dispatcher import data_check
from plugtorch.dispatch.meta import check_bool, not_implemented_for
from plugtorch.nn.functional._utils import (_ntuple, _pair, _single, _triple, check_ints, check_nonnegative,
                                            check_positive, check_tensors)
from plugtorch.nn.functional.conv import _windows
from plugtorch.nn.functional.padding import pad as _pad


def _pool_size(op, n, k, s, p, d, ceil_mode):
    num = n + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:   # the last window must start inside input or left padding
        out -= 1
    if out <= 0:
        raise RuntimeError(f"{op}: Given input size {n}, kernel {k}, stride {s}, padding {p}, dilation {d}: "
                           f"calculated output size {out} is too small")
    return out


def _window_args(op, kernel_size, stride, padding, dilation, per_dim):
    """kernel, stride, padding and dilation as tuples (``per_dim`` is _pair or _triple), checked; the stride
    defaults to the kernel, and padding may be at most half the kernel."""
    k = per_dim(kernel_size)
    s = per_dim(stride) if stride is not None and stride != [] and stride != () else k
    p, d = per_dim(padding), per_dim(dilation)
    check_positive(op, "kernel_size", k)
    check_positive(op, "stride", s)
    check_nonnegative(op, "padding", p)
    check_positive(op, "dilation", d)
    for kk, pp in zip(k, p):
        if pp > kk // 2:
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got pad={pp}, "
                               f"kernel_size={kk}")
    return k, s, p, d


def _pool_args(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    check_tensors(op, input=input)
    check_bool(op, "ceil_mode", ceil_mode)   # PyTorch's TypeError: 'yes' or 1 is no flag
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}: Expected 3D or 4D (batch mode) tensor for input, but got input of size: "
                           f"{list(input.shape)}")
    k, s, p, d = _window_args(op, kernel_size, stride, padding, dilation, _pair)
    h, w = input.shape[-2], input.shape[-1]
    ho = _pool_size(op, h, k[0], s[0], p[0], d[0], ceil_mode)
    wo = _pool_size(op, w, k[1], s[1], p[1], d[1], ceil_mode)
    # right/bottom padding that ceil_mode's partial windows reach into
    extra = (max(0, (ho - 1) * s[0] + d[0] * (k[0] - 1) + 1 - h - 2 * p[0]),
             max(0, (wo - 1) * s[1] + d[1] * (k[1] - 1) + 1 - w - 2 * p[1]))
    return k, s, p, d, (ho, wo), extra


def _batched(input):
    return input if input.ndim == 4 else input.unsqueeze(0)


def _check_max_pool_dtype(op, input):
    if input.dtype is pt.bool:   # PyTorch's kernels have no bool max pooling
        raise not_implemented_for(op, input.dtype, "convert the input with .to(torch.uint8) or .float() first")


def _window_max(cols, inside):
    """Each window's maximum (dim 2 of ``cols``) and the position it came from, never a padding cell.

    Floating inputs are padded with -inf, so argmax finds the first maximum (or nan) inside, unless
    every cell inside is -inf too: then the first cell inside, as PyTorch (argmax chose the padding,
    giving an index outside the input and dropping the gradient). Integer inputs are padded with
    their dtype's least value, which a real element may equal: ``inside`` (1 inside the input, 0 in
    the padding, windowed as ``cols``; None without padding) picks the first inside cell equal to
    the maximum."""
    if inside is None:
        arg = cols.argmax(2, keepdim=True)
    elif cols.dtype.is_floating_point:
        arg = cols.argmax(2, keepdim=True)
        arg = pt.where(cols.gather(2, arg) == -math.inf, inside.argmax(2, keepdim=True), arg)
    else:
        best = cols.amax(2, keepdim=True)
        arg = ((cols == best).to(pt.int32) * inside.to(pt.int32)).argmax(2, keepdim=True)
    return cols.gather(2, arg).squeeze(2), arg


def _separable_max(xp, k, s, d, out_hw):
    """Each window's maximum of the (already padded) 4-d ``xp`` when no index and no gradient is
    needed: a window is a rectangle, so the maximum over its rows, then over its columns, with
    ``maximum`` on strided slices (kh - 1 + kw - 1 passes, nan wins as ``max``'s): the same values as
    argmax + gather, 3 to 10 times faster (no (N, C, kh*kw, Ho, Wo) copy)."""
    r = None
    for i in range(k[0]):
        v = pt.ops.slice(xp, 2, i * d[0], i * d[0] + (out_hw[0] - 1) * s[0] + 1, s[0])
        r = v if r is None else pt.maximum(r, v)
    out = None
    for j in range(k[1]):
        v = pt.ops.slice(r, 3, j * d[1], j * d[1] + (out_hw[1] - 1) * s[1] + 1, s[1])
        out = v if out is None else pt.maximum(out, v)
    return out if k[0] * k[1] > 1 else out.clone()   # (never a view of the input)


def _lowest(dtype):
    return -math.inf if dtype.is_floating_point else pt.iinfo(dtype).min


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each window; ``return_indices`` gives flat h*W+w positions (for ``max_unpool``)."""
    k, s, p, d, (ho, wo), extra = _pool_args("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    _check_max_pool_dtype("max_pool2d", input)
    x = _batched(input)
    h, w = x.shape[2], x.shape[3]
    pads = (p[1], p[1] + extra[1], p[0], p[0] + extra[0])
    padded = any(p) or any(extra)
    xp = _pad(x, pads, value=_lowest(x.dtype)) if padded else x
    if not return_indices and not (input.requires_grad and pt.is_grad_enabled()):
        out = _separable_max(xp, k, s, d, (ho, wo))
        return out if input.ndim == 4 else out.squeeze(0)
    cols = _windows(xp, k, d, s, (ho, wo))                    # (N, C, K, Ho, Wo)
    inside = None
    if padded:
        inside = _windows(_pad(pt.ones((1, 1, h, w), dtype=pt.int32, device=x.device), pads), k, d, s, (ho, wo))
    out, arg = _window_max(cols, inside)
    if not return_indices:
        return out if input.ndim == 4 else out.squeeze(0)
    dev = x.device
    arg = arg.squeeze(2)
    row = (pt.arange(ho, device=dev) * s[0] - p[0]).reshape(ho, 1) + (arg // k[1]) * d[0]
    col = (pt.arange(wo, device=dev) * s[1] - p[1]).reshape(1, wo) + (arg % k[1]) * d[1]
    idx = row * w + col
    if input.ndim == 3:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return out, idx


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if input.ndim not in (2, 3):
        raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor for input, but got input of size: "
                           f"{list(input.shape)}")
    _check_1d("max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode)
    st = None if stride is None else (1, _pair(stride)[0])
    res = max_pool2d(input.unsqueeze(-2), (1, _pair(kernel_size)[0]), st, (0, _pair(padding)[0]),
                     (1, _pair(dilation)[0]), ceil_mode, return_indices)
    if return_indices:
        return res[0].squeeze(-2), res[1].squeeze(-2)
    return res.squeeze(-2)


def _check_1d(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    check_tensors(op, input=input)
    check_bool(op, "ceil_mode", ceil_mode)
    for name, v in (("kernel_size", kernel_size), ("stride", stride), ("padding", padding), ("dilation", dilation)):
        if isinstance(v, (list, tuple)) and len(v) > 1:   # (the 2-d helpers below would take v[0] silently)
            raise RuntimeError(f"{op}(): {name} must be an int or a tuple of 1 int, got {tuple(v)}")
    check_positive(op, "kernel_size", _pair(kernel_size)[:1])
    if stride is not None and stride != [] and stride != ():
        check_positive(op, "stride", _pair(stride)[:1])
    check_nonnegative(op, "padding", _pair(padding)[:1])
    check_positive(op, "dilation", _pair(dilation)[:1])


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("avg_pool2d(): divisor must be not zero (divisor_override=0)")
    check_bool("avg_pool2d", "count_include_pad", count_include_pad)
    k, s, p, d, (ho, wo), extra = _pool_args("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    if not input.dtype.is_floating_point and input.dtype is not pt.int64:   # as PyTorch's kernels
        raise not_implemented_for("avg_pool2d", input.dtype, "convert the input with .float() first")
    x = _batched(input)
    pads = (p[1], p[1] + extra[1], p[0], p[0] + extra[0])
    total = _windows(_pad(x, pads) if any(pads) else x, k, d, s, (ho, wo)).sum(2)
    if divisor_override:
        out = _mean(total, divisor_override)
    else:
        # count the window cells inside the input (and inside the padding, if they count)
        h, w = x.shape[2], x.shape[3]
        inside = pt.ones((1, 1, h, w), dtype=x.dtype, device=x.device)
        if count_include_pad:
            inside = _pad(inside, (p[1], p[1], p[0], p[0]), value=1.0)
            inside = _pad(inside, (0, extra[1], 0, extra[0]))
        else:
            inside = _pad(inside, pads)
        out = _mean(total, _windows(inside, k, d, s, (ho, wo)).sum(2))
    return out if input.ndim == 4 else out.squeeze(0)


def _mean(total, count):
    """A window's mean; int64 stays int64, rounded toward zero (PyTorch's integer average)."""
    return total / count if total.dtype.is_floating_point else pt.div(total, count, rounding_mode="trunc")


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    if input.ndim not in (2, 3):
        raise RuntimeError(f"avg_pool1d: Expected 2D or 3D (batch mode) tensor for input, but got input of size: "
                           f"{list(input.shape)}")
    _check_1d("avg_pool1d", input, kernel_size, stride, padding, 1, ceil_mode)
    check_bool("avg_pool1d", "count_include_pad", count_include_pad)
    st = None if stride is None else (1, _pair(stride)[0])
    return avg_pool2d(input.unsqueeze(-2), (1, _pair(kernel_size)[0]), st, (0, _pair(padding)[0]),
                      ceil_mode, count_include_pad).squeeze(-2)


def _bins(n, out, device):
    """Start index of each adaptive bin, the bin lengths, and a (out, kmax) index table."""
    starts = [(i * n) // out for i in range(out)]
    ends = [-(-((i + 1) * n) // out) for i in range(out)]
    kmax = max(e - s for s, e in zip(starts, ends))
    table = [[min(s + j, e - 1) for j in range(kmax)] for s, e in zip(starts, ends)]
    return starts, ends, pt.tensor(table, dtype=pt.int64, device=device)


def _adaptive_size(op, output_size, h, w):
    oh, ow = _pair(output_size)
    check_ints(op, "output_size", (oh, ow))
    oh, ow = (h if oh is None else oh), (w if ow is None else ow)
    if oh < 0 or ow < 0:
        raise RuntimeError(f"{op}(): elements of output_size must be greater than or equal to 0 but received "
                           f"{(oh, ow)}")
    return oh, ow


def _empty_bins(x, oh, ow):
    """The (.., oh, ow) result when a bin count is 0: empty, and still connected to ``x``'s graph."""
    rows = pt.zeros((oh, x.shape[-2]), dtype=x.dtype, device=x.device)
    cols = pt.zeros((ow, x.shape[-1]), dtype=x.dtype, device=x.device)
    return rows @ x @ cols.mT


def _check_adaptive(op, input, nd):
    check_tensors(op, input=input)
    if input.ndim not in (nd + 1, nd + 2) or any(s == 0 for s in input.shape[-nd:]):
        raise RuntimeError(f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor with non-zero spatial sizes, "
                           f"but got input of size: {list(input.shape)}")


@keeps_channels_last   # a channels_last input gives a channels_last result, as in PyTorch
def adaptive_avg_pool2d(input, output_size):
    """Mean over PyTorch's bins [floor(i*H/Ho), ceil((i+1)*H/Ho)), one dim at a time."""
    _check_adaptive("adaptive_avg_pool2d", input, 2)
    if not input.dtype.is_floating_point:   # (the averaging matrices would be integer zeros)
        raise not_implemented_for("adaptive_avg_pool2d", input.dtype, "convert the input with .float() first")
    h, w = input.shape[-2], input.shape[-1]
    oh, ow = _adaptive_size("adaptive_avg_pool2d", output_size, h, w)
    if oh == 0 or ow == 0:
        return _empty_bins(input, oh, ow)
    if oh == 1 and ow == 1:   # global pooling, the common case: one mean
        return input.mean((-2, -1), keepdim=True)
    return _bin_mean(_bin_mean(input, input.ndim - 2, oh), input.ndim - 1, ow)


def adaptive_avg_pool1d(input, output_size):
    _check_adaptive("adaptive_avg_pool1d", input, 1)
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, _pair(output_size)[0])).squeeze(-2)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    _check_adaptive("adaptive_max_pool2d", input, 2)
    x = _batched(input)
    n, c, h, w = x.shape
    oh, ow = _adaptive_size("adaptive_max_pool2d", output_size, h, w)
    if oh == 0 or ow == 0:
        out = _empty_bins(input, oh, ow)
        return (out, pt.zeros(tuple(out.shape), dtype=pt.int64, device=x.device)) if return_indices else out
    _, _, th = _bins(h, oh, x.device)
    _, _, tw = _bins(w, ow, x.device)
    kh, kw = th.shape[1], tw.shape[1]
    g = x.index_select(2, th.reshape(-1)).index_select(3, tw.reshape(-1))      # (N, C, oh*kh, ow*kw)
    g = g.reshape(n, c, oh, kh, ow, kw).permute(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)
    arg = g.argmax(-1, keepdim=True)
    out = g.gather(-1, arg).squeeze(-1)
    if not return_indices:
        return out if input.ndim == 4 else out.squeeze(0)
    arg = arg.squeeze(-1)
    rows = th.reshape(1, 1, oh, 1, kh).expand(n, c, oh, ow, kh).gather(-1, (arg // kw).unsqueeze(-1)).squeeze(-1)
    cols = tw.reshape(1, 1, 1, ow, kw).expand(n, c, oh, ow, kw).gather(-1, (arg % kw).unsqueeze(-1)).squeeze(-1)
    idx = rows * w + cols
    if input.ndim == 3:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return out, idx


# ---- 3-d pooling, adaptive max pooling in 1 and 3 dims, unpooling and power-average pooling ----

def _windows3d(x, kernel, dilation, stride, out):
    """(N, C, kd*kh*kw, Do, Ho, Wo): each kernel offset's strided window of the (padded) 5-d ``x``."""
    x = x.unsqueeze(2)
    views = []
    for a in range(kernel[0]):
        planes = pt.ops.slice(x, 3, a * dilation[0], a * dilation[0] + (out[0] - 1) * stride[0] + 1, stride[0])
        for i in range(kernel[1]):
            rows = pt.ops.slice(planes, 4, i * dilation[1], i * dilation[1] + (out[1] - 1) * stride[1] + 1, stride[1])
            for j in range(kernel[2]):
                views.append(pt.ops.slice(rows, 5, j * dilation[2], j * dilation[2] + (out[2] - 1) * stride[2] + 1,
                                          stride[2]))
    return pt.cat(views, 2) if len(views) > 1 else views[0]


def _pool3d_args(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    check_tensors(op, input=input)
    check_bool(op, "ceil_mode", ceil_mode)
    if input.ndim not in (4, 5) or input.numel() == 0:
        raise RuntimeError(f"{op}: non-empty 4D or 5D (batch mode) tensor expected for input, but got input of "
                           f"size: {list(input.shape)}")
    k, s, p, d = _window_args(op, kernel_size, stride, padding, dilation, _triple)
    sizes = input.shape[-3:]
    out = tuple(_pool_size(op, sizes[i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(3))
    extra = tuple(max(0, (out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - sizes[i] - 2 * p[i]) for i in range(3))
    return k, s, p, d, out, extra


def _pads3d(p, extra=(0, 0, 0)):
    """F.pad's list (last dim first) for per-dim (front, back) padding p + extra."""
    return (p[2], p[2] + extra[2], p[1], p[1] + extra[1], p[0], p[0] + extra[0])


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each (kd, kh, kw) window of (N, C, D, H, W); ``return_indices`` gives flat d*H*W + h*W + w.

    >>> pt.nn.functional.max_pool3d(pt.arange(8.).reshape(1, 1, 2, 2, 2), 2).flatten().tolist()
    [7.0]
    """
    k, s, p, d, out, extra = _pool3d_args("max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode)
    _check_max_pool_dtype("max_pool3d", input)
    x = input if input.ndim == 5 else input.unsqueeze(0)
    sizes = x.shape[2:]
    inside = None
    if any(p) or any(extra):
        ones = pt.ones((1, 1) + tuple(sizes), dtype=pt.int32, device=x.device)
        inside = _windows3d(_pad(ones, _pads3d(p, extra)), k, d, s, out)
        x = _pad(x, _pads3d(p, extra), value=_lowest(x.dtype))
    cols = _windows3d(x, k, d, s, out)                      # (N, C, K, Do, Ho, Wo)
    res, arg = _window_max(cols, inside)
    if not return_indices:
        return res if input.ndim == 5 else res.squeeze(0)
    dev, arg = x.device, arg.squeeze(2)
    pos = []
    for i, offset in enumerate((arg // (k[1] * k[2]), (arg // k[2]) % k[1], arg % k[2])):
        start = (pt.arange(out[i], device=dev) * s[i] - p[i]).reshape((-1,) + (1,) * (2 - i))
        pos.append(start + offset * d[i])
    idx = (pos[0] * sizes[1] + pos[1]) * sizes[2] + pos[2]
    if input.ndim == 4:
        res, idx = res.squeeze(0), idx.squeeze(0)
    return res, idx


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over each (kd, kh, kw) window of (N, C, D, H, W), counted as ``avg_pool2d`` counts.

    >>> pt.nn.functional.avg_pool3d(pt.arange(8.).reshape(1, 1, 2, 2, 2), 2).flatten().tolist()
    [3.5]
    """
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("avg_pool3d(): divisor must be not zero (divisor_override=0)")
    check_bool("avg_pool3d", "count_include_pad", count_include_pad)
    k, s, p, d, out, extra = _pool3d_args("avg_pool3d", input, kernel_size, stride, padding, 1, ceil_mode)
    if not input.dtype.is_floating_point and input.dtype is not pt.int64:
        raise not_implemented_for("avg_pool3d", input.dtype, "convert the input with .float() first")
    x = input if input.ndim == 5 else input.unsqueeze(0)
    pads = _pads3d(p, extra)
    total = _windows3d(_pad(x, pads) if any(pads) else x, k, d, s, out).sum(2)
    if divisor_override:
        res = _mean(total, divisor_override)
    else:
        inside = pt.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
        if count_include_pad:
            inside = _pad(_pad(inside, _pads3d(p), value=1), _pads3d((0, 0, 0), extra))
        else:
            inside = _pad(inside, pads)
        res = _mean(total, _windows3d(inside, k, d, s, out).sum(2))
    return res if input.ndim == 5 else res.squeeze(0)


_SLICE_ADDS = 1 << 16   # elements per bin slice from which _bin_mean adds slices instead of one gather


def _bin_mean(x, d, out):
    """The means of PyTorch's adaptive bins along dim ``d`` of ``x``. Each bin reads only its own
    elements (an averaging matrix would multiply an inf or nan elsewhere by 0 and spread nan to
    every bin): equal bins are a reshape; unequal ones sum, for j < the longest bin, every bin's j-th
    element, a bin shorter than j reading a zero appended past the end (adding 0
    is exact, and no other element is touched). For large slices along a non-last dim those k adds
    are faster on cpu than one gather of the zero-padded windows summed over their short middle
    axis; along the last dim, or for small slices (dispatch-bound), the gather is."""
    n = x.shape[d]
    rest = tuple(x.shape[d + 1:])
    if n % out == 0:
        return x.reshape(tuple(x.shape[:d]) + (out, n // out) + rest).mean(d + 1)
    starts = [(i * n) // out for i in range(out)]
    ends = [-(-((i + 1) * n) // out) for i in range(out)]
    k = max(e - s for s, e in zip(starts, ends))
    xp = pt.cat([x, pt.zeros(tuple(x.shape[:d]) + (1,) + rest, dtype=x.dtype, device=x.device)], d)
    cols = pt.tensor([[s + j if s + j < e else n for s, e in zip(starts, ends)] for j in range(k)],
                     dtype=pt.int64, device=x.device)                     # (k, out): row j, each bin's j-th
    if rest and x.numel() // n * out >= _SLICE_ADDS:
        total = xp.index_select(d, cols[0])
        for j in range(1, k):                                             # in order: the same bits every call
            total = total + xp.index_select(d, cols[j])
    else:   # one gather of every bin's zero-padded window, summed over its window axis
        total = xp.index_select(d, cols.mT.reshape(-1)).reshape(tuple(x.shape[:d]) + (out, k) + rest).sum(d + 1)
    count = pt.tensor([e - s for s, e in zip(starts, ends)], dtype=x.dtype, device=x.device)
    return total / count.reshape((out,) + (1,) * len(rest))


def adaptive_avg_pool3d(input, output_size):
    """Mean over adaptive (depth, height, width) bins, one dim at a time (the bins are products of
    intervals, so the means separate).

    >>> pt.nn.functional.adaptive_avg_pool3d(pt.ones(1, 2, 5, 4, 3), (2, 1, None)).shape
    plugtorch.Size([1, 2, 2, 1, 3])
    """
    check_tensors("adaptive_avg_pool3d", input=input)
    if input.ndim not in (4, 5) or any(v == 0 for v in input.shape[-3:]):
        raise RuntimeError(f"adaptive_avg_pool3d(): Expected 4D or 5D tensor with non-zero spatial sizes, but got "
                           f"input of size: {list(input.shape)}")
    if not input.dtype.is_floating_point:   # (PyTorch's mean() error, as its 3-d pooling reaches it)
        raise RuntimeError(f"adaptive_avg_pool3d(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {input.dtype}; convert the input with .float()")
    od, oh, ow = _adaptive3d_size("adaptive_avg_pool3d", output_size, input.shape[-3:])
    if 0 in (od, oh, ow):
        lead = tuple(input.shape[:-3])
        return _empty_bins(input.reshape(lead + (input.shape[-3], -1)), od, oh * ow).reshape(lead + (od, oh, ow))
    nd = input.ndim
    return _bin_mean(_bin_mean(_bin_mean(input, nd - 3, od), nd - 2, oh), nd - 1, ow)


def _adaptive3d_size(op, output_size, sizes):
    out = _triple(output_size)
    check_ints(op, "output_size", out)
    out = tuple(sizes[i] if o is None else o for i, o in enumerate(out))
    if any(o < 0 for o in out):
        raise RuntimeError(f"{op}(): elements of output_size must be greater than or equal to 0 but received {out}")
    return out


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max over adaptive (depth, height, width) bins; indices flat d*H*W + h*W + w, as ``max_pool3d``'s.

    >>> pt.nn.functional.adaptive_max_pool3d(pt.arange(8.).reshape(1, 1, 2, 2, 2), 1).flatten().tolist()
    [7.0]
    """
    check_tensors("adaptive_max_pool3d", input=input)
    if input.ndim not in (4, 5) or any(v == 0 for v in input.shape[-3:]):
        raise RuntimeError(f"adaptive_max_pool3d(): Expected 4D or 5D tensor with non-zero spatial sizes, but got "
                           f"input of size: {list(input.shape)}")
    if not input.dtype.is_floating_point:
        raise not_implemented_for("adaptive_max_pool3d", input.dtype, "convert the input with .float() first")
    x = input if input.ndim == 5 else input.unsqueeze(0)
    n, c = x.shape[0], x.shape[1]
    sizes = tuple(x.shape[2:])
    out = _adaptive3d_size("adaptive_max_pool3d", output_size, sizes)
    if 0 in out:
        res = pt.zeros((n, c) + out, dtype=x.dtype, device=x.device) + x.sum() * 0
        res = res if input.ndim == 5 else res.squeeze(0)
        return (res, pt.zeros(tuple(res.shape), dtype=pt.int64, device=x.device)) if return_indices else res
    tables = [_bins(sizes[i], out[i], x.device)[2] for i in range(3)]
    kk = [t.shape[1] for t in tables]
    g = x
    for i, t in enumerate(tables):
        g = g.index_select(2 + i, t.reshape(-1))
    g = g.reshape(n, c, out[0], kk[0], out[1], kk[1], out[2], kk[2]).permute(0, 1, 2, 4, 6, 3, 5, 7)
    g = g.reshape((n, c) + out + (kk[0] * kk[1] * kk[2],))
    arg = g.argmax(-1, keepdim=True)
    res = g.gather(-1, arg).squeeze(-1)
    if not return_indices:
        return res if input.ndim == 5 else res.squeeze(0)
    arg = arg.squeeze(-1)
    pos = []
    for i, offset in enumerate((arg // (kk[1] * kk[2]), (arg // kk[2]) % kk[1], arg % kk[2])):
        shape = [1, 1, 1, 1, 1]
        shape[2 + i] = out[i]
        table = tables[i].reshape(shape + [kk[i]]).expand((n, c) + out + (kk[i],))
        pos.append(table.gather(-1, offset.unsqueeze(-1)).squeeze(-1))
    idx = (pos[0] * sizes[1] + pos[1]) * sizes[2] + pos[2]
    if input.ndim == 4:
        res, idx = res.squeeze(0), idx.squeeze(0)
    return res, idx


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over adaptive bins of the last dim of (N, C, L) or (C, L).

    >>> pt.nn.functional.adaptive_max_pool1d(pt.tensor([[1., 3., 2., 0.]]), 2).tolist()
    [[3.0, 2.0]]
    """
    check_tensors("adaptive_max_pool1d", input=input)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"adaptive_max_pool1d(): Expected 2 to 3 dimensions, but got {input.ndim}-dimensional "
                           f"tensor of size {list(input.shape)}")
    res = adaptive_max_pool2d(input.unsqueeze(-2), (1, _single(output_size)[0]), return_indices)
    if return_indices:
        return res[0].squeeze(-2), res[1].squeeze(-2)
    return res.squeeze(-2)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    from plugtorch.nn.functional import max_pool2d as _max_pool2d   # (the registry op)
    return _max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    from plugtorch.nn.functional import max_pool3d as _max_pool3d   # (the registry op)
    return _max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool3d(input, output_size, True)


def _unpool(op, nd, input, indices, kernel_size, stride, padding, output_size):
    """Scatter each pooled value back to the flat position ``indices`` gives, in a zero output of
    PyTorch's default size ((in - 1) * stride - 2 * padding + kernel) or ``output_size``."""
    check_tensors(op, input=input, indices=indices)
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}(): Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for input, but got input "
                           f"of size: {list(input.shape)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{op}(): Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: {list(indices.shape)}")
    if indices.dtype is not pt.int64:
        raise RuntimeError(f"{op}(): elements in indices should be type int64 but got: {indices.dtype}")
    if not input.dtype.is_floating_point:
        raise not_implemented_for(op, input.dtype, "convert the input with .float() first")
    t = _ntuple(nd)
    k = t(kernel_size)
    s = t(stride) if stride is not None and stride != [] and stride != () else k
    p = t(padding)
    check_positive(op, "kernel_size", k)
    check_positive(op, "stride", s)
    check_nonnegative(op, "padding", p)
    default = [(input.shape[-nd + i] - 1) * s[i] + k[i] - 2 * p[i] for i in range(nd)]
    if output_size is None:
        size = default
    else:
        size = list(output_size)
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it has a "
                             f"length of '{len(size)}'")
        for i in range(nd):
            if not default[i] - s[i] < size[i] < default[i] + s[i]:
                raise ValueError(f'invalid output_size "{tuple(output_size)}" (dim {i} must be between '
                                 f'{default[i] - s[i]} and {default[i] + s[i]})')
    volume = math.prod(size)
    lead = tuple(input.shape[:-nd])
    flat_idx = indices.reshape(lead + (-1,))
    if indices.numel():   # PyTorch's check; a graph node under jit, not a read into Python
        bad = (flat_idx < 0) | (flat_idx >= volume)
        data_check(bad.any(), RuntimeError, f"{op}(): Found an invalid max index (output volumes are of size "
                   f"{'x'.join(str(v) for v in size)})",
                   eager_message=lambda: f"{op}(): Found an invalid max index: "
                                         f"{int(flat_idx[bad][0])} (output volumes are of size "
                                         f"{'x'.join(str(v) for v in size)})")
    out = pt.zeros(lead + (volume,), dtype=input.dtype, device=input.device)
    return out.scatter(-1, flat_idx, input.reshape(lead + (-1,))).reshape(lead + tuple(size))


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool1d``: each max back at its index, zeros elsewhere.

    >>> x = pt.tensor([[[1., 5., 2., 3.]]]); y, i = pt.nn.functional.max_pool1d(x, 2, return_indices=True)
    >>> pt.nn.functional.max_unpool1d(y, i, 2).tolist()
    [[[0.0, 5.0, 0.0, 3.0]]]
    """
    return _unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool2d``: each max back at its index, zeros elsewhere."""
    return _unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool3d``: each max back at its index, zeros elsewhere."""
    return _unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


def _lp(pooled, norm_type, kernel_volume):
    """PyTorch's power-average: (sum over the window of x**p) ** (1/p), from the window's mean of x**p."""
    return (pooled.sign() * pooled.abs().relu()).mul(kernel_volume).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over (N, C, L): (sum of x**p over each window) ** (1/p).

    >>> pt.nn.functional.lp_pool1d(pt.tensor([[3., 4.]]), 2, 2).tolist()
    [[5.0]]
    """
    k = _single(kernel_size)[0]
    if norm_type == math.inf:   # the limit, as PyTorch: the max of |x| (x**inf would give 0 or inf, then 1)
        return max_pool1d(input.abs(), k, stride, 0, ceil_mode=ceil_mode)
    pooled = avg_pool1d(input.pow(norm_type), k, stride, 0, ceil_mode)
    return _lp(pooled, norm_type, k)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over (N, C, H, W)."""
    from plugtorch.nn.functional import avg_pool2d as _avg_pool2d   # (the registry op)
    kh, kw = _pair(kernel_size)
    if norm_type == math.inf:   # the limit, as PyTorch: the max of |x|
        from plugtorch.nn.functional import max_pool2d as _max_pool2d
        return _max_pool2d(input.abs(), (kh, kw), stride, 0, ceil_mode=ceil_mode)
    pooled = _avg_pool2d(input.pow(norm_type), (kh, kw), stride, 0, ceil_mode)
    return _lp(pooled, norm_type, kh * kw)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over (N, C, D, H, W)."""
    k = _triple(kernel_size)
    if norm_type == math.inf:   # the limit, as PyTorch: the max of |x|
        return max_pool3d(input.abs(), k, stride, 0, ceil_mode=ceil_mode)
    pooled = avg_pool3d(input.pow(norm_type), k, stride, 0, ceil_mode)
    return _lp(pooled, norm_type, k[0] * k[1] * k[2])


# ---- fractional max pooling (Graham, 2014) ------------------------------------------------

def _fractional_starts(u, n_in, n_out, k):
    """PyTorch's pseudo-random window starts along one dim, from one uniform sample per (N, C):
    trunc((i + u) * alpha) - trunc(u * alpha), alpha = (n_in - k) / (n_out - 1), the last at n_in - k."""
    if n_out == 1:
        return pt.full(tuple(u.shape) + (1,), n_in - k, dtype=pt.int64, device=u.device)
    alpha = (n_in - k) / (n_out - 1)
    i = pt.arange(n_out - 1, dtype=u.dtype, device=u.device)
    u = u.unsqueeze(-1)
    starts = (((i + u) * alpha).trunc() - (u * alpha).trunc()).to(pt.int64)
    last = pt.full(tuple(starts.shape[:-1]) + (1,), n_in - k, dtype=pt.int64, device=u.device)
    return pt.cat([starts, last], -1)


def _fractional_max_pool(op, nd, input, kernel_size, output_size, output_ratio, return_indices, samples):
    check_tensors(op, input=input)
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: {list(input.shape)}")
    t = _ntuple(nd)
    k = t(kernel_size)
    check_positive(op, "kernel_size", k)
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    sizes = tuple(input.shape[-nd:])
    if output_size is None:
        ratio = t(output_ratio)
        out = tuple(int(s * r) for s, r in zip(sizes, ratio))
    else:
        out = t(output_size)
        check_ints(op, "output_size", out)
    names = ("height", "width") if nd == 2 else ("time", "height", "width")
    for name, n_in, n_out, kk in zip(names, sizes, out, k):
        # (PyTorch's 3-d kernel also refuses windows that end exactly at the edge)
        if n_out + kk - 1 > n_in or (nd == 3 and n_out + kk - 1 == n_in):
            raise RuntimeError(f"{op}(): pool {name} {kk} too large relative to input {name} {n_in} (output "
                               f"{name} {n_out})")
    x = input if input.ndim == nd + 2 else input.unsqueeze(0)
    n, c = x.shape[0], x.shape[1]
    if samples is None:
        samples = pt.rand((n, c, nd), dtype=x.dtype, device=x.device)
    elif tuple(samples.shape) != (n, c, nd):
        raise RuntimeError(f"{op}(): expected _random_samples of size {[n, c, nd]} (N, C, {nd}), but got "
                           f"{list(samples.shape)}")
    # which sample of each plane places the windows along each spatial dim, in PyTorch's order:
    # 2-d (width, height), 3-d (time, height, width)
    which = (1, 0) if nd == 2 else (0, 1, 2)
    starts = [_fractional_starts(samples[:, :, which[j]], sizes[j], out[j], k[j]) for j in range(nd)]
    g = x
    for j in range(nd):
        pos = (starts[j].unsqueeze(-1) + pt.arange(k[j], device=x.device)).reshape(n, c, out[j] * k[j])
        shape = [n, c] + [1] * nd
        shape[2 + j] = out[j] * k[j]
        target = list(g.shape)
        target[2 + j] = out[j] * k[j]
        g = g.gather(2 + j, pos.reshape(shape).expand(target))
    split = [n, c]
    for j in range(nd):
        split += [out[j], k[j]]
    g = g.reshape(split).permute(0, 1, *range(2, 2 + 2 * nd, 2), *range(3, 3 + 2 * nd, 2))
    g = g.reshape((n, c) + out + (math.prod(k),))
    arg = g.argmax(-1, keepdim=True)
    res = g.gather(-1, arg).squeeze(-1)
    if not return_indices:
        return res if input.ndim == nd + 2 else res.squeeze(0)
    arg, idx, inner = arg.squeeze(-1), None, math.prod(k)
    for j in range(nd):
        inner //= k[j]
        offset = (arg // inner) % k[j]
        view = [n, c] + [1] * nd
        view[2 + j] = out[j]
        p = starts[j].reshape(view) + offset
        idx = p if idx is None else idx * sizes[j] + p
    if input.ndim == nd + 1:
        res, idx = res.squeeze(0), idx.squeeze(0)
    return res, idx


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Max over pseudo-randomly placed (kh, kw) windows giving ``output_size`` (or input size times
    ``output_ratio``); ``_random_samples`` (N, C, 2) in [0, 1) fixes the placement.

    >>> x = pt.arange(16.).reshape(1, 1, 4, 4)
    >>> pt.nn.functional.fractional_max_pool2d(x, 2, output_size=2, _random_samples=pt.zeros(1, 1, 2)).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _fractional_max_pool("fractional_max_pool2d", 2, input, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """``fractional_max_pool2d`` over (N, C, D, H, W); ``_random_samples`` is (N, C, 3)."""
    return _fractional_max_pool("fractional_max_pool3d", 3, input, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True, _random_samples)
