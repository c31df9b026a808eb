"""``plugtorch.profiler.profile``: a dispatch mode counting calls and time per op.

>>> import plugtorch as pt
>>> with pt.profiler.profile() as prof:
...     y = (pt.ones(3) * 2).sum()
>>> prof.counts()["mul"]
1
"""
from __future__ import annotations

import time

from plugtorch.dispatch.dispatcher import DispatchMode


class profile(DispatchMode):
    """Record every op call (composite ops and the ops they decompose into)."""

    def __init__(self, sync: bool = False):
        self.sync = sync
        self.stats: dict = {}     # name -> [calls, total seconds, devices]

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        t0 = time.perf_counter()
        out = call(args, kwargs)
        if self.sync:
            _sync(out)
        dt = time.perf_counter() - t0
        s = self.stats.get(op.name)
        if s is None:
            s = self.stats[op.name] = [0, 0.0, set()]
        s[0] += 1
        s[1] += dt
        d = _device_of(args, out)
        if d is not None:
            s[2].add(str(d))
        return out

    def counts(self) -> dict:
        return {k: v[0] for k, v in self.stats.items()}

    def table(self, sort_by: str = "total", row_limit: int = 50) -> str:
        rows = sorted(self.stats.items(), key=lambda kv: -kv[1][1] if sort_by == "total" else -kv[1][0])
        total = sum(v[1] for _, v in rows) or 1.0
        lines = [f"{'op':<22}{'calls':>8}{'total us':>12}{'us/call':>10}{'%':>7}  devices",
                 "-" * 72]
        for name, (n, t, devs) in rows[:row_limit]:
            lines.append(f"{name:<22}{n:>8}{t * 1e6:>12.1f}{t * 1e6 / n:>10.2f}{100 * t / total:>7.1f}  {','.join(sorted(devs))}")
        lines.append("-" * 72)
        lines.append(f"{'total':<22}{sum(v[0] for _, v in rows):>8}{total * 1e6:>12.1f}   (nested ops are counted inside their callers too)")
        return "\n".join(lines)

    def __str__(self):
        return self.table()


def _device_of(args, out):
    for a in (out, *args):
        d = getattr(a, "_device", None)
        if d is not None:
            return d
    return None


def _sync(out):
    d = getattr(out, "_device", None)
    if d is not None and d._backend is not None:
        d._backend.synchronize(d.index)
