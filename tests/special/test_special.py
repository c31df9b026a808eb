"""The special functions (torch's acosh, lgamma, gcd ... and plugtorch.special) against
scipy.special / NumPy references, at edge values, on every backend; finite-difference gradients
in float64; in-place variants; errors."""
import math

import numpy as np
import pytest
import scipy.special as sp

import plugtorch as pt
from plugtorch.autograd.gradcheck import gradcheck

inf, nan = math.inf, math.nan
DEVICES = pt.backends.available()
EDGES = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 7.0, 30.0, -30.0, 1e-8, inf, -inf, nan]


def _lgamma(x):
    return np.where(x == -inf, inf, sp.gammaln(x))


def _spherical_j0(x):
    with np.errstate(all="ignore"):
        return np.where(x == 0, 1.0, np.where(np.isinf(x), 0.0, np.sin(x) / x))


# public function -> reference on float64 arrays
UNARY = {
    pt.acosh: np.arccosh, pt.asinh: np.arcsinh, pt.atanh: np.arctanh, pt.erfc: sp.erfc, pt.erfinv: sp.erfinv,
    pt.lgamma: _lgamma, pt.digamma: sp.psi, pt.i0: sp.i0, pt.sinc: np.sinc,
    pt.arccosh: np.arccosh, pt.arcsinh: np.arcsinh, pt.arctanh: np.arctanh,
    pt.special.erfcx: sp.erfcx, pt.special.ndtri: sp.ndtri, pt.special.log_ndtr: sp.log_ndtr,
    pt.special.i0e: sp.i0e, pt.special.i1: sp.i1, pt.special.i1e: sp.i1e, pt.special.ndtr: sp.ndtr,
    pt.special.entr: sp.entr, pt.special.bessel_j0: sp.j0, pt.special.bessel_j1: sp.j1,
    pt.special.bessel_y0: sp.y0, pt.special.bessel_y1: sp.y1, pt.special.modified_bessel_i0: sp.i0,
    pt.special.modified_bessel_i1: sp.i1, pt.special.modified_bessel_k0: sp.k0,
    pt.special.modified_bessel_k1: sp.k1, pt.special.scaled_modified_bessel_k0: sp.k0e,
    pt.special.scaled_modified_bessel_k1: sp.k1e, pt.special.spherical_bessel_j0: _spherical_j0,
    pt.special.airy_ai: lambda x: sp.airy(x)[0], pt.special.gammaln: _lgamma, pt.special.psi: sp.psi,
    pt.special.expit: sp.expit,
}


def _device_has(device, dtype):
    be = pt.backends.get_backend(pt.device(device).type)
    return pt.device(device).type == "cpu" or dtype in be.supported_dtypes(0)


def _close(got, want, rtol, atol=0.0):
    g = got.cpu().to(pt.float64).numpy()
    w = np.asarray(want, dtype=np.float64)
    assert g.shape == w.shape
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.float32, pt.float64])
@pytest.mark.parametrize("fn", list(UNARY), ids=lambda f: f.__name__)
def test_unary_edges_against_scipy(fn, dtype, device):
    if not _device_has(device, dtype):
        pytest.skip(f"{device} has no {dtype}")
    x = np.array(EDGES + [0.3, 0.999, -0.999, 1.5, 100.0], dtype=np.float64)
    x = x.astype(dtype.numpy).astype(np.float64)   # the reference on the values the op sees
    with np.errstate(all="ignore"):
        want = UNARY[fn](x)
    got = fn(pt.tensor(x, dtype=dtype, device=device))
    assert got.dtype == dtype and got.device.type == pt.device(device).type
    if dtype == pt.float32:   # results beyond float32's range round to inf / 0
        want = want.astype(np.float32).astype(np.float64)
    _close(got, want, rtol=1e-12 if dtype == pt.float64 else 2e-5, atol=1e-300 if dtype == pt.float64 else 1e-7)


@pytest.mark.parametrize("fn", [pt.acosh, pt.erfc, pt.lgamma, pt.digamma, pt.sinc, pt.special.i1,
                                pt.special.ndtr, pt.special.entr], ids=lambda f: f.__name__)
def test_integer_and_bool_inputs_promote_to_the_default_float(fn):
    got = fn(pt.tensor([1, 2, 3]))
    assert got.dtype == pt.float32
    _close(got, UNARY[fn](np.array([1.0, 2.0, 3.0])), rtol=1e-6, atol=1e-7)
    assert fn(pt.tensor([True, False])).dtype == pt.float32
    with pt.set_default_dtype_ctx(pt.float64) if hasattr(pt, "set_default_dtype_ctx") else _default(pt.float64):
        assert fn(pt.tensor([1, 2])).dtype == pt.float64


class _default:
    def __init__(self, d):
        self.d = d

    def __enter__(self):
        self.old = pt.get_default_dtype()
        pt.set_default_dtype(self.d)

    def __exit__(self, *exc):
        pt.set_default_dtype(self.old)


def test_half_precision_rounds_the_float32_result():
    x = np.array([0.5, 1.5, 3.0, -0.7], dtype=np.float32)
    for d in (pt.float16, pt.bfloat16):
        got = pt.lgamma(pt.tensor(x).to(d))
        assert got.dtype == d
        _close(got, sp.gammaln(np.asarray(pt.tensor(x).to(d).float().numpy(), np.float64)), rtol=1e-2)


def test_signbit():
    x = pt.tensor([-0.0, 0.0, nan, -nan, -inf, 2.0, -1e-45])
    assert pt.signbit(x).tolist() == np.signbit(x.numpy()).tolist()
    assert pt.signbit(pt.tensor([-3, 0, 4])).tolist() == [True, False, False]
    assert pt.signbit(pt.tensor([True])).tolist() == [False]
    assert pt.tensor([-1.0]).signbit().dtype == pt.bool


@pytest.mark.parametrize("device", DEVICES)
def test_binary_against_numpy_and_scipy(device):
    a = np.array([0.0, -0.0, 1.5, -2.0, inf, -inf, nan, 3.0, 0.5], dtype=np.float64)
    b = np.array([-1.0, 1.0, -0.0, 2.0, -3.0, 0.0, 1.0, nan, 0.25], dtype=np.float64)
    A, B = (pt.tensor(v, dtype=pt.float32, device=device) for v in (a, b))
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    assert np.array_equal(pt.copysign(A, B).cpu().numpy(), np.copysign(a32, b32), equal_nan=True)
    assert np.array_equal(np.signbit(pt.copysign(A, B).cpu().numpy()), np.signbit(np.copysign(a32, b32)))
    assert np.array_equal(pt.nextafter(A, B).cpu().numpy(), np.nextafter(a32, b32), equal_nan=True)
    # PyTorch's heaviside: values at 0 (either zero), input > 0 elsewhere, nan gives 0
    assert pt.heaviside(A, B).cpu().tolist()[:7] == pytest.approx([-1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0], nan_ok=True)
    pos = np.array([0.5, 1.0, 2.5, 7.0]), np.array([0.25, 3.0, 2.5, 0.1])
    P, Q = (pt.tensor(v, dtype=pt.float64) for v in pos)
    _close(pt.special.gammainc(P, Q), sp.gammainc(*pos), rtol=1e-12)
    _close(pt.special.gammaincc(P, Q), sp.gammaincc(*pos), rtol=1e-12)
    _close(pt.special.zeta(P + 1, Q), sp.zeta(pos[0] + 1, pos[1]), rtol=1e-12)
    _close(pt.special.zeta(2.0, Q), sp.zeta(2.0, pos[1]), rtol=1e-12)   # a Python number first
    _close(pt.special.xlog1py(P, Q), sp.xlog1py(*pos), rtol=1e-12)
    _close(pt.special.xlog1py(pt.tensor([0.0, 0.0, 2.0]), pt.tensor([-1.0, nan, -1.0])), [0.0, nan, -inf], rtol=0)
    _close(pt.logaddexp2(P, Q), np.logaddexp2(*pos), rtol=1e-12)
    _close(pt.logaddexp2(pt.tensor([inf, -inf, 1.0]), pt.tensor([inf, -inf, 1e30])), [inf, -inf, 1e30], rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_nextafter_half_types_step_one_ulp(device):
    for d, eps in ((pt.float16, 2.0 ** -10), (pt.bfloat16, 2.0 ** -7)):
        if not _device_has(device, d):
            continue
        x = pt.tensor([1.0, 1.0, 0.0, -2.0], dtype=d, device=device)
        y = pt.tensor([2.0, 0.0, -1.0, -2.0], dtype=d, device=device)
        got = pt.nextafter(x, y).float().tolist()
        assert got[0] == 1 + eps and got[1] == 1 - eps / 2 and got[2] < 0 and got[3] == -2.0


def test_gcd_lcm():
    a = np.array([0, -4, 12, 7, 0], dtype=np.int64)
    b = np.array([0, 6, 18, -21, 5], dtype=np.int64)
    assert pt.gcd(pt.tensor(a), pt.tensor(b)).tolist() == np.gcd(a, b).tolist()
    assert pt.lcm(pt.tensor(a), pt.tensor(b)).tolist() == np.lcm(a, b).tolist()
    assert pt.tensor([4], dtype=pt.int16).gcd(pt.tensor([6], dtype=pt.int16)).dtype == pt.int16


def test_polygamma_mvlgamma_ldexp_frexp():
    x = np.array([0.5, 1.5, 3.0, -0.7, 10.0])
    X = pt.tensor(x, dtype=pt.float64)
    for n in range(4):
        _close(pt.polygamma(n, X), sp.polygamma(n, x), rtol=1e-10)
        _close(X.polygamma(n), sp.polygamma(n, x), rtol=1e-10)
    _close(pt.mvlgamma(X + 2, 3), [sp.multigammaln(v, 3) for v in x + 2], rtol=1e-12)
    _close(pt.special.multigammaln(pt.tensor([3, 4]), 2), [sp.multigammaln(3.0, 2), sp.multigammaln(4.0, 2)], rtol=1e-6)
    _close(pt.ldexp(pt.tensor([1.0, -3.0, 0.5]), pt.tensor([3, -1, 0])), np.ldexp([1.0, -3.0, 0.5], [3, -1, 0]), rtol=0)
    # the result is the promoted float type (float16 stays float16: 3 * 2^100 overflows to inf there,
    # as np.ldexp in float16 and torch 2.13); float32 was returned, with 3.8e30
    h = pt.ldexp(pt.tensor([3.0, 1.5], dtype=pt.float16), pt.tensor([100, -3], dtype=pt.int16))
    wh = np.ldexp(np.array([3.0, 1.5], np.float16), np.array([100, -3]))
    assert h.dtype is pt.float16 and wh.dtype == np.float16 and h.tolist() == wh.tolist()
    assert pt.ldexp(pt.tensor([3], dtype=pt.int8), pt.tensor([2])).dtype is pt.float32
    assert pt.ldexp(pt.tensor([3.0], dtype=pt.bfloat16), pt.tensor([2], dtype=pt.uint8)).tolist() == [12.0]
    # a bool exponent counts as 0/1 (torch 2.13 computes that for strided operands and refuses contiguous
    # ones with NotImplementedError from its fast path; plugtorch computes it for all)
    assert pt.ldexp(pt.tensor([3.0, 3.0], dtype=pt.float64), pt.tensor([True, False])).tolist() == [6.0, 3.0]
    assert pt.ldexp(pt.tensor([True, False]), pt.tensor([True, True])).tolist() == [2.0, 0.0]
    v = np.array([3.0, -0.3, 1e-45, 3e38, 0.0, -0.0, inf, -inf, nan, 1.0, 0.5], dtype=np.float32)
    m, e = pt.frexp(pt.tensor(v))
    wm, we = np.frexp(v)
    assert e.dtype == pt.int32
    assert np.array_equal(m.numpy(), wm, equal_nan=True) and np.array_equal(np.signbit(m.numpy()), np.signbit(wm))
    assert e.tolist()[6:9] == [0, 0, 0]   # (NumPy's exponent of inf and nan is unspecified)
    assert e.tolist()[:6] + e.tolist()[9:] == we.tolist()[:6] + we.tolist()[9:]
    v64 = np.array([5e-324, 1e308, -7.25])
    m, e = pt.frexp(pt.tensor(v64))
    assert np.array_equal(m.numpy(), np.frexp(v64)[0]) and e.tolist() == np.frexp(v64)[1].tolist()


def test_torch_edge_values():
    # torch 2.13: erfinv keeps -0.0; polygamma(n >= 1, -inf) is nan
    assert np.signbit(pt.erfinv(pt.tensor([-0.0])).numpy()).tolist() == [True]
    assert math.isnan(pt.polygamma(1, pt.tensor([-inf])).item())
    assert pt.lgamma(pt.tensor([-inf, 0.0, -0.0, -2.0])).tolist() == [inf, inf, inf, inf]
    assert pt.digamma(pt.tensor([0.0, -0.0])).tolist() == [-inf, inf]
    assert pt.sinc(pt.tensor([0.0, 1e-20])).tolist() == [1.0, 1.0]


def test_positive_and_entr_values():
    x = pt.tensor([1.0, -2.0])
    assert pt.positive(x) is x
    assert pt.special.entr(pt.tensor([0.0, 1.0, -1.0, nan, inf])).tolist()[:3] == [0.0, -0.0, -inf]


# ---- gradients -------------------------------------------------------------------------------
GRAD_UNARY = [(pt.acosh, (1.2, 3.0)), (pt.asinh, (-2.0, 2.0)), (pt.atanh, (-0.8, 0.8)), (pt.erfc, (-2.0, 2.0)),
              (pt.erfinv, (-0.9, 0.9)), (pt.lgamma, (0.3, 4.0)), (pt.digamma, (0.3, 4.0)), (pt.i0, (-3.0, 3.0)),
              (pt.sinc, (-2.0, 2.0)), (pt.special.erfcx, (-2.0, 3.0)), (pt.special.ndtri, (0.05, 0.95)),
              (pt.special.log_ndtr, (-5.0, 3.0)), (pt.special.i0e, (-3.0, 3.0)), (pt.special.i1, (-3.0, 3.0)),
              (pt.special.i1e, (-3.0, 3.0)), (pt.special.ndtr, (-3.0, 3.0)), (pt.special.entr, (0.1, 3.0)),
              (lambda x: pt.polygamma(2, x), (0.5, 3.0)), (lambda x: pt.mvlgamma(x, 3), (1.5, 4.0))]


@pytest.mark.parametrize("fn,interval", GRAD_UNARY, ids=lambda v: getattr(v, "__name__", ""))
def test_unary_gradcheck(fn, interval):
    g = np.random.default_rng(0)
    x = pt.tensor(g.uniform(*interval, size=(2, 3)), dtype=pt.float64, requires_grad=True)
    assert gradcheck(fn, (x,))


def test_sinc_gradient_at_zero_is_zero():
    x = pt.tensor([0.0], dtype=pt.float64, requires_grad=True)
    pt.sinc(x).sum().backward()
    assert x.grad.tolist() == [0.0]


def test_binary_gradchecks():
    g = np.random.default_rng(1)
    a = pt.tensor(g.uniform(0.5, 3.0, (3,)), dtype=pt.float64, requires_grad=True)
    b = pt.tensor(g.uniform(0.5, 3.0, (3,)), dtype=pt.float64, requires_grad=True)
    assert gradcheck(lambda x, y: pt.copysign(x, y - 1.75), (a, b))
    assert gradcheck(pt.special.xlog1py, (a, b))
    assert gradcheck(pt.logaddexp2, (a, b))
    assert gradcheck(lambda x: pt.ldexp(x, pt.tensor([1, -2, 3])), (a,))
    assert gradcheck(lambda x: pt.frexp(x * 3).mantissa, (a,))
    for f in (pt.special.gammainc, pt.special.gammaincc, lambda s, q: pt.special.zeta(s + 1, q)):
        assert gradcheck(lambda y: f(a.detach(), y), (b,))
        assert gradcheck(lambda y: f(2.5, y), (b,))   # (a Python number first)


def test_second_derivative_of_lgamma():
    x = pt.tensor([1.5, 3.0], dtype=pt.float64, requires_grad=True)
    (gx,) = pt.autograd.grad(pt.lgamma(x).sum(), x, create_graph=True)
    (ggx,) = pt.autograd.grad(gx.sum(), x)
    _close(ggx, sp.polygamma(1, [1.5, 3.0]), rtol=1e-12)


def test_gradients_of_the_ops_pytorch_does_not_differentiate():
    # as torch 2.13: signbit has no gradient, heaviside's derivative is not implemented (a backward
    # that reaches it raises), nextafter passes the gradient to its input and gives `other` zeros
    x = pt.tensor([1.0, -2.0], requires_grad=True)
    assert not pt.signbit(x).requires_grad
    y = pt.heaviside(x, pt.tensor([0.5, 0.5]))
    assert y.requires_grad
    with pytest.raises(NotImplementedError, match="the derivative for 'heaviside' is not implemented"):
        y.sum().backward()
    other = pt.tensor([0.0, 0.0], requires_grad=True)
    (pt.nextafter(x, other) * pt.tensor([3.0, 5.0])).sum().backward()
    assert x.grad.tolist() == [3.0, 5.0] and other.grad.tolist() == [0.0, 0.0]


# ---- in place --------------------------------------------------------------------------------
@pytest.mark.parametrize("name,args", [("acosh", ()), ("asinh", ()), ("atanh", ()), ("arccosh", ()),
                                       ("arcsinh", ()), ("arctanh", ()), ("erfc", ()), ("erfinv", ()),
                                       ("lgamma", ()), ("digamma", ()), ("i0", ()), ("sinc", ()),
                                       ("polygamma", (1,)), ("mvlgamma", (2,)),
                                       ("copysign", (-1.0,)), ("ldexp", ("t",)),
                                       ("nextafter", ("t",)), ("heaviside", ("t",))])
@pytest.mark.parametrize("device", DEVICES)
def test_in_place_variants(name, args, device):
    x = pt.tensor([1.25, 2.5, 0.75], device=device)
    args = tuple(pt.tensor([2.0, -1.0, 0.0], device=device) if a == "t" else a for a in args)
    want = getattr(x, name)(*args)
    y = x.clone()
    r = getattr(y, name + "_")(*args)
    assert r is y and y.device == x.device
    _close(y, want.cpu().numpy(), rtol=0)


def test_in_place_integer_ops():
    a = pt.tensor([4, 6])
    a.gcd_(pt.tensor([6, 9]))
    assert a.tolist() == [2, 3]
    a.lcm_(pt.tensor([4, 4]))
    assert a.tolist() == [4, 12]


def test_in_place_refuses_integer_self_of_a_float_result():
    with pytest.raises(RuntimeError, match="can't be cast"):
        pt.tensor([1, 2]).lgamma_()


# ---- errors ----------------------------------------------------------------------------------
def test_errors():
    i, f = pt.tensor([1, 2]), pt.tensor([1.0, 2.0])
    with pytest.raises(NotImplementedError, match="gcd"):
        pt.gcd(f, f)
    with pytest.raises(NotImplementedError, match="gcd"):
        pt.gcd(pt.tensor([True]), pt.tensor([True]))
    with pytest.raises(NotImplementedError, match="nextafter"):
        pt.nextafter(i, i)
    with pytest.raises(TypeError, match="nextafter.*must be Tensor"):
        pt.nextafter(f, 1.0)
    with pytest.raises(RuntimeError, match="heaviside is not yet implemented for tensors with different dtypes"):
        pt.heaviside(i, f)
    with pytest.raises(TypeError, match="heaviside.*values.*must be Tensor"):
        pt.heaviside(f, 0.5)
    with pytest.raises(RuntimeError, match="polygamma.*negative n"):
        pt.polygamma(-1, f)
    with pytest.raises(TypeError, match="polygamma.*'n'"):
        pt.polygamma(1.5, f)
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        pt.mvlgamma(f, 0)
    with pytest.raises(RuntimeError, match="frexp.*floating-point"):
        pt.frexp(i)
    with pytest.raises(NotImplementedError, match="gammainc"):
        pt.special.gammainc(i, i)
    with pytest.raises(NotImplementedError, match="logaddexp2"):
        pt.logaddexp2(i, i)
    with pytest.raises(NotImplementedError, match="lgamma.*complex64"):
        pt.lgamma(pt.tensor([1j]))
    with pytest.raises(TypeError, match="erfinv.*must be Tensor"):
        pt.erfinv(0.5)
    with pytest.raises(RuntimeError, match="bool"):
        pt.positive(pt.tensor([True]))
    with pytest.raises(TypeError, match="ldexp.*must be Tensor"):
        pt.ldexp(f, 2)


def test_special_namespace_is_torchs():
    names = {"expit", "erf", "erfc", "erfcx", "erfinv", "exp2", "expm1", "log1p", "logit", "logsumexp",
             "log_softmax", "softmax", "round", "sinc", "xlogy", "xlog1py", "entr", "ndtr", "ndtri", "log_ndtr",
             "i0", "i0e", "i1", "i1e", "gammaln", "gammainc", "gammaincc", "digamma", "psi", "polygamma",
             "multigammaln", "zeta", "bessel_j0", "bessel_j1"}
    assert names <= set(pt.special.__all__)
    assert all(callable(getattr(pt.special, n)) for n in pt.special.__all__)
    x = pt.tensor([[1.0, 2.0], [3.0, 0.5]])
    _close(pt.special.softmax(x, 1), np.exp(x.numpy()) / np.exp(x.numpy()).sum(1, keepdims=True), rtol=1e-6)
    _close(pt.special.logsumexp(x, 1), np.log(np.exp(x.numpy()).sum(1)), rtol=1e-6)


@pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"])
def test_half_types_and_views_match_cpu(device):
    x = pt.tensor([[0.0, -0.0, 0.5, 1.0, 2.5], [-3.0, inf, -inf, nan, 1e-3]])
    y = pt.tensor([[1.0, -1.0, 2.0, 0.0, -0.0], [5.0, 1.0, -1.0, 0.0, 3.0]])
    for d in (pt.float16, pt.bfloat16, pt.float32):
        if not _device_has(device, d):
            continue
        xc, yc = x.to(d).t(), y.to(d).t()   # (transposed views)
        xo, yo = xc.to(device), yc.to(device)
        for f in (pt.acosh, pt.asinh, pt.atanh, pt.erfc, pt.lgamma, pt.sinc, pt.signbit, pt.erfinv, pt.digamma):
            assert np.array_equal(f(xo).cpu().to(pt.float64).numpy(), f(xc).to(pt.float64).numpy(), equal_nan=True) \
                or d == pt.float32, (f.__name__, d)
            _close(f(xo), f(xc).to(pt.float64).numpy(), rtol=2e-6, atol=1e-7)
        for f in (pt.copysign, pt.heaviside):
            assert np.array_equal(f(xo, yo).cpu().to(pt.float64).numpy(), f(xc, yc).to(pt.float64).numpy(), equal_nan=True)


# torch 2.13's torch.special polynomials at x = 0.5, -0.3, 2.0 for n = 3 (float64), and n = 2.7 (truncated)
POLYNOMIALS = {
    "chebyshev_polynomial_t": [-1.0, 0.792, 26.0], "chebyshev_polynomial_u": [-1.0, 0.984, 56.0],
    "chebyshev_polynomial_v": [-1.0, 1.624, 41.0], "chebyshev_polynomial_w": [-1.0, 0.344, 71.0],
    "shifted_chebyshev_polynomial_t": [0.0, -11.584, 99.0], "shifted_chebyshev_polynomial_u": [0.0, -26.368, 204.0],
    "shifted_chebyshev_polynomial_v": [1.0, -35.608, 169.0], "shifted_chebyshev_polynomial_w": [-1.0, -17.128, 239.0],
    "hermite_polynomial_h": [-5.0, 3.384, 40.0], "hermite_polynomial_he": [-1.375, 0.873, 2.0],
    "laguerre_polynomial_l": [-0.14583333333333334, 2.0395, -0.3333333333333333],
    "legendre_polynomial_p": [-0.4375, 0.3825, 17.0],
}


@pytest.mark.parametrize("name", sorted(POLYNOMIALS))
def test_orthogonal_polynomials(name):
    f = getattr(pt.special, name)
    x = pt.tensor([0.5, -0.3, 2.0], dtype=pt.float64)
    _close(f(x, 3), POLYNOMIALS[name], rtol=1e-12, atol=1e-12)
    _close(f(x, pt.tensor([3.9], dtype=pt.float64)), POLYNOMIALS[name], rtol=1e-12, atol=1e-12)   # n truncated
    assert f(x, -1).tolist() == [0.0, 0.0, 0.0] and f(x, nan).tolist() == [0.0, 0.0, 0.0]
    assert f(pt.tensor([1, 2]), pt.tensor([2, 3])).dtype == pt.float32
    assert f(2.0, pt.tensor([3])).tolist() == pytest.approx([POLYNOMIALS[name][2]])
    assert not f(x.requires_grad_(), 3).requires_grad


@pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"])
def test_tensor_by_keyword_through_the_host(device):
    # the host round trip finds the tensor among keyword arguments too (the fuzzer's find)
    x = pt.tensor([0.5, 2.0], device=device)
    _close(pt.polygamma(0, input=x), sp.psi([0.5, 2.0]), rtol=1e-6)
    _close(pt.special.hermite_polynomial_h(input=x, n=3), sp.eval_hermite(3, [0.5, 2.0]), rtol=1e-6)


@pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"])
def test_digamma_and_erfinv_over_their_range(device):
    # (opencl computes them natively: digamma's reflection for negative x, erfinv's Newton steps)
    g = np.random.default_rng(3)
    x = np.concatenate([g.uniform(-1000, 30, 3000), [-1e-7, -0.9999, 1e-30, 1e20, -5.5]]).astype(np.float32)
    y = np.concatenate([g.uniform(-1, 1, 3000), [0.7, -0.7, 0.999999, 1e-30]]).astype(np.float32)
    for d in (pt.float32, pt.float64):
        if _device_has(device, d):
            X, Y = pt.tensor(x, dtype=d), pt.tensor(y, dtype=d)
            rtol, atol = (1.3e-6, 1e-5) if d == pt.float32 else (1e-7, 1e-7)
            _close(pt.digamma(X.to(device)), pt.digamma(X).to(pt.float64).numpy(), rtol=rtol, atol=atol)
            _close(pt.erfinv(Y.to(device)), pt.erfinv(Y).to(pt.float64).numpy(), rtol=rtol, atol=atol)


def test_second_derivatives():
    from plugtorch.autograd.gradcheck import gradgradcheck
    g = np.random.default_rng(4)

    def t(lo, hi):
        return pt.tensor(g.uniform(lo, hi, (4,)), dtype=pt.float64, requires_grad=True)
    for f, lo, hi in ((pt.erfinv, -0.8, 0.8), (pt.special.erfcx, -1, 2), (pt.special.ndtri, 0.1, 0.9),
                      (pt.special.log_ndtr, -3, 2), (pt.special.i1e, 0.2, 2), (pt.digamma, 0.5, 3),
                      (pt.sinc, 0.2, 1.5), (pt.acosh, 1.2, 3)):
        assert gradgradcheck(f, (t(lo, hi),))
    assert gradgradcheck(pt.special.xlog1py, (t(0.5, 2), t(0.5, 2)))
    a = t(0.5, 2).detach()
    assert gradgradcheck(lambda y: pt.special.gammainc(a, y), (t(0.5, 2),))


@pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"])
def test_zeta_polygamma_xlog1py_over_their_range(device):
    # (opencl computes them natively: Cephes' zeta, polygamma from it)
    g = np.random.default_rng(5)
    s = np.concatenate([g.uniform(1, 8, 500), [1.0, 0.9, 2.0, inf, nan, 1.0001]])
    q = np.concatenate([g.uniform(-5, 10, 500), [1.0, 1.0, -3.0, 1.0, 1.0, 0.5]])
    for d in (pt.float32, pt.float64, pt.float16):
        if not _device_has(device, d):
            continue
        S, Q = pt.tensor(s, dtype=d), pt.tensor(q, dtype=d)
        rtol, atol = {pt.float32: (1.3e-6, 1e-5), pt.float64: (1e-7, 1e-7), pt.float16: (1e-3, 1e-5)}[d]
        _close(pt.special.zeta(S.to(device), Q.to(device)), pt.special.zeta(S, Q).to(pt.float64).numpy(), rtol, atol)
        for n in (0, 1, 3):
            _close(pt.polygamma(n, Q.to(device)), pt.polygamma(n, Q).to(pt.float64).numpy(), rtol, atol)
        _close(pt.special.xlog1py(S.to(device) - 4, Q.to(device)), pt.special.xlog1py(S - 4, Q).to(pt.float64).numpy(),
               rtol, atol)


def test_gcd_lcm_wrap_as_torch():
    # torch 2.13 (its calc_gcd / calc_lcm): |MIN| stays MIN, lcm computed in C's int and cast back
    i8 = pt.int8
    assert pt.gcd(pt.tensor([-128, -127, -128], dtype=i8), pt.tensor([6, -128, 0], dtype=i8)).tolist() == [-2, -1, -128]
    assert pt.lcm(pt.tensor([100, -128, -100], dtype=i8), pt.tensor([7, 3, 7], dtype=i8)).tolist() == [-68, -128, -68]


@pytest.mark.parametrize("device", [d for d in DEVICES if d == "opencl"])
def test_gcd_lcm_every_int8_pair_and_int_min(device):
    v = np.arange(-128, 128)
    a, b = (pt.tensor(m.ravel().astype(np.int8)) for m in np.meshgrid(v, v))
    for f in (pt.gcd, pt.lcm):
        assert np.array_equal(f(a.to(device), b.to(device)).cpu().numpy(), f(a, b).numpy())
    m = -2 ** 31
    a, b = pt.tensor([m, m, m + 1], dtype=pt.int32), pt.tensor([m + 1, 1, m], dtype=pt.int32)
    for f in (pt.gcd, pt.lcm):   # (MIN / -1 inside lcm: no trap)
        assert f(a.to(device), b.to(device)).cpu().tolist() == f(a, b).tolist()


def test_in_place_is_differentiated():
    a = pt.tensor([0.5, 1.5, 3.0], dtype=pt.float64, requires_grad=True)
    b = a * 1
    b.lgamma_()
    b.sum().backward()
    _close(a.grad, sp.psi([0.5, 1.5, 3.0]), rtol=1e-12)
    a.grad = None
    c = a * 1
    c.polygamma_(1)
    c.sum().backward()
    _close(a.grad, sp.polygamma(2, [0.5, 1.5, 3.0]), rtol=1e-10)


@pytest.mark.parametrize("device", [d for d in DEVICES if d == "opencl"])
@pytest.mark.parametrize("dtype", [pt.int32, pt.int64, pt.uint8])
def test_gcd_lcm_at_the_integer_limits_in_a_vectorised_launch(device, dtype):
    """MIN % -1 and MIN / -1 trap on a CPU OpenCL device (a SIGFPE kills the process) even where
    the kernel selects another result for those lanes, once the work-group loop is vectorised:
    the kernels divide by 1 there instead. 100 pairs per launch, every one against cpu."""
    info = np.iinfo(dtype.numpy)
    vals = [info.min, info.min + 1, -1, 1, 0, 6, -4, 255, info.max] if dtype is not pt.uint8 else \
        [0, 1, 2, 4, 6, 128, 254, 255, 17]
    vals = [v for v in vals if info.min <= v <= info.max]
    a, b = (pt.tensor(m.ravel(), dtype=dtype) for m in np.meshgrid(vals, vals))
    for f in (pt.gcd, pt.lcm):
        assert f(a.to(device), b.to(device)).cpu().tolist() == f(a, b).tolist()
