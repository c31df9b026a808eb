"""BatchNorm (batch and running statistics), LayerNorm, GroupNorm, InstanceNorm vs NumPy."""
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

rng = np.random.default_rng(2)


def test_batchnorm2d_training_and_running_stats():
    bn = nn.BatchNorm2d(3, momentum=0.2).double()
    with pt.no_grad():
        bn.weight.copy_(t64([1.0, 2.0, 0.5]))
        bn.bias.copy_(t64([0.0, -1.0, 3.0]))
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rng.standard_normal((4, 3, 2, 5)) * (step + 1) + step
        out = bn(t64(x)).detach().numpy()
        mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
        ref = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
        ref = ref * np.array([1.0, 2.0, 0.5])[:, None, None] + np.array([0.0, -1.0, 3.0])[:, None, None]
        np.testing.assert_allclose(out, ref, atol=1e-10)
        n = x.size // 3
        rm = 0.8 * rm + 0.2 * mean
        rv = 0.8 * rv + 0.2 * var * n / (n - 1)
        np.testing.assert_allclose(bn.running_mean.numpy(), rm, atol=1e-12)
        np.testing.assert_allclose(bn.running_var.numpy(), rv, atol=1e-12)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    x = rng.standard_normal((2, 3, 2, 2))
    ref = (x - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5) * np.array([1.0, 2.0, 0.5])[:, None, None] \
        + np.array([0.0, -1.0, 3.0])[:, None, None]
    np.testing.assert_allclose(bn(t64(x)).detach().numpy(), ref, atol=1e-10)


def test_batchnorm1d_cumulative_average_and_no_tracking():
    bn = nn.BatchNorm1d(2, momentum=None, affine=False).double()
    xs = [rng.standard_normal((5, 2)) for _ in range(3)]
    for x in xs:
        bn(t64(x))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([x.mean(0) for x in xs], 0), atol=1e-12)
    free = nn.BatchNorm1d(2, track_running_stats=False).double().eval()
    x = rng.standard_normal((6, 2, 3))
    ref = (x - x.mean((0, 2))[:, None]) / np.sqrt(x.var((0, 2))[:, None] + 1e-5)
    np.testing.assert_allclose(free(t64(x)).detach().numpy(), ref, atol=1e-10)
    assert free.running_mean is None and "running_mean" not in free.state_dict()


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(pt.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(pt.randn(2, 3, 4, 4))
    with pytest.raises(RuntimeError, match="expected input with 3 channels, got 4"):
        nn.BatchNorm2d(3)(pt.randn(2, 4, 2, 2))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size \[1, 3\]"):
        nn.BatchNorm1d(3)(pt.randn(1, 3))
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements not 3"):
        F.batch_norm(pt.randn(2, 4), pt.zeros(3), pt.ones(3))


@pytest.mark.parametrize("shape", [(0, 3), (2, 3, 0, 4)])
def test_batchnorm_training_on_an_empty_batch(shape):
    # no values per channel: the (empty) input passes through, the running statistics stay, the
    # batch still counts, and the affine parameters get zero gradients (it was a ValueError)
    bn = (nn.BatchNorm1d(3) if len(shape) == 2 else nn.BatchNorm2d(3)).double()
    with pt.no_grad():
        bn.running_mean.fill_(0.25)
        bn.running_var.fill_(2.0)
    x = t64(np.zeros(shape), True)
    out = bn(x)
    assert tuple(out.shape) == shape
    out.sum().backward()
    assert tuple(x.grad.shape) == shape
    np.testing.assert_array_equal(bn.weight.grad.numpy(), np.zeros(3))
    np.testing.assert_array_equal(bn.bias.grad.numpy(), np.zeros(3))
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.full(3, 0.25))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.full(3, 2.0))
    assert bn.num_batches_tracked.item() == 1


def test_layer_norm():
    x = rng.standard_normal((3, 4, 5))
    w, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    mean = x.mean((1, 2), keepdims=True)
    ref = (x - mean) / np.sqrt(x.var((1, 2), keepdims=True) + 1e-5) * w + b
    np.testing.assert_allclose(F.layer_norm(t64(x), (4, 5), t64(w), t64(b)).numpy(), ref, atol=1e-10)
    ln = nn.LayerNorm(5)
    assert np.all(ln.weight.detach().numpy() == 1) and np.all(ln.bias.detach().numpy() == 0)
    assert repr(ln) == "LayerNorm((5,), eps=1e-05, elementwise_affine=True, bias=True)"   # as torch 2.13
    assert nn.LayerNorm(5, bias=False).bias is None
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], "
                                           r"but got input of size\[2, 3\]"):
        F.layer_norm(pt.randn(2, 3), (4,))


def test_layer_norm_rejects_a_weight_or_bias_not_of_normalized_shape():
    # as PyTorch (these broadcast silently before)
    with pytest.raises(RuntimeError, match=r"Expected weight to be of same shape as normalized_shape, but got weight "
                                           r"of shape \[1\] and normalized_shape = \[3\]"):
        F.layer_norm(pt.randn(2, 3), (3,), pt.ones(1))
    with pytest.raises(RuntimeError, match=r"Expected bias to be of same shape as normalized_shape, but got bias of "
                                           r"shape \[2, 3\] and normalized_shape = \[3\]"):
        F.layer_norm(pt.randn(2, 3), (3,), None, pt.ones(2, 3))
    with pytest.raises(NotImplementedError, match="layer_norm"):
        F.layer_norm(pt.ones(2, 3, dtype=pt.int64), (3,))


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_kernel_and_gradients_match_numpy(dtype, tol, affine):
    # cpu's fused kernels (plugtorch/backends/cpu/norm_kernels.py) against the formulas in float64
    x = rng.standard_normal((3, 5, 4, 6)) * 3 + 2
    w, b, g = rng.standard_normal((4, 6)), rng.standard_normal((4, 6)), rng.standard_normal((3, 5, 4, 6))
    xc = x - x.mean((2, 3), keepdims=True)
    rstd = 1 / np.sqrt((xc * xc).mean((2, 3), keepdims=True) + 1e-5)
    xhat = xc * rstd
    gh = g * w if affine else g
    ref_gx = rstd * (gh - gh.mean((2, 3), keepdims=True) - xhat * (gh * xhat).mean((2, 3), keepdims=True))
    X = pt.from_numpy(x.astype(dtype)).requires_grad_()
    W, B = (pt.from_numpy(w.astype(dtype)).requires_grad_(), pt.from_numpy(b.astype(dtype)).requires_grad_()) \
        if affine else (None, None)
    y = F.layer_norm(X, (4, 6), W, B)
    np.testing.assert_allclose(y.detach().numpy(), xhat * w + b if affine else xhat, rtol=tol, atol=tol)
    y.backward(pt.from_numpy(g.astype(dtype)))
    np.testing.assert_allclose(X.grad.numpy(), ref_gx, rtol=tol, atol=tol)
    if affine:
        np.testing.assert_allclose(W.grad.numpy(), (g * xhat).sum((0, 1)), rtol=tol, atol=tol * 10)
        np.testing.assert_allclose(B.grad.numpy(), g.sum((0, 1)), rtol=tol, atol=tol * 10)
    # the op the formula runs, kernel and decomposition alike, masked
    from plugtorch.nn.functional.normalization import layer_norm_backward
    args = (pt.from_numpy(g.astype(dtype)), X.detach(), (4, 6), W if W is None else W.detach(), 1e-5)
    for mask in [(True, False, False), (False, True, True)] if affine else [(True, False, True)]:
        for got in (pt.ops._layer_norm_backward(*args, mask), layer_norm_backward(*args, mask)):
            assert [r is None for r in got] == [not m for m in mask]
            if mask[0]:
                np.testing.assert_allclose(got[0].numpy(), ref_gx, rtol=tol, atol=tol)
            if mask[2]:
                np.testing.assert_allclose(got[2].numpy(), g.sum((0, 1)), rtol=tol, atol=tol * 10)


def test_layer_norm_half_precision_and_empty_inputs():
    # float16 and bfloat16 are normalised in float32 and the result rounded once
    x = rng.standard_normal((4, 8)).astype(np.float32)
    xc = x - x.mean(-1, keepdims=True)
    ref = xc / np.sqrt((xc * xc).mean(-1, keepdims=True) + 1e-5)
    for dt in (pt.float16, pt.bfloat16):
        xh = pt.from_numpy(x).to(dt)
        xf = xh.float().numpy()
        xcf = xf - xf.mean(-1, keepdims=True)
        want = pt.from_numpy(xcf / np.sqrt((xcf * xcf).mean(-1, keepdims=True) + 1e-5)).to(dt)
        got = F.layer_norm(xh, (8,))
        assert got.dtype is dt
        np.testing.assert_allclose(got.float().numpy(), want.float().numpy(), atol=1e-2)
    assert np.abs(ref).max() < 4
    assert tuple(F.layer_norm(pt.ones(0, 3), (3,), pt.ones(3), pt.ones(3)).shape) == (0, 3)
    x0 = pt.ones(2, 0, requires_grad=True)
    F.layer_norm(x0, (0,)).sum().backward()
    assert tuple(x0.grad.shape) == (2, 0)


def test_group_norm_runs_layer_norm_per_group_and_takes_empty_inputs():
    # group_norm's decomposition normalises each group with the layer_norm op (its fused kernels)
    x = rng.standard_normal((3, 6, 4, 5))
    w, b, g = rng.standard_normal(6), rng.standard_normal(6), rng.standard_normal((3, 6, 4, 5))
    xg = x.reshape(3, 2, -1)
    xc = xg - xg.mean(-1, keepdims=True)
    rstd = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + 1e-5)
    xhat = (xc * rstd).reshape(x.shape)
    X, W, B = t64(x, True), t64(w, True), t64(b, True)
    y = F.group_norm(X, 2, W, B)
    np.testing.assert_allclose(y.detach().numpy(), xhat * w[:, None, None] + b[:, None, None], atol=1e-12)
    y.backward(t64(g))
    gh = (g * w[:, None, None]).reshape(3, 2, -1)
    xh = xhat.reshape(3, 2, -1)
    gx = rstd * (gh - gh.mean(-1, keepdims=True) - xh * (gh * xh).mean(-1, keepdims=True))
    np.testing.assert_allclose(X.grad.numpy(), gx.reshape(x.shape), atol=1e-10)
    np.testing.assert_allclose(W.grad.numpy(), (g * xhat).sum((0, 2, 3)), atol=1e-10)
    np.testing.assert_allclose(B.grad.numpy(), g.sum((0, 2, 3)), atol=1e-10)
    # a batch of 0 (this raised "shape '[0, 2, -1]' is invalid"), and no spatial positions
    assert tuple(F.group_norm(pt.randn(0, 4, 3), 2).shape) == (0, 4, 3)
    assert tuple(F.group_norm(pt.randn(2, 4, 0), 2).shape) == (2, 4, 0)


@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.bfloat16])
def test_group_norm_cpu_kernel_against_numpy_and_the_decomposition(dtype):
    # without grad, cpu runs one group_norm kernel (it was five ops and four reshapes: 68 us for
    # (4, 32, 8, 8), now 40): the float64 reference within the dtype's rounding, and the values of
    # the decomposition (which autograd records) bit for bit, for affine, weight only, bias only,
    # none, a float64 weight (promoted, cast back), a 2-d input and a transposed one
    from plugtorch.nn.functional.normalization import group_norm as decomposition
    tol = {pt.float32: 2e-6, pt.float64: 1e-13, pt.bfloat16: 2e-2}[dtype]
    for shape, groups in (((4, 32, 8, 8), 8), ((3, 6), 3), ((2, 4, 5), 1)):
        c = shape[1]
        x = pt.tensor(rng.standard_normal(shape) * 3 + 1, dtype=dtype)
        xv = x.double().numpy()
        xg = xv.reshape(shape[0], groups, -1)
        xhat = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + 1e-5)).reshape(shape)
        w, b = pt.tensor(rng.standard_normal(c), dtype=dtype), pt.tensor(rng.standard_normal(c), dtype=dtype)
        cs = (c,) + (1,) * (len(shape) - 2)
        wv, bv = w.double().numpy().reshape(cs), b.double().numpy().reshape(cs)
        for ww, bb, want in ((w, b, xhat * wv + bv), (w, None, xhat * wv), (None, b, xhat + bv), (None, None, xhat),
                             (w.double(), b.double(), xhat * wv + bv)):
            got = F.group_norm(x, groups, ww, bb)
            assert got.dtype is dtype and tuple(got.shape) == shape
            np.testing.assert_allclose(got.double().numpy(), want, rtol=tol, atol=tol * 4)
            ref = decomposition(x, groups, ww, bb)
            np.testing.assert_array_equal(got.double().numpy(), ref.double().numpy())
    xt = pt.tensor(rng.standard_normal((2, 4, 3, 5)), dtype=dtype).transpose(2, 3)
    np.testing.assert_array_equal(F.group_norm(xt, 2).double().numpy(), decomposition(xt, 2).double().numpy())


def test_group_norm_rejects_a_weight_or_bias_not_of_the_channels_and_integer_inputs():
    # (a (3,) weight for 4 channels raised reshape's "shape '[4, 1]' is invalid for input of size 3")
    with pytest.raises(RuntimeError, match=r"Expected weight to be a vector of size equal to the number of channels "
                                           r"in input, but got weight of shape \[3\] and input of shape \[2, 4, 3\]"):
        F.group_norm(pt.ones(2, 4, 3), 2, pt.ones(3))
    with pytest.raises(RuntimeError, match=r"Expected bias to be a vector .* got bias of shape \[4, 1\]"):
        F.group_norm(pt.ones(2, 4, 3), 2, None, pt.ones(4, 1))
    with pytest.raises(NotImplementedError, match=r"group_norm\(\): not implemented for dtype plugtorch.int64"):
        F.group_norm(pt.ones(2, 4, 3, dtype=pt.int64), 2)


def test_group_and_instance_norm():
    x = rng.standard_normal((2, 6, 3, 2))
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    g = x.reshape(2, 3, -1)
    ref = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    ref = ref * w[:, None, None] + b[:, None, None]
    np.testing.assert_allclose(F.group_norm(t64(x), 3, t64(w), t64(b)).numpy(), ref, atol=1e-10)
    with pytest.raises(RuntimeError, match="Expected number of channels in input to be divisible by num_groups"):
        F.group_norm(pt.randn(2, 5, 3), 2)
    inorm = nn.InstanceNorm2d(6).double()
    ref = (x - x.mean((2, 3), keepdims=True)) / np.sqrt(x.var((2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(inorm(t64(x)).detach().numpy(), ref, atol=1e-10)
    np.testing.assert_allclose(inorm(t64(x[0])).detach().numpy(), ref[0], atol=1e-10)
    tracked = nn.InstanceNorm2d(6, track_running_stats=True).double()
    tracked(t64(x))
    np.testing.assert_allclose(tracked.running_mean.numpy(), 0.1 * x.mean((0, 2, 3)), atol=1e-12)
    # momentum=None: PyTorch's instance norm passes momentum 0.0, so the running stats stay put (this
    # used 0.1: with num_batches_tracked never counted, no cumulative average was possible either)
    frozen = nn.InstanceNorm2d(6, track_running_stats=True, momentum=None).double()
    frozen(t64(x))
    np.testing.assert_array_equal(frozen.running_mean.numpy(), np.zeros(6))
    np.testing.assert_array_equal(frozen.running_var.numpy(), np.ones(6))
    # one spatial element: its own statistics make it 0 (PyTorch raises; this returned zeros)
    with pytest.raises(ValueError, match=r"instance_norm: Expected more than 1 spatial element when training, got "
                                         r"input size \[2, 6, 1, 1\]"):
        F.instance_norm(t64(x[..., :1, :1]))
    rm, rv = t64(rng.standard_normal(6)), t64(rng.random(6) + 0.5)   # running stats: any size works
    np.testing.assert_allclose(F.instance_norm(t64(x[..., :1, :1]), rm, rv, use_input_stats=False).numpy(),
                               (x[..., :1, :1] - rm.numpy()[:, None, None]) / np.sqrt(rv.numpy()[:, None, None] + 1e-5),
                               atol=1e-12)


def test_norm_gradcheck():
    x = t64(rng.standard_normal((3, 2, 2)), True)
    w, b = t64(rng.standard_normal(2), True), t64(rng.standard_normal(2), True)
    scalar_gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b)
    scalar_gradcheck(lambda x, w, b: F.layer_norm(x, (2,), w, b), x, w, b)
    scalar_gradcheck(lambda x, w, b: F.group_norm(x, 1, w, b), x, w, b)
    scalar_gradcheck(lambda x: F.instance_norm(x.unsqueeze(0)), x)


def test_layer_norm_second_derivative():
    x = t64(rng.standard_normal((2, 3)), True)
    w = t64(rng.standard_normal(3), True)
    assert pt.autograd.gradgradcheck(lambda x, w: F.layer_norm(x, (3,), w), (x, w))


def test_rms_norm():
    x, w = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4))

    def ref(x, w=None, eps=np.finfo(np.float64).eps, dims=(-2, -1)):
        y = x / np.sqrt((x * x).mean(dims, keepdims=True) + eps)
        return y if w is None else y * w
    np.testing.assert_allclose(F.rms_norm(t64(x), (3, 4), t64(w)).numpy(), ref(x, w), rtol=1e-12)
    np.testing.assert_allclose(F.rms_norm(t64(x), 4, eps=0.5).numpy(), ref(x, eps=0.5, dims=-1), rtol=1e-12)
    # eps=None: finfo(float32).eps for float32, and for float16 too (computed in float32, cast back)
    tiny = np.array([1e-5, 0.0])
    for dt in (pt.float32, pt.float16):
        y = F.rms_norm(pt.tensor(tiny, dtype=dt), (2,))
        assert y.dtype is dt
        np.testing.assert_allclose(y.float().numpy(), ref(tiny, eps=np.finfo(np.float32).eps, dims=-1),
                                   rtol=2e-3 if dt is pt.float16 else 1e-5)
    m = nn.RMSNorm([3, 4]).double()
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == [("weight", (3, 4))]
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.ones((3, 4)))
    m.load_state_dict({"weight": t64(w)})
    np.testing.assert_allclose(m(t64(x)).detach().numpy(), ref(x, w), rtol=1e-12)
    assert repr(m) == "RMSNorm((3, 4), eps=None, elementwise_affine=True)"
    assert repr(nn.RMSNorm(4, eps=1e-3, elementwise_affine=False)) == "RMSNorm((4,), eps=0.001, elementwise_affine=False)"
    assert nn.RMSNorm(4, elementwise_affine=False).weight is None
    scalar_gradcheck(lambda x, w: F.rms_norm(x, (4,), w, eps=1e-3), t64(rng.standard_normal((3, 4)), True),
                     t64(rng.standard_normal(4), True))
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], "
                                           r"but got input of size\[2, 3\]"):
        F.rms_norm(pt.randn(2, 3), [4])
    with pytest.raises(RuntimeError, match=r"Expected weight to be of same shape as normalized_shape, but got "
                                           r"weight of shape \[4\] and normalized_shape = \[3\]"):
        F.rms_norm(pt.randn(2, 3), [3], pt.ones(4))
    with pytest.raises(NotImplementedError, match=r"rms_norm\(\): not implemented for dtype plugtorch.int64"):
        F.rms_norm(pt.arange(3), [3])
    with pytest.raises(RuntimeError, match="Expected normalized_shape to be at least 1-dimensional"):
        F.rms_norm(pt.randn(2, 3), [])


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_formula_against_finite_differences(affine):
    """Training batch_norm is differentiated by its own formula (dx = w rstd (g - mean(g) -
    xhat mean(g xhat)), dw = sum(g xhat), db = sum(g)): first and second derivatives against
    central finite differences in float64, with running statistics being updated."""
    rng = np.random.default_rng(4)
    x = pt.tensor(rng.standard_normal((2, 3, 2, 3)) * 2 + 1, requires_grad=True)
    w = pt.tensor(rng.standard_normal(3), requires_grad=True) if affine else None
    b = pt.tensor(rng.standard_normal(3), requires_grad=True) if affine else None
    rm, rv = pt.zeros(3, dtype=pt.float64), pt.ones(3, dtype=pt.float64)

    def f(x, *wb):
        return F.batch_norm(x, rm, rv, *wb, training=True, momentum=0.1)
    inputs = (x, w, b) if affine else (x,)
    assert pt.autograd.gradcheck(f, inputs)
    assert pt.autograd.gradgradcheck(f, inputs)
    # the running statistics still move by momentum * (batch mean, unbiased batch var)
    rm.zero_(), rv.fill_(1.0)
    f(x.detach(), *((w.detach(), b.detach()) if affine else ()))
    xs = x.detach().numpy().transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(rm.numpy(), 0.1 * xs.mean(1), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * xs.var(1, ddof=1), rtol=1e-12)
