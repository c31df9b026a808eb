"""plugtorch.autograd.functional: values against closed forms and central finite differences in
float64, the tuple-in/tuple-out structure, create_graph, and torch's errors (type and message)."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp

F64 = pt.float64


def t(*v):
    return pt.tensor(list(v), dtype=F64)


def fd_jacobian(f, xs, eps=1e-6):
    """Central differences of f (numpy in, numpy out) at the arrays xs: one (out, in) block per input."""
    blocks = []
    for k, x in enumerate(xs):
        cols = []
        for i in range(x.size):
            hi = [a.copy() for a in xs]
            lo = [a.copy() for a in xs]
            hi[k].flat[i] += eps
            lo[k].flat[i] -= eps
            cols.append((np.ravel(f(*hi)) - np.ravel(f(*lo))) / (2 * eps))
        blocks.append(np.stack(cols, 1))
    return blocks


def pt_fn(*xs):
    x, y = xs
    return (x.sin() * y.sum(), x.exp().prod() * y)


def np_fn_out(k):
    def f(x, y):
        return (np.sin(x) * y.sum(), np.exp(x).prod() * y)[k]
    return f


X = np.array([0.3, -1.2, 0.7])
Y = np.array([1.5, -0.4])


def test_jacobian_matches_finite_differences_for_two_inputs_two_outputs():
    jac = jacobian(pt_fn, (pt.tensor(X), pt.tensor(Y)))
    assert isinstance(jac, tuple) and len(jac) == 2 and all(len(j) == 2 for j in jac)
    for k in range(2):
        ref = fd_jacobian(np_fn_out(k), [X, Y])
        for i in range(2):
            out_shape = (3,) if k == 0 else (2,)
            assert tuple(jac[k][i].shape) == out_shape + ((3,) if i == 0 else (2,))
            np.testing.assert_allclose(jac[k][i].numpy().reshape(ref[i].shape), ref[i], rtol=1e-6, atol=1e-8)


def test_jacobian_closed_form_single_tensor_and_zero_block():
    x = t(1.0, 2.0, 3.0)
    np.testing.assert_allclose(jacobian(lambda a: a ** 3, x).numpy(), np.diag(3 * np.array([1.0, 4.0, 9.0])))
    # an input the output does not use: a zero block (strict=False), matrix-shaped input
    m = pt.tensor(np.arange(6.0).reshape(2, 3))
    j = jacobian(lambda a, b: a.sum(0), (m, x))
    assert tuple(j[0].shape) == (3, 2, 3) and tuple(j[1].shape) == (3, 3)
    np.testing.assert_array_equal(j[1].numpy(), np.zeros((3, 3)))
    np.testing.assert_array_equal(j[0].numpy(), np.stack([np.eye(3)] * 2, 1))
    # vectorize=True and the forward-mode strategy give the same numbers
    for kw in ({"vectorize": True}, {"vectorize": True, "strategy": "forward-mode"}):
        np.testing.assert_allclose(jacobian(lambda a: a.sin(), x, **kw).numpy(), np.diag(np.cos([1.0, 2.0, 3.0])))


def test_vjp_and_jvp_against_the_jacobian():
    xs = (pt.tensor(X), pt.tensor(Y))
    jac = jacobian(pt_fn, xs)
    v_out = (t(1.0, -2.0, 0.5), t(0.25, 3.0))
    v_in = (t(-1.0, 0.5, 2.0), t(0.3, 0.7))
    out, g = vjp(pt_fn, xs, v_out)
    for i in range(2):
        ref = sum(v_out[k].numpy() @ jac[k][i].numpy() for k in range(2))
        np.testing.assert_allclose(g[i].numpy(), ref, rtol=1e-12)
    out2, jv = jvp(pt_fn, xs, v_in)
    for k in range(2):
        ref = sum(jac[k][i].numpy() @ v_in[i].numpy() for i in range(2))
        np.testing.assert_allclose(jv[k].numpy(), ref, rtol=1e-12)
        np.testing.assert_allclose(out2[k].numpy(), np_fn_out(k)(X, Y), rtol=1e-12)
    assert not out[0].requires_grad and not g[0].requires_grad
    # a single tensor in and out gives single tensors back; v may be omitted for one element
    o, gx = vjp(lambda a: (a ** 2).sum(), t(1.0, 2.0))
    assert isinstance(gx, pt.Tensor) and gx.tolist() == [2.0, 4.0] and o.item() == 5.0
    o, tv = jvp(lambda a: a * 3, pt.tensor(2.0, dtype=F64))
    assert tv.item() == 3.0


def rosen(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def rosen_hessian(x):
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i + 1, i + 1] += 200
        h[i, i + 1] = h[i + 1, i] = -400 * x[i]
    return h


def test_hessian_hvp_vhp_closed_form_rosenbrock():
    x0 = np.array([0.5, -0.3, 1.2, 0.8])
    ref = rosen_hessian(x0)
    x = pt.tensor(x0)
    np.testing.assert_allclose(hessian(rosen, x).numpy(), ref, rtol=1e-12)
    v = np.array([1.0, -2.0, 0.5, 3.0])
    out, hv = hvp(rosen, x, pt.tensor(v))
    np.testing.assert_allclose(hv.numpy(), ref @ v, rtol=1e-12)
    np.testing.assert_allclose(out.item(), float(rosen(x)), rtol=1e-12)
    np.testing.assert_allclose(vhp(rosen, x, pt.tensor(v))[1].numpy(), v @ ref, rtol=1e-12)


def test_hessian_of_two_inputs_has_nested_blocks():
    x, y = t(1.0, 2.0), t(3.0)
    h = hessian(lambda a, b: (a ** 2).sum() * b.sum() ** 3, (x, y))
    # d2/da2 = 2 b^3 I, d2/dadb = 6 a b^2, d2/db2 = 6 |a|^2 b
    np.testing.assert_allclose(h[0][0].numpy(), 54 * np.eye(2))
    np.testing.assert_allclose(h[0][1].numpy(), [[54.0], [108.0]])
    np.testing.assert_allclose(h[1][0].numpy(), [[54.0, 108.0]])
    np.testing.assert_allclose(h[1][1].numpy(), [[90.0]])


def test_create_graph_keeps_the_result_differentiable():
    x = t(1.0, 2.0).requires_grad_()
    j = jacobian(lambda a: a ** 3, x, create_graph=True)
    assert j.requires_grad
    g, = pt.autograd.grad(j.sum(), x)          # d/dx sum(diag(3x^2)) = 6x
    np.testing.assert_allclose(g.numpy(), [6.0, 12.0])
    out, hv = hvp(lambda a: (a ** 4).sum(), x, t(1.0, 1.0), create_graph=True)
    g, = pt.autograd.grad(hv.sum(), x)         # hv = 12 x^2 -> 24 x
    np.testing.assert_allclose(g.numpy(), [24.0, 48.0])
    assert not jacobian(lambda a: a ** 3, x).requires_grad


def test_grad_mode_of_the_caller_is_restored():
    with pt.no_grad():
        _, g = vjp(lambda a: a * a, t(1.0, 2.0), t(1.0, 1.0))
        assert not pt.is_grad_enabled()
    assert g.tolist() == [2.0, 4.0]


def _raises(exc, match, fn):
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value) == match, str(info.value)


def test_argument_errors_as_torch():
    x = t(1.0, 2.0, 3.0)
    _raises(TypeError, "The inputs given to vjp must be either a Tensor or a tuple of Tensors but the given inputs "
                       "has type <class 'list'>.", lambda: vjp(lambda a: a, [x]))
    _raises(TypeError, "The inputs given to jvp must be either a Tensor or a tuple of Tensors but the value at index "
                       "1 has type <class 'int'>.", lambda: jvp(lambda a, b: a, (x, 3), (x, x)))
    _raises(RuntimeError, "The vector v can only be None if the user-provided function returns a single Tensor with "
                          "a single element.", lambda: vjp(lambda a: a, x))
    _raises(RuntimeError, "The vector v can only be None if the input to the user-provided function is a single "
                          "Tensor with a single element.", lambda: jvp(lambda a: a, x))
    _raises(RuntimeError, "v has invalid size: should be plugtorch.Size([3]) but got plugtorch.Size([2]).",
            lambda: vjp(lambda a: a, x, t(1.0, 2.0)))
    _raises(RuntimeError, "v is a tuple of invalid length: should be 2 but got 1.",
            lambda: vjp(lambda a: (a, a), x, (x,)))
    _raises(RuntimeError, "Entry 1 in v has invalid size: should be plugtorch.Size([3]) but got plugtorch.Size([2]).",
            lambda: jvp(lambda a, b: a, (x, x), (x, t(1.0, 2.0))))
    _raises(RuntimeError, "The Tensor returned by the function given to hessian should contain a single element",
            lambda: hessian(lambda a: a * 2, x))
    _raises(RuntimeError, "The function given to vhp should return a single Tensor",
            lambda: vhp(lambda a: (a.sum(),), x, x))
    _raises(TypeError, "The outputs of the user-provided function given to jacobian must be either a Tensor or a "
                       "tuple of Tensors but the given outputs of the user-provided function has type <class 'int'>.",
            lambda: jacobian(lambda a: 3, x))
    with pytest.raises(AssertionError, match='Expected strategy to be either "forward-mode" or "reverse-mode"'):
        jacobian(lambda a: a, x, strategy="central")
    with pytest.raises(NotImplementedError, match="only implemented for `vectorize=True`"):
        jacobian(lambda a: a, x, strategy="forward-mode")


def test_strict_mode_errors_as_torch():
    x, y = t(1.0, 2.0, 3.0), t(1.0, 2.0)
    _raises(RuntimeError, "Output 0 of the user-provided function does not require gradients. The outputs must be "
                          "computed in a differentiable manner from the input when running in strict mode.",
            lambda: vjp(lambda a: a.detach(), x, x, strict=True))
    _raises(RuntimeError, "The output of the user-provided function is independent of input 1. This is not allowed "
                          "in strict mode.", lambda: vjp(lambda a, b: a * 2, (x, y), x, strict=True))
    _raises(RuntimeError, "Output 0 of the user-provided function is independent of input 1. This is not allowed in "
                          "strict mode.", lambda: jacobian(lambda a, b: a * 2, (x, y), strict=True))
    _raises(RuntimeError, "The jacobian of the user-provided function is independent of input 0. This is not allowed "
                          "in strict mode when create_graph=True.",
            lambda: jvp(lambda a: a * 2, x, x, create_graph=True, strict=True))
    with pytest.raises(RuntimeError, match="found that the jacobian of the user-provided function with respect to "
                                           "input 0 is independent of the input"):
        hessian(lambda a: (a * 2).sum(), x, strict=True)
    # without strict the same calls give zeros
    np.testing.assert_array_equal(vjp(lambda a, b: a * 2, (x, y), x)[1][1].numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(hessian(lambda a: (a * 2).sum(), x).numpy(), np.zeros((3, 3)))
