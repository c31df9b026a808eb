"""A graph traced on some inputs and replayed on others of the same shapes and dtypes (other data)
gives eager's results on those: nothing computed from the traced data is baked into the graph, and
the argument checks on data eager makes run again at each replay."""
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F

ROWS, DIM = 10, 3
WEIGHT = np.random.default_rng(0).standard_normal((ROWS, DIM)).astype(np.float32)
INPUT = [1, 2, 3, 4, 5, 6, 7]
OFFSETS = [0, 2, 4, 5]              # traced with these
OTHER_OFFSETS = [0, 1, 5, 7]        # valid, other bags (the last one empty)


def _bags_numpy(mode, offsets):
    ends = offsets[1:] + [len(INPUT)]
    out = np.zeros((len(offsets), DIM), np.float32)
    for b, (s, e) in enumerate(zip(offsets, ends)):
        rows = WEIGHT[INPUT[s:e]]
        if len(rows):
            out[b] = rows.sum(0) if mode == "sum" else rows.max(0)
    return out


def _embedding_bag(mode):
    def f(weight, input, offsets):
        return F.embedding_bag(input, weight, offsets, mode=mode)
    return f


def _args(dev, offsets, grad):
    w = pt.tensor(WEIGHT, device=dev).requires_grad_(grad)
    return w, pt.tensor(INPUT, device=dev), pt.tensor(offsets, device=dev)


@pytest.mark.parametrize("grad", [False, True], ids=["dispatch-free", "autograd"])
@pytest.mark.parametrize("mode", ["sum", "max"])
def test_embedding_bag_replays_other_offsets(dev, mode, grad):
    traced = pt.jit.trace(_embedding_bag(mode), _args(dev, OFFSETS, grad), check_trace=False)
    got = traced(*_args(dev, OTHER_OFFSETS, grad))
    np.testing.assert_allclose(got.detach().cpu().numpy(), _bags_numpy(mode, OTHER_OFFSETS), rtol=1e-6)


# offsets eager refuses, and its message (the replay's has no data in it)
BAD_OFFSETS = [([5, 4, 2, 0], "offsets\\[0\\] has to be 0"),
               ([0, 2, 9, 9], "offsets\\[-1\\] can not be greater than input's length 7"),
               ([0, 4, 2, 5], "offsets must be non-decreasing")]


@pytest.mark.parametrize("offsets,match", BAD_OFFSETS)
@pytest.mark.parametrize("grad", [False, True], ids=["dispatch-free", "autograd"])
def test_embedding_bag_replay_checks_the_offsets_as_eager(dev, offsets, match, grad):
    # with grad (parameters requiring it: a module in training) the replay runs op by op for
    # autograd; it skipped the checks the Python between the ops made, and returned bags
    # of whatever the offsets pointed at
    f = _embedding_bag("max")
    with pytest.raises(RuntimeError, match=match):
        f(*_args(dev, offsets, grad))
    traced = pt.jit.trace(f, _args(dev, OFFSETS, grad), check_trace=False)
    with pytest.raises(RuntimeError, match=match):
        traced(*_args(dev, offsets, grad))
    compiled = pt.compile(f)
    compiled(*_args(dev, OFFSETS, grad))
    with pytest.raises(RuntimeError, match=match):
        compiled(*_args(dev, offsets, grad))


def test_embedding_bag_module_in_training_checks_the_offsets(dev):
    pt.manual_seed(0)
    m = pt.nn.EmbeddingBag(ROWS, DIM, mode="max", padding_idx=0).to(dev)
    x = pt.tensor(INPUT, device=dev)
    traced = pt.jit.trace(m, (x, pt.tensor(OFFSETS, device=dev)), check_trace=False)
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        traced(x, pt.tensor([5, 4, 2, 0], device=dev))
    other = pt.tensor(OTHER_OFFSETS, device=dev)
    np.testing.assert_array_equal(traced(x, other).detach().cpu().numpy(), m(x, other).detach().cpu().numpy())


def test_one_hot_checks_its_classes_in_an_autograd_replay(dev):
    def f(w, idx):
        return F.one_hot(idx, num_classes=4).float() * w

    w = pt.ones(4, device=dev, requires_grad=True)
    traced = pt.jit.trace(f, (w, pt.tensor([0, 3, 1], device=dev)), check_trace=False)
    np.testing.assert_array_equal(traced(w, pt.tensor([2, 2, 0], device=dev)).detach().cpu().numpy(),
                                  np.eye(4, dtype=np.float32)[[2, 2, 0]])
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        traced(w, pt.tensor([2, 4, 0], device=dev))


def test_a_check_after_the_last_op_runs_too(dev):
    from plugtorch.dispatch.dispatcher import data_check

    def f(w, idx):
        out = w * idx.float()
        data_check((idx < 0).any(), ValueError, "f: idx must be non-negative")
        return out

    w = pt.ones(3, device=dev, requires_grad=True)
    traced = pt.jit.trace(f, (w, pt.tensor([0, 3, 1], device=dev)), check_trace=False)
    assert traced(w, pt.tensor([2, 5, 0], device=dev)).detach().cpu().tolist() == [2.0, 5.0, 0.0]
    with pytest.raises(ValueError, match="f: idx must be non-negative"):
        traced(w, pt.tensor([2, -1, 0], device=dev))


def test_numpy_force_on_a_device_is_a_graph_break(dev):
    # numpy(force=True) copies a device's tensor to the host without telling the tracer: the trace
    # had no break, and compile replayed the traced data on other inputs (opencl)
    def f(x):
        return pt.tensor(x.numpy(force=True), device=x.device) + 1

    a, b = pt.tensor([1., 2., 3.], device=dev), pt.tensor([5., -1., 0.5], device=dev)
    with pytest.warns(pt.jit.TracerWarning, match="NumPy array"):
        traced = pt.jit.trace(f, (a,), check_trace=False)
    assert [what for what, _ in traced.graph.breaks] == ["numpy"]
    compiled = pt.compile(f)
    assert compiled(a).cpu().tolist() == [2.0, 3.0, 4.0]
    assert compiled(b).cpu().tolist() == [6.0, 0.0, 1.5]
    assert pt.compiler.stats()["graph_breaks"] == 1


@pytest.mark.parametrize("storage", ["untyped_storage", "storage"])
def test_a_storage_of_a_traced_tensor_is_a_graph_break(dev, storage):
    # the storage's bytes are an array the tracer never saw made, so reading them looked like
    # reading data the program brought along: no break, and compile replayed the traced bytes
    def f(x):
        return x * getattr(x, storage)()[0]

    a, b = pt.tensor([1, 2], dtype=pt.int16, device=dev), pt.tensor([7, 2], dtype=pt.int16, device=dev)
    with pytest.warns(pt.jit.TracerWarning, match="untyped_storage"):
        traced = pt.jit.trace(f, (a,), check_trace=False)
    assert [what for what, _ in traced.graph.breaks] == ["storage"]
    compiled = pt.compile(f)
    assert compiled(a).cpu().tolist() == [1, 2]
    assert compiled(b).cpu().tolist() == [49, 14]
    assert pt.compiler.stats()["graph_breaks"] == 1
