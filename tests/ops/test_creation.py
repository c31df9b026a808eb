"""Factories: tensor, as_tensor, zeros/ones/full/empty and *_like, arange, linspace, eye."""
import numpy as np
import pytest

import plugtorch as pt


@pytest.mark.parametrize("data,dtype,shape", [
    ([1, 2, 3], pt.int64, (3,)), ([1.0, 2], pt.float32, (2,)), ([True, False], pt.bool, (2,)),
    (3, pt.int64, ()), (2.5, pt.float32, ()), (True, pt.bool, ()), ([[1, 2], [3, 4]], pt.int64, (2, 2)),
    ([], pt.float32, (0,)), ([[]], pt.float32, (1, 0)),
    (np.array([1, 2], np.int16), pt.int16, (2,)), (np.float64(1.5), pt.float64, ()),
    (np.array(2.0), pt.float64, ()),
])
def test_tensor_infers_dtype(data, dtype, shape):
    t = pt.tensor(data)
    assert t.dtype is dtype and t.shape == shape
    assert t.tolist() == np.asarray(data).tolist()


def test_tensor_copies_and_nested_tensors():
    a = np.array([1.0, 2.0])
    t = pt.tensor(a)
    a[0] = 9
    assert t[0].item() == 1.0
    assert pt.tensor([pt.tensor(1.0), pt.tensor(2.0)]).tolist() == [1.0, 2.0]
    src = pt.tensor([1, 2])
    c = pt.tensor(src, dtype=pt.float64)
    assert c.dtype is pt.float64 and c.tolist() == [1.0, 2.0]
    assert pt.tensor([1, 2], dtype=pt.float16).dtype is pt.float16
    assert pt.Tensor([1, 2]).dtype is pt.float32
    assert pt.tensor([1.0], requires_grad=True).requires_grad


@pytest.mark.parametrize("data,dtype", [
    ([np.float64(1.5)], pt.float64), ([np.float32(1.5)], pt.float32), ([np.float32(1.0), 2.0], pt.float32),
    ([[np.float64(1.0)]], pt.float64), ([np.int32(1)], pt.int32), ([np.int8(1), 2], pt.int64),
    ([np.float16(1)], pt.float16), ([np.array([1.0, 2.0]), np.array([3.0, 4.0])], pt.float64),
    ([np.complex64(1j)], pt.complex64), ([pt.tensor(1.0, dtype=pt.float64)], pt.float64),
    ([pt.tensor(1, dtype=pt.int32), 2], pt.int64), ([pt.tensor(1.5), 2], pt.float32),
])
def test_tensor_infers_the_dtype_of_numpy_scalars_and_tensors_in_a_sequence(data, dtype):
    # PyTorch's rule: each element's own dtype (a Python float the default dtype), promoted; the
    # numbers of np.mean() results lost their float64 (they were stored as float32)
    t = pt.tensor(data)
    assert t.dtype is dtype
    flat = [float(np.asarray(x.numpy() if isinstance(x, pt.Tensor) else x).real.ravel()[0])
            for x in (data[0] if isinstance(data[0], list) else data)]
    assert float(t.reshape(-1)[0].real.item()) == flat[0]


def test_tensors_inside_a_sequence_are_numbers():
    # as PyTorch: one-element tensors of any shape are scalars (a list of two shape-[1] losses is
    # a shape-[2] tensor, not [2, 1]); a tensor with several elements is refused
    assert pt.tensor([pt.tensor([1.0]), pt.tensor([2.0])]).shape == (2,)
    assert pt.tensor([[pt.tensor([1.0])]]).shape == (1, 1)
    assert pt.tensor([pt.tensor([[3.0]])]).tolist() == [3.0]
    with pytest.raises(ValueError, match=r"only one element tensors can be converted to Python scalars, but the "
                                         r"data holds a tensor of shape \[2\]; use plugtorch.stack"):
        pt.tensor([pt.ones(2), pt.ones(2)])


def test_tensor_bad_data():
    with pytest.raises(TypeError, match="could not infer dtype"):
        pt.tensor("abc")
    with pytest.raises((TypeError, ValueError), match="ragged|inhomogeneous|could not convert"):
        pt.tensor([[1, 2], [3]])
    assert pt.tensor([1j]).dtype is pt.complex64     # Python complex numbers: the default complex dtype
    # complex numbers with a real dtype: PyTorch's TypeError; the imaginary parts were dropped
    # (tensor([1 + 2j, 1], dtype=float16) gave [1.0, 1.0])
    for dt in (pt.float16, pt.float32, pt.int64, pt.bool):
        with pytest.raises(TypeError, match="must be real number, not complex"):
            pt.tensor([complex(1, 2), 1], dtype=dt)
    with pytest.raises(TypeError, match="must be real number, not complex"):
        pt.as_tensor([1j], dtype=pt.float32)
    assert pt.tensor([1 + 2j], dtype=pt.complex128).tolist() == [1 + 2j]


def test_as_tensor_shares_numpy_memory():
    a = np.arange(3.0)
    t = pt.as_tensor(a)
    a[1] = 7
    assert t[1].item() == 7.0
    assert pt.as_tensor(t) is t
    assert pt.as_tensor([1, 2]).tolist() == [1, 2] and pt.asarray([1.5]).dtype is pt.float32
    assert pt.as_tensor(a, dtype=pt.float32).dtype is pt.float32


@pytest.mark.parametrize("dtype", [None, pt.bool, pt.uint8, pt.int32, pt.int64, pt.float16, pt.bfloat16, pt.float64])
def test_zeros_ones_full_empty(dtype):
    d = dtype or pt.float32
    for t, v in ((pt.zeros(2, 3, dtype=dtype), 0), (pt.ones((2, 3), dtype=dtype), 1),
                 (pt.full((2, 3), 1 if dtype else 1.0, dtype=dtype), 1), (pt.zeros([2, 3], dtype=dtype), 0)):
        assert t.shape == (2, 3) and t.dtype is d
        assert (t.numpy() == v).all()
    assert pt.empty(4, 0, dtype=dtype).shape == (4, 0)
    x = pt.ones(2, dtype=dtype)
    for like, v in ((pt.zeros_like(x), 0), (pt.ones_like(x), 1), (pt.full_like(x, 1), 1)):
        assert like.dtype is d and like.shape == (2,) and (like.numpy() == v).all()
    assert pt.empty_like(x).shape == (2,)
    assert pt.zeros_like(x, dtype=pt.float64).dtype is pt.float64


def test_full_infers_dtype_from_value():
    assert pt.full((2,), 3).dtype is pt.int64
    assert pt.full((2,), 3.0).dtype is pt.float32
    assert pt.full((2,), True).dtype is pt.bool
    assert pt.full((), 4.5).shape == () and pt.zeros(()).shape == ()
    assert pt.full((2,), pt.tensor(2.0)).tolist() == [2.0, 2.0]
    x = pt.zeros(2, 3)
    assert x.new_ones(4).dtype is pt.float32 and x.new_full((1,), 7).tolist() == [7.0]
    assert x.new_zeros((2, 2)).shape == (2, 2) and x.new_tensor([1, 2]).dtype is pt.float32


@pytest.mark.parametrize("args,kwargs", [
    ((5,), {}), ((2, 8), {}), ((1, 10, 3), {}), ((10, 0, -3), {}), ((0.0, 1.0, 0.1), {}),
    ((5,), {"dtype": pt.float64}), ((-3, 3), {"dtype": pt.int8}), ((0, 2.5, 0.5), {}),
    ((1.0, 2.0, 0.25), {"dtype": pt.float16}),
])
def test_arange(args, kwargs):
    t = pt.arange(*args, **kwargs)
    ref = np.arange(*args)
    assert t.shape == ref.shape
    np.testing.assert_allclose(t.numpy().astype(np.float64), ref, rtol=1e-6)
    want = kwargs.get("dtype") or (pt.float32 if any(isinstance(a, float) for a in args) else pt.int64)
    assert t.dtype is want


def test_arange_errors():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        pt.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        pt.arange(0, 5, -1)


@pytest.mark.parametrize("start,end,steps", [(0, 1, 5), (-2, 2, 4), (3, -1, 7), (0, 1, 1), (0, 1, 0), (1, 1, 3)])
def test_linspace(start, end, steps):
    t = pt.linspace(start, end, steps)
    assert t.dtype is pt.float32 and t.shape == (steps,)
    np.testing.assert_allclose(t.numpy(), np.linspace(start, end, steps), rtol=1e-6, atol=1e-7)
    assert pt.linspace(start, end, steps, dtype=pt.float64).dtype is pt.float64
    with pytest.raises(RuntimeError, match="non-negative"):
        pt.linspace(0, 1, -1)


def test_eye():
    assert pt.eye(3).tolist() == np.eye(3).tolist() and pt.eye(3).dtype is pt.float32
    assert pt.eye(2, 3, dtype=pt.int64).tolist() == np.eye(2, 3).astype(int).tolist()
    assert pt.eye(0).shape == (0, 0)


def test_factory_errors():
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        pt.zeros(2, -1)
    with pytest.raises(TypeError, match="size must be a sequence of ints"):
        pt.zeros(2.5)
    with pytest.raises(TypeError, match="expected a plugtorch dtype"):
        pt.ones(2, dtype=np.clongdouble)
    with pytest.raises(TypeError, match="expected a Tensor or a number"):
        pt.full((2,), "x")


def test_tensor_ragged_and_unknown_data_errors():
    # PyTorch reads the shape along the first elements and names the first element breaking it
    with pytest.raises(ValueError, match=r"expected sequence of length 2 at dim 1 \(got 1\) at data\[1\]"):
        pt.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"expected sequence of length 0 at dim 1 \(got 1\) at data\[1\]"):
        pt.tensor([[], [1]])
    with pytest.raises(TypeError, match=r"not a sequence: data\[1\] is 3, but the shape read from the first "
                                        r"elements, \[2, 2\], expects a sequence of length 2"):
        pt.tensor([[1, 2], 3])
    with pytest.raises(TypeError, match=r"data\[1\] is a list where a number was expected"):
        pt.tensor([1, [2, 3]])
    with pytest.raises(ValueError, match=r"at dim 2 \(got 1\) at data\[1\]\[0\]"):
        pt.tensor([[[1, 2]], [[3]]], dtype=pt.float32)
    # None (or another object) is PyTorch's RuntimeError, naming the leaf's type, not the list's
    with pytest.raises(RuntimeError, match="could not infer dtype of NoneType"):
        pt.tensor(None)
    with pytest.raises(RuntimeError, match="could not infer dtype of NoneType"):
        pt.tensor([1, None])


def test_linspace_integer_dtype_truncates_the_ends_first():
    # ends 0.9 -> 0 and 7.9 -> 7, step 3.5 in float64: [0, 3.5, 7] truncated is [0, 3, 7]
    assert pt.linspace(0.9, 7.9, 3, dtype=pt.int64).tolist() == [0, 3, 7]
    assert pt.linspace(-2.5, 2.5, 3, dtype=pt.int32).tolist() == [-2, 0, 2]
    assert pt.linspace(0.9, 7.9, 3).tolist() == pytest.approx([0.9, 4.4, 7.9])


def test_linspace_complex_ends_infer_the_complex_default_dtype():
    t = pt.linspace(1j, 2, 3)
    assert t.dtype is pt.complex64
    assert t.tolist() == [1j, 1 + 0.5j, 2 + 0j]
    assert pt.linspace(1j, 2, 1).tolist() == [1j]


def test_logspace_integer_dtype_truncates():
    # 10 ** (1/3) = 2.15, 10 ** (2/3) = 4.64: truncated, not rounded
    assert pt.logspace(0, 1, 4, dtype=pt.int32).tolist() == [1, 2, 4, 10]
    assert pt.logspace(0, 3, 4, dtype=pt.int64).tolist() == [1, 10, 100, 1000]
    assert pt.logspace(0.9, 2.9, 3, base=2, dtype=pt.int64).tolist() == [1, 2, 4]   # ends truncate to 0, 2


def test_arange_refuses_bool():
    with pytest.raises(NotImplementedError, match=r"arange\(\): not implemented for dtype plugtorch.bool"):
        pt.arange(5, dtype=pt.bool)


def test_tensor_big_python_ints():
    # a float in the data makes the dtype float32, which holds 2**64 (as 1.8446744e19)
    t = pt.tensor([1.5, 2 ** 64])
    assert t.dtype is pt.float32 and t.tolist() == [1.5, float(2 ** 64)]
    # a float dtype holds an int beyond 64 bits given alone (was TypeError: 'int' object is not iterable)
    assert pt.tensor(2 ** 70, dtype=pt.float64).item() == float(2 ** 70)
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):   # all ints: int64
        pt.tensor([1, 2 ** 64])


def test_sizes_may_be_numpy_ints():
    assert pt.zeros(np.int64(2)).shape == (2,)
    assert pt.ones(np.int32(2), np.uint8(3)).shape == (2, 3)
    with pytest.raises(TypeError, match="size must be a sequence of ints, got float64"):
        pt.zeros(np.float64(2))


def test_arange_refuses_complex_bounds():
    with pytest.raises(RuntimeError, match=r"arange\(\): the bounds and step must be real numbers, got start=0, "
                                           r"end=1j"):
        pt.arange(0, 1j)


def test_linspace_takes_only_0d_tensor_ends():
    assert pt.linspace(pt.tensor(0.0), pt.tensor(1.0), 3).tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(RuntimeError, match=r"0-dimensional start and end tensors, but got start with 1 dimension"):
        pt.linspace(pt.tensor([0.0]), 1, 3)


def test_logspace_complex_ends_infer_the_complex_default_dtype():
    t = pt.logspace(1j, 2, 3)
    assert t.dtype is pt.complex64
    # 10 ** (0.5 + 1j) = sqrt(10) * (cos(ln 10) + i sin(ln 10))
    expect = np.power(10.0, np.linspace(1j, 2, 3))
    np.testing.assert_allclose(np.array(t.tolist()), expect, rtol=1e-6)


def test_range_needs_end_and_a_consistent_step_sign():
    with pytest.warns(UserWarning, match="deprecated"):
        assert pt.range(0, 3).tolist() == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(TypeError):
        pt.range(3)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match=r"range\(\): upper bound and lower bound "
                                                                     r"inconsistent with step sign"):
        pt.range(1, 0)


def test_tril_indices_other_dtypes_are_not_implemented():
    # PyTorch: NotImplementedError (a RuntimeError) from its dtype dispatch
    with pytest.raises(NotImplementedError, match=r"tril_indices\(\): not implemented for dtype plugtorch.float32 "
                                                  r"\('Float'\); only int32 and int64 are supported"):
        pt.tril_indices(3, 3, dtype=pt.float32)
    assert pt.triu_indices(3, 3, 1, dtype=pt.int32).tolist() == [[0, 0, 1], [1, 2, 2]]
