"""Post-accumulate-grad hooks and final callbacks (what DDP overlaps its all-reduces with)."""
import threading

import pytest

import plugtorch as pt
from plugtorch.autograd.engine import queue_callback


def test_post_accumulate_grad_hook_sees_the_accumulated_grad_after_the_tensor_hooks():
    x = pt.ones(2, requires_grad=True)
    order = []
    x.register_hook(lambda g: order.append(("pre", None if x.grad is None else x.grad.tolist())))

    def post(t):
        assert t is x
        order.append(("post", t.grad.tolist()))
        queue_callback(lambda: order.append("final"))
    h = x.register_post_accumulate_grad_hook(post)
    (x * 3).sum().backward()
    assert order == [("pre", None), ("post", [3.0, 3.0]), "final"]
    # autograd.grad accumulates nothing: no post hook (as PyTorch)
    pt.autograd.grad((x * 3).sum(), x)
    assert order[-1] == ("pre", [3.0, 3.0])
    order.clear()
    (x * 3).sum().backward(inputs=[x])
    assert order == [("pre", [3.0, 3.0]), ("post", [6.0, 6.0]), "final"]
    h.remove()
    order.clear()
    (x * 3).sum().backward()
    assert order == [("pre", [6.0, 6.0])]


def test_post_hooks_run_once_per_leaf_after_all_its_gradients_arrived():
    w = pt.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (w * 2 + w * w).sum().backward()    # two paths into w
    assert seen == [[4.0, 6.0]]


def test_leaves_are_ready_in_reverse_order_of_use():
    a, b = pt.ones(1, requires_grad=True), pt.ones(1, requires_grad=True)
    ready = []
    a.register_post_accumulate_grad_hook(lambda t: ready.append("a"))
    b.register_post_accumulate_grad_hook(lambda t: ready.append("b"))
    ((a * 2).exp() * b).sum().backward()
    assert ready == ["b", "a"]


def test_post_accumulate_grad_hook_errors():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        pt.ones(2).register_post_accumulate_grad_hook(lambda t: None)
    y = pt.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"):
        y.register_post_accumulate_grad_hook(lambda t: None)


def test_callbacks_run_after_the_graph_and_may_queue_more():
    z = pt.ones(2, requires_grad=True)
    order = []

    def first():
        order.append(("first", z.grad.tolist()))
        queue_callback(lambda: order.append("second"))
    z.register_hook(lambda g: queue_callback(first))
    (z * 1).sum().backward()
    assert order == [("first", [1.0, 1.0]), "second"]


def test_queue_callback_outside_backward_and_a_failing_callback():
    with pytest.raises(RuntimeError, match="Final callbacks can only be installed during backward pass"):
        queue_callback(lambda: None)
    w = pt.ones(2, requires_grad=True)

    def bad():
        raise ValueError("boom")
    h = w.register_hook(lambda g: queue_callback(bad))
    with pytest.raises(ValueError, match="boom"):
        (w * 1).sum().backward()
    h.remove()
    with pytest.raises(RuntimeError, match="Final callbacks can only be installed"):   # nothing left running
        queue_callback(lambda: None)


def test_nested_backward_keeps_its_callbacks_apart():
    outer, inner = pt.ones(1, requires_grad=True), pt.ones(1, requires_grad=True)
    order = []

    def hook(g):
        inner.register_hook(lambda g2: queue_callback(lambda: order.append("inner done")))
        with pt.enable_grad():
            (inner * 2).sum().backward()
        queue_callback(lambda: order.append("outer done"))
    outer.register_hook(hook)
    (outer * 2).sum().backward()
    assert order == ["inner done", "outer done"]


def test_callbacks_are_per_thread():
    errors = []

    def run():
        try:
            queue_callback(lambda: None)
        except RuntimeError as e:
            errors.append(str(e))
    x = pt.ones(1, requires_grad=True)

    def hook(g):
        t = threading.Thread(target=run)
        t.start()
        t.join()
    x.register_hook(hook)
    (x * 2).sum().backward()
    assert errors == ["Final callbacks can only be installed during backward pass."]
