"""plugtorch.compiler's decorators and queries: is_compiling (True only while compile traces),
disable (a graph break: the call runs eagerly, counted and explained), allow_in_graph,
assume_constant_result (the values behind it stay guarded) and is_exporting."""
import numpy as np
import pytest

import plugtorch as pt


def test_is_compiling_is_true_only_while_compile_traces():
    def f(x):
        return x + (10.0 if pt.compiler.is_compiling() else 0.0) + (100.0 if pt.compiler.is_dynamo_compiling() else 0.0)
    assert pt.compiler.is_compiling() is False and pt.compiler.is_exporting() is False
    c = pt.compile(f)
    for _ in range(3):      # the trace saw True (so its graph adds 110), the replays run that graph
        assert c(pt.ones(2)).tolist() == [111.0, 111.0]
    assert c.counters["graphs"] == 1
    assert f(pt.ones(2)).tolist() == [1.0, 1.0]
    assert pt.jit.trace(f, pt.ones(2))(pt.ones(2)).tolist() == [1.0, 1.0]
    assert pt.compiler.is_compiling() is False


def test_is_compiling_lets_a_function_take_a_graph_friendly_path():
    def f(x):
        if pt.compiler.is_compiling():
            return pt.where(x > 0, x, 0.0)
        return x.clamp(min=0)
    c = pt.compile(f)
    x = pt.tensor([-1.0, 2.0])
    assert c(x).tolist() == [0.0, 2.0] and c(pt.tensor([3.0, -4.0])).tolist() == [3.0, 0.0]


def _disabled_pair():
    ran = []

    @pt.compiler.disable
    def log_and_scale(x):
        ran.append(pt.compiler.is_compiling())
        return x * float(x.sum())            # (a data read: fine, it runs eagerly)

    def f(x):
        return log_and_scale(x) + 1
    return f, ran


def test_disable_runs_the_call_eagerly_and_counts_a_graph_break():
    f, ran = _disabled_pair()
    c = pt.compile(f)
    for v in ([1.0, 2.0], [3.0, -1.0], [0.5, 0.5]):
        x = pt.tensor(v)
        expected = np.array(v) * sum(v) + 1
        np.testing.assert_allclose(c(x).numpy(), expected, rtol=1e-6)
    assert ran == [False, False, False]    # ran each time, never inside a compile trace
    st = pt.compiler.stats()
    assert st["graphs"] == 0 and st["graph_breaks"] == 1 and st["eager_calls"] == 2
    assert st["reasons"] == ["graph break: f: calls _disabled_pair.<locals>.log_and_scale, which "
                             "plugtorch.compiler.disable marks to run eagerly"]


def test_disable_shows_in_explain_and_fullgraph_raises():
    f, _ = _disabled_pair()
    out = pt.compiler.explain(f)(pt.ones(2))
    assert out.graph_count == 0 and out.graph_break_count == 1
    assert "plugtorch.compiler.disable marks to run eagerly" in out.break_reasons[0]
    with pytest.raises(RuntimeError, match=r"fullgraph=True\): graph break: f: calls .*log_and_scale, which "
                                           r"plugtorch.compiler.disable marks .*remove plugtorch.compiler.disable"):
        pt.compile(f, fullgraph=True)(pt.ones(2))


def test_disable_with_arguments_and_outside_compile():
    @pt.compiler.disable(recursive=False, reason="logging")
    def g(x):
        return x - 1
    assert g(pt.ones(1)).tolist() == [0.0] and g.__name__ == "g"
    c = pt.compile(lambda x: g(x) * 2)
    assert c(pt.ones(1)).tolist() == [0.0]
    assert pt.compiler.stats()["reasons"][0].endswith("calls test_disable_with_arguments_and_outside_compile."
                                                      "<locals>.g (logging), which plugtorch.compiler.disable "
                                                      "marks to run eagerly")
    # a compiled function that reaches no disabled function still compiles
    h = pt.compile(lambda x: x * 3)
    h(pt.ones(1))
    assert h(pt.ones(1)).tolist() == [3.0] and h.counters["graphs"] == 1


def test_allow_in_graph_returns_the_function():
    def f(x):
        return x * 2
    assert pt.compiler.allow_in_graph(f) is f
    assert pt.compiler.allow_in_graph([f, f]) == [f, f]
    with pytest.raises(AssertionError, match="allow_in_graph expects a callable"):
        pt.compiler.allow_in_graph(3)
    c = pt.compile(lambda x: f(x) + 1)
    c(pt.ones(1))
    assert c(pt.ones(1)).tolist() == [3.0] and c.counters["graphs"] == 1


SCALE = 2.0


def test_assume_constant_result_keeps_the_value_guarded():
    global SCALE

    @pt.compiler.assume_constant_result
    def scale():
        return SCALE
    assert scale._dynamo_marked_constant is True

    def f(x):
        return x * scale()
    c = pt.compile(f)
    try:
        assert c(pt.ones(2)).tolist() == [2.0, 2.0] and c(pt.ones(2)).tolist() == [2.0, 2.0]
        SCALE = 5.0                 # a changed result traces again: never a stale constant
        assert c(pt.ones(2)).tolist() == [5.0, 5.0]
        assert c.counters["recompiles"] == 1
    finally:
        SCALE = 2.0


def test_is_exporting_is_true_while_onnx_export_traces(tmp_path):
    pytest.importorskip("onnx")
    seen = []

    class M(pt.nn.Module):
        def forward(self, x):
            seen.append(pt.compiler.is_exporting())
            return x.relu()
    pt.onnx.export(M(), (pt.ones(2),), str(tmp_path / "m.onnx"))
    assert seen and all(seen) and pt.compiler.is_exporting() is False
