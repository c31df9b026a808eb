"""The padding layers (ZeroPad/ConstantPad/ReflectionPad/ReplicationPad/CircularPad 1d-3d) against np.pad."""
import re

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}
LAYERS = {"reflect": (nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d),
          "replicate": (nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d),
          "circular": (nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d)}
PADS = {1: (2, 1), 2: (1, 2, 0, 1), 3: (1, 0, 2, 1, 1, 1)}


def np_pad_width(x_ndim, pads):
    """F.pad's (last-dim first) list as np.pad's per-dim pairs."""
    width = [(0, 0)] * x_ndim
    for k in range(len(pads) // 2):
        width[x_ndim - 1 - k] = (pads[2 * k], pads[2 * k + 1])
    return width


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", sorted(LAYERS))
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("batched", [True, False])
def test_matches_np_pad(mode, nd, batched, device):
    shape = (2, 3) + (4, 3, 3)[:nd] if batched else (3,) + (4, 3, 3)[:nd]
    x = np.random.default_rng(nd).standard_normal(shape).astype(np.float32)
    out = LAYERS[mode][nd - 1](PADS[nd])(pt.tensor(x, device=device))
    ref = np.pad(x, np_pad_width(x.ndim, PADS[nd]), mode=NP_MODE[mode])
    assert out.device.type == device
    np.testing.assert_array_equal(out.cpu().numpy(), ref)


@pytest.mark.parametrize("device", DEVICES)
def test_constant_and_zero_pads(device):
    x = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    xt = pt.tensor(x, device=device)
    np.testing.assert_array_equal(nn.ConstantPad2d((1, 0, 2, 1), -1.5)(xt).cpu().numpy(),
                                  np.pad(x, np_pad_width(4, (1, 0, 2, 1)), constant_values=-1.5))
    np.testing.assert_array_equal(nn.ZeroPad3d(1)(xt).cpu().numpy(), np.pad(x, [(0, 0), (1, 1), (1, 1), (1, 1)]))
    np.testing.assert_array_equal(nn.ConstantPad1d(2, 7)(xt).cpu().numpy(),
                                  np.pad(x, np_pad_width(4, (2, 2)), constant_values=7))
    # negative padding crops, as PyTorch's
    np.testing.assert_array_equal(nn.ZeroPad2d((-1, 1, 0, -1))(xt).cpu().numpy(),
                                  np.pad(x[:, :, :-1, 1:], np_pad_width(4, (0, 1, 0, 0))))


def test_int_padding_repr_and_no_state():
    assert nn.ReflectionPad2d(2).padding == (2, 2, 2, 2)
    assert nn.CircularPad3d(1).padding == (1,) * 6
    assert repr(nn.ZeroPad2d((1, 2, 3, 4))) == "ZeroPad2d((1, 2, 3, 4))"
    assert repr(nn.ConstantPad1d(3, 2.5)) == "ConstantPad1d(padding=(3, 3), value=2.5)"
    assert repr(nn.ReplicationPad1d((0, 2))) == "ReplicationPad1d((0, 2))"
    assert nn.ReflectionPad3d(1).state_dict() == {}


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_gradients(mode):
    x = t64(np.random.default_rng(1).standard_normal((1, 2, 3, 3)), rg=True)
    scalar_gradcheck(LAYERS[mode][1]((1, 2, 2, 1)), x)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.CircularPad1d(1)(pt.ones(1, 1, 2, 3))
    with pytest.raises(NotImplementedError, match="Padding size 4 is not supported for 2D input tensor"):
        nn.ReflectionPad2d(1)(pt.ones(3, 3))
    with pytest.raises(NotImplementedError, match="Padding size 6 is not supported for 6D input tensor"):
        nn.ReplicationPad3d(1)(pt.ones(1, 1, 1, 2, 2, 2))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        nn.ReflectionPad1d(3)(pt.ones(1, 3))
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        nn.CircularPad1d(4)(pt.ones(1, 3))
    # F.pad itself: the non-constant modes pad 1-3 trailing dims of an input with 1 or 2 more
    for mode in ("reflect", "replicate", "circular"):
        with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 1D input tensor"):
            pt.nn.functional.pad(pt.ones(4), (1, 1), mode)
        with pytest.raises(NotImplementedError, match="Padding size 8 is not supported for 6D input tensor"):
            pt.nn.functional.pad(pt.ones(1, 1, 2, 2, 2, 2), (1,) * 8, mode)
    assert tuple(pt.nn.functional.pad(pt.ones(1, 1, 2, 2, 2, 2), (1,) * 8).shape) == (1, 1, 4, 4, 4, 4)


def test_circular_negative_padding_crops_then_wraps_the_cropped_signal():
    # PyTorch's rule: a negative side crops first, a positive side then wraps what is left
    # (it used to wrap the uncropped input: (1, -2) gave [4, 1, 2])
    F = pt.nn.functional
    x = pt.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    for pads, want in (((1, -2), [2, 1, 2]), ((-2, 1), [3, 4, 3]), ((2, -1), [2, 3, 1, 2, 3]),
                       ((3, -1), [1, 2, 3, 1, 2, 3]), ((-1, 3), [2, 3, 4, 2, 3, 4]), ((-1, -1), [2, 3])):
        assert F.pad(x, pads, "circular").tolist() == [[want]], pads
    x2 = np.arange(20.0).reshape(1, 1, 4, 5)
    want = np.pad(x2[..., 1:, :3], [(0, 0), (0, 0), (0, 2), (1, 0)], mode="wrap")   # (1, -2, -1, 2)
    np.testing.assert_array_equal(F.pad(t64(x2), (1, -2, -1, 2), "circular").numpy(), want)
    xg = t64(np.random.default_rng(2).standard_normal((1, 2, 4, 5)), rg=True)
    scalar_gradcheck(lambda t: F.pad(t, (2, -1, -1, 1), "circular"), xg)
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(x, (3, -2), "circular")   # 3 > the 2 left after cropping


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_negative_padding_to_an_empty_or_negative_size_raises(mode):
    F = pt.nn.functional
    x = pt.ones(1, 1, 4)
    with pytest.raises(RuntimeError, match=r"pad\(\): input \(W: 4\) is too small. Calculated output W: -1"):
        F.pad(x, (-2, -3), mode)
    if mode == "circular":   # as PyTorch: circular gives an empty dim, the others' 1-d forms refuse it
        assert tuple(F.pad(x, (-2, -2), mode).shape) == (1, 1, 0)
    else:
        with pytest.raises(RuntimeError, match=r"Calculated output W: 0"):
            F.pad(x, (-2, -2), mode)
    assert tuple(F.pad(pt.ones(1, 1, 4, 4), (0, 0, -2, -2), mode).shape) == (1, 1, 0, 4)
    with pytest.raises(RuntimeError, match=r"input \(H: 4\) is too small. Calculated output H: -1"):
        F.pad(pt.ones(1, 1, 4, 4), (0, 0, -3, -2), mode)


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_reflect_and_replicate_refuse_empty_non_batch_dims(mode):
    # replicate on a width of 0 used to fail inside index_select with an IndexError (index -1)
    F = pt.nn.functional
    name = "reflection" if mode == "reflect" else "replication"
    for shape, pad in [((2, 3, 0), (1, 1)), ((2, 0, 4), (1, 1)), ((3, 0), (0, 0)), ((1, 2, 0, 3), (1, 1, 1, 1)),
                       ((1, 2, 3, 4, 0), (1,) * 6)]:
        dims = len(pad) // 2
        message = (f"{name}_pad{dims}d(): Expected {dims + 1}D or {dims + 2}D (batch mode) tensor with possibly 0 "
                   f"batch size and other non-zero dimensions for input, but got: {list(shape)}")
        with pytest.raises(RuntimeError, match=re.escape(message)):
            F.pad(pt.ones(shape), pad, mode)
    # an empty batch pads like any other batch
    np.testing.assert_array_equal(F.pad(pt.ones(0, 2, 3), (1, 2), mode).numpy(), np.ones((0, 2, 6)))


def test_class_hierarchy_as_torch():
    # each layer is its own class (isinstance(ReflectionPad2d(...), ReflectionPad1d) is False, as in torch);
    # the zero pads are constant pads
    assert not isinstance(nn.ReflectionPad2d(1), nn.ReflectionPad1d)
    assert not isinstance(nn.CircularPad3d(1), nn.CircularPad2d)
    assert isinstance(nn.ZeroPad2d(1), nn.ConstantPad2d) and not isinstance(nn.ZeroPad2d(1), nn.ConstantPad1d)
    assert not isinstance(nn.AvgPool3d(2), nn.AvgPool2d)
