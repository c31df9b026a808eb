"""In-place ops under autograd: non-leaf targets, views of non-leaves (CopySlices), version
counters and the errors PyTorch gives."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt


def leaf(values):
    return pt.tensor(values, dtype=pt.float64, requires_grad=True)


def test_inplace_on_non_leaf():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.mul_(x)                   # y = 2x * x
    y.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 8.0]
    assert y.grad_fn is not None


def test_inplace_operator_on_non_leaf():
    x = leaf([1.0, 2.0])
    y = x.sin()
    y *= 3
    y.sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), 3 * np.cos([1.0, 2.0]))


def test_inplace_into_view_of_non_leaf_row():
    x = leaf(np.zeros((2, 3)))
    w = leaf([1.0, 2.0, 3.0])
    h = x * 1
    h[1] += w * w              # x[1] += y style: CopySlices on h
    (h * pt.tensor([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]], dtype=pt.float64)).sum().backward()
    assert h.grad_fn.name() == "CopySlices"
    assert x.grad.tolist() == [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    assert w.grad.tolist() == [4.0, 8.0, 12.0]


def test_setitem_overwrites_and_blocks_gradient_there():
    x = leaf([1.0, 2.0, 3.0])
    v = leaf(5.0)
    h = x * 2
    h[0] = v
    (h * pt.tensor([1.0, 10.0, 100.0], dtype=pt.float64)).sum().backward()
    assert x.grad.tolist() == [0.0, 20.0, 200.0]
    assert v.grad.item() == 1.0


def test_inplace_through_view_updates_views_history():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    h = x.clone()
    v = h[1:3]
    v.mul_(10)
    assert h.tolist() == [1.0, 20.0, 30.0, 4.0]
    v.sum().backward()
    assert x.grad.tolist() == [0.0, 10.0, 10.0, 0.0]


def test_setitem_with_advanced_index_on_non_leaf():
    x = leaf([1.0, 2.0, 3.0])
    h = x * 1
    h[pt.tensor([0, 2])] = pt.tensor([0.0, 0.0], dtype=pt.float64)
    h.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_masked_fill_inplace_on_non_leaf():
    x = leaf([1.0, 2.0, 3.0])
    h = x * 3
    h.masked_fill_(pt.tensor([False, True, False]), 0.0)
    h.sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 3.0]


def test_modified_saved_tensor_raises():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y * y                 # saves y
    y.add_(1)
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation "
                                           "has been modified by an inplace operation"):
        z.sum().backward()


def test_mul_inplace_by_itself_raises_like_pytorch():
    x = leaf([1.0, 2.0])
    h = x * 1
    h.mul_(h)                 # mul saved h (its other operand) and then h changed
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        h.sum().backward()


def test_modified_saved_output_raises():
    x = leaf([1.0, 2.0])
    y = x.exp()               # saves its result
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*version 1; expected version 0"):
        y.sum().backward()


def test_modifying_a_view_bumps_the_base_version():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    z = y * y
    y[0:1].mul_(2)            # writes y's storage through a view
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_version_counter_shared_with_views_and_detach():
    x = pt.ones(4)
    v = x[1:3]
    d = x.detach()
    before = x._version
    v.add_(1)
    assert x._version == v._version == d._version == before + 1


def test_data_shares_memory_under_its_own_version_counter():
    # .data (unlike detach()) is invisible to the saved-tensor check, as in PyTorch: writing through
    # it used to bump the owner's version, so y.data.zero_() made backward raise
    x = leaf([0.0, 1.0, 2.0])
    d = x.data
    d.mul_(2)
    assert x.tolist() == [0.0, 2.0, 4.0] and x._version == 0 and d._version == 1 and d._base is None
    y = x.exp()
    y.data.zero_()
    y.sum().backward()                  # ExpBackward reads its (zeroed) output: grad 0
    assert y.tolist() == [0.0, 0.0, 0.0] and x.grad.tolist() == [0.0, 0.0, 0.0]
    x.detach().add_(1)                  # detach() still shares the counter
    assert x._version == 1


def test_inplace_on_leaf_requiring_grad_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an "
                                           r"in-place operation \(add_\)"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x[0:1].mul_(2)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[0] = 3.0


def test_inplace_on_view_of_leaf_view_requiring_grad_raises():
    # x is itself a view (of b, which needs no grad) made a leaf by requires_grad_(); writing into
    # x[0] used to rebase x silently, and (x * x).sum().backward() then gave x.grad == [0, 0, 0]
    b = pt.arange(3.0)
    x = b.reshape(3).requires_grad_()
    with pytest.raises(RuntimeError, match=r"a view of a leaf Variable that requires grad .*\(mul_\)"):
        x[0].mul_(2)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x[1] = 5.0
    assert x.is_leaf and x.tolist() == [0.0, 1.0, 2.0]
    (x * x).sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 4.0]


def test_write_into_view_of_plain_tensor_from_grad_source_is_allowed():
    b = pt.zeros(3)
    w = pt.tensor(2.0, requires_grad=True)
    b[0] = w * 3
    (b * pt.tensor([5.0, 1.0, 1.0])).sum().backward()
    assert b.tolist() == [6.0, 0.0, 0.0] and w.grad.item() == 15.0


def test_inplace_on_leaf_under_no_grad_is_allowed():
    x = leaf([1.0, 2.0])
    with pt.no_grad():
        x.mul_(2)
        x[0] = 7.0
    assert x.tolist() == [7.0, 4.0] and x.is_leaf and x.grad_fn is None
    (x * x).sum().backward()
    assert x.grad.tolist() == [14.0, 8.0]


def test_copy_into_plain_tensor_records_source():
    src = leaf([1.0, 2.0])
    dst = pt.zeros(2, dtype=pt.float64)
    dst.copy_(src * 3)
    assert dst.requires_grad and not dst.is_leaf
    dst.sum().backward()
    assert src.grad.tolist() == [3.0, 3.0]


def test_copy_broadcasts_source_and_reduces_its_grad():
    src = leaf([1.0, 2.0])
    dst = pt.zeros(3, 2, dtype=pt.float64)
    dst.copy_(src)
    dst.sum().backward()
    assert src.grad.tolist() == [3.0, 3.0]


def test_inplace_result_gradcheck():
    def f(x, w):
        h = x * 1
        h[:, 1] += w
        h.sin_()
        h.mul_(x)
        return h
    x = leaf(np.random.default_rng(0).standard_normal((3, 2)))
    w = leaf([0.5, -0.3, 0.8])
    assert pt.autograd.gradcheck(f, (x, w))
    assert pt.autograd.gradgradcheck(f, (x, w))


def test_overwriting_a_non_leaf_with_a_constant_keeps_it_in_the_graph():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.zero_()
    assert h.requires_grad and not h.is_leaf
    (h.sum() + (x * 5).sum()).backward()
    assert x.grad.tolist() == [5.0, 5.0]
    y = leaf([1.0])
    k = y * 1
    k.fill_(3.0)
    k.sum().backward()
    assert y.grad.tolist() == [0.0]          # the overwritten history gets zeros (PyTorch: not None)


def test_overwritten_history_gets_zero_gradients_not_none():
    # y = x * w; y.fill_(1) (or zero_, copy_ from something else, y[...] = c): x and w got no
    # gradient at all (None); PyTorch's copy_/fill_ backward passes zeros to the overwritten value
    x = leaf([0.0, 1.0, 2.0])
    w = leaf(2.0)
    y = x * w
    y.fill_(1.0)
    (y * 3).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0] and w.grad.item() == 0.0
    x.grad = None
    s = leaf([5.0, 6.0, 7.0])
    y = x * 1
    y.copy_(s)
    (y * pt.tensor([1.0, 2.0, 3.0], dtype=pt.float64)).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0] and s.grad.tolist() == [1.0, 2.0, 3.0]
    y = x * 1
    y.mul_(x)                                # src comes from y: one gradient path, no extra zeros
    assert len(y.grad_fn.next_functions) == 1


def test_a_view_taken_before_an_in_place_write_to_its_base_sees_the_new_history():
    # PyTorch regenerates a view's grad_fn after its base (or a sibling view) is written in place
    x = pt.ones(2, requires_grad=True)
    base = pt.zeros(4)
    v = base[1:3]
    base[0:2] += x             # overlaps v at base[1]
    (v * 3).sum().backward()
    assert x.grad.tolist() == [0.0, 3.0]
    a = pt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = a * 1
    w = h[1:]
    h.mul_(2)                  # the base itself, written after the view was taken
    w.sum().backward()
    assert a.grad.tolist() == [0.0, 2.0, 2.0]


def test_in_place_write_that_needs_recording_into_a_view_made_under_no_grad_is_refused():
    x = pt.randn(6, 3)
    w = pt.ones(3, requires_grad=True)
    with pt.no_grad():
        v = x[0:4]
    with pytest.raises(RuntimeError, match="A view was created in no_grad mode and is being modified inplace "
                                           "with grad mode enabled"):
        v.mul_(w)                      # PyTorch's rule: the write could not be tracked
    v.mul_(2.0)                        # nothing to record: allowed
    np.testing.assert_allclose(x[0:4].numpy(), v.numpy())
    u = x[0:4]                         # a view made with grad mode on records the write
    u.mul_(w)
    assert u.requires_grad and x.requires_grad


@pytest.mark.parametrize("name,args", [("t_", ()), ("transpose_", (0, 1)), ("swapdims_", (0, 1)),
                                       ("unsqueeze_", (0,)), ("squeeze_", ()), ("as_strided_", ((2, 2), (1, 2)))])
def test_inplace_shape_change_of_a_saved_tensor_is_caught(name, args):
    # y * w saves y for w's gradient; y.t_() used to leave y's version at 0, so backward read the
    # transposed y and gave w.grad == [[0, 2], [1, 3]] instead of y's old [[0, 1], [2, 3]]
    w = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = pt.tensor([[0.0, 1.0], [2.0, 3.0]], dtype=pt.float64)
    z = y * w
    v = y[0]
    getattr(y, name)(*args)
    assert y._version == 1 and v._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_as_strided_view_written_in_place_keeps_its_gradient():
    # as_strided's backward saved its input's data though it reads only the strides and offset:
    # y = x * 1.5; v = y.as_strided((2,), (1,)); v.div_(2); (y.sum() + v.sum()).backward() raised
    # "modified by an inplace operation"; the gradient is 1.5 everywhere (0.75 + 0.75 on v's cells)
    x = leaf(np.arange(9.0).reshape(3, 3).tolist())
    y = x * 1.5
    v = y.as_strided((2,), (1,))
    v.div_(2)
    (y.sum() + v.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 3), 1.5))
    x.grad = None
    w = (x * 1.5)[1:].as_strided((2, 2), (1, 3), 4)     # storage cells 4, 7 / 5, 8
    (w * pt.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=pt.float64)).sum().backward()
    want = np.zeros(9)
    want[[4, 7, 5, 8]] = [1.0, 2.0, 3.0, 4.0]
    np.testing.assert_allclose(x.grad.numpy().ravel(), 1.5 * want)
