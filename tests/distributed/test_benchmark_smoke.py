"""benchmarks/distributed.py runs end to end (``--quick``, without the PyTorch anchor), its runs
agree on the training they timed, and its workers' failures and bad arguments are reported.
Timings are never asserted."""
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "distributed.py")


def load_driver():
    spec = importlib.util.spec_from_file_location("benchmark_distributed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_without_torch(tmp_path):
    missing = str(tmp_path / "no-python")
    proc = subprocess.run([sys.executable, SCRIPT, "--quick", "--torch-python", missing],
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert f"PyTorch anchor skipped: {missing} not found; pass --torch-python PATH" in out
    row = re.search(r"plugtorch \(mpi\)\s+(\d+)\s+(\d+)\s+([\d.]+)x\s+([\d.]+)\s+([\d.]+)", out)
    assert row, out
    one, two, scaling, cpu_one, cpu_two = map(float, row.groups())
    assert one > 0 and two > 0 and scaling == pytest.approx(two / one, rel=0.01, abs=0.01)
    assert cpu_one > 0 and cpu_two > 0
    # the plain run and the DDP run trained the same parameters the same way (DDP averaged)
    spread = re.search(r"sum \|w - w0\| = ([\d.]+) \(relative spread ([\d.e+-]+)\)", out)
    assert spread and float(spread.group(1)) > 0 and float(spread.group(2)) < 1e-5, out
    # every contender's all-reduce gave the right sums (the worker checks; a wrong one fails the run)
    for name in ("mpi4py Allreduce", "mpi4py Iallreduce + Wait", "plugtorch all_reduce "):
        assert re.search(re.escape(name) + r"\s*[\d.]+ ms\s+[\d.]+ GB/s", out), out


@pytest.mark.parametrize("argv, message", [
    (["--rounds", "0"], "--rounds must be at least 1, got 0"),
    (["--ar-warmup", "-1"], "--ar-warmup must be at least 0, got -1"),
    (["--mb", "0"], "--mb must be at least 1, got 0"),
])
def test_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        load_driver().main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("code, message", [
    ("print('boom', flush=True); raise SystemExit(3)", r"failed \(exit 3\):\nboom"),
    ("print('no result line')", r"failed \(exit 0\):\nno result line"),
    ("import time; time.sleep(30)", r"did not finish in 0.5 s"),
])
def test_worker_failure_is_reported(code, message):
    with pytest.raises(SystemExit, match=message):
        load_driver().run_worker([sys.executable, "-c", code], timeout=0.5 if "sleep" in code else 30)
