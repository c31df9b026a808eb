"""Ops whose result's shape depends on the data (nonzero, boolean masks, unique): a replay checks
that shape where it appears, since every kernel, view and fused kernel after it is specialised
on the traced one. A changed shape is never a wrong result: trace raises, compile traces again
into another graph of the signature, up to DATA_VARIANT_LIMIT, then runs it eagerly)."""
import itertools

import numpy as np
import pytest

import plugtorch as pt

MASKS = ([1., -1., 2., 0.5], [1., 1., 2., 3.], [-1., -1., 2., -3.], [1., -1., 2., 0.5])

CASES = {
    "nonzero": lambda x: pt.nonzero(x > 0).float() * 2 + 1,
    "masked_select": lambda x: (pt.masked_select(x, x > 0) * 2 + 1).sum(),
    "bool_index": lambda x: x[x > 0] * 2 + 1,
    "bool_index_sum": lambda x: (x[x > 0] * 2 + 1).sum(),
    "unique": lambda x: pt.unique(x.abs()) * 2 + 1,
    "unique_consecutive": lambda x: pt.unique_consecutive((x > 0).float()) * 2 + 1,
    "argwhere": lambda x: pt.argwhere(x > 0) * 2 + 1,
    "where_cond": lambda x: pt.where(x > 0)[0] * 2 + 1,
}


def _numpy(name, d):
    """The expected result, computed by NumPy."""
    x = np.array(d, dtype=np.float32)
    if name == "nonzero":
        return np.argwhere(x > 0).astype(np.float32) * 2 + 1
    if name in ("masked_select", "bool_index_sum"):
        return np.float32((x[x > 0] * 2 + 1).sum())
    if name == "bool_index":
        return x[x > 0] * 2 + 1
    if name == "unique":
        return np.unique(np.abs(x)) * 2 + 1
    if name == "unique_consecutive":
        b = (x > 0).astype(np.float32)
        keep = np.concatenate([[True], b[1:] != b[:-1]])
        return b[keep] * 2 + 1
    if name == "argwhere":
        return np.argwhere(x > 0) * 2 + 1
    return np.nonzero(x > 0)[0] * 2 + 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_results_follow_the_data(dev, name):
    c = pt.compile(CASES[name])
    for d in MASKS:
        got = c(pt.tensor(d, device=dev)).cpu().numpy()
        want = _numpy(name, d)
        assert got.shape == want.shape and np.array_equal(got, want), (d, got, want)


def test_a_shape_that_stays_replays_and_a_changed_one_traces_again(dev):
    c = pt.compile(CASES["bool_index"])
    a = pt.tensor([1., -1., 2.], device=dev)
    b = pt.tensor([5., -1., 7.], device=dev)          # the same mask: the same shape
    assert c(a).cpu().tolist() == [3.0, 5.0]
    assert c(b).cpu().tolist() == [11.0, 15.0]
    st = pt.compiler.stats()
    assert st["compiled_calls"] == 1 and st["recompiles"] == 0
    assert c(pt.tensor([1., 1., 2.], device=dev)).cpu().tolist() == [3.0, 3.0, 5.0]
    st = pt.compiler.stats()
    assert st["recompiles"] == 1 and st["traced_calls"] == 2
    assert "nonzero" in st["reasons"][0] and "returned shape [3, 1] where the graph was traced with [2, 1]" \
        in st["reasons"][0]
    assert c(pt.tensor([4., 4., 4.], device=dev)).cpu().tolist() == [9.0, 9.0, 9.0]   # the new graph
    assert pt.compiler.stats()["compiled_calls"] == 2


def test_a_shape_that_keeps_changing_makes_the_signature_eager(dev):
    calls = itertools.count()     # (a list appended to is Python state compile guards)

    def f(x):
        next(calls)
        return x[x > 0].sum()
    c = pt.compile(f)
    for k in range(6):
        d = [1.0] * (k + 1) + [-1.0] * (5 - k)
        assert c(pt.tensor(d, device=dev)).item() == k + 1
    st = pt.compiler.stats()
    assert st["graphs"] == pt.compiler.DATA_VARIANT_LIMIT == 4 and st["eager_calls"] == 2
    assert any(r.startswith("eager:") and "4 graphs traced on other data fit none" in r for r in st["reasons"])
    assert next(calls) == 6      # every call ran the function: traced four times, then eager


def test_the_graphs_of_each_shape_seen_are_kept(dev):
    """Two mask counts alternating: a graph for each, replayed from then on."""
    calls = itertools.count()     # (a list appended to is Python state compile guards)

    def f(x):
        next(calls)
        return (x[x > 0] * 2).sum()
    c = pt.compile(f)
    a, b = pt.tensor([1., -1., 2.], device=dev), pt.tensor([1., 1., 2.], device=dev)
    for x, want in [(a, 6.0), (b, 8.0), (a, 6.0), (b, 8.0), (a, 6.0), (b, 8.0)]:
        assert c(x).item() == want
    st = pt.compiler.stats()
    assert next(calls) == 2 and st["graphs"] == 2 and st["compiled_calls"] == 4 and st["eager_calls"] == 0


def test_trace_raises_naming_the_op_and_shapes(dev):
    t = pt.jit.trace(CASES["bool_index"], (pt.tensor([1., -1., 2.], device=dev),))
    assert t(pt.tensor([3., -1., 4.], device=dev)).cpu().tolist() == [7.0, 9.0]
    with pytest.raises(RuntimeError, match=r"nonzero \(at .*test_dynamic_shapes.py:\d+\) returned shape \[3, 1\] "
                                           r"where the graph was traced with \[2, 1\].*Trace it again"):
        t(pt.tensor([1., 1., 2.], device=dev))


def test_autograd_replay_checks_the_shape_too(dev):
    """A graph without its own backward replays its ops through autograd when inputs require grad."""
    f = lambda x: (x[x > 0] * 3).sum()     # noqa: E731
    c = pt.compile(f)
    for d in ([1., -1., 2.], [1., 1., 2.], [1., -1., 2.]):
        x = pt.tensor(d, device=dev, requires_grad=True)
        r = c(x)
        r.backward()
        assert r.item() == 3 * sum(v for v in d if v > 0)
        assert x.grad.cpu().tolist() == [3.0 if v > 0 else 0.0 for v in d]


def test_training_step_with_dropout_before_the_mask(dev):
    """A replay stopped at the changed shape puts the generator back: the compiled run draws the
    same dropout masks as eager, step for step."""
    def run(compiled):
        pt.manual_seed(0)
        m = pt.nn.Sequential(pt.nn.Linear(4, 8), pt.nn.Dropout(0.5), pt.nn.Linear(8, 1)).to(dev)
        opt = pt.optim.SGD(m.parameters(), lr=0.1)

        def step(x, y):
            out = m(x).squeeze(1)
            mask = y > 0
            loss = ((out[mask] - y[mask]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        f = pt.compile(step) if compiled else step
        pt.manual_seed(1)
        xs = [pt.randn(6, 4, device=dev) for _ in range(4)]
        ys = [[1., -1, 2, 3, -1, 1], [1., -1, 2, 3, -1, 1], [1., 1, 2, 3, -1, 1], [1., -1, 2, 3, -1, 1]]
        pt.manual_seed(5)
        losses = [f(x, pt.tensor(y, device=dev)).item() for x, y in zip(xs, ys)]
        return losses, [p.detach().cpu().numpy() for p in m.parameters()]
    (l1, p1), (l2, p2) = run(True), run(False)
    assert l1 == l2
    assert all(np.array_equal(a, b) for a, b in zip(p1, p2))
    assert pt.compiler.stats()["compiled_calls"] >= 1


def test_a_write_before_the_shape_makes_the_signature_eager(dev):
    """A replay could not stop at the shape with an input already written: no graph for it."""
    def f(x, acc):
        acc[:1].add_(1)         # (a write through a view stays where it is; acc.add_(1) moves to the end)
        return x[x > 0].sum() + acc.sum()
    c = pt.compile(f)
    acc_c, acc_e = pt.zeros(2, device=dev), pt.zeros(2, device=dev)
    for d in ([1., -1., 2.], [1., 1., 2.], [1., -1., 2.]):
        x = pt.tensor(d, device=dev)
        assert c(x, acc_c).item() == f(x, acc_e).item()
    assert acc_c.cpu().tolist() == acc_e.cpu().tolist() == [3.0, 0.0]
    st = pt.compiler.stats()
    assert st["graphs"] == 0 and st["graph_breaks"] == 1
    assert "a data-dependent shape follows an in-place write (" in st["reasons"][0]
    with pytest.raises(RuntimeError, match="fullgraph=True.*in-place write"):
        pt.compile(f, fullgraph=True)(pt.tensor([1., 2.], device=dev), pt.zeros(2, device=dev))


def test_the_ops_with_data_dependent_shapes_are_tagged():
    from plugtorch.dispatch.registry import OPS
    tagged = {n for n, op in OPS.items() if "dynamic_shape" in op.tags}
    assert tagged == {"nonzero", "masked_select"}


def test_autograd_constants_are_captured_not_left_in_python_state(dev):
    """The implicit gradient 1 of backward() is cached: made outside the tracer, the first trace of
    a training step no longer finds it 'kept in Python state' and traces again."""
    w = pt.ones(3, device=dev, requires_grad=True)

    def step(x):
        loss = (x * w).sum()
        loss.backward()
        return loss
    c = pt.compile(step)
    for _ in range(3):
        w.grad = None
        assert c(pt.ones(3, device=dev)).item() == 3.0
        assert w.grad.cpu().tolist() == [1.0, 1.0, 1.0]
    st = pt.compiler.stats()
    assert st["traced_calls"] == 1 and st["compiled_calls"] == 2, st


def test_a_write_before_a_read_when_the_replay_goes_through_autograd(dev):
    """With an input requiring grad (and no backward in the graph) the replay runs the op-level
    calls in program order, the write first: that trace is a graph break; without grad the
    functionalized write sits at the graph's end and the graph replays."""
    def f(x, acc):
        acc.add_(1)
        if x.sum() > 0:
            return (x * 2).sum()
        return (x * 3).sum()
    c = pt.compile(f)
    acc = pt.zeros(1, device=dev)
    for s in (1, 1, -1):
        c((s * pt.ones(2, device=dev)).requires_grad_(), acc)
    assert acc.item() == 3.0
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 1 and "follows an in-place write" in st["reasons"][0]
    pt.compiler.reset()
    c = pt.compile(f)
    acc = pt.zeros(1, device=dev)
    for s in (1, 1, -1, -1):
        assert c(s * pt.ones(2, device=dev), acc).item() == (4.0 if s > 0 else -6.0)
    assert acc.item() == 4.0
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 0 and st["compiled_calls"] == 2


def test_a_stop_in_the_autograd_replay_puts_the_generator_back():
    """Dropout, then a branch on its result, inputs requiring grad (the autograd replay): a changed
    branch stops the replay, and the eager run after it draws eager's mask."""
    def f(x):
        y = pt.nn.functional.dropout(x, 0.5)
        if y.sum() > 8:
            return (y * 2).sum()
        return (y * 3).sum()

    def run(fn):
        pt.manual_seed(0)
        out = []
        for _ in range(6):
            x = pt.ones(8, requires_grad=True)
            r = fn(x)
            r.backward()
            out.append((r.item(), x.grad.tolist()))
        return out
    assert run(pt.compile(f)) == run(f)
