"""The jit examples: a compiled training run saves a traced model that a script with no model
code runs on every available device at the same accuracy."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("sklearn")

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def test_train_compiled_save_and_run_elsewhere(tmp_path):
    out = tmp_path / "cnn.ptj"
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "jit_digits.py"), "--device", "cpu",
                        "--epochs", "6", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "graphs 1, graph breaks 0" in r.stdout
    acc = float(r.stdout.split("test accuracy ")[1].split()[0])
    assert acc > 0.9
    # a fresh process in another directory: only plugtorch and the file
    r2 = subprocess.run([sys.executable, os.path.join(EXAMPLES, "run_traced.py"), str(out)], capture_output=True,
                        text=True, cwd=str(tmp_path))
    assert r2.returncode == 0, r2.stderr[-3000:]
    lines = [ln for ln in r2.stdout.splitlines() if "test accuracy" in ln]
    assert lines and lines[0].startswith("cpu")
    accs = [float(ln.split("test accuracy ")[1].split()[0]) for ln in lines]
    assert all(abs(a - accs[0]) < 0.01 for a in accs) and accs[0] > 0.9
