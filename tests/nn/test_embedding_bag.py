"""EmbeddingBag / F.embedding_bag vs a loop over the bags in NumPy."""
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

rng = np.random.default_rng(12)


def bags_ref(idx, w, bounds, mode, psw=None, padding_idx=None):
    """One row per bag: the loop the op avoids."""
    out = np.zeros((len(bounds), w.shape[1]))
    for b, (s, e) in enumerate(bounds):
        keep = [j for j in range(s, e) if idx[j] != padding_idx]
        if not keep:
            continue
        rows = w[idx[keep]] * (psw[keep][:, None] if psw is not None else 1.0)
        out[b] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[mode]
    return out


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_embedding_bag_matches_loop(mode, padding_idx):
    w = rng.standard_normal((7, 3))
    idx = np.array([1, 0, 4, 6, 0, 2, 3, 5, 0])
    offsets = np.array([0, 3, 3, 4, 8])                  # an empty bag, a one-element bag, a last bag of one
    bounds = list(zip(offsets, list(offsets[1:]) + [len(idx)]))
    got = F.embedding_bag(pt.tensor(idx), t64(w), pt.tensor(offsets), mode=mode, padding_idx=padding_idx)
    np.testing.assert_allclose(got.numpy(), bags_ref(idx, w, bounds, mode, padding_idx=padding_idx), rtol=1e-12)
    # include_last_offset: the last offset closes the last bag (input[4:9] is one bag, not [4:8] and [8:9])
    got = F.embedding_bag(pt.tensor(idx), t64(w), pt.tensor(np.r_[offsets[:-1], 9]), mode=mode,
                          include_last_offset=True, padding_idx=padding_idx)
    np.testing.assert_allclose(got.numpy(), bags_ref(idx, w, bounds[:3] + [(4, 9)], mode, padding_idx=padding_idx),
                               rtol=1e-12)
    x2 = idx[:8].reshape(2, 4)                           # 2-D input: fixed-length bags
    got = F.embedding_bag(pt.tensor(x2), t64(w), mode=mode, padding_idx=padding_idx)
    np.testing.assert_allclose(got.numpy(), bags_ref(idx, w, [(0, 4), (4, 8)], mode, padding_idx=padding_idx),
                               rtol=1e-12)
    wt = t64(w, True)
    scalar_gradcheck(lambda w: F.embedding_bag(pt.tensor(idx), w, pt.tensor(offsets), mode=mode,
                                               padding_idx=padding_idx), wt)
    if padding_idx is not None:                          # the padding row gets no gradient
        F.embedding_bag(pt.tensor(idx), wt, pt.tensor(offsets), mode=mode, padding_idx=padding_idx).sum().backward()
        assert np.all(wt.grad.numpy()[padding_idx] == 0)


def test_embedding_bag_per_sample_weights_module_and_state_dict():
    w, idx, offsets = rng.standard_normal((5, 2)), np.array([0, 4, 4, 2, 1]), np.array([0, 2])
    psw = rng.standard_normal(5)
    got = F.embedding_bag(pt.tensor(idx), t64(w), pt.tensor(offsets), mode="sum", per_sample_weights=t64(psw))
    np.testing.assert_allclose(got.numpy(), bags_ref(idx, w, [(0, 2), (2, 5)], "sum", psw), rtol=1e-12)
    scalar_gradcheck(lambda w, p: F.embedding_bag(pt.tensor(idx), w, pt.tensor(offsets), mode="sum",
                                                  per_sample_weights=p), t64(w, True), t64(psw, True))
    bag = nn.EmbeddingBag(5, 2, mode="max", padding_idx=-1).double()
    assert bag.padding_idx == 4 and np.all(bag.weight.detach().numpy()[4] == 0)
    assert [(n, tuple(p.shape)) for n, p in bag.named_parameters()] == [("weight", (5, 2))]
    bag.load_state_dict({"weight": t64(w)})
    np.testing.assert_allclose(bag(pt.tensor(idx), pt.tensor(offsets)).detach().numpy(),
                               bags_ref(idx, w, [(0, 2), (2, 5)], "max", padding_idx=4), rtol=1e-12)
    assert repr(bag) == "EmbeddingBag(5, 2, mode='max', padding_idx=4)"
    assert repr(nn.EmbeddingBag(10, 3, max_norm=1.0)) == "EmbeddingBag(10, 3, max_norm=1.0, mode='mean')"
    pre = nn.EmbeddingBag.from_pretrained(t64(w), mode="sum")
    assert not pre.weight.requires_grad
    np.testing.assert_allclose(pre(pt.tensor([[0, 1]])).numpy(), w[[0, 1]].sum(0, keepdims=True), rtol=1e-12)


def test_embedding_bag_errors():
    w, x, off = pt.randn(6, 2), pt.tensor([1, 2, 0, 4]), pt.tensor([0, 2])
    cases = [
        (lambda: F.embedding_bag(x, w, pt.tensor([1, 3])), RuntimeError, r"offsets\[0\] has to be 0.*got 1"),
        (lambda: F.embedding_bag(x, w, pt.tensor([0, 9])), RuntimeError,
         r"offsets\[-1\] can not be greater than input's length 4 but got offsets\[-1\] of 9"),
        (lambda: F.embedding_bag(x, w, pt.tensor([0, 3, 2])), RuntimeError, "offsets must be non-decreasing"),
        (lambda: F.embedding_bag(x, w), ValueError, "offsets has to be a 1D Tensor but got None"),
        (lambda: F.embedding_bag(x.reshape(2, 2), w, off), ValueError, "if input is 2D, then offsets has to be None"),
        (lambda: F.embedding_bag(x, w, off, per_sample_weights=pt.ones(4)), NotImplementedError,
         "per_sample_weights is only supported for mode='sum' \\(got mode='mean'\\)"),
        (lambda: F.embedding_bag(x, w, off, mode="sum", per_sample_weights=pt.ones(3)), ValueError,
         r"must have the same shape as the input \(plugtorch.Size\(\[4\]\)\)"),
        (lambda: F.embedding_bag(x, w, off, mode="avg"), ValueError, "mode has to be one of sum, mean or max"),
        (lambda: F.embedding_bag(x, w, off.reshape(2, 1)), ValueError, "offsets has to be a 1D Tensor"),
        (lambda: F.embedding_bag(x.float(), w, off), RuntimeError, "'indices' to have one of the following scalar"),
        (lambda: F.embedding_bag(x + 6, w, off), RuntimeError, r"index out of range \(weight has 6 rows"),
        (lambda: F.embedding_bag(x, w, off, mode="max", scale_grad_by_freq=True), ValueError,
         "max mode does not support scaling the gradient by the frequency"),
    ]
    for call, err, match in cases:
        with pytest.raises(err, match=match):
            call()


@pytest.mark.parametrize("dev", ["cpu"] + (["opencl"] if pt.opencl.is_available() else []))
def test_embedding_bag_offsets_edges_on_device(dev):
    """The 1-D path reduces on the device (bag ids from the offsets, no host read): empty bags,
    a last bag running past include_last_offset's final offset, nan/-inf/ties in max (gradient to the bag's first
    maximum, as max(dim)), an empty input and no bags."""
    w = np.array([[1.0, -np.inf], [3.0, 2.0], [3.0, np.nan], [-1.0, 2.0]])
    idx = np.array([1, 2, 0, 1, 3, 3, 0, 2])
    offsets = np.array([0, 0, 2, 2, 5, 7])                     # bags 0 and 2 empty; the last runs to the end
    bounds = list(zip(offsets[:-1], list(offsets[1:-1]) + [len(idx)]))   # [5:8], as PyTorch's, not [5:7]
    for mode in ("sum", "mean", "max"):
        wt = pt.tensor(w, device=dev, requires_grad=True)
        got = F.embedding_bag(pt.tensor(idx, device=dev), wt, pt.tensor(offsets, device=dev), mode=mode,
                              include_last_offset=True)
        want = bags_ref(idx, w, bounds, mode)
        np.testing.assert_allclose(got.detach().cpu().numpy(), want, rtol=1e-12)
        got.backward(pt.ones_like(got))
        grad = np.zeros_like(w)
        for s, e in bounds:
            if e == s:
                continue
            if mode == "max":                                   # the first maximum of each column
                for c in range(w.shape[1]):
                    col = w[idx[s:e], c]
                    j = int(np.argmax(np.where(np.isnan(col), np.inf, col)))
                    grad[idx[s + j], c] += 1
            else:
                np.add.at(grad, idx[s:e], 1.0 / (e - s if mode == "mean" else 1))
        np.testing.assert_array_equal(wt.grad.cpu().numpy(), grad)
    wt = pt.tensor(w, device=dev, requires_grad=True)
    empty = F.embedding_bag(pt.tensor(np.zeros(0, np.int64), device=dev), wt, pt.tensor([0, 0], device=dev),
                            mode="max")
    assert empty.shape == (2, 2) and np.all(empty.detach().cpu().numpy() == 0)
    none = F.embedding_bag(pt.tensor(idx, device=dev), wt, pt.tensor([0], device=dev), include_last_offset=True)
    assert none.shape == (0, 2)


@pytest.mark.parametrize("dev", ["cpu"] + (["opencl"] if pt.opencl.is_available() else []))
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 6])
def test_embedding_bag_include_last_offset_short_of_the_end_runs_the_last_bag_to_the_end(dev, mode, padding_idx):
    """PyTorch (2.13) ends include_last_offset's last bag at the end of the input, not at a final
    offset smaller than its length: offsets [0, 2, 4] over 7 indices are the bags [0:2] and [2:7]."""
    w = rng.standard_normal((10, 3))
    idx = np.array([1, 2, 3, 4, 5, 6, 7])
    psw = rng.random(7) if mode == "sum" else None
    got = F.embedding_bag(pt.tensor(idx, device=dev), pt.tensor(w, device=dev), pt.tensor([0, 2, 4], device=dev),
                          mode=mode, include_last_offset=True, padding_idx=padding_idx,
                          per_sample_weights=None if psw is None else pt.tensor(psw, device=dev))
    want = bags_ref(idx, w, [(0, 2), (2, 7)], mode, psw=psw, padding_idx=padding_idx)
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-12)
    # a final offset of 0 (every offset equal): one bag, the whole input
    got = F.embedding_bag(pt.tensor(idx, device=dev), pt.tensor(w, device=dev), pt.tensor([0, 0], device=dev),
                          mode=mode, include_last_offset=True, padding_idx=padding_idx)
    np.testing.assert_allclose(got.cpu().numpy(), bags_ref(idx, w, [(0, 7)], mode, padding_idx=padding_idx),
                               rtol=1e-12)


def test_embedding_bag_finite_difference_gradients_with_ragged_bags():
    w, idx = rng.standard_normal((6, 3)), rng.integers(0, 6, 11)
    offsets = pt.tensor([0, 4, 4, 5, 9])
    for mode in ("sum", "mean", "max"):
        scalar_gradcheck(lambda w: F.embedding_bag(pt.tensor(idx), w, offsets, mode=mode, padding_idx=2,
                                                   include_last_offset=True), t64(w, True))


@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (0, 4)])
@pytest.mark.parametrize("dtype", [pt.int64, pt.int32])
def test_embedding_rows_by_one_index_op(shape, dtype):
    # embedding picks the rows with one index op (no index_select, which checked the range again):
    # the result is NumPy's w[idx] of shape (*idx.shape, dim), and each row's gradient counts its picks
    w = rng.standard_normal((6, 3))
    idx = rng.integers(0, 6, shape)
    wt = pt.tensor(w, requires_grad=True)
    out = F.embedding(pt.tensor(idx, dtype=dtype), wt)
    assert tuple(out.shape) == shape + (3,)
    np.testing.assert_allclose(out.detach().numpy(), w[idx], rtol=0, atol=0)
    out.sum().backward()
    counts = np.bincount(np.asarray(idx).reshape(-1), minlength=6).astype(np.float64)
    np.testing.assert_allclose(wt.grad.numpy(), np.repeat(counts[:, None], 3, 1), rtol=0, atol=0)


def test_embedding_bag_checks_its_indices_before_embedding_does():
    # the range is checked once, by embedding_bag itself: its RuntimeError, not embedding's IndexError
    w = pt.zeros(4, 2)
    with pytest.raises(RuntimeError, match=r"embedding_bag: index out of range \(weight has 4 rows"):
        F.embedding_bag(pt.tensor([[0, 4]]), w)
    with pytest.raises(RuntimeError, match=r"embedding_bag: index out of range"):
        F.embedding_bag(pt.tensor([1, -1]), w, pt.tensor([0]))
    with pytest.raises(IndexError, match=r"index out of range in self \(embedding has 4 rows"):
        F.embedding(pt.tensor([[0, 4]]), w)


@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.float16])
def test_embedding_bag_1d_op_kernel_against_loops_and_its_decomposition(dtype):
    # a 1-D input's bags are one op, _embedding_bag; cpu's kernel (a CSR product for sums and means,
    # one maximum.reduceat for max: 0.79 -> 0.09 ms for 4096 indices in 256 bags of a (10000, 64)
    # weight) against the loop in float64 (empty bags, a bag of padding only, trailing empty bags,
    # nan and -inf rows), and bit for bit against the decomposition, which autograd records and
    # the other backends run: the same additions in the same order from 0 (a bag of -0.0 is 0.0)
    from plugtorch.nn.functional.sparse import embedding_bag_1d
    w = rng.standard_normal((9, 5)) * 4
    w[3, 1], w[5, 2], w[7] = np.nan, -np.inf, -0.0
    idx = np.array([1, 8, 2, 2, 0, 0, 6, 4, 3, 8, 7, 5, 2, 0, 1, 4, 6, 6])
    offsets = np.array([0, 2, 2, 4, 6, 10, 11, 16, 18, 18])   # (4:6 is padding only, with padding_idx 0)
    psw = rng.standard_normal(idx.size)
    W = pt.tensor(w, dtype=dtype)
    wv = W.double().numpy()
    tol = {pt.float32: 1e-6, pt.float64: 1e-13, pt.float16: 4e-3}[dtype]
    for mode in ("sum", "mean", "max"):
        for padding_idx in (None, 0):
            for p in ((None, psw) if mode == "sum" else (None,)):
                for last in (False, True):
                    P = None if p is None else pt.tensor(p, dtype=dtype)
                    got = F.embedding_bag(pt.tensor(idx), W, pt.tensor(offsets), mode=mode, per_sample_weights=P,
                                          include_last_offset=last, padding_idx=padding_idx)
                    ends = list(offsets[1:]) + [idx.size]
                    bounds = list(zip(offsets, ends))[:len(offsets) - 1 if last else len(offsets)]
                    if last:
                        bounds[-1] = (bounds[-1][0], idx.size)
                    want = bags_ref(idx, wv, bounds, mode, None if P is None else P.double().numpy(), padding_idx)
                    assert got.dtype is dtype and tuple(got.shape) == want.shape
                    np.testing.assert_allclose(got.double().numpy(), want, rtol=tol, atol=tol * 10)
                    ref = embedding_bag_1d(pt.tensor(idx), W, pt.tensor(offsets), mode, P, last, padding_idx)
                    g, r = got.double().numpy(), ref.double().numpy()
                    assert np.array_equal(g, r, equal_nan=True) and np.array_equal(np.signbit(g), np.signbit(r))
    assert not np.signbit(F.embedding_bag(pt.tensor([7]), W, pt.tensor([0]), mode="sum").numpy()).any()
    # no bags, no indices
    assert tuple(F.embedding_bag(pt.tensor([1, 2]), W, pt.tensor([], dtype=pt.int64)).shape) == (0, 5)
    np.testing.assert_array_equal(F.embedding_bag(pt.tensor([], dtype=pt.int64), W, pt.tensor([0, 0])).numpy(),
                                  np.zeros((2, 5)))


def test_embedding_bag_1d_op_checks_its_arguments():
    # the op is public (pt.ops._embedding_bag): what embedding_bag would not pass it is refused
    W, i, o = pt.randn(4, 2), pt.tensor([0, 1, 3]), pt.tensor([0, 2])
    with pytest.raises(NotImplementedError, match=r"_embedding_bag\(\): not implemented for dtype plugtorch.uint8"):
        pt.ops._embedding_bag(i, W.to(pt.uint8), o, "mean", None, False, None)
    with pytest.raises(RuntimeError, match=r"per_sample_weights go with mode 'sum'"):
        pt.ops._embedding_bag(i, W, o, "max", pt.ones(3), False, None)
    with pytest.raises(RuntimeError, match=r"padding_idx must be None or an int in \[0, 4\), got -1"):
        pt.ops._embedding_bag(i, W, o, "sum", None, False, -1)
    with pytest.raises(RuntimeError, match=r"offsets\[0\] has to be 0"):
        pt.ops._embedding_bag(i, W, pt.tensor([1, 2]), "sum", None, False, None)
