"""plugtorch.utils.checkpoint: gradients equal the plain ones, recomputation, RNG replay, errors."""
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn
from plugtorch.utils.checkpoint import checkpoint, checkpoint_sequential


def net():
    pt.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Dropout(0.5), nn.Linear(6, 3)).double()


def grads(model, x, run):
    for p in model.parameters():
        p.grad = None
    x.grad = None
    pt.manual_seed(1)
    y = run(model, x)
    (y * y).sum().backward()
    return y.detach().numpy(), [x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()], pt.rand(2).numpy()


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_gradients_equal_plain_with_dropout(use_reentrant):
    model = net()
    x = pt.randn(5, 4, dtype=pt.float64, requires_grad=True)
    y0, g0, after0 = grads(model, x, lambda m, x: m(x))
    y1, g1, after1 = grads(model, x, lambda m, x: checkpoint(m, x, use_reentrant=use_reentrant))
    np.testing.assert_array_equal(y1, y0)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)     # same dropout mask in the recomputation
    np.testing.assert_array_equal(after1, after0)                      # the caller's random stream is untouched
    y2, g2, _ = grads(model, x, lambda m, x: checkpoint_sequential(m, 2, x, use_reentrant=use_reentrant))
    np.testing.assert_array_equal(y2, y0)
    for a, b in zip(g2, g0):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_recomputes_and_finite_differences(use_reentrant):
    calls = []

    def f(a, scale, b):
        calls.append(1)
        return (a * b).sin() * scale + a.exp()
    a = pt.randn(3, dtype=pt.float64, requires_grad=True)
    b = pt.randn(3, dtype=pt.float64, requires_grad=True)
    y = checkpoint(f, a, 2.0, b, use_reentrant=use_reentrant)
    assert len(calls) == 1
    y.sum().backward()
    assert len(calls) == 2                                             # run again during backward
    an, bn = a.detach().numpy(), b.detach().numpy()
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.cos(an * bn) * bn + np.exp(an), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), 2 * np.cos(an * bn) * an, rtol=1e-12)
    assert pt.autograd.gradcheck(lambda a, b: checkpoint(f, a, 2.0, b, use_reentrant=use_reentrant),
                                 (a.detach().requires_grad_(), b.detach().requires_grad_()))


def test_non_reentrant_outside_tensors_grad_kwargs_double_backward():
    model = net().eval()
    x = pt.randn(2, 4, dtype=pt.float64)                               # no input requires grad
    y = checkpoint(model, x, use_reentrant=False)
    gw = pt.autograd.grad(y.sum(), [model[0].weight, model[3].bias])
    yp = model(x)
    gp = pt.autograd.grad(yp.sum(), [model[0].weight, model[3].bias])
    for a, b in zip(gw, gp):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    w = pt.tensor([1.0, 2.0], dtype=pt.float64, requires_grad=True)     # read through a closure and a kwarg
    x = pt.tensor([3.0, 4.0], dtype=pt.float64, requires_grad=True)
    y = checkpoint(lambda x, power=1: (x * w) ** power, x, use_reentrant=False, power=3)
    (gx,) = pt.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), 3 * np.array([3.0, 4.0]) ** 2 * np.array([1.0, 8.0]))
    gx.sum().backward()                                                # double backward through the recomputation
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([3.0, 4.0]) * np.array([1.0, 8.0]))
    np.testing.assert_allclose(w.grad.numpy(), 9 * np.array([9.0, 16.0]) * np.array([1.0, 4.0]))


def test_preserve_rng_state_false_draws_anew():
    x = pt.ones(4, dtype=pt.float64, requires_grad=True)
    pt.manual_seed(0)
    y = checkpoint(lambda x: x * pt.rand(4, dtype=pt.float64), x, use_reentrant=False, preserve_rng_state=False)
    forward_draw = y.detach().numpy().copy()
    next_draw = pt.rand(4, dtype=pt.float64).numpy()
    pt.manual_seed(0)
    pt.rand(4, dtype=pt.float64)
    y.sum().backward()                                                 # recomputation draws the next numbers
    np.testing.assert_array_equal(x.grad.numpy(), next_draw)
    assert not np.array_equal(x.grad.numpy(), forward_draw)


def test_errors_and_warnings():
    x = pt.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="the use_reentrant parameter should be passed explicitly"):
        checkpoint(lambda x: x * 2, x)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: power"):
        checkpoint(lambda x, power=1: x ** power, x, use_reentrant=True, power=2)
    with pytest.raises(ValueError, match="Passing `context_fn` or `debug` is only supported when use_reentrant=False."):
        checkpoint(lambda x: x, x, use_reentrant=True, debug=True)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True. Gradients will be None"):
        y = checkpoint(lambda x: x * 2, pt.ones(2), use_reentrant=True)
    assert not y.requires_grad
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        checkpoint_sequential([nn.Identity()], 1, x, use_reentrant=False, foo=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(lambda x: x * 2, x, use_reentrant=False)
