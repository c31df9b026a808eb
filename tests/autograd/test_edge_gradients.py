"""Gradients at ties, bounds, zeros and nan, as torch 2.13 gives them (each expected value below
was computed with torch 2.13 in a scratch comparison, or follows from the formula in the comment);
before, these came out as nan or split between tied elements where PyTorch does not."""
import math

import numpy as np
import pytest

import plugtorch as pt

nan, inf = math.nan, math.inf
DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]


def _grad(f, values, device="cpu", dtype=pt.float64):
    x = pt.tensor(values, dtype=dtype, device=device, requires_grad=True)
    f(x).sum().backward()
    return x.grad.cpu().tolist()


def _same(got, want):
    np.testing.assert_array_equal(np.asarray(got, np.float64), np.asarray(want, np.float64))


X = [0.0, -0.0, 1.0, -2.0, 3.0, 3.0]


@pytest.mark.parametrize("device", DEVICES)
def test_pow_gradients_at_zero(device):
    dt = pt.float64 if device == "cpu" else pt.float32
    _same(_grad(lambda x: x.pow(0), X, device, dt), [0.0] * 6)                  # was nan at 0: 0 * 0^-1
    _same(_grad(lambda x: x ** x, X[:3] + X[4:], device, dt)[:3], [0.0, 0.0, 1.0])
    _same(_grad(lambda x: pt.pow(0.0, x), X, device, dt), [0.0, 0.0, 0.0, -inf, 0.0, 0.0])   # was all nan
    _same(_grad(lambda x: x.pow(pt.zeros(6, dtype=dt, device=device)), X, device, dt), [0.0] * 6)


@pytest.mark.parametrize("device", DEVICES)
def test_clamp_gives_the_whole_gradient_on_a_bound(device):
    # d clamp(x, lo, hi)/dx is 1 for lo <= x <= hi (0.5 was given on a bound, as for maximum's ties)
    _same(_grad(lambda x: x.clamp(0, 1), X, device), [1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    _same(_grad(lambda x: x.clamp(min=3), X, device), [0.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    _same(_grad(lambda x: x.clamp(0, 1), [1.0, nan, inf, -inf, 2.0], device), [1.0, 0.0, 0.0, 0.0, 0.0])
    lo = pt.tensor([0.0, 1.0, 5.0], dtype=pt.float64, device=device, requires_grad=True)
    x = pt.tensor([0.0, 2.0, 4.0], dtype=pt.float64, device=device, requires_grad=True)
    x.clamp(min=lo).sum().backward()
    _same(x.grad.cpu().tolist(), [1.0, 1.0, 0.0])
    _same(lo.grad.cpu().tolist(), [0.0, 0.0, 1.0])
    v = pt.tensor([-0.0, 0.5, nan], device=device).clamp(0, 1)
    assert math.copysign(1, v[0].item()) == -1 and v[1].item() == 0.5 and math.isnan(v[2].item())   # as torch
    assert math.isnan(pt.tensor([0.5], device=device).clamp(max=nan).item())
    _same(pt.tensor([-2, 0, 3], dtype=pt.uint8, device=device).clamp(1, 2).tolist(), [2, 1, 2])


@pytest.mark.parametrize("device", DEVICES)
def test_max_along_a_dim_sends_the_gradient_to_the_index_it_returns(device):
    x = pt.tensor([[0.0, 3.0, 3.0], [1.0, 1.0, -1.0]], dtype=pt.float64, device=device, requires_grad=True)
    v, i = x.max(1)
    v.sum().backward()
    assert i.tolist() == [1, 0]
    _same(x.grad.cpu().tolist(), [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])      # was [[0, .5, .5], [.5, .5, 0]]
    x.grad = None
    v, i = x.min(0, keepdim=True)
    v.sum().backward()
    _same(x.grad.cpu().tolist(), [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    x.grad = None
    x.amax(1).sum().backward()                                             # amax still shares ties
    _same(x.grad.cpu().tolist(), [[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]])


def test_median_of_everything_shares_the_gradient_among_equal_elements():
    _same(_grad(lambda x: x.median(), X), [0.5, 0.5, 0.0, 0.0, 0.0, 0.0])      # was [0, 1, ...]
    _same(_grad(lambda x: x.nanmedian(), [1.0, nan, inf, -inf, 2.0, 2.0]), [0.0, 0.0, 0.0, 0.0, 0.5, 0.5])
    x = pt.tensor([[1.0, 2.0, 2.0]], dtype=pt.float64, requires_grad=True)
    x.median(1).values.sum().backward()                                     # along a dim: its index
    _same(x.grad.tolist(), [[0.0, 1.0, 0.0]])


def test_nan_results_of_max_and_maximum():
    v = [1.0, nan, inf, -inf, 2.0, 2.0]
    _same(_grad(lambda x: x.max(), v), [0.0, 1.0, 0.0, 0.0, 0.0, 0.0])        # was nan everywhere
    # maximum(x, flip(x)): where either side is nan both get the gradient (torch: [0, 2, 2, 0, 2, 2])
    _same(_grad(lambda x: pt.maximum(x, x.flip(0)), v), [0.0, 2.0, 2.0, 0.0, 2.0, 2.0])
    _same(_grad(lambda x: pt.minimum(x, x.flip(0)), v), [2.0, 2.0, 0.0, 2.0, 2.0, 0.0])


def test_std_of_a_constant_has_zero_gradient():
    _same(_grad(lambda x: (x * 0).std(), X), [0.0] * 6)                       # was nan: 0 / (2 * 0)
    _same(_grad(lambda x: x.reshape(2, 3).std(1, correction=0), [2.0, 2.0, 2.0, 1.0, 2.0, 3.0])[:3], [0.0] * 3)
    x = pt.tensor([1.0, 2.0, 4.0], dtype=pt.float64, requires_grad=True)
    assert pt.autograd.gradcheck(lambda t: t.std(), (x,))


@pytest.mark.parametrize("device", DEVICES)
def test_variance_without_degrees_of_freedom_has_nan_gradient(device):
    # one element per slice, correction 1: var = 0 / 0 and d var/dx = 2 (x - mean) / 0 = 0 / 0, nan
    # both (it was 0: the relu guarding the two-pass sum's rounding cut the nan off)
    dt = pt.float64 if device == "cpu" else pt.float32
    for f, want in ((lambda x: x.reshape(2, 1).var(1), [nan, nan]), (lambda x: x.reshape(2, 1).std(1), [nan, nan]),
                    (lambda x: x[:1].std(), [nan, 0.0]), (lambda x: pt.var_mean(x.reshape(2, 1), 1)[0], [nan, nan])):
        x = pt.tensor([3.0, -1.0], dtype=dt, device=device, requires_grad=True)
        y = f(x)
        assert all(math.isnan(v) for v in y.reshape(-1).cpu().tolist())
        y.sum().backward()
        _same(x.grad.cpu().tolist(), want)
    # with correction 0 the same slices have variance 0 and std's gradient stays 0
    _same(_grad(lambda x: x.reshape(2, 1).std(1, correction=0), [3.0, -1.0], device, dt), [0.0, 0.0])
    _same(_grad(lambda x: x.reshape(2, 1).var(1, correction=0), [3.0, -1.0], device, dt), [0.0, 0.0])


def test_hardswish_gradient_at_its_kinks():
    _same(_grad(lambda x: pt.nn.functional.hardswish(x), [-3.0, 3.0, 0.0]), [0.0, 1.0, 0.5])


def test_xlogy_gradient_at_zero_input_is_log_other():
    # xlogy(0, y) is 0, but its derivative in x is log(y) (0 where y <= 0), as torch 2.13's backward;
    # the where that makes the value 0 gave gradient 0 there
    for f in (pt.xlogy, pt.special.xlogy):
        _same(_grad(lambda x: f(x, 2.0), [0.0, -0.0, 1.0, -2.0]), [math.log(2)] * 4)
        _same(_grad(lambda x: f(x, 0.0), [0.0, 1.0, -2.0]), [0.0, -inf, -inf])
        y = pt.tensor([2.0, 0.0, 3.0], dtype=pt.float64)
        _same(_grad(lambda x: f(x, y), [0.0, 0.0, 2.0]), [math.log(2), 0.0, math.log(3)])
    x = pt.tensor([0.0, 1.0, 2.0], dtype=pt.float64, requires_grad=True)
    y = pt.tensor([2.0, 0.5, 3.0], dtype=pt.float64, requires_grad=True)
    assert pt.autograd.gradcheck(lambda a, b: pt.xlogy(a, b), (x, y))
    assert pt.xlogy(pt.tensor([0.0, 1.0], requires_grad=True), 0.0).tolist() == [0.0, -inf]


@pytest.mark.parametrize("device", DEVICES)
def test_copysign_other_gets_zero_gradient(device):
    # other only picks the sign: d/d(other) is 0 everywhere, a zero tensor (not None) of its shape;
    # d/dx = sign(x) * sign(result): a = [[5]] broadcast against other = [-2, 3] gives -1 + 1 = 0
    a = pt.tensor([[5.0], [-1.0]], device=device, requires_grad=True)
    b = pt.tensor([-2.0, 3.0], device=device, requires_grad=True)
    pt.copysign(a, b).sum().backward()
    assert a.grad.cpu().tolist() == [[0.0], [0.0]]
    assert b.grad is not None and b.grad.cpu().tolist() == [0.0, 0.0]
    x = pt.tensor([5.0, -1.0], device=device, requires_grad=True)
    pt.copysign(x, pt.tensor([-2.0, -3.0], device=device)).sum().backward()
    assert x.grad.cpu().tolist() == [-1.0, 1.0]


@pytest.mark.parametrize("device", DEVICES)
def test_atan2_gradient_at_the_origin_is_zero(device):
    # d/da atan2(a, b) = b / (a^2 + b^2), d/db = -a / (a^2 + b^2); at (0, 0) PyTorch gives 0 (it was
    # 0 * inf = nan)
    a = pt.tensor([0.0, 0.0, 1.0, -3.0], device=device, requires_grad=True)
    b = pt.tensor([0.0, 1.0, 0.0, 4.0], device=device, requires_grad=True)
    pt.atan2(a, b).sum().backward()
    assert a.grad.cpu().tolist() == pytest.approx([0.0, 1.0, 0.0, 4 / 25])
    assert b.grad.cpu().tolist() == pytest.approx([0.0, 0.0, -1.0, 3 / 25])


@pytest.mark.parametrize("device", DEVICES)
def test_negative_order_vector_norm_gradient_where_an_entry_is_zero(device):
    # a zero entry makes the p < 0 norm 0; PyTorch's gradient is 0 for that slice (it was nan from
    # 0 * inf). Elsewhere d/dx_i (sum |x|^p)^(1/p) = n^(1-p) |x_i|^(p-1) sign(x_i): for x = (2, 1),
    # p = -2, n = 2/sqrt(5): n^3 / 8 and n^3
    x = pt.tensor([[0.0, 2.0], [1.0, 1.0]], dtype=pt.float64, device=device, requires_grad=True)
    pt.linalg.vector_norm(x, -2, dim=0).sum().backward()
    n3 = (2 / math.sqrt(5)) ** 3
    np.testing.assert_allclose(x.grad.cpu().numpy(), [[0.0, n3 / 8], [0.0, n3]], rtol=1e-12)
