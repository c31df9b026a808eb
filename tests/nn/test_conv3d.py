"""conv3d, conv_transpose1d and conv_transpose3d (and their layers) against direct-loop NumPy references."""
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .helpers import scalar_gradcheck, t64
from .test_conv import conv_transpose2d_ref

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
rng = np.random.default_rng(0)


def conv3d_ref(x, w, b, stride, pad, dil, groups):
    """Cross-correlation by explicit loops over every output element; pad is (lo, hi) per dim."""
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    k = w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + list(pad))
    outs = [(xp.shape[2 + i] - dil[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(3)]
    out = np.zeros((n, o, *outs))
    og = o // groups
    for oi in range(o):
        g = oi // og
        for z in range(outs[0]):
            for i in range(outs[1]):
                for j in range(outs[2]):
                    acc = np.zeros(n) if b is None else np.full(n, b[oi])
                    for a in range(k[0]):
                        for e in range(k[1]):
                            for f in range(k[2]):
                                window = xp[:, g * cg:(g + 1) * cg, z * stride[0] + a * dil[0],
                                            i * stride[1] + e * dil[1], j * stride[2] + f * dil[2]]
                                acc = acc + window @ w[oi, :, a, e, f]
                    out[:, oi, z, i, j] = acc
    return out


def conv_transpose3d_ref(x, w, b, stride, pad, out_pad, dil, groups):
    """Scatter every input element times the kernel into the (uncropped) output."""
    n, c = x.shape[:2]
    og = w.shape[1]
    k = w.shape[2:]
    cg = c // groups
    full = [(x.shape[2 + i] - 1) * stride[i] + dil[i] * (k[i] - 1) + 1 + out_pad[i] for i in range(3)]
    out = np.zeros((n, og * groups, *full))
    for ci in range(c):
        g = ci // cg
        for z, i, j in np.ndindex(*x.shape[2:]):
            for a, e, f in np.ndindex(*k):
                out[:, g * og:(g + 1) * og, z * stride[0] + a * dil[0], i * stride[1] + e * dil[1],
                    j * stride[2] + f * dil[2]] += x[:, ci, z, i, j][:, None] * w[ci, :, a, e, f]
    out = out[:, :, pad[0]:full[0] - pad[0], pad[1]:full[1] - pad[1], pad[2]:full[2] - pad[2]]
    return out if b is None else out + b.reshape(-1, 1, 1, 1)


CONV3D = [  # (x shape, w shape, stride, padding, dilation, groups)
    ((2, 2, 4, 5, 4), (3, 2, 2, 3, 2), 1, 0, 1, 1),
    ((1, 4, 5, 4, 6), (4, 2, 3, 2, 3), (2, 1, 2), (1, 0, 2), (1, 2, 1), 2),
    ((1, 2, 4, 4, 4), (2, 1, 3, 1, 2), 1, "same", (2, 1, 1), 2),
]


@pytest.mark.parametrize("case", range(len(CONV3D)))
@pytest.mark.parametrize("device", DEVICES)
def test_conv3d_values(case, device):
    xs, ws, stride, padding, dil, groups = CONV3D[case]
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    t = lambda v: (v if isinstance(v, tuple) else (v,) * 3)  # noqa: E731
    if padding == "same":
        tot = [t(dil)[i] * (ws[2 + i] - 1) for i in range(3)]
        pad = [(p // 2, p - p // 2) for p in tot]
    else:
        pad = [(p, p) for p in t(padding)]
    ref = conv3d_ref(x, w, b, t(stride), pad, t(dil), groups)
    f32 = lambda a: pt.tensor(a.astype(np.float32), device=device)  # noqa: E731
    out = F.conv3d(f32(x), f32(w), f32(b), stride, padding, dil, groups)
    assert out.device.type == device
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-4, atol=1e-4)
    # unbatched (C, D, H, W)
    out1 = F.conv3d(f32(x[0]), f32(w), None, stride, padding, dil, groups)
    np.testing.assert_allclose(out1.cpu().numpy(), ref[0] - b.reshape(-1, 1, 1, 1), rtol=1e-4, atol=1e-4)


CONVT3D = [  # (x shape, w shape, stride, padding, output_padding, dilation, groups)
    ((2, 2, 2, 3, 2), (2, 3, 2, 2, 3), 1, 0, 0, 1, 1),
    ((1, 4, 3, 2, 3), (4, 1, 3, 2, 2), (2, 1, 2), (1, 0, 1), (1, 0, 0), (1, 2, 1), 2),
]


@pytest.mark.parametrize("case", range(len(CONVT3D)))
@pytest.mark.parametrize("device", DEVICES)
def test_conv_transpose3d_values(case, device):
    xs, ws, stride, padding, out_pad, dil, groups = CONVT3D[case]
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1] * groups)
    t = lambda v: (v if isinstance(v, tuple) else (v,) * 3)  # noqa: E731
    ref = conv_transpose3d_ref(x, w, b, t(stride), t(padding), t(out_pad), t(dil), groups)
    f32 = lambda a: pt.tensor(a.astype(np.float32), device=device)  # noqa: E731
    out = F.conv_transpose3d(f32(x), f32(w), f32(b), stride, padding, out_pad, groups, dil)
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-4, atol=1e-4)
    out1 = F.conv_transpose3d(f32(x[0]), f32(w), f32(b), stride, padding, out_pad, groups, dil)
    np.testing.assert_allclose(out1.cpu().numpy(), ref[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_conv_transpose1d_values(device):
    x, w, b = rng.standard_normal((2, 4, 5)), rng.standard_normal((4, 3, 3)), rng.standard_normal(6)
    ref = conv_transpose2d_ref(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), (0, 1), (1, 2), 2)[:, :, 0]
    f32 = lambda a: pt.tensor(a.astype(np.float32), device=device)  # noqa: E731
    out = F.conv_transpose1d(f32(x), f32(w), f32(b), stride=2, padding=1, output_padding=1, groups=2, dilation=2)
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(F.conv_transpose1d(f32(x[1]), f32(w), f32(b), 2, 1, 1, 2, 2).cpu().numpy(), ref[1],
                               rtol=1e-4, atol=1e-4)


def test_gradients():
    x, w, b = t64(rng.standard_normal((1, 2, 3, 3, 4)), True), t64(rng.standard_normal((2, 1, 2, 2, 2)), True), \
        t64(rng.standard_normal(2), True)
    scalar_gradcheck(lambda x, w, b: F.conv3d(x, w, b, (2, 1, 1), (1, 0, 1), 1, 2), x, w, b)
    wt = t64(rng.standard_normal((2, 2, 2, 1, 2)), True)
    scalar_gradcheck(lambda x, w, b: F.conv_transpose3d(x, w, b, (2, 1, 1), (1, 0, 0), (1, 0, 0), 1, 1), x, wt,
                     t64(rng.standard_normal(2), True))
    x1, w1 = t64(rng.standard_normal((1, 2, 4)), True), t64(rng.standard_normal((2, 1, 3)), True)
    scalar_gradcheck(lambda x, w: F.conv_transpose1d(x, w, None, 2, 1, 1, 2), x1, w1)


def test_layers_state_dict_repr_and_init():
    m = nn.Conv3d(4, 6, (1, 2, 3), stride=2, padding=1, groups=2, bias=True)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias"]
    assert tuple(sd["weight"].shape) == (6, 2, 1, 2, 3) and tuple(sd["bias"].shape) == (6,)
    bound = 1 / np.sqrt(2 * 1 * 2 * 3)
    assert np.abs(m.weight.detach().numpy()).max() <= bound and np.abs(m.bias.detach().numpy()).max() <= bound
    assert repr(m) == "Conv3d(4, 6, kernel_size=(1, 2, 3), stride=(2, 2, 2), padding=(1, 1, 1), groups=2)"
    t1 = nn.ConvTranspose1d(2, 4, 3, stride=2, output_padding=1)
    assert tuple(t1.weight.shape) == (2, 4, 3)
    assert repr(t1) == "ConvTranspose1d(2, 4, kernel_size=(3,), stride=(2,), output_padding=(1,))"
    t3 = nn.ConvTranspose3d(4, 6, 2, groups=2, bias=False)
    assert tuple(t3.weight.shape) == (4, 3, 2, 2, 2) and t3.bias is None and list(t3.state_dict()) == ["weight"]
    # output_size picks the output padding, as PyTorch's
    assert tuple(nn.ConvTranspose3d(1, 1, 3, stride=2)(pt.ones(1, 1, 2, 2, 2), output_size=(6, 5, 6)).shape) == \
        (1, 1, 6, 5, 6)
    assert tuple(t1(pt.ones(2, 5), output_size=[12]).shape) == (4, 12)


def test_conv3d_padding_mode_matches_explicit_pad():
    m = nn.Conv3d(2, 3, 3, padding=(1, 0, 2), padding_mode="circular")
    x = pt.randn(1, 2, 3, 4, 5)
    ref = F.conv3d(F.pad(x, (2, 2, 0, 0, 1, 1), mode="circular"), m.weight, m.bias)
    np.testing.assert_allclose(m(x).detach().numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_bad_inputs():
    with pytest.raises(RuntimeError, match=r"Expected 4D \(unbatched\) or 5D \(batched\) input to conv3d"):
        F.conv3d(pt.ones(1, 2, 4), pt.ones(1, 2, 2, 2, 2))
    with pytest.raises(RuntimeError, match=r"expected input\[1, 3, 4, 4, 4\] to have 2 channels, but got 3"):
        F.conv3d(pt.ones(1, 3, 4, 4, 4), pt.ones(1, 2, 2, 2, 2))
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        F.conv3d(pt.ones(1, 1, 4, 4, 4), pt.ones(1, 1, 2, 2, 2), stride=2, padding="same")
    with pytest.raises(RuntimeError, match=r"conv3d.*calculated output size"):
        F.conv3d(pt.ones(1, 1, 1, 4, 4), pt.ones(1, 1, 2, 2, 2))
    with pytest.raises(RuntimeError, match=r"conv3d\(\): stride should be greater than zero"):
        F.conv3d(pt.ones(1, 1, 4, 4, 4), pt.ones(1, 1, 2, 2, 2), stride=(1, 0, 1))
    with pytest.raises(RuntimeError, match=r"Given transposed=1, weight of size \[3, 2, 2, 2, 2\], expected input"
                                           r"\[1, 2, 4, 4, 4\] to have 3 channels"):
        F.conv_transpose3d(pt.ones(1, 2, 4, 4, 4), pt.ones(3, 2, 2, 2, 2))
    with pytest.raises(RuntimeError, match=r"conv_transpose1d\(\): output padding must be smaller than either "
                                           r"stride or dilation"):
        F.conv_transpose1d(pt.ones(1, 2, 4), pt.ones(2, 2, 2), stride=2, output_padding=2)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose3d'):
        nn.ConvTranspose3d(2, 2, 2, padding_mode="reflect")
    with pytest.raises(RuntimeError, match="Conv3d: expected input with 2 channels, got 3"):
        nn.Conv3d(2, 2, 2)(pt.ones(1, 3, 4, 4, 4))


def test_conv_tbc():
    x, w, b = rng.standard_normal((7, 2, 3)), rng.standard_normal((3, 3, 4)), rng.standard_normal(4)
    xp = np.pad(x, ((1, 1), (0, 0), (0, 0)))
    ref = np.stack([np.einsum("kbc,kco->bo", xp[t:t + 3], w) for t in range(7)]) + b
    np.testing.assert_allclose(F.conv_tbc(t64(x), t64(w), t64(b), 1).numpy(), ref, rtol=1e-12)
    scalar_gradcheck(lambda x, w, b: F.conv_tbc(x, w, b), t64(x[:4, :1], True), t64(w[:2], True), t64(b, True))
    with pytest.raises(RuntimeError, match="Input must have 3 dims: time, batch, in_channel"):
        F.conv_tbc(t64(x[0]), t64(w), t64(b))
    with pytest.raises(RuntimeError, match=r"Input dim 2 \(input channels\) is not == dim 1 in the weight tensor"):
        F.conv_tbc(t64(x), t64(rng.standard_normal((3, 5, 4))), t64(b))



def test_autocast_and_bias_checks():
    # the inner conv2d / conv_transpose2d are registry ops: autocast lowers them, as torch lowers conv3d
    x, w, b = pt.randn(1, 2, 4, 4, 4), pt.randn(3, 2, 2, 2, 2), pt.randn(3)
    with pt.autocast("cpu", dtype=pt.bfloat16):
        assert F.conv3d(x, w, b).dtype is pt.bfloat16
        assert F.conv_transpose3d(x, w.transpose(0, 1).contiguous(), b).dtype is pt.bfloat16
        assert F.conv_transpose1d(x[:, :, 0, 0], w[:, :, 0, 0].transpose(0, 1).contiguous(), b).dtype is pt.bfloat16
    with pytest.raises(RuntimeError, match=r"conv3d\(\): expected a bias of shape \(3,\)"):
        F.conv3d(x, w, pt.randn(4))
    with pytest.raises(RuntimeError, match=r"conv_transpose3d\(\): expected a bias of shape \(2,\) and dtype"):
        F.conv_transpose3d(x, w.transpose(0, 1).contiguous()[:, :2], pt.randn(2, dtype=pt.float64))


def test_output_padding_at_least_the_stride():
    # allowed below the dilation; fold's block count used to refuse it (torch 2.13 gives these values)
    x, w, b = rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((4, 1, 2, 3)), rng.standard_normal(2)
    ref = conv_transpose2d_ref(x, w, b, (1, 2), (1, 1), (1, 1), (2, 2), 2)
    out = F.conv_transpose2d(t64(x), t64(w), t64(b), (1, 2), 1, 1, 2, 2)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    ref1 = conv_transpose2d_ref(x[:, :, :1], w[:, :, :1], None, (1, 1), (0, 0), (0, 1), (1, 2), 2)[:, :, 0]
    np.testing.assert_allclose(F.conv_transpose1d(t64(x[:, :, 0]), t64(w[:, :, 0]), None, 1, 0, 1, 2, 2).numpy(), ref1,
                               rtol=1e-12)
    scalar_gradcheck(lambda x, w: F.conv_transpose2d(x, w, None, 1, 1, 1, 2, 2), t64(x[:1], True), t64(w, True))
    with pytest.raises(RuntimeError, match=r"conv_transpose3d\(\): Given input size per channel: \(2 x 2 x 2\). "
                                           r"Calculated output size per channel: \(4 x 0 x 2\). Output size is too small"):
        F.conv_transpose3d(pt.ones(1, 2, 2, 2, 2), pt.ones(2, 1, 3, 1, 1), padding=(0, 1, 0))


def test_same_padding_with_a_padding_mode():
    # 'same' pads d * (k - 1) per dim, the smaller half first, in the layer's mode (was zero padding)
    m = nn.Conv2d(1, 1, (3, 4), padding="same", padding_mode="reflect", dilation=(1, 2)).double()
    x = t64(np.arange(30.0).reshape(1, 1, 5, 6))
    ref = F.conv2d(F.pad(x, (3, 3, 1, 1), mode="reflect"), m.weight, m.bias, dilation=(1, 2))
    np.testing.assert_allclose(m(x).detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    m3 = nn.Conv3d(1, 2, (2, 3, 2), padding="same", padding_mode="circular").double()
    x3 = t64(np.arange(60.0).reshape(1, 1, 3, 4, 5))
    ref3 = F.conv3d(F.pad(x3, (0, 1, 1, 1, 0, 1), mode="circular"), m3.weight, m3.bias)
    np.testing.assert_allclose(m3(x3).detach().numpy(), ref3.detach().numpy(), rtol=1e-12)
    assert tuple(m3(x3).shape) == (1, 2, 3, 4, 5)
