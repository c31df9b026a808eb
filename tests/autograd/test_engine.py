"""The graph and the engine: leaves, grad_fn, hooks, backward()/grad() arguments, and
gradients of the op families with known answers."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt


def leaf(values, dtype=pt.float64):
    return pt.tensor(values, dtype=dtype, requires_grad=True)


def test_requires_grad_argument_and_method():
    a = pt.tensor([1.0, 2.0], requires_grad=True)
    b = pt.tensor([1.0, 2.0])
    assert a.requires_grad and not b.requires_grad
    assert b.requires_grad_() is b and b.requires_grad
    b.requires_grad_(False)
    assert not b.requires_grad
    assert pt.zeros(2, requires_grad=True).requires_grad


def test_grad_is_accumulated_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0, 9.0]
    x.grad = None
    x.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_grad_fn_names_and_next_functions():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    c = a * b
    d = c + a
    s = d.sum()
    assert a.is_leaf and a.grad_fn is None
    assert not c.is_leaf
    assert c.grad_fn.name() == "MulBackward"
    assert d.grad_fn.name() == "AddBackward"
    assert s.grad_fn.name() == "SumBackward"
    (mul_fn, nr), (acc, nr2) = d.grad_fn.next_functions
    assert mul_fn is c.grad_fn and nr == 0
    assert acc.name() == "AccumulateGrad" and acc.variable is a
    accs = [f.variable for f, _ in c.grad_fn.next_functions]
    assert accs[0] is a and accs[1] is b
    # the leaf's accumulator is shared by every use of the leaf
    assert c.grad_fn.next_functions[0][0] is acc


def test_constant_input_has_no_next_function():
    a = leaf([1.0, 2.0])
    c = a * pt.tensor([2.0, 2.0], dtype=pt.float64)
    assert c.grad_fn.next_functions[1] == (None, 0)   # PyTorch's entry for an input needing no gradient


def test_next_functions_can_be_walked_as_pytorch_code_walks_them():
    # the pattern of graph printers (torchviz): every entry unpacks into (node, output_nr); an entry
    # of None made `for fn, _ in next_functions` raise TypeError
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    out = ((a * pt.tensor([2.0, 2.0], dtype=pt.float64)) * b + 1).sum()
    names, stack = [], [out.grad_fn]
    while stack:
        fn = stack.pop()
        names.append(fn.name())
        stack.extend(nxt for nxt, _ in fn.next_functions if nxt is not None)
    assert sorted(names) == ["AccumulateGrad", "AccumulateGrad", "AddBackward", "MulBackward", "MulBackward",
                             "SumBackward"]
    out.backward()
    assert a.grad.tolist() == [6.0, 8.0] and b.grad.tolist() == [2.0, 4.0]


def test_results_of_integer_ops_do_not_require_grad():
    a = leaf([1.5, 2.5])
    assert not (a > 2).requires_grad
    assert not a.argmax().requires_grad


def test_detach_shares_data_and_drops_history():
    a = leaf([1.0, 2.0])
    b = a * 2
    d = b.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    with pt.no_grad():
        d[0] = 10.0
    assert b.tolist() == [10.0, 4.0]     # shares storage


def test_detach_in_place():
    a = leaf([1.0, 2.0])
    b = a * 2
    assert b.detach_() is b
    assert b.is_leaf and not b.requires_grad and b.grad_fn is None


def test_detach_in_place_refuses_views():
    a = leaf([1.0, 2.0, 3.0])
    for v in (a.view(3), a[0:2], (a * 2)[1:], pt.ones(3)[0:2]):
        with pytest.raises(RuntimeError, match="Can't detach views in-place"):
            v.detach_()
    assert a.requires_grad and a.grad is None
    d = (a * 2)[0:2].detach()     # not a view as far as autograd goes
    assert d.detach_() is d and d.tolist() == [2.0, 4.0]


def test_retain_grad_on_non_leaf():
    a = leaf([1.0, 2.0])
    b = a * 3
    b.retain_grad()
    (b * b).sum().backward()
    assert b.grad.tolist() == [6.0, 12.0]
    assert a.grad.tolist() == [18.0, 36.0]


@pytest.mark.parametrize("hook_first", [False, True])
def test_retain_grad_stores_the_gradient_after_the_hooks(hook_first):
    # PyTorch runs the retains_grad hook after every tensor hook, whatever the order of
    # registration: a hook that doubles the gradient doubles .grad and what flows on
    a = leaf([1.0, 2.0])
    b = a * 3
    if hook_first:
        b.register_hook(lambda g: g * 2)
        b.retain_grad()
    else:
        b.retain_grad()
        b.register_hook(lambda g: g * 2)
    (b * b).sum().backward()
    assert b.grad.tolist() == [12.0, 24.0]
    assert a.grad.tolist() == [36.0, 72.0]


def test_non_leaf_grad_is_none_with_a_warning():
    a = leaf([1.0])
    b = a * 2
    b.sum().backward()
    with pytest.warns(UserWarning, match="retain_grad"):
        assert b.grad is None


def test_hook_on_leaf_sees_and_replaces_grad():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    h = x.register_hook(lambda g: g * 10)
    (x * x).sum().backward()
    assert seen == [[2.0, 4.0]]
    assert x.grad.tolist() == [20.0, 40.0]
    h.remove()
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_hook_on_non_leaf_replaces_grad_flowing_down():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: g * 0 + 1.0)
    (y * y).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_hook_needs_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        pt.ones(2).register_hook(lambda g: g)


def test_backward_with_gradient_argument():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    y.backward(pt.tensor([1.0, 0.5, 0.0], dtype=pt.float64))
    assert x.grad.tolist() == [2.0, 2.0, 0.0]


def test_backward_inputs_restricts_accumulation():
    a, b = leaf([1.0]), leaf([2.0])
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [2.0] and b.grad is None


def test_retain_graph_allows_second_backward():
    x = leaf([2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [8.0]


def test_second_backward_through_freed_graph_raises():
    x = leaf([2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_create_graph_gives_second_derivative():
    x = leaf([2.0, 3.0])
    y = (x * x * x).sum()
    (g,) = pt.autograd.grad(y, x, create_graph=True)
    assert g.tolist() == [12.0, 27.0] and g.requires_grad
    g.sum().backward()
    assert x.grad.tolist() == [12.0, 18.0]


def test_backward_create_graph_keeps_grad_differentiable():
    x = leaf([3.0])
    (x * x * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (gx,) = pt.autograd.grad(x.grad.sum(), x)
    assert gx.tolist() == [18.0]


def test_autograd_grad_leaves_dot_grad_alone():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    ga, gb = pt.autograd.grad((a * b).sum(), [a, b])
    assert ga.tolist() == [3.0, 4.0] and gb.tolist() == [1.0, 2.0]
    assert a.grad is None and b.grad is None
    assert not ga.requires_grad


def test_autograd_grad_outputs_and_multiple_outputs():
    x = leaf([1.0, 2.0])
    y1, y2 = x * 2, x * x
    (g,) = pt.autograd.grad([y1, y2], [x], grad_outputs=[pt.ones(2, dtype=pt.float64),
                                                         pt.tensor([1.0, 0.0], dtype=pt.float64)])
    assert g.tolist() == [4.0, 2.0]


def test_autograd_grad_of_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 3
    y = (h * h).sum()
    (gh,) = pt.autograd.grad(y, h)
    assert gh.tolist() == [6.0, 12.0]


def test_autograd_grad_allow_unused():
    a, b = leaf([1.0]), leaf([2.0])
    ga, gb = pt.autograd.grad((a * 2).sum(), [a, b], allow_unused=True)
    assert ga.tolist() == [2.0] and gb is None
    ga, gb = pt.autograd.grad((a * 2).sum(), [a, b], allow_unused=True, materialize_grads=True)
    assert gb.tolist() == [0.0]
    with pytest.raises(ValueError, match="allow_unused to be True or not passed when materialize_grads=True"):
        pt.autograd.grad((a * 2).sum(), [a, b], allow_unused=False, materialize_grads=True)


def test_autograd_grad_with_batched_grad_outputs():
    # one vector-Jacobian product per row of grad_outputs: rows of the identity give the
    # Jacobian of x**3, diag(3x^2) (is_grads_batched used to be ignored: a shape error)
    x, unused = leaf([1.0, 2.0]), leaf([5.0])
    y = x ** 3
    jac, none = pt.autograd.grad(y, [x, unused], grad_outputs=pt.eye(2, dtype=pt.float64),
                                 is_grads_batched=True, allow_unused=True, create_graph=True)
    assert jac.tolist() == [[3.0, 0.0], [0.0, 12.0]] and none is None
    (g2,) = pt.autograd.grad(jac.sum(), x)          # d/dx sum(3x^2) = 6x
    assert g2.tolist() == [6.0, 12.0]
    y = x.exp()
    (rows,) = pt.autograd.grad(y, x, grad_outputs=pt.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=pt.float64),
                               is_grads_batched=True)
    assert np.allclose(rows.tolist(), [[np.e, 0.0], [0.0, 2 * np.e ** 2], [np.e, np.e ** 2]])
    with pytest.raises(RuntimeError, match="second time"):      # the last row freed the graph
        y.sum().backward()
    with pytest.raises(RuntimeError, match=r"grad_output\[0\] has a shape of \[3, 3\] and output\[0\] has a shape of \[2\]"):
        pt.autograd.grad(x * x, x, grad_outputs=pt.ones(3, 3, dtype=pt.float64), is_grads_batched=True)


def test_autograd_grad_retain_graph():
    x = leaf([2.0])
    y = (x * x).sum()
    pt.autograd.grad(y, x, retain_graph=True)
    (g,) = pt.autograd.grad(y, x)
    assert g.tolist() == [4.0]
    with pytest.raises(RuntimeError, match="second time"):
        pt.autograd.grad(y, x)


def test_diamond_graph_accumulates_both_paths():
    x = leaf([2.0])
    a = x * 3
    b = x * x
    ((a + b) * a).sum().backward()
    # d/dx (3x + x^2) 3x = 18x + 9x^2
    assert x.grad.tolist() == [18 * 2.0 + 9 * 4.0]


def test_leaf_grad_is_not_aliased_to_other_grads():
    x = leaf([1.0, 2.0])
    y = leaf([1.0, 2.0])
    (x + y).sum().backward()
    x.grad.mul_(0)
    assert y.grad.tolist() == [1.0, 1.0]


def test_leaf_grad_is_not_aliased_to_the_root_gradient():
    x = leaf([1.0, 2.0])
    g = pt.ones(2, dtype=pt.float64)
    (x * 1).backward(g)
    x.grad.add_(1)
    assert g.tolist() == [1.0, 1.0]


# ---- gradients of the op families ---------------------------------------------------------
def test_broadcast_gradients_reduced_to_input_shape():
    a = leaf(np.ones((2, 3)))
    b = leaf([1.0, 2.0, 3.0])
    c = leaf([[1.0], [2.0]])
    s = leaf(2.0)
    (a * b * c * s).sum().backward()
    assert b.grad.shape == (3,) and b.grad.tolist() == [6.0, 6.0, 6.0]
    assert c.grad.shape == (2, 1) and c.grad.tolist() == [[12.0], [12.0]]
    assert s.grad.shape == () and s.grad.item() == 18.0


def test_grad_through_view_chain():
    x = leaf(np.arange(6.0))
    y = x.view(2, 3).t().reshape(6)[1:4]
    (y * pt.tensor([1.0, 2.0, 3.0], dtype=pt.float64)).sum().backward()
    # t().reshape(6) orders x as [0,3,1,4,2,5]; [1:4] picks x3, x1, x4
    assert x.grad.tolist() == [0.0, 2.0, 0.0, 1.0, 3.0, 0.0]


@pytest.mark.parametrize("key, expected", [
    (1, [[0, 0, 0], [1, 1, 1]]),
    ((slice(None), 2), [[0, 0, 1], [0, 0, 1]]),
    ((0, slice(0, 3, 2)), [[1, 0, 1], [0, 0, 0]]),
    (([0, 1, 1], [2, 2, 0]), [[0, 0, 1], [1, 0, 1]]),
    ((slice(None), [0, 0, 2]), [[2, 0, 1], [2, 0, 1]]),
    ("mask", [[1, 0, 1], [0, 1, 0]]),
])
def test_getitem_gradients(key, expected):
    x = leaf(np.arange(6.0).reshape(2, 3))
    if key == "mask":
        key = pt.tensor([[True, False, True], [False, True, False]])
    x[key].sum().backward()
    assert x.grad.tolist() == expected


def test_cat_stack_split_unbind_gradients():
    a, b = leaf([1.0, 2.0]), leaf([3.0])
    (pt.cat([a, b]) * pt.tensor([1.0, 2.0, 3.0], dtype=pt.float64)).sum().backward()
    assert a.grad.tolist() == [1.0, 2.0] and b.grad.tolist() == [3.0]
    a.grad = None
    c = leaf([5.0, 6.0])
    (pt.stack([a, c], 1) * pt.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=pt.float64)).sum().backward()
    assert a.grad.tolist() == [1.0, 3.0] and c.grad.tolist() == [2.0, 4.0]
    x = leaf(np.arange(5.0))
    p, q, r = x.split(2)
    (p.sum() + 2 * q.sum() + 3 * r.sum()).backward()
    assert x.grad.tolist() == [1.0, 1.0, 2.0, 2.0, 3.0]
    y = leaf(np.ones((2, 2)))
    u, v = y.unbind(1)
    (u * 5).sum().backward()          # v unused: its part of the gradient is zero
    assert y.grad.tolist() == [[5.0, 0.0], [5.0, 0.0]]


def test_gather_scatter_scatter_add_index_put_gradients():
    x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    i = pt.tensor([[0, 0], [2, 1]])
    x.gather(1, i).sum().backward()
    assert x.grad.tolist() == [[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]]

    x = leaf(np.zeros((2, 3)))
    src = leaf([[1.0, 2.0], [3.0, 4.0]])
    out = x.scatter(1, pt.tensor([[0, 1], [2, 0]]), src)
    (out * pt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=pt.float64)).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 3.0], [0.0, 5.0, 0.0]]     # overwritten places get none
    assert src.grad.tolist() == [[1.0, 2.0], [6.0, 4.0]]

    x = leaf(np.zeros(3))
    src = leaf([1.0, 2.0, 3.0])
    out = x.scatter_add(0, pt.tensor([0, 0, 2]), src)
    (out * pt.tensor([10.0, 20.0, 30.0], dtype=pt.float64)).sum().backward()
    assert x.grad.tolist() == [10.0, 20.0, 30.0] and src.grad.tolist() == [10.0, 10.0, 30.0]

    x = leaf(np.zeros(4))
    v = leaf([1.0, 2.0])
    out = x.index_put([pt.tensor([1, 3])], v)
    (out * pt.tensor([1.0, 2.0, 3.0, 4.0], dtype=pt.float64)).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 3.0, 0.0] and v.grad.tolist() == [2.0, 4.0]


def test_max_min_route_gradient_to_selected_elements():
    x = leaf([[1.0, 5.0, 3.0], [7.0, 2.0, 0.0]])
    v, i = x.max(1)
    v.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    x.grad = None
    x.min().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]


def test_amax_ties_split_evenly():
    x = leaf([3.0, 1.0, 3.0, 3.0])
    x.amax().backward()
    np.testing.assert_allclose(x.grad.tolist(), [1 / 3, 0.0, 1 / 3, 1 / 3])
    y = leaf([[2.0, 2.0], [1.0, 0.0]])
    y.amin(1).sum().backward()
    assert y.grad.tolist() == [[0.5, 0.5], [0.0, 1.0]]


def test_maximum_tie_splits_gradient():
    a, b = leaf([1.0, 2.0]), leaf([1.0, 3.0])
    pt.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0] and b.grad.tolist() == [0.5, 1.0]


def test_sort_and_topk_gradients():
    x = leaf([3.0, 1.0, 2.0])
    v, i = x.sort()
    (v * pt.tensor([1.0, 2.0, 3.0], dtype=pt.float64)).sum().backward()
    assert x.grad.tolist() == [3.0, 1.0, 2.0]
    x.grad = None
    v, i = x.topk(2)
    (v * pt.tensor([10.0, 20.0], dtype=pt.float64)).sum().backward()
    assert x.grad.tolist() == [10.0, 0.0, 20.0]


def test_where_and_clamp_gradients():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([4.0, 5.0, 6.0])
    pt.where(pt.tensor([True, False, True]), a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 0.0, 1.0] and b.grad.tolist() == [0.0, 1.0, 0.0]
    x = leaf([-2.0, 0.5, 3.0])
    x.clamp(-1.0, 1.0).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_matmul_gradient_known_values():
    a = leaf([[1.0, 2.0], [3.0, 4.0]])
    b = leaf([[1.0], [1.0]])
    (a @ b).sum().backward()
    assert a.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert b.grad.tolist() == [[4.0], [6.0]]


def test_float32_gradients_stay_float32():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    (x * pt.tensor([2.0, 2.0], dtype=pt.float64)).sum().backward()
    assert x.grad.dtype == pt.float32 and x.grad.tolist() == [2.0, 2.0]


def test_backward_accumulates_into_the_existing_grad_tensor():
    # as PyTorch's AccumulateGrad: a reference to x.grad (an optimizer's, a user's, one set by
    # hand) stays x's gradient; a new tensor used to replace it, leaving g at its old value
    x = leaf([1.0, 2.0])
    (x * 2).sum().backward()
    g = x.grad
    (x * 3).sum().backward()
    assert x.grad is g and g.tolist() == [5.0, 5.0]
    mine = pt.tensor([10.0, 20.0], dtype=pt.float64)
    x.grad = mine
    (x * x).sum().backward()                    # + 2x
    assert x.grad is mine and mine.tolist() == [12.0, 24.0]
    view = pt.ones(4, dtype=pt.float64)[::2]    # a view of another tensor: a new tensor is made
    x.grad = view
    (x * 1).sum().backward()
    assert x.grad is not view and view.tolist() == [1.0, 1.0] and x.grad.tolist() == [2.0, 2.0]


def test_leaf_grad_is_a_fresh_writable_tensor():
    x = leaf([1.0, 2.0, 3.0])
    x.sum().backward()
    assert x.grad._base is None
    x.grad.zero_()                    # an expanded view would refuse this
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_implicit_root_grad_never_leaks_into_leaf_grads():
    for create_graph in (False, True):
        x = leaf(2.0)
        x.view(()).backward(create_graph=create_graph)
        with pt.no_grad():
            x.grad.add_(100)
        y = leaf(3.0)
        (y * 1).backward()
        assert x.grad.item() == 101.0 and y.grad.item() == 1.0
        (g,) = pt.autograd.grad(y.clone(), y)
        with pt.no_grad():
            g.mul_(7)
        z = leaf(1.0)
        z.clone().backward()
        assert z.grad.item() == 1.0


def test_hook_modifying_root_grad_in_place_does_not_poison_later_backwards():
    x = leaf(2.0)
    y = x * 3
    y.register_hook(lambda g: g.mul_(5))      # bad practice, but must stay local
    y.backward()
    assert x.grad.item() == 15.0
    z = leaf(2.0)
    (z * 3).backward()
    assert z.grad.item() == 3.0


def test_backward_inputs_may_name_a_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    (h * h).sum().backward(inputs=[h])
    assert h.grad.tolist() == [6.0, 12.0]
    assert x.grad is None


def test_grad_fn_next_functions_follow_multi_output_ops():
    x = leaf([3.0, 1.0, 2.0])
    v, i = x.sort()
    assert v.grad_fn.name() == "SortBackward" and v.grad_fn.next_functions[0][0].variable is x
    assert not i.requires_grad


def test_second_backward_without_saved_tensors_is_allowed_like_pytorch():
    x = leaf([1.0, 2.0])
    y = (x + 1).sum()          # add and sum save no tensors
    y.backward()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_leaf_gradients_arriving_from_several_nodes_add_up_and_hooks_see_the_total():
    # (and .grad is written once, when the leaf's AccumulateGrad runs: a hook on an intermediate
    # tensor still sees None, as in PyTorch)
    w = pt.tensor([1.0], requires_grad=True)
    h = w * 2
    seen_grad = []
    h.register_hook(lambda g: seen_grad.append(w.grad))
    (h * 3 + w).sum().backward()
    assert seen_grad == [None] and w.grad.tolist() == [7.0]
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    y = pt.tensor([3.0, 4.0], requires_grad=True)
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    ((x * 2) + (x * 3) + (y * 5) + (y * 7)).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0] and y.grad.tolist() == [12.0, 12.0]
    assert seen == [[12.0, 12.0]]                 # one call, with both contributions summed
    ((x * 2) + (x * 3)).sum().backward()          # accumulates into the existing .grad
    assert x.grad.tolist() == [10.0, 10.0]
    a, b = pt.zeros(2, requires_grad=True), pt.zeros(2, requires_grad=True)
    (a + b).sum().backward()                      # add hands the same gradient to both leaves
    a.grad.add_(1.0)
    assert b.grad.tolist() == [1.0, 1.0] and a.grad.tolist() == [2.0, 2.0]   # no aliasing


def test_the_same_output_twice_sums_its_gradients():
    # PyTorch sums the gradients of a root given twice (grad([y, y], [x]) is 2 * dy/dx);
    # the engine used to queue the node twice and raise KeyError.
    x = pt.tensor([1.0, 2.0, -3.0], requires_grad=True)
    y = (x * x).sum()
    (g,) = pt.autograd.grad([y, y], [x])
    np.testing.assert_array_equal(g.numpy(), 4 * np.array([1.0, 2.0, -3.0], dtype=np.float32))
    (g,) = pt.autograd.grad([x, x], [x], [pt.ones(3), pt.full((3,), 3.0)])
    np.testing.assert_array_equal(g.numpy(), np.full(3, 4.0, dtype=np.float32))
    y = (x * x).sum()
    pt.autograd.backward([y, y], [pt.tensor(1.0), pt.tensor(0.5)])
    np.testing.assert_array_equal(x.grad.numpy(), 3 * np.array([1.0, 2.0, -3.0], dtype=np.float32))
