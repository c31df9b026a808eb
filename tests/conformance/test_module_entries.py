"""Every public nn module is a conformance entry, and the module entries catch broken backends."""
from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn
from plugtorch.backends.cpu import CPUBackend
from plugtorch.conformance import FAIL, PASS, UNSUPPORTED, opdb, run
from plugtorch.conformance.opdb import modules
from plugtorch.conformance.samples import SampleContext

_names = (f"modfakedev{i}" for i in itertools.count())
CPU = CPUBackend().kernels


def _public_modules():
    return {name: obj for name, obj in vars(nn).items()
            if inspect.isclass(obj) and issubclass(obj, nn.Module) and not name.startswith("_")}


def test_every_public_module_has_an_entry():
    missing = sorted(name for name in _public_modules()
                     if f"nn.{name}" not in opdb.ENTRIES and name not in modules.NO_FORWARD)
    assert missing == [], f"add entries to conformance/opdb/modules.py for nn.{', nn.'.join(missing)}"


def test_module_entries_name_real_classes_and_exemptions_are_real():
    public = _public_modules()
    for name in opdb.ENTRIES:
        if name.startswith("nn.") and name[3:][:1].isupper():
            assert name[3:] in public, name
    assert set(modules.NO_FORWARD) <= set(public)
    assert not any(f"nn.{n}" in opdb.ENTRIES for n in modules.NO_FORWARD)


def test_entry_returns_outputs_parameter_gradients_and_buffers():
    e = opdb.get("nn.BatchNorm1d")
    s = list(e.samples(SampleContext(pt.float64, key="nn.BatchNorm1d")))[0]
    args, kwargs, _ = s.materialize("cpu")
    out, grads, buffers = e.fn(*args, **kwargs)
    x = args[0].numpy()
    assert out.shape == (4, 3) and out.dtype is pt.float64
    assert [tuple(g.shape) for g in grads] == [(3,), (3,)]        # weight, bias
    mean, var, count = (b.numpy() for b in buffers)             # running statistics after one step
    np.testing.assert_allclose(mean, 0.1 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var, 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-12)
    assert int(count) == 1


def test_module_is_built_from_a_fixed_seed():
    e = opdb.get("nn.Linear")
    s = list(e.samples(SampleContext(pt.float32, key="nn.Linear")))[0]
    args, kwargs, _ = s.materialize("cpu")
    pt.manual_seed(1)
    a = e.fn(*args, **kwargs)[0].detach().numpy()
    pt.manual_seed(2)
    b = e.fn(*args, **kwargs)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)


@pytest.fixture
def fake():
    made = []

    def register(replace=None, unsupported=(), drop=()):
        class Fake(CPUBackend):
            def __init__(self):
                super().__init__()
                self.kernels = {k: f for k, f in dict(self.kernels, **(replace or {})).items() if k not in drop}

            def from_numpy(self, array, index=None):
                return np.array(array, copy=True)

            def unsupported_dtype(self, dtype, index):
                return "no such units" if dtype in unsupported else None
        name = next(_names)
        pt.backends.register(Fake(), name=name)
        made.append(name)
        return name
    yield register
    for n in made:
        pt.backends.unregister(n)


def _statuses(name, patterns, dtypes=(pt.float32,)):
    dtypes = None if dtypes is None else list(dtypes)
    return {(r.op, r.dtype): r for r in run([name], opdb.select(patterns), dtypes, max_examples=2)}


def test_honest_copy_of_cpu_passes_the_module_entries(fake):
    results = _statuses(fake(), ["nn.[A-Z]*"], dtypes=None)
    assert len(results) >= 2 * 60
    assert {(op, r.status) for (op, _), r in results.items() if r.status != PASS} == set()


def test_a_wrong_tanh_kernel_fails_modules_built_on_tanh(fake):
    def tanh(*args):
        r = CPU["tanh"](*args)
        return (r * (1 + 1e-3)).astype(r.dtype)
    # (without the fused recurrence kernels, RNN and LSTM run _rnn_layer's decomposition, which calls tanh)
    results = _statuses(fake({"tanh": tanh}, drop=("_rnn_layer", "_rnn_layer_backward")),
                        ["nn.Tanh", "nn.RNN", "nn.ReLU", "nn.Linear", "nn.LSTM"])
    failing = {op for (op, _), r in results.items() if r.status == FAIL}
    assert failing == {"nn.Tanh", "nn.RNN", "nn.LSTM"}
    assert results["nn.Tanh", "float32"].failures[0].check == "forward"
    # with cpu's _rnn_layer kernel (it does its own tanh), only the modules calling the tanh op fail
    results = _statuses(fake({"tanh": tanh}), ["nn.Tanh", "nn.RNN", "nn.LSTM"])
    assert {op for (op, _), r in results.items() if r.status == FAIL} == {"nn.Tanh"}


def test_running_statistics_are_compared(fake):
    # an in-place add that forgets to write: BatchNorm's training output is unchanged, its
    # running statistics (updated with add_) stay at their initial values
    def add_(a, b, dtype):
        return None
    results = _statuses(fake({"add_": add_}), ["nn.BatchNorm1d", "nn.LayerNorm"])
    r = results["nn.BatchNorm1d", "float32"]
    assert r.status == FAIL and r.failures[0].check == "forward"
    assert "buffer 'running_mean' after the call" in r.failures[0].message
    assert results["nn.LayerNorm", "float32"].status == PASS


def test_float64_unsupported_shows_unsupported(fake):
    results = _statuses(fake(unsupported=[pt.float64]), ["nn.Linear", "nn.Embedding", "nn.CrossEntropyLoss"],
                        dtypes=[pt.float32, pt.float64])
    assert {op: r.status for (op, d), r in results.items() if d == "float64"} == dict.fromkeys(
        ["nn.Linear", "nn.Embedding", "nn.CrossEntropyLoss"], UNSUPPORTED)
    assert {r.status for (op, d), r in results.items() if d == "float32"} == {PASS}


def test_bad_input_to_a_module_raises_the_documented_error_on_cpu():
    from plugtorch.conformance.runner import check_error_input
    assert len(modules.ERRORS) >= 10
    for cls in modules.ERRORS:
        e = opdb.get(f"nn.{cls.__name__}")
        for ei in e.error_inputs(SampleContext(pt.float32, key=e.name)):
            check_error_input(e, ei, pt.device("cpu"))     # raises when cpu's exception or message differ

