"""The jit mode (``--jit``, conformance/jit_mode.py): traced and compiled replays compared with eager
on the backend. Planted jit bugs (a backend's fused kernel that keeps intermediate steps in float64,
ignores strides or loses -0.0; a pass that forgets a write into an input; a replay that forgets
autograd) must fail as jit or compile rows while the eager rows pass; a graph break is listed, not
failed, and only where the tracer recorded one."""
from __future__ import annotations

import json

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends.fusion import IN, Ref
from plugtorch.conformance import FAIL, PASS, Entry, Input, Sample, cli, opdb, report, run
from plugtorch.conformance import jit_mode
from plugtorch.conformance.jit_mode import check_entry_jit
from plugtorch.conformance.runner import GRAPH_BREAK, UNSUPPORTED
from plugtorch.jit import api as jit_api
from plugtorch.jit import passes
from plugtorch.jit.ir import INPUT

from .planted import CopyOfCPU


class FusingCPU(CopyOfCPU):
    """cpu's kernels with the fusion capability: a fused group runs its steps' kernels in one call
    (honest), or as a backend author might get it wrong (``flavour``)."""

    def __init__(self, flavour="honest"):
        super().__init__()
        self.flavour = flavour
        self.groups = 0

    def fuse_pointwise(self, group, index=0):
        kernels, flavour = self.kernels, self.flavour
        self.groups += 1
        last = len(group.steps) - 1

        def arg(r, arrays, vals, j):
            if isinstance(r, Ref):
                a = arrays[r.index] if r.kind == IN else vals[r.index]
                if flavour == "ignores strides" and r.kind == IN and a.ndim >= 2:
                    a = np.ravel(a, order="K").reshape(a.shape)    # memory order taken as logical order
                return a
            if flavour == "float64 in registers" and j != last and isinstance(r, pt.dtype) and r.is_floating_point:
                return pt.float64                                  # intermediates never rounded to their dtype
            return r

        def fused(*arrays):
            vals = []
            for j, st in enumerate(group.steps):
                vals.append(kernels[st.op](*[arg(r, arrays, vals, j) for r in st.kargs]))
            outs = [np.array(vals[i], copy=True, dtype=group.steps[i].dtype.numpy) for i in group.outputs]
            if flavour == "loses -0.0":
                for o in outs:
                    if o.dtype.kind == "f":
                        np.add(o, o.dtype.type(0), out=o)          # -0.0 + 0.0 is +0.0
            return tuple(outs)
        return fused


@pytest.fixture
def fusing():
    names = []

    def make(flavour="honest"):
        name = f"fusing{len(names)}"
        pt.backends.register(FusingCPU(flavour), name=name)
        names.append(name)
        return name
    yield make
    for n in names:
        pt.backends.unregister(n)


def _rows(name, ops, dtypes, max_examples=2):
    results = run([name], opdb.select(ops), dtypes, max_examples=max_examples, jit=True)
    eager = [r for r in results if r.mode == "eager"]
    jit = [r for r in results if r.mode == "jit"]
    assert len(eager) == len(jit) > 0
    return eager, jit


def test_an_honest_fusing_backend_passes_and_fuses(fusing):
    name = fusing()
    eager, jit = _rows(name, ["lerp", "nn.GELU", "nan_to_num"], [pt.float16, pt.float32])
    assert FAIL not in {r.status for r in eager} and {r.status for r in jit} <= {PASS, GRAPH_BREAK}, [
        str(f) for r in jit for f in r.failures]
    assert pt.backends.get_backend(name).groups > 0       # the graphs offered fused groups


def test_entries_are_traced_before_their_replays(fusing, monkeypatch):
    # a backend that builds its fused kernels at their first call (opencl) then builds the
    # groups of every traced entry at once: no fused call comes before the last offer
    name = fusing()
    be = pt.backends.get_backend(name)
    log = []
    offer = be.fuse_pointwise

    def logged(group, index=0):
        fn = offer(group, index)
        log.append("offer")
        return lambda *arrays: (log.append("call"), fn(*arrays))[1]
    monkeypatch.setattr(be, "fuse_pointwise", logged)
    eager, jit = _rows(name, ["lerp", "addcmul", "nan_to_num"], [pt.float32, pt.float64])
    assert {r.status for r in jit} <= {PASS, GRAPH_BREAK}, [str(f) for r in jit for f in r.failures]
    assert [(r.op, r.dtype) for r in jit] == [(r.op, r.dtype) for r in eager]    # in order, one each
    assert log.count("offer") > 6 and "offer" not in log[log.index("call"):]


@pytest.mark.parametrize("flavour, op, dtype", [("float64 in registers", "nn.GELU", pt.float32),
                                                ("ignores strides", "lerp", pt.float32),
                                                ("loses -0.0", "nan_to_num", pt.float32)])
def test_a_broken_fused_kernel_fails_the_jit_rows_only(fusing, flavour, op, dtype):
    name = fusing(flavour)
    eager, jit = _rows(name, [op], [dtype])
    assert [r.status for r in eager] != [FAIL], "the eager kernels are cpu's: they pass"
    (r,) = jit
    assert r.status == FAIL and r.mode == "jit"
    f = r.failures[0]
    assert f.check in ("jit", "compile", "jit gradient", "compile gradient")
    assert "(exact)" in f.message and "fused_pointwise[" in f.message      # the graph is shown
    assert f.rerun.startswith(f"plugtorch-conformance --backend {name} --op '{op}'") and f.rerun.endswith(" --jit")
    assert f"--sample {f.index}" in f.rerun


def test_a_pass_that_forgets_a_write_into_an_input_fails(monkeypatch):
    def forgets_copies_back(graph):
        changed = passes.functionalize(graph)
        graph.nodes[:] = [n for n in graph.nodes if not (n.op.name == "copy_" and n.writes[0].kind == INPUT)]
        return changed
    monkeypatch.setattr(passes, "PASSES", [forgets_copies_back if p is passes.functionalize else p
                                           for p in passes.PASSES])
    r = check_entry_jit(opdb.get("copy_"), pt.float32, "cpu", max_examples=0)
    assert r.status == FAIL and r.failures[0].check == "jit"     # copy_ returns its destination: unchanged

    def fills(x, y):             # the destination is not returned: only the input's state tells
        x.copy_(y)
        return y * 2
    e = Entry("fills", fn=fills, dtypes=(pt.float32,), differentiable=False, inplace=True,
              samples=lambda ctx: [Sample(ctx.input((3,), requires_grad=False), ctx.input((3,), requires_grad=False))])
    r = check_entry_jit(e, pt.float32, "cpu")
    assert r.status == FAIL and "tensor argument 0 after the call differs from eager's" in r.failures[0].message


def test_a_replay_that_forgets_autograd_fails_as_jit_gradient(monkeypatch):
    honest = jit_api.run_with_autograd

    def forgets_autograd(graph, tensors):
        with pt.no_grad():
            return honest(graph, tensors)
    monkeypatch.setattr(jit_api, "run_with_autograd", forgets_autograd)
    r = check_entry_jit(opdb.get("mul"), pt.float32, "cpu", max_examples=0)
    assert r.status == FAIL and r.failures[0].check == "jit gradient"
    assert "outputs of the replay require grad" in r.failures[0].message


# ---- graph breaks -------------------------------------------------------------------------
def _entry(name, fn, **kw):
    return Entry(name, samples=lambda ctx: [Sample(Input(np.array([1.0, -2.0, 3.0], np.float32)))], fn=fn,
                 dtypes=(pt.float32,), differentiable=False, **kw)


def test_a_number_read_while_tracing_is_repeated_by_the_replay_and_compared():
    def scaled_by_max(x):
        return x * float(x.abs().max().item())      # read into Python: the replay reads it again
    r = check_entry_jit(_entry("scaled_by_max", scaled_by_max), pt.float32, "cpu")
    assert r.status == PASS and not r.failures and not r.breaks


def test_data_read_while_tracing_is_a_listed_graph_break_not_a_failure():
    def scaled_by_max(x):
        return x * float(x.detach().abs().max().numpy())   # a NumPy array of the data: a graph break
    r = check_entry_jit(_entry("scaled_by_max", scaled_by_max), pt.float32, "cpu")
    assert r.status == GRAPH_BREAK and not r.failures
    assert r.breaks == [(0, r.breaks[0][1])] and r.breaks[0][1].startswith("numpy() at ")
    text = report.graph_breaks([r])
    assert "graph breaks on cpu (jit): 1 entries, 1 samples" in text and "scaled_by_max [float32]" in text
    assert "graph break: 1" in report.table([r])


def test_a_replay_that_differs_without_a_recorded_break_fails():
    calls = []

    def counts_calls(x):       # Python state the trace cannot see, and no tensor data read
        calls.append(1)
        return x * len(calls)
    r = check_entry_jit(_entry("counts_calls", counts_calls), pt.float32, "cpu")
    assert r.status == FAIL and r.failures[0].check == "jit" and not r.breaks


# ---- other data ------------------------------------------------------------------------------
def _first(x):
    """x's first value, read behind the tracer's back (as a bug in an op's Python would)."""
    return float(x._backend().to_numpy(x._data).reshape(-1)[0])


def test_a_value_baked_from_the_traced_data_fails_on_other_data(monkeypatch):
    r = check_entry_jit(_entry("times_first", lambda x: x * _first(x)), pt.float32, "cpu")
    assert r.status == FAIL and r.failures[0].check == "jit, other data", [str(f) for f in r.failures]
    assert "values flipped" in r.failures[0].message and "expected 9.0, got 3.0" in r.failures[0].message
    monkeypatch.setattr(jit_mode, "OTHER_DATA", False)      # on the traced data itself the replay is right
    assert check_entry_jit(_entry("times_first", lambda x: x * _first(x)), pt.float32, "cpu").status == PASS


def test_a_replay_that_returns_where_eager_raises_on_other_data_fails():
    def checks_first(x):
        if _first(x) < 0:
            raise ValueError("checks_first: the first value must be non-negative")
        return x + 1
    e = Entry("checks_first", fn=checks_first, dtypes=(pt.float32,), differentiable=False,
              samples=lambda ctx: [Sample(Input(np.array([1.0, 2.0, -3.0], np.float32)))])
    r = check_entry_jit(e, pt.float32, "cpu")
    assert r.status == FAIL and r.failures[0].check == "jit, other data"
    assert "returned, where eager raises ValueError: checks_first" in r.failures[0].message


def test_a_replay_stopped_by_a_guard_on_other_data_passes():
    # item() is a guard: on the flipped data the traced replay stops, compile traces again
    r = check_entry_jit(_entry("times_first_item", lambda x: x * x.reshape(-1)[0].item()), pt.float32, "cpu")
    assert r.status == PASS and not r.failures and not r.breaks


def test_flipped_keeps_shapes_dtypes_and_layouts_and_skips_constant_data():
    s = Sample(Input(np.arange(6.0, dtype=np.float32).reshape(3, 2), layout="transposed"), Input(np.int64(4)), dim=1)
    o = jit_mode.flipped(s)
    a, b = o.args
    assert a.values.tolist() == [[5.0, 4.0], [3.0, 2.0], [1.0, 0.0]] and a.shape == (2, 3) and a.layout == "transposed"
    assert b.values.shape == () and o.kwargs == {"dim": 1}
    assert s.args[0].values[0, 0] == 0.0                      # the sample itself unchanged
    spd = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
    flipped_spd = jit_mode.flipped(Sample(Input(spd))).args[0].values
    assert np.array_equal(flipped_spd, flipped_spd.T) and np.linalg.eigvalsh(flipped_spd).min() > 0
    assert jit_mode.flipped(Sample(Input(np.ones((2, 2), np.float32)), Input(np.float32(1.0)))) is None


def test_samples_whose_eager_call_raises_are_skipped():
    def raises_on_negative(x):
        if bool((x < 0).any()):
            raise ValueError("negative")
        return x + 1
    e = Entry("raises_on_negative", fn=raises_on_negative, dtypes=(pt.float32,), differentiable=False,
              samples=lambda ctx: [Sample(Input(np.array([1.0], np.float32))), Sample(Input(np.array([-1.0], np.float32)))])
    r = check_entry_jit(e, pt.float32, "cpu")
    assert r.status == PASS and r.samples == 2 and r.skipped == 1


def test_an_unsupported_dtype_is_not_traced():
    pt.backends.register(CopyOfCPU(unsupported=(pt.float16,)), name="nohalf")
    try:
        r = check_entry_jit(opdb.get("neg"), pt.float16, "nohalf")
    finally:
        pt.backends.unregister("nohalf")
    assert r.status == UNSUPPORTED and not r.failures


def test_module_entries_trace_the_module_and_restore_its_buffers():
    # BatchNorm in training mode: the tracing call updates the running statistics once more
    for op in ("nn.BatchNorm1d", "nn.Linear"):
        r = check_entry_jit(opdb.get(op), pt.float32, "cpu")
        assert r.status == PASS, [str(f) for f in r.failures]


def test_each_module_sample_replays_its_compiled_call(monkeypatch):
    # building a module starts a new compile epoch: a sample's compiled second call must run
    # before the next sample builds its module, or it would trace again and compare nothing
    from plugtorch import compiler
    monkeypatch.setattr(jit_mode, "OTHER_DATA", False)     # (its calls on other data count too)
    before = compiler._COUNTERS["compiled_calls"]
    r = check_entry_jit(opdb.get("nn.Linear"), pt.float32, "cpu")
    assert r.status == PASS and r.samples >= 2, [str(f) for f in r.failures]
    assert compiler._COUNTERS["compiled_calls"] - before == r.samples - r.skipped



@pytest.mark.parametrize("backend", ["cpu", "opencl", "strict"])
@pytest.mark.parametrize("op", ["nn.Embedding", "nn.EmbeddingBag"])
def test_module_entries_of_index_inputs_compile_their_forward_and_backward(monkeypatch, op, backend):
    # their inputs are int64 indices, so the compiled call is run_module itself: forward, then
    # autograd.grad to the weight. run_module kept the forward's history (retain_graph=True) for an
    # input gradient these entries do not have; a compiled call returning a tensor with history a
    # second backward could use is a graph break (6c3951b), so both samples of each broke and no
    # compiled replay was compared. Now each sample's second call replays its graph and is compared
    from plugtorch import compiler
    if backend == "opencl" and not pt.opencl.is_available():
        pytest.skip("no OpenCL device")
    monkeypatch.setattr(jit_mode, "OTHER_DATA", False)     # (its calls on other data count too)
    for dtype in (pt.float32, pt.float64):
        before = compiler._COUNTERS["compiled_calls"]
        r = check_entry_jit(opdb.get(op), dtype, backend)
        assert r.status == PASS and not r.breaks and not r.failures, (r.breaks, [str(f) for f in r.failures])
        assert r.samples == 2 and r.skipped == 0
        assert compiler._COUNTERS["compiled_calls"] - before == 2


def test_module_entries_of_index_inputs_are_compared_in_the_cli(tmp_path, capsys):
    path = tmp_path / "r.json"
    assert cli.main(["--backend", "cpu", "strict", "--op", "nn.Embedding,nn.EmbeddingBag", "--jit",
                     "--report", str(path)]) == 0
    assert "8 op x dtype checks (+ 8 jit checks, 0 graph breaks)" in capsys.readouterr().out
    jit = [r for r in json.loads(path.read_text())["results"] if r.get("mode") == "jit"]
    assert len(jit) == 8 and {r["status"] for r in jit} == {"pass"}
    assert all(r["samples"] == 2 and not r.get("graph_breaks") for r in jit)

# ---- the command and the pytest plugin ------------------------------------------------------
# an entry whose function reads its data into NumPy while traced: a graph break the CLI and the
# pytest plugin must list (no entry of the op database breaks any more: _fused_adam_'s break, "a read
# of tensor data follows an in-place write" into a gradient it only reads, went with 3118a97)
_BREAKING_ENTRY = """
import numpy as np
import plugtorch as pt
from plugtorch.conformance import Entry, Input, Sample, opdb
def numpy_scaled(x):
    return x * float(x.detach().abs().max().numpy())
opdb.register(Entry("test.numpy_scaled", samples=lambda ctx: [Sample(Input(np.array([1.0, -2.0, 3.0], np.float32)))],
                    fn=numpy_scaled, dtypes=(pt.float32,), differentiable=False), replace=True)
"""


def test_cli_jit_flag(tmp_path, capsys, monkeypatch):
    path = tmp_path / "r.json"
    monkeypatch.setattr(opdb, "ENTRIES", dict(opdb.ENTRIES))
    exec(_BREAKING_ENTRY, {})
    # (LBFGS's two steps with a line search compile since afd6749: its graph break was a symptom of
    # the functionalization bug, whose replay made the second call's reads differ)
    assert cli.main(["--backend", "cpu", "--op", "neg,optim.LBFGS,_fused_adam_,test.numpy_scaled", "--dtype",
                     "float32", "--max-examples", "1", "--jit", "--report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "backend cpu (jit)" in out and "graph breaks on cpu (jit)" in out and "test.numpy_scaled [float32]" in out
    assert "4 op x dtype checks (+ 4 jit checks," in out
    doc = json.loads(path.read_text())
    assert doc["meta"]["jit"] is True
    jit = {r["op"]: r for r in doc["results"] if r.get("mode") == "jit"}
    assert {jit[n]["status"] for n in ("neg", "optim.LBFGS", "_fused_adam_")} == {"pass"}
    assert jit["test.numpy_scaled"]["status"] == "graph break"
    assert jit["test.numpy_scaled"]["graph_breaks"][0]["reason"].startswith("numpy()")
    assert doc["summary"]["cpu (jit)"]["graph break"] == 1


def test_cli_jit_failure_exits_1_with_the_rerun_command(fusing, capsys):
    name = fusing("loses -0.0")
    assert cli.main(["--backend", name, "--op", "nan_to_num", "--dtype", "float32", "--max-examples", "0", "--jit"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {name} (jit) nan_to_num [float32]" in out and "1 FAILED" in out
    assert f"rerun: plugtorch-conformance --backend {name} --op 'nan_to_num' --dtype float32 --sample" in out
    assert "--jit" in out.split("rerun:")[1].splitlines()[0]


def test_without_jit_nothing_is_traced(monkeypatch):
    def no_tracing(*a, **k):
        raise AssertionError("traced without --jit")
    monkeypatch.setattr(pt.jit, "trace", no_tracing)
    results = run(["cpu"], opdb.select(["neg"]), [pt.float32], max_examples=1)
    assert [r.mode for r in results] == ["eager"] and results[0].status == PASS


def test_pytest_plugin_jit_items():
    import subprocess
    import sys
    from .test_conformance_cli import ROOT
    args = ["conformance", "--backend", "cpu", "--op", "neg,optim.LBFGS,_fused_adam_,test.numpy_scaled", "--dtype",
            "float32", "--max-examples", "1", "--jit", "-p", "no:cacheprovider", "-rA"]
    code = _BREAKING_ENTRY + f"\nimport sys, pytest\nsys.exit(pytest.main({args!r}))\n"
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    for name in ("neg", "optim.LBFGS", "_fused_adam_"):
        assert f"PASSED conformance/test_backends.py::test_conformance[cpu-jit-{name}-float32]" in p.stdout
    assert "7 passed, 1 skipped" in p.stdout and "graph break in " in p.stdout
    assert "graph break in 1 samples: numpy()" in p.stdout
