"""examples/export_onnx.py: the trained digits CNN exported to ONNX classifies the test set with
onnxruntime at plugtorch's accuracy, with the same predictions."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def test_export_digits_cnn_and_classify_with_onnxruntime(tmp_path):
    out = tmp_path / "digits.onnx"
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "export_onnx.py"), "--epochs", "4", "--out", str(out)],
                       capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    acc_pt = float(r.stdout.split("plugtorch   test accuracy ")[1].split()[0])
    acc_ort = float(r.stdout.split("onnxruntime test accuracy ")[1].split()[0])
    agree = float(r.stdout.split("agree with plugtorch on ")[1].split()[0])
    assert acc_pt > 0.9
    assert acc_ort == acc_pt and agree == 1.0
    assert out.exists()
