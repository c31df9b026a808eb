"""Activation functions and layers vs NumPy formulas, plus gradcheck on each."""
import math

import numpy as np
import pytest
from scipy.special import erf

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

X = np.array([-25.0, -3.5, -3.0, -1.2, -0.3, 0.4, 1.5, 3.0, 4.2, 30.0])
A, S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def softplus(x, beta=1.0, th=20.0):
    return np.where(x * beta > th, x, np.log1p(np.exp(np.minimum(x * beta, th))) / beta)


CASES = {
    "relu": (nn.ReLU(), lambda x: np.maximum(x, 0)),
    "relu6": (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0)))),
    "celu": (nn.CELU(2.0), lambda x: np.where(x > 0, x, 2.0 * np.expm1(np.minimum(x, 0) / 2.0))),
    "selu": (nn.SELU(), lambda x: S * np.where(x > 0, x, A * np.expm1(np.minimum(x, 0)))),
    "gelu": (nn.GELU(), lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))),
    "gelu_tanh": (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    "silu": (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    "mish": (nn.Mish(), lambda x: x * np.tanh(softplus(x))),
    "softplus": (nn.Softplus(2.0, 10.0), lambda x: softplus(x, 2.0, 10.0)),
    "hardtanh": (nn.Hardtanh(-2.0, 1.5), lambda x: np.clip(x, -2.0, 1.5)),
    "hardswish": (nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "hardsigmoid": (nn.Hardsigmoid(), lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "tanh": (nn.Tanh(), np.tanh),
    "sigmoid": (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    "logsigmoid": (nn.LogSigmoid(), lambda x: -softplus(-x)),
    "softsign": (nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    "tanhshrink": (nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    "threshold": (nn.Threshold(0.5, -7.0), lambda x: np.where(x > 0.5, x, -7.0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_activation_values_and_gradcheck(name):
    mod, ref = CASES[name]
    np.testing.assert_allclose(mod(t64(X)).numpy(), ref(X), rtol=1e-12, atol=1e-12)
    # away from the kinks, where finite differences are meaningful
    xs = t64([-2.7, -1.1, -0.4, 0.3, 0.9, 2.2], True)
    scalar_gradcheck(mod, xs)
    # gradients stay finite at extreme inputs (no 0 * inf from the branch not taken)
    x = t64(X, True)
    mod(x).sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


def test_relu_is_one_op_that_keeps_nan_and_negative_zero():
    x = t64([np.nan, -0.0, -2.0, 0.5], True)
    y = F.relu(x)
    assert y.grad_fn.op.name == "relu"      # one node (its own formula), not gt + where
    out = y.detach().numpy()
    # torch 2.13: relu(-0.0) is -0.0 (clamp_min keeps it), at every size and float dtype
    assert np.isnan(out[0]) and out[1] == 0 and np.signbit(out[1]) and out[2] == 0 and not np.signbit(out[2])
    assert out[3] == 0.5
    y.backward(t64([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0, 4.0])   # nan passes its gradient, as PyTorch
    from plugtorch.dispatch.ops.composite import relu as decomposition
    v = pt.tensor([np.nan, -0.0, -1.5, 2.0, np.inf, -np.inf], dtype=pt.float32)
    np.testing.assert_array_equal(np.signbit(pt.relu(v).numpy()), np.signbit(decomposition(v).numpy()))
    np.testing.assert_array_equal(pt.relu(v).numpy(), decomposition(v).numpy())
    with pytest.raises(RuntimeError, match="relu\\(\\): Boolean inputs not supported for relu"):   # as torch 2.13
        pt.relu(pt.tensor([True]))


def test_gradients_at_kinks_match_pytorch():
    x = t64([0.0, -3.0, 3.0], True)
    F.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])
    x = t64([-3.0, 3.0], True)
    F.hardswish(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1.0])   # torch 2.13 (older releases gave -0.5 and 1.5)
    x = t64([-1.0, 1.0], True)
    F.hardtanh(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_hardtanh_keeps_nan_and_integer_dtypes():
    # nan was clamped to max_val (hardtanh(nan) == 1.0, relu6(nan) == 6.0); PyTorch keeps nan and
    # passes its gradient through (its backward zeroes only x <= min or x >= max)
    x = t64([-2.0, np.nan, 2.0, 0.5, -0.0], True)
    y = F.hardtanh(x)
    np.testing.assert_array_equal(y.detach().numpy(), [-1.0, np.nan, 1.0, 0.5, -0.0])
    assert np.signbit(y.detach().numpy()[-1])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(F.relu6(t64([np.nan, 7.0, -1.0])).numpy(), [np.nan, 6.0, 0.0])
    z = pt.tensor([np.nan, 3.0])
    F.hardtanh_(z)
    np.testing.assert_array_equal(z.numpy(), [np.nan, 1.0])
    got = F.hardtanh(pt.tensor([-3, 0, 3]))                 # an int tensor stays int
    assert got.dtype is pt.int64 and got.tolist() == [-1, 0, 1]



def test_hardtanh_decomposition_is_clamp_even_for_min_above_max():
    # the decomposition (backends without a hardtanh kernel) gave min_val below min_val and
    # max_val above it when min_val > max_val (the op allows it; F.hardtanh raises); clamp's
    # min(max(x, 1), 0.5) is 0.5 everywhere, as np.clip and the cpu kernel give
    from plugtorch.nn.functional.activation import hardtanh_op
    v = np.array([-2.0, 0.2, 0.7, 1.5, np.nan, -0.0])
    for lo, hi in ((True, 0.5), (-1.0, 1.0), (0.0, 6.0), (-0.5, math.nan), (math.nan, 6.0)):   # (nan: all nan)
        got = hardtanh_op(t64(v), lo, hi).numpy()
        np.testing.assert_array_equal(got, np.clip(v, float(lo), float(hi)))
        np.testing.assert_array_equal(pt.ops.hardtanh(t64(v), lo, hi).numpy(), got)
    assert np.signbit(hardtanh_op(t64([-0.0]), 0.0, 6.0).numpy()[0])
    assert hardtanh_op(pt.tensor([-3, 0, 3]), -1.5, 2.5).tolist() == [-1, 0, 2]

def test_prelu():
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    m = nn.PReLU(3).double()
    assert np.all(m.weight.detach().numpy() == 0.25)
    with pt.no_grad():
        m.weight.copy_(t64([0.1, 0.2, 0.3]))
    ref = np.where(x > 0, x, np.array([0.1, 0.2, 0.3])[:, None] * x)
    np.testing.assert_allclose(m(t64(x)).detach().numpy(), ref)
    scalar_gradcheck(F.prelu, t64(x, True), t64([0.1, 0.2, 0.3], True))
    with pytest.raises(RuntimeError, match="mismatch of parameter numbers and input channel size"):
        F.prelu(pt.randn(2, 4), pt.ones(3))


def test_softmax_family():
    x = np.random.default_rng(4).standard_normal((3, 5)) * 10
    e = np.exp(x - x.max(1, keepdims=True))
    sm = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(nn.Softmax(dim=1)(t64(x)).numpy(), sm, rtol=1e-12)
    lsm = x - x.max(1, keepdims=True) - np.log(e.sum(1, keepdims=True))
    np.testing.assert_allclose(nn.LogSoftmax(dim=1)(t64(x)).numpy(), lsm, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(nn.Softmin(dim=0)(t64(x)).numpy(),
                               np.exp(-x) / np.exp(-x).sum(0, keepdims=True), rtol=1e-12)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        F.softmax(t64(x))
    scalar_gradcheck(lambda x: F.log_softmax(x, 1), t64(x / 10, True))
    a, b = x[:, :2], x[:, 2:4]
    np.testing.assert_allclose(nn.GLU()(t64(x[:, :4])).numpy(), a / (1 + np.exp(-b)), rtol=1e-12)


def test_inplace_activation_writes_input():
    x = t64([-1.0, 2.0])
    out = nn.ReLU(inplace=True)(x)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0])
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"


def test_table_made_layers_read_and_pickle_like_written_classes():
    import pickle
    assert nn.Tanh.__name__ == "Tanh" and nn.Tanh.__module__ == "plugtorch.nn.modules.activation"
    assert repr(nn.Tanh()) == "Tanh()" and repr(nn.SiLU()) == "SiLU()"
    assert repr(nn.Threshold(0.1, 2.0, inplace=True)) == "Threshold(threshold=0.1, value=2.0, inplace=True)"
    m = pickle.loads(pickle.dumps(nn.Hardswish(inplace=True)))
    assert type(m) is nn.Hardswish and m.inplace
    np.testing.assert_allclose(m(pt.tensor([-4.0, 0.0, 1.0, 4.0])).numpy(), [0.0, 0.0, 4.0 / 6.0, 4.0], rtol=1e-6)


def test_log_softmax_and_cross_entropy_keep_precision_for_large_logits():
    np.testing.assert_allclose(F.log_softmax(pt.full((2, 4), 1e30), 1).numpy(), np.full((2, 4), -math.log(4)),
                               rtol=1e-6)
    x = np.array([[1e4, 1e4 + 1.0, 1e4 - 2.0]], dtype=np.float32)
    ref = -(1.0 - np.log(np.exp([0.0, 1.0, -2.0]).sum()))
    np.testing.assert_allclose(F.cross_entropy(pt.tensor(x), pt.tensor([1])).item(), ref, rtol=1e-5)


def test_threshold_backward_passes_the_gradient_above_the_threshold_and_at_nan():
    g = pt.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    x = pt.tensor([np.nan, 0.5, 0.25, -1.0, 0.3])
    np.testing.assert_array_equal(pt.ops.threshold_backward(g, x, 0.25).numpy(), [1.0, 2.0, 0.0, 0.0, 5.0])
    from plugtorch.dispatch.ops.composite import threshold_backward as decomposition
    np.testing.assert_array_equal(decomposition(g, x, 0.25).numpy(), [1.0, 2.0, 0.0, 0.0, 5.0])
    with pytest.raises(RuntimeError, match=r"threshold_backward\(\): grad_output of shape \(5,\) does not match "
                                           r"input of shape \(4,\)"):
        pt.ops.threshold_backward(g, pt.ones(4), 0)


def test_threshold_keeps_nan_and_its_gradient():
    # PyTorch replaces x <= threshold by value, so nan stays nan and gets the gradient (torch 2.13:
    # F.threshold([nan, 0.5, 2], 1, 5) == [nan, 5, 2], gradient [1, 0, 1]); it gave 5 and 0 at nan
    x = pt.tensor([np.nan, 0.5, 2.0], requires_grad=True)
    y = F.threshold(x, 1.0, 5.0)
    np.testing.assert_array_equal(y.detach().numpy(), [np.nan, 5.0, 2.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(nn.Threshold(1.0, 5.0)(pt.tensor([np.nan, 1.0])).numpy(), [np.nan, 5.0])
    z = pt.tensor([np.nan, 0.0, 3.0])
    F.threshold_(z, 1.0, -1.0)
    np.testing.assert_array_equal(z.numpy(), [np.nan, -1.0, 3.0])


def test_hardsigmoid_hardshrink_softshrink_keep_nan_as_torch():
    # torch 2.13 on [nan, -0.3, -1, 3]: hardsigmoid [nan, 0.45, 1/3, 1] grad [0, 1/6, 1/6, 0];
    # hardshrink [nan, 0, -1, 3] grad [1, 0, 1, 1]; softshrink [nan, -0.0, -0.5, 2.5] grad [1, 0, 1, 1]
    # (they gave 1.0, 0.0 and 0.0 at nan)
    want = {F.hardsigmoid: ([np.nan, 0.45, 1 / 3, 1.0], [0, 1 / 6, 1 / 6, 0]),
            F.hardshrink: ([np.nan, 0.0, -1.0, 3.0], [1, 0, 1, 1]),
            F.softshrink: ([np.nan, -0.0, -0.5, 2.5], [1, 0, 1, 1])}
    for fn, (value, grad) in want.items():
        x = pt.tensor([np.nan, -0.3, -1.0, 3.0], dtype=pt.float64, requires_grad=True)
        y = fn(x)
        np.testing.assert_allclose(y.detach().numpy(), value, rtol=1e-15)
        y.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-15)
    assert np.signbit(F.softshrink(pt.tensor([-0.3])).numpy()[0])   # torch's x * 0: -0.0


@pytest.mark.parametrize("dt", [pt.float32, pt.float64], ids=str)
def test_threshold_backward_and_relu_keep_the_bits_of_where(dt):
    # the cpu kernels' direct paths for float32/64 (a bit mask, np.maximum) give exactly
    # where(x <= t, +0.0, g) and where(x < 0, +0.0, x): -0.0, nan and inf in the gradient and the
    # input, at and around the threshold, a 2-d batch and a transposed view
    d = np.dtype(dt.numpy)
    vals = np.array([-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, 0.25, -1.5, 2.0, 1e-30], dtype=d)
    r = np.random.default_rng(2)
    x = r.choice(vals, size=(6, 10)).astype(d)
    g = r.choice(vals, size=(6, 10)).astype(d)
    for t in (0, 0.25, -1.5):
        want = np.where(x <= d.type(t), d.type(0), g)
        for gg, xx, ww in ((pt.tensor(g), pt.tensor(x), want), (pt.tensor(g).T, pt.tensor(x).T, want.T)):
            got = pt.ops.threshold_backward(gg, xx, t).numpy()
            assert got.dtype == d and got.tobytes() == np.ascontiguousarray(ww).tobytes(), t
    got = F.relu(pt.tensor(x)).numpy()
    assert got.tobytes() == np.where(x < 0, d.type(0), x).tobytes()


def test_threshold_backward_rejects_non_tensors_and_bad_thresholds():
    with pytest.raises(TypeError, match=r"threshold_backward\(\): argument 'grad_output' must be Tensor, not list"):
        pt.ops.threshold_backward([1.0], pt.ones(1), 0)
    with pytest.raises(TypeError, match=r"threshold_backward\(\): expected a Tensor or a number, got str"):
        pt.ops.threshold_backward(pt.ones(1), pt.ones(1), "a")


def test_float_activations_refuse_integer_inputs_as_pytorch():
    # computed in the integer dtype these wrapped (uint8 hardsigmoid(3) was 0.0, logsigmoid(3)
    # -253.0, hardswish(3) 0.0) or silently became float; torch 2.13 raises NotImplementedError
    u = pt.tensor([3, 1], dtype=pt.uint8)
    for name in ("leaky_relu", "elu", "celu", "selu", "gelu", "silu", "softplus", "mish", "hardswish",
                 "hardsigmoid", "logsigmoid", "glu"):
        for x in (u, pt.tensor([-2, 3]), pt.tensor([True, False])):
            with pytest.raises(NotImplementedError, match=name):
                getattr(F, name)(x)
    with pytest.raises(RuntimeError, match="prelu"):
        F.prelu(pt.tensor([1, -1]), pt.tensor([0.25]))
    with pytest.raises(RuntimeError, match="Bool inputs not supported for hardtanh"):
        F.relu6(pt.tensor([True]))
    with pytest.raises(RuntimeError, match="unsigned type with negative limits"):
        F.hardtanh(u)
    with pytest.raises(NotImplementedError, match="threshold"):
        F.threshold(pt.tensor([True]), 1, 5)
    assert F.relu6(u).tolist() == [3, 1] and F.relu6(u).dtype is pt.uint8          # what PyTorch allows
    assert F.hardtanh(pt.tensor([-3, 3])).tolist() == [-1, 1]
    np.testing.assert_allclose(F.hardsigmoid(pt.tensor([3.0, 1.0])).numpy(), [1.0, 1.0 / 6 + 0.5], rtol=1e-6)


def test_threshold_keeps_an_integer_dtype_and_edge_arguments_follow_pytorch():
    # an integer input stays integer (value 2.5 -> 2), as PyTorch; it used to become float32 [2.5, ...]
    got = F.threshold(pt.arange(-3, 3), 0.5, 2.5)
    assert got.dtype is pt.int64 and got.tolist() == [2, 2, 2, 2, 1, 2]
    # a 0-d input gives a 0-d prelu, not (1,)
    out = F.prelu(t64(-2.0), t64([0.25]))
    assert tuple(out.shape) == () and out.item() == -0.5
    with pytest.raises(RuntimeError, match=r"celu\(\): alpha cannot be 0"):
        F.celu(t64([1.0, -1.0]), 0.0)
    with pytest.raises(TypeError, match=r"hardtanh\(\): argument 'input' must be Tensor, not float"):
        F.relu6(np.float64(1.0))


def test_glu_of_a_scalar_and_cross_entropy_of_a_non_tensor_raise_as_pytorch():
    with pytest.raises(RuntimeError, match=r"glu\(\): glu does not support scalars"):
        F.glu(t64(1.0))   # (it raised IndexError)
    x = t64([0.5, 1.0, -1.0], True)   # a differentiable input takes the decomposition, which raised AttributeError
    with pytest.raises(TypeError, match=r"cross_entropy\(\): argument 'target' must be Tensor, not int64"):
        F.cross_entropy(x, np.int64(2))


def test_normalize_keeps_a_nan_row_nan_and_hardswish_has_finite_gradients_at_infinity():
    # normalize divided by where(norm > eps, norm, eps): a nan norm became eps, so a row holding a
    # nan came out as x / 1e-12 (finite, huge); PyTorch's clamp_min keeps it nan
    out = F.normalize(t64([[np.nan, 1.0, 2.0], [3.0, 0.0, 4.0]]), dim=1).numpy()
    assert np.isnan(out[0]).all()
    np.testing.assert_allclose(out[1], [0.6, 0.0, 0.8])
    # hardswish is x above 3 and 0 below -3: gradients 1 and 0 at +-inf (the middle piece's 0 * inf
    # gave nan), and nan takes the identity piece (gradient 1), as PyTorch
    x = t64([np.inf, -np.inf, np.nan, 1.0], True)
    y = F.hardswish(x)
    y.sum().backward()
    assert y.detach().numpy()[:2].tolist() == [np.inf, 0.0] and np.isnan(y.detach().numpy()[2])
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 1.0, (2 * 1.0 + 3) / 6])


@pytest.mark.parametrize("device", pt.backends.available())
@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16])
def test_half_precision_gelu_hardswish_hardsigmoid_compute_in_float32(device, dtype):
    # step by step in float16, 1 + erf(-3.7 / sqrt 2) cancels to 0 and gelu(-3.7) was -0.0 (it is
    # -0.000399); hardsigmoid's edge values made its result float32. Reference: the float64 formula
    # rounded once to the half type
    be = pt.backends.get_backend(pt.device(device).type)
    if device != "cpu" and dtype not in be.supported_dtypes(0):
        pytest.skip(f"{device} has no {dtype}")
    xs = np.array([-3.7, -2.5, -1.0, -0.3, 0.5, 1.7, 2.9])
    x = pt.tensor(xs, dtype=dtype, device=device)
    xv = x.cpu().double().numpy()   # (the inputs as the half type holds them)
    refs = {
        "gelu": (lambda t: F.gelu(t), 0.5 * xv * (1 + erf(xv / math.sqrt(2)))),
        "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"),
                      0.5 * xv * (1 + np.tanh(math.sqrt(2 / math.pi) * (xv + 0.044715 * xv ** 3)))),
        "hardswish": (F.hardswish, xv * np.clip(xv + 3, 0, 6) / 6),
        "hardsigmoid": (F.hardsigmoid, np.clip(xv / 6 + 0.5, 0, 1)),
    }
    for name, (f, want) in refs.items():
        got = f(x)
        assert got.dtype is dtype, name
        # within one unit in the last place of the half type (float32 arithmetic, one rounding)
        ulp = 2.0 ** (np.floor(np.log2(np.abs(want))) - (7 if dtype is pt.bfloat16 else 10))
        assert np.all(np.abs(got.cpu().double().numpy() - want) <= ulp), (name, got.tolist(), want.tolist())


@pytest.mark.parametrize("device", pt.backends.available())
def test_gelu_and_logsigmoid_tails_keep_relative_accuracy(device):
    # gelu's (1 + erf) cancels in the left tail (float32 gelu(-5.3) was 1e5 ulps off); logsigmoid
    # beyond softplus's threshold 20 dropped exp(x) (float64 logsigmoid(-22.8) 3.4e4 ulps off).
    # References: math.erfc and log1p in float64
    xs = [-9.0, -7.5, -5.3, -3.7, -1.0, 0.5, 3.0]
    got = F.gelu(pt.tensor(xs, device=device)).cpu().double().numpy()
    want = np.array([x * 0.5 * math.erfc(-x / math.sqrt(2)) for x in xs])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=0)   # (float32 rounding of x / sqrt 2, times ~2x^2)
    be = pt.backends.get_backend(pt.device(device).type)
    if device != "cpu" and pt.float64 not in be.supported_dtypes(0):
        return
    xs = [-745.0, -40.0, -22.844222603108417, -20.5, -1.0, 0.0, 2.0, 25.0, 40.0]
    got = F.logsigmoid(pt.tensor(xs, dtype=pt.float64, device=device)).cpu().numpy()
    want = np.array([min(x, 0.0) - math.log1p(math.exp(-abs(x))) for x in xs])
    np.testing.assert_allclose(got, want, rtol=4e-16, atol=0)


@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.float16])
def test_hardtanh_op_kernel_matches_its_decomposition_and_pytorch_s_edges(dtype):
    """hardtanh (ReLU6) is an nn op with a cpu kernel (one clip): the same values as its
    decomposition, -0.0 and nan kept (PyTorch's clamp keeps them), and the gradient 0 at the
    limits, 1 strictly inside and at nan (PyTorch's hardtanh_backward)."""
    from plugtorch.nn.functional.activation import hardtanh_op
    vals = [-7.0, -0.0, 0.0, 0.5, 5.5, 6.0, 6.5, float("nan"), float("inf"), float("-inf")]
    x = pt.tensor(vals, dtype=dtype, requires_grad=True)
    y = F.relu6(x)
    got = y.detach().double().numpy()
    want = np.clip(np.array(vals), 0.0, 6.0)              # (every value exact in float16 too)
    np.testing.assert_array_equal(got, want)              # (nan where nan)
    assert np.signbit(got[1]) and not np.signbit(got[2])   # -0.0 stays -0.0, as torch's
    decomposed = hardtanh_op(x.detach(), 0.0, 6.0).double().numpy()
    np.testing.assert_array_equal(decomposed, got)
    assert np.array_equal(np.signbit(decomposed), np.signbit(got))
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0]


def test_hardtanh_of_integers_truncates_float_limits_back():
    x = pt.tensor([0, 7, 3, -2], dtype=pt.int64)
    assert F.hardtanh(x, 0.5, 6.5).tolist() == [0, 6, 3, 0]       # clip to 0.5, 6.5, then int
    assert F.hardtanh(x, 0.5, 6.5).dtype is pt.int64
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(x, 2.0, 1.0)


def _ulps32(a, b):
    ia, ib = (np.asarray(v, np.float32).view(np.int32).astype(np.int64) for v in (a, b))
    ia, ib = (np.where(i < 0, -(i & 0x7fffffff), i) for i in (ia, ib))
    return np.abs(ia - ib).max()


def test_gelu_silu_op_kernels_against_decompositions_and_float64_references():
    """gelu, silu and their backward ops are nn ops with cpu kernels (cache-sized blocks): gelu's
    values are its decomposition's bit for bit (autograd records the decomposition for
    approximate='none', so results with and without grad agree, +-inf, nan and -0.0 included);
    _gelu_backward is within two ulps of the float64 formula (the decomposition was 428 off), silu
    within 3 (float32 arithmetic, as PyTorch's), its gradient within 3e-6."""
    from scipy.special import erfc
    from plugtorch.nn.functional.activation import gelu_backward, gelu_op, silu_op
    xs = np.arange(-14, 14, 2.0 ** -10).astype(np.float32)
    x = xs.astype(np.float64)
    g = np.random.default_rng(0).standard_normal(xs.size).astype(np.float32)
    X, G = pt.tensor(xs), pt.tensor(g)
    edges = pt.tensor([float("inf"), float("-inf"), float("nan"), -0.0, 0.0, 1e-45, -1e-45, 1e-39, -3e38])
    for t in (X, edges):
        got, want = F.gelu(t).numpy(), gelu_op(t).numpy()
        assert np.array_equal(got.view(np.int32), want.view(np.int32))
    phi = erfc(-x / math.sqrt(2)) / 2
    dgelu = g * (phi + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi))
    # (2: Phi(x) + x phi(x) cancels by a factor x^2 in the left tail, 196 at -14)
    assert _ulps32(pt.ops._gelu_backward(G, X).numpy(), dgelu) <= 2
    s = 1 / (1 + np.exp(-x))
    assert _ulps32(F.silu(X).numpy(), x * s) <= 3    # (float32 arithmetic, as PyTorch's)
    dsilu = g * s * (1 + x * (1 - s))
    np.testing.assert_allclose(pt.ops._silu_backward(G, X).numpy(), dsilu, rtol=3e-6, atol=1e-6)
    # the tanh formula: kernels and decompositions against float64 (test below)
    for fwd, bwd in (((lambda t: F.gelu(t, approximate="tanh")), (lambda g, t: pt.ops._gelu_backward(g, t, "tanh"))),
                     ((lambda t: gelu_op(t, "tanh")), (lambda g, t: gelu_backward(g, t, "tanh")))):
        _check_gelu_tanh(fwd, bwd, xs, g)
    # edges: +-inf, nan, -0.0
    e = pt.tensor([float("inf"), float("-inf"), float("nan"), -0.0])
    assert str(F.gelu(e).tolist()) == str(gelu_op(e).tolist()) == "[inf, nan, nan, -0.0]"   # (-inf * 0)
    assert str(F.silu(e).tolist()) == str(silu_op(e).tolist()) == "[inf, nan, nan, -0.0]"


def _check_gelu_tanh(fwd, bwd, xs, g):
    """The tanh formula x (1 + tanh(y)) / 2, y = beta (x + kappa x^3), and its derivative against
    float64, within 6 units of 2^-24 (1 + |2y|) relative: y is rounded to
    float32, which exp(-2y) (the kernels' x / (1 + exp(-2y))) or the sigmoid (the
    decompositions') scales by up to |2y|; the derivative (1 + tanh) / 2 + x (1 - tanh^2) y' / 2
    is a sum, so relative to the sum of its two terms' magnitudes. Below 2^-123 (gelu) and
    2^-119 (its derivative) the results are 0 where exp(-2y) overflows (x < -10.05), so those
    are checked absolutely."""
    x = xs.astype(np.float64)
    beta, kappa = math.sqrt(2 / math.pi), 0.044715
    y = beta * (x + kappa * x ** 3)
    # (1 + tanh(y)) / 2 = s = 1 / (1 + exp(-2y)) and (1 - tanh(y)^2) / 2 = 2 s (1 - s): in float64
    # 1 + tanh(y) itself cancels below y = -18
    with np.errstate(over="ignore"):
        s, sn = 1 / (1 + np.exp(-2 * y)), 1 / (1 + np.exp(2 * y))
    want = x * s
    terms = (s, 2 * s * sn * x * beta * (1 + 3 * kappa * x * x))
    dwant = g * (terms[0] + terms[1])
    bound = 6 * 2.0 ** -24 * (1 + 2 * np.abs(y))
    for got, ref, scale, tiny in ((fwd(pt.tensor(xs)), want, np.abs(want), 2.0 ** -123),
                                  (bwd(pt.tensor(g), pt.tensor(xs)), dwant, np.abs(g) * (np.abs(terms[0]) + np.abs(terms[1])),
                                   2.0 ** -119)):
        err = np.abs(got.numpy().astype(np.float64) - ref)
        assert np.all(err <= np.maximum(bound * scale, tiny)), x[np.argmax(err / np.maximum(bound * scale, tiny))]


def test_gelu_tanh_left_tail_keeps_relative_accuracy():
    # 1 + tanh(y) cancels in float32 for y < -4: gelu(-5.35, 'tanh') was -0.0 and its gradient
    # (times 8.7) -1.05e-5 (the cpu kernel; opencl's decomposition gave 0.0). References: the
    # formulas in float64 at the float32 inputs: -1.8835981e-08 and -1.2350135e-06
    x = pt.tensor([-5.3500847816467285, -3.0, 0.5, 20.0])
    g = pt.tensor([8.700340270996094, 1.0, 1.0, 1.0])
    from plugtorch.nn.functional.activation import gelu_backward, gelu_op
    want = [-1.883598057879342e-08, -0.0036373920817729943, 0.34571400982514394, 20.0]
    dwant = [-1.2350135016959087e-06, -0.011584166630969516, 0.8673699035346424, 1.0]
    for gelu, backward in (((lambda t: F.gelu(t, approximate="tanh")), (lambda a, t: pt.ops._gelu_backward(a, t, "tanh"))),
                           ((lambda t: gelu_op(t, "tanh")), (lambda a, t: gelu_backward(a, t, "tanh")))):
        np.testing.assert_allclose(gelu(x).numpy(), want, rtol=2e-6)
        np.testing.assert_allclose(backward(g, x).numpy(), dwant, rtol=2e-6)
    xr = x.clone().requires_grad_()
    (d,) = pt.autograd.grad(F.gelu(xr, approximate="tanh"), xr, g)
    np.testing.assert_allclose(d.numpy(), dwant, rtol=2e-6)


@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16])
def test_gelu_silu_half_inputs_compute_in_float32_and_round_once(dtype):
    xs = np.arange(-8, 8, 1 / 64)
    x = pt.tensor(xs, dtype=dtype)
    xv = x.double().numpy()
    from scipy.special import erfc
    for got, want in ((F.gelu(x), 0.5 * xv * erfc(-xv / math.sqrt(2))), (F.silu(x), xv / (1 + np.exp(-xv)))):
        assert got.dtype is dtype
        np.testing.assert_array_equal(got.double().numpy(), pt.tensor(want).to(dtype).double().numpy())


def test_gelu_silu_gradients_by_gradcheck():
    from plugtorch.autograd import gradcheck, gradgradcheck
    x = pt.tensor(np.random.default_rng(1).standard_normal((3, 5)) * 3, dtype=pt.float64, requires_grad=True)
    for f in (F.gelu, lambda t: F.gelu(t, approximate="tanh"), F.silu):
        assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


def test_hardtanh_of_integers_takes_limits_in_the_inputs_dtype():
    # the op gave INT_MIN on cpu (np.clip to nan, cast) and the limits' garbage elsewhere for
    # hardtanh(int32, -0.5, nan); PyTorch's aten op truncates an integer input's limits to int64
    # and then its dtype: nan, inf or out of range raise RuntimeError, -0.5 is 0 (uint8 too)
    x = pt.tensor([-3, -1, 0, 2, 5], dtype=pt.int32)
    for f in (pt.ops.hardtanh, F.hardtanh):
        for lo, hi, dtype in ((-0.5, math.nan, "int64"), (-math.inf, 2.0, "int64"), (-1, 1e10, "int32")):
            with pytest.raises(RuntimeError, match=f"hardtanh\\(\\): value cannot be converted to type plugtorch.{dtype} "
                                                   "without overflow"):
                f(x, lo, hi)
        assert f(x, -0.5, 2.5).tolist() == [0, 0, 0, 2, 2]
        assert f(x.to(pt.uint8), -0.5, 2.5).tolist() == [2, 2, 0, 2, 2]      # 253 -> 2 (uint8 wraps -3)
        assert f(x.long(), -1, 1e10).tolist() == [-1, -1, 0, 2, 5]
        with pytest.raises(RuntimeError, match="unsigned type with negative limits"):
            f(x.to(pt.uint8), -1.0, 2.0)


def test_silu_decompositions_compute_half_types_in_float32():
    # make fuzz: opencl's _silu_backward (the decomposition) in float16 gave -4.449 for grad -4.4375
    # at x 7.234 (each step rounded to float16); float64's value is -4.4574, -4.457 in float16
    from plugtorch.nn.functional.activation import silu_backward, silu_op
    g = np.array([0.09222, 2.486, -4.4375, -4.859], np.float16)
    x = np.array([5.8984, 8.625, 7.234, -2.1133], np.float16)
    G, X = g.astype(np.float64), x.astype(np.float64)
    s = 1 / (1 + np.exp(-X))
    want = (G * s * (1 + X * (1 - s))).astype(np.float16)
    assert want[2] == np.float16(-4.457)
    for dt in (pt.float16, pt.bfloat16):
        for f in (silu_backward, pt.ops._silu_backward):
            got = f(pt.tensor(g).to(dt), pt.tensor(x).to(dt)).float().numpy()
            np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-3 if dt is pt.float16 else 8e-3)
        fwd = silu_op(pt.tensor(x).to(dt)).float().numpy()
        np.testing.assert_allclose(fwd, (X * s).astype(np.float32), rtol=1e-3 if dt is pt.float16 else 8e-3)


@pytest.mark.parametrize("device", pt.backends.available())
def test_logsigmoid_second_derivative_through_zero(device):
    # d/dx log sigmoid(x) = sigmoid(-x), d2/dx2 = -sigmoid(x) sigmoid(-x): -1/4 at 0 (the min/abs
    # decomposition gave 0 there), and smooth on both sides
    xs = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    x = pt.tensor(xs, dtype=pt.float64, device=device, requires_grad=True)
    (g,) = pt.autograd.grad(F.logsigmoid(x).sum(), x, create_graph=True)
    (h,) = pt.autograd.grad(g.sum(), x)
    s = 1 / (1 + np.exp(-xs))
    np.testing.assert_allclose(g.detach().cpu().numpy(), 1 - s, rtol=1e-12)
    np.testing.assert_allclose(h.cpu().numpy(), -s * (1 - s), rtol=1e-12)
