"""plugtorch.onnx.export's arguments and behaviour: dynamic axes, names, opsets, files, constant
folding, the model left as it was, and errors that name the op, the line and the opsets tried."""
import io
import os

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn
from plugtorch.dispatch import registry
from plugtorch.onnx import OnnxExporterError, UnsupportedOperatorError
from plugtorch.onnx.table import lookup
from tests.onnx.conftest import assert_matches, check_export, flat, onnx, op_types, run, session


@pytest.fixture(autouse=True)
def _seed():
    pt.manual_seed(0)


def cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 10)).eval()


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


# ---- dynamic axes ----------------------------------------------------------------------------------
def test_dynamic_batch_exported_at_2_runs_at_7():
    m = cnn()
    proto = check_export(m, (pt.randn(2, 1, 8, 8),), runs=[(pt.randn(7, 1, 8, 8),), (pt.randn(1, 1, 8, 8),)],
                         input_names=["x"], output_names=["logits"],
                         dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    assert dims(proto.graph.input[0]) == ["batch", 1, 8, 8]
    assert dims(proto.graph.output[0]) == ["batch", 10]


def test_dynamic_axes_list_form_names_the_axes():
    proto = check_export(nn.Linear(3, 2), (pt.randn(2, 5, 3),), runs=[(pt.randn(4, 1, 3),)], input_names=["x"],
                         dynamic_axes={"x": [0, 1]})
    assert dims(proto.graph.input[0]) == ["x_dynamic_axes_1", "x_dynamic_axes_2", 3]
    assert dims(proto.graph.output[0]) == ["x_dynamic_axes_1", "x_dynamic_axes_2", 2]


def test_dynamic_sizes_in_view_expand_and_factories():
    def f(x):
        n = x.shape[0]
        z = pt.zeros(n, 3)
        z[:, 1] = x[:, 0, 0]
        flat_ = x.view(n, -1) @ pt.ones(12, 2)
        return z + pt.arange(n).float().unsqueeze(1), x[: n - 1], flat_, x.reshape(-1, 4).sum(0), \
            x.sum(0).expand(n, 3, 4), x.view(n * 3, 4)
    check_export(f, (pt.randn(2, 3, 4),), runs=[(pt.randn(7, 3, 4),), (pt.randn(1, 3, 4),)], input_names=["x"],
                 dynamic_axes={"x": {0: "n"}})


def test_dynamic_writes():
    def f(x):
        y = x.clone()
        y[:, 0] = 0
        y[1] = y[0] * 2
        return y, y.sum(1)
    check_export(f, (pt.randn(2, 3),), runs=[(pt.randn(5, 3),)], input_names=["x"], dynamic_axes={"x": [0]})


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_dynamic_batch_recurrent(kind):
    m = getattr(nn, kind)(3, 4, num_layers=2, batch_first=True)
    check_export(m, (pt.randn(2, 5, 3),), runs=[(pt.randn(7, 5, 3),)], input_names=["x"],
                 dynamic_axes={"x": {0: "batch"}})


def test_dynamic_batch_and_sequence_transformer():
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    check_export(layer, (pt.randn(2, 3, 8),), runs=[(pt.randn(7, 5, 8),), (pt.randn(1, 1, 8),)], input_names=["x"],
                 dynamic_axes={"x": {0: "batch", 1: "seq"}})


def test_dynamic_multihead_attention_shared_axis_names():
    mha = nn.MultiheadAttention(8, 2)
    q, kv = pt.randn(3, 2, 8), pt.randn(4, 2, 8)
    check_export(mha, (q, kv, kv), runs=[(pt.randn(5, 7, 8), pt.randn(6, 7, 8), pt.randn(6, 7, 8))],
                 input_names=["q", "k", "v"],
                 dynamic_axes={"q": {0: "tq", 1: "batch"}, "k": {0: "tk", 1: "batch"}, "v": {0: "tk", 1: "batch"}})


def test_a_loop_over_a_dynamic_axis_is_refused():
    with pytest.raises(OnnxExporterError, match="makes .* calls on the example"):
        pt.onnx.export(nn.LSTM(3, 4), (pt.randn(5, 2, 3),), None, input_names=["x"], dynamic_axes={"x": {0: "seq"}})


def test_a_constant_built_from_a_dynamic_size_is_refused():
    def f(x):
        return x + pt.tensor([float(i) for i in range(x.shape[0])])[:, None]
    # (the message names the op the constant feeds and its line; it said "the model" only)
    line = f"{os.path.relpath(__file__)}:{_line_of(f, 'pt.tensor(')}"
    with pytest.raises(OnnxExporterError, match=r"constant tensor plugtorch.float32 \[2\] the program builds \(the "
                                                rf"first argument of op 'slice', traced at {line}\) depends on the "
                                                "dynamic axes"):
        pt.onnx.export(f, (pt.randn(2, 3),), None, input_names=["x"], dynamic_axes={"x": [0]})
    # adaptive max pooling over a dynamic height builds its windows' indices in Python
    c = nn.Conv2d(3, 4, 3, stride=2)

    def g(x):
        return pt.nn.functional.adaptive_max_pool2d(c(x), 1)
    line = f"{os.path.relpath(__file__)}:{_line_of(g, 'adaptive_max_pool2d')}"
    with pytest.raises(OnnxExporterError, match=rf"constant tensor .* \(the first argument of op 'reshape', traced at "
                                                rf"{line}\) depends on the dynamic axes"):
        pt.onnx.export(g, (pt.randn(1, 3, 9, 9),), None, input_names=["x"], dynamic_axes={"x": {2: "h"}})


def test_a_float_computed_from_a_dynamic_size_is_refused():
    with pytest.raises(OnnxExporterError, match="float argument"):
        pt.onnx.export(lambda x: x * (1.0 / x.shape[0]), (pt.randn(2, 3),), None, input_names=["x"],
                       dynamic_axes={"x": [0]})


def test_an_int_size_as_an_operand_follows_the_axis():
    check_export(lambda x: (x / x.shape[0], x + x.shape[0] * 2), (pt.randn(2, 3),), runs=[(pt.randn(5, 3),)],
                 input_names=["x"], dynamic_axes={"x": [0]})


def test_a_size_not_affine_in_the_dynamic_sizes_is_refused():
    with pytest.raises(OnnxExporterError, match="not affine"):
        pt.onnx.export(lambda x: x[: x.shape[0] // 2], (pt.randn(4, 3),), None, input_names=["x"],
                       dynamic_axes={"x": [0]})


class _PoolThenSlice(nn.Module):
    """MaxPool2d(3) (stride 3: height h // 3), then every row but the last."""

    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(3)

    def forward(self, x):
        y = self.pool(x)
        return y[:, :, : y.shape[2] - 1]


def test_a_floor_divided_size_constant_near_the_example_follows_the_run_time_shape():
    # h // 3 is 3 at h = 9, 10 and 11 (the example and the probes n + 1, n + 2): the exporter took
    # it for a constant and baked 2 rows into the slice, so the file returned 2 rows at every height
    # (eager and NumPy: 4 at h = 15). The far probe (2h + 3) sees that it is no affine function of h;
    # the slice's end is then read from the pooled value's run-time shape, minus 1.
    m = _PoolThenSlice()
    x = pt.randn(1, 2, 9, 4)
    proto = check_export(m, (x,), runs=[(pt.randn(1, 2, 12, 4),), (pt.randn(3, 2, 17, 7),)], input_names=["x"],
                         dynamic_axes={"x": {0: "b", 2: "h", 3: "w"}})
    x15 = np.random.default_rng(0).standard_normal((1, 2, 15, 4)).astype(np.float32)
    expected = x15[:, :, :15, :3].reshape(1, 2, 5, 3, 1, 3).max(axis=(3, 5))[:, :, :4]
    got = run(session(proto.SerializeToString()), (pt.tensor(x15),))[0]
    assert got.shape == (1, 2, 4, 1)
    np.testing.assert_array_equal(got, expected)


def test_a_strided_cnn_exports_with_dynamic_height_and_width():
    # (refused before: a strided convolution's output size is no affine function of the input's)
    pt.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
                      nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                      nn.Linear(8, 3)).eval()
    check_export(m, (pt.randn(2, 3, 16, 16),), runs=[(pt.randn(1, 3, 23, 40),), (pt.randn(3, 3, 9, 12),)],
                 input_names=["x"], dynamic_axes={"x": {0: "b", 2: "h", 3: "w"}})


def test_group_norm_over_a_dynamic_length():
    # (an audio model's Conv1d + GroupNorm over a dynamic length: group_norm's rows, C / G * L, follow
    # the length, and so does layer_norm's normalized_shape when group_norm normalises its rows with it)
    pt.manual_seed(0)
    m = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.GroupNorm(2, 4)).eval()
    x = np.random.default_rng(0).standard_normal((3, 2, 17)).astype(np.float32)
    proto = check_export(m, (pt.randn(2, 2, 9),), runs=[(pt.tensor(x),)], input_names=["x"],
                         dynamic_axes={"x": {0: "b", 2: "t"}})
    with pt.no_grad():
        y = m[0](pt.tensor(x)).numpy().reshape(3, 2, -1)
    ref = ((y - y.mean(-1, keepdims=True)) / np.sqrt(y.var(-1, keepdims=True) + 1e-5)).reshape(3, 4, 17)
    ref = ref * m[1].weight.detach().numpy()[:, None] + m[1].bias.detach().numpy()[:, None]
    np.testing.assert_allclose(run(session(proto.SerializeToString()), (pt.tensor(x),))[0], ref, rtol=1e-4,
                               atol=1e-5)


def test_half_of_a_run_time_size_is_refused():
    c = nn.Conv2d(3, 4, 3, stride=2, padding=1)

    def f(x):
        y = c(x)
        return y[:, :, : y.shape[2] // 2]
    with pytest.raises(OnnxExporterError, match=r"op 'slice' .*not affine"):
        pt.onnx.export(f, (pt.randn(1, 3, 9, 9),), None, input_names=["x"], dynamic_axes={"x": {2: "h"}})


def test_a_strided_convolution_before_an_adaptive_pool_with_a_dynamic_height_is_refused():
    # stride 3 over h = 9, 10, 11 gives 3, 3, 3 rows: the file pooled 3 rows at every height
    # (wrong numbers from h = 12 on) until the far probe
    m = nn.Sequential(nn.Conv2d(2, 3, 3, stride=3), nn.AdaptiveAvgPool2d((2, 2))).eval()
    with pytest.raises(OnnxExporterError, match="dynamic axes"):
        pt.onnx.export(m, (pt.randn(1, 2, 9, 9),), None, input_names=["x"], dynamic_axes={"x": {2: "h"}})


class _PositionalLM(nn.Module):
    """Token + learned position embeddings (a table of 12 positions): it cannot run past 12."""

    def __init__(self):
        super().__init__()
        self.tok, self.pos = nn.Embedding(20, 8), nn.Embedding(12, 8)
        self.out = nn.Linear(8, 20)

    def forward(self, idx):
        return self.out(self.tok(idx) + self.pos(pt.arange(idx.shape[1])))


def test_the_far_probe_comes_closer_for_a_model_with_a_fixed_length_table():
    # sequence 6: 2n + 3 = 15 is past the table; the probe retries at 12 and the export follows the axis
    pt.manual_seed(0)
    m = _PositionalLM()
    check_export(m, (pt.randint(0, 20, (2, 6)),), runs=[(pt.randint(0, 20, (3, 12)),), (pt.randint(0, 20, (1, 2)),)],
                 input_names=["idx"], dynamic_axes={"idx": {0: "b", 1: "seq"}})


def test_a_model_that_fails_three_past_the_example_is_refused():
    with pytest.raises(OnnxExporterError, match="fails when its dynamic axes are 3 longer"):
        pt.onnx.export(_PositionalLM(), (pt.randint(0, 20, (2, 10)),), None, input_names=["idx"],
                       dynamic_axes={"idx": {1: "seq"}})


def test_a_functional_convolution_is_traced_at_the_callers_line():
    # (the channels_last wrapper around conv2d was taken for the caller: "_memory_format.py:248",
    # the line the exporter's errors named)
    from plugtorch.jit.api import trace_call
    w = pt.randn(4, 3, 3, 3)

    def f(x):
        return pt.nn.functional.conv2d(x, w, stride=2)
    graph = trace_call(f, (pt.randn(1, 3, 7, 9),), {})[0]
    sites = {c.op.name: c.site for c in graph.ops}
    assert sites["conv2d"] == f"{os.path.relpath(__file__)}:{_line_of(f, 'conv2d(x')}"


def test_dynamic_axes_errors():
    with pytest.raises(ValueError, match="out of range"):
        pt.onnx.export(nn.Linear(3, 2), (pt.randn(2, 3),), None, input_names=["x"], dynamic_axes={"x": [2]})
    with pytest.raises(ValueError, match="different sizes"):
        pt.onnx.export(lambda a, b: a + b.sum(), (pt.randn(2, 3), pt.randn(4)), None, input_names=["a", "b"],
                       dynamic_axes={"a": {0: "n"}, "b": {0: "n"}})
    with pytest.warns(UserWarning, match="Provided key y for dynamic axes is not a valid input/output name"):
        pt.onnx.export(nn.Linear(3, 2), (pt.randn(2, 3),), None, input_names=["x"], dynamic_axes={"y": [0]})


# ---- names, opsets, files ---------------------------------------------------------------------------
def test_default_names_come_from_forward():
    proto = pt.onnx.export(lambda image, mask: image * mask, (pt.randn(2), pt.randn(2)), None)
    assert [i.name for i in proto.graph.input] == ["image", "mask"]
    assert [o.name for o in proto.graph.output] == ["output"]
    proto = pt.onnx.export(lambda x: (x, x * 2), (pt.randn(2),), None, output_names=["a"])
    assert [o.name for o in proto.graph.output] == ["a", "output_1"]


def test_name_errors():
    with pytest.raises(ValueError, match="unique"):
        pt.onnx.export(lambda a, b: a + b, (pt.randn(2), pt.randn(2)), None, input_names=["a", "a"])
    with pytest.raises(ValueError, match="3 input names given for 2 inputs"):
        pt.onnx.export(lambda a, b: a + b, (pt.randn(2), pt.randn(2)), None, input_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="both inputs and outputs"):
        pt.onnx.export(lambda a: a * 2, (pt.randn(2),), None, input_names=["a"], output_names=["a"])


def test_opset_default_17_and_recorded():
    proto = pt.onnx.export(nn.Linear(3, 2), (pt.randn(2, 3),), None)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    assert proto.producer_name == "plugtorch"
    proto = check_export(lambda x: (x.amax(1), x.mean(0), x.sum()), (pt.randn(3, 4),), opset_version=18)
    assert [o.version for o in proto.opset_import] == [18]
    for bad in (12, 10_000, "17", True):
        with pytest.raises(ValueError, match="opset_version must be an int from 17"):
            pt.onnx.export(nn.Linear(3, 2), (pt.randn(2, 3),), None, opset_version=bad)


def test_files(tmp_path):
    m = cnn()
    x = pt.randn(3, 1, 8, 8)
    path = tmp_path / "m.onnx"
    pt.onnx.export(m, (x,), str(path))
    pt.onnx.export(m, x, path)                      # a PathLike, and a bare tensor as args
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    with open(path, "rb") as fh:
        assert_matches(run(session(fh.read()), (x,)), [m(x).detach()])
    buf = io.BytesIO()
    pt.onnx.export(m, (x,), buf)
    assert buf.getvalue() == path.read_bytes()      # deterministic
    with pytest.raises(TypeError, match="binary file"):
        pt.onnx.export(m, (x,), io.StringIO())
    with pytest.raises(TypeError, match="args must be a Tensor or a tuple"):
        pt.onnx.export(m, 3, None)


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    # (before, export opened the path with "wb" and wrote into it: a full disk mid-write left a
    # truncated model where the previous one was)
    m = cnn()
    x = pt.randn(3, 1, 8, 8)
    path = tmp_path / "m.onnx"
    pt.onnx.export(m, (x,), path)
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        pt.onnx.export(nn.Linear(3, 2), (pt.randn(2, 3),), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]     # no temporary left behind


def test_kwargs_as_pytorch_passes_them():
    def f(x, scale=1.0, bias=None):
        return x * scale + bias
    x, b = pt.randn(3), pt.randn(3)
    proto = pt.onnx.export(f, (x, {"bias": b, "scale": 2.0}), None)
    assert [i.name for i in proto.graph.input] == ["input_0", "input_1"]
    assert_matches(run(session(proto.SerializeToString()), (x, b)), [f(x, 2.0, b)])


def test_verbose_prints_the_graph(capsys):
    pt.onnx.export(nn.Linear(3, 2), (pt.randn(2, 3),), None, verbose=True)
    assert "Gemm" in capsys.readouterr().out


# ---- constant folding, initializers ---------------------------------------------------------------------
def test_initializers_are_named_after_the_state_dict():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    proto = check_export(m, (pt.randn(2, 3),))
    assert {i.name for i in proto.graph.initializer} == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_tied_weights_are_one_initializer():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(7, 4)

        def forward(self, idx):
            return pt.nn.functional.linear(self.emb(idx), self.emb.weight)
    proto = check_export(Tied(), (pt.tensor([[1, 2], [6, 0]]),))
    assert [i.name for i in proto.graph.initializer] == ["emb.weight"]


@pytest.mark.parametrize("fold", [True, False])
def test_constant_folding_on_and_off(fold):
    m = nn.LSTM(3, 4, batch_first=True)
    x = pt.randn(2, 3, 3)
    proto = check_export(m, (x,), runs=[(pt.randn(7, 3, 3),)], do_constant_folding=fold, input_names=["x"],
                         dynamic_axes={"x": [0]})
    names = {i.name for i in proto.graph.initializer}
    if fold:      # weight.t() and b_ih + b_hh folded: new constants in place of the parameters
        assert not {"weight_hh_l0", "bias_ih_l0", "bias_hh_l0"} & names
    else:
        assert "Transpose" in op_types(proto) and {"weight_hh_l0", "bias_ih_l0", "bias_hh_l0"} <= names


def test_folding_evaluates_with_plugtorch():
    w = pt.randn(4, 4)

    def f(x):
        return x @ pt.special.erfc(w.t() @ w + pt.eye(4))     # erfc has no mapping, but runs at export
    proto = check_export(f, (pt.randn(2, 4),))
    assert op_types(proto) == {"MatMul", "Identity"}


# ---- the model is left as it was ---------------------------------------------------------------------
def test_training_mode_model_exports_as_it_runs_and_keeps_its_buffers():
    m = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3)).train()
    x = pt.randn(4, 1, 6, 6)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    buf = io.BytesIO()
    pt.onnx.export(m, (x,), buf)
    assert m.training
    for k, v in m.state_dict().items():
        assert pt.equal(v, before[k]), k
    with pt.no_grad():
        expected = m(x)           # batch statistics, as in training mode
    assert_matches(run(session(buf.getvalue()), (x,)), [expected])


def test_example_inputs_are_not_written():
    def f(x):
        x.add_(1)
        return x * 2
    x = pt.randn(3)
    before = x.clone()
    proto = pt.onnx.export(f, (x,), None)
    assert pt.equal(x, before)
    assert_matches(run(session(proto.SerializeToString()), (x,)), [(before + 1) * 2])


def test_outputs_none_left_out_other_python_values_refused():
    proto = pt.onnx.export(lambda x: (x * 2, None, [x + 1]), (pt.randn(2),), None)
    assert len(proto.graph.output) == 2
    with pytest.raises(OnnxExporterError, match="returns a int"):
        pt.onnx.export(lambda x: (x * 2, 3), (pt.randn(2),), None)


def test_output_that_is_an_input_or_a_constant():
    check_export(lambda x: (x, pt.ones(2) * 3, x), (pt.randn(2),))
    check_export(nn.Dropout(), (pt.randn(2, 3),))
    with pytest.warns(UserWarning, match="outputs do not depend on its inputs"):
        check_export(lambda x: pt.ones(2) * 3, (pt.randn(2),))


# ---- errors naming the op, the line and the opsets -----------------------------------------------------
def _line_of(fn, text):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, ln in enumerate(lines) if text in ln)


def test_unsupported_op_names_op_line_and_opsets():
    def model(x):
        y = x * 2
        return pt.special.i0(y)          # no ONNX mapping
    with pytest.raises(UnsupportedOperatorError) as e:
        pt.onnx.export(model, (pt.randn(3),), None)
    msg = str(e.value)
    here = os.path.relpath(__file__)
    assert f"'i0' traced at {here}:{_line_of(model, 'special.i0(y)')}" in msg
    assert "tried opset 17" in msg and "only a cpu kernel computes it" in msg
    assert isinstance(e.value, RuntimeError)


def test_a_mapping_from_a_later_opset_says_which():
    with pytest.raises(UnsupportedOperatorError, match=r"'bitwise_and' .* tried opset 17 .* opset 18"):
        pt.onnx.export(lambda i: i & 6, (pt.tensor([1, 2]),), None)


def test_random_ops_ask_for_eval_mode():
    m = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).train()
    with pytest.raises(UnsupportedOperatorError, match=r"random numbers: export the model in eval mode"):
        pt.onnx.export(m, (pt.randn(2, 3),), None)
    check_export(m.eval(), (pt.randn(2, 3),))


def test_backward_is_refused():
    w = pt.randn(3, requires_grad=True)

    def step(x):
        with pt.enable_grad():
            (x * w).sum().backward()
        return x
    with pytest.raises(OnnxExporterError, match="runs backward"):
        pt.onnx.export(step, (pt.randn(3),), None)


def test_every_core_op_is_mapped_or_listed_as_not_exportable():
    not_exportable = {"normal_", "uniform_", "random_"}                               # random: eval mode
    assert {n for n in registry.core_ops() if lookup(n) is None} == not_exportable


@pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")
def test_model_on_opencl_exports_the_same():
    m = cnn()
    x = pt.randn(3, 1, 8, 8)
    expected = m(x).detach()
    m.to("opencl")
    proto = pt.onnx.export(m, (x.to("opencl"),), None)
    assert_matches(run(session(proto.SerializeToString()), (x,)), [expected])
    np.testing.assert_allclose(flat(m(x.to("opencl")))[0].cpu().detach().numpy(), expected.numpy(), atol=1e-5)
    # transfers between devices are identities in ONNX
    check_export(lambda x: (x.to("opencl") * 2).cpu() + 1, (pt.randn(3),))


def test_traced_compiled_and_loaded_models_export_their_original(tmp_path):
    m = cnn()
    x = pt.randn(2, 1, 8, 8)
    expected = [m(x).detach()]
    traced = pt.jit.trace(m, (x,))
    traced(x)
    for model in (traced, pt.compile(m), pt.compile(lambda x: m(x) * 1)):
        model(x)          # (their replays bypass the dispatcher: the exporter traces what is behind them)
        proto = pt.onnx.export(model, (x,), None)
        assert_matches(run(session(proto.SerializeToString()), (x,)), expected)
    traced.save(tmp_path / "m.ptj")
    loaded = pt.jit.load(tmp_path / "m.ptj")
    loaded(x)
    for model in (loaded, pt.jit.trace(lambda x: m(x) * 1, (x,))):
        proto = pt.onnx.export(model, (x,), None)
        assert_matches(run(session(proto.SerializeToString()), (x,)), expected)
    assert "0.weight" in {i.name for i in pt.onnx.export(loaded, (x,), None).graph.initializer}
    with pytest.raises(OnnxExporterError, match="cannot export dynamic axes; export the original model"):
        pt.onnx.export(loaded, (x,), None, input_names=["x"], dynamic_axes={"x": [0]})


@pytest.mark.parametrize("opset", [18, 21])
def test_later_opsets(opset):
    """Mappings whose ONNX operators changed (reductions take axes as an input from 18)."""
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    check_export(layer, (pt.randn(2, 3, 8),), runs=[(pt.randn(5, 3, 8),)], input_names=["x"],
                 dynamic_axes={"x": [0]}, opset_version=opset)
    check_export(lambda x: (x.amax(1), x.amin(0, True), x.mean(), x.prod(1), (x > 0).any(1), x.var(1)),
                 (pt.randn(3, 4),), opset_version=opset)


def test_a_wrong_mapping_is_caught_before_writing(monkeypatch):
    from plugtorch.onnx import table
    entry = table.lookup("neg")
    monkeypatch.setattr(entry, "fn", lambda g, input: [g.node("ReduceSum", [g.input(input)], keepdims=1)])
    buf = io.BytesIO()
    with pytest.raises(OnnxExporterError, match=r"the mapping of 'neg' .* gives shape \[1, 1\], the traced result "
                                                r"is \[2, 3\]: a bug in plugtorch/onnx's table"):
        pt.onnx.export(lambda x: -x, (pt.randn(2, 3),), buf)
    assert buf.getvalue() == b""
    monkeypatch.setattr(entry, "fn", lambda g, input: [g.node("Cast", [g.input(input)], to=7)])
    with pytest.raises(OnnxExporterError, match="the mapping of 'neg' .* element type 7"):
        pt.onnx.export(lambda x: -x, (pt.randn(2, 3),), None)


def test_onnx_is_needed_only_to_export(monkeypatch):
    import subprocess
    import sys
    code = "import sys, plugtorch; plugtorch.onnx.DEFAULT_OPSET; print('onnx' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    monkeypatch.setitem(sys.modules, "onnx", None)       # as if it were not installed
    with pytest.raises(ImportError, match=r"needs the 'onnx' package: pip install 'plugtorch\[onnx\]'"):
        pt.onnx.export(nn.Linear(2, 2), (pt.randn(1, 2),), None)


def test_pytorch_scripts_options_are_accepted():
    # the call of PyTorch's tutorial raised TypeError: unexpected keyword argument 'export_params'
    m = nn.Linear(4, 2).eval()
    x = pt.randn(3, 4)
    buf = io.BytesIO()
    pt.onnx.export(m, (x,), buf, export_params=True, opset_version=17, do_constant_folding=True,
                   input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
                   keep_initializers_as_inputs=False, dynamo=False, external_data=True)
    x5 = pt.randn(5, 4)
    got = run(session(buf.getvalue()), (x5,))[0]
    np.testing.assert_allclose(got, x5.numpy() @ m.weight.detach().numpy().T + m.bias.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(OnnxExporterError, match="export_params=False is not supported"):
        pt.onnx.export(m, (x,), None, export_params=False)
    with pytest.raises(OnnxExporterError, match="keep_initializers_as_inputs=True is not supported"):
        pt.onnx.export(m, (x,), None, keep_initializers_as_inputs=True)


@pytest.mark.parametrize("name", ["cummin", "cummax", "logcumsumexp"])
def test_a_log_step_scan_along_a_dynamic_axis_is_refused(name):
    # their decompositions take ceil(log2(n)) steps: 3 at n = 5, 6 and 7, so the file exported at 5
    # scanned 8 elements at most and gave wrong values at n = 40 (cummin of 50, 5, 5, ..., 9 after 8
    # elements; NumPy: 5). The far probe (n = 13) takes 4 steps: refused, naming the op and line.
    def f(x):
        r = getattr(pt, name)(x, 0)
        return r[0] if isinstance(r, tuple) else r
    with pytest.raises(OnnxExporterError, match=rf"the decomposition of '{name}' \(traced at "
                                                rf"{os.path.relpath(__file__)}:\d+\): the traced program makes"):
        pt.onnx.export(f, (pt.randn(5, 2),), None, input_names=["x"], dynamic_axes={"x": {0: "n"}})
    # along a static axis, with a dynamic batch, it exports: NumPy's running min/max/logaddexp
    x = np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)
    proto = check_export(lambda x: f(x.t()).t(), (pt.randn(2, 5),), input_names=["x"], dynamic_axes={"x": {0: "b"}})
    ref = {"cummin": np.minimum, "cummax": np.maximum, "logcumsumexp": np.logaddexp}[name].accumulate(x, 1)
    np.testing.assert_allclose(run(session(proto.SerializeToString()), (pt.tensor(x),))[0], ref, rtol=1e-5, atol=1e-6)
