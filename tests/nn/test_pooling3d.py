"""3-d max/avg pooling, adaptive pooling (avg 3d, max 1d/3d), max unpooling and LP pooling against
direct-loop NumPy references; the *_with_indices functions; the layers' reprs and errors."""
import itertools
import math

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]


def out_size(n, k, s, p, d, ceil):
    num = n + 2 * p - d * (k - 1) - 1
    o = (-(-num // s) if ceil else num // s) + 1
    return o - 1 if ceil and (o - 1) * s >= n + p else o


def pool3d_ref(x, k, s, p, d, ceil, kind, count_include_pad=True):
    """Max (value, flat index) or mean of each window by explicit loops; x is (N, C, D, H, W)."""
    sizes = x.shape[2:]
    outs = [out_size(sizes[i], k[i], s[i], p[i], d[i], ceil) for i in range(3)]
    vals = np.zeros(x.shape[:2] + tuple(outs))
    idx = np.zeros(vals.shape, dtype=np.int64)
    for n, c in np.ndindex(*x.shape[:2]):
        for o in np.ndindex(*outs):
            best, best_i, total, count = -np.inf, -1, 0.0, 0
            for off in np.ndindex(*k):
                pos = [o[i] * s[i] - p[i] + off[i] * d[i] for i in range(3)]
                if all(-p[i] <= pos[i] < sizes[i] + p[i] for i in range(3)):
                    count += 1 if count_include_pad else all(0 <= pos[i] < sizes[i] for i in range(3))
                if all(0 <= pos[i] < sizes[i] for i in range(3)):
                    v = x[(n, c) + tuple(pos)]
                    total += v
                    if v > best:
                        best, best_i = v, (pos[0] * sizes[1] + pos[1]) * sizes[2] + pos[2]
            vals[(n, c) + o] = best if kind == "max" else total / count
            idx[(n, c) + o] = best_i
    return (vals, idx) if kind == "max" else vals


def unique(shape, seed=0):
    return np.random.default_rng(seed).permutation(math.prod(shape)).reshape(shape).astype(np.float64) / 7


MAX3D = [((1, 2, 4, 5, 6), (2, 2, 2), None, 0, 1, False),
         ((2, 1, 5, 4, 5), (3, 2, 3), (2, 1, 2), (1, 1, 1), (1, 1, 1), True),
         ((1, 2, 6, 5, 5), (2, 3, 2), (1, 2, 2), (1, 1, 0), (2, 1, 2), False)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", range(len(MAX3D)))
def test_max_pool3d(case, device):
    shape, k, s, p, d, ceil = MAX3D[case]
    x = unique(shape, case)
    t = lambda v: v if isinstance(v, tuple) else (v,) * 3  # noqa: E731
    vals, idx = pool3d_ref(x, k, t(s if s is not None else k), t(p), t(d), ceil, "max")
    out, ind = F.max_pool3d(pt.tensor(x.astype(np.float32), device=device), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_allclose(out.cpu().numpy(), vals, rtol=1e-6)
    np.testing.assert_array_equal(ind.cpu().numpy(), idx)
    out1, ind1 = F.max_pool3d_with_indices(pt.tensor(x[0], device=device), k, s, p, d, ceil)   # unbatched
    np.testing.assert_array_equal(ind1.cpu().numpy(), idx[0])
    if d != 1:
        return
    # unpooling puts every max back where it came from
    un = F.max_unpool3d(out, ind, k, s, p, output_size=shape[2:])
    ref = np.zeros(shape).reshape(shape[0], shape[1], -1)
    np.put_along_axis(ref, idx.reshape(shape[0], shape[1], -1), vals.reshape(shape[0], shape[1], -1), -1)
    np.testing.assert_allclose(un.cpu().numpy(), ref.reshape(shape), rtol=1e-6)


AVG3D = [((1, 2, 4, 5, 6), (2, 2, 2), None, 0, False, True),
         ((2, 1, 5, 4, 5), (3, 2, 3), (2, 1, 2), (1, 1, 1), True, True),
         ((2, 1, 5, 4, 5), (3, 2, 3), (2, 1, 2), (1, 1, 1), True, False)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", range(len(AVG3D)))
def test_avg_pool3d(case, device):
    shape, k, s, p, ceil, cip = AVG3D[case]
    x = np.random.default_rng(case).standard_normal(shape)
    t = lambda v: v if isinstance(v, tuple) else (v,) * 3  # noqa: E731
    ref = pool3d_ref(x, k, t(s if s is not None else k), t(p), (1, 1, 1), ceil, "avg", cip)
    out = F.avg_pool3d(pt.tensor(x.astype(np.float32), device=device), k, s, p, ceil, cip)
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-5, atol=1e-6)
    div = F.avg_pool3d(pt.tensor(x), k, s, p, ceil, cip, divisor_override=5)
    np.testing.assert_allclose(div.numpy(), F.avg_pool3d(pt.tensor(x), k, s, p, ceil, cip, 1).numpy() / 5)


def bins(n, o):
    return [(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]


def adaptive_ref(x, out, kind):
    sizes = x.shape[-len(out):]
    res = np.zeros(x.shape[:-len(out)] + tuple(out))
    idx = np.zeros(res.shape, dtype=np.int64)
    for o in np.ndindex(*out):
        box = [bins(sizes[i], out[i])[o[i]] for i in range(len(out))]
        sl = x[(Ellipsis,) + tuple(slice(a, b) for a, b in box)]
        flat = sl.reshape(sl.shape[:-len(out)] + (-1,))
        if kind == "avg":
            res[(Ellipsis,) + o] = flat.mean(-1)
            continue
        a = flat.argmax(-1)
        res[(Ellipsis,) + o] = flat.max(-1)
        local = np.unravel_index(a, sl.shape[-len(out):])
        pos = [local[i] + box[i][0] for i in range(len(out))]
        idx[(Ellipsis,) + o] = np.ravel_multi_index(pos, sizes)
    return res if kind == "avg" else (res, idx)


@pytest.mark.parametrize("device", DEVICES)
def test_adaptive_pools(device):
    x = unique((2, 3, 5, 7, 6))
    xt = pt.tensor(x.astype(np.float32), device=device)
    np.testing.assert_allclose(F.adaptive_avg_pool3d(xt, (3, 4, 2)).cpu().numpy(), adaptive_ref(x, (3, 4, 2), "avg"),
                               rtol=1e-5)
    np.testing.assert_allclose(nn.AdaptiveAvgPool3d((2, None, 4))(xt[0]).cpu().numpy(),
                               adaptive_ref(x[0], (2, 7, 4), "avg"), rtol=1e-5)
    vals, idx = adaptive_ref(x, (3, 4, 4), "max")
    out, ind = F.adaptive_max_pool3d_with_indices(xt, (3, 4, 4))
    np.testing.assert_allclose(out.cpu().numpy(), vals, rtol=1e-6)
    np.testing.assert_array_equal(ind.cpu().numpy(), idx)
    x1 = x[:, :, 0, 0]                                      # (2, 3, 6)
    vals, idx = adaptive_ref(x1, (4,), "max")
    out, ind = nn.AdaptiveMaxPool1d(4, return_indices=True)(pt.tensor(x1, device=device))
    np.testing.assert_allclose(out.cpu().numpy(), vals)
    np.testing.assert_array_equal(ind.cpu().numpy(), idx)
    np.testing.assert_array_equal(F.adaptive_max_pool1d_with_indices(pt.tensor(x1[0]), 4)[1].numpy(), idx[0])


@pytest.mark.parametrize("device", DEVICES)
def test_max_unpool_1d_2d_round_trip(device):
    x = pt.tensor(unique((2, 3, 6, 5)).astype(np.float32), device=device)
    out, ind = F.max_pool2d_with_indices(x, 2, 2, 1)
    un = nn.MaxUnpool2d(2, 2, 1)(out, ind, output_size=(1, 3, 6, 5))
    kept = un.cpu().numpy() != 0
    np.testing.assert_array_equal(un.cpu().numpy()[kept], x.cpu().numpy()[kept])
    assert np.sort(un.cpu().numpy()[kept]).tolist() == np.sort(out.cpu().numpy().ravel()).tolist()
    y = pt.tensor([[[1., 5., 2., 3., 7., 6.]]], device=device)
    o1, i1 = F.max_pool1d_with_indices(y, 2)
    assert nn.MaxUnpool1d(2)(o1, i1).cpu().tolist() == [[[0.0, 5.0, 0.0, 3.0, 7.0, 0.0]]]
    assert tuple(F.max_unpool1d(o1[0], i1[0], 2, output_size=[7]).shape) == (1, 7)


@pytest.mark.parametrize("device", DEVICES)
def test_lp_pool(device):
    x = np.abs(np.random.default_rng(3).standard_normal((1, 2, 4, 6, 5))) + 0.1
    xt = pt.tensor(x.astype(np.float32), device=device)
    for p in (2.0, 1.5):
        ref = (x[..., :4, :6, :4] ** p).reshape(1, 2, 2, 2, 3, 2, 2, 2).sum((3, 5, 7)) ** (1 / p)
        np.testing.assert_allclose(F.lp_pool3d(xt, p, 2).cpu().numpy(), ref, rtol=1e-5)
        ref2 = (x[:, :, 0, :6, :4] ** p).reshape(1, 2, 2, 3, 2, 2).sum((3, 5)) ** (1 / p)
        np.testing.assert_allclose(nn.LPPool2d(p, (3, 2))(xt[:, :, 0]).cpu().numpy(), ref2, rtol=1e-5)
    ref1 = np.sqrt(x[0, :, 0, 0, 0:4] ** 2 + x[0, :, 0, 0, 1:5] ** 2)
    np.testing.assert_allclose(nn.LPPool1d(2, 2, stride=1)(xt[:, :, 0, 0]).cpu().numpy()[0], ref1, rtol=1e-5)


def test_lp_pool_gradient_at_an_all_zero_window_is_zero():
    # (x1^2 + x2^2)^(1/2): 0 (the subgradient) on the window of zeros, x / ||x|| on the other; was nan
    for fn, shape in ((lambda x: F.lp_pool1d(x, 2, 2), (1, 1, 4)), (lambda x: F.lp_pool2d(x, 2, (1, 2)), (1, 1, 1, 4)),
                      (lambda x: F.lp_pool3d(x, 2, (1, 1, 2)), (1, 1, 1, 1, 4))):
        x = pt.tensor(np.array([0.0, 0.0, -1.0, 0.5]).reshape(shape), requires_grad=True)
        out = fn(x)
        out.sum().backward()
        np.testing.assert_allclose(out.detach().numpy().ravel(), [0.0, np.sqrt(1.25)])
        np.testing.assert_allclose(x.grad.numpy().ravel(), [0.0, 0.0, -1 / np.sqrt(1.25), 0.5 / np.sqrt(1.25)])


def test_lp_pool_with_infinite_norm_is_max_pooling_of_the_magnitudes():
    # the p -> inf limit of (sum |x|**p) ** (1/p), as PyTorch; the power-average formula gave 1
    # everywhere (x**inf is 0 or inf, and either ** (1/inf) is 1)
    x = np.random.default_rng(4).standard_normal((1, 2, 4, 6, 5)) * 2
    xt = t64(x)
    ref3 = np.abs(x[..., :4, :6, :4]).reshape(1, 2, 2, 2, 3, 2, 2, 2).max((3, 5, 7))
    np.testing.assert_array_equal(F.lp_pool3d(xt, float("inf"), 2).numpy(), ref3)
    ref2 = np.abs(x[:, :, 0, :6, :4]).reshape(1, 2, 2, 3, 2, 2).max((3, 5))
    np.testing.assert_array_equal(nn.LPPool2d(float("inf"), (3, 2))(xt[:, :, 0]).numpy(), ref2)
    ref1 = np.maximum(np.abs(x[0, :, 0, 0, 0:4]), np.abs(x[0, :, 0, 0, 1:5]))
    np.testing.assert_array_equal(F.lp_pool1d(xt[:, :, 0, 0], float("inf"), 2, 1).numpy()[0], ref1)
    scalar_gradcheck(lambda x: F.lp_pool2d(x, float("inf"), 2), t64(unique((1, 1, 4, 4)) - 8, True))


def test_gradients():
    x = t64(unique((1, 2, 4, 4, 3)), True)
    scalar_gradcheck(lambda x: F.max_pool3d(x, 2, 1, 1), x)
    scalar_gradcheck(lambda x: F.avg_pool3d(x, (2, 3, 2), 2, 1, ceil_mode=True, count_include_pad=False), x)
    scalar_gradcheck(lambda x: F.adaptive_avg_pool3d(x, (3, 2, 2)), x)
    scalar_gradcheck(lambda x: F.adaptive_max_pool3d(x, (3, 3, 2)), x)
    scalar_gradcheck(lambda x: F.lp_pool3d(x.abs() + 0.5, 3.0, 2, 1), x)
    y = t64(unique((1, 2, 2, 3)), True)
    ind = pt.tensor([[[[0, 3, 5], [7, 10, 12]], [[1, 2, 4], [9, 11, 14]]]])
    scalar_gradcheck(lambda y: F.max_unpool2d(y, ind, 2, output_size=(4, 5)), y)


def test_reprs():
    assert repr(nn.MaxPool3d(2)) == "MaxPool3d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool3d(2)) == "AvgPool3d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AdaptiveMaxPool3d((1, None, 2))) == "AdaptiveMaxPool3d(output_size=(1, None, 2))"
    assert repr(nn.MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.MaxUnpool3d(2, 1)) == "MaxUnpool3d(kernel_size=(2, 2, 2), stride=(1, 1, 1), padding=(0, 0, 0))"
    assert repr(nn.LPPool2d(2, 3)) == "LPPool2d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)"
    assert repr(nn.AdaptiveMaxPool1d(3)) == "AdaptiveMaxPool1d(output_size=3)"


def test_bad_inputs():
    with pytest.raises(RuntimeError, match=r"max_pool3d: non-empty 4D or 5D \(batch mode\) tensor expected"):
        F.max_pool3d(pt.ones(1, 2, 3), 2)
    with pytest.raises(RuntimeError, match="max_pool3d.*too small"):
        F.max_pool3d(pt.ones(1, 1, 3, 3, 3), 4)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool3d(pt.ones(1, 1, 3, 3, 3), 2, padding=2)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool3d(pt.ones(1, 1, 3, 3, 3), 2, divisor_override=0)
    with pytest.raises(RuntimeError, match=r"adaptive_avg_pool3d\(\): Expected 4D or 5D tensor"):
        F.adaptive_avg_pool3d(pt.ones(1, 2, 3), 2)
    with pytest.raises(RuntimeError, match=r"adaptive_max_pool1d\(\): Expected 2 to 3 dimensions, but got 4"):
        F.adaptive_max_pool1d(pt.ones(1, 2, 3, 4), 2)
    with pytest.raises(ValueError, match=r'invalid output_size "\(7, 7\)" \(dim 0 must be between 2 and 6\)'):
        F.max_unpool2d(pt.ones(1, 1, 2, 2), pt.zeros(1, 1, 2, 2, dtype=pt.int64), 2, output_size=(7, 7))
    with pytest.raises(RuntimeError, match=r"Expected shape of indices to be same as that of the input tensor"):
        F.max_unpool2d(pt.ones(1, 1, 2, 2), pt.zeros(1, 1, 2, 3, dtype=pt.int64), 2)
    with pytest.raises(RuntimeError, match=r"Found an invalid max index: 20 \(output volumes are of size 4x4\)"):
        F.max_unpool2d(pt.ones(1, 1, 2, 2), pt.full((1, 1, 2, 2), 20, dtype=pt.int64), 2)
    with pytest.raises(ValueError, match="output_size should be a sequence containing 3 or 5 elements"):
        nn.MaxUnpool3d(2)(pt.ones(1, 1, 1, 1), pt.zeros(1, 1, 1, 1, dtype=pt.int64), output_size=(2, 2))


def test_all_combinations_are_exported():
    for name in ["max_pool3d", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool3d",
                 "max_unpool1d", "max_unpool2d", "max_unpool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d"] + \
            [f"{a}max_pool{n}d_with_indices" for a, n in itertools.product(("", "adaptive_"), (1, 2, 3))]:
        assert callable(getattr(F, name)), name


def intervals(u, n_in, n_out, k):
    """PyTorch's generate_intervals, in float32 as its float kernels compute it."""
    if n_out == 1:
        return [n_in - k]
    alpha = np.float32(n_in - k) / np.float32(n_out - 1)
    return [int(np.float32(i + u) * alpha) - int(np.float32(u) * alpha) for i in range(n_out - 1)] + [n_in - k]


def fractional_ref(x, k, out, samples, order):
    """Max (value, flat index) over the windows PyTorch places; ``order[j]``: the sample of dim j."""
    nd = len(k)
    sizes = x.shape[2:]
    vals = np.zeros(x.shape[:2] + tuple(out), np.float32)
    idx = np.zeros(vals.shape, np.int64)
    for n, c in np.ndindex(*x.shape[:2]):
        starts = [intervals(samples[n, c, order[j]], sizes[j], out[j], k[j]) for j in range(nd)]
        for o in np.ndindex(*out):
            box = tuple(slice(starts[j][o[j]], starts[j][o[j]] + k[j]) for j in range(nd))
            win = x[(n, c) + box]
            a = np.unravel_index(win.argmax(), win.shape)
            vals[(n, c) + o] = win[a]
            idx[(n, c) + o] = np.ravel_multi_index([box[j].start + a[j] for j in range(nd)], sizes)
    return vals, idx


@pytest.mark.parametrize("device", DEVICES)
def test_fractional_max_pool(device):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 11, 13)).astype(np.float32)
    s = rng.uniform(size=(2, 3, 2)).astype(np.float32)
    vals, idx = fractional_ref(x, (2, 3), (6, 5), s, order=(1, 0))          # 2-d: sample 0 places the width
    out, ind = F.fractional_max_pool2d(pt.tensor(x, device=device), (2, 3), output_size=(6, 5), return_indices=True,
                                       _random_samples=pt.tensor(s, device=device))
    np.testing.assert_array_equal(out.cpu().numpy(), vals)
    np.testing.assert_array_equal(ind.cpu().numpy(), idx)
    x3 = rng.standard_normal((1, 2, 7, 8, 9)).astype(np.float32)
    s3 = rng.uniform(size=(1, 2, 3)).astype(np.float32)
    vals, idx = fractional_ref(x3, (2, 3, 2), (4, 5, 6), s3, order=(0, 1, 2))
    m = nn.FractionalMaxPool3d((2, 3, 2), output_size=(4, 5, 6), return_indices=True,
                               _random_samples=pt.tensor(s3)).to(device)
    out, ind = m(pt.tensor(x3, device=device))
    np.testing.assert_array_equal(out.cpu().numpy(), vals)
    np.testing.assert_array_equal(ind.cpu().numpy(), idx)
    assert list(m.state_dict()) == ["_random_samples"]
    # without samples: windows drawn at random, each output still the max of some k-window
    r = nn.FractionalMaxPool2d(3, output_ratio=0.5)(pt.tensor(x[0], device=device))
    assert tuple(r.shape) == (3, 5, 6)


def test_fractional_gradients_and_errors():
    x = t64(unique((1, 2, 5, 6)), True)
    s = pt.tensor([[[0.3, 0.6], [0.8, 0.1]]], dtype=pt.float64)
    scalar_gradcheck(lambda x: F.fractional_max_pool2d(x, 2, output_size=(3, 4), _random_samples=s), x)
    with pytest.raises(ValueError, match="fractional_max_pool2d requires specifying either an output_size or an "
                                         "output_ratio"):
        F.fractional_max_pool2d(pt.ones(1, 1, 4, 4), 2)
    with pytest.raises(RuntimeError, match=r"fractional_max_pool2d\(\): pool height 2 too large relative to input "
                                           r"height 7"):
        F.fractional_max_pool2d(pt.ones(1, 1, 7, 9), 2, output_size=(7, 5))
    with pytest.raises(RuntimeError, match=r"fractional_max_pool3d\(\): pool time 2 too large relative to input "
                                           r"time 4"):
        F.fractional_max_pool3d(pt.ones(1, 1, 4, 4, 4), 2, output_size=3)
    with pytest.raises(ValueError, match="FractionalMaxPool2d requires specifying either an output size, or a "
                                         "pooling ratio"):
        nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match="only one of output_size and output_ratio may be specified"):
        nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5)
    with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
        nn.FractionalMaxPool2d(2, output_ratio=(0.5, 1.5))
    with pytest.raises(RuntimeError, match=r"expected _random_samples of size \[2, 3, 2\]"):
        F.fractional_max_pool2d(pt.ones(2, 3, 7, 9), 2, output_size=3, _random_samples=pt.rand(2, 3, 3))
    assert repr(nn.FractionalMaxPool2d(2, output_ratio=0.5)) == "FractionalMaxPool2d()"


@pytest.mark.parametrize("device", DEVICES)
def test_integer_inputs(device):
    # max pooling of integers pads with the dtype's least value and never picks a padding cell
    # (torch 2.13: all-zero uint8 with padding gives the inside zeros' indices)
    z, zi = F.max_pool2d(pt.zeros(1, 1, 3, 3, dtype=pt.uint8, device=device), 2, 1, 1, return_indices=True)
    assert z.dtype is pt.uint8 and z.cpu().numpy().max() == 0
    assert zi.cpu().tolist() == [[[[0, 0, 1, 2], [0, 0, 1, 2], [3, 3, 4, 5], [6, 6, 7, 8]]]]
    x = pt.tensor([[[[[1, 2], [3, 4]]]]], device=device)
    out, idx = F.max_pool3d(x, (1, 2, 2), 1, (0, 1, 1), return_indices=True)
    assert out.dtype is pt.int64 and out.cpu().tolist() == [[[[[1, 2, 2], [3, 4, 4], [3, 4, 4]]]]]
    assert idx.cpu().tolist() == [[[[[0, 1, 1], [2, 3, 3], [2, 3, 3]]]]]
    assert F.avg_pool3d(x, (1, 2, 2)).cpu().tolist() == [[[[[2]]]]]            # int64 mean, truncated
    with pytest.raises(NotImplementedError, match="max_pool3d"):
        F.max_pool3d(x.bool(), 1)
    with pytest.raises(NotImplementedError, match="avg_pool3d"):
        F.avg_pool3d(x.int(), 1)
    with pytest.raises(NotImplementedError, match="adaptive_max_pool3d"):
        F.adaptive_max_pool3d(x, 1)
    with pytest.raises(RuntimeError, match="adaptive_avg_pool3d.*could not infer output dtype"):
        F.adaptive_avg_pool3d(x, 1)
    with pytest.raises(NotImplementedError, match="max_unpool2d"):
        F.max_unpool2d(x[0], pt.zeros(1, 1, 2, 2, dtype=pt.int64, device=device), 1)
