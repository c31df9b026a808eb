"""Identity, Linear, Bilinear, Flatten/Unflatten, Dropout, Embedding."""
import math

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

rng = np.random.default_rng(6)


def test_linear_values_init_and_errors():
    lin = nn.Linear(20, 30)
    bound = 1 / math.sqrt(20)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.mean()) < 0.02 and abs(w.var() - bound ** 2 / 3) < 0.15 * bound ** 2 / 3   # U(-b, b)
    assert np.abs(b).max() <= bound
    x = rng.standard_normal((2, 5, 20)).astype(np.float32)
    np.testing.assert_allclose(lin(pt.tensor(x)).detach().numpy(), x @ w.T + b, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="expected input with 20 features in its last dimension"):
        lin(pt.randn(3, 21))
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        F.linear(pt.randn(3, 4), pt.randn(2, 5))
    scalar_gradcheck(F.linear, t64(rng.standard_normal((3, 4)), True), t64(rng.standard_normal((2, 4)), True),
                     t64(rng.standard_normal(2), True))
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Identity(3, foo=1)(x) is x


def test_bilinear():
    m = nn.Bilinear(3, 4, 2).double()
    bound = 1 / math.sqrt(3)
    assert np.abs(m.weight.detach().numpy()).max() <= bound
    x1, x2 = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    ref = np.einsum("ni,kij,nj->nk", x1, w, x2) + b
    np.testing.assert_allclose(m(t64(x1), t64(x2)).detach().numpy(), ref, rtol=1e-12)
    scalar_gradcheck(F.bilinear, t64(x1, True), t64(x2, True), t64(w, True), t64(b, True))


def test_flatten_unflatten():
    x = pt.randn(2, 3, 4, 5)
    assert tuple(nn.Flatten()(x).shape) == (2, 60)
    assert tuple(nn.Flatten(0, 2)(x).shape) == (24, 5)
    assert tuple(nn.Unflatten(1, (3, 1))(pt.randn(2, 3)).shape) == (2, 3, 1)


def test_dropout_statistics_scaling_and_eval():
    x = pt.ones(200, 100)
    d = nn.Dropout(0.3)
    y = d(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    d.eval()
    assert d(x) is x
    y2 = nn.Dropout2d(0.5)(pt.ones(50, 40, 3, 3)).numpy()
    per_channel = y2.reshape(50, 40, 9)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))     # whole channels kept or zeroed
    assert abs((per_channel[:, :, 0] != 0).mean() - 0.5) < 0.03
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    assert np.all(F.dropout(x, 1.0).numpy() == 0)
    g = pt.ones(4, 4, requires_grad=True)
    out = F.dropout(g, 0.5)
    out.sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), out.detach().numpy())   # gradient = mask / (1 - p)


def test_embedding():
    emb = nn.Embedding(10, 3, padding_idx=2)
    w = emb.weight.detach().numpy()
    assert np.all(w[2] == 0)
    big = nn.Embedding(200, 50).weight.detach().numpy()
    assert abs(big.mean()) < 0.02 and abs(big.std() - 1) < 0.02           # N(0, 1)
    idx = np.array([[1, 2, 9], [2, 0, 1]])
    out = emb(pt.tensor(idx))
    np.testing.assert_allclose(out.detach().numpy(), w[idx])
    out.sum().backward()
    grad = emb.weight.grad.numpy()
    np.testing.assert_allclose(grad[:, 0], [1, 2, 0, 0, 0, 0, 0, 0, 0, 1])   # padding row gets nothing
    with pytest.raises(IndexError, match="index out of range in self"):
        emb(pt.tensor([10]))
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices'"):
        emb(pt.tensor([1.0]))
    pre = nn.Embedding.from_pretrained(t64([[1.0, 2.0], [3.0, 4.0]]))
    assert not pre.weight.requires_grad
    np.testing.assert_allclose(pre(pt.tensor([1])).numpy(), [[3.0, 4.0]])
    table = t64(rng.standard_normal((5, 2)), True)
    scalar_gradcheck(lambda t: F.embedding(pt.tensor([0, 3, 3]), t), table)
    assert repr(emb) == "Embedding(10, 3, padding_idx=2)"


def test_embedding_of_a_1d_weight_raises_as_pytorch():
    with pytest.raises(RuntimeError, match=r"embedding\(\): 'weight' must be 2-D \(num_embeddings, embedding_dim\), "
                                           r"got shape \[5\]"):
        pt.nn.functional.embedding(pt.tensor([1]), pt.randn(5))   # (it raised IndexError)


def test_dropout2d_on_3d_input_drops_per_sample_channel():
    with pytest.warns(UserWarning, match="interpreted as shape \\(N, C, L\\)"):
        y = F.dropout2d(pt.ones(40, 30, 5), 0.5).numpy()
    assert np.all(y.min(-1) == y.max(-1))
    assert 0.4 < (y[:, :, 0] != 0).mean() < 0.6


def test_linear_op_checks_dtypes_and_skips_unneeded_input_grad():
    with pytest.raises(RuntimeError, match=r"linear\(\): expected input, weight and bias to have the same dtype"):
        F.linear(pt.ones(2, 3), pt.ones(4, 3), pt.ones(4, dtype=pt.float64))
    x = pt.tensor([[1., 2.], [3., 4.]])
    w = pt.tensor([[1., 0.], [1., 1.], [0., 2.]], requires_grad=True)
    b = pt.tensor([0.5, 0., -1.], requires_grad=True)
    F.linear(x, w, b).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [[4., 6.]] * 3)
    np.testing.assert_allclose(b.grad.numpy(), [2., 2., 2.])
    assert x.grad is None


@pytest.mark.parametrize("xshape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("mask", [(True, True, True), (False, True, True), (True, False, False), (False, True, False)])
def test_linear_backward_kernel_matches_numpy_and_its_decomposition(xshape, mask):
    from plugtorch.nn.ops import linear_backward
    x = rng.standard_normal(xshape)
    w = rng.standard_normal((4, 3))
    g = rng.standard_normal(xshape[:-1] + (4,))
    g2, x2 = g.reshape(-1, 4), x.reshape(-1, 3)
    want = (g @ w, g2.T @ x2, g2.sum(0))
    for dt, tol in ((pt.float64, 1e-12), (pt.float32, 1e-5)):
        args = (pt.tensor(g, dtype=dt), pt.tensor(x, dtype=dt), pt.tensor(w, dtype=dt), mask)
        for got in (pt.ops._linear_backward(*args), linear_backward(*args)):   # cpu's kernel, the decomposition
            for k, (on, r) in enumerate(zip(mask, got)):
                if not on:
                    assert r is None
                else:
                    assert r.dtype is dt
                    np.testing.assert_allclose(r.numpy(), want[k], rtol=tol, atol=tol)


def test_linear_gradients_are_one_backward_op_that_skips_frozen_weights():
    seen = []

    class Spy(pt.dispatch.DispatchMode):
        def __plugtorch_dispatch__(self, op, args, kwargs, call):
            seen.append(op.name)
            return call(args, kwargs)
    lin = nn.Linear(3, 4)
    lin.weight.requires_grad_(False)
    x = pt.randn(5, 3, requires_grad=True)
    out = lin(x).sum()
    with Spy():
        out.backward()
    assert "_linear_backward" in seen and "_matmul" not in seen   # one kernel call, not its steps
    assert lin.weight.grad is None and lin.bias.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), np.ones((5, 4)) @ lin.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_linear_backward_rejects_bad_arguments():
    g, x, w = pt.randn(5, 4), pt.randn(5, 3), pt.randn(4, 3)
    with pytest.raises(RuntimeError, match=r"_linear_backward\(\): expected grad plugtorch.float32 \(5, 4\)"):
        pt.ops._linear_backward(pt.randn(5, 2), x, w, (True, True, True))
    with pytest.raises(TypeError, match="output_mask must be 3 bools"):
        pt.ops._linear_backward(g, x, w, (True,))
    with pytest.raises(TypeError, match="argument 'weight' must be Tensor, not list"):
        pt.ops._linear_backward(g, x, [1.0], (True, True, True))


@pytest.mark.parametrize("bshape", [(), (1, 5), (3, 5), (5,)])
def test_linear_gradients_with_a_broadcast_bias(bshape):
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(bshape)
    xt, wt, bt = t64(x, True), t64(w, True), t64(b, True)
    g = rng.standard_normal((3, 5))
    F.linear(xt, wt, bt).backward(t64(g))
    np.testing.assert_allclose(xt.grad.numpy(), g @ w, rtol=1e-12)
    np.testing.assert_allclose(wt.grad.numpy(), g.T @ x, rtol=1e-12)
    want_b = g.sum(0) if bshape == (5,) else g.sum() if bshape == () else g.sum(0, keepdims=True) if bshape == (1, 5) else g
    np.testing.assert_allclose(bt.grad.numpy(), want_b, rtol=1e-12)


def test_linear_backward_refuses_a_1d_weight():
    with pytest.raises(RuntimeError, match=r"_linear_backward\(\): expected a 2-D weight and a floating point "
                                           r"input of 1 or more dims, got weight \(3,\)"):
        pt.ops._linear_backward(pt.randn(2), pt.randn(3), pt.randn(3), (True, True, True))


@pytest.mark.parametrize("dt", [pt.float32, pt.float64], ids=str)
def test_linear_backward_kernel_of_a_batch_gives_the_bits_of_its_decomposition(dt):
    # the cpu kernel's shortcut for 2-d float32/64 (matmuls and the rows' sum without their
    # wrappers) must round exactly as the decomposition's mm and sum ops: a compiled training
    # step replays the kernel, eager runs it too, and both must keep agreeing with the ops
    from plugtorch.nn.ops import linear_backward
    r = np.random.default_rng(5)
    g, x, w = (pt.tensor(r.standard_normal(s), dtype=dt) for s in ((64, 128), (64, 64), (128, 64)))
    for mask in ((True, True, True), (False, True, True)):
        got = pt.ops._linear_backward(g, x, w, mask)
        ref = linear_backward(g, x, w, mask)
        for a, b in zip(got, ref):
            assert (a is None) == (b is None)
            if a is not None:
                assert a.dtype is dt and a.numpy().tobytes() == b.numpy().tobytes()
    np.testing.assert_allclose(got[2].numpy(), g.numpy().sum(0), rtol=1e-5)
