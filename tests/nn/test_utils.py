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
