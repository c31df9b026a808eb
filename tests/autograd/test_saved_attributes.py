"""grad_fn._saved_<argument> and grad_fn._saved_result: the values a node's backward reads, as
PyTorch exposes them ("self" names the first argument)."""
import numpy as np
import pytest

import plugtorch as pt


def test_saved_arguments_are_the_tensors_backward_reads():
    x = pt.tensor([1.0, -2.0, 3.0], requires_grad=True)
    w = pt.tensor([0.5, 4.0, -1.0], requires_grad=True)
    y = x * w
    assert y.grad_fn._saved_self is x and y.grad_fn._saved_other is w
    z = x.pow(2)
    assert z.grad_fn._saved_self is x and z.grad_fn._saved_exponent == 2


def test_saved_result_is_the_output_attached_to_its_node():
    x = pt.tensor([0.0, 1.0, -0.5], requires_grad=True)
    y = x.exp()
    r = y.grad_fn._saved_result
    np.testing.assert_allclose(r.detach().numpy(), np.exp([0.0, 1.0, -0.5]), rtol=1e-6)
    assert r.grad_fn is y.grad_fn
    with pytest.raises(AttributeError, match="MulBackward saved no result"):
        (x * 2).grad_fn._saved_result


def test_a_tensor_saved_only_for_a_gradient_not_needed_reads_none():
    p = pt.tensor([1.0, 2.0])                   # no grad: d/dq (p*q) reads p, d/dp is not needed
    q = pt.tensor([3.0, 4.0], requires_grad=True)
    fn = (p * q).grad_fn
    assert fn._saved_self is p and fn._saved_other is None


def test_saved_attributes_after_free_modification_and_unknown_names():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.grad_fn._saved_result
    a = x.clone()
    z = a * x
    a.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.grad_fn._saved_self
    with pytest.raises(AttributeError, match=r"no attribute '_saved_foo' \(SinBackward saves _saved_self\)"):
        x.sin().grad_fn._saved_foo


def test_saved_attributes_go_through_the_unpack_hook():
    x = pt.tensor([0.25, -1.5], requires_grad=True)
    calls = []

    def unpack(arr):
        calls.append(1)
        return pt.tensor(arr)
    with pt.autograd.graph.saved_tensors_hooks(lambda t: t.detach().numpy().copy(), unpack):
        y = x.exp()
        z = x * x
    np.testing.assert_allclose(y.grad_fn._saved_result.detach().numpy(), np.exp([0.25, -1.5]), rtol=1e-6)
    assert z.grad_fn._saved_self.tolist() == [0.25, -1.5]
    assert len(calls) == 2


def test_raw_saved_register_hooks_packs_now_and_unpacks_at_backward():
    x = pt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.pow(2)
    log = []

    def pack(t):
        log.append("pack")
        return t * 10
    y.grad_fn._raw_saved_self.register_hooks(pack, lambda t: (log.append("unpack"), t / 10)[1])
    assert log == ["pack"]
    y.sum().backward()
    assert log == ["pack", "unpack"] and x.grad.tolist() == [2.0, 4.0, 6.0]     # d x^2 = 2x

    x.grad = None
    z = x.exp()     # an unpack hook that doubles the saved result doubles the gradient: 2 exp(x)
    z.grad_fn._raw_saved_result.register_hooks(lambda t: t, lambda t: t * 2)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0, 3.0]), rtol=1e-6)


def test_raw_saved_register_hooks_errors():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    y = x.pow(2)
    with pytest.raises(TypeError, match="two callables"):
        y.grad_fn._raw_saved_self.register_hooks(1, 2)
    y.grad_fn._raw_saved_self.register_hooks(lambda t: t, lambda t: t)
    with pytest.raises(RuntimeError, match="hooks have already been set"):
        y.grad_fn._raw_saved_self.register_hooks(lambda t: t, lambda t: t)
    with pytest.raises(AttributeError, match="_saved_foo"):
        y.grad_fn._raw_saved_foo
