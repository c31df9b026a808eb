"""plugtorch.array_api: the standard's names and semantics, each checked against a known answer
or NumPy, on every available device; errors the namespace raises (type and message)."""
import math

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.array_api as xp


def host(x):
    return x.cpu().numpy()


# ---- namespace and inspection --------------------------------------------------------------------
def test_version_and_names():
    assert xp.__array_api_version__ == "2024.12"
    for name in ("abs", "asarray", "unique_all", "cumulative_prod", "nextafter", "reciprocal", "take_along_axis",
                 "diff", "searchsorted", "linalg", "fft", "__array_namespace_info__", "newaxis"):
        assert hasattr(xp, name), name
    assert set(xp.__all__) <= set(dir(xp))
    assert xp.newaxis is None and xp.pi == math.pi and math.isnan(xp.nan) and xp.inf == math.inf


def test_info(device):
    info = xp.__array_namespace_info__()
    caps = info.capabilities()
    assert caps == {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 64}
    devices = info.devices()
    assert pt.device("cpu") in devices and device in devices
    assert info.default_device() == pt.get_default_device()
    assert info.default_dtypes(device=device) == {"real floating": pt.float32, "complex floating": pt.complex64,
                                                   "integral": pt.int64, "indexing": pt.int64}
    assert list(info.dtypes(device=device, kind="signed integer")) == ["int8", "int16", "int32", "int64"]
    assert list(info.dtypes(kind=("bool", "unsigned integer"))) == ["bool", "uint8"]
    assert info.dtypes(kind="complex floating") == {"complex64": pt.complex64, "complex128": pt.complex128}
    with pytest.raises(ValueError, match="unknown kind 'float'"):
        info.dtypes(kind="float")


def test_info_lists_plug_in_devices(altcpu):
    assert altcpu in xp.__array_namespace_info__().devices()


def test_default_device_follows_set_default_device(default_device):
    info = xp.__array_namespace_info__()
    assert info.default_device() == default_device
    for x in (xp.asarray([1, 2]), xp.zeros(2), xp.arange(3), xp.eye(2), xp.linspace(0, 1, 3), xp.full(2, 1.5)):
        assert x.device == default_device


# ---- dtypes and promotion ----------------------------------------------------------------------------
@pytest.mark.parametrize("a, b, want", [
    (xp.int8, xp.int16, xp.int16), (xp.uint8, xp.int8, xp.int16), (xp.uint8, xp.int16, xp.int16),
    (xp.uint8, xp.int64, xp.int64), (xp.float32, xp.float64, xp.float64), (xp.bool, xp.bool, xp.bool),
])
def test_result_type(a, b, want):
    assert xp.result_type(a, b) is want
    assert xp.result_type(xp.zeros(2, dtype=a), xp.zeros((), dtype=b)) is want


@pytest.mark.parametrize("a, b", [(xp.int8, xp.float32), (xp.bool, xp.int8), (xp.uint8, xp.float64)])
def test_result_type_refuses_mixed_kinds(a, b):
    with pytest.raises(TypeError, match=f"{a.name} and {b.name} do not promote"):
        xp.result_type(a, b)
    assert not xp.can_cast(a, b)


def test_result_type_with_python_scalars():
    assert xp.result_type(xp.int8, 1) is xp.int8
    assert xp.result_type(xp.float32, 1.5, 2) is xp.float32
    with pytest.raises(TypeError, match="a Python float can only be combined with a floating-point array"):
        xp.result_type(xp.int8, 1.5)
    with pytest.raises(OverflowError, match="the Python int 300 does not fit int8"):
        xp.result_type(xp.int8, 300)
    with pytest.raises(ValueError, match="at least one array or dtype"):
        xp.result_type(1, 2.0)


def test_zero_d_arrays_promote_like_others(device):
    a = xp.ones(3, dtype=xp.float32, device=device)
    b = xp.asarray(0.1, dtype=xp.float64, device=device)
    out = xp.add(a, b)
    assert out.dtype is xp.float64                     # PyTorch's a + b is float32
    np.testing.assert_array_equal(host(out), np.ones(3, np.float32) + np.float64(0.1))
    assert (a + b).dtype is xp.float32                 # Tensor operators stay PyTorch's
    assert bool(xp.all(xp.not_equal(xp.asarray([0.1], dtype=xp.float32, device=device), b)))


def test_can_cast_isdtype_finfo_iinfo():
    assert xp.can_cast(xp.int8, xp.int64) and not xp.can_cast(xp.int64, xp.int8)
    assert xp.can_cast(xp.uint8, xp.int16) and not xp.can_cast(xp.int8, xp.uint8)
    assert xp.can_cast(xp.zeros(1, dtype=xp.float32), xp.float64)
    assert xp.isdtype(xp.int8, "signed integer") and not xp.isdtype(xp.uint8, "signed integer")
    assert xp.isdtype(xp.float32, ("bool", "real floating")) and xp.isdtype(xp.float64, xp.float64)
    assert not xp.isdtype(xp.float32, "complex floating") and xp.isdtype(xp.complex64, ("complex floating", "numeric"))
    assert xp.can_cast(xp.float32, xp.complex64) and not xp.can_cast(xp.float64, xp.complex64)
    assert xp.result_type(xp.float64, xp.complex64) is xp.complex128 and xp.result_type(xp.float32, 1j) is xp.complex64
    assert xp.finfo(xp.complex128).dtype is xp.float64 and xp.finfo(xp.complex64).bits == 32
    with pytest.raises(ValueError, match="unknown kind 'real'"):
        xp.isdtype(xp.float32, "real")
    f = xp.finfo(xp.float32)
    assert (f.bits, f.eps, f.smallest_normal, f.dtype) == (32, float(np.finfo(np.float32).eps),
                                                         float(np.finfo(np.float32).tiny), xp.float32)
    i = xp.iinfo(xp.zeros(1, dtype=xp.uint8))
    assert (i.bits, i.min, i.max, i.dtype) == (8, 0, 255, xp.uint8)
    with pytest.raises(ValueError, match="int8 is not a floating-point dtype"):
        xp.finfo(xp.int8)


def test_astype(device):
    x = xp.asarray([1.7, -2.2], device=device)
    y = xp.astype(x, xp.int32)
    assert y.dtype is xp.int32 and y.tolist() == [1, -2]
    same = xp.astype(x, xp.float32, copy=False)
    assert same is x
    copied = xp.astype(x, xp.float32)
    assert copied is not x and copied.tolist() == x.tolist()
    assert xp.astype(x, xp.float32, device="cpu").device == pt.device("cpu")


# ---- creation -------------------------------------------------------------------------------------
def test_asarray_dtypes_and_copies(device):
    assert xp.asarray([1, 2], device=device).dtype is xp.int64
    assert xp.asarray([1, 2.5], device=device).dtype is xp.float32
    assert xp.asarray([True, False], device=device).dtype is xp.bool
    assert xp.asarray(3, device=device).shape == ()
    with pytest.raises(OverflowError, match="does not fit int64"):
        xp.asarray([2 ** 64])
    with pytest.raises(OverflowError, match="does not fit int8"):
        xp.asarray([200], dtype=xp.int8)
    x = xp.asarray([1.0, 2.0], device=device)
    assert xp.asarray(x) is x and xp.asarray(x, copy=False) is x
    c = xp.asarray(x, copy=True)
    c[0] = 5.0
    assert x.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="converting float32 to float64 needs a copy"):
        xp.asarray(x, dtype=xp.float64, copy=False)
    with pytest.raises(ValueError, match="cannot be shared as an array without a copy"):
        xp.asarray([1, 2], copy=False)


def test_asarray_shares_numpy_memory_unless_asked_not_to():
    a = np.arange(3.0)
    t = xp.asarray(a)
    a[0] = 7.0
    assert t.tolist() == [7.0, 1.0, 2.0]
    c = xp.asarray(a, copy=True)
    a[1] = 8.0
    assert c.tolist() == [7.0, 1.0, 2.0]
    assert xp.asarray(a, copy=False).dtype is xp.float64


def test_asarray_from_buffers_and_other_libraries():
    import array
    assert xp.asarray(array.array("i", [1, 2])).tolist() == [1, 2]
    import array_api_strict as strict
    s = strict.asarray([1.5, 2.5], dtype=strict.float64)
    assert xp.asarray(s).tolist() == [1.5, 2.5] and xp.asarray(s).dtype is xp.float64


@pytest.mark.parametrize("args, want", [((5,), [0, 1, 2, 3, 4]), ((5, 1), []), ((1, 7, 3), [1, 4]),
                                        ((5, 1, -2), [5, 3]), ((0.5, 2.0, 0.5), [0.5, 1.0, 1.5])])
def test_arange(device, args, want):
    x = xp.arange(*args, device=device)
    assert x.tolist() == want and x.device == device
    assert x.dtype is (xp.float32 if any(isinstance(a, float) for a in args) else xp.int64)


def test_factories(device):
    assert xp.zeros((2, 3), device=device).shape == (2, 3)
    assert xp.ones(2, dtype=xp.int8, device=device).tolist() == [1, 1]
    assert xp.empty(0, device=device).shape == (0,)
    assert xp.full((2,), True, device=device).dtype is xp.bool
    assert xp.full((2,), 3, device=device).dtype is xp.int64
    x = xp.full((2, 2), 1.5, device=device)
    assert xp.full_like(x, 7).tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert xp.zeros_like(x, dtype=xp.int16).dtype is xp.int16 and xp.ones_like(x).device == device
    assert xp.empty_like(x).shape == (2, 2)
    np.testing.assert_array_equal(host(xp.eye(3, 4, k=1, device=device)), np.eye(3, 4, k=1, dtype=np.float32))
    np.testing.assert_array_equal(host(xp.eye(2, k=-5, device=device)), np.zeros((2, 2), np.float32))
    for k in (2 ** 64 - 1, -2 ** 63 - 1):                     # far beyond int64: still no diagonal
        np.testing.assert_array_equal(host(xp.eye(2, k=k, dtype=xp.uint8, device=device)), np.zeros((2, 2)))
    np.testing.assert_allclose(host(xp.linspace(0, 1, 5, endpoint=False, device=device)), [0, .2, .4, .6, .8],
                               rtol=1e-6)
    a, b = xp.meshgrid(xp.arange(2, device=device), xp.arange(3, device=device))
    assert a.shape == (3, 2) and b.tolist() == [[0, 0], [1, 1], [2, 2]]
    assert xp.tril(xp.ones((2, 2), device=device), k=-1).tolist() == [[0.0, 0.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="all arrays must have the same dtype"):
        xp.meshgrid(xp.arange(2), xp.arange(2.0))


# ---- element-wise ----------------------------------------------------------------------------------
F64_VALUES = np.array([-np.inf, -1e300, -3.5, -1.0, -0.5, -0.0, 0.0, 1e-300, 0.5, 1.0, 1.5, 2.0, 10.0, 1e15,
                       1e300, np.inf, np.nan])


@pytest.mark.parametrize("name, ref", [("acosh", np.arccosh), ("asinh", np.arcsinh), ("atanh", np.arctanh),
                                       ("signbit", np.signbit), ("sign", np.sign), ("reciprocal", np.reciprocal),
                                       ("expm1", np.expm1), ("log1p", np.log1p), ("round", np.round),
                                       ("trunc", np.trunc), ("square", np.square)])
@pytest.mark.parametrize("dtype", [xp.float32, xp.float64])
def test_unary_against_numpy(device, name, ref, dtype):
    if dtype is xp.float64 and not xp.__array_namespace_info__().dtypes(device=device).get("float64"):
        pytest.skip("no float64 on this device")
    a = F64_VALUES.astype(dtype.numpy)
    got = host(getattr(xp, name)(xp.asarray(a, device=device)))
    with np.errstate(all="ignore"):
        want = ref(a)
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dtype.numpy).eps, atol=0)
    np.testing.assert_array_equal(np.signbit(got[np.isfinite(want) & (want == 0)]),
                                  np.signbit(want[np.isfinite(want) & (want == 0)]))   # signed zeros


@pytest.mark.parametrize("name, ref", [("copysign", np.copysign), ("hypot", np.hypot), ("nextafter", np.nextafter),
                                       ("atan2", np.arctan2), ("logaddexp", np.logaddexp),
                                       ("maximum", np.maximum), ("minimum", np.minimum)])
def test_binary_against_numpy(device, name, ref):
    a, b = np.meshgrid(F64_VALUES.astype(np.float32), F64_VALUES.astype(np.float32))
    got = host(getattr(xp, name)(xp.asarray(a, device=device), xp.asarray(b, device=device)))
    with np.errstate(all="ignore"):
        want = ref(a, b)
    np.testing.assert_allclose(got, want, rtol=4e-7, atol=0)
    zero = np.isfinite(want) & (want == 0)
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]))


def test_nextafter_steps_one_ulp(device):
    x = xp.asarray([1.0, -1.0, 0.0, -0.0], device=device)
    up = host(xp.nextafter(x, xp.asarray(5.0, device=device)))
    np.testing.assert_array_equal(up, np.nextafter(np.array([1.0, -1.0, 0.0, -0.0], np.float32), np.float32(5)))


def test_floor_divide_and_remainder_special_cases(device):
    x1 = xp.asarray([1.0, -1.0, math.inf, -math.inf, 0.0, -0.0, 7.0], device=device)
    x2 = xp.asarray([math.inf, math.inf, 2.0, 2.0, -2.0, 2.0, -2.0], device=device)
    q = host(xp.floor_divide(x1, x2))
    np.testing.assert_array_equal(q, [0.0, -0.0, math.inf, -math.inf, -0.0, -0.0, -4.0])
    assert list(np.signbit(q[:2])) == [False, True]
    r = host(xp.remainder(x1, x2))
    np.testing.assert_array_equal(np.signbit(r[4:6]), [True, False])      # zeros take the divisor's sign
    assert xp.floor_divide(xp.asarray([7, -7], device=device), 2).tolist() == [3, -4]


def test_sign_of_nan_is_nan(device):
    out = host(xp.sign(xp.asarray([math.nan, -2.0, 0.0], device=device)))
    assert math.isnan(out[0]) and list(out[1:]) == [-1.0, 0.0]


def test_python_scalars_in_binary_functions(device):
    x = xp.asarray([1, 2], dtype=xp.int8, device=device)
    assert xp.add(x, 3).dtype is xp.int8 and xp.subtract(10, x).tolist() == [9, 8]
    y = xp.asarray([1.0, 4.0], device=device)
    assert xp.logaddexp(0.0, y).dtype is xp.float32
    assert xp.pow(2, y).tolist() == [2.0, 16.0]
    with pytest.raises(TypeError, match="a Python float can only be combined with a floating-point array"):
        xp.add(x, 1.5)
    with pytest.raises(OverflowError, match="does not fit int8"):
        xp.multiply(x, 1000)
    with pytest.raises(TypeError, match="at least one argument must be an array"):
        xp.add(1, 2)


@pytest.mark.parametrize("call, match", [
    (lambda: xp.sin(xp.asarray([1, 2])), r"sin\(\): only floating-point dtypes are allowed, got int64"),
    (lambda: xp.divide(xp.asarray([1]), xp.asarray([2])), "only floating-point dtypes are allowed"),
    (lambda: xp.bitwise_and(xp.asarray([1.0]), xp.asarray([2.0])), "only integer or boolean dtypes"),
    (lambda: xp.logical_and(xp.asarray([1]), xp.asarray([1])), "only boolean dtypes"),
    (lambda: xp.add(xp.asarray([1]), xp.asarray([1.0])), "int64 and float32 do not promote"),
    (lambda: xp.imag(xp.asarray([1.0])), "only complex floating-point dtypes are allowed"),
    (lambda: xp.abs([1, 2]), "x must be an array"),
])
def test_category_errors(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_shift_by_a_negative_scalar_is_refused():
    with pytest.raises(ValueError, match="the shift must be non-negative, got -1"):
        xp.bitwise_left_shift(xp.asarray([1]), -1)


def test_clip(device):
    x = xp.asarray([-3.0, 0.5, 9.0, math.nan], device=device)
    assert host(xp.clip(x, 0.0, 1.0)).tolist()[:3] == [0.0, 0.5, 1.0]
    assert math.isnan(host(xp.clip(x, 0.0, 1.0))[3])
    assert math.isnan(host(xp.clip(x, math.nan))[0])
    i = xp.asarray([0, 100, 255], dtype=xp.uint8, device=device)
    assert xp.clip(i, -5, 1000).tolist() == [0, 100, 255]             # out-of-range ints clip nothing
    assert xp.clip(i, xp.asarray([1, 1, 1], dtype=xp.uint8, device=device)).tolist() == [1, 100, 255]
    assert xp.clip(i).tolist() == [0, 100, 255] and xp.clip(i) is not i
    with pytest.raises(TypeError, match="a float bound cannot clip the integer array"):
        xp.clip(i, 1.5)


# ---- reductions -----------------------------------------------------------------------------------------
def test_reductions_axis_and_keepdims(device):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = xp.asarray(a, device=device)
    np.testing.assert_allclose(host(xp.sum(x, axis=(0, 2))), a.sum((0, 2)))
    assert xp.sum(x, axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    assert xp.sum(x, keepdims=True).shape == (1, 1, 1)
    np.testing.assert_array_equal(host(xp.sum(x, axis=())), a)            # () reduces nothing
    np.testing.assert_allclose(host(xp.prod(x + 1, axis=(1, 2))), (a + 1).prod((1, 2)), rtol=1e-6)
    np.testing.assert_allclose(host(xp.mean(x, axis=-1)), a.mean(-1))
    np.testing.assert_allclose(host(xp.var(x, axis=1, correction=1.5)), a.var(1, ddof=1.5), rtol=1e-6)
    np.testing.assert_allclose(host(xp.std(x, axis=(0, 1))), a.std((0, 1)), rtol=1e-6)
    np.testing.assert_array_equal(host(xp.max(x, axis=1)), a.max(1))
    np.testing.assert_array_equal(host(xp.min(x, axis=(0, 1), keepdims=True)), a.min((0, 1), keepdims=True))
    assert xp.all(x >= 0).item() is True and xp.any(x > 100, axis=0).shape == (3, 4)


def test_reduction_dtypes(device):
    i8 = xp.asarray([100, 100], dtype=xp.int8, device=device)
    assert xp.sum(i8).dtype is xp.int64 and xp.sum(i8).item() == 200
    assert xp.sum(i8, dtype=xp.int8).dtype is xp.int8
    assert xp.prod(xp.asarray([3], dtype=xp.uint8, device=device)).dtype is xp.int64
    assert xp.sum(xp.ones(2, dtype=xp.float32, device=device)).dtype is xp.float32
    with pytest.raises(TypeError, match=r"mean\(\): only floating-point dtypes"):
        xp.mean(i8)
    with pytest.raises(ValueError, match="cannot reduce an empty axis"):
        xp.max(xp.zeros((0, 2)), axis=0)
    assert math.isnan(xp.var(xp.ones(1, device=device), correction=1).item())
    assert math.isnan(xp.mean(xp.zeros(0, device=device)).item())


def test_axis_errors():
    x = xp.zeros((2, 3))
    with pytest.raises(IndexError, match="axis 2 is out of range for an array of 2 dimensions"):
        xp.sum(x, axis=2)
    with pytest.raises(ValueError, match=r"axis \(0, -2\) names a dimension more than once"):
        xp.sum(x, axis=(0, -2))


def test_cumulative_and_diff(device):
    x = xp.asarray([[1, 2, 3], [4, 5, 6]], dtype=xp.int16, device=device)
    s = xp.cumulative_sum(x, axis=1, include_initial=True)
    assert s.dtype is xp.int64 and s.tolist() == [[0, 1, 3, 6], [0, 4, 9, 15]]
    assert xp.cumulative_prod(x, axis=0).tolist() == [[1, 2, 3], [4, 10, 18]]
    assert xp.cumulative_sum(xp.asarray([1.5, 2.5], device=device)).tolist() == [1.5, 4.0]
    with pytest.raises(ValueError, match="axis is required"):
        xp.cumulative_sum(x)
    assert xp.diff(x, axis=1).tolist() == [[1, 1], [1, 1]]
    assert xp.diff(x, n=2, axis=1, prepend=xp.asarray([[0], [0]], dtype=xp.int16, device=device)).tolist() == \
        [[0, 0], [-3, 0]]


# ---- searching, sorting, sets ----------------------------------------------------------------------------
def test_argmax_count_nonzero_nonzero_where(device):
    x = xp.asarray([[1, 9, 9], [0, 0, 3]], device=device)
    assert xp.argmax(x).item() == 1 and xp.argmin(x, axis=1).tolist() == [0, 0]
    assert xp.argmax(x, keepdims=True).shape == (1, 1)
    assert xp.count_nonzero(x, axis=1, keepdims=True).tolist() == [[3], [1]]
    r, c = xp.nonzero(x)
    assert r.tolist() == [0, 0, 0, 1] and c.tolist() == [0, 1, 2, 2]
    with pytest.raises(ValueError, match="a 0-d array has no indices"):
        xp.nonzero(xp.asarray(1))
    w = xp.where(x > 1, x, 0)
    assert w.tolist() == [[0, 9, 9], [0, 0, 3]] and w.dtype is xp.int64
    with pytest.raises(TypeError, match="condition must be a bool array"):
        xp.where(x, x, x)


def test_searchsorted(device):
    s = xp.asarray([1.0, 2.0, 2.0, 5.0, math.nan], device=device)
    v = xp.asarray([[2.0, 0.0], [6.0, math.nan]], device=device)
    np.testing.assert_array_equal(host(xp.searchsorted(s, v)), np.searchsorted(host(s), host(v)))
    np.testing.assert_array_equal(host(xp.searchsorted(s, v, side="right")),
                                  np.searchsorted(host(s), host(v), side="right"))
    order = xp.asarray([2, 0, 1], device=device)
    assert xp.searchsorted(xp.asarray([3, 1, 2], device=device), 2, sorter=order).item() == 1


def test_stable_sorts(device):
    a = np.array([3, 1, 3, 2, 1, 3])
    x = xp.asarray(a, device=device)
    np.testing.assert_array_equal(host(xp.argsort(x)), np.argsort(a, kind="stable"))
    # descending and stable: equal values keep their order
    np.testing.assert_array_equal(host(xp.argsort(x, descending=True)), [0, 2, 5, 3, 1, 4])
    assert xp.sort(xp.asarray([2.0, math.nan, 1.0], device=device)).tolist()[:2] == [1.0, 2.0]


def test_unique(device):
    a = np.array([3.0, np.nan, 1.0, 3.0, np.nan, -0.0, 0.0])
    x = xp.asarray(a, device=device)
    values, indices, inverse, counts = xp.unique_all(x)
    v = host(values)
    np.testing.assert_array_equal(v, [-0.0, 1.0, 3.0, np.nan, np.nan])   # every nan is its own value
    assert indices.tolist() == [5, 2, 0, 1, 4] and counts.tolist() == [2, 1, 2, 1, 1]
    np.testing.assert_array_equal(v[host(inverse)], a)
    assert inverse.shape == x.shape and indices.dtype is xp.int64
    u = xp.unique_inverse(xp.asarray([[2, 1], [2, 2]], device=device))
    assert u.values.tolist() == [1, 2] and u.inverse_indices.tolist() == [[1, 0], [1, 1]]
    assert xp.unique_counts(xp.asarray([True, True], device=device)).counts.tolist() == [2]
    assert xp.unique_values(xp.zeros(0, device=device)).shape == (0,)


# ---- manipulation and indexing -----------------------------------------------------------------------------
def test_manipulation(device):
    x = xp.reshape(xp.arange(6, device=device), (2, 3))
    assert xp.concat([x, x], axis=None).shape == (12,)
    assert xp.concat([x, xp.astype(x, xp.int8)], axis=0).dtype is xp.int64
    with pytest.raises(TypeError, match="int64 and float32 do not promote"):
        xp.concat([x, xp.astype(x, xp.float32)])
    assert xp.stack([x, x], axis=-1).shape == (2, 3, 2)
    assert xp.expand_dims(x, axis=-1).shape == (2, 3, 1)
    with pytest.raises(IndexError, match="axis 4 is out of range"):
        xp.expand_dims(x, axis=4)
    assert xp.squeeze(xp.expand_dims(x, axis=0), axis=0).shape == (2, 3)
    with pytest.raises(ValueError, match="axis 1 has size 3, not 1"):
        xp.squeeze(x, axis=1)
    assert xp.flip(x).tolist() == [[5, 4, 3], [2, 1, 0]]
    assert xp.roll(x, 1).tolist() == [[5, 0, 1], [2, 3, 4]]
    assert xp.roll(x, (1, 1), axis=(0, 1)).tolist() == [[5, 3, 4], [2, 0, 1]]
    assert xp.permute_dims(x, (1, 0)).shape == (3, 2) and xp.moveaxis(x, 0, -1).shape == (3, 2)
    assert xp.repeat(x, 2, axis=1).tolist()[0] == [0, 0, 1, 1, 2, 2]
    assert xp.repeat(xp.asarray([1, 2], device=device), xp.asarray([0, 3], device=device)).tolist() == [2, 2, 2]
    assert xp.tile(xp.asarray([1, 2], device=device), (2,)).tolist() == [1, 2, 1, 2]
    assert [t.tolist() for t in xp.unstack(x, axis=1)] == [[0, 3], [1, 4], [2, 5]]
    a, b = xp.broadcast_arrays(x, xp.asarray([1, 2, 3], device=device))
    assert b.shape == (2, 3)
    with pytest.raises(ValueError, match=r"cannot be broadcast to \(2,\)"):
        xp.broadcast_to(x, (2,))


def test_reshape_copy(device):
    x = xp.reshape(xp.arange(6, device=device), (2, 3))
    view = xp.reshape(x, (3, 2), copy=False)
    view[0, 0] = 9
    assert x[0, 0].item() == 9
    copy = xp.reshape(x, (6,), copy=True)
    copy[1] = 7
    assert x[0, 1].item() == 1
    with pytest.raises(ValueError, match="cannot be reshaped to .* without a copy"):
        xp.reshape(xp.matrix_transpose(x), (6,), copy=False)


def test_take(device):
    x = xp.asarray([[1, 2, 3], [4, 5, 6]], device=device)
    assert xp.take(x, xp.asarray([2, -1, 0], device=device), axis=1).tolist() == [[3, 3, 1], [6, 6, 4]]
    assert xp.take(xp.asarray([5, 6], device=device), xp.asarray([1], device=device)).tolist() == [6]
    idx = xp.asarray([[0, -1], [1, 0]], device=device)
    assert xp.take_along_axis(x, idx, axis=1).tolist() == [[1, 3], [5, 4]]
    with pytest.raises(ValueError, match="axis is required"):
        xp.take(x, xp.asarray([0]))


# ---- linear algebra ----------------------------------------------------------------------------------------
def test_matmul_tensordot_vecdot(device):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 4)).astype(np.float32), rng.normal(size=(4, 3, 2)).astype(np.float32)
    A, B = xp.asarray(a, device=device), xp.asarray(b, device=device)
    np.testing.assert_allclose(host(xp.tensordot(A, B, axes=([1, 2], [1, 0]))),
                               np.tensordot(a, b, axes=([1, 2], [1, 0])), rtol=1e-5)
    np.testing.assert_allclose(host(xp.tensordot(A, B, axes=1)), np.tensordot(a, b, axes=1), rtol=1e-5)
    np.testing.assert_allclose(host(xp.matmul(A, xp.matrix_transpose(A))), a @ a.swapaxes(-1, -2), rtol=1e-5)
    v = xp.vecdot(xp.asarray([[1, 2]], dtype=xp.int8, device=device), xp.asarray([3, 4], dtype=xp.int8,
                                                                               device=device))
    assert v.dtype is xp.int8 and v.tolist() == [11]
    with pytest.raises(ValueError, match="0-d arrays have no matrix product"):
        xp.matmul(xp.asarray(1.0), xp.asarray(2.0))
    with pytest.raises(ValueError, match=r"the shapes \(2,\) and \(2, 3\) are not broadcastable"):
        xp.vecdot(xp.ones(2), xp.ones((2, 3)))
    with pytest.raises(ValueError, match="the vectors along axis -1 differ in size"):
        xp.vecdot(xp.ones((2, 1)), xp.ones((2, 3)))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        xp.matrix_transpose(xp.ones(3))


# ---- extensions -----------------------------------------------------------------------------------------
def test_fft_shifts_and_frequencies(device):
    x = xp.reshape(xp.arange(6, device=device), (2, 3))
    np.testing.assert_array_equal(host(xp.fft.fftshift(x)), np.fft.fftshift(host(x)))
    np.testing.assert_array_equal(host(xp.fft.ifftshift(x, axes=1)), np.fft.ifftshift(host(x), axes=1))
    np.testing.assert_allclose(host(xp.fft.fftfreq(7, d=0.5, device=device)), np.fft.fftfreq(7, 0.5), rtol=1e-6)
    np.testing.assert_allclose(host(xp.fft.rfftfreq(8, device=device)), np.fft.rfftfreq(8), rtol=1e-6)
    np.testing.assert_allclose(host(xp.fft.irfft(xp.asarray([1.0, 2.0, 3.0], device=device), n=5)),
                               np.fft.irfft([1.0, 2.0, 3.0], n=5), rtol=1e-6, atol=1e-7)
    z = np.array([1 + 2j, -1j, 0.5, 3 - 1j], np.complex64)
    np.testing.assert_allclose(host(xp.fft.fft(xp.asarray(z, device=device), norm="ortho")), np.fft.fft(z, norm="ortho"),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(host(xp.fft.rfftn(xp.asarray(z.real, device=device))), np.fft.rfftn(z.real),
                               rtol=1e-5, atol=1e-6)


def test_linalg_without_decompositions(device):
    x = xp.asarray([[[1.0, 2.0], [3.0, 4.0]]], device=device)
    assert xp.linalg.trace(x).tolist() == [5.0] and xp.linalg.diagonal(x, offset=1).tolist() == [[2.0]]
    np.testing.assert_allclose(host(xp.linalg.matrix_power(x, 3)), np.linalg.matrix_power(host(x), 3))
    assert xp.linalg.matrix_power(x, 0).tolist() == [[[1.0, 0.0], [0.0, 1.0]]]
    assert xp.linalg.outer(xp.asarray([1, 2], device=device), xp.asarray([3], device=device)).tolist() == [[3], [6]]
    assert xp.linalg.trace(xp.asarray([[1, 2], [3, 4]], dtype=xp.int8, device=device)).dtype is xp.int64
    np.testing.assert_allclose(host(xp.linalg.vector_norm(x, axis=(1, 2), ord=1)), [10.0])
    with pytest.raises(ValueError, match="must hold square matrices"):
        xp.linalg.det(xp.ones((2, 3)))


def test_linalg_extension_over_plugtorch_linalg(device):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 3, 3))
    spd = a @ a.swapaxes(-1, -2) + 3 * np.eye(3)
    dt = xp.float64 if "float64" in xp.__array_namespace_info__().dtypes(device=device) else xp.float32
    tol = dict(rtol=1e-9, atol=1e-10) if dt is xp.float64 else dict(rtol=2e-4, atol=2e-5)
    A, S = xp.asarray(a, dtype=dt, device=device), xp.asarray(spd, dtype=dt, device=device)
    np.testing.assert_allclose(host(xp.linalg.cholesky(S)), np.linalg.cholesky(spd), **tol)
    np.testing.assert_allclose(host(xp.linalg.cholesky(S, upper=True)),
                               np.linalg.cholesky(spd).swapaxes(-1, -2), **tol)
    np.testing.assert_allclose(host(xp.linalg.inv(A)), np.linalg.inv(a), **tol)
    np.testing.assert_allclose(host(xp.linalg.det(A)), np.linalg.det(a), **tol)
    sign, logabs = xp.linalg.slogdet(A)
    np.testing.assert_allclose(host(sign) * np.exp(host(logabs)), np.linalg.det(a), **tol)
    # a 1-d right-hand side is one vector, broadcast over the batch (the standard's rule)
    b = rng.normal(size=3)
    x = xp.linalg.solve(A, xp.asarray(b, dtype=dt, device=device))
    assert x.shape == (2, 3)
    np.testing.assert_allclose(host(x), np.linalg.solve(a, b[None, :, None])[..., 0], **tol)
    w, v = xp.linalg.eigh(S)
    np.testing.assert_allclose(host(w), np.linalg.eigvalsh(spd), **tol)
    np.testing.assert_allclose(host(xp.linalg.matmul(v * w[..., None, :], xp.matrix_transpose(v))), spd, **tol)
    u, s, vh = xp.linalg.svd(A, full_matrices=False)
    np.testing.assert_allclose(host(s), np.linalg.svd(a, compute_uv=False), **tol)
    np.testing.assert_allclose(host(xp.linalg.svdvals(A)), host(s), **tol)
    q, r = xp.linalg.qr(A)
    np.testing.assert_allclose(host(xp.matmul(q, r)), a, **tol)
    np.testing.assert_allclose(host(xp.linalg.pinv(A)), np.linalg.pinv(a), **tol)
    assert xp.linalg.matrix_rank(A).tolist() == [3, 3]
    np.testing.assert_allclose(host(xp.linalg.matrix_norm(A, ord="fro", keepdims=True)),
                               np.linalg.norm(a, "fro", axis=(-2, -1), keepdims=True), **tol)
    np.testing.assert_allclose(host(xp.linalg.cross(A, A * 2 + 1)), np.cross(a, a * 2 + 1), **tol)
    np.testing.assert_allclose(host(xp.linalg.vector_norm(A, axis=-1, ord=3)),
                               np.linalg.norm(a, ord=3, axis=-1), **tol)
    with pytest.raises(TypeError, match=r"solve\(\): only floating-point dtypes are allowed, got int64"):
        xp.linalg.solve(A, xp.asarray([1, 2, 3], device=device))


def test_complex_functions(device):
    z = np.array([1 + 2j, -0.5 - 1j, 3j, 0j], np.complex64)
    w = np.array([2 - 1j, 1 + 1j, -1, 0.5j], np.complex64)
    x, y = xp.asarray(z, device=device), xp.asarray(w, device=device)
    np.testing.assert_array_equal(host(xp.real(x)), z.real)
    np.testing.assert_array_equal(host(xp.imag(x)), z.imag)
    np.testing.assert_array_equal(host(xp.conj(x)), z.conj())
    assert xp.abs(x).dtype is xp.float32 and xp.real(xp.ones(2, device=device)).dtype is xp.float32
    np.testing.assert_allclose(host(xp.abs(x)), np.abs(z), rtol=1e-6)
    np.testing.assert_allclose(host(xp.sign(x)), np.where(z == 0, 0, z / np.abs(z)), rtol=1e-6)
    np.testing.assert_allclose(host(xp.multiply(x, y)), z * w, rtol=1e-6)
    np.testing.assert_allclose(host(xp.divide(x, 2.0)), z / 2, rtol=1e-6)
    np.testing.assert_allclose(host(xp.vecdot(x, y)), np.vdot(z, w), rtol=1e-6)       # x1 conjugated
    np.testing.assert_allclose(host(xp.linalg.vecdot(x, y)), np.vdot(z, w), rtol=1e-6)
    np.testing.assert_allclose(host(xp.mean(x)), z.mean(), rtol=1e-6)
    np.testing.assert_allclose(host(xp.round(xp.multiply(x, 1.7))), np.round(z * 1.7), rtol=1e-6)
    assert xp.add(xp.ones(2, device=device), 1j).dtype is xp.complex64
    assert xp.asarray([1, 2j], device=device).dtype is xp.complex64
    np.testing.assert_allclose(host(xp.linspace(0, 1 + 2j, 3, device=device)), np.linspace(0, 1 + 2j, 3), rtol=1e-6)
    with pytest.raises(TypeError, match="a Python complex can only be combined with a floating-point array"):
        xp.add(xp.asarray([1], device=device), 1j)
    with pytest.raises(TypeError, match="only real numeric dtypes"):
        xp.less(x, y)
