"""Each pass on its own, on small traced graphs, and the executor's memory plan."""
import tracemalloc

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends.fusion import IN, STEP, PointwiseGroup
from plugtorch.jit import passes
from plugtorch.jit.api import trace_call
from plugtorch.jit.executor import Executable
from plugtorch.jit.ir import CONST


def graph_of(fn, *args):
    graph, res, tensors, _ = trace_call(fn, args, warn=False)
    return graph, res, tensors


def ops(graph):
    return [n.name for n in graph.nodes]


def run(graph, tensors):
    return Executable(graph)(list(tensors))


def test_dead_code_goes_writes_and_random_stay():
    def g(x):
        unused = x.exp()            # noqa: F841  (dead)
        x.add_(1)                   # a write to an input: stays
        pt.rand(3)                  # random: stays (the generator advances as in eager)
        return x * 2
    graph, _, tensors = graph_of(g, pt.ones(3))
    assert "exp" in ops(graph)
    removed = passes.eliminate_dead_code(graph)
    assert removed == 1 and "exp" not in ops(graph)
    assert "copy_" in ops(graph) and "uniform_" in ops(graph)


def test_common_subexpressions_merge():
    def g(x):
        return x.sin() + x.sin()
    graph, _, tensors = graph_of(g, pt.ones(3))
    assert ops(graph).count("sin") == 2
    assert passes.eliminate_common_subexpressions(graph) == 1
    assert ops(graph).count("sin") == 1
    x = pt.tensor([0.5, 1.0, 2.0])
    np.testing.assert_allclose(run(graph, [x]).numpy(), 2 * np.sin(x.numpy()), rtol=1e-6)


def test_cse_leaves_reads_around_a_write_apart():
    def g(x):
        a = x * 2
        x.add_(1)
        b = x * 2
        return a + b
    graph, _, _ = graph_of(g, pt.ones(3))
    assert passes.eliminate_common_subexpressions(graph) == 0
    x = pt.ones(3)
    assert run(graph, [x]).tolist() == [6.0, 6.0, 6.0]


def test_cse_keeps_returned_values_apart():
    # split of an empty tensor makes two equal slices: eager returns two tensors, so must a replay
    def g(x):
        return pt.ops.split(x, [0, 0], 0)
    graph, _, _ = graph_of(g, pt.zeros(0))
    assert passes.eliminate_common_subexpressions(graph) == 0
    a, b = run(graph, [pt.zeros(0)])
    assert a is not b
    x = pt.zeros(0, requires_grad=True)
    outs = pt.jit.trace(g, (pt.zeros(0),), check_trace=False)(x)
    assert outs[0] is not outs[1]
    (gx,) = pt.autograd.grad(list(outs), [x], [pt.zeros(0), pt.zeros(0)])
    assert gx.shape == (0,)


def test_constants_fold_once():
    def g(x):
        return x + pt.arange(3.0) * 2
    graph, _, _ = graph_of(g, pt.ones(3))
    assert "arange" in ops(graph)
    assert passes.fold_constants(graph) == 2      # arange, then the mul on it
    assert ops(graph) == ["add"]
    assert any(v.kind == CONST for v in graph.values)
    assert run(graph, [pt.zeros(3)]).tolist() == [0.0, 2.0, 4.0]


def test_functionalize_turns_copies_into_names_and_keeps_copies_back_last():
    def g(x, w):
        t = x * 3
        t.add_(1)            # add + copy_ into an intermediate: becomes a rename
        w.mul_(2)            # a write to a captured/input tensor: one copy, at the end
        return t + w
    graph, _, _ = graph_of(g, pt.ones(2), pt.ones(2))
    before = ops(graph).count("copy_")
    assert before == 2
    assert passes.functionalize(graph) == 2
    names = ops(graph)
    assert names.count("copy_") == 1 and names[-1] == "copy_"
    x, w = pt.ones(2), pt.full((2,), 5.0)
    out = run(graph, [x, w])
    assert out.tolist() == [14.0, 14.0] and w.tolist() == [10.0, 10.0] and x.tolist() == [1.0, 1.0]


def test_functionalize_keeps_writes_through_views():
    def g(x):
        v = x[1:]
        v.mul_(10)
        return x + 1
    graph, _, _ = graph_of(g, pt.ones(3))
    passes.optimize(graph)
    x = pt.ones(3)
    assert run(graph, [x]).tolist() == [2.0, 11.0, 11.0] and x.tolist() == [1.0, 10.0, 10.0]


def test_functionalize_a_second_copy_into_the_same_tensor_writes_it_not_the_first_source():
    """``a.copy_(b); a.copy_(b * 2)``: the second copy writes a (was renamed to a copy into b, the
    source of the first: b ended as [2, 2] and the second output read it)."""
    def g(a, b):
        a.copy_(b)
        a.copy_(b * 2)
        return a + 0, b + 0
    tr = pt.jit.trace(g, (pt.zeros(2), pt.ones(2)), check_trace=False)
    for _ in range(2):
        a, b = pt.zeros(2), pt.full((2,), 3.0)
        o1, o2 = tr(a, b)
        assert o1.tolist() == [6.0, 6.0] and o2.tolist() == [3.0, 3.0]
        assert a.tolist() == [6.0, 6.0] and b.tolist() == [3.0, 3.0]

    def h(x):
        x[...] = 7           # a copy from a captured 7, then x * x copied into x
        x.mul_(x)
        return x
    tr = pt.jit.trace(h, (pt.tensor(1.0),), check_trace=False)
    for _ in range(3):       # the captured 7 was squared in place at each call: 49, 2401, ...
        x = pt.tensor(2.0)
        assert tr(x).item() == 49.0 and x.item() == 49.0


class _Recorder(pt.backends.cpu.CPUBackend if hasattr(pt.backends, "cpu") else object):
    pass


def test_fusion_offers_chains_to_the_backend_and_uses_its_kernel(monkeypatch):
    from plugtorch.backends.cpu import CPUBackend
    offered = []

    def fuse(self, group, index=0):
        offered.append(group)
        kernels = self.kernels

        def fn(*arrays):     # run the steps one by one: the contract's semantics
            vals = []
            for st in group.steps:
                def sub(x):
                    if hasattr(x, "kind") and x.kind == IN:
                        return arrays[x.index]
                    if hasattr(x, "kind") and x.kind == STEP:
                        return vals[x.index]
                    return x
                vals.append(kernels[st.op](*[sub(a) for a in st.kargs]))
            return [vals[i] for i in group.outputs]
        return fn
    monkeypatch.setattr(CPUBackend, "fuse_pointwise", fuse)

    def g(x, y, z):
        h = (x * y + z).relu()
        return h.sum(), h * 2
    x, y, z = pt.randn(4, 5), pt.randn(4, 5), pt.randn(5)
    graph, (s_e, h_e), _ = graph_of(g, x, y, z)
    passes.optimize(graph)
    assert len(offered) == 1
    grp = offered[0]
    assert isinstance(grp, PointwiseGroup) and [s.op for s in grp.steps] == ["mul", "add", "relu", "mul"]
    assert grp.shape == (4, 5) and [i.shape for i in grp.inputs] == [(4, 5), (4, 5), (5,)]
    assert "fused_pointwise" in ops(graph)
    s, h2 = run(graph, [x, y, z])
    assert pt.equal(s, s_e) and pt.equal(h2, h_e)


def test_backends_that_decline_fusion_keep_their_kernels():
    def g(x):
        return (x * 2 + 1).exp()
    graph, _, _ = graph_of(g, pt.ones(3))
    assert passes.fuse_pointwise(graph) == 0      # cpu declines
    assert ops(graph) == ["mul", "add", "exp"]


def test_memory_plan_frees_values_after_their_last_use():
    def g(x):
        for _ in range(8):
            x = (x * 1.0001).exp().log()
        return x.sum()
    x = pt.ones(1 << 18)       # 1 MiB per value
    graph, _, _ = graph_of(g, x)
    exe = Executable(graph)
    assert "del v" in exe.source
    tracemalloc.start()
    g(x)
    _, eager_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    exe([x])
    _, replay_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert replay_peak <= eager_peak * 1.05, (replay_peak, eager_peak)


def _ce_step_graph(**ce_kwargs):
    pt.manual_seed(0)
    x = pt.randn(6, 4, requires_grad=True)
    t = pt.tensor([0, 3, 1, 1, 2, 3])

    def step(x, t):
        loss = pt.nn.functional.cross_entropy(x * 2, t, **ce_kwargs)
        loss.backward()
        return loss.detach()
    graph, res, tensors = graph_of(step, x, t)
    return graph, res, x, t


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.1}, {"ignore_index": 1}, {"reduction": "sum"}])
def test_cross_entropy_and_its_backward_run_as_one_kernel_with_eager_bits(kwargs):
    graph, loss_e, x, t = _ce_step_graph(**kwargs)
    grad_e = x.grad.clone()
    assert passes.optimize(graph)["pair_kernels"] == 1     # (after the seed's full() is folded)
    assert "cross_entropy+_cross_entropy_backward" in ops(graph) and "_cross_entropy_backward" not in ops(graph)
    assert "cross_entropy+_cross_entropy_backward(" in str(graph)
    x.grad = None
    loss = run(graph, [x, t])
    assert pt.equal(loss, loss_e) and pt.equal(x.grad, grad_e)


def test_the_pair_kernel_equals_the_two_kernels_bit_for_bit():
    from plugtorch.backends.cpu import CPUBackend
    be = CPUBackend()
    pair = be.fuse_pair("cross_entropy", "_cross_entropy_backward")
    ce, ce_b = be.kernels["cross_entropy"], be.kernels["_cross_entropy_backward"]
    rng = np.random.default_rng(0)
    for n, c, dt in [(64, 10, np.float32), (5, 40, np.float64), (3, 7, np.float32)]:
        x = (rng.standard_normal((n, c)) * 4).astype(dt)
        t = rng.integers(0, c, n)
        g = np.asarray(0.7, dtype=dt)
        args = (None, -100, "mean", 0.0)
        loss, grad = pair(x, t, *args, pt.float32 if dt == np.float32 else pt.float64, g, x, t, *args)
        assert loss.tobytes() == ce(x, t, *args, pt.float32 if dt == np.float32 else pt.float64).tobytes()
        assert grad.tobytes() == ce_b(g, x, t, *args).tobytes() and grad.flags.c_contiguous


def test_pairs_need_the_backends_own_kernels_and_nothing_written_between(monkeypatch):
    from plugtorch.backends.base import Backend
    from plugtorch.backends.cpu import CPUBackend
    graph, _, _, _ = _ce_step_graph()
    monkeypatch.setattr(CPUBackend, "fuse_pair", Backend.fuse_pair)     # a backend without the capability
    assert passes.optimize(graph)["pair_kernels"] == 0 and "_cross_entropy_backward" in ops(graph)
    monkeypatch.undo()
    be = pt.device("cpu")._backend
    monkeypatch.setitem(be.kernels, "_cross_entropy_backward", lambda *a: None)   # a replaced kernel
    assert be.fuse_pair("cross_entropy", "_cross_entropy_backward") is None
    monkeypatch.undo()

    def step(x, t):   # the logits change (through a view) between the loss and its backward
        loss = pt.nn.functional.cross_entropy(x, t)
        x.view(-1)[:2].zero_()
        return loss, pt.ops._cross_entropy_backward(pt.ones(()), x, t)
    graph, _, _ = graph_of(step, pt.randn(3, 4), pt.tensor([0, 1, 2]))
    assert any(n.writes for n in graph.nodes)
    assert passes.optimize(graph)["pair_kernels"] == 0


def test_functionalize_keeps_a_returned_copy_destination_its_own_tensor():
    """A copy into a returned intermediate is not renamed to an input, a captured constant or
    another output: the call returned that tensor itself (a write into the result wrote the input
    y; the captured 7 came back from every call, 7, 107, 207 after adding 100 to each result)."""
    def f(x, y):
        t = x * 2
        t.copy_(y)
        return t
    tr = pt.jit.trace(f, (pt.ones(2), pt.ones(2)), check_trace=False)
    y = pt.zeros(2)
    out = tr(pt.ones(2), y)
    out.add_(1)
    assert out.tolist() == [1.0, 1.0] and y.tolist() == [0.0, 0.0]

    def g(x):
        t = x * 2
        u = x * 3
        t.copy_(u)
        return t, u
    tr = pt.jit.trace(g, (pt.ones(2),), check_trace=False)
    a, b = tr(pt.ones(2))
    a.add_(1)
    assert a.tolist() == [4.0, 4.0] and b.tolist() == [3.0, 3.0]

    def h(x):
        s = x.sum()
        s[...] = 7
        return s
    for fn in (pt.jit.trace(h, (pt.ones(4),), check_trace=False), pt.compile(h)):
        for _ in range(3):
            o = fn(pt.ones(4))
            assert o.item() == 7.0
            o.add_(100)


def test_a_returned_view_of_a_factory_is_not_a_shared_constant():
    """``return pt.arange(6.0).view(2, 3)``: arange was folded into one constant array and every call
    returned a view of it, so adding 100 to one result made the next call return 100..105."""
    def f(x):
        return x + 0, pt.arange(6.0).view(2, 3)

    def g(x):
        a = pt.ones(3) * 2
        return x + a, a[1:]
    for fn, want in ((f, [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), (g, [2.0, 2.0])):
        for c in (pt.jit.trace(fn, (pt.ones(3),), check_trace=False), pt.compile(fn)):
            for _ in range(3):
                out = c(pt.ones(3))[1]
                assert out.tolist() == want
                out.add_(100)


def test_cse_keeps_a_negative_zero_apart_from_zero():
    """``x * 0.0`` and ``x * -0.0`` keyed equal (-0.0 == 0.0): the replay returned 1 / (x * 0.0)
    = inf for both where eager gives inf and -inf; compile's key merged k=0.0 and k=-0.0 too."""
    def f(x):
        return 1 / (x * 0.0), 1 / (x * -0.0)
    x = pt.ones(2)
    a, b = pt.jit.trace(f, (x,))(x)
    assert a.tolist() == [np.inf, np.inf] and b.tolist() == [-np.inf, -np.inf]

    c = pt.compile(lambda x, k: 1 / (x * k))
    assert [c(x, k).tolist()[0] for k in (0.0, 0.0, -0.0, -0.0)] == [np.inf, np.inf, -np.inf, -np.inf]


def _stepwise_fuse(offered):
    """A cpu ``fuse_pointwise`` running the group's steps one by one (the contract's semantics)."""
    def fuse(self, group, index=0):
        offered.append(group)
        kernels = self.kernels

        def fn(*arrays):
            vals = []
            for st in group.steps:
                args = [(arrays[a.index] if a.kind == IN else vals[a.index]) if hasattr(a, "kind") else a
                        for a in st.kargs]
                vals.append(kernels[st.op](*args))
            return [vals[i] for i in group.outputs]
        return fn
    return fuse


def test_fusion_takes_independent_pointwise_calls_of_one_shape_into_the_group(monkeypatch):
    # an optimizer's ``buf * momentum`` reads nothing of the update after it: still one kernel
    from plugtorch.backends.cpu import CPUBackend
    offered = []
    monkeypatch.setattr(CPUBackend, "fuse_pointwise", _stepwise_fuse(offered))

    def g(a, b):
        return a * 2, b + 1
    a, b = pt.arange(6.0).reshape(2, 3), pt.ones(2, 3)
    graph, _, _ = graph_of(g, a, b)
    passes.optimize(graph)
    assert [[s.op for s in grp.steps] for grp in offered] == [["mul", "add"]]
    assert ops(graph) == ["fused_pointwise"]
    x, y = run(graph, [a, b])
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0, dtype=np.float32).reshape(2, 3) * 2)
    np.testing.assert_array_equal(y.numpy(), np.full((2, 3), 2, np.float32))


needs_opencl = pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")


def _sgd(p, buf, g):
    buf.mul_(0.9).add_(g)
    p.add_(buf, alpha=-0.5)


@needs_opencl
@pytest.mark.parametrize("transposed", [False, True])
def test_copies_back_are_written_by_the_fused_kernel(transposed):
    # the update's results go straight into p and buf (no copy_ launch); a destination that is not
    # a contiguous array (a transposed parameter) receives a copy instead: the same numbers
    rng = np.random.default_rng(0)
    hp, hb, hg = (rng.standard_normal((4, 4)).astype(np.float32) for _ in range(3))
    dev = [pt.from_numpy(h.T.copy() if transposed else h).to("opencl") for h in (hp, hb, hg)]
    p, buf, g = ((t.t() if transposed else t) for t in dev)
    graph, _, _ = graph_of(_sgd, p, buf, g)
    passes.optimize(graph)
    assert "copy_" not in ops(graph)
    assert sorted(w.name for n in graph.nodes for w in n.writes) == sorted(v.name for v in graph.inputs[:2])
    p, buf, g = ((t.t() if transposed else t) for t in (pt.from_numpy(h.T.copy() if transposed else h).to("opencl")
                                                          for h in (hp, hb, hg)))
    exe = Executable(graph)
    for _ in range(3):
        exe([p, buf, g])
        hb = hb * np.float32(0.9) + hg
        hp = hp + hb * np.float32(-0.5)
    np.testing.assert_allclose(buf.cpu().numpy(), hb, rtol=1e-6)
    np.testing.assert_allclose(p.cpu().numpy(), hp, rtol=1e-6, atol=1e-6)


@needs_opencl
def test_a_copy_back_the_kernel_reads_through_a_view_stays_a_copy():
    # p.copy_(p.t() * 2 + 1): the kernel reads p transposed, so writing p in place would let one
    # work-item read an element another already wrote
    h = np.arange(16, dtype=np.float32).reshape(4, 4)
    p = pt.from_numpy(h).to("opencl")
    graph, _, _ = graph_of(lambda p: p.copy_(p.t() * 2 + 1), p)
    passes.optimize(graph)
    assert "copy_" in ops(graph)
    p = pt.from_numpy(h).to("opencl")
    Executable(graph)([p])
    np.testing.assert_array_equal(p.cpu().numpy(), h.T * 2 + 1)


def test_fusion_starts_a_new_group_after_a_reduction_and_takes_casts(monkeypatch):
    # softmax's ``exp(x - max)`` reads the reduction that runs after the first group: it is the next
    # group, not left as single kernels; a bool mask cast to float joins its comparison
    from plugtorch.backends.cpu import CPUBackend
    offered = []
    monkeypatch.setattr(CPUBackend, "fuse_pointwise", _stepwise_fuse(offered))

    def g(x):
        h = x * 2 + 1
        e = (h - h.amax(1, keepdim=True)).exp()
        return e, (e > 0.5).to(pt.float32) * 3
    hx = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    x = pt.from_numpy(hx)
    graph, _, _ = graph_of(g, x)
    passes.optimize(graph)
    assert [[s.op for s in grp.steps] for grp in offered] == [["mul", "add"], ["sub", "exp", "gt", "_to_dtype", "mul"]]
    e, m = run(graph, [x])
    h = hx * 2 + 1
    want = np.exp(h - h.max(1, keepdims=True))
    np.testing.assert_allclose(e.numpy(), want, rtol=1e-6)
    np.testing.assert_array_equal(m.numpy(), (want > 0.5).astype(np.float32) * 3)


@needs_opencl
def test_copies_back_run_when_the_fused_kernels_were_built_later():
    # under deferred builds the first group's call builds every waiting kernel: the second group's
    # ``into``, taken before, must still run (it raised AttributeError on the built kernel)
    from plugtorch.backends.fusion import deferred_builds

    def f(p, q):
        p.copy_((p * 3).sinh() + 0.5)
        q.copy_((q - 1).atan() * 2)
    hp = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    hq = np.linspace(-2, 2, 5, dtype=np.float32)
    p, q = pt.from_numpy(hp).to("opencl"), pt.from_numpy(hq).to("opencl")
    graph, _, _ = graph_of(f, p, q)
    with deferred_builds():
        passes.optimize(graph)
    assert "copy_" not in ops(graph)
    p, q = pt.from_numpy(hp).to("opencl"), pt.from_numpy(hq).to("opencl")
    Executable(graph)([p, q])
    np.testing.assert_allclose(p.cpu().numpy(), np.sinh(hp * 3) + 0.5, rtol=1e-5)
    np.testing.assert_allclose(q.cpu().numpy(), np.arctan(hq - 1) * 2, rtol=1e-5)
