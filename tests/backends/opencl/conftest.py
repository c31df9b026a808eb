"""Shared helpers: run the same call on cpu and opencl and compare."""
import numpy as np
import pytest

import plugtorch as pt

if not pt.opencl.is_available():
    pytest.skip("no OpenCL device (pip install plugtorch[opencl])", allow_module_level=True)

DEV = "opencl"
DTYPES = [pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64, pt.float16, pt.bfloat16, pt.float32,
          pt.float64]
FLOATS = [pt.float16, pt.bfloat16, pt.float32, pt.float64]
INTS = [pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64]


def sample(shape, dtype, seed=0, low=-5, high=5):
    rng = np.random.default_rng(seed)
    if dtype is pt.bool:
        a = rng.random(shape) > 0.5
    elif dtype.is_floating_point:
        a = rng.uniform(low, high, shape)
    else:
        lo = 0 if dtype is pt.uint8 else int(np.floor(low))
        a = rng.integers(lo, max(int(np.ceil(high)), lo + 1), shape)
    return pt.tensor(a, dtype=dtype)


def to_cl(t):
    return t.to(DEV) if isinstance(t, pt.Tensor) else t


def assert_same(got, want, dtype=None, rtol=None, atol=None):
    """``got`` (opencl) equals ``want`` (cpu): same shape, dtype and values within tolerance."""
    if isinstance(want, (tuple, list)):
        for g, w in zip(got, want):
            assert_same(g, w, dtype, rtol, atol)
        return
    assert got.device.type == DEV
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype is want.dtype, (got.dtype, want.dtype)
    g = got.cpu().numpy().astype(np.float64) if want.dtype is pt.bfloat16 else got.cpu().numpy()
    w = want.numpy().astype(np.float64) if want.dtype is pt.bfloat16 else want.numpy()
    if want.dtype.is_floating_point:
        tol = {pt.float16: 1e-3, pt.bfloat16: 1e-2, pt.float32: 1e-5, pt.float64: 1e-10}[want.dtype]
        np.testing.assert_allclose(g, w, rtol=rtol or tol, atol=atol or tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(g, w)


def check(fn, *args, **kw):
    """fn(*args) on cpu and on opencl give the same result."""
    want = fn(*args)
    got = fn(*[to_cl(a) for a in args])
    assert_same(got, want, **kw)
    return got


@pytest.fixture
def dev():
    return pt.device(DEV)
