"""torch.jit's TorchScript-facing names: decorators that leave functions as they are, annotate,
Final, is_scripting, fork/wait, freeze, optimize_for_inference, trace_module and script's error."""
import typing
import warnings

import numpy as np
import pytest

import plugtorch as pt


def test_is_scripting_is_false_and_annotate_returns_the_value():
    assert pt.jit.is_scripting() is False
    v = [1, 2]
    assert pt.jit.annotate(typing.List[int], v) is v
    assert pt.jit.Final is typing.Final and pt.jit.Final[int] == typing.Final[int]


def test_ignore_and_unused_mark_and_keep_the_function_and_trace_records_its_ops():
    calls = []

    @pt.jit.ignore
    def double(x):
        calls.append("double")
        return x * 2

    @pt.jit.unused
    def negate(x):
        calls.append("negate")
        return -x

    @pt.jit.export
    def plus_one(x):
        return x + 1

    assert double._torchscript_modifier == pt.jit.FunctionModifiers.IGNORE
    assert negate._torchscript_modifier == pt.jit.FunctionModifiers.UNUSED
    assert plus_one._torchscript_modifier == pt.jit.FunctionModifiers.EXPORT
    tf = pt.jit.trace(lambda x: plus_one(negate(double(x))), pt.ones(3))
    assert calls == ["double", "negate"]
    ops = tf.graph_for("op")
    assert "mul(" in ops and "neg(" in ops and "add(" in ops
    x = pt.tensor([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(tf(x).numpy(), -2 * x.numpy() + 1)
    assert calls == ["double", "negate"]      # the replay runs the recorded ops, not the Python


def test_ignore_with_arguments():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = pt.jit.ignore(drop=False)(lambda x: x + 1)
    assert f._torchscript_modifier == pt.jit.FunctionModifiers.IGNORE and f(1) == 2
    with pytest.warns(FutureWarning, match=r"ignore\(True\) has been deprecated.*plugtorch.jit.unused"):
        g = pt.jit.ignore(drop=True)(lambda x: x * 3)
    assert g._torchscript_modifier == pt.jit.FunctionModifiers.UNUSED and g(2) == 6
    with pytest.raises(RuntimeError, match="must be a bool or a function but got 3"):
        pt.jit.ignore(3)


def test_unused_on_a_property_marks_getter_and_setter():
    class C:
        @pt.jit.unused
        @property
        def p(self):
            return 5
    assert C.__dict__["p"].fget._torchscript_modifier == pt.jit.FunctionModifiers.UNUSED and C().p == 5


def test_interface_returns_the_class_and_rejects_other_objects():
    class I:
        def f(self, x):
            pass
    assert pt.jit.interface(I) is I
    with pytest.raises(RuntimeError, match="interface must be applied to a class"):
        pt.jit.interface(lambda: 0)


def test_script_raises_naming_trace_and_compile():
    with pytest.raises(NotImplementedError) as e:
        pt.jit.script(pt.nn.Linear(2, 2))
    msg = str(e.value)
    assert "no TorchScript compiler" in msg and "plugtorch.jit.trace" in msg and "plugtorch.compile" in msg


def test_fork_runs_now_and_wait_returns_the_result():
    order = []

    def add(x, k=1):
        order.append("ran")
        return x + k
    fut = pt.jit.fork(add, pt.ones(2), k=3)
    assert order == ["ran"] and fut.done()
    assert pt.jit.wait(fut).tolist() == [4.0, 4.0] and fut.value().tolist() == [4.0, 4.0]
    assert pt.jit.fork(lambda: (1, 2)).wait() == (1, 2)


def test_fork_raises_the_calls_exception_and_wait_checks_its_argument():
    def bad(x):
        raise ValueError("boom")
    with pytest.raises(ValueError, match="boom"):     # (PyTorch outside TorchScript: at fork)
        pt.jit.fork(bad, 1)
    with pytest.raises(TypeError, match="expected the Future plugtorch.jit.fork returns, got int"):
        pt.jit.wait(5)


def test_future_set_once_then_and_callbacks():
    f = pt.jit.Future()
    assert not f.done()
    with pytest.raises(RuntimeError, match="not completed"):
        f.value()
    seen = []
    f.add_done_callback(lambda fut: seen.append(fut.value()))
    g = f.then(lambda fut: fut.wait() + 1)
    h = f.then(lambda fut: 1 / 0)
    f.set_result(3)
    assert seen == [3] and g.wait() == 4 and f.wait() == 3
    with pytest.raises(RuntimeError, match="ZeroDivisionError: division by zero"):
        h.wait()
    with pytest.raises(RuntimeError, match="can only be marked completed once"):
        f.set_result(4)
    e = pt.jit.Future()
    e.set_exception(ValueError("x"))
    with pytest.raises(ValueError, match="x"):
        e.wait()


def test_forked_call_is_traced_in_order():
    def f(x):
        fut = pt.jit.fork(lambda y: y * 3, x)
        return pt.jit.wait(fut) + 1
    tf = pt.jit.trace(f, pt.ones(2))
    assert tf(pt.tensor([1.0, 2.0])).tolist() == [4.0, 7.0]


def _net():
    pt.manual_seed(0)
    return pt.nn.Sequential(pt.nn.Linear(3, 4), pt.nn.BatchNorm1d(4), pt.nn.ReLU(), pt.nn.Linear(4, 2))


def test_freeze_needs_a_traced_module_in_eval_mode():
    net = _net()
    with pytest.raises(RuntimeError, match="Freezing expects a ScriptModule as input.*plugtorch.jit.trace"):
        pt.jit.freeze(net.eval())
    traced = pt.jit.trace(net.train(), pt.randn(5, 3))
    with pytest.raises(RuntimeError, match="only implemented for modules in eval mode. Please call .eval()"):
        pt.jit.freeze(traced)


def test_freeze_equals_the_original_and_holds_constants():
    net = _net()
    x = pt.randn(5, 3)
    traced = pt.jit.trace(net.eval(), x)
    frozen = pt.jit.freeze(traced)
    y = pt.randn(5, 3)
    expected = net(y)
    got = frozen(y)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert expected.requires_grad and not got.requires_grad    # parameters became constants
    with pt.no_grad():
        net[0].weight.add_(1.0)                 # later changes to the original do not reach it
    np.testing.assert_array_equal(frozen(y).numpy(), got.numpy())
    assert not pt.equal(net(y), got)


def test_optimize_for_inference_puts_the_module_in_eval_and_freezes():
    net = _net()
    x = pt.randn(5, 3)
    traced = pt.jit.trace(net.train(), x)
    with pytest.raises(RuntimeError, match="optimize_for_inference expects a ScriptModule"):
        pt.jit.optimize_for_inference(net)
    opt = pt.jit.optimize_for_inference(traced)
    assert net.training is False            # (as PyTorch: it calls mod.eval())
    y = pt.randn(5, 3)
    np.testing.assert_allclose(opt(y).numpy(), net(y).detach().numpy(), rtol=1e-6, atol=1e-7)


class _TwoMethods(pt.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = pt.nn.Linear(3, 2)

    def forward(self, x):
        return self.lin(x)

    def double(self, x):
        return self.lin(x) * 2


def test_trace_module_traces_forward_and_other_methods():
    pt.manual_seed(0)
    m = _TwoMethods()
    t = pt.jit.trace_module(m, {"forward": pt.ones(4, 3), "double": (pt.ones(2, 3),)})
    x = pt.randn(4, 3)
    w, b = m.lin.weight.detach().numpy(), m.lin.bias.detach().numpy()
    np.testing.assert_allclose(t(x).detach().numpy(), x.numpy() @ w.T + b, rtol=1e-6)
    d = t.double
    assert isinstance(d, pt.jit.ScriptFunction)
    np.testing.assert_allclose(d(x[:2]).detach().numpy(), 2 * (x[:2].numpy() @ w.T + b), rtol=1e-6)
    t.eval()                                    # (traces forward and double again)
    np.testing.assert_allclose(t.double(x[:2]).detach().numpy(), 2 * (x[:2].numpy() @ w.T + b), rtol=1e-6)
    only = pt.jit.trace_module(m, {"double": pt.ones(2, 3)})
    with pytest.raises(RuntimeError, match="no traced forward: trace_module traced only double"):
        only(x)


def test_trace_module_checks_its_arguments():
    with pytest.raises(AttributeError, match="expected plugtorch.nn.Module as the first argument"):
        pt.jit.trace_module(lambda x: x, {"forward": pt.ones(1)})
    with pytest.raises(AttributeError, match=r"expected a dictionary of \(method_name, input\) pairs"):
        pt.jit.trace_module(pt.nn.ReLU(), [pt.ones(1)])
    with pytest.raises(AttributeError, match="ReLU has no method 'missing'"):
        pt.jit.trace_module(pt.nn.ReLU(), {"missing": pt.ones(1)})
