"""BatchNorm3d, InstanceNorm1d/3d, LocalResponseNorm, Hardshrink/Softshrink, RReLU, Softmax2d,
Dropout1d/3d, FeatureAlphaDropout, pdist, gumbel_softmax and the in-place functional activations,
against NumPy references."""
import warnings

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
rng = np.random.default_rng(0)


def normalize_np(x, axes, eps=1e-5):
    m = x.mean(axes, keepdims=True)
    return (x - m) / np.sqrt(x.var(axes, keepdims=True) + eps)


@pytest.mark.parametrize("device", DEVICES)
def test_batch_norm3d_and_instance_norms(device):
    x = rng.standard_normal((3, 2, 2, 3, 2))
    bn = nn.BatchNorm3d(2).to(device)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    out = bn(pt.tensor(x.astype(np.float32), device=device))
    np.testing.assert_allclose(out.detach().cpu().numpy(), normalize_np(x, (0, 2, 3, 4)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.running_mean.cpu().numpy(), 0.1 * x.mean((0, 2, 3, 4)), rtol=1e-4, atol=1e-6)
    in3 = nn.InstanceNorm3d(2, affine=True).to(device)
    assert tuple(in3.weight.shape) == (2,) and in3.running_mean is None
    np.testing.assert_allclose(in3(pt.tensor(x.astype(np.float32), device=device)).detach().cpu().numpy(),
                               normalize_np(x, (2, 3, 4)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(in3(pt.tensor(x[0].astype(np.float32), device=device)).detach().cpu().numpy(),
                               normalize_np(x[0], (1, 2, 3)), rtol=1e-4, atol=1e-4)       # unbatched
    y = x[:, :, 0, 0]                                                                      # (3, 2, 2)
    in1 = nn.InstanceNorm1d(2, track_running_stats=True).to(device)
    np.testing.assert_allclose(in1(pt.tensor(y.astype(np.float32), device=device)).cpu().numpy(),
                               normalize_np(y, (2,)), rtol=1e-4, atol=1e-4)
    assert list(in1.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    assert repr(nn.InstanceNorm1d(3)) == ("InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, "
                                          "track_running_stats=False)")


def test_norm_input_errors():
    with pytest.raises(ValueError, match=r"expected 5D input \(got 4D input\)"):
        nn.BatchNorm3d(2)(pt.ones(2, 2, 3, 3))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.InstanceNorm1d(2)(pt.ones(2, 2, 3, 3))
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features \(3\), but got: 4"):
        nn.InstanceNorm1d(3, affine=True)(pt.ones(2, 4, 5))
    with pytest.raises(ValueError, match=r"expected 4D or 5D input \(got 3D input\)"):
        nn.InstanceNorm3d(2)(pt.ones(2, 3, 3))
    with pytest.raises(ValueError, match=r"Expected 3D or higher dimensionality input \(got 2 dimensions\)"):
        F.local_response_norm(pt.ones(2, 3), 2)


def lrn_ref(x, size, alpha, beta, k):
    c = x.shape[1]
    out = np.empty_like(x)
    for ci in range(c):
        lo, hi = ci - size // 2, ci + (size - 1) // 2
        window = x[:, max(lo, 0):min(hi, c - 1) + 1]
        out[:, ci] = x[:, ci] / (k + alpha / size * (window ** 2).sum(1)) ** beta
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_local_response_norm(device):
    for shape, size in (((2, 5, 3), 3), ((1, 6, 2, 2, 3), 4)):
        x = rng.standard_normal(shape)
        out = nn.LocalResponseNorm(size, alpha=0.5, beta=0.8, k=1.5)(pt.tensor(x.astype(np.float32), device=device))
        np.testing.assert_allclose(out.cpu().numpy(), lrn_ref(x, size, 0.5, 0.8, 1.5), rtol=1e-5, atol=1e-6)
    assert repr(nn.LocalResponseNorm(3)) == "LocalResponseNorm(3, alpha=0.0001, beta=0.75, k=1.0)"
    scalar_gradcheck(lambda x: F.local_response_norm(x, 2, 0.5, 0.7, 1.0), t64(rng.standard_normal((1, 3, 4)), True))


@pytest.mark.parametrize("device", DEVICES)
def test_shrinks_softmax2d_and_rrelu_eval(device):
    x = np.array([-2.0, -0.5, -0.3, 0.0, 0.4, 0.5, 0.7], np.float32)
    xt = pt.tensor(x, device=device)
    np.testing.assert_array_equal(nn.Hardshrink()(xt).cpu().numpy(), np.where(np.abs(x) > 0.5, x, 0))
    np.testing.assert_allclose(nn.Softshrink(0.3)(xt).cpu().numpy(),
                               np.where(x > 0.3, x - 0.3, np.where(x < -0.3, x + 0.3, 0)), rtol=1e-6)
    np.testing.assert_allclose(F.rrelu(xt, 0.1, 0.3).cpu().numpy(), np.where(x >= 0, x, 0.2 * x), rtol=1e-6)
    y = rng.standard_normal((2, 3, 2, 2)).astype(np.float32)
    e = np.exp(y - y.max(1, keepdims=True))
    np.testing.assert_allclose(nn.Softmax2d()(pt.tensor(y, device=device)).cpu().numpy(), e / e.sum(1, keepdims=True),
                               rtol=1e-5)
    e0 = np.exp(y[0]) / np.exp(y[0]).sum(0)
    np.testing.assert_allclose(nn.Softmax2d()(pt.tensor(y[0], device=device)).cpu().numpy(), e0, rtol=1e-5)


def test_activation_gradients_reprs_and_errors():
    x = t64([-2.0, -0.7, 0.2, 0.9, 1.6], True)
    scalar_gradcheck(lambda x: F.hardshrink(x, 0.5), x)
    scalar_gradcheck(lambda x: F.softshrink(x, 0.5), x)
    assert repr(nn.Hardshrink()) == "Hardshrink(0.5)" and repr(nn.Softshrink(0.3)) == "Softshrink(0.3)"
    assert repr(nn.RReLU()) == "RReLU(lower=0.125, upper=0.3333333333333333)"
    assert repr(nn.RReLU(0.1, 0.2, True)) == "RReLU(lower=0.1, upper=0.2, inplace=True)"
    with pytest.raises(RuntimeError, match="lambda must be in range"):
        F.softshrink(pt.ones(3), -1)
    with pytest.raises(NotImplementedError, match="hardshrink"):
        F.hardshrink(pt.tensor([-1, 0, 1]))
    with pytest.raises(RuntimeError, match="Lower bound should be less than or equal to the upper bound"):
        F.rrelu(pt.ones(3), 0.5, 0.2)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(pt.ones(2, 3))


def test_rrelu_training_draws_slopes():
    x = pt.tensor(-np.linspace(0.5, 2.0, 4000), requires_grad=True)
    m = nn.RReLU(0.1, 0.3)
    out = m(x)
    slopes = (out / x).detach().numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert abs(slopes.mean() - 0.2) < 0.01 and slopes.std() > 0.05          # U(0.1, 0.3): std 0.058
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes)                      # the drawn slope is the gradient
    assert m(pt.tensor([1.0, 2.0])).tolist() == [1.0, 2.0]
    m.eval()
    assert m(pt.tensor([-1.0])).tolist() == [pytest.approx(-0.2)]


@pytest.mark.parametrize("training", [False, True])
def test_rrelu_gradient_at_zero_is_the_slope_as_leaky_relus(training):
    # rrelu is leaky_relu with slope (lower + upper) / 2 in eval: x > 0 takes the identity, x <= 0 the
    # slope, so d/dx at 0 is the slope (it used to be 1); in training the drawn slope, in [lower, upper]
    x = pt.tensor([-1.0, 0.0, 1.0], dtype=pt.float64, requires_grad=True)
    F.rrelu(x, 0.1, 0.3, training=training).sum().backward()
    g = x.grad.numpy()
    assert g[2] == 1.0 and 0.1 <= g[0] <= 0.3 and 0.1 <= g[1] <= 0.3
    if not training:
        np.testing.assert_allclose(g, [0.2, 0.2, 1.0])


def test_inplace_functional_variants():
    x0 = np.array([-1.5, -0.2, 0.0, 0.3, 2.0])
    for name, args in (("elu", (0.7,)), ("celu", (1.3,)), ("selu", ()), ("leaky_relu", (0.2,)),
                       ("hardtanh", (-0.5, 1.0)), ("threshold", (0.1, -3.0))):
        x = pt.tensor(x0)
        expected = getattr(F, name)(pt.tensor(x0), *args).numpy()
        result = getattr(F, name + "_")(x, *args)
        assert result is x, name
        np.testing.assert_allclose(x.numpy(), expected, err_msg=name)
    x = pt.tensor(x0)
    assert F.rrelu_(x, 0.1, 0.3) is x
    np.testing.assert_allclose(x.numpy(), np.where(x0 >= 0, x0, 0.2 * x0))


def channel_pattern(out, x):
    """For each (n, c) channel: True if dropped (all zero), False if kept (all x * 2)."""
    flat_o, flat_x = out.reshape(out.shape[0], out.shape[1], -1), x.reshape(x.shape[0], x.shape[1], -1)
    dropped = (flat_o == 0).all(-1)
    kept = np.isclose(flat_o, 2 * flat_x).all(-1)
    assert (dropped ^ kept).all()
    return dropped


def test_channel_dropouts():
    x = rng.uniform(1, 2, size=(40, 8, 3)).astype(np.float32)
    dropped = channel_pattern(F.dropout1d(pt.tensor(x), 0.5).numpy(), x)
    assert 0.35 < dropped.mean() < 0.65
    unb = nn.Dropout1d(0.5)(pt.tensor(x[0])).numpy()
    channel_pattern(unb[None], x[0][None])
    x3 = rng.uniform(1, 2, size=(20, 6, 2, 2, 2)).astype(np.float32)
    channel_pattern(nn.Dropout3d()(pt.tensor(x3)).numpy(), x3)
    assert nn.Dropout3d().eval()(pt.tensor(x3)).numpy() is not None
    np.testing.assert_array_equal(nn.Dropout1d().eval()(pt.tensor(x)).numpy(), x)
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        F.dropout1d(pt.ones(2, 3, 4, 5))
    with pytest.warns(UserWarning, match="dropout3d: Received a 3-D input to dropout3d"):
        F.dropout3d(pt.ones(2, 3, 4))
    assert repr(nn.Dropout1d()) == "Dropout1d(p=0.5, inplace=False)"


def test_feature_alpha_dropout():
    x = rng.uniform(-1, 1, size=(200, 10, 4)).astype(np.float32)
    p, alpha = 0.3, 1.7580993408473766
    a = 1 / np.sqrt((alpha ** 2 * p + 1) * (1 - p))
    out = nn.FeatureAlphaDropout(p)(pt.tensor(x)).numpy()
    dropped = np.isclose(out, a * alpha * (p - 1), atol=1e-6).all(-1)
    kept = np.isclose(out, x * a + alpha * a * p, atol=1e-6).all(-1)
    assert (dropped ^ kept).all() and 0.25 < dropped.mean() < 0.35
    np.testing.assert_array_equal(nn.FeatureAlphaDropout(p).eval()(pt.tensor(x)).numpy(), x)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.feature_alpha_dropout(pt.ones(2, 3), 1.5, True)


def test_alpha_dropout_with_p_one_gives_zeros():
    # everything dropped: input * 0, as PyTorch (the affine correction ((1-p)(1+p alpha^2))^-0.5
    # raised ZeroDivisionError)
    x = pt.tensor([-1.5, 0.5, 2.0])
    for fn in (F.alpha_dropout, lambda x, p, training: F.feature_alpha_dropout(x.reshape(1, 3, 1), p, training)):
        out = fn(x, 1.0, training=True)
        assert out.flatten().tolist() == [0.0, 0.0, 0.0]
    y = x.clone()
    assert F.alpha_dropout(y, 1.0, training=True, inplace=True) is y and y.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("device", DEVICES)
def test_pdist(device):
    x = rng.standard_normal((5, 3))
    for p in (2.0, 1.0, 3.0, float("inf")):
        ref = [np.linalg.norm(x[i] - x[j], p) for i in range(5) for j in range(i + 1, 5)]
        out = F.pdist(pt.tensor(x.astype(np.float32), device=device), p)
        np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-5)
    assert tuple(F.pdist(pt.ones(1, 3)).shape) == (0,)
    scalar_gradcheck(lambda x: F.pdist(x), t64(x, True))
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 3D"):
        F.pdist(pt.ones(2, 3, 4))
    with pytest.raises(RuntimeError, match="pdist only supports non-negative p values"):
        F.pdist(pt.ones(3, 4), -1)


def test_gumbel_softmax():
    logits = pt.tensor(np.log([[0.6, 0.3, 0.1]] * 4000), requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.detach().numpy().sum(-1), 1.0, rtol=1e-12)
    hard = F.gumbel_softmax(logits, hard=True)
    h = hard.detach().numpy()
    assert set(np.unique(h)) == {0.0, 1.0} and (h.sum(-1) == 1).all()
    np.testing.assert_allclose(h.mean(0), [0.6, 0.3, 0.1], atol=0.03)     # Gumbel-max samples the softmax
    w = pt.tensor(rng.standard_normal((4000, 3)))
    (hard * w).sum().backward()                                           # straight-through: soft's gradient
    assert np.isfinite(logits.grad.numpy()).all() and np.abs(logits.grad.numpy()).sum() > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tuple(F.gumbel_softmax(pt.zeros(2, 3, 4), dim=1).shape) == (2, 3, 4)


def cross_map_lrn_ref(x, size, alpha, beta, k):
    """PyTorch's CrossMapLRN2d as its running window computes it: channel 0 never leaves the sum."""
    c = x.shape[1]
    p = int((size - 1) / 2 + 1)
    out = np.empty_like(x)
    for ci in range(c):
        hi = min(ci + p - 1, c - 1)
        chans = [j for j in range(hi + 1) if not 1 <= j <= ci - p]
        out[:, ci] = x[:, ci] * (k + alpha / size * (x[:, chans] ** 2).sum(1)) ** -beta
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_cross_map_lrn2d(device):
    x = rng.standard_normal((2, 7, 3, 3))
    for size in (1, 2, 3, 5):
        out = nn.CrossMapLRN2d(size, 0.5, 0.8, 1.5)(pt.tensor(x.astype(np.float32), device=device))
        np.testing.assert_allclose(out.cpu().numpy(), cross_map_lrn_ref(x, size, 0.5, 0.8, 1.5), rtol=1e-5, atol=1e-6)
    assert repr(nn.CrossMapLRN2d(3)) == "CrossMapLRN2d(3, alpha=0.0001, beta=0.75, k=1)"
    scalar_gradcheck(nn.CrossMapLRN2d(3, 0.5, 0.7, 1.0), t64(rng.standard_normal((1, 6, 2, 2)), True))
    with pytest.raises(ValueError, match="CrossMapLRN2d: Expected input to be 4D, got 3D instead."):
        nn.CrossMapLRN2d(3)(pt.ones(2, 3, 4))


def test_norm_bias_flag_as_torch_2_13():
    # torch 2.13's norm layers take bias=False (a weight without a bias) and print it
    bn = nn.BatchNorm2d(3, bias=False)
    assert bn.bias is None and list(bn.state_dict()) == ["weight", "running_mean", "running_var",
                                                         "num_batches_tracked"]
    assert repr(bn) == "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=False, track_running_stats=True)"
    x = pt.randn(4, 3, 2, 2)
    np.testing.assert_allclose(bn(x).detach().numpy(), nn.BatchNorm2d(3, affine=False)(x).numpy(), rtol=1e-6)
    assert nn.InstanceNorm3d(2, affine=True, bias=False).bias is None
    lazy = nn.LazyInstanceNorm2d()                     # PyTorch's lazy instance norms: affine, tracking
    assert lazy.affine and lazy.track_running_stats
    lazy(pt.randn(2, 3, 2, 2))
    assert tuple(lazy.weight.shape) == (3,) and tuple(lazy.running_mean.shape) == (3,)


def test_group_norm_bias_and_reprs_as_torch_2_13():
    gn = nn.GroupNorm(2, 4, bias=False)
    assert gn.bias is None and list(gn.state_dict()) == ["weight"]
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=False)"
    x = pt.randn(2, 4, 3)
    np.testing.assert_allclose(gn(x).detach().numpy(), nn.GroupNorm(2, 4, affine=False)(x).numpy(), rtol=1e-6)
    assert repr(nn.LayerNorm(3, bias=False)) == "LayerNorm((3,), eps=1e-05, elementwise_affine=True, bias=False)"
    assert repr(nn.AvgPool1d(3, 2, 1)) == "AvgPool1d(kernel_size=(3,), stride=(2,), padding=(1,))"
    assert tuple(nn.AvgPool1d(3, 2, 1)(pt.ones(1, 2, 7)).shape) == (1, 2, 4)
