"""Reports: a text table of ops x dtypes per backend, the failing ops grouped by the kernel to
suspect (suspects.py), the first mismatch of each with its rerun command, and the same as JSON
or Markdown. The jit mode's results (``Result.mode == "jit"``) get their own table per backend,
labelled "cpu (jit)", and the graph breaks are listed.

>>> print(table([Result("cpu", "neg", "float32", "pass", 3)]))   # doctest: +SKIP
"""
from __future__ import annotations

import json

from plugtorch import _dtypes

from . import suspects as _suspects
from .runner import (FAIL, GRAPH_BREAK, PASS, STATUSES, UNSUPPORTED, VIA_DECOMPOSITION, VIA_FALLBACK,  # noqa: F401
                     VIA_HOST, Result)

DTYPE_ORDER = [d.name for d in _dtypes.all_dtypes]
SHORT = {"bool": "b8", "uint8": "u8", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
         "float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64"}
CELL = {PASS: "ok", FAIL: "FAIL", UNSUPPORTED: "unsup", VIA_FALLBACK: "fallbk", VIA_DECOMPOSITION: "decomp",
        VIA_HOST: "host", GRAPH_BREAK: "break"}
LEGEND = "ok = pass, FAIL, unsup = unsupported dtype (raises TypeError), fallbk = via cpu fallback, " \
         "decomp = via decomposition, host = via host (no device kernel: declared by the backend, run through " \
         "host memory), . = dtype not in the entry"
JIT_LEGEND = "jit tables: ok = traced and compiled replays equal eager, break = a graph break (listed below)"


def label(r) -> str:
    """The table a result belongs to: its backend, "(jit)" added for the jit mode's results."""
    return r.backend if r.mode == "eager" else f"{r.backend} ({r.mode})"


def _grid(results):
    """{backend label: {op: {dtype: Result}}} in first-seen order."""
    grid = {}
    for r in results:
        grid.setdefault(label(r), {}).setdefault(r.op, {})[r.dtype] = r
    return grid


def _dtypes_used(rows):
    used = {d for row in rows.values() for d in row}
    return [d for d in DTYPE_ORDER if d in used] + sorted(used - set(DTYPE_ORDER))


def summary(results) -> dict:
    """Counts per status, per backend."""
    out = {}
    for r in results:
        c = out.setdefault(label(r), {s: 0 for s in STATUSES})
        c[r.status] = c.get(r.status, 0) + 1
    return out


def failures(results) -> list:
    """(backend label, op, [dtypes], first Failure) for every failing op."""
    seen = {}
    for r in results:
        if r.status == FAIL:
            key = (label(r), r.op)
            if key not in seen:
                seen[key] = [label(r), r.op, [], r.failures[0] if r.failures else None]
            seen[key][2].append(r.dtype)
    return [tuple(v) for v in seen.values()]


def table(results) -> str:
    """The text table: one row per op, one column per dtype, per backend."""
    lines = []
    for backend, rows in _grid(results).items():
        cols = _dtypes_used(rows)
        width = max([len(op) for op in rows] + [2])
        lines.append(f"backend {backend}")
        lines.append(" " * width + "  " + " ".join(f"{SHORT.get(c, c):>6}" for c in cols))
        for op, row in rows.items():
            cells = [CELL[row[c].status] if c in row else "." for c in cols]
            lines.append(f"{op:<{width}}  " + " ".join(f"{x:>6}" for x in cells))
        counts = summary(results)[backend]
        lines.append("  ".join(f"{k}: {v}" for k, v in counts.items() if v) + "\n")
    lines.append(LEGEND)
    if any(r.mode != "eager" for r in results):
        lines.append(JIT_LEGEND)
    return "\n".join(lines)


def graph_breaks(results) -> str:
    """The jit mode's graph breaks: per backend, each op with its dtypes, how many samples broke
    and the tracer's reason (the first sample's)."""
    per = {}
    for r in results:
        for index, reason in r.breaks:
            op = per.setdefault(label(r), {}).setdefault(r.op, {"dtypes": [], "samples": 0, "reasons": {}})
            if r.dtype not in op["dtypes"]:
                op["dtypes"].append(r.dtype)
            op["samples"] += 1
            op["reasons"].setdefault(reason, index)
    lines = []
    for backend, ops in per.items():
        n = sum(o["samples"] for o in ops.values())
        lines.append(f"graph breaks on {backend}: {len(ops)} entries, {n} samples (Python read tensor data while "
                     "tracing; the replay was not compared, compile ran the call eagerly):")
        for op, o in ops.items():
            reasons = "; ".join(f"{why} (sample {i})" for why, i in list(o["reasons"].items())[:2])
            lines.append(f"  {op} [{', '.join(o['dtypes'])}] {o['samples']} samples: {reasons}")
    return "\n".join(lines)


def failure_text(results) -> str:
    """Each failing op (dtypes grouped, ordered by suspect kernel) with its first failure's check,
    sample, message, the kernels that ran and the rerun command; then the suspect kernels."""
    parts = []
    for backend, op, dts, f in failures(_by_suspect(results)):
        head = f"FAIL {backend} {op} [{', '.join(dts)}]"
        body = "" if f is None else "\n  " + str(f).replace("\n", "\n  ")
        if f is not None and f.kernels and "kernels that ran" not in f.message:
            body += "\n  kernels that ran: " + _suspects.names(list(dict.fromkeys(f.kernels)), 12)
        parts.append(head + body)
    brief = _suspects.brief(results)
    return "\n\n".join(parts + ([brief] if brief else []))


def _by_suspect(results):
    """The failing results in the order of their suspect kernels (suspects.groups)."""
    return [r for _, rs in _suspects.groups(results) for r in rs]


def slowest(results, n: int = 5) -> str:
    """The entries that took longest per backend (kernel compilation shows up here)."""
    per = {}
    for r in results:
        per.setdefault(label(r), {}).setdefault(r.op, 0.0)
        per[label(r)][r.op] += r.seconds
    return "\n".join(f"slowest on {b}: " + ", ".join(f"{op} {t:.1f}s" for op, t in
                                                      sorted(ops.items(), key=lambda kv: -kv[1])[:n])
                     for b, ops in per.items())


def to_json(results, meta=None) -> str:
    """The run as JSON: ``meta`` (backend, versions ...), the summary counts and one record per result."""
    doc = {"meta": meta or {}, "summary": summary(results),
           "suspects": [{"backend": s.backend, "kernel": s.kernel, "own_entry": s.own, "takes_down": s.entries}
                        for s in _suspects.suspects(results)],
           "results": [{"backend": r.backend, "op": r.op, "dtype": r.dtype, "status": r.status,
                        "samples": r.samples, "skipped": r.skipped, "seconds": round(r.seconds, 4),
                        "fallbacks": list(getattr(r, "fallbacks", [])), "host": list(getattr(r, "host_ops", [])),
                        **({"mode": r.mode, "graph_breaks": [{"index": i, "reason": why} for i, why in r.breaks]}
                           if r.mode != "eager" else {}),
                        "failures": [{"check": f.check, "sample": f.sample, "index": f.index, "message": f.message,
                                      "max_error": f.max_error, "kernels": list(f.kernels), "rerun": f.rerun}
                                     for f in r.failures]} for r in results]}
    return json.dumps(doc, indent=1)


def to_markdown(results, meta=None) -> str:
    """The run as a Markdown report: summary, the op x dtype table and the failures."""
    out = ["# plugtorch conformance report", ""]
    if meta:
        out += [", ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in meta.items()), ""]
    for backend, rows in _grid(results).items():
        cols = _dtypes_used(rows)
        counts = summary(results)[backend]
        out += [f"## {backend}", "", ", ".join(f"{k}: {v}" for k, v in counts.items() if v), "",
                "| op | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for op, row in rows.items():
            cells = [("**FAIL**" if row[c].status == FAIL else row[c].status) if c in row else "" for c in cols]
            out.append(f"| `{op}` | " + " | ".join(cells) + " |")
        out.append("")
    breaks = graph_breaks(results)
    if breaks:
        out += ["## Graph breaks", "", "```", breaks, "```", ""]
    out += _markdown_suspects(results)
    return "\n".join(out)


def _markdown_suspects(results):
    """The suspect-kernel table and each failing op's first mismatch, grouped by suspect."""
    groups = _suspects.groups(results)
    if not groups:
        return []
    out = ["## Suspect kernels, most failing entries first", "",
           "A kernel that ran in the failing samples of several entries takes them all down: fix the "
           "first rows first (a kernel whose own entry fails too is the prime suspect).", "",
           "| backend | kernel | its own entry | failing entries that ran it |", "|---|---|---|---|"]
    for s in _suspects.suspects(results):
        own = "**FAIL**" if s.own == FAIL else s.own
        out.append(f"| {s.backend} | `{s.kernel}` | {own} | {len(s.entries)}: "
                   + ", ".join(f"`{e}`" for e in s.entries) + " |")
    out += ["", "## First mismatch of each failing op, by suspect kernel", ""]
    for suspect, rs in groups:
        if suspect is None:
            out += ["### No kernels recorded", ""]
        else:
            out += [f"### `{suspect.kernel}` on {suspect.backend} ({_suspects.describe_own(suspect)}; takes down "
                    f"{len(suspect.entries)}: {', '.join(suspect.entries)})", ""]
        for backend, op, dts, f in failures(rs):
            out += [f"#### {backend} `{op}` ({', '.join(dts)})", ""]
            if f is not None:
                err = "" if f.max_error is None else f", max error {f.max_error:.3g}"
                num = "" if f.index is None else f"sample {f.index}, "
                out += [f"{num}{f.check}{err}: `{f.sample}`", "", "```", f.message, "```", ""]
                if f.kernels and "kernels that ran" not in f.message:
                    out += ["kernels that ran: " + ", ".join(f"`{k}`" for k in dict.fromkeys(f.kernels)), ""]
                if f.rerun:
                    out += [f"rerun: `{f.rerun}`", ""]
    return out


def write(path: str, results, meta=None) -> None:
    """Write a ``.json`` or ``.md`` report."""
    if path.endswith(".json"):
        text = to_json(results, meta)
    elif path.endswith(".md"):
        text = to_markdown(results, meta)
    else:
        raise ValueError(f"--report {path}: the report path must end in .json or .md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
