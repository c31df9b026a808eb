"""nn.init: bounds of uniform initialisers, moments of normal ones, exact ones."""
import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.nn import init


def arr(t):
    return t.detach().numpy().astype(np.float64)


def test_calculate_gain():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("selu") == 0.75
    assert init.calculate_gain("conv2d") == 1
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        init.calculate_gain("foo")


def test_uniform_family_bounds_and_spread():
    w = pt.empty(200, 300)
    a = math.sqrt(6 / 500)
    v = arr(init.xavier_uniform_(w))
    assert v.max() <= a and v.min() >= -a and v.max() > 0.99 * a
    assert abs(v.var() - a * a / 3) < 0.02 * a * a
    w = pt.empty(64, 16, 3, 3)
    bound = math.sqrt(2) * math.sqrt(3 / (16 * 9))
    v = arr(init.kaiming_uniform_(w, nonlinearity="relu"))
    assert v.max() <= bound and v.min() >= -bound and v.max() > 0.99 * bound
    bound = math.sqrt(3 / (64 * 9))
    v = arr(init.kaiming_uniform_(w, mode="fan_out", nonlinearity="linear"))
    assert np.abs(v).max() <= bound and np.abs(v).max() > 0.99 * bound
    v = arr(init.uniform_(pt.empty(10000), -2.0, 3.0))
    assert v.min() >= -2 and v.max() <= 3 and abs(v.mean() - 0.5) < 0.05


def test_normal_family_moments():
    v = arr(init.normal_(pt.empty(300, 300), 1.0, 2.0))
    assert abs(v.mean() - 1) < 0.02 and abs(v.std() - 2) < 0.02
    v = arr(init.xavier_normal_(pt.empty(300, 200), gain=2.0))
    assert abs(v.std() - 2 * math.sqrt(2 / 500)) < 0.01 * 2 * math.sqrt(2 / 500) * 3
    v = arr(init.kaiming_normal_(pt.empty(300, 400)))
    std = math.sqrt(2 / (1 + 0.01 ** 2)) / math.sqrt(400)
    assert abs(v.std() - std) < 0.02 * std


def test_trunc_normal():
    v = arr(init.trunc_normal_(pt.empty(100000), mean=0.5, std=1.0, a=-1.0, b=1.5))
    assert v.min() >= -1.0 and v.max() <= 1.5
    # mean of N(0.5, 1) truncated to [-1, 1.5]: mu + (phi(alpha) - phi(beta)) / Z * sigma
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    mean = 0.5 + (phi(-1.5) - phi(1.0)) / (cdf(1.0) - cdf(-1.5))
    assert abs(v.mean() - mean) < 0.01


def test_exact_initialisers():
    assert np.all(arr(init.constant_(pt.empty(3, 2), 0.3)) == np.float32(0.3))
    assert np.all(arr(init.ones_(pt.empty(4))) == 1) and np.all(arr(init.zeros_(pt.empty(4))) == 0)
    np.testing.assert_array_equal(arr(init.eye_(pt.empty(2, 3))), np.eye(2, 3))
    q = arr(init.orthogonal_(pt.empty(4, 6, dtype=pt.float64), gain=2.0))
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(4), atol=1e-10)
    q = arr(init.orthogonal_(pt.empty(6, 3, dtype=pt.float64)))
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-10)
    d = arr(init.dirac_(pt.empty(2, 2, 3, 3)))
    assert d[0, 0, 1, 1] == 1 and d[1, 1, 1, 1] == 1 and d.sum() == 2


def test_init_errors_and_no_grad():
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"):
        init.xavier_uniform_(pt.empty(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(pt.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(pt.empty(2, 2, 2))
    p = pt.nn.Parameter(pt.empty(3, 3))
    init.kaiming_uniform_(p)          # in place on a leaf that requires grad: allowed (no_grad inside)
    assert p.requires_grad and p.grad_fn is None


def test_seeded_init_is_reproducible():
    pt.manual_seed(123)
    a = arr(pt.nn.Linear(4, 3).weight)
    pt.manual_seed(123)
    b = arr(pt.nn.Linear(4, 3).weight)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("device", [d for d in ("cpu", "opencl") if d in pt.backends.available()])
def test_trunc_normal_and_orthogonal_draw_on_the_tensors_device(device):
    # both drew on the cpu: a generator of the tensor's device was refused ("Expected a 'cpu'
    # device type for generator but found 'opencl'") and the device's default stream unused
    def g():
        return pt.Generator(device).manual_seed(4)
    a = init.trunc_normal_(pt.empty(50_000, device=device), 0.5, 1.0, -1.0, 1.5, generator=g())
    b = init.trunc_normal_(pt.empty(50_000, device=device), 0.5, 1.0, -1.0, 1.5, generator=g())
    assert a.device.type == device
    v = arr(a.cpu())
    assert np.array_equal(v, arr(b.cpu())) and v.min() >= -1.0 and v.max() <= 1.5
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    z = cdf(1.0) - cdf(-1.5)
    mean = 0.5 + (phi(-1.5) - phi(1.0)) / z
    var = 1 + (-1.5 * phi(-1.5) - 1.0 * phi(1.0)) / z - ((phi(-1.5) - phi(1.0)) / z) ** 2
    assert abs(v.mean() - mean) < 5 * (var / v.size) ** 0.5
    q = init.orthogonal_(pt.empty(4, 6, device=device), gain=2.0, generator=g())
    q2 = init.orthogonal_(pt.empty(4, 6, device=device), gain=2.0, generator=g())
    q, q2 = arr(q.cpu()), arr(q2.cpu())
    assert np.array_equal(q, q2)
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(4), atol=1e-5)


def test_trunc_normal_refuses_an_empty_interval():
    with pytest.raises(RuntimeError, match=r"trunc_normal_\(\): expects a <= b .* but got a=2 > b=-2"):
        init.trunc_normal_(pt.empty(3), 0.0, 1.0, 2, -2)
    v = arr(init.trunc_normal_(pt.empty(20_000, dtype=pt.float16), 0.0, 1.0, -2.0, 2.0))
    assert v.min() >= -2 and v.max() <= 2 and abs(v.mean()) < 5 * (0.774 / v.size) ** 0.5
