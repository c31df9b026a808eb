"""jit.trace: the graph it records, replays equal to eager, guards, TracerWarning."""
import re
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.jit import TracerWarning


def f(x, y):
    return (x * y + 1).relu().sum(0)


def test_replay_equals_eager_on_new_data(dev):
    pt.manual_seed(0)
    x, y = pt.randn(4, 3, device=dev), pt.randn(4, 3, device=dev)
    tf = pt.jit.trace(f, (x, y))
    for _ in range(3):
        a, b = pt.randn(4, 3, device=dev), pt.randn(4, 3, device=dev)
        expected = np.maximum(a.cpu().numpy() * b.cpu().numpy() + 1, 0).sum(0)
        got = tf(a, b)
        assert got.device.type == dev and got.dtype is pt.float32 and tuple(got.shape) == (3,)
        np.testing.assert_allclose(got.cpu().numpy(), expected, rtol=1e-6)
        assert pt.equal(got, f(a, b))


def test_graph_prints_ssa_with_meta_and_code():
    tf = pt.jit.trace(f, (pt.ones(4, 3), pt.ones(4, 3)))
    text = str(tf.graph)
    assert text.splitlines()[0] == "graph(%0 : float32[4, 3, device=cpu], %1 : float32[4, 3, device=cpu]):"
    assert "= mul(%0, %1, plugtorch.float32)" in text
    assert re.search(r"%\d+ : float32\[3, device=cpu\] = sum\(", text)
    assert text.splitlines()[-1].startswith("  return (%")
    code = tf.code
    assert code.startswith("def forward(i0, i1):") and "plugtorch.ops.mul(" in code and "return (" in code
    op_level = tf.graph_for("op")
    assert "relu(" in op_level and "# " in op_level   # each call with its source line


def test_guard_errors_name_the_input_and_the_fix(dev):
    tf = pt.jit.trace(f, (pt.ones(4, 3, device=dev), pt.ones(4, 3, device=dev)))
    with pytest.raises(RuntimeError, match=r"input 0 is float32\[5, 3\].*traced with float32\[4, 3\].*plugtorch.compile"):
        tf(pt.ones(5, 3, device=dev), pt.ones(4, 3, device=dev))
    with pytest.raises(RuntimeError, match=r"input 1 is float64\[4, 3\]"):
        tf(pt.ones(4, 3, device=dev), pt.ones(4, 3, dtype=pt.float64, device=dev))
    with pytest.raises(RuntimeError, match=r"input 0 is float32\[4, 3\] .*strides \(1, 4\)"):
        tf(pt.ones(3, 4, device=dev).t(), pt.ones(4, 3, device=dev))
    other = "cpu" if dev != "cpu" else None
    if other is None and pt.opencl.is_available():
        other = "opencl"
    if other:
        with pytest.raises(RuntimeError, match=r"input 0 is .* on " + other):
            tf(pt.ones(4, 3, device=other), pt.ones(4, 3, device=dev))
    with pytest.raises(RuntimeError, match="structured as"):
        tf(pt.ones(4, 3, device=dev))


def test_non_tensor_arguments_are_fixed_by_the_trace():
    def g(x, k):
        return x * k
    tg = pt.jit.trace(g, (pt.ones(2), 3))
    assert tg(pt.full((2,), 2.0), 3).tolist() == [6.0, 6.0]
    with pytest.raises(RuntimeError, match="structured as"):
        tg(pt.ones(2), 4)


@pytest.mark.parametrize("read,word", [(lambda t: t.item(), "item"), (lambda t: bool(t), "bool"),
                                       (lambda t: t.tolist(), "tolist"), (lambda t: float(t), "float")])
def test_data_dependent_python_warns_with_the_source_line(read, word):
    def g(x):
        s = x.sum()
        v = read(s)                      # the line the warning names
        return x * 2 if v else x * 3
    with pytest.warns(TracerWarning, match=rf"might cause the trace to be incorrect.*\({word} at .*test_trace.py:\d+\)"):
        tg = pt.jit.trace(g, (pt.ones(3),), check_trace=False)
    # the replay reads it again and stops unless the data is the traced data (no wrong result)
    assert not tg.graph.breaks and tg.graph.guards and tg.graph.guards[0][0] == word
    assert tg(pt.ones(3) * 2 / 2).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match=rf"the tensor Python read while tracing \({word}\(\) at .*test_trace.py:\d+\) "
                                           r"holds -3.0 where the trace read 3.0"):
        tg(-pt.ones(3))


def test_check_trace_warns_when_replay_differs():
    state = {"n": 0}
    captured = pt.ones(2)

    def g(x):
        state["n"] += 1
        return x + captured * state["n"]
    # the traced constant is the tensor captured; a Python counter changes nothing in the graph,
    # but a tensor read as data would: replace the captured tensor's data between trace and check
    tg = pt.jit.trace(g, (pt.ones(2),))
    assert tg(pt.ones(2)).tolist() == [2.0, 2.0]

    def h(x):
        return x * float(x.sum())
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        pt.jit.trace(h, (pt.ones(2),))
    assert any(issubclass(x.category, TracerWarning) for x in w)


def test_captured_parameters_are_read_live():
    w = pt.ones(3)
    tg = pt.jit.trace(lambda x: x * w, (pt.ones(3),))
    w.mul_(5)
    assert tg(pt.ones(3)).tolist() == [5.0, 5.0, 5.0]


def test_outputs_support_backward_with_eager_gradients(dev):
    pt.manual_seed(0)
    lin = pt.nn.Linear(4, 2).to(dev)
    x = pt.randn(3, 4, device=dev)
    tl = pt.jit.trace(lin, (x,))
    x2 = pt.randn(3, 4, device=dev, requires_grad=True)
    out = tl(x2)
    assert out.requires_grad
    (out * out).sum().backward()
    gw, gx = lin.weight.grad.clone(), x2.grad.clone()
    lin.zero_grad()
    x3 = x2.detach().clone().requires_grad_()
    (lin(x3) ** 2).sum().backward()
    np.testing.assert_allclose(gw.cpu().numpy(), lin.weight.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gx.cpu().numpy(), x3.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)
    # finite differences of the traced function (float64 module)
    lin64 = pt.nn.Linear(3, 2).double()
    t64 = pt.jit.trace(lin64, (pt.randn(2, 3, dtype=pt.float64),))
    assert pt.autograd.gradcheck(lambda a: t64(a), (pt.randn(2, 3, dtype=pt.float64, requires_grad=True),))


def test_traced_module_shares_parameters_and_state_dict(dev):
    pt.manual_seed(0)
    m = pt.nn.Sequential(pt.nn.Linear(4, 8), pt.nn.ReLU(), pt.nn.Linear(8, 2)).to(dev)
    x = pt.randn(5, 4, device=dev)
    tm = pt.jit.trace(m, (x,))
    assert list(tm.state_dict()) == list(m.state_dict())
    assert all(a is b for a, b in zip(tm.parameters(), m.parameters()))
    with pt.no_grad():
        m[0].weight.mul_(2)
        assert pt.equal(tm(x), m(x))
    assert tm.eval() is tm and not m.training


def test_traced_module_to_another_device_traces_again():
    if not pt.opencl.is_available():
        pytest.skip("no OpenCL device")
    pt.manual_seed(0)
    m = pt.nn.Linear(4, 2)
    x = pt.randn(3, 4)
    tm = pt.jit.trace(m, (x,))
    tm.to("opencl")
    with pt.no_grad():
        got = tm(x.to("opencl"))
        assert got.device.type == "opencl"
        np.testing.assert_allclose(got.cpu().numpy(), m(x.to("opencl")).cpu().numpy(), rtol=1e-6)


def test_inplace_writes_to_inputs_replay(dev):
    def g(x, y):
        x.add_(y)
        x[0] = 7.0
        return x * 2
    a = pt.zeros(3, device=dev)
    tg = pt.jit.trace(g, (a, pt.ones(3, device=dev)), check_trace=False)
    b = pt.ones(3, device=dev)
    out = tg(b, pt.full((3,), 2.0, device=dev))
    assert b.tolist() == [7.0, 3.0, 3.0] and out.tolist() == [14.0, 6.0, 6.0]


def test_random_ops_follow_the_generator(dev):
    def g(x):
        return pt.nn.functional.dropout(x, 0.5, training=True)
    x = pt.ones(64, device=dev)
    tg = pt.jit.trace(g, (x,), check_trace=False)
    pt.manual_seed(3)
    a = g(x)
    pt.manual_seed(3)
    b = tg(x)
    assert pt.equal(a, b)
    assert not pt.equal(tg(x), tg(x))   # a replay draws new numbers, as eager does


def test_escaping_state_warns():
    cache = {}

    def g(x):
        y = x * 2
        cache["y"] = y          # kept by Python: a replay would not update it
        return y + 1
    with pytest.warns(TracerWarning, match="kept by Python code outside the graph"):
        pt.jit.trace(g, (pt.ones(2),), check_trace=False)


def test_trace_rejects_non_callables():
    with pytest.raises(TypeError, match="expected a function or a Module"):
        pt.jit.trace(3, (pt.ones(1),))


def test_a_traced_function_inside_a_trace_is_recorded_op_by_op():
    pt.manual_seed(0)
    m = pt.nn.Linear(3, 2)
    x = pt.randn(4, 3)
    inner = pt.jit.trace(m, (x,))
    outer = pt.jit.trace(inner, (x,))
    y = pt.randn(4, 3)
    with pt.no_grad():
        assert pt.equal(outer(y), m(y))
    assert "linear(" in outer.graph_for("op")


def test_modes_see_the_ops_of_traced_and_compiled_calls():
    f = pt.jit.trace(lambda a: a * 2 + 1, (pt.ones(3),))
    c = pt.compile(lambda a: a * 2 + 1)
    c(pt.ones(3))
    c(pt.ones(3))
    with pt.profiler.profile() as prof:
        f(pt.ones(3))
        c(pt.ones(3))
    counts = {str(k): v for k, v in prof.counts().items()}
    assert sum(v for k, v in counts.items() if "mul" in k) == 2, counts
    assert sum(v for k, v in counts.items() if "add" in k) == 2, counts


@pytest.mark.skipif(not pt.opencl.is_available(), reason="needs a device beside cpu")
def test_a_zero_dim_cpu_tensor_beside_the_device_is_read_at_each_call():
    # the kernel on opencl takes the 0-d cpu tensor as a number: the graph reads it per call
    # (an _item node) instead of breaking or baking the traced value in
    def g(x, s):
        return (x * s + 1.0) * s - x
    x = pt.tensor([1.0, -2.0, 3.5], device="opencl")
    with warnings.catch_warnings():
        warnings.simplefilter("error", TracerWarning)
        tg = pt.jit.trace(g, (x, pt.tensor(2.5)))
    assert not tg.graph.breaks and "_item(" in str(tg.graph)
    for v in (2.5, -1.0, 7.25, 0.1):
        s = pt.tensor(v)
        want = (x.cpu().numpy() * np.float32(v) + np.float32(1.0)) * np.float32(v) - x.cpu().numpy()
        got = tg(x, s)
        assert got.device.type == "opencl" and got.cpu().numpy().tobytes() == want.tobytes()
    # integers (the kernel's own conversion of the number), and a captured 0-d tensor read live
    k = pt.tensor(3)
    ti = pt.jit.trace(lambda a: a * k + 1, (pt.tensor([1, 2, -4], device="opencl"),))
    k.fill_(-5)
    assert ti(pt.tensor([1, 2, -4], device="opencl")).tolist() == [-4, -9, 21]
    c = pt.compile(g)
    for v in (2.0, 0.5, -3.0):
        assert pt.equal(c(x, pt.tensor(v)), g(x, pt.tensor(v)))
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 0 and st["compiled_calls"] == 2, st


def test_a_number_read_otherwise_is_still_a_graph_break(dev):
    # masked_fill reads its 0-d value tensor into Python (checked against the input's dtype)
    def g(x, v):
        return x.masked_fill(x > 0, v)
    with pytest.warns(TracerWarning, match=r"\(item at "):
        tg = pt.jit.trace(g, (pt.ones(3, device=dev), pt.tensor(2.0)), check_trace=False)
    reads = tg.graph.breaks + [r[:2] for r in tg.graph.guards]
    assert reads and reads[0][0] == "item"
    if tg.graph.guards:      # a read the replay repeats: another value stops it, never a wrong result
        assert tg(pt.ones(3, device=dev), pt.tensor(2.0)).cpu().tolist() == [2.0] * 3
        with pytest.raises(RuntimeError, match=r"holds 5.0 where the trace read 2.0"):
            tg(pt.ones(3, device=dev), pt.tensor(5.0))
    c = pt.compile(g)
    for v in (2.0, 2.0, 5.0, 5.0, 2.0):
        assert c(pt.ones(3, device=dev), pt.tensor(v)).cpu().tolist() == [v] * 3


def test_namedtuple_and_ordereddict_outputs_keep_their_type_and_follow_the_inputs():
    """A replay returned a namedtuple as a plain tuple (``out.a`` raised at the second call) and
    an OrderedDict as the traced object (the traced tensors, with only a warning)."""
    import collections
    P = collections.namedtuple("P", "a b")
    fns = {"namedtuple": lambda x: P(x * 2, x + 1),
           "ordereddict": lambda x: collections.OrderedDict([("y", x * 2), ("z", x - 1)])}
    for name, fn in fns.items():
        traced = pt.jit.trace(fn, (pt.ones(2),))
        compiled = pt.compile(fn)
        for v in (1.0, 3.0):
            x = pt.full((2,), v)
            want = fn(x)
            for got in (traced(x), compiled(x), traced(pt.full((2,), v, requires_grad=True))):
                assert type(got) is type(want), name
                pairs = zip(got.values(), want.values()) if name == "ordereddict" else zip(got, want)
                assert all(a.tolist() == b.tolist() for a, b in pairs), name
        if name == "namedtuple":
            assert traced(pt.full((2,), 5.0)).a.tolist() == [10.0, 10.0]
        else:
            assert list(traced(pt.ones(2))) == ["y", "z"]


def _counter_update(w):
    def f(x):
        with pt.no_grad():      # an update the program keeps out of autograd (a parameter, a statistic)
            w.add_(1.0)
        return (w * x).sum()
    return f


def test_an_update_under_no_grad_replays_under_no_grad_through_autograd(dev):
    # the replay that builds autograd's graph made the add_ with gradients on: a leaf that
    # requires grad refused the in-place write at the second call
    w = pt.ones(3, device=dev, requires_grad=True)
    traced = pt.jit.trace(_counter_update(w), (pt.ones(3, device=dev),))
    w_c = pt.ones(3, device=dev, requires_grad=True)
    compiled = pt.compile(_counter_update(w_c))
    for k in range(3):
        x = pt.tensor([1.0, 2.0, -1.0], device=dev, requires_grad=True)
        out = traced(x)
        out.backward()
        # w was 2 after the trace's own call, then k + 1 more updates; d/dx = w, d/dw = x summed
        np.testing.assert_array_equal(w.detach().cpu().numpy(), [3.0 + k] * 3)
        np.testing.assert_array_equal(x.grad.cpu().numpy(), [3.0 + k] * 3)
        assert out.item() == 2 * (3.0 + k)
        np.testing.assert_array_equal(w.grad.cpu().numpy(), [1.0 * (k + 1), 2.0 * (k + 1), -1.0 * (k + 1)])
        out_c = compiled(pt.tensor([1.0, 2.0, -1.0], device=dev))
        out_c.backward()
        np.testing.assert_array_equal(w_c.detach().cpu().numpy(), [2.0 + k] * 3)
        assert out_c.item() == 2 * (2.0 + k)
        np.testing.assert_array_equal(w_c.grad.cpu().numpy(), [1.0 * (k + 1), 2.0 * (k + 1), -1.0 * (k + 1)])
        assert not w.grad.requires_grad and w.grad_fn is None
    assert compiled.counters["graph_breaks"] == 0


class _Double(pt.autograd.Function):
    @staticmethod
    def forward(ctx, x):       # runs under no_grad, as every custom Function's forward
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_a_custom_functions_forward_is_not_the_programs_no_grad_block():
    # a custom Function's forward runs under no_grad; replayed through autograd it must still give
    # an output that requires grad (nn.Fold's replay lost its gradient: "0 outputs of the replay
    # require grad, 1 of the eager call's"), while the program's own no_grad block stays so
    traced = pt.jit.trace(lambda x: (_Double.apply(x) * x).sum(), (pt.ones(3, requires_grad=True),))
    x = pt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = traced(x)
    assert out.requires_grad and out.item() == 28.0
    out.backward()
    assert x.grad.tolist() == [4.0, 8.0, 12.0]      # d(2x * x)/dx = 4x
    # a whole trace taken under no_grad replays in the caller's grad mode, as torch.jit.trace's
    with pt.no_grad():
        t2 = pt.jit.trace(lambda x: (x * x).sum(), (pt.ones(3),))
    y = pt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out2 = t2(y)
    assert out2.requires_grad
    out2.backward()
    assert y.grad.tolist() == [2.0, 4.0, 6.0]
