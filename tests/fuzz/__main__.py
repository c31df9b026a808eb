"""``python -m tests.fuzz``: fuzz for a number of rounds or minutes, or replay one call.

    python -m tests.fuzz --seed 7 --minutes 20            # every op in turn, until 20 minutes pass
    python -m tests.fuzz --rounds 50 --op 'index*'        # 50 calls of each op matching the glob
    python -m tests.fuzz --op gather --call-seed 123456   # replay one call (the line a failure prints)

Exits 1 when a failure is not in KNOWN_FAILURES (or the fuzzer itself failed).
"""
from __future__ import annotations

import argparse
import json
import sys

from . import runner
from .known_failures import KNOWN_FAILURES


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--rounds", type=int, help="calls per op")
    budget.add_argument("--minutes", type=float, help="run until this much time has passed")
    p.add_argument("--op", action="append", metavar="GLOB", help="only ops matching (repeatable)")
    p.add_argument("--backend", action="append", metavar="NAME", help="backends besides cpu (default: all available)")
    p.add_argument("--backend-rounds", action="append", default=[], metavar="NAME=N",
                   help="run backend NAME only in the first N rounds (kernel compilation is slow)")
    p.add_argument("--call-seed", type=int, help="replay the call of --op with this seed")
    p.add_argument("--brief", action="store_true", help="one line per failure kind")
    p.add_argument("--json", metavar="FILE", help="write the failures as JSON")
    a = p.parse_args(argv)

    if a.call_seed is not None:
        if not a.op or len(a.op) != 1:
            p.error("--call-seed needs exactly one --op")
        call, failures = runner.replay(a.op[0], a.call_seed, a.backend)
        print(call.describe())
        for f in failures:
            print(f"{f.kind}\n    {f.detail}")
        print("no failure" if not failures else f"{len(failures)} failure(s)")
        return 1 if failures else 0

    limits = {}
    for item in a.backend_rounds:
        name, _, n = item.partition("=")
        limits[name] = int(n)
    rounds = a.rounds if a.rounds is not None or a.minutes is not None else 1

    def progress(i, report):
        print(f"round {i}: {report.calls} calls, {len(report.failures)} failure kinds, "
              f"{report.seconds:.0f} s", file=sys.stderr, flush=True)

    report = runner.run(a.seed, rounds=rounds, seconds=None if a.minutes is None else 60 * a.minutes, ops=a.op,
                        backends=a.backend, backend_rounds=limits, progress=progress)
    print(runner.summary(report, KNOWN_FAILURES, detail=not a.brief))
    new, fixed = runner.compare_known(report, KNOWN_FAILURES)
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{"op": k[0], "kind": k[1], "calls": report.counts[k], "known": k in KNOWN_FAILURES,
                        "call": fs[0].call.describe(), "detail": fs[0].detail, "replay": fs[0].call.repro()}
                       for k, fs in sorted(report.failures.items())], f, indent=1)
    for op, kind in fixed:
        print(f"[fixed] {op}: {kind}  (in KNOWN_FAILURES, no longer fails: delete it there)")
    print(f"{len(new)} new failure kind(s), {len(fixed)} known failure(s) fixed, {len(report.broken)} fuzzer error(s)")
    return 1 if new or report.broken else 0


if __name__ == "__main__":
    sys.exit(main())
