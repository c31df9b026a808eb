"""LazyLinear and LazyConv*/LazyConvTranspose*: UninitializedParameter weights materialized by the
first input (or a loaded state dict), then the layer becomes its eager class."""
import copy

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn
from plugtorch.nn.parameter import UninitializedParameter


def test_lazy_linear_materializes_on_first_call():
    m = nn.LazyLinear(3)
    assert isinstance(m.weight, UninitializedParameter) and m.has_uninitialized_params()
    assert repr(m) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    assert repr(m.weight) == "<UninitializedParameter>"
    opt = pt.optim.SGD(m.parameters(), lr=0.1)          # made before the shapes are known
    x = pt.randn(4, 5)
    out = m(x)
    assert type(m) is nn.Linear and type(m.weight) is nn.Parameter
    assert repr(m) == "Linear(in_features=5, out_features=3, bias=True)"
    assert tuple(m.weight.shape) == (3, 5) and tuple(m.bias.shape) == (3,)
    bound = 1 / np.sqrt(5)
    assert np.abs(m.weight.detach().numpy()).max() <= bound and m.weight.detach().numpy().std() > 0
    np.testing.assert_allclose(out.detach().numpy(), F.linear(x, m.weight, m.bias).detach().numpy())
    before = m.weight.detach().numpy().copy()
    out.sum().backward()
    opt.step()                                           # the optimizer holds the same objects
    assert not np.allclose(m.weight.detach().numpy(), before)
    assert not m._forward_pre_hooks


CONVS = [(nn.LazyConv1d, nn.Conv1d, (2, 4, 9), dict(stride=2, padding=1, groups=2)),
         (nn.LazyConv2d, nn.Conv2d, (2, 4, 6, 5), dict(padding="same", dilation=2)),
         (nn.LazyConv3d, nn.Conv3d, (1, 2, 4, 4, 3), dict(padding=1, padding_mode="reflect")),
         (nn.LazyConvTranspose1d, nn.ConvTranspose1d, (2, 4, 5), dict(stride=2, output_padding=1, groups=2)),
         (nn.LazyConvTranspose2d, nn.ConvTranspose2d, (1, 2, 3, 4), dict(stride=2, padding=1)),
         (nn.LazyConvTranspose3d, nn.ConvTranspose3d, (1, 2, 2, 3, 2), dict(stride=(2, 1, 1)))]


@pytest.mark.parametrize("case", range(len(CONVS)))
def test_lazy_convs(case):
    lazy_cls, eager_cls, shape, kw = CONVS[case]
    m = lazy_cls(6, 3, **kw)
    assert m.in_channels == 0 and m.has_uninitialized_params()
    x = pt.randn(*shape)
    out = m(x)
    assert type(m) is eager_cls and m.in_channels == shape[1]
    ref = eager_cls(shape[1], 6, 3, **kw)
    assert tuple(ref.weight.shape) == tuple(m.weight.shape) and tuple(ref.bias.shape) == tuple(m.bias.shape)
    assert repr(ref) == repr(m)
    ref.load_state_dict(m.state_dict())
    np.testing.assert_allclose(out.detach().numpy(), ref(x).detach().numpy(), rtol=1e-6, atol=1e-6)
    bound = 1 / np.sqrt(m.weight.shape[1] * int(np.prod(m.kernel_size)))
    assert np.abs(m.weight.detach().numpy()).max() <= bound


def test_unbatched_input_and_no_bias():
    m = nn.LazyConv2d(4, 3, bias=False)
    assert tuple(m(pt.randn(3, 5, 5)).shape) == (4, 3, 3)
    assert m.bias is None and tuple(m.weight.shape) == (4, 3, 3, 3)


def test_load_state_dict_materializes_nested_lazy_layers():
    src = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(16, 2))
    dst = nn.Sequential(nn.LazyConv2d(4, 3), nn.Flatten(), nn.LazyLinear(2))
    dst.load_state_dict(src.state_dict())
    assert dst[0].in_channels == 3 and dst[2].in_features == 16
    x = pt.randn(2, 3, 4, 4)
    np.testing.assert_array_equal(dst(x).detach().numpy(), src(x).detach().numpy())
    assert type(dst[0]) is nn.Conv2d and type(dst[2]) is nn.Linear


def test_dtype_device_and_copy_before_first_call():
    m = nn.LazyLinear(2).double()
    c = copy.deepcopy(m)
    assert isinstance(c.weight, UninitializedParameter)
    m(pt.ones(1, 3, dtype=pt.float64))
    assert m.weight.dtype is pt.float64
    c(pt.ones(1, 4, dtype=pt.float64))
    assert tuple(c.weight.shape) == (2, 4) and tuple(m.weight.shape) == (2, 3)
    if pt.opencl.is_available():
        d = nn.LazyConv1d(2, 2).to("opencl")
        out = d(pt.ones(1, 3, 4, device="opencl"))
        assert d.weight.device.type == "opencl" and out.device.type == "opencl"


def test_bad_first_inputs():
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d, "
                                           r"but got input of size: \[5, 5\]"):
        nn.LazyConv2d(4, 3)(pt.ones(5, 5))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv1d(4, 3, groups=2)(pt.ones(1, 3, 5))


NORMS = [(nn.LazyBatchNorm1d, nn.BatchNorm1d, (4, 3, 5), {}),
         (nn.LazyBatchNorm2d, nn.BatchNorm2d, (2, 3, 4, 4), dict(momentum=None)),
         (nn.LazyBatchNorm3d, nn.BatchNorm3d, (2, 3, 2, 2, 3), dict(affine=False)),
         (nn.LazyInstanceNorm1d, nn.InstanceNorm1d, (3, 6), dict(affine=True, track_running_stats=False)),  # unbatched
         (nn.LazyInstanceNorm2d, nn.InstanceNorm2d, (2, 3, 4, 4), dict(affine=False, track_running_stats=True)),
         (nn.LazyInstanceNorm3d, nn.InstanceNorm3d, (2, 3, 2, 2, 3), dict(affine=True, track_running_stats=True))]


@pytest.mark.parametrize("case", range(len(NORMS)))
def test_lazy_norms(case):
    lazy_cls, eager_cls, shape, kw = NORMS[case]
    m = lazy_cls(**kw)
    ref = eager_cls(3, **kw)
    assert list(m.state_dict()) == list(ref.state_dict())
    if m.running_mean is not None:
        assert repr(m.running_mean) == "<UninitializedBuffer>"
    x = pt.randn(*shape)
    out = m(x)
    assert type(m) is eager_cls and m.num_features == 3 and repr(m) == repr(ref)
    np.testing.assert_allclose(out.detach().numpy(), ref(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    for (name, a), b in zip(m.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7, err_msg=name)


def test_lazy_norm_dtype_and_state_dict():
    m = nn.LazyBatchNorm2d().double()
    assert repr(m.running_var) == "<UninitializedBuffer>"
    m(pt.randn(2, 4, 3, 3, dtype=pt.float64))
    assert m.running_var.dtype is pt.float64 and tuple(m.running_var.shape) == (4,)
    src = nn.BatchNorm1d(5)
    src(pt.randn(8, 5))
    dst = nn.LazyBatchNorm1d()
    dst.load_state_dict(src.state_dict())
    assert dst.num_features == 5 and int(dst.num_batches_tracked) == 1
    np.testing.assert_array_equal(dst.running_mean.numpy(), src.running_mean.numpy())
