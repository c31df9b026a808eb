"""ArrayAPIBackend on array-api-strict (the standard and nothing more) and on NumPy through
array-api-compat: every result is compared with the cpu reference."""
import math
import warnings

import array_api_strict
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends import ArrayAPIBackend
from plugtorch.backends.array_api import FALLBACK_OPS
from plugtorch.dispatch import registry


@pytest.fixture(scope="module", params=["array_api_strict", "numpy"])
def dev(request):
    ns = array_api_strict if request.param == "array_api_strict" else np
    name = "aapi_" + request.param.split("_")[-1]
    pt.backends.register(ArrayAPIBackend(ns), name=name)
    yield name
    pt.backends.unregister(name)


def same(cpu_result, dev_result, dev):
    if isinstance(cpu_result, (tuple, list)):
        for a, b in zip(cpu_result, dev_result):
            same(a, b, dev)
        return
    assert dev_result.device.type == dev
    assert dev_result.dtype == cpu_result.dtype
    assert tuple(dev_result.shape) == tuple(cpu_result.shape)
    np.testing.assert_allclose(dev_result.cpu().numpy(), cpu_result.numpy(), rtol=1e-6, atol=0, equal_nan=True)


def both(dev, fn, *tensors):
    """Run ``fn`` on cpu tensors and on copies on ``dev``; results must agree."""
    cpu = fn(*tensors)
    out = fn(*[t.to(dev) if isinstance(t, pt.Tensor) else t for t in tensors])
    same(cpu, out, dev)
    return out


F = pt.tensor([[1.5, -2.0, 0.0], [-0.0, 3.25, float("nan")]])
G = pt.tensor([[2.0, -3.0, 0.5], [1.0, float("inf"), -1.0]])
I8 = pt.tensor([[100, -7, 3], [-128, 5, 0]], dtype=pt.int8)
U8 = pt.tensor([250, 3, 7], dtype=pt.uint8)
B = pt.tensor([[True, False, True], [False, False, True]])

CASES = {
    "unary float": (lambda x: [x.exp(), x.log1p(), x.rsqrt(), x.sigmoid(), x.exp2(), x.reciprocal(), x.tanh()], F),
    "unary int to float": (lambda x: [x.sqrt(), x.exp(), x.sin()], I8),
    "round floor on ints": (lambda x: [x.floor(), x.round(), x.abs(), x.neg(), x.sign()], I8),
    "bool predicates": (lambda x: [x.isnan(), x.isinf(), x.isfinite(), x.logical_not()], F),
    "int predicates": (lambda x: [x.isnan(), x.isfinite(), x.logical_not(), x.bitwise_not()], I8),
    "scalar wraps": (lambda x: [x + 300, x * 2, x - 1, 3 - x], U8),
    "int8 overflow": (lambda x: [x + x, x * 3, x // 3, x % 3, pt.fmod(x, 3), x ** 2], I8),
    "float binary": (lambda a, b: [a + b, a / b, a // b, a % b, pt.fmod(a, b), a ** b, pt.atan2(a, b)], F, G),
    "nan propagates": (lambda a, b: [pt.maximum(a, b), pt.minimum(a, b)], F, G),
    "mixed kinds promote": (lambda a, b: [a + b, a * b, a > b, a == b], I8, F),
    "compare beyond range": (lambda x: [x == 300, x < 300, x > -1, x != 256], U8),
    "bool ops": (lambda b: [b + b, b * b, b & b, b | ~b, b ^ b, pt.logical_and(b, b), b < ~b, b >= ~b,
                            pt.maximum(b, ~b), pt.minimum(b, ~b)], B),
    "shifts": (lambda x: [x << 2, x >> 1, x >> 9, x << 8], I8),
    "where": (lambda c, a: [pt.where(c, a, 0.5), pt.where(c, 1, 2)], B, F),
    "reductions": (lambda x: [x.sum(), x.sum(1, keepdim=True), x.prod(0), x.amax(1), x.amin(0),
                              x.argmax(), x.argmin(1), x.all(), x.any(1)], I8),
    "bool reductions": (lambda b: [b.sum(), b.amax(0), b.amin(1), b.max(1).indices, b.all(0)], B),
    "scans and sort": (lambda x: [x.cumsum(1), x.cumprod(0), *x.sort(1), *x.sort(0, descending=True)], G),
    "stable descending sort": (lambda x: [*x.sort(descending=True)], pt.tensor([1, 3, 3, 2, 3, 1])),
    "matmul": (lambda a, i: [a @ a.t(), i @ i.t(), i.expand(2, 2, 3) @ i.t()], G, I8.to(pt.int32)),
    "views": (lambda x: [x.t(), x[1], x[:, 1:3], x[:, ::2], x.view(3, 2), x.expand(2, 2, 3), x.flip((0, 1)),
                         x.t().reshape(6), x.t().contiguous().view(6), x.unsqueeze(0).permute(2, 0, 1)], G),
    "cat and casts": (lambda a, b: [pt.cat([a, b], 1), a.to(pt.int32), b.to(pt.bool), a.double()], I8, G),
    "advanced index": (lambda x: [x[pt.tensor([2, 0, -1])], x[:, pt.tensor([[1, 0], [1, 1]])],
                                  x[pt.tensor([0, 1]), :, pt.tensor([1, 0])], x[:, pt.tensor([0, 1]), pt.tensor([2, 1])],
                                  x[pt.tensor([True, False, True])]],
                       pt.arange(24.0).reshape(3, 2, 4)),
    "gather and nonzero": (lambda x: [x.gather(1, pt.tensor([[0, 0], [1, 2]], device=x.device)), x.nonzero(),
                                      (x > 0).nonzero()], G),
    "factories": (lambda x: [pt.full((2, 2), 2.7, dtype=pt.int32, device=x.device), pt.full((2,), True, dtype=pt.uint8, device=x.device),
                             pt.arange(0, 1, 0.25, device=x.device), pt.arange(5, 0, -2, device=x.device, dtype=pt.int16),
                             pt.zeros(0, 3, device=x.device), pt.eye(3, device=x.device)], G),
    "composites": (lambda x: [x.softmax(1), x.mean(0), x.var(), x.norm(),
                              x.clamp(-1, 1), x.std(1)], pt.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 4.0]])),
    "0-d and empty": (lambda s, e: [s + 1, s.sum(), s.exp(), s.argmax(), s.cumsum(0), e.sum(0), e.amax(1), e * 2, s.view(1)],
                      pt.tensor(2.5), pt.zeros(0, 3)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_cpu(dev, case):
    fn, *tensors = CASES[case]
    both(dev, fn, *tensors)


def test_views_share_memory_and_inplace_reaches_the_base(dev):
    x = pt.zeros(3, 4, device=dev)
    row = x[1]
    row.add_(2)
    x[:, 0] = 7.0
    x.t()[3].copy_(pt.tensor([1, 2, 3], dtype=pt.int64))   # casts and writes through a view
    assert x.cpu().tolist() == [[7, 0, 0, 1], [7, 2, 2, 2], [7, 0, 0, 3]]
    assert row.cpu().tolist() == [7, 2, 2, 2]


def test_clone_of_a_transposed_view_is_contiguous(dev):
    x = pt.arange(6.0, device=dev).reshape(2, 3).t()
    assert x.stride() == (1, 3) and not x.is_contiguous()
    c = x.clone(memory_format=pt.contiguous_format)
    assert c.stride() == (2, 1) and c.view(6).cpu().tolist() == [0, 3, 1, 4, 2, 5]
    p = x.clone()   # preserve_format keeps the transposed order, as on cpu and in PyTorch
    assert p.stride() == (1, 3) and p.cpu().tolist() == [[0, 3], [1, 4], [2, 5]]
    with pytest.raises(RuntimeError, match="view size \\[6\\] is not compatible with input tensor's size"):
        x.view(6)


def test_full_out_of_range_raises_as_on_cpu(dev):
    # checked once in full's meta for every backend (PyTorch: RuntimeError)
    msg = "full\\(\\): value 300 cannot be converted to type uint8 without overflow"
    with pytest.raises(RuntimeError, match=msg):
        pt.full((2,), 300, dtype=pt.uint8)
    with pytest.raises(RuntimeError, match=msg):
        pt.full((2,), 300, dtype=pt.uint8, device=dev)


def test_integer_division_by_zero_raises_as_on_cpu(dev):
    for fn in (lambda a: a // 0, lambda a: a % pt.zeros_like(a), lambda a: pt.fmod(a, 0)):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            fn(pt.tensor([1, 2], device=dev))
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        pt.tensor([2], device=dev) ** -1
    # a tensor exponent is PyTorch's integer pow: 1 and -1 keep their powers, other bases 0
    assert (pt.tensor([2, 1, -1], device=dev) ** pt.tensor([-1, -1, -1], device=dev)).tolist() == [0, 1, -1]


def test_fmod_and_remainder_are_exact_on_edge_values(dev):
    """Bit for bit against the cpu reference on every pair of edge values, -0.0 and inf included."""
    vals = [0.0, -0.0, 1.0, -1.0, 2.5, -7.25, float("inf"), -float("inf"), float("nan"), 1e-300, 3.0, 1e300]
    a = pt.tensor([x for x in vals for _ in vals], dtype=pt.float64)
    b = pt.tensor([y for _ in vals for y in vals], dtype=pt.float64)
    for fn in (pt.fmod, pt.remainder):
        got, want = fn(a.to(dev), b.to(dev)).cpu().numpy(), fn(a, b).numpy()
        np.testing.assert_array_equal(got, want, err_msg=fn.__name__)    # NaN where cpu has NaN
        assert (np.signbit(got) == np.signbit(want))[~np.isnan(want)].all(), fn.__name__


def test_random_fills_follow_the_cpu_stream(dev):
    pt.manual_seed(3)
    a = pt.empty(5).uniform_(-1, 1)
    n = pt.empty(2, 3, dtype=pt.float64).normal_()
    r = pt.empty(4, dtype=pt.int64).random_(0, 10)
    pt.manual_seed(3)
    assert pt.empty(5, device=dev).uniform_(-1, 1).cpu().tolist() == a.tolist()
    assert pt.empty(2, 3, dtype=pt.float64, device=dev).normal_().cpu().tolist() == n.tolist()
    assert pt.empty(4, dtype=pt.int64, device=dev).random_(0, 10).cpu().tolist() == r.tolist()


def test_fallback_ops_are_declared_and_run_on_cpu(dev):
    be = pt.backends.get_backend(dev)
    assert FALLBACK_OPS <= be.fallback_ops
    assert not (be.fallback_ops & set(be.kernels))
    assert set(registry.core_ops()) <= set(be.kernels) | be.fallback_ops
    x = pt.tensor([0.5, -1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = x.to(dev).erf()
        idx = pt.tensor([0, 0, 2])
        acc = pt.zeros(3, device=dev).index_put((idx.to(dev),), pt.ones(3, device=dev), accumulate=True)
        sc = pt.zeros(2, 3, device=dev).scatter_add(1, pt.tensor([[0, 0, 1], [2, 2, 2]], device=dev),
                                                    pt.ones(2, 3, device=dev))
    assert out.device.type == dev and acc.device.type == dev
    np.testing.assert_allclose(out.cpu().numpy(), [math.erf(0.5), math.erf(-1.0), math.erf(2.0)], rtol=1e-6)
    assert acc.cpu().tolist() == [2.0, 0.0, 1.0]
    assert sc.cpu().tolist() == [[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]]


def test_dtypes_follow_the_namespace():
    strict = ArrayAPIBackend(array_api_strict)
    assert strict.name == "array_api_strict"
    assert pt.float16 not in strict.supported_dtypes() and pt.bfloat16 not in strict.supported_dtypes()
    assert "array_api_strict has no float16" in strict.unsupported_dtype(pt.float16, 0)
    assert pt.float16 in ArrayAPIBackend(np).supported_dtypes()


def test_host_transfer_copies(dev):
    host = np.array([1.0, 2.0], dtype=np.float32)
    t = pt.from_numpy(host).to(dev) if hasattr(pt, "from_numpy") else pt.tensor(host).to(dev)
    back = t.cpu()
    back.add_(1)
    assert t.cpu().tolist() == [1.0, 2.0]
    t.mul_(3)
    assert back.tolist() == [2.0, 3.0]


def test_autograd_on_array_api_backend(dev):
    x = pt.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=pt.float64, device=dev, requires_grad=True)
    assert pt.autograd.gradcheck(lambda t: (t.exp() * t).softmax(1).sum(0), (x,))
