"""Pooling layers against loop references: max (with indices), avg, adaptive."""
import math

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

rng = np.random.default_rng(1)


def pool_ref(x, k, s, p, d, ceil, reduce, count_include_pad=True):
    """Windows by loops; padding cells are -inf (max) or excluded/counted (avg) as PyTorch does."""
    n, c, h, w = x.shape

    def size(n_, k_, s_, p_, d_):
        num = n_ + 2 * p_ - d_ * (k_ - 1) - 1
        o = (math.ceil(num / s_) if ceil else num // s_) + 1
        if ceil and (o - 1) * s_ >= n_ + p_:
            o -= 1
        return o
    ho, wo = size(h, k[0], s[0], p[0], d[0]), size(w, k[1], s[1], p[1], d[1])
    out = np.zeros((n, c, ho, wo))
    idx = np.zeros((n, c, ho, wo), dtype=np.int64)
    for i in range(ho):
        for j in range(wo):
            vals, pos, cnt = [], [], 0
            for a in range(k[0]):
                for e in range(k[1]):
                    r, q = i * s[0] - p[0] + a * d[0], j * s[1] - p[1] + e * d[1]
                    if 0 <= r < h and 0 <= q < w:
                        vals.append(x[:, :, r, q])
                        pos.append(r * w + q)
                    if r < h + p[0] and q < w + p[1]:
                        cnt += 1
            v = np.stack(vals, -1)
            if reduce == "max":
                out[:, :, i, j] = v.max(-1)
                idx[:, :, i, j] = np.array(pos)[v.argmax(-1)]
            else:
                out[:, :, i, j] = v.sum(-1) / (cnt if count_include_pad else len(vals))
    return out, idx


@pytest.mark.parametrize("k,s,p,d,ceil", [((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 2), (2, 1), (1, 1), (1, 1), True),
                                          ((3, 3), (2, 2), (1, 0), (1, 2), False), ((2, 2), (3, 3), (1, 1), (1, 1), True)])
def test_max_pool2d_with_indices(k, s, p, d, ceil):
    x = rng.standard_normal((2, 3, 7, 8))
    out, idx = F.max_pool2d(t64(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
    ref, ridx = pool_ref(x, k, s, p, d, ceil, "max")
    np.testing.assert_allclose(out.numpy(), ref)
    np.testing.assert_array_equal(idx.numpy(), ridx)


@pytest.mark.parametrize("k,s,p,d,ceil", [((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 3), (2, 2), (1, 1), (1, 1), False),
                                          ((3, 2), (2, 1), (1, 1), (1, 1), True), ((3, 3), (2, 2), (1, 0), (1, 2), True),
                                          ((1, 1), (2, 2), (0, 0), (1, 1), False), ((1, 1), (1, 1), (0, 0), (1, 1), False)])
def test_max_pool2d_without_indices_or_grad_against_loops(k, s, p, d, ceil):
    # without indices and gradient, the max is taken over rows then columns of strided slices (no
    # argmax): the same values as the loops' max, nan winning, -inf and integer inputs included;
    # never a view of the input (a 1x1 window)
    x = rng.standard_normal((2, 3, 7, 8))
    x[0, 0, 1, 2], x[1, 2, 4, :] = np.nan, -np.inf
    for dt in (pt.float32, pt.float64):
        xt = pt.tensor(x, dtype=dt)
        got = F.max_pool2d(xt, k, s, p, d, ceil_mode=ceil)
        assert got.dtype is dt
        np.testing.assert_array_equal(got.double().numpy(), pool_ref(xt.double().numpy(), k, s, p, d, ceil, "max")[0])
    xi = rng.integers(-128, 127, (2, 3, 7, 8)).astype(np.int8)
    xi[0, 1] = -128   # the dtype's least value: the padding's
    xt = pt.tensor(xi)
    got = F.max_pool2d(xt, k, s, p, d, ceil_mode=ceil)
    np.testing.assert_array_equal(got.numpy(), pool_ref(xi.astype(np.float64), k, s, p, d, ceil, "max")[0])
    assert got.dtype is pt.int8
    got[...] = 99
    assert (xt.numpy() == xi).all()
    x3 = pt.tensor(x[0])   # (C, H, W)
    np.testing.assert_array_equal(F.max_pool2d(x3, k, s, p, d, ceil_mode=ceil).numpy(),
                                  pool_ref(x[:1], k, s, p, d, ceil, "max")[0][0])


@pytest.mark.parametrize("k,s,p,ceil,cip", [((2, 2), (2, 2), (0, 0), False, True), ((3, 3), (2, 2), (1, 1), True, True),
                                            ((3, 2), (2, 1), (1, 1), False, False), ((3, 3), (2, 2), (1, 1), True, False)])
def test_avg_pool2d(k, s, p, ceil, cip):
    x = rng.standard_normal((2, 2, 7, 6))
    got = F.avg_pool2d(t64(x), k, s, p, ceil, cip).numpy()
    np.testing.assert_allclose(got, pool_ref(x, k, s, p, (1, 1), ceil, "avg", cip)[0], atol=1e-12)
    np.testing.assert_allclose(F.avg_pool2d(t64(x), 2, divisor_override=3).numpy(),
                               pool_ref(x, (2, 2), (2, 2), (0, 0), (1, 1), False, "avg")[0] * 4 / 3, atol=1e-12)


def test_pool1d():
    x = rng.standard_normal((2, 3, 9))
    out, idx = F.max_pool1d(t64(x), 3, 2, 1, return_indices=True)
    ref, ridx = pool_ref(x[:, :, None], (1, 3), (1, 2), (0, 1), (1, 1), False, "max")
    np.testing.assert_allclose(out.numpy(), ref[:, :, 0])
    np.testing.assert_array_equal(idx.numpy(), ridx[:, :, 0])
    np.testing.assert_allclose(nn.AvgPool1d(3, 2)(t64(x)).numpy(),
                               pool_ref(x[:, :, None], (1, 3), (1, 2), (0, 0), (1, 1), False, "avg")[0][:, :, 0])


def adaptive_ref(x, oh, ow, reduce):
    n, c, h, w = x.shape
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, he = (i * h) // oh, -(-((i + 1) * h) // oh)
            ws, we = (j * w) // ow, -(-((j + 1) * w) // ow)
            win = x[:, :, hs:he, ws:we]
            out[:, :, i, j] = win.max((2, 3)) if reduce == "max" else win.mean((2, 3))
    return out


@pytest.mark.parametrize("size", [(3, 2), (4, 5), (1, 1), (7, 3)])
def test_adaptive_pools(size):
    x = rng.standard_normal((2, 3, 7, 5))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(t64(x), size).numpy(), adaptive_ref(x, *size, "mean"), atol=1e-12)
    out, idx = F.adaptive_max_pool2d(t64(x), size, return_indices=True)
    np.testing.assert_allclose(out.numpy(), adaptive_ref(x, *size, "max"))
    flat = x.reshape(2, 3, -1)
    np.testing.assert_allclose(np.take_along_axis(flat, idx.numpy().reshape(2, 3, -1), 2).reshape(out.shape),
                               out.numpy())
    x1 = rng.standard_normal((2, 7))
    np.testing.assert_allclose(nn.AdaptiveAvgPool1d(3)(t64(x1)).numpy(),
                               adaptive_ref(x1[None, :, None], 1, 3, "mean")[0, :, 0], atol=1e-12)


def test_pool_gradcheck():
    x = t64(rng.standard_normal((1, 2, 5, 5)), True)
    scalar_gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1), x)
    scalar_gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), x)
    scalar_gradcheck(lambda x: F.adaptive_avg_pool2d(x, (2, 3)), x)
    scalar_gradcheck(lambda x: F.adaptive_max_pool2d(x, (3, 2)), x)


def test_max_pool_gradient_goes_to_one_element():
    x = pt.zeros(1, 1, 2, 2, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_pool_errors_and_modules():
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(pt.randn(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D \(batch mode\) tensor for input"):
        nn.MaxPool2d(2)(pt.randn(4, 4))
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    out, idx = nn.MaxPool2d(2, return_indices=True)(pt.randn(3, 4, 4))
    assert tuple(out.shape) == (3, 2, 2) and idx.dtype is pt.int64
    assert tuple(nn.AdaptiveAvgPool2d((None, 2))(pt.randn(1, 3, 5, 6)).shape) == (1, 3, 5, 2)
    assert tuple(nn.AdaptiveMaxPool2d(1)(pt.randn(2, 3, 5, 6)).shape) == (2, 3, 1, 1)


@pytest.mark.parametrize("device", ["cpu"] + (["opencl"] if pt.opencl.is_available() else []))
def test_max_pool_of_all_minus_inf_windows_with_padding_picks_the_first_cell_inside(device):
    # torch 2.13: a window whose cells inside the input are all -inf takes the first of them (its
    # index, and the gradient); argmax over the -inf padding picked a padding cell: indices
    # [[-5, -3], [3, 5], [11, 13]] (outside the input or the wrong cell) and gradients dropped
    x = pt.full((1, 1, 5, 4), -math.inf, device=device, requires_grad=True)
    out, idx = F.max_pool2d(x, 2, 2, 1, 2, return_indices=True)
    assert idx.tolist() == [[[[5, 5], [5, 5], [13, 13]]]]
    out.sum().backward()
    g = np.zeros(20)
    g[5], g[13] = 4, 2
    np.testing.assert_array_equal(x.grad.cpu().numpy().ravel(), g)
    _, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    assert idx.tolist() == [[[[0, 1], [4, 5], [12, 13]]]]
    _, idx = F.max_pool1d(x[0, :, 0], 2, 1, 1, return_indices=True)
    assert idx.tolist() == [[0, 0, 1, 2, 3]]
    y = pt.full((1, 1, 2, 2, 3), -math.inf, device=device)
    y[0, 0, 1, 1, 2] = 1.0
    _, idx = F.max_pool3d(y, 2, 1, 1, return_indices=True)
    assert idx.flatten().tolist() == [0, 0, 1, 2, 0, 0, 1, 2, 3, 3, 4, 5, 0, 0, 1, 2, 0, 0, 11, 11, 3, 3, 11, 11,
                                      6, 6, 7, 8, 6, 6, 11, 11, 9, 9, 11, 11]   # torch 2.13's


def adaptive_avg_ref(x, out):
    """PyTorch's bins [floor(i n / o), ceil((i + 1) n / o)) over the trailing dims, by loops."""
    nd = len(out)
    res = np.zeros(x.shape[:-nd] + tuple(out))
    for idx in np.ndindex(*out):
        sl = tuple(slice(i * n // o, -(-(i + 1) * n // o)) for i, n, o in zip(idx, x.shape[-nd:], out))
        res[(Ellipsis,) + idx] = x[(Ellipsis,) + sl].mean(tuple(range(-nd, 0)))
    return res


@pytest.mark.parametrize("dev", ["cpu"] + (["opencl"] if pt.opencl.is_available() else []))
@pytest.mark.parametrize("slice_adds", [False, True])
def test_adaptive_avg_pool_unequal_bins_both_sum_forms_keep_an_inf_or_nan_in_its_own_bins(dev, slice_adds,
                                                                                           monkeypatch):
    """Unequal bins are summed from a zero appended past the end (no where()): by one gather, or
    (large slices along a non-last dim) by adding each bin's j-th elements; both keep an inf or nan
    in its own bins, match the loop over PyTorch's bins, and give the same bits on every call."""
    import plugtorch.nn.functional.pooling as pooling
    monkeypatch.setattr(pooling, "_SLICE_ADDS", 0 if slice_adds else 1 << 62)
    x = np.random.default_rng(8).standard_normal((2, 3, 11, 13))
    x[0, 0, 0, 0], x[1, 2, 10, 12], x[0, 1, 5, 6] = np.inf, np.nan, -np.inf
    for out in [(4, 5), (3, 13), (11, 6), (14, 17)]:                     # fewer, as many and more bins
        with np.errstate(invalid="ignore"):
            want = adaptive_avg_ref(x, out)
        got = F.adaptive_avg_pool2d(pt.tensor(x, device=dev), out)
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-12)
        assert np.array_equal(got.cpu().numpy(), F.adaptive_avg_pool2d(pt.tensor(x, device=dev), out).cpu().numpy(),
                              equal_nan=True)
        assert np.isfinite(want).sum() > want.size // 2
    x3 = x[:, :, None, :7, :9] + np.arange(3.0)[:, None, None]           # (2, 3, 3, 7, 9)
    with np.errstate(invalid="ignore"):
        want = adaptive_avg_ref(x3, (2, 4, 5))
    np.testing.assert_allclose(F.adaptive_avg_pool3d(pt.tensor(x3, device=dev), (2, 4, 5)).cpu().numpy(), want,
                               rtol=1e-12)
    xf = t64(np.random.default_rng(4).standard_normal((1, 2, 5, 7)), True)
    scalar_gradcheck(lambda t: F.adaptive_avg_pool2d(t, (3, 4)), xf)


@pytest.mark.parametrize("out", [(2, 2), (3, 3), (1, 1), (3, 2)])
def test_adaptive_avg_pool_keeps_an_inf_or_nan_in_its_own_bins(out):
    # the averaging-matrix form (A_h @ x @ A_w^T) multiplied an inf by the 0 weights of every other
    # bin: adaptive_avg_pool2d(x with one inf, 2) gave [inf, nan, nan, nan]; PyTorch [inf, 4.5, 10.5, 12.5]
    x = np.arange(20.0).reshape(1, 1, 4, 5)
    x[0, 0, 0, 0] = np.inf
    x[0, 0, 3, 4] = np.nan
    with np.errstate(invalid="ignore"):
        want = adaptive_avg_ref(x, out)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(t64(x), out).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(F.adaptive_avg_pool1d(t64(x[0]), out[1]).numpy(), adaptive_avg_ref(x[0], out[1:]),
                               rtol=1e-12)
    x3 = np.concatenate([x, x[..., ::-1, :]], 1)[:, None]   # (1, 1, 2, 4, 5)
    np.testing.assert_allclose(F.adaptive_avg_pool3d(t64(x3), (1,) + out).numpy(),
                               adaptive_avg_ref(x3, (1,) + out), rtol=1e-12)
    np.testing.assert_allclose(F.interpolate(t64(x), size=out, mode="area").numpy(), want, rtol=1e-12)
    assert np.isfinite(want).sum() >= want.size - 2   # (the check is not vacuous: other bins stay finite)
    xf = t64(np.random.default_rng(3).standard_normal((1, 2, 5, 7)), True)
    scalar_gradcheck(lambda t: F.adaptive_avg_pool2d(t, out), xf)


def test_max_pool_over_tiling_windows_crops_and_sends_gradients_to_the_first_maximum():
    """MaxPool2d(2) windows tile the image: they are taken as views (one copy) and their
    gradient is a view too. An odd height and width drop the last row and column; a window of
    equal values (relu's zeros) sends its gradient to its first cell, as PyTorch's kernel."""
    x = pt.tensor([[[[0.0, 0.0, 1.0, 5.0, 9.0],
                     [0.0, 0.0, 5.0, 2.0, 9.0],
                     [3.0, 7.0, 4.0, 4.0, 9.0],
                     [7.0, 1.0, 4.0, 4.0, 9.0],
                     [9.0, 9.0, 9.0, 9.0, 9.0]]]], requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert y.tolist() == [[[[0.0, 5.0], [7.0, 4.0]]]]
    y.backward(pt.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]))
    want = np.zeros((5, 5))
    want[0, 0], want[0, 3], want[2, 1], want[2, 2] = 1.0, 2.0, 3.0, 4.0
    np.testing.assert_array_equal(x.grad[0, 0].numpy(), want)
