"""Convolutions as unfold (im2col) + one matmul; ``unfold`` and ``fold`` themselves.

``unfold`` gathers each kernel offset's strided window of the padded input as a view (a slice
with step = stride) and joins the kh*kw views with one ``cat``: a single copy, no Python loop
over the batch or the pixels.

>>> import plugtorch as pt
>>> x = pt.ones(1, 1, 3, 3); w = pt.ones(1, 1, 2, 2)
>>> pt.nn.functional.conv2d(x, w).tolist()
[[[[4.0, 4.0], [4.0, 4.0]]]]
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch.autograd.function import Function as _Function
from plugtorch.nn.functional._utils import (_ntuple, _pair, _single, _triple, check_ints, check_nonnegative,
                                            check_positive, check_tensors)
from plugtorch.dispatch.meta import not_implemented_for
from plugtorch.nn.functional.padding import pad as _pad


def _out_size(op, n, k, s, p_total, d):
    out = (n + p_total - d * (k - 1) - 1) // s + 1
    if out <= 0:
        raise RuntimeError(f"{op}: calculated output size ({out}) is too small; input size {n} with kernel "
                           f"{k}, dilation {d} and padding {p_total} is smaller than the kernel")
    return out


def _windows(x, kernel, dilation, stride, out_hw):
    """(N, C, kh*kw, Ho, Wo): each kernel offset's window of the (already padded) 4-d ``x``."""
    (kh, kw), (dh, dw), (sh, sw), (ho, wo) = kernel, dilation, stride, out_hw
    if (sh, sw) == (kh, kw) and (dh, dw) == (1, 1) and kh * kw > 1:
        # windows that tile the image (MaxPool2d(2)): views of it, one copy; their gradient is a
        # view too, where K strided slices and a cat cost K zero-filled images in backward
        n, c = x.shape[0], x.shape[1]
        if x.shape[2] != ho * kh or x.shape[3] != wo * kw:
            x = pt.ops.slice(pt.ops.slice(x, 2, 0, ho * kh, 1), 3, 0, wo * kw, 1)
        return x.reshape(n, c, ho, kh, wo, kw).permute(0, 1, 3, 5, 2, 4).reshape(n, c, kh * kw, ho, wo)
    x = x.unsqueeze(2)
    views = []
    for i in range(kh):
        rows = pt.ops.slice(x, 3, i * dh, i * dh + (ho - 1) * sh + 1, sh)
        for j in range(kw):
            views.append(pt.ops.slice(rows, 4, j * dw, j * dw + (wo - 1) * sw + 1, sw))
    return pt.cat(views, 2) if len(views) > 1 else views[0]


def _sum_windows(cols, hw, kernel, dilation, stride, out_hw):
    """The adjoint of ``_windows``: (N, C, kh*kw, Ho, Wo) added back into an (N, C, H, W) image,
    one strided-view add per kernel offset (no scatter), each pixel summing its windows in
    kernel-offset order from zero."""
    (kh, kw), (dh, dw), (sh, sw), (ho, wo) = kernel, dilation, stride, out_hw
    n, c = cols.shape[0], cols.shape[1]
    h, w = hw
    if (sh, sw) == (1, 1) and (h, w) == (ho + (kh - 1) * dh, wo + (kw - 1) * dw) and kh * kw > 1:
        # stride 1: each offset's window, its rows zero-padded to the image's width, is one
        # contiguous run of the flattened image, so each add runs over whole rows, not Wo-long
        # pieces (the adds 2x faster, 15% with the padding's copy); the padding adds exact zeros
        if w > wo:
            cols = _pad(cols, (0, w - wo))
        cols = cols.reshape(n, c, kh * kw * ho * w)
        run = (ho - 1) * w + wo
        out = pt.zeros((n, c, h * w), dtype=cols.dtype, device=cols.device)
        for i in range(kh):
            for j in range(kw):
                start, src = i * dh * w + j * dw, (i * kw + j) * ho * w
                pt.ops.slice(out, 2, start, start + run, 1).add_(pt.ops.slice(cols, 2, src, src + run, 1))
        return out.reshape(n, c, h, w)
    out = pt.zeros((n, c) + tuple(hw), dtype=cols.dtype, device=cols.device)
    for i in range(kh):
        for j in range(kw):
            # each window is taken from `out` afresh, so under create_graph it carries the
            # history of the adds before it (windows overlap when stride < kernel)
            rows = pt.ops.slice(out, 2, i * dh, i * dh + (ho - 1) * sh + 1, sh)
            pt.ops.slice(rows, 3, j * dw, j * dw + (wo - 1) * sw + 1, sw).add_(pt.ops.select(cols, 2, i * kw + j))
    return out


def _columns(x, kernel, dilation, stride, out_hw):
    """``_windows``'s values (N, C, kh*kw, Ho, Wo) where nothing differentiates through them: one
    strided view of ``x`` copied once, instead of kh*kw slices and a cat."""
    if pt.is_grad_enabled() and x.requires_grad:
        return _windows(x, kernel, dilation, stride, out_hw)
    (kh, kw), (dh, dw), (sh, sw), (ho, wo) = kernel, dilation, stride, out_hw
    x = x.contiguous()
    n, c = x.shape[0], x.shape[1]
    s0, s1, s2, s3 = x.stride()
    win = x.as_strided((n, c, kh, kw, ho, wo), (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw), x.storage_offset())
    return win.reshape(n, c, kh * kw, ho, wo)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding blocks: (N, C, H, W) -> (N, C*kh*kw, L).

    >>> pt.nn.functional.unfold(pt.ones(1, 2, 3, 3), 2).shape
    plugtorch.Size([1, 8, 4])
    """
    check_tensors("unfold", input=input)
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    k, d, p, s = _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    _check_window("unfold", k, d, p, s)
    ho = _out_size("unfold", x.shape[2], k[0], s[0], 2 * p[0], d[0])
    wo = _out_size("unfold", x.shape[3], k[1], s[1], 2 * p[1], d[1])
    if p[0] or p[1]:
        x = _pad(x, (p[1], p[1], p[0], p[0]))
    cols = _windows(x, k, d, s, (ho, wo))
    n, c = x.shape[0], x.shape[1]
    out = cols.reshape(n, c * k[0] * k[1], ho * wo)
    return out if batched else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding blocks back into an image: (N, C*kh*kw, L) -> (N, C, H, W); inverse of unfold's layout."""
    check_tensors("fold", input=input)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported (got {input.ndim}D)")
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    (h, w), k, d, p, s = _pair(output_size), _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    check_ints("fold", "output_size", (h, w))
    _check_window("fold", k, d, p, s)
    kk = k[0] * k[1]
    if x.shape[1] % kk:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
                           f"but got input.size(1)={x.shape[1]} and kernel_size={k}")
    ho = _out_size("fold", h, k[0], s[0], 2 * p[0], d[0])
    wo = _out_size("fold", w, k[1], s[1], 2 * p[1], d[1])
    if x.shape[2] != ho * wo:
        raise RuntimeError(f"Given output_size={(h, w)}, kernel_size={k}, dilation={d}, padding={p}, stride={s}, "
                           f"expected size of input's dimension 2 to match the calculated number of sliding "
                           f"blocks {ho} * {wo} = {ho * wo}, but got input.size(2)={x.shape[2]}.")
    if pt.is_grad_enabled() and x.requires_grad:
        # autograd through the in-place window adds would rebuild the image once per offset:
        # one node whose gradient is unfold's windows of the incoming gradient (the same copies)
        out = _FoldFunction.apply(x, (h, w), k, d, p, s, (ho, wo))
    else:
        out = _fold_windows(x, (h, w), k, d, p, s, (ho, wo))
    return out if batched else out.squeeze(0)


def _fold_windows(x, hw, k, d, p, s, out_hw):
    """fold of a batched (N, C*kh*kw, L) ``x``: one strided-view add per kernel offset into the
    padded image (the adjoint of unfold's windows), each pixel summing its blocks in kernel-offset
    order from zero, as the scatter_add it replaced (same bits, 25x faster on cpu); then the crop."""
    (h, w), (ho, wo), kk = hw, out_hw, k[0] * k[1]
    n, c = x.shape[0], x.shape[1] // kk
    out = _sum_windows(x.reshape(n, c, kk, ho, wo), (h + 2 * p[0], w + 2 * p[1]), k, d, s, (ho, wo))
    if p[0] or p[1]:
        out = out[:, :, p[0]:p[0] + h, p[1]:p[1] + w]
    return out


class _FoldFunction(_Function):
    @staticmethod
    def forward(ctx, x, hw, k, d, p, s, out_hw):
        ctx.args = (k, d, p, s)
        return _fold_windows(x, hw, k, d, p, s, out_hw).contiguous()

    @staticmethod
    def backward(ctx, g):
        k, d, p, s = ctx.args
        return unfold(g, k, d, p, s), None, None, None, None, None, None


def _check_window(op, kernel, dilation, padding, stride):
    check_positive(op, "kernel_size", kernel)
    check_positive(op, "dilation", dilation)
    check_nonnegative(op, "padding", padding)
    check_positive(op, "stride", stride)


def _conv_params(op, stride, padding, dilation, nd):
    """A convolution's stride, dilation and (numeric) padding, checked as PyTorch checks them."""
    n = _ntuple(nd)
    check_positive(op, "stride", n(stride))
    check_positive(op, "dilation", n(dilation))
    if not isinstance(padding, str):
        check_nonnegative(op, "padding", n(padding))


def _same_padding(k, d):
    total = d * (k - 1)
    return total // 2, total - total // 2


def _check_groups(op, groups):
    """groups as an int: PyTorch's TypeError for 2.5, '2' or True, RuntimeError when not positive
    (a NumPy integer is taken as its value)."""
    if groups.__class__ is not int:
        if isinstance(groups, (bool, float, pt.Tensor)) or not hasattr(groups, "__index__"):
            raise TypeError(f"{op}(): argument 'groups' must be int, not {type(groups).__name__}")
        groups = groups.__index__()
    if groups <= 0:
        raise RuntimeError(f"{op}(): non-positive groups is not supported, but got groups={groups}")
    return groups


def _check_not_bool(op, input, weight):
    """PyTorch has no bool convolution kernel: NotImplementedError on every backend (cpu's native
    kernel would otherwise return a bool tensor where the devices' matmul refuses)."""
    if input.dtype is pt.bool or weight.dtype is pt.bool:
        raise not_implemented_for(op, pt.bool, "convert with .float() first")


def _input_weight_checks(op, input, weight, groups, nd):
    """The checks every convolution, plain or transposed, starts with (tensors, groups, no bool, an input of
    nd + 1 or nd + 2 dims, an (nd + 2)-dim weight); returns groups as an int."""
    check_tensors(op, input=input, weight=weight)
    groups = _check_groups(op, groups)
    _check_not_bool(op, input, weight)
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, but got input "
                           f"of size: {list(input.shape)}")
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{op}: expected weight to be {nd + 2}-dimensional, but got weight of size "
                           f"{list(weight.shape)}")
    return groups


def _conv_checks(op, input, weight, groups, nd):
    groups = _input_weight_checks(op, input, weight, groups, nd)
    c = input.shape[-nd - 1]
    if weight.shape[1] * groups != c:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(input.shape)} to have {weight.shape[1] * groups} channels, but got {c} "
                           f"channels instead (expected input with {weight.shape[1] * groups} channels, got {c})")
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size {list(weight.shape)} instead")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"{op}: Input type ({input.dtype}) and weight type ({weight.dtype}) should be the same")


def conv2d_geometry(input, weight, stride=1, padding=0, dilation=1, groups=1):
    """conv2d's checks, and its geometry: pads (left, right, top, bottom), stride, dilation and
    the output's (height, width). Shared by the decomposition, the op's meta and its formula."""
    _conv_checks("conv2d", input, weight, groups, 2)
    _conv_params("conv2d", stride, padding, dilation, 2)
    h, w = input.shape[-2], input.shape[-1]
    k = (weight.shape[2], weight.shape[3])
    check_positive("conv2d", "kernel_size", k)
    s, d = _pair(stride), _pair(dilation)
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if s != (1, 1):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            (t, b), (lft, r) = _same_padding(k[0], d[0]), _same_padding(k[1], d[1])
            pads = (lft, r, t, b)
        else:
            raise RuntimeError(f"Invalid padding string '{padding}'; expected 'same' or 'valid'")
    else:
        p = _pair(padding)
        pads = (p[1], p[1], p[0], p[0])
    ho = _out_size("conv2d", h, k[0], s[0], pads[2] + pads[3], d[0])
    wo = _out_size("conv2d", w, k[1], s[1], pads[0] + pads[1], d[1])
    return pads, s, d, (ho, wo)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation) over (N, C, H, W); padding may be 'same' or 'valid'."""
    pads, s, d, (ho, wo) = conv2d_geometry(input, weight, stride, padding, dilation, groups)
    groups = groups.__index__()   # (checked by conv2d_geometry)
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    k = (weight.shape[2], weight.shape[3])
    n, c = x.shape[0], x.shape[1]
    if any(pads):
        x = _pad(x, pads)
    cols = _windows(x, k, d, s, (ho, wo))                  # (N, C, K, Ho, Wo)
    o = weight.shape[0]
    ck = c // groups * k[0] * k[1]
    if groups == 1:
        out = weight.reshape(o, ck) @ cols.reshape(n, ck, ho * wo)
    else:
        cols = cols.reshape(n, groups, ck, ho * wo)
        out = weight.reshape(groups, o // groups, ck) @ cols
    out = out.reshape(n, o, ho, wo)
    if bias is not None:
        out = out + bias.reshape(o, 1, 1)
    return out if batched else out.squeeze(0)


def conv2d_backward(g, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of conv2d for (input, weight, bias), written with ops (unfold, fold, matmul), so
    every backend runs them and they differentiate again."""
    pads, s, d, (ho, wo) = conv2d_geometry(input, weight, stride, padding, dilation, groups)
    groups = groups.__index__()
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    g = g if batched else g.unsqueeze(0)
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    k = (kh, kw)
    ck, L = cg * kh * kw, ho * wo
    grad_w = grad_x = None      # (each only when needed: a first layer's input needs none)
    if groups == c == o and cg == 1:
        if weight._rg:
            grad_w = pt.ops._depthwise_conv2d_weight_grad(g, x, weight, s, pads, d)
        if input._rg:
            grad_x = _input_grad(g, (h, w), pads, weight, c, k, d, s, (ho, wo))
            grad_x = grad_x if batched else grad_x.squeeze(0)
        return grad_x, grad_w, None if bias is None else g.sum((0, 2, 3))
    if any(pads):
        x = _pad(x, pads)
    g3 = g.reshape(n, groups, o // groups, L)
    if weight._rg:
        cols = _columns(x, k, d, s, (ho, wo)).reshape(n, groups, ck, L)
        # cols @ g^T: numpy's batched matmul runs this orientation 25% faster than g @ cols^T
        grad_w = (cols @ g3.transpose(-1, -2)).sum(0).transpose(-1, -2).reshape(tuple(weight.shape))
    if input._rg and cg >= 32 and s == (1, 1):
        # stride 1 as one convolution of g (an im2col copy and a matmul): no (N, C*kh*kw, Ho*Wo)
        # gradient columns to add back window by window (10-20% faster for 32-128 channels; fewer
        # input channels make too thin a matmul, and a stride's phases cost more)
        grad_x = _input_grad(g, (h, w), pads, weight, groups, k, d, s, (ho, wo))
        grad_x = grad_x if batched else grad_x.squeeze(0)
    elif input._rg:
        wg = weight.reshape(groups, o // groups, ck)
        gcols = (wg.transpose(-1, -2) @ g3).reshape(n, c, kh * kw, ho, wo)
        grad_xp = _sum_windows(gcols, (x.shape[2], x.shape[3]), k, d, s, (ho, wo))
        if any(pads):
            grad_xp = grad_xp[:, :, pads[2]:pads[2] + h, pads[0]:pads[0] + w]
        grad_x = grad_xp if batched else grad_xp.squeeze(0)
    grad_b = None if bias is None else g.sum((0, 2, 3))
    return grad_x, grad_w, grad_b


def _input_grad(g, hw, pads, weight, groups, kernel, dilation, stride, out_hw):
    """conv2d's gradient for its (h, w) = ``hw`` input padded by ``pads``, as convolutions of g (the
    backend's conv2d kernel) with the filters flipped and, within each group, transposed: the full
    correlation (PyTorch's conv_transpose). Depthwise: no batch of tiny matmuls (5x slower for a
    MobileNet layer); otherwise no gradient columns added back window by window."""
    (kh, kw), (dh, dw), (sh, sw), (ho, wo) = kernel, dilation, stride, out_hw
    o, cg = weight.shape[0], weight.shape[1]
    c, og = cg * groups, o // groups
    weight = weight.reshape(groups, og, cg, kh, kw).transpose(1, 2).reshape(c, og, kh, kw)
    left, right, top, bottom = pads
    if stride == (1, 1) and left == right <= (kw - 1) * dw and top == bottom <= (kh - 1) * dh:
        # the full correlation less the padding's rows and columns: the input's size at once
        return pt.ops.conv2d(g, weight.flip((2, 3)), None, 1, ((kh - 1) * dh - top, (kw - 1) * dw - left),
                             dilation, groups)
    grad_x = _padded_input_grad(g, (hw[0] + top + bottom, hw[1] + left + right), weight, groups, kernel, dilation,
                                stride, out_hw)
    return grad_x[:, :, top:top + hw[0], left:left + hw[1]] if any(pads) else grad_x


def _padded_input_grad(g, padded_hw, weight, groups, kernel, dilation, stride, out_hw):
    """``_input_grad`` of the padded input, given the filters transposed in their groups."""
    (kh, kw), (dh, dw), (sh, sw), (ho, wo) = kernel, dilation, stride, out_hw
    c, o = weight.shape[0], g.shape[1]
    if stride != (1, 1) and dilation == (1, 1):
        # each phase of the padded image (rows a::sh, columns b::sw) gets the taps (a + m*sh, b + l*sw)
        # at shifts (m, l): a stride-1 full correlation of g with that sub-filter, flipped
        grad_x = pt.zeros((g.shape[0], c) + tuple(padded_hw), dtype=g.dtype, device=g.device)
        for a in range(min(sh, kh)):
            for b in range(min(sw, kw)):
                sub = weight[:, :, a::sh, b::sw]
                ph = pt.ops.conv2d(g, sub.flip((2, 3)), None, 1, (sub.shape[2] - 1, sub.shape[3] - 1), 1, groups)
                rows = pt.ops.slice(grad_x, 2, a, a + (ph.shape[2] - 1) * sh + 1, sh)
                pt.ops.slice(rows, 3, b, b + (ph.shape[3] - 1) * sw + 1, sw).copy_(ph)
        return grad_x
    if stride != (1, 1):
        # (dilated too) g with stride-1 zeros between its pixels: the gradient is then stride 1's
        up = pt.zeros((g.shape[0], o, (ho - 1) * sh + 1, (wo - 1) * sw + 1), dtype=g.dtype, device=g.device)
        pt.ops.slice(pt.ops.slice(up, 2, 0, up.shape[2], sh), 3, 0, up.shape[3], sw).copy_(g)
        g = up
    # the full correlation of g with the flipped filters; rows and columns past the last window
    # (a stride's remainder) get none
    grad_x = pt.ops.conv2d(g, weight.flip((2, 3)), None, 1, ((kh - 1) * dh, (kw - 1) * dw), dilation, groups)
    extra = (padded_hw[0] - grad_x.shape[2], padded_hw[1] - grad_x.shape[3])
    return _pad(grad_x, (0, extra[1], 0, extra[0])) if any(extra) else grad_x


def depthwise_conv2d_weight_grad(grad, input, weight, stride, padding, dilation):
    """The weight's gradient of a depthwise ``conv2d`` (groups = channels, one filter each) given
    its output's gradient: for each kernel offset, the sum over the batch and the pixels of
    ``grad`` times that offset's window of the padded input. ``padding`` is (left, right, top,
    bottom), ``stride`` and ``dilation`` pairs (conv2d's formula passes them checked). One op, so
    a backend may fuse the products and the sums (cpu does).

    >>> x, g = pt.ones(1, 2, 3, 3), pt.ones(1, 2, 3, 3)
    >>> pt.ops._depthwise_conv2d_weight_grad(g, x, pt.ones(2, 1, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1)).flatten().tolist()
    [9.0, 9.0]
    """
    kh, kw = weight.shape[2], weight.shape[3]
    (sh, sw), (dh, dw) = stride, dilation
    ho, wo = grad.shape[2], grad.shape[3]
    xp = _pad(input, tuple(padding)) if any(padding) else input
    taps = []
    for i in range(kh):
        for j in range(kw):
            win = pt.ops.slice(pt.ops.slice(xp, 2, i * dh, i * dh + (ho - 1) * sh + 1, sh),
                               3, j * dw, j * dw + (wo - 1) * sw + 1, sw)
            taps.append((grad * win).sum((0, 2, 3)))
    out = pt.stack(taps, 1).reshape(tuple(weight.shape))
    return out if out.dtype == grad.dtype else out.to(grad.dtype)   # (an integer sum is int64)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution over (N, C, L), computed as a 2-d one of height 1."""
    _conv_checks("conv1d", input, weight, groups, 1)
    _conv_params("conv1d", stride, padding, dilation, 1)
    pad = padding if isinstance(padding, str) else (0, _single(padding)[0])
    if isinstance(padding, str) and padding == "same" and _single(stride)[0] != 1:
        raise RuntimeError("padding='same' is not supported for strided convolutions")
    out = conv2d(input.unsqueeze(-2), weight.unsqueeze(2), bias, (1, _single(stride)[0]), pad,
                 (1, _single(dilation)[0]), groups)
    return out.squeeze(-2)


def _transpose_geometry(op, input, weight, stride, padding, output_padding, groups, dilation, nd):
    """A transposed convolution's checks (PyTorch's errors, named for ``op``) and its stride,
    padding, output_padding and dilation as nd-tuples."""
    groups = _input_weight_checks(op, input, weight, groups, nd)
    c = input.shape[-nd - 1]
    if weight.shape[0] != c:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected input"
                           f"{list(input.shape)} to have {weight.shape[0]} channels, but got {c} channels instead")
    if c % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size {list(weight.shape)} instead")
    t = _ntuple(nd)
    s, p, opad, d = t(stride), t(padding), t(output_padding), t(dilation)
    _conv_params(op, s, p, d, nd)
    check_nonnegative(op, "output_padding", opad)
    if any(o >= max(si, di) for o, si, di in zip(opad, s, d)):
        raise RuntimeError(f"{op}(): output padding must be smaller than either stride or dilation, "
                           f"but got output_padding={opad}, stride={s}, dilation={d}")
    sizes = tuple(input.shape[-nd:])
    out = [(n - 1) * si - 2 * pi + di * (k - 1) + oi + 1
           for n, si, pi, di, k, oi in zip(sizes, s, p, d, weight.shape[2:], opad)]
    if min(out) <= 0:
        raise RuntimeError(f"{op}(): Given input size per channel: ({' x '.join(map(str, sizes))}). Calculated "
                           f"output size per channel: ({' x '.join(map(str, out))}). Output size is too small")
    return groups, s, p, opad, d


def _check_bias(op, bias, channels, input):
    if bias is None:
        return
    check_tensors(op, bias=bias)
    if tuple(bias.shape) != (channels,) or bias.dtype is not input.dtype:
        raise RuntimeError(f"{op}(): expected a bias of shape ({channels},) and dtype {input.dtype}, but got bias "
                           f"of shape {list(bias.shape)} and dtype {bias.dtype}")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution: matmul with the weight's transpose, then ``fold`` the columns."""
    groups, s, p, op, d = _transpose_geometry("conv_transpose2d", input, weight, stride, padding, output_padding,
                                              groups, dilation, 2)
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    n, c, h, w = x.shape
    k = (weight.shape[2], weight.shape[3])
    og = weight.shape[1]
    o = og * groups
    ho = (h - 1) * s[0] - 2 * p[0] + d[0] * (k[0] - 1) + op[0] + 1
    wo = (w - 1) * s[1] - 2 * p[1] + d[1] * (k[1] - 1) + op[1] + 1
    wt = weight.reshape(groups, c // groups, og * k[0] * k[1]).transpose(1, 2)   # (G, Og*K, Cg)
    cols = wt @ x.reshape(n, groups, c // groups, h * w)                          # (N, G, Og*K, HW)
    cols = cols.reshape(n, o * k[0] * k[1], h * w)
    if op[0] < s[0] and op[1] < s[1]:
        out = fold(cols, (ho, wo), k, d, p, s)
    else:
        # an output padding of at least the stride (allowed below the dilation) adds rows fold's
        # block count cannot see: fold the uncropped output, extend it, then crop the padding
        full = ((h - 1) * s[0] + d[0] * (k[0] - 1) + 1, (w - 1) * s[1] + d[1] * (k[1] - 1) + 1)
        out = _pad(fold(cols, full, k, d, 0, s), (0, op[1], 0, op[0]))
        out = pt.ops.slice(pt.ops.slice(out, 2, p[0], p[0] + ho, 1), 3, p[1], p[1] + wo, 1)
    if bias is not None:
        out = out + bias.reshape(o, 1, 1)
    return out if batched else out.squeeze(0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-d convolution over (N, C_in, L): a transposed 2-d one of height 1.

    >>> pt.nn.functional.conv_transpose1d(pt.ones(1, 1, 3), pt.ones(1, 1, 2)).tolist()
    [[[1.0, 2.0, 2.0, 1.0]]]
    """
    groups, s, p, op, d = _transpose_geometry("conv_transpose1d", input, weight, stride, padding, output_padding,
                                              groups, dilation, 1)
    _check_bias("conv_transpose1d", bias, weight.shape[1] * groups, input)
    # through the registry op: autocast, a backend's kernel and the profiler see it
    return pt.nn.functional.conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(2), bias, (1, s[0]), (0, p[0]),
                                             (0, op[0]), groups, (1, d[0])).squeeze(-2)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d convolution over (N, C, D, H, W) as one conv2d: the kd depth-shifted (and depth-strided)
    slices of the input are stacked into the channels of a batch of N*D_out images, the weight's
    depth taps into its input channels (kept within each group).

    >>> pt.nn.functional.conv3d(pt.ones(1, 1, 3, 3, 3), pt.ones(1, 1, 2, 2, 2)).shape
    plugtorch.Size([1, 1, 2, 2, 2])
    """
    _conv_checks("conv3d", input, weight, groups, 3)
    _conv_params("conv3d", stride, padding, dilation, 3)
    groups = groups.__index__()
    _check_bias("conv3d", bias, weight.shape[0], input)
    s, d = _triple(stride), _triple(dilation)
    k = tuple(weight.shape[2:])
    check_positive("conv3d", "kernel_size", k)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string '{padding}'; expected 'same' or 'valid'")
        if padding == "same" and s != (1, 1, 1):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        depth_pad = _same_padding(k[0], d[0]) if padding == "same" else (0, 0)
        plane_pad = padding
    else:
        p = _triple(padding)
        depth_pad, plane_pad = (p[0], p[0]), p[1:]
    batched = input.ndim == 5
    x = input if batched else input.unsqueeze(0)
    n, c, depth, h, w = x.shape
    do = _out_size("conv3d", depth, k[0], s[0], sum(depth_pad), d[0])
    if any(depth_pad):
        x = _pad(x, (0, 0, 0, 0) + depth_pad)
    o, cg = weight.shape[0], c // groups
    taps = [pt.ops.slice(x, 2, a * d[0], a * d[0] + (do - 1) * s[0] + 1, s[0]) for a in range(k[0])]
    xs = pt.stack(taps, 2) if len(taps) > 1 else taps[0].unsqueeze(2)               # (N, C, kd, Do, H, W)
    xs = xs.reshape(n, groups, cg, k[0], do, h, w).permute(0, 4, 1, 3, 2, 5, 6)
    xs = xs.reshape(n * do, groups * k[0] * cg, h, w)
    w2 = weight.transpose(1, 2).reshape(o, k[0] * cg, k[1], k[2])                    # taps, then channels
    # through the registry op (autocast, a backend's kernel, the profiler); bias per output channel
    out = pt.nn.functional.conv2d(xs, w2, bias, s[1:], plane_pad, d[1:], groups)   # (N*Do, O, Ho, Wo)
    out = out.reshape(n, do, o, out.shape[-2], out.shape[-1]).transpose(1, 2)
    return out if batched else out.squeeze(0)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 3-d convolution over (N, C_in, D, H, W): one conv_transpose2d over the N*D planes
    with the kd depth taps as extra output channels, then each tap's planes added into the output
    depths it reaches (one strided-view add per tap).

    >>> pt.nn.functional.conv_transpose3d(pt.ones(1, 1, 2, 2, 2), pt.ones(1, 1, 2, 2, 2)).shape
    plugtorch.Size([1, 1, 3, 3, 3])
    """
    groups, s, p, op, d = _transpose_geometry("conv_transpose3d", input, weight, stride, padding, output_padding,
                                              groups, dilation, 3)
    _check_bias("conv_transpose3d", bias, weight.shape[1] * groups, input)
    batched = input.ndim == 5
    x = input if batched else input.unsqueeze(0)
    n, c, depth, h, w = x.shape
    og, kd = weight.shape[1], weight.shape[2]
    o = og * groups
    do = (depth - 1) * s[0] - 2 * p[0] + d[0] * (kd - 1) + op[0] + 1
    if do <= 0:
        raise RuntimeError(f"conv_transpose3d: calculated output depth ({do}) is too small for input depth {depth}, "
                           f"kernel {kd}, stride {s[0]}, padding {p[0]} and dilation {d[0]}")
    # (Cin, Og, kd, kh, kw) -> (Cin, kd*Og, kh, kw): within each group the taps lead the channels
    w2 = weight.transpose(1, 2).reshape(c, kd * og, weight.shape[3], weight.shape[4])
    planes = x.transpose(1, 2).reshape(n * depth, c, h, w)
    y = pt.nn.functional.conv_transpose2d(planes, w2, None, s[1:], p[1:], op[1:], groups, d[1:])
    # (N*D, G*kd*Og, Ho, Wo)
    ho, wo = y.shape[-2], y.shape[-1]
    y = y.reshape(n, depth, groups, kd, og, ho, wo)
    full = (depth - 1) * s[0] + d[0] * (kd - 1) + 1 + op[0]
    out = pt.zeros((n, groups, og, full, ho, wo), dtype=y.dtype, device=y.device)
    for a in range(kd):
        tap = y[:, :, :, a].permute(0, 2, 3, 1, 4, 5)                               # (N, G, Og, D, Ho, Wo)
        pt.ops.slice(out, 3, a * d[0], a * d[0] + (depth - 1) * s[0] + 1, s[0]).add_(tap)
    out = pt.ops.slice(out, 3, p[0], p[0] + do, 1).reshape(n, o, do, ho, wo)
    if bias is not None:   # (in the transposed conv's dtype, which autocast may have lowered)
        out = out + bias.reshape(o, 1, 1, 1).to(out.dtype)
    return out if batched else out.squeeze(0)


def conv_tbc(input, weight, bias, pad=0):
    """1-d convolution of a (time, batch, in_channels) input with a (kernel_width, in_channels,
    out_channels) weight, zero-padded by ``pad`` steps at both ends: (time', batch, out_channels).

    >>> pt.nn.functional.conv_tbc(pt.ones(4, 1, 2), pt.ones(3, 2, 1), pt.zeros(1), 1).flatten().tolist()
    [4.0, 6.0, 6.0, 4.0]
    """
    check_tensors("conv_tbc", input=input, weight=weight, bias=bias)
    if input.ndim != 3:
        raise RuntimeError(f"conv_tbc: Input must have 3 dims: time, batch, in_channel (got input of size "
                           f"{list(input.shape)})")
    if weight.ndim != 3:
        raise RuntimeError(f"conv_tbc: Weight tensor must have 3 dims: kernel_width, in_channels, out_channels "
                           f"(got weight of size {list(weight.shape)})")
    if bias.ndim != 1 or bias.shape[0] != weight.shape[2]:
        raise RuntimeError(f"conv_tbc: Bias size must equal dim 2 in the weight tensor (output channels): bias of "
                           f"size {list(bias.shape)}, weight of size {list(weight.shape)}")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError(f"conv_tbc: Input dim 2 (input channels) is not == dim 1 in the weight tensor: input of "
                           f"size {list(input.shape)}, weight of size {list(weight.shape)}")
    out = pt.nn.functional.conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1)
