"""Reports group failures by the kernel to suspect: for each kernel that ran in failing samples
(``Failure.kernels``), the failing entries it takes down; prime suspects (their own entry fails
too) first, the most depended-on first."""
from __future__ import annotations

import json

from plugtorch.conformance import report
from plugtorch.conformance.runner import FAIL, PASS, Failure, Result
from plugtorch.conformance.suspects import UNCHECKED, groups, suspects


def _fail(op, kernels, check="gradient", index=3, backend="dev"):
    f = Failure(check, "(float32[4, 3])", f"{op} is wrong", 0.5, index=index, kernels=kernels,
                rerun=f"plugtorch-conformance --backend {backend} --op '{op}' --dtype float32 --sample {index}")
    return Result(backend, op, "float32", FAIL, samples=8, failures=[f])


def _run():
    """A broken threshold_backward takes down relu's and nn.ReLU's gradients; a broken
    _linear_backward takes down linear and nn.Linear; sum ran everywhere but passes itself."""
    return [
        Result("dev", "sum", "float32", PASS),
        _fail("relu", ["relu", "threshold_backward", "sum"]),
        _fail("nn.Linear", ["linear", "_linear_backward", "sum"]),
        _fail("threshold_backward", ["threshold_backward"], check="forward", index=0),
        _fail("nn.ReLU", ["relu", "threshold_backward", "threshold_backward", "sum"]),
        Result("dev", "nn.Linear", "float64", FAIL, failures=[Failure("gradient", "(float64[2])", "also", index=1,
                                                                       kernels=["linear", "_linear_backward"])]),
        _fail("linear", ["linear", "_linear_backward", "sum"]),
        _fail("mystery_module", [], check="crash", index=0),         # no kernels recorded, not a registry op
        _fail("neg", ["neg"], backend="other"),
    ]


def test_suspects_rank_own_failures_then_most_depended_on():
    ranked = [(s.backend, s.kernel, s.own, s.entries) for s in suspects(_run())]
    assert ranked == [
        ("dev", "threshold_backward", FAIL, ["relu", "threshold_backward", "nn.ReLU"]),
        ("dev", "relu", FAIL, ["relu", "nn.ReLU"]),
        ("dev", "linear", FAIL, ["nn.Linear", "linear"]),
        ("dev", "_linear_backward", UNCHECKED, ["nn.Linear", "linear"]),
        ("dev", "sum", PASS, ["relu", "nn.Linear", "nn.ReLU", "linear"]),   # ran in 4, but passes on its own
        ("other", "neg", FAIL, ["neg"]),
    ]


def test_groups_put_each_failure_under_its_top_suspect():
    got = [(None if s is None else (s.backend, s.kernel), [(r.op, r.dtype) for r in rs]) for s, rs in groups(_run())]
    assert got == [
        (("dev", "threshold_backward"), [("relu", "float32"), ("threshold_backward", "float32"), ("nn.ReLU", "float32")]),
        (("dev", "linear"), [("nn.Linear", "float32"), ("nn.Linear", "float64"), ("linear", "float32")]),
        (("other", "neg"), [("neg", "float32")]),
        (None, [("mystery_module", "float32")]),
    ]


def test_a_failure_without_kernels_counts_its_own_op():
    (s,) = suspects([Result("dev", "exp", "float32", FAIL, failures=[Failure("error input", "(x)", "m")])])
    assert (s.kernel, s.own, s.entries) == ("exp", FAIL, ["exp"])


def test_markdown_report_lists_suspects_and_groups_failures_with_reruns():
    md = report.to_markdown(_run())
    assert "## Suspect kernels, most failing entries first" in md
    assert "| dev | `threshold_backward` | **FAIL** | 3: `relu`, `threshold_backward`, `nn.ReLU` |" in md
    assert "| dev | `_linear_backward` | not checked | 2: `nn.Linear`, `linear` |" in md
    assert "| dev | `sum` | pass | 4: `relu`, `nn.Linear`, `nn.ReLU`, `linear` |" in md
    heads = [line for line in md.splitlines() if line.startswith("### ")]
    assert heads == ["### `threshold_backward` on dev (its own entry FAILS; takes down 3: relu, threshold_backward, nn.ReLU)",
                     "### `linear` on dev (its own entry FAILS; takes down 2: nn.Linear, linear)",
                     "### `neg` on other (its own entry FAILS; takes down 1: neg)",
                     "### No kernels recorded"]
    linear = md[md.index("### `linear` on dev"):md.index("### `neg` on other")]
    assert "#### dev `nn.Linear` (float32, float64)" in linear and "#### dev `linear` (float32)" in linear
    assert "sample 3, gradient, max error 0.5: `(float32[4, 3])`" in linear
    assert "kernels that ran: `linear`, `_linear_backward`, `sum`" in linear
    assert "rerun: `plugtorch-conformance --backend dev --op 'linear' --dtype float32 --sample 3`" in linear


def test_json_report_has_suspects_kernels_and_reruns():
    doc = json.loads(report.to_json(_run()))
    assert doc["suspects"][0] == {"backend": "dev", "kernel": "threshold_backward", "own_entry": FAIL,
                                  "takes_down": ["relu", "threshold_backward", "nn.ReLU"]}
    relu = next(r for r in doc["results"] if r["op"] == "relu")
    assert relu["failures"][0]["kernels"] == ["relu", "threshold_backward", "sum"]
    assert relu["failures"][0]["index"] == 3 and relu["failures"][0]["rerun"].endswith("--sample 3")


def test_console_text_orders_failures_by_suspect_and_ends_with_the_suspects():
    text = report.failure_text(_run())
    order = [line.split(" [")[0] for line in text.splitlines() if line.startswith("FAIL ")]
    assert order == ["FAIL dev relu", "FAIL dev threshold_backward", "FAIL dev nn.ReLU", "FAIL dev nn.Linear",
                     "FAIL dev linear", "FAIL other neg", "FAIL dev mystery_module"]
    assert "rerun: plugtorch-conformance --backend dev --op 'relu' --dtype float32 --sample 3" in text
    assert "kernels that ran: relu, threshold_backward, sum" in text
    brief = text[text.index("suspect kernels on dev"):]
    lines = brief.splitlines()
    assert lines[1].split() == ["threshold_backward", "its", "own", "entry", "FAILS", "takes", "down", "3:", "relu,",
                                "threshold_backward,", "nn.ReLU"]
    assert "... 0 more" not in brief and "suspect kernels on other" in brief
