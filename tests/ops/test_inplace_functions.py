"""PyTorch's top-level in-place forms (plugtorch.exp_(x) ...), the in-place comparison aliases,
igamma/igammac, hardshrink/prelu methods, and the cauchy_/log_normal_/geometric_ fills."""
import math

import numpy as np
import pytest
import scipy.special

import plugtorch as pt
from plugtorch._ops_inplace import NAMES

X = np.array([0.1, 0.35, 0.5, 0.9], dtype=np.float64)

# name -> (numpy reference of the result, extra arguments)
NUMPY = {
    "abs_": (np.abs, ()), "neg_": (np.negative, ()), "negative_": (np.negative, ()), "exp_": (np.exp, ()),
    "exp2_": (np.exp2, ()), "expm1_": (np.expm1, ()), "log_": (np.log, ()), "log2_": (np.log2, ()),
    "log10_": (np.log10, ()), "log1p_": (np.log1p, ()), "sqrt_": (np.sqrt, ()), "rsqrt_": (lambda x: 1 / np.sqrt(x), ()),
    "sin_": (np.sin, ()), "cos_": (np.cos, ()), "tan_": (np.tan, ()), "asin_": (np.arcsin, ()),
    "arcsin_": (np.arcsin, ()), "acos_": (np.arccos, ()), "arccos_": (np.arccos, ()), "atan_": (np.arctan, ()),
    "arctan_": (np.arctan, ()), "sinh_": (np.sinh, ()), "cosh_": (np.cosh, ()), "tanh_": (np.tanh, ()),
    "asinh_": (np.arcsinh, ()), "arcsinh_": (np.arcsinh, ()), "atanh_": (np.arctanh, ()),
    "arctanh_": (np.arctanh, ()), "sigmoid_": (scipy.special.expit, ()), "erf_": (scipy.special.erf, ()),
    "erfc_": (scipy.special.erfc, ()), "reciprocal_": (np.reciprocal, ()), "floor_": (np.floor, ()),
    "ceil_": (np.ceil, ()), "trunc_": (np.trunc, ()), "fix_": (np.trunc, ()), "round_": (np.round, ()),
    "frac_": (lambda x: x - np.trunc(x), ()), "square_": (np.square, ()), "relu_": (lambda x: np.maximum(x, 0), ()),
    "deg2rad_": (np.deg2rad, ()), "rad2deg_": (np.rad2deg, ()), "i0_": (np.i0, ()), "sinc_": (np.sinc, ()),
    "logit_": (scipy.special.logit, ()), "nan_to_num_": (np.nan_to_num, ()),
    "clamp_": (lambda x: np.clip(x, 0.2, 0.5), (0.2, 0.5)), "clip_": (lambda x: np.clip(x, 0.2, 0.5), (0.2, 0.5)),
    "clamp_min_": (lambda x: np.maximum(x, 0.4), (0.4,)), "clamp_max_": (lambda x: np.minimum(x, 0.4), (0.4,)),
    "xlogy_": (lambda x: scipy.special.xlogy(x, 2.0), (2.0,)), "conj_physical_": (np.conj, ()),
}


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_unary_inplace_functions_against_numpy(name):
    ref, args = NUMPY[name]
    x = pt.tensor(X)
    out = getattr(pt, name)(x, *args)
    assert out is x
    np.testing.assert_allclose(x.numpy(), ref(X), rtol=1e-12, atol=1e-15)


def test_every_name_is_covered():
    assert set(NAMES) - set(NUMPY) == {"acosh_", "arccosh_", "addmv_", "as_strided_", "gcd_", "lcm_", "ldexp_"}


def test_other_inplace_functions():
    x = pt.tensor([1.5, 2.0, 3.0], dtype=pt.float64)
    assert pt.acosh_(x) is x and np.allclose(x.numpy(), np.arccosh([1.5, 2.0, 3.0]))
    x = pt.tensor([1.5, 2.0], dtype=pt.float64)
    pt.arccosh_(x)
    assert np.allclose(x.numpy(), np.arccosh([1.5, 2.0]))
    a, b = pt.tensor([12, 18, 7]), pt.tensor([8, 24, 5])
    pt.gcd_(a, b)
    assert a.tolist() == np.gcd([12, 18, 7], [8, 24, 5]).tolist()
    a = pt.tensor([12, 18, 7])
    pt.lcm_(a, b)
    assert a.tolist() == np.lcm([12, 18, 7], [8, 24, 5]).tolist()
    x = pt.tensor([1.0, -2.5])
    pt.ldexp_(x, pt.tensor([3, -1]))
    assert x.tolist() == np.ldexp([1.0, -2.5], [3, -1]).tolist()
    M, v, y = np.arange(6.0).reshape(2, 3), np.array([1.0, -1.0, 2.0]), np.array([0.5, 1.5])
    t = pt.tensor(y)
    assert pt.addmv_(t, pt.tensor(M), pt.tensor(v), beta=2, alpha=3) is t
    np.testing.assert_allclose(t.numpy(), 2 * y + 3 * M @ v)
    t = pt.arange(6.0)
    pt.as_strided_(t, (2, 2), (1, 2))
    assert t.tolist() == [[0.0, 2.0], [1.0, 3.0]]


def test_inplace_functions_follow_the_methods_rules():
    leaf = pt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        pt.exp_(leaf)
    a = pt.tensor([0.5, 1.0], dtype=pt.float64, requires_grad=True)
    b = a * 1
    pt.sin_(b)
    b.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.cos([0.5, 1.0]))
    with pytest.raises(TypeError, match=r"exp_\(\): argument 'input' \(position 1\) must be Tensor, not list"):
        pt.exp_([1.0])
    with pytest.raises(RuntimeError):
        pt.sqrt_(pt.tensor([4, 9]))   # an int tensor cannot hold sqrt's float result


@pytest.mark.parametrize("name,ref", [("greater_", np.greater), ("greater_equal_", np.greater_equal),
                                      ("less_", np.less), ("less_equal_", np.less_equal),
                                      ("not_equal_", np.not_equal)])
def test_comparison_aliases_inplace(name, ref):
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    x = pt.tensor(a)
    assert getattr(x, name)(pt.tensor(b)) is x and x.dtype is pt.float64
    assert x.tolist() == ref(a, b).astype(np.float64).tolist()
    x = pt.tensor(a)
    getattr(x, name)(2)
    assert x.tolist() == ref(a, 2.0).astype(np.float64).tolist()


def test_igamma_igammac():
    a, x = np.array([0.5, 1.0, 2.0, 5.0]), np.array([0.2, 1.0, 3.0, 4.0])
    np.testing.assert_allclose(pt.igamma(pt.tensor(a), pt.tensor(x)).numpy(), scipy.special.gammainc(a, x), rtol=1e-12)
    np.testing.assert_allclose(pt.igammac(pt.tensor(a), pt.tensor(x)).numpy(), scipy.special.gammaincc(a, x),
                               rtol=1e-12)
    np.testing.assert_allclose(pt.tensor(a).igamma(pt.tensor(x)).numpy(), scipy.special.gammainc(a, x), rtol=1e-12)
    t = pt.tensor(a)
    assert t.igammac_(pt.tensor(x)) is t
    np.testing.assert_allclose(t.numpy(), scipy.special.gammaincc(a, x), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="floating-point"):
        pt.igamma(pt.tensor([1, 2]), pt.tensor([1, 3]))


def test_hardshrink_prelu_methods():
    x = np.array([-1.0, -0.3, 0.3, 0.5, 2.0])
    assert pt.tensor(x).hardshrink().tolist() == np.where(np.abs(x) > 0.5, x, 0).tolist()
    assert pt.tensor(x).hardshrink(0.25).tolist() == np.where(np.abs(x) > 0.25, x, 0).tolist()
    np.testing.assert_allclose(pt.tensor(x).prelu(pt.tensor([0.25])).numpy(), np.where(x > 0, x, 0.25 * x))
    with pytest.raises(TypeError, match=r"prelu\(\): argument 'weight' \(position 1\) must be Tensor, not float"):
        pt.tensor(x).prelu(0.25)


N = 100_000


def test_cauchy_quantiles():
    g = pt.Generator().manual_seed(0)
    x = pt.empty(N, dtype=pt.float64).cauchy_(1.5, 2.0, generator=g).numpy()
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    # a sample quantile's sd is sqrt(q (1 - q) / N) / density: 0.0050 sigma (median), 0.0086 sigma (quartiles)
    assert abs(med - 1.5) < 5 * 0.005 * 2.0
    assert abs(q1 - (1.5 - 2.0)) < 5 * 0.0086 * 2.0 and abs(q3 - (1.5 + 2.0)) < 5 * 0.0086 * 2.0
    assert pt.empty(4).cauchy_().dtype is pt.float32
    with pytest.raises(RuntimeError, match=r"cauchy_ expects sigma > 0.0, but found sigma=0"):
        pt.empty(3).cauchy_(0, 0)
    with pytest.raises(RuntimeError, match="dtype must be a floating point"):
        pt.empty(3, dtype=pt.int64).cauchy_()


def test_log_normal_moments():
    g = pt.Generator().manual_seed(1)
    x = pt.empty(N, dtype=pt.float64).log_normal_(0.5, 0.75, generator=g).numpy()
    assert (x > 0).all()
    logs = np.log(x)
    assert abs(logs.mean() - 0.5) < 5 * 0.75 / math.sqrt(N)
    assert abs(logs.std() - 0.75) < 5 * 0.75 / math.sqrt(2 * N)
    assert abs(x.mean() - math.exp(0.5 + 0.75 ** 2 / 2)) < 0.02   # sd of the mean: 0.0069
    a = pt.empty(5).log_normal_(generator=pt.Generator().manual_seed(3))
    b = pt.empty(5).log_normal_(generator=pt.Generator().manual_seed(3))
    assert a.tolist() == b.tolist()
    with pytest.raises(RuntimeError, match=r"log_normal_ expects std > 0.0, but found std=0"):
        pt.empty(3).log_normal_(1, 0)
    with pytest.raises(NotImplementedError, match="floating-point"):
        pt.empty(3, dtype=pt.int64).log_normal_()


@pytest.mark.parametrize("dtype", [pt.float32, pt.int64])
def test_geometric_moments(dtype):
    p = 0.3
    x = pt.empty(N, dtype=dtype).geometric_(p, generator=pt.Generator().manual_seed(2))
    assert x.dtype is dtype
    v = x.numpy().astype(np.float64)
    assert v.min() >= 1 and (v == np.round(v)).all()
    var = (1 - p) / p ** 2
    assert abs(v.mean() - 1 / p) < 5 * math.sqrt(var / N)
    assert abs((v == 1).mean() - p) < 5 * math.sqrt(p * (1 - p) / N)
    assert abs(v.var() - var) < 0.3       # sd of the variance estimate: about 0.06
    with pytest.raises(RuntimeError, match=r"geometric_ expects p to be in \(0, 1\), but got p=1"):
        pt.empty(3).geometric_(1)
    with pytest.raises(NotImplementedError, match="geometric_"):
        pt.empty(3, dtype=pt.bool).geometric_(0.5)


@pytest.mark.skipif("opencl" not in pt.backends.available(), reason="no OpenCL device")
def test_on_opencl():
    x = pt.tensor([0.5, 1.0], device="opencl")
    assert pt.exp_(x) is x and x.device.type == "opencl"
    np.testing.assert_allclose(x.cpu().numpy(), np.exp([0.5, 1.0]), rtol=1e-6)
    a = pt.tensor([1.0, 2.0, 3.0], device="opencl")
    assert a.less_equal_(2).cpu().tolist() == [1.0, 1.0, 0.0]
    g = pt.Generator("opencl").manual_seed(0)
    n = 20_000
    c = pt.empty(n, device="opencl").cauchy_(1.0, 2.0, generator=g)
    assert c.device.type == "opencl" and abs(np.median(c.cpu().numpy()) - 1.0) < 5 * 0.0111 * 2.0
    v = pt.empty(n, device="opencl").geometric_(0.3, generator=g).cpu().numpy()
    assert v.min() >= 1 and abs(v.mean() - 1 / 0.3) < 5 * math.sqrt(0.7 / 0.09 / n)
    z = np.log(pt.empty(n, device="opencl").log_normal_(0.5, 0.75, generator=g).cpu().numpy())
    assert abs(z.mean() - 0.5) < 5 * 0.75 / math.sqrt(n)


def test_prelu_channels_are_dim_1_and_a_1d_input_is_one_channel():
    # a 1-d input took one weight per element (plugtorch read dim 0 as its channels); torch 2.13
    # counts one channel there and refuses a weight of more than one dim
    x = np.array([-2.0, 3.0, -1.0])
    with pytest.raises(RuntimeError, match="parameter numbers = 3 and channel size = 1"):
        pt.prelu(pt.tensor(x), pt.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(RuntimeError, match="Expected `weight` to be a scalar or 1D tensor, but got: ndim = 2"):
        pt.prelu(pt.zeros(2, 3), pt.ones(1, 3))
    got = pt.prelu(pt.tensor(np.stack([x, -x])), pt.tensor([0.5, 0.25, 2.0]))   # (2, 3): channels are dim 1
    np.testing.assert_allclose(got.numpy(), np.where(np.stack([x, -x]) > 0, np.stack([x, -x]),
                                                     np.array([0.5, 0.25, 2.0]) * np.stack([x, -x])))


def test_an_inplace_scan_refuses_a_dtype_other_than_its_own():
    # x.cumsum_(0, dtype=float64) on a float32 x computed in float64 and cast back silently;
    # PyTorch refuses: the result of an in-place op has self's dtype. Its own dtype is fine
    x = pt.tensor([1.0, 2.0, 3.0])
    for name in ("cumsum_", "cumprod_"):
        with pytest.raises(RuntimeError, match=rf"{name}\(\): Bad in-place call: input tensor dtype plugtorch.float32 "
                                               r"and output tensor dtype plugtorch.float64 should match"):
            getattr(x, name)(0, dtype=pt.float64)
    assert x.tolist() == [1.0, 2.0, 3.0]
    assert x.cumsum_(0, dtype=pt.float32).tolist() == np.cumsum([1.0, 2.0, 3.0]).tolist()
