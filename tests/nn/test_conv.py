"""Conv1d/Conv2d/ConvTranspose2d and unfold/fold against direct-loop NumPy references."""
import math

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

rng = np.random.default_rng(0)


def conv2d_ref(x, w, b, stride, pad, dil, groups):
    """Cross-correlation by explicit loops over every output element."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[1]), (pad[2], pad[3])))
    ho = (h + pad[0] + pad[1] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + pad[2] + pad[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for ni in range(n):
        for oi in range(o):
            g = oi // og
            for i in range(ho):
                for j in range(wo):
                    acc = 0.0 if b is None else b[oi]
                    for ci in range(cg):
                        for a in range(kh):
                            for e in range(kw):
                                acc += w[oi, ci, a, e] * xp[ni, g * cg + ci, i * stride[0] + a * dil[0],
                                                            j * stride[1] + e * dil[1]]
                    out[ni, oi, i, j] = acc
    return out


def conv_transpose2d_ref(x, w, b, stride, pad, out_pad, dil, groups):
    """Scatter every input element times the kernel into the (uncropped) output."""
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = c // groups
    hf = (h - 1) * stride[0] + dil[0] * (kh - 1) + 1 + out_pad[0]
    wf = (wd - 1) * stride[1] + dil[1] * (kw - 1) + 1 + out_pad[1]
    full = np.zeros((n, og * groups, hf, wf))
    for ni in range(n):
        for ci in range(c):
            g = ci // cg
            for i in range(h):
                for j in range(wd):
                    for a in range(kh):
                        for e in range(kw):
                            full[ni, g * og:(g + 1) * og, i * stride[0] + a * dil[0], j * stride[1] + e * dil[1]] += \
                                x[ni, ci, i, j] * w[ci, :, a, e]
    out = full[:, :, pad[0]:hf - pad[0], pad[1]:wf - pad[1]]
    return out if b is None else out + b.reshape(-1, 1, 1)


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    ((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (1, 1), 1), ((1, 2), (2, 1), (2, 1), 2), ((2, 2), (1, 1), (1, 1), 4)])
def test_conv2d_matches_loops(stride, padding, dilation, groups):
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((8, 4 // groups, 3, 2))
    b = rng.standard_normal(8)
    got = F.conv2d(t64(x), t64(w), t64(b), stride, padding, dilation, groups).numpy()
    p = (padding[0], padding[0], padding[1], padding[1])
    np.testing.assert_allclose(got, conv2d_ref(x, w, b, stride, p, dilation, groups), atol=1e-12)


def test_conv2d_same_valid_and_unbatched():
    x = rng.standard_normal((1, 2, 5, 6))
    w = rng.standard_normal((3, 2, 4, 3))
    got = F.conv2d(t64(x), t64(w), padding="same", dilation=(1, 2)).numpy()
    # 'same' pads total d*(k-1): rows 3 -> (1, 2), cols 4 -> (2, 2)
    np.testing.assert_allclose(got, conv2d_ref(x, w, None, (1, 1), (1, 2, 2, 2), (1, 2), 1), atol=1e-12)
    assert got.shape == (1, 3, 5, 6)
    valid = F.conv2d(t64(x[0]), t64(w), padding="valid").numpy()
    np.testing.assert_allclose(valid, conv2d_ref(x, w, None, (1, 1), (0,) * 4, (1, 1), 1)[0], atol=1e-12)


def test_conv1d_matches_loops():
    x = rng.standard_normal((2, 3, 9))
    w = rng.standard_normal((4, 3, 3))
    b = rng.standard_normal(4)
    got = F.conv1d(t64(x), t64(w), t64(b), stride=2, padding=1, dilation=2).numpy()
    ref = conv2d_ref(x[:, :, None], w[:, :, None], b, (1, 2), (0, 0, 1, 1), (1, 2), 1)[:, :, 0]
    np.testing.assert_allclose(got, ref, atol=1e-12)


@pytest.mark.parametrize("stride,padding,out_pad,dilation,groups", [
    ((1, 1), (0, 0), (0, 0), (1, 1), 1), ((2, 2), (1, 0), (1, 0), (1, 1), 1), ((2, 1), (0, 1), (0, 0), (1, 2), 2)])
def test_conv_transpose2d_matches_loops(stride, padding, out_pad, dilation, groups):
    x = rng.standard_normal((2, 4, 3, 4))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(3 * groups)
    got = F.conv_transpose2d(t64(x), t64(w), t64(b), stride, padding, out_pad, groups, dilation).numpy()
    np.testing.assert_allclose(got, conv_transpose2d_ref(x, w, b, stride, padding, out_pad, dilation, groups),
                               atol=1e-12)


def test_unfold_fold_roundtrip_counts_overlaps():
    x = rng.standard_normal((2, 3, 5, 4))
    cols = F.unfold(t64(x), (2, 3), dilation=1, padding=1, stride=(2, 1))
    assert tuple(cols.shape) == (2, 3 * 6, 3 * 4)
    # column l, row c*K+k is x_padded at the kernel offset k of block l
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    np.testing.assert_allclose(cols.numpy()[1, 1 * 6 + 4, 5], xp[1, 1, 1 * 2 + 1, 1 + 1])
    back = F.fold(cols, (5, 4), (2, 3), padding=1, stride=(2, 1)).numpy()
    ones = F.fold(F.unfold(pt.ones(1, 1, 5, 4, dtype=pt.float64), (2, 3), padding=1, stride=(2, 1)),
                  (5, 4), (2, 3), padding=1, stride=(2, 1)).numpy()
    np.testing.assert_allclose(back, x * ones, atol=1e-12)


def test_conv_gradcheck():
    x = t64(rng.standard_normal((1, 2, 4, 4)), True)
    w = t64(rng.standard_normal((4, 1, 2, 2)), True)
    b = t64(rng.standard_normal(4), True)
    scalar_gradcheck(lambda x, w, b: F.conv2d(x, w, b, 2, 1, 1, 2), x, w, b)
    wt = t64(rng.standard_normal((2, 2, 2, 2)), True)
    scalar_gradcheck(lambda x, w: F.conv_transpose2d(x, w, None, 2, 1, 1), x, wt)
    x1 = t64(rng.standard_normal((1, 2, 5)), True)
    scalar_gradcheck(lambda x, w: F.conv1d(x, w, padding="same"), x1, t64(rng.standard_normal((3, 2, 3)), True))


def test_conv_modules_shapes_init_and_errors():
    conv = nn.Conv2d(3, 16, 3, padding=1)
    assert tuple(conv.weight.shape) == (16, 3, 3, 3) and tuple(conv.bias.shape) == (16,)
    bound = 1 / math.sqrt(3 * 9)
    w = conv.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(conv.bias.detach().numpy()).max() <= bound
    assert tuple(conv(pt.randn(2, 3, 8, 8)).shape) == (2, 16, 8, 8)
    with pytest.raises(RuntimeError, match="expected input with 3 channels, got 4"):
        conv(pt.randn(2, 4, 8, 8))
    with pytest.raises(RuntimeError, match=r"expected 3D \(unbatched\) or 4D \(batched\) input, but got input of "
                                           r"size: \[8, 8\]"):
        conv(pt.randn(8, 8))
    with pytest.raises(RuntimeError, match="to have 3 channels, but got 4 channels instead"):
        F.conv2d(pt.randn(1, 4, 5, 5), conv.weight)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    t = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert tuple(t.weight.shape) == (4, 3, 3, 3)
    assert tuple(t(pt.randn(1, 4, 5, 5)).shape) == (1, 6, 10, 10)
    assert tuple(t(pt.randn(1, 4, 5, 5), output_size=(9, 9)).shape) == (1, 6, 9, 9)
    c1 = nn.Conv1d(2, 5, 3, padding="same")
    assert tuple(c1(pt.randn(4, 2, 7)).shape) == (4, 5, 7)


def test_conv_transpose_output_size_out_of_range_raises_value_error():
    # sizes 9 and 10 are reachable from 5 (stride 2, padding 1, kernel 3): min 9, max 9 + stride - 1
    t = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1)
    x = pt.randn(1, 4, 5, 5)
    assert tuple(t(x, output_size=(10, 9)).shape) == (1, 6, 10, 9)
    assert tuple(t(x, output_size=[1, 6, 10, 10]).shape) == (1, 6, 10, 10)   # with the batch and channel dims
    for bad in ((8, 9), (11, 9)):   # used to reach conv_transpose2d as output_padding -1 / 2 (RuntimeError)
        with pytest.raises(ValueError, match=r"requested an output size of \[\d+, 9\], but valid sizes range "
                                             r"from \[9, 9\] to \[10, 10\] \(for an input of \[5, 5\]\)"):
            t(x, output_size=bad)
    with pytest.raises(ValueError, match=r"ConvTranspose2D: for 4D input, output_size must have 2 or 4 elements "
                                         r"\(got 3\)"):
        t(x, output_size=(6, 10, 10))   # (a 3-element size used to take its last 2 silently)


def test_conv_padding_modes():
    x = rng.standard_normal((1, 1, 4, 5))
    conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect", bias=False).double()
    w = conv.weight.detach().numpy()
    ref = conv2d_ref(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect"), w, None, (1, 1), (0,) * 4,
                     (1, 1), 1)
    np.testing.assert_allclose(conv(t64(x)).detach().numpy(), ref, atol=1e-12)


def test_unfold_fold_gradcheck():
    x = t64(rng.standard_normal((1, 2, 4, 3)), True)
    scalar_gradcheck(lambda x: F.unfold(x, (2, 2), padding=1, stride=(2, 1)), x)
    cols = t64(rng.standard_normal((1, 2 * 4, 6)), True)
    scalar_gradcheck(lambda c: F.fold(c, (3, 4), 2, padding=0, stride=1), cols)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, padding=(1, 0)), dict(dilation=2, padding="same"),
                                dict(groups=2), dict(padding="valid", stride=(1, 2), dilation=(2, 1))])
def test_native_cpu_conv2d_matches_the_decomposition_and_its_formula_is_right(kw):
    from plugtorch.nn.functional import conv as C
    pt.manual_seed(0)
    x = pt.randn(2, 4, 7, 6, dtype=pt.float64, requires_grad=True)
    w = pt.randn(6, 4 // kw.get("groups", 1), 3, 2, dtype=pt.float64, requires_grad=True)
    b = pt.randn(6, dtype=pt.float64, requires_grad=True)
    np.testing.assert_allclose(F.conv2d(x, w, b, **kw).detach().numpy(),
                               C.conv2d(x, w, b, **kw).detach().numpy(), rtol=1e-12, atol=1e-12)
    assert pt.autograd.gradcheck(lambda a, c, d: F.conv2d(a, c, d, **kw), (x, w, b))


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, padding=(1, 0)), dict(dilation=2, padding="same"),
                                dict(padding=(0, 2), stride=(1, 2), dilation=(2, 1)), dict()])
def test_depthwise_conv2d_and_its_gradients_match_loops(kw):
    # groups == channels, one filter each: cpu's shifted multiply-adds forward, and the gradients
    # kernel offset by offset (stride 1: the flipped filters' full correlation), against loops
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((4, 1, 3, 2)), rng.standard_normal(4)
    X, W, B = t64(x, True), t64(w, True), t64(b, True)
    y = F.conv2d(X, W, B, groups=4, **kw)
    pads, s, d, _ = pt.nn.functional.conv.conv2d_geometry(X, W, kw.get("stride", 1), kw.get("padding", 0),
                                                           kw.get("dilation", 1), 4)
    p = (pads[2], pads[3], pads[0], pads[1])
    np.testing.assert_allclose(y.detach().numpy(), conv2d_ref(x, w, b, s, p, d, 4), atol=1e-12)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(t64(g))
    eps = 1e-6   # the loops are linear in x and in w: central differences are exact up to rounding
    for arr, grad in ((x, X.grad), (w, W.grad)):
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            arr[idx] += eps
            hi = (conv2d_ref(x, w, b, s, p, d, 4) * g).sum()
            arr[idx] -= 2 * eps
            lo = (conv2d_ref(x, w, b, s, p, d, 4) * g).sum()
            arr[idx] += eps
            num[idx] = (hi - lo) / (2 * eps)
        np.testing.assert_allclose(grad.numpy(), num, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(B.grad.numpy(), g.sum((0, 2, 3)), atol=1e-12)
    # float32 and a channels_last input give the same values
    x32 = pt.from_numpy(x.astype(np.float32)).contiguous(memory_format=pt.channels_last)
    np.testing.assert_allclose(F.conv2d(x32, pt.from_numpy(w.astype(np.float32)), None, groups=4, **kw).numpy(),
                               conv2d_ref(x, w, None, s, p, d, 4), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(padding="same", dilation=(2, 1)), dict(padding=(1, 2), groups=2),
                                dict(stride=(2, 1), padding=1), dict()])
def test_conv2d_gradients_match_finite_differences_of_loops(kw):
    # the weight's gradient from one strided copy of the input's windows, the input's from the
    # gradient columns added back row-run by row-run (stride 1) or window by window (strided)
    x, w, b = rng.standard_normal((2, 4, 6, 7)), rng.standard_normal((6, 4 // kw.get("groups", 1), 3, 2)), \
        rng.standard_normal(6)
    X = t64(x).contiguous(memory_format=pt.channels_last).requires_grad_(True)
    W, B = t64(w, True), t64(b, True)
    y = F.conv2d(X, W, B, **kw)
    pads, s, d, _ = pt.nn.functional.conv.conv2d_geometry(X, W, kw.get("stride", 1), kw.get("padding", 0),
                                                           kw.get("dilation", 1), kw.get("groups", 1))
    p, groups = (pads[2], pads[3], pads[0], pads[1]), kw.get("groups", 1)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(t64(g))
    eps = 1e-6   # linear in x and in w: central differences are exact up to rounding
    for arr, grad in ((x, X.grad), (w, W.grad)):
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            arr[idx] += eps
            hi = (conv2d_ref(x, w, b, s, p, d, groups) * g).sum()
            arr[idx] -= 2 * eps
            lo = (conv2d_ref(x, w, b, s, p, d, groups) * g).sum()
            arr[idx] += eps
            num[idx] = (hi - lo) / (2 * eps)
        np.testing.assert_allclose(grad.numpy(), num, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(B.grad.numpy(), g.sum((0, 2, 3)), atol=1e-12)


def test_fold_with_stride_one_sums_every_block_into_its_pixels():
    x = rng.standard_normal((2, 3 * 2 * 3, 4 * 3))   # kernel (2, 3), dilation (2, 1): 4 x 3 blocks of a 6 x 5 image
    got = F.fold(t64(x), (6, 5), (2, 3), dilation=(2, 1)).numpy()
    want = np.zeros((2, 3, 6, 5))
    cols = x.reshape(2, 3, 2, 3, 4, 3)
    for a in range(2):
        for e in range(3):
            for i in range(4):
                for j in range(3):
                    want[:, :, i + 2 * a, j + e] += cols[:, :, a, e, i, j]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_conv2d_second_derivatives_with_overlapping_windows():
    pt.manual_seed(1)
    x = pt.randn(1, 4, 6, 5, dtype=pt.float64, requires_grad=True)
    w = pt.randn(4, 2, 3, 2, dtype=pt.float64, requires_grad=True)
    assert pt.autograd.gradgradcheck(lambda a, c: F.conv2d(a, c, padding="same", groups=2, dilation=(1, 2)), (x, w))
    x2 = pt.randn(1, 3, 5, 5, dtype=pt.float64, requires_grad=True)
    w2 = pt.randn(2, 3, 3, 3, dtype=pt.float64, requires_grad=True)
    assert pt.autograd.gradgradcheck(lambda a, c: F.conv2d(a, c, padding=1, stride=2), (x2, w2))


def test_conv2d_bias_of_the_wrong_shape_or_dtype_is_refused():
    x, w = pt.randn(1, 2, 4, 4), pt.randn(3, 2, 3, 3)
    with pytest.raises(RuntimeError, match=r"conv2d\(\): expected a bias of shape \(3,\)"):
        F.conv2d(x, w, pt.zeros(4))
    with pytest.raises(RuntimeError, match="dtype plugtorch.float32"):
        F.conv2d(x, w, pt.zeros(3, dtype=pt.float64))
    with pytest.raises(TypeError, match="argument 'bias' must be Tensor"):
        F.conv2d(x, w, [0.0, 0.0, 0.0])


def _depthwise_ref(x, w, b, stride, pad, dil):
    """A depthwise convolution in float64, one strided window of the padded x per kernel offset."""
    (sh, sw), (dh, dw), kh, kw = stride, dil, w.shape[2], w.shape[3]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad[0], pad[1]), (pad[2], pad[3])))
    ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros(x.shape[:2] + (ho, wo)) + b.astype(np.float64)[:, None, None]
    for i in range(kh):
        for j in range(kw):
            win = xp[:, :, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
            out += win * w[:, 0, i, j].astype(np.float64)[:, None, None]
    return out


@pytest.mark.parametrize("shape,k,stride,pad,dil", [
    ((9, 3, 5, 6), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),        # many samples in one block
    ((2, 3, 300, 301), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),    # a sample larger than a block: channel blocks
    ((1, 16, 299, 300), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),   # and of a stride's phases
    ((1, 40, 90, 90), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),     # channel blocks, the last one shorter
    ((3, 5, 11, 12), (3, 2), (3, 2), (2, 1, 0, 3), (2, 3)),      # phases of stride 3 and 2, dilated
    ((2, 4, 9, 9), (5, 5), (2, 3), (2, 2, 2, 2), (1, 1)),        # an odd image for its stride
    ((2, 6, 13, 7), (1, 1), (2, 1), (0, 0, 0, 0), (1, 1)),       # a 1x1 depthwise, strided
])
def test_cpu_depthwise_kernel_over_block_and_stride_layouts(shape, k, stride, pad, dil):
    # the kernel runs on flattened shifted runs of the image (strides: of its phases), in blocks of
    # whole samples or of channels; every layout against float64 windows, in float32 and float16
    c = shape[1]
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((c, 1) + k).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    ref = _depthwise_ref(x, w, b, stride, pad, dil)
    padding = (pad[0], pad[2]) if pad[0] == pad[1] and pad[2] == pad[3] else 0
    xt = pt.from_numpy(x)
    if not padding:
        xt = F.pad(xt, (pad[2], pad[3], pad[0], pad[1]))
    y = F.conv2d(xt, pt.from_numpy(w), pt.from_numpy(b), stride, padding, dil, c)
    assert y.shape == ref.shape and y.dtype == pt.float32 and y.is_contiguous()
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5 * k[0] * k[1])
    y16 = F.conv2d(xt.half(), pt.from_numpy(w).half(), pt.from_numpy(b).half(), stride, padding, dil, c)
    ref16 = _depthwise_ref(x.astype(np.float16), w.astype(np.float16), b.astype(np.float16), stride, pad, dil)
    assert y16.dtype == pt.float16
    np.testing.assert_allclose(y16.float().numpy(), ref16, rtol=2e-3, atol=2e-3 * k[0] * k[1])


@pytest.mark.parametrize("shape,k,stride,pad,dil", [
    ((3, 4, 7, 6), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
    ((2, 5, 11, 12), (3, 2), (2, 3), (2, 1, 0, 3), (2, 1)),
    ((2, 3, 9, 8), (5, 3), (2, 2), (0, 0, 0, 0), (1, 2)),
])
def test_depthwise_weight_grad_op_kernel_and_decomposition_match_windows(shape, k, stride, pad, dil):
    # the op conv2d's formula runs for a depthwise weight: cpu's kernel (one einsum per offset over
    # shifted runs; strided windows when x holds an inf) and its decomposition, against float64 sums
    from plugtorch.nn.functional.conv import depthwise_conv2d_weight_grad
    c = shape[1]
    x = rng.standard_normal(shape)
    w = rng.standard_normal((c, 1) + k)
    xp = np.pad(x, ((0, 0), (0, 0), (pad[2], pad[3]), (pad[0], pad[1])))
    ho = (xp.shape[2] - dil[0] * (k[0] - 1) - 1) // stride[0] + 1
    wo = (xp.shape[3] - dil[1] * (k[1] - 1) - 1) // stride[1] + 1
    g = rng.standard_normal((shape[0], c, ho, wo))
    ref = np.zeros(w.shape)
    for i in range(k[0]):
        for j in range(k[1]):
            win = xp[:, :, i * dil[0]:i * dil[0] + (ho - 1) * stride[0] + 1:stride[0],
                     j * dil[1]:j * dil[1] + (wo - 1) * stride[1] + 1:stride[1]]
            ref[:, 0, i, j] = (g * win).sum((0, 2, 3))
    args = (stride, pad, dil)
    for dt, tol in ((pt.float64, 1e-12), (pt.float32, 1e-4)):
        G, X, W = (pt.from_numpy(a).to(dt) for a in (g, x, w))
        for got in (pt.ops._depthwise_conv2d_weight_grad(G, X, W, *args), depthwise_conv2d_weight_grad(G, X, W, *args)):
            assert got.dtype == dt and got.shape == w.shape
            np.testing.assert_allclose(got.numpy(), ref, rtol=tol, atol=tol * 10)
    # an inf pixel outside every window (the last row, past a stride's remainder, or one only a
    # padding zero of g's runs meets) leaves the gradient finite, as the windows' sums
    x_inf = x.copy()
    x_inf[0, 0, -1, -1] = np.inf
    used = (ho - 1) * stride[0] + (k[0] - 1) * dil[0] + 1 - pad[2], (wo - 1) * stride[1] + (k[1] - 1) * dil[1] + 1 - pad[0]
    if used[0] < shape[2] or used[1] < shape[3]:
        got = pt.ops._depthwise_conv2d_weight_grad(pt.from_numpy(g), pt.from_numpy(x_inf), pt.from_numpy(w), *args)
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-12)
    x_inf[0, 0, shape[2] // 2, shape[3] // 2] = np.inf   # inside windows: inf or nan where PyTorch has them
    got = pt.ops._depthwise_conv2d_weight_grad(pt.from_numpy(g), pt.from_numpy(x_inf), pt.from_numpy(w), *args)
    assert np.isfinite(got.numpy()[1:]).all() and not np.isfinite(got.numpy()[0]).all()


def test_depthwise_weight_grad_op_keeps_an_integer_dtype():
    # the decomposition (opencl, plug-ins) summed int16 products into int64 (sum's dtype) where
    # cpu's kernel gives the gradient in grad's dtype: int16 [1, 2, 2, 2] windows of 3x3 x
    x = np.arange(18, dtype=np.int64).reshape(1, 2, 3, 3) - 9
    g = np.array([[[[1, -2], [3, 4]], [[2, 0], [-1, 5]]]], np.int64)
    ref = np.zeros((2, 1, 2, 2), np.int64)
    for i in range(2):
        for j in range(2):
            ref[:, 0, i, j] = (g * x[:, :, i:i + 2, j:j + 2]).sum((0, 2, 3))
    assert ref[:, 0].tolist() == [[[-31, -25], [-13, -7]], [[17, 23], [35, 41]]]   # (by hand: -9 + 16 - 18 - 20)
    from plugtorch.nn.functional.conv import depthwise_conv2d_weight_grad
    G, X, W = (pt.from_numpy(a.astype(np.int16)) for a in (g, x, np.ones((2, 1, 2, 2))))
    for got in (pt.ops._depthwise_conv2d_weight_grad(G, X, W, (1, 1), (0, 0, 0, 0), (1, 1)),
                depthwise_conv2d_weight_grad(G, X, W, (1, 1), (0, 0, 0, 0), (1, 1))):
        assert got.dtype is pt.int16 and got.tolist() == ref.tolist()

@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, padding=(1, 0)), dict(stride=(3, 2), dilation=(1, 2))])
def test_depthwise_conv2d_second_derivatives(kw):
    # the weight's gradient op differentiates through its decomposition; the strided input
    # gradient (per-phase sub-filters, or zeros between g's pixels when dilated) through conv2d
    pt.manual_seed(2)
    x = pt.randn(2, 3, 7, 6, dtype=pt.float64, requires_grad=True)
    w = pt.randn(3, 1, 3, 2, dtype=pt.float64, requires_grad=True)
    assert pt.autograd.gradgradcheck(lambda a, c: F.conv2d(a, c, groups=3, **kw), (x, w))


def _conv2d_input_grad_ref(g, w, x_shape, stride, pad, dil, groups):
    """The adjoint of conv2d in x, in float64: each kernel offset's g times its filter taps added
    into that offset's window of the padded input, then the padding cut away."""
    n, c, h, wd = x_shape
    o, cg, kh, kw = w.shape
    og, (sh, sw), (dh, dw) = o // groups, stride, dil
    ho, wo = g.shape[2], g.shape[3]
    gx = np.zeros((n, c, h + pad[0] + pad[1], wd + pad[2] + pad[3]))
    for q in range(groups):
        gq, wq = g[:, q * og:(q + 1) * og], w[q * og:(q + 1) * og]
        for i in range(kh):
            for j in range(kw):
                gx[:, q * cg:(q + 1) * cg, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw] += \
                    np.einsum("nors,oc->ncrs", gq, wq[:, :, i, j])
    return gx[:, :, pad[0]:pad[0] + h, pad[2]:pad[2] + wd]


@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=(2, 0), dilation=(2, 1), groups=2),
                                dict(padding=(3, 1)), dict(padding="same", dilation=2), dict()])
def test_conv2d_input_gradient_as_a_convolution_of_the_output_gradient(kw):
    # stride 1 with 32 or more input channels a group: the input's gradient is conv2d of g with the
    # flipped, group-transposed filters (at the input's size when the padding allows, else cut from
    # the padded input's); against the float64 adjoint, in float64 and float32, and twice differentiated
    groups = kw.get("groups", 1)
    x, w = rng.standard_normal((2, 32 * groups, 6, 7)), rng.standard_normal((3 * groups, 32, 3, 2))
    X, W = t64(x, True), t64(w, True)
    y = F.conv2d(X, W, **kw)
    pads, s, d, _ = pt.nn.functional.conv.conv2d_geometry(X, W, 1, kw.get("padding", 0), kw.get("dilation", 1), groups)
    p = (pads[2], pads[3], pads[0], pads[1])
    g = rng.standard_normal(tuple(y.shape))
    y.backward(t64(g))
    ref = _conv2d_input_grad_ref(g, w, x.shape, s, p, d, groups)
    np.testing.assert_allclose(X.grad.numpy(), ref, rtol=1e-12, atol=1e-12)
    X32 = pt.from_numpy(x.astype(np.float32)).requires_grad_(True)
    F.conv2d(X32, pt.from_numpy(w.astype(np.float32)), **kw).backward(pt.from_numpy(g.astype(np.float32)))
    np.testing.assert_allclose(X32.grad.numpy(), ref, rtol=1e-4, atol=1e-4)
    xs, ws = X[:1, :, :3, :4].detach().requires_grad_(True), W[:, :, :2].detach().requires_grad_(True)
    assert pt.autograd.gradgradcheck(lambda a, b: F.conv2d(a, b, **kw), (xs, ws))
