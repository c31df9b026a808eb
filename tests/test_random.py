"""Seeding, Generator objects, and the ranges and rough statistics of the random ops."""
import numpy as np
import pytest

import plugtorch as pt


@pytest.fixture(autouse=True)
def _seed():
    pt.manual_seed(1234)


@pytest.mark.parametrize("make", [
    lambda: pt.rand(5), lambda: pt.randn(2, 3), lambda: pt.randint(0, 10, (6,)), lambda: pt.randperm(7),
    lambda: pt.bernoulli(pt.full((8,), 0.5)), lambda: pt.empty(4).normal_(), lambda: pt.empty(4).uniform_(-1, 1),
    lambda: pt.normal(0.0, 1.0, (3,)), lambda: pt.multinomial(pt.tensor([0.2, 0.3, 0.5]), 2),
])
def test_manual_seed_reproduces(make):
    pt.manual_seed(7)
    a = make().tolist()
    pt.manual_seed(7)
    assert make().tolist() == a
    assert pt.initial_seed() == 7


def test_generator_objects():
    g1 = pt.Generator().manual_seed(3)
    g2 = pt.Generator("cpu").manual_seed(3)
    a = pt.rand(4, generator=g1)
    assert pt.rand(4, generator=g2).tolist() == a.tolist()
    assert pt.rand(4, generator=g1).tolist() != a.tolist()           # the stream advances
    assert g1.initial_seed() == 3 and g1.device == pt.device("cpu")
    pt.manual_seed(0)
    x = pt.rand(3)
    pt.rand(3, generator=pt.Generator().manual_seed(9))            # does not touch the default stream
    pt.manual_seed(0)
    pt.rand(3)
    y = pt.rand(3)
    pt.manual_seed(0)
    assert pt.rand(3).tolist() == x.tolist() and y.tolist() != x.tolist()
    assert isinstance(pt.seed(), int)


@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16, pt.float32, pt.float64])
def test_rand_randn_ranges_and_stats(dtype):
    u = pt.rand(20000, dtype=dtype)
    assert u.dtype is dtype
    a = u.numpy().astype(np.float64)
    assert a.min() >= 0 and a.max() <= 1 and abs(a.mean() - 0.5) < 0.02 and abs(a.var() - 1 / 12) < 0.01
    n = pt.randn(20000, dtype=dtype).numpy().astype(np.float64)
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1) < 0.03


def test_uniform_normal_in_place():
    x = pt.empty(10000)
    assert x.uniform_(2, 5) is x
    a = x.numpy()
    assert a.min() >= 2 and a.max() <= 5 and abs(a.mean() - 3.5) < 0.05
    x.normal_(10, 2)
    assert abs(x.mean().item() - 10) < 0.1 and abs(x.std().item() - 2) < 0.1
    v = x._version
    x.uniform_()
    assert x._version > v
    with pytest.raises(RuntimeError, match="from <= to"):
        x.uniform_(1, 0)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        x.normal_(0, -1)
    with pytest.raises(NotImplementedError, match="uniform_.*int64.*floating-point"):   # as torch 2.13
        pt.zeros(2, dtype=pt.int64).uniform_()


def test_randint():
    r = pt.randint(3, 7, (5000,))
    assert r.dtype is pt.int64 and set(r.tolist()) == {3, 4, 5, 6}
    assert pt.randint(5, (2, 3)).shape == (2, 3)
    assert pt.randint(0, 2, (4,), dtype=pt.uint8).dtype is pt.uint8
    x = pt.zeros(1000, dtype=pt.int32)
    x.random_(0, 3)
    assert set(x.tolist()) == {0, 1, 2}
    assert pt.randint_like(x, 10).shape == (1000,)
    with pytest.raises(RuntimeError, match="from=5 >= to=5"):
        pt.randint(5, 5, (2,))


def test_randperm():
    p = pt.randperm(50)
    assert p.dtype is pt.int64 and sorted(p.tolist()) == list(range(50)) and p.tolist() != list(range(50))
    assert pt.randperm(0).shape == (0,)
    assert pt.randperm(4, dtype=pt.int32).dtype is pt.int32


def test_bernoulli():
    p = pt.tensor([0.0, 1.0, 0.3]).expand(20000, 3)
    b = pt.bernoulli(p)
    assert b.dtype is pt.float32
    m = b.mean(0).tolist()
    assert m[0] == 0.0 and m[1] == 1.0 and abs(m[2] - 0.3) < 0.02
    x = pt.zeros(10000)
    x.bernoulli_(0.25)
    assert set(x.tolist()) <= {0.0, 1.0} and abs(x.mean().item() - 0.25) < 0.02


def test_normal_with_tensors_and_likes():
    m = pt.tensor([0.0, 100.0]).expand(5000, 2)
    s = pt.normal(m, 1.0)
    assert s.shape == (5000, 2) and abs(s.mean(0)[1].item() - 100) < 0.1
    assert pt.rand_like(pt.zeros(2, 3, dtype=pt.float64)).dtype is pt.float64
    assert pt.randn_like(pt.zeros(4)).shape == (4,)
    with pytest.raises(RuntimeError, match="floating-point dtype"):
        pt.rand(2, dtype=pt.int64)


@pytest.mark.parametrize("device", [d for d in ("cpu", "opencl") if d in pt.backends.available()])
@pytest.mark.parametrize("dtype", [pt.bfloat16, pt.float16, pt.float32, pt.float64])
def test_bernoulli_of_probability_zero_and_one_is_exact(device, dtype):
    # a half-precision uniform draw can round up to 1.0: the draws are float32 (or float64)
    from plugtorch.backends import get_backend
    if get_backend(device).unsupported_dtype(dtype, 0):
        pytest.skip(f"{dtype} is not supported on this {device} device")
    pt.manual_seed(0)
    p = pt.tensor([0.0, 1.0] * 20_000, dtype=dtype, device=device)
    r = pt.bernoulli(p)
    assert r.dtype is dtype and bool((r == p).all())
    assert abs(pt.bernoulli(pt.full((40_000,), 0.25, dtype=dtype, device=device)).float().mean().item() - 0.25) < 0.01
