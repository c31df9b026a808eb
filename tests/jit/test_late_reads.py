"""A number the call reads after its last op and only returns (``return loss.item()`` at the end
of a training step) is read again by each replay: the step stays one graph instead of a guard
whose data changes every call (a graph per call, then eager). Anything else done with such a
number, or an op after it, keeps the read a guard, since the Python after it may follow the data."""
import contextlib
import io
import math

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F

N = 6


def _data(dev):
    g = np.random.default_rng(3)
    xs = [pt.tensor(g.standard_normal((8, 4)).astype(np.float32), device=dev) for _ in range(N)]
    ys = [pt.tensor(g.standard_normal((8, 2)).astype(np.float32), device=dev) for _ in range(N)]
    return xs, ys


def _model(dev):
    pt.manual_seed(0)
    m = pt.nn.Linear(4, 2).to(dev)
    return m, pt.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)


def _step(m, opt):
    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _eager_losses(dev):
    m, opt = _model(dev)
    step = _step(m, opt)
    xs, ys = _data(dev)
    return [step(x, y).item() for x, y in zip(xs, ys)], m


@pytest.mark.parametrize("shape", ["number", "tuple", "dict"])
def test_a_training_step_returning_its_loss_number_is_one_graph(dev, shape):
    want, m_eager = _eager_losses(dev)
    m, opt = _model(dev)
    step = _step(m, opt)
    wrap = {"number": lambda l: l.item(), "tuple": lambda l: (l.item(), l),
            "dict": lambda l: {"loss": l.item(), "t": l}}[shape]
    c = pt.compile(lambda x, y: wrap(step(x, y)))
    xs, ys = _data(dev)
    got = [c(x, y) for x, y in zip(xs, ys)]
    nums = {"number": lambda r: r, "tuple": lambda r: r[0], "dict": lambda r: r["loss"]}[shape]
    assert [nums(r) for r in got] == want      # a fresh number each call, bit for bit eager's
    assert all(type(nums(r)) is float for r in got)
    if shape != "number":
        ts = [r[1] if shape == "tuple" else r["t"] for r in got]
        assert [t.item() for t in ts] == want
    np.testing.assert_array_equal(m.weight.detach().cpu().numpy(), m_eager.weight.detach().cpu().numpy())
    st = pt.compiler.stats()
    # (momentum buffers made by the first step: traced again once)
    assert (st["graphs"], st["traced_calls"], st["compiled_calls"], st["graph_breaks"]) == (1, 2, N - 2, 0)
    assert "item()" in c.graphs()[0].splitlines()[-1]        # return (%k.item())


def _run(fn, dev):
    """(results, printed text, stats) of a compiled ``fn`` over the data."""
    m, opt = _model(dev)
    step = _step(m, opt)
    c = pt.compile(lambda x, y: fn(step(x, y)))
    xs, ys = _data(dev)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        res = [c(x, y) for x, y in zip(xs, ys)]
    return res, out.getvalue(), pt.compiler.stats()


USED = {
    "printed": lambda l: (print("loss", l.item()), l)[1],
    "arithmetic": lambda l: l.item() * 2,
    "math_exp": lambda l: math.exp(l.item()),          # (C reads the double: no dunder sees it)
    "another_number": lambda l: (l.item(), 0.5),
    "formatted": lambda l: f"{l.item():.6f}",
    "compared": lambda l: l.item() > 1.0,
    "to_a_tensor": lambda l: pt.tensor(l.item()),
    "op_after": lambda l: (l.item(), l * 2),
}


@pytest.mark.parametrize("name", sorted(USED))
def test_a_number_used_otherwise_stays_guarded(dev, name):
    """The same step, but the number is used (or an op follows): each call must still give eager's
    result (here the read follows the optimizer's write, so the signature runs eagerly)."""
    want, _ = _eager_losses(dev)
    res, printed, st = _run(USED[name], dev)
    assert st["compiled_calls"] == 0
    if name == "printed":
        assert printed.count("loss") == N        # Python ran at every call
        assert [r.item() for r in res] == want
    elif name == "arithmetic":
        assert res == [w * 2 for w in want]
    elif name == "math_exp":
        assert res == [math.exp(w) for w in want]
    elif name == "formatted":
        assert res == [f"{w:.6f}" for w in want]
    elif name == "compared":
        assert res == [w > 1.0 for w in want]


def test_a_list_the_call_appends_to_keeps_the_python_running(dev):
    """``losses.append(loss.item())``: a replay would not append. In a function the compiled one
    calls, the call after the read keeps the read a guard; in the compiled function's own code,
    compile also sees the list grow while tracing. Either way every loss is appended."""
    want, _ = _eager_losses(dev)
    losses = []
    res, _, st = _run(lambda l: losses.append(l.item()), dev)
    assert losses == want and st["compiled_calls"] == 0
    pt.compiler.reset()
    m, opt = _model(dev)
    step = _step(m, opt)
    own = []

    def f(x, y):
        own.append(step(x, y).item())
    c = pt.compile(f)
    for x, y in zip(*_data(dev)):
        c(x, y)
    assert own == want
    st = pt.compiler.stats()
    assert st["compiled_calls"] == 0


def test_a_list_the_compiled_code_appends_to_is_python_state():
    seen = []

    def f(x):
        seen.append(1)          # (no read: before, a replay silently skipped the append)
        return x * 2
    c = pt.compile(f)
    for k in range(5):
        assert c(pt.full((2,), float(k))).tolist() == [2.0 * k] * 2
    assert seen == [1] * 5
    st = pt.compiler.stats()
    assert st["compiled_calls"] == 0 and st["eager_calls"] == 2 and st["traced_calls"] == 3
    assert any("the Python value 'seen' (a list of 0 items before, a list of 1 items after)" in r
               for r in st["reasons"])


def test_inference_returning_a_number_and_trace_too(dev):
    w = pt.tensor([[1.0, -2.0], [0.5, 3.0]], device=dev)
    f = lambda x: (x @ w).relu().sum().item()    # noqa: E731
    xs = [pt.tensor(np.full((3, 2), v, np.float32), device=dev) for v in (1.0, 2.0, -1.0, 0.25)]
    want = [float((np.maximum(np.full((3, 2), v, np.float32) @ w.cpu().numpy(), 0)).sum())
            for v in (1.0, 2.0, -1.0, 0.25)]
    c = pt.compile(f)
    assert [c(x) for x in xs] == want
    assert pt.compiler.stats()["graphs"] == 1
    traced = pt.jit.trace(f, (xs[0],))
    assert [traced(x) for x in xs] == want        # (it used to raise TracedDataChanged)


def test_the_autograd_replay_reads_the_number_too(dev):
    """Inputs that require grad and a graph without backward: the op-level replay returns the
    tensor with its history and the number read afresh."""
    traced = pt.jit.trace(lambda x: ((x * 3).sum(), (x * 3).sum().item()), (pt.ones(2, device=dev),))
    for v in (1.0, 2.5):
        x = pt.full((2,), v, device=dev, requires_grad=True)
        s, n = traced(x)
        assert n == 6 * v and s.item() == 6 * v
        s.backward()
        assert x.grad.tolist() == [3.0, 3.0]


def test_a_saved_graph_refuses_a_returned_number(tmp_path):
    traced = pt.jit.trace(lambda x: (x * 2).sum().item(), (pt.ones(2),))
    assert traced(pt.full((2,), 3.0)) == 12.0
    with pytest.raises(RuntimeError, match=r"returns a Python number read from a tensor \(item\(\) at .*"
                                           r"test_late_reads.py.*return the tensor"):
        traced.save(tmp_path / "g.ptj")


def test_a_trace_returning_a_dict_of_tensors_replays_them(dev):
    """(A dict in the return value was kept as the traced object: a replay returned stale tensors.)"""
    traced = pt.jit.trace(lambda x: {"y": x * 2, "z": [x + 1]}, (pt.ones(1, device=dev),))
    r = traced(pt.full((1,), 5.0, device=dev))
    assert r["y"].item() == 10.0 and r["z"][0].item() == 6.0


def test_explain_lists_the_returned_reads():
    w = pt.tensor([1.0, 2.0])
    ex = pt.compiler.explain(lambda x: (x * w).sum().item(), pt.ones(2))
    assert ex.graph_count == 1 and ex.graph_break_count == 0 and ex.guards == []
    assert len(ex.returned_reads) == 1 and ex.returned_reads[0].startswith("item() at ")
    assert "test_late_reads.py" in ex.returned_reads[0] and "Returned Reads" in str(ex)


# --- uses no dunder sees: the code after the read must only return the number -------------------

_XS = [[1.0, 5.0, 2.0], [9.0, 1.0, 2.0], [0.0, 1.0, 8.0], [3.0, 1.0, 2.0], [1.0, 8.0, 2.0]]


def _plain(r):
    if isinstance(r, pt.Tensor):
        return r.tolist()
    if isinstance(r, (list, tuple)):
        return [_plain(y) for y in r]
    if isinstance(r, dict):
        return {k: _plain(v) for k, v in r.items()}
    return r


def _index_list(x):
    ys = [x * 1, x * 2, x * 3]
    k = x.argmax().item()        # (list indexing takes an int subclass's value with no __index__)
    return ys[k]


def _index_list_and_k(x):
    ys = [x * 1, x * 2, x * 3]
    k = x.argmax().item()
    return k, ys[k]


_BUF = np.zeros(1)


def _numpy_store(x):
    n = (x * 2).sum().item()
    _BUF[0] = n                  # (numpy reads a float subclass's value directly)
    return n


_LOG: dict = {}


def _percent_format_stored(x):
    n = (x * 2).sum().item()
    _LOG["msg"] = "%.2f" % n     # (str % reads the float directly: no __format__)
    return n


def _branch_on_real(x):
    a, b = x * 2, x * 3
    n = x.argmax().item()
    return a if n.real else b    # (.real is a plain int copy: its __bool__ is int's)


NO_DUNDER = {
    "index_list": (_index_list, lambda: None),
    "index_list_and_k": (_index_list_and_k, lambda: None),
    "numpy_store": (_numpy_store, lambda: float(_BUF[0])),
    "percent_format_stored": (_percent_format_stored, lambda: _LOG.get("msg")),
    "branch_on_real": (_branch_on_real, lambda: None),
    "dict_key": (lambda x: {x.argmax().item(): x * 2}, lambda: None),
    "in_a_dict_key": (lambda x: {(x.argmax().item(),): x * 2}, lambda: None),
}


@pytest.mark.parametrize("name", sorted(NO_DUNDER))
def test_a_number_used_where_no_dunder_sees_it_stays_guarded(name):
    """Python uses a read number without any of its methods: a subscript, a store into a NumPy
    array, str's % formatting, a branch on a copy. Each compiled call gives eager's result and
    leaves eager's state; a traced function stops (TracedDataChanged) rather than replay stale."""
    fn, state = NO_DUNDER[name]
    xs = [pt.tensor(v) for v in _XS]
    want = [(_plain(fn(x)), state()) for x in xs]
    c = pt.compile(fn)
    assert [(_plain(c(x)), state()) for x in xs] == want
    assert pt.compiler.stats()["compiled_calls"] < len(xs) - 1      # (guards: only repeated data replays)
    traced = pt.jit.trace(fn, (xs[0],), check_trace=False)
    for x, (w, _) in zip(xs, want):
        try:
            assert _plain(traced(x)) == w
        except pt.jit.TracedDataChanged:
            pass


def test_a_profiler_the_program_runs_under_keeps_the_read_guarded():
    """Under cProfile the tracer cannot watch the calls after a read (a logger's "%f" % n sees
    no dunder either): the read stays a guard and every call logs."""
    import cProfile
    import logging
    out = io.StringIO()
    log = logging.getLogger("plugtorch.tests.late_reads")
    handler = logging.StreamHandler(out)
    log.addHandler(handler)
    log.propagate = False

    def f(x):
        n = (x * 2).sum().item()
        log.warning("loss %.3f", n)
        return n
    xs = [pt.tensor(v) for v in _XS[:3]]
    p = cProfile.Profile()
    try:
        p.enable()
        c = pt.compile(f)
        got = [c(x) for x in xs]
        p.disable()
    finally:
        p.disable()
        log.removeHandler(handler)
    want = [float(np.float32(2) * np.asarray(v, np.float32).sum()) for v in _XS[:3]]
    assert got == want
    assert out.getvalue().split() == [w for v in want for w in ("loss", f"{v:.3f}")]


def test_the_tracer_leaves_a_profiler_the_program_started_alone():
    import sys
    import cProfile
    keep = []

    def f(x):
        n = (x * 2).sum().item()
        p = cProfile.Profile()
        keep.append(p)
        p.enable()
        return n
    try:
        pt.jit.trace(f, (pt.ones(2),), check_trace=False)
        assert sys.getprofile() is not None       # (the program's profiler still runs)
    finally:
        sys.setprofile(None)
    traced = pt.jit.trace(lambda x: (x * 2).sum().item(), (pt.ones(2),))
    assert sys.getprofile() is None               # (the tracer's own watch is gone)
    with pytest.raises(ValueError, match="boom"):
        pt.jit.trace(lambda x: ((x * 2).sum().item(), (_ for _ in ()).throw(ValueError("boom"))),
                     (pt.ones(2),))
    assert sys.getprofile() is None
    assert traced(pt.full((2,), 3.0)) == 12.0


_ARR = __import__("array").array("d")


def _extend_via_lambda(x):
    y = (x * 2).sum()
    _ARR.extend(map(lambda t: t.item(), [y]))     # (array reads each double directly)


def _extend_via_item(x):
    y = (x * 2).sum()
    _ARR.extend(map(pt.Tensor.item, [y]))


@pytest.mark.parametrize("fn", [_extend_via_lambda, _extend_via_item], ids=["lambda", "item"])
def test_a_number_a_c_function_gets_from_a_callback_stays_guarded(fn):
    """A read in a function that C code calls (``map`` inside ``array.extend``): the C code may
    use the number, so the read is not returned unguarded; every call extends the array."""
    xs = [pt.tensor(v) for v in _XS]
    del _ARR[:]
    for x in xs:
        fn(x)
    want = list(_ARR)
    del _ARR[:]
    c = pt.compile(fn)
    for x in xs:
        c(x)
    assert list(_ARR) == want == [2 * sum(v) for v in _XS]


def _helper(y):
    return y.item()


def _wrapped(fn):
    def w(*a):
        return fn(*a)
    return w


class _Net(pt.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = pt.nn.Linear(3, 2)

    def forward(self, x):
        return self.lin(x).sum().item()


class _Outer(pt.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = _Net()

    def forward(self, x):
        return self.net(x)


def _two_reads(x):
    a, m = (x * 2).sum(), x.max()
    return a.item(), {"max": m.item()}


RETURNED = {
    "helper": lambda x: _helper((x * 2).sum()),
    "decorated": _wrapped(lambda x: (x * 2).sum().item()),
    "module": None,
    "submodule": None,
    "two_reads": _two_reads,
    "sum": lambda x: x.sum().item(),
}


@pytest.mark.parametrize("name", sorted(RETURNED))
def test_returned_reads_through_calls_modules_and_decorators(name):
    """The number returned through a helper, a decorator's ``fn(*a)``, a module's ``__call__``,
    or with another read: one graph, and each replay returns eager's numbers."""
    pt.manual_seed(0)
    fn = RETURNED[name] or {"module": _Net, "submodule": _Outer}[name]()
    xs = [pt.tensor(v) for v in _XS]
    want = [fn(x) for x in xs]
    c = pt.compile(fn)
    assert [c(x) for x in xs] == want
    st = pt.compiler.stats()
    assert (st["graphs"], st["compiled_calls"]) == (1, len(xs) - 1)


def test_a_read_number_a_forward_hook_keeps_pickles_as_a_plain_number():
    """A forward hook gets the (traced) number forward returned; it keeps it in Python state,
    which pickles and copies as eager's float would."""
    import copy
    import pickle

    class Net(pt.nn.Module):
        def forward(self, x):
            return (x * 2).sum().item()
    m, kept = Net(), []
    m.register_forward_hook(lambda mod, i, o: kept.append(o))
    c = pt.compile(m)
    xs = [pt.tensor(v) for v in _XS]
    assert [c(x) for x in xs] == [2 * sum(v) for v in _XS]
    assert kept == [2 * sum(v) for v in _XS]
    assert pickle.loads(pickle.dumps(kept)) == kept
    assert all(type(v) is float for v in pickle.loads(pickle.dumps(kept)) + copy.deepcopy(kept))


class _LogsCallersN:
    """A context manager whose __exit__ reads the number from its caller's frame."""

    def __init__(self):
        self.seen = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        import sys
        self.seen.append(sys._getframe(1).f_locals.get("n"))


def test_a_read_inside_a_with_block():
    """``with pt.no_grad(): return y.item()``: plugtorch's own __exit__ runs after the read and
    leaves the number alone: one graph. A context manager of the program's own, or a C one, is a
    call after the read: the read stays a guard, and its __exit__ sees each call's number."""
    import threading
    xs = [pt.tensor(v) for v in _XS]
    want = [2 * sum(v) for v in _XS]

    def no_grad(x):
        with pt.no_grad():
            n = (x * 2).sum().item()
            return n
    c = pt.compile(no_grad)
    assert [c(x) for x in xs] == want
    assert pt.compiler.stats()["compiled_calls"] == len(xs) - 1
    pt.compiler.reset()
    cm, lock = _LogsCallersN(), threading.Lock()

    def own(x):
        with cm:
            n = (x * 2).sum().item()
            return n

    def c_lock(x):
        with lock:
            n = (x * 2).sum().item()
            return n
    for fn in (own, c_lock):
        pt.compiler.reset()
        c = pt.compile(fn)
        assert [c(x) for x in xs] == want
        assert pt.compiler.stats()["compiled_calls"] == 0
    assert cm.seen == want


def test_a_package_beside_plugtorch_is_not_plugtorch():
    """Code of a file whose path merely starts with plugtorch's (``.../plugtorch_extras/``) is the
    program's: its C calls count, and a read it calls back stays a guard (array extended each call)."""
    from plugtorch.jit import tracer
    ns = {"_ARR": _ARR}
    exec(compile("def apply(fn, y):\n    _ARR.extend(map(fn, [y]))\n",
                 tracer._PKG + "_extras/helper.py", "exec"), ns)
    apply = ns["apply"]

    def f(x):
        y = (x * 2).sum()
        apply(_helper, y)
    xs = [pt.tensor(v) for v in _XS]
    del _ARR[:]
    c = pt.compile(f)
    for x in xs:
        c(x)
    assert list(_ARR) == [2 * sum(v) for v in _XS]
