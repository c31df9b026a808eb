"""A Python int operand outside 64 bits (below -2**63 or from 2**64 on) is an OverflowError, as in
PyTorch, which converts a scalar operand to a 64-bit int first whatever the tensor's dtype: every
binary op, operator (reflected and in-place too), function form and scalar-taking op, on every
backend, on a first call and on a memoised one. Once, ``int64 [1, 2] < -2**63 - 1`` gave
[True, True], ``% (-2**63 - 1)`` gave [1, 2] and ``== 2**64`` False on cpu (an OverflowError from the
kernel on opencl). The in-range extremes still compute, checked against NumPy."""
import operator
import re
import warnings

import numpy as np
import pytest

import plugtorch as pt

DEVICES = pt.backends.available()
HUGE = [2 ** 64, -2 ** 63 - 1, 2 ** 100]


def _inplace(f):
    def g(x, v):
        y = x.clone()
        return f(y, v)
    return g


def _iadd(y, v):
    y += v
    return y


def _imul(y, v):
    y *= v
    return y


def _setitem(y, v):
    y[0] = v
    return y


# (form, op named in the message, the callable)
BINARY = [
    ("x + v", "add", operator.add), ("v + x", "add", lambda x, v: v + x),
    ("x - v", "sub", operator.sub), ("v - x", "sub", lambda x, v: v - x),
    ("x * v", "mul", operator.mul), ("v * x", "mul", lambda x, v: v * x),
    ("x / v", "div", operator.truediv), ("x // v", "floor_divide", operator.floordiv),
    ("x % v", "remainder", operator.mod), ("v % x", "remainder", lambda x, v: v % x),
    ("x ** v", "pow", operator.pow), ("v ** x", "pow", lambda x, v: v ** x),
    ("x == v", "eq", operator.eq), ("x != v", "ne", operator.ne), ("x < v", "lt", operator.lt),
    ("x >= v", "ge", operator.ge),
    ("add(x, v)", "add", lambda x, v: pt.add(x, v)), ("mul(x, v)", "mul", lambda x, v: pt.mul(x, v)),
    ("eq(x, v)", "eq", lambda x, v: pt.eq(x, v)), ("remainder(v, x)", "remainder", lambda x, v: pt.remainder(v, x)),
    ("fmod(x, v)", "fmod", lambda x, v: pt.fmod(x, v)),
    ("x += v", "add", _inplace(_iadd)), ("x *= v", "mul", _inplace(_imul)),
    ("x.add_(v)", "add", _inplace(lambda y, v: y.add_(v))), ("x.eq_(v)", "eq", _inplace(lambda y, v: y.eq_(v))),
]
# ops that take a value to store: their message names the op and the value
VALUE = [
    ("where", "where", lambda x, v: pt.where(x > 1, x, v)), ("clamp", "clamp", lambda x, v: pt.clamp(x, min=v)),
    ("fill_", "full", _inplace(lambda y, v: y.fill_(v))),
    ("masked_fill", "masked_fill", lambda x, v: x.masked_fill(x > 1, v)),
    ("full", "full", lambda x, v: pt.full((1,), v, dtype=x.dtype, device=x.device)),
]


def _operand(device, dtype):
    return pt.tensor([1, 2], dtype=dtype, device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.int64, pt.uint8, pt.float32, pt.bool])
@pytest.mark.parametrize("form,name,f", BINARY, ids=[b[0] for b in BINARY])
def test_binary_op_with_an_int_outside_64_bits_raises(device, dtype, form, name, f):
    x = _operand(device, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for v in HUGE:
            for _ in range(2):   # the second call finds the memoised signature (scalar type int)
                try:   # an in-range int first, memoising the signature where the op takes it
                    f(x, 3)
                except (RuntimeError, NotImplementedError):
                    pass
                with pytest.raises(OverflowError, match=re.escape(f"{name}(): the Python int {v} is too big to convert "
                                                                  f"for a tensor of dtype ")):
                    f(x, v)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.int64, pt.uint8, pt.float32, pt.bool])
@pytest.mark.parametrize("form,name,f", VALUE, ids=[b[0] for b in VALUE])
def test_value_with_an_int_outside_64_bits_raises(device, dtype, form, name, f):
    x = _operand(device, dtype)
    for v in HUGE:
        with pytest.raises(OverflowError, match=re.escape(f"{name}(): the Python int {v} is too big to convert")):
            f(x, v)


def test_message_names_op_value_and_dtype():
    with pytest.raises(OverflowError) as e:
        pt.tensor([1, 2]) < -2 ** 63 - 1
    assert str(e.value) == ("lt(): the Python int -9223372036854775809 is too big to convert for a tensor of dtype "
                            "int64: scalars must fit in 64 bits, [-2**63, 2**64 - 1]")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("v", HUGE)
def test_setitem_and_tensor_with_an_int_outside_64_bits_raise(device, v):
    # (PyTorch: ValueError "Overflow when unpacking long long")
    y = _operand(device, pt.int64)
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        y[0] = v
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        pt.tensor(v)
    assert y.tolist() == [1, 2]


# in-range extremes: (dtype, NumPy dtype, value)
EXTREMES = [(pt.int64, np.int64, 2 ** 63 - 1), (pt.int64, np.int64, -2 ** 63), (pt.uint8, np.uint8, 255)]
ARITH = [("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("remainder", np.remainder),
         ("floor_divide", np.floor_divide), ("eq", np.equal), ("lt", np.less), ("ge", np.greater_equal)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype,npdt,v", EXTREMES)
@pytest.mark.parametrize("name,npf", ARITH, ids=[a[0] for a in ARITH])
def test_in_range_extremes_compute_as_numpy(device, dtype, npdt, v, name, npf):
    vals = [1, 2, 7, 0] if dtype is pt.uint8 else [1, -2, 7, 0]
    x = pt.tensor(vals, dtype=dtype, device=device)
    a = np.array(vals, dtype=npdt)
    s = npdt(v)
    op = getattr(pt, name)
    with np.errstate(all="ignore"):
        want = npf(a, s)
        got = op(x, v)
        assert got.cpu().numpy().tolist() == want.tolist(), (name, v)
        got = op(x, v)   # memoised
        assert got.cpu().numpy().tolist() == want.tolist(), (name, v)
        if name not in ("remainder", "floor_divide"):   # (x has a 0: v % 0 raises for integers)
            want = npf(s, a)
            assert op(v, x).cpu().numpy().tolist() == want.tolist(), (name, v)
        if name in ("add", "mul", "sub"):
            y = x.clone()
            getattr(y, name + "_")(v)
            assert y.cpu().numpy().tolist() == npf(a, s).tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_integer_alpha_must_fit_the_result_dtype(device):
    # (torch 2.13's alpha_check; sub checks -alpha, as it adds -alpha)
    x = pt.tensor([1, 0], dtype=pt.uint8, device=device)
    y = pt.tensor([1, 1], dtype=pt.uint8, device=device)
    with pytest.raises(RuntimeError, match=re.escape("add(): value 256 cannot be converted to type uint8 without overflow")):
        pt.add(x, y, alpha=256)
    with pytest.raises(RuntimeError, match=re.escape("add(): value 9223372036854775807 cannot be converted to type uint8")):
        pt.add(x, y, alpha=2 ** 63 - 1)
    i8 = x.to(pt.int8)
    with pytest.raises(RuntimeError, match=re.escape("sub(): value 129 cannot be converted to type int8")):
        pt.sub(i8, i8, alpha=-129)
    i64 = x.to(pt.int64)
    with pytest.raises(RuntimeError, match=re.escape("add(): value 9223372036854775808 cannot be converted to type int64")):
        pt.add(i64, i64, alpha=2 ** 63)
    for f in (pt.add, pt.sub):
        with pytest.raises(OverflowError, match=re.escape(f"{f.__name__}(): the Python int alpha=-9223372036854775809 "
                                                          "is too big to convert")):
            f(i64, i64, alpha=-2 ** 63 - 1)
    # in range: uint8 takes -1 and -255 (they wrap), int32 sub takes 2**31 (it adds -2**31), as NumPy computes
    a, b = np.array([1, 0], np.uint8), np.array([1, 1], np.uint8)
    with np.errstate(all="ignore"):
        assert pt.add(x, y, alpha=-1).cpu().numpy().tolist() == (a + b * np.uint8(255)).tolist()
        assert pt.add(x, y, alpha=-255).cpu().numpy().tolist() == (a + b * np.uint8(1)).tolist()
        assert pt.add(x, y, alpha=255).cpu().numpy().tolist() == (a + b * np.uint8(255)).tolist()
        i32 = x.to(pt.int32)
        want = np.array([1, 0], np.int32) - np.array([1, 0], np.int32) * np.int32(-2 ** 31)
        assert pt.sub(i32, i32, alpha=2 ** 31).cpu().numpy().tolist() == want.tolist()
        assert pt.add(i64, i64, alpha=2 ** 63 - 1).cpu().numpy().tolist() == \
            (np.array([1, 0]) + np.array([1, 0]) * np.int64(2 ** 63 - 1)).tolist()


def _wrap(v, bits, signed):
    v &= (1 << bits) - 1
    return v - (1 << bits) if signed and v >> (bits - 1) else v


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("v", [2 ** 63, 2 ** 64 - 1])
def test_an_int_past_int64_is_a_uint64_scalar(device, v):
    # PyTorch takes an int in [2**63, 2**64) as a uint64 scalar: an integer tensor keeps its dtype
    # and wraps it, a floating one converts it, a bool tensor cannot promote with it
    for dt, bits, signed in [(pt.int64, 64, True), (pt.uint8, 8, False)]:
        x = pt.tensor([1, 2], dtype=dt, device=device)
        for _ in range(2):   # (memoised: the signature int64 tensor + int was seen first with 3)
            x + 3
            assert (x + v).tolist() == [_wrap(i + v, bits, signed) for i in (1, 2)]
            assert (v * x).tolist() == [_wrap(i * v, bits, signed) for i in (1, 2)]
            assert (x == v).tolist() == [False, False]
    f = pt.tensor([1.0, 2.0], device=device)
    assert (f + v).tolist() == np.add(np.array([1.0, 2.0], np.float32), np.float32(v)).tolist()
    b = pt.tensor([True, True], device=device)
    for form, name, g in [("b + v", "add", operator.add), ("b == v", "eq", operator.eq),
                          ("b / v", "div", operator.truediv), ("v % b", "remainder", lambda b, v: v % b),
                          ("b & v", "bitwise_and", operator.and_)]:
        for _ in range(2):
            g(b, 1)
            with pytest.raises(RuntimeError, match=re.escape(f"{name}(): Promotion for uint16, uint32, uint64 types "
                                                              "is not supported, attempted to promote Bool and UInt64")):
                g(b, v)
    assert b.clone().fill_(v).tolist() == [True, True]
    assert pt.full((1,), v, dtype=pt.bool, device=device).tolist() == [True]
