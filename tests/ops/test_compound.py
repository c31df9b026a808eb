"""Functions composed of ops (relu, fmax, addmm, hstack, diag, ...) against NumPy."""
import math

import numpy as np
import pytest

import plugtorch as pt

NAN = float("nan")
A = np.array([[1.5, -2.0, NAN], [0.0, 4.0, -0.5]])
B = np.array([[NAN, 3.0, 1.0], [2.0, -1.0, -0.5]])


def same(got, want):
    np.testing.assert_allclose(np.asarray(got.numpy(), np.float64), want, rtol=1e-6, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name,ref", [
    ("fmax", np.fmax(A, B)), ("fmin", np.fmin(A, B)), ("hypot", np.hypot(A, B)),
    ("xlogy", np.where((A == 0) & ~np.isnan(B), 0.0, A * np.log(np.abs(B)) * np.where(B < 0, np.nan, 1))),
])
def test_binary_compounds(name, ref):
    with np.errstate(all="ignore"):
        same(getattr(pt, name)(pt.tensor(A), pt.tensor(B)), ref)
        same(getattr(pt.tensor(A), name)(pt.tensor(B)), ref)


@pytest.mark.parametrize("name,ref", [
    ("relu", lambda a: np.where(np.isnan(a), a, np.maximum(a, 0))), ("sgn", lambda a: np.where(np.isnan(a), 0.0, np.sign(a))),  # torch: sgn(nan) == 0
    ("isposinf", np.isposinf), ("isneginf", np.isneginf), ("deg2rad", np.deg2rad), ("rad2deg", np.rad2deg),
])
def test_unary_compounds(name, ref):
    a = np.array([-np.inf, -1.5, 0.0, 2.0, np.inf, NAN])
    same(getattr(pt, name)(pt.tensor(a)), ref(a))
    if name not in ("isposinf", "isneginf"):
        x = pt.tensor(a)
        getattr(x, name + "_")()
        same(x, ref(a))


def test_relu_keeps_int_dtype_and_logit():
    assert pt.relu(pt.tensor([-3, 4])).tolist() == [0, 4]
    assert pt.relu(pt.tensor([-3, 4])).dtype is pt.int64
    p = np.array([0.1, 0.5, 0.9])
    same(pt.logit(pt.tensor(p)), np.log(p / (1 - p)))
    assert math.isfinite(pt.logit(pt.tensor([0.0, 1.0]), eps=1e-6).sum().item())
    # an integer input is read as float: uint8 1 - 255 wrapped to 2 and gave logit(255) = 4.85
    u = np.array([255, 2, 1, 0], dtype=np.uint8)
    with np.errstate(all="ignore"):
        want = np.log(u.astype(np.float32) / (1 - u.astype(np.float32)))
    got = pt.logit(pt.tensor(u))
    assert got.dtype is pt.float32
    np.testing.assert_array_equal(got.numpy(), want)                      # [nan, nan, inf, -inf]
    assert pt.logit(pt.tensor([True, False])).tolist() == [math.inf, -math.inf]
    np.testing.assert_allclose(pt.logit(pt.tensor([1, 0]), eps=0.25).numpy(), [math.log(3), -math.log(3)], rtol=1e-6)


def test_addcmul_addcdiv_float_power():
    x, a, b = pt.tensor([1.0, 2.0]), pt.tensor([3.0, 4.0]), pt.tensor([2.0, 8.0])
    assert pt.addcmul(x, a, b, value=0.5).tolist() == [4.0, 18.0]
    assert pt.addcdiv(x, a, b).tolist() == [2.5, 2.5]
    y = x.clone()
    y.addcmul_(a, b)
    assert y.tolist() == [7.0, 34.0]
    with pytest.raises(RuntimeError, match="integer division"):
        pt.addcdiv(x, pt.tensor([1]), pt.tensor([2]))
    fp = pt.float_power(pt.tensor([2, 3]), 2)
    assert fp.dtype is pt.float64 and fp.tolist() == [4.0, 9.0]


@pytest.mark.parametrize("device", pt.backends.available())
def test_addcmul_addcdiv_compute_in_the_promoted_dtype(device):
    # the product was taken in tensor1's dtype first: float32 x + 2 * int8(-128) * x wrapped
    # 2 * -128 to 0 in int8 (gave x), and int32 x + int8(100) * int8(100) wrapped 10000 in int8
    x = pt.tensor([3.5, 2.5, 0.5], device=device)
    t1 = pt.tensor([-128, 1, 100], dtype=pt.int8, device=device)
    got = pt.addcmul(x, t1, x, value=2)
    assert got.dtype is pt.float32
    np.testing.assert_array_equal(got.cpu().numpy(), np.float32([3.5, 2.5, 0.5]) * (1 + 2 * np.float32([-128, 1, 100])))
    y = x.clone()
    y.addcmul_(t1, x, value=2)   # in place, x aliased as tensor2 in the expression above
    np.testing.assert_array_equal(y.cpu().numpy(), got.cpu().numpy())
    i = pt.tensor([1, 2, 3], dtype=pt.int32, device=device)
    got = pt.addcmul(i, t1, t1)
    assert got.dtype is pt.int32 and got.tolist() == [1 + 128 * 128, 3, 3 + 100 * 100]
    # float16 operands beside a float32 input: the product in float32 (300 * 300 overflowed float16)
    if pt.float16 not in pt.backends.get_backend(pt.device(device).type).supported_dtypes(0):
        return
    h = pt.tensor([300.0, 0.1], dtype=pt.float16, device=device)
    got = pt.addcmul(pt.zeros(2, device=device), h, h)
    want = np.float32(np.float16([300.0, 0.1])) ** 2
    assert got.dtype is pt.float32
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-6)
    got = pt.addcdiv(pt.zeros(2, device=device), h, pt.tensor([1e-3, 1e-3], dtype=pt.float16, device=device), value=2)
    want = 2 * np.float32(np.float16([300.0, 0.1])) / np.float32(np.float16(1e-3))
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-6)


def test_float_power_of_complex_operands_is_complex128():
    # float_power cast complex operands to float64, dropping the imaginary part: float_power(1+2j, 2)
    # returned 1.0 and a complex Python exponent raised TypeError; PyTorch computes in complex128
    z = np.array([1 + 2j, -0.5 + 0.25j])
    got = pt.float_power(pt.tensor(z, dtype=pt.complex64), 2)
    assert got.dtype is pt.complex128
    np.testing.assert_allclose(got.numpy(), z.astype(np.complex64).astype(np.complex128) ** 2, rtol=1e-12)
    got = pt.float_power(pt.tensor([1, 2]), 1 + 2j)
    assert got.dtype is pt.complex128
    np.testing.assert_allclose(got.numpy(), np.array([1, 2], dtype=np.complex128) ** (1 + 2j), rtol=1e-12)
    got = pt.float_power(pt.tensor([1.0, 2.0]), pt.tensor(2j))
    np.testing.assert_allclose(got.numpy(), np.array([1, 2], dtype=np.complex128) ** 2j, rtol=1e-12)
    # in place, the input must already have the result's dtype (PyTorch does not cast back)
    x = pt.tensor([1.0, 3.0], dtype=pt.float64)
    x.float_power_(2)
    assert x.tolist() == [1.0, 9.0]
    with pytest.raises(RuntimeError, match="float_power_ has dtype plugtorch.float32 but the operation's result "
                                           "requires dtype plugtorch.float64"):
        pt.tensor([1.0]).float_power_(2)
    with pytest.raises(RuntimeError, match="requires dtype plugtorch.complex128"):
        pt.tensor([1.0], dtype=pt.float64).float_power_(2j)


def test_nan_reductions_trace_diff():
    x = pt.tensor(A)
    same(pt.nansum(x), np.nansum(A))
    same(x.nansum(1), np.nansum(A, 1))
    same(pt.nanmean(x, 0), np.nanmean(A, 0))
    m = np.arange(12.0).reshape(3, 4)
    assert pt.trace(pt.tensor(m)).item() == np.trace(m)
    same(pt.diff(pt.tensor(m)), np.diff(m))
    same(pt.tensor(m).diff(n=2, dim=0), np.diff(m, n=2, axis=0))
    same(pt.diff(pt.tensor([1.0, 4.0]), prepend=pt.tensor([0.0])), np.diff([1.0, 4.0], prepend=0.0))
    assert pt.diff(pt.tensor([True, True, False])).tolist() == [False, True]
    with pytest.raises(RuntimeError, match="expected a matrix"):
        pt.trace(pt.ones(3))


def test_nansum_nanmean_refuse_what_pytorch_refuses():
    # nansum of a complex tensor summed its NaNs (and with dtype=float64 dropped the imaginary part);
    # nanmean took an integer input when dtype= was a float, and an integer dtype= for a float input
    with pytest.raises(RuntimeError, match=r"nansum\(\): nansum does not support complex inputs"):
        pt.nansum(pt.tensor([1 + 1j, complex("nan")]))
    with pytest.raises(RuntimeError, match="does not support complex inputs"):
        pt.nanmean(pt.tensor([1 + 1j]))
    with pytest.raises(RuntimeError, match=r"nanmean\(\): expected input to have floating point or complex dtype but got Long"):
        pt.nanmean(pt.tensor([1, 2]), dtype=pt.float32)
    with pytest.raises(RuntimeError, match="Optional dtype must be either a floating point or complex dtype. Got: Long"):
        pt.nanmean(pt.tensor([1.0, 2.0]), dtype=pt.int64)
    got = pt.nanmean(pt.tensor(A, dtype=pt.float32), 1, dtype=pt.float64)
    assert got.dtype is pt.float64
    same(got, np.nanmean(A.astype(np.float32), 1))


def test_addmm_mv_baddbmm():
    rng = np.random.default_rng(0)
    c, m1, m2, v = rng.random((2, 4)), rng.random((2, 3)), rng.random((3, 4)), rng.random(3)
    same(pt.addmm(pt.tensor(c), pt.tensor(m1), pt.tensor(m2), beta=0.5, alpha=2), 0.5 * c + 2 * m1 @ m2)
    same(pt.mv(pt.tensor(m1), pt.tensor(v)), m1 @ v)
    same(pt.addmv(pt.tensor(c[:, 0]), pt.tensor(m1), pt.tensor(v)), c[:, 0] + m1 @ v)
    b1, b2, bi = rng.random((2, 2, 3)), rng.random((2, 3, 4)), rng.random((2, 2, 4))
    same(pt.baddbmm(pt.tensor(bi), pt.tensor(b1), pt.tensor(b2), beta=0), b1 @ b2)
    with pytest.raises(RuntimeError, match="mv.*matrix and a vector"):
        pt.mv(pt.ones(3), pt.ones(3))


@pytest.mark.parametrize("k", [-2, 0, 1])
def test_diag(k):
    v = np.array([1.0, 2.0, 3.0])
    same(pt.diag(pt.tensor(v), k), np.diag(v, k))
    m = np.arange(12.0).reshape(3, 4)
    same(pt.tensor(m).diag(k), np.diag(m, k))


def test_stacking_and_atleast():
    a, b = np.array([1, 2]), np.array([3, 4])
    for name in ("hstack", "vstack", "dstack", "column_stack"):
        got = getattr(pt, name)([pt.tensor(a), pt.tensor(b)])
        assert got.tolist() == getattr(np, name)([a, b]).tolist(), name
    m = np.ones((2, 2))
    assert pt.hstack([pt.tensor(m), pt.tensor(m)]).shape == (2, 4)
    assert pt.vstack([pt.tensor(m), pt.tensor(a)]).shape == (3, 2)
    assert pt.atleast_1d(pt.tensor(1.0)).shape == (1,) and pt.atleast_2d(pt.tensor([1, 2])).shape == (1, 2)
    assert pt.atleast_3d(pt.ones(2, 3)).shape == (2, 3, 1) and pt.atleast_3d(pt.ones(2)).shape == (1, 2, 1)
    assert [t.shape for t in pt.atleast_2d(pt.tensor(1.0), pt.ones(3))] == [(1, 1), (1, 3)]


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    x, y = np.arange(3), np.arange(4) * 10
    got = pt.meshgrid(pt.tensor(x), pt.tensor(y), indexing=indexing)
    want = np.meshgrid(x, y, indexing=indexing)
    assert [g.tolist() for g in got] == [w.tolist() for w in want]


def test_meshgrid_refuses_what_pytorch_refuses():
    # a 2-D tensor was flattened (a (12,)-long axis from a 3x4 tensor) and mixed dtypes were kept
    a = pt.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"Expected 0D or 1D tensor .* shape \[2, 2\]"):
        pt.meshgrid(a, pt.ones(2, 2), indexing="ij")
    with pytest.raises(RuntimeError, match="meshgrid expects all tensors to have the same dtype, got plugtorch.float32, "
                                           "plugtorch.int64"):
        pt.meshgrid(a, pt.tensor([1, 2, 3]), indexing="ij")
    with pytest.raises(RuntimeError, match="non-empty TensorList"):
        pt.meshgrid()
    with pytest.raises(RuntimeError, match="meshgrid\\(\\): indexing must be 'ij' or 'xy', got 'foo'"):
        pt.meshgrid(a, a, indexing="foo")   # PyTorch's RuntimeError, not a ValueError
    g = pt.meshgrid(pt.tensor(3.0), a, indexing="ij")   # a 0-d tensor is an axis of one
    assert [t.shape for t in g] == [(1, 2), (1, 2)] and g[0].tolist() == [[3.0, 3.0]]


def test_repeat_interleave_take_view_as():
    x = pt.tensor([[1, 2], [3, 4]])
    assert x.repeat_interleave(2).tolist() == np.repeat(x.numpy(), 2).tolist()
    assert pt.repeat_interleave(x, 2, dim=0).tolist() == np.repeat(x.numpy(), 2, 0).tolist()
    assert x.repeat_interleave(pt.tensor([1, 2]), dim=1).tolist() == np.repeat(x.numpy(), [1, 2], 1).tolist()
    assert pt.take(x, pt.tensor([3, 0])).tolist() == [4, 1]
    assert pt.arange(6).view_as(pt.zeros(2, 3)).shape == (2, 3)
    assert pt.arange(6).reshape(2, 3).t().reshape_as(pt.zeros(6)).tolist() == [0, 3, 1, 4, 2, 5]


@pytest.mark.parametrize("device", ["cpu", "opencl"])
def test_repeat_interleave_repeats_alone_and_output_size(device):
    # repeat_interleave(repeats) alone: index i repeated repeats[i] times, in the repeats' dtype
    r = pt.tensor([2, 0, 3], dtype=pt.int32, device=device)
    got = pt.repeat_interleave(r)
    assert got.dtype is pt.int32 and got.tolist() == np.repeat(np.arange(3), [2, 0, 3]).tolist()
    assert pt.repeat_interleave(pt.tensor([], dtype=pt.int64, device=device)).tolist() == []
    x = pt.tensor([[1, 2], [3, 4]], device=device)
    want = np.repeat(x.cpu().numpy(), [1, 2], 0).tolist()
    assert pt.repeat_interleave(x, pt.tensor([1, 2], device=device), dim=0, output_size=3).tolist() == want
    assert x.repeat_interleave(2, output_size=8).tolist() == np.repeat(x.cpu().numpy(), 2).tolist()
    with pytest.raises(RuntimeError, match=r"repeat_interleave\(\): output_size=2 does not match .* length 3"):
        pt.repeat_interleave(x, pt.tensor([1, 2], device=device), dim=0, output_size=2)
    with pytest.raises(RuntimeError, match="repeat_interleave.*1-D tensor"):
        pt.repeat_interleave(pt.tensor([[1, 2]], device=device))


def _lower_median(row):
    row = np.asarray(row, np.float64)
    if np.isnan(row).any():
        return np.nan
    return np.sort(row)[(len(row) - 1) // 2]


@pytest.mark.parametrize("dtype", [pt.int32, pt.float16, pt.float32, pt.float64])
def test_median(dtype):
    a = np.array([[3, 1, 2, 4], [7, 5, 5, 0], [2, 9, 1, 1]], np.float64)
    x = pt.tensor(a, dtype=dtype)
    assert x.median().item() == _lower_median(a.ravel())
    r = pt.median(x, 1)
    assert r.values.tolist() == [_lower_median(row) for row in a]
    assert (x.gather(1, r.indices.unsqueeze(1)).squeeze(1) == r.values).all()
    assert x.median(0, keepdim=True).values.shape == (1, 4)
    assert pt.tensor(5.0).median(0).values.item() == 5.0


def test_median_nan_and_nanmedian():
    x = pt.tensor([[NAN, 5.0, 1.0, NAN], [4.0, 1.0, 3.0, 2.0]])
    m = x.median(1)
    assert math.isnan(m.values[0].item()) and m.indices[0].item() == 0 and m.values[1].item() == 2.0
    assert math.isnan(x.median().item())
    nm = x.nanmedian(1)
    assert nm.values.tolist() == [1.0, 2.0] and nm.indices.tolist() == [2, 3]
    assert pt.nanmedian(x).item() == 2.0
    assert math.isnan(pt.zeros(0).median().item())   # torch 2.13: nan for no values
    with pytest.raises(IndexError, match="non-zero size"):
        pt.zeros(0, 3).median(0)


def test_unique():
    a = np.array([[3, 1, 3], [2, 1, 7]])
    values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    v, i, c = pt.unique(pt.tensor(a), return_inverse=True, return_counts=True)
    assert v.tolist() == values.tolist() and c.tolist() == counts.tolist()
    assert i.tolist() == inverse.reshape(a.shape).tolist()
    assert pt.tensor([2.5, -1.0, 2.5]).unique().tolist() == [-1.0, 2.5]
    assert pt.unique(pt.zeros(0)).shape == (0,)


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_unique_along_a_dim_matches_numpy(dim):
    rng = np.random.default_rng(7)
    a = rng.integers(0, 2, (4, 3, 5))
    a[2] = a[0]          # repeated slices along every dim
    a[:, 2] = a[:, 1]
    a[..., 4] = a[..., 0]
    for x in (a, a.astype(np.float32) / 2):
        values, inverse, counts = np.unique(x, axis=dim, return_inverse=True, return_counts=True)
        v, i, c = pt.unique(pt.tensor(x), dim=dim, return_inverse=True, return_counts=True)
        np.testing.assert_array_equal(v.numpy(), values)
        np.testing.assert_array_equal(i.numpy(), inverse.reshape(-1))
        np.testing.assert_array_equal(c.numpy(), counts)
        np.testing.assert_array_equal(pt.tensor(x).unique(dim=dim).numpy(), values)
    assert pt.unique(pt.zeros(0, 3), dim=0).shape == (0, 3)
    with pytest.raises(IndexError, match="unique"):
        pt.unique(pt.zeros(2, 2), dim=3)
    with pytest.raises(IndexError, match=r"unique\(\): a 0-d tensor has no dim 0"):
        pt.unique(pt.tensor(3), dim=0)


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_bucketize(right):
    seq = np.array([1, 3, 5, 7])
    vals = np.array([[0, 3], [6, 9]])
    side = "right" if right else "left"
    got = pt.searchsorted(pt.tensor(seq), pt.tensor(vals), right=right)
    assert got.tolist() == np.searchsorted(seq, vals, side=side).tolist() and got.dtype is pt.int64
    assert pt.searchsorted(pt.tensor(seq), 5, side=side).item() == np.searchsorted(seq, 5, side=side)
    rows = np.array([[1, 2, 3], [10, 20, 30]])
    got2 = pt.searchsorted(pt.tensor(rows), pt.tensor([[2], [25]]), right=right)
    assert got2.tolist() == [[np.searchsorted(rows[0], 2, side)], [np.searchsorted(rows[1], 25, side)]]
    b = np.array([1.0, 3.0, 5.0])
    x = np.array([0.5, 3.0, 8.0, 5.0])
    assert pt.bucketize(pt.tensor(x), pt.tensor(b), right=right).tolist() == np.digitize(x, b, right=not right).tolist()
    assert pt.searchsorted(pt.tensor(seq), pt.tensor([4]), out_int32=True).dtype is pt.int32


SEARCH_DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]


def _bisect(line, v, right):
    """PyTorch's binary search, written out: the reference where a line holds nan."""
    lo, hi = 0, len(line)
    while lo < hi:
        mid = (lo + hi) // 2
        if not (line[mid] > v if right else line[mid] >= v):
            lo = mid + 1
        else:
            hi = mid
    return lo


@pytest.mark.parametrize("dev", SEARCH_DEVICES)
@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_kernels_agree_with_numpy_and_the_bisection(dev, right):
    rng = np.random.default_rng(3)
    side = "right" if right else "left"
    line = np.sort(rng.integers(-20, 20, 50)).astype(np.float32)          # ties everywhere
    vals = rng.integers(-22, 22, (6, 7)).astype(np.float32)
    got = pt.searchsorted(pt.tensor(line, device=dev), pt.tensor(vals, device=dev), side=side)
    np.testing.assert_array_equal(got.cpu().numpy(), np.searchsorted(line, vals, side))
    rows = np.sort(rng.integers(-9, 9, (4, 30)), 1).astype(np.float64)    # a line per row, transposed values
    vt = rng.integers(-10, 10, (9, 4)).astype(np.float64)
    got = pt.searchsorted(pt.tensor(rows, device=dev), pt.tensor(vt, device=dev).t(), right=right, out_int32=True)
    assert got.dtype is pt.int32
    np.testing.assert_array_equal(got.cpu().numpy(), [np.searchsorted(r, v, side) for r, v in zip(rows, vt.T)])
    # -0.0 equals 0.0, a nan value goes past the end, nan inside a line goes where the bisection sends it
    nan, inf = float("nan"), float("inf")
    specials = [nan, 3.0, 2.0, -inf, inf, 0.0, -0.0]
    for seq in ([1.0, 2.0, 2.0, 3.0, nan], [1.0, nan, 2.0, 3.0], [-0.0, 0.0, inf]):
        got = pt.searchsorted(pt.tensor(seq, device=dev), pt.tensor(specials, device=dev), right=right)
        assert got.tolist() == [_bisect(seq, v, right) for v in specials], seq
    # torch 2.13 gives these: 3 left of [1, 2, 2, 3, nan] is 5 (its bisection meets nan at 4)
    assert pt.searchsorted(pt.tensor([1.0, 2.0, 2.0, 3.0, nan], device=dev), pt.tensor(specials, device=dev),
                           right=right).tolist() == ([5, 5, 5, 0, 5, 0, 0] if right else [5, 5, 1, 0, 5, 0, 0])
    # mixed dtypes compare in result_type: 2.5 into int64 is a float, 300 into int8 is past the end
    assert pt.searchsorted(pt.tensor([1, 2, 3], device=dev), pt.tensor([2.5], device=dev)).tolist() == [2]
    assert pt.searchsorted(pt.tensor([1, 2, 3], dtype=pt.int8, device=dev), pt.tensor([300], device=dev)).tolist() == [3]
    assert pt.searchsorted(pt.tensor([1, 2, 3], device=dev), 2.5).tolist() == 2
    half = pt.searchsorted(pt.tensor([1.0, 2.0, 3.0], dtype=pt.bfloat16, device=dev), pt.tensor([2.0], device=dev),
                           right=right)
    assert half.tolist() == [2 if right else 1]
    # sorter orders each line; empty lines and no values
    got = pt.searchsorted(pt.tensor([9.0, 0.0, 5.0, 1.0], device=dev), pt.tensor([5.0, 6.0], device=dev),
                          sorter=pt.tensor([1, 3, 2, 0], device=dev), right=right)
    assert got.tolist() == np.searchsorted([9.0, 0.0, 5.0, 1.0], [5.0, 6.0], side, sorter=[1, 3, 2, 0]).tolist()
    assert pt.searchsorted(pt.zeros(2, 0, device=dev), pt.ones(2, 3, device=dev)).tolist() == [[0] * 3] * 2
    assert pt.searchsorted(pt.ones(3, device=dev), pt.ones(0, 2, device=dev)).shape == (0, 2)
    assert pt.bucketize(pt.tensor(1.5, device=dev), pt.tensor([1.0, 2.0], device=dev)).tolist() == 1


def test_searchsorted_errors():
    x = pt.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"first N-1 dimensions .* boundaries tensor \[2, 2\] and input value "
                                           r"tensor \[1\]"):
        pt.searchsorted(pt.ones(2, 2), pt.ones(1))
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        pt.searchsorted(x, x, side="left", right=True)
    with pytest.raises(RuntimeError, match="side can only be 'left' or 'right' but got up"):
        pt.searchsorted(x, x, side="up")
    with pytest.raises(RuntimeError, match="sorter must be a tensor of long dtype but got dtype Float"):
        pt.searchsorted(x, x, sorter=x)
    with pytest.raises(RuntimeError, match="sorter index out of range"):
        pt.searchsorted(x, x, sorter=pt.tensor([0, 2]))
    with pytest.raises(RuntimeError, match="boundary and sorter must have the same size"):
        pt.searchsorted(x, x, sorter=pt.tensor([0]))
    with pytest.raises(RuntimeError, match="positive dimension, but got 0 dimension"):
        pt.searchsorted(pt.tensor(1.0), x)
    with pytest.raises(NotImplementedError, match="'Bool'"):
        pt.searchsorted(pt.tensor([False, True]), pt.tensor([True]))
    with pytest.raises(RuntimeError, match=r"boundaries tensor must be 1 dimension, but got dim\(2\)"):
        pt.bucketize(x, pt.ones(2, 2))




@pytest.mark.parametrize("dev", SEARCH_DEVICES)
@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_of_a_line_out_of_order_follows_pytorchs_bisection(dev, right):
    # cpu handed a 1-d line without nan to np.searchsorted, whose bisection picks other midpoints
    # when the line is out of order: 2 into [0, 3, 1] went to 3 where PyTorch's (and opencl's)
    # bisection gives 1. Reference: the bisection written out (_bisect)
    rng = np.random.default_rng(11)
    lines = [[0.0, 3.0, 1.0], [5.0, 3.0, 1.0, 0.0], [0.0, 3.0, 1.0, 2.0]] + \
            [rng.permutation(n).astype(np.float64).tolist() for n in (5, 8, 13)]
    for line in lines:
        vals = np.linspace(-1, len(line) + 1, 23)
        got = pt.searchsorted(pt.tensor(line, device=dev), pt.tensor(vals, device=dev), right=right)
        assert got.tolist() == [_bisect(line, v, right) for v in vals], line

@pytest.mark.parametrize("dev", SEARCH_DEVICES)
def test_searchsorted_refuses_a_sorter_index_outside_the_line_on_every_device(dev):
    # opencl clamped an out-of-range sorter index into the line and answered (searchsorted([1, 3, 5],
    # [3], sorter=[0, 1, 5]) gave [1]); cpu and torch 2.13 refuse it: the check now runs in the meta
    seq, v = pt.tensor([1.0, 3.0, 5.0], device=dev), pt.tensor([3.0], device=dev)
    for bad, got in (([0, 1, 5], 5), ([-1, 0, 1], -1)):
        with pytest.raises(RuntimeError, match=rf"sorter index out of range: got {got} for a sequence of 3"):
            pt.searchsorted(seq, v, sorter=pt.tensor(bad, device=dev))
    rows = pt.tensor([[1.0, 3.0, 5.0], [5.0, 1.0, 3.0]], device=dev)
    with pytest.raises(RuntimeError, match="sorter index out of range: got 3"):
        pt.searchsorted(rows, pt.tensor([[3.0], [2.0]], device=dev), sorter=pt.tensor([[0, 1, 2], [1, 3, 0]], device=dev))
    got = pt.searchsorted(rows, pt.tensor([[3.0], [2.0]], device=dev), sorter=pt.tensor([[0, 1, 2], [1, 2, 0]], device=dev))
    want = [np.searchsorted([1.0, 3.0, 5.0], [3.0], sorter=[0, 1, 2]), np.searchsorted([5.0, 1.0, 3.0], [2.0], sorter=[1, 2, 0])]
    assert got.tolist() == [w.tolist() for w in want]


def test_diff_names_a_prepend_or_append_of_the_wrong_shape():
    # a mismatch surfaced as cat()'s error (IndexError for a 1-d prepend of a 2-d input, where
    # PyTorch raises RuntimeError naming diff); a matching one still works, as np.diff's
    m = pt.tensor([[1.0, 3.0], [4.0, 9.0]])
    with pytest.raises(RuntimeError, match=r"diff expects the shape of tensor to prepend or append to match that of "
                                           r"input except along the differencing dimension; input.size\(0\) = 2, "
                                           r"but got tensor.size\(0\) = 1 \(append of shape \(1, 1\)\)"):
        pt.diff(m, dim=1, append=pt.tensor([[0.0]]))
    with pytest.raises(RuntimeError, match="diff expects prepend or append to be the same dimension as input: "
                                           "input is 2-d, prepend is 1-d"):
        pt.diff(m, dim=1, prepend=pt.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="diff\\(\\): argument 'append' must be Tensor, not float"):
        pt.diff(m, append=2.0)
    want = np.diff(m.numpy(), axis=0, prepend=[[0.0, 0.0]], append=[[1.0, 1.0], [2.0, 2.0]])
    got = pt.diff(m, dim=0, prepend=pt.zeros(1, 2), append=pt.tensor([[1.0, 1.0], [2.0, 2.0]]))
    np.testing.assert_array_equal(got.numpy(), want)

def test_bincount():
    x = np.array([0, 2, 2, 5])
    assert pt.bincount(pt.tensor(x)).tolist() == np.bincount(x).tolist()
    assert pt.tensor(x).bincount(minlength=8).tolist() == np.bincount(x, minlength=8).tolist()
    w = np.array([0.5, 1.0, 2.0, 0.25])
    np.testing.assert_allclose(pt.bincount(pt.tensor(x), pt.tensor(w)).numpy(), np.bincount(x, w))
    with pytest.raises(RuntimeError, match="non-negative"):
        pt.bincount(pt.tensor([-1, 2]))
    with pytest.raises(NotImplementedError, match="bincount.*float32"):   # as torch 2.13
        pt.bincount(pt.tensor([1.0]))
    with pytest.raises(RuntimeError, match="1-d integer tensor"):
        pt.bincount(pt.tensor([[1]]))
    # weights other than float32/float64 are summed in float64, as torch 2.13 (int8 weights wrapped
    # in int8 and bool weights were or-ed: a dtype PyTorch never returns)
    for wdt in (pt.int8, pt.uint8, pt.bool, pt.float16, pt.int64):
        ww = pt.tensor([100, 100, 100, 1]).to(wdt)
        got = pt.bincount(pt.tensor(x), ww)
        assert got.dtype is pt.float64, wdt
        np.testing.assert_array_equal(got.numpy(), np.bincount(x, ww.to(pt.float64).numpy()))
    assert pt.bincount(pt.tensor(x), pt.tensor(w, dtype=pt.float32)).dtype is pt.float32



def test_bincount_refuses_a_negative_minlength_and_mismatched_weights():
    # minlength=-1 was ignored and weights of another length were broadcast ([1.] weighted every
    # sample 1.0: [0., 1., 1.]); NumPy and torch 2.13 refuse both
    x = pt.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"bincount\(\): minlength should be >= 0, got -1"):
        pt.bincount(x, minlength=-1)
    for w in (pt.tensor([1.0]), pt.tensor([[1.0, 2.0]]), pt.tensor([1.0, 2.0, 3.0])):
        with pytest.raises(RuntimeError, match=r"weights should be 1-d and have the same length as input"):
            pt.bincount(x, w)
    with pytest.raises(TypeError, match="minlength"):
        pt.bincount(x, minlength=2.5)
    assert pt.bincount(x, minlength=0).tolist() == np.bincount([1, 2], minlength=0).tolist()

def test_fmax_fmin_ties_give_input_the_value_and_the_whole_gradient():
    # torch 2.13: a tie (or other nan) gives input its value and all of the gradient; maximum's tie
    # rule split it in halves. fmax([-0., 0., 2., nan, nan], [0., -0., 2., 1., nan]) == [-0., 0., 2., 1., nan]
    for fn in (pt.fmax, pt.fmin):
        a = pt.tensor([-0.0, 0.0, 2.0, np.nan, np.nan, 1.0], requires_grad=True)
        b = pt.tensor([0.0, -0.0, 2.0, 1.0, np.nan, np.nan], requires_grad=True)
        out = fn(a, b)
        np.testing.assert_array_equal(out.detach().numpy(), [-0.0, 0.0, 2.0, 1.0, np.nan, 1.0])
        assert np.signbit(out.detach().numpy()).tolist()[:2] == [True, False]
        out.sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), [1, 1, 1, 0, 1, 1])
        np.testing.assert_array_equal(b.grad.numpy(), [0, 0, 0, 1, 0, 0])
