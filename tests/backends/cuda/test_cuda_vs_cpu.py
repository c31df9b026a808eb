"""Every core op family on cuda against the same call on cpu, over dtypes and awkward inputs.

A backend-local sweep (the conformance suite is the full one): inputs include inf, nan, -0.0,
non-contiguous views, 0-d and empty tensors. Results must have cpu's dtype and shape and
cpu's values (exactly for integers and bools, within a few ulps for floats).

Skipped without a GPU. ``PLUGTORCH_CUDA_TEST_DEVICE=cpu`` (or another device) runs the same
sweep there, which is how its calls are checked on machines without a GPU.
"""
import os

import numpy as np
import pytest

import plugtorch as pt

DEV = os.environ.get("PLUGTORCH_CUDA_TEST_DEVICE", "cuda")
if DEV == "cuda":
    pytestmark = pytest.mark.skipif(not pt.cuda.is_available(),
                                    reason=f"cuda unavailable: {pt.cuda.unavailable_reason()}")

FLOATS = [pt.float16, pt.float32, pt.float64]
INTS = [pt.int8, pt.int16, pt.int32, pt.int64, pt.uint8]
TOL = {pt.float16: (2e-3, 1e-3), pt.float32: (2e-6, 1e-6), pt.float64: (1e-12, 1e-12)}


class Raised:
    """Both devices refused the call with the same exception type."""


def same(got, want, tol=None):
    """``got`` (on DEV) equals ``want`` (on cpu): device, dtype, shape and values."""
    if want is Raised:
        return
    if isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            same(g, w, tol)
        return
    assert got.device.type == DEV, got.device
    assert got.dtype is want.dtype, (got.dtype, want.dtype)
    assert tuple(got.shape) == tuple(want.shape), (got.shape, want.shape)
    g, w = got.cpu().numpy(), want.numpy()
    if want.dtype.is_floating_point:
        rtol, atol = tol or TOL[want.dtype]
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol,
                                   equal_nan=True)
        # signed zeros and infinities must match exactly
        np.testing.assert_array_equal(np.signbit(g[w == 0]), np.signbit(w[w == 0]))
    else:
        np.testing.assert_array_equal(g, w)


def both(fn, *arrays, **kw):
    """``fn`` on cpu tensors and on DEV tensors made from the same NumPy arrays.

    Where cpu refuses the call, DEV must refuse it with the same exception type.
    """
    cpu = [pt.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]
    dev = [t.to(DEV) if isinstance(t, pt.Tensor) else t for t in cpu]
    try:
        want = fn(*cpu, **kw)
    except Exception as e:  # noqa: BLE001
        with pytest.raises(type(e)):
            fn(*dev, **kw)
        return Raised, Raised
    return fn(*dev, **kw), want


def float_values(dtype, shape=(4, 6)):
    base = np.array([0.0, -0.0, 1.5, -2.25, 0.3, -0.7, 3.0, np.inf, -np.inf, np.nan, 1e-3, 40.0])
    n = int(np.prod(shape))
    return np.resize(base, n).reshape(shape).astype(dtype.numpy)


def int_values(dtype, shape=(4, 6), low=None, high=None):
    info = np.iinfo(dtype.numpy)
    lo = max(info.min, -100) if low is None else low
    hi = min(info.max, 100) if high is None else high
    return np.random.default_rng(0).integers(lo, hi + 1, size=shape).astype(dtype.numpy)


UNARY_FLOAT = ["neg", "abs", "sign", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt",
               "rsqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid",
               "erf", "reciprocal", "floor", "ceil", "trunc", "round", "isnan", "isinf", "isfinite",
               "logical_not"]
UNARY_INT = ["neg", "abs", "sign", "floor", "ceil", "trunc", "round", "isnan", "isfinite", "logical_not",
             "bitwise_not", "exp", "sqrt", "sigmoid"]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge",
          "logical_and", "logical_or", "logical_xor"]
BINARY_FLOAT = ["atan2", "pow", "remainder", "fmod", "floor_divide"]
BINARY_INT = ["floor_divide", "remainder", "fmod", "bitwise_and", "bitwise_or", "bitwise_xor"]


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("name", UNARY_FLOAT)
def test_unary_float(name, dtype):
    x = float_values(dtype)
    same(*both(getattr(pt, name), x))
    same(*both(getattr(pt, name), x.T.copy()[::2]))          # non-contiguous after transpose
    same(*both(lambda t: getattr(pt, name)(t.t()), x))      # a transposed view
    same(*both(getattr(pt, name), np.array(0.5, dtype.numpy)))   # 0-d
    same(*both(getattr(pt, name), np.zeros((0, 3), dtype.numpy)))


@pytest.mark.parametrize("dtype", INTS + [pt.bool], ids=str)
@pytest.mark.parametrize("name", UNARY_INT)
def test_unary_int_and_bool(name, dtype):
    if dtype is pt.uint8 and name in ("neg", "abs", "sign"):
        pytest.skip("unsigned negation wraps differently by platform")
    x = int_values(dtype) if dtype is not pt.bool else (int_values(pt.int8) > 0)
    same(*both(getattr(pt, name), x), tol=(1e-6, 1e-6))


@pytest.mark.parametrize("dtype", FLOATS + [pt.int32, pt.int64, pt.uint8], ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_same_dtype_and_broadcast(name, dtype):
    mk = float_values if dtype.is_floating_point else int_values
    a, b = mk(dtype), mk(dtype)[::-1].copy()
    f = getattr(pt, name)
    same(*both(f, a, b))
    same(*both(f, a, b[:1]))                                  # broadcast a row
    same(*both(lambda s, t: f(s.t(), t.t()), a, b))          # both non-contiguous
    same(*both(lambda s: f(s, 2), a))                         # Python int scalar
    same(*both(lambda s: f(s, 0.5), a))                       # Python float scalar (promotes ints)


@pytest.mark.parametrize("name", BINARY)
def test_binary_mixed_dtypes(name):
    f = getattr(pt, name)
    same(*both(f, int_values(pt.int8), float_values(pt.float16)))
    same(*both(f, int_values(pt.uint8), int_values(pt.int16)))
    same(*both(f, float_values(pt.float32), float_values(pt.float64)))
    same(*both(f, np.array(3.0, np.float64), float_values(pt.float16)))   # 0-d doesn't promote


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("name", BINARY_FLOAT)
def test_binary_float_only(name, dtype):
    a = float_values(dtype)
    b = np.resize(np.array([2.0, -3.0, 0.5, -0.25, 7.0, -1.0], dtype.numpy), a.shape)
    same(*both(getattr(pt, name), a, b))


@pytest.mark.parametrize("dtype", INTS, ids=str)
@pytest.mark.parametrize("name", BINARY_INT)
def test_binary_int_only(name, dtype):
    a = int_values(dtype)
    b = int_values(dtype, low=1, high=9)          # no zero divisors
    if dtype is not pt.uint8:
        b[::2] *= -1
    same(*both(getattr(pt, name), a, b))


@pytest.mark.parametrize("dtype", [pt.int8, pt.int32, pt.int64, pt.uint8], ids=str)
def test_shifts_and_integer_pow(dtype):
    a = int_values(dtype, low=0 if dtype is pt.uint8 else -50, high=50)
    s = int_values(dtype, low=0, high=7)
    same(*both(pt.bitwise_left_shift, a, s))
    same(*both(pt.bitwise_right_shift, a, s))
    same(*both(pt.pow, a, int_values(dtype, low=0, high=3)))


@pytest.mark.parametrize("dtype", FLOATS + [pt.int32, pt.int64, pt.uint8, pt.bool], ids=str)
def test_reductions(dtype):
    if dtype is pt.bool:
        x = int_values(pt.int8, shape=(5, 7)) > 0
    elif dtype.is_floating_point:
        x = np.random.default_rng(1).standard_normal((5, 7)).astype(dtype.numpy)
    else:
        x = int_values(dtype, shape=(5, 7), low=0, high=3)
    tol = (1e-2, 1e-2) if dtype is pt.float16 else (1e-5, 1e-5) if dtype is pt.float32 else None
    for fn in (lambda t: t.sum(), lambda t: t.sum(dim=1), lambda t: t.sum(dim=(0, 1), keepdim=True),
               lambda t: t.prod(dim=0), lambda t: t.amax(dim=1), lambda t: t.amin(), lambda t: t.all(dim=0),
               lambda t: t.any(), lambda t: t.cumsum(dim=1), lambda t: t.t().cumsum(dim=0)):
        same(*both(fn, x), tol=tol)
    if dtype is not pt.bool:
        for fn in (lambda t: t.argmax(), lambda t: t.argmin(dim=0), lambda t: t.argmax(dim=1, keepdim=True),
                   lambda t: t.sort(dim=1), lambda t: t.sort(dim=0, descending=True),
                   lambda t: t.argsort(dim=1, stable=True), lambda t: t.cumprod(dim=0)):
            same(*both(fn, x), tol=tol)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_float_reductions_with_nan_and_composites(dtype):
    x = float_values(dtype)
    for fn in (lambda t: t.amax(dim=1), lambda t: t.amin(dim=0), lambda t: t.argmax(dim=1),
               lambda t: t.sort(dim=1, descending=True), lambda t: t.sum(dim=0)):
        same(*both(fn, x))
    y = np.random.default_rng(2).standard_normal((6, 5)).astype(dtype.numpy)
    tol = (1e-2, 1e-2) if dtype is pt.float16 else (1e-5, 1e-6) if dtype is pt.float32 else None
    for fn in (lambda t: t.softmax(dim=1), lambda t: t.log_softmax(dim=0), lambda t: t.mean(dim=1),
               lambda t: t.var(dim=0), lambda t: t.logsumexp(dim=1), lambda t: t.clamp(-0.5, 0.5)):
        same(*both(fn, y), tol=tol)


@pytest.mark.parametrize("dtype", [pt.float16, pt.float32, pt.float64, pt.int32, pt.int64], ids=str)
def test_matmul_shapes(dtype):
    rng = np.random.default_rng(4)
    mk = (lambda *s: rng.standard_normal(s).astype(dtype.numpy)) if dtype.is_floating_point else \
        (lambda *s: rng.integers(-5, 6, s).astype(dtype.numpy))
    tol = (5e-3, 5e-3) if dtype is pt.float16 else (1e-5, 1e-5) if dtype is pt.float32 else None
    same(*both(pt.matmul, mk(7, 5), mk(5, 3)), tol=tol)
    same(*both(pt.matmul, mk(2, 7, 5), mk(5, 3)), tol=tol)          # batched x broadcast
    same(*both(pt.matmul, mk(5), mk(5, 3)), tol=tol)                # vector @ matrix
    same(*both(lambda a, b: a.t() @ b, mk(5, 7), mk(5, 3)), tol=tol)  # transposed operand


@pytest.mark.parametrize("dtype", [pt.float16, pt.float32, pt.int64, pt.uint8, pt.bool], ids=str)
def test_shape_and_indexing_ops(dtype):
    x = int_values(pt.int16, shape=(4, 5, 3)).astype(dtype.numpy)
    idx = np.array([3, 0, 3, 1])
    for fn in (lambda t: t.permute(2, 0, 1).contiguous(), lambda t: t.flip(1), lambda t: t[1:, ::2, 1],
               lambda t: t.reshape(5, 12), lambda t: t[:, 1].expand(2, 4, 3).clone(),
               lambda t: pt.cat([t, t[:1]], dim=0), lambda t: pt.stack([t[0], t[1]], dim=2),
               lambda t: t[pt.tensor(idx, device=t.device)], lambda t: t[:, pt.tensor([4, 0], device=t.device)],
               lambda t: t[t > 0] if dtype is not pt.bool else t[t],
               lambda t: t.nonzero(), lambda t: t.transpose(0, 2).reshape(-1),
               lambda t: t.gather(1, pt.tensor(np.zeros((4, 2, 3), np.int64), device=t.device)),
               lambda t: t.index_select(2, pt.tensor([2, 2, 0], device=t.device)),
               lambda t: pt.where(t[..., 0] > t[..., 1], t[..., 0], t[..., 2])):
        same(*both(fn, x))


@pytest.mark.parametrize("dtype", [pt.float16, pt.float32, pt.float64, pt.int8, pt.int16, pt.int32,
                                   pt.int64, pt.uint8], ids=str)
def test_accumulating_writes(dtype):
    x = int_values(pt.int8, shape=(5, 4), low=-3, high=3).astype(dtype.numpy)
    if dtype is pt.uint8:
        x = np.abs(x).astype(np.uint8)
    rows = np.array([0, 3, 3, 0, 3])
    vals = int_values(pt.int8, shape=(5, 4), low=0, high=4).astype(dtype.numpy)
    same(*both(lambda t, v: t.index_put((pt.tensor(rows, device=t.device),), v, accumulate=True), x, vals))
    # without accumulate, duplicate indices leave an unspecified value (as in PyTorch): unique rows
    rows_unique = np.array([0, 3, 1])
    same(*both(lambda t, v: t.index_put((pt.tensor(rows_unique, device=t.device),), v),
               x[:, :1].copy(), vals[:3, :1].copy()))
    idx = np.array([[0, 1, 0, 1], [2, 2, 2, 2]])
    same(*both(lambda t, v: t.scatter_add(0, pt.tensor(idx, device=t.device), v), x, vals[:2].copy()))
    same(*both(lambda t, v: t.scatter(0, pt.tensor(idx[:1], device=t.device), v), x, vals[:1].copy()))
    same(*both(lambda t: t.scatter(1, pt.tensor(idx, device=t.device) % 4, 3), x))


def test_casts_between_all_dtypes():
    src = np.array([0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 100.0, 0.4, 255.0])
    for a in FLOATS + INTS + [pt.bool]:
        x = src.astype(a.numpy) if a is not pt.uint8 else np.abs(src).astype(np.uint8)
        for b in FLOATS + [pt.int32, pt.int64, pt.bool]:
            same(*both(lambda t: t.to(b), x))


def test_factories_and_arange():
    for make in (lambda d: pt.zeros(2, 3, device=d), lambda d: pt.ones(4, dtype=pt.int8, device=d),
                 lambda d: pt.full((2, 2), 7.5, dtype=pt.float16, device=d),
                 lambda d: pt.full((3,), True, device=d), lambda d: pt.arange(10, device=d),
                 lambda d: pt.arange(-3, 7, 2, dtype=pt.int16, device=d),
                 lambda d: pt.arange(0.0, 1.0, 0.1, device=d), lambda d: pt.arange(5, 0, -1.5, device=d),
                 lambda d: pt.empty(0, 4, device=d).sum(dim=0), lambda d: pt.linspace(0, 1, 7, device=d),
                 lambda d: pt.eye(3, dtype=pt.int64, device=d)):
        same(make(DEV), make("cpu"))
