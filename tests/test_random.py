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


def test_seeds_are_kept_as_uint64_and_a_fresh_generator_has_the_default_seed():
    # PyTorch keeps a seed as its uint64 bits: -1 is 2**64 - 1; a new Generator starts from
    # 67280421310721 whatever the global seed (it was the global seed of the moment)
    pt.manual_seed(12345)
    assert pt.Generator().initial_seed() == 67280421310721
    assert pt.Generator().manual_seed(-1).initial_seed() == 2 ** 64 - 1
    assert pt.Generator().manual_seed(2 ** 64 - 1).initial_seed() == 2 ** 64 - 1
    pt.manual_seed(-5)
    assert pt.initial_seed() == 2 ** 64 - 5
    a = pt.rand(3).tolist()
    pt.manual_seed(2 ** 64 - 5)                       # the same stream
    assert pt.rand(3).tolist() == a
    pt.manual_seed(7.9)                               # the global one takes int(seed), as PyTorch's
    assert pt.initial_seed() == 7
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        pt.Generator().manual_seed(2 ** 64)
    with pytest.raises(ValueError, match="Overflow"):
        pt.manual_seed(-2 ** 63 - 1)
    with pytest.raises(RuntimeError, match="manual_seed expected a long, but got float"):
        pt.Generator().manual_seed(1.5)
    with pytest.raises(RuntimeError, match="manual_seed expected a long, but got bool"):
        pt.Generator().manual_seed(True)
    with pytest.raises(TypeError, match="generator must be a plugtorch.Generator, not int"):
        pt.rand(3, generator=5)


def test_bernoulli_in_place_with_a_broadcast_tensor_p_draws_every_element():
    # x.bernoulli_(p) with p of shape (2,) on x of shape (n, 2): each element its own draw (the
    # draw of p's shape used to be copied into every row: column 0 all 0 or all 1)
    n = 50_000
    x = pt.zeros(n, 2).bernoulli_(pt.tensor([0.2, 0.8]))
    m = x.mean(0).tolist()
    assert abs(m[0] - 0.2) < 5 * (0.16 / n) ** 0.5 and abs(m[1] - 0.8) < 5 * (0.16 / n) ** 0.5
    y = pt.zeros(n, dtype=pt.int32).bernoulli_(pt.tensor(0.25))
    assert y.dtype is pt.int32 and abs(y.double().mean().item() - 0.25) < 5 * (0.1875 / n) ** 0.5
    with pytest.raises(RuntimeError):                          # p must broadcast to self
        pt.zeros(4, 2).bernoulli_(pt.tensor([0.2, 0.8, 0.5]))
    with pytest.raises(RuntimeError, match=r"bernoulli_ expects p to be in \[0, 1\], but got p=1.5"):
        pt.zeros(3).bernoulli_(1.5)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        pt.zeros(3, requires_grad=True).bernoulli_(0.5)


def test_random_from_with_to_none_reaches_the_dtype_top():
    # random_(from, None): [from, the dtype's max] (random_(5) alone is [0, 5)); random_(to=3): [0, 3)
    x = pt.zeros(20_000, dtype=pt.int8).random_(100, None)
    assert x.min().item() >= 100 and x.max().item() == 127
    assert set(pt.zeros(3000, dtype=pt.int64).random_(to=3).tolist()) == {0, 1, 2}
    assert set(pt.zeros(3000, dtype=pt.int64).random_(3).tolist()) == {0, 1, 2}
    f = pt.zeros(20_000).random_(2 ** 24 - 4, None)             # float32: integers up to 2**24
    assert set(f.tolist()) == {float(v) for v in range(2 ** 24 - 4, 2 ** 24 + 1)}
    u = pt.zeros(20_000, dtype=pt.int16).random_(0, None).double()
    assert abs(u.mean().item() - (2 ** 15 - 1) / 2) < 5 * (2 ** 30 / 12 / 20_000) ** 0.5


def test_exponential_draws_in_float32_for_half_tensors():
    # float16 uniform draws have 11 bits: -log(1 - u) could never pass log(2048) ~ 7.6
    n = 200_000
    x = pt.zeros(n, dtype=pt.float16).exponential_().double()
    assert abs(x.mean().item() - 1) < 5 * (1 / n) ** 0.5
    assert x.max().item() > 8.5                                 # P(max < 8.5) = (1 - e^-8.5)^n ~ e^-40


def test_multinomial_without_replacement_only_draws_nonzero_categories():
    p = pt.tensor([0.5, 0.0, 0.5, 0.0])
    for _ in range(50):
        assert sorted(pt.multinomial(p, 2).tolist()) == [0, 2]
    with pytest.raises(RuntimeError, match="not enough non-negative category to sample"):
        pt.multinomial(p, 3)
    assert pt.multinomial(p, 3, replacement=True).shape == (3,)   # with replacement: fine


def test_default_generator_is_the_cpu_generator_object():
    # plugtorch.default_generator was a function; PyTorch's is the Generator itself
    g = pt.default_generator
    assert isinstance(g, pt.Generator) and g.device == pt.device("cpu")
    assert pt.manual_seed(3) is g and g.initial_seed() == 3
    g.manual_seed(9)
    assert pt.initial_seed() == 9
    a = pt.rand(4).tolist()
    pt.manual_seed(9)
    assert pt.rand(4).tolist() == a
    with pt.random.fork_rng():
        pt.rand(10)
    assert pt.default_generator is g


def test_factories_honour_requires_grad():
    # randint, randperm and normal(float, float, size) ignored requires_grad=True
    assert pt.normal(0.0, 1.0, (3,), requires_grad=True).requires_grad
    assert pt.randint(0, 5, (2,), dtype=pt.float32, requires_grad=True).requires_grad
    assert pt.randperm(3, dtype=pt.float64, requires_grad=True).requires_grad
    assert pt.randint_like(pt.zeros(3), 5, requires_grad=True).requires_grad
    for make in (lambda: pt.randint(0, 5, (2,), requires_grad=True), lambda: pt.randperm(3, requires_grad=True)):
        with pytest.raises(RuntimeError, match="only Tensors of floating point and complex dtype can require "
                                               "gradients"):
            make()
    with pytest.raises(TypeError, match=r"randint\(\) missing its size argument"):
        pt.randint(5)


def test_random_and_normal_refuse_arguments_they_cannot_use():
    # complex random_() raised iinfo's TypeError; normal(tensor, tensor, size) ignored the size
    with pytest.raises(NotImplementedError, match=r"random_\(\): not supported for complex tensors"):
        pt.zeros(2, dtype=pt.complex64).random_()
    with pytest.raises(TypeError, match=r"normal\(\): size=\(3,\) is only taken with a float mean and a float std"):
        pt.normal(pt.zeros(3), pt.ones(3), (3,))


def test_normal_passes_no_gradient_to_mean_and_std():
    # PyTorch's normal(mean, std) is a draw, not a reparameterisation (its derivative is zero):
    # plugtorch's was mean + std * z, so REINFORCE's log_prob(normal(mu, s)) lost its gradient
    mu = pt.tensor([0.5, -1.0], requires_grad=True)
    s = pt.tensor([1.0, 2.0], requires_grad=True)
    a = pt.normal(mu, s)
    logp = -((a - mu) / s) ** 2 / 2 - s.log()           # d/dmu = (a - mu) / s^2, d/ds = (a - mu)^2 / s^3 - 1 / s
    logp.sum().backward()
    an, m, sd = a.detach().numpy(), mu.detach().numpy(), s.detach().numpy()
    np.testing.assert_allclose(mu.grad.numpy(), (an - m) / sd ** 2, rtol=1e-5)
    np.testing.assert_allclose(s.grad.numpy(), (an - m) ** 2 / sd ** 3 - 1 / sd, rtol=1e-5)
    for draw in (pt.normal(mu, 1.0), pt.normal(0.0, s)):
        assert not draw.requires_grad


def test_generator_clone_state():
    g = pt.Generator().manual_seed(3)
    pt.rand(2, generator=g)
    h = g.clone_state()
    assert h is not g and h.initial_seed() == 3 and h.device == g.device
    assert pt.rand(5, generator=g).tolist() == pt.rand(5, generator=h).tolist()


@pytest.mark.parametrize("device", _DEVICES)
@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16])
def test_multinomial_of_half_probabilities_draws_in_float32(device, dtype):
    # the draws were made in the probabilities' dtype: a category of probability 1e-4 came up
    # 3.7x (float16) or 21x (bfloat16) too often with replacement, 7x too rarely without (bfloat16)
    from plugtorch.backends import get_backend
    if get_backend(device).unsupported_dtype(dtype, 0):
        pytest.skip(f"{dtype} is not supported on this {device} device")
    pt.manual_seed(0)
    for small, n, replacement in ((1e-4, 400_000, True), (1e-3, 200_000, False)):
        p = pt.tensor([small, 1.0], dtype=dtype, device=device)
        v = p.float().cpu().numpy().astype(np.float64)
        q = v[0] / v.sum()                                  # the exact frequency of category 0
        if replacement:
            draws = pt.multinomial(p, n, True)
        else:
            draws = pt.multinomial(p.expand(n, 2).contiguous(), 1)[:, 0]
        count = int((draws == 0).sum().item())
        assert abs(count - n * q) < 5 * (n * q * (1 - q)) ** 0.5, (count, n * q)


def test_multinomial_with_no_categories_raises_instead_of_index_minus_one():
    # a distribution over zero categories has sum 0: there is nothing to draw (was: [-1, -1])
    for probs in (pt.ones(0), pt.ones(2, 0)):
        with pytest.raises(RuntimeError, match=r"invalid multinomial distribution \(sum of probabilities <= 0\)"):
            pt.multinomial(probs, 2, replacement=True)
    assert pt.multinomial(pt.ones(0, 3), 2, True).shape == (0, 2)   # no rows: an empty result
