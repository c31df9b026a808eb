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
from plugtorch.dispatch.meta import check_bool, not_implemented_for
from plugtorch.nn.functional._utils import _pair, check_ints, check_nonnegative, check_positive, check_tensors
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


def _pool_args(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    check_tensors(op, input=input)
    check_bool(op, "ceil_mode", ceil_mode)   # PyTorch's TypeError: 'yes' or 1 is no flag
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}: Expected 3D or 4D (batch mode) tensor for input, but got input of size: "
                           f"{list(input.shape)}")
    k = _pair(kernel_size)
    s = _pair(stride) if stride is not None and stride != [] and stride != () else k
    p, d = _pair(padding), _pair(dilation)
    check_positive(op, "kernel_size", k)
    check_positive(op, "stride", s)
    check_nonnegative(op, "padding", p)
    check_positive(op, "dilation", d)
    for kk, pp in zip(k, p):
        if pp > kk // 2:
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got pad={pp}, "
                               f"kernel_size={kk}")
    h, w = input.shape[-2], input.shape[-1]
    ho = _pool_size(op, h, k[0], s[0], p[0], d[0], ceil_mode)
    wo = _pool_size(op, w, k[1], s[1], p[1], d[1], ceil_mode)
    # right/bottom padding that ceil_mode's partial windows reach into
    extra = (max(0, (ho - 1) * s[0] + d[0] * (k[0] - 1) + 1 - h - 2 * p[0]),
             max(0, (wo - 1) * s[1] + d[1] * (k[1] - 1) + 1 - w - 2 * p[1]))
    return k, s, p, d, (ho, wo), extra


def _batched(input):
    return input if input.ndim == 4 else input.unsqueeze(0)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each window; ``return_indices`` gives flat h*W+w positions (for ``max_unpool``)."""
    k, s, p, d, (ho, wo), extra = _pool_args("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    x = _batched(input)
    h, w = x.shape[2], x.shape[3]
    xp = _pad(x, (p[1], p[1] + extra[1], p[0], p[0] + extra[0]), value=-math.inf) if any(p) or any(extra) else x
    cols = _windows(xp, k, d, s, (ho, wo))                    # (N, C, K, Ho, Wo)
    arg = cols.argmax(2, keepdim=True)
    out = cols.gather(2, arg).squeeze(2)
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


def adaptive_avg_pool2d(input, output_size):
    """Mean over PyTorch's bins [floor(i*H/Ho), ceil((i+1)*H/Ho)); computed as A_h @ x @ A_w^T."""
    _check_adaptive("adaptive_avg_pool2d", input, 2)
    if not input.dtype.is_floating_point:   # (the averaging matrices would be integer zeros)
        raise not_implemented_for("adaptive_avg_pool2d", input.dtype, "convert the input with .float() first")
    h, w = input.shape[-2], input.shape[-1]
    oh, ow = _adaptive_size("adaptive_avg_pool2d", output_size, h, w)
    if oh == 0 or ow == 0:
        return _empty_bins(input, oh, ow)

    def averaging(n, out):
        starts, ends, _ = _bins(n, out, None)
        rows = [[1.0 / (e - s) if s <= j < e else 0.0 for j in range(n)] for s, e in zip(starts, ends)]
        return pt.tensor(rows, dtype=input.dtype, device=input.device)
    return averaging(h, oh) @ input @ averaging(w, ow).mT


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
