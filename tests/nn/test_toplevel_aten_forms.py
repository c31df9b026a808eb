"""torch's top-level forms with ATen's argument orders (plugtorch/_nn_toplevel.py): normalisation,
embeddings, dropouts, losses with integer reductions, convolution, grid sampling, the functional
RNN cells, the samplers poisson/binomial, frombuffer/empty_permuted/from_file, cond/while_loop."""
import math

import numpy as np
import pytest
import scipy.special

import plugtorch as pt
import plugtorch.nn.functional as F

RNG = np.random.default_rng(0)


def _t(a):
    return pt.tensor(np.asarray(a, dtype=np.float64))


def test_batch_norm_and_instance_norm_argument_order():
    x = RNG.standard_normal((4, 3))
    w, b = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 1.0])
    rm, rv = np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 4.0])
    out = pt.batch_norm(_t(x), _t(w), _t(b), _t(rm), _t(rv), False, 0.1, 1e-5, False)
    np.testing.assert_allclose(out.numpy(), (x - rm) / np.sqrt(rv + 1e-5) * w + b, rtol=1e-12)
    rm_t, rv_t = _t(rm), _t(rv)
    out = pt.batch_norm(_t(x), None, None, rm_t, rv_t, True, 0.1, 1e-5, True)
    np.testing.assert_allclose(out.numpy(), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-10)
    np.testing.assert_allclose(rm_t.numpy(), 0.9 * rm + 0.1 * x.mean(0), rtol=1e-12)   # running stats updated
    y = RNG.standard_normal((2, 3, 5))
    out = pt.instance_norm(_t(y), None, None, None, None, True, 0.1, 1e-5, False)
    ref = (y - y.mean(-1, keepdims=True)) / np.sqrt(y.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_embedding_weight_first():
    w = RNG.standard_normal((5, 3))
    idx = np.array([[4, 0], [2, 2]])
    np.testing.assert_array_equal(pt.embedding(_t(w), pt.tensor(idx)).numpy(), w[idx])
    wt = _t(w).requires_grad_()
    pt.embedding(wt, pt.tensor([1, 2]), 2).sum().backward()       # padding_idx 2: no gradient there
    assert wt.grad[:, 0].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]
    wt.grad = None
    pt.embedding(wt, pt.tensor([4, 2])).sum().backward()          # padding_idx -1 means none
    assert wt.grad[:, 0].tolist() == [0.0, 0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_embedding_bag_outputs(mode):
    w = np.eye(3) * np.arange(1.0, 4.0)
    out, offset2bag, bag_size, max_indices = pt.embedding_bag(_t(w), pt.tensor([2, 0, 1]), pt.tensor([0, 2]),
                                                              mode=mode)
    rows = w[[2, 0, 1]]
    ref = [np.stack([rows[:2].sum(0), rows[2:].sum(0)]), np.stack([rows[:2].mean(0), rows[2:].mean(0)]),
           np.stack([rows[:2].max(0), rows[2:].max(0)])][mode]
    np.testing.assert_allclose(out.numpy(), ref)
    # torch 2.13's cpu results for this input
    if mode == 0:
        assert offset2bag.numel() == 0 and bag_size.tolist() == [0, 0] and max_indices.tolist() == [0, 0]
    else:
        assert offset2bag.tolist() == [0, 0, 1] and bag_size.tolist() == [2, 1]
        assert max_indices.tolist() == ([2, 1] if mode == 1 else [[0, 2, 2], [1, 1, 1]])


def test_embedding_renorm_():
    w = pt.eye(3, dtype=pt.float64) * 3
    assert pt.embedding_renorm_(w, pt.tensor([0, 0, 1]), 1.0, 2.0) is w
    np.testing.assert_allclose(w.numpy(), np.diag([3 / (3 + 1e-7), 3 / (3 + 1e-7), 3.0]), rtol=1e-12)


def test_dropouts():
    x = pt.ones(4)
    assert pt.dropout_(x, 0.5, False) is x and x.tolist() == [1.0] * 4
    assert pt.dropout_(x, 1.0, True).tolist() == [0.0] * 4
    with pytest.raises(RuntimeError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        pt.alpha_dropout_(pt.ones(4), 1.5, True)
    y = pt.ones(2, 3)
    assert pt.alpha_dropout_(y, 0.0, True) is y and pt.feature_alpha_dropout_(y, 0.5, False) is y
    pt.manual_seed(0)
    z = pt.feature_dropout(pt.ones(200, 50, 4), 0.3, True).numpy()
    per_channel = z.reshape(200 * 50, 4)
    assert ((per_channel == 0).all(1) | np.isclose(per_channel, 1 / 0.7).all(1)).all()   # whole channels
    dropped = (per_channel == 0).all(1).mean()
    assert abs(dropped - 0.3) < 5 * math.sqrt(0.3 * 0.7 / 10000)
    z = pt.ones(3, 4, 2)
    assert pt.feature_dropout_(z, 0.5, True) is z
    assert pt.feature_dropout(z, 0.5, False) is z
    with pytest.raises(RuntimeError, match="at least 2-D"):
        pt.feature_dropout(pt.ones(5), 0.5, True)


def test_losses_with_integer_reductions():
    a, b = np.array([-1.0, -2.0]), np.array([0.3, 0.7])
    kl = b * (np.log(b) - a)
    np.testing.assert_allclose(pt.kl_div(_t(a), _t(b)).numpy(), kl, rtol=1e-12)        # torch: unreduced by default
    np.testing.assert_allclose(pt.kl_div(_t(a), _t(b), 1).item(), kl.mean(), rtol=1e-12)
    np.testing.assert_allclose(pt.kl_div(_t(a), _t(b), 2).item(), kl.sum(), rtol=1e-12)
    np.testing.assert_allclose(pt.kl_div(_t(np.log(b)), _t(np.log(b)), 2, log_target=True).item(), 0.0)
    x, t = np.array([0.5, 2.0]), np.array([1.0, -1.0])
    np.testing.assert_allclose(pt.hinge_embedding_loss(_t(x), _t(t)).numpy(), [0.5, 0.0])
    x1, x2, y = np.array([1.0, 2.0]), np.array([2.0, 1.0]), np.array([1.0, 1.0])
    np.testing.assert_allclose(pt.margin_ranking_loss(_t(x1), _t(x2), _t(y), 0.5, 2).item(),
                               np.maximum(0, -y * (x1 - x2) + 0.5).sum())
    logits, target = np.array([0.5, 2.0]), np.array([1.0, 0.0])
    bce = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    np.testing.assert_allclose(pt.binary_cross_entropy_with_logits(_t(logits), _t(target)).numpy(), bce, rtol=1e-12)
    np.testing.assert_allclose(pt.binary_cross_entropy_with_logits(_t(logits), _t(target), None, _t([2.0, 2.0]), 1)
                               .item(), np.mean(2 * target * np.log1p(np.exp(-logits)) + (1 - target) *
                                                (logits + np.log1p(np.exp(-logits)))), rtol=1e-12)
    np.testing.assert_allclose(pt.poisson_nll_loss(_t(logits), _t(target), True, False, 1e-8, 1).item(),
                               np.mean(np.exp(logits) - target * logits), rtol=1e-12)
    u, v = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    cos = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    lab = np.array([1.0, -1.0, -1.0])
    np.testing.assert_allclose(pt.cosine_embedding_loss(_t(u), _t(v), _t(lab), 0.1).numpy(),
                               np.where(lab == 1, 1 - cos, np.maximum(0, cos - 0.1)), rtol=1e-10)
    n = RNG.standard_normal((3, 4))
    d_ap, d_an = np.linalg.norm(u - v + 1e-6, axis=1), np.linalg.norm(u - n + 1e-6, axis=1)
    np.testing.assert_allclose(pt.triplet_margin_loss(_t(u), _t(v), _t(n)).numpy(),
                               np.maximum(d_ap - d_an + 1.0, 0), rtol=1e-10)
    lp = pt.tensor(RNG.standard_normal((5, 2, 3))).log_softmax(2)
    targets, il, tl = pt.tensor([[1, 2], [2, 2]]), [5, 4], [2, 2]
    np.testing.assert_allclose(pt.ctc_loss(lp, targets, il, tl).numpy(),
                               F.ctc_loss(lp, targets, il, tl, reduction="none").numpy())
    np.testing.assert_allclose(pt.ctc_loss(lp, targets, il, tl, 0, 1).item(), F.ctc_loss(lp, targets, il, tl).item())


def test_convolution():
    x, w = RNG.standard_normal((1, 2, 6)), RNG.standard_normal((3, 2, 3))
    out = pt.convolution(_t(x), _t(w), _t([1.0, 0.0, -1.0]), [1], [1], [1], False, [0], 1)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1)))
    ref = np.stack([sum(np.correlate(xp[0, c], w[o, c], "valid") for c in range(2)) for o in range(3)])
    np.testing.assert_allclose(out.numpy()[0], ref + np.array([[1.0], [0.0], [-1.0]]), rtol=1e-10)
    np.testing.assert_allclose(pt.convolution(pt.ones(1, 1, 4), pt.ones(1, 1, 2), None, [1], [0], [1], True, [0], 1)
                               .numpy(), [[[1.0, 2.0, 2.0, 2.0, 1.0]]])
    x2, w2 = pt.tensor(RNG.standard_normal((1, 2, 5, 5))), pt.tensor(RNG.standard_normal((4, 1, 3, 3)))
    np.testing.assert_allclose(pt.convolution(x2, w2, None, [2, 1], [1, 0], [1, 1], False, [0, 0], 2).numpy(),
                               F.conv2d(x2, w2, None, (2, 1), (1, 0), 1, 2).numpy())
    with pytest.raises(RuntimeError, match="3-D, 4-D or 5-D weight"):
        pt.convolution(pt.ones(1, 1, 4), pt.ones(2, 2), None, [1], [0], [1], False, [0], 1)


def test_grid_sampler_and_affine_grid_generator():
    theta = pt.eye(2, 3)[None]
    grid = pt.affine_grid_generator(theta, [1, 1, 2, 2], False)
    assert grid.tolist() == [[[[-0.5, -0.5], [0.5, -0.5]], [[-0.5, 0.5], [0.5, 0.5]]]]
    img = pt.tensor(RNG.standard_normal((1, 2, 4, 4)))
    g = pt.tensor(RNG.uniform(-1.2, 1.2, (1, 3, 3, 2)))
    for im, mode in enumerate(("bilinear", "nearest", "bicubic")):
        for ip, pad in enumerate(("zeros", "border", "reflection")):
            np.testing.assert_allclose(pt.grid_sampler(img, g, im, ip, True).numpy(),
                                       F.grid_sample(img, g, mode, pad, True).numpy())
    np.testing.assert_allclose(pt.grid_sampler_2d(img, g, 0, 0, False).numpy(),
                               F.grid_sample(img, g, "bilinear", "zeros", False).numpy())
    # identity grid at the pixel centres gives the image back
    np.testing.assert_allclose(pt.grid_sampler(img, F.affine_grid(theta.double(), [1, 2, 4, 4], False), 0, 0, False)
                               .numpy(), img.numpy(), atol=1e-12)
    with pytest.raises(RuntimeError, match="interpolation_mode 0 \\(bilinear\\)"):
        pt.grid_sampler(img, g, 3, 0, False)
    with pytest.raises(RuntimeError, match="expected a 5-D input"):
        pt.grid_sampler_3d(img, g, 0, 0, False)


def _sig(x):
    return scipy.special.expit(x)


def test_rnn_cells_against_numpy():
    x, h, c = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 4)), RNG.standard_normal((2, 4))
    w_ih4, w_hh4 = RNG.standard_normal((16, 3)), RNG.standard_normal((16, 4))
    b_ih4, b_hh4 = RNG.standard_normal(16), RNG.standard_normal(16)
    g = x @ w_ih4.T + b_ih4 + h @ w_hh4.T + b_hh4
    i, f, gg, o = np.split(g, 4, axis=1)
    c2 = _sig(f) * c + _sig(i) * np.tanh(gg)
    h2, c2_ = pt.lstm_cell(_t(x), (_t(h), _t(c)), _t(w_ih4), _t(w_hh4), _t(b_ih4), _t(b_hh4))
    np.testing.assert_allclose(c2_.numpy(), c2, rtol=1e-10)
    np.testing.assert_allclose(h2.numpy(), _sig(o) * np.tanh(c2), rtol=1e-10)
    w_ih, w_hh = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 4))
    pre = x @ w_ih.T + h @ w_hh.T
    np.testing.assert_allclose(pt.rnn_tanh_cell(_t(x), _t(h), _t(w_ih), _t(w_hh)).numpy(), np.tanh(pre), rtol=1e-10)
    np.testing.assert_allclose(pt.rnn_relu_cell(_t(x), _t(h), _t(w_ih), _t(w_hh)).numpy(), np.maximum(pre, 0))
    w_ih3, w_hh3, b3 = RNG.standard_normal((12, 3)), RNG.standard_normal((12, 4)), RNG.standard_normal(12)
    gi, gh = x @ w_ih3.T + b3, h @ w_hh3.T
    r, z = _sig(gi[:, :4] + gh[:, :4]), _sig(gi[:, 4:8] + gh[:, 4:8])
    n = np.tanh(gi[:, 8:] + r * gh[:, 8:])
    np.testing.assert_allclose(pt.gru_cell(_t(x), _t(h), _t(w_ih3), _t(w_hh3), _t(b3)).numpy(), (1 - z) * n + z * h,
                               rtol=1e-10)
    # the same as the modules with those weights
    cell = pt.nn.GRUCell(3, 4).double()
    np.testing.assert_allclose(
        pt.gru_cell(_t(x), _t(h), cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh).detach().numpy(),
        cell(_t(x), _t(h)).detach().numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="hx must be a pair"):
        pt.lstm_cell(_t(x), _t(h), _t(w_ih4), _t(w_hh4))


N = 50_000


def test_poisson_moments_and_checks():
    rates = pt.tensor([0.0, 0.5, 4.0, 30.0], dtype=pt.float64).repeat(N, 1)
    draws = pt.poisson(rates, generator=pt.Generator().manual_seed(0)).numpy()
    assert (draws[:, 0] == 0).all() and (draws == np.round(draws)).all() and (draws >= 0).all()
    for j, lam in enumerate([0.5, 4.0, 30.0], start=1):
        assert abs(draws[:, j].mean() - lam) < 5 * math.sqrt(lam / N)
        assert abs(draws[:, j].var() - lam) < 5 * lam * math.sqrt(2 / N) + 0.05 * lam
    a = pt.poisson(pt.full((6,), 3.0), generator=pt.Generator().manual_seed(4))
    assert a.tolist() == pt.poisson(pt.full((6,), 3.0), generator=pt.Generator().manual_seed(4)).tolist()
    with pytest.raises(RuntimeError, match="invalid Poisson rate, expected rate to be non-negative"):
        pt.poisson(pt.tensor([-1.0, 2.0]))
    with pytest.raises(NotImplementedError, match="floating-point"):
        pt.poisson(pt.tensor([1, 2]))


def test_binomial_moments_and_checks():
    count = pt.tensor([10.0, 40.0, 200.0], dtype=pt.float64).repeat(N, 1)
    prob = pt.tensor([0.3, 0.9, 0.5], dtype=pt.float64).repeat(N, 1)
    draws = pt.binomial(count, prob, generator=pt.Generator().manual_seed(1)).numpy()
    assert (draws >= 0).all() and (draws <= count.numpy()).all() and (draws == np.round(draws)).all()
    for j, (n, p) in enumerate([(10, 0.3), (40, 0.9), (200, 0.5)]):
        var = n * p * (1 - p)
        assert abs(draws[:, j].mean() - n * p) < 5 * math.sqrt(var / N)
        assert abs(draws[:, j].var() - var) < 0.05 * var
    assert pt.binomial(pt.tensor([10.0, 5.0]), pt.tensor([0.0, 1.0])).tolist() == [0.0, 5.0]
    with pytest.raises(ValueError, match="binomial only supports floating-point dtypes for count, got: "):
        pt.binomial(pt.tensor([10, 5]), pt.tensor([0.5, 0.5]))
    with pytest.raises(RuntimeError, match="same dtype"):
        pt.binomial(pt.tensor([10.0]), pt.tensor([0.5], dtype=pt.float64))


def test_frombuffer_shares_memory():
    buf = bytearray(np.arange(6, dtype=np.int16).tobytes())
    t = pt.frombuffer(buf, dtype=pt.int16)
    assert t.tolist() == [0, 1, 2, 3, 4, 5]
    buf[0] = 7
    assert t[0].item() == 7                                       # a view of the buffer, as torch's
    assert pt.frombuffer(buf, dtype=pt.int16, count=2, offset=4).tolist() == [2, 3]
    assert pt.frombuffer(buf, dtype=pt.float32, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="must be a multiple of element size"):
        pt.frombuffer(bytearray(3), dtype=pt.int16)
    with pytest.raises(ValueError, match="must not be greater than actual buffer length"):
        pt.frombuffer(buf, dtype=pt.int16, count=10)
    with pytest.raises(ValueError, match="offset"):
        pt.frombuffer(buf, dtype=pt.int16, offset=12)


def test_empty_permuted_and_from_file(tmp_path):
    t = pt.empty_permuted((2, 3, 4), (0, 2, 1), dtype=pt.float64)
    assert t.shape == (2, 3, 4) and t.dtype is pt.float64 and t.stride() == (12, 1, 3)
    with pytest.raises(RuntimeError, match="must be a permutation"):
        pt.empty_permuted((2, 3), (0, 0))
    path = tmp_path / "data.bin"
    np.arange(10, dtype=np.float32).tofile(path)
    assert pt.from_file(str(path), size=4, dtype=pt.float32).tolist() == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(RuntimeError, match="fewer than size=20"):
        pt.from_file(str(path), size=20, dtype=pt.float32)
    with pytest.raises(NotImplementedError, match="shared=True"):
        pt.from_file(str(path), True, 4)


def test_cond_and_while_loop():
    x = pt.tensor([1.0, 2.0])
    assert pt.cond(x.sum() > 2, lambda v: v * 2, lambda v: v - 1, (x,)).tolist() == [2.0, 4.0]
    assert pt.cond(False, lambda v: v * 2, lambda v: v - 1, [x]).tolist() == [0.0, 1.0]
    i, acc = pt.while_loop(lambda i, a: i < 5, lambda i, a: (i + 1, a * 2), (pt.tensor(0), pt.tensor(1.0)))
    assert i.item() == 5 and acc.item() == 32.0
    with pytest.raises(RuntimeError, match="one-element tensor"):
        pt.cond(x > 0, lambda v: v, lambda v: v, (x,))
