"""Elementwise ops at the edges, on every backend, against values torch 2.13 gives: integer
division and remainder at the minimum and by zero, shifts by Python ints out of the dtype's range,
pow's square-root exponents, and floor_divide / remainder / fmod with infinities. Each expected
value was computed with torch 2.13, none from plugtorch."""
import math

import numpy as np
import pytest

import plugtorch as pt

inf, nan = math.inf, math.nan
DEVICES = pt.backends.available()
INTS = [pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64]


def _skip_unless_supported(device, dtype):
    be = pt.backends.get_backend(pt.device(device).type)
    if pt.device(device).type != "cpu" and dtype not in be.supported_dtypes(0):
        pytest.skip(f"{device} has no {dtype}")


def _same(got, want):
    """Equal element for element, nan matching nan, and the sign of zero checked."""
    g = np.asarray(got.cpu().to(pt.float64).numpy(), dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    assert g.shape == w.shape and np.array_equal(g, w, equal_nan=True), (g.tolist(), w.tolist())
    num = ~np.isnan(w)
    assert np.array_equal(np.signbit(g[num]), np.signbit(w[num])), ("sign of zero", g.tolist(), w.tolist())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.int8, pt.int16, pt.int32, pt.int64])
def test_minimum_by_minus_one(device, dtype):
    # C leaves INT_MIN % -1 undefined (PoCL gave -1); torch: remainder and fmod 0, the quotient wraps
    lo = int(pt.iinfo(dtype).min)
    a = pt.tensor([lo, lo, 7], dtype=dtype, device=device)
    b = pt.tensor([-1, 3, -1], dtype=dtype, device=device)
    assert pt.remainder(a, b).tolist() == [0, (lo % 3), 0]
    assert pt.fmod(a, b).tolist() == [0, -(-lo % 3), 0]
    assert pt.floor_divide(a, b).tolist() == [lo, lo // 3, -7]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["floor_divide", "remainder", "fmod"])
@pytest.mark.parametrize("dtype", INTS)
def test_integer_division_by_zero_raises(device, op, dtype):
    # torch: RuntimeError "ZeroDivisionError" for a zero anywhere in a tensor divisor, a 0-d zero,
    # a Python 0 or False, and a divisor of another integer dtype
    f = getattr(pt, op)
    x = pt.tensor([[7, 5, 3], [100, 2, 9]], dtype=dtype, device=device)
    for divisor in (pt.tensor([[3, 2, 1], [5, 0, 7]], dtype=dtype, device=device),
                    pt.tensor(0, dtype=dtype, device=device), pt.tensor(0, dtype=dtype), 0, False,
                    pt.tensor([1, 0, 3], dtype=pt.int16 if dtype is not pt.int16 else pt.int32, device=device)):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            f(x, divisor)
    # a float zero is no integer division: torch gives inf / nan
    _same(f(pt.tensor([4, 0], dtype=dtype, device=device), 0.0),
          {"floor_divide": [inf, nan], "remainder": [nan, nan], "fmod": [nan, nan]}[op])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["floor_divide", "remainder", "fmod"])
@pytest.mark.parametrize("dtype", INTS[:4])
def test_integer_division_by_a_wider_0d_divisor_that_wraps_to_zero(device, op, dtype):
    # a 0-d int64 divisor takes no part in promotion: it converts to the tensor's dtype, as a C cast,
    # so 2**bits divides by 0 (cpu gave 0 and opencl x // 0 = x, unchecked); a divisor that wraps
    # to another value divides by that value (NumPy's wrapping cast as the reference)
    bits = 8 * np.dtype(dtype.name).itemsize
    f = getattr(pt, op)
    x = pt.tensor([7, 100, 3], dtype=dtype, device=device)
    for divisor in (pt.tensor(1 << bits, device=device), pt.tensor(1 << bits)):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            f(x, divisor)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        x.clone().remainder_(pt.tensor(1 << bits, device=device))
    w = np.array((1 << bits) + 3).astype(np.dtype(dtype.name))   # wraps to 3
    want = {"floor_divide": np.floor_divide, "remainder": np.remainder, "fmod": np.fmod}[op](
        np.array([7, 100, 3], dtype=dtype.name), w)
    assert f(x, pt.tensor((1 << bits) + 3, device=device)).tolist() == want.tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_shift_by_a_python_int_outside_the_dtype(device):
    # the count converts to the dtype as a C cast (torch: uint8 << -2 shifts by 254 and gives 0;
    # int8 >> 300 shifts by 44: the sign fills); was an OverflowError on cpu
    u = pt.tensor([1, 2, 100], dtype=pt.uint8, device=device)
    assert pt.bitwise_left_shift(u, -2).tolist() == [0, 0, 0]
    assert pt.bitwise_right_shift(u, 300).tolist() == [0, 0, 0]
    i = pt.tensor([-3, -1, 0, 1, 2, 7], dtype=pt.int8, device=device)
    assert pt.bitwise_right_shift(i, 300).tolist() == [-1, -1, 0, 0, 0, 0]
    assert pt.bitwise_left_shift(i, 300).tolist() == [0] * 6


@pytest.mark.parametrize("device", DEVICES)
def test_pow_square_root_exponents(device):
    # torch's pow(x, 0.5) is sqrt(x) and pow(x, -0.5) rsqrt(x): sqrt(-0.0) = -0.0, sqrt(-inf) = nan,
    # where C's pow gives 0.0 and inf; a tensor exponent is pow itself
    x = pt.tensor([-0.0, 0.0, -inf, inf, nan, -2.0, 4.0], device=device)
    _same(pt.pow(x, 0.5), [-0.0, 0.0, nan, inf, nan, nan, 2.0])
    _same(pt.pow(x, -0.5), [-inf, inf, nan, 0.0, nan, nan, 0.5])
    _same(pt.pow(x, pt.full((7,), 0.5, device=device)), [0.0, 0.0, inf, inf, nan, nan, 2.0])
    _same(pt.pow(x, 2), [0.0, 0.0, inf, inf, nan, 4.0, 16.0])
    _same(pt.pow(x, -1), [-inf, inf, -0.0, 0.0, nan, -0.5, 0.25])


def test_pow_by_a_0d_tensor_is_no_square_root():
    # torch 2.13: pow(float32 [-0.0, 4], 0-d float64 tensor 0.5) is [0.0, 2.0] (pow, not sqrt)
    x = pt.tensor([-0.0, 4.0])
    _same(pt.pow(x, pt.tensor(0.5, dtype=pt.float64)), [0.0, 2.0])


A = [5.0, -5.0, inf, -inf, inf, 0.0, -0.0, 5.0, -5.0, nan, 1.0, -1.0, 0.0]
B = [inf, inf, inf, inf, -inf, inf, inf, -inf, -inf, 2.0, 0.0, 0.0, 0.0]
WANT = {   # torch 2.13, every float dtype alike
    "floor_divide": [0.0, -1.0, nan, nan, nan, 0.0, -0.0, -1.0, 0.0, nan, inf, -inf, nan],
    "remainder": [5.0, inf, nan, nan, nan, 0.0, -0.0, -inf, -5.0, nan, nan, nan, nan],
    "fmod": [5.0, -5.0, nan, nan, nan, 0.0, -0.0, 5.0, -5.0, nan, nan, nan, nan],
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.bfloat16])
@pytest.mark.parametrize("op", sorted(WANT))
def test_division_with_infinities(device, dtype, op):
    _skip_unless_supported(device, dtype)
    a = pt.tensor(A, device=device).to(dtype)
    b = pt.tensor(B, device=device).to(dtype)
    _same(getattr(pt, op)(a, b), WANT[op])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype,want", [
    (pt.float16, [1.519918441772461e-05, 6.139278411865234e-06, 0.5, 0.96435546875, 0.499755859375]),
    (pt.bfloat16, [1.4722347259521484e-05, 6.139278411865234e-06, 0.5, 0.96484375, 0.5])])
def test_half_precision_sigmoid_computes_in_float32(device, dtype, want):
    # torch 2.13 computes in float32 and rounds once; in float16 steps exp(11.1) overflowed and
    # sigmoid(-11.09375) was 0
    _skip_unless_supported(device, dtype)
    x = pt.tensor([-11.09375, -12.0, 0.000732898712158203125, 3.3, -0.001], device=device).to(dtype)
    _same(pt.sigmoid(x), want)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype,x,want", [(pt.float16, 1.0132789611816406e-06, 993.5),
                                          (pt.bfloat16, 0.30078125, 1.8203125)])
def test_half_precision_rsqrt_rounds_once(device, dtype, x, want):
    # torch 2.13's vectorised loop (32 elements and more; its tail loop rounds twice and gives 993.0
    # and 1.828125): rsqrt in float32, rounded once, the correctly rounded value
    _skip_unless_supported(device, dtype)
    _same(pt.rsqrt(pt.full((32,), x, device=device).to(dtype)), [want] * 32)


@pytest.mark.parametrize("device", DEVICES)
def test_hypot_never_overflows_in_between(device):
    # torch 2.13 (C's hypot): float32 1e20 squared overflowed; an infinity wins over nan
    f = pt.tensor([1e20, 1e-25, inf, nan, -0.0, 3.0], device=device)
    g = pt.tensor([1e20, 1e-25, nan, inf, 0.0, -4.0], device=device)
    out = pt.hypot(f, g).tolist()
    assert out[0] == pytest.approx(1.414213581995256e+20, rel=1e-6)
    assert out[1] == pytest.approx(1.414213624540733e-25, rel=1e-6)
    assert out[2:] == [inf, inf, 0.0, 5.0]


@pytest.mark.parametrize("device", DEVICES)
def test_half_precision_hypot_promotes_first(device):
    # torch 2.13: the operands in the result dtype first (uint8 200 * 200 wrapped to 64 before), and
    # no float16 overflow in between (300 * 300)
    _skip_unless_supported(device, pt.float16)
    u = pt.tensor([0, 3, 200, 255], dtype=pt.uint8, device=device)
    _same(pt.hypot(u, pt.tensor([-2.5, 4.0, 0.5, 300.0], dtype=pt.float16, device=device)), [2.5, 5.0, 200.0, 393.75])
    h = pt.tensor([300.0, 40000.0, 1e-4, 0.0], dtype=pt.float16, device=device)
    _same(pt.hypot(h, h), [424.25, 56576.0, 0.00014150142669677734, 0.0])


@pytest.mark.parametrize("device", DEVICES)
def test_xlogy_and_logaddexp_take_bool_operands(device):
    # torch 2.13: logaddexp with a bool tensor (was sub's bool error); xlogy with a Python number
    b = pt.tensor([True, False, True], device=device)
    x = pt.tensor([0.5, 1.5, -2.0], device=device)
    want = [1.4740769863128662, 1.7014132738113403, 1.0485873222351074]
    assert pt.logaddexp(b, x).tolist() == pytest.approx(want, rel=1e-6)
    assert pt.logaddexp(x, b).tolist() == pytest.approx(want, rel=1e-6)
    assert pt.xlogy(pt.tensor([True, False], device=device), 3).tolist() == pytest.approx([1.0986123085021973, 0.0])


@pytest.mark.parametrize("device", DEVICES)
def test_half_precision_xlogy_keeps_the_promoted_dtype(device):
    # torch 2.13: xlogy(float16, bool) is float16 (was float32: log(bool) took the default dtype);
    # a 0-d bfloat16 other is converted to float16 first
    _skip_unless_supported(device, pt.float16)
    _skip_unless_supported(device, pt.bfloat16)
    h = pt.tensor([-2.5, 0.0, 1.5], dtype=pt.float16, device=device)
    r = pt.xlogy(h, pt.tensor([True, False, False], device=device))
    assert r.dtype is pt.float16
    _same(r, [-0.0, 0.0, -inf])
    h = pt.tensor([-2.5, -1.0, 1.5, 3.0], dtype=pt.float16, device=device)
    _same(pt.xlogy(h, pt.tensor(0.5, dtype=pt.bfloat16, device=device)),
          [1.7333984375, 0.693359375, -1.0400390625, -2.080078125])


@pytest.mark.parametrize("device", DEVICES)
def test_relu_keeps_negative_zero_and_nan(device):
    # torch 2.13 (every size and float dtype): relu(-0.0) is -0.0, as clamp_min(x, 0); was 0.0
    x = pt.tensor([-0.0, 0.0, -1.0, nan, 2.0, -inf, inf], device=device)
    _same(pt.relu(x), [-0.0, 0.0, 0.0, nan, 2.0, 0.0, inf])
    _same(pt.relu(x[::2]), [-0.0, 0.0, 2.0, inf])
    _same(pt.relu(x[0]), -0.0)


def test_backward_leaves_inputs_that_need_no_gradient_alone():
    # float32 device tensor + 0-d cpu float64 tensor (PyTorch lets it join any device): the result
    # is float32, and backward must not build a float64 gradient for the 0-d operand, which needs
    # none (it raised "to(): dtype float64 is not supported" on a device without float64)
    from plugtorch.backends.cpu import CPUBackend

    class NoDoubleCPU(CPUBackend):
        name = "nodouble"

        def unsupported_dtype(self, dtype, index):
            return "the nodouble device has no float64" if dtype is pt.float64 else None

    pt.backends.register(NoDoubleCPU())
    try:
        x = pt.tensor([1.0, 2.0, 3.0], device="nodouble", requires_grad=True)
        y = (x * pt.tensor(2.5, dtype=pt.float64)).sum()
        y.backward()
        assert x.grad.dtype is pt.float32 and x.grad.tolist() == [2.5, 2.5, 2.5]
    finally:
        pt.backends.unregister("nodouble")


@pytest.mark.parametrize("dtype, it", [(np.float32, np.int32), (np.float64, np.int64)])
def test_relu_keeps_negative_zero_and_every_nan_bit_for_bit_on_cpu(dtype, it):
    # torch.relu(-0.0) is -0.0 and a nan comes through unchanged: where(x < 0, +0, x). The cpu
    # kernel may run np.maximum(+0, x) when it checked that NumPy gives those bits; either way
    # the result must be the where's, on contiguous and strided inputs, at every lane
    specials = np.array([-0.0, 0.0, nan, -nan, -inf, inf, -1.5, 2.5, -5e-324, 5e-324], dtype=dtype)
    payload = np.array([0x7FC00123, 0xFFC00321] if it is np.int32 else
                       [0x7FF8000000000123, 0xFFF8000000000321], dtype=np.uint64).astype(it).view(dtype)
    x = np.resize(np.concatenate([specials, payload]), 300)
    for v in (x, x[3:], x[:37], x[::3], x[:289].reshape(17, 17).T):
        want = np.where(v < 0, dtype(0), v)
        got = pt.relu(pt.from_numpy(np.array(v, copy=True) if not v.flags.c_contiguous else v)).numpy()
        assert got.tobytes() == np.ascontiguousarray(want).tobytes()
        got_strided = pt.relu(pt.from_numpy(np.ascontiguousarray(x))[::3]).numpy()
        assert got_strided.tobytes() == np.where(x[::3] < 0, dtype(0), x[::3]).tobytes()


@pytest.mark.parametrize("device", DEVICES)
def test_uint8_with_a_0d_signed_operand_wraps_as_pytorch(device):
    # a 0-d int8 tensor keeps a uint8 tensor's dtype (same category) and is cast to uint8 first:
    # x.add_(tensor(-3, int8)) raised NumPy's same_kind UFuncTypeError on cpu; x ** tensor(-3, int8)
    # gave 0 (a negative exponent) where torch 2.13 computes x ** 253 modulo 256
    for op, want in (("add_", [253, 254, 0, 4, 197]), ("sub_", [3, 4, 6, 10, 203]), ("mul_", [0, 253, 247, 235, 168]),
                     ("pow_", [0, 1, 19, 103, 0])):
        x = pt.tensor([0, 1, 3, 7, 200], dtype=pt.uint8, device=device)
        getattr(x, op)(pt.tensor(-3, dtype=pt.int8, device=device))
        assert x.tolist() == want, op
    got = pt.tensor([3, 5, 200], dtype=pt.uint8, device=device) ** pt.tensor(-3, dtype=pt.int8, device=device)
    assert got.dtype is pt.uint8 and got.tolist() == [19, 213, 0]
    with pytest.raises(RuntimeError, match="result type Float32 can't be cast to the desired output type Uint8"):
        pt.tensor([1], dtype=pt.uint8, device=device).div_(pt.tensor(-3, dtype=pt.int8, device=device))


def test_a_complex_scalar_is_refused_by_real_binary_ops():
    # copysign(int tensor, 1j) raised NumPy's TypeError (no complex copysign loop); torch 2.13:
    # NotImplementedError ("copysign_cpu" not implemented for 'ComplexFloat')
    with pytest.raises(NotImplementedError, match=r"copysign\(\): not implemented for dtype plugtorch.complex64"):
        pt.copysign(pt.tensor([1, 2]), 1j)


def test_bool_tensor_to_a_negative_int_power_raises():
    # bool ** int computes in int64; torch 2.13 refuses a negative Python int exponent there as for
    # integer tensors (plugtorch returned [1, 0])
    b = pt.tensor([True, False])
    assert (b ** 2).tolist() == [1, 0] and (b ** 2).dtype is pt.int64
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        b ** -1


@pytest.mark.parametrize("device", DEVICES)
def test_where_scalar_beyond_half_range_is_inf(device):
    # torch 2.13 converts where's Python float to float16/bfloat16 unchecked (inf), but checks it
    # for float32 and the integer dtypes; plugtorch refused 1e6 for float16
    c = pt.tensor([True, False], device=device)
    for dt, v in ((pt.float16, 1e6), (pt.bfloat16, -1e39)):
        _skip_unless_supported(device, dt)
        got = pt.where(c, pt.zeros(2, dtype=dt, device=device), v)
        assert got.dtype is dt
        _same(got, [0.0, math.copysign(inf, v)])
    with pytest.raises(RuntimeError, match="cannot be converted to type float32 without overflow"):
        pt.where(c, pt.zeros(2, device=device), 1e39)
    with pytest.raises(RuntimeError, match="cannot be converted to type int8 without overflow"):
        pt.where(c, pt.zeros(2, dtype=pt.int8, device=device), 300)


def test_lerp_promotes_with_a_0d_weight_of_another_dtype():
    # torch 2.13 takes a 0-d weight of any dtype and promotes with it (a 1-d one must match);
    # plugtorch raised 'expected dtype float32 for `weight`'
    x, end = pt.tensor([0.0, 2.0]), pt.tensor([4.0, 6.0])
    got = pt.lerp(x, end, pt.tensor(0.25, dtype=pt.float64))
    assert got.dtype is pt.float32 and got.tolist() == [1.0, 3.0]
    got = pt.lerp(pt.tensor([False, True]), pt.tensor([True, True]), pt.tensor(0.5, dtype=pt.float16))
    assert got.dtype is pt.float16 and got.tolist() == [0.5, 1.0]
    got = pt.lerp(x, end, pt.tensor(0.5j))
    assert got.dtype is pt.complex64
    np.testing.assert_allclose(got.numpy(), np.array([0, 2]) + 0.5j * np.array([4, 4]))
    with pytest.raises(RuntimeError, match="expected dtype plugtorch.float32 for `weight` but got dtype plugtorch.float64"):
        pt.lerp(x, end, pt.tensor([0.5, 0.5], dtype=pt.float64))


def test_clamp_with_a_0d_tensor_beside_a_number_takes_both_as_numbers():
    # torch 2.13 binds clamp(x, 0-d tensor, number) to its Scalar overload: the tensor bound takes no
    # part in promotion (int32 clamped by a float64 0-d and True is float32, plugtorch gave float64)
    # and must fit the input's dtype (2**40 into int32 raises; plugtorch returned wrapped values)
    got = pt.clamp(pt.zeros(3, dtype=pt.int32), pt.tensor(0.5, dtype=pt.float64), True)
    assert got.dtype is pt.float32 and got.tolist() == [0.5, 0.5, 0.5]
    with pytest.raises(RuntimeError, match="cannot be converted to type int32 without overflow"):
        pt.clamp(pt.zeros(2, dtype=pt.int32), pt.tensor(2 ** 40), 2)
    both = pt.clamp(pt.zeros(2, dtype=pt.int32), pt.tensor(0.5, dtype=pt.float64), pt.tensor(2.0, dtype=pt.float64))
    assert both.dtype is pt.float64   # two tensors: the Tensor overload, 0-d tensors promote
