"""plugtorch.compile: guards and recompiles, graph breaks, stats and explain, reset."""
import pytest

import plugtorch as pt


def test_first_call_traces_then_replays():
    import itertools
    calls = itertools.count()        # (a list appended to would be seen changing: test_late_reads.py)

    def f(x):
        next(calls)                  # Python runs only while tracing
        return x * 2 + 1
    c = pt.compile(f)
    x = pt.ones(3)
    assert c(x).tolist() == [3.0] * 3 and c(x).tolist() == [3.0] * 3 and c(pt.zeros(3)).tolist() == [1.0] * 3
    assert next(calls) == 1
    st = pt.compiler.stats()
    assert st["graphs"] == 1 and st["compiled_calls"] == 2 and st["traced_calls"] == 1


@pytest.mark.parametrize("change,why", [
    (lambda: pt.ones(4), "new input signature"),
    (lambda: pt.ones(3, dtype=pt.float64), "new input signature"),
    (lambda: pt.ones(3, requires_grad=True), "requires_grad"),
    (lambda: pt.ones(6)[::2], "new input signature"),
])
def test_a_new_signature_traces_again(change, why):
    c = pt.compile(lambda x: x + 1)
    c(pt.ones(3))
    y = change()
    assert c(y).tolist() == (y + 1).tolist()
    assert c.counters == {"graphs": 2, "graph_breaks": 0, "recompiles": 1}
    assert any(why in r for r in pt.compiler.stats()["reasons"])


def test_grad_mode_is_part_of_the_key():
    w = pt.ones(3, requires_grad=True)
    c = pt.compile(lambda x: x * w)
    c(pt.ones(3))
    with pt.no_grad():
        out = c(pt.ones(3))
    assert not out.requires_grad and c.counters["graphs"] == 2


def test_cache_is_bounded():
    from plugtorch import compiler
    c = pt.compile(lambda x: x + 1)
    for n in range(1, compiler.CACHE_SIZE_LIMIT + 4):
        c(pt.ones(n))
    assert len(c._cache) <= compiler.CACHE_SIZE_LIMIT


def test_signatures_that_keep_coming_run_eagerly():
    """Every call a new shape (variable lengths): after the cache has dropped CACHE_SIZE_LIMIT
    graphs, new signatures run eagerly instead of tracing at every call; the last graphs replay."""
    from plugtorch import compiler
    c = pt.compile(lambda x: x * 2 + 1)
    limit = compiler.CACHE_SIZE_LIMIT
    for n in range(1, 3 * limit + 1):
        assert c(pt.ones(n)).tolist() == [3.0] * n
    st = compiler.stats()
    assert st["traced_calls"] == 2 * limit and st["eager_calls"] == limit
    assert any(r.startswith("eager:") and "more than 16 signatures" in r for r in st["reasons"])
    last = 2 * limit                       # (kept: the graphs of sizes limit+1 .. 2*limit)
    assert c(pt.ones(last)).tolist() == [3.0] * last and compiler.stats()["compiled_calls"] == 1
    compiler.reset()
    c(pt.ones(3 * limit + 1))
    assert compiler.stats()["traced_calls"] == 1


def test_graph_break_runs_eagerly_and_is_explained():
    def f(x):
        if x.numpy().sum() > 0:          # data-dependent Python on a NumPy view: not repeatable
            return x * 2
        return x * 3
    c = pt.compile(f)
    assert c(pt.ones(2)).tolist() == [2.0, 2.0]
    assert c(-pt.ones(2)).tolist() == [-3.0, -3.0]    # eager: the other branch
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 1 and st["eager_calls"] == 1
    assert any("graph break" in r and "numpy" in r and "test_compile.py" in r for r in st["reasons"])
    ex = pt.compiler.explain(f, pt.ones(2))
    assert ex.graph_count == 0 and ex.graph_break_count == 1 and "numpy" in ex.break_reasons[0]
    assert "Graph Break Count: 1" in str(ex)


def test_a_branch_on_tensor_data_compiles_a_graph_per_branch():
    """item()/bool()/tolist() are repeated by the replay (a guard): a graph per value Python saw."""
    import itertools
    calls = itertools.count()

    def f(x):
        next(calls)
        if x.sum().item() > 0:
            return x * 2
        return x * 3
    c = pt.compile(f)
    for sign in (1, 1, -1, -1, 1, -1):
        x = sign * pt.ones(2)
        assert c(x).tolist() == ([2.0 * sign] * 2 if sign > 0 else [-3.0] * 2)
    st = pt.compiler.stats()
    assert st["graphs"] == 2 and st["graph_breaks"] == 0 and st["eager_calls"] == 0 and next(calls) == 2
    assert st["compiled_calls"] == 4 and st["recompiles"] == 1
    assert "item() at" in st["reasons"][0] and "holds -2.0 where the trace read 2.0" in st["reasons"][0]
    ex = pt.compiler.explain(f, pt.ones(2))
    assert ex.graph_count == 1 and ex.graph_break_count == 0
    assert len(ex.guards) == 1 and ex.guards[0].startswith("item() at ") and "test_compile.py" in ex.guards[0]
    assert "Guarded Reads" in str(ex)


def test_a_read_that_keeps_changing_ends_eager():
    import itertools
    calls = itertools.count()

    def f(x, n):
        next(calls)
        return x * int(n.item())
    c = pt.compile(f)
    for k in range(8):
        assert c(pt.ones(2), pt.tensor(k)).tolist() == [float(k)] * 2
    st = pt.compiler.stats()
    # 4 graphs, one per value read; the 5th call splits f before the read's statement
    # (compiler.resume) and traces the statement before it, which runs no tensor op: not worth a
    # graph, so the signature runs eagerly from then on
    assert pt.compiler.DATA_VARIANT_LIMIT == 4 and st["graphs"] == 4 + 1
    assert st["eager_calls"] == 3 and next(calls) == 8
    assert any(r.startswith("graph break:") and "4 graphs traced on other data fit none" in r for r in st["reasons"])
    assert any(r.startswith("eager:") and "run no tensor op" in r for r in st["reasons"])


def test_fullgraph_makes_a_break_an_error():
    c = pt.compile(lambda x: x * float(x.numpy().sum()), fullgraph=True)
    with pytest.raises(RuntimeError, match=r"fullgraph=True\): graph break: .*numpy"):
        c(pt.ones(2))


def test_reset_forgets_graphs():
    c = pt.compile(lambda x: x - 1)
    c(pt.ones(2))
    c(pt.ones(2))
    pt.compiler.reset()
    assert pt.compiler.stats()["graphs"] == 0
    c(pt.ones(2))
    assert pt.compiler.stats()["traced_calls"] == 1


def test_training_mode_change_traces_again():
    m = pt.nn.Dropout(0.5)
    c = pt.compile(m)
    x = pt.ones(100)
    pt.manual_seed(0)
    a = c(x)
    assert (a == 0).any()
    m.eval()
    assert pt.equal(c(x), x) and pt.equal(c(x), x)


def test_learning_rate_change_traces_again():
    p = pt.ones(2, requires_grad=True)
    opt = pt.optim.SGD([p], lr=0.5)

    def step():
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    c = pt.compile(step)
    c()
    c()                                   # replay: p = 1 - .5*2 = 0 -> 0
    assert p.tolist() == [0.0, 0.0]
    with pt.no_grad():
        p.fill_(1.0)
    opt.param_groups[0]["lr"] = 0.25
    c()
    assert p.tolist() == [0.5, 0.5]
    assert any("optimizer's options or state changed" in r for r in pt.compiler.stats()["reasons"])


def test_state_created_on_the_first_call_is_traced_again():
    p = pt.ones(3, requires_grad=True)
    opt = pt.optim.SGD([p], lr=0.1, momentum=0.9)

    def step():
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    c = pt.compile(step)
    for _ in range(4):
        c()
    ref = pt.ones(3, requires_grad=True)
    ropt = pt.optim.SGD([ref], lr=0.1, momentum=0.9)
    for _ in range(4):
        ropt.zero_grad()
        (ref * ref).sum().backward()
        ropt.step()
    assert pt.equal(p, ref)
    assert any("kept in Python state" in r for r in pt.compiler.stats()["reasons"])
    assert c.counters["graphs"] == 1


def test_compile_as_decorator_and_bad_input():
    @pt.compile
    def f(x):
        return x * x
    assert f(pt.full((2,), 3.0)).tolist() == [9.0, 9.0]

    @pt.compile(fullgraph=True)
    def g(x):
        return x + x
    assert g(pt.ones(1)).tolist() == [2.0]
    with pytest.raises(TypeError, match="expected a function or a Module"):
        pt.compile(5)
    with pytest.raises(NotImplementedError, match="dynamic=True"):
        pt.compile(lambda x: x, dynamic=True)


def test_autocast_inside_a_compiled_function_puts_the_casts_in_the_graph():
    pt.manual_seed(0)
    m = pt.nn.Linear(8, 4)

    def f(x):
        with pt.autocast("cpu"):
            return m(x).float().softmax(-1)
    c = pt.compile(f)
    x = pt.randn(3, 8)
    with pt.no_grad():
        expected = f(x)
        c(x)
        got = c(x)
    assert pt.equal(got, expected) and c.counters["graphs"] == 1
    text = str(next(iter(c._cache.values())).traced.graph)
    assert "_to_dtype(%0, plugtorch.bfloat16)" in text and "bfloat16[3, 4, device=cpu] = linear(" in text


def test_under_an_outer_mode_a_compiled_call_runs_eagerly_so_the_mode_sees_it():
    m = pt.nn.Linear(8, 4)
    c = pt.compile(lambda x: m(x))
    x = pt.randn(3, 8)
    c(x)
    c(x)
    with pt.autocast("cpu"):
        out = c(x)
    assert out.dtype is pt.bfloat16


def test_alternating_signatures_each_replay_their_own_graph():
    # the graph that ran last is tried first (its replay guards the inputs): calls that alternate
    # between shapes, strides, dtypes, requires_grad, grad mode and training mode must each find
    # their own graph and give eager's values
    c = pt.compile(lambda x: (x * 2 + 1).sum(0))
    base = pt.arange(12, dtype=pt.float32).reshape(4, 3)
    calls = [base, base.t(), base[:2], base.double(), base.t().contiguous(), base.clone().requires_grad_()]
    for _ in range(3):
        for x in calls:
            got = c(x)
            assert got.dtype == x.dtype and got.tolist() == (x.detach() * 2 + 1).sum(0).tolist()
            assert got.requires_grad == x.requires_grad
        with pt.no_grad():
            assert not c(calls[-1]).requires_grad
    assert c.counters["graphs"] == 7          # six signatures and one with grad mode off
    x = calls[-1]
    c(x).sum().backward()
    assert x.grad.tolist() == [[2.0] * 3] * 4


def test_the_last_graph_is_not_reused_after_reset_or_an_option_change():
    w = pt.ones(2, requires_grad=True)
    opt = pt.optim.SGD([w], lr=0.5)

    def step(x):
        opt.zero_grad()
        (w * x).sum().backward()
        opt.step()
    c = pt.compile(step)
    x = pt.ones(2)
    for _ in range(3):
        c(x)
    assert w.tolist() == [-0.5, -0.5]
    opt.param_groups[0]["lr"] = 1.0       # the replayed graph must not keep the old rate
    c(x)
    assert w.tolist() == [-1.5, -1.5]
    c(x)
    assert w.tolist() == [-2.5, -2.5]
    pt.compiler.reset()
    c(x)
    assert w.tolist() == [-3.5, -3.5]
    assert c.counters["graphs"] >= 2


def test_a_read_of_a_tensor_the_call_did_not_compute_is_guarded_too():
    """A global (or captured) tensor read into Python: the graph holds what it read, so the replay
    checks it; a write into it between calls traces again instead of replaying the old number."""
    g = pt.tensor(2.0)

    def f(x):
        return x * int(g.item())
    c = pt.compile(f)
    assert c(pt.ones(2)).tolist() == [2.0, 2.0] and c(pt.ones(2)).tolist() == [2.0, 2.0]
    g.fill_(5.0)
    assert c(pt.ones(2)).tolist() == [5.0, 5.0]
    assert pt.compiler.stats()["recompiles"] == 1
    t = pt.jit.trace(f, (pt.ones(2),))
    g.fill_(7.0)
    with pytest.raises(RuntimeError, match="holds 7.0 where the trace read 5.0"):
        t(pt.ones(2))


def test_the_default_dtype_is_part_of_the_key():
    """Factories and Python floats in the graph followed the default dtype of the traced call."""
    g = pt.compile(lambda x: pt.arange(3) * 0.5 + x.sum())
    x = pt.ones(2, dtype=pt.float64)
    assert g(x).dtype is pt.float32 and g(x).dtype is pt.float32
    try:
        pt.set_default_dtype(pt.float64)
        assert g(x).dtype is pt.float64 and g(x).dtype is pt.float64
    finally:
        pt.set_default_dtype(pt.float32)
    assert g(x).dtype is pt.float32
    st = pt.compiler.stats()
    assert st["graphs"] == 2 and st["compiled_calls"] == 3
    assert "default dtype float64" in st["reasons"][0]


def test_a_call_drawing_from_python_or_numpy_random_runs_eagerly():
    """Python chose with numbers a replay would not draw again: a graph break."""
    import random

    import numpy as np

    def flip_sometimes(x):
        return x.flip(0) if random.random() < 0.5 else x * 1
    c = pt.compile(flip_sometimes)
    random.seed(0)
    got = [c(pt.arange(3.0)).tolist() for _ in range(8)]
    random.seed(0)
    assert got == [flip_sometimes(pt.arange(3.0)).tolist() for _ in range(8)]
    assert "draws from Python's random module" in pt.compiler.stats()["reasons"][0]

    def jitter(x):
        return x + float(np.random.rand())
    c = pt.compile(jitter)
    np.random.seed(0)
    got = [c(pt.zeros(1)).tolist() for _ in range(3)]
    np.random.seed(0)
    assert got == [jitter(pt.zeros(1)).tolist() for _ in range(3)]
    assert any("NumPy's global random generator" in r for r in pt.compiler.stats()["reasons"])


@pytest.mark.parametrize("change, shape", [(lambda x: x.unsqueeze_(-1), [2, 3, 1]), (lambda x: x.t_(), [3, 2]),
                                           (lambda x: x.transpose_(0, 1), [3, 2])])
def test_a_call_changing_an_inputs_shape_in_place_runs_eagerly(change, shape):
    """``x.unsqueeze_(-1); return (x,)``: the replay left x [2, 3] and returned a new [2, 3, 1]
    tensor (eager: x itself, now [2, 3, 1]). Compile breaks the graph, trace warns."""
    def f(x):
        change(x)
        return (x,)
    c = pt.compile(f)
    for k in range(3):
        x = pt.arange(6.0).reshape(2, 3)
        out, = c(x)
        assert out is x and list(x.shape) == shape
        rows = [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
        want = [[[v] for v in r] for r in rows] if shape[0] == 2 else [list(c) for c in zip(*rows)]
        assert x.tolist() == want
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 1 and st["compiled_calls"] == 0
    assert any("changes the shape or strides of input 0 in place" in r for r in st["reasons"])
    with pytest.warns(pt.jit.TracerWarning, match="changes the shape or strides of input 0 in place"):
        pt.jit.trace(f, (pt.ones(2, 3),))


def test_equal_python_numbers_of_other_types_get_their_own_graph():
    """2 and 2.0 (True and 1) are equal Python values: the key held them as one, so after
    c(ints, 2), c(ints, 2.0) replayed the int graph and returned [2, 4] as int64 (eager: float32
    [2.0, 4.0]), and c(bools, 1) after c(bools, True) returned bools (eager: int64 [1, 0])."""
    def f(x, k):
        return x * k
    c = pt.compile(f)
    x = pt.tensor([1, 2])
    assert c(x, 2).dtype == pt.int64 and c(x, 2).tolist() == [2, 4]
    out = c(x, 2.0)
    assert out.dtype == pt.float32 and out.tolist() == [2.0, 4.0]
    b = pt.tensor([True, False])
    assert c(b, True).dtype == pt.bool
    out = c(b, 1)
    assert out.dtype == pt.int64 and out.tolist() == [1, 0]
    t = pt.jit.trace(f, (x, 2))
    with pytest.raises(RuntimeError, match=r"traced with arguments structured as \[Tensor, 2\] and is called "
                                           r"with \[Tensor, 2.0\]"):
        t(x, 2.0)


def test_a_step_that_sets_grads_to_none_clears_them_at_every_replay():
    """A compiled ``opt.step(); opt.zero_grad()`` (set_to_none) outside backward replays op by op
    through autograd (its parameters require grad); that replay ignored what the call left in
    .grad, so from the second call on the gradients stayed set and the next backward (or, here,
    assignment plus accumulation) added to stale ones: SGD's w went 0.9, 0.7, 0.2 instead of
    0.9, 0.7, 0.4 (each step is w -= 0.1 * g with g = 1, 2, 3 by hand)."""
    w = pt.nn.Parameter(pt.tensor([1.0, 2.0], dtype=pt.float64))
    opt = pt.optim.SGD([w], lr=0.1)

    def step():
        opt.step()
        opt.zero_grad(set_to_none=True)
    c = pt.compile(step)
    want = [1.0, 2.0]
    for i in range(4):
        if w.grad is None:
            w.grad = pt.tensor([1.0 + i, -3.0], dtype=pt.float64)
        else:                       # (a stale gradient: accumulate into it, as backward would)
            w.grad.add_(pt.tensor([1.0 + i, -3.0], dtype=pt.float64))
        c()
        want = [want[0] - 0.1 * (1.0 + i), want[1] + 0.3]
        assert w.grad is None, f"call {i}"
        assert w.tolist() == pytest.approx(want, rel=1e-15)
    assert c.counters["graphs"] == 1 and pt.compiler.stats()["compiled_calls"] >= 3


def test_a_grad_assigned_in_a_compiled_call_is_assigned_at_every_replay():
    # the same replay path with a tensor the call computes and assigns to .grad
    w = pt.nn.Parameter(pt.tensor([1.0, 2.0]))

    def f(x):
        with pt.no_grad():
            w.grad = w * x
        return (w * x).sum()
    c = pt.compile(f)
    for i in range(3):
        out = c(pt.tensor([1.0 + i, 3.0]))
        assert out.item() == 7.0 + i and w.grad.tolist() == [1.0 + i, 6.0]
    assert c.counters["graphs"] == 1
    out.backward()                  # (the returned loss still carries autograd: d/dw = x)
    assert w.grad.tolist() == [1.0 + 2 + 3.0, 6.0 + 3.0]


def test_a_compiled_step_reads_the_grads_a_separate_compiled_backward_left():
    """Gradient accumulation split in two compiled functions: forward+backward, then
    clip_grad_value_ + step + zero_grad(set_to_none=False). clip read p.grad before any op used p,
    so the step's graph held that first .grad tensor as a constant capture; the backward graph's
    replays leave a new .grad tensor each call, so the step clipped, applied and zeroed a stale
    one: w stayed at its first update (0.95, 2.02) while the grads piled up. By hand: g = x =
    (1 + i, -0.2), clipped to (0.5, -0.2), w -= 0.1 * clipped at each of the 4 calls."""
    w = pt.nn.Parameter(pt.tensor([1.0, 2.0], dtype=pt.float64))
    opt = pt.optim.SGD([w], lr=0.1)

    def forward_backward(x):
        (w * x).sum().backward()

    def step():
        pt.nn.utils.clip_grad_value_([w], 0.5)
        opt.step()
        opt.zero_grad(set_to_none=False)
    fb, st = pt.compile(forward_backward), pt.compile(step)
    for i in range(4):
        fb(pt.tensor([1.0 + i, -0.2], dtype=pt.float64))
        assert w.grad.tolist() == pytest.approx([1.0 + i, -0.2], rel=1e-15), f"call {i}"
        st()
        assert w.grad.tolist() == [0.0, 0.0]
        assert w.tolist() == pytest.approx([1.0 - 0.05 * (i + 1), 2.0 + 0.02 * (i + 1)], rel=1e-14), f"call {i}"
    assert st.counters["graphs"] == 1 and fb.counters["graphs"] >= 1
