"""plugtorch.autograd.forward_ad (PyTorch's API): tangents against central finite differences in
float64, the API's errors as PyTorch's, in-place writes and views, custom Functions' jvp, and
that reverse mode is unaffected."""
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.autograd.forward_ad as fwAD
import plugtorch.nn.functional as F

F64, C128 = pt.float64, pt.complex128


def finite_difference(f, xs, ts, eps=1e-6):
    up = f(*[x + eps * t for x, t in zip(xs, ts)])
    down = f(*[x - eps * t for x, t in zip(xs, ts)])
    return ((up - down) / (2 * eps)).numpy()


def tangent(f, xs, ts):
    with fwAD.dual_level():
        out = f(*[fwAD.make_dual(x, t) for x, t in zip(xs, ts)])
        p, t = fwAD.unpack_dual(out)
        return p.detach().numpy(), t.detach().numpy()


def r(*shape, dtype=F64):
    return pt.randn(*shape, dtype=dtype)


LSTM = None


def _lstm(x):
    global LSTM
    if LSTM is None:
        pt.manual_seed(3)
        LSTM = pt.nn.LSTM(3, 4, batch_first=True).double()
    return LSTM(x)[0]


CASES = {
    "sin_times_two": (lambda x: x.sin() * 2, lambda: [r(5)]),
    "x_times_x": (lambda x: x * x, lambda: [r(5)]),
    "broadcast_add": (lambda a, b: a + b, lambda: [r(3, 4), r(4)]),
    "matmul": (lambda a, b: a @ b, lambda: [r(3, 4), r(4, 2)]),
    "softmax": (lambda a: pt.softmax(a, 1), lambda: [r(3, 4)]),
    "cross_entropy": (lambda a: F.cross_entropy(a, pt.tensor([0, 2, 1])), lambda: [r(3, 4)]),
    "conv2d": (lambda x, w: F.conv2d(x, w, padding=1), lambda: [r(1, 2, 5, 5), r(3, 2, 3, 3)]),
    "layer_norm": (lambda x: F.layer_norm(x, (4,)), lambda: [r(3, 4)]),
    "max_values": (lambda x: x.max(1).values, lambda: [r(3, 4)]),
    "sort_values": (lambda x: x.sort(1).values, lambda: [r(3, 4)]),
    "cat": (lambda a, b: pt.cat([a, b * 2]), lambda: [r(3), r(2)]),
    "where": (lambda a, b: pt.where(a > 0, a, b), lambda: [r(5), r(5)]),
    "indexing": (lambda a: a[pt.tensor([0, 2, 2])] * a[1:3].sum(), lambda: [r(4)]),
    "pow": (lambda a, b: a.abs() ** b, lambda: [r(4), r(4)]),
    "lstm": (_lstm, lambda: [r(2, 5, 3)]),
    "complex_square": (lambda z: z * z, lambda: [r(3, dtype=C128)]),
    "complex_abs": (lambda z: z.abs(), lambda: [r(3, dtype=C128)]),
    "complex_times_conj": (lambda z: z * z.conj(), lambda: [r(3, dtype=C128)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_tangents_match_finite_differences(name):
    f, make = CASES[name]
    pt.manual_seed(0)
    xs = make()
    ts = [pt.randn(x.shape, dtype=x.dtype) for x in xs]
    primal, tan = tangent(f, xs, ts)
    np.testing.assert_allclose(primal, f(*xs).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(tan, finite_difference(lambda *a: f(*a).detach(), xs, ts), rtol=1e-6, atol=1e-8)


def test_agrees_with_func_jvp_on_an_mlp():
    pt.manual_seed(1)
    m = pt.nn.Sequential(pt.nn.Linear(4, 8), pt.nn.Tanh(), pt.nn.Linear(8, 2)).double()
    x, t = r(5, 4), r(5, 4)
    _, expected = pt.func.jvp(m, (x,), (t,))
    np.testing.assert_allclose(tangent(m, [x], [t])[1], expected.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_results_without_a_dependence_or_derivative():
    x = pt.tensor([1.5, 2.5])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, pt.tensor([1.0, 1.0]))
        assert fwAD.unpack_dual(pt.ones(2) * 3).tangent is None      # independent of the dual
        assert fwAD.unpack_dual(d.argmax()).tangent is None          # not differentiable
        assert fwAD.unpack_dual(d.detach()).tangent is None
        assert fwAD.unpack_dual(d.floor()).tangent.tolist() == [0.0, 0.0]   # zero derivative
        assert fwAD.unpack_dual(x).tangent is None


def test_views_and_in_place_writes():
    x = pt.tensor([1.0, 2.0, 3.0])
    t = pt.tensor([1.0, 10.0, 100.0])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, t)
        assert fwAD.unpack_dual(d.view(3, 1).t()).tangent.tolist() == [[1.0, 10.0, 100.0]]
        assert [fwAD.unpack_dual(u).tangent.item() for u in d.unbind(0)] == [1.0, 10.0, 100.0]
        h = d.clone()
        h[0] = 5.0                      # a constant written through a view: its tangent is 0
        assert fwAD.unpack_dual(h).tangent.tolist() == [0.0, 10.0, 100.0]
        h[2] = d[1] * 3                 # a dual written through a view
        assert fwAD.unpack_dual(h).tangent.tolist() == [0.0, 10.0, 30.0]
        z = pt.zeros(3)
        z.add_(d)                       # an in-place op (out of place, then copy_)
        z.mul_(d)                       # d(z d) = z' d + z d' with z = d
        np.testing.assert_allclose(fwAD.unpack_dual(z).tangent.numpy(), (2 * x * t).numpy())
        w = d.clone()
        w.zero_()
        assert fwAD.unpack_dual(w).tangent.tolist() == [0.0, 0.0, 0.0]
        c = pt.zeros(3)
        c.copy_(d)
        assert fwAD.unpack_dual(c).tangent.tolist() == t.tolist()


def test_dropout_tangent_uses_the_same_mask():
    x = pt.tensor([1.0, 2.0, 3.0, 4.0] * 8, dtype=F64)
    t = pt.ones(32, dtype=F64)
    pt.manual_seed(5)
    expected = F.dropout(x, 0.5, training=True)
    pt.manual_seed(5)
    primal, tan = tangent(lambda a: F.dropout(a, 0.5, training=True), [x], [t])
    np.testing.assert_array_equal(primal, expected.numpy())          # one draw, as without forward AD
    np.testing.assert_allclose(tan, primal / x.numpy())                # t * mask / (1 - p)


def test_reverse_mode_is_unaffected():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, pt.tensor([1.0, 0.0]))
        out = (d * d).sum()
        assert fwAD.unpack_dual(out).tangent.item() == 2.0              # 2 x . t
        assert out.requires_grad
        out.backward()
        plain = fwAD.make_dual(pt.tensor([1.0]), pt.tensor([1.0])).sin()
        assert not plain.requires_grad                                   # no leaked history
    assert x.grad.tolist() == [2.0, 4.0]


def test_the_level_and_its_errors():
    x = pt.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="no level exists, make sure to enter_dual_level"):
        fwAD.make_dual(x, x)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, pt.ones(2))
        assert repr(d) == "tensor([1., 2.], tangent=tensor([1., 1.]))"
        with pytest.raises(RuntimeError, match="Tensor is of size \\[2\\] while the given forward gradient is of "
                                               "size \\[3\\]"):
            fwAD.make_dual(x, pt.ones(3))
        with pytest.raises(ValueError, match="Expected primal to be floating point or complex, but got: "
                                             "plugtorch.int64"):
            fwAD.make_dual(pt.tensor([1, 2]), pt.ones(2))
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
            fwAD.enter_dual_level()
    assert fwAD.unpack_dual(d) == (d, None)          # the level's tangents are gone
    assert fwAD.unpack_dual(d).tangent is None and d._fw_grad is None


class _Cube(pt.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 3 * x * x * g


class _CubeJvp(_Cube):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)
        return x ** 3

    @staticmethod
    def jvp(ctx, tx):
        x, = ctx.saved_tensors
        return 30 * x * x * tx        # (ten times the derivative: the jvp is what counts, not forward's ops)


def test_custom_function_uses_its_jvp():
    x = pt.tensor([1.0, 2.0])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, pt.tensor([1.0, 1.0]))
        with pytest.raises(NotImplementedError, match="You must implement the jvp function for custom "
                                                      "autograd.Function to use it with forward mode AD"):
            _Cube.apply(d)
        out = _CubeJvp.apply(d)
        p, t = fwAD.unpack_dual(out)
        assert p.tolist() == [1.0, 8.0] and t.tolist() == [30.0, 120.0]
        assert t._fw_grad is None
        assert fwAD.unpack_dual(_CubeJvp.apply(x)).tangent is None


def test_view_ops_read_the_tangent_in_the_primal_layout():
    # a tangent laid out otherwise than its primal: view() of it failed (multi-head attention's
    # reshapes), and as_strided (diagonal's decomposition) read the tangent at the primal's strides
    pt.manual_seed(4)
    x, t = r(3, 4), r(4, 3).t()                      # contiguous primal, transposed tangent
    _, tan = tangent(lambda a: a.view(12) * 1, [x], [t])
    np.testing.assert_array_equal(tan, t.numpy().reshape(12))
    xt, tc = r(4, 3).t(), r(3, 4)                    # transposed primal, contiguous tangent
    f = lambda a: pt.diagonal(a, 1) * 1
    _, tan = tangent(f, [xt], [tc])
    np.testing.assert_allclose(tan, finite_difference(f, [xt], [tc]), rtol=1e-8)
    np.testing.assert_array_equal(tan, np.diagonal(tc.numpy(), 1))


def test_inputs_depending_on_each_other_inside_a_graph():
    # y and sin(y) both in the caller's graph (w requires grad): the gradient by y through add
    # used to add the path through sin(y), so add's tangent counted t * cos(y) twice
    pt.manual_seed(5)
    w = r(4).requires_grad_()
    x, t = r(4), r(4)
    f = lambda a: (lambda y: y + y.sin())(a * w)
    with fwAD.dual_level():
        out = f(fwAD.make_dual(x, t))
        tan = fwAD.unpack_dual(out).tangent.numpy()
        assert out.requires_grad      # the caller's graph is kept
    np.testing.assert_allclose(tan, finite_difference(lambda a: f(a).detach(), [x], [t]), rtol=1e-6, atol=1e-8)
    y = (x * w).detach().numpy()
    np.testing.assert_allclose(tan, t.numpy() * w.detach().numpy() * (1 + np.cos(y)), rtol=1e-9)


def test_writes_through_a_view_reach_the_dual_itself():
    # make_dual's result is a view of its primal: writing into it through another view (d[1] = 5,
    # d[1:].mul_(3)) left its own tangent unchanged
    x, t = pt.tensor([1.0, 2.0, 3.0], dtype=F64), pt.tensor([0.5, -1.0, 2.0], dtype=F64)

    def set_one(a):
        a[1] = 5.0
        return a

    def scale_tail(a):
        a[1:].mul_(3)
        return a
    for f in (set_one, scale_tail):
        with fwAD.dual_level():
            d = fwAD.make_dual(x.clone(), t)
            f(d)
            tan = fwAD.unpack_dual(d).tangent.numpy()
        np.testing.assert_allclose(tan, finite_difference(lambda a: f(a.clone()), [x], [t]), rtol=1e-8, atol=1e-12)
    with fwAD.dual_level():
        d = fwAD.make_dual(x.clone(), t)
        d[1] = 5.0
        assert fwAD.unpack_dual(d).tangent.tolist() == [0.5, 0.0, 2.0]
        d[1:].mul_(3)
        assert fwAD.unpack_dual(d).tangent.tolist() == [0.5, 0.0, 6.0]


def test_in_place_shape_changes_reshape_the_tangent():
    # unsqueeze_ / t_ / squeeze_ change the tensor's shape in place; its tangent kept the old shape
    x = pt.arange(6, dtype=F64).reshape(2, 3)
    t = pt.arange(6, dtype=F64).reshape(2, 3) * 10
    with fwAD.dual_level():
        d = fwAD.make_dual(x.clone(), t)
        d.t_()
        np.testing.assert_array_equal(fwAD.unpack_dual(d).tangent.numpy(), t.numpy().T)
        d.unsqueeze_(0)
        assert tuple(fwAD.unpack_dual(d).tangent.shape) == (1, 3, 2)
        d.squeeze_(0)
        out = (d * d).sum(1)
        np.testing.assert_allclose(fwAD.unpack_dual(out).tangent.numpy(),
                                   finite_difference(lambda a: (a.t() * a.t()).sum(1), [x], [t]), rtol=1e-8)


def test_a_long_loop_inside_one_level_keeps_only_live_tangents():
    x = pt.tensor([1.0, 2.0], dtype=F64)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, pt.ones(2, dtype=F64))
        y = d
        for _ in range(2000):
            y = (y * 1.0001).sin() + d           # every intermediate is dropped at once
        assert len(fwAD._state.duals) < 1000     # (2000 x 4 tangents were made)
        assert fwAD.unpack_dual(y).tangent is not None
