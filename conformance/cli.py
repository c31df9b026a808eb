"""``plugtorch-conformance``: check backends against cpu from the command line.

    plugtorch-conformance --backend opencl --op 'log*' --dtype float32 --report out.md
    plugtorch-conformance --plugin mypkg.backend:MyBackend      # a backend no entry point installs
    python -m plugtorch.conformance ...                         # the same

Exit status: 0 when nothing failed, 1 on any failure, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import sys
import time

import plugtorch as pt
from plugtorch import _dtypes

from . import opdb, plugin_spec, report
from .runner import FAIL, run


def _parser():
    p = argparse.ArgumentParser(
        prog="plugtorch-conformance",
        description="Check that a plugtorch backend computes what the cpu reference computes: forward "
                    "values, result shape/dtype/device, unmodified inputs, gradients, errors and "
                    "unsupported dtypes, for every op of the registry.")
    p.add_argument("--backend", nargs="+", metavar="NAME",
                   help="backends to check, or 'all' for every available one (default: the --plugin "
                        "backends if any, else all)")
    p.add_argument("--plugin", action="append", metavar="[NAME=]MODULE:ATTR",
                   help="register a backend no entry point installs: MODULE:ATTR names a Backend subclass, "
                        "instance or factory; its device type is NAME, else the backend's name attribute, else "
                        "the module's top-level package (repeatable)")
    p.add_argument("--op", action="append", metavar="PATTERN",
                   help="only entries whose name matches this glob (repeatable; commas separate several)")
    p.add_argument("--dtype", nargs="+", metavar="NAME", help="only these dtypes (e.g. float32 int64)")
    p.add_argument("--max-examples", type=int, default=6, metavar="N",
                   help="hypothesis-drawn samples per entry and dtype, besides the hand-picked ones (default: 6)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the drawn samples (default: 0)")
    p.add_argument("--sample", type=int, metavar="N",
                   help="only the N-th sample of each entry and dtype (the number a failure prints)")
    p.add_argument("--jit", action="store_true",
                   help="also trace and compile every sample on the backend and compare the replays with the "
                        "eager call there, forward and backward (rows marked 'jit'; graph breaks listed)")
    p.add_argument("--report", metavar="PATH", help="also write the results to PATH.json or PATH.md")
    p.add_argument("--list", action="store_true", help="list the entries and the available backends, and exit")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="check the backends in up to N processes at once (default: 1); each process prints its "
                        "own table, in the order of the backends, when all are done")
    return p


# a backend's share of a run, for grouping backends into processes: an accelerator backend spends
# its time building and first-launching kernels (PoCL's programs on a fresh machine), so it gets a
# process of its own before the others share theirs
_WEIGHT = {"opencl": 8, "cuda": 8}


def _groups(backends, jobs) -> list:
    """``backends`` split into at most ``jobs`` groups, heaviest first into the lightest group."""
    groups = [[] for _ in range(min(jobs, len(backends)))]
    load = [0] * len(groups)
    for b in sorted(backends, key=lambda b: -_WEIGHT.get(b, 1)):
        k = load.index(min(load))
        groups[k].append(b)
        load[k] += _WEIGHT.get(b, 1)
    return [g for g in groups if g]


def _run_jobs(argv, groups) -> int:
    """Run the suite once per group of backends in child processes (``argv`` without --backend and
    --jobs); print their outputs in turn; the worst exit status."""
    import subprocess
    import tempfile
    procs = []
    for g in groups:
        out = tempfile.TemporaryFile(mode="w+")
        cmd = [sys.executable, "-m", "plugtorch.conformance", *argv, "--backend", *g]
        procs.append((g, out, subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)))
    worst = 0
    for g, out, proc in procs:
        rc = proc.wait()
        out.seek(0)
        print(f"==== plugtorch-conformance --backend {' '.join(g)} (exit status {rc}) ====")
        sys.stdout.write(out.read())
        sys.stdout.flush()
        out.close()
        worst = max(worst, rc)
    return worst


def _without(argv, option, nargs_plus=False) -> list:
    """``argv`` without ``option`` and its value(s) (``--opt v``, ``--opt=v``, or ``--opt v1 v2 ...``)."""
    out, skip = [], False
    for a in argv:
        if skip:
            if nargs_plus and not a.startswith("-"):
                continue
            skip = False
            if not nargs_plus:
                continue
        if a == option:
            skip = True
            continue
        if a.startswith(option + "="):
            continue
        out.append(a)
    return out


def _backends(names, parser):
    available = pt.backends.available()
    if names == ["all"] or "all" in names:
        return available
    for n in names:
        if n not in _known():
            parser.error(f"--backend {n}: no such backend (known: {', '.join(_known())})")
        if n not in available:
            parser.error(f"--backend {n}: the backend is not available on this machine "
                         f"({_status(n)}); available: {', '.join(available)}")
    return names


def _plugins(specs, parser):
    """Register each ``--plugin`` backend; returns their device types."""
    names = []
    for spec in specs or []:
        try:
            names.append(plugin_spec.load(spec))
        except plugin_spec.PluginSpecError as e:
            parser.error(str(e))
    return names


def _known():
    return [b["name"] for b in pt.backends.list()]


def _status(name):
    for b in pt.backends.list():
        if b["name"] == name:
            return b["status"]
    return "unknown"


def _dtype_list(names, parser):
    if not names:
        return None
    out = []
    for n in names:
        try:
            out.append(_dtypes.to_dtype(n))
        except Exception:
            parser.error(f"--dtype {n}: unknown dtype (choose from {', '.join(d.name for d in _dtypes.all_dtypes)})")
    return out


def _list(entries):
    for e in entries:
        print(f"{e.name:<22} {'grad' if e.differentiable else '    '}  {' '.join(d.name for d in e.dtypes)}")
    print(f"\n{len(entries)} entries; backends: " + ", ".join(
        f"{b['name']} ({b['status']})" for b in pt.backends.list()))


def main(argv=None) -> int:
    """``plugtorch-conformance``: run the suite, print the table, write reports; 1 on any failure."""
    parser = _parser()
    args = parser.parse_args(argv)
    plugins = _plugins(args.plugin, parser)     # first: a plug-in may add entries to the database
    patterns = [p for arg in (args.op or []) for p in arg.split(",") if p]
    entries = opdb.select(patterns)
    if patterns and not entries:
        parser.error(f"--op {','.join(patterns)}: no entry matches (try --list)")
    if args.list:
        _list(entries)
        return 0
    if args.max_examples < 0:
        parser.error("--max-examples must be >= 0")
    if args.report and not args.report.endswith((".json", ".md")):
        parser.error(f"--report {args.report}: the path must end in .json or .md")
    if args.sample is not None and args.sample < 0:
        parser.error(f"--sample {args.sample}: sample numbers start at 0 (a failure prints its number)")
    backends = _backends(args.backend or plugins or ["all"], parser)
    dtypes = _dtype_list(args.dtype, parser)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.jobs > 1 and len(backends) > 1:
        if args.report:
            parser.error("--report writes one file: use it with --jobs 1")
        argv = sys.argv[1:] if argv is None else list(argv)
        rest = _without(_without(argv, "--jobs"), "--backend", nargs_plus=True)
        return _run_jobs(rest, _groups(backends, args.jobs))
    start = time.perf_counter()
    bar = _progress(len(backends) * len(entries))
    try:
        results = run(backends, entries, dtypes, seed=args.seed, max_examples=args.max_examples, sample=args.sample,
                      jit=args.jit, progress=lambda b, e: (bar.set_postfix_str(f"{b} {e.name}", refresh=False), bar.update()))
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    for r in results:
        for f in r.failures:
            f.rerun = plugin_spec.rerun_command(f.rerun, r.backend) if f.rerun else f.rerun
    print(report.table(results))
    text = report.failure_text(results)
    if text:
        print("\n" + text)
    breaks = report.graph_breaks(results)
    if breaks:
        print("\n" + breaks)
    meta = {"backends": backends, "seed": args.seed, "max_examples": args.max_examples,
            "seconds": round(elapsed, 1), "plugtorch": pt.__version__}
    if args.jit:
        meta["jit"] = True
    if args.plugin:
        meta["plugins"] = args.plugin
    if args.report:
        report.write(args.report, results, meta)
        print(f"\nreport written to {args.report}")
    print("\n" + report.slowest(results))
    n_fail = sum(r.status == FAIL for r in results)
    n_jit = sum(r.mode != "eager" for r in results)
    jit = f" (+ {n_jit} jit checks, {sum(len(r.breaks) for r in results)} graph breaks)" if args.jit else ""
    print(f"\n{len(results) - n_jit} op x dtype checks{jit} on {', '.join(backends)} in {elapsed:.1f}s: "
          + (f"{n_fail} FAILED" if n_fail else "no failures"))
    return 1 if n_fail else 0


def _progress(total):
    from tqdm import tqdm
    return tqdm(total=total, desc="conformance", unit="entry", file=sys.stderr, disable=None, leave=False)


if __name__ == "__main__":
    sys.exit(main())
