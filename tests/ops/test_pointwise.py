"""Elementwise ops against NumPy (computed in float64, then cast) over dtypes and layouts."""
import math

import ml_dtypes
import numpy as np
import pytest

import plugtorch as pt

FLOATS = [pt.float16, pt.bfloat16, pt.float32, pt.float64]
INTS = [pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64]
TOL = {pt.float16: 2e-3, pt.bfloat16: 1.6e-2, pt.float32: 1e-5, pt.float64: 1e-12}


def close(got, want, dtype, *, rtol=None):
    rtol = TOL.get(dtype, 0) if rtol is None else rtol
    g = np.asarray(got.numpy(), dtype=np.float64)
    np.testing.assert_allclose(g, np.asarray(want, dtype=np.float64), rtol=rtol, atol=rtol,
                               equal_nan=True)


def sample(dtype, shape=(3, 4), lo=-3.0, hi=3.0, seed=0):
    rng = np.random.default_rng(seed)
    if dtype is pt.bool:
        return rng.random(shape) > 0.5
    if dtype.is_floating_point:
        return rng.uniform(lo, hi, shape).astype(dtype.numpy)
    info = np.iinfo(dtype.numpy)
    return rng.integers(max(int(lo), info.min), min(int(hi), info.max) + 1, shape).astype(dtype.numpy)


# ---- unary float-valued ops -------------------------------------------------------------------
def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _erf(x):
    return np.vectorize(math.erf)(x)


UNARY_FLOAT = {  # name: (numpy reference, domain low, domain high)
    "exp": (np.exp, -3, 3), "exp2": (np.exp2, -3, 3), "expm1": (np.expm1, -3, 3),
    "log": (np.log, 0.1, 5), "log2": (np.log2, 0.1, 5), "log10": (np.log10, 0.1, 5),
    "log1p": (np.log1p, -0.5, 5), "sqrt": (np.sqrt, 0, 5), "rsqrt": (lambda x: 1 / np.sqrt(x), 0.1, 5),
    "sin": (np.sin, -3, 3), "cos": (np.cos, -3, 3), "tan": (np.tan, -1, 1),
    "asin": (np.arcsin, -0.9, 0.9), "acos": (np.arccos, -0.9, 0.9), "atan": (np.arctan, -3, 3),
    "sinh": (np.sinh, -3, 3), "cosh": (np.cosh, -3, 3), "tanh": (np.tanh, -3, 3),
    "sigmoid": (_sigmoid, -5, 5), "erf": (_erf, -2, 2), "reciprocal": (lambda x: 1 / x, 0.5, 3),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", sorted(UNARY_FLOAT))
def test_unary_float(name, dtype):
    ref, lo, hi = UNARY_FLOAT[name]
    a = sample(dtype, lo=lo, hi=hi)
    x = pt.tensor(a)
    want = ref(a.astype(np.float64))
    for y in (getattr(pt, name)(x), getattr(x, name)()):
        assert y.dtype is dtype and y.shape == x.shape
        close(y, want, dtype)
    z = x.clone()
    assert getattr(z, name + "_")() is z
    close(z, want, dtype)


@pytest.mark.parametrize("name", ["exp", "sqrt", "sin", "sigmoid", "reciprocal", "log1p", "erf"])
@pytest.mark.parametrize("dtype", [pt.bool, pt.uint8, pt.int32, pt.int64])
def test_unary_float_of_ints_gives_default_float(name, dtype):
    a = sample(dtype, lo=1, hi=4)
    y = getattr(pt, name)(pt.tensor(a))
    assert y.dtype is pt.float32
    close(y, UNARY_FLOAT[name][0](a.astype(np.float64)), pt.float32)


def test_unary_layouts():
    a = sample(pt.float32, (4, 6))
    x = pt.tensor(a)
    for view, ref in ((x.t(), a.T), (x[:, ::2], a[:, ::2]), (x[1:2].expand(3, 6), np.broadcast_to(a[1:2], (3, 6))),
                      (pt.tensor(np.float32(0.5)), np.float32(0.5)), (pt.zeros(0, 3), np.zeros((0, 3)))):
        y = view.exp()
        assert y.shape == view.shape
        close(y, np.exp(np.asarray(ref, np.float64)), pt.float32)


# ---- unary ops keeping the dtype ---------------------------------------------------------------
SAME = {"neg": np.negative, "abs": np.abs, "sign": np.sign, "floor": np.floor, "ceil": np.ceil,
        "trunc": np.trunc, "round": np.round, "frac": lambda x: x - np.trunc(x),
        "square": np.square}


@pytest.mark.parametrize("dtype", FLOATS + [pt.int8, pt.int16, pt.int32, pt.int64])
@pytest.mark.parametrize("name", sorted(SAME))
def test_unary_same_dtype(name, dtype):
    a = sample(dtype, lo=-5, hi=5)
    if name == "frac" and not dtype.is_floating_point:   # no integer kernel, as in torch 2.13
        with pytest.raises(NotImplementedError, match=f"frac.*{dtype.name}"):
            pt.frac(pt.tensor(a))
        return
    y = getattr(pt, name)(pt.tensor(a))
    assert y.dtype is dtype
    want = SAME[name](a.astype(np.float64))
    close(y, want.astype(dtype.numpy) if dtype.is_floating_point else want, dtype)


def test_round_half_to_even_and_decimals():
    x = pt.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.7])
    assert x.round().tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 4.0]
    assert pt.tensor([1.2345, 2.5e-3]).round(decimals=2).tolist() == pytest.approx([1.23, 0.0])


def test_signed_zero_and_special_values():
    x = pt.tensor([-0.0, 0.0, float("inf"), float("-inf"), float("nan")])
    assert np.signbit(x.neg().numpy()).tolist() == [False, True, True, False, False] or \
        np.signbit(x.neg().numpy())[:4].tolist() == [False, True, True, False]
    assert np.signbit(x.floor().numpy()[0]) and np.signbit(x.trunc().numpy()[0])
    # PyTorch's sign is (0 < x) - (x < 0): nan and -0.0 give +0 (torch 2.13: [0., 0., 1., -1., 0.])
    assert x.sign().tolist() == [0.0, 0.0, 1.0, -1.0, 0.0]
    assert np.signbit(x.sign().numpy()).tolist() == [False, False, False, True, False]
    assert x.abs()[:4].tolist() == [0.0, 0.0, float("inf"), float("inf")]
    assert not np.signbit(x.abs().numpy()[0])
    assert x.isnan().tolist() == [False, False, False, False, True]
    assert x.isinf().tolist() == [False, False, True, True, False]
    assert x.isfinite().tolist() == [True, True, False, False, False]
    assert pt.tensor([1, 2]).isnan().tolist() == [False, False]


def test_bool_unary():
    b = pt.tensor([True, False])
    assert b.sign().tolist() == [True, False] and b.sign().dtype is pt.bool
    assert (~b).tolist() == [False, True] and b.logical_not().tolist() == [False, True]
    with pytest.raises(RuntimeError, match="neg.*Negation.*bool.*logical_not"):   # as torch 2.13
        -b


def test_in_place_ops_wrap_python_ints_outside_the_dtype_as_out_of_place_ones():
    x = pt.tensor([1, 250], dtype=pt.uint8)
    x.add_(300)                       # 300 wraps to 44 in uint8, as PyTorch's add_ does
    assert x.tolist() == [45, 38] == (pt.tensor([1, 250], dtype=pt.uint8) + 300).tolist()
    y = pt.tensor([1, 2], dtype=pt.int8)
    y.mul_(200)
    assert y.tolist() == [-56, -112] == (pt.tensor([1, 2], dtype=pt.int8) * 200).tolist()


def test_int8_overflow_wraps():
    a = pt.tensor([127, -128, 100], dtype=pt.int8)
    assert (a + 1).tolist() == [-128, -127, 101]
    assert (a * 2).tolist() == [-2, 0, -56]
    assert (-a).tolist() == [-127, -128, -100]
    assert a.abs().tolist() == [127, -128, 100]
    assert (pt.tensor([250], dtype=pt.uint8) + 10).tolist() == [4]
    assert (pt.tensor([1], dtype=pt.uint8) - 2).tolist() == [255]
    assert (a + 300).dtype is pt.int8


# ---- binary ------------------------------------------------------------------------------------
BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "maximum": np.maximum, "minimum": np.minimum, "atan2": np.arctan2,
}


@pytest.mark.parametrize("dtype", FLOATS + INTS)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary(name, dtype):
    a, b = sample(dtype, (3, 4), lo=1, hi=9, seed=1), sample(dtype, (4,), lo=1, hi=9, seed=2)
    x, y = pt.tensor(a), pt.tensor(b)
    out = getattr(pt, name)(x, y)
    want = BINARY[name](a.astype(np.float64), b.astype(np.float64))
    float_result = name in ("div", "atan2")
    assert out.dtype is (pt.float32 if float_result and not dtype.is_floating_point else dtype)
    if not float_result and not dtype.is_floating_point:
        want = want.astype(np.int64).astype(dtype.numpy)  # wraps like the dtype
    close(out, want, out.dtype)


@pytest.mark.parametrize("name,op", [("add", "__add__"), ("sub", "__sub__"), ("mul", "__mul__"),
                                     ("div", "__truediv__"), ("floor_divide", "__floordiv__"),
                                     ("remainder", "__mod__"), ("pow", "__pow__")])
def test_operators_and_reflected(name, op):
    a = np.array([[1.5, -2.0, 3.0], [4.0, 5.5, -6.0]], np.float32)
    x = pt.tensor(a)
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
           "floor_divide": np.floor_divide, "remainder": np.mod, "pow": np.power}[name]
    close(getattr(x, op)(2.0), ref(a.astype(np.float64), 2.0), pt.float32)
    rop = "__r" + op[2:]
    close(getattr(x, rop)(2.0), ref(2.0, a.astype(np.float64)), pt.float32)
    y = x.clone()
    iop = "__i" + op[2:]
    r = getattr(y, iop)(2.0)
    assert r is y
    close(y, ref(a.astype(np.float64), 2.0), pt.float32)


def test_add_alpha_and_sub_alpha():
    x, y = pt.tensor([1.0, 2.0]), pt.tensor([10.0, 20.0])
    assert pt.add(x, y, alpha=2).tolist() == [21.0, 42.0]
    assert pt.sub(x, y, alpha=0.5).tolist() == [-4.0, -8.0]
    assert x.clone().add_(y, alpha=-1).tolist() == [-9.0, -18.0]


def test_broadcasting_binary():
    a, b = sample(pt.float32, (2, 1, 3)), sample(pt.float32, (4, 1), seed=3)
    out = pt.tensor(a) * pt.tensor(b)
    assert out.shape == (2, 4, 3)
    close(out, a.astype(np.float64) * b, pt.float32)
    assert (pt.zeros(0, 3) + pt.ones(3)).shape == (0, 3)
    assert (pt.tensor(2.0) + pt.tensor(3.0)).shape == ()
    with pytest.raises(RuntimeError, match=r"add\(\).*\(2, 3\) and \(4,\).*not broadcastable"):
        pt.ones(2, 3) + pt.ones(4)


def test_noncontiguous_binary():
    a = sample(pt.float64, (6, 6))
    x = pt.tensor(a)
    close(x.t() + x, a.T + a, pt.float64)
    close(x[::2, 1::2] * x[1::2, ::2], a[::2, 1::2] * a[1::2, ::2], pt.float64)
    close(x[:1].expand(6, 6) - x, a[:1] - a, pt.float64)


INT_DIV = [(7, 2), (-7, 2), (7, -2), (-7, -2), (0, 3), (5, 5), (-1, 3)]


@pytest.mark.parametrize("a,b", INT_DIV)
def test_integer_division_signs(a, b):
    x, y = pt.tensor([a]), pt.tensor([b])
    assert (x // y).item() == a // b                                  # floor
    assert (x % y).item() == a % b                                    # Python sign (divisor's)
    assert pt.fmod(x, y).item() == int(math.fmod(a, b))               # C sign (dividend's)
    assert pt.div(x, y, rounding_mode="floor").item() == a // b
    assert pt.div(x, y, rounding_mode="trunc").item() == int(a / b)
    assert (x / y).item() == pytest.approx(a / b)
    fx, fy = x.double(), y.double()
    assert (fx % fy).item() == a % b and pt.fmod(fx, fy).item() == math.fmod(a, b)
    assert pt.div(fx, fy, rounding_mode="trunc").item() == math.trunc(a / b)
    assert pt.div(fx, fy, rounding_mode="floor").item() == math.floor(a / b)


def test_div_rounding_mode_dtypes_and_errors():
    x = pt.tensor([7, -7], dtype=pt.int16)
    assert pt.div(x, 2, rounding_mode="trunc").dtype is pt.int16
    assert pt.div(x, 2, rounding_mode="trunc").tolist() == [3, -3]
    assert pt.div(x, 2, rounding_mode="floor").tolist() == [3, -4]
    assert x.div(2, rounding_mode="floor").tolist() == [3, -4]
    assert pt.div(pt.tensor([7.5, -7.5]), 2, rounding_mode="trunc").tolist() == [3.0, -3.0]
    with pytest.raises(RuntimeError, match="rounding_mode"):
        pt.div(x, 2, rounding_mode="round")
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        pt.tensor([1]) // pt.tensor([0])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        pt.tensor([1]) % 0
    assert (pt.tensor([1.0, -1.0, 0.0]) / 0).tolist()[:2] == [float("inf"), float("-inf")]


def test_float_remainder_and_floor_divide_edge():
    x = pt.tensor([5.5, -5.5, 5.5, -5.5])
    y = pt.tensor([2.0, 2.0, -2.0, -2.0])
    assert (x % y).tolist() == [1.5, 0.5, -0.5, -1.5]
    assert pt.fmod(x, y).tolist() == [1.5, -1.5, 1.5, -1.5]
    assert (x // y).tolist() == [2.0, -3.0, -3.0, 2.0]


def test_pow():
    assert (pt.tensor([2, 3]) ** 2).tolist() == [4, 9]
    assert (pt.tensor([2, 3]) ** 2).dtype is pt.int64
    assert (pt.tensor([4.0, 9.0]) ** 0.5).tolist() == [2.0, 3.0]
    assert (2 ** pt.tensor([1, 3])).tolist() == [2, 8]
    assert (pt.tensor([2], dtype=pt.int8) ** 7).tolist() == [-128]
    assert (pt.tensor([2, 3]) ** 0.5).dtype is pt.float32
    assert pt.pow(pt.tensor([True, False]), 2).tolist() == [True, False]
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        pt.tensor([2]) ** -1
    assert (pt.tensor([2.0]) ** -1).tolist() == [0.5]


def test_pow_of_bool_tensor_and_bool_scalar_is_bool():
    # PyTorch's: b ** True is b, b ** False all True (x ** 0 == 1), in bool; a bool tensor
    # exponent or a bool base scalar is still refused; int exponents and bases give int64
    b = pt.tensor([True, False])
    for r, want in ((pt.pow(b, True), [True, False]), (b ** False, [True, True]),
                    (b.clone().pow_(True), [True, False]), (b.clone().pow_(False), [True, True])):
        assert r.dtype is pt.bool and r.tolist() == want
    assert pt.pow(b, 2).dtype is pt.int64 and pt.pow(b, 0).tolist() == [1, 1]
    assert pt.pow(pt.tensor([0, 2, -1]), True).tolist() == [0, 2, -1]
    assert pt.pow(2, b).tolist() == [2, 1] and pt.pow(2, b).dtype is pt.int64
    with pytest.raises(NotImplementedError, match=r"pow\(\): not implemented for dtype plugtorch.bool"):
        pt.pow(b, pt.tensor([True, False]))
    with pytest.raises(NotImplementedError, match=r"pow\(\): not implemented for dtype plugtorch.bool"):
        pt.pow(True, b)


@pytest.mark.parametrize("dtype", [pt.int8, pt.int16, pt.int32, pt.int64])
def test_integer_pow_of_negative_tensor_exponents_is_pytorchs(dtype):
    # PyTorch 2.13: 1 and -1 keep their powers, every other base gives 0 (no error for a
    # tensor exponent); a Python int exponent the dtype cannot hold is refused, not wrapped
    base = pt.tensor([2, -2, 1, -1, -1, 0, 3], dtype=dtype)
    exp = pt.tensor([-1, -1, -2, -3, -4, -1, 2], dtype=dtype)
    assert (base ** exp).tolist() == [0, 0, 1, -1, 1, 0, 9]
    assert ((-2) ** pt.tensor([-1, 2], dtype=dtype)).tolist() == [0, 4]
    x = pt.tensor([2, 3], dtype=dtype)
    big = pt.iinfo(dtype).max + 1 if dtype is not pt.int64 else 2 ** 63
    for call in (lambda: x ** big, lambda: x.pow(big), lambda: x.clone().pow_(big)):
        for _ in range(2):    # the second call would hit a memoised dispatch
            with pytest.raises((RuntimeError, OverflowError), match=f"pow\\(\\): .*{big}"):
                call()
    assert (x ** 2).tolist() == [4, 9] and x.clone().pow_(2).tolist() == [4, 9]


def test_nan_propagation_maximum_minimum_clamp():
    n = float("nan")
    x, y = pt.tensor([1.0, n, 3.0]), pt.tensor([n, 2.0, 1.0])
    for r in (pt.maximum(x, y), pt.minimum(x, y)):
        v = r.tolist()
        assert math.isnan(v[0]) and math.isnan(v[1]) and v[2] in (3.0, 1.0)
    c = pt.tensor([n, -5.0, 5.0]).clamp(-1, 1).tolist()
    assert math.isnan(c[0]) and c[1:] == [-1.0, 1.0]
    assert pt.maximum(pt.tensor([-0.0]), pt.tensor([0.0])).item() == 0.0


def test_clamp():
    x = pt.tensor([-3, 0, 3])
    assert x.clamp(-1, 1).tolist() == [-1, 0, 1] and x.clamp(-1, 1).dtype is pt.int64
    assert x.clamp(min=0).tolist() == [0, 0, 3]
    assert x.clamp(max=0).tolist() == [-3, 0, 0]
    assert pt.clip(x, -2, 2).tolist() == [-2, 0, 2]
    assert x.clamp(pt.tensor([0, 1, 2]), pt.tensor([1, 1, 2])).tolist() == [0, 1, 2]
    assert x.clone().clamp_(0, 2).tolist() == [0, 0, 2]
    assert x.clamp_min(1).tolist() == [1, 1, 3] and x.clamp_max(1).tolist() == [-3, 0, 1]
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        x.clamp()


CMP = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
       "ge": np.greater_equal}


@pytest.mark.parametrize("name", sorted(CMP))
@pytest.mark.parametrize("dtype", [pt.bool, pt.uint8, pt.int32, pt.float16, pt.bfloat16, pt.float64])
def test_comparisons(name, dtype):
    a, b = sample(dtype, (3, 4), 0, 3, seed=4), sample(dtype, (4,), 0, 3, seed=5)
    out = getattr(pt, name)(pt.tensor(a), pt.tensor(b))
    assert out.dtype is pt.bool
    assert out.tolist() == CMP[name](a, b).tolist()
    op = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}[name]
    assert getattr(pt.tensor(a), op)(1).tolist() == CMP[name](a, a.dtype.type(1)).tolist()


def test_comparison_with_out_of_range_scalar_and_nan():
    # PyTorch converts the int to the tensor's dtype, wrapping (torch 2.13): 1000 is 232, -1 is 255
    x = pt.tensor([0, 100, 255], dtype=pt.uint8)
    assert (x < 1000).tolist() == [True, True, False]
    assert (x == -1).tolist() == [False, False, True]
    assert (x == 256).tolist() == [True, False, False]
    assert (x > 0.5).tolist() == [False, True, True]
    n = pt.tensor([float("nan"), 1.0])
    assert (n == n).tolist() == [False, True] and (n != n).tolist() == [True, False]


@pytest.mark.parametrize("name,ref", [("logical_and", np.logical_and), ("logical_or", np.logical_or),
                                      ("logical_xor", np.logical_xor)])
def test_logical(name, ref):
    a, b = np.array([0, 1, 2, 0], np.int32), np.array([0.0, 0.0, 0.5, -1.0], np.float32)
    out = getattr(pt, name)(pt.tensor(a), pt.tensor(b))
    assert out.dtype is pt.bool and out.tolist() == ref(a, b).tolist()


@pytest.mark.parametrize("dtype", [pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64])
def test_bitwise(dtype):
    a, b = sample(dtype, (6,), -50, 50, seed=6), sample(dtype, (6,), -50, 50, seed=7)
    x, y = pt.tensor(a), pt.tensor(b)
    assert (x & y).tolist() == (a & b).tolist()
    assert (x | y).tolist() == (a | b).tolist()
    assert (x ^ y).tolist() == (a ^ b).tolist()
    assert (~x).tolist() == (~a).tolist()
    assert (x & y).dtype is dtype


def test_shifts():
    x = pt.tensor([1, -8, 3], dtype=pt.int8)
    assert (x << 2).tolist() == [4, -32, 12]
    assert (x >> 1).tolist() == [0, -4, 1]
    assert (x << 8).tolist() == [0, 0, 0]
    assert (x >> 9).tolist() == [0, -1, 0]
    assert (pt.tensor([1, 2]) << pt.tensor([3, 4])).tolist() == [8, 32]
    assert (1 << pt.tensor([2])).tolist() == [4]
    with pytest.raises(NotImplementedError, match="bitwise_and.*not implemented for dtype plugtorch.float32"):
        pt.tensor([1.0]) & pt.tensor([1.0])


def test_bool_arithmetic():
    b = pt.tensor([True, False, True])
    assert (b + b).dtype is pt.bool and (b + b).tolist() == [True, False, True]
    assert (b * b).tolist() == [True, False, True]
    assert (b + 1).tolist() == [2, 1, 2] and (b + 1).dtype is pt.int64
    with pytest.raises(RuntimeError, match="Subtraction.*bool.*logical_xor"):
        b - b


def test_where():
    c = pt.tensor([True, False, True])
    assert pt.where(c, pt.tensor([1, 2, 3]), pt.tensor([10, 20, 30])).tolist() == [1, 20, 3]
    assert pt.where(c, 1.0, 0).tolist() == [1.0, 0.0, 1.0] and pt.where(c, 1.0, 0).dtype is pt.float32
    r = pt.where(c.view(3, 1), pt.ones(3, dtype=pt.int8), pt.zeros(1, dtype=pt.float16))
    assert r.shape == (3, 3) and r.dtype is pt.float16
    assert pt.where(c, pt.tensor([1], dtype=pt.int8), 5).dtype is pt.int8
    assert [t.tolist() for t in pt.where(pt.tensor([[0, 1], [1, 0]]) > 0)] == [[0, 1], [1, 0]]
    with pytest.raises(RuntimeError, match="bool"):
        pt.where(pt.tensor([1, 0]), 1, 0)


def test_where_method_takes_the_tensor_as_the_values():
    # x.where(condition, other) is where(condition, x, other), as PyTorch's method; it was where(x, ...)
    x, c = pt.tensor([1.0, 2.0, 3.0], requires_grad=True), pt.tensor([True, False, True])
    y = x.where(c, 0.0)
    assert y.tolist() == [1.0, 0.0, 3.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]
    assert x.where(condition=c, other=pt.tensor(5.0)).tolist() == [1.0, 5.0, 3.0]
    b = pt.tensor([False, True, True])   # a bool tensor: the old order took it as the condition
    assert b.where(c, True).tolist() == [False, True, True]
    with pytest.raises(TypeError, match="where"):
        x.where(c)


def test_lerp_nan_to_num_logaddexp_isclose():
    s, e = pt.tensor([0.0, 10.0]), pt.tensor([10.0, 20.0])
    assert pt.lerp(s, e, 0.25).tolist() == [2.5, 12.5]
    assert pt.lerp(s, e, pt.tensor([0.5, 1.0])).tolist() == [5.0, 20.0]
    x = pt.tensor([float("nan"), float("inf"), -float("inf"), 1.0])
    assert x.nan_to_num().tolist() == [0.0, np.finfo(np.float32).max, np.finfo(np.float32).min, 1.0]
    assert x.nan_to_num(nan=1.0, posinf=2.0, neginf=-2.0).tolist() == [1.0, 2.0, -2.0, 1.0]
    a, b = pt.tensor([0.0, 1000.0, -float("inf")]), pt.tensor([0.0, 1000.0, -float("inf")])
    r = pt.logaddexp(a, b).tolist()
    assert r[0] == pytest.approx(math.log(2)) and r[1] == pytest.approx(1000 + math.log(2)) and r[2] == -math.inf
    assert pt.isclose(pt.tensor([1.0, 1.0001, float("nan")]), pt.tensor([1.0, 1.0, float("nan")])).tolist() == [True, False, False]
    assert pt.isclose(pt.tensor([float("nan")]), pt.tensor([float("nan")]), equal_nan=True).tolist() == [True]
    assert pt.allclose(pt.tensor([1.0]), pt.tensor([1.0 + 1e-7])) is True
    assert pt.equal(pt.tensor([1, 2]), pt.tensor([1, 2])) is True
    assert pt.equal(pt.tensor([1, 2]), pt.tensor([1, 2, 3])) is False


def test_in_place_keeps_dtype_and_rejects_widening():
    x = pt.tensor([1, 2], dtype=pt.int32)
    x += 1
    assert x.dtype is pt.int32 and x.tolist() == [2, 3]
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        x += 1.5
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        x.div_(2)
    f = pt.tensor([1.0, 2.0], dtype=pt.float16)
    f *= pt.tensor([2.0, 2.0], dtype=pt.float64)
    assert f.dtype is pt.float16 and f.tolist() == [2.0, 4.0]
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        pt.ones(3).add_(pt.ones(2, 3))


def test_low_precision_rounding():
    x = pt.tensor([1.0, 2.0 ** -8], dtype=pt.bfloat16)
    assert (x + x).numpy().dtype == np.dtype(ml_dtypes.bfloat16)
    assert (pt.tensor([2048.0], dtype=pt.float16) + 1).item() == 2048.0
    assert (pt.tensor([65504.0], dtype=pt.float16) * 2).item() == float("inf")


@pytest.mark.parametrize("bad", ["a", [1, 2], None])   # (a Python complex is a number: complex64 result)
def test_wrong_argument_types(bad):
    exc = TypeError
    with pytest.raises(exc, match="add"):
        pt.add(pt.ones(2), bad)


def test_wrong_input_type_unary():
    with pytest.raises(TypeError, match=r"exp\(\): argument 'input' must be Tensor, not list"):
        pt.exp([1.0])


DIVMOD = {"floor_divide": lambda a, b: np.floor(a / b), "remainder": lambda a, b: a - b * np.floor(a / b),
          "fmod": np.fmod, "pow": np.power}


@pytest.mark.parametrize("dtype", FLOATS + [pt.int8, pt.int16, pt.int32, pt.int64, pt.uint8])
@pytest.mark.parametrize("name", sorted(DIVMOD))
def test_division_family_every_dtype(name, dtype):
    lo = 0 if dtype is pt.uint8 or name == "pow" else -9
    a = sample(dtype, (4, 5), lo=lo, hi=9, seed=11)
    b = sample(dtype, (5,), lo=1, hi=4, seed=12)
    if name != "pow":
        b = np.where(np.arange(5) % 2 == 0, b, -b) if lo < 0 else b
    want = DIVMOD[name](a.astype(np.float64), b.astype(np.float64))
    out = getattr(pt, name)(pt.tensor(a), pt.tensor(b))
    assert out.dtype is dtype
    if not dtype.is_floating_point:
        want = want.astype(np.int64).astype(dtype.numpy)
    close(out, want.astype(dtype.numpy).astype(np.float64) if dtype.is_floating_point else want, dtype,
          rtol=2e-2 if dtype in (pt.float16, pt.bfloat16) else None)


def test_bitwise_operators_reflected_and_in_place():
    x = pt.tensor([12, 10], dtype=pt.int32)
    assert (5 & x).tolist() == [4, 0] and (5 | x).tolist() == [13, 15] and (5 ^ x).tolist() == [9, 15]
    assert (1 << pt.tensor([3])).tolist() == [8] and (64 >> pt.tensor([2])).tolist() == [16]
    y = x.clone()
    y &= 6
    assert y.tolist() == [4, 2]
    y |= 1
    assert y.tolist() == [5, 3]
    y ^= pt.tensor([1, 1], dtype=pt.int32)
    assert y.tolist() == [4, 2]
    y <<= 2
    assert y.tolist() == [16, 8]
    y >>= 1
    assert y.tolist() == [8, 4] and y.dtype is pt.int32
    r = pt.tensor([7.0]) @ pt.tensor([2.0])
    assert r.item() == 14.0 and (pt.tensor([3.0]).__rmatmul__(pt.tensor([2.0]))).item() == 6.0


BINARY_INPLACE = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow", "atan2",
                  "maximum", "minimum", "true_divide", "multiply", "divide", "subtract", "arctan2"]


@pytest.mark.parametrize("name", BINARY_INPLACE)
def test_named_in_place_binary_methods(name):
    a = np.array([[1.5, 2.0, 3.0], [4.0, 5.0, 6.5]], np.float64)
    b = pt.tensor([2.0, 0.5, 3.0], dtype=pt.float64)
    x = pt.tensor(a)
    want = getattr(pt, name)(x, b)
    y = x.clone()
    assert getattr(y, name + "_")(b) is y
    assert y.tolist() == want.tolist()
    v = x.clone()
    getattr(v.t()[0], name + "_")(b[0])       # through a non-contiguous view
    assert v.t()[0].tolist() == getattr(pt, name)(x.t()[0], b[0]).tolist()


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"])
def test_in_place_comparisons_keep_dtype(name):
    x = pt.tensor([1.0, 2.0, 3.0])
    want = getattr(pt, name)(x, 2.0)
    getattr(x, name + "_")(2.0)
    assert x.dtype is pt.float32 and x.tolist() == want.float().tolist()


ALL_DTYPES = [pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64, pt.float16, pt.bfloat16,
              pt.float32, pt.float64]


@pytest.mark.parametrize("zero_dim", [False, True])
@pytest.mark.parametrize("db", ALL_DTYPES)
@pytest.mark.parametrize("da", ALL_DTYPES)
def test_mixed_dtype_arithmetic(da, db, zero_dim):
    a = sample(da, (2, 3), lo=1, hi=5, seed=20)
    b = sample(db, () if zero_dim else (3,), lo=1, hi=5, seed=21)
    x, y = pt.tensor(a), pt.tensor(b)
    # a 0-d operand of the same or a lower category does not take part in promotion
    if zero_dim and db.category <= da.category:
        want = da
    else:
        want = pt.promote_types(da, db)
    ops = {"mul": np.multiply, "maximum": np.maximum, "eq": np.equal}
    if want is not pt.bool:
        ops["add"] = np.add
    for name, f in ops.items():
        out = getattr(pt, name)(x, y)
        ref = f(a.astype(np.float64), np.asarray(b, np.float64))
        if name == "eq":
            assert out.dtype is pt.bool
            continue
        assert out.dtype is want, (name, da, db)
        close(out, ref.astype(want.numpy) if want is not pt.bool else ref, want,
              rtol=2e-2 if want in (pt.float16, pt.bfloat16) else 1e-6)
    assert (x / y).dtype is (want if want.is_floating_point else pt.float32)


@pytest.mark.parametrize("db", ALL_DTYPES)
@pytest.mark.parametrize("da", ALL_DTYPES)
def test_where_mixed_dtypes(da, db):
    c = pt.tensor([True, False, True])
    a, b = pt.tensor([1, 0, 1], dtype=da), pt.tensor([0, 1, 1], dtype=db)
    out = pt.where(c, a, b)
    assert out.dtype is pt.promote_types(da, db)
    assert out.tolist() == pt.tensor([1, 1, 1], dtype=out.dtype).tolist()
    assert pt.where(c, a, b[0]).dtype is (da if db.category <= da.category else pt.promote_types(da, db))


def test_where_with_a_zero_branch_on_0d_tensors():
    # the cpu kernel's bitwise select must not take 0-d operands (NumPy gives scalars there)
    c = pt.tensor(False)
    x = pt.tensor(2.5)
    assert pt.where(c, x, 0.0).item() == 0.0
    assert pt.where(c, 0.0, x).item() == 2.5
    assert pt.logaddexp(pt.tensor(1.0), pt.tensor(2.0)).item() == pytest.approx(2.3132617)


# torch 2.13's results: mul and div take a Python scalar as a float32 and round once (its
# opmath), sub rounds the scalar to the tensor's dtype first, and number / tensor is the
# tensor's reciprocal times the number
_HALF_SCALAR_CASES = {
    pt.float16: {"mul": [-5.44921875, 0.300048828125, 100.0625, 0.0333251953125],
                 "div": [-16.515625, 0.9091796875, 303.25, 0.10101318359375],
                 "sub": [-54.59375, 2.900390625, 1000.5, 0.2332763671875],
                 "rdiv": [-0.060516357421875, 1.099609375, 0.0032978057861328125, 9.8984375]},
    pt.bfloat16: {"mul": [-5.4375, 0.30078125, 100.0, 0.033447265625],
                  "div": [-16.5, 0.91015625, 304.0, 0.10107421875],
                  "sub": [-54.5, 2.90625, 1000.0, 0.234375],
                  "rdiv": [-0.060546875, 1.1015625, 0.0032958984375, 9.875]},
}


@pytest.mark.parametrize("device", [d for d in ("cpu", "opencl") if d in pt.backends.available()])
@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16])
def test_half_precision_with_python_scalars_rounds_as_pytorch(device, dtype):
    from plugtorch.backends import get_backend
    if get_backend(device).unsupported_dtype(dtype, 0):
        pytest.skip(f"{dtype} is not supported on this {device} device")
    x = pt.tensor([-54.5, 3.0, 1000.5, 0.3333], dtype=dtype, device=device)
    want = _HALF_SCALAR_CASES[dtype]
    assert (x * 0.1).tolist() == want["mul"] and (0.1 * x).tolist() == want["mul"]
    assert x.clone().mul_(0.1).tolist() == want["mul"]
    assert (x / 3.3).tolist() == want["div"] and x.clone().div_(3.3).tolist() == want["div"]
    assert (x - 0.1).tolist() == want["sub"]
    assert (3.3 / x).tolist() == want["rdiv"]


def test_lerp_refuses_an_end_that_is_not_a_tensor():
    # lerp(x, None, 0.25) escaped as "unsupported operand type(s) for -: 'NoneType' and 'Tensor'"
    # and lerp(x, 2.0, 0.25) computed; PyTorch's TypeError takes only a tensor end
    x = pt.ones(3, dtype=pt.float64)
    for end in (None, [1.0, 2.0, 3.0], 2.0):
        for f in (lambda: pt.lerp(x, end, 0.25), lambda: x.lerp(end, weight=1.0), lambda: x.clone().lerp_(end, 0.5)):
            with pytest.raises(TypeError, match=f"lerp\\(\\): argument 'end' must be Tensor, not {type(end).__name__}"):
                f()
    assert pt.lerp(x, pt.tensor([3.0, 5.0, -1.0], dtype=pt.float64), 0.25).tolist() == [1.5, 2.0, 0.5]
