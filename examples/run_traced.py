"""Classify the digits test set with a saved traced model, on every available device.

    .venv/bin/python examples/run_traced.py digits_cnn.ptj

Imports nothing but plugtorch: the file holds the graph (plugtorch ops by name) and the weights,
so no model code is needed, and it runs on any device (a plug-in backend's too).
"""
from __future__ import annotations

import sys

import plugtorch as pt


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else "digits_cnn.ptj"
    data = pt.load(path + ".testset")
    x, y = data["x"], data["y"]
    batch = 64
    results = {}
    for dev in pt.backends.available():
        model = pt.jit.load(path, map_location=dev)
        correct = 0
        n = (len(y) // batch) * batch       # the graph was traced at batch 64
        with pt.no_grad():
            for i in range(0, n, batch):
                logits = model(x[i:i + batch].to(dev))
                correct += (logits.argmax(1).cpu() == y[i:i + batch]).sum().item()
        results[dev] = correct / n
        print(f"{dev:<8} test accuracy {results[dev]:.4f} ({n} images)")
    return results


if __name__ == "__main__":
    main()
