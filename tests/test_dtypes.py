"""dtypes, PyTorch's promotion table, weak scalars and 0-d tensors, finfo / iinfo."""
import ml_dtypes
import numpy as np
import pytest

import plugtorch as pt

ALL = [pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64,
       pt.float16, pt.bfloat16, pt.float32, pt.float64]


def test_names_and_aliases():
    assert [d.name for d in ALL] == ["bool", "uint8", "int8", "int16", "int32", "int64",
                                     "float16", "bfloat16", "float32", "float64"]
    assert pt.half is pt.float16 and pt.float is pt.float32 and pt.double is pt.float64
    assert pt.short is pt.int16 and pt.int is pt.int32 and pt.long is pt.int64
    assert repr(pt.float32) == "plugtorch.float32"
    assert pt.bfloat16.numpy == np.dtype(ml_dtypes.bfloat16)
    assert [d.itemsize for d in ALL] == [1, 1, 1, 2, 4, 8, 2, 2, 4, 8]
    assert pt.float16.is_floating_point and not pt.int64.is_floating_point
    assert pt.int8.is_signed and not pt.uint8.is_signed


# (a, b, expected) -- PyTorch's promote_types table
PROMOTE = [
    (pt.uint8, pt.int8, pt.int16), (pt.uint8, pt.int16, pt.int16), (pt.uint8, pt.int64, pt.int64),
    (pt.bool, pt.uint8, pt.uint8), (pt.bool, pt.float16, pt.float16), (pt.int8, pt.int32, pt.int32),
    (pt.int64, pt.float16, pt.float16), (pt.float16, pt.bfloat16, pt.float32),
    (pt.bfloat16, pt.float32, pt.float32), (pt.float32, pt.float64, pt.float64),
    (pt.int64, pt.bfloat16, pt.bfloat16), (pt.bool, pt.bool, pt.bool), (pt.uint8, pt.uint8, pt.uint8),
]


@pytest.mark.parametrize("a,b,expected", PROMOTE)
def test_promote_types(a, b, expected):
    assert pt.promote_types(a, b) is expected
    assert pt.promote_types(b, a) is expected


# (left operand, right operand, expected result dtype of a + b); t(dtype) is a 1-d tensor
def t(dtype, ndim=1):
    return pt.ones((2,) * ndim, dtype=dtype)


WEAK = [
    (lambda: t(pt.int8), lambda: 3, pt.int8),                 # int scalar stays weak
    (lambda: t(pt.float16), lambda: 3.0, pt.float16),         # float scalar stays weak
    (lambda: t(pt.int32), lambda: 2.5, pt.float32),           # int tensor + float -> default float
    (lambda: t(pt.uint8), lambda: t(pt.int8), pt.int16),
    (lambda: t(pt.int32), lambda: t(pt.float64, 0), pt.float64),  # 0-d of higher category wins
    (lambda: t(pt.int8), lambda: t(pt.int64, 0), pt.int8),      # 0-d of the same category is weak
    (lambda: t(pt.float16), lambda: t(pt.float64, 0), pt.float16),
    (lambda: t(pt.bool), lambda: 1, pt.int64),
    (lambda: t(pt.bool), lambda: True, pt.bool),
    (lambda: t(pt.bool), lambda: 1.5, pt.float32),
    (lambda: t(pt.uint8), lambda: 300, pt.uint8),
    (lambda: t(pt.int64, 0), lambda: 2.0, pt.float32),
    (lambda: t(pt.int16, 0), lambda: t(pt.int8, 0), pt.int16),
    (lambda: t(pt.bfloat16), lambda: t(pt.float16), pt.float32),
]


@pytest.mark.parametrize("a,b,expected", WEAK)
def test_binary_result_dtype(a, b, expected):
    x, y = a(), b()
    assert pt.result_type(x, y) is expected
    assert (x + y).dtype is expected
    assert (y + x).dtype is expected


def test_true_division_of_ints_is_float():
    a = pt.tensor([1, 2, 3])
    assert (a / pt.tensor([2, 2, 2])).dtype is pt.float32
    assert (a / 2).tolist() == [0.5, 1.0, 1.5]
    assert (pt.tensor([1], dtype=pt.float64) / 2).dtype is pt.float64


def test_scalar_only_result_type():
    assert pt.result_type(1, 2) is pt.int64
    assert pt.result_type(1, 2.0) is pt.float32
    assert pt.result_type(True, False) is pt.bool


def test_default_dtype():
    assert pt.get_default_dtype() is pt.float32
    try:
        pt.set_default_dtype(pt.float64)
        assert pt.tensor([1.5]).dtype is pt.float64
        assert pt.zeros(2).dtype is pt.float64
        assert (pt.tensor([1, 2]) * 0.5).dtype is pt.float64
    finally:
        pt.set_default_dtype(pt.float32)
    assert pt.tensor([1.5]).dtype is pt.float32
    with pytest.raises(TypeError, match="floating-point"):
        pt.set_default_dtype(pt.int64)


@pytest.mark.parametrize("d", [pt.float16, pt.bfloat16, pt.float32, pt.float64])
def test_finfo(d):
    ref = ml_dtypes.finfo(d.numpy)
    fi = pt.finfo(d)
    assert fi.eps == float(ref.eps) and fi.max == float(ref.max) and fi.tiny == float(ref.tiny)
    assert fi.bits == d.itemsize * 8


@pytest.mark.parametrize("d", [pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64])
def test_iinfo(d):
    ref = np.iinfo(d.numpy)
    assert (pt.iinfo(d).min, pt.iinfo(d).max, pt.iinfo(d).bits) == (ref.min, ref.max, ref.bits)


def test_info_errors():
    with pytest.raises(TypeError, match="floating-point dtype"):
        pt.finfo(pt.int32)
    with pytest.raises(TypeError, match="integer or bool dtype"):
        pt.iinfo(pt.float32)


def test_dtype_from_numpy_and_names():
    from plugtorch._dtypes import from_numpy_dtype, to_dtype
    for d in ALL:
        assert from_numpy_dtype(d.numpy) is d
    assert to_dtype("float64") is pt.float64 and to_dtype(float) is pt.float64
    assert to_dtype(int) is pt.int64 and to_dtype(bool) is pt.bool
    with pytest.raises(TypeError, match="complex64"):
        from_numpy_dtype(np.complex64)
    with pytest.raises(TypeError, match="expected a plugtorch dtype"):
        pt.zeros(2, dtype="cheese")


@pytest.mark.parametrize("d", ALL)
def test_tensor_roundtrip_every_dtype(d):
    x = pt.tensor([0, 1, 1], dtype=d)
    assert x.dtype is d
    assert x.numpy().dtype == d.numpy
    assert x.tolist() == ([False, True, True] if d is pt.bool else [0, 1, 1])
