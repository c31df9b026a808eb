"""Backward formulas against derivatives computed by hand in NumPy, at the edge values where
formulas go wrong (zeros in prod/cumprod, pow at 0, huge softmax inputs, ties)."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn  # noqa: F401  (registers nn's ops, some of which have formulas)
from plugtorch.autograd import formulas as F
from plugtorch.dispatch.registry import OPS


def leaf(values):
    return pt.tensor(values, dtype=pt.float64, requires_grad=True)


def grad_of(fn, x):
    (g,) = pt.autograd.grad(fn(x).sum(), x)
    return np.asarray(g.tolist())


X = np.array([0.3, 0.7, 1.9])


@pytest.mark.parametrize("name, derivative", [
    ("exp", np.exp), ("log", lambda x: 1 / x), ("sqrt", lambda x: 0.5 / np.sqrt(x)),
    ("rsqrt", lambda x: -0.5 * x ** -1.5), ("sin", np.cos), ("cos", lambda x: -np.sin(x)),
    ("tan", lambda x: 1 / np.cos(x) ** 2), ("tanh", lambda x: 1 - np.tanh(x) ** 2),
    ("sigmoid", lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2), ("log2", lambda x: 1 / (x * np.log(2))),
    ("log10", lambda x: 1 / (x * np.log(10))), ("log1p", lambda x: 1 / (1 + x)),
    ("expm1", np.exp), ("exp2", lambda x: np.log(2) * 2 ** x), ("reciprocal", lambda x: -1 / x ** 2),
    ("erf", lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x)), ("sinh", np.cosh), ("cosh", np.sinh),
    ("atan", lambda x: 1 / (1 + x * x)), ("asin", lambda x: 1 / np.sqrt(1 - (x / 2) ** 2) / 2),
])
def test_unary_derivatives(name, derivative):
    x = leaf(X)
    fn = getattr(pt, name)
    if name == "asin":
        np.testing.assert_allclose(grad_of(lambda t: fn(t / 2), x), derivative(X), rtol=1e-12)
    else:
        np.testing.assert_allclose(grad_of(fn, x), derivative(X), rtol=1e-12)


def test_piecewise_constant_ops_have_zero_gradient():
    for name in ("floor", "ceil", "trunc", "round", "sign"):
        assert grad_of(getattr(pt, name), leaf(X)).tolist() == [0.0, 0.0, 0.0]


def test_piecewise_constant_ops_pass_zeros_for_an_infinite_or_nan_upstream_gradient():
    # zeros, not g * 0: lp_pool's sign(s) * relu(|s|) meets pow(1/p)'s infinite slope at s = 0
    for name in ("floor", "ceil", "trunc", "round", "sign"):
        x = leaf([-1.5, 0.0, 2.5])
        getattr(pt, name)(x).backward(pt.tensor([float("inf"), float("nan"), -float("inf")], dtype=pt.float64))
        assert x.grad.tolist() == [0.0, 0.0, 0.0], name


def test_abs_gradient_is_sign_and_zero_at_zero():
    assert grad_of(pt.abs, leaf([-2.0, 0.0, 3.0])).tolist() == [-1.0, 0.0, 1.0]


def test_pow_gradients_including_zero_base():
    a, b = leaf([0.0, 2.0, 3.0]), leaf([2.0, 3.0, 0.5])
    (a ** b).sum().backward()
    np.testing.assert_allclose(a.grad.tolist(), [0.0, 12.0, 0.5 * 3 ** -0.5])
    np.testing.assert_allclose(b.grad.tolist(), [0.0, 8 * np.log(2), np.sqrt(3) * np.log(3)])
    x = leaf([2.0, -1.5])
    (x ** 3).sum().backward()            # scalar exponent, negative base
    np.testing.assert_allclose(x.grad.tolist(), [12.0, 6.75])
    y = leaf([1.0, 2.0])
    (2.0 ** y).sum().backward()          # scalar base
    np.testing.assert_allclose(y.grad.tolist(), [2 * np.log(2), 4 * np.log(2)])


def test_div_gradients():
    a, b = leaf([1.0, 2.0]), leaf([4.0, -0.5])
    (a / b).sum().backward()
    np.testing.assert_allclose(a.grad.tolist(), [0.25, -2.0])
    np.testing.assert_allclose(b.grad.tolist(), [-1 / 16, -8.0])


@pytest.mark.parametrize("values, expected", [
    ([2.0, 3.0, 4.0], [12.0, 8.0, 6.0]),
    ([2.0, 0.0, 4.0], [0.0, 8.0, 0.0]),         # one zero: only its own entry is non-zero
    ([0.0, 0.0, 4.0], [0.0, 0.0, 0.0]),         # two zeros: all zero
])
def test_prod_gradient_with_zeros(values, expected):
    assert grad_of(lambda t: t.prod(), leaf(values)).tolist() == expected


def test_cumprod_gradient_with_zero():
    x = leaf([2.0, 0.0, 3.0])
    # outputs: x0, x0 x1, x0 x1 x2; d/dx1 of the sum = x0 + x0 x2 = 8
    assert grad_of(lambda t: t.cumprod(0), x).tolist() == [1.0, 8.0, 0.0]


def test_cumsum_gradient():
    assert grad_of(lambda t: t.cumsum(0), leaf([1.0, 2.0, 3.0])).tolist() == [3.0, 2.0, 1.0]


def test_softmax_family_is_one_node_and_stable():
    x = leaf([[1.0, 2.0, 1000.0]])
    y = x.softmax(1)
    assert y.grad_fn.name() == "SoftmaxBackward"
    assert x.log_softmax(1).grad_fn.name() == "LogSoftmaxBackward"
    assert x.logsumexp(1).grad_fn.name() == "LogsumexpBackward"
    (y * pt.tensor([[1.0, 2.0, 3.0]], dtype=pt.float64)).sum().backward()
    assert np.isfinite(x.grad.tolist()).all()
    x.grad = None
    x.logsumexp(1).sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), [[0.0, 0.0, 1.0]], atol=1e-300)


def test_softmax_with_dtype_returns_grad_in_input_dtype():
    x = pt.tensor([[1.0, 2.0]], requires_grad=True)
    x.softmax(1, dtype=pt.float64)[0, 0].backward()
    assert x.grad.dtype == pt.float32
    s = 1 / (1 + np.exp(-1.0))
    np.testing.assert_allclose(x.grad.tolist(), [[s * (1 - s), -s * (1 - s)]], rtol=1e-6)


def test_var_std_mean_gradients():
    x = leaf([1.0, 2.0, 4.0])
    x.var().backward()                   # d/dx var = 2 (x - mean) / (n - 1)
    np.testing.assert_allclose(x.grad.tolist(), (2 * (np.array([1, 2, 4]) - 7 / 3) / 2).tolist())
    x.grad = None
    x.mean().backward()
    np.testing.assert_allclose(x.grad.tolist(), [1 / 3] * 3)


def test_remainder_and_fmod_gradients():
    a, b = leaf([5.5, -5.5]), leaf([2.0, 2.0])
    pt.remainder(a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0] and b.grad.tolist() == [-2.0, 3.0]
    a.grad = b.grad = None
    pt.fmod(a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0] and b.grad.tolist() == [-2.0, 2.0]


def test_sum_to_reduces_broadcast_dims():
    g = pt.ones(2, 3, 4)
    assert F.sum_to(g, (3, 1)).tolist() == [[8.0]] * 3
    assert F.sum_to(g, (4,)).tolist() == [6.0] * 4
    assert F.sum_to(g, ()).item() == 24.0
    assert F.sum_to(g, (2, 3, 4)) is g


def test_every_core_differentiable_op_has_a_formula():
    missing = [n for n, op in OPS.items() if op.differentiable and op.is_core and n not in F.FORMULAS]
    assert not missing, f"core ops without a backward formula: {missing}"


def test_no_formula_for_unknown_ops():
    assert not [n for n in F.FORMULAS if n not in OPS]


def test_layer_norm_formula_matches_its_decomposition():
    rng = np.random.default_rng(3)
    x = leaf(rng.standard_normal((2, 3, 4)))
    w, b = leaf(rng.standard_normal(4)), leaf(rng.standard_normal(4))
    gy = pt.tensor(rng.standard_normal((2, 3, 4)), dtype=pt.float64)
    y = pt.nn.functional.layer_norm(x, (4,), weight=w, bias=b)      # tensors as keywords too
    assert y.grad_fn.name() == "LayerNormBackward"
    got = pt.autograd.grad(y, [x, w, b], gy)
    decomposed = pt.dispatch.registry.get("layer_norm").decomposition
    want = pt.autograd.grad(decomposed(x, (4,), w, b), [x, w, b], gy)
    for g1, g2 in zip(got, want):
        np.testing.assert_allclose(g1.tolist(), g2.tolist(), rtol=1e-10, atol=1e-12)
    assert pt.autograd.gradgradcheck(lambda t, s: pt.nn.functional.layer_norm(t, (3, 4), s), (x, leaf(np.ones((3, 4)))))

