"""Losses vs NumPy formulas for every reduction, gradcheck on each, and bad-input errors."""
import sys

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

rng = np.random.default_rng(5)


def reduce(v, reduction):
    return {"none": v, "mean": v.mean(), "sum": v.sum()}[reduction]


REDUCTIONS = ("none", "mean", "sum")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(reduction):
    x, y = rng.standard_normal((4, 3)) * 2, rng.standard_normal((4, 3)) * 2
    d = x - y
    ad = np.abs(d)
    cases = [
        (nn.MSELoss(reduction=reduction), d ** 2),
        (nn.L1Loss(reduction=reduction), ad),
        (nn.SmoothL1Loss(reduction=reduction, beta=0.7), np.where(ad < 0.7, 0.5 * d ** 2 / 0.7, ad - 0.35)),
        (nn.HuberLoss(reduction=reduction, delta=1.3), np.where(ad < 1.3, 0.5 * d ** 2, 1.3 * (ad - 0.65))),
    ]
    for mod, ref in cases:
        np.testing.assert_allclose(mod(t64(x), t64(y)).numpy(), reduce(ref, reduction), rtol=1e-12)
        scalar_gradcheck(mod, t64(x, True), t64(y, True))


def log_softmax(x, axis=1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def ce_ref(x, y, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    """Class-index cross entropy by loops over samples, with PyTorch's label smoothing rule."""
    lp = log_softmax(x)
    c = x.shape[1]
    w = np.ones(c) if weight is None else weight
    nll, smooth, wsum = [], [], 0.0
    for i, t in enumerate(y):
        if t == ignore_index:
            nll.append(0.0)
            smooth.append(0.0)
            continue
        nll.append(-lp[i, t] * w[t])
        smooth.append(-(lp[i] * w).sum())
        wsum += w[t]
    nll, smooth = np.array(nll), np.array(smooth)
    if reduction == "none":
        return (1 - ls) * nll + ls / c * smooth
    if reduction == "sum":
        return (1 - ls) * nll.sum() + ls / c * smooth.sum()
    return (1 - ls) * nll.sum() / wsum + ls / c * smooth.sum() / wsum


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,ls", [(False, 0.0), (True, 0.0), (False, 0.2), (True, 0.3)])
def test_cross_entropy_class_indices(reduction, weighted, ls):
    x = rng.standard_normal((6, 4)) * 3
    y = np.array([0, 3, 1, -100, 2, 3])
    w = np.array([0.5, 1.0, 2.0, 1.5]) if weighted else None
    loss = nn.CrossEntropyLoss(weight=t64(w) if weighted else None, reduction=reduction, label_smoothing=ls)
    got = loss(t64(x), pt.tensor(y))
    np.testing.assert_allclose(got.numpy(), ce_ref(x, y, w, -100, reduction, ls), rtol=1e-12, atol=1e-14)
    scalar_gradcheck(lambda x: loss(x, pt.tensor(y)), t64(x, True))


def test_cross_entropy_probabilities_and_spatial():
    x = rng.standard_normal((3, 4, 2, 2))
    p = rng.random((3, 4, 2, 2))
    p /= p.sum(1, keepdims=True)
    w = np.array([1.0, 2.0, 0.5, 1.0])
    ref = -(log_softmax(x) * p * w[:, None, None]).sum(1)
    np.testing.assert_allclose(F.cross_entropy(t64(x), t64(p), t64(w), reduction="none").numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(t64(x), t64(p), t64(w)).numpy(), ref.sum() / 12, rtol=1e-12)
    ps = p * 0.9 + 0.1 / 4
    np.testing.assert_allclose(F.cross_entropy(t64(x), t64(p), label_smoothing=0.1, reduction="sum").numpy(),
                               -(log_softmax(x) * ps).sum(), rtol=1e-12)
    y = rng.integers(0, 4, (3, 2, 2))
    lp = log_softmax(x)
    ref = -np.take_along_axis(lp, y[:, None], 1)[:, 0]
    np.testing.assert_allclose(F.cross_entropy(t64(x), pt.tensor(y), reduction="none").numpy(), ref, rtol=1e-12)
    scalar_gradcheck(lambda x, p: F.cross_entropy(x, p), t64(x, True), t64(p, True))
    # unbatched: (C,) logits and a 0-d target
    np.testing.assert_allclose(F.cross_entropy(t64(x[0, :, 0, 0]), pt.tensor(2)).numpy(),
                               -log_softmax(x[0, :, 0, 0][None])[0, 2], rtol=1e-12)


def test_nll_loss():
    lp = log_softmax(rng.standard_normal((5, 3)))
    y = np.array([2, 0, 1, 1, 0])
    w = np.array([1.0, 3.0, 0.5])
    got = nn.NLLLoss(weight=t64(w))(t64(lp), pt.tensor(y))
    picked = lp[np.arange(5), y] * w[y]
    np.testing.assert_allclose(got.numpy(), -picked.sum() / w[y].sum(), rtol=1e-12)
    np.testing.assert_allclose(F.nll_loss(t64(lp), pt.tensor(y), ignore_index=1, reduction="sum").numpy(),
                               -lp[[0, 1, 4], [2, 0, 0]].sum(), rtol=1e-12)


def test_cross_entropy_errors():
    with pytest.raises(IndexError, match="Target 5 is out of bounds."):
        F.cross_entropy(pt.randn(2, 5), pt.tensor([1, 5]))
    with pytest.raises(IndexError, match="Target -1 is out of bounds."):
        F.nll_loss(pt.randn(2, 5), pt.tensor([-1, 0]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)."):
        F.cross_entropy(pt.randn(3, 5), pt.tensor([1, 2]))
    with pytest.raises(ValueError, match="nonsense is not a valid value for reduction"):
        F.cross_entropy(pt.randn(3, 5), pt.tensor([1, 2, 0]), reduction="nonsense")
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        F.cross_entropy(pt.randn(3, 5), pt.tensor([1, 2, 0]), label_smoothing=1.5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_losses(reduction):
    p = rng.random((4, 3)) * 0.9 + 0.05
    y = (rng.random((4, 3)) > 0.5).astype(float)
    w = rng.random((4, 3)) + 0.5
    ref = -w * (y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(nn.BCELoss(t64(w), reduction=reduction)(t64(p), t64(y)).numpy(),
                               reduce(ref, reduction), rtol=1e-12)
    scalar_gradcheck(lambda p: F.binary_cross_entropy(p, t64(y), t64(w), reduction=reduction), t64(p, True))
    x = rng.standard_normal((4, 3)) * 4
    pw = np.array([1.0, 2.0, 0.5])
    sig = 1 / (1 + np.exp(-x))
    ref = -w * (pw * y * np.log(sig) + (1 - y) * np.log(1 - sig))
    mod = nn.BCEWithLogitsLoss(weight=t64(w), reduction=reduction, pos_weight=t64(pw))
    np.testing.assert_allclose(mod(t64(x), t64(y)).numpy(), reduce(ref, reduction), rtol=1e-10)
    scalar_gradcheck(lambda x, y: mod(x, y), t64(x, True), t64(y, True))


def test_bce_extremes_and_errors():
    # log clamped at -100: BCE(0, 1) = 100; logits loss stays finite for huge logits
    np.testing.assert_allclose(F.binary_cross_entropy(t64([0.0]), t64([1.0])).numpy(), 100.0)
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(t64([800.0]), t64([0.0])).numpy(), 800.0)
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(t64([1.5]), t64([1.0]))
    with pytest.raises(ValueError, match="that is different to the input size"):
        F.binary_cross_entropy(t64([[0.5]]), t64([1.0]))
    # as PyTorch: the target in the input's dtype, and a floating-point input
    with pytest.raises(RuntimeError, match=r"^binary_cross_entropy\(\): Found dtype plugtorch.float32 but expected "
                                           r"plugtorch.float64"):
        F.binary_cross_entropy(t64([0.5]), pt.tensor([1.0]))
    with pytest.raises(NotImplementedError, match=r"^binary_cross_entropy\(\): not implemented for dtype "
                                                  r"plugtorch.int16 \('Short'\)"):
        F.binary_cross_entropy(pt.tensor([1], dtype=pt.int16), pt.tensor([0], dtype=pt.int16))


@pytest.mark.parametrize("device", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device"))])
def test_bce_gradient_at_the_ends_of_the_interval(device):
    # PyTorch's d/dx = (x - y) / max(x (1 - x), 1e-12): the derivative of the clamped logs gave 0 at
    # x = 0 (no signal where the loss is 100), -1 at x = y = 1 (the minimum) and -inf for a float32 x
    # whose 1 / x overflows; d/dy = log(1 - x) - log(x) with the logs clamped at -100
    x = pt.tensor([0.0, 1e-40, 1.0, 1.0, 0.5], device=device, requires_grad=True)
    y = pt.tensor([1.0, 1.0, 1.0, 0.0, 0.3], device=device, requires_grad=True)
    F.binary_cross_entropy(x, y, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [-1e12, -1e12, 0.0, 1e12, 0.8], rtol=1e-6)
    np.testing.assert_allclose(y.grad.cpu().numpy(), [100.0, -np.log(1e-40), -100.0, -100.0, 0.0], rtol=1e-5)
    # inside (0, 1) it is the derivative: finite differences, for input, target and weight, twice
    p, t, w = (t64(rng.random((3, 4)) * 0.8 + 0.1, True) for _ in range(3))
    scalar_gradcheck(lambda p, t, w: F.binary_cross_entropy(p, t, w), p, t, w)
    scalar_gradcheck(lambda p, t: F.binary_cross_entropy(p, t, t64([1.0, 2.0, 0.5, 1.5]), reduction="sum"), p, t)
    assert pt.autograd.gradgradcheck(lambda p, t: F.binary_cross_entropy(p, t, reduction="sum"), (p, t))

@pytest.mark.parametrize("reduction", ("none", "mean", "sum", "batchmean"))
def test_kl_div(reduction):
    lp = log_softmax(rng.standard_normal((3, 4)))
    t = rng.random((3, 4))
    t[0, 1] = 0.0
    t /= t.sum(1, keepdims=True)
    pointwise = np.where(t > 0, t * (np.log(np.where(t > 0, t, 1)) - lp), 0.0)
    ref = pointwise.sum() / 3 if reduction == "batchmean" else reduce(pointwise, reduction)
    kw = {"reduction": reduction}
    if reduction == "mean":
        with pytest.warns(UserWarning, match="batchmean"):
            got = F.kl_div(t64(lp), t64(t), **kw)
    else:
        got = nn.KLDivLoss(**kw)(t64(lp), t64(t))
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    lt = np.log(t + 0.1)
    np.testing.assert_allclose(nn.KLDivLoss(reduction="sum", log_target=True)(t64(lp), t64(lt)).numpy(),
                               (np.exp(lt) * (lt - lp)).sum(), rtol=1e-12)
    scalar_gradcheck(lambda a, b: F.kl_div(a, b, reduction="sum"), t64(lp, True), t64(t + 0.1, True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_embedding_and_ranking_losses(reduction):
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    y = np.array([1, -1, 1, -1, -1.0])
    cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
    ref = np.where(y == 1, 1 - cos, np.maximum(cos - 0.1, 0))
    mod = nn.CosineEmbeddingLoss(margin=0.1, reduction=reduction)
    np.testing.assert_allclose(mod(t64(a), t64(b), t64(y)).numpy(), reduce(ref, reduction), rtol=1e-12)
    scalar_gradcheck(lambda a, b: mod(a, b, t64(y)), t64(a, True), t64(b, True))
    x1, x2 = rng.standard_normal(5), rng.standard_normal(5)
    ref = np.maximum(0, -y * (x1 - x2) + 0.3)
    mod = nn.MarginRankingLoss(margin=0.3, reduction=reduction)
    np.testing.assert_allclose(mod(t64(x1), t64(x2), t64(y)).numpy(), reduce(ref, reduction), rtol=1e-12)
    scalar_gradcheck(lambda a, b: mod(a, b, t64(y)), t64(x1, True), t64(x2, True))


def test_legacy_reduction_flags():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        m = nn.MSELoss(size_average=False)
    assert m.reduction == "sum"


def test_nll_loss_gradcheck():
    w = t64([0.5, 2.0, 1.0])
    y = pt.tensor([2, 0, -100, 1])
    scalar_gradcheck(lambda x: F.nll_loss(x, y, w), t64(rng.standard_normal((4, 3)), True))
    scalar_gradcheck(lambda x: F.nll_loss(x, y, reduction="none"), t64(rng.standard_normal((4, 3)), True))


@pytest.mark.parametrize("ignore_index", [-100, 1])
@pytest.mark.parametrize("kw", [{}, {"weight": [0.5, 2.0, 1.0]}, {"label_smoothing": 0.2},
                                {"weight": [0.5, 2.0, 1.0], "label_smoothing": 0.2}])
@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
def test_mean_loss_with_every_target_ignored_is_nan_with_a_zero_gradient(loss, kw, ignore_index):
    # the mean over no counted sample is 0/0 = nan (as PyTorch), but each sample's share of the
    # gradient is 0: it used to be 0 * (1/0) = nan everywhere, poisoning the weights on a batch of padding
    if loss == "nll_loss" and "label_smoothing" in kw:
        return
    kw = {k: (t64(v) if k == "weight" else v) for k, v in kw.items()}
    x = t64(rng.standard_normal((3, 3)), True)
    out = getattr(F, loss)(x, pt.tensor([ignore_index] * 3), ignore_index=ignore_index, **kw)
    assert np.isnan(out.item())
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 3)))
    # one counted sample: the ordinary gradient, -w[t] / w[t] at its target for nll_loss
    x.grad = None
    getattr(F, loss)(x, pt.tensor([ignore_index, 2, ignore_index]), ignore_index=ignore_index, **kw).backward()
    if loss == "nll_loss":
        np.testing.assert_allclose(x.grad.numpy(), [[0, 0, 0], [0, 0, -1], [0, 0, 0]])
    assert np.isfinite(x.grad.numpy()).all() and not x.grad.numpy()[[0, 2]].any()


def test_cross_entropy_second_derivative_and_weight_grad():
    y = pt.tensor([0, 2, 1])
    x = t64(rng.standard_normal((3, 4)), True)
    assert pt.autograd.gradgradcheck(lambda x: F.cross_entropy(x, y, label_smoothing=0.2), (x,))
    scalar_gradcheck(lambda w: F.cross_entropy(x.detach(), y, w), t64([1.0, 2.0, 0.5, 1.0], True))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_grad_matches_numpy_with_weights_and_an_in_range_ignore_index(reduction):
    # input (N, C, d): nll_loss's own formula (a class mask, not a scatter) against the closed form
    x = rng.standard_normal((4, 3, 2))
    y = np.array([[0, 2], [1, 1], [2, 0], [1, 2]])
    w = np.array([0.5, 2.0, 1.5])
    xt = t64(x, True)
    loss = F.cross_entropy(xt, pt.tensor(y), t64(w), ignore_index=1, reduction=reduction)
    g = rng.standard_normal(loss.shape) if reduction == "none" else np.float64(1.3)
    loss.backward(t64(g))
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.moveaxis(np.eye(3)[y], -1, 1)
    wt = w[y] * (y != 1)                                   # per-element weight, 0 where ignored
    scale = g * wt / wt.sum() if reduction == "mean" else g * wt
    expected = (p - onehot) * np.expand_dims(scale, 1)
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-10, atol=1e-12)


# ---- cross_entropy's own formula (one graph node, its gradient as one op) -------------------------
def _ce_case(shape, weighted, ignore, ls, reduction):
    x = rng.standard_normal(shape) * 2
    c = shape[1] if len(shape) > 1 else shape[0]
    y = rng.integers(0, c, (shape[0],) + tuple(shape[2:]) if len(shape) > 1 else ())
    if ignore and y.ndim:
        y.reshape(-1)[1] = -100 if ignore == "default" else 1
    w = rng.uniform(0.5, 2.0, c) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=ls, ignore_index=1 if ignore == "class" else -100)
    return x, y, w, kw


CE_CASES = [((5, 4), False, None, 0.0, "mean"), ((5, 4), True, "default", 0.2, "mean"),
            ((3, 4, 2), True, "class", 0.1, "none"), ((3, 4, 2, 2), False, "default", 0.0, "sum"),
            ((4,), True, None, 0.3, "mean"), ((6, 3), False, "class", 0.0, "none")]


@pytest.mark.parametrize("shape,weighted,ignore,ls,reduction", CE_CASES)
def test_cross_entropy_formula_matches_finite_differences_and_the_decomposition(shape, weighted, ignore, ls, reduction):
    from plugtorch.nn.functional import loss as L
    x, y, w, kw = _ce_case(shape, weighted, ignore, ls, reduction)
    wt = t64(w) if weighted else None
    xt = t64(x, True)
    out = F.cross_entropy(xt, pt.tensor(y), wt, **kw)
    assert out.grad_fn.op.name == "cross_entropy"          # one node, not log_softmax + nll_loss
    if len(shape) == 2:
        np.testing.assert_allclose(out.detach().numpy(), ce_ref(x, y, w, kw["ignore_index"], reduction, ls),
                                   rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out.detach().numpy(), L.cross_entropy(t64(x), pt.tensor(y), wt, **kw).numpy(),
                               rtol=1e-12, atol=1e-14)
    g = rng.standard_normal(out.shape)
    got, = pt.autograd.grad(out, xt, t64(g))
    x2 = t64(x, True)
    want, = pt.autograd.grad(L.cross_entropy(x2, pt.tensor(y), wt, **kw), x2, t64(g))   # recorded step by step
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10, atol=1e-14)
    assert pt.autograd.gradcheck(lambda x: F.cross_entropy(x, pt.tensor(y), wt, **kw), (t64(x, True),))
    assert pt.autograd.gradgradcheck(lambda x: F.cross_entropy(x, pt.tensor(y), wt, **kw), (t64(x, True),))


@pytest.mark.parametrize("shape,weighted,ignore,ls,reduction", CE_CASES)
def test_cross_entropy_backward_kernel_matches_its_decomposition(shape, weighted, ignore, ls, reduction):
    from plugtorch.nn import ops as O
    x, y, w, kw = _ce_case(shape, weighted, ignore, ls, reduction)
    g = rng.standard_normal(y.shape if reduction == "none" else ())
    for dt, tol in ((pt.float64, 1e-12), (pt.float32, 1e-5)):
        args = (pt.tensor(g, dtype=dt), pt.tensor(x, dtype=dt), pt.tensor(y), None if w is None else pt.tensor(w, dtype=dt),
                kw["ignore_index"], reduction, ls)
        np.testing.assert_allclose(pt.ops._cross_entropy_backward(*args).numpy(),      # cpu's kernel
                                   O.cross_entropy_backward(*args).numpy(), rtol=tol, atol=tol)   # written with ops


def test_cross_entropy_differentiates_weights_and_probabilities_through_its_decomposition():
    x, y = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    w = t64(rng.uniform(0.5, 2.0, 3), True)
    out = F.cross_entropy(t64(x, True), pt.tensor(y), w, label_smoothing=0.1)
    assert out.grad_fn.op.name != "cross_entropy"   # the formula has no weight gradient: the steps are recorded
    assert pt.autograd.gradcheck(lambda x, w: F.cross_entropy(x, pt.tensor(y), w, label_smoothing=0.1),
                                 (t64(x, True), t64(w.detach().numpy(), True)))


def test_cross_entropy_backward_rejects_bad_arguments():
    x, y = pt.randn(3, 4), pt.tensor([0, 1, 2])
    with pytest.raises(RuntimeError, match=r"_cross_entropy_backward\(\): expected a plugtorch.float32 grad of shape \(\) "
                                           r"\(reduction 'mean'\), got plugtorch.float32 of shape \(3,\)"):
        pt.ops._cross_entropy_backward(pt.ones(3), x, y, None, -100, "mean", 0.0)
    with pytest.raises(RuntimeError, match="expected a floating point input"):
        pt.ops._cross_entropy_backward(pt.ones(()), y, y, None, -100, "mean", 0.0)
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        pt.ops._cross_entropy_backward(pt.ones(()), x, y, None, -100, "bogus", 0.0)
    with pytest.raises(TypeError, match="argument 'target' must be Tensor, not list"):
        pt.ops._cross_entropy_backward(pt.ones(()), x, [0, 1, 2], None, -100, "mean", 0.0)


def test_cross_entropy_refuses_an_ignore_index_with_class_probabilities():
    x, y = pt.zeros(2, 3), pt.full((2, 3), 1 / 3)
    assert F.cross_entropy(x, y, ignore_index=-5).item() == pytest.approx(np.log(3))   # negative: nothing to ignore
    with pytest.raises(RuntimeError, match=r"cross_entropy: ignore_index is not supported for floating point target "
                                           r"\(got ignore_index=1 with plugtorch.float32 class probabilities\)"):
        F.cross_entropy(x, y, ignore_index=1)   # (the same operands as the good call above: no cached pass)
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        F.cross_entropy(x.requires_grad_(), y, ignore_index=0)
    assert F.cross_entropy(x, pt.tensor([0, 1]), ignore_index=1).item() == pytest.approx(np.log(3))


def test_cross_entropy_rejects_probabilities_of_another_dtype():
    with pytest.raises(RuntimeError, match=r"expected target of the input's dtype plugtorch.float32 for class probabilities, "
                                           r"got plugtorch.float64; cast it with .to\(plugtorch.float32\)"):
        F.cross_entropy(pt.randn(2, 3), pt.full((2, 3), 1 / 3, dtype=pt.float64))


@pytest.mark.parametrize("layout", ["C", "F"])
def test_cross_entropy_kernels_leave_their_inputs_alone(layout):
    # the cpu kernels' short path works on a transposed copy of the logits: never on the logits
    x = np.asarray(rng.standard_normal((40, 7)), dtype=np.float32, order=layout)
    y = rng.integers(0, 7, 40)
    xt = pt.from_numpy(x).requires_grad_()
    before = x.copy()
    loss = F.cross_entropy(xt, pt.tensor(y))
    loss.backward()
    np.testing.assert_array_equal(x, before)
    lp = x - x.max(1, keepdims=True)
    lp -= np.log(np.exp(lp).sum(1, keepdims=True))
    np.testing.assert_allclose(loss.item(), -lp[np.arange(40), y].mean(), rtol=1e-6)
    p = np.exp(lp)
    p[np.arange(40), y] -= 1
    np.testing.assert_allclose(xt.grad.numpy(), p / 40, rtol=1e-5, atol=1e-7)


def test_cross_entropy_and_its_gradient_op_reject_bad_arguments():
    with pytest.raises(RuntimeError, match=r"cross_entropy\(\): expected a floating point input \(logits\), "
                                           r"got plugtorch.int64"):
        F.cross_entropy(pt.tensor([[1, 2]]), pt.tensor([0]))
    with pytest.raises(TypeError, match=r"cross_entropy\(\): argument 'target' must be Tensor, not list"):
        F.cross_entropy(pt.randn(2, 3), [0, 1])
    with pytest.raises(RuntimeError, match=r"weight tensor should be defined either for all 3 classes or no "
                                           r"classes but got weight tensor of shape: \[4\]"):
        pt.ops._cross_entropy_backward(pt.ones(()), pt.randn(2, 3), pt.tensor([0, 1]), pt.ones(4), -100, "mean", 0.0)


def test_nll_and_cross_entropy_refuse_a_weight_of_another_dtype():
    # a float64 (or int64) class weight with a float32 input was cast silently; PyTorch refuses it
    x, y = pt.randn(2, 3), pt.tensor([0, 1])
    for op, call in (("nll_loss", lambda w: F.nll_loss(x, y, w)), ("cross_entropy", lambda w: F.cross_entropy(x, y, w)),
                     ("cross_entropy", lambda w: F.cross_entropy(x, y, w, label_smoothing=0.1)),
                     ("nll_loss", lambda w: F.nll_loss(pt.randn(2, 3, 2, 2), pt.zeros(2, 2, 2, dtype=pt.int64), w))):
        for dtype, name in ((pt.float64, "Double"), (pt.int64, "Long")):
            with pytest.raises(RuntimeError, match=rf"^{op}\(\): expected scalar type Float but found {name}"):
                call(pt.ones(3, dtype=dtype))
    # the same dtype passes: 2 samples, weights 2 and 3 -> (2 * -x[0, 0] + 3 * -x[1, 1]) / 5
    w = pt.tensor([2.0, 3.0, 1.0])
    np.testing.assert_allclose(F.nll_loss(x, y, w).item(), -(2 * x[0, 0].item() + 3 * x[1, 1].item()) / 5, rtol=1e-6)

def test_cross_entropy_probability_targets_with_a_wrong_size_weight_raise_when_they_need_grad():
    # probability targets that require grad take the decomposition, which broadcast a (2,) weight
    # over 1 class and returned [-0., -0.]; the kernel path (and PyTorch) raise
    x, t = pt.randn(2, 1, requires_grad=True), pt.rand(2, 1, requires_grad=True)
    for kw in ({}, {"label_smoothing": 0.1}):
        with pytest.raises(RuntimeError, match=r"weight tensor should be defined either for all 1 classes or no "
                                               r"classes but got weight tensor of shape: \[2\]"):
            F.cross_entropy(x, t, pt.rand(2), reduction="none", **kw)


def test_hinge_losses_pass_the_gradient_at_the_hinge_as_clamp_min():
    # PyTorch writes these hinges as clamp_min(v, 0), whose gradient passes at v == 0; they used
    # where(v > 0, v, 0), which gave 0 there
    x = t64([1.0, 0.5], True)   # v = -1 * 1 + 1 = 0 and v = -0.5 + 0.5 = 0
    F.margin_ranking_loss(x, pt.zeros(2, dtype=pt.float64), t64([1.0, 1.0]), margin=0.5, reduction="sum").backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, -1.0])
    x = t64([1.0, 2.0], True)   # margin - x = 0 and -1
    F.hinge_embedding_loss(x, t64([-1.0, -1.0]), margin=1.0, reduction="sum").backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0])
    a = t64([[0.0, 0.0]], True)   # margin + |a - p| - |a - n| = 1 + 1 - 2 = 0
    F.triplet_margin_loss(a, t64([[1.0, 0.0]]), t64([[0.0, 2.0]]), margin=1.0, eps=0.0).backward()
    np.testing.assert_allclose(a.grad.numpy(), [[-1.0, 1.0]])   # (a-p)/|a-p| - (a-n)/|a-n|
    a = t64([[1.0, 0.0]], True)   # cos(a, b) = 0 = margin, target -1: d cos / d a = b/|a||b| - cos a/|a|^2
    F.cosine_embedding_loss(a, t64([[0.0, 2.0]]), t64([-1.0]), margin=0.0, reduction="sum").backward()
    np.testing.assert_allclose(a.grad.numpy(), [[0.0, 1.0]], atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_and_poisson_losses(reduction):
    # PyTorch's formulas (torch 2.13 gives the same values and gradients to 1e-12 on these kinds of inputs)
    x, y = rng.standard_normal((4, 3)) * 2, rng.choice([-1.0, 1.0], (4, 3))
    np.testing.assert_allclose(nn.SoftMarginLoss(reduction=reduction)(t64(x), t64(y)).numpy(),
                               reduce(np.log1p(np.exp(-y * x)), reduction), rtol=1e-12)
    y3 = np.where(rng.random((4, 3)) < 0.2, 0.5, y)     # a target neither 1 nor -1 takes both terms
    ref = np.where(y3 != 1, np.maximum(0.4 - x, 0), 0) + np.where(y3 != -1, x, 0)
    np.testing.assert_allclose(nn.HingeEmbeddingLoss(margin=0.4, reduction=reduction)(t64(x), t64(y3)).numpy(),
                               reduce(ref, reduction), rtol=1e-12)
    k = rng.poisson(2.0, (4, 3)).astype(float)
    stirling = np.where(k > 1, k * np.log(np.maximum(k, 1)) - k + 0.5 * np.log(2 * np.pi * np.maximum(k, 1)), 0)
    for log_input, full in ((True, False), (False, True)):
        rate = x if log_input else np.abs(x)
        ref = (np.exp(rate) - k * rate) if log_input else rate - k * np.log(rate + 1e-8)
        mod = nn.PoissonNLLLoss(log_input=log_input, full=full, reduction=reduction)
        np.testing.assert_allclose(mod(t64(rate), t64(k)).numpy(), reduce(ref + full * stirling, reduction),
                                   rtol=1e-12)
    a, p, n = (rng.standard_normal((5, 3)) for _ in range(3))
    dist = lambda u, v, q: (np.abs(u - v + 1e-6) ** q).sum(-1) ** (1 / q)   # noqa: E731
    for q, swap in ((2.0, False), (1.0, True)):
        d_neg = np.minimum(dist(a, n, q), dist(p, n, q)) if swap else dist(a, n, q)
        ref = np.maximum(1.5 + dist(a, p, q) - d_neg, 0)
        mod = nn.TripletMarginLoss(margin=1.5, p=q, swap=swap, reduction=reduction)
        np.testing.assert_allclose(mod(t64(a), t64(p), t64(n)).numpy(), reduce(ref, reduction), rtol=1e-12)
        scalar_gradcheck(lambda a, p, n: mod(a, p, n), t64(a, True), t64(p, True), t64(n, True))
    scalar_gradcheck(lambda x: F.soft_margin_loss(x, t64(y), reduction=reduction), t64(x, True))
    scalar_gradcheck(lambda r, k_: F.poisson_nll_loss(r, k_, log_input=False, full=True, reduction=reduction),
                     t64(np.abs(x) + 0.1, True), t64(k + 1.5, True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_class_margin_losses(reduction):
    x, y = rng.standard_normal((5, 4)), np.array([0, 3, 1, 2, 3])
    w = rng.uniform(0.5, 2, 4)
    for p, margin, weight in ((1, 1.0, None), (2, 0.6, w)):
        z = np.maximum(margin - x[np.arange(5), y][:, None] + x, 0) ** p
        z = z * (w[y][:, None] if weight is not None else 1)
        z[np.arange(5), y] = 0
        mod = nn.MultiMarginLoss(p=p, margin=margin, weight=None if weight is None else t64(w), reduction=reduction)
        np.testing.assert_allclose(mod(t64(x), pt.tensor(y)).numpy(), reduce(z.sum(1) / 4, reduction), rtol=1e-12)
    t = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 1, 2, 0], [2, 2, -1, -1], [1, -1, 3, 3]])
    ref = []
    for row, targets in zip(x, t):
        js = list(targets[:list(targets).index(-1)] if -1 in targets else targets)
        ref.append(sum(max(0.0, 1 - (row[j] - row[i])) for j in js for i in range(4) if i not in js) / 4)
    got = nn.MultiLabelMarginLoss(reduction=reduction)(t64(x), pt.tensor(t))
    np.testing.assert_allclose(got.numpy(), reduce(np.array(ref), reduction), rtol=1e-12)
    scalar_gradcheck(lambda x: F.multi_margin_loss(x, pt.tensor(y), p=2, reduction=reduction), t64(x, True))
    scalar_gradcheck(lambda x: F.multilabel_margin_loss(x, pt.tensor(t), reduction=reduction), t64(x, True))


def test_multi_class_margin_loss_errors():
    x = t64(rng.standard_normal((3, 4)))
    with pytest.raises(RuntimeError, match="^target out of range"):
        F.multi_margin_loss(x, pt.tensor([0, 4, 1]))
    with pytest.raises(RuntimeError, match=r"target tensor should be 1-D with size equal to the number of input "
                                           r"samples \(batch size\). Expected target size \[3\], but got \[2\]"):
        F.multi_margin_loss(x, pt.tensor([0, 1]))
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(x, pt.tensor([0, 1, 2]), p=3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(RuntimeError, match=r"inconsistent weight size, expected 4 but got \[3\]"):
        F.multi_margin_loss(x, pt.tensor([0, 1, 2]), weight=t64([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="expected scalar type Long but found plugtorch.float64"):
        F.multi_margin_loss(x, t64([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match=r"Expected non-empty vector or matrix with optional 0-dim batch size, "
                                           r"but got: \[2, 3, 4\]"):
        F.multi_margin_loss(t64(np.zeros((2, 3, 4))), pt.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="argument #2 'target' is out of range"):
        F.multilabel_margin_loss(x[0], pt.tensor([3, 0, -1, 5]))    # checked after a -1 too, as PyTorch
    with pytest.raises(RuntimeError, match=r"inconsistent target size: \[4\] for input of size: \[3, 4\]"):
        F.multilabel_margin_loss(x, pt.tensor([3, 0, -1, 1]))
    assert F.multi_margin_loss(t64(1.5), pt.tensor(0)).item() == 0.0           # one class: nothing to rank


def test_margin_and_poisson_loss_errors():
    x = t64(rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="^margin must be greater than 0, got 0"):
        F.triplet_margin_loss(x, x, x, margin=0)
    with pytest.raises(RuntimeError, match="expected to have the same number of dimensions, but got: anchor 2D, "
                                           "positive 1D, and negative 2D inputs"):
        F.triplet_margin_loss(x, x[0], x)
    with pytest.raises(RuntimeError, match=r"soft_margin_loss\(\): output with shape \[3\] doesn't match the "
                                           r"broadcast shape \[4, 3\]"):
        F.soft_margin_loss(x[0], x)
    for fn in (F.soft_margin_loss, F.hinge_embedding_loss, F.poisson_nll_loss):
        with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
            fn(x, x, reduction="avg")
    assert F.soft_margin_loss(t64(np.zeros(0)), t64(np.zeros(0))).isnan().item()    # mean of nothing, as PyTorch


# ---- the losses autocast lists are registry ops -------------------------------------------------
AUTOCAST_LOSSES = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "binary_cross_entropy",
                   "binary_cross_entropy_with_logits", "cosine_embedding_loss", "margin_ranking_loss",
                   "soft_margin_loss", "hinge_embedding_loss", "poisson_nll_loss", "triplet_margin_loss",
                   "multi_margin_loss", "multilabel_margin_loss")
THREE_INPUTS = {"cosine_embedding_loss": ("input1", "input2"), "margin_ranking_loss": ("input1", "input2"),
                "triplet_margin_loss": ("anchor", "positive")}


@pytest.mark.parametrize("name", AUTOCAST_LOSSES + ("cosine_similarity",))
def test_losses_are_composite_registry_ops_the_modes_see(name):
    from plugtorch.dispatch import registry
    from plugtorch.dispatch.dispatcher import DispatchMode
    op = registry.get(name)
    assert op.decomposition is not None and op.meta is None     # no kernel: every backend decomposes it
    assert getattr(F, name)._op is op and getattr(pt.ops, name)._op is op

    class Seen(DispatchMode):
        names = []

        def __plugtorch_dispatch__(self, op, args, kwargs, call):
            self.names.append(op.name)
            return call(args, kwargs)
    x = pt.tensor([[0.2, 0.7], [0.4, 0.9]])
    args = {"cosine_embedding_loss": (x, x.flip(0), pt.tensor([1.0, -1.0])),
            "margin_ranking_loss": (x, x.flip(0), pt.ones(2, 2)),
            "triplet_margin_loss": (x, x.flip(0), x * 2),
            "multi_margin_loss": (x, pt.tensor([1, 0])),
            "multilabel_margin_loss": (x, pt.tensor([[1, -1], [0, 1]])),
            "cosine_similarity": (x, x.flip(0))}.get(name, (x, x.flip(0)))
    kwargs = {"reduction": "batchmean"} if name == "kl_div" else {}
    with Seen() as seen:
        getattr(F, name)(*args, **kwargs)
    assert seen.names[0] == name


@pytest.mark.parametrize("name", AUTOCAST_LOSSES)
def test_losses_refuse_what_is_not_a_tensor(name):
    x = pt.tensor([0.5, 0.25])
    first, second = THREE_INPUTS.get(name, ("input", "target"))
    extra = (pt.ones(2),) if name in THREE_INPUTS else ()
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument '{first}' must be Tensor, not list"):
        getattr(F, name)([0.5, 0.25], x, *extra)
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument '{second}' must be Tensor, not NoneType"):
        getattr(F, name)(x, None, *extra)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_mse_l1_and_huber_losses(reduction):
    # PyTorch's weighted mse_loss and l1_loss average by the summed weights, sum(w l) / sum(w);
    # mse_loss gave the plain mean of w l, and l1_loss took no weight at all (TypeError).
    # Weighted huber_loss keeps the plain mean, as PyTorch's.
    x, y = rng.standard_normal((3, 4)) * 2, rng.standard_normal((3, 4))
    w = rng.random((3, 4)) * 2
    d = x - y
    huber = np.where(np.abs(d) < 1.0, 0.5 * d * d, np.abs(d) - 0.5)
    for fn, loss, weighted_mean in ((F.mse_loss, d * d, True), (F.l1_loss, np.abs(d), True), (F.huber_loss, huber, False)):
        got = fn(t64(x), t64(y), reduction=reduction, weight=t64(w)).numpy()
        ref = {"none": w * loss, "sum": (w * loss).sum(),
               "mean": (w * loss).sum() / w.sum() if weighted_mean else (w * loss).mean()}[reduction]
        np.testing.assert_allclose(got, ref, rtol=1e-12)
        scalar_gradcheck(lambda a, b: fn(a, t64(y), reduction=reduction, weight=b), t64(x, True), t64(w, True))
        with pytest.raises(ValueError, match=r"^Weights and input must have the same size"):
            fn(t64(x), t64(y), weight=t64(w[0]))

def test_loss_weights_must_be_tensors():
    x = pt.tensor([0.5, 0.25])
    with pytest.raises(TypeError, match=r"^mse_loss\(\): argument 'weight' must be Tensor, not list"):
        F.mse_loss(x, x, weight=[1.0, 2.0])
    with pytest.raises(TypeError, match=r"binary_cross_entropy_with_logits\(\): argument 'pos_weight' must be Tensor"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=2.0)


def test_loss_warnings_point_at_the_callers_line():
    # the op runs below the dispatcher (and autograd): the warning still names this file and line
    x = pt.ones(3, requires_grad=True)
    with pytest.warns(UserWarning, match="different to the input size") as w:
        line = sys._getframe().f_lineno + 1
        F.mse_loss(x, pt.ones(3, 1))
    assert (w[0].filename, w[0].lineno) == (__file__, line)
    with pytest.warns(UserWarning, match="'mean' divides the total loss") as w:
        line = sys._getframe().f_lineno + 1
        F.kl_div(x, x.detach())
    assert (w[0].filename, w[0].lineno) == (__file__, line)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_loss(reduction):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    v = rng.uniform(0.2, 2.0, (3, 4))

    def ref(v, full=False, eps=1e-6):
        v = np.maximum(np.broadcast_to(v, x.shape), eps)
        return reduce(0.5 * (np.log(v) + (x - y) ** 2 / v) + (0.5 * np.log(2 * np.pi) if full else 0), reduction)
    loss = nn.GaussianNLLLoss(reduction=reduction)
    np.testing.assert_allclose(loss(t64(x), t64(y), t64(v)).numpy(), ref(v), rtol=1e-12)
    np.testing.assert_allclose(F.gaussian_nll_loss(t64(x), t64(y), t64(v[:, 0]), full=True, reduction=reduction)
                               .numpy(), ref(v[:, :1], True), rtol=1e-12)          # one variance per row
    np.testing.assert_allclose(F.gaussian_nll_loss(t64(x), t64(y), t64(v[:1]), reduction=reduction).numpy(),
                               ref(v[:1]), rtol=1e-12)                              # a size-1 dim: shared
    np.testing.assert_allclose(F.gaussian_nll_loss(t64(x), t64(y), 0.5, reduction=reduction).numpy(),
                               ref(0.5), rtol=1e-12)
    tiny = v.copy()
    tiny[0, 0] = 1e-9
    np.testing.assert_allclose(F.gaussian_nll_loss(t64(x), t64(y), t64(tiny), eps=1e-3, reduction=reduction)
                               .numpy(), ref(tiny, eps=1e-3), rtol=1e-12)


def test_gaussian_nll_loss_gradients_and_errors():
    x, y, v = (t64(rng.standard_normal((3, 2)), True), t64(rng.standard_normal((3, 2))),
               t64(rng.uniform(0.5, 2.0, (3, 2)), True))
    scalar_gradcheck(lambda x, v: F.gaussian_nll_loss(x, y, v, reduction="none"), x, v)
    # the clamp at eps passes var's gradient through, as PyTorch's (var clamped under no_grad)
    v = t64([[1e-8, 2.0, 0.5]], True)
    F.gaussian_nll_loss(t64([[0.5, -1.0, 2.0]]), pt.zeros(1, 3, dtype=pt.float64), v, reduction="sum").backward()
    e = np.array([1e-6, 2.0, 0.5])
    np.testing.assert_allclose(v.grad.numpy()[0], 0.5 / e - 0.5 * np.array([0.25, 1, 4]) / e ** 2, rtol=1e-12)
    x = pt.randn(3, 4)
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        F.gaussian_nll_loss(x, x, -pt.ones(3, 4))
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        F.gaussian_nll_loss(x, x, -1.0)
    with pytest.raises(ValueError, match=r"var is of incorrect size: \[2, 4\] for input \[3, 4\]"):
        F.gaussian_nll_loss(x, x, pt.ones(2, 4))
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        F.gaussian_nll_loss(x, x, pt.ones(3, 4), reduction="avg")
    assert repr(nn.GaussianNLLLoss(full=True)) == "GaussianNLLLoss()" and nn.GaussianNLLLoss(eps=0.1).eps == 0.1


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin_loss(reduction):
    x = rng.standard_normal((4, 3)) * 3
    x[0, 0] = 40.0                                        # exp(-x) and exp(x) far apart: the stable form
    y = (rng.random((4, 3)) > 0.5).astype(np.float64)
    w = rng.uniform(0.5, 2.0, 3)
    logsig = lambda z: -np.logaddexp(0, -z)  # noqa: E731
    per = -(y * logsig(x) + (1 - y) * logsig(-x))
    mod = nn.MultiLabelSoftMarginLoss(weight=t64(w), reduction=reduction)
    assert "weight" in dict(mod.named_buffers())
    np.testing.assert_allclose(mod(t64(x), t64(y)).numpy(), reduce((per * w).mean(1), reduction), rtol=1e-12)
    np.testing.assert_allclose(F.multilabel_soft_margin_loss(t64(x[1]), t64(y[1]), reduction=reduction).numpy(),
                               per[1].mean(), rtol=1e-12)          # unbatched: one loss
    scalar_gradcheck(lambda x: F.multilabel_soft_margin_loss(x, t64(y), reduction=reduction),
                     t64(rng.standard_normal((4, 3)), True))


def test_multilabel_soft_margin_loss_errors():
    with pytest.raises(NotImplementedError, match=r"multilabel_soft_margin_loss\(\): not implemented for dtype"):
        F.multilabel_soft_margin_loss(pt.tensor([[1, 0]]), pt.tensor([[1, 0]]))
    with pytest.raises(RuntimeError, match="expected an input of 1 or more dims"):
        F.multilabel_soft_margin_loss(pt.tensor(0.5), pt.tensor(1.0))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin_with_distance_loss(reduction):
    a, p, n = (rng.standard_normal((5, 3)) for _ in range(3))
    l1 = lambda u, v: (u - v).abs().sum(-1)  # noqa: E731

    def ref(dpos, dneg):
        return reduce(np.maximum(2.0 + dpos - dneg, 0), reduction)
    d = lambda u, v: np.abs(u - v).sum(-1)  # noqa: E731
    mod = nn.TripletMarginWithDistanceLoss(distance_function=l1, margin=2.0, reduction=reduction)
    np.testing.assert_allclose(mod(t64(a), t64(p), t64(n)).numpy(), ref(d(a, p), d(a, n)), rtol=1e-12)
    got = F.triplet_margin_with_distance_loss(t64(a), t64(p), t64(n), distance_function=l1, margin=2.0, swap=True,
                                              reduction=reduction)
    np.testing.assert_allclose(got.numpy(), ref(d(a, p), np.minimum(d(a, n), d(p, n))), rtol=1e-12)
    # the default distance is pairwise_distance: triplet_margin_loss's p=2 distance
    np.testing.assert_allclose(nn.TripletMarginWithDistanceLoss(reduction=reduction)(t64(a), t64(p), t64(n)).numpy(),
                               F.triplet_margin_loss(t64(a), t64(p), t64(n), reduction=reduction).numpy(), rtol=1e-12)
    scalar_gradcheck(lambda a, n: F.triplet_margin_with_distance_loss(a, t64(p), n, distance_function=l1,
                                                                      margin=20.0, reduction=reduction),
                     t64(a, True), t64(n, True))


def test_triplet_margin_with_distance_loss_errors_and_distance_modules():
    x = pt.randn(4, 3)
    with pytest.raises(ValueError, match="margin must be greater than 0, got 0"):
        F.triplet_margin_with_distance_loss(x, x, x, margin=0)
    with pytest.raises(ValueError, match="TripletMarginWithDistanceLoss: expected margin to be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=-1.0)
    with pytest.raises(RuntimeError, match="anchor 2D, positive 1D, and negative 2D inputs"):
        F.triplet_margin_with_distance_loss(x, x[0], x)
    assert repr(nn.TripletMarginWithDistanceLoss()) == \
        "TripletMarginWithDistanceLoss(\n  (distance_function): PairwiseDistance()\n)"
    u, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True)(t64(u), t64(v)).numpy(),
                               np.abs(u - v).sum(-1, keepdims=True), rtol=1e-12)
    cos = (u * v).sum(0) / np.sqrt((u * u).sum(0) * (v * v).sum(0))
    np.testing.assert_allclose(nn.CosineSimilarity(dim=0)(t64(u), t64(v)).numpy(), cos, rtol=1e-12)


def ctc_brute_force(lp, target, blank):
    """-log of the summed probability of every frame path that collapses to ``target`` (merge
    repeats, drop blanks): all C^T paths enumerated, independent of the alpha recursion."""
    import itertools
    T, C = lp.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
        if [k for k in merged if k != blank] == list(target):
            total += np.exp(sum(lp[t, k] for t, k in enumerate(path)))
    return -np.log(total) if total > 0 else np.inf


@pytest.mark.parametrize("blank", [0, 2])
def test_ctc_loss_matches_brute_force(blank):
    T, C = 5, 3
    lp = np.log(rng.dirichlet(np.ones(C), size=(T, 3)))                # (T, N, C)
    labels = [l for l in range(C) if l != blank]
    targets = [[labels[0], labels[1], labels[1]], [labels[1], labels[1]], [labels[0]]]   # a repeat needs a blank
    in_len, tg_len = [5, 4, 2], [len(t) for t in targets]
    ref = np.array([ctc_brute_force(lp[:in_len[n], n], targets[n], blank) for n in range(3)])
    padded = pt.tensor([t + [blank] * (3 - len(t)) for t in targets])
    for red, want in (("none", ref), ("sum", ref.sum()), ("mean", (ref / np.array(tg_len)).mean())):
        got = F.ctc_loss(t64(lp), padded, pt.tensor(in_len), pt.tensor(tg_len), blank=blank, reduction=red)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)
    flat = pt.tensor(sum(targets, []))                                  # the concatenated targets
    np.testing.assert_allclose(F.ctc_loss(t64(lp), flat, in_len, tuple(tg_len), blank=blank, reduction="none")
                               .numpy(), ref, rtol=1e-10)
    one = F.ctc_loss(t64(lp[:, 0]), pt.tensor(targets[0]), pt.tensor(5), pt.tensor(3), blank=blank,
                     reduction="none")                                  # unbatched
    assert one.ndim == 0 and np.isclose(one.item(), ref[0], rtol=1e-10)
    mod = nn.CTCLoss(blank=blank, reduction="sum")
    np.testing.assert_allclose(mod(t64(lp), padded, in_len, tg_len).numpy(), ref.sum(), rtol=1e-10)


def test_ctc_loss_keeps_float32_under_a_float64_default_dtype():
    # two frames with p(blank) = p(1) = 1/2, target [1]: alignments 1-1, blank-1, 1-blank, so -log(3/4)
    old = pt.get_default_dtype()
    pt.set_default_dtype(pt.float64)
    try:
        lp = pt.full((2, 1, 2), 0.5, dtype=pt.float32).log()
        for red in ("none", "mean", "sum"):
            loss = F.ctc_loss(lp, pt.tensor([[1]]), pt.tensor([2]), pt.tensor([1]), reduction=red)
            assert loss.dtype == pt.float32, red
            np.testing.assert_allclose(loss.numpy().ravel(), [-np.log(0.75)], rtol=1e-6)
    finally:
        pt.set_default_dtype(old)


def test_ctc_loss_gradients_impossible_and_errors():
    lp = np.log(rng.dirichlet(np.ones(4), size=(4, 2)))
    tg, il, tl = pt.tensor([[1, 2], [3, 3]]), pt.tensor([4, 3]), pt.tensor([2, 2])
    scalar_gradcheck(lambda x: F.ctc_loss(x, tg, il, tl, reduction="none"), t64(lp, True))   # d/d log_probs
    scalar_gradcheck(lambda z: F.ctc_loss(z.log_softmax(2), tg, il, tl), t64(rng.standard_normal((4, 2, 4)), True))
    # [3, 3] needs 3 frames (3, blank, 3): in 2 it is impossible, inf, or 0 with zero_infinity (no NaN gradient)
    x = t64(lp[:2], True)
    loss = F.ctc_loss(x, tg, pt.tensor([2, 2]), tl, reduction="none")
    assert np.isfinite(loss[0].item()) and loss[1].item() == np.inf
    loss = F.ctc_loss(x, tg, pt.tensor([2, 2]), tl, reduction="sum", zero_infinity=True)
    loss.backward()
    assert np.isclose(loss.item(), ctc_brute_force(lp[:2, 0], [1, 2], 0)) and np.all(np.isfinite(x.grad.numpy()))
    assert np.all(x.grad.numpy()[:, 1] == 0)
    assert repr(nn.CTCLoss(blank=1, zero_infinity=True)) == "CTCLoss()"
    lpt = t64(lp)
    cases = [
        (lambda: F.ctc_loss(lpt, tg, pt.tensor([5, 3]), tl), RuntimeError,
         "Expected input_lengths to have value at most 4"),
        (lambda: F.ctc_loss(lpt, tg, il, pt.tensor([3, 2])), RuntimeError,
         "Expected tensor to have size at least the largest target length at dimension 1, but got size 2"),
        (lambda: F.ctc_loss(lpt, tg, il, tl, blank=4), RuntimeError, "blank must be in label range"),
        (lambda: F.ctc_loss(lpt, tg, il[:1], tl), RuntimeError, "input_lengths must be of size batch_size"),
        (lambda: F.ctc_loss(lpt, tg, il, tl[:1]), RuntimeError, "target_lengths must be of size batch_size"),
        (lambda: F.ctc_loss(lpt, pt.tensor([[1, 5], [1, 1]]), il, tl), RuntimeError,
         r"target labels must be in \[0, 4\)"),
        (lambda: F.ctc_loss(lpt, pt.tensor([1, 2, 3]), il, tl), RuntimeError, "target_lengths sum to 4, more than"),
        (lambda: F.ctc_loss(lpt.reshape(4, 2, 2, 2), tg, il, tl), RuntimeError, "expected log_probs of shape"),
        (lambda: F.ctc_loss(lpt, tg, il, tl, reduction="avg"), ValueError, "avg is not a valid value"),
        # as torch's argument parser: lengths are two tensors or two sequences of ints
        (lambda: F.ctc_loss(lpt, tg, [4, 3], tl), TypeError,
         "input_lengths and target_lengths must both be tensors or both sequences of ints, got list and Tensor"),
        (lambda: F.ctc_loss(lpt, tg, [4.0, 3.0], [2, 2]), TypeError,
         "input_lengths must be a tensor or a sequence of ints, got a list holding a float"),
    ]
    for call, err, match in cases:
        with pytest.raises(err, match=match):
            call()


def test_smooth_l1_and_huber_gradients_at_an_infinite_difference_are_finite():
    # the quadratic piece's unchosen gradient was 0 * inf = nan at d = inf; the linear piece's is +-1
    # (smooth_l1) and +-delta (huber)
    x = t64([np.inf, -np.inf, 0.25, 3.0], True)
    F.smooth_l1_loss(x, pt.zeros(4, dtype=pt.float64), beta=0.5, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, 0.5, 1.0])   # 0.25 / beta inside
    x.grad = None
    F.huber_loss(x, pt.zeros(4, dtype=pt.float64), delta=2.0, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -2.0, 0.25, 2.0])
