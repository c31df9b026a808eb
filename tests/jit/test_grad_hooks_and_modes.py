"""compile over calls whose autograd setting changes between calls: a gradient hook registered
on (or removed from) a parameter after the step was compiled, and enable_grad() inside a
function called under no_grad. Each compares with the known values over several calls."""
import numpy as np
import pytest

import plugtorch as pt


def _step(w, opt):
    def step(x):
        opt.zero_grad()
        loss = (w * x).sum()
        loss.backward()
        opt.step()
        return loss.detach()
    return step


def test_a_parameter_hook_added_after_compiling_is_applied():
    # loss = sum(w * x): the gradient is x; SGD lr 0.5 subtracts 0.5 * x, the hook scales it by 0
    w = pt.zeros(2, requires_grad=True)
    opt = pt.optim.SGD([w], lr=0.5)
    c = pt.compile(_step(w, opt))
    x = pt.tensor([1.0, 2.0])
    c(x), c(x)
    np.testing.assert_array_equal(w.detach().numpy(), [-1.0, -2.0])
    h = w.register_hook(lambda g: g * 0)
    c(x), c(x)
    np.testing.assert_array_equal(w.detach().numpy(), [-1.0, -2.0])    # (replayed without the hook: -2, -4)
    h.remove()
    c(x), c(x)
    np.testing.assert_array_equal(w.detach().numpy(), [-2.0, -4.0])    # (and not with it after its removal)
    with w.register_hook(lambda g: g * 2):
        c(x)
    np.testing.assert_array_equal(w.detach().numpy(), [-3.0, -6.0])
    c(x)
    np.testing.assert_array_equal(w.detach().numpy(), [-3.5, -7.0])
    assert pt.compiler.stats()["graphs"] == 5     # (each add or remove keys a new graph)


def test_a_post_accumulate_grad_hook_added_after_compiling_runs():
    w = pt.ones(2, requires_grad=True)

    def f(x):
        (w * x).sum().backward()
    c = pt.compile(f)
    x = pt.tensor([3.0, 4.0])
    for _ in range(2):
        w.grad = None
        c(x)
        np.testing.assert_array_equal(w.grad.numpy(), [3.0, 4.0])

    def halve(p):
        with pt.no_grad():
            p.grad.mul_(0.5)
    w.register_post_accumulate_grad_hook(halve)
    for _ in range(2):
        w.grad = None
        c(x)
        np.testing.assert_array_equal(w.grad.numpy(), [1.5, 2.0])


def test_enable_grad_inside_a_call_made_under_no_grad_records_autograd():
    w = pt.tensor([2.0, 3.0], requires_grad=True)

    def f(x):
        with pt.enable_grad():
            return w * x
    c = pt.compile(f)
    for k in range(1, 4):
        with pt.no_grad():
            y = c(pt.full((2,), float(k)))
        assert y.requires_grad    # (the replay ran dispatch-free under no_grad: False)
        np.testing.assert_array_equal(y.detach().numpy(), [2.0 * k, 3.0 * k])
        w.grad = None
        y.sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), [float(k), float(k)])
    assert pt.compiler.stats()["compiled_calls"] == 2


def test_a_traced_graph_with_enable_grad_inside_records_autograd_under_no_grad():
    w = pt.tensor([2.0, 3.0], requires_grad=True)

    def f(x):
        with pt.enable_grad():
            y = w * x
        return y, x * 2
    with pt.no_grad():
        t = pt.jit.trace(f, (pt.ones(2),))
        y, z = t(pt.full((2,), 5.0))
    assert y.requires_grad and not z.requires_grad
    np.testing.assert_array_equal(z.numpy(), [10.0, 10.0])
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 5.0])


def test_requires_grad_set_on_an_input_inside_the_call_stays_set():
    # a gradient with respect to the input: d/dx sum(x * x) = 2x
    def f(x):
        x.requires_grad_()
        (x * x).sum().backward()
        return x.grad
    c = pt.compile(f)
    for k in range(4):
        x = pt.full((2,), float(k))
        np.testing.assert_array_equal(c(x).numpy(), [2.0 * k] * 2)
        assert x.requires_grad          # (the replay left it False)
        np.testing.assert_array_equal(x.grad.numpy(), [2.0 * k] * 2)
    assert pt.compiler.stats()["compiled_calls"] == 3


def test_an_output_detached_in_place_stays_detached():
    w = pt.tensor([2.0, 3.0], requires_grad=True)

    def f(x):
        y = w * x
        y.detach_()
        return y, w * 2
    c = pt.compile(f)
    for k in range(4):
        y, z = c(pt.full((2,), float(k)))
        np.testing.assert_array_equal(y.numpy(), [2.0 * k, 3.0 * k])
        assert not y.requires_grad and y.grad_fn is None    # (the replay through autograd: True)
        assert z.requires_grad
    assert pt.compiler.stats()["compiled_calls"] == 3


def test_a_double_backward_result_keeps_its_history():
    # z = |d/dw sum(w^2 x)|^2 = sum((2 w x)^2); dz/dw = 8 w x^2
    w = pt.tensor([1.0, 2.0], requires_grad=True)

    def f(x):
        g, = pt.autograd.grad((w * w * x).sum(), w, create_graph=True)
        return (g * g).sum()
    c = pt.compile(f)
    for k in range(1, 4):
        w.grad = None
        z = c(pt.full((2,), float(k)))
        assert z.item() == 4.0 * k * k * 5.0
        z.backward()      # (the replay returned z without history: backward raised)
        np.testing.assert_array_equal(w.grad.numpy(), [8.0 * k * k, 16.0 * k * k])
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 1 and any("create_graph=True" in r for r in st["reasons"])


def test_a_leaf_made_inside_the_call_keeps_requires_grad():
    # w = ones(2, requires_grad=True) made in the call, y = sum(w * x): eager hands back w requiring
    # grad and y with history (dy/dw = x); the replay recorded the ops, not the flag, and returned
    # w without requires_grad and y without grad_fn from the second call on
    def f(x):
        w = pt.ones(2, requires_grad=True)
        return w, (w * x).sum()
    c = pt.compile(f)
    for k in range(4):
        w, y = c(pt.tensor([float(k), 2.0 * k]))
        assert w.requires_grad and w.is_leaf and y.requires_grad and y.grad_fn is not None
        y.backward()
        np.testing.assert_array_equal(w.grad.numpy(), [k, 2.0 * k])
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 1 and any("requires grad" in r for r in st["reasons"])


def test_a_split_head_hands_its_tail_a_leaf_requiring_grad():
    # a partial graph (the .item() read splits it): the tail's backward through a leaf the head
    # made raised "element 0 of tensors does not require grad" from the first replay on
    seen = []

    def f(x):
        w = pt.ones(2, requires_grad=True)
        y = (w * x).sum()
        seen.append(y.item())
        y.backward()
        return w.grad
    c = pt.compile(f)
    for k in range(6):
        np.testing.assert_array_equal(c(pt.tensor([float(k), 3.0])).numpy(), [k, 3.0])
    assert seen == [k + 3.0 for k in range(6)]


def test_enable_grad_inside_a_call_traced_with_gradients_on_records_under_no_grad():
    # traced with grad mode on, the block looked like any other op; called under no_grad the
    # replay returned w * x without history, where eager's enable_grad() records it
    w = pt.tensor([2.0, 3.0], requires_grad=True)

    def f(x):
        with pt.enable_grad():
            y = w * x
        return y, x * 2
    t = pt.jit.trace(f, (pt.ones(2),))
    for k in range(1, 3):
        with pt.no_grad():
            y, z = t(pt.full((2,), float(k)))
        assert y.requires_grad and y.grad_fn is not None and not z.requires_grad
        np.testing.assert_array_equal(y.detach().numpy(), [2.0 * k, 3.0 * k])
        w.grad = None
        y.sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), [float(k)] * 2)
    assert pt.is_grad_enabled()
    with pt.no_grad():
        with pt.enable_grad():
            assert pt.is_grad_enabled()
        assert not pt.is_grad_enabled()


def _turns_grad_on(kind):
    # grad mode turned on inside the call other than by enable_grad(); each records in eager
    # under no_grad
    if kind == "set_grad_enabled block":
        return pt.set_grad_enabled(True)
    if kind == "autograd.grad_mode.set_grad_enabled":
        return pt.autograd.grad_mode.set_grad_enabled(True)
    if kind == "inference_mode(False)":
        return pt.inference_mode(False)
    raise AssertionError(kind)


@pytest.mark.parametrize("how", ["trace", "compile"])
@pytest.mark.parametrize("traced_with_grad", [True, False])
@pytest.mark.parametrize("kind", ["set_grad_enabled block", "autograd.grad_mode.set_grad_enabled",
                                  "inference_mode(False)", "set_grad_enabled call"])
def test_grad_turned_on_inside_a_call_records_under_no_grad(kind, traced_with_grad, how):
    # y = w * x with grad mode turned on inside f: called under no_grad, eager records y
    # (requires grad, d sum(y)/dw = x); traced with gradients on the replay returned y without
    # history (only enable_grad() blocks were told from inherited grad mode)
    w = pt.tensor([2.0, 3.0], requires_grad=True)

    def f(x):
        if kind == "set_grad_enabled call":
            prev = pt.is_grad_enabled()
            pt.set_grad_enabled(True)
            y = w * x
            pt.set_grad_enabled(prev)
        else:
            with _turns_grad_on(kind):
                y = w * x
        return y, x * 2
    with pt.set_grad_enabled(traced_with_grad):
        if how == "trace":
            c = pt.jit.trace(f, (pt.ones(2),))
        else:
            c = pt.compile(f)
            c(pt.ones(2)), c(pt.ones(2))
    for k in range(1, 4):
        with pt.no_grad():
            y, z = c(pt.full((2,), float(k)))
            assert not pt.is_grad_enabled()
        assert y.requires_grad and y.grad_fn is not None and not z.requires_grad
        np.testing.assert_array_equal(y.detach().numpy(), [2.0 * k, 3.0 * k])
        np.testing.assert_array_equal(z.numpy(), [2.0 * k] * 2)
        w.grad = None
        y.sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), [float(k)] * 2)
    assert pt.is_grad_enabled()


def test_a_call_that_leaves_grad_mode_changed_runs_eagerly():
    # f calls set_grad_enabled(True) as a function and returns: eager leaves grad mode on after
    # the call (under no_grad too) and y = w * x = [2, 3] records; the replay did not change grad
    # mode, so from the second call on the caller's no_grad block stayed off. Now a graph break
    w = pt.tensor([2.0, 3.0], requires_grad=True)

    def f(x):
        pt.set_grad_enabled(True)
        return w * x
    pt.compiler.reset()
    c = pt.compile(f)
    for _ in range(3):
        with pt.no_grad():
            y = c(pt.ones(2))
            assert pt.is_grad_enabled()
        assert y.requires_grad and y.tolist() == [2.0, 3.0]
    assert any("leaves grad mode on" in r for r in pt.compiler.stats()["reasons"])

    def g(x):
        pt.set_grad_enabled(False)
        return w * x
    c = pt.compile(g)
    for _ in range(3):
        y = c(pt.ones(2))
        assert not pt.is_grad_enabled() and not y.requires_grad and y.tolist() == [2.0, 3.0]
        pt.set_grad_enabled(True)
    with pytest.raises(RuntimeError, match="leaves grad mode off.*set_grad_enabled"):
        pt.compile(g, fullgraph=True)(pt.ones(2))
    pt.set_grad_enabled(True)
    with pytest.warns(pt.jit.TracerWarning, match="leaves grad mode off"):
        pt.jit.trace(g, (pt.ones(2),), check_trace=False)
    pt.set_grad_enabled(True)
