"""The main job (``make demo``): the devices plugtorch found, the digits CNN trained on the best
of them, and a one-line conformance summary for every available backend.

    .venv/bin/python examples/demo.py [--epochs N] [--max-examples N]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import plugtorch as pt  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--max-examples", type=int, default=2,
                    help="generated samples per conformance entry and dtype (default 2)")
    args = ap.parse_args(argv)

    print("== Devices")
    print(pt.backends.summary())

    print("\n== Training the digits CNN on the best available device")
    import digits_cnn
    acc = digits_cnn.main(["--device", "auto", "--epochs", str(args.epochs)])

    print("\n== plugtorch.compile: the same CNN, its whole training step as one graph (eager epoch timed too)")
    import jit_digits
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "digits_cnn.ptj")
        jit_digits.main(["--device", "auto", "--epochs", "4", "--out", path])
        print("\n== The saved graph run by a script with no model code, on every device")
        import run_traced
        run_traced.main([path])

    print("\n== Conformance against the cpu reference (one line per backend)")
    from plugtorch.conformance import opdb, report
    from plugtorch.conformance.runner import run
    entries = opdb.select([])
    for name in pt.backends.available():
        t0 = time.perf_counter()
        results = run([name], entries, max_examples=args.max_examples)
        counts = report.summary(results).get(name, {})
        parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        failing = sorted({op for _, op, _, _ in report.failures(results)})
        print(f"  {name:<8} {len(entries)} entries, {len(results)} op x dtype checks in "
              f"{time.perf_counter() - t0:.0f}s: {parts}"
              + (f"  FAILING: {', '.join(failing)}" if failing else ""))
    print(f"\ndigits CNN test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
