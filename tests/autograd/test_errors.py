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
