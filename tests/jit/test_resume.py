"""Partial graphs (plugtorch.compiler.resume): a function whose Python reads tensor data that
changes from call to call is split before the top-level statement holding the read; the
statements before it replay as a graph, the rest runs as Python on the graph's results.

Each test runs the same program eagerly and compiled, from the same seed, and compares the
results and the parameters, and checks from the counters that the head did replay.
"""
import sys
import traceback

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn as nn
from plugtorch import compiler
from plugtorch.compiler import resume

pytestmark = pytest.mark.filterwarnings("ignore::plugtorch.jit.TracerWarning")


def _setup(seed=0, dev="cpu"):
    pt.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).to(dev)
    opt = pt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = pt.randn(10, 6).to(dev), pt.randn(10, 3).to(dev)
    return model, opt, x, y


def _params(model):
    return [p.detach().cpu().numpy().copy() for p in model.parameters()]


def _head_replays(c):
    return sum(s.head.counters["graphs"] for s in c._splits.values() if not isinstance(s, str)), \
        compiler.stats()["compiled_calls"]


def test_logging_after_the_step_splits_and_the_step_replays(dev):
    def run(compile_it):
        model, opt, x, y = _setup(0, dev)
        losses, printed = [], []

        def step(x, y):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())               # a read whose data changes at every call
            printed.append(f"{loss.item():.6f}")
            return loss
        f = pt.compile(step) if compile_it else step
        outs = [f(x, y).item() for _ in range(12)]
        return f, losses, printed, outs, _params(model)
    compiler.reset()
    _, losses_e, printed_e, outs_e, params_e = run(False)
    c, losses_c, printed_c, outs_c, params_c = run(True)
    assert losses_c == losses_e and printed_c == printed_e and outs_c == outs_e
    assert all(np.array_equal(a, b) for a, b in zip(params_c, params_e))
    assert len(set(losses_e)) == 12                   # (the loss did change at every step)
    st = compiler.stats()
    assert st["graph_breaks"] == 1 and st["eager_calls"] == 0
    assert any(r.startswith("graph break:") and "split: the statements before line" in r for r in st["reasons"])
    graphs, replays = _head_replays(c)
    assert graphs == 1 and replays >= 12 - 5          # (3 traces of the whole step, the head's trace)
    assert "aten::" not in "".join(c.graphs()) and c.graphs()     # the head's graph is listed


def test_a_branch_on_the_loss_runs_as_python_after_the_forward_graph(dev):
    def run(compile_it):
        model, opt, x, y = _setup(1, dev)
        skipped = []

        def step(x, y, limit):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            if loss.item() > limit:                   # the tail: a Python branch, then ops
                skipped.append(True)
                return loss * 0
            loss.backward()
            opt.step()
            return loss
        f = pt.compile(step) if compile_it else step
        outs = [f(x, y, 0.8 if k % 3 else 0.0).item() for k in range(14)]
        return f, outs, skipped, _params(model)
    compiler.reset()
    _, outs_e, skipped_e, params_e = run(False)
    c, outs_c, skipped_c, params_c = run(True)
    assert outs_c == outs_e and skipped_c == skipped_e and len(skipped_e) >= 5
    assert all(np.array_equal(a, b) for a, b in zip(params_c, params_e))
    assert _head_replays(c)[0] >= 1 and compiler.stats()["eager_calls"] == 0


def test_a_read_inside_a_top_level_loop_makes_the_whole_loop_python():
    def f(x):
        y = x * 2 + 1
        total = 0.0
        for k in range(y.shape[0]):
            total += y[k].item()
        return y * total
    c = pt.compile(f)
    for k in range(8):
        x = pt.arange(3.0) + k
        np.testing.assert_array_equal(c(x).numpy(), f(x).numpy())
    assert _head_replays(c)[0] == 1 and compiler.stats()["compiled_calls"] >= 3


counter = 0


def test_globals_closures_and_nonlocal_writes_in_the_tail():
    global counter
    counter = 0
    seen = []

    def make():
        calls = 0

        def f(x, scale=2.0, *, shift=1.0):
            global counter
            nonlocal calls
            y = x * scale + shift
            seen.append(y.sum().item())
            counter += 1
            calls += 1
            return y, calls
        return f
    eager_f = make()
    c = pt.compile(make())
    for k in range(9):
        x = pt.full((2,), float(k))
        y, n = c(x, shift=0.5)
        np.testing.assert_array_equal(y.numpy(), eager_f(x, shift=0.5)[0].numpy())
        assert n == k + 1
    assert counter == 2 * 9 and seen == [v for k in range(9) for v in [k * 4.0 + 1.0] * 2]
    assert _head_replays(c)[0] == 1, compiler.stats()["reasons"]


def test_a_method_splits_with_its_self():
    class Trainer:
        def __init__(self):
            self.model, self.opt, self.x, self.y = _setup(2)
            self.history = []

        def step(self, x, y):
            self.opt.zero_grad()
            loss = ((self.model(x) - y) ** 2).mean()
            loss.backward()
            self.opt.step()
            self.history.append(round(loss.item(), 5))
            return loss
    te, tc = Trainer(), Trainer()
    c = pt.compile(tc.step)
    for _ in range(10):
        te.step(te.x, te.y)
        c(tc.x, tc.y)
    assert tc.history == te.history
    assert all(np.array_equal(a, b) for a, b in zip(_params(tc.model), _params(te.model)))
    assert _head_replays(c)[0] == 1


def test_inputs_keep_their_identity_in_the_tail():
    def f(x, buf):
        y = x.exp()
        n = y.sum().item()
        buf.add_(n)                     # an in-place write into the caller's tensor, in the tail
        return y
    c = pt.compile(f)
    be, bc = pt.zeros(2), pt.zeros(2)
    for k in range(8):
        x = pt.full((2,), k / 10)
        np.testing.assert_array_equal(c(x, bc).numpy(), f(x, be).numpy())
    np.testing.assert_array_equal(bc.numpy(), be.numpy())
    assert _head_replays(c)[0] == 1


def test_an_unbound_local_stays_unbound():
    def f(x, flag):
        y = x + 1
        if flag:
            z = y * 2
        if y.sum().item() > -1:
            return z
    c = pt.compile(f)
    for k in range(6):
        assert c(pt.full((2,), float(k)), True).tolist() == [2.0 * (k + 1)] * 2
    for k in range(6):
        with pytest.raises(UnboundLocalError, match="'z'"):
            c(pt.full((2,), float(k)), False)


def test_the_tail_s_traceback_points_at_the_program_s_lines():
    def f(x):
        y = x * 3
        if y.sum().item() > 100:
            raise ValueError("too big")
        return y
    c = pt.compile(f)
    for k in range(6):
        c(pt.full((2,), float(k)))
    with pytest.raises(ValueError, match="too big") as info:
        c(pt.full((2,), 50.0))
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert frame.filename == __file__ and frame.line == 'raise ValueError("too big")'


class _Record:
    def __init__(self, v):
        self.v = v


def test_an_object_the_head_creates_is_not_replayed():
    """A graph bakes in the Python objects its call returned: the head's new objects would be the
    same object at every replay. Such a split is dropped and the signature runs eagerly."""
    def f(x):
        rec = _Record(x * 2)
        s = rec.v.sum().item()
        rec.v = rec.v + s
        return rec
    c = pt.compile(f)
    recs = [c(pt.full((2,), float(k))) for k in range(8)]
    assert len({id(r) for r in recs}) == 8
    assert [r.v.tolist() for r in recs] == [[4.0 * k + 2 * k] * 2 for k in range(8)]
    assert any(r.startswith("eager:") and "cannot split before line" in r and "'rec' holds a _Record" in r
               for r in compiler.stats()["reasons"])


def test_functions_that_are_not_split():
    def first(x):
        if x.sum().item() > 0:          # the read in the first statement: nothing before it
            return x * 2
        return x * 3

    def captured(x):
        y = x * 2
        g = lambda: y                    # noqa: E731  (y is a cell variable)
        return g() * x.sum().item()
    for fn, why in ((first, "the read is in its first statement"),
                    (captured, "an inner function captures its variables (y)")):
        compiler.reset()
        c = pt.compile(fn)
        for k in range(8):
            x = pt.full((2,), float(k - 3))
            np.testing.assert_array_equal(c(x).numpy(), fn(x).numpy())
        st = compiler.stats()
        assert st["eager_calls"] >= 3 and not c._splits.get(1) or isinstance(c._splits.get(1), str)
        assert any(why in r for r in st["reasons"]), st["reasons"]


def test_a_numpy_read_splits_at_once_and_fullgraph_still_raises():
    def f(x):
        y = x * 2
        m = float(y.numpy().max())
        return y / m
    c = pt.compile(f)
    for k in range(1, 5):
        x = pt.arange(3.0) + k
        np.testing.assert_array_equal(c(x).numpy(), f(x).numpy())
    st = compiler.stats()
    assert st["graph_breaks"] == 1 and st["traced_calls"] == 2 and st["compiled_calls"] == 2
    with pytest.raises(RuntimeError, match="fullgraph=True"):
        pt.compile(f, fullgraph=True)(pt.ones(2))


def test_source_that_changed_on_disk_is_not_used(tmp_path, monkeypatch):
    """The tail is built from the function's source: where the file no longer matches the running
    code, compiling the source gives other bytecode, and no split is made."""
    src = tmp_path / "prog_resume_src.py"
    src.write_text("def f(x):\n    y = x * 2\n    return y * y.sum().item()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    mod = importlib.import_module("prog_resume_src")
    assert resume.split_index(mod.f, ((mod.f.__code__, _call_offset(mod.f.__code__)),)) == 1
    src.write_text("def f(x):\n    y = x * 30\n    return y * y.sum().item()\n")   # (another size: linecache sees it)
    import linecache
    linecache.checkcache(str(src))
    assert resume.split_index(mod.f, ((mod.f.__code__, _call_offset(mod.f.__code__)),)) is None
    sys.modules.pop("prog_resume_src", None)


def _call_offset(code):
    import dis
    return [i.offset for i in dis.get_instructions(code) if i.opname in ("CALL", "CALL_FUNCTION", "CALL_METHOD")][-1]


class _Logged(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 5), nn.Linear(5, 2)
        self.seen = []

    def forward(self, x):
        h = self.a(x).relu()
        self.seen.append(round(h.sum().item(), 4))      # a read whose data changes at every call
        return self.b(h)


@pytest.mark.parametrize("how", ["pt.compile(m)", "m.compile()"])
def test_a_module_s_forward_splits_and_hooks_make_it_eager(how):
    pt.manual_seed(3)
    eager, m = _Logged(), _Logged()
    m.load_state_dict(eager.state_dict())
    c = pt.compile(m) if how == "pt.compile(m)" else (m.compile(), m)[1]
    for k in range(8):
        x = pt.randn(3, 4)
        np.testing.assert_array_equal(c(x).detach().numpy(), eager(x).detach().numpy())
    assert m.seen == eager.seen and len(set(eager.seen)) == 8
    assert compiler.stats()["graph_breaks"] == 1 and compiler.stats()["eager_calls"] == 0
    calls = []
    m.register_forward_hook(lambda mod, args, out: calls.append(1))    # (the split runs forward alone)
    eager.register_forward_hook(lambda mod, args, out: None)
    x = pt.randn(3, 4)
    np.testing.assert_array_equal(c(x).detach().numpy(), eager(x).detach().numpy())
    assert calls == [1] and m.seen == eager.seen
