"""complex64 and complex128 on opencl (float2 / double2) against NumPy.

The kernels are called through the backend's table (as the dispatcher calls them) on NumPy
inputs, so every value here is NumPy's: special values (inf and nan in either part, signed
zeros) through exp, log, sqrt, the trigonometric and hyperbolic functions, Smith's division,
hypot's abs; casts to and from every real dtype; reductions; matmul; copies and indexing. Ops
without a complex kernel raise MissingCapabilityError naming op, dtype and device.
"""
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch._dtypes import from_numpy_dtype as _pt_dtype
from plugtorch.backends import get_backend
from plugtorch.backends.base import MissingCapabilityError

from .conftest import DEV  # noqa: F401  (skips the module without an OpenCL device)

BE = get_backend("opencl")
K = BE.kernels
INF, NAN = np.inf, np.nan
C64, C128 = np.complex64, np.complex128
CDTYPES = [pytest.param(C64, id="complex64"),
           pytest.param(C128, id="complex128", marks=pytest.mark.skipif(
               not pt.opencl.is_available() or BE.unsupported_dtype(pt.float64, 0) is not None,
               reason="the device lacks cl_khr_fp64"))]
PT = {np.dtype(C64): pt.complex64, np.dtype(C128): pt.complex128}
PARTS = [0.0, -0.0, 1e-30, 0.3, -0.7, 1.0, 1.5, -2.0, 3.0, 20.0, -50.0, 100.0, 1e20, -1e30, 3e38,
         INF, -INF, NAN]


def dev(a):
    return BE.from_numpy(np.asarray(a), 0)


def host(x):
    return BE.to_numpy(x)


def grid(cdt):
    """Every pair of PARTS as (real, imag): 324 values with every special case."""
    return np.array([complex(a, b) for a in PARTS for b in PARTS], cdt)


def rand(shape, cdt, seed=0, scale=2.0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-scale, scale, shape) + 1j * rng.uniform(-scale, scale, shape)).astype(cdt)


def same_values(got, want, rtol):
    """Equal dtype and shape; each part equal to NumPy's within ``rtol`` where finite, exactly
    where infinite or zero (the sign of zero too), NaN where NumPy's is NaN."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype, got.shape, want.shape)
    parts = [(got.real, want.real), (got.imag, want.imag)] if want.dtype.kind == "c" else [(got, want)]
    for g, w in parts:
        g, w = g.astype(np.float64).ravel(), w.astype(np.float64).ravel()
        nan = np.isnan(w)
        assert (np.isnan(g) == nan).all(), np.flatnonzero(np.isnan(g) != nan)
        exact = ~nan & (~np.isfinite(w) | (w == 0))
        assert (g[exact] == w[exact]).all() and (np.signbit(g[exact]) == np.signbit(w[exact])).all(), \
            np.flatnonzero(exact)[(g[exact] != w[exact]) | (np.signbit(g[exact]) != np.signbit(w[exact]))]
        rest = ~nan & ~exact
        np.testing.assert_allclose(g[rest], w[rest], rtol=rtol, atol=0)


def tol(cdt):
    return 2e-6 if cdt == C64 else 1e-13


UNARY_NUMPY = {"neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin,
               "cos": np.cos, "tan": np.tan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
               "reciprocal": lambda z: np.divide(1, z), "abs": np.abs,   # (cpu's reciprocal: 1 / z)
               "rsqrt": lambda z: np.divide(1, np.sqrt(z)),   # (1 / sqrt z: rsqrt(0j) is inf + nan j)
               "sigmoid": lambda z: np.divide(1, np.add(1, np.exp(-z))), "isnan": np.isnan, "isinf": np.isinf,
               "isfinite": np.isfinite, "logical_not": np.logical_not, "log2": np.log2, "log10": np.log10,
               "exp2": np.exp2, "expm1": np.expm1, "log1p": np.log1p, "atan": np.arctan, "asin": np.arcsin,
               "acos": np.arccos}


@pytest.mark.parametrize("cdt", CDTYPES)
@pytest.mark.parametrize("name", sorted(UNARY_NUMPY))
def test_unary_special_values_as_numpy(name, cdt):
    z = grid(cdt)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        want = UNARY_NUMPY[name](z)
    out = K[name](dev(z), _pt_dtype(want.dtype))
    same_values(host(out), want, tol(cdt))


@pytest.mark.parametrize("cdt", CDTYPES)
def test_unary_random_values_and_strided_input(cdt):
    a = rand((6, 10), cdt, seed=1, scale=4.0)
    x = K["permute"](dev(a), (1, 0))                    # a transposed view
    for name, fn in UNARY_NUMPY.items():
        with np.errstate(all="ignore"):
            want = fn(a.T)
        same_values(host(K[name](x, _pt_dtype(want.dtype))), want, 4 * tol(cdt))


@pytest.mark.parametrize("cdt", CDTYPES)
def test_abs_and_division_do_not_overflow(cdt):
    big = 1e38 if cdt == C64 else 1e307   # (b.x + b.y * rat stays finite: NumPy divides too)
    z = np.array([complex(big, big), complex(-big, big / 3), complex(1e-30, -1e-30)], cdt)
    same_values(host(K["abs"](dev(z), _pt_dtype(z.real.dtype))), np.abs(z), tol(cdt))
    assert np.isfinite(host(K["abs"](dev(z), _pt_dtype(z.real.dtype)))).all()
    q = host(K["div"](dev(z), dev(z), PT[z.dtype]))    # naive (ac + bd) / (c^2 + d^2) overflows
    same_values(q, z / z, tol(cdt))
    np.testing.assert_allclose(q, np.ones(3), rtol=tol(cdt))


@pytest.mark.parametrize("cdt", CDTYPES)
def test_abs_is_numpys_bit_for_bit(cdt):
    """NumPy's abs is the larger part times sqrt(1 + r^2) (r = smaller / larger, one fused
    multiply-add), not hypot: a third of random float32 values differ in the last bit between the two."""
    rng = np.random.default_rng(17)
    n = 1 << 16
    z = (rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
         + 1j * rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)).astype(cdt)
    np.testing.assert_array_equal(host(K["abs"](dev(z), _pt_dtype(z.real.dtype))), np.abs(z))


BINARY_NUMPY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power,
                "eq": np.equal, "ne": np.not_equal, "logical_and": np.logical_and,
                "logical_or": np.logical_or, "logical_xor": np.logical_xor}


@pytest.mark.parametrize("cdt", CDTYPES)
@pytest.mark.parametrize("name", sorted(BINARY_NUMPY))
def test_binary_special_values_as_numpy(name, cdt):
    z = grid(cdt)
    a, b = np.meshgrid(z[::5], z[::3])   # 65 x 108 pairs: every special value meets the others
    if name == "pow":   # (huge exponents: the result's sign hangs on the last bit of b * log(a))
        a, b = np.meshgrid(z, np.array([0, -0.0, 1, 2, 3, -1, -2, 7, -5, 0.5, 2.5, 1 + 1j, -0.7 + 0.3j, -2j,
                                        INF, -INF, NAN, complex(0, INF), complex(1, NAN)], cdt))
    with np.errstate(all="ignore"):
        want = BINARY_NUMPY[name](a, b)
    out = K[name](dev(a), dev(b), PT[np.dtype(cdt)])
    # pow: exp(b log a) carries log's rounding times |b log a| (up to ~600 here), in NumPy's too
    same_values(host(out), want, tol(cdt) * (100 if name == "pow" else 1))


@pytest.mark.parametrize("cdt", CDTYPES)
def test_binary_scalars_and_broadcasting(cdt):
    a, b = rand((4, 1, 3), cdt, 2), rand((5, 3), cdt, 3)
    d = PT[np.dtype(cdt)]
    same_values(host(K["mul"](dev(a), dev(b), d)), a * b, tol(cdt))
    same_values(host(K["div"](dev(a), dev(b), d)), a / b, tol(cdt))
    for s in (2.5, 3, True, 1 - 2j):
        same_values(host(K["mul"](dev(a), s, d)), a * cdt(s), tol(cdt))
        same_values(host(K["sub"](s, dev(a), d)), cdt(s) - a, tol(cdt))
        same_values(host(K["div"](dev(a), s, d)), a / cdt(s), tol(cdt))
    x = dev(a)   # the hot path (contiguous, offset 0) after a first call: the same values again
    for _ in range(2):
        same_values(host(K["add"](x, x, d)), a + a, tol(cdt))
        same_values(host(K["mul"](x, 1j, d)), a * cdt(1j), tol(cdt))
        same_values(host(K["abs"](x, _pt_dtype(a.real.dtype))), np.abs(a), tol(cdt))


REALS = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64]


@pytest.mark.parametrize("cdt", CDTYPES)
@pytest.mark.parametrize("rdt", REALS, ids=lambda d: np.dtype(d).name)
def test_casts_between_real_and_complex(rdt, cdt):
    if rdt == np.float64 and BE.unsupported_dtype(pt.float64, 0):
        pytest.skip("no fp64")
    z = np.concatenate([grid(cdt)[np.isfinite(grid(cdt))], rand(64, cdt, 4, scale=100)])
    z = z[np.abs(z.real) < 100]   # (out-of-range float -> int casts are undefined in NumPy)
    r = z.real.astype(rdt) if rdt != np.bool_ else (np.arange(20) % 3 == 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # NumPy's ComplexWarning: the imaginary part goes
        to_real = z.astype(rdt)
    same_values(host(K["_to_dtype"](dev(z), _pt_dtype(rdt))), to_real, 0)
    same_values(host(K["_to_dtype"](dev(r), PT[np.dtype(cdt)])), r.astype(cdt), 0)   # imag 0


@pytest.mark.parametrize("cdt", CDTYPES)
def test_casts_between_complex_widths_and_views(cdt):
    other = C128 if cdt == C64 else C64
    z = grid(cdt).reshape(18, 18)
    with np.errstate(all="ignore"):
        same_values(host(K["_to_dtype"](dev(z), PT[np.dtype(other)])), z.astype(other), 0)
    x = dev(z)
    v = K["slice"](K["permute"](x, (1, 0)), 0, 1, 17, 3)     # strided, offset view
    same_values(host(v), z.T[1:17:3], 0)
    same_values(host(K["clone"](v)), z.T[1:17:3], 0)
    same_values(host(K["flip"](x, (0, 1))), z[::-1, ::-1], 0)
    same_values(host(K["cat"]([x, v], 0, PT[np.dtype(cdt)])), np.concatenate([z, z.T[1:17:3]]), 0)
    dst = dev(np.zeros((18, 18), cdt))
    K["copy_"](K["select"](dst, 1, 4), K["select"](x, 0, 2))
    want = np.zeros((18, 18), cdt)
    want[:, 4] = z[2]
    same_values(host(dst), want, 0)
    same_values(host(K["full"]((2, 3), 1.5 - 2j, PT[np.dtype(cdt)], 0)), np.full((2, 3), 1.5 - 2j, cdt), 0)


@pytest.mark.parametrize("cdt", CDTYPES)
def test_indexing_and_where(cdt):
    z = rand((5, 6), cdt, 5)
    x = dev(z)
    idx = np.array([[0, 4, 2], [1, 1, 3]])
    same_values(host(K["gather"](x, 0, dev(idx))), np.take_along_axis(z[:, :3], idx, 0), 0)
    same_values(host(K["index"](x, [dev(np.array([3, 0, 3]))])), z[[3, 0, 3]], 0)
    put = host(K["index_put"](x, [dev(np.array([1, 1, 4]))], dev(z[:3]), True))
    want = z.copy()
    np.add.at(want, [1, 1, 4], z[:3])
    same_values(put, want, tol(cdt))
    sc = host(K["scatter_add"](x, 1, dev(np.array([[5, 5, 0]] * 5)), x))
    want = z.copy()
    for i in range(5):
        for j, c in enumerate([5, 5, 0]):
            want[i, c] += z[i, j]
    same_values(sc, want, tol(cdt))
    c = z.real > 0
    same_values(host(K["where"](dev(c), x, 2j, PT[np.dtype(cdt)])), np.where(c, z, cdt(2j)), 0)
    w = np.array([0, 1j, -0.0, 2, 0], cdt)
    np.testing.assert_array_equal(host(K["nonzero"](dev(w))), np.argwhere(w))


@pytest.mark.parametrize("cdt", CDTYPES)
@pytest.mark.parametrize("shape,dims", [((7, 5), (1,)), ((7, 5), (0, 1)), ((3, 700), (1,)),
                                        ((2, 70000), (1,)), ((4, 3, 5), (0, 2)), ((0, 3), (0,))])
def test_sum_and_prod(shape, dims, cdt):
    z = rand(shape, cdt, 6, scale=1.0)
    d = PT[np.dtype(cdt)]
    n = int(np.prod([shape[i] for i in dims]))
    rtol = tol(cdt) * (1 + n / 4)
    same_values(host(K["sum"](dev(z), dims, False, d)), z.sum(dims), rtol) if n < 1000 else \
        np.testing.assert_allclose(host(K["sum"](dev(z), dims, False, d)), z.sum(dims), rtol=rtol, atol=rtol * n)
    zp = (np.exp(1j * np.angle(z))).astype(cdt)   # unit modulus: long products stay finite
    np.testing.assert_allclose(host(K["prod"](dev(zp), dims, True, d)), zp.prod(dims, keepdims=True),
                               rtol=rtol, atol=rtol)
    same_values(host(K["sum"](dev(z), dims, False, pt.complex128)), z.astype(C128).sum(dims), rtol) \
        if cdt == C128 and n < 1000 else None


@pytest.mark.parametrize("cdt", CDTYPES)
def test_all_any_and_cumsum(cdt):
    z = np.array([[0, 1j, 0], [0, -0.0, 0], [2, 3 + 1j, NAN]], cdt)
    for name, fn in (("all", np.all), ("any", np.any)):
        np.testing.assert_array_equal(host(K[name](dev(z), (1,), False, pt.bool)), fn(z, 1))
    a = rand((3, 9), cdt, 7)
    same_values(host(K["cumsum"](dev(a), 1, PT[np.dtype(cdt)])), np.cumsum(a, 1), 4 * tol(cdt))
    np.testing.assert_allclose(host(K["cumprod"](K["permute"](dev(a), (1, 0)), 0, PT[np.dtype(cdt)])),
                               np.cumprod(a.T, 0), rtol=20 * tol(cdt))


@pytest.mark.parametrize("cdt", CDTYPES)
@pytest.mark.parametrize("sa,sb", [((5, 7), (7, 3)), ((2, 4, 33), (33, 17)), ((3, 1, 2, 6), (4, 6, 5)),
                                   ((1, 1), (1, 1))])
def test_matmul(sa, sb, cdt):
    a, b = rand(sa, cdt, 8), rand(sb, cdt, 9)
    got = host(K["_matmul"](dev(a), dev(b)))
    np.testing.assert_allclose(got, a @ b, rtol=tol(cdt) * sa[-1], atol=tol(cdt) * sa[-1])
    bt = K["permute"](dev(np.ascontiguousarray(np.swapaxes(b, -1, -2))), tuple(range(len(sb) - 2)) +
                      (len(sb) - 1, len(sb) - 2))            # a transposed right operand
    np.testing.assert_allclose(host(K["_matmul"](dev(a), bt)), a @ b, rtol=tol(cdt) * sa[-1],
                               atol=tol(cdt) * sa[-1])


@pytest.mark.parametrize("call", [
    lambda x: K["argmax"](x, None, False), lambda x: K["sort"](x, 0, False),
    lambda x: K["amax"](x, (0,), False, pt.complex64), lambda x: K["erf"](x, pt.complex64),
    lambda x: K["exp"](x, pt.float32), lambda x: K["floor"](x, pt.complex64),
    lambda x: K["lt"](x, x, pt.complex64),
], ids=["argmax", "sort", "amax", "erf", "exp to real", "floor", "lt"])
def test_ops_without_complex_kernels_refuse(call):
    x = dev(rand((4,), C64, 10))
    with pytest.raises(MissingCapabilityError, match=r"complex64.*OpenCL device") as e:
        call(x)
    assert "opencl" in str(e.value)


def test_complex128_needs_fp64(monkeypatch):
    class NoFp64:
        name = "toy GPU"
        extensions = "cl_khr_global_int32_base_atomics"
    monkeypatch.setattr(BE, "_devices", [NoFp64()])
    assert "cl_khr_fp64" in BE.unsupported_dtype(pt.complex128, 0)
    assert BE.unsupported_dtype(pt.complex64, 0) is None


@pytest.mark.parametrize("cdt", CDTYPES)
def test_views_between_complex_and_real_share_memory(cdt):
    z = rand((4, 6), cdt, 11)
    x = dev(z)
    v = K["slice"](K["permute"](x, (1, 0)), 0, 1, 5, 2)          # strided, offset complex view
    r = K["view_as_real"](v, _pt_dtype(z.real.dtype))
    same_values(host(r), np.stack([z.T[1:5:2].real, z.T[1:5:2].imag], -1), 0)
    K["copy_"](K["select"](r, 2, 1), 0.0)                          # zero the imaginary parts
    want = z.copy()
    want.T[1:5:2] = want.T[1:5:2].real
    same_values(host(x), want, 0)
    pairs = dev(np.arange(24.0, dtype=z.real.dtype).reshape(3, 4, 2))
    c = K["view_as_complex"](K["slice"](pairs, 1, 1, 4, 2), PT[np.dtype(cdt)])
    p = np.arange(24.0).reshape(3, 4, 2)[:, 1:4:2]
    same_values(host(c), (p[..., 0] + 1j * p[..., 1]).astype(cdt), 0)
    same_values(host(K["conj_physical"](v, PT[np.dtype(cdt)])), np.conj(want.T[1:5:2]), 0)
    real = dev(np.array([1.5, -0.0], z.real.dtype))
    same_values(host(K["conj_physical"](real, _pt_dtype(z.real.dtype))), np.array([1.5, -0.0], z.real.dtype), 0)


def test_declarations_list_the_ops_without_complex_kernels():
    line = [d for d in BE.declarations() if d.startswith("complex64/complex128")][0]
    for op in ("argmax", "sort", "erf", "floor"):
        assert op in line
    for op in ("add", "mul", "div", "pow", "exp", "log1p", "asin", "acos", "atan", "sum", "_matmul", "view_as_real"):
        assert f" {op}," not in line and f" {op} " not in line


@pytest.mark.parametrize("cdt", CDTYPES)
def test_pow_integer_and_complex_exponents(cdt):
    a = rand((40,), cdt, 12, scale=1.0)   # (|a|^100 stays finite)
    d = PT[np.dtype(cdt)]
    for e in (2, 3, -1, 7, -13, 99, 100, 0.5, -0.5, 2.5, 1 + 1j, 0, 1):
        with np.errstate(all="ignore"):
            want = np.power(a, cdt(e)) if e not in (0.5, -0.5) else np.sqrt(a) ** int(np.sign(e))
        got = host(K["pow"](dev(a), e, d))
        np.testing.assert_allclose(got, want, rtol=50 * tol(cdt), err_msg=str(e))
    z = np.array([0, 1 + 1j, -2j, 0], cdt)
    e = np.array([2, 0, 2.5, -1 + 0.5j], cdt)
    with np.errstate(all="ignore"):
        same_values(host(K["pow"](dev(z), dev(e), d)), np.power(z, e), 50 * tol(cdt))


# ---- through the public API: opencl tensors against NumPy ------------------------------------
def test_public_api_complex_on_opencl():
    a, b = rand((3, 4), C64, 13), rand((4, 2), C64, 14)
    x, y = pt.tensor(a, device="opencl"), pt.tensor(b, device="opencl")
    assert x.dtype is pt.complex64 and x.device.type == "opencl"
    np.testing.assert_allclose((x @ y).cpu().numpy(), a @ b, rtol=1e-5)
    np.testing.assert_allclose((x * 1j + 2).exp().sum(1).cpu().numpy(), np.exp(a * 1j + 2).sum(1), rtol=1e-5)
    r = pt.view_as_real(x)                        # a view: writing its parts writes the complex tensor
    r[..., 1] = 0
    np.testing.assert_array_equal(x.cpu().numpy(), a.real.astype(C64))
    x.imag.copy_(pt.tensor(a.imag, device="opencl"))
    np.testing.assert_array_equal(x.cpu().numpy(), a)
    np.testing.assert_array_equal(x.abs().cpu().numpy(), np.abs(a))
    assert x.abs().dtype is pt.float32 and x.real.dtype is pt.float32
    f = pt.ones(3, device="opencl") * (1 - 2j)    # a real tensor times a complex scalar
    assert f.dtype is pt.complex64
    np.testing.assert_array_equal(f.cpu().numpy(), np.full(3, 1 - 2j, C64))


def test_fft_runs_through_the_host_on_opencl():
    from plugtorch.dispatch.host import record_host_round_trips
    a = rand((4, 8), C64, 15)
    x = pt.tensor(a, device="opencl")
    with record_host_round_trips() as ops:
        got = pt.fft.fft(x)
    assert got.device.type == "opencl" and ops
    np.testing.assert_allclose(got.cpu().numpy(), np.fft.fft(a), rtol=1e-5, atol=1e-5)
    back = pt.fft.ifft(got)
    np.testing.assert_allclose(back.cpu().numpy(), a, rtol=1e-5, atol=1e-5)


def test_scatter_multiply():
    a = rand((3,), C64, 16)
    x = pt.tensor(a, device="opencl")
    i, src = pt.tensor([0, 0, 2], device="opencl"), pt.tensor([2j, 1 - 1j, 3 + 0j], device="opencl")
    want = a.copy()
    np.multiply.at(want, [0, 0, 2], np.array([2j, 1 - 1j, 3], C64))
    np.testing.assert_allclose(x.scatter(0, i, src, reduce="multiply").cpu().numpy(), want, rtol=1e-6)


def test_fusion_declines_complex_and_traced_replays_equal_eager():
    from plugtorch.backends.fusion import IN, Input, PointwiseGroup, Ref, Step
    z = pt.tensor(rand((4, 5), C64, 18), device="opencl")
    step = Step("exp", (Ref(IN, 0), pt.complex64), (4, 5), pt.complex64)
    assert BE.fuse_pointwise(PointwiseGroup((Input((4, 5), pt.complex64),), (step,), (0,), (4, 5))) is None

    def f(x, y):
        return ((x * y + 1j).exp() / (y.abs() + 1)).sum(0)
    w = pt.tensor(rand((4, 5), C64, 19), device="opencl")
    traced = pt.jit.trace(f, (z, w))
    z2, w2 = pt.tensor(rand((4, 5), C64, 20), device="opencl"), pt.tensor(rand((4, 5), C64, 21), device="opencl")
    np.testing.assert_array_equal(traced(z2, w2).cpu().numpy(), f(z2, w2).cpu().numpy())
