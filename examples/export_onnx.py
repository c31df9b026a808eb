"""Train the digits CNN, export it to ONNX, and classify the test set with onnxruntime.

    .venv/bin/python examples/export_onnx.py --epochs 6 --out digits_cnn.onnx

The model is exported with a dynamic batch axis (traced at batch 2), so onnxruntime classifies
the whole test set in one call and in batches of other sizes; its accuracy equals plugtorch's and
its predictions agree. Needs onnx and onnxruntime (pip install 'plugtorch[onnx]' onnxruntime).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import plugtorch as pt  # noqa: E402

from jit_digits import train  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--out", default="digits_cnn.onnx")
    args = ap.parse_args(argv)
    import onnxruntime as ort

    print(f"training the digits CNN on cpu for {args.epochs} epochs")
    model, _, acc, (x_te, y_te), _ = train(pt.device("cpu"), args.epochs, compiled=True, quiet=True)
    model.eval()
    with pt.no_grad():
        pred_pt = model(x_te).argmax(1)
    print(f"plugtorch   test accuracy {acc:.4f}")

    t0 = time.perf_counter()
    pt.onnx.export(model, (x_te[:2],), args.out, input_names=["image"], output_names=["logits"],
                   dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    print(f"exported to {args.out} ({os.path.getsize(args.out)} bytes, opset {pt.onnx.DEFAULT_OPSET}) "
          f"in {time.perf_counter() - t0:.2f} s")

    sess = ort.InferenceSession(args.out, providers=["CPUExecutionProvider"])
    images, labels = x_te.numpy(), y_te.numpy()
    (logits,) = sess.run(None, {"image": images})               # the whole test set in one call
    pred = logits.argmax(1)
    acc_ort = float((pred == labels).mean())
    chunks = [sess.run(None, {"image": images[i:i + 7]})[0] for i in range(0, len(labels), 7)]   # batches of 7
    assert np.array_equal(np.concatenate(chunks).argmax(1), pred)
    agree = float((pred == pred_pt.numpy()).mean())
    with pt.no_grad():
        diff = float(np.abs(logits - model(x_te).numpy()).max())
    print(f"onnxruntime test accuracy {acc_ort:.4f} (batch {len(labels)}; batches of 7 agree); predictions agree "
          f"with plugtorch on {agree:.4f} of the test set; largest logit difference {diff:.2e}")
    return acc, acc_ort, agree


if __name__ == "__main__":
    main()
