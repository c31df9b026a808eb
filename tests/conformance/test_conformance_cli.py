"""The database covers the registry, samples are deterministic, and the command and reports work."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.conformance import Entry, Input, Sample, cli, opdb, report, run, tolerances
from plugtorch.conformance.samples import SampleContext
from plugtorch.dispatch.registry import OPS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_registered_op_has_an_entry():
    assert opdb.missing() == [], f"add conformance entries (conformance/opdb/) for {opdb.missing()}"
    assert set(OPS) <= set(opdb.ENTRIES)


def test_entries_follow_the_registry():
    for name, e in opdb.ENTRIES.items():
        assert e.dtypes, name
        if name in OPS:
            # (_layer_norm_backward, _gelu_backward, _depthwise_conv2d_weight_grad: their cpu kernels and their decompositions, which
            # run when their inputs require grad, round differently, so a graph traced with grad
            # replays other bits than eager without; their entries check them forward only, their
            # gradients are gradcheck's)
            assert e.differentiable == OPS[name].differentiable or name in (
                "copy_", "bernoulli", "_layer_norm_backward", "_gelu_backward", "_depthwise_conv2d_weight_grad"), name


def test_samples_cover_the_edge_cases():
    e = opdb.get("add")
    samples = list(e.samples(SampleContext(pt.float32, seed=0, max_examples=8, key="add")))
    shapes = [tuple(i.shape) for s in samples for i in s.inputs()]
    layouts = {i.layout for s in samples for i in s.inputs()}
    assert () in shapes and any(0 in sh for sh in shapes) and any(1 in sh for sh in shapes)
    assert {"contiguous", "transposed", "stepped", "expanded"} <= layouts
    values = np.concatenate([i.values.ravel().astype(np.float64) for s in samples for i in s.inputs()])
    assert np.isnan(values).any() and np.isinf(values).any() and (np.signbit(values) & (values == 0)).any()
    assert np.abs(values[np.isfinite(values)]).max() > 1e3          # large magnitudes
    assert (np.abs(values[values != 0]) < 1e-3).any()                # tiny magnitudes
    assert any(i.on_cpu for s in samples for i in s.inputs())       # a 0-d cpu tensor beside the device
    assert any(not isinstance(a, Input) for s in samples for a in s.args)  # Python scalars


def _described(seed, n=6):
    ctx = SampleContext(pt.float32, seed=seed, max_examples=n, key="sum")
    return [(s.describe(), [i.values.tobytes() for i in s.inputs()]) for s in opdb.get("sum").samples(ctx)]


def test_samples_are_fixed_by_the_seed():
    assert _described(0) == _described(0)
    assert _described(0) != _described(1)


def test_inputs_are_non_contiguous_on_the_device():
    ctx = SampleContext(pt.float32, key="t")
    assert not ctx.input((3, 4), layout="transposed").make("cpu").is_contiguous()
    assert not ctx.input((3, 4), layout="stepped").make("cpu").is_contiguous()
    x = ctx.input((3, 4), layout="expanded")
    t = x.make("cpu")
    assert 0 in t.stride() and t.shape == (3, 4)
    np.testing.assert_array_equal(t.numpy(), x.logical())


def test_reduction_tolerances_grow_with_length_and_magnitude():
    assert tolerances.default(pt.float32) == (1.3e-6, 1e-5)
    assert tolerances.default(pt.int64) == (0.0, 0.0)
    r1, a1 = tolerances.for_reduction(pt.float32, 10, 1.0)
    r2, a2 = tolerances.for_reduction(pt.float32, 1000, 1.0)
    assert 1.3e-6 < r1 < r2 and 1e-5 < a1 < a2
    assert r2 == pytest.approx(1.3e-6 + 1000 * 2 ** -24)
    assert tolerances.for_reduction(pt.int32, 1000, 9.0) == (0.0, 0.0)   # integer sums are exact
    assert tolerances.for_reduction(pt.float32, 1, 5.0) == (1.3e-6, 1e-5)


def test_an_entry_for_a_module_like_callable_fits():
    # later issues add nn modules and optimizers: a name, samples, a callable and dtypes
    def linear(x, w, b):
        return pt.matmul(x, w.t()) + b
    e = Entry("linear_module", fn=linear, dtypes=(pt.float32,), differentiable=True,
              samples=lambda ctx: [Sample(ctx.input((4, 3)), ctx.input((2, 3)), ctx.input((2,)), reduction_length=3)])
    (r,) = run(["cpu"], [e])
    assert r.status == "pass" and r.samples == 1


def test_cli_list_and_run(tmp_path, capsys):
    assert cli.main(["--list", "--op", "log*"]) == 0
    out = capsys.readouterr().out
    assert "log1p" in out and "log_softmax" in out and "backends: cpu (ok)" in out
    path = tmp_path / "r.json"
    assert cli.main(["--backend", "cpu", "--op", "neg,amax", "--dtype", "float32", "int64",
                     "--max-examples", "2", "--seed", "3", "--report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "backend cpu" in out and "no failures" in out
    doc = json.loads(path.read_text())
    assert {(r["op"], r["dtype"], r["status"]) for r in doc["results"]} == {
        ("neg", "float32", "pass"), ("neg", "int64", "pass"), ("amax", "float32", "pass"), ("amax", "int64", "pass")}
    assert doc["meta"]["seed"] == 3 and doc["summary"]["cpu"]["pass"] == 4


def test_cli_exits_1_on_failure_with_a_markdown_report(tmp_path, capsys):
    from plugtorch.backends.cpu import CPUBackend

    class Broken(CPUBackend):
        def __init__(self):
            super().__init__()
            self.kernels = dict(self.kernels, exp=lambda x, dtype: np.asarray(np.exp(x).astype(dtype.numpy) + 1))
    pt.backends.register(Broken(), name="brokenexp")
    try:
        path = tmp_path / "r.md"
        assert cli.main(["--backend", "brokenexp", "--op", "exp", "--dtype", "float32", "--report", str(path)]) == 1
    finally:
        pt.backends.unregister("brokenexp")
    out = capsys.readouterr().out
    assert "FAIL brokenexp exp [float32]" in out and "max error" in out and "1 FAILED" in out
    md = path.read_text()
    assert "| `exp` | **FAIL** |" in md and "## First mismatch of each failing op" in md


def test_cli_jobs_check_backends_in_separate_processes(capsys):
    assert cli.main(["--backend", "cpu", "strict", "--op", "neg", "--dtype", "float32", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    for b in ("cpu", "strict"):   # each child's table, in the order of the groups, with its status
        assert f"==== plugtorch-conformance --backend {b} (exit status 0) ====" in out
        assert f"1 op x dtype checks on {b} in" in out
    # the worst status of the children is the run's: a usage error in each is 2
    assert cli._run_jobs(["--op", "zzz*"], [["cpu"], ["strict"]]) == 2
    assert "(exit status 2)" in capsys.readouterr().out


def test_cli_jobs_group_accelerators_apart():
    assert cli._groups(["cpu", "opencl", "strict"], 2) == [["opencl"], ["cpu", "strict"]]
    assert cli._groups(["cpu", "opencl", "strict"], 8) == [["opencl"], ["cpu"], ["strict"]]
    assert cli._groups(["cpu", "opencl", "cuda", "strict"], 2) == [["opencl", "cpu"], ["cuda", "strict"]]
    argv = ["--jit", "--backend", "cpu", "strict", "--jobs", "2", "--op", "neg"]
    assert cli._without(cli._without(argv, "--jobs"), "--backend", nargs_plus=True) == ["--jit", "--op", "neg"]
    assert cli._without(["--jobs=2", "--jit"], "--jobs") == ["--jit"]


def test_cli_usage_errors_exit_2(capsys):
    for argv, msg in ((["--jobs", "0", "--op", "neg"], "--jobs must be at least 1"),
                      (["--jobs", "2", "--backend", "cpu", "strict", "--op", "neg", "--report", "r.md"],
                       "--report writes one file"),
                      (["--backend", "nosuchdev"], "no such backend"), (["--op", "zzz*"], "no entry matches"),
                      (["--dtype", "float8"], "unknown dtype"), (["--report", "out.txt", "--op", "neg"], ".json or .md"),
                      (["--sample", "-1", "--op", "neg"], "--sample -1: sample numbers start at 0"),
                      (["--plugin", "mypkg.MyBackend"], "--plugin mypkg.MyBackend: no colon")):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 2
        assert msg in capsys.readouterr().err


def test_report_table_lists_every_status():
    from plugtorch.conformance.runner import Failure, Result
    rs = [Result("x", "add", "float32", "pass"), Result("x", "add", "float64", "unsupported"),
          Result("x", "exp", "float32", "via fallback"), Result("x", "mean", "float32", "via decomposition"),
          Result("x", "neg", "float32", "FAIL", failures=[Failure("forward", "(float32[2])", "bad", 0.5)])]
    text = report.table(rs)
    for cell in ("ok", "unsup", "fallbk", "decomp", "FAIL"):
        assert cell in text
    assert "FAIL x neg [float32]" in report.failure_text(rs) and "max error 0.5" in report.failure_text(rs)


def test_pytest_runs_the_suite_as_items():
    p = subprocess.run([sys.executable, "-m", "pytest", "conformance", "--backend", "cpu", "--op", "neg", "--op", "exp",
                        "--max-examples", "2", "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "19 passed" in p.stdout
