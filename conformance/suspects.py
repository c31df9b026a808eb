"""Which kernel to fix first: failures grouped by the kernels that ran in the failing samples.

A broken kernel takes down its own entry and every entry whose forward or backward calls it
(a wrong ``mul`` fails ``mul``, ``div``'s gradient, ``nn.Linear`` ...). Each failure records the
kernels that ran on the device for its sample (``Failure.kernels``); a kernel is a suspect of
every failing entry that ran it. Suspects are ranked: first the kernels whose own entry fails
too (prime suspects), then those whose entry this run did not check, then those whose entry
passes (they ran, but work on their own); within each, the one taking down the most failing
entries first. The jit mode's failures (a replay differing from eager on the same backend) are
about the graph, not a kernel: they are listed apart, under no suspect.

>>> from plugtorch.conformance.runner import Failure, Result
>>> rs = [Result("x", "mul", "float32", "FAIL", failures=[Failure("forward", "", "", kernels=["mul"])]),
...       Result("x", "div", "float32", "FAIL", failures=[Failure("gradient", "", "", kernels=["div", "mul"])])]
>>> [(s.kernel, s.entries) for s in suspects(rs)]
[('mul', ['mul', 'div']), ('div', ['div'])]
"""
from __future__ import annotations

from dataclasses import dataclass

from plugtorch.dispatch.registry import OPS

from . import opdb
from .runner import FAIL

UNCHECKED = "not checked"
OWN_RANK = {FAIL: 0, UNCHECKED: 1}      # any other status of the kernel's own entry: 2


@dataclass
class Suspect:
    """A kernel that ran in the failing samples of ``entries`` on ``backend``."""

    backend: str
    kernel: str
    own: str           # the status of the kernel's own entry in this run (FAIL, pass ...) or UNCHECKED
    entries: list      # the failing entries (names) whose failing samples ran the kernel


def _op_of(entry_name):
    e = opdb.ENTRIES.get(entry_name)
    return e.op if e is not None else entry_name


def kernels_of(result) -> list:
    """The kernels that ran in ``result``'s failing samples, first-seen order; an entry whose
    failures recorded none (error inputs, unsupported dtypes) counts its own op's kernel."""
    seen = {}
    for f in result.failures:
        for k in getattr(f, "kernels", None) or ():
            seen.setdefault(k, None)
    if not seen and _op_of(result.op) in OPS:
        seen[_op_of(result.op)] = None
    return list(seen)


def suspects(results) -> list:
    """Every kernel of the failing samples, per backend, prime suspects and the most
    depended-on first (see the module docstring)."""
    out = []
    for backend in dict.fromkeys(r.backend for r in results):
        rs = [r for r in results if r.backend == backend and r.mode == "eager"]
        own = {}
        for r in rs:        # a kernel's own entries: those testing the op of that name
            k = _op_of(r.op)
            own[k] = FAIL if FAIL in (own.get(k), r.status) else r.status
        users = {}
        for r in rs:
            if r.status == FAIL:
                for k in kernels_of(r):
                    entries = users.setdefault(k, [])
                    if r.op not in entries:
                        entries.append(r.op)
        order = list(users)
        ranked = sorted(users, key=lambda k: (OWN_RANK.get(own.get(k, UNCHECKED), 2), -len(users[k]), order.index(k)))
        out += [Suspect(backend, k, own.get(k, UNCHECKED), users[k]) for k in ranked]
    return out


def groups(results) -> list:
    """``(Suspect or None, [failing Results])``: each failing result under the highest-ranked
    suspect among the kernels it ran (None: it ran none that was recorded), suspects in rank order."""
    ranked = suspects(results)
    by_kernel = {(s.backend, s.kernel): (s, []) for s in ranked}
    unattributed = []
    for r in results:
        if r.status != FAIL:
            continue
        mine = set(kernels_of(r)) if r.mode == "eager" else set()
        top = next((s for s in ranked if s.backend == r.backend and s.kernel in mine), None)
        (by_kernel[top.backend, top.kernel][1] if top is not None else unattributed).append(r)
    out = [(s, rs) for s, rs in by_kernel.values() if rs]
    return out + ([(None, unattributed)] if unattributed else [])


def brief(results, n: int = 5) -> str:
    """Console lines: the top ``n`` suspects per backend and what each takes down."""
    lines = []
    ranked = suspects(results)
    for backend in dict.fromkeys(s.backend for s in ranked):
        ss = [s for s in ranked if s.backend == backend]
        lines.append(f"suspect kernels on {backend} (fix the first ones first; a kernel is listed with the "
                     "failing entries whose failing samples ran it):")
        for s in ss[:n]:
            lines.append(f"  {s.kernel:<20} {describe_own(s):<22} takes down {len(s.entries)}: {names(s.entries)}")
        if len(ss) > n:
            lines.append(f"  ... {len(ss) - n} more kernels ran in failing samples (--report out.md lists them all)")
    return "\n".join(lines)


def describe_own(s: Suspect) -> str:
    if s.own == FAIL:
        return "its own entry FAILS"
    if s.own == UNCHECKED:
        return "own entry not checked"
    return f"own entry {s.own}"


def names(entries, n: int = 8) -> str:
    return ", ".join(entries[:n]) + (f" (+{len(entries) - n} more)" if len(entries) > n else "")
