"""A fuzzing run: calls for every op in turn, until a number of rounds or a time budget.

Round ``i`` makes one call per op with seed ``call_seed(run_seed, op, i)``, so the calls of an
op do not change when other ops are added, and any call replays alone from ``(op, seed)``.
Failures are grouped by ``(op, kind)``; the first call of each group is its reproduction.

>>> report = run(0, rounds=1, ops=["neg"], backends=["cpu"])
>>> report.calls, report.failures
(1, {})
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field

import plugtorch as pt

from .generate import call_seed, fuzz_ops, make_call
from .oracle import check


def backends(names=None) -> list:
    """cpu first, then every other available backend (or the ``names`` given)."""
    names = list(names) if names else pt.backends.available()
    return ["cpu"] + [n for n in names if n != "cpu"]


KEPT = 3     # failures kept per (op, kind): a long run must not hold every failing call


@dataclass
class Report:
    seed: int
    backends: list
    calls: int = 0
    seconds: float = 0.0
    failures: dict = field(default_factory=dict)      # (op, kind) -> the first KEPT failures
    counts: dict = field(default_factory=dict)        # (op, kind) -> how many calls failed so
    broken: list = field(default_factory=list)         # the fuzzer's own errors: (op, seed, traceback)
    expected: dict = field(default_factory=dict)       # outcome -> number of calls ("valid", "error", "unknown")

    def add(self, failures):
        for f in failures:
            kept = self.failures.setdefault(f.key, [])
            if len(kept) < KEPT:
                kept.append(f)
            self.counts[f.key] = self.counts.get(f.key, 0) + 1


def run_call(report, op, seed, be) -> None:
    """Generate and check one call, recording its failures (or the fuzzer's own error) in ``report``."""
    try:
        call = make_call(op, seed)
    except Exception:
        report.broken.append((op, seed, "generating the call: " + traceback.format_exc(limit=4)))
        return
    report.calls += 1
    report.expected[call.expect.outcome] = report.expected.get(call.expect.outcome, 0) + 1
    try:
        report.add(check(call, be))
    except Exception:
        report.broken.append((op, seed, f"checking {call.describe()}: " + traceback.format_exc(limit=6)))


def run(seed: int, *, rounds: int | None = None, seconds: float | None = None, ops=None, backends=None,
        backend_rounds=None, progress=None) -> Report:
    """Fuzz ``ops`` (all by default) on ``backends`` for ``rounds`` rounds or ``seconds``.

    ``backend_rounds`` ({"opencl": 2}) limits a backend to the first rounds: a device backend
    compiles a kernel for each new op and dtype, which costs far more than the call itself."""
    from . import runner
    every = runner.backends(backends)
    limits = backend_rounds or {}
    names = fuzz_ops(ops)
    report = Report(seed, every)
    start = time.perf_counter()
    i = 0
    while (rounds is None or i < rounds) and names:
        be = [b for b in every if i < limits.get(b, i + 1)]
        for op in names:
            run_call(report, op, call_seed(seed, op, i), be)
            if seconds is not None and time.perf_counter() - start > seconds:
                break
        i += 1
        report.seconds = time.perf_counter() - start
        if progress is not None:
            progress(i, report)
        if seconds is not None and time.perf_counter() - start > seconds:
            break
    report.seconds = time.perf_counter() - start
    return report


def replay(op: str, seed: int, backends=None) -> tuple:
    """``(call, failures)`` of one call."""
    from . import runner
    call = make_call(op, seed)
    return call, check(call, runner.backends(backends))


def backend_of(kind: str) -> str:
    """The backend a failure kind belongs to: "opencl" for "opencl: ...", else cpu (all backends)."""
    head, sep, _ = kind.partition(": ")
    return head if sep and " " not in head else "cpu"


def compare_known(report, known) -> tuple:
    """``(new, fixed)``: failures not in ``known``, and entries of ``known`` this run could check
    (their backend took part) that no longer fail."""
    found = set(report.failures)
    new = sorted(found - set(known))
    fixed = sorted(k for k in known if k not in found and backend_of(k[1]) in report.backends)
    return new, fixed


def summary(report, known=None, detail=True) -> str:
    """A readable account of a run: counts, then one paragraph per (op, kind) with its replay line."""
    known = known or {}
    lines = [f"fuzzed {report.calls} calls in {report.seconds:.1f} s on {', '.join(report.backends)} "
             f"(seed {report.seed}; expected outcome: " +
             ", ".join(f"{n} {k}" for k, n in sorted(report.expected.items())) + ")"]
    for op, seed, tb in report.broken:
        lines.append(f"FUZZER ERROR {op} (replay: python -m tests.fuzz --op {op} --call-seed {seed})\n{tb}")
    for key in sorted(report.failures):
        fs, n = report.failures[key], report.counts[key]
        tag = "known" if key in known else "NEW"
        lines.append(f"[{tag}] {key[0]}: {key[1]}  ({n} call{'s' if n > 1 else ''})")
        if detail:
            f = fs[0]
            lines.append(f"    call: {f.call.describe()}\n    {f.detail}\n    replay: {f.call.repro()}")
    return "\n".join(lines)
