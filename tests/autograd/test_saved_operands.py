"""mul and div save an operand only for the gradients that read it (as PyTorch): writing in place
into an operand no gradient needs is fine; writing into one a gradient needs raises."""
import pytest

import plugtorch as pt

MODIFIED = "one of the variables needed for gradient computation has been modified by an inplace operation"


def test_writing_into_the_operand_of_a_product_with_a_constant():
    x = pt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = pt.tensor([4.0, 5.0, 6.0])
    h = x * 2
    y = h * c            # grad of h reads c; h itself is not kept
    h.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == [8.0, 10.0, 12.0]
    assert y.tolist() == [8.0, 20.0, 36.0]


def test_writing_into_the_dividend_when_the_divisor_needs_no_grad():
    x = pt.tensor([1.0, 2.0, 4.0], requires_grad=True)
    c = pt.tensor([2.0, 4.0, 8.0])
    h = x * 1
    y = h / c
    h.mul_(3)
    y.sum().backward()
    assert x.grad.tolist() == [0.5, 0.25, 0.125]


@pytest.mark.parametrize("build", [
    lambda h, c: c * h,      # grad of h reads c: c is kept
    lambda h, c: h * c,
])
def test_writing_into_the_operand_a_gradient_reads_raises(build):
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    c = pt.tensor([3.0, 4.0])
    y = build(x * 1, c)
    c.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_writing_into_the_divisor_raises():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = pt.tensor([3.0, 4.0]) / h       # grad of h reads h
    h.mul_(3)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_both_operands_requiring_grad_keep_both():
    a = pt.tensor([1.0, 2.0], requires_grad=True)
    b = pt.tensor([3.0, 5.0], requires_grad=True)
    h = a * 1
    y = h * b
    h.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()
    y = (a * 1) * (b * 1)
    y.sum().backward()
    assert a.grad.tolist() == [3.0, 5.0] and b.grad.tolist() == [1.0, 2.0]


def test_a_scalar_operand_and_second_order_gradients():
    x = pt.tensor([1.5, -2.0], requires_grad=True)
    y = (x * 3.0) / 2.0 * x          # 1.5 x^2
    g, = pt.autograd.grad(y.sum(), x, create_graph=True)
    assert g.tolist() == [4.5, -6.0]
    gg, = pt.autograd.grad(g.sum(), x)
    assert gg.tolist() == [3.0, 3.0]


# ---- rounding divisions: zero gradients (PyTorch's div with a rounding mode) ------------------
@pytest.mark.parametrize("f", [
    lambda x: pt.div(x, 2.0, rounding_mode="floor"),
    lambda x: pt.div(x, 2.0, rounding_mode="trunc"),
    lambda x: x // pt.tensor([2.0, 3.0]),
    lambda x: 7.0 // x,
])
def test_rounding_divisions_have_zero_gradients(f):
    x = pt.tensor([3.5, -2.5], requires_grad=True)
    y = f(x)
    assert y.requires_grad
    g, = pt.autograd.grad(y.sum(), x)
    assert g.tolist() == [0.0, 0.0]


def test_remainder_second_order_gradient_through_the_divisor():
    # torch 2.13: d/db remainder(x, b) = -floor(x / b); its derivative in b is 0 (a step)
    x = pt.tensor([3.5, -2.5], requires_grad=True)
    b = pt.tensor([2.0, 3.0], requires_grad=True)
    ga, gb = pt.autograd.grad(pt.remainder(x, b).sum(), (x, b), create_graph=True)
    assert ga.tolist() == [1.0, 1.0] and gb.tolist() == [-1.0, 1.0]
    gg, = pt.autograd.grad(gb.sum(), b)
    assert gg.tolist() == [0.0, 0.0]


def test_a_power_keeps_its_output_only_for_the_exponents_gradient():
    # pow's output serves only d/db = a^b log a: with a number or a constant exponent, writing
    # into the output afterwards is fine (h = x ** 2; h += 1), as in PyTorch
    x = pt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x ** 2
    h += 1
    h.sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    assert h.tolist() == [2.0, 5.0, 10.0]
    x.grad = None
    h = pt.pow(x, pt.tensor([3.0, 2.0, 1.0]))
    h.mul_(2)
    h.sum().backward()
    assert x.grad.tolist() == [6.0, 8.0, 2.0]      # 2 * b * x^(b-1)
    # an exponent that requires grad reads the output: writing into it raises
    b = pt.tensor([3.0, 2.0, 1.0], requires_grad=True)
    h = pt.pow(x.detach() + 1, b)
    h.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        h.sum().backward()
    # second order through x ** 3 (the first gradient 3x^2, its gradient 6x)
    x.grad = None
    (g,) = pt.autograd.grad((x ** 3).sum(), x, create_graph=True)
    g.sum().backward()
    assert x.grad.tolist() == [6.0, 12.0, 18.0]
