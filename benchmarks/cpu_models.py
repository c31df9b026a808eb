"""Eager cpu training and inference steps of small whole models, plugtorch against PyTorch.

Models (batch sizes in the code): an MLP (64-128-10), a small CNN (conv, BatchNorm, ReLU, max
pool, conv, BatchNorm, ReLU, adaptive pool, linear), a transformer encoder layer over embeddings
(d=128, 4 heads, sequence 64), an LSTM(32, 64) over 20 steps, a MobileNet-style block (depthwise
conv, BatchNorm, ReLU6, pointwise conv, BatchNorm, GELU). Each: one Adam training step, and a
forward under no_grad. CPU time of the calling thread, best of 5 rounds, one thread everywhere.

Peers, each in its own process (malloc's settings are per process):
  * plugtorch as imported (glibc's malloc tuned, plugtorch/backends/cpu/_malloc.py);
  * plugtorch with PLUGTORCH_MALLOC_TUNING=0 (malloc as glibc sets it);
  * PyTorch, where importable (run this file with a Python that has torch: ``--torch PYTHON``).

    python benchmarks/cpu_models.py [--torch /path/to/python-with-torch] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MODELS = ("mlp", "cnn", "transformer", "lstm", "mobilenet-block")


def run(framework: str, quick: bool) -> dict:
    """Times every model with ``framework`` ("plugtorch" or "torch") in this process."""
    if framework == "torch":
        import torch as T
        T.set_num_threads(1)
    else:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import plugtorch as T
    nn = T.nn
    T.manual_seed(0)

    class TF(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.out = nn.Embedding(1000, 128), nn.Linear(128, 1000)
            self.enc = nn.TransformerEncoderLayer(128, 4, 256, batch_first=True)

        def forward(self, x):
            return self.out(self.enc(self.emb(x))).reshape(-1, 1000)

    class LS(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.out = nn.LSTM(32, 64, batch_first=True), nn.Linear(64, 5)

        def forward(self, x):
            return self.out(self.lstm(x)[0][:, -1])

    def make(name):
        if name == "mlp":
            return (nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)), T.randn(64, 64),
                    T.randint(0, 10, (64,)))
        if name == "cnn":
            return (nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)),
                    T.randn(32, 3, 32, 32), T.randint(0, 10, (32,)))
        if name == "transformer":
            return TF(), T.randint(0, 1000, (16, 64)), T.randint(0, 1000, (16 * 64,))
        if name == "lstm":
            return LS(), T.randn(16, 20, 32), T.randint(0, 5, (16,))
        return (nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.BatchNorm2d(32), nn.ReLU6(),
                              nn.Conv2d(32, 64, 1), nn.BatchNorm2d(64), nn.GELU(), nn.AdaptiveAvgPool2d(1),
                              nn.Flatten(), nn.Linear(64, 10)), T.randn(16, 32, 28, 28), T.randint(0, 10, (16,)))
    out = {}
    for name in MODELS:
        model, x, y = make(name)
        crit, opt = nn.CrossEntropyLoss(), T.optim.Adam(model.parameters(), 1e-3)

        def step():
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()

        def infer():
            with T.no_grad():
                model(x)
        for fn, tag in ((step, "train"), (infer, "infer")):
            for _ in range(3):
                fn()
            best = float("inf")
            for _ in range(2 if quick else 5):
                n, c = 0, time.thread_time()
                while True:
                    fn()
                    n += 1
                    if time.thread_time() - c > (0.05 if quick else 0.3):
                        break
                best = min(best, (time.thread_time() - c) / n)
            out[f"{name} {tag}"] = best * 1e3
    return out


def _child(python, framework, quick, env_extra):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **env_extra)
    cmd = [python, os.path.abspath(__file__), "--child", framework] + (["--quick"] if quick else [])
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        print(f"  ({framework} {env_extra or ''} failed: {res.stderr.strip().splitlines()[-1:]})")
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--torch", default=None, help="a Python interpreter that has torch (default: this one, if it has)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(run(a.child, a.quick)))
        return
    tuned = _child(sys.executable, "plugtorch", a.quick, {})
    plain = _child(sys.executable, "plugtorch", a.quick, {"PLUGTORCH_MALLOC_TUNING": "0"})
    torch_py = a.torch or sys.executable
    torch = _child(torch_py, "torch", a.quick, {}) if subprocess.run(
        [torch_py, "-c", "import torch"], capture_output=True).returncode == 0 else None
    print(f"cpu, one thread, CPU time per call (best of rounds), load average {os.getloadavg()[0]:.1f}")
    print(f"  {'model step':<24}{'plugtorch':>11}{'untuned malloc':>16}{'torch':>9}{'plugtorch/torch':>17}")
    for k in tuned:
        t = torch[k] if torch else None
        print(f"  {k:<24}{tuned[k]:>9.2f}ms{plain[k] if plain else float('nan'):>14.2f}ms"
              + (f"{t:>7.2f}ms{tuned[k] / t:>16.2f}x" if t else "       (no torch)"))


if __name__ == "__main__":
    main()
