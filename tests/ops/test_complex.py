"""complex64/complex128 on cpu: pointwise ops, reductions, matmul, views and indexing against
NumPy; real, imag, conj, angle, polar, complex, view_as_real/view_as_complex, sgn; the ops that
refuse complex input as PyTorch does."""
import math

import numpy as np
import pytest

import plugtorch as pt

C = [pt.complex64, pt.complex128]


def crnd(*shape, dtype=pt.complex64, seed=0):
    g = np.random.default_rng(seed)
    return (g.standard_normal(shape) + 1j * g.standard_normal(shape)).astype(dtype.numpy)


def close(t, ref, dtype):
    tol = 1e-5 if dtype in (pt.complex64, pt.float32) else 1e-12
    ref = np.asarray(ref)
    assert t.numpy().dtype == ref.dtype, (t.dtype, ref.dtype)
    np.testing.assert_allclose(t.numpy(), ref, rtol=tol, atol=tol, equal_nan=True)


UNARY = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
         "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asin": np.arcsin, "acos": np.arccos,
         "atan": np.arctan, "expm1": np.expm1, "log1p": np.log1p, "log2": np.log2, "log10": np.log10,
         "reciprocal": np.reciprocal, "rsqrt": lambda v: 1 / np.sqrt(v), "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
         "exp2": np.exp2, "neg": np.negative, "square": np.square}


@pytest.mark.parametrize("dtype", C)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_numpy(name, dtype):
    a = crnd(3, 4, dtype=dtype)
    close(getattr(pt, name)(pt.tensor(a)), UNARY[name](a), dtype)


@pytest.mark.parametrize("dtype", C)
def test_abs_is_real_and_predicates(dtype):
    a = crnd(5, dtype=dtype)
    a[1], a[2], a[3] = complex(np.nan, 1), complex(1, np.inf), complex(-np.inf, np.nan)
    t = pt.tensor(a)
    close(t.abs(), np.abs(a), dtype.to_real())
    assert t.abs().dtype is dtype.to_real()
    assert t.isnan().tolist() == np.isnan(a).tolist() and t.isinf().tolist() == np.isinf(a).tolist()
    assert t.isfinite().tolist() == np.isfinite(a).tolist()


@pytest.mark.parametrize("dtype", C)
def test_binary_matches_numpy(dtype):
    a, b = crnd(3, 4, dtype=dtype), crnd(4, dtype=dtype, seed=1)
    x, y = pt.tensor(a), pt.tensor(b)
    for f, ref in [(pt.add, np.add), (pt.sub, np.subtract), (pt.mul, np.multiply), (pt.div, np.divide),
                   (pt.pow, np.power)]:
        close(f(x, y), ref(a, b), dtype)
    assert (x == x).all() and not (x != x).any() and (x == y).tolist() == (a == b).tolist()
    close(x * (1 - 2j), a * np.asarray(1 - 2j, dtype.numpy), dtype)
    close(2 / x, 2 / a, dtype)
    close(x + 2.5, a + 2.5, dtype)
    close(x ** 2, a ** 2, dtype)
    r = pt.tensor(np.abs(a))   # a real operand is promoted
    close(x * r, a * np.abs(a), dtype)


@pytest.mark.parametrize("dtype", C)
def test_reductions_and_matmul(dtype):
    a, b = crnd(3, 4, dtype=dtype), crnd(4, 2, dtype=dtype, seed=1)
    x, y = pt.tensor(a), pt.tensor(b)
    close(x.sum(), a.sum(), dtype)
    close(x.sum(1), a.sum(1), dtype)
    close(x.mean(0), a.mean(0), dtype)
    close(x.prod(1), a.prod(1), dtype)
    close(x.cumsum(1), a.cumsum(1), dtype)
    close(x @ y, a @ b, dtype)
    close(pt.bmm(x[None], y[None]), (a @ b)[None], dtype)
    close(pt.dot(x[0], x[1]), np.dot(a[0], a[1]), dtype)   # no conjugation, as PyTorch's dot
    # var and std of complex numbers are real: the mean of |z - mean|^2
    close(x.var(), a.var(ddof=1), dtype.to_real())
    close(x.std(0), a.std(0, ddof=1), dtype.to_real())
    close(pt.linalg.vector_norm(x), np.linalg.norm(a), dtype.to_real())


@pytest.mark.parametrize("dtype", C)
def test_shape_and_indexing(dtype):
    a, b = crnd(3, 4, dtype=dtype), crnd(3, 4, dtype=dtype, seed=1)
    x, y = pt.tensor(a), pt.tensor(b)
    close(pt.cat([x, y]), np.concatenate([a, b]), dtype)
    close(pt.stack([x, y], 1), np.stack([a, b], 1), dtype)
    close(x.T.contiguous(), a.T, dtype)
    close(x[1:, ::2], a[1:, ::2], dtype)
    close(x[pt.tensor([2, 0])], a[[2, 0]], dtype)
    mask = np.abs(a) > 1
    close(x[pt.tensor(mask)], a[mask], dtype)
    close(pt.where(pt.tensor(mask), x, y), np.where(mask, a, b), dtype)
    close(x.masked_fill(pt.tensor(mask), 1j), np.where(mask, np.asarray(1j, dtype.numpy), a), dtype)
    close(x.flip(0), a[::-1], dtype)
    z = pt.zeros(3, 4, dtype=dtype)
    z[1] = x[2]
    close(z[1], a[2], dtype)
    close(x.to(pt.complex128), a.astype(np.complex128), pt.complex128)


def test_real_imag_are_views():
    z = pt.tensor([1 + 2j, 3 - 4j])
    assert z.real.tolist() == [1, 3] and z.imag.tolist() == [2, -4] and z.real.dtype is pt.float32
    z.real.mul_(10)
    z.imag = pt.tensor([0.5, 0.5])
    assert z.tolist() == [10 + 0.5j, 30 + 0.5j]
    x = pt.tensor([1.0, -2.0])
    assert pt.real(x) is x and pt.conj(x) is x
    with pytest.raises(RuntimeError, match="imag\\(\\): is not implemented for tensors with non-complex dtypes"):
        x.imag


@pytest.mark.parametrize("dtype", C)
def test_view_as_real_and_complex(dtype):
    a = crnd(4, 3, dtype=dtype)
    t = pt.tensor(a).T                     # a non-contiguous complex tensor
    r = pt.view_as_real(t)
    assert r.dtype is dtype.to_real() and tuple(r.shape) == (3, 4, 2)
    np.testing.assert_array_equal(r.numpy(), np.stack([a.T.real, a.T.imag], -1))
    r[0, 0, 1] = 7.0                       # a view: the write reaches t
    assert t[0, 0].item().imag == 7.0
    f = pt.tensor(np.arange(12.0).reshape(3, 2, 2), dtype=dtype.to_real())
    c = pt.view_as_complex(f)
    assert c.dtype is dtype and c.tolist() == [[0 + 1j, 2 + 3j], [4 + 5j, 6 + 7j], [8 + 9j, 10 + 11j]]
    c[0, 0] = 5j
    assert f[0, 0].tolist() == [0.0, 5.0]


@pytest.mark.parametrize("fn, msg", [
    (lambda: pt.view_as_real(pt.ones(2)), "is only supported for complex tensors"),
    (lambda: pt.view_as_complex(pt.ones(2, 3)), "last dimension of size 2"),
    (lambda: pt.view_as_complex(pt.ones(2, 2).T), "last dimension with stride 1"),
    (lambda: pt.view_as_complex(pt.ones(3, 4)[:, 1:3]), "stride divisible by 2"),
    (lambda: pt.view_as_complex(pt.ones(2, 2, dtype=pt.int64)), "only supported for float32 and float64"),
    (lambda: pt.complex(pt.ones(2), pt.ones(2, dtype=pt.float64)), "Expected object of scalar type"),
    (lambda: pt.complex(pt.ones(2, dtype=pt.int64), pt.ones(2, dtype=pt.int64)), "float32 or float64"),
])
def test_view_errors(fn, msg):
    with pytest.raises(RuntimeError, match=msg):
        fn()


def test_conj_angle_polar_complex_sgn():
    a = crnd(5)
    t = pt.tensor(a)
    close(pt.conj(t), a.conj(), pt.complex64)
    close(t.conj_physical(), a.conj(), pt.complex64)
    assert not t.conj().is_conj() and t.resolve_conj() is t
    close(t.angle(), np.angle(a), pt.float32)
    assert pt.angle(pt.tensor([-1.0, 0.0, -0.0, 2.0])).tolist() == [np.float32(math.pi), 0, 0, 0]   # PyTorch: 0 for -0.0
    assert math.isnan(pt.angle(pt.tensor([float("nan")])).item())
    assert pt.angle(pt.tensor([-3, 3])).dtype is pt.float32
    re, im = pt.tensor([1.0, -2.0]), pt.tensor([[3.0], [0.5]])
    close(pt.complex(re, im), (np.array([1, -2]) + 1j * np.array([[3.0], [0.5]])).astype(np.complex64), pt.complex64)
    close(pt.polar(pt.tensor([2.0, 1.0], dtype=pt.float64), pt.tensor([0.5, -3.0], dtype=pt.float64)),
          np.array([2.0, 1.0]) * np.exp(1j * np.array([0.5, -3.0])), pt.complex128)
    close(pt.sgn(pt.tensor([3 + 4j, 0j, -2j])), np.array([0.6 + 0.8j, 0, -1j], np.complex64), pt.complex64)


REFUSED = {"lt": lambda x: x < x, "max": lambda x: x.max(), "max(dim)": lambda x: x.max(0),
           "amax": lambda x: x.amax(), "argmax": lambda x: x.argmax(), "sort": lambda x: x.sort(),
           "argsort": lambda x: x.argsort(), "topk": lambda x: x.topk(1), "maximum": lambda x: pt.maximum(x, x),
           "clamp": lambda x: x.clamp(0), "relu": lambda x: pt.relu(x), "floor": lambda x: x.floor(),
           "sign": lambda x: x.sign(), "remainder": lambda x: x % x, "floor_divide": lambda x: x // x,
           "atan2": lambda x: pt.atan2(x, x), "erf": lambda x: x.erf(), "softmax": lambda x: x.softmax(0),
           "bitwise_and": lambda x: x & x, "random_": lambda x: x.random_(0, 2),
           # one element compared nothing and came back as its own maximum; two refused as ge()
           "cummax": lambda x: x[:1].cummax(0), "cummin": lambda x: x.cummin(0)}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_ops_without_complex_refuse_it(name):
    x = pt.tensor([1 + 1j, 2 - 1j])
    with pytest.raises(RuntimeError, match=rf"{name.split('(')[0]}\(\): not (supported|implemented) for (complex tensors|"
                                           "dtype plugtorch.complex64)"):
        REFUSED[name](x)


def test_autograd_through_complex_views_and_a_refusal():
    re = pt.ones(2, requires_grad=True)
    pt.view_as_real(pt.complex(re, 2 * re) * 1j).sum().backward()   # (i (1 + 2i)) = -2 + i
    assert re.grad.tolist() == [-1.0, -1.0]
    z = re.to(pt.complex64)
    assert z.requires_grad
    with pytest.raises(RuntimeError, match=r"linalg_det\(\): autograd is not supported for complex results"):
        pt.linalg.det(pt.diag(z))


def test_comparison_operators_take_complex_scalars():
    z = pt.tensor([1j, 2 + 0j])
    assert (z == 1j).tolist() == [True, False] and (z != 2).tolist() == [True, False]


@pytest.mark.parametrize("call", [lambda x: x < 1j, lambda x: 1j <= x, lambda x: x % 1j, lambda x: x // 1j,
                                  lambda x: pt.atan2(x, 1j)])
def test_a_complex_scalar_makes_real_only_ops_refuse(call):
    with pytest.raises(NotImplementedError, match="not supported for complex"):
        call(pt.ones(2))


def test_in_place_ops_with_a_real_result_refuse_complex():
    z = pt.tensor([3 + 4j])
    with pytest.raises(RuntimeError, match=r"abs_\(\): in-place abs is not supported for complex tensors"):
        z.abs_()
    assert z.tolist() == [3 + 4j]
    with pytest.raises(RuntimeError, match="result type Complex64 can't be cast to the desired output type Float32"):
        pt.ones(2).mul_(1j)
    z.mul_(1j)   # complex in place: fine
    assert z.tolist() == [-4 + 3j]


@pytest.mark.parametrize("dev", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))])
def test_logaddexp_logsumexp_logcumsumexp_nan_to_num_take_complex(dev):
    # these refused complex tensors ('defined for real numbers only (as in PyTorch)'); torch 2.13
    # computes them. Reference: NumPy's log(exp(a) + exp(b)) (imaginary parts small enough that the
    # principal logarithm is PyTorch's log1p(exp(min - max)) + max)
    g = np.random.default_rng(3)
    a = g.uniform(-3, 3, (3, 4)) + 0.4j * g.uniform(-1, 1, (3, 4))
    b = g.uniform(-3, 3, (3, 4)) + 0.4j * g.uniform(-1, 1, (3, 4))
    for dt in C:
        ta, tb = pt.tensor(a, dtype=dt, device=dev), pt.tensor(b, dtype=dt, device=dev)
        ref_a, ref_b = a.astype(dt.numpy), b.astype(dt.numpy)
        tol = 1e-5 if dt is pt.complex64 else 1e-12
        np.testing.assert_allclose(pt.logaddexp(ta, tb).cpu().numpy(), np.log(np.exp(ref_a) + np.exp(ref_b)), rtol=tol)
        np.testing.assert_allclose(pt.logsumexp(ta, 1).cpu().numpy(), np.log(np.exp(ref_a).sum(1)), rtol=tol)
        np.testing.assert_allclose(pt.logcumsumexp(ta, 1).cpu().numpy(), np.log(np.exp(ref_a).cumsum(1)), rtol=tol)
    inf, nan = math.inf, math.nan
    # edge values: torch 2.13's (equal infinite real parts, a NaN, an infinite maximum)
    got = pt.logaddexp(pt.tensor([complex(-inf, 0), complex(inf, 1), complex(inf, 0), complex(nan, 0)], device=dev),
                       pt.tensor([complex(-inf, 0), complex(1, 1), complex(inf, 0), 1j], device=dev)).cpu().numpy()
    assert got[:3].tolist() == [complex(-inf, 0), complex(inf, 1), complex(inf, 0)]
    assert np.isnan(got[3].real) and np.isnan(got[3].imag)
    got = pt.logsumexp(pt.tensor([complex(inf, 1), 1 + 0j], device=dev), 0).item()
    assert got.real == inf and got.imag == pytest.approx(math.pi / 4)
    z = pt.tensor([1 + 1j, complex(nan, inf), complex(-inf, nan)], device=dev)
    assert pt.nan_to_num(z, 0.5, 7.0, -7.0).cpu().tolist() == [1 + 1j, 0.5 + 7j, -7 + 0.5j]


def test_lerp_takes_complex_and_xlogy_refuses_it():
    # lerp refused complex tensors and xlogy computed them: torch 2.13 does the opposite
    a, b = crnd(5, dtype=pt.complex128, seed=1), crnd(5, dtype=pt.complex128, seed=2)
    w = crnd(5, dtype=pt.complex128, seed=3)
    close(pt.lerp(pt.tensor(a), pt.tensor(b), 0.25), a + 0.25 * (b - a), pt.complex128)
    close(pt.lerp(pt.tensor(a), pt.tensor(b), pt.tensor(w)), a + w * (b - a), pt.complex128)
    with pytest.raises(NotImplementedError, match=r"xlogy\(\): not implemented for dtype plugtorch.complex64"):
        pt.xlogy(pt.tensor([1 + 1j]), pt.tensor([2.0]))


def test_in_place_bool_results_write_back_into_complex_and_angle_ops_refuse():
    # torch 2.13 refuses only abs_ among complex in-place ops with a real result: a bool result
    # (z.eq_(w), z.logical_not_()) is written back as 0 and 1; plugtorch refused them all.
    # deg2rad, rad2deg and logit refuse complex tensors there (plugtorch computed them)
    z = pt.tensor([1 + 1j, 0j])
    assert z.clone().logical_not_().tolist() == [0j, 1 + 0j]
    assert z.clone().eq_(pt.tensor([1 + 1j, 1j])).tolist() == [1 + 0j, 0j]
    assert z.clone().logical_or_(z).tolist() == [1 + 0j, 0j]
    with pytest.raises(RuntimeError, match=r"abs_\(\): in-place abs is not supported for complex tensors"):
        z.clone().abs_()
    for op in ("deg2rad", "rad2deg"):
        with pytest.raises(RuntimeError, match=f"{op} is not supported for complex tensors"):
            getattr(pt, op)(z)
    with pytest.raises(NotImplementedError, match=r"logit\(\): not implemented for dtype plugtorch.complex64"):
        pt.logit(z)


def test_acosh_asinh_atanh_sinc_take_complex():
    # torch 2.13 computes them for complex tensors (principal branches); plugtorch refused them.
    # Reference: NumPy's arccosh, arcsinh, arctanh and sinc (sin(pi z) / (pi z), 1 at 0)
    z = crnd(6, dtype=pt.complex128, seed=4)
    z[0] = 0
    for name, ref in (("acosh", np.arccosh), ("asinh", np.arcsinh), ("atanh", np.arctanh), ("sinc", np.sinc)):
        for dt in C:
            close(getattr(pt, name)(pt.tensor(z, dtype=dt)), ref(z.astype(dt.numpy)), dt)
    with pytest.raises(NotImplementedError, match=r"lgamma\(\): not implemented for dtype plugtorch.complex64"):
        pt.lgamma(pt.tensor([1j]))


def test_isposinf_isneginf_refuse_complex():
    # torch 2.13: "isposinf does not support complex inputs."; plugtorch compared with inf
    for op in ("isposinf", "isneginf"):
        with pytest.raises(RuntimeError, match=f"{op} does not support complex inputs"):
            getattr(pt, op)(pt.tensor([complex(math.inf, 0)]))
    assert pt.isposinf(pt.tensor([math.inf, 1.0])).tolist() == [True, False]


def test_isclose_and_allclose_compare_both_parts_of_complex_tensors():
    # plugtorch cast complex operands to float32 (dropping the imaginary parts): 1+1j was close to 1+2j
    a = pt.tensor([1 + 1j, 1 + 1j, 2 + 0j, complex(math.nan, 0)])
    b = pt.tensor([1 + 2j, 1 + 1.000001j, 2 + 1e-9j, complex(math.nan, 0)])
    # reference: |a - b| <= atol + rtol * |b|, NumPy's isclose for complex values
    want = np.isclose(a.numpy(), b.numpy()).tolist()
    assert want == [False, True, True, False] and pt.isclose(a, b).tolist() == want
    assert pt.isclose(a, b, equal_nan=True).tolist() == [False, True, True, True]
    assert not pt.allclose(pt.tensor([1 + 1j]), pt.tensor([1 + 5j])) and pt.allclose(a[:3], a[:3])


def test_ordering_a_real_tensor_by_a_numpy_complex_scalar_is_refused():
    # np.complex128(2) is a complex number: plugtorch compared its real part ([False, True]), as if
    # it were 2.0; a Python complex was refused already, as PyTorch refuses both
    t = pt.tensor([1.5, 3.0])
    for bad in (lambda: t > np.complex128(2), lambda: np.complex64(2) < t, lambda: pt.maximum(t, np.complex128(2))):
        with pytest.raises(NotImplementedError, match="complex numbers have no ordering"):
            bad()
    assert (t > np.float32(2)).tolist() == [False, True] and (t == np.complex128(3)).tolist() == [False, True]
