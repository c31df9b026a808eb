"""The meta device: tensors with a shape, dtype and strides but no data, as PyTorch's.

The op database check runs every conformance sample on cpu and on meta and compares the
results' shapes, dtypes and layouts (the order of dims by stride): meta must give what cpu gives,
without data. The module checks build models on meta, materialize them and load weights.
"""
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn

META = pt.device("meta")


def meta(*shape, dtype=None, requires_grad=False):
    return pt.empty(shape, dtype=dtype, device="meta", requires_grad=requires_grad)


# ---- the device ----------------------------------------------------------------------------
def test_device_and_is_meta():
    x = meta(3, 4)
    assert x.device == META and x.device.index is None and x.is_meta
    assert not pt.zeros(2).is_meta
    assert pt.device("meta") is META and str(META) == "meta"
    assert pt.empty(2, device="meta:0").device == META     # one meta device, as in PyTorch
    # always there, but no device to compute on: not among the backends listed or available
    assert pt.backends.is_registered("meta") and pt.backends.get_backend("meta").name == "meta"
    assert "meta" not in [b["name"] for b in pt.backends.list()] and "meta" not in pt.backends.available()


@pytest.mark.parametrize("make, shape, dtype", [
    (lambda: pt.empty(3, 4, device="meta"), (3, 4), pt.float32),
    (lambda: pt.zeros(2, 3, dtype=pt.int32, device="meta"), (2, 3), pt.int32),
    (lambda: pt.ones((5,), device="meta"), (5,), pt.float32),
    (lambda: pt.full((2, 2), 7, device="meta"), (2, 2), pt.int64),
    (lambda: pt.rand(2, 3, device="meta"), (2, 3), pt.float32),
    (lambda: pt.randn(4, device="meta", dtype=pt.float64), (4,), pt.float64),
    (lambda: pt.randint(0, 10, (3,), device="meta"), (3,), pt.int64),
    (lambda: pt.arange(10, device="meta"), (10,), pt.int64),
    (lambda: pt.arange(0, 1, 0.25, device="meta"), (4,), pt.float32),
    (lambda: pt.linspace(0, 1, 5, device="meta"), (5,), pt.float32),
    (lambda: pt.eye(3, 4, device="meta"), (3, 4), pt.float32),
    (lambda: pt.tensor([1.0, 2.0], device="meta"), (2,), pt.float32),
    (lambda: pt.zeros_like(pt.ones(2, 5), device="meta"), (2, 5), pt.float32),
    (lambda: pt.empty_like(meta(3, dtype=pt.bool)), (3,), pt.bool),
    (lambda: pt.ones(2, 3).to("meta"), (2, 3), pt.float32),
    (lambda: meta(2, 3).new_ones(4), (4,), pt.float32),
])
def test_factories(make, shape, dtype):
    t = make()
    assert t.device == META and tuple(t.shape) == shape and t.dtype is dtype


def test_default_device_meta():
    with pt.device("meta"):
        assert pt.ones(2).device == META
        assert nn.Linear(2, 3).weight.device == META
    assert pt.ones(2).device.type == "cpu"


def test_huge_tensors_take_no_memory():
    # 10^10 float32 elements (40 GB): only the shape exists
    w = pt.empty(10 ** 5, 10 ** 5, device="meta")
    x = pt.randn(8, 10 ** 5, device="meta")
    y = pt.relu(x @ w.t() + 1)
    assert tuple(y.shape) == (8, 10 ** 5) and y.is_meta
    assert tuple(w.sum(0).shape) == (10 ** 5,)
    assert w.nbytes == 4 * 10 ** 10
    n = 10 ** 5   # ops whose cpu kernel on stand-ins would allocate or scan 10^10 elements
    assert tuple(pt.cat([w, w]).shape) == (2 * n, n) and tuple(pt.stack([w, w], 1).shape) == (n, 2, n)
    assert tuple(w.sum(1, keepdim=True).shape) == (n, 1) and w.long().sum().dtype is pt.int64
    assert tuple(w.softmax(1).shape) == (n, n) and tuple(pt.nn.functional.layer_norm(w, (n,)).shape) == (n, n)
    v, i = w.max(0)
    assert tuple(v.shape) == (n,) and i.dtype is pt.int64 and w.argmax().ndim == 0
    assert [t.dtype for t in w.sort(1)] == [pt.float32, pt.int64] and tuple(w.cumsum(0).flip(1).shape) == (n, n)
    assert (w > 0).any().dtype is pt.bool and tuple(w.var(1).shape) == (n,)
    x = meta(n, n, requires_grad=True)
    target = pt.zeros(n, dtype=pt.int64, device="meta")
    loss = pt.nn.functional.cross_entropy(x, target)
    assert loss.ndim == 0 and loss.dtype is pt.float32
    loss.backward()
    assert tuple(x.grad.shape) == (n, n)
    assert tuple(pt.nn.functional.cross_entropy(x, target, reduction="none").shape) == (n,)
    assert tuple(pt.nn.functional.cross_entropy(x, x.detach().softmax(1), reduction="none").shape) == (n,)


def test_init_sparse_on_a_huge_meta_matrix_returns_at_once():
    w = pt.empty(10 ** 5, 10 ** 5, device="meta")
    assert nn.init.sparse_(w, 0.1) is w   # (it drew a randperm per column: minutes)


# ---- reading data --------------------------------------------------------------------------
def test_format_and_moves_keep_layout():
    assert f"{meta()}" == "tensor(..., device='meta', size=())"   # a 0-d meta tensor has no number
    with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
        f"{meta():.2f}"
    assert pt.ones(3, 4).t().to("meta").stride() == (1, 4)           # preserve_format, as PyTorch
    assert tuple(pt.arange(10 ** 10, device="meta").shape) == (10 ** 10,)   # 80 GB of int64: no memory
    assert tuple(pt.arange(0, 1, 0.3, device="meta").shape) == (4,)


def test_tensor_of_a_meta_tensor_is_a_meta_copy():
    m = meta(2, 3)
    c = pt.tensor(m)
    assert c.is_meta and c is not m and tuple(c.shape) == (2, 3) and c.dtype is pt.float32
    assert pt.tensor(m, dtype=pt.float64, requires_grad=True).dtype is pt.float64


def test_repr():
    assert repr(meta(3, 4)) == "tensor(..., device='meta', size=(3, 4))"
    assert repr(meta()) == "tensor(..., device='meta', size=())"
    assert repr(meta(2, dtype=pt.int64)) == "tensor(..., device='meta', size=(2,), dtype=plugtorch.int64)"
    assert repr(meta(2, requires_grad=True)) == "tensor(..., device='meta', size=(2,), requires_grad=True)"
    assert str(meta(1)) == "tensor(..., device='meta', size=(1,))"


@pytest.mark.parametrize("read, exc, msg", [
    (lambda t: t.item(), RuntimeError, "Tensor.item() cannot be called on meta tensors"),
    (lambda t: bool(t), RuntimeError, "Tensor.item() cannot be called on meta tensors"),
    (lambda t: float(t), RuntimeError, "Tensor.item() cannot be called on meta tensors"),
    (lambda t: int(t), RuntimeError, "Tensor.item() cannot be called on meta tensors"),
    (lambda t: t.tolist(), NotImplementedError, "Cannot copy out of meta tensor; no data!"),
    (lambda t: t.cpu(), NotImplementedError, "Cannot copy out of meta tensor; no data!"),
    (lambda t: t.to("cpu"), NotImplementedError, "Cannot copy out of meta tensor; no data!"),
    (lambda t: np.asarray(t), NotImplementedError, "Cannot copy out of meta tensor; no data!"),
    (lambda t: pt.zeros(()).copy_(t), NotImplementedError, "Cannot copy out of meta tensor; no data!"),
    (lambda t: t.numpy(), TypeError, "can't convert meta device type tensor to numpy"),
    (lambda t: pt.save(t, __import__("io").BytesIO()), NotImplementedError, "Cannot copy out of meta tensor"),
    (lambda t: pt.tensor(t, device="cpu"), NotImplementedError, "Cannot copy out of meta tensor"),
])
def test_data_reads_raise(read, exc, msg):
    with pytest.raises(exc) as info:
        read(meta())
    assert msg in str(info.value)


def test_copy_into_meta_is_a_no_op():
    m = meta(3, 4)
    assert m.copy_(pt.ones(3, 4)) is m and m.is_meta
    with pytest.raises(RuntimeError, match="not broadcastable"):
        m.copy_(pt.ones(5))


@pytest.mark.parametrize("call", [
    lambda m, c: m + c, lambda m, c: c * m, lambda m, c: pt.cat([m, c]), lambda m, c: pt.where(m > 0, m, c),
    lambda m, c: m @ c.t(),
])
def test_mixing_meta_and_cpu_raises(call):
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device.*meta.*cpu|"
                                           "Expected all tensors to be on the same device.*cpu.*meta"):
        call(meta(3, 4), pt.ones(3, 4))


def test_zero_dim_cpu_tensor_joins_meta():
    # a 0-d cpu tensor is a scalar beside any device, meta included, as in PyTorch
    y = meta(3, 4) + pt.tensor(2.0)
    assert y.is_meta and tuple(y.shape) == (3, 4)


@pytest.mark.parametrize("op, call", [
    ("nonzero", lambda m: m.nonzero()),
    ("nonzero", lambda m: m[m > 0]),
    ("masked_select", lambda m: pt.masked_select(m, m > 0)),
    ("unique", lambda m: pt.unique(m)),
    ("unique_consecutive", lambda m: pt.unique_consecutive(m)),
    ("bincount", lambda m: pt.bincount(m.long().flatten())),
    ("repeat_interleave", lambda m: pt.repeat_interleave(m, pt.ones(3, dtype=pt.int64, device="meta"), dim=0)),
])
def test_data_dependent_shapes_raise(op, call):
    with pytest.raises(NotImplementedError, match=rf"^{op}\(\): the shape of its result depends on the tensor's "
                                                  "values, which a meta tensor does not have"):
        call(meta(3, 4))


# ---- shapes, dtypes and strides ------------------------------------------------------------
def test_matmul_and_friends():
    a, b = meta(3, 4), meta(4, 5)
    assert tuple((a @ b).shape) == (3, 5)
    assert tuple(pt.matmul(meta(7, 1, 3, 4), meta(2, 4, 5)).shape) == (7, 2, 3, 5)
    assert tuple(pt.matmul(meta(4), meta(4, 5)).shape) == (5,)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        meta(3, 4) @ meta(3, 4)
    assert (meta(2, 3, dtype=pt.int32) + 1.5).dtype is pt.float32
    assert (meta(2, dtype=pt.int64) > 0).dtype is pt.bool


def test_views_keep_strides_and_offsets():
    x = meta(3, 4)
    assert x.stride() == (4, 1)
    assert x.t().stride() == (1, 4) and not x.t().is_contiguous()
    assert x.t().contiguous().stride() == (3, 1)
    assert x[1:, ::2].stride() == (4, 2) and x[1:, ::2].storage_offset() == 4
    assert x[2].storage_offset() == 8 and tuple(x[2].shape) == (4,)
    assert meta(1, 4).expand(3, 4).stride() == (0, 1)
    assert x.as_strided((2, 2), (1, 2), 1).stride() == (1, 2)
    assert x.view(2, 6).stride() == (6, 1) and x.unsqueeze(1).shape == (3, 1, 4)
    assert x.permute(1, 0).clone(memory_format=pt.preserve_format).stride() == (1, 4)
    with pytest.raises(RuntimeError, match="view"):
        x.t().view(12)


def test_in_place_ops_keep_the_tensor():
    x = meta(3, 4)
    assert x.add_(1) is x and x.uniform_() is x and x.normal_() is x and x.fill_(2) is x and x.zero_() is x
    with pytest.raises(RuntimeError):
        x.add_(meta(5))


def test_reductions_conv_functional():
    x = meta(2, 3, 8, 8)
    assert tuple(pt.nn.functional.conv2d(x, meta(4, 3, 3, 3), padding=1).shape) == (2, 4, 8, 8)
    assert tuple(x.sum((2, 3), keepdim=True).shape) == (2, 3, 1, 1)
    v, i = x.max(1)
    assert tuple(v.shape) == (2, 8, 8) and i.dtype is pt.int64
    assert tuple(pt.nn.functional.max_pool2d(x, 2).shape) == (2, 3, 4, 4)
    assert tuple(pt.softmax(x, 1).shape) == (2, 3, 8, 8)
    assert x.argmax().dtype is pt.int64 and x.argmax().ndim == 0
    assert tuple(pt.topk(meta(3, 4), 2).indices.shape) == (3, 2)


def test_autograd_gives_meta_grads():
    w = meta(4, 3, requires_grad=True)
    b = meta(4, requires_grad=True)
    x = meta(5, 3)
    loss = pt.nn.functional.cross_entropy(pt.tanh(x @ w.t() + b), pt.zeros(5, dtype=pt.int64, device="meta"))
    assert loss.is_meta and loss.ndim == 0 and loss.grad_fn is not None
    loss.backward()
    assert w.grad.is_meta and tuple(w.grad.shape) == (4, 3) and tuple(b.grad.shape) == (4,)


def _order(t):
    st, sh = t.stride(), tuple(t.shape)
    return tuple(sorted(range(t.ndim), key=lambda d: (-st[d] if sh[d] != 1 else 0, d)))


def _tensors(r):
    if isinstance(r, pt.Tensor):
        return [r]
    if isinstance(r, (list, tuple)):
        return [x for y in r for x in _tensors(y)]
    return []


# Entries whose samples read values (a data-dependent shape, a number read on the host): they
# raise on meta, as in PyTorch, with the exception named here
_READS_DATA = {
    "nonzero": NotImplementedError, "nonzero (complex)": NotImplementedError, "masked_select": NotImplementedError,
    "nn.functional.pdist": NotImplementedError, "nn.AdaptiveLogSoftmaxWithLoss": NotImplementedError,
    "_to_device": NotImplementedError,            # (its "back to cpu" samples: no data to copy out)
    "equal": RuntimeError, "equal (complex)": RuntimeError, "allclose": RuntimeError, "ctc_loss": RuntimeError,
    "optim.LBFGS": RuntimeError, "nn.BatchNorm1d": RuntimeError,
}


def _entries():
    from conformance.opdb import ENTRIES
    return ENTRIES


def _meta_cases():
    return [n for n in _entries() if not n.startswith("nn.Lazy")]   # (lazy layers copy their shapes to cpu)


@pytest.mark.parametrize("name", _meta_cases())
def test_op_database_on_meta(name):
    """Every sample of the conformance op database (float32, or the entry's first dtype): the meta
    result has the cpu result's shapes, dtypes and order of strides."""
    from conformance.samples import SampleContext
    e = _entries()[name]
    dt = pt.float32 if pt.float32 in e.dtypes else e.dtypes[0]
    samples = list(e.samples(SampleContext(dt, seed=0, max_examples=2, key=name)))[:4]
    for s in samples:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                pt.manual_seed(0)
                a, k, _ = s.materialize("cpu")
                ref = e.fn(*a, **k)
            except Exception:   # noqa: BLE001  (error inputs among the samples: the conformance suite's job)
                continue
            pt.manual_seed(0)
            a, k, _ = s.materialize("meta")
            if name in _READS_DATA:
                try:
                    e.fn(*a, **k)
                except _READS_DATA[name]:
                    continue
            got = e.fn(*a, **k)
        want, have = _tensors(ref), _tensors(got)
        assert len(want) == len(have), s.describe()
        for x, y in zip(want, have):
            on_cpu = x.device.type == "cpu" and s.out_device == "cpu"
            assert y.device.type == ("cpu" if on_cpu else "meta"), s.describe()
            assert (tuple(y.shape), y.dtype) == (tuple(x.shape), x.dtype), s.describe()
            if x.numel() > 1 and not on_cpu:
                assert _order(y) == _order(x), (s.describe(), x.stride(), y.stride())



def _grad_names():
    from tests.autograd.op_samples import SAMPLES
    return sorted(n for n in SAMPLES if n not in ("_to_device", "masked_select"))   # (no data: they raise above)


def _to_meta(v):
    if isinstance(v, pt.Tensor):
        m = v.detach().to("meta")
        return m.requires_grad_() if v.requires_grad else m
    if isinstance(v, (list, tuple)):
        return type(v)(_to_meta(x) for x in v)
    return v


def _outputs_and_grads(name, s):
    from tests.autograd.op_samples import as_function, flat_inputs
    inputs = flat_inputs(s)
    outs = as_function(name, s)(*inputs)
    outs = [o for o in _tensors(outs) if o.requires_grad]
    grads = pt.autograd.grad(outs, inputs, grad_outputs=[pt.ones_like(o) for o in outs], allow_unused=True)
    return outs + list(grads)


@pytest.mark.parametrize("name", _grad_names())
def test_backward_on_meta(name):
    """Every gradcheck sample (tests/autograd/op_samples.py) run forward and backward on meta: the
    outputs and gradients have the shapes and dtypes of cpu's, on meta."""
    from tests.autograd.op_samples import SAMPLES, Sample
    s = SAMPLES[name](np.random.default_rng(0))
    if s.call is not None:
        pytest.skip("a sample with its own call (in-place ops on fresh cpu targets)")
    want = _outputs_and_grads(name, s)
    have = _outputs_and_grads(name, Sample(_to_meta(s.args), {k: _to_meta(v) for k, v in s.kwargs.items()}))
    assert len(want) == len(have)
    for x, y in zip(want, have):
        assert (x is None) == (y is None)
        if x is not None:
            assert y.is_meta and (tuple(y.shape), y.dtype) == (tuple(x.shape), x.dtype)


# ---- modules -------------------------------------------------------------------------------
class _Net(nn.Module):
    def __init__(self, device=None):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, device=device)
        self.bn = nn.BatchNorm2d(4, device=device)
        self.fc = nn.Linear(4 * 6 * 6, 10, device=device)
        self.ln = nn.LayerNorm(10, device=device)

    def forward(self, x):
        return self.ln(self.fc(pt.relu(self.bn(self.conv(x))).flatten(1)))


def _reference():
    pt.manual_seed(0)
    ref = _Net().eval()
    with pt.no_grad():   # buffers that differ from their defaults, so loading them shows
        ref.bn.running_mean.uniform_(-1, 1)
        ref.bn.running_var.uniform_(0.5, 2)
    x = pt.randn(2, 3, 6, 6)
    return ref, x, ref(x).detach().numpy()


def test_module_device_argument_and_forward_shapes():
    m = _Net(device="meta")
    assert {p.device for p in m.parameters()} | {b.device for b in m.buffers()} == {META}
    assert m.bn.num_batches_tracked.dtype is pt.int64
    y = m(meta(2, 3, 6, 6))
    assert y.is_meta and tuple(y.shape) == (2, 10)
    big = nn.Linear(10 ** 5, 10 ** 5, device="meta")
    assert tuple(big.weight.shape) == (10 ** 5, 10 ** 5) and big.weight.requires_grad
    assert isinstance(big.weight, nn.Parameter)


def test_to_empty_then_load_state_dict_matches_cpu():
    ref, x, want = _reference()
    with pt.device("meta"):
        m = _Net()
    assert m.to_empty(device="cpu") is m
    assert {p.device.type for p in m.parameters()} == {"cpu"} and isinstance(m.fc.weight, nn.Parameter)
    assert str(m.load_state_dict(ref.state_dict())) == "<All keys matched successfully>"
    np.testing.assert_allclose(m.eval()(x).detach().numpy(), want, rtol=1e-6, atol=1e-6)


def test_load_state_dict_assign_replaces_meta_tensors():
    ref, x, want = _reference()
    sd = ref.state_dict()
    m = _Net(device="meta")
    m.load_state_dict(sd, assign=True)
    assert {p.device.type for p in m.parameters()} | {b.device.type for b in m.buffers()} == {"cpu"}
    assert isinstance(m.fc.weight, nn.Parameter) and m.fc.weight.requires_grad
    np.testing.assert_allclose(m.eval()(x).detach().numpy(), want, rtol=1e-6, atol=1e-6)


def test_load_state_dict_into_meta_without_assign_warns():
    ref, _, _ = _reference()
    m = _Net(device="meta")
    with pytest.warns(UserWarning, match=r"for fc.weight: copying from a non-meta parameter in the checkpoint to "
                                         r"a meta parameter in the current model, which is a no-op. \(Did you "
                                         r"mean to pass `assign=True`"):
        m.load_state_dict(ref.state_dict())
    assert m.fc.weight.is_meta


def test_module_to_meta_and_backward():
    m = _Net().to("meta")
    assert m.fc.weight.is_meta
    loss = m(meta(2, 3, 6, 6)).sum()
    loss.backward()
    assert m.conv.weight.grad.is_meta and tuple(m.conv.weight.grad.shape) == (4, 3, 3, 3)


@pytest.mark.parametrize("init", [
    nn.init.uniform_, nn.init.normal_, nn.init.xavier_uniform_, nn.init.xavier_normal_, nn.init.kaiming_uniform_,
    nn.init.kaiming_normal_, nn.init.orthogonal_, nn.init.trunc_normal_, nn.init.zeros_, nn.init.ones_,
    nn.init.eye_, lambda w: nn.init.constant_(w, 0.3), lambda w: nn.init.sparse_(w, 0.1),
])
def test_init_on_meta_does_nothing(init):
    w = meta(30, 40)
    assert init(w) is w and w.is_meta and tuple(w.shape) == (30, 40)


def test_big_layers_on_meta():
    lstm = nn.LSTM(4, 5, device="meta")
    out, (h, c) = lstm(meta(3, 2, 4))
    assert tuple(out.shape) == (3, 2, 5) and tuple(h.shape) == (1, 2, 5) and out.is_meta
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, device="meta")
    assert tuple(layer(meta(3, 2, 8)).shape) == (3, 2, 8)
    emb = nn.Embedding(10 ** 6, 512, device="meta")
    assert tuple(emb(pt.zeros(4, 7, dtype=pt.int64, device="meta")).shape) == (4, 7, 512)
