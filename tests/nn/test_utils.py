"""clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn
from plugtorch.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters


def params_with_grads(grads):
    ps = []
    for g in grads:
        p = nn.Parameter(pt.zeros(len(g), dtype=pt.float64))
        p.grad = pt.tensor(np.array(g, dtype=np.float64))
        ps.append(p)
    return ps


def test_clip_grad_norm():
    ps = params_with_grads([[3.0, 0.0], [0.0, 4.0, 12.0]])
    total = clip_grad_norm_(ps, 6.5)
    assert abs(total.item() - 13.0) < 1e-12
    coef = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(ps[1].grad.numpy(), np.array([0.0, 4.0, 12.0]) * coef)
    ps = params_with_grads([[1.0, -2.0]])
    total = clip_grad_norm_(ps, 10.0, norm_type=float("inf"))
    assert total.item() == 2.0
    np.testing.assert_array_equal(ps[0].grad.numpy(), [1.0, -2.0])      # under the limit: unchanged
    ps = params_with_grads([[1.0, 2.0]])
    assert abs(clip_grad_norm_(ps, 1.0, norm_type=1).item() - 3.0) < 1e-12
    ps = params_with_grads([[float("inf"), 1.0]])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)


def test_clip_grad_value():
    ps = params_with_grads([[3.0, -0.5, -7.0]])
    clip_grad_value_(ps, 1.0)
    np.testing.assert_array_equal(ps[0].grad.numpy(), [1.0, -0.5, -1.0])


def test_vector_roundtrip():
    lin = nn.Linear(3, 2)
    vec = parameters_to_vector(lin.parameters())
    assert tuple(vec.shape) == (8,)
    np.testing.assert_allclose(vec.detach().numpy()[:6], lin.weight.detach().numpy().reshape(-1))
    vector_to_parameters(pt.arange(8.0), lin.parameters())
    np.testing.assert_array_equal(lin.weight.detach().numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(lin.bias.detach().numpy(), [6.0, 7.0])
    with pytest.raises(TypeError, match="expected plugtorch.Tensor, but got: list"):
        vector_to_parameters([1.0], lin.parameters())


def test_clip_grads_with_norm_scales_by_a_given_norm():
    # min(max_norm / (total + 1e-6), 1): 2 / 8 scales down, a norm under max_norm leaves grads alone
    ps = params_with_grads([[3.0, -4.0], [8.0]])
    assert pt.nn.utils.clip_grads_with_norm_(ps, 2.0, pt.tensor(8.0, dtype=pt.float64)) is None
    np.testing.assert_allclose(ps[0].grad.numpy(), np.array([3.0, -4.0]) * 2 / (8 + 1e-6))
    np.testing.assert_allclose(ps[1].grad.numpy(), [8.0 * 2 / (8 + 1e-6)])
    p = params_with_grads([[3.0, -4.0]])[0]
    pt.nn.utils.clip_grads_with_norm_(p, 10.0, pt.tensor(5.0, dtype=pt.float64))   # a single tensor
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, -4.0])
    with pytest.raises(TypeError, match="total_norm must be a Tensor"):
        pt.nn.utils.clip_grads_with_norm_(ps, 2.0, 8.0)


def test_get_total_norm_is_not_differentiable_and_clip_grad_norm_alias_warns():
    t = pt.tensor([3.0, 4.0], requires_grad=True)
    total = pt.nn.utils.get_total_norm([t])
    assert total.item() == 5.0 and not total.requires_grad and total.grad_fn is None
    ps = params_with_grads([[3.0, 4.0]])
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        assert pt.nn.utils.clip_grad_norm(ps, 1.0).item() == 5.0
    np.testing.assert_allclose(ps[0].grad.numpy(), np.array([3.0, 4.0]) / (5 + 1e-6))
    with pytest.warns(UserWarning, match="empty generator"):
        assert clip_grad_norm_((p for p in []), 1.0).item() == 0.0


def test_convert_conv_weight_memory_format_keeps_values_and_parameters():
    net = nn.Sequential(nn.Sequential(nn.Conv2d(2, 3, 2)), nn.ReLU(), nn.ConvTranspose2d(3, 2, 2))
    w, before = net[0][0].weight, net[0][0].weight.detach().numpy().copy()
    assert pt.nn.utils.convert_conv2d_weight_memory_format(net, pt.channels_last) is net
    assert net[0][0].weight is w and w.requires_grad
    assert w.is_contiguous(memory_format=pt.channels_last) and not w.is_contiguous()
    assert net[2].weight.is_contiguous(memory_format=pt.channels_last)
    np.testing.assert_array_equal(w.detach().numpy(), before)
    c3 = nn.Conv3d(1, 2, 2)
    pt.nn.utils.convert_conv3d_weight_memory_format(c3, pt.channels_last_3d)
    assert c3.weight.is_contiguous(memory_format=pt.channels_last_3d)
