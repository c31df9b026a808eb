"""Second derivatives that were wrong: each checked against finite differences
(gradgradcheck, float64) and a known value of a Hessian entry."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd import gradcheck, gradgradcheck


def _t(a):
    return pt.tensor(np.asarray(a, dtype=np.float64), dtype=pt.float64, requires_grad=True)


_X = [[1.5, -0.7], [0.9, 1.2], [-1.1, 0.6]]
_S = [[0.8, -1.3], [1.7, 0.5]]
_INDEX = pt.tensor([[0, 2], [0, 0]])   # out[0, 0] = x[0, 0] * s[0, 0] * s[1, 0]


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("zeros", ["none", "self", "src", "self and src"])
def test_scatter_reduce_prod_double_backward_matches_finite_differences(include_self, zeros):
    x, s = np.array(_X), np.array(_S)
    if "self" in zeros:
        x[0, 0] = 0.0
    if "src" in zeros:
        s[0, 0] = 0.0

    def f(a, b):
        return a.scatter_reduce(0, _INDEX, b, "prod", include_self=include_self)
    assert gradgradcheck(f, (_t(x), _t(s)))


def test_scatter_reduce_prod_cross_second_derivative_value():
    # d2 out[0,0] / dx[0,0] ds[0,0] = s[1,0]; the backward was built from detached values and gave 0
    x, s = _t(_X), _t(_S)
    out = x.scatter_reduce(0, _INDEX, s, "prod")
    (gx,) = pt.autograd.grad(out[0, 0], (x,), create_graph=True)
    (gs,) = pt.autograd.grad(gx[0, 0], (s,))
    np.testing.assert_allclose(gs.numpy(), [[1.7, 0.0], [0.8, 0.0]], rtol=1e-12)


def test_scatter_reduce_prod_two_zeros_in_one_position_refuses_double_backward():
    x, s = _t(_X), _t([[0.0, -1.3], [0.0, 0.5]])
    f = lambda a, b: a.scatter_reduce(0, _INDEX, b, "prod")   # noqa: E731
    assert gradcheck(f, (x, s))   # the first derivative is fine (every factor's gradient 0 there)
    _, gs = pt.autograd.grad(f(x, s).sum(), (x, s), create_graph=True)
    with pytest.raises(RuntimeError, match="scatter_reduce.*more than one zero in src"):
        pt.autograd.grad(gs.sum(), (x, s))


# ---- log(1 + exp(x)) at x = 0 and log(exp(a) + exp(b)) at a = b: kinks of max/abs/clamp inside
# a smooth function used to leak their subgradients (0) into the first or second derivative
_Y = np.array([0.3, 1.0])
_S0 = 1 / (1 + np.exp(-0.0))            # sigmoid(0)
_DS0 = _S0 * (1 - _S0)                   # sigmoid'(0) = 1/4


def _grads(fn, x0):
    x = _t(x0)
    (g,) = pt.autograd.grad(fn(x).sum(), (x,), create_graph=True)
    (h,) = pt.autograd.grad(g.sum(), (x,))
    return g.detach().numpy(), h.numpy()


def test_binary_cross_entropy_with_logits_at_zero_logits():
    y = pt.tensor(_Y, dtype=pt.float64)
    g, h = _grads(lambda x: pt.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none"), [0.0, 0.0])
    np.testing.assert_allclose(g, _S0 - _Y, rtol=1e-12)      # was 1 - y
    np.testing.assert_allclose(h, [_DS0, _DS0], rtol=1e-12)  # was 0
    pw = pt.tensor([2.0, 0.5], dtype=pt.float64)
    assert gradgradcheck(lambda x: pt.nn.functional.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
                         (_t([0.0, 0.0]),))


def test_multilabel_soft_margin_loss_at_zero_logits():
    y = pt.tensor([_Y], dtype=pt.float64)
    g, h = _grads(lambda x: pt.nn.functional.multilabel_soft_margin_loss(x.reshape(1, 2), y), [0.0, 0.0])
    np.testing.assert_allclose(g, (_S0 - _Y) / 2, rtol=1e-12)
    np.testing.assert_allclose(h, [_DS0 / 2, _DS0 / 2], rtol=1e-12)


def test_bernoulli_binomial_log_prob_at_zero_logits():
    D = pt.distributions
    v = pt.tensor([1.0, 0.0], dtype=pt.float64)
    g, h = _grads(lambda x: D.Bernoulli(logits=x).log_prob(v), [0.0, 0.0])
    np.testing.assert_allclose(g, v.numpy() - _S0, rtol=1e-12)    # was v - 1
    np.testing.assert_allclose(h, [-_DS0, -_DS0], rtol=1e-12)
    k = pt.tensor([1.0, 2.0], dtype=pt.float64)
    g, h = _grads(lambda x: D.Binomial(3, logits=x).log_prob(k), [0.0, 0.0])
    np.testing.assert_allclose(g, k.numpy() - 3 * _S0, rtol=1e-12)
    np.testing.assert_allclose(h, [-3 * _DS0, -3 * _DS0], rtol=1e-12)   # was 0 (as in PyTorch 2.13)
    cv = pt.tensor([0.3, 0.8], dtype=pt.float64)
    assert gradgradcheck(lambda x: D.ContinuousBernoulli(logits=x).log_prob(cv), (_t([0.0, 0.0]),))


@pytest.mark.parametrize("op, scale", [("logaddexp", 1.0), ("logaddexp2", np.log(2))])
def test_logaddexp_at_equal_operands(op, scale):
    f = getattr(pt, op)
    b = pt.tensor([0.7, -1.2], dtype=pt.float64)
    g, h = _grads(lambda a: f(a, b), [0.7, -1.2])
    np.testing.assert_allclose(g, [0.5, 0.5], rtol=1e-12)
    np.testing.assert_allclose(h, [scale * _DS0] * 2, rtol=1e-12)   # was 0
    assert gradgradcheck(f, (_t([0.7, -1.2]), _t([0.7, -1.2])))


def test_index_put_values_gradient_with_separated_indices():
    # [0-d tensor, None, tensor]: the broadcast index dim goes first, (2, 3); the values' gradient
    # was read with Python indexing, which takes the 0-d tensor as an integer and gave (3, 2)
    indices = [pt.tensor(-1), None, pt.tensor([2, 3])]
    g = np.arange(24.0).reshape(2, 3, 4)
    v = _t(np.ones((2, 3)))
    y = pt.ops.index_put(pt.zeros(2, 3, 4, dtype=pt.float64), indices, v)
    (gv,) = pt.autograd.grad(y, (v,), pt.tensor(g))
    np.testing.assert_array_equal(gv.numpy(), g[1][:, [2, 3]].T)
    # and so index's double backward (its backward is an index_put of the gradient)
    assert gradgradcheck(lambda x: pt.ops.index(x, indices), (_t(g / 7),))


# ---- derivatives that do not exist must raise, not read as 0
def test_gamma_rsample_gradient_refuses_its_own_derivative():
    pt.manual_seed(0)
    a = _t([1.5, 3.0])
    x = pt.distributions.Gamma(a, pt.ones(2, dtype=pt.float64)).rsample()
    (g,) = pt.autograd.grad(x.sum(), (a,), create_graph=True)
    assert np.isfinite(g.detach().numpy()).all() and (g.detach().numpy() > 0).all()
    # its finite-difference formula holds the sample fixed: a second derivative from it was wrong
    with pytest.raises(RuntimeError, match="Gamma.*rsample.*not implemented"):
        pt.autograd.grad(g.sum(), (a,))


@pytest.mark.parametrize("fn, first", [(pt.special.gammainc, "a"), (pt.special.gammaincc, "a"),
                                       (pt.special.zeta, "x")])
def test_first_argument_without_derivative_raises(fn, first):
    a, x = _t([1.5, 2.5]), _t([2.0, 1.5])
    with pytest.raises(NotImplementedError, match=f"derivative with respect to its first argument {first}"):
        (fn(a, x) + a).sum().backward()     # the gradient of a was 1 (the formula's None read as 0)
    (gx,) = pt.autograd.grad(fn(a.detach(), x).sum(), (x,))
    if fn is pt.special.gammainc:   # d/dx P(a, x) = x^(a-1) e^-x / Gamma(a)
        from math import exp, gamma
        np.testing.assert_allclose(gx.numpy(), [2.0 ** 0.5 * exp(-2.0) / gamma(1.5), 1.5 ** 1.5 * exp(-1.5) / gamma(2.5)],
                                   rtol=1e-12)


def test_hypot_at_equal_magnitudes():
    # d2/da2 hypot(a, b) = b**2 / (a**2 + b**2) ** 1.5, smooth where |a| == |b| (the scale the
    # decomposition divides by, max(|a|, |b|), has a kink there)
    a0, b0 = np.array([2.0, -1.5, 0.3]), np.array([2.0, 1.5, -0.3])
    b = pt.tensor(b0, dtype=pt.float64)
    g, h = _grads(lambda a: pt.hypot(a, b), a0)
    r = np.hypot(a0, b0)
    np.testing.assert_allclose(g, a0 / r, rtol=1e-12)
    np.testing.assert_allclose(h, b0 ** 2 / r ** 3, rtol=1e-12)   # was 0
    assert gradgradcheck(pt.hypot, (_t(a0), _t(b0)))
    assert gradgradcheck(lambda a: pt.hypot(a, a), (_t(a0),))


@pytest.mark.parametrize("op", ["i1", "i1e"])
def test_bessel_i1_second_derivative_finite_at_zero(op):
    # i1'(0) = i1e'(0) = 1/2 (the formula's special case); i1 is odd, so i1''(0) = 0, and i1e's
    # one-sided second derivatives -1 and +1 average to 0: it was nan (0 * 1/0 from the branch
    # where() does not take)
    f = getattr(pt.special, op)
    g, h = _grads(f, [-1.0, 0.0, 0.5])
    assert g[1] == 0.5 and h[1] == 0.0
    assert gradgradcheck(f, (_t([-1.0, -0.3, 0.5]),))


def test_relu_gradient_is_differentiable_with_zero_second_derivative():
    # relu's gradient (threshold_backward of relu's output) is piecewise constant in the input:
    # with create_graph it stays connected to the input, its derivative 0 (was: requires_grad
    # False, then "does not require grad" from the second grad)
    x = _t([-1.0, 0.5, 3.0])
    (g,) = pt.autograd.grad(pt.relu(x).sum(), x, create_graph=True)
    assert g.requires_grad and g.tolist() == [0.0, 1.0, 1.0]
    (h,) = pt.autograd.grad(g.sum(), x)
    assert h.tolist() == [0.0, 0.0, 0.0]
    # threshold_backward itself: in grad_output the same mask, in input zeros
    go, inp = _t([2.0, 3.0, 4.0]), _t([-1.0, 0.0, 1.0])
    out = pt.ops.threshold_backward(go, inp, 0.0)
    ggo, ginp = pt.autograd.grad((out * _t([1.0, 2.0, 3.0])).sum(), (go, inp))
    assert ggo.tolist() == [0.0, 0.0, 3.0] and ginp.tolist() == [0.0, 0.0, 0.0]
    gradgradcheck(lambda a, b: pt.ops.threshold_backward(a, b, 0.1), (_t(_X), _t([[0.3, -0.2], [0.5, 0.8], [-1.0, 2.0]])))


def test_relu_mlp_second_derivatives():
    # f = w2 . relu(W1 x): piecewise linear in x, so d2f/dx2 = 0 (with and without the weights
    # requiring grad); d2f/dW1 = 0 too (linear in W1 on each piece), checked against central finite
    # differences of the gradient; g = d/dw2 of (w2 . h)^2 = 2 (w2 . h) h, so d2/dw2 = 2 h h^T
    rng = np.random.default_rng(0)
    w1n, w2n, xn = rng.standard_normal((5, 3)), rng.standard_normal(5), rng.standard_normal(3)
    for weights_rg in (False, True):
        w1, w2, x = _t(w1n).requires_grad_(weights_rg), _t(w2n).requires_grad_(weights_rg), _t(xn)
        (gx,) = pt.autograd.grad((w2 * pt.relu(w1 @ x)).sum(), x, create_graph=True)
        rows = [pt.autograd.grad(gx[i], x, retain_graph=True)[0].tolist() for i in range(3)]
        assert rows == [[0.0] * 3] * 3
    x = _t(xn)

    def grad_w1(w):
        w = _t(w)
        return np.array(pt.autograd.grad((_t(w2n) * pt.relu(w @ x)).sum(), w)[0].tolist())

    hess = np.array(pt.autograd.functional.hessian(lambda w: (_t(w2n) * pt.relu(w.reshape(5, 3) @ x)).sum(),
                                                   _t(w1n.ravel())).tolist())
    eps = 1e-6
    fd = np.stack([(grad_w1(w1n + eps * e.reshape(5, 3)) - grad_w1(w1n - eps * e.reshape(5, 3))).ravel() / (2 * eps)
                   for e in np.eye(15)], axis=1)
    np.testing.assert_allclose(hess, fd, atol=1e-8)
    h = np.maximum(w1n @ xn, 0)
    w2 = _t(w2n)
    (g2,) = pt.autograd.grad(((w2 * pt.relu(_t(w1n) @ x)).sum()) ** 2, w2, create_graph=True)
    hess2 = np.array([pt.autograd.grad(g2[i], w2, retain_graph=True)[0].tolist() for i in range(5)])
    np.testing.assert_allclose(hess2, 2 * np.outer(h, h), rtol=1e-12)


@pytest.mark.parametrize("fn", [lambda t: pt.nn.functional.hardtanh(t, -1.0, 1.0),
                                lambda t: pt.nn.functional.relu6(t)])
def test_hardtanh_gradient_is_differentiable_with_zero_second_derivative(fn):
    # hardtanh's gradient is the incoming one inside the limits: piecewise constant in the input,
    # so with create_graph it stays connected with derivative 0 (was: requires_grad False, then a
    # RuntimeError from the second grad)
    x = _t([-8.0, -0.5, 0.5, 3.0, 7.0, float("nan")])
    (g,) = pt.autograd.grad(fn(x).sum(), x, create_graph=True)
    inside = [0.0, 1.0, 1.0, 0.0, 0.0, 1.0] if fn(_t([3.0])).item() == 1.0 else [0.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    assert g.requires_grad and g.tolist() == inside
    (h,) = pt.autograd.grad(g.sum(), x)
    assert h.tolist() == [0.0] * 6


def test_hardtanh_gradient_with_a_nan_limit_excludes_nothing_on_that_side():
    # x <= nan and x >= nan are false, so only the other limit zeroes the gradient (PyTorch's
    # hardtanh_backward: (x <= min || x >= max) ? 0 : g), with and without create_graph
    x = _t([-2.0, 0.0, 1.0, 2.0])
    for create_graph in (False, True):
        (g,) = pt.autograd.grad(pt.nn.functional.hardtanh(x, float("nan"), 1.0).sum(), x, create_graph=create_graph)
        assert g.tolist() == [1.0, 1.0, 0.0, 0.0]
