"""Tensor metadata, conversions, version counters, Python protocols."""
import copy
import pickle

import numpy as np
import pytest

import plugtorch as pt


def test_metadata():
    x = pt.zeros(2, 3, 4, dtype=pt.float64)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, pt.Size) and x.size() == (2, 3, 4)
    assert x.size(1) == 3 and x.size(-1) == 4 and x.ndim == 3 and x.dim() == 3 and x.ndimension() == 3
    assert x.numel() == 24 and x.nelement() == 24 and x.element_size() == 8 and x.itemsize == 8
    assert x.nbytes == 192 and x.is_floating_point() and not x.is_complex()
    assert pt.numel(x) == 24 and pt.is_tensor(x) and not pt.is_tensor(1) and pt.is_floating_point(x)
    assert x.dtype is pt.float64 and x.type() == "torch.DoubleTensor"
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.size(3)


@pytest.mark.parametrize("meth,dtype", [("float", pt.float32), ("double", pt.float64), ("half", pt.float16),
                                        ("bfloat16", pt.bfloat16), ("int", pt.int32), ("long", pt.int64),
                                        ("short", pt.int16), ("char", pt.int8), ("byte", pt.uint8),
                                        ("bool", pt.bool)])
def test_cast_methods(meth, dtype):
    x = pt.tensor([0.0, 1.7, -2.2])
    y = getattr(x, meth)()
    assert y.dtype is dtype
    want = np.array([0.0, 1.7, -2.2], np.float32).astype(dtype.numpy)
    assert y.tolist() == want.tolist()
    assert x.type(dtype).dtype is dtype and x.type_as(y).dtype is dtype


def test_float_to_int_casts_truncate_and_bool():
    assert pt.tensor([2.9, -2.9]).int().tolist() == [2, -2]
    assert pt.tensor([0.0, 0.1, -3.0]).bool().tolist() == [False, True, True]
    assert pt.tensor([300]).to(pt.uint8).tolist() == [44]   # wraps as PyTorch does on cpu


def test_python_protocols():
    x = pt.tensor([1.0, 2.0, 3.0])
    assert len(x) == 3 and [v.item() for v in x] == [1.0, 2.0, 3.0]
    assert bool(pt.tensor([1])) and not bool(pt.tensor(0.0))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(x)
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is ambiguous"):
        bool(pt.zeros(0))
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(pt.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(pt.tensor(1.0))
    assert [0, 1, 2][pt.tensor(1)] == 1 and range(5)[pt.tensor(2)] == 2
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [0, 1][pt.tensor(1.0)]
    assert hash(x) == hash(x) and x in {x}
    assert -pt.tensor(2) == -2 and +x is x and abs(pt.tensor(-1.5)).item() == 1.5
    assert complex(pt.tensor(2.0)) == 2 + 0j
    assert f"{pt.tensor(3.14159):.2f}" == "3.14"


def test_pickle_and_copy():
    x = pt.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="plugtorch.save"):
        pickle.dumps(x)
    assert pickle.loads(pickle.dumps(pt.float16)) is pt.float16
    assert pickle.loads(pickle.dumps(pt.device("cuda:1"))) == pt.device("cuda:1")
    c = x.clone()
    c[0] = 5
    assert x[0].item() == 1.0


def test_version_counter_shared_by_views_and_detach():
    x = pt.zeros(4)
    v = x[1:3]
    d = x.detach()
    assert x._version == 0
    x.add_(1)
    assert x._version == v._version == d._version == 1
    v.mul_(2)
    assert x._version == 2 and x.tolist() == [1.0, 2.0, 2.0, 1.0]
    d.zero_()
    assert x._version == 3 and x.sum().item() == 0
    x[0] = 1
    assert v._version == 4
    y = x + 1                      # out-of-place results start fresh
    assert y._version == 0


@pytest.mark.parametrize("method,args,expected", [
    ("fill_", (3,), [3.0, 3.0]), ("zero_", (), [0.0, 0.0]), ("copy_", (pt.tensor([7.0, 8.0]),), [7.0, 8.0]),
    ("copy_", (pt.tensor(4),), [4.0, 4.0]), ("fill_", (pt.tensor(2.5),), [2.5, 2.5]),
])
def test_fill_zero_copy(method, args, expected):
    x = pt.tensor([1.0, 2.0])
    assert getattr(x, method)(*args) is x
    assert x.tolist() == expected and x.dtype is pt.float32


def test_fill_errors():
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor"):
        pt.zeros(2).fill_(pt.ones(2))
    with pytest.raises(RuntimeError, match=r"copy_\(\).*\(3,\) and \(2,\) are not broadcastable"):
        pt.zeros(2).copy_(pt.ones(3))
    with pytest.raises(TypeError, match="argument 'src' must be Tensor"):
        pt.zeros(2).copy_([1, 2])


def test_requires_grad_rules():
    x = pt.ones(2)
    assert x.requires_grad_() is x and x.requires_grad and x.is_leaf
    with pytest.raises(RuntimeError, match="only Tensors of floating point and complex dtype can require gradients"):
        pt.ones(2, dtype=pt.int64).requires_grad_()
    assert not x.detach().requires_grad
    assert x.data.tolist() == [1.0, 1.0] and not x.data.requires_grad


def test_tensor_constructor_and_numpy_interop():
    assert pt.Tensor([1, 2]).dtype is pt.float32
    a = np.ones(3) + pt.tensor([1.0, 2.0, 3.0]).numpy()
    assert a.tolist() == [2.0, 3.0, 4.0]
    assert copy.copy(pt.float32) is pt.float32


def test_copy_copy_shares_memory_as_a_new_leaf():
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    x.note = [1]
    c = copy.copy(x)
    assert c is not x and c.requires_grad and c.is_leaf and c.grad is None and c.note is x.note
    with pt.no_grad():
        c.add_(1)
    assert x.tolist() == [2.0, 3.0]                      # one memory
    y = copy.copy(pt.tensor([1.0], requires_grad=True) * 2)
    assert y.grad_fn is None and y.requires_grad and y.tolist() == [2.0]


def test_deepcopy_copies_user_attributes_deeply():
    x = pt.tensor([1.0])
    x.note = [1]
    d = copy.deepcopy(x)
    d.note.append(2)
    assert x.note == [1] and d.note == [1, 2] and d.dtype is pt.float32


def test_deepcopy_keeps_a_tensor_and_its_views_sharing_memory():
    # as PyTorch's: deepcopy copies the storage once, so a copied state dict (or module) whose
    # tensors view one another still does; before, each copy got its own memory
    x = pt.arange(12.0)
    d = copy.deepcopy({"x": x, "v": x[3:7], "t": x.view(3, 4).t(), "e": x[:3].expand(2, 3)})
    d["x"][4] = -1.0
    assert d["v"].tolist() == [3.0, -1.0, 5.0, 6.0] and d["t"][0].tolist() == [0.0, -1.0, 8.0]
    assert d["e"].tolist() == [[0.0, 1.0, 2.0]] * 2 and d["t"].stride() == (1, 4)
    assert x[4].item() == 4.0                                   # the original is untouched
    lone = copy.deepcopy(x[5:])       # only the span the copied tensors cover is copied
    assert lone.tolist() == [5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0] and lone.is_leaf and lone._base is None
    assert lone.untyped_storage().nbytes() == 7 * 4
    big = np.arange(100000, dtype=np.float32)
    assert copy.deepcopy(pt.from_numpy(big[10:13])).untyped_storage().nbytes() == 3 * 4
    # views met before the tensors that cover more are re-pointed at the wider copy
    d = copy.deepcopy({"v": x[2:5], "w": x[7:], "x": x, "y": x[::2]})
    d["x"][3], d["x"][8] = -1.0, -8.0
    assert d["v"].tolist() == [2.0, -1.0, 4.0] and d["w"].tolist() == [7.0, -8.0, 9.0, 10.0, 11.0]
    assert d["y"].tolist() == [0.0, 2.0, 4.0, 6.0, -8.0, 10.0]
    a, b = copy.deepcopy([x, x[1:]]), copy.deepcopy(x[1:])      # separate deepcopies share nothing
    a[0][1] = 50.0
    assert a[1][0].item() == 50.0 and b[0].item() == 1.0
    c = pt.tensor([1 + 2j, 3 + 4j])
    dc = copy.deepcopy([c, c[1:]])
    dc[0][1] = 0
    assert dc[1].tolist() == [0j] and c.tolist() == [1 + 2j, 3 + 4j]


def test_contains_compares_elementwise():
    m = pt.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert 2.0 in m and 5 not in m and pt.tensor(4.0) in m
    assert pt.tensor([1.0, 5.0]) in m and pt.tensor([5.0, 6.0]) not in m   # (element == m).any()
    assert 2.0 in pt.tensor(2.0) and 1 not in pt.zeros(0) and np.float32(3) in m
    with pytest.raises(RuntimeError, match="only supports Tensor or scalar, but you passed in a <class 'str'>"):
        "a" in m


def test_reversed_flips_the_first_dim():
    assert reversed(pt.arange(4.0)).tolist() == [3.0, 2.0, 1.0, 0.0]
    assert reversed(pt.arange(4.0).reshape(2, 2)).tolist() == [[2.0, 3.0], [0.0, 1.0]]
    z = pt.tensor(4.0)
    assert reversed(z) is z


def test_format_spec_is_for_zero_d_tensors():
    assert f"{pt.tensor(2.5):.2f}" == "2.50" and f"{pt.tensor(True)}" == "True"
    assert "{}".format(pt.tensor([1.0, 2.0])) == repr(pt.tensor([1.0, 2.0]))
    for t in (pt.tensor([1.0]), pt.tensor([1.0, 2.0]), pt.zeros(0)):
        with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
            f"{t:.2f}"


def test_index_int_and_float_of_bool_and_complex():
    import operator
    assert operator.index(pt.tensor(True)) == 1 and [10, 20][pt.tensor(True)] == 20
    assert float(pt.tensor(2 + 0j)) == 2.0 and int(pt.tensor(2.5 + 0j)) == 2
    with pytest.raises(RuntimeError, match=r"float\(\): value \(1\+2j\) cannot be converted to type double"):
        float(pt.tensor(1 + 2j))
    with pytest.raises(RuntimeError, match="cannot be converted to type int64_t"):
        int(pt.tensor(1 + 2j))


@pytest.mark.parametrize("scalar", [np.float32(2), np.float16(2), np.int64(2), np.int32(2), np.uint8(2)])
def test_numpy_scalars_are_python_numbers_to_operators(scalar):
    # a NumPy scalar is a weak scalar, as a Python number is: the tensor's dtype wins
    h = pt.tensor([1.5, 2.0], dtype=pt.float16)
    for r in (scalar * h, h * scalar, scalar + h, h - scalar, scalar - h, h / scalar, scalar / h):
        assert r.dtype is pt.float16
    assert (scalar * h).tolist() == [3.0, 4.0] and (scalar - h).tolist() == [0.5, 0.0]
    assert (scalar / h).tolist() == pytest.approx([4 / 3, 1.0], rel=1e-3)
    b = pt.tensor([1, 3], dtype=pt.uint8)
    assert (b + scalar).dtype is (pt.float32 if isinstance(scalar, np.floating) else pt.uint8)
    assert (scalar < b).tolist() == [False, True] and (b == scalar).tolist() == [False, False]
    assert (scalar == pt.tensor([2.0, 1.0])).tolist() == [True, False]


def test_numpy_bool_scalar_is_a_python_bool():
    t = pt.tensor([1, 2])
    assert (t * np.bool_(True)).tolist() == [1, 2] and (t * np.bool_(True)).dtype is pt.int64
    assert pt.tensor([True, False]).logical_and(pt.tensor(np.bool_(True))).tolist() == [True, False]


def test_to_takes_non_blocking_and_copy_positionally():
    x = pt.tensor([1.0, 2.0])
    assert x.to(pt.float32, False) is x and x.to(pt.zeros(1), True) is x
    y = x.to(pt.float32, False, True)
    assert y is not x and y.tolist() == [1.0, 2.0] and y.data_ptr() != x.data_ptr()
    assert x.to("cpu", pt.float64, False, True).dtype is pt.float64
    with pytest.raises(TypeError, match=r"to\(\) received an invalid combination of arguments - got \(dtype, dtype\)"):
        x.to(pt.float32, pt.float64)
    with pytest.raises(TypeError, match="invalid combination"):
        x.to(pt.float32, False, True, True)


@pytest.mark.parametrize("meth", ["float", "double", "half", "bfloat16", "int", "long", "short", "char", "byte",
                                  "bool", "cfloat", "cdouble"])
def test_cast_methods_take_memory_format(meth):
    x = pt.zeros(2, 3, 4, 5).contiguous(memory_format=pt.channels_last)
    assert getattr(x, meth)(memory_format=pt.contiguous_format).stride() == (60, 20, 5, 1)
    assert getattr(x, meth)().stride() == (60, 1, 15, 3)


def test_empty_tensors_are_contiguous_with_row_major_strides():
    for shape, strides in (((0,), (1,)), ((0, 3), (3, 1)), ((3, 0, 2), (2, 2, 1)), ((2, 0), (1, 1))):
        t = pt.empty(shape)
        assert t.is_contiguous() and t.stride() == strides
    assert pt.tensor([]).stride() == (1,) and pt.zeros(0, 3).t().is_contiguous()


def test_casting_complex_to_real_warns_as_pytorch():
    import warnings
    z = pt.tensor([1.5 + 2j, -3 - 1j])
    for cast in (lambda: z.float(), lambda: z.to(pt.int64), lambda: pt.zeros(2).copy_(z)):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = cast()
        assert [str(m.message)[:58] for m in w if m.category is UserWarning] == [
            "Casting complex values to real discards the imaginary part"]
        assert out.tolist() == [1.5, -3.0] if out.dtype.is_floating_point else out.tolist() == [1, -3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert z.real.tolist() == [1.5, -3.0] and z.to(pt.complex128).dtype is pt.complex128


def test_numpy_array_protocol_refuses_a_tensor_that_requires_grad():
    x = pt.tensor([1.5, 2.5], requires_grad=True)
    for to_array in (np.asarray, np.array, lambda t: np.asarray(t, dtype=np.float64)):
        with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
            to_array(x)
    assert np.asarray(x.detach()).tolist() == [1.5, 2.5]
    assert np.asarray(x.detach(), dtype=np.int32).tolist() == [1, 2]
    with pt.no_grad():
        assert np.asarray(x * 2).tolist() == [3.0, 5.0]   # (made under no_grad: requires no grad)


@pytest.mark.parametrize("scalar", [np.float32(2), np.float16(2), np.int64(2)])
def test_numpy_scalars_are_python_numbers_to_scalar_arguments(scalar):
    x = pt.tensor([1.5, -2.0, 3.0])
    mask = pt.tensor([True, False, True])
    assert pt.full((2,), scalar).tolist() == [2, 2] and x.clone().fill_(scalar).tolist() == [2.0, 2.0, 2.0]
    assert pt.full((2,), scalar).dtype is (pt.int64 if isinstance(scalar, np.integer) else pt.float32)
    assert x.masked_fill(mask, scalar).tolist() == [2.0, -2.0, 2.0]
    assert x.clamp(min=scalar).tolist() == [2.0, 2.0, 3.0] and x.clamp(max=scalar).tolist() == [1.5, -2.0, 2.0]
    assert pt.where(mask, x, scalar).tolist() == [1.5, 2.0, 3.0] and pt.where(mask, x, scalar).dtype is pt.float32
    assert x.lerp(pt.zeros(3), scalar).tolist() == [-1.5, 2.0, -3.0]   # x + 2 * (0 - x)
    assert pt.arange(scalar).tolist() == [0, 1]


def test_conversions_that_change_nothing_return_the_tensor_itself():
    # as PyTorch's: no copy when neither the dtype nor the device changes (fast paths skip to()'s
    # argument parsing for exactly these calls)
    x = pt.ones(2, 3).t()
    assert x.float() is x and x.to(pt.float32) is x and x.to(x.device) is x and x.to(x) is x
    y = x.double()
    assert y is not x and y.dtype == pt.float64 and y.tolist() == x.tolist()
    assert x.to(pt.float32, copy=True) is not x


def test_tensor_class_with_sizes_is_an_uninitialized_tensor_of_that_shape():
    # gcn's nn.Parameter(torch.Tensor(input_dim, output_dim)), PyTorch's legacy constructor
    assert pt.Tensor(2, 3).shape == (2, 3) and pt.Tensor(2, 3).dtype is pt.float32
    assert pt.Tensor(3).shape == (3,)                      # one int is a size too, not data
    assert pt.Tensor(pt.Size([4, 1])).shape == (4, 1)
    assert pt.Tensor((2, 3)).tolist() == [2.0, 3.0]         # a sequence is data
    pt.set_default_dtype(pt.float64)
    try:
        assert pt.Tensor(2).dtype is pt.float64
    finally:
        pt.set_default_dtype(pt.float32)
    with pytest.raises(TypeError, match="sizes must be ints, but got float"):
        pt.Tensor(2, 3.0)
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        pt.Tensor(-1)
