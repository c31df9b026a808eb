"""plugtorch.func's differentiating transforms: values against closed forms, finite differences
(float64) and autograd.grad; trees of arguments and outputs; nesting; torch's errors."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.func import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, linearize, vjp, vmap

F64 = pt.float64


def t(*v):
    return pt.tensor(list(v), dtype=F64)


def fd_jac(f, x, eps=1e-6):
    cols = []
    for i in range(x.size):
        hi, lo = x.copy(), x.copy()
        hi.flat[i] += eps
        lo.flat[i] -= eps
        cols.append((np.ravel(f(hi)) - np.ravel(f(lo))) / (2 * eps))
    return np.stack(cols, 1)


def _raises(exc, msg, fn):
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value) == msg, str(info.value)


# ---- grad -------------------------------------------------------------------------------------
def test_grad_closed_form_argnums_and_aux():
    x, y = t(1.0, 2.0), t(3.0, -1.0)
    f = lambda a, b: (a ** 2 * b).sum()                       # noqa: E731
    assert grad(f)(x, y).tolist() == [6.0, -4.0]
    gx, gy = grad(f, argnums=(0, 1))(x, y)
    assert gx.tolist() == [6.0, -4.0] and gy.tolist() == [1.0, 4.0]
    assert grad(f, argnums=-1)(x, y).tolist() == [1.0, 4.0]
    g, aux = grad(lambda a: ((a ** 2).sum(), {"twice": a * 2}), has_aux=True)(x)
    assert g.tolist() == [2.0, 4.0] and aux["twice"].tolist() == [2.0, 4.0] and not aux["twice"].requires_grad
    g, (value, aux) = grad_and_value(lambda a: ((a ** 2).sum(), 7), has_aux=True)(x)
    assert value.item() == 5.0 and aux == 7 and not value.requires_grad
    # an unused argument gets zeros, a tree argument a tree of gradients
    assert grad(lambda a, b: a.sum(), argnums=1)(x, y).tolist() == [0.0, 0.0]
    g = grad(lambda p: (p["w"] * p["b"][0]).sum())({"w": x, "b": [t(2.0)]})
    assert g["w"].tolist() == [2.0, 2.0] and g["b"][0].tolist() == [3.0]


def test_grad_nests_and_connects_to_outer_autograd():
    assert grad(grad(lambda a: a ** 3))(pt.tensor(2.0, dtype=F64)).item() == 12.0        # 6x
    assert grad(grad(grad(lambda a: a ** 3)))(pt.tensor(2.0, dtype=F64)).item() == 6.0
    # a closure over the outer argument: d/dx [d/dy (x*y)^2 at y=1] = d/dx 2x^2 = 4x
    outer = grad(lambda a: grad(lambda b: (a * b) ** 2)(pt.tensor(1.0, dtype=F64)))
    assert outer(pt.tensor(3.0, dtype=F64)).item() == 12.0
    x = t(1.0, 2.0).requires_grad_()
    g = grad(lambda a: (a ** 3).sum())(x)
    assert g.requires_grad
    assert pt.autograd.grad(g.sum(), x)[0].tolist() == [6.0, 12.0]
    with pt.no_grad():                                        # torch's grad ignores an outer no_grad
        assert grad(lambda a: (a * a).sum())(t(1.0, 2.0)).tolist() == [2.0, 4.0]


def test_grad_errors_as_torch():
    x = t(1.0, 2.0)
    _raises(RuntimeError, "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor with 1 "
                          "dims. Maybe you wanted to use the vjp or jacrev APIs instead?", lambda: grad(lambda a: a)(x))
    _raises(RuntimeError, "grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got <class 'int'>",
            lambda: grad(lambda a: 3)(x))
    _raises(RuntimeError, "Got argnum=1, but only 1 positional inputs", lambda: grad(lambda a: a.sum(), argnums=1)(x))
    _raises(RuntimeError, "argnums must be int or Tuple[int, ...], got: <class 'list'>",
            lambda: grad(lambda a: a.sum(), argnums=[0])(x))
    _raises(RuntimeError, "argnums elements must be unique, got (0, 0)",
            lambda: grad(lambda a, b: a.sum(), argnums=(0, 0))(x, x))
    _raises(RuntimeError, "argnums must be non-empty", lambda: grad(lambda a, b: a.sum(), argnums=())(x, x))
    _raises(RuntimeError, "grad_and_value(f)(*args): output of function f should be a tuple: (output, aux) if "
                          "has_aux is True", lambda: grad(lambda a: a.sum(), has_aux=True)(x))
    _raises(ValueError, "Thing passed to transform API must be Tensor, got <class 'float'>",
            lambda: grad(lambda a: a)(3.0))
    with pytest.raises(RuntimeError, match="only Tensors of floating point and complex dtype can require gradients"):
        grad(lambda a: a.sum())(pt.ones(2, dtype=pt.int64))


# ---- vjp, jvp, linearize -------------------------------------------------------------------------
def test_vjp_trees_repeated_calls_and_aux():
    x, y = t(1.0, 2.0), t(3.0, 4.0)
    out, fn = vjp(lambda a, b: {"p": a * b, "s": [a.sum()]}, x, y)
    assert out["p"].tolist() == [3.0, 8.0] and not out["p"].requires_grad
    for _ in range(2):                                         # the graph is kept between calls
        gx, gy = fn({"p": t(1.0, 1.0), "s": [t(10.0).reshape(())]})
        assert gx.tolist() == [13.0, 14.0] and gy.tolist() == [1.0, 2.0]
    out, fn, aux = vjp(lambda a: (a.exp(), a.sum()), x, has_aux=True)
    assert aux.item() == 3.0
    np.testing.assert_allclose(fn(t(1.0, 1.0))[0].numpy(), np.exp([1.0, 2.0]))
    _raises(RuntimeError, "Expected pytree structure of cotangents to be the same as pytree structure of outputs to "
                          "the function. cotangents: (*,), primal output: *",
            lambda: vjp(lambda a: a, x)[1]((x,)))
    _raises(RuntimeError, "vjp(f, *primals): expected f(*primals) to return only tensors, got unsupported type "
                          "<class 'int'>", lambda: vjp(lambda a: 3, x))


def test_jvp_and_linearize_against_finite_differences():
    x0 = np.array([0.2, -0.7, 1.1])
    v0 = np.array([1.0, 0.5, -2.0])
    f_np = lambda a: np.sin(a) * np.sum(a ** 2)                # noqa: E731
    f = lambda a: a.sin() * (a ** 2).sum()                     # noqa: E731
    ref = fd_jac(f_np, x0) @ v0
    out, jv = jvp(f, (pt.tensor(x0),), (pt.tensor(v0),))
    np.testing.assert_allclose(jv.numpy(), ref, rtol=1e-7)
    np.testing.assert_allclose(out.numpy(), f_np(x0), rtol=1e-12)
    out, fn = linearize(f, pt.tensor(x0))
    np.testing.assert_allclose(fn(pt.tensor(v0)).numpy(), ref, rtol=1e-7)
    np.testing.assert_allclose(fn(pt.tensor(2 * v0)).numpy(), 2 * ref, rtol=1e-7)
    out, jv, aux = jvp(lambda a: (a * 2, a.sum()), (t(1.0),), (t(1.0),), has_aux=True)
    assert jv.tolist() == [2.0] and aux.item() == 1.0
    # an output that does not depend on the primals has a zero tangent
    assert jvp(lambda a, b: a * 3, (t(1.0), t(2.0)), (t(1.0), t(1.0)))[1].tolist() == [3.0]


def test_jvp_and_linearize_errors_as_torch():
    x = t(1.0, 2.0)
    _raises(RuntimeError, "jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it should be valid to call "
                          "f(*primals).", lambda: jvp(lambda a: a, x, x))
    _raises(RuntimeError, "jvp(f, primals, tangents): Expected primals and tangents to have the same python "
                          "structure. For example, if primals is a tuple of 3 tensors, tangents also must be. Got "
                          "primals with structure (*,) and tangents with structure (*, *)",
            lambda: jvp(lambda a: a, (x,), (x, x)))
    _raises(RuntimeError, "Trying to set a forward gradient that has a different size than that of the original "
                          "Tensor, this is not supported. Tensor is of size [2] while the given forward gradient is of "
                          "size [3].", lambda: jvp(lambda a: a, (x,), (t(1.0, 2.0, 3.0),)))
    _raises(RuntimeError, "jvp(f, primals, tangents, strict=True): The output of f is independent of the inputs. "
                          "This is not allowed with strict=True.",
            lambda: jvp(lambda a: pt.ones(2, dtype=F64), (x,), (x,), strict=True))
    fn = linearize(lambda a: a.sin(), x)[1]
    _raises(RuntimeError, "tangent:0 with shape plugtorch.Size([3]) in flattened pytree doesn't match the shape "
                          "plugtorch.Size([2]) of the corresponding primal.", lambda: fn(t(1.0, 2.0, 3.0)))


# ---- jacobians, hessian -----------------------------------------------------------------------
def test_jacrev_jacfwd_against_finite_differences():
    x0 = np.array([[0.3, -0.5], [1.2, 0.4]])
    f_np = lambda a: np.tanh(a @ a).ravel()                    # noqa: E731
    ref = fd_jac(lambda a: f_np(a.reshape(2, 2)), x0.ravel()).reshape(4, 2, 2)
    f = lambda a: (a @ a).tanh().reshape(-1)                  # noqa: E731
    for jac in (jacrev(f), jacfwd(f), jacrev(f, chunk_size=1)):
        j = jac(pt.tensor(x0))
        assert tuple(j.shape) == (4, 2, 2)
        np.testing.assert_allclose(j.numpy(), ref, rtol=1e-7, atol=1e-9)


def test_jacrev_trees_argnums_and_aux():
    x, y = t(1.0, 2.0), t(3.0)
    j = jacrev(lambda a, b: {"prod": a * b, "sum": [a.sum()]}, argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(j["prod"][0].numpy(), 3 * np.eye(2))
    np.testing.assert_array_equal(j["prod"][1].numpy(), [[1.0], [2.0]])
    assert tuple(j["sum"][0][0].shape) == (2,) and j["sum"][0][1].tolist() == [0.0]
    j, aux = jacrev(lambda a: (a * 2, a.sum()), has_aux=True)(x)
    assert aux.item() == 3.0 and j.tolist() == [[2.0, 0.0], [0.0, 2.0]]
    with pytest.raises(ValueError, match=r"jacrev: `chunk_size` should be greater than 0\."):
        jacrev(lambda a: a, chunk_size=0)
    _raises(RuntimeError, "Only allowed values for randomness are 'error', 'different', or 'same'. Got bad",
            lambda: jacfwd(lambda a: a, randomness="bad"))
    with pytest.raises(RuntimeError, match="vmap: called random operation while in randomness error mode"):
        jacfwd(lambda a: a + pt.randn(2, dtype=F64))(x)


def test_hessian_closed_form_and_nested_jacobians():
    x = t(1.0, 2.0, 0.5)
    f = lambda a: a[0] ** 2 * a[1] + a[2].sin() * a[0]        # noqa: E731
    ref = [[2 * 2.0, 2 * 1.0, np.cos(0.5)], [2 * 1.0, 0.0, 0.0], [np.cos(0.5), 0.0, -np.sin(0.5) * 1.0]]
    np.testing.assert_allclose(hessian(f)(x).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(jacrev(jacrev(f))(x).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(jacfwd(jacrev(f))(x).numpy(), ref, rtol=1e-12)
    h = hessian(lambda a, b: (a * b).sum() ** 2, argnums=(0, 1))(t(1.0), t(2.0))
    assert h[0][0].tolist() == [[8.0]] and h[0][1].tolist() == [[8.0]] and h[1][1].tolist() == [[2.0]]


# ---- composition with vmap: per-sample gradients -----------------------------------------------
def test_per_sample_grads_match_a_loop_of_autograd_grad():
    pt.manual_seed(0)
    w, b = pt.randn(3, 4, dtype=F64), pt.randn(3, dtype=F64)
    xs, ys = pt.randn(6, 4, dtype=F64), pt.randn(6, 3, dtype=F64)

    def loss(params, x, y):
        return ((x @ params["w"].T + params["b"] - y) ** 2).mean()

    g = vmap(grad(loss), in_dims=(None, 0, 0))({"w": w, "b": b}, xs, ys)
    assert tuple(g["w"].shape) == (6, 3, 4) and tuple(g["b"].shape) == (6, 3)
    for i in range(6):
        pw, pb = w.clone().requires_grad_(), b.clone().requires_grad_()
        rw, rb = pt.autograd.grad(loss({"w": pw, "b": pb}, xs[i], ys[i]), (pw, pb))
        np.testing.assert_allclose(g["w"][i].numpy(), rw.numpy(), rtol=1e-12)
        np.testing.assert_allclose(g["b"][i].numpy(), rb.numpy(), rtol=1e-12)
    # per-sample jacobians, and the jacobian of a vmapped function (block diagonal)
    x = pt.randn(4, 3, dtype=F64)
    j = vmap(jacrev(lambda r: r.sin()))(x)
    for i in range(4):
        np.testing.assert_allclose(j[i].numpy(), np.diag(np.cos(x[i].numpy())), rtol=1e-12)
    jb = jacrev(vmap(lambda r: r.sin()))(x[0])
    np.testing.assert_allclose(jb.numpy(), np.diag(np.cos(x[0].numpy())), rtol=1e-12)
    gv = grad(lambda m: vmap(lambda r: (r ** 2).sum())(m).sum())(x)
    np.testing.assert_allclose(gv.numpy(), 2 * x.numpy(), rtol=1e-12)


def test_per_sample_grads_of_a_module_through_functional_call():
    """The torch.func tutorial's recipe: vmap(grad(loss of functional_call(model, (params, buffers), x)))."""
    from plugtorch.func import functional_call
    pt.manual_seed(0)
    model = pt.nn.Sequential(pt.nn.Linear(4, 5), pt.nn.Tanh(), pt.nn.Linear(5, 2)).to(F64)
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    xs, ys = pt.randn(3, 4, dtype=F64), pt.tensor([0, 1, 1])

    def loss(p, b, x, y):
        out = functional_call(model, (p, b), (x.unsqueeze(0),))
        return pt.nn.functional.cross_entropy(out, y.unsqueeze(0))

    g = vmap(grad(loss), in_dims=(None, None, 0, 0))(params, buffers, xs, ys)
    for i in range(3):
        model.zero_grad()
        pt.nn.functional.cross_entropy(model(xs[i:i + 1]), ys[i:i + 1]).backward()
        for name, p in model.named_parameters():
            np.testing.assert_allclose(g[name][i].numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_model_ensemble_through_stack_module_state_and_vmap():
    """torch.func's ensembling recipe: the vmapped ensemble equals each model called alone."""
    from plugtorch.func import functional_call, replace_all_batch_norm_modules_, stack_module_state
    pt.manual_seed(0)
    models = [pt.nn.Sequential(pt.nn.Linear(3, 4), pt.nn.BatchNorm1d(4), pt.nn.ReLU()).eval() for _ in range(3)]
    params, buffers = stack_module_state(models)
    assert sorted(params) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    assert tuple(params["0.weight"].shape) == (3, 4, 3) and params["0.weight"].is_leaf
    assert params["0.weight"].requires_grad and not buffers["1.running_mean"].requires_grad
    x = pt.randn(5, 3)
    out = vmap(lambda p, b, d: functional_call(models[0], (p, b), (d,)), in_dims=(0, 0, None))(params, buffers, x)
    for i, m in enumerate(models):
        np.testing.assert_allclose(out[i].detach().numpy(), m(x).detach().numpy(), rtol=1e-6)
    _raises(RuntimeError, "stack_module_state: Expected at least one model, got 0.", lambda: stack_module_state([]))
    _raises(RuntimeError, "stack_module_state: Expected all models to be of the same class.",
            lambda: stack_module_state([pt.nn.Linear(2, 2), pt.nn.Bilinear(2, 2, 2)]))
    _raises(RuntimeError, "stack_module_state: Expected all models to have the same training/eval mode.",
            lambda: stack_module_state([pt.nn.Linear(2, 2), pt.nn.Linear(2, 2).eval()]))
    bn = replace_all_batch_norm_modules_(pt.nn.Sequential(pt.nn.BatchNorm1d(4)))
    assert bn[0].running_mean is None and not bn[0].track_running_stats


def test_a_captured_tensor_that_requires_grad_stays_connected():
    """grad of a function closing over w (requires grad): the result is differentiable in w, as
    torch's (torch gives tensor([8., 18.]) and w.grad [8., 12.] here); plain inputs stay detached."""
    w = pt.tensor([2.0, 3.0], requires_grad=True)
    g = grad(lambda v: ((v * w) ** 2).sum())(pt.tensor([1.0, 1.0]))      # 2 v w^2
    assert g.tolist() == [8.0, 18.0] and g.requires_grad
    g.sum().backward()                                                    # d/dw sum(2 v w^2) = 4 v w
    assert w.grad.tolist() == [8.0, 12.0]
    assert not grad(lambda v: (v * v).sum())(pt.tensor([1.0, 1.0])).requires_grad
    per_sample = vmap(grad(lambda v: ((v * w) ** 2).sum()))(pt.ones(3, 2))
    assert per_sample.requires_grad


def test_jvp_and_linearize_of_complex_functions_against_finite_differences():
    # the double-vjp trick needs a complex cotangent that requires grad; it got none, and every
    # complex output's tangent came out zero
    a = pt.tensor([1.0 + 0.5j, 2.0 - 1.0j])
    t = pt.tensor([0.3 + 1.0j, -0.7 + 0.2j])
    an, tn = a.numpy().astype(np.complex128), t.numpy().astype(np.complex128)
    for f, fn in ((lambda z: z * z, lambda z: z * z), (lambda z: z.exp(), np.exp),
                  (lambda z: z.conj() * z, lambda z: np.conj(z) * z), (lambda z: z.abs(), np.abs)):
        h = 1e-6
        ref = (fn(an + h * tn) - fn(an - h * tn)) / (2 * h)
        np.testing.assert_allclose(jvp(f, (a,), (t,))[1].numpy(), ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(linearize(f, a)[1](t).numpy(), ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jvp(lambda z: z * z, (a,), (t,))[1].numpy(), 2 * an * tn, rtol=1e-6)


def test_forward_mode_transforms_refuse_integer_primals_with_valueerror():
    # torch's forward-mode check (jvp, linearize, jacfwd and hessian, which is jacfwd of jacrev)
    n = pt.arange(3)
    for call in (lambda: jvp(lambda a: a * 2, (n,), (n,)), lambda: linearize(lambda a: a * 2, n),
                 lambda: jacfwd(lambda a: a * 2)(n), lambda: hessian(lambda a: (a * a).sum())(n),
                 lambda: jacfwd(lambda a, b: a * b, argnums=1)(pt.ones(3), n)):
        with pytest.raises(ValueError, match="Expected primal to be floating point or complex, but got: .*int64"):
            call()
    # an integer argument that is not differentiated is fine
    np.testing.assert_allclose(jacfwd(lambda a, b: a * b, argnums=0)(pt.ones(3), n).numpy(), np.diag([0.0, 1.0, 2.0]))
