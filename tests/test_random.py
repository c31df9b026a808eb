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
    with pytest.raises(RuntimeError, match=r"rand\(\): not implemented for dtype plugtorch.int64.*floating-point or "
                                           "complex dtype"):
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


_DEVICES = [d for d in ("cpu", "opencl") if d in pt.backends.available()]


@pytest.mark.parametrize("device", _DEVICES)
@pytest.mark.parametrize("dtype", [pt.complex64, pt.complex128])
def test_complex_draws_are_pairs_of_real_draws(device, dtype):
    # as PyTorch: a complex draw fills the (real, imag) pairs in turn; randn scales them by
    # sqrt(1/2) so that E|z|^2 = 1, rand draws both parts from [0, 1)
    real = dtype.to_real()
    for seed_draw, pair_draw in ((lambda: pt.randn(3, 4, dtype=dtype, device=device),
                                  lambda: pt.randn(3, 4, 2, dtype=real, device=device) * 0.5 ** 0.5),
                                 (lambda: pt.rand(3, 4, dtype=dtype, device=device),
                                  lambda: pt.rand(3, 4, 2, dtype=real, device=device))):
        pt.manual_seed(5)
        z = seed_draw()
        assert z.dtype is dtype and z.shape == (3, 4) and z.device.type == device
        pt.manual_seed(5)
        np.testing.assert_allclose(z.cpu().numpy(), pt.view_as_complex(pair_draw()).cpu().numpy(), rtol=1e-6)
        pt.manual_seed(5)
        assert seed_draw().tolist() == z.tolist()


@pytest.mark.parametrize("device", _DEVICES)
@pytest.mark.parametrize("dtype", [pt.complex64, pt.complex128])
def test_complex_draw_statistics(device, dtype):
    n = 200_000
    # each statistic below is within 5 of its standard deviations over n draws: a part's mean
    # sqrt(var / n), a sample variance s2 * sqrt(2 / n) (normal) or sqrt((mu4 - var**2) / n)
    # (uniform: mu4 = 1/80), E[re im] sqrt(1/4 / n)
    g = pt.Generator(device).manual_seed(11)
    z = pt.randn(n, dtype=dtype, device=device, generator=g).cpu().numpy()
    assert z.dtype == (np.complex64 if dtype is pt.complex64 else np.complex128)
    for part in (z.real.astype(np.float64), z.imag.astype(np.float64)):
        assert abs(part.mean()) < 5 * (0.5 / n) ** 0.5
        assert abs(part.var() - 0.5) < 5 * 0.5 * (2 / n) ** 0.5
    assert abs(np.mean(z.real.astype(np.float64) * z.imag)) < 5 * (0.25 / n) ** 0.5
    u = pt.rand(n, dtype=dtype, device=device, generator=g).cpu().numpy()
    for part in (u.real.astype(np.float64), u.imag.astype(np.float64)):
        assert part.min() >= 0 and part.max() < 1
        assert abs(part.mean() - 0.5) < 5 * (1 / 12 / n) ** 0.5
        assert abs(part.var() - 1 / 12) < 5 * ((1 / 80 - 1 / 144) / n) ** 0.5


@pytest.mark.parametrize("device", _DEVICES)
def test_complex_in_place_draws_and_likes(device):
    n = 100_000
    x = pt.zeros(n, 2, dtype=pt.complex64, device=device)
    view = x[:, 1]                                       # a strided view: column 0 stays zero
    assert view.normal_(3.0, 2.0) is view
    z = x.cpu().numpy()
    assert not z[:, 0].any()
    for part in (z[:, 1].real.astype(np.float64), z[:, 1].imag.astype(np.float64)):   # mean 3, var 2**2 / 2
        assert abs(part.mean() - 3) < 5 * (2 / n) ** 0.5 and abs(part.var() - 2) < 5 * 2 * (2 / n) ** 0.5
    v = x._version
    x.uniform_(-1, 2)
    z = x.cpu().numpy()
    assert x._version > v
    assert z.real.min() >= -1 and z.imag.max() < 2 and abs(z.imag.mean() - 0.5) < 0.01
    w = pt.zeros(2, 3, dtype=pt.complex128, device=device)
    for like in (pt.randn_like(w), pt.rand_like(w)):
        assert like.dtype is pt.complex128 and like.shape == (2, 3) and like.device == w.device
        assert bool((like.imag != 0).all())
    assert pt.randn_like(w, dtype=pt.complex64).dtype is pt.complex64
    with pytest.raises(RuntimeError, match="from <= to"):
        x.uniform_(1, 0)
    with pytest.raises(TypeError, match="uniform_\\(\\): argument 'from' must be float, not complex"):
        x.uniform_(1j, 2)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        x.normal_(0, -1)
