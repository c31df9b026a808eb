"""Reductions, scans, sort/topk and softmax against NumPy and known answers."""
import math

import numpy as np
import pytest

import plugtorch as pt

NAN, INF = float("nan"), float("inf")


def arr(dtype, shape=(3, 4, 5), seed=0):
    rng = np.random.default_rng(seed)
    if dtype is pt.bool:
        return rng.random(shape) > 0.5
    if dtype.is_floating_point:
        return rng.uniform(-2, 2, shape).astype(dtype.numpy)
    return rng.integers(0 if dtype is pt.uint8 else -5, 6, shape).astype(dtype.numpy)


def close(got, want, rtol=1e-5):
    np.testing.assert_allclose(np.asarray(got.numpy(), np.float64), np.asarray(want, np.float64),
                               rtol=rtol, atol=rtol, equal_nan=True)


DIMS = [None, 0, -1, (0, 2), (1,), ()]
REDUCE = {"sum": np.sum, "prod": np.prod, "amax": np.max, "amin": np.min, "all": np.all, "any": np.any}


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("name", sorted(REDUCE))
@pytest.mark.parametrize("dtype", [pt.bool, pt.int8, pt.int32, pt.float16, pt.float32, pt.float64])
def test_reduce(name, dtype, dim, keepdim):
    a = arr(dtype)
    if name == "prod" and dtype.is_floating_point:
        a = (a / 2 + 1).astype(dtype.numpy)
    x = pt.tensor(a)
    # PyTorch: an empty dim tuple reduces everything, but for all/any it reduces nothing
    axis = dim if dim != () or name in ("all", "any") else None
    want = REDUCE[name](a.astype(np.float64) if dtype is not pt.bool or name in ("all", "any") else a,
                        axis=axis, keepdims=keepdim)
    out = getattr(pt, name)(x, dim, keepdim) if dim is not None else getattr(x, name)()
    if dim is None and keepdim:
        out = getattr(x, name)(dim=None, keepdim=True) if name not in () else out
    expected_dtype = {"all": pt.bool, "any": pt.bool}.get(name)
    if expected_dtype is None and name in ("sum", "prod") and not dtype.is_floating_point:
        expected_dtype = pt.int64
    assert out.dtype is (expected_dtype or dtype)
    assert out.shape == np.shape(want)
    close(out, want, rtol=1e-2 if dtype is pt.float16 else 1e-5)


def test_sum_dtypes_and_empty():
    assert pt.tensor([True, True, False]).sum().item() == 2
    assert pt.tensor([True, True]).sum().dtype is pt.int64
    assert pt.tensor([100, 100], dtype=pt.int8).sum().item() == 200
    assert pt.tensor([1, 2], dtype=pt.int32).sum(dtype=pt.float64).dtype is pt.float64
    assert pt.zeros(0).sum().item() == 0.0 and pt.zeros(0, 3).sum(0).tolist() == [0.0] * 3
    assert pt.zeros(0).prod().item() == 1.0
    assert pt.tensor(5.0).sum().item() == 5.0 and pt.tensor(5.0).sum(0).shape == ()
    assert pt.ones(2, 3).sum((0, 1)).item() == 6.0 and pt.ones(2, 3).sum([-1]).tolist() == [3.0, 3.0]
    # float16 sums accumulate in float32
    assert pt.full((4096,), 1.0, dtype=pt.float16).sum().item() == 4096.0


def test_reduce_noncontiguous():
    a = arr(pt.float64, (4, 6))
    x = pt.tensor(a)
    close(x.t().sum(0), a.T.sum(0))
    close(x[:, ::2].amax(1), a[:, ::2].max(1))
    close(x[:1].expand(3, 6).sum(), np.broadcast_to(a[:1], (3, 6)).sum())


def test_empty_reduction_without_identity():
    with pytest.raises(IndexError, match=r"amax\(\).*non-zero size"):
        pt.zeros(0, 3).amax(0)
    assert pt.zeros(0, 3).amax(1).shape == (0,)
    with pytest.raises(IndexError, match="numel"):
        pt.zeros(0).argmax()


def test_max_min_nan_and_indices():
    x = pt.tensor([[1.0, NAN, 3.0], [4.0, 2.0, -1.0]])
    assert math.isnan(x.max().item()) and math.isnan(x.min().item())
    assert math.isnan(x.amax(1)[0].item()) and x.amax(1)[1].item() == 4.0
    v, i = x.max(1)
    assert math.isnan(v[0].item()) and i.tolist() == [1, 0]
    v, i = x.min(dim=1, keepdim=True)
    assert i.tolist() == [[1], [2]] and v.shape == (2, 1)
    assert x.argmax().item() == 1 and x.argmin().item() == 1
    assert pt.tensor([1, 5, 5, 2]).argmax().item() == 1   # first occurrence
    assert pt.tensor([3, 1, 1]).argmin().item() == 1
    assert pt.tensor([[1, 9], [8, 2]]).argmax(0, keepdim=True).tolist() == [[1, 0]]
    assert pt.max(pt.tensor([1, 4]), pt.tensor([3, 2])).tolist() == [3, 4]
    r = pt.max(pt.tensor([[1, 2], [3, 0]]), 1)
    assert r.values.tolist() == [2, 3] and r.indices.tolist() == [1, 0]
    mm = pt.aminmax(pt.tensor([3, -1, 7]))
    assert (mm.min.item(), mm.max.item()) == (-1, 7)


def test_max_of_bool_and_ints():
    assert pt.tensor([False, True]).amax().item() is True
    assert pt.tensor([-128, 127], dtype=pt.int8).amin().item() == -128


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_of_two_tensors_take_no_dim_or_keepdim(name):
    x, y, z = pt.tensor([1.0, 5.0]), pt.tensor([3.0, 2.0]), pt.tensor([9.0, 9.0])
    expect = [3.0, 5.0] if name == "max" else [1.0, 2.0]
    assert getattr(x, name)(y).tolist() == expect and getattr(pt, name)(x, other=y).tolist() == expect
    # x.max(0, t, z) returned maximum(x, z), ignoring the dim 0; x.max(y, z) took z as keepdim
    for args in [(y, z), (0, pt.tensor([1]), z), (y, True)]:
        with pytest.raises(TypeError, match=rf"^{name}\(\) received an invalid combination of arguments.*takes no dim or keepdim"):
            getattr(x, name)(*args)


def test_mean():
    a = arr(pt.float32)
    close(pt.tensor(a).mean(), a.astype(np.float64).mean())
    close(pt.tensor(a).mean((0, 2), keepdim=True), a.astype(np.float64).mean((0, 2), keepdims=True))
    assert pt.tensor([1, 2], dtype=pt.int64).mean(dtype=pt.float32).item() == 1.5
    assert pt.tensor([1.0, 2.0], dtype=pt.float16).mean().dtype is pt.float16
    assert math.isnan(pt.zeros(0).mean().item())
    with pytest.raises(RuntimeError, match=r"mean\(\).*floating point.*Got: Long"):
        pt.tensor([1, 2]).mean()


@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("dim", [None, 0, (1, 2)])
def test_var_std(correction, dim):
    a = arr(pt.float64)
    x = pt.tensor(a)
    close(x.var(dim, correction=correction), np.var(a, axis=dim, ddof=correction))
    close(pt.std(x, dim, correction=correction, keepdim=True), np.std(a, axis=dim, ddof=correction, keepdims=True))


@pytest.mark.parametrize("dev", ["cpu"] + (["opencl"] if pt.opencl.is_available() else []))
@pytest.mark.parametrize("dim", [None, 2, (0, 2), (1, 2)])
def test_float32_var_std_at_a_large_offset_keep_pytorchs_accuracy(dev, dim):
    """float32 data at 1e5 + noise: the float32 mean is off by up to half an ulp (~0.004), which a
    plain two-pass adds squared to the variance (abs error ~1e-4 for a variance of 1e-4); the corrected
    two-pass form takes it back out, as PyTorch's Welford (abs error ~1e-11 here)."""
    rng = np.random.default_rng(5)
    a = (1e5 + 0.01 * rng.standard_normal((8, 16, 64))).astype(np.float32)
    x = pt.tensor(a, device=dev)
    a64 = a.astype(np.float64)                  # the same float32 data, reduced in float64: the truth
    want = np.var(a64, axis=dim, ddof=1)        # ~1e-4
    args = () if dim is None else (dim,)
    np.testing.assert_allclose(x.var(*args).cpu().numpy(), want, rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(x.std(*args).cpu().numpy(), np.sqrt(want), rtol=1e-5)
    v, m = pt.var_mean(x, *args, correction=0)
    np.testing.assert_allclose(v.cpu().numpy(), np.var(a64, axis=dim), rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(m.cpu().numpy(), a64.mean(axis=dim), rtol=1e-7)
    s, _ = pt.std_mean(x, *args)
    np.testing.assert_allclose(s.cpu().numpy(), np.sqrt(want), rtol=1e-5)
    # constant slices: exactly 0 (never a rounding residue below 0, whose std would be nan)
    c = pt.full((3, 1000), 1e5 + 0.3, dtype=pt.float32, device=dev, requires_grad=True)
    sd = c.std(1)
    assert np.all(sd.detach().cpu().numpy() == 0) and np.all(c.var(1).detach().cpu().numpy() == 0)
    sd.sum().backward()
    assert np.all(c.grad.cpu().numpy() == 0)


def test_var_unbiased_flag_and_errors():
    x = pt.tensor([1.0, 2.0, 3.0, 4.0])
    assert x.var().item() == pytest.approx(np.var([1, 2, 3, 4], ddof=1))
    assert x.var(unbiased=False).item() == pytest.approx(1.25)
    assert x.std(0, False).item() == pytest.approx(math.sqrt(1.25))
    v, m = pt.var_mean(x)
    assert m.item() == 2.5 and v.item() == pytest.approx(5 / 3)
    assert math.isinf(pt.tensor([1.0]).var().item()) or math.isnan(pt.tensor([1.0]).var().item())
    with pytest.raises(RuntimeError, match="var"):
        pt.tensor([1, 2]).var()


def test_logsumexp():
    a = arr(pt.float32)
    x = pt.tensor(a)
    close(x.logsumexp(1), np.log(np.exp(a.astype(np.float64)).sum(1)))
    big = pt.tensor([1000.0, 1000.0])
    assert big.logsumexp(0).item() == pytest.approx(1000 + math.log(2))
    assert pt.tensor([-INF, -INF]).logsumexp(0).item() == -INF
    assert pt.tensor([INF, 1.0]).logsumexp(0).item() == INF
    assert pt.tensor([1, 2]).logsumexp(0).dtype is pt.float32
    assert pt.logsumexp(x, (0, 1)).shape == (5,)


def test_softmax_log_softmax():
    a = arr(pt.float64, (3, 5))
    x = pt.tensor(a)
    e = np.exp(a - a.max(1, keepdims=True))
    close(x.softmax(1), e / e.sum(1, keepdims=True))
    close(pt.log_softmax(x, -1), np.log(e / e.sum(1, keepdims=True)))
    assert pt.tensor([1000.0, 0.0]).softmax(0).tolist() == [1.0, 0.0]
    assert pt.tensor([1, 2]).softmax(0, dtype=pt.float32).dtype is pt.float32
    with pytest.raises(NotImplementedError, match=r"softmax\(\): not implemented for dtype plugtorch.int64"):
        pt.tensor([1, 2]).softmax(0)   # PyTorch has no integer softmax kernel (checked against torch 2.13)


@pytest.mark.parametrize("dtype,out", [(pt.bool, pt.int64), (pt.uint8, pt.int64), (pt.int32, pt.int64),
                                       (pt.float16, pt.float16), (pt.float32, pt.float32)])
def test_cumsum_cumprod(dtype, out):
    a = arr(dtype, (3, 4))
    x = pt.tensor(a)
    assert x.cumsum(1).dtype is out and x.cumprod(0).dtype is out
    close(x.cumsum(1), np.cumsum(a.astype(np.float64), 1), rtol=1e-2)
    close(pt.cumprod(x, 0), np.cumprod(a.astype(np.float64), 0), rtol=1e-2)
    assert x.cumsum(0, dtype=pt.float64).dtype is pt.float64
    assert pt.tensor(3).cumsum(0).tolist() == 3
    y = pt.tensor([1.0, 2.0, 3.0])
    assert y.cumsum_(0) is y and y.tolist() == [1.0, 3.0, 6.0]


def test_sort_stable_descending_nan():
    x = pt.tensor([3.0, NAN, 1.0, 3.0, -INF, 2.0])
    v, i = x.sort()
    assert v.tolist()[:5] == [-INF, 1.0, 2.0, 3.0, 3.0] and math.isnan(v[5].item())
    assert i.tolist() == [4, 2, 5, 0, 3, 1]
    v, i = x.sort(descending=True)
    assert math.isnan(v[0].item()) and v.tolist()[1:] == [3.0, 3.0, 2.0, 1.0, -INF]
    assert i.tolist() == [1, 0, 3, 5, 2, 4]       # stable: equal values keep their order
    r = pt.sort(pt.tensor([[2, 1], [0, 5]]), dim=0, descending=True)
    assert r.values.tolist() == [[2, 5], [0, 1]] and r.indices.tolist() == [[0, 1], [1, 0]]
    assert pt.argsort(pt.tensor([5, 1, 3])).tolist() == [1, 2, 0]
    assert pt.tensor([True, False, True]).sort().values.tolist() == [False, True, True]
    assert pt.tensor(2.0).sort()[0].item() == 2.0


def test_topk_kthvalue():
    x = pt.tensor([1.0, 5.0, 3.0, 5.0, 2.0])
    v, i = x.topk(3)
    assert v.tolist() == [5.0, 5.0, 3.0] and i.tolist() == [1, 3, 2]
    v, i = pt.topk(x, 2, largest=False)
    assert v.tolist() == [1.0, 2.0] and i.tolist() == [0, 4]
    m = pt.tensor([[1, 9, 3], [7, 2, 8]])
    assert m.topk(1, dim=1).values.tolist() == [[9], [8]]
    assert m.topk(1, dim=0).indices.tolist() == [[1, 0, 1]]
    kv = pt.kthvalue(x, 2)
    assert kv.values.item() == 2.0 and kv.indices.item() == 4
    with pytest.raises(RuntimeError, match="topk.*k=6 out of range"):
        x.topk(6)


@pytest.mark.parametrize("p", [1, 2, 3, INF, -INF, 0])
def test_vector_norm(p):
    a = arr(pt.float64, (3, 4))
    x = pt.tensor(a)
    want = np.linalg.norm(a.ravel(), ord=p) if p != 0 else np.count_nonzero(a)
    assert x.norm(p).item() == pytest.approx(want)
    close(pt.linalg.vector_norm(x, p, dim=1), np.linalg.norm(a, ord=p, axis=1) if p != 0 else np.count_nonzero(a, 1))


@pytest.mark.parametrize("p", [0, 1, 2, INF])
def test_vector_norm_of_complex_is_real(p):
    # the 0-"norm" (count of nonzeros) of a complex tensor was complex (3+0j), the others real
    z = np.array([[1 + 1j, 0j], [2j, 3]], dtype=np.complex64)
    got = pt.linalg.vector_norm(pt.tensor(z), p, dim=1)
    assert got.dtype is pt.float32
    want = np.count_nonzero(z, 1) if p == 0 else np.linalg.norm(z, ord=p, axis=1)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_norm_default_and_int_error():
    x = pt.tensor([3.0, 4.0])
    assert x.norm().item() == 5.0 and pt.norm(x, "fro").item() == 5.0
    with pytest.raises(RuntimeError, match="floating point"):
        pt.linalg.vector_norm(pt.tensor([3, 4]))




def test_zero_norm_of_a_tensor_that_requires_grad_requires_grad_with_zero_gradient():
    # norm(x, 0) (a count of nonzeros, also behind dist/cdist/pdist with p=0) did not require
    # grad, so loss = norm(x, 0); loss.backward() raised; PyTorch's result requires grad and its
    # gradient is zero (the count is piecewise constant), also at inf/nan and for complex x
    nan, inf = float("nan"), float("inf")
    for v in ([0.0, 1.0, inf, nan, -2.0], [0j, 1 + 1j, complex(inf, 0)]):
        x = pt.tensor(v, requires_grad=True)
        y = pt.norm(x, 0)
        assert y.requires_grad and y.item() == np.count_nonzero(np.array(v))
        y.backward()
        assert (x.grad == 0).all().item()
    x = pt.tensor([[1.0, 0.0, 3.0], [2.0, 2.0, -1.0]], requires_grad=True)
    for y in (pt.dist(x, x.flip(0), 0), pt.cdist(x, x, 0), pt.pdist(x, 0), pt.linalg.vector_norm(x, 0, 1)):
        assert y.requires_grad
        y.sum().backward()
        assert x.grad.tolist() == [[0.0] * 3] * 2
    with pt.no_grad():
        assert not pt.norm(x, 0).requires_grad

def test_norm_dtype_must_be_of_the_inputs_kind_and_not_narrower():
    # norm(tensor([3+4j]), dtype=float32) cast the input to float32 first, dropping the imaginary
    # part: 3.0 where |3+4j| = 5 (vector_norm, matrix_norm, norm, linalg.norm alike); PyTorch
    # refuses a real dtype for complex input, a complex one for real input, a narrowing one, and
    # an integer input even with a float dtype
    z, zz = pt.tensor([3 + 4j]), pt.tensor([[3 + 4j]])
    for call in (lambda: pt.linalg.vector_norm(z, dtype=pt.float32), lambda: pt.norm(z, dtype=pt.float32),
                 lambda: pt.linalg.norm(z, dtype=pt.float32), lambda: pt.linalg.norm(zz, dtype=pt.float32)):
        with pytest.raises(RuntimeError, match=r"vector_norm: dtype should be complex for complex inputs, but got Float"):
            call()
    for o in ("fro", 1, "nuc"):
        with pytest.raises(RuntimeError, match=r"linalg.matrix_norm: dtype should be complex for complex inputs"):
            pt.linalg.matrix_norm(zz, ord=o, dtype=pt.float32)
    with pytest.raises(RuntimeError, match=r"dtype should be real for real inputs, but got ComplexFloat"):
        pt.linalg.vector_norm(pt.tensor([3.0, 4.0]), dtype=pt.complex64)
    with pytest.raises(RuntimeError, match=r"the dtype of the input \(Double\) should be convertible without narrowing "
                                           r"to the specified dtype \(Float\)"):
        pt.linalg.matrix_norm(pt.ones(2, 2, dtype=pt.float64), ord=2, dtype=pt.float32)
    with pytest.raises(RuntimeError, match=r"\(Half\) should be convertible without narrowing .* \(BFloat16\)"):
        pt.linalg.vector_norm(pt.ones(2, dtype=pt.float16), dtype=pt.bfloat16)
    with pytest.raises(RuntimeError, match=r"Expected a floating point or complex tensor as input. Got Long"):
        pt.norm(pt.tensor([3, 4]), dtype=pt.float32)
    with pytest.raises(RuntimeError, match=r"dtype should be floating point or complex, but got Long"):
        pt.linalg.vector_norm(pt.tensor([3.0]), dtype=pt.int64)
    # widening is fine, and a complex input keeps its modulus (NumPy's norm)
    for got in (pt.linalg.vector_norm(z, dtype=pt.complex128), pt.linalg.matrix_norm(zz, ord="nuc", dtype=pt.complex128)):
        assert got.dtype is pt.float64 and got.item() == pytest.approx(np.linalg.norm(np.array([3 + 4j])))
    assert pt.linalg.vector_norm(pt.tensor([3.0, 4.0], dtype=pt.float16), dtype=pt.float32).dtype is pt.float32

def test_count_nonzero():
    x = pt.tensor([[0, 1, 2], [0, 0, 3]])
    assert pt.count_nonzero(x).item() == 3 and x.count_nonzero(0).tolist() == [0, 1, 2]


def test_reduction_dim_errors():
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        pt.ones(2, 3).sum(2)
    with pytest.raises(RuntimeError, match="appears multiple times"):
        pt.ones(2, 3).sum((0, 0))
    with pytest.raises(TypeError, match="dim must be an int"):
        pt.ones(2, 3).sum(1.5)
    with pytest.raises(TypeError, match="must be Tensor"):
        pt.sum([1, 2])


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", [pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64,
                                   pt.float16, pt.bfloat16, pt.float32, pt.float64])
def test_sort_every_dtype(dtype, descending):
    a = arr(dtype, (4, 7), seed=3)
    keys = a.astype(np.float64)
    v, i = pt.tensor(a).sort(1, descending=descending)
    want_i = np.argsort(-keys if descending else keys, axis=1, kind="stable")
    assert i.tolist() == want_i.tolist()
    assert v.dtype is dtype and v.tolist() == np.take_along_axis(a, want_i, 1).tolist()
    t = pt.tensor(a).t()  # non-contiguous, sorted along dim 0
    assert t.sort(0, descending=descending).indices.tolist() == want_i.T.tolist()


@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16])
def test_low_precision_reductions_and_argmax(dtype):
    a = np.array([[1.0, NAN, 3.0], [0.5, -2.0, 8.0]], dtype=dtype.numpy)
    x = pt.tensor(a)
    assert x.argmax(1).tolist() == [1, 2] and x.argmin(1).tolist() == [1, 1]
    assert math.isnan(x.amax(1)[0].item()) and x.amin(1)[1].item() == -2.0
    assert x[1].sum().item() == 6.5 and x[1].sum().dtype is dtype
    assert x[1].cumsum(0).tolist() == [0.5, -1.5, 6.5]


@pytest.mark.parametrize("device", [d for d in ("cpu", "opencl") if d in pt.backends.available()])
def test_all_and_any_keep_uint8(device):
    # PyTorch 2.13: all/any of uint8 return uint8 (0 or 1); every other dtype gives bool
    x = pt.tensor([[1, 0], [2, 3]], dtype=pt.uint8, device=device)
    for r, want in ((x.all(), 0), (x.any(), 1), (x.all(1), [0, 1]), (pt.any(x, 0, keepdim=True), [[1, 1]])):
        assert r.dtype is pt.uint8 and r.tolist() == want
    assert x.to(pt.int8).all(1).dtype is pt.bool and x.float().any().dtype is pt.bool


@pytest.mark.parametrize("dev", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))])
def test_arg_reductions_of_a_0d_tensor_along_its_dim(dev):
    # dim 0 / -1 of a 0-d tensor is the tensor itself (torch 2.13: tensor(0)); opencl's kernel
    # raised IndexError('tuple index out of range') for argmax/argmin/max/min with a dim
    x = pt.tensor(2.5, device=dev)
    for got in (x.argmax(0), x.argmin(-1), x.argmax(0, keepdim=True), pt.tensor(-3, device=dev).argmin(0)):
        assert got.shape == () and got.dtype is pt.int64 and got.item() == 0
    v, i = x.max(0)
    assert (v.item(), i.item(), v.shape, i.shape) == (2.5, 0, (), ())
    v, i = x.min(-1, keepdim=True)
    assert (v.item(), i.item(), v.shape, i.shape) == (2.5, 0, (), ())
    with pytest.raises(IndexError, match="out of range"):
        x.argmax(1)



def test_mean_with_an_integer_dtype_names_the_dtype_argument():
    # mean(float32 tensor, dtype=int32) said "Input dtype must be ... Got: float32": the input was
    # fine, the dtype= argument is what PyTorch's message blames
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype. Optional dtype must be either a "
                                           r"floating point or complex dtype. Got: Int"):
        pt.tensor([1.0, 2.0]).mean(0, dtype=pt.int32)
    with pytest.raises(RuntimeError, match=r"Input dtype must be either a floating point or complex dtype. Got: Long"):
        pt.tensor([1, 2]).mean()
    assert pt.tensor([1, 2]).mean(dtype=pt.float64).item() == 1.5

@pytest.mark.parametrize("dev", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))])
def test_arg_reductions_over_all_dims_keep_them_as_ones(dev):
    # argmax(keepdim=True) with no dim gave a 0-d index; torch 2.13 (and NumPy's
    # argmax(keepdims=True)) keep every dim with size 1: shape (1, 1) holding the flat index
    a = np.array([[3.0, 1.0, 5.0], [2.0, 5.0, 1.0]], dtype=np.float32)
    x = pt.tensor(a, device=dev)
    for name in ("argmax", "argmin"):
        want = getattr(np, name)(a, keepdims=True)
        for got in (getattr(x, name)(keepdim=True), getattr(pt, name)(x, dim=None, keepdim=True)):
            assert got.shape == want.shape == (1, 1) and got.tolist() == want.tolist()
        assert getattr(x, name)().shape == () and getattr(x[0], name)(keepdim=True).shape == (1,)
    assert pt.tensor(2.0, device=dev).argmax(keepdim=True).shape == ()


def test_bfloat16_reduced_into_a_small_integer_dtype_wraps_as_pytorch():
    # sum/cumsum(bfloat16, dtype=int8) let NumPy cast implicitly, and ml_dtypes turns 200.0 into 0;
    # torch 2.13 converts as .to(int8) does (through float32: 200 -> -56)
    x = pt.tensor([[3.0, 0.0, 200.0, 1.0]], dtype=pt.bfloat16)
    assert x.sum(1, dtype=pt.int8).tolist() == [-52]
    assert x.cumsum(1, dtype=pt.int8).tolist() == [[3, 3, -53, -52]]
    assert x.sum(1, dtype=pt.int8).tolist() == x.to(pt.int8).sum(1, dtype=pt.int8).tolist()


def test_return_types_print_as_pytorchs():
    r = pt.tensor([[1, 1, 0, 0]]).min(1)
    assert repr(r) == "plugtorch.return_types.min(\nvalues=tensor([0]),\nindices=tensor([2]))"
    assert r.values.tolist() == [0] and r[1].tolist() == [2] and type(r).__name__ == "min"
    values, indices = pt.sort(pt.tensor([3, 1]))
    assert values.tolist() == [1, 3] and indices.tolist() == [1, 0]
    assert repr(pt.aminmax(pt.tensor([2.0, 5.0]))) == (
        "plugtorch.return_types.aminmax(\nmin=tensor(2.),\nmax=tensor(5.))")


@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.float16, pt.int32, pt.uint8])
@pytest.mark.parametrize("layout", ["contiguous", "axis innermost"])
def test_argmax_argmin_short_axis_of_many_rows(dtype, layout):
    # a short axis (4) over many rows (max_pool's windows) takes the cpu kernel's reduce-and-score
    # path; ties and nan must still give NumPy's answer: the first maximum, or the first nan
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, (8, 4, 700)).astype(dtype.numpy)
    if dtype.is_floating_point:
        a[rng.random(a.shape) < 0.05] = np.nan
        a[0, :, 0] = [1, np.nan, 2, np.nan]            # first nan: 1
    a[1, :, 0] = [2, 0, 2, 2] if dtype.is_floating_point else [2, 0, 2, 2]   # tie: first maximum, 0
    t = pt.tensor(a) if layout == "contiguous" else pt.tensor(np.ascontiguousarray(a.transpose(0, 2, 1))).transpose(1, 2)
    for keepdim in (False, True):
        assert np.array_equal(pt.argmax(t, 1, keepdim=keepdim).numpy(), a.argmax(1, keepdims=keepdim))
        assert np.array_equal(pt.argmin(t, -2, keepdim=keepdim).numpy(), a.argmin(1, keepdims=keepdim))
    if dtype.is_floating_point:
        assert pt.argmax(t, 1)[0, 0].item() == 1 and pt.argmin(t, 1)[0, 0].item() == 1
    assert pt.argmax(t, 1)[1, 0].item() == 0


@pytest.mark.parametrize("perm", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
def test_gather_large_on_permuted_views(perm):
    # gather of many elements reads a dense (possibly permuted) input by flat offsets
    rng = np.random.default_rng(2)
    a = rng.standard_normal((6, 50, 40)).astype(np.float32)
    an, t = a.transpose(perm), pt.tensor(a).permute(*perm)
    for dim in range(3):
        idx = rng.integers(0, an.shape[dim], an.shape)
        assert np.array_equal(pt.gather(t, dim, pt.tensor(idx)).numpy(), np.take_along_axis(an, idx, dim))
        small = idx[:-1, :-1, :-1] % min(an.shape)    # an index smaller than the input in every dim
        ref = np.take_along_axis(an[tuple(slice(0, n) if j != dim else slice(None) for j, n in enumerate(small.shape))],
                                 small, dim)
        assert np.array_equal(pt.gather(t, dim - 3, pt.tensor(small.astype(np.int32))).numpy(), ref)


def test_sum_mean_leading_axis_error_grows_like_pairwise():
    # NumPy's add.reduce over the leading axis of a row-major array adds the rows one by one: the
    # mean of 65536 float32 values near 1000 was off by 5e-4 (its float32 ulp is 6e-5); the cpu
    # kernel sums in a tree, as NumPy's last-axis pairwise sum
    rng = np.random.default_rng(0)
    a = (1000 + rng.standard_normal((65536, 3))).astype(np.float32)
    ref = a.astype(np.float64)
    x = pt.tensor(a)
    assert np.abs(x.mean(0).numpy() - ref.mean(0)).max() < 1e-4   # (was 5.3e-4)
    assert (np.abs(x.sum(0).numpy() - ref.sum(0)) / ref.sum(0)).max() < 2.5e-7   # (2 float32 eps; was 5.3e-7)
    b = a.reshape(256, 16, 16, 3)   # several leading axes, trailing ones reduced, keepdim
    got = x.reshape(256, 16, 16, 3).sum((0, 1, 3), keepdim=True).numpy()
    assert got.shape == (1, 1, 16, 1)
    assert np.abs(got / b.astype(np.float64).sum((0, 1, 3), keepdims=True) - 1).max() < 4e-7   # (was 1.5e-6)
    h = pt.tensor(a.astype(np.float16)).sum(0, dtype=pt.float32).numpy()
    assert np.abs(h / a.astype(np.float16).astype(np.float64).sum(0) - 1).max() < 4e-7   # (was 1.7e-6)
    # the batch statistics of BatchNorm on (4096, 3) near 1000 (rows added in order: off by 7e-4;
    # up to 128 rows still are, as NumPy's pairwise sum adds blocks of 128 values)
    c = (1000 + rng.standard_normal((4096, 3))).astype(np.float32)
    y = pt.nn.BatchNorm1d(3)(pt.tensor(c)).detach().numpy()
    c64 = c.astype(np.float64)
    assert np.abs(y - (c64 - c64.mean(0)) / np.sqrt(c64.var(0) + 1e-5)).max() < 1.5e-4
    # odd lengths (a remainder at every level) and integers, exact
    for n in (17, 100, 1000, 4099):
        i = rng.integers(-1000, 1000, (n, 5))
        np.testing.assert_array_equal(pt.tensor(i).sum(0).numpy(), i.sum(0))
        f = i.astype(np.float32)   # integer-valued floats: every order gives the exact sum
        np.testing.assert_array_equal(pt.tensor(f).sum(0).numpy(), i.sum(0).astype(np.float32))
        np.testing.assert_array_equal(pt.tensor(f).sum(0, keepdim=True).numpy(), i.sum(0, keepdims=True))
