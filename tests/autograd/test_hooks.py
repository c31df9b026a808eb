"""Hooks on tensors and graph nodes: what they may return, where retain_grad's gradient goes
after an in-place op, handles, post-accumulate hooks and a leaf's AccumulateGrad node."""
from __future__ import annotations

import pytest

import plugtorch as pt


def leaf(values):
    return pt.tensor(values, dtype=pt.float64, requires_grad=True)


@pytest.mark.parametrize("bad, exc, match", [
    (lambda g: pt.ones(3, dtype=pt.float64), RuntimeError, r"hook 'bad' has changed the size of value \(was \[2\], got \[3\]\)"),
    (lambda g: g.float(), RuntimeError, r"hook 'bad' has changed the type of value \(was float64 .*got float32"),
    (lambda g: 3.0, TypeError, r"hook 'bad' returned a float; a gradient hook must return a Tensor"),
])
@pytest.mark.parametrize("on_leaf", [True, False])
def test_a_tensor_hook_must_return_a_gradient_like_the_one_it_got(bad, exc, match, on_leaf):
    # a wrong replacement used to flow on: x.grad of shape [3] for an x of shape [2]
    bad.__name__ = "bad"
    x = leaf([1.0, 2.0])
    y = x * 2
    (x if on_leaf else y).register_hook(bad)
    with pytest.raises(exc, match=match):
        y.sum().backward()


def test_a_node_hook_replacement_is_checked_like_a_tensor_hook():
    x = leaf([1.0, 2.0])
    y = x * 3

    def wrong(grad_inputs, grad_outputs):
        return (pt.ones(3, dtype=pt.float64),)
    y.grad_fn.register_hook(wrong)
    with pytest.raises(RuntimeError, match="hook 'wrong' has changed the size of value"):
        y.sum().backward()


def test_retain_grad_follows_the_tensor_through_an_in_place_op():
    # y.grad is d(loss)/d(y's new value) = 2 * (3 * 2x) = [12, 24], not the gradient of
    # the value y had before mul_ ([36, 72]); x.grad = 72x
    x = leaf([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    y.mul_(3)
    (y * y).sum().backward()
    assert y.grad.tolist() == [12.0, 24.0]
    assert x.grad.tolist() == [72.0, 144.0]


def test_retain_grad_follows_a_view_and_a_base_written_through_a_view():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2                       # [2, 4, 6]
    y.retain_grad()
    y[:2].mul_(3)                   # y = [6, 12, 6]
    (y * y).sum().backward()
    assert y.grad.tolist() == [12.0, 24.0, 12.0]      # 2 * y after the write
    assert x.grad.tolist() == [72.0, 144.0, 24.0]     # 2y * 3 * 2 where written, 2y * 2 elsewhere

    x = leaf([1.0, 2.0, 3.0])
    v = (x * 2)[:2]
    v.retain_grad()
    v.mul_(3)                       # v = [6, 12]
    (v * v).sum().backward()
    assert v.grad.tolist() == [12.0, 24.0]
    assert x.grad.tolist() == [72.0, 144.0, 0.0]


def test_a_hook_registered_before_an_in_place_op_stays_on_the_old_value():
    x = leaf([1.0, 2.0])
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    y.retain_grad()
    y.add_(1)                      # y = 2x + 1
    (y * y).sum().backward()
    assert seen == [[6.0, 10.0]]   # the old value's gradient: 2y (add's derivative is 1)
    assert y.grad.tolist() == [6.0, 10.0]


def test_a_hook_handle_is_a_context_manager():
    x = leaf([1.0, 2.0])
    with x.register_hook(lambda g: g * 100):
        (x * 1).sum().backward()
    assert x.grad.tolist() == [100.0, 100.0]
    x.grad = None
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_a_post_accumulate_grad_hook_must_return_none():
    x = leaf([1.0, 2.0])
    x.register_post_accumulate_grad_hook(lambda t: t.grad * 2)
    with pytest.raises(RuntimeError, match="post accumulate grad hooks should return None"):
        (x * 3).sum().backward()


def test_hooks_on_a_leafs_accumulate_grad_node_run_after_accumulation():
    x = leaf([1.0, 2.0])
    y = x * 3
    acc = y.grad_fn.next_functions[0][0]
    seen = []
    acc.register_hook(lambda grad_inputs, grad_outputs: seen.append(
        (grad_inputs, [g.tolist() for g in grad_outputs], x.grad.tolist())))
    y.sum().backward()
    assert seen == [((), [[3.0, 3.0]], [3.0, 3.0])]


def test_a_retained_grad_under_create_graph_is_differentiable():
    # y = x^2, loss = sum(y^2): y.grad = 2y = 2x^2, and d(sum(y.grad))/dx = 4x
    x = leaf([1.0, 2.0])
    y = x * x
    y.retain_grad()
    (y * y).sum().backward(create_graph=True)
    assert y.grad.tolist() == [2.0, 8.0] and y.grad.requires_grad
    (g,) = pt.autograd.grad(y.grad.sum(), x)
    assert g.tolist() == [4.0, 8.0]


def test_a_gradient_a_hook_kept_is_not_the_leafs_grad():
    # the hook's tensor used to become x.grad itself: x.grad.add_(100) (or an optimizer's
    # zero_grad(set_to_none=False)) then changed what the hook kept
    x = leaf([1.0, 2.0])
    y = x + 1
    kept = []
    x.register_hook(lambda g: kept.append(g))
    y.register_hook(lambda g: kept.append(g))          # add passes y's gradient on unchanged
    (y * 2).sum().backward()
    x.grad.add_(100)
    assert [k.tolist() for k in kept] == [[2.0, 2.0], [2.0, 2.0]]
    assert x.grad.tolist() == [102.0, 102.0]


def test_backward_inputs_runs_only_the_hooks_on_the_way():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    seen = []
    x.register_hook(lambda g: seen.append("x"))
    w.register_hook(lambda g: seen.append("w"))
    (x * w).sum().backward(inputs=[x])
    assert seen == ["x"] and w.grad is None and x.grad.tolist() == [3.0, 4.0]


def test_grad_captures_a_non_leaf_after_its_tensor_hooks_and_before_its_nodes_prehooks():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: g * 10)
    y.grad_fn.register_prehook(lambda grad_outputs: (grad_outputs[0] * 1000,))
    (gy,) = pt.autograd.grad((y * 3).sum(), y)
    assert gy.tolist() == [30.0, 30.0]


def test_multi_grad_hook_all_and_any():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    c = a * b
    seen = []
    handle = pt.autograd.graph.register_multi_grad_hook(
        (a, b, c), lambda grads: seen.append([None if g is None else g.tolist() for g in grads]))
    c.sum().backward(retain_graph=True)            # dc/da = b, dc/db = a
    (a * 2).sum().backward()                       # b and c not reached: None
    assert seen == [[[3.0, 4.0], [1.0, 2.0], [1.0, 1.0]], [[2.0, 2.0], None, None]]
    handle.remove()
    (a * 2).sum().backward()
    assert len(seen) == 2

    first = []
    pt.autograd.graph.register_multi_grad_hook((a, b), lambda g: first.append(g.tolist()), mode="any")
    (a * b * 5).sum().backward()                   # one call per pass, whichever came first
    (a * b * 5).sum().backward()
    assert len(first) == 2 and all(f in ([15.0, 20.0], [5.0, 10.0]) for f in first)
    with pytest.raises(ValueError, match="Expects mode to be one of"):
        pt.autograd.graph.register_multi_grad_hook((a,), print, mode="some")


def test_grad_with_respect_to_a_gradient_edge_and_node_metadata():
    x = leaf([1.0, 2.0])
    y = x * 2
    e = pt.autograd.graph.get_gradient_edge(y)
    (gy,) = pt.autograd.grad((y * y).sum(), e)      # 2y = 4x
    assert gy.tolist() == [4.0, 8.0]
    y.grad_fn.metadata["tag"] = 1
    assert y.grad_fn.metadata == {"tag": 1}
