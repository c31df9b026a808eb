"""Unary, binary and ternary kernels against cpu: every dtype, broadcasting, views, scalars."""
import numpy as np
import pytest

import plugtorch as pt
from .conftest import DTYPES, FLOATS, INTS, assert_same, check, sample, to_cl

UNARY_FLOAT = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin",
               "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid", "erf",
               "reciprocal"]
UNARY_SAME = ["neg", "abs", "sign", "floor", "ceil", "trunc", "round"]


@pytest.mark.parametrize("name", UNARY_FLOAT)
@pytest.mark.parametrize("dtype", [pt.int32, *FLOATS])
def test_unary_float_valued(name, dtype):
    x = sample((3, 5), dtype, low=0.1 if name in ("log", "sqrt") else -0.9, high=0.9 if "a" in name[:1] else 3)
    check(lambda t: getattr(pt, name)(t), x, rtol=2e-5 if dtype is pt.float32 else None)


@pytest.mark.parametrize("name", UNARY_SAME)
@pytest.mark.parametrize("dtype", [pt.int8, pt.int64, *FLOATS])
def test_unary_same_dtype(name, dtype):
    x = sample((4, 6), dtype, 0, -12, 12)
    check(lambda t: getattr(pt, name)(t), x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_predicates_and_logical_not(dtype):
    x = sample((7,), dtype)
    if dtype.is_floating_point:
        x = pt.cat([x, pt.tensor([float("nan"), float("inf"), -float("inf"), -0.0], dtype=dtype)])
    for f in (pt.isnan, pt.isinf, pt.isfinite, pt.logical_not):
        check(f, x)
    if not dtype.is_floating_point:
        check(pt.bitwise_not, x)


BINARY_ARITH = ["add", "sub", "mul", "div", "maximum", "minimum", "atan2", "pow"]
COMPARE = ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"]


@pytest.mark.parametrize("name", BINARY_ARITH + COMPARE)
@pytest.mark.parametrize("dtype", [pt.int32, pt.uint8, *FLOATS])
def test_binary_broadcast_and_views(name, dtype):
    if name == "atan2" or (name == "pow" and not dtype.is_floating_point):
        a, b = sample((3, 4), dtype, 1, 0, 4), sample((4,), dtype, 2, 0, 3)
    else:
        a, b = sample((3, 4), dtype, 1), sample((4,), dtype, 2)
    if name == "div" and not dtype.is_floating_point:
        b = b + (b == 0).to(dtype)
    f = getattr(pt, name)
    check(f, a, b)
    check(lambda x, y: f(x.t(), y.unsqueeze(1)), a, b)           # transposed + broadcast column
    check(lambda x: f(x[:, ::2], x[:, 1::2]), a)                  # two strided slices


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "maximum", "lt", "eq", "remainder"])
@pytest.mark.parametrize("dtype", [pt.int64, pt.uint8, pt.float64, pt.float32])
def test_binary_with_python_scalars_either_side(name, dtype):
    a = sample((5,), dtype, 3, 1, 5)
    f = getattr(pt, name)
    for s in (2, 1.5, True):
        if name == "sub" and s is True:   # PyTorch refuses sub with a bool operand, on every device
            with pytest.raises(RuntimeError, match="with a bool tensor is not supported"):
                f(a.to("opencl"), s)
            continue
        check(lambda x: f(x, s), a)
        if name not in ("remainder",):
            check(lambda x: f(s, x), a)


@pytest.mark.parametrize("dtype", [pt.int8, pt.int32, pt.int64, pt.float32, pt.float64])
def test_division_family_signs(dtype):
    a = pt.tensor([7, -7, 7, -7, 0, 5], dtype=dtype)
    b = pt.tensor([2, 2, -2, -2, 3, 5], dtype=dtype)
    for f in (pt.floor_divide, pt.remainder, pt.fmod):
        check(f, a, b)


@pytest.mark.parametrize("name", ["floor_divide", "remainder", "fmod"])
def test_integer_division_by_zero_raises(name):
    a = pt.tensor([1, 2], device="opencl")
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        getattr(pt, name)(a, pt.tensor([1, 0], device="opencl"))


def test_integer_pow_negative_exponent():
    # a Python int exponent is refused; a tensor one is PyTorch's integer pow (as on cpu)
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        pt.pow(pt.tensor([2, 3], device="opencl"), -1)
    r = pt.pow(pt.tensor([2, 3, 1, -1, -1], device="opencl"), pt.tensor([1, -1, -5, -3, -2], device="opencl"))
    assert r.tolist() == [2, 0, 1, -1, 1]


def test_pow_of_bool_tensor_and_bool_scalar_is_bool():
    # PyTorch's: b ** True is b, b ** False all True, in bool (as on cpu)
    b = pt.tensor([True, False, True], device="opencl")
    for e, want in ((True, [True, False, True]), (False, [True, True, True])):
        r = pt.pow(b, e)
        assert r.device.type == "opencl" and r.dtype is pt.bool and r.tolist() == want
        assert b.clone().pow_(e).tolist() == want
    with pytest.raises(NotImplementedError, match="not implemented for dtype plugtorch.bool"):
        pt.pow(b, b)


@pytest.mark.parametrize("dtype", INTS + [pt.bool])
def test_bitwise_and_shifts(dtype):
    a, b = sample((9,), dtype, 4, 0, 100), sample((9,), dtype, 5, 0, 9)
    for f in (pt.bitwise_and, pt.bitwise_or, pt.bitwise_xor):
        check(f, a, b)
    if dtype is not pt.bool:
        for f in (pt.bitwise_left_shift, pt.bitwise_right_shift):
            check(f, a, b)
            check(f, -a if dtype.is_signed else a, b)


@pytest.mark.parametrize("dtype", [pt.int64, pt.float32])
def test_mixed_dtypes_promote(dtype):
    a, b = sample((2, 3), pt.int16, 6), sample((3,), dtype, 7)
    check(pt.add, a, b)
    check(pt.mul, a, b)
    check(pt.div, a, b + 10)


def test_nan_propagation_in_max_min():
    a = pt.tensor([1.0, float("nan"), 3.0, -0.0])
    b = pt.tensor([float("nan"), 2.0, 1.0, 0.0])
    check(pt.maximum, a, b)
    check(pt.minimum, a, b)


@pytest.mark.parametrize("dtype", [pt.int32, pt.bfloat16, pt.float64])
def test_where(dtype):
    c = sample((3, 4), pt.bool, 8)
    a, b = sample((3, 4), dtype, 9), sample((4,), dtype, 10)
    check(pt.where, c, a, b)
    check(lambda c, a: pt.where(c, a, 0), c, a)
    check(lambda c, b: pt.where(c.t(), 1.5, b.unsqueeze(1)), c, b)


@pytest.mark.parametrize("src", DTYPES)
@pytest.mark.parametrize("dst", DTYPES)
def test_casts(src, dst):
    # A float -> integer cast of a value outside the target's range is undefined behaviour in C
    # (and in PyTorch): the result differs between CPUs and OpenCL drivers, so only in-range
    # values are compared. Integer -> integer casts wrap, which is defined.
    if src.is_floating_point and not dst.is_floating_point and dst is not pt.bool:
        info = pt.iinfo(dst)
        x = sample((11,), src, 11, max(info.min, -100), min(info.max - 1, 300))  # (-1: rounding)
    elif src.is_floating_point:
        x = sample((11,), src, 11, -100, 300)
    else:
        x = sample((11,), src, 11, 0, 120)
    check(lambda t: t.to(dst), x)


def test_copy_into_views_and_broadcast():
    x = pt.zeros(4, 5)
    y = sample((5,), pt.float64, 12)
    xc = x.to("opencl")
    x[1:3].copy_(y)
    xc[1:3].copy_(y.to("opencl"))
    assert_same(xc, x)
    x.t()[::2].copy_(pt.arange(4.0))
    xc.t()[::2].copy_(pt.arange(4.0, device="opencl"))
    assert_same(xc, x)


def test_zero_size_and_zero_dim():
    check(lambda t: t + 1, pt.zeros(0, 3))
    check(lambda t: t * 2, pt.tensor(3.5))
    check(lambda t, u: t + u, pt.tensor(2), pt.ones(2, 3, dtype=pt.int32))


def test_many_dims_are_collapsed():
    x = sample((2, 1, 3, 1, 2, 2, 1, 2, 3, 2), pt.float32, 13)
    check(lambda t: t.permute(9, 8, 7, 6, 5, 4, 3, 2, 1, 0) * 2 + 1, x)


@pytest.mark.parametrize("other_dtype", [pt.float32, pt.float64])
@pytest.mark.parametrize("op", ["add", "sub", "remainder", "fmod", "maximum"])
def test_bfloat16_with_a_0d_tensor_of_another_dtype_rounds_it_as_cpu(op, other_dtype):
    # the 0-d operand is cast to bfloat16 (rounded) before the op, as on cpu; opencl computed
    # bfloat16 in float and took it unrounded (found by make fuzz, seed 12)
    x = pt.tensor([5.40625, -1.61061e10, 1.8203125, 0.97265625], dtype=pt.bfloat16)
    y = pt.tensor(-2.13254532, dtype=other_dtype)
    want = getattr(pt, op)(x, y)
    got = getattr(pt, op)(x.to("opencl"), y.to("opencl"))
    assert got.dtype is pt.bfloat16 and got.cpu().float().tolist() == want.float().tolist()


@pytest.mark.parametrize("name", ["exp", "exp2", "expm1", "log", "log1p", "sin", "cos", "tanh"])
def test_big_float32_math_in_float8(name):
    """From 65536 elements the unchecked kernel computes these eight at a time (VEC_F32), the
    last n % 64 one at a time: both within 1 ulp of cpu, special values in place, same bits
    every call."""
    a = np.random.default_rng(3).standard_normal(70001).astype(np.float32) * 5
    a[[5, 6, 7, 8, 9, 69999]] = [np.inf, -np.inf, 0.0, -0.0, np.nan, np.nan]
    x = pt.tensor(a)
    got = check(lambda t: getattr(t, name)(), x, rtol=2e-6)
    again = getattr(to_cl(x), name)()
    assert np.array_equal(got.cpu().numpy().view(np.uint32), again.cpu().numpy().view(np.uint32))
    check(lambda t: getattr(t[1:], name)(), x, rtol=2e-6)   # at an offset
