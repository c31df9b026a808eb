"""nn.utils.fusion (conv/linear + BatchNorm folded, eval mode) and nn.utils.skip_init."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn
from plugtorch.nn.utils import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, skip_init


def trained_bn(bn, channels):
    rs = np.random.RandomState(channels)
    with pt.no_grad():
        bn.running_mean.copy_(pt.tensor(rs.randn(channels)))
        bn.running_var.copy_(pt.tensor(rs.rand(channels) + 0.5))
        if bn.weight is not None:
            bn.weight.copy_(pt.tensor(rs.randn(channels)))
            bn.bias.copy_(pt.tensor(rs.randn(channels)))
    return bn.eval()


@pytest.mark.parametrize("conv_cls, bn_cls, transpose, x_shape", [
    (nn.Conv1d, nn.BatchNorm1d, False, (2, 3, 7)),
    (nn.Conv2d, nn.BatchNorm2d, False, (2, 3, 6, 5)),
    (nn.ConvTranspose2d, nn.BatchNorm2d, True, (2, 3, 4, 4)),
])
def test_fuse_conv_bn_eval(conv_cls, bn_cls, transpose, x_shape):
    pt.manual_seed(0)
    conv = conv_cls(3, 4, 3).double().eval()
    bn = trained_bn(bn_cls(4).double(), 4)
    x = pt.randn(*x_shape, dtype=pt.float64)
    fused = fuse_conv_bn_eval(conv, bn, transpose=transpose)
    assert fused is not conv and isinstance(fused.weight, nn.Parameter)
    np.testing.assert_allclose(fused(x).detach().numpy(), bn(conv(x)).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_fuse_without_bias_or_affine():
    conv = nn.Conv2d(2, 3, 1, bias=False).double().eval()
    bn = trained_bn(nn.BatchNorm2d(3, affine=False).double(), 3)
    x = pt.randn(1, 2, 3, 3, dtype=pt.float64)
    np.testing.assert_allclose(fuse_conv_bn_eval(conv, bn)(x).detach().numpy(), bn(conv(x)).detach().numpy(),
                               atol=1e-12)
    w, b = fuse_conv_bn_weights(conv.weight, None, bn.running_mean, bn.running_var, bn.eps, None, None)
    scale = 1 / np.sqrt(bn.running_var.numpy() + bn.eps)
    np.testing.assert_allclose(w.detach().numpy(), conv.weight.detach().numpy() * scale[:, None, None, None])
    np.testing.assert_allclose(b.detach().numpy(), -bn.running_mean.numpy() * scale)


def test_fuse_linear_bn_eval_and_errors():
    lin = nn.Linear(3, 4).double().eval()
    bn = trained_bn(nn.BatchNorm1d(4).double(), 4)
    x = pt.randn(5, 3, dtype=pt.float64)
    np.testing.assert_allclose(fuse_linear_bn_eval(lin, bn)(x).detach().numpy(), bn(lin(x)).detach().numpy(),
                               atol=1e-12)
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        fuse_linear_bn_eval(lin.train(), bn)
    with pytest.raises(AssertionError, match="To fuse, linear.out_features == bn.num_features or bn.num_features == 1, "
                                             "got linear.out_features=4 and bn.num_features=3"):
        fuse_linear_bn_eval(lin.eval(), nn.BatchNorm1d(3).eval())
    with pytest.raises(AssertionError, match="bn.running_mean and bn.running_var must not be None"):
        fuse_conv_bn_eval(nn.Conv1d(1, 2, 1).eval(), nn.BatchNorm1d(2, track_running_stats=False).eval())


def test_skip_init():
    pt.manual_seed(0)
    expected = pt.rand(3)
    pt.manual_seed(0)
    m = skip_init(nn.Linear, 3, 4, bias=True, dtype=pt.float64)
    assert tuple(m.weight.shape) == (4, 3) and m.weight.dtype == pt.float64 and m.weight.requires_grad
    np.testing.assert_array_equal(pt.rand(3).numpy(), expected.numpy())      # no random numbers drawn
    bn = skip_init(nn.BatchNorm1d, 2, device="cpu")
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert pt.ones(2).add_(1).tolist() == [2.0, 2.0]                            # the mode is gone afterwards
    with pytest.raises(RuntimeError, match="Expected a Module; got"):
        skip_init(int)

    class NoDevice(nn.Module):
        def __init__(self, n):
            super().__init__()
    with pytest.raises(RuntimeError, match="Module must support a 'device' arg to skip initialization"):
        skip_init(NoDevice, 3)
