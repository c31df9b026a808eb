"""Run the conformance suite on one backend in several processes and merge their reports.

On a fresh GPU machine most of the suite's time goes to CuPy compiling each kernel on first
use (NVRTC, on the host); shards compile in parallel and share CuPy's on-disk kernel cache.

    python tools/conformance_shards.py --backend cuda --shards 8 --report gpu-out/conformance-cuda.md

Exit status: 0 when every shard passed, else the first non-zero shard status (124 for a shard
stopped at --timeout).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

CLI = [sys.executable, "-m", "plugtorch.conformance.cli"]


def entries() -> list:
    out = subprocess.run([*CLI, "--list"], capture_output=True, text=True, check=True).stdout
    names = []
    for line in out.splitlines():
        if not line.strip():
            continue
        if " entries; backends:" in line:
            break
        names.append(line.split()[0])
    return names


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", required=True)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=400.0, help="seconds for the whole run")
    ap.add_argument("--report", required=True, help="merged Markdown report")
    args = ap.parse_args(argv)

    names = entries()
    groups = [g for g in (names[i::args.shards] for i in range(args.shards)) if g]
    tmp = tempfile.mkdtemp(prefix="conformance-")
    t0 = time.monotonic()
    procs = []
    for k, group in enumerate(groups):
        log = open(os.path.join(tmp, f"shard{k}.log"), "w")
        cmd = [*CLI, "--backend", args.backend, "--op", ",".join(group),
               "--report", os.path.join(tmp, f"shard{k}.md")]
        procs.append((k, group, log, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)))
    print(f"{len(names)} entries in {len(groups)} shards on {args.backend}; logs in {tmp}", flush=True)

    status = 0
    sections = []
    for k, group, log, p in procs:
        try:
            rc = p.wait(timeout=max(1.0, args.timeout - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = 124
        log.close()
        text = open(log.name).read()
        tail = [ln for ln in text.splitlines() if ln.strip()][-1:] or ["(no output)"]
        print(f"shard {k} ({len(group)} entries): exit {rc}: {tail[0]}", flush=True)
        status = status or rc
        md = os.path.join(tmp, f"shard{k}.md")
        body = open(md).read() if os.path.exists(md) else f"(no report; exit {rc})\n\n```\n{text[-4000:]}\n```\n"
        sections.append(f"## shard {k}: exit {rc}\n\nentries: {', '.join(group)}\n\n{body}\n")
    with open(args.report, "w") as f:
        f.write(f"# conformance on {args.backend}, {len(groups)} shards, "
                f"{time.monotonic() - t0:.0f}s, exit {status}\n\n" + "\n".join(sections))
    print(f"merged report: {args.report} ({time.monotonic() - t0:.0f}s, exit {status})")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
