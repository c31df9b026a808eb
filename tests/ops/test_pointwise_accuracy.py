"""Elementwise results checked against references computed another way (known closed forms,
mpmath-checked constants, NumPy), on every backend: lgamma near its zeros and at subnormals,
digamma at negative half-integers, tanh's saturation, nextafter of equal values, round with
decimals in half precision and at overflow, rsqrt of a complex zero, and add/sub's alpha."""
import math

import numpy as np
import pytest

import plugtorch as pt

DEVICES = pt.backends.available()
inf, nan = math.inf, math.nan


def _skip_unless_supported(device, dtype):
    be = pt.backends.get_backend(pt.device(device).type)
    if pt.device(device).type != "cpu" and dtype not in be.supported_dtypes(0):
        pytest.skip(f"{device} has no {dtype}")


def _bits(t):
    """Values as float64 with the sign of zero kept, nan as nan."""
    return np.asarray(t.cpu().to(pt.float64).numpy(), dtype=np.float64)


def _same(got, want):
    g, w = _bits(got), np.asarray(want, dtype=np.float64)
    assert np.array_equal(g, w, equal_nan=True), (g.tolist(), w.tolist())
    assert np.array_equal(np.signbit(g[~np.isnan(w)]), np.signbit(w[~np.isnan(w)])), ("sign of zero", g.tolist())


# ---- lgamma ------------------------------------------------------------------------------------
# lgamma(1 + z) = -euler_gamma z + zeta(2) z^2 / 2 - ... ; these values are mpmath's (40 digits)
LGAMMA = {0.9999999: 5.7721574684441928263e-8, 2.0000001: 4.2278436665324979232e-8,
          0.999: 5.7803853289138023817e-4, 1.001: -5.7639359828330615152e-4, 1.25: -0.098271836421813161464,
          1.999: -4.2246180069210728418e-4, 1.0 + 5 * 2.0 ** -52: -6.4083812134799960912e-16}


@pytest.mark.parametrize("device", DEVICES)
def test_lgamma_near_its_zeros_keeps_relative_accuracy(device):
    # SciPy's gammaln (the cpu kernel) was 3584 ulps off at 0.999 and 1.7e7 at 0.9999999
    _skip_unless_supported(device, pt.float64)
    x = pt.tensor(list(LGAMMA), dtype=pt.float64, device=device)
    got = _bits(pt.lgamma(x))
    want = np.array(list(LGAMMA.values()))
    assert np.all(np.abs(got - want) <= 8 * np.spacing(np.abs(want))), (got - want) / np.spacing(np.abs(want))
    _same(pt.lgamma(pt.tensor([1.0, 2.0], dtype=pt.float64, device=device)), [0.0, 0.0])   # +0, not -0


@pytest.mark.parametrize("device", DEVICES)
def test_lgamma_of_subnormals_is_minus_log_abs(device):
    # lgamma(x) = -log|x| - euler_gamma x + ... : SciPy's gammaln gave inf below float64's tiny
    _skip_unless_supported(device, pt.float64)
    xs = [5e-324, -5e-324, 1e-310, -1e-320]
    got = _bits(pt.lgamma(pt.tensor(xs, dtype=pt.float64, device=device)))
    want = [-math.log(abs(v)) for v in xs]
    np.testing.assert_allclose(got, want, rtol=1e-15)


# ---- digamma -----------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype,atol", [(pt.float32, 1e-7), (pt.float64, 1e-14)])
def test_digamma_at_negative_half_integers(device, dtype, atol):
    # psi(-n - 1/2) = psi(n + 3/2): the reflection term pi / tan(pi x) is 0 there; opencl took tan
    # of float32's rounded pi/2 (digamma(-0.5) was 0.0364897, off by 3e-7)
    _skip_unless_supported(device, dtype)
    g = 0.57721566490153286061
    psi_half = -g - 2 * math.log(2)                          # psi(1/2)
    want = [psi_half + 2, psi_half + 2 + 2 / 3, psi_half + 2 + 2 / 3 + 2 / 5]   # psi(3/2), psi(5/2), psi(7/2)
    got = _bits(pt.digamma(pt.tensor([-0.5, -1.5, -2.5], dtype=dtype, device=device)))
    np.testing.assert_allclose(got, want, rtol=0, atol=atol * 10 if dtype is pt.float32 else atol)
    assert abs(got[0] - want[0]) <= atol


# ---- tanh saturates ------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16, pt.float32, pt.float64])
@pytest.mark.parametrize("n", [7, 1 << 14])   # (the float8 form of opencl's float32 kernel too)
def test_tanh_reaches_one(device, dtype, n):
    # 1 - tanh(x) < 2^-25 from |x| = 9.0109 on: the correctly rounded float32 value is 1 (PoCL gave
    # 0.99999994 for every x up to inf, so 1 + tanh(-1e30) was 6e-8)
    _skip_unless_supported(device, dtype)
    big = [10.0, 20.0, 1e30, inf, -10.0, -25.0, -1e30]   # (float64 reaches 1 from 19.06 on)
    if dtype is pt.float64:
        big = [20.0, 1e30, inf, -20.0, -1e300, -inf]
    vals = (big * (n // len(big) + 1))[:n]
    x = pt.tensor(vals, dtype=pt.float32 if dtype is not pt.float64 else dtype).to(dtype).to(device)
    t = _bits(pt.tanh(x))
    assert np.array_equal(t, np.sign(_bits(x))), np.unique(t)


@pytest.mark.parametrize("device", DEVICES)
def test_gelu_tanh_of_large_negative_inputs_is_zero(device):
    x = pt.tensor([-1e30, -100.0, -20.0], device=device)
    _same(pt.nn.functional.gelu(x, approximate="tanh"), [-0.0, -0.0, -0.0])


# ---- nextafter -----------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16, pt.float32, pt.float64])
def test_nextafter_of_equal_values_is_the_second(device, dtype):
    # C's nextafter(x, y) returns y when x == y (NumPy's float16 loop returned x)
    _skip_unless_supported(device, dtype)
    a = pt.tensor([0.0, -0.0, 1.0], dtype=dtype, device=device)
    b = pt.tensor([-0.0, 0.0, 1.0], dtype=dtype, device=device)
    _same(pt.nextafter(a, b), [-0.0, 0.0, 1.0])


# ---- round(decimals=) ----------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("decimals", [1, 2, 3, -1, -2])
def test_round_decimals_float64_matches_numpy(device, decimals):
    # NumPy's around: rint(x * 10^d) / 10^d, and for d < 0 rint(x / 10^-d) * 10^-d (exact powers)
    _skip_unless_supported(device, pt.float64)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-500, 500, 200), np.arange(-95, 100, 5.0), [0.125, 2.675, -0.0, inf, -inf, nan]])
    got = _bits(pt.round(pt.tensor(x, dtype=pt.float64, device=device), decimals=decimals))
    want = np.round(x, decimals)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16])
def test_round_decimals_half_precision_computes_in_float32(device, dtype):
    # x * 1000 overflowed float16 (round(88.69, decimals=3) was inf): PyTorch scales in float32
    _skip_unless_supported(device, dtype)
    x = pt.tensor([88.6875, 100.0, -100.0, 60000.0, 2.5, -0.0], dtype=dtype, device=device)
    for d in (1, 3):
        xs = _bits(x)
        want = pt.tensor(np.round(xs.astype(np.float32) * np.float32(10.0 ** d)) / np.float32(10.0 ** d)).to(dtype)
        _same(pt.round(x, decimals=d), _bits(want))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.float32, pt.float64])
def test_round_decimals_keeps_numbers_whose_scaling_overflows(device, dtype):
    # a float beyond 2^24 (2^53) is a whole number already: round(3e38, decimals=1) is 3e38, not the
    # inf of 3e38 * 10 / 10 (torch 2.13 returns inf); decimals=40 in float32 is x, not nan
    _skip_unless_supported(device, dtype)
    big = float(pt.finfo(dtype).max)
    x = pt.tensor([big, -big, 1.5, inf, nan], dtype=dtype, device=device)
    _same(pt.round(x, decimals=1), [big, -big, 1.5, inf, nan])
    if dtype is pt.float32:
        _same(pt.round(x, decimals=40), [big, -big, 1.5, inf, nan])


@pytest.mark.parametrize("dtype", [pt.bool, pt.uint8, pt.int64])
def test_round_decimals_of_integers_is_not_implemented(dtype):
    with pytest.raises(NotImplementedError, match=r"round\(\).*decimals=1.*\.float\(\)"):
        pt.round(pt.tensor([1, 0], dtype=dtype), decimals=1)
    if dtype is not pt.bool:   # (decimals=0 is the identity op on integers; bool is refused)
        assert pt.round(pt.tensor([3, 0], dtype=dtype)).tolist() == [3, 0]


# ---- rsqrt of a complex zero ---------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.complex64, pt.complex128])
def test_rsqrt_of_complex_zero_is_complex_infinity(device, dtype):
    # 1 / (0 + 0j) is inf + nan j (C99 Annex G, NumPy's divide); the reciprocal loop gave nan + nan j
    _skip_unless_supported(device, dtype)
    r = pt.rsqrt(pt.tensor([0j, -0.0 + 0j, 4 + 0j], dtype=dtype, device=device)).cpu()
    assert r.real.tolist()[:2] == [inf, inf] and all(math.isnan(v) for v in r.imag.tolist()[:2])
    assert r.tolist()[2] == 0.5


# ---- add / sub alpha -----------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_alpha_scales_in_the_result_dtype(device):
    # alpha * other is taken in input + other's dtype: an int8 100 times 2 added to int64 is 200,
    # not int8's wrapped -56; bool + bool with alpha=2 stays bool (logical or)
    a = pt.tensor([0, 1], device=device)
    b = pt.tensor([100, -100], dtype=pt.int8, device=device)
    r = pt.add(a, b, alpha=2)
    assert r.dtype is pt.int64 and r.tolist() == [200, -199]
    r = pt.sub(a, b, alpha=2)
    assert r.dtype is pt.int64 and r.tolist() == [-200, 201]
    t = pt.tensor([False, True, False], device=device)
    u = pt.tensor([False, False, True], device=device)
    r = pt.add(t, u, alpha=3)
    assert r.dtype is pt.bool and r.tolist() == [False, True, True]
    assert pt.add(t, u, alpha=0).tolist() == [False, True, False]
    x = pt.tensor([1, 2], dtype=pt.int16, device=device)
    x.add_(pt.tensor([300, 1], dtype=pt.int16, device=device), alpha=100)   # int16 arithmetic wraps
    assert x.tolist() == [(1 + 30000) - 65536 if 1 + 30000 > 32767 else 1 + 30000, 102]


@pytest.mark.parametrize("alpha,dtype,match", [
    (2.5, pt.int64, "alpha must not be a floating point number"),
    (1.0, pt.uint8, "alpha must not be a floating point number"),
    (2.5, pt.bool, "alpha must not be a floating point number"),
    (True, pt.int64, "Boolean alpha only supported for Boolean results"),
    (True, pt.float32, "Boolean alpha only supported for Boolean results"),
    (1j, pt.float32, "alpha must not be a complex number"),
])
@pytest.mark.parametrize("op", ["add", "sub", "add_", "sub_"])
def test_alpha_that_does_not_fit_the_result_raises(alpha, dtype, match, op):
    if op.startswith("sub") and dtype is pt.bool:
        pytest.skip("bool subtraction is refused before alpha")
    x = pt.tensor([1, 0], dtype=dtype)
    f = getattr(x, op)
    with pytest.raises(RuntimeError, match=match):
        f(pt.tensor([1, 1], dtype=dtype), alpha=alpha)
    assert x.tolist() == pt.tensor([1, 0], dtype=dtype).tolist()


def test_alpha_fits_a_floating_result():
    assert pt.add(pt.tensor([1, 2]), pt.tensor([1.0, 2.0]), alpha=0.5).tolist() == [1.5, 3.0]
    assert pt.add(pt.tensor([1 + 0j]), 2, alpha=1j).tolist() == [1 + 2j]


def test_mvlgamma_refuses_bool():
    with pytest.raises(RuntimeError, match="may not be a boolean tensor"):
        pt.mvlgamma(pt.tensor([True, False]), 1)


# ---- lerp, nan_to_num, isclose, logit arguments -----------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_lerp_refuses_a_complex_python_weight_for_real_tensors(device):
    # its imaginary part was dropped (lerp(x, end, 1j) returned x); PyTorch's checked conversion raises
    x, end = pt.tensor([1.0, 3.0], device=device), pt.tensor([2.0, 2.0], device=device)
    for f in (lambda: pt.lerp(x, end, 1j), lambda: x.clone().lerp_(end, 0.5 + 1j)):
        with pytest.raises(RuntimeError, match=r"lerp\(\): the complex weight .* make input and end complex"):
            f()
    if device == "cpu":
        z = pt.lerp(x.to(pt.complex64), end.to(pt.complex64), 1j)
        assert z.tolist() == [1 + 1j, 3 - 1j]   # x + w (end - x)


@pytest.mark.parametrize("device", DEVICES)
def test_nan_to_num_replacements_cast_like_c(device):
    # PyTorch casts the replacements to the dtype unchecked: 1e40 in float32 is inf (plugtorch raised,
    # naming where()); and nan=inf stays inf (it was then replaced by posinf)
    x = pt.tensor([nan, inf, -inf, 1.0], device=device)
    _same(pt.nan_to_num(x, nan=1e10, posinf=1e40, neginf=-1e39), [1e10, inf, -inf, 1.0])
    _same(pt.nan_to_num(x, nan=inf), [inf, float(np.finfo(np.float32).max), float(np.finfo(np.float32).min), 1.0])
    _skip_unless_supported(device, pt.float16)
    _same(pt.nan_to_num(x.half(), nan=1e10, posinf=65519.0, neginf=-65521.0), [inf, 65504.0, -inf, 1.0])   # (round to nearest)


def test_isclose_refuses_negative_tolerances():
    a = pt.tensor([1.0, 2.0])
    for kw in ({"rtol": -1.0}, {"atol": -1e-8}):
        with pytest.raises(RuntimeError, match=r"isclose\(\): (rtol|atol) must be greater than or equal to zero"):
            pt.isclose(a, a, **kw)


@pytest.mark.parametrize("device", DEVICES)
def test_logit_eps_bounds_as_documented(device):
    # z = eps where x < eps, 1 - eps where x > 1 - eps, else x (PyTorch's documented rule and kernel):
    # with eps = 0.6 the bounds cross and x = 0 reads 0.6, where clamp's max-wins gave 0.4
    _skip_unless_supported(device, pt.float64)
    x = pt.tensor([0.0, 0.5, 1.0, 0.3, nan], dtype=pt.float64, device=device)
    z = np.array([0.6, 0.6, 0.4, 0.6, nan])
    _same(pt.logit(x, eps=0.6), np.log(z / (1 - z)))
    _same(pt.logit(x, eps=0.25), np.log(np.array([0.25, 0.5, 0.75, 0.3, nan]) / (1 - np.array([0.25, 0.5, 0.75, 0.3, nan]))))


@pytest.mark.parametrize("op", ["fmax", "fmin"])
def test_fmax_fmin_refuse_complex_naming_themselves(op):
    z = pt.tensor([1j, 2 + 0j])
    with pytest.raises(RuntimeError, match=rf"^{op} not implemented for complex tensors"):
        getattr(pt, op)(z, z)


# ---- integer divisors outside the dtype ------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.uint8, pt.int8, pt.int32])
@pytest.mark.parametrize("op", ["floor_divide", "remainder", "fmod", "floor_divide_", "remainder_"])
def test_integer_divisor_outside_the_dtype_wraps_first(device, dtype, op):
    # PyTorch converts the Python int with a C cast (two's complement wrap, as NumPy's astype): 2**40
    # becomes 0, so the division raises as by 0 (cpu returned 0, opencl the dividend); 2**40 + 3 is 3
    x = pt.tensor([7, 0, 3], dtype=dtype, device=device)
    f = (lambda v: getattr(pt, op)(x, v)) if not op.endswith("_") else (lambda v: getattr(x.clone(), op)(v))
    for v in (3, 2 ** 40 + 3):    # (3 first: the dispatcher must not reuse its decision for 2**40)
        w = int(np.array(v).astype(dtype.numpy))
        py = {"floor_divide": lambda a: a // w, "remainder": lambda a: a % w, "fmod": lambda a: math.fmod(a, w)}
        assert f(v).tolist() == [int(py[op.rstrip("_")](a)) for a in (7, 0, 3)]
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        f(2 ** 40)


# ---- erfc --------------------------------------------------------------------------------------
def test_erfc_float32_is_within_one_ulp_of_the_exact_value_everywhere():
    # cpu computes float32 erfc with its own fitted formula (backends/cpu/special_kernels.py), not
    # SciPy's double-precision code: every 2**-12 on [-11, 11], the tails included, against math.erfc
    x = np.arange(-11, 11, 2.0 ** -12).astype(np.float32)
    exact = np.array([math.erfc(v) for v in x.astype(np.float64)])
    got = pt.from_numpy(x).erfc().numpy().astype(np.float64)
    ulp = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    ulp[exact.astype(np.float32) == 0] = np.float64(np.finfo(np.float32).smallest_subnormal)
    assert (np.abs(got - exact) / ulp).max() <= 1.0
    normal = exact >= np.finfo(np.float32).tiny   # (below, subnormals: the ulp check above)
    assert np.abs(got[normal] / exact[normal] - 1).max() < 2e-7
    _same(pt.tensor([nan, inf, -inf, 0.0, -0.0, 30.0, -30.0]).erfc(), [nan, 0.0, 2.0, 1.0, 1.0, 0.0, 2.0])
    # gelu = x Phi(x) through it: the left tail keeps its relative accuracy (up to the rounding of
    # -x / sqrt 2 to float32, which erfc magnifies 2 z^2 times: 3.7e-6 at x = -9)
    xs = np.array([-9.0, -5.3, -2.0, -0.1, 0.0, 0.3, 4.0], np.float32)
    want = [v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in xs.astype(np.float64)]
    np.testing.assert_allclose(pt.nn.functional.gelu(pt.from_numpy(xs)).numpy(), want, rtol=5e-6, atol=0)
