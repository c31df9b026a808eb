"""ArrayAPIBackend on a GPU library: CuPy as device type ``cupyaa`` through the generic
Array API backend, checked by the conformance suite within a time budget.

    python tools/array_api_gpu_check.py [SECONDS]     # on a machine with an NVIDIA GPU and CuPy

Prints the backend table, a smoke computation, and the conformance statuses (with the first
lines of each failure) for as many entries as fit in the budget (default 240 s).
"""
from __future__ import annotations

import collections
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))


def main(budget: float) -> int:
    import cupy
    import plugtorch as pt
    try:
        import plugtorch.conformance  # noqa: F401  (installed: setup.py maps it to conformance/)
    except ImportError:               # a bare checkout: the top-level folder is the package
        import conformance
        sys.modules["plugtorch.conformance"] = conformance
    from plugtorch.backends import ArrayAPIBackend
    from plugtorch.conformance import FAIL, opdb, run

    pt.backends.register(ArrayAPIBackend(cupy), name="cupyaa")
    print(pt.backends.summary(), flush=True)
    x = pt.arange(6.0, device="cupyaa").reshape(2, 3)
    print("softmax on cupyaa:", x.softmax(1).cpu().tolist(), type(x._data).__module__, flush=True)
    start = time.perf_counter()
    results, done = [], 0
    for entry in opdb.select(None):
        if time.perf_counter() - start > budget:
            break
        results += run(["cupyaa"], [entry], dtypes=[pt.float32, pt.float64, pt.int64, pt.bool], max_examples=1)
        done += 1
    counts = collections.Counter(r.status for r in results)
    print(f"{done} of {len(opdb.select(None))} entries in {time.perf_counter() - start:.0f}s: {dict(counts)}")
    for r in results:
        if r.status == FAIL:
            print(f"FAIL {r.op}[{r.dtype}]: {str(r.failures[0])[:300]}")
    return 1 if counts.get(FAIL) else 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 240.0))
