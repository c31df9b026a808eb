"""nn.AdaptiveLogSoftmaxWithLoss against a NumPy adaptive softmax written from its definition
(head log-softmax over the shortlist and one entry per cluster, plus each cluster's own
log-softmax), finite differences in float64, and PyTorch's errors; nn.NLLLoss2d."""
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn
from plugtorch.autograd import gradcheck


def log_softmax(z):
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def reference_log_prob(asm, x):
    """(N, n_classes) log-probabilities from the module's weights, in NumPy."""
    W = {k: v.detach().numpy().astype(np.float64) for k, v in asm.state_dict().items()}
    head = x @ W["head.weight"].T + (W["head.bias"] if "head.bias" in W else 0)
    head = log_softmax(head)
    cut = asm.cutoffs
    cols = [head[:, :cut[0]]]
    for i in range(len(cut) - 1):
        cluster = log_softmax(x @ W[f"tail.{i}.0.weight"].T @ W[f"tail.{i}.1.weight"].T)
        cols.append(cluster + head[:, cut[0] + i][:, None])
    return np.concatenate(cols, 1)


def make(head_bias=True, dtype=pt.float32):
    pt.manual_seed(0)
    return nn.AdaptiveLogSoftmaxWithLoss(16, 12, cutoffs=[3, 7], div_value=2.0, head_bias=head_bias, dtype=dtype)


def test_structure_as_pytorch():
    asm = make()
    assert asm.cutoffs == [3, 7, 12] and asm.shortlist_size == 3 and asm.n_clusters == 2 and asm.head_size == 5
    assert sorted(asm.state_dict()) == ["head.bias", "head.weight", "tail.0.0.weight", "tail.0.1.weight",
                                        "tail.1.0.weight", "tail.1.1.weight"]
    assert asm.tail[0][0].weight.shape == (8, 16) and asm.tail[1][1].weight.shape == (5, 4)   # 16 // 2, 16 // 4
    assert "head.bias" not in make(head_bias=False).state_dict()


@pytest.mark.parametrize("head_bias", [False, True])
def test_forward_log_prob_and_predict_match_numpy(head_bias):
    asm = make(head_bias)
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal((40, 16))).astype(np.float32)
    t = rng.integers(0, 12, 40)
    ref = reference_log_prob(asm, x.astype(np.float64))
    np.testing.assert_allclose(np.exp(ref).sum(1), 1, rtol=1e-12)
    out = asm(pt.tensor(x), pt.tensor(t))
    assert type(out).__name__ == "_ASMoutput" and out.output.shape == (40,) and out.loss.shape == ()
    want = ref[np.arange(40), t]
    np.testing.assert_allclose(out.output.detach().numpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.loss.item(), -want.mean(), rtol=1e-5)
    lp = asm.log_prob(pt.tensor(x))
    np.testing.assert_allclose(lp.detach().numpy(), ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(lp.exp().sum(1).detach().numpy(), 1, rtol=1e-5)
    pred = asm.predict(pt.tensor(x))
    assert pred.tolist() == ref.argmax(1).tolist()
    assert (pred >= 3).any() and (pred < 3).any()          # both of predict's paths
    single = asm(pt.tensor(x[5]), pt.tensor(t[5]))
    assert single.output.shape == () and np.isclose(single.output.item(), want[5], atol=1e-5)


def test_gradients_float64():
    asm = make(dtype=pt.float64)
    x = pt.tensor(np.random.default_rng(1).standard_normal((6, 16)), requires_grad=True)
    t = pt.tensor([0, 4, 11, 2, 7, 5])
    assert gradcheck(lambda x: asm(x, t).loss, (x,))
    assert gradcheck(lambda x: asm.log_prob(x), (x,))
    asm(x, t).loss.backward()
    assert all(p.grad is not None for p in asm.parameters())


@pytest.mark.parametrize("args, msg", [
    ((pt.randn(4, 16), pt.tensor([0, 1, 2])), "Input and target should have the same size in the batch dimension"),
    ((pt.randn(4, 2, 16), pt.tensor([0, 1, 2, 3])), "1D target tensor expects 2D input tensors"),
    ((pt.randn(2, 16), pt.tensor(1)), "0D target tensor expects 1D input tensors"),
    ((pt.randn(2, 16), pt.zeros(2, 1, dtype=pt.int64)), "0D or 1D target tensor expected, multi-target not supported"),
    ((pt.randn(2, 16), pt.tensor([0, 12])), r"Target values should be in \[0, 11\], but values in range \[0, 12\] were found"),
])
def test_forward_errors(args, msg):
    with pytest.raises(RuntimeError, match=msg):
        make()(*args)


@pytest.mark.parametrize("cutoffs", [[], [5, 3], [0, 3], [3, 12], [3, 3], [2.5]])
def test_cutoff_errors(cutoffs):
    msg = "length larger than 0" if not cutoffs else "unique, positive integers sorted in an increasing order"
    with pytest.raises(ValueError, match=msg):
        nn.AdaptiveLogSoftmaxWithLoss(16, 12, cutoffs=cutoffs)


def test_nllloss2d_is_nllloss_with_a_warning():
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated. Please use `NLLLoss`"):
        loss = nn.NLLLoss2d(ignore_index=1, reduction="sum")
    assert isinstance(loss, nn.NLLLoss)
    x = pt.tensor(np.random.default_rng(2).standard_normal((2, 3, 4, 5))).log_softmax(1)
    t = pt.tensor(np.random.default_rng(3).integers(0, 3, (2, 4, 5)))
    xn, tn = x.numpy(), t.numpy()
    picked = np.take_along_axis(xn, tn[:, None], 1)[:, 0]
    assert np.isclose(loss(x, t).item(), -(picked * (tn != 1)).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert nn.NLLLoss2d()(x, t).item() == nn.NLLLoss()(x, t).item()


@pytest.mark.skipif("opencl" not in pt.backends.available(), reason="no opencl backend")
def test_on_opencl_as_on_cpu():
    asm = make()
    x = pt.tensor(np.random.default_rng(5).standard_normal((10, 16)).astype(np.float32))
    t = pt.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 11])
    want = asm(x, t)
    dev = asm.to("opencl")
    got = dev(x.to("opencl"), t.to("opencl"))
    assert got.output.device.type == "opencl"
    np.testing.assert_allclose(got.output.detach().cpu().numpy(), want.output.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got.loss.item(), want.loss.item(), rtol=1e-5)
    got.loss.backward()
    assert dev.head.weight.grad.device.type == "opencl"
    assert dev.predict(x.to("opencl")).cpu().tolist() == asm.to("cpu").predict(x).tolist()
