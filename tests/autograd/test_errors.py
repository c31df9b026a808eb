"""Bad input to autograd: PyTorch's exception types and messages that say what to do."""
from __future__ import annotations

import pytest

import plugtorch as pt


def test_inplace_on_leaf_that_requires_grad():
    x = pt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"a leaf Variable that requires grad is being used in an "
                                           r"in-place operation \(mul_\)\. Wrap it in plugtorch.no_grad\(\)"):
        x.mul_(2)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.copy_(pt.zeros(2))
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.zero_()


def test_backward_of_non_scalar_without_gradient():
    x = pt.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar outputs "
                                           r"\(output 0 has shape \[3\]\); pass gradient="):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        pt.autograd.grad(x * 2, x)


def test_requires_grad_on_integer_tensor():
    with pytest.raises(RuntimeError, match=r"only Tensors of floating point and complex dtype can require gradients "
                                           r"\(got plugtorch.int64\)"):
        pt.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="only Tensors of floating point and complex dtype can require gradients"):
        pt.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="only Tensors of floating point and complex dtype"):
        pt.zeros(2, dtype=pt.int32, requires_grad=True)


def test_gradient_of_wrong_shape():
    x = pt.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of \[2\] "
                                           r"and output\[0\] has a shape of \[3\]"):
        (x * 2).backward(pt.ones(2))
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        pt.autograd.grad([x * 2], [x], grad_outputs=[pt.ones(3, 1)])


def test_one_gradient_per_output():
    a = pt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    outs = [a.sum(), (a * 2).sum()]
    with pytest.raises(RuntimeError, match="got 2 tensors and 1 gradients"):
        pt.autograd.grad(outs, a, grad_outputs=[pt.tensor(1.0)], retain_graph=True)
    with pytest.raises(RuntimeError, match="got 2 tensors and 3 gradients"):
        pt.autograd.backward(outs, [None, None, None])
    assert a.grad is None
    (g,) = pt.autograd.grad(outs, a, grad_outputs=[pt.tensor(1.0), None])   # 1 + 2 per element
    assert g.tolist() == [3.0, 3.0, 3.0]


def test_grad_with_input_not_in_graph():
    a = pt.ones(2, requires_grad=True)
    b = pt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"One of the differentiated Tensors \(input 1\) appears to not "
                                           r"have been used in the graph. Set allow_unused=True"):
        pt.autograd.grad((a * 2).sum(), [a, b])


def test_grad_with_input_not_requiring_grad():
    a = pt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors does not require grad"):
        pt.autograd.grad((a * 2).sum(), [pt.ones(2)])


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a grad_fn"):
        pt.ones(2).sum().backward()


def test_backward_empty_inputs():
    x = pt.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="'inputs' argument must not be empty"):
        x.sum().backward(inputs=[])


def test_second_backward_message():
    x = pt.ones(1, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"Trying to backward through the graph a second time.*"
                                           r"Specify retain_graph=True"):
        y.backward()


def test_requires_grad_false_on_non_leaf():
    y = pt.ones(1, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)


def test_numpy_of_tensor_requiring_grad():
    with pytest.raises(RuntimeError, match=r"Use tensor.detach\(\).numpy\(\) instead"):
        pt.ones(1, requires_grad=True).numpy()


def test_assigning_grad_of_wrong_shape():
    x = pt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"assigned grad has data of a different size: expected \[2\], got \[3\]"):
        x.grad = pt.ones(3)


def test_ops_without_a_derivative_raise_when_backward_reaches_them():
    # PyTorch's not_implemented derivatives (geqrf, heaviside, ldl_factor_ex, ldl_solve): the result
    # of inputs that require grad requires grad, and a backward through it raises instead of the
    # gradient silently leaving out that path (plugtorch returned a constant before)
    x = pt.tensor([0.5, -1.0, 2.0], dtype=pt.float64, requires_grad=True)
    a = pt.tensor([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 5.0]], dtype=pt.float64, requires_grad=True)
    cases = {"geqrf": lambda: pt.geqrf(a)[0], "heaviside": lambda: pt.heaviside(x, x),
             "linalg_ldl_factor_ex": lambda: pt.linalg.ldl_factor_ex(a)[0],
             "linalg_ldl_solve": lambda: pt.linalg.ldl_solve(*pt.linalg.ldl_factor(a.detach()), a)}
    for name, f in cases.items():
        y = f()
        assert y.requires_grad and y.grad_fn is not None, name
        with pytest.raises(NotImplementedError, match=f"the derivative for '{name}' is not implemented"):
            (y.sum() + x.sum() + a.sum()).backward()
        with pt.no_grad():
            assert not f().requires_grad
    ld, piv, info = pt.linalg.ldl_factor_ex(a)
    assert ld.requires_grad and not piv.requires_grad and not info.requires_grad
    # a result the loss does not use is harmless: the other paths' gradients are exact
    x.grad = None
    _ = pt.heaviside(x, x)
    (x * x).sum().backward()
    assert x.grad.tolist() == [1.0, -2.0, 4.0]
