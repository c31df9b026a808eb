"""NumPy arrays beside tensors, as PyTorch takes them: a NumPy function of a tensor returns a tensor
(``__array_wrap__``), and an operator with an array operand (``t + arr``, ``arr * t``, ``t @ arr``,
``t += arr``) takes the array as a cpu tensor. Before, ``np.exp(t)`` returned an ndarray and
``t + arr`` raised TypeError."""
import numpy as np
import pytest

import plugtorch as pt


def check(t, expected, dtype):
    assert isinstance(t, pt.Tensor)
    assert t.dtype == dtype
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-6)


def test_numpy_functions_of_tensors_return_tensors():
    x = pt.tensor([1.0, 2.0])
    check(np.exp(x), np.exp([1.0, 2.0]), pt.float32)
    check(np.add(np.ones(2), x), [2.0, 3.0], pt.float64)          # NumPy's promotion
    check(np.sqrt(pt.tensor([1, 4])), [1.0, 2.0], pt.float64)
    check(np.maximum(x, 1.5), [1.5, 2.0], pt.float32)
    check(np.exp(pt.tensor(1.0)), np.exp(1.0), pt.float32)          # a 0-d result stays a tensor
    assert np.exp(pt.tensor(1.0)).shape == ()
    check(np.isnan(pt.tensor([1.0, np.nan])), [False, True], pt.bool)   # (PyTorch gives uint8)
    q, r = np.divmod(pt.tensor([7.0, -7.0]), 2)
    check(q, [3.0, -4.0], pt.float32)
    check(r, [1.0, 1.0], pt.float32)
    assert type(np.asarray(x)) is np.ndarray     # conversions stay arrays
    assert type(np.concatenate([x, x])) is np.ndarray


def test_numpy_function_of_a_tensor_that_requires_grad_raises():
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        np.exp(pt.ones(2, requires_grad=True))


@pytest.mark.parametrize("case", ["add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "floordiv",
                                  "rfloordiv", "mod", "rmod", "pow", "rpow"])
def test_arithmetic_operators_take_arrays(case):
    x = pt.tensor([1.0, 2.0, 3.0])
    a = np.array([4.0, -5.0, 0.5])
    xn = np.array([1.0, 2.0, 3.0])
    ops = {"add": (lambda: x + a, xn + a), "radd": (lambda: a + x, a + xn), "sub": (lambda: x - a, xn - a),
           "rsub": (lambda: a - x, a - xn), "mul": (lambda: x * a, xn * a), "rmul": (lambda: a * x, a * xn),
           "truediv": (lambda: x / a, xn / a), "rtruediv": (lambda: a / x, a / xn),
           "floordiv": (lambda: x // a, xn // a), "rfloordiv": (lambda: a // x, a // xn),
           "mod": (lambda: x % a, np.mod(xn, a)), "rmod": (lambda: a % x, np.mod(a, xn)),
           "pow": (lambda: x ** a, xn ** a), "rpow": (lambda: np.abs(a) ** x, np.abs(a) ** xn)}
    fn, expected = ops[case]
    check(fn(), expected, pt.float64)     # a float64 array promotes a float32 tensor, as a float64 tensor does


def test_comparisons_and_bitwise_operators_take_arrays():
    x = pt.tensor([1.0, 2.0, 3.0])
    a = np.array([2.0, 2.0, 2.0])
    check(x == a, [False, True, False], pt.bool)
    check(a < x, [False, False, True], pt.bool)
    check(x >= a, [False, True, True], pt.bool)
    i = pt.tensor([12, 10])
    j = np.array([10, 6])
    check(i & j, [8, 2], pt.int64)
    check(j | i, [14, 14], pt.int64)
    check(i ^ j, [6, 12], pt.int64)
    check(i << np.array([1, 2]), [24, 40], pt.int64)


def test_in_place_operators_keep_the_tensor_and_its_dtype():
    x = pt.tensor([1.0, 2.0])
    before = x
    x += np.array([10.0, 20.0])
    x *= np.array([2.0, 0.5])
    assert x is before and x.dtype == pt.float32
    check(x, [22.0, 11.0], pt.float32)
    i = pt.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i += np.array([0.5, 0.5])


def test_matmul_with_arrays_promotes():
    m = pt.tensor([[1.0, 2.0], [3.0, 4.0]])
    e = np.array([[0.0, 1.0], [1.0, 0.0]])
    check(m @ e, [[2.0, 1.0], [4.0, 3.0]], pt.float64)
    check(e @ m, [[3.0, 4.0], [1.0, 2.0]], pt.float64)
    y = m.clone()
    y @= e
    check(y, [[2.0, 1.0], [4.0, 3.0]], pt.float32)


def test_gradients_flow_through_array_operands():
    w = pt.tensor([1.0, 2.0], dtype=pt.float64, requires_grad=True)
    ((w * np.array([3.0, 4.0])) + np.array([1.0, 1.0]) ** w).sum().backward()
    # d/dw (3 w0 + 4 w1 + 1^w0 + 1^w1) = [3, 4] (log 1 = 0)
    check(w.grad, [3.0, 4.0], pt.float64)


def test_array_operand_beside_a_device_tensor():
    pytest.importorskip("pyopencl")
    x = pt.ones(2, device="opencl")
    check((x + np.array(2.0)).cpu(), [3.0, 3.0], pt.float32)   # a 0-d array: a cpu scalar tensor, allowed
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        x + np.ones(2)
