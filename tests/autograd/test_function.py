"""plugtorch.autograd.Function: user-defined forward/backward."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd import Function


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class ScaleBy(Function):
    """out = x * k for a Python number k; records needs_input_grad."""
    seen = None

    @staticmethod
    def forward(ctx, x, k, w):
        ScaleBy.seen = ctx.needs_input_grad
        ctx.k = k
        ctx.save_for_backward(w)
        return x * k * w

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        gx = g * ctx.k * w if ctx.needs_input_grad[0] else None
        return gx, None, None


class SortWithIndex(Function):
    @staticmethod
    def forward(ctx, x):
        v, i = x.sort()
        ctx.mark_non_differentiable(i)
        ctx.save_for_backward(i)
        return v, i

    @staticmethod
    def backward(ctx, gv, gi):
        (i,) = ctx.saved_tensors
        return pt.zeros_like(gv).scatter(0, i, gv)


def test_apply_forward_and_backward():
    x = pt.tensor([0.0, 1.0], dtype=pt.float64, requires_grad=True)
    y = Exp.apply(x)
    assert y.grad_fn.name() == "ExpBackward"
    assert y.grad_fn.next_functions[0][0].variable is x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), np.exp([0.0, 1.0]))


def test_function_gradcheck_and_gradgradcheck():
    x = pt.tensor([0.3, -0.2], dtype=pt.float64, requires_grad=True)
    assert pt.autograd.gradcheck(Exp.apply, (x,))
    assert pt.autograd.gradgradcheck(Exp.apply, (x,))


def test_needs_input_grad_and_non_tensor_args():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    w = pt.tensor([3.0, 4.0])
    y = ScaleBy.apply(x, 2.0, w)
    assert ScaleBy.seen == (True, False, False)
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 8.0]


def test_forward_runs_without_recording():
    class Peek(Function):
        inside = None

        @staticmethod
        def forward(ctx, x):
            Peek.inside = pt.is_grad_enabled()
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    x = pt.ones(2, requires_grad=True)
    y = Peek.apply(x)
    assert Peek.inside is False
    assert y.grad_fn.name() == "PeekBackward"


def test_no_graph_when_no_input_requires_grad():
    y = Exp.apply(pt.tensor([0.0]))
    assert not y.requires_grad and y.grad_fn is None


def test_mark_non_differentiable_and_multiple_outputs():
    x = pt.tensor([3.0, 1.0, 2.0], dtype=pt.float64, requires_grad=True)
    v, i = SortWithIndex.apply(x)
    assert v.requires_grad and not i.requires_grad
    (v * pt.tensor([1.0, 2.0, 3.0], dtype=pt.float64)).sum().backward()
    assert x.grad.tolist() == [3.0, 1.0, 2.0]


def test_mark_non_differentiable_float_output():
    class TwoOut(Function):
        @staticmethod
        def forward(ctx, x):
            m = x * 0 + 1
            ctx.mark_non_differentiable(m)
            return x * 2, m

        @staticmethod
        def backward(ctx, g, gm):
            assert gm.tolist() == [0.0, 0.0]     # materialized zeros for the unused output
            return g * 2
    x = pt.ones(2, requires_grad=True)
    y, m = TwoOut.apply(x)
    assert not m.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_saved_tensors_freed_after_backward():
    x = pt.tensor([1.0], requires_grad=True)
    y = Exp.apply(x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.sum().backward()


def test_saved_input_modified_in_place_raises():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = Square.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_backward_returning_wrong_count_raises():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g, g, g
    a = pt.ones(1, requires_grad=True)
    b = pt.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="function BadBackward returned an incorrect number of gradients"):
        Bad.apply(a, b).sum().backward()


def test_backward_returning_wrong_shape_raises():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return pt.ones(3)
    a = pt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BadShape.*invalid gradient.*got \[3\] but expected shape compatible with \[2\]"):
        BadShape.apply(a).sum().backward()


def test_function_output_that_is_an_input_view_is_detached_first():
    class Ident(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5
    x = pt.ones(2, requires_grad=True)
    y = Ident.apply(x)
    assert y is not x and x.is_leaf and x.grad_fn is None
    y.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


class AddOneInPlace(Function):
    @staticmethod
    def forward(ctx, x):
        x.add_(1)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g


def test_mark_dirty_rewrites_the_history_of_the_modified_input():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = AddOneInPlace.apply(h)
    assert y is h and h.grad_fn.name() == "AddOneInPlaceBackward"
    assert h.tolist() == [4.0, 7.0]
    (h * h).sum().backward()
    assert x.grad.tolist() == [24.0, 42.0]     # d/dx (3x + 1)^2 = 6 (3x + 1)


def test_mark_dirty_on_leaf_requiring_grad_raises():
    x = pt.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="AddOneInPlace: a leaf Variable that requires grad"):
        AddOneInPlace.apply(x)


def test_function_returning_non_tensor_outputs():
    class WithCount(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, 7

        @staticmethod
        def backward(ctx, g, _):
            return g * 2
    x = pt.ones(2, requires_grad=True)
    y, n = WithCount.apply(x)
    assert n == 7
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


class ScaledMul(Function):
    """The new style: forward without ctx, setup_context saves what backward needs."""

    @staticmethod
    def forward(x, y, scale):
        return x * y * scale

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, y, scale = inputs
        ctx.save_for_backward(x, y)
        ctx.scale = scale

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y * ctx.scale, g * x * ctx.scale, None


def test_setup_context_style_function():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    y = pt.tensor([3.0, 4.0], requires_grad=True)
    out = ScaledMul.apply(x, y, 2.0)
    assert out.tolist() == [6.0, 16.0]
    out.sum().backward()
    assert x.grad.tolist() == [6.0, 8.0] and y.grad.tolist() == [2.0, 4.0]
    assert out.grad_fn.scale == 2.0              # grad_fn reads through to ctx, as PyTorch's
    with pt.no_grad():
        assert not ScaledMul.apply(x, y, 2.0).requires_grad


def test_grad_fn_of_a_function_exposes_its_ctx():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    y = Exp.apply(x)
    assert y.grad_fn.needs_input_grad == (True,)
    assert np.allclose(y.grad_fn.saved_tensors[0].tolist(), np.exp([1.0, 2.0]))
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.grad_fn.saved_tensors
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        y.grad_fn.missing


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    @pt.autograd.function.once_differentiable
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


def test_once_differentiable_runs_backward_once_and_refuses_a_second_derivative():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    Cube.apply(x).sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]
    g, = pt.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    assert g.tolist() == [3.0, 12.0] and not g.requires_grad   # backward ran under no_grad
    go = pt.ones(2, requires_grad=True)
    g, = pt.autograd.grad(Cube.apply(x), x, grad_outputs=go, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice a function that was marked with @once_differentiable"):
        g.sum().backward()


def test_save_for_backward_takes_tensors_only():
    class SavesInt(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 1

    with pytest.raises(TypeError, match="save_for_backward can only save tensors .*argument 1 is of type int"):
        SavesInt.apply(pt.ones(1, requires_grad=True))


def test_backward_returning_a_gradient_for_a_non_tensor_input_or_a_non_tensor_raises():
    class GradForNumber(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * 2, g

    class NumberGrad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return 3.0

    x = pt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="gradient different than None at position 2, but the corresponding "
                                           "forward input was not a Tensor"):
        GradForNumber.apply(x, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="returned a gradient of type float at index 0"):
        NumberGrad.apply(x).sum().backward()


def test_retain_grad_follows_an_input_marked_dirty():
    # y = x * 1, doubled in place by the Function: y.grad = d(sum(y^2))/dy = 2y = 4x, x.grad = 8x
    class Double(Function):
        @staticmethod
        def forward(ctx, a):
            a.mul_(2)
            ctx.mark_dirty(a)
            return a

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = pt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.retain_grad()
    Double.apply(y)
    (y * y).sum().backward()
    assert y.grad.tolist() == [4.0, 8.0] and x.grad.tolist() == [8.0, 16.0]


def test_calling_an_instance_is_refused_with_the_way_to_apply():
    with pytest.raises(RuntimeError, match=r"legacy autograd functions .* call Exp.apply\(...\)"):
        Exp()(pt.ones(1, requires_grad=True))


class SinhWithExps(Function):
    """sinh(x) with exp(x) and exp(-x) as extra outputs, which backward reads as saved outputs."""
    @staticmethod
    def forward(ctx, x):
        ex, enx = x.exp(), (-x).exp()
        ctx.save_for_backward(ex, enx)
        return (ex - enx) / 2, ex, enx

    @staticmethod
    def backward(ctx, g, g_ex, g_enx):
        ex, enx = ctx.saved_tensors
        return g * (ex + enx) / 2 + g_ex * ex - g_enx * enx


@pytest.mark.parametrize("hooked", [False, True])
def test_saved_outputs_route_double_backward_to_their_own_output(hooked):
    # d/dx [g cosh x] through the saved exp(x), exp(-x): the gradient must enter backward as
    # g_ex, g_enx (outputs 1 and 2), giving sinh x; sent to output 0 it gave cosh x instead.
    import contextlib
    xs = np.array([0.5, -1.25, 2.0])
    x = pt.tensor(xs, requires_grad=True)
    ctx = pt.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t) if hooked else contextlib.nullcontext()
    with ctx:
        y = SinhWithExps.apply(x)[0]
    (g,) = pt.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), np.cosh(xs), rtol=1e-12)
    (gg,) = pt.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), np.sinh(xs), rtol=1e-12)
    assert pt.autograd.gradgradcheck(lambda t: SinhWithExps.apply(t)[0], (x,))
