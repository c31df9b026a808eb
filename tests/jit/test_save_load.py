"""jit.save / jit.load: round trips in a fresh process, map_location, and refused files."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import _safetensors as st

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cnn():
    pt.manual_seed(0)
    nn = pt.nn
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 10), nn.LogSoftmax(dim=1)).eval()


@pytest.fixture
def saved(tmp_path):
    m = _cnn()
    x = pt.randn(3, 1, 8, 8)
    tm = pt.jit.trace(m, (x,))
    path = tmp_path / "cnn.ptj"
    tm.save(path)
    with pt.no_grad():
        ref = m(x)
    pt.save({"x": x, "y": ref}, tmp_path / "io.safetensors")
    return path, tmp_path / "io.safetensors"


def test_round_trip_in_a_process_without_the_model_code(saved, dev):
    path, io = saved
    script = textwrap.dedent(f"""
        import sys
        import plugtorch as pt
        assert "torch" not in sys.modules
        m = pt.jit.load({str(path)!r}, map_location={dev!r})
        io = pt.load({str(io)!r})
        with pt.no_grad():
            outs = [m(io["x"].to({dev!r})) for _ in range(3)]
        for o in outs:
            assert o.device.type == {dev!r}, o.device
            d = (o.cpu() - io["y"]).abs().max().item()
            assert d <= 1e-5, d
        assert sorted(m.state_dict())[:2] == ["0.bias", "0.weight"], sorted(m.state_dict())
        print("ok", len(outs))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(path.parent))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok 3"


def test_loaded_graph_keeps_the_op_level_graph_and_runs_with_autograd(saved):
    path, io = saved
    m = pt.jit.load(path)
    assert "conv2d(" in m.graph and "linear(" in m.graph
    x = pt.load(io)["x"].requires_grad_()
    m(x).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    with pytest.raises(RuntimeError, match=r"input 0 is plugtorch.float32 \[2, 1, 8, 8\]"):
        m(pt.randn(2, 1, 8, 8))


def _rewrite(path, edit):
    """Rewrite the JSON structure of a saved graph (the weights stay), as a tamperer would."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    structure = json.loads(header["__metadata__"]["structure"])
    edit(structure)
    header["__metadata__"]["structure"] = json.dumps(structure)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n:])


def _find(obj, pred):
    if pred(obj):
        return obj
    if isinstance(obj, dict):
        items = obj.values()
    elif isinstance(obj, list):
        items = obj
    else:
        return None
    for x in items:
        r = _find(x, pred)
        if r is not None:
            return r
    return None


def _ops_list(structure):
    return _find(structure, lambda o: isinstance(o, list) and o and isinstance(o[0], list) and o[0][:1] == ["ops"])


def _field(structure, name):
    """The value of key ``name`` in plugtorch.save's {"__dict__": [[k, v], ...]} encoding."""
    for k, v in structure["__dict__"]:
        if k == name:
            return v
    raise KeyError(name)


def _set_field(structure, name, value):
    for kv in structure["__dict__"]:
        if kv[0] == name:
            kv[1] = value
            return
    raise KeyError(name)


@pytest.mark.parametrize("edit,message", [
    (lambda s: _field(_field(s, "ops")[0], "op").__class__ and _set_field(_field(s, "ops")[0], "op", "os_system"),
     r"unknown op 'os_system'"),
    (lambda s: _set_field(s, "version", 99), r"version 99"),
    (lambda s: _set_field(s, "format", "pickle"), r"format is 'pickle'"),
    (lambda s: _set_field(_field(s, "ops")[0], "args", [{"__dict__": [["v", 12345]]}]), r"reads value 12345 before it is defined"),
    (lambda s: _field(s, "ops")[0]["__dict__"].append(["grad", "yes"]), r"op 0 \(\w+\): 'grad' must be true or false"),
])
def test_tampered_graphs_are_refused_naming_the_file(saved, edit, message):
    path, _ = saved
    _rewrite(path, edit)
    with pytest.raises(RuntimeError, match=r"plugtorch.jit.load: '.*cnn.ptj' is not a valid saved graph: .*" + message):
        pt.jit.load(path)


def test_a_bad_shape_is_refused(saved):
    path, _ = saved

    def edit(s):
        values = _field(s, "values")
        first = values["__dict__"][0][1]
        _set_field(first, "shape", [-1, 3])
    _rewrite(path, edit)
    with pytest.raises(RuntimeError, match="a shape must be a list of non-negative integers"):
        pt.jit.load(path)


def test_truncated_file_is_refused(saved):
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 100])
    with pytest.raises(RuntimeError, match="cnn.ptj"):
        pt.jit.load(path)


def test_a_plain_checkpoint_is_not_a_graph(tmp_path):
    p = tmp_path / "w.safetensors"
    pt.save({"w": pt.ones(2)}, p)
    with pytest.raises(RuntimeError, match="not a valid saved graph"):
        pt.jit.load(p)


def test_training_graphs_and_untraced_objects_are_not_saved(tmp_path):
    p = pt.ones(2, requires_grad=True)

    def step(x):
        (p * x).sum().backward()
        return p.grad
    t = pt.jit.trace(step, (pt.ones(2),), check_trace=False)
    with pytest.raises(RuntimeError, match="runs a backward pass"):
        pt.jit.save(t, tmp_path / "s.ptj")
    with pytest.raises(TypeError, match="trace the model first"):
        pt.jit.save(pt.nn.Linear(2, 2), tmp_path / "m.ptj")


def test_a_loaded_graph_refuses_a_changed_data_dependent_shape(tmp_path):
    """Sizes Python computed from a data-dependent shape are constants in the file: a loaded graph
    raises where that shape differs, instead of running its saved ops on another shape."""
    def f(x):
        return (x[x > 0] * 2 + 1).sum()
    t = pt.jit.trace(f, (pt.tensor([1., -1., 2.]),))
    path = tmp_path / "masked.pt"
    pt.jit.save(t, path)
    g = pt.jit.load(path)
    assert g(pt.tensor([1., -1., 2.])).item() == 8.0
    assert g(pt.tensor([3., -5., 4.])).item() == 16.0          # the same mask count
    with pytest.raises(RuntimeError, match=r"nonzero returned shape \[3, 1\] where the saved graph was traced with "
                                           r"\[2, 1\]"):
        g(pt.tensor([1., 1., 2.]))


def test_a_graph_that_writes_its_buffers_loads_and_updates_them(tmp_path):
    # an in-place op's result is the tensor it wrote, a value its arguments already define: the
    # loader refused every such file ("value 1 is defined twice"), a BatchNorm traced in
    # training mode among them
    bn = pt.nn.BatchNorm1d(3)
    x = pt.tensor([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]])
    pt.jit.trace(bn, (x,)).save(tmp_path / "bn.ptj")      # the trace's call moved the statistics once
    loaded = pt.jit.load(tmp_path / "bn.ptj")
    y = loaded(x)
    # batch mean (2, 4, 6), unbiased variance (2, 8, 18); momentum 0.1, applied twice from (0, 1)
    mean = 0.1 * np.array([2.0, 4.0, 6.0]) * (1 + 0.9)
    var = 0.9 * (0.9 + 0.1 * np.array([2.0, 8.0, 18.0])) + 0.1 * np.array([2.0, 8.0, 18.0])
    state = loaded.state_dict()
    np.testing.assert_allclose(state["running_mean"].numpy(), mean, rtol=1e-6)
    np.testing.assert_allclose(state["running_var"].numpy(), var, rtol=1e-6)
    assert state["num_batches_tracked"].item() == 2
    np.testing.assert_allclose(y.detach().numpy(), [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]], rtol=1e-4)


def test_an_update_made_under_no_grad_runs_so_in_a_loaded_graph(tmp_path):
    w = pt.ones(3, requires_grad=True)

    def f(x):
        with pt.no_grad():
            w.add_(1.0)
        return (w * x).sum()
    pt.jit.trace(f, (pt.ones(3),)).save(tmp_path / "upd.ptj")     # w = 2 in the file
    loaded = pt.jit.load(tmp_path / "upd.ptj")
    x = pt.tensor([1.0, 2.0, -1.0], requires_grad=True)
    for k in range(3):
        out = loaded(x)
        out.backward()
        assert out.item() == 2 * (3.0 + k)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0 + 4.0 + 5.0] * 3)


@pytest.mark.parametrize("turn_on", ["enable_grad", "set_grad_enabled", "inference_mode"])
@pytest.mark.parametrize("traced_under_no_grad", [True, False])
def test_enable_grad_inside_a_saved_graph_records_autograd_after_load(tmp_path, traced_under_no_grad, turn_on):
    # y = w * x under enable_grad() (set_grad_enabled(True), inference_mode(False)) in a call
    # made under no_grad: y requires grad, d sum(y)/dw = x (the file dropped the marking, and
    # traced with gradients on only enable_grad() was marked: the loaded graph returned y
    # without history)
    w = pt.tensor([2.0, 3.0], requires_grad=True)
    block = {"enable_grad": pt.enable_grad, "set_grad_enabled": lambda: pt.set_grad_enabled(True),
             "inference_mode": lambda: pt.inference_mode(False)}[turn_on]

    def f(x):
        with block():
            y = w * x
        return y, x * 2
    with pt.set_grad_enabled(not traced_under_no_grad):
        traced = pt.jit.trace(f, (pt.ones(2),))
    traced.save(tmp_path / "eg.ptj")
    script = textwrap.dedent(f"""
        import plugtorch as pt
        m = pt.jit.load({str(tmp_path / "eg.ptj")!r})
        w = [v.tensor for v in m._graph.captures]
        assert len(w) == 1, w
        for k in range(1, 4):
            with pt.no_grad():
                y, z = m(pt.full((2,), float(k)))
            assert y.requires_grad and y.grad_fn is not None and not z.requires_grad, (k, y, z)
            assert y.tolist() == [2.0 * k, 3.0 * k] and z.tolist() == [2.0 * k] * 2, (y, z)
            w[0].grad = None
            y.sum().backward()
            assert w[0].grad.tolist() == [float(k)] * 2, w[0].grad
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(tmp_path),
                       env={**os.environ, "PYTHONPATH": ROOT})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"
