"""Dispatch through a tiny backend registered at run time: kernels, decompositions, cpu
fallback (environment variable and set_cpu_fallback), NotImplementedError, and dispatch modes."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends import Backend, get_backend
from plugtorch.dispatch import dispatcher
from plugtorch.dispatch.dispatcher import DispatchMode

CPU_KERNELS = get_backend("cpu").kernels
TINY_OPS = ["full", "empty", "add", "mul", "div", "sum", "view", "copy_", "_to_dtype", "clone", "permute",
            "expand", "slice", "select", "amax", "sub", "exp", "where", "eq", "isinf"]


class Tiny(Backend):
    """NumPy arrays, a handful of cpu kernels and nothing else."""
    name = "tiny"

    def __init__(self, ops=TINY_OPS):
        self.kernels = {n: CPU_KERNELS[n] for n in ops}

    def from_numpy(self, array, index=None):
        return np.array(array, copy=True)

    def to_numpy(self, native):
        return native

    def strides(self, native):
        return tuple(s // native.itemsize for s in native.strides)

    def new_generator(self, index, seed):
        return np.random.Generator(np.random.Philox(seed))


@pytest.fixture
def tiny():
    pt.backends.register(Tiny())
    dispatcher.set_cpu_fallback(None)
    try:
        yield pt.device("tiny:0")
    finally:
        dispatcher.set_cpu_fallback(None)
        pt.backends.unregister("tiny")
        dispatcher.invalidate_caches()


def test_kernels_run_on_the_runtime_backend(tiny):
    x = pt.tensor([1.0, 2.0, 3.0], device="tiny")
    y = x * 2 + 1
    assert y.device == tiny and y.tolist() == [3.0, 5.0, 7.0]
    assert x.sum().item() == 6.0 and x.view(3, 1).shape == (3, 1)
    assert pt.backends.is_registered("tiny")
    assert any(e["name"] == "tiny" for e in pt.backends.list())


def test_missing_kernel_raises_naming_op_and_backend(tiny, monkeypatch):
    monkeypatch.delenv("PLUGTORCH_CPU_FALLBACK", raising=False)
    x = pt.tensor([1.0, 2.0], device="tiny")
    with pytest.raises(NotImplementedError, match=r"operator 'sqrt' is not implemented for the 'tiny' backend.*PLUGTORCH_CPU_FALLBACK=1"):
        x.sqrt()
    with pytest.raises(NotImplementedError, match="'floor_divide'.*'tiny'"):
        x // 2


def test_cpu_fallback_by_function_warns_once(tiny, monkeypatch):
    monkeypatch.delenv("PLUGTORCH_CPU_FALLBACK", raising=False)
    dispatcher._fallback_warned.discard("sqrt")
    pt.set_cpu_fallback(True)
    assert pt.cpu_fallback_enabled()
    x = pt.tensor([4.0, 9.0], device="tiny")
    with pytest.warns(RuntimeWarning, match="'sqrt' is not implemented on 'tiny'; running it on cpu"):
        y = x.sqrt()
    assert y.device == tiny and y.tolist() == [2.0, 3.0]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.sqrt().tolist() == [2.0, 3.0]     # no second warning
    z = pt.tensor([1.0, 4.0], device="tiny")
    z.sqrt_()                                     # in-place through the fallback writes back
    assert z.device == tiny and z.tolist() == [1.0, 2.0]
    pt.set_cpu_fallback(False)
    with pytest.raises(NotImplementedError, match="sqrt"):
        x.sqrt()


def test_cpu_fallback_by_environment_variable(tiny, monkeypatch):
    dispatcher._fallback_warned.discard("log")
    monkeypatch.setenv("PLUGTORCH_CPU_FALLBACK", "1")
    assert pt.cpu_fallback_enabled()
    x = pt.tensor([1.0], device="tiny")
    with pytest.warns(RuntimeWarning, match="'log'"):
        assert x.log().tolist() == [0.0]
    monkeypatch.setenv("PLUGTORCH_CPU_FALLBACK", "0")       # read at dispatch time
    assert not pt.cpu_fallback_enabled()
    with pytest.raises(NotImplementedError, match="log"):
        x.log()
    pt.set_cpu_fallback(True)                               # the function wins over the variable
    assert pt.cpu_fallback_enabled()


def test_composite_ops_decompose_on_a_backend_without_kernels(tiny, monkeypatch):
    monkeypatch.delenv("PLUGTORCH_CPU_FALLBACK", raising=False)
    x = pt.tensor([[1.0, 2.0], [3.0, 5.0]], device="tiny")
    assert "mean" not in get_backend("tiny").kernels
    m = x.mean(1)                                # mean = sum / n: both have tiny kernels
    assert m.device == tiny and m.tolist() == [1.5, 4.0]
    with pt.profiler.profile() as prof:
        x.softmax(1)
    assert {"softmax", "exp", "sum", "div"} <= set(prof.counts())
    assert x.t().flatten().tolist() == [1.0, 3.0, 2.0, 5.0]  # reshape -> clone + view
    assert x.square().tolist() == [[1.0, 4.0], [9.0, 25.0]]


def test_modes_see_every_call_and_nest():
    class Log(DispatchMode):
        def __init__(self, tag, log):
            self.tag, self.log = tag, log

        def __plugtorch_dispatch__(self, op, args, kwargs, call):
            self.log.append((self.tag, op.name))
            return call(args, kwargs)

    log = []
    x = pt.ones(3)
    with Log("outer", log):
        with Log("inner", log):
            y = x + 1
    assert y.tolist() == [2.0, 2.0, 2.0]
    assert log[:2] == [("inner", "add"), ("outer", "add")]
    log.clear()
    with Log("m", log):
        x.mean()
    assert ("m", "mean") in log and ("m", "sum") in log
    assert dispatcher.active_modes() == [] and dispatcher._modes == []


def test_mode_can_change_arguments_and_results():
    class Double(DispatchMode):
        def __plugtorch_dispatch__(self, op, args, kwargs, call):
            out = call(args, kwargs)
            return out * 2 if op.name == "add" else out

    with Double():
        r = pt.ones(2) + 1
    assert r.tolist() == [4.0, 4.0]


def test_modes_must_exit_in_order():
    a, b = DispatchMode(), DispatchMode()
    a.__enter__()
    b.__enter__()
    with pytest.raises(RuntimeError, match="reverse order"):
        a.__exit__(None, None, None)
    b.__exit__(None, None, None)
    a.__exit__(None, None, None)
    assert dispatcher.active_modes() == [] and dispatcher._modes == []


def test_register_errors(tiny):
    with pytest.raises(TypeError, match="expected a plugtorch.backends.Backend"):
        pt.backends.register(object())
    with pytest.raises(RuntimeError, match="device type 'tiny' is already registered"):
        pt.backends.register(Tiny())
    with pytest.raises(RuntimeError, match="'cpu'"):
        pt.backends.register(Tiny(), name="cpu")
    with pytest.raises(ValueError, match="invalid device type name"):
        pt.backends.register(Tiny(), name="bad name")
    with pytest.raises(RuntimeError, match="cannot be removed"):
        pt.backends.unregister("cpu")


def test_memoised_pointwise_calls_are_seen_by_modes_and_recorded():
    # dispatch() of a pointwise op on plain operands takes the operator functions' memo (the
    # meta's verdict per signature): warm it, then modes and autograd must still see each call
    x, y = pt.tensor([1.0, 4.0]), pt.tensor([2.0, 3.0])
    for _ in range(2):
        pt.add(x, y), pt.mul(x, 2.0), pt.exp(x), x + y, x.exp()

    class Names(DispatchMode):
        def __init__(self):
            self.names = []

        def __plugtorch_dispatch__(self, op, args, kwargs, call):
            self.names.append(op.name)
            return call(args, kwargs)

    with Names() as m:
        np.testing.assert_array_equal(pt.add(x, y).numpy(), [3.0, 7.0])
        np.testing.assert_array_equal(pt.mul(x, 2.0).numpy(), [2.0, 8.0])
        np.testing.assert_allclose(pt.exp(x).numpy(), np.exp([1.0, 4.0]), rtol=1e-6)
        x + y, x.exp()
    assert m.names == ["add", "mul", "exp", "add", "exp"]
    w = x.clone().requires_grad_()
    out = pt.mul(pt.exp(w), 3.0)
    assert out.grad_fn is not None
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 3 * np.exp([1.0, 4.0]), rtol=1e-6)
    with pytest.raises(TypeError, match="add"):
        pt.add(x, np.ones(2))       # an ndarray is no operand of plugtorch.add (the operator + takes it)
